import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { rawExchange } from '../support/raw-http.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

/** What an Android app's HTTP stack sends as its User-Agent: an app tracker counts it. */
const APP_AGENT = 'com.google.android.exoplayer2/2.18.1 (Linux;Android 13) ExoPlayerLib/2.18.1';

let tally: TestServer;
const ids: Record<string, number> = {};
let auctionSeq = 0;

async function create(path: string, body: object): Promise<number> {
  const response = await api(tally, tally.adminKey, 'POST', path, body);
  assert.equal(response.status, 201, `${path}: ${JSON.stringify(response.body)}`);
  return response.body.id;
}

/**
 * Sends `method target` on a connection of its own with every character of `target` as UTF-8,
 * unencoded, as a client that fills macros without encoding them does; resolves with the whole
 * answer (latin1).
 */
function send(target: string, { method = 'GET', userAgent = CHROME } = {}): Promise<string> {
  const body = method === 'POST' ? 'Content-Length: 0\r\n' : '';
  const head = `${method} ${target} HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: ${userAgent}\r\n${body}Connection: close\r\n\r\n`;
  return rawExchange(tally.url, Buffer.from(head, 'utf8'));
}

/** `text` with every non-ASCII character percent-encoded as UTF-8, the rest as it is. */
function encoded(text: string): string {
  return text.replace(/[^\p{ASCII}]/gu, (character) => encodeURIComponent(character));
}

/** The status line and the headers that say what was answered (no date or request id). */
function answerOf(raw: string): string[] {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');
  return [head[0] ?? '', ...head.filter((line) => /^(content-type|content-length|location):/i.test(line))];
}

/** The events the ledger holds WHERE `where`, in order, without what differs by arrival. */
function events(where: string, ...params: (string | number)[]): Record<string, unknown>[] {
  const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
  try {
    const rows = db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY id`).all(...params) as Record<
      string,
      unknown
    >[];
    return rows.map(({ id: _id, received_ms: _receivedMs, ...row }) => row);
  } finally {
    db.close();
  }
}

async function registerWin(): Promise<{ auctionId: string; noticePath: string }> {
  auctionSeq++;
  const auctionId = `raw-auction-${auctionSeq}`;
  const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
    wins: [
      {
        request: {
          id: auctionId,
          imp: [{ id: '1', banner: { w: 300, h: 250 } }],
          site: { publisher: { id: 'pub-web' } },
        },
        seat: 'seat-1',
        bid: { id: `bid-${auctionSeq}`, impid: '1', price: 1.25, adm: '<div>ad</div>' },
      },
    ],
  });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const [result] = response.body.results;
  assert.equal(result.ok, true, JSON.stringify(result));
  const url = new URL(result.noticeUrls[result.method]);
  return { auctionId, noticePath: url.pathname };
}

before(async () => {
  tally = await startServer();
  ids.advertiser = await create('/v1/advertisers', { name: 'Café Crème' });
  ids.lineItem = await create('/v1/line-items', {
    advertiserId: ids.advertiser,
    name: 'CPM 2.00',
    revenueType: 'cpm',
    revenueValue: 2,
  });
  ids.publisher = await create('/v1/publishers', { name: 'SSAI' });
  await create('/v1/payment-rules', {
    publisherId: ids.publisher,
    name: 'Base 50 %',
    pricingType: 'revshare',
    revshare: 0.5,
  });
  ids.appTracker = await create('/v1/impression-trackers', {
    advertiserId: ids.advertiser,
    name: 'VAST Impression in the app',
    lineItemId: ids.lineItem,
    publisherId: ids.publisher,
    firedBy: 'app',
  });
  ids.browserTracker = await create('/v1/impression-trackers', {
    advertiserId: ids.advertiser,
    name: 'Web pixel',
    lineItemId: ids.lineItem,
    publisherId: ids.publisher,
  });
});

after(async () => {
  await tally?.dispose();
});

describe('request targets holding raw UTF-8, as clients that do not encode macros send them', () => {
  it('counts an app tracker hit with raw UTF-8 in its macros as its percent-encoded form: the same answer and stored values, the same cachebuster', async () => {
    const tracker = ids.appTracker ?? 0;
    const target = (cachebuster: string) => `/imptr?id=${tracker}&cachebuster=${cachebuster}&site=café`;
    const raw = await send(target('crème-1'), { userAgent: APP_AGENT });
    const asEncoded = await send(encoded(target('crème-2')), { userAgent: APP_AGENT });
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.deepEqual(answerOf(raw), answerOf(asEncoded));
    const [rawEvent, encodedEvent] = events('tracker_id = ?', tracker);
    assert.equal(rawEvent?.outcome, 'counted');
    assert.ok(rawEvent !== undefined && encodedEvent !== undefined);
    // The same event, but for the cachebuster each was deduplicated on.
    assert.notEqual(rawEvent.dedupe_key, encodedEvent.dedupe_key);
    assert.deepEqual(
      { ...rawEvent, dedupe_key: '', claim_expires_ms: 0 },
      { ...encodedEvent, dedupe_key: '', claim_expires_ms: 0 },
    );
    // The raw cachebuster is the encoded one: sent encoded, it is the same impression again.
    await send(encoded(target('crème-1')), { userAgent: APP_AGENT });
    const repeat = events('tracker_id = ?', tracker)[2];
    assert.deepEqual([repeat?.outcome, repeat?.reason], ['not_counted', 'duplicate']);
    assert.equal(repeat?.dedupe_key, rawEvent.dedupe_key);
  });

  it('redirects a hit to a redir with raw UTF-8 as to its percent-encoded form', async () => {
    const target = `/imptr?id=${ids.browserTracker}&cachebuster=r-é&redir=https://landing.example/crème?q=é`;
    const raw = await send(target);
    assert.match(raw, /^HTTP\/1\.1 302 /);
    assert.deepEqual(answerOf(raw), answerOf(await send(encoded(target))));
    assert.match(raw, /\r\nLocation: https:\/\/landing\.example\/cr%C3%A8me\?q=%C3%A9\r\n/);
  });

  it('records a notice with raw UTF-8 in its query as its percent-encoded form, through the notice lane (GET) and node:http (POST)', async () => {
    for (const method of ['GET', 'POST']) {
      const { auctionId, noticePath } = await registerWin();
      const raw = await send(`${noticePath}?site=café&city=Zürich`, { method });
      assert.match(raw, /^HTTP\/1\.1 200 [^]*\r\nContent-Type: image\/gif\r\n/i, method);
      const asEncoded = await send(`${noticePath}?site=caf%C3%A9&city=Z%C3%BCrich`, { method });
      assert.deepEqual(answerOf(raw), answerOf(asEncoded), method);
      assert.deepEqual(
        events('auction_id = ?', auctionId).map(
          (event) => `${String(event.outcome)}/${String(event.reason)}`,
        ),
        ['counted/', 'not_counted/duplicate'],
        method,
      );
    }
  });

  it('records a notice with raw UTF-8 in its path as its percent-encoded form: an invalid token', async () => {
    const { noticePath } = await registerWin();
    const earlier = events(`reason = 'invalid_token'`).length;
    const raw = await send(`${noticePath}é`);
    assert.deepEqual(answerOf(raw), answerOf(await send(encoded(`${noticePath}é`))));
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.equal(events(`reason = 'invalid_token'`).length, earlier + 2);
  });

  it('still refuses a target with a raw control character, DEL or space, beside raw UTF-8 or not, and records nothing', async () => {
    const { auctionId, noticePath } = await registerWin();
    const tracker = ids.browserTracker ?? 0;
    const earlier = events('tracker_id = ?', tracker).length;
    for (const target of [
      `${noticePath}?site=café\x01`,
      `${noticePath}?site=café\x7f`,
      `${noticePath}?site=caf\x00é`,
      `${noticePath}?site=\tcafé`,
      `${noticePath}?site=ca fé`,
      `/imptr?id=${tracker}&cachebuster=c-é\x01`,
      `/imptr?id=${tracker}&cachebuster=c-é\x7f`,
      `/imptr?id=${tracker}&cachebuster=c-\x1bé`,
      `/imptr?id=${tracker}&cachebuster=c-é&redir=https://x.example/\rSet-Cookie:a=b`,
    ]) {
      const raw = await send(target);
      assert.match(raw, /^HTTP\/1\.1 400 /, JSON.stringify(target));
      assert.match(raw, /"code":"MALFORMED_REQUEST"/, JSON.stringify(target));
      assert.doesNotMatch(raw, /Set-Cookie/i);
    }
    assert.deepEqual(events('auction_id = ?', auctionId), []);
    assert.equal(events('tracker_id = ?', tracker).length, earlier);
  });
});

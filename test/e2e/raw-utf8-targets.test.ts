import assert from 'node:assert/strict';
import { connect } from 'node:net';
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

/** One answer on a connection: its head's lines and its body (latin1). */
interface Answer {
  head: string[];
  body: string;
}

/**
 * A keep-alive connection: `send` writes requests (each character of a target as UTF-8, unencoded)
 * and `answers` waits for the first `count` answers (headers only for those `heads` says are HEAD).
 */
class Connection {
  private received = '';
  private readonly socket;
  readonly closed: Promise<void>;

  constructor(url: string) {
    this.socket = connect(Number(new URL(url).port), '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
    this.socket.on('error', () => this.socket.destroy());
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
  }

  send(...requests: string[]): void {
    this.socket.write(Buffer.from(requests.join(''), 'utf8'));
  }

  /** Writes `bytes` as they are: a piece of a request, as one TCP packet may hold. */
  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async answers(count: number, heads: boolean[] = []): Promise<Answer[]> {
    for (let waited = 0; waited < 10_000; waited += 10) {
      const answers = parseAnswers(this.received, heads);
      if (answers.length >= count) return answers;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`expected ${count} answers, got ${JSON.stringify(this.received)}`);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseAnswers(text: string, heads: boolean[]): Answer[] {
  const answers: Answer[] = [];
  for (let offset = 0; ;) {
    const end = text.indexOf('\r\n\r\n', offset);
    if (end === -1) return answers;
    const head = text.slice(offset, end).split('\r\n');
    const length =
      heads[answers.length] === true
        ? 0
        : Number(/\r\nContent-Length: (\d+)/i.exec(text.slice(offset, end + 2))?.[1] ?? 0);
    if (text.length < end + 4 + length) return answers;
    answers.push({ head, body: text.slice(end + 4, end + 4 + length) });
    offset = end + 4 + length;
  }
}

/** A keep-alive request for `target` (written as it stands: UTF-8 stays raw). */
function request(target: string, { method = 'GET', userAgent = CHROME, extra = '' } = {}): string {
  return `${method} ${target} HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: ${userAgent}\r\n${extra}\r\n`;
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
    assert.ok(rawEvent !== undefined && encodedEvent !== undefined, 'both notices are recorded');
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

  it('refuses an API query holding a raw byte that is not UTF-8 (Latin-1 é), saying to send text in UTF-8, percent-encoded', async () => {
    const head = `GET /v1/reports?groupBy=caf\u00e9&x=1 HTTP/1.1\r\nHost: tally.test\r\nAuthorization: Bearer ${tally.adminKey}\r\nConnection: close\r\n\r\n`;
    const raw = await rawExchange(tally.url, Buffer.from(head, 'latin1'));
    assert.match(raw, /^HTTP\/1\.1 400 /, raw);
    const { error } = JSON.parse(
      Buffer.from(raw.slice(raw.indexOf('\r\n\r\n') + 4), 'latin1').toString('utf8'),
    ) as {
      error: { code: string; message: string };
    };
    assert.equal(error.code, 'VALIDATION_FAILED');
    assert.equal(
      error.message,
      'the query\'s "caf%E9" has a malformed %-escape or bytes that are not UTF-8: send text in UTF-8, percent-encoded (é as %C3%A9), and a % itself as %25',
    );
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

  it('counts every hit of a keep-alive connection firing app tracker hits with raw UTF-8 as its percent-encoded form, the connection kept', async () => {
    const tracker = ids.appTracker ?? 0;
    const target = (cachebuster: string) => `/imptr?id=${tracker}&cachebuster=${cachebuster}&site=café`;
    const earlier = events('tracker_id = ?', tracker).length;
    const connection = new Connection(tally.url);
    // As an SSAI server or an app SDK fires them: one after the other, on one connection.
    connection.send(request(encoded(target('ka-1')), { userAgent: APP_AGENT }));
    await connection.answers(1);
    connection.send(request(target('ka-2'), { userAgent: APP_AGENT }));
    await connection.answers(2);
    connection.send(request(target('ka-3'), { userAgent: APP_AGENT }));
    const answers = await connection.answers(3);
    connection.destroy();
    for (const answer of answers) {
      assert.equal(answer.head[0], 'HTTP/1.1 200 OK');
      assert.ok(answer.head.includes('Connection: keep-alive'), answer.head.join(' / '));
      assert.ok(answer.head.includes('Content-Type: image/gif'), answer.head.join(' / '));
    }
    const recorded = events('tracker_id = ?', tracker).slice(earlier);
    assert.deepEqual(
      recorded.map((event) => `${String(event.outcome)}/${String(event.reason)}`),
      ['counted/', 'counted/', 'counted/'],
    );
    // Each raw cachebuster is the encoded one: sent encoded, each is the same impression again.
    for (const cachebuster of ['ka-2', 'ka-3']) {
      await send(encoded(target(cachebuster)), { userAgent: APP_AGENT });
    }
    const repeats = events('tracker_id = ?', tracker).slice(earlier + 3);
    assert.deepEqual(
      repeats.map((event) => `${String(event.outcome)}/${String(event.reason)}`),
      ['not_counted/duplicate', 'not_counted/duplicate'],
    );
    assert.deepEqual(
      repeats.map((event) => event.dedupe_key),
      recorded.slice(1).map((event) => event.dedupe_key),
    );
  });

  it('answers a tracker hit pipelined behind notices in its turn, and a POST or OPTIONS to /imptr as before', async () => {
    const tracker = ids.browserTracker ?? 0;
    const first = await registerWin();
    const second = await registerWin();
    const connection = new Connection(tally.url);
    connection.send(
      request(`${first.noticePath}?site=café`),
      request(`/imptr?id=${tracker}&cachebuster=pipe-é&redir=https://landing.example/é`),
      request(second.noticePath),
      request(`/imptr?id=${tracker}&cachebuster=pipe-2&t=1`),
      request(`/imptr?id=${tracker}&cachebuster=pipe-3`, { method: 'POST', extra: 'Content-Length: 0\r\n' }),
      request(`/imptr?id=${tracker}&cachebuster=pipe-4`, { method: 'OPTIONS' }),
      request(`/imptr?id=${tracker}&cachebuster=pipe-5`, { extra: 'Connection: close\r\n' }),
    );
    const answers = await connection.answers(7);
    await connection.closed;
    const location = (answer: Answer) => answer.head.find((line) => line.startsWith('Location: '));
    assert.deepEqual(
      answers.map(
        (answer) =>
          `${answer.head[0]} ${location(answer) ?? (answer.body.startsWith('GIF89a') ? 'GIF' : answer.body)}`,
      ),
      [
        'HTTP/1.1 200 OK GIF',
        'HTTP/1.1 302 Found Location: https://landing.example/%C3%A9',
        'HTTP/1.1 200 OK GIF',
        'HTTP/1.1 200 OK /* Tally impression tracker */\n',
        'HTTP/1.1 200 OK GIF',
        'HTTP/1.1 405 Method Not Allowed only GET, HEAD and POST are notices\n',
        'HTTP/1.1 200 OK GIF',
      ],
    );
    assert.ok(
      answers[5]?.head.includes('Allow: GET, HEAD, POST'),
      answers[5]?.head.join(' / ') ?? 'no sixth answer',
    );
    assert.deepEqual(
      events(`tracker_id = ? AND dedupe_key LIKE '%pipe%'`, tracker).map(
        (event) => String(event.dedupe_key).split('\u001f')[2],
      ),
      ['pipe-é', 'pipe-2', 'pipe-3', 'pipe-5'],
    );
    assert.equal(events('auction_id IN (?, ?)', first.auctionId, second.auctionId).length, 2);
  });

  it('counts a POST hit whose head arrives in TCP packets split inside its method or raw UTF-8 target as the one sent whole', async () => {
    const tracker = ids.browserTracker ?? 0;
    // Cut between the two bytes of the é of the cachebuster, or inside the method.
    for (const [name, cutAt] of [
      ['split-in-target-é', (bytes: Buffer) => bytes.indexOf(Buffer.from('é', 'utf8')) + 1],
      ['split-in-method-é', () => 2],
    ] as const) {
      const head = request(`/imptr?id=${tracker}&cachebuster=${name}&site=café`, {
        method: 'POST',
        extra: 'Content-Length: 0\r\nConnection: close\r\n',
      });
      const bytes = Buffer.from(head, 'utf8');
      const cut = cutAt(bytes);
      const connection = new Connection(tally.url);
      connection.sendBytes(bytes.subarray(0, cut));
      await new Promise((resolve) => setTimeout(resolve, 50));
      connection.sendBytes(bytes.subarray(cut));
      const [answer] = await connection.answers(1);
      await connection.closed;
      assert.equal(answer?.head[0], 'HTTP/1.1 200 OK', name);
    }
    assert.deepEqual(
      events(`tracker_id = ? AND dedupe_key LIKE '%split-in%'`, tracker).map(
        (event) => `${String(event.outcome)} ${String(event.dedupe_key).split('\u001f')[2]}`,
      ),
      ['counted split-in-target-é', 'counted split-in-method-é'],
    );
  });

  it('still refuses raw UTF-8 in a request after one that handed its connection to node:http, recording nothing', async () => {
    const tracker = ids.browserTracker ?? 0;
    const connection = new Connection(tally.url);
    connection.send(
      request(`/imptr?id=${tracker}&cachebuster=after-1`, { method: 'POST', extra: 'Content-Length: 0\r\n' }),
      request(`/imptr?id=${tracker}&cachebuster=after-é`),
    );
    const answers = await connection.answers(2);
    await connection.closed;
    assert.deepEqual(
      answers.map((answer) => answer.head[0]),
      ['HTTP/1.1 200 OK', 'HTTP/1.1 400 Bad Request'],
    );
    assert.deepEqual(
      events(`tracker_id = ? AND dedupe_key LIKE '%after%'`, tracker).map(
        (event) => String(event.dedupe_key).split('\u001f')[2],
      ),
      ['after-1'],
    );
  });

  it('answers a tracker hit the notice lane serves with the bytes node:http answers it with, on a kept connection', async () => {
    const tracker = ids.browserTracker ?? 0;
    for (const [method, query] of [
      ['GET', `id=${tracker}&cachebuster=same-CB`],
      ['HEAD', `id=${tracker}&cachebuster=same-CB`],
      ['GET', `id=${tracker}&cachebuster=same-CB&t=1`],
      ['GET', `id=${tracker}&cachebuster=same-CB&redir=https://landing.example/x`],
      ['GET', `id=999999&cachebuster=same-CB`],
    ] as const) {
      const connection = new Connection(tally.url);
      // The second, in absolute form, goes to node:http, which serves the rest of the connection.
      connection.send(
        request(`/imptr?${query.replace('CB', 'lane')}`, { method }),
        request(`http://tally.test/imptr?${query.replace('CB', 'http')}`, { method }),
        request('/healthz', { extra: 'Connection: close\r\n' }),
      );
      const [viaLane, viaHttp] = await connection.answers(3, [method === 'HEAD', method === 'HEAD']);
      await connection.closed;
      const undated = (answer: Answer | undefined) => ({
        head: answer?.head.filter((line) => !line.startsWith('Date: ')),
        body: answer?.body,
      });
      assert.deepEqual(undated(viaLane), undated(viaHttp), `${method} ${query}`);
      assert.ok(viaLane?.head.includes('Keep-Alive: timeout=65'), `${method} ${query}`);
    }
  });
});

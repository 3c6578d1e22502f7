import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { defaultIvtFilter } from '../domain/ivt-filter.js';
import { NO_REDIRECT_ALLOWLIST } from '../domain/tracker-hit.js';
import type { NoticeRequest } from '../domain/notice-request.js';
import type { KeyRing, NoticeClaims } from '../domain/token.js';
import { sealToken } from '../domain/token.js';
import { Metrics } from '../lib/metrics.js';
import { GroupCommitter } from './group-commit.js';
import type { NoticeAnswer } from './notice-answer.js';
import type { BatchRecorder } from '../ports/recorder.js';
import { UnsyncedCommitError } from '../ports/recorder.js';
import { COUNTED, notCounted } from '../domain/outcome.js';
import type { NoticeDeps } from './notices.js';
import { answerNotice, handleNotice, laneNotice } from './notices.js';
import { bannerClaims, testKeyRing } from '../../test/support/claims.js';
import { T0 } from '../../test/support/events.js';
import { decryptPrice } from '../../test/support/price-decrypt.js';
import { inlineRecorder } from '../../test/support/inline-recorder.js';
import { CHROME } from '../../test/support/user-agents.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-notices-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Notice endpoint dependencies committing into a real SQLite ledger on this thread. */
function depsOn(name: string, ring: KeyRing, maxQueue = 100): { deps: NoticeDeps; ledger: SqliteLedger } {
  const ledger = new SqliteLedger(openSqlite(join(dir, name)));
  const committer = new GroupCommitter(
    inlineRecorder(ledger),
    { maxBatch: 100, maxDelayMs: 0, maxQueue, maxInFlight: 1, flushAtSize: 1000 },
    new Metrics(),
  );
  const deps: NoticeDeps = {
    committer,
    metrics: new Metrics(),
    env: {
      keyRing: ring,
      ivtFilter: defaultIvtFilter(),
      priceKeysFor: () => undefined,
      redirectAllowlist: () => NO_REDIRECT_ALLOWLIST,
    },
    nowMs: () => T0 + 1000,
  };
  return { deps, ledger };
}

function request(ring: KeyRing, claims: NoticeClaims, query = ''): NoticeRequest {
  return {
    token: sealToken(claims, ring),
    query,
    method: 'GET',
    headers: { 'user-agent': CHROME },
    remoteAddress: '198.51.100.7',
    receivedMs: T0 + 1000,
  };
}

function answer(notice: NoticeRequest, deps: NoticeDeps): Promise<NoticeAnswer> {
  return new Promise((resolve) => answerNotice(notice, deps, resolve));
}

describe('notice answers', () => {
  it('redirects a notice on Tally’s burl to the DSP’s burl when the ledger counted it, and its repeat too', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('burl.db', ring);
    const claims = bannerClaims({
      kind: 'burl',
      method: 'burl',
      dspBurl: 'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}',
    });
    // Both are decided as counts on this thread; the ledger, committing them in one batch, counts one.
    const answers = await Promise.all([
      answer(request(ring, claims), deps),
      answer(request(ring, claims), deps),
    ]);
    assert.deepEqual(answers, [
      { kind: 'redirect', location: 'https://dsp.example/bill?p=1.25&a=auction-1' },
      { kind: 'redirect', location: 'https://dsp.example/bill?p=1.25&a=auction-1' },
    ]);
    assert.deepEqual(ledger.countEvents(), { total: 2, counted: 1 });
    assert.deepEqual(
      ledger.countDeliveries(),
      { pending: 0, delivered: 0, dead: 0, redirected: 1 },
      'a burl relayed by redirect is kept as such, not queued as well',
    );
    ledger.close();
  });

  it('sends a later repeat of a counted burl on with the impression’s time in ${AUCTION_IMP_TS}, not the repeat’s', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('burl-imp-ts.db', ring);
    const claims = bannerClaims({
      kind: 'burl',
      method: 'burl',
      dspBurl: 'https://dsp.example/bill?a=${AUCTION_ID}&ts=${AUCTION_IMP_TS}',
    });
    const counted = await answer(request(ring, claims), deps);
    const repeat = await answer({ ...request(ring, claims), receivedMs: T0 + 61_000 }, deps);
    const impressionTs = `https://dsp.example/bill?a=auction-1&ts=${T0 + 1000}`;
    assert.deepEqual(
      [counted, repeat],
      [
        { kind: 'redirect', location: impressionTs },
        { kind: 'redirect', location: impressionTs },
      ],
    );
    assert.deepEqual(ledger.countEvents(), { total: 2, counted: 1 });
    ledger.close();
  });

  it('sends a repeat of a counted burl to the very same URL, its encrypted price included, each id percent-encoded', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('burl-same-url.db', ring);
    const keys = { encryptionKey: Buffer.alloc(32, 1), integrityKey: Buffer.alloc(32, 2) };
    deps.env = { ...deps.env, priceKeysFor: () => keys };
    const auctionId = 'x&p=0.01#frag';
    const claims = bannerClaims({
      auctionId,
      kind: 'burl',
      method: 'burl',
      dspBurl: 'https://dsp.example/bill?a=${AUCTION_ID}&p=${AUCTION_PRICE}&e=${AUCTION_PRICE:ENC}',
    });
    const counted = await answer(request(ring, claims), deps);
    const repeat = await answer({ ...request(ring, claims), receivedMs: T0 + 61_000 }, deps);
    assert.equal(counted.kind, 'redirect');
    assert.deepEqual(repeat, counted);
    const location = new URL(counted.kind === 'redirect' ? counted.location : '');
    assert.deepEqual([...location.searchParams.keys()], ['a', 'p', 'e']);
    assert.equal(location.searchParams.get('a'), auctionId);
    assert.equal(location.searchParams.get('p'), '1.25');
    assert.deepEqual(decryptPrice(location.searchParams.get('e') ?? '', keys), {
      ok: true,
      priceMicros: 1_250_000,
    });
    assert.equal(location.hash, '');
    ledger.close();
  });

  it('answers the pixel to a notice on Tally’s burl of an impression whose count queued the DSP’s burl', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('burl-after-pixel.db', ring);
    const dspBurl = 'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}';
    // The same impression registered twice: its pixel counts first and queues the DSP's burl.
    const pixel = await answer(request(ring, bannerClaims({ dspBurl })), deps);
    const burl = await answer(request(ring, bannerClaims({ kind: 'burl', method: 'burl', dspBurl })), deps);
    assert.deepEqual([pixel, burl], [{ kind: 'pixel' }, { kind: 'pixel' }]);
    assert.deepEqual(ledger.countEvents(), { total: 2, counted: 1 });
    assert.equal(ledger.countDeliveries().pending, 1, 'the DSP is billed once, from the outbox');
    ledger.close();
  });

  it('answers the same pixel whatever the outcome, 204 to a beacon, and records every notice', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('pixel.db', ring);
    const answers = await Promise.all([
      answer(request(ring, bannerClaims()), deps),
      answer(request(ring, bannerClaims()), deps),
      answer({ ...request(ring, bannerClaims()), token: 'not-a-token' }, deps),
      answer(request(testKeyRing(), bannerClaims({ auctionId: 'foreign' })), deps),
      answer(request(ring, bannerClaims({ auctionId: 'beacon' }), 'f=b'), deps),
    ]);
    assert.deepEqual(
      answers.map((sent) => sent.kind),
      ['pixel', 'pixel', 'pixel', 'pixel', 'noContent'],
    );
    assert.deepEqual(ledger.countEvents(), { total: 5, counted: 2 });
    ledger.close();
  });

  it('answers the GIF, not 204, to a notice whose f parameter is anything but b', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('not-beacon.db', ring);
    const queries = ['f=', 'f=bb', 'f=B', 'ref=b', 'xf=b&f=a'];
    const answers = await Promise.all(
      queries.map((query, index) =>
        answer(request(ring, bannerClaims({ auctionId: `q${index}` }), query), deps),
      ),
    );
    assert.deepEqual(
      answers.map((sent) => sent.kind),
      queries.map(() => 'pixel'),
    );
    ledger.close();
  });

  it('answers 503 when the commit queue is full, recording nothing for that notice', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('full.db', ring, 1);
    const answers = await Promise.all([
      answer(request(ring, bannerClaims({ auctionId: 'queued' })), deps),
      answer(request(ring, bannerClaims({ auctionId: 'refused' })), deps),
    ]);
    assert.deepEqual(
      answers.map((sent) => sent.kind),
      ['pixel', 'unavailable'],
    );
    assert.deepEqual(ledger.countEvents(), { total: 1, counted: 1 });
    assert.match(
      deps.metrics.render(),
      /^tally_notices_refused_total\{impression_type="exchange",reason="queue_full"\} 1$/m,
    );
    ledger.close();
  });

  it('answers 503 when the commit fails, never the pixel, counting each notice refused', async () => {
    const ring = testKeyRing();
    const failing: BatchRecorder = {
      record: () => Promise.reject(new Error('disk full')),
      close: () => Promise.resolve(),
    };
    const deps: NoticeDeps = {
      ...depsOn('failing.db', ring).deps,
      committer: new GroupCommitter(
        failing,
        { maxBatch: 100, maxDelayMs: 0, maxQueue: 100, maxInFlight: 1, flushAtSize: 1000 },
        new Metrics(),
      ),
    };
    const answers = await Promise.all([
      answer(request(ring, bannerClaims({ auctionId: 'lost-1' })), deps),
      answer(request(ring, bannerClaims({ auctionId: 'lost-2' }), 'f=b'), deps),
    ]);
    assert.deepEqual(answers, [{ kind: 'unavailable' }, { kind: 'unavailable' }]);
    assert.match(
      deps.metrics.render(),
      /^tally_notices_refused_total\{impression_type="exchange",reason="not_committed"\} 2$/m,
    );
  });

  it('answers 503 when the commit went through but its sync to the disk failed, counting the notices by their recorded outcome and refused as not_synced', async () => {
    const ring = testKeyRing();
    const metrics = new Metrics();
    const unsynced: BatchRecorder = {
      record: (batch) =>
        Promise.reject(
          new UnsyncedCommitError(
            'EIO: i/o error, fdatasync',
            batch.map((_, index) => (index === 0 ? COUNTED : notCounted('duplicate'))),
          ),
        ),
      close: () => Promise.resolve(),
    };
    const deps: NoticeDeps = {
      ...depsOn('unsynced.db', ring).deps,
      metrics,
      committer: new GroupCommitter(
        unsynced,
        { maxBatch: 100, maxDelayMs: 0, maxQueue: 100, maxInFlight: 1, flushAtSize: 1000 },
        metrics,
      ),
    };
    const claims = bannerClaims({ auctionId: 'unsynced' });
    const answers = await Promise.all([
      answer(request(ring, claims), deps),
      answer(request(ring, claims), deps),
    ]);
    assert.deepEqual(answers, [{ kind: 'unavailable' }, { kind: 'unavailable' }]);
    const rendered = metrics.render();
    for (const series of [
      'tally_notices_total{outcome="counted",reason="",impression_type="exchange"} 1',
      'tally_notices_total{outcome="not_counted",reason="duplicate",impression_type="exchange"} 1',
      'tally_notices_refused_total{impression_type="exchange",reason="not_synced"} 2',
    ]) {
      assert.ok(rendered.split('\n').includes(series), `${series} in\n${rendered}`);
    }
    assert.doesNotMatch(rendered, /reason="not_committed"/);
  });

  it('answers 204 to a beacon whose f parameter is percent-encoded, as URLSearchParams reads it', async () => {
    const ring = testKeyRing();
    const { deps, ledger } = depsOn('encoded-beacon.db', ring);
    const sent = await answer(request(ring, bannerClaims(), '%66=b'), deps);
    assert.equal(sent.kind, 'noContent');
    ledger.close();
  });
});

describe('notices read by the notice lane', () => {
  it('takes the token from the path and the query after the ?, with the method, rule headers, peer and time', () => {
    const request = {
      method: 'HEAD' as const,
      endpoint: 'notice' as const,
      target: '/n/the.token-1?f=b&x=%20',
      rawHeaders: ['Host', 'tally.test', 'User-Agent', 'Agent/1', 'X-Forwarded-For', '203.0.113.1'],
      keepAlive: true,
    };
    assert.deepEqual(laneNotice(request, '198.51.100.7', 1234), {
      token: 'the.token-1',
      query: 'f=b&x=%20',
      method: 'HEAD',
      headers: { 'user-agent': 'Agent/1', 'x-forwarded-for': '203.0.113.1' },
      remoteAddress: '198.51.100.7',
      receivedMs: 1234,
    });
    assert.deepEqual(laneNotice({ ...request, method: 'GET', target: '/n/whole' }, '198.51.100.7', 1234), {
      token: 'whole',
      query: '',
      method: 'GET',
      headers: { 'user-agent': 'Agent/1', 'x-forwarded-for': '203.0.113.1' },
      remoteAddress: '198.51.100.7',
      receivedMs: 1234,
    });
  });
});

describe('notices through node:http', () => {
  it(
    'answers GET with the uncached GIF, HEAD without a body, a POST beacon 204, and any other method 405 unrecorded',
    { timeout: 10_000 },
    async () => {
      const ring = testKeyRing();
      const { deps, ledger } = depsOn('http.db', ring);
      const tokens = new Map(
        ['get', 'head', 'post', 'options', 'put'].map((name) => [
          name,
          sealToken(bannerClaims({ auctionId: name }), ring),
        ]),
      );
      const server = createServer((req, res) => {
        const [path = '', query = ''] = (req.url ?? '').split('?');
        void handleNotice(req, res, path.slice('/n/'.length), query, deps);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/n/`;
      const send = (method: string, name: string, query = '') =>
        fetch(`${base}${tokens.get(name)}${query}`, {
          method,
          headers: { 'user-agent': CHROME },
          // An answer that never comes fails the test rather than hanging it.
          signal: AbortSignal.timeout(5000),
        });
      try {
        const got = await send('GET', 'get');
        assert.equal(got.status, 200);
        assert.equal(got.headers.get('content-type'), 'image/gif');
        assert.equal(got.headers.get('cache-control'), 'no-store, no-cache, must-revalidate');
        assert.equal((await got.arrayBuffer()).byteLength, 43);
        const head = await send('HEAD', 'head');
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), '43');
        const beacon = await send('POST', 'post', '?f=b');
        assert.equal(beacon.status, 204);
        for (const method of ['OPTIONS', 'PUT']) {
          const refused = await send(method, method.toLowerCase());
          assert.equal(refused.status, 405, method);
          assert.equal(refused.headers.get('allow'), 'GET, HEAD, POST');
          await refused.arrayBuffer();
        }
        assert.deepEqual(
          ledger.countEvents(),
          { total: 3, counted: 2 },
          'GET and POST count, HEAD is invalid traffic',
        );
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        ledger.close();
      }
    },
  );
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CatalogSnapshot } from '../../src/catalog-snapshot.js';
import { GroupCommitter } from '../../src/hot/group-commit.js';
import { parseConfig } from '../../src/config.js';
import { jsonLogger } from '../../src/lib/log.js';
import type { CatalogView } from '../../src/ports/catalog.js';
import { startTally } from '../../src/server.js';
import type { Tally } from '../../src/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { ledgerEventsOf } from '../support/ledger-events.js';
import { rawExchange } from '../support/raw-http.js';
import Database from 'better-sqlite3';
import { CHROME } from '../support/user-agents.js';

// A Tally started in this process (so that a fault can be injected into it), served over real HTTP
// on loopback: each request is sent both ways the server serves notices and tracker hits, through
// the notice lane (a `GET` or `HEAD` in origin form) and through node:http (a `POST`, or a target
// in absolute form, which the lane hands over), and must be answered and recorded alike.

const parent = mkdtempSync(join(tmpdir(), 'tally-notice-paths-'));
after(() => rmSync(parent, { recursive: true, force: true }));

const ADMIN_KEY = 'test-admin-key-0123456789';
const logLines: string[] = [];

/** A Tally started in this process on a data directory of its own, with the extra `env`. */
async function startOn(
  name: string,
  env: Record<string, string> = {},
): Promise<{ tally: Tally; dataDir: string }> {
  const dataDir = mkdtempSync(join(parent, `${name}-`));
  const parsed = parseConfig({
    TALLY_DATA_DIR: dataDir,
    TALLY_PORT: '0',
    TALLY_HOST: '127.0.0.1',
    TALLY_PUBLIC_URL: 'http://tally.test',
    TALLY_ADMIN_KEY: ADMIN_KEY,
    ...env,
  });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  const tally = await startTally(
    parsed.config,
    jsonLogger((line) => logLines.push(line)),
  );
  return { tally, dataDir };
}

/** Registers a web banner win of `auctionId` (its burl `burl`, if any); answers the path of its pixel notice. */
async function registerWin(tally: Tally, auctionId: string, burl?: string): Promise<string> {
  const response = await fetch(`${tally.url}/v1/wins`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      wins: [
        {
          request: { id: auctionId, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
          seat: 's',
          bid: {
            id: 'b',
            impid: '1',
            price: 1,
            adm: '<div>ad</div>',
            ...(burl === undefined ? {} : { burl }),
          },
        },
      ],
    }),
  });
  const body = (await response.json()) as { results: { noticeUrls: { adm: string } }[] };
  const { pathname, search } = new URL(body.results[0]?.noticeUrls.adm ?? '');
  return `${pathname}${search}`;
}

/**
 * Fires the notice at `path` with the header lines `headers` on a connection of its own, through
 * the notice lane (`lane`: a `GET` in origin form) or through node:http (`http`: the same `GET` in
 * absolute form, which the lane hands over); answers all it was answered.
 */
function fireNotice(tally: Tally, how: 'lane' | 'http', path: string, headers: string[]): Promise<string> {
  const target = how === 'lane' ? path : `http://tally.test${path}`;
  const head = [`GET ${target} HTTP/1.1`, 'Host: tally.test', ...headers, 'Connection: close'];
  return rawExchange(tally.url, `${head.join('\r\n')}\r\n\r\n`);
}

/** How the ledger recorded the notices of `auctionId`: outcome, reason and rule, device address and agent. */
function recorded(dataDir: string, auctionId: string): string[] {
  return ledgerEventsOf(dataDir, [auctionId]).map(
    (row) => `${row.outcome}/${row.reason}/${row.ivt_rule} ${row.device_ip} ${String(row.user_agent)}`,
  );
}

/**
 * The value of `tally_notices_refused_total` for `impressionType` and `reason` in the server's
 * `/metrics`, which must show that series.
 */
async function refusedCount(tally: Tally, impressionType: string, reason: string): Promise<number> {
  const text = await (await fetch(`${tally.url}/metrics`)).text();
  const series = `tally_notices_refused_total{impression_type="${impressionType}",reason="${reason}"} `;
  const line = text.split('\n').find((candidate) => candidate.startsWith(series)) ?? '';
  assert.notEqual(line, '', `/metrics shows ${series}`);
  return Number(line.slice(series.length));
}

/** The answer's bytes without its `Date` header, which may tick between two answers. */
function undated(answer: string): string {
  return answer.replace(/\r\nDate: [^\r]*/, '');
}

describe('a tracker hit that fails before it is recorded (its catalog cannot be read)', () => {
  let tally: Tally;
  let failing = false;
  const current = Object.getOwnPropertyDescriptor(CatalogSnapshot.prototype, 'current');
  before(async () => {
    ({ tally } = await startOn('hit-failed'));
    // Fault injection: the catalog snapshot throws, as a catalog SQLite cannot read would.
    const read = current?.value as (this: CatalogSnapshot) => CatalogView;
    CatalogSnapshot.prototype.current = function (this: CatalogSnapshot) {
      if (failing) throw new Error('SQLITE_IOERR: disk I/O error');
      return read.call(this);
    };
  });
  after(async () => {
    if (current !== undefined) Object.defineProperty(CatalogSnapshot.prototype, 'current', current);
    await tally.close();
  });

  it('is answered 503 with Retry-After: 1, as every other 503 of Tally, through the notice lane and through node:http alike', async () => {
    failing = true;
    try {
      const headers = 'Host: tally.test\r\nUser-Agent: Test/1\r\nConnection: close';
      const answers = {
        laneGet: await rawExchange(tally.url, `GET /imptr?id=1&cachebuster=a HTTP/1.1\r\n${headers}\r\n\r\n`),
        laneHead: await rawExchange(
          tally.url,
          `HEAD /imptr?id=1&cachebuster=b HTTP/1.1\r\n${headers}\r\n\r\n`,
        ),
        httpGet: await rawExchange(
          tally.url,
          `GET http://tally.test/imptr?id=1&cachebuster=c HTTP/1.1\r\n${headers}\r\n\r\n`,
        ),
        httpPost: await rawExchange(
          tally.url,
          `POST /clktr?id=1&cachebuster=d HTTP/1.1\r\n${headers}\r\nContent-Length: 0\r\n\r\n`,
        ),
      };
      for (const [how, answer] of Object.entries(answers)) {
        assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/, how);
        assert.match(answer, /\r\nRetry-After: 1\r\n/, how);
      }
      assert.equal(undated(answers.laneGet), undated(answers.httpGet));
      assert.equal(undated(answers.laneGet), undated(answers.httpPost));
      // Each was logged as failed: the fault, not something else, answered them.
      assert.equal(logLines.filter((line) => line.includes('"hit_failed"')).length, 4);
    } finally {
      failing = false;
    }
  });

  it('counts each hit so answered 503 in tally_notices_refused_total by its impression type, as reason failed, through the notice lane and node:http alike', async () => {
    const before = {
      impressions: await refusedCount(tally, 'external_impression', 'failed'),
      clicks: await refusedCount(tally, 'external_click', 'failed'),
    };
    failing = true;
    try {
      const headers = 'Host: tally.test\r\nUser-Agent: Test/1\r\nConnection: close';
      const answers = [
        await rawExchange(tally.url, `GET /imptr?id=1&cachebuster=e HTTP/1.1\r\n${headers}\r\n\r\n`),
        await rawExchange(tally.url, `HEAD /clktr?id=1&cachebuster=f HTTP/1.1\r\n${headers}\r\n\r\n`),
        await rawExchange(
          tally.url,
          `GET http://tally.test/imptr?id=1&cachebuster=g HTTP/1.1\r\n${headers}\r\n\r\n`,
        ),
        await rawExchange(
          tally.url,
          `POST /clktr?id=1&cachebuster=h HTTP/1.1\r\n${headers}\r\nContent-Length: 0\r\n\r\n`,
        ),
      ];
      assert.deepEqual(
        answers.map((answer) => answer.slice(0, 'HTTP/1.1 503'.length)),
        ['HTTP/1.1 503', 'HTTP/1.1 503', 'HTTP/1.1 503', 'HTTP/1.1 503'],
      );
    } finally {
      failing = false;
    }
    assert.deepEqual(
      {
        impressions: await refusedCount(tally, 'external_impression', 'failed'),
        clicks: await refusedCount(tally, 'external_click', 'failed'),
      },
      { impressions: before.impressions + 2, clicks: before.clicks + 2 },
    );
  });
});

describe('a notice that fails before it is recorded (its decision or queueing throws)', () => {
  let tally: Tally;
  let failing = false;
  const offer = Object.getOwnPropertyDescriptor(GroupCommitter.prototype, 'offer');
  before(async () => {
    ({ tally } = await startOn('notice-failed'));
    // Fault injection: queueing the decided notice throws, as a bug in deciding it would.
    const queue = offer?.value as GroupCommitter['offer'];
    GroupCommitter.prototype.offer = function (
      this: GroupCommitter,
      ...args: Parameters<GroupCommitter['offer']>
    ) {
      if (failing) throw new Error('fault injected into the notice path');
      return queue.apply(this, args);
    };
  });
  after(async () => {
    if (offer !== undefined) Object.defineProperty(GroupCommitter.prototype, 'offer', offer);
    await tally.close();
  });

  it('is answered 503 with Retry-After: 1 through the notice lane as through node:http, the server serving on, counted in tally_notices_refused_total as reason failed and logged without its token', async () => {
    const path = await registerWin(tally, 'notice-failed');
    const before = await refusedCount(tally, 'exchange', 'failed');
    const loggedBefore = logLines.length;
    failing = true;
    let answers: string[];
    try {
      answers = [
        await fireNotice(tally, 'lane', path, [`User-Agent: ${CHROME}`]),
        await fireNotice(tally, 'http', path, [`User-Agent: ${CHROME}`]),
      ];
    } finally {
      failing = false;
    }
    for (const answer of answers) {
      assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.match(answer, /\r\nRetry-After: 1\r\n/);
    }
    assert.equal(await refusedCount(tally, 'exchange', 'failed'), before + 2);
    // Logged without the notice's token, which a log line must not hold: fired by whoever reads
    // it, the notice never recorded would count.
    const token = path.slice('/n/'.length).split('?')[0] ?? '';
    const logged = logLines.slice(loggedBefore).filter((line) => line.includes('"hit_failed"'));
    assert.deepEqual(
      logged.map((line) => [(JSON.parse(line) as { path: string }).path, line.includes(token)]),
      [
        ['/n/***', false],
        ['http://tally.test/n/***', false],
      ],
    );
    // Served on: the same notice, fired again, counts.
    assert.match(await fireNotice(tally, 'lane', path, [`User-Agent: ${CHROME}`]), /^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe('the device agent a notice names in X-Device-User-Agent', () => {
  let tally: Tally;
  let dataDir: string;
  before(async () => {
    ({ tally, dataDir } = await startOn('device-agent'));
  });
  after(() => tally.close());

  it('is the caller’s User-Agent when X-Device-User-Agent is repeated or empty, as the device address is the peer’s when X-Device-IP is, through the notice lane and node:http alike', async () => {
    const cases: [string, string[]][] = [
      ['repeated', ['X-Device-User-Agent: Device/1', 'X-Device-User-Agent: Device/2']],
      ['empty', ['X-Device-User-Agent: ']],
      ['blank', ['X-Device-User-Agent:  \t ']],
      ['address repeated', ['X-Device-IP: 198.51.100.1', 'X-Device-IP: 198.51.100.2']],
      ['address empty', ['X-Device-IP: ']],
    ];
    for (const how of ['lane', 'http'] as const) {
      for (const [name, headers] of cases) {
        const auctionId = `${how}-${name}`;
        const answer = await fireNotice(tally, how, await registerWin(tally, auctionId), [
          `User-Agent: ${CHROME}`,
          ...headers,
        ]);
        assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/, auctionId);
        assert.deepEqual(recorded(dataDir, auctionId), [`counted// 127.0.0.1 ${CHROME}`], auctionId);
      }
    }
  });
});

describe('the device behind a trusted proxy that appended no address to X-Forwarded-For', () => {
  let tally: Tally;
  let dataDir: string;
  let dsp: FakeDsp;
  before(async () => {
    dsp = await startDsp();
    // The test's loopback connections come from a trusted proxy (Tally's load balancer, say).
    ({ tally, dataDir } = await startOn('trusted-proxy', {
      TALLY_IVT_TRUSTED_NOTIFIERS: '127.0.0.1, 10.0.0.0/24',
      TALLY_BURL_PRIVATE_NETWORKS: 'allow',
    }));
  });
  after(async () => {
    await tally.close();
    await dsp.close();
  });

  it('is the peer, not an address the client wrote before that entry: recorded and relayed to the DSP as such, through the notice lane and node:http alike', async () => {
    const cases: [string, string][] = [
      ['unknown', '198.51.100.9, unknown'],
      ['behind-another', '198.51.100.9, unknown, 10.0.0.5'],
      ['garbled', '198.51.100.9,'],
    ];
    for (const how of ['lane', 'http'] as const) {
      for (const [name, forwarded] of cases) {
        const auctionId = `${how}-${name}`;
        const path = await registerWin(tally, auctionId, `${dsp.url}/bill?a=\${AUCTION_ID}`);
        const answer = await fireNotice(tally, how, path, [
          `User-Agent: ${CHROME}`,
          `X-Forwarded-For: ${forwarded}`,
        ]);
        assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/, auctionId);
        assert.deepEqual(recorded(dataDir, auctionId), [`counted// 127.0.0.1 ${CHROME}`], auctionId);
        await dsp.waitFor((hits) => hits.some((hit) => hit.query.get('a') === auctionId));
        const relayed = dsp.hits.find((hit) => hit.query.get('a') === auctionId);
        assert.equal(relayed?.headers['x-device-ip'], '127.0.0.1', auctionId);
      }
    }
    // An address the trusted proxy appended is still the device's.
    const path = await registerWin(tally, 'appended', `${dsp.url}/bill?a=\${AUCTION_ID}`);
    await fireNotice(tally, 'lane', path, [
      `User-Agent: ${CHROME}`,
      'X-Forwarded-For: unknown, 198.51.100.9',
    ]);
    assert.deepEqual(recorded(dataDir, 'appended'), [`counted// 198.51.100.9 ${CHROME}`]);
  });
});

describe('a notice or hit whose path prefix is written with percent-escapes of unreserved characters', () => {
  let tally: Tally;
  let dataDir: string;
  before(async () => {
    ({ tally, dataDir } = await startOn('escaped-prefix'));
  });
  after(() => tally.close());

  /** The tracker hits the ledger holds, as `type/reason`, in the order recorded. */
  function recordedHits(): string[] {
    const db = new Database(join(dataDir, 'tally.db'), { readonly: true });
    try {
      const rows = db
        .prepare("SELECT impression_type, reason FROM events WHERE impression_type != 'exchange' ORDER BY id")
        .all() as { impression_type: string; reason: string }[];
      return rows.map((row) => `${row.impression_type}/${row.reason}`);
    } finally {
      db.close();
    }
  }

  it('is served and recorded as the same URL unescaped (RFC 3986 §6.2.2.2), /%6E/<token> as /n/<token>, through the notice lane and node:http alike', async () => {
    for (const how of ['lane', 'http'] as const) {
      for (const prefix of ['/%6E/', '/%6e/']) {
        const auctionId = `${how}-${prefix}`;
        const path = (await registerWin(tally, auctionId)).replace(/^\/n\//, prefix);
        const answer = await fireNotice(tally, how, path, [`User-Agent: ${CHROME}`]);
        assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[^]*Content-Type: image\/gif\r\n/, auctionId);
        assert.deepEqual(recorded(dataDir, auctionId), [`counted// 127.0.0.1 ${CHROME}`], auctionId);
      }
    }
    // Tracker paths alike: an unknown tracker's hit is recorded as such, its click answered 404.
    const hits = [
      '/%69mptr?id=99&cachebuster=a',
      '/im%70tr?id=99&cachebuster=b',
      '/%63lktr?id=99&cachebuster=c',
    ];
    for (const how of ['lane', 'http'] as const) {
      for (const hit of hits) {
        const answer = await fireNotice(tally, how, hit, [`User-Agent: ${CHROME}`]);
        assert.match(
          answer,
          hit.includes('lktr')
            ? /^HTTP\/1\.1 404 Not Found\r\n[^]*No such click tracker/
            : /^HTTP\/1\.1 200 OK\r\n/,
          `${how} ${hit}`,
        );
      }
    }
    const unknown = [
      'external_impression/unknown_tracker',
      'external_impression/unknown_tracker',
      'external_click/unknown_tracker',
    ];
    assert.deepEqual(recordedHits(), [...unknown, ...unknown]);
  });

  it('is not a notice when the escape is of a reserved character: /n%2F<token> is no /n/ path, answered 404 and recorded nowhere', async () => {
    const path = (await registerWin(tally, 'reserved')).replace(/^\/n\//, '/n%2F');
    for (const how of ['lane', 'http'] as const) {
      const answer = await fireNotice(tally, how, path, [`User-Agent: ${CHROME}`]);
      assert.match(answer, /^HTTP\/1\.1 404 Not Found\r\n/, how);
    }
    assert.deepEqual(recorded(dataDir, 'reserved'), []);
  });
});

import assert from 'node:assert/strict';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqlite, SchemaTooNewError } from './adapters/sqlite/database.js';
import { LEDGER_FILE_CHECK_INTERVAL_MS } from './adapters/sqlite/ledger-file-watch.js';
import { parseConfig } from './config.js';
import { KeyFileError } from './keys.js';
import { jsonLogger } from './lib/log.js';
import { startTally } from './server.js';
import type { Tally } from './server.js';
import { rawExchange } from '../test/support/raw-http.js';
import { CHROME } from '../test/support/user-agents.js';

const parent = mkdtempSync(join(tmpdir(), 'tally-server-'));
after(() => rmSync(parent, { recursive: true, force: true }));

const logLines: string[] = [];
const log = jsonLogger((line) => logLines.push(line));

function configFor(dataDir: string) {
  const parsed = parseConfig({
    TALLY_DATA_DIR: dataDir,
    TALLY_PORT: '0',
    TALLY_HOST: '127.0.0.1',
    TALLY_PUBLIC_URL: 'http://tally.test',
    TALLY_ADMIN_KEY: 'test-admin-key-0123456789',
  });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  return parsed.config;
}

/** Starts Tally on `dataDir`, checks it serves, and stops it. */
async function startsAndServes(dataDir: string): Promise<void> {
  const tally = await startTally(configFor(dataDir), log);
  try {
    assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
  } finally {
    await tally.close();
  }
}

describe('startTally failing to start', () => {
  it('releases the data directory when the key file is damaged, so a second start in the process succeeds', async () => {
    const dataDir = mkdtempSync(join(parent, 'keys-'));
    const keyFile = join(dataDir, 'token-keys.json');
    writeFileSync(keyFile, 'this is not JSON');
    await assert.rejects(startTally(configFor(dataDir), log), KeyFileError);
    rmSync(keyFile);
    await startsAndServes(dataDir);
  });

  it('releases the data directory and the database when the schema is too new, so a second start succeeds', async () => {
    const dataDir = mkdtempSync(join(parent, 'schema-'));
    const dbPath = join(dataDir, 'tally.db');
    openSqlite(dbPath).close();
    const newer = new Database(dbPath);
    const version = newer.pragma('user_version', { simple: true }) as number;
    newer.pragma(`user_version = ${version + 1}`);
    newer.close();
    await assert.rejects(startTally(configFor(dataDir), log), SchemaTooNewError);
    const fixed = new Database(dbPath);
    fixed.pragma(`user_version = ${version}`);
    fixed.close();
    await startsAndServes(dataDir);
  });
});

describe('requests at the edges of the API: CONNECT, targets beginning with //, queries nothing reads', () => {
  let tally: Tally;
  before(async () => {
    tally = await startTally(configFor(mkdtempSync(join(parent, 'requests-'))), log);
  });
  after(() => tally.close());

  /** Sends `request` on a new connection; resolves with all that is answered until the server closes it. */
  function exchange(request: string): Promise<string> {
    return rawExchange(tally.url, request);
  }

  /** The status and the error envelope of the last answer in `raw`. */
  function lastError(raw: string): {
    status: number;
    headers: string;
    code: string;
    message: string;
    requestId: string;
  } {
    const start = raw.lastIndexOf('HTTP/1.1 ');
    const headEnd = raw.indexOf('\r\n\r\n', start);
    const headers = raw.slice(start, headEnd + 2);
    const { error } = JSON.parse(raw.slice(headEnd + 4)) as {
      error: { code: string; message: string; requestId: string };
    };
    return { status: Number(headers.slice(9, 12)), headers, ...error };
  }

  it('answers a notice node:http serves (a POST) to a client that ends its side after sending it', async () => {
    const answer = await rawExchange(
      tally.url,
      'POST /n/no-such-token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
      {
        halfClose: true,
      },
    );
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(answer, /Content-Type: image\/gif/i);
  });

  it('answers an API request asking Expect: 100-continue with its refusal alone when it is refused before its body is read, and 100 Continue when the body is wanted', async () => {
    const head = (authorization: string, contentLength: number) =>
      'POST /v1/advertisers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Authorization: ${authorization}\r\nContent-Length: ${contentLength}\r\n` +
      'Expect: 100-continue\r\nConnection: close\r\n\r\n';
    // A body over the 1 MiB limit and a key Tally does not know: the client is told at once, and
    // sends no body for the connection to be closed under (curl then reports a send failure).
    const tooLarge = await exchange(head('Bearer test-admin-key-0123456789', 2 * 1024 * 1024));
    assert.doesNotMatch(tooLarge, /100 Continue/);
    assert.equal(lastError(tooLarge).status, 413);
    assert.equal(lastError(tooLarge).code, 'BODY_TOO_LARGE');
    const unknownKey = await exchange(head('Bearer no-such-key-0123456789', 10));
    assert.doesNotMatch(unknownKey, /100 Continue/);
    assert.equal(lastError(unknownKey).code, 'UNAUTHENTICATED');
    const body = '{"name":"Acme"}';
    const created = await exchange(head('Bearer test-admin-key-0123456789', body.length) + body);
    assert.match(created, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
  });

  it('reads every header field of a head within its size limit, a Host after 1500 others included, as the notice lane does', async () => {
    const fields = 'a: b\r\n'.repeat(1500);
    const answer = await exchange(
      `POST /n/no-such-token HTTP/1.1\r\n${fields}Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  });

  it('answers 400 MALFORMED_REQUEST to a request with two Host headers or a Host that is no host, a notice included, and serves a valid one', async () => {
    for (const [host, message] of [
      ['Host: tally.test\r\nHost: other.test', /has 2 Host headers/],
      ['Host: a b', /the Host header "a b" is no host name or address/],
      ['Host: tally.test/path', /is no host name or address/],
    ] as const) {
      for (const path of ['/n/abc', '/healthz']) {
        const answer = lastError(
          await exchange(`GET ${path} HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`),
        );
        assert.deepEqual([answer.status, answer.code], [400, 'MALFORMED_REQUEST'], `${path} ${host}`);
        assert.match(answer.message, message);
      }
    }
    for (const host of ['tally.test:8080', '[::1]:8080', '127.0.0.1', '']) {
      const raw = await exchange(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(raw, /^HTTP\/1\.1 200 /, host);
    }
  });

  it('answers CONNECT 405 METHOD_NOT_ALLOWED in the error envelope, with its request id and an empty Allow, and closes the connection', async () => {
    for (const request of [
      'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\nX-Request-Id: tunnel-1\r\n\r\n',
      // What a client sends once it believes the tunnel open is read and dropped.
      'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\nX-Request-Id: tunnel-1\r\n\r\nSSH-2.0-OpenSSH_9.6\r\n',
      'CONNECT /n/abc HTTP/1.1\r\nHost: x\r\nX-Request-Id: tunnel-1\r\n\r\n',
    ]) {
      const raw = await exchange(request);
      assert.equal(raw.match(/HTTP\/1\.1 /g)?.length, 1, raw);
      const answer = lastError(raw);
      assert.equal(answer.status, 405, raw);
      assert.match(answer.headers, /\r\nAllow: \r\n/);
      assert.match(answer.headers, /\r\nConnection: close\r\n/);
      assert.match(answer.headers, /\r\nX-Request-Id: tunnel-1\r\n/);
      assert.equal(answer.code, 'METHOD_NOT_ALLOWED');
      assert.equal(answer.requestId, 'tunnel-1');
      assert.match(answer.message, /^CONNECT is not allowed: Tally is no proxy/);
    }
  });

  it('counts each notice and tracker hit refused 405 for its method, and each CONNECT, in tally_refused_method_requests_total by target', async () => {
    const refused = async () => {
      const text = await (await fetch(`${tally.url}/metrics`)).text();
      const counted = (target: string) => {
        const line = new RegExp(`^tally_refused_method_requests_total\\{target="${target}"\\} (\\d+)$`, 'm');
        return Number(line.exec(text)?.[1] ?? Number.NaN);
      };
      return { notice: counted('notice'), tracker: counted('tracker'), connect: counted('connect') };
    };
    const before = await refused();
    for (const [method, path] of [
      ['PUT', '/n/abc'],
      ['DELETE', '/imptr?id=1'],
      ['OPTIONS', '/clktr?id=1'],
    ] as const) {
      const answer = await fetch(`${tally.url}${path}`, { method });
      await answer.arrayBuffer();
      assert.equal(answer.status, 405, `${method} ${path}`);
    }
    assert.equal(lastError(await exchange('CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n')).status, 405);
    const after = await refused();
    assert.deepEqual(
      {
        notice: after.notice - before.notice,
        tracker: after.tracker - before.tracker,
        connect: after.connect - before.connect,
      },
      { notice: 1, tracker: 2, connect: 1 },
    );
  });

  it('answers a CONNECT pipelined after a notice (read by the notice lane) or an API call after their answers, in order', async () => {
    for (const first of [
      'GET /n/abc HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n',
    ]) {
      const raw = await exchange(`${first}CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.deepEqual(
        [...raw.matchAll(/HTTP\/1\.1 (\d+) /g)].map((match) => match[1]),
        ['200', '405'],
        first,
      );
      assert.equal(lastError(raw).code, 'METHOD_NOT_ALLOWED');
    }
  });

  it('closes the connection after answering a request that asks for an upgrade (h2c, websocket): node:http drops what is pipelined behind it', async () => {
    // An h2c upgrade is what Java's HttpClient and curl --http2 send on a plain-http URL.
    for (const [path, upgrade] of [
      [
        '/healthz',
        'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n',
      ],
      ['/n/abc', 'Connection: upgrade\r\nUpgrade: websocket\r\n'],
      ['/healthz', 'Proxy-Connection: keep-alive, upgrade\r\nUpgrade: h2c\r\n'],
    ] as const) {
      const raw = await exchange(
        `GET ${path} HTTP/1.1\r\nHost: x\r\n${upgrade}\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      // Answered, then closed: the client sends what went unanswered again, on a new connection.
      assert.deepEqual(
        [...raw.matchAll(/HTTP\/1\.1 (\d+) /g)].map((match) => match[1]),
        ['200'],
        path,
      );
      assert.match(raw, /\r\nConnection: close\r\n/, path);
    }
    // Upgrade without the Connection option asking for it is no upgrade: the connection serves on.
    const plain = await exchange(
      'GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(plain.match(/HTTP\/1\.1 200 /g)?.length, 2, plain);
    // Nor is Connection: upgrade without an Upgrade header.
    const noUpgrade = await exchange(
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(noUpgrade.match(/HTTP\/1\.1 200 /g)?.length, 2, noUpgrade);
  });

  it('answers OPTIONS * 204 with Allow naming every method the server takes, and another method on *, HEAD too, 400 MALFORMED_REQUEST with its request id', async () => {
    const raw = await exchange(
      'OPTIONS * HTTP/1.1\r\nHost: x\r\nX-Request-Id: ask-1\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 204 /, raw);
    assert.match(raw, /\r\nAllow: GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS\r\n/, raw);
    assert.match(raw, /\r\nX-Request-Id: ask-1\r\n/, raw);
    // Pipelined after a notice the notice lane read, as a client checking the server may send it.
    const afterNotice = await exchange(
      'GET /n/abc HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(
      [...afterNotice.matchAll(/HTTP\/1\.1 (\d+) /g)].map((match) => match[1]),
      ['200', '204'],
    );
    for (const method of ['GET', 'POST', 'DELETE']) {
      const answer = lastError(
        await exchange(
          `${method} * HTTP/1.1\r\nHost: x\r\nX-Request-Id: star-1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        ),
      );
      assert.deepEqual(
        [answer.status, answer.code, answer.requestId],
        [400, 'MALFORMED_REQUEST', 'star-1'],
        method,
      );
      assert.equal(
        answer.message,
        `the request target * names the server as a whole, which only OPTIONS asks about: send ${method} with a path, such as /v1/wins`,
      );
    }
    // HEAD, which asks what GET would answer, names no resource on * either: its 400 has no body.
    const head = await exchange('HEAD * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /, head);
  });

  it('reads a target beginning with // as the path sent: its 404 names that path, and //host/v1/… is not served as /v1/…', async () => {
    const authorization = 'Authorization: Bearer test-admin-key-0123456789\r\n';
    assert.match(
      await exchange(`GET /v1/advertisers HTTP/1.1\r\nHost: x\r\n${authorization}Connection: close\r\n\r\n`),
      /^HTTP\/1\.1 200 /,
    );
    for (const path of ['//v1/advertisers', '//evil.example/v1/advertisers', '//%zz']) {
      const answer = lastError(
        await exchange(`GET ${path} HTTP/1.1\r\nHost: x\r\n${authorization}Connection: close\r\n\r\n`),
      );
      assert.deepEqual([answer.status, answer.code], [404, 'NOT_FOUND'], path);
      assert.equal(answer.message, `no such endpoint: GET ${path}; see /docs for the API`);
    }
  });

  it('serves the OMID script, /healthz, /readyz, /metrics and /docs whatever their query, an unfilled %%CACHEBUSTER%% or a malformed %-escape included', async () => {
    for (const path of ['/omid/verify.js', '/healthz', '/readyz', '/metrics', '/docs']) {
      for (const query of ['?cb=%%CACHEBUSTER%%', '?%', '?cb=%ff', '?cb=1']) {
        const response = await fetch(`${tally.url}${path}${query}`);
        await response.arrayBuffer();
        assert.equal(response.status, 200, `${path}${query}`);
      }
    }
    const script = await (await fetch(`${tally.url}/omid/verify.js?cb=%%CACHEBUSTER%%`)).text();
    assert.match(script, /data-tally-notice/);
  });
});

describe('an API request whose head stalls', () => {
  it('is answered 408 REQUEST_TIMEOUT once its 10 s for the head are over, not at node:http’s next 30-second check', async () => {
    const tally = await startTally(configFor(mkdtempSync(join(parent, 'stalled-head-'))), log);
    try {
      const startedMs = Date.now();
      // The head never ends: rawExchange resolves once Tally answers and closes the connection.
      const answer = await rawExchange(tally.url, 'POST /v1/wins HTTP/1.1\r\nHost: x\r\n');
      const waitedMs = Date.now() - startedMs;
      assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.match(answer, /"code":"REQUEST_TIMEOUT"/);
      // Within the 10 s and a second or two of checking; node:http's default check came at 30 s.
      assert.ok(waitedMs < 20_000, `answered after ${waitedMs} ms`);
    } finally {
      await tally.close();
    }
  });
});

describe('a metrics key', () => {
  it('makes /metrics answer 401 without the key or with another, counted under key="metrics", and the metrics with it', async () => {
    const dataDir = mkdtempSync(join(parent, 'metrics-key-'));
    const parsed = parseConfig({
      TALLY_DATA_DIR: dataDir,
      TALLY_PORT: '0',
      TALLY_HOST: '127.0.0.1',
      TALLY_PUBLIC_URL: 'http://tally.test',
      TALLY_METRICS_KEY: 'metrics-key-0123456789',
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
    const tally = await startTally(parsed.config, log);
    try {
      const scrape = async (authorization?: string) => {
        const response = await fetch(`${tally.url}/metrics`, {
          headers: authorization === undefined ? {} : { authorization },
        });
        return { status: response.status, text: await response.text() };
      };
      for (const authorization of [undefined, 'Bearer other-key-0123456789', 'metrics-key-0123456789']) {
        const refused = await scrape(authorization);
        assert.equal(refused.status, 401, String(authorization));
        assert.equal((JSON.parse(refused.text) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
      }
      const answered = await scrape('Bearer metrics-key-0123456789');
      assert.equal(answered.status, 200);
      assert.match(answered.text, /^tally_notices_total/m);
      assert.deepEqual(
        ['api', 'metrics'].map(
          (key) =>
            new RegExp(`^tally_api_auth_failures_total\\{key="${key}"\\} (\\d+)$`, 'm').exec(
              answered.text,
            )?.[1],
        ),
        ['0', '3'],
        'the three scrapes refused, and no API key refused',
      );
      assert.equal((await fetch(`${tally.url}/healthz`)).status, 200, 'the other public routes stay public');
    } finally {
      await tally.close();
    }
  });
});

describe('the wins threads a Tally starts', () => {
  it('registers a call of one win while a call of thousands is under way, with the configuration’s default threads', async () => {
    const tally = await startTally(configFor(mkdtempSync(join(parent, 'win-threads-'))), log);
    try {
      // VAST wins, slow to instrument: a call of thousands keeps a thread busy for seconds.
      const vast =
        '<VAST version="4.0"><Ad id="1"><InLine><AdSystem>dsp</AdSystem><AdTitle>ad</AdTitle>' +
        '<Impression><![CDATA[https://dsp.example/i?a=${AUCTION_ID}]]></Impression><Creatives>' +
        '<Creative><Linear><Duration>00:00:15</Duration><MediaFiles><MediaFile delivery="progressive" ' +
        'type="video/mp4" width="640" height="360"><![CDATA[https://dsp.example/v.mp4]]></MediaFile>' +
        '</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>';
      const win = {
        request: { id: 'a', imp: [{ id: '1', video: {} }], site: {} },
        seat: 's',
        bid: { id: 'b', impid: '1', price: 1, adm: vast },
      };
      const order: string[] = [];
      const post = async (name: string, count: number) => {
        const response = await fetch(`${tally.url}/v1/wins`, {
          method: 'POST',
          headers: { authorization: 'Bearer test-admin-key-0123456789', 'content-type': 'application/json' },
          body: JSON.stringify({ wins: Array.from({ length: count }, () => win) }),
        });
        // Noted as its answer begins: a large answer takes a while to read whole.
        order.push(name);
        const body = (await response.json()) as { results: unknown[] };
        return body.results.length;
      };
      const large = post('large', 10_000);
      // The large call reaches a wins thread first.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(await post('small', 1), 1);
      assert.equal(await large, 10_000);
      assert.deepEqual(order, ['small', 'large']);
    } finally {
      await tally.close();
    }
  });
});

describe('a commit whose WAL sync fails', () => {
  it('answers its notices 503, and shows them in tally_notices_total by the outcome the ledger keeps, refused as not_synced', async () => {
    const dataDir = mkdtempSync(join(parent, 'unsynced-'));
    const walPath = join(dataDir, 'tally.db-wal');
    const tally = await startTally(configFor(dataDir), log);
    try {
      /** The path of the pixel notice of a new web banner win. */
      const register = async (auctionId: string): Promise<string> => {
        const response = await fetch(`${tally.url}/v1/wins`, {
          method: 'POST',
          headers: { authorization: 'Bearer test-admin-key-0123456789', 'content-type': 'application/json' },
          body: JSON.stringify({
            wins: [
              {
                request: { id: auctionId, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: {} },
                seat: 's',
                bid: { id: 'b', impid: '1', price: 1, adm: '<div>ad</div>' },
              },
            ],
          }),
        });
        const body = (await response.json()) as { results: { noticeUrls: { adm: string } }[] };
        const { pathname, search } = new URL(body.results[0]?.noticeUrls.adm ?? '');
        return `${pathname}${search}`;
      };
      const fire = async (path: string) => {
        const response = await fetch(`${tally.url}${path}`, { headers: { 'user-agent': CHROME } });
        await response.arrayBuffer();
        return response.status;
      };
      const metricsText = async () => (await fetch(`${tally.url}/metrics`)).text();
      const sample = (text: string, series: string) =>
        Number(text.match(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'))?.[1]);
      /** This process's descriptors open read-only on the ledger's WAL: the counting thread's sync opens one. */
      const readOnlyWalFds = () =>
        readdirSync('/proc/self/fd')
          .map(Number)
          .filter((fd) => {
            try {
              const flags = /^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
              return (
                readlinkSync(`/proc/self/fd/${fd}`) === walPath && (Number.parseInt(flags ?? '', 8) & 3) === 0
              );
            } catch {
              return false;
            }
          });
      const [synced, unsynced] = [await register('synced'), await register('unsynced')];
      const before = new Set(readOnlyWalFds());
      assert.equal(await fire(synced), 200);
      const opened = readOnlyWalFds().filter((fd) => !before.has(fd));
      assert.equal(opened.length, 1, 'the sync’s own descriptor on the WAL, opened at the first commit');
      const syncFd = opened[0] ?? -1;
      // Fault injection: the sync's descriptor becomes /dev/null's, which refuses fdatasync (EINVAL)
      // as a failing disk would refuse it; the commit before it goes through. The descriptor stays
      // the counting thread's: Node closes it as that thread ends (a worker's `trackUnmanagedFds`),
      // and closing it here too could close whatever took its number since.
      closeSync(syncFd);
      const others: number[] = [];
      let devNull = openSync('/dev/null', 'r');
      while (devNull < syncFd) {
        others.push(devNull);
        devNull = openSync('/dev/null', 'r');
      }
      for (const fd of others) closeSync(fd);
      if (devNull !== syncFd) closeSync(devNull);
      assert.equal(devNull, syncFd, 'another file took the sync’s descriptor');
      assert.equal(await fire(unsynced), 503, 'not acknowledged: not known to be on the disk');
      const counted = 'tally_notices_total{outcome="counted",reason="",impression_type="exchange"}';
      const refused = (reason: string) =>
        `tally_notices_refused_total{impression_type="exchange",reason="${reason}"}`;
      const afterFailure = await metricsText();
      assert.deepEqual(
        [counted, refused('not_synced'), refused('not_committed')].map((series) =>
          sample(afterFailure, series),
        ),
        [2, 1, 0],
        afterFailure,
      );
      const db = new Database(join(dataDir, 'tally.db'), { readonly: true });
      try {
        const countedInLedger = db
          .prepare(`SELECT COUNT(*) FROM events WHERE outcome = 'counted'`)
          .pluck()
          .get();
        assert.equal(countedInLedger, 2, 'the ledger holds the notice answered 503 as counted');
      } finally {
        db.close();
      }
      // The publisher retries once a new counting thread has replaced the one that failed: the
      // impression counted already, so the retry is a duplicate, and nothing is counted twice.
      let retried = 503;
      for (let attempt = 0; attempt < 200 && retried === 503; attempt++) {
        retried = await fire(unsynced);
        if (retried === 503) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(retried, 200);
      const afterRetry = await metricsText();
      const duplicate =
        'tally_notices_total{outcome="not_counted",reason="duplicate",impression_type="exchange"}';
      assert.deepEqual([sample(afterRetry, counted), sample(afterRetry, duplicate)], [2, 1], afterRetry);
    } finally {
      await tally.close();
    }
  });
});

describe('a clean stop', () => {
  it('logs no ledger_file_gone after it: closing the ledger removes its WAL, which is no file lost', async () => {
    const dataDir = mkdtempSync(join(parent, 'clean-stop-'));
    const tally = await startTally(configFor(dataDir), log);
    const from = logLines.length;
    await tally.close();
    await new Promise((resolve) => setTimeout(resolve, LEDGER_FILE_CHECK_INTERVAL_MS + 300));
    const events = logLines.slice(from).map((line) => (JSON.parse(line) as { event: string }).event);
    assert.deepEqual(
      events.filter((event) => event.startsWith('ledger_file')),
      [],
    );
    assert.deepEqual(
      readdirSync(dataDir).filter((name) => name.startsWith('tally.db')),
      ['tally.db'],
    );
  });
});

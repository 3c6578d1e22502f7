import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ledgerEventsOf } from '../support/ledger-events.js';
import { rawExchange } from '../support/raw-http.js';
import { until } from '../support/until.js';
import { CHROME } from '../support/user-agents.js';

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

/** Registers one web banner win per auction id; answers their adm notices' paths, in order. */
async function noticePaths(auctionIds: readonly string[]): Promise<string[]> {
  const wins = auctionIds.map((id) => ({
    request: { id, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { publisher: { id: 'pub' } } },
    seat: 'seat-framing',
    bid: { id: `bid-${id}`, impid: '1', price: 1, adm: '<div>ad</div>' },
  }));
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  return registered.body.results.map((result: any) => new URL(result.noticeUrls.adm).pathname);
}

/** The status line of each answer in `answers`, as sent. */
function statusLines(answers: string): string[] {
  return [...answers.matchAll(/HTTP\/1\.1 \d{3} [^\r]*/g)].map((match) => match[0]);
}

/**
 * The answers in `answers`, read as a client reads them, each as its status line and the first six
 * bytes of the body its `Content-Length` gives.
 */
function framedAnswers(answers: string): string[] {
  const framed: string[] = [];
  for (let at = 0; at < answers.length;) {
    const headEnd = answers.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const head = answers.slice(at, headEnd);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const body = answers.slice(headEnd + 4, headEnd + 4 + length);
    framed.push(`${head.split('\r\n')[0]}: ${body.slice(0, 6)}`);
    at = headEnd + 4 + length;
  }
  return framed;
}

/** What the ledger recorded for these auctions, as `<auction>: <outcome>/<reason>`. */
function recorded(auctionIds: readonly string[]): string[] {
  return ledgerEventsOf(tally.dataDir, auctionIds).map(
    (row) => `${row.auction_id}: ${row.outcome}/${row.reason}`,
  );
}

/** Each of these auctions as {@link recorded} gives it once its notice counted. */
function countedEach(auctionIds: readonly string[]): string[] {
  return auctionIds.map((id) => `${id}: counted/`);
}

/** A browser's `GET` of the notice at `path`, with `headers` (each ending in CRLF) besides its own. */
function noticeGet(path: string | undefined, headers = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\n${headers}\r\n`;
}

describe('a notice that comes with a body', () => {
  it('is answered 400 and never recorded when node:http cannot read its body (a Transfer-Encoding other than chunked, a malformed chunk)', async () => {
    const ids = ['te-unknown', 'te-gzip-beacon', 'te-bad-chunk'];
    const [unknownCoding, gzipBeacon, badChunk] = await noticePaths(ids);
    const head = (method: string, path: string | undefined, framing: string) =>
      `${method} ${path} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\n${framing}\r\n\r\n`;
    const answers = [
      await rawExchange(tally.url, head('GET', unknownCoding, 'Transfer-Encoding: xchunked')),
      await rawExchange(tally.url, `${head('POST', gzipBeacon, 'Transfer-Encoding: gzip')}x`),
      await rawExchange(tally.url, `${head('GET', badChunk, 'Transfer-Encoding: chunked')}zz\r\n`),
    ];
    assert.deepEqual(answers.map(statusLines), [
      ['HTTP/1.1 400 Bad Request'],
      ['HTTP/1.1 400 Bad Request'],
      ['HTTP/1.1 400 Bad Request'],
    ]);
    assert.deepEqual(recorded(ids), []);
  });

  it('is answered as counted, not 400, when the client ends its side before its Content-Length body is whole', async () => {
    const ids = ['length-short-beacon', 'length-short-get'];
    const [shortBeacon, shortGet] = await noticePaths(ids);
    const request = (method: string, path: string) =>
      `${method} ${path} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 10\r\n\r\n{}`;
    const answers = [
      await rawExchange(tally.url, request('POST', `${shortBeacon}?f=b`), { halfClose: true }),
      await rawExchange(tally.url, request('GET', `${shortGet}`), { halfClose: true }),
    ];
    // Served from its head, the notice is recorded: its answer is the one it was owed.
    assert.deepEqual(answers.map(statusLines), [['HTTP/1.1 204 No Content'], ['HTTP/1.1 200 OK']]);
    assert.deepEqual(recorded(ids), ['length-short-beacon: counted/', 'length-short-get: counted/']);
  });

  it('is answered as counted, not 400, when pipelined behind a notice still being committed and cut short by its client ending its side', async () => {
    const ids = ['whole-ahead', 'short-behind'];
    const [ahead, behind] = await noticePaths(ids);
    const beacon = (path: string | undefined, body: string) =>
      `POST ${path}?f=b HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 10\r\n\r\n${body}`;
    const answers = await rawExchange(tally.url, beacon(ahead, '0123456789') + beacon(behind, '{}'), {
      halfClose: true,
    });
    // The one behind, served from its head, is recorded: its answer is the one it was owed.
    assert.deepEqual(statusLines(answers), ['HTTP/1.1 204 No Content', 'HTTP/1.1 204 No Content']);
    assert.deepEqual(recorded(ids), ['whole-ahead: counted/', 'short-behind: counted/']);
  });

  it('is counted and answered once its body is read whole, a body that reads like a notice never served as one', async () => {
    const ids = ['chunked-get', 'chunked-inner', 'length-beacon'];
    const [chunkedGet, inner, lengthBeacon] = await noticePaths(ids);
    const innerRequest = noticeGet(inner);
    const chunked =
      noticeGet(chunkedGet, 'Transfer-Encoding: chunked\r\n') +
      `${innerRequest.length.toString(16)}\r\n${innerRequest}\r\n0\r\n\r\n`;
    const beacon = `POST ${lengthBeacon}?f=b HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`;
    const answers = await rawExchange(tally.url, chunked + beacon);
    assert.deepEqual(statusLines(answers), ['HTTP/1.1 200 OK', 'HTTP/1.1 204 No Content']);
    // In either order: the notice with a chunked body is served once the body ends, the beacon
    // behind it at its head; their answers go out in request order all the same.
    assert.deepEqual(recorded(ids).sort(), ['chunked-get: counted/', 'length-beacon: counted/']);
  });

  it('tells a client that waits for it to send its chunked body, then counts and answers its notice', async () => {
    const [beacon] = await noticePaths(['continue-beacon']);
    const socket = connect(tally.port, '127.0.0.1');
    let answers = '';
    socket.on('data', (chunk: Buffer) => (answers += chunk.toString('latin1')));
    try {
      socket.write(
        `POST ${beacon}?f=b HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\n` +
          'Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n',
      );
      await until(() => Promise.resolve(answers.includes('\r\n\r\n')), 'an interim answer');
      assert.deepEqual(statusLines(answers), ['HTTP/1.1 100 Continue']);
      socket.write('2\r\n{}\r\n0\r\n\r\n');
      await until(() => Promise.resolve(statusLines(answers).length === 2), 'the final answer');
      assert.deepEqual(statusLines(answers), ['HTTP/1.1 100 Continue', 'HTTP/1.1 204 No Content']);
      assert.deepEqual(recorded(['continue-beacon']), ['continue-beacon: counted/']);
    } finally {
      socket.destroy();
    }
  });
});

describe('a notice node:http serves, pipelined behind notices the notice lane serves', () => {
  it('is answered and recorded after them when the client half-closed its side after sending them all', async () => {
    const ids = ['lane-served-first', 'lane-served-second', 'beacon-behind-lane'];
    const [first, second, beacon] = await noticePaths(ids);
    const answers = await rawExchange(
      tally.url,
      noticeGet(first) +
        noticeGet(second) +
        `POST ${beacon}?f=b HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 2\r\n\r\n{}`,
      { halfClose: true },
    );
    assert.deepEqual(statusLines(answers), ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 204 No Content']);
    assert.deepEqual(recorded(ids).sort(), countedEach(ids).sort());
  });
});

describe('a notice pipelined behind a notice that asked for 100 Continue', () => {
  it('is answered and recorded once, as is the notice before it', async () => {
    const ids = ['expecting-bodyless', 'behind-expecting'];
    const [expecting, behind] = await noticePaths(ids);
    const answers = await rawExchange(
      tally.url,
      noticeGet(expecting, 'Expect: 100-continue\r\n') + noticeGet(behind),
      { halfClose: true },
    );
    assert.deepEqual(
      statusLines(answers).filter((line) => line !== 'HTTP/1.1 100 Continue'),
      ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'],
    );
    assert.deepEqual(recorded(ids), countedEach(ids));
  });

  it('gets its 100 Continue between whole answers when it waits behind a request node:http serves', async () => {
    const ids = ['ahead-of-expecting', 'expecting-queued'];
    const [ahead, expecting] = await noticePaths(ids);
    const answers = await rawExchange(
      tally.url,
      `POST ${ahead} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 2\r\n\r\n{}` +
        noticeGet(expecting, 'Expect: 100-continue\r\n'),
      { halfClose: true },
    );
    // Each answer's body follows its own head, however the interim answer falls between them.
    assert.deepEqual(
      framedAnswers(answers).filter((answer) => answer !== 'HTTP/1.1 100 Continue: '),
      ['HTTP/1.1 200 OK: GIF89a', 'HTTP/1.1 200 OK: GIF89a'],
    );
    assert.deepEqual(recorded(ids), countedEach(ids));
  });

  it('keeps its connection when it waits behind a request node:http serves, so that the notices pipelined behind it are answered as well as recorded', async () => {
    const ids = ['ahead-of-queued', 'expecting-queued-bodyless', 'behind-queued-expecting'];
    const [ahead, expecting, behind] = await noticePaths(ids);
    const answers = await rawExchange(
      tally.url,
      `POST ${ahead} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\nContent-Length: 2\r\n\r\n{}` +
        noticeGet(expecting, 'Expect: 100-continue\r\n') +
        noticeGet(behind),
      { halfClose: true },
    );
    assert.deepEqual(framedAnswers(answers), [
      'HTTP/1.1 200 OK: GIF89a',
      'HTTP/1.1 100 Continue: ',
      'HTTP/1.1 200 OK: GIF89a',
      'HTTP/1.1 200 OK: GIF89a',
    ]);
    assert.deepEqual(recorded(ids).sort(), countedEach(ids).sort());
  });
});

describe('a notice pipelined behind a request whose answer ends the connection', () => {
  it('is neither answered nor recorded, so that the client sends it again and it counts once', async () => {
    const ids = ['behind-refused-body', 'behind-chunked', 'behind-close', 'behind-lane-and-body'];
    const paths = await noticePaths([...ids, 'lane-first']);
    // Each answered `Connection: close`: a body not yet read when the answer is written (a call
    // refused 401 before its body, a health check that reads none), or a client's own `close`.
    const leads = [
      'POST /v1/wins HTTP/1.1\r\nHost: tally\r\nContent-Length: 2\r\n\r\n{}',
      'GET /healthz HTTP/1.1\r\nHost: tally\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n',
      `${noticeGet(paths[4])}POST /v1/wins HTTP/1.1\r\nHost: tally\r\nContent-Length: 2\r\n\r\n{}`,
    ];
    const answers: string[][] = [];
    for (const [index, lead] of leads.entries()) {
      answers.push(statusLines(await rawExchange(tally.url, lead + noticeGet(paths[index]))));
    }
    assert.deepEqual(answers, [
      ['HTTP/1.1 401 Unauthorized'],
      ['HTTP/1.1 200 OK'],
      ['HTTP/1.1 200 OK'],
      ['HTTP/1.1 200 OK', 'HTTP/1.1 401 Unauthorized'],
    ]);
    assert.deepEqual(recorded(ids), []);
    for (const path of paths.slice(0, 4)) {
      assert.deepEqual(statusLines(await rawExchange(tally.url, noticeGet(path), { halfClose: true })), [
        'HTTP/1.1 200 OK',
      ]);
    }
    assert.deepEqual(recorded(ids).sort(), countedEach(ids).sort());
  });
});

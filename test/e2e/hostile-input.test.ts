import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { rawExchange } from '../support/raw-http.js';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { hourStartMs } from '../../src/lib/time.js';
import { OPENAPI_DOCUMENT } from '../../src/control/openapi.js';

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

describe('hostile input on the hot path and the API', () => {
  it('never answers a server error to arbitrary notice and tracker URLs or agents', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/n/', '/n/AQE', '/imptr?', '/imptr?id=1&redir=', '/clktr?code='),
        fc.string({ unit: 'binary', maxLength: 120 }),
        fc.string({ maxLength: 60 }),
        async (prefix, tail, userAgent) => {
          const response = await fetch(`${tally.url}${prefix}${encodeURI(tail).replace(/#/g, '%23')}`, {
            headers: { 'user-agent': userAgent.replace(/[^\x20-\x7e]/g, '') },
            redirect: 'manual',
          });
          await response.arrayBuffer();
          assert.ok(response.status < 500, `${response.status} for ${prefix}${tail}`);
        },
      ),
      { numRuns: 200 },
    );
    assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
  });

  it('answers a malformed request pipelined behind a tracker hit 400, after the hit, when the client half-closed', async () => {
    // The API request first hands the connection to node:http; the hit's answer is settled by a
    // group commit, after the malformed request behind it was read and the client's side ended.
    const hit = 'GET /imptr?id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 Chrome/120\r\n\r\n';
    for (const malformed of [
      'GET /imptr?id=1&cache\x0bbuster=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n',
    ]) {
      const answer = await rawExchange(
        tally.url,
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n${hit}${malformed}`,
        { halfClose: true },
      );
      const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
      const codes = [...answer.matchAll(/"code":"(\w+)"/g)].map((match) => match[1]);
      assert.deepEqual(
        [statuses, codes],
        [
          ['200', '200', malformed.startsWith('CONNECT') ? '405' : '400'],
          [malformed.startsWith('CONNECT') ? 'METHOD_NOT_ALLOWED' : 'MALFORMED_REQUEST'],
        ],
        answer,
      );
    }
  });

  it('answers a malformed request, a CONNECT or an API call pipelined behind hits the notice lane serves, after the hits, when the client half-closed', async () => {
    // The lane serves the hits; what follows them goes to node:http once their answers are
    // written, after the client ended its side.
    const hit = 'GET /imptr?id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 Chrome/120\r\n\r\n';
    const answered: string[][] = [];
    for (const behind of [
      'GET /imptr?id=1&cache\x0bbuster=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n',
      'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    ]) {
      const answer = await rawExchange(tally.url, `${hit}${hit}${behind}`, { halfClose: true });
      answered.push([...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1] ?? ''));
    }
    assert.deepEqual(answered, [
      ['200', '200', '400'],
      ['200', '200', '400'],
      ['200', '200', '405'],
      ['200', '200', '200'],
    ]);
  });

  it('answers every request of a pipelined sequence, malformed ones included, or says Connection: close before it stops (seeded)', async () => {
    const UA = 'User-Agent: Mozilla/5.0 Chrome/120\r\n';
    const key = `Authorization: Bearer ${tally.adminKey}\r\n`;
    const requests = [
      'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      `GET /v1/advertisers HTTP/1.1\r\nHost: 127.0.0.1\r\n${key}\r\n`,
      `POST /v1/advertisers HTTP/1.1\r\nHost: 127.0.0.1\r\n${key}Content-Type: application/json\r\nContent-Length: 1\r\n\r\n{`,
      `GET /imptr?id=1&cachebuster=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${UA}\r\n`,
      `POST /clktr?id=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n${UA}Content-Length: 2\r\n\r\n{}`,
      `GET /n/AQEnotatoken HTTP/1.1\r\nHost: 127.0.0.1\r\n${UA}\r\n`,
      `GET /n/AQEnotatoken HTTP/1.0\r\nHost: 127.0.0.1\r\n${UA}\r\n`,
      `GET /imptr?id=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${UA}Connection: close\r\n\r\n`,
      `GET /imptr?id=1&cache\x0bbuster HTTP/1.1\r\nHost: 127.0.0.1\r\n${UA}\r\n`,
      'GET /healthz HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n',
      'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n',
    ];
    const CLOSING = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: requests.length - 1 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (picked, halfClose) => {
          // The last request closes the connection, whether or not the client half-closes too.
          const sent = `${picked.map((index) => requests[index]).join('')}${CLOSING}`;
          const answers = answerHeads(await rawExchange(tally.url, sent, { halfClose }));
          const statuses = answers.map((head) => Number(head.slice(9, 12)));
          assert.deepEqual(
            [
              statuses.filter((status) => status >= 500),
              answers.length === picked.length + 1 || /\r\nConnection: close/i.test(answers.at(-1) ?? ''),
            ],
            [[], true],
            `${JSON.stringify(sent)} (half-closed: ${halfClose}) answered ${statuses.join(', ')}`,
          );
        },
      ),
      { seed: 20261207, numRuns: 150 },
    );
    assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
  });

  it('answers arbitrary JSON bodies on the API with a 4xx envelope, never a 5xx', async () => {
    const paths = [
      '/v1/wins',
      '/v1/advertisers',
      '/v1/line-items',
      '/v1/payment-rules',
      '/v1/impression-trackers',
      '/v1/api-keys',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 }), async (path, body) => {
        const response = await api(tally, tally.adminKey, 'POST', path, body);
        assert.ok(
          response.status < 500,
          `${response.status} for ${path} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`,
        );
        if (response.status >= 400) {
          assert.equal(typeof response.body.error.code, 'string');
          assert.equal(typeof response.body.error.requestId, 'string');
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a body in a charset other than UTF-8, or in UTF-16, on every operation that takes a body, before reading it as anything else', async () => {
    const paths = OPENAPI_DOCUMENT.paths as Record<string, Record<string, { requestBody?: unknown }>>;
    const operations = Object.entries(paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, operation]) => operation.requestBody !== undefined)
        .map(([method]) => ({
          method: method.toUpperCase(),
          path: path.replace(/\{\w+\}/g, '1'),
        })),
    );
    // The wins, the catalog writes, a new API key, the allow-list and the tag exports.
    assert.ok(operations.length >= 26, JSON.stringify(operations));
    const sent = [
      ['application/json; charset=iso-8859-1', Buffer.from('{"name":"café"}', 'latin1'), 415],
      ['application/json; charset=utf-16', Buffer.from('{"name":"cafe"}', 'utf16le'), 415],
      ['application/json', Buffer.from('{"name":"cafe"}', 'utf16le'), 400],
    ] as const;
    for (const { method, path } of operations) {
      for (const [type, body, status] of sent) {
        const response = await fetch(`${tally.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${tally.adminKey}`, 'content-type': type },
          body,
        });
        const answer = (await response.json()) as { error: { code: string; message: string } };
        assert.deepEqual(
          [response.status, answer.error.code, answer.error.message.includes('UTF-8')],
          [status, status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'INVALID_JSON', true],
          `${method} ${path} ${type}: ${answer.error.message}`,
        );
      }
    }
  });

  it('answers wins with hostile shapes one by one, never failing the batch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 5 }), async (wins) => {
        const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(response.body.results.length, wins.length);
      }),
      { numRuns: 100 },
    );
  });

  it('counts wins whose publisher ids and seats are named like object properties, each under its own name', async () => {
    const wins = ['constructor', 'toString', '__proto__'].map((name, index) => ({
      request: { id: `proto-${index}`, imp: [{ id: '1', banner: {} }], site: { publisher: { id: name } } },
      seat: name,
      bid: {
        id: 'b',
        impid: '1',
        price: 1,
        adm: '<p>${AUCTION_PRICE:BF}</p>',
        burl: 'http://127.0.0.1:9/b?p=${AUCTION_PRICE:BF}',
      },
    }));
    const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    for (const result of response.body.results) {
      assert.equal(result.ok, true, JSON.stringify(result));
      const notice = await fetch(result.noticeUrls.adm, {
        headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0' },
      });
      assert.equal(notice.status, 200);
    }
    // The answer is the same whatever the outcome: the report shows that each one counted, under
    // its own seat and publisher.
    const hourMs = hourStartMs(Date.now());
    const from = new Date(hourMs - 86_400_000).toISOString();
    const to = new Date(hourMs + 3_600_000).toISOString();
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?from=${from}&to=${to}&groupBy=seat,publisher,outcome`,
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    const rows = report.body.rows
      .filter((row: any) => ['constructor', 'toString', '__proto__'].includes(row.seat))
      .map((row: any) => [row.seat, row.publisher, row.outcome, row.events]);
    assert.deepEqual(rows.sort(), [
      ['__proto__', '__proto__', 'counted', 1],
      ['constructor', 'constructor', 'counted', 1],
      ['toString', 'toString', 'counted', 1],
    ]);
  });
});

/** The heads of the final answers in `raw` (interim 1xx skipped), each body skipped by its length. */
function answerHeads(raw: string): string[] {
  const heads: string[] = [];
  for (let rest = raw; rest.startsWith('HTTP/1.1 ');) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) break;
    const head = rest.slice(0, end);
    const length = Number(/\r\nContent-Length: (\d+)/i.exec(head)?.[1] ?? 0);
    rest = rest.slice(end + 4 + (/^HTTP\/1\.1 1\d\d /.test(head) ? 0 : length));
    if (!/^HTTP\/1\.1 1\d\d /.test(head)) heads.push(head);
  }
  return heads;
}

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import type { KeyScope, Role } from '../ports/accounts.js';
import type { Principal } from './auth.js';
import { hashApiKey, newApiKey, requireAccountWide, requireRole } from './auth.js';
import type { Route } from './http.js';
import { ApiError, MAX_BODY_DEPTH, parseJsonBody, readJson, Router, sendJson } from './http.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { rawExchange } from '../../test/support/raw-http.js';

/** Most bytes the test route's body may have. */
const MAX_BYTES = 100;

/** How many times the body route began reading a body. */
let bodiesBeingRead = 0;

/** Routes that show what the control plane's routing, auth and body reading did. */
const routes: Route[] = [
  {
    method: 'GET',
    path: '/v1/things/:name',
    readsQuery: true,
    handler: (ctx) =>
      sendJson(ctx.res, 200, { name: ctx.params.name, principal: ctx.principal }, ctx.requestId),
  },
  {
    method: 'POST',
    path: '/v1/bodies',
    async handler(ctx) {
      bodiesBeingRead++;
      sendJson(ctx.res, 200, { body: await readJson(ctx.req, MAX_BYTES) }, ctx.requestId);
    },
  },
  {
    method: 'GET',
    path: '/v1/no-query',
    ignoresQuery: true,
    handler: (ctx) => sendJson(ctx.res, 200, { ok: true }, ctx.requestId),
  },
  {
    method: 'GET',
    path: '/v1/half',
    handler(ctx) {
      ctx.res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '10' });
      ctx.res.write('abc');
      throw new Error('failed after the answer began');
    },
  },
  {
    method: 'GET',
    path: '/v1/broken',
    handler() {
      throw new Error('SQLITE_CORRUPT at /var/lib/tally/secret.db');
    },
  },
  {
    method: 'GET',
    path: '/v1/disk-full',
    handler() {
      // Fault injection: SQLite's own error for a write to a full disk.
      throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    },
  },
];

const dir = mkdtempSync(join(tmpdir(), 'tally-http-'));
const db = openSqlite(join(dir, 'tally.db'));
const accounts = new SqliteAccountStore(db);
let server: ApiServer;
let base = '';

/** Stores a new key of the operator account with `role` and `scope`; returns the key. */
function keyFor(role: Role, scope: KeyScope | null = null): string {
  const { key, hash, prefix } = newApiKey();
  accounts.addKey(1, hash, prefix, role, role, scope, Date.now());
  return key;
}

let editorKey = '';

before(async () => {
  accounts.createAccount('operator', Date.now());
  editorKey = keyFor('editor');
  server = await serveApi(routes, accounts);
  base = server.base;
});

after(async () => {
  await server.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function call(path: string, init: RequestInit = {}, key = editorKey): Promise<Response> {
  return fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.headers as Record<string, string> | undefined) },
  });
}

async function errorOf(response: Response): Promise<[number, string]> {
  const body = (await response.json()) as { error: { code: string } };
  return [response.status, body.error.code];
}

/** POSTs `body` to the body route as `application/json` (or `type`). */
function post(body: string, type = 'application/json'): Promise<Response> {
  return call('/v1/bodies', { method: 'POST', body, headers: { 'content-type': type } });
}

/** Sends `head` (and `body`) on a raw connection; resolves with the status line answered within 3 s. */
function rawStatus(head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 3 s; got ${JSON.stringify(answer)}`));
    }, 3000);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer.slice(0, answer.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.write(head + body);
  });
}

/** Sends `head` and `body` on a raw connection; resolves with all that is answered until it closes. */
function rawAnswer(head: string, body: Buffer): Promise<string> {
  return rawExchange(base, Buffer.concat([Buffer.from(head, 'latin1'), body]));
}

/** Nests `levels` arrays (or objects) around 1. */
function nested(levels: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? `${'['.repeat(levels)}1${']'.repeat(levels)}`
    : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

describe('routing API requests', () => {
  it('answers a HEAD like the GET of its path, 405 for a method the path lacks and 404 for a path none has', async () => {
    const head = await call('/v1/things/x', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.deepEqual(await errorOf(await call('/v1/things/x', { method: 'DELETE' })), [
      405,
      'METHOD_NOT_ALLOWED',
    ]);
    assert.deepEqual(await errorOf(await call('/v1/nothing')), [404, 'NOT_FOUND']);
  });

  it('answers a path with a trailing / 404, naming the path without it when that one is served', async () => {
    const slashed = await call('/v1/things/x/');
    const { error } = (await slashed.json()) as { error: { code: string; message: string } };
    assert.deepEqual([slashed.status, error.code], [404, 'NOT_FOUND']);
    assert.equal(
      error.message,
      'no such endpoint: GET /v1/things/x/; send it without the trailing /: /v1/things/x',
    );
    const nothing = (await (await call('/v1/nothing/')).json()) as { error: { message: string } };
    assert.equal(nothing.error.message, 'no such endpoint: GET /v1/nothing/; see /docs for the API');
  });

  it('names the methods a path allows in the 405, in its message and its Allow header', async () => {
    for (const [path, method, allow] of [
      ['/v1/things/x', 'DELETE', 'GET, HEAD'],
      ['/v1/bodies', 'GET', 'POST'],
    ] as const) {
      const refused = await call(path, { method });
      assert.equal(refused.headers.get('allow'), allow, path);
      const { error } = (await refused.json()) as { error: { message: string } };
      assert.equal(error.message, `${method} is not allowed on ${path}; use ${allow}`);
    }
  });

  it('hands a handler its path parameters %-decoded, and refuses a malformed %-escape with 400', async () => {
    const decoded = (await (await call('/v1/things/a%20b%2Fc')).json()) as { name: string };
    assert.equal(decoded.name, 'a b/c');
    const malformed = await call('/v1/things/%E0%A4%A');
    assert.deepEqual(await errorOf(malformed), [400, 'VALIDATION_FAILED']);
  });

  it('refuses a query with a malformed %-escape or one that is not UTF-8, and reads well-formed ones', async () => {
    for (const query of ['?seat=%', '?seat=%zz', '?name=%ff', '?a%=1', '?seat=x%E0%A4%A']) {
      const refused = await call(`/v1/things/x${query}`);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'VALIDATION_FAILED'], query);
      assert.match(
        error.message,
        /has a malformed %-escape or one that is not UTF-8: write % as %25$/,
        query,
      );
    }
    for (const query of ['?seat=%25', '?name=caf%C3%A9+bar', '?seat=a%2Bb&x=', '?plain=1']) {
      assert.equal((await call(`/v1/things/x${query}`)).status, 200, query);
    }
  });

  it('refuses any query parameter on a route that needs a key and reads no query, naming it and the route', async () => {
    const refused = await call('/v1/bodies?dryRun=1&x=2', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    assert.deepEqual([refused.status, error.code], [400, 'VALIDATION_FAILED']);
    assert.equal(error.message, 'unknown parameter "dryRun"; POST /v1/bodies takes no query parameters');
    assert.equal((await call('/v1/things/x?dryRun=1')).status, 200);
  });

  it('answers a route that reads no query whatever its query holds, a malformed %-escape included', async () => {
    for (const query of ['?cb=%%CACHEBUSTER%%', '?%', '?cb=%ff', '?a%=1']) {
      assert.equal((await call(`/v1/no-query${query}`)).status, 200, query);
    }
  });
});

describe('the methods a router takes', () => {
  it('lists each method its routes take once, in the order added, with HEAD beside each GET', () => {
    const router = new Router();
    const handler = () => undefined;
    router.add(
      { method: 'POST', path: '/a', handler },
      { method: 'GET', path: '/a', handler },
      { method: 'DELETE', path: '/b/:id', handler },
      { method: 'GET', path: '/b/:id', handler },
      { method: 'POST', path: '/b', handler },
    );
    assert.deepEqual(router.methods(), ['POST', 'GET', 'HEAD', 'DELETE']);
  });
});

describe('request ids and answers', () => {
  it('repeats a caller’s X-Request-Id of 1 to 128 letters, digits, _, . or -, in the header and the error envelope, and replaces any other with a UUID', async () => {
    const longest = `a.b-${'_'.repeat(124)}`;
    for (const given of ['r-1.x_2', longest]) {
      const ok = await call('/v1/things/x', { headers: { 'x-request-id': given } });
      assert.equal(ok.headers.get('x-request-id'), given);
      const failed = await call('/v1/nothing', { headers: { 'x-request-id': given } });
      assert.equal(failed.headers.get('x-request-id'), given);
      assert.equal(((await failed.json()) as { error: { requestId: string } }).error.requestId, given);
    }
    for (const given of [`${longest}x`, 'has space', 'quote"d', 'semi;colon']) {
      const answer = await call('/v1/nothing', { headers: { 'x-request-id': given } });
      const id = answer.headers.get('x-request-id') ?? '';
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, given);
      assert.equal(((await answer.json()) as { error: { requestId: string } }).error.requestId, id);
    }
  });

  it('answers JSON as uncacheable, errors too', async () => {
    for (const path of ['/v1/things/x', '/v1/nothing']) {
      const answer = await call(path);
      assert.equal(answer.headers.get('cache-control'), 'no-store', path);
      assert.equal(answer.headers.get('content-type'), 'application/json; charset=utf-8', path);
    }
  });

  it('answers an unexpected failure 500 INTERNAL without repeating its message, which may name internals', async () => {
    const answer = await call('/v1/broken');
    const body = (await answer.json()) as { error: { code: string; message: string } };
    assert.equal(answer.status, 500);
    assert.equal(body.error.code, 'INTERNAL');
    assert.doesNotMatch(body.error.message, /SQLITE|secret/);
  });

  it('answers a write its database cannot take for a full disk 503 UNAVAILABLE, saying so, to retry once space is freed, not 500', async () => {
    const answer = await call('/v1/disk-full');
    const body = (await answer.json()) as { error: { code: string; message: string } };
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get('retry-after'), '1');
    assert.equal(body.error.code, 'UNAVAILABLE');
    assert.equal(
      body.error.message,
      'Tally cannot write its database: its disk is full (logged as request_failed); retry once space is freed on it',
    );
  });

  it('logs a client that went away in the middle of its body as aborted, not as an error of the server', async () => {
    const before = server.logged.length;
    const reading = bodiesBeingRead;
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.write(
      'POST /v1/bodies HTTP/1.1\r\nHost: tally.test\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${editorKey}\r\nContent-Length: 50\r\n\r\n{"a":`,
    );
    // Gone once the handler reads the body, however long the server took to get there.
    for (let waited = 0; bodiesBeingRead === reading && waited < 5000; waited += 5)
      await new Promise((resolve) => setTimeout(resolve, 5));
    socket.destroy();
    for (let waited = 0; server.logged.length === before && waited < 2000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const logged = server.logged.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      logged.map((line) => [line.level, line.event, line.path]),
      [['info', 'request_aborted', '/v1/bodies']],
    );
  });

  it('ends the connection of an answer that failed after it began, rather than writing a second answer', async () => {
    // A second answer would never come, nor the connection end: the client gives up after 3 s.
    await assert.rejects(
      async () => (await call('/v1/half', { signal: AbortSignal.timeout(3000) })).text(),
      /fetch failed|terminated/,
    );
    assert.equal((await call('/v1/things/x')).status, 200, 'the server serves on');
  });
});

describe('reading JSON bodies', () => {
  it('reads a body of exactly the limit, whether its length is declared or it comes chunked', async () => {
    const exact = JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 8) });
    assert.equal(Buffer.byteLength(exact), MAX_BYTES);
    assert.equal((await post(exact)).status, 200);
    const chunked = await call('/v1/bodies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([exact]).stream(),
      duplex: 'half',
    });
    assert.equal(chunked.status, 200);
  });

  it('refuses a body one byte over the limit with 413, whether its length is declared or it comes chunked', async () => {
    const over = JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 7) });
    const refused = await post(over);
    assert.equal(
      ((await refused.clone().json()) as { error: { message: string } }).error.message,
      `the body is larger than ${MAX_BYTES} bytes, the limit for this request: send a smaller one`,
    );
    assert.deepEqual(await errorOf(refused), [413, 'BODY_TOO_LARGE']);
    const chunked = await call('/v1/bodies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([over]).stream(),
      duplex: 'half',
    });
    assert.deepEqual(await errorOf(chunked), [413, 'BODY_TOO_LARGE']);
  });

  it('refuses a body declared too large at once, without waiting for it to arrive', async () => {
    const head =
      'POST /v1/bodies HTTP/1.1\r\nHost: tally.test\r\nContent-Type: application/json\r\n' +
      `Authorization: Bearer ${editorKey}\r\nContent-Length: ${MAX_BYTES + 1}\r\n\r\n`;
    assert.equal(await rawStatus(head, '{"a":'), 'HTTP/1.1 413 Payload Too Large');
  });

  it('reads application/json and any +json type, in any case and with parameters, and refuses other types with 415', async () => {
    for (const type of [
      'application/json',
      'Application/JSON; charset=utf-8',
      'application/merge-patch+json',
      'application/vnd.api+json;charset=utf-8',
      'application/json ; charset=utf-8',
    ]) {
      assert.equal((await post('{"a":1}', type)).status, 200, type);
    }
    for (const type of [
      'text/plain',
      'application/jsonp',
      'application/json-seq',
      'application/json.x',
      'application/x+json/x',
      'text/x-application/json',
      'application/x-www-form-urlencoded',
    ]) {
      assert.deepEqual(await errorOf(await post('{"a":1}', type)), [415, 'UNSUPPORTED_MEDIA_TYPE'], type);
    }
  });

  it('refuses a body that is not JSON with 400 INVALID_JSON', async () => {
    assert.deepEqual(await errorOf(await post('{"a":')), [400, 'INVALID_JSON']);
  });

  it('refuses an empty body with 400 INVALID_JSON saying it is empty, not with the JSON parser’s words', async () => {
    for (const body of ['', ' \r\n']) {
      const response = await post(body);
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.deepEqual(
        [error.code, error.message],
        ['INVALID_JSON', 'the body is empty: send a JSON object (Content-Type: application/json)'],
        JSON.stringify(body),
      );
    }
  });

  it('tells a short body that is not JSON, such as a lone `{`, that it is not valid JSON rather than empty', async () => {
    for (const body of ['{', ' x ']) {
      const response = await post(body);
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'INVALID_JSON');
      assert.match(error.message, /^the body is not valid JSON: /, JSON.stringify(body));
    }
  });

  it('refuses a body that is not UTF-8 with 400 INVALID_JSON, rather than read two different ids as one', async () => {
    for (const bytes of [[0xff], [0xfe], [0xc3], [0xed, 0xa0, 0x80]]) {
      const body = Buffer.concat([Buffer.from('{"a":"x'), Buffer.from(bytes), Buffer.from('"}')]);
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'INVALID_JSON'], String(bytes));
      assert.match(error.message, /not valid UTF-8.*send JSON encoded in UTF-8/);
    }
    const accepted = await post('{"a":"é € 😀"}');
    assert.deepEqual(await accepted.json(), { body: { a: 'é € 😀' } });
  });

  it('reads a body that starts with a UTF-8 byte order mark, as a Windows editor saves it, as the JSON after it (RFC 8259 §8.1)', async () => {
    const accepted = await call('/v1/bodies', {
      method: 'POST',
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"\ufeffb"}')]),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(accepted.status, 200);
    // Only the mark that begins the body: one inside a string is the string's.
    assert.deepEqual(await accepted.json(), { body: { a: '\ufeffb' } });
  });

  it('refuses a string value or key holding an unpaired surrogate escape, naming it, and reads paired ones', () => {
    for (const [body, shown] of [
      ['{"a":"x\\ud800"}', '"x\\ud800"'],
      ['{"a":["\\udc00y"]}', '"\\udc00y"'],
      ['{"x\\udbff":1}', '"x\\udbff"'],
      ['{"a":"\\ude00\\ud83d"}', '"\\ude00\\ud83d"'],
    ] as const) {
      assert.throws(
        () => parseJsonBody(body),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === 400 &&
          error.code === 'INVALID_JSON' &&
          error.message.includes(`unpaired surrogate escape (${shown})`),
        body,
      );
    }
    assert.deepEqual(parseJsonBody('{"a":"\\ud83d\\ude00"}'), { a: '😀' });
  });

  it('refuses a body with a transfer coding besides chunked (gzip, chunked) with 415, naming it, and reads chunked alone', async () => {
    const json = Buffer.from('{"a":1}');
    const gzipped = gzipSync(json);
    for (const [codings, body] of [
      ['gzip, chunked', gzipped],
      ['gzip, chunked', json],
      ['GZIP ,chunked', json],
      ['deflate,chunked', json],
    ] as const) {
      const answer = await rawAnswer(
        'POST /v1/bodies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
          `Authorization: Bearer ${editorKey}\r\nContent-Type: application/json\r\n` +
          `Transfer-Encoding: ${codings}\r\n\r\n`,
        Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]),
      );
      assert.match(answer, /^HTTP\/1\.1 415 /, codings);
      const { error } = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        error: { code: string; message: string };
      };
      assert.equal(error.code, 'UNSUPPORTED_MEDIA_TYPE');
      const coding = codings.split(',')[0]?.trim() ?? '';
      assert.match(error.message, new RegExp(`^a body with Transfer-Encoding ${coding} cannot be read: `));
    }
    const chunked = await rawAnswer(
      'POST /v1/bodies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
        `Authorization: Bearer ${editorKey}\r\nContent-Type: application/json\r\n` +
        'Transfer-Encoding: chunked\r\n\r\n',
      Buffer.from(`${json.length.toString(16)}\r\n${json.toString()}\r\n0\r\n\r\n`),
    );
    assert.match(chunked, /^HTTP\/1\.1 200 [^]*\{"body":\{"a":1\}\}$/);
  });

  it('reads a gzip-compressed body (Content-Encoding gzip or x-gzip, in any case) as the JSON it holds', async () => {
    for (const coding of ['gzip', 'x-gzip', 'GZip']) {
      const read = await call('/v1/bodies', {
        method: 'POST',
        body: gzipSync('{"a":"é"}'),
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
      });
      assert.deepEqual([read.status, await read.json()], [200, { body: { a: 'é' } }], coding);
    }
  });

  it('refuses a body in another content coding (br, deflate, gzip twice) with 415, naming the codings it reads', async () => {
    for (const coding of ['br', 'deflate', 'gzip, gzip', 'compress']) {
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE'], coding);
      assert.equal(
        error.message,
        `a body with Content-Encoding ${coding} cannot be read: send it compressed with Content-Encoding: gzip, or uncompressed without Content-Encoding`,
      );
    }
  });

  it('refuses a body labelled gzip that is not gzip, or is cut short, with 400 INVALID_JSON saying so', async () => {
    const whole = gzipSync('{"a":1}');
    for (const body of [Buffer.from('{"a":1}'), whole.subarray(0, whole.length - 4)]) {
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'INVALID_JSON']);
      assert.match(
        error.message,
        /^the body is not whole gzip data \(.+\): send it compressed whole with gzip, or uncompressed without Content-Encoding$/,
      );
    }
  });

  it('holds a gzip body to the limit once uncompressed: exactly the limit is read, a byte over refused 413', async () => {
    const exact = JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 8) });
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const read = await call('/v1/bodies', { method: 'POST', body: gzipSync(exact), headers });
    assert.equal(read.status, 200);
    const over = gzipSync(JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 7) }));
    assert.equal(over.length < MAX_BYTES, true, 'the compressed body is within the limit');
    const refused = await call('/v1/bodies', { method: 'POST', body: over, headers });
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    assert.deepEqual(
      [refused.status, error.code, error.message],
      [
        413,
        'BODY_TOO_LARGE',
        `the body is larger than ${MAX_BYTES} bytes once uncompressed, the limit for this request: send a smaller one`,
      ],
    );
  });

  it('reads any charset label on UTF-8 text, and Content-Encoding identity as none', async () => {
    // RFC 8259 defines no charset for JSON; clients label ASCII bodies ISO-8859-1 (old Spring),
    // which reads as in UTF-8. A byte beyond ASCII in such a body is refused (see below).
    for (const charset of ['ISO-8859-1', 'us-ascii', 'windows-1252', '']) {
      assert.equal((await post('{"a":1}', `application/json;charset=${charset}`)).status, 200, charset);
    }
    const identity = await call('/v1/bodies', {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json; charset="UTF8"', 'content-encoding': 'identity' },
    });
    assert.equal(identity.status, 200);
  });

  it('refuses a body declared in UTF-16, UTF-32 or a 7-bit shifting charset (UTF-7, HZ, ISO-2022) with 415 naming the charset, even when all its bytes are ASCII', async () => {
    // In UTF-7 '+-' is '+': '{"a":"1+-2"}' means {"a":"1+2"}, and read as UTF-8 would be stored otherwise.
    for (const charset of ['utf-16', 'UTF-16LE', '"utf-32"', 'ucs-2', 'UTF-7', 'HZ-GB-2312', 'iso-2022-jp']) {
      const refused = await post('{"a":"1+-2"}', `application/json; charset=${charset}`);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE'], charset);
      assert.equal(
        error.message,
        `the body is declared charset=${JSON.stringify(charset.replace(/"/g, ''))}, which Tally does not read: ` +
          'send it encoded in UTF-8, with Content-Type: application/json; charset=utf-8 (or no charset)',
      );
    }
  });

  it('refuses a body declared in a charset other than UTF-8 that holds a byte beyond ASCII with 415, rather than read é as something else', async () => {
    const latin1 = Buffer.from('{"name":"café"}', 'latin1');
    const utf8 = Buffer.from('{"name":"café"}', 'utf8');
    for (const [charset, body] of [
      ['iso-8859-1', latin1],
      ['"ISO-8859-1"', utf8],
      ['windows-1252', utf8],
      ['us-ascii', utf8],
    ] as const) {
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body,
        headers: { 'content-type': `application/json;charset=${charset}` },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE'], charset);
      assert.equal(
        error.message,
        `the body is declared charset=${JSON.stringify(charset.replace(/"/g, ''))} but holds bytes beyond ASCII ` +
          `(0x${body[12]?.toString(16).toUpperCase()} at byte 12), which read otherwise in it than in UTF-8, the one charset ` +
          'Tally reads: send it encoded in UTF-8, with Content-Type: application/json; charset=utf-8 (or no charset)',
      );
    }
    for (const charset of ['utf-8', 'UTF8', '"Utf-8"', 'utf-8; charset=utf8']) {
      const accepted = await call('/v1/bodies', {
        method: 'POST',
        body: utf8,
        headers: { 'content-type': `application/json; charset=${charset}` },
      });
      assert.deepEqual(await accepted.json(), { body: { name: 'café' } }, charset);
    }
    // Its first byte too: a UTF-8 byte order mark so declared is not dropped as in a UTF-8 body.
    const marked = await call('/v1/bodies', {
      method: 'POST',
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]),
      headers: { 'content-type': 'application/json; charset=iso-8859-1' },
    });
    const { error } = (await marked.json()) as { error: { code: string; message: string } };
    assert.deepEqual([marked.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    assert.match(error.message, /but holds bytes beyond ASCII \(0xEF at byte 0\)/);
  });

  /** The status, code and message a JSON route answers `body` sent as application/json with. */
  const refusalOf = async (body: Buffer): Promise<[number, string, string]> => {
    const refused = await call('/v1/bodies', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    return [refused.status, error.code, error.message];
  };

  it('tells a body in UTF-16 or UTF-32 without a byte order mark that it looks so, by its NUL bytes (RFC 4627 §3), not with the JSON parser’s words', async () => {
    const text = '{"a":1}';
    const utf16le = Buffer.from(text, 'utf16le');
    const utf32le = Buffer.from([...text].flatMap((char) => [char.charCodeAt(0), 0, 0, 0]));
    for (const [encoding, body, head] of [
      ['UTF-16LE', utf16le, '7B 00 22 00'],
      ['UTF-16BE', Buffer.from(utf16le).swap16(), '00 7B 00 22'],
      ['UTF-32LE', utf32le, '7B 00 00 00'],
      ['UTF-32BE', Buffer.from(utf32le).swap32(), '00 00 00 7B'],
      ['UTF-16LE', Buffer.from('1', 'utf16le'), '31 00'],
      // A second character whose low byte is 0 (U+4E00) is no UTF-32 for its NUL third byte.
      ['UTF-16LE', Buffer.from('"\u4e00"', 'utf16le'), '22 00 00 4E'],
    ] as const) {
      assert.deepEqual(
        await refusalOf(body),
        [
          400,
          'INVALID_JSON',
          `the body looks ${encoding} encoded (NUL bytes among its first four, ${head}), which Tally does not read: send JSON encoded in UTF-8`,
        ],
        encoding,
      );
    }
  });

  it('tells a UTF-8 body with a NUL byte after its first two characters (a C string’s terminator) that it is not valid JSON, not that it looks UTF-16 or UTF-32', async () => {
    // In UTF-16 or UTF-32 the first character, ASCII in any JSON text, puts NUL in byte 0 or 1.
    for (const [body, position] of [
      ['{}\u0000', 2],
      ['[1\u0000]', 2],
      ['{"a\u0000":1}', 3],
    ] as const) {
      const refused = await post(body, 'application/json');
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'INVALID_JSON'], JSON.stringify(body));
      assert.match(error.message, new RegExp(`^the body is not valid JSON: .* at position ${position}`));
    }
  });

  it('tells a body that begins with a UTF-16 or UTF-32 byte order mark that it looks so, not only that it is not UTF-8', async () => {
    const text = Buffer.from('{"a":1}', 'utf16le');
    for (const [encoding, body, mark] of [
      ['UTF-16LE', Buffer.concat([Buffer.from([0xff, 0xfe]), text]), 'FF FE'],
      ['UTF-16BE', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text).swap16()]), 'FE FF'],
      ['UTF-32LE', Buffer.from([0xff, 0xfe, 0, 0, 0x31, 0, 0, 0]), 'FF FE 00 00'],
      ['UTF-32BE', Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x31]), '00 00 FE FF'],
    ] as const) {
      assert.deepEqual(
        await refusalOf(body),
        [
          400,
          'INVALID_JSON',
          `the body looks ${encoding} encoded (it begins with the byte order mark ${mark}), which Tally does not read: send JSON encoded in UTF-8`,
        ],
        encoding,
      );
    }
  });

  it(`reads arrays and objects nested ${MAX_BODY_DEPTH} levels deep and refuses them one level deeper`, () => {
    for (const kind of ['array', 'object'] as const) {
      assert.doesNotThrow(() => parseJsonBody(nested(MAX_BODY_DEPTH, kind)), kind);
      assert.throws(
        () => parseJsonBody(nested(MAX_BODY_DEPTH + 1, kind)),
        (error: unknown) =>
          error instanceof ApiError && error.status === 400 && error.code === 'BODY_TOO_DEEP',
        kind,
      );
    }
    assert.equal(MAX_BODY_DEPTH, 64, 'the limit the README documents');
  });
});

describe('authenticating API keys', () => {
  it('takes the key after the Bearer scheme in any case, with the role and scope it was stored with', async () => {
    const scope: KeyScope = { type: 'publisher', id: 3 };
    const key = keyFor('reader', scope);
    for (const header of [`Bearer ${key}`, `bearer ${key}`, `BEARER  ${key} `]) {
      const answer = await fetch(`${base}/v1/things/x`, { headers: { authorization: header } });
      assert.equal(answer.status, 200, header);
      const { principal } = (await answer.json()) as { principal: Record<string, unknown> };
      assert.deepEqual({ ...principal, keyId: 0 }, { accountId: 1, keyId: 0, role: 'reader', scope });
    }
  });

  it('refuses with 401 a missing key, another scheme, an unknown key, and a key followed by anything else, counting each', async () => {
    const key = keyFor('admin');
    const failures = () => /^tally_api_auth_failures_total (\d+)$/m.exec(server.metrics.render())?.[1] ?? '0';
    const before = Number(failures());
    for (const header of [
      undefined,
      `Basic ${key}`,
      'Bearer tally_unknown',
      `Bearer ${key} ${key}`,
      `Bearer ${key}x`,
    ]) {
      const answer = await fetch(`${base}/v1/things/x`, {
        headers: header === undefined ? {} : { authorization: header },
      });
      assert.deepEqual(await errorOf(answer), [401, 'UNAUTHENTICATED'], header);
      // RFC 9110 §11.6.1 and RFC 6750 §3: a 401 says which scheme to use, and whether the token was bad.
      const sent = header !== undefined && /^Bearer \S+$/.test(header);
      assert.equal(
        answer.headers.get('www-authenticate'),
        sent ? 'Bearer realm="tally", error="invalid_token"' : 'Bearer realm="tally"',
        header,
      );
    }
    assert.equal(Number(failures()), before + 5);
    const accepted = await fetch(`${base}/v1/things/x`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(accepted.status, 200);
    assert.equal(Number(failures()), before + 5, 'an accepted key is no failure');
  });

  it('tells a caller whose key is unknown or revoked what to send instead', async () => {
    const answer = await fetch(`${base}/v1/things/x`, { headers: { authorization: 'Bearer tally_unknown' } });
    const body = (await answer.json()) as { error: { message: string } };
    assert.equal(
      body.error.message,
      'the API key is unknown or revoked: send a live key of your account (an administrator creates one with POST /v1/api-keys; a revoked key stays revoked)',
    );
  });

  it('refuses with 401 a request with two Authorization headers, rather than take the first and drop the other unseen', async () => {
    const key = keyFor('admin');
    for (const second of [`Bearer ${key}`, 'Bearer tally_unknown', 'Basic eDp5']) {
      const answer = await rawAnswer(
        `GET /v1/things/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
          `Authorization: Bearer ${key}\r\nAuthorization: ${second}\r\n\r\n`,
        Buffer.alloc(0),
      );
      assert.match(answer, /^HTTP\/1\.1 401 /, second);
      assert.match(answer, /\r\nWWW-Authenticate: Bearer realm="tally"\r\n/i, second);
      assert.match(
        answer,
        /"the request has 2 Authorization headers: send one, Authorization: Bearer <key>"/,
        second,
      );
    }
  });

  it('makes keys of "tally_" and 32 random characters, stores their SHA-256 and shows their first 12 characters', () => {
    const { key, hash, prefix } = newApiKey();
    assert.match(key, /^tally_[A-Za-z0-9_-]{32}$/);
    assert.equal(prefix, key.slice(0, 12));
    assert.equal(hash, createHash('sha256').update(key).digest('hex'));
    assert.equal(hashApiKey(key), hash);
    assert.notEqual(newApiKey().key, key);
  });
});

describe('role and scope checks', () => {
  const principal = (role: Role, scope: KeyScope | null = null): Principal => ({
    accountId: 1,
    keyId: 1,
    role,
    scope,
  });
  const forbidden = (error: unknown) =>
    error instanceof ApiError && error.status === 403 && error.code === 'FORBIDDEN';

  it('lets a role do what it or any lower role may, readers < editors < admins, and refuses the rest with 403', () => {
    const ranks: Role[] = ['reader', 'editor', 'admin'];
    for (const [heldRank, held] of ranks.entries()) {
      for (const [neededRank, needed] of ranks.entries()) {
        const check = () => requireRole(principal(held), needed);
        if (heldRank >= neededRank) assert.doesNotThrow(check, `${held} does ${needed}'s`);
        else assert.throws(check, forbidden, `${held} does not do ${needed}'s`);
      }
    }
  });

  it('words a role refusal as an account-wide one does: yours is a reader key, an editor key', () => {
    const refusal = (held: Role, role: Role): string => {
      try {
        requireRole(principal(held), role);
      } catch (error) {
        assert.ok(forbidden(error), `refused with 403 FORBIDDEN; got ${String(error)}`);
        return (error as ApiError).message;
      }
      assert.fail('not refused');
    };
    assert.equal(refusal('reader', 'editor'), 'this needs a key with the editor role; yours is a reader key');
    assert.equal(refusal('editor', 'admin'), 'this needs a key with the admin role; yours is an editor key');
  });

  it('lets only an account-wide key of the role do account-wide operations, and names all a key lacks in one refusal', () => {
    assert.doesNotThrow(() => requireAccountWide(principal('reader'), 'reader'));
    assert.doesNotThrow(() => requireAccountWide(principal('admin'), 'editor'));
    const refusal = (held: Principal, role: Role): string => {
      try {
        requireAccountWide(held, role);
      } catch (error) {
        assert.ok(forbidden(error), `refused with 403 FORBIDDEN; got ${String(error)}`);
        return (error as ApiError).message;
      }
      assert.fail('not refused');
    };
    assert.equal(
      refusal(principal('admin', { type: 'advertiser', id: 1 }), 'reader'),
      'this needs an account-wide key; yours is a key scoped to advertiser 1',
    );
    assert.equal(
      refusal(principal('reader'), 'editor'),
      'this needs an account-wide key with the editor role; yours is a reader key',
    );
    assert.equal(
      refusal(principal('reader', { type: 'publisher', id: 2 }), 'editor'),
      'this needs an account-wide key with the editor role; yours is a reader key scoped to publisher 2',
    );
    assert.equal(
      refusal(principal('editor', { type: 'publisher', id: 2 }), 'admin'),
      'this needs an account-wide key with the admin role; yours is an editor key scoped to publisher 2',
    );
  });
});

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApiServer } from '../../test/support/api-server.js';
import type { ProbeApi } from '../../test/support/probe-api.js';
import { BUSY_MESSAGE, serveProbeApi } from '../../test/support/probe-api.js';

let api: ProbeApi;
let server: ApiServer;
let base = '';
let editorKey = '';
before(async () => {
  api = await serveProbeApi();
  server = api.server;
  base = api.base;
  editorKey = api.editorKey;
});

after(() => api.close());

const call: ProbeApi['call'] = (...args) => api.call(...args);

describe('routing API requests', () => {
  it('refuses a query with a malformed %-escape or one that is not UTF-8, and reads well-formed ones', async () => {
    for (const query of ['?seat=%', '?seat=%zz', '?name=%ff', '?a%=1', '?seat=x%E0%A4%A']) {
      const refused = await call(`/v1/things/x${query}`);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'VALIDATION_FAILED'], query);
      assert.match(
        error.message,
        /has a malformed %-escape or bytes that are not UTF-8: send text in UTF-8, percent-encoded \(é as %C3%A9\), and a % itself as %25$/,
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

describe('request ids and answers', () => {
  it('logs a client that went away in the middle of its body as aborted, not as an error of the server', async () => {
    const before = server.logged.length;
    const reading = api.bodiesBeingRead();
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.write(
      'POST /v1/bodies HTTP/1.1\r\nHost: tally.test\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${editorKey}\r\nContent-Length: 50\r\n\r\n{"a":`,
    );
    // Gone once the handler reads the body, however long the server took to get there.
    for (let waited = 0; api.bodiesBeingRead() === reading && waited < 5000; waited += 5)
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
});

/** The lines `server` logged since it had logged `before`, each its level, event and `fields`. */
function loggedSince(before: number, fields: readonly string[]): unknown[][] {
  return server
    .linesOf()
    .slice(before)
    .map((line) => [line.level, line.event, ...fields.map((field) => line[field])]);
}

describe('logging refusals and failures', () => {
  it('logs a call refused as Tally is busy (back-pressure, 503 to retry) at warn as request_refused, with its code and message, and not as request_failed', async () => {
    const before = server.logged.length;
    const refused = await call('/v1/busy');
    const { error } = (await refused.json()) as { error: { code: string; requestId: string } };
    assert.deepEqual(
      [refused.status, error.code, refused.headers.get('retry-after')],
      [503, 'UNAVAILABLE', '1'],
    );
    assert.deepEqual(loggedSince(before, ['requestId', 'method', 'path', 'code', 'message']), [
      ['warn', 'request_refused', error.requestId, 'GET', '/v1/busy', 'UNAVAILABLE', BUSY_MESSAGE],
    ]);
  });

  it('logs a write its database cannot take, answered 503 to retry all the same, at error as request_failed: a failure an operator must act on', async () => {
    const before = server.logged.length;
    const failed = await call('/v1/disk-full');
    const { error } = (await failed.json()) as { error: { code: string; requestId: string } };
    assert.deepEqual([failed.status, error.code], [503, 'UNAVAILABLE']);
    assert.deepEqual(loggedSince(before, ['requestId', 'method', 'path', 'error']), [
      [
        'error',
        'request_failed',
        error.requestId,
        'GET',
        '/v1/disk-full',
        'SqliteError: database or disk is full',
      ],
    ]);
  });

  it('logs a fault in Tally, answered 500, at error as request_failed', async () => {
    const before = server.logged.length;
    const failed = await call('/v1/broken');
    const { error } = (await failed.json()) as { error: { code: string; requestId: string } };
    assert.deepEqual([failed.status, error.code], [500, 'INTERNAL']);
    assert.deepEqual(loggedSince(before, ['requestId', 'path']), [
      ['error', 'request_failed', error.requestId, '/v1/broken'],
    ]);
  });
});

describe('counting API calls answered with an error', () => {
  /** How many calls `server` counted as answered with the error `code`. */
  const errors = (code: string): number =>
    Number(
      new RegExp(`^tally_api_errors_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(
        server.metrics.render(),
      )?.[1] ?? 0,
    );

  it('counts each call answered with an error once, by its code, 4xx and 5xx alike, a refusal to retry included, and no call answered 200', async () => {
    const codes = ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_FOUND', 'UNAVAILABLE', 'INTERNAL'];
    const before = codes.map(errors);
    const answers = [
      await call('/v1/things/x?seat=%'),
      await call('/v1/things/x', {}, 'tally_unknown'),
      await call('/v1/nothing'),
      await call('/v1/busy'),
      await call('/v1/disk-full'),
      await call('/v1/broken'),
      await call('/v1/things/x'),
    ];
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [400, 401, 404, 503, 503, 500, 200],
    );
    assert.deepEqual(
      codes.map((code, index) => errors(code) - (before[index] ?? 0)),
      [1, 1, 1, 2, 1],
    );
  });
});

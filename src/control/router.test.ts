import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Router } from './router.js';
import type { ProbeApi } from '../../test/support/probe-api.js';
import { errorOf, serveProbeApi } from '../../test/support/probe-api.js';

let api: ProbeApi;

before(async () => {
  api = await serveProbeApi();
});

after(() => api.close());

const call: ProbeApi['call'] = (...args) => api.call(...args);

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

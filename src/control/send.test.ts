import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProbeApi } from '../../test/support/probe-api.js';
import { serveProbeApi } from '../../test/support/probe-api.js';

let api: ProbeApi;

before(async () => {
  api = await serveProbeApi();
});

after(() => api.close());

const call: ProbeApi['call'] = (...args) => api.call(...args);

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

  it('ends the connection of an answer that failed after it began, rather than writing a second answer', async () => {
    // A second answer would never come, nor the connection end: the client gives up after 3 s.
    await assert.rejects(
      async () => (await call('/v1/half', { signal: AbortSignal.timeout(3000) })).text(),
      /fetch failed|terminated/,
    );
    assert.equal((await call('/v1/things/x')).status, 200, 'the server serves on');
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KeyScope, Role } from '../ports/accounts.js';
import { ApiError } from './api-error.js';
import type { Principal } from './auth.js';
import { hashApiKey, newApiKey, requireAccountWide, requireRole } from './auth.js';
import type { ApiServer } from '../../test/support/api-server.js';
import type { ProbeApi } from '../../test/support/probe-api.js';
import { errorOf, serveProbeApi } from '../../test/support/probe-api.js';

let api: ProbeApi;
let server: ApiServer;
let base = '';
before(async () => {
  api = await serveProbeApi();
  server = api.server;
  base = api.base;
});

after(() => api.close());

const keyFor: ProbeApi['keyFor'] = (...args) => api.keyFor(...args);
const rawAnswer: ProbeApi['rawAnswer'] = (...args) => api.rawAnswer(...args);

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
    const failures = () =>
      /^tally_api_auth_failures_total\{key="api"\} (\d+)$/m.exec(server.metrics.render())?.[1] ?? '0';
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

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { openToken } from '../domain/token.js';
import { threadKeys } from '../thread-keys.js';
import { newApiKey } from './auth.js';
import type { WinRegistrar } from './win-thread/win-thread.js';
import { WinsAbandonedError, WinsBusyError, WinThreads } from './win-thread/win-thread.js';
import { winRoutes } from './wins.js';
import { jsonLogger } from '../lib/log.js';
import { testKeyRing } from '../../test/support/claims.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';

const MAX_BODY_BYTES = 2048;
const ring = testKeyRing();
const dir = mkdtempSync(join(tmpdir(), 'tally-wins-'));
const db = openSqlite(join(dir, 'tally.db'));
const accounts = new SqliteAccountStore(db);
const thread = new WinThreads({
  ...threadKeys(ring, new Map()),
  publicUrl: 'https://tally.example',
  rules: [],
  burlPrivateNetworks: 'deny',
});
/** A wins thread closed before the tests: every call to it fails. */
const closed = new WinThreads({
  ...threadKeys(ring, new Map()),
  publicUrl: 'https://tally.example',
  rules: [],
  burlPrivateNetworks: 'deny',
});
const servers: ApiServer[] = [];
const bases: Record<'open' | 'closed', string> = { open: '', closed: '' };
let rivalKey = '';

/** What the wins routes logged, one JSON object a line. */
const logged: string[] = [];

/** Serves the wins routes over `registrar`, the lines they log kept in `logged`. */
async function serveWins(registrar: WinRegistrar): Promise<ApiServer> {
  const log = jsonLogger((line) => logged.push(line));
  const server = await serveApi(winRoutes(registrar, MAX_BODY_BYTES, log), accounts);
  servers.push(server);
  return server;
}

before(async () => {
  accounts.createAccount('operator', Date.now());
  accounts.createAccount('rival', Date.now());
  const { key, hash, prefix } = newApiKey();
  accounts.addKey(2, hash, prefix, 'editor', 'editor', null, Date.now());
  rivalKey = key;
  await closed.close();
  bases.open = (await serveWins(thread)).base;
  bases.closed = (await serveWins(closed)).base;
});

after(async () => {
  for (const server of servers) await server.close();
  await thread.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const win = {
  request: { id: 'auction-9', imp: [{ id: '1', banner: {} }], site: {} },
  seat: 's1',
  bid: { id: 'b1', impid: '1', price: 1, adm: '<p>ad</p>' },
};

async function register(
  base: string,
  body: string | Buffer,
): Promise<{ status: number; body: any; retryAfter: string | null }> {
  const response = await fetch(`${base}/v1/wins`, {
    method: 'POST',
    headers: { authorization: `Bearer ${rivalKey}`, 'content-type': 'application/json' },
    body,
  });
  return {
    status: response.status,
    body: await response.json(),
    retryAfter: response.headers.get('retry-after'),
  };
}

describe('POST /v1/wins', () => {
  it('seals the caller’s account into the notice URLs, so that their notices count for it', async () => {
    const answer = await register(bases.open, JSON.stringify({ wins: [win] }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const token = (answer.body.results[0].noticeUrls.adm as string).split('/').at(-1) ?? '';
    const opened = openToken(token, ring);
    assert.ok(opened.ok, `the notice token opens; got ${JSON.stringify(opened)}`);
    assert.deepEqual([opened.claims.accountId, opened.claims.auctionId], [2, 'auction-9']);
  });

  it('refuses a body over the server’s limit with 413 before registering anything', async () => {
    const padded = JSON.stringify({ wins: [{ ...win, pad: 'x'.repeat(MAX_BODY_BYTES) }] });
    assert.ok(
      padded.length < 2 * MAX_BODY_BYTES,
      `the body is past the limit by less than twice: ${padded.length} bytes`,
    );
    const answer = await register(bases.open, padded);
    assert.deepEqual([answer.status, answer.body.error.code], [413, 'BODY_TOO_LARGE']);
    assert.equal(
      answer.body.error.message,
      `the body is larger than ${MAX_BODY_BYTES} bytes, the limit for this request: split the wins over several calls (or raise TALLY_MAX_BODY_BYTES)`,
    );
  });

  it('refuses alone a win whose markup holds a byte that is not UTF-8 (a Latin-1 é), naming it, and registers the others', async () => {
    const latin1 = JSON.stringify({ ...win, bid: { ...win.bid, adm: '<p>caf@ au lait</p>' } });
    const body = Buffer.concat([
      Buffer.from(`{"wins": [${JSON.stringify(win)}, `),
      Buffer.from(latin1.slice(0, latin1.indexOf('@'))),
      Buffer.from([0xe9]),
      Buffer.from(`${latin1.slice(latin1.indexOf('@') + 1)}, ${JSON.stringify(win)}]}`),
    ]);
    const answer = await register(bases.open, body);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { results } = answer.body as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    assert.deepEqual(
      results.map((result) => result.error?.code ?? 'ok'),
      ['ok', 'INVALID_JSON', 'ok'],
    );
    assert.equal(
      results[1]?.error?.message,
      'this win is not valid UTF-8 (0xE9 after "<p>caf") (bytes that are no character would be stored as U+FFFD, making different ids one): send JSON encoded in UTF-8',
    );
    // Outside a win's strings, the body is refused whole, as it was.
    for (const outside of [
      Buffer.concat([Buffer.from(`{"wins": [${JSON.stringify(win)}]}`), Buffer.from([0xff])]),
      Buffer.concat([Buffer.from('{"wins": [], "'), Buffer.from([0xc3]), Buffer.from('": 1}')]),
    ]) {
      const refused = await register(bases.open, outside);
      assert.deepEqual([refused.status, refused.body.error.code], [400, 'INVALID_JSON']);
      assert.match(refused.body.error.message, /^the body is not valid UTF-8 \(bytes that are no character/);
    }
  });

  it('answers a body the wins thread refuses with that refusal', async () => {
    const answer = await register(bases.open, '{"wins": 1}');
    assert.deepEqual([answer.status, answer.body.error.code], [400, 'VALIDATION_FAILED']);
    assert.match(answer.body.error.message, /the body must be \{"wins": \[/);
  });

  it('answers 503 UNAVAILABLE, to be retried, when the wins thread cannot take the call, and logs why', async () => {
    const answer = await register(bases.closed, JSON.stringify({ wins: [win] }));
    assert.deepEqual([answer.status, answer.body.error.code, answer.retryAfter], [503, 'UNAVAILABLE', '1']);
    assert.match(answer.body.error.message, /retry the call/);
    const lines = logged.map((line) => JSON.parse(line) as Record<string, unknown>);
    const failure = lines.find((line) => line.event === 'wins_unavailable');
    assert.ok(failure !== undefined, logged.join(''));
    assert.equal(failure.requestId, answer.body.error.requestId);
    assert.match(String(failure.error), /the wins thread is closed/);
  });

  it('refuses a call 503 UNAVAILABLE with Retry-After when too many wins wait, logging it as a refusal at warn (request_refused), not as a failure', async () => {
    // Fault injection: the threads refuse every call as when 32 Mi characters of wins wait.
    const busy = { register: () => Promise.reject(new WinsBusyError(33_554_433)) };
    const loggedBefore = logged.length;
    const server = await serveWins(busy);
    const answer = await register(server.base, JSON.stringify({ wins: [win] }));
    assert.deepEqual([answer.status, answer.body.error.code, answer.retryAfter], [503, 'UNAVAILABLE', '1']);
    const message = new WinsBusyError(33_554_433).message;
    assert.equal(answer.body.error.message, message);
    assert.deepEqual(
      server.linesOf().map((line) => [line.level, line.event, line.requestId, line.code, line.message]),
      [['warn', 'request_refused', answer.body.error.requestId, 'UNAVAILABLE', message]],
    );
    assert.deepEqual(logged.slice(loggedBefore), [], 'no wins_unavailable: the threads did not fail');
  });

  it('answers nothing and logs no failure for a call whose caller went away while its wins waited, as the threads drop it', async () => {
    // As the threads do: a call whose caller went away is dropped unregistered.
    let waiting: () => void = () => {};
    const registering = new Promise<void>((resolve) => (waiting = resolve));
    let dropped: () => void = () => {};
    const dropping = new Promise<void>((resolve) => (dropped = resolve));
    const threads = {
      register: ({ abandoned }: { abandoned?: AbortSignal }) =>
        new Promise<never>((_resolve, reject) => {
          abandoned?.addEventListener('abort', () => {
            reject(new WinsAbandonedError());
            dropped();
          });
          waiting();
        }),
    };
    const server = await serveWins(threads);
    const gone = new AbortController();
    const call = fetch(`${server.base}/v1/wins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rivalKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ wins: [win] }),
      signal: gone.signal,
    });
    await registering;
    gone.abort();
    await assert.rejects(call, { name: 'AbortError' });
    // The route's answer and line, if any, follow the drop at once: after it, and a turn.
    await dropping;
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      server.linesOf().map((line) => line.event),
      [],
      'nobody to answer, and nothing failed',
    );
  });
});

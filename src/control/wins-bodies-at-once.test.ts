import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ClientRequest, IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { jsonLogger } from '../lib/log.js';
import { threadKeys } from '../thread-keys.js';
import { newApiKey } from './auth.js';
import { BodyBudget } from './body-budget.js';
import { WinThreads } from './win-thread/win-thread.js';
import { WINS_BODIES_AT_ONCE, winRoutes } from './wins.js';
import { testKeyRing } from '../../test/support/claims.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import { until } from '../../test/support/until.js';

/** The bytes of `POST /v1/wins` bodies read at once, across calls, over real HTTP. */

const MAX_BODY_BYTES = 4096;
const dir = mkdtempSync(join(tmpdir(), 'tally-wins-bodies-'));
const db = openSqlite(join(dir, 'tally.db'));
const accounts = new SqliteAccountStore(db);
const threads = new WinThreads({
  ...threadKeys(testKeyRing(), new Map()),
  publicUrl: 'https://tally.example',
  rules: [],
  burlPrivateNetworks: 'deny',
});
const budget = new BodyBudget(WINS_BODIES_AT_ONCE * MAX_BODY_BYTES);
let server: ApiServer;
let key = '';

before(async () => {
  const accountId = accounts.createAccount('wins', Date.now()).id;
  const made = newApiKey();
  accounts.addKey(accountId, made.hash, made.prefix, 'editor', 'editor', null, Date.now());
  key = made.key;
  server = await serveApi(
    winRoutes(
      threads,
      MAX_BODY_BYTES,
      jsonLogger(() => {}),
      budget,
    ),
    accounts,
  );
});

after(async () => {
  await server.close();
  await threads.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A body of one win, padded with spaces to exactly `bytes`. */
function winsBody(bytes: number): string {
  const wins = JSON.stringify({
    wins: [
      {
        request: { id: 'auction-1', imp: [{ id: '1', banner: {} }], site: {} },
        seat: 's1',
        bid: { id: 'b1', impid: '1', price: 1, adm: '<p>ad</p>' },
      },
    ],
  });
  return wins.padEnd(bytes, ' ');
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: { error?: { code: string; message: string; requestId: string }; results?: unknown[] };
}

/** An upload begun: the request, to write more of or abort; its answer; its connection's end. */
interface Upload {
  req: ClientRequest;
  answer: Promise<Answer>;
  closed: Promise<void>;
}

/** Begins `POST /v1/wins` with `headers`, writing `first`; the body ends when `end` is given. */
function upload(headers: Record<string, string | number>, first: string, end = false): Upload {
  const req = request(`${server.base}/v1/wins`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
  });
  const closed = new Promise<void>((resolve) =>
    req.once('socket', (socket) => socket.once('close', resolve)),
  );
  const answer = new Promise<Answer>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body'],
        }),
      );
    });
  });
  if (end) req.end(first);
  else req.write(first);
  return { req, answer, closed };
}

/** Callers that went away: their uploads aborted, their connections closed. */
async function abort(uploads: Upload[]): Promise<void> {
  for (const { req, answer } of uploads) {
    answer.catch(() => {});
    req.destroy();
  }
  await Promise.all(uploads.map((upload) => upload.closed));
}

/** Waits until the bodies being read hold `bytes`. */
const holding = (bytes: number) =>
  until(() => Promise.resolve(budget.takenBytes === bytes), `${bytes} bytes of bodies held`);

const full = winsBody(MAX_BODY_BYTES);

/**
 * Asserts that the envelope of the refusal `refused` names its request, and that the call is logged
 * as one refused to retry, not as a failure.
 */
function assertLoggedAsRefusal(refused: Answer): void {
  const requestId = refused.body.error?.requestId;
  assert.equal(requestId, refused.headers['x-request-id'], 'the envelope names the request');
  assert.deepEqual(
    server.linesOf(requestId ?? '').map((line) => [line.level, line.event]),
    [['warn', 'request_refused']],
    'a refusal to retry, no failure',
  );
}

describe('POST /v1/wins bodies read at once', () => {
  it('refuses with 503 UNAVAILABLE and Retry-After a call whose Content-Length does not fit in the bytes left, and once callers went away mid-upload, reads a call of the largest body', async () => {
    // Each sends all of its body but its last byte, and holds that much.
    const uploads = Array.from({ length: WINS_BODIES_AT_ONCE }, () =>
      upload({ 'content-length': MAX_BODY_BYTES }, full.slice(0, MAX_BODY_BYTES - 1)),
    );
    const heldBytes = WINS_BODIES_AT_ONCE * (MAX_BODY_BYTES - 1);
    await holding(heldBytes);
    const refused = await upload({ 'content-length': 100 }, full.slice(0, 100), true).answer;
    assert.deepEqual(
      [refused.status, refused.body.error?.code, refused.headers['retry-after']],
      [503, 'UNAVAILABLE', '1'],
    );
    assert.equal(
      refused.body.error?.message,
      `Tally is reading ${heldBytes} bytes of bodies of other calls, and this one does not fit in the ${WINS_BODIES_AT_ONCE * MAX_BODY_BYTES} it reads at once: retry the call in a second`,
    );
    assertLoggedAsRefusal(refused);

    await abort(uploads);
    await holding(0);
    const answered = await upload({ 'content-length': MAX_BODY_BYTES }, full, true).answer;
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.equal(answered.body.results?.length, 1);
    assert.equal(budget.takenBytes, 0, 'an answered call holds nothing');
  });

  it('refuses a chunked call that grows past the bytes left as it streams, closing its connection, and holds nothing once it ended', async () => {
    // A call holds what it sent: here all but a byte of three bodies and half of a fourth, chunked,
    // leaving half a body and three bytes for the next.
    const uploads = Array.from({ length: WINS_BODIES_AT_ONCE - 1 }, () =>
      upload({ 'content-length': MAX_BODY_BYTES }, full.slice(0, MAX_BODY_BYTES - 1)),
    );
    const half = MAX_BODY_BYTES / 2;
    uploads.push(upload({ 'transfer-encoding': 'chunked' }, full.slice(0, half)));
    const heldBytes = (WINS_BODIES_AT_ONCE - 1) * (MAX_BODY_BYTES - 1) + half;
    await holding(heldBytes);

    const chunked = upload({ 'transfer-encoding': 'chunked' }, full.slice(0, half));
    await holding(heldBytes + half);
    chunked.req.write(full.slice(half, half + 10));
    const refused = await chunked.answer;
    assert.deepEqual(
      [refused.status, refused.body.error?.code, refused.headers['retry-after'], refused.headers.connection],
      [503, 'UNAVAILABLE', '1', 'close'],
    );
    assertLoggedAsRefusal(refused);
    await chunked.closed;
    await holding(heldBytes);

    await abort(uploads);
    await holding(0);
    const answered = await upload({ 'transfer-encoding': 'chunked' }, full, true).answer;
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
  });

  it('holds no declared Content-Length before its bytes come: calls that declared the largest body and stalled after a byte keep no call of the largest body out', async () => {
    const stalled = Array.from({ length: WINS_BODIES_AT_ONCE }, () =>
      upload({ 'content-length': MAX_BODY_BYTES }, full.slice(0, 1)),
    );
    await holding(WINS_BODIES_AT_ONCE);
    const answered = await upload({ 'content-length': MAX_BODY_BYTES }, full, true).answer;
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.equal(budget.takenBytes, WINS_BODIES_AT_ONCE, 'the stalled calls hold the byte each sent');
    await abort(stalled);
    await holding(0);
  });
});

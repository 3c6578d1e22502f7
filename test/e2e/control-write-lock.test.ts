import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { TestServer } from '../support/server.js';
import { api, startServer } from '../support/server.js';

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

/** Calls the API with the admin key. */
const call = (method: string, path: string, body?: unknown) => api(tally, tally.adminKey, method, path, body);

/**
 * Holds the ledger's write lock from another connection (as the CLI or an operator's `sqlite3`
 * may) for `holdMs` while `writes` wait for it, polling `/healthz` back to back meanwhile, and
 * answers how many of those calls were answered in the middle half of the hold (from a quarter of
 * it to three quarters): none when a waiting write stops the HTTP thread until the lock is released
 * or for the 5 s a write may wait.
 */
async function healthzAnsweredMidHold(holdMs: number, writes: () => Promise<unknown>): Promise<number> {
  const holder = new Database(join(tally.dataDir, 'tally.db'));
  holder.exec('BEGIN IMMEDIATE');
  const heldSinceMs = performance.now();
  let lockHeld = true;
  const released = new Promise<void>((resolve) =>
    setTimeout(() => {
      lockHeld = false;
      holder.exec('ROLLBACK');
      holder.close();
      resolve();
    }, holdMs),
  );
  const written = writes();
  let answeredMidHold = 0;
  // The writes reach the server first: every call below waits behind them if they block.
  await new Promise((resolve) => setTimeout(resolve, 50));
  while (lockHeld) {
    const response = await fetch(`${tally.url}/healthz`);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    const answeredAtMs = performance.now() - heldSinceMs;
    if (answeredAtMs >= holdMs / 4 && answeredAtMs <= (holdMs * 3) / 4) answeredMidHold++;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await released;
  await written;
  return answeredMidHold;
}

describe('a control-API write while another connection holds the write lock', () => {
  it('waits without stopping the HTTP thread (/healthz answered while the lock is held), and is written once the lock is released', async () => {
    let key: Awaited<ReturnType<typeof call>> | undefined;
    let advertiser: Awaited<ReturnType<typeof call>> | undefined;
    const answeredMidHold = await healthzAnsweredMidHold(1500, async () => {
      [key, advertiser] = await Promise.all([
        call('POST', '/v1/api-keys', { name: 'made while locked', role: 'reader' }),
        call('POST', '/v1/advertisers', { name: 'Made while locked' }),
      ]);
    });
    assert.notEqual(answeredMidHold, 0, '/healthz was answered in the middle of the hold, the write waiting');
    assert.equal(key?.status, 201, JSON.stringify(key?.body));
    assert.equal(advertiser?.status, 201, JSON.stringify(advertiser?.body));
    const keys = await call('GET', '/v1/api-keys');
    assert.deepEqual(
      keys.body.items.filter((item: any) => item.id === key?.body.id).map((item: any) => item.name),
      ['made while locked'],
    );
    const stored = await call('GET', `/v1/advertisers/${advertiser?.body.id}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.body.name, 'Made while locked');
  });

  it('is answered 503 UNAVAILABLE with Retry-After: 1 once the lock stays held past 5 s, the HTTP thread answering meanwhile', async () => {
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    let elapsedMs = 0;
    const answeredMidHold = await healthzAnsweredMidHold(6000, async () => {
      const startedMs = performance.now();
      refused = await call('POST', '/v1/advertisers', { name: 'Never written' });
      elapsedMs = performance.now() - startedMs;
    });
    assert.notEqual(answeredMidHold, 0, '/healthz was answered in the middle of the hold, the write waiting');
    assert.equal(refused?.status, 503, JSON.stringify(refused?.body));
    assert.equal(refused?.body.error.code, 'UNAVAILABLE');
    assert.equal(
      refused?.body.error.message,
      'Tally cannot write its database just now (logged as request_failed); retry shortly',
    );
    assert.equal(refused?.headers.get('retry-after'), '1');
    // Not refused before its 5 s were over. (Refused at all, it was refused while the lock was still
    // held: once released, at 6 s, the write would have been made.)
    assert.equal(elapsedMs >= 4900, true, `refused after ${elapsedMs.toFixed(0)} ms`);
    const list = await call('GET', '/v1/advertisers?name=Never%20written');
    assert.deepEqual(list.body.items, []);
  });

  it('refuses a key scoped to an advertiser deleted while the key waited for the lock, as one scoped to a missing advertiser', async () => {
    const advertiser = await call('POST', '/v1/advertisers', { name: 'Deleted while a key waits' });
    assert.equal(advertiser.status, 201, JSON.stringify(advertiser.body));
    const id: number = advertiser.body.id;
    const holder = new Database(join(tally.dataDir, 'tally.db'));
    holder.exec('BEGIN IMMEDIATE');
    holder.prepare('DELETE FROM advertisers WHERE id = ?').run(id);
    const scopedTo = (advertiserId: number) =>
      call('POST', '/v1/api-keys', {
        name: 'scoped while locked',
        role: 'reader',
        scope: { type: 'advertiser', id: advertiserId },
      });
    const waiting = scopedTo(id);
    // The key's request is read and its scope checked before the deletion commits: a second leaves
    // a loaded machine time to, well within the 5 s the write then waits for the lock.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    holder.exec('COMMIT');
    holder.close();
    const refused = await waiting;
    const missing = await scopedTo(987654);
    assert.deepEqual(
      [refused.status, refused.body.error?.code, refused.body.error?.message],
      [400, 'VALIDATION_FAILED', missing.body.error.message.replace('advertiser 987654', `advertiser ${id}`)],
    );
    assert.equal(missing.status, 400);
    const keys = await call('GET', '/v1/api-keys?limit=500');
    assert.deepEqual(
      keys.body.items.filter((item: any) => item.scope?.id === id),
      [],
    );
  });
});

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
 * may) for `holdMs`, and answers the longest a `/healthz` call took meanwhile, polled back to back.
 */
async function slowestHealthzWhileLocked(holdMs: number, writes: () => Promise<unknown>): Promise<number> {
  const holder = new Database(join(tally.dataDir, 'tally.db'));
  holder.exec('BEGIN IMMEDIATE');
  const released = new Promise<void>((resolve) =>
    setTimeout(() => {
      holder.exec('ROLLBACK');
      holder.close();
      resolve();
    }, holdMs),
  );
  const written = writes();
  let slowestMs = 0;
  let lockHeld = true;
  void released.then(() => (lockHeld = false));
  // The writes reach the server first: every call below waits behind them if they block.
  await new Promise((resolve) => setTimeout(resolve, 50));
  while (lockHeld) {
    const startedMs = performance.now();
    const response = await fetch(`${tally.url}/healthz`);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    slowestMs = Math.max(slowestMs, performance.now() - startedMs);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await released;
  await written;
  return slowestMs;
}

describe('a control-API write while another connection holds the write lock', () => {
  it('waits without stopping the HTTP thread (/healthz answers within 200 ms), and is written once the lock is released', async () => {
    let key: Awaited<ReturnType<typeof call>> | undefined;
    let advertiser: Awaited<ReturnType<typeof call>> | undefined;
    const slowestMs = await slowestHealthzWhileLocked(1500, async () => {
      [key, advertiser] = await Promise.all([
        call('POST', '/v1/api-keys', { name: 'made while locked', role: 'reader' }),
        call('POST', '/v1/advertisers', { name: 'Made while locked' }),
      ]);
    });
    assert.equal(
      slowestMs < 200,
      true,
      `/healthz took ${slowestMs.toFixed(0)} ms while the write waited for the lock`,
    );
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
    const slowestMs = await slowestHealthzWhileLocked(6000, async () => {
      const startedMs = performance.now();
      refused = await call('POST', '/v1/advertisers', { name: 'Never written' });
      elapsedMs = performance.now() - startedMs;
    });
    assert.equal(
      slowestMs < 200,
      true,
      `/healthz took ${slowestMs.toFixed(0)} ms while the write waited for the lock`,
    );
    assert.equal(refused?.status, 503, JSON.stringify(refused?.body));
    assert.equal(refused?.body.error.code, 'UNAVAILABLE');
    assert.equal(
      refused?.body.error.message,
      'Tally cannot write its database just now (logged as request_failed); retry shortly',
    );
    assert.equal(refused?.headers.get('retry-after'), '1');
    assert.equal(elapsedMs >= 4900 && elapsedMs < 6000, true, `refused after ${elapsedMs.toFixed(0)} ms`);
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
    // The key's request is read and its scope checked before the deletion commits.
    await new Promise((resolve) => setTimeout(resolve, 300));
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

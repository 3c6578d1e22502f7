import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

let tally: TestServer;

before(async () => {
  // One event a batch and one waiting: the commit queue is full as soon as commits stall.
  tally = await startServer({ TALLY_COMMIT_MAX_BATCH: '1', TALLY_COMMIT_MAX_QUEUE: '1' });
});

after(async () => {
  await tally?.dispose();
});

/** A series of `/metrics` as it shows now. */
async function shown(series: string): Promise<number> {
  const text = await (await fetch(`${tally.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? Number.NaN);
}

const QUEUE_FULL = 'tally_notices_refused_total{impression_type="exchange",reason="queue_full"}';

describe('a full commit queue', () => {
  it('answers the notices past it 503 at once, each counted in tally_notices_refused_total as queue_full, beside the limit tally_commit_queue_limit', async () => {
    assert.deepEqual([await shown(QUEUE_FULL), await shown('tally_commit_queue_limit')], [0, 1]);
    // Another connection holds the ledger's write lock for less than the counting thread's 5 s
    // busy_timeout: the commits stall, neither done nor failed, and the queue fills.
    const holder = new Database(join(tally.dataDir, 'tally.db'));
    holder.exec('BEGIN IMMEDIATE');
    const statuses: number[] = [];
    const notices = Array.from({ length: 12 }, async (_, index) => {
      const response = await fetch(`${tally.url}/n/not-a-token-${index}`);
      await response.arrayBuffer();
      statuses.push(response.status);
    });
    const startedMs = performance.now();
    // The 503s come at once; the notices taken wait for their commits.
    while (statuses.length < 12 - 5 && performance.now() - startedMs < 3000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const answeredWhileHeld = [...statuses];
    holder.exec('ROLLBACK');
    holder.close();
    await Promise.all(notices);
    // At most 4 batches of 1 with the counting thread and 1 event queued: at least 7 of 12 are
    // refused, as they come, before any commit; how many more depends on when each arrived.
    const refused = statuses.filter((status) => status === 503).length;
    assert.deepEqual(
      [answeredWhileHeld.length >= 7, answeredWhileHeld.every((status) => status === 503)],
      [true, true],
      `answers while the lock was held: ${answeredWhileHeld.join(', ')}`,
    );
    assert.deepEqual(
      [await shown(QUEUE_FULL), statuses.filter((status) => status === 200).length],
      [refused, 12 - refused],
      `each 503 counted, every other notice answered once committed: ${statuses.join(', ')}`,
    );
  });
});

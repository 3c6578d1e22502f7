import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

async function readyz(): Promise<{ status: number; body: any; retryAfter: string | null }> {
  const response = await fetch(`${tally.url}/readyz`);
  return {
    status: response.status,
    body: await response.json(),
    retryAfter: response.headers.get('retry-after'),
  };
}

/** `tally_commit_oldest_wait_seconds` as `/metrics` shows it now. */
async function oldestCommitWaitSeconds(): Promise<number> {
  const text = await (await fetch(`${tally.url}/metrics`)).text();
  return Number(/^tally_commit_oldest_wait_seconds (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** `tally_ready` as `/metrics` shows it now: 1 while `/readyz` answers 200, 0 while it answers 503. */
async function readyGauge(): Promise<number> {
  const text = await (await fetch(`${tally.url}/metrics`)).text();
  return Number(/^tally_ready (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

describe('/readyz', () => {
  it('answers 503 with Retry-After: 1 while a commit stays stuck (its write lock held elsewhere), saying so as /metrics shows how long and tally_ready at 0, and 200 once it commits', async () => {
    assert.equal((await readyz()).status, 200);
    assert.equal(await readyGauge(), 1, 'ready');
    // Another connection holds the ledger's write lock for less than the counting thread's 5 s
    // busy_timeout: its commit neither succeeds nor fails meanwhile, and the notice waits.
    const holder = new Database(join(tally.dataDir, 'tally.db'));
    holder.exec('BEGIN IMMEDIATE');
    let answered = false;
    const sentMs = performance.now();
    const notice = fetch(`${tally.url}/n/not-a-token`).then(async (response) => {
      answered = true;
      await response.arrayBuffer();
      return response.status;
    });
    const seen: number[] = [];
    let refusal: any;
    let retryAfter: string | null = null;
    const startedMs = performance.now();
    while (performance.now() - startedMs < 4000) {
      const answer = await readyz();
      seen.push(answer.status);
      if (answer.status === 503) {
        refusal = answer.body;
        retryAfter = answer.retryAfter;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(answered, false, 'the notice waits for its commit while the lock is held');
    const stuckSeconds = await oldestCommitWaitSeconds();
    const readyWhileStuck = await readyGauge();
    const sinceSentSeconds = (performance.now() - sentMs) / 1000;
    holder.exec('ROLLBACK');
    holder.close();
    assert.equal(seen.at(-1), 503, `readyz answered ${seen.join(', ')} while the commit was stuck`);
    assert.equal(refusal?.error?.code, 'UNAVAILABLE');
    assert.equal(retryAfter, '1', 'a readiness probe may look again in a second: the commit may go through');
    assert.match(refusal?.error?.message ?? '', /commit .*waited/);
    assert.equal(readyWhileStuck, 0, '/metrics shows Tally not ready while /readyz answers 503');
    // At least the 2 s that make /readyz answer 503, at most the time since the notice was sent:
    // bounds that hold however slowly this test runs.
    assert.ok(
      stuckSeconds >= 2 && stuckSeconds <= sinceSentSeconds,
      `/metrics showed the commit waiting ${stuckSeconds} s, ${sinceSentSeconds} s after the notice was sent`,
    );
    assert.equal(await notice, 200, 'the notice (an invalid token) is answered once its commit goes through');
    assert.equal((await readyz()).status, 200);
    assert.equal(await oldestCommitWaitSeconds(), 0);
    assert.equal(await readyGauge(), 1, 'ready again');
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { Outcome } from '../domain/outcome.js';
import { COUNTED } from '../domain/outcome.js';
import { Metrics } from '../lib/metrics.js';
import type { EventRecord, Ledger } from '../ports/ledger.js';
import type { BatchRecorder } from '../ports/recorder.js';
import { GroupCommitter } from './group-commit.js';
import { exchangeEvent } from '../../test/support/events.js';
import { inlineRecorder } from '../../test/support/inline-recorder.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-commit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function event(key: string): EventRecord {
  return exchangeEvent({ receivedMs: 1, dedupe: { key, expiresMs: 10 } });
}

/** Offers an event to the committer, as a promise; `undefined` when the queue refused it. */
function submit(committer: GroupCommitter, submitted: EventRecord): Promise<Outcome> | undefined {
  let committed: (outcome: Outcome) => void = () => undefined;
  let failed: (error: unknown) => void = () => undefined;
  const promise = new Promise<Outcome>((resolve, reject) => {
    committed = resolve;
    failed = reject;
  });
  return committer.offer(submitted, committed, failed) ? promise : undefined;
}

/** The promise of an accepted event (fails the test when the committer refused it). */
function accepted(pending: Promise<Outcome> | undefined): Promise<Outcome> {
  assert.ok(pending !== undefined, 'the committer refused the event');
  return pending;
}

describe('group commit', () => {
  it('commits everything queued in one event-loop turn as one transaction, and resolves only after it', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'one.db')));
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 1000, maxInFlight: 1, flushAtSize: 1000 },
      metrics,
    );
    const pending = ['a', 'b', 'a'].map((key) => accepted(submit(committer, event(key))));
    assert.equal(ledger.countEvents().total, 0, 'nothing is committed synchronously');
    const outcomes = await Promise.all(pending);
    assert.deepEqual(outcomes, [COUNTED, COUNTED, { outcome: 'not_counted', reason: 'duplicate' }]);
    assert.equal(ledger.countEvents().total, 3);
    assert.match(metrics.render(), /tally_commit_batch_size_count 1\n/);
    ledger.close();
  });

  it('refuses events past the bounded queue instead of dropping them silently', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'two.db')));
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 2, maxInFlight: 1, flushAtSize: 1000 },
      new Metrics(),
    );
    const first = submit(committer, event('x1'));
    const second = submit(committer, event('x2'));
    assert.equal(submit(committer, event('x3')), undefined);
    await Promise.all([first, second]);
    assert.equal(ledger.countEvents().total, 2);
    assert.ok(submit(committer, event('x4')) !== undefined, 'the queue takes events again once committed');
    await committer.drain();
    ledger.close();
  });

  it('rejects every event of a batch whose commit failed, so none is answered as recorded', async () => {
    const failing: Ledger = {
      ...({} as Ledger),
      record: () => {
        throw new Error('disk full');
      },
    };
    const committer = new GroupCommitter(
      inlineRecorder(failing),
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      new Metrics(),
    );
    const results = await Promise.allSettled([
      submit(committer, event('f1')),
      submit(committer, event('f2')),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected'],
    );
  });

  it('splits a burst larger than the batch size into several transactions', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'three.db')));
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 4, maxDelayMs: 0, maxQueue: 100, maxInFlight: 1, flushAtSize: 1000 },
      metrics,
    );
    await Promise.all(
      Array.from({ length: 10 }, (_, index) => accepted(submit(committer, event(`b${index}`)))),
    );
    assert.equal(ledger.countEvents().total, 10);
    assert.match(metrics.render(), /tally_commit_batch_size_count 3\n/);
    ledger.close();
  });

  it('times each commit in seconds, the base unit Prometheus expects', async () => {
    const commitMs = 30;
    const slow: BatchRecorder = {
      record: (batch) =>
        new Promise<Outcome[]>((resolve) => setTimeout(() => resolve(batch.map(() => COUNTED)), commitMs)),
      close: () => Promise.resolve(),
    };
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      slow,
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      metrics,
    );
    await accepted(submit(committer, event('s1')));
    const text = metrics.render();
    assert.match(text, /tally_commit_latency_seconds_bucket\{le="0\.01"\} 0\n/);
    const seconds = Number(/tally_commit_latency_seconds_sum (\S+)\n/.exec(text)?.[1]);
    assert.ok(seconds >= 0.02 && seconds < 10, `${seconds} s for a ${commitMs} ms commit`);
  });
});

describe('group commit pipelining', () => {
  it('hands a batch over once it reaches flushAtSize, with at most maxInFlight batches at the recorder', async () => {
    const calls: { size: number; commit: () => void }[] = [];
    // A recorder that commits only when the test says so: it shows what the committer hands over and when.
    const held: BatchRecorder = {
      record: (batch) =>
        new Promise<Outcome[]>((resolve) =>
          calls.push({
            size: batch.length,
            commit: () => resolve(batch.map(() => COUNTED)),
          }),
        ),
      close: () => Promise.resolve(),
    };
    const committer = new GroupCommitter(
      held,
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 100, maxInFlight: 2, flushAtSize: 3 },
      new Metrics(),
    );
    const pending = Array.from({ length: 8 }, (_, index) => accepted(submit(committer, event(`p${index}`))));
    assert.deepEqual(
      calls.map((call) => call.size),
      [3, 3],
      'two full batches went at once, in this turn; the third waits for a free slot',
    );
    calls[0]?.commit();
    await Promise.all(pending.slice(0, 3));
    assert.deepEqual(
      calls.map((call) => call.size),
      [3, 3, 2],
    );
    calls[1]?.commit();
    calls[2]?.commit();
    await Promise.all(pending);
    await committer.drain();
  });
});

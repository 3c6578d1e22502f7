import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { Outcome } from '../domain/outcome.js';
import { COUNTED, notCounted } from '../domain/outcome.js';
import { Metrics } from '../lib/metrics.js';
import type { EventRecord, Ledger } from '../ports/ledger.js';
import type { BatchRecorder } from '../ports/recorder.js';
import { GroupCommitter } from './group-commit.js';
import { AdvisedWriteError, writeFaultAdvice } from '../lib/write-fault.js';
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

/**
 * A recorder that commits each batch it is handed, every event counted, only when the test calls
 * the batch's function in `commits`.
 */
function heldRecorder(): { held: BatchRecorder; commits: (() => void)[] } {
  const commits: (() => void)[] = [];
  const held: BatchRecorder = {
    record: (batch) =>
      new Promise<Outcome[]>((resolve) => commits.push(() => resolve(batch.map(() => COUNTED)))),
    close: () => Promise.resolve(),
  };
  return { held, commits };
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
    assert.match(metrics.render(), /tally_commit_batch_size_sum 3\n/);
    ledger.close();
  });

  it('buckets commits up to the largest batch TALLY_COMMIT_MAX_BATCH allows, and commit times up to 10 s', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'buckets.db')));
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100_000, maxDelayMs: 0, maxQueue: 100_000, maxInFlight: 1, flushAtSize: 100_000 },
      metrics,
    );
    await Promise.all(
      Array.from({ length: 100_000 }, (_, index) => accepted(submit(committer, event(`k${index}`)))),
    );
    const text = metrics.render();
    assert.match(
      text,
      /tally_commit_batch_size_bucket\{le="131072"\} 1\n/,
      'the batch of 100 000 has a bucket',
    );
    assert.match(text, /tally_commit_batch_size_bucket\{le="32768"\} 0\n/, 'it is one batch, above 32768');
    assert.match(
      text,
      /tally_commit_latency_seconds_bucket\{le="10"\} \d+\n/,
      'commits of seconds have buckets',
    );
    ledger.close();
  });

  it('counts every committed event once in tally_notices_total, by its own outcome, reason and impression type', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'labels.db')));
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 1000, maxInFlight: 1, flushAtSize: 1000 },
      metrics,
    );
    await Promise.all(['m1', 'm2', 'm3', 'm1'].map((key) => accepted(submit(committer, event(key)))));
    const series = metrics
      .render()
      .split('\n')
      .filter((line) => line.startsWith('tally_notices_total{'));
    assert.deepEqual(series, [
      'tally_notices_total{outcome="counted",reason="",impression_type="exchange"} 3',
      'tally_notices_total{outcome="not_counted",reason="duplicate",impression_type="exchange"} 1',
    ]);
    ledger.close();
  });

  it('keeps each reason and impression type in a series of its own in tally_notices_total', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'reasons.db')));
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 1000, maxInFlight: 1, flushAtSize: 1000 },
      metrics,
    );
    const tracker = (key: string): EventRecord => {
      const base = event(key);
      return { ...base, dims: { ...base.dims, impressionType: 'external_impression' } };
    };
    await Promise.all(
      [
        { ...event('r1'), outcome: notCounted('late') },
        { ...event('r2'), outcome: notCounted('prefetch') },
        { ...event('r3'), outcome: notCounted('late') },
        event('r4'),
        tracker('r5'),
      ].map((submitted) => accepted(submit(committer, submitted))),
    );
    const series = metrics
      .render()
      .split('\n')
      .filter((line) => line.startsWith('tally_notices_total{'))
      .sort();
    assert.deepEqual(series, [
      'tally_notices_total{outcome="counted",reason="",impression_type="exchange"} 1',
      'tally_notices_total{outcome="counted",reason="",impression_type="external_impression"} 1',
      'tally_notices_total{outcome="not_counted",reason="late",impression_type="exchange"} 2',
      'tally_notices_total{outcome="not_counted",reason="prefetch",impression_type="exchange"} 1',
    ]);
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

  it('tells the ledger is failing from its first failed commit until one succeeds', async () => {
    let diskFull = true;
    // The fault injected: a recorder whose disk is full until it is freed.
    const recorder: BatchRecorder = {
      record: (events) =>
        diskFull ? Promise.reject(new Error('disk full')) : Promise.resolve(events.map(() => COUNTED)),
      close: () => Promise.resolve(),
    };
    const committer = new GroupCommitter(
      recorder,
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      new Metrics(),
    );
    assert.equal(committer.isFailing(), false, 'before any commit');
    await Promise.allSettled([submit(committer, event('d1'))]);
    assert.equal(committer.isFailing(), true, 'after a failed commit');
    diskFull = false;
    await accepted(submit(committer, event('d2')));
    assert.equal(committer.isFailing(), false, 'after a commit succeeded');
  });

  it('says what to do about a failing ledger while it fails, when the recorder said (a full disk)', async () => {
    const failures: Error[] = [
      new AdvisedWriteError('SqliteError: database or disk is full', 'disk_full'),
      new Error('locked'),
    ];
    // The fault injected: a recorder whose commits fail with these errors, then succeed.
    const recorder: BatchRecorder = {
      record: (events) => {
        const failure = failures.shift();
        return failure === undefined ? Promise.resolve(events.map(() => COUNTED)) : Promise.reject(failure);
      },
      close: () => Promise.resolve(),
    };
    const committer = new GroupCommitter(
      recorder,
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      new Metrics(),
    );
    const advice: (string | undefined)[] = [committer.failureAdvice()];
    await Promise.allSettled([submit(committer, event('adv1'))]);
    advice.push(committer.failureAdvice());
    await Promise.allSettled([submit(committer, event('adv2'))]);
    advice.push(committer.failureAdvice());
    await accepted(submit(committer, event('adv3')));
    advice.push(committer.failureAdvice());
    assert.deepEqual(advice, [undefined, writeFaultAdvice('SQLITE_FULL'), undefined, undefined]);
  });

  it('counts a failed commit in tally_commit_failures_total, and none of its events as recorded', async () => {
    const failing: BatchRecorder = {
      record: () => Promise.reject(new Error('disk full')),
      close: () => Promise.resolve(),
    };
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      failing,
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      metrics,
    );
    await Promise.allSettled([submit(committer, event('cf1')), submit(committer, event('cf2'))]);
    const text = metrics.render();
    assert.match(text, /^tally_commit_failures_total 1$/m);
    assert.doesNotMatch(text, /^tally_notices_total/m);
  });

  it('fails, rather than leaves unanswered, an event the recorder returned no outcome for', async () => {
    // A recorder that answers one outcome fewer than it was given events.
    const short: BatchRecorder = {
      record: (batch) => Promise.resolve(batch.slice(1).map(() => COUNTED)),
      close: () => Promise.resolve(),
    };
    const committer = new GroupCommitter(
      short,
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      new Metrics(),
    );
    const results = await Promise.allSettled([
      submit(committer, event('o1')),
      submit(committer, event('o2')),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected'],
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
    const submittedMs = performance.now();
    await accepted(submit(committer, event('s1')));
    const sinceSubmittedSeconds = (performance.now() - submittedMs) / 1000;
    const text = metrics.render();
    assert.match(text, /tally_commit_latency_seconds_bucket\{le="0\.01"\} 0\n/);
    const seconds = Number(/tally_commit_latency_seconds_sum (\S+)\n/.exec(text)?.[1]);
    // At most the time the commit was awaited, measured: a bound that holds however slowly this
    // test runs, and that milliseconds (30 for 0.03 s) exceed.
    assert.ok(
      seconds >= 0.02 && seconds <= sinceSubmittedSeconds,
      `${seconds} s for a ${commitMs} ms commit awaited ${sinceSubmittedSeconds} s`,
    );
  });

  it('times each committed notice from its queueing to its commit, and no notice of a failed commit', async () => {
    const commitMs = 60;
    let fail = false;
    const slow: BatchRecorder = {
      record: (batch) =>
        new Promise<Outcome[]>((resolve, reject) =>
          setTimeout(
            () => (fail ? reject(new Error('disk gone')) : resolve(batch.map(() => COUNTED))),
            commitMs,
          ),
        ),
      close: () => Promise.resolve(),
    };
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      slow,
      { maxBatch: 1, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      metrics,
    );
    // One batch at a time of one notice each: the second waits for the first commit, then its own.
    const submittedMs = performance.now();
    await Promise.all([accepted(submit(committer, event('w1'))), accepted(submit(committer, event('w2')))]);
    const sinceSubmittedSeconds = (performance.now() - submittedMs) / 1000;
    fail = true;
    await assert.rejects(accepted(submit(committer, event('w3'))), /disk gone/);
    const text = metrics.render();
    assert.match(
      text,
      /tally_notice_commit_wait_seconds_count 2\n/,
      'the two committed notices, not the third',
    );
    assert.match(
      text,
      /tally_notice_commit_wait_seconds_bucket\{le="0\.05"\} 0\n/,
      'each waited a commit or more',
    );
    const seconds = Number(/tally_notice_commit_wait_seconds_sum (\S+)\n/.exec(text)?.[1]);
    // Each waited at most the time both were awaited, measured: a bound that holds however slowly
    // this test runs, and that milliseconds exceed.
    assert.ok(
      seconds >= 0.17 && seconds <= 2 * sinceSubmittedSeconds,
      `${seconds} s for a commit and for two of ${commitMs} ms, awaited ${sinceSubmittedSeconds} s`,
    );
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

  it('never hands the recorder an empty batch, even when a batch at flushAtSize took what a later turn was to commit', async () => {
    const sizes: number[] = [];
    const recording: BatchRecorder = {
      record: (batch) => {
        sizes.push(batch.length);
        return Promise.resolve(batch.map(() => COUNTED));
      },
      close: () => Promise.resolve(),
    };
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      recording,
      { maxBatch: 100, maxDelayMs: 0, maxQueue: 100, maxInFlight: 2, flushAtSize: 2 },
      metrics,
    );
    // The first event schedules a commit at the end of the turn; the second fills the batch at once.
    await Promise.all(['e1', 'e2'].map((key) => accepted(submit(committer, event(key)))));
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    await committer.drain();
    assert.deepEqual(sizes, [2]);
    assert.match(metrics.render(), /^tally_commit_batch_size_count 1$/m);
  });

  it('hands several batches of one burst to the recorder at once, up to maxInFlight, without waiting for a commit', async () => {
    const sizes: number[] = [];
    const commits: (() => void)[] = [];
    const held: BatchRecorder = {
      record: (batch) =>
        new Promise<Outcome[]>((resolve) => {
          sizes.push(batch.length);
          commits.push(() => resolve(batch.map(() => COUNTED)));
        }),
      close: () => Promise.resolve(),
    };
    const committer = new GroupCommitter(
      held,
      { maxBatch: 2, maxDelayMs: 0, maxQueue: 100, maxInFlight: 3, flushAtSize: 1000 },
      new Metrics(),
    );
    const pending = Array.from({ length: 7 }, (_, index) => accepted(submit(committer, event(`q${index}`))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      sizes,
      [2, 2, 2],
      'three batches went in the turn after the burst; the seventh event waits',
    );
    for (const commit of commits.splice(0)) commit();
    await Promise.all(pending.slice(0, 6));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sizes, [2, 2, 2, 1]);
    commits[0]?.();
    await Promise.all(pending);
  });

  it('shows in tally_commit_oldest_wait_seconds how long the batch longest with the recorder has waited, to the microsecond, 0 with none', async () => {
    const { held, commits } = heldRecorder();
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      held,
      { maxBatch: 1, maxDelayMs: 0, maxQueue: 100, maxInFlight: 2, flushAtSize: 1 },
      metrics,
    );
    const oldestWaitSeconds = () =>
      Number(/^tally_commit_oldest_wait_seconds (\S+)$/m.exec(metrics.render())?.[1] ?? Number.NaN);
    assert.equal(oldestWaitSeconds(), 0);
    const firstAtMs = performance.now();
    const first = accepted(submit(committer, event('w1')));
    await new Promise((resolve) => setTimeout(resolve, 60));
    const secondAtMs = performance.now();
    const second = accepted(submit(committer, event('w2')));
    const waited = oldestWaitSeconds();
    const waitedText = /^tally_commit_oldest_wait_seconds (\S+)$/m.exec(metrics.render())?.[1] ?? '';
    assert.match(waitedText, /^\d+\.\d{1,6}$/, 'seconds to the microsecond, with no float noise after');
    // At least the 60 ms timer (give or take its early firing), at most the time since it came:
    // bounds that hold however slowly this test runs.
    const sinceFirstSeconds = (performance.now() - firstAtMs) / 1000;
    assert.ok(
      waited >= 0.05 && waited <= sinceFirstSeconds,
      `the first batch has waited ${waited} s, ${sinceFirstSeconds} s since it came`,
    );
    commits.shift()?.();
    await first;
    // The batch leaves the recorder's hands once its waiters are told.
    await new Promise((resolve) => setImmediate(resolve));
    // Read before the time since the second was handed over: the first, handed over 60 ms sooner,
    // would show at least 60 ms more, however slowly this test runs.
    const oldestNow = oldestWaitSeconds();
    const sinceSecondSeconds = (performance.now() - secondAtMs) / 1000;
    assert.ok(
      oldestNow <= sinceSecondSeconds,
      `the second batch, handed over later, is now the oldest (${oldestNow} s, ${sinceSecondSeconds} s since it came)`,
    );
    commits.shift()?.();
    await second;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(oldestWaitSeconds(), 0);
  });

  it('shows the events waiting for a free slot in tally_commit_queue_depth', async () => {
    const { held, commits } = heldRecorder();
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      held,
      { maxBatch: 2, maxDelayMs: 0, maxQueue: 100, maxInFlight: 1, flushAtSize: 2 },
      metrics,
    );
    const pending = ['g1', 'g2', 'g3', 'g4', 'g5'].map((key) => accepted(submit(committer, event(key))));
    // Two went to the recorder at once; three wait for its one slot.
    assert.match(metrics.render(), /^tally_commit_queue_depth 3$/m);
    commits.shift()?.();
    await Promise.all(pending.slice(0, 2));
    assert.match(metrics.render(), /^tally_commit_queue_depth 1$/m);
    for (let turn = 0; commits.length > 0 || turn < 3; turn++) {
      commits.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    assert.match(metrics.render(), /^tally_commit_queue_depth 0$/m);
  });

  it('shows the events handed to the recorder and not yet committed in tally_commit_in_flight_events', async () => {
    const { held, commits } = heldRecorder();
    const metrics = new Metrics();
    const committer = new GroupCommitter(
      held,
      { maxBatch: 2, maxDelayMs: 0, maxQueue: 100, maxInFlight: 2, flushAtSize: 2 },
      metrics,
    );
    const inFlightEvents = () =>
      Number(/^tally_commit_in_flight_events (\S+)$/m.exec(metrics.render())?.[1] ?? Number.NaN);
    assert.equal(inFlightEvents(), 0);
    const pending = ['f1', 'f2', 'f3', 'f4', 'f5'].map((key) => accepted(submit(committer, event(key))));
    // Two batches of two went to the recorder's two slots; the fifth event waits in the queue.
    assert.equal(inFlightEvents(), 4);
    assert.match(metrics.render(), /^tally_commit_queue_depth 1$/m);
    commits.shift()?.();
    await Promise.all(pending.slice(0, 2));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(inFlightEvents(), 3, 'the second batch and the fifth event, handed over in its place');
    for (let turn = 0; commits.length > 0 || turn < 3; turn++) {
      commits.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    assert.equal(inFlightEvents(), 0);
  });

  it('drains only once the batch already at the recorder has committed, so nothing queued is lost at shutdown', async () => {
    let commit: () => void = () => undefined;
    const held: BatchRecorder = {
      record: (batch) =>
        new Promise<Outcome[]>((resolve) => (commit = () => resolve(batch.map(() => COUNTED)))),
      close: () => Promise.resolve(),
    };
    const committer = new GroupCommitter(
      held,
      { maxBatch: 10, maxDelayMs: 0, maxQueue: 10, maxInFlight: 1, flushAtSize: 1000 },
      new Metrics(),
    );
    const pending = accepted(submit(committer, event('d1')));
    // The event leaves for the recorder at the end of this turn; then nothing is queued, one batch is in flight.
    await new Promise((resolve) => setImmediate(resolve));
    let drained = false;
    const draining = committer.drain().then(() => (drained = true));
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drained, false, 'drain resolved with a batch still committing');
    commit();
    await draining;
    assert.deepEqual(await pending, COUNTED);
  });
});

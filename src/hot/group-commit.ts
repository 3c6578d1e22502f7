import type { Labels, Metrics } from '../lib/metrics.js';
import type { Outcome } from '../domain/outcome.js';
import type { EventRecord, ImpressionType } from '../ports/ledger.js';
import type { BatchRecorder } from '../ports/recorder.js';
import { UnsyncedCommitError } from '../ports/recorder.js';
import { AdvisedWriteError, WRITE_FAULTS } from '../lib/write-fault.js';
import type { WriteFault } from '../lib/write-fault.js';

/** Group-commit tuning. */
interface GroupCommitOptions {
  /** Most events committed in one transaction. */
  maxBatch: number;
  /**
   * A batch this large is handed to the recorder at once (when a slot is free), so the counting
   * thread starts on it while this thread reads the next requests.
   */
  flushAtSize: number;
  /** Longest an event waits for its batch, in ms; 0 commits at the end of the current event-loop turn. */
  maxDelayMs: number;
  /** Most events waiting to commit; past it `offer` refuses (the caller answers 503). */
  maxQueue: number;
  /**
   * Most batches handed to the recorder and not yet committed. More than one lets the HTTP
   * thread read and answer requests while the counting thread commits.
   */
  maxInFlight: number;
}

interface Waiting {
  event: EventRecord;
  /** When (`performance.now()`) the event was queued. */
  queuedMs: number;
  committed: (outcome: Outcome) => void;
  failed: (error: unknown) => void;
}

/** How long after a failed commit, with none succeeding since, the ledger is taken as failing. */
const FAILING_FOR_MS = 5000;

/**
 * The counter of failed commits of the batches handed to the counting thread (shown from 0 at start,
 * so that its first increase is seen): per batch, not per transaction, as the thread commits the
 * batches queued while it commits one together.
 */
export const COMMIT_FAILURES_METRIC = {
  name: 'tally_commit_failures_total',
  help: 'Batches handed to the counting thread whose commit failed (their events were answered 503); each counts, also when several failed in one transaction',
} as const;

/**
 * The gauge of each fault Tally tells apart (`kind`: `disk_full`), shown at 0 from the start: 1
 * while the last commit failed for it and none has gone through since, whether notices still come
 * or not (`/readyz` says the ledger fails for 5 s after a failed commit, then lets notices try).
 */
export const COMMIT_FAULT_METRIC = {
  name: 'tally_commit_fault',
  help: 'Whether the last commit failed for this fault and none has gone through since (1) or not (0); disk_full: the disk under the data directory is full (SQLITE_FULL)',
} as const;

/**
 * The histogram of events per batch handed to the counting thread, its buckets up to the largest
 * `TALLY_COMMIT_MAX_BATCH` (100 000): per batch, not per transaction, which may hold several.
 */
export const COMMIT_BATCH_SIZE_METRIC = {
  name: 'tally_commit_batch_size',
  help: 'Events per batch handed to the counting thread (which commits the batches queued while it commits one together, in one transaction)',
  buckets: [1, 8, 32, 128, 512, 2048, 8192, 32768, 131072],
} as const;

/**
 * The histogram of the time from handing one batch to the counting thread to its commit, in seconds
 * (Prometheus' base unit), with any wait for the transaction before it; its buckets up to the 10 s
 * of a disk that stalls.
 */
export const COMMIT_LATENCY_METRIC = {
  name: 'tally_commit_latency_seconds',
  help: 'Time from handing one batch to the counting thread to its commit, in seconds, with any wait for the transaction before it',
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const;

/**
 * The histogram of the time each notice or hit waits from its queueing to its batch's commit, in
 * seconds: its answer goes out then, so this is the time the ledger adds to it. Its buckets run
 * from the 0.5 ms of a quiet ledger, through the 20 ms an answer should take at most, up to the
 * 10 s of a disk that stalls.
 */
export const NOTICE_WAIT_METRIC = {
  name: 'tally_notice_commit_wait_seconds',
  help: 'Time each committed notice or hit waited from its queueing to its commit, in seconds',
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const;

/** The counter of committed notices and hits, by outcome, reason and impression type. */
export const NOTICES_METRIC = {
  name: 'tally_notices_total',
  help: 'Notices and hits recorded, by outcome, reason and impression type',
} as const;

/**
 * The labels of an event's {@link NOTICES_METRIC} series, always in this order (a series is known
 * by its labels as written); the reason is empty for a counted one.
 */
export function noticeLabels(
  outcome: Outcome,
  impressionType: ImpressionType,
): { outcome: Outcome['outcome']; reason: string; impression_type: ImpressionType } {
  return {
    outcome: outcome.outcome,
    reason: outcome.outcome === 'counted' ? '' : outcome.reason,
    impression_type: impressionType,
  };
}

/**
 * Batches decided events into one ledger transaction each and calls back for every one only after
 * its batch committed: nothing is answered before it is durable. Up to `maxInFlight`
 * batches are with the recorder at once (it commits them in order); what arrives while they
 * are forms the next batch, so batches grow with the load.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private scheduled = false;
  /** The batches with the recorder, each with when (`performance.now()`) it was handed over. */
  private readonly inFlight = new Map<Promise<void>, number>();
  /** The events in the batches with the recorder. */
  private inFlightEvents = 0;
  /** When (`performance.now()`) a commit last failed, and last succeeded. */
  private lastFailedMs = -Infinity;
  private lastCommittedMs = -Infinity;
  /** The last commit's failure, when it had a fault told apart (see `AdvisedWriteError`). */
  private lastFailure: AdvisedWriteError | undefined;

  constructor(
    private readonly recorder: BatchRecorder,
    private readonly options: GroupCommitOptions,
    private readonly metrics: Metrics,
  ) {
    metrics.gauge(
      'tally_commit_queue_depth',
      'Events waiting for their group commit',
      () => this.queue.length,
    );
    metrics.gauge(
      'tally_commit_queue_limit',
      'Most events tally_commit_queue_depth may reach (TALLY_COMMIT_MAX_QUEUE): past it notices and hits are answered 503 (queue_full)',
      () => this.options.maxQueue,
    );
    metrics.gauge(
      'tally_commit_in_flight_events',
      'Events handed to the counting thread and not yet committed',
      () => this.inFlightEvents,
    );
    metrics.gauge(
      'tally_commit_oldest_wait_seconds',
      'How long the batch longest with the counting thread has waited for its commit (0 with none): seconds are a stuck thread or stalling disk',
      // To the microsecond: performance.now()'s fractions would print as 0.0031234999999999997.
      () => Math.round(this.commitWaitingMs() * 1000) / 1_000_000,
    );
    for (const kind of WRITE_FAULTS)
      metrics.gauge(COMMIT_FAULT_METRIC.name, COMMIT_FAULT_METRIC.help, () => this.faultGauge(kind), {
        kind,
      });
  }

  /** 1 while the last commit failed for `fault` and none has gone through since, else 0. */
  private faultGauge(fault: WriteFault): number {
    return this.lastFailedMs > this.lastCommittedMs && this.lastFailure?.fault === fault ? 1 : 0;
  }

  /**
   * Queues an event and calls `committed` with its outcome once its batch committed, or `failed`
   * when it did not, or did but could not be synced to the disk (an `UnsyncedCommitError`, its
   * events then counted in the metrics by their outcomes all the same); answers false (calling
   * neither) when the queue is full: the caller answers 503, never drops it silently. No promise
   * per event; the callbacks run as the batch settles and must not throw.
   */
  offer(
    event: EventRecord,
    committed: (outcome: Outcome) => void,
    failed: (error: unknown) => void,
  ): boolean {
    if (this.queue.length >= this.options.maxQueue) return false;
    this.queue.push({ event, queuedMs: performance.now(), committed, failed });
    if (this.queue.length >= this.options.flushAtSize && this.inFlight.size < this.options.maxInFlight)
      this.flush();
    else this.schedule();
    return true;
  }

  /**
   * Whether the ledger is failing: the last commit failed, less than `FAILING_FOR_MS` ago, and
   * none has succeeded since. After that it is taken as well again, so that the next notices try
   * it anew (a full disk freed, a lock released), whoever sends them.
   */
  isFailing(): boolean {
    return this.lastFailedMs > this.lastCommittedMs && performance.now() - this.lastFailedMs < FAILING_FOR_MS;
  }

  /**
   * While the ledger {@link isFailing}, what to do about its last failure (a full disk: free
   * space), when the recorder said; otherwise `undefined`.
   */
  failureAdvice(): string | undefined {
    return this.isFailing() ? this.lastFailure?.advice : undefined;
  }

  /**
   * How long, in ms, the batch longest with the recorder has waited for its commit (0 when none
   * is): a commit neither done nor failed after seconds is a counting thread stuck or a disk
   * stalling, its notices unanswered meanwhile.
   */
  commitWaitingMs(): number {
    // Batches are handed over in order: the first is the one longest waiting.
    const [oldestMs] = this.inFlight.values();
    return oldestMs === undefined ? 0 : performance.now() - oldestMs;
  }

  /** Commits everything queued; resolves when nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.allSettled([...this.inFlight.keys()]);
    }
  }

  /**
   * Adds a recorded batch's events to {@link NOTICES_METRIC} by their `outcomes`, one increment
   * per series; with `answer` (a commit that is durable), calls each event back with its outcome
   * in the same pass.
   */
  private countRecorded(batch: readonly Waiting[], outcomes: readonly Outcome[], answer: boolean): void {
    const byLabels = new Map<string, { labels: Labels; count: number }>();
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) {
        if (answer) waiting.failed(new Error('the recorder returned fewer outcomes than events'));
        return;
      }
      const labels = noticeLabels(outcome, waiting.event.dims.impressionType);
      const key = `${labels.outcome}/${labels.reason}/${labels.impression_type}`;
      const entry = byLabels.get(key) ?? { labels, count: 0 };
      entry.count++;
      byLabels.set(key, entry);
      if (answer) waiting.committed(outcome);
    });
    for (const { labels, count } of byLabels.values()) {
      this.metrics.inc(NOTICES_METRIC.name, NOTICES_METRIC.help, labels, count);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight.size >= this.options.maxInFlight) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.options.maxDelayMs > 0) setTimeout(run, this.options.maxDelayMs);
    else setImmediate(run);
  }

  private flush(): void {
    if (this.inFlight.size >= this.options.maxInFlight) return;
    const batch = this.queue.splice(0, this.options.maxBatch);
    if (batch.length === 0) return;
    const startedMs = performance.now();
    const committed: Promise<void> = this.recorder
      .record(batch.map((waiting) => waiting.event))
      .then(
        (outcomes) => {
          const committedMs = performance.now();
          this.lastCommittedMs = committedMs;
          const size = COMMIT_BATCH_SIZE_METRIC;
          this.metrics.observe(size.name, size.help, batch.length, size.buckets);
          const latency = COMMIT_LATENCY_METRIC;
          const latencySeconds = (committedMs - startedMs) / 1000;
          this.metrics.observe(latency.name, latency.help, latencySeconds, latency.buckets);
          const waitsSeconds = batch.map((waiting) => (committedMs - waiting.queuedMs) / 1000);
          this.metrics.observeEach(
            NOTICE_WAIT_METRIC.name,
            NOTICE_WAIT_METRIC.help,
            waitsSeconds,
            NOTICE_WAIT_METRIC.buckets,
          );
          this.countRecorded(batch, outcomes, true);
        },
        (error: unknown) => {
          this.lastFailedMs = performance.now();
          this.lastFailure = error instanceof AdvisedWriteError ? error : undefined;
          this.metrics.inc(COMMIT_FAILURES_METRIC.name, COMMIT_FAILURES_METRIC.help);
          // Committed but not synced: answered 503, yet in the ledger, so counted by their outcomes.
          if (error instanceof UnsyncedCommitError) this.countRecorded(batch, error.outcomes, false);
          for (const waiting of batch) waiting.failed(error);
        },
      )
      .finally(() => {
        this.inFlight.delete(committed);
        this.inFlightEvents -= batch.length;
        if (this.queue.length > 0) this.flush();
      });
    this.inFlight.set(committed, startedMs);
    this.inFlightEvents += batch.length;
    if (this.queue.length > 0) this.flush();
  }
}

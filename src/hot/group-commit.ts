import type { Metrics } from '../lib/metrics.js';
import type { Outcome } from '../domain/outcome.js';
import type { EventRecord } from '../ports/ledger.js';
import type { BatchRecorder } from '../ports/recorder.js';

/** Group-commit tuning. */
export interface GroupCommitOptions {
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
  committed: (outcome: Outcome) => void;
  failed: (error: unknown) => void;
}

/** The counter of failed group commits (shown from 0 at start, so that its first increase is seen). */
export const COMMIT_FAILURES_METRIC = {
  name: 'tally_commit_failures_total',
  help: 'Group commits that failed (their events were answered 503)',
} as const;

const BATCH_SIZE_BUCKETS = [1, 8, 32, 128, 512, 2048];
const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250];

/**
 * Batches decided events into one ledger transaction each and calls back for every one only after
 * its batch committed: nothing is answered before it is durable. Up to `maxInFlight`
 * batches are with the recorder at once (it commits them in order); what arrives while they
 * are forms the next batch, so batches grow with the load.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();

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
  }

  /**
   * Queues an event and calls `committed` with its outcome once its batch committed, or `failed`
   * when it did not; answers false (calling neither) when the queue is full: the caller answers
   * 503, never drops it silently. No promise per event; the callbacks run as the batch settles
   * and must not throw.
   */
  offer(
    event: EventRecord,
    committed: (outcome: Outcome) => void,
    failed: (error: unknown) => void,
  ): boolean {
    if (this.queue.length >= this.options.maxQueue) return false;
    this.queue.push({ event, committed, failed });
    if (this.queue.length >= this.options.flushAtSize && this.inFlight.size < this.options.maxInFlight)
      this.flush();
    else this.schedule();
    return true;
  }

  /** Commits everything queued; resolves when nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.allSettled([...this.inFlight]);
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
    const started = performance.now();
    const committed: Promise<void> = this.recorder
      .record(batch.map((waiting) => waiting.event))
      .then(
        (outcomes) => {
          this.metrics.observe(
            'tally_commit_batch_size',
            'Events per group commit',
            batch.length,
            BATCH_SIZE_BUCKETS,
          );
          this.metrics.observe(
            'tally_commit_latency_ms',
            'Time to commit one batch, in ms',
            performance.now() - started,
            LATENCY_BUCKETS_MS,
          );
          const byLabels = new Map<string, { labels: Record<string, string>; count: number }>();
          batch.forEach((waiting, index) => {
            const outcome = outcomes[index];
            if (outcome === undefined) {
              waiting.failed(new Error('the recorder returned fewer outcomes than events'));
              return;
            }
            const { impressionType } = waiting.event.dims;
            const reason = outcome.outcome === 'counted' ? '' : outcome.reason;
            const key = `${outcome.outcome}/${reason}/${impressionType}`;
            const entry = byLabels.get(key) ?? {
              labels: { outcome: outcome.outcome, reason, impression_type: impressionType },
              count: 0,
            };
            entry.count++;
            byLabels.set(key, entry);
            waiting.committed(outcome);
          });
          for (const { labels, count } of byLabels.values()) {
            this.metrics.inc(
              'tally_notices_total',
              'Notices and hits recorded, by outcome, reason and impression type',
              labels,
              count,
            );
          }
        },
        (error: unknown) => {
          this.metrics.inc(COMMIT_FAILURES_METRIC.name, COMMIT_FAILURES_METRIC.help);
          for (const waiting of batch) waiting.failed(error);
        },
      )
      .finally(() => {
        this.inFlight.delete(committed);
        if (this.queue.length > 0) this.flush();
      });
    this.inFlight.add(committed);
    if (this.queue.length > 0) this.flush();
  }
}

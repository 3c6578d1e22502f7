import type { Outcome } from '../domain/outcome.js';
import type { Metrics } from '../lib/metrics.js';
import type { EventRecord, Ledger } from '../ports/ledger.js';
import type { BatchRecorder } from '../ports/recorder.js';

/** Group-commit tuning. */
export interface GroupCommitOptions {
  /** Most events committed in one transaction. */
  maxBatch: number;
  /** Longest an event waits for its batch, in ms; 0 commits at the end of the current event-loop turn. */
  maxDelayMs: number;
  /** Most events waiting to commit; past it `submit` refuses (the caller answers 503). */
  maxQueue: number;
}

interface Waiting {
  event: EventRecord;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

const BATCH_SIZE_BUCKETS = [1, 8, 32, 128, 512, 2048];
const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250];

/** A `BatchRecorder` that commits on the calling thread, through the ledger itself. */
export function inlineRecorder(ledger: Ledger): BatchRecorder {
  return {
    record: (batch) => new Promise<Outcome[]>((resolve) => resolve(ledger.record(batch))),
    close: () => Promise.resolve(),
  };
}

/**
 * Batches events into one ledger transaction each and resolves every event's promise only
 * after its batch committed: nothing is answered before it is durable. One batch is in flight
 * at a time; what arrives meanwhile forms the next batch, so batches grow with the load.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | undefined;

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

  /** Queues an event; `undefined` when the queue is full (answer 503, never drop silently). */
  submit(event: EventRecord): Promise<Outcome> | undefined {
    if (this.queue.length >= this.options.maxQueue) return undefined;
    const promise = new Promise<Outcome>((resolve, reject) => this.queue.push({ event, resolve, reject }));
    this.schedule();
    return promise;
  }

  /** Commits everything queued; resolves when nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight !== undefined) {
      if (this.inFlight === undefined) this.flush();
      await this.inFlight;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight !== undefined) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    if (this.options.maxDelayMs > 0) setTimeout(run, this.options.maxDelayMs);
    else setImmediate(run);
  }

  private flush(): void {
    if (this.inFlight !== undefined) return;
    const batch = this.queue.splice(0, this.options.maxBatch);
    if (batch.length === 0) return;
    const started = performance.now();
    this.inFlight = this.recorder
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
          const recorded = new Map<string, { labels: Record<string, string>; count: number }>();
          batch.forEach((waiting, index) => {
            const outcome = outcomes[index];
            if (outcome === undefined) {
              waiting.reject(new Error('the ledger returned fewer outcomes than events'));
              return;
            }
            const reason = outcome.outcome === 'counted' ? '' : outcome.reason;
            const impressionType = waiting.event.dims.impressionType;
            const key = `${outcome.outcome}/${reason}/${impressionType}`;
            const entry = recorded.get(key) ?? {
              labels: { outcome: outcome.outcome, reason, impression_type: impressionType },
              count: 0,
            };
            entry.count++;
            recorded.set(key, entry);
            waiting.resolve(outcome);
          });
          for (const { labels, count } of recorded.values()) {
            this.metrics.inc(
              'tally_notices_total',
              'Notices and hits recorded, by outcome, reason and impression type',
              labels,
              count,
            );
          }
        },
        (error: unknown) => {
          this.metrics.inc(
            'tally_commit_failures_total',
            'Group commits that failed (their events were answered 503)',
          );
          for (const waiting of batch) waiting.reject(error);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.queue.length > 0) this.flush();
      });
  }
}

import type { Outcome } from '../domain/outcome.js';
import type { Metrics } from '../lib/metrics.js';
import type { EventRecord, Ledger } from '../ports/ledger.js';

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

/**
 * Batches events into one ledger transaction each and resolves every event's promise only
 * after its batch committed: nothing is answered before it is durable.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private scheduled = false;
  private draining: Promise<void> | undefined;

  constructor(
    private readonly ledger: Ledger,
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
    if (this.queue.length >= this.options.maxBatch) this.flush();
    else this.schedule();
    return promise;
  }

  /** Commits everything queued; resolves when the queue is empty. */
  drain(): Promise<void> {
    this.draining ??= new Promise<void>((resolve) => {
      while (this.queue.length > 0) this.flush();
      resolve();
    }).finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      while (this.queue.length > 0) this.flush();
    };
    if (this.options.maxDelayMs > 0) setTimeout(run, this.options.maxDelayMs);
    else setImmediate(run);
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.options.maxBatch);
    if (batch.length === 0) return;
    const started = performance.now();
    let outcomes: Outcome[];
    try {
      outcomes = this.ledger.record(batch.map((waiting) => waiting.event));
    } catch (error) {
      this.metrics.inc(
        'tally_commit_failures_total',
        'Group commits that failed (their events were answered 503)',
      );
      for (const waiting of batch) waiting.reject(error);
      return;
    }
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
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) waiting.reject(new Error('ledger returned fewer outcomes than events'));
      else waiting.resolve(outcome);
    });
  }
}

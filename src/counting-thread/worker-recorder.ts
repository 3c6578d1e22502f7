import type { Worker } from 'node:worker_threads';
import type { Logger } from '../lib/log.js';
import { startWorkerThread } from '../lib/worker-entry.js';
import { AdvisedWriteError } from '../lib/write-fault.js';
import { errorCode } from '../lib/error-code.js';
import type { Metrics } from '../lib/metrics.js';
import type { Outcome } from '../domain/outcome.js';
import type { EventRecord } from '../ports/ledger.js';
import type { BatchRecorder } from '../ports/recorder.js';
import { UnsyncedCommitError } from '../ports/recorder.js';
import type { CounterSettings, FromCounter, ToCounter } from './protocol.js';
import { decodeOutcomes, encodeBatch } from './wire.js';

/**
 * After the first unexpected exit a new counting thread starts at once; after each further one
 * in a row (no batch committed in between) it waits twice as long, from this, up to the maximum.
 */
const RESPAWN_BACKOFF_MS = 1000;
const MAX_RESPAWN_DELAY_MS = 60_000;

interface Pending {
  resolve: (outcomes: Outcome[]) => void;
  reject: (error: Error) => void;
}

/**
 * A `BatchRecorder` whose batches are committed on the counting thread (`worker.ts`), so the
 * HTTP thread never waits for a row to be written or a commit to reach the disk. Should the
 * thread die, its batches in flight are rejected (their notices answered 503, never
 * acknowledged) and a new one starts at once, or, when it keeps dying, after a growing pause
 * during which batches are refused.
 */
export class WorkerRecorder implements BatchRecorder {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing: Promise<void> | undefined;
  /** Unexpected exits since a thread last committed a batch. */
  private exitsInARow = 0;
  /**
   * Until then (`performance.now()`, which a clock stepped back does not move) no new thread starts
   * and batches are refused (answered 503).
   */
  private respawnAtMs = 0;
  private warm = false;
  /** What the last counting thread to fail failed of, until one is warm again. */
  private lastFailure: string | undefined;

  constructor(
    private readonly settings: CounterSettings,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Starts the counting thread; resolves once it has opened the ledger. */
  start(): Promise<void> {
    if (this.ready === undefined) this.spawn();
    return this.ready ?? Promise.resolve();
  }

  /**
   * True once the running counting thread has loaded the live dedupe claims from the ledger
   * (seconds with millions of them); until then its batches wait for it. False while no thread runs.
   */
  isWarm(): boolean {
    return this.warm;
  }

  /**
   * Why the counting thread failed, when the last one did and none has loaded the claims since
   * (a damaged ledger fails every new one: `SQLITE_CORRUPT`); else `undefined`.
   */
  failure(): string | undefined {
    return this.lastFailure;
  }

  record(batch: readonly EventRecord[]): Promise<Outcome[]> {
    if (this.closing !== undefined) return Promise.reject(new Error('the recorder is closed'));
    if (this.worker === undefined && performance.now() < this.respawnAtMs) {
      return Promise.reject(new Error('the counting thread is restarting'));
    }
    const worker = this.worker ?? this.trySpawn();
    if (worker === undefined) return Promise.reject(new Error('the counting thread could not start'));
    const id = this.nextId++;
    return new Promise<Outcome[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const message: ToCounter = { type: 'record', id, batch: encodeBatch(batch) };
      worker.postMessage(message);
    });
  }

  /**
   * Has the burl relay end its calls in flight now rather than wait for their answers or time
   * limit, their deliveries left pending for the next start (see `BurlDispatcher.abandonCalls`):
   * at the end of a shutdown's grace period, before or during `close()`.
   */
  abandonCalls(): void {
    const message: ToCounter = { type: 'abandon_calls' };
    this.worker?.postMessage(message);
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const worker = this.worker;
      if (worker === undefined) {
        resolve();
        return;
      }
      worker.once('exit', () => resolve());
      const message: ToCounter = { type: 'close' };
      worker.postMessage(message);
    });
    return this.closing;
  }

  /**
   * Starts a thread where a failure to start one must not throw (a notice being recorded, a
   * restart): logs it and leaves no thread, to be tried again by the next batch after a pause,
   * batches meanwhile refused (answered 503).
   */
  private trySpawn(): Worker | undefined {
    try {
      return this.spawn();
    } catch (error) {
      this.respawnAtMs = performance.now() + RESPAWN_BACKOFF_MS;
      this.log.error('counter_spawn_failed', { error: String(error), restartInMs: RESPAWN_BACKOFF_MS });
      return undefined;
    }
  }

  private spawn(): Worker {
    const worker = startWorkerThread(import.meta.url, this.settings);
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromCounter) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'warm') {
          this.warm = this.worker === worker;
          if (this.warm) this.lastFailure = undefined;
        } else this.receive(message);
      });
      worker.on('error', (error: unknown) => {
        // An error thrown on the thread arrives as a copy: a SQLite error's as its code alone.
        const described =
          error instanceof Error ? String(error) : (errorCode(error) ?? JSON.stringify(error));
        this.lastFailure = described;
        this.log.error('counter_failed', { error: described });
        reject(error instanceof Error ? error : new Error(`the counting thread failed: ${described}`));
      });
      worker.on('exit', (code) => {
        // A thread that ends before it is ready fails the start (once ready, this changes nothing).
        reject(new Error(`the counting thread exited (${code}) before it was ready`));
        if (this.worker === worker) {
          this.worker = undefined;
          this.warm = false;
        }
        this.failAll(new Error(`the counting thread exited (${code})`));
        if (this.closing !== undefined) return;
        // A thread that keeps dying (a broken disk, say) is restarted less and less often.
        this.exitsInARow++;
        const delayMs =
          this.exitsInARow === 1
            ? 0
            : Math.min(RESPAWN_BACKOFF_MS * 2 ** (this.exitsInARow - 2), MAX_RESPAWN_DELAY_MS);
        this.respawnAtMs = performance.now() + delayMs;
        this.log.error('counter_exited', { code, restartInMs: delayMs });
        // A new thread resumes the burl relay and pruning even if no notice comes to start one.
        setTimeout(() => {
          if (this.worker === undefined && this.closing === undefined) this.trySpawn();
        }, delayMs).unref();
      });
    });
    // A start that fails is reported by `start()`; batches in flight are rejected on exit.
    this.ready.catch(() => undefined);
    return worker;
  }

  private receive(message: FromCounter): void {
    if (message.type === 'metric') {
      this.metrics.inc(message.name, message.help, message.labels, message.value);
    } else if (message.type === 'recorded' || message.type === 'failed' || message.type === 'unsynced') {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'recorded') {
        this.exitsInARow = 0;
        pending?.resolve(decodeOutcomes(message.outcomes));
      } else if (message.type === 'unsynced') {
        pending?.reject(new UnsyncedCommitError(message.error, decodeOutcomes(message.outcomes)));
      } else
        pending?.reject(
          message.fault === undefined
            ? new Error(message.error)
            : new AdvisedWriteError(message.error, message.fault),
        );
    }
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

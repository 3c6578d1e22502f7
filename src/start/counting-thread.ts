import { retryPolicy } from '../billing/retry.js';
import type { Config } from '../config.js';
import { WorkerRecorder } from '../counting-thread/worker-recorder.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';

const PRUNE_INTERVAL_MS = 3_600_000;

/**
 * The counting thread, not yet started: it owns the ledger's writes at `dbPath` (notices, the
 * burl dispatcher, retention pruning), with the configuration's settings for them.
 */
export function countingThread(
  config: Config,
  dbPath: string,
  metrics: Metrics,
  log: Logger,
): WorkerRecorder {
  return new WorkerRecorder(
    {
      dbPath,
      synchronous: config.sqliteSynchronous,
      dispatcher: {
        pollIntervalMs: 200,
        concurrency: config.burlConcurrency,
        hostConcurrency: config.burlHostConcurrency,
        requestTimeoutMs: config.burlTimeoutMs,
        retry: retryPolicy(config.burlRetrySeconds * 1000),
        privateNetworks: config.burlPrivateNetworks,
      },
      retentionDays: config.retentionDays,
      pruneIntervalMs: PRUNE_INTERVAL_MS,
    },
    metrics,
    log,
  );
}

import { openSqlite } from '../../src/adapters/sqlite/database.js';
import type { CounterSettings } from '../../src/counting-thread/protocol.js';

/**
 * Settings of a counting thread on the ledger at `dbPath` (made, migrated, if new), whose relay
 * polls once a minute, one call at a time, and which prunes hourly by a retention that keeps
 * every notice; `overrides` changes any of it.
 */
export function counterSettings(dbPath: string, overrides: Partial<CounterSettings> = {}): CounterSettings {
  openSqlite(dbPath).close();
  return {
    dbPath,
    synchronous: 'FULL',
    dispatcher: {
      pollIntervalMs: 60_000,
      concurrency: 1,
      hostConcurrency: 1,
      requestTimeoutMs: 1000,
      retry: { firstMinuteIntervalMs: 10_000, maxIntervalMs: 60_000 },
      privateNetworks: 'deny',
    },
    // Notices of the tests are received at T0 (2026-11-22); a thread prunes as it starts, so a
    // shorter retention would prune them once the tests run more than that long after T0.
    retentionDays: 36_500,
    pruneIntervalMs: 3_600_000,
    ...overrides,
  };
}

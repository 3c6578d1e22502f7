import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { jsonLogger } from '../lib/log.js';
import { Metrics } from '../lib/metrics.js';
import type { CounterSettings } from './protocol.js';
import { WorkerRecorder } from './worker-recorder.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-worker-close-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function settings(dbPath: string): CounterSettings {
  openSqlite(dbPath).close();
  return {
    dbPath,
    synchronous: 'FULL',
    dispatcher: {
      pollIntervalMs: 60_000,
      concurrency: 1,
      requestTimeoutMs: 1000,
      retry: { firstMinuteIntervalMs: 10_000, maxIntervalMs: 60_000 },
      privateNetworks: 'deny',
    },
    retentionDays: 36_500,
    pruneIntervalMs: 3_600_000,
  };
}

describe('counting thread closed as it starts', () => {
  it('does not load the claims from a ledger it already closed (no counter_failed)', async () => {
    for (let run = 0; run < 5; run++) {
      const lines: string[] = [];
      const recorder = new WorkerRecorder(
        settings(join(dir, `close-${run}.db`)),
        new Metrics(),
        jsonLogger((line) => lines.push(line)),
      );
      // The close message is waiting in the port before the thread's first turn of its event loop.
      const started = recorder.start().then(
        () => undefined,
        (error: unknown) => error,
      );
      await recorder.close();
      assert.equal(await started, undefined);
      assert.deepEqual(
        lines.filter((line) => line.includes('counter_failed')),
        [],
      );
    }
  });
});

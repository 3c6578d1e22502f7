import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { Logger } from '../lib/log.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import { BurlDispatcher } from './dispatcher.js';
import type { DispatcherOptions } from './dispatcher.js';

const HOUR_MS = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'tally-dispatcher-'));
const silent: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const noMetrics = { inc: () => {} };

/**
 * The DSP: every burl call is counted; the first `/held` call waits in `held` for the test to
 * answer it, every other call gets its 200 at once.
 */
let dsp: Server;
let dspUrl: string;
const calls: string[] = [];
const held: ServerResponse[] = [];

before(async () => {
  dsp = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://dsp.invalid').pathname;
    calls.push(path);
    if (path === '/held' && held.length === 0) held.push(res);
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
  dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => dsp.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** Waits (a few ms at a time, no deadline of its own) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const options: DispatcherOptions = {
  pollIntervalMs: 5,
  concurrency: 4,
  requestTimeoutMs: 60_000,
  retry: { firstMinuteIntervalMs: 10_000, maxIntervalMs: 15 * 60_000 },
  privateNetworks: 'allow',
};

describe('the burl dispatcher', () => {
  it('never sends a delivery a second time while its first call is in flight, even when the clock jumps past its lease', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'in-flight.db')));
    ledger.record([
      exchangeEvent({
        dedupe: { key: 'held-impression', expiresMs: T0 + HOUR_MS },
        delivery: { url: `${dspUrl}/held`, deadlineMs: T0 + 3 * HOUR_MS },
      }),
    ]);
    let nowMs = T0;
    const dispatcher = new BurlDispatcher(ledger, options, noMetrics, silent, () => nowMs);
    dispatcher.start();
    try {
      await until(() => held.length === 1);
      // The wall clock steps forward (NTP, a resumed VM) while the DSP is still answering:
      // the lease has run out and the next poll leases the delivery again.
      nowMs += 10 * 60_000;
      await until(() => ledger.listDeliveries(1, 'pending', 10)[0]?.attempts === 2);
      held[0]?.writeHead(200).end('ok');
      await dispatcher.stop();
      assert.deepEqual(calls, ['/held'], 'the DSP was called once');
      assert.equal(ledger.listDeliveries(1, 'delivered', 10).length, 1);
    } finally {
      await dispatcher.stop();
      for (const res of held) if (!res.headersSent) res.writeHead(200).end();
      ledger.close();
    }
  });
});

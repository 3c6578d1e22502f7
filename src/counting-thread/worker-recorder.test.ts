import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { defaultIvtFilter } from '../domain/ivt-filter.js';
import { NO_REDIRECT_ALLOWLIST } from '../domain/tracker-hit.js';
import { COUNTED } from '../domain/outcome.js';
import { sealToken } from '../domain/token.js';
import { jsonLogger } from '../lib/log.js';
import { Metrics } from '../lib/metrics.js';
import { noticeEvent } from '../hot/notice-event.js';
import type { EventRecord } from '../ports/ledger.js';
import { WorkerRecorder } from './worker-recorder.js';
import { bannerClaims, testKeyRing } from '../../test/support/claims.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import { counterSettings } from '../../test/support/counter-settings.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * How long a test waits for what a counting thread does on its own (start, die and be replaced,
 * prune, relay). Each wait ends as soon as it is done; on a loaded 2-core machine one thread's
 * start (its sources loaded through tsx) has taken several seconds, so a few of them, or one
 * and its work, overran the 5, 10 and 15 s this file used to allow.
 */
const THREAD_WAIT_MS = 60_000;

/** Waits until the ledger holds at most `total` events, as the thread prunes, or THREAD_WAIT_MS. */
async function prunedTo(ledger: SqliteLedger, total: number): Promise<void> {
  const deadlineMs = Date.now() + THREAD_WAIT_MS;
  while (ledger.countEvents().total > total && Date.now() < deadlineMs) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const ring = testKeyRing();

/** A notice of a banner win, decided as the HTTP thread decides it. */
function noticeFor(
  auctionId: string,
  receivedMs = T0 + 1000,
  userAgent = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0',
): EventRecord {
  const request = {
    // Auctioned a second before it is received, whatever the clock says: within every TTL.
    token: sealToken(bannerClaims({ auctionId, auctionTimeMs: receivedMs - 1000 }), ring),
    query: '',
    method: 'GET',
    headers: { 'user-agent': userAgent },
    remoteAddress: '198.51.100.7',
    receivedMs,
  };
  return noticeEvent(request, {
    keyRing: ring,
    ivtFilter: defaultIvtFilter(),
    priceKeysFor: () => undefined,
    redirectAllowlist: () => NO_REDIRECT_ALLOWLIST,
  }).event;
}

const silent = jsonLogger(() => undefined);

describe('the counting thread', () => {
  it('commits batches on a worker thread, in order, before answering, with duplicates found there', async () => {
    const dbPath = join(dir, 'order.db');
    const recorder = new WorkerRecorder(counterSettings(dbPath), new Metrics(), silent);
    await recorder.start();
    const [first, second] = await Promise.all([
      recorder.record([noticeFor('a1'), noticeFor('a2')]),
      recorder.record([noticeFor('a1')]),
    ]);
    assert.deepEqual(first, [COUNTED, COUNTED]);
    assert.deepEqual(second, [{ outcome: 'not_counted', reason: 'duplicate' }]);
    const ledger = new SqliteLedger(openSqlite(dbPath));
    assert.deepEqual(ledger.countEvents(), { total: 3, counted: 2 });
    ledger.close();
    await recorder.close();
  });

  it('names its thread tally-counting for the operating system, where operators can find and pin it', async () => {
    const threadNames = () =>
      readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    assert.equal(
      threadNames().includes('tally-counting'),
      false,
      'no tally-counting thread before the recorder starts',
    );
    const recorder = new WorkerRecorder(counterSettings(join(dir, 'named.db')), new Metrics(), silent);
    try {
      await recorder.start();
      assert.ok(threadNames().includes('tally-counting'), threadNames().join(', '));
    } finally {
      await recorder.close();
    }
  });

  it('is warm only once its counting thread has loaded the ledger’s live claims, and cold again while a new thread loads them', async () => {
    const dbPath = join(dir, 'warm.db');
    const recorderSettings = counterSettings(dbPath);
    const nowMs = Date.now();
    const ledger = new SqliteLedger(openSqlite(dbPath));
    for (let batch = 0; batch < 20; batch++) {
      ledger.record(
        Array.from({ length: 1000 }, (_, index) =>
          exchangeEvent({
            receivedMs: nowMs,
            dedupe: { key: `live-${batch}-${index}`, expiresMs: nowMs + 3_600_000 },
          }),
        ),
      );
    }
    ledger.close();
    const recorder = new WorkerRecorder(recorderSettings, new Metrics(), silent);
    const untilWarm = async () => {
      const deadlineMs = Date.now() + THREAD_WAIT_MS;
      while (!recorder.isWarm()) {
        assert.ok(Date.now() < deadlineMs, 'the counting thread never became warm');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    try {
      assert.equal(recorder.isWarm(), false, 'warm before any thread ran');
      await recorder.start();
      assert.equal(recorder.isWarm(), false, 'warm before 20 000 live claims were loaded');
      await untilWarm();
      const dead = recorder['worker'];
      await dead?.terminate();
      assert.equal(recorder.isWarm(), false, 'still warm after its thread died');
      await untilWarm();
      assert.notEqual(recorder['worker'], dead);
    } finally {
      await recorder.close();
    }
  });

  it('rejects the batches in flight when the thread dies, and starts a new one for the next batch', async () => {
    const recorder = new WorkerRecorder(counterSettings(join(dir, 'crash.db')), new Metrics(), silent);
    await recorder.start();
    // Fault injection: the thread is stopped (it runs no more JavaScript) with a batch on its way.
    const terminated = recorder['worker']?.terminate();
    const inFlight = recorder.record([noticeFor('c1')]);
    await terminated;
    await assert.rejects(inFlight, /counting thread exited/);
    const [again] = await recorder.record([noticeFor('c2')]);
    assert.deepEqual(again, COUNTED);
    await recorder.close();
  });

  it('fails its start, rather than waiting for good, when the thread exits before it is ready', async () => {
    const recorder = new WorkerRecorder(counterSettings(join(dir, 'early-exit.db')), new Metrics(), silent);
    const started = recorder.start();
    // Fault injection: the thread ends before opening the ledger, with no error of its own.
    await recorder['worker']?.terminate();
    await assert.rejects(started, /the counting thread exited \(\d+\) before it was ready/);
    await recorder.close();
  });

  it('starts a new counting thread on its own after one died, so the burl relay resumes without traffic', async () => {
    const billed: string[] = [];
    const dsp = createServer((req, res) => {
      billed.push(req.url ?? '');
      res.end();
    });
    await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
    const dbPath = join(dir, 'respawn.db');
    const recorder = new WorkerRecorder(
      counterSettings(dbPath, {
        dispatcher: { ...counterSettings(dbPath).dispatcher, pollIntervalMs: 50, privateNetworks: 'allow' },
      }),
      new Metrics(),
      silent,
    );
    try {
      await recorder.start();
      await recorder['worker']?.terminate();
      // A delivery queued while no counting thread runs, and no notice after it: only a thread
      // started on its own can relay it.
      const other = new SqliteLedger(openSqlite(dbPath));
      const url = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}/bill?a=respawn`;
      other.record([
        exchangeEvent({
          dedupe: { key: 'respawn', expiresMs: Date.now() + 600_000 },
          delivery: { url, deadlineMs: Date.now() + 3_600_000 },
        }),
      ]);
      other.close();
      for (const deadlineMs = Date.now() + THREAD_WAIT_MS; billed.length === 0 && Date.now() < deadlineMs;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(billed, ['/bill?a=respawn']);
    } finally {
      await recorder.close();
      dsp.close();
    }
  });

  it('prunes raw notices past the retention on its own timer, keeping the billing records', async () => {
    const dbPath = join(dir, 'prune.db');
    const recorder = new WorkerRecorder(
      counterSettings(dbPath, { retentionDays: 1, pruneIntervalMs: 50 }),
      new Metrics(),
      silent,
    );
    try {
      await recorder.start();
      const threeDaysAgoMs = Date.now() - 3 * 86_400_000;
      const recorded = await recorder.record([
        noticeFor('old-bot', threeDaysAgoMs, 'Googlebot/2.1'),
        noticeFor('old-billed', threeDaysAgoMs),
        noticeFor('new-billed', Date.now()),
      ]);
      assert.deepEqual(
        recorded.map((outcome) => outcome.outcome),
        ['not_counted', 'counted', 'counted'],
      );
      const ledger = new SqliteLedger(openSqlite(dbPath));
      await prunedTo(ledger, 2);
      assert.deepEqual(ledger.countEvents(), { total: 2, counted: 2 });
      ledger.close();
    } finally {
      await recorder.close();
    }
  });

  it('prunes raw notices past the retention as soon as it starts, not only an interval after', async () => {
    const dbPath = join(dir, 'prune-at-start.db');
    // The interval is an hour: a Tally restarted more often than that must still prune.
    const counter = counterSettings(dbPath, { retentionDays: 1, pruneIntervalMs: 3_600_000 });
    const threeDaysAgoMs = Date.now() - 3 * 86_400_000;
    const ledger = new SqliteLedger(openSqlite(dbPath));
    ledger.record([
      noticeFor('old-bot', threeDaysAgoMs, 'Googlebot/2.1'),
      noticeFor('old-billed', threeDaysAgoMs),
      noticeFor('new-billed', Date.now()),
    ]);
    assert.deepEqual(ledger.countEvents(), { total: 3, counted: 2 });
    const recorder = new WorkerRecorder(counter, new Metrics(), silent);
    try {
      await recorder.start();
      await prunedTo(ledger, 2);
      assert.deepEqual(ledger.countEvents(), { total: 2, counted: 2 });
    } finally {
      await recorder.close();
      ledger.close();
    }
  });

  it('restarts a counting thread that keeps dying less and less often, refusing batches meanwhile', async () => {
    const lines: string[] = [];
    // Fault injection: a ledger path that cannot be created, so every thread dies as it starts.
    const broken = { ...counterSettings(join(dir, 'unused.db')), dbPath: '/dev/null/tally.db' };
    const recorder = new WorkerRecorder(
      broken,
      new Metrics(),
      jsonLogger((line) => lines.push(line)),
    );
    await assert.rejects(recorder.start());
    const restartDelays = () =>
      lines
        .map((line) => JSON.parse(line) as { event: string; restartInMs?: number })
        .filter((entry) => entry.event === 'counter_exited')
        .map((entry) => entry.restartInMs);
    const deadlineMs = Date.now() + THREAD_WAIT_MS;
    while (restartDelays().length < 3 && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(restartDelays(), [0, 1000, 2000]);
    await assert.rejects(recorder.record([noticeFor('r1')]), /the counting thread is restarting/);
    await recorder.close();
  });
});

describe('the counting thread’s outcomes', () => {
  it('answers each batch with its own outcomes when batches that queued behind a commit are committed together', async () => {
    const dbPath = join(dir, 'together.db');
    const recorder = new WorkerRecorder(counterSettings(dbPath), new Metrics(), silent);
    const blocker = openSqlite(dbPath);
    try {
      await recorder.start();
      // Another connection holds the write lock, so the thread waits on its first commit while
      // the other batches queue up behind it.
      blocker.exec('BEGIN IMMEDIATE');
      const answered = [
        recorder.record([noticeFor('t1')]),
        recorder.record([noticeFor('t1')]),
        recorder.record([noticeFor('t2'), noticeFor('t1')]),
      ];
      await new Promise((resolve) => setTimeout(resolve, 100));
      blocker.exec('COMMIT');
      const duplicate = { outcome: 'not_counted', reason: 'duplicate' };
      assert.deepEqual(await Promise.all(answered), [[COUNTED], [duplicate], [COUNTED, duplicate]]);
    } finally {
      blocker.close();
      await recorder.close();
    }
  });

  it('rejects a batch the ledger refuses, answering none of its notices as recorded, and commits the next', async () => {
    const dbPath = join(dir, 'refused.db');
    const recorder = new WorkerRecorder(counterSettings(dbPath), new Metrics(), silent);
    let watchdog: NodeJS.Timeout | undefined;
    try {
      await recorder.start();
      // Should the refused batch go unanswered, closing the recorder rejects it (with another
      // error). Set once the thread has started, so that a slow start is not taken for that.
      watchdog = setTimeout(() => void recorder.close(), THREAD_WAIT_MS);
      // Fault injection: an event no row can hold (its time is not a number).
      await assert.rejects(
        recorder.record([noticeFor('before-poison'), { ...noticeFor('poison'), receivedMs: Number.NaN }]),
        /NOT NULL constraint failed/,
      );
      assert.deepEqual(await recorder.record([noticeFor('after-poison')]), [COUNTED]);
      const ledger = new SqliteLedger(openSqlite(dbPath));
      assert.deepEqual(ledger.countEvents(), { total: 1, counted: 1 }, 'the refused batch left no row');
      ledger.close();
    } finally {
      clearTimeout(watchdog);
      await recorder.close();
    }
  });

  it('refuses only the batch the ledger refuses when it queued up with others to be committed together', async () => {
    const dbPath = join(dir, 'refused-together.db');
    const recorder = new WorkerRecorder(counterSettings(dbPath), new Metrics(), silent);
    const blocker = openSqlite(dbPath);
    try {
      await recorder.start();
      // Another connection holds the write lock, so the batches sent while the first commit waits
      // for it queue up behind it and are committed together.
      blocker.exec('BEGIN IMMEDIATE');
      const before = recorder.record([noticeFor('before-poison')]);
      // Fault injection: an event no row can hold (its time is not a number).
      const poisoned = recorder.record([{ ...noticeFor('poison'), receivedMs: Number.NaN }]);
      const after = recorder.record([noticeFor('after-poison'), noticeFor('before-poison')]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      blocker.exec('COMMIT');
      await assert.rejects(poisoned, /NOT NULL constraint failed/);
      const duplicate = { outcome: 'not_counted', reason: 'duplicate' };
      assert.deepEqual(await Promise.all([before, after]), [[COUNTED], [COUNTED, duplicate]]);
      const ledger = new SqliteLedger(openSqlite(dbPath));
      assert.deepEqual(ledger.countEvents(), { total: 3, counted: 2 });
      ledger.close();
    } finally {
      blocker.close();
      await recorder.close();
    }
  });

  it('finds a notice of an impression counted before the thread started to be a duplicate', async () => {
    const dbPath = join(dir, 'claims-at-start.db');
    const counter = counterSettings(dbPath);
    const receivedMs = Date.now();
    const ledger = new SqliteLedger(openSqlite(dbPath));
    assert.deepEqual(ledger.record([noticeFor('before-start', receivedMs)]), [COUNTED]);
    ledger.close();
    const recorder = new WorkerRecorder(counter, new Metrics(), silent);
    try {
      await recorder.start();
      assert.deepEqual(await recorder.record([noticeFor('before-start', receivedMs + 1000)]), [
        { outcome: 'not_counted', reason: 'duplicate' },
      ]);
    } finally {
      await recorder.close();
    }
  });

  it('restarts a thread at once after it died, however many died before, once one has committed a batch', async () => {
    const lines: string[] = [];
    const recorder = new WorkerRecorder(
      counterSettings(join(dir, 'recovered.db')),
      new Metrics(),
      jsonLogger((line) => lines.push(line)),
    );
    const restartDelays = () =>
      lines
        .map((line) => JSON.parse(line) as { event: string; restartInMs?: number })
        .filter((entry) => entry.event === 'counter_exited')
        .map((entry) => entry.restartInMs);
    const untilExits = async (count: number) => {
      const deadlineMs = Date.now() + THREAD_WAIT_MS;
      while (restartDelays().length < count && Date.now() < deadlineMs) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    try {
      await recorder.start();
      for (let crash = 1; crash <= 2; crash++) {
        assert.deepEqual(await recorder.record([noticeFor(`recovered-${crash}`)]), [COUNTED]);
        // Fault injection: the thread that just committed stops.
        await recorder['worker']?.terminate();
        await untilExits(crash);
      }
      assert.deepEqual(restartDelays(), [0, 0]);
    } finally {
      await recorder.close();
    }
  });

  it('commits and answers the batches sent before it is closed, rather than dropping them', async () => {
    const dbPath = join(dir, 'closing.db');
    const recorder = new WorkerRecorder(counterSettings(dbPath), new Metrics(), silent);
    const blocker = openSqlite(dbPath);
    try {
      await recorder.start();
      // Another connection holds the write lock, so the close waits in the port with the last
      // batch, behind the thread's first commit.
      blocker.exec('BEGIN IMMEDIATE');
      const recorded = [recorder.record([noticeFor('first')]), recorder.record([noticeFor('last')])];
      const closed = recorder.close();
      blocker.exec('COMMIT');
      await closed;
      assert.deepEqual(await Promise.all(recorded), [[COUNTED], [COUNTED]]);
      const ledger = new SqliteLedger(openSqlite(dbPath));
      assert.deepEqual(ledger.countEvents(), { total: 2, counted: 2 });
      ledger.close();
    } finally {
      blocker.close();
      await recorder.close();
    }
  });

  it('waits for a burl call in flight before it closes, and records it delivered rather than leaving it to be sent again', async () => {
    const answers: ServerResponse[] = [];
    const dsp = createServer((_req, res) => answers.push(res));
    await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
    const dbPath = join(dir, 'close-in-flight.db');
    const counter = counterSettings(dbPath, {
      dispatcher: { ...counterSettings(dbPath).dispatcher, pollIntervalMs: 50, privateNetworks: 'allow' },
    });
    const ledger = new SqliteLedger(openSqlite(dbPath));
    ledger.record([
      exchangeEvent({
        receivedMs: Date.now(),
        dedupe: { key: 'in-flight', expiresMs: Date.now() + 600_000 },
        delivery: {
          url: `http://127.0.0.1:${(dsp.address() as AddressInfo).port}/bill`,
          deadlineMs: Date.now() + 3_600_000,
        },
      }),
    ]);
    const recorder = new WorkerRecorder(counter, new Metrics(), silent);
    try {
      await recorder.start();
      for (const deadlineMs = Date.now() + THREAD_WAIT_MS; answers.length === 0 && Date.now() < deadlineMs;) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(answers.length, 1, 'the DSP was called');
      const closed = recorder.close();
      answers[0]?.writeHead(200).end('ok');
      await closed;
      assert.deepEqual(ledger.countDeliveries(), { pending: 0, delivered: 1, dead: 0, redirected: 0 });
    } finally {
      for (const res of answers) if (!res.headersSent) res.writeHead(200).end();
      await recorder.close();
      ledger.close();
      dsp.close();
    }
  });

  it('refuses batches once closed, and starts no new counting thread for them', async () => {
    const dbPath = join(dir, 'closed.db');
    const recorder = new WorkerRecorder(counterSettings(dbPath), new Metrics(), silent);
    await recorder.start();
    await recorder.close();
    try {
      await assert.rejects(recorder.record([noticeFor('after-close')]), /the recorder is closed/);
      assert.equal(recorder['worker'], undefined);
      const ledger = new SqliteLedger(openSqlite(dbPath));
      assert.deepEqual(ledger.countEvents(), { total: 0, counted: 0 });
      ledger.close();
    } finally {
      // A thread started after the close would keep the process alive.
      await recorder['worker']?.terminate();
    }
  });

  it('refuses a batch, without throwing, when no counting thread can be started for it, and logs why', async () => {
    const lines: string[] = [];
    // Fault injection: settings that cannot be sent to a thread make starting one throw.
    const unsendable = {
      ...counterSettings(join(dir, 'unstartable.db')),
      dbPath: (() => '') as unknown as string,
    };
    const recorder = new WorkerRecorder(
      unsendable,
      new Metrics(),
      jsonLogger((line) => lines.push(line)),
    );
    let recorded: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      recorded = recorder.record([noticeFor('unstartable')]);
    });
    await assert.rejects(recorded ?? Promise.resolve(), /the counting thread could not start/);
    assert.match(lines.join('\n'), /counter_spawn_failed/);
    // Refused at once until the pause is over, rather than trying to start a thread per batch.
    await assert.rejects(recorder.record([noticeFor('unstartable-2')]), /the counting thread is restarting/);
    await recorder.close();
  });

  it('tries to start a counting thread again once its pause is over, though the clock was stepped back an hour meanwhile', async (t) => {
    // Fault injection: settings that cannot be sent to a thread make starting one throw.
    const unsendable = {
      ...counterSettings(join(dir, 'unstartable-clock.db')),
      dbPath: (() => '') as unknown as string,
    };
    const recorder = new WorkerRecorder(unsendable, new Metrics(), silent);
    await assert.rejects(recorder.record([noticeFor('clock-1')]), /the counting thread could not start/);
    // Fault injection: the wall clock stepped back an hour during the pause.
    const realNow = Date.now.bind(Date);
    t.mock.method(Date, 'now', () => realNow() - 3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await assert.rejects(recorder.record([noticeFor('clock-2')]), /the counting thread could not start/);
    await recorder.close();
  });

  it('says what a counting thread failed of when a damaged ledger fails its claims load, not [object Object]', async () => {
    const dbPath = join(dir, 'damaged.db');
    const recorderSettings = counterSettings(dbPath);
    const nowMs = Date.now();
    const ledger = new SqliteLedger(openSqlite(dbPath));
    ledger.record(
      Array.from({ length: 2000 }, (_, index) =>
        exchangeEvent({ receivedMs: nowMs, dedupe: { key: `live-${index}`, expiresMs: nowMs + 3_600_000 } }),
      ),
    );
    ledger.close();
    // Fault injection: the root page of the index the claims are loaded through is overwritten.
    const db = openSqlite(dbPath);
    const rootPage = db
      .prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'event_rows_claims'`)
      .pluck()
      .get();
    const pageBytes = db.pragma('page_size', { simple: true }) as number;
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const file = openSync(dbPath, 'r+');
    writeSync(file, Buffer.alloc(pageBytes, 0xa5), 0, pageBytes, ((rootPage as number) - 1) * pageBytes);
    closeSync(file);
    const lines: string[] = [];
    const recorder = new WorkerRecorder(
      recorderSettings,
      new Metrics(),
      jsonLogger((line) => lines.push(line)),
    );
    try {
      // The thread says it is ready, then fails loading the claims: its error can reach the
      // recorder before that message, failing the start itself.
      await recorder.start().catch(() => undefined);
      const deadlineMs = Date.now() + THREAD_WAIT_MS;
      while (recorder.failure() === undefined && Date.now() < deadlineMs) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(recorder.failure(), 'SQLITE_CORRUPT');
      assert.equal(recorder.isWarm(), false);
      const failed = lines.map((line) => JSON.parse(line)).find((line) => line.event === 'counter_failed');
      assert.equal(failed?.error, 'SQLITE_CORRUPT');
    } finally {
      await recorder.close();
    }
  });

  it('keeps dead burl deliveries past the retention when it prunes, so that they can still be replayed', async () => {
    const dbPath = join(dir, 'prune-dead.db');
    const counter = counterSettings(dbPath, { retentionDays: 1, pruneIntervalMs: 3_600_000 });
    const threeDaysAgoMs = Date.now() - 3 * 86_400_000;
    const ledger = new SqliteLedger(openSqlite(dbPath));
    // The delivered one first: the newest delivery is never pruned.
    ledger.record(
      ['old-delivered', 'old-dead'].map((key) =>
        exchangeEvent({
          receivedMs: threeDaysAgoMs,
          dedupe: { key, expiresMs: threeDaysAgoMs + 600_000 },
          delivery: { url: 'https://dsp.example/bill', deadlineMs: threeDaysAgoMs + 3_600_000 },
        }),
      ),
    );
    for (const leased of ledger.leaseDeliveries(threeDaysAgoMs, 10, 1000)) {
      if (leased.dedupeKey === 'old-dead') ledger.markFailed(leased.id, 'HTTP 500', null);
      else ledger.markDelivered(leased.id, threeDaysAgoMs);
    }
    const recorder = new WorkerRecorder(counter, new Metrics(), silent);
    try {
      await recorder.start();
      const deadlineMs = Date.now() + THREAD_WAIT_MS;
      while (ledger.countDeliveries().delivered > 0 && Date.now() < deadlineMs) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.deepEqual(ledger.countDeliveries(), { pending: 0, delivered: 0, dead: 1, redirected: 0 });
      assert.equal(ledger.replayDead(ledger.deadDeliveries(), Date.now(), Date.now() + 3_600_000), 1);
    } finally {
      await recorder.close();
      ledger.close();
    }
  });

  it('keeps raw notices younger than the retention while pruning those past it', async () => {
    const dbPath = join(dir, 'prune-boundary.db');
    const counter = counterSettings(dbPath, { retentionDays: 2, pruneIntervalMs: 3_600_000 });
    const ledger = new SqliteLedger(openSqlite(dbPath));
    ledger.record([
      noticeFor('three-days-bot', Date.now() - 3 * 86_400_000, 'Googlebot/2.1'),
      noticeFor('one-day-bot', Date.now() - 86_400_000, 'Googlebot/2.1'),
    ]);
    const recorder = new WorkerRecorder(counter, new Metrics(), silent);
    try {
      await recorder.start();
      await prunedTo(ledger, 1);
      assert.deepEqual(ledger.countEvents(), { total: 1, counted: 0 });
    } finally {
      await recorder.close();
      ledger.close();
    }
  });

  it('prunes a raw notice an hour past the retention and keeps one an hour inside it', async () => {
    const dbPath = join(dir, 'prune-by-the-hour.db');
    const counter = counterSettings(dbPath, { retentionDays: 2, pruneIntervalMs: 3_600_000 });
    const ledger = new SqliteLedger(openSqlite(dbPath));
    const twoDaysAgoMs = Date.now() - 2 * 86_400_000;
    ledger.record([
      noticeFor('past-bot', twoDaysAgoMs - 3_600_000, 'Googlebot/2.1'),
      noticeFor('inside-bot', twoDaysAgoMs + 3_600_000, 'Googlebot/2.1'),
      // The newest event, which pruning always keeps, so that the two above are its whole test.
      noticeFor('now-bot', Date.now(), 'Googlebot/2.1'),
    ]);
    const recorder = new WorkerRecorder(counter, new Metrics(), silent);
    try {
      await recorder.start();
      await prunedTo(ledger, 2);
      assert.deepEqual(ledger.countEvents(), { total: 2, counted: 0 });
    } finally {
      await recorder.close();
      ledger.close();
    }
  });
});

describe('counting thread closed as it starts', () => {
  it('does not load the claims from a ledger it already closed (no counter_failed)', async () => {
    for (let run = 0; run < 5; run++) {
      const lines: string[] = [];
      const recorder = new WorkerRecorder(
        counterSettings(join(dir, `close-${run}.db`)),
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

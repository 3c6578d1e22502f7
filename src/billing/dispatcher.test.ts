import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { Logger } from '../lib/log.js';
import { writeFaultAdvice } from '../lib/write-fault.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import { ledgerWith } from '../../test/support/ledger-with.js';
import { freePort } from '../../test/support/server.js';
import { ABANDONED_CALL_ERROR, BurlDispatcher } from './dispatcher.js';
import type { DispatcherOptions } from './dispatcher.js';
import type { LeasedDelivery } from '../ports/ledger.js';

const HOUR_MS = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'tally-dispatcher-'));
const silent: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const noMetrics = { inc: () => {} };

/**
 * The DSP: every burl call is counted, with its device headers; the first `/held` call waits in
 * `held` for the test to answer it, every `/slow…` call waits in `slow` (while `holdSlow`),
 * `/status/<code>` answers that status, `/rate-limited` 429 with `Retry-After: 120`,
 * `/redirect/<code>` redirects to `/status/<code>` (`/credentialed-redirect/<code>` to it with a
 * user name and password in the URL), a `/flaky…` call 503 while `flakyFailures` lasts, every
 * other call gets its 200 at once.
 */
let dsp: Server;
let dspUrl: string;
const calls: string[] = [];
const deviceHeaders: Record<string, [unknown, unknown, unknown]> = {};
/** The `X-Tally-Delivery-Id` and `X-Tally-Attempt` of each call, in order. */
const deliveryHeaders: [string, unknown, unknown][] = [];
const held: ServerResponse[] = [];
const slow: ServerResponse[] = [];
/** Whether `/slow…` calls wait in `slow` (set back to true by each test that holds them). */
let holdSlow = true;
/** How many more `/flaky…` calls are answered 503 before they get their 200. */
let flakyFailures = 0;

before(async () => {
  dsp = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://dsp.invalid').pathname;
    calls.push(path);
    deviceHeaders[path] = [
      req.headers['x-device-ip'],
      req.headers['x-device-user-agent'],
      req.headers['user-agent'],
    ];
    deliveryHeaders.push([path, req.headers['x-tally-delivery-id'], req.headers['x-tally-attempt']]);
    const status = /^\/status\/(\d{3})$/.exec(path)?.[1];
    const redirectedStatus = /^\/redirect\/(\d{3})$/.exec(path)?.[1];
    const credentialedStatus = /^\/credentialed-redirect\/(\d{3})$/.exec(path)?.[1];
    if (path === '/held' && held.length === 0) held.push(res);
    else if (path === '/rate-limited') res.writeHead(429, { 'Retry-After': '120' }).end('slow down');
    else if (redirectedStatus !== undefined)
      res.writeHead(302, { Location: `/status/${redirectedStatus}` }).end();
    else if (credentialedStatus !== undefined)
      res
        .writeHead(302, { Location: `http://token:secret@${req.headers.host}/status/${credentialedStatus}` })
        .end();
    else if (path.startsWith('/slow') && holdSlow) slow.push(res);
    else if (status !== undefined) res.writeHead(Number(status)).end('status');
    else if (path.startsWith('/flaky') && flakyFailures > 0) {
      flakyFailures--;
      res.writeHead(503).end('try later');
    } else res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
  dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => dsp.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Waits, a few ms at a time, until `condition` holds; fails after 10 s, so that a dispatcher that
 * never gets there fails its test instead of holding the run until its time limit.
 */
async function until(condition: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadlineMs) assert.fail(`still waiting after 10 s for ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const options: DispatcherOptions = {
  pollIntervalMs: 5,
  concurrency: 4,
  hostConcurrency: 4,
  requestTimeoutMs: 60_000,
  retry: { firstMinuteIntervalMs: 10_000, maxIntervalMs: 15 * 60_000 },
  privateNetworks: 'allow',
};

describe('the burl dispatcher', () => {
  it('neither calls nor counts a delivery a second time while its first call is in flight, even when the clock jumps past its lease', async () => {
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
      // A delivery queued now is leased by a poll that finds the first one's lease run out.
      ledger.record([
        exchangeEvent({
          dedupe: { key: 'next-impression', expiresMs: nowMs + HOUR_MS },
          delivery: { url: `${dspUrl}/next`, deadlineMs: nowMs + 3 * HOUR_MS },
        }),
      ]);
      await until(() => calls.includes('/next'));
      const [pending] = ledger.listDeliveries(1, 'pending', 10);
      assert.equal(pending?.attempts, 1, 'the call in flight is the only attempt counted');
      held[0]?.writeHead(200).end('ok');
      await dispatcher.stop();
      assert.deepEqual(
        calls.filter((path) => path === '/held'),
        ['/held'],
        'the DSP was called once',
      );
      assert.equal(ledger.listDeliveries(1, 'delivered', 10).length, 2);
    } finally {
      for (const res of held) if (!res.headersSent) res.writeHead(200).end();
      await dispatcher.stop();
      ledger.close();
    }
  });
});

/** Stops `dispatcher`, answering the calls it holds in flight and any that are still to come. */
/** A dispatcher on `ledger`, started at `T0` by a clock the test moves, its `/slow…` calls held. */
function startHoldingSlowCalls(ledger: SqliteLedger): {
  dispatcher: BurlDispatcher;
  clock: { nowMs: number };
} {
  const clock = { nowMs: T0 };
  const dispatcher = new BurlDispatcher(ledger, options, noMetrics, silent, () => clock.nowMs);
  holdSlow = true;
  dispatcher.start();
  return { dispatcher, clock };
}

async function stopReleasingSlowCalls(dispatcher: BurlDispatcher): Promise<void> {
  holdSlow = false;
  const stopped = dispatcher.stop();
  for (const res of slow.splice(0)) if (!res.headersSent) res.writeHead(200).end();
  await stopped;
}

/** A metrics sink that keeps the status of each burl delivery attempt counted. */
function attemptStatuses(): {
  statuses: unknown[];
  inc: (name: string, help: string, labels?: object) => void;
} {
  const statuses: unknown[] = [];
  return {
    statuses,
    inc: (name, _help, labels) => {
      if (name === 'tally_burl_deliveries_total') statuses.push((labels as { status?: unknown }).status);
    },
  };
}

/** A counted impression `key` whose DSP burl is `url`, due at `receivedMs`. */
function withBurl(key: string, url: string, deadlineMs = T0 + 3 * HOUR_MS, receivedMs = T0) {
  return exchangeEvent({
    receivedMs,
    dims: { ...exchangeEvent().dims, auctionId: key },
    dedupe: { key, expiresMs: T0 + HOUR_MS },
    delivery: { url, deadlineMs },
  });
}

/**
 * Runs a dispatcher on `ledger` (its clock at `T0`) until `attempts` delivery attempts ended, then
 * stops it; answers the status of each attempt, in the order they ended.
 */
async function attemptsUntil(
  ledger: SqliteLedger,
  attempts: number,
  dispatcherOptions: DispatcherOptions = options,
): Promise<unknown[]> {
  const metrics = attemptStatuses();
  const dispatcher = new BurlDispatcher(ledger, dispatcherOptions, metrics, silent, () => T0);
  dispatcher.start();
  try {
    await until(() => metrics.statuses.length === attempts);
  } finally {
    await dispatcher.stop();
  }
  return metrics.statuses;
}

describe('the burl dispatcher’s outcomes', () => {
  it('marks delivered only a 2xx answer (299 included) and retries any other status, 300 included, keeping it as the last error', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'statuses.db')));
    ledger.record([
      withBurl('ok-204', `${dspUrl}/status/204`),
      withBurl('ok-299', `${dspUrl}/status/299`),
      withBurl('multiple-choices', `${dspUrl}/status/300`),
      withBurl('not-modified', `${dspUrl}/status/304`),
      withBurl('server-error', `${dspUrl}/status/503`),
    ]);
    const statuses = await attemptsUntil(ledger, 5, { ...options, concurrency: 8 });
    const byKey = (status: 'pending' | 'delivered' | 'dead') =>
      ledger
        .listDeliveries(1, status, 10)
        .map((delivery) => [delivery.dedupeKey, delivery.lastError, delivery.dueMs])
        .sort();
    assert.deepEqual(byKey('delivered'), [
      ['ok-204', '', T0],
      ['ok-299', '', T0],
    ]);
    // The first retry comes one interval (10 s) later.
    assert.deepEqual(byKey('pending'), [
      ['multiple-choices', 'HTTP 300', T0 + 10_000],
      ['not-modified', 'HTTP 304', T0 + 10_000],
      ['server-error', 'HTTP 503', T0 + 10_000],
    ]);
    assert.deepEqual(statuses.sort(), ['delivered', 'delivered', 'retry', 'retry', 'retry']);
    ledger.close();
  });

  it('names in the last error the URL a redirect led to when that URL failed, as the burl itself answered a redirect', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'redirected-statuses.db')));
    ledger.record([
      withBurl('redirected-ok', `${dspUrl}/redirect/204`),
      withBurl('redirected-error', `${dspUrl}/redirect/503`),
    ]);
    await attemptsUntil(ledger, 2, options);
    assert.deepEqual(
      ledger.listDeliveries(1, 'delivered', 10).map((delivery) => [delivery.dedupeKey, delivery.lastError]),
      [['redirected-ok', '']],
    );
    assert.deepEqual(
      ledger.listDeliveries(1, 'pending', 10).map((delivery) => [delivery.dedupeKey, delivery.lastError]),
      [['redirected-error', `HTTP 503 from ${dspUrl}/status/503, where the burl redirected`]],
    );
    ledger.close();
  });

  it('keeps the user name and password of a URL a burl redirected to out of its last error and the log of its death', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'credentialed-redirect.db')));
    const credentialed = `http://user:pass@${dspUrl.slice('http://'.length)}`;
    ledger.record([withBurl('credentialed', `${credentialed}/credentialed-redirect/503`, T0)]);
    const logged: unknown[] = [];
    const log: Logger = { ...silent, warn: (event, fields) => logged.push([event, fields]) };
    const dispatcher = new BurlDispatcher(ledger, options, noMetrics, log, () => T0);
    dispatcher.start();
    try {
      await until(() => ledger.listDeliveries(1, 'dead', 10).length === 1);
    } finally {
      await dispatcher.stop();
    }
    const lastError = `HTTP 503 from http://***@${dspUrl.slice('http://'.length)}/status/503, where the burl redirected`;
    assert.deepEqual(
      ledger.listDeliveries(1, 'dead', 10).map((delivery) => delivery.lastError),
      [lastError],
    );
    assert.deepEqual(logged, [
      [
        'burl_dead',
        {
          deliveryId: ledger.listDeliveries(1, 'dead', 10)[0]?.id,
          attempts: 1,
          error: lastError,
          repeats: 0,
        },
      ],
    ]);
    ledger.close();
  });

  it('tries a DSP that answered with a Retry-After again no sooner than it asked', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'retry-after.db')));
    ledger.record([withBurl('rate-limited', `${dspUrl}/rate-limited`)]);
    await attemptsUntil(ledger, 1, options);
    assert.deepEqual(
      ledger.listDeliveries(1, 'pending', 10).map((delivery) => [delivery.lastError, delivery.dueMs]),
      [['HTTP 429', T0 + 120_000]],
    );
    ledger.close();
  });

  it('backs off by the time since the first failed call began: a try 50 s after it is still in the first minute, one 60 s after waits 20 s', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'attempts.db')));
    ledger.record([withBurl('minute-gone', `${dspUrl}/status/502`)]);
    ledger.record([withBurl('in-minute', `${dspUrl}/status/500`)]);
    // Each failed first at a time of its own, and is due again now, at T0.
    for (const leased of ledger.leaseDeliveries(T0, 10, 1000)) {
      const firstFailedMs = leased.dedupeKey === 'minute-gone' ? T0 - 60_000 : T0 - 50_000;
      ledger.markFailed(leased.id, 'HTTP 500', T0, firstFailedMs);
    }
    await attemptsUntil(ledger, 2);
    assert.deepEqual(
      ledger
        .listDeliveries(1, 'pending', 10)
        .map((delivery) => [delivery.dedupeKey, delivery.attempts, delivery.dueMs])
        .sort(),
      [
        ['in-minute', 2, T0 + 10_000],
        ['minute-gone', 2, T0 + 20_000],
      ],
    );
    ledger.close();
  });

  it('backs off once a try falls due past the first minute after the first failed call began, however few attempts were made', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'first-minute.db')));
    ledger.record([withBurl('asked-to-wait', `${dspUrl}/status/500`)]);
    // The first call, at T0, was answered 429 with a Retry-After of 120 s.
    const [first] = ledger.leaseDeliveries(T0, 1, 1000);
    ledger.settleDeliveries([
      { id: first?.id ?? 0, error: 'HTTP 429', nextDueMs: T0 + 120_000, firstFailedMs: T0 },
    ]);
    const dispatcher = new BurlDispatcher(ledger, options, attemptStatuses(), silent, () => T0 + 120_000);
    dispatcher.start();
    try {
      await until(() => ledger.listDeliveries(1, 'pending', 1)[0]?.attempts === 2);
      await until(() => ledger.listDeliveries(1, 'pending', 1)[0]?.lastError === 'HTTP 500');
    } finally {
      await dispatcher.stop();
    }
    // Past the minute: twice the interval, plus the 60 s since the cadence would have ended.
    assert.deepEqual(
      ledger.listDeliveries(1, 'pending', 1).map((delivery) => [delivery.attempts, delivery.dueMs]),
      [[2, T0 + 200_000]],
    );
    ledger.close();
  });

  it('marks a delivery dead when its try at the deadline fails, and only then', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'deadline.db')));
    ledger.record([
      withBurl('at-deadline', `${dspUrl}/status/500`, T0),
      withBurl('before-deadline', `${dspUrl}/status/500`, T0 + 1),
    ]);
    const statuses = await attemptsUntil(ledger, 2);
    assert.deepEqual(
      ledger.listDeliveries(1, 'dead', 10).map((delivery) => [delivery.dedupeKey, delivery.lastError]),
      [['at-deadline', 'HTTP 500']],
    );
    // The last try is at the deadline itself.
    assert.deepEqual(
      ledger.listDeliveries(1, 'pending', 10).map((delivery) => [delivery.dedupeKey, delivery.dueMs]),
      [['before-deadline', T0 + 1]],
    );
    assert.deepEqual(statuses.sort(), ['dead', 'retry']);
    ledger.close();
  });

  it('never calls a dead delivery again, while it relays the deliveries still pending', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'dead-stays-dead.db')));
    ledger.record([withBurl('gone', `${dspUrl}/status/410`, T0)]);
    await attemptsUntil(ledger, 1);
    assert.equal(ledger.listDeliveries(1, 'dead', 10).length, 1);
    const callsOfDead = () => calls.filter((path) => path === '/status/410').length;
    assert.equal(callsOfDead(), 1);
    ledger.record([withBurl('later', `${dspUrl}/status/200`)]);
    const statuses = await attemptsUntil(ledger, 1);
    assert.deepEqual(statuses, ['delivered']);
    assert.equal(callsOfDead(), 1, 'the dead delivery was called again');
    ledger.close();
  });

  it('marks dead at once, hours before its deadline and without calling it, a burl that can never be called', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'permanent.db')));
    ledger.record([withBurl('loopback', `${dspUrl}/never`), withBurl('ftp', 'ftp://dsp.example/bill')]);
    const statuses = await attemptsUntil(ledger, 2, { ...options, privateNetworks: 'deny' });
    const dead = ledger.listDeliveries(1, 'dead', 10);
    assert.deepEqual(dead.map((delivery) => delivery.dedupeKey).sort(), ['ftp', 'loopback']);
    assert.match(
      dead.find((delivery) => delivery.dedupeKey === 'loopback')?.lastError ?? '',
      /outside the public internet/,
    );
    assert.deepEqual(statuses, ['dead', 'dead']);
    assert.ok(!calls.includes('/never'), 'the refused address was never called');
    ledger.close();
  });

  it('retries a DSP that refused the connection or gave no answer within the time limit, as it retries a 5xx, rather than marking it dead', async () => {
    // A port nothing listens on, below the kernel's ephemeral range: the port of a server just
    // closed could be given to the next server started on port 0 (this DSP's, or another
    // process's), which would answer in its place. And a DSP that never answers.
    const gonePort = await freePort();
    const mute = createServer(() => {});
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const ledger = new SqliteLedger(openSqlite(join(dir, 'network-errors.db')));
    ledger.record([
      withBurl('refused', `http://127.0.0.1:${gonePort}/bill`),
      withBurl('mute', `http://127.0.0.1:${(mute.address() as AddressInfo).port}/bill`),
    ]);
    try {
      const statuses = await attemptsUntil(ledger, 2, { ...options, requestTimeoutMs: 200 });
      assert.deepEqual(statuses, ['retry', 'retry']);
      const pending = ledger
        .listDeliveries(1, 'pending', 10)
        .map((delivery) => [delivery.dedupeKey, delivery.dueMs, delivery.lastError])
        .sort();
      assert.deepEqual(
        pending.map(([key, dueMs]) => [key, dueMs]),
        [
          ['mute', T0 + 10_000],
          ['refused', T0 + 10_000],
        ],
      );
      assert.match(String(pending[0]?.[2]), /no answer within the 200 ms time limit/);
      assert.match(String(pending[1]?.[2]), /ECONNREFUSED/);
      assert.equal(ledger.countDeliveries().dead, 0);
    } finally {
      ledger.close();
      mute.closeAllConnections();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
    }
  });

  it('calls a DSP as many at a time as one host may have again once a call to it is answered, after one got no answer', async () => {
    // A DSP on a host of its own: `/hang-up` drops the connection unanswered, `/ok` answers at
    // once, any other call waits in `waiting` (until `answerAtOnce`).
    const waiting: ServerResponse[] = [];
    let answerAtOnce = false;
    const own = createServer((req, res) => {
      if (req.url === '/ok' || answerAtOnce) res.writeHead(200).end('ok');
      else if (req.url === '/hang-up') req.socket.destroy();
      else waiting.push(res);
    });
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    const ownUrl = `http://127.0.0.1:${(own.address() as AddressInfo).port}`;
    const ledger = new SqliteLedger(openSqlite(join(dir, 'answered-again.db')));
    ledger.record([withBurl('hang-up', `${ownUrl}/hang-up`)]);
    ledger.record([withBurl('answered', `${ownUrl}/ok`, undefined, T0 + 1)]);
    ledger.record(['w1', 'w2', 'w3'].map((key) => withBurl(key, `${ownUrl}/${key}`, undefined, T0 + 2)));
    const clock = { nowMs: T0 };
    const dispatcher = new BurlDispatcher(
      ledger,
      { ...options, hostConcurrency: 4 },
      noMetrics,
      silent,
      () => clock.nowMs,
    );
    dispatcher.start();
    try {
      const hangUpError = () =>
        ledger.listDeliveries(1, 'pending', 10).find((delivery) => delivery.dedupeKey === 'hang-up')
          ?.lastError;
      await until(() => /socket hang up/.test(hangUpError() ?? ''));
      clock.nowMs = T0 + 1;
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 1);
      clock.nowMs = T0 + 2;
      await until(() => waiting.length === 3);
    } finally {
      answerAtOnce = true;
      for (const res of waiting) res.writeHead(200).end('ok');
      await dispatcher.stop();
      ledger.close();
      own.closeAllConnections();
      await new Promise<void>((resolve) => own.close(() => resolve()));
    }
  });

  it('does not slow a host’s calls for a burl of it that can never be called', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'permanent-host.db')));
    // The same host and port as the DSP's other burls, but not http(s): dead at once.
    ledger.record([withBurl('ftp', `${dspUrl.replace('http:', 'ftp:')}/bill`)]);
    ledger.record(['s1', 's2', 's3'].map((key) => withBurl(key, `${dspUrl}/slow-${key}`, undefined, T0 + 1)));
    const { dispatcher, clock } = startHoldingSlowCalls(ledger);
    try {
      await until(() => ledger.countDeliveries().dead === 1);
      clock.nowMs = T0 + 1;
      await until(() => slow.length === 3);
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      ledger.close();
    }
  });

  it('marks a delivery delivered at the time its answer came, not when its call began', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'delivered-at.db')));
    ledger.record([withBurl('slow-answer', `${dspUrl}/slow-answer`)]);
    const { dispatcher, clock } = startHoldingSlowCalls(ledger);
    try {
      await until(() => slow.length === 1);
      clock.nowMs = T0 + 4_000;
      slow[0]?.writeHead(200).end('ok');
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 1);
      assert.equal(ledger.listDeliveries(1, 'delivered', 10)[0]?.deliveredMs, T0 + 4_000);
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      ledger.close();
    }
  });

  it('logs each delivery that dies, with its attempts and last error, and none that is retried', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'dead-log.db')));
    ledger.record([
      withBurl('dies', `${dspUrl}/status/500`, T0),
      withBurl('retried', `${dspUrl}/status/500`, T0 + 1),
    ]);
    const warnings: { event: string; fields: Record<string, unknown> | undefined }[] = [];
    const log: Logger = { ...silent, warn: (event, fields) => warnings.push({ event, fields }) };
    const metrics = attemptStatuses();
    const dispatcher = new BurlDispatcher(ledger, options, metrics, log, () => T0);
    dispatcher.start();
    try {
      await until(() => metrics.statuses.length === 2);
    } finally {
      await dispatcher.stop();
    }
    const [dead] = ledger.listDeliveries(1, 'dead', 10);
    assert.deepEqual(warnings, [
      { event: 'burl_dead', fields: { deliveryId: dead?.id, attempts: 1, error: 'HTTP 500', repeats: 0 } },
    ]);
    ledger.close();
  });

  it('sends the device’s IP and User-Agent with the burl, and names the relay in its own User-Agent', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'device.db')));
    ledger.record([
      exchangeEvent({
        deviceIp: '203.0.113.7',
        userAgent: 'Device-UA/2.0',
        dedupe: { key: 'device', expiresMs: T0 + HOUR_MS },
        delivery: { url: `${dspUrl}/device`, deadlineMs: T0 + 3 * HOUR_MS },
      }),
    ]);
    const dispatcher = new BurlDispatcher(ledger, options, noMetrics, silent, () => T0);
    dispatcher.start();
    try {
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 1);
    } finally {
      await dispatcher.stop();
    }
    assert.deepEqual(deviceHeaders['/device'], ['203.0.113.7', 'Device-UA/2.0', 'Tally-burl-relay/0.1.0']);
    ledger.close();
  });

  it('keeps a delivery leased while its call may still be under way (twice the time limit): it is not leased again meanwhile', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'lease.db')));
    // The second delivery falls due once the first call has run as long as its time limit.
    const timeLimitLater = T0 + options.requestTimeoutMs + 1;
    ledger.record([withBurl('slow-call', `${dspUrl}/slow-lease`)]);
    ledger.record([withBurl('due-later', `${dspUrl}/due-later`, T0 + 3 * HOUR_MS, timeLimitLater)]);
    const { dispatcher, clock } = startHoldingSlowCalls(ledger);
    try {
      await until(() => slow.length === 1);
      clock.nowMs = timeLimitLater;
      // Leased by the same poll that would lease the first one again if its lease had run out.
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 1);
      const first = ledger.listDeliveries(1, 'pending', 10)[0];
      assert.deepEqual([first?.dedupeKey, first?.attempts], ['slow-call', 1]);
      // Its lease lasts twice the time limit: until then no other caller of the ledger leases it.
      assert.deepEqual(ledger.leaseDeliveries(T0 + 2 * options.requestTimeoutMs - 1, 10, 1000), []);
      slow[0]?.writeHead(200).end('ok');
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 2);
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      ledger.close();
    }
  });

  it('abandons its calls in flight when told to (Tally stopping): stops without waiting for their time limit, leaving each delivery pending, due as it was and leasable at once, with no failed attempt counted', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'abandoned.db')));
    ledger.record([withBurl('abandoned', `${dspUrl}/slow-abandoned`)]);
    const metrics = attemptStatuses();
    const warnings: string[] = [];
    const log: Logger = { ...silent, warn: (event) => warnings.push(event) };
    const dispatcher = new BurlDispatcher(ledger, options, metrics, log, () => T0 + 5_000);
    holdSlow = true;
    dispatcher.start();
    try {
      await until(() => slow.length === 1);
      dispatcher.abandonCalls();
      // The DSP never answers, and the time limit is a minute away.
      const stopped = await Promise.race([
        dispatcher.stop().then(() => 'stopped'),
        new Promise((resolve) => setTimeout(() => resolve('waiting for the call'), 5_000)),
      ]);
      assert.equal(stopped, 'stopped');
      const [pending] = ledger.listDeliveries(1, 'pending', 10);
      assert.deepEqual(
        [pending?.dueMs, pending?.attempts, pending?.lastError],
        [T0, 1, ABANDONED_CALL_ERROR],
      );
      assert.deepEqual(metrics.statuses, []);
      assert.deepEqual(warnings, ['burl_calls_abandoned']);
      // Its lease given back: the next start leases it at once, as a call that never failed.
      const leased = ledger.leaseDeliveries(T0 + 5_000, 10, 1000);
      assert.deepEqual(
        leased.map((delivery) => [delivery.dedupeKey, delivery.firstFailedMs]),
        [['abandoned', null]],
      );
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      ledger.close();
    }
  });

  it('times the next try of a failed call from when the call began, not from when its answer came', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'slow-failure.db')));
    ledger.record([withBurl('slow-failure', `${dspUrl}/slow-failure`)]);
    const { dispatcher, clock } = startHoldingSlowCalls(ledger);
    try {
      await until(() => slow.length === 1);
      // The DSP fails the call 4 s after it began.
      clock.nowMs = T0 + 4_000;
      slow[0]?.writeHead(500).end();
      await until(() => ledger.listDeliveries(1, 'pending', 10)[0]?.lastError === 'HTTP 500');
      assert.equal(ledger.listDeliveries(1, 'pending', 10)[0]?.dueMs, T0 + 10_000);
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      ledger.close();
    }
  });

  /** A dispatcher started on `ledger` at T0, making 4 calls at a time, at most 2 to one host. */
  function startHostLimited(ledger: SqliteLedger): BurlDispatcher {
    const dispatcher = new BurlDispatcher(
      ledger,
      { ...options, concurrency: 4, hostConcurrency: 2 },
      noMetrics,
      silent,
      () => T0,
    );
    dispatcher.start();
    return dispatcher;
  }

  /**
   * A DSP on a host of its own that answers no call until `close`: `hanging` holds the calls it
   * holds; `close` answers them, and any later call at once, then stops it.
   */
  async function hangingDsp(): Promise<{
    hostPort: string;
    hanging: ServerResponse[];
    close(): Promise<void>;
  }> {
    const hanging: ServerResponse[] = [];
    let answerAtOnce = false;
    const server = createServer((_req, res) => {
      if (answerAtOnce) res.writeHead(200).end('ok');
      else hanging.push(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      hostPort: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      hanging,
      close: async () => {
        answerAtOnce = true;
        for (const res of hanging) res.writeHead(200).end('ok');
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  it('keeps calling other DSPs while one that never answers holds as many calls as one host may have', async () => {
    // A second DSP, on a host of its own, that answers no call until the test is over.
    const dsp = await hangingDsp();
    const { hanging } = dsp;
    const hangingUrl = `http://${dsp.hostPort}`;
    const ledger = new SqliteLedger(openSqlite(join(dir, 'host-limit.db')));
    // Its six deliveries fall due before the other DSP's.
    ledger.record(
      Array.from({ length: 6 }, (_unused, n) =>
        withBurl(`hanging-${n}`, `${hangingUrl}/bill`, undefined, T0 - 1),
      ),
    );
    ledger.record([withBurl('healthy', `${dspUrl}/healthy`)]);
    const dispatcher = startHostLimited(ledger);
    try {
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 1);
      assert.deepEqual(
        ledger.listDeliveries(1, 'delivered', 10).map((delivery) => delivery.url),
        [`${dspUrl}/healthy`],
      );
      // Polls come every 5 ms: give a dispatcher that leased past the host's limit many chances.
      await new Promise((resolve) => setTimeout(resolve, 20 * options.pollIntervalMs));
      assert.equal(hanging.length, 2, 'two calls in flight to the DSP that never answers, no more');
    } finally {
      await dsp.close();
      await dispatcher.stop();
      ledger.close();
    }
  });

  it('counts the calls to one host together whatever user name and password their burls carry', async () => {
    const dsp = await hangingDsp();
    const { hanging, hostPort } = dsp;
    const ledger = new SqliteLedger(openSqlite(join(dir, 'host-limit-credentials.db')));
    ledger.record([
      withBurl('plain-1', `http://${hostPort}/bill`),
      withBurl('plain-2', `http://${hostPort}/bill`),
      withBurl('user-1', `http://user:pass@${hostPort}/bill`),
      withBurl('user-2', `http://USER:other@${hostPort}/bill`),
    ]);
    const dispatcher = startHostLimited(ledger);
    try {
      await until(() => hanging.length >= 2);
      // Polls come every 5 ms: give a dispatcher that took them for other hosts many chances.
      await new Promise((resolve) => setTimeout(resolve, 20 * options.pollIntervalMs));
      assert.equal(hanging.length, 2, 'two calls in flight to the one host, no more');
    } finally {
      await dsp.close();
      await dispatcher.stop();
      ledger.close();
    }
  });

  it('calls a DSP one at a time once a call to it got no answer, so that DSPs that never answer cannot hold every call', async () => {
    // Two DSPs, each on a host of its own, that never answer; each call to them times out.
    let unansweredCalls = 0;
    const silentDsps = [createServer(() => unansweredCalls++), createServer(() => unansweredCalls++)];
    const silentUrls: string[] = [];
    for (const server of silentDsps) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      silentUrls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}/bill`);
    }
    const ledger = new SqliteLedger(openSqlite(join(dir, 'unanswering.db')));
    // Forty deliveries to each fall due before the one to the DSP that answers.
    ledger.record(
      Array.from({ length: 80 }, (_unused, n) =>
        withBurl(`silent-${n}`, silentUrls[n % 2] ?? '', undefined, T0 - 100 + Math.floor(n / 2)),
      ),
    );
    ledger.record([withBurl('answering', `${dspUrl}/answering`)]);
    const dispatcher = new BurlDispatcher(
      ledger,
      { ...options, concurrency: 4, hostConcurrency: 4, requestTimeoutMs: 200 },
      noMetrics,
      silent,
      () => T0,
    );
    dispatcher.start();
    try {
      await until(() => calls.includes('/answering'));
      assert.ok(
        unansweredCalls < 20,
        `${unansweredCalls} calls to the silent DSPs before the other was called`,
      );
    } finally {
      await dispatcher.stop();
      ledger.close();
      for (const server of silentDsps) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
  });

  it('calls a delivery once though the ledger leases it again while its call is in flight', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'leased-twice.db')));
    ledger.record([withBurl('leased-twice', `${dspUrl}/slow-leased-twice`)]);
    // Fault injection: the ledger leases the first delivery again at every poll, in flight or not.
    const lease = ledger.leaseDeliveries.bind(ledger);
    let first: LeasedDelivery | undefined;
    ledger.leaseDeliveries = (nowMs, limit, leaseMs, inFlight) => {
      const leased = lease(nowMs, limit, leaseMs, inFlight);
      first ??= leased[0];
      return first === undefined || leased.includes(first) ? leased : [first, ...leased];
    };
    const { dispatcher } = startHoldingSlowCalls(ledger);
    try {
      await until(() => slow.length === 1);
      // Polls come every 5 ms: give a dispatcher that calls it again many chances.
      await new Promise((resolve) => setTimeout(resolve, 20 * options.pollIntervalMs));
      assert.equal(slow.length, 1, 'one call of the delivery');
      slow[0]?.writeHead(200).end('ok');
      await until(() => ledger.countDeliveries().delivered === 1);
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      ledger.close();
    }
  });

  it('calls the next delivery as soon as a call ends, not at its next poll of the outbox', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'refill.db')));
    ledger.record(['refill-1', 'refill-2', 'refill-3'].map((key) => withBurl(key, `${dspUrl}/${key}`)));
    const dispatcher = new BurlDispatcher(
      ledger,
      { ...options, concurrency: 1, pollIntervalMs: 10 * 60_000 },
      noMetrics,
      silent,
      () => T0,
    );
    dispatcher.start();
    try {
      await until(() => ledger.countDeliveries().delivered === 3);
    } finally {
      await dispatcher.stop();
      ledger.close();
    }
  });

  it('never has more calls in flight than its concurrency', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'concurrency.db')));
    ledger.record(['c1', 'c2', 'c3'].map((key) => withBurl(key, `${dspUrl}/slow-${key}`)));
    const dispatcher = new BurlDispatcher(
      ledger,
      { ...options, concurrency: 2 },
      noMetrics,
      silent,
      () => T0,
    );
    holdSlow = true;
    dispatcher.start();
    try {
      await until(() => slow.length >= 2);
      // Polls come every 5 ms: give a dispatcher that leased past its concurrency many chances.
      await new Promise((resolve) => setTimeout(resolve, 20 * options.pollIntervalMs));
      assert.equal(slow.length, 2, 'the third call waits for a free slot');
      assert.equal(ledger.countDeliveries().pending, 3);
      slow[0]?.writeHead(200).end('ok');
      await until(() => slow.length === 3);
      for (const res of slow.slice(1)) res.writeHead(200).end('ok');
      await until(() => ledger.countDeliveries().delivered === 3);
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      ledger.close();
    }
  });

  it('calls a failed delivery again once it falls due, until the DSP takes it, saying which delivery and attempt each call is', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'flaky.db')));
    ledger.record([withBurl('flaky', `${dspUrl}/flaky`)]);
    flakyFailures = 1;
    let nowMs = T0;
    const dispatcher = new BurlDispatcher(ledger, options, noMetrics, silent, () => nowMs);
    dispatcher.start();
    try {
      await until(() => ledger.listDeliveries(1, 'pending', 10)[0]?.lastError === 'HTTP 503');
      nowMs = T0 + options.retry.firstMinuteIntervalMs;
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 1);
    } finally {
      await dispatcher.stop();
    }
    const [delivered] = ledger.listDeliveries(1, 'delivered', 10);
    assert.deepEqual([delivered?.attempts, delivered?.lastError], [2, '']);
    assert.deepEqual(
      calls.filter((path) => path === '/flaky'),
      ['/flaky', '/flaky'],
    );
    const id = String(delivered?.id);
    assert.deepEqual(
      deliveryHeaders.filter(([path]) => path === '/flaky'),
      [
        ['/flaky', id, '1'],
        ['/flaky', id, '2'],
      ],
    );
    ledger.close();
  });

  it('logs a ledger that fails every lease as the failures begin, then once a second with how many it left out', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'full.db')));
    // Fault injection: every lease fails, as on a full disk.
    let leases = 0;
    ledger.leaseDeliveries = () => {
      leases++;
      throw new Error('SQLITE_FULL: database or disk is full');
    };
    const errors: { event: string; fields: Record<string, unknown> | undefined }[] = [];
    const log: Logger = { ...silent, error: (event, fields) => errors.push({ event, fields }) };
    let nowMs = T0;
    const dispatcher = new BurlDispatcher(ledger, options, noMetrics, log, () => nowMs);
    dispatcher.start();
    try {
      await until(() => leases >= 10);
      assert.deepEqual(
        errors.map(({ event }) => event),
        ['lease_failed'],
      );
      nowMs = T0 + 1000;
      const seen = leases;
      await until(() => leases > seen);
      assert.equal(errors.length, 2);
      assert.ok(Number(errors[1]?.fields?.repeats) >= 9, `repeats ${String(errors[1]?.fields?.repeats)}`);
    } finally {
      await dispatcher.stop();
    }
    ledger.close();
  });

  it('logs lease_failed and delivery_update_failed on a full disk with its code and what to do, as commit_failed does', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'full-advice.db')));
    ledger.record([withBurl('full-advice', `${dspUrl}/full-advice`)]);
    // Fault injection: SQLite's own error for a full disk, from the second lease on and from the
    // first write of an outcome.
    const full = () => new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    let leases = 0;
    const leaseDeliveries = ledger.leaseDeliveries.bind(ledger);
    ledger.leaseDeliveries = (...args) => {
      if (leases++ > 0) throw full();
      return leaseDeliveries(...args);
    };
    ledger.settleDeliveries = () => {
      throw full();
    };
    const errors = new Map<string, Record<string, unknown> | undefined>();
    const log: Logger = { ...silent, error: (event, fields) => errors.set(event, fields) };
    const dispatcher = new BurlDispatcher(ledger, options, noMetrics, log, () => T0);
    dispatcher.start();
    try {
      await until(() => errors.size === 2);
    } finally {
      await dispatcher.stop();
    }
    const advice = writeFaultAdvice('SQLITE_FULL');
    assert.deepEqual([...errors].map(([event, fields]) => [event, fields?.code, fields?.note]).sort(), [
      ['delivery_update_failed', 'SQLITE_FULL', advice],
      ['lease_failed', 'SQLITE_FULL', advice],
    ]);
    ledger.close();
  });

  it('writes again an outcome it could not write, rather than call the DSP a second time once the delivery’s lease has run out', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'unwritten.db')));
    ledger.record([withBurl('unwritten', `${dspUrl}/unwritten`)]);
    // Fault injection: the ledger refuses the first write of a delivered outcome (the dispatcher
    // settles each outcome through the port).
    let refusals = 1;
    const refusing = ledgerWith(ledger, {
      settleDeliveries: (settlements) => {
        if (settlements.some((settlement) => 'deliveredMs' in settlement) && refusals-- > 0)
          throw new Error('SQLITE_BUSY: database is locked');
        ledger.settleDeliveries(settlements);
      },
    });
    const errors: string[] = [];
    const log: Logger = { ...silent, error: (event) => errors.push(event) };
    let nowMs = T0;
    const dispatcher = new BurlDispatcher(refusing, options, noMetrics, log, () => nowMs);
    dispatcher.start();
    try {
      await until(() => errors.length > 0);
      assert.deepEqual(errors, ['delivery_update_failed']);
      // The lease of its one call runs out before the outcome is written.
      nowMs = T0 + 2 * options.requestTimeoutMs;
      await until(() => ledger.listDeliveries(1, 'delivered', 10).length === 1);
    } finally {
      await dispatcher.stop();
    }
    assert.deepEqual(
      calls.filter((path) => path === '/unwritten'),
      ['/unwritten'],
    );
    assert.equal(ledger.listDeliveries(1, 'delivered', 10)[0]?.attempts, 1);
    ledger.close();
  });
  it('says, as it stops, which outcomes it could not write: their DSPs answered, yet the next start calls them again', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'unwritten-at-stop.db')));
    ledger.record([withBurl('unwritten-at-stop', `${dspUrl}/unwritten-at-stop`)]);
    // Fault injection: the ledger refuses every write of a delivered outcome, as on a full disk.
    const refusing = ledgerWith(ledger, {
      settleDeliveries: (settlements) => {
        if (settlements.some((settlement) => 'deliveredMs' in settlement))
          throw new Error('SqliteError: database or disk is full');
        ledger.settleDeliveries(settlements);
      },
    });
    const warnings: { event: string; fields: Record<string, unknown> | undefined }[] = [];
    const errors: string[] = [];
    const log: Logger = {
      ...silent,
      warn: (event, fields) => warnings.push({ event, fields }),
      error: (event) => errors.push(event),
    };
    const dispatcher = new BurlDispatcher(refusing, options, noMetrics, log, () => T0);
    dispatcher.start();
    try {
      await until(() => errors.length > 0);
    } finally {
      await dispatcher.stop();
    }
    const [pending] = ledger.listDeliveries(1, 'pending', 10);
    ledger.close();
    assert.deepEqual(warnings, [
      {
        event: 'burl_outcomes_unwritten',
        fields: {
          deliveryIds: [pending?.id],
          error: 'Error: SqliteError: database or disk is full',
          note: 'Tally stopped before the ledger took the outcomes of these burl calls (a full disk, a failing one): they stay pending, and the next start calls them again, under the same X-Tally-Delivery-Id, though their DSPs may have answered',
        },
      },
    ]);
  });

  it('holds more than ten calls in flight without a warning of a listener leak on stderr', async () => {
    const ledger = new SqliteLedger(openSqlite(join(dir, 'many-in-flight.db')));
    const keys = Array.from({ length: 12 }, (_, index) => `many-${index}`);
    ledger.record(keys.map((key) => withBurl(key, `${dspUrl}/slow-${key}`)));
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const dispatcher = new BurlDispatcher(
      ledger,
      { ...options, concurrency: 16, hostConcurrency: 16 },
      noMetrics,
      silent,
      () => T0,
    );
    holdSlow = true;
    dispatcher.start();
    try {
      await until(() => slow.length === keys.length);
      // A warning is emitted on the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await stopReleasingSlowCalls(dispatcher);
      process.off('warning', onWarning);
      ledger.close();
    }
    assert.deepEqual(warnings, []);
  });
});

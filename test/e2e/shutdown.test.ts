import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lockDataDir } from '../../src/adapters/sqlite/data-dir-lock.js';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';
import { ABANDONED_CALL_ERROR } from '../../src/billing/dispatcher.js';
import { REPEATED_SIGNAL_MS } from '../../src/server.js';
import {
  acceptsConnections,
  api,
  freePort,
  serveOnFreePort,
  spawnServe,
  untilReady,
} from '../support/server.js';
import { until } from '../support/until.js';
import { ledgerToMigrate } from '../support/older-schema.js';
import type { ReadyServe } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
/**
 * The grace period of the servers whose tests wait it out (`TALLY_SHUTDOWN_GRACE_SECONDS`), well
 * short of the default 10 s.
 */
const GRACE_SECONDS = 3;
const GRACE_MS = GRACE_SECONDS * 1000;
/** The settings of a server whose shutdown waits out a grace period of `GRACE_SECONDS`. */
const SHORT_GRACE = { TALLY_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) };
/**
 * Time past the grace period within which what it ends has ended: ample on a loaded machine, yet
 * short of the default grace period, so that a server that waited that out is caught.
 */
const GRACE_SLACK_MS = 5_000;
/**
 * Longest a test waits for the process to exit after SIGTERM: the default 10 s grace period and
 * ample time for the rest, but well short of the 65 s keep-alive timeout an idle connection could
 * otherwise hold it open for.
 */
const EXIT_DEADLINE_MS = 30_000;

/** A `tally serve` process this file started, with its exit. */
interface Running {
  child: ChildProcess;
  url: string;
  port: number;
  dataDir: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `tally serve` on a fresh data directory and waits until `/readyz` answers 200. */
async function launch(env: Record<string, string> = {}): Promise<Running> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tally-shutdown-'));
  let started: ReadyServe;
  try {
    started = await serveOnFreePort(dataDir, { TALLY_ADMIN_KEY: ADMIN_KEY, ...env });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { serve, url, port } = started;
  const { child, output } = serve;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, url, port, dataDir, output, exited };
}

/** Kills the process if it still runs and deletes its data directory. */
async function dispose(running: Running): Promise<void> {
  if (running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
  rmSync(running.dataDir, { recursive: true, force: true });
}

/** The process's exit, or a failed assertion when it still runs `EXIT_DEADLINE_MS` from now. */
async function exitOf(running: Running): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'running'>((resolve) => {
    timer = setTimeout(() => resolve('running'), EXIT_DEADLINE_MS);
  });
  try {
    const outcome = await Promise.race([running.exited, timedOut]);
    if (outcome === 'running')
      assert.fail(`still running ${EXIT_DEADLINE_MS} ms after SIGTERM:\n${running.output()}`);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until nothing accepts connections on the port any more: the shutdown has begun. */
async function stoppedListening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (await acceptsConnections(port)) {
    if (Date.now() > deadline) assert.fail(`port ${port} still accepts connections`);
    await sleep(20);
  }
}

/** Waits until the process has printed `text`, looking every 5 ms. */
async function logged(running: Running, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!running.output().includes(text)) {
    if (Date.now() > deadline) assert.fail(`never printed ${text}:\n${running.output()}`);
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A raw HTTP/1.1 connection: what is written is sent as is, what comes back is kept as text. */
class RawConnection {
  readonly socket: Socket;
  private received = '';
  /** Resolves when the server ended the connection (or it closed otherwise). */
  readonly ended: Promise<void>;

  /** `halfOpen`: keep this end open when the server ends its own, as a client that never closes. */
  constructor(port: number, halfOpen = false) {
    this.socket = connect({ port, host: '127.0.0.1', allowHalfOpen: halfOpen });
    this.socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => {
      this.socket.once('end', () => resolve());
      this.socket.once('close', () => resolve());
    });
  }

  write(text: string): void {
    this.socket.write(text, 'latin1');
  }

  /** Everything received so far. */
  text(): string {
    return this.received;
  }

  /**
   * The statuses of the answers received so far, once there are `count` of them or the server
   * ended the connection; fails when neither happens within `timeoutMs` (a request left hanging).
   */
  async statuses(count: number, timeoutMs = 20_000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const statuses = [...this.received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
      if (statuses.length >= count || this.socket.readableEnded || this.socket.destroyed) return statuses;
      if (Date.now() > deadline)
        assert.fail(`${count - statuses.length} requests neither answered nor closed within ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  /** Waits until what was received matches `pattern`; fails when the connection closes first. */
  async until(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.received)) {
      if (this.socket.destroyed || this.socket.readableEnded)
        assert.fail(`the connection closed before ${pattern}: ${JSON.stringify(this.received)}`);
      if (Date.now() > deadline) assert.fail(`no ${pattern} within ${timeoutMs} ms: ${this.received}`);
      await sleep(10);
    }
    return this.received;
  }
}

function bannerWin(auctionId: string) {
  return {
    request: { id: auctionId, imp: [{ id: '1', banner: {} }], site: {} },
    seat: 'seat-shutdown',
    bid: { id: 'b', impid: '1', price: 1, adm: '<p>ad</p>' },
  };
}

/** Registers banner wins for the auction ids and answers their notice URLs (the `adm` pixels). */
async function noticeUrls(running: Running, auctionIds: string[]): Promise<string[]> {
  const registered = await api(running, ADMIN_KEY, 'POST', '/v1/wins', { wins: auctionIds.map(bannerWin) });
  assert.equal(registered.status, 200);
  return registered.body.results.map((result: any) => {
    assert.equal(result.ok, true, JSON.stringify(result));
    return result.noticeUrls.adm as string;
  });
}

/** A kept-alive connection that node:http serves (the notice lane hands it over for `/healthz`). */
async function nodeHttpConnection(port: number, halfOpen = false): Promise<RawConnection> {
  const connection = new RawConnection(port, halfOpen);
  connection.write('GET /healthz HTTP/1.1\r\nHost: tally\r\n\r\n');
  await connection.until(/"status":"ok"/);
  return connection;
}

/** Starts `POST /v1/wins` on `connection` up to node:http's `100 Continue`: the request is in flight. */
async function startWinsCall(connection: RawConnection, bodyBytes: number): Promise<void> {
  connection.write(
    'POST /v1/wins HTTP/1.1\r\nHost: tally\r\n' +
      `Authorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${bodyBytes}\r\nExpect: 100-continue\r\n\r\n`,
  );
  await connection.until(/HTTP\/1\.1 100 Continue\r\n\r\n/);
}

/** The `connections_closed` log lines: connections Tally had to cut during its shutdown. */
function connectionsCut(running: Running): unknown[] {
  return running
    .output()
    .split('\n')
    .filter((line) => line.includes('"event":"connections_closed"'))
    .map((line) => JSON.parse(line));
}

/** The `shutting_down` log lines, which say the signal and the grace period (`graceMs`). */
function shuttingDownLines(running: Running): unknown[] {
  return running
    .output()
    .split('\n')
    .filter((line) => line.includes('"event":"shutting_down"'))
    .map((line) => JSON.parse(line));
}

/** Whether this process can take the data directory's lock (the server released it). */
function dataDirIsFree(dataDir: string): boolean {
  try {
    lockDataDir(dataDir).release();
    return true;
  } catch {
    return false;
  }
}

describe('shutting down on SIGTERM', () => {
  it('exits 0 after its grace period when a client stalls mid-request, releasing the data directory', async () => {
    const tally = await launch(SHORT_GRACE);
    try {
      const stalled = await nodeHttpConnection(tally.port);
      // The head is read and the body never comes: node:http stops timing requests out once
      // the server closes, so only the shutdown's own bound ends this one.
      await startWinsCall(stalled, 1000);
      tally.child.kill('SIGTERM');
      const { code, signal } = await exitOf(tally);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, tally.output());
      assert.deepEqual(
        connectionsCut(tally).map((line: any) => line.why),
        ['shutdown_grace_expired'],
      );
      assert.match(tally.output(), /"event":"stopped"/);
      await stalled.ended;
      assert.ok(dataDirIsFree(tally.dataDir), 'the data directory lock was released');
    } finally {
      await dispose(tally);
    }
  });

  it('closes a connection stalled mid-request TALLY_SHUTDOWN_GRACE_SECONDS after SIGTERM, not before, and logs that grace', async () => {
    const tally = await launch(SHORT_GRACE);
    try {
      const stalled = await nodeHttpConnection(tally.port);
      await startWinsCall(stalled, 1000);
      const signalledMs = performance.now();
      tally.child.kill('SIGTERM');
      await stalled.ended;
      const endedAfterMs = performance.now() - signalledMs;
      assert.equal(
        endedAfterMs >= GRACE_MS && endedAfterMs < GRACE_MS + GRACE_SLACK_MS,
        true,
        `the connection ended ${Math.round(endedAfterMs)} ms after SIGTERM, the grace period being ${GRACE_MS} ms`,
      );
      assert.equal((await exitOf(tally)).code, 0, tally.output());
      assert.deepEqual(
        shuttingDownLines(tally).map((line: any) => line.graceMs),
        [GRACE_MS],
      );
      assert.deepEqual(
        connectionsCut(tally).map((line: any) => line.why),
        ['shutdown_grace_expired'],
      );
    } finally {
      await dispose(tally);
    }
  });

  it('takes a grace period of 10 s when TALLY_SHUTDOWN_GRACE_SECONDS is not set, as its shutting_down log says', async () => {
    const tally = await launch();
    try {
      tally.child.kill('SIGTERM');
      assert.equal((await exitOf(tally)).code, 0, tally.output());
      assert.deepEqual(
        shuttingDownLines(tally).map((line: any) => line.graceMs),
        [10_000],
      );
    } finally {
      await dispose(tally);
    }
  });

  // SIGHUP too, as when the terminal of npm start closes.
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`answers a request in flight at ${signal} with Connection: close and ends its connection, so the idle client does not hold the process open`, async () => {
      const tally = await launch();
      try {
        const body = JSON.stringify({ wins: [bannerWin(`in-flight-${signal}`)] });
        // A client that keeps its end open once the server ends its own: only the server can close it.
        const connection = await nodeHttpConnection(tally.port, true);
        await startWinsCall(connection, Buffer.byteLength(body));
        tally.child.kill(signal);
        await stoppedListening(tally.port);
        connection.write(body);
        const answer = await connection.until(/"results"/);
        const head = answer.slice(answer.lastIndexOf('HTTP/1.1 '));
        assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(head, /\r\nConnection: close\r\n/i);
        assert.match(head, /"ok":true/);
        const { code, signal: exitSignal } = await exitOf(tally);
        assert.deepEqual({ code, signal: exitSignal }, { code: 0, signal: null }, tally.output());
        assert.match(tally.output(), new RegExp(`"event":"shutting_down".*"signal":"${signal}"`));
        assert.deepEqual(
          connectionsCut(tally),
          [],
          'the connection ended with its answer, not at the grace period',
        );
        assert.equal(dataDirIsFree(tally.dataDir), true, 'the stopped Tally released its data directory');
      } finally {
        await dispose(tally);
      }
    });
  }

  it('answers /readyz 503 with Retry-After: 1 on a kept-alive connection while draining, an answer it logs as no failure', async () => {
    const tally = await launch();
    try {
      // A request started on each connection (head incomplete) keeps both open at SIGTERM; one
      // of them holds the shutdown open while the other asks whether Tally is ready.
      const stalled = await nodeHttpConnection(tally.port);
      await startWinsCall(stalled, 1000);
      const probe = await nodeHttpConnection(tally.port);
      probe.write('GET /readyz HTTP/1.1\r\nHost: tally\r\n');
      // These bytes reached the server before this request was sent, so it has read them (the
      // start of a request: the connection is not idle) by the time this one is answered.
      assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
      tally.child.kill('SIGTERM');
      await stoppedListening(tally.port);
      probe.write('\r\n');
      const answer = await probe.until(/"code":"UNAVAILABLE"/);
      assert.match(answer.slice(answer.lastIndexOf('HTTP/1.1 ')), /^HTTP\/1\.1 503 /);
      // Another Tally, restarted on the port, may be ready by then.
      assert.match(answer.slice(answer.lastIndexOf('HTTP/1.1 ')), /\r\nRetry-After: 1\r\n/i);
      stalled.socket.destroy();
      const { code } = await exitOf(tally);
      assert.equal(code, 0, tally.output());
      assert.doesNotMatch(tally.output(), /"level":"error".*\/readyz/);
    } finally {
      await dispose(tally);
    }
  });

  it('destroys an idle notice-lane connection whose client never closes its end, so it does not hold the process open', async () => {
    const tally = await launch();
    try {
      const [url] = await noticeUrls(tally, ['lane-idle-1']);
      const target = new URL(url ?? '');
      const connection = new RawConnection(tally.port, true);
      connection.write(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\n\r\n`,
      );
      await connection.until(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nGIF89a/);
      tally.child.kill('SIGTERM');
      const { code, signal } = await exitOf(tally);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, tally.output());
      assert.deepEqual(connectionsCut(tally), [], 'the lane closed it itself, not at the grace period');
      await connection.ended;
      connection.socket.destroy();
    } finally {
      await dispose(tally);
    }
  });

  it('counts no notice pipelined behind the last answer of a node:http connection once shutting down, as that answer closes it', async () => {
    const tally = await launch();
    try {
      const paths = (await noticeUrls(tally, ['piped-1', 'piped-2', 'piped-3'])).map((url) => {
        const target = new URL(url);
        return `${target.pathname}${target.search}`;
      });
      const post = (path: string) => `POST ${path} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\n`;
      const connection = await nodeHttpConnection(tally.port);
      // A notice begun, so the connection is not idle at SIGTERM: it is served, then closed.
      connection.write(post(paths[0] ?? ''));
      // Those bytes reached the server before this request was sent, so it has read them by the
      // time this one is answered.
      assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
      tally.child.kill('SIGTERM');
      await stoppedListening(tally.port);
      connection.write(
        `Content-Length: 0\r\n\r\n${[paths[1], paths[2]].map((path) => `${post(path ?? '')}Content-Length: 0\r\n\r\n`).join('')}`,
      );
      await connection.ended;
      const answers = connection.text().split('HTTP/1.1 ').slice(2);
      assert.match(answers[0] ?? '', /^200 OK\r\n[\s\S]*Connection: close\r\n/i);
      assert.equal((await exitOf(tally)).code, 0, tally.output());
      const ledger = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
      const recorded = ledger.prepare('SELECT auction_id FROM event_rows ORDER BY id').pluck().all();
      ledger.close();
      assert.deepEqual(recorded, ['piped-1'], 'only the notice answered is in the ledger');
    } finally {
      await dispose(tally);
    }
  });

  it('closes the connections still open at a second SIGTERM and still exits 0 with the data directory released', async () => {
    const tally = await launch();
    try {
      const stalled = await nodeHttpConnection(tally.port);
      await startWinsCall(stalled, 1000);
      tally.child.kill('SIGTERM');
      // It stops listening once it handled the signal; one within a second of that is taken for a
      // copy of it (see the next test).
      await stoppedListening(tally.port);
      await sleep(REPEATED_SIGNAL_MS + 100);
      tally.child.kill('SIGTERM');
      const { code, signal } = await exitOf(tally);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, tally.output());
      assert.match(tally.output(), /"event":"shutting_down_now"/);
      assert.deepEqual(
        connectionsCut(tally).map((line: any) => line.why),
        ['closed_now'],
      );
      assert.match(tally.output(), /"event":"stopped"/);
      await stalled.ended;
      assert.equal(dataDirIsFree(tally.dataDir), true, 'the stopped Tally released its data directory');
    } finally {
      await dispose(tally);
    }
  });
  it('takes a SIGINT repeated at once for the same Ctrl-C, as npm start passes it on, and still answers the request in flight', async () => {
    const tally = await launch();
    try {
      // A wins thread already warm: on a loaded machine a cold one's start could outlast the grace.
      await noticeUrls(tally, ['ctrl-c-warm']);
      const body = JSON.stringify({ wins: [bannerWin('ctrl-c-1')] });
      const connection = await nodeHttpConnection(tally.port);
      await startWinsCall(connection, Buffer.byteLength(body));
      // Ctrl-C reaches the process group: Tally gets SIGINT from the terminal, then again from
      // npm, which passes its own on once Tally has begun to shut down.
      tally.child.kill('SIGINT');
      const firstSignalMs = performance.now();
      // Once its handler has run, not before (two signals still pending merge into one), and as
      // soon as it has: waiting for the port to close could outlast the window on a loaded machine.
      await logged(tally, '"event":"shutting_down"');
      tally.child.kill('SIGINT');
      assert.ok(performance.now() - firstSignalMs < REPEATED_SIGNAL_MS, 'the copy came within the window');
      connection.write(body);
      const answer = await connection
        .until(/"results"/)
        .catch((error: unknown) => assert.fail(`${String(error)}\n${tally.output()}`));
      assert.match(answer.slice(answer.lastIndexOf('HTTP/1.1 ')), /^HTTP\/1\.1 200 OK\r\n[\s\S]*"ok":true/);
      const { code, signal } = await exitOf(tally);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, tally.output());
      assert.doesNotMatch(tally.output(), /"event":"shutting_down_now"/);
      assert.deepEqual(connectionsCut(tally), []);
    } finally {
      await dispose(tally);
    }
  });
});

/** Starts Tally on `dataDir` and sends it `signal` as soon as it logs that it migrates the ledger. */
async function stopAtMigration(
  dataDir: string,
  signal: NodeJS.Signals,
): Promise<ReturnType<typeof spawnServe>> {
  const serve = spawnServe(dataDir, await freePort(), { TALLY_ADMIN_KEY: ADMIN_KEY });
  let signalled = false;
  serve.child.stdout?.on('data', () => {
    if (!signalled && serve.stdout().includes('"event":"migrating_ledger"')) {
      signalled = true;
      serve.child.kill(signal);
    }
  });
  return serve;
}

/**
 * Hourly rollup rows the ledger a signal stops the start of holds: enough that the signal sent at
 * the migration's log line arrives while it runs (see `ledgerToMigrate`).
 */
const ROLLUP_ROWS = 1_000_000;

describe('a stop signal while Tally starts', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops at ${signal} while migrating the ledger: exits 0 without listening, the migration whole and the ledger closed cleanly`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'tally-stop-during-start-'));
      const dbPath = join(dataDir, 'tally.db');
      try {
        // The signal is sent as the migration's log line is read. On a loaded machine this test may
        // read it only once the migration is over: the start is then stopped at a later step (the
        // key file made, or the claims loaded), which is not what this test is about, and it tries
        // again on a fresh ledger, at most three times.
        let stopped: { serve: ReturnType<typeof spawnServe>; events: string[] } | undefined;
        for (let attempt = 1; stopped === undefined; attempt++) {
          rmSync(dataDir, { recursive: true, force: true });
          // Its owner's alone, as Tally makes a data directory: the start has no mode to tighten.
          mkdirSync(dataDir, { mode: 0o700 });
          ledgerToMigrate(dbPath, ROLLUP_ROWS);
          const serve = await stopAtMigration(dataDir, signal);
          const [code, exitSignal] = (await once(serve.child, 'exit')) as [number | null, string | null];
          assert.deepEqual({ code, exitSignal }, { code: 0, exitSignal: null }, serve.output());
          const events = serve
            .stdout()
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => (JSON.parse(line) as { event: string }).event);
          const signalledLate =
            events.includes('claims_loaded') || readdirSync(dataDir).includes('token-keys.json');
          if (!signalledLate) stopped = { serve, events };
          else if (attempt === 3)
            assert.fail(`the signal came after the migration 3 times:\n${serve.output()}`);
        }
        const { serve, events } = stopped;
        assert.deepEqual(events, ['migrating_ledger', 'stopped_during_start'], serve.output());
        // Stopped once the migration was done, before the key file was made; closed cleanly: the WAL
        // checkpointed into tally.db and removed, the lock released.
        assert.deepEqual(readdirSync(dataDir).sort(), ['tally.db', 'tally.lock']);
        lockDataDir(dataDir).release();
        const db = new Database(dbPath, { readonly: true });
        try {
          assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
          assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
          const { n } = db.prepare('SELECT COUNT(*) AS n FROM rollup_hourly').get() as { n: number };
          assert.equal(n, ROLLUP_ROWS);
        } finally {
          db.close();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});

describe('SIGTERM while notices are being fired', () => {
  it('loses no answered notice and counts none twice, on pipelined notice-lane connections and node:http beacons alike', async () => {
    const WINS = 1200;
    const LANE_CONNECTIONS = 6;
    const PIPELINED = 8;
    const BEACON_CLIENTS = 4;
    // Batches wait 20 ms before they commit, so that many are in flight when the signal comes.
    const tally = await launch({ TALLY_COMMIT_MAX_DELAY_MS: '20' });
    try {
      const auctionIds = Array.from({ length: WINS }, (_, index) => `fired-${index}`);
      const urls = await noticeUrls(tally, auctionIds);
      const answered = new Set<number>();
      let next = 0;
      let signalled = false;
      const take = (): number | undefined => (next < WINS ? next++ : undefined);
      const noteAnswer = (index: number): void => {
        answered.add(index);
        if (!signalled && answered.size >= WINS / 4) {
          signalled = true;
          tally.child.kill('SIGTERM');
        }
      };
      const lane = async (): Promise<void> => {
        const connection = new RawConnection(tally.port);
        let asked = 0;
        try {
          for (;;) {
            const batch: number[] = [];
            for (
              let index = take();
              index !== undefined;
              index = batch.length < PIPELINED ? take() : undefined
            )
              batch.push(index);
            if (batch.length === 0 || connection.socket.destroyed || connection.socket.writableEnded) return;
            connection.write(
              batch
                .map((index) => {
                  const target = new URL(urls[index] ?? '');
                  return `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: tally\r\nUser-Agent: ${CHROME}\r\n\r\n`;
                })
                .join(''),
            );
            const statuses = await connection.statuses(asked + batch.length);
            batch.forEach((index, at) => {
              if (statuses[asked + at] === 200) noteAnswer(index);
            });
            asked += batch.length;
            if (statuses.length < asked) return;
          }
        } finally {
          connection.socket.destroy();
        }
      };
      const beacons = async (): Promise<void> => {
        for (let index = take(); index !== undefined; index = take()) {
          // POST: node:http serves it, not the lane.
          let response: Response;
          try {
            response = await fetch(urls[index] ?? '', { method: 'POST', headers: { 'user-agent': CHROME } });
            await response.arrayBuffer();
          } catch {
            return; // the server closed: this notice was never acknowledged
          }
          if (response.status >= 200 && response.status < 300) noteAnswer(index);
        }
      };
      await Promise.all([
        ...Array.from({ length: LANE_CONNECTIONS }, lane),
        ...Array.from({ length: BEACON_CLIENTS }, beacons),
      ]);
      assert.ok(signalled, `SIGTERM was not sent: ${answered.size} answered`);
      assert.ok(answered.size < WINS, 'the signal came while notices were still being fired');
      const { code, signal } = await exitOf(tally);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, tally.output());

      const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
      try {
        const events = db.prepare(`SELECT auction_id AS auction, outcome FROM events`).all() as {
          auction: string;
          outcome: string;
        }[];
        const byAuction = new Map<string, string[]>();
        for (const event of events)
          byAuction.set(event.auction, [...(byAuction.get(event.auction) ?? []), event.outcome]);
        for (const [auction, outcomes] of byAuction)
          assert.deepEqual(
            outcomes,
            ['counted'],
            `${auction} was fired once, so it is recorded once, counted`,
          );
        for (const index of answered)
          assert.ok(byAuction.has(`fired-${index}`), `fired-${index} was answered, so it is in the ledger`);
      } finally {
        db.close();
      }
    } finally {
      await dispose(tally);
    }
  });
});

describe('SIGTERM while a burl call is in flight', () => {
  it('exits at the end of its grace period though the DSP never answers, leaving the delivery pending and due as it was, and sends it at the next start', async () => {
    // A DSP that holds every call until `answering`, then answers 200.
    const held: ServerResponse[] = [];
    const deliveryIds: unknown[] = [];
    let answering = false;
    const dsp = createServer((req, res) => {
      deliveryIds.push(req.headers['x-tally-delivery-id']);
      if (answering) res.writeHead(200).end('ok');
      else held.push(res);
    });
    await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
    const dspUrl = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
    // A time limit far past the grace period: only the shutdown can end the call.
    const env = { TALLY_BURL_PRIVATE_NETWORKS: 'allow', TALLY_BURL_TIMEOUT_MS: '120000' };
    const tally = await launch({ ...env, ...SHORT_GRACE });
    let restarted: ChildProcess | undefined;
    try {
      const win = {
        ...bannerWin('burl-in-flight'),
        bid: { ...bannerWin('burl-in-flight').bid, burl: `${dspUrl}/bill` },
      };
      const registered = await api(tally, ADMIN_KEY, 'POST', '/v1/wins', { wins: [win] });
      const notice = await fetch(registered.body.results[0].noticeUrls.adm, {
        headers: { 'user-agent': CHROME },
      });
      assert.equal(notice.status, 200);
      await until(() => Promise.resolve(held.length === 1), 'the DSP getting the burl call');
      const signalledMs = performance.now();
      tally.child.kill('SIGTERM');
      const { code } = await exitOf(tally);
      const exitedAfterMs = performance.now() - signalledMs;
      assert.equal(code, 0, tally.output());
      assert.equal(
        exitedAfterMs >= GRACE_MS && exitedAfterMs < GRACE_MS + GRACE_SLACK_MS,
        true,
        `exited ${Math.round(exitedAfterMs)} ms after SIGTERM, the grace period being ${GRACE_MS} ms`,
      );
      assert.match(tally.output(), /"event":"burl_calls_abandoned"/);
      const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
      let delivery: unknown;
      try {
        delivery = db
          .prepare(
            `SELECT id, status, attempts, due_ms <= ? AS due, lease_until_ms AS leaseUntilMs,
               first_failed_ms AS firstFailedMs, last_error AS lastError FROM deliveries`,
          )
          .all(Date.now());
      } finally {
        db.close();
      }
      assert.deepEqual(delivery, [
        {
          id: Number(deliveryIds[0]),
          status: 'pending',
          attempts: 1,
          due: 1,
          leaseUntilMs: 0,
          firstFailedMs: null,
          lastError: ABANDONED_CALL_ERROR,
        },
      ]);

      answering = true;
      const serve = spawnServe(tally.dataDir, tally.port, { TALLY_ADMIN_KEY: ADMIN_KEY, ...env });
      restarted = serve.child;
      await untilReady(serve, tally.url);
      const delivered = await until(async () => {
        const answer = await api(tally, ADMIN_KEY, 'GET', '/v1/deliveries?status=delivered');
        return answer.body.deliveries?.length === 1 ? answer.body.deliveries : undefined;
      }, 'the delivery sent after the restart');
      assert.deepEqual(
        [delivered[0].id, deliveryIds],
        [Number(deliveryIds[0]), [deliveryIds[0], deliveryIds[0]]],
      );
    } finally {
      if (restarted !== undefined && restarted.exitCode === null && restarted.signalCode === null) {
        const exited = once(restarted, 'exit');
        restarted.kill('SIGTERM');
        await exited;
      }
      for (const res of held) res.destroy();
      await new Promise<void>((resolve) => dsp.close(() => resolve()));
      await dispose(tally);
    }
  });
});

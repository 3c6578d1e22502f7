import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rawExchange } from '../support/raw-http.js';
import { freePort, spawnServe } from '../support/server.js';
import { until } from '../support/until.js';

/** An answer read off a connection: its status and body. */
interface Answer {
  status: number;
  body: string;
}

/**
 * A keep-alive connection the test holds open, asking one request at a time (each answer read by
 * its Content-Length). `fetch` is not used: its pool would keep connections of its own open.
 */
class HeldConnection {
  private received = '';
  private waiting: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      this.waiting?.();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number): Promise<HeldConnection> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new HeldConnection(socket);
  }

  /** Asks `GET path` and reads its answer whole. */
  async ask(path: string): Promise<Answer> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    for (;;) {
      const headEnd = this.received.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(this.received.slice(0, headEnd))?.[1];
      if (headEnd >= 0 && length !== undefined && this.received.length >= headEnd + 4 + Number(length)) {
        const status = Number(this.received.slice(9, 12));
        const body = this.received.slice(headEnd + 4, headEnd + 4 + Number(length));
        this.received = this.received.slice(headEnd + 4 + Number(length));
        return { status, body };
      }
      if (this.socket.destroyed)
        assert.fail(`the connection closed before answering ${path} whole: ${JSON.stringify(this.received)}`);
      const more = new Promise<void>((resolve) => (this.waiting = resolve));
      await Promise.race([more, this.closed]);
    }
  }

  /** Closes the connection and waits until it is closed. */
  async close(): Promise<void> {
    this.socket.end();
    await this.closed;
  }
}

/**
 * Opens a connection, asks `GET path` on it (`Connection: close`) and reads until it closes:
 * answers what came, and whether the connection was reset rather than ended.
 */
function askOnNewConnection(port: number, path: string): Promise<{ answer: string; reset: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let reset = false;
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => (reset = true));
    socket.on('close', () => resolve({ answer, reset }));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

/** The value of the sample `series` in a `/metrics` body. */
function sampleOf(metrics: string, series: string): number {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? Number.NaN);
}

describe('TALLY_MAX_CONNECTIONS', () => {
  it('closes, unanswered, a connection opened past the cap, notice lane or not, counting it in tally_connections_dropped_total, and serves a new one once an open one closed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-connection-cap-'));
    const port = await freePort();
    const serve = spawnServe(dataDir, port, {
      TALLY_ADMIN_KEY: 'test-admin-key-0123456789',
      TALLY_MAX_CONNECTIONS: '2',
    });
    const url = `http://127.0.0.1:${port}`;
    const held: HeldConnection[] = [];
    try {
      // Each look on a connection of its own, closed after its answer; once that connection is
      // the only one Tally sees, the test has the cap to itself.
      const baseline = await until(async () => {
        if (serve.child.exitCode !== null) assert.fail(`tally exited:\n${serve.output()}`);
        const ask = (path: string) =>
          rawExchange(url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`).catch(() => '');
        if (!(await ask('/readyz')).startsWith('HTTP/1.1 200')) return undefined;
        const metrics = await ask('/metrics');
        return sampleOf(metrics, 'tally_connections_open') === 1 ? metrics : undefined;
      }, 'Tally ready, with no connection open but the one asking');
      const droppedBefore = sampleOf(baseline, 'tally_connections_dropped_total');

      // Two idle keep-alive connections, each first served by the notice lane (a notice whose
      // token cannot be read is answered 200 and recorded).
      for (let opened = 0; opened < 2; opened++) {
        const connection = await HeldConnection.open(port);
        held.push(connection);
        assert.equal((await connection.ask('/n/not-a-token')).status, 200);
      }
      const [first, second] = held as [HeldConnection, HeldConnection];

      const third = await askOnNewConnection(port, '/n/not-a-token');
      assert.equal(third.answer, '', `closed without an answer (reset: ${third.reset})`);

      const metrics = (await first.ask('/metrics')).body;
      assert.deepEqual(
        [
          sampleOf(metrics, 'tally_connections_dropped_total') - droppedBefore,
          sampleOf(metrics, 'tally_connections_open'),
        ],
        [1, 2],
      );

      await second.close();
      await until(
        async () => sampleOf((await first.ask('/metrics')).body, 'tally_connections_open') === 1,
        'the closed connection no longer counted',
      );
      const fourth = await askOnNewConnection(port, '/healthz');
      assert.match(fourth.answer, /^HTTP\/1\.1 200 /);
      assert.equal(
        sampleOf((await first.ask('/metrics')).body, 'tally_connections_dropped_total') - droppedBefore,
        1,
        'the new connection was not dropped',
      );
    } finally {
      for (const connection of held) await connection.close();
      if (serve.child.exitCode === null) {
        const exited = once(serve.child, 'exit');
        serve.child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

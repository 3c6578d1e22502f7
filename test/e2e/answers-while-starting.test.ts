import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { api, freePort, spawnServe, untilReady } from '../support/server.js';
import type { ServeProcess } from '../support/server.js';
import { ledgerToMigrate } from '../support/older-schema.js';
import { rawExchange } from '../support/raw-http.js';
import { until } from '../support/until.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
/**
 * Hourly rollup rows of the ledger Tally migrates as it starts: enough that the requests sent
 * once it logs `migrating_ledger` arrive while the migration runs (see `ledgerToMigrate`).
 */
const ROLLUP_ROWS = 1_000_000;
/** A report call's target: any API call is refused alike while Tally starts. */
const REPORT_TARGET = '/v1/reports?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&groupBy=outcome';

/** An answer read off the wire: its status, its header fields (names lowercased) and its body. */
interface Answer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends `GET target` on a new connection, and reads the answer given before the server closed it. */
async function getClosing(url: string, target: string, headers: string[] = []): Promise<Answer> {
  const raw = await rawExchange(
    url,
    [`GET ${target} HTTP/1.1`, 'Host: tally', ...headers, '', ''].join('\r\n'),
  );
  const headEnd = raw.indexOf('\r\n\r\n');
  assert.notEqual(headEnd, -1, `an answer was read before the connection closed: ${JSON.stringify(raw)}`);
  const [statusLine = '', ...fields] = raw.slice(0, headEnd).split('\r\n');
  const headerMap = new Map<string, string>();
  for (const field of fields) {
    const colon = field.indexOf(':');
    headerMap.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), headers: headerMap, body: raw.slice(headEnd + 4) };
}

/** The answers to requests sent while Tally migrated its ledger, the last of them a `/healthz`. */
interface StartingAnswers {
  healthz: Answer;
  readyz: Answer;
  notice: Answer;
  report: Answer;
  lastHealthz: Answer;
}

/**
 * Sends, once `serve` logs `migrating_ledger`, a `/healthz`, a `/readyz`, a notice and a report
 * call, each on a connection of its own, then a last `/healthz`. Each connection the held port
 * accepted is answered by it, and the port is handed over once: while the last `/healthz` is
 * answered `starting`, so were the requests before it.
 */
async function askWhileMigrating(serve: ServeProcess, url: string): Promise<StartingAnswers> {
  await until(
    () =>
      Promise.resolve(serve.stdout().includes('"event":"migrating_ledger"') || serve.child.exitCode !== null),
    'the migration log line',
    120_000,
  );
  assert.equal(serve.child.exitCode, null, serve.output());
  return {
    healthz: await getClosing(url, '/healthz'),
    readyz: await getClosing(url, '/readyz'),
    notice: await getClosing(url, '/n/any-token', ['X-Request-Id: notice-while-starting']),
    report: await getClosing(url, REPORT_TARGET, [`Authorization: Bearer ${ADMIN_KEY}`]),
    lastHealthz: await getClosing(url, '/healthz'),
  };
}

/** Stops `serve` (SIGTERM) and waits for its exit. */
async function stop(serve: ServeProcess): Promise<void> {
  if (serve.child.exitCode !== null || serve.child.signalCode !== null) return;
  const exited = once(serve.child, 'exit');
  serve.child.kill('SIGTERM');
  await exited;
}

describe('Tally while it starts', () => {
  it('answers /healthz 200 starting, /readyz 503 and any other request 503 STARTING with Retry-After, each closing its connection, while it migrates its ledger; then answers as usual', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-starting-'));
    try {
      // The requests are sent as the migration's log line is read. On a loaded machine this test may
      // send them only once the start is over (the last /healthz answered "ok"): it then tries again
      // on a fresh ledger, at most three times.
      for (let attempt = 1; ; attempt++) {
        rmSync(dataDir, { recursive: true, force: true });
        mkdirSync(dataDir);
        ledgerToMigrate(join(dataDir, 'tally.db'), ROLLUP_ROWS);
        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        const serve = spawnServe(dataDir, port, { TALLY_ADMIN_KEY: ADMIN_KEY });
        try {
          const answers = await askWhileMigrating(serve, url);
          if (JSON.parse(answers.lastHealthz.body).status !== 'starting') {
            if (attempt === 3) assert.fail(`the requests came after the start 3 times:\n${serve.output()}`);
            continue;
          }
          const { healthz, readyz, notice, report } = answers;
          assert.equal(healthz.status, 200);
          assert.deepEqual(JSON.parse(healthz.body), { status: 'starting' });
          assert.equal(healthz.headers.get('connection'), 'close');
          assert.equal(readyz.status, 503);
          assert.equal(JSON.parse(readyz.body).error.code, 'UNAVAILABLE');
          assert.equal(readyz.headers.get('connection'), 'close');
          for (const refused of [notice, report]) {
            assert.equal(refused.status, 503);
            assert.equal(refused.headers.get('retry-after'), '1');
            assert.equal(refused.headers.get('connection'), 'close');
            const { error } = JSON.parse(refused.body);
            assert.equal(error.code, 'STARTING');
            assert.match(error.message, /starting \(migrating or opening its ledger/);
            assert.equal(error.requestId, refused.headers.get('x-request-id'));
          }
          assert.equal(JSON.parse(notice.body).error.requestId, 'notice-while-starting');
          assert.match(JSON.parse(report.body).error.requestId, /^[0-9a-f-]{36}$/);
          // The start goes on: the ledger migrated, the usual answers.
          await untilReady(serve, url);
          const live = await fetch(`${url}/healthz`);
          assert.deepEqual(
            { status: live.status, body: await live.json() },
            { status: 200, body: { status: 'ok' } },
          );
          const reports = await api({ url }, ADMIN_KEY, 'GET', REPORT_TARGET);
          assert.equal(reports.status, 200, JSON.stringify(reports.body));
          // The ledger's hourly rollup rows, one an hour, read after the migration.
          assert.deepEqual(
            reports.body.rows.map((row: { outcome: string; events: number }) => [row.outcome, row.events]),
            [['counted', 24]],
          );
          return;
        } finally {
          await stop(serve);
        }
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

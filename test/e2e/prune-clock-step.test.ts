import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { fakeClock } from '../support/fake-clock.js';
import { tallyEnv } from '../support/server.js';
import { until } from '../support/until.js';

const REPO = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tally-prune-clock-'));
const clock = fakeClock();
let thread: ChildProcess | undefined;

after(async () => {
  if (thread !== undefined && thread.exitCode === null) {
    const exited = once(thread, 'exit');
    thread.kill('SIGTERM');
    await exited;
  }
  clock.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** The outcomes of the ledger's events, in the order recorded. */
function outcomes(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT outcome FROM events ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}

describe('retention pruning while the wall clock steps forward', () => {
  it('prunes no notice the retention keeps when the clock steps a month on between two passes', async () => {
    const dbPath = join(dir, 'tally.db');
    // A counting thread pruning every 100 ms with a retention of a day (see pruning-thread.ts).
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/pruning-thread.ts', dbPath], {
      cwd: REPO,
      env: tallyEnv(clock.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    thread = child;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => Promise.resolve(output.includes('recorded\n')), 'the notices recorded');
    const passes = () => output.split('"event":"pruned"').length - 1;
    const passesBefore = passes();
    clock.step('+30d');
    // Passes enough after the step that one began with the clock a month on.
    await until(() => Promise.resolve(passes() >= passesBefore + 5), 'five passes of pruning');
    clock.step('+0');
    assert.deepEqual(outcomes(dbPath), ['not_counted', 'counted']);
  });
});

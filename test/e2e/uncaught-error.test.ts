import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serveOnFreePort } from '../support/server.js';
import { INJECTED_FAULT } from '../support/throw-on-sigusr2.js';

const TOKEN_KEY = Buffer.alloc(32, 0x5a).toString('base64');
const PRELOAD = new URL('../support/throw-on-sigusr2.ts', import.meta.url).pathname;

describe('an error no code path catches', () => {
  it('is logged as one JSON line, with its stack, on stderr too, and stops the server with exit code 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-uncaught-'));
    const started = await serveOnFreePort(
      dataDir,
      {
        TALLY_TOKEN_KEYS: `1:${TOKEN_KEY}`,
        NODE_OPTIONS: `--import=tsx --import=${PRELOAD}`,
      },
      'sources',
    );
    try {
      const exited = once(started.serve.child, 'exit');
      started.serve.child.kill('SIGUSR2');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 1, started.serve.output());
      const lines = started.serve.stdout().trimEnd().split('\n');
      const last = JSON.parse(lines.at(-1) ?? '') as Record<string, unknown>;
      assert.deepEqual(
        { level: last.level, event: last.event, origin: last.origin },
        { level: 'error', event: 'failed_unexpectedly', origin: 'uncaughtException' },
      );
      assert.match(String(last.error), new RegExp(`^Error: ${INJECTED_FAULT} \\| at `));
      assert.match(
        started.serve.output(),
        new RegExp(`Tally failed unexpectedly \\(report this line\\): Error: ${INJECTED_FAULT} \\| at `),
      );
    } finally {
      if (started.serve.child.exitCode === null) started.serve.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

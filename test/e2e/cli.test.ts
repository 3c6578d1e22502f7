import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { holdPort, runCli } from '../support/server.js';

describe('the tally command', () => {
  it('refuses to serve on a blank or hexadecimal TALLY_PORT instead of listening on port 0 or 80', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-port-'));
    try {
      // A data directory that cannot be made: a Tally that took the port would stop there, not serve.
      const notADirectory = join(dir, 'file');
      writeFileSync(notADirectory, '');
      for (const port of ['  ', '0x50']) {
        const result = await runCli(['serve'], {
          TALLY_PORT: port,
          TALLY_DATA_DIR: join(notADirectory, 'data'),
        });
        assert.equal(result.code, 2, result.stderr);
        assert.match(
          result.stderr,
          new RegExp(`port: TALLY_PORT=${JSON.stringify(port)} must be a decimal integer from 0 to 65535`),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses rotate-token-key when TALLY_TOKEN_KEYS gives the keys, saying how to rotate there, and writes nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-rotate-'));
    try {
      const result = await runCli(['rotate-token-key'], {
        TALLY_DATA_DIR: dataDir,
        TALLY_TOKEN_KEYS: `1:${Buffer.alloc(32, 7).toString('base64')}`,
      });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /the keys come from TALLY_TOKEN_KEYS/);
      assert.match(result.stderr, /append <new id>:<32-byte key in base64>/);
      assert.match(result.stderr, /The last key listed signs new tokens/);
      assert.ok(!existsSync(join(dataDir, 'token-keys.json')), 'token-keys.json was written');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to replay dead deliveries from a directory holding no ledger, and creates none there', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-no-ledger-'));
    try {
      const mistyped = join(dataDir, 'dat');
      const result = await runCli(['replay-dead'], { TALLY_DATA_DIR: mistyped });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.equal(
        result.stderr,
        `Tally has no ledger at ${join(mistyped, 'tally.db')}: set TALLY_DATA_DIR to the data directory the server runs on\n`,
      );
      assert.ok(!existsSync(mistyped), 'a data directory was created');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('exits non-zero within seconds, saying which port to change, when its port is already taken', async () => {
    const holder = await holdPort();
    const port = holder.port;
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-port-taken-'));
    const env = {
      ...process.env,
      TALLY_DATA_DIR: dataDir,
      TALLY_PORT: String(port),
      TALLY_HOST: '127.0.0.1',
      TALLY_ADMIN_KEY: 'test-admin-key-0123456789',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      cwd: new URL('../../', import.meta.url).pathname,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), 10_000).unref(),
      );
      const outcome = await Promise.race([exit, timeout]);
      assert.notEqual(outcome, 'timeout', `still running after 10 s:\n${stderr}`);
      const [code] = outcome as [number | null, NodeJS.Signals | null];
      assert.equal(code, 1, stderr);
      assert.equal(
        stderr,
        `Tally cannot start: port ${port} is already in use: set TALLY_PORT to a free port\n`,
      );
    } finally {
      child.kill('SIGKILL');
      await holder.release();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, spawnServe, startServer, tallyEnv } from '../support/server.js';
import { until } from '../support/until.js';
import { fireWinNotice } from '../support/billed-win.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
const MIB = 1024 * 1024;

/** `/readyz`'s status and, for a 503, its message. */
async function readyz(url: string): Promise<{ status: number; message: string | undefined }> {
  const response = await fetch(`${url}/readyz`);
  const body = (await response.json()) as { error?: { message: string } };
  return { status: response.status, message: body.error?.message };
}

/** The value of the `/metrics` sample line beginning `series `. */
async function sample(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? Number.NaN);
}

const COUNTED_EXCHANGE = 'tally_notices_total{outcome="counted",reason="",impression_type="exchange"}';

describe("a data directory's disk with less free than TALLY_MIN_FREE_DISK_MB", () => {
  it('is never ready from the start, /readyz 503 saying the disk has too little free while /healthz answers 200, a warning logged once, and notices still count', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-low-disk-'));
    // More than the temporary directory's disk has free, whatever it has, by 1 TiB: no other work
    // on the host frees that much while the test runs.
    const { bavail, bsize } = statfsSync(dataDir);
    const minFreeMb = Math.ceil((bavail * bsize) / MIB) + 1024 * 1024;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const serve = spawnServe(dataDir, port, {
      TALLY_ADMIN_KEY: ADMIN_KEY,
      TALLY_MIN_FREE_DISK_MB: String(minFreeMb),
    });
    try {
      const seen: number[] = [];
      const unready = await until(async () => {
        if (serve.child.exitCode !== null) assert.fail(`tally exited:\n${serve.output()}`);
        try {
          const answer = await readyz(url);
          seen.push(answer.status);
          return answer.message?.startsWith('the disk') === true ? answer : undefined;
        } catch {
          return undefined; // not listening yet
        }
      }, "/readyz saying the disk's free space is low");
      assert.deepEqual(new Set(seen), new Set([503]), 'never ready, from the first answer on');
      assert.equal(
        unready.message,
        `the disk of the data directory has less than ${minFreeMb} MiB free (TALLY_MIN_FREE_DISK_MB; logged as data_disk_low): free space on its volume; notices are still counted while space remains`,
      );
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'alive: no restart would help');

      assert.equal(
        await fireWinNotice({ url, adminKey: ADMIN_KEY }, 'low-disk-1'),
        200,
        'notices are served meanwhile',
      );
      assert.equal(await sample(url, COUNTED_EXCHANGE), 1, 'and counted');
      assert.equal(await sample(url, 'tally_ready'), 0);
      const freeBytes = await sample(url, 'tally_data_disk_free_bytes');
      assert.equal(freeBytes > 0 && freeBytes < minFreeMb * MIB, true, `${freeBytes} bytes free shown`);

      // Past a few checks of the disk (one each 5 s): still one warning.
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      assert.equal((await readyz(url)).status, 503);
      const lowLines = serve
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"data_disk_low"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(
        lowLines.map((line) => [line.level, line.minFreeMb, line.dataDir]),
        [['warn', minFreeMb, dataDir]],
      );
    } finally {
      if (serve.child.exitCode === null) {
        const exited = once(serve.child, 'exit');
        serve.child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('is ready with TALLY_MIN_FREE_DISK_MB=0, which turns the check off, the free space still shown', async () => {
    const tally = await startServer({ TALLY_MIN_FREE_DISK_MB: '0' });
    try {
      assert.deepEqual(await readyz(tally.url), { status: 200, message: undefined });
      assert.equal(await sample(tally.url, 'tally_ready'), 1);
      const freeBytes = await sample(tally.url, 'tally_data_disk_free_bytes');
      assert.equal(freeBytes > 0, true, `${freeBytes} bytes free shown`);
    } finally {
      await tally.dispose();
    }
  });

  it("is off in the tests' own Tallies unless a test sets it, so that they are ready on a host whose temporary directory has less than 512 MiB free (a CI tmpfs, Docker's 64 MiB /dev/shm)", () => {
    assert.equal(tallyEnv({}).TALLY_MIN_FREE_DISK_MB, '0');
    assert.equal(tallyEnv({ TALLY_MIN_FREE_DISK_MB: '5' }).TALLY_MIN_FREE_DISK_MB, '5');
  });
});

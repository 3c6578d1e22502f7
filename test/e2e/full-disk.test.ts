import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { serveOnFreePort } from '../support/server.js';
import { FULL_DISK_FLAG } from '../support/full-disk.js';
import { fireWinNotice } from '../support/billed-win.js';

const ADMIN_KEY = 'test-admin-key-0123456789';
const PRELOAD = new URL('../support/full-disk.ts', import.meta.url).pathname;
/** Notices fired, at most, before the ledger's last free bytes in its pages are taken. */
const MAX_NOTICES_TO_FILL = 2000;

describe('a full disk under the ledger', () => {
  it('answers notices 503 and says on /readyz, in the log and in /metrics that the disk is full and what to do; counts again once space is freed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-full-disk-'));
    const flag = join(dataDir, '..', `${dataDir.split('/').at(-1)}.full`);
    const { serve, url } = await serveOnFreePort(
      dataDir,
      {
        TALLY_ADMIN_KEY: ADMIN_KEY,
        NODE_OPTIONS: `--import=tsx --import=${PRELOAD}`,
        [FULL_DISK_FLAG]: flag,
      },
      'sources',
    );
    const answered = new Map<string, number>();
    let auctions = 0;
    /** Registers a win and fires its notice as a browser; answers the notice's status. */
    const fireOne = async (): Promise<number> => {
      const auctionId = `full-${++auctions}`;
      const status = await fireWinNotice({ url, adminKey: ADMIN_KEY }, auctionId);
      answered.set(auctionId, status);
      return status;
    };
    /** The lines of /metrics naming a fault of the commits: the gauge, by kind. */
    const commitFaultLines = async (): Promise<string[]> =>
      (await (await fetch(`${url}/metrics`)).text())
        .split('\n')
        .filter((line) => line.startsWith('tally_commit_fault{'));
    try {
      assert.deepEqual(
        await commitFaultLines(),
        ['tally_commit_fault{kind="disk_full"} 0'],
        'shown from the start',
      );
      assert.equal(await fireOne(), 200);
      writeFileSync(flag, '');
      await new Promise((resolve) => setTimeout(resolve, 200));
      let status = 200;
      for (let fired = 0; status === 200 && fired < MAX_NOTICES_TO_FILL; fired++) status = await fireOne();
      assert.equal(status, 503, 'a notice is refused once the ledger cannot grow');

      assert.deepEqual(await commitFaultLines(), ['tally_commit_fault{kind="disk_full"} 1']);
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(
        ((await ready.json()) as { error: { message: string } }).error.message,
        /^the ledger fails to commit \(its disk is full: free space on the data directory's volume; Tally counts again by itself once a commit goes through; logged as commit_failed\)/,
      );
      const failure = serve
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"commit_failed"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)[0];
      assert.deepEqual(
        { code: failure?.code, note: failure?.note },
        {
          code: 'SQLITE_FULL',
          note: "its disk is full: free space on the data directory's volume; Tally counts again by itself once a commit goes through",
        },
      );

      rmSync(flag);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await fireOne(), 200, 'a notice counts again once space is freed, with no restart');
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      assert.deepEqual(
        await commitFaultLines(),
        ['tally_commit_fault{kind="disk_full"} 0'],
        'cleared by a commit',
      );
    } finally {
      rmSync(flag, { force: true });
      const exited = new Promise((resolve) => serve.child.once('exit', resolve));
      serve.child.kill('SIGTERM');
      await exited;
    }
    try {
      const ledger = new Database(join(dataDir, 'tally.db'), { readonly: true });
      const counted = ledger
        .prepare("SELECT auction_id, count(*) AS n FROM events WHERE outcome = 'counted' GROUP BY auction_id")
        .all() as { auction_id: string; n: number }[];
      ledger.close();
      const inLedger = new Map(counted.map((row) => [row.auction_id, row.n]));
      // Every notice answered 200 is in the ledger exactly once; none answered 503 is in it.
      for (const [auctionId, status] of answered)
        assert.equal(
          inLedger.get(auctionId),
          status === 200 ? 1 : undefined,
          `${auctionId} answered ${status}`,
        );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

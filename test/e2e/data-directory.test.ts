import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lockDataDir } from '../../src/adapters/sqlite/data-dir-lock.js';
import { migrateAsNewerTally } from '../support/newer-schema.js';
import {
  acceptsConnections,
  api,
  freePort,
  runCli,
  serveOnFreePort,
  spawnServe,
  startServer,
  tallyEnv,
  untilReady,
} from '../support/server.js';
import type { ServeProcess, TestServer } from '../support/server.js';
import { tallyEntry } from '../support/tally-entry.js';
import { CHROME } from '../support/user-agents.js';

const REPO = new URL('../../', import.meta.url).pathname;

/** Runs `tally serve` on `dataDir` and a free port, until it exits (these tests expect it to refuse). */
async function serve(dataDir: string) {
  return runCli(['serve'], {
    TALLY_DATA_DIR: dataDir,
    TALLY_PORT: String(await freePort()),
    TALLY_HOST: '127.0.0.1',
  });
}

describe('a data directory Tally must not damage', () => {
  it('waits, as it starts, for the moment a command holds the lock of its data directory, then serves, rather than exit 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-lock-moment-'));
    // As a command holds it to see whether a Tally serves the directory, held longer here.
    const command = lockDataDir(dataDir);
    let commandHolds = true;
    const port = await freePort();
    const running = spawnServe(dataDir, port, {});
    try {
      // The port is taken before the directory is locked: the server is at the lock, or about to be.
      while (!(await acceptsConnections(port))) {
        assert.equal(running.child.exitCode, null, running.output());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      command.release();
      commandHolds = false;
      await untilReady(running, `http://127.0.0.1:${port}`);
      assert.doesNotMatch(running.stderr(), /another Tally process is using the data directory/);
    } finally {
      if (commandHolds) command.release();
      running.child.kill('SIGKILL');
      if (running.child.exitCode === null) await once(running.child, 'exit');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('starts on a directory holding the operator’s token key file whose first start was stopped before it made the ledger, rather than take its ledger for lost', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-first-start-stopped-'));
    const keyFile = { keys: [{ id: 7, key: randomBytes(32).toString('base64') }] };
    writeFileSync(join(dataDir, 'token-keys.json'), JSON.stringify(keyFile), { mode: 0o600 });
    // A command holds the lock for a moment: the first start waits for it, and a SIGTERM meanwhile
    // stops that start where it takes the lock, before it makes the ledger.
    const command = lockDataDir(dataDir);
    let commandHolds = true;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = spawnServe(dataDir, port, {});
    let second: ServeProcess | undefined;
    try {
      while (!(await acceptsConnections(port))) {
        assert.equal(first.child.exitCode, null, first.output());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      first.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      command.release();
      commandHolds = false;
      const [code] = (await once(first.child, 'exit')) as [number | null];
      assert.equal(code, 0, first.output());
      assert.match(first.output(), /"event":"stopped_during_start"/);
      assert.equal(existsSync(join(dataDir, 'tally.db')), false, 'the first start made no ledger');

      second = spawnServe(dataDir, port, {});
      await untilReady(second, url);
      assert.doesNotMatch(second.stderr(), /the ledger was deleted or lost/);
      // It seals with the operator's key, from the file it was given.
      const key =
        /Administrator API key \(shown once, store it now\): (\S+)/.exec(second.stderr())?.[1] ?? '';
      const registered = await api({ url }, key, 'POST', '/v1/wins', {
        wins: [
          {
            request: { id: 'a', imp: [{ id: '1', banner: {} }], site: {} },
            seat: 's',
            bid: { id: 'b', impid: '1', price: 1, adm: '<p>ad</p>' },
          },
        ],
      });
      assert.equal(registered.status, 200, JSON.stringify(registered.body));
      const token = String(registered.body.results[0].noticeUrls.adm).split('/n/')[1] ?? '';
      assert.equal(Buffer.from(token, 'base64url')[1], 7);
    } finally {
      if (commandHolds) command.release();
      for (const running of [first, second]) {
        if (running === undefined || running.child.exitCode !== null || running.child.signalCode !== null)
          continue;
        running.child.kill('SIGKILL');
        await once(running.child, 'exit');
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('holds its data directory when its tally.lock is deleted, refusing a second server, and stops (exit 1) when another takes it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-lock-deleted-'));
    let running: ServeProcess | undefined;
    try {
      ({ serve: running } = await serveOnFreePort(dataDir, {}));
      const lockFile = join(dataDir, 'tally.lock');
      unlinkSync(lockFile);
      // Restored at the next check of the lock, each second (later on a loaded machine).
      for (const deadline = Date.now() + 30_000; !running.stdout().includes('data_dir_lock_restored');) {
        assert.ok(Date.now() < deadline, `no data_dir_lock_restored:\n${running.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const second = await serve(dataDir);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /another Tally process is using the data directory/);

      // Replaced by a lock file another process holds, in one step: deleting the file and then
      // locking a new one left a moment in which the server, checking each second, could take
      // it first (on a loaded machine this process can be held up between the two calls).
      const elsewhere = mkdtempSync(join(tmpdir(), 'tally-lock-other-'));
      const other = lockDataDir(elsewhere);
      renameSync(join(elsewhere, 'tally.lock'), lockFile);
      try {
        const [code] = (await once(running.child, 'exit')) as [number | null];
        assert.equal(code, 1);
        assert.match(running.stdout(), /"data_dir_taken"/);
      } finally {
        other.release();
        rmSync(elsewhere, { recursive: true, force: true });
      }
    } finally {
      running?.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('answers 503 and makes no new, empty ledger while its data directory is moved away, and counts again once it is back', async () => {
    const tally = await startServer();
    const moved = `${tally.dataDir}-moved`;
    try {
      const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
        wins: [
          {
            request: { id: 'moved-1', imp: [{ id: '1', banner: {} }], site: {} },
            seat: 's',
            bid: { id: 'b', impid: '1', price: 1, adm: '<p>ad</p>' },
          },
        ],
      });
      const url: string = registered.body.results[0].noticeUrls.adm;
      const fire = async () => (await fetch(url, { headers: { 'user-agent': CHROME } })).status;
      // Before any notice committed: the counting thread has not yet opened the WAL to sync it.
      renameSync(tally.dataDir, moved);
      const whileMoved: number[] = [];
      for (const deadline = Date.now() + 2500; Date.now() < deadline;) {
        whileMoved.push(await fire());
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(new Set(whileMoved), new Set([503]));
      assert.equal(existsSync(tally.dataDir), false, 'no data directory made in place of the one moved away');

      renameSync(moved, tally.dataDir);
      let status = 0;
      for (const deadline = Date.now() + 30_000; status !== 200 && Date.now() < deadline;) {
        status = await fire();
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(status, 200, 'counting resumes on the ledger once it is back');
      await tally.stop();
      const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
      try {
        const counted = db
          .prepare(`SELECT COUNT(*) FROM events WHERE auction_id = 'moved-1' AND outcome = 'counted'`)
          .pluck()
          .get();
        assert.equal(counted, 1, 'the impression is counted once, in the one ledger');
      } finally {
        db.close();
      }
    } finally {
      if (existsSync(moved) && !existsSync(tally.dataDir)) renameSync(moved, tally.dataDir);
      rmSync(moved, { recursive: true, force: true });
      await tally.dispose();
    }
  });

  it('keeps the data directory’s path out of the public /readyz when the counting thread fails for its ledger moved away, and says first that the ledger is gone, then that the thread failed', async () => {
    const tally = await startServer();
    const moved = `${tally.dataDir}-moved`;
    try {
      const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
        wins: [
          {
            request: { id: 'moved-readyz', imp: [{ id: '1', banner: {} }], site: {} },
            seat: 's',
            bid: { id: 'b', impid: '1', price: 1, adm: '<p>ad</p>' },
          },
        ],
      });
      const url: string = registered.body.results[0].noticeUrls.adm;
      renameSync(tally.dataDir, moved);
      // The notice's commit cannot sync the WAL it has not opened: the counting thread fails.
      assert.equal((await fetch(url, { headers: { 'user-agent': CHROME } })).status, 503);
      let ready = await fetch(`${tally.url}/readyz`);
      let body = await ready.text();
      // The ledger's file is checked each second; a loaded machine may run the check later.
      const both = (text: string) =>
        text.includes('counting thread failed') && text.includes('is no longer the file Tally opened');
      for (const deadline = Date.now() + 15_000; !both(body) && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ready = await fetch(`${tally.url}/readyz`);
        body = await ready.text();
      }
      assert.equal(ready.status, 503);
      assert.match(
        JSON.parse(body).error.message,
        /^<data dir>\/tally\.db is no longer the file Tally opened: it was deleted, or its directory moved away, .*; the counting thread failed \(.*<data dir>/,
      );
      assert.equal(body.includes(tally.dataDir), false, `the path is not shown: ${body}`);
    } finally {
      if (existsSync(moved) && !existsSync(tally.dataDir)) renameSync(moved, tally.dataDir);
      rmSync(moved, { recursive: true, force: true });
      await tally.dispose();
    }
  });

  /**
   * Fires a notice of a win of auction `<prefix>-1` (answered 200), removes `names` from the data
   * directory, waits for `/readyz` to answer 503 (the file is checked each second; a loaded
   * machine may run the check later), checks that a notice of `<prefix>-2` is then refused 503
   * (none is acknowledged, and lost), and answers the body of that `/readyz`.
   */
  async function refusedOnceRemoved(
    tally: TestServer,
    prefix: string,
    names: readonly string[],
  ): Promise<string> {
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
      wins: [1, 2].map((n) => ({
        request: { id: `${prefix}-${n}`, imp: [{ id: '1', banner: {} }], site: {} },
        seat: 's',
        bid: { id: 'b', impid: '1', price: 1, adm: '<p>ad</p>' },
      })),
    });
    const [before, after] = registered.body.results.map((result: any) => result.noticeUrls.adm as string);
    const fire = async (url: string) => (await fetch(url, { headers: { 'user-agent': CHROME } })).status;
    assert.equal(await fire(before ?? ''), 200);
    for (const name of names) rmSync(join(tally.dataDir, name), { force: true });
    let ready = await fetch(`${tally.url}/readyz`);
    for (const deadline = Date.now() + 30_000; ready.status === 200 && Date.now() < deadline;) {
      await ready.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 100));
      ready = await fetch(`${tally.url}/readyz`);
    }
    assert.equal(ready.status, 503);
    assert.equal(await fire(after ?? ''), 503);
    return ready.text();
  }

  it('answers 503 once its tally.db is deleted, never acknowledging a notice committed into the deleted file', async () => {
    const tally = await startServer();
    try {
      const readiness = await refusedOnceRemoved(tally, 'deleted', [
        'tally.db',
        'tally.db-wal',
        'tally.db-shm',
      ]);
      assert.match(readiness, /<data dir>\/tally\.db is no longer the file Tally opened: it was deleted/);
      assert.ok(!readiness.includes(tally.dataDir), 'the public answer does not name the data directory');
      assert.match(tally.output(), /"event":"ledger_file_gone"/);
    } finally {
      await tally.dispose();
    }
  });

  it('answers 503 once its tally.db-shm is deleted, as a connection opened after it would write the WAL blind to the server’s commits', async () => {
    const tally = await startServer();
    try {
      assert.match(
        await refusedOnceRemoved(tally, 'shm', ['tally.db-shm']),
        /<data dir>\/tally\.db-shm is no longer the file Tally opened: it was deleted/,
      );
      assert.match(tally.output(), /"event":"ledger_file_gone"/);
    } finally {
      await tally.dispose();
    }
  });

  it('refuses to start an empty ledger where tally.db is gone beside its token key file, in one line, and exits 1', async () => {
    const tally = await startServer();
    await tally.stop();
    try {
      for (const name of ['tally.db', 'tally.db-wal', 'tally.db-shm'])
        rmSync(join(tally.dataDir, name), { force: true });
      const result = await serve(tally.dataDir);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(
        result.stderr,
        /^Tally cannot start: .*tally\.db is missing beside .*token-keys\.json: .*Restore tally\.db from a backup.*\n$/,
      );
      assert.equal(existsSync(join(tally.dataDir, 'tally.db')), false, 'no empty ledger made in its place');
    } finally {
      await tally.dispose();
    }
  });

  it('refuses to start on a tally.db left empty (0 bytes) beside its token key file, which SQLite would make a new ledger', async () => {
    const tally = await startServer();
    await tally.stop();
    try {
      for (const name of ['tally.db-wal', 'tally.db-shm']) rmSync(join(tally.dataDir, name), { force: true });
      writeFileSync(join(tally.dataDir, 'tally.db'), '');
      const result = await serve(tally.dataDir);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(
        result.stderr,
        /^Tally cannot start: .*tally\.db is empty \(0 bytes\) beside .*token-keys\.json: .*Restore tally\.db from a backup.*\n$/,
      );
      assert.equal(statSync(join(tally.dataDir, 'tally.db')).size, 0, 'no empty ledger made in its place');
    } finally {
      await tally.dispose();
    }
  });

  it('refuses to start, or to create an account, where tally.db is gone or empty and TALLY_TOKEN_KEYS gives the keys that sealed its tokens', async () => {
    const keys = { TALLY_TOKEN_KEYS: `1:${randomBytes(32).toString('base64')}` };
    const tally = await startServer(keys);
    await tally.stop();
    try {
      const dbPath = join(tally.dataDir, 'tally.db');
      for (const name of ['tally.db', 'tally.db-wal', 'tally.db-shm'])
        rmSync(join(tally.dataDir, name), { force: true });
      const env = { ...keys, TALLY_DATA_DIR: tally.dataDir, TALLY_HOST: '127.0.0.1' };
      const served = await runCli(['serve'], { ...env, TALLY_PORT: String(await freePort()) });
      assert.equal(served.code, 1, served.stdout + served.stderr);
      assert.match(
        served.stderr,
        /^Tally cannot start: .*tally\.db is missing, though a Tally served .* with the keys TALLY_TOKEN_KEYS gives: .*Restore tally\.db from a backup.*\n$/,
      );
      assert.equal(existsSync(dbPath), false, 'no empty ledger made in its place');
      writeFileSync(dbPath, '');
      const created = await runCli(['create-account', 'Acme'], env);
      assert.equal(created.code, 1, created.stdout + created.stderr);
      assert.match(
        created.stderr,
        /^Tally cannot run: .*tally\.db is empty \(0 bytes\), though a Tally served .* with the keys TALLY_TOKEN_KEYS gives: .*Restore tally\.db from a backup.*\n$/,
      );
      assert.equal(statSync(dbPath).size, 0, 'no new ledger made in its place');
    } finally {
      await tally.dispose();
    }
  });

  it('refuses to create an account where tally.db is gone beside its token key file, making no new ledger a start would serve', async () => {
    const tally = await startServer();
    await tally.stop();
    try {
      for (const name of ['tally.db', 'tally.db-wal', 'tally.db-shm'])
        rmSync(join(tally.dataDir, name), { force: true });
      const created = await runCli(['create-account', 'Acme'], { TALLY_DATA_DIR: tally.dataDir });
      assert.equal(created.code, 1, created.stdout + created.stderr);
      assert.equal(created.stdout, '', 'no key printed');
      assert.match(
        created.stderr,
        /^Tally cannot run: .*tally\.db is missing beside .*token-keys\.json: .*Restore tally\.db from a backup.*\n$/,
      );
      assert.equal(existsSync(join(tally.dataDir, 'tally.db')), false, 'no empty ledger made in its place');
      const served = await serve(tally.dataDir);
      assert.equal(served.code, 1, 'the server still refuses the data directory');
    } finally {
      await tally.dispose();
    }
  });

  it('refuses to replay dead deliveries or create an account on a tally.db left empty beside its token key file, leaving it empty for a start to refuse', async () => {
    const tally = await startServer();
    await tally.stop();
    try {
      for (const name of ['tally.db-wal', 'tally.db-shm']) rmSync(join(tally.dataDir, name), { force: true });
      const dbPath = join(tally.dataDir, 'tally.db');
      writeFileSync(dbPath, '');
      for (const command of [['replay-dead', '--dry-run'], ['replay-dead'], ['create-account', 'Acme']]) {
        const result = await runCli(command, { TALLY_DATA_DIR: tally.dataDir });
        assert.equal(result.code, 1, `${command.join(' ')}: ${result.stdout}${result.stderr}`);
        assert.equal(result.stdout, '', command.join(' '));
        assert.match(
          result.stderr,
          /^Tally cannot run: .*tally\.db is empty \(0 bytes\) beside .*token-keys\.json: .*Restore tally\.db from a backup.*\n$/,
          command.join(' '),
        );
        // Made a ledger, it would be served: a start refuses only a missing or empty one.
        assert.equal(statSync(dbPath).size, 0, `${command.join(' ')} made a new ledger in its place`);
      }
      const served = await serve(tally.dataDir);
      assert.equal(served.code, 1, 'the server still refuses the data directory');
    } finally {
      await tally.dispose();
    }
  });

  it('refuses to serve a data directory a newer Tally migrated, saying so in one line, and exits 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-newer-schema-'));
    try {
      const dbPath = join(dataDir, 'tally.db');
      const newer = migrateAsNewerTally(dbPath);

      const result = await serve(dataDir);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(
        result.stderr,
        new RegExp(`^Tally cannot start: .*schema version ${newer}.*newer Tally.*\\n$`),
      );
      assert.doesNotMatch(result.stdout + result.stderr, /listens on/);
      const after = new Database(dbPath, { readonly: true });
      assert.equal(after.pragma('user_version', { simple: true }), newer);
      after.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to serve a TALLY_DATA_DIR that is a file, or under one, saying so in one line without a stack trace, and exits 1', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tally-data-dir-file-'));
    try {
      const aFile = join(parent, 'passwd');
      writeFileSync(aFile, 'root:x:0:0::/root:/bin/sh\n');
      for (const [dataDir, problem] of [
        [aFile, `the data directory ${aFile} is a file, not a directory: set TALLY_DATA_DIR to a directory`],
        [
          join(aFile, 'data'),
          `the data directory ${join(aFile, 'data')} cannot be created: part of its path is a file, not a directory: set TALLY_DATA_DIR to a directory`,
        ],
      ] as const) {
        const result = await serve(dataDir);
        assert.equal(result.code, 1, result.stdout + result.stderr);
        assert.equal(result.stdout, '');
        assert.match(result.stderr, /^Tally cannot start: [^\n]*\n$/);
        assert.ok(result.stderr.startsWith(`Tally cannot start: ${problem}`), result.stderr);
      }
      assert.equal(readFileSync(aFile, 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('refuses to serve with a damaged token key file, saying what is wrong in one line, and exits 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-damaged-keys-'));
    try {
      writeFileSync(join(dataDir, 'token-keys.json'), '{"keys": [');
      const result = await serve(dataDir);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(
        result.stderr,
        /^Tally cannot start: .*token-keys\.json is not JSON: .*restore it from a backup.*\n$/,
      );
      assert.equal(readFileSync(join(dataDir, 'token-keys.json'), 'utf8'), '{"keys": [');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to serve, or to rotate, with a directory where token-keys.json belongs, in one line without a stack trace, and exits 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-keys-directory-'));
    try {
      mkdirSync(join(dataDir, 'token-keys.json'));
      const problem = `${join(dataDir, 'token-keys.json')} cannot be read (EISDIR): it is a directory, not the key file Tally made`;
      const served = await serve(dataDir);
      assert.equal(served.code, 1, served.stdout + served.stderr);
      assert.match(served.stderr, /^Tally cannot start: [^\n]*\n$/);
      assert.ok(served.stderr.startsWith(`Tally cannot start: ${problem}`), served.stderr);
      const rotated = await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir });
      assert.equal(rotated.code, 1, rotated.stdout + rotated.stderr);
      assert.equal(rotated.stdout, '');
      assert.match(rotated.stderr, /^Tally cannot run: [^\n]*\n$/);
      assert.ok(rotated.stderr.startsWith(`Tally cannot run: ${problem}`), rotated.stderr);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to serve with new token keys when tally.db outlived its key file, in one line, until the operator rotates', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-lost-keys-'));
    try {
      const { serve: first } = await serveOnFreePort(dataDir, {
        TALLY_ADMIN_KEY: 'lost-keys-admin-key-0123',
      });
      const exited = once(first.child, 'exit');
      first.child.kill('SIGTERM');
      await exited;
      // A tally.db restored from a backup without its key file.
      rmSync(join(dataDir, 'token-keys.json'));
      const result = await serve(dataDir);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(
        result.stderr,
        /^Tally cannot start: .*token-keys\.json is missing, but this data directory's ledger \(tally\.db\) had one: .*Restore the file from a backup.*\n$/,
      );
      assert.deepEqual(readdirSync(dataDir).includes('token-keys.json'), false);
      assert.equal((await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir })).code, 0);
      const { serve: again } = await serveOnFreePort(dataDir, {
        TALLY_ADMIN_KEY: 'lost-keys-admin-key-0123',
      });
      again.child.kill('SIGKILL');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('warns at start, naming it, when the key that signed tokens until then is not among its keys', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-dropped-key-'));
    try {
      const env = { TALLY_ADMIN_KEY: 'dropped-key-admin-key-0123' };
      const { serve: first } = await serveOnFreePort(dataDir, {
        ...env,
        TALLY_TOKEN_KEYS: `3:${randomBytes(32).toString('base64')}`,
      });
      first.child.kill('SIGTERM');
      await once(first.child, 'exit');
      assert.doesNotMatch(first.output(), /token_key_dropped/);
      // TALLY_TOKEN_KEYS dropped in a redeploy: the server makes a key file of a new key.
      const { serve: again } = await serveOnFreePort(dataDir, env);
      try {
        const warning = again
          .stdout()
          .split('\n')
          .filter((line) => line.includes('"token_key_dropped"'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        assert.equal(warning.length, 1, again.output());
        assert.equal(warning[0]?.keyId, 3);
        assert.match(String(warning[0]?.note), /notices of the wins it sealed are invalid_token/);
      } finally {
        again.child.kill('SIGKILL');
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps every token key when rotate-token-key fails partway through writing the key file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-rotate-fails-'));
    try {
      assert.equal((await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir })).code, 0);
      const keyFile = join(dataDir, 'token-keys.json');
      const before = readFileSync(keyFile, 'utf8');
      assert.equal((JSON.parse(before) as { keys: unknown[] }).keys.length, 1);

      // The disk refuses the new file's bytes (EFBIG under a zero file-size limit, as ENOSPC
      // would on a full disk) once the command has read the old keys. In the C locale, which every
      // machine has: bash warns on the same stderr of an LC_ALL naming a locale the machine lacks.
      const child = spawn(
        'bash',
        ['-c', 'ulimit -f 0 && exec "$0" "$1" rotate-token-key', process.execPath, tallyEntry()],
        {
          cwd: REPO,
          env: tallyEnv({ LC_ALL: 'C', TALLY_DATA_DIR: dataDir }),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 1, stderr);
      // One line naming the file and why, not a stack trace, and that the old keys are whole.
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.ok(stderr.startsWith(`Tally cannot run: ${keyFile} cannot be written (EFBIG)`), stderr);
      assert.match(stderr, /the keys it holds are unchanged/);

      assert.equal(readFileSync(keyFile, 'utf8'), before);
      assert.deepEqual(readdirSync(dataDir).sort(), ['token-keys.json', 'token-keys.lock']);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';
import {
  acceptsConnections,
  api,
  freePort,
  holdPort,
  runCli,
  serveOnFreePort,
  startServer,
  tallyEnv,
} from '../support/server.js';
import type { ReadyServe, ServeProcess, TestServer } from '../support/server.js';
import { migrateAsOlderTally } from '../support/older-schema.js';
import { until } from '../support/until.js';
import { CHROME } from '../support/user-agents.js';
import { hourStartMs } from '../../src/lib/time.js';
import { TALLY_VERSION } from '../../src/version.js';

function bannerWin(auctionId: string) {
  return {
    request: { id: auctionId, imp: [{ id: '1', banner: {} }], site: {} },
    seat: 'seat',
    bid: { id: 'b', impid: '1', price: 1, adm: '<p>ad</p>' },
  };
}

async function countedEvents(server: { url: string }, key: string): Promise<number> {
  const from = new Date(hourStartMs(Date.now()) - 86_400_000).toISOString();
  const to = new Date(hourStartMs(Date.now()) + 3_600_000).toISOString();
  const response = await api(server, key, 'GET', `/v1/reports?from=${from}&to=${to}&groupBy=outcome`);
  return response.body.rows.reduce((sum: number, row: any) => sum + row.events, 0);
}

/** An editor key made with the server's admin key: the answer's body (its `id` and `key`). */
async function createEditorKey(tally: TestServer): Promise<any> {
  const editor = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', { name: 'ops', role: 'editor' });
  assert.equal(editor.status, 201);
  return editor.body;
}

describe('starting Tally', () => {
  it('generates an administrator key on first start, prints it once, and stores only its hash', async () => {
    const tally = await startServer({ TALLY_ADMIN_KEY: '' });
    try {
      const printed = /Administrator API key \(shown once, store it now\): (tally_[\w-]+)/;
      // The key comes through the child's stdout pipe, which may be read after /readyz answered.
      await waitFor(
        () => printed.test(tally.output()),
        5000,
        () => `no key printed: ${tally.output()}`,
      );
      const key = printed.exec(tally.output())?.[1] ?? '';
      assert.notEqual(key, '');
      assert.equal((await api(tally, key, 'GET', '/v1/deliveries')).status, 200);
      await tally.stop();
      await tally.restart();
      assert.doesNotMatch(tally.output(), /Administrator API key/);
      assert.equal((await api(tally, key, 'GET', '/v1/deliveries')).status, 200);
    } finally {
      await tally.dispose();
    }
  });

  it('writes nothing but JSON log lines on stdout, which a log pipeline keeps: the generated key and where it listens go to stderr', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-stdout-'));
    let serve: ServeProcess | undefined;
    try {
      const { serve: started } = await serveOnFreePort(dataDir, { TALLY_ADMIN_KEY: '' });
      serve = started;
      const printed = /Administrator API key \(shown once, store it now\): (tally_[\w-]+)/;
      await waitFor(
        () => printed.test(started.output()) && started.output().includes('Tally listens on'),
        5000,
        () => started.output(),
      );
      const exited = once(started.child, 'exit');
      started.child.kill('SIGTERM');
      await exited;
      const key = printed.exec(started.output())?.[1] ?? '';
      const lines = started
        .stdout()
        .split('\n')
        .filter((line) => line !== '');
      for (const line of lines) assert.equal(typeof JSON.parse(line), 'object', line);
      // The version that started, as an upgrade's log must tell the operator which one runs.
      const listening = lines
        .map((line) => JSON.parse(line) as { event?: string; version?: string })
        .find((entry) => entry.event === 'listening');
      assert.equal(listening?.version, TALLY_VERSION, started.stdout());
      assert.equal(
        started.stdout().includes(key),
        false,
        'the generated admin key goes to stderr, never stdout',
      );
    } finally {
      serve?.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('goes on serving and counting when the reader of its stdout goes away, then stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-stdout-closed-'));
    const key = 'operator-key-0123456789';
    let serve: ServeProcess | undefined;
    try {
      const { serve: started, url } = await serveOnFreePort(dataDir, { TALLY_ADMIN_KEY: key });
      serve = started;
      // The log pipeline restarted: every line written from now on fails with EPIPE.
      started.child.stdout?.destroy();
      const exited = once(started.child, 'exit');
      const wins = await api({ url }, key, 'POST', '/v1/wins', { wins: [bannerWin('after-stdout')] });
      const notice = String(wins.body.results[0].noticeUrls.adm);
      // A lock file deleted is logged at the next check, each second (later on a loaded machine):
      // a line written into the closed pipe.
      rmSync(join(dataDir, 'tally.lock'));
      await waitFor(
        () => started.output().includes("Tally's stdout failed"),
        30_000,
        () => started.output(),
      );
      assert.equal((await fetch(notice, { headers: { 'User-Agent': CHROME } })).status, 200);
      assert.equal(await countedEvents({ url }, key), 1);
      started.child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, started.output());
    } finally {
      serve?.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('makes its data directory and every file in it readable by its own user only, whatever the umask it was started with', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tally-modes-'));
    const dataDir = join(parent, 'data');
    let serve: ServeProcess | undefined;
    try {
      const { serve: started } = await serveOnFreePort(dataDir, {
        TALLY_ADMIN_KEY: 'modes-admin-key-0123456',
      });
      serve = started;
      const modes = [dataDir, ...readdirSync(dataDir).map((name) => join(dataDir, name))].map((path) => [
        path.slice(parent.length),
        (statSync(path).mode & 0o777).toString(8),
      ]);
      assert.ok(
        modes.some(([path]) => path === '/data/tally.db-wal'),
        JSON.stringify(modes),
      );
      for (const [path, mode] of modes) {
        assert.equal(mode, path === '/data' ? '700' : '600', path);
      }
    } finally {
      serve?.child.kill('SIGKILL');
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('makes a ledger, key file and data directory open to every user private to its own user again as it starts, saying so in its log', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-restored-modes-'));
    let serve: ServeProcess | undefined;
    try {
      const env = { TALLY_ADMIN_KEY: 'modes-admin-key-0123456' };
      const first = (await serveOnFreePort(dataDir, env)).serve;
      const stopped = once(first.child, 'exit');
      first.child.kill('SIGTERM');
      assert.deepEqual(await stopped, [0, null], first.output());
      // As `cp` leaves a copy of a backup made readable by every user (umask 022), and `mkdir` a
      // directory made by hand for it.
      for (const name of ['tally.db', 'token-keys.json']) chmodSync(join(dataDir, name), 0o644);
      chmodSync(dataDir, 0o755);
      ({ serve } = await serveOnFreePort(dataDir, env));
      const modes = readdirSync(dataDir).map((name) => [
        name,
        (statSync(join(dataDir, name)).mode & 0o777).toString(8),
      ]);
      assert.deepEqual(
        modes
          .filter(([name]) => name === 'tally.db-wal' || name === 'tally.db-shm')
          .map(([name]) => name)
          .sort(),
        ['tally.db-shm', 'tally.db-wal'],
      );
      for (const [name, mode] of modes) assert.equal(mode, '600', name);
      const tightened = serve
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"event":"data_file_mode_tightened"'))
        .map((line) => {
          const { level, path, fromMode, toMode, note } = JSON.parse(line) as Record<string, unknown>;
          return { level, path, fromMode, toMode, note };
        });
      assert.equal((statSync(dataDir).mode & 0o777).toString(8), '700');
      // One note, true of a directory made by hand and of a file restored alike.
      const note =
        'its mode let other users read or write it (as whoever made, copied or restored it left it): Tally removed their access, as it keeps its data files to its own user';
      assert.deepEqual(tightened, [
        { level: 'warn', path: dataDir, fromMode: '755', toMode: '700', note },
        ...['tally.db', 'token-keys.json'].map((name) => ({
          level: 'warn',
          path: join(dataDir, name),
          fromMode: '644',
          toMode: '600',
          note,
        })),
      ]);
    } finally {
      serve?.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  /** Runs `tally serve` on `dataDir` at `port`, which another socket holds, with no TALLY_ADMIN_KEY. */
  const serveOnTakenPort = (dataDir: string, port: number) =>
    runCli(['serve'], {
      TALLY_DATA_DIR: dataDir,
      TALLY_PORT: String(port),
      TALLY_HOST: '127.0.0.1',
      TALLY_ADMIN_KEY: '',
    });

  it('prints no administrator key when it cannot listen, and prints a working one on the next start', async () => {
    const holder = await holdPort();
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-first-start-'));
    const printed = /Administrator API key \(shown once, store it now\): (tally_[\w-]+)/;
    let serve: ServeProcess | undefined;
    try {
      const failed = await serveOnTakenPort(dataDir, holder.port);
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, /already in use/);
      assert.doesNotMatch(failed.stdout + failed.stderr, /Administrator API key/);

      const { serve: started, url } = await serveOnFreePort(dataDir, { TALLY_ADMIN_KEY: '' });
      serve = started;
      await waitFor(
        () => printed.test(started.output()),
        5000,
        () => `no key printed on the start after the failed one: ${started.output()}`,
      );
      const key = printed.exec(started.output())?.[1] ?? '';
      const answer = await api({ url }, key, 'GET', '/v1/deliveries');
      assert.equal(answer.status, 200);
    } finally {
      serve?.child.kill('SIGKILL');
      await holder.release();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('changes nothing in its data directory when its port is in use: an older ledger stays unmigrated, no key file or lock file is made, and one line says what to do', async () => {
    const holder = await holdPort();
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-port-taken-'));
    const dbPath = join(dataDir, 'tally.db');
    try {
      migrateAsOlderTally(dbPath, SQLITE_MIGRATIONS.length - 1);
      const before = directoryContents(dataDir);
      const failed = await serveOnTakenPort(dataDir, holder.port);
      assert.equal(failed.code, 1, failed.stderr);
      assert.equal(
        failed.stderr,
        `Tally cannot start: port ${holder.port} is already in use: set TALLY_PORT to a free port\n`,
      );
      assert.deepEqual(directoryContents(dataDir), before);
      const db = new Database(dbPath, { readonly: true });
      try {
        assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length - 1);
      } finally {
        db.close();
      }
    } finally {
      await holder.release();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps a revoked TALLY_ADMIN_KEY revoked across a restart instead of failing to start', async () => {
    const tally = await startServer();
    try {
      const second = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
        name: 'second admin',
        role: 'admin',
      });
      assert.equal(second.status, 201);
      const keys = await api(tally, second.body.key, 'GET', '/v1/api-keys');
      const envKey = keys.body.items.find((item: any) => item.name === 'TALLY_ADMIN_KEY');
      assert.equal((await api(tally, second.body.key, 'DELETE', `/v1/api-keys/${envKey.id}`)).status, 204);
      await tally.stop();
      await tally.restart();
      assert.equal((await api(tally, tally.adminKey, 'GET', '/v1/deliveries')).status, 401);
      assert.equal((await api(tally, second.body.key, 'GET', '/v1/deliveries')).status, 200);
    } finally {
      await tally.dispose();
    }
  });

  it("warns, naming the key, when TALLY_ADMIN_KEY is already an editor key or another account's key, and does not make it an admin key", async () => {
    const tally = await startServer();
    let restarted: ReadyServe | undefined;
    try {
      const editor = await createEditorKey(tally);
      const created = await runCli(['create-account', 'Acme'], { TALLY_DATA_DIR: tally.dataDir });
      assert.equal(created.code, 0, created.stderr);
      const otherKey = /API key \(shown once, store it now\): (\S+)/.exec(created.stdout)?.[1] ?? '';
      await tally.stop();
      for (const [key, keyAccountId, role] of [
        [editor.key as string, 1, 'editor'],
        [otherKey, 2, 'admin'],
      ] as const) {
        restarted = await serveOnFreePort(tally.dataDir, { TALLY_ADMIN_KEY: key });
        // Logged after the admin key is settled: the warning, if any, is on stdout before it.
        const warnings = await loggedBeforeListening(restarted.serve, 'admin_key_not_admin');
        assert.equal(warnings.length, 1, restarted.serve.output());
        const [{ level, accountId, role: loggedRole, note } = {}] = warnings;
        assert.deepEqual([level, accountId, loggedRole], ['warn', keyAccountId, role]);
        assert.match(String(note), /set TALLY_ADMIN_KEY to a new key of your own$/);
        // Still the key it was: an editor manages no keys; account 2's admin key sees its own.
        const listed = await api({ url: restarted.url }, key, 'GET', '/v1/api-keys');
        if (role === 'editor') assert.equal(listed.status, 403);
        else
          assert.deepEqual(
            listed.body.items.map((item: any) => item.name),
            ['first admin key'],
          );
        const exited = once(restarted.serve.child, 'exit');
        restarted.serve.child.kill('SIGTERM');
        await exited;
        restarted = undefined;
      }
    } finally {
      restarted?.serve.child.kill('SIGKILL');
      await tally.dispose();
    }
  });

  it('warns at start, naming the account and its seats, of price keys given to an account that does not exist, and starts all the same', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-price-key-accounts-'));
    const keys = {
      encryptionKey: Buffer.alloc(32, 1).toString('base64'),
      integrityKey: Buffer.alloc(32, 2).toString('base64'),
    };
    let started: ReadyServe | undefined;
    try {
      started = await serveOnFreePort(dataDir, {
        TALLY_PRICE_KEYS: JSON.stringify({
          operator: keys,
          'dsp-7': { ...keys, accountId: 7 },
          'dsp-7-other': { ...keys, accountId: 7, seat: 'other' },
          'dsp-8': { ...keys, accountId: 8 },
        }),
      });
      const warnings = (await loggedBeforeListening(started.serve, 'price_keys_account_unknown')).map(
        ({ level, accountId, seats, note }) => ({ level, accountId, seats, note }),
      );
      const note =
        "TALLY_PRICE_KEYS (or the config file's priceKeys) gives keys to an account Tally does not have: its wins get them once it is created (tally create-account); check the accountId if it should exist";
      assert.deepEqual(warnings, [
        { level: 'warn', accountId: 7, seats: ['dsp-7', 'other'], note },
        { level: 'warn', accountId: 8, seats: ['dsp-8'], note },
      ]);
    } finally {
      if (started !== undefined) {
        const exited = once(started.serve.child, 'exit');
        started.serve.child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('tells the operator on stderr, in one line, when TALLY_ADMIN_KEY is another kind of key or a revoked one and so is no admin key', async () => {
    const tally = await startServer();
    let restarted: ReadyServe | undefined;
    try {
      const editor = await createEditorKey(tally);
      const key = editor.key as string;
      const keyId = editor.id as number;
      await tally.stop();
      const stderrOfStartWith = async (adminKey: string): Promise<string[]> => {
        restarted = await serveOnFreePort(tally.dataDir, { TALLY_ADMIN_KEY: adminKey });
        const { serve } = restarted;
        await until(() => Promise.resolve(serve.stderr().includes('Tally listens on')), 'the listening line');
        const exited = once(serve.child, 'exit');
        serve.child.kill('SIGTERM');
        await exited;
        restarted = undefined;
        return serve
          .stderr()
          .split('\n')
          .filter((line) => line.includes('TALLY_ADMIN_KEY'));
      };
      assert.deepEqual(await stderrOfStartWith(key), [
        `TALLY_ADMIN_KEY is already the API key ${keyId} of account 1, and not an unscoped admin key of ` +
          "the operator's account (1): it was not made one; set TALLY_ADMIN_KEY to a new key of your own",
      ]);
      await tally.restart();
      assert.equal((await api(tally, tally.adminKey, 'DELETE', `/v1/api-keys/${keyId}`)).status, 204);
      await tally.stop();
      assert.deepEqual(await stderrOfStartWith(key), [
        'TALLY_ADMIN_KEY was revoked through the API and stays revoked; set a new one',
      ]);
    } finally {
      restarted?.serve.child.kill('SIGKILL');
      await tally.dispose();
    }
  });

  it('refuses to start on bad configuration, listing every problem at once, each on a line of its own, as some hold "; " themselves', async () => {
    const result = await runCli(['serve'], {
      TALLY_PORT: 'eighty',
      TALLY_PUBLIC_URL: 'tally.example.com',
      TALLY_IVT_BLOCKED_IPS: '10.0.0.0/99',
      TALLY_SQLITE_SYNCHRONOUS: 'SOMETIMES',
      TALLY_PORTS: '8080',
    });
    assert.equal(result.code, 2);
    const lines = result.stderr.split('\n');
    assert.equal(lines.pop(), '', 'the last line ends with a line break');
    assert.deepEqual(
      lines.map((line) => /^Tally cannot start; fix the configuration: "?(\w+)/.exec(line)?.[1]),
      ['port', 'publicUrl', 'ivtBlockedIps', 'sqliteSynchronous', 'TALLY_PORTS'],
    );
    assert.match(
      lines.at(-1) ?? '',
      /TALLY_PORTS" is not a setting \(did you mean TALLY_PORT\?\); the settings are /,
    );
  });

  it('prints its help', async () => {
    const result = await runCli(['--help'], {});
    assert.equal(result.code, 0);
    assert.match(result.stdout, /serve/);
    assert.match(result.stdout, /replay-dead/);
    assert.match(result.stdout, /create-account/);
  });

  it('stops on SIGTERM after draining, and says so in its log', async () => {
    const tally = await startServer();
    await tally.stop();
    assert.match(tally.output(), /"event":"stopped"/);
    await tally.dispose();
  });

  it('stops when the `npm start` it runs under gets SIGTERM, leaving no server on the port', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-npm-start-'));
    const port = await freePort();
    // Its own process group, so that whatever it leaves behind can be killed after the test.
    const npm = spawn('npm', ['start'], {
      env: tallyEnv({ TALLY_DATA_DIR: dataDir, TALLY_PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    try {
      let output = '';
      npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await waitFor(
        () => output.includes('Tally listens on'),
        120_000,
        () => output,
      );
      const exited = once(npm, 'exit');
      npm.kill('SIGTERM');
      await exited;
      await waitFor(
        async () => !(await acceptsConnections(port)),
        10_000,
        () => `port ${port} still answers`,
      );
    } finally {
      try {
        process.kill(-(npm.pid ?? 0), 'SIGKILL');
      } catch {
        // Nothing left in the group.
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('answers 503 past the bounded commit queue and records exactly the notices it answered 200', async () => {
    const tally = await startServer({ TALLY_COMMIT_MAX_QUEUE: '1' });
    try {
      let ok = 0;
      let refused = 0;
      for (let round = 0; round < 10 && refused === 0; round++) {
        const wins = Array.from({ length: 40 }, (_, index) => bannerWin(`burst-${round}-${index}`));
        const results = (await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins })).body.results;
        const statuses = await Promise.all(
          results.map(async (result: any) => {
            const response = await fetch(result.noticeUrls.adm, { headers: { 'user-agent': CHROME } });
            await response.arrayBuffer();
            return response.status;
          }),
        );
        ok += statuses.filter((status) => status === 200).length;
        refused += statuses.filter((status) => status === 503).length;
        assert.equal(ok + refused, 40 * (round + 1), 'every notice got 200 or 503');
      }
      assert.ok(refused > 0, 'a burst past the queue bound was refused');
      assert.equal(await countedEvents(tally, tally.adminKey), ok);
    } finally {
      await tally.dispose();
    }
  });

  it('reads an optional JSON config file, with environment variables taking precedence', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    const file = join(dir, 'tally.json');
    writeFileSync(file, JSON.stringify({ publicUrl: 'https://file.example', retentionDays: 30 }));
    const fromFile = await startServer({ TALLY_CONFIG: file });
    const fromEnv = await startServer({ TALLY_CONFIG: file, TALLY_PUBLIC_URL: 'https://env.example' });
    try {
      const first = await api(fromFile, fromFile.adminKey, 'POST', '/v1/wins', {
        wins: [bannerWin('cfg-1')],
      });
      assert.match(first.body.results[0].noticeUrls.adm, /^https:\/\/file\.example\/n\//);
      const second = await api(fromEnv, fromEnv.adminKey, 'POST', '/v1/wins', { wins: [bannerWin('cfg-2')] });
      assert.match(second.body.results[0].noticeUrls.adm, /^https:\/\/env\.example\/n\//);
    } finally {
      await fromFile.dispose();
      await fromEnv.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logs, at start, each setting a variable gives over the config file, by name, never the value of a key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    const file = join(dir, 'tally.json');
    const fileAdminKey = 'file-admin-key-0123456789';
    writeFileSync(
      file,
      JSON.stringify({ publicUrl: 'https://file.example', adminKey: fileAdminKey, retentionDays: 30 }),
    );
    // startServer gives TALLY_ADMIN_KEY too: adminKey and publicUrl are overridden, retentionDays not.
    const tally = await startServer({ TALLY_CONFIG: file, TALLY_PUBLIC_URL: 'https://env.example' });
    const alone = await startServer({ TALLY_CONFIG: file, TALLY_PUBLIC_URL: '' });
    try {
      const overridden = (output: string) =>
        output
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { event: string; level: string; settings?: unknown })
          .filter((entry) => entry.event === 'config_file_overridden')
          .map(({ level, settings }) => ({ level, settings }));
      assert.deepEqual(overridden(tally.output()), [
        {
          level: 'warn',
          settings: [
            { setting: 'adminKey', variable: 'TALLY_ADMIN_KEY' },
            { setting: 'publicUrl', variable: 'TALLY_PUBLIC_URL' },
          ],
        },
      ]);
      assert.equal(tally.output().includes(fileAdminKey), false, "the file's admin key was logged");
      assert.equal(tally.output().includes(tally.adminKey), false, 'the admin key was logged');
      // An empty variable is unset: the file's publicUrl is in force; only adminKey is overridden.
      assert.deepEqual(overridden(alone.output()), [
        { level: 'warn', settings: [{ setting: 'adminKey', variable: 'TALLY_ADMIN_KEY' }] },
      ]);
    } finally {
      await tally.dispose();
      await alone.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps counting notices sealed with the old key after the token key is rotated', async () => {
    const tally = await startServer();
    try {
      const before = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [bannerWin('rotate-1')] });
      const oldUrl: string = before.body.results[0].noticeUrls.adm;
      const rotated = await runCli(['rotate-token-key'], { TALLY_DATA_DIR: tally.dataDir });
      assert.equal(rotated.code, 0, rotated.stderr);
      await tally.stop();
      await tally.restart();
      const after = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [bannerWin('rotate-2')] });
      const newUrl: string = after.body.results[0].noticeUrls.adm;
      const keyId = (url: string) => Buffer.from(url.split('/n/')[1] ?? '', 'base64url')[1];
      assert.equal(keyId(oldUrl), 1);
      assert.equal(keyId(newUrl), 2);
      for (const url of [oldUrl, newUrl])
        await (await fetch(url, { headers: { 'user-agent': CHROME } })).arrayBuffer();
      const from = new Date(hourStartMs(Date.now()) - 86_400_000).toISOString();
      const to = new Date(hourStartMs(Date.now()) + 3_600_000).toISOString();
      const rows = (
        await api(tally, tally.adminKey, 'GET', `/v1/reports?from=${from}&to=${to}&groupBy=outcome`)
      ).body.rows;
      assert.deepEqual(
        rows.map((row: any) => [row.outcome, row.events]),
        [['counted', 2]],
      );
    } finally {
      await tally.dispose();
    }
  });

  it('refuses a second process on a data directory in use, and starts again once the first has crashed', async () => {
    const tally = await startServer();
    try {
      const env = {
        TALLY_DATA_DIR: tally.dataDir,
        TALLY_PORT: String(await freePort()),
        TALLY_HOST: '127.0.0.1',
      };
      const second = await runCli(['serve'], env);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /another Tally process is using the data directory/);
      assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
      // A crash leaves no lock behind: the operating system releases it with the process.
      await tally.kill();
      await tally.restart();
      assert.equal((await fetch(`${tally.url}/readyz`)).status, 200);
    } finally {
      await tally.dispose();
    }
  });
});

/** The log lines of `event` that `serve` wrote by the time it logged `listening`, once it has. */
async function loggedBeforeListening(serve: ServeProcess, event: string): Promise<Record<string, unknown>[]> {
  await until(
    () => Promise.resolve(serve.stdout().includes('"event":"listening"')),
    'the listening log line',
  );
  return serve
    .stdout()
    .split('\n')
    .filter((line) => line.includes(`"event":"${event}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Each file in `dir` by name, with a SHA-256 of its bytes: what a start that failed must not change. */
function directoryContents(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [
        name,
        createHash('sha256')
          .update(readFileSync(join(dir, name)))
          .digest('hex'),
      ]),
  );
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`gave up waiting after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

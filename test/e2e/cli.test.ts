import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { holdPort, runCli, tallyEnv } from '../support/server.js';
import { tallyEntry } from '../support/tally-entry.js';
import Database from 'better-sqlite3';
import { SqliteAccountStore } from '../../src/adapters/sqlite/accounts.js';
import { lockDataDir } from '../../src/adapters/sqlite/data-dir-lock.js';
import { openSqlite } from '../../src/adapters/sqlite/database.js';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';
import { CREATE_ACCOUNT_USAGE } from '../../src/cli/create-account.js';
import { migrateAsOlderTally } from '../support/older-schema.js';

/** What a command's refusal of a data directory or ledger missing says to do. */
const DATA_DIR_FIX =
  'set TALLY_DATA_DIR to the data directory the server runs on (the server makes it, and the ledger in it, when it first starts)';

/** The one line `tally create-account` refuses a name given that is none with, naming it. */
function nameRefusal(name: string): string {
  return (
    `tally create-account: ${JSON.stringify(name)} is no account name: give 1 to 255 characters, not all spaces or invisible ones, ` +
    `without control characters or line breaks (nothing was done); usage: ${CREATE_ACCOUNT_USAGE}\n`
  );
}

/**
 * A new ledger in `dataDir`, open, holding the operator's account (id 1) and then one account
 * for each of `names`, made by the ledger's own account store as the server at its first start
 * and `tally create-account` make them; with the accounts' ids, the operator's first.
 */
function ledgerWithAccounts(dataDir: string, names: string[]): { db: Database.Database; ids: number[] } {
  const db = openSqlite(join(dataDir, 'tally.db'));
  const accounts = new SqliteAccountStore(db);
  const ids = ['default', ...names].map((name) => accounts.createAccount(name, Date.now()).id);
  return { db, ids };
}

/** The dedupe key and status of each delivery in `dataDir`'s ledger, `key:status`, in id order. */
function deliveryStatuses(dataDir: string): string[] {
  const db = openSqlite(join(dataDir, 'tally.db'));
  const rows = db.prepare('SELECT dedupe_key, status FROM deliveries ORDER BY id').all();
  db.close();
  return (rows as { dedupe_key: string; status: string }[]).map((row) => `${row.dedupe_key}:${row.status}`);
}

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

  it('refuses a command on bad configuration with exit code 2, each problem on a line of its own naming the command, and does nothing', async () => {
    const result = await runCli(['list-accounts'], {
      TALLY_SQLITE_SYNCHRONOUS: 'SOMETIMES',
      TALLY_RETENTION_DAYS: '0',
    });
    assert.equal(result.code, 2, result.stderr);
    assert.deepEqual(result.stderr.split('\n'), [
      'tally list-accounts cannot run; fix the configuration: sqliteSynchronous: TALLY_SQLITE_SYNCHRONOUS="SOMETIMES" must be FULL or NORMAL',
      'tally list-accounts cannot run; fix the configuration: retentionDays: TALLY_RETENTION_DAYS="0" must be a decimal integer from 1 to 3650',
      '',
    ]);
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
      assert.match(result.stderr, /^[^\n]*\n$/, 'in one line');
      assert.ok(!existsSync(join(dataDir, 'token-keys.json')), 'token-keys.json was written');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('exits non-zero within seconds, saying which port to change, when its port is already taken', async () => {
    const holder = await holdPort();
    const port = holder.port;
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-port-taken-'));
    const env = tallyEnv({
      TALLY_DATA_DIR: dataDir,
      TALLY_PORT: String(port),
      TALLY_HOST: '127.0.0.1',
      TALLY_ADMIN_KEY: 'test-admin-key-0123456789',
    });
    const child = spawn(process.execPath, [tallyEntry(), 'serve'], {
      cwd: new URL('../../', import.meta.url).pathname,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      // A bound on a hang, not a speed: on a loaded 2-core machine loading the sources through tsx
      // alone has taken over 40 s.
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), 120_000).unref(),
      );
      const outcome = await Promise.race([exit, timeout]);
      assert.notEqual(outcome, 'timeout', `still running after 120 s:\n${stderr}`);
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

  it('prints its version for version, --version and -V alike, and exits 0, refusing an argument after it', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const args of [['version'], ['--version'], ['-V']]) {
      const result = await runCli(args, {});
      assert.deepEqual(
        [result.code, result.stdout, result.stderr],
        [0, `tally ${version}\n`, ''],
        args.join(' '),
      );
    }
    const extra = await runCli(['version', 'x'], {});
    assert.equal(extra.code, 2, extra.stderr);
    assert.match(
      extra.stderr,
      /^tally version: unexpected argument "x" \(nothing was done\); usage: tally version/,
    );
  });

  it('prints its help for --help, -h and help alike, and exits 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const result = await runCli(args, {});
      assert.equal(result.code, 0, JSON.stringify(args));
      assert.match(result.stdout, /^Tally — counts billable ad impressions\.\n\nUsage: tally <command>/);
      assert.equal(result.stderr, '');
    }
  });

  it("prints a command's usage for --help or -h after it, or help before it, exits 0 and does nothing", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-command-help-'));
    try {
      for (const [args, command] of [
        [['serve', '--help'], 'serve'],
        [['create-account', '--help'], 'create-account'],
        [['create-account', 'Acme', '-h'], 'create-account'],
        [['list-accounts', '-h'], 'list-accounts'],
        [['replay-dead', '--account', '2', '--help'], 'replay-dead'],
        [['rotate-token-key', '--help'], 'rotate-token-key'],
        [['help', 'replay-dead'], 'replay-dead'],
        [['--help', 'create-account'], 'create-account'],
        [['help', '--help'], 'help'],
        [['help', '-h'], 'help'],
        // --version and -V name the version command, as version does: --help wins in either order.
        [['--help', '--version'], 'version'],
        [['-h', '-V'], 'version'],
        [['help', '--version'], 'version'],
        [['--version', '--help'], 'version'],
      ] as const) {
        const result = await runCli([...args], { TALLY_DATA_DIR: dataDir });
        assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stderr, '', args.join(' '));
        assert.ok(result.stdout.startsWith(`usage: tally ${command}`), `${args.join(' ')}: ${result.stdout}`);
      }
      assert.deepEqual(readdirSync(dataDir), [], 'asking for help wrote into the data directory');
      // After --, --help is the name of the account to create, as the usage says.
      const named = await runCli(['create-account', '--', '--help'], { TALLY_DATA_DIR: dataDir });
      assert.equal(named.code, 0, named.stderr);
      assert.match(named.stdout, /^Account 2 \("--help"\) created\./);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses no command with exit code 2 in one line naming the commands, as an unknown one', async () => {
    const result = await runCli([], {});
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      'no command given: run tally <command>, one of serve, create-account, list-accounts, replay-dead, rotate-token-key, help, version (tally help describes each)\n',
    );
  });

  it('refuses an argument a command does not take with exit code 2, naming it and the usage in one line, and does nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-extra-argument-'));
    try {
      const usage = {
        serve: 'tally serve  (configured by TALLY_* variables, e.g. TALLY_PORT=8081 tally serve)',
        'create-account':
          'tally create-account <name>  (or --name=<name>; quote a name with spaces: tally create-account "Acme Media"; put one beginning with - after --: tally create-account -- -Acme)',
        'replay-dead':
          'tally replay-dead [--account <id>] [--host <host>] [--from <ISO time>] [--to <ISO time>] [--dry-run]',
        'rotate-token-key': 'tally rotate-token-key',
      };
      for (const [args, extra, line] of [
        [['create-account', 'a', 'b'], 'b', usage['create-account']],
        // Options, not names: an account named "-x" would be created, and its key printed.
        [['create-account', '-x'], '-x', usage['create-account']],
        [['create-account', '--', 'a', 'b'], 'b', usage['create-account']],
        [['list-accounts', '--'], '--', 'tally list-accounts'],
        [['serve', '--port', '1'], '--port', usage.serve],
        [['rotate-token-key', '--force'], '--force', usage['rotate-token-key']],
        [['replay-dead', 'extra'], 'extra', usage['replay-dead']],
        [['--help', 'serve', 'x'], 'x', 'tally help [<command>]'],
        [['--help', '--version', 'x'], 'x', 'tally help [<command>]'],
        // --help beside it asks for the usage, which the refusal gives: still a usage error.
        [['list-accounts', '--help', 'extra'], 'extra', 'tally list-accounts'],
        [['serve', 'x', '-h'], 'x', usage.serve],
        [['rotate-token-key', '--help', 'help'], 'help', usage['rotate-token-key']],
        [['version', '--help', 'x'], 'x', 'tally version'],
        // So too for the commands taking arguments: their usage is no licence for one they do not.
        [['replay-dead', 'extra', '--help'], 'extra', usage['replay-dead']],
        [['create-account', '--help', '--bar'], '--bar', usage['create-account']],
        [['create-account', 'a', 'b', '-h'], 'b', usage['create-account']],
      ] as const) {
        const result = await runCli([...args], { TALLY_DATA_DIR: dataDir, TALLY_PORT: '0' });
        assert.equal(result.code, 2, args.join(' '));
        assert.equal(result.stdout, '', args.join(' '));
        assert.equal(
          result.stderr,
          `tally ${args[0]}: unexpected argument ${JSON.stringify(extra)} (nothing was done); usage: ${line}\n`,
        );
      }
      assert.deepEqual(readdirSync(dataDir), [], 'a refused command wrote into the data directory');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown command with exit code 2 in one line, naming it and the commands', async () => {
    const result = await runCli(['frobnicate'], {});
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      'unknown command "frobnicate": the commands are serve, create-account, list-accounts, replay-dead, rotate-token-key, help, version (tally help describes each)\n',
    );
  });

  it('says that help has no command of the name it is given, listing the commands, with exit code 2', async () => {
    const commands =
      'the commands are serve, create-account, list-accounts, replay-dead, rotate-token-key, help, version (tally help describes each)';
    for (const [args, name] of [
      [['help', 'frobnicate'], 'frobnicate'],
      [['--help', 'nope', 'serve'], 'nope'],
      [['-h', 'Serve'], 'Serve'],
    ] as const) {
      const result = await runCli([...args], {});
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
      assert.equal(
        result.stderr,
        `tally ${args[0]}: there is no command ${JSON.stringify(name)}: ${commands}\n`,
      );
    }
  });

  it('says an unexpected error in one line naming it and where it was thrown, exit 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-unexpected-'));
    try {
      // A ledger whose api_keys table an operator's sqlite3 dropped.
      const { db } = ledgerWithAccounts(dataDir, ['Acme']);
      db.exec('DROP TABLE api_keys');
      db.close();
      const result = await runCli(['list-accounts'], { TALLY_DATA_DIR: dataDir });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(
        result.stderr,
        /^Tally failed unexpectedly \(report this line\): SqliteError: no such table: api_keys \| at [^\n]*listKeys[^\n]*\n$/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says in one line, exit 1, that its output was cut off when the reader of its stdout goes away (tally list-accounts | head), what it did standing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-cut-off-'));
    try {
      ledgerWithAccounts(dataDir, ['Acme']).db.close();
      for (const command of [['list-accounts'], ['create-account', 'Beta'], ['help']]) {
        const child = spawn(process.execPath, [tallyEntry(), ...command], {
          cwd: new URL('../../', import.meta.url).pathname,
          env: tallyEnv({ TALLY_DATA_DIR: dataDir }),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        // The reader goes away before the command writes: its first write fails with EPIPE.
        child.stdout.destroy();
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const [code] = (await once(child, 'close')) as [number | null];
        assert.deepEqual(
          [code, stderr],
          [
            1,
            `tally ${command[0]}: its output was cut off, as the reader of its stdout went away (EPIPE); ` +
              'what it did stands\n',
          ],
          command[0],
        );
      }
      const listed = await runCli(['list-accounts'], { TALLY_DATA_DIR: dataDir });
      assert.match(listed.stdout, /\n3\tBeta\t/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses every command on the data directory, in the same line saying what to fix, where it does not exist (or is a file, or lies under one), and creates none', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tally-no-data-dir-'));
    try {
      const mistyped = join(parent, 'dat');
      const aFile = join(parent, 'tally.conf');
      writeFileSync(aFile, '{}');
      const commands = [['create-account', 'Acme'], ['rotate-token-key'], ['list-accounts'], ['replay-dead']];
      for (const command of commands) {
        for (const dataDir of [mistyped, aFile, join(aFile, 'data')]) {
          const result = await runCli(command, { TALLY_DATA_DIR: dataDir });
          assert.equal(result.code, 1, command[0]);
          assert.equal(result.stdout, '', command[0]);
          assert.equal(
            result.stderr,
            `Tally has no data directory at ${dataDir}: ${DATA_DIR_FIX}\n`,
            command[0],
          );
        }
        assert.ok(!existsSync(mistyped), `${command[0]} created a data directory`);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('says in one line, exit 1, that it may not read the data directory, rather than that it or its ledger is missing, when its user may not look in it', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tally-closed-data-dir-'));
    const dataDir = join(parent, 'data');
    try {
      mkdirSync(dataDir);
      openSqlite(join(dataDir, 'tally.db'), 'FULL').close();
      const commands = [['list-accounts'], ['replay-dead', '--dry-run']];
      // As root, the command runs as another user; as any other user, mode 000 denies its owner too.
      // Closed: the data directory, then the directory above it.
      for (const [parentMode, dataDirMode] of [
        [0o755, 0o000],
        [0o000, 0o700],
      ] as const) {
        chmodSync(parent, parentMode);
        chmodSync(dataDir, dataDirMode);
        for (const command of commands) {
          const result = await runCli(command, { TALLY_DATA_DIR: dataDir }, { unprivileged: true });
          assert.deepEqual(
            [result.code, result.stdout, result.stderr],
            [
              1,
              '',
              `Tally may not read the data directory ${dataDir} (EACCES: it, or a directory above it, is closed ` +
                `to this user): run the command as the user the server runs as, or ${DATA_DIR_FIX}\n`,
            ],
            command.join(' '),
          );
        }
      }
    } finally {
      chmodSync(parent, 0o700);
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('rotates the token key of a data directory, saying which key now signs, making one key where there was no file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-rotate-'));
    const listedIds = () =>
      (
        JSON.parse(readFileSync(join(dataDir, 'token-keys.json'), 'utf8')) as { keys: { id: number }[] }
      ).keys.map((entry) => entry.id);
    try {
      const first = await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, 'key 1 now signs new tokens; restart Tally to use it\n');
      assert.deepEqual(listedIds(), [1]);
      const second = await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, 'key 2 now signs new tokens; restart Tally to use it\n');
      assert.deepEqual(listedIds(), [1, 2]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says what to do, without a stack trace, when the key file it would rotate is damaged', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-rotate-'));
    try {
      writeFileSync(join(dataDir, 'token-keys.json'), '{"keys": [');
      const result = await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir });
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^Tally cannot run: .*token-keys\.json is not JSON: .*restore it from a backup.*\n$/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says in one line, without a stack trace, that rotate-token-key may not write the key file, and leaves it whole', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-rotate-not-mine-'));
    const keyFile = join(dataDir, 'token-keys.json');
    try {
      assert.equal((await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir })).code, 0);
      // The command may read the keys but write nothing in the directory: as root, the command
      // runs as another user; as any other user, the modes deny its owner writing too.
      chmodSync(dataDir, 0o555);
      chmodSync(keyFile, 0o444);
      const before = readFileSync(keyFile, 'utf8');
      // Another user may not open even the key file's lock (root's, 600); its owner opens it, and
      // may then not write the new key file in the directory.
      const refused = process.getuid?.() === 0 ? join(dataDir, 'token-keys.lock') : keyFile;
      const result = await runCli(['rotate-token-key'], { TALLY_DATA_DIR: dataDir }, { unprivileged: true });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.ok(
        result.stderr.startsWith(`Tally cannot run: ${refused} cannot be written by this process (EACCES)`),
        result.stderr,
      );
      assert.match(
        result.stderr,
        /run Tally as the user owning the data directory.*the keys it holds are unchanged/,
      );
      assert.equal(readFileSync(keyFile, 'utf8'), before);
      assert.deepEqual(readdirSync(dataDir).sort(), ['token-keys.json', 'token-keys.lock']);
    } finally {
      chmodSync(dataDir, 0o755);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('makes dead deliveries pending again with a new three-hour deadline, and says how many', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-replay-'));
    try {
      const { db, ids } = ledgerWithAccounts(dataDir, []);
      const insert = db.prepare(
        `INSERT INTO deliveries (account_id, dedupe_key, url, device_ip, user_agent, status, attempts, created_ms, due_ms, deadline_ms)
         VALUES (?, ?, 'https://dsp.example/bill', '203.0.113.9', 'ua', ?, 7, 1, 1, 2)`,
      );
      insert.run(ids[0], 'dead-1', 'dead');
      insert.run(ids[0], 'delivered-1', 'delivered');
      db.close();
      const result = await runCli(['replay-dead'], { TALLY_DATA_DIR: dataDir });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '1 dead delivery is pending again\n');
      const after = openSqlite(join(dataDir, 'tally.db'));
      const rows = after
        .prepare('SELECT dedupe_key, status, attempts, due_ms, deadline_ms FROM deliveries ORDER BY id')
        .all() as {
        dedupe_key: string;
        status: string;
        attempts: number;
        due_ms: number;
        deadline_ms: number;
      }[];
      after.close();
      assert.deepEqual(
        rows.map((row) => [row.dedupe_key, row.status, row.attempts]),
        [
          ['dead-1', 'pending', 0],
          ['delivered-1', 'delivered', 7],
        ],
      );
      assert.equal((rows[0]?.deadline_ms ?? 0) - (rows[0]?.due_ms ?? 0), 3 * 3_600_000);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says in one line, exit 1, without a stack trace, that the ledger stayed locked, when another connection holds its write lock past the 5 s wait, and replays none', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-replay-locked-'));
    try {
      const { db, ids } = ledgerWithAccounts(dataDir, []);
      db.prepare(
        `INSERT INTO deliveries (account_id, dedupe_key, url, device_ip, user_agent, status, attempts, created_ms, due_ms, deadline_ms)
         VALUES (?, 'dead-1', 'https://dsp.example/bill', '203.0.113.9', 'ua', 'dead', 7, 1, 1, 2)`,
      ).run(ids[0]);
      db.exec('BEGIN IMMEDIATE');
      let result;
      try {
        result = await runCli(['replay-dead'], { TALLY_DATA_DIR: dataDir });
      } finally {
        db.exec('ROLLBACK');
        db.close();
      }
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(
        result.stderr,
        /^Tally cannot run: .*tally\.db is locked: another connection held its write lock/,
      );
      assert.deepEqual(deliveryStatuses(dataDir), ['dead-1:dead']);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('replays only the dead deliveries its options pick, counts them without change on --dry-run, and refuses bad options whole', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-replay-some-'));
    try {
      const {
        db,
        ids: [operator, other, third],
      } = ledgerWithAccounts(dataDir, ['Other Network', 'Third Network']);
      const insert = db.prepare(
        `INSERT INTO deliveries (account_id, dedupe_key, url, host, device_ip, user_agent, status, created_ms, due_ms, deadline_ms)
         VALUES (?, ?, ?, ?, '203.0.113.9', 'ua', 'dead', ?, 1, 2)`,
      );
      const dayMs = Date.parse('2026-12-04T00:00:00Z');
      insert.run(operator, 'dsp-1', 'https://dsp.example/b', 'dsp.example', dayMs + 3_600_000);
      insert.run(operator, 'dsp-2', 'https://dsp.example:8443/b', 'dsp.example:8443', dayMs - 3_600_000);
      insert.run(other, 'other', 'https://other.example/b', 'other.example', dayMs + 3_600_000);
      insert.run(third, 'idn', 'https://bücher.example./b', 'bücher.example.', dayMs);
      insert.run(third, 'ipv6', 'https://[2001:db8::1]/b', '[2001:db8::1]', dayMs);
      db.close();
      const statuses = () => deliveryStatuses(dataDir);
      const env = { TALLY_DATA_DIR: dataDir };
      const dry = await runCli(['replay-dead', '--host', 'DSP.example', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(dry.stdout, '2 dead deliveries would be pending again (--dry-run: nothing was changed)\n');
      assert.deepEqual(statuses(), ['dsp-1:dead', 'dsp-2:dead', 'other:dead', 'idn:dead', 'ipv6:dead']);
      // The host as an error names it (punycode, no final dot), or an IPv6 address without brackets.
      for (const host of ['xn--bcher-kva.example', '2001:db8::1']) {
        const spelt = await runCli(['replay-dead', '--host', host, '--dry-run'], env);
        assert.equal(
          spelt.stdout,
          '1 dead delivery would be pending again (--dry-run: nothing was changed)\n',
          host,
        );
      }
      for (const from of [
        '2026-02-30',
        '2026-02-30T00:00:00Z',
        '2026-12-04T24:00:00Z',
        '2026-12-04T10:00Z',
      ]) {
        const impossible = await runCli(['replay-dead', '--from', from], env);
        assert.equal(impossible.code, 2, from);
        assert.match(impossible.stderr, /--from ".*" must be an ISO date/, from);
      }
      // A burl that names no port is on its scheme's: https://dsp.example/b on 443, not 80.
      for (const [host, count] of [
        ['dsp.example:443', '1 dead delivery'],
        ['dsp.example:80', '0 dead deliveries'],
      ] as const) {
        const ported = await runCli(['replay-dead', '--host', host, '--dry-run'], env);
        assert.equal(
          ported.stdout,
          `${count} would be pending again (--dry-run: nothing was changed)\n`,
          host,
        );
      }
      const withUser = await runCli(['replay-dead', '--host', 'user@DSP.example', '--dry-run'], env);
      assert.equal(
        withUser.stdout,
        '2 dead deliveries would be pending again (--dry-run: nothing was changed)\n',
      );
      const bad = await runCli(['replay-dead', '--account', 'two', '--from', 'yesterday'], env);
      assert.equal(bad.code, 2);
      assert.match(
        bad.stderr,
        /--account "two" must be an account id.*; --from "yesterday" must be an ISO date/,
      );
      assert.match(bad.stderr, /\(nothing was done\); usage: tally replay-dead \[--account <id>\]/);
      const some = await runCli(['replay-dead', '--host', 'dsp.example', '--from', '2026-12-04'], env);
      assert.equal(some.code, 0, some.stderr);
      assert.equal(some.stdout, '1 dead delivery is pending again\n');
      assert.deepEqual(statuses(), ['dsp-1:pending', 'dsp-2:dead', 'other:dead', 'idn:dead', 'ipv6:dead']);
      const account = await runCli(['replay-dead', '--account', String(other)], env);
      assert.equal(account.stdout, '1 dead delivery is pending again\n');
      assert.deepEqual(statuses(), ['dsp-1:pending', 'dsp-2:dead', 'other:pending', 'idn:dead', 'ipv6:dead']);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('replays the dead deliveries of an address however the burl and --host spell it, and refuses a --host that names no host', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-replay-spelt-'));
    try {
      const {
        db,
        ids: [operator],
      } = ledgerWithAccounts(dataDir, []);
      const insert = db.prepare(
        `INSERT INTO deliveries (account_id, dedupe_key, url, host, device_ip, user_agent, status, created_ms, due_ms, deadline_ms)
         VALUES (?, ?, ?, ?, '203.0.113.9', 'ua', 'dead', 1, 1, 2)`,
      );
      insert.run(operator, 'short', 'http://127.1/b', '127.1');
      insert.run(operator, 'dotted', 'http://127.0.0.1/b', '127.0.0.1');
      insert.run(operator, 'mapped', 'https://[::ffff:127.0.0.1]/b', '[::ffff:127.0.0.1]');
      insert.run(operator, 'name', 'https://DSP.example./b', 'dsp.example.');
      db.close();
      const env = { TALLY_DATA_DIR: dataDir };
      for (const [host, count] of [
        ['127.0.0.1', '2 dead deliveries'],
        ['0x7f.0.0.1', '2 dead deliveries'],
        ['127.1:80', '2 dead deliveries'],
        ['[::ffff:7f00:1]', '1 dead delivery'],
        ['DSP.EXAMPLE', '1 dead delivery'],
      ] as const) {
        const dry = await runCli(['replay-dead', '--host', host, '--dry-run'], env);
        assert.equal(dry.stdout, `${count} would be pending again (--dry-run: nothing was changed)\n`, host);
      }
      const refused = await runCli(['replay-dead', '--host', '999.1.1.1'], env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /--host "999\.1\.1\.1" is no host a URL can name/);
      assert.deepEqual(deliveryStatuses(dataDir), ['short:dead', 'dotted:dead', 'mapped:dead', 'name:dead']);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses, exit 1, to replay or count the dead deliveries of an account that does not exist, naming the id, and replays none', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-replay-no-account-'));
    try {
      const {
        db,
        ids: [operator, other],
      } = ledgerWithAccounts(dataDir, ['Other Network']);
      const insert = db.prepare(
        `INSERT INTO deliveries (account_id, dedupe_key, url, device_ip, user_agent, status, created_ms, due_ms, deadline_ms)
         VALUES (?, ?, 'https://dsp.example/bill', '203.0.113.9', 'ua', 'dead', 1, 1, 2)`,
      );
      insert.run(operator, 'operator-dead');
      insert.run(other, 'other-dead');
      db.close();
      const env = { TALLY_DATA_DIR: dataDir };
      const missing = (other ?? 0) + 1;
      for (const args of [
        ['replay-dead', '--account', String(missing)],
        ['replay-dead', '--account', String(missing), '--dry-run'],
      ]) {
        const refused = await runCli(args, env);
        assert.equal(refused.code, 1, args.join(' '));
        assert.equal(refused.stdout, '', args.join(' '));
        assert.equal(
          refused.stderr,
          `Tally has no account ${missing} in ${join(dataDir, 'tally.db')}, so nothing was replayed: give --account the id ` +
            'of an existing account (tally list-accounts lists them), or set TALLY_DATA_DIR to the data directory of ' +
            'the server that holds it\n',
        );
      }
      assert.deepEqual(deliveryStatuses(dataDir), ['operator-dead:dead', 'other-dead:dead']);
      // The same id once its account exists, with none dead, is not refused: it has 0 to replay.
      const later = openSqlite(join(dataDir, 'tally.db'));
      const created = new SqliteAccountStore(later).createAccount('Quiet Network', Date.now()).id;
      later.close();
      assert.equal(created, missing);
      const none = await runCli(['replay-dead', '--account', String(missing)], env);
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout, '0 dead deliveries are pending again\n');
      assert.deepEqual(deliveryStatuses(dataDir), ['operator-dead:dead', 'other-dead:dead']);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('lists the accounts a data directory holds, with their ids, names, creation times and live keys, and refuses a data directory without a ledger', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-list-accounts-'));
    try {
      const env = { TALLY_DATA_DIR: dataDir };
      const none = await runCli(['list-accounts'], env);
      assert.equal(none.code, 1);
      assert.equal(none.stdout, '');
      assert.equal(
        none.stderr,
        `Tally has no ledger (tally.db) in the data directory ${dataDir}: ${DATA_DIR_FIX}\n`,
      );
      assert.ok(!existsSync(join(dataDir, 'tally.db')), 'listing made a ledger');
      const created = await runCli(['create-account', 'Acme Media'], env);
      assert.equal(created.code, 0, created.stderr);
      const db = openSqlite(join(dataDir, 'tally.db'));
      const accounts = new SqliteAccountStore(db);
      const [operator, acme] = accounts.listAccounts();
      const acmeKey = accounts.listKeys(acme?.id ?? 0)[0];
      accounts.addKey(acme?.id ?? 0, 'second-hash', 'tly_2', 'second', 'reader', null, Date.now());
      accounts.revokeKey(acme?.id ?? 0, acmeKey?.id ?? 0, Date.now());
      accounts.addKey(acme?.id ?? 0, 'third-hash', 'tly_3', 'third', 'editor', null, Date.now());
      db.close();
      const listed = await runCli(['list-accounts'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(
        listed.stdout,
        'id\tname\tcreated\tlive keys\n' +
          `1\tdefault\t${new Date(operator?.createdMs ?? 0).toISOString()}\t0\n` +
          `2\tAcme Media\t${new Date(acme?.createdMs ?? 0).toISOString()}\t2\n`,
      );
      const extra = await runCli(['list-accounts', 'Acme'], env);
      assert.equal(extra.code, 2);
      assert.match(
        extra.stderr,
        /unexpected argument "Acme" \(nothing was done\); usage: tally list-accounts/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to serve, in one line naming the file, a data directory whose lock file, key file or ledger its user may not write', async () => {
    /**
     * A data directory anyone may write in, holding `files`, each mode 000: as root, the command
     * runs as another user; as any other user, the modes deny its owner too.
     */
    const dataDirWith = (files: Record<string, string>) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'tally-not-mine-'));
      chmodSync(dataDir, 0o777);
      for (const [name, text] of Object.entries(files)) {
        writeFileSync(join(dataDir, name), text);
        chmodSync(join(dataDir, name), 0o000);
      }
      return dataDir;
    };
    const ledgerDir = dataDirWith({});
    openSqlite(join(ledgerDir, 'tally.db')).close();
    chmodSync(join(ledgerDir, 'tally.db'), 0o444);
    const keysDir = dataDirWith({ 'token-keys.json': '{"keys": []}' });
    openSqlite(join(keysDir, 'tally.db')).close();
    chmodSync(join(keysDir, 'tally.db'), 0o666);
    const cases: [string, string, RegExp][] = [
      [
        dataDirWith({ 'tally.lock': '' }),
        'tally.lock',
        /cannot be opened \(SQLite: unable to open database file\)/,
      ],
      [
        ledgerDir,
        'tally.db',
        /cannot be written by this process \(SQLite: attempt to write a readonly database\)/,
      ],
      [keysDir, 'token-keys.json', /cannot be read or written by this process \(EACCES\)/],
    ];
    try {
      for (const [dataDir, file, problem] of cases) {
        const result = await runCli(
          ['serve'],
          { TALLY_DATA_DIR: dataDir, TALLY_PORT: '0', TALLY_PUBLIC_URL: 'http://tally.test' },
          { unprivileged: true },
        );
        assert.equal(result.code, 1, `${file}: ${result.stderr}`);
        assert.ok(result.stderr.startsWith(`Tally cannot start: ${join(dataDir, file)} `), result.stderr);
        assert.match(result.stderr, problem);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      }
    } finally {
      for (const [dataDir] of cases) rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to serve a data directory whose lock file is not one Tally made, saying to delete it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-bad-lock-'));
    try {
      writeFileSync(join(dataDir, 'tally.lock'), Buffer.alloc(200, 0xa5));
      const result = await runCli(['serve'], {
        TALLY_DATA_DIR: dataDir,
        TALLY_PORT: '0',
        TALLY_PUBLIC_URL: 'http://tally.test',
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /^Tally cannot start: \S+tally\.lock is not a lock file Tally made \(SQLite: .*\): it holds no data; with no Tally running on its data directory, delete it and start again\n$/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('leaves unmigrated, changing nothing, the ledger of a Tally serving it unmigrated (an older one, or one still migrating as it starts), saying what to do for each, and migrates it once none does', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-older-server-'));
    const dbPath = join(dataDir, 'tally.db');
    const older = SQLITE_MIGRATIONS.length - 1;
    const schemaVersion = () => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return db.pragma('user_version', { simple: true });
      } finally {
        db.close();
      }
    };
    try {
      migrateAsOlderTally(dbPath, older);
      // A Tally serving the directory, as it holds it, its ledger unmigrated: an older one (an upgrade
      // built, not yet restarted), or, as the command sees it alike, a new one migrating as it starts.
      const server = lockDataDir(dataDir);
      try {
        for (const command of [['replay-dead', '--dry-run'], ['replay-dead'], ['create-account', 'Acme']]) {
          const result = await runCli(command, { TALLY_DATA_DIR: dataDir });
          assert.equal(result.code, 1, command.join(' '));
          assert.equal(result.stdout, '', command.join(' '));
          assert.equal(
            result.stderr,
            `Tally cannot run: ${dbPath} has schema version ${older} and this Tally's commands need ` +
              `${SQLITE_MIGRATIONS.length}, but the Tally serving ${dataDir} has not migrated it: nothing was ` +
              'changed. Either it is this version, still migrating the ledger as it starts: wait until it ' +
              'listens, then run the command again; or it is an older one, which would fail on a ledger ' +
              'migrated under it: restart the server with this version first (it migrates the ledger as it ' +
              'starts; back the ledger up before), then run the command again\n',
          );
          assert.equal(schemaVersion(), older, `${command.join(' ')} migrated the ledger under its server`);
        }
      } finally {
        server.release();
      }
      const result = await runCli(['replay-dead', '--dry-run'], { TALLY_DATA_DIR: dataDir });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(schemaVersion(), SQLITE_MIGRATIONS.length);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('creates an account after the operator’s on a new data directory, its name trimmed, and prints its key once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-create-account-'));
    try {
      const result = await runCli(['create-account', '  Acme Media  '], { TALLY_DATA_DIR: dataDir });
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        /^Account 2 \("Acme Media"\) created\.\nAdministrator API key \(shown once, store it now\): tally_[\w-]+\n$/,
      );
      const key = /: (tally_[\w-]+)\n$/.exec(result.stdout)?.[1] ?? '';
      const db = openSqlite(join(dataDir, 'tally.db'));
      const accounts = db.prepare('SELECT id, name FROM accounts ORDER BY id').all();
      const keys = db.prepare('SELECT account_id, role, hash FROM api_keys').all() as {
        account_id: number;
        role: string;
        hash: string;
      }[];
      db.close();
      assert.deepEqual(accounts, [
        { id: 1, name: 'default' },
        { id: 2, name: 'Acme Media' },
      ]);
      assert.deepEqual(
        keys.map((row) => [row.account_id, row.role]),
        [[2, 'admin']],
      );
      assert.ok(!keys.some((row) => row.hash.includes(key)), 'the key itself is stored');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('creates an account whose name begins with -, given after -- or as --name=<name>', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-create-account-'));
    try {
      for (const args of [['--', '-Acme'], ['--name=--help'], ['--name', '-x Media']]) {
        const result = await runCli(['create-account', ...args], { TALLY_DATA_DIR: dataDir });
        assert.equal(result.code, 0, result.stderr);
      }
      const db = openSqlite(join(dataDir, 'tally.db'));
      const names = db.prepare('SELECT name FROM accounts ORDER BY id').all();
      db.close();
      assert.deepEqual(names, [
        { name: 'default' },
        { name: '-Acme' },
        { name: '--help' },
        { name: '-x Media' },
      ]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('gives create-account without a name its usage, and a blank one given, named, with its usage (exit 2), before saying the data directory is missing', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tally-create-account-no-dir-'));
    const dataDir = join(parent, 'data');
    try {
      const missing = await runCli(['create-account'], { TALLY_DATA_DIR: dataDir });
      assert.equal(missing.code, 2, missing.stderr);
      assert.equal(
        missing.stderr,
        'usage: tally create-account <name>  (a name of 1 to 255 characters, without control characters)\n',
      );
      for (const name of ['', '   ']) {
        const refused = await runCli(['create-account', name], { TALLY_DATA_DIR: dataDir });
        assert.equal(refused.code, 2, `${JSON.stringify(name)}: ${refused.stderr}`);
        assert.equal(refused.stderr, nameRefusal(name));
      }
      const named = await runCli(['create-account', 'Acme'], { TALLY_DATA_DIR: dataDir });
      assert.equal(named.code, 1, named.stderr);
      assert.match(named.stderr, /^Tally has no data directory at \S+: set TALLY_DATA_DIR/);
      assert.equal(existsSync(dataDir), false, 'no data directory was made');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('creates an account named with up to 255 characters and refuses, naming it, a longer, blank or control-character name with its usage', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-create-account-'));
    try {
      for (const name of ['x'.repeat(256), '   ', 'two\nlines', 'a\tb']) {
        const refused = await runCli(['create-account', name], { TALLY_DATA_DIR: dataDir });
        assert.equal(refused.code, 2, name);
        assert.equal(refused.stderr, nameRefusal(name));
      }
      assert.ok(!existsSync(join(dataDir, 'tally.db')), 'a refused name created a ledger');
      const longest = await runCli(['create-account', 'x'.repeat(255)], { TALLY_DATA_DIR: dataDir });
      assert.equal(longest.code, 0, longest.stderr);
      // 255 emoji are 510 UTF-16 units, and 255 characters.
      const emoji = await runCli(['create-account', '😀'.repeat(255)], { TALLY_DATA_DIR: dataDir });
      assert.equal(emoji.code, 0, emoji.stderr);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

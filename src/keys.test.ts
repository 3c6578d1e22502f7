import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import fs, {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  droppedSigningKey,
  KeyFileError,
  keyFingerprint,
  loadKeyRing,
  refuseLostLedger,
  rotateKeyFile,
} from './keys.js';
import { openSqlite } from './adapters/sqlite/database.js';
import { sqliteKeyFileMemory } from './adapters/sqlite/key-file-memory.js';
import { sqliteSigningKeyMemory } from './adapters/sqlite/signing-key-memory.js';
import type { LedgerMemory } from './adapters/sqlite/data-dir-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = Buffer.alloc(32, 7).toString('base64');

let ledgers = 0;
/** The key-file memory of a new SQLite ledger of its own. */
function ledgerMemory() {
  return sqliteKeyFileMemory(openSqlite(join(dir, `ledger-${++ledgers}.db`)));
}

/** A new data directory whose key file holds `text`. */
function dataDirWith(text: string): string {
  const dataDir = mkdtempSync(join(dir, 'damaged-'));
  writeFileSync(join(dataDir, 'token-keys.json'), text);
  return dataDir;
}

describe('the token key file', () => {
  it('creates one key on first use and adds a signing key on rotation, keeping the old one', () => {
    const dataDir = mkdtempSync(join(dir, 'fresh-'));
    const first = loadKeyRing(dataDir, undefined, ledgerMemory());
    assert.equal(first.signingKeyId, 1);
    assert.equal(rotateKeyFile(dataDir), 2);
    const rotated = loadKeyRing(dataDir, undefined, ledgerMemory());
    assert.equal(rotated.signingKeyId, 2);
    assert.deepEqual(rotated.keys.get(1), first.keys.get(1));
  });

  it('refuses to make new keys when the key file is missing but the ledger had one, until the operator rotates', () => {
    const dataDir = mkdtempSync(join(dir, 'lost-'));
    const memory = ledgerMemory();
    assert.equal(memory.known(), false);
    const first = loadKeyRing(dataDir, undefined, memory);
    assert.equal(memory.known(), true);
    // A tally.db restored without its key file.
    rmSync(join(dataDir, 'token-keys.json'));
    assert.throws(
      () => loadKeyRing(dataDir, undefined, memory),
      (error: unknown) =>
        error instanceof KeyFileError &&
        /token-keys\.json is missing, but this data directory's ledger \(tally\.db\) had one/.test(
          error.message,
        ) &&
        /Restore the file from a backup .* run `tally rotate-token-key`$/.test(error.message),
    );
    assert.equal(existsSync(join(dataDir, 'token-keys.json')), false, 'no new key file was made');
    // The operator's choice: new keys from now on.
    assert.equal(rotateKeyFile(dataDir), 1);
    const renewed = loadKeyRing(dataDir, undefined, memory);
    assert.deepEqual([...renewed.keys.keys()], [1], 'one new key, not a first one and a rotated one');
    assert.notDeepEqual(renewed.keys.get(1), first.keys.get(1));
  });

  it('remembers a key file found beside a ledger that never recorded one (made before it could)', () => {
    const dataDir = dataDirWith(JSON.stringify({ keys: [{ id: 1, key: KEY }] }));
    const memory = ledgerMemory();
    loadKeyRing(dataDir, undefined, memory);
    assert.equal(memory.known(), true);
  });

  const damaged: [string, string, RegExp][] = [
    ['not JSON', '{"keys": [', /is not JSON/],
    ['no keys', '{"keys": []}', /lists no keys/],
    [
      'an id out of range',
      JSON.stringify({ keys: [{ id: 256, key: KEY }] }),
      /id 256 is not an integer 0-255/,
    ],
    ['a short key', JSON.stringify({ keys: [{ id: 1, key: 'c2hvcnQ=' }] }), /key 1 that is not 32 bytes/],
    [
      'a key that is not base64',
      JSON.stringify({ keys: [{ id: 1, key: `${KEY}!` }] }),
      /key 1 that is not 32 bytes/,
    ],
    [
      'a key with one "=" too many',
      JSON.stringify({ keys: [{ id: 1, key: `${'A'.repeat(43)}==` }] }),
      /key 1 that is not 32 bytes in base64 \(key 1 ends in 2 "=" where base64 of its length has 1\)/,
    ],
    [
      'a key whose last character was mistyped',
      JSON.stringify({ keys: [{ id: 1, key: `${'A'.repeat(42)}B=` }] }),
      /key 1 that is not 32 bytes in base64 \(the last character of key 1 holds bits past its last byte/,
    ],
    [
      'an id listed twice',
      JSON.stringify({
        keys: [
          { id: 1, key: KEY },
          { id: 1, key: KEY },
        ],
      }),
      /lists key id 1 twice/,
    ],
  ];
  for (const [problem, text, message] of damaged) {
    it(`refuses a key file with ${problem}, saying what is wrong, and leaves it as it was`, () => {
      const dataDir = dataDirWith(text);
      assert.throws(
        () => loadKeyRing(dataDir, undefined, ledgerMemory()),
        (error: unknown) => error instanceof KeyFileError && message.test(error.message),
      );
      assert.throws(() => rotateKeyFile(dataDir), KeyFileError);
      assert.equal(readFileSync(join(dataDir, 'token-keys.json'), 'utf8'), text);
    });
  }
  it("refuses a directory in the key file's place, saying so in a KeyFileError, whether loading or rotating", () => {
    const dataDir = mkdtempSync(join(dir, 'directory-'));
    mkdirSync(join(dataDir, 'token-keys.json'));
    const isDirectoryRefusal = (error: unknown) =>
      error instanceof KeyFileError &&
      /token-keys\.json cannot be read \(EISDIR\): it is a directory, not the key file Tally made; move the directory away/.test(
        error.message,
      );
    assert.throws(() => loadKeyRing(dataDir, undefined, ledgerMemory()), isDirectoryRefusal);
    assert.throws(() => rotateKeyFile(dataDir), isDirectoryRefusal);
    assert.equal(statSync(join(dataDir, 'token-keys.json')).isDirectory(), true);
  });
});

describe('the token key ring', () => {
  it('takes configured keys over the key file, writing none, the last listed signing', () => {
    const dataDir = mkdtempSync(join(dir, 'configured-'));
    const keyA = Buffer.alloc(32, 1);
    const keyB = Buffer.alloc(32, 2);
    const ring = loadKeyRing(
      dataDir,
      [
        { id: 9, key: keyA },
        { id: 4, key: keyB },
      ],
      ledgerMemory(),
    );
    assert.equal(ring.signingKeyId, 4);
    assert.deepEqual(
      [...ring.keys],
      [
        [9, keyA],
        [4, keyB],
      ],
    );
    assert.ok(!existsSync(join(dataDir, 'token-keys.json')), 'a key file was written');
  });

  it('refuses an empty configured key ring rather than sign with no key', () => {
    assert.throws(
      () => loadKeyRing(mkdtempSync(join(dir, 'empty-')), [], ledgerMemory()),
      /the token key ring is empty/,
    );
  });

  it('keeps the key a first start made and the one a rotation added, whichever of two processes writes first', async () => {
    // Two processes, each taking a data directory's name a line on stdin, sent to both at once:
    // one starts as a server does (its first start makes the key file), the other rotates.
    const template = join(dir, 'race-template.db');
    openSqlite(template).close();
    const script = (work: string) =>
      `import { createInterface } from 'node:readline';
      import { join } from 'node:path';
      import { loadKeyRing, rotateKeyFile } from ${JSON.stringify(new URL('./keys.ts', import.meta.url).href)};
      import { openSqlite } from ${JSON.stringify(new URL('./adapters/sqlite/database.ts', import.meta.url).href)};
      import { sqliteKeyFileMemory } from ${JSON.stringify(new URL('./adapters/sqlite/key-file-memory.ts', import.meta.url).href)};
      console.log('ready');
      for await (const dataDir of createInterface({ input: process.stdin })) { ${work} }`;
    const starting = keyProcess(
      script(`const db = openSqlite(join(dataDir, 'tally.db'));
        const ring = loadKeyRing(dataDir, undefined, sqliteKeyFileMemory(db));
        db.close();
        console.log(JSON.stringify([ring.signingKeyId, ring.keys.get(ring.signingKeyId).toString('base64')]));`),
    );
    const rotating = keyProcess(script('console.log(JSON.stringify([rotateKeyFile(dataDir)]));'));
    try {
      await Promise.all([starting.next(), rotating.next()]);
      for (let round = 0; round < 200; round++) {
        const dataDir = mkdtempSync(join(dir, 'race-'));
        copyFileSync(template, join(dataDir, 'tally.db'));
        starting.child.stdin.write(`${dataDir}\n`);
        rotating.child.stdin.write(`${dataDir}\n`);
        const [started, rotated] = await Promise.all([starting.next(), rotating.next()]);
        const [signingId, signingKey] = JSON.parse(started) as [number, string];
        const [rotatedId] = JSON.parse(rotated) as [number];
        const listed = (
          JSON.parse(readFileSync(join(dataDir, 'token-keys.json'), 'utf8')) as {
            keys: { id: number; key: string }[];
          }
        ).keys;
        assert.deepEqual(
          listed.filter((entry) => entry.id === signingId).map((entry) => entry.key),
          [signingKey],
          `round ${round}: the key the start signs with is in the file`,
        );
        assert.equal(listed.at(-1)?.id, rotatedId, `round ${round}: the key the rotation added signs next`);
      }
    } finally {
      starting.child.kill();
      rotating.child.kill();
    }
  });

  it('keeps the key each of two rotations added, side by side in two processes, each under an id of its own', async () => {
    // Two processes, each rotating the key file of a data directory whose name comes a line on
    // stdin, sent to both at once: each reads the file, adds a key and writes it back.
    const script = `import { createInterface } from 'node:readline';
      import { rotateKeyFile } from ${JSON.stringify(new URL('./keys.ts', import.meta.url).href)};
      console.log('ready');
      for await (const dataDir of createInterface({ input: process.stdin })) console.log(rotateKeyFile(dataDir));`;
    const rotations = [keyProcess(script), keyProcess(script)];
    try {
      await Promise.all(rotations.map((rotation) => rotation.next()));
      for (let round = 0; round < 200; round++) {
        const dataDir = mkdtempSync(join(dir, 'rotations-'));
        loadKeyRing(dataDir, undefined, ledgerMemory());
        for (const rotation of rotations) rotation.child.stdin.write(`${dataDir}\n`);
        const added = (await Promise.all(rotations.map((rotation) => rotation.next()))).map(Number);
        const listed = (
          JSON.parse(readFileSync(join(dataDir, 'token-keys.json'), 'utf8')) as { keys: { id: number }[] }
        ).keys.map((entry) => entry.id);
        assert.deepEqual(
          [added.sort((a, b) => a - b), listed],
          [
            [2, 3],
            [1, 2, 3],
          ],
          `round ${round}: each rotation added a key of its own, both kept`,
        );
      }
    } finally {
      for (const rotation of rotations) rotation.child.kill();
    }
  });

  it('makes the key file on a file system without hard links (vfat, some SMB and NFS mounts), at a first start or a rotation', () => {
    for (const code of ['EPERM', 'ENOTSUP', 'EXDEV', 'ENOSYS']) {
      const started = mkdtempSync(join(dir, `no-links-${code}-`));
      const rotated = mkdtempSync(join(dir, `no-links-${code}-`));
      const link = fs.linkSync;
      fs.linkSync = () => {
        throw Object.assign(new Error(`${code}: hard links not supported`), { code });
      };
      syncBuiltinESMExports();
      let made: ReadonlyMap<number, Buffer>;
      try {
        made = loadKeyRing(started, undefined, ledgerMemory()).keys;
        assert.equal(rotateKeyFile(rotated), 1, code);
      } finally {
        fs.linkSync = link;
        syncBuiltinESMExports();
      }
      assert.deepEqual(loadKeyRing(started, undefined, ledgerMemory()).keys, made, code);
      assert.deepEqual([...loadKeyRing(rotated, undefined, ledgerMemory()).keys.keys()], [1], code);
    }
  });

  it('writes the key file readable and writable by its owner only', () => {
    const dataDir = mkdtempSync(join(dir, 'mode-'));
    loadKeyRing(dataDir, undefined, ledgerMemory());
    assert.equal(statSync(join(dataDir, 'token-keys.json')).mode & 0o777, 0o600);
    rotateKeyFile(dataDir);
    assert.equal(statSync(join(dataDir, 'token-keys.json')).mode & 0o777, 0o600);
  });

  it('rotates to the id after the highest listed, whatever the order of the file, the new key signing', () => {
    const dataDir = dataDirWith(
      JSON.stringify({
        keys: [
          { id: 1, key: KEY },
          { id: 3, key: KEY },
          { id: 2, key: KEY },
        ],
      }),
    );
    assert.equal(rotateKeyFile(dataDir), 4);
    const ring = loadKeyRing(dataDir, undefined, ledgerMemory());
    assert.equal(ring.signingKeyId, 4);
    assert.deepEqual([...ring.keys.keys()], [1, 3, 2, 4]);
  });

  it('rotates up to key id 255, then to the lowest id not listed, reusing a retired key’s id', () => {
    const dataDir = dataDirWith(
      JSON.stringify({
        keys: [
          { id: 0, key: KEY },
          { id: 2, key: KEY },
          { id: 254, key: KEY },
        ],
      }),
    );
    assert.equal(rotateKeyFile(dataDir), 255);
    assert.equal(rotateKeyFile(dataDir), 1);
    assert.equal(rotateKeyFile(dataDir), 3);
    const ring = loadKeyRing(dataDir, undefined, ledgerMemory());
    assert.equal(ring.signingKeyId, 3);
    assert.deepEqual([...ring.keys.keys()], [0, 2, 254, 255, 1, 3]);
  });

  it('refuses a rotation when every key id 0-255 is listed, saying in one line to retire old keys, and leaves the file as it was', () => {
    const dataDir = dataDirWith(
      JSON.stringify({ keys: Array.from({ length: 256 }, (_, id) => ({ id, key: KEY })) }),
    );
    const path = join(dataDir, 'token-keys.json');
    const full = readFileSync(path, 'utf8');
    assert.throws(
      () => rotateKeyFile(dataDir),
      (error: unknown) =>
        error instanceof KeyFileError &&
        error.message.startsWith(`${path} lists a key under every id from 0 to 255`) &&
        error.message.includes('retire old keys first') &&
        !error.message.includes('\n'),
    );
    assert.equal(readFileSync(path, 'utf8'), full);
  });

  it('refuses a key file whose key id is negative, fractional or not a number', () => {
    for (const id of [-1, 1.5, '1', null]) {
      const dataDir = dataDirWith(JSON.stringify({ keys: [{ id, key: KEY }] }));
      assert.throws(
        () => loadKeyRing(dataDir, undefined, ledgerMemory()),
        (error: unknown) =>
          error instanceof KeyFileError &&
          error.message.includes(`id ${JSON.stringify(id)} is not an integer 0-255`),
        JSON.stringify(id),
      );
    }
  });
});

describe('the key that signed tokens at the last start', () => {
  const key = (fill: number) => Buffer.alloc(32, fill);
  const ring = (signingKeyId: number, ...entries: [number, Buffer][]) => ({
    signingKeyId,
    keys: new Map(entries),
  });

  it('says when a start lacks the key that signed until then, and remembers each new signing key', () => {
    const memory = sqliteSigningKeyMemory(openSqlite(join(dir, `ledger-${++ledgers}.db`)));
    // The first start remembers its key; the same keys again drop nothing.
    assert.equal(droppedSigningKey(ring(1, [1, key(1)]), memory, 1000), undefined);
    assert.equal(droppedSigningKey(ring(1, [1, key(1)]), memory, 2000), undefined);
    assert.deepEqual(memory.last(), { keyId: 1, fingerprint: keyFingerprint(key(1)), sinceMs: 1000 });
    // A rotation keeps the old key: nothing lost, the new one remembered.
    assert.equal(droppedSigningKey(ring(2, [1, key(1)], [2, key(2)]), memory, 3000), undefined);
    assert.equal(memory.last()?.keyId, 2);
    // Keys from elsewhere (TALLY_TOKEN_KEYS dropped or set anew): the signing key is not among them.
    assert.deepEqual(droppedSigningKey(ring(2, [2, key(9)]), memory, 4000), {
      keyId: 2,
      fingerprint: keyFingerprint(key(2)),
      sinceMs: 3000,
    });
    // Said once: the new key signs from then on.
    assert.equal(droppedSigningKey(ring(2, [2, key(9)]), memory, 5000), undefined);
  });

  it('fingerprints a key with 16 hex digits of its SHA-256, the same for the same key only', () => {
    assert.match(keyFingerprint(key(1)), /^[0-9a-f]{16}$/);
    assert.equal(keyFingerprint(key(1)), keyFingerprint(Buffer.alloc(32, 1)));
    assert.notEqual(keyFingerprint(key(1)), keyFingerprint(key(2)));
  });
});

describe('a ledger lost from a data directory a Tally served', () => {
  const memory = (answer: LedgerMemory) => () => Promise.resolve(answer);

  it('is refused with the keys configured only where a Tally made the ledger before', async () => {
    const dataDir = mkdtempSync(join(dir, 'lost-'));
    const dbPath = join(dataDir, 'tally.db');
    await assert.rejects(
      refuseLostLedger(dataDir, dbPath, true, true, memory('made')),
      (error: unknown) =>
        error instanceof KeyFileError &&
        /is missing, though a Tally served .* with the keys TALLY_TOKEN_KEYS gives: /.test(error.message),
    );
    // A first start stopped before it made the ledger left the lock file alone.
    await assert.doesNotReject(refuseLostLedger(dataDir, dbPath, true, true, memory('not made')));
    // A lock file from before lock files remembered the ledger says nothing of it.
    await assert.doesNotReject(refuseLostLedger(dataDir, dbPath, true, true, memory('unknown')));
    writeFileSync(dbPath, 'a ledger');
    await assert.doesNotReject(refuseLostLedger(dataDir, dbPath, true, true, memory('made')));
  });

  it('is refused beside its key file unless the lock file remembers that no Tally made the ledger', async () => {
    const dataDir = mkdtempSync(join(dir, 'lost-beside-'));
    const dbPath = join(dataDir, 'tally.db');
    writeFileSync(join(dataDir, 'token-keys.json'), '');
    const missing = (error: unknown) =>
      error instanceof KeyFileError && /tally\.db is missing beside .*token-keys\.json: /.test(error.message);
    await assert.rejects(refuseLostLedger(dataDir, dbPath, true, false, memory('made')), missing);
    await assert.rejects(refuseLostLedger(dataDir, dbPath, true, false, memory('unknown')), missing);
    // The operator's key file, put there before a first start that was stopped before the ledger.
    await assert.doesNotReject(refuseLostLedger(dataDir, dbPath, true, false, memory('not made')));
  });
});

/** A child process running `script` (TypeScript, through tsx), and the next line it prints. */
function keyProcess(script: string): { child: ChildProcessWithoutNullStreams; next(): Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = once(child, 'exit').then(() => {
    throw new Error(`the key process exited: ${stderr}`);
  });
  return {
    child,
    next: async () => {
      const line = await Promise.race([lines.next(), exited]);
      if (line.done === true) throw new Error(`the key process ended: ${stderr}`);
      return line.value;
    },
  };
}

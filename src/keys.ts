import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyRing } from './domain/token.js';
import { generateKey, KEY_BYTES, MAX_KEY_ID } from './domain/token.js';
import type { LedgerMemory } from './adapters/sqlite/data-dir-lock.js';
import { FileLockBusyError, withFileLock } from './adapters/sqlite/file-lock.js';
import { replaceFileDurably } from './lib/durable-file.js';
import { errorCode } from './lib/error-code.js';
import { decodeBase64 } from './lib/strict-base64.js';

const KEY_FILE = 'token-keys.json';

/**
 * What the ledger remembers of the data directory's key file: whether Tally ever made or read one
 * for it. A ledger that had one and finds none has lost the keys its tokens in flight were sealed
 * with (a `tally.db` restored without its key file).
 */
export interface KeyFileMemory {
  /** Whether a key file was made or read for this ledger before. */
  known(): boolean;
  /** Remembers that one was. */
  remember(): void;
}

/**
 * The token key ring: the configured keys, else the data directory's `token-keys.json`,
 * created with one fresh key on first start. The last key listed signs; all of them open.
 * Throws a {@link KeyFileError} when the file is missing though `memory` says the ledger had one:
 * new keys would make every token in flight `invalid_token`.
 */
export function loadKeyRing(
  dataDir: string,
  configured: { id: number; key: Buffer }[] | undefined,
  memory: KeyFileMemory,
): KeyRing {
  const entries = configured ?? keyFileEntries(join(dataDir, KEY_FILE), memory);
  const last = entries.at(-1);
  if (last === undefined) throw new Error('the token key ring is empty');
  return { signingKeyId: last.id, keys: new Map(entries.map((entry) => [entry.id, entry.key])) };
}

/** The key that signed tokens at a start, as the ledger remembers it. */
export interface SigningKeyRecord {
  keyId: number;
  /** The first 16 hex digits of the key's SHA-256: tells keys apart, says nothing of them. */
  fingerprint: string;
  /** When a start first signed with it. */
  sinceMs: number;
}

/** What the ledger remembers of the key that signed tokens at the last start. */
export interface SigningKeyMemory {
  last(): SigningKeyRecord | undefined;
  remember(key: SigningKeyRecord): void;
}

/** A key's fingerprint (see {@link SigningKeyRecord}). */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * The key that signed tokens at the last start when `ring` no longer holds it (the tokens in flight
 * it sealed no longer open: their notices are `invalid_token`), else `undefined`; then remembers
 * the ring's signing key as the one that signs from `nowMs`, if it is another.
 */
export function droppedSigningKey(
  ring: KeyRing,
  memory: SigningKeyMemory,
  nowMs: number,
): SigningKeyRecord | undefined {
  const last = memory.last();
  const held = (record: SigningKeyRecord) => {
    const key = ring.keys.get(record.keyId);
    return key !== undefined && keyFingerprint(key) === record.fingerprint;
  };
  const signing = ring.keys.get(ring.signingKeyId);
  if (signing === undefined) throw new Error('the token key ring has no signing key');
  const current = { keyId: ring.signingKeyId, fingerprint: keyFingerprint(signing), sinceMs: nowMs };
  if (last === undefined || last.keyId !== current.keyId || last.fingerprint !== current.fingerprint)
    memory.remember(current);
  return last !== undefined && !held(last) ? last : undefined;
}

/**
 * Throws a {@link KeyFileError} when a data directory a Tally served before (`servedBefore`: its
 * lock file was there) holds its key file but not the ledger at `dbPath`, or only an empty file
 * there (a copy that failed, a file truncated: SQLite would make it a new database): the ledger
 * was deleted or lost, and a new, empty one would count once more every impression whose tokens
 * those keys open (the claims and billing records went with it). With the keys configured
 * (`keysConfigured`: `TALLY_TOKEN_KEYS`), only where the lock file remembers that a Tally made
 * this directory's ledger (`ledgerMemory`): the configured keys open its tokens alike. A key file
 * put in a new directory before its first start is the operator's to use, also after that start
 * was stopped or killed before it made the ledger (the lock file remembers none made).
 */
export async function refuseLostLedger(
  dataDir: string,
  dbPath: string,
  servedBefore: boolean,
  keysConfigured: boolean,
  ledgerMemory: () => Promise<LedgerMemory>,
): Promise<void> {
  const keyFile = join(dataDir, KEY_FILE);
  if (!servedBefore || (!keysConfigured && !existsSync(keyFile))) return;
  const ledgerBytes = statSync(dbPath, { throwIfNoEntry: false })?.size;
  if (ledgerBytes !== undefined && ledgerBytes > 0) return;
  const memory = await ledgerMemory();
  if (memory === 'not made' || (keysConfigured && memory === 'unknown')) return;
  const what = ledgerBytes === undefined ? 'missing' : 'empty (0 bytes)';
  const lost = 'the ledger was deleted or lost, and a new one would count again the impressions it counted. ';
  const restore =
    'Restore tally.db from a backup (deleting tally.db-wal and tally.db-shm if they are there); ';
  throw new KeyFileError(
    keysConfigured
      ? `${dbPath} is ${what}, though a Tally served ${dataDir} with the keys TALLY_TOKEN_KEYS gives: ${lost}` +
          `${restore}to start an empty ledger instead, start it on a new TALLY_DATA_DIR with new keys only in ` +
          'TALLY_TOKEN_KEYS (or tokenKeys in the configuration file), so that no token sealed before opens'
      : `${dbPath} is ${what} beside ${keyFile}: ${lost}${restore}to start an empty ledger instead, move ` +
          `${KEY_FILE} away too, so that no token sealed before opens`,
  );
}

/**
 * Adds a new signing key to the data directory's key file (rotation); old keys keep opening tokens.
 * Answers the new key's id: the one after the highest listed, else (past 255) the lowest not
 * listed; throws a {@link KeyFileError} when every id is listed. Without a key file (a directory
 * not yet served, or whose file was lost) it makes one holding a single fresh key, as a first
 * start does, and answers its id. The file is read, added to and written back holding the key
 * file's lock (see `whileWritingKeyFile`): a rotation or a first start side by side waits for it,
 * then reads the keys written, rather than write over them.
 */
export function rotateKeyFile(dataDir: string): number {
  const path = join(dataDir, KEY_FILE);
  const then = 'then rotate again; the keys it holds are unchanged';
  return whileWritingKeyFile(dataDir, then, () => {
    if (!existsSync(path)) {
      write(path, [{ id: 1, key: generateKey() }], then);
      return 1;
    }
    const entries = readKeyFile(path);
    const id = newKeyId(path, new Set(entries.map((entry) => entry.id)));
    entries.push({ id, key: generateKey() });
    write(path, entries, then);
    return id;
  });
}

/**
 * The id of a new key: the one after the highest listed, so that ids grow with each rotation;
 * past the last, the lowest id not listed (never used, or a retired key's, whose tokens open no
 * more: a token sealed with the retired key fails to open with the new one).
 */
function newKeyId(path: string, listed: ReadonlySet<number>): number {
  const next = Math.max(...listed) + 1;
  if (next <= MAX_KEY_ID) return next;
  for (let id = 0; id <= MAX_KEY_ID; id++) if (!listed.has(id)) return id;
  throw new KeyFileError(
    `${path} lists a key under every id from 0 to ${MAX_KEY_ID}, so no new key can be added: retire old ` +
      'keys first (delete from it the keys of tokens no longer fired, never the last one, which signs), then rotate again',
  );
}

function keyFileEntries(path: string, memory: KeyFileMemory): { id: number; key: Buffer }[] {
  if (!existsSync(path) && memory.known()) {
    throw new KeyFileError(
      `${path} is missing, but this data directory's ledger (tally.db) had one: the tokens in flight were sealed with its keys, and new keys would make every one of their notices invalid_token. ` +
        'Restore the file from a backup of this data directory; or, to seal tokens with a new key from now on, run `tally rotate-token-key`',
    );
  }
  const entries = readOrCreate(dirname(path), path);
  memory.remember();
  return entries;
}

function readOrCreate(dataDir: string, path: string): { id: number; key: Buffer }[] {
  // A file is replaced whole (renamed over), so read as it is, even while a rotation writes it.
  if (existsSync(path)) return readKeyFile(path);
  const then = 'then start again';
  return whileWritingKeyFile(dataDir, then, () => {
    // Where another process (a rotation) made the file meanwhile, its keys are read.
    if (existsSync(path)) return readKeyFile(path);
    const made = [{ id: 1, key: generateKey() }];
    write(path, made, then);
    return made;
  });
}

/** The lock file serialising the writers of the key file, beside it. */
const KEY_FILE_LOCK = 'token-keys.lock';

/**
 * How long a writer of the key file waits for another one's hold of its lock: a rotation or a
 * first start holds it for the few milliseconds it takes to read, add to and sync the file.
 */
const KEY_FILE_LOCK_WAIT_MS = 2000;

/**
 * Runs `write` holding the data directory's key file lock, `token-keys.lock`, and answers what it
 * answers: each process that writes the key file (`tally rotate-token-key`, a first start making
 * it) reads it and writes it back under that lock, so that none writes over a key another added
 * meanwhile (two rotations side by side would each add a key under the same id, and the tokens the
 * lost one sealed would never open), and the file is made only where there is none. Throws a
 * {@link KeyFileError} ending with `then` when the lock cannot be made or is held past the wait.
 */
function whileWritingKeyFile<T>(dataDir: string, then: string, write: () => T): T {
  const lockPath = join(dataDir, KEY_FILE_LOCK);
  try {
    return withFileLock(lockPath, KEY_FILE_LOCK_WAIT_MS, write);
  } catch (error) {
    if (error instanceof FileLockBusyError) {
      throw new KeyFileError(
        `${lockPath} was held for over ${KEY_FILE_LOCK_WAIT_MS / 1000} s by another process writing ` +
          `${join(dataDir, KEY_FILE)} (a tally rotate-token-key, or a Tally's first start), stalled: nothing ` +
          `was written; stop that process (fuser ${lockPath} names it), ${then}`,
      );
    }
    // The key file's errors are said by now; one with a code left is the lock file's, which this
    // process may not make or open (another user's, in a directory it may not write).
    throw unwritableKeyFile(lockPath, error, then);
  }
}

function readKeyFile(path: string): { id: number; key: Buffer }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = errorCode(error);
    if (code === undefined) throw error;
    throw new KeyFileError(
      `${path} cannot be read ${UNREADABLE_BECAUSE[code] ?? `(${code}): it must be the key file Tally made, which this process may read; restore it from a backup`}`,
    );
  }
  return parseKeyFile(path, text);
}

/**
 * What to do about a key file the file system refuses to read, by its error code (another
 * user's file, a directory in its place, a failing disk): said in one line rather than as a
 * stack trace.
 */
const UNREADABLE_BECAUSE: Readonly<Record<string, string>> = {
  EACCES: 'or written by this process (EACCES): run Tally as the user owning the data directory',
  EPERM: 'or written by this process (EPERM): run Tally as the user owning the data directory',
  EISDIR:
    '(EISDIR): it is a directory, not the key file Tally made; move the directory away and put the key ' +
    'file back from a backup (tokens sealed with a lost key never count)',
  EIO: '(EIO): the disk failed; check it, then restore the file from a backup if it is damaged',
};

/**
 * What to do about a key file the file system refuses to write, by its error code (a full disk,
 * a read-only volume, another user's directory): said in one line rather than as a stack trace.
 */
const UNWRITABLE_BECAUSE: Readonly<Record<string, string>> = {
  EACCES: 'by this process (EACCES): run Tally as the user owning the data directory',
  EPERM: 'by this process (EPERM): run Tally as the user owning the data directory',
  EROFS: '(EROFS): its volume is mounted read-only; mount it read-write',
  ENOSPC: '(ENOSPC): its disk is full; free space on it',
  EDQUOT: "(EDQUOT): its user's disk quota is used up; free space or raise the quota",
  EFBIG: '(EFBIG): this process may not write a file so large (ulimit -f); raise the limit',
  EIO: '(EIO): the disk failed; check it',
  ELOOP:
    '(ELOOP): a symbolic link is in its place, which Tally does not follow; remove the link (Tally makes the file itself)',
};

/**
 * `error`, thrown writing the key file at `path`, as a {@link KeyFileError} saying why and what
 * to do, ending with `then`; an error of no code listed is `error` itself.
 */
function unwritableKeyFile(path: string, error: unknown, then: string): unknown {
  const because = UNWRITABLE_BECAUSE[errorCode(error) ?? ''];
  return because === undefined ? error : new KeyFileError(`${path} cannot be written ${because}, ${then}`);
}

/**
 * The data directory's key file is not one Tally can use (edited by hand, damaged): Tally stops
 * rather than start with fewer keys (their tokens' notices could never count) or new ones. Also
 * thrown by a rotation that finds no key id left. The message, one line, says what to do.
 */
export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

/** The {@link KeyFileError} of a key file that `problem` makes unusable. */
function damagedKeyFile(path: string, problem: string): KeyFileError {
  return new KeyFileError(
    `${path} ${problem}: it must be {"keys": [{"id": <0-255>, "key": "<32-byte key in base64>"}…]}, ` +
      'each id once, the signing key last; restore it from a backup (tokens sealed with a lost key never count)',
  );
}

function parseKeyFile(path: string, text: string): { id: number; key: Buffer }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw damagedKeyFile(path, 'is not JSON');
  }
  const listed = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(listed) || listed.length === 0) throw damagedKeyFile(path, 'lists no keys');
  const entries: { id: number; key: Buffer }[] = [];
  for (const entry of listed as unknown[]) {
    const { id, key } = (entry ?? {}) as { id?: unknown; key?: unknown };
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_KEY_ID) {
      throw damagedKeyFile(path, `has a key whose id ${JSON.stringify(id)} is not an integer 0-255`);
    }
    const decoded =
      typeof key === 'string' ? decodeBase64(key, `key ${id}`, KEY_BYTES) : { problem: 'not a string' };
    if ('problem' in decoded)
      throw damagedKeyFile(path, `has a key ${id} that is not 32 bytes in base64 (${decoded.problem})`);
    if (entries.some((other) => other.id === id)) throw damagedKeyFile(path, `lists key id ${id} twice`);
    entries.push({ id, key: decoded.bytes });
  }
  return entries;
}

/**
 * Writes the key file whole or not at all, and durably: every token in flight was sealed with one
 * of these keys, so a file truncated by a failed write (a full disk during rotation) or lost with
 * the page cache (a power cut after the first start) would leave none of their notices able to
 * count. A write the file system refuses throws a {@link KeyFileError} saying why, ending with
 * `then`. Called holding the key file's lock alone (see `whileWritingKeyFile`).
 */
function write(path: string, entries: { id: number; key: Buffer }[], then: string): void {
  try {
    replaceFileDurably(path, keyFileText(entries), 0o600);
  } catch (error) {
    throw unwritableKeyFile(path, error, then);
  }
}

/** The key file holding `entries`, as Tally writes it. */
function keyFileText(entries: { id: number; key: Buffer }[]): string {
  const text = JSON.stringify(
    { keys: entries.map((entry) => ({ id: entry.id, key: entry.key.toString('base64') })) },
    null,
    2,
  );
  return `${text}\n`;
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyRing } from './domain/token.js';
import { generateKey } from './domain/token.js';
import { replaceFileDurably } from './lib/durable-file.js';

const KEY_FILE = 'token-keys.json';

/**
 * The token key ring: the configured keys, else the data directory's `token-keys.json`,
 * created with one fresh key on first start. The last key listed signs; all of them open.
 */
export function loadKeyRing(dataDir: string, configured: { id: number; key: Buffer }[] | undefined): KeyRing {
  const entries = configured ?? readOrCreate(join(dataDir, KEY_FILE));
  const last = entries.at(-1);
  if (last === undefined) throw new Error('the token key ring is empty');
  return { signingKeyId: last.id, keys: new Map(entries.map((entry) => [entry.id, entry.key])) };
}

/** Adds a new signing key to the data directory's key file (rotation); old keys keep opening tokens. */
export function rotateKeyFile(dataDir: string): number {
  const path = join(dataDir, KEY_FILE);
  const entries = readOrCreate(path);
  const id = Math.max(...entries.map((entry) => entry.id)) + 1;
  if (id > 255) throw new Error('key ids are 0-255; retire old keys from token-keys.json first');
  entries.push({ id, key: generateKey() });
  write(path, entries);
  return id;
}

function readOrCreate(path: string): { id: number; key: Buffer }[] {
  if (!existsSync(path)) {
    const entries = [{ id: 1, key: generateKey() }];
    write(path, entries);
    return entries;
  }
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { keys: { id: number; key: string }[] };
  return parsed.keys.map((entry) => ({ id: entry.id, key: Buffer.from(entry.key, 'base64') }));
}

/**
 * Writes the key file whole or not at all, and durably: every token in flight was sealed with one
 * of these keys, so a file truncated by a failed write (a full disk during rotation) or lost with
 * the page cache (a power cut after the first start) would leave none of their notices able to count.
 */
function write(path: string, entries: { id: number; key: Buffer }[]): void {
  const text = JSON.stringify(
    { keys: entries.map((entry) => ({ id: entry.id, key: entry.key.toString('base64') })) },
    null,
    2,
  );
  replaceFileDurably(path, `${text}\n`, 0o600);
}

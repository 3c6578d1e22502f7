import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyFileError, loadKeyRing, rotateKeyFile } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = Buffer.alloc(32, 7).toString('base64');

/** A new data directory whose key file holds `text`. */
function dataDirWith(text: string): string {
  const dataDir = mkdtempSync(join(dir, 'damaged-'));
  writeFileSync(join(dataDir, 'token-keys.json'), text);
  return dataDir;
}

describe('the token key file', () => {
  it('creates one key on first use and adds a signing key on rotation, keeping the old one', () => {
    const dataDir = mkdtempSync(join(dir, 'fresh-'));
    const first = loadKeyRing(dataDir, undefined);
    assert.equal(first.signingKeyId, 1);
    assert.equal(rotateKeyFile(dataDir), 2);
    const rotated = loadKeyRing(dataDir, undefined);
    assert.equal(rotated.signingKeyId, 2);
    assert.deepEqual(rotated.keys.get(1), first.keys.get(1));
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
        () => loadKeyRing(dataDir, undefined),
        (error: unknown) => error instanceof KeyFileError && message.test(error.message),
      );
      assert.throws(() => rotateKeyFile(dataDir), KeyFileError);
      assert.equal(readFileSync(join(dataDir, 'token-keys.json'), 'utf8'), text);
    });
  }
});

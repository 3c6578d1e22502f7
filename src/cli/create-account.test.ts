import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAccountName } from './create-account.js';

describe('reading the name tally create-account is given', () => {
  it('takes a name beginning with - after --, and --name=<name> or --name <name> whatever it begins with', () => {
    assert.deepEqual(readAccountName(['--', '-Acme']), { ok: true, name: '-Acme' });
    assert.deepEqual(readAccountName(['--', '--']), { ok: true, name: '--' });
    assert.deepEqual(readAccountName(['--name=-Acme']), { ok: true, name: '-Acme' });
    assert.deepEqual(readAccountName(['--name', '--help']), { ok: true, name: '--help' });
    assert.deepEqual(readAccountName(['--name=a=b']), { ok: true, name: 'a=b' });
    assert.deepEqual(readAccountName(['Acme Media']), { ok: true, name: 'Acme Media' });
    assert.deepEqual(readAccountName(['Acme', '--']), { ok: true, name: 'Acme' });
    assert.deepEqual(readAccountName([]), { ok: true, name: undefined });
    assert.deepEqual(readAccountName(['--']), { ok: true, name: undefined });
  });

  it('refuses an option before --, one merely beginning with --name included, a second name however given, and --name without its value', () => {
    assert.deepEqual(readAccountName(['--help']), { ok: false, error: 'unexpected argument "--help"' });
    assert.deepEqual(readAccountName(['-Acme']), { ok: false, error: 'unexpected argument "-Acme"' });
    assert.deepEqual(readAccountName(['--nam=x']), { ok: false, error: 'unexpected argument "--nam=x"' });
    assert.deepEqual(readAccountName(['--names=x']), { ok: false, error: 'unexpected argument "--names=x"' });
    assert.deepEqual(readAccountName(['--namex']), { ok: false, error: 'unexpected argument "--namex"' });
    assert.deepEqual(readAccountName(['a', '--', 'b']), { ok: false, error: 'unexpected argument "b"' });
    assert.deepEqual(readAccountName(['--name=a', 'b']), { ok: false, error: 'unexpected argument "b"' });
    assert.deepEqual(readAccountName(['a', '--name', 'b']), {
      ok: false,
      error: 'unexpected argument "--name"',
    });
    assert.deepEqual(readAccountName(['a', '--name']), {
      ok: false,
      error: '--name needs a value: --name=<name>',
    });
  });

  it('refuses, naming it, a name given that is blank, too long or holds a control character', () => {
    const refusal = (name: string) =>
      `${JSON.stringify(name)} is no account name: give 1 to 255 characters, not all spaces or invisible ones, without control characters or line breaks`;
    assert.deepEqual(readAccountName(['  ']), { ok: false, error: refusal('  ') });
    assert.deepEqual(readAccountName(['--name=']), { ok: false, error: refusal('') });
    assert.deepEqual(readAccountName(['Acme\tMedia']), { ok: false, error: refusal('Acme\tMedia') });
    assert.deepEqual(readAccountName(['--', 'x'.repeat(256)]), {
      ok: false,
      error: refusal('x'.repeat(256)),
    });
    assert.deepEqual(readAccountName([' Acme ']), { ok: true, name: ' Acme ' });
  });

  it('refuses a name with nothing visible or holding U+2028, showing those characters escaped, in one line', () => {
    const refusal = (written: string) =>
      `${written} is no account name: give 1 to 255 characters, not all spaces or invisible ones, without control characters or line breaks`;
    // Written raw, U+2028 would break the one line an error is, and a zero-width space read as "".
    assert.deepEqual(readAccountName(['Acme\u2028Media']), {
      ok: false,
      error: refusal('"Acme\\u2028Media"'),
    });
    assert.deepEqual(readAccountName(['\u200b']), { ok: false, error: refusal('"\\u200b"') });
    assert.deepEqual(readAccountName(['\u202eAcme']), { ok: true, name: '\u202eAcme' });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { declaredForeignCharset, firstNonAsciiOffset, readsAsciiOtherwise } from './body-encoding.js';

describe('the charset a JSON body is declared in', () => {
  it('reads the charset parameter by any case of its name, a token without the spaces around it, a quoted one with its backslash escapes undone', () => {
    assert.equal(declaredForeignCharset('application/json; CHARSET=UTF-16'), 'UTF-16');
    assert.equal(declaredForeignCharset('application/json; Charset=latin1'), 'latin1');
    assert.equal(declaredForeignCharset('application/json; charset=utf-8 ; q=1'), undefined);
    assert.equal(declaredForeignCharset('application/json; charset=latin1 ; q=1'), 'latin1');
    assert.equal(declaredForeignCharset('application/json; charset="utf\\-8"'), undefined);
    assert.equal(declaredForeignCharset('application/json; charset="utf\\-16"'), 'utf-16');
  });

  it('takes an empty charset for none, as if it were not there', () => {
    assert.equal(declaredForeignCharset('application/json; charset='), undefined);
    assert.equal(declaredForeignCharset('application/json; charset=""'), undefined);
  });

  it('names a charset other than UTF-8 declared after a UTF-8 one', () => {
    assert.equal(declaredForeignCharset('application/json; charset=utf-8; charset=utf-16'), 'utf-16');
  });

  it('reads a quoted parameter value whole, a ; in it included: a charset= inside it is no charset', () => {
    assert.equal(declaredForeignCharset('application/json; note="a;charset=utf-16"'), undefined);
    assert.equal(
      declaredForeignCharset('application/json; note="a;charset=utf-16"; charset=latin1'),
      'latin1',
    );
  });
});

describe('charsets in which ASCII does not read as itself', () => {
  it('knows UTF-16 and UTF-32 by their labels with or without a dash, in any case', () => {
    for (const charset of [
      'utf16',
      'UTF32LE',
      'utf-16be',
      'UCS2',
      'iso-10646-ucs-4',
      'csUnicode',
      'unicodeFFFE',
    ]) {
      assert.equal(readsAsciiOtherwise(charset), true, charset);
    }
  });

  it('knows the 7-bit encodings that shift out of ASCII with ASCII bytes: UTF-7, HZ and ISO-2022', () => {
    for (const charset of [
      'UTF-7',
      'utf7',
      'csUTF7',
      'unicode-1-1-utf-7',
      'csUnicode11UTF7',
      'HZ-GB-2312',
      'ISO-2022-JP',
      'iso-2022-jp-2',
      'csISO2022JP',
      'csISO2022JP2',
      'ISO-2022-KR',
      'csISO2022KR',
      'iso-2022-cn-ext',
    ]) {
      assert.equal(readsAsciiOtherwise(charset), true, charset);
    }
  });

  it('takes a label only whole: one holding such a label in a longer name is not it', () => {
    // csUnicode11UTF8 and unicode-1-1-utf-8 name UTF-8; x-utf-16-ish names nothing Tally knows.
    for (const charset of [
      'csUnicode11UTF8',
      'unicode-1-1-utf-8',
      'x-utf-16-ish',
      'x-utf-7-ish',
      'x-utf-7',
      'utf-7-ish',
      'utf-8',
      'latin1',
    ]) {
      assert.equal(readsAsciiOtherwise(charset), false, charset);
    }
  });
});

describe('the first byte beyond ASCII', () => {
  it('is the first of 0x80 and above: DEL (0x7F) is ASCII', () => {
    assert.equal(firstNonAsciiOffset(Uint8Array.from([0x7b, 0x7f, 0x80, 0xff])), 2);
    assert.equal(firstNonAsciiOffset(Uint8Array.from([0x7b, 0x7f, 0x7d])), -1);
    assert.equal(firstNonAsciiOffset(new Uint8Array()), -1);
  });
});

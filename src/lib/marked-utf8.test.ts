import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeMarkingBadBytes, hasMarkedBytes, markedByteIn } from './marked-utf8.js';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));

describe('decoding UTF-8 with the bytes that are no character marked', () => {
  it('reads well-formed UTF-8 as TextDecoder does, dropping only a byte order mark that begins it', () => {
    const text = 'a é € 😀 \u{10ffff} \ufeff';
    assert.equal(decodeMarkingBadBytes(bytes(text)), text);
    assert.equal(decodeMarkingBadBytes(bytes([0xef, 0xbb, 0xbf], text)), text);
    assert.equal(hasMarkedBytes(decodeMarkingBadBytes(bytes(text))), false);
  });

  it('marks each byte of an overlong form, a surrogate, a code point past U+10FFFF, a cut or stray sequence, and reads the rest', () => {
    const cases: [Uint8Array, number[]][] = [
      [bytes('caf', [0xe9], ' au lait'), [0xe9]],
      [bytes('x', [0xc0, 0xaf], 'y'), [0xc0, 0xaf]],
      [bytes('x', [0xe0, 0x80, 0xaf]), [0xe0, 0x80, 0xaf]],
      [bytes('x', [0xed, 0xa0, 0x80]), [0xed, 0xa0, 0x80]],
      [bytes('x', [0xf4, 0x90, 0x80, 0x80]), [0xf4, 0x90, 0x80, 0x80]],
      [bytes('x', [0xe2, 0x82], 'y'), [0xe2, 0x82]],
      [bytes('x', [0x80, 0xff]), [0x80, 0xff]],
    ];
    for (const [input, bad] of cases) {
      const text = decodeMarkingBadBytes(input);
      const kept = text.replace(/[\u{DC80}-\u{DCFF}]/gu, '');
      assert.deepEqual(
        [...text]
          .filter((char) => /[\u{DC80}-\u{DCFF}]/u.test(char))
          .map((char) => char.charCodeAt(0) - 0xdc00),
        bad,
        String(input),
      );
      assert.equal(hasMarkedBytes(text), true);
      assert.equal(
        Buffer.from(kept).toString(),
        Buffer.from(input.filter((byte) => !bad.includes(byte))).toString(),
      );
    }
    assert.deepEqual(markedByteIn(decodeMarkingBadBytes(bytes('<p>caf', [0xe9], '</p>'))), {
      byte: 0xe9,
      before: '<p>caf',
    });
  });

  it('takes no escaped surrogate for a marked byte: a lone high one or one paired in a character', () => {
    assert.equal(markedByteIn('x\ud800y'), undefined);
    assert.equal(markedByteIn('\u{10080}'), undefined);
    assert.equal(markedByteIn('é'), undefined);
  });
  it('gives any bytes back: the marks as their bytes and the rest as UTF-8, marking none where TextDecoder reads them all', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    // Bytes around every boundary of Unicode's table 3-7, so that most sequences are near-misses.
    const edgeByte = fc.constantFrom(
      0x00,
      0x41,
      0x7f,
      0x80,
      0x8f,
      0x90,
      0x9f,
      0xa0,
      0xbf,
      0xc0,
      0xc1,
      0xc2,
      0xdf,
      0xe0,
      0xe1,
      0xec,
      0xed,
      0xee,
      0xef,
      0xf0,
      0xf1,
      0xf3,
      0xf4,
      0xf5,
      0xff,
    );
    fc.assert(
      fc.property(fc.array(edgeByte, { maxLength: 12 }), (values) => {
        // A leading byte order mark is dropped by design: start with another byte.
        const input = Uint8Array.from([0x41, ...values]);
        const text = decodeMarkingBadBytes(input);
        const back = Buffer.concat(
          Array.from(text.matchAll(/[\u{DC80}-\u{DCFF}]|[^\u{DC80}-\u{DCFF}]+/gu), ([part]) =>
            hasMarkedBytes(part) ? Buffer.from([part.charCodeAt(0) - 0xdc00]) : Buffer.from(part),
          ),
        );
        assert.deepEqual([...back], [...input]);
        let wellFormed = true;
        try {
          fatal.decode(input);
        } catch {
          wellFormed = false;
        }
        assert.equal(hasMarkedBytes(text), !wellFormed, `bytes ${Buffer.from(input).toString('hex')}`);
      }),
      { numRuns: 5000 },
    );
  });
});

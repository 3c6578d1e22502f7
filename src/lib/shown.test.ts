import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonKind, shown, shownName, shownSent } from './shown.js';

describe('a value as an error message repeats it', () => {
  it('repeats short values as JSON and cuts long ones, saying how long they were', () => {
    assert.equal(shown('abc'), '"abc"');
    assert.equal(shown(undefined), 'undefined');
    assert.equal(shown('x'.repeat(100)), `"${'x'.repeat(63)}… (100 characters)`);
  });

  it('names what was sent instead: a number, boolean or null as itself, anything else with its kind', () => {
    assert.deepEqual([1.5, true, null, 'usd', ['USD'], { a: 1 }].map(shownSent), [
      '1.5',
      'true',
      'null',
      'a string ("usd")',
      'an array (["USD"])',
      'an object ({"a":1})',
    ]);
  });

  it('says how long a cut string is in characters as a reader counts them, and other values in characters of JSON', () => {
    assert.match(shown('😀'.repeat(40)), /… \(40 characters\)$/);
    assert.match(shown({ a: 'x'.repeat(100) }), /… \(108 characters of JSON\)$/);
  });

  it('never cuts a character made of two UTF-16 units in half', () => {
    // The quote, 62 x and an emoji's first unit would be the first 64 units.
    const cut = shown(`${'x'.repeat(62)}😀${'y'.repeat(10)}`);
    assert.equal(cut, `"${'x'.repeat(62)}… (73 characters)`);
    assert.equal(shown(`${'x'.repeat(61)}😀${'y'.repeat(10)}`), `"${'x'.repeat(61)}😀… (72 characters)`);
  });

  it('describes a value nested too deeply to stringify instead of throwing', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    assert.equal(shown(deep), 'an array nested too deeply to repeat');
  });

  it('calls a number past the float range out of range, rather than null as JSON would write it', () => {
    assert.equal(shown(JSON.parse('1e400')), 'a number out of range');
    assert.equal(shown(-Infinity), 'a number out of range');
    assert.equal(shown(NaN), 'a number out of range');
  });

  it('describes a whole number past 2^53 - 1, which JSON may have read rounded, rather than repeat a number the caller never sent', () => {
    // 2^53 + 1 reads as 2^53: repeated, the caller would be told of 9007199254740992.
    const rounded = JSON.parse('9007199254740993') as number;
    for (const value of [rounded, -rounded, 1e21 - 2 ** 17]) {
      assert.equal(shown(value), 'a number past 2^53 - 1 in size (JSON readers round it)', String(value));
    }
    assert.equal(
      shown(JSON.parse('[1, 9007199254740993]')),
      'an array holding a number past 2^53 - 1 in size (JSON readers round it)',
    );
    assert.equal(
      shown(JSON.parse('[9007199254740993, 1]')),
      'an array holding a number past 2^53 - 1 in size (JSON readers round it)',
    );
    assert.equal(
      shown(JSON.parse('{"a": {"b": 9007199254740993}}')),
      'an object holding a number past 2^53 - 1 in size (JSON readers round it)',
    );
    // The largest whole numbers JSON holds exactly, fractions, and numbers JSON writes in exponent
    // form, which pass for no digits sent, are repeated as they are.
    assert.equal(shown(9007199254740991), '9007199254740991');
    assert.equal(shown(1e21), '1e+21');
    assert.equal(shown(-1e21), '-1e+21');
    assert.equal(shown([-9007199254740991, 1.5]), '[-9007199254740991,1.5]');
  });

  it('repeats a value whose JSON is exactly 64 characters whole', () => {
    const value = 'x'.repeat(62);
    assert.equal(shown(value), `"${value}"`);
    assert.equal(shown(`${value}y`), `"${value}y… (63 characters)`);
  });

  it('describes an object nested too deeply as an object', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`) as unknown;
    assert.equal(shown(deep), 'an object nested too deeply to repeat');
  });
});

describe('a field name or a value’s kind as an error message says it', () => {
  it('quotes a field name as JSON, cut to 64 characters and an ellipsis when longer', () => {
    assert.equal(shownName('win'), '"win"');
    assert.equal(shownName('a'.repeat(64)), `"${'a'.repeat(64)}"`);
    assert.equal(shownName('a'.repeat(65)), `"${'a'.repeat(64)}…"`);
  });

  it('names the kind of a JSON value with its article', () => {
    assert.deepEqual([null, [], {}, 'x', 1, true].map(jsonKind), [
      'null',
      'an array',
      'an object',
      'a string',
      'a number',
      'a boolean',
    ]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shown } from './shown.js';

describe('a value as an error message repeats it', () => {
  it('repeats short values as JSON and cuts long ones, saying how long they were', () => {
    assert.equal(shown('abc'), '"abc"');
    assert.equal(shown(undefined), 'undefined');
    assert.equal(shown('x'.repeat(100)), `"${'x'.repeat(63)}… (102 characters)`);
  });

  it('describes a value nested too deeply to stringify instead of throwing', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    assert.equal(shown(deep), 'an array nested too deeply to repeat');
  });

  it('repeats a value whose JSON is exactly 64 characters whole', () => {
    const value = 'x'.repeat(62);
    assert.equal(shown(value), `"${value}"`);
    assert.equal(shown(`${value}y`), `"${value}y… (65 characters)`);
  });

  it('describes an object nested too deeply as an object', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`) as unknown;
    assert.equal(shown(deep), 'an object nested too deeply to repeat');
  });
});

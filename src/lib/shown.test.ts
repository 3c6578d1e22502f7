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
});

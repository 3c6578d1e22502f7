import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { errorCode } from './error-code.js';

describe("an error's code", () => {
  it('reads the code of a Node.js error, and none from an error without one or a thrown non-error', () => {
    let thrown: unknown;
    try {
      mkdirSync('/proc/tally-error-code');
    } catch (error) {
      thrown = error;
    }
    assert.equal(errorCode(thrown), 'ENOENT');
    assert.equal(errorCode(new Error('plain')), undefined);
    assert.equal(errorCode(Object.assign(new Error('odd'), { code: 7 })), undefined);
    assert.equal(errorCode(null), undefined);
    assert.equal(errorCode('text'), undefined);
  });
});

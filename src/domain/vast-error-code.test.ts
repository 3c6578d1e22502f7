import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vastErrorCode } from './vast-error-code.js';

/** The code read off a notice's raw query string. */
const codeOf = (query: string) => vastErrorCode(new URLSearchParams(query));

describe('the VAST error code of a vast_error notice', () => {
  it('keeps a code of three digits from 100 to 999 as a number, beside other parameters', () => {
    assert.equal(codeOf('e=303'), 303);
    assert.equal(codeOf('e=100'), 100);
    assert.equal(codeOf('e=999'), 999);
    assert.equal(codeOf('cb=123&e=402&f=b'), 402);
    // A digit written as a percent-escape is that digit.
    assert.equal(codeOf('e=%34%30%31'), 401);
  });

  it('keeps no code when the query has no e, or an empty one', () => {
    assert.equal(codeOf(''), null);
    assert.equal(codeOf('cb=1'), null);
    assert.equal(codeOf('e='), null);
    assert.equal(codeOf('e'), null);
  });

  it('keeps no code when the player left the macro unreplaced, as written or percent-escaped', () => {
    assert.equal(codeOf('e=[ERRORCODE]'), null);
    assert.equal(codeOf('e=%5BERRORCODE%5D'), null);
    assert.equal(codeOf('e=%5Berrorcode%5D'), null);
  });

  it('keeps no code for anything but digits: letters, a sign, spaces, a fraction, an exponent', () => {
    for (const value of ['abc', '30a', '+303', '-303', '%20303', '303+', '303.0', '3e2', '0x12C', '３０３']) {
      assert.equal(codeOf(`e=${value}`), null, value);
    }
  });

  it('keeps no code out of 100 to 999: fewer or more digits, or a leading zero', () => {
    for (const value of ['0', '42', '099', '000', '1000', '0303', '99999999999999999999']) {
      assert.equal(codeOf(`e=${value}`), null, value);
    }
  });

  it('keeps no code when e is given more than once, even twice the same', () => {
    assert.equal(codeOf('e=303&e=402'), null);
    assert.equal(codeOf('e=303&e=303'), null);
    assert.equal(codeOf('e=303&e=[ERRORCODE]'), null);
  });

  it('never throws, whatever the query holds', () => {
    for (const query of ['e=%', 'e=%E0%A4%A', '%%%&e=%zz', 'e=\u0000', '&&&=&e==303']) {
      assert.equal(codeOf(query), null, query);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withPrefixDecoded } from './target-prefix.js';

describe('a request target’s prefix with escaped unreserved characters', () => {
  it('decodes the escapes of unreserved characters in the first path segment, either case of hex', () => {
    assert.equal(withPrefixDecoded('/%6E/tok'), '/n/tok');
    assert.equal(withPrefixDecoded('/%6e/tok?f=b'), '/n/tok?f=b');
    assert.equal(withPrefixDecoded('/%69mp%74r?id=5&cachebuster=1'), '/imptr?id=5&cachebuster=1');
    assert.equal(withPrefixDecoded('/%63lktr'), '/clktr');
    assert.equal(withPrefixDecoded('/%41%7A%30%2D%2E%5F%7E/x'), '/Az0-._~/x');
  });

  it('leaves an escape of any other character, the rest of the target, and a target in another form as sent', () => {
    // A slash escaped is data, not a separator: /n%2Ftok is not /n/tok.
    assert.equal(withPrefixDecoded('/n%2Ftok'), '/n%2Ftok');
    assert.equal(withPrefixDecoded('/%6E%3F/x'), '/n%3F/x');
    assert.equal(withPrefixDecoded('/n/%6E%2D'), '/n/%6E%2D', 'the token is read by noticeTarget');
    assert.equal(withPrefixDecoded('/imptr?id=%35'), '/imptr?id=%35');
    assert.equal(withPrefixDecoded('/%6/x'), '/%6/x', 'no escape');
    assert.equal(withPrefixDecoded('/%C3%A9/x'), '/%C3%A9/x');
    assert.equal(withPrefixDecoded('http://tally.test/%6E/x'), 'http://tally.test/%6E/x');
    assert.equal(withPrefixDecoded('*'), '*');
    assert.equal(withPrefixDecoded(''), '');
  });
});

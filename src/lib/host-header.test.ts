import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostHeaderProblem, isValidHost } from './host-header.js';

describe('the Host header', () => {
  it('takes names, IPv4 and bracketed IPv6 addresses, with or without a port, and empty, as valid', () => {
    for (const host of [
      'tally.test',
      'tally.test:8080',
      '127.0.0.1:80',
      '[::1]',
      '[2001:db8::1]:443',
      'xn--bcher-kva.example',
      '',
    ]) {
      assert.equal(isValidHost(host), true, host);
    }
  });

  it('takes white space, a path, a user or a second colon-less part for no host', () => {
    for (const host of [
      'a b',
      'tally.test/n',
      'user@tally.test',
      'tally.test:80:90',
      'tally.test:x',
      '[::1',
      'a\tb',
    ]) {
      assert.equal(isValidHost(host), false, host);
    }
  });

  it('says what is wrong: none on HTTP/1.1, more than one, or one that is no host; nothing for one valid, or none on HTTP/1.0', () => {
    assert.match(hostHeaderProblem([], '1.1') ?? '', /has no Host header/);
    assert.equal(hostHeaderProblem([], '1.0'), undefined);
    assert.match(hostHeaderProblem(['Host', 'a', 'host', 'b'], '1.0') ?? '', /has 2 Host headers/);
    assert.match(hostHeaderProblem(['HOST', 'a b'], '1.1') ?? '', /"a b" is no host/);
    assert.equal(hostHeaderProblem(['User-Agent', 'x', 'Host', ' tally.test:8080 '], '1.1'), undefined);
  });
});

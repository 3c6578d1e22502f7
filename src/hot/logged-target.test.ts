import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loggedTarget } from './logged-target.js';

describe('a request target as a log line shows it', () => {
  it('keeps the path and the names of the query parameters, writing each value ***, and a name without a value *** too', () => {
    assert.equal(loggedTarget('/imptr?id=5&cachebuster=x1&t=2'), '/imptr?id=***&cachebuster=***&t=***');
    assert.equal(loggedTarget('/clktr?id=5&jane.doe@example.com&=v'), '/clktr?id=***&***&=***');
  });

  it("writes redir=*** for the landing URL and all that follows it, read as the landing URL's own query", () => {
    assert.equal(
      loggedTarget('/clktr?id=5&redir=https://user:pass@adv.example/?a=1&jane.doe@example.com&t=secret'),
      '/clktr?id=***&redir=***',
    );
    assert.equal(loggedTarget('/n/AbC-token'), '/n/***');
    assert.equal(loggedTarget('/n/AbC-token?'), '/n/***?');
  });

  it('writes *** for every path segment after the first, so that a notice token is never logged, in origin and absolute form alike', () => {
    assert.equal(loggedTarget('/n/AbC-token?f=b'), '/n/***?f=***');
    assert.equal(loggedTarget('/n/AbC-token/&cb=1'), '/n/***');
    assert.equal(loggedTarget('/v1/../n/AbC-token'), '/v1/***');
    assert.equal(loggedTarget('http://tally.example/n/AbC-token?x=1'), 'http://tally.example/n/***?x=***');
    assert.equal(loggedTarget('http://tally.example'), 'http://tally.example');
    assert.equal(loggedTarget('/imptr'), '/imptr');
  });

  it('writes the user name and password of an absolute-form target ***, as other log lines do', () => {
    assert.equal(
      loggedTarget('http://user:pass@tally.example/imptr?id=5&token=abc'),
      'http://***@tally.example/imptr?id=***&token=***',
    );
  });
});

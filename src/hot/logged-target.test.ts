import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loggedTarget } from './logged-target.js';

describe('a request target as a log line shows it', () => {
  it('keeps the path and the names of the query parameters, writing each value ***', () => {
    assert.equal(
      loggedTarget('/imptr?id=5&cachebuster=x1&redir=https://user:pass@adv.example/?a=1&t=secret'),
      '/imptr?id=***&cachebuster=***&redir=***&t=***',
    );
    assert.equal(loggedTarget('/clktr?id=5&flag&=v'), '/clktr?id=***&flag&=***');
    assert.equal(loggedTarget('/n/AbC-token'), '/n/AbC-token');
    assert.equal(loggedTarget('/n/AbC-token?'), '/n/AbC-token?');
  });

  it('writes the user name and password of an absolute-form target ***, as other log lines do', () => {
    assert.equal(
      loggedTarget('http://user:pass@tally.example/imptr?id=5&token=abc'),
      'http://***@tally.example/imptr?id=***&token=***',
    );
  });
});

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

import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { PIXEL, sendAnswerOf } from './notice-answer.js';

describe('sendAnswerOf', () => {
  it('neither serves nor records a notice whose connection is gone, its peer address unknown to the IP rules', async () => {
    // Fault injection: a socket with no peer, as node:http's is once the client reset it.
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    const res = new ServerResponse(req);
    let served = 0;
    await sendAnswerOf(req, res, (done) => {
      served++;
      done(PIXEL);
    });
    assert.equal(served, 0);
    assert.equal(res.destroyed, true);
  });
});

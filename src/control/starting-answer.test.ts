import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { answerWhileStarting } from './starting-answer.js';

const server = createServer(answerWhileStarting);
let port = 0;

before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends `method target` and reads its status, its code (`error.code` or `status`) and `Retry-After`. */
function ask(method: string, target: string): Promise<{ status: number; said: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: target, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const body = text === '' ? {} : (JSON.parse(text) as { status?: string; error?: { code: string } });
        resolve({
          status: res.statusCode ?? 0,
          said: body.error?.code ?? body.status ?? '',
          ...(res.headers['retry-after'] === undefined ? {} : { retryAfter: res.headers['retry-after'] }),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the answers while Tally starts', () => {
  it('answers GET and HEAD /healthz 200 starting, whatever query it has', async () => {
    assert.deepEqual(await ask('GET', '/healthz?probe=1'), { status: 200, said: 'starting' });
    assert.deepEqual(await ask('HEAD', '/healthz'), { status: 200, said: '' });
  });

  it('answers /readyz 503 UNAVAILABLE, as when Tally is not ready', async () => {
    assert.deepEqual(await ask('GET', '/readyz'), { status: 503, said: 'UNAVAILABLE', retryAfter: '1' });
  });

  it('answers any other request 503 STARTING, to send again: a write to /healthz, a notice, an API call', async () => {
    for (const [method, target] of [
      ['POST', '/healthz'],
      ['GET', '/n/token'],
      ['POST', '/v1/wins'],
      ['GET', '/%zz'],
    ] as const)
      assert.deepEqual(
        await ask(method, target),
        { status: 503, said: 'STARTING', retryAfter: '1' },
        `${method} ${target}`,
      );
  });
});

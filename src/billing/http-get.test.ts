import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpGet, MAX_REDIRECTS } from './http-get.js';

/**
 * A local server: `/ok` answers 200, `/to?url=` redirects there, `/loop` redirects to itself,
 * `/hang` never answers; `/ok-trickle` answers 200 and then a body that never ends, a byte at a
 * time, and `/ok-flood` one that never ends either, as fast as the connection takes it.
 */
let server: Server;
let base: string;
const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
/** Body bytes `/ok-flood` has written so far. */
let floodedBytes = 0;

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    seen.push({ path: url.pathname, headers: req.headers });
    if (url.pathname === '/to') res.writeHead(302, { Location: url.searchParams.get('url') ?? '/' }).end();
    else if (url.pathname === '/loop') res.writeHead(307, { Location: '/loop' }).end();
    else if (url.pathname === '/ok') res.writeHead(200).end('ok');
    else if (url.pathname === '/hang') req.on('close', () => res.destroy());
    else if (url.pathname === '/ok-trickle') {
      res.writeHead(200).write('x');
      const timer = setInterval(() => res.write('x'), 20);
      res.on('close', () => clearInterval(timer));
    } else if (url.pathname === '/ok-flood') {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const flood = () => {
        while (!res.destroyed) {
          floodedBytes += chunk.length;
          if (!res.write(chunk)) return;
        }
      };
      res.on('drain', flood);
      flood();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const onlyLoopbackOne = (address: string) => address === '127.0.0.1';

describe('GET for the burl relay', () => {
  it('follows redirects to the final answer, sending the device headers on every hop', async () => {
    seen.length = 0;
    const result = await httpGet(
      `${base}/to?url=/ok`,
      { 'X-Device-IP': '203.0.113.9' },
      2000,
      onlyLoopbackOne,
    );
    assert.deepEqual(result, { status: 200 });
    assert.deepEqual(
      seen.map((hit) => [hit.path, hit.headers['x-device-ip']]),
      [
        ['/to', '203.0.113.9'],
        ['/ok', '203.0.113.9'],
      ],
    );
  });

  it('refuses an address the policy refuses, for a literal address and for a redirect to one', async () => {
    seen.length = 0;
    const port = (server.address() as AddressInfo).port;
    const direct = await httpGet(`http://127.0.0.2:${port}/ok`, {}, 2000, onlyLoopbackOne);
    assert.deepEqual(direct, {
      error:
        '127.0.0.2 is an address outside the public internet; set TALLY_BURL_PRIVATE_NETWORKS=allow to call such DSP endpoints',
      permanent: true,
    });
    const redirected = await httpGet(`${base}/to?url=http://127.0.0.2:${port}/ok`, {}, 2000, onlyLoopbackOne);
    assert.equal('permanent' in redirected && redirected.permanent, true);
    assert.deepEqual(
      seen.map((hit) => hit.path),
      ['/to'],
      'the refused address was never called',
    );
  });

  it('judges IPv6 literals and numeric IPv4 spellings by the address they name', async () => {
    const port = (server.address() as AddressInfo).port;
    for (const host of ['[::1]', '2130706433', '0x7f.1']) {
      const result = await httpGet(`http://${host}:${port}/ok`, {}, 2000, () => false);
      assert.ok('error' in result && /is an address outside the public internet/.test(result.error), host);
    }
  });

  it('refuses a host name that resolves to a refused address, before connecting', async () => {
    seen.length = 0;
    const port = (server.address() as AddressInfo).port;
    const result = await httpGet(`http://localhost:${port}/ok`, {}, 2000, () => false);
    assert.ok('error' in result && /localhost resolves to .* outside the public internet/.test(result.error));
    assert.equal('permanent' in result && result.permanent, true);
    assert.equal(seen.length, 0);
  });

  it('stops following endless redirects (worth retrying: the DSP may fix them) and gives up on URLs it cannot call', async () => {
    assert.deepEqual(await httpGet(`${base}/loop`, {}, 5000, onlyLoopbackOne), {
      error: `more than ${MAX_REDIRECTS} redirects`,
      permanent: false,
    });
    assert.deepEqual(await httpGet('ftp://dsp.example/bill', {}, 2000, onlyLoopbackOne), {
      error: 'cannot call a ftp: URL',
      permanent: true,
    });
  });

  it('reports a refused connection as a failure worth retrying', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await httpGet(`http://127.0.0.1:${port}/ok`, {}, 2000, onlyLoopbackOne);
    assert.ok('error' in result && /ECONNREFUSED/.test(result.error), JSON.stringify(result));
    assert.equal('permanent' in result && result.permanent, false);
  });

  it('gives up when the whole chain takes longer than its time limit, as a failure worth retrying', async () => {
    const result = await httpGet(`${base}/hang`, {}, 200, onlyLoopbackOne);
    assert.ok('error' in result && /abort|timeout/i.test(result.error), JSON.stringify(result));
    assert.equal('permanent' in result && result.permanent, false);
  });

  it('takes a 2xx as the answer when it arrives, though its body never ends within the time limit', async () => {
    // The DSP has taken the burl: failing the attempt would send it again, and bill it again.
    assert.deepEqual(await httpGet(`${base}/ok-trickle`, {}, 300, onlyLoopbackOne), { status: 200 });
    assert.deepEqual(await httpGet(`${base}/to?url=/ok-trickle`, {}, 300, onlyLoopbackOne), { status: 200 });
  });

  it('reads no more of an endless body than its cap, closing the connection instead of reading to the time limit', async () => {
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    server.once('request', (_req, res: ServerResponse) => res.on('close', closed));
    floodedBytes = 0;
    assert.deepEqual(await httpGet(`${base}/ok-flood`, {}, 3000, onlyLoopbackOne), { status: 200 });
    await connectionClosed;
    // The cap and what the sockets' buffers held: far from what loopback carries in 3 s.
    assert.ok(floodedBytes < 32 * 1024 * 1024, `the DSP wrote ${floodedBytes} bytes before the close`);
  });
});

import assert from 'node:assert/strict';
import { createServer, globalAgent } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { getEventListeners, setMaxListeners } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { DNS_CACHE_SECONDS, DnsCache } from './dns-cache.js';
import { isPublicAddress } from './egress.js';
import { httpGet, MAX_BODY_BYTES, MAX_REDIRECTS } from './http-get.js';
import { tlsFailureText } from './tls-failure.js';
import { makeTestCertificates } from '../../test/support/tls-certificates.js';

/**
 * A local server: `/ok` answers 200, `/to?url=` redirects there (with `&status=`, that redirect
 * status; 302 without), `/chain?n=` redirects n times before its 200, `/no-location` is a 302 with
 * no `Location`, `/bad-location` a 302 to a URL that cannot be read, `/loop` redirects to itself,
 * `/hang` never answers; `/slow-chain?n=` is `/chain` with each answer 150 ms late; `/ok-trickle`
 * answers 200 and then a body that never ends, a byte at a time, and `/ok-flood` one that never
 * ends either, as fast as the connection takes it; `/body?bytes=` answers 200 with a body of that many bytes.
 * Each request's client port is kept, to tell which connection it came on.
 */
let server: Server;
let base: string;
const seen: { path: string; headers: IncomingHttpHeaders; clientPort: number | undefined }[] = [];
/** Body bytes `/ok-flood` has written so far. */
let floodedBytes = 0;

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    seen.push({ path: url.pathname, headers: req.headers, clientPort: req.socket.remotePort });
    const hops = Number(url.searchParams.get('n') ?? 0);
    if (url.pathname === '/to') {
      const status = Number(url.searchParams.get('status') ?? 302);
      res.writeHead(status, { Location: url.searchParams.get('url') ?? '/' }).end();
    } else if (url.pathname === '/chain' && hops > 0)
      res.writeHead(302, { Location: `/chain?n=${hops - 1}` }).end();
    else if (url.pathname === '/chain') res.writeHead(200).end('ok');
    else if (url.pathname === '/no-location') res.writeHead(302).end();
    else if (url.pathname === '/bad-location') res.writeHead(302, { Location: 'http://[' }).end();
    else if (url.pathname === '/loop') res.writeHead(307, { Location: '/loop' }).end();
    else if (url.pathname === '/ok') res.writeHead(200).end('ok');
    else if (url.pathname === '/body')
      res.writeHead(200).end(Buffer.alloc(Number(url.searchParams.get('bytes')), 'x'));
    else if (url.pathname === '/slow-chain')
      setTimeout(() => {
        if (hops > 0) res.writeHead(302, { Location: `/slow-chain?n=${hops - 1}` }).end();
        else res.writeHead(200).end('ok');
      }, 150);
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

/** Waits, a few ms at a time, until `condition` holds; fails after 10 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadlineMs = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadlineMs) assert.fail(`still waiting after 10 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

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
    assert.deepEqual(redirected, {
      error: `127.0.0.2 is an address outside the public internet; set TALLY_BURL_PRIVATE_NETWORKS=allow to call such DSP endpoints (at http://127.0.0.2:${port}/ok, where the burl redirected)`,
      permanent: true,
    });
    assert.deepEqual(
      seen.map((hit) => hit.path),
      ['/to'],
      'the refused address was never called',
    );
  });

  it('refuses a host name any one of whose addresses is refused, though the first is allowed: a connection may go to any of them', async () => {
    seen.length = 0;
    const port = (server.address() as AddressInfo).port;
    const bothLoopbacks = new DnsCache(() =>
      Promise.resolve([
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ]),
    );
    const result = await httpGet(`http://dsp.example:${port}/ok`, {}, 2000, onlyLoopbackOne, bothLoopbacks);
    assert.deepEqual(result, {
      error:
        'dsp.example resolves to 127.0.0.2, outside the public internet; set TALLY_BURL_PRIVATE_NETWORKS=allow to call such DSP endpoints',
      permanent: true,
    });
    assert.equal(seen.length, 0);
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
    assert.ok('error' in result, `refused with an error; got ${JSON.stringify(result)}`);
    assert.match(result.error, /localhost resolves to .* outside the public internet/);
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

  it('gives up for good on a burl on port 0, which Node would call on port 80 instead', async () => {
    const everywhere = () => true;
    assert.deepEqual(await httpGet('http://127.0.0.1:0/bill', {}, 2000, everywhere), {
      error: 'cannot call port 0: http://127.0.0.1:0/bill',
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
    // Where the burl redirected there, the failure names the URL the relay could not reach.
    const redirected = await httpGet(
      `${base}/to?url=http://127.0.0.1:${port}/gone`,
      {},
      2000,
      onlyLoopbackOne,
    );
    assert.deepEqual(redirected, {
      error: `Error: connect ECONNREFUSED 127.0.0.1:${port} (at http://127.0.0.1:${port}/gone, where the burl redirected)`,
      permanent: false,
    });
  });

  it('gives up when the whole chain takes longer than its time limit, as a failure worth retrying', async () => {
    const result = await httpGet(`${base}/hang`, {}, 200, onlyLoopbackOne);
    assert.deepEqual(result, { error: 'no answer within the 200 ms time limit', permanent: false });
  });

  it('ends a call in flight when the relay abandons it, and abandons at once one begun after', async () => {
    const abandoning = new AbortController();
    const call = httpGet(`${base}/hang`, {}, 60_000, onlyLoopbackOne, undefined, abandoning.signal);
    await until(() => seen.at(-1)?.path === '/hang', 'the call to reach the DSP');
    abandoning.abort();
    assert.deepEqual(await call, { error: 'the call was abandoned', permanent: false });
    const later = await httpGet(`${base}/ok`, {}, 60_000, onlyLoopbackOne, undefined, abandoning.signal);
    assert.deepEqual(later, { error: 'the call was abandoned', permanent: false });
  });

  it('stops reading a 2xx body still arriving when the relay abandons its calls, rather than hold a shutdown to the time limit', async () => {
    const abandoning = new AbortController();
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    server.once('request', (_req, res: ServerResponse) => res.on('close', closed));
    const call = httpGet(`${base}/ok-trickle`, {}, 60_000, onlyLoopbackOne, undefined, abandoning.signal);
    assert.deepEqual(await call, { status: 200 });
    abandoning.abort();
    const ended = await Promise.race([
      connectionClosed.then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still reading'), 5_000)),
    ]);
    assert.equal(ended, 'closed');
  });

  it('keeps nothing of a finished call on the signal that abandons calls, which lives as long as the relay', async () => {
    // The relay passes one signal to every call it makes. Combined with each call's time limit by
    // AbortSignal.any, Node kept a record of every call on it for good (nodejs/node#55351, #64476):
    // some 60 bytes a call, gigabytes a day for a relay calling burls by the thousand a second.
    const abandoning = new AbortController();
    // As the relay's: 20 calls in flight follow it at once, past Node's warning at 10.
    setMaxListeners(0, abandoning.signal);
    for (let round = 0; round < 10; round++) {
      const calls = Array.from({ length: 20 }, (_, index) =>
        httpGet(
          `${base}/${index % 2 === 0 ? 'ok' : 'hang'}`,
          {},
          50,
          onlyLoopbackOne,
          undefined,
          abandoning.signal,
        ),
      );
      await Promise.all(calls);
    }
    // A call's answer comes before its body is read: it follows the signal until its body is done.
    await until(() => getEventListeners(abandoning.signal, 'abort').length === 0, 'the bodies to be read');
    // Node's own record of the signals that follow one (its internal `kDependantSignals` set), and
    // the listeners on it: neither may grow by the calls made.
    const dependants = Object.getOwnPropertySymbols(abandoning.signal)
      .filter((symbol) => symbol.description === 'kDependantSignals')
      .map((symbol) => (abandoning.signal as unknown as Record<symbol, Set<unknown>>)[symbol]?.size ?? 0);
    assert.deepEqual(
      {
        dependants: dependants.reduce((sum, size) => sum + size, 0),
        listeners: getEventListeners(abandoning.signal, 'abort').length,
      },
      { dependants: 0, listeners: 0 },
    );
  });

  it('takes a 2xx as the answer when it arrives, though its body never ends within the time limit', async () => {
    // The DSP has taken the burl: failing the attempt would send it again, and bill it again.
    assert.deepEqual(await httpGet(`${base}/ok-trickle`, {}, 1000, onlyLoopbackOne), { status: 200 });
    assert.deepEqual(await httpGet(`${base}/to?url=/ok-trickle`, {}, 1000, onlyLoopbackOne), { status: 200 });
  });

  it('closes the connection of a body one byte longer than its cap, so that the next burl to the DSP takes another', async () => {
    const port = (server.address() as AddressInfo).port;
    const name = globalAgent.getName({ host: '127.0.0.1', port });
    const inUse = (clientPort: number | undefined) =>
      (globalAgent.sockets[name] ?? []).some((socket) => socket.localPort === clientPort);
    seen.length = 0;
    assert.deepEqual(await httpGet(`${base}/body?bytes=${MAX_BODY_BYTES + 1}`, {}, 2000, onlyLoopbackOne), {
      status: 200,
    });
    const clientPort = seen[0]?.clientPort;
    // Its connection is done with, closed or (were its body read to the end) free again.
    await until(() => !inUse(clientPort), 'the connection of the long body to be done with');
    assert.deepEqual(await httpGet(`${base}/ok`, {}, 2000, onlyLoopbackOne), { status: 200 });
    assert.notEqual(seen[1]?.clientPort, clientPort);
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

  it('follows every redirect status (301, 302, 303, 307, 308)', async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      seen.length = 0;
      const result = await httpGet(`${base}/to?status=${status}&url=/ok`, {}, 2000, onlyLoopbackOne);
      assert.deepEqual(result, { status: 200 }, String(status));
      assert.deepEqual(
        seen.map((hit) => hit.path),
        ['/to', '/ok'],
      );
    }
  });

  it(`follows up to ${MAX_REDIRECTS} redirects, and calls nothing past them`, async () => {
    seen.length = 0;
    assert.deepEqual(await httpGet(`${base}/chain?n=${MAX_REDIRECTS}`, {}, 5000, onlyLoopbackOne), {
      status: 200,
    });
    assert.equal(seen.length, MAX_REDIRECTS + 1);
    seen.length = 0;
    assert.deepEqual(await httpGet(`${base}/chain?n=${MAX_REDIRECTS + 1}`, {}, 5000, onlyLoopbackOne), {
      error: `more than ${MAX_REDIRECTS} redirects`,
      permanent: false,
    });
    assert.equal(seen.length, MAX_REDIRECTS + 1, 'the redirect past the limit was not followed');
  });

  it('answers a redirect without a Location as the redirect’s own status, calling nothing else', async () => {
    seen.length = 0;
    assert.deepEqual(await httpGet(`${base}/no-location`, {}, 2000, onlyLoopbackOne), { status: 302 });
    assert.deepEqual(
      seen.map((hit) => hit.path),
      ['/no-location'],
    );
  });

  it('takes a redirect to a URL it cannot call or read as the DSP’s to fix: worth retrying, unlike such a burl', async () => {
    assert.deepEqual(await httpGet(`${base}/to?url=ftp://dsp.example/bill`, {}, 2000, onlyLoopbackOne), {
      error: 'cannot call a ftp: URL (at ftp://dsp.example/bill, where the burl redirected)',
      permanent: false,
    });
    assert.deepEqual(await httpGet(`${base}/bad-location`, {}, 2000, onlyLoopbackOne), {
      error: 'redirected to an invalid URL: http://[',
      permanent: false,
    });
    // Not followed (Node would call port 80), and named as the Location header gives it.
    assert.deepEqual(await httpGet(`${base}/to?url=//127.0.0.1:0/bill`, {}, 2000, onlyLoopbackOne), {
      error: 'cannot call port 0: //127.0.0.1:0/bill (at http://127.0.0.1:0/bill, where the burl redirected)',
      permanent: false,
    });
  });

  it('calls an https burl over TLS', async () => {
    // A plain TCP server: what matters is the first byte the relay sends, a TLS handshake record.
    const firstBytes: number[] = [];
    const tcp = createNetServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        firstBytes.push(chunk[0] ?? -1);
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      const port = (tcp.address() as AddressInfo).port;
      const result = await httpGet(`https://127.0.0.1:${port}/bill`, {}, 2000, onlyLoopbackOne);
      assert.equal('permanent' in result && result.permanent, false, JSON.stringify(result));
      assert.deepEqual(firstBytes, [0x16], 'a TLS handshake record came first');
    } finally {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it('says in words why TLS failed, the error code kept in parentheses, for real servers over loopback', async () => {
    const certificates = makeTestCertificates();
    const servers: Server[] = [];
    const serve = async (server: Server) => {
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `https://127.0.0.1:${(server.address() as AddressInfo).port}/bill`;
    };
    const tls = (options: HttpsServerOptions) =>
      serve(createHttpsServer(options, (_req, res) => res.writeHead(200).end('ok')));
    try {
      const cases: [string, string][] = [
        [await tls(certificates.selfSigned), 'TLS certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)'],
        [
          await tls(certificates.unknownIssuer),
          'TLS certificate is issued by an unknown authority, or sent without its intermediate certificates (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
        ],
        [
          await tls(certificates.selfSignedRoot),
          'TLS certificate is issued by a self-signed authority no client trusts (SELF_SIGNED_CERT_IN_CHAIN)',
        ],
        [
          await serve(createServer((_req, res) => res.writeHead(200).end('ok'))),
          'TLS handshake failure: the server does not speak TLS on this port (EPROTO, error:0A00010B)',
        ],
        [
          await tls({
            ...certificates.selfSigned,
            minVersion: 'TLSv1',
            maxVersion: 'TLSv1.1',
            ciphers: 'DEFAULT@SECLEVEL=0',
          }),
          'TLS handshake failure: no TLS version both sides support (EPROTO, error:0A00042E)',
        ],
      ];
      for (const [url, error] of cases)
        assert.deepEqual(await httpGet(url, {}, 2000, onlyLoopbackOne), { error, permanent: false }, url);
    } finally {
      for (const server of servers) server.close();
    }
  });

  it('names the cause of a certificate Node refuses for its dates or its host as it names the others', () => {
    const refused = (code: string, message: string) => Object.assign(new Error(message), { code });
    assert.equal(
      tlsFailureText(refused('CERT_HAS_EXPIRED', 'certificate has expired')),
      'TLS certificate has expired (CERT_HAS_EXPIRED)',
    );
    assert.equal(
      tlsFailureText(refused('CERT_NOT_YET_VALID', 'certificate is not yet valid')),
      'TLS certificate is not yet valid (CERT_NOT_YET_VALID)',
    );
    assert.equal(
      tlsFailureText(
        refused(
          'ERR_TLS_CERT_ALTNAME_INVALID',
          "Hostname/IP does not match certificate's altnames: Host: dsp.example.",
        ),
      ),
      'TLS certificate hostname mismatch: it is not for the host called (ERR_TLS_CERT_ALTNAME_INVALID)',
    );
    assert.equal(
      tlsFailureText(
        refused(
          'ERR_SSL_CERTIFICATE_VERIFY_FAILED',
          'error:0A000086:SSL routines::certificate verify failed',
        ),
      ),
      'TLS certificate could not be verified (ERR_SSL_CERTIFICATE_VERIFY_FAILED, error:0A000086)',
    );
    assert.equal(tlsFailureText(refused('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')), undefined);
  });

  it('answers the final status as it came, a 404, a 204 or a 300 (not a redirect) included', async () => {
    assert.deepEqual(await httpGet(`${base}/missing`, {}, 2000, onlyLoopbackOne), { status: 404 });
    for (const status of [204, 300]) {
      seen.length = 0;
      const result = await httpGet(`${base}/to?status=${status}&url=/ok`, {}, 2000, onlyLoopbackOne);
      assert.deepEqual(result, { status }, String(status));
      assert.deepEqual(
        seen.map((hit) => hit.path),
        ['/to'],
      );
    }
  });

  // Node closes the connection of a 101 it asked for no upgrade with, and never ends the call: the
  // timeout turns a call that hangs into a failure.
  it(
    'answers a 101 Switching Protocols the relay asked for no upgrade with as that status, rather than leaving the call without an end',
    { timeout: 10_000 },
    async () => {
      const connections = new Set<Socket>();
      const tcp = createNetServer((socket) => {
        connections.add(socket);
        socket.once('data', () =>
          socket.write(
            'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
          ),
        );
      });
      await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
      try {
        const port = (tcp.address() as AddressInfo).port;
        assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/bill`, {}, 2000, onlyLoopbackOne), {
          status: 101,
        });
        const redirected = await httpGet(
          `${base}/to?url=http://127.0.0.1:${port}/bill`,
          {},
          2000,
          onlyLoopbackOne,
        );
        assert.deepEqual(redirected, { status: 101, redirectedTo: `http://127.0.0.1:${port}/bill` });
      } finally {
        for (const socket of connections) socket.destroy();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
      }
    },
  );

  it('takes a 2xx whose header framing Node refuses (Content-Length twice, or beside Transfer-Encoding) as the DSP’s answer, calling it once; another status so framed stays a failure worth retrying', async () => {
    const answers: Record<string, string> = {
      '/twice': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
      '/both': 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      '/failed': 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nno',
    };
    const paths: string[] = [];
    const tcp = createNetServer((socket) => {
      socket.once('data', (request: Buffer) => {
        const path = /^GET (\S+)/.exec(request.toString('latin1'))?.[1] ?? '';
        paths.push(path);
        socket.end(answers[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      const dsp = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
      assert.deepEqual(await httpGet(`${dsp}/twice`, {}, 2000, onlyLoopbackOne), { status: 200 });
      assert.deepEqual(await httpGet(`${base}/to?url=${dsp}/both`, {}, 2000, onlyLoopbackOne), {
        status: 204,
      });
      assert.deepEqual(await httpGet(`${dsp}/failed`, {}, 2000, onlyLoopbackOne), {
        error: 'Error: Parse Error: Duplicate Content-Length',
        permanent: false,
      });
      assert.deepEqual(paths, ['/twice', '/both', '/failed']);
    } finally {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it('takes a 2xx whose status line ends in a bare line feed and no reason phrase as the DSP’s answer, as curl and browsers do', async () => {
    // `HTTP/1.1 200\n`: Node refuses it (`Invalid response status`), as it does `HTTP/1.1 200 OK\n`.
    const tcp = createNetServer((socket) =>
      socket.once('data', () => socket.end('HTTP/1.1 200\nContent-Length: 2\n\nok')),
    );
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      const dsp = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
      assert.deepEqual(await httpGet(`${dsp}/bill`, {}, 2000, onlyLoopbackOne), { status: 200 });
    } finally {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it('gives up for good on a burl that is not a URL', async () => {
    assert.deepEqual(await httpGet('dsp.example/bill', {}, 2000, onlyLoopbackOne), {
      error: 'not a URL: dsp.example/bill',
      permanent: true,
    });
  });

  it('holds the whole chain of redirects to its time limit, not each hop', async () => {
    // Four answers 150 ms late each: every hop is within the limit, the chain is not.
    const result = await httpGet(`${base}/slow-chain?n=3`, {}, 400, onlyLoopbackOne);
    assert.equal('permanent' in result && result.permanent, false);
    assert.match(
      'error' in result ? result.error : '',
      /^no answer within the 400 ms time limit \(at http:\/\/127\.0\.0\.1:\d+\/slow-chain\?n=\d, where the burl redirected\)$/,
    );
  });

  it('sends the burl’s user name and password as Basic authorization to its own host, through a relative redirect too, and to no URL elsewhere it redirects to', async () => {
    const other = createServer((req, res) => {
      seen.push({ path: `other${req.url ?? ''}`, headers: req.headers, clientPort: undefined });
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const elsewhere = `http://127.0.0.1:${(other.address() as AddressInfo).port}/partner`;
      const relative = `/to?url=${encodeURIComponent(elsewhere)}`;
      const burl = `${base.replace('//', '//dsp%40user:p%3Ass@')}/to?url=${encodeURIComponent(relative)}`;
      seen.length = 0;
      assert.deepEqual(await httpGet(burl, {}, 2000, onlyLoopbackOne), { status: 200 });
      const basic = `Basic ${Buffer.from('dsp@user:p:ss').toString('base64')}`;
      assert.deepEqual(
        seen.map(({ path, headers }) => [path, headers.authorization]),
        [
          ['/to', basic],
          ['/to', basic],
          ['other/partner', undefined],
        ],
      );
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('reads a relative Location against the URL of the hop that sent it, not the burl', async () => {
    // A second DSP host, which the burl redirects to: its `/final` is a path the first host has not.
    const other = createServer((req, res) => {
      if (req.url === '/relative') res.writeHead(302, { Location: '/final' }).end();
      else if (req.url === '/final') res.writeHead(204).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const result = await httpGet(`${base}/to?url=${otherBase}/relative`, {}, 2000, () => true);
      assert.deepEqual(result, { status: 204 });
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('reads a Location sent in raw UTF-8 as browsers do, calling the URL the DSP meant rather than its bytes read as Latin-1', async () => {
    // A DSP whose redirect writes `é` as its two UTF-8 bytes, unencoded; and `/latin1` one whose
    // Location holds a byte that is no UTF-8 (0xE9 alone), read as Latin-1 as before.
    const targets: string[] = [];
    const dsp = createServer((req, res) => {
      targets.push(req.url ?? '');
      const raw = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
      if (req.url === '/utf8') res.writeHead(302, { Location: raw('/landed/café?site=café&p=1.5') }).end();
      else if (req.url === '/latin1') res.writeHead(302, { Location: '/landed?site=caf\u00e9' }).end();
      else res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
    try {
      const dspBase = `http://127.0.0.1:${(dsp.address() as AddressInfo).port}`;
      assert.deepEqual(await httpGet(`${dspBase}/utf8`, {}, 2000, () => true), { status: 204 });
      assert.deepEqual(await httpGet(`${dspBase}/latin1`, {}, 2000, () => true), { status: 204 });
      assert.deepEqual(targets, [
        '/utf8',
        '/landed/caf%C3%A9?site=caf%C3%A9&p=1.5',
        '/latin1',
        '/landed?site=caf%C3%A9',
      ]);
    } finally {
      await new Promise<void>((resolve) => dsp.close(() => resolve()));
    }
  });

  it('sends again, on a new connection, a burl whose kept-alive connection the DSP closed as it was sent, rather than fail it', async () => {
    // A DSP that answers one request a connection, then drops the connection when a second comes
    // on it: a server whose keep-alive time ran out just as the relay reused its connection.
    const answeredOn = new Set<unknown>();
    const dsp = createServer((req, res) => {
      if (answeredOn.has(req.socket)) {
        req.socket.destroy();
        return;
      }
      answeredOn.add(req.socket);
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((resolve) => dsp.listen(0, '127.0.0.1', resolve));
    try {
      const port = (dsp.address() as AddressInfo).port;
      const name = globalAgent.getName({ host: '127.0.0.1', port });
      assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/first`, {}, 2000, () => true), {
        status: 200,
      });
      await until(
        () => (globalAgent.freeSockets[name] ?? []).length === 1,
        'the connection to be kept alive',
      );
      assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/second`, {}, 2000, () => true), {
        status: 200,
      });
      assert.equal(answeredOn.size, 2);
    } finally {
      dsp.closeAllConnections();
      await new Promise<void>((resolve) => dsp.close(() => resolve()));
    }
  });

  it('follows a chain of ten redirects to the DSP’s answer', async () => {
    seen.length = 0;
    assert.deepEqual(await httpGet(`${base}/chain?n=10`, {}, 5000, onlyLoopbackOne), { status: 200 });
    // Only this chain's calls: a call of the test before, given up on, may be read only now.
    assert.equal(seen.filter((call) => call.path === '/chain').length, 11);
  });

  it('reads a body of up to its cap to its end, freeing the connection for the next burl to the DSP', async () => {
    const port = (server.address() as AddressInfo).port;
    const name = globalAgent.getName({ host: '127.0.0.1', port });
    const isFree = (clientPort: number | undefined) =>
      (globalAgent.freeSockets[name] ?? []).some((socket) => socket.localPort === clientPort);
    // The cap is 64 KiB, as the README says.
    for (const bytes of [2, 64 * 1024]) {
      seen.length = 0;
      assert.deepEqual(await httpGet(`${base}/body?bytes=${bytes}`, {}, 2000, onlyLoopbackOne), {
        status: 200,
      });
      const clientPort = seen[0]?.clientPort;
      // Only once the body was read to its end does the connection go back to the pool.
      await until(() => isFree(clientPort), `the connection of a ${bytes}-byte body to be free`);
      assert.deepEqual(await httpGet(`${base}/ok`, {}, 2000, onlyLoopbackOne), { status: 200 });
      assert.deepEqual(
        seen.map((hit) => hit.clientPort),
        [clientPort, clientPort],
      );
    }
  });

  it('calls a host name whose addresses the policy allows, on an address it checked', async () => {
    seen.length = 0;
    const port = (server.address() as AddressInfo).port;
    const loopback = (address: string) => address === '127.0.0.1' || address === '::1';
    assert.deepEqual(await httpGet(`http://localhost:${port}/ok`, {}, 2000, loopback), { status: 200 });
    assert.deepEqual(
      seen.map((hit) => hit.path),
      ['/ok'],
    );
  });

  it('takes a host name that does not resolve as a failure worth retrying, calling nothing', async () => {
    seen.length = 0;
    const port = (server.address() as AddressInfo).port;
    const result = await httpGet(`http://tally-test.invalid:${port}/ok`, {}, 2000, () => true);
    assert.ok('error' in result && /ENOTFOUND|EAI_AGAIN/.test(result.error), JSON.stringify(result));
    assert.equal('permanent' in result && result.permanent, false);
    assert.equal(seen.length, 0);
  });

  it('takes a lookup that answers no address as a failure worth retrying, calling nothing, rather than crashing', async () => {
    seen.length = 0;
    const port = (server.address() as AddressInfo).port;
    const noAddress = new DnsCache(() => Promise.resolve([]));
    const result = await httpGet(`http://void.example:${port}/ok`, {}, 2000, () => true, noAddress);
    assert.deepEqual(result, { error: 'NoAddressError: void.example has no address', permanent: false });
    assert.equal(seen.length, 0);
  });

  it('refuses, under the default policy, every spelling of a loopback or unspecified address the URL parser reads, connecting nowhere', async () => {
    const witness = createServer((_req, res) => res.writeHead(200).end());
    let connections = 0;
    witness.on('connection', () => connections++);
    await new Promise<void>((resolve) => witness.listen(0, '0.0.0.0', resolve));
    const port = (witness.address() as AddressInfo).port;
    try {
      const hosts = [
        // As the URL parser writes them: [::ffff:7f00:1], [::7f00:1], 0.0.0.0, 127.0.0.1 (×4).
        '[::ffff:127.0.0.1]',
        '[::127.0.0.1]',
        '0',
        '127.1',
        '017700000001',
        'dsp.example@127.0.0.1',
        '127.0.0.1.',
        '[64:ff9b::127.0.0.1]',
        '[2002:7f00:1::]',
      ];
      for (const host of hosts) {
        const result = await httpGet(`http://${host}:${port}/ok`, {}, 2000, isPublicAddress);
        assert.ok('error' in result && /is an address outside the public internet/.test(result.error), host);
        assert.equal(result.permanent, true, host);
      }
      assert.equal(connections, 0);
    } finally {
      await new Promise<void>((resolve) => witness.close(() => resolve()));
    }
  });

  it('connects to the very address its lookup checked, and checks each new lookup: a name rebound to a refused address is refused, not called', async () => {
    const witness = createServer((req, res) => {
      reachedOn.push(req.socket.localAddress);
      res.writeHead(200).end();
    });
    const reachedOn: (string | undefined)[] = [];
    await new Promise<void>((resolve) => witness.listen(0, '0.0.0.0', resolve));
    const port = (witness.address() as AddressInfo).port;
    let lookups = 0;
    let nowMs = 0;
    // The name's owner answers an allowed address first, then one the policy refuses.
    const rebinding = new DnsCache(
      () => Promise.resolve([{ address: lookups++ === 0 ? '127.0.0.1' : '127.0.0.2', family: 4 }]),
      () => nowMs,
    );
    try {
      // Not kept alive, so that the second call needs a connection, and a lookup, of its own.
      const close = { Connection: 'close' };
      const url = `http://rebind.example:${port}/ok`;
      assert.deepEqual(await httpGet(url, close, 2000, onlyLoopbackOne, rebinding), { status: 200 });
      assert.deepEqual(reachedOn, ['127.0.0.1']);
      assert.equal(lookups, 1, 'the check and the connection shared one lookup');
      nowMs += DNS_CACHE_SECONDS * 1000 + 1;
      const rebound = await httpGet(url, close, 2000, onlyLoopbackOne, rebinding);
      assert.deepEqual(rebound, {
        error:
          'rebind.example resolves to 127.0.0.2, outside the public internet; set TALLY_BURL_PRIVATE_NETWORKS=allow to call such DSP endpoints',
        permanent: true,
      });
      assert.deepEqual(reachedOn, ['127.0.0.1'], 'the rebound address was never called');
    } finally {
      await new Promise<void>((resolve) => witness.close(() => resolve()));
    }
  });
});

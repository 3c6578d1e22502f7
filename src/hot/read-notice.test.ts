import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import type { NoticeRequest } from '../domain/notice-request.js';
import { readNoticeRequest } from './read-notice.js';

/** Sends `head` (request line and headers) over a real socket and returns what the server read. */
async function read(head: string): Promise<NoticeRequest> {
  let seen: NoticeRequest | undefined;
  const server = createServer((req, res) => {
    seen = readNoticeRequest(req, 'the-token', 'f=b', 1234);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`${head}\r\nConnection: close\r\n\r\n`));
    socket.on('data', () => undefined);
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(seen !== undefined, 'the server saw no request');
  return seen;
}

describe('reading a notice request', () => {
  it('keeps only the headers the rules read, by lower-case name, with the peer, method and time', async () => {
    const request = await read(
      'HEAD /n/x HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: Agent/1\r\nCookie: a=b\r\nSEC-PURPOSE: prefetch\r\nX-Device-IP: 203.0.113.9',
    );
    assert.deepEqual(request, {
      token: 'the-token',
      query: 'f=b',
      method: 'HEAD',
      headers: { 'user-agent': 'Agent/1', 'sec-purpose': 'prefetch', 'x-device-ip': '203.0.113.9' },
      remoteAddress: '127.0.0.1',
      receivedMs: 1234,
    });
  });

  it('keeps the first of repeated User-Agents and joins other repeated headers, as node:http does', async () => {
    const request = await read(
      'GET /n/x HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: First/1\r\nUser-Agent: Second/2\r\nX-Forwarded-For: 203.0.113.1\r\nx-forwarded-for: 10.0.0.1',
    );
    assert.deepEqual(request.headers, {
      'user-agent': 'First/1',
      'x-forwarded-for': '203.0.113.1, 10.0.0.1',
    });
  });

  it('reads a repeated X-Device-User-Agent as empty, naming no device agent, where a repeated X-Device-IP is joined into no address', async () => {
    const request = await read(
      'GET /n/x HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: Server/1\r\nX-Device-User-Agent: Device/1\r\n' +
        'X-Device-IP: 203.0.113.9\r\nx-device-user-agent: Device/2\r\nX-Device-IP: 203.0.113.10',
    );
    assert.deepEqual(request.headers, {
      'user-agent': 'Server/1',
      'x-device-user-agent': '',
      'x-device-ip': '203.0.113.9, 203.0.113.10',
    });
  });

  it('keeps every header a counting rule reads: prefetch hints and the device a server-to-server notifier names', async () => {
    const request = await read(
      'GET /n/x HTTP/1.1\r\nHost: tally.test\r\nX-Moz: prefetch\r\nPurpose: prefetch\r\nX-Purpose: preview\r\n' +
        'Sec-Purpose: prefetch;prerender\r\nX-Device-IP: 203.0.113.9\r\nX-Device-User-Agent: Device/1\r\n' +
        'X-Forwarded-For: 203.0.113.1\r\nUser-Agent: Server/1\r\nAccept: */*',
    );
    assert.deepEqual(request.headers, {
      'x-moz': 'prefetch',
      purpose: 'prefetch',
      'x-purpose': 'preview',
      'sec-purpose': 'prefetch;prerender',
      'x-device-ip': '203.0.113.9',
      'x-device-user-agent': 'Device/1',
      'x-forwarded-for': '203.0.113.1',
      'user-agent': 'Server/1',
    });
  });
});

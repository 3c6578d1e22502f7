import assert from 'node:assert/strict';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BodyBudget } from './body-budget.js';
import { readJsonText } from './json-body.js';
import { sendError } from './send.js';
import { until } from '../../test/support/until.js';

/** The bytes a budget holds of bodies read over real HTTP, seen from the budget's side. */

const MAX_BYTES = 8192;
const MAX_CALL_BYTES = 1024 * 1024;

/** A call being read: what its route saw and how to answer it. */
interface Call {
  /** Whether the route began reading the body. */
  readingBegun: boolean;
  /** The body bytes the route read so far, once it began. */
  readBytes: number;
  /** The refusal `BodyBudget.read` threw, once it did. */
  refusal: Promise<unknown>;
  res: ServerResponse;
  /** The connection's end, seen by the server. */
  closed: Promise<void>;
}

const budget = new BodyBudget(MAX_BYTES);
/** The calls the server began reading, in order. */
const calls: Call[] = [];
let server: Server;
let port = 0;

before(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let refused: (error: unknown) => void = () => {};
    const call: Call = {
      readingBegun: false,
      readBytes: 0,
      refusal: new Promise((resolve) => (refused = resolve)),
      res,
      closed: new Promise((resolve) => req.socket.once('close', () => resolve())),
    };
    calls.push(call);
    const read = (): void =>
      void budget
        .read(req, MAX_CALL_BYTES, () => {
          const reading = readJsonText(req, MAX_CALL_BYTES);
          call.readingBegun = true;
          // Counted as the budget counts them, beside it (but for what came before it began).
          req.on('data', (chunk: Buffer) => (call.readBytes += chunk.length));
          return reading;
        })
        .then(
          () => res.end(),
          (error: unknown) => refused(error),
        );
    // `/late` begins reading the body once what was sent with its head has come.
    if (req.url === '/late') setTimeout(read, 200);
    else read();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Chunks of body of `bytes` each. */
function chunks(...bytes: number[]): string {
  return bytes.map((size) => `${size.toString(16)}\r\n${' '.repeat(size)}\r\n`).join('');
}

/** Opens a connection and begins a chunked JSON `POST <path>` on it, sending `first` with its head. */
async function chunkedCall(path = '/', first = ''): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: tally.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${first}`,
  );
  return socket;
}

/** Writes chunks of body of `bytes` each, at once. */
function writeChunks(socket: Socket, ...bytes: number[]): void {
  socket.write(chunks(...bytes));
}

describe('BodyBudget', () => {
  it('holds the bytes a refused chunked call goes on sending until its reading ends, and nothing once its connection closed', async () => {
    const socket = await chunkedCall();
    writeChunks(socket, MAX_BYTES / 2);
    await until(() => Promise.resolve(budget.takenBytes === MAX_BYTES / 2), 'half the bytes held');
    // The chunk past the budget, and one behind it read from the connection with it.
    writeChunks(socket, MAX_BYTES, 1);
    await until(() => calls[0]?.refusal ?? Promise.resolve(undefined), 'the call refused');
    const call = calls[0]!;
    writeChunks(socket, MAX_BYTES);
    await until(
      () => Promise.resolve(call.readBytes === 2.5 * MAX_BYTES + 1),
      'the body read on after the refusal',
    );
    assert.equal(
      budget.takenBytes,
      call.readBytes,
      'the bytes read of the refused call, still being read, are held',
    );

    sendError(call.res, await call.refusal, 'refused');
    await call.closed;
    await until(() => Promise.resolve(budget.takenBytes === 0), 'nothing held');
    socket.destroy();
  });

  it('holds the bytes of a chunked body that came before its reading began', async () => {
    const begun = calls.length;
    const socket = await chunkedCall('/late', chunks(MAX_BYTES / 4));
    const call = await until(() => Promise.resolve(calls[begun]), 'the call begun');
    await until(() => Promise.resolve(call.readingBegun), 'the reading begun');
    assert.equal(budget.takenBytes, MAX_BYTES / 4, 'the bytes read are held');
    socket.destroy();
    await call.closed;
    await until(() => Promise.resolve(budget.takenBytes === 0), 'nothing held');
  });
});

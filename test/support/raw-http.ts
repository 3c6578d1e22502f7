import { connect } from 'node:net';

/**
 * How long the server has to answer and close. It bounds a connection left open, not a speed:
 * the first notice a server answers waits for its counting thread to load, which on a loaded
 * 2-core machine has taken longer than the 3 s this used to allow.
 */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * Sends `request` (bytes written as they are, however malformed) on a new connection to the
 * server at `url`, and resolves with all it answers until it closes the connection; rejects when it
 * has not closed it within `CLOSE_TIMEOUT_MS`. With `halfClose`, the client's side is ended after the request.
 */
export function rawExchange(
  url: string,
  request: string | Buffer,
  { halfClose = false }: { halfClose?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`not closed within ${CLOSE_TIMEOUT_MS} ms; got ${JSON.stringify(answer)}`));
    }, CLOSE_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', reject);
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
    if (halfClose) socket.end();
  });
}

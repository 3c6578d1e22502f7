import { createServer as createHttpServer } from 'node:http';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/**
 * A connection to the held port that sends nothing for this long is closed: each one open holds
 * a file descriptor for as long as the start may last (minutes, migrating a large ledger).
 */
const IDLE_TIMEOUT_MS = 10_000;

/**
 * A port bound before anything else of a start, so that a start that cannot listen (the port in
 * use, a host not of this machine) changes nothing. Until it is handed over, the requests that
 * arrive are answered by the `answer` given to {@link holdPort}, each with `Connection: close`.
 */
export interface HeldPort {
  /**
   * Serves `server` on the held port: the bound socket becomes the server's own. A connection the
   * port accepted before, on which no request has begun, is closed then (its client opens a new
   * one, which `server` accepts); one whose request has begun is still answered by `answer`.
   */
  handOver(server: Server): Promise<void>;
  /** Closes the port and its connections, unless it was handed over (`server.close()` does then). */
  release(): Promise<void>;
}

/**
 * Binds `port` on `host` and holds it, answering each request meanwhile with `answer` (the
 * connection then closed); rejects with the error of `listen` (`EADDRINUSE`…). At most
 * `maxConnections` are open at once (`TALLY_MAX_CONNECTIONS`, as the server caps its own): past
 * it a new connection is closed as it is accepted, unanswered.
 */
export async function holdPort(
  port: number,
  host: string,
  answer: RequestListener,
  maxConnections: number,
): Promise<HeldPort> {
  // Reads the held port's connections as HTTP; it never listens itself: each is handed to it.
  const answering = createHttpServer({ requireHostHeader: false }, (req, res) => {
    res.setHeader('Connection', 'close');
    answer(req, res);
  });
  const connections = new Set<Socket>();
  const placeholder = createServer((socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    answering.emit('connection', socket);
  });
  placeholder.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    placeholder.once('error', reject);
    placeholder.listen(port, host, () => resolve());
  });
  let handedOver = false;
  return {
    handOver: (server) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // Node's `listen(handle)`: a server given as the handle hands its bound socket over. Only
        // once it listens on it is the socket the server's to close: until then `release` does.
        server.listen(placeholder, () => {
          handedOver = true;
          for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
          resolve();
        });
      }),
    release: () => {
      if (handedOver) return Promise.resolve();
      for (const socket of connections) socket.destroy();
      return new Promise<void>((resolve) => placeholder.close(() => resolve()));
    },
  };
}

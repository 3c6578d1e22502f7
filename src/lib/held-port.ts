import { createServer } from 'node:net';
import type { Server } from 'node:net';

/**
 * A port bound before anything else of a start, so that a start that cannot listen (the port in
 * use, a host not of this machine) changes nothing; connections that arrive before it is handed
 * over are accepted (a TCP-only health check passes) and closed at once.
 */
export interface HeldPort {
  /** Serves `server` on the held port: the bound socket becomes the server's own. */
  handOver(server: Server): Promise<void>;
  /** Closes the port, unless it was handed over (the server's `close()` closes it then). */
  release(): Promise<void>;
}

/** Binds `port` on `host` and holds it; rejects with the error of `listen` (`EADDRINUSE`…). */
export async function holdPort(port: number, host: string): Promise<HeldPort> {
  const placeholder = createServer((socket) => socket.destroy());
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
          resolve();
        });
      }),
    release: () =>
      handedOver ? Promise.resolve() : new Promise<void>((resolve) => placeholder.close(() => resolve())),
  };
}

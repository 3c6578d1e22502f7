import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleApi } from '../../src/control/api-handler.js';
import type { Route } from '../../src/control/router.js';
import { Router } from '../../src/control/router.js';
import { jsonLogger } from '../../src/lib/log.js';
import { Metrics } from '../../src/lib/metrics.js';
import type { AccountStore } from '../../src/ports/accounts.js';

/** API routes served over loopback as Tally serves them, without the rest of the server. */
export interface ApiServer {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** The JSON lines logged (requests that failed on Tally's side). */
  logged: string[];
  /** The lines logged, parsed: those naming the call `requestId` where it is given. */
  linesOf(requestId?: string): Record<string, unknown>[];
  /** The counters the API added to (calls refused 401). */
  metrics: Metrics;
  close(): Promise<void>;
}

/** Serves `routes` on a free loopback port through Tally's own API handler, keys from `accounts`. */
export async function serveApi(routes: readonly Route[], accounts: AccountStore): Promise<ApiServer> {
  const router = new Router();
  router.add(...routes);
  const logged: string[] = [];
  const log = jsonLogger((line) => logged.push(line));
  const metrics = new Metrics();
  const server: Server = createServer((req, res) => {
    void handleApi(req, res, new URL(req.url ?? '/', 'http://tally.test'), router, accounts, log, metrics);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logged,
    linesOf: (requestId) =>
      logged
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => requestId === undefined || line.requestId === requestId),
    metrics,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

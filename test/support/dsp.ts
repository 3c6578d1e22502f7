import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How long `waitFor` waits by default. It bounds burls that never come, not a speed: the outbox's
 * first call, a few 200 ms polls on an idle machine, shares a loaded 2-core machine with another
 * test file and other jobs.
 */
const WAIT_TIMEOUT_MS = 30_000;

/** One request the fake DSP received. */
export interface DspHit {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

/** A local HTTP server playing the DSP: records every burl call; can fail a path several times first. */
export interface FakeDsp {
  url: string;
  hits: DspHit[];
  /** Answer 500 to the next `times` calls whose path is `path`. */
  failNext(path: string, times: number): void;
  /** Resolves when `predicate` holds over the hits, or rejects after `timeoutMs`. */
  waitFor(predicate: (hits: DspHit[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the fake DSP on `port` (a free one by default). */
export async function startDsp(port = 0): Promise<FakeDsp> {
  const hits: DspHit[] = [];
  const failures = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://dsp.invalid');
    const remaining = failures.get(url.pathname) ?? 0;
    if (remaining > 0) {
      failures.set(url.pathname, remaining - 1);
      res.writeHead(500).end('try later');
      return;
    }
    if (url.pathname === '/hop') {
      res.writeHead(302, { Location: `/landed?${url.searchParams.toString()}` }).end();
      return;
    }
    hits.push({ path: url.pathname, query: url.searchParams, headers: req.headers });
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    hits,
    failNext: (path, times) => failures.set(path, times),
    async waitFor(predicate, timeoutMs = WAIT_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(hits)) {
        if (Date.now() > deadline)
          throw new Error(`the DSP did not get the expected burls; it got ${hits.length}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

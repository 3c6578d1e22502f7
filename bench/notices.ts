// Notice throughput: fires distinct valid notices at a running Tally and prints notices/s and
// latency percentiles beside baselines measured in the same run with the same load: a bare
// node:http server answering the same GIF, and nginx's empty_gif when nginx is installed.
//
//   npm run bench      (BENCH_SECONDS=10 BENCH_CONNECTIONS=64 BENCH_ROUNDS=2 by default)
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import type { KeyRing, NoticeClaims } from '../src/domain/token.js';
import { sealToken } from '../src/domain/token.js';
import { freePort, startServer } from '../test/support/server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '64');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '2');
const CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const REPO = new URL('../', import.meta.url).pathname;

interface Result {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${url} did not answer`);
}

async function load(name: string, baseUrl: string, paths: readonly string[]): Promise<Result> {
  let next = 0;
  const result = await autocannon({
    url: baseUrl,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'user-agent': CHROME },
    requests: [
      {
        setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length] ?? '/' }),
      },
    ],
  });
  return {
    name,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

/** One row per target, in first-seen order: mean rate and p50, worst p99, summed failures. */
function summarise(results: readonly Result[]): Result[] {
  const byName = new Map<string, Result[]>();
  for (const result of results) byName.set(result.name, [...(byName.get(result.name) ?? []), result]);
  return [...byName].map(([name, runs]) => ({
    name,
    requestsPerSecond: runs.reduce((sum, run) => sum + run.requestsPerSecond, 0) / runs.length,
    p50Ms: runs.reduce((sum, run) => sum + run.p50Ms, 0) / runs.length,
    p99Ms: Math.max(...runs.map((run) => run.p99Ms)),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
  }));
}

function tokens(ring: KeyRing, count: number): string[] {
  const nowMs = Date.now();
  const base: NoticeClaims = {
    kind: 'adm',
    accountId: 1,
    auctionId: '',
    impId: '1',
    bidId: 'bid',
    seat: 'bench-seat',
    adId: '',
    priceMicros: 1_250_000,
    currency: 'USD',
    format: 'banner',
    channel: 'web',
    method: 'adm',
    ttlSeconds: 600,
    auctionTimeMs: nowMs,
    publisherId: 'bench-publisher',
    test: false,
    dspBurl: '',
  };
  return Array.from(
    { length: count },
    (_, index) => `/n/${sealToken({ ...base, auctionId: `bench-${index}` }, ring)}`,
  );
}

/**
 * With `taskset` and two cores, the load generator (this process) runs on core 0 and every
 * server on core 1 — one core each, so they do not take turns on the same core.
 */
const PIN_CORES = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;

/** Pins a process and all its threads to one core (when pinning is on). */
function pin(pid: number | undefined, core: number): void {
  if (PIN_CORES && pid !== undefined)
    spawnSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
}

/** The command that starts a server, on the servers' core when pinning is on. */
function onServerCore(command: string, args: string[]): [string, string[]] {
  return PIN_CORES ? ['taskset', ['-c', '1', command, ...args]] : [command, args];
}

async function main(): Promise<void> {
  pin(process.pid, 0);
  process.stdout.write(
    PIN_CORES ? 'load generator on core 0, servers on core 1\n' : 'no taskset: processes are not pinned\n',
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'tally-bench-'));
  const results: Result[] = [];
  try {
    // Tally first: it writes the token keys the load needs.
    const keys = await startServer();
    await keys.stop();
    const keyFile = JSON.parse(readFileSync(join(keys.dataDir, 'token-keys.json'), 'utf8')) as {
      keys: { id: number; key: string }[];
    };
    await keys.dispose();
    const ring: KeyRing = {
      signingKeyId: keyFile.keys.at(-1)?.id ?? 1,
      keys: new Map(keyFile.keys.map((entry) => [entry.id, Buffer.from(entry.key, 'base64')])),
    };
    const paths = tokens(ring, Math.ceil(SECONDS * 90_000));
    process.stdout.write(
      `${paths.length} distinct notices prepared; ${CONNECTIONS} connections, ${SECONDS} s per target\n`,
    );

    const nginxInstalled = spawnSync('nginx', ['-v']).status === 0;
    if (!nginxInstalled) {
      process.stdout.write(
        'nginx is not installed: no nginx baseline (apt-get install -y nginx-light to add it)\n',
      );
    }
    // Targets alternate within each round, so that the machine's drift hits them alike.
    const ledgers: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const barePort = await freePort();
      const bare = spawn(
        ...onServerCore(process.execPath, ['--import', 'tsx', 'bench/bare-gif-server.ts', String(barePort)]),
        { cwd: REPO, stdio: 'ignore' },
      );
      await waitForHttp(`http://127.0.0.1:${barePort}/`, bare);
      results.push(await load('bare node:http GIF', `http://127.0.0.1:${barePort}`, paths));
      await stop(bare);

      if (nginxInstalled) {
        const nginxPort = await freePort();
        const conf = join(dataDir, 'nginx.conf');
        writeFileSync(
          conf,
          `worker_processes 1; pid ${dataDir}/nginx.pid; error_log ${dataDir}/nginx-error.log; events {}
           http { access_log off; client_body_temp_path ${dataDir}; proxy_temp_path ${dataDir}; fastcgi_temp_path ${dataDir}; uwsgi_temp_path ${dataDir}; scgi_temp_path ${dataDir};
                  server { listen 127.0.0.1:${nginxPort}; location / { empty_gif; } } }`,
        );
        const nginx = spawn(...onServerCore('nginx', ['-c', conf, '-g', 'daemon off;']), { stdio: 'ignore' });
        await waitForHttp(`http://127.0.0.1:${nginxPort}/`, nginx);
        results.push(await load('nginx empty_gif', `http://127.0.0.1:${nginxPort}`, paths));
        await stop(nginx);
      }

      for (const synchronous of ['FULL', 'NORMAL'] as const) {
        const tally = await startServer({
          TALLY_SQLITE_SYNCHRONOUS: synchronous,
          TALLY_TOKEN_KEYS: keyFile.keys.map((entry) => `${entry.id}:${entry.key}`).join(','),
        });
        pin(tally.pid(), 1);
        results.push(await load(`Tally, synchronous=${synchronous}`, tally.url, paths));
        await tally.stop();
        const db = new Database(join(tally.dataDir, 'tally.db'), { readonly: true });
        const counts = db
          .prepare(`SELECT COUNT(*) AS total, SUM(outcome = 'counted') AS counted FROM events`)
          .get() as {
          total: number;
          counted: number;
        };
        db.close();
        await tally.dispose();
        ledgers.push(`${synchronous} round ${round}: ${counts.counted} of ${counts.total} counted`);
      }
    }

    const summary = summarise(results);
    const bareRate = summary[0]?.requestsPerSecond ?? 1;
    process.stdout.write(
      `\nmean of ${ROUNDS} rounds (p99: the worst round)\ntarget                                 req/s    p50 ms  p99 ms  vs bare node:http\n`,
    );
    for (const result of summary) {
      process.stdout.write(
        `${result.name.padEnd(38)} ${result.requestsPerSecond.toFixed(0).padStart(7)}  ${result.p50Ms.toFixed(1).padStart(6)}  ${result.p99Ms.toFixed(1).padStart(6)}  ${((100 * result.requestsPerSecond) / bareRate).toFixed(0).padStart(5)} %` +
          (result.non2xx + result.errors > 0 ? `  (non-2xx ${result.non2xx}, errors ${result.errors})` : '') +
          '\n',
      );
    }
    process.stdout.write(`\nEvery answered notice was committed before its answer: ${ledgers.join('; ')}.\n`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();

// Notice throughput: fires distinct valid notices at a running Tally and prints notices/s and
// latency percentiles beside baselines measured in the same run with the same load: a bare
// node:http server answering the same GIF, and nginx's empty_gif when nginx is installed.
// The load comes from wrk (C, one thread), far lighter than any Node load generator, so the
// servers and not the generator set the pace. With taskset, wrk runs on core 0 and each server's
// main thread on core 1; Tally's counting thread joins wrk on core 0 (where wrk leaves half the
// core idle), and in one more target goes wherever the kernel puts it; one more target keeps
// Tally's ledger in memory (tmpfs), to show what the disk's syncs cost. Where /proc exists it
// also prints the CPU each side used per answered request, and the ceiling that sets, and the
// CPU time the hypervisor took from this machine (steal) during each load, round by round (on a
// shared host it varies from minute to minute, and the rates with it), and the disk and
// cross-core interrupts each load cost per answered request.
//
//   npm run bench      (BENCH_SECONDS=10 BENCH_CONNECTIONS=64 BENCH_ROUNDS=2 by default)
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { KeyRing } from '../src/domain/token.js';
import { sealToken } from '../src/domain/token.js';
import { bannerClaims } from '../test/support/claims.js';
import type { Interrupts } from './proc-counters.js';
import {
  interrupts,
  interruptsPerThousand,
  machineTicks,
  stealPercent,
  threadCpuSeconds,
} from './proc-counters.js';
import { freePort, startServer } from '../test/support/server.js';

/** Width of the target names' column. */
const NAME_WIDTH = 42;
const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '64');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '2');
/** Load before the measured load, with notices of their own: every server is measured warm. */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? '3');
const REPO = new URL('../', import.meta.url).pathname;
const LUA_SCRIPT = join(REPO, 'bench/notices.lua');

interface Result {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** CPU time per answered request, in µs, where /proc tells (Linux). */
  cpuUs: CpuPerRequest | undefined;
  /** The share of the machine's CPU time the hypervisor gave to other guests during the load, in %. */
  stealPercent: number | undefined;
  /** Interrupts the machine took during the load, per 1000 answered requests (see `Interrupts`). */
  interruptsPerThousand: Interrupts | undefined;
}

/** Where the CPU went, per answered request, in µs. */
interface CpuPerRequest {
  /** The server's main thread (its HTTP thread). */
  mainUs: number;
  /** The server's busiest other thread: Tally's counting thread. */
  busiestOtherUs: number;
  /** Every other thread of the server (V8's garbage collector helpers, libuv's pool). */
  restUs: number;
  /** The load generator, kernel time of its sockets included. */
  wrkUs: number;
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

/**
 * With `taskset`, wrk runs on core 0 and the servers' main threads on core 1; Tally's counting
 * thread joins wrk on core 0 in the "pinned" targets, and goes where the kernel puts it in the
 * "unpinned" one.
 */
const PIN = spawnSync('taskset', ['-V']).status === 0;

/** Pins a process's main thread (its thread id is its pid) to core 1; its other threads keep every core. */
function pinMainThread(pid: number | undefined): void {
  if (PIN && pid !== undefined) spawnSync('taskset', ['-cp', '1', String(pid)], { stdio: 'ignore' });
}

/** Pins the thread of process `pid` that Tally named `name` (see `nameThisThread`) to `core`. */
function pinNamedThread(pid: number | undefined, name: string, core: number): void {
  if (!PIN || pid === undefined) return;
  const tid = readdirSync(`/proc/${pid}/task`).find(
    (task) => readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim() === name,
  );
  if (tid === undefined) throw new Error(`process ${pid} has no thread named ${name}`);
  spawnSync('taskset', ['-cp', String(core), tid], { stdio: 'ignore' });
}

/**
 * A directory in memory (tmpfs), where one more target keeps Tally's ledger: the same code and the
 * same commits, each `fdatasync` returning at once, so that its rate beside `FULL`'s on the disk
 * shows what the disk's syncs cost, and beside bare node:http what the rest of Tally costs.
 */
const MEMORY_DIR = existsSync('/dev/shm') ? '/dev/shm' : undefined;

/** The files of notice paths wrk fires: one for the warm-up, one for the measured load. */
interface PathFiles {
  warmUp: string;
  measured: string;
}

/** Runs wrk for `seconds` against `baseUrl`, firing the paths in `pathsFile` in turn; its report. */
async function wrk(baseUrl: string, pathsFile: string, seconds: number): Promise<string> {
  const wrkCommand = [
    'wrk',
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    LUA_SCRIPT,
    baseUrl,
    '--',
    pathsFile,
  ];
  const [command, ...args] = PIN ? ['taskset', '-c', '0', ...wrkCommand] : wrkCommand;
  const child = spawn(command ?? 'wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let report = '';
  child.stdout.on('data', (chunk: Buffer) => (report += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${report}`);
  return report;
}

/**
 * Warms the server up with load of its own, then runs the measured load and reads wrk's report
 * and, when `serverPid` is given, the CPU each side used during it.
 */
async function load(name: string, baseUrl: string, paths: PathFiles, serverPid?: number): Promise<Result> {
  if (WARMUP_SECONDS > 0) await wrk(baseUrl, paths.warmUp, WARMUP_SECONDS);
  const serverBefore = serverPid === undefined ? new Map<string, number>() : threadCpuSeconds(serverPid);
  const machineBefore = machineTicks();
  const interruptsBefore = interrupts();
  const report = await wrk(baseUrl, paths.measured, SECONDS);
  const interruptsAfter = interrupts();
  const machineAfter = machineTicks();
  const serverAfter = serverPid === undefined ? new Map<string, number>() : threadCpuSeconds(serverPid);
  const number = (pattern: RegExp) => Number(pattern.exec(report)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  // notices.lua prints wrk's CPU time before and after the load.
  const wrkSeconds =
    number(/cpu seconds at the end: ([\d.]+)/) - number(/cpu seconds before the load: ([\d.]+)/);
  const requests = number(/(\d+) requests in/);
  return {
    name,
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    cpuUs: cpuPerRequest(serverPid, serverBefore, serverAfter, wrkSeconds, requests),
    stealPercent: stealPercent(machineBefore, machineAfter),
    interruptsPerThousand: interruptsPerThousand(interruptsBefore, interruptsAfter, requests),
    p50Ms: latencyMs(report, '50%'),
    p99Ms: latencyMs(report, '99%'),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
    errors: socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, value) => sum + Number(value), 0),
  };
}

function cpuPerRequest(
  serverPid: number | undefined,
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  wrkSeconds: number,
  requests: number,
): CpuPerRequest | undefined {
  if (serverPid === undefined || after.size === 0 || requests === 0) return undefined;
  const used = [...after].map(([tid, seconds]) => ({ tid, seconds: seconds - (before.get(tid) ?? 0) }));
  const main = used.find((thread) => thread.tid === String(serverPid))?.seconds ?? 0;
  const others = used.filter((thread) => thread.tid !== String(serverPid)).map((thread) => thread.seconds);
  const busiestOther = Math.max(0, ...others);
  const rest = others.reduce((sum, seconds) => sum + seconds, 0) - busiestOther;
  const perRequestUs = (seconds: number) => (seconds * 1e6) / requests;
  return {
    mainUs: perRequestUs(main),
    busiestOtherUs: perRequestUs(busiestOther),
    restUs: perRequestUs(rest),
    wrkUs: perRequestUs(wrkSeconds),
  };
}

/**
 * Prints where the CPU went per answered request, and the most requests a second those costs
 * allow with every core busy (a single-threaded server also stops at one core): the ceiling that
 * no scheduling of the work could pass on this machine.
 */
function printCpu(summary: readonly Result[]): void {
  const cores = availableParallelism();
  process.stdout.write(
    `\nCPU per answered request, µs (mean of the rounds), and the ceiling it sets on ${cores} cores\n` +
      `${'target'.padEnd(NAME_WIDTH)}  main  counting  other threads   wrk   total   ceiling req/s\n`,
  );
  for (const { name, cpuUs } of summary) {
    if (cpuUs === undefined) continue;
    const { mainUs, busiestOtherUs, restUs, wrkUs } = cpuUs;
    const totalUs = mainUs + busiestOtherUs + restUs + wrkUs;
    const singleThreaded = busiestOtherUs + restUs < 1;
    const ceiling = Math.min((cores * 1e6) / totalUs, singleThreaded ? 1e6 / mainUs : Infinity);
    const columns = [mainUs, busiestOtherUs, restUs, wrkUs, totalUs].map((us, index) =>
      us.toFixed(1).padStart([5, 9, 14, 5, 7][index] ?? 7),
    );
    process.stdout.write(
      `${name.padEnd(NAME_WIDTH)} ${columns.join(' ')} ${ceiling.toFixed(0).padStart(15)}\n`,
    );
  }
}

/** A percentile from wrk's latency distribution, in ms (wrk prints us, ms or s). */
function latencyMs(report: string, percentile: string): number {
  const match = new RegExp(`\\s${percentile}\\s+([\\d.]+)(us|ms|s)`).exec(report);
  if (match === null) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
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
    cpuUs: meanCpu(runs.map((run) => run.cpuUs)),
    stealPercent: meanOf(runs.map((run) => run.stealPercent)),
    interruptsPerThousand: meanInterrupts(runs.map((run) => run.interruptsPerThousand)),
  }));
}

function meanOf(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : known.reduce((sum, value) => sum + value, 0) / known.length;
}

/**
 * Prints each round: every target's rate against the same round's bare node:http, and the CPU
 * time the hypervisor took (steal) during each load. On a shared host the steal changes from
 * minute to minute and the rates with it; a round whose loads saw different steal compares them
 * unevenly.
 */
function printRounds(results: readonly Result[], targetsPerRound: number): void {
  process.stdout.write(
    '\neach round against its own bare node:http, and the CPU time the hypervisor took (steal) during each load\n',
  );
  for (let start = 0; start < results.length; start += targetsPerRound) {
    const round = results.slice(start, start + targetsPerRound);
    const bareRate = round[0]?.requestsPerSecond ?? 1;
    round.forEach((result, index) => {
      const label = index === 0 ? `round ${start / targetsPerRound + 1}` : '';
      const rate =
        index === 0
          ? `${result.requestsPerSecond.toFixed(0)} req/s`
          : `${((100 * result.requestsPerSecond) / bareRate).toFixed(0)} %`;
      const steal = result.stealPercent === undefined ? '' : `steal ${result.stealPercent.toFixed(0)} %`;
      process.stdout.write(
        `${label.padEnd(9)} ${result.name.padEnd(NAME_WIDTH)} ${rate.padStart(11)}   ${steal}\n`,
      );
    });
  }
}

function meanInterrupts(runs: readonly (Interrupts | undefined)[]): Interrupts | undefined {
  const disk = meanOf(runs.map((run) => run?.disk));
  const crossCore = meanOf(runs.map((run) => run?.crossCore));
  return disk === undefined || crossCore === undefined ? undefined : { disk, crossCore };
}

/**
 * Prints the interrupts each load cost the machine per answered request: in a virtual machine
 * each is an exit to the hypervisor or an injection by it, time the guest charges to whatever
 * thread it interrupted. A sync costs two disk interrupts (the write, then the cache flush); a
 * thread woken on another core costs a cross-core one, wrk woken by an answer as well as one of
 * Tally's threads woken by the other.
 */
function printInterrupts(summary: readonly Result[]): void {
  if (summary.every((result) => result.interruptsPerThousand === undefined)) return;
  process.stdout.write(
    '\ninterrupts per 1000 answered requests (mean of the rounds), all cores\n' +
      `${'target'.padEnd(NAME_WIDTH)}  disk  one core waking another\n`,
  );
  for (const { name, interruptsPerThousand } of summary) {
    if (interruptsPerThousand === undefined) continue;
    const { disk, crossCore } = interruptsPerThousand;
    process.stdout.write(
      `${name.padEnd(NAME_WIDTH)} ${disk.toFixed(0).padStart(5)} ${crossCore.toFixed(0).padStart(24)}\n`,
    );
  }
}

function meanCpu(runs: readonly (CpuPerRequest | undefined)[]): CpuPerRequest | undefined {
  const measured = runs.filter((run): run is CpuPerRequest => run !== undefined);
  if (measured.length === 0) return undefined;
  const mean = (pick: (run: CpuPerRequest) => number) =>
    measured.reduce((sum, run) => sum + pick(run), 0) / measured.length;
  return {
    mainUs: mean((run) => run.mainUs),
    busiestOtherUs: mean((run) => run.busiestOtherUs),
    restUs: mean((run) => run.restUs),
    wrkUs: mean((run) => run.wrkUs),
  };
}

/** Distinct notices of web banner wins, with random auction ids as exchanges send them (UUIDs). */
function tokens(ring: KeyRing, count: number): string[] {
  const auctionTimeMs = Date.now();
  return Array.from(
    { length: count },
    () => `/n/${sealToken(bannerClaims({ auctionId: randomUUID(), auctionTimeMs }), ring)}`,
  );
}

async function main(): Promise<void> {
  if (spawnSync('wrk', ['--version']).error !== undefined) {
    process.stderr.write('wrk is not installed: apt-get install -y wrk\n');
    process.exitCode = 1;
    return;
  }
  process.stdout.write(
    PIN
      ? 'wrk on core 0, the servers’ main threads on core 1, Tally’s counting thread on core 0 unless unpinned\n'
      : 'no taskset: wrk and the servers are not pinned\n',
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'tally-bench-'));
  const results: Result[] = [];
  try {
    // Tally first: it writes the token keys the load needs.
    const keys = await startServer({}, undefined, 'dist');
    await keys.stop();
    const keyFile = JSON.parse(readFileSync(join(keys.dataDir, 'token-keys.json'), 'utf8')) as {
      keys: { id: number; key: string }[];
    };
    await keys.dispose();
    const ring: KeyRing = {
      signingKeyId: keyFile.keys.at(-1)?.id ?? 1,
      keys: new Map(keyFile.keys.map((entry) => [entry.id, Buffer.from(entry.key, 'base64')])),
    };
    // Notices are never fired twice: the warm-up has its own, distinct from the measured ones.
    const paths: PathFiles = { warmUp: join(dataDir, 'warm-up.txt'), measured: join(dataDir, 'paths.txt') };
    const warmUpCount = Math.ceil(WARMUP_SECONDS * 80_000);
    const measuredCount = Math.ceil(SECONDS * 80_000);
    writeFileSync(paths.warmUp, `${tokens(ring, warmUpCount).join('\n')}\n`);
    writeFileSync(paths.measured, `${tokens(ring, measuredCount).join('\n')}\n`);
    process.stdout.write(
      `${warmUpCount + measuredCount} distinct notices prepared; ${CONNECTIONS} connections, ` +
        `${WARMUP_SECONDS} s of warm-up then ${SECONDS} s measured per target\n`,
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
        process.execPath,
        ['--import', 'tsx', 'bench/bare-gif-server.ts', String(barePort)],
        { cwd: REPO, stdio: 'ignore' },
      );
      pinMainThread(bare.pid);
      await waitForHttp(`http://127.0.0.1:${barePort}/`, bare);
      results.push(await load('bare node:http GIF', `http://127.0.0.1:${barePort}`, paths, bare.pid));
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
        const nginxCommand = ['nginx', '-c', conf, '-g', 'daemon off;'];
        const [command, ...args] = PIN ? ['taskset', '-c', '1', ...nginxCommand] : nginxCommand;
        const nginx = spawn(command ?? 'nginx', args, { stdio: 'ignore' });
        await waitForHttp(`http://127.0.0.1:${nginxPort}/`, nginx);
        results.push(await load('nginx empty_gif (1 worker)', `http://127.0.0.1:${nginxPort}`, paths));
        await stop(nginx);
      }

      const tallyTargets: { synchronous: 'FULL' | 'NORMAL'; pinCounting: boolean; inMemory: boolean }[] = [
        { synchronous: 'FULL', pinCounting: true, inMemory: false },
        { synchronous: 'NORMAL', pinCounting: true, inMemory: false },
        { synchronous: 'NORMAL', pinCounting: false, inMemory: false },
      ];
      if (MEMORY_DIR !== undefined)
        tallyTargets.push({ synchronous: 'FULL', pinCounting: true, inMemory: true });
      for (const { synchronous, pinCounting, inMemory } of tallyTargets) {
        const name =
          `Tally, synchronous=${synchronous}` +
          (pinCounting ? '' : ', unpinned') +
          (inMemory ? ', ledger in memory' : '');
        const tally = await startServer(
          {
            TALLY_SQLITE_SYNCHRONOUS: synchronous,
            TALLY_TOKEN_KEYS: keyFile.keys.map((entry) => `${entry.id}:${entry.key}`).join(','),
          },
          inMemory ? MEMORY_DIR : undefined,
          'dist',
        );
        pinMainThread(tally.pid());
        if (pinCounting) pinNamedThread(tally.pid(), 'tally-counting', 0);
        results.push(await load(name, tally.url, paths, tally.pid()));
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
        ledgers.push(`${name} round ${round}: ${counts.counted} of ${counts.total} counted`);
      }
    }

    const summary = summarise(results);
    const bareRate = summary[0]?.requestsPerSecond ?? 1;
    process.stdout.write(
      `\nmean of ${ROUNDS} rounds (p99: the worst round)\n${'target'.padEnd(NAME_WIDTH)}   req/s    p50 ms  p99 ms  vs bare node:http  steal\n`,
    );
    for (const result of summary) {
      process.stdout.write(
        `${result.name.padEnd(NAME_WIDTH)} ${result.requestsPerSecond.toFixed(0).padStart(7)}  ${result.p50Ms.toFixed(1).padStart(6)}  ${result.p99Ms.toFixed(1).padStart(6)}  ${((100 * result.requestsPerSecond) / bareRate).toFixed(0).padStart(5)} %` +
          (result.stealPercent === undefined ? '' : `  ${result.stealPercent.toFixed(0).padStart(12)} %`) +
          (result.non2xx + result.errors > 0 ? `  (non-2xx ${result.non2xx}, errors ${result.errors})` : '') +
          '\n',
      );
    }
    printRounds(results, summary.length);
    printCpu(summary);
    printInterrupts(summary);
    process.stdout.write(`\nEvery answered notice was committed before its answer: ${ledgers.join('; ')}.\n`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();

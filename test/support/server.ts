import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROWSER_BLOCKED_PORTS } from '../../src/lib/browser-blocked-ports.js';
import { tallyEntry } from './tally-entry.js';

const REPO = new URL('../../', import.meta.url).pathname;

/** A Tally server running as a real child process on a temporary data directory. */
export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  adminKey: string;
  /** The running process's id. */
  pid(): number | undefined;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM, then waits for the exit (graceful shutdown). */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the exit (a crash). */
  kill(): Promise<void>;
  /** Starts the process again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops the process and deletes the data directory. */
  dispose(): Promise<void>;
}

/** Whether something accepts TCP connections on the loopback port. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A TCP port that was free a moment ago, picked at random below the kernel's ephemeral range: a
 * test that restarts Tally on its port (the notice URLs it handed out name it) must find it free
 * again, and a port in that range could meanwhile become any connection's local port. Never one
 * `fetch` and browsers refuse to call (10080): a server there would never be seen ready. Reserved
 * for this process until it exits (see `reservePort`): no other test process picks it meanwhile.
 */
export async function freePort(): Promise<number> {
  const ephemeralFloor = firstEphemeralPort();
  for (;;) {
    const port = LOWEST_TEST_PORT + Math.floor(Math.random() * (ephemeralFloor - LOWEST_TEST_PORT));
    if (!BROWSER_BLOCKED_PORTS.has(port) && reservePort(port) && (await isFree(port))) return port;
  }
}

/**
 * Where the test processes of this user reserve the ports `freePort` picks, a file a port naming
 * the process. Free while Tally is stopped and started again on it, a port could otherwise be
 * picked by a test file running beside, or by another run of the suite, and taken first.
 */
const RESERVED_PORTS_DIR = join(tmpdir(), `tally-test-ports-${process.getuid?.() ?? 'user'}`);

/** The ports this process reserved, given back as it exits. */
const reservedPorts = new Set<number>();

/**
 * Reserves `port` for this process until it exits; false when it is reserved already, by this
 * process (`freePort` gave it before) or by another that still runs. One a process that ended
 * without giving it back (killed) reserved is taken over.
 */
function reservePort(port: number): boolean {
  if (reservedPorts.has(port)) return false;
  mkdirSync(RESERVED_PORTS_DIR, { recursive: true });
  const file = join(RESERVED_PORTS_DIR, String(port));
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      if (reservedPorts.size === 0) process.once('exit', releasePorts);
      reservedPorts.add(port);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(file, 'utf8'));
    } catch {
      continue; // given back meanwhile
    }
    if (isRunning(holder)) return false;
    rmSync(file, { force: true });
  }
  return false;
}

/** Whether process `pid` runs; a reservation file still being written, naming none yet, counts as running. */
function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Gives back every port this process reserved. */
function releasePorts(): void {
  for (const port of reservedPorts) rmSync(join(RESERVED_PORTS_DIR, String(port)), { force: true });
}

/** The lowest port `freePort` picks: above the well-known services' (PostgreSQL, Redis, NATS…). */
const LOWEST_TEST_PORT = 10_000;

/** The first port of the kernel's ephemeral range (Linux's default where it cannot be read or is too low). */
function firstEphemeralPort(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    return first > LOWEST_TEST_PORT + 1000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether a server could listen on the loopback `port` just now. */
function isFree(port: number): Promise<boolean> {
  return holdPort(port).then(
    async (held) => {
      await held.release();
      return true;
    },
    () => false,
  );
}

/** A loopback port some other server listens on, for a Tally that must fail to take it. */
export interface HeldPort {
  port: number;
  release(): Promise<void>;
}

/** Listens on the loopback `port` (a free one by default) until `release()`; rejects if it is taken. */
export async function holdPort(port = 0): Promise<HeldPort> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A CLI command still running after this long is killed, and the run fails. Generous: on a
 * loaded 2-core machine (CI, with another test file and other jobs beside it) starting
 * `node --import tsx` on Tally's sources alone has been seen to take 45 s.
 */
const CLI_TIMEOUT_MS = 120_000;

/** The unprivileged user and group id (`nobody`, `nogroup`) of {@link runCli}'s `unprivileged`. */
const NOBODY = 65534;

/**
 * The environment a test starts Tally (or `npm start`) in: this process's without its `TALLY_*`
 * variables, which a developer's shell may hold (a `TALLY_PUBLIC_URL`, a `TALLY_CONFIG`) and which
 * would change or refuse the configuration the test gives, then `TALLY_MIN_FREE_DISK_MB=0`, then
 * `env`. The free-disk floor is off unless a test sets it: at its default (512 MiB) a Tally whose
 * data directory is on a smaller temporary disk (a CI runner's tmpfs, Docker's 64 MiB /dev/shm
 * under the benchmark's ledger in memory) is never ready, and the test or benchmark waits for it
 * in vain.
 */
export function tallyEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('TALLY_'));
  return { ...Object.fromEntries(inherited), TALLY_MIN_FREE_DISK_MB: '0', ...env };
}

/**
 * Runs the CLI (`src/cli/main.ts`, compiled: see `tallyEntry`) with extra environment, returning
 * its exit code and output; rejects when it is still running after `CLI_TIMEOUT_MS` (a `serve`
 * that should have refused to start, say), having killed it.
 */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  { unprivileged = false }: { unprivileged?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [tallyEntry(), ...args], {
    cwd: REPO,
    env: tallyEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Root reads and writes any file: run as `nobody`, files root owns are as closed to it as
    // another user's are to Tally.
    ...(unprivileged && process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? 1)));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tally ${args.join(' ')} still ran after ${CLI_TIMEOUT_MS} ms:\n${stdout}${stderr}`));
    }, CLI_TIMEOUT_MS);
  });
  try {
    return { code: await Promise.race([exited, timedOut]), stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** A `tally serve` child process, and what it printed so far. */
export interface ServeProcess {
  child: ChildProcess;
  /** Its stdout and stderr, interleaved as they arrived. */
  output: () => string;
  /** Its stdout alone. */
  stdout: () => string;
  /** Its stderr alone: what it tells the operator at the console. */
  stderr: () => string;
}

/**
 * How a test runs Tally: compiled into test-build/ (see `tallyEntry`); compiled into dist/ as
 * `npm start` runs it, for the benchmark; or from its TypeScript sources through tsx, for a test
 * that preloads a TypeScript module of its own into every thread of it (`NODE_OPTIONS=--import=tsx
 * --import=<module>.ts`), which a thread of the compiled Tally cannot load.
 */
export type TallyBuild = 'compiled' | 'dist' | 'sources';

/** The arguments of `node` that run Tally's CLI as `build` says. */
function cliArgs(build: TallyBuild): string[] {
  if (build === 'sources') return ['--import', 'tsx', 'src/cli/main.ts'];
  return [tallyEntry(build === 'dist' ? 'dist' : 'test-build')];
}

/**
 * Spawns `tally serve` on loopback `port`, its data in `dataDir`, with the extra `env`, compiled
 * unless `build` says otherwise (see {@link TallyBuild}).
 */
export function spawnServe(
  dataDir: string,
  port: number,
  env: Record<string, string>,
  build: TallyBuild = 'compiled',
): ServeProcess {
  const child = spawn(process.execPath, [...cliArgs(build), 'serve'], {
    cwd: REPO,
    env: tallyEnv({ TALLY_DATA_DIR: dataDir, TALLY_PORT: String(port), TALLY_HOST: '127.0.0.1', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr };
}

/**
 * How long a server may take to answer `/readyz` 200. A process that exits is reported at once,
 * so this bounds only a hung start: on a loaded 2-core machine, compiling and loading the sources
 * through tsx has been seen to take over 40 s before the first log line.
 */
const READY_TIMEOUT_MS = 120_000;

/**
 * Waits until the server at `url` answers `/readyz` 200; throws, with what it printed, when it
 * exits first or is not ready within `READY_TIMEOUT_MS` (stopping it is then the caller's).
 */
export async function untilReady(serve: Pick<ServeProcess, 'child' | 'output'>, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (serve.child.exitCode !== null)
      throw new Error(`tally exited with ${serve.child.exitCode}:\n${serve.output()}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`tally did not become ready:\n${serve.output()}`);
}

/** How many free ports `serveOnFreePort` tries, should another process take each first. */
const PORT_TRIES = 3;

/** A `tally serve` child process that answered `/readyz` 200, with its loopback port and URL. */
export interface ReadyServe {
  serve: ServeProcess;
  port: number;
  url: string;
}

/**
 * Spawns `tally serve` (see `spawnServe`, run as `build` says) on a free loopback port and waits
 * until it is ready (see `untilReady`). Another process may take the free port before Tally
 * listens on it, seconds later on a loaded machine: Tally is then started on another, up to
 * `PORT_TRIES` ports. A process that never became ready is killed before this throws.
 */
export async function serveOnFreePort(
  dataDir: string,
  env: Record<string, string>,
  build: TallyBuild = 'compiled',
): Promise<ReadyServe> {
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const serve = spawnServe(dataDir, port, env, build);
    try {
      await untilReady(serve, url);
      return { serve, port, url };
    } catch (error) {
      if (serve.child.exitCode === null && serve.child.signalCode === null) {
        const exited = once(serve.child, 'exit');
        serve.child.kill('SIGKILL');
        await exited;
      }
      if (tries === PORT_TRIES || !/is already in use/.test(String(error))) throw error;
    }
  }
}

/**
 * Starts Tally (`serve`, run as `build` says: see {@link TallyBuild}) with the given extra
 * environment and waits until `/readyz` answers 200. Its data directory is made in `dataParentDir`
 * (the system's temporary directory by default).
 */
export async function startServer(
  env: Record<string, string> = {},
  dataParentDir: string = tmpdir(),
  build: TallyBuild = 'compiled',
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(dataParentDir, 'tally-test-'));
  const adminKey = 'test-admin-key-0123456789';
  const serveEnv = {
    TALLY_ADMIN_KEY: adminKey,
    // The tests' DSP listens on loopback, which a production Tally refuses to call.
    TALLY_BURL_PRIVATE_NETWORKS: 'allow',
    ...env,
  };
  let started: ReadyServe;
  try {
    started = await serveOnFreePort(dataDir, serveEnv, build);
  } catch (error) {
    // A server that never became ready is not left behind, nor its data directory.
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { port, url } = started;
  let serve = started.serve;

  const exit = async (signal: NodeJS.Signals) => {
    const running = serve.child;
    if (running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    await exited;
  };

  return {
    url,
    port,
    dataDir,
    adminKey,
    pid: () => serve.child.pid,
    output: () => serve.output(),
    stop: () => exit('SIGTERM'),
    kill: () => exit('SIGKILL'),
    async restart() {
      serve = spawnServe(dataDir, port, serveEnv, build);
      await untilReady(serve, url);
    },
    async dispose() {
      await exit('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Calls the API with the given key; JSON in, parsed JSON (or text) out. */
export async function api(
  server: Pick<TestServer, 'url'>,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

import { spawnSync } from 'node:child_process';

/** How long a script may run before it is killed: a call that loops forever fails its test. */
const SCRIPT_TIMEOUT_MS = 30_000;

/**
 * Runs the ES module `script` (TypeScript imports allowed) in a child Node process, killed with
 * SIGKILL past 30 s: for a synchronous call that may never return, which nothing in the test's
 * own process could interrupt. `signal` is null when the script ended on its own.
 */
export function runBoundedScript(script: string): {
  stdout: string;
  stderr: string;
  signal: NodeJS.Signals | null;
} {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: SCRIPT_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  return { stdout: child.stdout, stderr: child.stderr, signal: child.signal };
}

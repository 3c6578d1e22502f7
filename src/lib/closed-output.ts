import type { Readable, Writable } from 'node:stream';
import type { Worker } from 'node:worker_threads';

/**
 * Keeps the process running when the reader of its stdout or stderr goes away (a log pipeline or
 * journald restarted, `tally serve | head`): a write then fails with EPIPE, and that error,
 * unhandled, would end the process, answering no more notices. The lines written from then on
 * are lost (the worker threads' too, see {@link forwardThreadOutput}); the first failure of stdout
 * is said once on stderr, should that still be read.
 */
export function surviveClosedOutput(): void {
  let said = false;
  process.stdout.on('error', (error) => {
    if (said) return;
    said = true;
    process.stderr.write(
      `Tally's stdout failed (${String(error)}): its JSON log lines from now on are lost; it goes on serving\n`,
    );
  });
  process.stderr.on('error', () => {});
}

/**
 * Writes the output of `worker`, started with `stdout: true` and `stderr: true`, to the process's
 * own stdout and stderr (see {@link forwardOutput}).
 */
export function forwardThreadOutput(worker: Worker): void {
  forwardOutput(worker.stdout, process.stdout);
  forwardOutput(worker.stderr, process.stderr);
}

/**
 * Writes what `source` gives to `destination`, reading `source` always: once `destination` has
 * failed, what follows is dropped. (`pipe` stops reading at the failure, and the thread's lines
 * would then wait in memory for as long as it runs, at the rate it logs.)
 */
export function forwardOutput(source: Readable, destination: Writable): void {
  source.on('data', (chunk: Buffer) => {
    if (!destination.destroyed && destination.errored === null) destination.write(chunk);
  });
}

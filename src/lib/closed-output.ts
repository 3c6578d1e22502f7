/**
 * Keeps the process running when the reader of its stdout or stderr goes away (a log pipeline or
 * journald restarted, `tally serve | head`): a write then fails with EPIPE, and that error,
 * unhandled, would end the process, answering no more notices. The lines written from then on
 * are lost (those of the worker threads wait in their own memory); the first failure of stdout
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

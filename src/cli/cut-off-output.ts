/**
 * Says, in one line on stderr, when a command's stdout fails (its reader went away:
 * `tally list-accounts | head`), rather than end with Node's stack trace for the unhandled
 * EPIPE; what the command changed stands, and only its output is lost. The command then exits 1,
 * whatever it answers (see `exitCode`). A failing stderr is ignored: nothing can be said there.
 */
export function reportCutOffOutput(command: string): { exitCode(answered: number): number } {
  let cutOff = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (cutOff) return;
    cutOff = true;
    process.exitCode = 1;
    process.stderr.write(
      `tally ${command}: its output was cut off, as the reader of its stdout went away (${error.code ?? String(error)}); what it did stands\n`,
    );
  });
  process.stderr.on('error', () => {});
  return { exitCode: (answered) => (cutOff ? 1 : answered) };
}

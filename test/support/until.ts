/**
 * How long `until` looks for a state the server reaches on its own. It bounds a state that never
 * comes, not a speed: the outbox's first call of a burl, a few 200 ms polls on an idle machine,
 * has to share a loaded 2-core machine with another test file and other jobs.
 */
const UNTIL_TIMEOUT_MS = 30_000;

/** How long `until` waits between two looks. */
const LOOK_INTERVAL_MS = 50;

/**
 * Looks with `look` until it answers something other than `undefined` or `false`, and answers
 * that: for a state the server reaches after the call that causes it was answered (a delivery the
 * outbox marks delivered or dead on its own thread). Fails, saying it never saw `what`, after
 * `timeoutMs`.
 */
export async function until<T>(
  look: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = UNTIL_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`never saw ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, LOOK_INTERVAL_MS));
  }
}

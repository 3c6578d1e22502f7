import { writeFileSync } from 'node:fs';

/**
 * Names the calling thread for the operating system (`top -H`, `ps -L`, `/proc/<pid>/task`), e.g.
 * `tally-counting`, so that operators (and the benchmark) can tell Tally's threads apart and pin
 * one to a core. Linux keeps at most 15 characters; elsewhere this does nothing.
 */
export function nameThisThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux: the thread keeps its name.
  }
}

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's `faketime` package puts its thread-safe library, by architecture. */
const LIBRARY_CANDIDATES = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map(
  (triplet) => `/usr/lib/${triplet}/faketime/libfaketimeMT.so.1`,
);

/**
 * A wall clock a test moves while the process it starts runs (libfaketime, preloaded): `env` is
 * the environment that process needs, and `step` sets its clock's offset from the real one
 * (`+0`, `+1d`, `-1h`) or holds it at an absolute UTC time. Monotonic clocks (`performance.now()`,
 * Node's timers) stay real, as a host's do when NTP steps its wall clock.
 */
export interface FakeClock {
  env: Record<string, string>;
  step(offset: string): void;
  dispose(): void;
}

/** A {@link FakeClock} at the real time; throws, saying what to install, without libfaketime. */
export function fakeClock(): FakeClock {
  const library = LIBRARY_CANDIDATES.find((path) => existsSync(path));
  if (library === undefined)
    throw new Error(
      `libfaketime is missing (none of ${LIBRARY_CANDIDATES.join(', ')}): apt-get install faketime`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'tally-fake-clock-'));
  const file = join(dir, 'offset');
  const step = (offset: string) => writeFileSync(file, `${offset}\n`);
  step('+0');
  return {
    env: {
      LD_PRELOAD: library,
      FAKETIME_TIMESTAMP_FILE: file,
      // Read at every call, so that a step takes effect at once.
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      // An absolute time (`2026-12-07 10:00:00`) is read in UTC, where no hour repeats as a local
      // zone's does when its clocks go back.
      TZ: 'UTC',
    },
    step,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

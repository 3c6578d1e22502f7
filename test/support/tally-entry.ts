import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const REPO = new URL('../../', import.meta.url).pathname;

/**
 * Where `scripts/run-tests.mjs` compiles Tally's sources before the tests under test/ run (`tsc -p
 * tsconfig.build.json --outDir test-build`): they start Tally from there, as `npm start` starts it
 * from dist/, rather than through tsx, whose start-up takes about a second more a server.
 */
const BUILD_DIR = join(REPO, 'test-build');

/** The compiled CLI, `src/cli/main.ts`'s `.js` in {@link BUILD_DIR}. */
const ENTRY = join(BUILD_DIR, 'src', 'cli', 'main.js');

/** The newest modification time, in ms, of the files Tally compiles from (its sources and tsconfigs). */
function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

let checked: string | undefined;

/**
 * The path of the compiled CLI a test starts Tally with (`node <it> serve`); throws when it is
 * missing or older than a source it is compiled from, rather than let a test prove what an older
 * Tally did.
 */
export function tallyEntry(): string {
  if (checked !== undefined) return checked;
  const sourcesMs = Math.max(
    newestSourceMs(join(REPO, 'src')),
    statSync(join(REPO, 'tsconfig.json')).mtimeMs,
    statSync(join(REPO, 'tsconfig.build.json')).mtimeMs,
  );
  let builtMs: number;
  try {
    builtMs = statSync(ENTRY).mtimeMs;
  } catch {
    builtMs = -1;
  }
  if (builtMs < sourcesMs)
    throw new Error(
      `${ENTRY} is ${builtMs < 0 ? 'missing' : 'older than the sources'}: run the tests with ` +
        '`node scripts/run-tests.mjs <file>`, which compiles them there first',
    );
  checked = ENTRY;
  return ENTRY;
}

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const REPO = new URL('../../', import.meta.url).pathname;

/**
 * Where Tally's sources are compiled to: `test-build`, where `scripts/run-tests.mjs` compiles them
 * before the tests under test/ run (`tsc -p tsconfig.build.json --outDir test-build`), for the
 * tests to start Tally from there rather than through tsx, whose start-up takes about a second more
 * a server; or `dist`, where `npm run build` compiles them and `npm start` runs them from, for the
 * benchmark to load what an operator runs.
 */
export type BuildDir = 'test-build' | 'dist';

/** The command that compiles the sources into each build directory. */
const HOW_TO_BUILD: Record<BuildDir, string> = {
  'test-build': 'run the tests with `node scripts/run-tests.mjs <file>`, which compiles them there first',
  dist: 'run `npm run build` first (`npm run bench` does)',
};

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

const checked = new Set<BuildDir>();

/**
 * The path of the compiled CLI in `buildDir` (`src/cli/main.ts`'s `.js`) a test or benchmark starts
 * Tally with (`node <it> serve`); throws when it is missing or older than a source it is compiled
 * from, rather than let a test prove, or a benchmark time, what an older Tally did.
 */
export function tallyEntry(buildDir: BuildDir = 'test-build'): string {
  const entry = join(REPO, buildDir, 'src', 'cli', 'main.js');
  if (checked.has(buildDir)) return entry;
  const sourcesMs = Math.max(
    newestSourceMs(join(REPO, 'src')),
    statSync(join(REPO, 'tsconfig.json')).mtimeMs,
    statSync(join(REPO, 'tsconfig.build.json')).mtimeMs,
  );
  let builtMs: number;
  try {
    builtMs = statSync(entry).mtimeMs;
  } catch {
    builtMs = -1;
  }
  if (builtMs < sourcesMs)
    throw new Error(
      `${entry} is ${builtMs < 0 ? 'missing' : 'older than the sources'}: ${HOW_TO_BUILD[buildDir]}`,
    );
  checked.add(buildDir);
  return entry;
}

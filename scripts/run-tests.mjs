// Runs every *.test.ts under src/ and test/ with Node's own test runner (TypeScript via tsx).
// Exits non-zero when any test fails; there is no skip switch.
// The tests under test/ start Tally as a process: from its sources compiled first into
// test-build/ (see test/support/tally-entry.ts), as `npm start` runs it from dist/, rather than
// through tsx, whose start-up takes about a second more a server; not into dist/ itself, which the
// test of `npm start` compiles again while other files' servers would be loading from it.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((dir) => find(dir))
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
if (files.some((file) => file.startsWith(`test${sep}`))) {
  // Emptied first: tsc leaves the output of a source since deleted or moved (a thread's worker.ts,
  // loaded by its name), which would let a run pass that a fresh clone fails.
  rmSync('test-build', { recursive: true, force: true });
  const build = spawnSync(
    process.execPath,
    ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', 'test-build'],
    { stdio: 'inherit' },
  );
  if (build.status !== 0) {
    console.error('the sources did not compile into test-build/: the tests did not run');
    process.exit(1);
  }
}
/**
 * The whole run's limit. A test that fails before stopping a worker thread or a timer it started
 * keeps its file's process, and the run, waiting: past the limit the run is killed and fails.
 * (Not `--test-force-exit`: on Node 20 it sometimes ends a file's process before the file's
 * last suites ran, and the run still passes.)
 */
const RUN_TIMEOUT_MS = 20 * 60_000;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' },
);
if (result.error !== undefined) {
  console.error(`the tests did not finish: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);

import assert from 'node:assert/strict';
import { runBoundedScript } from '../../test/support/bounded-script.js';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeDirectory } from './make-dir.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-make-dir-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The fs error code `makeDirectory(path)` throws, or `undefined` when it throws none. */
function codeOf(path: string): string | undefined {
  try {
    makeDirectory(path);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

describe('making a directory', () => {
  it('creates the directory and each missing parent', () => {
    const path = join(dir, 'a', 'b', 'c');
    makeDirectory(path);
    assert.equal(statSync(path).isDirectory(), true, 'the directory is made');
  });

  it('accepts a directory that exists, leaving what it holds', () => {
    const path = mkdtempSync(join(dir, 'existing-'));
    writeFileSync(join(path, 'kept'), 'x');
    makeDirectory(path);
    assert.equal(statSync(join(path, 'kept')).isFile(), true, 'the file in it is kept');
  });

  it('creates a relative path under the working directory', () => {
    const path = join(dir, 'relative-base');
    mkdirSync(path);
    const cwd = process.cwd();
    process.chdir(path);
    try {
      makeDirectory(join('x', 'y'));
    } finally {
      process.chdir(cwd);
    }
    assert.equal(
      statSync(join(path, 'x', 'y')).isDirectory(),
      true,
      'the relative path is made in the working directory',
    );
  });

  it('refuses a path that is a file with EEXIST, and one under a file with ENOTDIR, as recursive mkdir does', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    assert.equal(codeOf(file), 'EEXIST');
    assert.equal(codeOf(join(file, 'sub', 'dir')), 'ENOTDIR');
  });

  it('throws the ENOENT of a directory /proc will not make at once, where recursive mkdir retries forever', () => {
    // In a child process, killed after 30 s: the endless retry is one synchronous call.
    const module = new URL('./make-dir.ts', import.meta.url).href;
    const script =
      `import { makeDirectory } from ${JSON.stringify(module)};\n` +
      `for (const path of ['/proc/tally-x', '/proc/tally-x/data']) {\n` +
      `  try { makeDirectory(path); console.log(path, 'made'); }\n` +
      `  catch (error) { console.log(path, error.code); }\n` +
      `}\n`;
    const child = runBoundedScript(script);
    assert.equal(child.signal, null, `still making the directory after 30 s: ${child.stderr}`);
    assert.equal(child.stdout, '/proc/tally-x ENOENT\n/proc/tally-x/data ENOENT\n', child.stderr);
  });
});

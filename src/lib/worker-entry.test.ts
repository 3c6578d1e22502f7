import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workerEntry } from './worker-entry.js';

describe('a worker thread’s entry', () => {
  it('is the compiled module beside the caller when Tally runs from JavaScript', () => {
    assert.deepEqual(workerEntry('file:///srv/tally/dist/src/lib/request-thread.js', 'worker'), {
      filename: new URL('file:///srv/tally/dist/src/lib/worker.js'),
      evaluate: false,
    });
  });

  it('loads the TypeScript module beside the caller through tsx when Tally runs from its sources', () => {
    const entry = workerEntry('file:///srv/tally/src/lib/request-thread.ts', 'worker');
    assert.equal(entry.evaluate, true);
    assert.match(
      String(entry.filename),
      /tsx\.register\(\); return import\("file:\/\/\/srv\/tally\/src\/lib\/worker\.ts"\)/,
    );
  });
});

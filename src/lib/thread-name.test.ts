import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';

describe('naming a thread', () => {
  // Linux only, as Tally's CI: elsewhere there is no /proc to read the names from.
  it('names the calling thread alone, cut to the 15 characters Linux keeps', async () => {
    const processName = readFileSync('/proc/self/comm', 'utf8');
    const tsx = import.meta.resolve('tsx/esm/api');
    const module = new URL('./thread-name.ts', import.meta.url).href;
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
        const { readFileSync } = require('node:fs');
        import(${JSON.stringify(tsx)})
          .then((tsx) => { tsx.register(); return import(${JSON.stringify(module)}); })
          .then(({ nameThisThread }) => {
            nameThisThread('tally-counting-thread');
            parentPort.postMessage(readFileSync('/proc/thread-self/comm', 'utf8'));
          });`,
      { eval: true },
    );
    const name = await new Promise<string>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.equal(name, 'tally-counting-\n');
    assert.equal(readFileSync('/proc/self/comm', 'utf8'), processName, 'the process’s own name changed');
  });
});

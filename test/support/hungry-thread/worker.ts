// A request thread for tests: answers "fed" to any request but "hungry", for which it takes memory
// until the thread runs out of it.
import { parentPort } from 'node:worker_threads';
import { serveRequests } from '../../../src/lib/request-thread.js';

if (parentPort === null) throw new Error('test/support/hungry-thread/worker.ts runs as a worker thread');
serveRequests(parentPort, (request: string): string => {
  if (request !== 'hungry') return 'fed';
  const held: { at: number; text: string }[] = [];
  for (let at = 0; ; at++) held.push({ at, text: `row ${at}` });
});

// Run as a process of its own with a small heap (`--max-old-space-size`, which worker threads take
// too): asks the hungry thread (worker.ts) for "hungry" and, queued behind it, "fed", then, once
// the thread has died, "fed" again, and prints how each request ended, as JSON.
import { RequestThread } from '../../../src/lib/request-thread.js';

const thread = new RequestThread<string, string>('hungry', import.meta.url, undefined);
// The thread does not keep the process alive (it is unref'd): this does, until the answers came.
const alive = setInterval(() => {}, 1000);
const ended = async (request: Promise<string>) => {
  try {
    return { answer: await request };
  } catch (error) {
    return { error: error instanceof Error ? error.name : String(error) };
  }
};
const first = await Promise.all([ended(thread.request('hungry')), ended(thread.request('fed'))]);
const after = await ended(thread.request('fed'));
await thread.close();
clearInterval(alive);
process.stdout.write(JSON.stringify([...first, after]));

import { Worker } from 'node:worker_threads';
import { forwardThreadOutput } from './closed-output.js';

/**
 * How to start the worker thread whose module is `name` beside `moduleUrl` (the caller's
 * `import.meta.url`): the compiled `.js`, or, when Tally runs from its TypeScript sources (tests,
 * benchmarks), the `.ts` through tsx's loader, which a worker thread does not inherit.
 */
export function workerEntry(moduleUrl: string, name: string): { filename: string | URL; evaluate: boolean } {
  if (!moduleUrl.endsWith('.ts')) {
    return { filename: new URL(`./${name}.js`, moduleUrl), evaluate: false };
  }
  const entry = new URL(`./${name}.ts`, moduleUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return {
    filename: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`,
    evaluate: true,
  };
}

/**
 * Starts the worker thread whose module is `worker` beside `moduleUrl` (see {@link workerEntry})
 * with `workerData`, its stdout and stderr written to the process's own as they come
 * ({@link forwardThreadOutput}).
 */
export function startWorkerThread(moduleUrl: string, workerData: unknown): Worker {
  const entry = workerEntry(moduleUrl, 'worker');
  const worker = new Worker(entry.filename, {
    eval: entry.evaluate,
    stdout: true,
    stderr: true,
    workerData,
  });
  forwardThreadOutput(worker);
  return worker;
}

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

import { Worker } from 'node:worker_threads';

/**
 * Start a worker thread on the module `name` (without extension) next to `here` (the caller's import.meta.url):
 * `name.js` when running compiled JS (dist/); under tsx (tests, `npm run bench`) the `.ts` module is loaded through
 * an eval bootstrap that registers tsx's ESM loader first, because `new Worker('x.ts')` fails with
 * ERR_UNKNOWN_FILE_EXTENSION.
 */
export function spawnWorker(here: string, name: string, workerData: unknown): Worker {
  if (here.endsWith('.ts')) {
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL(`./${name}.ts`, here).href;
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true, workerData });
  }
  return new Worker(new URL(`./${name}.js`, here), { workerData });
}

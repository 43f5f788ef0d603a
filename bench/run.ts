/**
 * `npm run bench`: every benchmark in one run, each reporting ratios against a reference measured in the
 * same run (numpy via python3 where the issue asks for it). Writes bench/results/<name>.json and
 * bench/results/summary.md. `npm run bench -- --only learner,moments` runs a subset; `--long` adds the
 * long sweeps (e.g. 1e7 rows).
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');

/** name → [module file, exported function]. Modules are optional so a partial checkout still benches. */
const BENCHES: [string, string, string][] = [
  ['linalg', 'linalg.ts', 'benchLinalg'],
  ['decomposition', 'decomposition.ts', 'benchDecomposition'],
  ['moments', 'moments.ts', 'benchMoments'],
  ['learner', 'learner.ts', 'benchLearner'],
  ['brnn', 'brnn.ts', 'benchBRNN'],
  ['io', 'io.ts', 'benchIO'],
  ['refine', 'refine.ts', 'benchRefine'],
  ['poly', 'poly.ts', 'benchPoly'],
  ['bptt', 'bptt.ts', 'benchBPTT'],
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const onlyIdx = args.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set(args[onlyIdx + 1].split(',')) : null;
  process.env.GLOREE_BENCH_LONG = args.includes('--long') ? '1' : (process.env.GLOREE_BENCH_LONG ?? '');
  mkdirSync(resultsDir, { recursive: true });
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
  const summary: string[] = [`# gloree benchmark results`, '', `Machine: ${machine.cpus} × ${machine.cpu}, ${machine.memGiB} GiB, Node ${machine.node}; run ${machine.date}.`, ''];
  for (const [name, file, fn] of BENCHES) {
    if (only && !only.has(name)) continue;
    const full = path.join(here, file);
    if (!existsSync(full)) continue;
    process.stdout.write(`\n=== ${name} ===\n`);
    const t0 = performance.now();
    try {
      const mod = (await import(pathToFileURL(full).href)) as Record<string, () => Promise<unknown>>;
      const result = (await mod[fn]()) as { markdown?: string } & Record<string, unknown>;
      const seconds = (performance.now() - t0) / 1000;
      writeFileSync(path.join(resultsDir, `${name}.json`), JSON.stringify({ machine, seconds, result }, null, 2) + '\n');
      summary.push(`## ${name} (${seconds.toFixed(1)} s)`, '', typeof result?.markdown === 'string' ? result.markdown : '```\n' + JSON.stringify(result, null, 2).slice(0, 4000) + '\n```', '');
    } catch (e) {
      process.stdout.write(`bench ${name} failed: ${(e as Error).stack}\n`);
      summary.push(`## ${name}`, '', `FAILED: ${(e as Error).message}`, '');
    }
  }
  writeFileSync(path.join(resultsDir, 'summary.md'), summary.join('\n') + '\n');
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), resultsDir)}/*.json and summary.md\n`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

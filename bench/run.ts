/**
 * `npm run bench`: every benchmark in one run, each reporting ratios against a reference measured in the
 * same run (numpy via python3 where the issue asks for it). Writes bench/results/<name>.json and
 * bench/results/summary.md. `npm run bench -- --only learner,moments` runs a subset; `--long` adds the
 * long sweeps (e.g. 1e7 rows).
 *
 * Each benchmark runs in its own Node process: worker threads that transfer buffers, or importing
 * TensorFlow.js, slow later typed-array loops in the same process (≈ 20% measured), which would bias
 * whatever ran next.
 */
import { mkdirSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
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
  ['activations', 'activations.ts', 'benchActivations'],
  ['import', 'import.ts', 'benchImport'],
  ['sql', 'sql.ts', 'benchSQL'],
  ['memory', 'memory.ts', 'benchMemory'],
];

async function runChild(name: string, resultFile: string): Promise<void> {
  const entry = BENCHES.find((b) => b[0] === name);
  if (!entry) throw new Error(`unknown bench ${name}`);
  const mod = (await import(pathToFileURL(path.join(here, entry[1])).href)) as Record<string, () => Promise<unknown>>;
  const result = await mod[entry[2]]();
  writeFileSync(resultFile, JSON.stringify(result));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const childIdx = args.indexOf('--child');
  if (childIdx >= 0) return runChild(args[childIdx + 1], args[childIdx + 2]);
  const onlyIdx = args.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set(args[onlyIdx + 1].split(',')) : null;
  const env = { ...process.env, GLOREE_BENCH_LONG: args.includes('--long') ? '1' : (process.env.GLOREE_BENCH_LONG ?? '') };
  mkdirSync(resultsDir, { recursive: true });
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() };
  const summary: string[] = [`# gloree benchmark results`, '', `Machine: ${machine.cpus} × ${machine.cpu}, ${machine.memGiB} GiB, Node ${machine.node}; run ${machine.date}.`, ''];
  const self = fileURLToPath(import.meta.url);
  for (const [name, file] of BENCHES) {
    if (only && !only.has(name)) continue;
    if (!existsSync(path.join(here, file))) continue;
    process.stdout.write(`\n=== ${name} ===\n`);
    const t0 = performance.now();
    const resultFile = path.join(resultsDir, `.${name}.partial.json`);
    const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', name, resultFile], { stdio: 'inherit', env });
    const seconds = (performance.now() - t0) / 1000;
    if (child.status !== 0 || !existsSync(resultFile)) {
      process.stdout.write(`bench ${name} failed (exit ${child.status})\n`);
      summary.push(`## ${name}`, '', `FAILED (exit ${child.status}); see the console output.`, '');
      continue;
    }
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as { markdown?: string } & Record<string, unknown>;
    writeFileSync(path.join(resultsDir, `${name}.json`), JSON.stringify({ machine, seconds, result }, null, 2) + '\n');
    summary.push(`## ${name} (${seconds.toFixed(1)} s)`, '', typeof result?.markdown === 'string' ? result.markdown : '```\n' + JSON.stringify(result, null, 2).slice(0, 4000) + '\n```', '');
    rmSync(resultFile, { force: true });
  }
  writeFileSync(path.join(resultsDir, 'summary.md'), summary.join('\n') + '\n');
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), resultsDir)}/*.json and summary.md\n`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

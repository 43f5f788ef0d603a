/**
 * Learner benchmarks (issue 4): learning curves on planted scenarios (held-out NMSE of the spectral
 * estimate, of the default learner with refinement, and of the U = 0 model; U error up to symmetries; time),
 * and `gloree fit` on CSV files of 1e5 and 1e6 rows (1e7 with --long) as a separate process: wall time and
 * peak RSS, to show linear time and flat memory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Matrix } from '../src/linalg/matrix.js';
import { SCENARIOS, simulateScenario } from '../src/models/simulate.js';
import { IORNNParams } from '../src/models/params.js';
import { predictIORNN } from '../src/models/iornn.js';
import { nmse } from '../src/metrics/nmse.js';
import { parameterErrors } from '../src/metrics/parameters.js';
import { fitGloree } from '../src/learn/gloree.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface CurveRow {
  scenario: string;
  rows: number;
  nmseUZero: number;
  nmseSpectral: number;
  nmseRefined: number;
  errUSpectral: number;
  errURefined: number;
  secondsSpectral: number;
  secondsRefined: number;
}

async function curve(name: string, nSeqs: number[]): Promise<CurveRow[]> {
  const sc = SCENARIOS[name];
  const test = simulateScenario(sc, { nSeq: 2000, seed: 999 });
  const out: CurveRow[] = [];
  for (const nSeq of nSeqs) {
    const train = simulateScenario(sc, { nSeq, seed: 17 });
    const truth = train.model as IORNNParams;
    let t = performance.now();
    const spec = await fitGloree(train.data, { hidden: sc.dh, refine: false, seed: 1 });
    const secondsSpectral = (performance.now() - t) / 1000;
    t = performance.now();
    const full = await fitGloree(train.data, { hidden: sc.dh, seed: 1 });
    const secondsRefined = (performance.now() - t) / 1000;
    const d = spec.diagnostics;
    const spectral: IORNNParams = { ...spec.params, A1: Matrix.from(d.spectral.A1), U: Matrix.from(d.spectral.U), A2: Matrix.from(d.spectral.A2), b: Float64Array.from(d.spectral.b) };
    const ff: IORNNParams = { ...spec.params, U: new Matrix(sc.dh, sc.dh), A2: Matrix.from(d.feedforward!.A2), b: Float64Array.from(d.feedforward!.b) };
    const score = (p: IORNNParams): number => nmse(predictIORNN(p, test.data), test.clean, sc.dy);
    const row: CurveRow = {
      scenario: name,
      rows: train.data.rows,
      nmseUZero: score(ff),
      nmseSpectral: score(spectral),
      nmseRefined: score(full.params),
      errUSpectral: parameterErrors(spectral, truth).U,
      errURefined: parameterErrors(full.params, truth).U,
      secondsSpectral,
      secondsRefined,
    };
    out.push(row);
    console.log(JSON.stringify(row));
  }
  return out;
}

interface CliRow {
  rows: number;
  seconds: number;
  peakRssMiB: number;
  timings: Record<string, number>;
}

function cliFit(rows: number, dir: string): CliRow {
  const data = path.join(dir, `data-${rows}.csv`);
  const model = path.join(dir, `model-${rows}.json`);
  const cli = path.join(root, 'dist/cli/main.js');
  if (!existsSync(cli)) throw new Error('bench learner: run `npm run build` first (needs dist/cli/main.js)');
  const sim = spawnSync(process.execPath, [cli, 'simulate', '--sequences', String(rows / 20), '--seed', '7', '--out', data], { encoding: 'utf8' });
  if (sim.status !== 0) throw new Error(sim.stderr);
  // Peak RSS of the fit process from GNU time when present, else from the child's own resourceUsage.
  const wrapper = `import('${cli.replace(/\\/g, '/')}').then(async (m) => { const code = await m.main(process.argv); process.stderr.write('\\n__RSS_KB__ ' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = code; })`;
  const t0 = performance.now();
  const fit = spawnSync(process.execPath, ['--input-type=module', '-e', wrapper, '--', 'bench-wrapper', 'fit', data, '--hidden', '4', '--out', model, '--json'], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (fit.status !== 0) throw new Error(fit.stderr);
  const rss = Number(/__RSS_KB__ (\d+)/.exec(fit.stderr)?.[1] ?? NaN);
  // Per-stage timings are in `fit --json`'s summary, not in the model file (same data and seed, same bytes).
  const summary = JSON.parse(fit.stdout) as { timingsMs: Record<string, number> };
  return { rows, seconds, peakRssMiB: rss / 1024, timings: summary.timingsMs };
}


export async function benchLearner(): Promise<object> {
  const long = process.env.GLOREE_BENCH_LONG === '1';
  const curves = [...(await curve('default', [500, 5000, 50000])), ...(await curve('rect', [500, 5000, 50000]))];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gloree-bench-'));
  const cli: CliRow[] = [];
  try {
    for (const rows of long ? [1e5, 1e6, 1e7] : [1e5, 1e6]) {
      const r = cliFit(rows, dir);
      cli.push(r);
      console.log(JSON.stringify(r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (v: number): string => (v >= 1e-3 && v < 1e3 ? v.toPrecision(3) : v.toExponential(2));
  const md = [
    '### Learning curves (held-out NMSE vs the true noise-free outputs; input model estimated from the data)',
    '',
    '| scenario | rows | U = 0 | spectral | spectral + refine | U err (spectral) | U err (refined) | s (spectral) | s (refined) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...curves.map((r) => `| ${r.scenario} | ${r.rows} | ${f(r.nmseUZero)} | ${f(r.nmseSpectral)} | ${f(r.nmseRefined)} | ${f(r.errUSpectral)} | ${f(r.errURefined)} | ${r.secondsSpectral.toFixed(2)} | ${r.secondsRefined.toFixed(2)} |`),
    '',
    '### `gloree fit` on CSV (4 inputs + 4 outputs + seq), separate process',
    '',
    '| rows | wall s | peak RSS MiB | rows/s | passes (ms) |',
    '|---|---|---|---|---|',
    ...cli.map((r) => `| ${r.rows} | ${r.seconds.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} | ${Math.round(r.rows / r.seconds)} | ${Object.entries(r.timings).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')} |`),
  ].join('\n');
  console.log(md);
  return { curves, cli, markdown: md };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchLearner().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}

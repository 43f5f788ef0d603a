/**
 * Polynomial activations (tracker issue 7): the cubic learning curve of fitGloreePoly and the 1e6-row, 5-input
 * cubic fit timing. `node --import tsx bench/poly.ts` or via bench/run.ts (`benchPoly`).
 *
 * Scenario (as test/gloree-poly.test.ts): dx = 5, dh = 3, VAR(1) inputs ρ = 0.5, σ_x = 0.35, ‖U‖₂ = 0.15 (stable,
 * docs/method.md §6), sequences of 50 steps, output noise sd 0.05, input model estimated from the data. NMSE against
 * the noise-free outputs of 2000 held-out sequences; "U = 0" is the learner's own feed-forward baseline.
 * Learning curve: spectral estimate + scale fit + output regression (refinement OFF: the method of moments
 * itself). Timing: default options (refinement on) on a CSV file, streamed and spilled as the CLI does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Matrix } from '../src/linalg/matrix.js';
import { randomIORNN, simulateInputs, simulateIORNN } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { nmse } from '../src/metrics/nmse.js';
import { fitGloreePoly } from '../src/learn/gloree-poly.js';
import { openDataSource, writeDataFile } from '../src/io/open.js';
import type { IORNNParams } from '../src/models/params.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const L = 50, DX = 5, DH = 3;

function scenario(coefficients: number[], dy: number, rows: number, seed = 1) {
  const truth = randomIORNN({ dx: DX, dh: DH, dy, uNorm: 0.15, seed: 5, activation: { coefficients } });
  const train = simulateIORNN(truth, simulateInputs({ dx: DX, nSeq: rows / L, seqLength: L, rho: 0.5, sigma: 0.35, seed }), { noise: 0.05, seed: seed + 1 });
  const test = simulateIORNN(truth, simulateInputs({ dx: DX, nSeq: 2000, seqLength: L, rho: 0.5, sigma: 0.35, seed: 999 }));
  return { truth, train, test };
}

interface CurvePoint {
  rows: number;
  nmse: number;
  nmseU0: number;
  ratio: number;
  seconds: number;
  route: string;
  uMoment: string;
  alpha: number[];
  memoryBytes: Record<string, number>;
}

async function curve(name: string, coefficients: number[], dy: number, sizes: number[]): Promise<{ name: string; points: CurvePoint[] }> {
  const points: CurvePoint[] = [];
  for (const rows of sizes) {
    const { train, test } = scenario(coefficients, dy, rows);
    const t0 = performance.now();
    const res = await fitGloreePoly(train, { hidden: DH, activation: { coefficients }, refine: false });
    const seconds = (performance.now() - t0) / 1000;
    const ff: IORNNParams = { ...res.params, U: new Matrix(DH, DH), A2: Matrix.from(res.diagnostics.feedforward!.A2), b: Float64Array.from(res.diagnostics.feedforward!.b) };
    const e = nmse(predictIORNN(res.params, test), test.y, dy), e0 = nmse(predictIORNN(ff, test), test.y, dy);
    const pt: CurvePoint = {
      rows,
      nmse: e,
      nmseU0: e0,
      ratio: e / e0,
      seconds,
      route: `${res.diagnostics.directions.route}/${res.diagnostics.directions.p1}`,
      uMoment: res.diagnostics.uMoment,
      alpha: res.diagnostics.scales.alpha,
      memoryBytes: res.diagnostics.memory,
    };
    points.push(pt);
    process.stdout.write(`${name} n=${rows}: NMSE ${e.toExponential(2)} (U=0: ${e0.toExponential(2)}, ratio ${(e / e0).toFixed(3)}) in ${seconds.toFixed(1)} s\n`);
  }
  return { name, points };
}

/** 1e6 rows, 5 inputs, σ = z³ + 0.5z² + 0.1z, dy = 3: CSV written once, then the fit (CLI if it takes the activation, else in-process on the streamed file). */
async function timing(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gloree-poly-bench-'));
  try {
    const rows = 1_000_000;
    const { train, test } = scenario([0, 0.1, 0.5, 1], 3, rows, 11);
    const csv = path.join(dir, 'cubic.csv');
    await writeDataFile(csv, train, { seq: true });
    const out: Record<string, unknown> = { rows, dx: DX, dy: 3, dh: DH, activation: '0,0.1,0.5,1' };
    // CLI (a separate process, CSV parsing included), if the lead's CLI routes non-quadratic activations here.
    const cli = path.join(root, 'src/cli/main.ts');
    const model = path.join(dir, 'model.json');
    if (existsSync(cli)) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', cli, 'fit', csv, '--hidden', String(DH), '--activation', '0,0.1,0.5,1', '--out', model, '--quiet'], { encoding: 'utf8', cwd: root });
      out.cli = { exitCode: r.status, seconds: (performance.now() - t0) / 1000, stderr: (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ') };
    }
    // In-process on the streamed CSV (the same path the CLI takes: parse once, spill, replay).
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const src = await openDataSource(csv);
    const res = await fitGloreePoly(src, { hidden: DH, activation: { coefficients: [0, 0.1, 0.5, 1] } });
    const seconds = (performance.now() - t0) / 1000;
    out.inProcess = {
      seconds,
      rssGrowthMiB: Math.round((process.memoryUsage().rss - before) / 2 ** 20),
      nmse: nmse(predictIORNN(res.params, test), test.y, 3),
      timingsMs: res.timingsMs,
      momentBytes: res.diagnostics.memory,
      refine: res.diagnostics.refine ? { method: res.diagnostics.refine.method, iterations: res.diagnostics.refine.iterations } : null,
    };
    process.stdout.write(`1e6-row cubic fit: ${seconds.toFixed(1)} s in process${out.cli ? `, CLI ${JSON.stringify(out.cli)}` : ''}\n`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchPoly(): Promise<object> {
  const sizes = [100_000, 300_000, 1_000_000];
  const vector = await curve('vector σ = z³ + 0.5z² + 0.1z (dy = 3)', [0, 0.1, 0.5, 1], 3, sizes);
  const scalar = await curve('scalar σ = z³ (dy = 1)', [0, 0, 0, 1], 1, sizes);
  const time = await timing();
  const rowsMd = (c: { name: string; points: CurvePoint[] }) =>
    c.points.map((p) => `| ${c.name} | ${p.rows.toExponential(0)} | ${p.nmse.toExponential(2)} | ${p.nmseU0.toExponential(2)} | ${p.ratio.toFixed(3)} | ${p.seconds.toFixed(1)} |`);
  const markdown = [
    '### Cubic learning curve (spectral + scale fit + output regression, no refinement)',
    '',
    '| model | rows | NMSE | NMSE U = 0 | ratio | s |',
    '|---|---|---|---|---|---|',
    ...rowsMd(vector),
    ...rowsMd(scalar),
    '',
    '### 1e6 rows, 5 inputs, σ = z³ + 0.5z² + 0.1z, default options (refinement on), CSV streamed',
    '',
    '```',
    JSON.stringify(time, null, 2),
    '```',
  ].join('\n');
  return { vector, scalar, timing: time, markdown };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchPoly().then((r) => process.stdout.write((r as { markdown: string }).markdown + '\n'));
}

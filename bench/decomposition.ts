/**
 * CP decomposition benchmark: a planted 50×50×50 rank-10 tensor (Gaussian factors, weights 1–2 with random
 * signs), without noise and with 1e-3 relative Gaussian noise. Times and errors of every method in
 * src/decomposition, and numpy (bench/numpy_cp.py, one OpenBLAS thread) doing the same Jennrich and
 * fixed-sweep ALS computations on the same tensor, as ratios measured in the same run.
 *
 * `benchDecomposition()` returns a JSON-able object (with a `markdown` summary); run directly to print it:
 *   node --import tsx bench/decomposition.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Matrix, matmulNT } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { cpToTensor } from '../src/tensor/products.js';
import { CPTensor, cpCompare, cpResidual } from '../src/decomposition/cp_tensor.js';
import { jennrich } from '../src/decomposition/jennrich.js';
import { als } from '../src/decomposition/als.js';
import { cpPower } from '../src/decomposition/power.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIM = 50, RANK = 10, SWEEPS = 30;

function medianMs<T>(f: () => T, runs: number): { ms: number; out: T } {
  let out = f(); // warm-up (JIT)
  const ts: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    out = f();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { ms: ts[Math.floor(ts.length / 2)], out };
}

function addNoise(T: Tensor, rel: number, seed: number): Tensor {
  if (rel === 0) return T;
  const E = new Rng(seed).normalArray(T.size);
  let n = 0;
  for (const x of E) n += x * x;
  const f = (rel * T.norm()) / Math.sqrt(n);
  return new Tensor(T.shape, T.data.map((x, i) => x + f * E[i]));
}

function planted(rng: Rng, kind: 'general' | 'tied' | 'symmetric'): CPTensor {
  const w = Float64Array.from({ length: RANK }, () => (1 + rng.uniform()) * (kind === 'symmetric' || rng.uniform() < 0.5 ? 1 : -1));
  const F = () => new Matrix(DIM, RANK, rng.normalArray(DIM * RANK));
  if (kind === 'general') return { weights: w, factors: [F(), F(), F()] };
  if (kind === 'tied') {
    const C = F();
    return { weights: w, factors: [F(), C, C] };
  }
  const C = F();
  return { weights: w, factors: [C, C, C] };
}

function runNumpy(T: Tensor, truth: CPTensor, runs: number): any {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gloree-cp-'));
  try {
    const tp = path.join(dir, 'T.f64'), jp = path.join(dir, 'truth.json');
    writeFileSync(tp, Buffer.from(T.data.buffer, T.data.byteOffset, T.data.byteLength));
    writeFileSync(jp, JSON.stringify({ shape: T.shape, rank: RANK, weights: Array.from(truth.weights), factors: truth.factors.map((f) => Array.from(f.data)), seed: 1 }));
    const out = execFileSync('python3', [path.join(here, 'numpy_cp.py'), tp, jp, '--runs', String(runs), '--sweeps', String(SWEEPS)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
      timeout: 300_000,
    });
    return JSON.parse(out);
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchDecomposition(runs = 3): Promise<object> {
  const rng = new Rng(2024);
  const gen = planted(rng, 'general');
  const tied = planted(rng, 'tied');
  const sym = planted(rng, 'symmetric');
  const M2 = matmulNT(sym.factors[0], sym.factors[0]); // Σ c_i c_iᵀ: the caller-supplied second moment
  const cases: object[] = [];
  const md: string[] = [
    `Planted ${DIM}×${DIM}×${DIM} rank-${RANK} tensors (Gaussian factors). err = max rank-1 component error vs truth; res = relative reconstruction error; ms = median of ${runs}.`,
    '',
    '| noise | method | ms | err | res | numpy ms | numpy err | time ratio (TS/numpy) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const noise of [0, 1e-3]) {
    const T = addNoise(cpToTensor(gen), noise, 7);
    const Tt = addNoise(cpToTensor(tied), noise, 8);
    const Ts = addNoise(cpToTensor(sym), noise, 9);
    const np = runNumpy(T, gen, runs);
    const row = (method: string, truth: CPTensor, Tin: Tensor, r: { ms: number; out: CPTensor }, npr?: { ms: number; componentError: number }) => {
      const err = cpCompare(truth, r.out).maxComponentError;
      const res = cpResidual(Tin, r.out);
      md.push(`| ${noise} | ${method} | ${r.ms.toFixed(1)} | ${err.toExponential(2)} | ${res.toExponential(2)} | ${npr ? npr.ms.toFixed(1) : '—'} | ${npr ? npr.componentError.toExponential(2) : '—'} | ${npr ? (r.ms / npr.ms).toFixed(2) : '—'} |`);
      return { method, ms: r.ms, componentError: err, residual: res, numpy: npr, ratioToNumpy: npr ? r.ms / npr.ms : undefined };
    };
    const jen = medianMs(() => jennrich(T, RANK, { seed: 1 }).cp, runs);
    const alsFixed = medianMs(() => als(T, RANK, { maxIter: SWEEPS, tol: 0 }).cp, runs);
    const alsConv = medianMs(() => als(T, RANK), runs);
    const alsPolish = medianMs(() => als(T, RANK, { init: jennrich(T, RANK, { seed: 1 }).cp }), runs);
    const jenT = medianMs(() => jennrich(Tt, RANK, { seed: 1, tied: true }).cp, runs);
    const alsT = medianMs(() => als(Tt, RANK, { tied: true }), runs);
    const pow = medianMs(() => cpPower(Ts, RANK, { M2, seed: 1 }).cp, runs);
    const rows = [
      row('jennrich', gen, T, jen, np.jennrich),
      row(`als (${SWEEPS} sweeps, svd init)`, gen, T, alsFixed, np.als),
      { ...row(`als to convergence (${alsConv.out.iterations} sweeps)`, gen, T, { ms: alsConv.ms, out: alsConv.out.cp }), iterations: alsConv.out.iterations },
      { ...row(`jennrich + als polish (${alsPolish.out.iterations} sweeps)`, gen, T, { ms: alsPolish.ms, out: alsPolish.out.cp }), iterations: alsPolish.out.iterations },
      row('jennrich tied', tied, Tt, jenT),
      { ...row(`als tied (${alsT.out.iterations} sweeps)`, tied, Tt, { ms: alsT.ms, out: alsT.out.cp }), iterations: alsT.out.iterations },
      row('cpPower (symmetric, caller M2)', sym, Ts, pow),
    ];
    cases.push({ noise, numpy: np.error ? { error: np.error } : { version: np.numpy, threads: np.threads }, rows });
  }
  return { bench: 'decomposition', node: process.version, dim: DIM, rank: RANK, runs, cases, markdown: md.join('\n') };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  benchDecomposition().then((r) => console.log(JSON.stringify(r, null, 2)));
}

/**
 * Benchmarks against backpropagation (tracker issue 8, items 2–3): on the same data, held-out NMSE vs
 * wall-clock for
 *   - gloree's spectral estimate alone (moments only, and with the output-layer regression),
 *   - gloree fit = spectral + second-order refinement (docs/method.md §5 step 6), one point per LM iteration,
 *   - truncated BPTT with Adam in TensorFlow.js (CPU backend, float32), 3 learning rates × 3 seeds, from
 *     Keras's Glorot initialisation (every run diverges: the quadratic recursion escapes) and from Glorot
 *     A1, A2 with U = 0 (the baseline); divergences are recorded, not hidden,
 *   - the same Adam started from the spectral estimate (what the start alone is worth),
 *   - Adam on exact float64 BPTT gradients written by hand (src/rnn/gradient.ts `gradientPass`):
 *     the same algorithm without TensorFlow.js's per-op overhead, so BPTT is not judged by tfjs's speed;
 * plus the time each needs to reach 2× the best NMSE any of them reaches (ratios to gloree fit), BPTT
 * learning curves vs n, and the spectral stage's throughput vs a vectorised numpy implementation of the
 * same estimator (bench/numpy_gloree.py, one OpenBLAS thread) at 1e5 and 1e6 rows (1e7 with --long).
 *
 * Data: SCENARIOS.default (dx = dh = dy = 4, σ = z², VAR(1) inputs, noise 0.05, sequences of 20 steps);
 * training simulateScenario(…, { nSeq: 5000, seed: 17 }) = 1e5 rows, held-out { nSeq: 2000, seed: 999 }
 * (the learner bench's held-out set). NMSE is against the true noise-free held-out outputs (docs/method.md §7),
 * always computed in float64 by predictIORNN from the current weights. Clocks count training only:
 * held-out evaluations are paused out of the clock.
 *
 * BPTT details: every sequence starts from h_0 = 0 (§2), so "truncated BPTT" over whole 20-step sequences is
 * exact BPTT per sequence; minibatches of 25 sequences (500 rows, as the issue's 10 streams × 50 steps),
 * reshuffled every epoch (seeded); loss = MSE; Adam (β = 0.9, 0.999, ε = 1e-7, tfjs defaults).
 * Budgets: 20 s per tfjs run by default, 300 s with GLOREE_BENCH_LONG=1 (`npm run bench -- --long`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
// Loaded lazily (after the numpy comparison): importing tfjs slows every typed-array loop in the process by
// ≈ 20% (measured on the spectral stage), which would bias the gloree-vs-numpy ratio.
let tf: typeof TF;
async function loadTF(): Promise<void> {
  tf ??= await import('@tensorflow/tfjs');
}
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, splitChunk, type SequenceChunk } from '../src/io/dataset.js';
import { SCENARIOS, simulateScenario, type ScenarioData } from '../src/models/simulate.js';
import { SQUARE, type IORNNParams } from '../src/models/params.js';
import { predictIORNN } from '../src/models/iornn.js';
import { nmse } from '../src/metrics/nmse.js';
import { fitGloree, type GloreeResult } from '../src/learn/gloree.js';
import { refine, packParams, unpackParams, layoutOf } from '../src/learn/refine.js';
import { gradientPass } from '../src/rnn/gradient.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SC = SCENARIOS.default;
const DX = SC.dx, DH = SC.dh, DY = SC.dy;
const BATCH_SEQS = 25;
/** gloree and numpy both stream the data in blocks of this many whole sequences (5e4 rows here). */
const BLOCK_SEQS = 2500;
/** Timings of the deterministic stages (gloree fit, spectral, numpy) are the fastest of this many runs. */
const REPEATS = 5;
/** This many non-finite minibatch losses in a row (skipped steps) count as divergence. */
const MAX_CONSECUTIVE_SKIPS = 50;

/** One point of a learning curve: training-clock seconds and held-out NMSE (Infinity once diverged). */
export interface CurvePoint {
  t: number;
  nmse: number;
}

export interface RunResult {
  method: string;
  lr?: number;
  seed?: number;
  /** Seconds on the clock before training began (the spectral stage, for runs started from it). */
  offset: number;
  /** Training-clock budget of the run (seconds). */
  budget?: number;
  curve: CurvePoint[];
  best: number;
  final: number;
  diverged: boolean;
  divergedAt?: number;
  steps?: number;
  /** Minibatches whose loss overflowed (update skipped). */
  skipped?: number;
  epochs?: number;
  rowsPerSec?: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function score(p: IORNNParams, test: ScenarioData): number {
  try {
    const v = nmse(predictIORNN(p, test.data), test.clean, DY);
    return Number.isFinite(v) ? v : Infinity;
  } catch {
    return Infinity; // blow-up (BlowUpError) or non-finite predictions: the model diverged (§6)
  }
}

function params(A1: Matrix, U: Matrix, A2: Matrix, b: Float64Array): IORNNParams {
  return { kind: 'iornn', A1, U, A2, b, activation: SQUARE };
}

function fromArrays(q: { A1: number[][]; U: number[][]; A2: number[][]; b: number[] }): IORNNParams {
  return params(Matrix.from(q.A1), Matrix.from(q.U), Matrix.from(q.A2), Float64Array.from(q.b));
}

/**
 * Glorot-uniform weights (Keras's default kernel initialiser), b = 0. `zeroU`: U = 0 instead, i.e. the
 * network starts as its feed-forward part. Why both: with σ = z² a Glorot-uniform U (‖U‖₂ ≈ 1.4–2.2) makes
 * the recursion escape (docs/method.md §6) on 39–83% of the held-out sequences (seeds 1–5), so every minibatch overflows in
 * float32 at the first step; U = 0 is the mildest change that lets BPTT start.
 */
function glorotInit(seed: number, zeroU: boolean): IORNNParams {
  const rng = new Rng(seed);
  const mat = (rows: number, cols: number, fanIn: number, fanOut: number): Matrix => {
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    const m = new Matrix(rows, cols);
    for (let i = 0; i < m.data.length; i++) m.data[i] = (2 * rng.uniform() - 1) * lim;
    return m;
  };
  const A1 = mat(DH, DX, DX, DH);
  const U = mat(DH, DH, DH, DH);
  const A2 = mat(DH, DY, DH, DY);
  return params(A1, zeroU ? new Matrix(DH, DH) : U, A2, new Float64Array(DY));
}

/** A random permutation of 0..n−1 (Fisher–Yates). */
function blocks(c: SequenceChunk): SequenceChunk[] {
  return splitChunk(c, Math.max(1, Math.ceil(c.lengths.length / BLOCK_SEQS)));
}

/** Fastest of REPEATS calls (wall seconds) and the result of that call. */
async function fastest<T>(f: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  let best: { seconds: number; value: T } | null = null;
  for (let k = 0; k < REPEATS; k++) {
    const t0 = performance.now();
    const value = await f();
    const seconds = (performance.now() - t0) / 1000;
    if (best === null || seconds < best.seconds) best = { seconds, value };
  }
  return best!;
}

function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Evaluation times: dense at first (BPTT moves fast early), then every `every` seconds. */
function evalSchedule(budget: number, every: number): number[] {
  const ts = [0, 0.25, 0.5, 1, 1.5, 2, 3];
  for (let t = 4; t < budget; t += every) ts.push(t);
  ts.push(budget);
  return [...new Set(ts.filter((t) => t <= budget))].sort((a, b) => a - b);
}

function summarise(r: Omit<RunResult, 'best' | 'final'>): RunResult {
  let best = Infinity;
  for (const p of r.curve) best = Math.min(best, p.nmse);
  const final = r.curve.length ? r.curve[r.curve.length - 1].nmse : Infinity;
  return { ...r, best, final };
}

/** First clock time (offset included) at which a curve reaches ≤ target, or null. */
function timeTo(r: RunResult, target: number): number | null {
  for (const p of r.curve) if (p.nmse <= target) return r.offset + p.t;
  return null;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

// ---------------------------------------------------------------------------------------------
// BPTT in TensorFlow.js (CPU backend, float32)

interface TfBatch {
  x: TF.Tensor2D; // (L·B)×dx, time-major rows t·B + i
  y: TF.Tensor2D;
}

/** Time-major float32 minibatches of whole sequences for one epoch (all sequences have length L). */
function tfEpochBatches(train: SequenceChunk, L: number, rng: Rng): TfBatch[] {
  const nSeq = train.lengths.length;
  const perm = permutation(nSeq, rng);
  const out: TfBatch[] = [];
  for (let s0 = 0; s0 + BATCH_SEQS <= nSeq; s0 += BATCH_SEQS) {
    const B = BATCH_SEQS;
    const xb = new Float32Array(L * B * DX), yb = new Float32Array(L * B * DY);
    for (let i = 0; i < B; i++) {
      const s = perm[s0 + i];
      for (let t = 0; t < L; t++) {
        const src = s * L + t, dst = t * B + i;
        for (let a = 0; a < DX; a++) xb[dst * DX + a] = train.x[src * DX + a];
        for (let a = 0; a < DY; a++) yb[dst * DY + a] = train.y[src * DY + a];
      }
    }
    out.push({ x: tf.tensor2d(xb, [L * B, DX]), y: tf.tensor2d(yb, [L * B, DY]) });
  }
  return out;
}

function equalLength(train: SequenceChunk): number {
  const L = train.lengths[0];
  for (const l of train.lengths) if (l !== L) throw new RangeError(`bench bptt: all sequences must have the same length (got ${L} and ${l})`);
  return L;
}

async function bpttTF(
  train: SequenceChunk, test: ScenarioData, init: IORNNParams, lr: number, seed: number, budget: number,
  method: string, offset: number,
): Promise<RunResult> {
  const L = equalLength(train);
  // Row-vector form: h_t = (x_t W1 + h_{t−1} WU)², ŷ_t = h_t W2 + b, with W1 = A1ᵀ, WU = Uᵀ, W2 = A2.
  const W1 = tf.variable(tf.tensor2d(Float32Array.from(transposeData(init.A1)), [DX, DH]));
  const WU = tf.variable(tf.tensor2d(Float32Array.from(transposeData(init.U)), [DH, DH]));
  const W2 = tf.variable(tf.tensor2d(Float32Array.from(init.A2.data), [DH, DY]));
  const bv = tf.variable(tf.tensor1d(Float32Array.from(init.b ?? new Float64Array(DY))));
  const opt = tf.train.adam(lr);
  const rng = new Rng(seed * 1000 + 7);
  const current = (): IORNNParams => {
    const w1 = W1.dataSync(), wu = WU.dataSync(), w2 = W2.dataSync(), b = bv.dataSync();
    const A1 = new Matrix(DH, DX), U = new Matrix(DH, DH);
    for (let j = 0; j < DH; j++) {
      for (let a = 0; a < DX; a++) A1.data[j * DX + a] = w1[a * DH + j];
      for (let k = 0; k < DH; k++) U.data[j * DH + k] = wu[k * DH + j];
    }
    return params(A1, U, new Matrix(DH, DY, Float64Array.from(w2)), Float64Array.from(b));
  };
  const lossOf = (batch: TfBatch): TF.Scalar => {
    const zs = tf.split(tf.matMul(batch.x, W1), L, 0);
    let h = tf.square(zs[0]);
    const hs = [h];
    for (let t = 1; t < L; t++) {
      h = tf.square(tf.add(zs[t], tf.matMul(h, WU)));
      hs.push(h);
    }
    const yhat = tf.add(tf.matMul(tf.concat(hs, 0), W2), bv);
    return tf.losses.meanSquaredError(batch.y, yhat) as TF.Scalar;
  };
  const sched = evalSchedule(budget, budget > 60 ? 10 : 2);
  const curve: CurvePoint[] = [];
  let clock = 0, steps = 0, skipped = 0, consecutiveSkips = 0, epochs = 0, diverged = false;
  let divergedAt: number | undefined;
  let next = 0;
  let batches: TfBatch[] = [];
  let bi = 0;
  const vars = [W1, WU, W2, bv];
  try {
    while (true) {
      if (clock >= sched[next]) {
        // Held-out NMSE of the current iterate (∞ if it blows up on held-out data; training goes on).
        curve.push({ t: clock, nmse: score(current(), test) });
        next++;
        if (next >= sched.length) break;
      }
      const t0 = performance.now();
      if (bi >= batches.length) {
        for (const b of batches) tf.dispose([b.x, b.y]);
        batches = tfEpochBatches(train, L, rng);
        bi = 0;
        epochs++;
      }
      const batch = batches[bi++];
      // A minibatch whose loss overflows (some sequence escaped, §6) is skipped rather than applied: the
      // usual guard, which keeps NaN gradients out of Adam's moments. Many in a row = diverged.
      const finite = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => lossOf(batch), vars);
        if (!Number.isFinite(value.dataSync()[0])) return false;
        opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        return true;
      });
      steps++;
      clock += (performance.now() - t0) / 1000;
      if (finite) consecutiveSkips = 0;
      else {
        skipped++;
        if (++consecutiveSkips >= MAX_CONSECUTIVE_SKIPS) {
          curve.push({ t: clock, nmse: score(current(), test) });
          diverged = true;
          divergedAt = clock;
          break;
        }
      }
    }
  } finally {
    for (const b of batches) tf.dispose([b.x, b.y]);
    tf.dispose(vars);
    opt.dispose();
  }
  return summarise({ method, lr, seed, offset, budget, curve, diverged, divergedAt, steps, skipped, epochs, rowsPerSec: (steps * BATCH_SEQS * L) / Math.max(clock, 1e-9) });
}

function transposeData(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j];
  return out;
}

// ---------------------------------------------------------------------------------------------
// BPTT in float64 with hand-written exact gradients (same Adam, same minibatches)

function bpttF64(
  train: SequenceChunk, test: ScenarioData, init: IORNNParams, lr: number, seed: number, budget: number,
  method: string, offset: number,
): RunResult {
  const L = equalLength(train);
  const lay = layoutOf(init, DX, DY);
  const th = packParams(init);
  const P = th.length;
  const g = new Float64Array(P), m1 = new Float64Array(P), m2 = new Float64Array(P);
  const b1 = 0.9, b2 = 0.999, eps = 1e-7;
  const rng = new Rng(seed * 1000 + 7);
  const nSeq = train.lengths.length;
  const B = BATCH_SEQS, rowsB = B * L;
  const xb = new Float64Array(rowsB * DX), yb = new Float64Array(rowsB * DY);
  const lengths = new Int32Array(B).fill(L);
  const sched = evalSchedule(budget, budget > 60 ? 10 : 2);
  const curve: CurvePoint[] = [];
  let clock = 0, steps = 0, skipped = 0, consecutiveSkips = 0, updates = 0, epochs = 0, diverged = false;
  let divergedAt: number | undefined;
  let next = 0;
  let perm = permutation(nSeq, rng);
  let s0 = nSeq; // start a fresh epoch at the first step
  while (true) {
    if (clock >= sched[next]) {
      curve.push({ t: clock, nmse: score(unpackParams(init, th), test) });
      next++;
      if (next >= sched.length) break;
    }
    const t0 = performance.now();
    if (s0 + B > nSeq) {
      perm = permutation(nSeq, rng);
      s0 = 0;
      epochs++;
    }
    for (let i = 0; i < B; i++) {
      const s = perm[s0 + i];
      xb.set(train.x.subarray(s * L * DX, (s + 1) * L * DX), i * L * DX);
      yb.set(train.y.subarray(s * L * DY, (s + 1) * L * DY), i * L * DY);
    }
    s0 += B;
    g.fill(0);
    const pr = gradientPass(lay, th, [makeChunk(DX, DY, xb, yb, lengths)], g);
    steps++;
    let finite = !pr.blowup && Number.isFinite(pr.sse);
    for (let k = 0; finite && k < P; k++) finite = Number.isFinite(g[k]);
    if (finite) {
      consecutiveSkips = 0;
      updates++;
      // gradientPass returns ∂SSE/∂θ; Adam on the MSE (as the tfjs runs): divide by rows·dy.
      const sc = 1 / (rowsB * DY);
      const c1 = 1 / (1 - Math.pow(b1, updates)), c2 = 1 / (1 - Math.pow(b2, updates));
      for (let k = 0; k < P; k++) {
        const gk = g[k] * sc;
        m1[k] = b1 * m1[k] + (1 - b1) * gk;
        m2[k] = b2 * m2[k] + (1 - b2) * gk * gk;
        th[k] -= (lr * m1[k] * c1) / (Math.sqrt(m2[k] * c2) + eps);
      }
    }
    clock += (performance.now() - t0) / 1000;
    if (!finite) {
      skipped++;
      if (++consecutiveSkips >= MAX_CONSECUTIVE_SKIPS) {
        curve.push({ t: clock, nmse: score(unpackParams(init, th), test) });
        diverged = true;
        divergedAt = clock;
        break;
      }
    }
  }
  return summarise({ method, lr, seed, offset, budget, curve, diverged, divergedAt, steps, skipped, epochs, rowsPerSec: (steps * rowsB) / Math.max(clock, 1e-9) });
}

// ---------------------------------------------------------------------------------------------
// gloree: spectral, spectral + refinement (one point per LM iteration)

interface GloreeCurve {
  spectralSeconds: number;
  fitSeconds: number;
  nmseMomentsOnly: number;
  nmseSpectral: number;
  nmseFit: number;
  refineIterations: number;
  timings: Record<string, number>;
  run: RunResult;
  spectralRun: RunResult;
  spectral: GloreeResult['diagnostics']['spectral'];
}

async function gloreeCurve(train: ScenarioData, test: ScenarioData): Promise<GloreeCurve> {
  // Warm-up (JIT) on a small set so neither side pays compilation inside the timed runs.
  const warm = simulateScenario(SC, { nSeq: 300, seed: 5 });
  await fitGloree(warm.data, { hidden: DH, seed: 1 });

  const chunks = blocks(train.data);
  const f = await fastest(() => fitGloree(chunks, { hidden: DH, seed: 1 }));
  const full = f.value, fitSeconds = f.seconds;
  const sp = await fastest(() => fitGloree(chunks, { hidden: DH, seed: 1, refine: false }));
  const spec = sp.value, spectralSeconds = sp.seconds;
  const nmseMomentsOnly = score(fromArrays(spec.diagnostics.spectral), test);
  const nmseSpectral = score(spec.params, test);
  const nmseFit = score(full.params, test);
  const iters = full.diagnostics.refine?.iterations ?? 0;
  // Refinement trajectory: the product's refine() from the same start on the same sample (fitGloree keeps
  // every row for refinement up to refineMaxRows = 2e5), stopped after k iterations; clock = spectral stage
  // + refine. The last point is the complete fitGloree run.
  const curve: CurvePoint[] = [{ t: 0, nmse: nmseSpectral }];
  for (let k = 1; k <= Math.max(iters, 1); k++) {
    const r = await fastest(() => refine(spec.params, chunks, { seed: 1, maxIter: k }));
    curve.push({ t: r.seconds, nmse: score(r.value.params, test) });
  }
  curve.push({ t: fitSeconds - spectralSeconds, nmse: nmseFit });
  curve.sort((a, b) => a.t - b.t);
  const run = summarise({ method: 'gloree fit (spectral + refine)', offset: spectralSeconds, curve, diverged: false });
  const spectralRun = summarise({ method: 'spectral only', offset: spectralSeconds, curve: [{ t: 0, nmse: nmseSpectral }], diverged: false });
  return {
    spectralSeconds, fitSeconds, nmseMomentsOnly, nmseSpectral, nmseFit, refineIterations: iters,
    timings: full.timingsMs, run, spectralRun, spectral: spec.diagnostics.spectral,
  };
}

// ---------------------------------------------------------------------------------------------
// numpy comparison of the spectral stage

interface NumpyRow {
  rows: number;
  gloreeSeconds: number;
  gloreeStages: Record<string, number>;
  numpySeconds: number;
  numpyStages: Record<string, number>;
  numpyPeakRssMiB: number;
  /** gloree rows/s divided by numpy rows/s (> 1: gloree faster). */
  speedRatio: number;
  nmseGloree: number;
  nmseNumpy: number;
  numpyVersion: string;
}

export async function numpyCompare(rowsList: number[], test: ScenarioData): Promise<NumpyRow[] | { error: string }> {
  const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return { error: 'python3 with numpy not available' };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gloree-bptt-'));
  const out: NumpyRow[] = [];
  try {
    for (const rows of rowsList) {
      const L = SC.seqLength as number;
      const data = simulateScenario(SC, { nSeq: rows / L, seed: 17 });
      const xf = path.join(dir, 'x.f64'), yf = path.join(dir, 'y.f64'), mf = path.join(dir, 'meta.json');
      writeFileSync(xf, new Uint8Array(data.data.x.buffer, data.data.x.byteOffset, data.data.x.byteLength));
      writeFileSync(yf, new Uint8Array(data.data.y.buffer, data.data.y.byteOffset, data.data.y.byteLength));
      writeFileSync(mf, JSON.stringify({ dx: DX, dy: DY, dh: DH, L, rows: data.data.rows, seed: 1, block: BLOCK_SEQS, repeats: REPEATS }));
      // Both sides stream blocks of BLOCK_SEQS whole sequences (as a file source would) and report the
      // fastest of REPEATS fits.
      const chunks = blocks(data.data);
      let gloreeSeconds = Infinity;
      let g: GloreeResult | null = null;
      for (let k = 0; k < REPEATS; k++) {
        const t0 = performance.now();
        const gk = await fitGloree(chunks, { hidden: DH, seed: 1, refine: false });
        const dt = (performance.now() - t0) / 1000;
        if (dt < gloreeSeconds) {
          gloreeSeconds = dt;
          g = gk;
        }
      }
      if (g === null) throw new Error('unreachable');
      const py = spawnSync('python3', [path.join(here, 'numpy_gloree.py'), xf, yf, mf], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (py.status !== 0) throw new Error(`numpy_gloree.py failed: ${py.stderr}`);
      const o = JSON.parse(py.stdout);
      const row: NumpyRow = {
        rows: data.data.rows,
        gloreeSeconds,
        gloreeStages: g.timingsMs,
        numpySeconds: o.seconds,
        numpyStages: Object.fromEntries(Object.entries(o.timings as Record<string, number>).map(([k, v]) => [k, Math.round(v * 10000) / 10])),
        numpyPeakRssMiB: o.peakRssMiB,
        speedRatio: o.seconds / gloreeSeconds,
        nmseGloree: score(g.params, test),
        nmseNumpy: score(fromArrays(o.params), test),
        numpyVersion: o.numpy,
      };
      out.push(row);
      console.log(JSON.stringify(row));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? 'blows up' : 'diverged';
  return v >= 1e-3 && v < 1e3 ? v.toPrecision(3) : v.toExponential(2);
}

function secs(v: number | null): string {
  return v === null ? '—' : v < 10 ? v.toFixed(2) : v.toFixed(1);
}

export async function benchBPTT(): Promise<object> {
  const long = process.env.GLOREE_BENCH_LONG === '1';
  // GLOREE_BPTT_SECONDS overrides the per-run budget (smoke tests); the other budgets scale with it.
  const override = Number(process.env.GLOREE_BPTT_SECONDS ?? '');
  const budget = override > 0 ? override : long ? 300 : 20;
  const budgetSpectralStart = override > 0 ? override / 2 : long ? 120 : 10;
  const budgetF64 = override > 0 ? override / 2 : long ? 120 : 10;
  const lrs = [1e-3, 3e-3, 1e-2];
  const seeds = [1, 2, 3];
  const L = SC.seqLength as number;

  const loadStart = os.loadavg()[0];
  const train = simulateScenario(SC, { nSeq: 5000, seed: 17 });
  const test = simulateScenario(SC, { nSeq: 2000, seed: 999 });
  const nmseTruth = score(train.model as IORNNParams, test); // 0 up to rounding: sanity check of the metric

  // gloree and numpy first, before TensorFlow.js is loaded (see loadTF).
  console.log('spectral stage vs numpy …');
  const numpy = await numpyCompare(long ? [1e5, 1e6, 1e7] : [1e5, 1e6], test);
  console.log('gloree fit …');
  const gl = await gloreeCurve(train, test);
  console.log(JSON.stringify({ spectralSeconds: gl.spectralSeconds, fitSeconds: gl.fitSeconds, nmseSpectral: gl.nmseSpectral, nmseFit: gl.nmseFit, curve: gl.run.curve }));

  await loadTF();
  await tf.setBackend('cpu');
  await tf.ready();
  const backend = `${tf.getBackend()} (tfjs ${tf.version.tfjs}, float32)`;

  // tfjs warm-up (kernel registration, first-call costs), not timed.
  await bpttTF(train.data, test, glorotInit(99, true), 1e-3, 99, 0.3, 'warm-up', 0);

  const log = (r: RunResult): void =>
    console.log(JSON.stringify({ method: r.method, lr: r.lr, seed: r.seed, best: r.best, final: r.final, diverged: r.diverged, steps: r.steps, skipped: r.skipped, epochs: r.epochs, rowsPerSec: Math.round(r.rowsPerSec ?? 0) }));
  // Keras-default Glorot (U Glorot too): reported as is, whatever happens.
  const keras: RunResult[] = [];
  for (const lr of lrs) {
    for (const seed of seeds) {
      const r = await bpttTF(train.data, test, glorotInit(seed, false), lr, seed, budget, 'BPTT tfjs, Glorot init (U Glorot)', 0);
      keras.push(r);
      log(r);
    }
  }
  // The BPTT baseline proper: Glorot A1, A2 and U = 0.
  const runs: RunResult[] = [];
  for (const lr of lrs) {
    for (const seed of seeds) {
      const r = await bpttTF(train.data, test, glorotInit(seed, true), lr, seed, budget, 'BPTT tfjs, Glorot init, U = 0', 0);
      runs.push(r);
      log(r);
    }
  }
  const spectralInit = fromArrays(gl.spectral);
  const fromSpectral: RunResult[] = [];
  for (const lr of [3e-4, 1e-3, 3e-3]) {
    const r = await bpttTF(train.data, test, spectralInit, lr, 1, budgetSpectralStart, 'BPTT tfjs, spectral start', gl.spectralSeconds);
    fromSpectral.push(r);
    log(r);
  }
  // Float64 BPTT with hand-written gradients at the learning rate whose tfjs runs had the best median.
  const medBest = (lr: number): number => median(runs.filter((r) => r.lr === lr).map((r) => r.best));
  const lrF64 = [...lrs].sort((a, b) => medBest(a) - medBest(b))[0];
  const f64: RunResult[] = [];
  for (const seed of seeds) {
    const r = bpttF64(train.data, test, glorotInit(seed, true), lrF64, seed, budgetF64, 'BPTT float64 JS, Glorot init, U = 0', 0);
    f64.push(r);
    log(r);
  }

  // BPTT learning curves vs n (float64 JS BPTT: the faster of the two; one seed, fixed budget).
  const nList = long ? [500, 5000, 50000] : [500, 50000];
  const vsN: { rows: number; method: string; best: number; final: number; seconds: number; epochs: number }[] = [];
  for (const nSeq of nList) {
    const d = nSeq === 5000 ? train : simulateScenario(SC, { nSeq, seed: 17 });
    const bN = long ? budgetF64 : budgetF64 / 2;
    const r = bpttF64(d.data, test, glorotInit(1, true), lrF64, 1, bN, 'BPTT float64 JS', 0);
    vsN.push({ rows: d.data.rows, method: `BPTT float64 JS (lr ${lrF64}, seed 1, ${bN} s)`, best: r.best, final: r.final, seconds: bN, epochs: r.epochs ?? 0 });
  }
  if (long) {
    const lrTf = [...lrs].sort((a, b) => medBest(a) - medBest(b))[0];
    for (const nSeq of [500, 50000]) {
      const d = simulateScenario(SC, { nSeq, seed: 17 });
      const r = await bpttTF(d.data, test, glorotInit(1, true), lrTf, 1, budget, 'BPTT tfjs', 0);
      vsN.push({ rows: d.data.rows, method: `BPTT tfjs (lr ${lrTf}, seed 1, ${budget} s)`, best: r.best, final: r.final, seconds: budget, epochs: r.epochs ?? 0 });
    }
  }
  // gloree's curves vs n come from the learner bench of the same `npm run bench` (bench/results/learner.json).
  let learnerCurves: { rows: number; nmseSpectral: number; nmseRefined: number; secondsRefined: number }[] = [];
  const lj = path.join(here, 'results', 'learner.json');
  if (existsSync(lj)) {
    try {
      const j = JSON.parse(readFileSync(lj, 'utf8'));
      learnerCurves = (j.result?.curves ?? []).filter((r: { scenario: string }) => r.scenario === 'default');
    } catch {
      learnerCurves = [];
    }
  }


  // ---- Time to reach 2× the best NMSE any method reached; ratios to gloree fit.
  const all: RunResult[] = [gl.spectralRun, gl.run, ...keras, ...runs, ...fromSpectral, ...f64];
  const bestAny = Math.min(...all.map((r) => r.best));
  const target = 2 * bestAny;
  // "BPTT's best": the best held-out NMSE any BPTT run from a random start reached (oracle-picked checkpoint),
  // tfjs or float64; "BPTT's median run": the median over the 9 tfjs Glorot (U = 0) runs of the time to get
  // there (+∞ for runs that never did, so the median is a lower bound when most runs never did).
  const bpttBest = Math.min(...runs.map((r) => r.best), ...f64.map((r) => r.best), ...keras.map((r) => r.best));
  const gloreeTimeToBpttBest = timeTo(gl.run, bpttBest);
  const bpttMedianToBest = median(runs.map((r) => timeTo(r, bpttBest) ?? Infinity));
  const f64MedianToBest = median(f64.map((r) => timeTo(r, bpttBest) ?? Infinity));
  const speedupBound = (m: number): { speedup: number; lowerBound: boolean } | null =>
    gloreeTimeToBpttBest === null ? null : Number.isFinite(m) ? { speedup: m / gloreeTimeToBpttBest, lowerBound: false } : { speedup: budget / gloreeTimeToBpttBest, lowerBound: true };
  const goal = {
    bpttBestNMSE: bpttBest,
    gloreeNMSE: gl.nmseFit,
    gloreeAtLeastAsGood: gl.nmseFit <= bpttBest,
    gloreeSecondsToBpttBest: gloreeTimeToBpttBest,
    bpttTfjsMedianSecondsToBpttBest: bpttMedianToBest,
    bpttF64MedianSecondsToBpttBest: f64MedianToBest,
    speedupVsTfjsMedian: speedupBound(bpttMedianToBest),
    spectralFasterPerRowThanNumpy: Array.isArray(numpy) ? numpy.every((r) => r.speedRatio > 1) : null,
  };
  const speedText = (x: { speedup: number; lowerBound: boolean } | null, m: number, b: number): string =>
    x === null ? 'gloree did not reach it' : Number.isFinite(m) ? `${secs(m)} s (${x.speedup.toFixed(1)}× gloree)` : `not reached within ${b} s by most runs (≥ ${(b / gloreeTimeToBpttBest!).toFixed(1)}× gloree)`;
  const groups: { label: string; rs: RunResult[] }[] = [
    { label: 'spectral only (moments + output LS)', rs: [gl.spectralRun] },
    { label: 'gloree fit (spectral + refine)', rs: [gl.run] },
    ...lrs.map((lr) => ({ label: `BPTT tfjs Glorot (U Glorot too), lr ${lr}`, rs: keras.filter((r) => r.lr === lr) })),
    ...lrs.map((lr) => ({ label: `BPTT tfjs Glorot, U = 0, lr ${lr}`, rs: runs.filter((r) => r.lr === lr) })),
    ...fromSpectral.map((r) => ({ label: `BPTT tfjs from spectral start, lr ${r.lr}`, rs: [r] })),
    { label: `BPTT float64 JS Glorot, U = 0, lr ${lrF64}`, rs: f64 },
  ];
  const tg = gl.fitSeconds;
  const ttRows = groups.map(({ label, rs }) => {
    const ts = rs.map((r) => timeTo(r, target));
    const reached = ts.filter((v): v is number => v !== null);
    const med = median(ts.map((v) => v ?? Infinity));
    const best = reached.length ? Math.min(...reached) : null;
    const budgetOf = rs[0].offset + (rs[0].budget ?? rs[0].curve.at(-1)?.t ?? 0);
    const allDiverged = rs.every((r) => r.diverged);
    const noBudget = rs.every((r) => r.budget === undefined); // one-shot estimates (spectral only)
    const ratio = (v: number | null): string =>
      v !== null && Number.isFinite(v) ? (v / tg).toFixed(2) : allDiverged ? 'never (diverged)' : noBudget ? 'never' : `> ${(budgetOf / tg).toFixed(1)}`;
    return `| ${label} | ${rs.length} | ${fmt(Math.min(...rs.map((r) => r.best)))} | ${fmt(median(rs.map((r) => r.best)))} | ${rs.filter((r) => r.diverged).length} | ${reached.length}/${rs.length} | ${Number.isFinite(med) ? secs(med) : 'not reached'} | ${ratio(Number.isFinite(med) ? med : null)} | ${ratio(best)} |`;
  });

  // NMSE vs wall clock, sampled at common times (median and best over seeds for the BPTT groups).
  const times = [0.5, 1, 2, 5, 10, 20, ...(long ? [60, 120, 300] : [])];
  /** NMSE of the current iterate at clock T (NaN before the first point; −1 once the run diverged). */
  const at = (r: RunResult, T: number): number => {
    if (r.diverged && r.divergedAt !== undefined && T >= r.offset + r.divergedAt) return -1;
    let v = NaN;
    for (const p of r.curve) {
      if (r.offset + p.t <= T + 1e-9) v = p.nmse;
      else break;
    }
    return v;
  };
  // Best-so-far (oracle checkpoint) for the median/best columns would hide the noise of Adam; the table
  // shows the NMSE of the current iterate at each time.
  const curveRows = groups.map(({ label, rs }) => {
    const cells = times.map((T) => {
      const vs = rs.map((r) => at(r, T)).filter((v) => !Number.isNaN(v));
      if (vs.length === 0) return '—';
      const nDiv = vs.filter((v) => v < 0).length;
      const ok = vs.filter((v) => v >= 0);
      const tag = nDiv ? ` (${nDiv} div.)` : '';
      if (ok.length === 0) return 'diverged';
      if (rs.length === 1) return fmt(ok[0]);
      // Diverged runs count as +∞ in the median.
      return `${fmt(median(vs.map((v) => (v < 0 ? Infinity : v))))} / ${fmt(Math.min(...ok))}${tag}`;
    });
    return `| ${label} | ${cells.join(' | ')} |`;
  });

  const loadEnd = os.loadavg()[0];
  const md = [
    `Load average (1 min) of the machine: ${loadStart.toFixed(1)} at the start, ${loadEnd.toFixed(1)} at the end of this bench (${os.cpus().length} cores); ` +
      'every time below is wall-clock on that machine, so a load above the core count inflates all of them.',
    '',
    `Data: scenario \`default\` (dx = dh = dy = 4, σ = z², VAR(1) ρ = 0.6, noise 0.05), ${train.data.rows} training rows, ` +
      `${test.data.rows} held-out rows; NMSE against the true noise-free held-out outputs (truth scores ${fmt(nmseTruth)}). ` +
      `BPTT: Adam, minibatches of ${BATCH_SEQS} whole ${L}-step sequences, TensorFlow.js backend ${backend}; ${budget} s per Glorot run, ` +
      `${budgetSpectralStart} s from the spectral start, ${budgetF64} s for float64 JS BPTT. Clocks exclude held-out evaluations.`,
    '',
    `gloree fit: ${secs(gl.fitSeconds)} s (spectral stage ${secs(gl.spectralSeconds)} s, then ${gl.refineIterations} LM iterations), ` +
      `held-out NMSE ${fmt(gl.nmseFit)}; spectral alone ${fmt(gl.nmseSpectral)} (moments only, before the output regression: ${fmt(gl.nmseMomentsOnly)}).`,
    '',
    '### Held-out NMSE vs wall-clock (current iterate; BPTT groups: median / best over seeds)',
    '',
    `| method | ${times.map((t) => `${t} s`).join(' | ')} |`,
    `|---|${times.map(() => '---').join('|')}|`,
    ...curveRows,
    '',
    `### Time to reach 2× the best NMSE of any method (target ${fmt(target)}), ratio to gloree fit (${secs(tg)} s)`,
    '',
    '| method | runs | best NMSE (oracle checkpoint) | median best | diverged | reached | median s to target | median / gloree fit | fastest / gloree fit |',
    '|---|---|---|---|---|---|---|---|---|',
    ...ttRows,
    '',
    `Goals at 1e5 rows: gloree fit NMSE ${fmt(gl.nmseFit)} vs BPTT's best (random start, oracle checkpoint) ${fmt(bpttBest)} → ` +
      `${goal.gloreeAtLeastAsGood ? 'at least as low' : 'NOT as low'}. Time to reach BPTT's best: gloree ${secs(gloreeTimeToBpttBest)} s; ` +
      `median tfjs BPTT run ${speedText(goal.speedupVsTfjsMedian, bpttMedianToBest, budget)}; ` +
      `median float64 JS BPTT run ${speedText(speedupBound(f64MedianToBest), f64MedianToBest, budgetF64)}.`,
    '',
    '### Learning curves vs n',
    '',
    '| rows | method | best held-out NMSE | final | epochs |',
    '|---|---|---|---|---|',
    ...learnerCurves.flatMap((r) => [
      `| ${r.rows} | gloree spectral, moments only (learner bench) | ${fmt(r.nmseSpectral)} | | |`,
      `| ${r.rows} | gloree fit (learner bench, ${r.secondsRefined.toFixed(1)} s) | ${fmt(r.nmseRefined)} | | |`,
    ]),
    `| ${train.data.rows} | gloree fit (this bench, ${secs(gl.fitSeconds)} s) | ${fmt(gl.nmseFit)} | | |`,
    `| ${train.data.rows} | BPTT float64 JS (lr ${lrF64}, ${f64.length} seeds, ${budgetF64} s; tables above) | ${fmt(Math.min(...f64.map((r) => r.best)))} | ${fmt(median(f64.map((r) => r.final)))} (median) | ${f64.map((r) => r.epochs).join(', ')} |`,
    ...vsN.map((r) => `| ${r.rows} | ${r.method} | ${fmt(r.best)} | ${fmt(r.final)} | ${r.epochs} |`),
    '',
    '### Spectral stage vs a vectorised numpy implementation (bench/numpy_gloree.py, 1 OpenBLAS thread)',
    '',
    ...(Array.isArray(numpy)
      ? [
          '| rows | gloree s | numpy s | gloree rows/s | numpy rows/s | gloree speed / numpy | numpy peak RSS MiB | NMSE gloree | NMSE numpy | gloree stages ms | numpy stages ms |',
          '|---|---|---|---|---|---|---|---|---|---|---|',
          ...numpy.map((r) => `| ${r.rows} | ${secs(r.gloreeSeconds)} | ${secs(r.numpySeconds)} | ${Math.round(r.rows / r.gloreeSeconds)} | ${Math.round(r.rows / r.numpySeconds)} | ${r.speedRatio.toFixed(2)} | ${r.numpyPeakRssMiB.toFixed(0)} | ${fmt(r.nmseGloree)} | ${fmt(r.nmseNumpy)} | ${Object.entries(r.gloreeStages).map(([k, v]) => `${k.replace(/_.*/, '')} ${Math.round(v)}`).join(', ')} | ${Object.entries(r.numpyStages).map(([k, v]) => `${k.replace(/_.*/, '')} ${Math.round(v)}`).join(', ')} |`),
          '',
          'Peak memory and wall time of `gloree fit` as a separate process at 1e5–1e7 rows: see the learner section.',
        ]
      : [`numpy comparison skipped: ${numpy.error}`]),
  ].join('\n');
  console.log(md);
  return { backend, budget, loadAverage: { start: loadStart, end: loadEnd }, trainRows: train.data.rows, testRows: test.data.rows, gloree: { ...gl, spectral: undefined }, bpttKerasInit: keras, bptt: runs, fromSpectral, f64, vsN, numpy, target, goal, markdown: md };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchBPTT().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}

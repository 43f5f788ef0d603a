/**
 * Moment-pass throughput (samples/s = time steps per second), docs/method.md §5 steps 2 and 5:
 *   T2         scores + T2 = Σ y_t ⊗ S2(t)                     (explicit, dy×dx×dx)
 *   mixed      scores + Σ y_t ⊗ H(t; t−1, t−1)                   (explicit, dy×dx³)
 *   projected  the same mixed moment projected (ProjectedMixedAccumulator, dh×dh)
 * for dx = dy = 10 (dh = 5) and dx = dy = 50 (dh = 10), serial and on 2 worker threads, against the
 * same passes written in vectorised numpy (bench/numpy_moments.py, one OpenBLAS thread) in one run.
 * Sequences have length 50; inputs from a Gaussian VAR(1), y Gaussian (values do not affect speed).
 * Serial passes run on the WebAssembly SIMD kernels (src/linalg/kernels), and once more on the plain-JavaScript
 * kernels for the ratio WebAssembly / JavaScript (same sums, bit for bit).
 * Like for like: both sides time scores + moment (+ Wick terms) from the raw chunk, data generation
 * excluded, samples = rows of the chunks. numpy computes the full (unsymmetrised) dx² / dx³ blocks with BLAS
 * (≈2× the multiply-adds of gloree's triangle-only loops), and the projected variant from full scores;
 * the results are the same quantities, so the per-sample rates compare directly.
 *
 * `benchMoments()` returns a JSON-able object; run directly to print it:
 *   node --import tsx bench/moments.ts
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { Matrix } from '../src/linalg/matrix.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { SequenceChunk, makeChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { AccumulatorSpec } from '../src/moments/accumulator.js';
import { MomentWorkerPool, runParallelPass, runSerialPass } from '../src/moments/parallel.js';
import { setKernelBackend } from '../src/linalg/kernels/arena.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SEQ_LEN = 50;
const CHUNK_ROWS = 20000;

interface Case {
  dx: number;
  dy: number;
  dh: number;
  rows: Record<'T2' | 'mixed' | 'projected', number>;
}

const CASES: Case[] = [
  { dx: 10, dy: 10, dh: 5, rows: { T2: 400000, mixed: 100000, projected: 1000000 } },
  { dx: 50, dy: 50, dh: 10, rows: { T2: 40000, mixed: 2000, projected: 400000 } },
];

function makeModel(dx: number, rng: Rng): GaussianVAR1 {
  const F = new Matrix(dx, dx), A = new Matrix(dx, dx);
  for (let i = 0; i < dx; i++) F.data[i * dx + i] = 0.5;
  for (let i = 0; i < dx * dx; i++) {
    F.data[i] += 0.02 * rng.normal();
    A.data[i] = rng.normal();
  }
  const Q = new Matrix(dx, dx);
  for (let i = 0; i < dx; i++)
    for (let j = 0; j < dx; j++) {
      let s = i === j ? 1 : 0;
      for (let k = 0; k < dx; k++) s += (A.data[i * dx + k] * A.data[j * dx + k]) / dx;
      Q.data[i * dx + j] = s;
    }
  return new GaussianVAR1(new Float64Array(dx), F, Q);
}

function makeChunks(model: GaussianVAR1, dy: number, rows: number, rng: Rng): SequenceChunk[] {
  const out: SequenceChunk[] = [];
  const perChunk = Math.max(1, Math.floor(CHUNK_ROWS / SEQ_LEN));
  let left = Math.max(1, Math.round(rows / SEQ_LEN));
  while (left > 0) {
    const n = Math.min(perChunk, left);
    const lengths = new Array(n).fill(SEQ_LEN);
    out.push(makeChunk(model.dx, dy, model.simulate(rng, lengths), rng.normalArray(n * SEQ_LEN * dy), lengths));
    left -= n;
  }
  return out;
}

function specFor(variant: keyof Case['rows'], c: Case, rng: Rng): AccumulatorSpec {
  const rand = (r: number, k: number) => Array.from({ length: r }, () => Array.from({ length: k }, () => rng.normal()));
  if (variant === 'T2') return { type: 'T2', dy: c.dy };
  if (variant === 'mixed') return { type: 'mixed', dy: c.dy, direction: 'prev' };
  return { type: 'mixedProjected', dy: c.dy, direction: 'prev', demix: rand(c.dh, c.dy), first: rand(c.dx, c.dh), pair: rand(c.dx, c.dh) };
}

/** Best wall-clock and best process-CPU seconds over `reps` runs (CPU time is robust to other load on the machine). */
async function timeIt(f: () => Promise<unknown>, reps: number): Promise<{ wall: number; cpu: number }> {
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    wall = Math.min(wall, (performance.now() - t0) / 1e3);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return { wall, cpu };
}

function runNumpy(): { numpy: string; threads: string; results: { dx: number; variant: string; samplesPerSec: number; cpuSamplesPerSec: number }[] } | { error: string } {
  const cases = CASES.map((c) => ({ dx: c.dx, dy: c.dy, dh: c.dh, L: SEQ_LEN, rows: { T2: c.rows.T2, mixed: c.rows.mixed * 2, projected: c.rows.projected } }));
  try {
    const out = execFileSync('python3', [path.join(here, 'numpy_moments.py'), JSON.stringify(cases)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
      maxBuffer: 1 << 24,
    });
    return JSON.parse(out);
  } catch (e) {
    return { error: `numpy reference failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}

export async function benchMoments(): Promise<object> {
  const rng = new Rng(2024);
  const rowsOut: Record<string, unknown>[] = [];
  const pool = new MomentWorkerPool({ workers: 2 });
  try {
    for (const c of CASES) {
      const model = makeModel(c.dx, rng);
      for (const variant of ['T2', 'mixed', 'projected'] as const) {
        const chunks = makeChunks(model, c.dy, c.rows[variant], rng);
        const n = chunks.reduce((a, ch) => a + ch.rows, 0);
        const spec = specFor(variant, c, rng);
        // Warm-up (JIT) on one chunk, then best of 2.
        await runSerialPass(model, [spec], chunks.slice(0, 1));
        const serial = await timeIt(() => runSerialPass(model, [spec], chunks), 2);
        // The same pass on the plain-JavaScript kernels (bit-identical results): what WebAssembly SIMD buys.
        setKernelBackend('js');
        await runSerialPass(model, [spec], chunks.slice(0, 1));
        const scalar = await timeIt(() => runSerialPass(model, [spec], chunks), 1);
        setKernelBackend('wasm');
        // 2 workers: a one-shot runParallelPass (threads started for the pass) and a warm MomentWorkerPool (threads,
        // modules and JIT already up, as when a pool serves several passes).
        const oneShot = await timeIt(() => runParallelPass(model, [spec], chunks, { workers: 2 }), 1);
        await pool.run(model, [spec], chunks); // warm-up: the workers' JIT
        const workers = await timeIt(() => pool.run(model, [spec], chunks), 3);
        rowsOut.push({
          dx: c.dx,
          dy: c.dy,
          dh: c.dh,
          variant,
          rows: n,
          serialSamplesPerSec: n / serial.wall,
          serialCpuSamplesPerSec: n / serial.cpu,
          serialJsKernelsSamplesPerSec: n / scalar.wall,
          ratioWasmToJsKernels: scalar.wall / serial.wall,
          workers2OneShotSamplesPerSec: n / oneShot.wall,
          workers2SamplesPerSec: n / workers.wall,
          ratioWorkers2ToSerial: serial.wall / workers.wall,
        });
      }
    }
  } finally {
    await pool.close();
  }
  const np = runNumpy();
  if ('results' in np) {
    for (const r of rowsOut) {
      const m = np.results.find((q) => q.dx === r.dx && q.variant === r.variant);
      if (m) {
        r.numpySamplesPerSec = m.samplesPerSec;
        r.numpyCpuSamplesPerSec = m.cpuSamplesPerSec;
        r.ratioSerialToNumpy = (r.serialSamplesPerSec as number) / m.samplesPerSec;
        r.ratioSerialToNumpyCpu = (r.serialCpuSamplesPerSec as number) / m.cpuSamplesPerSec;
        r.ratioWorkersToNumpy = (r.workers2SamplesPerSec as number) / m.samplesPerSec;
      }
      if (r.variant === 'projected') {
        // What the learner runs (projected) against what a numpy user would write (explicit tensor).
        const ex = np.results.find((q) => q.dx === r.dx && q.variant === 'mixed');
        if (ex) r.ratioSerialToNumpyExplicitMixed = (r.serialSamplesPerSec as number) / ex.samplesPerSec;
      }
    }
  }
  const f = (v: unknown, d = 3) => (typeof v === 'number' ? v.toPrecision(d) : '—');
  const markdown = [
    '| dx = dy | pass | gloree samples/s (1 core) | numpy samples/s (1 thread) | ratio (wall) | ratio (CPU) | 2 workers, one-shot pass | 2 workers, warm pool | warm pool / 1 core | WebAssembly / JS kernels |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rowsOut.map((r) =>
      `| ${r.dx} | ${r.variant} | ${f(r.serialSamplesPerSec)} | ${f(r.numpySamplesPerSec)} | ${f(r.ratioSerialToNumpy)} | ${f(r.ratioSerialToNumpyCpu)} | ${f(r.workers2OneShotSamplesPerSec)} | ${f(r.workers2SamplesPerSec)} | ${f(r.ratioWorkers2ToSerial)} | ${f(r.ratioWasmToJsKernels)} |`,
    ),
    '',
    'ratio = gloree / numpy per sample (> 1: gloree faster). CPU ratio: process CPU time on both sides (gloree\'s includes V8\'s',
    'helper threads). A one-shot worker pass starts two threads (≈ 0.2 s under tsx) and runs cold code; a warm',
    '`MomentWorkerPool` (several passes on the same threads) shows what the second core adds.',
  ].join('\n');
  return {
    markdown,
    benchmark: 'moments',
    unit: 'samples/s (time steps per second, higher is better); ratio = gloree / numpy',
    sequenceLength: SEQ_LEN,
    numpy: 'results' in np ? { version: np.numpy, threads: np.threads } : np,
    results: rowsOut,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  benchMoments().then((r) => console.log(JSON.stringify(r, null, 2)));
}

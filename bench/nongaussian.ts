/**
 * Non-Gaussian inputs (issue 15), through the learner pipeline: planted IO-RNNs (dx = 4, dh = 3, dy = 4,
 * ‖U‖₂ = 0.3, output noise 0.05, 5000 sequences × 20 = 1e5 rows) whose VAR(1) inputs (F = 0.6 I, σ_x = 0.4) have
 * Laplace or uniform innovations (independent per coordinate; the first step after a 50-step burn-in).
 *
 * Per scenario and planted seed, held-out NMSE (2000 sequences, against the noise-free outputs) of
 *  - the default fit's spectral estimate (`inputModel: 'auto'`, `refine: false`), read from its diagnostics;
 *  - the same with `inputModel: 'var1'` (Gaussian scores: what the fit did before);
 *  - the U = 0 model of the default fit (same Â1, least-squares output layer).
 * Goal (issue 15): spectral NMSE ≤ 0.1 × U = 0 NMSE. Also: the cost of the non-Gaussian moment passes per row
 * against the Gaussian ones (same chunks, same run, fastest of 5), and how often `auto` keeps the Gaussian model
 * on Gaussian VAR(1) data (the input-model setup of the pipeline, src/learn/input-models.ts).
 *
 * Run: node --import tsx bench/nongaussian.ts [--quick] [--seeds 1,2,3] [--only laplace,uniform,cubic-laplace,cubic-uniform] [--rate-seeds 50]
 * The cost part alone (it needs one fitted model per innovation; ≈ 15 s):
 *   node --import tsx bench/nongaussian.ts --only laplace,uniform --seeds 1 --rate-seeds 0
 */
import { Matrix, transpose } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, SequenceChunk, memorySource } from '../src/io/dataset.js';
import { randomIORNN } from '../src/models/simulate.js';
import { IORNNParams } from '../src/models/params.js';
import { predictIORNN } from '../src/models/iornn.js';
import { nmse } from '../src/metrics/nmse.js';
import { parameterErrors } from '../src/metrics/parameters.js';
import { fitRNN } from '../src/learn/fit.js';
import { runLog } from '../src/learn/options.js';
import { INPUT_MODELS } from '../src/learn/input-models.js';
import { VAR1Stats, fitVAR1Sync } from '../src/input/fit.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { momentPass } from '../src/moments/accumulator.js';
import { T2Accumulator } from '../src/moments/single.js';
import { ProjectedMixedAccumulator } from '../src/moments/mixed.js';
import { NGProjectedMixedAccumulator, NGT2Accumulator } from '../src/moments/nongaussian.js';
import { ConditionalScoreUAccumulator } from '../src/moments/nongaussian-u.js';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const quick = process.argv.includes('--quick');
const DX = 4, DH = 3, DY = 4, RHO = 0.6, SIGMA = 0.4, L = 20;
const N_TRAIN = quick ? 1000 : 5000, N_TEST = 2000;

type Innovation = 'laplace' | 'uniform' | 'gaussian';

/** Unit-variance draws. */
function draw(rng: Rng, kind: Innovation): number {
  if (kind === 'gaussian') return rng.normal();
  if (kind === 'uniform') return (2 * rng.uniform() - 1) * Math.sqrt(3);
  const u = rng.uniform() - 0.5; // Laplace with variance 1: scale 1/√2
  return (-Math.sign(u) * Math.log(1 - 2 * Math.abs(u))) / Math.SQRT2;
}

function inputs(kind: Innovation, nSeq: number, seed: number): SequenceChunk {
  const rng = new Rng(seed), q = SIGMA * Math.sqrt(1 - RHO * RHO), burn = 50;
  const x = new Float64Array(nSeq * L * DX), c = new Float64Array(DX);
  let r = 0;
  for (let s = 0; s < nSeq; s++) {
    c.fill(0);
    for (let t = -burn; t < L; t++) {
      for (let a = 0; a < DX; a++) c[a] = RHO * c[a] + q * draw(rng, kind);
      if (t >= 0) x.set(c, (r++) * DX);
    }
  }
  return makeChunk(DX, 0, x, new Float64Array(0), new Int32Array(nSeq).fill(L));
}

function withOutputs(p: IORNNParams, c: SequenceChunk, noise: number, seed: number): { data: SequenceChunk; clean: Float64Array } {
  const clean = predictIORNN(p, c), y = clean.slice(), rng = new Rng(seed);
  for (let i = 0; i < y.length; i++) y[i] += noise * rng.normal();
  return { data: makeChunk(DX, DY, c.x, y, c.lengths), clean };
}

function chunks(c: SequenceChunk, per = 500): SequenceChunk[] {
  const out: SequenceChunk[] = [];
  for (let k0 = 0; k0 < c.lengths.length; k0 += per) {
    const k1 = Math.min(c.lengths.length, k0 + per);
    out.push(makeChunk(c.dx, c.dy, c.x.slice(k0 * L * c.dx, k1 * L * c.dx), c.y.slice(k0 * L * c.dy, k1 * L * c.dy), c.lengths.slice(k0, k1)));
  }
  return out;
}

function fastest(fn: () => void, reps = 5): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** Spectral estimate and U = 0 model of a fit, from its diagnostics (the same for every IO-RNN learner). */
function spectralAndBaseline(params: IORNNParams, d: { spectral: { A1: number[][]; U: number[][]; A2: number[][]; b: number[] }; feedforward?: { A2: number[][]; b: number[] } }) {
  const spectral: IORNNParams = { ...params, A1: Matrix.from(d.spectral.A1), U: Matrix.from(d.spectral.U), A2: Matrix.from(d.spectral.A2), b: Float64Array.from(d.spectral.b) };
  const uZero: IORNNParams = { ...spectral, U: new Matrix(DH, DH), A2: Matrix.from(d.feedforward!.A2), b: Float64Array.from(d.feedforward!.b) };
  return { spectral, uZero };
}

async function scenario(kind: Innovation, activation: 'z2' | 'z3', seed: number) {
  const truth = randomIORNN({ dx: DX, dh: DH, dy: DY, uNorm: 0.3, seed, activation });
  const train = withOutputs(truth, inputs(kind, N_TRAIN, 1000 + seed), 0.05, 2000 + seed);
  const test = withOutputs(truth, inputs(kind, N_TEST, 3000 + seed), 0, 4000 + seed);
  // A spectral estimate whose states blow up on the test inputs scores Infinity (reported, not thrown).
  const score = (p: IORNNParams) => {
    try {
      const v = nmse(predictIORNN(p, test.data), test.clean, DY);
      return Number.isFinite(v) ? v : Infinity;
    } catch (e) {
      if ((e as Error).name === 'BlowUpError' || /blows up/.test((e as Error).message)) return Infinity;
      throw e;
    }
  };
  const fit = (inputModel: 'auto' | 'var1') => fitRNN(train.data, { hidden: DH, activation: truth.activation, refine: false, seed: 1, inputModel });
  let t = performance.now();
  const a = await fit('auto');
  const secondsAuto = (performance.now() - t) / 1000;
  t = performance.now();
  const g = await fit('var1');
  const secondsVar1 = (performance.now() - t) / 1000;
  const da = a.diagnostics as never, dg = g.diagnostics as never;
  const A = spectralAndBaseline(a.params as IORNNParams, da), G = spectralAndBaseline(g.params as IORNNParams, dg);
  const sel = (a.diagnostics.inputModel as { selection?: { choice: string; mixture?: { components: { family: string; weights: number[] }[] } } }).selection;
  const row = {
    innovations: kind,
    activation,
    seed,
    choice: sel?.choice ?? '—',
    components: sel?.mixture?.components.map((c) => (c.family === 'stein-poly' ? 'S' : String(c.weights.length))).join('') ?? '—',
    nmseUZero: score(A.uZero),
    nmseSpectral: score(A.spectral),
    nmseSpectralVar1: score(G.spectral),
    nmseUZeroVar1: score(G.uZero),
    // The model `--no-refine` writes: Â1, Û with the least-squares output layer (as the U = 0 model has).
    nmseNoRefine: score(a.params as IORNNParams),
    errA1: parameterErrors(A.spectral, truth).A1,
    errU: parameterErrors(A.spectral, truth).U,
    errA1Var1: parameterErrors(G.spectral, truth).A1,
    errUVar1: parameterErrors(G.spectral, truth).U,
    secondsAuto,
    secondsVar1,
    // The moment passes of the fit itself (pass 2 + the mixed-moment pass; in-memory data, fresh chunks per pass).
    passMsAuto: (a.timingsMs.pass2_moments ?? 0) + (a.timingsMs.pass3_mixed ?? 0),
    passMsVar1: (g.timingsMs.pass2_moments ?? 0) + (g.timingsMs.pass3_mixed ?? 0),
    setupMsAuto: a.timingsMs.pass1_input ?? 0,
    setupMsVar1: g.timingsMs.pass1_input ?? 0,
  };
  console.log(JSON.stringify(row));
  return { row, model: a.inputModel, parts: chunks(train.data) };
}

/** Per-row cost of the moment passes: Gaussian (T2; projected mixed) vs non-Gaussian, same chunks. */
function cost(label: string, parts: SequenceChunk[], m: MixtureVAR1) {
  const g = fitVAR1Sync(parts, { diagnostics: false }).model;
  const W = Matrix.from([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]), G = new Matrix(DX, DH, Float64Array.from({ length: DX * DH }, (_, i) => Math.sin(i + 1)));
  // Fresh chunk objects every repetition (as every pass of a fit reads fresh chunks): the non-Gaussian scores and
  // innovation derivatives are cached per chunk object, and must be paid for in every timed repetition.
  const run = (model: GaussianVAR1 | MixtureVAR1, make: () => { sum: Float64Array }[]) => () => {
    const accs = make();
    for (const c of parts) momentPass(model, { ...c }, accs as never);
  };
  const gT2 = fastest(run(g, () => [new T2Accumulator(g, DY)]));
  const nT2 = fastest(run(m, () => [new NGT2Accumulator(m, DY)]));
  const gMx = fastest(run(g, () => [new ProjectedMixedAccumulator(g, DY, 'prev', W, G, G)]));
  const nMx = fastest(run(m, () => [new NGProjectedMixedAccumulator(m, DY, 'prev', W, G, G)]));
  // The quadratic learner's U step on the non-Gaussian model (any A1 of the right shape: the cost does not depend on it).
  const nU = fastest(() => {
    const acc = new ConditionalScoreUAccumulator(m, DY, W, transpose(G), G, 1);
    for (const c of parts) acc.add(c);
  });
  const rows = parts.reduce((s, c) => s + c.rows, 0);
  const r = { label, rows, msT2Gaussian: gT2, msT2NG: nT2, ratioT2: nT2 / gT2, msMixedGaussian: gMx, msMixedNG: nMx, ratioMixed: nMx / gMx, ratioBoth: (nT2 + nMx) / (gT2 + gMx), msUConditional: nU, ratioUConditional: nU / gMx, ratioT2AndU: (nT2 + nU) / (gT2 + gMx) };
  console.log(JSON.stringify(r));
  return r;
}

/** How often the pipeline's 'auto' setup keeps the Gaussian model on Gaussian VAR(1) data. */
async function gaussianChoiceRate(seeds: number) {
  let gaussian = 0;
  for (let s = 0; s < seeds; s++) {
    const c = inputs('gaussian', N_TRAIN, 50_000 + s);
    const source = memorySource(chunks(c));
    const stats = new VAR1Stats(DX);
    for await (const ch of source.chunks()) stats.add(ch);
    const setup = await INPUT_MODELS.auto({ source, stats, log: runLog(), seed: 1 });
    if (setup.model instanceof GaussianVAR1) gaussian++;
  }
  const r = { seeds, rows: N_TRAIN * L, pickedGaussian: gaussian };
  console.log(JSON.stringify(r));
  return r;
}

const SEEDS = (arg('--seeds') ?? '1,2,3').split(',').map(Number);
const ONLY = (arg('--only') ?? 'laplace,uniform,cubic-laplace,cubic-uniform').split(',');
const results: Awaited<ReturnType<typeof scenario>>['row'][] = [];
const costs = [];
for (const name of ONLY) {
  const cubic = name.startsWith('cubic-');
  const kind = (cubic ? name.slice(6) : name) as Innovation;
  // The cubic case: the first planted seed whose own model stays bounded on these inputs (a cubic recurrence
  // driven by heavy-tailed inputs can blow up: that is the planted model's instability, not the learner's).
  let cubicDone = false;
  for (const seed of cubic ? [...SEEDS, ...SEEDS.map((s) => s + 100)] : SEEDS) {
    if (cubic && cubicDone) break;
    let res;
    try {
      res = await scenario(kind, cubic ? 'z3' : 'z2', seed);
    } catch (e) {
      if ((e as Error).name !== 'BlowUpError') throw e;
      console.log(JSON.stringify({ innovations: kind, activation: cubic ? 'z3' : 'z2', seed, skipped: 'the planted model blows up on its own inputs' }));
      continue;
    }
    cubicDone = cubic;
    const { row, model, parts } = res;
    results.push(row);
    if (!cubic && seed === SEEDS[0] && model instanceof MixtureVAR1) costs.push(cost(`${kind} (${row.components})`, parts, model));
  }
}
const rate = await gaussianChoiceRate(Number(arg('--rate-seeds') ?? (quick ? 10 : 50)));

const f = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : 'blows up');
const ratio = (a: number, b: number) => (Number.isFinite(a) ? (a / b).toFixed(3) : '∞');
console.log('\n| innovations | σ | seed | auto | scores per component | U = 0 NMSE | spectral NMSE | ratio | --no-refine model: NMSE (ratio) | var1 spectral (ratio to its U = 0) | Â1 / Û err auto | Â1 / Û err var1 |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.innovations} | ${r.activation} | ${r.seed} | ${r.choice} | ${r.components} | ${f(r.nmseUZero)} | ${f(r.nmseSpectral)} | **${ratio(r.nmseSpectral, r.nmseUZero)}** | ${f(r.nmseNoRefine)} (${ratio(r.nmseNoRefine, r.nmseUZero)}) | ${f(r.nmseSpectralVar1)} (${ratio(r.nmseSpectralVar1, r.nmseUZeroVar1)}) | ${r.errA1.toFixed(3)} / ${r.errU.toFixed(2)} | ${r.errA1Var1.toFixed(3)} / ${r.errUVar1.toFixed(2)} |`);
}
for (const kind of ['laplace', 'uniform']) {
  const rs = results.filter((r) => r.innovations === kind && r.activation === 'z2').map((r) => r.nmseSpectral / r.nmseUZero).sort((a, b) => a - b);
  if (rs.length) console.log(`${kind} z²: ratio median ${rs[Math.floor(rs.length / 2)].toFixed(3)}, worst ${Number.isFinite(rs[rs.length - 1]) ? rs[rs.length - 1].toFixed(3) : '∞ (blows up)'} over ${rs.length} seeds`);
}
for (const r of results) if (r.activation === 'z2') console.log(`${r.innovations} seed ${r.seed}: fit passes 2 + 3 ${r.passMsAuto.toFixed(0)} ms (auto) vs ${r.passMsVar1.toFixed(0)} ms (var1), ${(r.passMsAuto / r.passMsVar1).toFixed(2)}×; pass 1 + input model ${r.setupMsAuto.toFixed(0)} vs ${r.setupMsVar1.toFixed(0)} ms`);
for (const c of costs) console.log(`Passes per ${c.rows} rows, ${c.label} (fastest of 5): T2 ${c.msT2Gaussian.toFixed(1)} ms Gaussian vs ${c.msT2NG.toFixed(1)} ms (${c.ratioT2.toFixed(2)}×); projected mixed ${c.msMixedGaussian.toFixed(1)} vs ${c.msMixedNG.toFixed(1)} ms (${c.ratioMixed.toFixed(2)}×); both ${c.ratioBoth.toFixed(2)}×; U by conditional scores (the quadratic learner's U step here) ${c.msUConditional.toFixed(1)} ms (${c.ratioUConditional.toFixed(2)}× the Gaussian mixed moment), T2 + U ${c.ratioT2AndU.toFixed(2)}×`);
console.log(`auto on Gaussian VAR(1) data: kept the Gaussian model in ${rate.pickedGaussian} of ${rate.seeds} seeds (${rate.rows} rows each)`);

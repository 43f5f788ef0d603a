/**
 * The smooth learner's moment stages as streaming passes (docs/activations.md, "Smooth activations"): every moment is
 * a plain sum over chunks of whole sequences, run by a pass runner (the pipeline's `ctx.pass`, or `memoryRunner` over
 * in-memory chunks), so the training data are never held in memory; only the scale-fit subsample (about 3000 rows of
 * whole sequences, `strideSubchunk`) is kept.
 *
 *  - pass 2 (the pipeline's): ȳ, T2 = E[ȳ ⊗ S2] on the even and odd sequences, T1 = E[ȳ_t ⊗ s_t] over t ≤ L−2, the
 *    control variate (`pass2InMemory` builds the same for in-memory chunks);
 *  - `orderMoments` (one pass): T3 = E[r ⊗ S3] on the two halves (r: control-variate residuals, valid for order ≥ 3),
 *    projected on T1's row space when the explicit tensor is large, plus the scale-fit subsample;
 *  - `smoothRank` (`--hidden auto`, no pass): dh from the singular values of both moments against their noise floors;
 *  - `mixedMomentPass` (one pass, after the directions): the order-m mixed moment on the duals, for U.
 */
import { Matrix, transpose } from '../../linalg/matrix.js';
import { svd } from '../../linalg/svd.js';
import { makeChunk, type SequenceChunk } from '../../io/dataset.js';
import type { InputModel } from '../../input/model.js';
import { momentPass } from '../../moments/accumulator.js';
import { t1For, t2For } from '../../moments/nongaussian.js';
import { ControlVariate, type ControlVariateFit, type QuadraticMode } from '../../moments/control.js';
import { diagonalFor, hermiteMomentFor, scoresFor } from '../../moments/nongaussian-higher.js';
import { SequenceSample, bySubchunks, centredChunk, copyChunk, sampleStride, strideSubchunk } from '../chunks.js';
import { haloOf, withHalo } from '../pieces.js';
import { REFINE_MAX_ROWS } from '../options.js';
import { selectRank } from '../rank.js';
import { pinv } from '../../linalg/pinv.js';
import type { Activation } from '../../models/params.js';
import { activationSymmetry } from '../../models/activation.js';
import { chooseSigns } from './smooth-signs.js';
import { chooseOrder, smoothDirections, smoothStarts, unfoldingSpectra, unitGaugeU, type OrderChoice, type SmoothStart, type UStart } from './smooth.js';

/** One streaming pass over all data: `fn` sees each chunk with the global index of its first sequence. */
export type PassRunner = (fn: (chunk: SequenceChunk, sequenceOffset: number) => void) => Promise<void>;

/** A pass runner over in-memory chunks (tests, bench). */
export function memoryRunner(chunks: readonly SequenceChunk[]): PassRunner {
  return async (fn) => {
    let off = 0;
    for (const c of chunks) {
      fn(c, off);
      off += c.lengths.length;
    }
  };
}

/** What the smooth learner takes from pass 2. */
export interface SmoothPass2 {
  yMean: Float64Array;
  /** T2 (dy×dx×dx) of the even / odd sequences (by global index) and their step counts. */
  T2: [Float64Array, Float64Array];
  counts: [number, number];
  /** dy×dx, E[ȳ_t ⊗ s_t] over t ≤ L−2. */
  T1: Float64Array;
  /** Control variate for the order ≥ 3 moments (null: centred y). */
  cv: ControlVariateFit | null;
  rows: number;
}

/** Pass 2 of the pipeline for in-memory chunks (control variate on all rows; default features 'current'). */
export function pass2InMemory(chunks: readonly SequenceChunk[], model: InputModel, opts: { quadratic?: QuadraticMode } = {}): SmoothPass2 {
  const { dx, dy } = chunks[0];
  const yMean = new Float64Array(dy);
  let rows = 0;
  for (const c of chunks) {
    for (let e = 0; e < c.y.length; e++) yMean[e % dy] += c.y[e];
    rows += c.rows;
  }
  yMean.forEach((v, i) => (yMean[i] = v / rows));
  const t2 = [t2For(model, dy), t2For(model, dy)];
  const t1 = t1For(model, dy, { skipLast: 1 });
  const cv = new ControlVariate(dx, dy, { center: model.mean, quadratic: opts.quadratic ?? 'current' });
  let off = 0;
  for (const c of chunks) {
    const cc = centredChunk(c, yMean);
    momentPass(model, cc, [t1]);
    for (const h of [0, 1]) {
      const sub = strideSubchunk(cc, off, 2, h);
      if (sub) momentPass(model, sub, [t2[h]]);
    }
    momentPass(null, c, [cv]);
    off += c.lengths.length;
  }
  return { yMean, T2: [t2[0].result(), t2[1].result()], counts: [t2[0].count, t2[1].count], T1: t1.result(), cv: cv.solve(), rows };
}

export interface SmoothMoments {
  dx: number;
  dy: number;
  yMean: Float64Array;
  T2: [Float64Array, Float64Array];
  /** T3 (dy×k×k×k) on the two halves. */
  T3: [Float64Array, Float64Array];
  counts: [number, number];
  /** dx×k orthonormal basis T3 was projected on (null: explicit, k = dx). */
  Q: Matrix | null;
  T1: Float64Array;
  cv: ControlVariateFit | null;
  /** Whole sequences (about `sampleRows` rows, evenly spread) for the scale fit and the moment-route factors. */
  sample: SequenceChunk[];
}

/** Order ≥ 3 target: control-variate residuals, else centred y (rows×dy). */
function residualTarget(p2: SmoothPass2, chunk: SequenceChunk): Float64Array {
  const cv = p2.cv;
  return cv ? bySubchunks(chunk, (sub) => cv.residualChunk(sub)) : centredChunk(chunk, p2.yMean).y;
}

/**
 * The T3 pass. Projection: T1 = Σ_j ν_j α_j A2^(j) ⊗ â_j with ν_j = E σ'(z_j) > 0 for monotone σ, so T1's row space
 * is span{â_j} when dy ≥ dh. With a given dh the tensor is projected on dh dimensions when dy·dx³ > maxTensorEntries
 * (default 256; measured on the tanh bench scenario: T3's ratio over its noise floor rose from 7.4 to 14 at a fifth of
 * the cost). With dh 'auto' it is projected on min(dx, dy) dimensions (all T1 can span), so the rank rule still sees
 * every component. Explicit otherwise (or when dy < dh, where T1's row space misses directions).
 */
export async function orderMoments(
  run: PassRunner, model: InputModel, p2: SmoothPass2, dx: number, dy: number,
  opts: { hidden: number | 'auto'; maxTensorEntries?: number; sampleRows?: number; maxSequenceRows?: number },
): Promise<SmoothMoments> {
  if (p2.counts[0] === 0 || p2.counts[1] === 0) throw new Error('smooth identification: needs at least 2 sequences (the order and rank rules compare two halves of the sequences)');
  const big = dy * dx ** 3 > (opts.maxTensorEntries ?? 256);
  const k = opts.hidden === 'auto' ? Math.min(dx, dy) : dy >= opts.hidden ? opts.hidden : dx;
  let Q: Matrix | null = null;
  if (big && k < dx) {
    const V = svd(transpose(new Matrix(dy, dx, p2.T1))).U;
    Q = new Matrix(dx, k);
    for (let a = 0; a < dx; a++) for (let j = 0; j < k; j++) Q.data[a * k + j] = V.get(a, j);
  }
  const modes = [0, 1, 2].map(() => ({ lag: 0 as const, Q }));
  const t3 = [hermiteMomentFor(model, dy, modes), hermiteMomentFor(model, dy, modes)];
  const stride = sampleStride(p2.rows, opts.sampleRows ?? 3000);
  // Copies (the runner's chunks may be a reader's reused buffers); pieces of a long sequence joined, at most
  // maxSequenceRows rows of one sequence (SequenceSample).
  const kept = new SequenceSample({ inMemory: false }, stride, opts.maxSequenceRows ?? REFINE_MAX_ROWS);
  await run((chunk, off) => {
    // A piece's halo rows (src/learn/pieces.ts) stay marked: the accumulators add own rows only.
    const target = withHalo(makeChunk(dx, dy, chunk.x, residualTarget(p2, chunk), chunk.lengths), haloOf(chunk));
    for (const h of [0, 1]) {
      const sub = strideSubchunk(target, off, 2, h);
      if (sub) t3[h].add(sub, scoresFor(model, sub), sub.y);
    }
    kept.add(chunk, off);
  });
  return { dx, dy, yMean: p2.yMean, T2: p2.T2, T3: [t3[0].result(), t3[1].result()], counts: p2.counts, Q, T1: p2.T1, cv: p2.cv, sample: kept.chunks() };
}

export interface SmoothRank {
  chosen: number;
  /** Components of T2 (output-mode unfolding, src/learn/rank.ts) and of T3 (input-mode unfolding) above κ × their floors. */
  rank2: number;
  rank3: number;
  spectrum2: number[];
  noiseFloor2: number;
  spectrum3: number[];
  noiseFloor3: number;
  factor: number;
  rule: string;
}

/**
 * `--hidden auto` for smooth σ. Each moment is Σ_j (E σ^(m)(z_j)) A2^(j) ⊗ a1_j^{⊗m} plus sampling noise E, so the
 * unfolding that separates the neurons has rank ≤ dh, with equality unless some E σ^(m)(z_j) vanishes (tanh with
 * symmetric inputs: E σ″ = 0, T2 has rank 0). The split-sample difference D has the noise's covariance, and by Weyl
 * σ_i of the estimate moves by at most ‖E‖₂ ≈ ‖D‖₂ (the argument of src/learn/rank.ts). So the number of singular
 * values above κ‖D‖₂ (κ = 2, as there) is, with high probability, a lower bound on dh from each moment, and the
 * larger of the two counts is the estimate. T2 uses its output-mode unfolding (rank.ts: the noise outside A2's row
 * space is small), T3 its input-mode unfolding (rank ≤ dh ≤ k). Capped at min(dx, k): the moment route needs
 * dh ≤ dx, and more states can only come from a linear realization (`--activation linear --hidden auto`).
 */
export function smoothRank(mom: SmoothMoments, factor = 2): SmoothRank {
  const { dx, dy } = mom;
  const k = mom.Q ? mom.Q.cols : dx;
  const r2 = selectRank(mom.T2[0], mom.T2[1], dy, dx, { counts: mom.counts, factor });
  const s3 = unfoldingSpectra(mom.T3[0], mom.T3[1], mom.counts, dy, k, 3);
  const noiseFloor3 = s3.noise[0];
  const rank3 = Math.min(k, s3.spectrum.filter((v) => v > factor * noiseFloor3).length);
  const chosen = Math.min(dx, Math.max(r2.rank, rank3));
  const f = (v: number) => v.toPrecision(3);
  const rule =
    `dh = max(components of E[y ⊗ S2] above ${factor} × its noise floor ${f(r2.noiseFloor)}: ${r2.rank} [${r2.spectrum.map(f).join(', ')}], ` +
    `components of E[r ⊗ S3] above ${factor} × its noise floor ${f(noiseFloor3)}: ${rank3} [${s3.spectrum.map(f).join(', ')}]) = ${chosen}`;
  return { chosen, rank2: r2.rank, rank3, spectrum2: r2.spectrum, noiseFloor2: r2.noiseFloor, spectrum3: s3.spectrum, noiseFloor3, factor, rule };
}

/** The mixed moment of order m on the duals G (dy×dh×dh, [i, j, k]): CV residuals for m = 3, centred y for m = 2. */
export async function mixedMomentPass(run: PassRunner, model: InputModel, p2: SmoothPass2, G: Matrix, m: 2 | 3): Promise<Float64Array> {
  const dy = p2.yMean.length;
  const acc = diagonalFor(model, dy, G, 'P2prime', m);
  await run((chunk) => {
    // The control variate's features include x_{t−1}x_t products, whose (t; t−1) derivative is not 0: only moments
    // with ≥ 3 derivatives may use its residuals (m = 3: two at t, one at t−1).
    const y = m === 3 ? residualTarget(p2, chunk) : centredChunk(chunk, p2.yMean).y;
    acc.add(chunk, scoresFor(model, chunk), y);
  });
  return acc.result();
}

export interface SmoothIdentifyOptions {
  activation: Activation;
  hidden: number | 'auto';
  order?: 2 | 3;
  starts?: UStart[];
  seed?: number;
  /** The order-3 moment is formed explicitly only when dy·dx³ ≤ this (default 256), else projected (`orderMoments`). */
  maxTensorEntries?: number;
  /** Rows (whole sequences, evenly spread) for the scale fit and the moment-route factors. Default 3000 (the start's
   * held-out NMSE was the same as with 10 000 on the bench scenario, at a third of the cost). */
  scaleFitMaxRows?: number;
  /** At most this many rows of one sequence enter that sample (default REFINE_MAX_ROWS; `SequenceSample`). */
  maxSequenceRows?: number;
  /** Corrections of the moment route's factor F (default 2; smooth.ts `smoothStarts`). */
  momentIterations?: number;
  /** Choose neuron signs by fit for σ without sign symmetry (default true; smooth-signs.ts). */
  signSearch?: boolean;
}

/** The sign search of smooth-signs.ts: the pattern kept (relative to the start) and every pattern's sample loss. */
export interface SignsSummary {
  start: UStart;
  signs: number[];
  tried: { signs: number[]; loss: number }[];
}

export interface SmoothIdentified {
  signs?: SignsSummary;
  dh: number;
  starts: SmoothStart[];
  order: OrderChoice;
  cpResidual: number;
  rank?: SmoothRank;
}

/**
 * Steps 1–3 (smooth.ts) over streaming passes: the requested starts (default: moment and zero) sorted by their MSE on
 * the scale-fit sample, so `starts[0]` is the one to refine. Why both by default: on the tanh scenario the moment start
 * is best (2.4e-3 vs 8.2e-2 held-out), on a planted sigmoid RNN the zero start was; the sample MSE picks the better one.
 */
export async function identifySmoothFrom(run: PassRunner, model: InputModel, p2: SmoothPass2, dx: number, dy: number, opts: SmoothIdentifyOptions): Promise<SmoothIdentified> {
  if (opts.hidden !== 'auto' && opts.hidden > dx) throw new RangeError(`smooth identification: ${opts.hidden} neurons need dh ≤ dx = ${dx} (A1 of full row rank)`);
  const mom = await orderMoments(run, model, p2, dx, dy, { hidden: opts.hidden, maxTensorEntries: opts.maxTensorEntries, sampleRows: opts.scaleFitMaxRows, maxSequenceRows: opts.maxSequenceRows });
  // The spectra are cheap (two small SVDs) and go into the diagnostics (the report's chart) for a given dh too.
  let rank: SmoothRank | undefined;
  try {
    rank = smoothRank(mom);
  } catch (e) {
    if (opts.hidden === 'auto') throw e;
  }
  const dh = opts.hidden === 'auto' ? rank!.chosen : opts.hidden;
  if (dh < 1) throw new NoComponentError(rank!);
  const order = chooseOrder(mom, dh, opts.order);
  const m = order.m;
  const dir = smoothDirections(mom, m, dh, opts.seed ?? 0);
  const G = pinv(dir.A1).pinv;
  const C = await mixedMomentPass(run, model, p2, G, m);
  const Uunit = unitGaugeU(C, mom.T1, G, dir.comps, 1);
  const starts = smoothStarts(opts.activation, m, dir.A1, Uunit, dir.comps, mom.yMean, mom.sample, opts.starts ?? ['moment', 'zero'], opts.momentIterations ?? 2);
  starts.sort((a, b) => a.mse - b.mse);
  // σ without sign symmetry (sigmoid, softplus): the neuron signs of the best start by fit (smooth-signs.ts).
  let signs: SignsSummary | undefined;
  if (activationSymmetry(opts.activation) !== 'odd' && opts.signSearch !== false) {
    const c = chooseSigns(starts[0].params, mom.sample);
    starts[0] = { ...starts[0], params: c.params };
    signs = { start: starts[0].start, signs: c.signs, tried: c.tried };
  }
  return { dh, starts, order, cpResidual: dir.cpResidual, ...(rank ? { rank } : {}), ...(signs ? { signs } : {}) };
}

/** `--hidden auto` found no component above the noise in either moment. */
export class NoComponentError extends Error {
  constructor(readonly rank: SmoothRank) {
    super(`no singular value of E[y ⊗ S2] or E[r ⊗ S3] stands above ${rank.factor} × its noise floor (${rank.rule})`);
  }
}

/** `identifySmoothFrom` on in-memory chunks (pass 2 by `pass2InMemory`). */
export async function identifySmooth(chunks: readonly SequenceChunk[], model: InputModel, opts: SmoothIdentifyOptions & { quadratic?: QuadraticMode }): Promise<SmoothIdentified> {
  const p2 = pass2InMemory(chunks, model, { quadratic: opts.quadratic });
  return identifySmoothFrom(memoryRunner(chunks), model, p2, chunks[0].dx, chunks[0].dy, opts);
}

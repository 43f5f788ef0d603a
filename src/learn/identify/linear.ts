/**
 * Spectral identification of the linear IO-RNN h_t = A1 x_t + U h_{t−1}, y_t = A2ᵀh_t + b (docs/activations.md,
 * "Linear IO-RNN"), as pure functions a pipeline calls:
 *   1. one moment pass with a MarkovAccumulator (M_k = E[(y_{t+k} − ȳ) ⊗ s_t] = A2ᵀU^kA1, exact at every lag),
 *   2. `linearFromMarkov`: horizon, block Hankel matrix, state dimension from its singular values, Ho–Kalman,
 *      balanced canonical form,
 *   3. A2, b by least squares on the simulated states (then the usual refinement, σ(z) = z).
 * The state dimension may exceed dx and dy (only the Hankel matrix's rank limits it).
 */
import { Matrix, transpose } from '../../linalg/matrix.js';
import type { SequenceChunk } from '../../io/dataset.js';
import type { InputModel } from '../../input/model.js';
import type { Activation, IORNNParams } from '../../models/params.js';
import { MarkovAccumulator } from '../../moments/markov.js';
import { momentPass } from '../../moments/accumulator.js';
import { balance, blockHankel, hankelOrder, hoKalman, type HankelOrder, type LinearRealization } from '../../decomposition/ho-kalman.js';
import { fitOutputLayer } from '../refine.js';
import { predictIORNN } from '../../models/iornn.js';

/** σ(z) = z. */
export const LINEAR_ACTIVATION: Activation = { name: 'linear' };

export interface LinearIdentifyOptions {
  /** State dimension, or 'auto' (default) for the Hankel singular-value rule. */
  hidden?: number | 'auto';
  /** Markov parameters accumulated (lags 0..lags−1). Default 64. */
  lags?: number;
  /** Threshold factor κ over the noise floor for 'auto' (default 2). */
  factor?: number;
  /** Upper bound on the state dimension for 'auto'. */
  maxOrder?: number;
}

export interface LinearDiagnostics {
  /** 'balanced' (Moore) or 'era' (ERA's finite-horizon balanced form, used when the realization is unstable). */
  canonicalForm: 'balanced' | 'era';
  /** Why the canonical form is what it is (one sentence for the model file). */
  canonicalNote: string;
  order: number;
  orderRule: 'auto' | 'given';
  /** Orders compared for 'auto' (between the κ = 2 and κ = 1 Hankel rules) and their BIC (0 when only one). */
  orderCandidates: { order: number; bic: number }[];
  /** Singular values of the data's block Hankel matrix (descending): what `--hidden auto` prints. */
  hankelSpectrum: number[];
  /** Spectral norm of the Hankel matrix of the split-sample difference (noise floor) and the threshold used. */
  noiseFloor: number;
  threshold: number;
  /** Last lag whose Markov parameter stands above 3× the per-lag noise; Hankel blocks used. */
  horizon: number;
  blockRows: number;
  blockCols: number;
  /** Hankel singular values of the realized system (balanced form; empty for 'era'). */
  systemHankelSingularValues: number[];
  spectralRadius: number | null;
  /** Condition number of the shift least squares that gives U. */
  conditionShift: number;
}

/** Mean output vector of in-memory chunks. */
export function outputMean(chunks: readonly SequenceChunk[]): Float64Array {
  const dy = chunks[0].dy, m = new Float64Array(dy);
  let n = 0;
  for (const c of chunks) {
    for (let r = 0; r < c.rows; r++) for (let i = 0; i < dy; i++) m[i] += c.y[r * dy + i];
    n += c.rows;
  }
  for (let i = 0; i < dy; i++) m[i] /= n;
  return m;
}

/** Pass 1 over in-memory chunks: Markov moments of the centred outputs. */
export function markovPass(chunks: readonly SequenceChunk[], model: InputModel, lags = 64): MarkovAccumulator {
  const dy = chunks[0].dy, mean = outputMean(chunks);
  const acc = new MarkovAccumulator(model, dy, lags);
  for (const c of chunks) {
    const y = new Float64Array(c.y.length);
    for (let e = 0; e < y.length; e++) y[e] = c.y[e] - mean[e % dy];
    momentPass(model, { ...c, y }, [acc]);
  }
  return acc;
}

/** Split-sample noise estimate per lag: D_k = (M_a − M_b)·√(n_a n_b)/(n_a + n_b) (covariance of the mean's noise). */
export function markovNoise(acc: MarkovAccumulator): Float64Array {
  const [Ma, Mb] = acc.halves();
  const [ca, cb] = acc.pairCounts();
  const blk = acc.dy * acc.dx, D = new Float64Array(Ma.length);
  for (let k = 0; k < acc.lags; k++) {
    const n = ca[k] + cb[k];
    const w = n > 0 ? Math.sqrt(ca[k] * cb[k]) / n : 0;
    for (let e = k * blk; e < (k + 1) * blk; e++) D[e] = (Ma[e] - Mb[e]) * w;
  }
  return D;
}

/** Hankel matrices of the Markov estimates and of their noise, with the horizon and block sizes (see the file comment). */
export function markovHankel(acc: MarkovAccumulator, opts: LinearIdentifyOptions = {}): { H: Matrix; Hnoise: Matrix; horizon: number; p: number; q: number; order: HankelOrder; lowerOrder: number } {
  const dy = acc.dy, dx = acc.dx, K = acc.lags, blk = dy * dx;
  const M = acc.result(), D = markovNoise(acc);
  // Horizon: the last lag whose ‖M_k‖ stands clearly above the typical per-lag noise norm.
  let noise2 = 0;
  for (let e = 0; e < D.length; e++) noise2 += D[e] * D[e];
  const perLagNoise = Math.sqrt(noise2 / K);
  let horizon = 0;
  for (let k = 0; k < K; k++) {
    let m2 = 0;
    for (let e = k * blk; e < (k + 1) * blk; e++) m2 += M[e] * M[e];
    if (Math.sqrt(m2) > 3 * perLagNoise) horizon = k;
  }
  const given = typeof opts.hidden === 'number' ? opts.hidden : null;
  // Enough block rows/cols to hold the horizon, and (for a given order n) p·dy ≥ n + dy, q·dx ≥ n.
  const maxBlocks = Math.floor((K + 1) / 2);
  let p = Math.max(2, Math.ceil((horizon + 2) / 2));
  if (given !== null) p = Math.max(p, Math.ceil(given / dy) + 1, Math.ceil(given / dx));
  if (p > maxBlocks) {
    if (given !== null && (maxBlocks - 1) * dy < given) throw new RangeError(`linear identification: ${given} states need more than ${K} Markov lags; pass lags ≥ ${2 * Math.ceil(given / Math.min(dx, dy)) + 2}`);
    p = maxBlocks;
  }
  const q = p;
  const H = blockHankel(M, dy, dx, p, q), Hnoise = blockHankel(D, dy, dx, p, q);
  const cap = Math.min((p - 1) * dy, q * dx, opts.maxOrder ?? Infinity);
  const order = hankelOrder(H, Hnoise, { factor: opts.factor ?? 2, maxOrder: cap });
  // Candidates down to κ = 1: by Weyl every true component with σ_n > 2‖E‖ passes κ = 2; components between ‖E‖ and
  // 2‖E‖ are ambiguous and are decided by the output fit (identifyLinear).
  const lowerOrder = Math.min(cap, order.spectrum.filter((v) => v > order.noiseFloor).length);
  return { H, Hnoise, horizon, p, q, order, lowerOrder };
}

/** Ho–Kalman realization of order n in the balanced form (ERA's form when balancing is impossible). */
export function realize(H: Matrix, dy: number, dx: number, n: number): { realization: LinearRealization; canonicalForm: 'balanced' | 'era'; canonicalNote: string; systemHankelSingularValues: number[]; spectralRadius: number | null; conditionShift: number } {
  const era = hoKalman(H, dy, dx, n);
  try {
    const b = balance(era);
    return {
      realization: { U: b.U, A1: b.A1, C: b.C }, canonicalForm: 'balanced', systemHankelSingularValues: b.hankelSingularValues, spectralRadius: b.spectralRadius, conditionShift: era.conditionObs,
      canonicalNote: 'balanced realization: controllability and observability Gramians both equal diag(systemHankelSingularValues); state signs make the largest entry of each row of A1 positive; any invertible change of state basis gives the same input-output map',
    };
  } catch (e) {
    return {
      realization: { U: era.U, A1: era.A1, C: era.C }, canonicalForm: 'era', systemHankelSingularValues: [], spectralRadius: null, conditionShift: era.conditionObs,
      canonicalNote: `ERA form (finite-horizon balanced: OᵀO = RRᵀ = diag of the top Hankel singular values); not balanced because ${(e as Error).message}`,
    };
  }
}

/** The linear IO-RNN of a realization, with A2, b fitted by least squares on the simulated states. */
export function linearParams(r: LinearRealization, chunks: readonly SequenceChunk[]): IORNNParams {
  const dy = r.C.rows;
  const start: IORNNParams = { kind: 'iornn', A1: r.A1, U: r.U, A2: transpose(r.C), b: new Float64Array(dy), activation: LINEAR_ACTIVATION };
  const out = fitOutputLayer(start, chunks);
  return { ...start, A2: out.A2, b: out.b };
}

/** Sum of squared free-run output errors of a model on in-memory chunks (Infinity if it blows up). */
function sse(p: IORNNParams, chunks: readonly SequenceChunk[]): number {
  let v = 0;
  for (const c of chunks) {
    let yh: Float64Array;
    try {
      yh = predictIORNN(p, c);
    } catch {
      return Infinity;
    }
    for (let e = 0; e < yh.length; e++) v += (yh[e] - c.y[e]) ** 2;
  }
  return v;
}

/**
 * Steps 1–3 on in-memory chunks: the spectral start of the linear IO-RNN (before refinement). With hidden 'auto',
 * orders between the κ = 2 and κ = 1 Hankel rules are compared by BIC on the free-run output fit,
 * N·ln(SSE/N) + ln(N)·n(dx + dy) (N = rows·dy; n(dx + dy) free parameters of a minimal realization modulo the
 * state basis): a component the moments cannot separate from noise is kept only if it explains the outputs.
 */
export function identifyLinear(chunks: readonly SequenceChunk[], model: InputModel, opts: LinearIdentifyOptions = {}): { params: IORNNParams; diagnostics: LinearDiagnostics; markov: Float64Array } {
  const acc = markovPass(chunks, model, opts.lags ?? 64);
  const hk = markovHankel(acc, opts);
  return { ...chooseRealization(hk, acc.dy, acc.dx, opts, chunks), markov: acc.result() };
}

/** Orders to try: the given one, or those between the κ = 2 and κ = 1 Hankel rules (throws if none stands above the noise). */
export function orderCandidates(hk: ReturnType<typeof markovHankel>, opts: LinearIdentifyOptions): number[] {
  const given = typeof opts.hidden === 'number' ? opts.hidden : null;
  if (given !== null) return [given];
  if (hk.order.spectrum[0] <= hk.order.noiseFloor) {
    throw new Error(`linear identification: no Hankel singular value stands above the noise (largest ${hk.order.spectrum[0]?.toPrecision(3)}, noise floor ${hk.order.noiseFloor.toPrecision(3)}); the outputs do not depend linearly on the inputs at this sample size`);
  }
  const out: number[] = [];
  for (let n = Math.max(1, hk.order.order); n <= Math.max(1, hk.lowerOrder, hk.order.order); n++) out.push(n);
  return out;
}

/** The realization (BIC over the candidates on `chunks` when there are several) and its diagnostics. */
export function chooseRealization(hk: ReturnType<typeof markovHankel>, dy: number, dx: number, opts: LinearIdentifyOptions, chunks: readonly SequenceChunk[]): { params: IORNNParams; diagnostics: LinearDiagnostics } {
  const given = typeof opts.hidden === 'number' ? opts.hidden : null;
  const candidates = orderCandidates(hk, opts);
  let N = 0;
  for (const c of chunks) N += c.rows * dy;
  const bic: { order: number; bic: number }[] = [];
  let best: { params: IORNNParams; r: ReturnType<typeof realize>; bic: number } | null = null;
  for (const n of candidates) {
    const r = realize(hk.H, dy, dx, n);
    let params: IORNNParams;
    try {
      params = linearParams(r.realization, chunks);
    } catch {
      continue; // the realization blows up on the data: not a candidate
    }
    const b = candidates.length > 1 ? N * Math.log(sse(params, chunks) / N) + Math.log(N) * n * (dx + dy) : 0;
    bic.push({ order: n, bic: b });
    if (best === null || b < best.bic) best = { params, r, bic: b };
  }
  if (best === null) throw new Error(`linear identification: every candidate realization (orders ${candidates.join(', ')}) blows up on the training data`);
  const r = best.r;
  const diagnostics: LinearDiagnostics = {
    order: best.params.A1.rows, orderRule: given !== null ? 'given' : 'auto', orderCandidates: bic,
    hankelSpectrum: hk.order.spectrum, noiseFloor: hk.order.noiseFloor, threshold: hk.order.threshold,
    horizon: hk.horizon, blockRows: hk.p, blockCols: hk.q, conditionShift: r.conditionShift,
    canonicalForm: r.canonicalForm, canonicalNote: r.canonicalNote, systemHankelSingularValues: r.systemHankelSingularValues, spectralRadius: r.spectralRadius,
  };
  return { params: best.params, diagnostics };
}

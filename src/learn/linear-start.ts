import { Matrix } from '../linalg/matrix.js';
import { SequenceChunk } from '../io/dataset.js';
import { forwardIORNN, predictIORNN } from '../models/iornn.js';
import type { Activation, IORNNParams } from '../models/params.js';
import { Rng } from '../random/rng.js';
import { activationDerivative } from './identify/smooth.js';
import { fitOutputLayer } from './refine.js';

/**
 * Starts for a smooth activation with any state size (issue 17: dh > dx through the linear route).
 *
 * A linear IO-RNN h_t = A1 x_t + U h_{t−1}, y_t = A2ᵀ h_t + b (e.g. the Ho–Kalman realization of the Markov
 * parameters, any state dimension) is a σ-RNN in its linear regime when σ(0) = 0 and σ′(0) = 1 (tanh, or its cubic
 * Taylor polynomial): with a diagonal D > 0 and h̃ = D h,
 *   Ã1 = D A1,  Ũ = D U D⁻¹,  Ã2 = D⁻¹ A2  ⇒  h̃_t = D A1 x_t + D U h_{t−1} = D h_t exactly for σ = identity,
 * and σ(z) = z − z³/3 + … stays within a relative (5/3)·s⁴ (mean square, for Gaussian z of standard deviation s) of
 * the identity per step. So choosing D_jj = s / rms(h_j) on the training data puts every pre-activation's RMS at s
 * (default 0.25, i.e. ≈ 0.7 % mean-square deviation per step): the start predicts like the linear model, and the
 * refinement (true σ, exact Jacobians) then bends it into the nonlinear regime where the data ask for it. This is
 * what system identification does when it starts nonlinear models from the best linear approximation.
 * For σ′(0) = d ≠ 1 (sigmoid: ¼): A1 and U are divided by d, so that σ(z) ≈ σ(0) + d z gives h̃ ≈ σ(0) + D h. A σ(0) ≠ 0
 * adds U·σ(0) to every pre-activation, which an IO-RNN has no hidden bias to cancel: that start is only approximate
 * (the output layer refit of `linearRouteStart` and the refinement absorb the offset).
 */
export interface LinearRegimeStart {
  params: IORNNParams;
  /** D_jj per state. */
  scales: Float64Array;
  /** RMS of each linear state on the sample (before scaling). */
  stateRms: Float64Array;
  /** Target pre-activation RMS s. */
  target: number;
}

export function linearRegimeStart(linear: IORNNParams, sample: SequenceChunk[], opts: { activation: Activation; target?: number }): LinearRegimeStart {
  const target = opts.target ?? 0.25;
  if (!(target > 0 && target < 2)) throw new RangeError(`linearRegimeStart: target pre-activation RMS must be in (0, 2), got ${target}`);
  const d1 = activationDerivative(opts.activation, 0, 1);
  if (!(d1 > 0)) throw new RangeError(`linearRegimeStart: σ'(0) = ${d1} must be positive`);
  const dh = linear.A1.rows, dx = linear.A1.cols, dy = linear.A2.cols;
  const sumSq = new Float64Array(dh);
  let n = 0;
  for (const c of sample) {
    const { hidden } = forwardIORNN(linear, c);
    for (let r = 0; r < c.rows; r++) for (let j = 0; j < dh; j++) sumSq[j] += hidden[r * dh + j] ** 2;
    n += c.rows;
  }
  if (n === 0) throw new RangeError('linearRegimeStart: empty sample');
  const stateRms = sumSq.map((s) => Math.sqrt(s / n));
  // A state that never moves (rms 0) gets scale 1: it contributes nothing either way.
  const scales = stateRms.map((r) => (r > 0 && Number.isFinite(r) ? target / r : 1));
  const A1 = new Matrix(dh, dx), U = new Matrix(dh, dh), A2 = new Matrix(dh, dy);
  for (let j = 0; j < dh; j++) {
    for (let a = 0; a < dx; a++) A1.data[j * dx + a] = (scales[j] / d1) * linear.A1.data[j * dx + a];
    for (let k = 0; k < dh; k++) U.data[j * dh + k] = (scales[j] / scales[k] / d1) * linear.U.data[j * dh + k];
    for (let i = 0; i < dy; i++) A2.data[j * dy + i] = linear.A2.data[j * dy + i] / scales[j];
  }
  return { params: { kind: 'iornn', A1, U, A2, b: linear.b ? Float64Array.from(linear.b) : undefined, activation: opts.activation }, scales, stateRms, target };
}

/** The linear-route start with its pre-activation scale chosen from the data, and what was tried. */
export interface LinearRouteStart extends LinearRegimeStart {
  /** Training MSE of the linear model and of the start at every scale tried (largest first). */
  linearMse: number;
  tried: { target: number; mse: number }[];
  reason: string;
}

/**
 * The largest pre-activation RMS s (from `targets`, tried largest first) whose start still predicts like the linear
 * model on the sample: training MSE ≤ `tolerance` × the linear model's. Why the largest: the refinement starts
 * nearer the nonlinear regime (less distance to travel in the weights); why the test: with lightly damped poles
 * (ρ → 1) the recursion accumulates the per-step deviation (5/3)s⁴ over ≈ 1/(1 − ρ²) steps, so a fixed s can put
 * the start far from the linear fit it is meant to reproduce. If no s passes, the one with the lowest MSE is used.
 */
export function linearRouteStart(
  linear: IORNNParams,
  sample: SequenceChunk[],
  opts: { activation: Activation; targets?: number[]; tolerance?: number },
): LinearRouteStart {
  const targets = [...(opts.targets ?? [0.5, 0.25, 0.1, 0.05, 0.02])].sort((a, b) => b - a);
  const tolerance = opts.tolerance ?? 1.25;
  const linearMse = sampleMSE(linear, sample);
  const tried: { target: number; mse: number }[] = [];
  let best: { s: LinearRegimeStart; mse: number } | null = null;
  for (const target of targets) {
    const s = linearRegimeStart(linear, sample, { activation: opts.activation, target });
    let mse: number;
    try {
      mse = sampleMSE(s.params, sample);
    } catch {
      mse = Infinity;
    }
    tried.push({ target, mse });
    if (best === null || mse < best.mse) best = { s, mse };
    if (mse <= tolerance * linearMse) {
      return { ...refit(s, sample), linearMse, tried, reason: `largest pre-activation RMS s = ${target} whose start reproduces the linear model (training MSE ${mse.toExponential(2)} ≤ ${tolerance} × ${linearMse.toExponential(2)})` };
    }
  }
  return { ...refit(best!.s, sample), linearMse, tried, reason: `no pre-activation RMS in [${targets.join(', ')}] reproduced the linear model within ${tolerance}×; used s = ${best!.s.target} (training MSE ${best!.mse.toExponential(2)} vs linear ${linearMse.toExponential(2)})` };
}

/** A2, b by least squares on the start's own states (absorbs σ's curvature at s and a σ(0) offset); kept if finite. */
function refit(s: LinearRegimeStart, sample: SequenceChunk[]): LinearRegimeStart {
  try {
    const o = fitOutputLayer(s.params, sample);
    if (o.A2.data.every(Number.isFinite) && o.b.every(Number.isFinite)) return { ...s, params: { ...s.params, A2: o.A2, b: o.b } };
  } catch {
    // A start whose states escape keeps its scaled output layer; chooseStart then disqualifies it.
  }
  return s;
}

/**
 * The stable start of last resort: U = 0 (no recursion, so nothing can escape), A1 seeded Gaussian with every
 * pre-activation's RMS at `target` on standardised inputs (row norm target/√dx), A2 and b by least squares.
 */
export function feedforwardStart(dh: number, sample: SequenceChunk[], opts: { activation: Activation; seed: number; target?: number }): IORNNParams {
  const dx = sample[0].dx, dy = sample[0].dy, target = opts.target ?? 0.5;
  const rng = new Rng(opts.seed);
  const A1 = new Matrix(dh, dx);
  for (let e = 0; e < A1.data.length; e++) A1.data[e] = (rng.normal() * target) / Math.sqrt(dx);
  const p: IORNNParams = { kind: 'iornn', A1, U: new Matrix(dh, dh), A2: new Matrix(dh, dy), b: new Float64Array(dy), activation: opts.activation };
  const o = fitOutputLayer(p, sample);
  return { ...p, A2: o.A2, b: o.b };
}

/** One candidate start and how it did on the training sample. */
export interface StartCandidate {
  name: string;
  params: IORNNParams | null;
  /** Mean squared output error on the sample (null: not evaluated, or it blew up / failed). */
  mse: number | null;
  /** Why it was not usable, when it was not. */
  failure?: string;
}

/** What the diagnostics report about the start: which one, why, and every candidate's score. */
export interface StartChoice {
  used: string;
  reason: string;
  candidates: { name: string; mse: number | null; failure?: string }[];
}

/**
 * Score candidate starts on the training sample (mean squared output error of a free run; a blow-up or a failure
 * to build the candidate disqualifies it) and pick the lowest. `fallback` is used — and said — when every candidate
 * fails; it must be stable by construction (e.g. the U = 0 feed-forward model).
 */
export function chooseStart(
  candidates: { name: string; build: () => IORNNParams; why: string }[],
  sample: SequenceChunk[],
  fallback: { name: string; params: IORNNParams },
): { params: IORNNParams; choice: StartChoice } {
  const scored: StartCandidate[] = candidates.map((c) => {
    let params: IORNNParams;
    try {
      params = c.build();
    } catch (e) {
      return { name: c.name, params: null, mse: null, failure: (e as Error).message.split('\n')[0] };
    }
    try {
      return { name: c.name, params, mse: sampleMSE(params, sample) };
    } catch (e) {
      return { name: c.name, params: null, mse: null, failure: (e as Error).message.split('\n')[0] };
    }
  });
  const ok = scored.filter((c) => c.mse !== null && Number.isFinite(c.mse));
  const summary = scored.map(({ name, mse, failure }) => (failure ? { name, mse, failure } : { name, mse }));
  if (ok.length === 0) {
    return {
      params: fallback.params,
      choice: { used: fallback.name, reason: `every candidate start failed (${scored.map((c) => `${c.name}: ${c.failure ?? 'not finite'}`).join('; ')}); fell back to the stable ${fallback.name} start`, candidates: summary },
    };
  }
  ok.sort((a, b) => a.mse! - b.mse!);
  const best = ok[0];
  const why = candidates.find((c) => c.name === best.name)!.why;
  const others = ok.slice(1).map((c) => `${c.name} ${c.mse!.toExponential(2)}`);
  const failed = scored.filter((c) => c.mse === null).map((c) => `${c.name} failed: ${c.failure}`);
  return {
    params: best.params!,
    choice: {
      used: best.name,
      reason: `${why}; lowest training error ${best.mse!.toExponential(2)}${others.length ? ` (vs ${others.join(', ')})` : ''}${failed.length ? `; ${failed.join('; ')}` : ''}`,
      candidates: summary,
    },
  };
}

/** Mean squared output error of a free run over the sample (throws BlowUpError if the recursion escapes). */
export function sampleMSE(params: IORNNParams, sample: SequenceChunk[]): number {
  let s = 0, n = 0;
  for (const c of sample) {
    const yhat = predictIORNN(params, c);
    for (let i = 0; i < yhat.length; i++) s += (yhat[i] - c.y[i]) ** 2;
    n += yhat.length;
  }
  return n > 0 ? s / n : NaN;
}

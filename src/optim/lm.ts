/**
 * Levenberg–Marquardt for nonlinear least squares min_θ Σ r(θ)², over the problem interface below (it knows
 * nothing of the model). Gauss–Newton normal equations from the problem, Marquardt's diagonal scaling,
 * Nielsen's damping update, and optional variable projection for separable problems: when the parameters
 * [linearFrom, size) enter r linearly, the problem refits them exactly at every trial point and the step is
 * taken on the nonlinear block (Kaufman's approximation: the damping acts on the nonlinear block only, the
 * linear block gets a tiny ridge).
 */
import { choleskyInPlace, choleskySolveInPlace } from '../linalg/cholesky.js';
import type { BestTracker, OptimOptions, OptimResult } from './problem.js';

export interface LeastSquaresProblem {
  readonly size: number;
  /** Variable projection: parameters [linearFrom, size) are linear and refit by `sumOfSquares`. Default: none. */
  readonly linearFrom?: number;
  /**
   * Gauss–Newton normal equations at θ: adds JᵀJ (size×size, full symmetric) to N and Jᵀr to g (both zeroed by
   * the caller) and returns Σr². A non-finite return means the derivatives cannot be evaluated at θ.
   */
  normalEquations(theta: Float64Array, N: Float64Array, g: Float64Array): number;
  /** Σr² at a trial θ (with `linearFrom`: after refitting θ[linearFrom…] in place); non-finite = inadmissible. */
  sumOfSquares(theta: Float64Array): number;
  /** The reported loss of a sum of squares (e.g. a mean over the residuals). */
  loss(sse: number): number;
  /** Validation score of an admissible trial point (Infinity = inadmissible, null = no validation data). */
  validate?(theta: Float64Array): number | null;
}

/** Levenberg–Marquardt from `start` (an admissible point, already offered to `tracker`). */
export function levenbergMarquardt(problem: LeastSquaresProblem, start: { theta: Float64Array; val: number | null }, tracker: BestTracker, o: OptimOptions): OptimResult {
  const P = problem.size;
  const split = problem.linearFrom ?? P, vp = split < P;
  const N = new Float64Array(P * P), g = new Float64Array(P), A = new Float64Array(P * P), delta = new Float64Array(P);
  const D = new Float64Array(P);
  let th = start.theta.slice();
  let lambda = 1e-3, nu = 2;
  let curVal = start.val;
  for (let it = 1; it <= o.maxIter; it++) {
    N.fill(0);
    g.fill(0);
    let curSSE = problem.normalEquations(th, N, g);
    if (!Number.isFinite(curSSE)) {
      return { iterations: it - 1, stopReason: 'failed', failure: `the normal equations are not finite at iterate ${it - 1}` };
    }
    // Marquardt scaling: D = diag(N), floored so parameters with no current effect are still damped.
    let maxDiag = 0;
    for (let a = 0; a < P; a++) maxDiag = Math.max(maxDiag, N[a * P + a]);
    for (let a = 0; a < P; a++) D[a] = Math.max(N[a * P + a], 1e-9 * maxDiag, 1e-300);
    let rejected = 0, inadmissible = 0, accepted = false, converged = false;
    let relImp = 0;
    // Under VP the linear block is eliminated exactly: only a tiny ridge there (raised if the block is
    // singular, e.g. a regressor that is identically zero).
    let ridgeLin = 1e-10;
    for (let trial = 0; trial < 40; trial++) {
      const dampLin = vp ? ridgeLin : lambda;
      A.set(N);
      for (let a = 0; a < P; a++) A[a * P + a] += (a >= split ? dampLin : lambda) * D[a];
      if (!choleskyInPlace(A, P)) {
        if (vp && ridgeLin < 1e-2) ridgeLin *= 1e4;
        else { lambda *= nu; nu *= 2; }
        rejected++;
        continue;
      }
      for (let a = 0; a < P; a++) delta[a] = -g[a];
      choleskySolveInPlace(A, P, delta);
      // Predicted reduction of Σr² under the linear model: −δᵀg + δᵀ(damping)δ.
      let pred = 0;
      for (let a = 0; a < P; a++) pred += -delta[a] * g[a] + (a >= split ? dampLin : lambda) * D[a] * delta[a] * delta[a];
      // Stationary to working precision (e.g. g = 0): nothing left to gain, stop instead of damping forever.
      if (!(pred > 1e-14 * curSSE)) { converged = true; break; }
      const trialTh = th.slice();
      for (let a = 0; a < split; a++) trialTh[a] += delta[a];
      const newSSE = problem.sumOfSquares(trialTh);
      const newVal = Number.isFinite(newSSE) && problem.validate ? problem.validate(trialTh) : null;
      if (!Number.isFinite(newSSE) || (newVal !== null && !Number.isFinite(newVal))) {
        inadmissible++; rejected++;
        lambda *= nu; nu *= 2;
        continue;
      }
      const actual = curSSE - newSSE;
      const rho = pred > 0 ? actual / pred : -1;
      if (actual > 0 && rho > 0) {
        // Nielsen's update of the damping.
        lambda *= Math.max(1 / 3, 1 - Math.pow(2 * rho - 1, 3));
        nu = 2;
        relImp = actual / curSSE;
        th = trialTh;
        curSSE = newSSE;
        curVal = newVal;
        accepted = true;
        break;
      }
      rejected++;
      lambda *= nu; nu *= 2;
      if (lambda > 1e16) break;
    }
    const e = { theta: th, loss: problem.loss(curSSE), val: curVal };
    if (accepted) tracker.offer(e);
    o.onIteration?.({ iteration: it, loss: e.loss, val: e.val, lambda, rejected, inadmissible });
    if (converged) return { iterations: it, stopReason: 'tol' };
    if (!accepted) return { iterations: it, stopReason: 'noProgress' };
    if (relImp < o.tol) return { iterations: it, stopReason: 'tol' };
    if (problem.validate && tracker.sinceBest >= o.patience) return { iterations: it, stopReason: 'earlyStopping' };
  }
  return { iterations: o.maxIter, stopReason: 'maxIter' };
}

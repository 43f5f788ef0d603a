/**
 * L-BFGS (memory 10) with a backtracking Armijo line search, over a smooth objective given as loss and
 * gradient (it knows nothing of the model). A trial point whose loss is not finite, or whose validation score
 * is Infinity, counts as a failed line-search step. The first step is cautious (length 1e-2 along −g);
 * later steps use the usual γ = sᵀy/yᵀy initial Hessian scaling. Pairs with sᵀy ≤ 1e-12·‖s‖‖y‖ are skipped.
 */
import type { BestTracker, OptimOptions, OptimResult } from './problem.js';

export interface SmoothProblem {
  readonly size: number;
  /** f(θ), with ∇f written to `grad` (overwritten); non-finite = inadmissible or not evaluable. */
  lossAndGradient(theta: Float64Array, grad: Float64Array): number;
  /** Validation score of an accepted trial point (Infinity = inadmissible, null = no validation data). */
  validate?(theta: Float64Array): number | null;
}

const MEMORY = 10;

/** L-BFGS from `start` (already offered to `tracker`). */
export function lbfgs(problem: SmoothProblem, start: { theta: Float64Array; val: number | null }, tracker: BestTracker, o: OptimOptions): OptimResult {
  const P = problem.size;
  const S: Float64Array[] = [], Y: Float64Array[] = [], RHO: number[] = [];
  let th = start.theta.slice();
  let g = new Float64Array(P);
  let f = problem.lossAndGradient(th, g);
  if (!Number.isFinite(f)) return { iterations: 0, stopReason: 'failed', failure: 'the loss or its gradient is not finite at the start' };
  let curVal = start.val;
  const dir = new Float64Array(P), alpha = new Float64Array(MEMORY);
  let gNew = new Float64Array(P);
  for (let it = 1; it <= o.maxIter; it++) {
    // Two-loop recursion: dir = −H g.
    for (let a = 0; a < P; a++) dir[a] = -g[a];
    const k = S.length;
    for (let i = k - 1; i >= 0; i--) {
      let s = 0;
      for (let a = 0; a < P; a++) s += S[i][a] * dir[a];
      alpha[i] = RHO[i] * s;
      for (let a = 0; a < P; a++) dir[a] -= alpha[i] * Y[i][a];
    }
    let gamma: number;
    if (k > 0) {
      let sy = 0, yy = 0;
      for (let a = 0; a < P; a++) { sy += S[k - 1][a] * Y[k - 1][a]; yy += Y[k - 1][a] * Y[k - 1][a]; }
      gamma = sy / yy;
    } else {
      let gn = 0;
      for (let a = 0; a < P; a++) gn += g[a] * g[a];
      gamma = Math.min(1, 1e-2 / Math.sqrt(gn + 1e-300)); // cautious first step
    }
    for (let a = 0; a < P; a++) dir[a] *= gamma;
    for (let i = 0; i < k; i++) {
      let s = 0;
      for (let a = 0; a < P; a++) s += Y[i][a] * dir[a];
      const beta = RHO[i] * s;
      for (let a = 0; a < P; a++) dir[a] += (alpha[i] - beta) * S[i][a];
    }
    let slope = 0;
    for (let a = 0; a < P; a++) slope += g[a] * dir[a];
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = 0; Y.length = 0; RHO.length = 0;
      let gn = 0;
      for (let a = 0; a < P; a++) gn += g[a] * g[a];
      const sc = 1e-2 / Math.sqrt(gn + 1e-300);
      for (let a = 0; a < P; a++) dir[a] = -g[a] * sc;
      slope = -gn * sc;
      if (!(slope < 0)) return { iterations: it, stopReason: 'noProgress' };
    }
    // Backtracking Armijo line search; an inadmissible trial point counts as failure.
    let step = 1, accepted = false, rejected = 0, inadmissible = 0;
    let fNew = Infinity, newVal: number | null = null;
    const trial = new Float64Array(P);
    for (let ls = 0; ls < 40; ls++) {
      for (let a = 0; a < P; a++) trial[a] = th[a] + step * dir[a];
      fNew = problem.lossAndGradient(trial, gNew);
      if (Number.isFinite(fNew) && fNew <= f + 1e-4 * step * slope) {
        if (problem.validate) newVal = problem.validate(trial);
        if (newVal === null || Number.isFinite(newVal)) { accepted = true; break; }
      }
      if (!Number.isFinite(fNew) || (newVal !== null && !Number.isFinite(newVal))) inadmissible++;
      rejected++;
      newVal = null;
      step *= 0.5;
    }
    if (!accepted) {
      o.onIteration?.({ iteration: it, loss: f, val: curVal, lambda: null, rejected, inadmissible });
      if (S.length > 0) { S.length = 0; Y.length = 0; RHO.length = 0; continue; }
      return { iterations: it, stopReason: 'noProgress' };
    }
    const s = new Float64Array(P), y = new Float64Array(P);
    let sy = 0;
    for (let a = 0; a < P; a++) { s[a] = trial[a] - th[a]; y[a] = gNew[a] - g[a]; sy += s[a] * y[a]; }
    if (sy > 1e-12 * Math.sqrt(y.reduce((acc, v) => acc + v * v, 0) * s.reduce((acc, v) => acc + v * v, 0))) {
      S.push(s); Y.push(y); RHO.push(1 / sy);
      if (S.length > MEMORY) { S.shift(); Y.shift(); RHO.shift(); }
    }
    const relImp = (f - fNew) / f;
    th = trial.slice();
    { const tmp = g; g = gNew; gNew = tmp; }
    f = fNew;
    curVal = newVal;
    tracker.offer({ theta: th, loss: f, val: curVal });
    o.onIteration?.({ iteration: it, loss: f, val: curVal, lambda: null, rejected, inadmissible });
    if (relImp < o.tol) return { iterations: it, stopReason: 'tol' };
    if (problem.validate && tracker.sinceBest >= o.patience) return { iterations: it, stopReason: 'earlyStopping' };
  }
  return { iterations: o.maxIter, stopReason: 'maxIter' };
}

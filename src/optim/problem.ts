/**
 * Problem interface of the optimisers (src/optim/lm.ts, src/optim/lbfgs.ts). An optimiser knows nothing of
 * the model: it sees a parameter vector θ (length `size`), an objective, and an acceptance hook.
 *
 * Acceptance / model selection: a trial point whose objective is not finite is inadmissible (e.g. the model
 * it describes blows up). The optional `validate` hook scores an admissible trial point on held-out data
 * (Infinity = inadmissible there too, null = no held-out data). Every accepted iterate is offered to a
 * `BestTracker`, which keeps the best one (by validation score, else by objective) and counts iterations
 * since the last improvement for early stopping.
 */

/** A scored iterate. `loss` is the problem's reported objective (e.g. a mean squared error). */
export interface Iterate {
  theta: Float64Array;
  loss: number;
  /** Validation score, null without held-out data. */
  val: number | null;
}

export interface IterationInfo {
  iteration: number;
  loss: number;
  val: number | null;
  /** LM damping after the iteration (null for L-BFGS). */
  lambda: number | null;
  /** Rejected trial steps (LM) or backtracking halvings (L-BFGS). */
  rejected: number;
  /** Trial points rejected as inadmissible (non-finite objective or validation score). */
  inadmissible: number;
}

export interface OptimOptions {
  maxIter: number;
  /** Stop when an accepted step improves the objective by less than this fraction. */
  tol: number;
  /** With validation: stop after this many accepted iterations without a new best. */
  patience: number;
  onIteration?: (info: IterationInfo) => void;
}

/**
 * Why an optimiser stopped. 'failed': the objective's derivatives could not be evaluated at the current
 * (accepted) iterate; the best admissible iterate so far is the result (see `failure`).
 */
export type StopReason = 'tol' | 'maxIter' | 'earlyStopping' | 'noProgress' | 'failed';

export interface OptimResult {
  iterations: number;
  stopReason: StopReason;
  /** Set when stopReason is 'failed': what could not be evaluated. */
  failure?: string;
}

/** Keeps the best accepted iterate (copied) and the number of offers since it improved. */
export class BestTracker {
  best: Iterate | null = null;
  /** Label of the best iterate's origin (e.g. 'start'); null once an optimiser iterate wins. */
  bestTag: string | null = null;
  sinceBest = 0;

  private static score(e: Iterate): number {
    return e.val === null ? e.loss : e.val;
  }

  /** Seed the tracker without counting an offer (e.g. the start model as given). */
  seed(e: Iterate, tag: string): void {
    this.best = { theta: e.theta.slice(), loss: e.loss, val: e.val };
    this.bestTag = tag;
  }

  /** Offer an accepted iterate; true if it is the new best. */
  offer(e: Iterate): boolean {
    if (this.best === null || BestTracker.score(e) < BestTracker.score(this.best)) {
      this.best = { theta: e.theta.slice(), loss: e.loss, val: e.val };
      this.bestTag = null;
      this.sinceBest = 0;
      return true;
    }
    this.sinceBest++;
    return false;
  }
}

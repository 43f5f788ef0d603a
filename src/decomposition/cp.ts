import { Matrix } from '../linalg/matrix.js';
import { Tensor } from '../tensor/tensor.js';
import { CPTensor, cpResidual } from './cp_tensor.js';
import { jennrich } from './jennrich.js';
import { als } from './als.js';
import { cpPower, cpTiedPower } from './power.js';

/**
 * - 'auto': Jennrich (exact, global) as the start, then ALS sweeps to the least-squares fit (docs/method.md §5
 *   step 3). Falls back to ALS from an SVD start when Jennrich's rank condition fails (or the order is not 3).
 * - 'jennrich' | 'als': one method alone.
 * - 'power': App. F route — {@link cpPower} for a symmetric tensor (needs `M2` or a small rank), or
 *   {@link cpTiedPower} when `tied` and `D` are given.
 */
export type CPMethod = 'auto' | 'jennrich' | 'als' | 'power';

export interface CPOptions {
  rank: number;
  method?: CPMethod;
  /** Modes 1..N−1 share one factor (Σ w b ⊗ c ⊗ c). */
  tied?: boolean;
  seed?: number;
  /** ALS options. */
  maxIter?: number;
  tol?: number;
  /** Jennrich: random contraction pairs. */
  nRandom?: number;
  /** Power route: second moment Σ μ_i c_i c_iᵀ (μ_i > 0) and, for tied tensors, the symmetrisation matrix D. */
  M2?: Matrix;
  D?: Matrix;
}

/** The result of {@link decomposeCP}. */
export interface CPFit {
  cp: CPTensor;
  /** Relative Frobenius residual ‖T − T̂‖_F / ‖T‖_F on the decomposed tensor. */
  residual: number;
  /** Method actually used ('jennrich+als', 'als', 'power (tied)', …). */
  method: string;
  /** The per-method diagnostics ({ jennrich }, { als }, { power }, …). */
  diagnostics: Record<string, unknown>;
}

/**
 * CP decomposition of T with R = `options.rank` components by the chosen method (functional core of the `CP`
 * estimator, src/api/cp.ts). The methods themselves live in jennrich.ts / als.ts / power.ts.
 */
export function decomposeCP(T: Tensor, options: CPOptions): CPFit {
  const o = options;
  if (!Number.isInteger(o.rank) || o.rank < 1) throw new RangeError(`CP: rank must be an integer >= 1, got ${o.rank}`);
  const R = o.rank, seed = o.seed ?? 0, tied = o.tied ?? false, method = o.method ?? 'auto';
  const alsOpts = { maxIter: o.maxIter, tol: o.tol, seed, tied };
  const done = (name: string, cp: CPTensor, diagnostics: Record<string, unknown>): CPFit => ({ cp, residual: cpResidual(T, cp), method: name, diagnostics });
  switch (method) {
    case 'jennrich': {
      const r = jennrich(T, R, { seed, tied, nRandom: o.nRandom });
      return done('jennrich', r.cp, { jennrich: r.diagnostics });
    }
    case 'als': {
      const r = als(T, R, alsOpts);
      return done('als', r.cp, { als: { iterations: r.iterations, converged: r.converged, maxCondNormal: r.maxCondNormal, tieGap: r.tieGap } });
    }
    case 'power': {
      if (tied) {
        if (!o.D) throw new RangeError("CP: method 'power' with tied = true needs the symmetrisation matrix D");
        const r = cpTiedPower(T, R, { D: o.D, M2: o.M2, seed });
        return done('power (tied)', r.cp, { power: r.diagnostics, condNormal: r.condNormal });
      }
      const r = cpPower(T, R, { M2: o.M2, seed });
      return done('power', r.cp, { power: r.diagnostics });
    }
    case 'auto': {
      if (jennrichApplies(T, R, tied)) {
        const j = jennrich(T, R, { seed, tied, nRandom: o.nRandom });
        const r = als(T, R, { ...alsOpts, init: j.cp });
        return done('jennrich+als', r.cp, { jennrich: j.diagnostics, als: { iterations: r.iterations, converged: r.converged, maxCondNormal: r.maxCondNormal, tieGap: r.tieGap } });
      }
      const r = als(T, R, alsOpts);
      return done('als', r.cp, { als: { iterations: r.iterations, converged: r.converged, maxCondNormal: r.maxCondNormal, tieGap: r.tieGap } });
    }
    default:
      throw new RangeError(`CP: unknown method ${String(method)}; expected 'auto', 'jennrich', 'als' or 'power'`);
  }
}

/** Jennrich's preconditions (order 3; two modes of size ≥ rank; tied: rank ≤ J and I ≥ 2 unless rank 1). */
function jennrichApplies(T: Tensor, R: number, tied: boolean): boolean {
  if (T.order !== 3) return false;
  const [I, J, K] = T.shape;
  if (tied) return J === K && R <= J && (I >= 2 || R === 1);
  const sorted = [I, J, K].sort((a, b) => b - a);
  return R <= sorted[1];
}

import { Matrix } from '../linalg/matrix.js';
import { Tensor, cpToTensor } from '../tensor/tensor.js';
import { CPTensor, cpResidual } from './cp_tensor.js';
import { jennrich } from './jennrich.js';
import { als } from './als.js';
import { cpPower, cpTiedPower } from './power.js';

/**
 * - 'auto': Jennrich (exact, global) as the start, then ALS sweeps to the least-squares fit (DESIGN.md §5
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

/**
 * Estimator wrapper (scikit-learn style: options in the constructor, learned quantities with a trailing
 * underscore after `fit`). The functional cores in jennrich.ts / als.ts / power.ts do the work.
 */
export class CP {
  readonly options: Readonly<CPOptions>;
  cp_?: CPTensor;
  /** Relative Frobenius residual of the fit on the training tensor. */
  residual_?: number;
  /** Method actually used ('jennrich+als', 'als', …) and the per-method diagnostics. */
  methodUsed_?: string;
  diagnostics_?: Record<string, unknown>;

  constructor(options: CPOptions) {
    if (!Number.isInteger(options.rank) || options.rank < 1) throw new RangeError(`CP: rank must be an integer >= 1, got ${options.rank}`);
    this.options = { method: 'auto', ...options };
  }

  fit(T: Tensor): this {
    const o = this.options;
    const R = o.rank, seed = o.seed ?? 0, tied = o.tied ?? false;
    const alsOpts = { maxIter: o.maxIter, tol: o.tol, seed, tied };
    switch (o.method) {
      case 'jennrich': {
        const r = jennrich(T, R, { seed, tied, nRandom: o.nRandom });
        this.set('jennrich', r.cp, T, { jennrich: r.diagnostics });
        break;
      }
      case 'als': {
        const r = als(T, R, alsOpts);
        this.set('als', r.cp, T, { als: { iterations: r.iterations, converged: r.converged, maxCondNormal: r.maxCondNormal, tieGap: r.tieGap } });
        break;
      }
      case 'power': {
        if (tied) {
          if (!o.D) throw new RangeError("CP: method 'power' with tied = true needs the symmetrisation matrix D");
          const r = cpTiedPower(T, R, { D: o.D, M2: o.M2, seed });
          this.set('power (tied)', r.cp, T, { power: r.diagnostics, condNormal: r.condNormal });
        } else {
          const r = cpPower(T, R, { M2: o.M2, seed });
          this.set('power', r.cp, T, { power: r.diagnostics });
        }
        break;
      }
      case 'auto': {
        if (jennrichApplies(T, R, tied)) {
          const j = jennrich(T, R, { seed, tied, nRandom: o.nRandom });
          const r = als(T, R, { ...alsOpts, init: j.cp });
          this.set('jennrich+als', r.cp, T, { jennrich: j.diagnostics, als: { iterations: r.iterations, converged: r.converged, maxCondNormal: r.maxCondNormal, tieGap: r.tieGap } });
        } else {
          const r = als(T, R, alsOpts);
          this.set('als', r.cp, T, { als: { iterations: r.iterations, converged: r.converged, maxCondNormal: r.maxCondNormal, tieGap: r.tieGap } });
        }
        break;
      }
      default:
        throw new RangeError(`CP: unknown method ${String(o.method)}; expected 'auto', 'jennrich', 'als' or 'power'`);
    }
    return this;
  }

  /** The fitted tensor Σ w_r a_r ⊗ b_r ⊗ …. */
  reconstruct(): Tensor {
    if (!this.cp_) throw new Error('CP: call fit() first');
    return cpToTensor(this.cp_);
  }

  private set(method: string, cp: CPTensor, T: Tensor, diagnostics: Record<string, unknown>): void {
    this.cp_ = cp;
    this.methodUsed_ = method;
    this.residual_ = cpResidual(T, cp);
    this.diagnostics_ = diagnostics;
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

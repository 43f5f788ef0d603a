import { Matrix } from '../linalg/matrix.js';
import { Tensor } from '../tensor/tensor.js';
import { CPTensor, cpResidual } from './cp_tensor.js';
import { JennrichDiagnostics, jennrich } from './jennrich.js';
import { als } from './als.js';

/**
 * Tied (partially symmetric) CP of a score cross-moment, T = Σ_j comp_j ⊗ d_j^{⊗order}: the first mode is the
 * output (dy, or a stacked dy·k^{order−2}), the other modes are tied. Every learner's "moments → decomposition"
 * step goes through here (docs/method.md §4: T2 for σ = c₂z², the order-(l+1) moment P1 for degree-l σ).
 */
export interface TiedCPResult {
  /** The better (lower residual) of the Jennrich start and its tied-ALS polish. */
  cp: CPTensor;
  /** Relative residual ‖T − T̂‖/‖T‖ of `cp`. */
  residual: number;
  jennrichResidual: number;
  alsIterations: number;
  alsConverged: boolean;
  /** Eigenvalue separation and conditioning of the Jennrich step. */
  jennrich: JennrichDiagnostics;
}

/** ALS polish settings shared by every tied CP of a moment. */
const POLISH = { tied: true, maxIter: 500, tol: 1e-12 } as const;

/**
 * Order-3 tied CP (I×k×k, modes 2–3 tied) with `rank` components: Jennrich (tied), polished by tied ALS; the
 * better of the two is kept (ALS can only lower the residual from a good start, but Jennrich is exact on
 * noise-free data and ALS may stop early).
 */
export function tiedCP(T: Tensor, rank: number, opts: { seed: number }): TiedCPResult {
  const jr = jennrich(T, rank, { tied: true, seed: opts.seed });
  const polished = als(T, rank, { init: jr.cp, ...POLISH, seed: opts.seed });
  const jennrichResidual = relResidual(T, jr.cp);
  const usePolished = polished.residual <= jennrichResidual;
  return {
    cp: usePolished ? polished.cp : jr.cp,
    residual: Math.min(polished.residual, jennrichResidual),
    jennrichResidual,
    alsIterations: polished.iterations,
    alsConverged: polished.converged,
    jennrich: jr.diagnostics,
  };
}

/** A tied CP as unit directions (k×R, columns) and component vectors (I×R): T ≈ Σ_j comps_j ⊗ dirs_j^{⊗order}. */
export interface UnitCP {
  dirs: Matrix;
  comps: Matrix;
}

/**
 * Turn [B, C, C, …] with weights into unit directions and component vectors comps_j = w_j ‖C_j‖^order B_j. The
 * sign of each direction is fixed (largest-magnitude entry positive) so that rounding-level changes of T cannot
 * flip it; the component absorbs (−1)^order so that comps_j ⊗ d_j^{⊗order} is unchanged.
 */
export function unitDirections(cp: CPTensor, order: number): UnitCP {
  const [B, C] = cp.factors;
  const R = cp.weights.length;
  const dirs = new Matrix(C.rows, R), comps = new Matrix(B.rows, R);
  for (let j = 0; j < R; j++) {
    let cn = 0;
    for (let a = 0; a < C.rows; a++) cn += C.get(a, j) ** 2;
    cn = Math.sqrt(cn);
    let amax = 0;
    for (let a = 1; a < C.rows; a++) if (Math.abs(C.get(a, j)) > Math.abs(C.get(amax, j))) amax = a;
    const sgn = C.get(amax, j) < 0 ? -1 : 1;
    for (let a = 0; a < C.rows; a++) dirs.set(a, j, (sgn * C.get(a, j)) / cn);
    const w = cp.weights[j] * cn ** order * sgn ** order;
    for (let i = 0; i < B.rows; i++) comps.set(i, j, w * B.get(i, j));
  }
  return { dirs, comps };
}

/**
 * Directions of a tied CP found in a k-dimensional subspace, lifted to data coordinates and renormalised: row j of
 * A1 (R×dx) is Q d_j / ‖Q d_j‖ (Q dx×k with orthonormal columns, or null when the CP ran in data coordinates), and
 * `norms[j]` = ‖Q d_j‖ (1 up to rounding), which callers fold into the components with the moment's order.
 */
export function liftDirections(dirs: Matrix, Q: Matrix | null, dx: number): { A1: Matrix; norms: Float64Array } {
  const R = dirs.cols, k = dirs.rows;
  const A1 = new Matrix(R, dx), norms = new Float64Array(R);
  for (let j = 0; j < R; j++) {
    let nrm = 0;
    for (let a = 0; a < dx; a++) {
      let v = 0;
      if (Q) for (let r = 0; r < k; r++) v += Q.get(a, r) * dirs.get(r, j);
      else v = dirs.get(a, j);
      A1.data[j * dx + a] = v;
      nrm += v * v;
    }
    nrm = Math.sqrt(nrm);
    for (let a = 0; a < dx; a++) A1.data[j * dx + a] /= nrm;
    norms[j] = nrm;
  }
  return { A1, norms };
}

/**
 * Tied CP of an order-(l+1) moment P (dy × k^l, row-major): P ≈ Σ_j comps_j ⊗ d_j^{⊗l}, l ≥ 2. Start: Jennrich on
 * the (dy·k^{l−2}) × k × k reshape (first factor A2^(j) ⊗ d_j^{⊗(l−2)}), the component read off by contracting
 * that factor with d_j^{⊗(l−2)}; then tied ALS on the full order-(l+1) tensor (kept only if it lowers the
 * residual; ALS failing on a degenerate input keeps the start).
 */
export function tiedCPOrder(P: Float64Array, dy: number, k: number, l: number, rank: number, seed: number): UnitCP & Omit<TiedCPResult, 'cp' | 'jennrich' | 'alsConverged'> {
  const I = dy * k ** (l - 2);
  const jr = jennrich(new Tensor([I, k, k], P), rank, { tied: true, seed });
  const { dirs: d0, comps: b0 } = unitDirections(jr.cp, 2); // b0: I×rank
  const comps0 = new Matrix(dy, rank);
  for (let j = 0; j < rank; j++) {
    for (let i = 0; i < dy; i++) {
      let v = 0;
      for (let e = 0; e < k ** (l - 2); e++) {
        let w = 1, rem = e;
        for (let m = 0; m < l - 2; m++) {
          w *= d0.get(rem % k, j);
          rem = Math.floor(rem / k);
        }
        v += b0.get(i * k ** (l - 2) + e, j) * w;
      }
      comps0.set(i, j, v);
    }
  }
  const Tfull = new Tensor([dy, ...Array.from({ length: l }, () => k)], P);
  const init: CPTensor = { weights: new Float64Array(rank).fill(1), factors: [comps0, ...Array.from({ length: l }, () => d0)] };
  const jRes = cpResidual(Tfull, init);
  let best: CPTensor = init, res = jRes, iters = 0;
  try {
    const polished = als(Tfull, rank, { init, ...POLISH, seed });
    iters = polished.iterations;
    if (polished.residual <= jRes) {
      best = polished.cp;
      res = polished.residual;
    }
  } catch {
    // keep the Jennrich start (the residual says how good it is)
  }
  return { ...unitDirections(best, l), residual: res, jennrichResidual: jRes, alsIterations: iters };
}

/** ‖T − [[w; A, B, C]]‖ / ‖T‖ for an order-3 tensor (direct sum, no reconstructed tensor). */
export function relResidual(T: Tensor, cp: { weights: Float64Array; factors: Matrix[] }): number {
  const [I, J, K] = T.shape;
  const R = cp.weights.length;
  const [A, B, C] = cp.factors;
  let num = 0, den = 0;
  for (let i = 0; i < I; i++)
    for (let j = 0; j < J; j++)
      for (let k = 0; k < K; k++) {
        let v = 0;
        for (let r = 0; r < R; r++) v += cp.weights[r] * A.get(i, r) * B.get(j, r) * C.get(k, r);
        const t = T.data[(i * J + j) * K + k];
        num += (t - v) ** 2;
        den += t * t;
      }
  return Math.sqrt(num / den);
}

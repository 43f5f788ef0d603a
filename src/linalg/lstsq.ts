import { Matrix } from './matrix.js';
import { eigSym } from './eigsym.js';

/**
 * Least squares from the normal equations: W = argmin Σ_t ‖y_t − Wᵀ s_t‖² given G = Σ s sᵀ (m×m, exactly
 * symmetric) and C = Σ s yᵀ (m×dy), by the eigen-pseudo-inverse of G. Directions with eigenvalue
 * < 1e-12·λmax are dropped (`rankDeficient`), so e.g. a dead regressor s_j ≡ 0 gets zero weights instead of
 * a huge ill-determined one. `cond` is the 2-norm condition number of the design matrix [s_t]:
 * sqrt(λmax/λmin) of G (Infinity if G is singular). Returns W (m×dy, row-major).
 */
export function solveNormalEquations(G: Float64Array, C: Float64Array, m: number, dy: number): { W: Float64Array; cond: number; rankDeficient: boolean } {
  // eigSym throws rather than return an unconverged basis.
  const eig = eigSym(new Matrix(m, m, G));
  const values = eig.values, vectors = eig.vectors.data;
  let lmax = 0, lmin = Infinity;
  for (let i = 0; i < m; i++) {
    lmax = Math.max(lmax, values[i]);
    lmin = Math.min(lmin, values[i]);
  }
  const cut = 1e-12 * lmax;
  const W = new Float64Array(m * dy);
  let rankDeficient = false;
  for (let e = 0; e < m; e++) {
    const lam = values[e];
    if (!(lam > cut)) { rankDeficient = true; continue; }
    // W += v vᵀ C / λ
    for (let i = 0; i < dy; i++) {
      let vc = 0;
      for (let a = 0; a < m; a++) vc += vectors[a * m + e] * C[a * dy + i];
      vc /= lam;
      for (let a = 0; a < m; a++) W[a * dy + i] += vectors[a * m + e] * vc;
    }
  }
  const cond = lmin > 0 ? Math.sqrt(lmax / lmin) : Infinity;
  return { W, cond, rankDeficient };
}

/** The output-layer least squares of docs/method.md §5 step 6 (regressors [h_t; 1]): `solveNormalEquations`. */
export const solveOutputLS = solveNormalEquations;

/**
 * Residual sum of squares Σ_t ‖y_t − Wᵀ s_t‖² from the normal statistics: Σ‖y‖² − 2 tr(WᵀC) + tr(WᵀGW)
 * (yy = Σ‖y_t‖², G, C as in `solveNormalEquations`). Clamped at 0: a negative value is rounding only.
 */
export function residualSumOfSquares(yy: number, G: Float64Array, C: Float64Array, W: Float64Array, m: number, dy: number): number {
  let sse = yy;
  for (let i = 0; i < dy; i++) {
    for (let a = 0; a < m; a++) {
      const wa = W[a * dy + i];
      sse -= 2 * wa * C[a * dy + i];
      let gw = 0;
      for (let b = 0; b < m; b++) gw += G[a * m + b] * W[b * dy + i];
      sse += wa * gw;
    }
  }
  return sse >= 0 ? sse : Math.max(0, sse);
}

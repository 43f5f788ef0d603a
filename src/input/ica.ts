import { Matrix, matmul, matmulNT } from '../linalg/matrix.js';
import { eigSym } from '../linalg/eigsym.js';
import { Rng } from '../random/rng.js';

/**
 * Independent components of the VAR(1) residuals (docs/non-gaussian-inputs.md): whitening by the residual
 * covariance, then symmetric FastICA (Hyvärinen's fixed point with the log-cosh contrast, g = tanh) from a
 * seeded random rotation. Why ICA: the innovation model ε = A z with independent z_i has derivatives of −log q
 * that are sums of dx rank-one terms, so every score contraction costs O(dx) per direction instead of a dense
 * dx^k tensor, and a product of non-Gaussian marginals (Laplace, uniform coordinates) is represented exactly,
 * which a full-vector mixture would need K^dx components for.
 *
 * The rotation is identified only for non-Gaussian components; for Gaussian ones any rotation gives the same
 * density, so the model is unaffected by where FastICA stops in those directions.
 */
export interface ICAResult {
  /** Unmixing W (dx×dx): z = W (ε − mean) has identity sample covariance. */
  W: Matrix;
  /** Sample mean of the residuals that were given. */
  mean: Float64Array;
  iterations: number;
  converged: boolean;
}

/** (MMᵀ)^{−1/2} M: the nearest orthogonal matrix (symmetric decorrelation). */
function symmetricOrthogonalise(M: Matrix): Matrix {
  const n = M.rows;
  const e = eigSym(matmulNT(M, M));
  const S = new Matrix(n, n);
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += e.vectors.data[a * n + k] * e.vectors.data[b * n + k] / Math.sqrt(Math.max(e.values[k], 1e-300));
      S.data[a * n + b] = v;
    }
  return matmul(S, M);
}

/**
 * `eps`: n×dx residuals, row-major. Deterministic for a given seed. Throws when the residual covariance is
 * singular (a coordinate without innovation noise).
 */
export function fastICA(eps: Float64Array, dx: number, opts: { seed?: number; maxIter?: number; tol?: number } = {}): ICAResult {
  const n = eps.length / dx;
  if (!Number.isInteger(n) || n < 2 * dx + 2) throw new Error(`ICA: need more than ${2 * dx + 2} residual rows, got ${n}`);
  const mean = new Float64Array(dx);
  for (let r = 0; r < n; r++) for (let a = 0; a < dx; a++) mean[a] += eps[r * dx + a] / n;
  const C = new Matrix(dx, dx);
  for (let r = 0; r < n; r++)
    for (let a = 0; a < dx; a++) {
      const va = eps[r * dx + a] - mean[a];
      for (let b = a; b < dx; b++) C.data[a * dx + b] += (va * (eps[r * dx + b] - mean[b])) / n;
    }
  for (let a = 0; a < dx; a++) for (let b = 0; b < a; b++) C.data[a * dx + b] = C.data[b * dx + a];
  const e = eigSym(C);
  if (!(e.values[dx - 1] > 1e-12 * e.values[0])) throw new Error(`ICA: the residual covariance is singular (eigenvalues ${e.values[0].toExponential(2)} … ${e.values[dx - 1].toExponential(2)})`);
  const V = new Matrix(dx, dx); // C^{-1/2}
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++) {
      let v = 0;
      for (let k = 0; k < dx; k++) v += (e.vectors.data[a * dx + k] * e.vectors.data[b * dx + k]) / Math.sqrt(e.values[k]);
      V.data[a * dx + b] = v;
    }
  const Y = new Float64Array(n * dx);
  for (let r = 0; r < n; r++)
    for (let a = 0; a < dx; a++) {
      let v = 0;
      for (let b = 0; b < dx; b++) v += V.data[a * dx + b] * (eps[r * dx + b] - mean[b]);
      Y[r * dx + a] = v;
    }
  const rng = new Rng(opts.seed ?? 0);
  let R = new Matrix(dx, dx);
  for (let i = 0; i < dx * dx; i++) R.data[i] = rng.normal();
  R = symmetricOrthogonalise(R);
  const maxIter = opts.maxIter ?? 200, tol = opts.tol ?? 1e-9;
  let it = 0, converged = dx === 1;
  const wy = new Float64Array(dx);
  for (; it < maxIter && !converged; it++) {
    const next = new Matrix(dx, dx);
    const gp = new Float64Array(dx);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < dx; i++) {
        let v = 0;
        for (let a = 0; a < dx; a++) v += R.data[i * dx + a] * Y[r * dx + a];
        wy[i] = v;
      }
      for (let i = 0; i < dx; i++) {
        const g = Math.tanh(wy[i]);
        gp[i] += 1 - g * g;
        for (let a = 0; a < dx; a++) next.data[i * dx + a] += g * Y[r * dx + a];
      }
    }
    for (let i = 0; i < dx; i++) for (let a = 0; a < dx; a++) next.data[i * dx + a] = (next.data[i * dx + a] - gp[i] * R.data[i * dx + a]) / n;
    const Rn = symmetricOrthogonalise(next);
    // Converged when every new row is ± the old one.
    let worst = 0;
    for (let i = 0; i < dx; i++) {
      let d = 0;
      for (let a = 0; a < dx; a++) d += Rn.data[i * dx + a] * R.data[i * dx + a];
      worst = Math.max(worst, 1 - Math.abs(d));
    }
    R = Rn;
    if (worst < tol) converged = true;
  }
  // Sign and order gauge so that the result does not depend on how FastICA happened to land: each row's
  // largest-magnitude entry positive, rows sorted by the index of that entry (ties by value).
  const W = matmul(R, V);
  const rows = Array.from({ length: dx }, (_, i) => {
    const row = Array.from(W.data.subarray(i * dx, (i + 1) * dx));
    let am = 0;
    for (let a = 1; a < dx; a++) if (Math.abs(row[a]) > Math.abs(row[am])) am = a;
    const s = row[am] < 0 ? -1 : 1;
    return { row: row.map((v) => s * v), am };
  });
  rows.sort((p, q) => p.am - q.am || q.row[p.am] - p.row[p.am]);
  const Wg = new Matrix(dx, dx);
  rows.forEach((r, i) => Wg.data.set(r.row, i * dx));
  return { W: Wg, mean, iterations: it, converged };
}

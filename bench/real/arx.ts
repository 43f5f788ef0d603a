/**
 * ARX(n) by least squares, the bench's own linear reference (independent of src/: its own Householder QR).
 *
 *   y_t = c + Σ_{i=1..na} a_i y_{t−i} + Σ_{i=0..nb−1} b_i u_{t−i}   (nb = na + 1 input lags: u_t … u_{t−na})
 *
 * fitted one-step-ahead on every window of every training sequence, then simulated free-run on the test input
 * (its own past predictions fed back), started from the measured first na outputs.
 */
import type { RealData } from './data.js';

export interface ARXModel {
  na: number;
  nb: number;
  theta: Float64Array; // [c, a_1..a_na, b_0..b_{nb−1}]
}

/** Least squares min ‖Xθ − y‖ by Householder QR (X m×n row-major, m ≥ n). */
export function lstsqQR(X: Float64Array, y: Float64Array, m: number, n: number): Float64Array {
  const A = X.slice(), b = y.slice();
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += A[i * n + k] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) throw new Error(`ARX: regressor ${k} is identically zero`);
    const alpha = A[k * n + k] > 0 ? -norm : norm;
    const v = new Float64Array(m - k);
    for (let i = k; i < m; i++) v[i - k] = A[i * n + k];
    v[0] -= alpha;
    let vv = 0;
    for (let i = 0; i < v.length; i++) vv += v[i] * v[i];
    if (vv === 0) continue;
    for (let j = k; j < n; j++) {
      let s = 0;
      for (let i = k; i < m; i++) s += v[i - k] * A[i * n + j];
      const f = (2 * s) / vv;
      for (let i = k; i < m; i++) A[i * n + j] -= f * v[i - k];
    }
    let s = 0;
    for (let i = k; i < m; i++) s += v[i - k] * b[i];
    const f = (2 * s) / vv;
    for (let i = k; i < m; i++) b[i] -= f * v[i - k];
  }
  const theta = new Float64Array(n);
  for (let k = n - 1; k >= 0; k--) {
    let s = b[k];
    for (let j = k + 1; j < n; j++) s -= A[k * n + j] * theta[j];
    theta[k] = s / A[k * n + k];
  }
  return theta;
}

export function fitARX(d: RealData, na: number): ARXModel {
  const nb = na + 1, n = 1 + na + nb;
  let m = 0;
  for (const s of d.train) m += Math.max(0, s.u.length - na);
  const X = new Float64Array(m * n), Y = new Float64Array(m);
  let r = 0;
  for (const s of d.train) {
    for (let t = na; t < s.u.length; t++, r++) {
      const o = r * n;
      X[o] = 1;
      for (let i = 1; i <= na; i++) X[o + i] = s.y[t - i];
      for (let i = 0; i < nb; i++) X[o + 1 + na + i] = s.u[t - i];
      Y[r] = s.y[t];
    }
  }
  return { na, nb, theta: lstsqQR(X, Y, m, n) };
}

/** Free-run simulation over the whole test input (length of d.test.u). */
export function simulateARX(model: ARXModel, u: Float64Array, yInit: Float64Array): Float64Array {
  const { na, nb, theta } = model;
  const y = new Float64Array(u.length);
  for (let t = 0; t < u.length; t++) {
    if (t < na) {
      y[t] = yInit[t];
      continue;
    }
    let v = theta[0];
    for (let i = 1; i <= na; i++) v += theta[i] * y[t - i];
    for (let i = 0; i < nb; i++) v += theta[1 + na + i] * (t - i >= 0 ? u[t - i] : 0);
    y[t] = v;
  }
  return y;
}

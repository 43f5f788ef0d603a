import { Matrix, matmul, transpose } from './matrix.js';
import { Rng } from '../random/rng.js';

/**
 * Spectral norm ‖M‖₂ (largest singular value) by power iteration on MᵀM from a Gaussian start drawn from
 * `rng` (seeded, so the result is deterministic), stopping when the Rayleigh quotient is stable to 1e-15
 * relative. Converges to machine precision for the small matrices it is used on (recurrent weights,
 * dims ≤ ~100); the random start avoids one orthogonal to the top singular vector.
 */
export function spectralNorm(M: Matrix, rng: Rng = new Rng(12345), maxIter = 2000): number {
  const n = M.cols;
  if (n === 0 || M.rows === 0) return 0;
  const MtM = matmul(transpose(M), M).data;
  let v = rng.normalArray(n);
  let lambda = 0;
  const w = new Float64Array(n);
  for (let it = 0; it < maxIter; it++) {
    let nv = 0;
    for (let i = 0; i < n; i++) nv += v[i] * v[i];
    nv = Math.sqrt(nv);
    if (nv === 0) return 0;
    for (let i = 0; i < n; i++) v[i] /= nv;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += MtM[i * n + k] * v[k];
      w[i] = s;
    }
    let l = 0;
    for (let i = 0; i < n; i++) l += v[i] * w[i]; // Rayleigh quotient
    const done = it > 5 && Math.abs(l - lambda) <= 1e-15 * Math.abs(l);
    lambda = l;
    if (done) break;
    v = Float64Array.from(w);
  }
  return Math.sqrt(Math.max(lambda, 0));
}

/** sqrt(a² + b²) without the cost of variadic Math.hypot; rescales only near over/underflow. */
export function hypot(a: number, b: number): number {
  const x = Math.abs(a), y = Math.abs(b);
  const mx = x > y ? x : y;
  if (mx === 0) return 0;
  if (mx > 1e150 || mx < 1e-150) {
    const r = x > y ? y / x : x / y;
    return mx * Math.sqrt(1 + r * r);
  }
  return Math.sqrt(a * a + b * b);
}

/** Scaled 2-norm of x[from..to), avoiding overflow/underflow like hypot. */
export function scaledNorm(x: Float64Array, from: number, to: number): number {
  let scale = 0;
  for (let i = from; i < to; i++) {
    const v = Math.abs(x[i]);
    if (v > scale) scale = v;
  }
  if (scale === 0) return 0;
  const inv = 1 / scale;
  let ss = 0;
  for (let i = from; i < to; i++) {
    const t = x[i] * inv;
    ss += t * t;
  }
  return scale * Math.sqrt(ss);
}

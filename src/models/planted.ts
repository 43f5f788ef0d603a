/**
 * Planted models: random IO-RNNs and BRNNs in the stable regime of docs/method.md §6, the ground truth of the
 * tests, the bench and `gloree simulate`.
 */
import { Matrix, transpose } from '../linalg/matrix.js';
import { spectralNorm } from '../linalg/norms.js';
import { Rng } from '../random/rng.js';
import type { Activation, BRNNParams, IORNNParams } from './params.js';
import { activationFromSpec } from './activation.js';

/**
 * dh unit-norm rows in R^dx, well spread: redrawn until every row is at distance ≥ 0.5 from the span of the
 * previous ones (the Gram-Schmidt pivots), so A1 has full row rank with a moderate condition number (§2).
 */
function unitRows(rng: Rng, n: number, d: number): Matrix {
  const M = new Matrix(n, d);
  for (let attempt = 0; attempt < 1000; attempt++) {
    for (let j = 0; j < n; j++) {
      const r = rng.normalArray(d);
      let s = 0;
      for (const v of r) s += v * v;
      s = Math.sqrt(s);
      for (let i = 0; i < d; i++) M.data[j * d + i] = r[i] / s;
    }
    if (n > d || minGramSchmidtPivot(M) >= 0.5) return M;
  }
  return M;
}

function minGramSchmidtPivot(M: Matrix): number {
  const { rows: n, cols: d } = M;
  const Q: Float64Array[] = [];
  let minPivot = Infinity;
  for (let j = 0; j < n; j++) {
    const v = M.row(j);
    for (const q of Q) {
      let c = 0;
      for (let i = 0; i < d; i++) c += q[i] * v[i];
      for (let i = 0; i < d; i++) v[i] -= c * q[i];
    }
    let s = 0;
    for (let i = 0; i < d; i++) s += v[i] * v[i];
    s = Math.sqrt(s);
    minPivot = Math.min(minPivot, s);
    if (s > 0) for (let i = 0; i < d; i++) v[i] /= s;
    Q.push(v);
  }
  return minPivot;
}

/** Gaussian n×n matrix scaled to spectral norm `norm`. */
function recurrentMatrix(rng: Rng, n: number, norm: number): Matrix {
  const M = new Matrix(n, n, rng.normalArray(n * n));
  if (norm === 0) return new Matrix(n, n);
  const s = spectralNorm(M, rng.fork());
  for (let i = 0; i < M.data.length; i++) M.data[i] *= norm / s;
  return M;
}

/**
 * Well-conditioned n×dy output matrix: orthonormalised Gaussian rows (or columns when n > dy) times random
 * row scales in [0.8, 1.2] with random signs, so its condition number is at most 1.5.
 */
function outputMatrix(rng: Rng, n: number, dy: number): Matrix {
  const tall = n > dy;
  const r = tall ? dy : n, c = tall ? n : dy;
  const G = new Matrix(r, c, rng.normalArray(r * c));
  // Modified Gram-Schmidt on the r ≤ c rows of G.
  for (let j = 0; j < r; j++) {
    for (let k = 0; k < j; k++) {
      let d = 0;
      for (let i = 0; i < c; i++) d += G.data[j * c + i] * G.data[k * c + i];
      for (let i = 0; i < c; i++) G.data[j * c + i] -= d * G.data[k * c + i];
    }
    let s = 0;
    for (let i = 0; i < c; i++) s += G.data[j * c + i] ** 2;
    s = Math.sqrt(s);
    for (let i = 0; i < c; i++) G.data[j * c + i] /= s;
  }
  const A = tall ? transpose(G) : G; // n×dy
  for (let j = 0; j < n; j++) {
    const f = (0.8 + 0.4 * rng.uniform()) * (rng.uniform() < 0.5 ? -1 : 1);
    for (let i = 0; i < dy; i++) A.data[j * dy + i] *= f;
  }
  return A;
}

export interface RandomIORNNOptions {
  dx: number;
  dh: number;
  dy: number;
  /** ‖U‖₂ (default 0.3; see §6: ‖U‖₂ (5.3 σ_x)² ≲ 3 for stability with unit-norm rows of A1). */
  uNorm?: number;
  seed: number;
  /** Activation (or spec string such as 'z2', '0,0.1,0.5,1'); default σ(z) = z². */
  activation?: Activation | string;
}

function resolveActivation(a: Activation | string | undefined): Activation {
  if (a === undefined) return { coefficients: [0, 0, 1] };
  return typeof a === 'string' ? activationFromSpec(a) : a;
}

function checkDims(o: Record<string, number | undefined>): void {
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
}

/** A planted IO-RNN in the stable regime of §6: unit-norm, well-spread rows of A1; ‖U‖₂ = uNorm; A2 well conditioned. */
export function randomIORNN(opts: RandomIORNNOptions): IORNNParams {
  const { dx, dh, dy, seed } = opts;
  checkDims({ dx, dh, dy });
  const uNorm = opts.uNorm ?? 0.3;
  if (!(uNorm >= 0)) throw new RangeError(`uNorm must be ≥ 0, got ${uNorm}`);
  const rng = new Rng(seed);
  const A1 = unitRows(rng, dh, dx);
  const U = recurrentMatrix(rng, dh, uNorm);
  const A2 = outputMatrix(rng, dh, dy);
  return { kind: 'iornn', A1, U, A2, activation: resolveActivation(opts.activation) };
}

export interface RandomBRNNOptions extends RandomIORNNOptions {
  /** Number of backward neurons. */
  dz: number;
  /** ‖V‖₂ (default uNorm). */
  vNorm?: number;
}

/** A planted BRNN: [A1; B1] has unit-norm, well-spread rows (identifiability needs dh+dz ≤ dx), ‖U‖₂ = uNorm, ‖V‖₂ = vNorm. */
export function randomBRNN(opts: RandomBRNNOptions): BRNNParams {
  const { dx, dh, dz, dy, seed } = opts;
  checkDims({ dx, dh, dz, dy });
  const uNorm = opts.uNorm ?? 0.3;
  const vNorm = opts.vNorm ?? uNorm;
  const rng = new Rng(seed);
  const AB = unitRows(rng, dh + dz, dx);
  const A1 = new Matrix(dh, dx, AB.data.slice(0, dh * dx));
  const B1 = new Matrix(dz, dx, AB.data.slice(dh * dx));
  const U = recurrentMatrix(rng, dh, uNorm);
  const V = recurrentMatrix(rng, dz, vNorm);
  const A2 = outputMatrix(rng, dh + dz, dy);
  return { kind: 'brnn', A1, U, B1, V, A2, activation: resolveActivation(opts.activation) };
}

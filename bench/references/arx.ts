/**
 * Independent reference for the linear bench: a least-squares ARX(n) model
 *   y_t = c + Σ_{i=1..n} A_i y_{t−i} + Σ_{j=0..n} B_j x_{t−j}
 * fitted on the steps t ≥ n of every sequence (regressors inside the sequence only), and simulated FREE-RUN
 * (its own past predictions, never the measured y) on held-out sequences. Before the first step the past inputs
 * are 0 and the past outputs are the model's constant level c / (I − Σ A_i), which is the planted IO-RNN's
 * initial condition (h_0 = 0) for zero-mean inputs. Normal equations in float64 with a tiny ridge for
 * conditioning; nothing from src/ except the data type and the linear solver.
 */
import { Matrix } from '../../src/linalg/matrix.js';
import { lstsq, solve } from '../../src/linalg/solve.js';
import type { SequenceChunk } from '../../src/io/dataset.js';

export interface ARXModel {
  n: number;
  dx: number;
  dy: number;
  /** Regression weights, (1 + n·dy + (n+1)·dx) × dy: [c; A_1ᵀ…; B_0ᵀ…]. */
  W: Matrix;
}

function regressor(n: number, dx: number, dy: number, x: Float64Array, yPast: (lag: number, i: number) => number, xo: number, t: number, out: Float64Array): void {
  let p = 0;
  out[p++] = 1;
  for (let l = 1; l <= n; l++) for (let i = 0; i < dy; i++) out[p++] = yPast(l, i);
  for (let l = 0; l <= n; l++) for (let a = 0; a < dx; a++) out[p++] = t - l >= 0 ? x[xo + (t - l) * dx + a] : 0;
}

export function fitARX(chunks: readonly SequenceChunk[], n: number): ARXModel {
  const dx = chunks[0].dx, dy = chunks[0].dy, m = 1 + n * dy + (n + 1) * dx;
  const G = new Float64Array(m * m), C = new Float64Array(m * dy), z = new Float64Array(m);
  for (const c of chunks) {
    let row = 0;
    for (let s = 0; s < c.lengths.length; s++) {
      const L = c.lengths[s];
      for (let t = n; t < L; t++) {
        regressor(n, dx, dy, c.x, (l, i) => c.y[(row + t - l) * dy + i], row * dx, t, z);
        for (let a = 0; a < m; a++) {
          const za = z[a];
          for (let b = a; b < m; b++) G[a * m + b] += za * z[b];
          for (let i = 0; i < dy; i++) C[a * dy + i] += za * c.y[(row + t) * dy + i];
        }
      }
      row += L;
    }
  }
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) G[a * m + b] = G[b * m + a];
  const ridge = 1e-10 * Math.max(...Array.from({ length: m }, (_, a) => G[a * m + a]));
  for (let a = 0; a < m; a++) G[a * m + a] += ridge;
  const W = solve(new Matrix(m, m, G), new Matrix(m, dy, C));
  return { n, dx, dy, W };
}

/** Free-run simulation on the sequences of a chunk (rows×dy). */
export function simulateARX(model: ARXModel, c: SequenceChunk): Float64Array {
  const { n, dx, dy, W } = model, m = W.rows;
  // Constant level ȳ = (I − Σ A_i)⁻¹ c solves ȳ = c + Σ A_i ȳ.
  const IA = Matrix.identity(dy);
  for (let l = 1; l <= n; l++) for (let i = 0; i < dy; i++) for (let k = 0; k < dy; k++) IA.data[k * dy + i] -= W.data[(1 + (l - 1) * dy + i) * dy + k];
  const level = lstsq(IA, new Matrix(dy, 1, W.data.slice(0, dy))).X.data;
  const out = new Float64Array(c.rows * dy), z = new Float64Array(m);
  let row = 0;
  for (let s = 0; s < c.lengths.length; s++) {
    const L = c.lengths[s];
    for (let t = 0; t < L; t++) {
      regressor(n, dx, dy, c.x, (l, i) => (t - l >= 0 ? out[(row + t - l) * dy + i] : level[i]), row * dx, t, z);
      for (let i = 0; i < dy; i++) {
        let v = 0;
        for (let a = 0; a < m; a++) v += z[a] * W.data[a * dy + i];
        out[(row + t) * dy + i] = v;
      }
    }
    row += L;
  }
  return out;
}

/**
 * Independent reference for the linear bench: a subspace (N4SID-style) fit of
 *   ξ_{t+1} = A ξ_t + B x_t,  y_t = C ξ_t + D x_t + b,  ξ = 0 at the start of every sequence,
 * written from the textbook recipe (Van Overschee & De Moor, unit weights), independent of gloree's moments:
 *   1. windows of p past and f future steps inside each sequence: U_f (future inputs), W_p = [U_p; Y_p] (past
 *      data), Y_f (future outputs); their Gram matrix is accumulated over all windows;
 *   2. least squares Y_f ≈ L_u U_f + L_w W_p; the oblique projection L_w W_p spans the extended observability
 *      matrix Γ_f, so Γ_f = the top-n left singular space of L_w R (R Rᵀ = W_p W_pᵀ / N);
 *   3. C = first block row of Γ_f, A = Γ_↑⁺ Γ_↓;
 *   4. B, D, b by linear least squares of y on the simulated responses (y is linear in them given A, C).
 * Simulation is free-run from ξ = 0.
 */
import { Matrix, matmul } from '../../src/linalg/matrix.js';
import { lstsq, solve } from '../../src/linalg/solve.js';
import { svd } from '../../src/linalg/svd.js';
import { cholesky } from '../../src/linalg/cholesky.js';
import type { SequenceChunk } from '../../src/io/dataset.js';

export interface StateSpaceModel {
  A: Matrix;
  B: Matrix;
  C: Matrix;
  D: Matrix;
  b: Float64Array;
}

export function fitN4SID(chunks: readonly SequenceChunk[], order: number, p = 10, f = 10): StateSpaceModel {
  const dx = chunks[0].dx, dy = chunks[0].dy, n = order;
  const nu = f * dx, nw = p * (dx + dy), ny = f * dy, m = nu + nw + ny;
  const ym = new Float64Array(dy);
  let rows = 0;
  for (const c of chunks) {
    for (let r = 0; r < c.rows; r++) for (let i = 0; i < dy; i++) ym[i] += c.y[r * dy + i];
    rows += c.rows;
  }
  for (let i = 0; i < dy; i++) ym[i] /= rows;
  const G = new Float64Array(m * m), z = new Float64Array(m);
  let N = 0;
  for (const c of chunks) {
    let row = 0;
    for (let s = 0; s < c.lengths.length; s++) {
      const L = c.lengths[s];
      for (let t0 = 0; t0 + p + f <= L; t0++) {
        let q = 0;
        for (let k = 0; k < f; k++) for (let a = 0; a < dx; a++) z[q++] = c.x[(row + t0 + p + k) * dx + a];
        for (let k = 0; k < p; k++) for (let a = 0; a < dx; a++) z[q++] = c.x[(row + t0 + k) * dx + a];
        for (let k = 0; k < p; k++) for (let i = 0; i < dy; i++) z[q++] = c.y[(row + t0 + k) * dy + i] - ym[i];
        for (let k = 0; k < f; k++) for (let i = 0; i < dy; i++) z[q++] = c.y[(row + t0 + p + k) * dy + i] - ym[i];
        for (let a = 0; a < m; a++) {
          const za = z[a];
          if (za === 0) continue;
          for (let b = a; b < m; b++) G[a * m + b] += za * z[b];
        }
        N++;
      }
      row += L;
    }
  }
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) G[a * m + b] = G[b * m + a];
  for (let e = 0; e < G.length; e++) G[e] /= N;
  const r = nu + nw;
  const Grr = new Matrix(r, r), Gry = new Matrix(r, ny);
  for (let a = 0; a < r; a++) {
    for (let b = 0; b < r; b++) Grr.data[a * r + b] = G[a * m + b];
    for (let b = 0; b < ny; b++) Gry.data[a * ny + b] = G[a * m + r + b];
  }
  const Lt = solve(Grr, Gry); // r × ny = [L_uᵀ; L_wᵀ]
  const Lw = new Matrix(ny, nw);
  for (let i = 0; i < ny; i++) for (let w = 0; w < nw; w++) Lw.data[i * nw + w] = Lt.data[(nu + w) * ny + i];
  const Gww = new Matrix(nw, nw);
  for (let a = 0; a < nw; a++) for (let b = 0; b < nw; b++) Gww.data[a * nw + b] = G[(nu + a) * m + nu + b];
  const O = matmul(Lw, cholesky(Gww));
  const { U, S } = svd(O);
  const Gam = new Matrix(ny, n);
  for (let i = 0; i < ny; i++) for (let j = 0; j < n; j++) Gam.data[i * n + j] = U.data[i * U.cols + j] * Math.sqrt(S[j]);
  const C = new Matrix(dy, n, Gam.data.slice(0, dy * n));
  const A = lstsq(new Matrix((f - 1) * dy, n, Gam.data.slice(0, (f - 1) * dy * n)), new Matrix((f - 1) * dy, n, Gam.data.slice(dy * n))).X;
  return { A, C, ...fitBD(chunks, A, C) };
}

/** B, D, b by least squares given A, C (y is linear in them; responses simulated from ξ = 0). */
function fitBD(chunks: readonly SequenceChunk[], A: Matrix, C: Matrix): { B: Matrix; D: Matrix; b: Float64Array } {
  const n = A.rows, dx = chunks[0].dx, dy = C.rows;
  const P = n * dx + dy * dx + dy;
  const G = new Float64Array(P * P), rhs = new Float64Array(P), phi = new Float64Array(P);
  const xi = new Float64Array(n * dx * n), nxt = new Float64Array(n);
  for (const c of chunks) {
    let row = 0;
    for (let s = 0; s < c.lengths.length; s++) {
      xi.fill(0);
      for (let t = 0; t < c.lengths[s]; t++) {
        const xo = (row + t) * dx;
        for (let i = 0; i < dy; i++) {
          phi.fill(0);
          // B entry (j, a): response C ξ^{(j,a)}_t.
          for (let e = 0; e < n * dx; e++) {
            let v = 0;
            for (let k = 0; k < n; k++) v += C.data[i * n + k] * xi[e * n + k];
            phi[e] = v;
          }
          for (let a = 0; a < dx; a++) phi[n * dx + i * dx + a] = c.x[xo + a];
          phi[n * dx + dy * dx + i] = 1;
          const yi = c.y[(row + t) * dy + i];
          for (let a = 0; a < P; a++) {
            if (phi[a] === 0) continue;
            rhs[a] += phi[a] * yi;
            for (let b = 0; b < P; b++) G[a * P + b] += phi[a] * phi[b];
          }
        }
        // ξ^{(j,a)}_{t+1} = A ξ^{(j,a)}_t + e_j x_{t,a}.
        for (let j = 0; j < n; j++)
          for (let a = 0; a < dx; a++) {
            const e = j * dx + a;
            for (let k = 0; k < n; k++) {
              let v = 0;
              for (let l = 0; l < n; l++) v += A.data[k * n + l] * xi[e * n + l];
              nxt[k] = v;
            }
            nxt[j] += c.x[xo + a];
            xi.set(nxt, e * n);
          }
      }
      row += c.lengths[s];
    }
  }
  const th = lstsq(new Matrix(P, P, G), new Matrix(P, 1, rhs)).X.data;
  return { B: new Matrix(n, dx, th.slice(0, n * dx)), D: new Matrix(dy, dx, th.slice(n * dx, n * dx + dy * dx)), b: th.slice(n * dx + dy * dx) };
}

/** Free-run simulation from ξ = 0 per sequence. */
export function simulateStateSpace(mod: StateSpaceModel, c: SequenceChunk): Float64Array {
  const { A, B, C, D, b } = mod, n = A.rows, dx = B.cols, dy = C.rows;
  const out = new Float64Array(c.rows * dy), xi = new Float64Array(n), nx = new Float64Array(n);
  let row = 0;
  for (let s = 0; s < c.lengths.length; s++) {
    xi.fill(0);
    for (let t = 0; t < c.lengths[s]; t++) {
      const xo = (row + t) * dx;
      for (let i = 0; i < dy; i++) {
        let v = b[i];
        for (let k = 0; k < n; k++) v += C.data[i * n + k] * xi[k];
        for (let a = 0; a < dx; a++) v += D.data[i * dx + a] * c.x[xo + a];
        out[(row + t) * dy + i] = v;
      }
      for (let k = 0; k < n; k++) {
        let v = 0;
        for (let l = 0; l < n; l++) v += A.data[k * n + l] * xi[l];
        for (let a = 0; a < dx; a++) v += B.data[k * dx + a] * c.x[xo + a];
        nx[k] = v;
      }
      xi.set(nx);
    }
    row += c.lengths[s];
  }
  return out;
}

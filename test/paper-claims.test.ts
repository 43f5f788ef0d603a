/**
 * Statements of the paper that docs/method.md §4 calls wrong, checked against exact derivatives of the
 * noise-free recursion (no library code involved: the recursion is written out below).
 *
 * The paper's Algorithm 1 (lines 6–8) recovers U from the fourth-order moment E[y_t ⊗ S4(t−1)], claiming that
 * its [12][34] unfolding (for each output coordinate) is Σ_j A2^(j) w_j w_jᵀ with w_j = vec M_j,
 * M_j = Σ_k U_jk a1_k a1_kᵀ, i.e. of rank ≤ 1 per neuron. By Stein's identity (docs/method.md §3) the moment equals
 * the fourth derivative ∇⁴_{x_{t−1}} y_t, which is constant because y_t has degree 4 in x_{t−1} (σ = z²): so the
 * exact derivative decides the claim. The fourth central difference of a degree-4 polynomial is exact, whatever
 * the step, so the comparisons below hold to rounding (1e-9 relative is ~1e5 ulps of slack for 16-term sums).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix as MLMatrix, SingularValueDecomposition } from 'ml-matrix';

const dx = 3, dh = 2;
const A1 = [[0.8, 0.6, 0], [0, 0.6, -0.8]];
const U = [[0.3, -0.21], [0.24, 0.18]];
// One output that only neuron 0 reaches: the paper's form is then 8·w_0 w_0ᵀ (rank 1), whatever its constant.
const A2 = [1, 0];

/** y_t (scalar) at the last step of a sequence of length 3, h_t = (A1 x_t + U h_{t−1})², h_0 = 0. */
function yLast(x: number[][]): number {
  let h = [0, 0];
  for (const xt of x) {
    const next = [0, 0];
    for (let j = 0; j < dh; j++) {
      let z = 0;
      for (let a = 0; a < dx; a++) z += A1[j][a] * xt[a];
      for (let k = 0; k < dh; k++) z += U[j][k] * h[k];
      next[j] = z * z;
    }
    h = next;
  }
  return A2[0] * h[0] + A2[1] * h[1];
}

/** ∂⁴ y_t / ∂x_{t−1,a} ∂x_{t−1,b} ∂x_{t−1,c} ∂x_{t−1,d} by the exact fourth central difference. */
function fourthDerivative(x0: number[][], idx: number[]): number {
  const step = 0.5;
  let acc = 0;
  for (let m = 0; m < 16; m++) {
    const x = x0.map((r) => r.slice());
    let sign = 1;
    for (let q = 0; q < 4; q++) {
      const s = (m >> q) & 1 ? 1 : -1;
      sign *= s;
      x[1][idx[q]] += s * step;
    }
    acc += sign * yLast(x);
  }
  return acc / (16 * step ** 4);
}

function mMatrix(j: number): number[][] {
  const M = [...Array(dx)].map(() => new Array(dx).fill(0));
  for (let k = 0; k < dh; k++) for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) M[a][b] += U[j][k] * A1[k][a] * A1[k][b];
  return M;
}

test('F3: ∇⁴_{x_{t−1}} y_t = 8 Σ_j A2^(j) Sym(M_j ⊗ M_j) exactly, and its [12][34] unfolding has rank r(r+1)/2, not 1 (the paper\'s Algorithm 1 is wrong)', () => {
  const x0 = [[0.3, -0.5, 0.2], [0.1, 0.4, -0.7], [-0.2, 0.6, 0.5]];
  const M = mMatrix(0);
  const T = new MLMatrix(dx * dx, dx * dx);
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++)
      for (let c = 0; c < dx; c++)
        for (let d = 0; d < dx; d++) {
          const got = fourthDerivative(x0, [a, b, c, d]);
          const want = 8 * A2[0] * (M[a][b] * M[c][d] + M[a][c] * M[b][d] + M[a][d] * M[b][c]);
          assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `[${a}${b}${c}${d}]: ${got} vs ${want}`);
          T.set(a * dx + b, c * dx + d, got);
        }
  // M_0 = U_00 a1_0 a1_0ᵀ + U_01 a1_1 a1_1ᵀ has rank r = 2 (independent rows of A1): the unfolding has rank 3.
  const sv = new SingularValueDecomposition(T).diagonal;
  const rank = sv.filter((s) => s > 1e-9 * sv[0]).length;
  assert.equal(rank, 3, `singular values ${sv.map((s) => s.toExponential(2)).join(', ')}`);
  // No constant c makes c·w wᵀ (w = vec M_0) match: the best c leaves a residual of the size of T itself.
  const w = M.flat();
  let num = 0, den = 0, tt = 0;
  for (let p = 0; p < dx * dx; p++)
    for (let q = 0; q < dx * dx; q++) {
      num += T.get(p, q) * w[p] * w[q];
      den += (w[p] * w[q]) ** 2;
      tt += T.get(p, q) ** 2;
    }
  const cBest = num / den;
  let res = 0;
  for (let p = 0; p < dx * dx; p++) for (let q = 0; q < dx * dx; q++) res += (T.get(p, q) - cBest * w[p] * w[q]) ** 2;
  const relResidual = Math.sqrt(res / tt);
  // For any M, ‖M⊗M + (M⊗M)K‖ is comparable to ‖vec M vec Mᵀ‖; 0.3 is far above rounding and far below the ≈ 0.6 seen here.
  assert.ok(relResidual > 0.3, `best rank-1 fit of the paper's form leaves only ${relResidual}`);
});

test('the order-4 moment is not usable at lag 2: ∇⁴_{x_{t−2}} y_t is not constant (only lag 1 is clean)', () => {
  // y_t at the last step of a length-3 sequence depends on x_{t−2} = x[0] through h_{t−1} = (A1x + U h_{t−2})²,
  // with degree 8: the fourth derivative varies with the point.
  const fourthAtLag2 = (x0: number[][]): number => {
    const step = 0.25;
    let acc = 0;
    for (let m = 0; m < 16; m++) {
      const x = x0.map((r) => r.slice());
      let sign = 1;
      for (let q = 0; q < 4; q++) {
        const s = (m >> q) & 1 ? 1 : -1;
        sign *= s;
        x[0][0] += s * step;
      }
      acc += sign * yLast(x);
    }
    return acc / (16 * step ** 4);
  };
  const p = fourthAtLag2([[0.3, -0.5, 0.2], [0.1, 0.4, -0.7], [-0.2, 0.6, 0.5]]);
  const q = fourthAtLag2([[-0.9, 0.5, 0.4], [0.1, 0.4, -0.7], [-0.2, 0.6, 0.5]]);
  assert.ok(Math.abs(p - q) > 1e-3 * Math.max(Math.abs(p), Math.abs(q)), `${p} vs ${q}`);
});

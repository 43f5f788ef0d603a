/**
 * docs/method.md §4 P1, P2, P2′, P3, P4 for polynomial activations of degree l, checked against EXACT
 * derivatives of the noise-free IO-RNN recursion, and the contracted moment accumulators of
 * src/moments/higher.ts against the explicit scores of src/input/scores.ts.
 *
 * Exact derivatives: mixed finite differences whose stencil is exact for the polynomial degree at hand.
 * - Forward differences Δ_{d_1}…Δ_{d_m} f(0)/h^m equal ∂_{d_1}…∂_{d_m} f(0) whenever f has no monomial in
 *   which every ε_i appears and some ε_i appears twice. y_t has degree l in x_t, so l forward differences at
 *   step t are exact (P1, P4). For P2 (l−1 directions at t, l at t−1) the t-monomials of degree l have a
 *   constant coefficient (σ^(l) = c_l l!) and the degree-(l−1) ones have coefficient ∝ σ^(l−1)(z_t), linear
 *   in h_{t−1}, i.e. of degree l in the step-(t−1) directions: again exact.
 * - The 5-point central stencil [f(−2h) − 8f(−h) + 8f(h) − f(2h)]/(12h) is exact for degree ≤ 4 in its
 *   variable: used where the dependence is a polynomial of degree ≤ 4 but the monomial condition fails
 *   (P2′'s step-(t−1) direction, P3's second derivative, T1's first derivative).
 * Steps h = 0.5 keep rounding at ~1e-13 relative.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, SequenceChunk } from '../src/io/dataset.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { hermite3, hermite4, mixedScore, mixedScoreArgs, firstOrderScores } from '../src/input/scores.js';
import { precisionDiag } from '../src/input/model.js';
import { chunkScores } from '../src/moments/accumulator.js';
import { DiagonalHermiteAccumulator, HermiteMomentAccumulator, hermiteUnivariate, partialMatchings } from '../src/moments/higher.js';
import { predictIORNN } from '../src/models/iornn.js';
import { activationFunctions } from '../src/models/activation.js';
import { randomIORNN, simulateInputs, simulateIORNN } from '../src/models/simulate.js';
import { pinv } from '../src/linalg/pinv.js';
import type { IORNNParams } from '../src/models/params.js';

const ACTIVATIONS: { name: string; c: number[]; odd: boolean }[] = [
  { name: 'z^3', c: [0, 0, 0, 1], odd: true },
  { name: 'z^3 + 0.5z^2 + 0.1z', c: [0, 0.1, 0.5, 1], odd: false },
  { name: '0.2 + 0.1z − 0.4z^2 + 0.7z^3 (c_l ≠ 1)', c: [0.2, 0.1, -0.4, 0.7], odd: false },
  { name: 'z^2 + 0.3z', c: [0, 0.3, 1], odd: false },
];

const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
const dotv = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

function model(c: number[], dy: number, seed: number, uNorm = 0.4): IORNNParams {
  return randomIORNN({ dx: 4, dh: 3, dy, uNorm, seed, activation: { coefficients: c } });
}

/** y_t (all outputs) of one sequence x (L×dx). */
function outputsAt(p: IORNNParams, x: Float64Array, L: number, t: number): Float64Array {
  const dx = p.A1.cols, dy = p.A2.cols;
  // Only steps 0..t matter for y_t (the recursion is causal); later steps could only blow up.
  void L;
  const y = predictIORNN(p, makeChunk(dx, dy, x.slice(0, (t + 1) * dx), new Float64Array((t + 1) * dy), [t + 1]));
  return y.slice(t * dy, (t + 1) * dy);
}

type Stencil = 'forward' | 'central5';
interface Dir {
  step: number;
  v: Float64Array;
  stencil: Stencil;
}
const STENCIL: Record<Stencil, [number, number][]> = {
  forward: [
    [0, -1],
    [1, 1],
  ],
  central5: [
    [-2, 1 / 12],
    [-1, -8 / 12],
    [1, 8 / 12],
    [2, -1 / 12],
  ],
};

/** Mixed derivative ∂_{d_1}…∂_{d_m} y_t at x by the product stencil (see the file comment). */
function mixedDerivative(p: IORNNParams, x: Float64Array, L: number, t: number, dirs: Dir[], h = 0.5): Float64Array {
  const dx = p.A1.cols, dy = p.A2.cols;
  const out = new Float64Array(dy);
  const rec = (i: number, xp: Float64Array, w: number): void => {
    if (i === dirs.length) {
      const y = outputsAt(p, xp, L, t);
      for (let k = 0; k < dy; k++) out[k] += w * y[k];
      return;
    }
    const d = dirs[i];
    for (const [off, wt] of STENCIL[d.stencil]) {
      const xq = xp.slice();
      for (let a = 0; a < dx; a++) xq[d.step * dx + a] += off * h * d.v[a];
      rec(i + 1, xq, w * wt);
    }
  };
  rec(0, x, 1);
  for (let k = 0; k < dy; k++) out[k] /= h ** dirs.length;
  return out;
}

function row(M: Matrix, j: number): Float64Array {
  return M.data.slice(j * M.cols, (j + 1) * M.cols);
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, msg: string): void {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= rtol * Math.max(scale, 1e-12), `${msg}: [${i}] got ${got[i]}, want ${want[i]} (scale ${scale})`);
  }
}

/** Pre-activations z_{j,u} of one sequence. */
function preacts(p: IORNNParams, x: Float64Array, L: number): Float64Array {
  const dx = p.A1.cols, dh = p.A1.rows, dy = p.A2.cols;
  const hidden = new Float64Array(L * dh);
  predictIORNN(p, makeChunk(dx, dy, x, new Float64Array(L * dy), [L]), { hidden });
  const z = new Float64Array(L * dh);
  for (let u = 0; u < L; u++)
    for (let j = 0; j < dh; j++) {
      let s = dotv(row(p.A1, j), x.subarray(u * dx, (u + 1) * dx));
      if (u > 0) for (let k = 0; k < dh; k++) s += p.U.get(j, k) * hidden[(u - 1) * dh + k];
      z[u * dh + j] = s;
    }
  return z;
}

for (const act of ACTIVATIONS) {
  const l = act.c.length - 1;
  const cl = act.c[l];
  test(`P1: ∇^l_{x_t} y_t = c_l l! Σ_j A2^(j) ⊗ a1_j^{⊗l} exactly, σ = ${act.name}`, () => {
    const p = model(act.c, 3, 11);
    const rng = new Rng(1);
    const L = 4, t = 2, dx = 4;
    for (let rep = 0; rep < 3; rep++) {
      const x = rng.normalArray(L * dx).map((v) => 0.5 * v);
      const dirs: Dir[] = Array.from({ length: l }, () => ({ step: t, v: rng.normalArray(dx), stencil: 'forward' as const }));
      const got = mixedDerivative(p, x, L, t, dirs);
      const want = new Float64Array(3);
      for (let j = 0; j < 3; j++) {
        let prod = cl * fact(l);
        for (const d of dirs) prod *= dotv(row(p.A1, j), d.v);
        for (let i = 0; i < 3; i++) want[i] += prod * p.A2.get(j, i);
      }
      assertClose(got, want, 1e-9, 'P1');
    }
  });

  test(`P2: ∂^{l−1}_{x_t} ∂^l_{x_{t−1}} y_t = (c_l l!)² Σ_j A2^(j) a1_j^{⊗(l−1)} ⊗ Σ_k U_jk a1_k^{⊗l} exactly, σ = ${act.name}`, () => {
    const p = model(act.c, 2, 12);
    const rng = new Rng(2);
    const L = 4, t = 2, dx = 4;
    const x = rng.normalArray(L * dx).map((v) => 0.5 * v);
    const dT = Array.from({ length: l - 1 }, () => rng.normalArray(dx));
    const dP = Array.from({ length: l }, () => rng.normalArray(dx));
    const dirs: Dir[] = [...dT.map((v) => ({ step: t, v, stencil: 'forward' as const })), ...dP.map((v) => ({ step: t - 1, v, stencil: 'forward' as const }))];
    const got = mixedDerivative(p, x, L, t, dirs);
    const want = new Float64Array(2);
    for (let j = 0; j < 3; j++) {
      let inner = 0;
      for (let k = 0; k < 3; k++) {
        let pk = p.U.get(j, k);
        for (const v of dP) pk *= dotv(row(p.A1, k), v);
        inner += pk;
      }
      let pj = (cl * fact(l)) ** 2 * inner;
      for (const v of dT) pj *= dotv(row(p.A1, j), v);
      for (let i = 0; i < 2; i++) want[i] += pj * p.A2.get(j, i);
    }
    assertClose(got, want, 1e-8, 'P2');
  });

  test(`P2′ pointwise: ∂^{l−1}_{x_t} ∂_{x_{t−1}} y_t = c_l l! Σ_j A2^(j) a1_j^{⊗(l−1)} ⊗ Σ_k U_jk σ'(z_{k,t−1}) a1_k, σ = ${act.name}`, () => {
    const p = model(act.c, 2, 13);
    const f = activationFunctions(p.activation);
    const rng = new Rng(3);
    const L = 4, t = 2, dx = 4;
    const x = rng.normalArray(L * dx).map((v) => 0.5 * v);
    const z = preacts(p, x, L);
    const dT = Array.from({ length: l - 1 }, () => rng.normalArray(dx));
    const e = rng.normalArray(dx);
    const dirs: Dir[] = [...dT.map((v) => ({ step: t, v, stencil: 'forward' as const })), { step: t - 1, v: e, stencil: 'central5' }];
    const got = mixedDerivative(p, x, L, t, dirs);
    const want = new Float64Array(2);
    for (let j = 0; j < 3; j++) {
      let inner = 0;
      for (let k = 0; k < 3; k++) inner += p.U.get(j, k) * f.sigmaPrime(z[(t - 1) * 3 + k]) * dotv(row(p.A1, k), e);
      let pj = cl * fact(l) * inner;
      for (const v of dT) pj *= dotv(row(p.A1, j), v);
      for (let i = 0; i < 2; i++) want[i] += pj * p.A2.get(j, i);
    }
    assertClose(got, want, 1e-8, 'P2′');
  });

  test(`P2′ recovers U exactly when Tm21 and T1 average the same steps (ν cancels), σ = ${act.name}`, () => {
    // Exact derivatives averaged over steps t = 1..L−1 (Tm21) and t = 0..L−2 (T1) of 6 random sequences;
    // then C[j,k] = Tm21[w_j, g_j^{l−1}, g_k], ν_k = T1[w_k, g_k], U_jk = C[j,k] / (c_l l! ν_k).
    const p = model(act.c, 3, 14);
    const rng = new Rng(4);
    const L = 4, dx = 4, dh = 3, dy = 3;
    const G = pinv(p.A1).pinv; // dx×dh duals
    const W = pinv(new Matrix(dy, dh, transposeData(p.A2))).pinv; // dh×dy demix of A2ᵀ
    const C = new Float64Array(dh * dh), nu = new Float64Array(dh);
    let nPairs = 0, nT1 = 0;
    for (let rep = 0; rep < 6; rep++) {
      const x = rng.normalArray(L * dx).map((v) => 0.6 * v);
      for (let t = 1; t < L; t++) {
        nPairs++;
        for (let j = 0; j < dh; j++) {
          const gj = col(G, j);
          for (let k = 0; k < dh; k++) {
            const dirs: Dir[] = [...Array.from({ length: l - 1 }, () => ({ step: t, v: gj, stencil: 'forward' as const })), { step: t - 1, v: col(G, k), stencil: 'central5' }];
            C[j * dh + k] += dotv(row(W, j), mixedDerivative(p, x, L, t, dirs));
          }
        }
      }
      for (let t = 0; t < L - 1; t++) {
        nT1++;
        for (let k = 0; k < dh; k++) nu[k] += dotv(row(W, k), mixedDerivative(p, x, L, t, [{ step: t, v: col(G, k), stencil: 'central5' }]));
      }
    }
    assert.equal(nPairs, nT1);
    const U = new Float64Array(dh * dh);
    for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) U[j * dh + k] = C[j * dh + k] / nPairs / (cl * fact(l) * (nu[k] / nT1));
    assertClose(U, p.U.data, 1e-7, 'U from P2′');
  });

  test(`P3: ∇²_{x_t} y_t = Σ_j σ''(z_jt) A2^(j) ⊗ a1_j ⊗ a1_j; the S2 moment vanishes iff σ is odd (σ = ${act.name})`, () => {
    const p = model(act.c, 2, 15);
    const f = activationFunctions(p.activation);
    const rng = new Rng(5);
    const L = 4, t = 2, dx = 4;
    let maxPairSum = 0, scale = 0;
    for (let rep = 0; rep < 3; rep++) {
      const x = rng.normalArray(L * dx).map((v) => 0.5 * v);
      const d1 = rng.normalArray(dx), d2 = rng.normalArray(dx);
      const dirs: Dir[] = [
        { step: t, v: d1, stencil: 'central5' },
        { step: t, v: d2, stencil: 'central5' },
      ];
      const z = preacts(p, x, L);
      const got = mixedDerivative(p, x, L, t, dirs);
      const want = new Float64Array(2);
      for (let j = 0; j < 3; j++) {
        const w = f.sigmaSecond(z[t * 3 + j]) * dotv(row(p.A1, j), d1) * dotv(row(p.A1, j), d2);
        for (let i = 0; i < 2; i++) want[i] += w * p.A2.get(j, i);
      }
      assertClose(got, want, 1e-8, 'P3 pointwise');
      // Symmetric input: x and −x are equally likely, so E[∇²y] = ½ E[∇²y(x) + ∇²y(−x)].
      const gotNeg = mixedDerivative(p, x.map((v) => -v), L, t, dirs);
      for (let i = 0; i < 2; i++) {
        maxPairSum = Math.max(maxPairSum, Math.abs(got[i] + gotNeg[i]));
        scale = Math.max(scale, Math.abs(got[i]));
      }
    }
    if (act.odd) assert.ok(maxPairSum <= 1e-9 * scale, `odd σ: ∇²y(x) + ∇²y(−x) = ${maxPairSum} should vanish`);
    else assert.ok(maxPairSum > 1e-3 * scale, `non-odd σ: ∇²y(x) + ∇²y(−x) = ${maxPairSum} should not vanish`);
  });
}

test('P4: scalar output, l = 3: ∇³_{x_t} y_t = 6 c_3 Σ_j a2_j a1_j^{⊗3} exactly (σ = 0.2 + 0.1z − 0.4z² + 0.7z³)', () => {
  const p = model([0.2, 0.1, -0.4, 0.7], 1, 16);
  const rng = new Rng(6);
  const L = 3, t = 1, dx = 4;
  const x = rng.normalArray(L * dx);
  const dirs: Dir[] = Array.from({ length: 3 }, () => ({ step: t, v: rng.normalArray(dx), stencil: 'forward' as const }));
  const got = mixedDerivative(p, x, L, t, dirs);
  let want = 0;
  for (let j = 0; j < 3; j++) want += 6 * 0.7 * p.A2.get(j, 0) * dirs.reduce((a, d) => a * dotv(row(p.A1, j), d.v), 1);
  assertClose(got, [want], 1e-9, 'P4');
});

function col(M: Matrix, j: number): Float64Array {
  const out = new Float64Array(M.rows);
  for (let i = 0; i < M.rows; i++) out[i] = M.get(i, j);
  return out;
}
function transposeData(M: Matrix): Float64Array {
  const out = new Float64Array(M.rows * M.cols);
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.cols; j++) out[j * M.rows + i] = M.get(i, j);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The contracted accumulators against the explicit scores (exact algebra, any data).

const VAR = new GaussianVAR1(
  [0.1, -0.2, 0.05],
  Matrix.from([
    [0.5, 0.1, 0],
    [0, 0.4, -0.1],
    [0.05, 0, 0.3],
  ]),
  Matrix.from([
    [1, 0.2, 0],
    [0.2, 0.8, 0.1],
    [0, 0.1, 0.6],
  ]),
);

function smallChunk(dy: number, seed: number): SequenceChunk {
  const rng = new Rng(seed);
  const lengths = [4, 2, 5];
  const rows = 11;
  return makeChunk(3, dy, rng.normalArray(rows * 3), rng.normalArray(rows * dy), lengths);
}

test('partial matchings: counts are the telephone numbers 1, 2, 4, 10, 26', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => partialMatchings(n).length), [1, 2, 4, 10, 26]);
});

test('HermiteMomentAccumulator (explicit, lag 0, order 3 and 4) equals Σ y ⊗ hermite3 / hermite4 of scores.ts', () => {
  const ch = smallChunk(2, 21);
  const sc = chunkScores(VAR, ch);
  for (const order of [3, 4]) {
    const acc = new HermiteMomentAccumulator(VAR, 2, Array.from({ length: order }, () => ({ lag: 0 as const, Q: null })));
    acc.add(ch, sc, ch.y);
    const want = new Float64Array(2 * 3 ** order);
    let row0 = 0, n = 0;
    for (const L of ch.lengths) {
      for (let t = 0; t < L; t++, n++) {
        const s = sc.subarray((row0 + t) * 3, (row0 + t + 1) * 3);
        const H = order === 3 ? hermite3(s, precisionDiag(VAR, t, L)) : hermite4(s, precisionDiag(VAR, t, L));
        for (let i = 0; i < 2; i++) for (let e = 0; e < H.length; e++) want[i * H.length + e] += ch.y[(row0 + t) * 2 + i] * H[e];
      }
      row0 += L;
    }
    assert.equal(acc.count, n);
    assertClose(acc.result(), want.map((v) => v / n), 1e-12, `order ${order}`);
  }
});

test('HermiteMomentAccumulator with modes (t; t−1, t−1) equals Σ y ⊗ mixedScore of scores.ts', () => {
  const ch = smallChunk(1, 22);
  const sc = chunkScores(VAR, ch);
  const acc = new HermiteMomentAccumulator(VAR, 1, [
    { lag: 0, Q: null },
    { lag: -1, Q: null },
    { lag: -1, Q: null },
  ]);
  acc.add(ch, sc, ch.y);
  const want = new Float64Array(27);
  let row0 = 0, n = 0;
  for (const L of ch.lengths) {
    const s = firstOrderScores(VAR, ch.x.subarray(row0 * 3, (row0 + L) * 3), L);
    for (let t = 1; t < L; t++, n++) {
      const a = mixedScoreArgs(VAR, s, L, t, 'prev');
      const H = mixedScore(a.s, a.r, a.Pr, a.L);
      for (let e = 0; e < 27; e++) want[e] += ch.y[row0 + t] * H[e];
    }
    row0 += L;
  }
  assertClose(acc.result(), want.map((v) => v / n), 1e-12, 'mixed');
});

test('DiagonalHermiteAccumulator P1 / P2′ / P2 equal the explicit Hermite tensors contracted with G (l = 2, 3, 4)', () => {
  const ch = smallChunk(2, 23);
  const sc = chunkScores(VAR, ch);
  const G = Matrix.from([
    [1, 0.3],
    [-0.5, 0.8],
    [0.2, -1.1],
  ]);
  for (const l of [2, 3, 4]) {
    // P1 against the full projected order-l tensor.
    const full1 = new HermiteMomentAccumulator(VAR, 2, Array.from({ length: l }, () => ({ lag: 0 as const, Q: G })), { skipLast: 1 });
    const d1 = new DiagonalHermiteAccumulator(VAR, 2, G, 'P1', l, { skipLast: 1 });
    full1.add(ch, sc, ch.y);
    d1.add(ch, sc, ch.y);
    const F1 = full1.result(), D1 = d1.result();
    const k = 2, E = k ** l;
    const diagIdx = (j: number, m: number): number => {
      let e = 0;
      for (let r = 0; r < m; r++) e = e * k + j;
      return e;
    };
    for (let i = 0; i < 2; i++) for (let j = 0; j < k; j++) assert.ok(Math.abs(D1[i * k + j] - F1[i * E + diagIdx(j, l)]) < 1e-12 * (1 + Math.abs(F1[i * E + diagIdx(j, l)])), `P1 l=${l}`);
    // P2′: modes (t)^{l−1}, (t−1).
    const full2 = new HermiteMomentAccumulator(VAR, 2, [...Array.from({ length: l - 1 }, () => ({ lag: 0 as const, Q: G })), { lag: -1 as const, Q: G }]);
    const d2 = new DiagonalHermiteAccumulator(VAR, 2, G, 'P2prime', l);
    full2.add(ch, sc, ch.y);
    d2.add(ch, sc, ch.y);
    const F2 = full2.result(), D2 = d2.result(), E2 = k ** l;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < k; j++)
        for (let kk = 0; kk < k; kk++) {
          const want = F2[i * E2 + diagIdx(j, l - 1) * k + kk];
          assert.ok(Math.abs(D2[(i * k + j) * k + kk] - want) < 1e-12 * (1 + Math.abs(want)), `P2′ l=${l}`);
        }
    // P2: modes (t)^{l−1}, (t−1)^l.
    const full3 = new HermiteMomentAccumulator(VAR, 2, [...Array.from({ length: l - 1 }, () => ({ lag: 0 as const, Q: G })), ...Array.from({ length: l }, () => ({ lag: -1 as const, Q: G }))]);
    const d3 = new DiagonalHermiteAccumulator(VAR, 2, G, 'P2', l);
    full3.add(ch, sc, ch.y);
    d3.add(ch, sc, ch.y);
    const F3 = full3.result(), D3 = d3.result(), E3 = k ** (2 * l - 1);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < k; j++)
        for (let kk = 0; kk < k; kk++) {
          const want = F3[i * E3 + diagIdx(j, l - 1) * k ** l + diagIdx(kk, l)];
          assert.ok(Math.abs(D3[(i * k + j) * k + kk] - want) < 1e-11 * (1 + Math.abs(want)), `P2 l=${l}: ${D3[(i * k + j) * k + kk]} vs ${want}`);
        }
  }
});

test('hermiteUnivariate: He_n(x; v) is the probabilists\' Hermite polynomial scaled by v', () => {
  const out = new Float64Array(5);
  hermiteUnivariate(1.3, 0.7, 4, out);
  const x = 1.3, v = 0.7;
  assertClose(out, [1, x, x * x - v, x ** 3 - 3 * v * x, x ** 4 - 6 * v * x * x + 3 * v * v], 1e-14, 'He');
});

// ---------------------------------------------------------------------------------------------
// Stein side (Monte Carlo, Markov score, VAR(1) input with the TRUE input model): the contracted moments
// estimate the closed forms. Tolerances: 5 standard errors, estimated from 8 batches.

test('Monte Carlo (Stein side): the dual-contracted P1 moment estimates c_l l! A2, σ = z³ + 0.5z² + 0.1z, VAR(1) inputs, true input model', () => {
  // U through P2′ is checked end to end in test/gloree-poly.test.ts (its Monte Carlo error needs ~10⁵–10⁶ steps).
  const dx = 3;
  // Inputs: VAR's F with Q/4 (σ_x ≈ 0.6), unit rows of A1, ‖U‖₂ = 0.12: ‖U‖(5.3 σ_x)² ≈ 1.2, the edge of §6's
  // stable regime for cubics (larger inputs blow up within 10⁴ sequences).
  const VARs = new GaussianVAR1(VAR.mean, VAR.F, new Matrix(3, 3, VAR.Q.data.map((v) => v / 4)));
  const p = randomIORNN({ dx, dh: 2, dy: 2, uNorm: 0.12, seed: 31, activation: { coefficients: [0, 0.1, 0.5, 1] } });
  const G = pinv(p.A1).pinv;
  const batches = 8;
  const est: Float64Array[] = [];
  for (let b = 0; b < batches; b++) {
    const inputs = simulateInputs({ dx, nSeq: 1000, seqLength: 10, F: VARs.F, Q: VARs.Q, mu: VARs.mean, seed: 100 + b });
    const ch = simulateIORNN(p, inputs);
    const p1 = new DiagonalHermiteAccumulator(VARs, 2, G, 'P1', 3).add(ch, chunkScores(VARs, ch), ch.y);
    est.push(p1.result().map((v) => v / 6)); // [i, j] → A2[j, i]
  }
  const m = new Float64Array(4), v = new Float64Array(4);
  for (const x of est) for (let i = 0; i < 4; i++) m[i] += x[i] / batches;
  for (const x of est) for (let i = 0; i < 4; i++) v[i] += (x[i] - m[i]) ** 2 / (batches - 1);
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 2; j++) {
      const want = p.A2.get(j, i), se = Math.sqrt(v[i * 2 + j] / batches);
      assert.ok(se < 0.1 * Math.abs(want), `A2[${j},${i}]: standard error ${se} too large to discriminate (value ${want})`);
      assert.ok(Math.abs(m[i * 2 + j] - want) < 5 * se, `A2[${j},${i}]: ${m[i * 2 + j]} vs ${want} (se ${se})`);
    }
});

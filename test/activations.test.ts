/**
 * Smooth activations (docs/activations.md): the identities behind the spectral start for tanh and sigmoid.
 *
 * (D)  per sample, for any smooth σ (h_{t−1} does not depend on x_t):
 *        ∇^m_{x_t} y_t = Σ_j σ^(m)(z_jt) A2^(j) ⊗ a1_j^{⊗m},
 *        ∇^{m−1}_{x_t} ∇_{x_{t−1}} y_t = Σ_j σ^(m)(z_jt) A2^(j) ⊗ a1_j^{⊗(m−1)} ⊗ Σ_k U_jk σ'(z_{k,t−1}) a1_k,
 *      checked against finite differences of a reference recursion written here;
 * (S)  Stein with the Markov input's scores: E[y_t ⊗ S_m(t)] = Σ_j E[σ^(m)(z_jt)] A2^(j) ⊗ a1_j^{⊗m}, by Monte Carlo
 *      with the learner's dual-contracted accumulator (src/moments/higher.ts), the error within 5 standard errors
 *      of 0 at two sample sizes with the standard error falling like n^{−1/2} (no bias floor).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { chunkScores } from '../src/moments/accumulator.js';
import { DiagonalHermiteAccumulator } from '../src/moments/higher.js';
import { pinv } from '../src/linalg/pinv.js';
import { lstsq } from '../src/linalg/solve.js';
import { simulateInputs } from '../src/models/simulate.js';

type Sig = { name: string; d: (z: number, m: number) => number };
/** σ^(m) in closed form (m = 0..3), independent of src/. */
const TANH: Sig = {
  name: 'tanh',
  d: (z, m) => {
    const t = Math.tanh(z), s = 1 - t * t;
    return [t, s, -2 * t * s, -2 * s * (1 - 3 * t * t)][m];
  },
};
const SIGMOID: Sig = {
  name: 'sigmoid',
  d: (z, m) => {
    const s = 1 / (1 + Math.exp(-z)), q = s * (1 - s);
    return [s, q, q * (1 - 2 * s), q * (1 - 6 * s + 6 * s * s)][m];
  },
};

interface Net {
  A1: Matrix;
  U: Matrix;
  A2: Matrix;
  b: Float64Array;
}

/** Reference recursion h_t = σ(A1 x_t + U h_{t−1}), y_t = A2ᵀh_t + b; returns y and the pre-activations z. */
function run(net: Net, sig: Sig, x: Float64Array, lengths: ArrayLike<number>): { y: Float64Array; z: Float64Array } {
  const dh = net.A1.rows, dx = net.A1.cols, dy = net.A2.cols;
  let rows = 0;
  for (let k = 0; k < lengths.length; k++) rows += lengths[k];
  const y = new Float64Array(rows * dy), z = new Float64Array(rows * dh);
  let r = 0;
  for (let s = 0; s < lengths.length; s++) {
    let h = new Float64Array(dh);
    for (let t = 0; t < lengths[s]; t++, r++) {
      const hn = new Float64Array(dh);
      for (let i = 0; i < dh; i++) {
        let v = 0;
        for (let a = 0; a < dx; a++) v += net.A1.get(i, a) * x[r * dx + a];
        for (let j = 0; j < dh; j++) v += net.U.get(i, j) * h[j];
        z[r * dh + i] = v;
        hn[i] = sig.d(v, 0);
      }
      h = hn;
      for (let o = 0; o < dy; o++) {
        let v = net.b[o];
        for (let i = 0; i < dh; i++) v += net.A2.get(i, o) * h[i];
        y[r * dy + o] = v;
      }
    }
  }
  return { y, z };
}

function plantedNet(seed: number, dx: number, dh: number, dy: number, scale: number, uNorm: number): Net {
  const rng = new Rng(seed);
  const A1 = new Matrix(dh, dx, rng.normalArray(dh * dx));
  for (let j = 0; j < dh; j++) {
    let n = 0;
    for (let a = 0; a < dx; a++) n += A1.get(j, a) ** 2;
    for (let a = 0; a < dx; a++) A1.set(j, a, (A1.get(j, a) * scale) / Math.sqrt(n));
  }
  const U = new Matrix(dh, dh, rng.normalArray(dh * dh).map((v) => (v * uNorm) / Math.sqrt(dh)));
  const A2 = new Matrix(dh, dy, rng.normalArray(dh * dy));
  return { A1, U, A2, b: rng.normalArray(dy) };
}

test('(D) per-sample derivatives of a tanh / sigmoid IO-RNN: ∇^m_{x_t} y_t and the mixed (t^{m−1}; t−1) derivative, m = 1..3', () => {
  // Finite differences: central differences in each direction, error O(h²·|y^(m+2)|) ≈ 1e-5 at h = 2e-3, rounding
  // ≈ 1e-16/h³ ≈ 1e-8 for the third derivative; tolerance 1e-4·(1 + |value|).
  const dx = 3, dh = 2, dy = 2;
  for (const sig of [TANH, SIGMOID]) {
    const net = plantedNet(3, dx, dh, dy, 0.9, 0.8);
    const rng = new Rng(5);
    const lengths = [4];
    const x = rng.normalArray(4 * dx);
    const { z } = run(net, sig, x, lengths);
    const dirs = [rng.normalArray(dx), rng.normalArray(dx), rng.normalArray(dx)];
    const h = 2e-3;
    for (const t of [0, 2, 3]) {
      for (let m = 1; m <= 3; m++) {
        for (const mixed of m >= 2 && t >= 1 ? [false, true] : [false]) {
          // Directions: all at step t, or the last one at step t−1 when mixed.
          const steps = Array.from({ length: m }, (_, i) => (mixed && i === m - 1 ? t - 1 : t));
          const fd = new Float64Array(dy);
          for (let mask = 0; mask < 1 << m; mask++) {
            const xx = x.slice();
            let sign = 1;
            for (let i = 0; i < m; i++) {
              const e = (mask >> i) & 1 ? 1 : -1;
              sign *= e;
              for (let a = 0; a < dx; a++) xx[steps[i] * dx + a] += e * h * dirs[i][a];
            }
            const y = run(net, sig, xx, lengths).y;
            for (let o = 0; o < dy; o++) fd[o] += (sign * y[t * dy + o]) / (2 * h) ** m;
          }
          for (let o = 0; o < dy; o++) {
            let want = 0;
            for (let j = 0; j < dh; j++) {
              let prod = 1;
              for (let i = 0; i < (mixed ? m - 1 : m); i++) {
                let v = 0;
                for (let a = 0; a < dx; a++) v += net.A1.get(j, a) * dirs[i][a];
                prod *= v;
              }
              if (mixed) {
                let v = 0;
                for (let k = 0; k < dh; k++) {
                  let ak = 0;
                  for (let a = 0; a < dx; a++) ak += net.A1.get(k, a) * dirs[m - 1][a];
                  v += net.U.get(j, k) * sig.d(z[(t - 1) * dh + k], 1) * ak;
                }
                prod *= v;
              }
              want += sig.d(z[t * dh + j], m) * net.A2.get(j, o) * prod;
            }
            assert.ok(Math.abs(fd[o] - want) < 1e-4 * (1 + Math.abs(want)), `${sig.name} t=${t} m=${m} mixed=${mixed} o=${o}: ${fd[o]} vs ${want}`);
          }
        }
      }
    }
  }
});

// Mild VAR(1) (stationary variances ≈ 1): the score's size grows with the precision, and so does the moments' noise.
const VAR = new GaussianVAR1([0, 0, 0], Matrix.from([[0.3, 0.1, 0], [-0.1, 0.3, 0], [0, 0.1, 0.2]]), Matrix.from([[0.9, 0.1, 0], [0.1, 0.9, 0], [0, 0, 0.95]]));

/**
 * Control variate: least squares of y_t on (1, x_{t−1}, x_t, x_{t+1}) (zero where the step is outside the sequence),
 * fitted on an independent pilot data set. Its m-th derivative in x_t vanishes for m ≥ 2, so subtracting it leaves
 * E[· ⊗ S_m(t)] unchanged, while it removes the linear part of y, which dominates the moment's variance.
 */
function linearCV(x: Float64Array, y: Float64Array, lengths: Int32Array, dx: number, dy: number): (x: Float64Array, y: Float64Array, lengths: Int32Array) => Float64Array {
  const p = 1 + 3 * dx;
  const feats = (xx: Float64Array, L: Int32Array): Float64Array => {
    let rows = 0;
    for (const l of L) rows += l;
    const F = new Float64Array(rows * p);
    let r0 = 0;
    for (const l of L) {
      for (let t = 0; t < l; t++) {
        const o = (r0 + t) * p;
        F[o] = 1;
        for (let k = -1; k <= 1; k++) if (t + k >= 0 && t + k < l) for (let a = 0; a < dx; a++) F[o + 1 + (k + 1) * dx + a] = xx[(r0 + t + k) * dx + a];
      }
      r0 += l;
    }
    return F;
  };
  const F = feats(x, lengths), rows = y.length / dy;
  const W = lstsq(new Matrix(rows, p, F), new Matrix(rows, dy, y)).X;
  return (xx, yy, L) => {
    const Fx = feats(xx, L), out = yy.slice();
    for (let r = 0; r < yy.length / dy; r++) for (let i = 0; i < dy; i++) for (let f = 0; f < p; f++) out[r * dy + i] -= Fx[r * p + f] * W.get(f, i);
    return out;
  };
}

/**
 * Stein side, contracted on the duals G = pinv(A1) (the contraction the polynomial learner uses, DiagonalHermiteAccumulator
 * 'P1'): E[y_t ⊗ S_m(t)[g_j, …, g_j]] = E[σ^(m)(z_jt)] A2^(j), since a1_i·g_j = δ_ij. Per batch b the difference
 * d_b = moment − (mean over the batch's steps of σ^(m)(z_jt)) A2^(j) has mean 0 exactly when the identity holds.
 * Returns the mean over batches of d, its standard error, and the mean value of the moment (dy×dh, [i, j]).
 */
function steinBatches(net: Net, sig: Sig, m: 2 | 3, nSeq: number, batches: number, seed: number, mu: number[] = [0, 0, 0]): { d: Float64Array; se: Float64Array; value: Float64Array } {
  const dx = 3, dh = net.A1.rows, dy = net.A2.cols;
  const model = new GaussianVAR1(mu, VAR.F, VAR.Q);
  const G = pinv(net.A1).pinv;
  const pilot = simulateInputs({ dx, nSeq: 2000, seqLength: 10, F: VAR.F, Q: VAR.Q, mu, seed: seed + 999 });
  const cv = linearCV(pilot.x, run(net, sig, pilot.x, pilot.lengths).y, pilot.lengths, dx, dy);
  const ds: Float64Array[] = [], vals: Float64Array[] = [];
  for (let b = 0; b < batches; b++) {
    const inp = simulateInputs({ dx, nSeq, seqLength: 10, F: VAR.F, Q: VAR.Q, mu, seed: seed + b });
    const run1 = run(net, sig, inp.x, inp.lengths), z = run1.z;
    const y = cv(inp.x, run1.y, inp.lengths);
    const ch: SequenceChunk = makeChunk(dx, dy, inp.x, y, inp.lengths);
    const acc = new DiagonalHermiteAccumulator(model, dy, G, 'P1', m).add(ch, chunkScores(model, ch), y);
    const T = acc.result();
    const Es = new Float64Array(dh);
    for (let r = 0; r < ch.rows; r++) for (let j = 0; j < dh; j++) Es[j] += sig.d(z[r * dh + j], m) / ch.rows;
    const d = new Float64Array(dy * dh);
    for (let i = 0; i < dy; i++) for (let j = 0; j < dh; j++) d[i * dh + j] = T[i * dh + j] - Es[j] * net.A2.get(j, i);
    ds.push(d);
    vals.push(T);
  }
  const mean = (xs: Float64Array[]) => xs[0].map((_, e) => xs.reduce((a, x) => a + x[e], 0) / xs.length);
  const d = mean(ds), value = mean(vals);
  const se = d.map((v, e) => Math.sqrt(ds.reduce((a, x) => a + (x[e] - v) ** 2, 0) / (batches - 1) / batches));
  return { d, se, value };
}

/**
 * At two sample sizes (batches of n and 4n rows): the mean difference is within 5 standard errors of 0 (t with 7
 * degrees of freedom: P(|t| > 5) ≈ 0.2% per entry), the standard error is small against the moment (so the check
 * can fail), and it falls as n grows (no bias floor: the bound at 4n is about half the one at n).
 */
function assertStein(net: Net, sig: Sig, m: 2 | 3, seed: number, mu?: number[]): void {
  let prevSe = Infinity;
  for (const nSeq of [1500, 6000]) {
    const { d, se, value } = steinBatches(net, sig, m, nSeq, 8, seed + nSeq, mu);
    const scale = Math.max(...value.map(Math.abs));
    const maxSe = Math.max(...se);
    // Discriminating: the moment stands > 5 standard errors from 0, which is what it would be if E σ^(m) were
    // replaced by σ^(m) at the symmetric point (0 for σ″) — and far from σ‴(0) A2 = −2 A2 for tanh, m = 3.
    assert.ok(scale > 5 * maxSe, `${sig.name} m=${m}: standard error ${maxSe} too large against the moment (${scale})`);
    assert.ok(maxSe < 0.8 * prevSe, `${sig.name} m=${m}: standard error did not fall (${prevSe} → ${maxSe})`);
    for (let e = 0; e < d.length; e++) assert.ok(Math.abs(d[e]) < 5 * se[e], `${sig.name} m=${m} n=${nSeq * 10}: entry ${e}: difference ${d[e]} (se ${se[e]}, moment ${value[e]})`);
    prevSe = maxSe;
  }
}

test('(S) Stein, tanh, m = 3: E[y_t ⊗ S3(t)] = Σ_j E[tanh‴(z_jt)] A2^(j) ⊗ a1_j^{⊗3} (VAR(1) inputs, Markov scores, boundary steps included)', () => {
  assertStein(plantedNet(11, 3, 2, 2, 0.7, 0.6), TANH, 3, 100);
});

test('(S) Stein, m = 2: E[y_t ⊗ S2(t)] = Σ_j E[σ″(z_jt)] A2^(j) ⊗ a1_j ⊗ a1_j for a biased tanh and a sigmoid', () => {
  // A nonzero input mean makes the pre-activations asymmetric, so E σ″ ≠ 0 (for symmetric ones it vanishes for
  // tanh AND sigmoid: sigmoid(z) = (1 + tanh(z/2))/2, so σ″ is odd about 0 for both).
  const net = plantedNet(12, 3, 2, 2, 1.0, 0.6);
  assertStein(net, TANH, 2, 200, [1.5, -1.2, 1.3]);
  assertStein(plantedNet(13, 3, 2, 2, 1.5, 0.6), SIGMOID, 2, 300, [1.5, -1.2, 1.3]);
});

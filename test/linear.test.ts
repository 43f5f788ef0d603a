/**
 * Linear IO-RNN (docs/activations.md, "Linear IO-RNN"): the Markov-parameter identity, the accumulator, Ho–Kalman
 * with the balanced form, the transfer-behaviour metric, and the planted acceptance scenario.
 *
 * Ground truth is independent of the code under test: a reference recursion written here (finite differences of
 * it are exact up to rounding because it is linear), brute-force pair sums with the per-sequence scores of
 * src/input/scores.ts, Gramians summed as truncated series, and a least-squares ARX(8) written in bench/references.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, matmul, transpose } from '../src/linalg/matrix.js';
import { inv } from '../src/linalg/solve.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, splitChunk, type SequenceChunk } from '../src/io/dataset.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { firstOrderScores } from '../src/input/scores.js';
import { fitVAR1Sync } from '../src/input/fit.js';
import { momentPass } from '../src/moments/accumulator.js';
import { MarkovAccumulator } from '../src/moments/markov.js';
import { createAccumulator } from '../src/moments/spec.js';
import { simulateInputs } from '../src/models/simulate.js';
import { balance, blockHankel, hankelOrder, hoKalman, markovParameters } from '../src/decomposition/ho-kalman.js';
import { markovError } from '../src/metrics/markov.js';
import { identifyLinear } from '../src/learn/identify/linear.js';
import { refine } from '../src/learn/refine.js';
import { nmse } from '../src/metrics/nmse.js';
import { fitARX, simulateARX } from '../bench/references/arx.js';
import { plantedLinear } from '../bench/linear-planted.js';
import type { IORNNParams } from '../src/models/params.js';

/** Reference recursion h_t = A1 x_t + U h_{t−1} (h = 0 before each sequence), y_t = A2ᵀh_t + b. */
function refLinear(p: IORNNParams, x: Float64Array, lengths: ArrayLike<number>): Float64Array {
  const n = p.A1.rows, dx = p.A1.cols, dy = p.A2.cols;
  let rows = 0;
  for (let k = 0; k < lengths.length; k++) rows += lengths[k];
  const y = new Float64Array(rows * dy);
  let r = 0;
  for (let s = 0; s < lengths.length; s++) {
    let h = new Float64Array(n);
    for (let t = 0; t < lengths[s]; t++, r++) {
      const hn = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let a = 0; a < dx; a++) v += p.A1.get(i, a) * x[r * dx + a];
        for (let j = 0; j < n; j++) v += p.U.get(i, j) * h[j];
        hn[i] = v;
      }
      h = hn;
      for (let o = 0; o < dy; o++) {
        let v = p.b ? p.b[o] : 0;
        for (let i = 0; i < n; i++) v += p.A2.get(i, o) * h[i];
        y[r * dy + o] = v;
      }
    }
  }
  return y;
}

/** M_k = A2ᵀ U^k A1 by explicit matrix powers (dy×dx each). */
function truthMarkov(p: IORNNParams, K: number): Matrix[] {
  const out: Matrix[] = [];
  let P = p.A1;
  for (let k = 0; k < K; k++) {
    out.push(matmul(transpose(p.A2), P));
    P = matmul(p.U, P);
  }
  return out;
}

const VAR = new GaussianVAR1([0.1, -0.2], Matrix.from([[0.5, 0.1], [-0.2, 0.3]]), Matrix.from([[0.7, 0.1], [0.1, 0.5]]));

test('derivative identity: ∂y_{t+k}/∂x_t = A2ᵀ U^k A1 at every pair of a sequence, boundaries included (finite differences of the reference recursion)', () => {
  const p = plantedLinear(5);
  const rng = new Rng(3);
  const lengths = [7, 1, 4];
  const x = rng.normalArray(12 * 2);
  const M = truthMarkov(p, 7);
  const Mk = markovParameters({ U: p.U, A1: p.A1, C: transpose(p.A2) }, 7);
  // The recursion is linear, so a central difference is exact up to rounding (≈ 1e-15 / h relative).
  const h = 1e-3;
  let r0 = 0;
  for (const L of lengths) {
    for (let t = 0; t < L; t++)
      for (let a = 0; a < 2; a++) {
        const xp = x.slice(), xm = x.slice();
        xp[(r0 + t) * 2 + a] += h;
        xm[(r0 + t) * 2 + a] -= h;
        const yp = refLinear(p, xp, lengths), ym = refLinear(p, xm, lengths);
        for (let k = 0; t + k < L; k++)
          for (let i = 0; i < 2; i++) {
            const d = (yp[(r0 + t + k) * 2 + i] - ym[(r0 + t + k) * 2 + i]) / (2 * h);
            assert.ok(Math.abs(d - M[k].get(i, a)) < 1e-9, `t=${t} k=${k}: ${d} vs ${M[k].get(i, a)}`);
            assert.ok(Math.abs(Mk[(k * 2 + i) * 2 + a] - M[k].get(i, a)) < 1e-12, 'markovParameters');
          }
        // No effect across sequences or backwards in time.
        for (let r = 0; r < 12; r++) if (r < r0 + t || r >= r0 + L) for (let i = 0; i < 2; i++) assert.equal(yp[r * 2 + i], ym[r * 2 + i]);
      }
    r0 += L;
  }
});

test('MarkovAccumulator: equals brute-force pair means with per-sequence scores; merge, halves and spec round trip', () => {
  const rng = new Rng(11);
  const lengths = [3, 9, 1, 5, 12, 2, 7];
  let rows = 0;
  for (const L of lengths) rows += L;
  const x = rng.normalArray(rows * 2), y = rng.normalArray(rows * 3);
  const chunk = makeChunk(2, 3, x, y, lengths);
  const K = 6;
  const acc = new MarkovAccumulator(VAR, 3, K);
  momentPass(VAR, chunk, [acc]);
  // Brute force.
  const sum = new Float64Array(K * 6), cnt = new Float64Array(K);
  let r0 = 0;
  for (const L of lengths) {
    const s = firstOrderScores(VAR, x.slice(r0 * 2, (r0 + L) * 2), L);
    for (let t = 0; t < L; t++)
      for (let k = 0; k < K && t + k < L; k++) {
        cnt[k]++;
        for (let i = 0; i < 3; i++) for (let a = 0; a < 2; a++) sum[(k * 3 + i) * 2 + a] += y[(r0 + t + k) * 3 + i] * s[t * 2 + a];
      }
    r0 += L;
  }
  const got = acc.result();
  for (let k = 0; k < K; k++) for (let e = 0; e < 6; e++) assert.ok(Math.abs(got[k * 6 + e] - sum[k * 6 + e] / cnt[k]) < 1e-12, `lag ${k}`);
  const [ca, cb] = acc.pairCounts();
  for (let k = 0; k < K; k++) assert.equal(ca[k] + cb[k], cnt[k]);
  // Halves recombine to the mean (weighted by pair counts).
  const [ha, hb] = acc.halves();
  for (let k = 0; k < K; k++)
    for (let e = 0; e < 6; e++) {
      const w = (ca[k] * ha[k * 6 + e] + cb[k] * hb[k * 6 + e]) / cnt[k];
      assert.ok(Math.abs(w - got[k * 6 + e]) < 1e-12);
    }
  // Chunks of whole sequences merge to the same sums (the half split then depends on the chunking, the mean does not).
  const parts = splitChunk(chunk, 3);
  const merged = new MarkovAccumulator(VAR, 3, K);
  for (const c of parts) {
    const a = createAccumulator(merged.spec(), VAR);
    momentPass(VAR, c, [a]);
    merged.merge(a);
  }
  const gm = merged.result();
  for (let e = 0; e < gm.length; e++) assert.ok(Math.abs(gm[e] - got[e]) < 1e-12);
  assert.equal(merged.count, rows);
});

test('Stein (Monte Carlo): E[y_{t+k} ⊗ s_t] = A2ᵀU^kA1 with VAR(1) inputs and short sequences (boundary steps dominate)', () => {
  // Tolerance: 5 standard errors estimated from 8 independent batches (a boundary-biased estimate would be off by
  // O(1) relative: most steps here are within one step of a sequence end).
  const p: IORNNParams = { ...plantedLinear(7), b: Float64Array.from([0.5, -1]) };
  const K = 4, batches = 8;
  const est: Float64Array[] = [];
  for (let b = 0; b < batches; b++) {
    const inp = simulateInputs({ dx: 2, nSeq: 6000, seqLength: [1, 6], F: VAR.F, Q: VAR.Q, mu: VAR.mean, seed: 40 + b });
    const ch = makeChunk(2, 2, inp.x, refLinear(p, inp.x, inp.lengths), inp.lengths);
    const acc = new MarkovAccumulator(VAR, 2, K);
    momentPass(VAR, ch, [acc]);
    est.push(acc.result());
  }
  const M = truthMarkov(p, K);
  for (let k = 0; k < K; k++)
    for (let i = 0; i < 2; i++)
      for (let a = 0; a < 2; a++) {
        const e = (k * 2 + i) * 2 + a;
        const m = est.reduce((s, v) => s + v[e], 0) / batches;
        const se = Math.sqrt(est.reduce((s, v) => s + (v[e] - m) ** 2, 0) / (batches - 1) / batches);
        assert.ok(Math.abs(m - M[k].get(i, a)) < 5 * se + 1e-12, `M_${k}[${i},${a}]: ${m} vs ${M[k].get(i, a)} (se ${se})`);
      }
});

test('Ho–Kalman: exact Markov parameters give the order, a realization with the same Markov parameters, and a balanced form that is canonical', () => {
  const p = plantedLinear(9, 2, 3);
  const truth = { U: p.U, A1: p.A1, C: transpose(p.A2) };
  const K = 30;
  const M = markovParameters(truth, K);
  const H = blockHankel(M, 3, 2, 15, 15);
  const ord = hankelOrder(H, new Matrix(H.rows, H.cols, new Float64Array(H.rows * H.cols).fill(1e-13)));
  assert.equal(ord.order, 4, `spectrum ${ord.spectrum.slice(0, 6)}`);
  const era = hoKalman(H, 3, 2, 4);
  const Me = markovParameters(era, K);
  for (let e = 0; e < M.length; e++) assert.ok(Math.abs(Me[e] - M[e]) < 1e-9 * (1 + Math.abs(M[e])), `ERA Markov ${e}`);
  const bal = balance(era);
  // Gramians of the balanced form, as truncated series (independent of the Lyapunov solver): both = diag(g).
  const n = 4;
  const Wc = new Matrix(n, n), Wo = new Matrix(n, n);
  let P = bal.A1, Qm = transpose(bal.C);
  for (let k = 0; k < 400; k++) {
    const c = matmul(P, transpose(P)), o = matmul(Qm, transpose(Qm));
    for (let e = 0; e < n * n; e++) {
      Wc.data[e] += c.data[e];
      Wo.data[e] += o.data[e];
    }
    P = matmul(bal.U, P);
    Qm = matmul(transpose(bal.U), Qm);
  }
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const want = i === j ? bal.hankelSingularValues[i] : 0;
      assert.ok(Math.abs(Wc.get(i, j) - want) < 1e-8 && Math.abs(Wo.get(i, j) - want) < 1e-8, `Gramians [${i},${j}]`);
    }
  // Canonical: any change of state basis of the truth balances to the same matrices.
  const rng = new Rng(1);
  const T = new Matrix(n, n, rng.normalArray(n * n));
  const Ti = inv(T);
  const other = balance({ U: matmul(Ti, matmul(p.U, T)), A1: matmul(Ti, p.A1), C: matmul(transpose(p.A2), T) });
  for (const key of ['U', 'A1', 'C'] as const)
    for (let e = 0; e < bal[key].data.length; e++) assert.ok(Math.abs(bal[key].data[e] - other[key].data[e]) < 1e-7, `${key}[${e}]`);
});

test('markovError: invariant to the state basis, sensitive to a change of transfer behaviour', () => {
  const p = plantedLinear(2);
  const T = Matrix.from([[1, 2, 0, 0], [0, 1, 0, 0.5], [0.3, 0, 2, 0], [0, 0, 0, -1]]);
  const Ti = inv(T);
  const q: IORNNParams = { ...p, U: matmul(Ti, matmul(p.U, T)), A1: matmul(Ti, p.A1), A2: transpose(matmul(transpose(p.A2), T)) };
  assert.ok(markovError(q, p).relative < 1e-12);
  const bumped: IORNNParams = { ...p, U: new Matrix(4, 4, p.U.data.map((v, e) => (e === 0 ? v + 0.05 : v))) };
  assert.ok(markovError(bumped, p).relative > 1e-3);
});

test('acceptance: planted linear model, state 4 > dx = dy = 2, poles up to 0.85, 10% output noise, 1e5 rows → held-out NMSE ≤ ARX(8)', () => {
  const truth = plantedLinear(1);
  const inp = simulateInputs({ dx: 2, nSeq: 100, seqLength: 1000, rho: 0.5, seed: 101 });
  const clean = refLinear(truth, inp.x, inp.lengths);
  // 10% noise: standard deviation 0.1 × each output's standard deviation.
  const y = clean.slice(), rng = new Rng(8);
  for (let i = 0; i < 2; i++) {
    let m = 0, v = 0;
    for (let r = 0; r < inp.rows; r++) m += clean[r * 2 + i] / inp.rows;
    for (let r = 0; r < inp.rows; r++) v += (clean[r * 2 + i] - m) ** 2 / inp.rows;
    for (let r = 0; r < inp.rows; r++) y[r * 2 + i] += 0.1 * Math.sqrt(v) * rng.normal();
  }
  const train: SequenceChunk = makeChunk(2, 2, inp.x, y, inp.lengths);
  const held = simulateInputs({ dx: 2, nSeq: 10, seqLength: 1000, rho: 0.5, seed: 901 });
  const heldClean = refLinear(truth, held.x, held.lengths);
  const id = identifyLinear([train], fitVAR1Sync(train).model);
  assert.equal(id.diagnostics.order, 4, JSON.stringify(id.diagnostics.hankelSpectrum.slice(0, 6)));
  assert.equal(id.diagnostics.canonicalForm, 'balanced');
  const fitted = refine(id.params, [train]).params;
  const ours = nmse(refLinear(fitted, held.x, held.lengths), heldClean, 2);
  const arx = nmse(simulateARX(fitARX([train], 8), held), heldClean, 2);
  assert.ok(ours <= arx, `linear IO-RNN ${ours} vs ARX(8) ${arx}`);
  assert.ok(markovError(fitted, truth).relative < 0.01, `Markov error ${markovError(fitted, truth).relative}`);
});

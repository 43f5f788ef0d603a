import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix as MLMatrix, pseudoInverse } from 'ml-matrix';
import { Matrix } from '../src/linalg/matrix.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { InputModel, InputModelJSON } from '../src/input/model.js';
import { SequenceChunk, makeChunk, splitChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { MomentAccumulator, momentPass, AccumulatorSpec } from '../src/moments/accumulator.js';
import { T1Accumulator, T2Accumulator } from '../src/moments/single.js';
import { ProjectedMixedAccumulator, projectMixedTensor } from '../src/moments/mixed.js';
import { MixedMomentAccumulator } from '../src/moments/mixed-explicit.js';
import { ControlVariate, ControlVariateFit, controlFeatures, featureCount } from '../src/moments/control.js';
import { accumulatorFromJSON, createAccumulator } from '../src/moments/spec.js';
import { MomentWorkerPool, runParallelPass, runSerialPass } from '../src/moments/parallel.js';

// ---------------------------------------------------------------------------------------------
// Planted models (docs/method.md §2) simulated here, independently of the library.
// Quadratic IO-RNN: h_t = (A1 x_t + U h_{t−1})², y_t = A2ᵀ h_t + noise. BRNN adds the backward
// z_t = (B1 x_t + V z_{t+1})², y_t = A2ᵀ [h_t; z_t]. Stability (docs/method.md §6): σ_x ≈ 0.4, ‖U‖₂ ≈ 0.35,
// short sequences.

const dx = 3, dh = 2, dy = 2;
const A1 = Matrix.from([[0.8, 0.6, 0], [0, 0.6, -0.8]]);
const U = Matrix.from([[0.3, -0.21], [0.24, 0.18]]);
const B1 = Matrix.from([[0.6, 0, 0.8], [-0.6, 0.8, 0]]);
const V = Matrix.from([[-0.25, 0.2], [0.15, 0.3]]);
const A2 = Matrix.from([[1, 0.5], [-0.5, 1]]);
const A2b = Matrix.from([[1, 0.5], [-0.5, 1], [0.7, -0.4], [0.3, 0.9]]); // BRNN: forward rows first
const SX = 0.4;
const INPUT = new GaussianVAR1(
  [0.3, -0.2, 0.1],
  Matrix.from([[0.6, 0.1, 0], [0, 0.6, 0], [0, 0, 0.6]]),
  Matrix.from([[0.64 * SX * SX, 0.064 * SX * SX, 0], [0.064 * SX * SX, 0.64 * SX * SX, 0], [0, 0, 0.64 * SX * SX]]),
);

function lengthsFor(rng: Rng, rows: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  let total = 0;
  while (total < rows) {
    const L = lo + rng.int(hi - lo + 1);
    out.push(L);
    total += L;
  }
  return out;
}

/** Forward states (rows×dh) of h_t = (A x_t + W h_{t−1})², restarted per sequence; reverse=true runs backwards in time. */
function states(A: Matrix, W: Matrix, x: Float64Array, lengths: number[], reverse: boolean): Float64Array {
  const k = A.rows, n = A.cols;
  const rows = lengths.reduce((a, b) => a + b, 0);
  const H = new Float64Array(rows * k);
  let start = 0;
  for (const L of lengths) {
    const prev = new Float64Array(k);
    for (let s = 0; s < L; s++) {
      const r = start + (reverse ? L - 1 - s : s);
      const cur = new Float64Array(k);
      for (let j = 0; j < k; j++) {
        let z = 0;
        for (let a = 0; a < n; a++) z += A.data[j * n + a] * x[r * n + a];
        for (let m = 0; m < k; m++) z += W.data[j * k + m] * prev[m];
        cur[j] = z * z;
      }
      H.set(cur, r * k);
      prev.set(cur);
    }
    start += L;
  }
  return H;
}

function outputs(H: Float64Array, W2: Matrix, noise: number, rng: Rng): Float64Array {
  const k = W2.rows, m = W2.cols, rows = H.length / k;
  const y = new Float64Array(rows * m);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < m; i++) {
      let v = noise * rng.normal();
      for (let j = 0; j < k; j++) v += W2.data[j * m + i] * H[r * k + j];
      y[r * m + i] = v;
    }
  return y;
}

function simulateIORNN(seed: number, rows: number, lo: number, hi: number): SequenceChunk {
  const rng = new Rng(seed);
  const lengths = lengthsFor(rng, rows, lo, hi);
  const x = INPUT.simulate(rng, lengths);
  const y = outputs(states(A1, U, x, lengths, false), A2, 0.1, rng);
  return makeChunk(dx, dy, x, y, lengths);
}

function simulateBRNN(seed: number, rows: number, lo: number, hi: number): SequenceChunk {
  const rng = new Rng(seed);
  const lengths = lengthsFor(rng, rows, lo, hi);
  const x = INPUT.simulate(rng, lengths);
  const Hf = states(A1, U, x, lengths, false), Hb = states(B1, V, x, lengths, true);
  const total = x.length / dx;
  const H = new Float64Array(total * 2 * dh);
  for (let r = 0; r < total; r++) {
    for (let j = 0; j < dh; j++) {
      H[r * 2 * dh + j] = Hf[r * dh + j];
      H[r * 2 * dh + dh + j] = Hb[r * dh + j];
    }
  }
  return makeChunk(dx, dy, x, outputs(H, A2b, 0.1, rng), lengths);
}

// Closed forms (docs/method.md §4), written out from the parameters.
/** F1: 2 Σ_j W2^(j) ⊗ w_j ⊗ w_j over the rows w_j of Wx (dy×dx×dx). */
function closedF1(Wx: Matrix, W2: Matrix): Float64Array {
  const T = new Float64Array(dy * dx * dx);
  for (let j = 0; j < Wx.rows; j++)
    for (let i = 0; i < dy; i++)
      for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) T[(i * dx + a) * dx + b] += 2 * W2.get(j, i) * Wx.get(j, a) * Wx.get(j, b);
  return T;
}
/** F4/F5: 4 Σ_j W2^(rowOffset+j) ⊗ w_j ⊗ M_j, M_j = Σ_k R_jk w_k w_kᵀ (dy×dx³). */
function closedMixed(Wx: Matrix, R: Matrix, W2: Matrix, rowOffset: number): Float64Array {
  const T = new Float64Array(dy * dx ** 3);
  const k = Wx.rows;
  for (let j = 0; j < k; j++)
    for (let i = 0; i < dy; i++)
      for (let a = 0; a < dx; a++)
        for (let b = 0; b < dx; b++)
          for (let c = 0; c < dx; c++) {
            let M = 0;
            for (let m = 0; m < k; m++) M += R.get(j, m) * Wx.get(m, b) * Wx.get(m, c);
            T[((i * dx + a) * dx + b) * dx + c] += 4 * W2.get(rowOffset + j, i) * Wx.get(j, a) * M;
          }
  return T;
}

function relErr(a: Float64Array, b: Float64Array): number {
  let n = 0, d = 0;
  for (let i = 0; i < a.length; i++) {
    n += (a[i] - b[i]) ** 2;
    d += b[i] ** 2;
  }
  return Math.sqrt(n / d);
}
function maxRelDiff(a: Float64Array, b: Float64Array): number {
  let n = 0, d = 0;
  for (let i = 0; i < a.length; i++) {
    n = Math.max(n, Math.abs(a[i] - b[i]));
    d = Math.max(d, Math.abs(b[i]));
  }
  return n / d;
}

/** Wrong on purpose: treats every step as interior (P_t = Q⁻¹ + FᵀQ⁻¹F, neighbours as present). */
class InteriorOnlyModel implements InputModel {
  readonly kind = 'interior-only-test';
  readonly dx: number;
  readonly order = 1;
  readonly mean: Float64Array;
  constructor(readonly m: GaussianVAR1) {
    this.dx = m.dx;
    this.mean = m.mean;
  }
  scoreSequence(x: Float64Array, L: number, out: Float64Array, xo = 0, oo = 0): void {
    const d = this.dx, P = this.m.Pinterior.data, Lp = this.m.lambdaPrev.data, Ln = this.m.lambdaNext.data, mu = this.mean;
    for (let t = 0; t < L; t++)
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let b = 0; b < d; b++) {
          s += P[a * d + b] * (x[xo + t * d + b] - mu[b]);
          if (t > 0) s += Lp[a * d + b] * (x[xo + (t - 1) * d + b] - mu[b]);
          if (t < L - 1) s += Ln[a * d + b] * (x[xo + (t + 1) * d + b] - mu[b]);
        }
        out[oo + t * d + a] = s;
      }
  }
  precisionBlock(t: number, u: number): Matrix | null {
    if (t === u) return this.m.Pinterior;
    return u === t - 1 ? this.m.lambdaPrev : u === t + 1 ? this.m.lambdaNext : null;
  }
  toJSON(): InputModelJSON {
    return { kind: this.kind };
  }
}

// ---------------------------------------------------------------------------------------------

test('closed forms F1 and F4 equal exact finite differences of the noise-free recursion (degree ≤ 4 ⇒ central differences are exact)', () => {
  // y_t as a function of one sequence's inputs; derivatives at a random point of a length-4 sequence, t = 2.
  const rng = new Rng(1);
  const L = 4, t = 2;
  const x0 = INPUT.simulate(rng, [L]);
  const yOf = (x: Float64Array) => {
    const H = states(A1, U, x, [L], false);
    const out = new Float64Array(dy);
    for (let i = 0; i < dy; i++) for (let j = 0; j < dh; j++) out[i] += A2.get(j, i) * H[t * dh + j];
    return out;
  };
  const h = 0.5;
  const F1 = closedF1(A1, A2), F4 = closedMixed(A1, U, A2, 0);
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++) {
      // second derivative in (x_t,a), (x_t,b)
      let d2 = new Float64Array(dy);
      for (const s1 of [-1, 1])
        for (const s2 of [-1, 1]) {
          const x = x0.slice();
          x[t * dx + a] += s1 * h;
          x[t * dx + b] += s2 * h;
          const y = yOf(x);
          for (let i = 0; i < dy; i++) d2[i] += (s1 * s2 * y[i]) / (4 * h * h);
        }
      for (let i = 0; i < dy; i++) assert.ok(Math.abs(d2[i] - F1[(i * dx + a) * dx + b]) < 1e-10, `F1[${i},${a},${b}]`);
      for (let c = 0; c < dx; c++) {
        const d3 = new Float64Array(dy);
        for (const s1 of [-1, 1])
          for (const s2 of [-1, 1])
            for (const s3 of [-1, 1]) {
              const x = x0.slice();
              x[t * dx + a] += s1 * h;
              x[(t - 1) * dx + b] += s2 * h;
              x[(t - 1) * dx + c] += s3 * h;
              const y = yOf(x);
              for (let i = 0; i < dy; i++) d3[i] += (s1 * s2 * s3 * y[i]) / (8 * h ** 3);
            }
        for (let i = 0; i < dy; i++) assert.ok(Math.abs(d3[i] - F4[((i * dx + a) * dx + b) * dx + c]) < 1e-10, `F4[${i},${a},${b},${c}]: ${d3[i]}`);
      }
    }
});

test('Stein with the Markov score, short sequences (L = 2..5): T2 → F1 and residual mixed moment → F4 with error ∝ n^−1/2; marginal and interior-only scores are biased', (tc) => {
  const F1 = closedF1(A1, A2), F4 = closedMixed(A1, U, A2, 0);
  const marginal = GaussianVAR1.iid(INPUT.mean, INPUT.Sigma);
  const interior = new InteriorOnlyModel(INPUT);
  const errs: { t2: number; mix: number; t1: number }[] = [];
  for (const [seed, rows] of [[10, 150000], [11, 600000]] as const) {
    const c = simulateIORNN(seed, rows, 2, 5);
    const cv = new ControlVariate(dx, dy, { center: INPUT.mean });
    momentPass(null, c, [cv]);
    const fit = cv.solve();
    const t1 = new T1Accumulator(INPUT, dy), t2 = new T2Accumulator(INPUT, dy);
    const mix = new MixedMomentAccumulator(INPUT, dy, 'prev', { target: 'residual' });
    momentPass(INPUT, c, [t1, t2, mix], fit);
    // T1 against the sample mean of the exact derivative ∂y_t/∂x_t = Σ_j A2^(j) ⊗ 2 z_tj a1_j (same samples).
    const dYdX = new Float64Array(dy * dx);
    const H = states(A1, U, c.x, Array.from(c.lengths), false);
    let start = 0;
    for (const L of c.lengths) {
      for (let r = start; r < start + L; r++)
        for (let j = 0; j < dh; j++) {
          let z = 0; // pre-activation z_tj = a1_j·x_t + U_j·h_{t−1}
          for (let a = 0; a < dx; a++) z += A1.get(j, a) * c.x[r * dx + a];
          if (r > start) for (let m = 0; m < dh; m++) z += U.get(j, m) * H[(r - 1) * dh + m];
          for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) dYdX[i * dx + a] += (2 * A2.get(j, i) * z * A1.get(j, a)) / c.rows;
        }
      start += L;
    }
    errs.push({ t2: relErr(t2.result(), F1), mix: relErr(mix.result(), F4), t1: relErr(t1.result(), dYdX) });
    // Tolerances ∝ n^−1/2: about 3× the error observed across seeds at 1.5e5 rows.
    const scale = Math.sqrt(150000 / rows);
    const e = errs[errs.length - 1];
    assert.ok(e.t2 < 0.06 * scale, `T2 rel. error ${e.t2} at ${rows} rows`);
    assert.ok(e.mix < 0.25 * scale, `mixed rel. error ${e.mix} at ${rows} rows`);
    assert.ok(e.t1 < 0.03 * scale, `T1 rel. error ${e.t1} at ${rows} rows`);
    if (seed === 11) {
      const wrongMix = new MixedMomentAccumulator(marginal, dy, 'prev', { target: 'residual' });
      const wrongT2 = new T2Accumulator(interior, dy);
      momentPass(marginal, c, [wrongMix], fit);
      momentPass(interior, c, [wrongT2], fit);
      const em = relErr(wrongMix.result(), F4), et = relErr(wrongT2.result(), F1);
      assert.ok(em > 0.5 && em > 5 * e.mix, `marginal score should be biased: ${em} vs ${e.mix}`);
      assert.ok(et > 0.1 && et > 5 * e.t2, `interior-only P_t should be biased: ${et} vs ${e.t2}`);
      tc.diagnostic(`wrong estimators at ${rows} rows: marginal-score mixed ${em.toFixed(3)}, interior-only T2 ${et.toFixed(3)}`);
    }
  }
  tc.diagnostic(`relative errors (T2, mixed, T1) at 1.5e5 / 6e5 rows: ${errs.map((e) => [e.t2, e.mix, e.t1].map((v) => v.toFixed(4)).join(', ')).join(' / ')}`);
  assert.ok(errs[1].t2 < 0.8 * errs[0].t2 && errs[1].mix < 0.8 * errs[0].mix, `errors must shrink with 4× data: ${JSON.stringify(errs)}`);
});

test('BRNN (docs/method.md §4 F5): T2 → F1 over all neurons; (t; t+1, t+1) moment sees only backward neurons; error ∝ n^−1/2', (tc) => {
  const WxAll = new Matrix(2 * dh, dx);
  WxAll.data.set(A1.data, 0);
  WxAll.data.set(B1.data, dh * dx);
  const F1 = closedF1(WxAll, A2b), F5 = closedMixed(B1, V, A2b, dh), F4 = closedMixed(A1, U, A2b, 0);
  const errs: number[] = [];
  for (const [seed, rows] of [[20, 150000], [21, 600000]] as const) {
    const c = simulateBRNN(seed, rows, 2, 5);
    const cv = new ControlVariate(dx, dy, { center: INPUT.mean });
    momentPass(null, c, [cv]);
    const fit = cv.solve();
    const t2 = new T2Accumulator(INPUT, dy);
    const next = new MixedMomentAccumulator(INPUT, dy, 'next', { target: 'residual' });
    const prev = new MixedMomentAccumulator(INPUT, dy, 'prev', { target: 'residual' });
    momentPass(INPUT, c, [t2, next, prev], fit);
    const scale = Math.sqrt(150000 / rows);
    const e2 = relErr(t2.result(), F1), e5 = relErr(next.result(), F5), e4 = relErr(prev.result(), F4);
    errs.push(e5);
    tc.diagnostic(`BRNN at ${rows} rows: T2 ${e2.toFixed(4)}, backward mixed ${e5.toFixed(4)}, forward mixed ${e4.toFixed(4)}`);
    assert.ok(e2 < 0.06 * scale, `T2 ${e2}`);
    assert.ok(e5 < 0.3 * scale, `backward mixed ${e5}`);
    assert.ok(e4 < 0.3 * scale, `forward mixed ${e4}`);
  }
  assert.ok(errs[1] < 0.8 * errs[0], `backward mixed error must shrink: ${errs}`);
});

test('projected mixed accumulator equals the explicit tensor contracted (both directions, diag and full, residual target)', () => {
  const c = simulateBRNN(30, 20000, 1, 7);
  const cv = new ControlVariate(dx, dy, { center: INPUT.mean });
  momentPass(null, c, [cv]);
  const fit = cv.solve();
  const rng = new Rng(3);
  const W = new Matrix(dh, dy, rng.normalArray(dh * dy)), Fm = new Matrix(dx, dh, rng.normalArray(dx * dh)), G = new Matrix(dx, dh, rng.normalArray(dx * dh));
  for (const direction of ['prev', 'next'] as const) {
    const ex = new MixedMomentAccumulator(INPUT, dy, direction, { target: 'residual' });
    const pd = new ProjectedMixedAccumulator(INPUT, dy, direction, W, Fm, G, { target: 'residual' });
    const pf = new ProjectedMixedAccumulator(INPUT, dy, direction, W, Fm, G, { target: 'residual', full: true });
    momentPass(INPUT, c, [ex, pd, pf], fit);
    assert.ok(maxRelDiff(pd.result(), projectMixedTensor(ex.result(), dy, dx, W, Fm, G)) < 1e-10);
    assert.ok(maxRelDiff(pf.result(), projectMixedTensor(ex.result(), dy, dx, W, Fm, G, true)) < 1e-10);
    assert.equal(pd.count, c.rows - c.lengths.length);
    // Alone in a pass, the projected accumulator projects the scores straight from x (no full scores).
    const alone = new ProjectedMixedAccumulator(INPUT, dy, direction, W, Fm, G, { target: 'residual' });
    momentPass(INPUT, c, [alone], fit);
    assert.ok(maxRelDiff(alone.result(), pd.result()) < 1e-10);
  }
});

test('projected moment with the true duals recovers U: C[j,k,k]/4 = U_jk (§5 step 5, demix = pinv(A2ᵀ), G = pinv(A1))', (tc) => {
  const c = simulateIORNN(40, 600000, 2, 5);
  const cv = new ControlVariate(dx, dy, { center: INPUT.mean });
  momentPass(null, c, [cv]);
  const fit = cv.solve();
  const W = Matrix.from(pseudoInverse(new MLMatrix(A2.toArray()).transpose()).to2DArray()); // dh×dy
  const G = Matrix.from(pseudoInverse(new MLMatrix(A1.toArray())).to2DArray()); // dx×dh
  const acc = new ProjectedMixedAccumulator(INPUT, dy, 'prev', W, G, G, { target: 'residual' });
  momentPass(INPUT, c, [acc], fit);
  const C = acc.result();
  let err = 0, norm = 0;
  for (let j = 0; j < dh; j++)
    for (let k = 0; k < dh; k++) {
      err += (C[j * dh + k] / 4 - U.get(j, k)) ** 2;
      norm += U.get(j, k) ** 2;
    }
  tc.diagnostic(`U relative error ${Math.sqrt(err / norm).toFixed(4)}`);
  assert.ok(Math.sqrt(err / norm) < 0.2, `relative error of U: ${Math.sqrt(err / norm)} (C = ${Array.from(C)})`);
});

function allAccumulators(W: Matrix, Fm: Matrix, G: Matrix): MomentAccumulator[] {
  return [
    new T1Accumulator(INPUT, dy),
    new T1Accumulator(INPUT, dy, { skipLast: 2 }),
    new T2Accumulator(INPUT, dy),
    new MixedMomentAccumulator(INPUT, dy, 'prev', { target: 'residual' }),
    new MixedMomentAccumulator(INPUT, dy, 'next'),
    new ProjectedMixedAccumulator(INPUT, dy, 'prev', W, Fm, G, { target: 'residual' }),
    new ProjectedMixedAccumulator(INPUT, dy, 'next', W, Fm, G, { full: true }),
    new ControlVariate(dx, dy, { center: INPUT.mean }),
  ];
}

test('merged accumulators equal the one-pass result to 1e-12 relative (and survive a JSON round trip)', () => {
  const c = simulateBRNN(50, 30000, 1, 9);
  const cv = new ControlVariate(dx, dy, { center: INPUT.mean });
  momentPass(null, c, [cv]);
  const fit = cv.solve();
  const rng = new Rng(5);
  const W = new Matrix(dh, dy, rng.normalArray(dh * dy)), Fm = new Matrix(dx, dh, rng.normalArray(dx * dh)), G = new Matrix(dx, dh, rng.normalArray(dx * dh));
  const one = allAccumulators(W, Fm, G);
  momentPass(INPUT, c, one, fit);
  const parts = splitChunk(c, 5);
  const a = allAccumulators(W, Fm, G), b = allAccumulators(W, Fm, G);
  parts.forEach((p, k) => momentPass(INPUT, p, k % 2 === 0 ? a : b, fit));
  for (let i = 0; i < one.length; i++) {
    const revived = accumulatorFromJSON(JSON.parse(JSON.stringify(b[i].toJSON())), INPUT);
    a[i].merge(revived);
    assert.equal(a[i].count, one[i].count, `${one[i].type} count`);
    const d = maxRelDiff(a[i].sum, one[i].sum);
    assert.ok(d < 1e-12, `${one[i].type} #${i}: merged differs by ${d}`);
  }
  assert.throws(() => a[2].merge(a[3]), /accumulators differ/);
});

test('control variate: fitted residual removes a planted degree-2 polynomial exactly; feature cap warns', () => {
  const rng = new Rng(60);
  const lengths = lengthsFor(rng, 3000, 1, 6);
  const x = INPUT.simulate(rng, lengths);
  const rows = x.length / dx;
  const y = new Float64Array(rows * dy);
  let r = 0;
  for (const L of lengths)
    for (let t = 0; t < L; t++, r++) {
      const prev = t > 0 ? x[(r - 1) * dx] : 0, next = t < L - 1 ? x[(r + 1) * dx + 2] : 0;
      y[r * dy] = 1 + 2 * x[r * dx] * x[r * dx + 1] - 0.5 * prev * x[r * dx + 2] + (t === 0 ? 0.3 : 0);
      y[r * dy + 1] = next * next - x[r * dx + 1] + (t < L - 1 ? 0.7 : 0);
    }
  const c = makeChunk(dx, dy, x, y, lengths);
  const cv = new ControlVariate(dx, dy);
  momentPass(null, c, [cv]);
  const fit = cv.solve();
  const res = fit.residualChunk(c);
  let m = 0;
  for (const v of res) m = Math.max(m, Math.abs(v));
  assert.ok(m < 1e-6, `residual of an exactly representable y: ${m}`);
  assert.ok(fit.r2.every((v) => v > 0.999999));
  const back = ControlVariateFit.fromJSON(JSON.parse(JSON.stringify(fit.toJSON())));
  assert.deepEqual(back.residualChunk(c), res);
  assert.equal(featureCount(3, 'full'), 3 + 9 + 45);
  const big = new ControlVariate(25, 1);
  assert.equal(big.quadratic, 'current');
  assert.ok(big.warnings.some((w) => w.includes(`would have ${featureCount(25, 'full')} features`)), big.warnings.join());
  assert.equal(new ControlVariate(7, 1).quadratic, 'full');
  assert.equal(new ControlVariate(8, 1).quadratic, 'current');
  assert.equal(new ControlVariate(40, 1).quadratic, 'none');
});

test('worker-thread pass (2 workers) equals the serial pass', async () => {
  const c = simulateBRNN(70, 40000, 1, 9);
  const cv = new ControlVariate(dx, dy, { center: INPUT.mean });
  momentPass(null, c, [cv]);
  const fit = cv.solve();
  const rng = new Rng(7);
  const W = new Matrix(dh, dy, rng.normalArray(dh * dy)), Fm = new Matrix(dx, dh, rng.normalArray(dx * dh)), G = new Matrix(dx, dh, rng.normalArray(dx * dh));
  const specs: AccumulatorSpec[] = allAccumulators(W, Fm, G).map((a) => a.spec());
  const serial = await runSerialPass(INPUT, specs, c, { residual: fit });
  const par = await runParallelPass(INPUT, specs, splitChunk(c, 3), { residual: fit, workers: 2, maxRows: 5000 });
  for (let i = 0; i < specs.length; i++) {
    assert.equal(par[i].count, serial[i].count);
    const d = maxRelDiff(par[i].result(), serial[i].result());
    assert.ok(d < 1e-12, `${specs[i].type}: worker pass differs by ${d}`);
  }
  // Deterministic: pieces go to workers round-robin, so a second run gives the same bits.
  const again = await runParallelPass(INPUT, specs, splitChunk(c, 3), { residual: fit, workers: 2, maxRows: 5000 });
  for (let i = 0; i < specs.length; i++) assert.deepEqual(Array.from(again[i].sum), Array.from(par[i].sum), `${specs[i].type}: run-to-run difference`);
  // Errors inside a worker surface as a rejected promise with a clear message.
  await assert.rejects(runParallelPass(INPUT, [{ type: 'T2', dy: 5 }], c, { workers: 1 }), /worker: .*dy=2, expected 5/);
  assert.ok(createAccumulator(specs[0], INPUT) instanceof T1Accumulator);
});

test('a worker pool runs several passes on the same threads: each equals the serial pass, a failed pass does not spill into the next', async () => {
  const c = simulateBRNN(71, 30000, 1, 9);
  const cv = new ControlVariate(dx, dy, { center: INPUT.mean });
  momentPass(null, c, [cv]);
  const fit = cv.solve();
  const rng = new Rng(8);
  const W = new Matrix(dh, dy, rng.normalArray(dh * dy)), Fm = new Matrix(dx, dh, rng.normalArray(dx * dh)), G = new Matrix(dx, dh, rng.normalArray(dx * dh));
  const all = allAccumulators(W, Fm, G).map((a) => a.spec());
  const pool = new MomentWorkerPool({ workers: 2 });
  try {
    const first = await pool.run(INPUT, all.slice(0, 3), splitChunk(c, 4), { maxRows: 4000 });
    // A pass that fails in the workers (wrong dy) while chunks are still queued ...
    await assert.rejects(pool.run(INPUT, [{ type: 'T2', dy: 5 }], splitChunk(c, 6), { maxRows: 2000 }), /worker: .*dy=2, expected 5/);
    // ... and the pool still serves the next passes, other specs each time.
    for (const specs of [all.slice(3), all.slice(0, 3)]) {
      const par = await pool.run(INPUT, specs, splitChunk(c, 4), { residual: fit, maxRows: 4000 });
      const serial = await runSerialPass(INPUT, specs, c, { residual: fit });
      for (let i = 0; i < specs.length; i++) {
        assert.equal(par[i].count, serial[i].count, specs[i].type);
        assert.ok(maxRelDiff(par[i].result(), serial[i].result()) < 1e-12, `${specs[i].type} differs from the serial pass`);
      }
      if (specs[0].type === 'T1') for (let i = 0; i < specs.length; i++) assert.deepEqual(Array.from(par[i].sum), Array.from(first[i].sum), 'same pass, same bits');
    }
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run(INPUT, all.slice(0, 1), c), /closed/);
  // Closing a pool while a pass runs fails that pass instead of leaving it pending.
  const pool2 = new MomentWorkerPool({ workers: 2 });
  const pending = assert.rejects(pool2.run(INPUT, all.slice(0, 3), splitChunk(c, 30)), /closed/);
  await pool2.close();
  await pending;
});

test('clear errors: too-short sequences, missing residuals, bad shapes', () => {
  const c = makeChunk(dx, dy, new Float64Array(3 * dx), new Float64Array(3 * dy), [1, 1, 1]);
  const mix = new MixedMomentAccumulator(INPUT, dy, 'prev');
  momentPass(INPUT, c, [mix]);
  assert.throws(() => mix.result(), /no samples were added/);
  assert.throws(() => momentPass(INPUT, c, [new MixedMomentAccumulator(INPUT, dy, 'prev', { target: 'residual' })]), /no fitted control variate/);
  assert.throws(() => new ProjectedMixedAccumulator(INPUT, dy, 'prev', new Matrix(2, 3), new Matrix(3, 2), new Matrix(3, 2)), /demix is 2x3/);
  // length-1 sequences are fine for T2 (P = Σ⁻¹)
  const t2 = new T2Accumulator(INPUT, dy);
  momentPass(INPUT, c, [t2]);
  assert.equal(t2.count, 3);
});

test('control-variate residual (evaluated without a feature array) equals y − φ(z)·β for every quadratic mode', () => {
  const rng = new Rng(61);
  const dx = 3, dy = 2;
  const lengths = [1, 2, 5, 7];
  const rows = lengths.reduce((a, b) => a + b, 0);
  const x = rng.normalArray(rows * dx), y = rng.normalArray(rows * dy);
  const c = makeChunk(dx, dy, x, y, lengths);
  const center = Float64Array.from([0.1, -0.2, 0.3]);
  for (const mode of ['full', 'current', 'none'] as const) {
    const p = featureCount(dx, mode);
    const coef = rng.normalArray(p * dy);
    const fit = new ControlVariateFit(dx, dy, mode, center, coef, [0, 0]);
    const F = controlFeatures(c, center, mode);
    const res = fit.residualChunk(c);
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < dy; i++) {
        let g = 0;
        for (let a = 0; a < p; a++) g += F[r * p + a] * coef[a * dy + i];
        const want = y[r * dy + i] - g;
        assert.ok(Math.abs(res[r * dy + i] - want) <= 1e-12 * (1 + Math.abs(want)), `${mode} row ${r} output ${i}: ${res[r * dy + i]} vs ${want}`);
      }
  }
});

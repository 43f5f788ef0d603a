import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Matrix as MlMatrix, SingularValueDecomposition, solve as mlSolve } from 'ml-matrix';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import type { Activation, BRNNParams, IORNNParams } from '../src/models/params.js';
import {
  activationFromSpec, activationFunctions, activationDegree, activationSymmetry, horner,
} from '../src/models/activation.js';
import { predictIORNN, forwardIORNN, BlowUpError } from '../src/models/iornn.js';
import { predictBRNN, forwardBRNN } from '../src/models/brnn.js';
import {
  simulateInputs, simulateIORNN, randomIORNN, randomBRNN, spectralNorm, SCENARIOS, scenarioFromJSON,
  simulateScenario, scenarioModel,
} from '../src/models/simulate.js';
import { modelToJSON, modelFromJSON, formatJSON, saveModel, loadModel } from '../src/models/serialize.js';
import { UserError } from '../src/io/errors.js';

// Always pass a message: without one, node:assert re-parses the (transpiled, one-line) source to build it,
// which can take minutes under tsx.
function ok(cond: unknown, msg = 'assertion failed'): asserts cond {
  assert.ok(cond, msg);
}

// ---------- independent brute-force reference: explicit loops over nested arrays, σ by Math.pow ----------
function sigmaRef(c: readonly number[], z: number): number {
  let v = 0;
  for (let m = 0; m < c.length; m++) v += c[m] * Math.pow(z, m);
  return v;
}
function rowsOf(M: Matrix): number[][] {
  return M.toArray();
}
/** Returns [yhat rows][dy], states [rows][n]. */
function bruteIORNN(p: IORNNParams, chunk: SequenceChunk): { y: number[][]; h: number[][] } {
  const A1 = rowsOf(p.A1), U = rowsOf(p.U), A2 = rowsOf(p.A2);
  const dh = A1.length, dx = chunk.dx, dy = A2[0].length;
  const ys: number[][] = [], hs: number[][] = [];
  let r = 0;
  for (const L of chunk.lengths) {
    let h = new Array(dh).fill(0);
    for (let t = 0; t < L; t++, r++) {
      const x = Array.from(chunk.x.subarray(r * dx, (r + 1) * dx));
      const hn = A1.map((a, j) => sigmaRef(p.activation.coefficients!, a.reduce((s, v, i) => s + v * x[i], 0) + U[j].reduce((s, v, i) => s + v * h[i], 0)));
      h = hn;
      hs.push(h);
      const y = [];
      for (let i = 0; i < dy; i++) {
        let s = p.b ? p.b[i] : 0;
        for (let j = 0; j < dh; j++) s += A2[j][i] * h[j];
        y.push(s);
      }
      ys.push(y);
    }
  }
  return { y: ys, h: hs };
}
function bruteBRNN(p: BRNNParams, chunk: SequenceChunk): { y: number[][]; h: number[][] } {
  const A1 = rowsOf(p.A1), U = rowsOf(p.U), B1 = rowsOf(p.B1), V = rowsOf(p.V), A2 = rowsOf(p.A2);
  const dh = A1.length, dz = B1.length, dx = chunk.dx, dy = A2[0].length;
  const cb = (p.activationBackward ?? p.activation).coefficients!;
  const ys: number[][] = [], hs: number[][] = [];
  let r0 = 0;
  for (const L of chunk.lengths) {
    const xs = (t: number) => Array.from(chunk.x.subarray((r0 + t) * dx, (r0 + t + 1) * dx));
    const H: number[][] = [], Z: number[][] = new Array(L);
    let h = new Array(dh).fill(0);
    for (let t = 0; t < L; t++) {
      const x = xs(t);
      h = A1.map((a, j) => sigmaRef(p.activation.coefficients!, a.reduce((s, v, i) => s + v * x[i], 0) + U[j].reduce((s, v, i) => s + v * h[i], 0)));
      H.push(h);
    }
    let z = new Array(dz).fill(0);
    for (let t = L - 1; t >= 0; t--) {
      const x = xs(t);
      z = B1.map((b, j) => sigmaRef(cb, b.reduce((s, v, i) => s + v * x[i], 0) + V[j].reduce((s, v, i) => s + v * z[i], 0)));
      Z[t] = z;
    }
    for (let t = 0; t < L; t++) {
      const st = [...H[t], ...Z[t]];
      hs.push(st);
      const y = [];
      for (let i = 0; i < dy; i++) {
        let s = p.b ? p.b[i] : 0;
        for (let j = 0; j < dh + dz; j++) s += A2[j][i] * st[j];
        y.push(s);
      }
      ys.push(y);
    }
    r0 += L;
  }
  return { y: ys, h: hs };
}
function maxRelDiff(a: Float64Array, b: number[][]): number {
  const flat = b.flat();
  assert.equal(a.length, flat.length);
  let m = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - flat[i]));
    s = Math.max(s, Math.abs(flat[i]));
  }
  return m / Math.max(s, 1e-300);
}
function randMat(rng: Rng, r: number, c: number, scale = 1): Matrix {
  const m = new Matrix(r, c, rng.normalArray(r * c));
  for (let i = 0; i < m.data.length; i++) m.data[i] *= scale;
  return m;
}
function randomChunk(rng: Rng, dx: number, lengths: number[], scale = 0.4): SequenceChunk {
  const rows = lengths.reduce((a, b) => a + b, 0);
  const x = rng.normalArray(rows * dx);
  for (let i = 0; i < x.length; i++) x[i] *= scale;
  return makeChunk(dx, 0, x, new Float64Array(0), lengths);
}

describe('activation', () => {
  test('Horner σ, σ′, σ″ match the closed forms', () => {
    const c = [0.2, 0.1, -0.4, 0.7];
    const f = activationFunctions({ coefficients: c });
    for (const z of [-1.3, -0.2, 0, 0.5, 2.1]) {
      ok(Math.abs(f.sigma(z) - (0.2 + 0.1 * z - 0.4 * z * z + 0.7 * z ** 3)) < 1e-14);
      ok(Math.abs(f.sigmaPrime(z) - (0.1 - 0.8 * z + 2.1 * z * z)) < 1e-14);
      ok(Math.abs(f.sigmaSecond(z) - (-0.8 + 4.2 * z)) < 1e-14);
    }
    assert.equal(horner([1, 2, 3], 2), 17);
    assert.equal(f.degree, 3);
  });
  test('specs', () => {
    assert.deepEqual(activationFromSpec('z2').coefficients, [0, 0, 1]);
    assert.deepEqual(activationFromSpec('z3').coefficients, [0, 0, 0, 1]);
    assert.deepEqual(activationFromSpec('0,0.1,0.5,1').coefficients, [0, 0.1, 0.5, 1]);
    assert.deepEqual(activationFromSpec('0,0,1,0').coefficients, [0, 0, 1]);
    assert.equal(activationDegree(activationFromSpec('0,0.1,0.5,1')), 3);
    // tanh, sigmoid, softplus, linear are named activations now (issue 14); a misspelt name is still refused.
    assert.deepEqual(activationFromSpec('tanh'), { name: 'tanh' });
    assert.throws(() => activationFromSpec('tanhh'), (e: Error) => e instanceof UserError && /invalid activation "tanhh"/.test(e.message));
    assert.throws(() => activationFromSpec('0,1'), /degree must be at least 2/);
    assert.throws(() => activationFromSpec('0,,1'), UserError);
    assert.equal(activationSymmetry({ coefficients: [0, 0, 1] }), 'monomial');
    assert.equal(activationSymmetry({ coefficients: [1, 0, 1] }), 'even');
    assert.equal(activationSymmetry({ coefficients: [0, 1, 0, 1] }), 'odd');
    assert.equal(activationSymmetry({ coefficients: [0, 0.1, 0.5, 1] }), 'none');
  });
});

describe('prediction', () => {
  const acts: Activation[] = [{ coefficients: [0, 0, 1] }, { coefficients: [0.2, 0.1, -0.4, 0.7] }];
  for (const act of acts) {
    test(`IO-RNN matches the brute-force recursion (σ = ${act.coefficients})`, () => {
      const rng = new Rng(11);
      const dx = 3, dh = 4, dy = 2;
      const p: IORNNParams = { kind: 'iornn', A1: randMat(rng, dh, dx, 0.6), U: randMat(rng, dh, dh, 0.15), A2: randMat(rng, dh, dy), b: Float64Array.from([0.3, -0.2]), activation: act };
      const chunk = randomChunk(rng, dx, [5, 1, 9, 3]);
      const ref = bruteIORNN(p, chunk);
      const { yhat, hidden } = forwardIORNN(p, chunk);
      // Same arithmetic up to summation order: relative 1e-12 is ~1e4 ulps of slack and far below any real bug.
      ok(maxRelDiff(yhat, ref.y) < 1e-12);
      ok(maxRelDiff(hidden, ref.h) < 1e-12);
      assert.deepEqual(Array.from(predictIORNN(p, chunk)), Array.from(yhat));
    });
    test(`BRNN matches the brute-force recursion (σ = ${act.coefficients})`, () => {
      const rng = new Rng(12);
      const dx = 4, dh = 2, dz = 3, dy = 3;
      const p: BRNNParams = {
        kind: 'brnn', A1: randMat(rng, dh, dx, 0.5), U: randMat(rng, dh, dh, 0.2), B1: randMat(rng, dz, dx, 0.5), V: randMat(rng, dz, dz, 0.2),
        A2: randMat(rng, dh + dz, dy), activation: act, activationBackward: { coefficients: [0, 0.5, 1] },
      };
      const chunk = randomChunk(rng, dx, [4, 7, 1, 2]);
      const ref = bruteBRNN(p, chunk);
      const { yhat, hidden } = forwardBRNN(p, chunk);
      ok(maxRelDiff(yhat, ref.y) < 1e-12);
      ok(maxRelDiff(hidden, ref.h) < 1e-12);
      assert.deepEqual(Array.from(predictBRNN(p, chunk)), Array.from(yhat));
    });
  }
  test('h_0 = 0 at the start of every sequence', () => {
    const rng = new Rng(3);
    const p = randomIORNN({ dx: 3, dh: 2, dy: 2, seed: 5 });
    const c = randomChunk(rng, 3, [4, 6]);
    const both = predictIORNN(p, c);
    const second = predictIORNN(p, makeChunk(3, 0, c.x.slice(4 * 3), new Float64Array(0), [6]));
    assert.deepEqual(Array.from(both.subarray(4 * 2)), Array.from(second));
  });
  test('dx mismatch is a UserError', () => {
    const p = randomIORNN({ dx: 3, dh: 2, dy: 2, seed: 5 });
    assert.throws(() => predictIORNN(p, randomChunk(new Rng(1), 4, [3])), (e: Error) => e instanceof UserError && /expects 3 input columns/.test(e.message));
  });
});

describe('blow-up detection', () => {
  // dh = dx = 1, σ = z², A1 = U = 1, x = 2: h = 4, 36, 1444, 1446² ≈ 2.09e6 > 1e6, i.e. step 4.
  const p: IORNNParams = { kind: 'iornn', A1: Matrix.from([[1]]), U: Matrix.from([[1]]), A2: Matrix.from([[1]]), activation: { coefficients: [0, 0, 1] } };
  const x = Float64Array.from([0.1, 0.1, 0.1, 0.1, 0.1, 2, 2, 2, 2, 2, 2]);
  const chunk = makeChunk(1, 0, x, new Float64Array(0), [3, 2, 6]);
  test('IO-RNN: names sequence (with offset) and step', () => {
    assert.throws(() => predictIORNN(p, chunk, { sequenceOffset: 10 }), (e: Error) => {
      ok(e instanceof BlowUpError);
      assert.equal(e.sequence, 12);
      assert.equal(e.step, 4);
      assert.match(e.message, /^model blows up on sequence 12 at step 4 \(\|h\| = 2\.1e\+6\)$/);
      return true;
    });
    // A threshold above 1446² lets step 4 pass and fails at step 5.
    assert.throws(() => predictIORNN(p, chunk, { blowUpThreshold: 3e6 }), (e: BlowUpError) => e.sequence === 2 && e.step === 5);
    // Non-finite states are caught even with an infinite threshold.
    assert.throws(() => predictIORNN(p, makeChunk(1, 0, new Float64Array(12).fill(2), new Float64Array(0), [12]), { blowUpThreshold: Infinity }),
      (e: BlowUpError) => e instanceof BlowUpError && !Number.isFinite(e.value));
  });
  test('BRNN backward states: step counts from the sequence start', () => {
    const q: BRNNParams = { kind: 'brnn', A1: Matrix.from([[0]]), U: Matrix.from([[0]]), B1: Matrix.from([[1]]), V: Matrix.from([[1]]), A2: Matrix.from([[1], [1]]), activation: { coefficients: [0, 0, 1] } };
    // Backward over 6 steps of x = 2: blows up on the 4th state computed, i.e. at step 6 − 4 + 1 = 3.
    const c = makeChunk(1, 0, Float64Array.from([2, 2, 2, 2, 2, 2]), new Float64Array(0), [6]);
    assert.throws(() => predictBRNN(q, c), (e: BlowUpError) => e instanceof BlowUpError && e.step === 3 && e.direction === 'backward' && /backward/.test(e.message));
  });
});

describe('serialisation', () => {
  const io = randomIORNN({ dx: 4, dh: 3, dy: 5, seed: 21, uNorm: 0.25 });
  const ioB: IORNNParams = { ...io, b: Float64Array.from([0.1, -1e-300, 3.5e10, 1 / 3, -2 / 7]) };
  const br = randomBRNN({ dx: 6, dh: 2, dz: 2, dy: 6, seed: 22, activation: '0,0.1,0.5,1' });
  const same = (a: Matrix, b: Matrix) => a.rows === b.rows && a.cols === b.cols && a.data.every((v, i) => Object.is(v, b.data[i]));
  test('JSON text round trip is bit-exact', () => {
    for (const p of [ioB, br]) {
      const extras = { inputModel: { kind: 'var1', F: [[0.6]] }, diagnostics: { note: 'range [1, 2]', n: 7 } };
      const text = formatJSON(modelToJSON(p, extras));
      const back = modelFromJSON(JSON.parse(text), 'm.json');
      const q = back.params;
      assert.equal(q.kind, p.kind);
      ok(same(q.A1, p.A1) && same(q.U, p.U) && same(q.A2, p.A2));
      if (p.kind === 'brnn' && q.kind === 'brnn') ok(same(q.B1, p.B1) && same(q.V, p.V));
      assert.deepEqual(q.activation.coefficients, p.activation.coefficients);
      if (p.b) assert.deepEqual(Array.from(q.b!), Array.from(p.b));
      assert.deepEqual(back.inputModel, extras.inputModel);
      assert.deepEqual(back.diagnostics, extras.diagnostics); // strings are not re-spaced by the formatter
      const o = JSON.parse(text);
      assert.equal(o.format, 'gloree-model');
      assert.equal(o.version, 1);
      assert.deepEqual(o.activation, { coefficients: [...p.activation.coefficients!] });
    }
  });
  test('saveModel / loadModel, atomic (no temp file left)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gloree-model-'));
    const f = path.join(dir, 'model.json');
    await saveModel(f, ioB, { diagnostics: { ok: true }, inputModel: { F: Matrix.from([[0.5, 0], [0, 0.25]]), mu: Float64Array.from([1, 2]) } });
    assert.deepEqual(readdirSync(dir), ['model.json']);
    const back = loadModel(f);
    assert.deepEqual(back.inputModel, { F: [[0.5, 0], [0, 0.25]], mu: [1, 2] });
    ok(same(back.params.U, ioB.U));
    assert.match(readFileSync(f, 'utf8'), /"U": \[\n {4}\[/); // one matrix row per line
    assert.throws(() => loadModel(path.join(dir, 'nope.json')), (e: Error) => e instanceof UserError && /no such file/.test(e.message));
  });
  test('validation errors name the file and key', () => {
    const base = () => JSON.parse(JSON.stringify(modelToJSON(randomIORNN({ dx: 4, dh: 4, dy: 4, seed: 1 }))));
    const cases: [(o: any) => void, string][] = [
      [(o) => (o.U = o.U.map((r: number[]) => r.slice(0, 3))), 'model.json: key "U" must be 4×4 (dh×dh), got 4×3'],
      [(o) => delete o.A2, 'model.json: missing key "A2"'],
      [(o) => (o.format = 'other'), 'model.json: key "format" must be "gloree-model", got "other" (is this a gloree model file?)'],
      [(o) => (o.version = 2), 'model.json: key "version" must be 1, got 2 (file written by a newer gloree?)'],
      [(o) => (o.kind = 'lstm'), 'model.json: key "kind" must be "iornn" or "brnn", got "lstm"'],
      [(o) => (o.A1[1][2] = null), 'model.json: key "A1" entry [1][2] must be a finite number, got null'],
      [(o) => o.A1[2].pop(), 'model.json: key "A1" is ragged: row 2 has 3 entries, row 0 has 4'],
      [(o) => (o.A2 = o.A2.slice(0, 3)), 'model.json: key "A2" must have 4 rows (dh), got 3×4'],
      [(o) => (o.b = [1, 2]), 'model.json: key "b" must have 4 entries (dy), got 2'],
      [(o) => (o.B1 = o.A1), 'model.json: key "B1" is only allowed when "kind" is "brnn"'],
      [(o) => (o.activation = { coefficients: [0, 'x'] }), 'model.json: key "activation.coefficients" entry 1 must be a finite number, got "x"'],
      [(o) => (o.activation = { coefficients: [0, 0] }), 'model.json: key "activation.coefficients" are all zero'],
    ];
    for (const [mutate, msg] of cases) {
      const o = base();
      mutate(o);
      assert.throws(() => modelFromJSON(o, 'model.json'), (e: Error) => {
        ok(e instanceof UserError, e.message);
        assert.equal(e.message, msg);
        return true;
      });
    }
    const b = JSON.parse(JSON.stringify(modelToJSON(br)));
    b.V = [[1]];
    assert.throws(() => modelFromJSON(b, 'm.json'), { message: 'm.json: key "V" must be 2×2 (dz×dz), got 1×1' });
    assert.throws(() => modelFromJSON([], 'm.json'), UserError);
    assert.throws(() => modelToJSON({ ...io, U: new Matrix(3, 3, new Float64Array(9).fill(NaN)) }), /non-finite/);
  });
});

describe('simulation', () => {
  test('VAR(1) inputs have the stationary covariance from x_1 on (F non-diagonal)', () => {
    const F = Matrix.from([[0.5, 0.3], [-0.2, 0.4]]);
    const Q = Matrix.from([[0.5, 0.2], [0.2, 0.3]]);
    // Independent Σ: solve (I − F⊗F) vec Σ = vec Q with ml-matrix.
    const Fm = new MlMatrix(F.toArray());
    const K = MlMatrix.eye(4).sub(kron(Fm, Fm));
    const vs = mlSolve(K, MlMatrix.columnVector(Q.toArray().flat())).to1DArray();
    const Sigma = [[vs[0], vs[1]], [vs[2], vs[3]]];
    const mu = [1, -2];
    const nSeq = 6000, L = 4;
    const c = simulateInputs({ dx: 2, nSeq, seqLength: L, F, Q, mu, seed: 7 });
    assert.equal(c.rows, nSeq * L);
    assert.equal(c.dy, 0);
    // Per step t: sample mean and covariance. With n = 6000 draws the standard error of a covariance entry is
    // ≤ sqrt(2/n)·max Σ_ii ≈ 0.014; 0.06 is > 4 SE, while x_1 ~ N(μ, Q) (the wrong start) is off by ≥ 0.2 in Σ_11.
    ok(Math.abs(Sigma[0][0] - Q.get(0, 0)) > 0.2);
    for (let t = 0; t < L; t++) {
      const m = [0, 0], S = [[0, 0], [0, 0]];
      for (let s = 0; s < nSeq; s++) for (let i = 0; i < 2; i++) m[i] += c.x[(s * L + t) * 2 + i] / nSeq;
      for (let s = 0; s < nSeq; s++) {
        const o = (s * L + t) * 2;
        for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) S[i][j] += ((c.x[o + i] - m[i]) * (c.x[o + j] - m[j])) / nSeq;
      }
      for (let i = 0; i < 2; i++) {
        ok(Math.abs(m[i] - mu[i]) < 0.04, `mean step ${t}`);
        for (let j = 0; j < 2; j++) ok(Math.abs(S[i][j] - Sigma[i][j]) < 0.06, `cov step ${t} [${i}][${j}]: ${S[i][j]} vs ${Sigma[i][j]}`);
      }
    }
    // Lag-1 cross-covariance E[(x_2−μ)(x_1−μ)ᵀ] = FΣ.
    const FS = Fm.mmul(new MlMatrix(Sigma)).to2DArray();
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
      let s = 0;
      for (let q = 0; q < nSeq; q++) s += (c.x[(q * L + 1) * 2 + i] - mu[i]) * (c.x[(q * L) * 2 + j] - mu[j]);
      ok(Math.abs(s / nSeq - FS[i][j]) < 0.06);
    }
  });
  test('rho/sigma shortcut, variable lengths, determinism', () => {
    const a = simulateInputs({ dx: 3, nSeq: 400, seqLength: [2, 5], rho: 0.6, sigma: 0.4, seed: 9 });
    const b = simulateInputs({ dx: 3, nSeq: 400, seqLength: [2, 5], rho: 0.6, sigma: 0.4, seed: 9 });
    assert.deepEqual(Array.from(a.x), Array.from(b.x));
    const seen = new Set(a.lengths);
    assert.deepEqual([...seen].sort(), [2, 3, 4, 5]);
    let v = 0;
    for (const xi of a.x) v += xi * xi;
    v /= a.x.length; // ≈ σ² = 0.16 (≈ 4200 correlated draws: SE ≈ 0.01)
    ok(Math.abs(v - 0.16) < 0.04, `var ${v}`);
    assert.throws(() => simulateInputs({ dx: 2, nSeq: 1, seqLength: [3, 2], seed: 1 }), /seqLength/);
  });
  test('planted models: unit rows, ‖U‖₂ = uNorm (ml-matrix SVD), well-conditioned A2', () => {
    for (const seed of [1, 2, 3]) {
      const p = randomIORNN({ dx: 6, dh: 3, dy: 5, uNorm: 0.3, seed });
      for (let j = 0; j < 3; j++) ok(Math.abs(Math.hypot(...p.A1.row(j)) - 1) < 1e-14);
      const su = new SingularValueDecomposition(new MlMatrix(p.U.toArray())).diagonal;
      ok(Math.abs(Math.max(...su) - 0.3) < 1e-12);
      const sa = new SingularValueDecomposition(new MlMatrix(p.A2.toArray()), { autoTranspose: true }).diagonal;
      ok(sa.length === 3 && Math.max(...sa) / Math.min(...sa) <= 1.5 + 1e-12, `A2 singular values ${sa}`);
      const b = randomBRNN({ dx: 6, dh: 2, dz: 2, dy: 6, uNorm: 0.2, vNorm: 0.1, seed });
      ok(Math.abs(Math.max(...new SingularValueDecomposition(new MlMatrix(b.V.toArray())).diagonal) - 0.1) < 1e-12);
      assert.equal(b.A2.rows, 4);
    }
    const M = Matrix.from([[1, 2], [3, 4]]);
    ok(Math.abs(spectralNorm(M) - 5.464985704219043) < 1e-12);
  });
  test('output noise has the requested standard deviation', () => {
    const p = randomIORNN({ dx: 2, dh: 2, dy: 2, seed: 4 });
    const inp = simulateInputs({ dx: 2, nSeq: 500, seqLength: 10, rho: 0.5, sigma: 0.4, seed: 5 });
    const clean = predictIORNN(p, inp);
    const noisy = simulateIORNN(p, inp, { noise: 0.05, seed: 6 });
    let s = 0;
    for (let i = 0; i < clean.length; i++) s += (noisy.y[i] - clean[i]) ** 2;
    const sd = Math.sqrt(s / clean.length); // 10⁴ draws: SE of sd ≈ 0.05/√(2·10⁴) ≈ 3.5e-4
    ok(Math.abs(sd - 0.05) < 0.003, `sd ${sd}`);
  });
  test('scenarios are valid, stable, and U carries a visible share of the output variance', () => {
    for (const [name, s] of Object.entries(SCENARIOS)) {
      assert.deepEqual(scenarioFromJSON(JSON.parse(JSON.stringify(s)), name), s);
      const { model, data, clean } = simulateScenario(s, { nSeq: 300 });
      assert.equal(data.dx, s.dx);
      assert.equal(data.dy, s.dy);
      // Share of U: outputs with U = 0 (and V = 0) differ from the true ones by a visible fraction.
      const m0 = model.kind === 'brnn'
        ? { ...model, U: new Matrix(model.U.rows, model.U.cols), V: new Matrix(model.V.rows, model.V.cols) }
        : { ...model, U: new Matrix(model.U.rows, model.U.cols) };
      const y0 = m0.kind === 'brnn' ? predictBRNN(m0 as BRNNParams, data) : predictIORNN(m0 as IORNNParams, data);
      let num = 0, den = 0;
      const dy = s.dy, mean = new Float64Array(dy);
      for (let i = 0; i < clean.length; i++) mean[i % dy] += clean[i] / data.rows;
      for (let i = 0; i < clean.length; i++) {
        num += (clean[i] - y0[i]) ** 2;
        den += (clean[i] - mean[i % dy]) ** 2;
      }
      const share = num / den;
      ok(share > 0.01 && share < 0.5, `${name}: U share ${share}`);
    }
    // Deterministic model and data.
    const a = simulateScenario(SCENARIOS.default, { nSeq: 5 }), b = simulateScenario(SCENARIOS.default, { nSeq: 5 });
    assert.deepEqual(Array.from(a.data.y), Array.from(b.data.y));
    assert.deepEqual(Array.from(scenarioModel(SCENARIOS.default).U.data), Array.from(a.model.U.data));
  });
  test('scenarioFromJSON rejects bad scenarios with the key', () => {
    const ok = { kind: 'iornn', dx: 3, dh: 2, dy: 2, input: { rho: 0.5, sigma: 0.3 }, uNorm: 0.2, noise: 0.1, seqLength: [5, 9], seed: 3 };
    assert.deepEqual(scenarioFromJSON(ok).seqLength, [5, 9]);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...ok, dx: 0 }, /s\.json: key "dx" must be a positive integer, got 0/],
      [{ ...ok, input: { rho: 1, sigma: 0.3 } }, /key "input\.rho" must be a number in \(-1, 1\)/],
      [{ ...ok, kind: 'gru' }, /key "kind"/],
      [{ ...ok, kind: 'brnn' }, /key "dz" must be a positive integer/],
      [{ ...ok, seqLength: [9, 5] }, /key "seqLength"/],
      [{ ...ok, activation: 'relu' }, /key "activation"/],
      [{ ...ok, nosie: 0.1 }, /key "nosie" is not a scenario key/],
    ];
    for (const [o, re] of bad) assert.throws(() => scenarioFromJSON(o, 's.json'), (e: Error) => e instanceof UserError && re.test(e.message));
  });
});

function kron(A: MlMatrix, B: MlMatrix): MlMatrix {
  return A.kroneckerProduct(B);
}

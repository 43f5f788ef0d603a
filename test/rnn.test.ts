/**
 * The RNN kernel (src/rnn): forward passes against an independent straightforward recursion, exact
 * derivatives (RTRL Jacobian, BPTT gradient, σ', σ'') against finite differences for polynomial and named
 * activations, carried state across chunk boundaries, and the one blow-up rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import type { Activation, BRNNParams, IORNNParams, RNNParams } from '../src/models/params.js';
import { randomBRNN, randomIORNN, simulateInputs, simulateIORNN, simulateBRNN } from '../src/models/simulate.js';
import { predictIORNN, BlowUpError, DEFAULT_BLOWUP_THRESHOLD } from '../src/models/iornn.js';
import { predictBRNN } from '../src/models/brnn.js';
import { activationFunctions } from '../src/models/activation.js';
import { BLOWUP_BOUND, blowsUp } from '../src/rnn/recurrence.js';
import { ioRNNJacobian, lossAndGradient, meanSquaredError, packParams, unpackParams, refine } from '../src/learn/refine.js';
import { modelFromJSON, modelToJSON } from '../src/models/serialize.js';

// Independent reference σ: written from the definitions, not the kernel's code.
const REF: Record<string, (z: number) => number> = {
  tanh: (z) => (Math.exp(z) - Math.exp(-z)) / (Math.exp(z) + Math.exp(-z)),
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  softplus: (z) => Math.log(1 + Math.exp(z)),
  linear: (z) => z,
};
const refSigma = (a: Activation) => (a.name !== undefined ? REF[a.name] : (z: number) => a.coefficients.reduce((s, c, k) => s + c * z ** k, 0));

const ACTS: Activation[] = [
  { coefficients: [0, 0, 1] }, { coefficients: [0, 0.1, 0.5, 1] }, { name: 'tanh' }, { name: 'sigmoid' }, { name: 'softplus' }, { name: 'linear' },
];

/** Straightforward per-sequence recursion on nested arrays (forward h, backward z), ŷ = A2ᵀ[h; z] + b. */
function referencePredict(p: RNNParams, c: SequenceChunk): number[] {
  const dx = c.dx, dy = p.A2.cols, dh = p.A1.rows, dz = p.kind === 'brnn' ? p.B1.rows : 0;
  const sf = refSigma(p.activation), sb = p.kind === 'brnn' ? refSigma(p.activationBackward ?? p.activation) : sf;
  const out: number[] = [];
  let r0 = 0;
  for (const L of c.lengths) {
    const x = (t: number) => Array.from(c.x.subarray((r0 + t) * dx, (r0 + t + 1) * dx));
    const H: number[][] = [], Z: number[][] = new Array(L);
    let h = new Array(dh).fill(0);
    for (let t = 0; t < L; t++) {
      const xt = x(t);
      h = Array.from({ length: dh }, (_, j) => sf(xt.reduce((s, v, i) => s + p.A1.get(j, i) * v, 0) + h.reduce((s, v, i) => s + p.U.get(j, i) * v, 0)));
      H.push(h);
    }
    if (p.kind === 'brnn') {
      let z = new Array(dz).fill(0);
      for (let t = L - 1; t >= 0; t--) {
        const xt = x(t);
        z = Array.from({ length: dz }, (_, j) => sb(xt.reduce((s, v, i) => s + p.B1.get(j, i) * v, 0) + z.reduce((s, v, i) => s + p.V.get(j, i) * v, 0)));
        Z[t] = z;
      }
    }
    for (let t = 0; t < L; t++) {
      const s = [...H[t], ...(Z[t] ?? [])];
      for (let i = 0; i < dy; i++) out.push((p.b?.[i] ?? 0) + s.reduce((acc, v, j) => acc + p.A2.get(j, i) * v, 0));
    }
    r0 += L;
  }
  return out;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-300);
}

const data = (dx: number, seed: number, lengths = [7, 5, 9]) => {
  const inp = simulateInputs({ dx, nSeq: lengths.length, seqLength: lengths[0], rho: 0.3, sigma: 0.3, seed });
  // Unequal lengths: rebuild the chunk from the first rows.
  const rows = lengths.reduce((a, b) => a + b, 0);
  const x = new Float64Array(rows * dx);
  for (let r = 0; r < rows; r++) for (let i = 0; i < dx; i++) x[r * dx + i] = inp.x[(r % inp.rows) * dx + i] * (1 + 0.1 * Math.sin(r));
  return makeChunk(dx, 0, x, new Float64Array(0), lengths);
};

test('forward pass (IO-RNN and BRNN) matches an independent recursion for every activation', () => {
  for (const act of ACTS) {
    const io = { ...randomIORNN({ dx: 3, dh: 3, dy: 2, uNorm: 0.3, seed: 3, activation: act }), b: Float64Array.of(0.2, -0.1) };
    const br = randomBRNN({ dx: 3, dh: 2, dz: 2, dy: 2, uNorm: 0.3, seed: 4, activation: act });
    const c = data(3, 11);
    // Tolerance: the reference sums in a different order and evaluates tanh / softplus by other formulas;
    // ≤ ~20 roundings of O(1) quantities per output → 1e-12 relative is ample and far below any real error.
    assert.ok(maxRelDiff(predictIORNN(io, c), referencePredict(io, c)) < 1e-12, `IO-RNN ${JSON.stringify(act)}`);
    assert.ok(maxRelDiff(predictBRNN(br, c), referencePredict(br, c)) < 1e-12, `BRNN ${JSON.stringify(act)}`);
  }
});

test('σ′ and σ″ of every activation match central differences of σ (and of σ′)', () => {
  for (const act of ACTS) {
    const f = activationFunctions(act);
    for (const z of [-2.5, -0.7, 0, 0.3, 1.9]) {
      const h = 1e-5;
      // Central differences: truncation O(h²·σ‴) ≈ 1e-10, rounding ≈ 1e-16/h ≈ 1e-11.
      assert.ok(Math.abs(f.sigmaPrime(z) - (f.sigma(z + h) - f.sigma(z - h)) / (2 * h)) < 1e-8, `σ′ ${JSON.stringify(act)} at ${z}`);
      assert.ok(Math.abs(f.sigmaSecond(z) - (f.sigmaPrime(z + h) - f.sigmaPrime(z - h)) / (2 * h)) < 1e-8, `σ″ ${JSON.stringify(act)} at ${z}`);
      assert.ok(Math.abs(f.sigma(z) - refSigma(act)(z)) < 1e-14 * Math.max(1, Math.abs(f.sigma(z))), `σ ${JSON.stringify(act)} at ${z}`);
    }
  }
});

/** Labelled data from a model with a small perturbation of the parameters (so residuals are not zero). */
function labelled(p: RNNParams, seed: number): SequenceChunk {
  const inp = simulateInputs({ dx: p.A1.cols, nSeq: 4, seqLength: 6, rho: 0.3, sigma: 0.3, seed });
  return p.kind === 'brnn' ? simulateBRNN(p, inp, { noise: 0.1, seed: seed + 1 }) : simulateIORNN(p, inp, { noise: 0.1, seed: seed + 1 });
}

test('RTRL Jacobian and BPTT gradient match finite differences (polynomial, tanh, sigmoid, linear; IO-RNN and BRNN)', () => {
  for (const act of [ACTS[1], ACTS[2], ACTS[3], ACTS[5]]) {
    for (const p of [randomIORNN({ dx: 3, dh: 2, dy: 2, uNorm: 0.3, seed: 5, activation: act }), randomBRNN({ dx: 3, dh: 2, dz: 1, dy: 2, uNorm: 0.3, seed: 6, activation: act })] as RNNParams[]) {
      const c = labelled(p, 21);
      const { J, residual } = ioRNNJacobian(p, c);
      const th = packParams(p);
      const h = 1e-6;
      const fd = new Matrix(J.rows, J.cols);
      for (let a = 0; a < th.length; a++) {
        const tp = th.slice(), tm = th.slice();
        tp[a] += h; tm[a] -= h;
        const yp = p.kind === 'brnn' ? predictBRNN(unpackParams(p, tp) as BRNNParams, c) : predictIORNN(unpackParams(p, tp) as IORNNParams, c);
        const ym = p.kind === 'brnn' ? predictBRNN(unpackParams(p, tm) as BRNNParams, c) : predictIORNN(unpackParams(p, tm) as IORNNParams, c);
        for (let r = 0; r < J.rows; r++) fd.set(r, a, (yp[r] - ym[r]) / (2 * h));
      }
      // Central differences with h = 1e-6 on O(1) outputs: error ≲ h²·|∂³ŷ| + 1e-16/h ≈ 1e-10 absolute.
      assert.ok(maxRelDiff(J.data, fd.data) < 1e-7, `Jacobian ${p.kind} ${JSON.stringify(act)}: ${maxRelDiff(J.data, fd.data)}`);
      // BPTT gradient of SSE = 2 Jᵀ r, and against finite differences of the SSE itself.
      const { gradient, sse } = lossAndGradient(p, c);
      const jtr = new Float64Array(th.length);
      for (let r = 0; r < J.rows; r++) for (let a = 0; a < th.length; a++) jtr[a] += 2 * J.get(r, a) * residual[r];
      assert.ok(maxRelDiff(gradient, jtr) < 1e-10, `gradient vs 2Jᵀr ${p.kind} ${JSON.stringify(act)}`);
      const sseOf = (t: Float64Array) => meanSquaredError(unpackParams(p, t), c) * c.rows * c.dy;
      const g0 = gradient[0], tp = th.slice(), tm = th.slice();
      tp[0] += 1e-5; tm[0] -= 1e-5;
      assert.ok(Math.abs(g0 - (sseOf(tp) - sseOf(tm)) / 2e-5) < 1e-6 * Math.max(1, Math.abs(g0)) + 1e-8 * sse, `∂SSE/∂θ0 ${p.kind} ${JSON.stringify(act)}`);
    }
  }
});

test('carried state: a sequence split into two chunks gives bit-identical outputs (IO-RNN, BRNN)', () => {
  for (const act of [ACTS[0], ACTS[2]]) {
    const io = randomIORNN({ dx: 3, dh: 3, dy: 2, uNorm: 0.3, seed: 7, activation: act });
    const whole = data(3, 13, [17]);
    const cut = 6;
    const part = (r0: number, r1: number) => makeChunk(3, 0, whole.x.slice(r0 * 3, r1 * 3), new Float64Array(0), [r1 - r0]);
    const a = part(0, cut), b = part(cut, 17);
    const h = new Float64Array(3);
    const ya = predictIORNN(io, a, { finalState: h });
    const yb = predictIORNN(io, b, { initialState: h });
    assert.deepEqual([...ya, ...yb], [...predictIORNN(io, whole)]);
    // Without the carry the second piece restarts from h = 0 and differs.
    assert.notDeepEqual([...predictIORNN(io, b)], [...yb]);

    // BRNN: forward states run with the data (a then b), backward states against it (b then a).
    const br = randomBRNN({ dx: 3, dh: 2, dz: 2, dy: 2, uNorm: 0.3, seed: 8, activation: act });
    const hf = new Float64Array(2), zb = new Float64Array(2);
    const hidA = new Float64Array(a.rows * 4), hidB = new Float64Array(b.rows * 4), hidW = new Float64Array(whole.rows * 4);
    predictBRNN(br, b, { hidden: hidB, carry: { backwardFinal: zb } });
    predictBRNN(br, a, { hidden: hidA, carry: { forwardFinal: hf, backwardInitial: zb } });
    predictBRNN(br, b, { hidden: hidB, carry: { forwardInitial: hf } });
    // The second run of b has the right forward states; its backward states do not depend on a.
    predictBRNN(br, whole, { hidden: hidW });
    assert.deepEqual([...hidA, ...hidB], [...hidW]);
  }
});

test('one blow-up rule: the bound, NaN and Infinity; predict and the refinement passes agree', () => {
  assert.equal(BLOWUP_BOUND, DEFAULT_BLOWUP_THRESHOLD);
  assert.equal(blowsUp(1e6), false);
  assert.equal(blowsUp(-1e6), false);
  assert.equal(blowsUp(1.0000001e6), true);
  assert.equal(blowsUp(NaN), true);
  assert.equal(blowsUp(Infinity, Infinity), true);
  assert.equal(blowsUp(1e300, Infinity), false);
  // σ = z² with x = 2, A1 = 1, U = 1: h_t = (2 + h_{t−1})² exceeds 1e6 at step 5 (h_4 = 3.3e5·…): both
  // predict (BlowUpError) and the refinement's state pass (MSE = Infinity) see it; with 4 steps neither does.
  const p: IORNNParams = { kind: 'iornn', A1: new Matrix(1, 1, Float64Array.of(1)), U: new Matrix(1, 1, Float64Array.of(1)), A2: new Matrix(1, 1, Float64Array.of(1)), activation: { coefficients: [0, 0, 1] } };
  const chunk = (L: number) => makeChunk(1, 1, new Float64Array(L).fill(2), new Float64Array(L), [L]);
  // h: 4, 36, 1444, 2.09e6 → blows up at step 4.
  assert.throws(() => predictIORNN(p, chunk(4)), (e: BlowUpError) => e.step === 4);
  assert.equal(meanSquaredError(p, chunk(4)), Infinity);
  assert.doesNotThrow(() => predictIORNN(p, chunk(3)));
  assert.ok(Number.isFinite(meanSquaredError(p, chunk(3))));
  // A bounded σ never blows up, whatever U.
  const t: IORNNParams = { ...p, U: new Matrix(1, 1, Float64Array.of(50)), activation: { name: 'tanh' } };
  assert.ok(Number.isFinite(meanSquaredError(t, chunk(200))));
});

test('named activations: model file round trip; refinement of a tanh IO-RNN uses the true σ and improves the fit', () => {
  const truth = randomIORNN({ dx: 3, dh: 2, dy: 3, uNorm: 0.5, seed: 9, activation: { name: 'tanh' } });
  const json = modelToJSON(truth);
  assert.deepEqual(json.activation, { name: 'tanh' });
  const back = modelFromJSON(JSON.parse(JSON.stringify(json)));
  assert.deepEqual(back.params.activation, { name: 'tanh' });
  assert.throws(() => modelFromJSON({ ...JSON.parse(JSON.stringify(json)), activation: { name: 'relu' } }), /activation\.name/);
  const inp = simulateInputs({ dx: 3, nSeq: 300, seqLength: 10, rho: 0.5, sigma: 0.8, seed: 2 });
  const train = simulateIORNN(truth, inp, { noise: 0.02, seed: 3 });
  // Start: the truth with perturbed hidden weights; the refinement (exact tanh Jacobians) must get back close
  // to the noise floor (MSE 0.02² = 4e-4).
  const th = packParams(truth);
  for (let a = 0; a < 12; a++) th[a] *= 1 + 0.2 * Math.sin(a + 1);
  const start = unpackParams(truth, th);
  const r = refine(start, train, { seed: 1 });
  assert.ok(r.diagnostics.trainLossEnd < 0.3 * r.diagnostics.trainLossStart, `${r.diagnostics.trainLossStart} → ${r.diagnostics.trainLossEnd}`);
  assert.ok(r.diagnostics.trainLossEnd < 6e-4, `end loss ${r.diagnostics.trainLossEnd}`);
  assert.deepEqual(r.params.activation, { name: 'tanh' });
});

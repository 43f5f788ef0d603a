import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { SCENARIOS, Scenario, randomIORNN, simulateBRNN, simulateInputs, simulateScenario } from '../src/models/simulate.js';
import { BRNNParams, IORNNParams } from '../src/models/params.js';
import { predictBRNN } from '../src/models/brnn.js';
import { nmse } from '../src/metrics/nmse.js';
import { parameterErrors } from '../src/metrics/parameters.js';
import { chooseSplit, fitGloreeB, GloreeBResult } from '../src/learn/gloree-b.js';
import { memorySource, splitChunk } from '../src/io/dataset.js';
import { UserError } from '../src/io/errors.js';
import { Rng } from '../src/random/rng.js';

/**
 * GLOREE-B (tracker issue 5; docs/method.md §2, §4 F5). Ground truth: planted BRNNs / IO-RNNs; NMSE on held-out
 * sequences against the true model's noise-free outputs (§7); the input model is always estimated from the data.
 *
 * Scenario: the built-in "brnn" (dx = dy = 6, dh = dz = 2, VAR(1) ρ = 0.6, σ_x = 0.4) with ‖U‖₂ = ‖V‖₂ = 0.25:
 * the built-in 0.3 is not stable at these sample sizes (its simulation blows up, |h| > 1e6, for 5 of 5 seeds at
 * 2e6 rows), and the issue asks for the stable regime.
 */
const SC: Scenario = { ...SCENARIOS.brnn, uNorm: 0.25 };

/** Does every learned forward row match a true A1 row (backward: a B1 row) better than any row of the other group? */
function assignmentsCorrect(est: BRNNParams, truth: BRNNParams): boolean {
  const best = (row: Float64Array, M: Matrix): number => {
    let b = 0;
    for (let i = 0; i < M.rows; i++) {
      let d = 0, n1 = 0, n2 = 0;
      for (let a = 0; a < M.cols; a++) {
        d += row[a] * M.data[i * M.cols + a];
        n1 += row[a] ** 2;
        n2 += M.data[i * M.cols + a] ** 2;
      }
      b = Math.max(b, Math.abs(d) / Math.sqrt(n1 * n2));
    }
    return b;
  };
  if (est.A1.rows !== truth.A1.rows || est.B1.rows !== truth.B1.rows) return false;
  for (let j = 0; j < est.A1.rows; j++) if (!(best(est.A1.row(j), truth.A1) > best(est.A1.row(j), truth.B1))) return false;
  for (let j = 0; j < est.B1.rows; j++) if (!(best(est.B1.row(j), truth.B1) > best(est.B1.row(j), truth.A1))) return false;
  return true;
}

function spectralOf(r: GloreeBResult): BRNNParams {
  const d = r.diagnostics.spectral;
  return { ...r.params, A1: Matrix.from(d.A1), U: Matrix.from(d.U), B1: Matrix.from(d.B1), V: Matrix.from(d.V), A2: Matrix.from(d.A2), b: Float64Array.from(d.b) };
}

function zeroOf(r: GloreeBResult): BRNNParams {
  const dh = r.params.A1.rows, dz = r.params.B1.rows, f = r.diagnostics.feedforward!;
  return { ...r.params, U: new Matrix(dh, dh), V: new Matrix(dz, dz), A2: Matrix.from(f.A2), b: Float64Array.from(f.b) };
}

const heldOut = simulateScenario(SC, { nSeq: 1000, seed: 1021 });
const nmseOf = (p: BRNNParams): number => nmse(predictBRNN(p, heldOut.data), heldOut.clean, SC.dy);

// Shared fits (spectral only: the acceptance numbers are about the moment estimator).
const data2e4 = simulateScenario(SC, { nSeq: 1000, seed: 21 });
const data2e5 = simulateScenario(SC, { nSeq: 10000, seed: 21 });
let fit2e5: Promise<GloreeBResult> | null = null;
const getFit2e5 = () => (fit2e5 ??= fitGloreeB(data2e5.data, { total: 4, refine: false, seed: 1 }));

test('n = 2e5, split inferred: every assignment right, U and V errors < 0.15, NMSE ≤ 1/10 of the U = V = 0 model', async () => {
  const r = await getFit2e5();
  const truth = data2e5.model as BRNNParams;
  const sp = r.diagnostics.split;
  assert.equal(sp.inferred, true);
  assert.equal(sp.forward, 2);
  assert.equal(sp.backward, 2);
  assert.equal(sp.clarity, 'clear', `split margins ${sp.components.map((c) => c.margin)}`);
  assert.ok(assignmentsCorrect(r.params, truth), 'a forward/backward assignment is wrong');
  const spec = spectralOf(r);
  const e = parameterErrors(spec, truth);
  assert.ok(e.U < 0.15 && e.V! < 0.15, `U error ${e.U}, V error ${e.V}`);
  assert.ok(e.A1 < 0.05 && e.B1! < 0.05 && e.A2 < 0.05, `A1 ${e.A1}, B1 ${e.B1}, A2 ${e.A2}`);
  const zero = nmseOf(zeroOf(r));
  assert.ok(nmseOf(spec) <= zero / 10, `spectral NMSE ${nmseOf(spec)} vs U=V=0 ${zero}`);
  assert.ok(nmseOf(r.params) <= zero / 10, `model NMSE ${nmseOf(r.params)} vs U=V=0 ${zero}`);
  // The split statistic is a sum of ≈ χ²₁ terms when the split is right (measured 25.6 for 24 terms at seed 11).
  assert.ok(sp.statistic < 3 * sp.statisticTerms, `split statistic ${sp.statistic} for ${sp.statisticTerms} terms`);
});

test('NMSE of the spectral estimate falls ≈10× from 2e4 to 2e5 rows; given sizes give the same split', async () => {
  const big = await getFit2e5();
  const small = await fitGloreeB(data2e4.data, { forward: 2, backward: 2, refine: false, seed: 1 });
  assert.equal(small.diagnostics.split.inferred, false);
  assert.ok(assignmentsCorrect(small.params, data2e4.model as BRNNParams), 'assignment wrong at 2e4 with given sizes');
  const a = nmseOf(spectralOf(small)), b = nmseOf(spectralOf(big));
  // A consistent estimator has NMSE ∝ 1/n: expect ≈10× (measured 19× for this seed); accept ≥ 4×.
  assert.ok(b <= a / 4, `NMSE ${a} → ${b}`);
});

test('an IO-RNN fitted as a BRNN with only the total reports dz = 0; forcing a backward neuron gives V ≈ 0 and a warning', async () => {
  const sc = SCENARIOS.rect; // IO-RNN dx = 6, dh = 3, dy = 5
  const train = simulateScenario(sc, { nSeq: 2000, seed: 11 });
  const test_ = simulateScenario(sc, { nSeq: 300, seed: 1011 });
  const truth = train.model as IORNNParams;
  const r = await fitGloreeB(train.data, { total: 3, seed: 1 }); // default refinement included (dz = 0 path)
  assert.equal(r.diagnostics.split.backward, 0);
  assert.equal(r.params.B1.rows, 0);
  assert.equal(r.params.V.rows, 0);
  assert.equal(r.diagnostics.split.clarity, 'clear');
  const asIO: IORNNParams = { kind: 'iornn', A1: r.params.A1, U: r.params.U, A2: r.params.A2, b: r.params.b, activation: r.params.activation };
  assert.ok(parameterErrors(asIO, truth).U < 0.15, `U error ${parameterErrors(asIO, truth).U}`);
  const yb = predictBRNN(r.params, test_.data);
  const zero = nmse(predictBRNN(zeroOf(r), test_.data), test_.clean, sc.dy);
  assert.ok(nmse(yb, test_.clean, sc.dy) <= zero / 10);

  const forced = await fitGloreeB(train.data, { forward: 2, backward: 1, refine: false, seed: 1 });
  assert.equal(forced.diagnostics.split.suggestedForward, 3);
  assert.equal(forced.diagnostics.split.suggestedBackward, 0);
  // The backward 'next' moment of an IO-RNN vanishes: V is noise, far below the U entries (‖U‖₂ = 0.3).
  assert.ok(Math.abs(forced.params.V.data[0]) < 0.1, `V = ${forced.params.V.data[0]}`);
  assert.ok(forced.diagnostics.warnings.some((w) => /favour 3 forward \+ 0 backward/.test(w)), forced.diagnostics.warnings.join('\n'));
});

test('a backward-only RNN (an IO-RNN run in reverse) fitted with only the total reports dh = 0', async () => {
  const io = randomIORNN({ dx: 6, dh: 3, dy: 5, seed: 3 });
  const p: BRNNParams = { kind: 'brnn', A1: new Matrix(0, 6), U: new Matrix(0, 0), B1: io.A1, V: io.U, A2: io.A2, activation: io.activation };
  const make = (nSeq: number, seed: number) => simulateBRNN(p, simulateInputs({ dx: 6, nSeq, seqLength: 20, rho: 0.6, sigma: 0.4, seed }), { noise: 0.05, seed: seed + 1 });
  const train = make(2000, 5), test_ = make(300, 77);
  const r = await fitGloreeB(train, { total: 3, seed: 1 }); // default refinement included (dh = 0 path)
  assert.equal(r.diagnostics.split.forward, 0);
  assert.equal(r.diagnostics.split.backward, 3);
  assert.equal(r.diagnostics.split.clarity, 'clear');
  const clean = predictBRNN(p, test_);
  const zero = nmse(predictBRNN(zeroOf(r), test_), clean, 5);
  assert.ok(nmse(predictBRNN(r.params, test_), clean, 5) <= zero / 10);
});

test("total 'auto' chooses dh + dz from T2 (rank rule of src/learn/rank.ts), then infers the split (n = 2e4)", async () => {
  const r = await fitGloreeB(data2e4.data, { total: 'auto', refine: false, seed: 1 });
  assert.equal(r.diagnostics.rank?.auto, true);
  assert.equal(r.diagnostics.rank?.chosen, 4);
  assert.equal(r.diagnostics.split.forward, 2);
  assert.equal(r.diagnostics.split.backward, 2);
  assert.ok(assignmentsCorrect(r.params, data2e4.model as BRNNParams));
});

test('default refinement improves the held-out fit of a BRNN and keeps the split (n = 2e4)', async () => {
  const spec = await fitGloreeB(data2e4.data, { total: 4, refine: false, seed: 1 });
  const ref = await fitGloreeB(data2e4.data, { total: 4, seed: 1 });
  assert.ok(ref.diagnostics.refine, 'refinement did not run');
  assert.ok(assignmentsCorrect(ref.params, data2e4.model as BRNNParams));
  const a = nmseOf(spectralOf(spec)), b = nmseOf(ref.params);
  assert.ok(b <= a, `refined ${b} vs spectral ${a}`);
});

test('chunked streaming gives the same model as one chunk; same seed gives the same bits', async () => {
  const d = simulateScenario(SC, { nSeq: 300, seed: 5 });
  const a = await fitGloreeB(d.data, { total: 4, refine: false, seed: 9 });
  const b = await fitGloreeB(d.data, { total: 4, refine: false, seed: 9 });
  assert.deepEqual(Array.from(a.params.V.data), Array.from(b.params.V.data));
  const c = await fitGloreeB(memorySource(splitChunk(d.data, 7)), { total: 4, refine: false, seed: 9 });
  assert.deepEqual(c.diagnostics.split.components.map((x) => x.assigned), a.diagnostics.split.components.map((x) => x.assigned));
  for (const k of ['U', 'V', 'A2'] as const) {
    for (let i = 0; i < a.params[k].data.length; i++) assert.ok(Math.abs(c.params[k].data[i] - a.params[k].data[i]) < 1e-9, `${k} differs when chunked`);
  }
  for (let i = 0; i < 16; i++) {
    const x = a.diagnostics.split.prevSE.flat()[i], y = c.diagnostics.split.prevSE.flat()[i];
    assert.ok(Math.abs(x - y) <= 1e-9 * Math.abs(x), 'fold standard errors differ when chunked');
  }
});

test('one long sequence (a CSV without a seq column): folds are blocks, split still right', async () => {
  const d = simulateScenario({ ...SC, seqLength: 40000 }, { nSeq: 1, seed: 8 });
  const r = await fitGloreeB(d.data, { total: 4, refine: false, seed: 1 });
  assert.equal(r.diagnostics.split.foldUnit, 'blocks');
  assert.equal(r.diagnostics.split.backward, 2);
  assert.ok(assignmentsCorrect(r.params, d.model as BRNNParams));
});

test('chooseSplit recovers planted partitions (exhaustive for K ≤ 16, greedy beyond) and respects fixed sizes', () => {
  const rng = new Rng(4);
  for (const K of [5, 18]) {
    const isF = Array.from({ length: K }, (_, j) => j % 3 !== 1);
    const prev = new Float64Array(K * K), next = new Float64Array(K * K), se = new Float64Array(K * K).fill(0.01);
    for (let j = 0; j < K; j++)
      for (let k = 0; k < K; k++) {
        // signal 0.2 ± 0.05 where the block is allowed, noise of one standard error elsewhere
        const sig = () => (0.15 + 0.1 * rng.uniform()) * (rng.uniform() < 0.5 ? -1 : 1);
        prev[j * K + k] = isF[j] && isF[k] ? sig() : 0.01 * rng.normal();
        next[j * K + k] = !isF[j] && !isF[k] ? sig() : 0.01 * rng.normal();
      }
    const s = chooseSplit(prev, se, next, se, K, null);
    assert.deepEqual(s.forward, isF, `K = ${K}`);
    assert.equal(s.suggestedForward, isF.filter(Boolean).length);
    assert.ok(Math.min(...s.margins) > 25, `margins ${s.margins}`);
    const nF = isF.filter(Boolean).length;
    const fixed = chooseSplit(prev, se, next, se, K, nF - 1);
    assert.equal(fixed.forward.filter(Boolean).length, nF - 1);
    assert.ok(Math.min(...fixed.margins) < 0, 'a forced assignment must show a negative margin');
  }
  // Noise-free input (zero standard errors) must not produce NaN.
  const z = new Float64Array(4);
  const s = chooseSplit(Float64Array.from([1, 0, 0, 0]), z, Float64Array.from([0, 0, 0, 1]), z, 2, null);
  assert.deepEqual(s.forward, [true, false]);
  assert.ok(s.margins.every(Number.isFinite));
});

test('bad options give clear errors', async () => {
  const d = simulateScenario(SC, { nSeq: 30, seed: 2 }); // dx = dy = 6
  await assert.rejects(fitGloreeB(d.data, { total: 7 }), (e: Error) => e instanceof UserError && /dh \+ dz ≤ min\(dx, dy\) = 6/.test(e.message));
  await assert.rejects(fitGloreeB(d.data, { forward: 2 }), (e: Error) => e instanceof UserError && /total/.test(e.message));
  await assert.rejects(fitGloreeB(d.data, { forward: 2, backward: 1, total: 4 }), (e: Error) => e instanceof UserError && /≠ total 4/.test(e.message));
  await assert.rejects(fitGloreeB(d.data, { total: 2, backward: 3 }), UserError);
  await assert.rejects(fitGloreeB(d.data, { total: 0 }), UserError);
  await assert.rejects(fitGloreeB(d.data, { total: 'auto', backward: 1 }), (e: Error) => e instanceof UserError && /auto/.test(e.message));
  await assert.rejects(fitGloreeB(d.data, { forward: 1.5, backward: 1 }), UserError);
  await assert.rejects(fitGloreeB(d.data, { total: 2, splitFolds: 1 }), (e: Error) => e instanceof UserError && /splitFolds/.test(e.message));
  await assert.rejects(fitGloreeB(d.data, { total: 2, activation: { coefficients: [0, 1, 1] } }), (e: Error) => e instanceof UserError && /c·z²/.test(e.message));
});

/**
 * fitGloreePoly (src/learn/gloree-poly.ts): recovery on planted polynomial IO-RNNs in the stable regime of
 * docs/method.md §6, input model ESTIMATED from the data, refinement OFF (this tests the moment estimator, the scale
 * fit and the output regression, not the local optimiser), and the refusals.
 *
 * Scenario (all recovery tests): dx = 5, dh = 3, VAR(1) inputs ρ = 0.5, σ_x = 0.35, ‖U‖₂ = 0.15, sequences of
 * 50 steps, output noise sd 0.05; ‖U‖₂ (5.3 σ_x)² ≈ 0.52 (stable; σ_x = 0.4 with ‖U‖₂ = 0.2 blows up within
 * 1e6 steps). Truth: NMSE against the noise-free outputs of 2000 held-out sequences (§7; rare large-input
 * excursions, where U matters most, make smaller test sets noisy); the U = 0 baseline is the
 * learner's own (Â1, U = 0, least-squares output layer).
 * The issue asks for 1e5 → 1e6; a 1e6-row fit takes ~12 s here, so the tests use 1e5 vs 4e5 and the 1e6 numbers
 * are in bench/poly.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { randomIORNN, simulateInputs, simulateIORNN } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { nmse } from '../src/metrics/nmse.js';
import { fitGloreePoly, stabilityCheck, GloreePolyOptions } from '../src/learn/gloree-poly.js';
import { UserError } from '../src/io/errors.js';
import type { IORNNParams } from '../src/models/params.js';
import type { SequenceChunk } from '../src/io/dataset.js';

const L = 50, DX = 5, DH = 3;

function scenario(coefficients: number[], dy: number, rows: number, seed = 1): { truth: IORNNParams; train: SequenceChunk; test: SequenceChunk } {
  const truth = randomIORNN({ dx: DX, dh: DH, dy, uNorm: 0.15, seed: 5, activation: { coefficients } });
  const train = simulateIORNN(truth, simulateInputs({ dx: DX, nSeq: rows / L, seqLength: L, rho: 0.5, sigma: 0.35, seed }), { noise: 0.05, seed: seed + 1 });
  const test = simulateIORNN(truth, simulateInputs({ dx: DX, nSeq: 2000, seqLength: L, rho: 0.5, sigma: 0.35, seed: 999 }));
  return { truth, train, test };
}

async function fitAndScore(coefficients: number[], dy: number, rows: number, extra: Partial<GloreePolyOptions> = {}) {
  const { train, test } = scenario(coefficients, dy, rows);
  const res = await fitGloreePoly(train, { hidden: DH, activation: { coefficients }, refine: false, ...extra });
  const ff: IORNNParams = {
    ...res.params,
    U: new Matrix(DH, DH),
    A2: Matrix.from(res.diagnostics.feedforward!.A2),
    b: Float64Array.from(res.diagnostics.feedforward!.b),
  };
  return { res, nmse: nmse(predictIORNN(res.params, test), test.y, dy), nmseU0: nmse(predictIORNN(ff, test), test.y, dy) };
}

test('vector output, σ = z³ + 0.5z² + 0.1z: S2 directions, P2′ for U, fitted scales; NMSE falls 1e5 → 4e5 and beats U = 0 by 10×', async () => {
  const a = await fitAndScore([0, 0.1, 0.5, 1], 3, 100_000);
  const b = await fitAndScore([0, 0.1, 0.5, 1], 3, 400_000);
  const d = b.res.diagnostics;
  assert.equal(d.directions.route, 'S2');
  assert.equal(d.uMoment, 'P2prime');
  assert.equal(d.scales.fitted, true);
  // True ‖a1_j‖ = 1: the fitted scales recover it up to sign (σ has no symmetry, the sign is part of the fit).
  for (const al of d.scales.alpha) assert.ok(Math.abs(Math.abs(al) - 1) < 0.05, `|α| = ${Math.abs(al)} should be ≈ 1`);
  assert.ok(b.nmse < 0.6 * a.nmse, `NMSE should fall with n: ${a.nmse} (1e5) → ${b.nmse} (4e5)`);
  assert.ok(b.nmse <= 0.1 * b.nmseU0, `NMSE ${b.nmse} should be ≤ 1/10 of the U = 0 model's ${b.nmseU0}`);
  assert.ok(d.stability.stable);
});

test('scalar output (App. E.2), σ = z³: symmetric CP of E[y S3] (P4), U through P2′; NMSE falls 1e5 → 4e5 and beats U = 0', async () => {
  const a = await fitAndScore([0, 0, 0, 1], 1, 100_000);
  const b = await fitAndScore([0, 0, 0, 1], 1, 400_000);
  const d = b.res.diagnostics;
  assert.equal(d.directions.route, 'P1');
  assert.equal(d.scales.fitted, false); // monomial: ‖a1_j‖ = 1 is a gauge
  assert.ok(b.nmse < 0.6 * a.nmse, `NMSE should fall with n: ${a.nmse} (1e5) → ${b.nmse} (4e5)`);
  // Scalar output is harder (one output sees all neurons); at 1e6 the bench measures ≤ 1/10 of U = 0.
  assert.ok(b.nmse <= 0.25 * b.nmseU0, `NMSE ${b.nmse} should be ≤ 1/4 of the U = 0 model's ${b.nmseU0}`);
});

test('degree 2 with a linear term (σ = z² + 0.3z): P2 (order 3) for U, fitted scales, beats U = 0 by 10× at 1e5', async () => {
  const r = await fitAndScore([0, 0.3, 1], 3, 100_000);
  assert.equal(r.res.diagnostics.uMoment, 'P2');
  assert.equal(r.res.diagnostics.scales.fitted, true);
  assert.ok(r.nmse <= 0.1 * r.nmseU0, `NMSE ${r.nmse} vs U = 0 ${r.nmseU0}`);
});

test('order-l moment projected on a dh-dimensional subspace (no dx^l tensor) matches the explicit one', async () => {
  const { train, test } = scenario([0, 0, 0, 1], 3, 100_000);
  const opts: GloreePolyOptions = { hidden: DH, activation: { coefficients: [0, 0, 0, 1] }, refine: false };
  const ex = await fitGloreePoly(train, opts);
  const pr = await fitGloreePoly(train, { ...opts, maxTensorEntries: 10 });
  assert.equal(ex.diagnostics.directions.p1, 'explicit');
  assert.equal(pr.diagnostics.directions.p1, 'projected');
  assert.equal(pr.diagnostics.directions.subspace, 'T1');
  assert.ok(pr.diagnostics.memory.P1 < ex.diagnostics.memory.P1 / 3, `projected P1 memory ${pr.diagnostics.memory.P1} vs explicit ${ex.diagnostics.memory.P1}`);
  const e1 = nmse(predictIORNN(ex.params, test), test.y, 3), e2 = nmse(predictIORNN(pr.params, test), test.y, 3);
  assert.ok(e2 < 2 * e1 && e1 < 2 * e2, `explicit ${e1} vs projected ${e2}`);
});

test('scalar output with the subspace sketch (dy < dh, projected) recovers the model as well as the explicit tensor', async () => {
  const { train, test } = scenario([0, 0, 0, 1], 1, 100_000);
  const opts: GloreePolyOptions = { hidden: DH, activation: { coefficients: [0, 0, 0, 1] }, refine: false };
  const ex = await fitGloreePoly(train, opts);
  const sk = await fitGloreePoly(train, { ...opts, maxTensorEntries: 10 });
  assert.equal(sk.diagnostics.directions.subspace, 'sketch');
  const e1 = nmse(predictIORNN(ex.params, test), test.y, 1), e2 = nmse(predictIORNN(sk.params, test), test.y, 1);
  assert.ok(e2 < 2 * e1, `explicit ${e1} vs sketch ${e2}`);
});

test('degree 2 with a single output and dh ≥ 2 is refused with an explanation', async () => {
  const { train } = scenario([0, 0.3, 1], 1, 2000);
  await assert.rejects(
    () => fitGloreePoly(train, { hidden: 2, activation: { coefficients: [0, 0.3, 1] } }),
    (e: unknown) => e instanceof UserError && /not identified/.test((e as Error).message) && /dy ≥ dh/.test((e as Error).message) && /cubic/.test((e as Error).message),
  );
});

test('odd σ: directions from P1 (S2 vanishes), and --hidden auto is refused', async () => {
  const { train } = scenario([0, 0.1, 0, 1], 3, 5000);
  await assert.rejects(() => fitGloreePoly(train, { hidden: 'auto', activation: { coefficients: [0, 0.1, 0, 1] } }), /hidden auto/);
  const r = await fitGloreePoly(train, { hidden: DH, activation: { coefficients: [0, 0.1, 0, 1] }, refine: false });
  assert.equal(r.diagnostics.directions.route, 'P1');
  assert.equal(r.diagnostics.activation.symmetry, 'odd');
  // α = −1 is a symmetry of an odd σ: only positive scales are searched.
  for (const al of r.diagnostics.scales.alpha) assert.ok(al > 0);
});

test('stabilityCheck: ‖U‖₂ (5.3 max_j sd(a1_j·x))² against 1 (cubic) and 3 (quadratic)', () => {
  const p: IORNNParams = {
    kind: 'iornn',
    A1: Matrix.from([
      [1, 0],
      [0, 2],
    ]),
    U: Matrix.diag([0.1, -0.05]),
    A2: Matrix.identity(2),
    activation: { coefficients: [0, 0, 0, 1] },
  };
  const cov = Matrix.diag([0.04, 0.01]); // sd(a1_1·x) = 0.2, sd(a1_2·x) = 2·0.1 = 0.2
  const r = stabilityCheck(p, cov, 3);
  assert.ok(Math.abs(r.quantity - 0.1 * (5.3 * 0.2) ** 2) < 1e-9);
  assert.equal(r.stable, true);
  const big = stabilityCheck({ ...p, U: Matrix.diag([1, 0]) }, cov, 3);
  assert.equal(big.stable, false);
  assert.equal(stabilityCheck({ ...p, U: Matrix.diag([2, 0]) }, cov, 2).stable, true); // 2.25 ≤ 3
});

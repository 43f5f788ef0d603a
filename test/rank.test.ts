import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix as MLMatrix, SingularValueDecomposition } from 'ml-matrix';
import { selectRank } from '../src/learn/rank.js';
import { Rng } from '../src/random/rng.js';
import { SCENARIOS, simulateScenario } from '../src/models/simulate.js';
import { fitVAR1Sync } from '../src/input/fit.js';
import { T2Accumulator } from '../src/moments/single.js';
import { momentPass } from '../src/moments/accumulator.js';
import { makeChunk, splitChunk } from '../src/io/dataset.js';

function unitVector(rng: Rng, d: number): Float64Array {
  const v = rng.normalArray(d);
  let s = 0;
  for (const x of v) s += x * x;
  return v.map((x) => x / Math.sqrt(s));
}

/**
 * Planted T = Σ_j w_j b_j ⊗ c_j ⊗ c_j (dy×dx×dx), and two halves T + noise with iid N(0, 2·s²) entries each
 * (so their mean has N(0, s²) noise). `s` may depend on T (e.g. on its smallest singular value).
 */
function planted(rng: Rng, dy: number, dx: number, weights: number[], s: number | ((T: Float64Array) => number)) {
  const T = new Float64Array(dy * dx * dx);
  for (const w of weights) {
    const b = unitVector(rng, dy), c = unitVector(rng, dx);
    for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) for (let e = 0; e < dx; e++) T[(i * dx + a) * dx + e] += w * b[i] * c[a] * c[e];
  }
  const sd = typeof s === 'number' ? s : s(T);
  const half = () => T.map((v) => v + Math.SQRT2 * sd * rng.normal());
  return { T, Ta: half(), Tb: half() };
}

function oracleSingularValues(T: Float64Array, rows: number, cols: number): number[] {
  const rowsArr: number[][] = [];
  for (let i = 0; i < rows; i++) rowsArr.push(Array.from(T.subarray(i * cols, (i + 1) * cols)));
  const svd = new SingularValueDecomposition(new MLMatrix(rowsArr), { autoTranspose: true });
  return svd.diagonal.slice().sort((a, b) => b - a);
}

test('selectRank: spectrum of the output-mode unfolding matches ml-matrix, noise spectrum is that of (Ta − Tb)/2', () => {
  const rng = new Rng(11);
  const dy = 5, dx = 6;
  const { Ta, Tb } = planted(rng, dy, dx, [3, 2, 1], 0.01);
  const r = selectRank(Ta, Tb, dy, dx);
  const mean = Ta.map((v, k) => (v + Tb[k]) / 2);
  const diff = Ta.map((v, k) => (v - Tb[k]) / 2);
  const want = oracleSingularValues(mean, dy, dx * dx);
  const wantD = oracleSingularValues(diff, dy, dx * dx);
  assert.equal(r.spectrum.length, 5);
  for (let k = 0; k < 5; k++) {
    assert.ok(Math.abs(r.spectrum[k] - want[k]) < 1e-12, `σ${k + 1}: ${r.spectrum[k]} vs ${want[k]}`);
    assert.ok(Math.abs(r.noiseSpectrum[k] - wantD[k]) < 1e-12);
  }
  assert.equal(r.noiseFloor, r.noiseSpectrum[0]);
  assert.ok(Math.abs(r.threshold - 2 * r.noiseFloor) < 1e-15);
  assert.equal(r.rank, 3);
  assert.equal(r.rankInput, 3);
  assert.deepEqual(r.warnings, []);
  assert.match(r.rule, /above 2 × the noise floor/);
  for (let k = 0; k < mean.length; k++) assert.ok(Math.abs(r.T2[k] - mean[k]) < 1e-15);
});

test('selectRank: the noise floor estimates the spectral norm of the actual noise of the mean', () => {
  // Mean noise has iid N(0, s²) entries: its dy × dx² spectral norm is ≈ s(√dy + √dx²) (Bai–Yin). Over 20 seeds
  // the ratio of the estimate ‖D‖ to the realised ‖E‖ must stay within [0.6, 1.6] (observed ≈ 0.8–1.25).
  const dy = 4, dx = 4, s = 0.05;
  for (let seed = 0; seed < 20; seed++) {
    const rng = new Rng(100 + seed);
    const { T, Ta, Tb } = planted(rng, dy, dx, [1], s);
    const r = selectRank(Ta, Tb, dy, dx);
    const E = Ta.map((v, k) => (v + Tb[k]) / 2 - T[k]);
    const normE = oracleSingularValues(E, dy, dx * dx)[0];
    const ratio = r.noiseFloor / normE;
    assert.ok(ratio > 0.6 && ratio < 1.6, `seed ${seed}: ‖D‖/‖E‖ = ${ratio}`);
  }
});

test('selectRank: planted ranks are recovered when σ_dh is 4× the noise norm; pure noise gives rank 0', () => {
  const cases: { dy: number; dx: number; weights: number[] }[] = [
    { dy: 4, dx: 4, weights: [3, 2, 1.5, 1] },
    { dy: 5, dx: 6, weights: [2, 1, 0.8] },
    { dy: 8, dx: 3, weights: [1, 1] },
    { dy: 2, dx: 7, weights: [1] },
  ];
  for (const [ci, c] of cases.entries()) {
    for (let seed = 0; seed < 10; seed++) {
      const rng = new Rng(1000 * ci + seed);
      // Noise norm ≈ s(√dy + √dx²) (Bai–Yin); set it to σ_dh(T)/4 of the planted (oracle) spectrum, so that
      // σ_dh(T̂) ≥ σ_dh(T) − ‖E‖ ≈ 3‖E‖ > 2‖D‖ ≈ 2‖E‖ and σ_{dh+1}(T̂) ≤ ‖E‖ < 2‖D‖.
      const sOf = (T: Float64Array) => oracleSingularValues(T, c.dy, c.dx * c.dx)[c.weights.length - 1] / 4 / (Math.sqrt(c.dy) + c.dx);
      const { Ta, Tb } = planted(rng, c.dy, c.dx, c.weights, sOf);
      const r = selectRank(Ta, Tb, c.dy, c.dx);
      assert.equal(r.rank, c.weights.length, `case ${ci} seed ${seed}: spectrum ${r.spectrum.map((v) => v.toFixed(3))}, threshold ${r.threshold.toFixed(3)}`);
      assert.ok(r.marginKept > 1 && r.marginDropped < 1);
    }
  }
  // Pure noise (T = 0): a false component needs σ1(E) > 2‖D‖ with E, D iid; never in 50 seeds.
  for (let seed = 0; seed < 50; seed++) {
    const { Ta, Tb } = planted(new Rng(5000 + seed), 4, 4, [], 0.1);
    const r = selectRank(Ta, Tb, 4, 4);
    assert.equal(r.rank, 0, `seed ${seed}: σ1 = ${r.spectrum[0]}, threshold ${r.threshold}`);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0], /no singular value of T2 stands above the noise/);
  }
});

test('selectRank: cap at min(dx, dy) and maxRank, with a warning; unequal halves are weighted by their counts', () => {
  // dy = 6 > dx = 3: the output-mode unfolding can show 5 components (vec(c cᵀ) spans 6 dims) but the cap is dx = 3.
  const rng = new Rng(7);
  const { Ta, Tb } = planted(rng, 6, 3, [3, 2.5, 2, 1.5, 1.2], 1e-4);
  const r = selectRank(Ta, Tb, 6, 3);
  assert.equal(r.cap, 3);
  assert.equal(r.rank, 3);
  assert.ok(r.warnings.some((w) => /5 singular values of T2 are above the noise but the rank is capped at 3 = min\(dx, dy\)/.test(w)), r.warnings.join('\n'));
  const r2 = selectRank(Ta, Tb, 6, 3, { maxRank: 2 });
  assert.equal(r2.rank, 2);
  assert.ok(r2.warnings.some((w) => /\(maxRank\)/.test(w)));

  // Unequal halves: T̂a from 3n/4 steps, T̂b from n/4. The mean is count-weighted and D = (T̂a − T̂b)·√(na nb)/n.
  const Ta2 = new Float64Array(16 * 2).map((_, k) => k * 0.01);
  const Tb2 = new Float64Array(16 * 2).map((_, k) => 1 - k * 0.02);
  const r3 = selectRank(Ta2, Tb2, 2, 4, { counts: [3, 1] });
  const mean = Ta2.map((v, k) => 0.75 * v + 0.25 * Tb2[k]);
  const diff = Ta2.map((v, k) => (Math.sqrt(3) / 4) * (v - Tb2[k]));
  assert.ok(Math.abs(r3.spectrum[0] - oracleSingularValues(mean, 2, 16)[0]) < 1e-12);
  assert.ok(Math.abs(r3.noiseFloor - oracleSingularValues(diff, 2, 16)[0]) < 1e-12);
});

test('selectRank: bad input throws clear errors', () => {
  const T = new Float64Array(2 * 3 * 3).fill(1);
  assert.throws(() => selectRank(T, T.slice(0, 5), 2, 3), /T2b has 5 values, expected dy·dx·dx = 2·3·3 = 18/);
  assert.throws(() => selectRank(T, T, 2, 3), /identical/);
  const bad = T.slice();
  bad[4] = NaN;
  assert.throws(() => selectRank(bad, T, 2, 3), /T2a has a non-finite entry \(NaN\) at index 4/);
  assert.throws(() => selectRank(T, T, 0, 3), /dy must be a positive integer/);
  assert.throws(() => selectRank(T, bad, 2, 3, { maxRank: 0 }), /maxRank must be a positive integer|non-finite/);
  assert.throws(() => selectRank(T, T.map((v) => v + 1), 2, 3, { counts: [1, -1] }), /counts must be two positive numbers/);
});

/**
 * Real T2 halves: the learner's pass 2 (src/learn/gloree.ts) centres y by its mean over all data, then
 * accumulates T2 with the fitted input model; here the two halves are the first and second half of the sequences.
 */
function scenarioHalves(name: 'default' | 'iid' | 'rect', nSeq: number, seed: number) {
  const s = SCENARIOS[name];
  const { data } = simulateScenario(s, { nSeq, seed });
  const { dx, dy } = data;
  const model = fitVAR1Sync(data, { diagnostics: false, iid: s.input.rho === 0 }).model;
  const yMean = new Float64Array(dy);
  for (let k = 0; k < data.y.length; k++) yMean[k % dy] += data.y[k] / data.rows;
  const centred = makeChunk(dx, dy, data.x, data.y.map((v, k) => v - yMean[k % dy]), data.lengths);
  const halves = splitChunk(centred, 2);
  assert.equal(halves.length, 2);
  const [Ta, Tb] = halves.map((h) => {
    const acc = new T2Accumulator(model, dy);
    momentPass(model, h, [acc]);
    return acc.result();
  });
  return { Ta, Tb, dx, dy, dh: s.dh, counts: [halves[0].rows, halves[1].rows] as [number, number] };
}

test('selectRank picks the true dh on the default, iid and rect scenarios at n = 1e5 rows', () => {
  for (const name of ['default', 'iid', 'rect'] as const) {
    for (const seed of [1, 2]) {
      const h = scenarioHalves(name, 5000, seed); // 5000 sequences × 20 steps = 1e5 rows
      const r = selectRank(h.Ta, h.Tb, h.dy, h.dx, { counts: h.counts });
      assert.equal(r.rank, h.dh, `${name} seed ${seed}: ${r.rule}`);
      // The margins measured at 1e5 are ≥ 6 and ≤ 0.1 (see src/learn/rank.ts); require a clear separation.
      assert.ok(r.marginKept > 3, `${name}: σ_dh / threshold = ${r.marginKept}`);
      assert.ok(r.marginDropped < 0.5, `${name}: σ_{dh+1} / threshold = ${r.marginDropped}`);
      assert.equal(r.rankInput, h.dh, `${name}: input-mode cross-check ${r.spectrumInput}`);
    }
  }
});

test('selectRank on real data: too few rows give a smaller rank, never a larger one', () => {
  // rect (dh = 3) at 2000 rows: the noise floor rises ≈ 7×, the third component may drop but no spurious one appears.
  const h = scenarioHalves('rect', 100, 5);
  const r = selectRank(h.Ta, h.Tb, h.dy, h.dx, { counts: h.counts });
  assert.ok(r.rank <= 3, r.rule);
  assert.ok(r.noiseFloor > 0);
});

test('the odd-activation hint is errors-as-data: the library message spells API option names, the CLI renders flags', async () => {
  const { autoRank } = await import('../src/learn/data-passes.js');
  const { oddActivationHint } = await import('../src/learn/rank.js');
  const { OptionError } = await import('../src/io/errors.js');
  const { flagName } = await import('../src/cli/main.js');
  const log = { warnings: [] as string[], timings: {}, warn(m: string) { this.warnings.push(m); }, lap() {} };
  // A rank selection where nothing stands above the noise floor (the odd-activation case).
  const rs = { rank: 0, noiseFloor: 1e-3, warnings: [] } as unknown as Parameters<typeof autoRank>[0];
  let caught: unknown;
  try {
    autoRank(rs, log, (n) => `no quadratic dependence; ${oddActivationHint(n)}`);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof OptionError, 'an OptionError');
  const e = caught as InstanceType<typeof OptionError>;
  assert.equal(e.option, 'hidden');
  assert.doesNotMatch(e.message, /--/, 'the library message names no CLI flag');
  assert.match(e.message, /activation tanh or z3 and hidden K/);
  assert.match(e.render(flagName), /--activation tanh or z3 and --hidden K/);
});

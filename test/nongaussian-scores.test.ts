import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { hermite2Contract, hermite3Contract, mixedContract } from '../src/input/scores.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { ScoreMode, completeBell, scoreContract, sequenceDerivatives, setPartitions } from '../src/input/nongaussian-scores.js';
import { mixtureNegLogDerivatives, mixtureLogDensity, Mixture1D } from '../src/input/mixture1d.js';
import { inputModelFromJSON } from '../src/input/model.js';

/** A deliberately asymmetric model: skewed and heavy-tailed components, non-diagonal F and W. */
function planted(): MixtureVAR1 {
  const F = Matrix.from([[0.5, 0.2], [-0.1, 0.3]]);
  const W = Matrix.from([[1.3, 0.4], [-0.2, 0.9]]);
  const comps: Mixture1D[] = [
    { weights: [0.3, 0.7], means: [-0.8, 0.35], variances: [0.5, 0.3] },
    { weights: [0.2, 0.5, 0.3], means: [0.1, 0, -0.2], variances: [3, 0.4, 0.9] },
  ];
  return new MixtureVAR1([0.2, -0.1], F, W, comps);
}

const L = 4, dx = 2;

function sampleSeq(m: MixtureVAR1, seed: number): Float64Array {
  return m.simulate(new Rng(seed), [L]);
}

/**
 * Mixed finite difference of p along the modes: (−1)^m ∂_{s_1}…∂_{s_m} p(x + Σ s_j e_j u_j) / p(x), central
 * differences in every s_j (2^m evaluations), from log p only: an independent route to S_m.
 */
function fdScore(m: MixtureVAR1, x: Float64Array, modes: ScoreMode[], h: number): number {
  const n = modes.length, lp0 = m.logDensity(x, L);
  let s = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    const y = x.slice();
    let sign = 1;
    for (let j = 0; j < n; j++) {
      const dir = mask & (1 << j) ? 1 : -1;
      sign *= dir;
      for (let a = 0; a < dx; a++) y[modes[j].step * dx + a] += dir * h * modes[j].u[a];
    }
    s += sign * Math.exp(m.logDensity(y, L) - lp0);
  }
  return ((n % 2 === 0 ? 1 : -1) * s) / (2 * h) ** n;
}

const dirs = [Float64Array.from([1, 0.5]), Float64Array.from([-0.3, 1]), Float64Array.from([0.7, -0.6]), Float64Array.from([0.2, 0.9])];

test('1-D mixture: derivatives of −log f match finite differences of log f', () => {
  const mix: Mixture1D = { weights: [0.25, 0.75], means: [-1, 0.4], variances: [0.3, 0.8] };
  const d = new Float64Array(4);
  for (const z of [-2.5, -0.7, 0, 0.3, 1.9]) {
    mixtureNegLogDerivatives(mix, z, 4, d);
    const phi = (v: number) => -mixtureLogDensity(mix, v);
    const h = 1e-3;
    const d1 = (phi(z + h) - phi(z - h)) / (2 * h);
    const d2 = (phi(z + h) - 2 * phi(z) + phi(z - h)) / (h * h);
    const H = 1e-2;
    const d3 = (phi(z + 2 * H) - 2 * phi(z + H) + 2 * phi(z - H) - phi(z - 2 * H)) / (2 * H ** 3);
    const d4 = (phi(z + 2 * H) - 4 * phi(z + H) + 6 * phi(z) - 4 * phi(z - H) + phi(z - 2 * H)) / H ** 4;
    // Truncation O(h²·φ⁽ⁿ⁺²⁾) ≈ 1e-6 (h = 1e-3) and 1e-4·|φ⁽ⁿ⁺²⁾| (H = 1e-2), rounding eps/Hⁿ ≤ 1e-8.
    assert.ok(Math.abs(d[0] - d1) < 1e-6 * (1 + Math.abs(d1)), `φ' at ${z}`);
    assert.ok(Math.abs(d[1] - d2) < 1e-5 * (1 + Math.abs(d2)), `φ'' at ${z}`);
    assert.ok(Math.abs(d[2] - d3) < 2e-3 * (1 + Math.abs(d3)), `φ''' at ${z}: ${d[2]} vs ${d3}`);
    assert.ok(Math.abs(d[3] - d4) < 5e-3 * (1 + Math.abs(d4)), `φ'''' at ${z}: ${d[3]} vs ${d4}`);
  }
});

test('set partitions: Bell numbers; complete Bell polynomials of Gaussian cumulants are Hermite', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => setPartitions(n).length), [1, 2, 5, 15, 52]);
  // κ = (x, −v, 0, 0): B_n = He_n(x; v): He_3 = x³ − 3vx, He_4 = x⁴ − 6vx² + 3v².
  const x = 0.7, v = 1.3, B = completeBell([0, x, -v, 0, 0], 4, new Float64Array(5));
  assert.ok(Math.abs(B[3] - (x ** 3 - 3 * v * x)) < 1e-14);
  assert.ok(Math.abs(B[4] - (x ** 4 - 6 * v * x * x + 3 * v * v)) < 1e-13);
});

test('scores of every order and every mixed score match finite differences of the sequence density (boundary steps included)', () => {
  const m = planted();
  const cases: ScoreMode[][] = [];
  for (let t = 0; t < L; t++) {
    cases.push([{ step: t, u: dirs[0] }]);
    cases.push([{ step: t, u: dirs[0] }, { step: t, u: dirs[1] }]);
    cases.push([{ step: t, u: dirs[0] }, { step: t, u: dirs[1] }, { step: t, u: dirs[2] }]);
    if (t >= 1) {
      cases.push([{ step: t, u: dirs[0] }, { step: t - 1, u: dirs[1] }, { step: t - 1, u: dirs[2] }]); // H(t; t−1, t−1)
      cases.push([{ step: t, u: dirs[0] }, { step: t, u: dirs[1] }, { step: t - 1, u: dirs[2] }]); // H(t²; t−1)
      cases.push([{ step: t, u: dirs[0] }, { step: t - 1, u: dirs[1] }]);
    }
    if (t + 1 < L) cases.push([{ step: t, u: dirs[0] }, { step: t + 1, u: dirs[1] }, { step: t + 1, u: dirs[2] }]); // H(t; t+1, t+1)
    if (t >= 1 && t + 1 < L) cases.push([{ step: t - 1, u: dirs[0] }, { step: t, u: dirs[1] }, { step: t + 1, u: dirs[2] }]);
  }
  for (const seed of [1, 2, 3]) {
    const x = sampleSeq(m, seed);
    const sd = sequenceDerivatives(m, x, L, 4);
    for (const modes of cases) {
      const n = modes.length;
      // h balances truncation O(h²) against rounding eps/hⁿ: errors ≲ 1e-7 (n = 1, 2), 1e-5 (n = 3).
      const h = n === 1 ? 1e-5 : n === 2 ? 1e-4 : 1e-3;
      const fd = fdScore(m, x, modes, h);
      const ex = scoreContract(m, sd, modes);
      const tol = (n === 3 ? 1e-4 : 1e-6) * (1 + Math.abs(fd));
      assert.ok(Math.abs(ex - fd) < tol, `seed ${seed} modes ${JSON.stringify(modes.map((q) => q.step))}: exact ${ex} vs fd ${fd}`);
    }
    // Order 4 at one step (degree-4 polynomial activations): central differences at h = 2e-2 and 1e-2 combined by
    // Richardson extrapolation (removes the O(h²) term; what is left is O(h⁴) ≈ 1e-7 and rounding eps/h⁴ ≈ 1e-8).
    for (const t of [0, 1, L - 1]) {
      const modes = [0, 1, 2, 3].map((j) => ({ step: t, u: dirs[j] }));
      const fd = (4 * fdScore(m, x, modes, 1e-2) - fdScore(m, x, modes, 2e-2)) / 3;
      const ex = scoreContract(m, sd, modes);
      assert.ok(Math.abs(ex - fd) < 1e-4 * (1 + Math.abs(fd)), `S4 at step ${t}: ${ex} vs ${fd}`);
    }
    // scoreSequence = S1 of the reference
    const g = new Float64Array(L * dx);
    m.scoreSequence(x, L, g);
    for (let t = 0; t < L; t++) {
      const e = scoreContract(m, sd, [{ step: t, u: [1, 0] }]);
      assert.ok(Math.abs(g[t * dx] - e) < 1e-12 * (1 + Math.abs(e)));
    }
  }
});

test('one zero-mean component per coordinate: the same scores as the Gaussian VAR(1), to rounding', () => {
  const F = Matrix.from([[0.5, 0.2], [-0.1, 0.3]]);
  const W = Matrix.from([[1.3, 0.4], [-0.2, 0.9]]);
  const v = [0.7, 1.6];
  const m = new MixtureVAR1([0.2, -0.1], F, W, v.map((vi) => ({ weights: [1], means: [0], variances: [vi] })));
  assert.equal(m.firstExactStep, 0);
  const g = new GaussianVAR1([0.2, -0.1], F, m.Q); // Q = W⁻¹ diag(v) W⁻ᵀ
  const x = sampleSeq(m, 5);
  const s1 = new Float64Array(L * dx), s2 = new Float64Array(L * dx);
  m.scoreSequence(x, L, s1);
  g.scoreSequence(x, L, s2);
  for (let i = 0; i < s1.length; i++) assert.ok(Math.abs(s1[i] - s2[i]) < 1e-12 * (1 + Math.abs(s2[i])), `S1[${i}] ${s1[i]} vs ${s2[i]}`);
  const sd = sequenceDerivatives(m, x, L, 4);
  const row = (t: number) => s2.subarray(t * dx, (t + 1) * dx);
  const [u, w, z] = dirs;
  for (let t = 0; t < L; t++) {
    const P = g.precisionBlock(t, t, L)!;
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-11 * (1 + Math.abs(b)), `${what} at t=${t}: ${a} vs ${b}`);
    close(scoreContract(m, sd, [{ step: t, u }, { step: t, u: w }]), hermite2Contract(row(t), P, u, w), 'S2');
    close(scoreContract(m, sd, [{ step: t, u }, { step: t, u: w }, { step: t, u: z }]), hermite3Contract(row(t), P, u, w, z), 'S3');
    if (t >= 1) {
      const Pu = g.precisionBlock(t - 1, t - 1, L)!, Lb = g.precisionBlock(t, t - 1, L)!;
      close(scoreContract(m, sd, [{ step: t, u }, { step: t - 1, u: w }, { step: t - 1, u: z }]), mixedContract(row(t), row(t - 1), Pu, Lb, u, w, z), 'H(t;t−1,t−1)');
    }
  }
});

test('mixture-var1 JSON round trip gives the same scores; precisionBlock refuses', () => {
  const m = planted();
  const back = inputModelFromJSON(JSON.parse(JSON.stringify(m.toJSON())));
  const x = sampleSeq(m, 9);
  const a = new Float64Array(L * dx), b = new Float64Array(L * dx);
  m.scoreSequence(x, L, a);
  back.scoreSequence(x, L, b);
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.throws(() => m.precisionBlock(), /data-dependent/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, SequenceChunk } from '../src/io/dataset.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { fitMixture1D, mixtureVariance, selectMixture1D } from '../src/input/mixture1d.js';
import { fastICA } from '../src/input/ica.js';
import { fitInputModelAuto, jarqueBera } from '../src/input/auto.js';

function inputs(m: GaussianVAR1 | MixtureVAR1, nSeq: number, L: number, seed: number): SequenceChunk {
  const lengths = new Int32Array(nSeq).fill(L);
  return makeChunk(m.dx, 0, m.simulate(new Rng(seed), lengths), new Float64Array(0), lengths);
}

test('EM recovers a planted 1-D mixture and BIC picks its number of components', () => {
  const rng = new Rng(4), n = 20000, z = new Float64Array(n);
  for (let i = 0; i < n; i++) z[i] = rng.uniform() < 0.3 ? -1.5 + 0.4 * rng.normal() : 0.8 + 0.6 * rng.normal();
  const sel = selectMixture1D(z, 4);
  assert.equal(sel.mixture.weights.length, 2);
  const order = sel.mixture.means[0] < sel.mixture.means[1] ? [0, 1] : [1, 0];
  // Maximum-likelihood estimates with n = 2e4: standard errors ≈ 0.01 (weights, means), so 0.05 is > 4 SE.
  assert.ok(Math.abs(sel.mixture.weights[order[0]] - 0.3) < 0.03);
  assert.ok(Math.abs(sel.mixture.means[order[0]] + 1.5) < 0.05 && Math.abs(sel.mixture.means[order[1]] - 0.8) < 0.05);
  assert.ok(Math.abs(Math.sqrt(sel.mixture.variances[order[1]]) - 0.6) < 0.05);
  // Gaussian data: one component.
  for (let i = 0; i < n; i++) z[i] = rng.normal();
  assert.equal(selectMixture1D(z, 4).mixture.weights.length, 1);
  assert.ok(Math.abs(mixtureVariance(fitMixture1D(z, 1).mixture) - 1) < 0.05);
});

test('FastICA recovers a planted mixing of Laplace sources up to order and sign; deterministic per seed', () => {
  const rng = new Rng(8), n = 20000, A = Matrix.from([[1, 0.6], [-0.3, 0.8]]);
  const eps = new Float64Array(2 * n);
  for (let r = 0; r < n; r++) {
    const s = [0, 1].map(() => {
      const u = rng.uniform() - 0.5;
      return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
    });
    eps[2 * r] = A.data[0] * s[0] + A.data[1] * s[1];
    eps[2 * r + 1] = A.data[2] * s[0] + A.data[3] * s[1];
  }
  const ica = fastICA(eps, 2, { seed: 3 });
  assert.ok(ica.converged);
  // W A must be a scaled signed permutation: in each row one entry dominates (ICA error ~ 1/√n ≈ 0.01).
  const WA = [0, 1].map((i) => [0, 1].map((j) => ica.W.data[i * 2] * A.data[j] + ica.W.data[i * 2 + 1] * A.data[2 + j]));
  for (const row of WA) {
    const [big, small] = Math.abs(row[0]) > Math.abs(row[1]) ? [row[0], row[1]] : [row[1], row[0]];
    assert.ok(Math.abs(small / big) < 0.05, `W A row ${row}`);
  }
  assert.deepEqual(fastICA(eps, 2, { seed: 3 }).W.toArray(), ica.W.toArray());
});

test('auto: Gaussian VAR(1) data keep the Gaussian model; mixture innovations get the mixture model, deterministically', async () => {
  const F = Matrix.from([[0.5, 0.1], [0, 0.4]]);
  const g = new GaussianVAR1([0.3, -0.2], F, Matrix.from([[0.5, 0.1], [0.1, 0.4]]));
  const a = await fitInputModelAuto(inputs(g, 1000, 10, 1));
  assert.equal(a.diagnostics.choice, 'gaussian');
  assert.ok(a.model instanceof GaussianVAR1);
  for (const c of a.diagnostics.coordinates) assert.ok(c.pValue >= a.diagnostics.threshold);
  const m = new MixtureVAR1([0.3, -0.2], F, Matrix.from([[1.2, 0.3], [-0.2, 1]]), [
    { weights: [0.5, 0.5], means: [0, 0], variances: [0.2, 2] },
    { weights: [0.7, 0.3], means: [-0.4, 0.9333333333333333], variances: [0.3, 0.3] },
  ]);
  const data = inputs(m, 1000, 10, 2);
  // The second component is bimodal (negative excess kurtosis): by default it gets the polynomial Stein
  // representers, which have no density; the density check below needs the mixtures, so they are forced.
  const byDefault = await fitInputModelAuto(data, { seed: 5 });
  assert.deepEqual(byDefault.diagnostics.mixture!.components.map((c) => c.family), ['mixture', 'stein-poly']);
  const b = await fitInputModelAuto(data, { seed: 5, family: 'mixture' });
  assert.equal(b.diagnostics.choice, 'mixture');
  assert.ok(b.model instanceof MixtureVAR1);
  assert.ok(b.diagnostics.mixture!.components.every((c) => c.weights.length >= 2));
  const again = await fitInputModelAuto(data, { seed: 5, family: 'mixture' });
  assert.equal(JSON.stringify(again.model.toJSON()), JSON.stringify(b.model.toJSON()));
  // The fitted model's F is the least-squares one; its density is close to the planted one on fresh data
  // (mean log-likelihood per sequence within 1% of the planted model's).
  const test = inputs(m, 300, 10, 99);
  let lpTrue = 0, lpFit = 0;
  for (let k = 0; k < 300; k++) {
    lpTrue += m.logDensity(test.x, 10, k * 20);
    lpFit += (b.model as MixtureVAR1).logDensity(test.x, 10, k * 20);
  }
  assert.ok(Math.abs(lpFit - lpTrue) < 0.01 * Math.abs(lpTrue), `log-lik ${lpFit} vs planted ${lpTrue}`);
});

test('Jarque–Bera: statistic and χ²₂ tail', () => {
  const r = jarqueBera(0.1, 0.2, 600);
  assert.ok(Math.abs(r.jb - 600 * (0.01 / 6 + 0.04 / 24)) < 1e-12);
  assert.ok(Math.abs(r.pValue - Math.exp(-r.jb / 2)) < 1e-15);
});

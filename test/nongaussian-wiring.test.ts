import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, SequenceChunk } from '../src/io/dataset.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { Mixture1D } from '../src/input/mixture1d.js';
import { scoreContract, sequenceDerivatives } from '../src/input/nongaussian-scores.js';
import { chunkScores } from '../src/moments/accumulator.js';
import { HermiteMomentAccumulator } from '../src/moments/higher.js';
import { NGStepMomentAccumulator, diagonalFor } from '../src/moments/nongaussian-higher.js';
import { DiagonalHermiteAccumulator } from '../src/moments/higher.js';
import { fitGloree } from '../src/learn/gloree.js';
import { fitRNN } from '../src/learn/fit.js';
import { randomIORNN } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { modelToJSON } from '../src/models/serialize.js';
import { renderReport } from '../src/report/html.js';
import { activationFromSpec } from '../src/models/activation.js';

/**
 * The non-Gaussian input model wired into the learners (docs/non-gaussian-inputs.md): the order-l single-step
 * moment against the partition-sum reference and the Gaussian accumulator, and the pipeline's input-model choice.
 */
const dx = 2;
const F = Matrix.from([[0.5, 0.2], [-0.1, 0.3]]);
const W = Matrix.from([[1.3, 0.4], [-0.2, 0.9]]);
const comps: Mixture1D[] = [
  { weights: [0.3, 0.7], means: [-0.8, 0.35], variances: [0.5, 0.3] },
  { weights: [0.2, 0.5, 0.3], means: [0.1, 0, -0.2], variances: [3, 0.4, 0.9] },
];
const model = new MixtureVAR1([0.2, -0.1], F, W, comps);

function withY(c: SequenceChunk, dy: number, seed: number): SequenceChunk {
  const rng = new Rng(seed);
  return makeChunk(c.dx, dy, c.x, rng.normalArray(c.rows * dy), c.lengths);
}

test('order-l single-step moment (l = 1..4, projected and not) equals the brute-force partition-sum scores', () => {
  const lengths = Int32Array.from([4, 6, 3]);
  const c = withY(makeChunk(dx, 0, model.simulate(new Rng(5), lengths), new Float64Array(0), lengths), 2, 6);
  const Q = Matrix.from([[0.8, -0.3, 0.1], [0.2, 0.9, -1.1]]); // dx×3: k > dx exercises the index arithmetic
  for (const l of [1, 2, 3, 4]) {
    const modes = Array.from({ length: l }, (_, j) => ({ lag: 0 as const, Q: j % 2 === 0 ? Q : null }));
    const acc = new NGStepMomentAccumulator(model, 2, modes, { skipLast: 1 }).add(c, null, c.y);
    const k = modes.map((m) => (m.Q ? m.Q.cols : dx));
    const E = k.reduce((a, b) => a * b, 1);
    const want = new Float64Array(2 * E);
    let count = 0, row = 0;
    for (const L of c.lengths) {
      const sd = sequenceDerivatives(model, c.x, L, 4, row * dx);
      for (let t = 1; t < L - 1; t++, count++) {
        const idx = new Array(l).fill(0);
        for (let e = 0; e < E; e++) {
          const ms = idx.map((ix, j) => {
            const Qj = modes[j].Q;
            const u = Qj ? [Qj.get(0, ix), Qj.get(1, ix)] : ix === 0 ? [1, 0] : [0, 1];
            return { step: t, u };
          });
          const s = scoreContract(model, sd, ms);
          for (let i = 0; i < 2; i++) want[i * E + e] += c.y[(row + t) * 2 + i] * s;
          for (let z = l - 1; z >= 0; z--) {
            if (++idx[z] < k[z]) break;
            idx[z] = 0;
          }
        }
      }
      row += L;
    }
    assert.equal(acc.count, count);
    const got = acc.result();
    // Same sums in another order: agreement to rounding (values are O(10²) for l = 4).
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i] / count) < 1e-10 * (1 + Math.abs(want[i] / count)), `l=${l} entry ${i}: ${got[i]} vs ${want[i] / count}`);
  }
});

test('order-3 single-step moment and the degree-2 P2 moment: one zero-mean component per coordinate gives the Gaussian ones', () => {
  const g = new GaussianVAR1([0.2, -0.1], F, Matrix.from([[0.6, 0.1], [0.1, 0.8]]));
  const m = MixtureVAR1.fromGaussian(g);
  const lengths = Int32Array.from([5, 7, 3]);
  const c = withY(makeChunk(dx, 0, g.simulate(new Rng(3), lengths), new Float64Array(0), lengths), 2, 4);
  const Q = Matrix.from([[0.8, -0.3, 0.1], [0.2, 0.9, -1.1]]);
  const modes = [{ lag: 0 as const, Q }, { lag: 0 as const, Q: null }, { lag: 0 as const, Q }];
  const a = new HermiteMomentAccumulator(g, 2, modes).add(c, chunkScores(g, c), c.y).result();
  const b = new NGStepMomentAccumulator(m, 2, modes).add(c, null, c.y).result();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-11 * (1 + Math.abs(a[i])), `${a[i]} vs ${b[i]}`);
  // The degree-2 'P2' diagonal moment (dy×dh×dh) and its non-Gaussian twin.
  const G = Matrix.from([[1.2, 0.5], [-0.2, 0.7]]);
  const p2g = new DiagonalHermiteAccumulator(g, 2, G, 'P2', 2).add(c, chunkScores(g, c), c.y).result();
  const p2n = diagonalFor(m, 2, G, 'P2', 2);
  p2n.add(c, null, c.y);
  const r = p2n.result();
  for (let i = 0; i < p2g.length; i++) assert.ok(Math.abs(p2g[i] - r[i]) < 1e-11 * (1 + Math.abs(p2g[i])), `P2 ${i}: ${p2g[i]} vs ${r[i]}`);
});

/** Planted z² IO-RNN on VAR(1) inputs with unit-variance innovations of the given kind. */
function planted(kind: 'gaussian' | 'laplace', nSeq: number, seed: number, dh = 2): { data: SequenceChunk; truth: ReturnType<typeof randomIORNN> } {
  const D = 3, L = 20, rng = new Rng(seed), x = new Float64Array(nSeq * L * D), c = new Float64Array(D);
  const draw = () => {
    if (kind === 'gaussian') return rng.normal();
    const u = rng.uniform() - 0.5;
    return (-Math.sign(u) * Math.log(1 - 2 * Math.abs(u))) / Math.SQRT2;
  };
  let r = 0;
  for (let s = 0; s < nSeq; s++) {
    c.fill(0);
    for (let t = -30; t < L; t++) {
      for (let a = 0; a < D; a++) c[a] = 0.5 * c[a] + 0.35 * draw();
      if (t >= 0) x.set(c, (r++) * D);
    }
  }
  const lengths = new Int32Array(nSeq).fill(L);
  const truth = randomIORNN({ dx: D, dh, dy: 3, uNorm: 0.3, seed });
  const y = predictIORNN(truth, makeChunk(D, 0, x, new Float64Array(0), lengths));
  for (let i = 0; i < y.length; i++) y[i] += 0.05 * rng.normal();
  return { data: makeChunk(D, 3, x, y, lengths), truth };
}

test('auto on Gaussian data keeps the Gaussian VAR(1): the same model file bits as --input-model var1, and the choice with its evidence in the diagnostics', async () => {
  const { data } = planted('gaussian', 300, 1);
  const a = await fitGloree(data, { hidden: 2, seed: 3 });
  const v = await fitGloree(data, { hidden: 2, seed: 3, inputModel: 'var1' });
  assert.equal(JSON.stringify(modelToJSON(a.params, { inputModel: a.inputModel.toJSON() })), JSON.stringify(modelToJSON(v.params, { inputModel: v.inputModel.toJSON() })));
  const sel = (a.diagnostics.inputModel as { selection?: { choice: string; coordinates: { pValue: number }[]; threshold: number } }).selection!;
  assert.equal(sel.choice, 'gaussian');
  assert.equal(sel.coordinates.length, 3);
  assert.ok(sel.coordinates.every((c) => c.pValue >= sel.threshold));
  assert.equal((v.diagnostics.inputModel as { selection?: unknown }).selection, undefined);
});

test('auto on Laplace-innovation data picks the mixture model; every learner runs on it, deterministic per seed', async () => {
  const { data } = planted('laplace', 400, 2);
  const a = await fitGloree(data, { hidden: 2, seed: 3, refine: false });
  assert.equal(a.inputModel.kind, 'mixture-var1');
  const sel = (a.diagnostics.inputModel as { selection?: { choice: string; mixture?: { components: unknown[] } } }).selection!;
  assert.equal(sel.choice, 'mixture');
  assert.equal(sel.mixture!.components.length, 3);
  assert.ok(!a.diagnostics.warnings.some((w) => w.includes('look non-Gaussian')), 'the Gaussian-scores warning is answered by the model');
  const again = await fitGloree(data, { hidden: 2, seed: 3, refine: false });
  assert.equal(JSON.stringify(modelToJSON(a.params, { inputModel: a.inputModel.toJSON(), diagnostics: a.diagnostics })), JSON.stringify(modelToJSON(again.params, { inputModel: again.inputModel.toJSON(), diagnostics: again.diagnostics })));
  const b = await fitRNN(data, { kind: 'brnn', hidden: 1, backward: 1, refine: false, seed: 3 });
  assert.equal(b.inputModel.kind, 'mixture-var1');
  const p = await fitRNN(data, { hidden: 2, activation: { coefficients: [0, 0, 0, 1] }, refine: false, seed: 3 });
  assert.equal(p.inputModel.kind, 'mixture-var1');
  // The smooth, linear and degree-2-with-lower-terms ('P2' moment) learners too.
  const others = [];
  for (const act of ['tanh', 'linear', '0,0.3,1']) {
    const r = await fitRNN(data, { hidden: 2, activation: activationFromSpec(act), refine: false, seed: 3 });
    assert.equal(r.inputModel.kind, 'mixture-var1', act);
    others.push(r);
  }
  for (const r of [b, p, ...others]) for (const v of Object.values(r.params)) if (v instanceof Matrix) assert.ok(v.data.every(Number.isFinite));
  // The report states the choice, its evidence and the scores of every independent component.
  const html = renderReport({ model: { params: a.params, inputModel: a.inputModel.toJSON(), diagnostics: a.diagnostics } });
  assert.match(html, /chose <b>non-Gaussian innovations<\/b>/);
  assert.match(html, /Gaussian mixture, \d components/);
  assert.match(html, /x3<\/th><td class="num">skewness/);
  // 'var1' stays selectable and gives the Gaussian model.
  const v = await fitGloree(data, { hidden: 2, seed: 3, refine: false, inputModel: 'var1' });
  assert.equal(v.inputModel.kind, 'gaussian-var1');
});

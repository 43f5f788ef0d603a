import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/random/rng.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { OptionError } from '../src/io/errors.js';
import { SCENARIOS, simulateScenario } from '../src/models/simulate.js';
import { predict } from '../src/models/brnn.js';
import { saveModel } from '../src/models/serialize.js';
import { fitGloree } from '../src/learn/gloree.js';
import { fitRNN } from '../src/learn/fit.js';
import { renderReport } from '../src/report/html.js';
import { fmt } from '../src/report/charts.js';
import { main } from '../src/cli/main.js';

/**
 * The shared stages of the learner pipeline (src/learn/pipeline.ts): stability on the training data, timings out of
 * the model file, options errors as data, and the report for every learner's typed diagnostics.
 */

/**
 * VAR(1) inputs with Student-t(3) innovations (unit variance, excess kurtosis infinite) and outputs of a planted
 * IO-RNN whose states saturate (h = tanh(z²)), so the data themselves are finite while a fitted σ = z² model meets
 * inputs far in the tails.
 */
function heavyTailed(nSeq: number, seed: number): SequenceChunk {
  const rng = new Rng(seed);
  const dx = 4, dh = 4, dy = 4, L = 20, rho = 0.6, sx = 0.4, nu = 3;
  const t = (): number => {
    let c = 0;
    for (let i = 0; i < nu; i++) c += rng.normal() ** 2;
    return (rng.normal() / Math.sqrt(c / nu)) * Math.sqrt((nu - 2) / nu);
  };
  const A1 = Array.from({ length: dh }, () => {
    const r = Array.from({ length: dx }, () => rng.normal());
    const n = Math.hypot(...r);
    return r.map((v) => v / n);
  });
  const U = Array.from({ length: dh }, () => Array.from({ length: dh }, () => 0.15 * rng.normal()));
  const A2 = Array.from({ length: dh }, () => Array.from({ length: dy }, () => rng.normal()));
  const x = new Float64Array(nSeq * L * dx), y = new Float64Array(nSeq * L * dy);
  for (let s = 0, r = 0; s < nSeq; s++) {
    let xt = Array.from({ length: dx }, () => sx * t());
    let h = new Array<number>(dh).fill(0);
    for (let k = 0; k < L; k++, r++) {
      if (k > 0) xt = xt.map((v) => rho * v + sx * Math.sqrt(1 - rho * rho) * t());
      h = A1.map((a, j) => {
        const z = a.reduce((acc, w, i) => acc + w * xt[i], 0) + U[j].reduce((acc, u, i) => acc + u * h[i], 0);
        return Math.tanh(z * z);
      });
      x.set(xt, r * dx);
      for (let i = 0; i < dy; i++) y[r * dy + i] = h.reduce((acc, hj, j) => acc + A2[j][i] * hj, 0) + 0.05 * rng.normal();
    }
  }
  return makeChunk(dx, dy, x, y, new Array(nSeq).fill(L));
}

test('stability: with Student-t inputs the fitted model runs on its own training data (it blew up before), and says how it was stabilised', async () => {
  const data = heavyTailed(3000, 1);
  // Without refinement the spectral σ = z² estimate blows up on these data (it did in the starting commit, and
  // the fit still exited with that model); with refinement on a small subsample the refined model did too.
  for (const opts of [{ refine: false }, { refine: true, refineMaxRows: 2000 }]) {
    const fit = await fitGloree(data, { hidden: 4, seed: 0, ...opts });
    const st = fit.diagnostics.stabilised;
    assert.ok(st, 'the stability stage replaced the model');
    assert.equal(st.rejected[0].candidate, opts.refine ? 'refined' : 'spectral');
    assert.match(st.rejected[0].reason, /blows up/);
    // The kept model runs on every training sequence (this is what `predict`/`evaluate` do on the training file).
    const yhat = predict(fit.params, data);
    // Its training MSE, computed here by predicting, equals the MSE the stage chose it by (normal equations);
    // both are sums of ~2.4e5 squares, so they agree to rounding (1e-9 relative is far above it).
    let sse = 0;
    for (let i = 0; i < yhat.length; i++) sse += (yhat[i] - data.y[i]) ** 2;
    const kept = st.stable.find((c) => c.candidate === st.kept)!;
    assert.ok(Math.abs(sse / yhat.length - kept.mse) <= 1e-9 * kept.mse, `MSE ${sse / yhat.length} vs ${kept.mse}`);
    for (const c of st.stable) assert.ok(kept.mse <= c.mse, 'the kept candidate has the lowest training MSE');
  }
});

test('stability: a model that runs on its training data is returned unchanged (no stabilised block)', async () => {
  const { data } = simulateScenario(SCENARIOS.default, { nSeq: 300, seed: 3 });
  const fit = await fitGloree(data, { hidden: 4, seed: 0, refine: false });
  assert.equal(fit.diagnostics.stabilised, undefined);
  assert.equal(fit.diagnostics.learner, 'gloree');
});

test('the same data and seed give a byte-identical model file; timings are returned next to the model, not in it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-pipeline-'));
  try {
    const { data } = simulateScenario(SCENARIOS.default, { nSeq: 400, seed: 5 });
    const files: string[] = [];
    for (const k of [0, 1]) {
      const fit = await fitGloree(data, { hidden: 4, seed: 2 });
      assert.ok(fit.timingsMs.refine !== undefined && fit.timingsMs.output_layer !== undefined, 'per-stage timings are returned');
      files.push(path.join(dir, `m${k}.json`));
      await saveModel(files[k], fit.params, { inputModel: fit.inputModel.toJSON(), diagnostics: fit.diagnostics });
    }
    const [a, b] = files.map((f) => readFileSync(f, 'utf8'));
    assert.equal(a, b);
    assert.doesNotMatch(a, /"timingsMs"|"timeMs"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('option errors are data: the library names its option, the CLI its flag', async () => {
  const { data } = simulateScenario(SCENARIOS.default, { nSeq: 50, seed: 1 });
  await assert.rejects(
    () => fitGloree(data, { hidden: 9 }),
    (e: unknown) => e instanceof OptionError && e.option === 'hidden' && e.value === 9 && !/--/.test(e.message) && /hidden 9 is larger than the input dimension dx = 4/.test(e.message),
  );
  await assert.rejects(
    () => fitRNN(data, { kind: 'brnn', hidden: 'auto', backward: 1 }),
    (e: unknown) => e instanceof OptionError && e.option === 'hidden' && e.render((o) => `--${o}`) === '--hidden auto with --backward: give both sizes, or only --hidden (the total) to infer the split',
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-pipeline-'));
  try {
    const csv = path.join(dir, 'd.csv');
    const lines = ['seq,x1,x2,y1,y2'];
    for (let s = 0; s < 20; s++) for (let t = 0; t < 5; t++) lines.push(`${s},${Math.sin(s + t)},${Math.cos(3 * s - t)},${Math.sin(s * t)},${t / 5}`);
    await import('node:fs').then((fs) => fs.writeFileSync(csv, lines.join('\n') + '\n'));
    const err: string[] = [];
    const code = await main(['node', 'gloree', 'fit', csv, '--hidden', '3', '--out', path.join(dir, 'm.json')], { out: () => {}, err: (t) => void err.push(t) });
    assert.equal(code, 1);
    assert.match(err.join(''), /^gloree: --hidden 3 is larger than the input dimension dx = 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the report renders every learner: IO-RNN, BRNN (pinv of [Â1; B̂1]) and polynomial (its CP and T2 spectrum)', async () => {
  const io = await fitRNN(simulateScenario(SCENARIOS.default, { nSeq: 400, seed: 1 }).data, { hidden: 4, refine: false });
  const br = await fitRNN(simulateScenario(SCENARIOS.brnn, { nSeq: 400, seed: 1 }).data, { kind: 'brnn', hidden: 4, refine: false });
  const cu = await fitRNN(simulateScenario(SCENARIOS.cubic, { nSeq: 400, seed: 1 }).data, { hidden: 3, activation: { coefficients: [0, 0.1, 0.5, 1] }, refine: false });
  const html = (r: typeof io) => renderReport({ model: { params: r.params, diagnostics: JSON.parse(JSON.stringify(r.diagnostics)) } });
  const noCP = /The model file has no CP diagnostics/;

  const d1 = io.diagnostics;
  assert.equal(d1.learner, 'gloree');
  if (d1.learner !== 'gloree') return;
  const h1 = html(io);
  assert.doesNotMatch(h1, noCP);
  assert.ok(h1.includes(`pinv(Â1): condition number</th><td class="num">${fmt(d1.pinv.A1.cond)}`));

  const d2 = br.diagnostics;
  assert.equal(d2.learner, 'gloree-b');
  if (d2.learner !== 'gloree-b') return;
  const h2 = html(br);
  assert.doesNotMatch(h2, noCP);
  assert.ok(h2.includes(`pinv([Â1; B̂1]): condition number</th><td class="num">${fmt(d2.pinv.AB.cond)}`), 'BRNN pseudo-inverse shown, not "—"');
  assert.ok(h2.includes('forward/backward split'));
  assert.match(h2, /id="fig-spectrum"/);

  const d3 = cu.diagnostics;
  assert.equal(d3.learner, 'gloree-poly');
  if (d3.learner !== 'gloree-poly') return;
  const h3 = html(cu);
  assert.doesNotMatch(h3, noCP);
  assert.doesNotMatch(h3, /No T2 spectrum available/);
  assert.match(h3, /id="fig-spectrum"/);
  assert.equal(d3.directions.route, 'S2');
  assert.ok(h3.includes(`relative residual of the CP (after ALS)</th><td class="num">${fmt(d3.directions.cpResidual)}`));
  assert.ok(h3.includes(`pinv(Â1): condition number</th><td class="num">${fmt(d3.pinv.A1.cond)}`));
});

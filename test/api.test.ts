import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CP, CPModel, GLOREE, Matrix, RNNModel, SCENARIOS, UserError, fitRNN, fromNested, makeChunk, saveModel, simulateScenario, toNested,
} from '../src/index.js';
import { Rng } from '../src/random/rng.js';
import { cpToTensor } from '../src/tensor/products.js';

// The estimator convention (options in the constructor; fit → a new fitted model; predict, score, save, static
// load), nested-array sequences, and the JSON forms. Ground truths: the flat-chunk path the learners have always
// used, NMSE by its formula written out here, the planted model, and exact file bytes.

const tmp = mkdtempSync(path.join(tmpdir(), 'gloree-api-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const sc = SCENARIOS.rect; // dx = 6, dh = 3, dy = 5
const train = simulateScenario(sc, { nSeq: 300, seed: 2 });
const held = simulateScenario(sc, { nSeq: 100, seed: 3 });
const opts = { hidden: 3, seed: 4, refine: false } as const;

/** NMSE written out: Σ‖ŷ − y‖² / Σ_i Σ_t (y_ti − ȳ_i)². */
function nmseByHand(yhat: ArrayLike<number>, y: ArrayLike<number>, dy: number): number {
  const rows = y.length / dy;
  let num = 0, den = 0;
  for (let i = 0; i < dy; i++) {
    let m = 0;
    for (let r = 0; r < rows; r++) m += y[r * dy + i]!;
    m /= rows;
    for (let r = 0; r < rows; r++) {
      num += (yhat[r * dy + i]! - y[r * dy + i]!) ** 2;
      den += (y[r * dy + i]! - m) ** 2;
    }
  }
  return num / den;
}

test('GLOREE.fit returns a new RNNModel; nested arrays and the flat chunk give the same model bit for bit', async () => {
  const est = new GLOREE(opts);
  const a = await est.fit(train.data);
  assert.ok(a instanceof RNNModel);
  assert.notEqual(a as unknown, est as unknown);
  const x = toNested(train.data.x, train.data.lengths, sc.dx);
  const y = toNested(train.data.y, train.data.lengths, sc.dy);
  assert.equal(x.length, 300);
  assert.equal(x[0]!.length, 20);
  assert.equal(x[0]![0]!.length, sc.dx);
  assert.equal(x[1]![2]![3], train.data.x[(20 + 2) * sc.dx + 3]); // [sequence][time][feature] of row-major rows
  const b = await est.fit({ x, y }); // the same estimator fits again, unchanged
  assert.deepEqual(est.options, opts);
  for (const k of ['A1', 'U', 'A2'] as const) assert.deepEqual(b.params[k].data, a.params[k].data, k);
  assert.deepEqual(b.params.b, a.params.b);
  // Predict mirrors its input: nested in, nested out; a chunk in, rows×dy out.
  const nested = a.predict(toNested(held.data.x, held.data.lengths, sc.dx));
  const flat = a.predict(held.data);
  assert.equal(flat.length, held.data.rows * sc.dy);
  assert.deepEqual(nested, toNested(flat, held.data.lengths, sc.dy));
  assert.equal(a.dx, sc.dx);
  assert.equal(a.dy, sc.dy);
});

test('score is the NMSE; the planted model scores 0 on its noise-free outputs', async () => {
  const m = await new GLOREE(opts).fit(train.data);
  const s = m.score(held.data);
  assert.ok(Math.abs(s - nmseByHand(m.predict(held.data), held.data.y, sc.dy)) < 1e-12 * s, `score ${s}`);
  const nested = { x: toNested(held.data.x, held.data.lengths, sc.dx), y: toNested(held.data.y, held.data.lengths, sc.dy) };
  assert.equal(m.score(nested), s);
  const truth = new RNNModel(train.model);
  const clean = makeChunk(sc.dx, sc.dy, held.data.x, held.clean, held.data.lengths);
  assert.equal(truth.score(clean), 0);
  // On noisy outputs the truth scores the noise share: noise² · dy / Σ var(y) up to sampling error.
  assert.ok(truth.score(held.data) > 0 && truth.score(held.data) < s + 1e-3);
});

test('save writes the same bytes as fitRNN + saveModel (the CLI path); load returns a fitted model that predicts the same bits', async () => {
  const m = await new GLOREE(opts).fit(train.data);
  const f1 = path.join(tmp, 'api.json'), f2 = path.join(tmp, 'functional.json');
  await m.save(f1);
  const r = await fitRNN(train.data, opts);
  await saveModel(f2, r.params, { inputModel: r.inputModel.toJSON(), diagnostics: r.diagnostics });
  assert.equal(readFileSync(f1, 'utf8'), readFileSync(f2, 'utf8'));
  const loaded = await RNNModel.load(f1);
  assert.ok(loaded instanceof RNNModel);
  assert.deepEqual(loaded.predict(held.data), m.predict(held.data));
  assert.equal(loaded.score(held.data), m.score(held.data));
  assert.deepEqual(loaded.inputModel?.toJSON(), m.inputModel?.toJSON());
  await loaded.save(f2); // load → save is byte-identical
  assert.equal(readFileSync(f2, 'utf8'), readFileSync(f1, 'utf8'));
  assert.deepEqual(JSON.parse(JSON.stringify(m)), JSON.parse(readFileSync(f1, 'utf8')));
  assert.equal(loaded.diagnostics?.learner, 'gloree');
  // A file written before diagnostics carried their learner tag gets it from its keys; a truth file's are not a fit's.
  const old = JSON.parse(readFileSync(f1, 'utf8')) as { diagnostics: Record<string, unknown> };
  delete old.diagnostics.learner;
  writeFileSync(f2, JSON.stringify(old));
  assert.equal((await RNNModel.load(f2)).diagnostics?.learner, 'gloree');
  writeFileSync(f2, JSON.stringify({ ...old, diagnostics: { scenario: 'default' } }));
  assert.equal((await RNNModel.load(f2)).diagnostics, undefined);
  await assert.rejects(RNNModel.load(path.join(tmp, 'missing.json')), (e: Error) => e instanceof UserError && /missing\.json: cannot read model file \(no such file\)/.test(e.message));
  writeFileSync(path.join(tmp, 'bad.json'), '{"format": "gloree-model", "version": 1, "kind": "iornn"}');
  await assert.rejects(RNNModel.load(path.join(tmp, 'bad.json')), (e: Error) => e instanceof UserError && /bad\.json: missing key "activation"/.test(e.message));
});

test('nested input is checked at the boundary: errors name the array, sequence, time step and feature', async () => {
  const est = new GLOREE(opts);
  const x = [[[1, 2], [3, 4]], [[5, 6]]];
  const y = [[[1], [2]], [[3]]];
  const bad = async (data: Parameters<GLOREE['fit']>[0], re: RegExp) => assert.rejects(est.fit(data), (e: Error) => e instanceof UserError && re.test(e.message), String(re));
  await bad({ x: [[[1, 2], [3]], [[5, 6]]], y }, /^x\[0\]\[1\]: expected 2 features \(as x\[0\]\[0\]\), got 1$/);
  await bad({ x: [[[1, 2], [3, NaN]], [[5, 6]]], y }, /^x\[0\]\[1\]\[1\]: expected a finite number, got NaN$/);
  await assert.rejects(est.fit({ x: [[[1, 2], [3, NaN]], [[5, 6]]], y }), (e: UserError) => e.key === 'x[0][1][1]'); // as data, too
  await bad({ x, y: [[[1], [2]], [[3], [4]]] }, /^y\[1\]: has 2 time steps, x\[1\] has 1$/);
  await bad({ x, y: [[[1], [2]]] }, /^y: has 1 sequences, x has 2$/);
  await bad({ x: [[[1, 2]], []], y }, /^x\[1\]: a sequence needs at least one time step$/);
  await bad({ x: [[[1, 2], [3, 4]], [[5, '6' as unknown as number]]], y }, /^x\[1\]\[0\]\[1\]: expected a finite number, got "6"$/);
  await bad({ x: [[1, 2] as unknown as number[][]], y }, /^x\[0\]\[0\]: expected an array of features, got 1$/);
  await bad({ x } as unknown as Parameters<GLOREE['fit']>[0], /^y: fit needs the outputs/);
  // Flat chunks: non-finite values are located the same way; sizes are checked.
  const c = makeChunk(2, 1, Float64Array.from([1, 2, 3, 4, 5, Infinity]), Float64Array.from([1, 2, 3]), [2, 1]);
  await bad(c, /^x: sequence 1, time 0, feature 1: expected a finite number, got Infinity$/);
  await bad({ ...c, rows: 3, x: new Float64Array(5) }, /^data: x has 5 values, expected 3x2$/);
  // Predict and score check the model's dimensions.
  const m = await est.fit(train.data);
  assert.throws(() => m.predict([[[1, 2, 3]]]), (e: Error) => e instanceof UserError && /^x\[0\]\[0\]: expected 6 features \(the model's dx\), got 3$/.test(e.message));
  assert.throws(() => m.predict(c), (e: Error) => e instanceof UserError && /^x: sequence 1, time 0, feature 1/.test(e.message));
  const one = fromNested([[[1, 2, 3, 4, 5, 6]]], [[[1, 2]]]);
  assert.throws(() => m.score(one), (e: Error) => e instanceof UserError && /^y: expected 5 outputs per step \(the model's dy\), got 2$/.test(e.message));
});

test('CP.fit returns a new CPModel; score = relative squared residual; save/load keeps every bit and the ties', async () => {
  const rng = new Rng(7);
  const R = 3;
  const B = new Matrix(5, R, rng.normalArray(5 * R)), C = new Matrix(4, R, rng.normalArray(4 * R));
  const T = cpToTensor({ weights: Float64Array.from([2, -1.5, 1]), factors: [B, C, C] });
  const est = new CP({ rank: R, tied: true, seed: 1 });
  const m = est.fit(T);
  assert.ok(m instanceof CPModel);
  assert.notEqual(m as unknown, est as unknown);
  assert.equal(m.cp.factors[1], m.cp.factors[2]); // tied modes share one matrix
  // Exact tensor: the fit reproduces it (tolerance: the exact algorithms lose ~cond·eps ≈ 1e-12 here).
  assert.ok(m.residual < 1e-8, `residual ${m.residual}`);
  const Th = m.reconstruct();
  let num = 0, den = 0;
  for (let i = 0; i < T.data.length; i++) {
    num += (T.data[i]! - Th.data[i]!) ** 2;
    den += T.data[i]! ** 2;
  }
  assert.ok(Math.abs(m.score(T) - num / den) <= 1e-12 * Math.max(num / den, 1e-300) + 1e-300);
  const f = path.join(tmp, 'cp.json');
  await m.save(f);
  const back = await CPModel.load(f);
  assert.deepEqual(back.cp.weights, m.cp.weights);
  for (let k = 0; k < 3; k++) assert.deepEqual(back.cp.factors[k]!.data, m.cp.factors[k]!.data);
  assert.equal(back.cp.factors[1], back.cp.factors[2]);
  assert.equal(back.residual, m.residual);
  assert.equal(back.method, m.method);
  writeFileSync(f, JSON.stringify({ ...m.toJSON(), factors: [[[1, 2]], [[1, 2, 3]]] }));
  await assert.rejects(CPModel.load(f), (e: Error) => e instanceof UserError && /cp\.json: key "factors\[0\]" must have 3 columns/.test(e.message));
});

test('Matrix serialises as nested row-major arrays and reads back bit for bit', () => {
  const M = Matrix.from([[0.1 + 0.2, -1e-300, 5e-324], [1 / 3, -0, 1e308]]);
  const text = JSON.stringify({ M });
  assert.equal(text, `{"M":[[${0.1 + 0.2},-1e-300,5e-324],[${1 / 3},0,1e+308]]}`);
  const back = Matrix.from((JSON.parse(text) as { M: number[][] }).M);
  assert.deepEqual(Array.from(back.data), [0.1 + 0.2, -1e-300, 5e-324, 1 / 3, 0, 1e308]);
  assert.equal(JSON.stringify(new Matrix(0, 3)), '[]');
});

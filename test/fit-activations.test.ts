/**
 * Linear and smooth activations through the public path: `gloree fit --activation linear|tanh` on a CSV of a
 * planted model, then predict / evaluate / report on the model file. Ground truth: the planted model (its
 * Markov parameters) and a least-squares ARX(8) fitted on the same rows (bench/references/arx.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/random/rng.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { simulateInputs } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { loadModel } from '../src/models/serialize.js';
import type { IORNNParams } from '../src/models/params.js';
import { markovError } from '../src/metrics/markov.js';
import { nmse } from '../src/metrics/nmse.js';
import { main } from '../src/cli/main.js';
import { fitRNN } from '../src/learn/fit.js';
import { Matrix } from '../src/linalg/matrix.js';
import { simulateIORNN } from '../src/models/simulate.js';
import { fitARX, simulateARX } from '../bench/references/arx.js';
import { plantedLinear } from '../bench/linear-planted.js';
import { tanhData } from '../bench/activations-data.js';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(['node', 'gloree', ...args], { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

function writeCSV(file: string, c: SequenceChunk): void {
  const lines = [['seq', ...Array.from({ length: c.dx }, (_, a) => `x${a + 1}`), ...Array.from({ length: c.dy }, (_, i) => `y${i + 1}`)].join(',')];
  let r = 0;
  for (let s = 0; s < c.lengths.length; s++) {
    for (let t = 0; t < c.lengths[s]; t++, r++) lines.push([s, ...c.x.subarray(r * c.dx, (r + 1) * c.dx), ...c.y.subarray(r * c.dy, (r + 1) * c.dy)].join(','));
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/** Outputs of `p` plus noise of `rel` × each output's standard deviation. */
function noisy(p: IORNNParams, inp: SequenceChunk, rel: number, seed: number): SequenceChunk {
  const clean = predictIORNN(p, inp), dy = p.A2.cols, y = clean.slice(), rng = new Rng(seed);
  for (let i = 0; i < dy; i++) {
    let m = 0, v = 0;
    for (let r = 0; r < inp.rows; r++) m += clean[r * dy + i] / inp.rows;
    for (let r = 0; r < inp.rows; r++) v += (clean[r * dy + i] - m) ** 2 / inp.rows;
    for (let r = 0; r < inp.rows; r++) y[r * dy + i] += rel * Math.sqrt(v) * rng.normal();
  }
  return makeChunk(inp.dx, dy, inp.x, y, inp.lengths);
}

test('gloree fit --activation linear --hidden auto: planted state 4 > dx = dy = 2 found from the Hankel spectrum; beats ARX(8) held out; predict/evaluate/report load the model', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-linear-'));
  try {
    const truth = plantedLinear(1);
    // 3e4 rows, 10% output noise (the acceptance scenario of test/linear.test.ts at 0.3× its rows: quick).
    const train = noisy(truth, simulateInputs({ dx: 2, nSeq: 60, seqLength: 500, rho: 0.5, seed: 101 }), 0.1, 8);
    const held = simulateInputs({ dx: 2, nSeq: 10, seqLength: 500, rho: 0.5, seed: 901 });
    const heldClean = predictIORNN(truth, held);
    const csv = path.join(dir, 'train.csv'), model = path.join(dir, 'm.json');
    writeCSV(csv, train);
    const fit = await run(['fit', csv, '--activation', 'linear', '--hidden', 'auto', '--seed', '1', '--out', model]);
    assert.equal(fit.code, 0, fit.err);
    assert.match(fit.out, /chose dh = 4 from the Hankel singular values/);
    const m = loadModel(model);
    assert.equal(m.params.A1.rows, 4);
    assert.equal((m.diagnostics as { learner: string }).learner, 'linear');
    const fitted = m.params as IORNNParams;
    // Noise-limited accuracy: the ARX(8) on the same rows is the yardstick (same data, independent method).
    const ours = nmse(predictIORNN(fitted, held), heldClean, 2);
    const arx = nmse(simulateARX(fitARX([train], 8), held), heldClean, 2);
    assert.ok(ours <= arx, `linear IO-RNN ${ours} vs ARX(8) ${arx}`);
    // The transfer behaviour (basis-free) against the planted model; 5%: 10% noise on 3e4 rows.
    assert.ok(markovError(fitted, truth).relative < 0.05, `Markov error ${markovError(fitted, truth).relative}`);
    const heldCsv = path.join(dir, 'held.csv');
    writeCSV(heldCsv, makeChunk(2, 2, held.x, heldClean, held.lengths));
    const pred = await run(['predict', model, heldCsv, '--out', path.join(dir, 'p.csv')]);
    assert.equal(pred.code, 0, pred.err);
    const ev = await run(['evaluate', model, heldCsv]);
    assert.equal(ev.code, 0, ev.err);
    const rep = await run(['report', model, heldCsv, '--out', path.join(dir, 'r.html')]);
    assert.equal(rep.code, 0, rep.err);
    const html = readFileSync(path.join(dir, 'r.html'), 'utf8');
    assert.match(html, /Hankel singular values/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gloree fit --activation tanh --hidden 3: planted tanh IO-RNN (dx 5, dh 3, dy 4, 5% noise) through the CLI; report renders the smooth block', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-tanh-'));
  try {
    // The acceptance scenario of test/activations-identify.test.ts at 3e4 rows instead of 1e5 (quick).
    const { truth, train, held } = tanhData(1, 3e4);
    const csv = path.join(dir, 'train.csv'), model = path.join(dir, 'm.json');
    writeCSV(csv, train);
    const fit = await run(['fit', csv, '--activation', 'tanh', '--hidden', '3', '--seed', '1', '--out', model]);
    assert.equal(fit.code, 0, fit.err);
    assert.match(fit.out, /moments route .*start (moment|zero)/);
    const m = loadModel(model);
    assert.equal((m.diagnostics as { learner: string }).learner, 'smooth');
    const clean = predictIORNN(truth, held);
    const e = nmse(predictIORNN(m.params as IORNNParams, held), clean, 4);
    // 1e-2: ten times the 1e5-row acceptance bound, for a third of the rows (5% noise ⇒ noise NMSE ≈ 2.5e-3 per
    // row; the held-out error of a consistent fit falls roughly like 1/rows). The U = 0 model sits near 0.1 here.
    assert.ok(e <= 1e-2, `held-out NMSE ${e}`);
    const heldCsv = path.join(dir, 'held.csv');
    writeCSV(heldCsv, makeChunk(5, 4, held.x, clean, held.lengths));
    const rep = await run(['report', model, heldCsv, '--out', path.join(dir, 'r.html')]);
    assert.equal(rep.code, 0, rep.err);
    assert.match(readFileSync(path.join(dir, 'r.html'), 'utf8'), /Smooth activation \(tanh\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fitRNN tanh with hidden 4 > dx = 2: linear identification first, then the linear-regime start; the diagnostics say which start and why; refined fit matches the planted tanh model', async () => {
  // Planted tanh IO-RNN: the 4-state linear test system with A1 × 0.6 (pre-activations in tanh's curved range, not only
  // its linear part), 3e4 rows, output noise 0.02.
  const lin = plantedLinear(1);
  const truth: IORNNParams = { ...lin, A1: new Matrix(4, 2, lin.A1.data.map((v) => v * 0.6)), activation: { name: 'tanh' } };
  const train = simulateIORNN(truth, simulateInputs({ dx: 2, nSeq: 60, seqLength: 500, rho: 0.5, seed: 3 }), { noise: 0.02, seed: 4 });
  const held = simulateInputs({ dx: 2, nSeq: 10, seqLength: 500, rho: 0.5, seed: 5 });
  const r = await fitRNN(train, { activation: { name: 'tanh' }, hidden: 4, seed: 1 });
  assert.equal(r.learner, 'smooth');
  const d = r.diagnostics as Extract<typeof r.diagnostics, { learner: 'smooth' }>;
  assert.equal(d.smooth.route, 'linear');
  assert.equal(d.smooth.start, 'linear');
  assert.match(d.smooth.routeReason, /dh = 4 > dx = 2/);
  assert.equal(d.smooth.linearStart?.used, 'linear-realization');
  assert.match(d.smooth.startReason, /pre-activation RMS s = /);
  const clean = predictIORNN(truth, held);
  const e = nmse(predictIORNN(r.params as IORNNParams, held), clean, 2);
  // 1e-3: a consistent fit's held-out error is noise-limited (measured 1.1e-6); the fitted model with U = 0 scored
  // 0.56 in the same run, so the bound cannot be met without recovering the recurrence.
  assert.ok(e <= 1e-3, `held-out NMSE ${e}`);
});

test('gloree fit --kind brnn --activation tanh: a one-line error naming the flags', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-brnn-tanh-'));
  try {
    const csv = path.join(dir, 'd.csv');
    writeCSV(csv, noisy(plantedLinear(1), simulateInputs({ dx: 2, nSeq: 20, seqLength: 20, seed: 1 }), 0.1, 1));
    const r = await run(['fit', csv, '--kind', 'brnn', '--activation', 'tanh', '--hidden', '2', '--out', path.join(dir, 'm.json')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^gloree: --kind brnn with --activation tanh: bidirectional models are learned for σ\(z\) = c·z² only/);
    // It says why (the identities carry over, the learner's steps do not) and what to do, on one line.
    assert.match(r.err, /identities carry over to tanh .* not implemented for it; fit an IO-RNN \(without --kind brnn\) or use --activation z2\n$/);
    assert.equal(r.err.trim().split('\n').length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A BRNN on one long sequence read in pieces (src/models/brnn-pieces.ts): the backward states come from reading the
 * pieces ahead (spilled, read back in reverse), so predict / evaluate / report give the one-chunk results, and a
 * blow-up is reported as on the whole sequence (a forward escape first, else the backward one, same step and row).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDataFile } from '../src/io/open.js';
import { makeChunk } from '../src/io/dataset.js';
import { Matrix } from '../src/linalg/matrix.js';
import { predictBRNN } from '../src/models/brnn.js';
import type { BRNNParams } from '../src/models/params.js';
import { saveModel } from '../src/models/serialize.js';
import { SCENARIOS, scenarioModel, simulateBRNN, simulateInputs } from '../src/models/simulate.js';
import { nmse } from '../src/metrics/nmse.js';
import { cliWithChunkRows } from './pieces-fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-brnn-long-'));
const p = (f: string): string => path.join(dir, f);

const cli = cliWithChunkRows;

test('BRNN: predict, evaluate and report on one long sequence in pieces give the one-chunk results', async () => {
  const s = SCENARIOS.brnn;
  const params = scenarioModel(s) as BRNNParams;
  const rows = 3000;
  const inputs = simulateInputs({ dx: s.dx, nSeq: 1, seqLength: rows, rho: s.input.rho, sigma: s.input.sigma, seed: 31 });
  const data = simulateBRNN(params, inputs, { noise: 0.05, seed: 32 });
  await writeDataFile(p('long.csv'), data, { seq: false });
  await saveModel(p('brnn.json'), params);
  let r = await cli(undefined, 'predict', p('brnn.json'), p('long.csv'), '--out', p('pred-whole.csv'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli(97, 'predict', p('brnn.json'), p('long.csv'), '--out', p('pred-pieces.csv'));
  assert.equal(r.code, 0, r.stderr);
  const whole = readFileSync(p('pred-whole.csv'), 'utf8'), pieces = readFileSync(p('pred-pieces.csv'), 'utf8');
  // Shortest round-trip numbers: equal text ⇔ equal doubles.
  assert.equal(pieces, whole);
  // Ground truth independent of the readers and the CLI: both recursions on the in-memory sequence. Steps near
  // piece boundaries (97, 194) and at the ends need the backward state of later pieces.
  const yhat = predictBRNN(params, makeChunk(data.dx, data.dy, data.x, data.y, [rows]));
  const lines = pieces.trim().split('\n');
  assert.equal(lines.length, rows + 1);
  for (const t of [0, 96, 97, 193, 1500, 2910, 2999]) {
    assert.deepEqual(lines[t + 1].split(',').slice(2).map(Number), Array.from(yhat.subarray(t * data.dy, (t + 1) * data.dy)), `step ${t + 1}`);
  }
  // With a seq column (lengths 1000, 7, 1993): chunks of 97 end inside sequences, one chunk holds the end of one
  // long sequence, the 7-row one and the start of the next; still the one-chunk predictions.
  await writeDataFile(p('seqs.csv'), makeChunk(data.dx, data.dy, data.x, data.y, [1000, 7, 1993]));
  r = await cli(undefined, 'predict', p('brnn.json'), p('seqs.csv'), '--out', p('seqs-whole.csv'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli(97, 'predict', p('brnn.json'), p('seqs.csv'), '--out', p('seqs-pieces.csv'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(p('seqs-pieces.csv'), 'utf8'), readFileSync(p('seqs-whole.csv'), 'utf8'));
  const a = await cli(undefined, 'evaluate', p('brnn.json'), p('long.csv'), '--json');
  // With --truth the true model's predictor reads the same pieces (here the model itself: NMSE against it is 0).
  const b = await cli(64, 'evaluate', p('brnn.json'), p('long.csv'), '--json', '--truth', p('brnn.json'));
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ea = JSON.parse(a.stdout), eb = JSON.parse(b.stdout);
  // Same predictions; the NMSE's sums are grouped per chunk, so only rounding may differ (~1e-16 per row).
  const want = nmse(yhat, data.y, data.dy);
  assert.ok(Math.abs(ea.nmse - want) <= 1e-12 * want, `${ea.nmse} vs ${want}`);
  assert.ok(Math.abs(eb.nmse - want) <= 1e-12 * want, `${eb.nmse} vs ${want}`);
  assert.equal(eb.nmseVsTruth, 0);
  assert.ok(Math.abs(eb.noiseFloor - want) <= 1e-12 * want, `${eb.noiseFloor} vs ${want}`);
  const ra = await cli(undefined, 'report', p('brnn.json'), p('long.csv'), '--out', p('rep-a.html'));
  const rb = await cli(64, 'report', p('brnn.json'), p('long.csv'), '--out', p('rep-b.html'));
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  // Only digits derived from the NMSE sums may differ (summation order, as above).
  const norm = (f: string): string => readFileSync(p(f), 'utf8').replace(/(\d+\.\d{8})\d+/g, '$1');
  assert.equal(norm('rep-b.html'), norm('rep-a.html'));
});

/** dx = dh = dz = dy = 1, σ = z²: a burst of large inputs late in the middle sequence makes a recursion escape. */
function burstModel(a1: number, b1: number): BRNNParams {
  const m = (v: number): Matrix => new Matrix(1, 1, Float64Array.from([v]));
  return { kind: 'brnn', A1: m(a1), U: m(0.5), B1: m(b1), V: m(0.5), A2: new Matrix(2, 1, Float64Array.from([1, 1])), b: new Float64Array(1), activation: { coefficients: [0, 0, 1] } };
}

test('BRNN on pieces: a sequence that escapes late is named as when read whole (forward first, else backward)', async () => {
  // Sequences of 40, 300 (burst at steps 250–253) and 60 rows; pieces of 50 split the middle one in 7.
  const lengths = [40, 300, 60], rows = 400;
  const x = new Float64Array(rows), y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    x[r] = 0.3 * Math.sin(r * 0.7);
    y[r] = Math.cos(r * 0.3);
  }
  for (let r = 40 + 249; r < 40 + 253; r++) x[r] = 40;
  const data = makeChunk(1, 1, x, y, lengths);
  await writeDataFile(p('burst.csv'), data);
  // Both directions escape (whole: the forward one is reported), and only the backward one (A1 small).
  for (const [name, params, backward] of [['both', burstModel(1, 1), false], ['backward', burstModel(0.01, 1), true]] as const) {
    await saveModel(p(`${name}.json`), params);
    const pa = await cli(undefined, 'predict', p(`${name}.json`), p('burst.csv'), '--out', p(`${name}-a.csv`));
    const pb = await cli(50, 'predict', p(`${name}.json`), p('burst.csv'), '--out', p(`${name}-b.csv`));
    assert.equal(pa.code, 1, name);
    assert.equal(pb.stderr, pa.stderr, name);
    assert.match(pa.stderr, /row \d+: sequence seq = 1, step 25\d/, name);
    assert.equal(/backward states/.test(pa.stderr), backward, pa.stderr);
    const a = await cli(undefined, 'evaluate', p(`${name}.json`), p('burst.csv'), '--json');
    const b = await cli(50, 'evaluate', p(`${name}.json`), p('burst.csv'), '--json');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ea = JSON.parse(a.stdout), eb = JSON.parse(b.stdout);
    assert.deepEqual(eb.blownUp, ea.blownUp, name);
    assert.equal(ea.blownUp.sequences, 1);
    // Ground truth: the NMSE over the two sequences that stay bounded, predicted whole in memory.
    const keep = makeChunk(1, 1, Float64Array.from([...x.subarray(0, 40), ...x.subarray(340)]), Float64Array.from([...y.subarray(0, 40), ...y.subarray(340)]), [40, 60]);
    const want = nmse(predictBRNN(params, keep), keep.y, 1);
    assert.ok(Math.abs(eb.nmse - want) <= 1e-12 * want, `${name}: ${eb.nmse} vs ${want}`);
  }
});

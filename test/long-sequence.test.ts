/**
 * One long sequence (a file without a `seq` column) read in pieces (`splitSequences`): the readers cut every
 * format the same way and flag the pieces, joining them gives the whole-sequence read back, and predict /
 * evaluate / report carry the hidden state across pieces, so their results are those of the one-chunk run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDataSource, writeDataFile } from '../src/io/open.js';
import { openGeneralCSVSource } from '../src/io/csv-general.js';
import { concatChunks, type CSVChunk } from '../src/io/csv.js';
import { joinChunks, makeChunk, memorySource, wholeSequences, type SequenceChunk } from '../src/io/dataset.js';
import { SpillSource } from '../src/io/spill.js';
import { Matrix } from '../src/linalg/matrix.js';
import { predict } from '../src/models/brnn.js';
import type { IORNNParams } from '../src/models/params.js';
import { saveModel } from '../src/models/serialize.js';
import { SCENARIOS, scenarioModel, simulateIORNN, simulateInputs } from '../src/models/simulate.js';
import { nmse } from '../src/metrics/nmse.js';
import { cliWithChunkRows } from './pieces-fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-long-'));
const p = (f: string): string => path.join(dir, f);

const cli = (env: { chunkRows?: number }, ...args: string[]) => cliWithChunkRows(env.chunkRows, ...args);

async function readAll(src: { chunks(): AsyncIterable<SequenceChunk> }): Promise<CSVChunk[]> {
  const out: CSVChunk[] = [];
  // Copies: a streaming reader may reuse its buffers.
  for await (const c of src.chunks()) out.push({ ...(c as CSVChunk), x: c.x.slice(), y: c.y.slice() });
  return out;
}

/** Data with sequences of lengths 5, 130 (longer than 2 chunks of 50), 50, 1, 44, 17 and a seq column. */
function mixedData(): SequenceChunk {
  const lengths = [5, 130, 50, 1, 44, 17];
  const rows = lengths.reduce((a, b) => a + b, 0);
  const x = new Float64Array(rows * 2), y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    x[2 * r] = Math.sin(r * 0.37) + r / 1000;
    x[2 * r + 1] = Math.cos(r * 0.11) - 0.5;
    y[r] = Math.sin(r * 0.05) * 2 + 0.125 * r;
  }
  return makeChunk(2, 1, x, y, lengths);
}

test('readers: a sequence longer than chunkRows comes in flagged pieces, the same in every format, and joins back', async () => {
  const data = mixedData();
  for (const f of ['csv', 'arrow', 'parquet']) await writeDataFile(p(`mixed.${f}`), data, { format: f });
  const whole = concatChunks(await readAll(await openDataSource(p('mixed.csv'), { chunkRows: 50 })), 2, 1);
  assert.deepEqual(Array.from(whole.lengths), [5, 130, 50, 1, 44, 17]);
  const ref = await readAll(await openDataSource(p('mixed.csv'), { chunkRows: 50, splitSequences: true }));
  // Every chunk but the last has exactly chunkRows rows (hand count: 247 rows = 4 × 50 + 47).
  assert.deepEqual(ref.map((c) => c.rows), [50, 50, 50, 50, 47]);
  // Hand-derived pieces: [5 | 45…] [50] [35 | 15…] [35 | 1 | 14…] [30 | 17].
  assert.deepEqual(ref.map((c) => Array.from(c.lengths)), [[5, 45], [50], [35, 15], [35, 1, 14], [30, 17]]);
  assert.deepEqual(ref.map((c) => [!!c.continued, !!c.continues]), [[false, true], [true, true], [true, true], [true, true], [true, false]]);
  assert.deepEqual(ref.map((c) => c.sequenceOffset), [0, 1, 1, 2, 4]);
  // File line of each piece's first row (header is line 1): row 56 is line 57, etc.
  assert.deepEqual(Array.from(ref[2].firstLine), [102, 137]);
  // Joined pieces = the whole-sequence read, bit for bit.
  const joined = joinChunks(ref) as CSVChunk;
  assert.deepEqual(Array.from(joined.lengths), Array.from(whole.lengths));
  assert.deepEqual(Array.from(joined.firstLine), Array.from(whole.firstLine));
  assert.deepEqual(Array.from(joined.seqIds), Array.from(whole.seqIds));
  assert.deepEqual(joined.x, whole.x);
  assert.deepEqual(joined.y, whole.y);
  const same = (got: CSVChunk[], label: string): void => {
    assert.deepEqual(got.map((c) => Array.from(c.lengths)), ref.map((c) => Array.from(c.lengths)), label);
    assert.deepEqual(got.map((c) => [!!c.continued, !!c.continues, c.sequenceOffset]), ref.map((c) => [!!c.continued, !!c.continues, c.sequenceOffset]), label);
    assert.deepEqual(got.map((c) => Array.from(c.firstLine)), ref.map((c) => Array.from(c.firstLine)), label);
    got.forEach((c, i) => assert.deepEqual(c.x, ref[i].x, label));
  };
  same(await readAll(await openGeneralCSVSource(p('mixed.csv'), { chunkRows: 50, splitSequences: true, delimiter: ',' })), 'general CSV');
  const arrow = await readAll(await openDataSource(p('mixed.arrow'), { chunkRows: 50, splitSequences: true }));
  const parquet = await readAll(await openDataSource(p('mixed.parquet'), { chunkRows: 50, splitSequences: true }));
  // Arrow / Parquet count rows from 1 without a header line: compare everything but the row numbers.
  for (const [got, label] of [[arrow, 'arrow'], [parquet, 'parquet']] as const) {
    assert.deepEqual(got.map((c) => Array.from(c.lengths)), ref.map((c) => Array.from(c.lengths)), label);
    assert.deepEqual(got.map((c) => [!!c.continued, !!c.continues, c.sequenceOffset]), ref.map((c) => [!!c.continued, !!c.continues, c.sequenceOffset]), label);
    got.forEach((c, i) => assert.deepEqual(c.y, ref[i].y, label));
  }
  // The spill file keeps the flags on replay; wholeSequences joins pieces again.
  const spill = new SpillSource(await openDataSource(p('mixed.csv'), { chunkRows: 50, splitSequences: true }));
  try {
    await readAll(spill);
    const replay = await readAll(spill);
    assert.deepEqual(replay.map((c) => [Array.from(c.lengths), !!c.continued, !!c.continues, c.sequenceOffset]), ref.map((c) => [Array.from(c.lengths), !!c.continued, !!c.continues, c.sequenceOffset]));
    const w = await readAll(wholeSequences(spill));
    assert.deepEqual(w.map((c) => Array.from(c.lengths)), [[5, 130, 50, 1, 44, 17]]); // every chunk ends inside a sequence
  } finally {
    spill.close();
  }
});

test('readers: the minimum length counts a split sequence whole; a short one is still named at its first row', async () => {
  const data = mixedData();
  await writeDataFile(p('minlen.csv'), data);
  // Sequence 130 rows long in pieces of 50 passes minLength 100; sequence 4 (1 row, seq id 3) fails minLength 2.
  const src = await openDataSource(p('minlen.csv'), { chunkRows: 50, splitSequences: true, minLength: 2 });
  await assert.rejects(readAll(src), /row 187: sequence 3 has 1 row, need at least 2/);
  const one = makeChunk(2, 1, data.x, data.y, [data.rows]);
  await writeDataFile(p('one.csv'), one, { seq: false });
  const long = await readAll(await openDataSource(p('one.csv'), { chunkRows: 50, splitSequences: true, minLength: 240 }));
  assert.equal(long.length, 5);
  await assert.rejects(readAll(await openDataSource(p('one.csv'), { chunkRows: 50, splitSequences: true, minLength: 248 })), /row 2: the file \(one sequence, no seq column\) has 247 rows, need at least 248/);
});

/** The default scenario's IO-RNN, and one long recording of it (no seq column). */
async function longRecording(rows: number, seed: number, file: string, model?: IORNNParams): Promise<{ params: IORNNParams; data: SequenceChunk }> {
  const s = SCENARIOS.default;
  const params = model ?? (scenarioModel(s) as IORNNParams);
  const inputs = simulateInputs({ dx: s.dx, nSeq: 1, seqLength: rows, rho: s.input.rho, sigma: s.input.sigma, seed });
  const data = simulateIORNN(params, inputs, { noise: 0.05, seed: seed + 1 });
  await writeDataFile(file, data, { seq: false });
  return { params, data };
}

test('predict on one long sequence in pieces gives the one-chunk predictions bit for bit', async () => {
  const { params, data } = await longRecording(3000, 11, p('long.csv'));
  await saveModel(p('model.json'), params);
  let r = await cli({}, 'predict', p('model.json'), p('long.csv'), '--out', p('pred-whole.csv'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli({ chunkRows: 97 }, 'predict', p('model.json'), p('long.csv'), '--out', p('pred-pieces.csv'));
  assert.equal(r.code, 0, r.stderr);
  const whole = readFileSync(p('pred-whole.csv'), 'utf8'), pieces = readFileSync(p('pred-pieces.csv'), 'utf8');
  // Shortest round-trip numbers in the file: equal text ⇔ equal doubles; t runs 1..3000 over the pieces.
  assert.equal(pieces, whole);
  const lines = pieces.trim().split('\n');
  assert.equal(lines.length, 3001);
  assert.match(lines[3000], /^0,3000,/);
  // Ground truth independent of the readers and the CLI: the model's recursion on the in-memory sequence.
  const yhat = predict(params, makeChunk(data.dx, data.dy, data.x, data.y, [data.rows]));
  const dy = data.dy;
  for (const t of [0, 96, 97, 1500, 2999]) {
    const got = lines[t + 1].split(',').slice(2).map(Number);
    assert.deepEqual(got, Array.from(yhat.subarray(t * dy, (t + 1) * dy)), `step ${t + 1}`);
  }
});

test('evaluate and report on one long sequence in pieces match the one-chunk run', async () => {
  await longRecording(2500, 21, p('long-eval.csv'));
  await saveModel(p('model-eval.json'), scenarioModel(SCENARIOS.default));
  const a = await cli({}, 'evaluate', p('model-eval.json'), p('long-eval.csv'), '--json');
  const b = await cli({ chunkRows: 64 }, 'evaluate', p('model-eval.json'), p('long-eval.csv'), '--json');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ea = JSON.parse(a.stdout), eb = JSON.parse(b.stdout);
  // Same predictions; the NMSE's sums are grouped per chunk, so only rounding may differ (~1e-16 per row).
  assert.ok(Math.abs(ea.nmse - eb.nmse) <= 1e-12 * ea.nmse, `${ea.nmse} vs ${eb.nmse}`);
  // Noise 0.05 on outputs of the true model: the NMSE is small but not zero (independent sanity check).
  assert.ok(ea.nmse > 0 && ea.nmse < 0.5, String(ea.nmse));
  const ra = await cli({}, 'report', p('model-eval.json'), p('long-eval.csv'), '--out', p('rep-a.html'));
  const rb = await cli({ chunkRows: 64 }, 'report', p('model-eval.json'), p('long-eval.csv'), '--out', p('rep-b.html'));
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  // The report prints NMSEs to a few digits and plots the first 200 steps (pieces of 64 joined into one line);
  // only the SVG geometry derived from the NMSE may differ in its last digits (summation order, as above).
  const norm = (f: string): string => readFileSync(p(f), 'utf8').replace(/(\d+\.\d{8})\d+/g, '$1');
  assert.equal(norm('rep-b.html'), norm('rep-a.html'));
});

test('evaluate: a long sequence that blows up in a late piece is left out entirely, as when read whole', async () => {
  // A model whose recurrence escapes only when a burst of large inputs arrives late in the long sequence.
  const dx = 1, dh = 1, dy = 1;
  const params: IORNNParams = {
    kind: 'iornn',
    A1: new Matrix(dh, dx, Float64Array.from([1])),
    U: new Matrix(dh, dh, Float64Array.from([0.5])),
    A2: new Matrix(dh, dy, Float64Array.from([1])),
    b: new Float64Array(dy),
    activation: { coefficients: [0, 0, 1] },
  };
  // Sequences: 40 rows (fine), 300 rows with a burst at step 250 (blows up), 60 rows (fine).
  const lengths = [40, 300, 60];
  const rows = 400;
  const x = new Float64Array(rows), y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    x[r] = 0.3 * Math.sin(r * 0.7);
    y[r] = Math.cos(r * 0.3);
  }
  for (let r = 40 + 249; r < 40 + 253; r++) x[r] = 40;
  const data = makeChunk(dx, dy, x, y, lengths);
  await writeDataFile(p('burst.csv'), data);
  await saveModel(p('burst.json'), params);
  const a = await cli({}, 'evaluate', p('burst.json'), p('burst.csv'), '--json');
  const b = await cli({ chunkRows: 50 }, 'evaluate', p('burst.json'), p('burst.csv'), '--json');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ea = JSON.parse(a.stdout), eb = JSON.parse(b.stdout);
  assert.deepEqual(eb.blownUp, ea.blownUp);
  assert.equal(ea.blownUp.sequences, 1);
  assert.equal(ea.blownUp.of, 3);
  // Ground truth: the NMSE over the two sequences that stay bounded, predicted whole in memory.
  const keep = makeChunk(dx, dy, Float64Array.from([...x.subarray(0, 40), ...x.subarray(340)]), Float64Array.from([...y.subarray(0, 40), ...y.subarray(340)]), [40, 60]);
  const want = nmse(predict(params, keep), keep.y, dy);
  assert.ok(Math.abs(ea.nmse - want) <= 1e-12 * want, `${ea.nmse} vs ${want}`);
  assert.ok(Math.abs(eb.nmse - want) <= 1e-12 * want, `${eb.nmse} vs ${want}`);
  // predict names the same step and file row whether the sequence is read whole or in pieces.
  const pa = await cli({}, 'predict', p('burst.json'), p('burst.csv'), '--out', p('burst-a.csv'));
  const pb = await cli({ chunkRows: 50 }, 'predict', p('burst.json'), p('burst.csv'), '--out', p('burst-b.csv'));
  assert.equal(pa.code, 1);
  assert.equal(pb.stderr, pa.stderr);
  assert.match(pa.stderr, /row \d+: sequence seq = 1, step 25\d/);
});

test('learners read pieces as whole sequences (same model as the whole read)', async () => {
  const data = mixedData();
  const pieces: SequenceChunk[] = [];
  for (const c of await readAll(await openDataSource((await writeDataFile(p('learn.csv'), data), p('learn.csv')), { chunkRows: 50, splitSequences: true }))) pieces.push(c);
  const joined = await readAll(wholeSequences(memorySource(pieces)));
  assert.deepEqual(joined.map((c) => Array.from(c.lengths)), [[5, 130, 50, 1, 44, 17]]);
});

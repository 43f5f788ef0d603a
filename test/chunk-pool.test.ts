import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS, simulateInputs, simulateScenario } from '../src/models/simulate.js';
import { makeChunk, memorySource, splitChunk, type SequenceChunk } from '../src/io/dataset.js';
import { Matrix } from '../src/linalg/matrix.js';
import type { IORNNParams } from '../src/models/params.js';
import { mapChunks } from '../src/learn/passes.js';
import { ChunkPool } from '../src/learn/chunk-pool.js';
import { firstBlowUp } from '../src/learn/stability.js';
import { modelToJSON } from '../src/models/serialize.js';
import { fitRNN } from '../src/learn/fit.js';
import { POOL_MIN_ROWS } from '../src/learn/pipeline.js';

// The pass runner's task passes (mapChunks) must give, on a pool of threads, the results of the same task run on
// this thread, chunk for chunk and in file order; the ground truth for the stability check is where blow-ups were
// planted. And a fit must give the same model bytes with and without the pool.

const s = SCENARIOS.default;
const { model, data } = simulateScenario(s, { nSeq: 400, seed: 3 });
const chunks: SequenceChunk[] = splitChunk(data, 9);
/** Sequences (global index) whose inputs are blown up ×1e4: σ = z² then escapes the blow-up bound at step 0. */
const planted = new Set<number>();
{
  let seq = 0;
  chunks.forEach((c, k) => {
    if (k === 3 || k === 4 || k === 7) {
      const j = k === 3 ? 5 : 1; // the 6th sequence of chunk 3, the 2nd of chunks 4 and 7
      let row = 0;
      for (let q = 0; q < j; q++) row += c.lengths[q];
      const x = c.x.slice();
      for (let i = row * c.dx; i < (row + c.lengths[j]) * c.dx; i++) x[i] *= 1e4;
      chunks[k] = { ...c, x };
      planted.add(seq + j);
    }
    seq += c.lengths.length;
  });
}
const source = memorySource(chunks);

test('mapChunks: a pool of 2 threads gives the serial results chunk for chunk, in file order; the blow-ups are where they were planted', async () => {
  const task = { name: 'blowup' as const, payload: modelToJSON(model) };
  const serial = await mapChunks(source, 'test', task);
  const pool = new ChunkPool(2);
  try {
    const threaded = await mapChunks(source, 'test', task, { pool });
    assert.deepEqual(threaded, serial);
    assert.equal(serial.length, chunks.length);
    assert.deepEqual(serial.map((r) => r?.sequence ?? null), chunks.map((_, k) => (k === 3 || k === 4 || k === 7 ? [...planted][[3, 4, 7].indexOf(k)] : null)));
    // The ordered reduction: the first blow-up in file order (chunk 3), whichever thread found its own first.
    const first = await firstBlowUp(source, model, { pool });
    assert.equal(first?.sequence, [...planted][0]);
    assert.equal(first?.message, (await firstBlowUp(source, model))?.message);
    // A failing task fails the pass with its message, and the pool runs the next pass.
    await assert.rejects(mapChunks(source, 'test', { name: 'blowup', payload: { format: 'nope' } }, { pool }), /format/);
    assert.deepEqual(await mapChunks(source, 'test', task, { pool }), serial);
  } finally {
    await pool.close();
  }
});

test('fit with workers 1 and 2: byte-identical model files (the stability check runs on the pool)', async () => {
  const big = simulateScenario(s, { nSeq: 5000, seed: 5 }).data;
  assert.ok(big.rows >= POOL_MIN_ROWS, `${big.rows} rows: too few for the pool`);
  const src = memorySource(splitChunk(big, 6));
  const fit = async (workers: number) => {
    const r = await fitRNN(src, { hidden: 4, seed: 0, refine: false, workers });
    return JSON.stringify(modelToJSON(r.params, { inputModel: r.inputModel.toJSON(), diagnostics: r.diagnostics }));
  };
  assert.equal(await fit(2), await fit(1));
});

test('stability check on the pool: the pieces of a long sequence, then whole-sequence chunks: the first blow-up in file order', async () => {
  // A recurrent weight well past 1 on σ = z²: the states escape after a few steps, on every sequence.
  const big = { ...model, U: new Matrix(model.U.rows, model.U.cols, model.U.data.map((v, i) => (i % (model.U.cols + 1) === 0 ? 3 : v))) } as IORNNParams;
  const long = simulateInputs({ dx: s.dx, nSeq: 1, seqLength: 600, rho: 0.6, sigma: 0.4, seed: 9 });
  const L = long.rows, dx = s.dx, dy = s.dy, size = 2;
  const truth = await firstBlowUp(memorySource(makeChunk(dx, dy, long.x, new Float64Array(L * dy), [L])), big);
  assert.ok(truth && truth.step >= size, `the planted blow-up happens past the first piece (${truth?.message})`);
  // The long sequence in pieces of 2 rows (run on the main thread, carrying the state), then chunks that blow up
  // on their own (on the pool's threads): the long sequence's blow-up comes first.
  const pieces: SequenceChunk[] = [];
  for (let t = 0; t < L; t += size) {
    const n = Math.min(size, L - t);
    const p = makeChunk(dx, dy, long.x.slice(t * dx, (t + n) * dx), new Float64Array(n * dy), [n]);
    pieces.push({ ...p, ...(t > 0 ? { continued: true } : {}), ...(t + n < L ? { continues: true } : {}) });
  }
  const later = [chunks[0], chunks[1], chunks[2]];
  assert.ok(await firstBlowUp(memorySource(later), big), 'the later chunks blow up too');
  const mixed = memorySource([...pieces, ...later]);
  const pool = new ChunkPool(2);
  try {
    const serial = await firstBlowUp(mixed, big);
    const threaded = await firstBlowUp(mixed, big, { pool });
    assert.equal(serial?.sequence, 0);
    assert.equal(serial?.step, truth.step);
    assert.equal(threaded?.message, serial?.message);
    assert.equal(await firstBlowUp(mixed, model, { pool }), await firstBlowUp(mixed, model));
  } finally {
    await pool.close();
  }
});

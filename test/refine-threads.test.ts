import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS, simulateScenario } from '../src/models/simulate.js';
import { memorySource, splitChunk } from '../src/io/dataset.js';
import { Matrix } from '../src/linalg/matrix.js';
import type { IORNNParams } from '../src/models/params.js';
import { ChunkPool } from '../src/learn/chunk-pool.js';
import { packParams, refine } from '../src/learn/refine.js';
import type { ThreadCallName } from '../src/learn/chunk-tasks.js';
import { modelToJSON } from '../src/models/serialize.js';
import { fitRNN } from '../src/learn/fit.js';
import { POOL_MIN_ROWS } from '../src/learn/pipeline.js';

// The refinement's LM gradient pass on a pool thread (src/learn/refine-threads.ts) must give the bits of the same
// pass on this thread: the refined parameters and every reported loss are compared bit for bit, with the pool, with
// a pool whose calls fail (the fallback computes here), and without; and the pool must really have been called.

const s = SCENARIOS.default;
// 1 600 sequences of 20 steps: 25 600 training rows, above the 2·10⁴ rows under which the curvature is exact (no
// separate gradient pass to move).
const { model, data } = simulateScenario(s, { nSeq: 1600, seed: 11 });
const planted = model as IORNNParams;
// A start away from the optimum, so LM takes several iterations.
const start: IORNNParams = {
  ...planted,
  A1: new Matrix(planted.A1.rows, planted.A1.cols, planted.A1.data.map((v, i) => v * (1 + 0.15 * Math.sin(i + 1)))),
  U: new Matrix(planted.U.rows, planted.U.cols, planted.U.data.map((v) => 0.6 * v)),
};

class CountingPool extends ChunkPool {
  calls = 0;
  constructor(private readonly failing = false) {
    super(1);
  }
  override call(name: ThreadCallName, args: unknown): { wait(): boolean } {
    this.calls++;
    return this.failing ? { wait: () => false } : super.call(name, args);
  }
}

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const summary = (r: ReturnType<typeof refine>) => {
  const { timeMs, history, ...rest } = r.diagnostics;
  void timeMs;
  return { theta: bits(packParams(r.params)), ...rest, history: history.map((h) => [h.trainLoss, h.valLoss, h.lambda, h.rejected]) };
};

test('refine: the LM gradient pass on a pool thread gives the serial bits (and a failed call falls back to them)', async () => {
  const serial = summary(refine(start, data, { seed: 0 }));
  assert.ok(serial.iterations >= 3, `only ${serial.iterations} LM iterations: the start is too close`);
  assert.ok(serial.curvatureRows !== null && serial.curvatureRows < serial.trainRows, 'the curvature subset is not in use');
  for (const failing of [false, true]) {
    const pool = new CountingPool(failing);
    try {
      assert.deepEqual(summary(refine(start, data, { seed: 0 }, pool)), serial);
      // One gradient per LM iteration (a failed call is asked once per iteration too).
      assert.ok(pool.calls >= serial.iterations, `${pool.calls} calls for ${serial.iterations} iterations`);
    } finally {
      await pool.close();
    }
  }
});

test('fit with refinement, workers 1 and 2: byte-identical model files', async () => {
  const big = simulateScenario(s, { nSeq: 5000, seed: 5 }).data;
  assert.ok(big.rows >= POOL_MIN_ROWS, `${big.rows} rows: too few for the pool`);
  const src = memorySource(splitChunk(big, 6));
  const fit = async (workers: number) => {
    const r = await fitRNN(src, { hidden: 4, seed: 0, workers });
    assert.ok(r.diagnostics.refine && r.diagnostics.refine.curvatureRows! < r.diagnostics.refine.trainRows, 'no curvature subset');
    return JSON.stringify(modelToJSON(r.params, { inputModel: r.inputModel.toJSON(), diagnostics: r.diagnostics }));
  };
  assert.equal(await fit(2), await fit(1));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS, simulateScenario } from '../src/models/simulate.js';
import { memorySource, splitChunk } from '../src/io/dataset.js';
import { Matrix } from '../src/linalg/matrix.js';
import type { RNNParams } from '../src/models/params.js';
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
// A start away from the optimum, so LM takes several iterations: the planted model with A1 (B1) scaled entry by
// entry and U (V) shrunk.
function perturbed<P extends RNNParams>(p: P): P {
  const bend = (m: Matrix) => new Matrix(m.rows, m.cols, m.data.map((v, i) => v * (1 + 0.15 * Math.sin(i + 1))));
  const shrink = (m: Matrix) => new Matrix(m.rows, m.cols, m.data.map((v) => 0.6 * v));
  return p.kind === 'brnn' ? { ...p, A1: bend(p.A1), U: shrink(p.U), B1: bend(p.B1), V: shrink(p.V) } : { ...p, A1: bend(p.A1), U: shrink(p.U) };
}

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
  // IO-RNN and BRNN (backward neurons, their own gradient blocks); 500 sequences of 20 steps, the curvature on 30 %
  // of the training sequences (by default only above 2·10⁴ training rows), at most 5 LM iterations.
  const opts = { seed: 0, curvatureFraction: 0.3, maxIter: 5 };
  for (const name of ['default', 'brnn'] as const) {
    const { model, data } = simulateScenario(SCENARIOS[name], { nSeq: 500, seed: 11 });
    const start = perturbed(model);
    const serial = summary(refine(start, data, opts));
    assert.ok(serial.iterations >= 3, `${name}: only ${serial.iterations} LM iterations: the start is too close`);
    assert.ok(serial.method === 'lm' && serial.curvatureRows !== null && serial.curvatureRows < serial.trainRows, `${name}: the curvature subset is not in use`);
    for (const failing of [false, true]) {
      const pool = new CountingPool(failing);
      try {
        assert.deepEqual(summary(refine(start, data, opts, pool)), serial, `${name}, failing calls ${failing}`);
        // One gradient per LM iteration (a failed call is asked once per iteration too).
        assert.ok(pool.calls >= serial.iterations, `${name}: ${pool.calls} calls for ${serial.iterations} iterations`);
      } finally {
        await pool.close();
      }
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

import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { pinv } from '../src/linalg/pinv.js';
import { SequenceChunk, makeChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { Mixture1D, mixtureSteinPoly } from '../src/input/mixture1d.js';
import { NGDiagonalAccumulator, NGT2Accumulator } from '../src/moments/nongaussian.js';
import { ConditionalScoreUAccumulator } from '../src/moments/nongaussian-u.js';
import { centredChunk } from '../src/learn/chunks.js';
import { EngineSource } from '../src/io/engines/engine.js';
import { ngDiagonalPassDefinition, ngT2PassDefinition, ngUPassDefinition, readNGDiagonal, readNGT2Halves, readNGU } from '../src/sql/nongaussian-passes.js';
import { close } from './sql-fixtures.js';
import { runAccumulators } from '../src/sql/accumulators.js';

/**
 * The non-Gaussian input model's SQL passes (src/sql/nongaussian-passes.ts) against the in-process accumulators
 * on the same rows (DuckDB: test/sql-duckdb.test.ts; PostgreSQL: test/sql-postgres.test.ts). Tolerance as in
 * sql-fixtures.ts (summation order and a few differently rounded constants, e.g. (z − m)·(1/v) for (z − m)/v).
 */

const F = Matrix.from([[0.5, 0.1, 0], [-0.1, 0.4, 0.05], [0, 0.2, 0.3]]);
const W = Matrix.from([[1.2, 0.3, 0], [-0.2, 1, 0.1], [0.1, 0, 0.8]]);
const bimodal: Mixture1D = { weights: [0.3, 0.7], means: [-1.4, 0.6], variances: [0.25, 0.5] };
const skewed: Mixture1D = { weights: [0.5, 0.3, 0.2], means: [-0.5, 0.3, 1.2], variances: [0.2, 0.4, 1.1] };

/**
 * Random sequences (lengths 1..7: every position class) of a mixture-innovation VAR(1); y quadratic in x plus noise;
 * `far`: with one far innovation (below).
 */
export function mixtureData(seed: number, nSeq = 300, far = true): SequenceChunk {
  const rng = new Rng(seed), dx = 3, dy = 2;
  const lengths = Array.from({ length: nSeq }, () => 1 + rng.int(7));
  const x = new MixtureVAR1([1.5, -0.7, 0.2], F, W, [bimodal, skewed, { weights: [1], means: [0.4], variances: [0.8] }]).simulate(rng, lengths);
  // One far innovation (row 40 is step 0 of its sequence; the innovation of step 1 is ≈ −60·W F e_1): the smaller responsibilities
  // underflow EXP (PostgreSQL raises an error on underflow) and the representers' cumulants cancel.
  if (far) x[dx * 40] += 60;
  const rows = x.length / dx, y = new Float64Array(rows * dy);
  for (let r = 0; r < rows; r++) {
    const [a, b, c] = [x[r * dx], x[r * dx + 1], x[r * dx + 2]];
    y[r * dy] = a * b + 0.5 * c * c + 0.3 * rng.normal();
    y[r * dy + 1] = b * b - a + 2 + 0.3 * rng.normal();
  }
  return makeChunk(dx, dy, x, y, lengths);
}

/**
 * Input models covering both component families: a 2- and 3-component mixture with a one-Gaussian (nonzero mean)
 * coordinate (firstExactStep 1), the same with Stein representers on two coordinates, and the Gaussian case
 * (firstExactStep 0: step 0 and its Σ⁻¹ c_0 enter).
 */
export function mixtureModels(): { name: string; model: MixtureVAR1 }[] {
  const mu = [1.5, -0.7, 0.2], gauss = { weights: [1], means: [0], variances: [1] };
  return [
    { name: 'mixtures', model: new MixtureVAR1(mu, F, W, [bimodal, skewed, { weights: [1], means: [0.4], variances: [0.8] }]) },
    { name: 'Stein representers', model: new MixtureVAR1(mu, F, W, [{ ...bimodal, stein: mixtureSteinPoly(bimodal, 4) }, skewed, { ...skewed, stein: mixtureSteinPoly(skewed, 3) }]) },
    { name: 'Gaussian', model: new MixtureVAR1(mu, F, W, [gauss, gauss, gauss]) },
  ];
}

type Shape = ['P1' | 'P2prime', number, number];
/** Every diagonal shape (DuckDB) / each query shape once (PostgreSQL). */
export const ALL_SHAPES: Shape[] = [['P1', 2, 0], ['P1', 3, 1], ['P1', 4, 0], ['P2prime', 2, 0], ['P2prime', 3, 0], ['P2prime', 4, 0]];

export async function compareNonGaussianPasses(engine: EngineSource, chunk: SequenceChunk, models = mixtureModels(), shapes: Shape[] = ALL_SHAPES): Promise<void> {
  const { dy } = chunk;
  const yMean = Float64Array.from([0.8, 1.9]);
  const centred = centredChunk(chunk, yMean);
  for (const { name, model } of models) {
    // T2 halves: the learner's masks (src/learn/data-passes.ts), sequence index mod 2.
    const def = ngT2PassDefinition(model, yMean);
    const halves = readNGT2Halves(def, await engine.run(def), model, dy);
    for (const h of [0, 1]) {
      const ref = new NGT2Accumulator(model, dy);
      ref.sequenceMask = Uint8Array.from(chunk.lengths, (_, k) => (k % 2 === h ? 1 : 0));
      ref.addData({ chunk: centred, scores: null, residual: null });
      ref.sequenceMask = null;
      assert.equal(halves[h].count, ref.count, `${name}: T2 half ${h} count`);
      close(halves[h].sum, ref.sum, `${name}: T2 half ${h} sums`);
      close(halves[h].result(), ref.result(), `${name}: T2 half ${h}`);
    }
    // The same through the accumulator-list hook (src/sql/accumulators.ts): both halves in one accumulator.
    const whole = new NGT2Accumulator(model, dy), viaList = new NGT2Accumulator(model, dy);
    whole.addData({ chunk: centred, scores: null, residual: null });
    await runAccumulators(engine, [viaList], { model, yShift: yMean });
    assert.equal(viaList.count, whole.count, `${name}: T2 via runAccumulators count`);
    close(viaList.sum, whole.sum, `${name}: T2 via runAccumulators`);
    // U from conditional scores (the quadratic learner's), dh = 2.
    const A1 = Matrix.from([[0.6, -0.3, 0.2], [0.1, 0.5, -0.4]]);
    const acc = new ConditionalScoreUAccumulator(model, dy, Matrix.from([[0.9, 0.2], [-0.3, 1.1]]), A1, pinv(A1).pinv, 0.7);
    const ud = ngUPassDefinition(acc, yMean);
    const got = readNGU(ud, await engine.run(ud), acc);
    acc.add(centred);
    assert.equal(got.count, acc.count, `${name}: U count`);
    close(got.sum, acc.sum, `${name}: U sums`);
    close(got.solveU().data, acc.solveU().data, `${name}: U`);
    // The polynomial learner's diagonal moments: P1 (degree 2–4, with and without the last step), P2′ (degree 2–4).
    const G = pinv(A1).pinv;
    for (const [kind, degree, skipLast] of shapes) {
      const ref = new NGDiagonalAccumulator(model, dy, G, kind, degree, { skipLast });
      const dd = ngDiagonalPassDefinition(ref, { kind: 'centred', yMean });
      const sql = readNGDiagonal(dd, await engine.run(dd), ref);
      ref.add(centred, centred.y);
      assert.equal(sql.count, ref.count, `${name}: ${kind} degree ${degree} count`);
      close(sql.sum, ref.sum, `${name}: ${kind} degree ${degree} skipLast ${skipLast}`);
    }
  }
}

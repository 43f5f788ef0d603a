import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { SequenceChunk, makeChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { ResidualMoments, VAR1Stats, estimateVAR1 } from '../src/input/fit.js';
import { momentPass, chunkScores } from '../src/moments/accumulator.js';
import { T1Accumulator, T2Accumulator } from '../src/moments/single.js';
import { ControlVariate, ControlVariateFit, QuadraticMode } from '../src/moments/control.js';
import { ProjectedMixedAccumulator } from '../src/moments/mixed.js';
import { bySubchunks, centredChunk, strideSubchunk } from '../src/learn/chunks.js';
import { foldParts } from '../src/learn/identify/split.js';
import { DiagonalHermiteAccumulator, HermiteMode, HermiteMomentAccumulator } from '../src/moments/higher.js';
import { diagonalPassDefinition, DiagonalPassSpec, readDiagonal, readTensor, readTensorHalves, tensorPassDefinition, TensorPassSpec } from '../src/sql/hermite-passes.js';
import { readMixedFolds } from '../src/sql/statistics.js';
import { TargetSpec, leadingTarget } from '../src/sql/passes.js';
import { LeadingTermCV } from '../src/learn/identify/leading-cv.js';
import { MarkovAccumulator } from '../src/moments/markov.js';
import { markovPassDefinition, readMarkov } from '../src/sql/markov-pass.js';
import { svd } from '../src/linalg/svd.js';
import { EngineSource } from '../src/io/engines/engine.js';
import { controlPassDefinition, mixedPassDefinition, momentsPassDefinition, MixedPassSpec } from '../src/sql/passes.js';
import { readControlVariate, readMixed, readResidualMoments, readT1, readT2Halves } from '../src/sql/statistics.js';

/**
 * Shared by the DuckDB and PostgreSQL tests: random sequences (lengths 1..7, so every position class of the
 * VAR(1) scores occurs, including single-step sequences), and the comparison of every SQL pass against the
 * in-process accumulator fed the same rows.
 *
 * Tolerance: the SQL sums and the accumulators add the same products in a different order (and the Wick terms
 * per group instead of per block), so they differ by rounding only: ~n·ε relative to the sum of magnitudes.
 * With n ≈ 2000 rows and terms of order 1 that is ≲ 1e-12 of the largest entry; 1e-9 leaves room and still
 * catches any wrong term (a wrong boundary block changes entries by ≳ 1e-3 of the largest).
 */
export const TOL = 1e-9;

export function randomData(seed: number, nSeq = 300, lengthsOf?: (rng: Rng) => number[]): { chunk: SequenceChunk; model: GaussianVAR1 } {
  const rng = new Rng(seed);
  const dx = 3, dy = 2;
  const model = new GaussianVAR1(
    [1.5, -0.7, 0.2],
    Matrix.from([[0.5, 0.1, 0], [-0.1, 0.4, 0.05], [0, 0.2, 0.3]]),
    Matrix.from([[1, 0.2, 0], [0.2, 0.8, 0.1], [0, 0.1, 0.5]]),
  );
  const lengths = lengthsOf ? lengthsOf(rng) : Array.from({ length: nSeq }, () => 1 + rng.int(7));
  const x = model.simulate(rng, lengths);
  const rows = x.length / dx;
  const y = new Float64Array(rows * dy);
  for (let r = 0; r < rows; r++) {
    const a = x[r * dx], b = x[r * dx + 1], c = x[r * dx + 2];
    y[r * dy] = a * b + 0.5 * c * c + 0.3 * rng.normal();
    y[r * dy + 1] = b * b - a + 2 + 0.3 * rng.normal();
  }
  return { chunk: makeChunk(dx, dy, x, y, lengths), model };
}

/** max |a − b| ≤ tol · max |b| (norm-relative: entries near zero are sums of cancelling terms). */
export function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = TOL): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let scale = 0, err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  assert.ok(scale > 0, `${what}: reference is all zero`);
  assert.ok(err <= tol * scale, `${what}: max difference ${err.toExponential(3)} vs scale ${scale.toExponential(3)}`);
}

function randomMatrix(rng: Rng, r: number, c: number): Matrix {
  return new Matrix(r, c, Float64Array.from({ length: r * c }, () => rng.normal()));
}

/** Every pass through `engine` against the in-process accumulators on `chunk` (the same rows). */
export async function comparePasses(engine: EngineSource, chunk: SequenceChunk, var1: boolean): Promise<void> {
  const { dx, dy } = chunk;
  // ---- pass 1: input-model statistics
  const p1 = await engine.inputPass();
  const ref = new VAR1Stats(dx).add(chunk);
  assert.deepEqual([p1.stats.n, p1.stats.m, p1.stats.sequences], [ref.n, ref.m, ref.sequences]);
  close(p1.stats.mean, ref.mean, 'mean');
  close(p1.stats.M2, ref.M2, 'M2');
  close(p1.stats.pairMean, ref.pairMean, 'pairMean');
  close(p1.stats.pairM2, ref.pairM2, 'pairM2');
  const lengths = Array.from(chunk.lengths);
  assert.equal(p1.minLength, Math.min(...lengths));
  assert.equal(p1.maxLength, Math.max(...lengths));
  const yMean = p1.ySum.map((v) => v / p1.rows);
  const refY = new Float64Array(dy);
  for (let r = 0; r < chunk.rows; r++) for (let i = 0; i < dy; i++) refY[i] += chunk.y[r * dy + i] / chunk.rows;
  close(yMean, refY, 'y mean');
  const model = estimateVAR1(ref, { iid: !var1 }).model;

  // ---- pass 2: T2 halves (even / odd sequences), T1 (t < L − 1), input residual moments
  const def2 = momentsPassDefinition({ model, yMean, t2: true, t1: true, residualMoments: true });
  const rows2 = await engine.run(def2);
  const centred = centredChunk(chunk, yMean);
  const data = { chunk: centred, scores: chunkScores(model, centred), residual: null };
  const halves = readT2Halves(def2, rows2, model, dy);
  for (const h of [0, 1]) {
    const acc = new T2Accumulator(model, dy);
    acc.sequenceMask = Uint8Array.from(lengths, (_, k) => (k % 2 === h ? 1 : 0));
    acc.addData(data);
    assert.equal(halves[h].count, acc.count, `T2 half ${h} count`);
    close(halves[h].result(), acc.result(), `T2 half ${h}`);
  }
  const t1 = new T1Accumulator(model, dy, { skipLast: 1 }).addData(data);
  const t1s = readT1(def2, rows2, model, dy);
  assert.equal(t1s.count, t1.count);
  close(t1s.result(), t1.result(), 'T1');
  const rm = new ResidualMoments(dx).add(model, chunk), rms = readResidualMoments(def2, rows2, dx);
  assert.equal(rms.count, rm.count);
  close(rms.sums, rm.sums, 'residual moments');

  // ---- control variate on every 3rd sequence, each feature mode
  let cvFit: ControlVariateFit | null = null;
  for (const mode of ['full', 'current', 'none'] as QuadraticMode[]) {
    const defc = controlPassDefinition(dx, dy, mode, model.mean, 3);
    const cvs = readControlVariate(defc, await engine.run(defc), dx, dy, mode, model.mean);
    const cv = new ControlVariate(dx, dy, { quadratic: mode, center: model.mean });
    momentPass(null, strideSubchunk(chunk, 0, 3)!, [cv]);
    assert.equal(cvs.count, cv.count, `control variate (${mode}) count`);
    close(cvs.sum, cv.sum, `control variate (${mode}) normal equations`);
    if (mode === 'full') cvFit = cv.solve();
  }

  // ---- projected mixed moments: both directions, residual and centred targets, diagonal and full
  const rng = new Rng(7);
  const dh = 2;
  for (const direction of ['prev', 'next'] as const)
    for (const target of ['residual', 'centred'] as const)
      for (const full of [false, true]) {
        const spec: MixedPassSpec = {
          model,
          direction,
          demix: randomMatrix(rng, dh, dy),
          first: randomMatrix(rng, dx, dh),
          pair: randomMatrix(rng, dx, dh),
          full,
          target: target === 'residual' ? { kind: 'residual', coef: cvFit!.coef, center: cvFit!.center, quadratic: cvFit!.quadratic } : { kind: 'centred', yMean },
        };
        const defm = mixedPassDefinition(spec);
        const got = readMixed(defm, await engine.run(defm), spec, dy);
        const acc = new ProjectedMixedAccumulator(model, dy, direction, spec.demix, spec.first, spec.pair, { target: target === 'residual' ? 'residual' : 'y', full });
        momentPass(model, target === 'residual' ? chunk : centred, [acc], target === 'residual' ? cvFit : null);
        assert.equal(got.count, acc.count, `mixed ${direction} ${target} count`);
        close(got.result(), acc.result(), `mixed ${direction} ${target}${full ? ' full' : ''}`);
      }

  // ---- ordered rows streamed back (the output-layer pass and the refinement read these)
  const xs: number[] = [], ys: number[] = [], ls: number[] = [];
  for await (const c of engine.chunks()) {
    xs.push(...c.x);
    ys.push(...c.y);
    ls.push(...c.lengths);
  }
  assert.deepEqual(ls, lengths, 'streamed sequence lengths');
  assert.deepEqual(Float64Array.from(xs), chunk.x, 'streamed x (exact)');
  assert.deepEqual(Float64Array.from(ys), chunk.y, 'streamed y (exact)');
}

/**
 * The identification modules' own passes through `engine` against their in-process accumulators on `chunk`:
 * the BRNN's per-fold projected mixed moments (src/learn/identify/split.ts), the polynomial learner's order-l
 * Hermite moment (explicit, projected on a subspace, and the sketch's mixed projections) and its diagonal
 * contractions P1 (all steps and t < L − 1) and P2′, each with the control-variate residual and the centred
 * output as target.
 */
/**
 * `shapes: 'each'` runs every query shape once (one target, degree 4) instead of every combination: for a second
 * dialect whose SQL comes from the same generator, that is what can differ, and it keeps the suite's time down.
 */
export async function compareIdentifyPasses(engine: EngineSource, chunk: SequenceChunk, opts: { shapes?: 'all' | 'each' } = {}): Promise<void> {
  const each = opts.shapes === 'each';
  const { dx, dy } = chunk;
  const model = estimateVAR1(new VAR1Stats(dx).add(chunk)).model;
  const yMean = new Float64Array(dy);
  for (let r = 0; r < chunk.rows; r++) for (let i = 0; i < dy; i++) yMean[i] += chunk.y[r * dy + i] / chunk.rows;
  const cv = new ControlVariate(dx, dy, { center: model.mean });
  momentPass(null, chunk, [cv]);
  const cvFit = cv.solve();
  const centred = centredChunk(chunk, yMean);
  const targets: [string, TargetSpec, Float64Array][] = [
    ['residual', { kind: 'residual', coef: cvFit.coef, center: cvFit.center, quadratic: cvFit.quadratic }, bySubchunks(chunk, (sub) => cvFit.residualChunk(sub))],
    ['centred', { kind: 'centred', yMean }, centred.y],
  ];
  const rng = new Rng(17);
  const dh = 2;
  const scores = chunkScores(model, chunk);

  // ---- BRNN folds: whole sequences, fold = sequence index mod F
  const F = 4;
  for (const direction of ['prev', 'next'] as const) {
    const spec: MixedPassSpec = { model, direction, demix: randomMatrix(rng, dh, dy), first: randomMatrix(rng, dx, dh), pair: randomMatrix(rng, dx, dh), target: { kind: 'residual', coef: cvFit.coef, center: cvFit.center, quadratic: cvFit.quadratic }, folds: F };
    const def = mixedPassDefinition(spec);
    const got = readMixedFolds(def, await engine.run(def), spec, dy);
    const parts = foldParts(chunk, 0, F, false);
    for (let f = 0; f < F; f++) {
      const acc = new ProjectedMixedAccumulator(model, dy, direction, spec.demix, spec.first, spec.pair, { target: 'residual' });
      momentPass(model, parts[f]!, [acc], cvFit);
      assert.equal(got[f].count, acc.count, `fold ${f} ${direction} count`);
      close(got[f].result(), acc.result(), `fold ${f} ${direction}`);
    }
  }

  // ---- the U moment with the leading-term control variate as target (src/learn/identify/leading-cv.ts)
  for (const degree of each ? [4] : [3, 4]) {
    const A1 = randomMatrix(rng, dh, dx), G = randomMatrix(rng, dx, dh);
    const ucv = LeadingTermCV.fit([chunk], model.mean, cvFit.quadratic, A1, degree, dy)!;
    const spec: DiagonalPassSpec = { model, G, kind: 'P2prime', degree, target: leadingTarget(ucv), dy };
    const def = diagonalPassDefinition(spec);
    const got = readDiagonal(def, await engine.run(def), spec);
    const acc = new DiagonalHermiteAccumulator(model, dy, G, 'P2prime', degree).add(chunk, scores, bySubchunks(chunk, (sub) => ucv.residualChunk(sub)));
    assert.equal(got.count, acc.count, 'P2prime (leading CV) count');
    close(got.result(), acc.result(), `P2prime (degree ${degree}, leading-term CV)`);
  }

  for (const [tname, target, ty] of each ? targets.slice(0, 1) : targets) {
    // ---- diagonal contractions (degree 3 and 4)
    for (const degree of each ? [4] : [2, 3, 4]) {
      const G = randomMatrix(rng, dx, dh);
      for (const [kind, skipLast] of [['P1', 0], ['P1', 1], ['P2prime', 0], ['P2', 0]] as const) {
        const spec: DiagonalPassSpec = { model, G, kind, degree, target, dy, skipLast };
        const def = diagonalPassDefinition(spec);
        const got = readDiagonal(def, await engine.run(def), spec);
        const acc = new DiagonalHermiteAccumulator(model, dy, G, kind, degree, { skipLast }).add(chunk, scores, ty);
        assert.equal(got.count, acc.count, `${kind} count`);
        close(got.result(), acc.result(), `${kind} (degree ${degree}, skipLast ${skipLast}, ${tname})`);
      }
    }
    // ---- order-l tensor: explicit, projected on a subspace, sketch (Θ on l − 1 modes, identity on the last)
    const Q = new Matrix(dx, dh, Float64Array.from({ length: dx * dh }, (_, i) => svd(randomMatrix(new Rng(3), dx, dh)).U.get(Math.floor(i / dh), i % dh)));
    const Theta = randomMatrix(rng, dx, 2);
    const cases: [string, HermiteMode[]][] = [
      ['explicit l = 3', [0, 1, 2].map(() => ({ lag: 0 as const, Q: null }))],
      ['projected l = 4', [0, 1, 2, 3].map(() => ({ lag: 0 as const, Q }))],
      ['sketch l = 3', [{ lag: 0, Q: Theta }, { lag: 0, Q: Theta }, { lag: 0, Q: null }]],
    ];
    // The smooth learner's T3 on the even / odd sequences, projected (smooth-moments.ts `orderMoments`).
    {
      const modes = [0, 1, 2].map(() => ({ lag: 0 as const, Q }));
      const spec: TensorPassSpec = { model, modes, target, dy, halves: true };
      const { def, index } = tensorPassDefinition(spec);
      const got = readTensorHalves(def, index, await engine.run(def), spec);
      const tc = makeChunk(dx, dy, chunk.x, ty, chunk.lengths);
      for (const h of [0, 1]) {
        const sub = strideSubchunk(tc, 0, 2, h)!;
        const acc = new HermiteMomentAccumulator(model, dy, modes).add(sub, chunkScores(model, sub), sub.y);
        assert.equal(got[h].count, acc.count, `T3 half ${h} count`);
        close(got[h].result(), acc.result(), `T3 half ${h} (${tname})`);
      }
    }
    for (const [name, modes] of cases) {
      const spec: TensorPassSpec = { model, modes, target, dy };
      const { def, index } = tensorPassDefinition(spec);
      const got = readTensor(def, index, await engine.run(def), spec);
      const acc = new HermiteMomentAccumulator(model, dy, modes);
      acc.add(chunk, scores, ty);
      assert.equal(got.count, acc.count, `${name} count`);
      close(got.result(), acc.result(), `${name} (${tname})`);
    }
  }
}

/**
 * Sequences long enough for the Markov accumulator's half blocks (64 steps: lengths across 1, 2 and 3 blocks,
 * and short ones) and few enough for the BRNN's cut folds, for `compareLongSequences`.
 */
export const markovData = (seed: number) => randomData(seed, 0, () => [200, 1, 150, 65, 5, 129, 64, 9]);

/**
 * On few long sequences (`markovData`), through `engine` against the in-process accumulators on `chunk`: the linear
 * learner's Markov parameters (one chunk, so the in-process sequence numbering of the halves is the whole pass's;
 * lags past the longest sequence included) and the BRNN's fold statistics on blocks of cut sequences.
 */
export async function compareLongSequences(engine: EngineSource, chunk: SequenceChunk, lags: number): Promise<void> {
  const { dx, dy } = chunk;
  const model = estimateVAR1(new VAR1Stats(dx).add(chunk)).model;
  const yMean = new Float64Array(dy);
  for (let r = 0; r < chunk.rows; r++) for (let i = 0; i < dy; i++) yMean[i] += chunk.y[r * dy + i] / chunk.rows;
  const spec = { model, dy, lags, yMean };
  const def = markovPassDefinition(spec);
  const got = readMarkov(def, await engine.run(def), spec);
  const acc = new MarkovAccumulator(model, dy, lags);
  momentPass(model, centredChunk(chunk, yMean), [acc]);
  assert.equal(got.count, acc.count, 'Markov count');
  assert.deepEqual(got.pairCounts(), acc.pairCounts(), 'Markov pair counts per half and lag');
  close(got.result(), acc.result(), 'Markov parameters');
  const [h0, h1] = got.halves(), [r0, r1] = acc.halves();
  close(h0, r0, 'Markov half 0');
  close(h1, r1, 'Markov half 1');

  // ---- the BRNN's fold statistics with fewer than 2F sequences: blocks of cut sequences (foldParts with cutting)
  const F = 5, rng = new Rng(29), dh = 2;
  assert.ok(chunk.lengths.length < 2 * F);
  const cv = new ControlVariate(dx, dy, { center: model.mean });
  momentPass(null, chunk, [cv]);
  const cvFit = cv.solve();
  const parts = foldParts(chunk, 0, F, true);
  for (const direction of ['prev', 'next'] as const) {
    const spec: MixedPassSpec = { model, direction, demix: randomMatrix(rng, dh, dy), first: randomMatrix(rng, dx, dh), pair: randomMatrix(rng, dx, dh), target: { kind: 'residual', coef: cvFit.coef, center: cvFit.center, quadratic: cvFit.quadratic }, folds: F, cut: true };
    const def = mixedPassDefinition(spec);
    const got = readMixedFolds(def, await engine.run(def), spec, dy);
    for (let f = 0; f < F; f++) {
      const acc = new ProjectedMixedAccumulator(model, dy, direction, spec.demix, spec.first, spec.pair, { target: 'residual' });
      momentPass(model, parts[f]!, [acc], cvFit);
      assert.equal(got[f].count, acc.count, `cut fold ${f} ${direction} count`);
      close(got[f].result(), acc.result(), `cut fold ${f} ${direction}`);
    }
  }
}

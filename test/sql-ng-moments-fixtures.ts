import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { svd } from '../src/linalg/svd.js';
import { SequenceChunk, makeChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { ControlVariate, ControlVariateFit } from '../src/moments/control.js';
import { momentPass } from '../src/moments/accumulator.js';
import { HermiteMode } from '../src/moments/higher.js';
import { NGProjectedMixedAccumulator, NGT1Accumulator } from '../src/moments/nongaussian.js';
import { diagonalFor, hermiteMomentFor } from '../src/moments/nongaussian-higher.js';
import { bySubchunks, centredChunk, strideSubchunk } from '../src/learn/chunks.js';
import { foldParts } from '../src/learn/identify/split.js';
import { EngineSource } from '../src/io/engines/engine.js';
import { TargetSpec } from '../src/sql/passes.js';
import { NGMixedPassSpec, ngMixedPassDefinition, ngP2PassDefinition, ngT1PassDefinition, readNGMixed, readNGMixedFolds, readNGP2, readNGT1 } from '../src/sql/nongaussian-mixed.js';
import { NGStepPassSpec, ngStepPassDefinition, readNGStep, readNGStepHalves } from '../src/sql/order-l-passes.js';
import { runAccumulators } from '../src/sql/accumulators.js';
import { close } from './sql-fixtures.js';

/**
 * The non-Gaussian T1, third-order projected mixed moment (and the polynomial learner's 'P2' built from it) and
 * order-l step moments as SQL (src/sql/nongaussian-mixed.ts, order-l-passes.ts) against the in-process
 * accumulators on the same rows; data and models of test/sql-nongaussian-fixtures.ts. Tolerance: `close`
 * (summation order only; see test/sql-fixtures.ts).
 */

const randomMatrix = (rng: Rng, r: number, c: number) => new Matrix(r, c, Float64Array.from({ length: r * c }, () => rng.normal()));

interface Target {
  name: string;
  spec: TargetSpec;
  /** rows×dy target values of a chunk (what the in-process accumulators are fed). */
  values: (c: SequenceChunk) => Float64Array;
  /** What momentPass needs for the MomentAccumulators: the centred chunk, or the raw chunk and the control variate. */
  pass: (c: SequenceChunk) => { chunk: SequenceChunk; cv: ControlVariateFit | null };
}

function targets(chunk: SequenceChunk, model: MixtureVAR1, yMean: Float64Array): Target[] {
  const cv = new ControlVariate(chunk.dx, chunk.dy, { quadratic: 'full', center: model.mean });
  momentPass(null, chunk, [cv]);
  const fit = cv.solve();
  return [
    { name: 'centred', spec: { kind: 'centred', yMean }, values: (c) => centredChunk(c, yMean).y, pass: (c) => ({ chunk: centredChunk(c, yMean), cv: null }) },
    {
      name: 'residual',
      spec: { kind: 'residual', coef: fit.coef, center: fit.center, quadratic: fit.quadratic },
      values: (c) => bySubchunks(c, (sub) => fit.residualChunk(sub)),
      pass: (c) => ({ chunk: c, cv: fit }),
    },
  ];
}

type Rows = { engine: EngineSource; chunk: SequenceChunk };
type Model = { name: string; model: MixtureVAR1 };
/** One comparison: the pass of `model` with `target` against its in-process accumulator. */
type Shape = { name: string; run: (model: MixtureVAR1, target: Target, what: string) => Promise<void> };

/**
 * Every (model, shape) pair; the target alternates between y − ȳ and the control-variate residual along both, so
 * each shape meets both targets (the target is the shared feature set of src/sql/passes.ts, tested with every
 * Gaussian pass). `shapes`: only these (PostgreSQL: each query shape once). `few`: a chunk with fewer than 2F
 * sequences for the BRNN's cut folds. `near`: the rows for the order-l step moments, without the far innovation:
 * there the partition sums of the Stein representers' cumulants cancel by 9 (l = 3) to 14 (l = 4) digits, so that
 * the in-process accumulator's own entries that are equal in exact arithmetic (permuted indices) differ by 4e−8
 * (l = 3) and 3e−3 (l = 4) of the largest entry: no second evaluation can agree to 1e−9 there.
 */
export async function compareNonGaussianMoments(engine: EngineSource, chunk: SequenceChunk, models: Model[], opts: { shapes?: string[]; few?: Rows; near: Rows }): Promise<void> {
  const { dx, dy } = chunk;
  const yMean = Float64Array.from([0.8, 1.9]);
  const rng = new Rng(5), dh = 2;
  const kind = (t: Target) => (t.pass(chunk).cv ? ('residual' as const) : ('y' as const));
  const t1 = (skipLast: 0 | 1, viaList: boolean): Shape => ({
    name: `T1 skipLast ${skipLast}`,
    run: async (model, target, what) => {
      const { chunk: pc, cv } = target.pass(chunk);
      const ref = new NGT1Accumulator(model, dy, { skipLast, target: kind(target) });
      momentPass(model, pc, [ref], cv);
      let got: NGT1Accumulator;
      if (viaList) {
        // Through the accumulator-list hook (src/sql/accumulators.ts): its dispatch and the reader.
        got = new NGT1Accumulator(model, dy, { skipLast, target: kind(target) });
        await runAccumulators(engine, [got], { model, yShift: yMean, cvFit: cv });
      } else {
        const s = { model, dy, target: target.spec, skipLast };
        const def = ngT1PassDefinition(s);
        got = readNGT1(def, await engine.run(def), s);
      }
      assert.equal(got.count, ref.count, `${what}: count`);
      close(got.sum, ref.sum, what);
    },
  });
  const mixed = (direction: 'prev' | 'next', viaList: boolean): Shape => ({
    name: `mixed ${direction}`,
    run: async (model, target, what) => {
      const { chunk: pc, cv } = target.pass(chunk);
      const s: NGMixedPassSpec = { model, direction, demix: randomMatrix(rng, dh, dy), first: randomMatrix(rng, dx, dh), pair: randomMatrix(rng, dx, dh), target: target.spec };
      const mk = () => new NGProjectedMixedAccumulator(model, dy, direction, s.demix, s.first, s.pair, { target: kind(target) });
      const ref = mk();
      momentPass(model, pc, [ref], cv);
      let got: NGProjectedMixedAccumulator;
      if (viaList) {
        got = mk();
        await runAccumulators(engine, [got], { model, yShift: yMean, cvFit: cv });
      } else {
        const def = ngMixedPassDefinition(s);
        got = readNGMixed(def, await engine.run(def), s);
      }
      assert.equal(got.count, ref.count, `${what}: count`);
      close(got.sum, ref.sum, what);
    },
  });
  // The BRNN's fold statistics: fold = sequence index mod F, or blocks of cut sequences when there are few.
  const folds = (direction: 'prev' | 'next', rows: Rows, cut: boolean): Shape => ({
    name: `mixed ${direction} folds${cut ? ' (cut)' : ''}`,
    run: async (model, target, what) => {
      const F = 4, cv = target.pass(rows.chunk).cv;
      const s: NGMixedPassSpec = { model, direction, demix: randomMatrix(rng, dh, dy), first: randomMatrix(rng, dx, dh), pair: randomMatrix(rng, dx, dh), target: target.spec, folds: F, cut };
      const def = ngMixedPassDefinition(s);
      const got = readNGMixedFolds(def, await rows.engine.run(def), s);
      const parts = foldParts(target.pass(rows.chunk).chunk, 0, F, cut);
      for (let f = 0; f < F; f++) {
        const ref = new NGProjectedMixedAccumulator(model, dy, direction, s.demix, s.first, s.pair, { target: kind(target) });
        if (parts[f]) momentPass(model, parts[f]!, [ref], cv);
        assert.equal(got[f].count, ref.count, `${what}: fold ${f} count`);
        if (ref.count > 0) close(got[f].sum, ref.sum, `${what}: fold ${f}`);
      }
    },
  });
  // The polynomial learner's U moment P2 at l = 2 (per-output mixed moments on the duals).
  const p2: Shape = {
    name: 'P2',
    run: async (model, target, what) => {
      const G = randomMatrix(rng, dx, dh);
      const def = ngP2PassDefinition(model, G, target.spec, dy);
      const got = readNGP2(def, await engine.run(def), dy, dh);
      const y = target.values(chunk);
      const ref = diagonalFor(model, dy, G, 'P2', 2);
      ref.add(makeChunk(dx, dy, chunk.x, y, chunk.lengths), null, y);
      assert.equal(got.count, ref.count, `${what}: count`);
      close(got.sum, ref.sum, what);
    },
  };
  // Order-l step moments (on the `near` rows): explicit, projected on a subspace, sketch (Θ on l − 1 modes), T3 halves.
  const Q = new Matrix(dx, dh, Float64Array.from({ length: dx * dh }, (_, i) => svd(randomMatrix(new Rng(3), dx, dh)).U.get(Math.floor(i / dh), i % dh)));
  const Theta = randomMatrix(new Rng(4), dx, 2);
  const near = opts.near;
  const step = (name: string, modes: HermiteMode[], skipLast: 0 | 1, halves = false): Shape => ({
    name,
    run: async (model, target, what) => {
      const s: NGStepPassSpec = { model, modes, target: target.spec, dy, skipLast, halves };
      const { def, index } = ngStepPassDefinition(s);
      const rows = await near.engine.run(def);
      const tc = makeChunk(dx, dy, near.chunk.x, target.values(near.chunk), near.chunk.lengths);
      const got = halves ? readNGStepHalves(def, index, rows, s) : [readNGStep(def, index, rows, s)];
      const subs = halves ? [0, 1].map((h) => strideSubchunk(tc, 0, 2, h)!) : [tc];
      subs.forEach((sub, h) => {
        const ref = hermiteMomentFor(model, dy, modes, { skipLast });
        ref.add(sub, null, sub.y);
        assert.equal(got[h].count, ref.count, `${what}: part ${h} count`);
        close(got[h].sum, ref.sum, `${what}${halves ? ` half ${h}` : ''}`);
      });
    },
  });
  const id = (l: number) => Array.from({ length: l }, () => ({ lag: 0 as const, Q: null }));
  const shapes: Shape[] = [
    t1(0, false),
    t1(1, true),
    mixed('prev', false),
    mixed('next', true),
    folds('prev', { engine, chunk }, false),
    ...(opts.few ? [folds('next', opts.few, true), folds('prev', opts.few, true)] : []),
    p2,
    step('explicit l = 1', id(1), 0),
    step('explicit l = 2', id(2), 1),
    step('explicit l = 3', id(3), 0),
    step('explicit l = 4', id(4), 0),
    step('projected l = 4', [0, 1, 2, 3].map(() => ({ lag: 0 as const, Q })), 1),
    step('sketch l = 3', [{ lag: 0, Q: Theta }, { lag: 0, Q: Theta }, { lag: 0, Q: null }], 0),
    step('T3 halves', [0, 1, 2].map(() => ({ lag: 0 as const, Q })), 0, true),
  ].filter((sh) => !opts.shapes || opts.shapes.includes(sh.name));
  if (opts.shapes && shapes.length !== opts.shapes.length) throw new Error(`unknown shape in ${opts.shapes.join(', ')}`);
  for (const [mi, { name, model }] of models.entries()) {
    const tg = targets(chunk, model, yMean);
    for (const [si, sh] of shapes.entries()) {
      const target = tg[(mi + si) % 2];
      await sh.run(model, target, `${name}, ${target.name}: ${sh.name}`);
    }
  }
}

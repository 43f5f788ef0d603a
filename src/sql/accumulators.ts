import { InputModel } from '../input/model.js';
import { Matrix } from '../linalg/matrix.js';
import { AccumulatorSpec, MomentAccumulator } from '../moments/accumulator.js';
import { ControlVariateFit } from '../moments/control.js';
import { PassDefinition, ResultRow } from './definition.js';
import { controlPassDefinition, mixedPassDefinition, MixedPassSpec, momentsPassDefinition, TargetSpec } from './passes.js';
import { readControlVariate, readMixed, readT1, readT2Halves } from './statistics.js';
import { MarkovPassSpec, markovPassDefinition, readMarkov } from './markov-pass.js';
import { ngT2PassDefinition, readNGT2Halves } from './nongaussian-passes.js';
import { NGMixedPassSpec, ngMixedPassDefinition, ngT1PassDefinition, readNGMixed, readNGT1 } from './nongaussian-mixed.js';

/**
 * The accumulator-list form of a pass for the engines: what `momentPass(model, chunk, accs, cvFit)` does over every
 * chunk, done by one aggregate query per accumulator, each accumulator's state loaded from the result rows.
 * This is the hook for a pass runner: a stage that declares its pass as a list of accumulators (instead of a
 * closure over chunks) runs unchanged on a file in-process or on an engine.
 *
 * `yShift`: the constant subtracted from y for the accumulators that target y (the learners centre y by ȳ before
 * their T2 / T1 / centred mixed moments); zeros when y is used raw. Residual-target accumulators read `cvFit`.
 */
export interface EngineLike {
  run(def: PassDefinition): Promise<ResultRow[]>;
}

export async function runAccumulators(
  engine: EngineLike,
  accs: MomentAccumulator[],
  ctx: { model: InputModel; yShift: ArrayLike<number>; cvFit?: ControlVariateFit | null; stride?: number },
): Promise<void> {
  for (const acc of accs) {
    const spec = acc.spec();
    const dy = acc.dy;
    let filled: MomentAccumulator;
    if (spec.type === 'T2' || spec.type === 'T1') {
      if (spec.target === 'residual') throw new Error(`SQL engines: a ${spec.type} accumulator of control-variate residuals is not supported (the control variate is not valid for T2)`);
      if (spec.type === 'T2' && (spec.skipLast ?? 0) !== 0) throw new Error('SQL engines: T2 with skipLast is not supported');
      if (spec.type === 'T1' && (spec.skipLast ?? 0) !== 1) throw new Error('SQL engines: T1 is supported with skipLast = 1 (the polynomial learner\'s)');
      const def = momentsPassDefinition({ model: ctx.model, yMean: ctx.yShift, t2: spec.type === 'T2', t1: spec.type === 'T1' });
      const rows = await engine.run(def);
      if (spec.type === 'T1') filled = readT1(def, rows, ctx.model, dy);
      else {
        const [a, b] = readT2Halves(def, rows, ctx.model, dy);
        filled = a.merge(b);
      }
    } else if (spec.type === 'ngT2') {
      if (spec.target === 'residual') throw new Error('SQL engines: a non-Gaussian T2 accumulator of control-variate residuals is not supported');
      if ((spec.skipLast ?? 0) !== 0) throw new Error('SQL engines: non-Gaussian T2 with skipLast is not supported');
      const def = ngT2PassDefinition(ctx.model, ctx.yShift);
      const [a, b] = readNGT2Halves(def, await engine.run(def), ctx.model, dy);
      filled = a.merge(b);
    } else if (spec.type === 'mixedProjected') {
      const m = mixedPassSpec(spec, ctx);
      const def = mixedPassDefinition(m);
      filled = readMixed(def, await engine.run(def), m, dy);
    } else if (spec.type === 'controlVariate') {
      const def = controlPassDefinition(spec.dx, dy, spec.quadratic, spec.center, ctx.stride ?? 1);
      filled = readControlVariate(def, await engine.run(def), spec.dx, dy, spec.quadratic, spec.center);
    } else if (spec.type === 'markov') {
      if (spec.target === 'residual') throw new Error('SQL engines: a Markov accumulator of control-variate residuals is not supported (the learners use y − ȳ)');
      const m: MarkovPassSpec = { model: ctx.model, dy, lags: spec.lags, yMean: ctx.yShift };
      const def = markovPassDefinition(m);
      filled = readMarkov(def, await engine.run(def), m);
    } else if (spec.type === 'ngT1') {
      const skipLast = spec.skipLast ?? 0;
      if (skipLast !== 0 && skipLast !== 1) throw new Error(`SQL engines: non-Gaussian T1 with skipLast ${skipLast} is not supported (0 or 1)`);
      const s = { model: ctx.model, dy, target: accumulatorTarget(spec.target, ctx, 'non-Gaussian T1'), skipLast } as const;
      const def = ngT1PassDefinition(s);
      filled = readNGT1(def, await engine.run(def), s);
    } else if (spec.type === 'ngMixedProjected') {
      const s: NGMixedPassSpec = {
        model: ctx.model,
        direction: spec.direction,
        demix: Matrix.from(spec.demix),
        first: Matrix.from(spec.first),
        pair: Matrix.from(spec.pair),
        target: accumulatorTarget(spec.target, ctx, 'non-Gaussian mixed moment'),
      };
      const def = ngMixedPassDefinition(s);
      filled = readNGMixed(def, await engine.run(def), s);
    } else throw new Error(`SQL engines: no query for a ${spec.type} accumulator (use the projected mixed moment)`);
    if (JSON.stringify(filled.spec()) !== JSON.stringify(spec)) throw new Error(`SQL engines: ${spec.type} accumulator spec changed on the way through SQL`);
    acc.loadState(filled.count, filled.sum);
  }
}

/** The target of an accumulator with `target` 'y' (y − yShift) or 'residual' (the fitted control variate's residual). */
function accumulatorTarget(target: string | undefined, ctx: { yShift: ArrayLike<number>; cvFit?: ControlVariateFit | null }, what: string): TargetSpec {
  if (target !== 'residual') return targetOf(null, ctx.yShift);
  if (!ctx.cvFit) throw new Error(`SQL engines: a residual-target ${what} needs the fitted control variate`);
  return targetOf(ctx.cvFit, ctx.yShift);
}

/** The query spec of a ProjectedMixedAccumulator's spec (`ctx` as for `runAccumulators`). */
export function mixedPassSpec(
  spec: Extract<AccumulatorSpec, { type: 'mixedProjected' }>,
  ctx: { model: InputModel; yShift: ArrayLike<number>; cvFit?: ControlVariateFit | null },
): MixedPassSpec {
  const cv = ctx.cvFit;
  if (spec.target === 'residual' && !cv) throw new Error('SQL engines: a residual-target mixed moment needs the fitted control variate');
  return {
    model: ctx.model,
    direction: spec.direction,
    demix: Matrix.from(spec.demix),
    first: Matrix.from(spec.first),
    pair: Matrix.from(spec.pair),
    full: spec.full,
    target: targetOf(spec.target === 'residual' ? cv! : null, ctx.yShift),
  };
}

/** The target of a moment query: the control-variate residual when `cvFit` is given, else y − `yMean`. */
export function targetOf(cvFit: ControlVariateFit | null, yMean: ArrayLike<number>): TargetSpec {
  return cvFit ? { kind: 'residual', coef: cvFit.coef, center: cvFit.center, quadratic: cvFit.quadratic } : { kind: 'centred', yMean };
}

import type { ResidualMoments } from '../input/fit.js';
import { InputModel } from '../input/model.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { UserError } from '../io/errors.js';
import { EngineSource } from '../io/engines/engine.js';
import { ControlVariateFit } from '../moments/control.js';
import { MomentAccumulator } from '../moments/accumulator.js';
import { EngineLike, mixedPassSpec, runAccumulators } from '../sql/accumulators.js';
import { TargetSpec, mixedPassDefinition, momentsPassDefinition } from '../sql/passes.js';
import { readMixedFolds, readResidualMoments, readT1, readT2Halves } from '../sql/statistics.js';
import { ngDiagonalPassDefinition, ngT2PassDefinition, readNGDiagonal, readNGT2Halves } from '../sql/nongaussian-passes.js';
import { TensorPassSpec, diagonalPassDefinition, readDiagonal, readTensor, tensorPassDefinition } from '../sql/hermite-passes.js';
import { NGDiagonalAccumulator } from '../moments/nongaussian.js';
import type { ScoreMoment } from '../moments/nongaussian-higher.js';
import type { TrainingData } from './passes.js';
import type { LearnerOptions } from './options.js';

/**
 * The moment passes of a fit on an engine source (`gloree fit … --engine duckdb|postgres`, issue #16) as aggregate
 * queries in the engine (src/sql/): each accumulator's sums come back as result rows and are loaded into the same
 * in-process accumulator (`loadState`), so the learner continues on them unchanged. What has no SQL form (or needs
 * rows: a kept subsample, the RNN recursion) is fed by streamed rows as before. `record` says, per stage, which ran
 * where; it goes to `FitResult.passes` and `fit --json`, never to the model file (the model does not depend on the
 * engine beyond rounding: a sum in another order).
 */
export interface EnginePasses {
  engine: EngineLike;
  /** Stage name → 'sql', 'rows (why)', or 'sql + rows (why)' when part of the stage's accumulators streamed. */
  record: Record<string, string>;
}

/**
 * The engine of `data` when its moment passes run as SQL: an engine source with `sqlPasses`. Off by default: pass 1
 * and the output layer still read every row (into the spill), so the queries save no transfer, and the in-process
 * passes on the spill are faster than the engines' window-and-aggregate queries (bench/sql.ts at 1e7 Parquet rows:
 * DuckDB fit 0.45× the in-process time streaming, 2.99× with the aggregates; a local PostgreSQL at 1e5 rows 1.6 s
 * vs 4.5 s). (DuckDB runs each aggregate query on one thread, src/io/engines/engine.ts, so the model bits do not change from run to run.) A fit on standardised columns
 * reads a scaled view of the rows that the engine does not see.
 */
export function enginePassesFor(data: TrainingData, opts: LearnerOptions): EnginePasses | null {
  if (!(data instanceof EngineSource) || opts.standardise || opts.sqlPasses !== true) return null;
  return { engine: data, record: {} };
}

/** Why an accumulator has no SQL form (an internal Error of the dispatch); a UserError (bad data, a failing query) is not a fallback. */
function noSqlForm(e: unknown): string {
  if (e instanceof UserError || !(e instanceof Error)) throw e;
  return e.message.replace(/^SQL engines:\s*/, '');
}

/** Record a stage: all in SQL, all streamed, or part of each. */
export function recordStage(ep: EnginePasses, stage: string, sql: number, reasons: string[]): void {
  const why = [...new Set(reasons)].join('; ');
  ep.record[stage] = reasons.length === 0 ? 'sql' : sql === 0 ? `rows (${why})` : `sql + rows (${why})`;
}

/**
 * `accs` as aggregate queries (src/sql/accumulators.ts `runAccumulators`), one accumulator at a time so that one
 * without a SQL form does not keep the others from the engine. Returns those left for the streamed rows.
 */
export async function accumulateOnEngine(ep: EnginePasses, stage: string, accs: MomentAccumulator[], ctx: AccumulateContext): Promise<MomentAccumulator[]> {
  const { rest, reasons } = await eachOnEngine(ep.engine, accs, ctx);
  recordStage(ep, stage, accs.length - rest.length, reasons);
  return rest;
}

export type AccumulateContext = { model: InputModel; yShift: ArrayLike<number>; cvFit?: ControlVariateFit | null; stride?: number };

async function eachOnEngine(engine: EngineLike, accs: MomentAccumulator[], ctx: AccumulateContext): Promise<{ rest: MomentAccumulator[]; reasons: string[] }> {
  const rest: MomentAccumulator[] = [], reasons: string[] = [];
  for (const acc of accs) {
    try {
      await runAccumulators(engine, [acc], ctx);
    } catch (e) {
      reasons.push(noSqlForm(e));
      rest.push(acc);
    }
  }
  return { rest, reasons };
}

/** What pass 2 left for the streamed rows after its SQL part (`momentsOnEngine`). */
export interface MomentsLeft {
  t2: boolean;
  extra: MomentAccumulator[];
  controlVariate: boolean;
  residual: boolean;
}

/**
 * Pass 2 (src/learn/data-passes.ts `momentsPass`) on the engine: the T2 halves, a T1 of the extra accumulators and
 * the Gaussian input model's residual moments in one query (`momentsPassDefinition`; the mixture model's T2 halves
 * by `ngT2PassDefinition`), the control variate on its strided sequences and any other extra accumulator by
 * `runAccumulators`. The control variate streams when a module keeps its subsample rows (`keepsControlRows`).
 * Every state is loaded only once its query and reading succeeded (a part that falls back to rows starts empty).
 */
export async function momentsOnEngine(
  ep: EnginePasses,
  w: {
    model: InputModel;
    yMean: Float64Array;
    dy: number;
    t2Halves: [MomentAccumulator, MomentAccumulator] | null;
    extra: MomentAccumulator[];
    cv: MomentAccumulator | null;
    cvStride: number;
    keepsControlRows: boolean;
    /** The Gaussian VAR(1)'s residual moments, to be filled for its diagnostics (src/input/fit.ts `finishFit`). */
    residual: ResidualMoments | null;
  },
): Promise<MomentsLeft> {
  const { model, yMean, dy } = w;
  const left: MomentsLeft = { t2: w.t2Halves !== null, extra: [...w.extra], controlVariate: w.cv !== null, residual: w.residual !== null };
  const reasons: string[] = [];
  let sql = 0;
  const isT1 = (a: MomentAccumulator) => {
    const s = a.spec();
    return s.type === 'T1' && s.target !== 'residual' && (s.skipLast ?? 0) === 1;
  };
  const t1 = model instanceof MixtureVAR1 ? null : (left.extra.find(isT1) ?? null);
  if (left.t2 || t1 || left.residual) {
    try {
      let halves: { count: number; sum: Float64Array }[] | null = null, t1State: { count: number; sum: Float64Array } | null = null, res: ResidualMoments | null = null;
      if (model instanceof MixtureVAR1) {
        if (left.t2) {
          const def = ngT2PassDefinition(model, yMean);
          halves = readNGT2Halves(def, await ep.engine.run(def), model, dy);
        }
      } else {
        const def = momentsPassDefinition({ model, yMean, t2: left.t2, t1: t1 !== null, residualMoments: left.residual });
        const rows = await ep.engine.run(def);
        if (left.t2) halves = readT2Halves(def, rows, model, dy);
        if (t1) t1State = readT1(def, rows, model, dy);
        if (left.residual) res = readResidualMoments(def, rows, model.dx);
      }
      if (halves) {
        halves.forEach((h, k) => w.t2Halves![k].loadState(h.count, h.sum));
        left.t2 = false;
      }
      if (t1 && t1State) {
        t1.loadState(t1State.count, t1State.sum);
        left.extra = left.extra.filter((a) => a !== t1);
      }
      if (res) {
        w.residual!.count = res.count;
        w.residual!.sums.set(res.sums);
        left.residual = false;
      }
      sql++;
    } catch (e) {
      reasons.push(noSqlForm(e));
    }
  }
  if (left.residual) reasons.push('input residual moments of this input model');
  if (left.extra.length > 0) {
    const n = left.extra.length;
    const r = await eachOnEngine(ep.engine, left.extra, { model, yShift: yMean });
    left.extra = r.rest;
    sql += n - r.rest.length;
    reasons.push(...r.reasons);
  }
  if (w.cv && w.keepsControlRows) reasons.push('the control-variate subsample is kept as rows');
  else if (w.cv) {
    const r = await eachOnEngine(ep.engine, [w.cv], { model, yShift: new Float64Array(dy), stride: w.cvStride });
    left.controlVariate = r.rest.length > 0;
    if (left.controlVariate) reasons.push(...r.reasons);
    else sql++;
  }
  recordStage(ep, 'moments', sql, reasons);
  return left;
}

/**
 * A pass with a query shape of its own: `query` runs its queries on the engine and returns what loads the states
 * (called only once every query and reading succeeded). False (nothing loaded) when it has no SQL form: the caller
 * streams the rows for the stage as before.
 */
export async function ownQueryOnEngine(ep: EnginePasses, stage: string, query: (engine: EngineLike) => Promise<() => void>): Promise<boolean> {
  let load: () => void;
  try {
    load = await query(ep.engine);
  } catch (e) {
    recordStage(ep, stage, 0, [noSqlForm(e)]);
    return false;
  }
  load();
  recordStage(ep, stage, 1, []);
  return true;
}

/**
 * The BRNN's fold statistics (src/learn/identify/bidirectional.ts: `foldParts` then one ProjectedMixedAccumulator
 * per fold and direction) as one query per direction grouped by fold (`mixedPassDefinition` with `folds`, `cut`).
 * `folds[f]` lists fold f's accumulators, the same specs in every fold. False (nothing loaded) when a spec has no
 * SQL form: the caller then streams the rows for the stage as before.
 */
export async function foldsOnEngine(ep: EnginePasses, stage: string, folds: MomentAccumulator[][], ctx: AccumulateContext, cut: boolean): Promise<boolean> {
  return ownQueryOnEngine(ep, stage, async (engine) => {
    const states: { count: number; sum: Float64Array }[][] = folds.map(() => []);
    for (let i = 0; i < folds[0].length; i++) {
      const spec = folds[0][i].spec();
      if (spec.type !== 'mixedProjected') throw new Error(`SQL engines: no fold query for a ${spec.type} accumulator`);
      const m = { ...mixedPassSpec(spec, ctx), folds: folds.length, cut };
      const def = mixedPassDefinition(m);
      readMixedFolds(def, await engine.run(def), m, spec.dy).forEach((a, f) => states[f].push({ count: a.count, sum: a.sum }));
    }
    return () => folds.forEach((accs, f) => accs.forEach((a, i) => a.loadState(states[f][i].count, states[f][i].sum)));
  });
}

/**
 * The polynomial learner's diagonal Hermite moments (P1, P2′; src/moments/diagonal-hermite.ts, or the non-Gaussian
 * NGDiagonalAccumulator) as one query each, with their targets (`TargetSpec`: y − ȳ, the control-variate residual,
 * the leading-term residual). False (nothing loaded) when one has no SQL form (e.g. the non-Gaussian P2).
 */
export async function diagonalsOnEngine(ep: EnginePasses, stage: string, items: { moment: ScoreMoment; target: TargetSpec }[]): Promise<boolean> {
  return ownQueryOnEngine(ep, stage, async (engine) => {
    const loads: (() => void)[] = [];
    for (const { moment, target } of items) {
      const acc = moment.diagonal;
      if (acc === undefined) throw new Error('SQL engines: no query for this moment (the non-Gaussian P2)');
      let r: { count: number; sum: Float64Array };
      if (acc instanceof NGDiagonalAccumulator) {
        const def = ngDiagonalPassDefinition(acc, target);
        r = readNGDiagonal(def, await engine.run(def), acc);
      } else {
        const spec = { model: acc.model, G: acc.G, kind: acc.kind, degree: acc.degree, target, dy: acc.dy, skipLast: acc.skipLast as 0 | 1 };
        const def = diagonalPassDefinition(spec);
        r = readDiagonal(def, await engine.run(def), spec);
      }
      if (r.sum.length !== acc.sum.length) throw new Error(`SQL engines: the ${acc.kind} query returned ${r.sum.length} sums for ${acc.sum.length}`);
      loads.push(() => {
        acc.count = r.count;
        acc.sum.set(r.sum);
      });
    }
    return () => loads.forEach((load) => load());
  });
}

/**
 * The polynomial learner's order-l moment or its sketch (a Gaussian HermiteMomentAccumulator of lag-0 `modes`,
 * skipLast 0) as one query (`tensorPassDefinition`). False (nothing loaded) without a SQL form (the non-Gaussian
 * step moment).
 */
export async function tensorOnEngine(ep: EnginePasses, stage: string, moment: ScoreMoment, spec: Omit<TensorPassSpec, 'halves' | 'skipLast'>): Promise<boolean> {
  return ownQueryOnEngine(ep, stage, async (engine) => {
    const acc = moment.tensor;
    if (acc === undefined) throw new Error('SQL engines: no query for the non-Gaussian order-l step moment');
    const { def, index } = tensorPassDefinition(spec);
    const r = readTensor(def, index, await engine.run(def), spec);
    if (r.sum.length !== acc.sum.length) throw new Error(`SQL engines: the order-l query returned ${r.sum.length} sums for ${acc.sum.length}`);
    return () => {
      acc.count = r.count;
      acc.sum.set(r.sum);
    };
  });
}

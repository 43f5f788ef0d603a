import { Command, Option } from 'commander';
import { UserError } from '../io/errors.js';
import { inputModelFromJSON, InputModelJSON } from '../input/model.js';
import { GaussianVAR1 } from '../input/gaussian.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { ConditionalScoreUAccumulator } from '../moments/nongaussian-u.js';
import { NGDiagonalAccumulator } from '../moments/nongaussian.js';
import { quadraticCoefficient } from '../learn/identify/quadratic.js';
import { ngDiagonalPassDefinition, ngT2PassDefinition, ngUPassDefinition } from '../sql/nongaussian-passes.js';
import { learnerOf } from '../learn/diagnostics.js';
import { markovPassDefinition } from '../sql/markov-pass.js';
import { diagonalPassDefinition, tensorPassDefinition } from '../sql/hermite-passes.js';
import { ngMixedPassDefinition, ngP2PassDefinition, ngT1PassDefinition } from '../sql/nongaussian-mixed.js';
import { ngStepPassDefinition } from '../sql/order-l-passes.js';
import { pinv } from '../linalg/pinv.js';
import { Matrix, transpose } from '../linalg/matrix.js';
import { loadModel } from '../models/serialize.js';
import { defaultQuadraticMode } from '../moments/control.js';
import { DIALECTS, dialect } from '../sql/dialect.js';
import { Relation, passSQL } from '../sql/generate.js';
import { controlPassDefinition, inputPassDefinition, mixedPassDefinition, momentsPassDefinition } from '../sql/passes.js';
import { PassDefinition } from '../sql/definition.js';
import { out } from './io.js';
import { columns } from './report-command.js';

/**
 * `gloree sql --dialect duckdb|postgres|spark|trino --table T|--from SQL --x … --y … [--seq C] [--time C] [--model M]`: print
 * the aggregate queries of a fit for teams that run them on their own cluster (docs/sql-engines.md). Pass 1
 * needs nothing fitted. Later passes inline constants of earlier stages, so they are printed from a model file
 * (`--model`, written by `gloree fit`): its input model for the moments pass and the control-variate normal
 * equations, and then by learner: the linear learner's Markov parameters (64 lags), the polynomial learner's
 * order-l moment (when the fit formed it explicitly) and U moment (P2 at l = 2, P2′ above, on the duals of A1), the
 * BRNN's fold statistics in both directions (on the duals of [A1; B1], per fold, cut as the fit was), else the
 * projected mixed moment from A1, A2, preceded for the smooth learner by its T3 halves when explicit (centred
 * target: the fitted control variates are not in the model file). For the non-Gaussian (mixture-var1) input model:
 * its T2 halves, T1 for the polynomial and smooth learners, and the same learner passes in their non-Gaussian form
 * (the quadratic learner's U from conditional scores). DuckDB and PostgreSQL are tested here; Spark
 * SQL and Trino are generated only.
 */
export interface SqlCommandOptions {
  dialect: string;
  table?: string;
  /** A raw FROM item instead of --table, e.g. read_parquet('f.parquet', file_row_number = true). */
  from?: string;
  x?: string;
  y?: string;
  seq?: string;
  time?: string;
  order?: string;
  model?: string;
  shift?: string;
  controlStride?: number;
}

export function sqlQueries(o: SqlCommandOptions): { name: string; sql: string }[] {
  const d = dialect(o.dialect);
  const x = columns(o.x), y = columns(o.y);
  if (!x || !y) throw new UserError('gloree sql: give the input and output columns (--x a,b,… --y c,…): the queries are printed without reading the table');
  if (o.time === undefined && o.order === undefined) throw new UserError('gloree sql: give --time C (the column that orders the steps of a sequence) or --order EXPR');
  if ((o.table === undefined) === (o.from === undefined)) throw new UserError('gloree sql: give one of --table NAME or --from SQL');
  const from = o.from ?? o.table!.split('.').map(d.ident).join('.');
  const rel: Relation = { from, x, y, seq: o.seq, time: o.time, order: o.order, name: o.table ?? o.from! };
  const dx = x.length, dy = y.length;
  const shift = o.shift ? o.shift.split(',').map(Number) : new Array<number>(dx).fill(0);
  if (shift.length !== dx || shift.some((v) => !Number.isFinite(v))) throw new UserError(`--shift: expected ${dx} comma-separated numbers`);
  const defs: PassDefinition[] = [inputPassDefinition(dx, dy, shift)];
  if (o.model !== undefined) {
    const m = loadModel(o.model);
    if (m.inputModel === undefined) throw new UserError(`${o.model}: the model file has no input model`);
    const model = inputModelFromJSON(m.inputModel as InputModelJSON);
    if (model.dx !== dx) throw new UserError(`${o.model}: the model has dx = ${model.dx}, --x names ${dx} columns`);
    // The fit's ȳ is not stored in the model file; b stands in for the centring (any constant keeps T2 unbiased, E[S2] = 0).
    const yMean = m.params.b ? Array.from(m.params.b) : new Array<number>(dy).fill(0);
    const coefs = m.params.activation.coefficients;
    const learner = learnerOf(m.diagnostics);
    const centred = { kind: 'centred', yMean } as const;
    // The polynomial learner's order-l moment, when the fit formed it explicitly (route P1 with dy·dx^l small; the
    // projected form's subspace comes from data the model file does not keep).
    const dirs = (m.diagnostics as { directions?: { route?: string; p1?: string } } | undefined)?.directions;
    const polyL = learner === 'gloree-poly' && m.params.kind === 'iornn' && coefs !== undefined ? coefs.length - 1 : 0;
    const explicitL = dirs?.route === 'P1' && dirs.p1 === 'explicit' ? Array.from({ length: polyL }, () => ({ lag: 0 as const, Q: null })) : null;
    // The smooth learner's T3 halves, explicit when dy·dx³ ≤ 256 (src/learn/identify/smooth-moments.ts `orderMoments`).
    const smoothT3 = learner === 'smooth' && dy * dx ** 3 <= 256 ? [0, 1, 2].map(() => ({ lag: 0 as const, Q: null })) : null;
    if (model instanceof MixtureVAR1) {
      // Non-Gaussian inputs (src/sql/nongaussian-passes.ts, nongaussian-mixed.ts, order-l-passes.ts): T2 on its halves,
      // T1 (t < L − 1) for the polynomial and smooth learners, then by learner: the quadratic learner's U from
      // first-order conditional scores (src/learn/identify/quadratic.ts), the polynomial learner's order-l moment and
      // U moment (P2 at l = 2, P2′ above), the BRNN's fold statistics, the smooth learner's T3 halves.
      defs.push(ngT2PassDefinition(model, yMean));
      if (polyL > 0 || learner === 'smooth') defs.push(ngT1PassDefinition({ model, dy, target: centred, skipLast: 1 }));
      if (learner === 'gloree' && m.params.kind === 'iornn') {
        const { A1, A2 } = m.params;
        const acc = new ConditionalScoreUAccumulator(model, dy, pinv(transpose(A2)).pinv, A1, pinv(A1).pinv, quadraticCoefficient(m.params.activation));
        defs.push(ngUPassDefinition(acc, yMean));
      } else if (polyL >= 2 && polyL <= 4) {
        if (explicitL) defs.push(ngStepPassDefinition({ model, modes: explicitL, target: centred, dy }).def);
        const G = pinv(m.params.A1).pinv;
        defs.push(polyL === 2 ? ngP2PassDefinition(model, G, centred, dy) : ngDiagonalPassDefinition(new NGDiagonalAccumulator(model, dy, G, 'P2prime', polyL), centred));
      } else if (learner === 'gloree-b' && m.params.kind === 'brnn') {
        const b = brnnFolds(m.params, m.diagnostics);
        for (const direction of ['prev', 'next'] as const) defs.push(ngMixedPassDefinition({ model, direction, demix: b.demix, first: b.G, pair: b.G, target: centred, folds: b.folds, cut: b.cut }));
      } else if (smoothT3) defs.push(ngStepPassDefinition({ model, modes: smoothT3, target: centred, dy, halves: true }).def);
      return defs.map((def) => ({ name: def.name, sql: passSQL(def, rel, d) }));
    }
    if (!(model instanceof GaussianVAR1)) throw new UserError(`${o.model}: the later passes are written for the Gaussian VAR(1), i.i.d. and mixture-var1 input models; this model's input model is "${model.kind}" (only pass 1 can be printed)`);
    defs.push(momentsPassDefinition({ model, yMean, t2: true, t1: true, residualMoments: true }));
    defs.push(controlPassDefinition(dx, dy, defaultQuadraticMode(dx), model.mean, o.controlStride ?? 1));
    if (learner === 'linear') defs.push(markovPassDefinition({ model, dy, lags: 64, yMean }));
    else if (learner === 'gloree-poly' && m.params.kind === 'iornn' && coefs !== undefined && coefs.length >= 3) {
      // The order-l moment when formed explicitly, then the U moment on the duals G = pinv(A1): P2 at l = 2, P2′ above
      // (src/learn/identify/poly-recurrence.ts). The fit's target is a control-variate residual whose coefficients
      // the model file does not keep: y − b here.
      const l = coefs.length - 1;
      if (explicitL) defs.push(tensorPassDefinition({ model, modes: explicitL, target: centred, dy }).def);
      defs.push(diagonalPassDefinition({ model, G: pinv(m.params.A1).pinv, kind: l === 2 ? 'P2' : 'P2prime', degree: l, target: centred, dy }));
    } else if (learner === 'gloree-b' && m.params.kind === 'brnn') {
      const b = brnnFolds(m.params, m.diagnostics);
      for (const direction of ['prev', 'next'] as const) defs.push(mixedPassDefinition({ model, direction, demix: b.demix, first: b.G, pair: b.G, target: centred, folds: b.folds, cut: b.cut }));
    } else if (m.params.kind === 'iornn') {
      if (smoothT3) defs.push(tensorPassDefinition({ model, modes: smoothT3, target: centred, dy, halves: true }).def);
      const G = pinv(m.params.A1).pinv;
      defs.push(mixedPassDefinition({ model, direction: 'prev', demix: pinv(transpose(m.params.A2)).pinv, first: G, pair: G, target: { kind: 'centred', yMean } }));
    }
  }
  return defs.map((def) => ({ name: def.name, sql: passSQL(def, rel, d) }));
}

/**
 * The BRNN's fold statistics (src/learn/identify/bidirectional.ts): both directions on the duals of all K rows
 * [A1; B1], demixed by pinv(A2ᵀ), per fold of sequences (or of cut blocks when the fit had fewer than 2F).
 */
function brnnFolds(p: { A1: Matrix; B1: Matrix; A2: Matrix }, diagnostics: unknown): { G: Matrix; demix: Matrix; folds: number; cut: boolean } {
  const { A1, B1 } = p;
  const AB = new Matrix(A1.rows + B1.rows, A1.cols, Float64Array.from([...A1.data, ...B1.data]));
  const split = (diagnostics as { split?: { folds?: number; foldUnit?: string } } | undefined)?.split;
  return { G: pinv(AB).pinv, demix: pinv(transpose(p.A2)).pinv, folds: split?.folds ?? 10, cut: split?.foldUnit === 'blocks' };
}

export function registerSqlCommand(program: Command): void {
  program
    .command('sql')
    .description('print the aggregate SQL queries of a fit (DuckDB and PostgreSQL tested here; Spark SQL and Trino generated only)')
    .addOption(new Option('--dialect <d>', 'SQL dialect').choices([...DIALECTS]).default('duckdb'))
    .option('--table <name>', 'table (or schema.table) holding the rows')
    .option('--from <sql>', "or a FROM item in the dialect, e.g. \"read_parquet('data.parquet', file_row_number = true)\"")
    .option('--x <cols>', 'comma-separated input columns')
    .option('--y <cols>', 'comma-separated output columns')
    .option('--seq <col>', 'sequence-id column (without it the table is one sequence)')
    .option('--time <col>', 'column that orders the steps of a sequence')
    .option('--order <expr>', 'SQL expression of the reading order, instead of --time')
    .option('--shift <values>', 'centre for the pass-1 comoments (comma-separated; default 0)')
    .option('--model <model.json>', 'also print the later passes with the constants of this fitted model')
    .action((o: SqlCommandOptions) => {
      for (const q of sqlQueries(o)) out(`${q.sql};\n`);
    });
}

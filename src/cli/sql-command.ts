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
import { diagonalPassDefinition } from '../sql/hermite-passes.js';
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
 * equations, and then by learner: the linear learner's Markov parameters (64 lags), the polynomial learner's U
 * moment (P2 at l = 2, P2′ above, on the duals of A1), the BRNN's fold statistics in both directions (on the duals
 * of [A1; B1], per fold, cut as the fit was), else the projected mixed moment from A1, A2 (centred
 * target: the fitted control variates are not in the model file). For the non-Gaussian (mixture-var1) input
 * model: its T2 halves and, for the quadratic learner, the conditional-score U pass (the polynomial learner's P2′
 * at degree 3, 4). DuckDB and PostgreSQL are tested here; Spark
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
    if (model instanceof MixtureVAR1) {
      // Non-Gaussian inputs (src/sql/nongaussian-passes.ts): T2 on its halves and, for the quadratic learner, U from
      // first-order conditional scores (src/learn/identify/quadratic.ts); the other learners' passes are not written.
      defs.push(ngT2PassDefinition(model, yMean));
      if (learnerOf(m.diagnostics) === 'gloree' && m.params.kind === 'iornn') {
        const { A1, A2 } = m.params;
        const acc = new ConditionalScoreUAccumulator(model, dy, pinv(transpose(A2)).pinv, A1, pinv(A1).pinv, quadraticCoefficient(m.params.activation));
        defs.push(ngUPassDefinition(acc, yMean));
      } else if (learnerOf(m.diagnostics) === 'gloree-poly' && m.params.kind === 'iornn' && coefs !== undefined && coefs.length >= 4 && coefs.length <= 5) {
        // The polynomial learner's U moment P2′ at l = 3, 4 (l = 2 uses the third-order mixed moment: not written).
        defs.push(ngDiagonalPassDefinition(new NGDiagonalAccumulator(model, dy, pinv(m.params.A1).pinv, 'P2prime', coefs.length - 1), { kind: 'centred', yMean }));
      }
      return defs.map((def) => ({ name: def.name, sql: passSQL(def, rel, d) }));
    }
    if (!(model instanceof GaussianVAR1)) throw new UserError(`${o.model}: the later passes are written for the Gaussian VAR(1), i.i.d. and mixture-var1 input models; this model's input model is "${model.kind}" (only pass 1 can be printed)`);
    defs.push(momentsPassDefinition({ model, yMean, t2: true, t1: true, residualMoments: true }));
    defs.push(controlPassDefinition(dx, dy, defaultQuadraticMode(dx), model.mean, o.controlStride ?? 1));
    const learner = learnerOf(m.diagnostics);
    if (learner === 'linear') defs.push(markovPassDefinition({ model, dy, lags: 64, yMean }));
    else if (learner === 'gloree-poly' && m.params.kind === 'iornn' && coefs !== undefined && coefs.length >= 3) {
      // The U moment on the duals G = pinv(A1): P2 at l = 2, P2′ above (src/learn/identify/poly-recurrence.ts). The
      // fit's target is a control-variate residual whose coefficients the model file does not keep: y − b here.
      const l = coefs.length - 1;
      defs.push(diagonalPassDefinition({ model, G: pinv(m.params.A1).pinv, kind: l === 2 ? 'P2' : 'P2prime', degree: l, target: { kind: 'centred', yMean }, dy }));
    } else if (learner === 'gloree-b' && m.params.kind === 'brnn') {
      // The forward/backward split's fold statistics (src/learn/identify/bidirectional.ts): both directions on the
      // duals of all K rows [A1; B1], per fold of sequences (or of cut blocks when the fit had fewer than 2F).
      const { A1, B1 } = m.params, dx0 = A1.cols;
      const AB = new Matrix(A1.rows + B1.rows, dx0, Float64Array.from([...A1.data, ...B1.data]));
      const G = pinv(AB).pinv, demix = pinv(transpose(m.params.A2)).pinv;
      const split = (m.diagnostics as { split?: { folds?: number; foldUnit?: string } } | undefined)?.split;
      const folds = split?.folds ?? 10, cut = split?.foldUnit === 'blocks';
      for (const direction of ['prev', 'next'] as const) defs.push(mixedPassDefinition({ model, direction, demix, first: G, pair: G, target: { kind: 'centred', yMean }, folds, cut }));
    } else if (m.params.kind === 'iornn') {
      const G = pinv(m.params.A1).pinv;
      defs.push(mixedPassDefinition({ model, direction: 'prev', demix: pinv(transpose(m.params.A2)).pinv, first: G, pair: G, target: { kind: 'centred', yMean } }));
    }
  }
  return defs.map((def) => ({ name: def.name, sql: passSQL(def, rel, d) }));
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

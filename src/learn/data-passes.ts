import { DataSource, SequenceChunk } from '../io/dataset.js';
import { OptionError, OptionNamer, UserError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { InputDiagnostics, ResidualMoments, VAR1Stats, estimateVAR1, finishFit } from '../input/fit.js';
import { T2Accumulator } from '../moments/single.js';
import { ControlVariate, ControlVariateFit } from '../moments/control.js';
import { MomentAccumulator, PassData, chunkScores, momentPass } from '../moments/accumulator.js';
import { ProgressCallback, forEachChunk } from './passes.js';
import { RankSelection, selectRank } from './rank.js';
import { INPUT_MODEL_KINDS, LearnerOptions, RunLog } from './options.js';
import { fitVARp } from '../input/varp-fit.js';
import { DataDiagnostics, InputModelDiagnostics } from './diagnostics.js';
import { centredChunk, strideSubchunk } from './chunks.js';
import type { MomentsPlan } from './identify/types.js';

/**
 * The data passes every learner starts with (docs/method.md §5 steps 1, 2 and 4):
 *  - pass 1: input-model statistics, output means, data checks; then the input model itself;
 *  - pass 2: T2 on even/odd halves for the rank rule, the control-variate normal equations on a subsample, the
 *    input residual moments, and the identification module's own accumulators.
 */

// ---------------------------------------------------------------------------------------------
// Pass 1: input-model statistics, output means, data checks (docs/method.md §5 step 1)

export interface InputPass {
  stats: VAR1Stats;
  /** Mean of every output column over all rows. */
  yMean: Float64Array;
  data: DataDiagnostics;
}

/**
 * Pass 1. Checks that every sequence has at least 2 steps (UserError naming the sequence; `learner` names the
 * learner in the message), that y is finite, and that there are rows (and at least `minSequences` sequences).
 */
export async function inputPass(
  source: DataSource,
  learner: string,
  opts: { minSequences?: number; onProgress?: ProgressCallback } = {},
): Promise<InputPass> {
  const { onProgress } = opts;
  const { dx, dy } = source;
  const stats = new VAR1Stats(dx);
  const ySum = new Float64Array(dy);
  const yMin = new Float64Array(dy).fill(Infinity), yMax = new Float64Array(dy).fill(-Infinity);
  let minLength = Infinity, maxLength = 0;
  const readOff = learner === 'GLOREE-B' ? 'the recurrences are' : 'the recurrence is';
  const pass = await forEachChunk(
    source,
    'input model',
    (chunk, seqOffset) => {
      for (let k = 0; k < chunk.lengths.length; k++) {
        const L = chunk.lengths[k];
        if (L < 2) {
          throw new UserError(`${source.name}: sequence ${seqOffset + k + 1} has ${L} step; ${learner} needs sequences of at least 2 steps (${readOff} read off consecutive steps)`, { file: source.name });
        }
        minLength = Math.min(minLength, L);
        maxLength = Math.max(maxLength, L);
      }
      // Sums row by row; NaN/±Inf propagate into them, so the value-by-value scan (for the message) runs only
      // when a sum is not finite.
      const y = chunk.y;
      for (let r = 0, o = 0; r < chunk.rows; r++)
        for (let i = 0; i < dy; i++, o++) {
          const v = y[o];
          ySum[i] += v;
          if (v < yMin[i]) yMin[i] = v;
          if (v > yMax[i]) yMax[i] = v;
        }
      let sumsFinite = true;
      for (let i = 0; i < dy; i++) if (!Number.isFinite(ySum[i])) sumsFinite = false;
      if (!sumsFinite) {
        for (let i = 0; i < y.length; i++) {
          const v = y[i];
          if (!Number.isFinite(v)) {
            throw new UserError(`${source.name}: y has a non-finite value (${v}) at data row ${Math.floor(i / dy) + 1}, column y${(i % dy) + 1}`, { file: source.name, row: Math.floor(i / dy) + 1, column: `y${(i % dy) + 1}` });
          }
        }
      }
      inputModelStage(source, () => stats.add(chunk));
    },
    onProgress,
  );
  const rows = pass.rows;
  if (rows === 0) throw new UserError(`${source.name}: no data rows`, { file: source.name });
  if (pass.sequences < (opts.minSequences ?? 1)) throw new UserError(`${source.name}: ${learner} needs at least ${opts.minSequences} sequences (the data have ${pass.sequences})`, { file: source.name });
  // A constant output has no dependence on the inputs to learn, and makes every moment of it exactly zero.
  for (let i = 0; i < dy; i++) {
    if (rows > 1 && yMin[i] === yMax[i]) {
      const name = (source as { columns?: { y?: readonly string[] } }).columns?.y?.[i] ?? `y${i + 1}`;
      throw new UserError(`${source.name}: output column "${name}" is constant (value ${yMin[i]}); it carries nothing to learn — drop it`, { file: source.name, column: name });
    }
  }
  const yMean = ySum.map((v) => v / rows);
  return { stats, yMean, data: { rows, sequences: pass.sequences, dx, dy, minLength, maxLength } };
}

/** The input model for the moment passes, and what pass 2 needs to finish its diagnostics. */
export interface InputModelSetup {
  model: InputModel;
  /** The least-squares estimate (null for a given model). */
  estimate: ReturnType<typeof estimateVAR1> | null;
  /** Residual moment sums for the Gaussianity diagnostics, filled in pass 2 (null for a given model). */
  residual: ResidualMoments | null;
  iid: boolean;
}

/**
 * The input model from pass 1's statistics ('var1' default, or 'iid'), or the given one (checked against dx).
 * Column names for the messages of the fit come from the source's `columns.x` when it has them.
 */
export function setupInputModel(source: DataSource, stats: VAR1Stats, spec: 'var1' | 'iid' | InputModel | undefined): InputModelSetup {
  const dx = source.dx;
  if (typeof spec === 'object') {
    if (spec.dx !== dx) throw new OptionError('inputModel', spec, () => `input model has dx = ${spec.dx}, the data has dx = ${dx}`);
    return { model: spec, estimate: null, residual: null, iid: false };
  }
  const columnNames = (source as { columns?: { x?: readonly string[] } }).columns?.x;
  const estimate = inputModelStage(source, () => estimateVAR1(stats, { iid: spec === 'iid', columnNames }));
  return { model: estimate.model, estimate, residual: new ResidualMoments(dx), iid: spec === 'iid' };
}

// ---------------------------------------------------------------------------------------------
// Pass 2: T2 halves, control variate, input residual moments (docs/method.md §5 steps 2 and 4)

export interface MomentsPassOptions {
  /** Accumulate T2 on the even / odd sequences (for the rank rule of src/learn/rank.ts). */
  t2: boolean;
  /** Further accumulators of centred y over all sequences (passed together with the T2 halves). */
  extra?: MomentAccumulator[];
  controlVariate?: boolean;
  controlVariateMaxRows?: number;
  /** Called with every control-variate subchunk and the chunk it came from. */
  onControlSample?: (sub: SequenceChunk, chunk: SequenceChunk) => void;
  onProgress?: ProgressCallback;
}

export interface MomentsPass {
  /** T2 on the even and the odd sequences (by global index); null unless `t2`. */
  t2Halves: [T2Accumulator, T2Accumulator] | null;
  cvFit: ControlVariateFit | null;
  inputDiagnostics: InputModelDiagnostics;
}

/**
 * Pass 2. T2 = mean_t (y_t − ȳ) ⊗ S2(t): centring y only lowers variance since E[S2] = 0. T2 is accumulated on
 * two halves (even / odd sequences) so their difference estimates its noise for rank selection; the
 * count-weighted mean of the halves is the full-data T2. The control variate only needs to be a good regression,
 * not an unbiased one (§5 step 4), so its O(p²)-per-row normal equations use an evenly spread subsample of
 * sequences (about `controlVariateMaxRows` rows, default 25 000).
 */
export async function momentsPass(source: DataSource, p1: InputPass, input: InputModelSetup, log: RunLog, opts: MomentsPassOptions): Promise<MomentsPass> {
  const { dx, dy } = source;
  const inputModel = input.model;
  const { yMean } = p1;
  const totalRows = p1.data.rows;
  const extra = opts.extra ?? [];
  const t2Halves: [T2Accumulator, T2Accumulator] | null = opts.t2 ? [new T2Accumulator(inputModel, dy), new T2Accumulator(inputModel, dy)] : null;
  const cv = (opts.controlVariate ?? true) ? new ControlVariate(dx, dy, { center: inputModel.mean }) : null;
  if (cv) for (const w of cv.warnings) log.warn(w);
  const cvStride = Math.max(1, Math.ceil(totalRows / (opts.controlVariateMaxRows ?? 25_000)));
  const { estimate, residual } = input;
  await forEachChunk(
    source,
    'moments',
    (chunk, seqOffset) => {
      const centred = centredChunk(chunk, yMean);
      if (t2Halves) {
        // Scores once for the chunk; each half reads its sequences through a mask (no subchunk copies).
        const data: PassData = { chunk: centred, scores: chunkScores(inputModel, centred), residual: null };
        const nSeq = chunk.lengths.length;
        for (const h of [0, 1] as const) {
          const mask = new Uint8Array(nSeq);
          let any = false;
          for (let k = 0; k < nSeq; k++) if ((seqOffset + k) % 2 === h) mask[k] = 1, any = true;
          if (!any) continue;
          t2Halves[h].sequenceMask = mask;
          try {
            t2Halves[h].addData(data);
          } finally {
            t2Halves[h].sequenceMask = null;
          }
        }
        for (const a of extra) a.addData(data);
      } else if (extra.length > 0) momentPass(inputModel, centred, extra);
      if (cv) {
        const sub = strideSubchunk(chunk, seqOffset, cvStride);
        if (sub) {
          momentPass(null, sub, [cv]);
          opts.onControlSample?.(sub, chunk);
        }
      }
      if (residual && estimate) residual.add(estimate.model, chunk);
    },
    opts.onProgress,
    totalRows,
  );
  let inputDiagnostics: InputModelDiagnostics = { given: true };
  if (residual && estimate) {
    const fin = finishFit(p1.stats, estimate, residual, input.iid);
    for (const w of fin.warnings) log.warn(w);
    inputDiagnostics = fin.diagnostics;
  }
  const cvFit = cv ? cv.solve() : null;
  return { t2Halves, cvFit, inputDiagnostics };
}

export interface DataPasses {
  p1: InputPass;
  input: InputModelSetup;
  p2: MomentsPass;
}

/**
 * Passes 1 and 2 with the input model in between, timed as 'pass1_input' and 'pass2_moments'. `extra` makes
 * the learner's own centred-y accumulators of pass 2 once the input model is known.
 */
export async function dataPasses(
  source: DataSource,
  learner: string,
  opts: LearnerOptions,
  log: RunLog,
  hooks: MomentsPlan,
): Promise<DataPasses> {
  const p1 = await inputPass(source, learner, { minSequences: hooks.minSequences, onProgress: opts.onProgress });
  const chosen = await chooseInputModel(source, p1.stats, opts, log);
  const input = chosen.setup;
  log.lap('pass1_input');
  const p2 = await momentsPass(source, p1, input, log, {
    t2: hooks.t2,
    extra: hooks.extra?.(input.model),
    controlVariate: opts.controlVariate,
    controlVariateMaxRows: opts.controlVariateMaxRows,
    onControlSample: hooks.onControlSample,
    onProgress: opts.onProgress,
  });
  log.lap('pass2_moments');
  if (chosen.diagnostics) p2.inputDiagnostics = chosen.diagnostics;
  return { p1, input, p2 };
}

/**
 * The dispatch over named input models (LearnerOptions.inputModel): 'var1' / 'iid' from pass 1's sums
 * (`setupInputModel`, residual diagnostics in pass 2); 'varp' by its own streaming fit (src/input/varp-fit.ts: one
 * pass for the window statistics, one for the residual moments), with its order choice as the diagnostics.
 */
export async function chooseInputModel(
  source: DataSource,
  stats: VAR1Stats,
  opts: Pick<LearnerOptions, 'inputModel' | 'inputOrder'>,
  log: RunLog,
): Promise<{ setup: InputModelSetup; diagnostics?: InputModelDiagnostics }> {
  const spec = opts.inputModel;
  if (opts.inputOrder !== undefined && spec !== 'varp') {
    throw new OptionError('inputOrder', opts.inputOrder, (n) => `${n('inputOrder')} only applies to ${n('inputModel')} varp`);
  }
  if (spec === 'varp') {
    const order = opts.inputOrder;
    if (order !== undefined && !(Number.isInteger(order) && order >= 0)) throw new OptionError('inputOrder', order, (n) => `${n('inputOrder')} must be a non-negative integer, got ${order}`);
    const columnNames = (source as { columns?: { x?: readonly string[] } }).columns?.x;
    const fit = await inputModelStageAsync(source, () => fitVARp(source, { columnNames, ...(order !== undefined ? { order, maxOrder: Math.max(order, 8) } : {}) }));
    for (const w of fit.warnings) log.warn(w);
    return { setup: { model: fit.model, estimate: null, residual: null, iid: false }, diagnostics: fit.diagnostics };
  }
  if (spec !== undefined && typeof spec !== 'object' && spec !== 'var1' && spec !== 'iid') {
    throw new OptionError('inputModel', spec, (n) => `${n('inputModel')} must be one of ${INPUT_MODEL_KINDS.join(', ')}, got ${String(spec)}`);
  }
  return { setup: setupInputModel(source, stats, spec) };
}

/** Rank selection from the two T2 halves (src/learn/rank.ts); null when a half is empty (fewer than 2 sequences). */
export function rankFromHalves(halves: [T2Accumulator, T2Accumulator], dy: number, dx: number): RankSelection | null {
  const [ta, tb] = halves;
  if (ta.count === 0 || tb.count === 0) return null;
  return selectRank(ta.result(), tb.result(), dy, dx, { counts: [ta.count, tb.count] });
}

/**
 * T2 of all the data and, when both halves are non-empty, the rank rule's spectrum. With a single sequence (a file
 * without `seq`) there is no split-sample noise estimate: `rank` is null, and `hidden: 'auto'` is refused.
 */
export function t2AndRank(
  halves: [T2Accumulator, T2Accumulator],
  dy: number,
  dx: number,
  hidden: number | 'auto',
  name: string,
): { T2: Float64Array; rank: RankSelection | null } {
  const rank = rankFromHalves(halves, dy, dx);
  if (rank) return { T2: rank.T2, rank };
  if (hidden === 'auto') {
    throw new OptionError('hidden', 'auto', (n) => `${name}: ${n('hidden')} auto compares two halves of the sequences, and the data have one sequence; give ${n('hidden')} K`);
  }
  const full = halves[0].count > 0 ? halves[0] : halves[1];
  return { T2: full.result(), rank: null };
}

/**
 * `--hidden auto`: the rank rule's choice (its warnings passed on); a UserError ending in `hint` when nothing
 * stands above the noise floor.
 */
export function autoRank(rs: RankSelection, log: RunLog, hint: (name: OptionNamer) => string): number {
  for (const w of rs.warnings) log.warn(`rank selection: ${w}`);
  if (rs.rank < 1) throw new OptionError('hidden', 'auto', (n) => `${n('hidden')} auto: no singular value of T2 stands above the noise floor (${rs.noiseFloor.toExponential(2)}); ${hint(n)}`);
  return rs.rank;
}


/**
 * The input-model fit works on the user's data: what fails there (a non-finite or constant input, collinear
 * inputs, too few steps) is the data's problem, reported with the data source's name. Errors of our own making
 * (RangeError, TypeError) pass through as bugs.
 */
function inputModelStage<R>(source: DataSource, f: () => R): R {
  try {
    return f();
  } catch (e) {
    throw asDataError(source, e);
  }
}

async function inputModelStageAsync<R>(source: DataSource, f: () => Promise<R>): Promise<R> {
  try {
    return await f();
  } catch (e) {
    throw asDataError(source, e);
  }
}

function asDataError(source: DataSource, e: unknown): unknown {
  if (e instanceof UserError || e instanceof RangeError || e instanceof TypeError || !(e instanceof Error)) return e;
  return new UserError(`${source.name}: ${e.message}`, { file: source.name, key: 'inputModel' });
}

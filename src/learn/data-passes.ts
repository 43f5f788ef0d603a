import { DataSource, SequenceChunk, wholeSequences } from '../io/dataset.js';
import { GaussianVAR1 } from '../input/gaussian.js';
import { GaussianVARp } from '../input/varp.js';
import { OptionError, OptionNamer, UserError } from '../io/errors.js';
import { VAR1Stats, finishFit } from '../input/fit.js';
import { T2Accumulator } from '../moments/single.js';
import { NGT2Accumulator, t2For } from '../moments/nongaussian.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { InputModelSetup, inputModelStage, setupInputModel } from './input-models.js';
import { ControlVariate, ControlVariateFit } from '../moments/control.js';
import { MomentAccumulator, PassData, chunkScores, momentPass } from '../moments/accumulator.js';
import { ProgressCallback, forEachChunk } from './passes.js';
import { RankSelection, selectRank } from './rank.js';
import { LearnerOptions, RunLog } from './options.js';
import { DataDiagnostics, InputModelDiagnostics } from './diagnostics.js';

/** T2 of one half of the sequences: the Gaussian accumulator, or the non-Gaussian one for a MixtureVAR1. */
export type T2Half = T2Accumulator | NGT2Accumulator;
import { centredChunk, strideSubchunk } from './chunks.js';
import { haloFor, haloSource, trimHalo } from './pieces.js';
import type { MomentsPlan } from './identify/types.js';
import { SequenceLengths } from './refine-sample.js';
import { EnginePasses, momentsOnEngine } from './engine-passes.js';

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
  /** Every sequence's length, pieces of one sequence joined (for the refinement's plan, src/learn/refine-windows.ts). */
  lengths: Int32Array;
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
  const seqLengths = new SequenceLengths();
  const readOff = learner === 'GLOREE-B' ? 'the recurrences are' : 'the recurrence is';
  // Pieces of one long sequence (src/learn/pieces.ts): its length is known at its last piece, and the transition
  // between two pieces is added to the input-model statistics (each piece is added as a chunk of its own).
  let open = 0, rowsBefore = 0;
  const lastRow = new Float64Array(dx);
  const pass = await forEachChunk(
    source,
    'input model',
    (chunk, seqOffset) => {
      seqLengths.add(chunk);
      for (let k = 0; k < chunk.lengths.length; k++) {
        const continued = k === 0 && chunk.continued === true;
        const L = chunk.lengths[k] + (continued ? open : 0);
        if (k === chunk.lengths.length - 1 && chunk.continues) {
          open = L;
          continue;
        }
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
            // Numbered over the whole data (a chunk, or a piece of one long sequence, starts at rowsBefore + 1).
            const row = rowsBefore + Math.floor(i / dy) + 1;
            throw new UserError(`${source.name}: y has a non-finite value (${v}) at data row ${row}, column y${(i % dy) + 1}`, { file: source.name, row, column: `y${(i % dy) + 1}` });
          }
        }
      }
      inputModelStage(source, () => {
        stats.add(chunk);
        if (chunk.continued) stats.addTransition(lastRow, chunk.x.subarray(0, dx));
      });
      if (chunk.continues) lastRow.set(chunk.x.subarray((chunk.rows - 1) * dx, chunk.rows * dx));
      rowsBefore += chunk.rows;
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
  return { stats, yMean, data: { rows, sequences: pass.sequences, dx, dy, minLength, maxLength }, lengths: seqLengths.lengths };
}

export type { InputModelSetup } from './input-models.js';

// ---------------------------------------------------------------------------------------------
// Pass 2: T2 halves, control variate, input residual moments (docs/method.md §5 steps 2 and 4)

export interface MomentsPassOptions {
  /** Accumulate T2 on the even / odd sequences (for the rank rule of src/learn/rank.ts). */
  t2: boolean;
  /** Further accumulators of centred y over all sequences (passed together with the T2 halves). */
  extra?: MomentAccumulator[];
  controlVariate?: boolean;
  controlVariateMaxRows?: number;
  /** Called with every control-variate subchunk, the chunk it came from, its sequence offset and the stride. */
  onControlSample?: (sub: SequenceChunk, chunk: SequenceChunk, sequenceOffset: number, stride: number) => void;
  onProgress?: ProgressCallback;
  /** An engine source: what has a SQL form runs as aggregate queries, the rest streams (src/learn/engine-passes.ts). */
  engine?: EnginePasses | null;
}

export interface MomentsPass {
  /** T2 on the even and the odd sequences (by global index); null unless `t2`. */
  t2Halves: [T2Half, T2Half] | null;
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
  const t2Halves: [T2Half, T2Half] | null = opts.t2 ? [t2For(inputModel, dy), t2For(inputModel, dy)] : null;
  const cv = (opts.controlVariate ?? true) ? new ControlVariate(dx, dy, { center: inputModel.mean }) : null;
  if (cv) for (const w of cv.warnings) log.warn(w);
  const cvStride = Math.max(1, Math.ceil(totalRows / (opts.controlVariateMaxRows ?? 25_000)));
  const { estimate, residual } = input;
  // On an engine, what has a SQL form is done by aggregate queries; the loop below feeds only what is left (all of
  // it in-process, so a file's fit runs exactly as before).
  const left = opts.engine
    ? await momentsOnEngine(opts.engine, { model: inputModel, yMean, dy, t2Halves, extra, cv, cvStride, keepsControlRows: opts.onControlSample !== undefined, residual: residual && estimate ? residual : null })
    : null;
  const streamT2 = left ? left.t2 : true, streamCv = left ? left.controlVariate : true, streamResidual = left ? left.residual : true;
  const extraRows = left ? left.extra : extra;
  const anyRows = !left || left.t2 || left.controlVariate || left.residual || left.extra.length > 0;
  if (anyRows) await forEachChunk(
    source,
    'moments',
    (chunk, seqOffset) => {
      const centred = centredChunk(chunk, yMean);
      if (t2Halves && streamT2) {
        // Scores once for the chunk; each half reads its sequences through a mask (no subchunk copies).
        // (The non-Gaussian accumulators compute their own scores, once per chunk: src/moments/nongaussian.ts.)
        const data: PassData = { chunk: centred, scores: inputModel instanceof MixtureVAR1 ? null : chunkScores(inputModel, centred), residual: null };
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
        for (const a of extraRows) a.addData(data);
      } else if (extraRows.length > 0) momentPass(inputModel, centred, extraRows);
      if (cv && streamCv) {
        const sub = strideSubchunk(chunk, seqOffset, cvStride);
        if (sub) {
          momentPass(null, sub, [cv]);
          opts.onControlSample?.(sub, chunk, seqOffset, cvStride);
        }
      }
      // Transitions x_{t−1} → x_t: a piece keeps one halo row before it, so each transition enters once.
      if (residual && estimate && streamResidual) residual.add(estimate.model, trimHalo(chunk, 1, 0));
    },
    opts.onProgress,
    totalRows,
  );
  let inputDiagnostics: InputModelDiagnostics = input.diagnostics ?? { given: true };
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
  /**
   * The sources of the later passes: `moments` for the identification module's moment passes (pieces with halos
   * when streamed, src/learn/pieces.ts), `states` for the passes that run the model's recursion (the raw pieces,
   * whose state is carried across them, when streamed). Both are whole sequences otherwise.
   */
  sources: { moments: DataSource; states: DataSource; streamed: boolean };
}

/**
 * Passes 1 and 2 with the input model in between, timed as 'pass1_input' and 'pass2_moments'. `extra` makes
 * the learner's own centred-y accumulators of pass 2 once the input model is known.
 *
 * With `pieces` (the module streams the pieces of one long sequence, `Identifier.streamsPieces`), pass 1 reads
 * the pieces as they come, the input-model passes the pieces with the rows before them that their transitions
 * or windows need (each transition or window once), and, for a fitted VAR(1), VAR(p) or VAR(1)-mixture input
 * model (scores that read p rows either side), pass 2 and the module's passes the pieces with the halos its
 * accumulators need (`MomentsPlan.pieceLags`, `haloFor`). An input model of any other class (a given one)
 * reads whole sequences from the input-model setup on, as before.
 */
export async function dataPasses(
  source: DataSource,
  learner: string,
  opts: LearnerOptions,
  log: RunLog,
  hooks: MomentsPlan,
  pieces = false,
  engine: EnginePasses | null = null,
): Promise<DataPasses> {
  const whole = wholeSequences(source);
  const spec = opts.inputModel ?? 'auto';
  const p1 = await inputPass(pieces ? source : whole, learner, { minSequences: hooks.minSequences, onProgress: opts.onProgress });
  // The input-model passes over pieces: one row of the previous piece for the VAR(1) transitions x_{t−1} → x_t;
  // 'varp' adds its own halo of maxOrder rows (src/learn/input-models.ts).
  const setupSource = !pieces ? whole : spec === 'varp' ? source : haloSource(source, { left: 1, right: 0 });
  const input = await setupInputModel(opts.inputModel, { source: setupSource, stats: p1.stats, log, seed: opts.seed ?? 0, onProgress: opts.onProgress, steinDegree: hooks.steinDegree, inputOrder: opts.inputOrder });
  log.lap('pass1_input');
  // The fitted input models, whose scores read `order` rows either side of their step: the Gaussian VAR(1) and
  // i.i.d. (order 0, given the VAR(1) halo), the VAR(1) with mixture innovations, the Gaussian VAR(p).
  const m = input.model;
  const streamed = pieces && (m instanceof GaussianVAR1 || m instanceof MixtureVAR1 || m instanceof GaussianVARp);
  if (streamed && !hooks.pieceLags) throw new Error(`${learner}: a module that streams pieces must declare its pieceLags`);
  const sources = streamed ? { moments: haloSource(source, haloFor(hooks.pieceLags!, Math.max(1, m.order))), states: source, streamed } : { moments: whole, states: whole, streamed };
  const p2 = await momentsPass(sources.moments, p1, input, log, {
    t2: hooks.t2,
    extra: hooks.extra?.(input.model),
    controlVariate: opts.controlVariate,
    controlVariateMaxRows: opts.controlVariateMaxRows,
    onControlSample: hooks.onControlSample,
    onProgress: opts.onProgress,
    engine,
  });
  log.lap('pass2_moments');
  return { p1, input, p2, sources };
}

/** Rank selection from the two T2 halves (src/learn/rank.ts); null when a half is empty (fewer than 2 sequences). */
export function rankFromHalves(halves: [T2Half, T2Half], dy: number, dx: number): RankSelection | null {
  const [ta, tb] = halves;
  if (ta.count === 0 || tb.count === 0) return null;
  return selectRank(ta.result(), tb.result(), dy, dx, { counts: [ta.count, tb.count] });
}

/**
 * T2 of all the data and, when both halves are non-empty, the rank rule's spectrum. With a single sequence (a file
 * without `seq`) there is no split-sample noise estimate: `rank` is null, and `hidden: 'auto'` is refused.
 */
export function t2AndRank(
  halves: [T2Half, T2Half],
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
 * The full-data T2 from the two halves: the count-weighted mean (also with one half empty). The Gaussian halves
 * hold complete sums; the non-Gaussian ones hold linear statistics that `result()` contracts, so they are merged.
 */
export function t2OfHalves(halves: [T2Half, T2Half], dy: number, dx: number): Float64Array {
  const [a, b] = halves;
  if (a instanceof NGT2Accumulator && b instanceof NGT2Accumulator) {
    const all = new NGT2Accumulator(a.model, dy, { skipLast: a.skipLast });
    for (const h of halves) if (h.count > 0) all.merge(h);
    return all.result();
  }
  const t2 = new Float64Array(dy * dx * dx);
  for (const h of halves) if (h.count > 0) for (let i = 0; i < t2.length; i++) t2[i] += h.sum[i];
  for (let i = 0; i < t2.length; i++) t2[i] /= a.count + b.count;
  return t2;
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



/**
 * `gloree report MODEL DATA --out report.html [--truth TRUE_MODEL]` and the report step of `gloree fit --report`:
 * stream the data once for held-out predictions and NMSEs (docs/method.md §7), once more for the T2 spectrum when the
 * model file does not carry a rank selection, and write the self-contained HTML of src/report/html.ts atomically.
 */
import path from 'node:path';
import type { DataSource, SequenceChunk } from '../io/dataset.js';
import { joinChunks, makeChunk, sequencesStarting, wholeSequences } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { openDataSource } from '../io/open.js';
import { checkOutputs } from './outputs.js';
import { BlowUpError } from '../models/iornn.js';
import { ChunkPredictor, blowUpWhere, cliChunkRows, forPrediction } from './predictions.js';
import { PassProgressBar } from './progress.js';
import { checkDiagnostics } from './diagnostics.js';
import { feedforwardFromDiagnostics } from '../learn/fit.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { RNNParams } from '../models/params.js';
import { loadModel } from '../models/serialize.js';
import { NMSEAccumulator } from '../metrics/nmse.js';
import type { InputModel, InputModelJSON } from '../input/model.js';
import { inputModelFromJSON } from '../input/model.js';
import '../input/gaussian.js'; // registers 'gaussian-var1' for inputModelFromJSON
import '../input/var1-mixture.js'; // registers 'mixture-var1'
import { fitVAR1 } from '../input/fit.js';
import { t2For } from '../moments/nongaussian.js';
import { momentPass } from '../moments/accumulator.js';
import { selectRank, type RankSelection } from '../learn/rank.js';
import { UsageError, out } from './io.js';
import { learnerView } from '../report/learner-view.js';
import type { HeldOutNMSE, RankSummary, ReportHeldOut } from '../report/html.js';

export interface BuildReportOptions {
  /** The true model (synthetic data): NMSE against noise-free outputs, parameter errors. */
  truth?: RNNParams;
  /** Steps of the prediction chart (default 200). */
  steps?: number;
  /** What the data are, for captions (default the source name). */
  dataLabel?: string;
  /** Rank selection to show; default: the model file's `diagnostics.rank`, else computed from `source`. */
  rank?: RankSummary;
  /** Where `rank`'s T2 was computed (caption), e.g. "the training data". */
  rankSource?: string;
  modelName?: string;
  title?: string;
  /** The data are the model's training data (`fit --report`): numbers and captions say "in-sample". */
  inSample?: boolean;
}

/** The U = 0 baseline stored by `fit` (spectral directions, U = 0, its own output layer), if any. */
export function feedforwardModel(model: { params: RNNParams; diagnostics?: unknown }): RNNParams | null {
  return feedforwardFromDiagnostics(model.params, model.diagnostics);
}

/** Copy rows [0, rows) of a chunk (whole sequences, the last one cut) as a new chunk. */
function headChunk(c: SequenceChunk, rows: number): SequenceChunk {
  const lengths: number[] = [];
  let r = 0;
  for (let k = 0; k < c.lengths.length && r < rows; k++) {
    const L = Math.min(c.lengths[k], rows - r);
    lengths.push(L);
    r += L;
  }
  // A continued first sequence stays marked, so the plotted stretch joins it to the previous piece.
  return { ...makeChunk(c.dx, c.dy, c.x.slice(0, r * c.dx), c.y.slice(0, r * c.dy), lengths), ...(c.continued ? { continued: true } : {}) };
}

/**
 * Build the report HTML for a model (a LoadedModel or a fit result with `inputModel` as JSON or an InputModel)
 * on a data source: predictions and NMSEs over all of `source`, the first `steps` rows plotted, and the T2
 * spectrum (two halves: even- and odd-numbered sequences) unless a rank selection is given or stored.
 */
export async function buildReport(
  model: { params: RNNParams; inputModel?: unknown; diagnostics?: unknown },
  source: DataSource,
  opts: BuildReportOptions = {},
): Promise<string> {
  const { params } = model;
  const dx = params.A1.cols, dy = params.A2.cols;
  if (source.dx !== dx) throw new UserError(`${source.name}: has ${source.dx} input columns, the model expects dx = ${dx}`);
  if (source.dy !== dy) throw new UserError(`${source.name}: has ${source.dy} output columns, the model expects dy = ${dy}`);
  const truth = opts.truth;
  if (truth && (truth.A1.cols !== dx || truth.A2.cols !== dy)) {
    throw new UserError(`the true model has dx = ${truth.A1.cols}, dy = ${truth.A2.cols}; the model has dx = ${dx}, dy = ${dy}`);
  }
  const steps = opts.steps ?? 200;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`buildReport: steps must be a positive integer, got ${steps}`);
  const ff = feedforwardModel(model);
  // Long sequences may come in pieces: each model carries its state across them (src/cli/predictions.ts). The T2
  // pass below reads `data` (no BRNN read-ahead: it predicts nothing).
  const data = source;
  source = forPrediction(source, params, ff, truth);
  const pred = new ChunkPredictor(params), ffPred = ff ? new ChunkPredictor(ff) : null, truthPred = truth ? new ChunkPredictor(truth) : null;

  // ---- Pass 1: predictions, NMSEs, output means, the plotted stretch.
  const acc = new NMSEAccumulator(dy), accFF = new NMSEAccumulator(dy);
  const accT = new NMSEAccumulator(dy), accFFT = new NMSEAccumulator(dy), accTD = new NMSEAccumulator(dy);
  const ySum = new Float64Array(dy);
  let rows = 0, sequences = 0;
  const stretch: { chunk: SequenceChunk; yhat: Float64Array; ff?: Float64Array; clean?: Float64Array }[] = [];
  let stretchRows = 0;
  let blowUp: string | null = null;
  const bar = new PassProgressBar();
  const hasSeq = (source as { columns?: { seq?: string } }).columns?.seq !== undefined;
  for await (const chunk of source.chunks()) {
    let yhat: Float64Array;
    // Index of the chunk's first sequence (a continued one was counted by an earlier chunk).
    const first = sequences - (chunk.continued ? 1 : 0);
    const stepOffset = pred.stepOffset(chunk);
    try {
      yhat = pred.predict(chunk, first);
    } catch (e) {
      // A model that escapes on this data is exactly what a report should show, not a reason to write none.
      if (!(e instanceof BlowUpError)) throw e;
      const k = e.sequence - first;
      blowUp = blowUpWhere(e, chunk, opts.dataLabel ?? source.name, k, hasSeq, k === 0 ? stepOffset : 0);
      break;
    }
    acc.add(yhat, chunk.y);
    const yff = ffPred ? ffPred.predict(chunk, first) : undefined;
    if (yff) accFF.add(yff, chunk.y);
    const clean = truthPred ? truthPred.predict(chunk, first) : undefined;
    if (clean) {
      accT.add(yhat, clean);
      accTD.add(clean, chunk.y);
      if (yff) accFFT.add(yff, clean);
    }
    for (let k = 0; k < chunk.y.length; k++) ySum[k % dy] += chunk.y[k];
    if (stretchRows < steps) {
      const head = headChunk(chunk, steps - stretchRows);
      const n = head.rows * dy;
      stretch.push({ chunk: head, yhat: yhat.slice(0, n), ff: yff?.slice(0, n), clean: clean?.slice(0, n) });
      stretchRows += head.rows;
    }
    rows += chunk.rows;
    sequences += sequencesStarting(chunk);
    bar.update({ stage: 'report', rows });
  }
  bar.stop();
  if (blowUp) {
    const d = (model.diagnostics ?? {}) as { warnings?: string[] };
    const warned = { ...model, diagnostics: { ...d, warnings: [...(d.warnings ?? []), `the model blows up on ${blowUp}; no predictions are shown (docs/method.md §6)`] } };
    const stored = (model.diagnostics as { rank?: RankSummary } | undefined)?.rank ?? undefined;
    return (await renderer())({ model: warned, truth, rank: opts.rank ?? stored, rankSource: opts.rank ? opts.rankSource : stored ? 'the training data' : undefined, modelName: opts.modelName, title: opts.title });
  }
  if (rows === 0) throw new UserError(`${source.name}: no data rows`);
  const nm: HeldOutNMSE = { rows, model: acc.value() };
  if (ff) nm.feedforward = accFF.value();
  if (truth) {
    nm.modelVsTruth = accT.value();
    nm.truthVsData = accTD.value();
    if (ff) nm.feedforwardVsTruth = accFFT.value();
  }
  const cat = (get: (s: (typeof stretch)[number]) => Float64Array | undefined): Float64Array | undefined => {
    if (stretch.some((s) => get(s) === undefined)) return undefined;
    const out = new Float64Array(stretch.reduce((m, s) => m + get(s)!.length, 0));
    let o = 0;
    for (const s of stretch) {
      out.set(get(s)!, o);
      o += get(s)!.length;
    }
    return out;
  };
  // Pieces of one sequence join again (the plot draws each sequence as one line).
  const lengths = joinChunks(stretch.map((s) => s.chunk)).lengths;
  const heldOut: ReportHeldOut = {
    chunk: makeChunk(dx, dy, cat((s) => s.chunk.x)!, cat((s) => s.chunk.y)!, lengths),
    yhat: cat((s) => s.yhat)!,
    yhatFeedforward: cat((s) => s.ff),
    truthClean: cat((s) => s.clean),
    nmse: nm,
    label: opts.dataLabel ?? source.name,
    inSample: opts.inSample,
  };

  // ---- Pass 2 (if needed): T2 of even- and odd-numbered sequences → rank selection.
  let rank = opts.rank ?? (model.diagnostics as { rank?: RankSummary } | undefined)?.rank;
  let rankSource = opts.rank ? opts.rankSource : rank ? 'the training data' : undefined;
  if (!rank && learnerView(model.diagnostics).usesT2) {
    if (sequences < 2) {
      rank = undefined; // one sequence cannot be split into two independent halves
    } else {
      // T2 halves are per sequence: read them whole (this pass only runs for a model file without a stored rank).
      const whole = wholeSequences(data);
      const im = await inputModelFor(model, whole);
      rank = await rankFromData(whole, im, ySum.map((v) => v / rows));
      rankSource = opts.dataLabel ?? source.name;
    }
  }
  return (await renderer())({ model, heldOut, truth, rank, rankSource, modelName: opts.modelName, title: opts.title });
}

/**
 * Rank selection (src/learn/rank.ts) from a data source: T2 of the even- and of the odd-numbered sequences
 * (disjoint, independent halves), with y centred by `yMean` as in the learner's pass 2, scores from `im`.
 * Returns the selection without the T2 array (JSON-able; what the report and a model file keep).
 */
export async function rankFromData(source: DataSource, im: InputModel, yMean: Float64Array): Promise<Omit<RankSelection, 'T2'>> {
  const { dx, dy } = source;
  const halves = [t2For(im, dy), t2For(im, dy)];
  let seq = 0;
  for await (const chunk of source.chunks()) {
    const yc = new Float64Array(chunk.y.length);
    for (let k = 0; k < yc.length; k++) yc[k] = chunk.y[k] - yMean[k % dy];
    let r = 0;
    for (let k = 0; k < chunk.lengths.length; k++, seq++) {
      const L = chunk.lengths[k];
      const one = makeChunk(dx, dy, chunk.x.subarray(r * dx, (r + L) * dx), yc.subarray(r * dy, (r + L) * dy), [L]);
      momentPass(im, one, [halves[seq % 2]]);
      r += L;
    }
  }
  if (seq < 2) throw new UserError(`${source.name}: the T2 spectrum needs at least 2 sequences (two independent halves)`);
  const sel = selectRank(halves[0].result(), halves[1].result(), dy, dx, { counts: [halves[0].count, halves[1].count] });
  const { T2: _t2, ...summary } = sel;
  void _t2;
  return summary;
}

/** The model's own input model (for the scores of T2), or a fresh fit on the data if it has none. */
async function inputModelFor(model: { inputModel?: unknown; diagnostics?: unknown }, source: DataSource): Promise<InputModel> {
  const j = model.inputModel;
  if (j && typeof j === 'object') {
    if (typeof (j as InputModel).scoreSequence === 'function') return j as InputModel;
    try {
      return inputModelFromJSON(j as InputModelJSON);
    } catch {
      /* unknown kind: refit below */
    }
  }
  const kind = (model.diagnostics as { inputModel?: { kind?: string } } | undefined)?.inputModel?.kind;
  return (await fitVAR1(source, { iid: kind === 'iid', diagnostics: false })).model;
}

export interface ReportCommandOptions {
  /** Output HTML file. */
  out: string;
  /** True model file (synthetic data). */
  truth?: string;
  /** Comma-separated column lists / sequence column, as for the other commands. */
  x?: string;
  y?: string;
  seq?: string;
  /** Data format (default: from the extension). */
  format?: string;
  /** Steps in the prediction chart (default 200). */
  steps?: number;
  title?: string;
  /** Print a one-line confirmation (default true). */
  quiet?: boolean;
}

/** A comma-separated column list of the CLI (--x, --y) as names; undefined when not given. Shared with commands.ts. */
export function columns(list?: string): string[] | undefined {
  if (list === undefined) return undefined;
  const cols = list.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
  if (cols.length === 0) throw new UsageError(`column list "${list}" is empty; give comma-separated column names`);
  return cols;
}

/** `gloree report MODEL DATA --out report.html [--truth TRUE_MODEL]`. */
export async function reportCommand(modelFile: string, dataFile: string, opts: ReportCommandOptions): Promise<void> {
  if (!opts.out) throw new UserError('report: --out FILE.html is required');
  checkOutputs([modelFile, dataFile, opts.truth], [opts.out]);
  const m = loadModel(modelFile);
  checkDiagnostics(m, modelFile);
  const truth = opts.truth ? loadModel(opts.truth).params : undefined;
  const source = await openDataSource(dataFile, { x: columns(opts.x), y: columns(opts.y), seq: opts.seq, requireY: true, format: opts.format, chunkRows: cliChunkRows(), splitSequences: true });
  const html = await buildReport(m, source, {
    truth,
    steps: opts.steps,
    dataLabel: path.basename(dataFile),
    modelName: path.basename(modelFile),
    title: opts.title ?? `gloree report ${path.basename(modelFile)} ${path.basename(dataFile)}`,
  });
  await writeFileAtomic(opts.out, html);
  if (!opts.quiet) out(`report written to ${opts.out}`);
}

/** The report's renderer, loaded when a report is made: its chart libraries take ≈0.5 s to import. */
async function renderer(): Promise<typeof import('../report/html.js').renderReport> {
  return (await import('../report/html.js')).renderReport;
}

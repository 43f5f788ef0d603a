import { describePlan } from '../learn/refine-windows.js';
import path from 'node:path';
import { SequenceChunk, sequencesStarting } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { PredictionCSVWriter, CSVSource } from '../io/csv.js';
import { openDataSource } from '../io/open.js';
import { parallelCSVSource } from '../io/csv-parallel.js';
import { availableParallelism } from 'node:os';
import { activationFromSpec, activationToString, activationsEqual } from '../models/activation.js';
import { RNNParams } from '../models/params.js';
import { loadModel, saveModel, LoadedModel } from '../models/serialize.js';
import { parameterErrors } from '../metrics/parameters.js';
import { FitResult, fitRNN, feedforwardFromDiagnostics } from '../learn/fit.js';
import { PassProgressBar } from './progress.js';
import { UsageError, out, warnLine } from './io.js';
import { checkOutputs } from './outputs.js';
import { checkDiagnostics } from './diagnostics.js';
import { explainIllConditioning } from './outliers.js';
import { checkFitSize } from './limits.js';
import { ChunkPredictor, SequenceNMSE, cliChunkRows, forPrediction, predictOrExplain } from './predictions.js';
import { buildReport, columns } from './report-command.js';
import { writeFileAtomic } from '../io/atomic.js';
import { isDataURL, openFitSource } from './engine-option.js';
import { INPUT_MODEL_NAMES, InputModelName } from '../learn/input-models.js';

/** `split`: long sequences in pieces (predict, evaluate: the state is carried across them, src/cli/predictions.ts). */
async function openData(file: string, o: { x?: string; y?: string; seq?: string; format?: string }, minLength = 1, requireY = true, split = false): Promise<CSVSource> {
  return openDataSource(file, { x: columns(o.x), y: columns(o.y), seq: o.seq, minLength, requireY, format: o.format, chunkRows: cliChunkRows(), splitSequences: split });
}

// ---------------------------------------------------------------------------------------------


export interface FitOpts {
  hidden: string;
  kind: string;
  backward?: number;
  activation: string;
  inputModel: string;
  inputOrder?: number;
  standardise?: boolean;
  refineIterations?: number;
  refine: boolean;
  controlVariate: boolean;
  refineMaxRows?: number;
  seed: number;
  workers?: number; // CSV parser and pass threads (default: the available cores)
  out: string;
  x?: string;
  y?: string;
  seq?: string;
  quiet?: boolean;
  json?: boolean;
  report?: string;
  format?: string;
  /** auto | process | duckdb | postgres (src/io/engines/open.ts); with a postgres:// source, --table and --time. */
  engine?: string;
  table?: string;
  time?: string;
  /** on | off: the moment passes on an engine as aggregate queries (src/learn/engine-passes.ts). */
  sqlPasses?: string;
}

export async function fitCommand(dataFile: string, o: FitOpts): Promise<void> {
  if (o.kind !== 'iornn' && o.kind !== 'brnn') throw new UsageError(`--kind must be iornn or brnn, got "${o.kind}"`);
  const hidden = o.hidden === 'auto' ? 'auto' : Number(o.hidden);
  if (hidden !== 'auto' && (!/^\d+$/.test(o.hidden) || hidden < 1)) throw new UsageError(`--hidden must be a positive integer or "auto", got "${o.hidden}"`);
  if (!(INPUT_MODEL_NAMES as readonly string[]).includes(o.inputModel)) throw new UsageError(`--input-model must be one of ${INPUT_MODEL_NAMES.join(', ')}, got "${o.inputModel}"`);
  if (o.inputOrder !== undefined && o.inputModel !== 'varp') throw new UsageError('--input-order only applies to --input-model varp');
  if (o.backward !== undefined && o.kind !== 'brnn') throw new UsageError('--backward only applies to --kind brnn');
  let activation;
  try {
    activation = activationFromSpec(o.activation);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  checkOutputs(isDataURL(dataFile) ? [] : [dataFile], [o.out, o.report]);
  const opened = await openFitSource(dataFile, o, 2);
  try {
    // The in-process reader parses CSV on worker threads: the same chunks, hence the same model, for every number
    // of workers (src/io/csv-parallel.ts). Engines deliver their own chunks.
    // One recording read in pieces (no seq column) keeps the single reader: the parallel one cuts whole sequences.
    const source = opened.engine === 'process' && !opened.pieces ? parallelCSVSource(opened.source, { workers: o.workers ?? availableParallelism(), minLength: 2 }) : opened.source;
    await fitOn(source, dataFile, o, activation, hidden);
  } finally {
    await opened.close();
  }
}

async function fitOn(source: CSVSource, dataFile: string, o: FitOpts, activation: ReturnType<typeof activationFromSpec>, hidden: number | 'auto'): Promise<void> {
  checkFitSize(source, source.name);
  const bar = new PassProgressBar();
  const t0 = performance.now();
  let res;
  try {
    res = await fitRNN(source, {
      kind: o.kind as 'iornn' | 'brnn',
      backward: o.backward,
      hidden,
      activation,
      inputModel: o.inputModel as InputModelName,
      ...(o.inputOrder !== undefined ? { inputOrder: o.inputOrder } : {}),
      ...(o.standardise === false ? { standardise: false } : {}),
      refine: o.refine,
      controlVariate: o.controlVariate,
      ...(o.sqlPasses === 'on' ? { sqlPasses: true } : {}),
      refineMaxRows: o.refineMaxRows,
      seed: o.seed,
      workers: o.workers ?? availableParallelism(),
      onProgress: bar.update,
      onWarning: warnLine,
      refineOptions: { onIteration: (i) => bar.update({ stage: 'refinement', rows: i.iteration, unit: 'iterations' }), ...(o.refineIterations !== undefined ? { maxIter: o.refineIterations } : {}) },
    });
  } catch (e) {
    // A singular covariance (or a numerical failure deeper in the learner) is most often one wild value, not
    // collinear columns: if there is one, say which, and where.
    if (!(e instanceof UserError) || /collinear|singular|ill-conditioned|not positive definite|constant/.test(e.message)) {
      throw (await explainIllConditioning(source, source.name, (e as Error).message)) ?? e;
    }
    throw e;
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const file = { inputModel: res.inputModel.toJSON(), diagnostics: res.diagnostics };
  if (o.report) {
    // Rendered before the model is saved so a failure leaves neither file behind.
    const html = await buildReport({ params: res.params, ...file }, source, {
      dataLabel: `${isDataURL(dataFile) ? source.name : path.basename(dataFile)} (the training data)`,
      modelName: path.basename(o.out),
      inSample: true,
      title: `gloree fit ${isDataURL(dataFile) ? source.name : path.basename(dataFile)} --out ${path.basename(o.out)}: fit report (in-sample)`,
    });
    await saveModel(o.out, res.params, file);
    await writeFileAtomic(o.report, html);
  } else {
    await saveModel(o.out, res.params, file);
  }
  if (o.json) {
    // Timings are run-to-run noise, so they live here and in the printed summary, never in the model file.
    out(JSON.stringify({ model: o.out, report: o.report ?? null, learner: res.learner, seconds: Math.round(seconds * 1000) / 1000, timingsMs: res.timingsMs, ...(res.passes ? { passes: res.passes } : {}), warnings: res.diagnostics.warnings }, null, 2));
    return;
  }
  if (o.quiet) return;
  for (const line of fitSummary(res, seconds)) out(line);
  out(`  stages: ${timingLine(res.timingsMs)}`);
  out(`  model written to ${o.out}${o.report ? `; report to ${o.report}` : ''}`);
}

export function timingLine(t: Record<string, number>): string {
  return Object.entries(t).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`).join(', ');
}

/** Human-readable summary of a fit (any learner): sizes, conditioning, split, refinement. */
export function fitSummary(res: FitResult, seconds: number): string[] {
  const d = res.diagnostics;
  const p = res.params;
  const lines: string[] = [];
  const rank = d.learner === 'gloree' || d.learner === 'gloree-b' ? d.rank : null;
  if (d.learner === 'linear' && d.linear.orderRule === 'auto') {
    const l = d.linear;
    lines.push(`chose dh = ${l.order} from the Hankel singular values ${l.hankelSpectrum.slice(0, l.order + 3).map(fmt).join(', ')} (noise floor ${fmt(l.noiseFloor)}, threshold ${fmt(l.threshold)}${l.orderCandidates.length > 1 ? `; BIC over orders ${l.orderCandidates.map((c) => c.order).join(', ')}` : ''})`);
  } else if (rank?.auto) {
    lines.push(`chose ${d.learner === 'gloree-b' ? 'dh + dz' : 'dh'} = ${rank.chosen} from the T2 spectrum ${rank.spectrum.slice(0, rank.chosen + 3).map(fmt).join(', ')} (noise floor ${fmt(rank.noiseFloor)}; rule: ${rank.rule})`);
  } else if (d.learner === 'smooth' && d.smooth.hidden?.auto && d.smooth.hidden.rank) {
    lines.push(`chose dh = ${d.smooth.hidden.chosen} from the score moments' spectra: ${d.smooth.hidden.rank.rule}`);
  } else if (d.learner === 'gloree-poly' && d.hidden.auto) {
    lines.push(`chose dh = ${d.hidden.chosen} from the T2 spectrum ${(d.hidden.spectrum ?? []).slice(0, d.hidden.chosen + 3).map(fmt).join(', ')} (noise floor ${fmt(d.hidden.noiseFloor ?? NaN)})`);
  }
  const sizes = p.kind === 'brnn' ? `dh=${p.A1.rows} forward + dz=${p.B1.rows} backward` : `dh=${p.A1.rows}`;
  const what = p.kind === 'brnn' ? 'BRNN' : 'IO-RNN';
  lines.push(`fitted ${what} ${sizes} (σ = ${activationToString(p.activation)}) on ${d.data.rows} rows (${d.data.sequences} sequences, dx=${d.data.dx}, dy=${d.data.dy}) in ${seconds.toFixed(2)} s`);
  if (d.learner === 'gloree-b') {
    const s = d.split;
    lines.push(`  forward/backward split ${s.inferred ? 'inferred from the mixed moments' : 'as requested'}: ${s.clarity} (smallest margin ${fmt(s.minMargin)})`);
  }
  if (d.learner === 'gloree-poly') lines.push(`  CP residual ${fmt(d.directions.cpResidual)} (directions from ${d.directions.route})`);
  else if (d.learner === 'smooth') lines.push(`  ${d.smooth.route} route (${d.smooth.routeReason}); start ${d.smooth.start}: ${d.smooth.startReason}`);
  else if (d.learner === 'linear') lines.push(`  ${d.linear.canonicalForm} realization (Hankel horizon ${d.linear.horizon}, ${d.linear.blockRows}×${d.linear.blockCols} blocks)`);
  else lines.push(`  CP residual ${fmt(d.cp.residual)}`);
  const sel = 'selection' in d.inputModel ? d.inputModel.selection : undefined;
  if (sel) {
    const worst = sel.coordinates.reduce((m, c) => (c.pValue < m.pValue ? c : m), sel.coordinates[0]);
    const comps = sel.mixture ? `; per component: ${sel.mixture.components.map((c) => (c.family === 'stein-poly' ? 'Stein polynomials' : `mixture of ${c.weights.length}`)).join(', ')}` : '';
    lines.push(`  input model ${sel.requested}: ${sel.choice === 'mixture' ? 'non-Gaussian innovations' : 'Gaussian VAR(1)'} (smallest Jarque–Bera p ${fmt(worst?.pValue ?? NaN)} in ${worst?.column ?? '—'}, threshold ${fmt(sel.threshold)}${comps})`);
  }
  const share = d.learner === 'gloree-b' ? d.varianceShareRecurrent : d.learner === 'linear' || d.learner === 'smooth' ? undefined : d.varianceShareU;
  if (share !== undefined) lines.push(`  share of output variance carried by the recurrence: ${(100 * share).toFixed(1)}%`);
  const r = d.refine;
  if (r) {
    lines.push(
      `  refinement (${r.method}, ${r.iterations} iterations on ${r.trainRows} rows): ` +
        (r.valLossStart === null
          ? `training MSE ${fmt(r.trainLossStart)} → ${fmt(r.trainLossEnd)} (one sequence: no validation split)`
          : `validation MSE ${fmt(r.valLossStart)} → ${fmt(r.valLossEnd ?? NaN)}${r.keptStart ? ' (kept the spectral start)' : ''}`),
    );
    if (r.sample?.mode === 'windows') lines.push(`  refinement: ${describePlan(r.sample)}`);
  }
  if (d.stabilised) lines.push(`  stability: the fitted model blew up on the training data; kept "${d.stabilised.kept}" (see diagnostics.stabilised)`);
  return lines;
}

// ---------------------------------------------------------------------------------------------

export async function predictCommand(modelFile: string, dataFile: string, o: { out: string; x?: string; y?: string; seq?: string; format?: string }): Promise<void> {
  checkOutputs([modelFile, dataFile], [o.out]);
  if (!/\.(csv|txt|tsv)$/i.test(o.out)) throw new UsageError(`--out ${o.out}: predictions are written as CSV; give a .csv file name`);
  const m = loadModel(modelFile);
  const source = forPrediction(await openData(dataFile, o, 1, false, true), m.params);
  checkDims(m, source, modelFile, dataFile, false);
  const dy = m.params.A2.cols;
  const hasSeq = source.columns.seq !== undefined;
  const w = await PredictionCSVWriter.open(o.out, dy);
  let rows = 0;
  const bar = new PassProgressBar();
  const pred = new ChunkPredictor(m.params);
  try {
    for await (const chunk of source.chunks()) {
      const yhat = predictOrExplain(pred, chunk, dataFile, modelFile, hasSeq);
      await w.append(chunk, yhat);
      rows += chunk.rows;
      bar.update({ stage: 'predict', rows });
    }
  } catch (e) {
    await w.abort();
    throw e;
  } finally {
    bar.stop();
  }
  await w.commit();
  out(`wrote ${rows} predictions to ${o.out}`);
}

// ---------------------------------------------------------------------------------------------

function checkDims(m: LoadedModel, source: CSVSource, modelFile: string, dataFile: string, needY: boolean): void {
  const dx = m.params.A1.cols, dy = m.params.A2.cols;
  if (source.dx !== dx) throw new UserError(`${dataFile}: has ${source.dx} input columns, the model ${modelFile} expects dx = ${dx}`);
  if (needY && source.dy !== dy) throw new UserError(`${dataFile}: has ${source.dy} output columns, the model ${modelFile} expects dy = ${dy}`);
}

export interface EvaluationRow {
  label: string;
  nmse: number;
}

/** The U = 0 baseline stored by `fit` (Â1, U = 0, its own least-squares output layer). */
function feedforwardOf(m: LoadedModel): RNNParams | null {
  return feedforwardFromDiagnostics(m.params, m.diagnostics);
}

export async function evaluateCommand(
  modelFile: string,
  dataFile: string,
  o: { truth?: string; json?: boolean; x?: string; y?: string; seq?: string },
): Promise<void> {
  const m = loadModel(modelFile);
  checkDiagnostics(m, modelFile);
  const truth0 = o.truth ? loadModel(o.truth) : null;
  const ff = feedforwardOf(m);
  const source = forPrediction(await openData(dataFile, o, 1, true, true), m.params, truth0?.params, ff);
  checkDims(m, source, modelFile, dataFile, true);
  const truth = truth0;
  if (truth) {
    if (truth.params.A1.cols !== m.params.A1.cols || truth.params.A2.cols !== m.params.A2.cols) {
      throw new UserError(`${o.truth}: true model has dx=${truth.params.A1.cols}, dy=${truth.params.A2.cols}; ${modelFile} has dx=${m.params.A1.cols}, dy=${m.params.A2.cols}`);
    }
  }
  const dy = m.params.A2.cols;
  const hasSeq = source.columns.seq !== undefined;
  // Per-sequence sums (SequenceNMSE): a long sequence read in pieces that blows up late is left out entirely.
  const accData = new SequenceNMSE(dy), accFF = new SequenceNMSE(dy);
  const accTruth = new SequenceNMSE(dy), accFFTruth = new SequenceNMSE(dy), accTruthData = new SequenceNMSE(dy);
  const all = [accData, accFF, accTruth, accFFTruth, accTruthData];
  const pred = new ChunkPredictor(m.params), ffPred = ff ? new ChunkPredictor(ff) : null, truthPred = truth ? new ChunkPredictor(truth.params) : null;
  // Sequences on which the model blows up are left out of every NMSE (so the rows compared are the same for each
  // line) and counted: the error on the others still says something, and the count says how often it escapes.
  let sequences = 0, blownCount = 0, rowsSeen = 0;
  let firstBlown: string | undefined;
  const bar = new PassProgressBar();
  for await (const chunk of source.chunks()) {
    sequences += sequencesStarting(chunk);
    rowsSeen += chunk.rows;
    bar.update({ stage: 'evaluate', rows: rowsSeen });
    const { kept, yhat, blown } = pred.predictSkipping(chunk, dataFile, hasSeq);
    blownCount += blown.length;
    firstBlown ??= blown[0]?.where;
    // The sequence open from earlier pieces blew up (now or before): its earlier rows leave every sum.
    if (chunk.continued && !kept.continued) for (const a of all) a.drop();
    if (kept.rows === 0) continue;
    accData.add(yhat, kept.y, kept);
    const yff = ffPred ? ffPred.predict(kept) : null;
    if (yff) accFF.add(yff, kept.y, kept);
    if (truthPred) {
      const clean = predictOrExplain(truthPred, kept, dataFile, o.truth!, hasSeq);
      accTruth.add(yhat, clean, kept);
      accTruthData.add(clean, kept.y, kept);
      if (yff) accFFTruth.add(yff, clean, kept);
    }
  }
  bar.stop();
  if (blownCount === sequences) {
    throw new UserError(`the model ${modelFile} blows up on every sequence of ${dataFile} (first: ${firstBlown}); it is outside the stable regime of docs/method.md §6`);
  }
  // NMSE divides by the output variance: constant outputs make it undefined, which is the data's problem.
  const val = (a: SequenceNMSE, what: string): number => {
    try {
      return a.total.value();
    } catch {
      throw new UserError(`${dataFile}: ${what} have zero variance, so the NMSE is undefined`);
    }
  };
  const result: Record<string, unknown> = { nmse: val(accData, 'the outputs') };
  if (blownCount > 0) result.blownUp = { sequences: blownCount, of: sequences, first: firstBlown };
  if (ff) result.nmseFeedforward = val(accFF, 'the outputs');
  if (truth) {
    result.nmseVsTruth = val(accTruth, "the true model's outputs");
    result.noiseFloor = val(accTruthData, 'the outputs');
    if (ff) result.nmseFeedforwardVsTruth = val(accFFTruth, "the true model's outputs");
    const sameAct = activationsEqual(truth.params.activation, m.params.activation);
    if (!sameAct) result.parameterErrors = 'not comparable: the true model has a different activation';
    else if (truth.params.kind === m.params.kind && truth.params.A1.rows === m.params.A1.rows) {
      const pe = parameterErrors(m.params, truth.params);
      result.parameterErrors = { A1: pe.A1, U: pe.U, A2: pe.A2 };
    }
  }
  if (o.json) {
    out(JSON.stringify(result, null, 2));
    return;
  }
  out(`evaluation of ${modelFile} on ${dataFile}`);
  if (blownCount > 0) {
    out(`  the model blows up on ${blownCount} of ${sequences} sequences (first: ${firstBlown}); the NMSEs below are over the other ${sequences - blownCount}`);
  }
  out(`  NMSE against the data's outputs:          ${fmt(result.nmse as number)}`);
  if (ff) out(`  NMSE of the U = 0 model (same A1):        ${fmt(result.nmseFeedforward as number)}`);
  if (truth) {
    out(`  NMSE against the true noise-free outputs: ${fmt(result.nmseVsTruth as number)}`);
    if (ff) out(`  ... of the U = 0 model:                   ${fmt(result.nmseFeedforwardVsTruth as number)}`);
    out(`  noise floor (true model vs the data):     ${fmt(result.noiseFloor as number)}`);
    const pe = result.parameterErrors as { A1: number; U: number; A2: number } | string | undefined;
    if (typeof pe === 'string') out(`  parameter errors: ${pe}`);
    else if (pe) out(`  parameter errors (relative, up to symmetries): A1 ${fmt(pe.A1)}, U ${fmt(pe.U)}, A2 ${fmt(pe.A2)}`);
  }
}

// ---------------------------------------------------------------------------------------------

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e4 ? v.toPrecision(3) : v.toExponential(2);
}

export type { SequenceChunk };

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Matrix } from '../linalg/matrix.js';
import { SequenceChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { writeCSV, PredictionCSVWriter, CSVSource } from '../io/csv.js';
import { openDataSource } from '../io/open.js';
import { activationFromSpec } from '../models/activation.js';
import { IORNNParams, RNNParams } from '../models/params.js';
import { predict } from '../models/brnn.js';
import { loadModel, saveModel, LoadedModel } from '../models/serialize.js';
import { SCENARIOS, Scenario, scenarioFromJSON, simulateScenario } from '../models/simulate.js';
import { NMSEAccumulator } from '../metrics/nmse.js';
import { parameterErrors } from '../metrics/parameters.js';
import { fitGloree } from '../learn/gloree.js';
import { PassProgressBar } from './progress.js';
import { out, warnLine } from './io.js';
import { buildReport } from './report-command.js';
import { writeFileAtomic } from '../io/atomic.js';


function resolveScenario(spec: string): Scenario {
  if (Object.hasOwn(SCENARIOS, spec)) return SCENARIOS[spec];
  if (spec.endsWith('.json') || existsSync(spec)) {
    let obj: unknown;
    try {
      obj = JSON.parse(readFileSync(spec, 'utf8'));
    } catch (e) {
      throw new UserError(`${spec}: cannot read scenario (${(e as Error).message})`);
    }
    return scenarioFromJSON(obj, path.basename(spec));
  }
  throw new UserError(`unknown scenario "${spec}" (built-in: ${Object.keys(SCENARIOS).join(', ')}; or give a JSON file)`);
}

function columns(list?: string): string[] | undefined {
  if (list === undefined) return undefined;
  const cols = list.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
  if (cols.length === 0) throw new UserError(`column list "${list}" is empty`);
  return cols;
}

async function openData(file: string, o: { x?: string; y?: string; seq?: string; format?: string }, minLength = 1, requireY = true): Promise<CSVSource> {
  return openDataSource(file, { x: columns(o.x), y: columns(o.y), seq: o.seq, minLength, requireY, format: o.format });
}

// ---------------------------------------------------------------------------------------------

export interface SimulateOpts {
  scenario: string;
  sequences?: number;
  seed?: number;
  out: string;
  truth?: string;
}

export async function simulateCommand(o: SimulateOpts): Promise<void> {
  const sc = resolveScenario(o.scenario);
  const { model, data } = simulateScenario(sc, { nSeq: o.sequences, seed: o.seed });
  if (o.truth) await saveModel(o.truth, model, { diagnostics: { scenario: sc } });
  await writeCSV(o.out, data);
  out(`wrote ${data.rows} rows (${data.lengths.length} sequences, dx=${data.dx}, dy=${data.dy}) to ${o.out}${o.truth ? `; true model to ${o.truth}` : ''}`);
}

// ---------------------------------------------------------------------------------------------

export interface FitOpts {
  hidden: string;
  kind: string;
  backward?: number;
  activation: string;
  inputModel: string;
  refine: boolean;
  controlVariate: boolean;
  refineMaxRows?: number;
  seed: number;
  out: string;
  x?: string;
  y?: string;
  seq?: string;
  quiet?: boolean;
  report?: string;
  format?: string;
}

export async function fitCommand(dataFile: string, o: FitOpts): Promise<void> {
  if (o.kind !== 'iornn') {
    throw new UserError(`--kind ${o.kind}: only "iornn" is implemented in this version (bidirectional models are issue 5 of the tracker)`);
  }
  if (o.backward !== undefined) throw new UserError('--backward only applies to --kind brnn');
  const hidden = o.hidden === 'auto' ? 'auto' : Number(o.hidden);
  if (hidden !== 'auto' && (!/^\d+$/.test(o.hidden) || hidden < 1)) throw new UserError(`--hidden must be a positive integer or "auto", got "${o.hidden}"`);
  if (o.inputModel !== 'var1' && o.inputModel !== 'iid') throw new UserError(`--input-model must be var1 or iid, got "${o.inputModel}"`);
  const activation = activationFromSpec(o.activation);
  const source = await openData(dataFile, o, 2);
  const bar = new PassProgressBar();
  const t0 = performance.now();
  let res;
  try {
    res = await fitGloree(source, {
      hidden,
      activation,
      inputModel: o.inputModel,
      refine: o.refine,
      controlVariate: o.controlVariate,
      refineMaxRows: o.refineMaxRows,
      seed: o.seed,
      onProgress: bar.update,
      onWarning: warnLine,
    });
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (o.report) {
    // Rendered before the model is saved so a failure leaves neither file behind.
    const html = await buildReport({ params: res.params, inputModel: res.inputModel.toJSON(), diagnostics: res.diagnostics }, source, {
      dataLabel: 'training data (not held out)',
      modelName: path.basename(o.out),
    });
    await saveModel(o.out, res.params, { inputModel: res.inputModel.toJSON(), diagnostics: res.diagnostics });
    await writeFileAtomic(o.report, html);
  } else {
    await saveModel(o.out, res.params, { inputModel: res.inputModel.toJSON(), diagnostics: res.diagnostics });
  }
  if (o.quiet) return;
  const d = res.diagnostics;
  if (d.rank.auto) {
    out(`chose dh = ${d.rank.chosen} (${d.rank.rule}); spectrum ${d.rank.spectrum.slice(0, Math.min(d.rank.spectrum.length, d.rank.chosen + 3)).map(fmt).join(', ')}, noise floor ${fmt(d.rank.noiseFloor)}`);
  }
  out(`fitted IO-RNN dh=${d.rank.chosen} on ${d.data.rows} rows (${d.data.sequences} sequences, dx=${d.data.dx}, dy=${d.data.dy}) in ${seconds.toFixed(2)} s`);
  out(`  CP of T2: relative residual ${fmt(d.cp.residual)}; smallest singular values: A1 ${fmt(d.pinv.A1.sMin)}, A2ᵀ ${fmt(d.pinv.A2T.sMin)}`);
  if (d.varianceShareU !== undefined) out(`  share of output variance carried by U: ${(100 * d.varianceShareU).toFixed(1)}%`);
  if (d.refine) {
    out(
      `  refinement (${d.refine.method}, ${d.refine.iterations} iterations on ${d.refine.trainRows} rows): validation MSE ` +
        `${fmt(d.refine.valLossStart ?? NaN)} → ${fmt(d.refine.valLossEnd ?? NaN)}${d.refine.keptStart ? ' (kept the spectral start)' : ''}`,
    );
  }
  out(`  model written to ${o.out}${o.report ? `; report to ${o.report}` : ''}`);
}

// ---------------------------------------------------------------------------------------------

export async function predictCommand(modelFile: string, dataFile: string, o: { out: string; x?: string; y?: string; seq?: string; format?: string }): Promise<void> {
  const m = loadModel(modelFile);
  const source = await openDataSource(dataFile, { x: columns(o.x), y: columns(o.y), seq: o.seq, requireY: false, format: o.format });
  checkDims(m, source, modelFile, dataFile, false);
  const dy = m.params.A2.cols;
  const w = await PredictionCSVWriter.open(o.out, dy);
  let rows = 0;
  try {
    for await (const chunk of source.chunks()) {
      const yhat = predict(m.params, chunk, { sequenceOffset: chunk.sequenceOffset });
      await w.append(chunk, yhat);
      rows += chunk.rows;
    }
  } catch (e) {
    await w.abort();
    throw e;
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
function feedforwardOf(m: LoadedModel): IORNNParams | null {
  const d = m.diagnostics as { feedforward?: { A2: number[][]; b: number[] } } | undefined;
  if (m.params.kind !== 'iornn' || !d?.feedforward) return null;
  const p = m.params;
  return { ...p, U: new Matrix(p.U.rows, p.U.cols), A2: Matrix.from(d.feedforward.A2), b: Float64Array.from(d.feedforward.b) };
}

export async function evaluateCommand(
  modelFile: string,
  dataFile: string,
  o: { truth?: string; json?: boolean; x?: string; y?: string; seq?: string },
): Promise<void> {
  const m = loadModel(modelFile);
  const source = await openData(dataFile, o, 1, true);
  checkDims(m, source, modelFile, dataFile, true);
  const truth = o.truth ? loadModel(o.truth) : null;
  if (truth) {
    if (truth.params.A1.cols !== m.params.A1.cols || truth.params.A2.cols !== m.params.A2.cols) {
      throw new UserError(`${o.truth}: true model has dx=${truth.params.A1.cols}, dy=${truth.params.A2.cols}; ${modelFile} has dx=${m.params.A1.cols}, dy=${m.params.A2.cols}`);
    }
  }
  const ff = feedforwardOf(m);
  const dy = m.params.A2.cols;
  const accData = new NMSEAccumulator(dy), accFF = new NMSEAccumulator(dy);
  const accTruth = new NMSEAccumulator(dy), accFFTruth = new NMSEAccumulator(dy), accTruthData = new NMSEAccumulator(dy);
  for await (const chunk of source.chunks()) {
    const yhat = predict(m.params, chunk, { sequenceOffset: chunk.sequenceOffset });
    accData.add(yhat, chunk.y);
    const yff = ff ? predict(ff, chunk) : null;
    if (yff) accFF.add(yff, chunk.y);
    if (truth) {
      const clean = predict(truth.params, chunk, { sequenceOffset: chunk.sequenceOffset });
      accTruth.add(yhat, clean);
      accTruthData.add(clean, chunk.y);
      if (yff) accFFTruth.add(yff, clean);
    }
  }
  const result: Record<string, unknown> = { nmse: accData.value() };
  if (ff) result.nmseFeedforward = accFF.value();
  if (truth) {
    result.nmseVsTruth = accTruth.value();
    result.noiseFloor = accTruthData.value();
    if (ff) result.nmseFeedforwardVsTruth = accFFTruth.value();
    if (truth.params.kind === m.params.kind && truth.params.A1.rows === m.params.A1.rows) {
      const pe = parameterErrors(m.params, truth.params);
      result.parameterErrors = { A1: pe.A1, U: pe.U, A2: pe.A2 };
    }
  }
  if (o.json) {
    out(JSON.stringify(result, null, 2));
    return;
  }
  out(`evaluation of ${modelFile} on ${dataFile}`);
  out(`  NMSE against the data's outputs:          ${fmt(result.nmse as number)}`);
  if (ff) out(`  NMSE of the U = 0 model (same A1):        ${fmt(result.nmseFeedforward as number)}`);
  if (truth) {
    out(`  NMSE against the true noise-free outputs: ${fmt(result.nmseVsTruth as number)}`);
    if (ff) out(`  ... of the U = 0 model:                   ${fmt(result.nmseFeedforwardVsTruth as number)}`);
    out(`  noise floor (true model vs the data):     ${fmt(result.noiseFloor as number)}`);
    const pe = result.parameterErrors as { A1: number; U: number; A2: number } | undefined;
    if (pe) out(`  parameter errors (relative, up to symmetries): A1 ${fmt(pe.A1)}, U ${fmt(pe.U)}, A2 ${fmt(pe.A2)}`);
  }
}

// ---------------------------------------------------------------------------------------------

export interface DemoOpts {
  scenario: string;
  sequences: number;
  seed: number;
  refine: boolean;
  out?: string;
}

/**
 * The main job on a built-in scenario: simulate training and held-out data from a planted model, fit with the
 * input model estimated from the data, and compare on held-out sequences (DESIGN.md §7).
 */
export async function demoCommand(o: DemoOpts): Promise<void> {
  const sc = resolveScenario(o.scenario);
  if (sc.kind !== 'iornn') throw new UserError(`scenario "${o.scenario}" is a ${sc.kind}; this version's demo fits IO-RNNs only`);
  const train = simulateScenario(sc, { nSeq: o.sequences, seed: o.seed });
  const test = simulateScenario(sc, { nSeq: Math.max(200, Math.round(o.sequences / 5)), seed: o.seed + 1_000_003 });
  const truth = train.model as IORNNParams;
  out(`gloree demo: scenario "${o.scenario}"${sc.description ? ` (${sc.description})` : ''}`);
  out(`  training: ${train.data.rows} rows in ${train.data.lengths.length} sequences; held out: ${test.data.rows} rows; output noise σ = ${sc.noise}`);
  const bar = new PassProgressBar();
  const t0 = performance.now();
  let res;
  try {
    res = await fitGloree(train.data, { hidden: sc.dh, seed: o.seed, refine: o.refine, onProgress: bar.update, onWarning: warnLine });
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const d = res.diagnostics;
  const spectral: IORNNParams = { ...res.params, A1: Matrix.from(d.spectral.A1), U: Matrix.from(d.spectral.U), A2: Matrix.from(d.spectral.A2), b: Float64Array.from(d.spectral.b) };
  const refitSpectral = d.refine ? null : res.params;
  const ff: IORNNParams = { ...res.params, U: new Matrix(sc.dh, sc.dh), A2: Matrix.from(d.feedforward!.A2), b: Float64Array.from(d.feedforward!.b) };
  const score = (p: RNNParams): number => {
    const acc = new NMSEAccumulator(sc.dy);
    acc.add(predict(p, test.data), test.clean);
    return acc.value();
  };
  const rows: [string, number, ReturnType<typeof parameterErrors> | null][] = [];
  rows.push(['U = 0 model (Â1, U = 0, A2 refit)', score(ff), null]);
  rows.push(['spectral (moments only)', score(spectral), parameterErrors(spectral, truth)]);
  if (refitSpectral) rows.push(['spectral + A2/b refit', score(refitSpectral), parameterErrors(refitSpectral, truth)]);
  if (d.refine) rows.push(['spectral + refinement (default)', score(res.params), parameterErrors(res.params, truth)]);
  out('');
  out('  model                                   held-out NMSE   err A1    err U     err A2');
  for (const [label, v, pe] of rows) {
    out(`  ${label.padEnd(40)}${fmt(v).padStart(12)}   ${pe ? [pe.A1, pe.U, pe.A2].map((e) => fmt(e).padEnd(9)).join(' ') : '—'}`);
  }
  out('');
  out(`  NMSE is against the true noise-free outputs on held-out sequences; errors are relative Frobenius, up to`);
  out(`  neuron permutation, scale and sign (DESIGN.md §7). The U = 0 row shows what the recurrence is worth.`);
  out(`  fit time ${seconds.toFixed(2)} s (passes: ${Object.entries(d.timingsMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`).join(', ')})`);
  if (o.out) {
    await saveModel(o.out, res.params, { inputModel: res.inputModel.toJSON(), diagnostics: d });
    out(`  model written to ${o.out}`);
  }
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e4 ? v.toPrecision(3) : v.toExponential(2);
}

export type { SequenceChunk };

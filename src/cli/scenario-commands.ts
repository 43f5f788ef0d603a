/**
 * The commands on built-in or JSON scenarios: `gloree simulate` (data + true model from a planted model) and
 * `gloree demo` (the main job: simulate, fit, compare on held-out sequences).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Matrix } from '../linalg/matrix.js';
import { UserError } from '../io/errors.js';
import { writeDataFile } from '../io/open.js';
import { RNNParams } from '../models/params.js';
import { predict } from '../models/brnn.js';
import { saveModel } from '../models/serialize.js';
import { SCENARIOS, Scenario, scenarioFromJSON, simulateScenario } from '../models/simulate.js';
import { NMSEAccumulator } from '../metrics/nmse.js';
import { parameterErrors } from '../metrics/parameters.js';
import { FitResult, fitRNN, feedforwardFromDiagnostics } from '../learn/fit.js';
import { PassProgressBar } from './progress.js';
import { UsageError, out, warnLine } from './io.js';
import { checkOutputs } from './outputs.js';
import { checkScenarioSize } from './limits.js';
import { fitSummary, fmt, timingLine } from './commands.js';

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
  throw new UsageError(`--scenario: unknown scenario "${spec}" (built-in: ${Object.keys(SCENARIOS).join(', ')}; or give a JSON file)`);
}


export interface SimulateOpts {
  scenario: string;
  sequences?: number;
  seed?: number;
  out: string;
  truth?: string;
  format?: string;
}

export async function simulateCommand(o: SimulateOpts): Promise<void> {
  checkOutputs([], [o.out, o.truth]);
  const sc = resolveScenario(o.scenario);
  checkScenarioSize(sc, o.scenario, o.sequences);
  const bar = new PassProgressBar();
  bar.update({ stage: 'simulate', rows: 0, unit: 'sequences (simulating)' });
  const { model, data } = simulateScenario(sc, { nSeq: o.sequences, seed: o.seed });
  bar.update({ stage: 'write', rows: data.rows, totalRows: data.rows });
  bar.stop();
  // Both files are committed together by the CLI (src/io/atomic.ts output sets): all or nothing.
  await writeDataFile(o.out, data, { format: o.format });
  if (o.truth) await saveModel(o.truth, model, { diagnostics: { scenario: sc } });
  out(`wrote ${data.rows} rows (${data.lengths.length} sequences, dx=${data.dx}, dy=${data.dy}) to ${o.out}${o.truth ? `; true model to ${o.truth}` : ''}`);
}


export interface DemoOpts {
  scenario: string;
  sequences: number;
  seed: number;
  refine: boolean;
  out?: string;
}

/** The spectral (pre-regression, pre-refinement) estimate stored in the diagnostics of every learner. */
export function spectralFromDiagnostics(params: RNNParams, diagnostics: unknown): RNNParams | null {
  const sp = (diagnostics as { spectral?: Record<string, number[][] | number[]> } | undefined)?.spectral;
  if (!sp) return null;
  const M = (k: string): Matrix => {
    const v = sp[k] as number[][];
    return v.length === 0 ? new Matrix(0, 0) : Matrix.from(v);
  };
  const base = { A1: M('A1'), U: M('U'), A2: M('A2'), b: Float64Array.from(sp.b as number[]) };
  if (base.A1.rows === 0) base.A1 = new Matrix(0, params.A1.cols);
  if (params.kind === 'brnn') {
    const B1 = M('B1');
    return { ...params, ...base, B1: B1.rows === 0 ? new Matrix(0, params.A1.cols) : B1, V: M('V') };
  }
  return { ...params, ...base };
}

/**
 * The main job on a built-in scenario: simulate training and held-out data from a planted model, fit with the
 * input model estimated from the data, and compare on held-out sequences (docs/method.md §7). For a BRNN scenario only
 * the total number of neurons is given: the forward/backward split is inferred.
 */
export async function demoCommand(o: DemoOpts): Promise<void> {
  checkOutputs([], [o.out]);
  const sc = resolveScenario(o.scenario);
  checkScenarioSize(sc, o.scenario, o.sequences * 1.2);
  const train = simulateScenario(sc, { nSeq: o.sequences, seed: o.seed });
  const test = simulateScenario(sc, { nSeq: Math.max(200, Math.round(o.sequences / 5)), seed: o.seed + 1_000_003 });
  const truth = train.model;
  const total = sc.dh + (sc.dz ?? 0);
  out(`gloree demo: scenario "${o.scenario}"${sc.description ? ` (${sc.description})` : ''}`);
  out(`  training: ${train.data.rows} rows in ${train.data.lengths.length} sequences; held out: ${test.data.rows} rows; output noise σ = ${sc.noise}`);
  if (sc.kind === 'brnn') out(`  the learner is told only the total number of neurons (${total}) and infers which are forward and which backward`);
  const bar = new PassProgressBar();
  const t0 = performance.now();
  let res: FitResult;
  try {
    res = await fitRNN(train.data, {
      kind: sc.kind,
      hidden: total,
      activation: truth.activation,
      seed: o.seed,
      refine: o.refine,
      onProgress: bar.update,
      onWarning: warnLine,
    });
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const d = res.diagnostics;
  for (const line of fitSummary(res, seconds).slice(1)) out(line);
  const score = (p: RNNParams): number => {
    const acc = new NMSEAccumulator(sc.dy);
    acc.add(predict(p, test.data), test.clean);
    return acc.value();
  };
  const errors = (p: RNNParams): number[] | null => {
    if (p.kind !== truth.kind || p.A1.rows !== truth.A1.rows || (p.kind === 'brnn' && truth.kind === 'brnn' && p.B1.rows !== truth.B1.rows)) return null;
    const pe = parameterErrors(p, truth);
    return p.kind === 'brnn' ? [pe.A1, pe.U, pe.B1!, pe.V!, pe.A2] : [pe.A1, pe.U, pe.A2];
  };
  const rows: [string, number, number[] | null][] = [];
  const ff = feedforwardFromDiagnostics(res.params, d);
  if (ff) rows.push([sc.kind === 'brnn' ? 'U = V = 0 model (same A1, B1; A2 refit)' : 'U = 0 model (Â1, U = 0, A2 refit)', score(ff), null]);
  const spectral = spectralFromDiagnostics(res.params, d);
  if (spectral) rows.push(['spectral (moments only)', score(spectral), errors(spectral)]);
  rows.push([o.refine ? 'spectral + refinement (default)' : 'spectral + A2/b refit', score(res.params), errors(res.params)]);
  rows.push(['true model (noise-free target)', 0, null]);
  const cols = sc.kind === 'brnn' ? ['err A1', 'err U', 'err B1', 'err V', 'err A2'] : ['err A1', 'err U', 'err A2'];
  out('');
  out(`  ${'model'.padEnd(42)}${'held-out NMSE'.padStart(14)}   ${cols.map((c) => c.padEnd(9)).join(' ')}`);
  for (const [label, v, pe] of rows.slice(0, -1)) {
    out(`  ${label.padEnd(42)}${fmt(v).padStart(14)}   ${pe ? pe.map((e) => fmt(e).padEnd(9)).join(' ') : '—'}`);
  }
  out('');
  out('  NMSE is against the true noise-free outputs on held-out sequences; errors are relative Frobenius, up to');
  out('  neuron permutation, scale and sign (docs/method.md §7). The U = 0 row shows what the recurrence is worth.');
  out(`  fit time ${seconds.toFixed(2)} s (${timingLine(res.timingsMs)})`);
  if (o.out) {
    await saveModel(o.out, res.params, { inputModel: res.inputModel.toJSON(), diagnostics: d });
    out(`  model written to ${o.out}`);
  }
}

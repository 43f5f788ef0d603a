import { DataSource } from '../io/dataset.js';
import { OptionError, UserError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { ResidualMoments, VAR1Stats, estimateVAR1, finishFit } from '../input/fit.js';
import { fitVARp } from '../input/varp-fit.js';
import { AutoDiagnostics, collectResiduals, fitMixtureVAR1, gaussianityTest } from '../input/auto.js';
import { ProgressCallback, forEachChunk } from './passes.js';
import { RunLog } from './options.js';
import { InputModelDiagnostics } from './diagnostics.js';
import { haloSource } from './pieces.js';

/**
 * The input model of a fit, by name (docs/non-gaussian-inputs.md, docs/method.md §3): one entry per model in
 * `INPUT_MODELS`, each turning pass 1's statistics (plus passes of its own, if it needs them) into the model the
 * moment passes use. A new input model (VAR(p), …) is one more entry here and one more name in `InputModelName`.
 *
 *   'var1'    Gaussian VAR(1) by least squares (the residual moments for the diagnostics come from pass 2);
 *   'iid'     i.i.d. Gaussian;
 *   'auto'    (default) the Gaussian VAR(1), kept when its residuals' skewness and kurtosis are within their
 *             sampling noise (Jarque–Bera per coordinate, Bonferroni; src/input/auto.ts), else 'mixture';
 *   'mixture' the VAR(1) with independent-component Gaussian-mixture innovations (src/input/var1-mixture.ts);
 *   'varp'    Gaussian VAR(p), p by BIC over 0..8 or `inputOrder` (src/input/varp-fit.ts: its own streaming fit,
 *             one pass for the window statistics and one for the residual moments; the order choice is the
 *             diagnostics).
 * 'auto' and 'mixture' need the residuals of the least-squares VAR(1), so they take one more pass after pass 1
 * (residual moment sums + an evenly strided sample of at most 20 000 residuals; all plain sums or a fixed stride,
 * so the result does not depend on how the data are chunked).
 */
export type InputModelName = 'auto' | 'var1' | 'iid' | 'mixture' | 'varp';
export const INPUT_MODEL_NAMES: readonly InputModelName[] = ['auto', 'var1', 'iid', 'mixture', 'varp'];
export type InputModelSpec = InputModelName | InputModel;

/** The input model for the moment passes, and what pass 2 needs to finish its diagnostics. */
export interface InputModelSetup {
  model: InputModel;
  /** The least-squares Gaussian estimate (null for a given model). */
  estimate: ReturnType<typeof estimateVAR1> | null;
  /** Residual moment sums for the Gaussianity diagnostics, to be filled in pass 2 (null when already done). */
  residual: ResidualMoments | null;
  iid: boolean;
  /** The diagnostics, when the input model's own pass already computed them (auto, mixture). */
  diagnostics?: InputModelDiagnostics;
}

export interface InputSetupContext {
  source: DataSource;
  stats: VAR1Stats;
  log: RunLog;
  seed: number;
  onProgress?: ProgressCallback;
  /** Degree of the polynomial Stein representers (the learner's activation degree; src/input/stein-poly.ts). */
  steinDegree?: number;
  /** 'varp': the VAR order (default: BIC). */
  inputOrder?: number;
}

type Setup = (ctx: InputSetupContext) => Promise<InputModelSetup>;

function gaussian(iid: boolean): Setup {
  return async ({ source, stats }) => {
    const estimate = inputModelStage(source, () => estimateVAR1(stats, { iid, columnNames: columnNames(source) }));
    return { model: estimate.model, estimate, residual: new ResidualMoments(source.dx), iid };
  };
}

/** At most this many residuals (evenly strided over all transitions) fit the mixture (ICA + EM). */
export const MIXTURE_MAX_RESIDUALS = 20_000;

function tested(mode: 'auto' | 'mixture'): Setup {
  return async ({ source, stats, log, seed, onProgress, steinDegree }) => {
    const names = columnNames(source);
    const estimate = inputModelStage(source, () => estimateVAR1(stats, { columnNames: names }));
    const residual = new ResidualMoments(source.dx);
    const stride = Math.max(1, Math.ceil(stats.m / MIXTURE_MAX_RESIDUALS));
    const sample: number[] = [], counter = { k: 0 };
    await forEachChunk(
      source,
      'input model test',
      (chunk) => {
        residual.add(estimate.model, chunk);
        collectResiduals(estimate.model, chunk, stride, counter, sample);
      },
      onProgress,
      stats.n,
    );
    const fin = finishFit(stats, estimate, residual, false);
    const test = gaussianityTest(fin, 0.01, names);
    const nonGaussian = test.coordinates.some((c) => c.pValue < test.threshold);
    if (mode === 'auto' && !nonGaussian) {
      for (const w of fin.warnings) log.warn(w);
      const selection: AutoDiagnostics = { ...test, choice: 'gaussian', requested: mode };
      return { model: estimate.model, estimate, residual: null, iid: false, diagnostics: { ...fin.diagnostics, selection } };
    }
    // The Gaussian fit's "residuals look non-Gaussian" warning is what this model answers: not repeated.
    for (const w of fin.warnings) if (!w.includes('look non-Gaussian')) log.warn(w);
    const mix = inputModelStage(source, () => fitMixtureVAR1(estimate.model, Float64Array.from(sample), { seed, steinDegree }));
    const selection: AutoDiagnostics = { ...test, choice: 'mixture', requested: mode, mixture: mix.diagnostics };
    return { model: mix.model, estimate, residual: null, iid: false, diagnostics: { ...fin.diagnostics, selection } };
  };
}

const varp: Setup = async ({ source, log, inputOrder: order }) => {
  if (order !== undefined && !(Number.isInteger(order) && order >= 0)) throw new OptionError('inputOrder', order, (n) => `${n('inputOrder')} must be a non-negative integer, got ${order}`);
  const maxOrder = order !== undefined ? Math.max(order, VARP_MAX_ORDER) : VARP_MAX_ORDER;
  // Pieces of one long sequence: each with the maxOrder rows before it, so that the windows (x_{t−P}, …, x_t) of its
  // first rows are complete (src/input/varp-fit.ts counts own rows only). Whole sequences pass unchanged.
  const pieces = haloSource(source, { left: maxOrder, right: 0 });
  const fit = await inputModelStageAsync(source, () => fitVARp(pieces, { columnNames: columnNames(source), maxOrder, ...(order !== undefined ? { order } : {}) }));
  for (const w of fit.warnings) log.warn(w);
  return { model: fit.model, estimate: null, residual: null, iid: false, diagnostics: fit.diagnostics };
};

/** Largest VAR order BIC compares for 'varp' (a given `inputOrder` above it raises it). */
const VARP_MAX_ORDER = 8;

export const INPUT_MODELS: Record<InputModelName, Setup> = {
  auto: tested('auto'),
  var1: gaussian(false),
  iid: gaussian(true),
  mixture: tested('mixture'),
  varp,
};

/** The input model for `spec` (default 'auto'), or the given model (checked against dx). */
export async function setupInputModel(spec: InputModelSpec | undefined, ctx: InputSetupContext): Promise<InputModelSetup> {
  const dx = ctx.source.dx;
  if (typeof spec === 'object' && spec !== null) {
    if (spec.dx !== dx) throw new OptionError('inputModel', spec, () => `input model has dx = ${spec.dx}, the data has dx = ${dx}`);
    return { model: spec, estimate: null, residual: null, iid: false };
  }
  const name = spec ?? 'auto';
  if (ctx.inputOrder !== undefined && name !== 'varp') throw new OptionError('inputOrder', ctx.inputOrder, (n) => `${n('inputOrder')} only applies to ${n('inputModel')} varp`);
  const setup = Object.hasOwn(INPUT_MODELS, name) ? INPUT_MODELS[name as InputModelName] : undefined;
  if (setup === undefined) throw new OptionError('inputModel', name, (n) => `${n('inputModel')} must be one of ${INPUT_MODEL_NAMES.join(', ')} or an input model, got "${String(name)}"`);
  return setup(ctx);
}

function columnNames(source: DataSource): readonly string[] | undefined {
  return (source as { columns?: { x?: readonly string[] } }).columns?.x;
}

/**
 * The input-model fit works on the user's data: what fails there (a non-finite or constant input, collinear
 * inputs, too few steps) is the data's problem, reported with the data source's name. Errors of our own making
 * (RangeError, TypeError) pass through as bugs.
 */
export function inputModelStage<R>(source: DataSource, f: () => R): R {
  try {
    return f();
  } catch (e) {
    throw asDataError(source, e);
  }
}

export async function inputModelStageAsync<R>(source: DataSource, f: () => Promise<R>): Promise<R> {
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

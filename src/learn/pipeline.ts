import { DataSource, SequenceChunk, wholeSequences } from '../io/dataset.js';
import { InputModel } from '../input/model.js';
import { RNNParams } from '../models/params.js';
import { RefineOptions, packParams, refine } from './refine.js';
import { TrainingData, forEachChunk } from './passes.js';
import { ChunkPool } from './chunk-pool.js';
import { LearnerOptions, REFINE_MAX_ROWS, RunLog, runLog, withSpill } from './options.js';
import { CommonDiagnostics, LearnerTag, RefineSampleDiagnostics, RefineSummary, controlVariateDiagnostics } from './diagnostics.js';
import { dataPasses } from './data-passes.js';
import { sampleStride } from './chunks.js';
import { planRefineWindows } from './refine-windows.js';
import { RefineSampleCollector, burnInForModel } from './refine-sample.js';
import { OutputLayer, outputLayerPass, solveOutputLayer } from './output-layer.js';
import { ensureStable } from './stability.js';
import { scaledSource, scalingOf, standardisationPass, unstandardise } from './standardise.js';
import { brnnPieces } from '../models/brnn-pieces.js';
import { FittedOutput, IdentifyContext, Identifier, streamsPieces } from './identify/types.js';
import { accumulateOnEngine, enginePassesFor } from './engine-passes.js';
import { momentPass } from '../moments/accumulator.js';
import { centredChunk } from './chunks.js';

/**
 * The learner pipeline: the stages every learner shares, written once (docs/architecture.md has the picture).
 *   passes 1–2 (input model, T2 halves, control variate)  →  identifier.identify (moments → decomposition →
 *   spectral weights)  →  output layer + U = 0 baseline  →  refinement  →  identifier.finish  →  stability  →
 *   diagnostics { learner, common block, module block }.
 */
export interface LearnerResult<P extends RNNParams, D> {
  params: P;
  inputModel: InputModel;
  diagnostics: D;
  /** Milliseconds per stage; not part of the model file (it differs run to run). */
  timingsMs: Record<string, number>;
  /** On an engine source: where each moment pass ran ('sql' or streamed rows, src/learn/engine-passes.ts); not in the model file. */
  passes?: Record<string, string>;
}

export async function fitWith<P extends RNNParams, B extends object, T extends LearnerTag>(
  identifier: Identifier<P, B, T>,
  data: TrainingData,
  opts: LearnerOptions,
): Promise<LearnerResult<P, { learner: T } & CommonDiagnostics & B>> {
  let pool: ChunkPool | null = null;
  return withSpill(data, opts, async (given) => {
    try {
      const log = runLog(opts.onWarning);
      // A module that cannot take pieces of a long sequence reads whole sequences from the start (as before).
      const pieces = streamsPieces(identifier, given.dx);
      const raw = pieces ? given : wholeSequences(given);
      // Standardisation (issue 17): fit on standardised columns, return the model in the data's units.
      const scaling = opts.standardise ? scalingOf(await standardisationPass(raw, opts.onProgress)) : null;
      const source = scaling ? scaledSource(raw, scaling) : raw;
      if (scaling) log.lap('standardise');
      const plan = identifier.plan(source, log);
      // Pieces of one long sequence are streamed when the module can take them (src/learn/pieces.ts);
      // `sources` says what the later passes read.
      // An engine source runs the moment passes as aggregate queries where they have a SQL form (not on scaled columns).
      const engine = scaling ? null : enginePassesFor(data, opts);
      const { p1, input, p2, sources } = await dataPasses(source, identifier.name, opts, log, plan, pieces, engine);
      const totalRows = p1.data.rows;
      // Threads for the task passes (src/learn/chunk-pool.ts; workers − 1 of them, this thread takes its share), started
      // now: their start-up overlaps pass 2 and the identification, and they are ready for the stability check. Small
      // data stay on this thread (start-up would cost more than the threads save).
      pool = (opts.workers ?? 1) >= 2 && totalRows >= POOL_MIN_ROWS ? new ChunkPool((opts.workers ?? 1) - 1) : null;
      const ctx: IdentifyContext = {
        source,
        options: opts,
        seed: opts.seed ?? 0,
        log,
        p1,
        input,
        p2,
        pass: async (stage, fn) => void (await forEachChunk(sources.moments, stage, fn, opts.onProgress, totalRows)),
        engine,
        accumulate: async (stage, accs, { centred }) => {
          const { model } = input, { cvFit } = p2;
          const rows = engine ? await accumulateOnEngine(engine, stage, accs, { model, yShift: centred ? p1.yMean : new Float64Array(source.dy), cvFit }) : accs;
          if (rows.length > 0) await ctx.pass(stage, (chunk) => momentPass(model, centred ? centredChunk(chunk, p1.yMean) : chunk, rows, cvFit));
        },
      };
      const found = await identifier.identify(ctx);
      // A BRNN's backward states start after a sequence's last row: the output-layer pass reads the pieces of a long
      // sequence with the spectral model's backward state after each (src/models/brnn-pieces.ts; the stability
      // check reads them again for the models it runs).
      const states = sources.states;
      const outSource = found.spectral.kind === 'brnn' ? brnnPieces(states, [found.spectral]) : states;
      const out = await fitOutputAndRefine(outSource, found.spectral, p1.yMean, p1.lengths, opts, log, found, pool);
      const block = identifier.finish(ctx, out);
      const stable = await ensureStable(states, out.params, out.spectralModel, {
        fittedLabel: out.refine ? 'refined' : 'spectral',
        pool,
        onProgress: opts.onProgress,
        totalRows,
        warn: log.warn,
      });
      log.lap('stability');
      const common: CommonDiagnostics = {
        data: p1.data,
        inputModel: p2.inputDiagnostics,
        controlVariate: controlVariateDiagnostics(p2.cvFit),
        feedforward: { A2: out.feedforward.A2.toArray(), b: Array.from(out.feedforward.b) },
        refine: out.refine,
        ...(stable.stabilised ? { stabilised: stable.stabilised } : {}),
        warnings: log.warnings,
      };
      const diagnostics = { learner: identifier.learner, ...common, ...block } as { learner: T } & CommonDiagnostics & B;
      const passes = engine ? { passes: engine.record } : {};
      if (scaling) return { ...unstandardise(stable.params, input.model, diagnostics, scaling), timingsMs: log.timings, ...passes };
      return { params: stable.params, inputModel: input.model, diagnostics, timingsMs: log.timings, ...passes };
    } finally {
      await pool?.close();
    }
  });
}

/** Data with fewer rows run the task passes on the calling thread, whatever `workers` says. */
export const POOL_MIN_ROWS = 100_000;

/**
 * The output-layer pass over the spectral model (with the refinement subsample when refining) and its solution
 * (see `outputLayerPass`, `solveOutputLayer`); then the refinement of §5 step 6 from the refitted model.
 */
async function fitOutputAndRefine<P extends RNNParams>(
  source: DataSource,
  model: P,
  yMean: Float64Array,
  lengths: Int32Array,
  opts: LearnerOptions,
  log: RunLog,
  labels: { tooLarge: string; shrunk: string; refineDefaults?: { maxIter?: number } },
  pool: ChunkPool | null,
): Promise<OutputLayer<P> & FittedOutput<P> & { spectralModel: P }> {
  const wantRefine = opts.refine ?? true;
  let totalRows = 0;
  for (let k = 0; k < lengths.length; k++) totalRows += lengths[k];
  const options: RefineOptions = { ...labels.refineDefaults, ...opts.refineOptions };
  // Which rows the refinement computes on (src/learn/refine-windows.ts): whole sequences as always, or windows of
  // one long recording with a held-out block at its end.
  const cap = opts.refineMaxRows ?? REFINE_MAX_ROWS;
  const bi = burnInForModel(model, cap);
  const plan = wantRefine ? planRefineWindows(lengths, cap, { burnIn: bi.burnIn, validationFraction: options.validationFraction, allowWindows: model.kind !== 'brnn' }) : null;
  const collector = plan?.mode === 'windows' ? new RefineSampleCollector(plan, source.dx, source.dy) : null;
  const pass = await outputLayerPass(source, model, {
    sampleStride: plan?.mode === 'sequences' ? sampleStride(totalRows, cap) : null,
    maxSequenceRows: cap,
    collect: collector ? (chunk) => collector.addChunk(chunk) : undefined,
    onProgress: opts.onProgress,
    totalRows,
  });
  const out = solveOutputLayer(model, pass, yMean, { refit: opts.refitOutput ?? true, refine: wantRefine, tooLarge: labels.tooLarge, shrunk: labels.shrunk }, log);
  log.lap('output_layer');
  let refined: { params: P; diagnostics?: RefineSummary };
  let sample = pass.sample;
  if (collector && plan) {
    const windows = collector.result();
    sample = [windows.train];
    const desc: RefineSampleDiagnostics = {
      mode: 'windows', sequences: lengths.length, windows: plan.train.length, validationWindows: plan.validation.length, windowRows: plan.windowRows,
      burnIn: plan.burnIn, spectralRadius: bi.rho, rows: plan.trainRows, validationRows: plan.validationRows,
    };
    // The validation block is one stretch of the recording, so its loss wanders more from one iteration to the next
    // than a mean over held-out sequences: with a raised iteration cap (the linear route's 300), wait a tenth of the
    // cap for a new best before stopping. The best-on-validation iterate is kept either way.
    const patience = options.patience ?? (options.maxIter !== undefined ? Math.max(5, Math.ceil(options.maxIter / 10)) : undefined);
    refined = runRefinement(out.params, sample, opts.seed ?? 0, { ...options, ...(patience !== undefined ? { patience } : {}), validation: windows.validation ? [windows.validation] : [], burnIn: plan.burnIn }, log, desc, pool);
  } else {
    const desc: RefineSampleDiagnostics = { mode: 'sequences', sequences: lengths.length, rows: plan?.trainRows ?? 0 };
    refined = runRefinement(out.params, pass.sample, opts.seed ?? 0, options, log, desc, pool);
  }
  return { ...out, spectralModel: out.params, params: refined.params, sample, refine: refined.diagnostics };
}

/** Refinement (§5 step 6) on the in-memory subsample; the model unchanged when the sample is empty. */
function runRefinement<P extends RNNParams>(
  params: P,
  sample: SequenceChunk[],
  seed: number,
  options: RefineOptions | undefined,
  log: RunLog,
  sampleDiagnostics: RefineSampleDiagnostics,
  pool: ChunkPool | null,
): { params: P; diagnostics?: RefineSummary } {
  if (sample.length === 0) return { params };
  // Least squares over P parameters needs clearly more residuals than P (else it fits the noise; the validation
  // split then has nothing to stop on): skip with a warning below 10 residuals per parameter.
  const P = packParams(params).length;
  const burnIn = options?.burnIn ?? 0;
  const residuals = sample.reduce((m, c) => m + (c.rows - burnIn * c.lengths.length) * c.dy, 0);
  if (residuals < 10 * P) {
    log.warn(`refinement skipped: its sample has ${residuals} output values for ${P} parameters (fewer than 10 per parameter); raise --refine-max-rows`);
    return { params };
  }
  const res = refine(params, sample, { seed, ...options }, pool);
  // The iteration history, the split and the refinement's own clock stay out of the model file.
  const { history, validationSequences, timeMs, ...rest } = res.diagnostics;
  void validationSequences;
  void timeMs;
  log.lap('refine');
  return { params: res.params, diagnostics: { ...rest, historyLength: history.length, sample: sampleDiagnostics } };
}

import { DataSource, SequenceChunk } from '../../io/dataset.js';
import { InputModel } from '../../input/model.js';
import { MomentAccumulator } from '../../moments/accumulator.js';
import { PinvResult } from '../../linalg/pinv.js';
import { RNNParams } from '../../models/params.js';
import { LearnerOptions, RunLog } from '../options.js';
import { LearnerTag, RefineSummary } from '../diagnostics.js';
import { InputModelSetup, InputPass, MomentsPass } from '../data-passes.js';
import type { EnginePasses } from '../engine-passes.js';

/**
 * The interface between the learner pipeline (src/learn/pipeline.ts: the shared stages) and one identification
 * module per model class (this folder: moments → decomposition → spectral weights). See docs/architecture.md.
 * A module is made per fit (`quadratic(opts)`, …) so it can keep state between its stages.
 */
export interface Identifier<P extends RNNParams, B extends object, T extends LearnerTag = LearnerTag> {
  readonly learner: T;
  /** Name in messages ('GLOREE', 'GLOREE-B'). */
  readonly name: string;
  /**
   * The module's passes take the pieces of one long sequence with halo rows (src/learn/pieces.ts): every
   * accumulator it feeds counts own rows only and sums terms linear in y, and its plan says how far they pair y
   * with scores (`MomentsPlan.pieceLags`). A function decides from the data's input dimension (a route of the
   * module may stream while another does not). Without it the pipeline joins the pieces (`wholeSequences`:
   * memory grows with the longest sequence).
   */
  readonly streamsPieces?: boolean | ((dx: number) => boolean);
  /** What pass 2 must accumulate for this module; checks the options against the data's dimensions first. */
  plan(source: DataSource, log: RunLog): MomentsPlan;
  /** From passes 1–2 to the spectral estimate (further passes through `ctx.pass`). */
  identify(ctx: IdentifyContext): Promise<Identified<P>>;
  /** The module's diagnostics block, once the output layer and the refinement ran. */
  finish(ctx: IdentifyContext, fit: FittedOutput<P>): B;
}

/** Pass 2's plan (src/learn/data-passes.ts `momentsPass`). */
export interface MomentsPlan {
  /** Accumulate T2 on the even / odd sequences (rank rule, and T2 itself). */
  t2: boolean;
  /**
   * With `streamsPieces`: the furthest score lags the module's accumulators pair with the target y_t (s_{t−back}
   * … s_{t+forward}); the moment passes then read the pieces with `haloFor(pieceLags, p)` halo rows.
   */
  pieceLags?: { back: number; forward: number };
  /** Fewer sequences are refused (default 1). */
  minSequences?: number;
  /** The module's own accumulators of centred y, made once the input model is known. */
  extra?: (model: InputModel) => MomentAccumulator[];
  /**
   * Called with every control-variate subchunk (the sequences ≡ 0 mod `stride` by global index), the chunk it came
   * from, the chunk's first sequence's global index and the stride.
   */
  onControlSample?: (sub: SequenceChunk, chunk: SequenceChunk, sequenceOffset: number, stride: number) => void;
  /**
   * Degree of the outputs in the current input innovation (the activation's degree): the degree of the polynomial
   * Stein representers a non-Gaussian input model uses for light-tailed inputs (src/input/stein-poly.ts; default 4).
   */
  steinDegree?: number;
}

/** What a module can use after passes 1–2. */
export interface IdentifyContext {
  source: DataSource;
  options: LearnerOptions;
  seed: number;
  log: RunLog;
  p1: InputPass;
  input: InputModelSetup;
  p2: MomentsPass;
  /** One streaming pass over all data with progress (`stage` names it); sequence offsets are global. */
  pass(stage: string, fn: (chunk: SequenceChunk, sequenceOffset: number) => void): Promise<void>;
  /**
   * One moment pass declared as its accumulators: in-process `momentPass(model, chunk, accs, cvFit)` over every
   * chunk (y − ȳ when `centred`, raw y otherwise; residual-target accumulators read `p2.cvFit`), on an engine source
   * one aggregate query per accumulator where it has a SQL form (src/learn/engine-passes.ts).
   */
  accumulate(stage: string, accs: MomentAccumulator[], opts: { centred: boolean }): Promise<void>;
  /** The engine when the moment passes run as SQL (src/learn/engine-passes.ts), for passes with their own query shape; null in-process. */
  engine: EnginePasses | null;
}

/** A module's spectral estimate and the wording of the shared stages' messages about it. */
export interface Identified<P extends RNNParams> {
  spectral: P;
  /** What is too large when the spectral estimate blows up ('U is', 'U or V is'), and the refinement's start ('a shrunk U'). */
  tooLarge: string;
  shrunk: string;
  /** Refinement defaults of this start (the user's refineOptions override them), e.g. more iterations for a start far from the data's regime. */
  refineDefaults?: { maxIter?: number };
}

/** The shared stages' results that a module's diagnostics block reports. */
export interface FittedOutput<P extends RNNParams> {
  /** The final model (after refinement). */
  params: P;
  /** Condition number of the output-layer least squares, when it was solved. */
  cond?: number;
  /** b of the spectral estimate: ȳ − Â2ᵀ E[h]. */
  spectralBias: Float64Array;
  /** The refinement subsample (empty without refinement). */
  sample: SequenceChunk[];
  refine?: RefineSummary;
}

/**
 * Warn when a pseudo-inverse the mixed-moment step relies on is rank deficient (fewer than `K` = `sizeLabel`
 * independent directions) or ill-conditioned; `consequence` says what becomes unreliable.
 */
export function checkPinv(name: string, p: PinvResult, K: number, sizeLabel: string, consequence: string, log: RunLog): void {
  if (p.rank < K) log.warn(`pseudo-inverse of ${name} is rank deficient (rank ${p.rank} < ${sizeLabel} = ${K}): two neurons are (nearly) indistinguishable; ${consequence}`);
  else if (p.cond > 1e6) log.warn(`pseudo-inverse of ${name} is ill-conditioned (condition number ${p.cond.toExponential(2)}); ${consequence}`);
}

/** { sMin, cond } of a pseudo-inverse, for the diagnostics. */
export function pinvSummary(p: PinvResult): { sMin: number; cond: number } {
  return { sMin: p.sMin, cond: p.cond };
}

/**
 * A module's block completed with what the shared stages measured: the output layer's condition number (in
 * `pinv.outputLayer`) and the spectral estimate's bias b = ȳ − Â2ᵀ E[h] (in `spectral.b`).
 */
export function withOutputLayer<B extends { pinv: object; spectral: object }>(block: B, fit: FittedOutput<RNNParams>): B {
  return {
    ...block,
    pinv: { ...block.pinv, ...(fit.cond !== undefined ? { outputLayer: { cond: fit.cond } } : {}) },
    spectral: { ...block.spectral, b: Array.from(fit.spectralBias) },
  };
}

/** Whether `identifier` streams the pieces of one long sequence for data with `dx` inputs (`streamsPieces`). */
export function streamsPieces(identifier: Pick<Identifier<RNNParams, object>, 'streamsPieces'>, dx: number): boolean {
  const s = identifier.streamsPieces;
  return typeof s === 'function' ? s(dx) : s === true;
}

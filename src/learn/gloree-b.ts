import { BRNNParams } from '../models/params.js';
import { TrainingData } from './passes.js';
import { LearnerOptions } from './options.js';
import { GloreeBDiagnostics } from './diagnostics.js';
import { LearnerResult, fitWith } from './pipeline.js';
import { BidirectionalOptions, bidirectional } from './identify/bidirectional.js';

export type { GloreeBDiagnostics } from './diagnostics.js';
export type { SplitComponent, SplitChoice } from './identify/split.js';
export { chooseSplit } from './identify/split.js';

/** GLOREE-B, the bidirectional learner (src/learn/identify/bidirectional.ts) through the shared stages. */
export interface GloreeBOptions extends LearnerOptions, BidirectionalOptions {}

/** The fitted model, its input model, the diagnostics stored in the model file, and per-stage timings. */
export type GloreeBResult = LearnerResult<BRNNParams, GloreeBDiagnostics>;

/**
 * Fit a BRNN by GLOREE-B. Give `forward` and `backward`, or `total` (optionally with one of them); with `total`
 * alone the split is inferred.
 */
export async function fitGloreeB(data: TrainingData, opts: GloreeBOptions): Promise<GloreeBResult> {
  return fitWith(bidirectional(opts), data, opts);
}

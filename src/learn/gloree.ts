import { IORNNParams } from '../models/params.js';
import { TrainingData } from './passes.js';
import { LearnerOptions } from './options.js';
import { GloreeDiagnostics } from './diagnostics.js';
import { LearnerResult, fitWith } from './pipeline.js';
import { QuadraticOptions, quadratic } from './identify/quadratic.js';

export type { GloreeDiagnostics } from './diagnostics.js';
export type { CPDiagnostics } from './identify/quadratic.js';
export { quadraticCoefficient } from './identify/quadratic.js';
export type { LearnerOptions } from './options.js';
// Part of the public API (src/index.ts re-exports this module).
export { accumulateOutputLS, splitOutput, varianceShare } from './output-layer.js';
export { concat, strideSubchunk } from './chunks.js';
export { relResidual } from '../decomposition/tied.js';

/**
 * GLOREE for IO-RNNs with σ(z) = c₂z² (docs/method.md §5): the spectral estimator (src/learn/identify/quadratic.ts)
 * through the shared stages of src/learn/pipeline.ts, then (by default) the second-order refinement.
 */
export interface GloreeOptions extends LearnerOptions, QuadraticOptions {}

/** The fitted model, its input model, the diagnostics stored in the model file, and per-stage timings. */
export type GloreeResult = LearnerResult<IORNNParams, GloreeDiagnostics>;

/** Fit an IO-RNN by GLOREE. `data`: a DataSource (e.g. a CSV file, streamed) or chunks in memory. */
export async function fitGloree(data: TrainingData, opts: GloreeOptions): Promise<GloreeResult> {
  return fitWith(quadratic(opts), data, opts);
}

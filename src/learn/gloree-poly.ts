import { IORNNParams } from '../models/params.js';
import { TrainingData } from './passes.js';
import { LearnerOptions } from './options.js';
import { GloreePolyDiagnostics } from './diagnostics.js';
import { LearnerResult, fitWith } from './pipeline.js';
import { PolynomialOptions, polynomial } from './identify/polynomial.js';

export type { GloreePolyDiagnostics } from './diagnostics.js';
export { stabilityCheck } from './identify/poly-scales.js';

/** GLOREE for a polynomial σ of degree l ≥ 2 (src/learn/identify/polynomial.ts) through the shared stages. */
export interface GloreePolyOptions extends LearnerOptions, PolynomialOptions {}

/** The fitted model, its input model, the diagnostics stored in the model file, and per-stage timings. */
export type GloreePolyResult = LearnerResult<IORNNParams, GloreePolyDiagnostics>;

export async function fitGloreePoly(data: TrainingData, opts: GloreePolyOptions): Promise<GloreePolyResult> {
  return fitWith(polynomial(opts), data, opts);
}

/** gloree/input — input models (Gaussian VAR(1), i.i.d.), their fit from data, and their score functions. */
export { inputModelFromJSON, registerInputModel } from '../input/model.js';
export type { InputModel, InputModelJSON } from '../input/model.js';
export { GaussianVAR1 } from '../input/gaussian.js';
export { fitVAR1, fitVAR1Sync } from '../input/fit.js';
export type { FitInputOptions, FitInputResult, InputDiagnostics } from '../input/fit.js';
export { firstOrderScores, hermite1, hermite2, hermite3, hermite4, mixedScore } from '../input/scores.js';

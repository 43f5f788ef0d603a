/**
 * gloree — learn recurrent neural networks by the method of moments. The package entry point (`gloree`): what a
 * user needs to fit, predict, score, save and load a model. The numerical core has its own entry points
 * (gloree/linalg, gloree/tensor, gloree/decomposition, gloree/input, gloree/moments, gloree/metrics), as do the
 * file formats (gloree/io) and the HTML report (gloree/report, which loads the plotting libraries).
 *
 * Every name is listed by hand: an internal helper becomes public only by being added here.
 */

// Estimators (options in the constructor; fit → a new fitted model; predict, score, save, static load).
export { GLOREE, RNNModel, fitRNN } from './api/rnn.js';
export type { GLOREEOptions } from './api/rnn.js';
export { CP, CPModel } from './api/cp.js';
export type { CPOptions, CPMethod } from './decomposition/cp.js';

// The same as functions, and the model file.
export type { FitOptions, FitResult } from './learn/fit.js';
export type {
  FitDiagnostics, LearnerTag, CommonDiagnostics, GloreeDiagnostics, GloreeBDiagnostics, GloreePolyDiagnostics,
} from './learn/diagnostics.js';
export type { PassProgress, ProgressCallback } from './learn/passes.js';
export { predict } from './models/brnn.js';
export type { PredictOptions } from './models/iornn.js';
export { loadModel, saveModel, modelToJSON, modelFromJSON } from './models/serialize.js';
export type { LoadedModel } from './models/serialize.js';

// Model types.
export { SQUARE } from './models/params.js';
export type { Activation, ActivationName, NamedActivation, PolynomialActivation, IORNNParams, BRNNParams, RNNParams } from './models/params.js';
export { activationFromSpec } from './models/activation.js';
export { Matrix } from './linalg/matrix.js';

// Data: nested arrays [sequence][time][feature] ⇄ flat chunks; in-memory sources; planted models to test on.
export { fromNested, toNested } from './api/sequences.js';
export type { Nested, NestedData, InMemoryData, FitData } from './api/sequences.js';
export { makeChunk, memorySource, splitChunk } from './io/dataset.js';
export type { SequenceChunk, DataSource } from './io/dataset.js';
export { SCENARIOS, simulateScenario, randomIORNN, randomBRNN, simulateIORNN, simulateBRNN, simulateInputs } from './models/simulate.js';
export type { Scenario, ScenarioName, ScenarioData, RandomIORNNOptions, RandomBRNNOptions, SimulateInputsOptions, SimulateOutputOptions } from './models/simulate.js';
export { Rng } from './random/rng.js';

// Errors as data: a UserError is a problem of the input (fields file, row, column, key); an OptionError a bad option
// (option, value); a BlowUpError a recursion that escaped (sequence, step).
export { UserError, OptionError, isUserError } from './io/errors.js';
export { BlowUpError } from './models/iornn.js';

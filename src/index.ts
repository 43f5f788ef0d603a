/**
 * gloree — guaranteed learning of recurrent neural networks by the method of moments.
 * Public API; see README.md for a tour and DESIGN.md for the formulas.
 */
export * from './linalg/index.js';
export * from './tensor/tensor.js';
export * from './decomposition/cp_tensor.js';
export * from './decomposition/jennrich.js';
export * from './decomposition/als.js';
export * from './decomposition/power.js';
export { Rng } from './random/rng.js';
export * from './io/dataset.js';
export * from './io/errors.js';
export { openCSVSource, readCSV, writeCSV, writePredictionsCSV, DataCSVWriter, PredictionCSVWriter } from './io/csv.js';
export type { CSVOptions, CSVSource, CSVChunk } from './io/csv.js';
export { writeFileAtomic, AtomicWriter } from './io/atomic.js';
export * from './input/model.js';
export * from './input/gaussian.js';
export * from './input/fit.js';
export * from './input/scores.js';
export * from './moments/accumulator.js';
export * from './moments/single.js';
export * from './moments/mixed.js';
export * from './moments/control.js';
export * from './models/params.js';
export * from './models/activation.js';
export * from './models/iornn.js';
export { predictBRNN, forwardBRNN, predict } from './models/brnn.js';
export * from './models/serialize.js';
export * from './models/simulate.js';
export * from './metrics/index.js';
export * from './learn/passes.js';
export * from './learn/gloree.js';
export * from './learn/estimator.js';
export * from './learn/fit.js';
export { fitGloreeB } from './learn/gloree-b.js';
export type { GloreeBOptions, GloreeBResult, GloreeBDiagnostics } from './learn/gloree-b.js';
export { fitGloreePoly } from './learn/gloree-poly.js';
export type { GloreePolyOptions, GloreePolyResult, GloreePolyDiagnostics } from './learn/gloree-poly.js';
export { selectRank } from './learn/rank.js';
export type { RankSelection } from './learn/rank.js';
export { renderReport } from './report/html.js';
export { openDataSource, writeDataFile } from './io/open.js';
export type { DataFileSource, DataFormat } from './io/open.js';
export { SpillSource } from './io/spill.js';
export { refine, fitOutputLayer, ioRNNJacobian, lossAndGradient, meanSquaredError } from './learn/refine.js';
export type { RefineOptions, RefineDiagnostics, RefineResult, RefineMethod } from './learn/refine.js';

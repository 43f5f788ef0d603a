/** gloree/moments — streaming, mergeable score cross-moment accumulators and the passes that fill them. */
export { MomentAccumulator, momentPass } from '../moments/accumulator.js';
export type { AccumulatorSpec, AccumulatorJSON, ResidualFunction, Target } from '../moments/accumulator.js';
export { T1Accumulator, T2Accumulator, FirstOrderAccumulator } from '../moments/single.js';
export type { SingleStepOptions } from '../moments/single.js';
export { ProjectedMixedAccumulator } from '../moments/mixed.js';
export { MixedMomentAccumulator } from '../moments/mixed-explicit.js';
export type { MixedOptions, ProjectedMixedOptions, Direction } from '../moments/mixed.js';
export { HermiteMomentAccumulator } from '../moments/higher.js';
export type { HigherOptions } from '../moments/higher.js';
export { ControlVariate, ControlVariateFit } from '../moments/control.js';
export type { ControlVariateOptions, QuadraticMode } from '../moments/control.js';
export { createAccumulator, accumulatorFromJSON } from '../moments/spec.js';
export { runSerialPass, runParallelPass, MomentWorkerPool } from '../moments/parallel.js';
export type { PassOptions, ParallelPassOptions, PoolOptions } from '../moments/parallel.js';

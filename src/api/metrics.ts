/** gloree/metrics — NMSE (batch and streaming) and parameter errors up to the model's symmetries. */
export { nmse, NMSEAccumulator } from '../metrics/nmse.js';
export { parameterErrors, permuteIORNN, scaleNeuronIORNN } from '../metrics/parameters.js';
export type { ParameterErrors } from '../metrics/parameters.js';
export { hungarian } from '../metrics/hungarian.js';
export type { AssignmentResult } from '../metrics/hungarian.js';

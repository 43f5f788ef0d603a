/** gloree/decomposition — CP decompositions: the `CP` estimator and the methods under it. */
export { CP, CPModel } from './cp.js';
export { decomposeCP } from '../decomposition/cp.js';
export type { CPOptions, CPMethod, CPFit } from '../decomposition/cp.js';
export { cpNormalize, cpResidual, cpCompare, cpToTensor } from '../decomposition/cp_tensor.js';
export type { CPTensor, CPComparison } from '../decomposition/cp_tensor.js';
export { tiedCP } from '../decomposition/tied.js';
export type { TiedCPResult } from '../decomposition/tied.js';
export { jennrich } from '../decomposition/jennrich.js';
export type { JennrichOptions, JennrichResult, JennrichDiagnostics } from '../decomposition/jennrich.js';
export { als } from '../decomposition/als.js';
export type { ALSOptions, ALSResult } from '../decomposition/als.js';
export { whiten, tensorPowerMethod, cpPower, cpTiedPower } from '../decomposition/power.js';
export type {
  WhitenResult, PowerMethodOptions, PowerMethodResult, PowerComponentDiagnostics, CPPowerOptions, CPPowerResult,
  CPTiedPowerOptions,
} from '../decomposition/power.js';

export { nmse, NMSEAccumulator } from './nmse.js';
export { hungarian, type AssignmentResult } from './hungarian.js';
export { parameterErrors, scaleNeuronIORNN, permuteIORNN, type ParameterErrors } from './parameters.js';
export { markovError, type MarkovError } from './markov.js';

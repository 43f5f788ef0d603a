/** Input models, their fitting and score functions (DESIGN.md §3). Importing this registers the built-in kinds. */
export * from './model.js';
export * from './gaussian.js';
export * from './fit.js';
export * from './scores.js';
export * from './var1-mixture.js';
export * from './mixture1d.js';
export * from './nongaussian-scores.js';
export * from './auto.js';
export { fastICA } from './ica.js';
export { spdInverse, spdCond } from './spd.js';

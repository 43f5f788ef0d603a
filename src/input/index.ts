/** Input models, their fitting and score functions (DESIGN.md §3). Importing this registers the built-in kinds. */
export * from './model.js';
export * from './gaussian.js';
export * from './fit.js';
export * from './scores.js';
export { spdInverse, spdCond } from './spd.js';
export * from './varp.js';
export * from './varp-fit.js';

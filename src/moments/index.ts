/** Streaming, mergeable moment estimators and the control variate (DESIGN.md §5 steps 2, 4, 5). */
export * from './accumulator.js';
export * from './single.js';
export * from './mixed.js';
export * from './control.js';
export * from './spec.js';
export * from './parallel.js';
export * from './nongaussian.js';

/** Dense linear algebra on row-major Float64Array matrices (see docs/decisions.md "Linear algebra"). */
export * from './matrix.js';
export * from './qr.js';
export * from './cholesky.js';
export * from './eigsym.js';
export * from './svd.js';
export * from './solve.js';
export * from './pinv.js';
export * from './lyapunov.js';
export * from './eiggeneral.js';
export * from './norms.js';
export * from './lstsq.js';

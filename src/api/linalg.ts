/** gloree/linalg — dense float64 linear algebra on row-major `Matrix` values, with conditioning reported. */
export {
  Matrix, transpose, matmul, matmulTN, matmulNT, matvec, matTvec, add, sub, scale, dot, norm2,
  frobeniusNorm, maxAbsDiff, isFiniteMatrix, symmetrize,
} from '../linalg/matrix.js';
export { qr } from '../linalg/qr.js';
export type { QRResult } from '../linalg/qr.js';
export { cholesky, choleskySolve, solveLowerTriangular, solveUpperTriangular } from '../linalg/cholesky.js';
export { lu, det, solve, solveVec, inv, lstsq } from '../linalg/solve.js';
export type { LUResult, LstsqResult } from '../linalg/solve.js';
export { svd, singularValues, conditionNumber } from '../linalg/svd.js';
export type { SVDResult } from '../linalg/svd.js';
export { pinv } from '../linalg/pinv.js';
export type { PinvResult } from '../linalg/pinv.js';
export { eigSym, eigvalsSym } from '../linalg/eigsym.js';
export type { EigSymResult } from '../linalg/eigsym.js';
export { eigGeneral } from '../linalg/eiggeneral.js';
export type { EigGeneralResult } from '../linalg/eiggeneral.js';
export { spectralRadius, solveDiscreteLyapunov } from '../linalg/lyapunov.js';
export { spectralNorm } from '../linalg/norms.js';
// The moment kernels' backend switch (WebAssembly SIMD or plain JavaScript; bit-identical results).
export { setKernelBackend, wasmKernelsAvailable } from '../linalg/kernels/arena.js';
export type { KernelBackend } from '../linalg/kernels/arena.js';

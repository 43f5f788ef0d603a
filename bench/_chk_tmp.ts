import { Matrix, matmulNT, maxAbsDiff, scale, add, transpose, matmul, frobeniusNorm, sub } from '../src/linalg/matrix.js';
import { svd } from '../src/linalg/svd.js';
import { eigSym } from '../src/linalg/eigsym.js';
import { solveDiscreteLyapunov, spectralRadius } from '../src/linalg/lyapunov.js';
import { Rng } from '../src/random/rng.js';
const rng = new Rng(3);
const A = new Matrix(8, 5, rng.normalArray(40));
const s0 = svd(A).S;
for (const f of [1e200, 1e-200, 1e-310]) {
  const r = svd(scale(A, f));
  console.log('scale', f, Array.from(r.S).map((x, i) => Math.abs(x / f / s0[i] - 1)).reduce((a, b) => Math.max(a, b)));
}
const B = new Matrix(6, 6, rng.normalArray(36)); const Sy = add(B, transpose(B));
const e0 = eigSym(Sy).values;
for (const f of [1e200, 1e-200]) { const e = eigSym(scale(Sy, f)).values; console.log('eig scale', f, Array.from(e).map((x, i) => Math.abs(x / f - e0[i])).reduce((a, b) => Math.max(a, b))); }
console.log('identity', Array.from(svd(Matrix.identity(5)).S), Array.from(eigSym(Matrix.identity(3)).values));
const Z = new Matrix(5, 4, rng.normalArray(20)); for (let i = 0; i < 5; i++) Z.data[i * 4 + 2] = 0;
const rz = svd(Z); console.log('zero col', Array.from(rz.S), maxAbsDiff(matmulNT(rz.U.clone(), rz.V), Z) > 0);
for (const rho of [0.999, 0.99999]) {
  const n = 5; const F0 = new Matrix(n, n, rng.normalArray(n * n)); const F = scale(F0, rho / spectralRadius(F0));
  const Q = Matrix.identity(n);
  const t0 = performance.now(); const S = solveDiscreteLyapunov(F, Q); const t1 = performance.now();
  console.log('lyap rho', rho, (t1 - t0).toFixed(2), 'ms rel residual', frobeniusNorm(sub(S, add(matmulNT(matmul(F, S), F), Q))) / frobeniusNorm(S));
}

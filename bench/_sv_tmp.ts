import { Matrix, add, transpose } from '../src/linalg/matrix.js';
import { svd } from '../src/linalg/svd.js';
import { eigSym } from '../src/linalg/eigsym.js';
import { Rng } from '../src/random/rng.js';
const rng = new Rng(1);
function med(f: () => unknown, runs = 9) { for (let i = 0; i < 3; i++) f(); const ts: number[] = []; for (let r = 0; r < runs; r++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); } ts.sort((a, b) => a - b); return ts[runs >> 1].toFixed(2); }
for (const n of [50, 100, 200]) {
  const A = new Matrix(n, n, rng.normalArray(n * n));
  const S = add(A, transpose(A));
  console.log(n, 'svd', med(() => svd(A)), 'eig', med(() => eigSym(S)));
}

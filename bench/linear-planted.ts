/** Planted linear IO-RNN of the linear bench and tests' acceptance scenario (issue: dh = 4 > dx = dy = 2). */
import { Matrix, matmul } from '../src/linalg/matrix.js';
import { qr } from '../src/linalg/qr.js';
import { Rng } from '../src/random/rng.js';
import type { IORNNParams } from '../src/models/params.js';

/**
 * U = Q·blockdiag(R(0.85, 0.6), 0.7, −0.5)·Qᵀ with Q a random orthogonal matrix (R(r, θ) the 2×2 rotation-scaling
 * with eigenvalues r·e^{±iθ}): poles of modulus 0.85, 0.85, 0.7, 0.5. A1, A2 Gaussian with entries N(0, 1/dx).
 */
export function plantedLinear(seed: number, dx = 2, dy = 2): IORNNParams {
  const rng = new Rng(seed);
  const n = 4;
  const r = 0.85, th = 0.6;
  const Bk = Matrix.from([
    [r * Math.cos(th), -r * Math.sin(th), 0, 0],
    [r * Math.sin(th), r * Math.cos(th), 0, 0],
    [0, 0, 0.7, 0],
    [0, 0, 0, -0.5],
  ]);
  const Q = qr(new Matrix(n, n, rng.normalArray(n * n))).Q;
  const QT = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) QT.data[j * n + i] = Q.data[i * n + j];
  const U = matmul(Q, matmul(Bk, QT));
  const A1 = new Matrix(n, dx, rng.normalArray(n * dx).map((v) => v / Math.sqrt(dx)));
  const A2 = new Matrix(n, dy, rng.normalArray(n * dy).map((v) => v / Math.sqrt(n)));
  return { kind: 'iornn', A1, U, A2, b: Float64Array.from({ length: dy }, (_, i) => 0.3 * (i + 1)), activation: { name: 'linear' } };
}

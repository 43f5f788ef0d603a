import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, matmul, matmulNT, transpose } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import {
  Tensor,
  contract,
  contractToMatrix,
  contractToVector,
  fold,
  modeProduct,
  multilinear,
  permuteModes,
  reshapeModes,
  symmetrizeTensor,
  unfold,
} from '../src/tensor/tensor.js';
import { cpToTensor, khatriRao, khatriRaoList, outer, rowwiseKron } from '../src/tensor/products.js';

// All references below are brute-force index loops written independently of the implementation.
// Tolerance 1e-12 (absolute, entries O(1), sums of ≤ 100 products): pure summation-order rounding.
const TOL = 1e-12;

function randTensor(shape: number[], rng: Rng): Tensor {
  return new Tensor(shape, rng.normalArray(shape.reduce((a, b) => a * b, 1)));
}
function randMatrix(r: number, c: number, rng: Rng): Matrix {
  return new Matrix(r, c, rng.normalArray(r * c));
}
/** All multi-indices of a shape, row-major order. */
function* indices(shape: number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  for (let o = 0; o < n; o++) {
    const idx: number[] = [];
    let rem = o;
    for (let k = shape.length - 1; k >= 0; k--) {
      idx.unshift(rem % shape[k]);
      rem = Math.floor(rem / shape[k]);
    }
    yield idx;
  }
}
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = TOL, msg = ''): void {
  assert.equal(a.length, b.length, `length ${msg}`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${msg} entry ${i}: ${a[i]} vs ${b[i]}`);
}

test('Tensor: row-major layout, get/set, fromFunction', () => {
  const T = Tensor.fromFunction([2, 3, 4], ([i, j, k]) => 100 * i + 10 * j + k);
  assert.deepEqual(T.strides, [12, 4, 1]);
  assert.equal(T.data[1 * 12 + 2 * 4 + 3], 123);
  assert.equal(T.get([1, 2, 3]), 123);
  T.set([0, 1, 2], -5);
  assert.equal(T.data[0 * 12 + 1 * 4 + 2], -5);
  assert.throws(() => T.get([2, 0, 0]), /out of range/);
  assert.throws(() => T.get([0, 0]), /order 3/);
  assert.throws(() => new Tensor([2, 2], new Float64Array(3)), /does not match/);
  assert.equal(new Tensor([3, 4], Float64Array.from({ length: 12 }, (_, i) => i)).toMatrix().get(2, 1), 9);
});

test('permuteModes matches brute force', () => {
  const rng = new Rng(1);
  const T = randTensor([2, 3, 4, 5], rng);
  const perm = [2, 0, 3, 1];
  const P = permuteModes(T, perm);
  assert.deepEqual(P.shape, [4, 2, 5, 3]);
  for (const idx of indices(P.shape)) {
    const src = new Array<number>(4);
    perm.forEach((p, k) => (src[p] = idx[k]));
    assert.equal(P.get(idx), T.get(src));
  }
  assert.throws(() => permuteModes(T, [0, 0, 1, 2]), /permutation/);
});

test('unfold / fold: TensorLy convention and inverse', () => {
  const rng = new Rng(2);
  const shape = [3, 4, 5];
  const T = randTensor(shape, rng);
  for (let n = 0; n < 3; n++) {
    const U = unfold(T, n);
    const rest = [0, 1, 2].filter((k) => k !== n);
    assert.equal(U.rows, shape[n]);
    assert.equal(U.cols, shape[rest[0]] * shape[rest[1]]);
    for (const idx of indices(shape)) {
      const col = idx[rest[0]] * shape[rest[1]] + idx[rest[1]];
      assert.equal(U.get(idx[n], col), T.get(idx));
    }
    assertClose(fold(U, n, shape).data, T.data, 0, `fold mode ${n}`);
  }
  assert.throws(() => unfold(T, 3), /out of range/);
});

test('reshapeModes: paper Reshape, grouped modes concatenated (first listed slowest)', () => {
  const rng = new Rng(3);
  const shape = [2, 3, 2, 3, 2];
  const T = randTensor(shape, rng);
  // Paper example Reshape(T1, [1 2], 3, [4 5]) (1-based) = [[0,1],[2],[3,4]] here.
  const R = reshapeModes(T, [[0, 1], [2], [3, 4]]);
  assert.deepEqual(R.shape, [6, 2, 6]);
  for (const [a, b, c, d, e] of indices(shape)) {
    assert.equal(R.get([a * 3 + b, c, d * 2 + e]), T.get([a, b, c, d, e]));
  }
  // Out-of-order groups: [[2, 0], [4, 1, 3]].
  const R2 = reshapeModes(T, [[2, 0], [4, 1, 3]]);
  for (const [a, b, c, d, e] of indices(shape)) {
    assert.equal(R2.get([c * 2 + a, (e * 3 + b) * 3 + d]), T.get([a, b, c, d, e]));
  }
  const T3 = randTensor([3, 4, 5], rng);
  assertClose(reshapeModes(T3, [[0], [1, 2]]).data, unfold(T3, 0).data, 0);
  assert.throws(() => reshapeModes(T3, [[0], [1]]), /exactly once/);
});

test('modeProduct matches brute force', () => {
  const rng = new Rng(4);
  const T = randTensor([3, 4, 5], rng);
  for (let n = 0; n < 3; n++) {
    const M = randMatrix(2, T.shape[n], rng);
    const P = modeProduct(T, M, n);
    const shape = T.shape.slice();
    shape[n] = 2;
    assert.deepEqual(P.shape, shape);
    for (const idx of indices(shape)) {
      let s = 0;
      for (let j = 0; j < T.shape[n]; j++) {
        const src = idx.slice();
        src[n] = j;
        s += M.get(idx[n], j) * T.get(src);
      }
      assert.ok(Math.abs(P.get(idx) - s) < TOL);
    }
  }
  assert.throws(() => modeProduct(T, randMatrix(2, 3, rng), 1), /cannot multiply/);
});

test('multilinear T(M1, M2, M3) uses the paper convention Σ T_j M1[j1,i1] M2[j2,i2] M3[j3,i3]', () => {
  const rng = new Rng(5);
  const T = randTensor([3, 4, 5], rng);
  const M1 = randMatrix(3, 2, rng), M2 = randMatrix(4, 3, rng), M3 = randMatrix(5, 2, rng);
  const P = multilinear(T, [M1, M2, M3]);
  assert.deepEqual(P.shape, [2, 3, 2]);
  for (const [i1, i2, i3] of indices([2, 3, 2])) {
    let s = 0;
    for (const [j1, j2, j3] of indices([3, 4, 5])) s += T.get([j1, j2, j3]) * M1.get(j1, i1) * M2.get(j2, i2) * M3.get(j3, i3);
    assert.ok(Math.abs(P.get([i1, i2, i3]) - s) < TOL);
  }
  // null = identity
  const Q = multilinear(T, [null, M2, null]);
  assert.deepEqual(Q.shape, [3, 3, 5]);
  for (const [a, i2, c] of indices([3, 3, 5])) {
    let s = 0;
    for (let j = 0; j < 4; j++) s += T.get([a, j, c]) * M2.get(j, i2);
    assert.ok(Math.abs(Q.get([a, i2, c]) - s) < TOL);
  }
  assert.throws(() => multilinear(T, [M2, null, null]), /expected 3 rows/);
});

test('contract: T(I, u, v), T(I, I, w), T(u, v, w)', () => {
  const rng = new Rng(6);
  const T = randTensor([3, 4, 5], rng);
  const u = rng.normalArray(3), v = rng.normalArray(4), w = rng.normalArray(5);
  const x = contractToVector(T, [null, v, w]);
  for (let a = 0; a < 3; a++) {
    let s = 0;
    for (let j = 0; j < 4; j++) for (let l = 0; l < 5; l++) s += v[j] * w[l] * T.get([a, j, l]);
    assert.ok(Math.abs(x[a] - s) < TOL);
  }
  const M = contractToMatrix(T, [null, null, w]);
  for (let a = 0; a < 3; a++) for (let b = 0; b < 4; b++) {
    let s = 0;
    for (let l = 0; l < 5; l++) s += w[l] * T.get([a, b, l]);
    assert.ok(Math.abs(M.get(a, b) - s) < TOL);
  }
  const y = contractToVector(T, [u, null, w]);
  for (let b = 0; b < 4; b++) {
    let s = 0;
    for (let a = 0; a < 3; a++) for (let l = 0; l < 5; l++) s += u[a] * w[l] * T.get([a, b, l]);
    assert.ok(Math.abs(y[b] - s) < TOL);
  }
  const sc = contract(T, [u, v, w]);
  assert.equal(sc.order, 0);
  let s = 0;
  for (const [a, b, c] of indices([3, 4, 5])) s += u[a] * v[b] * w[c] * T.get([a, b, c]);
  assert.ok(Math.abs(sc.data[0] - s) < TOL);
  assert.throws(() => contract(T, [null, w, v]), /length/);
  assert.throws(() => contractToVector(T, [null, null, w]), /order 2/);
});

test('rowwiseKron (paper Def. 1) and khatriRao (column-wise) match brute force', () => {
  const rng = new Rng(7);
  const A = randMatrix(4, 3, rng), B = randMatrix(4, 2, rng);
  const K = rowwiseKron(A, B);
  assert.deepEqual(K.shape, [4, 6]);
  for (let i = 0; i < 4; i++) for (let a = 0; a < 3; a++) for (let b = 0; b < 2; b++) assert.equal(K.get(i, a * 2 + b), A.get(i, a) * B.get(i, b));
  const C = randMatrix(5, 3, rng);
  const KR = khatriRao(A, C);
  assert.deepEqual(KR.shape, [20, 3]);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) for (let r = 0; r < 3; r++) assert.equal(KR.get(i * 5 + j, r), A.get(i, r) * C.get(j, r));
  assert.throws(() => rowwiseKron(A, randMatrix(3, 2, rng)), /row counts/);
  assert.throws(() => khatriRao(A, B), /column counts/);
});

test('outer and cpToTensor match brute force; unfold(cp) = A_n diag(w) KR(others)ᵀ', () => {
  const rng = new Rng(8);
  const a = rng.normalArray(3), b = rng.normalArray(4), c = rng.normalArray(2);
  const O = outer([a, b, c]);
  for (const [i, j, k] of indices([3, 4, 2])) assert.ok(Math.abs(O.get([i, j, k]) - a[i] * b[j] * c[k]) < TOL);
  const w = rng.normalArray(3);
  const F = [randMatrix(3, 3, rng), randMatrix(4, 3, rng), randMatrix(5, 3, rng)];
  const T = cpToTensor(w, F);
  for (const [i, j, k] of indices([3, 4, 5])) {
    let s = 0;
    for (let r = 0; r < 3; r++) s += w[r] * F[0].get(i, r) * F[1].get(j, r) * F[2].get(k, r);
    assert.ok(Math.abs(T.get([i, j, k]) - s) < TOL);
  }
  assertClose(cpToTensor({ weights: w, factors: F }).data, T.data, 0, 'object form');
  for (let n = 0; n < 3; n++) {
    const others = F.filter((_, k) => k !== n);
    const AW = F[n].clone();
    for (let i = 0; i < AW.rows; i++) for (let r = 0; r < 3; r++) AW.data[i * 3 + r] *= w[r];
    assertClose(unfold(T, n).data, matmulNT(AW, khatriRaoList(others)).data, TOL, `mode ${n}`);
  }
  // order 2 CP = A diag(w) Bᵀ
  const M = cpToTensor(w, [F[0], F[1]]);
  const AW = F[0].clone();
  for (let i = 0; i < 3; i++) for (let r = 0; r < 3; r++) AW.data[i * 3 + r] *= w[r];
  assertClose(M.data, matmul(AW, transpose(F[1])).data);
  assert.throws(() => cpToTensor(w, [F[0], randMatrix(4, 2, rng)]), /columns/);
});

test('symmetrizeTensor: average over all mode permutations, or over a subset', () => {
  const rng = new Rng(9);
  const T = randTensor([3, 3, 3], rng);
  const S = symmetrizeTensor(T);
  const perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  for (const idx of indices([3, 3, 3])) {
    let s = 0;
    for (const p of perms) s += T.get([idx[p[0]], idx[p[1]], idx[p[2]]]);
    assert.ok(Math.abs(S.get(idx) - s / 6) < TOL);
  }
  // Subset: modes 1, 2 of a 2×3×3 tensor.
  const U = randTensor([2, 3, 3], rng);
  const Su = symmetrizeTensor(U, [1, 2]);
  for (const [a, b, c] of indices([2, 3, 3])) assert.ok(Math.abs(Su.get([a, b, c]) - 0.5 * (U.get([a, b, c]) + U.get([a, c, b]))) < TOL);
  // Idempotent on symmetric input.
  assertClose(symmetrizeTensor(S).data, S.data, TOL);
  assert.throws(() => symmetrizeTensor(U), /unequal sizes/);
});

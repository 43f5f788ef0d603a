import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { KernelArena, createArena, kernels, pad4, setKernelBackend, wasmKernelsAvailable } from '../src/linalg/kernels/arena.js';
import { KERNELS_WASM_BASE64 } from '../src/linalg/kernels/wasm-bytes.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { InputModel } from '../src/input/model.js';
import { makeChunk, SequenceChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { chunkScores, momentPass, MomentAccumulator } from '../src/moments/accumulator.js';
import { T2Accumulator } from '../src/moments/single.js';
import { ProjectedMixedAccumulator, projectMixedTensor } from '../src/moments/mixed.js';
import { MixedMomentAccumulator } from '../src/moments/mixed-explicit.js';
import { assembleKernels } from '../scripts/wasm-assemble.js';
import { runParallelPass } from '../src/moments/parallel.js';

// The kernels are checked against straightforward loops written here (same summation order, so the
// comparison is exact), the two backends against each other (bit for bit), and the moment passes built on
// them against the per-sequence reference scores and the explicit tensors.

test('the committed WebAssembly bytes are kernels.wat assembled (npm run build:wasm)', async () => {
  const bytes = await assembleKernels();
  assert.equal(Buffer.from(bytes).toString('base64'), KERNELS_WASM_BASE64, 'src/linalg/kernels/wasm-bytes.ts is stale: run npm run build:wasm');
});

test('WebAssembly SIMD kernels are available on this engine (Node ≥ 20)', () => {
  assert.ok(wasmKernelsAvailable());
  assert.equal(kernels().backend, process.env.GLOREE_KERNELS === 'js' ? 'js' : 'wasm');
});

const backends = (): KernelArena[] => [createArena('wasm'), createArena('js')];

function fillRandom(H: Float64Array, off: number, n: number, rng: Rng): Float64Array {
  for (let i = 0; i < n; i++) H[off + i] = rng.normal();
  return H.slice(off, off + n);
}

test('gemm: C += A·B for every stride pattern and ragged size equals the plain triple loop exactly', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [4, 4, 1], [5, 3, 7], [7, 9, 2], [8, 8, 33], [13, 6, 5], [3, 17, 4], [12, 56, 40], [33, 20, 3]];
  for (const [m, n, K] of shapes) {
    for (const layout of ['tn', 'nn', 'window'] as const) {
      // A(i,k) at a + i·si + k·sk: 'tn' rows are samples (K × m), 'nn' row-major m × K, 'window' overlapping rows.
      const [si, sk, aLen] = layout === 'tn' ? [1, m, K * m] : layout === 'nn' ? [K, 1, m * K] : [2, 1, 2 * (m - 1) + K];
      const ldb = n + 3, ldc = n + 1;
      const results: Float64Array[] = [];
      let expected: Float64Array | null = null;
      for (const A of backends()) {
        const r2 = new Rng(m * 1000 + n * 10 + K);
        const a = A.alloc(aLen), b = A.alloc(K * ldb), c = A.alloc(m * ldc);
        const H = A.heap;
        const av = fillRandom(H, a, aLen, r2), bv = fillRandom(H, b, K * ldb, r2), c0 = fillRandom(H, c, m * ldc, r2);
        A.gemm(m, n, K, a, si, sk, b, ldb, c, ldc);
        const out = A.heap.slice(c, c + m * ldc);
        if (expected === null) {
          expected = c0.slice();
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let k = 0; k < K; k++) s += av[i * si + k * sk] * bv[k * ldb + j];
              expected[i * ldc + j] += s;
            }
        }
        assert.deepEqual(out, expected, `${A.backend} gemm ${m}x${n}x${K} ${layout}`);
        results.push(out);
      }
      assert.deepEqual(results[0], results[1]);
    }
  }
});

test('symKron, kronRows, hadamard, colSums, subRows and zero equal plain loops exactly on both backends', () => {
  for (const A of backends()) {
    const rng = new Rng(5);
    for (const dx of [1, 2, 3, 4, 7, 10]) {
      const K = 6, lds = dx + 2, np = (dx * (dx + 1)) / 2, ldo = np + 3;
      const s = A.alloc(K * lds), o = A.alloc(K * ldo);
      const sv = fillRandom(A.heap, s, K * lds, rng);
      A.heap.fill(7, o, o + K * ldo);
      A.symKron(K, s, lds, dx, o, ldo);
      const H = A.heap;
      for (let k = 0; k < K; k++) {
        let m = 0;
        for (let p = 0; p < dx; p++) for (let q = p; q < dx; q++) assert.equal(H[o + k * ldo + m++], sv[k * lds + p] * sv[k * lds + q]);
        for (let r = np; r < ldo; r++) assert.equal(H[o + k * ldo + r], 7, 'symKron must not write past the packed entries');
      }
      const dy = 3, y = A.alloc(K * dy), w = A.alloc(K * dy * dx);
      const yv = fillRandom(A.heap, y, K * dy, rng);
      A.kronRows(K, y, dy, dy, s, lds, dx, w, dy * dx);
      for (let k = 0; k < K; k++)
        for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) assert.equal(A.heap[w + k * dy * dx + i * dx + a], yv[k * dy + i] * sv[k * lds + a]);
    }
    const K = 9, n = 5, lda = 7;
    const a = A.alloc(K * lda), b = A.alloc(K * lda), o = A.alloc(K * n), cs = A.alloc(n), v = A.alloc(n);
    const av = fillRandom(A.heap, a, K * lda, rng), bv = fillRandom(A.heap, b, K * lda, rng), c0 = fillRandom(A.heap, cs, n, rng), vv = fillRandom(A.heap, v, n, rng);
    const z = A.alloc(11);
    A.heap.fill(3, z, z + 11);
    A.zero(z + 1, 9);
    assert.deepEqual(Array.from(A.heap.subarray(z, z + 11)), [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    A.hadamard(K, n, a, lda, b, lda, o, n);
    A.colSums(K, n, a, lda, cs);
    A.subRows(K, n, a, lda, v);
    const H = A.heap;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        assert.equal(H[o + k * n + j], av[k * lda + j] * bv[k * lda + j]);
        s += av[k * lda + j];
        assert.equal(H[a + k * lda + j], av[k * lda + j] - vv[j]);
      }
      assert.equal(H[cs + j], c0[j] + s);
    }
  }
});

test('arena: growth keeps data, release frees in stack order, out-of-range operands are refused', () => {
  for (const A of backends()) {
    const a = A.alloc(10);
    A.heap[a + 9] = 42;
    const mark = A.mark();
    const before = A.heap;
    const big = A.alloc(3_000_000); // grows the heap (24 MB)
    assert.equal(A.heap[a + 9], 42);
    // Growing must not detach the old buffer (a detach slows every later typed-array access of the process).
    assert.ok(before.length > 0 && before[a + 9] === 42, `${A.backend}: the pre-growth view was detached`);
    assert.equal(A.heap[big + 2_999_999], 0);
    A.release(mark);
    assert.equal(A.mark(), mark);
    assert.throws(() => A.gemm(4, 4, 4, a, 1, 4, a, 4, a, 4), /gemm A reaches element/);
    assert.throws(() => A.alloc(2 ** 30), /4 GiB/);
    assert.throws(() => A.release(mark + 100), /outside/);
  }
  assert.throws(() => createArena('gpu' as never), /unknown backend/);
  assert.equal(pad4(1), 4);
  assert.equal(pad4(8), 8);
});

// ---------------------------------------------------------------------------------------------
// Moment passes on the kernels.

const DX = 4, DY = 3;
const rngM = new Rng(2);
const F = new Matrix(DX, DX, rngM.normalArray(DX * DX).map((v, i) => (i % (DX + 1) === 0 ? 0.5 : 0.1 * v)));
const Q = new Matrix(DX, DX);
for (let i = 0; i < DX; i++) for (let j = 0; j < DX; j++) Q.data[i * DX + j] = (i === j ? 1 : 0.2) * 0.5;
const VAR = new GaussianVAR1([0.2, -0.1, 0.3, 0], F, Q);
const IID = GaussianVAR1.iid([0.2, -0.1, 0.3, 0], Q);

/** The same model, but every precisionBlock call returns a fresh copy (no identity sharing). */
function freshBlocks(m: InputModel): InputModel {
  return {
    kind: m.kind,
    dx: m.dx,
    mean: m.mean,
    order: m.order,
    scoreSequence: (x, L, out, xo, oo) => m.scoreSequence(x, L, out, xo, oo),
    precisionBlock: (t, u, L) => m.precisionBlock(t, u, L)?.clone() ?? null,
    toJSON: () => m.toJSON(),
  };
}

function chunkFor(model: GaussianVAR1, seed: number, lengths: number[]): SequenceChunk {
  const rng = new Rng(seed);
  const x = model.simulate(rng, lengths);
  const rows = lengths.reduce((a, b) => a + b, 0);
  const y = new Float64Array(rows * DY);
  // y: a polynomial of the current and previous inputs (any function works for these identities).
  let r = 0;
  for (const L of lengths)
    for (let t = 0; t < L; t++, r++)
      for (let i = 0; i < DY; i++) {
        const xt = x[r * DX + i], xp = t > 0 ? x[(r - 1) * DX + i + 1] : 0;
        y[r * DY + i] = xt * xt - 0.5 * xt * xp + 0.3 * rng.normal();
      }
  return makeChunk(DX, DY, x, y, lengths);
}

const LENGTHS = [1, 2, 3, 5, 1, 8, 2, 40, 3, 13];

test('chunk scores through precision-block GEMMs equal the per-sequence reference scores (VAR(1), i.i.d., fresh block objects)', () => {
  for (const model of [VAR, IID]) {
    const c = chunkFor(model, 3, LENGTHS);
    const ref = new Float64Array(c.rows * DX);
    let row = 0;
    for (const L of c.lengths) {
      model.scoreSequence(c.x, L, ref, row * DX, row * DX);
      row += L;
    }
    for (const m of [model, freshBlocks(model)]) {
      const s = chunkScores(m, c);
      let err = 0, norm = 0;
      for (let i = 0; i < s.length; i++) {
        err = Math.max(err, Math.abs(s[i] - ref[i]));
        norm = Math.max(norm, Math.abs(ref[i]));
      }
      assert.ok(err <= 1e-13 * norm, `max error ${err} (scale ${norm}) for ${m === model ? 'shared' : 'fresh'} blocks, order ${model.order}`);
    }
  }
  // Many sequences with fresh blocks: the block cache is dropped and rebuilt between sequences.
  const long = chunkFor(VAR, 4, Array.from({ length: 60 }, (_, i) => 1 + (i % 9)));
  const a = chunkScores(VAR, long), b = chunkScores(freshBlocks(VAR), long);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-12 * (1 + Math.abs(a[i])));
});

function accumulators(model: InputModel): MomentAccumulator[] {
  const rng = new Rng(8);
  const dh = 3;
  const W = new Matrix(dh, DY, rng.normalArray(dh * DY)), Fm = new Matrix(DX, dh, rng.normalArray(DX * dh)), G = new Matrix(DX, dh, rng.normalArray(DX * dh));
  return [
    new T2Accumulator(model, DY),
    new MixedMomentAccumulator(model, DY, 'prev'),
    new MixedMomentAccumulator(model, DY, 'next'),
    new ProjectedMixedAccumulator(model, DY, 'prev', W, Fm, G),
    new ProjectedMixedAccumulator(model, DY, 'next', W, Fm, G, { full: true }),
  ];
}

test('moment passes give bit-identical sums on the WebAssembly and JavaScript kernels', () => {
  const c = chunkFor(VAR, 6, LENGTHS.concat(LENGTHS));
  const sums: Float64Array[][] = [];
  const before = kernels().backend;
  try {
    for (const backend of ['wasm', 'js'] as const) {
      setKernelBackend(backend);
      const accs = accumulators(VAR);
      momentPass(VAR, c, accs);
      // and the projected ones alone (scores projected straight from x)
      const alone = accumulators(VAR).slice(3);
      momentPass(VAR, c, alone);
      sums.push([...accs, ...alone].map((a) => a.sum.slice()));
    }
  } finally {
    setKernelBackend(before);
  }
  assert.deepEqual(sums[0], sums[1]);
});

test('projected mixed moments equal the contracted explicit tensor for an i.i.d. model and for fresh block objects', () => {
  const rng = new Rng(9);
  const dh = 2;
  const W = new Matrix(dh, DY, rng.normalArray(dh * DY)), Fm = new Matrix(DX, dh, rng.normalArray(DX * dh)), G = new Matrix(DX, dh, rng.normalArray(DX * dh));
  for (const base of [IID, VAR]) {
    const c = chunkFor(base, 10, LENGTHS);
    for (const model of [base, freshBlocks(base)]) {
      for (const direction of ['prev', 'next'] as const) {
        const ex = new MixedMomentAccumulator(model, DY, direction);
        const pd = new ProjectedMixedAccumulator(model, DY, direction, W, Fm, G);
        const pf = new ProjectedMixedAccumulator(model, DY, direction, W, Fm, G, { full: true });
        momentPass(model, c, [ex]);
        momentPass(model, c, [pd, pf]);
        const want = projectMixedTensor(ex.result(), DY, DX, W, Fm, G), wantFull = projectMixedTensor(ex.result(), DY, DX, W, Fm, G, true);
        const got = pd.result(), gotFull = pf.result();
        const scale = Math.max(...Array.from(wantFull, Math.abs));
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-11 * scale, `${direction} diag ${i}: ${got[i]} vs ${want[i]}`);
        for (let i = 0; i < wantFull.length; i++) assert.ok(Math.abs(gotFull[i] - wantFull[i]) <= 1e-11 * scale, `${direction} full ${i}`);
      }
    }
  }
});

test('a worker pass leaves the caller\'s chunk arrays attached (copied to the workers, not transferred)', async () => {
  const c = chunkFor(VAR, 12, LENGTHS);
  const n = c.x.length;
  const [acc] = await runParallelPass(VAR, [{ type: 'T2', dy: DY }], c, { workers: 2 });
  assert.ok(acc.count > 0);
  assert.equal(c.x.length, n, 'chunk.x was detached');
  assert.equal(c.y.length, c.rows * DY, 'chunk.y was detached');
});

test('fresh block objects: mixed moments equal the shared-block ones at any number of boundary exceptions (Wick flushes)', () => {
  // Found in review: a Wick flush between taking two weight arrays orphaned the first (errors ≈ 1e-2 at 62+ steps).
  const rng = new Rng(21);
  const dh = 2;
  const W = new Matrix(dh, DY, rng.normalArray(dh * DY)), Fm = new Matrix(DX, dh, rng.normalArray(DX * dh)), G = new Matrix(DX, dh, rng.normalArray(DX * dh));
  const fresh = freshBlocks(VAR);
  for (const L of [40, 62, 63, 64, 82]) {
    const c = chunkFor(VAR, L, [L, L]);
    for (const direction of ['prev', 'next'] as const) {
      const pairs: [MomentAccumulator, MomentAccumulator][] = [
        [new MixedMomentAccumulator(VAR, DY, direction), new MixedMomentAccumulator(fresh, DY, direction)],
        [new ProjectedMixedAccumulator(VAR, DY, direction, W, Fm, G), new ProjectedMixedAccumulator(fresh, DY, direction, W, Fm, G)],
      ];
      for (const [ref, got] of pairs) {
        momentPass(VAR, c, [ref]);
        momentPass(fresh, c, [got]);
        const a = got.result(), b = ref.result();
        const scale = Math.max(...Array.from(b, Math.abs));
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-12 * scale, `${ref.type} ${direction} L=${L} entry ${i}: ${a[i]} vs ${b[i]}`);
      }
    }
  }
});

test('fresh block objects on one long sequence: scores stay right and the kernel workspace stays small', () => {
  const before = kernels().backend;
  try {
    setKernelBackend(before === 'wasm' ? 'js' : 'wasm');
    setKernelBackend(before); // a new, small arena
    const L = 20000;
    const c = chunkFor(VAR, 5, [L]);
    const want = chunkScores(VAR, c);
    setKernelBackend(before === 'wasm' ? 'js' : 'wasm');
    setKernelBackend(before);
    const got = chunkScores(freshBlocks(VAR), c);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-12 * (1 + Math.abs(want[i])));
    // Caching a block per step would need 3·L·dx·pad4(dx) = 960 000 f64 on top of the rows themselves.
    assert.ok(kernels().heap.length < 600_000, `workspace grew to ${kernels().heap.length} f64`);
  } finally {
    setKernelBackend(before);
  }
});

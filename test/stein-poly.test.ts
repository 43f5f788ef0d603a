import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk } from '../src/io/dataset.js';
import { fitSteinPoly, steinPolyNegLogDerivatives } from '../src/input/stein-poly.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { NGT2Accumulator } from '../src/moments/nongaussian.js';
import { T2Accumulator } from '../src/moments/single.js';
import { momentPass } from '../src/moments/accumulator.js';

/** T_1..T_4 at z from the φ⁽ⁿ⁾ the model stores (the inverse of the cumulant map of src/input/stein-poly.ts). */
function representers(p: ReturnType<typeof fitSteinPoly>, z: number): number[] {
  const d = new Float64Array(4);
  steinPolyNegLogDerivatives(p, z, 4, d);
  const k1 = d[0], k2 = -d[1], k3 = d[2], k4 = -d[3];
  return [k1, k2 + k1 ** 2, k3 + 3 * k1 * k2 + k1 ** 3, k4 + 4 * k1 * k3 + 3 * k2 ** 2 + 6 * k1 ** 2 * k2 + k1 ** 4];
}

test('Stein representers: E[q T_n] = E[q⁽ⁿ⁾] on the fitting sample for every monomial q of degree ≤ K (direct sums)', () => {
  const rng = new Rng(2);
  const z = new Float64Array(5000).map(() => 0.7 + 1.3 * (2 * rng.uniform() - 1));
  for (const K of [2, 3, 4]) {
    const p = fitSteinPoly(z, K);
    for (let n = 1; n <= 4; n++)
      for (let k = 0; k <= K; k++) {
        let lhs = 0, rhs = 0;
        for (const v of z) {
          lhs += v ** k * representers(p, v)[n - 1];
          let f = 1;
          for (let r = 0; r < n; r++) f *= k - r;
          rhs += k >= n ? f * v ** (k - n) : 0;
        }
        // Exact identities up to rounding of sums of 5000 terms of size ≲ 10³.
        assert.ok(Math.abs(lhs - rhs) / z.length < 1e-7 * (1 + Math.abs(rhs / z.length)), `K=${K} n=${n} k=${k}: ${lhs / z.length} vs ${rhs / z.length}`);
      }
  }
});

test('Stein representers of a standard Gaussian sample are the Hermite polynomials (sampling tolerance)', () => {
  const rng = new Rng(4);
  const z = rng.normalArray(2_000_000);
  const p = fitSteinPoly(z, 4);
  const he = [(x: number) => x, (x: number) => x * x - 1, (x: number) => x ** 3 - 3 * x, (x: number) => x ** 4 - 6 * x * x + 3];
  // The coefficients come from sample moments up to order 8 (relative SE ≈ √(E z¹⁶)/(E z⁸ √n) ≈ 0.014 at n = 2e6):
  // values on [−2, 2] agree to 0.15 absolute, while T_n of a non-Gaussian (uniform) sample differ by more than 1.
  for (const x of [-2, -1, -0.3, 0, 0.5, 1.5, 2]) {
    const T = representers(p, x);
    for (let n = 0; n < 4; n++) assert.ok(Math.abs(T[n] - he[n](x)) < 0.15, `T${n + 1}(${x}) = ${T[n]} vs He = ${he[n](x)}`);
  }
});

test('uniform VAR(1) innovations: T2 with degree-2 representers is unbiased (within 4.5 SE of the closed form), Gaussian scores are not', () => {
  // dx = 1, x_t = 0.6 x_{t−1} + ε_t, ε uniform; y_t = x_t² + x_{t−1} x_t, so E[∂²y_t/∂x_t²] = 2 exactly, and y_t has
  // degree 2 in the innovation ε_t: degree-2 representers make T2 exact given ε's moments.
  const rng = new Rng(7), L = 20, nSeq = 4000, x = new Float64Array(nSeq * L);
  let r = 0;
  for (let s = 0; s < nSeq; s++) {
    let c = 0;
    for (let t = -50; t < L; t++) {
      c = 0.6 * c + (2 * rng.uniform() - 1) * Math.sqrt(3);
      if (t >= 0) x[r++] = c;
    }
  }
  const y = x.map((v, i) => v * v + (i % L > 0 ? x[i - 1] * v : 0));
  const eps: number[] = [];
  for (let i = 0; i < x.length; i++) if (i % L > 0) eps.push(x[i] - 0.6 * x[i - 1]);
  const sp = fitSteinPoly(Float64Array.from(eps), 2);
  const m = new MixtureVAR1([0], Matrix.from([[0.6]]), Matrix.from([[1]]), [{ weights: [1], means: [sp.mean], variances: [sp.sd ** 2], stein: sp }]);
  const g = new GaussianVAR1([0], Matrix.from([[0.6]]), Matrix.from([[1]]));
  const blocks = 20, per = nSeq / blocks;
  const est = (make: () => NGT2Accumulator | T2Accumulator, model: MixtureVAR1 | GaussianVAR1) => {
    const vals: number[] = [];
    for (let b = 0; b < blocks; b++) {
      const lo = b * per * L, hi = (b + 1) * per * L;
      const acc = make();
      momentPass(model, makeChunk(1, 1, x.slice(lo, hi), y.slice(lo, hi), new Int32Array(per).fill(L)), [acc]);
      vals.push(acc.result()[0]);
    }
    const mean = vals.reduce((a, b) => a + b, 0) / blocks;
    const se = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / (blocks - 1) / blocks);
    return { mean, se };
  };
  const s = est(() => new NGT2Accumulator(m, 1), m);
  assert.ok(Math.abs(s.mean - 2) < 4.5 * s.se, `Stein T2 ${s.mean} ± ${s.se}`);
  const gs = est(() => new T2Accumulator(g, 1), g);
  assert.ok(Math.abs(gs.mean - 2) > 8 * gs.se, `Gaussian T2 ${gs.mean} ± ${gs.se} should be biased`);
});

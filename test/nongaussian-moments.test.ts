import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';
import { makeChunk, SequenceChunk } from '../src/io/dataset.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { Mixture1D } from '../src/input/mixture1d.js';
import { scoreContract, sequenceDerivatives } from '../src/input/nongaussian-scores.js';
import { T2Accumulator } from '../src/moments/single.js';
import { ProjectedMixedAccumulator } from '../src/moments/mixed.js';
import { momentPass } from '../src/moments/accumulator.js';
import { accumulatorFromJSON } from '../src/moments/spec.js';
import { NGProjectedMixedAccumulator, NGT1Accumulator, NGT2Accumulator } from '../src/moments/nongaussian.js';

const dx = 2;
const F = Matrix.from([[0.5, 0.2], [-0.1, 0.3]]);
const W = Matrix.from([[1.3, 0.4], [-0.2, 0.9]]);
// Laplace-like (scale mixture) and skewed components: clearly non-Gaussian.
const comps: Mixture1D[] = [
  { weights: [0.3, 0.7], means: [-0.8, 0.35], variances: [0.5, 0.3] },
  { weights: [0.2, 0.5, 0.3], means: [0.1, 0, -0.2], variances: [3, 0.4, 0.9] },
];
const model = new MixtureVAR1([0.2, -0.1], F, W, comps);

function inputs(m: MixtureVAR1, nSeq: number, L: number, seed: number): SequenceChunk {
  const lengths = new Int32Array(nSeq).fill(L);
  return makeChunk(dx, 0, m.simulate(new Rng(seed), lengths), new Float64Array(0), lengths);
}

/** Planted outputs from a function of (x_{t−1}, x_t, x_{t+1}) (centred, zero-filled at the boundaries). */
function withOutputs(c: SequenceChunk, dy: number, fn: (p: Float64Array | null, x: Float64Array, n: Float64Array | null, out: Float64Array) => void): SequenceChunk {
  const y = new Float64Array(c.rows * dy), out = new Float64Array(dy);
  let row = 0;
  for (const L of c.lengths) {
    for (let t = 0; t < L; t++) {
      const at = (r: number) => c.x.subarray(r * dx, (r + 1) * dx);
      fn(t > 0 ? at(row + t - 1) : null, at(row + t), t + 1 < L ? at(row + t + 1) : null, out);
      y.set(out, (row + t) * dy);
    }
    row += L;
  }
  return makeChunk(dx, dy, c.x, y, c.lengths);
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => a[0] * b[0] + a[1] * b[1];

test('one zero-mean component per coordinate: non-Gaussian accumulators equal the Gaussian ones (T2, projected mixed prev/next)', () => {
  const g = new GaussianVAR1([0.2, -0.1], F, Matrix.from([[0.6, 0.1], [0.1, 0.8]]));
  const m = MixtureVAR1.fromGaussian(g);
  assert.equal(m.firstExactStep, 0);
  const rng = new Rng(3);
  const c0 = makeChunk(dx, 0, g.simulate(rng, [5, 7, 3]), new Float64Array(0), Int32Array.from([5, 7, 3]));
  const c = withOutputs(c0, 2, (p, x, n, o) => {
    o[0] = x[0] * x[1] + (p ? p[0] * x[1] : 0) + 0.3 * x[0];
    o[1] = x[1] ** 2 + (n ? n[0] * x[1] ** 2 : 0);
  });
  const demix = Matrix.from([[1, 0.2], [-0.4, 1]]), Fm = Matrix.from([[0.9, 0.1], [0.3, -1.1]]), Gm = Matrix.from([[1.2, 0.5], [-0.2, 0.7]]);
  const pairs: [number[], number[]][] = [];
  const ga = new T2Accumulator(g, 2), na = new NGT2Accumulator(m, 2);
  momentPass(g, c, [ga]);
  momentPass(m, c, [na]);
  pairs.push([Array.from(ga.result()), Array.from(na.result())]);
  for (const dir of ['prev', 'next'] as const) {
    const gm = new ProjectedMixedAccumulator(g, 2, dir, demix, Fm, Gm), nm = new NGProjectedMixedAccumulator(m, 2, dir, demix, Fm, Gm);
    momentPass(g, c, [gm]);
    momentPass(m, c, [nm]);
    assert.equal(gm.count, nm.count);
    pairs.push([Array.from(gm.result()), Array.from(nm.result())]);
  }
  for (const [a, b] of pairs) for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-11 * (1 + Math.abs(a[i])), `${a[i]} vs ${b[i]}`);
});

test('non-Gaussian accumulators equal the partition-sum scores summed by brute force; merge and JSON round trip', () => {
  const c = withOutputs(inputs(model, 7, 5, 11), 2, (p, x, n, o) => {
    o[0] = Math.sin(x[0]) + (p ? p[1] : 0);
    o[1] = x[0] * x[1] - (n ? n[1] : 0);
  });
  const demix = Matrix.from([[1, 0.2], [-0.4, 1]]), Fm = Matrix.from([[0.9, 0.1], [0.3, -1.1]]), Gm = Matrix.from([[1.2, 0.5], [-0.2, 0.7]]);
  const t2 = new NGT2Accumulator(model, 2), prev = new NGProjectedMixedAccumulator(model, 2, 'prev', demix, Fm, Gm), next = new NGProjectedMixedAccumulator(model, 2, 'next', demix, Fm, Gm);
  momentPass(model, c, [t2, prev, next]);
  const e = [Float64Array.from([1, 0]), Float64Array.from([0, 1])];
  const col = (M: Matrix, j: number) => Float64Array.from([M.get(0, j), M.get(1, j)]);
  const refT2 = new Float64Array(8), refP = new Float64Array(4), refN = new Float64Array(4);
  let nT2 = 0, nP = 0, nN = 0, row = 0;
  for (const L of c.lengths) {
    const sd = sequenceDerivatives(model, c.x, L, 3, row * dx);
    for (let t = 1; t < L; t++) {
      const y = c.y.subarray((row + t) * 2, (row + t + 1) * 2);
      for (let i = 0; i < 2; i++) for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) refT2[(i * 2 + a) * 2 + b] += y[i] * scoreContract(model, sd, [{ step: t, u: e[a] }, { step: t, u: e[b] }]);
      nT2++;
      const yt = [dot(demix.row(0), y), dot(demix.row(1), y)];
      for (const [u, ref, ok] of [[t - 1, refP, t >= 2], [t + 1, refN, t + 1 < L]] as const) {
        if (!ok) continue;
        for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) ref[j * 2 + k] += yt[j] * scoreContract(model, sd, [{ step: t, u: col(Fm, j) }, { step: u, u: col(Gm, k) }, { step: u, u: col(Gm, k) }]);
        if (u < t) nP++;
        else nN++;
      }
    }
    row += L;
  }
  assert.equal(t2.count, nT2);
  assert.equal(prev.count, nP / 1);
  assert.equal(next.count, nN);
  const check = (got: Float64Array, ref: Float64Array, n: number, what: string) => {
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i] - ref[i] / n) < 1e-11 * (1 + Math.abs(ref[i] / n)), `${what}[${i}]: ${got[i]} vs ${ref[i] / n}`);
  };
  check(t2.result(), refT2, nT2, 'T2');
  check(prev.result(), refP, nP, 'prev');
  check(next.result(), refN, nN, 'next');
  // Chunks split in two and merged (also through JSON, as from a worker) give the same sums.
  const half = (k0: number, k1: number): SequenceChunk => makeChunk(dx, 2, c.x.slice(k0 * 5 * dx, k1 * 5 * dx), c.y.slice(k0 * 10, k1 * 10), c.lengths.slice(k0, k1));
  const a = new NGT2Accumulator(model, 2), b = new NGT2Accumulator(model, 2);
  momentPass(model, half(0, 3), [a]);
  momentPass(model, half(3, 7), [b]);
  const merged = accumulatorFromJSON(JSON.parse(JSON.stringify(a.toJSON())), model).merge(accumulatorFromJSON(JSON.parse(JSON.stringify(b.toJSON())), model));
  check(merged.result(), refT2, nT2, 'merged T2');
  // A sequence mask (the rank rule's halves) gives the same sums as the subchunk of those sequences.
  const masked = new NGT2Accumulator(model, 2);
  masked.sequenceMask = Uint8Array.from([0, 0, 0, 1, 1, 1, 1]);
  momentPass(model, c, [masked]);
  masked.sequenceMask = null;
  assert.equal(masked.count, b.count);
  assert.deepEqual(Array.from(masked.sum), Array.from(b.sum));
});

/**
 * Stein identities by Monte Carlo on planted polynomials whose derivatives are CONSTANT, so E[∇G] is known exactly:
 *   y_t = ½ x_tᵀ B x_t + (c·x_{t−1})(d·x_t)   →  E[y ⊗ S2(t)] = B;
 *   y_t = (a·x_t)(b·x_{t−1})²                  →  E[y H(t; t−1, t−1)[f, g, g]] = 2 (a·f)(b·g)²;
 *   y_t = (a·x_t)(b·x_{t+1})²                  →  the same for H(t; t+1, t+1);
 *   y_t = (a·x_t) + (c·x_{t−1})(d·x_{t+1})     →  E[y ⊗ g_t] = a.
 * The error is compared with its standard error (from per-sequence sums: sequences are independent), at two
 * sample sizes 16× apart: |error| ≤ 4.5 SE at each, and SE itself falls like n^−½. The Gaussian scores of the
 * Gaussian VAR(1) with the true F and innovation covariance miss B by many standard errors (the bias this model removes).
 */
test('Stein identities hold by Monte Carlo with error ~ n^−½; Gaussian scores are biased on the same data', () => {
  const B = [[1.2, -0.4], [-0.4, 0.7]], cv = [0.5, -0.3], dv = [0.2, 0.9], av = [0.8, -0.6], bv = [0.4, 1.1];
  const f = Matrix.from([[0.7], [0.2]]), gdir = Matrix.from([[0.3], [-0.9]]);
  const exactMixed = 2 * dot(av, [0.7, 0.2]) * dot(bv, [0.3, -0.9]) ** 2;
  const ses: number[] = [];
  for (const nSeq of [500, 8000]) {
    const base = inputs(model, nSeq, 6, 100 + nSeq);
    const quad = withOutputs(base, 1, (p, x, _n, o) => {
      o[0] = 0.5 * (B[0][0] * x[0] * x[0] + 2 * B[0][1] * x[0] * x[1] + B[1][1] * x[1] * x[1]) + (p ? dot(cv, p) * dot(dv, x) : 0) + dot(av, x);
    });
    const lin = withOutputs(base, 1, (p, x, n, o) => (o[0] = dot(av, x) + (p && n ? dot(cv, p) * dot(dv, n) : 0)));
    const mixP = withOutputs(base, 1, (p, x, _n, o) => (o[0] = p ? dot(av, x) * dot(bv, p) ** 2 : 0));
    const mixN = withOutputs(base, 1, (_p, x, n, o) => (o[0] = n ? dot(av, x) * dot(bv, n) ** 2 : 0));
    // Per-sequence accumulators → mean and standard error of the per-step average.
    const perSeq = (c: SequenceChunk, make: () => { acc: NGT2Accumulator | NGT1Accumulator | NGProjectedMixedAccumulator; pick: (r: Float64Array) => number[] }, exact: number[]) => {
      const vals: number[][] = [], counts: number[] = [];
      let row = 0;
      for (let k = 0; k < c.lengths.length; k++) {
        const L = c.lengths[k];
        const sub = makeChunk(dx, 1, c.x.subarray(row * dx, (row + L) * dx), c.y.subarray(row, row + L), c.lengths.subarray(k, k + 1));
        const { acc, pick } = make();
        momentPass(model, sub, [acc]);
        vals.push(pick(acc.result()).map((v) => v * acc.count));
        counts.push(acc.count);
        row += L;
      }
      const N = counts.reduce((s, v) => s + v, 0), n = vals.length;
      return exact.map((ex, e) => {
        const m = vals.reduce((s, v) => s + v[e], 0) / N;
        // ratio estimator: var of Σ(v − m·count) over sequences
        let s2 = 0;
        for (let k = 0; k < n; k++) s2 += (vals[k][e] - m * counts[k]) ** 2;
        const se = Math.sqrt(s2 * n / (n - 1)) / N;
        return { err: m - ex, se };
      });
    };
    const r2 = perSeq(quad, () => ({ acc: new NGT2Accumulator(model, 1), pick: (r) => [r[0], r[1], r[3]] }), [B[0][0], B[0][1], B[1][1]]);
    const r1 = perSeq(lin, () => ({ acc: new NGT1Accumulator(model, 1), pick: (r) => [r[0], r[1]] }), av);
    const rp = perSeq(mixP, () => ({ acc: new NGProjectedMixedAccumulator(model, 1, 'prev', Matrix.from([[1]]), f, gdir), pick: (r) => [r[0]] }), [exactMixed]);
    const rn = perSeq(mixN, () => ({ acc: new NGProjectedMixedAccumulator(model, 1, 'next', Matrix.from([[1]]), f, gdir), pick: (r) => [r[0]] }), [exactMixed]);
    for (const { err, se } of [...r2, ...r1, ...rp, ...rn]) assert.ok(Math.abs(err) <= 4.5 * se, `n=${nSeq}: error ${err} vs SE ${se}`);
    ses.push(r2[0].se);
    if (nSeq === 8000) {
      // The Gaussian model on the same data (scores from the least-squares fit): T2 is biased by many SEs.
      const Qhat = model.Q;
      const gm = new GaussianVAR1(model.mean, F, Qhat);
      const ga = new T2Accumulator(gm, 1);
      momentPass(gm, quad, [ga]);
      const bias = Math.max(...[0, 1, 3].map((i, e) => Math.abs(ga.result()[i] - [B[0][0], B[0][1], B[1][1]][e]) / r2[e].se));
      assert.ok(bias > 8, `Gaussian scores should be visibly biased here, got ${bias.toFixed(1)} SE`);
    }
  }
  // 16× the sequences: SE falls by √16 = 4 (within sampling variation of the SE estimate itself, ±25%).
  const ratio = ses[0] / ses[1];
  assert.ok(ratio > 3 && ratio < 5.3, `SE ratio ${ratio}`);
});

test('polynomial-learner diagonal moments (P1, P2′, degrees 2–4) equal brute-force partition sums, and the Gaussian ones for one component', async () => {
  const { NGDiagonalAccumulator } = await import('../src/moments/nongaussian.js');
  const { DiagonalHermiteAccumulator } = await import('../src/moments/higher.js');
  const { chunkScores } = await import('../src/moments/accumulator.js');
  const c = withOutputs(inputs(model, 5, 5, 21), 2, (p, x, n, o) => {
    o[0] = x[0] ** 3 + (p ? p[1] * x[0] : 0);
    o[1] = Math.cos(x[1]) + (n ? n[0] : 0);
  });
  const G = Matrix.from([[0.9, -0.2], [0.4, 1.1]]);
  const col = (j: number) => Float64Array.from([G.get(0, j), G.get(1, j)]);
  for (const l of [2, 3, 4]) {
    for (const kind of ['P1', 'P2prime'] as const) {
      const acc = new NGDiagonalAccumulator(model, 2, G, kind, l).add(c, c.y);
      const dh = 2, F = kind === 'P1' ? dh : dh * dh, ref = new Float64Array(2 * F);
      let cnt = 0, row = 0;
      for (const L of c.lengths) {
        const sd = sequenceDerivatives(model, c.x, L, 4, row * dx);
        for (let t = kind === 'P1' ? 1 : 2; t < L; t++, cnt++) {
          const y = c.y.subarray((row + t) * 2, (row + t + 1) * 2);
          for (let j = 0; j < dh; j++) {
            const modesA = Array.from({ length: kind === 'P1' ? l : l - 1 }, () => ({ step: t, u: col(j) }));
            for (let k = 0; k < (kind === 'P1' ? 1 : dh); k++) {
              const modes = kind === 'P1' ? modesA : [...modesA, { step: t - 1, u: col(k) }];
              const v = scoreContract(model, sd, modes);
              for (let i = 0; i < 2; i++) ref[i * F + (kind === 'P1' ? j : j * dh + k)] += y[i] * v;
            }
          }
        }
        row += L;
      }
      assert.equal(acc.count, cnt);
      const got = acc.result();
      for (let e = 0; e < ref.length; e++) assert.ok(Math.abs(got[e] - ref[e] / cnt) < 1e-10 * (1 + Math.abs(ref[e] / cnt)), `${kind} l=${l} [${e}]: ${got[e]} vs ${ref[e] / cnt}`);
    }
  }
  // Gaussian model written as a mixture: same numbers as DiagonalHermiteAccumulator.
  const gm = new GaussianVAR1([0.2, -0.1], F, Matrix.from([[0.6, 0.1], [0.1, 0.8]]));
  const mm = MixtureVAR1.fromGaussian(gm);
  const cg = withOutputs(makeChunk(dx, 0, gm.simulate(new Rng(4), [6, 4]), new Float64Array(0), Int32Array.from([6, 4])), 2, (p, x, _n, o) => {
    o[0] = x[0] ** 3 + (p ? p[1] * x[0] ** 2 : 0);
    o[1] = x[1] ** 2;
  });
  for (const kind of ['P1', 'P2prime'] as const) {
    const a = new NGDiagonalAccumulator(mm, 2, G, kind, 3).add(cg, cg.y).result();
    const b = new DiagonalHermiteAccumulator(gm, 2, G, kind, 3).add(cg, chunkScores(gm, cg), cg.y).result();
    for (let e = 0; e < a.length; e++) assert.ok(Math.abs(a[e] - b[e]) < 1e-11 * (1 + Math.abs(b[e])), `${kind}[${e}] ${a[e]} vs ${b[e]}`);
  }
});

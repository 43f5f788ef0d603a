import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { SequenceChunk } from '../io/dataset.js';

/**
 * Fitting the Gaussian VAR(1) / i.i.d. input model (docs/method.md §3, §5 step 1) by least squares, streaming
 * over chunks with mergeable sufficient statistics.
 *
 * Statistics kept (all numerically stable, merged with Chan et al.'s pairwise update, so adding chunks
 * in any grouping gives the same result up to rounding):
 *   n steps, their mean x̄ and centred comoment Σ_t (x_t − x̄)(x_t − x̄)ᵀ;
 *   m transitions (pairs of consecutive steps z_t = [x_{t−1}; x_t] within a sequence), their mean and
 *   centred comoment (2dx×2dx).
 * Estimates: μ = x̄ (common mean of all steps); with c = x − μ,
 *   C00 = Σ c_{t−1} c_{t−1}ᵀ, C10 = Σ c_t c_{t−1}ᵀ, C11 = Σ c_t c_tᵀ over transitions (from the pair
 *   statistics by the shift formula), F = C10 C00⁻¹, Q = (C11 − F C10ᵀ)/m, Σ from Σ = FΣFᵀ + Q.
 * i.i.d.: F = 0, Q = Σ = comoment/n.
 */
export class VAR1Stats {
  readonly dx: number;
  n = 0;
  m = 0;
  sequences = 0;
  readonly mean: Float64Array;
  readonly M2: Float64Array;
  readonly pairMean: Float64Array;
  readonly pairM2: Float64Array;

  constructor(dx: number) {
    if (!Number.isInteger(dx) || dx < 1) throw new RangeError(`VAR1Stats: dx must be a positive integer, got ${dx}`);
    this.dx = dx;
    this.mean = new Float64Array(dx);
    this.M2 = new Float64Array(dx * dx);
    this.pairMean = new Float64Array(2 * dx);
    this.pairM2 = new Float64Array(4 * dx * dx);
  }

  /** Add all sequences of a chunk. Throws on non-finite values (naming row and column). */
  add(chunk: SequenceChunk): this {
    const dx = this.dx;
    if (chunk.dx !== dx) throw new RangeError(`VAR1Stats.add: chunk has dx=${chunk.dx}, expected ${dx}`);
    const x = chunk.x, N = chunk.rows * dx;
    // Finiteness: one sum over the chunk (NaN/±Inf propagate), the row-by-row scan only when it is not finite.
    const colSum = new Float64Array(dx);
    for (let r = 0; r < chunk.rows; r++) for (let a = 0; a < dx; a++) colSum[a] += x[r * dx + a];
    let total = 0;
    for (let a = 0; a < dx; a++) total += colSum[a];
    if (!Number.isFinite(total)) {
      for (let i = 0; i < N; i++) {
        if (!Number.isFinite(x[i])) {
          throw new Error(`input model fit: x has a non-finite value (${x[i]}) at row ${Math.floor(i / dx)} of the chunk, column x${(i % dx) + 1}; clean or drop such rows first`);
        }
      }
    }
    if (chunk.rows === 0) return this;
    // Batch statistics in one more pass, about the chunk mean x̄ (e = x − x̄): Σ e eᵀ over all rows, the lag
    // cross-products Σ_t e_t e_{t−1}ᵀ over transitions, and e, e eᵀ of every first and last step. The pair
    // statistics of z_t = [x_{t−1}; x_t] follow: transitions see every row but the last of each sequence as
    // x_{t−1} and every row but the first as x_t. Then a Chan merge.
    const n = chunk.rows;
    const shift = new Float64Array(dx);
    for (let a = 0; a < dx; a++) shift[a] = colSum[a] / n;
    const S = new Float64Array(dx * dx), X10 = new Float64Array(dx * dx);
    const sumE = new Float64Array(dx), sumFirst = new Float64Array(dx), sumLast = new Float64Array(dx);
    const SFirst = new Float64Array(dx * dx), SLast = new Float64Array(dx * dx);
    // Σ e, Σ e eᵀ and the lag products Σ_{t>0} e_t e_{t−1}ᵀ as GEMMs over the chunk on the kernel arena: E holds
    // the centred rows (padded to a multiple of 4), E0 the same with each sequence's first row zeroed, so
    // E0[1..]ᵀ·E[..−1] sums exactly the within-sequence transitions.
    const ld = pad4(dx);
    const K = kernels(), mark = K.mark();
    let m = 0;
    try {
      const E = K.alloc(n * ld), E0 = K.alloc(n * ld), g = K.alloc(ld * ld), x10 = K.alloc(ld * ld), se = K.alloc(ld);
      const H = K.heap;
      for (let r = 0; r < n; r++) {
        const xo = r * dx, o = E + r * ld, o0 = E0 + r * ld;
        for (let a = 0; a < dx; a++) H[o0 + a] = H[o + a] = x[xo + a] - shift[a];
      }
      let row = 0;
      for (let k = 0; k < chunk.lengths.length; k++) {
        H.fill(0, E0 + row * ld, E0 + row * ld + ld);
        row += chunk.lengths[k];
      }
      K.gemm(ld, ld, n, E, 1, ld, E, ld, g, ld);
      if (n > 1) K.gemm(ld, ld, n - 1, E0 + ld, 1, ld, E, ld, x10, ld);
      K.colSums(n, dx, E, ld, se);
      for (let a = 0; a < dx; a++) {
        sumE[a] = H[se + a];
        for (let c = 0; c < dx; c++) {
          S[a * dx + c] = H[g + a * ld + c];
          X10[a * dx + c] = H[x10 + a * ld + c];
        }
      }
    } finally {
      K.release(mark);
    }
    let row = 0;
    for (let k = 0; k < chunk.lengths.length; k++) {
      const L = chunk.lengths[k];
      row += L;
      if (L > 0) {
        m += L - 1;
        const fo = (row - L) * dx, lo = (row - 1) * dx;
        for (let a = 0; a < dx; a++) {
          const fa = x[fo + a] - shift[a], la = x[lo + a] - shift[a];
          sumFirst[a] += fa;
          sumLast[a] += la;
          for (let c = a; c < dx; c++) {
            SFirst[a * dx + c] += fa * (x[fo + c] - shift[c]);
            SLast[a * dx + c] += la * (x[lo + c] - shift[c]);
          }
        }
      }
    }
    return this.merge(VAR1Stats.fromCentredSums(dx, { n, sequences: chunk.lengths.length, m, shift, sumE, S, X10, sumFirst, sumLast, SFirst, SLast }));
  }

  /**
   * Statistics of n steps (in `sequences` sequences, m transitions) from their sums about `shift` (e = x − shift):
   * Σ e, Σ e eᵀ (upper triangle read), the lag products X10 = Σ_{t>0} e_t e_{t−1}ᵀ, and Σ e, Σ e eᵀ (upper) of every
   * first and last step. `add` builds its chunk's statistics with it; the SQL engines build them from one
   * aggregate query (src/sql/passes.ts).
   */
  static fromCentredSums(
    dx: number,
    c: {
      n: number;
      sequences: number;
      m: number;
      shift: Float64Array;
      sumE: Float64Array;
      S: Float64Array;
      X10: Float64Array;
      sumFirst: Float64Array;
      sumLast: Float64Array;
      SFirst: Float64Array;
      SLast: Float64Array;
    },
  ): VAR1Stats {
    const { n, m, shift, sumE, S, X10, sumFirst, sumLast, SFirst, SLast } = c;
    const b = new VAR1Stats(dx);
    b.n = n;
    b.sequences = c.sequences;
    const D = 2 * dx;
    // Mean and centred comoment of all steps: Σ (e − ē)(e − ē)ᵀ = Σ e eᵀ − n ē ēᵀ.
    for (let a = 0; a < dx; a++) b.mean[a] = shift[a] + sumE[a] / n;
    for (let a = 0; a < dx; a++) for (let c = a; c < dx; c++) b.M2[a * dx + c] = S[a * dx + c] - (sumE[a] * sumE[c]) / n;
    symmetrizeUpper(b.M2, dx);
    b.m = m;
    if (m > 0) {
      // Pair means (offsets d from the shift) and the centred pair comoment, block by block.
      const d = new Float64Array(D);
      for (let a = 0; a < dx; a++) {
        d[a] = (sumE[a] - sumLast[a]) / m;
        d[dx + a] = (sumE[a] - sumFirst[a]) / m;
        b.pairMean[a] = shift[a] + d[a];
        b.pairMean[dx + a] = shift[a] + d[dx + a];
      }
      const P = b.pairM2;
      for (let a = 0; a < dx; a++) {
        for (let c = a; c < dx; c++) {
          const s = S[a * dx + c];
          P[a * D + c] = s - SLast[a * dx + c] - m * d[a] * d[c];
          P[(dx + a) * D + dx + c] = s - SFirst[a * dx + c] - m * d[dx + a] * d[dx + c];
        }
        for (let c = 0; c < dx; c++) P[(dx + a) * D + c] = X10[a * dx + c] - m * d[dx + a] * d[c];
      }
      for (let a = 0; a < dx; a++) for (let c = 0; c < dx; c++) P[c * D + dx + a] = P[(dx + a) * D + c];
      symmetrizeUpper(P, D);
    }
    return b;
  }

  /**
   * The transition x_{t−1} → x_t between two pieces of one sequence that were `add`ed as chunks of their own
   * (src/learn/pieces.ts): its pair enters the pair statistics, and the two pieces count as one sequence. The
   * rows themselves were counted by `add`.
   */
  addTransition(prev: ArrayLike<number>, next: ArrayLike<number>): this {
    const dx = this.dx, t = new VAR1Stats(dx);
    t.m = 1;
    t.sequences = -1;
    for (let a = 0; a < dx; a++) {
      t.pairMean[a] = prev[a];
      t.pairMean[dx + a] = next[a];
    }
    return this.merge(t);
  }

  /** this ← this ∪ other (Chan's pairwise update). */
  merge(o: VAR1Stats): this {
    if (o.dx !== this.dx) throw new RangeError(`VAR1Stats.merge: dx ${o.dx} vs ${this.dx}`);
    chanMerge(this.n, this.mean, this.M2, o.n, o.mean, o.M2);
    chanMerge(this.m, this.pairMean, this.pairM2, o.m, o.pairMean, o.pairM2);
    this.n += o.n;
    this.m += o.m;
    this.sequences += o.sequences;
    return this;
  }

  /** Flat state for worker transfer: [n, m, sequences, mean, M2, pairMean, pairM2]. */
  toState(): Float64Array {
    const s = new Float64Array(3 + this.mean.length + this.M2.length + this.pairMean.length + this.pairM2.length);
    s[0] = this.n;
    s[1] = this.m;
    s[2] = this.sequences;
    let o = 3;
    for (const a of [this.mean, this.M2, this.pairMean, this.pairM2]) {
      s.set(a, o);
      o += a.length;
    }
    return s;
  }

  static fromState(dx: number, s: Float64Array): VAR1Stats {
    const r = new VAR1Stats(dx);
    if (s.length !== 3 + dx + dx * dx + 2 * dx + 4 * dx * dx) throw new RangeError('VAR1Stats.fromState: state length does not match dx');
    r.n = s[0];
    r.m = s[1];
    r.sequences = s[2];
    let o = 3;
    for (const a of [r.mean, r.M2, r.pairMean, r.pairM2]) {
      a.set(s.subarray(o, o + a.length));
      o += a.length;
    }
    return r;
  }
}

function symmetrizeUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
}

/** Chan et al.'s pairwise merge: (nA, meanA, M2A) ← merged with (nB, meanB, M2B); nA is updated by the caller. */
export function chanMerge(nA: number, meanA: Float64Array, M2A: Float64Array, nB: number, meanB: Float64Array, M2B: Float64Array): void {
  if (nB === 0) return;
  const d = meanA.length;
  if (nA === 0) {
    meanA.set(meanB);
    M2A.set(M2B);
    return;
  }
  const n = nA + nB;
  const delta = new Float64Array(d);
  for (let i = 0; i < d; i++) delta[i] = meanB[i] - meanA[i];
  const f = (nA * nB) / n;
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) M2A[i * d + j] += M2B[i * d + j] + f * delta[i] * delta[j];
  for (let i = 0; i < d; i++) meanA[i] += (delta[i] * nB) / n;
}

import { InputModel } from '../input/model.js';
import { AccumulatorSpec, MomentAccumulator, PassData, Target } from './accumulator.js';
import { haloOf, ownRows } from '../learn/pieces.js';

/**
 * Markov-parameter moments of a sequence model: M_k = E[y_{t+k} ⊗ s_t] for lags k = 0..K−1 (docs/activations.md,
 * "Linear IO-RNN").
 *
 * Why it works: s_t is the first-order score of the WHOLE input sequence with respect to x_t (s = Λ(x − μ),
 * src/input/model.ts), so Stein's lemma gives E[y_{t+k} s_tᵀ] = E[∂y_{t+k}/∂x_t] with every other step held
 * fixed. For the linear IO-RNN h_t = A1 x_t + U h_{t−1}, y_t = A2ᵀh_t + b (h = 0 before each sequence) the
 * derivative is the constant A2ᵀ U^k A1 — for EVERY pair (t, t+k) inside a sequence, boundary steps included,
 * because each s_t carries its own boundary precision block. Pairs never straddle two sequences. So the
 * moment is exact at every lag with no truncation or boundary correction; the only error is sampling error.
 * For a nonlinear model it is the mean Jacobian E[∂y_{t+k}/∂x_t] (the "best linear approximation" of system
 * identification, up to the input's colour).
 *
 * Layout of `sum` (so that `merge` stays elementwise addition):
 * - two halves h ∈ {0, 1} (a split of the steps used to measure the noise floor, see `halfOf`), each with
 *   K·dy·dx sums of y_{t+k,i} s_{t,a} at ((h·K + k)·dy + i)·dx + a,
 * - then 2·K pair counts at 2·K·dy·dx + h·K + k.
 * `count` is the number of lag-0 pairs (= steps). `result()` is K×dy×dx, [k, i, a] at (k·dy + i)·dx + a.
 *
 * Cost per step: K·dy·dx multiply-adds (K = 64, dy = dx = 4: 1024), no allocation.
 */
export class MarkovAccumulator extends MomentAccumulator {
  readonly type = 'markov' as const;
  readonly dx: number;
  readonly lags: number;
  /** Block length of the half split (steps); see `halfOf`. */
  static readonly HALF_BLOCK = 64;

  constructor(readonly model: InputModel, dy: number, lags: number, opts: { target?: Target } = {}) {
    if (!Number.isInteger(lags) || lags < 1) throw new RangeError(`markov accumulator: lags must be a positive integer, got ${lags}`);
    super(2 * lags * dy * model.dx + 2 * lags, dy, opts.target ?? 'y');
    this.dx = model.dx;
    this.lags = lags;
  }

  spec(): AccumulatorSpec {
    return { type: 'markov', dy: this.dy, lags: this.lags, target: this.target };
  }

  /**
   * Half of step t of the k-th sequence of a chunk: alternate blocks of HALF_BLOCK steps, shifted by the
   * sequence's index so that many short sequences also split about evenly. Pairs (t, t+k) are credited to the
   * half of t. The two halves are not independent (neighbouring blocks share inputs), but blocks much longer
   * than the correlation time make them nearly so; the noise floor only needs the right order of magnitude.
   */
  static halfOf(seqIndex: number, t: number): number {
    return (seqIndex + Math.floor(t / MarkovAccumulator.HALF_BLOCK)) & 1;
  }

  /**
   * A piece of a long sequence with halo rows (src/learn/pieces.ts) must carry at least K − 1 + p halo rows before
   * it and p after it for a VAR(p) input (`haloFor` with back = K − 1): a pair (t, t + k) is counted by the piece
   * that owns its output row t + k (the target is zero on halo rows, and only own rows' pairs are counted), and
   * its score s_t, up to K − 1 rows back, is then the whole sequence's. Every step is counted once.
   */
  protected override stepBounds(): [number, number] {
    return [0, 0];
  }

  protected accumulate(d: PassData, y: Float64Array): void {
    const dx = this.dx, dy = this.dy, K = this.lags, S = this.sum, s = d.scores!;
    const lengths = d.chunk.lengths, cOff = 2 * K * dy * dx;
    const blk = dy * dx;
    // Own rows [r0, r1) (all rows without halo); a piece's first sequence and steps as in the joined chunk, so the
    // half split is the whole sequence's.
    const [r0, r1] = ownRows(d.chunk);
    const halo = haloOf(d.chunk), index = halo?.index ?? 0, step = halo?.step ?? 0;
    let row = 0;
    for (let q = 0; q < lengths.length; q++) {
      const L = lengths[q], t0 = q === 0 ? step : 0;
      for (let t = 0; t < L; t++) {
        const h = MarkovAccumulator.halfOf(index + q, t0 + t);
        const so = (row + t) * dx;
        const kMax = Math.min(K, L - t);
        for (let k = 0; k < kMax; k++) {
          const yo = (row + t + k) * dy;
          const base = (h * K + k) * blk;
          for (let i = 0; i < dy; i++) {
            const yi = y[yo + i];
            if (yi === 0) continue;
            const b = base + i * dx;
            for (let a = 0; a < dx; a++) S[b + a] += yi * s[so + a];
          }
          if (row + t + k >= r0 && row + t + k < r1) S[cOff + h * K + k] += 1;
        }
      }
      this.count += L;
      row += L;
    }
  }

  /** Pair counts per half and lag: counts[h][k]. */
  pairCounts(): [Float64Array, Float64Array] {
    const K = this.lags, c = 2 * K * this.dy * this.dx;
    return [this.sum.slice(c, c + K), this.sum.slice(c + K, c + 2 * K)];
  }

  /** Mean over both halves, K×dy×dx ([k, i, a] at (k·dy + i)·dx + a). Lags with no pair are NaN-free zeros and reported by `pairCounts`. */
  result(): Float64Array {
    if (this.count === 0) throw new Error('markov accumulator: no samples were added');
    return this.combine(1, 1);
  }

  /** Means of the two halves separately (each K×dy×dx), for the split-sample noise floor. */
  halves(): [Float64Array, Float64Array] {
    if (this.count === 0) throw new Error('markov accumulator: no samples were added');
    return [this.combine(1, 0), this.combine(0, 1)];
  }

  private combine(w0: number, w1: number): Float64Array {
    const K = this.lags, blk = this.dy * this.dx, S = this.sum;
    const [c0, c1] = this.pairCounts();
    const out = new Float64Array(K * blk);
    for (let k = 0; k < K; k++) {
      const n = w0 * c0[k] + w1 * c1[k];
      if (n === 0) continue;
      const inv = 1 / n;
      for (let e = 0; e < blk; e++) out[k * blk + e] = (w0 * S[k * blk + e] + w1 * S[(K + k) * blk + e]) * inv;
    }
    return out;
  }
}

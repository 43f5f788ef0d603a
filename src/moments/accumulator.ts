import { SequenceChunk } from '../io/dataset.js';
import { InputModel } from '../input/model.js';
import { applyPrecisionBlocks, fillTranspose } from '../input/block-scores.js';
import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { haloOf, haloStepsCounted, zeroHaloRows } from '../learn/pieces.js';

/**
 * Streaming, mergeable moment accumulators (docs/method.md §5 steps 2, 4, 5).
 *
 * Every accumulator keeps a plain `sum: Float64Array` and a `count` (number of steps that entered), so
 * - memory is independent of the number of samples (one chunk at a time),
 * - `merge` is elementwise addition: the accumulator of a union of chunks equals the merge of the
 *   accumulators of its parts up to floating-point summation order (that is what lets passes run in
 *   worker threads now and on several machines later),
 * - a worker can send `{ count, sum }` back (the Float64Array transfers without copying), and
 *   `spec()` + `loadState()` rebuild an accumulator on the other side.
 * `result()` is the mean (sum / count) in the shape the subclass documents.
 *
 * The Wick (precision-block) terms of the Hermite scores do not depend on the sample except through a
 * weight (y or y ⊗ s), so they are grouped by the identity of the precision block (docs/method.md §3: a
 * VAR(1) has only 4 distinct P_t) and applied once per block at the end of each chunk (`flush`).
 */

/** What an accumulator gets for one chunk: the raw chunk, the L×dx scores of every row, and residuals. */
export interface PassData {
  chunk: SequenceChunk;
  /** rows×dx first-order scores s = Λ(x − μ), per sequence; null if no accumulator needs them. */
  scores: Float64Array | null;
  /** rows×dy control-variate residuals r_t = y_t − ĝ(x) (docs/method.md §5 step 4), or null. */
  residual: Float64Array | null;
}

/**
 * Steps per kernel block: the block's rows of products (≤ 256 × dx(dx+1)/2 f64) are the K dimension of one
 * GEMM; large enough to amortise the call, small enough to stay in cache at the dims we support.
 */
export const STEP_BLOCK = 256;

/** Which output the moment multiplies: the raw y, or the control-variate residual. */
export type Target = 'y' | 'residual';

/** Serializable description of an accumulator (everything needed to rebuild it in a worker). */
export type AccumulatorSpec =
  | { type: 'T1'; dy: number; target?: Target; skipLast?: number }
  | { type: 'T2'; dy: number; target?: Target; skipLast?: number }
  | { type: 'mixed'; dy: number; direction: 'prev' | 'next'; target?: Target }
  | {
      type: 'mixedProjected';
      dy: number;
      direction: 'prev' | 'next';
      target?: Target;
      /** dh×dy demixing matrix (e.g. pinv(Â2ᵀ)), nested rows. */
      demix: number[][];
      /** dx×dh directions for mode α (column j used with demixed output j). */
      first: number[][];
      /** dx×dh directions for modes β, γ. */
      pair: number[][];
      /** Keep all (k, l) pairs (dh³ numbers) instead of k = l only (dh²). */
      full?: boolean;
    }
  | { type: 'controlVariate'; dx: number; dy: number; quadratic: 'full' | 'current' | 'none'; center: number[] }
  | { type: 'markov'; dy: number; lags: number; target?: Target }
  // Non-Gaussian input model (src/moments/nongaussian.ts): same moments, data-dependent Wick terms.
  | { type: 'ngT1' | 'ngT2'; dy: number; target?: Target; skipLast?: number }
  | { type: 'ngMixedProjected'; dy: number; direction: 'prev' | 'next'; target?: Target; demix: number[][]; first: number[][]; pair: number[][] };

/** Serialized accumulator: spec + state (count and sums). */
export interface AccumulatorJSON {
  spec: AccumulatorSpec;
  count: number;
  sum: number[];
}

export abstract class MomentAccumulator {
  abstract readonly type: AccumulatorSpec['type'];
  /** Number of steps (samples) added. */
  count = 0;
  /** Running sums; layout documented by the subclass. */
  sum: Float64Array;
  readonly dy: number;
  readonly target: Target;
  /** Whether `accumulate` reads PassData.scores. */
  readonly needsScores: boolean = true;

  constructor(size: number, dy: number, target: Target = 'y') {
    if (!Number.isInteger(dy) || dy < 1) throw new RangeError(`accumulator: dy must be a positive integer, got ${dy}`);
    this.sum = new Float64Array(size);
    this.dy = dy;
    this.target = target;
  }

  abstract spec(): AccumulatorSpec;
  /** Add one chunk's contribution to `sum`/`count`; `y` is the rows×dy target (raw y or residual). */
  protected abstract accumulate(d: PassData, y: Float64Array): void;
  /** Apply deferred terms so that `sum` is complete (called at the end of every chunk). */
  protected flush(): void {}
  /** Mean over the added steps, shape documented by the subclass. */
  abstract result(): Float64Array;

  /**
   * For a piece of a long sequence with halo rows (src/learn/pieces.ts): the step range [a, L − b) of a
   * sequence whose steps this accumulator counts (e.g. [1, 0] for pairs (t − 1, t) keyed by t), or null if it
   * cannot take such pieces. Its sums must be linear in the target y (zero on the halo rows).
   */
  protected stepBounds(): [number, number] | null {
    return null;
  }

  /** The sequence mask in force for the next chunk (T2's halves), for the halo's count. */
  protected activeMask(): Uint8Array | null {
    return null;
  }

  /** Feed one chunk's pass data (scores computed once for all accumulators of a pass, see momentPass). */
  addData(d: PassData): this {
    if (d.chunk.dy !== this.dy) throw new RangeError(`${this.type} accumulator: chunk has dy=${d.chunk.dy}, expected ${this.dy}`);
    let y: Float64Array;
    if (this.target === 'residual') {
      if (d.residual === null) throw new Error(`${this.type} accumulator targets control-variate residuals but the pass has no fitted control variate`);
      y = d.residual;
    } else y = d.chunk.y;
    const halo = haloOf(d.chunk);
    const bounds = halo ? this.stepBounds() : null;
    if (halo && !bounds) throw new Error(`${this.type} accumulator: cannot take a piece of a sequence with halo rows`);
    // Halo rows only lend their x to the neighbours' features: a zero target there (a centred or residual y is
    // not zero by itself) adds nothing to the sums, and the count leaves them out.
    if (halo) y = zeroHaloRows(d.chunk, y, this.dy);
    const before = this.count;
    this.accumulate(d, y);
    this.flush();
    if (halo && this.count > before) this.count -= haloStepsCounted(d.chunk.lengths, halo, bounds![0], bounds![1], this.activeMask());
    return this;
  }

  /** this ← this + other (same spec). */
  merge(other: MomentAccumulator): this {
    if (JSON.stringify(other.spec()) !== JSON.stringify(this.spec())) {
      throw new Error(`merge: accumulators differ (${other.type} vs ${this.type}, or different dimensions/directions)`);
    }
    const a = this.sum, b = other.sum;
    for (let i = 0; i < a.length; i++) a[i] += b[i];
    this.count += other.count;
    return this;
  }

  /** Replace the state (e.g. with one received from a worker). */
  loadState(count: number, sum: ArrayLike<number>): this {
    if (sum.length !== this.sum.length) throw new RangeError(`${this.type} accumulator: state has ${sum.length} values, expected ${this.sum.length}`);
    this.count = count;
    this.sum.set(sum);
    return this;
  }

  toJSON(): AccumulatorJSON {
    return { spec: this.spec(), count: this.count, sum: Array.from(this.sum) };
  }

  /** sum / count, with a clear error when nothing was added. */
  protected mean(): Float64Array {
    if (this.count === 0) throw new Error(`${this.type} accumulator: no samples were added (are the sequences long enough for this moment?)`);
    const out = new Float64Array(this.sum.length);
    const inv = 1 / this.count;
    for (let i = 0; i < out.length; i++) out[i] = this.sum[i] * inv;
    return out;
  }
}

/** Something that turns a chunk into rows×dy residuals (the fitted control variate). */
export interface ResidualFunction {
  residualChunk(chunk: SequenceChunk): Float64Array;
}

/**
 * One pass step: compute the first-order scores of every sequence of `chunk` once (O(rows·dx²)), the
 * residuals once if a control variate is given, and feed all accumulators.
 */
export function momentPass(model: InputModel | null, chunk: SequenceChunk, accs: MomentAccumulator[], residual?: ResidualFunction | null): void {
  let scores: Float64Array | null = null;
  if (accs.some((a) => a.needsScores)) {
    if (model === null) throw new Error('momentPass: score-based accumulators need an input model');
    scores = chunkScores(model, chunk);
  }
  const r = residual && accs.some((a) => a.target === 'residual') ? residual.residualChunk(chunk) : null;
  const d: PassData = { chunk, scores, residual: r };
  for (const a of accs) a.addData(d);
}

/**
 * rows×dx first-order scores of all sequences of a chunk, s_t = Σ_u Λ_{t,u}(x_u − μ) (docs/method.md §3), as
 * GEMMs over runs of equal precision blocks on the kernel arena (src/input/block-scores.ts). Equals
 * `model.scoreSequence` per sequence up to summation order (test/kernels.test.ts).
 */
export function chunkScores(model: InputModel, chunk: SequenceChunk): Float64Array {
  const dx = model.dx, rows = chunk.rows;
  if (chunk.dx !== dx) throw new RangeError(`scores: chunk has dx=${chunk.dx}, input model has dx=${dx}`);
  // A model without constant precision blocks (the non-Gaussian VAR(1)) computes its own first-order scores.
  if (model.chunkScores) return model.chunkScores(chunk);
  const ldo = pad4(dx);
  const K = kernels(), mark = K.mark();
  try {
    const c = K.alloc(rows * dx), out = K.alloc(rows * ldo), mu = K.alloc(dx);
    let H = K.heap;
    H.set(chunk.x.subarray(0, rows * dx), c);
    H.set(model.mean, mu);
    K.subRows(rows, dx, c, dx, mu);
    applyPrecisionBlocks(K, model, chunk.lengths, c, out, ldo, fillTranspose(dx, ldo));
    H = K.heap;
    const s = new Float64Array(rows * dx);
    if (ldo === dx) s.set(H.subarray(out, out + rows * dx));
    else
      for (let r = 0; r < rows; r++) {
        const o = out + r * ldo, so = r * dx;
        for (let a = 0; a < dx; a++) s[so + a] = H[o + a];
      }
    return s;
  } finally {
    K.release(mark);
  }
}

/**
 * Blocks that depend only on a sequence's length (InputModel.precisionBlock is a function of t, u and L): for each
 * distinct length among the chunk's sequences (those with mask[k] ≠ 0 when a mask is given), the block of every
 * position (`blocksOf(L)`), the most common block over all those positions, and per length the positions whose
 * block is another one. A pass sums a Wick weight over the whole chunk with one kernel call, credits it to the
 * common block and moves only the exceptions (a VAR(1)'s boundary steps) to their own blocks.
 */
export function blockCensus<T>(
  lengths: Int32Array,
  blocksOf: (L: number) => T[],
  fallback: T,
  mask: Uint8Array | null = null,
): { common: T; byLength: Map<number, { blocks: T[]; other: number[] }> } {
  const byLength = new Map<number, { count: number; blocks: T[]; other: number[] }>();
  for (let k = 0; k < lengths.length; k++) {
    if (mask && !mask[k]) continue;
    const L = lengths[k], hit = byLength.get(L);
    if (hit) hit.count++;
    else byLength.set(L, { count: 1, blocks: blocksOf(L), other: [] });
  }
  const counts = new Map<T, number>();
  for (const info of byLength.values()) for (const B of info.blocks) counts.set(B, (counts.get(B) ?? 0) + info.count);
  let common = fallback, best = -1;
  for (const [B, c] of counts) if (c > best) [common, best] = [B, c];
  for (const info of byLength.values()) info.blocks.forEach((B, i) => B !== common && info.other.push(i));
  return { common, byLength };
}

/** Deferred weights keyed by precision-block identity (see the file comment). */
export class BlockWeights {
  readonly map = new Map<object, Float64Array>();
  constructor(readonly size: number) {}
  get(key: object): Float64Array {
    let w = this.map.get(key);
    if (w === undefined) {
      w = new Float64Array(this.size);
      this.map.set(key, w);
    }
    return w;
  }
  /** Number of distinct blocks; callers flush early when a model returns fresh objects per step. */
  get distinct(): number {
    return this.map.size;
  }
  clear(): void {
    this.map.clear();
  }
}

/** Distinct precision blocks an accumulator keeps deferred Wick weights for before applying them (bounds memory for models that hand out fresh block objects). */
export const WICK_BLOCK_LIMIT = 64;

/**
 * The weight arrays of blocks B and B* of `map` (null for a null block), for moving one term from B* to B.
 * If adding the missing ones would take `map` and `other` together past `limit` distinct blocks, `flush` (which
 * applies and clears both) runs FIRST: flushing between taking the two arrays would orphan the first one and
 * lose what is added to it.
 */
export function weightPair(
  map: BlockWeights,
  other: BlockWeights | null,
  B: object | null,
  Bstar: object | null,
  limit: number,
  flush: () => void,
): [Float64Array | null, Float64Array | null] {
  const need = (B !== null && !map.map.has(B) ? 1 : 0) + (Bstar !== null && Bstar !== B && !map.map.has(Bstar) ? 1 : 0);
  if (need > 0 && map.distinct + (other?.distinct ?? 0) + need > limit) flush();
  return [B === null ? null : map.get(B), Bstar === null ? null : map.get(Bstar)];
}

/**
 * S[i·F + e] += y_i · f_e for one row's outputs y_i = y[yOff + i] (i < dy): the y ⊗ feature update of every
 * moment whose per-row feature vector f (length F) is built first. Zero outputs are skipped (the same sums).
 */
export function addOuterRow(S: Float64Array, y: Float64Array, yOff: number, dy: number, f: Float64Array, F: number): void {
  for (let i = 0; i < dy; i++) {
    const yi = y[yOff + i];
    if (yi === 0) continue;
    const o = i * F;
    for (let e = 0; e < F; e++) S[o + e] += yi * f[e];
  }
}

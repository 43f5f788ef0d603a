import { InputModel } from '../input/model.js';
import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { AccumulatorSpec, BlockWeights, MomentAccumulator, PassData, STEP_BLOCK, Target, WICK_BLOCK_LIMIT, blockCensus, weightPair } from './accumulator.js';

/** Row indices (within the chunk) of the steps t < L − skipLast of every (selected) sequence. */
function selectSteps(lengths: Int32Array, skipLast: number, mask: Uint8Array | null = null): { rows: Int32Array; n: number } {
  let total = 0;
  for (let k = 0; k < lengths.length; k++) if (!mask || mask[k]) total += Math.max(0, lengths[k] - skipLast);
  const rows = new Int32Array(total);
  let row = 0, n = 0;
  for (let k = 0; k < lengths.length; k++) {
    const Lk = lengths[k];
    if (mask && !mask[k]) {
      row += Lk;
      continue;
    }
    for (let s = 0; s < Lk - skipLast; s++, n++) rows[n] = row + s;
    row += Lk;
  }
  return { rows, n };
}

export interface SingleStepOptions {
  /** Use raw y (default) or the control-variate residual. */
  target?: Target;
  /** Leave out the last `skipLast` steps of each sequence (e.g. 1 for docs/method.md §4 P2′ (0-based t ≤ L−2, so that T1 and Tm21 use the same steps)). Default 0. */
  skipLast?: number;
}

/**
 * T1 = mean_t y_t ⊗ s_t (dy×dx, row-major [i, a]) over all steps (or t < L − skipLast), with the
 * Markov score s_t (boundary steps included). Stein: E[y_t ⊗ s_t] = E[∂y_t/∂x_t]; for the quadratic
 * IO-RNN this is the first-order moment used by the paper's symmetrisation and docs/method.md §4 P2′.
 */
export class T1Accumulator extends MomentAccumulator {
  readonly type = 'T1' as const;
  readonly dx: number;
  readonly skipLast: number;
  constructor(readonly model: InputModel, dy: number, opts: SingleStepOptions = {}) {
    super(dy * model.dx, dy, opts.target ?? 'y');
    this.dx = model.dx;
    this.skipLast = opts.skipLast ?? 0;
  }
  spec(): AccumulatorSpec {
    return { type: 'T1', dy: this.dy, target: this.target, skipLast: this.skipLast };
  }
  protected override stepBounds(): [number, number] {
    return [0, this.skipLast];
  }
  protected accumulate(d: PassData, y: Float64Array): void {
    const dx = this.dx, dy = this.dy, S = this.sum, s = d.scores!;
    const sel = selectSteps(d.chunk.lengths, this.skipLast);
    for (let n = 0; n < sel.n; n++) {
      const r = sel.rows[n], yo = r * dy, so = r * dx;
      for (let i = 0; i < dy; i++) {
        const yi = y[yo + i];
        const b = i * dx;
        for (let a = 0; a < dx; a++) S[b + a] += yi * s[so + a];
      }
    }
    this.count += sel.n;
  }
  /** dy×dx mean, [i, a] at i·dx + a. */
  result(): Float64Array {
    return this.mean();
  }
}

/**
 * T2 = mean_t y_t ⊗ S2(t), S2(t) = s_t s_tᵀ − P_t (docs/method.md §3, §5 step 2), over ALL steps of every
 * sequence (or t < L − skipLast), each with its own P_t (boundary steps use Σ⁻¹ / no FᵀQ⁻¹F term).
 * Result dy×dx×dx, [i, a, b] at (i·dx + a)·dx + b. Stein (docs/method.md §4 F1): E[y_t ⊗ S2(t)] = E[∂²y_t/∂x_t²].
 *
 * Cost per step: dy·dx²/2 multiply-adds for Σ y_i s_a s_b (upper triangle a ≤ b, packed, one GEMM per
 * block of steps on the kernel arena, mirrored at flush); the Wick term
 * Σ y_i P_ab is accumulated as Σ_{t: P_t = P} y_t per distinct block and subtracted at flush.
 */
export class T2Accumulator extends MomentAccumulator {
  readonly type = 'T2' as const;
  readonly dx: number;
  readonly skipLast: number;
  private wick: BlockWeights;
  /**
   * If set (one entry per sequence of the next chunks), only the sequences k with mask[k] ≠ 0 enter: a subset of
   * the chunk without copying it (e.g. the even / odd halves of the rank rule). Same sums, in the same order, as
   * the subchunk of those sequences. An in-process device: a masked accumulator has no spec (it cannot be
   * rebuilt in a worker or merged by spec), so `spec()` throws while a mask is set.
   */
  sequenceMask: Uint8Array | null = null;
  constructor(readonly model: InputModel, dy: number, opts: SingleStepOptions = {}) {
    super(dy * model.dx * model.dx, dy, opts.target ?? 'y');
    this.dx = model.dx;
    this.skipLast = opts.skipLast ?? 0;
    this.wick = new BlockWeights(dy);
  }
  spec(): AccumulatorSpec {
    if (this.sequenceMask) throw new Error('T2 accumulator: a sequence mask is set; clear it before serialising, merging or sending it to a worker');
    return { type: 'T2', dy: this.dy, target: this.target, skipLast: this.skipLast };
  }
  protected override stepBounds(): [number, number] {
    return [0, this.skipLast];
  }
  protected override activeMask(): Uint8Array | null {
    return this.sequenceMask;
  }
  protected accumulate(d: PassData, y: Float64Array): void {
    const dx = this.dx, dy = this.dy, s = d.scores!;
    if (this.sequenceMask && this.sequenceMask.length !== d.chunk.lengths.length) {
      throw new RangeError(`T2 accumulator: sequence mask has ${this.sequenceMask.length} entries, the chunk has ${d.chunk.lengths.length} sequences`);
    }
    const sel = selectSteps(d.chunk.lengths, this.skipLast, this.sequenceMask);
    const rows = sel.rows, n = sel.n, skip = this.skipLast;
    // On the kernel arena (WebAssembly SIMD), over the selected steps gathered into contiguous rows (padded to
    // multiples of 4 with zeros):
    // - main term Σ_t y_t,i (s_t,a s_t,b), a ≤ b: per block of steps, the packed products of each step form one
    //   row of SS (symKron) and the outputs one row of Y, so the block adds Yᵀ·SS (dy × dx(dx+1)/2), one GEMM;
    // - Wick weight Σ_{t: P_t = P} y_t: the column sums of Y credited to the most common P_t of the chunk, the
    //   steps with another block (the boundary steps) moved over.
    const np = (dx * (dx + 1)) / 2, ldp = pad4(np), ldy = pad4(dy), ldx = pad4(dx);
    const K = kernels(), mark = K.mark();
    try {
      const block = Math.min(STEP_BLOCK, Math.max(1, n));
      const all = n === d.chunk.rows;
      const sA = K.alloc(n * ldx, all && ldx === dx), yA = K.alloc(n * ldy, all && ldy === dy);
      const pk = K.alloc(ldy * ldp), kb = K.alloc(block * ldp), ty = K.alloc(ldy);
      const H = K.heap;
      if (all && ldx === dx) H.set(s.subarray(0, n * dx), sA);
      else for (let k = 0; k < n; k++) for (let a = 0, so = rows[k] * dx, sd = sA + k * ldx; a < dx; a++) H[sd + a] = s[so + a];
      if (all && ldy === dy) H.set(y.subarray(0, n * dy), yA);
      else for (let k = 0; k < n; k++) for (let i = 0, yo = rows[k] * dy, yd = yA + k * ldy; i < dy; i++) H[yd + i] = y[yo + i];
      for (let n0 = 0; n0 < n; n0 += block) {
        const nb = Math.min(block, n - n0);
        K.symKron(nb, sA + n0 * ldx, ldx, dx, kb, ldp);
        K.gemm(ldy, ldp, nb, yA + n0 * ldy, 1, ldy, kb, ldp, pk, ldp);
      }
      K.colSums(n, dy, yA, ldy, ty);
      // Unpack the chunk's packed (a ≤ b) sums into the upper triangles of `sum` (mirrored at flush).
      const S = this.sum;
      for (let i = 0; i < dy; i++) {
        const bi = i * dx * dx, pb = pk + i * ldp;
        let m = 0;
        for (let a = 0; a < dx; a++) for (let b = a; b < dx; b++) S[bi + a * dx + b] += H[pb + m++];
      }
      const census = blockCensus(
        d.chunk.lengths,
        (L) => Array.from({ length: Math.max(0, L - skip) }, (_, t) => this.model.precisionBlock(t, t, L)!),
        this.model.precisionBlock(0, 0, 1)!,
        this.sequenceMask,
      );
      const ensure = (P: object): Float64Array => weightPair(this.wick, null, P, null, WICK_BLOCK_LIMIT, () => this.applyWick())[0]!;
      if (n > 0) {
        const w = ensure(census.common);
        for (let i = 0; i < dy; i++) w[i] += H[ty + i];
      }
      // Exceptions: step t of a sequence starting at selected-row index k0 is gathered row k0 + t.
      let k0 = 0;
      for (let k = 0; k < d.chunk.lengths.length; k++) {
        if (this.sequenceMask && !this.sequenceMask[k]) continue;
        const L = d.chunk.lengths[k], info = census.byLength.get(L)!;
        for (const t of info.other) {
          const w = ensure(info.blocks[t]), ws = ensure(census.common), yo = yA + (k0 + t) * ldy;
          for (let i = 0; i < dy; i++) {
            w[i] += H[yo + i];
            ws[i] -= H[yo + i];
          }
        }
        k0 += Math.max(0, L - skip);
      }
    } finally {
      K.release(mark);
    }
    this.count += n;
  }
  /** Subtract Σ_P (Σ_{t: P_t=P} y_t) ⊗ P on the upper triangle. */
  private applyWick(): void {
    const dx = this.dx, S = this.sum;
    for (const [key, w] of this.wick.map) {
      const P = (key as { data: Float64Array }).data;
      for (let i = 0; i < this.dy; i++) {
        const wi = w[i];
        if (wi === 0) continue;
        const bi = i * dx * dx;
        for (let a = 0; a < dx; a++) for (let b = a; b < dx; b++) S[bi + a * dx + b] -= wi * P[a * dx + b];
      }
    }
    this.wick.clear();
  }
  protected override flush(): void {
    const dx = this.dx, S = this.sum;
    this.applyWick();
    for (let i = 0; i < this.dy; i++) {
      const bi = i * dx * dx;
      for (let a = 0; a < dx; a++) for (let b = 0; b < a; b++) S[bi + a * dx + b] = S[bi + b * dx + a];
    }
  }
  /** dy×dx×dx mean, [i, a, b] at (i·dx + a)·dx + b. */
  result(): Float64Array {
    return this.mean();
  }
}

/** Alias (the paper's symmetrisation calls T1 the first-order moment). */
export const FirstOrderAccumulator = T1Accumulator;
export type FirstOrderAccumulator = T1Accumulator;

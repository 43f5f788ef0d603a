import { InputModel } from '../input/model.js';
import { AccumulatorSpec, BlockWeights, MomentAccumulator, PassData, Target } from './accumulator.js';

/** Row indices (within the chunk) of the steps t < L − skipLast of every sequence, plus each step's t and L. */
function selectSteps(lengths: Int32Array, skipLast: number, mask: Uint8Array | null = null): { rows: Int32Array; t: Int32Array; L: Int32Array; n: number } {
  let total = 0;
  for (let k = 0; k < lengths.length; k++) if (!mask || mask[k]) total += Math.max(0, lengths[k] - skipLast);
  const rows = new Int32Array(total), t = new Int32Array(total), L = new Int32Array(total);
  let row = 0, n = 0;
  for (let k = 0; k < lengths.length; k++) {
    const Lk = lengths[k];
    if (mask && !mask[k]) {
      row += Lk;
      continue;
    }
    for (let s = 0; s < Lk - skipLast; s++, n++) {
      rows[n] = row + s;
      t[n] = s;
      L[n] = Lk;
    }
    row += Lk;
  }
  return { rows, t, L, n };
}

export interface SingleStepOptions {
  /** Use raw y (default) or the control-variate residual. */
  target?: Target;
  /** Leave out the last `skipLast` steps of each sequence (e.g. 1 for DESIGN.md §4 P2′ (0-based t ≤ L−2, so that T1 and Tm21 use the same steps)). Default 0. */
  skipLast?: number;
}

/**
 * T1 = mean_t y_t ⊗ s_t (dy×dx, row-major [i, a]) over all steps (or t < L − skipLast), with the
 * Markov score s_t (boundary steps included). Stein: E[y_t ⊗ s_t] = E[∂y_t/∂x_t]; for the quadratic
 * IO-RNN this is the first-order moment used by the paper's symmetrisation and DESIGN.md §4 P2′.
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
 * T2 = mean_t y_t ⊗ S2(t), S2(t) = s_t s_tᵀ − P_t (DESIGN.md §3, §5 step 2), over ALL steps of every
 * sequence (or t < L − skipLast), each with its own P_t (boundary steps use Σ⁻¹ / no FᵀQ⁻¹F term).
 * Result dy×dx×dx, [i, a, b] at (i·dx + a)·dx + b. Stein (DESIGN.md §4 F1): E[y_t ⊗ S2(t)] = E[∂²y_t/∂x_t²].
 *
 * Cost per step: dy·dx²/2 multiply-adds for Σ y_i s_a s_b (upper triangle a ≤ b, kept packed during a
 * chunk and mirrored at flush), processed four steps at a time so each sum entry is loaded/stored once per
 * 4 steps; the Wick term
 * Σ y_i P_ab is accumulated as Σ_{t: P_t = P} y_t per distinct block and subtracted at flush.
 */
export class T2Accumulator extends MomentAccumulator {
  readonly type = 'T2' as const;
  readonly dx: number;
  readonly skipLast: number;
  private wick: BlockWeights;
  /** Running sums of the current chunk, dy × dx(dx+1)/2 packed upper triangles; added into `sum` at flush. */
  private packed = new Float64Array(0);
  private ss = new Float64Array(0);
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
  protected accumulate(d: PassData, y: Float64Array): void {
    const dx = this.dx, dy = this.dy, s = d.scores!;
    if (this.sequenceMask && this.sequenceMask.length !== d.chunk.lengths.length) {
      throw new RangeError(`T2 accumulator: sequence mask has ${this.sequenceMask.length} entries, the chunk has ${d.chunk.lengths.length} sequences`);
    }
    const sel = selectSteps(d.chunk.lengths, this.skipLast, this.sequenceMask);
    const rows = sel.rows;
    // Wick weights per precision block; consecutive steps mostly share the block, so the Map is consulted
    // only when it changes (not once per step).
    let lastP: object | null = null, w: Float64Array | null = null;
    for (let n = 0; n < sel.n; n++) {
      const P = this.model.precisionBlock(sel.t[n], sel.t[n], sel.L[n])!;
      if (P !== lastP) {
        if (this.wick.distinct >= 64 && !this.wick.map.has(P)) this.applyWick();
        w = this.wick.get(P);
        lastP = P;
      }
      const yo = rows[n] * dy;
      for (let i = 0; i < dy; i++) w![i] += y[yo + i];
    }
    // Main term Σ y_i (s_a s_b), a ≤ b flattened: per 4 steps the products s_a s_b are packed into
    // contiguous rows of length np = dx(dx+1)/2 and two rows i of a packed running sum are updated per
    // sweep over that contiguous run (no short triangle loops); the packed sums are added into `sum` at flush.
    const np = (dx * (dx + 1)) / 2;
    if (this.packed.length !== dy * np) this.packed = new Float64Array(dy * np);
    if (this.ss.length !== 4 * np) this.ss = new Float64Array(4 * np);
    const Pk = this.packed, ss = this.ss, r1 = np, r2 = 2 * np, r3 = 3 * np;
    let n = 0;
    for (; n + 3 < sel.n; n += 4) {
      for (let k = 0; k < 4; k++) {
        const so = rows[n + k] * dx, ro = k * np;
        let m = 0;
        for (let a = 0; a < dx; a++) {
          const sa = s[so + a];
          for (let b = a; b < dx; b++) ss[ro + m++] = sa * s[so + b];
        }
      }
      const y0o = rows[n] * dy, y1o = rows[n + 1] * dy, y2o = rows[n + 2] * dy, y3o = rows[n + 3] * dy;
      let i = 0;
      for (; i + 1 < dy; i += 2) {
        const w0 = y[y0o + i], w1 = y[y1o + i], w2 = y[y2o + i], w3 = y[y3o + i];
        const v0 = y[y0o + i + 1], v1 = y[y1o + i + 1], v2 = y[y2o + i + 1], v3 = y[y3o + i + 1];
        const ba = i * np, bb = ba + np;
        for (let m = 0; m < np; m++) {
          const x0 = ss[m], x1 = ss[r1 + m], x2 = ss[r2 + m], x3 = ss[r3 + m];
          Pk[ba + m] += w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
          Pk[bb + m] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3;
        }
      }
      if (i < dy) {
        const w0 = y[y0o + i], w1 = y[y1o + i], w2 = y[y2o + i], w3 = y[y3o + i];
        const ba = i * np;
        for (let m = 0; m < np; m++) Pk[ba + m] += w0 * ss[m] + w1 * ss[r1 + m] + w2 * ss[r2 + m] + w3 * ss[r3 + m];
      }
    }
    for (; n < sel.n; n++) {
      const so = rows[n] * dx, yo = rows[n] * dy;
      let m = 0;
      for (let a = 0; a < dx; a++) {
        const sa = s[so + a];
        for (let b = a; b < dx; b++) ss[m++] = sa * s[so + b];
      }
      for (let i = 0; i < dy; i++) {
        const w0 = y[yo + i], ba = i * np;
        for (let m2 = 0; m2 < np; m2++) Pk[ba + m2] += w0 * ss[m2];
      }
    }
    this.count += sel.n;
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
    const dx = this.dx, S = this.sum, Pk = this.packed;
    if (Pk.length > 0) {
      // Unpack the chunk's packed (a ≤ b) sums into the upper triangles of `sum`.
      const np = (dx * (dx + 1)) / 2;
      for (let i = 0; i < this.dy; i++) {
        const bi = i * dx * dx, pb = i * np;
        let m = 0;
        for (let a = 0; a < dx; a++) for (let b = a; b < dx; b++) S[bi + a * dx + b] += Pk[pb + m++];
      }
      Pk.fill(0);
    }
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

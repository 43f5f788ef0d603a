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
 * Cost per step: dy·dx²/2 multiply-adds for Σ y_i s_a s_b (upper triangle a ≤ b, mirrored at flush),
 * processed four steps at a time so each sum entry is loaded/stored once per 4 steps; the Wick term
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
  protected accumulate(d: PassData, y: Float64Array): void {
    const dx = this.dx, dy = this.dy, S = this.sum, s = d.scores!;
    if (this.sequenceMask && this.sequenceMask.length !== d.chunk.lengths.length) {
      throw new RangeError(`T2 accumulator: sequence mask has ${this.sequenceMask.length} entries, the chunk has ${d.chunk.lengths.length} sequences`);
    }
    const sel = selectSteps(d.chunk.lengths, this.skipLast, this.sequenceMask);
    const rows = sel.rows;
    // Wick weights per precision block.
    for (let n = 0; n < sel.n; n++) {
      const P = this.model.precisionBlock(sel.t[n], sel.t[n], sel.L[n])!;
      const w = this.wick.get(P);
      const yo = rows[n] * dy;
      for (let i = 0; i < dy; i++) w[i] += y[yo + i];
      if (this.wick.distinct > 64) this.applyWick();
    }
    // Main term, 4 steps at a time.
    let n = 0;
    for (; n + 3 < sel.n; n += 4) {
      const r0 = rows[n], r1 = rows[n + 1], r2 = rows[n + 2], r3 = rows[n + 3];
      const s0 = r0 * dx, s1 = r1 * dx, s2 = r2 * dx, s3 = r3 * dx;
      for (let i = 0; i < dy; i++) {
        const y0 = y[r0 * dy + i], y1 = y[r1 * dy + i], y2 = y[r2 * dy + i], y3 = y[r3 * dy + i];
        const bi = i * dx * dx;
        let a = 0;
        // Two rows a, a+1 of the upper triangle at once: each loaded s_k[b] feeds 8 multiply-adds
        // (measured 1.4× faster than one row at a time for dx = 50).
        for (; a + 1 < dx; a += 2) {
          const w0 = y0 * s[s0 + a], w1 = y1 * s[s1 + a], w2 = y2 * s[s2 + a], w3 = y3 * s[s3 + a];
          const v0 = y0 * s[s0 + a + 1], v1 = y1 * s[s1 + a + 1], v2 = y2 * s[s2 + a + 1], v3 = y3 * s[s3 + a + 1];
          const ba = bi + a * dx, bb = ba + dx;
          S[ba + a] += w0 * s[s0 + a] + w1 * s[s1 + a] + w2 * s[s2 + a] + w3 * s[s3 + a];
          for (let b = a + 1; b < dx; b++) {
            const t0 = s[s0 + b], t1 = s[s1 + b], t2 = s[s2 + b], t3 = s[s3 + b];
            S[ba + b] += w0 * t0 + w1 * t1 + w2 * t2 + w3 * t3;
            S[bb + b] += v0 * t0 + v1 * t1 + v2 * t2 + v3 * t3;
          }
        }
        for (; a < dx; a++) {
          const w0 = y0 * s[s0 + a], w1 = y1 * s[s1 + a], w2 = y2 * s[s2 + a], w3 = y3 * s[s3 + a];
          const ba = bi + a * dx;
          for (let b = a; b < dx; b++) S[ba + b] += w0 * s[s0 + b] + w1 * s[s1 + b] + w2 * s[s2 + b] + w3 * s[s3 + b];
        }
      }
    }
    for (; n < sel.n; n++) {
      const r0 = rows[n], s0 = r0 * dx;
      for (let i = 0; i < dy; i++) {
        const y0 = y[r0 * dy + i];
        const bi = i * dx * dx;
        for (let a = 0; a < dx; a++) {
          const w0 = y0 * s[s0 + a];
          const ba = bi + a * dx;
          for (let b = a; b < dx; b++) S[ba + b] += w0 * s[s0 + b];
        }
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
    this.applyWick();
    const dx = this.dx, S = this.sum;
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

import { Matrix } from '../linalg/matrix.js';
import { InputModel } from '../input/model.js';
import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { AccumulatorSpec, BlockWeights, MomentAccumulator, PassData, STEP_BLOCK, WICK_BLOCK_LIMIT, weightPair } from './accumulator.js';
import { Direction, MixedOptions, pairBlocks } from './mixed.js';

/**
 * Explicit mixed moment: mean over pairs of y_t ⊗ H(t; u, u), dy×dx×dx×dx, [i, α, β, γ] at
 * ((i·dx + α)·dx + β)·dx + γ. Cost per step dy·dx³/2 (β ≤ γ, one GEMM per block of pairs on the kernel
 * arena, mirrored at flush): for tests and small
 * dims only; the learner should use ProjectedMixedAccumulator.
 */
export class MixedMomentAccumulator extends MomentAccumulator {
  readonly type = 'mixed' as const;
  readonly dx: number;
  private wickP: BlockWeights; // per P_u block: Σ y_i s_α (dy·dx)
  private wickL: BlockWeights; // per Λ_{t,u} block: Σ y_i r_β (dy·dx)
  constructor(readonly model: InputModel, dy: number, readonly direction: Direction, opts: MixedOptions = {}) {
    super(dy * model.dx ** 3, dy, opts.target ?? 'y');
    if (direction !== 'prev' && direction !== 'next') throw new RangeError(`mixed accumulator: direction must be 'prev' or 'next', got ${direction}`);
    this.dx = model.dx;
    this.wickP = new BlockWeights(dy * this.dx);
    this.wickL = new BlockWeights(dy * this.dx);
  }
  spec(): AccumulatorSpec {
    return { type: 'mixed', dy: this.dy, direction: this.direction, target: this.target };
  }
  protected accumulate(d: PassData, y: Float64Array): void {
    const dx = this.dx, dy = this.dy, sc = d.scores!, c = d.chunk, rows = c.rows, dx2 = dx * dx;
    const prev = this.direction === 'prev';
    let pairs = 0;
    for (let k = 0; k < c.lengths.length; k++) pairs += Math.max(0, c.lengths[k] - 1);
    // On the kernel arena (WebAssembly SIMD), over rows of the chunk: the pair of step t is (t, u = t ∓ 1), so
    // with y zeroed on the rows that start no pair (the first step of each sequence for 'prev', the last for
    // 'next') every sum over pairs is a sum over rows with the u rows shifted by one (cross-sequence terms
    // vanish):
    // - main term Σ (y_i s_α)(r_β r_γ), β ≤ γ: per block of rows, W holds y_t ⊗ s_t (kronRows) and RR the
    //   packed products r_β r_γ of the u rows (symKron), and the block adds Wᵀ·RR ((dy·dx) × dx(dx+1)/2);
    // - Wick weights Σ y ⊗ s (per P_u block) and Σ y ⊗ r (per Λ_{t,u} block): Yᵀ·S and Yᵀ·R over all pairs,
    //   credited to the chunk's most common blocks; pairs with other blocks move their own term over.
    const np = (dx * (dx + 1)) / 2, nia = dy * dx, ldp = pad4(np), ldw = pad4(nia);
    const K = kernels(), mark = K.mark();
    try {
      // Scores and outputs with rows padded to multiples of 4 (zeros), so the Wick GEMMs run on full SIMD tiles.
      const ldx = pad4(dx), ldy = pad4(dy);
      const block = Math.min(STEP_BLOCK, Math.max(1, rows));
      const sA = K.alloc(rows * ldx), yA = K.alloc(rows * ldy), pk = K.alloc(ldw * ldp);
      const wb = K.alloc(block * ldw), kb = K.alloc(block * ldp), tw = K.alloc(ldy * ldx), tl = K.alloc(ldy * ldx);
      const H = K.heap;
      for (let r = 0; r < rows; r++) {
        const so = r * dx, sd = sA + r * ldx, yo = r * dy, yd = yA + r * ldy;
        for (let a = 0; a < dx; a++) H[sd + a] = sc[so + a];
        for (let i = 0; i < dy; i++) H[yd + i] = y[yo + i];
      }
      let r0 = 0;
      for (let k = 0; k < c.lengths.length; k++) {
        const L = c.lengths[k], z = yA + (prev ? r0 : r0 + L - 1) * ldy;
        if (L > 0) H.fill(0, z, z + dy);
        r0 += L;
      }
      const t0 = prev ? 1 : 0, u0 = prev ? 0 : 1, m = rows - 1;
      for (let b0 = 0; b0 < m; b0 += block) {
        const nb = Math.min(block, m - b0);
        K.kronRows(nb, yA + (t0 + b0) * ldy, ldy, dy, sA + (t0 + b0) * ldx, ldx, dx, wb, ldw);
        K.symKron(nb, sA + (u0 + b0) * ldx, ldx, dx, kb, ldp);
        K.gemm(ldw, ldp, nb, wb, 1, ldw, kb, ldp, pk, ldp);
      }
      if (m > 0) {
        K.gemm(ldy, ldx, m, yA + t0 * ldy, 1, ldy, sA + t0 * ldx, ldx, tw, ldx);
        K.gemm(ldy, ldx, m, yA + t0 * ldy, 1, ldy, sA + u0 * ldx, ldx, tl, ldx);
      }
      const blocks = pairBlocks(this.model, c.lengths, this.direction);
      const ensure = (map: BlockWeights, B: Matrix): Float64Array =>
        weightPair(map, map === this.wickP ? this.wickL : this.wickP, B, null, WICK_BLOCK_LIMIT, () => this.applyWick())[0]!;
      const Pstar = blocks.P.common, Lstar = blocks.L.common;
      if (pairs > 0) {
        const wp = ensure(this.wickP, Pstar);
        for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) wp[i * dx + a] += H[tw + i * ldx + a];
        if (Lstar !== null) {
          const wl = ensure(this.wickL, Lstar);
          for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) wl[i * dx + a] += H[tl + i * ldx + a];
        }
      }
      // Pairs whose blocks are not the common ones: move y_t ⊗ s_t (or y_t ⊗ r_t) to their own block.
      const move = (map: BlockWeights, B: Matrix | null, Bstar: Matrix | null, t: number, v: number): void => {
        const [w, ws] = weightPair(map, map === this.wickP ? this.wickL : this.wickP, B, Bstar, WICK_BLOCK_LIMIT, () => this.applyWick());
        for (let i = 0; i < dy; i++) {
          const yi = H[yA + t * ldy + i];
          for (let a = 0; a < dx; a++) {
            const x = yi * H[sA + v * ldx + a];
            if (w !== null) w[i * dx + a] += x;
            if (ws !== null) ws[i * dx + a] -= x;
          }
        }
      };
      r0 = 0;
      for (let k = 0; k < c.lengths.length; k++) {
        const L = c.lengths[k], infoP = blocks.P.byLength.get(L)!, infoL = blocks.L.byLength.get(L)!;
        for (const i of infoP.other) {
          const t = r0 + (prev ? i + 1 : i);
          move(this.wickP, infoP.blocks[i], Pstar, t, t);
        }
        for (const i of infoL.other) {
          const t = r0 + (prev ? i + 1 : i);
          move(this.wickL, infoL.blocks[i], Lstar, t, prev ? t - 1 : t + 1);
        }
        r0 += L;
      }
      // Unpack the chunk's packed (β ≤ γ) sums into the upper triangles of `sum` (mirrored at flush).
      const S = this.sum;
      for (let ia = 0; ia < nia; ia++) {
        const base = ia * dx2, pb = pk + ia * ldp;
        let q = 0;
        for (let b = 0; b < dx; b++) for (let cc = b; cc < dx; cc++) S[base + b * dx + cc] += H[pb + q++];
      }
    } finally {
      K.release(mark);
    }
    this.count += pairs;
  }
  /** Subtract the deferred Wick terms on the upper triangle β ≤ γ. */
  private applyWick(): void {
    const dx = this.dx, dy = this.dy, S = this.sum, dx2 = dx * dx, dx3 = dx2 * dx;
    for (const [key, w] of this.wickP.map) {
      const P = (key as Matrix).data;
      for (let i = 0; i < dy; i++)
        for (let a = 0; a < dx; a++) {
          const wa = w[i * dx + a];
          if (wa === 0) continue;
          const ba = i * dx3 + a * dx2;
          for (let b = 0; b < dx; b++) for (let c = b; c < dx; c++) S[ba + b * dx + c] -= wa * P[b * dx + c];
        }
    }
    for (const [key, w] of this.wickL.map) {
      const Ld = (key as Matrix).data;
      for (let i = 0; i < dy; i++) {
        const wi = i * dx;
        for (let a = 0; a < dx; a++) {
          const ba = i * dx3 + a * dx2;
          for (let b = 0; b < dx; b++)
            for (let c = b; c < dx; c++) S[ba + b * dx + c] -= Ld[a * dx + c] * w[wi + b] + Ld[a * dx + b] * w[wi + c];
        }
      }
    }
    this.wickP.clear();
    this.wickL.clear();
  }
  protected override flush(): void {
    const dx = this.dx, S = this.sum;
    this.applyWick();
    for (let ia = 0; ia < this.dy * dx; ia++) {
      const base = ia * dx * dx;
      for (let b = 0; b < dx; b++) for (let c = 0; c < b; c++) S[base + b * dx + c] = S[base + c * dx + b];
    }
  }
  /** dy×dx³ mean, [i, α, β, γ] at ((i·dx + α)·dx + β)·dx + γ. */
  result(): Float64Array {
    return this.mean();
  }
}

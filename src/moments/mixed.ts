import { Matrix } from '../linalg/matrix.js';
import { InputModel } from '../input/model.js';
import { AccumulatorSpec, BlockWeights, MomentAccumulator, PassData, Target } from './accumulator.js';

/**
 * Mixed two-step moments (DESIGN.md §3 mixed score, §4 F4/F5, §5 step 5).
 *
 * For step t paired with u = t − 1 ('prev') or u = t + 1 ('next'), with s = s_t, r = s_u,
 * P_r = P_u and L = Λ_{t,u} (all 0-based; the boundary blocks come from the input model):
 *   H_αβγ = s_α r_β r_γ − s_α (P_r)_βγ − L_αγ r_β − L_αβ r_γ,
 *   E[y_t ⊗ H] = E[∂_{x_t,α} ∂_{x_u,β} ∂_{x_u,γ} y_t].
 * For the quadratic IO-RNN (prev): 4 Σ_j A2^(j) ⊗ a1_j ⊗ M_j, M_j = Σ_k U_jk a1_k a1_kᵀ (F4);
 * for the BRNN (next): 4 Σ_{j bwd} A2^(dh+j) ⊗ b1_j ⊗ N_j (F5).
 * Steps used: 'prev' → t = 1..L−1 of every sequence (DESIGN.md's t ≥ 2); 'next' → t = 0..L−2.
 */
export type Direction = 'prev' | 'next';

interface Pairs {
  rowT: Int32Array;
  rowU: Int32Array;
  t: Int32Array;
  u: Int32Array;
  L: Int32Array;
  n: number;
}

function selectPairs(lengths: Int32Array, direction: Direction): Pairs {
  let total = 0;
  for (let k = 0; k < lengths.length; k++) total += lengths[k] - 1;
  const rowT = new Int32Array(total), rowU = new Int32Array(total), t = new Int32Array(total), u = new Int32Array(total), L = new Int32Array(total);
  let row = 0, n = 0;
  const off = direction === 'prev' ? -1 : 1;
  for (let k = 0; k < lengths.length; k++) {
    const Lk = lengths[k];
    const t0 = direction === 'prev' ? 1 : 0, t1 = direction === 'prev' ? Lk : Lk - 1;
    for (let s = t0; s < t1; s++, n++) {
      rowT[n] = row + s;
      rowU[n] = row + s + off;
      t[n] = s;
      u[n] = s + off;
      L[n] = Lk;
    }
    row += Lk;
  }
  return { rowT, rowU, t, u, L, n };
}

export interface MixedOptions {
  /** Raw y (default) or the control-variate residual (DESIGN.md §5 step 4: use it for every order ≥ 3 moment). */
  target?: Target;
}

/**
 * Explicit mixed moment: mean over pairs of y_t ⊗ H(t; u, u), dy×dx×dx×dx, [i, α, β, γ] at
 * ((i·dx + α)·dx + β)·dx + γ. Cost per step dy·dx³/2 (β ≤ γ, mirrored at flush): for tests and small
 * dims only; the learner should use ProjectedMixedAccumulator.
 */
export class MixedMomentAccumulator extends MomentAccumulator {
  readonly type = 'mixed' as const;
  readonly dx: number;
  private wickP: BlockWeights; // per P_u block: Σ y_i s_α (dy·dx)
  private wickL: BlockWeights; // per Λ_{t,u} block: Σ y_i r_β (dy·dx)
  /** Running sums of the current chunk, (dy·dx) × dx(dx+1)/2 packed upper triangles; added into `sum` at flush. */
  private packed = new Float64Array(0);
  private rr = new Float64Array(0);
  private wv = new Float64Array(0);
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
    const dx = this.dx, dy = this.dy, sc = d.scores!;
    const pr = selectPairs(d.chunk.lengths, this.direction);
    const dx2 = dx * dx, dx3 = dx2 * dx;
    // Wick weights; the Maps are consulted only when the block changes between consecutive pairs.
    let lastP: object | null = null, lastL: object | null = null, wp: Float64Array | null = null, wl: Float64Array | null = null;
    for (let n = 0; n < pr.n; n++) {
      const P = this.model.precisionBlock(pr.u[n], pr.u[n], pr.L[n])!;
      const Lb = this.model.precisionBlock(pr.t[n], pr.u[n], pr.L[n]);
      if (P !== lastP || (Lb !== null && Lb !== lastL)) {
        if (this.wickP.distinct + this.wickL.distinct >= 63 && (!this.wickP.map.has(P) || (Lb !== null && !this.wickL.map.has(Lb)))) this.applyWick();
        wp = this.wickP.get(P);
        lastP = P;
        if (Lb !== null) {
          wl = this.wickL.get(Lb);
          lastL = Lb;
        }
      }
      const yo = pr.rowT[n] * dy, so = pr.rowT[n] * dx, ro = pr.rowU[n] * dx;
      for (let i = 0; i < dy; i++) {
        const yi = y[yo + i], bi = i * dx;
        for (let a = 0; a < dx; a++) wp![bi + a] += yi * sc[so + a];
        if (Lb !== null) for (let b = 0; b < dx; b++) wl![bi + b] += yi * sc[ro + b];
      }
    }
    // Main term Σ (y_i s_α)(r_β r_γ) with (β ≤ γ) flattened: per 4 pairs the products r_β r_γ are packed
    // into contiguous rows of length np = dx(dx+1)/2, and rows ia = (i, α) of a packed running sum are
    // updated two at a time over that long contiguous run (no short triangle loops); the packed sums are
    // added into `sum` at flush.
    const np = (dx * (dx + 1)) / 2, nia = dy * dx;
    if (this.packed.length !== nia * np) this.packed = new Float64Array(nia * np);
    if (this.rr.length !== 4 * np) this.rr = new Float64Array(4 * np);
    const Pk = this.packed, rr = this.rr;
    const wv = this.wv.length === 4 * nia ? this.wv : (this.wv = new Float64Array(4 * nia));
    let n = 0;
    for (; n + 3 < pr.n; n += 4) {
      for (let k = 0; k < 4; k++) {
        const t = pr.rowT[n + k], so = t * dx, yo = t * dy, qo = pr.rowU[n + k] * dx, ro = k * np;
        let m = 0;
        for (let b = 0; b < dx; b++) {
          const rb = sc[qo + b];
          for (let c = b; c < dx; c++) rr[ro + m++] = rb * sc[qo + c];
        }
        // wv[4·ia + k] = y_{t,i} s_{t,α}
        for (let i = 0; i < dy; i++) {
          const yi = y[yo + i];
          for (let a = 0; a < dx; a++) wv[4 * (i * dx + a) + k] = yi * sc[so + a];
        }
      }
      const r1 = np, r2 = 2 * np, r3 = 3 * np;
      let ia = 0;
      for (; ia + 1 < nia; ia += 2) {
        const w = 4 * ia;
        const w0 = wv[w], w1 = wv[w + 1], w2 = wv[w + 2], w3 = wv[w + 3];
        const v0 = wv[w + 4], v1 = wv[w + 5], v2 = wv[w + 6], v3 = wv[w + 7];
        const ba = ia * np, bb = ba + np;
        for (let m = 0; m < np; m++) {
          const x0 = rr[m], x1 = rr[r1 + m], x2 = rr[r2 + m], x3 = rr[r3 + m];
          Pk[ba + m] += w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
          Pk[bb + m] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3;
        }
      }
      if (ia < nia) {
        const w = 4 * ia;
        const w0 = wv[w], w1 = wv[w + 1], w2 = wv[w + 2], w3 = wv[w + 3];
        const ba = ia * np;
        for (let m = 0; m < np; m++) Pk[ba + m] += w0 * rr[m] + w1 * rr[r1 + m] + w2 * rr[r2 + m] + w3 * rr[r3 + m];
      }
    }
    for (; n < pr.n; n++) {
      const t0 = pr.rowT[n], s0 = t0 * dx, q0 = pr.rowU[n] * dx;
      let m = 0;
      for (let b = 0; b < dx; b++) {
        const rb = sc[q0 + b];
        for (let c = b; c < dx; c++) rr[m++] = rb * sc[q0 + c];
      }
      for (let i = 0; i < dy; i++) {
        const y0 = y[t0 * dy + i];
        for (let a = 0; a < dx; a++) {
          const w0 = y0 * sc[s0 + a], ba = (i * dx + a) * np;
          for (let m2 = 0; m2 < np; m2++) Pk[ba + m2] += w0 * rr[m2];
        }
      }
    }
    this.count += pr.n;
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
    const dx = this.dx, S = this.sum, Pk = this.packed;
    if (Pk.length > 0) {
      // Unpack the chunk's packed (β ≤ γ) sums into the upper triangles of `sum`.
      const np = (dx * (dx + 1)) / 2;
      for (let ia = 0; ia < this.dy * dx; ia++) {
        const base = ia * dx * dx, pb = ia * np;
        let m = 0;
        for (let b = 0; b < dx; b++) for (let c = b; c < dx; c++) S[base + b * dx + c] += Pk[pb + m++];
      }
      Pk.fill(0);
    }
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

export interface ProjectedMixedOptions extends MixedOptions {
  /** Keep C[j, k, l] for all k, l (dh³) instead of only k = l (dh²). Default false. */
  full?: boolean;
}

/**
 * Projected mixed moment for DESIGN.md §5 step 5, without forming the dy×dx³ tensor.
 *
 * Inputs: demix W (dh×dy; e.g. pinv(Â2ᵀ), so that W·A2ᵀ = I), first-mode directions F (dx×dh, column
 * f_j) and pair directions G (dx×dh, column g_k; e.g. the duals pinv(Â1), so that Â1 G = I).
 * Output: C[j, k, l] = mean_t ỹ_{t,j} H(t; u, u)[f_j, g_k, g_l], ỹ_t = W y_t (or W r_t with residuals),
 * i.e. the full moment contracted: C[j,k,l] = Σ_i W_ji Σ_αβγ Tmix[i,α,β,γ] f_jα g_kβ g_lγ.
 *
 * Derivation. With p_j = f_j·s, q_k = g_k·r, K_jl = f_jᵀ L g_l and the Wick term (GᵀP_rG)_kl,
 *   H[f_j, g_k, g_l] = p_j q_k q_l − p_j (GᵀP_rG)_kl − K_jl q_k − K_jk q_l,
 * so per step we need only p, q (2·dx·dh), ỹ (dy·dh) and e_j = ỹ_j p_j, and accumulate
 *   Σ e_j q_k q_l   (dh² for k = l, dh³/2 for full),
 *   Σ_{t: P_u = P} e_j    per distinct P block (subtract ⊗ GᵀPG at flush),
 *   Σ_{t: Λ_tu = L} ỹ_j q_k per distinct L block (subtract with K at flush)
 * — O(dx·dh + dy·dh + dh²) per sample instead of O(dy·dx³).
 * What the learner does with it (prev direction, quadratic IO-RNN): Tmix = 4 Σ_j A2^(j) ⊗ a1_j ⊗ M_j
 * (F4), demixing gives R_j = 4 a1_j ⊗ M_j, hence
 *   C[j,k,l] = 4 (a1_j·f_j) Σ_m U_jm (a1_m·g_k)(a1_m·g_l),
 * a linear system in the row U_j· ("U_j-system", dh equations for k = l). With duals G = F = pinv(Â1):
 * a1_m·g_k = δ_mk, so C[j,k,k] = 4 U_jk and the off-diagonal C[j,k,l] (k ≠ l) ≈ 0 (a diagnostic).
 * With G = Â1ᵀ it gives the right-hand side of the least-squares normal equations of §5 step 5.
 *
 * Result: Float64Array dh×dh ([j, k] = C[j,k,k]) or, with `full`, dh×dh×dh ([j, k, l]).
 */
export class ProjectedMixedAccumulator extends MomentAccumulator {
  readonly type = 'mixedProjected' as const;
  readonly dx: number;
  readonly dh: number;
  readonly full: boolean;
  private readonly W: Matrix;
  private readonly Ft: Float64Array; // dh×dx (rows f_j)
  private readonly Gt: Float64Array; // dh×dx (rows g_k)
  private readonly first: Matrix;
  private readonly pair: Matrix;
  private wickP: BlockWeights; // per P_u: Σ e_j (dh)
  private wickL: BlockWeights; // per Λ_tu: Σ ỹ_j q_k (dh²)
  private projCache = new WeakMap<object, Float64Array>();
  private blockProjCache = new WeakMap<object, Float64Array>();
  private recentKeys: Matrix[] = [];
  private recentVals: Float64Array[] = [];
  override readonly needsScores = false;
  constructor(
    readonly model: InputModel,
    dy: number,
    readonly direction: Direction,
    demix: Matrix,
    first: Matrix,
    pair: Matrix,
    opts: ProjectedMixedOptions = {},
  ) {
    const dh = demix.rows;
    const full = opts.full ?? false;
    super(full ? dh * dh * dh : dh * dh, dy, opts.target ?? 'y');
    const dx = model.dx;
    if (demix.cols !== dy) throw new RangeError(`projected mixed accumulator: demix is ${demix.rows}x${demix.cols}, expected dh x dy = ${dh}x${dy}`);
    if (first.rows !== dx || first.cols !== dh || pair.rows !== dx || pair.cols !== dh) {
      throw new RangeError(`projected mixed accumulator: first is ${first.rows}x${first.cols} and pair is ${pair.rows}x${pair.cols}, expected dx x dh = ${dx}x${dh}`);
    }
    if (direction !== 'prev' && direction !== 'next') throw new RangeError(`projected mixed accumulator: direction must be 'prev' or 'next', got ${direction}`);
    this.dx = dx;
    this.dh = dh;
    this.full = full;
    this.W = demix.clone();
    this.first = first.clone();
    this.pair = pair.clone();
    this.Ft = new Float64Array(dh * dx);
    this.Gt = new Float64Array(dh * dx);
    for (let a = 0; a < dx; a++)
      for (let j = 0; j < dh; j++) {
        this.Ft[j * dx + a] = first.data[a * dh + j];
        this.Gt[j * dx + a] = pair.data[a * dh + j];
      }
    this.wickP = new BlockWeights(dh);
    this.wickL = new BlockWeights(dh * dh);
  }
  spec(): AccumulatorSpec {
    return {
      type: 'mixedProjected',
      dy: this.dy,
      direction: this.direction,
      target: this.target,
      demix: this.W.toArray(),
      first: this.first.toArray(),
      pair: this.pair.toArray(),
      full: this.full,
    };
  }
  /**
   * Projected scores of every row: p_t = Fᵀ s_t and q_t = Gᵀ s_t (rows×dh each). From the full scores
   * when the pass computed them (2·dx·dh per row); otherwise straight from x through the precision
   * blocks, s_t = Σ_u Λ_{t,u} (x_u − μ), with FᵀΛ_{t,u} and GᵀΛ_{t,u} cached per block
   * ((2·order+1)·2·dx·dh per row instead of the (2·order+1)·dx² of the full scores).
   */
  private projectedScores(d: PassData): { p: Float64Array; q: Float64Array } {
    const c = d.chunk, dx = this.dx, dh = this.dh, rows = c.rows;
    const p = new Float64Array(rows * dh), q = new Float64Array(rows * dh);
    const Ft = this.Ft, Gt = this.Gt;
    if (d.scores !== null) {
      const sc = d.scores;
      for (let r = 0; r < rows; r++) {
        const so = r * dx;
        for (let j = 0; j < dh; j++) {
          let a1 = 0, a2 = 0;
          const fj = j * dx;
          for (let a = 0; a < dx; a++) {
            a1 += Ft[fj + a] * sc[so + a];
            a2 += Gt[fj + a] * sc[so + a];
          }
          p[r * dh + j] = a1;
          q[r * dh + j] = a2;
        }
      }
      return { p, q };
    }
    const x = c.x, mu = this.model.mean, order = this.model.order;
    const cx = new Float64Array(rows * dx);
    for (let r = 0; r < rows; r++) for (let a = 0; a < dx; a++) cx[r * dx + a] = x[r * dx + a] - mu[a];
    let start = 0;
    // Fast path for steps whose three blocks (Λ_{t,t−1}, P_t, Λ_{t,t+1}) are the same objects as last
    // time (all interior steps of a VAR(1)): the centred rows t−1, t, t+1 are contiguous, so p_t and q_t
    // are 3dx-long dot products with the stacked [FᵀΛ_{t,t−1} | FᵀP_t | FᵀΛ_{t,t+1}] (and G) rows.
    let tri0: Matrix | null = null, tri1: Matrix | null = null, tri2: Matrix | null = null;
    let stack: Float64Array | null = null;
    const w3 = 3 * dx;
    for (let k = 0; k < c.lengths.length; k++) {
      const L = c.lengths[k];
      for (let t = 0; t < L; t++) {
        const po = (start + t) * dh;
        if (order === 1 && t > 0 && t < L - 1) {
          const b0 = this.model.precisionBlock(t, t - 1, L), b1 = this.model.precisionBlock(t, t, L), b2 = this.model.precisionBlock(t, t + 1, L);
          if (b0 !== null && b1 !== null && b2 !== null) {
            if (b0 !== tri0 || b1 !== tri1 || b2 !== tri2 || stack === null) {
              const m0 = this.blockProjection(b0), m1 = this.blockProjection(b1), m2 = this.blockProjection(b2);
              stack = new Float64Array(2 * dh * w3);
              for (let i = 0; i < 2 * dh; i++)
                for (let a = 0; a < dx; a++) {
                  stack[i * w3 + a] = m0[i * dx + a];
                  stack[i * w3 + dx + a] = m1[i * dx + a];
                  stack[i * w3 + 2 * dx + a] = m2[i * dx + a];
                }
              tri0 = b0;
              tri1 = b1;
              tri2 = b2;
            }
            const cb = (start + t - 1) * dx;
            let j = 0;
            if (t + 1 < L - 1 && this.model.precisionBlock(t + 1, t, L) === b0 && this.model.precisionBlock(t + 1, t + 1, L) === b1 && this.model.precisionBlock(t + 1, t + 2, L) === b2) {
              // Steps t and t+1 at once (their windows overlap, shifted by dx): each loaded stack entry
              // feeds two multiply-adds, 6 loads per 8 multiply-adds.
              const po2 = po + dh, cb2 = cb + dx;
              for (; j + 1 < dh; j += 2) {
                const rf = j * w3, rg = (dh + j) * w3, sf = rf + w3, sg = rg + w3;
                let a1 = 0, a2 = 0, b1 = 0, b2 = 0, c1 = 0, c2 = 0, d1 = 0, d2 = 0;
                for (let i = 0; i < w3; i++) {
                  const v = cx[cb + i], u = cx[cb2 + i];
                  const m0 = stack[rf + i], m1 = stack[rg + i], m2 = stack[sf + i], m3 = stack[sg + i];
                  a1 += m0 * v;
                  a2 += m1 * v;
                  b1 += m2 * v;
                  b2 += m3 * v;
                  c1 += m0 * u;
                  c2 += m1 * u;
                  d1 += m2 * u;
                  d2 += m3 * u;
                }
                p[po + j] = a1;
                q[po + j] = a2;
                p[po + j + 1] = b1;
                q[po + j + 1] = b2;
                p[po2 + j] = c1;
                q[po2 + j] = c2;
                p[po2 + j + 1] = d1;
                q[po2 + j + 1] = d2;
              }
              for (; j < dh; j++) {
                const rf = j * w3, rg = (dh + j) * w3;
                let a1 = 0, a2 = 0, c1 = 0, c2 = 0;
                for (let i = 0; i < w3; i++) {
                  const v = cx[cb + i], u = cx[cb2 + i];
                  a1 += stack[rf + i] * v;
                  a2 += stack[rg + i] * v;
                  c1 += stack[rf + i] * u;
                  c2 += stack[rg + i] * u;
                }
                p[po + j] = a1;
                q[po + j] = a2;
                p[po2 + j] = c1;
                q[po2 + j] = c2;
              }
              t++;
              continue;
            }
            for (; j + 1 < dh; j += 2) {
              const rf = j * w3, rg = (dh + j) * w3, sf = rf + w3, sg = rg + w3;
              let a1 = 0, a2 = 0, b1 = 0, b2 = 0;
              for (let i = 0; i < w3; i++) {
                const v = cx[cb + i];
                a1 += stack[rf + i] * v;
                a2 += stack[rg + i] * v;
                b1 += stack[sf + i] * v;
                b2 += stack[sg + i] * v;
              }
              p[po + j] = a1;
              q[po + j] = a2;
              p[po + j + 1] = b1;
              q[po + j + 1] = b2;
            }
            for (; j < dh; j++) {
              const rf = j * w3, rg = (dh + j) * w3;
              let a1 = 0, a2 = 0;
              for (let i = 0; i < w3; i++) {
                const v = cx[cb + i];
                a1 += stack[rf + i] * v;
                a2 += stack[rg + i] * v;
              }
              p[po + j] = a1;
              q[po + j] = a2;
            }
            continue;
          }
        }
        for (let u = Math.max(0, t - order); u <= Math.min(L - 1, t + order); u++) {
          const B = this.model.precisionBlock(t, u, L);
          if (B === null) continue;
          const M = this.blockProjection(B);
          const co = (start + u) * dx;
          let j = 0;
          // Two outputs j, j+1 per sweep over a: each loaded c_u[a] feeds four multiply-adds.
          for (; j + 1 < dh; j += 2) {
            let a1 = 0, a2 = 0, b1 = 0, b2 = 0;
            const mf = j * dx, mg = (dh + j) * dx, nf = mf + dx, ng = mg + dx;
            for (let a = 0; a < dx; a++) {
              const v = cx[co + a];
              a1 += M[mf + a] * v;
              a2 += M[mg + a] * v;
              b1 += M[nf + a] * v;
              b2 += M[ng + a] * v;
            }
            p[po + j] += a1;
            q[po + j] += a2;
            p[po + j + 1] += b1;
            q[po + j + 1] += b2;
          }
          for (; j < dh; j++) {
            let a1 = 0, a2 = 0;
            const mf = j * dx, mg = (dh + j) * dx;
            for (let a = 0; a < dx; a++) {
              const v = cx[co + a];
              a1 += M[mf + a] * v;
              a2 += M[mg + a] * v;
            }
            p[po + j] += a1;
            q[po + j] += a2;
          }
        }
      }
      start += L;
    }
    return { p, q };
  }
  /** [FᵀB; GᵀB] (2dh×dx) for a precision block B, cached by identity. */
  private blockProjection(B: Matrix): Float64Array {
    // A VAR(1) has ≤ 6 distinct blocks: a linear scan over recent ones beats a WeakMap lookup per step.
    const rk = this.recentKeys;
    for (let i = 0; i < rk.length; i++) if (rk[i] === B) return this.recentVals[i];
    let M = this.blockProjCache.get(B);
    if (M !== undefined) {
      this.remember(B, M);
      return M;
    }
    const dx = this.dx, dh = this.dh, Bd = B.data;
    M = new Float64Array(2 * dh * dx);
    for (let j = 0; j < dh; j++)
      for (let b = 0; b < dx; b++) {
        const f = this.Ft[j * dx + b], g = this.Gt[j * dx + b];
        for (let a = 0; a < dx; a++) {
          M[j * dx + a] += f * Bd[b * dx + a];
          M[(dh + j) * dx + a] += g * Bd[b * dx + a];
        }
      }
    this.blockProjCache.set(B, M);
    this.remember(B, M);
    return M;
  }
  private remember(B: Matrix, M: Float64Array): void {
    if (this.recentKeys.length >= 8) {
      this.recentKeys.shift();
      this.recentVals.shift();
    }
    this.recentKeys.push(B);
    this.recentVals.push(M);
  }
  protected accumulate(d: PassData, y: Float64Array): void {
    const dy = this.dy, dh = this.dh, S = this.sum;
    const W = this.W.data;
    const pr = selectPairs(d.chunk.lengths, this.direction);
    const { p: pAll, q: qAll } = this.projectedScores(d);
    const yt = new Float64Array(dh), e = new Float64Array(dh), q = new Float64Array(dh), q2 = new Float64Array(dh);
    const full = this.full;
    let lastP: object | null = null, wp: Float64Array | null = null;
    let lastL: object | null = null, wl: Float64Array | null = null;
    const rowT = pr.rowT, rowU = pr.rowU;
    for (let n = 0; n < pr.n; n++) {
      const yo = rowT[n] * dy, po = rowT[n] * dh, qo = rowU[n] * dh;
      // ỹ = W y_t, two outputs per sweep over y (each loaded y_i feeds two multiply-adds).
      let j = 0;
      for (; j + 1 < dh; j += 2) {
        let v0 = 0, v1 = 0;
        const w0 = j * dy, w1 = w0 + dy;
        for (let i = 0; i < dy; i++) {
          const yi = y[yo + i];
          v0 += W[w0 + i] * yi;
          v1 += W[w1 + i] * yi;
        }
        yt[j] = v0;
        yt[j + 1] = v1;
      }
      for (; j < dh; j++) {
        let v = 0;
        const wj = j * dy;
        for (let i = 0; i < dy; i++) v += W[wj + i] * y[yo + i];
        yt[j] = v;
      }
      for (let k = 0; k < dh; k++) {
        e[k] = yt[k] * pAll[po + k];
        q[k] = qAll[qo + k];
        q2[k] = q[k] * q[k];
      }
      const P = this.model.precisionBlock(pr.u[n], pr.u[n], pr.L[n])!;
      if (P !== lastP) {
        if (this.wickP.distinct + this.wickL.distinct >= 64 && !this.wickP.map.has(P)) {
          this.applyWick();
          lastL = null;
        }
        wp = this.wickP.get(P);
        lastP = P;
      }
      for (let k = 0; k < dh; k++) wp![k] += e[k];
      const Lb = this.model.precisionBlock(pr.t[n], pr.u[n], pr.L[n]);
      if (Lb !== null && Lb !== lastL) {
        if (this.wickP.distinct + this.wickL.distinct >= 64 && !this.wickL.map.has(Lb)) {
          this.applyWick();
          wp = this.wickP.get(P);
        }
        wl = this.wickL.get(Lb);
        lastL = Lb;
      }
      if (full) {
        for (let j = 0; j < dh; j++) {
          const ej = e[j];
          const bj = j * dh * dh;
          for (let k = 0; k < dh; k++) {
            const v = ej * q[k];
            const bk = bj + k * dh;
            for (let l = k; l < dh; l++) S[bk + l] += v * q[l];
          }
        }
        if (Lb !== null) {
          for (let j = 0; j < dh; j++) {
            const v = yt[j], bj = j * dh;
            for (let k = 0; k < dh; k++) wl![bj + k] += v * q[k];
          }
        }
      } else if (Lb !== null) {
        // One sweep for both the main term Σ e_j q_k² and the Λ-block Wick weights Σ ỹ_j q_k.
        for (let j = 0; j < dh; j++) {
          const ej = e[j], v = yt[j], bj = j * dh;
          for (let k = 0; k < dh; k++) {
            S[bj + k] += ej * q2[k];
            wl![bj + k] += v * q[k];
          }
        }
      } else {
        for (let j = 0; j < dh; j++) {
          const ej = e[j], bj = j * dh;
          for (let k = 0; k < dh; k++) S[bj + k] += ej * q2[k];
        }
      }
    }
    this.count += pr.n;
  }
  /** GᵀMG for a precision block M (dh×dh), or FᵀMG when `left = 'first'`; cached per block. */
  private project(M: Matrix, left: 'pair' | 'first'): Float64Array {
    const cached = this.projCache.get(M);
    if (cached !== undefined && cached.length === 2 * this.dh * this.dh) return left === 'pair' ? cached.subarray(0, this.dh * this.dh) : cached.subarray(this.dh * this.dh);
    const dx = this.dx, dh = this.dh, Md = M.data;
    const out = new Float64Array(2 * dh * dh);
    const MG = new Float64Array(dx * dh); // M g_l
    for (let a = 0; a < dx; a++)
      for (let l = 0; l < dh; l++) {
        let v = 0;
        for (let b = 0; b < dx; b++) v += Md[a * dx + b] * this.Gt[l * dx + b];
        MG[a * dh + l] = v;
      }
    for (let k = 0; k < dh; k++)
      for (let l = 0; l < dh; l++) {
        let g = 0, f = 0;
        for (let a = 0; a < dx; a++) {
          g += this.Gt[k * dx + a] * MG[a * dh + l];
          f += this.Ft[k * dx + a] * MG[a * dh + l];
        }
        out[k * dh + l] = g;
        out[dh * dh + k * dh + l] = f;
      }
    this.projCache.set(M, out);
    return left === 'pair' ? out.subarray(0, dh * dh) : out.subarray(dh * dh);
  }
  private applyWick(): void {
    const dh = this.dh, S = this.sum, full = this.full;
    for (const [key, w] of this.wickP.map) {
      const GPG = this.project(key as Matrix, 'pair');
      for (let j = 0; j < dh; j++) {
        const wj = w[j];
        if (full) {
          for (let k = 0; k < dh; k++) for (let l = k; l < dh; l++) S[(j * dh + k) * dh + l] -= wj * GPG[k * dh + l];
        } else {
          for (let k = 0; k < dh; k++) S[j * dh + k] -= wj * GPG[k * dh + k];
        }
      }
    }
    for (const [key, w] of this.wickL.map) {
      const K = this.project(key as Matrix, 'first'); // K[j, l] = f_jᵀ L g_l
      for (let j = 0; j < dh; j++) {
        if (full) {
          for (let k = 0; k < dh; k++)
            for (let l = k; l < dh; l++) S[(j * dh + k) * dh + l] -= K[j * dh + l] * w[j * dh + k] + K[j * dh + k] * w[j * dh + l];
        } else {
          for (let k = 0; k < dh; k++) S[j * dh + k] -= 2 * K[j * dh + k] * w[j * dh + k];
        }
      }
    }
    this.wickP.clear();
    this.wickL.clear();
  }
  protected override flush(): void {
    this.applyWick();
    if (this.full) {
      const dh = this.dh, S = this.sum;
      for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) for (let l = 0; l < k; l++) S[(j * dh + k) * dh + l] = S[(j * dh + l) * dh + k];
    }
  }
  /** dh×dh ([j, k] = C[j,k,k]) or dh³ with `full` ([j, k, l] at (j·dh + k)·dh + l). */
  result(): Float64Array {
    return this.mean();
  }
}

/**
 * Contract an explicit mixed moment (dy×dx³) exactly as ProjectedMixedAccumulator does:
 * C[j,k,l] = Σ_i W_ji Σ_αβγ T[i,α,β,γ] F_αj G_βk G_γl. Returns dh×dh (k = l) or dh³ (`full`).
 */
export function projectMixedTensor(T: Float64Array, dy: number, dx: number, demix: Matrix, first: Matrix, pair: Matrix, full = false): Float64Array {
  const dh = demix.rows;
  if (T.length !== dy * dx ** 3) throw new RangeError(`projectMixedTensor: tensor has ${T.length} entries, expected ${dy}x${dx}^3`);
  const out = new Float64Array(full ? dh ** 3 : dh * dh);
  const W = demix.data, Fd = first.data, Gd = pair.data;
  for (let j = 0; j < dh; j++) {
    // R = Σ_i W_ji T[i] contracted on α with f_j → dx×dx over (β, γ)
    const M = new Float64Array(dx * dx);
    for (let i = 0; i < dy; i++) {
      const wji = W[j * dy + i];
      if (wji === 0) continue;
      for (let a = 0; a < dx; a++) {
        const f = wji * Fd[a * dh + j];
        if (f === 0) continue;
        const base = ((i * dx + a) * dx) * dx;
        for (let bc = 0; bc < dx * dx; bc++) M[bc] += f * T[base + bc];
      }
    }
    for (let k = 0; k < dh; k++)
      for (let l = 0; l < dh; l++) {
        if (!full && k !== l) continue;
        let v = 0;
        for (let b = 0; b < dx; b++) for (let c = 0; c < dx; c++) v += Gd[b * dh + k] * M[b * dx + c] * Gd[c * dh + l];
        if (full) out[(j * dh + k) * dh + l] = v;
        else out[j * dh + k] = v;
      }
  }
  return out;
}

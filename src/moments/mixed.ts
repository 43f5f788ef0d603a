import { Matrix } from '../linalg/matrix.js';
import { InputModel } from '../input/model.js';
import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { applyPrecisionBlocks } from '../input/block-scores.js';
import { AccumulatorSpec, BlockWeights, MomentAccumulator, PassData, Target, WICK_BLOCK_LIMIT, blockCensus, weightPair } from './accumulator.js';

/**
 * Mixed two-step moments (docs/method.md §3 mixed score, §4 F4/F5, §5 step 5).
 *
 * For step t paired with u = t − 1 ('prev') or u = t + 1 ('next'), with s = s_t, r = s_u,
 * P_r = P_u and L = Λ_{t,u} (all 0-based; the boundary blocks come from the input model):
 *   H_αβγ = s_α r_β r_γ − s_α (P_r)_βγ − L_αγ r_β − L_αβ r_γ,
 *   E[y_t ⊗ H] = E[∂_{x_t,α} ∂_{x_u,β} ∂_{x_u,γ} y_t].
 * For the quadratic IO-RNN (prev): 4 Σ_j A2^(j) ⊗ a1_j ⊗ M_j, M_j = Σ_k U_jk a1_k a1_kᵀ (F4);
 * for the BRNN (next): 4 Σ_{j bwd} A2^(dh+j) ⊗ b1_j ⊗ N_j (F5).
 * Steps used: 'prev' → t = 1..L−1 of every sequence (docs/method.md's t ≥ 2); 'next' → t = 0..L−2.
 */
export type Direction = 'prev' | 'next';


/**
 * P_u and Λ_{t,u} of every pair i of a sequence (step t = i + 1 for 'prev', t = i for 'next'; they depend only on
 * t, u, L), each with its most common block over the chunk and the pairs that have another (blockCensus).
 */
export function pairBlocks(model: InputModel, lengths: Int32Array, direction: Direction) {
  const pair = (i: number) => (direction === 'prev' ? { t: i + 1, u: i } : { t: i, u: i + 1 });
  const P = blockCensus(lengths, (L) => Array.from({ length: Math.max(0, L - 1) }, (_, i) => model.precisionBlock(pair(i).u, pair(i).u, L)!), model.precisionBlock(0, 0, 1)!);
  const Lb = blockCensus<Matrix | null>(lengths, (L) => Array.from({ length: Math.max(0, L - 1) }, (_, i) => model.precisionBlock(pair(i).t, pair(i).u, L)), null);
  return { P, L: Lb };
}


export interface MixedOptions {
  /** Raw y (default) or the control-variate residual (docs/method.md §5 step 4: use it for every order ≥ 3 moment). */
  target?: Target;
}

export interface ProjectedMixedOptions extends MixedOptions {
  /** Keep C[j, k, l] for all k, l (dh³) instead of only k = l (dh²). Default false. */
  full?: boolean;
}

/**
 * Projected mixed moment for docs/method.md §5 step 5, without forming the dy×dx³ tensor.
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
  /** Pairs (t, t ∓ 1) are keyed by the row t of y: t ≥ 1 for 'prev', t ≤ L − 2 for 'next'. */
  protected override stepBounds(): [number, number] {
    return this.direction === 'prev' ? [1, 0] : [0, 1];
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
   * One chunk on the kernel arena (WebAssembly SIMD), all as GEMMs over rows of the chunk:
   *   [q | p]_t = [Gᵀ s_t | Fᵀ s_t]   from the centred inputs through the precision blocks,
   *             s_t = Σ_u Λ_{t,u}(x_u − μ) (applyPrecisionBlocks with Λᵀ[G | F] per block: (2p+1)·dx·2dh
   *             per row instead of forming s), or from the pass's scores when it computed them;
   *   ỹ_t = W y_t;   e_j = ỹ_j p_j (pair rows t);   then
   *   Σ e_j q_k²  (or Σ e_j q_k q_l, k ≤ l, with `full`) = Eᵀ·Q2 over all pairs,
   *   Σ e_j per P_u block (column sums of E) and Σ ỹ_j q_k per Λ_{t,u} block (Ỹᵀ·Q) over each run of
   *   pairs (consecutive rows of one sequence) with the same blocks.
   * Row layout of QP: q in columns 0..dh−1, p in dh..2dh−1, padded to a multiple of 4; GEMMs that read
   * q take its first pad4(dh) columns and ignore the output columns ≥ dh.
   */
  protected accumulate(d: PassData, y: Float64Array): void {
    const dx = this.dx, dy = this.dy, dh = this.dh, full = this.full, S = this.sum;
    const c = d.chunk, rows = c.rows;
    let pairs = 0;
    for (let k = 0; k < c.lengths.length; k++) pairs += Math.max(0, c.lengths[k] - 1);
    const ldh = pad4(dh), n2 = pad4(2 * dh), nq = (dh * (dh + 1)) / 2, ldq = full ? pad4(nq) : ldh;
    const K = kernels(), mark = K.mark();
    try {
      const qp = K.alloc(rows * n2), yr = K.alloc(rows * dy), yt = K.alloc(rows * ldh), wt = K.alloc(dy * ldh);
      const e = K.alloc(rows * ldh), q2 = K.alloc(rows * ldq), sc = K.alloc(ldh * ldq), tw = K.alloc(ldh * ldh), tp = K.alloc(ldh);
      const xin = K.alloc(rows * dx);
      let H = K.heap;
      const Ft = this.Ft, Gt = this.Gt;
      if (d.scores !== null) {
        // [q | p] = s · [G | F]  (dx × n2)
        H.set(d.scores.subarray(0, rows * dx), xin);
        const gf = K.alloc(dx * n2);
        H = K.heap;
        for (let a = 0; a < dx; a++)
          for (let j = 0; j < dh; j++) {
            H[gf + a * n2 + j] = Gt[j * dx + a];
            H[gf + a * n2 + dh + j] = Ft[j * dx + a];
          }
        K.gemm(rows, n2, dx, xin, dx, 1, gf, n2, qp, n2);
      } else {
        const mu = K.alloc(dx);
        H = K.heap;
        H.set(this.model.mean, mu);
        H.set(c.x.subarray(0, rows * dx), xin);
        K.subRows(rows, dx, xin, dx, mu);
        // T(B)[b, j] = Σ_a B[a,b] G[a,j] (q part), Σ_a B[a,b] F[a,j] (p part).
        applyPrecisionBlocks(K, this.model, c.lengths, xin, qp, n2, (B, Hb, off) => {
          const Bd = B.data;
          for (let b = 0; b < dx; b++)
            for (let j = 0; j < dh; j++) {
              let g = 0, f = 0;
              for (let a = 0; a < dx; a++) {
                const v = Bd[a * dx + b];
                g += v * Gt[j * dx + a];
                f += v * Ft[j * dx + a];
              }
              Hb[off + b * n2 + j] = g;
              Hb[off + b * n2 + dh + j] = f;
            }
        });
        H = K.heap;
      }
      // ỹ = W y for every row (rows×dy times dy×ldh).
      H.set(y.subarray(0, rows * dy), yr);
      const W = this.W.data;
      for (let i = 0; i < dy; i++) for (let j = 0; j < dh; j++) H[wt + i * ldh + j] = W[j * dy + i];
      K.gemm(rows, ldh, dy, yr, dy, 1, wt, ldh, yt, ldh);
      // Whole-chunk products over rows: the pair of step t is (t, t∓1), so with ỹ zeroed on the rows that
      // start no pair (the first step of each sequence for 'prev', the last for 'next'), every sum over pairs
      // is one sum over rows with the u rows shifted by one; the cross-sequence terms vanish.
      const prev = this.direction === 'prev';
      {
        let r0 = 0;
        for (let k = 0; k < c.lengths.length; k++) {
          const L = c.lengths[k];
          if (L > 0) H.fill(0, yt + (prev ? r0 : r0 + L - 1) * ldh, yt + (prev ? r0 : r0 + L - 1) * ldh + ldh);
          r0 += L;
        }
      }
      K.hadamard(rows, dh, yt, ldh, qp + dh, n2, e, ldh);
      if (full) K.symKron(rows, qp, n2, dh, q2, ldq);
      else K.hadamard(rows, dh, qp, n2, qp, n2, q2, ldq);
      if (rows >= 2) {
        const aRow = prev ? 1 : 0, bRow = prev ? 0 : 1;
        K.gemm(ldh, ldq, rows - 1, e + aRow * ldh, 1, ldh, q2 + bRow * ldq, ldq, sc, ldq);
        K.gemm(ldh, ldh, rows - 1, yt + aRow * ldh, 1, ldh, qp + bRow * n2, n2, tw, ldh);
      }
      K.colSums(rows, dh, e, ldh, tp);
      // Wick weights: the totals go to the most common P_u and Λ_{t,u} blocks of the chunk; pairs with
      // another block (a VAR(1) 'prev' pair has P_first at t = 1) move their own term over.
      const blocks = pairBlocks(this.model, c.lengths, this.direction);
      const ensure = (map: BlockWeights, B: Matrix): Float64Array =>
        weightPair(map, map === this.wickP ? this.wickL : this.wickP, B, null, WICK_BLOCK_LIMIT, () => this.applyWick())[0]!;
      const Pstar = blocks.P.common, Lstar = blocks.L.common;
      const wp = ensure(this.wickP, Pstar);
      for (let j = 0; j < dh; j++) wp[j] += H[tp + j];
      if (Lstar !== null) {
        const wl = ensure(this.wickL, Lstar);
        for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) wl[j * dh + k] += H[tw + j * ldh + k];
      }
      let r0 = 0;
      for (let k = 0; k < c.lengths.length; k++) {
        const L = c.lengths[k], infoP = blocks.P.byLength.get(L)!, infoL = blocks.L.byLength.get(L)!;
        for (const i of infoP.other) {
          const t = prev ? i + 1 : i, eo = e + (r0 + t) * ldh;
          const [w, ws] = weightPair(this.wickP, this.wickL, infoP.blocks[i], Pstar, WICK_BLOCK_LIMIT, () => this.applyWick());
          for (let j = 0; j < dh; j++) {
            w![j] += H[eo + j];
            ws![j] -= H[eo + j];
          }
        }
        for (const i of infoL.other) {
          const t = prev ? i + 1 : i, u = prev ? i : i + 1, yo = yt + (r0 + t) * ldh, qo = qp + (r0 + u) * n2;
          const Lb = infoL.blocks[i];
          const [w, ws] = weightPair(this.wickL, this.wickP, Lb, Lstar, WICK_BLOCK_LIMIT, () => this.applyWick());
          for (let j = 0; j < dh; j++)
            for (let kk = 0; kk < dh; kk++) {
              const v = H[yo + j] * H[qo + kk];
              if (w !== null) w[j * dh + kk] += v;
              if (ws !== null) ws[j * dh + kk] -= v;
            }
        }
        r0 += L;
      }
      // The chunk's sums into `sum` (upper triangles k ≤ l with `full`, mirrored at flush).
      if (full) {
        for (let j = 0; j < dh; j++) {
          let m = sc + j * ldq;
          for (let k = 0; k < dh; k++) for (let l = k; l < dh; l++) S[(j * dh + k) * dh + l] += H[m++];
        }
      } else {
        for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) S[j * dh + k] += H[sc + j * ldq + k];
      }
    } finally {
      K.release(mark);
    }
    this.count += pairs;
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

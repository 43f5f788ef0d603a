import { Matrix, matmul } from '../linalg/matrix.js';
import { SampleSums } from './sample-sums.js';
import { SequenceChunk } from '../io/dataset.js';
import { ownRows } from '../learn/pieces.js';
import { MixtureVAR1, scoresFromDerivatives } from '../input/var1-mixture.js';
import { completeBell } from '../input/nongaussian-scores.js';
import { InputModel } from '../input/model.js';
import { AccumulatorSpec, MomentAccumulator, PassData, Target, addOuterRow } from './accumulator.js';
import { T1Accumulator, T2Accumulator } from './single.js';
import { ProjectedMixedAccumulator } from './mixed.js';

/**
 * Moment accumulators for the non-Gaussian VAR(1) input model (src/input/var1-mixture.ts,
 * docs/non-gaussian-inputs.md): the same moments as src/moments/single.ts and mixed.ts, with the scores of
 * src/input/nongaussian-scores.ts specialised to the few contractions the learners need.
 *
 * Per row of a chunk we need the first-order score g_t and the derivatives d^k_t = φ_i⁽ᵏ⁾(z_{t,i}) of the
 * innovation at that row (computed once per chunk and shared by every accumulator of a pass). The second and
 * third derivatives of φ = −log p are sums of rank-one terms over the dx independent components, e.g.
 *   ∇²φ_{t,t} = M0ᵀ diag(d2_t) M0 + M1ᵀ diag(d2_{t+1}) M1,   ∇²φ_{t,t−1} = M0ᵀ diag(d2_t) M1,
 *   ∇³φ[a@t, b@t−1, c@t−1] = Σ_i d3_{t,i} (M0a)_i (M1b)_i (M1c)_i,
 * so a moment's "Wick" part is a LINEAR statistic of y ⊗ d^k (dy·dx numbers per row) that is contracted with the
 * constant matrices M0, M1 only when the result is read. The state (`sum`) holds all these linear statistics,
 * so merging is elementwise addition and the JSON form is the same as every other MomentAccumulator's.
 *
 * Steps used (`firstExactStep` f of the model: 1 for a non-Gaussian model, 0 for a Gaussian one): a moment
 * uses step t only if every one of its modes sits at a step ≥ f (x_0's density is an approximation):
 *   T1, T2: t = f..L−1−skipLast;  mixed 'prev' (t; t−1, t−1): t = f+1..L−1;  mixed 'next' (t; t+1, t+1): t = f..L−2.
 * Pieces of one long sequence (src/learn/pieces.ts): the score and the innovation derivatives of a row read its
 * row and the rows next to it, so with a halo of lag + 1 rows (the mixed moment's u = t ∓ 1 one row further) an own
 * row sees its whole-sequence values and the sequence-boundary tests (t ≥ 1, t + 1 < L, u = 0) answer as in the
 * whole sequence; those step ranges are the accumulators' `stepBounds`.
 */

export interface NGChunkData {
  /** rows×dx first-order scores. */
  g: Float64Array;
  /** rows×order×dx: φ_i⁽ᵏ⁾ of the innovation of each row (zero on the first row of a sequence). */
  d: Float64Array;
  order: number;
}

const cache = new WeakMap<SequenceChunk, { model: MixtureVAR1; data: NGChunkData }>();

/** Scores and innovation derivatives (up to `order`) of every row of a chunk; cached per chunk for one pass. */
export function ngChunkData(model: MixtureVAR1, chunk: SequenceChunk, order: number): NGChunkData {
  const hit = cache.get(chunk);
  if (hit && hit.model === model && hit.data.order >= order) return hit.data;
  const dx = model.dx, rows = chunk.rows;
  if (chunk.dx !== dx) throw new RangeError(`non-Gaussian scores: chunk has dx=${chunk.dx}, input model has dx=${dx}`);
  const g = new Float64Array(rows * dx), d = new Float64Array(rows * order * dx);
  let row = 0;
  for (const L of chunk.lengths) {
    model.innovationDerivatives(chunk.x, L, order, d, row * dx, row * order * dx);
    scoresFromDerivatives(model, chunk.x, L, d, order, g, row * dx, row * dx, row * order * dx);
    row += L;
  }
  const data = { g, d, order };
  cache.set(chunk, { model, data });
  return data;
}

/** Chunk rows of the steps t ∈ [lo, L − hiSkip) of every sequence (only sequences k with mask[k] ≠ 0 if a mask is given). */
function stepRows(lengths: Int32Array, lo: number, hiSkip: number, mask: Uint8Array | null = null): { rows: Int32Array; steps: Int32Array; lens: Int32Array } {
  const rows: number[] = [], steps: number[] = [], lens: number[] = [];
  let r0 = 0;
  if (mask && mask.length !== lengths.length) throw new RangeError(`sequence mask has ${mask.length} entries, the chunk has ${lengths.length} sequences`);
  for (let k = 0; k < lengths.length; k++) {
    const L = lengths[k];
    if (mask && !mask[k]) {
      r0 += L;
      continue;
    }
    for (let t = lo; t < L - hiSkip; t++) {
      rows.push(r0 + t);
      steps.push(t);
      lens.push(L);
    }
    r0 += L;
  }
  return { rows: Int32Array.from(rows), steps: Int32Array.from(steps), lens: Int32Array.from(lens) };
}

/**
 * `stepRows` of a piece with halo rows (src/learn/pieces.ts) reduced to its own rows (for the SampleSums
 * accumulators, which have no `stepBounds`); the selection itself for a chunk without halo.
 */
function ownStepRows(chunk: SequenceChunk, sel: ReturnType<typeof stepRows>): ReturnType<typeof stepRows> {
  const [r0, r1] = ownRows(chunk);
  if (r0 === 0 && r1 === chunk.rows) return sel;
  const keep: number[] = [];
  for (let n = 0; n < sel.rows.length; n++) if (sel.rows[n] >= r0 && sel.rows[n] < r1) keep.push(n);
  const pick = (a: Int32Array) => Int32Array.from(keep, (n) => a[n]);
  return { rows: pick(sel.rows), steps: pick(sel.steps), lens: pick(sel.lens) };
}

/** T1 = mean y_t ⊗ g_t (dy×dx) over t = f..L−1−skipLast. Stein: E[∂y_t/∂x_t]. */
export class NGT1Accumulator extends MomentAccumulator {
  readonly type = 'ngT1' as const;
  override readonly needsScores = false;
  readonly dx: number;
  readonly skipLast: number;
  constructor(readonly model: MixtureVAR1, dy: number, opts: { target?: Target; skipLast?: number } = {}) {
    super(dy * model.dx, dy, opts.target ?? 'y');
    this.dx = model.dx;
    this.skipLast = opts.skipLast ?? 0;
  }
  spec(): AccumulatorSpec {
    return { type: 'ngT1', dy: this.dy, target: this.target, skipLast: this.skipLast };
  }
  protected override stepBounds(): [number, number] {
    return [this.model.firstExactStep, this.skipLast];
  }
  protected accumulate(dd: PassData, y: Float64Array): void {
    const { dx, dy } = this, S = this.sum, { g } = ngChunkData(this.model, dd.chunk, 1);
    const sel = stepRows(dd.chunk.lengths, this.model.firstExactStep, this.skipLast);
    for (const r of sel.rows) for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) S[i * dx + a] += y[r * dy + i] * g[r * dx + a];
    this.count += sel.rows.length;
  }
  result(): Float64Array {
    return this.mean();
  }
}

/**
 * T2 = mean y_t ⊗ S2(t), S2(t) = g_t g_tᵀ − ∇²φ_{t,t} (dy×dx×dx, [i, a, b]). Stein: E[∂²y_t/∂x_t²].
 * State: [Σ y g gᵀ (dy·dx², upper triangle) | Σ y ⊗ d2_t (dy·dx) | Σ y ⊗ d2_{t+1} (dy·dx) | Σ_{t=0} y (dy)].
 */
export class NGT2Accumulator extends MomentAccumulator {
  readonly type = 'ngT2' as const;
  override readonly needsScores = false;
  readonly dx: number;
  readonly skipLast: number;
  /** As T2Accumulator.sequenceMask: only sequences k with mask[k] ≠ 0 enter (rank-rule halves); no spec while set. */
  sequenceMask: Uint8Array | null = null;
  constructor(readonly model: MixtureVAR1, dy: number, opts: { target?: Target; skipLast?: number } = {}) {
    super(dy * model.dx * model.dx + 2 * dy * model.dx + dy, dy, opts.target ?? 'y');
    this.dx = model.dx;
    this.skipLast = opts.skipLast ?? 0;
  }
  spec(): AccumulatorSpec {
    if (this.sequenceMask) throw new Error('non-Gaussian T2 accumulator: a sequence mask is set; clear it before serialising, merging or sending it to a worker');
    return { type: 'ngT2', dy: this.dy, target: this.target, skipLast: this.skipLast };
  }
  protected override stepBounds(): [number, number] {
    return [this.model.firstExactStep, this.skipLast];
  }
  protected override activeMask(): Uint8Array | null {
    return this.sequenceMask;
  }
  protected accumulate(dd: PassData, y: Float64Array): void {
    const { dx, dy } = this, S = this.sum, { g, d, order } = ngChunkData(this.model, dd.chunk, 2);
    const o1 = dy * dx * dx, o2 = o1 + dy * dx, o3 = o2 + dy * dx;
    const sel = stepRows(dd.chunk.lengths, this.model.firstExactStep, this.skipLast, this.sequenceMask);
    for (let n = 0; n < sel.rows.length; n++) {
      const r = sel.rows[n], t = sel.steps[n], L = sel.lens[n], go = r * dx;
      const dc = (r * order + 1) * dx, dn = dc + order * dx;
      for (let i = 0; i < dy; i++) {
        const yi = y[r * dy + i];
        if (yi === 0) continue;
        const b0 = i * dx * dx;
        for (let a = 0; a < dx; a++) {
          const ya = yi * g[go + a];
          for (let b = a; b < dx; b++) S[b0 + a * dx + b] += ya * g[go + b];
        }
        if (t >= 1) for (let k = 0; k < dx; k++) S[o1 + i * dx + k] += yi * d[dc + k];
        if (t + 1 < L) for (let k = 0; k < dx; k++) S[o2 + i * dx + k] += yi * d[dn + k];
        if (t === 0) S[o3 + i] += yi;
      }
    }
    this.count += sel.rows.length;
  }
  /** dy×dx×dx mean, [i, a, b] at (i·dx + a)·dx + b. */
  result(): Float64Array {
    const m = this.mean(), { dx, dy } = this, M0 = this.model.M0.data, M1 = this.model.M1.data, Si = this.model.SigmaInv.data;
    const o1 = dy * dx * dx, o2 = o1 + dy * dx, o3 = o2 + dy * dx;
    const out = new Float64Array(dy * dx * dx);
    for (let i = 0; i < dy; i++)
      for (let a = 0; a < dx; a++)
        for (let b = a; b < dx; b++) {
          let j = 0;
          for (let k = 0; k < dx; k++) j += m[o1 + i * dx + k] * M0[k * dx + a] * M0[k * dx + b] + m[o2 + i * dx + k] * M1[k * dx + a] * M1[k * dx + b];
          j += m[o3 + i] * Si[a * dx + b];
          out[(i * dx + a) * dx + b] = out[(i * dx + b) * dx + a] = m[(i * dx + a) * dx + b] - j;
        }
    return out;
  }
}

/**
 * Projected mixed moment (the quadratic learner's U step with 'prev', the BRNN's V step with 'next'):
 *   C[j, k] = mean ỹ_{t,j} H(t; u, u)[f_j, g_k, g_k],  ỹ = W y,  u = t ∓ 1,
 * H = S3 with one mode at t and two at u (src/input/nongaussian-scores.ts):
 *   H[f, g, g] = p q² − 2 ∇²φ_{t,u}[f, g] q − ∇²φ_{u,u}[g, g] p + ∇³φ[f@t, g@u, g@u],   p = f·g_t, q = g·g_u.
 * Only the innovation e* = max(t, u) involves both steps: with α = M_{e*−t} F and β = M_{e*−u} G (dx×dh),
 *   ∇²φ_{t,u}[f_j, g_k] = Σ_i d2_{e*,i} α_ij β_ik,   ∇³φ[f_j, g_k, g_k] = Σ_i d3_{e*,i} α_ij β_ik²,
 *   ∇²φ_{u,u}[g_k, g_k] = Σ_i d2_{u,i} (M0G)_ik² + Σ_i d2_{u+1,i} (M1G)_ik² (+ g_kᵀΣ⁻¹g_k at u = 0).
 * Per row O(dx·dh² + dy·dh); computed directly per row (every term is data-dependent), state = Σ of the row terms.
 * Same signature and result (dh×dh) as ProjectedMixedAccumulator without `full`.
 */
export class NGProjectedMixedAccumulator extends MomentAccumulator {
  readonly type = 'ngMixedProjected' as const;
  override readonly needsScores = false;
  readonly dx: number;
  readonly dh: number;
  private readonly Wd: Float64Array;
  private readonly Fd: Float64Array;
  private readonly Gd: Float64Array;
  private readonly alpha: Float64Array;
  private readonly beta: Float64Array;
  private readonly M0G: Float64Array;
  private readonly M1G: Float64Array;
  private readonly GSG: Float64Array;
  constructor(
    readonly model: MixtureVAR1,
    dy: number,
    readonly direction: 'prev' | 'next',
    readonly demix: Matrix,
    readonly first: Matrix,
    readonly pair: Matrix,
    opts: { target?: Target } = {},
  ) {
    const dh = demix.rows, dx = model.dx;
    super(dh * dh, dy, opts.target ?? 'y');
    if (demix.cols !== dy || first.rows !== dx || first.cols !== dh || pair.rows !== dx || pair.cols !== dh) {
      throw new RangeError(`non-Gaussian projected mixed accumulator: demix ${demix.rows}x${demix.cols}, first ${first.rows}x${first.cols}, pair ${pair.rows}x${pair.cols}; expected ${dh}x${dy}, ${dx}x${dh}, ${dx}x${dh}`);
    }
    if (direction !== 'prev' && direction !== 'next') throw new RangeError(`non-Gaussian projected mixed accumulator: direction must be 'prev' or 'next', got ${direction}`);
    this.dx = dx;
    this.dh = dh;
    this.Wd = demix.data.slice();
    this.Fd = first.data.slice();
    this.Gd = pair.data.slice();
    const prev = direction === 'prev';
    // e* = t for 'prev' (t at M0, u = t−1 at M1); e* = u = t+1 for 'next' (t at M1, u at M0).
    this.alpha = matmul(prev ? model.M0 : model.M1, first).data;
    this.beta = matmul(prev ? model.M1 : model.M0, pair).data;
    this.M0G = matmul(model.M0, pair).data;
    this.M1G = matmul(model.M1, pair).data;
    const SG = matmul(model.SigmaInv, pair).data;
    this.GSG = new Float64Array(dh);
    for (let k = 0; k < dh; k++) for (let a = 0; a < dx; a++) this.GSG[k] += pair.data[a * dh + k] * SG[a * dh + k];
  }
  spec(): AccumulatorSpec {
    return { type: 'ngMixedProjected', dy: this.dy, direction: this.direction, target: this.target, demix: this.demix.toArray(), first: this.first.toArray(), pair: this.pair.toArray() };
  }
  protected override stepBounds(): [number, number] {
    const f0 = this.model.firstExactStep;
    return this.direction === 'prev' ? [f0 + 1, 0] : [f0, 1];
  }
  protected accumulate(dd: PassData, y: Float64Array): void {
    const { dx, dy, dh } = this, S = this.sum, { g, d, order } = ngChunkData(this.model, dd.chunk, 3);
    const prev = this.direction === 'prev', f0 = this.model.firstExactStep;
    const sel = stepRows(dd.chunk.lengths, prev ? f0 + 1 : f0, prev ? 0 : 1);
    const yt = new Float64Array(dh), p = new Float64Array(dh), q = new Float64Array(dh), juu = new Float64Array(dh);
    const ad2 = new Float64Array(dx * dh), ad3 = new Float64Array(dx * dh);
    const { alpha, beta, M0G, M1G, Wd, Fd, Gd } = this;
    for (let n = 0; n < sel.rows.length; n++) {
      const r = sel.rows[n], t = sel.steps[n], L = sel.lens[n];
      const u = prev ? t - 1 : t + 1, ru = prev ? r - 1 : r + 1, re = prev ? r : ru;
      for (let j = 0; j < dh; j++) {
        let w = 0, pj = 0, qj = 0;
        for (let i = 0; i < dy; i++) w += Wd[j * dy + i] * y[r * dy + i];
        for (let a = 0; a < dx; a++) {
          pj += Fd[a * dh + j] * g[r * dx + a];
          qj += Gd[a * dh + j] * g[ru * dx + a];
        }
        yt[j] = w;
        p[j] = pj;
        q[j] = qj;
      }
      // ∇²φ_{u,u}[g_k, g_k]
      juu.fill(0);
      if (u >= 1) {
        const du = (ru * order + 1) * dx;
        for (let i = 0; i < dx; i++) for (let k = 0; k < dh; k++) juu[k] += d[du + i] * M0G[i * dh + k] ** 2;
      }
      if (u + 1 < L) {
        const dn = ((ru + 1) * order + 1) * dx;
        for (let i = 0; i < dx; i++) for (let k = 0; k < dh; k++) juu[k] += d[dn + i] * M1G[i * dh + k] ** 2;
      }
      if (u === 0) for (let k = 0; k < dh; k++) juu[k] += this.GSG[k];
      // d2, d3 of the shared innovation times α
      const de = (re * order + 1) * dx;
      for (let i = 0; i < dx; i++)
        for (let j = 0; j < dh; j++) {
          ad2[i * dh + j] = d[de + i] * alpha[i * dh + j];
          ad3[i * dh + j] = d[de + dx + i] * alpha[i * dh + j];
        }
      for (let j = 0; j < dh; j++) {
        const yj = yt[j];
        if (yj === 0) continue;
        for (let k = 0; k < dh; k++) {
          let jtu = 0, k3 = 0;
          for (let i = 0; i < dx; i++) {
            const b = beta[i * dh + k];
            jtu += ad2[i * dh + j] * b;
            k3 += ad3[i * dh + j] * b * b;
          }
          S[j * dh + k] += yj * (p[j] * q[k] * q[k] - 2 * jtu * q[k] - juu[k] * p[j] + k3);
        }
      }
    }
    this.count += sel.rows.length;
  }
  /** dh×dh mean, [j, k] = C[j, k, k]. */
  result(): Float64Array {
    return this.mean();
  }
}

/**
 * The accumulator for the input model at hand: the Gaussian ones (constant Wick blocks) for a Gaussian model, the
 * non-Gaussian ones for a MixtureVAR1. The learners build their moments through these so that an input model
 * plugs in without the learner knowing which it is.
 */
export function t2For(model: InputModel, dy: number, opts: { target?: Target; skipLast?: number } = {}): T2Accumulator | NGT2Accumulator {
  return model instanceof MixtureVAR1 ? new NGT2Accumulator(model, dy, opts) : new T2Accumulator(model, dy, opts);
}

export function t1For(model: InputModel, dy: number, opts: { target?: Target; skipLast?: number } = {}): MomentAccumulator {
  return model instanceof MixtureVAR1 ? new NGT1Accumulator(model, dy, opts) : new T1Accumulator(model, dy, opts);
}

export function projectedMixedFor(model: InputModel, dy: number, direction: 'prev' | 'next', demix: Matrix, first: Matrix, pair: Matrix, opts: { target?: Target } = {}): MomentAccumulator {
  return model instanceof MixtureVAR1
    ? new NGProjectedMixedAccumulator(model, dy, direction, demix, first, pair, opts)
    : new ProjectedMixedAccumulator(model, dy, direction, demix, first, pair, opts);
}

/**
 * The polynomial learner's diagonal moments for the non-Gaussian model (same shapes as DiagonalHermiteAccumulator
 * of src/moments/higher.ts, 'P1' and 'P2prime'), on the columns a = g_j of G (dx×dh):
 *   'P1'      mean y_i S_l[a, …, a] at step t = B_l(κ^a),   κ^a_n = (−1)^{n+1} ∇ⁿφ[a, …, a @ t]     (dy×dh)
 *   'P2prime' mean y_i H(t^{l−1}; t−1)[g_j^{l−1}, g_k]
 *             = p_k B_{l−1}(κ^a) + Σ_{m=1}^{l−1} C(l−1, m) κ^{ab}_m B_{l−1−m}(κ^a),                 (dy×dh×dh)
 *             b = g_k at t−1, p_k = b·g_{t−1}, κ^{ab}_m = (−1)^m Σ_i d^{m+1}_{t,i} (M0a)_i^m (M1b)_i
 * (B the complete Bell polynomials; the partition sum of src/input/nongaussian-scores.ts grouped by how many of
 * the l−1 equal modes share a block with b). Steps: 'P1' t = f..L−1−skipLast; 'P2prime' t = f+1..L−1 (and ≥ 1).
 * Degree l ≤ 4 (derivatives of the 1-D mixtures up to order 4).
 */
export class NGDiagonalAccumulator extends SampleSums {
  readonly dx: number;
  readonly dh: number;
  // Public (read-only) for the SQL form of this accumulator (src/sql/nongaussian-passes.ts), which inlines them.
  readonly skipLast: number;
  readonly A0: Float64Array; // M0 G (dx×dh)
  readonly A1: Float64Array; // M1 G (dx×dh)
  readonly GSG: Float64Array; // g_jᵀ Σ⁻¹ g_j
  constructor(readonly model: MixtureVAR1, readonly dy: number, readonly G: Matrix, readonly kind: 'P1' | 'P2prime', readonly degree: number, opts: { skipLast?: number } = {}) {
    super();
    if (G.rows !== model.dx) throw new RangeError(`NGDiagonalAccumulator: G has ${G.rows} rows, expected dx = ${model.dx}`);
    if (!Number.isInteger(degree) || degree < 2 || degree > 4) throw new RangeError(`NGDiagonalAccumulator: degree must be 2, 3 or 4, got ${degree}`);
    this.dx = model.dx;
    this.dh = G.cols;
    this.sum = new Float64Array(kind === 'P1' ? dy * this.dh : dy * this.dh * this.dh);
    this.skipLast = opts.skipLast ?? 0;
    this.A0 = matmul(model.M0, G).data;
    this.A1 = matmul(model.M1, G).data;
    const SG = matmul(model.SigmaInv, G).data;
    this.GSG = new Float64Array(this.dh);
    for (let j = 0; j < this.dh; j++) for (let a = 0; a < this.dx; a++) this.GSG[j] += G.data[a * this.dh + j] * SG[a * this.dh + j];
  }

  add(chunk: SequenceChunk, y: Float64Array): this {
    const { dx, dh, dy, degree: l, kind, A0, A1 } = this, S = this.sum, Gd = this.G.data;
    if (y.length !== chunk.rows * dy) throw new RangeError(`NGDiagonalAccumulator: y has ${y.length} values, expected rows·dy = ${chunk.rows * dy}`);
    const { g, d, order } = ngChunkData(this.model, chunk, l);
    const f0 = this.model.firstExactStep;
    const sel = ownStepRows(chunk, kind === 'P1' ? stepRows(chunk.lengths, f0, this.skipLast) : stepRows(chunk.lengths, Math.max(1, f0 + 1), 0));
    const kap = new Float64Array(l + 1), B = new Float64Array(dh * (l + 1)), tmp = new Float64Array(l + 1), p = new Float64Array(dh);
    const feat = new Float64Array(kind === 'P1' ? dh : dh * dh), F = feat.length;
    const binom = [1, l - 1, ((l - 1) * (l - 2)) / 2, ((l - 1) * (l - 2) * (l - 3)) / 6];
    for (let n = 0; n < sel.rows.length; n++) {
      const r = sel.rows[n], t = sel.steps[n], L = sel.lens[n];
      for (let j = 0; j < dh; j++) {
        let q = 0;
        for (let a = 0; a < dx; a++) q += Gd[a * dh + j] * g[r * dx + a];
        kap[1] = q;
        for (let m = 2; m <= l; m++) {
          let v = 0;
          if (t >= 1) for (let i = 0, o = (r * order + m - 1) * dx; i < dx; i++) v += d[o + i] * A0[i * dh + j] ** m;
          if (t + 1 < L) for (let i = 0, o = ((r + 1) * order + m - 1) * dx; i < dx; i++) v += d[o + i] * A1[i * dh + j] ** m;
          if (t === 0 && m === 2) v += this.GSG[j];
          kap[m] = m % 2 === 1 ? v : -v;
        }
        completeBell(kap, l, tmp);
        B.set(tmp, j * (l + 1));
      }
      if (kind === 'P1') for (let j = 0; j < dh; j++) feat[j] = B[j * (l + 1) + l];
      else {
        for (let k = 0; k < dh; k++) {
          let v = 0;
          for (let a = 0; a < dx; a++) v += Gd[a * dh + k] * g[(r - 1) * dx + a];
          p[k] = v;
        }
        for (let j = 0; j < dh; j++)
          for (let k = 0; k < dh; k++) {
            let h = p[k] * B[j * (l + 1) + l - 1];
            for (let m = 1; m <= l - 1; m++) {
              let v = 0;
              for (let i = 0, o = (r * order + m) * dx; i < dx; i++) v += d[o + i] * A0[i * dh + j] ** m * A1[i * dh + k];
              h += binom[m] * (m % 2 === 0 ? v : -v) * B[j * (l + 1) + l - 1 - m];
            }
            feat[j * dh + k] = h;
          }
      }
      addOuterRow(S, y, r * dy, dy, feat, F);
    }
    this.count += sel.rows.length;
    return this;
  }

  protected label(): string {
    return `NGDiagonalAccumulator (${this.kind})`;
  }
}

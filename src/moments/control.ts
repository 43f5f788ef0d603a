import { Matrix } from '../linalg/matrix.js';
import { cholesky, choleskySolve } from '../linalg/cholesky.js';
import { SequenceChunk } from '../io/dataset.js';
import { AccumulatorSpec, MomentAccumulator, PassData, ResidualFunction } from './accumulator.js';

/**
 * Control variate (DESIGN.md §5 step 4): regress y_t on all monomials of degree ≤ 2 in
 * (x_{t−1}, x_t, x_{t+1}) and use the residual r_t = y_t − ĝ(x) for every moment of order ≥ 3.
 *
 * Why it stays unbiased: Stein gives E[r_t ⊗ H] = E[∂³y_t] − E[∂³ĝ], and every third derivative of a
 * degree-2 polynomial vanishes (in particular ∂_{x_t}∂²_{x_{t−1}} and ∂_{x_t}∂²_{x_{t+1}}), so only the
 * variance changes (DESIGN.md measured a 3–6× smaller mixed-moment error). NOT valid for T2: ĝ's second
 * derivative ∂²_{x_t} is not zero.
 *
 * Boundary convention: a missing neighbour (t = 0 has no x_{t−1}, t = L−1 has no x_{t+1}) is ZERO-FILLED
 * (after centring), and two indicator features `hasPrev`, `hasNext` let the intercept differ at the
 * boundaries. The features of each position class are still a degree-2 polynomial of the present
 * steps, so the argument above is unaffected.
 *
 * Features (p of them), with c = x − center:
 *   [1, hasPrev, hasNext, c_{t−1} (dx), c_t (dx), c_{t+1} (dx), quadratic monomials]
 * where the quadratic part depends on `quadratic`:
 *   'full'    — all z_a z_b, a ≤ b, of z = [c_{t−1}; c_t; c_{t+1}] (3dx(3dx+1)/2 terms);
 *   'current' — c_{t,a} c_{t,b}, a ≤ b, only (dx(dx+1)/2 terms);
 *   'none'    — linear only.
 * Default: 'full' while it has ≤ 256 features (dx ≤ 7), else 'current' while that has ≤ 600 features
 * (dx ≤ 31), else 'none', with a warning: the normal equations cost p²/2 multiply-adds per sample and p²
 * memory (full at dx = 19 would be 1713 features, ≈1.5e6 multiply-adds per sample). Any of the three
 * keeps the mixed moments unbiased; only the variance reduction differs. y_t depends on x_t most
 * directly (quadratically), so 'current' keeps most of the benefit.
 *
 * State: sum = [Σ φφᵀ (p×p; the upper-triangle entries of distinct monomials accumulated, the others copied
 * and mirrored at flush, see `gramPlan`), Σ φ yᵀ (p×dy), Σ y (dy), Σ y² (dy)].
 */
export type QuadraticMode = 'full' | 'current' | 'none';

export const MAX_FULL_FEATURES = 256;
export const MAX_CURRENT_FEATURES = 600;

export function defaultQuadraticMode(dx: number): QuadraticMode {
  if (featureCount(dx, 'full') <= MAX_FULL_FEATURES) return 'full';
  if (featureCount(dx, 'current') <= MAX_CURRENT_FEATURES) return 'current';
  return 'none';
}

export function featureCount(dx: number, mode: QuadraticMode): number {
  const lin = 3 + 3 * dx;
  if (mode === 'full') return lin + (3 * dx * (3 * dx + 1)) / 2;
  if (mode === 'current') return lin + (dx * (dx + 1)) / 2;
  return lin;
}

/**
 * Write the features of every row of a chunk into `out` (rows×p). Shared by the accumulator and the
 * fitted residual function so both use the same definition.
 */
export function controlFeatures(chunk: SequenceChunk, center: Float64Array, mode: QuadraticMode, out?: Float64Array): Float64Array {
  const dx = chunk.dx, p = featureCount(dx, mode);
  const F = out ?? new Float64Array(chunk.rows * p);
  const z = new Float64Array(3 * dx);
  let row = 0;
  for (let k = 0; k < chunk.lengths.length; k++) {
    const L = chunk.lengths[k];
    for (let t = 0; t < L; t++, row++) rowFeatures(chunk.x, dx, row, t, L, center, mode, z, F, row * p);
  }
  return F;
}

/**
 * Features of one row (step t of a length-L sequence at chunk row `row`) written to out[o, o + p).
 * `z` is a scratch array of length 3·dx. One definition for the accumulator and the residual.
 */
function rowFeatures(
  x: Float64Array,
  dx: number,
  row: number,
  t: number,
  L: number,
  center: Float64Array,
  mode: QuadraticMode,
  z: Float64Array,
  out: Float64Array,
  o: number,
): void {
  const hasPrev = t > 0, hasNext = t < L - 1;
  for (let a = 0; a < dx; a++) {
    z[a] = hasPrev ? x[(row - 1) * dx + a] - center[a] : 0;
    z[dx + a] = x[row * dx + a] - center[a];
    z[2 * dx + a] = hasNext ? x[(row + 1) * dx + a] - center[a] : 0;
  }
  out[o++] = 1;
  out[o++] = hasPrev ? 1 : 0;
  out[o++] = hasNext ? 1 : 0;
  for (let a = 0; a < 3 * dx; a++) out[o++] = z[a];
  if (mode === 'full') {
    for (let a = 0; a < 3 * dx; a++) {
      const za = z[a];
      for (let b = a; b < 3 * dx; b++) out[o++] = za * z[b];
    }
  } else if (mode === 'current') {
    for (let a = dx; a < 2 * dx; a++) {
      const za = z[a];
      for (let b = a; b < 2 * dx; b++) out[o++] = za * z[b];
    }
  }
}

/**
 * Which Gram entries Σ φ_A φ_B the accumulator sums, and which it copies. Linear and quadratic features are
 * monomials in z (z_a; z_a z_b with a ≤ b, in lexicographic order), so their products are monomials of degree 3
 * or 4 that many entries share: Σ (z_a z_b)(z_c z_d) depends only on the multiset {a, b, c, d}. Each monomial is
 * summed once, at the entry whose factors are its sorted indices split as (s0 s1)(s2 s3) (degree 4) or
 * (s0)(s1 s2) (degree 3): row z_a z_b (or z_a) needs only the quadratic columns z_c z_d with c ≥ b (or c ≥ a), a
 * contiguous tail [skipTo, p) of the row; the columns [skipFrom, skipTo) are copied at flush (fillDst ← fillSrc).
 * For 'full' with dx = 4 (93 features) this sums 2 083 of the 4 371 upper-triangle entries per row. The sums are
 * the same products as before in the same row order, so the Gram is unchanged up to rounding.
 */
interface GramPlan {
  skipFrom: Int32Array;
  skipTo: Int32Array;
  fillDst: Int32Array;
  fillSrc: Int32Array;
  /**
   * Gram rows are summed two at a time (rows 2q and 2q + 1): runs of columns [from, to) with kind 1 (row 2q
   * only), 2 (row 2q + 1 only) or 3 (both), flat triples; pair q's runs are segs[segStart[q] .. segStart[q + 1]).
   */
  segStart: Int32Array;
  segs: Int32Array;
}
const gramPlans = new Map<string, GramPlan>();

function gramPlan(dx: number, mode: QuadraticMode): GramPlan {
  const key = `${dx}:${mode}`;
  let plan = gramPlans.get(key);
  if (!plan) gramPlans.set(key, (plan = makeGramPlan(dx, mode)));
  return plan;
}

function makeGramPlan(dx: number, mode: QuadraticMode): GramPlan {
  const p = featureCount(dx, mode), n3 = 3 * dx, qo = 3 + n3;
  const skipFrom = new Int32Array(p), skipTo = new Int32Array(p);
  for (let A = 0; A < p; A++) skipFrom[A] = skipTo[A] = A; // default: the whole row [A, p)
  if (mode === 'none') return { skipFrom, skipTo, fillDst: new Int32Array(0), fillSrc: new Int32Array(0), ...pairRuns(p, skipFrom, skipTo) };
  const lo = mode === 'current' ? dx : 0, hi = mode === 'current' ? 2 * dx : n3;
  // Quadratic feature index of z_c z_d (lo ≤ c ≤ d < hi) and the factors of every linear / quadratic feature.
  const qIndex = new Int32Array(n3 * n3).fill(-1);
  const factors: number[][] = [];
  for (let A = 0; A < 3; A++) factors.push([]);
  for (let a = 0; a < n3; a++) factors.push([a]);
  let o = qo;
  for (let c = lo; c < hi; c++) for (let d = c; d < hi; d++) { qIndex[c * n3 + d] = o++; factors.push([c, d]); }
  for (let a = lo; a < hi; a++) {
    skipFrom[3 + a] = qo;
    skipTo[3 + a] = qIndex[a * n3 + a];
  }
  for (let c = lo; c < hi; c++) for (let d = c; d < hi; d++) {
    const P = qIndex[c * n3 + d];
    skipFrom[P] = P;
    skipTo[P] = qIndex[d * n3 + d];
  }
  const dst: number[] = [], src: number[] = [];
  for (let A = 3; A < p; A++) {
    for (let B = skipFrom[A]; B < skipTo[A]; B++) {
      const s = [...factors[A], ...factors[B]].sort((u, v) => u - v);
      const from = s.length === 4 ? qIndex[s[0] * n3 + s[1]] * p + qIndex[s[2] * n3 + s[3]] : (3 + s[0]) * p + qIndex[s[1] * n3 + s[2]];
      const fr = Math.floor(from / p), fc = from % p;
      // The source must be an entry the accumulator sums (a plan bug otherwise, not a data error).
      if (!(fc >= fr && (fc < skipFrom[fr] || fc >= skipTo[fr]))) throw new Error(`ControlVariate: internal Gram plan error at (${A}, ${B})`);
      dst.push(A * p + B);
      src.push(from);
    }
  }
  return { skipFrom, skipTo, fillDst: Int32Array.from(dst), fillSrc: Int32Array.from(src), ...pairRuns(p, skipFrom, skipTo) };
}

/** The column runs of `GramPlan.segs` from the per-row column sets [A, skipFrom[A]) ∪ [skipTo[A], p). */
function pairRuns(p: number, skipFrom: Int32Array, skipTo: Int32Array): { segStart: Int32Array; segs: Int32Array } {
  const inRow = (A: number, B: number): boolean => A < p && B >= A && (B < skipFrom[A] || B >= skipTo[A]);
  const nPairs = Math.ceil(p / 2);
  const segStart = new Int32Array(nPairs + 1);
  const segs: number[] = [];
  for (let q = 0; q < nPairs; q++) {
    segStart[q] = segs.length;
    const a = 2 * q;
    let runKind = 0, runFrom = a;
    for (let b = a; b <= p; b++) {
      const kind = b < p ? (inRow(a, b) ? 1 : 0) | (inRow(a + 1, b) ? 2 : 0) : -1;
      if (kind !== runKind) {
        if (runKind > 0) segs.push(runFrom, b, runKind);
        runKind = kind;
        runFrom = b;
      }
    }
  }
  segStart[nPairs] = segs.length;
  return { segStart, segs: Int32Array.from(segs) };
}

export interface ControlVariateOptions {
  quadratic?: QuadraticMode;
  /** Centre subtracted from x before forming monomials (e.g. the input model mean). Default 0. */
  center?: ArrayLike<number>;
}

/** Streaming normal equations of y_t on the control-variate features (mergeable). */
export class ControlVariate extends MomentAccumulator {
  readonly type = 'controlVariate' as const;
  override readonly needsScores = false;
  readonly dx: number;
  readonly p: number;
  readonly quadratic: QuadraticMode;
  readonly center: Float64Array;
  readonly warnings: string[] = [];
  private feat = new Float64Array(0);
  /** Row a of the Gram accumulates columns [a, skipFrom[a]) and [skipTo[a], p) only (see `gramPlan`). */
  private readonly skipFrom: Int32Array;
  private readonly skipTo: Int32Array;
  /** Entries (flat, upper triangle) copied at flush from the accumulated entry of the same monomial. */
  private readonly fillDst: Int32Array;
  private readonly fillSrc: Int32Array;
  private readonly segStart: Int32Array;
  private readonly segs: Int32Array;

  constructor(dx: number, dy: number, opts: ControlVariateOptions = {}) {
    const mode = opts.quadratic ?? defaultQuadraticMode(dx);
    const p = featureCount(dx, mode);
    super(p * p + p * dy + 2 * dy, dy, 'y');
    this.dx = dx;
    this.p = p;
    this.quadratic = mode;
    this.center = opts.center ? Float64Array.from(opts.center) : new Float64Array(dx);
    if (this.center.length !== dx) throw new RangeError(`ControlVariate: center has length ${this.center.length}, expected dx=${dx}`);
    const plan = gramPlan(dx, mode);
    this.skipFrom = plan.skipFrom;
    this.skipTo = plan.skipTo;
    this.fillDst = plan.fillDst;
    this.fillSrc = plan.fillSrc;
    this.segStart = plan.segStart;
    this.segs = plan.segs;
    if (opts.quadratic === undefined && mode !== 'full') {
      this.warnings.push(
        `control variate: the full degree-2 regression on (x_{t−1}, x_t, x_{t+1}) would have ${featureCount(dx, 'full')} features ` +
          `(cost p²/2 per sample); using quadratic = '${mode}' (${p} features) instead. Variance reduction will be smaller; the moments stay unbiased.`,
      );
    }
  }

  spec(): AccumulatorSpec {
    return { type: 'controlVariate', dx: this.dx, dy: this.dy, quadratic: this.quadratic, center: Array.from(this.center) };
  }

  protected accumulate(d: PassData, y: Float64Array): void {
    const c = d.chunk, p = this.p, dy = this.dy, S = this.sum;
    if (c.dx !== this.dx) throw new RangeError(`ControlVariate: chunk has dx=${c.dx}, expected ${this.dx}`);
    if (this.feat.length < c.rows * p) this.feat = new Float64Array(c.rows * p);
    const F = controlFeatures(c, this.center, this.quadratic, this.feat);
    const oB = p * p, oY = oB + p * dy, oY2 = oY + dy;
    const skipFrom = this.skipFrom, skipTo = this.skipTo, segStart = this.segStart, segs = this.segs;
    // Gram matrix Σ φφᵀ (upper triangle), four rows at a time so each S entry is loaded/stored once per 4 rows.
    let r0 = 0;
    for (; r0 + 3 < c.rows; r0 += 4) {
      const f0 = r0 * p, f1 = f0 + p, f2 = f1 + p, f3 = f2 + p;
      // Two Gram rows a, a + 1 at a time: each loaded F[·, b] feeds 8 multiply-adds where both rows need column b.
      for (let q = 0, a = 0; a < p; q++, a += 2) {
        const w0 = F[f0 + a], w1 = F[f1 + a], w2 = F[f2 + a], w3 = F[f3 + a];
        const v0 = a + 1 < p ? F[f0 + a + 1] : 0, v1 = a + 1 < p ? F[f1 + a + 1] : 0;
        const v2 = a + 1 < p ? F[f2 + a + 1] : 0, v3 = a + 1 < p ? F[f3 + a + 1] : 0;
        // zero-filled boundary features
        if (w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && v0 === 0 && v1 === 0 && v2 === 0 && v3 === 0) continue;
        const ba = a * p, bb = ba + p;
        for (let k = segStart[q], kEnd = segStart[q + 1]; k < kEnd; k += 3) {
          const from = segs[k], to = segs[k + 1], kind = segs[k + 2];
          if (kind === 3) {
            for (let b = from; b < to; b++) {
              const t0 = F[f0 + b], t1 = F[f1 + b], t2 = F[f2 + b], t3 = F[f3 + b];
              S[ba + b] += w0 * t0 + w1 * t1 + w2 * t2 + w3 * t3;
              S[bb + b] += v0 * t0 + v1 * t1 + v2 * t2 + v3 * t3;
            }
          } else if (kind === 1) {
            for (let b = from; b < to; b++) S[ba + b] += w0 * F[f0 + b] + w1 * F[f1 + b] + w2 * F[f2 + b] + w3 * F[f3 + b];
          } else {
            for (let b = from; b < to; b++) S[bb + b] += v0 * F[f0 + b] + v1 * F[f1 + b] + v2 * F[f2 + b] + v3 * F[f3 + b];
          }
        }
      }
    }
    for (; r0 < c.rows; r0++) {
      const fo = r0 * p;
      for (let a = 0; a < p; a++) {
        const fa = F[fo + a];
        if (fa === 0) continue;
        const ba = a * p, e = skipFrom[a];
        for (let b = a; b < e; b++) S[ba + b] += fa * F[fo + b];
        for (let b = skipTo[a]; b < p; b++) S[ba + b] += fa * F[fo + b];
      }
    }
    // Σ φ yᵀ, four rows at a time as well.
    let r1 = 0;
    for (; r1 + 3 < c.rows; r1 += 4) {
      const f0 = r1 * p, f1 = f0 + p, f2 = f1 + p, f3 = f2 + p, yo = r1 * dy;
      for (let i = 0; i < dy; i++) {
        const y0 = y[yo + i], y1 = y[yo + dy + i], y2 = y[yo + 2 * dy + i], y3 = y[yo + 3 * dy + i];
        for (let a = 0, o = oB + i; a < p; a++, o += dy) S[o] += F[f0 + a] * y0 + F[f1 + a] * y1 + F[f2 + a] * y2 + F[f3 + a] * y3;
      }
    }
    for (; r1 < c.rows; r1++) {
      const fo = r1 * p, yo = r1 * dy;
      for (let a = 0; a < p; a++) {
        const fa = F[fo + a];
        const bb = oB + a * dy;
        for (let i = 0; i < dy; i++) S[bb + i] += fa * y[yo + i];
      }
    }
    for (let r = 0; r < c.rows; r++) {
      const yo = r * dy;
      for (let i = 0; i < dy; i++) {
        const yi = y[yo + i];
        S[oY + i] += yi;
        S[oY2 + i] += yi * yi;
      }
    }
    this.count += c.rows;
  }

  protected override flush(): void {
    const p = this.p, S = this.sum, dst = this.fillDst, src = this.fillSrc;
    for (let k = 0; k < dst.length; k++) S[dst[k]] = S[src[k]];
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) S[a * p + b] = S[b * p + a];
  }

  /** Mean of φφᵀ, φyᵀ, y, y² in the state layout (mostly for inspection). */
  result(): Float64Array {
    return this.mean();
  }

  /**
   * Solve the normal equations: coefficients β (p×dy) minimising Σ‖y_t − βᵀφ_t‖². Features are scaled
   * to unit mean square and a tiny ridge (1e-9, relative) is added so exactly collinear features
   * (e.g. all sequences of length 1 ⇒ hasPrev ≡ 0) get zero weight instead of an error.
   */
  solve(): ControlVariateFit {
    if (this.count < this.p) {
      this.warnings.push(`control variate: only ${this.count} samples for ${this.p} features; the fit is ridge-dominated`);
    }
    if (this.count === 0) throw new Error('control variate: no samples were added');
    const p = this.p, dy = this.dy, S = this.sum;
    const scaleV = new Float64Array(p);
    for (let a = 0; a < p; a++) {
      const d = S[a * p + a];
      scaleV[a] = d > 0 ? 1 / Math.sqrt(d) : 0;
    }
    const A = new Matrix(p, p);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) A.data[a * p + b] = S[a * p + b] * scaleV[a] * scaleV[b];
    for (let a = 0; a < p; a++) A.data[a * p + a] += scaleV[a] > 0 ? 1e-9 : 1;
    const B = new Matrix(p, dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) B.data[a * dy + i] = S[p * p + a * dy + i] * scaleV[a];
    const X = choleskySolve(cholesky(A), B);
    const coef = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) coef[a * dy + i] = X.data[a * dy + i] * scaleV[a];
    // R² per output from the sums: RSS = Σy² − 2βᵀ(Σφy) + βᵀ(Σφφᵀ)β.
    const r2: number[] = [];
    const n = this.count;
    for (let i = 0; i < dy; i++) {
      let bB = 0, bAb = 0;
      for (let a = 0; a < p; a++) {
        const ba = coef[a * dy + i];
        if (ba === 0) continue;
        bB += ba * S[p * p + a * dy + i];
        let v = 0;
        for (let b = 0; b < p; b++) v += S[a * p + b] * coef[b * dy + i];
        bAb += ba * v;
      }
      const sy = S[p * p + p * dy + i], syy = S[p * p + p * dy + dy + i];
      const tss = syy - (sy * sy) / n;
      const rss = Math.max(0, syy - 2 * bB + bAb);
      r2.push(tss > 0 ? 1 - rss / tss : 0);
    }
    return new ControlVariateFit(this.dx, dy, this.quadratic, this.center, coef, r2);
  }
}

export interface ControlVariateFitJSON {
  dx: number;
  dy: number;
  quadratic: QuadraticMode;
  center: number[];
  coef: number[];
  r2: number[];
}

/** Fitted control variate ĝ: residual r_t = y_t − ĝ(x_{t−1}, x_t, x_{t+1}). */
export class ControlVariateFit implements ResidualFunction {
  readonly p: number;
  constructor(
    readonly dx: number,
    readonly dy: number,
    readonly quadratic: QuadraticMode,
    readonly center: Float64Array,
    /** p×dy coefficients, feature-major. */
    readonly coef: Float64Array,
    /** Fraction of the variance of each output explained by ĝ (in-sample). */
    readonly r2: number[],
  ) {
    this.p = featureCount(dx, quadratic);
    if (coef.length !== this.p * dy) throw new RangeError(`ControlVariateFit: coef has ${coef.length} values, expected ${this.p}x${dy}`);
  }

  /** rows×dy residuals y_t − ĝ for every row of the chunk. */
  residualChunk(chunk: SequenceChunk): Float64Array {
    if (chunk.dx !== this.dx || chunk.dy !== this.dy) throw new RangeError(`control variate: chunk is dx=${chunk.dx}, dy=${chunk.dy}; fitted for dx=${this.dx}, dy=${this.dy}`);
    const p = this.p, dx = this.dx, dy = this.dy, y = chunk.y, x = chunk.x, center = this.center;
    // ĝ_i(z) = c_i·φ(z): the features of two rows go to p-long scratch vectors (a rows×p feature array per chunk
    // cost most of the mixed-moment pass in memory traffic), then four outputs at a time take their dot products
    // with them against output-major coefficients (Ct[i·p + a]): each loaded coefficient feeds both rows, each
    // φ_a four outputs. Same features as `controlFeatures`.
    const Ct = this.coefT();
    const rows = chunk.rows, out = new Float64Array(rows * dy);
    const n3 = 3 * dx, z = new Float64Array(n3), phiA = new Float64Array(p), phiB = new Float64Array(p);
    const lo = this.quadratic === 'current' ? dx : 0, hi = this.quadratic === 'current' ? 2 * dx : this.quadratic === 'full' ? n3 : 0;
    // Step t and length L of every row.
    const tOf = new Int32Array(rows), LOf = new Int32Array(rows);
    for (let k = 0, r = 0; k < chunk.lengths.length; k++) {
      const L = chunk.lengths[k];
      for (let t = 0; t < L; t++, r++) {
        tOf[r] = t;
        LOf[r] = L;
      }
    }
    const features = (r: number, phi: Float64Array): void => {
      const t = tOf[r], hasPrev = t > 0, hasNext = t < LOf[r] - 1;
      const xo = r * dx;
      if (hasPrev) for (let a = 0; a < dx; a++) z[a] = x[xo - dx + a] - center[a];
      else for (let a = 0; a < dx; a++) z[a] = 0;
      for (let a = 0; a < dx; a++) z[dx + a] = x[xo + a] - center[a];
      if (hasNext) for (let a = 0; a < dx; a++) z[2 * dx + a] = x[xo + dx + a] - center[a];
      else for (let a = 0; a < dx; a++) z[2 * dx + a] = 0;
      phi[0] = 1;
      phi[1] = hasPrev ? 1 : 0;
      phi[2] = hasNext ? 1 : 0;
      let o = 3;
      for (let a = 0; a < n3; a++) phi[o++] = z[a];
      for (let a = lo; a < hi; a++) {
        const za = z[a];
        for (let b = a; b < hi; b++) phi[o++] = za * z[b];
      }
    };
    let r = 0;
    for (; r + 1 < rows; r += 2) {
      features(r, phiA);
      features(r + 1, phiB);
      const yo = r * dy, yp = yo + dy;
      let i = 0;
      for (; i + 3 < dy; i += 4) {
        const c0 = i * p, c1 = c0 + p, c2 = c1 + p, c3 = c2 + p;
        let g0 = 0, g1 = 0, g2 = 0, g3 = 0, h0 = 0, h1 = 0, h2 = 0, h3 = 0;
        for (let a = 0; a < p; a++) {
          const f = phiA[a], e = phiB[a];
          const k0 = Ct[c0 + a], k1 = Ct[c1 + a], k2 = Ct[c2 + a], k3 = Ct[c3 + a];
          g0 += k0 * f;
          g1 += k1 * f;
          g2 += k2 * f;
          g3 += k3 * f;
          h0 += k0 * e;
          h1 += k1 * e;
          h2 += k2 * e;
          h3 += k3 * e;
        }
        out[yo + i] = y[yo + i] - g0;
        out[yo + i + 1] = y[yo + i + 1] - g1;
        out[yo + i + 2] = y[yo + i + 2] - g2;
        out[yo + i + 3] = y[yo + i + 3] - g3;
        out[yp + i] = y[yp + i] - h0;
        out[yp + i + 1] = y[yp + i + 1] - h1;
        out[yp + i + 2] = y[yp + i + 2] - h2;
        out[yp + i + 3] = y[yp + i + 3] - h3;
      }
      for (; i < dy; i++) {
        const c0 = i * p;
        let g0 = 0, h0 = 0;
        for (let a = 0; a < p; a++) {
          const k0 = Ct[c0 + a];
          g0 += k0 * phiA[a];
          h0 += k0 * phiB[a];
        }
        out[yo + i] = y[yo + i] - g0;
        out[yp + i] = y[yp + i] - h0;
      }
    }
    if (r < rows) {
      features(r, phiA);
      const yo = r * dy;
      for (let i = 0; i < dy; i++) {
        const c0 = i * p;
        let g0 = 0;
        for (let a = 0; a < p; a++) g0 += Ct[c0 + a] * phiA[a];
        out[yo + i] = y[yo + i] - g0;
      }
    }
    return out;
  }

  private coefTCache: Float64Array | null = null;
  /** Coefficients output-major: [i·p + a] = coef[a·dy + i]. */
  private coefT(): Float64Array {
    if (this.coefTCache) return this.coefTCache;
    const p = this.p, dy = this.dy, C = this.coef, T = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) T[i * p + a] = C[a * dy + i];
    return (this.coefTCache = T);
  }


  toJSON(): ControlVariateFitJSON {
    return { dx: this.dx, dy: this.dy, quadratic: this.quadratic, center: Array.from(this.center), coef: Array.from(this.coef), r2: this.r2 };
  }

  static fromJSON(j: ControlVariateFitJSON): ControlVariateFit {
    return new ControlVariateFit(j.dx, j.dy, j.quadratic, Float64Array.from(j.center), Float64Array.from(j.coef), j.r2);
  }
}

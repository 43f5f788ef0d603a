import { Matrix } from '../linalg/matrix.js';
import { SampleSums } from './sample-sums.js';
import { InputModel } from '../input/model.js';
import { SequenceChunk } from '../io/dataset.js';
import { ownRows } from '../learn/pieces.js';
import { addOuterRow } from './accumulator.js';

/**
 * Diagonal Hermite contractions (docs/method.md §4 P1 / P2′ / P2) in closed form, and the score projections they
 * share with the stacked Hermite accumulator of ./higher.ts (see that file's comment for the identities).
 */

/** Qᵀ M R (k×k' row-major); Q, R null = identity. */
export function projectBlock(M: Matrix | null, Q: Matrix | null, R: Matrix | null, dx: number): Float64Array {
  const k = Q ? Q.cols : dx, kp = R ? R.cols : dx;
  const out = new Float64Array(k * kp);
  if (M === null) return out;
  const m = M.data;
  // MR (dx×kp)
  const MR = new Float64Array(dx * kp);
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++) {
      const mab = m[a * dx + b];
      if (mab === 0) continue;
      if (R) for (let c = 0; c < kp; c++) MR[a * kp + c] += mab * R.data[b * kp + c];
      else MR[a * kp + b] += mab;
    }
  for (let i = 0; i < k; i++)
    for (let a = 0; a < dx; a++) {
      const qa = Q ? Q.data[a * k + i] : a === i ? 1 : 0;
      if (qa === 0) continue;
      for (let c = 0; c < kp; c++) out[i * kp + c] += qa * MR[a * kp + c];
    }
  return out;
}

/** Qᵀ s for the score row at offset `o` (Q null = copy). */
export function projectScore(s: Float64Array, o: number, Q: Matrix | null, dx: number, out: Float64Array): void {
  if (Q === null) {
    for (let a = 0; a < dx; a++) out[a] = s[o + a];
    return;
  }
  const k = Q.cols, q = Q.data;
  out.fill(0);
  for (let a = 0; a < dx; a++) {
    const sa = s[o + a];
    if (sa === 0) continue;
    for (let j = 0; j < k; j++) out[j] += q[a * k + j] * sa;
  }
}

/** Univariate Hermite polynomials He_0..He_n at x with variance v, written into out[0..n]. */
export function hermiteUnivariate(x: number, v: number, n: number, out: Float64Array): Float64Array {
  out[0] = 1;
  if (n >= 1) out[1] = x;
  for (let m = 1; m < n; m++) out[m + 1] = x * out[m] - m * v * out[m - 1];
  return out;
}

export type DiagonalKind = 'P1' | 'P2prime' | 'P2';

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/**
 * The diagonal contractions of docs/method.md §4 P1 / P2′ / P2 on the columns g_j of G (dx×dh, normally the duals
 * pinv(Â1)), in closed form (see the file comment). Result: 'P1' → dy×dh ([i, j]); 'P2prime', 'P2' → dy×dh×dh
 * ([i, j, k]: j = the neuron whose l−1 modes sit at step t, k = the step-(t−1) neuron).
 * Steps: 'P1' uses t = 0..L−1−skipLast; the mixed kinds t = 1..L−1 (0-based).
 */
export class DiagonalHermiteAccumulator extends SampleSums {
  readonly dx: number;
  readonly dh: number;
  // Public (read-only) for the SQL form of this accumulator (src/sql/hermite-passes.ts).
  readonly skipLast: number;
  private readonly cache = new Map<Matrix | null, Float64Array>();

  constructor(readonly model: InputModel, readonly dy: number, readonly G: Matrix, readonly kind: DiagonalKind, readonly degree: number, opts: { skipLast?: number } = {}) {
    super();
    if (G.rows !== model.dx) throw new RangeError(`DiagonalHermiteAccumulator: G has ${G.rows} rows, expected dx = ${model.dx}`);
    if (!Number.isInteger(degree) || degree < 2) throw new RangeError(`DiagonalHermiteAccumulator: degree must be an integer ≥ 2, got ${degree}`);
    this.dx = model.dx;
    this.dh = G.cols;
    this.sum = new Float64Array(kind === 'P1' ? dy * this.dh : dy * this.dh * this.dh);
    this.skipLast = opts.skipLast ?? 0;
  }

  get memoryBytes(): number {
    return this.sum.length * 8;
  }

  private proj(B: Matrix | null): Float64Array {
    let v = this.cache.get(B);
    if (v === undefined) {
      v = projectBlock(B, this.G, this.G, this.dx);
      if (this.cache.size > 256) this.cache.clear();
      this.cache.set(B, v);
    }
    return v;
  }

  add(chunk: SequenceChunk, scores: Float64Array, y: Float64Array): this {
    const { dx, dh, dy, degree: l, kind, G } = this;
    if (chunk.dx !== dx) throw new RangeError(`DiagonalHermiteAccumulator: chunk has dx=${chunk.dx}, expected ${dx}`);
    if (y.length !== chunk.rows * dy) throw new RangeError(`DiagonalHermiteAccumulator: y has ${y.length} values, expected rows·dy = ${chunk.rows * dy}`);
    const q = new Float64Array(dh), p = new Float64Array(dh);
    const Hq = new Float64Array(dh * (l + 1)), Hp = new Float64Array(dh * (l + 1));
    const tmp = new Float64Array(l + 1);
    const feat = new Float64Array(kind === 'P1' ? dh : dh * dh);
    const S = this.sum, F = feat.length;
    const coef = p2Coefficients(l);
    // A piece with halo rows (src/learn/pieces.ts): own rows' steps only.
    const [r0, r1] = ownRows(chunk);
    let row = 0;
    for (let sIdx = 0; sIdx < chunk.lengths.length; sIdx++) {
      const L = chunk.lengths[sIdx];
      const t0 = kind === 'P1' ? 0 : 1, t1 = kind === 'P1' ? L - this.skipLast : L;
      for (let t = t0; t < t1; t++) {
        const r = row + t;
        if (r < r0 || r >= r1) continue;
        projectScore(scores, r * dx, G, dx, q);
        const Pt = this.proj(this.model.precisionBlock(t, t, L));
        for (let j = 0; j < dh; j++) {
          hermiteUnivariate(q[j], Pt[j * dh + j], l, tmp);
          for (let m = 0; m <= l; m++) Hq[j * (l + 1) + m] = tmp[m];
        }
        if (kind === 'P1') {
          for (let j = 0; j < dh; j++) feat[j] = Hq[j * (l + 1) + l];
        } else {
          projectScore(scores, (r - 1) * dx, G, dx, p);
          const Lb = this.proj(this.model.precisionBlock(t, t - 1, L));
          if (kind === 'P2prime') {
            for (let j = 0; j < dh; j++) {
              const h1 = Hq[j * (l + 1) + l - 1], h2 = Hq[j * (l + 1) + l - 2];
              for (let k = 0; k < dh; k++) feat[j * dh + k] = h1 * p[k] - (l - 1) * Lb[j * dh + k] * h2;
            }
          } else {
            const Pu = this.proj(this.model.precisionBlock(t - 1, t - 1, L));
            for (let k = 0; k < dh; k++) {
              hermiteUnivariate(p[k], Pu[k * dh + k], l, tmp);
              for (let m = 0; m <= l; m++) Hp[k * (l + 1) + m] = tmp[m];
            }
            for (let j = 0; j < dh; j++)
              for (let k = 0; k < dh; k++) {
                const c = Lb[j * dh + k];
                let h = 0, cm = 1;
                for (let m = 0; m <= l - 1; m++) {
                  h += cm * coef[m] * Hq[j * (l + 1) + l - 1 - m] * Hp[k * (l + 1) + l - m];
                  cm *= -c;
                }
                feat[j * dh + k] = h;
              }
          }
        }
        addOuterRow(S, y, r * dy, dy, feat, F);
        this.count++;
      }
      row += L;
    }
    return this;
  }

  protected label(): string {
    return `DiagonalHermiteAccumulator (${this.kind})`;
  }
}

/** The P2 coefficients C(l−1,m) C(l,m) m!, m = 0..l−1 (also the SQL pass's, src/sql/hermite-passes.ts). */
export function p2Coefficients(l: number): number[] {
  const coef: number[] = [];
  for (let m = 0; m <= l - 1; m++) coef.push(binom(l - 1, m) * binom(l, m) * factorial(m));
  return coef;
}

function factorial(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

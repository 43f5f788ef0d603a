/**
 * Normalised mean squared error (docs/method.md §7): NMSE = Σ‖ŷ_t − y_t‖² / Σ‖y_t − ȳ‖², with ȳ the mean output
 * vector (per coordinate). 0 is perfect; 1 is the constant predictor ȳ.
 */

/** NMSE of predictions ŷ against targets y, both rows×dy row-major. Throws if y has zero variance. */
export function nmse(yhat: Float64Array, y: Float64Array, dy: number): number {
  const acc = new NMSEAccumulator(dy);
  acc.add(yhat, y);
  return acc.value();
}

/**
 * Streaming NMSE over several chunks. The denominator uses per-coordinate running means and sums of squared
 * deviations merged chunk by chunk (Chan et al.), so it is accurate even when |ȳ| ≫ std(y).
 */
export class NMSEAccumulator {
  readonly dy: number;
  private n = 0;
  private sse = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(dy: number) {
    if (!Number.isInteger(dy) || dy < 1) throw new RangeError(`nmse: dy must be a positive integer, got ${dy}`);
    this.dy = dy;
    this.mean = new Float64Array(dy);
    this.m2 = new Float64Array(dy);
  }

  add(yhat: Float64Array, y: Float64Array): void {
    const dy = this.dy;
    if (yhat.length !== y.length) throw new RangeError(`nmse: predictions have ${yhat.length} values, targets ${y.length}`);
    if (y.length % dy !== 0) throw new RangeError(`nmse: ${y.length} values is not a multiple of dy = ${dy}`);
    const rows = y.length / dy;
    if (rows === 0) return;
    let sse = 0;
    for (let k = 0; k < y.length; k++) {
      const d = yhat[k] - y[k];
      sse += d * d;
    }
    if (!Number.isFinite(sse)) throw new RangeError('nmse: predictions or targets contain NaN or Infinity');
    this.sse += sse;
    for (let i = 0; i < dy; i++) {
      let m = 0;
      for (let r = 0; r < rows; r++) m += y[r * dy + i];
      m /= rows;
      let q = 0;
      for (let r = 0; r < rows; r++) {
        const d = y[r * dy + i] - m;
        q += d * d;
      }
      const n0 = this.n, n = n0 + rows;
      const delta = m - this.mean[i];
      this.m2[i] += q + (delta * delta * n0 * rows) / n;
      this.mean[i] += (delta * rows) / n;
    }
    this.n += rows;
  }

  /** this ← this ∪ other (Chan et al.'s pairwise update of the means and centred sums of squares). */
  merge(other: NMSEAccumulator): this {
    if (other.dy !== this.dy) throw new RangeError(`nmse: merging dy = ${other.dy} into dy = ${this.dy}`);
    const n0 = this.n, n1 = other.n, n = n0 + n1;
    if (n1 === 0) return this;
    for (let i = 0; i < this.dy; i++) {
      const delta = other.mean[i] - this.mean[i];
      this.m2[i] += other.m2[i] + (delta * delta * n0 * n1) / n;
      this.mean[i] += (delta * n1) / n;
    }
    this.sse += other.sse;
    this.n = n;
    return this;
  }

  /** Rows seen so far. */
  get count(): number {
    return this.n;
  }

  value(): number {
    if (this.n === 0) throw new RangeError('nmse: no rows');
    let den = 0;
    for (let i = 0; i < this.dy; i++) den += this.m2[i];
    if (!(den > 0)) throw new RangeError('nmse: the targets have zero variance, NMSE is undefined');
    return this.sse / den;
  }
}

/**
 * Sums of per-sample terms and their count, for the accumulators that are not MomentAccumulators (the Hermite
 * moments of src/moments/higher.ts, diagonal-hermite.ts and nongaussian.ts): merged by addition (chunks and
 * workers), divided by the count at the end. Subclasses allocate `sum` and say what they are (`label`).
 */
export abstract class SampleSums {
  count = 0;
  sum = new Float64Array(0);
  /** Names the accumulator in messages, e.g. 'DiagonalHermiteAccumulator (P1)'. */
  protected abstract label(): string;

  merge(o: SampleSums): this {
    if (o.sum.length !== this.sum.length) throw new RangeError(`${this.label()}.merge: shapes differ`);
    for (let i = 0; i < this.sum.length; i++) this.sum[i] += o.sum[i];
    this.count += o.count;
    return this;
  }

  /** The mean of the samples' terms. */
  result(): Float64Array {
    if (this.count === 0) throw new Error(`${this.label()}: no samples were added (are the sequences long enough for this moment?)`);
    return this.sum.map((x) => x / this.count);
  }
}

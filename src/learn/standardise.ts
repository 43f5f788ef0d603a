import { DataSource, SequenceChunk } from '../io/dataset.js';
import { VAR1Stats } from '../input/fit.js';
import { Scaling, scaleChunk, scalingFromMoments } from '../models/scaling.js';

/**
 * Standardisation inside the learner (issue 17), on top of src/models/scaling.ts:
 *   - the scaling comes from pass 1's sums (the VAR(1) statistics hold every input column's mean and comoment; the
 *     output sums give the output means and variances), so it costs no extra pass;
 *   - pass 1's statistics are mapped to standardised units exactly (an affine change of every column), so the
 *     input model is fitted as if the data had been standardised from the start;
 *   - every later pass reads the data through `scaledSource`.
 */

/** Output column sums of pass 1 (n rows): Σy and Σy² per column, or means and variances directly. */
export interface OutputMoments {
  mean: Float64Array;
  variance: Float64Array;
}

/** The scaling of every input and output column from pass 1 (x: the VAR(1) statistics; y: its output moments). */
export function scalingFromPass(stats: VAR1Stats, y: OutputMoments, names: { x?: readonly string[]; y?: readonly string[] } = {}): Scaling {
  const dx = stats.dx, xv = new Float64Array(dx);
  for (let a = 0; a < dx; a++) xv[a] = stats.n > 0 ? stats.M2[a * dx + a] / stats.n : 0;
  return scalingFromMoments({ mean: stats.mean, variance: xv }, y, names);
}

/**
 * The same statistics in standardised units: with x̃ = (x − shift)/scale per column, means map affinely and centred
 * comoments as M2̃_ab = M2_ab / (scale_a scale_b) (pairs of consecutive steps likewise, per block). Exact up to
 * rounding: equal to VAR1Stats accumulated over the standardised chunks.
 */
export function scaleVAR1Stats(stats: VAR1Stats, s: Scaling): VAR1Stats {
  const dx = stats.dx, out = new VAR1Stats(dx);
  out.n = stats.n;
  out.m = stats.m;
  out.sequences = stats.sequences;
  const sh = s.xShift, sc = s.xScale;
  for (let a = 0; a < dx; a++) out.mean[a] = (stats.mean[a] - sh[a]) / sc[a];
  for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) out.M2[a * dx + b] = stats.M2[a * dx + b] / (sc[a] * sc[b]);
  const D = 2 * dx;
  for (let i = 0; i < D; i++) out.pairMean[i] = (stats.pairMean[i] - sh[i % dx]) / sc[i % dx];
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) out.pairM2[i * D + j] = stats.pairM2[i * D + j] / (sc[i % dx] * sc[j % dx]);
  return out;
}

/** A DataSource that yields standardised copies of the chunks of `source`. */
export function scaledSource(source: DataSource, s: Scaling): DataSource {
  return {
    dx: source.dx,
    dy: source.dy,
    name: source.name,
    inMemory: source.inMemory,
    ...('columns' in source ? { columns: (source as { columns?: unknown }).columns } : {}),
    async *chunks(): AsyncGenerator<SequenceChunk> {
      for await (const c of source.chunks()) yield scaleChunk(c, s);
    },
  } as DataSource;
}

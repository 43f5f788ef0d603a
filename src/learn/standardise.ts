import { DataSource, SequenceChunk } from '../io/dataset.js';
import { InputModel } from '../input/model.js';
import { ScaledInputModel } from '../input/scaled.js';
import { RNNParams } from '../models/params.js';
import { Scaling, ScalingJSON, foldScaling, scaleChunk, scalingToJSON } from '../models/scaling.js';
import { ProgressCallback, forEachChunk } from './passes.js';

/**
 * Standardisation inside the learner (issue 17: real signals come in volts, not unit variance).
 *   1. `standardisationPass`: one pass for every input and output column's mean and variance;
 *   2. the learner runs on `scaledSource` (x̃ = (x − mean)/sd, ỹ likewise);
 *   3. `unstandardise` returns the model in the data's units: the output scaling and the input scale fold exactly
 *      into A2, b and A1 (src/models/scaling.ts `foldScaling`); the input shift, which would need a hidden bias,
 *      is stored as `params.inputShift` and subtracted by every prediction; the input model is wrapped so its
 *      scores are those of x (src/input/scaled.ts); the diagnostics get the scaling and a U = 0 baseline in the
 *      data's units. Losses and spectra inside the diagnostics stay in standardised units (said in the docs).
 * Predictions of the returned model equal those of the standardised fit on standardised data, unscaled, up to
 * rounding.
 */

/** Column means and variances in one pass (per-chunk centred sums merged by Chan's rule: no cancellation). */
export async function standardisationPass(source: DataSource, onProgress?: ProgressCallback): Promise<{ x: Moments; y: Moments; rows: number }> {
  const x = new ColumnMoments(source.dx), y = new ColumnMoments(source.dy);
  let rows = 0;
  await forEachChunk(
    source,
    'standardise',
    (c) => {
      x.add(c.x, c.rows);
      y.add(c.y, c.rows);
      rows += c.rows;
    },
    onProgress,
  );
  return { x: x.result(), y: y.result(), rows };
}

export interface Moments {
  mean: Float64Array;
  variance: Float64Array;
}

class ColumnMoments {
  n = 0;
  mean: Float64Array;
  m2: Float64Array;
  constructor(readonly d: number) {
    this.mean = new Float64Array(d);
    this.m2 = new Float64Array(d);
  }
  add(v: Float64Array, rows: number): void {
    if (rows === 0) return;
    const d = this.d;
    for (let a = 0; a < d; a++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += v[r * d + a];
      const m = s / rows;
      let q = 0;
      for (let r = 0; r < rows; r++) q += (v[r * d + a] - m) ** 2;
      const n = this.n + rows, delta = m - this.mean[a];
      this.mean[a] += (delta * rows) / n;
      this.m2[a] += q + ((delta * delta * this.n) * rows) / n;
    }
    this.n += rows;
  }
  result(): Moments {
    return { mean: Float64Array.from(this.mean), variance: this.m2.map((q) => (this.n > 0 ? q / this.n : NaN)) };
  }
}

/**
 * The scaling (shift = mean, scale = sd), or null when a column cannot be standardised (non-finite or constant):
 * the learner then runs unscaled, and its own checks name the offending column and row.
 */
export function scalingOf(m: { x: Moments; y: Moments }): Scaling | null {
  const side = (s: Moments) => {
    const scale = s.variance.map(Math.sqrt);
    for (let a = 0; a < scale.length; a++) {
      // Relative floor: a spread at rounding level of the mean is a constant column.
      if (!Number.isFinite(s.mean[a]) || !Number.isFinite(scale[a]) || !(scale[a] > 1e-12 * Math.max(1, Math.abs(s.mean[a])))) return null;
    }
    return { shift: Float64Array.from(s.mean), scale };
  };
  const x = side(m.x), y = side(m.y);
  return x && y ? { xShift: x.shift, xScale: x.scale, yShift: y.shift, yScale: y.scale } : null;
}

/** A DataSource that yields standardised copies of the chunks of `source`. */
export function scaledSource(source: DataSource, s: Scaling): DataSource {
  // Everything else of the source (dx, dy, name, columns, …) is inherited, also when it is itself a view made
  // with Object.create (`wholeSequences`, whose fields a spread would not copy).
  const out = Object.create(source) as DataSource;
  Object.defineProperty(out, 'chunks', {
    value: async function* (): AsyncGenerator<SequenceChunk> {
      for await (const c of source.chunks()) yield scaleChunk(c, s);
    },
  });
  return out;
}

/** What `unstandardise` adds to the diagnostics. */
export interface StandardisationDiagnostics {
  /** shift = column mean, scale = column standard deviation, per input (x) and output (y) column. */
  scaling: ScalingJSON;
  note: string;
}

/** The fitted model, input model and diagnostics in the data's units (see the file comment). */
export function unstandardise<P extends RNNParams, D extends object>(
  params: P,
  inputModel: InputModel,
  diagnostics: D,
  s: Scaling,
): { params: P; inputModel: InputModel; diagnostics: D & { standardisation: StandardisationDiagnostics } } {
  const folded = foldScaling(params, s);
  const shifted = folded.inputShift.some((v) => v !== 0);
  const out = (shifted ? { ...folded.params, inputShift: folded.inputShift } : folded.params) as P;
  const d = { ...diagnostics } as D & { feedforward?: { A2: number[][]; b: number[] }; spectral?: { A1?: number[][]; B1?: number[][] } };
  if (d.feedforward) {
    const { A2, b } = d.feedforward;
    d.feedforward = {
      A2: A2.map((row) => row.map((v, i) => v * s.yScale[i])),
      b: b.map((v, i) => s.yShift[i] + s.yScale[i] * v),
    };
  }
  if (d.spectral && (d.spectral.A1 || d.spectral.B1)) {
    const cols = (M?: number[][]) => M?.map((row) => row.map((v, a) => v / s.xScale[a]));
    d.spectral = { ...d.spectral, ...(d.spectral.A1 ? { A1: cols(d.spectral.A1) } : {}), ...(d.spectral.B1 ? { B1: cols(d.spectral.B1) } : {}) };
  }
  const standardisation: StandardisationDiagnostics = {
    scaling: scalingToJSON(s),
    note: 'fitted on standardised columns; the weights are in the data units (input scale folded into A1, output scaling into A2 and b; the input shift is "inputShift" in the model file); losses and spectra in these diagnostics are in standardised units',
  };
  return { params: out, inputModel: new ScaledInputModel(inputModel, s.xShift, s.xScale), diagnostics: { ...d, standardisation } };
}

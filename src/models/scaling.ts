import { Matrix } from '../linalg/matrix.js';
import { SequenceChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import type { RNNParams } from './params.js';

/**
 * Standardisation of inputs and outputs (issue 17: real signals come in volts, not unit variance).
 *
 *   x̃ = (x − x_shift) / x_scale,   ỹ = (y − y_shift) / y_scale        (per column)
 *
 * The learner fits on (x̃, ỹ); the model file stores the standardised parameters together with this scaling, and
 * predictions undo it: ŷ = y_shift + y_scale ∘ ỹ̂(x̃). Why a stored transform and not only folded parameters: the
 * output side folds exactly into A2 and b, and the input scale into A1's columns, but the input shift would need a
 * hidden-layer bias (A1 x̃ = A1 diag(1/x_scale) x − A1 diag(1/x_scale) x_shift), which the IO-RNN does not have. So
 * `foldScaling` folds everything it can and returns the remaining input shift, which a prediction subtracts.
 *
 * Shapes: x_shift, x_scale length dx; y_shift, y_scale length dy. Scales are positive and finite.
 */
export interface Scaling {
  readonly xShift: Float64Array;
  readonly xScale: Float64Array;
  readonly yShift: Float64Array;
  readonly yScale: Float64Array;
}

/** Plain-JSON form, as stored in a model file under "scaling". */
export interface ScalingJSON {
  x: { shift: number[]; scale: number[] };
  y: { shift: number[]; scale: number[] };
}

/**
 * Scaling from column means and variances (e.g. pass 1's sums: mean and comoment / n): shift = mean,
 * scale = √variance. A column with zero or non-finite variance is refused with its name: it cannot be
 * standardised (and carries nothing to learn).
 */
export function scalingFromMoments(
  x: { mean: ArrayLike<number>; variance: ArrayLike<number> },
  y: { mean: ArrayLike<number>; variance: ArrayLike<number> },
  names: { x?: readonly string[]; y?: readonly string[] } = {},
): Scaling {
  const side = (m: ArrayLike<number>, v: ArrayLike<number>, which: 'x' | 'y') => {
    if (m.length !== v.length) throw new RangeError(`scalingFromMoments: ${which} mean has ${m.length} entries, variance ${v.length}`);
    const shift = Float64Array.from(m), scale = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const name = names[which]?.[i] ?? `${which}${i + 1}`;
      const s = Math.sqrt(v[i]);
      // Relative floor: a column whose spread is at rounding level of its mean is constant for all purposes.
      if (!Number.isFinite(shift[i]) || !(s > 1e-12 * Math.max(1, Math.abs(shift[i]))) || !Number.isFinite(s)) {
        throw new UserError(`column "${name}" has variance ${v[i]} (mean ${m[i]}); it cannot be standardised — drop a constant column`);
      }
      scale[i] = s;
    }
    return { shift, scale };
  };
  const sx = side(x.mean, x.variance, 'x'), sy = side(y.mean, y.variance, 'y');
  return { xShift: sx.shift, xScale: sx.scale, yShift: sy.shift, yScale: sy.scale };
}

/** The identity scaling (shift 0, scale 1). */
export function identityScaling(dx: number, dy: number): Scaling {
  return { xShift: new Float64Array(dx), xScale: new Float64Array(dx).fill(1), yShift: new Float64Array(dy), yScale: new Float64Array(dy).fill(1) };
}

function checkDims(s: Scaling, dx: number, dy: number, what: string): void {
  if (s.xShift.length !== dx || s.xScale.length !== dx || s.yShift.length !== dy || s.yScale.length !== dy) {
    throw new RangeError(`${what}: scaling is for dx=${s.xShift.length}, dy=${s.yShift.length}; the data have dx=${dx}, dy=${dy}`);
  }
}

/** A standardised copy of a chunk (x always; y when the chunk has outputs). */
export function scaleChunk(chunk: SequenceChunk, s: Scaling): SequenceChunk {
  const { dx, dy, rows } = chunk;
  checkDims(s, dx, dy === 0 ? s.yShift.length : dy, 'scaleChunk');
  const x = new Float64Array(rows * dx), y = new Float64Array(rows * dy);
  for (let r = 0; r < rows; r++) for (let a = 0; a < dx; a++) x[r * dx + a] = (chunk.x[r * dx + a] - s.xShift[a]) / s.xScale[a];
  for (let r = 0; r < rows; r++) for (let i = 0; i < dy; i++) y[r * dy + i] = (chunk.y[r * dy + i] - s.yShift[i]) / s.yScale[i];
  // Spread: a chunk may carry more than x and y (e.g. how a long sequence continues across chunks).
  return { ...chunk, x, y };
}

/** ŷ ← y_shift + y_scale ∘ ŷ, in place, for rows×dy predictions in standardised units. Returns `yhat`. */
export function unscaleOutputs(yhat: Float64Array, s: Scaling): Float64Array {
  const dy = s.yShift.length;
  if (yhat.length % Math.max(dy, 1) !== 0) throw new RangeError(`unscaleOutputs: ${yhat.length} values is not a multiple of dy=${dy}`);
  for (let r = 0; r < yhat.length; r += dy) for (let i = 0; i < dy; i++) yhat[r + i] = s.yShift[i] + s.yScale[i] * yhat[r + i];
  return yhat;
}

/**
 * Parameters in the data's own units, up to an input shift: A1' = A1 diag(1/x_scale) (BRNN: B1 too),
 * A2' = A2 diag(y_scale), b' = y_scale ∘ b + y_shift. Then predicting with (params', x − inputShift) equals
 * unscale(predict(params, scale(x))) exactly in exact arithmetic (same recursion, same pre-activations).
 */
export function foldScaling<P extends RNNParams>(params: P, s: Scaling): { params: P; inputShift: Float64Array } {
  const dx = params.A1.cols, dy = params.A2.cols;
  checkDims(s, dx, dy, 'foldScaling');
  const cols = (M: Matrix) => {
    const o = M.clone();
    for (let r = 0; r < o.rows; r++) for (let a = 0; a < o.cols; a++) o.data[r * o.cols + a] /= s.xScale[a];
    return o;
  };
  const A2 = params.A2.clone();
  for (let j = 0; j < A2.rows; j++) for (let i = 0; i < dy; i++) A2.data[j * dy + i] *= s.yScale[i];
  const b = new Float64Array(dy);
  for (let i = 0; i < dy; i++) b[i] = s.yShift[i] + s.yScale[i] * (params.b?.[i] ?? 0);
  const out = { ...params, A1: cols(params.A1), A2, b } as P;
  if (params.kind === 'brnn') (out as { B1: Matrix }).B1 = cols(params.B1);
  return { params: out, inputShift: Float64Array.from(s.xShift) };
}

export function scalingToJSON(s: Scaling): ScalingJSON {
  return { x: { shift: Array.from(s.xShift), scale: Array.from(s.xScale) }, y: { shift: Array.from(s.yShift), scale: Array.from(s.yScale) } };
}

/** Parse the "scaling" key of a model file; `file` names the file in the one-line error. */
export function scalingFromJSON(obj: unknown, file = 'model'): Scaling {
  const bad = (what: string) => new UserError(`${file}: "scaling" ${what}; expected {"x": {"shift": [...], "scale": [...]}, "y": {...}} with finite numbers and positive scales`);
  const side = (o: unknown, key: 'x' | 'y') => {
    const v = (o as Record<string, unknown> | null)?.[key] as Record<string, unknown> | undefined;
    if (typeof v !== 'object' || v === null) throw bad(`has no "${key}" object`);
    const { shift, scale } = v;
    if (!Array.isArray(shift) || !Array.isArray(scale) || shift.length !== scale.length) throw bad(`"${key}" needs arrays "shift" and "scale" of equal length`);
    if (!shift.every((n) => typeof n === 'number' && Number.isFinite(n))) throw bad(`"${key}.shift" has a non-finite entry`);
    if (!scale.every((n) => typeof n === 'number' && Number.isFinite(n) && n > 0)) throw bad(`"${key}.scale" has an entry that is not a positive finite number`);
    return { shift: Float64Array.from(shift as number[]), scale: Float64Array.from(scale as number[]) };
  };
  if (typeof obj !== 'object' || obj === null) throw bad('is not an object');
  const x = side(obj, 'x'), y = side(obj, 'y');
  return { xShift: x.shift, xScale: x.scale, yShift: y.shift, yScale: y.scale };
}

/**
 * x − shift per column (a copy; y and lengths shared): what a prediction applies before the recursion when the
 * model carries an input shift (the part of the standardisation that does not fold into the parameters).
 */
export function shiftInputs(chunk: SequenceChunk, shift: ArrayLike<number>): SequenceChunk {
  const dx = chunk.dx;
  if (shift.length !== dx) throw new RangeError(`input shift has ${shift.length} entries, the data have dx = ${dx}`);
  const x = new Float64Array(chunk.rows * dx);
  for (let r = 0; r < chunk.rows; r++) for (let a = 0; a < dx; a++) x[r * dx + a] = chunk.x[r * dx + a] - shift[a];
  return { ...chunk, x };
}

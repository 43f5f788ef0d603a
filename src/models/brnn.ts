/**
 * Forward pass (prediction) of the bidirectional RNN of DESIGN.md §2:
 *   h_t = σ(A1 x_t + U h_{t-1}) (h_0 = 0),  z_t = σ_b(B1 x_t + V z_{t+1}) (z after the last step = 0),
 *   ŷ_t = A2ᵀ [h_t; z_t] + b,  A2 is (dh+dz)×dy with the forward rows first.
 */
import type { SequenceChunk } from '../io/dataset.js';
import type { BRNNParams, RNNParams } from './params.js';
import { activationCoefficients } from './activation.js';
import { DEFAULT_BLOWUP_THRESHOLD, predictIORNN, checkInputDim, checkSquare, initOutput, runDirection, type PredictOptions } from './iornn.js';

/**
 * Predictions ŷ (rows×dy) of a BRNN. `opts.hidden`, if given, has length rows×(dh+dz) and receives
 * [h_t; z_t] per row. Throws a BlowUpError (direction 'forward' or 'backward') if a recursion escapes.
 */
export function predictBRNN(params: BRNNParams, chunk: SequenceChunk, opts: PredictOptions = {}): Float64Array {
  const { A1, U, B1, V, A2 } = params;
  const dh = A1.rows, dz = B1.rows, dx = A1.cols, dy = A2.cols;
  checkInputDim(dx, chunk);
  if (B1.cols !== dx) throw new RangeError(`B1 must have dx = ${dx} columns, got ${B1.cols}`);
  checkSquare(U, dh, 'U');
  checkSquare(V, dz, 'V');
  if (A2.rows !== dh + dz) throw new RangeError(`A2 must have dh+dz = ${dh + dz} rows, got ${A2.rows}`);
  const width = dh + dz;
  if (opts.hidden && opts.hidden.length !== chunk.rows * width) {
    throw new RangeError(`hidden buffer has length ${opts.hidden.length}, expected ${chunk.rows}x${width}`);
  }
  const y = initOutput(chunk.rows, dy, params.b, opts.out);
  const thr = opts.blowUpThreshold ?? DEFAULT_BLOWUP_THRESHOLD;
  const off = opts.sequenceOffset ?? 0;
  const cf = activationCoefficients(params.activation);
  const cb = activationCoefficients(params.activationBackward ?? params.activation);
  runDirection(A1.data, U.data, dh, cf, chunk.x, dx, chunk.lengths, A2.data, 0, dy, y, opts.hidden, width, 0, false, thr, off);
  runDirection(B1.data, V.data, dz, cb, chunk.x, dx, chunk.lengths, A2.data, dh, dy, y, opts.hidden, width, dh, true, thr, off);
  return y;
}

/** States [h_t; z_t] (rows×(dh+dz)) and predictions of a BRNN. */
export function forwardBRNN(params: BRNNParams, chunk: SequenceChunk, opts: Omit<PredictOptions, 'hidden'> = {}): { yhat: Float64Array; hidden: Float64Array } {
  const hidden = new Float64Array(chunk.rows * (params.A1.rows + params.B1.rows));
  const yhat = predictBRNN(params, chunk, { ...opts, hidden });
  return { yhat, hidden };
}

/** Predict with either kind of model. */
export function predict(params: RNNParams, chunk: SequenceChunk, opts: PredictOptions = {}): Float64Array {
  return params.kind === 'brnn' ? predictBRNN(params, chunk, opts) : predictIORNN(params, chunk, opts);
}

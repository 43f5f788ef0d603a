/**
 * Forward pass (prediction) of the bidirectional RNN of docs/method.md §2:
 *   h_t = σ(A1 x_t + U h_{t-1}) (h_0 = 0),  z_t = σ_b(B1 x_t + V z_{t+1}) (z after the last step = 0),
 *   ŷ_t = A2ᵀ [h_t; z_t] + b,  A2 is (dh+dz)×dy with the forward rows first.
 * Both directions are the RNN kernel's recursion (src/rnn/recurrence.ts).
 */
import type { SequenceChunk } from '../io/dataset.js';
import type { BRNNParams, RNNParams } from './params.js';
import { activationKernel } from '../rnn/activation.js';
import { runChunk, type Recurrence } from '../rnn/recurrence.js';
import {
  DEFAULT_BLOWUP_THRESHOLD, addOutput, checkInputDim, checkSquare, forwardRecurrence, initOutput, predictIORNN, shiftedInputs, type PredictOptions,
} from './iornn.js';

/** Carried states of a BRNN chunk (streaming one long sequence): forward states run with the data, backward against it. */
export interface PredictBRNNCarry {
  /** h before the chunk's first row (default 0); on return (if `forwardFinal`) h after its last row. */
  forwardInitial?: Float64Array;
  forwardFinal?: Float64Array;
  /** z after the chunk's last row (from the NEXT chunk, default 0); on return (if `backwardFinal`) z at its first row. */
  backwardInitial?: Float64Array;
  backwardFinal?: Float64Array;
}

/**
 * Predictions ŷ (rows×dy) of a BRNN. `opts.hidden`, if given, has length rows×(dh+dz) and receives
 * [h_t; z_t] per row. Throws a BlowUpError (direction 'forward' or 'backward') if a recursion escapes.
 */
export function predictBRNN(params: BRNNParams, chunk: SequenceChunk, opts: Omit<PredictOptions, 'initialState' | 'finalState'> & { carry?: PredictBRNNCarry } = {}): Float64Array {
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
  const bound = opts.blowUpThreshold ?? DEFAULT_BLOWUP_THRESHOLD;
  const seqOffset = opts.sequenceOffset ?? 0;
  const c = opts.carry ?? {};
  const x = params.inputShift ? shiftedInputs(chunk, params.inputShift) : chunk.x;
  const { fwd, bwd } = recurrencesOf(params);
  // Forward direction over every sequence, then the backward one (each output entry: b, forward terms,
  // backward terms); outputs per sequence right after its states.
  const h = opts.hidden;
  runChunk(fwd, x, chunk.lengths, h ? { states: h, offset: 0, stride: width } : null, {
    bound, seqOffset, initial: c.forwardInitial, final: c.forwardFinal,
    onSequence: (r0, L, states, offset, stride) => addOutput(states, offset, stride, 0, dh, A2.data, 0, y, r0, dy, L),
  });
  runChunk(bwd, x, chunk.lengths, h ? { states: h, offset: dh, stride: width } : null, {
    bound, seqOffset, initial: c.backwardInitial, final: c.backwardFinal,
    onSequence: (r0, L, states, offset, stride) => addOutput(states, offset, stride, 0, dz, A2.data, dh, y, r0, dy, L),
  });
  return y;
}

/** The BRNN's two recursions for the RNN kernel: h forward (A1, U), z backward (B1, V). */
function recurrencesOf(params: BRNNParams): { fwd: Recurrence; bwd: Recurrence } {
  const { A1, U, B1, V } = params;
  const bwd = { n: B1.rows, dx: A1.cols, W: B1.data, wOff: 0, R: V.data, rOff: 0, act: activationKernel(params.activationBackward ?? params.activation), reverse: true };
  return { fwd: forwardRecurrence(A1, U, params.activation), bwd };
}

/**
 * One direction of a BRNN over a chunk of ONE sequence (a piece of a long one), no outputs: the state where the
 * recursion ends (forward: h at the last row; backward: z at the first row), from the carried state `initial`
 * (forward: h before the first row; backward: z after the last row; null = 0). The same kernel and arithmetic
 * as `predictBRNN`, so the states are those of the whole sequence bit for bit. Throws a BlowUpError (step counted
 * within the chunk) when the recursion escapes.
 */
export function brnnDirectionEnd(params: BRNNParams, chunk: SequenceChunk, direction: 'forward' | 'backward', initial: Float64Array | null, blowUpThreshold = DEFAULT_BLOWUP_THRESHOLD): Float64Array {
  checkInputDim(params.A1.cols, chunk);
  const rec = recurrencesOf(params)[direction === 'forward' ? 'fwd' : 'bwd'];
  const x = params.inputShift ? shiftedInputs(chunk, params.inputShift) : chunk.x;
  const final = new Float64Array(rec.n);
  runChunk(rec, x, chunk.lengths, null, { bound: blowUpThreshold, initial, final });
  return final;
}

/** States [h_t; z_t] (rows×(dh+dz)) and predictions of a BRNN. */
export function forwardBRNN(params: BRNNParams, chunk: SequenceChunk, opts: Omit<PredictOptions, 'hidden' | 'initialState' | 'finalState'> = {}): { yhat: Float64Array; hidden: Float64Array } {
  const hidden = new Float64Array(chunk.rows * (params.A1.rows + params.B1.rows));
  const yhat = predictBRNN(params, chunk, { ...opts, hidden });
  return { yhat, hidden };
}

/** Predict with either kind of model. */
export function predict(params: RNNParams, chunk: SequenceChunk, opts: PredictOptions = {}): Float64Array {
  if (params.kind === 'brnn') {
    if (opts.initialState || opts.finalState) throw new RangeError('predict: a BRNN carries state through predictBRNN(…, {carry})');
    return predictBRNN(params, chunk, opts);
  }
  return predictIORNN(params, chunk, opts);
}

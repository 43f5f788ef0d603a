/**
 * Forward pass (prediction) of the IO-RNN of docs/method.md §2:
 *   h_t = σ(A1 x_t + U h_{t-1}),  h_0 = 0 at the start of every sequence,  ŷ_t = A2ᵀ h_t + b.
 * The recursion itself is the RNN kernel's (src/rnn/recurrence.ts); this module adds the output layer and
 * the output-layer least-squares sums.
 */
import type { Matrix } from '../linalg/matrix.js';
import type { SequenceChunk } from '../io/dataset.js';
import type { IORNNParams } from './params.js';
import { activationKernel } from '../rnn/activation.js';
import { BLOWUP_BOUND, BlowUpError, runChunk, runSequence, type Recurrence } from '../rnn/recurrence.js';
import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { UserError } from '../io/errors.js';

export { BlowUpError } from '../rnn/recurrence.js';

/** Default blow-up threshold on |h| (docs/method.md §6): the kernel's one bound. */
export const DEFAULT_BLOWUP_THRESHOLD = BLOWUP_BOUND;

export interface PredictOptions {
  /** Throw a BlowUpError when some |h_j| exceeds this (or is not finite). Default 1e6. */
  blowUpThreshold?: number;
  /** Added to the in-chunk sequence index in BlowUpError (index of the chunk's first sequence in the data). */
  sequenceOffset?: number;
  /** If given (length rows×dh), filled with the hidden states h_t, row-major. */
  hidden?: Float64Array;
  /** If given (length rows×dy), the predictions are written here instead of a new array. */
  out?: Float64Array;
  /**
   * Carried state for streaming one long sequence in chunks: the state before the chunk's first row (it
   * continues the previous chunk's last sequence); default 0. BRNN: see `PredictBRNNCarry`.
   */
  initialState?: Float64Array;
  /** If given (length dh), receives the state after the chunk's last row (to pass on as `initialState`). */
  finalState?: Float64Array;
}

/** Check the model's input dimension against the data; a mismatch is a user mistake (wrong file). */
export function checkInputDim(modelDx: number, chunk: SequenceChunk): void {
  if (chunk.dx !== modelDx) {
    throw new UserError(`the model expects ${modelDx} input columns (dx = ${modelDx}) but the data has ${chunk.dx}`);
  }
}

export function checkSquare(m: Matrix, n: number, name: string): void {
  if (m.rows !== n || m.cols !== n) throw new RangeError(`${name} must be ${n}x${n}, got ${m.rows}x${m.cols}`);
}

/** Fill y (rows×dy) with the bias b (or zeros). */
export function initOutput(rows: number, dy: number, b: Float64Array | undefined, out?: Float64Array): Float64Array {
  const y = out ?? new Float64Array(rows * dy);
  if (y.length !== rows * dy) throw new RangeError(`output buffer has length ${y.length}, expected ${rows}x${dy}`);
  if (b) {
    if (b.length !== dy) throw new RangeError(`bias b has length ${b.length}, expected dy = ${dy}`);
    for (let r = 0; r < rows; r++) for (let i = 0; i < dy; i++) y[r * dy + i] = b[i];
  } else y.fill(0);
  return y;
}

/**
 * y_{r0+t} += W_outᵀ s_t for t < L: s_t = states[offset + t·stride + col … + n), W_out = rows
 * [outRow0, outRow0 + n) of A2 (flat, dy columns). Zero states are skipped (adding 0 changes no bit).
 */
export function addOutput(
  states: Float64Array, offset: number, stride: number, col: number, n: number, A2: Float64Array, outRow0: number,
  y: Float64Array, r0: number, dy: number, L: number,
): void {
  for (let t = 0; t < L; t++) {
    const so = offset + t * stride + col, yo = (r0 + t) * dy;
    for (let j = 0; j < n; j++) {
      const hj = states[so + j];
      if (hj === 0) continue;
      const ao = (outRow0 + j) * dy;
      for (let i = 0; i < dy; i++) y[yo + i] += A2[ao + i] * hj;
    }
  }
}

/** The forward recurrence of a model's (A1, U, σ). */
export function forwardRecurrence(A1: Matrix, U: Matrix, act: IORNNParams['activation']): Recurrence {
  return { n: A1.rows, dx: A1.cols, W: A1.data, wOff: 0, R: U.data, rOff: 0, act: activationKernel(act), reverse: false };
}

/**
 * Predictions ŷ (rows×dy, row-major) of an IO-RNN on every sequence of the chunk.
 * Throws a BlowUpError if the recursion escapes (docs/method.md §6) and a UserError if dx disagrees.
 */
export function predictIORNN(params: IORNNParams, chunk: SequenceChunk, opts: PredictOptions = {}): Float64Array {
  const { A1, U, A2 } = params;
  const dh = A1.rows, dx = A1.cols, dy = A2.cols;
  checkInputDim(dx, chunk);
  checkSquare(U, dh, 'U');
  if (A2.rows !== dh) throw new RangeError(`A2 must have dh = ${dh} rows, got ${A2.rows}`);
  if (opts.hidden && opts.hidden.length !== chunk.rows * dh) {
    throw new RangeError(`hidden buffer has length ${opts.hidden.length}, expected ${chunk.rows}x${dh}`);
  }
  const y = initOutput(chunk.rows, dy, params.b, opts.out);
  const x = params.inputShift ? shiftedInputs(chunk, params.inputShift) : chunk.x;
  // Outputs per sequence, right after its states (still in cache).
  runChunk(forwardRecurrence(A1, U, params.activation), x, chunk.lengths, opts.hidden ? { states: opts.hidden, offset: 0, stride: dh } : null, {
    bound: opts.blowUpThreshold ?? DEFAULT_BLOWUP_THRESHOLD, seqOffset: opts.sequenceOffset ?? 0,
    initial: opts.initialState ?? null, final: opts.finalState ?? null,
    onSequence: (r0, L, states, offset, stride) => addOutput(states, offset, stride, 0, dh, A2.data, 0, y, r0, dy, L),
  });
  return y;
}

/**
 * x − shift per row (a copy): the stored input shift of a standardised fit (IORNNParams.inputShift), applied
 * before the recursion.
 */
export function shiftedInputs(chunk: SequenceChunk, shift: Float64Array): Float64Array {
  const dx = chunk.dx;
  if (shift.length !== dx) throw new RangeError(`inputShift has ${shift.length} entries, the data have dx = ${dx}`);
  const x = new Float64Array(chunk.rows * dx);
  for (let r = 0, o = 0; r < chunk.rows; r++) for (let a = 0; a < dx; a++, o++) x[o] = chunk.x[o] - shift[a];
  return x;
}

/** Hidden states h_t (rows×dh) and predictions of an IO-RNN. */
export function forwardIORNN(params: IORNNParams, chunk: SequenceChunk, opts: Omit<PredictOptions, 'hidden'> = {}): { yhat: Float64Array; hidden: Float64Array } {
  const hidden = new Float64Array(chunk.rows * params.A1.rows);
  const yhat = predictIORNN(params, chunk, { ...opts, hidden });
  return { yhat, hidden };
}

/**
 * Σ [h;1][h;1]ᵀ (G, m×m, m = dh + 1, upper triangle only: the caller mirrors it) and Σ [h;1] yᵀ (C, m×dy) over
 * every row of the chunk, with h_t the IO-RNN's hidden states (the output-layer least squares of
 * docs/method.md §5 step 6). Same states, bit for bit, as `predictIORNN` (the kernel's recursion started from
 * the GEMM A1 x_t, whose entries sum over i in the same order); the sums over rows are GEMMs on the kernel
 * arena (so they differ from row-by-row sums in rounding only); no predictions.
 *
 * With `feedforward` ({G, C} of the same shapes) the sums of the same model without recurrence (U = 0, §6's
 * baseline) are accumulated in the same pass: both share A1 x_t, computed once. If the model's recursion
 * escapes, its sums stop (they are then partial), the feedforward sums still cover the whole chunk, and the
 * BlowUpError is returned (thrown when there is no `feedforward`). Returns null otherwise.
 */
export function accumulateStatesLS(
  params: IORNNParams, chunk: SequenceChunk, G: Float64Array, C: Float64Array,
  opts: {
    sequenceOffset?: number;
    blowUpThreshold?: number;
    feedforward?: { G: Float64Array; C: Float64Array };
    /** State before the chunk's first row (its first sequence continues the previous chunk's last), as in `predictIORNN`. */
    initialState?: Float64Array;
    /** Receives the state after the chunk's last row (to pass on as `initialState`). */
    finalState?: Float64Array;
  } = {},
): BlowUpError | null {
  const { A1, U } = params;
  const n = A1.rows, dx = A1.cols, dy = chunk.dy, m = n + 1;
  checkInputDim(dx, chunk);
  checkSquare(U, n, 'U');
  const ff = opts.feedforward;
  for (const [g, c] of [[G, C], ...(ff ? [[ff.G, ff.C]] : [])]) {
    if (g.length !== m * m || c.length !== m * dy) throw new RangeError(`accumulateStatesLS: G must be ${m}x${m} and C ${m}x${dy}`);
  }
  const y = chunk.y, lengths = chunk.lengths, rows = chunk.rows;
  const threshold = opts.blowUpThreshold ?? DEFAULT_BLOWUP_THRESHOLD, seqOffset = opts.sequenceOffset ?? 0;
  const rec = forwardRecurrence(A1, U, params.activation);
  const rec0: Recurrence = { ...rec, R: null };
  // On the kernel arena: A1 x_t for every row as one GEMM; the recursion per sequence from it; then the sums
  // over rows Σ g gᵀ and Σ g yᵀ as GEMMs over the state rows g = [h; 1] (rows after a blow-up are zero).
  const ldh = pad4(n), ldm = pad4(m), ldy = pad4(dy);
  const K = kernels(), mark = K.mark();
  let failure: BlowUpError | null = null;
  try {
    const xa = K.alloc(rows * dx, false), wt = K.alloc(dx * ldh), wx = K.alloc(rows * ldh), gs = K.alloc(rows * ldm), ya = K.alloc(rows * ldy);
    const g0s = ff ? K.alloc(rows * ldm) : -1, gg = K.alloc(ldm * ldm), cc = K.alloc(ldm * ldy);
    const H = K.heap, W = A1.data;
    H.set(chunk.x.subarray(0, rows * dx), xa);
    for (let i = 0; i < dx; i++) for (let j = 0; j < n; j++) H[wt + i * ldh + j] = W[j * dx + i];
    K.gemm(rows, ldh, dx, xa, dx, 1, wt, ldh, wx, ldh);
    for (let r = 0; r < rows; r++) for (let i = 0; i < dy; i++) H[ya + r * ldy + i] = y[r * dy + i];
    const proj = { data: H, offset: wx, ld: ldh };
    let r0 = 0;
    for (let s = 0; s < lengths.length; s++) {
      const L = lengths[s];
      if (failure === null) {
        const init = s === 0 ? opts.initialState ?? null : null;
        const bad = runSequence(rec, chunk.x, r0, L, { states: H, offset: gs + r0 * ldm, stride: ldm }, init, threshold, proj);
        const good = bad === null ? L : bad.t;
        if (bad === null && s === lengths.length - 1 && opts.finalState) for (let j = 0; j < n; j++) opts.finalState[j] = H[gs + (r0 + L - 1) * ldm + j];
        for (let t = 0; t < good; t++) H[gs + (r0 + t) * ldm + n] = 1;
        if (bad !== null) {
          H.fill(0, gs + (r0 + bad.t) * ldm, gs + (r0 + bad.t) * ldm + n); // the partial row of the failing step
          failure = new BlowUpError(seqOffset + s, bad.t + 1, bad.value, 'forward');
          if (!ff) throw failure;
        }
      }
      if (ff) {
        // U = 0: s_t = σ(A1 x_t), from the same projections.
        const bad = runSequence(rec0, chunk.x, r0, L, { states: H, offset: g0s + r0 * ldm, stride: ldm }, null, threshold, proj);
        if (bad !== null) throw new BlowUpError(seqOffset + s, bad.t + 1, bad.value, 'forward');
        for (let t = 0; t < L; t++) H[g0s + (r0 + t) * ldm + n] = 1;
      }
      r0 += L;
    }
    const addSums = (states: number, Gt: Float64Array, Ct: Float64Array): void => {
      H.fill(0, gg, gg + ldm * ldm);
      H.fill(0, cc, cc + ldm * ldy);
      K.gemm(ldm, ldm, rows, states, 1, ldm, states, ldm, gg, ldm);
      K.gemm(ldm, ldy, rows, states, 1, ldm, ya, ldy, cc, ldy);
      for (let a = 0; a < m; a++) {
        for (let b = a; b < m; b++) Gt[a * m + b] += H[gg + a * ldm + b];
        for (let i = 0; i < dy; i++) Ct[a * dy + i] += H[cc + a * ldy + i];
      }
    };
    addSums(gs, G, C);
    if (ff) addSums(g0s, ff.G, ff.C);
  } finally {
    K.release(mark);
  }
  return failure;
}

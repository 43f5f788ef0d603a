/**
 * Forward pass (prediction) of the IO-RNN of DESIGN.md §2:
 *   h_t = σ(A1 x_t + U h_{t-1}),  h_0 = 0 at the start of every sequence,  ŷ_t = A2ᵀ h_t + b.
 * Hot loops run on the flat row-major arrays with two preallocated state buffers: no allocation per step.
 */
import type { Matrix } from '../linalg/matrix.js';
import type { SequenceChunk } from '../io/dataset.js';
import type { IORNNParams } from './params.js';
import { activationCoefficients } from './activation.js';
import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { UserError } from '../io/errors.js';

/** Default blow-up threshold on |h| (DESIGN.md §6): stable models keep |h| = O(1). */
export const DEFAULT_BLOWUP_THRESHOLD = 1e6;

/**
 * The recursion escaped (DESIGN.md §6): some hidden state became non-finite or exceeded the threshold.
 * `sequence` is 0-based within the data (the chunk index plus `sequenceOffset`), `step` is the 1-based
 * time step t of §2 within that sequence (h_1 is the first state).
 */
export class BlowUpError extends Error {
  readonly sequence: number;
  readonly step: number;
  readonly value: number;
  readonly direction: 'forward' | 'backward';

  constructor(sequence: number, step: number, value: number, direction: 'forward' | 'backward' = 'forward') {
    const v = Number.isFinite(value) ? value.toExponential(1) : String(value);
    const dir = direction === 'backward' ? ' (backward states)' : '';
    super(`model blows up on sequence ${sequence} at step ${step}${dir} (|h| = ${v})`);
    this.name = 'BlowUpError';
    this.sequence = sequence;
    this.step = step;
    this.value = value;
    this.direction = direction;
  }
}

export interface PredictOptions {
  /** Throw a BlowUpError when some |h_j| exceeds this (or is not finite). Default 1e6. */
  blowUpThreshold?: number;
  /** Added to the in-chunk sequence index in BlowUpError (index of the chunk's first sequence in the data). */
  sequenceOffset?: number;
  /** If given (length rows×dh), filled with the hidden states h_t, row-major. */
  hidden?: Float64Array;
  /** If given (length rows×dy), the predictions are written here instead of a new array. */
  out?: Float64Array;
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

/**
 * Run one recurrent direction over every sequence of the chunk and add its contribution W_outᵀ s_t to y.
 *
 * States s_t = σ(W x_t + R s_prev); `reverse` runs each sequence from its last step back (BRNN backward
 * states, s after the last step = 0). `Wout` holds the output rows of these neurons: rows
 * [outRow0, outRow0 + n) of A2 (flat, dyOut columns). Writes states to `hidden` (stride hStride, column
 * offset hCol) when given. Internal helper shared by the IO-RNN and the BRNN.
 */
export function runDirection(
  W: Float64Array, R: Float64Array, n: number, coeffs: Float64Array,
  x: Float64Array, dx: number, lengths: Int32Array,
  A2: Float64Array, outRow0: number, dy: number, y: Float64Array,
  hidden: Float64Array | undefined, hStride: number, hCol: number,
  reverse: boolean, threshold: number, seqOffset: number,
): void {
  let prev = new Float64Array(n);
  let cur = new Float64Array(n);
  const deg = coeffs.length - 1;
  // σ(z) = c z² is the default; skip Horner's loop for it.
  const pureSquare = deg === 2 && coeffs[0] === 0 && coeffs[1] === 0;
  let rowStart = 0;
  for (let s = 0; s < lengths.length; s++) {
    const L = lengths[s];
    prev.fill(0);
    for (let k = 0; k < L; k++) {
      const t = reverse ? L - 1 - k : k;
      const row = rowStart + t;
      const xo = row * dx;
      for (let j = 0; j < n; j++) {
        let z = 0;
        const wo = j * dx;
        for (let i = 0; i < dx; i++) z += W[wo + i] * x[xo + i];
        const ro = j * n;
        for (let i = 0; i < n; i++) z += R[ro + i] * prev[i];
        const v = activate(coeffs, deg, pureSquare, z);
        // The negated test also catches NaN; Infinity is caught even when threshold = Infinity.
        const av = Math.abs(v);
        if (!(av <= threshold && av < Infinity)) {
          throw new BlowUpError(seqOffset + s, t + 1, av, reverse ? 'backward' : 'forward');
        }
        cur[j] = v;
      }
      if (hidden) {
        const ho = row * hStride + hCol;
        for (let j = 0; j < n; j++) hidden[ho + j] = cur[j];
      }
      const yo = row * dy;
      for (let j = 0; j < n; j++) {
        const hj = cur[j];
        if (hj === 0) continue;
        const ao = (outRow0 + j) * dy;
        for (let i = 0; i < dy; i++) y[yo + i] += A2[ao + i] * hj;
      }
      const tmp = prev;
      prev = cur;
      cur = tmp;
    }
    rowStart += L;
  }
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
 * Predictions ŷ (rows×dy, row-major) of an IO-RNN on every sequence of the chunk.
 * Throws a BlowUpError if the recursion escapes (DESIGN.md §6) and a UserError if dx disagrees.
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
  runDirection(
    A1.data, U.data, dh, activationCoefficients(params.activation), chunk.x, dx, chunk.lengths,
    A2.data, 0, dy, y, opts.hidden, dh, 0, false,
    opts.blowUpThreshold ?? DEFAULT_BLOWUP_THRESHOLD, opts.sequenceOffset ?? 0,
  );
  return y;
}

/** Hidden states h_t (rows×dh) and predictions of an IO-RNN. */
export function forwardIORNN(params: IORNNParams, chunk: SequenceChunk, opts: Omit<PredictOptions, 'hidden'> = {}): { yhat: Float64Array; hidden: Float64Array } {
  const hidden = new Float64Array(chunk.rows * params.A1.rows);
  const yhat = predictIORNN(params, chunk, { ...opts, hidden });
  return { yhat, hidden };
}

/** σ(z) by Horner; the pure square c₂z² (the common case) without the loop. Same bits as the loop. */
function activate(coeffs: Float64Array, deg: number, pureSquare: boolean, z: number): number {
  if (pureSquare) return coeffs[deg] * z * z;
  let v = coeffs[deg];
  for (let k = deg - 1; k >= 0; k--) v = v * z + coeffs[k];
  return v;
}

/**
 * Σ [h;1][h;1]ᵀ (G, m×m, m = dh + 1, upper triangle only: the caller mirrors it) and Σ [h;1] yᵀ (C, m×dy) over
 * every row of the chunk, with h_t the IO-RNN's hidden states (the output-layer least squares of DESIGN.md
 * §5 step 6). Same states, bit for bit, as `predictIORNN`; the sums over rows are GEMMs on the kernel arena
 * (so they differ from row-by-row sums in rounding only); no predictions.
 *
 * With `feedforward` ({G, C} of the same shapes) the sums of the same model without recurrence (U = 0, §6's
 * baseline) are accumulated in the same loop: both share A1 x_t, computed once. If the model's recursion
 * escapes, its sums stop (they are then partial), the feedforward sums still cover the whole chunk, and the
 * BlowUpError is returned (thrown when there is no `feedforward`). Returns null otherwise.
 */
export function accumulateStatesLS(
  params: IORNNParams, chunk: SequenceChunk, G: Float64Array, C: Float64Array,
  opts: { sequenceOffset?: number; blowUpThreshold?: number; feedforward?: { G: Float64Array; C: Float64Array } } = {},
): BlowUpError | null {
  const { A1, U } = params;
  const n = A1.rows, dx = A1.cols, dy = chunk.dy, m = n + 1;
  checkInputDim(dx, chunk);
  checkSquare(U, n, 'U');
  const ff = opts.feedforward;
  for (const [g, c] of [[G, C], ...(ff ? [[ff.G, ff.C]] : [])]) {
    if (g.length !== m * m || c.length !== m * dy) throw new RangeError(`accumulateStatesLS: G must be ${m}x${m} and C ${m}x${dy}`);
  }
  const R = U.data, y = chunk.y, lengths = chunk.lengths, rows = chunk.rows;
  const coeffs = activationCoefficients(params.activation);
  const deg = coeffs.length - 1;
  const pureSquare = deg === 2 && coeffs[0] === 0 && coeffs[1] === 0;
  const threshold = opts.blowUpThreshold ?? DEFAULT_BLOWUP_THRESHOLD, seqOffset = opts.sequenceOffset ?? 0;
  // On the kernel arena: A1 x_t for every row as one GEMM (each entry summed over i in the same order as
  // predictIORNN's loop, so the states are the same bits); the recursion row by row; then the sums over rows
  // Σ g gᵀ and Σ g yᵀ as GEMMs over the state rows g = [h; 1] (rows after a blow-up are zero).
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
    let prev = new Float64Array(n), cur = new Float64Array(n);
    let row = 0;
    for (let s = 0; s < lengths.length; s++) {
      const L = lengths[s];
      prev.fill(0);
      for (let t = 0; t < L; t++, row++) {
        const zo = wx + row * ldh, go = gs + row * ldm;
        if (failure === null) {
          let live = true;
          for (let j = 0; j < n; j++) {
            let z = H[zo + j];
            const ro = j * n;
            for (let i = 0; i < n; i++) z += R[ro + i] * prev[i];
            const v = activate(coeffs, deg, pureSquare, z);
            const av = Math.abs(v);
            if (!(av <= threshold && av < Infinity)) {
              failure = new BlowUpError(seqOffset + s, t + 1, av, 'forward');
              if (!ff) throw failure;
              live = false;
              break;
            }
            cur[j] = v;
          }
          if (live) {
            for (let j = 0; j < n; j++) H[go + j] = cur[j];
            H[go + n] = 1;
            const tmp = prev;
            prev = cur;
            cur = tmp;
          }
        }
        if (ff) {
          // U = 0: z = A1 x_t exactly (adding 0·h_{t−1} to a finite sum changes no bit).
          const fo = g0s + row * ldm;
          for (let j = 0; j < n; j++) {
            const z = H[zo + j];
            const v = activate(coeffs, deg, pureSquare, z);
            const av = Math.abs(v);
            if (!(av <= threshold && av < Infinity)) throw new BlowUpError(seqOffset + s, t + 1, av, 'forward');
            H[fo + j] = v;
          }
          H[fo + n] = 1;
        }
      }
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

/**
 * The RNN recursion, written once (docs/method.md §2):
 *   s_t = σ(W x_t + R s_prev),
 * forward in time (IO-RNN states h, BRNN forward states; s_prev = h_{t−1}) or backward in time (BRNN backward
 * states z; s_prev = z_{t+1}), with s_prev = 0 at the start of a sequence unless an initial state is carried
 * in from the previous chunk. Every consumer (predict, simulate, the output-layer least squares, the
 * refinement's state / sensitivity / gradient passes) obtains its states from `runSequence`.
 *
 * One blow-up rule (docs/method.md §6): a state blows up when |s| > BLOWUP_BOUND or it is not finite.
 */
import { SQUARE_CODE, TANH_CODE, sigma, type ActivationKernel } from './activation.js';

/** |state| above this (or non-finite) is a blow-up (docs/method.md §6): stable models keep |h| = O(1). */
export const BLOWUP_BOUND = 1e6;

/** The blow-up test. The negated comparison also catches NaN; Infinity is caught even with bound = Infinity. */
export function blowsUp(v: number, bound: number = BLOWUP_BOUND): boolean {
  const a = Math.abs(v);
  return !(a <= bound && a < Infinity);
}

/**
 * The recursion escaped (docs/method.md §6): some state became non-finite or exceeded the bound.
 * `sequence` is 0-based within the data, `step` is the 1-based time step t of §2 within that sequence.
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

/**
 * One recurrent direction: n neurons with input weights W (n×dx, row-major from `wOff`) and recurrent weights
 * R (n×n from `rOff`; null = no recurrence, s_t = σ(W x_t)). Weight arrays may be views into a packed
 * parameter vector (hence the offsets).
 */
export interface Recurrence {
  readonly n: number;
  readonly dx: number;
  readonly W: Float64Array;
  readonly wOff: number;
  readonly R: Float64Array | null;
  readonly rOff: number;
  readonly act: ActivationKernel;
  /** Run each sequence from its last step back (BRNN backward states). */
  readonly reverse: boolean;
}

/** Where `runSequence` writes: state of local step t, neuron j at `states[offset + t·stride + j]`. */
export interface StateTarget {
  readonly states: Float64Array;
  readonly offset: number;
  readonly stride: number;
  /** If given, pre-activations u_t = W x_t + R s_prev at `pre[t·n + j]` (for σ' in the sensitivity passes). */
  readonly pre?: Float64Array;
}

/** Precomputed input projections W x_t (e.g. one GEMM for a whole chunk): row r, neuron j at `data[offset + r·ld + j]`. */
export interface InputProjection {
  readonly data: Float64Array;
  readonly offset: number;
  readonly ld: number;
}

/** Where a recursion blew up: local step index t (0-based, in time order) and |s|. */
export interface BlowUp {
  readonly t: number;
  readonly value: number;
}

/**
 * Run the recursion over one sequence (rows r0 … r0+L−1 of x, dx columns) into `target`.
 * `initial` (length n) is s_prev of the first processed step (carried state); null means 0.
 * Stops at the first state that blows up and returns where (the states of that step are then partial);
 * returns null otherwise. Sums run over i in increasing order, starting from 0 (or from the projection).
 */
export function runSequence(
  rec: Recurrence, x: Float64Array, r0: number, L: number, target: StateTarget,
  initial: Float64Array | null = null, bound: number = BLOWUP_BOUND, proj: InputProjection | null = null,
): BlowUp | null {
  const { n, dx, W, wOff, R, rOff, act, reverse } = rec;
  const { states: S, offset, stride } = target;
  const pre = target.pre ?? null;
  const P = proj === null ? null : proj.data, pOff = proj === null ? 0 : proj.offset, ld = proj === null ? 0 : proj.ld;
  // σ = c z² (the default) and tanh inline; every other σ through the kernel's one evaluation (same bits).
  const square = act.code === SQUARE_CODE, c2 = square ? act.c[2] : 0, tanh = act.code === TANH_CODE;
  // |tanh| ≤ 1: with a bound ≥ 1 the blow-up rule reduces to "not a number" (the same verdict, fewer operations).
  const nanOnly = tanh && bound >= 1;
  for (let k = 0; k < L; k++) {
    const t = reverse ? L - 1 - k : k;
    const xo = (r0 + t) * dx, so = offset + t * stride;
    // Previous state: the neighbouring row of the same target, or the carried initial state at the first step.
    const prev = k === 0 ? initial : S;
    const po = k === 0 ? 0 : offset + (reverse ? t + 1 : t - 1) * stride;
    const recur = R !== null && prev !== null;
    for (let j = 0; j < n; j++) {
      let u: number;
      if (P !== null) u = P[pOff + (r0 + t) * ld + j];
      else {
        u = 0;
        const wo = wOff + j * dx;
        for (let i = 0; i < dx; i++) u += W[wo + i] * x[xo + i];
      }
      if (recur) {
        const ro = rOff + j * n;
        for (let i = 0; i < n; i++) u += R![ro + i] * prev![po + i];
      }
      if (pre !== null) pre[t * n + j] = u;
      const v = square ? c2 * u * u : tanh ? Math.tanh(u) : sigma(act, u);
      if (nanOnly ? v !== v : blowsUp(v, bound)) return { t, value: Math.abs(v) };
      S[so + j] = v;
    }
  }
  return null;
}

/**
 * Run one direction over every sequence of a chunk (`lengths` in row order), states into `target` with
 * offset + row·stride. Throws a BlowUpError (sequence index + `seqOffset`, 1-based step).
 *
 * Carried state (streaming one long sequence in pieces): `carry.initial` is s_prev where this chunk's
 * recursion starts (forward: before the first row of the first sequence; backward: after the last row of the
 * last sequence); on return `carry.final` (if given) holds the state where it ends (forward: the last row;
 * backward: the first row). Other sequences of the chunk start from 0.
 */
export function runChunk(
  rec: Recurrence, x: Float64Array, lengths: Int32Array, target: StateTarget | null,
  opts: {
    bound?: number; seqOffset?: number; initial?: Float64Array | null; final?: Float64Array | null;
    /** Called after each sequence with its states (local row t at states[offset + t·stride …]). */
    onSequence?: (r0: number, L: number, states: Float64Array, offset: number, stride: number) => void;
  } = {},
): void {
  const nSeq = lengths.length, n = rec.n;
  if (opts.initial && opts.initial.length !== n) throw new RangeError(`initial state has length ${opts.initial.length}, expected ${n}`);
  if (opts.final && opts.final.length !== n) throw new RangeError(`final state buffer has length ${opts.final.length}, expected ${n}`);
  if (target?.pre) throw new RangeError('runChunk: pre-activations are per sequence (use runSequence)');
  // Without a target, each sequence's states go to a scratch buffer (for `onSequence`).
  let Lmax = 0;
  for (let s = 0; s < nSeq; s++) Lmax = Math.max(Lmax, lengths[s]);
  const scratch = target === null ? new Float64Array(Lmax * n) : null;
  const carrySeq = rec.reverse ? nSeq - 1 : 0;
  let r0 = 0;
  for (let s = 0; s < nSeq; s++) {
    const L = lengths[s];
    const sub: StateTarget = scratch ? { states: scratch, offset: 0, stride: n } : { states: target!.states, offset: target!.offset + r0 * target!.stride, stride: target!.stride };
    const bad = runSequence(rec, x, r0, L, sub, s === carrySeq ? opts.initial ?? null : null, opts.bound ?? BLOWUP_BOUND);
    if (bad !== null) throw new BlowUpError((opts.seqOffset ?? 0) + s, bad.t + 1, bad.value, rec.reverse ? 'backward' : 'forward');
    opts.onSequence?.(r0, L, sub.states, sub.offset, sub.stride);
    if (opts.final && s === (rec.reverse ? 0 : nSeq - 1)) {
      const o = sub.offset + (rec.reverse ? 0 : L - 1) * sub.stride;
      for (let j = 0; j < n; j++) opts.final[j] = sub.states[o + j];
    }
    r0 += L;
  }
}

/**
 * Per-sequence states of a packed model (src/rnn/layout.ts) and the state pass: squared output errors and
 * the output-layer least-squares statistics. The recursion is the kernel's `runSequence`.
 */
import type { SequenceChunk } from '../io/dataset.js';
import type { Layout } from './layout.js';
import { recurrences } from './layout.js';
import { runSequence } from './recurrence.js';

/** Result of a pass over the data. `blowup`: some state blew up, or the loss (gradient) is not finite. */
export interface PassResult {
  /** Σ_t ‖ŷ_t − y_t‖² (not averaged). */
  sse: number;
  /** Number of time steps counted in the loss (each sequence's burn-in rows excluded). */
  rows: number;
  blowup: boolean;
}

export function maxSeqLength(chunks: readonly SequenceChunk[]): number {
  let L = 0;
  for (const c of chunks) for (let k = 0; k < c.lengths.length; k++) if (c.lengths[k] > L) L = c.lengths[k];
  return L;
}

/**
 * Scratch for one sequence of up to Lmax steps. `H` holds h_{t−1} at row t (row 0 = h_{−1} = 0, so h_t is at
 * row t+1); `uf` the forward pre-activations (row t); `zb`, `ub` the backward states and pre-activations (row t).
 */
export class SequenceStates {
  readonly H: Float64Array;
  readonly uf: Float64Array;
  readonly zb: Float64Array;
  readonly ub: Float64Array;

  constructor(lay: Layout, Lmax: number) {
    this.H = new Float64Array((Lmax + 1) * lay.dh);
    this.uf = new Float64Array(Lmax * lay.dh);
    this.zb = new Float64Array(Lmax * lay.dz);
    this.ub = new Float64Array(Lmax * lay.dz);
  }

  /** Backward then forward states of the sequence at rows r0 … r0+L−1 of x; false if a state blows up. */
  run(lay: Layout, th: Float64Array, x: Float64Array, r0: number, L: number): boolean {
    const { fwd, bwd } = recurrences(lay, th);
    if (lay.dz > 0 && runSequence(bwd, x, r0, L, { states: this.zb, offset: 0, stride: lay.dz, pre: this.ub }) !== null) return false;
    return runSequence(fwd, x, r0, L, { states: this.H, offset: lay.dh, stride: lay.dh, pre: this.uf }) === null;
  }

  /** s_t = [h_t; z_t; 1] into s (length m). */
  stateRow(lay: Layout, t: number, s: Float64Array): void {
    const { dh, dz, m } = lay;
    const ho = (t + 1) * dh;
    for (let j = 0; j < dh; j++) s[j] = this.H[ho + j];
    for (let j = 0; j < dz; j++) s[dh + j] = this.zb[t * dz + j];
    s[m - 1] = 1;
  }
}

/** One sequence of a chunk list: rows r0 … r0+L−1 of its chunk's x and y, `rowBase` rows into the whole data. */
export interface SequenceRef {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly r0: number;
  readonly L: number;
  readonly rowBase: number;
}

/** Every sequence of the chunks, in order. */
export function sequencesOf(chunks: readonly SequenceChunk[]): SequenceRef[] {
  const out: SequenceRef[] = [];
  let rowBase = 0;
  for (const c of chunks) {
    let r0 = 0;
    for (let q = 0; q < c.lengths.length; q++) {
      const L = c.lengths[q];
      out.push({ x: c.x, y: c.y, r0, L, rowBase });
      r0 += L;
      rowBase += L;
    }
  }
  return out;
}

/**
 * Forward pass: sum of squared output errors and blow-up detection. If `gram` is given, also
 * accumulates G += s_t s_tᵀ (m×m), C += s_t y_tᵀ (m×dy) and yy += ‖y_t‖², the sufficient statistics
 * of the output-layer least squares. Stops early (blowup = true) on the first blown-up sequence.
 * `burnIn`: the first burnIn rows of every sequence only warm up the state (a window cut from a longer recording
 * starts from h = 0, not from its true state): the recursion runs over them, their residuals are not counted.
 */
export function statePass(
  lay: Layout, th: Float64Array, chunks: readonly SequenceChunk[], gram?: { G: Float64Array; C: Float64Array; yy: number }, burnIn = 0,
): PassResult {
  const { dy, m, oA2 } = lay;
  const seq = new SequenceStates(lay, maxSeqLength(chunks));
  const s = new Float64Array(m);
  let sse = 0, yy = 0;
  let rows = 0;
  for (const { x, y, r0, L } of sequencesOf(chunks)) {
    if (!seq.run(lay, th, x, r0, L)) return { sse: Infinity, rows, blowup: true };
    for (let t = Math.min(burnIn, L); t < L; t++) {
      const yo = (r0 + t) * dy;
      seq.stateRow(lay, t, s);
      for (let i = 0; i < dy; i++) {
        let yh = 0;
        for (let j = 0; j < m; j++) yh += th[oA2 + j * dy + i] * s[j];
        const r = yh - y[yo + i];
        sse += r * r;
      }
      if (gram) {
        const { G, C } = gram;
        for (let a = 0; a < m; a++) {
          const sa = s[a];
          for (let b2 = a; b2 < m; b2++) G[a * m + b2] += sa * s[b2];
          for (let i = 0; i < dy; i++) C[a * dy + i] += sa * y[yo + i];
        }
        for (let i = 0; i < dy; i++) yy += y[yo + i] * y[yo + i];
      }
    }
    rows += L - Math.min(burnIn, L);
  }
  if (gram) {
    const { G } = gram;
    for (let a = 0; a < m; a++) for (let b2 = 0; b2 < a; b2++) G[a * m + b2] = G[b2 * m + a];
    gram.yy += yy;
  }
  if (!Number.isFinite(sse)) return { sse: Infinity, rows, blowup: true };
  return { sse, rows, blowup: false };
}

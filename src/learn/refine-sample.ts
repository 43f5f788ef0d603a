/**
 * The refinement's sample in windows mode (src/learn/refine-windows.ts): the sequence lengths recorded in pass 1,
 * the burn-in from the model, and the collector that copies the planned windows out of a data pass.
 *
 * A sequence may arrive in consecutive pieces (a reader that streams one long recording, `continued` /
 * `continues` on the chunks): the collector copies each piece's overlap with each planned window into that
 * window's buffer, so it holds exactly the planned rows (burn-in included), whatever the piece size.
 */
import { PieceSteps, makeChunk, type SequenceChunk } from '../io/dataset.js';
import { spectralRadius } from '../linalg/lyapunov.js';
import type { RNNParams } from '../models/params.js';
import { burnInRows, type RefinePlan, type RefineWindow } from './refine-windows.js';

/** Sequence lengths over a pass, with pieces of one sequence joined (a length is final at its last piece). */
export class SequenceLengths {
  private buf = new Int32Array(16);
  private n = 0;
  /** The last recorded sequence goes on in the next chunk. */
  private open = false;

  add(chunk: SequenceChunk): void {
    const { lengths } = chunk;
    for (let k = 0; k < lengths.length; k++) {
      if (k === 0 && chunk.continued && this.open) this.buf[this.n - 1] += lengths[k];
      else {
        if (this.n === this.buf.length) {
          const b = new Int32Array(2 * this.buf.length);
          b.set(this.buf);
          this.buf = b;
        }
        this.buf[this.n++] = lengths[k];
      }
    }
    this.open = lengths.length > 0 && chunk.continues === true;
  }

  get lengths(): Int32Array {
    return this.buf.slice(0, this.n);
  }
}

/**
 * Burn-in rows for a model (refine-windows.ts `burnInRows`): ρ is the spectral radius of U, the state recursion's
 * Jacobian at h = 0 for σ′(0) = 1 (linear, tanh; the linear route's start is a scaled linear realization, whose U
 * has the realization's poles), a state's memory of its start decays like ρ^t. A BRNN's V does not matter (it is
 * never windowed).
 */
export function burnInForModel(params: RNNParams, cap: number): { burnIn: number; rho: number } {
  let rho = 1;
  try {
    rho = spectralRadius(params.U);
  } catch {
    // A non-finite U (a blown-up estimate): no decay rate; the caps decide.
  }
  return { burnIn: burnInRows(rho, cap), rho };
}

/** One piece of a sequence: rows [start, start + rows) of sequence `seq`; `isLast` when the sequence ends with it. */
export interface SequencePiece {
  seq: number;
  start: number;
  isLast: boolean;
  rows: number;
  /** rows×dx and rows×dy, row-major (may be views; they are copied). */
  x: Float64Array;
  y: Float64Array;
}

export class RefineSampleCollector {
  private readonly bySeq = new Map<number, { w: RefineWindow; x: Float64Array; y: Float64Array; filled: number }[]>();
  private readonly windows: { w: RefineWindow; x: Float64Array; y: Float64Array; filled: number; val: boolean }[] = [];
  // Piece bookkeeping for `addChunk`.
  private nextSeq = 0;
  private openSeq = -1;
  private readonly steps = new PieceSteps();

  /** One buffer per set; each window's x and y are views into it, so `result` copies nothing. */
  private readonly sets: { x: Float64Array; y: Float64Array; lengths: number[] }[] = [];

  constructor(readonly plan: RefinePlan, readonly dx: number, readonly dy: number) {
    if (plan.mode !== 'windows') throw new RangeError('RefineSampleCollector: the plan is not in windows mode');
    for (const [list, val] of [[plan.train, false], [plan.validation, true]] as const) {
      const lengths = list.map((w) => w.end - w.start);
      const rows = lengths.reduce((s, L) => s + L, 0);
      const set = { x: new Float64Array(rows * dx), y: new Float64Array(rows * dy), lengths };
      this.sets.push(set);
      let o = 0;
      for (const w of list) {
        const L = w.end - w.start;
        const e = { w, x: set.x.subarray(o * dx, (o + L) * dx), y: set.y.subarray(o * dy, (o + L) * dy), filled: 0, val };
        o += L;
        this.windows.push(e);
        const s = this.bySeq.get(w.seq);
        if (s) s.push(e);
        else this.bySeq.set(w.seq, [e]);
      }
    }
  }

  /** Copy the piece's rows that fall into planned windows. */
  add(piece: SequencePiece): void {
    const ws = this.bySeq.get(piece.seq);
    if (!ws) return;
    const { dx, dy } = this;
    const p0 = piece.start, p1 = piece.start + piece.rows;
    for (const e of ws) {
      const a = Math.max(p0, e.w.start), b = Math.min(p1, e.w.end);
      if (a >= b) continue;
      e.x.set(piece.x.subarray((a - p0) * dx, (b - p0) * dx), (a - e.w.start) * dx);
      e.y.set(piece.y.subarray((a - p0) * dy, (b - p0) * dy), (a - e.w.start) * dy);
      e.filled += b - a;
    }
  }

  /** A chunk of a data pass (whole sequences, or pieces flagged `continued` / `continues`), in data order. */
  addChunk(chunk: SequenceChunk): void {
    const { dx, dy, lengths } = chunk;
    const first = this.steps.offset(chunk);
    this.steps.advance(chunk);
    let r = 0;
    for (let k = 0; k < lengths.length; k++) {
      const L = lengths[k];
      const cont = k === 0 && chunk.continued === true && this.openSeq >= 0;
      const seq = cont ? this.openSeq : this.nextSeq++;
      const start = cont ? first : 0;
      const isLast = !(k === lengths.length - 1 && chunk.continues === true);
      this.add({ seq, start, isLast, rows: L, x: chunk.x.subarray(r * dx, (r + L) * dx), y: chunk.y.subarray(r * dy, (r + L) * dy) });
      this.openSeq = isLast ? -1 : seq;
      r += L;
    }
  }

  /** Rows held (the planned windows, burn-in included). */
  get heldRows(): number {
    return this.windows.reduce((s, e) => s + e.w.end - e.w.start, 0);
  }

  /** The training windows and the validation block, each as one chunk of windows (null when there are none). */
  result(): { train: SequenceChunk; validation: SequenceChunk | null } {
    for (const e of this.windows) {
      if (e.filled !== e.w.end - e.w.start) throw new Error(`refine sample: window ${e.w.start}–${e.w.end} of sequence ${e.w.seq + 1} got ${e.filled} of its rows (the data changed between passes)`);
    }
    const build = (k: number): SequenceChunk | null => {
      const { x, y, lengths } = this.sets[k];
      return lengths.length === 0 ? null : makeChunk(this.dx, this.dy, x, y, lengths);
    };
    const train = build(0);
    if (train === null) throw new Error('refine sample: the plan has no training windows');
    return { train, validation: build(1) };
  }
}

import { DataSource, SequenceChunk, makeChunk } from '../io/dataset.js';
import { PieceJoiner, haloOf, trimHalo, withHalo } from './pieces.js';

/** Sequence subsets and transforms of a chunk, shared by the learner's stages. */

/** The chunk with y − ȳ in place of y (x shared, not copied). */
export function centredChunk(chunk: SequenceChunk, yMean: Float64Array): SequenceChunk {
  const dy = chunk.dy;
  const yc = new Float64Array(chunk.y.length);
  for (let i = 0; i < yc.length; i++) yc[i] = chunk.y[i] - yMean[i % dy];
  // A piece's halo rows (src/learn/pieces.ts) stay marked: the accumulators zero their (now −ȳ) target again.
  return withHalo(makeChunk(chunk.dx, dy, chunk.x, yc, chunk.lengths), haloOf(chunk));
}

/** Stride that spreads about `maxRows` rows (whole sequences) evenly over `totalRows`. */
export function sampleStride(totalRows: number, maxRows: number): number {
  return Math.max(1, Math.ceil(totalRows / maxRows));
}

/**
 * The sequences of a chunk whose global index is ≡ `phase` modulo `stride` (copied; the chunk itself for stride 1),
 * or null if none. `stride` 2 with phase 0 / 1 gives the even / odd halves of the split-sample rules.
 */
export function strideSubchunk(chunk: SequenceChunk, seqOffset: number, stride: number, phase = 0): SequenceChunk | null {
  if (stride === 1) return chunk;
  const { dx, dy } = chunk;
  let row = 0;
  const lengths: number[] = [];
  const xParts: Float64Array[] = [], yParts: Float64Array[] = [];
  for (let k = 0; k < chunk.lengths.length; k++) {
    const L = chunk.lengths[k];
    if ((seqOffset + k) % stride === phase) {
      lengths.push(L);
      xParts.push(chunk.x.subarray(row * dx, (row + L) * dx));
      yParts.push(chunk.y.subarray(row * dy, (row + L) * dy));
    }
    row += L;
  }
  if (lengths.length === 0) return null;
  // Halo rows (src/learn/pieces.ts) belong to the first and the last sequence: kept with them.
  const h = haloOf(chunk), n = chunk.lengths.length;
  const halo = h ? { left: seqOffset % stride === phase ? h.left : 0, right: (seqOffset + n - 1) % stride === phase ? h.right : 0 } : null;
  return withHalo(makeChunk(dx, dy, concat(xParts), concat(yParts), lengths), halo);
}

export function concat(parts: Float64Array[]): Float64Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Float64Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function copyChunk(c: SequenceChunk): SequenceChunk {
  return makeChunk(c.dx, c.dy, c.x.slice(), c.y.slice(), Int32Array.from(c.lengths));
}

/**
 * A subchunk to keep after the pass: `strideSubchunk` returns the chunk itself for stride 1, and a streaming
 * source may hand out buffers it later reuses, so those are copied (in-memory chunks are the caller's, stable).
 */
export function keptSubchunk(source: Pick<DataSource, 'inMemory'>, sub: SequenceChunk, chunk: SequenceChunk): SequenceChunk {
  return sub === chunk && !source.inMemory ? copyChunk(sub) : sub;
}

/**
 * Apply a per-row function (rows×dy result) to groups of whole sequences of at most ~4096 rows and concatenate:
 * e.g. the control-variate features (p per row, p ≈ 140 at dx = 5) then never exist for a whole chunk at once.
 */
export function bySubchunks(chunk: SequenceChunk, f: (sub: SequenceChunk) => Float64Array, maxRows = 4096): Float64Array {
  if (chunk.rows <= maxRows) return f(chunk);
  const { dx, dy } = chunk;
  const out = new Float64Array(chunk.rows * dy);
  let row = 0, k = 0;
  while (k < chunk.lengths.length) {
    let rows = 0;
    const k0 = k;
    while (k < chunk.lengths.length && (rows === 0 || rows + chunk.lengths[k] <= maxRows)) rows += chunk.lengths[k++];
    const sub = makeChunk(dx, dy, chunk.x.subarray(row * dx, (row + rows) * dx), chunk.y.subarray(row * dy, (row + rows) * dy), chunk.lengths.slice(k0, k));
    out.set(f(sub), row * dy);
    row += rows;
  }
  return out;
}

/**
 * An evenly spread sample of sequences kept in memory during a pass (every `stride`-th sequence by global index,
 * as `strideSubchunk`), for the identification stages that fit on data (the linear learner's order choice, the
 * smooth learner's linear-route starts). It also takes the pieces of one long sequence (src/learn/pieces.ts): a
 * piece gives its own rows (halo rows dropped), the kept pieces of a sequence are joined again, and a sequence
 * gives at most its first `maxSequenceRows` rows, so that memory does not grow with one sequence's length (a
 * file without a `seq` column is one sequence, index 0, always kept). A chunk of whole sequences none longer
 * than the cap is kept as `strideSubchunk` gives it (the same sample as before pieces existed).
 */
export class SequenceSample {
  private readonly joiner = new PieceJoiner();
  /** Rows of the open sequence (the last one of the previous chunk, going on) seen so far. */
  private seen = 0;
  constructor(
    /** Its chunks are kept as they are when `inMemory` (else copied: a streaming reader may reuse its buffers). */
    private readonly source: Pick<DataSource, 'inMemory'>,
    private readonly stride: number,
    private readonly maxSequenceRows: number,
  ) {}

  add(chunk: SequenceChunk, seqOffset: number): void {
    const n = chunk.lengths.length;
    let longest = 0;
    for (let k = 0; k < n; k++) longest = Math.max(longest, chunk.lengths[k]);
    if (!chunk.continued && !chunk.continues && !haloOf(chunk) && longest <= this.maxSequenceRows) {
      const sub = strideSubchunk(chunk, seqOffset, this.stride);
      if (sub) this.joiner.add(keptSubchunk(this.source, sub, chunk), false, false);
      return;
    }
    const own = trimHalo(chunk, 0, 0);
    const { dx, dy } = own;
    let row = 0;
    for (let k = 0; k < n; k++) {
      const L = own.lengths[k];
      const continued = k === 0 && own.continued === true, goesOn = k === n - 1 && own.continues === true;
      const start = continued ? this.seen : 0;
      if ((seqOffset + k) % this.stride === 0) {
        const take = Math.min(L, this.maxSequenceRows - start);
        if (take > 0) {
          const x = own.x.slice(row * dx, (row + take) * dx), y = own.y.slice(row * dy, (row + take) * dy);
          this.joiner.add(makeChunk(dx, dy, x, y, [take]), continued && start > 0, goesOn && take === L);
        }
      }
      if (goesOn) this.seen = start + L;
      row += L;
    }
  }

  /** The kept sequences (pieces joined). */
  chunks(): SequenceChunk[] {
    return this.joiner.chunks();
  }
}
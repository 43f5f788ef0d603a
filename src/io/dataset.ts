/**
 * In-memory form of labelled sequence data, shared by every pass (input-model fit, moments, learner).
 *
 * Rows are time steps, sequences are contiguous and in time order, `lengths[k]` is the number of steps of the
 * k-th sequence in the chunk and Σ lengths = rows. `x` is rows×dx row-major, `y` is rows×dy row-major (dy may be
 * 0 for unlabelled input).
 *
 * A chunk holds whole sequences unless a flag says otherwise: a reader asked to (`splitSequences`) delivers a
 * sequence longer than its chunk size in pieces, so memory does not grow with one sequence's length. Then
 * `continued` says the chunk's FIRST sequence began in an earlier chunk (its first row is not a sequence start)
 * and `continues` that its LAST sequence goes on in the next chunk (its last row is not a sequence end). Both
 * absent (false) is the whole-sequence chunk every consumer understands; a consumer that cannot carry state
 * across chunks reads through `wholeSequences(source)`.
 */
export interface SequenceChunk {
  readonly dx: number;
  readonly dy: number;
  readonly rows: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly lengths: Int32Array;
  /** The first sequence started in an earlier chunk. */
  readonly continued?: boolean;
  /** The last sequence goes on in the next chunk. */
  readonly continues?: boolean;
}

/** Number of sequences that START in this chunk (a continued first sequence was counted by an earlier chunk). */
export function sequencesStarting(c: SequenceChunk): number {
  return c.lengths.length - (c.continued ? 1 : 0);
}

type PieceFlags = Pick<SequenceChunk, 'lengths' | 'continued' | 'continues'>;

/**
 * Where a reader's pieces of one long sequence stand in it: `offset(chunk)` is the step (from the sequence's
 * true start) of the chunk's first row, read before the chunk; `advance(chunk)` after it. Every consumer that
 * numbers steps across pieces (predictions, CSV writers, the learner's passes) counts with this one.
 */
export class PieceSteps {
  private done = 0;
  offset(c: PieceFlags): number {
    return c.continued ? this.done : 0;
  }
  advance(c: PieceFlags): void {
    const last = c.lengths[c.lengths.length - 1];
    this.done = c.continues ? (c.lengths.length === 1 ? this.offset(c) : 0) + last : 0;
  }
  reset(): void {
    this.done = 0;
  }
}

/**
 * A re-iterable stream of chunks: each call to `chunks()` starts a fresh pass over the data, so a
 * learner can make several passes over a file with memory independent of its length.
 */
export interface DataSource {
  readonly dx: number;
  readonly dy: number;
  /** Human-readable origin for error messages (file path or "memory"). */
  readonly name: string;
  /** True when the chunks already live in memory (re-reading them costs nothing, so no spill file is needed). */
  readonly inMemory?: boolean;
  chunks(): AsyncIterable<SequenceChunk>;
}

/** Wrap one in-memory chunk (or several) as a DataSource. */
export function memorySource(chunks: SequenceChunk | SequenceChunk[], name = 'memory'): DataSource {
  const list = Array.isArray(chunks) ? chunks : [chunks];
  if (list.length === 0) throw new RangeError('memorySource: no chunks');
  const { dx, dy } = list[0];
  for (const c of list) {
    if (c.dx !== dx || c.dy !== dy) throw new RangeError('memorySource: chunks disagree on dx/dy');
  }
  return {
    dx,
    dy,
    name,
    inMemory: true,
    async *chunks() {
      for (const c of list) yield c;
    },
  };
}

/** Build a chunk, checking the invariants above. */
export function makeChunk(dx: number, dy: number, x: Float64Array, y: Float64Array, lengths: ArrayLike<number>): SequenceChunk {
  let rows = 0;
  for (let k = 0; k < lengths.length; k++) {
    if (!Number.isInteger(lengths[k]) || lengths[k] < 1) throw new RangeError(`makeChunk: sequence ${k} has invalid length ${lengths[k]}`);
    rows += lengths[k];
  }
  if (x.length !== rows * dx) throw new RangeError(`makeChunk: x has ${x.length} values, expected ${rows}x${dx}`);
  if (y.length !== rows * dy) throw new RangeError(`makeChunk: y has ${y.length} values, expected ${rows}x${dy}`);
  return { dx, dy, rows, x, y, lengths: Int32Array.from(lengths) };
}

/** Split a chunk's sequences into `parts` chunks of about equal row counts (for workers / held-out splits). */
export function splitChunk(c: SequenceChunk, parts: number): SequenceChunk[] {
  const out: SequenceChunk[] = [];
  const target = c.rows / parts;
  let startSeq = 0, startRow = 0;
  for (let p = 0; p < parts && startSeq < c.lengths.length; p++) {
    let endSeq = startSeq, endRow = startRow;
    while (endSeq < c.lengths.length && (p === parts - 1 || endRow - startRow < target)) {
      endRow += c.lengths[endSeq++];
    }
    out.push(sliceSequences(c, startSeq, endSeq, startRow, endRow));
    startSeq = endSeq;
    startRow = endRow;
  }
  return out;
}

/** Sequences [s0, s1) of a chunk, given their row range [r0, r1) (views, no copy). */
export function sliceSequences(c: SequenceChunk, s0: number, s1: number, r0?: number, r1?: number): SequenceChunk {
  if (r0 === undefined || r1 === undefined) {
    r0 = 0;
    for (let k = 0; k < s0; k++) r0 += c.lengths[k];
    r1 = r0;
    for (let k = s0; k < s1; k++) r1 += c.lengths[k];
  }
  return {
    dx: c.dx,
    dy: c.dy,
    rows: r1 - r0,
    x: c.x.subarray(r0 * c.dx, r1 * c.dx),
    y: c.y.subarray(r0 * c.dy, r1 * c.dy),
    lengths: c.lengths.subarray(s0, s1),
  };
}

/**
 * The chunks of `source` with pieces of one sequence joined again (whole sequences, as before readers could
 * split them). For consumers that need a whole sequence at once (a backward recursion, the T2 halves of the
 * report's rank rule): memory then grows with the longest sequence, as it did before. Extra per-sequence fields
 * of the pieces are not kept, except `seqIds` / `firstLine` / `sequenceOffset` of file chunks.
 */
export function wholeSequences<S extends DataSource>(source: S): S {
  if ((source as { [WHOLE]?: true })[WHOLE]) return source;
  // Everything else of the source (path, header, columns, format, …) is inherited unchanged.
  const out = Object.create(source) as S & { [WHOLE]: true };
  Object.defineProperty(out, 'chunks', { value: () => joinPieces(source.chunks()) });
  Object.defineProperty(out, WHOLE, { value: true });
  return out;
}

const WHOLE = Symbol('wholeSequences');

type FileFields = { seqIds?: Float64Array; firstLine?: Float64Array; sequenceOffset?: number };

async function* joinPieces(chunks: AsyncIterable<SequenceChunk>): AsyncGenerator<SequenceChunk> {
  let pending: SequenceChunk[] = [];
  for await (const c of chunks) {
    if (!c.continues && !c.continued && pending.length === 0) {
      yield c;
      continue;
    }
    if (c.continued && pending.length === 0) throw new Error('wholeSequences: a chunk continues a sequence no chunk began');
    // Pieces may be reused buffers of a streaming reader: keep copies.
    pending.push(copyOf(c));
    if (c.continues) continue;
    yield joinChunks(pending);
    pending = [];
  }
  if (pending.length > 0) throw new Error('wholeSequences: the last chunk says its sequence goes on');
}

function copyOf(c: SequenceChunk): SequenceChunk {
  const f = c as SequenceChunk & FileFields;
  return {
    ...c,
    x: c.x.slice(0, c.rows * c.dx),
    y: c.y.slice(0, c.rows * c.dy),
    lengths: Int32Array.from(c.lengths),
    ...(f.seqIds ? { seqIds: Float64Array.from(f.seqIds) } : {}),
    ...(f.firstLine ? { firstLine: Float64Array.from(f.firstLine) } : {}),
  };
}

/**
 * Join consecutive chunks into one: a `continued` chunk's first sequence is appended to the previous chunk's last
 * one. The result keeps the first chunk's `continued` and the last one's `continues`.
 */
export function joinChunks(parts: SequenceChunk[]): SequenceChunk {
  if (parts.length === 1) return parts[0];
  const { dx, dy } = parts[0];
  let rows = 0;
  const lengths: number[] = [], ids: number[] = [], firsts: number[] = [];
  const withFile = parts.every((p) => (p as FileFields).seqIds && (p as FileFields).firstLine);
  for (const [i, p] of parts.entries()) {
    rows += p.rows;
    for (let k = 0; k < p.lengths.length; k++) {
      if (k === 0 && i > 0 && p.continued) {
        lengths[lengths.length - 1] += p.lengths[0];
        continue;
      }
      lengths.push(p.lengths[k]);
      if (withFile) {
        ids.push((p as FileFields).seqIds![k]);
        firsts.push((p as FileFields).firstLine![k]);
      }
    }
  }
  const x = new Float64Array(rows * dx), y = new Float64Array(rows * dy);
  let r = 0;
  for (const p of parts) {
    x.set(p.x.subarray(0, p.rows * dx), r * dx);
    y.set(p.y.subarray(0, p.rows * dy), r * dy);
    r += p.rows;
  }
  const first = parts[0], last = parts[parts.length - 1];
  return {
    dx, dy, rows, x, y, lengths: Int32Array.from(lengths),
    ...(first.continued ? { continued: true } : {}),
    ...(last.continues ? { continues: true } : {}),
    ...(withFile ? { seqIds: Float64Array.from(ids), firstLine: Float64Array.from(firsts), sequenceOffset: (first as FileFields).sequenceOffset ?? 0 } : {}),
  } as SequenceChunk;
}

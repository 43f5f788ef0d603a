/**
 * In-memory form of labelled sequence data, shared by every pass (input-model fit, moments, learner).
 *
 * A chunk holds whole sequences only: rows are time steps, sequences are contiguous and in time order,
 * `lengths[k]` is the number of steps of the k-th sequence in the chunk and Σ lengths = rows.
 * `x` is rows×dx row-major, `y` is rows×dy row-major (dy may be 0 for unlabelled input).
 */
export interface SequenceChunk {
  readonly dx: number;
  readonly dy: number;
  readonly rows: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly lengths: Int32Array;
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

import { DataSource, PieceSteps, SequenceChunk, joinChunks } from '../io/dataset.js';
import { BlowUpError } from '../rnn/recurrence.js';

/**
 * One long sequence in pieces for the learner's passes (a file without a `seq` column is one recording; its reader
 * delivers it in `continued` / `continues` pieces, src/io/dataset.ts), so that memory does not grow with its length.
 *
 * The moment passes need, at every row, features of its neighbours: the first-order score s_t of a VAR(1) input
 * reads x_{t−1}, x_t, x_{t+1} (docs/method.md §3), the mixed moments pair s_{t−1} or s_{t+1} with y_t, the
 * control variate reads x_{t±1}. `haloChunks` therefore hands each piece over with a HALO of up to H rows of its
 * neighbours on either side, joined to the piece as if it were one sequence:
 *  - the halo rows only provide neighbours: their y is zero (every moment is linear in y_t, so they add exactly
 *    nothing to its sums), and `Haloed.halo` says how many there are, so that counts and the few sums that do
 *    not carry y (the control variate's Gram matrix) leave them out;
 *  - a row of the piece has, within the padded piece, the same neighbours and the same precision blocks as in the
 *    whole sequence as long as the halo covers the scores its moments read: a VAR(p) score reads p rows either
 *    side, and a moment pairing y_t with s_{t−k} needs k + p rows before the piece (`haloFor`: 2 rows either side
 *    for the lag-1 mixed moments over a VAR(1), 64 before for the Markov moments M_k, k < 64). The sequence's true
 *    first and last rows get no halo, so their exact boundary scores are those of the whole sequence;
 *  - a chunk of whole sequences passes through unchanged (no halo): files with a `seq` column give the same sums,
 *    bit for bit, as before.
 * The sums over a long sequence are then split at piece boundaries (and the kernels' row blocks with them): the
 * same terms, added in a different grouping, so the moments agree with the whole-sequence ones to rounding.
 */

/** Halo rows at the start of a chunk's first sequence (`left`) and at the end of its last one (`right`). */
export interface Halo {
  readonly left: number;
  readonly right: number;
  /**
   * Where the padded chunk stands in the data as `wholeSequences` would have joined it (set by `haloChunks`): `step`
   * is the step, from its sequence's true start, of the chunk's first (halo) row, and `index` the index its first
   * sequence would have within the joined chunk. For accumulators whose sums depend on the position of a step
   * (the Markov accumulator's half split, src/moments/markov.ts), so that pieces reproduce the whole sequence.
   */
  readonly step?: number;
  readonly index?: number;
}

/**
 * The halo a module's moment passes need over pieces (`haloChunks`): its accumulators pair the target y_t with
 * first-order scores up to `back` steps before t and `forward` steps after it (`MomentsPlan.pieceLags`), and a
 * VAR(p) score reads p rows either side of its step (docs/method.md §3). So a piece's own rows see, within the
 * padded piece, the same scores as in the whole sequence when the halo has back + p rows before the piece and
 * forward + p after it. (The quadratic learner's mixed moment pairs y_t with s_{t−1}: back = forward = 1, H = 2.)
 */
export function haloFor(lags: { back: number; forward: number }, order: number): Halo {
  return { left: lags.back + order, right: lags.forward + order };
}

/** A chunk that may carry halo rows (see the file comment). */
export type Haloed = SequenceChunk & { readonly halo?: Halo };

export function haloOf(c: SequenceChunk): Halo | null {
  const h = (c as Haloed).halo;
  return h && (h.left > 0 || h.right > 0) ? h : null;
}

/** The same chunk with `halo` set (or dropped for a chunk without halo rows). */
export function withHalo(c: SequenceChunk, halo: Halo | null): SequenceChunk {
  const { halo: _drop, ...rest } = c as Haloed;
  void _drop;
  return halo && (halo.left > 0 || halo.right > 0) ? ({ ...rest, halo } as Haloed) : rest;
}

/**
 * Rows that are halo rows and yet inside the step range [a, L − b) of their sequence, for an accumulator that
 * counts the steps t ∈ [a, L − b) of every sequence (masked-out sequences, `mask[k] = 0`, count nothing): what its
 * count must lose so that it counts the piece's own rows only.
 */
export function haloStepsCounted(lengths: Int32Array, halo: Halo, a: number, b: number, mask: Uint8Array | null = null): number {
  const n = lengths.length;
  let c = 0;
  const inRange = (t: number, L: number): boolean => t >= a && t < L - b;
  if (halo.left > 0 && (!mask || mask[0])) for (let t = 0; t < halo.left; t++) if (inRange(t, lengths[0])) c++;
  if (halo.right > 0 && (!mask || mask[n - 1])) {
    const L = lengths[n - 1];
    for (let t = L - halo.right; t < L; t++) if (inRange(t, L)) c++;
  }
  return c;
}

/** Row range [r0, r1) of a chunk that is not halo. */
export function ownRows(c: SequenceChunk): [number, number] {
  const h = haloOf(c);
  return h ? [h.left, c.rows - h.right] : [0, c.rows];
}

/** y with the halo rows zeroed (a copy), or y itself without halo. */
export function zeroHaloRows(c: SequenceChunk, y: Float64Array, dy: number): Float64Array {
  const h = haloOf(c);
  if (!h) return y;
  const out = y.slice();
  out.fill(0, 0, h.left * dy);
  out.fill(0, (c.rows - h.right) * dy, c.rows * dy);
  return out;
}

/** A chunk as a pass sees it: global index of its first sequence and the step of its first own row in that sequence. */
export interface PieceInfo {
  chunk: SequenceChunk;
  /** Index (0-based, over the whole data) of the chunk's first sequence. */
  sequenceOffset: number;
  /** Step (within its sequence, from the sequence's true start) of the first own row of the chunk. */
  stepOffset: number;
}

interface Held {
  x: Float64Array;
  y: Float64Array;
  lengths: Int32Array;
  rows: number;
  continued: boolean;
  continues: boolean;
}

function hold(c: SequenceChunk): Held {
  // A streaming reader may reuse its buffers: a chunk kept past the next one is a copy.
  return { x: c.x.slice(0, c.rows * c.dx), y: c.y.slice(0, c.rows * c.dy), lengths: Int32Array.from(c.lengths), rows: c.rows, continued: !!c.continued, continues: !!c.continues };
}

/**
 * The chunks of `source` with halos of up to `left` / `right` rows on the pieces of split sequences (file
 * comment). Whole-sequence chunks are yielded as they are. Memory: the chunk, its look-ahead of `right` rows
 * (possibly spread over a few short pieces) and the last `left` rows of the open sequence.
 */
export async function* haloChunks(source: DataSource, halo: { left: number; right: number }): AsyncGenerator<PieceInfo> {
  const { dx, dy } = source;
  const queue: Held[] = [];
  // Last ≤ `left` rows of the open sequence (x only; halo y is zero) and its step count so far.
  let tail = new Float64Array(0), tailRows = 0;
  const steps = new PieceSteps();
  let sequences = 0;
  // Index the chunk's first sequence would have in the chunk `wholeSequences` joins (src/io/dataset.ts joinPieces):
  // a group of pieces starts at a chunk that is not `continued`, and each continued chunk adds the sequences
  // before its last one.
  let joinedIndex = 0, prevSequences = 0;
  const it = source.chunks()[Symbol.asyncIterator]();
  let exhausted = false;
  const pull = async (): Promise<boolean> => {
    if (exhausted) return false;
    const r = await it.next();
    if (r.done) {
      exhausted = true;
      return false;
    }
    queue.push(hold(r.value));
    return true;
  };
  /** Rows of the open sequence available after queue[0] (up to `need`). */
  const lookahead = (need: number): number => {
    let n = 0;
    for (let i = 1; i < queue.length && n < need; i++) {
      const q = queue[i];
      n += q.lengths[0];
      if (!(q.lengths.length === 1 && q.continues)) return n; // the sequence ends in this chunk
    }
    return n;
  };
  const sequenceEndsInQueue = (): boolean => {
    for (let i = 1; i < queue.length; i++) if (!(queue[i].lengths.length === 1 && queue[i].continues)) return true;
    return false;
  };
  for (;;) {
    if (queue.length === 0) {
      if (exhausted) break;
      const r = await it.next();
      if (r.done) break;
      const c = r.value;
      if (!c.continued && !c.continues) {
        // A chunk of whole sequences: the chunk itself (same object, no copy).
        yield { chunk: c, sequenceOffset: sequences, stepOffset: 0 };
        sequences += c.lengths.length;
        continue;
      }
      queue.push(hold(c));
    }
    const c = queue[0];
    if (!c.continued && !c.continues && tailRows === 0) {
      // A chunk of whole sequences, unchanged (and, if it came as one, the same object's data).
      queue.shift();
      yield { chunk: { dx, dy, rows: c.rows, x: c.x, y: c.y, lengths: c.lengths }, sequenceOffset: sequences, stepOffset: 0 };
      sequences += c.lengths.length;
      continue;
    }
    if (c.continues) while (lookahead(halo.right) < halo.right && !sequenceEndsInQueue() && (await pull()));
    queue.shift();
    const leftRows = c.continued ? Math.min(halo.left, tailRows) : 0;
    let rightRows = 0;
    const rightX: Float64Array[] = [];
    if (c.continues) {
      for (let i = 0; i < queue.length && rightRows < halo.right; i++) {
        const q = queue[i], take = Math.min(q.lengths[0], halo.right - rightRows);
        rightX.push(q.x.subarray(0, take * dx));
        rightRows += take;
        if (!(q.lengths.length === 1 && q.continues)) break;
      }
    }
    const rows = leftRows + c.rows + rightRows;
    const x = new Float64Array(rows * dx), y = new Float64Array(rows * dy);
    x.set(tail.subarray((tailRows - leftRows) * dx, tailRows * dx), 0);
    x.set(c.x, leftRows * dx);
    y.set(c.y, leftRows * dy);
    let o = (leftRows + c.rows) * dx;
    for (const p of rightX) {
      x.set(p, o);
      o += p.length;
    }
    const lengths = Int32Array.from(c.lengths);
    lengths[0] += leftRows;
    lengths[lengths.length - 1] += rightRows;
    const seqOffset = c.continued ? sequences - 1 : sequences;
    const stepOffset = steps.offset(c);
    joinedIndex = c.continued ? joinedIndex + prevSequences - 1 : 0;
    prevSequences = c.lengths.length;
    // The flags stay (the passes number sequences by them); the halo says which rows are the neighbours'.
    const chunk: Haloed = {
      dx, dy, rows, x, y, lengths,
      ...(c.continued ? { continued: true } : {}),
      ...(c.continues ? { continues: true } : {}),
      ...(leftRows + rightRows > 0 ? { halo: { left: leftRows, right: rightRows, step: stepOffset - leftRows, index: joinedIndex } } : {}),
    };
    yield { chunk, sequenceOffset: seqOffset, stepOffset };
    sequences += c.lengths.length - (c.continued ? 1 : 0);
    steps.advance(c);
    // The open sequence's last `left` rows, for the next piece.
    if (c.continues) {
      const last = c.lengths[c.lengths.length - 1];
      const keep = Math.min(halo.left, last);
      const prevKeep = c.lengths.length === 1 && c.continued ? Math.min(tailRows, halo.left - keep) : 0;
      const nt = new Float64Array((prevKeep + keep) * dx);
      nt.set(tail.subarray((tailRows - prevKeep) * dx, tailRows * dx), 0);
      nt.set(c.x.subarray((c.rows - keep) * dx, c.rows * dx), prevKeep * dx);
      tail = nt;
      tailRows = prevKeep + keep;
    } else {
      tail = new Float64Array(0);
      tailRows = 0;
    }
  }
}

/** `source` with halos on its pieces (`haloChunks`), as a re-iterable source. */
export function haloSource<S extends DataSource>(source: S, halo: { left: number; right: number }): S {
  // Everything else of the source (name, columns, …) is inherited unchanged.
  const out = Object.create(source) as S;
  Object.defineProperty(out, 'chunks', {
    value: async function* () {
      for await (const p of haloChunks(source, halo)) yield p.chunk;
    },
  });
  Object.defineProperty(out, 'inMemory', { value: false });
  return out;
}

/**
 * A view of a haloed chunk keeping at most `left` / `right` of its halo rows (e.g. one row before each piece for
 * statistics of the transitions x_{t−1} → x_t, which must see each transition once).
 */
export function trimHalo(c: SequenceChunk, left: number, right: number): SequenceChunk {
  const h = haloOf(c);
  if (!h) return c;
  const dl = h.left - Math.min(left, h.left), dr = h.right - Math.min(right, h.right);
  if (dl === 0 && dr === 0) return c;
  const rows = c.rows - dl - dr, lengths = Int32Array.from(c.lengths);
  lengths[0] -= dl;
  lengths[lengths.length - 1] -= dr;
  const { dx, dy } = c;
  return withHalo({ ...c, rows, x: c.x.subarray(dl * dx, (dl + rows) * dx), y: c.y.subarray(dl * dy, (dl + rows) * dy), lengths }, { ...h, left: h.left - dl, right: h.right - dr, ...(h.step !== undefined ? { step: h.step + dl } : {}) });
}

/**
 * One streaming pass over the pieces with halos (see `haloChunks`): `fn(chunk, sequenceOffset, stepOffset)`.
 * Returns rows (own rows only) and sequences.
 */
export async function forEachPiece(
  source: DataSource,
  halo: { left: number; right: number },
  fn: (chunk: SequenceChunk, sequenceOffset: number, stepOffset: number) => void,
  onRows?: (rows: number) => void,
): Promise<{ rows: number; sequences: number }> {
  let rows = 0, sequences = 0;
  for await (const p of haloChunks(source, halo)) {
    fn(p.chunk, p.sequenceOffset, p.stepOffset);
    const [r0, r1] = ownRows(p.chunk);
    rows += r1 - r0;
    sequences = p.sequenceOffset + p.chunk.lengths.length;
    onRows?.(rows);
  }
  return { rows, sequences };
}

/** Rows [r0, r1) of a chunk as a chunk of whole sequences with the given lengths. */
function rowSlice(c: SequenceChunk, r0: number, r1: number, lengths: Int32Array | number[]): SequenceChunk {
  return { dx: c.dx, dy: c.dy, rows: r1 - r0, x: c.x.slice(r0 * c.dx, r1 * c.dx), y: c.y.slice(r0 * c.dy, r1 * c.dy), lengths: Int32Array.from(lengths) };
}

/**
 * Pieces kept for later (the refinement subsample): consecutive pieces of one sequence are joined again when the
 * sample is read (the refinement runs on whole sequences). `add` takes a subchunk of a raw (halo-free) chunk, and
 * whether its first sequence continues the previous kept piece and its last goes on.
 */
export class PieceJoiner {
  private readonly parts: SequenceChunk[][] = [];
  private open = false;
  private openRows = 0;
  /**
   * `maxRows` caps one joined sequence (the refinement's row cap, `refineMaxRows`): rows of a long sequence past it
   * are not kept, so memory does not grow with the sequence. The capped sequence then ends there, as if recorded
   * up to that step; for a BRNN its backward states near the cut start from zero instead of the true state, a
   * boundary effect on the last few hundred of `maxRows` rows (the refinement only polishes the spectral start).
   */
  constructor(private readonly maxRows = Infinity) {}
  add(sub: SequenceChunk, continued: boolean, continues: boolean): void {
    if (continued && this.open) {
      // The first sequence of `sub` goes on the open one: keep what fits under the cap, then the rest of `sub`.
      const L0 = sub.lengths[0], keep = Math.max(0, Math.min(L0, this.maxRows - this.openRows));
      const single = sub.lengths.length === 1;
      if (keep > 0) {
        const head = keep === L0 && single ? sub : rowSlice(sub, 0, keep, [keep]);
        this.parts[this.parts.length - 1].push({ ...head, continued: true });
        this.openRows += keep;
      }
      if (single) {
        this.open = continues;
        return;
      }
      this.open = false;
      this.add(rowSlice(sub, L0, sub.rows, sub.lengths.slice(1)), false, continues);
      return;
    }
    const c: SequenceChunk = { ...sub, ...(continues ? { continues: true } : {}) };
    const { continued: _drop, ...rest } = c;
    void _drop;
    this.parts.push([{ ...rest, continued: false }]);
    this.open = continues;
    this.openRows = continues ? sub.lengths[sub.lengths.length - 1] : 0;
  }
  chunks(): SequenceChunk[] {
    return this.parts.map((ps) => {
      const j = ps.length === 1 ? ps[0] : joinChunks(ps);
      const { continued: _a, continues: _b, ...rest } = j;
      void _a;
      void _b;
      return rest as SequenceChunk;
    });
  }
}

/**
 * `PieceSteps` for a pass over raw pieces (no halo) that can meet a blow-up: `restep` renumbers a blow-up in the
 * chunk's continued first sequence from the sequence's true start (as `ChunkPredictor` does for predict).
 */
export class StepCounter extends PieceSteps {
  restep(e: BlowUpError, c: SequenceChunk, sequenceOffset: number): BlowUpError {
    const off = this.offset(c);
    return off > 0 && e.sequence === sequenceOffset ? new BlowUpError(e.sequence, e.step + off, e.value, e.direction) : e;
  }
}

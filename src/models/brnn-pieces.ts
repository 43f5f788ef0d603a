import { sliceSequences, type DataSource, type SequenceChunk } from '../io/dataset.js';
import { RecordSpill } from '../io/spill.js';
import { brnnDirectionEnd } from './brnn.js';
import { BlowUpError } from './iornn.js';
import type { BRNNParams, RNNParams } from './params.js';

/**
 * A BRNN's predictions on one long sequence read in pieces (a file without a `seq` column), with memory of one
 * piece. Its forward states h run with the data and carry from piece to piece as an IO-RNN's do
 * (`ChunkPredictor`); its backward states z_t = σ_b(B1 x_t + V z_{t+1}) (docs/method.md §2) start after the
 * sequence's LAST row, so a piece's predictions need the backward state after the piece, z after its last row,
 * which depends on every later piece.
 *
 * `brnnPieces` therefore reads a group of pieces (from a piece that begins a long sequence to the one that ends
 * it) ahead: it keeps the pieces (the first two in memory, later ones in a spill file: src/io/spill.ts `RecordSpill`,
 * unlinked while open), reads
 * them back in reverse order running each BRNN's backward recursion over the long sequence's rows of each piece
 * from the state the later piece left (`brnnDirectionEnd`), keeping only that one state per piece (dz numbers),
 * and then hands the pieces on in file order, each with those states (`BRNN_AHEAD`). The predictor runs both
 * recursions on the piece from the carried states: the same kernel, arithmetic and order as on the whole
 * sequence, so the predictions are the whole-sequence ones bit for bit (the backward recursion of a long sequence
 * is run twice: its cost is small next to reading the file).
 *
 * Blow-ups: a sequence whose backward states escape (found while reading ahead) has no predictions. As on the
 * whole sequence, where the forward recursion runs first, a forward escape anywhere in the sequence is the one
 * reported (the forward recursion is then run over the spilled pieces to find it), else the backward one; its
 * step counts from the sequence's true start. The predictor throws it at the first piece of the sequence.
 * (When a chunk holds another sequence that escapes too, the whole-sequence run may name that one instead.)
 */

/** Per model: the backward state after the chunk's last row (its last sequence goes on), or the sequence's blow-up. */
export type BRNNAhead = Map<RNNParams, Float64Array | BlowUpError>;

export const BRNN_AHEAD = Symbol('brnnAhead');

type Annotated = SequenceChunk & { [BRNN_AHEAD]?: BRNNAhead };

/** What a chunk that continues carries for the BRNN predictors (see the file comment), or undefined. */
export function brnnAhead(c: SequenceChunk): BRNNAhead | undefined {
  return (c as Annotated)[BRNN_AHEAD];
}

/** The fields to copy onto a chunk cut from `c` whose last sequence is `c`'s last one (and goes on). */
export function keepAhead(c: SequenceChunk): { [BRNN_AHEAD]?: BRNNAhead } {
  const a = brnnAhead(c);
  return a ? { [BRNN_AHEAD]: a } : {};
}

/**
 * The backward state of `p` after `chunk` when its last sequence goes on (undefined otherwise), for
 * `predictBRNN(…, { carry: { backwardInitial } })`. Throws the escape of that sequence found while reading ahead
 * (its step counts from the sequence's true start; `sequenceOffset` is the index of the chunk's first sequence).
 */
export function backwardAfter(p: BRNNParams, chunk: SequenceChunk, sequenceOffset: number): Float64Array | undefined {
  if (!chunk.continues) return undefined;
  const a = brnnAhead(chunk)?.get(p);
  if (!a) throw new RangeError('a BRNN on pieces of a sequence needs its data read through brnnPieces');
  if (a instanceof BlowUpError) throw new BlowUpError(sequenceOffset + chunk.lengths.length - 1, a.step, a.value, a.direction);
  return a;
}

/**
 * `source` for BRNN predictors (`models`, the BRNNs among them): chunks of whole sequences pass unchanged, pieces
 * of a long sequence come in file order with the backward states of every BRNN after them (file comment).
 */
export function brnnPieces<S extends DataSource>(source: S, models: BRNNParams[]): S {
  // Everything else of the source (path, header, columns, …) is inherited unchanged.
  const out = Object.create(source) as S;
  Object.defineProperty(out, 'chunks', { value: () => readAhead(source, models) });
  return out;
}

/** A piece without its data (kept in memory while its group is read ahead): typed-array fields copied. */
function withoutData(c: SequenceChunk): SequenceChunk {
  const meta: Record<string | symbol, unknown> = {};
  // A streaming reader may reuse its buffers (lengths, seqIds, firstLine): keep copies.
  for (const [k, v] of Object.entries(c)) if (k !== 'x' && k !== 'y') meta[k] = ArrayBuffer.isView(v) ? (v as Float64Array).slice() : v;
  return meta as unknown as SequenceChunk;
}

type FileFields = { seqIds?: Float64Array; firstLine?: Float64Array; sequenceOffset?: number };

/**
 * A chunk that ends one long sequence and begins another (`continued` and `continues`, two sequences or more) as
 * two chunks: the sequences up to its last one, and its last one. Then a group of pieces is one long sequence (a
 * file with a `seq` column, whose chunks mostly end inside a sequence, would otherwise chain every chunk into one
 * group). The consumers count sequences and steps by the flags (`sequencesStarting`, PieceSteps), the same either way.
 */
function splitLink(c: SequenceChunk): SequenceChunk[] {
  const n = c.lengths.length;
  if (!(c.continued && c.continues && n >= 2)) return [c];
  const f = c as SequenceChunk & FileFields, r = c.rows - c.lengths[n - 1];
  const file = (k0: number, k1: number): FileFields => ({
    ...(f.seqIds ? { seqIds: f.seqIds.subarray(k0, k1) } : {}),
    ...(f.firstLine ? { firstLine: f.firstLine.subarray(k0, k1) } : {}),
    ...(f.sequenceOffset !== undefined ? { sequenceOffset: f.sequenceOffset + k0 } : {}),
  });
  return [
    { ...sliceSequences(c, 0, n - 1, 0, r), ...file(0, n - 1), continued: true },
    { ...sliceSequences(c, n - 1, n, r, c.rows), ...file(n - 1, n), continues: true },
  ];
}

/**
 * The pieces of a group: the first two in memory (a sequence that only crosses one chunk boundary, the common
 * case, never touches the disk), later ones in the spill file.
 */
class PieceStore {
  private readonly held: [Float64Array, Float64Array][] = [];
  private spill: RecordSpill | null = null;
  private count = 0;
  reset(): void {
    this.held.length = 0;
    this.spill?.reset();
    this.count = 0;
  }
  put(x: Float64Array, y: Float64Array): void {
    if (this.count++ < 2) this.held.push([x.slice(), y.slice()]);
    else (this.spill ??= new RecordSpill()).write(x, y);
  }
  /** Fill x (and y) with piece i. */
  get(i: number, x: Float64Array, y?: Float64Array): void {
    if (i < 2) {
      x.set(this.held[i][0]);
      y?.set(this.held[i][1]);
    } else if (y) this.spill!.read(i - 2, x, y);
    else this.spill!.read(i - 2, x);
  }
  close(): void {
    this.spill?.close();
  }
}

async function* readAhead(source: DataSource, models: BRNNParams[]): AsyncGenerator<SequenceChunk> {
  const { dx, dy } = source;
  const store = new PieceStore();
  let group: SequenceChunk[] = [];
  try {
    for await (const chunk of source.chunks()) {
      for (const c of splitLink(chunk)) {
        if (group.length === 0 && !c.continues) {
          if (c.continued) throw new Error('brnnPieces: a chunk continues a sequence no chunk began');
          yield c;
          continue;
        }
        if (group.length === 0) store.reset();
        store.put(c.x.subarray(0, c.rows * dx), c.y.subarray(0, c.rows * dy));
        group.push(withoutData(c));
        if (c.continues) continue;
        const ahead = backwardAhead(models, group, store, dx);
        for (const [i, m] of group.entries()) {
          const x = new Float64Array(m.rows * dx), y = new Float64Array(m.rows * dy);
          store.get(i, x, y);
          yield { ...m, x, y, ...(i < group.length - 1 ? { [BRNN_AHEAD]: ahead[i] } : {}) } as Annotated;
        }
        group = [];
      }
    }
    if (group.length > 0) throw new Error('brnnPieces: the last chunk says its sequence goes on');
  } finally {
    store.close();
  }
}

/**
 * The long sequence's rows of a piece: its first sequence in the sequence's last piece (`last`), else its last
 * sequence (the one that goes on).
 */
function segment(m: SequenceChunk, x: Float64Array, last: boolean): SequenceChunk {
  const n = m.lengths.length, k = last ? 0 : n - 1;
  let r0 = 0;
  for (let s = 0; s < k; s++) r0 += m.lengths[s];
  return sliceSequences({ ...m, x, y: new Float64Array(m.rows * m.dy) }, k, k + 1, r0, r0 + m.lengths[k]);
}

/** For each piece but the last of a group (one long sequence), per model: the backward state after it, or the sequence's blow-up. */
function backwardAhead(models: BRNNParams[], pieces: SequenceChunk[], store: PieceStore, dx: number): BRNNAhead[] {
  const m = pieces.length;
  const ahead: BRNNAhead[] = Array.from({ length: m - 1 }, () => new Map());
  // Steps of the sequence before each of its pieces.
  const before: number[] = [];
  for (let i = 0, steps = 0; i < m; i++) {
    before.push(steps);
    const L = pieces[i].lengths;
    steps += i === m - 1 ? L[0] : L[L.length - 1];
  }
  const rowsOf = (i: number): SequenceChunk => {
    const x = new Float64Array(pieces[i].rows * dx);
    store.get(i, x);
    return segment(pieces[i], x, i === m - 1);
  };
  for (const p of models) {
    let z: Float64Array | null = null;
    let failed: BlowUpError | null = null;
    // Down to the first piece: an escape in its rows is found here too, so that a forward escape later in the
    // sequence is the one reported (file comment).
    for (let i = m - 1; i >= 0 && !failed; i--) {
      try {
        z = brnnDirectionEnd(p, rowsOf(i), 'backward', z);
        if (i > 0) ahead[i - 1].set(p, z);
      } catch (e) {
        if (!(e instanceof BlowUpError)) throw e;
        failed = new BlowUpError(-1, e.step + before[i], e.value, e.direction);
      }
    }
    if (!failed) continue;
    failed = forwardEscape(p, m, rowsOf, before) ?? failed;
    for (const a of ahead) a.set(p, failed);
  }
  return ahead;
}

/** The first forward escape of a long sequence in `n` pieces (step from its true start), or null. */
function forwardEscape(p: BRNNParams, n: number, rowsOf: (i: number) => SequenceChunk, before: number[]): BlowUpError | null {
  let h: Float64Array | null = null;
  for (let i = 0; i < n; i++) {
    try {
      h = brnnDirectionEnd(p, rowsOf(i), 'forward', h);
    } catch (e) {
      if (!(e instanceof BlowUpError)) throw e;
      return new BlowUpError(-1, e.step + before[i], e.value, e.direction);
    }
  }
  return null;
}

/**
 * Writing CSV files atomically (src/io/atomic.ts): data files (`gloree simulate`) and prediction files
 * (`gloree predict`), streamed chunk by chunk; a sequence delivered in pieces keeps its id and step count.
 */
import { PieceSteps, type SequenceChunk } from './dataset.js';
import { AtomicWriter } from './atomic.js';
import type { CSVChunk } from './csv.js';

function num(v: number, what: string): string {
  if (!Number.isFinite(v)) throw new RangeError(`writeCSV: ${what} is ${v}; refusing to write a non-finite number`);
  // Shortest representation that round-trips exactly; String(-0) is "0", so keep the sign of zero.
  return Object.is(v, -0) ? '-0' : String(v);
}

function seqIdsOf(chunk: SequenceChunk, offset: number): ArrayLike<number> {
  const ids = (chunk as Partial<CSVChunk>).seqIds;
  if (ids && ids.length === chunk.lengths.length) return ids;
  const out = new Float64Array(chunk.lengths.length);
  for (let k = 0; k < out.length; k++) out[k] = offset + k;
  return out;
}

/**
 * What both writers share: one line per row, sequence ids that carry on across chunks, steps that carry on across
 * the pieces of one long sequence, and the atomic commit/abort.
 */
abstract class RowWriter {
  private seqOffset = 0;
  /** Steps already written of a sequence that goes on in the next chunk (pieces of one long sequence). */
  private readonly steps = new PieceSteps();
  protected constructor(protected readonly w: AtomicWriter) {}

  /** `line(id, t, r)`: the row's line from its sequence id as written, its 0-based step in the whole sequence and its chunk row. */
  protected async writeRows(chunk: SequenceChunk, line: (id: string, t: number, r: number) => string): Promise<void> {
    const ids = seqIdsOf(chunk, this.seqOffset);
    const lines = new LineBuffer(this.w);
    const n = chunk.lengths.length;
    const first = this.steps.offset(chunk);
    this.steps.advance(chunk);
    let r = 0;
    for (let s = 0; s < n; s++) {
      const id = String(ids[s]);
      const t0 = s === 0 ? first : 0;
      for (let t = t0; t < t0 + chunk.lengths[s]; t++, r++) await lines.push(line(id, t, r));
    }
    await lines.flush();
    this.seqOffset += n - (chunk.continues ? 1 : 0);
  }

  commit(): Promise<void> {
    return this.w.commit();
  }

  abort(): Promise<void> {
    return this.w.abort();
  }
}

/** Streaming writer of data files (header seq,x1..x<dx>,y1..y<dy>); atomic on commit. */
export class DataCSVWriter extends RowWriter {
  private constructor(w: AtomicWriter, readonly dx: number, readonly dy: number, private readonly withSeq: boolean) {
    super(w);
  }

  static async open(path: string, dx: number, dy: number, opts: { seq?: boolean } = {}): Promise<DataCSVWriter> {
    const withSeq = opts.seq ?? true;
    const w = await AtomicWriter.open(path);
    const cols: string[] = [];
    if (withSeq) cols.push('seq');
    for (let i = 1; i <= dx; i++) cols.push(`x${i}`);
    for (let i = 1; i <= dy; i++) cols.push(`y${i}`);
    await w.write(cols.join(',') + '\n');
    return new DataCSVWriter(w, dx, dy, withSeq);
  }

  /** Append a chunk's sequences (ids: the chunk's seqIds if it has them, else consecutive from 0). */
  async append(chunk: SequenceChunk): Promise<void> {
    const { dx, dy } = this;
    if (chunk.dx !== dx || chunk.dy !== dy) throw new RangeError(`DataCSVWriter: chunk is dx=${chunk.dx}, dy=${chunk.dy}; writer expects ${dx}, ${dy}`);
    await this.writeRows(chunk, (id, _t, r) => {
      let line = this.withSeq ? id : '';
      for (let i = 0; i < dx; i++) line += (i > 0 || this.withSeq ? ',' : '') + num(chunk.x[r * dx + i], `x[${r}][${i}]`);
      for (let i = 0; i < dy; i++) line += ',' + num(chunk.y[r * dy + i], `y[${r}][${i}]`);
      return line;
    });
  }
}

/** Write a data file (for `gloree simulate`) atomically. `seq: false` omits the seq column (one sequence only). */
export async function writeCSV(path: string, chunk: SequenceChunk, opts: { seq?: boolean } = {}): Promise<void> {
  if (opts.seq === false && chunk.lengths.length > 1) throw new RangeError('writeCSV: seq: false needs a single sequence');
  const w = await DataCSVWriter.open(path, chunk.dx, chunk.dy, opts);
  try {
    await w.append(chunk);
  } catch (e) {
    await w.abort();
    throw e;
  }
  await w.commit();
}

/**
 * Streaming writer of prediction files: header `seq,t,yhat1..yhat<k>` (t = 1-based step), plus `y1..y<k>`
 * when `includeY` and the chunks carry outputs of the same width. Atomic on commit.
 */
export class PredictionCSVWriter extends RowWriter {
  private constructor(w: AtomicWriter, readonly k: number, private readonly includeY: boolean) {
    super(w);
  }

  static async open(path: string, k: number, opts: { includeY?: boolean } = {}): Promise<PredictionCSVWriter> {
    const w = await AtomicWriter.open(path);
    const cols = ['seq', 't'];
    for (let i = 1; i <= k; i++) cols.push(`yhat${i}`);
    if (opts.includeY) for (let i = 1; i <= k; i++) cols.push(`y${i}`);
    await w.write(cols.join(',') + '\n');
    return new PredictionCSVWriter(w, k, opts.includeY ?? false);
  }

  async append(chunk: SequenceChunk, yhat: Float64Array): Promise<void> {
    const k = this.k;
    if (yhat.length !== chunk.rows * k) throw new RangeError(`PredictionCSVWriter: yhat has ${yhat.length} values, expected ${chunk.rows}x${k}`);
    if (this.includeY && chunk.dy !== k) throw new RangeError(`PredictionCSVWriter: includeY needs dy = ${k}, the data has ${chunk.dy}`);
    await this.writeRows(chunk, (id, t, r) => {
      let line = `${id},${t + 1}`;
      for (let i = 0; i < k; i++) line += ',' + num(yhat[r * k + i], `yhat[${r}][${i}]`);
      if (this.includeY) for (let i = 0; i < k; i++) line += ',' + num(chunk.y[r * k + i], `y[${r}][${i}]`);
      return line;
    });
  }
}

/** Write predictions ŷ (rows×k) for a chunk atomically (see PredictionCSVWriter for the columns). */
export async function writePredictionsCSV(path: string, chunk: SequenceChunk, yhat: Float64Array, opts: { includeY?: boolean } = {}): Promise<void> {
  if (chunk.rows === 0 || yhat.length % chunk.rows !== 0) throw new RangeError(`writePredictionsCSV: yhat has ${yhat.length} values for ${chunk.rows} rows`);
  const k = yhat.length / chunk.rows;
  const w = await PredictionCSVWriter.open(path, k, opts);
  try {
    await w.append(chunk, yhat);
  } catch (e) {
    await w.abort();
    throw e;
  }
  await w.commit();
}

/**
 * Lines written in batches of 4096, also inside one long sequence (its lines would otherwise pile up per chunk
 * and, at millions of rows, exceed V8's string length).
 */
class LineBuffer {
  private readonly lines: string[] = [];
  constructor(private readonly w: AtomicWriter) {}

  async push(line: string): Promise<void> {
    this.lines.push(line);
    if (this.lines.length >= 4096) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.lines.length) return;
    await this.w.write(this.lines.join('\n') + '\n');
    this.lines.length = 0;
  }
}

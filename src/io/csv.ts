/**
 * CSV data files (docs/method.md §8): a header row; input columns x1..x<dx>, output columns y1..y<dy>, optional
 * integer `seq` column (rows of a sequence contiguous and in time order; without it the file is one sequence).
 * Options x / y / seq select columns by name and override the convention; other columns are ignored.
 *
 * Reading streams the file in blocks and yields SequenceChunks of whole sequences (≈ chunkRows rows each), so
 * memory does not grow with the number of sequences. A single sequence is always held whole in memory (a file
 * without `seq` is read into one chunk: ~8·(dx+dy) bytes per row).
 *
 * Fast path for plain numeric CSV: lines are split on commas by hand and numbers are parsed by a validating
 * scanner (exact Clinger fast path for ≤ 15 significant digits, Number() otherwise, so parsing is correctly
 * rounded and shortest-repr output round-trips bit for bit). CRLF line ends, a UTF-8 BOM, spaces around cells
 * and blank lines are accepted; a line containing a double quote goes through a slower RFC 4180 field splitter
 * (quoted fields may not span lines). Every problem is a UserError with the file, 1-based line number and column.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { isAscii } from 'node:buffer';
import { joinChunks, type DataSource, type SequenceChunk } from './dataset.js';
import { UserError, cellError } from './errors.js';
import { AtomicWriter } from './atomic.js';
import { ROLE_IGNORE, ROLE_SEQ, resolveColumns, type ColumnLayout } from './columns.js';

export interface CSVOptions {
  /** Input column names (default: x1, x2, … as present). */
  x?: string[];
  /** Output column names (default: y1, y2, … as present; may be none unless requireY). */
  y?: string[];
  /** Sequence-id column (default: "seq" if present); false ignores any seq column. */
  seq?: string | false;
  /** Target rows per chunk (whole sequences; default 65536). */
  chunkRows?: number;
  /** Minimum sequence length (default 1); shorter sequences are a UserError. */
  minLength?: number;
  /** Require at least one output column (default false). */
  requireY?: boolean;
  /** Block size in bytes for reading (default 1 MiB). */
  blockBytes?: number;
  /**
   * Deliver a sequence longer than `chunkRows` in pieces (chunks of exactly `chunkRows` rows, the last one
   * shorter), flagged `continued` / `continues` (see SequenceChunk), so memory does not grow with the length of
   * one sequence (default false: whole sequences, as every consumer that cannot carry state needs).
   */
  splitSequences?: boolean;
}


/**
 * Largest magnitude accepted in a data cell. The learners multiply up to six values of a row together (order-5
 * scores times an output) and square sums of them; with |v| ≤ 1e50 every such product stays below ~1e300, far
 * from float64 overflow, while any real measurement in any unit is far inside it. Larger values are reported at
 * their cell rather than surfacing later as a non-finite moment, a "constant" column or an ill-conditioned fit.
 */
export const MAX_ABS_VALUE = 1e50;
export const MAX_ABS_EXPECTED = 'a number of magnitude at most 1e50 (larger values overflow the moment computations; rescale the column)';

/**
 * Sequence ids must be integers a double holds exactly (|id| ≤ 2^53 − 1): beyond that distinct ids round to the
 * same number and separate sequences would be merged, running the recursion across them.
 */
export const EXACT_SEQ_ID = 'an integer sequence id between −(2^53 − 1) and 2^53 − 1 (larger ids cannot be kept exactly and would merge sequences; renumber them)';

/** A chunk read from a CSV file, with the file's sequence ids and positions (for messages and predictions). */
export interface CSVChunk extends SequenceChunk {
  /** The `seq` value of each sequence (0 when the file has no seq column). */
  readonly seqIds: Float64Array;
  /** 1-based file line of each sequence's first row. */
  readonly firstLine: Float64Array;
  /** Index (0-based, in the file) of this chunk's first sequence. */
  readonly sequenceOffset: number;
}

export interface CSVSource extends DataSource {
  readonly path: string;
  /** Header names, in file order. */
  readonly header: readonly string[];
  /** The selected columns. */
  readonly columns: { readonly x: readonly string[]; readonly y: readonly string[]; readonly seq?: string };
  chunks(): AsyncIterable<CSVChunk>;
}

const DEFAULT_CHUNK_ROWS = 65536;
const IGNORE = ROLE_IGNORE;
const SEQ = ROLE_SEQ;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * Parse a decimal number in text[a, e) (no surrounding spaces). Returns NaN on a syntax error (including
 * "NaN", "Infinity", hex). Exact: with ≤ 15 significant digits and |exponent| ≤ 22 both the mantissa and the
 * power of ten are exact doubles, so one IEEE division/multiplication is correctly rounded (Clinger);
 * otherwise the validated text goes to Number().
 */
export function parseDecimal(text: string, a: number, e: number): number {
  let i = a;
  let neg = false;
  let ch = text.charCodeAt(i);
  if (ch === 45) {
    neg = true;
    i++;
  } else if (ch === 43) i++;
  let mant = 0, nd = 0, exp = 0, digits = 0;
  while (i < e) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    if (mant !== 0 || d !== 0) nd++;
    mant = mant * 10 + d;
    digits++;
    i++;
  }
  if (i < e && text.charCodeAt(i) === 46) {
    i++;
    while (i < e) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (mant !== 0 || d !== 0) nd++;
      mant = mant * 10 + d;
      exp--;
      digits++;
      i++;
    }
  }
  if (digits === 0) return NaN;
  if (i < e) {
    ch = text.charCodeAt(i);
    if (ch !== 101 && ch !== 69) return NaN;
    i++;
    let eneg = false;
    ch = text.charCodeAt(i);
    if (ch === 45) {
      eneg = true;
      i++;
    } else if (ch === 43) i++;
    let ev = 0, ed = 0;
    while (i < e) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (ev < 1e6) ev = ev * 10 + d;
      ed++;
      i++;
    }
    if (ed === 0 || i !== e) return NaN;
    exp += eneg ? -ev : ev;
  }
  if (nd <= 15 && exp >= -22 && exp <= 22) {
    const v = exp < 0 ? mant / POW10[-exp] : mant * POW10[exp];
    return neg ? -v : v;
  }
  return Number(text.substring(a, e));
}

/** Split one CSV line with RFC 4180 quoting; returns null if a quoted field is not closed on this line. */
function splitQuoted(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    let field = '';
    // Leading spaces before an opening quote are tolerated.
    let j = i;
    while (j < n && line.charCodeAt(j) === 32) j++;
    if (j < n && line.charCodeAt(j) === 34) {
      j++;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return null;
        field += line.slice(j, q);
        if (line.charCodeAt(q + 1) === 34) {
          field += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      const c = line.indexOf(',', j);
      const rest = line.slice(j, c < 0 ? n : c);
      field += rest; // text after the closing quote (spaces, usually nothing)
      out.push(field);
      if (c < 0) return out;
      i = c + 1;
    } else {
      const c = line.indexOf(',', i);
      out.push(line.slice(i, c < 0 ? n : c));
      if (c < 0) return out;
      i = c + 1;
    }
  }
}

/** Split a header line (quotes allowed) into trimmed names. */
function splitHeader(line: string, file: string): string[] {
  const f = line.includes('"') ? splitQuoted(line) : line.split(',');
  if (!f) throw new UserError(`${file}:row 1: a quoted column name is not closed`);
  return f.map((s) => s.trim());
}

type Layout = ColumnLayout;

/** Longest line accepted (bytes of text without a line break): far above any real row, even 20,000 columns. */
export const MAX_LINE_CHARS = 1 << 22;

/**
 * Before the first line break: CR-only line endings (classic Mac) would make the whole file one header line and
 * "no data rows"; a very long first line with no break at all is not CSV. Say which.
 */
function checkLineBreaks(path: string, text: string, nl: number): void {
  const first = nl < 0 ? text : text.slice(0, nl);
  const cr = first.indexOf('\r');
  if (cr >= 0 && cr < first.length - 1 && /\S/.test(first.slice(cr + 1))) {
    throw new UserError(`${path}:row 1: lines end with a bare carriage return (CR, old Mac style) instead of LF or CRLF; convert the file, e.g. tr '\\r' '\\n' < ${path} > fixed.csv`);
  }
  if (nl < 0 && text.length > MAX_LINE_CHARS) {
    throw new UserError(`${path}:row 1: no line break in the first ${MAX_LINE_CHARS / (1 << 20)} MiB; not a CSV file (or a header line that long)`);
  }
}

/** Read just enough of the file to get the header line and to know whether a data row follows. */
async function readHead(path: string, blockBytes: number): Promise<{ headerLine: string; hasData: boolean }> {
  const stream = createReadStream(path, { highWaterMark: Math.min(blockBytes, 1 << 16) });
  const dec = new StringDecoder('utf8');
  let text = '';
  try {
    for await (const buf of stream) {
      text += dec.write(buf as Buffer);
      const nl = text.indexOf('\n');
      if (nl >= 0 && /\S/.test(text.slice(nl + 1))) break;
      checkLineBreaks(path, text, nl);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UserError(`${path}: cannot read data file (${why})`);
  } finally {
    stream.destroy();
  }
  text += dec.end();
  checkLineBreaks(path, text, text.indexOf('\n'));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // Skip leading blank lines before the header.
  const m = /^(?:[ \t]*\r?\n)*/.exec(text);
  if (m) text = text.slice(m[0].length);
  if (text.trim() === '') throw new UserError(`${path}: empty file (expected a header row such as x1,x2,y1,y2,seq)`);
  const nl = text.indexOf('\n');
  const headerLine = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
  const hasData = nl >= 0 && /\S/.test(text.slice(nl + 1));
  return { headerLine, hasData };
}

/**
 * Open a CSV data file: reads and checks the header now (missing / duplicate columns, empty file, no data
 * rows); cell-level problems are reported while iterating `chunks()`, which re-reads the file on every call.
 */
export async function openCSVSource(path: string, opts: CSVOptions = {}): Promise<CSVSource> {
  const blockBytes = opts.blockBytes ?? 1 << 20;
  const chunkRows = opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const minLength = opts.minLength ?? 1;
  if (!(chunkRows >= 1)) throw new RangeError(`openCSVSource: chunkRows must be ≥ 1, got ${chunkRows}`);
  if (!Number.isInteger(minLength) || minLength < 1) throw new RangeError(`openCSVSource: minLength must be a positive integer, got ${minLength}`);
  const { headerLine, hasData } = await readHead(path, blockBytes);
  const header = splitHeader(headerLine, path);
  const layout = resolveColumns(header, opts, path);
  if (!hasData) throw new UserError(`${path}: no data rows after the header`);
  const dx = layout.x.length, dy = layout.y.length;
  return {
    dx,
    dy,
    name: path,
    path,
    header,
    columns: { x: layout.x, y: layout.y, ...(layout.seq !== undefined ? { seq: layout.seq } : {}) },
    chunks: () => readChunks(path, headerLine, layout, chunkRows, minLength, blockBytes, opts.splitSequences ?? false),
  };
}

/** Read a whole CSV file into one chunk (convenience for small files and tests). */
export async function readCSV(path: string, opts: CSVOptions = {}): Promise<CSVChunk> {
  const src = await openCSVSource(path, opts);
  const parts: CSVChunk[] = [];
  for await (const c of src.chunks()) parts.push(c);
  return concatChunks(parts, src.dx, src.dy);
}

/** Concatenate CSV chunks (in order) into one; pieces of a split sequence are joined (see `joinChunks`). */
export function concatChunks(parts: CSVChunk[], dx: number, dy: number): CSVChunk {
  if (parts.length === 0) return { dx, dy, rows: 0, x: new Float64Array(0), y: new Float64Array(0), lengths: new Int32Array(0), seqIds: new Float64Array(0), firstLine: new Float64Array(0), sequenceOffset: 0 };
  return joinChunks(parts) as CSVChunk;
}

/** Streaming parser state for one pass over a file. */
class Parser {
  private readonly file: string;
  private readonly dx: number;
  private readonly dy: number;
  private readonly ncol: number;
  private readonly role: Int32Array;
  private readonly names: readonly string[];
  private readonly hasSeq: boolean;
  private readonly chunkRows: number;
  private readonly minLength: number;
  private line = 0;
  private headerSeen = false;
  private readonly headerLine: string;
  // Row buffers for the chunk being built.
  private cap: number;
  private x: Float64Array;
  private y: Float64Array;
  private n = 0;
  private lengths: number[] = [];
  private ids: number[] = [];
  private firsts: number[] = [];
  // Current (open) sequence.
  private curId = NaN;
  private curStart = 0;
  private curFirstLine = 0;
  private open = false;
  private readonly seen = new Set<number>();
  private seqCount = 0;
  private emittedSeqs = 0;
  private totalRows = 0;
  readonly ready: CSVChunk[] = [];
  /** Position of the next '"' at or after the current line in the current text (−1: none, −2: not searched). */
  private nextQuote = -2;

  constructor(file: string, headerLine: string, layout: Layout, chunkRows: number, minLength: number, private readonly split = false) {
    this.file = file;
    this.headerLine = headerLine;
    this.dx = layout.x.length;
    this.dy = layout.y.length;
    this.ncol = layout.header.length;
    this.role = layout.role;
    this.names = layout.header;
    this.hasSeq = layout.seq !== undefined;
    this.chunkRows = chunkRows;
    this.minLength = minLength;
    this.cap = Math.max(16, Math.min(chunkRows, 1 << 16) + 1);
    this.x = new Float64Array(this.cap * this.dx);
    this.y = new Float64Array(this.cap * this.dy);
  }

  /** Feed text whose last line is complete up to `text.length` (callers carry partial lines). */
  /** Lines consumed so far (the header and blank lines included). */
  get lineCount(): number {
    return this.line;
  }

  feedLines(text: string, isLast: boolean): string {
    let pos = 0;
    if (this.line === 0 && text.charCodeAt(0) === 0xfeff) pos = 1;
    this.nextQuote = -2; // unknown for this text
    for (;;) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) {
        if (!isLast || pos >= text.length) break;
        nl = text.length;
      }
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === 13) end--;
      this.line++;
      this.processLine(text, pos, end);
      pos = nl + 1;
    }
    return pos >= text.length ? '' : text.slice(pos);
  }

  private processLine(text: string, a: number, e: number): void {
    // Blank lines (possibly only spaces) are skipped everywhere.
    let k = a;
    while (k < e && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
    if (k === e) return;
    if (!this.headerSeen) {
      this.headerSeen = true;
      if (text.slice(a, e) !== this.headerLine) throw new UserError(`${this.file}: the header changed since the file was opened`);
      return;
    }
    if (this.n === this.cap) this.grow();
    // One forward search per text, not per line (an unbounded indexOf per line would be quadratic).
    if (this.nextQuote === -2 || (this.nextQuote >= 0 && this.nextQuote < a)) this.nextQuote = text.indexOf('"', a);
    if (this.nextQuote >= 0 && this.nextQuote < e) {
      this.processQuoted(text.slice(a, e));
      return;
    }
    const row = this.n;
    const dx = this.dx, dy = this.dy, role = this.role, ncol = this.ncol;
    let seqVal = 0;
    let f = 0;
    let s = a;
    for (;;) {
      let c = ncol === 1 ? -1 : text.indexOf(',', s);
      if (c < 0 || c > e) c = e;
      if (f < ncol) {
        const r = role[f];
        if (r !== IGNORE) {
          const v = this.cell(text, s, c, f);
          if (r >= 0) {
            if (r < dx) this.x[row * dx + r] = v;
            else this.y[row * dy + r - dx] = v;
          } else {
            seqVal = v;
            if (!Number.isSafeInteger(v)) this.seqText = text.slice(s, c);
          }
        }
      }
      f++;
      if (c === e) break;
      s = c + 1;
    }
    if (f !== ncol) this.ragged(f);
    this.endRow(seqVal);
  }

  private processQuoted(lineText: string): void {
    const fields = splitQuoted(lineText);
    if (!fields) throw new UserError(`${this.file}:row ${this.line}: a quoted field is not closed on this line (fields spanning lines are not supported)`);
    if (fields.length !== this.ncol) this.ragged(fields.length);
    const row = this.n;
    let seqVal = 0;
    for (let f = 0; f < this.ncol; f++) {
      const r = this.role[f];
      if (r === IGNORE) continue;
      const v = this.cell(fields[f], 0, fields[f].length, f);
      if (r >= 0) {
        if (r < this.dx) this.x[row * this.dx + r] = v;
        else this.y[row * this.dy + r - this.dx] = v;
      } else {
        seqVal = v;
        this.seqText = fields[f];
      }
    }
    this.endRow(seqVal);
  }

  private ragged(got: number): never {
    throw new UserError(`${this.file}:row ${this.line}: expected ${this.ncol} fields (as in the header), got ${got}`);
  }

  /** Parse and validate one cell text[a, c) of field f. */
  private cell(text: string, a: number, c: number, f: number): number {
    while (a < c && text.charCodeAt(a) === 32) a++;
    while (c > a && (text.charCodeAt(c - 1) === 32 || text.charCodeAt(c - 1) === 9)) c--;
    let v: number;
    if (c - a >= 18) {
      // Long cells (16–17 significant digits, as written by shortest round-trip output) would fail the exact
      // fast path anyway: hand them to Number() directly, rejecting its non-decimal forms (0x…, 0b…, 0o…).
      const c1 = text.charCodeAt(a + 1) | 32, c2 = text.charCodeAt(a + 2) | 32;
      v = c1 === 120 || c1 === 98 || c1 === 111 || c2 === 120 || c2 === 98 || c2 === 111 ? NaN : Number(text.substring(a, c));
    } else v = c - a > 0 ? parseDecimal(text, a, c) : NaN;
    if (Number.isFinite(v)) {
      if (Math.abs(v) <= MAX_ABS_VALUE) return v;
      throw cellError(this.file, this.line, this.names[f], text.slice(a, c), MAX_ABS_EXPECTED);
    }
    const got = text.slice(a, c);
    const isNonFinite = v === Infinity || v === -Infinity || /^[+-]?(nan|inf|infinity)$/i.test(got);
    throw cellError(this.file, this.line, this.names[f], got, isNonFinite ? 'a finite number' : 'a number');
  }

  private grow(): void {
    const cap = this.cap * 2;
    const x = new Float64Array(cap * this.dx);
    x.set(this.x);
    const y = new Float64Array(cap * this.dy);
    y.set(this.y);
    this.x = x;
    this.y = y;
    this.cap = cap;
  }

  /** Text of the last row's seq cell when it was not a safe integer (for the message). */
  private seqText = '';

  private endRow(seqVal: number): void {
    if (this.hasSeq) {
      if (!Number.isInteger(seqVal)) {
        const f = this.role.indexOf(SEQ);
        throw cellError(this.file, this.line, this.names[f], String(seqVal), 'an integer sequence id');
      }
      if (!Number.isSafeInteger(seqVal)) {
        const f = this.role.indexOf(SEQ);
        throw cellError(this.file, this.line, this.names[f], this.seqText, EXACT_SEQ_ID);
      }
      if (!this.open) this.startSeq(seqVal);
      else if (seqVal !== this.curId) {
        this.closeSeq();
        if (this.seen.has(seqVal)) {
          throw new UserError(
            `${this.file}:row ${this.line}: sequence id ${seqVal} appears again after other sequences (rows of a sequence must be contiguous)`,
          );
        }
        // The row being ended (index n) already sits in the buffers: emit rows [0, n) and carry it over.
        if (this.n >= this.chunkRows) this.emit(true);
        this.startSeq(seqVal);
      } else if (this.split && this.n >= this.chunkRows) this.emitPiece();
    } else if (!this.open) this.startSeq(0);
    else if (this.split && this.n >= this.chunkRows) this.emitPiece();
    this.n++;
    this.totalRows++;
  }

  private startSeq(id: number): void {
    this.open = true;
    this.curId = id;
    this.curStart = this.n;
    this.curFirstLine = this.line;
    this.seqFirstLine = this.line;
    this.curDone = 0;
  }

  /** Rows of the open sequence in pieces already emitted, and the file line of its first row. */
  private curDone = 0;
  private seqFirstLine = 0;
  /** The next chunk continues the previous chunk's last sequence. */
  private contNext = false;

  /**
   * The buffer holds chunkRows rows and the row being ended (index n) continues the open sequence: emit rows
   * [0, n) with the sequence's rows so far as a piece (`continues`), carry the row over.
   */
  private emitPiece(): void {
    const len = this.n - this.curStart;
    this.lengths.push(len);
    this.ids.push(this.curId);
    this.firsts.push(this.curFirstLine);
    this.curDone += len;
    this.emit(true, true);
    this.curStart = 0;
    this.curFirstLine = this.line;
  }

  private closeSeq(): void {
    const len = this.n - this.curStart;
    const total = this.curDone + len;
    if (total < this.minLength) {
      const what = this.hasSeq ? `sequence ${this.curId}` : 'the file (one sequence, no seq column)';
      throw new UserError(`${this.file}:row ${this.seqFirstLine}: ${what} has ${total} row${total === 1 ? '' : 's'}, need at least ${this.minLength}`);
    }
    this.lengths.push(len);
    this.ids.push(this.curId);
    this.firsts.push(this.curFirstLine);
    if (this.hasSeq) this.seen.add(this.curId);
    this.open = false;
    this.seqCount++;
  }

  /**
   * Emit rows [0, n) as a chunk; with carryRow, row n (already parsed) moves to row 0 of the next chunk; with
   * `continues`, the chunk's last sequence goes on in the next chunk.
   */
  private emit(carryRow = false, continues = false): void {
    const n = this.n;
    if (n === 0) return;
    const tight = n * 2 >= this.cap;
    const chunk: CSVChunk = {
      dx: this.dx,
      dy: this.dy,
      rows: n,
      x: tight ? this.x.subarray(0, n * this.dx) : this.x.slice(0, n * this.dx),
      y: tight ? this.y.subarray(0, n * this.dy) : this.y.slice(0, n * this.dy),
      lengths: Int32Array.from(this.lengths),
      seqIds: Float64Array.from(this.ids),
      firstLine: Float64Array.from(this.firsts),
      sequenceOffset: this.emittedSeqs,
      ...(this.contNext ? { continued: true } : {}),
      ...(continues ? { continues: true } : {}),
    };
    this.ready.push(chunk);
    this.emittedSeqs += this.lengths.length - (continues ? 1 : 0);
    this.contNext = continues;
    this.lengths = [];
    this.ids = [];
    this.firsts = [];
    this.n = 0;
    const oldX = this.x, oldY = this.y;
    if (tight) {
      this.cap = Math.max(16, Math.min(this.chunkRows, 1 << 16) + 1);
      this.x = new Float64Array(this.cap * this.dx);
      this.y = new Float64Array(this.cap * this.dy);
    }
    if (carryRow) {
      this.x.set(oldX.subarray(n * this.dx, (n + 1) * this.dx), 0);
      this.y.set(oldY.subarray(n * this.dy, (n + 1) * this.dy), 0);
    }
  }

  finish(): void {
    if (this.open) this.closeSeq();
    this.emit();
    if (this.totalRows === 0) throw new UserError(`${this.file}: no data rows after the header`);
  }
}

async function* readChunks(
  path: string, headerLine: string, layout: Layout, chunkRows: number, minLength: number, blockBytes: number, split: boolean,
): AsyncGenerator<CSVChunk> {
  const parser = new Parser(path, headerLine, layout, chunkRows, minLength, split);
  const stream = createReadStream(path, { highWaterMark: blockBytes });
  const dec = new StringDecoder('utf8');
  let carry = '';
  try {
    for await (const buf of stream) {
      const b = buf as Buffer;
      // Binary garbage (e.g. a NUL-padded tail after the last row) is refused where it starts, rather than read
      // as one endless line. The rows before it are parsed first, so their own errors come first.
      const nul = b.indexOf(0);
      if (nul >= 0) {
        const before = carry + dec.write(b.subarray(0, nul));
        const cut = before.lastIndexOf('\n');
        if (cut >= 0) parser.feedLines(before.slice(0, cut + 1), false);
        throw new UserError(`${path}:row ${parser.lineCount + 1}: binary content (a NUL byte) in a text CSV file; the file is corrupt, padded or not CSV`);
      }
      // Plain numeric CSV is ASCII: latin1 decoding is ~3× faster than UTF-8 and gives the same string.
      // dec.end() flushes bytes left from a previous non-ASCII block (they can only be an invalid sequence).
      const text = carry + (isAscii(b) ? dec.end() + b.toString('latin1') : dec.write(b));
      carry = parser.feedLines(text, false);
      if (carry.length > MAX_LINE_CHARS) {
        throw new UserError(`${path}:row ${parser.lineCount + 1}: a line longer than ${MAX_LINE_CHARS / (1 << 20)} MiB without a line break; the file is corrupt or not CSV`);
      }
      while (parser.ready.length) yield parser.ready.shift()!;
    }
    const rest = carry + dec.end();
    parser.feedLines(rest, true);
    parser.finish();
    while (parser.ready.length) yield parser.ready.shift()!;
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new UserError(`${path}: cannot read data file (${(e as Error).message})`);
    throw e;
  } finally {
    stream.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

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

/** Streaming writer of data files (header seq,x1..x<dx>,y1..y<dy>); atomic on commit. */
export class DataCSVWriter {
  private seqOffset = 0;
  private constructor(private readonly w: AtomicWriter, readonly dx: number, readonly dy: number, private readonly withSeq: boolean) {}

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
    const ids = seqIdsOf(chunk, this.seqOffset);
    const lines: string[] = [];
    let r = 0;
    for (let s = 0; s < chunk.lengths.length; s++) {
      const id = String(ids[s]);
      for (let t = 0; t < chunk.lengths[s]; t++, r++) {
        let line = this.withSeq ? id : '';
        for (let i = 0; i < dx; i++) line += (i > 0 || this.withSeq ? ',' : '') + num(chunk.x[r * dx + i], `x[${r}][${i}]`);
        for (let i = 0; i < dy; i++) line += ',' + num(chunk.y[r * dy + i], `y[${r}][${i}]`);
        lines.push(line);
      }
      if (lines.length >= 4096) {
        await this.w.write(lines.join('\n') + '\n');
        lines.length = 0;
      }
    }
    if (lines.length) await this.w.write(lines.join('\n') + '\n');
    this.seqOffset += chunk.lengths.length - (chunk.continues ? 1 : 0);
  }

  commit(): Promise<void> {
    return this.w.commit();
  }

  abort(): Promise<void> {
    return this.w.abort();
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
export class PredictionCSVWriter {
  private seqOffset = 0;
  /** Steps already written of a sequence that goes on in the next chunk (pieces of one long sequence). */
  private stepsDone = 0;
  private constructor(private readonly w: AtomicWriter, readonly k: number, private readonly includeY: boolean) {}

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
    const ids = seqIdsOf(chunk, this.seqOffset);
    const lines: string[] = [];
    const n = chunk.lengths.length;
    let r = 0;
    for (let s = 0; s < n; s++) {
      const id = String(ids[s]);
      const t0 = s === 0 && chunk.continued ? this.stepsDone : 0;
      if (s === n - 1) this.stepsDone = chunk.continues ? t0 + chunk.lengths[s] : 0;
      for (let t = t0; t < t0 + chunk.lengths[s]; t++, r++) {
        let line = `${id},${t + 1}`;
        for (let i = 0; i < k; i++) line += ',' + num(yhat[r * k + i], `yhat[${r}][${i}]`);
        if (this.includeY) for (let i = 0; i < k; i++) line += ',' + num(chunk.y[r * k + i], `y[${r}][${i}]`);
        lines.push(line);
      }
      if (lines.length >= 4096) {
        await this.w.write(lines.join('\n') + '\n');
        lines.length = 0;
      }
    }
    if (lines.length) await this.w.write(lines.join('\n') + '\n');
    this.seqOffset += chunk.lengths.length - (chunk.continues ? 1 : 0);
  }

  commit(): Promise<void> {
    return this.w.commit();
  }

  abort(): Promise<void> {
    return this.w.abort();
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


/**
 * The fast CSV reader's streaming parser (src/io/csv.ts has the format and the options): lines split on commas by
 * hand, numbers through the validating scanner of csv-number.ts, rows into chunks of whole sequences (or pieces of
 * a long one with `splitSequences`), every problem a UserError with file, line and column.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { isAscii } from 'node:buffer';
import { UserError, cellError } from './errors.js';
import { ROLE_IGNORE, ROLE_SEQ, type ColumnLayout } from './columns.js';
import { EXACT_SEQ_ID, MAX_ABS_EXPECTED, MAX_ABS_VALUE, parseDecimal, splitQuoted } from './csv-number.js';
import type { CSVChunk } from './csv.js';
import { chunkCapacity } from './assembler.js';

const IGNORE = ROLE_IGNORE;
const SEQ = ROLE_SEQ;
type Layout = ColumnLayout;

/** Longest line accepted (bytes of text without a line break): far above any real row, even 20,000 columns. */
export const MAX_LINE_CHARS = 1 << 22;

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
    this.cap = chunkCapacity(chunkRows);
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
      this.cap = chunkCapacity(this.chunkRows);
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

export async function* readChunks(
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


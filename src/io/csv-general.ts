/**
 * Shared machinery of the non-fast-path readers (docs/method.md §8), plus the general CSV reader.
 *
 * - `resolveColumns`: column selection from a header (x1..x<dx>, y1..y<dy>, optional seq, or explicit
 *   names), with the same rules and messages as the fast CSV reader (src/io/csv.ts).
 * - `ChunkAssembler`: turns validated rows into CSVChunks of whole sequences with exactly the chunk
 *   boundaries of the fast CSV reader (a chunk is cut at the first sequence start once it holds ≥ chunkRows
 *   rows), so the same data read from CSV, Arrow or Parquet gives identical chunks and hence the same model,
 *   bit for bit. It checks what every format must check: finite cells, integer seq ids, contiguous sequences,
 *   the minimum sequence length, at least one data row. Memory: one chunk plus the set of seen seq ids.
 * - `openGeneralCSVSource`: CSV through csv-parse, for what the fast reader does not take: quoted fields
 *   spanning lines and other delimiters (`;`, tab). Slower (≈ 3× the fast path), same results otherwise.
 */
import { createReadStream } from 'node:fs';
import { parse as csvParse } from 'csv-parse';
import type { CSVChunk, CSVOptions, CSVSource } from './csv.js';
import { EXACT_SEQ_ID, MAX_ABS_EXPECTED, MAX_ABS_VALUE, parseDecimal } from './csv.js';
import { UserError, cellError, userErrorAt } from './errors.js';

export const DEFAULT_CHUNK_ROWS = 65536;

export { ROLE_IGNORE, ROLE_SEQ, resolveColumns, type ColumnLayout } from './columns.js';
import { ROLE_IGNORE, resolveColumns, type ColumnLayout } from './columns.js';

/**
 * A block of rows in columnar form, handed to the assembler. `values[c]` holds the numbers of file column c
 * (only selected columns are read; any value that is not a finite number makes the row invalid and
 * `describe(c, r)` gives its text for the message). Row r's position for messages is `rowNumbers[r]` if
 * given, else `firstRow + r`.
 */
export interface RowBlock {
  rows: number;
  values: readonly (ArrayLike<number> | undefined)[];
  firstRow: number;
  rowNumbers?: ArrayLike<number>;
  /** Text of an invalid cell for the message; null for a missing (null) value. */
  describe(column: number, r: number): string | null;
}

/**
 * Builds CSVChunks of whole sequences from row blocks (see the file comment). Usage:
 * `addBlock(...)` any number of times, `finish()` once; completed chunks collect in `ready`.
 */
export class ChunkAssembler {
  readonly ready: CSVChunk[] = [];
  private readonly dx: number;
  private readonly dy: number;
  private readonly hasSeq: boolean;
  /** Selected file columns in file order, with their role. */
  private readonly cols: Int32Array;
  private readonly roles: Int32Array;
  private cap: number;
  private x: Float64Array;
  private y: Float64Array;
  private n = 0;
  private lengths: number[] = [];
  private ids: number[] = [];
  private firsts: number[] = [];
  private open = false;
  private curId = NaN;
  private curStart = 0;
  private curFirst = 0;
  private readonly seen = new Set<number>();
  private emitted = 0;
  private total = 0;

  constructor(
    private readonly file: string,
    private readonly layout: ColumnLayout,
    private readonly chunkRows: number,
    private readonly minLength: number,
    /** Cut a sequence longer than chunkRows into pieces (CSVOptions.splitSequences). */
    private readonly split = false,
  ) {
    this.dx = layout.x.length;
    this.dy = layout.y.length;
    this.hasSeq = layout.seqIndex >= 0;
    const cols: number[] = [], roles: number[] = [];
    layout.role.forEach((r, c) => {
      if (r !== ROLE_IGNORE) {
        cols.push(c);
        roles.push(r);
      }
    });
    this.cols = Int32Array.from(cols);
    this.roles = Int32Array.from(roles);
    this.cap = Math.max(16, Math.min(chunkRows, 1 << 16) + 1);
    this.x = new Float64Array(this.cap * this.dx);
    this.y = new Float64Array(this.cap * this.dy);
  }

  /** Total rows seen so far. */
  get rows(): number {
    return this.total;
  }

  addBlock(b: RowBlock): void {
    const { cols } = this;
    const nc = cols.length;
    const rows = b.rows;
    // Float64Array views only, so the loops below stay monomorphic (V8 slows down ~2× on mixed arrays).
    const vals: Float64Array[] = [];
    for (let k = 0; k < nc; k++) {
      const v = b.values[cols[k]];
      if (!v || v.length < rows) throw new Error(`ChunkAssembler: column ${cols[k]} has ${v?.length ?? 0} values for ${rows} rows`);
      vals.push(v instanceof Float64Array ? v : Float64Array.from(v));
    }
    // The first row holding a non-finite cell (column by column: a tight loop per column). Rows before it
    // are processed normally (so an earlier sequence error is reported first, as a line-by-line reader would).
    let bad = rows, badCol = -1;
    for (let k = 0; k < nc; k++) {
      const v = vals[k];
      for (let r = 0; r < bad; r++) {
        const a = v[r];
        if (!(a - a === 0) || Math.abs(a) > MAX_ABS_VALUE) {
          // Same row in an earlier file column wins: columns are visited in file order.
          if (r < bad) {
            bad = r;
            badCol = cols[k];
          }
          break;
        }
      }
    }
    const seqVals = this.hasSeq ? vals[cols.indexOf(this.layout.seqIndex)] : null;
    // Runs of rows of one sequence are copied in bulk; sequence boundaries are handled row by row.
    let segStart = 0;
    if (seqVals) {
      for (let r = 0; r < bad; r++) {
        const id = seqVals[r];
        if (this.open && id === this.curId) continue;
        this.copyRows(vals, segStart, r, b);
        segStart = r;
        if (!Number.isInteger(id)) {
          throw cellError(this.file, this.rowNumber(b, r), this.layout.header[this.layout.seqIndex], String(b.describe(this.layout.seqIndex, r) ?? id), 'an integer sequence id');
        }
        if (!Number.isSafeInteger(id)) {
          throw cellError(this.file, this.rowNumber(b, r), this.layout.header[this.layout.seqIndex], String(b.describe(this.layout.seqIndex, r) ?? id), EXACT_SEQ_ID);
        }
        if (this.open) {
          this.closeSeq();
          if (this.seen.has(id)) {
            throw new UserError(
              `${this.file}:row ${this.rowNumber(b, r)}: sequence id ${id} appears again after other sequences (rows of a sequence must be contiguous)`,
            );
          }
          // Same cut rule as the fast CSV reader: a chunk ends before the first sequence that starts once it
          // holds ≥ chunkRows rows.
          if (this.n >= this.chunkRows) this.emit();
        }
        this.startSeq(id, this.rowNumber(b, r));
      }
    } else if (!this.open && bad > 0) this.startSeq(0, this.rowNumber(b, 0));
    this.copyRows(vals, segStart, bad, b);
    if (bad < rows) this.badCell(b, badCol, bad);
  }

  /**
   * Append rows [r0, r1) of the block's columns (all of the open sequence) to the buffers. When splitting, a
   * piece is cut whenever the buffer is full and more rows of the sequence follow: the fast CSV reader's rule, so
   * every format gives the same pieces.
   */
  private copyRows(vals: Float64Array[], r0: number, r1: number, b: RowBlock): void {
    if (!this.split) return this.copyRun(vals, r0, r1);
    while (r0 < r1) {
      if (this.n >= this.chunkRows) this.emitPiece(this.rowNumber(b, r0));
      const end = Math.min(r1, r0 + this.chunkRows - this.n);
      this.copyRun(vals, r0, end);
      r0 = end;
    }
  }

  /** The buffer is full and row `nextRow` continues the open sequence: emit the sequence's rows so far as a piece. */
  private emitPiece(nextRow: number): void {
    const len = this.n - this.curStart;
    if (len > 0) {
      this.lengths.push(len);
      this.ids.push(this.curId);
      this.firsts.push(this.curFirst);
      this.curDone += len;
    }
    this.emit(len > 0);
    this.curStart = 0;
    this.curFirst = nextRow;
  }

  private copyRun(vals: Float64Array[], r0: number, r1: number): void {
    const len = r1 - r0;
    if (len <= 0) return;
    while (this.n + len > this.cap) this.grow();
    const { dx, dy, roles, x, y } = this;
    const base = this.n - r0;
    for (let k = 0; k < roles.length; k++) {
      const role = roles[k];
      if (role < 0) continue;
      const v = vals[k];
      if (role < dx) for (let r = r0; r < r1; r++) x[(base + r) * dx + role] = v[r];
      else {
        const j = role - dx;
        for (let r = r0; r < r1; r++) y[(base + r) * dy + j] = v[r];
      }
    }
    this.n += len;
    this.total += len;
  }

  /** Close the last sequence and emit what is left; a file without rows is an error. */
  finish(): void {
    if (this.open) this.closeSeq();
    this.emit();
    if (this.total === 0) throw new UserError(`${this.file}: no data rows`);
  }

  private rowNumber(b: RowBlock, r: number): number {
    return b.rowNumbers ? b.rowNumbers[r] : b.firstRow + r;
  }

  private badCell(b: RowBlock, c: number, r: number): never {
    const row = this.rowNumber(b, r), name = this.layout.header[c];
    const got = b.describe(c, r);
    if (got === null) throw userErrorAt(this.file, row, name, 'expected a number, got a missing (null) value');
    const isNonFinite = /^[+-]?(nan|inf|infinity)$/i.test(got.trim());
    const v = Number(got);
    if (Number.isFinite(v) && Math.abs(v) > MAX_ABS_VALUE) throw cellError(this.file, row, name, got, MAX_ABS_EXPECTED);
    throw cellError(this.file, row, name, got, isNonFinite ? 'a finite number' : 'a number');
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

  private startSeq(id: number, row: number): void {
    this.open = true;
    this.curId = id;
    this.curStart = this.n;
    this.curFirst = row;
    this.seqFirst = row;
    this.curDone = 0;
  }

  /** Rows of the open sequence in pieces already emitted; file row of its first row; next chunk is `continued`. */
  private curDone = 0;
  private seqFirst = 0;
  private contNext = false;

  private closeSeq(): void {
    const len = this.n - this.curStart;
    const total = this.curDone + len;
    if (total < this.minLength) {
      const what = this.hasSeq ? `sequence ${this.curId}` : 'the file (one sequence, no seq column)';
      throw new UserError(`${this.file}:row ${this.seqFirst}: ${what} has ${total} row${total === 1 ? '' : 's'}, need at least ${this.minLength}`);
    }
    this.lengths.push(len);
    this.ids.push(this.curId);
    this.firsts.push(this.curFirst);
    if (this.hasSeq) this.seen.add(this.curId);
    this.open = false;
  }

  /** Emit rows [0, n) as a chunk (`continues`: its last sequence goes on in the next chunk). */
  private emit(continues = false): void {
    const n = this.n;
    if (n === 0) return;
    const { dx, dy } = this;
    this.ready.push({
      dx,
      dy,
      rows: n,
      x: this.x.subarray(0, n * dx),
      y: this.y.subarray(0, n * dy),
      lengths: Int32Array.from(this.lengths),
      seqIds: Float64Array.from(this.ids),
      firstLine: Float64Array.from(this.firsts),
      sequenceOffset: this.emitted,
      ...(this.contNext ? { continued: true } : {}),
      ...(continues ? { continues: true } : {}),
    });
    this.emitted += this.lengths.length - (continues ? 1 : 0);
    this.contNext = continues;
    this.lengths = [];
    this.ids = [];
    this.firsts = [];
    this.n = 0;
    // Fresh buffers: the emitted chunk keeps views into the old ones.
    this.cap = Math.max(16, Math.min(this.chunkRows, 1 << 16) + 1);
    this.x = new Float64Array(this.cap * dx);
    this.y = new Float64Array(this.cap * dy);
  }
}

// ---------------------------------------------------------------------------------------------
// General CSV (csv-parse)

export interface GeneralCSVOptions extends CSVOptions {
  /** Field delimiter (default: sniffed from the header line: ',' unless it has only ';' or tabs). */
  delimiter?: string;
}

/** Guess the delimiter from a header line: comma, else tab, else semicolon, else comma. */
export function sniffDelimiter(headerLine: string): string {
  if (headerLine.includes(',')) return ',';
  if (headerLine.includes('\t')) return '\t';
  if (headerLine.includes(';')) return ';';
  return ',';
}

function csvParser(delimiter: string) {
  return csvParse({
    delimiter,
    bom: true,
    info: true,
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true, // ragged rows are reported by us, with the row and the expected count
    relax_quotes: false,
  });
}

function readErrorMessage(path: string, e: unknown, lastRecordLine = 0): UserError | null {
  if (e instanceof UserError) return e;
  const err = e as { code?: string; message?: string; lines?: number };
  if (err?.code === 'CSV_QUOTE_NOT_CLOSED') {
    // csv-parse reports the end of the file; the unclosed quote is in the record after the last complete one.
    return new UserError(`${path}:row ${lastRecordLine + 1}: a quoted field is never closed (no matching closing quote before the end of the file)`);
  }
  if (typeof err?.code === 'string' && err.code.startsWith('CSV_')) {
    const msg = String(err.message ?? err.code).replace(/\s+/g, ' ');
    return new UserError(`${path}${err.lines ? `:row ${err.lines}` : ''}: malformed CSV (${msg})`);
  }
  if (typeof err?.code === 'string' && (err.code.startsWith('E') || err.code.startsWith('INVALID'))) {
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : String(err.message);
    return new UserError(`${path}: cannot read data file (${why.replace(/\s+/g, ' ')})`);
  }
  return null;
}

type ParsedRecord = { record: string[]; info: { lines: number } };

/** Start line of a record that ended on line `lines` (quoted fields may span lines). */
function startLine(rec: string[], lines: number): number {
  let nl = 0;
  for (const f of rec) {
    if (f.includes('\n')) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) nl++;
  }
  return lines - nl;
}

/** Read the header record (and whether a data record follows). */
async function readGeneralHead(path: string, delimiter: string | undefined): Promise<{ header: string[]; delimiter: string; hasData: boolean }> {
  // Sniff on the first physical line (a header with a quoted newline is not worth supporting for sniffing).
  let delim = delimiter;
  if (delim === undefined) {
    const s = createReadStream(path, { start: 0, end: 65535, encoding: 'utf8' });
    let text = '';
    try {
      for await (const t of s) text += t as string;
    } catch (e) {
      throw readErrorMessage(path, e) ?? e;
    } finally {
      s.destroy();
    }
    const first = text.replace(/^\ufeff/, '').split('\n').find((l) => l.trim() !== '') ?? '';
    delim = sniffDelimiter(first);
  }
  const stream = createReadStream(path);
  const parser = stream.pipe(csvParser(delim));
  let header: string[] | null = null;
  let hasData = false;
  let lastLine = 0;
  try {
    for await (const r of parser as AsyncIterable<ParsedRecord>) {
      lastLine = r.info.lines;
      if (header === null) header = r.record.map((s) => s.trim());
      else {
        hasData = true;
        break;
      }
    }
  } catch (e) {
    throw readErrorMessage(path, e, lastLine) ?? e;
  } finally {
    stream.destroy();
    parser.destroy();
  }
  if (header === null) throw new UserError(`${path}: empty file (expected a header row such as x1,x2,y1,y2,seq)`);
  return { header, delimiter: delim, hasData };
}

/**
 * Open a CSV file through csv-parse (RFC 4180 quoting with fields spanning lines, CRLF, BOM, any
 * one-character delimiter). Same options, checks, chunks and messages as `openCSVSource`; row numbers are
 * the file line on which a record starts.
 */
export async function openGeneralCSVSource(path: string, opts: GeneralCSVOptions = {}): Promise<CSVSource> {
  const chunkRows = opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const minLength = opts.minLength ?? 1;
  if (!(chunkRows >= 1)) throw new RangeError(`openGeneralCSVSource: chunkRows must be ≥ 1, got ${chunkRows}`);
  if (!Number.isInteger(minLength) || minLength < 1) throw new RangeError(`openGeneralCSVSource: minLength must be a positive integer, got ${minLength}`);
  const { header, delimiter, hasData } = await readGeneralHead(path, opts.delimiter);
  const layout = resolveColumns(header, opts, path);
  if (!hasData) throw new UserError(`${path}: no data rows after the header`);
  return {
    dx: layout.x.length,
    dy: layout.y.length,
    name: path,
    path,
    header,
    columns: { x: layout.x, y: layout.y, ...(layout.seq !== undefined ? { seq: layout.seq } : {}) },
    chunks: () => readGeneralChunks(path, delimiter, header, layout, chunkRows, minLength, opts.splitSequences ?? false),
  };
}

const BLOCK = 4096;

async function* readGeneralChunks(
  path: string, delimiter: string, header: string[], layout: ColumnLayout, chunkRows: number, minLength: number, split: boolean,
): AsyncGenerator<CSVChunk> {
  const asm = new ChunkAssembler(path, layout, chunkRows, minLength, split);
  const ncol = header.length;
  const selected: number[] = [];
  layout.role.forEach((r, c) => {
    if (r !== ROLE_IGNORE) selected.push(c);
  });
  const values: (Float64Array | undefined)[] = new Array(ncol).fill(undefined);
  for (const c of selected) values[c] = new Float64Array(BLOCK);
  const texts: string[][] = [];
  const rowNumbers = new Float64Array(BLOCK);
  let m = 0;
  const block: RowBlock = {
    rows: 0,
    values,
    firstRow: 0,
    rowNumbers,
    describe: (c, r) => texts[r][c].trim(),
  };
  const flush = (): void => {
    block.rows = m;
    asm.addBlock(block);
    m = 0;
  };
  const stream = createReadStream(path);
  const parser = stream.pipe(csvParser(delimiter));
  let first = true;
  let lastLine = 0;
  try {
    for await (const r of parser as AsyncIterable<ParsedRecord>) {
      const rec = r.record;
      lastLine = r.info.lines;
      if (first) {
        first = false;
        const h = rec.map((s) => s.trim());
        if (h.length !== header.length || h.some((s, i) => s !== header[i])) throw new UserError(`${path}: the header changed since the file was opened`);
        continue;
      }
      const line = startLine(rec, r.info.lines);
      if (rec.length !== ncol) throw new UserError(`${path}:row ${line}: expected ${ncol} fields (as in the header), got ${rec.length}`);
      for (const c of selected) {
        // trim: csv-parse trims outside quotes only; "1.5\n" inside quotes is still the number 1.5.
        const t = rec[c].trim();
        values[c]![m] = t.length > 0 ? parseDecimal(t, 0, t.length) : NaN;
      }
      texts[m] = rec;
      rowNumbers[m] = line;
      m++;
      if (m === BLOCK) {
        flush();
        while (asm.ready.length) yield asm.ready.shift()!;
      }
    }
    flush();
    asm.finish();
    while (asm.ready.length) yield asm.ready.shift()!;
  } catch (e) {
    throw readErrorMessage(path, e, lastLine) ?? e;
  } finally {
    stream.destroy();
    parser.destroy();
  }
}

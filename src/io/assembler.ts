/**
 * `ChunkAssembler` (docs/method.md §8): turns validated rows of any reader but the fast CSV one (general CSV, Arrow,
 * Parquet) into CSVChunks with exactly the fast CSV reader's chunk boundaries (a chunk is cut at the first sequence
 * start once it holds ≥ chunkRows rows; with `splitSequences`, also inside a sequence once it holds chunkRows
 * rows), so the same data read from any format give identical chunks and hence the same model, bit for bit. It
 * checks what every format must check: finite cells, integer seq ids, contiguous sequences, the minimum sequence
 * length, at least one data row. Memory: one chunk plus the set of seen seq ids.
 */
import type { CSVChunk } from './csv.js';
import { EXACT_SEQ_ID, MAX_ABS_EXPECTED, MAX_ABS_VALUE } from './csv-number.js';
import { UserError, cellError, userErrorAt } from './errors.js';
import { ROLE_IGNORE, type ColumnLayout } from './columns.js';

export const DEFAULT_CHUNK_ROWS = 65536;

/**
 * Rows a chunk buffer is allocated for. A chunk is cut at the first sequence start once it holds ≥ chunkRows rows,
 * so it usually holds a few rows more than chunkRows: the slack keeps that last sequence from doubling the buffers
 * (a grow per chunk was a third of the main thread's work in the parallel CSV pass). Only the capacity changes,
 * never a chunk's rows.
 */
export function chunkCapacity(chunkRows: number): number {
  return Math.max(16, Math.min(chunkRows, 1 << 16) + 4096);
}

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
    this.cap = chunkCapacity(chunkRows);
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
    this.cap = chunkCapacity(this.chunkRows);
    this.x = new Float64Array(this.cap * dx);
    this.y = new Float64Array(this.cap * dy);
  }
}


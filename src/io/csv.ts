/**
 * CSV data files (docs/method.md §8): a header row; input columns x1..x<dx>, output columns y1..y<dy>, optional
 * integer `seq` column (rows of a sequence contiguous and in time order; without it the file is one sequence).
 * Options x / y / seq select columns by name and override the convention; other columns are ignored.
 *
 * Reading streams the file in blocks and yields SequenceChunks of whole sequences (≈ chunkRows rows each), so
 * memory does not grow with the number of sequences. By default a sequence is held whole (a file without `seq` is
 * one chunk: ~8·(dx+dy) bytes per row); with `splitSequences` a long one comes in pieces of chunkRows rows,
 * flagged `continued` / `continues` (src/io/dataset.ts), for consumers that carry state across them.
 *
 * Files: this one (options, header, open), csv-parser.ts (the streaming parser), csv-number.ts (cell scanner and
 * limits), csv-write.ts (data and prediction writers).
 *
 * Fast path for plain numeric CSV: lines are split on commas by hand and numbers are parsed by a validating
 * scanner (exact Clinger fast path for ≤ 15 significant digits, Number() otherwise, so parsing is correctly
 * rounded and shortest-repr output round-trips bit for bit). CRLF line ends, a UTF-8 BOM, spaces around cells
 * and blank lines are accepted; a line containing a double quote goes through a slower RFC 4180 field splitter
 * (quoted fields may not span lines). Every problem is a UserError with the file, 1-based line number and column.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { joinChunks, type DataSource, type SequenceChunk } from './dataset.js';
import { UserError } from './errors.js';
import { chunkOptions, layoutSource, resolveColumns } from './columns.js';
import { splitHeader } from './csv-number.js';
import { MAX_LINE_CHARS, readChunks } from './csv-parser.js';

export { EXACT_SEQ_ID, MAX_ABS_EXPECTED, MAX_ABS_VALUE, parseDecimal } from './csv-number.js';
export { MAX_LINE_CHARS } from './csv-parser.js';
export { DataCSVWriter, PredictionCSVWriter, writeCSV, writePredictionsCSV } from './csv-write.js';

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
  const { chunkRows, minLength } = chunkOptions('openCSVSource', opts, DEFAULT_CHUNK_ROWS);
  const { headerLine, hasData } = await readHead(path, blockBytes);
  const header = splitHeader(headerLine, path);
  const layout = resolveColumns(header, opts, path);
  if (!hasData) throw new UserError(`${path}: no data rows after the header`);
  return layoutSource(path, header, layout, () => readChunks(path, headerLine, layout, chunkRows, minLength, blockBytes, opts.splitSequences ?? false));
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

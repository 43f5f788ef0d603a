/**
 * One entry point for data files of every format (docs/method.md §8): CSV, Apache Arrow IPC, Parquet.
 *
 * The format comes from `format` (the CLI's --format) or else the file extension: .csv/.tsv/.txt → CSV,
 * .arrow/.feather/.ipc/.arrows → Arrow, .parquet/.pq → Parquet; an unknown extension is sniffed from the
 * magic bytes (PAR1, ARROW1, an IPC stream's 0xFFFFFFFF), defaulting to CSV. A file whose magic bytes
 * contradict its extension is a UserError (rather than a confusing parse error).
 *
 * Every format yields the same CSVChunks (whole sequences, same chunk boundaries), with the same column
 * selection and checks, so the same data gives the same model bit for bit whatever its format.
 *
 * CSV goes through the fast reader (src/io/csv.ts); files it does not take go through csv-parse
 * (src/io/csv-general.ts): a header without commas but with tabs or semicolons, and quoted fields that
 * span lines (detected when the fast reader meets one; the pass restarts on the general reader, skipping the
 * chunks already delivered — chunk boundaries are the same — and later passes use it directly).
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import type { SequenceChunk } from './dataset.js';
import { openCSVSource, writeCSV, type CSVChunk, type CSVOptions, type CSVSource } from './csv.js';
import { openGeneralCSVSource, sniffDelimiter } from './csv-general.js';
// Arrow and Parquet readers load their libraries (≈0.4 s) only when a file of theirs is opened or written: a CSV
// fit does not pay for them at start-up.
const arrow = () => import('./arrow.js');
const parquet = () => import('./parquet.js');
import { UserError } from './errors.js';

export type DataFormat = 'csv' | 'arrow' | 'parquet';
export const DATA_FORMATS: readonly DataFormat[] = ['csv', 'arrow', 'parquet'];

export interface OpenDataOptions extends CSVOptions {
  /** Force a format (default: from the extension, else sniffed). */
  format?: DataFormat | string;
}

/** A data file of any format: a re-iterable source of CSVChunks plus what was read from its header. */
export interface DataFileSource extends CSVSource {
  readonly format: DataFormat;
}

const EXT: Record<string, DataFormat> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.txt': 'csv',
  '.arrow': 'arrow',
  '.feather': 'arrow',
  '.ipc': 'arrow',
  '.arrows': 'arrow',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

/** The format named by a file's extension, or undefined. */
export function formatFromExtension(path: string): DataFormat | undefined {
  return EXT[nodePath.extname(path).toLowerCase()];
}

function checkFormat(f: string, where: string): DataFormat {
  if ((DATA_FORMATS as readonly string[]).includes(f)) return f as DataFormat;
  throw new UserError(`${where}: unknown data format "${f}" (expected ${DATA_FORMATS.join(', ')})`);
}

/** The first 64 KiB of a file (empty if it cannot be read: the reader then reports why). */
async function readHeadBytes(path: string): Promise<Buffer> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(path, 'r');
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } catch {
    return Buffer.alloc(0);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

const HEAD_BYTES = 65536;

/** The format the magic bytes say, or undefined for text. */
function sniffMagic(b: Buffer): DataFormat | undefined {
  if (b.length >= 4 && b.toString('latin1', 0, 4) === 'PAR1') return 'parquet';
  if (b.length >= 6 && b.toString('latin1', 0, 6) === 'ARROW1') return 'arrow';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xffffffff) return 'arrow';
  return undefined;
}

/** Offset of binary content where text is expected (a NUL byte, or bytes that are not UTF-8), or −1. */
function binaryOffset(b: Buffer): number {
  const nul = b.indexOf(0);
  if (nul >= 0) return nul;
  // A multi-byte character cut at the end of a full block is not an error: drop up to 3 trailing bytes.
  const text = new TextDecoder('utf-8').decode(b.length === HEAD_BYTES ? b.subarray(0, b.length - 3) : b);
  const bad = text.indexOf('\ufffd');
  return bad >= 0 ? Buffer.byteLength(text.slice(0, bad)) : -1;
}

/** First non-blank line of the head (BOM removed). */
function firstLine(b: Buffer): string {
  const text = b.toString('utf8').replace(/^\ufeff/, '');
  return text.split('\n').find((l) => l.trim() !== '') ?? '';
}

/** Decide the format of `path` (see the file comment). */
export async function resolveFormat(path: string, format?: string, head?: Buffer): Promise<DataFormat> {
  if (format !== undefined) return checkFormat(format, path);
  const byExt = formatFromExtension(path);
  const magic = sniffMagic(head ?? (await readHeadBytes(path)));
  if (byExt !== undefined && magic !== undefined && magic !== byExt) {
    throw new UserError(`${path}: the file looks like ${magic === 'parquet' ? 'Parquet' : 'Arrow IPC'} data, not ${byExt.toUpperCase()} as its extension says (use --format ${magic} or rename it)`);
  }
  return byExt ?? magic ?? 'csv';
}

const NOT_CLOSED = /quoted (field|column name) is not closed/;

/** CSV: the fast reader, with the general reader for other delimiters and quoted fields spanning lines. */
async function openCSVAny(path: string, opts: CSVOptions, head: Buffer): Promise<CSVSource> {
  const bin = binaryOffset(head);
  if (bin >= 0) throw new UserError(`${path}: not a text CSV file (binary or non-UTF-8 content at byte ${bin}; for Arrow or Parquet data use --format)`);
  const delim = sniffDelimiter(firstLine(head));
  if (delim !== ',') return openGeneralCSVSource(path, { ...opts, delimiter: delim });
  let fast: CSVSource;
  try {
    fast = await openCSVSource(path, opts);
  } catch (e) {
    if (e instanceof UserError && NOT_CLOSED.test(e.message)) return openGeneralCSVSource(path, { ...opts, delimiter: ',' });
    throw e;
  }
  let general: CSVSource | null = null;
  async function* chunks(): AsyncGenerator<CSVChunk> {
    if (general) {
      yield* general.chunks();
      return;
    }
    let delivered = 0;
    try {
      for await (const c of fast.chunks()) {
        yield c;
        delivered += c.rows;
      }
      return;
    } catch (e) {
      if (!(e instanceof UserError) || !NOT_CLOSED.test(e.message)) throw e;
    }
    general = await openGeneralCSVSource(path, { ...opts, delimiter: ',' });
    for await (const c of general.chunks()) {
      if (delivered > 0) {
        // Same rows → same chunk boundaries (ChunkAssembler follows the fast reader's rule).
        delivered -= c.rows;
        if (delivered < 0) throw new Error(`${path}: internal error: general CSV reader's chunks do not line up with the fast reader's`);
        continue;
      }
      yield c;
    }
  }
  return { ...fast, chunks };
}

/**
 * Open a data file of any format as a re-iterable source of CSVChunks (see the file comment). Options are
 * those of `openCSVSource` (x, y, seq, minLength, requireY, chunkRows) plus `format`.
 */
export async function openDataSource(path: string, opts: OpenDataOptions = {}): Promise<DataFileSource> {
  const { format: f, ...rest } = opts;
  const head = await readHeadBytes(path);
  const format = await resolveFormat(path, f, head);
  let src: CSVSource;
  if (format === 'arrow') src = await (await arrow()).openArrowSource(path, rest);
  else if (format === 'parquet') src = await (await parquet()).openParquetSource(path, rest);
  else src = await openCSVAny(path, rest, head);
  return { ...src, format, chunks: src.chunks };
}

/**
 * Write a data file (header/columns seq, x1..x<dx>, y1..y<dy>) atomically in the format given or implied by
 * the extension (CSV for an unknown one). `seq: false` omits the seq column (one sequence only).
 */
export async function writeDataFile(path: string, chunk: SequenceChunk, opts: { format?: DataFormat | string; seq?: boolean } = {}): Promise<DataFormat> {
  const format = opts.format !== undefined ? checkFormat(opts.format, path) : formatFromExtension(path) ?? 'csv';
  const o = opts.seq === undefined ? {} : { seq: opts.seq };
  if (format === 'arrow') await (await arrow()).writeArrow(path, chunk, o);
  else if (format === 'parquet') await (await parquet()).writeParquet(path, chunk, o);
  else await writeCSV(path, chunk, o);
  return format;
}

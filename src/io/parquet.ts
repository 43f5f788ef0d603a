/**
 * Parquet data files (.parquet), docs/method.md §8, read with hyparquet (pure JS; codecs from
 * hyparquet-compressors) and written with hyparquet-writer.
 *
 * Columns and their selection are those of the CSV format. Accepted column types: DOUBLE, FLOAT, INT32,
 * INT64 (plain or integer logical types); nullable columns are fine as long as no selected value is null.
 * Reading is one row group at a time, only the selected columns, through a file handle: memory is one row
 * group of those columns plus one output chunk, independent of the number of rows (row groups written by
 * `writeParquet` hold 65536 rows). Values go through the same ChunkAssembler as the other readers:
 * identical chunks, checks and messages. Row numbers in messages are 1-based record numbers.
 */
import { promises as fsp } from 'node:fs';
import { parquetMetadataAsync, parquetSchema, parquetScan } from 'hyparquet';
import type { AsyncBuffer, FileMetaData, SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SequenceChunk } from './dataset.js';
import type { CSVChunk, CSVOptions, CSVSource } from './csv.js';
import { ChunkAssembler, ColumnLayout, DEFAULT_CHUNK_ROWS, ROLE_IGNORE, RowBlock, resolveColumns } from './csv-general.js';
import { chunkOptions, layoutSource } from './columns.js';
import { dataColumns } from './arrow.js';
import { UserError } from './errors.js';
import { writeFileAtomic } from './atomic.js';

function ioMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EISDIR') return 'is a directory';
  if (err?.code === 'EACCES') return 'permission denied';
  return String(err?.message ?? e).replace(/\s+/g, ' ');
}

function corrupt(path: string, e: unknown): UserError {
  if (e instanceof UserError) return e;
  return new UserError(`${path}: not a readable Parquet file (truncated or corrupt: ${ioMessage(e)})`);
}

/** An AsyncBuffer over an open file handle (hyparquet reads the footer, then column chunks by offset). */
async function openFile(path: string): Promise<{ fh: fsp.FileHandle; file: AsyncBuffer }> {
  let fh: fsp.FileHandle;
  let size: number;
  try {
    fh = await fsp.open(path, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    size = st.size;
  } catch (e) {
    throw new UserError(`${path}: cannot read data file (${ioMessage(e)})`);
  }
  const handle = fh;
  const file: AsyncBuffer = {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const e = Math.min(end ?? size, size);
      const len = Math.max(0, e - start);
      const buf = new Uint8Array(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await handle.read(buf, got, len - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < len) throw new Error(`file ended at byte ${start + got}, expected ${e}`);
      return buf.buffer;
    },
  };
  return { fh, file };
}

async function readMetadata(path: string, file: AsyncBuffer): Promise<FileMetaData> {
  if (file.byteLength === 0) throw new UserError(`${path}: empty file (expected a Parquet file with columns such as x1,x2,y1,y2,seq)`);
  try {
    return await parquetMetadataAsync(file);
  } catch (e) {
    throw corrupt(path, e);
  }
}

const INTEGER_CONVERTED = new Set(['INT_8', 'INT_16', 'INT_32', 'INT_64', 'UINT_8', 'UINT_16', 'UINT_32', 'UINT_64']);

/** Why a top-level schema node cannot hold gloree data (null when it can). */
function typeProblem(node: SchemaTree): string | null {
  const el = node.element;
  if (node.children.length > 0) return 'a nested group';
  if (el.repetition_type === 'REPEATED') return `repeated ${el.type}`;
  const t = el.type;
  if (t !== 'DOUBLE' && t !== 'FLOAT' && t !== 'INT32' && t !== 'INT64') return String(t);
  const lt = el.logical_type as { type?: string } | undefined;
  if (lt && lt.type !== 'INTEGER') return `${t} (${lt.type})`;
  if (el.converted_type && !INTEGER_CONVERTED.has(el.converted_type)) return `${t} (${el.converted_type})`;
  return null;
}

function topLevel(path: string, md: FileMetaData): SchemaTree[] {
  try {
    return parquetSchema(md).children;
  } catch (e) {
    throw corrupt(path, e);
  }
}

function checkTypes(path: string, nodes: SchemaTree[], layout: ColumnLayout): void {
  layout.role.forEach((r, c) => {
    if (r === ROLE_IGNORE) return;
    const p = typeProblem(nodes[c]);
    if (p !== null) throw new UserError(`${path}: column ${JSON.stringify(String(nodes[c].element.name ?? ''))} has Parquet type ${p}, expected a numeric (DOUBLE, FLOAT, INT32 or INT64) column`);
  });
}

/**
 * Open a Parquet data file. Reads the footer now (missing / duplicate / non-numeric columns, a corrupt or
 * truncated file, no rows are UserErrors); cell problems and sequence checks are reported while iterating
 * `chunks()`, which makes a fresh pass over the file on every call.
 */
export async function openParquetSource(path: string, opts: CSVOptions = {}): Promise<CSVSource> {
  const { chunkRows, minLength } = chunkOptions('openParquetSource', opts, DEFAULT_CHUNK_ROWS);
  const { fh, file } = await openFile(path);
  let header: string[];
  let layout: ColumnLayout;
  try {
    const md = await readMetadata(path, file);
    const nodes = topLevel(path, md);
    header = nodes.map((n) => String(n.element.name ?? ''));
    layout = resolveColumns(header, opts, path);
    checkTypes(path, nodes, layout);
    if (Number(md.num_rows) === 0) throw new UserError(`${path}: no data rows`);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return layoutSource(path, header, layout, () => readParquetChunks(path, header, layout, chunkRows, minLength, opts.splitSequences ?? false));
}

/** Decoded column → doubles (NaN where a value is null or not numeric; `describe` tells which). */
function numericColumn(a: ArrayLike<unknown>): ArrayLike<number> {
  if (a instanceof Float64Array || a instanceof Float32Array || a instanceof Int32Array || a instanceof Uint32Array || a instanceof Uint8Array) return a;
  const out = new Float64Array(a.length);
  for (let i = 0; i < out.length; i++) {
    const v = a[i];
    out[i] = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN;
  }
  return out;
}

function describeValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

async function* readParquetChunks(path: string, header: string[], layout: ColumnLayout, chunkRows: number, minLength: number, split: boolean): AsyncGenerator<CSVChunk> {
  const asm = new ChunkAssembler(path, layout, chunkRows, minLength, split);
  const { fh, file } = await openFile(path);
  try {
    const md = await readMetadata(path, file);
    const nodes = topLevel(path, md);
    if (nodes.length !== header.length || nodes.some((n, i) => String(n.element.name ?? '') !== header[i])) throw new UserError(`${path}: the columns changed since the file was opened`);
    checkTypes(path, nodes, layout);
    const selected: number[] = [];
    layout.role.forEach((r, c) => {
      if (r !== ROLE_IGNORE) selected.push(c);
    });
    let scan;
    try {
      scan = await parquetScan({ file, metadata: md, columns: selected.map((c) => header[c]), compressors });
    } catch (e) {
      throw corrupt(path, e);
    }
    for (const range of scan.ranges) {
      const rows = range.rowEnd - range.rowStart;
      if (rows === 0) continue;
      const raw: (ArrayLike<unknown> | undefined)[] = new Array(header.length).fill(undefined);
      const values: (ArrayLike<number> | undefined)[] = new Array(header.length).fill(undefined);
      try {
        // One row group at a time; the columns of a group are decoded concurrently.
        const cols = await Promise.all(selected.map((c) => scan.readColumn({ column: header[c], rowStart: range.rowStart, rowEnd: range.rowEnd })));
        selected.forEach((c, k) => {
          const a = cols[k] as ArrayLike<unknown>;
          if (a.length !== rows) throw new Error(`column ${header[c]} decoded ${a.length} values for ${rows} rows`);
          raw[c] = a;
          values[c] = numericColumn(a);
        });
      } catch (e) {
        throw corrupt(path, e);
      }
      const block: RowBlock = { rows, values, firstRow: range.rowStart + 1, describe: (c, r) => describeValue(raw[c]![r]) };
      asm.addBlock(block);
      while (asm.ready.length) yield asm.ready.shift()!;
    }
    asm.finish();
    while (asm.ready.length) yield asm.ready.shift()!;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Write a data file as Parquet (columns seq INT32 when the ids fit else DOUBLE, x1.., y1.. DOUBLE; required,
 * uncompressed — random doubles do not compress — row groups of `rowGroupRows`), atomically.
 */
export async function writeParquet(path: string, chunk: SequenceChunk, opts: { seq?: boolean; rowGroupRows?: number } = {}): Promise<void> {
  if (opts.seq === false && chunk.lengths.length > 1) throw new RangeError('writeParquet: seq: false needs a single sequence');
  const cols = dataColumns(chunk, opts.seq ?? true);
  const buf = parquetWriteBuffer({
    columnData: cols.map((c) => ({ name: c.name, data: c.data, type: c.data instanceof Int32Array ? ('INT32' as const) : ('DOUBLE' as const), nullable: false })),
    rowGroupSize: opts.rowGroupRows ?? DEFAULT_CHUNK_ROWS,
    codec: 'UNCOMPRESSED',
  });
  await writeFileAtomic(path, new Uint8Array(buf));
}

/**
 * Apache Arrow IPC data files (.arrow / .feather v2 / .ipc; file or stream format), docs/method.md §8.
 *
 * Columns and their selection are those of the CSV format (x1..x<dx>, y1..y<dy>, optional integer seq, or
 * explicit names); every numeric Arrow type is accepted (floats, signed/unsigned integers incl. 64-bit).
 * Reading streams record batches from a file handle (the file format reads one batch at a time by offset),
 * so memory is one batch plus one output chunk, independent of the number of rows. Values go through the
 * same ChunkAssembler as the other readers: identical chunks, checks and messages. Row numbers in messages
 * are 1-based record numbers (the first data row is row 1; there is no header line).
 */
import { promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import {
  RecordBatch, RecordBatchReader, Table, Type, Vector, Precision, tableFromArrays, tableToIPC, type DataType, type Field,
} from 'apache-arrow';
import type { SequenceChunk } from './dataset.js';
import type { CSVChunk, CSVOptions, CSVSource } from './csv.js';
import { ChunkAssembler, ColumnLayout, DEFAULT_CHUNK_ROWS, ROLE_IGNORE, RowBlock, resolveColumns } from './csv-general.js';
import { chunkOptions, layoutSource } from './columns.js';
import { UserError } from './errors.js';
import { writeFileAtomic } from './atomic.js';

/**
 * apache-arrow trusts the vector lengths in a file's flatbuffer metadata: a corrupt length makes it build
 * arrays of billions of fields (heap exhaustion, an uncatchable crash). A vector cannot have more elements
 * than its buffer has bytes, so this check, added once to the flatbuffers ByteBuffer that apache-arrow
 * uses (the hoisted `flatbuffers` package), turns such files into an ordinary error; valid files always
 * pass it. If the package cannot be found the reader still works, without this protection.
 */
(function guardFlatbufferVectorLengths(): void {
  try {
    const fb = createRequire(import.meta.url)('flatbuffers') as { ByteBuffer?: { prototype: Record<string, unknown> } };
    const proto = fb.ByteBuffer?.prototype as { __vector_len?: (o: number) => number; capacity(): number; __gloreeGuard?: boolean } | undefined;
    if (!proto || typeof proto.__vector_len !== 'function' || proto.__gloreeGuard) return;
    const original = proto.__vector_len;
    proto.__vector_len = function (this: { capacity(): number }, offset: number): number {
      const n = original.call(this, offset);
      if (!(n >= 0 && n <= this.capacity())) throw new Error(`corrupt metadata (a list of ${n} entries in ${this.capacity()} bytes)`);
      return n;
    };
    proto.__gloreeGuard = true;
  } catch {
    /* flatbuffers not resolvable from here: no guard */
  }
})();

/** Why a column type cannot hold gloree data (null when it can). */
function typeProblem(t: DataType): string | null {
  if (t.typeId === Type.Int) return null;
  if (t.typeId === Type.Float) return null;
  return String(t);
}

function ioMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EISDIR') return 'is a directory';
  if (err?.code === 'EACCES') return 'permission denied';
  return String(err?.message ?? e).replace(/\s+/g, ' ');
}

async function openHandle(path: string): Promise<fsp.FileHandle> {
  try {
    const fh = await fsp.open(path, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return fh;
  } catch (e) {
    throw new UserError(`${path}: cannot read data file (${ioMessage(e)})`);
  }
}

function corrupt(path: string, e: unknown): UserError {
  if (e instanceof UserError) return e;
  return new UserError(`${path}: not a readable Arrow IPC file (truncated or corrupt: ${ioMessage(e)})`);
}

/**
 * The handle as apache-arrow sees it, with a read budget: on some corrupt files (e.g. a negative message
 * length) apache-arrow's reader moves backwards and re-reads the same bytes forever. A sound file is read
 * about once (the file format reads its footer, then each batch), so more than 3× its size plus 64 KiB
 * means a loop, reported as a corrupt file.
 */
function guardedHandle(fh: fsp.FileHandle, size: number) {
  let budget = 3 * size + (1 << 16);
  return {
    fd: fh.fd,
    stat: () => fh.stat(),
    close: () => fh.close(),
    async read(buffer: Uint8Array, offset: number, length: number, position: number) {
      budget -= Math.max(64, length);
      if (budget < 0) throw new Error('the reader is looping over the same bytes (corrupt message lengths)');
      return fh.read(buffer, offset, length, position);
    },
  };
}

/** Open a reader on a handle; library failures become one-line UserErrors. */
async function openReader(path: string, fh: fsp.FileHandle) {
  const st = await fh.stat();
  if (st.size === 0) throw new UserError(`${path}: empty file (expected an Arrow IPC file with columns such as x1,x2,y1,y2,seq)`);
  try {
    const reader = await RecordBatchReader.from(guardedHandle(fh, st.size) as unknown as fsp.FileHandle);
    await reader.open();
    if (!reader.schema) throw new Error('no schema message');
    return reader;
  } catch (e) {
    throw corrupt(path, e);
  }
}

function checkTypes(path: string, fields: Field[], layout: ColumnLayout): void {
  layout.role.forEach((r, c) => {
    if (r === ROLE_IGNORE) return;
    const p = typeProblem(fields[c].type);
    if (p !== null) throw new UserError(`${path}: column ${JSON.stringify(String(fields[c].name ?? ''))} has Arrow type ${p}, expected a numeric (integer or float) column`);
  });
}

/**
 * Numbers of one column of a batch as an array-like of doubles (NaN at nulls), zero-copy for float64
 * columns without nulls.
 */
function numericColumn(v: Vector): ArrayLike<number> {
  const t = v.type as DataType;
  let arr: ArrayLike<number>;
  if (t.typeId === Type.Float && (t as unknown as { precision: Precision }).precision === Precision.HALF) {
    const out = new Float64Array(v.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(v.get(i));
    arr = out;
  } else {
    const a = v.toArray() as ArrayLike<number | bigint>;
    if (a instanceof BigInt64Array || a instanceof BigUint64Array) {
      const out = new Float64Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = Number(a[i]);
      arr = out;
    } else arr = a as ArrayLike<number>;
  }
  if (v.nullCount > 0) {
    const out = Float64Array.from(arr);
    for (let i = 0; i < out.length; i++) if (!v.isValid(i)) out[i] = NaN;
    arr = out;
  }
  return arr;
}

/**
 * Open an Arrow IPC data file. Reads the schema now (missing / duplicate / non-numeric columns are
 * UserErrors); cell problems, sequence checks and truncation are reported while iterating `chunks()`,
 * which makes a fresh pass over the file on every call.
 */
export async function openArrowSource(path: string, opts: CSVOptions = {}): Promise<CSVSource> {
  const { chunkRows, minLength } = chunkOptions('openArrowSource', opts, DEFAULT_CHUNK_ROWS);
  const fh = await openHandle(path);
  let header: string[];
  let layout: ColumnLayout;
  try {
    const reader = await openReader(path, fh);
    const fields = reader.schema.fields;
    header = fields.map((f) => String(f.name ?? '')); // a corrupt schema can have null names
    layout = resolveColumns(header, opts, path);
    checkTypes(path, fields, layout);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return layoutSource(path, header, layout, () => readArrowChunks(path, header, layout, chunkRows, minLength, opts.splitSequences ?? false));
}

async function* readArrowChunks(path: string, header: string[], layout: ColumnLayout, chunkRows: number, minLength: number, split: boolean): AsyncGenerator<CSVChunk> {
  const asm = new ChunkAssembler(path, layout, chunkRows, minLength, split);
  const fh = await openHandle(path);
  try {
    const reader = await openReader(path, fh);
    const fields = reader.schema.fields;
    if (fields.length !== header.length || fields.some((f, i) => String(f.name ?? '') !== header[i])) throw new UserError(`${path}: the columns changed since the file was opened`);
    checkTypes(path, fields, layout);
    const selected: number[] = [];
    layout.role.forEach((r, c) => {
      if (r !== ROLE_IGNORE) selected.push(c);
    });
    let firstRow = 1;
    const it = reader[Symbol.asyncIterator]();
    for (;;) {
      let res: IteratorResult<RecordBatch>;
      try {
        res = await it.next();
      } catch (e) {
        throw corrupt(path, e);
      }
      if (res.done) break;
      const batch = res.value;
      const rows = batch.numRows;
      if (rows === 0) continue;
      const values: (ArrayLike<number> | undefined)[] = new Array(header.length).fill(undefined);
      const vectors: (Vector | undefined)[] = new Array(header.length).fill(undefined);
      try {
        for (const c of selected) {
          const v = batch.getChildAt(c);
          if (!v || v.length !== rows) throw new Error(`column ${header[c]} has ${v?.length ?? 0} values in a batch of ${rows} rows`);
          vectors[c] = v;
          const a = numericColumn(v);
          // A corrupt batch can declare more rows than its buffers hold.
          if (a.length < rows) throw new Error(`column ${header[c]} holds ${a.length} values for a batch of ${rows} rows`);
          values[c] = a;
        }
      } catch (e) {
        throw corrupt(path, e);
      }
      const block: RowBlock = {
        rows,
        values,
        firstRow,
        describe: (c, r) => (vectors[c]!.isValid(r) ? String(vectors[c]!.get(r)) : null),
      };
      asm.addBlock(block);
      firstRow += rows;
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

/** Sequence ids of a chunk: its own `seqIds` when it has them, else consecutive from 0. */
export function chunkSeqIds(chunk: SequenceChunk): Float64Array {
  const ids = (chunk as Partial<CSVChunk>).seqIds;
  if (ids && ids.length === chunk.lengths.length) return Float64Array.from(ids);
  return Float64Array.from({ length: chunk.lengths.length }, (_, k) => k);
}

/** The columns of a data file as flat arrays: seq (per row, unless omitted), x1..x<dx>, y1..y<dy>. */
export function dataColumns(chunk: SequenceChunk, withSeq = true): { name: string; data: Float64Array | Int32Array }[] {
  const { dx, dy, rows } = chunk;
  const cols: { name: string; data: Float64Array | Int32Array }[] = [];
  if (withSeq) {
    const ids = chunkSeqIds(chunk);
    const int32 = ids.every((v) => Number.isInteger(v) && v >= -2147483648 && v <= 2147483647);
    const seq = int32 ? new Int32Array(rows) : new Float64Array(rows);
    let r = 0;
    for (let s = 0; s < chunk.lengths.length; s++) for (let t = 0; t < chunk.lengths[s]; t++) seq[r++] = ids[s];
    cols.push({ name: 'seq', data: seq });
  }
  for (let i = 0; i < dx; i++) {
    const a = new Float64Array(rows);
    for (let r = 0; r < rows; r++) a[r] = chunk.x[r * dx + i];
    cols.push({ name: `x${i + 1}`, data: a });
  }
  for (let i = 0; i < dy; i++) {
    const a = new Float64Array(rows);
    for (let r = 0; r < rows; r++) a[r] = chunk.y[r * dy + i];
    cols.push({ name: `y${i + 1}`, data: a });
  }
  for (const c of cols) {
    if (c.data instanceof Float64Array) {
      for (let r = 0; r < rows; r++) {
        if (!Number.isFinite(c.data[r])) throw new RangeError(`writeDataFile: ${c.name}[${r}] is ${c.data[r]}; refusing to write a non-finite number`);
      }
    }
  }
  return cols;
}

/**
 * Write a data file in Arrow IPC file format (columns seq (Int32 when the ids fit), x1.., y1.. as Float64)
 * in record batches of `batchRows` rows, atomically.
 */
export async function writeArrow(path: string, chunk: SequenceChunk, opts: { seq?: boolean; batchRows?: number; stream?: boolean } = {}): Promise<void> {
  if (opts.seq === false && chunk.lengths.length > 1) throw new RangeError('writeArrow: seq: false needs a single sequence');
  const cols = dataColumns(chunk, opts.seq ?? true);
  const batchRows = opts.batchRows ?? DEFAULT_CHUNK_ROWS;
  const batches: RecordBatch[] = [];
  for (let r0 = 0; r0 < chunk.rows; r0 += batchRows) {
    const r1 = Math.min(chunk.rows, r0 + batchRows);
    const t = tableFromArrays(Object.fromEntries(cols.map((c) => [c.name, c.data.subarray(r0, r1)])));
    batches.push(...t.batches);
  }
  const table = batches.length ? new Table(batches) : tableFromArrays(Object.fromEntries(cols.map((c) => [c.name, c.data])));
  await writeFileAtomic(path, tableToIPC(table, opts.stream ? 'stream' : 'file'));
}

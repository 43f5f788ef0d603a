import { existsSync } from 'node:fs';
import { DuckDBConnection, DuckDBDoubleVector, DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { resolveFormat } from '../open.js';
import { dialect } from '../../sql/dialect.js';
import { EngineColumns, EngineSource, SqlConnection, resolveRelation } from './engine.js';

/**
 * DuckDB, embedded (@duckdb/node-api: the engine's binary ships inside the npm package). The pass queries run
 * over the file where it lies, multi-threaded and out of core:
 *   CSV     read_csv; the reading order is ROW_NUMBER() OVER () − 1 of the scan (DuckDB keeps insertion order by
 *           default: preserve_insertion_order), so a file without a time column keeps its row order;
 *   Parquet read_parquet(file_row_number = true): the row number within the file;
 *   Arrow   DuckDB's core has no Arrow IPC reader (its `arrow` extension is a download), so an Arrow file is read
 *           with apache-arrow and appended to an in-memory DuckDB table with a row-number column; the queries
 *           then run as for the other formats (memory: the whole file, as for the in-process Arrow reader).
 */
export class DuckDBConnectionAdapter implements SqlConnection {
  readonly dialect = dialect('duckdb');
  private constructor(private readonly instance: DuckDBInstance, readonly conn: DuckDBConnection) {}

  static async open(opts: { threads?: number; memoryLimit?: string } = {}): Promise<DuckDBConnectionAdapter> {
    const config: Record<string, string> = {};
    if (opts.threads !== undefined) config.threads = String(opts.threads);
    if (opts.memoryLimit !== undefined) config.memory_limit = opts.memoryLimit;
    const inst = await DuckDBInstance.create(':memory:', config);
    return new DuckDBConnectionAdapter(inst, await inst.connect());
  }

  async query(sql: string): Promise<unknown[][]> {
    const r = await this.conn.runAndReadAll(sql);
    return r.getRows() as unknown[][];
  }

  async *stream(sql: string, batchRows: number): AsyncIterable<unknown[][]> {
    const res = await this.conn.stream(sql);
    let buf: unknown[][] = [];
    for (;;) {
      const chunk = await res.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      buf.push(...(chunk.getRows() as unknown[][]));
      if (buf.length >= batchRows) {
        yield buf;
        buf = [];
      }
    }
    if (buf.length > 0) yield buf;
  }

  async *streamColumns(sql: string, batchRows: number): AsyncIterable<Float64Array[]> {
    void batchRows; // DuckDB's own vectors (2048 rows) are the batches
    const res = await this.conn.stream(sql);
    for (;;) {
      const chunk = await res.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const n = chunk.rowCount, out: Float64Array[] = [];
      for (let c = 0; c < chunk.columnCount; c++) {
        const v = chunk.getColumnVector(c);
        let col: Float64Array;
        if (v instanceof DuckDBDoubleVector) {
          // DOUBLE columns: copy the vector's float64 buffer at once (it is freed with the chunk); NULL → NaN.
          const raw = v as unknown as { items: Float64Array; validity: { itemValid(i: number): boolean } };
          col = raw.items.slice(0, n);
          for (let r = 0; r < n; r++) if (!raw.validity.itemValid(r)) col[r] = NaN;
        } else {
          col = new Float64Array(n);
          for (let r = 0; r < n; r++) {
            const item = v.getItem(r);
            col[r] = item === null ? NaN : Number(item);
          }
        }
        out.push(col);
      }
      yield out;
    }
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

const sqlString = (s: string) => `'${s.split("'").join("''")}'`;

/**
 * Open a CSV, Parquet or Arrow file as an EngineSource on a fresh embedded DuckDB. Columns follow the file
 * readers' rules (x1.., y1.., seq, or the names given); `time` orders the steps instead of the file order.
 */
export async function openDuckDBFile(path: string, sel: EngineColumns & { format?: string; threads?: number; memoryLimit?: string } = {}): Promise<EngineSource> {
  if (!existsSync(path)) throw new UserError(`${path}: no such file`);
  const format = await resolveFormat(path, sel.format);
  const conn = await DuckDBConnectionAdapter.open({ threads: sel.threads, memoryLimit: sel.memoryLimit });
  try {
    let from: string, order: string;
    if (format === 'parquet') {
      from = `read_parquet(${sqlString(path)}, file_row_number = true)`;
      order = 'file_row_number';
    } else if (format === 'csv') {
      from = `(SELECT *, ROW_NUMBER() OVER () - 1 AS file_row_number FROM read_csv(${sqlString(path)}, header = true)) AS __file`;
      order = 'file_row_number';
    } else if (format === 'arrow') {
      await loadArrow(conn, path);
      from = '__arrow';
      order = '__row';
    } else throw new UserError(`${path}: format ${format} is not supported by the DuckDB engine (csv, parquet, arrow)`);
    let cols: { name: string; type: string }[];
    try {
      cols = (await conn.query(`DESCRIBE SELECT * FROM ${from}`)).map((r) => ({ name: String(r[0]), type: String(r[1]) }));
    } catch (e) {
      throw new UserError(`${path}: DuckDB cannot read the file as ${format}: ${(e as Error).message.split('\n')[0]}`);
    }
    cols = cols.filter((c) => c.name !== order);
    const rel = resolveRelation(path, from, cols, sel, order);
    return new EngineSource(conn, rel);
  } catch (e) {
    await conn.close();
    throw e;
  }
}

async function loadArrow(conn: DuckDBConnectionAdapter, path: string): Promise<void> {
  let table;
  try {
    table = tableFromIPC(await readFile(path));
  } catch (e) {
    throw new UserError(`${path}: not a readable Arrow IPC file (${(e as Error).message})`);
  }
  const fields = table.schema.fields;
  const numeric = fields.map((f) => /Int|Float|Decimal/.test(String(f.type)));
  const typeOf = (k: number) => (numeric[k] ? (/Int/.test(String(fields[k].type)) ? 'BIGINT' : 'DOUBLE') : 'VARCHAR');
  const q = conn.dialect.ident;
  await conn.query(`CREATE TABLE __arrow (__row BIGINT, ${fields.map((f, k) => `${q(f.name)} ${typeOf(k)}`).join(', ')})`);
  const app = await conn.conn.createAppender('__arrow');
  const cols = fields.map((_, k) => table.getChildAt(k)!);
  for (let r = 0; r < table.numRows; r++) {
    app.appendBigInt(BigInt(r));
    for (let k = 0; k < cols.length; k++) {
      const v = cols[k].get(r);
      if (v === null || v === undefined) app.appendNull();
      else if (typeOf(k) === 'BIGINT') app.appendBigInt(BigInt(v));
      else if (typeOf(k) === 'DOUBLE') app.appendDouble(Number(v));
      else app.appendVarchar(String(v));
    }
    app.endRow();
  }
  app.closeSync();
}

import { statSync } from 'node:fs';
import { UserError } from '../errors.js';
import { resolveFormat } from '../open.js';
import type { EngineColumns, EngineSource } from './engine.js';

/**
 * Which engine reads the rows of a fit, and opening it (docs/sql-engines.md). The engines are loaded on demand
 * (DuckDB's binary is 70 MB; a fit of a small CSV file should not pay for loading it).
 *
 *   process   the in-process readers (CSV, Arrow, Parquet);
 *   duckdb    embedded DuckDB reads the file (CSV, Parquet, Arrow) multi-threaded and streams ordered whole
 *             sequences into the in-process passes (the hybrid: it won the bench, docs/sql-engines.md "Speed";
 *             `sqlPasses` runs the moment passes as DuckDB aggregate queries instead, src/learn/engine-passes.ts);
 *   postgres  a `postgres://…` connection string plus a table: the rows stream from the server through a cursor
 *             (`sqlPasses`: the moment passes run on the server as aggregate queries);
 *   auto      postgres for a connection string, duckdb for a Parquet file of at least AUTO_DUCKDB_BYTES, else process.
 */
export type EngineName = 'process' | 'duckdb' | 'postgres';
export const ENGINES = ['auto', 'process', 'duckdb', 'postgres'] as const;

/**
 * Parquet files from this size on go through DuckDB under `auto`: below it the 0.2–0.4 s of loading DuckDB is
 * not paid back (bench/sql.ts measures the crossover; at 1e6 rows ≈ 20 MB DuckDB is already ahead).
 */
export const AUTO_DUCKDB_BYTES = 64 * 2 ** 20;

export function isConnectionString(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** The engine for `data` under the requested one (`auto` resolved); a UserError for an impossible pair. */
export async function chooseEngine(data: string, requested: string | undefined, format?: string): Promise<EngineName> {
  const url = isConnectionString(data);
  const r = requested ?? 'auto';
  if (!(ENGINES as readonly string[]).includes(r)) throw new UserError(`--engine: expected one of ${ENGINES.join(', ')}, got ${JSON.stringify(r)}`);
  if (url) {
    if (r !== 'auto' && r !== 'postgres') throw new UserError(`--engine ${r} reads files; a postgres:// connection string needs --engine postgres (or auto)`);
    return 'postgres';
  }
  if (r === 'postgres') throw new UserError(`--engine postgres needs a connection string (postgres://host/db) in place of the data file, and --table`);
  if (r !== 'auto') return r as EngineName;
  try {
    if ((await resolveFormat(data, format)) === 'parquet' && statSync(data).size >= AUTO_DUCKDB_BYTES) return 'duckdb';
  } catch {
    // A missing or unreadable file: the in-process reader says so in its own words.
  }
  return 'process';
}

export interface EngineOpenOptions extends EngineColumns {
  table?: string;
  format?: string;
}

/**
 * Open `data` on `engine` ('duckdb' or 'postgres') and check it as the file readers do, with the same kind of
 * one-line UserErrors naming the file or table, the column and the first offending row: missing columns and
 * non-numeric types when opening; NULLs and NaN/Infinity in one aggregate query before any row is streamed
 * (`checkColumns`); repeated times and non-contiguous sequences while streaming (`chunks`); sequences too short
 * in the learner's first pass. (The full pass 1 as one aggregate, `inputPass`, adds a sort of the whole relation
 * for its window functions: on one machine that costs more than the in-process pass it would replace.)
 */
export async function openEngineSource(data: string, engine: 'duckdb' | 'postgres', o: EngineOpenOptions): Promise<EngineSource> {
  const sel: EngineColumns = { x: o.x, y: o.y, seq: o.seq, time: o.time };
  let src: EngineSource;
  if (engine === 'postgres') {
    if (o.table === undefined) throw new UserError('a postgres:// source needs --table TABLE (or SCHEMA.TABLE) and --time COLUMN');
    if (o.time === undefined) throw new UserError('--engine postgres: a table has no row order; give the time column (--time C) that orders the steps of a sequence');
    const { openPostgresTable } = await import('./postgres.js');
    src = await openPostgresTable(data, o.table, sel);
  } else {
    if (o.table !== undefined) throw new UserError('--table names a table of a postgres:// source; a file is read as a whole');
    const { openDuckDBFile } = await import('./duckdb.js');
    src = await openDuckDBFile(data, { ...sel, format: o.format });
  }
  try {
    await src.checkColumns();
  } catch (e) {
    await src.conn.close().catch(() => undefined);
    throw e;
  }
  return src;
}

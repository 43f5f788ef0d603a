import type { CSVSource } from '../io/csv.js';
import type { DataSource } from '../io/dataset.js';
import { chooseEngine, EngineName, isConnectionString, openEngineSource } from '../io/engines/open.js';
import { openDataSource } from '../io/open.js';
import { UsageError } from './io.js';
import { cliChunkRows } from './predictions.js';
import { columns } from './report-command.js';

/**
 * `gloree fit DATA [--engine auto|process|duckdb|postgres] [--table T] [--time C]`: the data source of a fit on
 * the engine chosen (src/io/engines/open.ts). Every engine yields a DataSource of ordered whole sequences, so the
 * learner runs the same passes on it (those with a SQL form as aggregate queries in the engine when `sqlPasses`,
 * src/learn/engine-passes.ts); `close` releases the engine's connection.
 */
export interface EngineFlags {
  engine?: string;
  table?: string;
  time?: string;
  x?: string;
  y?: string;
  seq?: string;
  format?: string;
  sqlPasses?: string;
}

export async function openFitSource(data: string, o: EngineFlags, minLength: number): Promise<{ source: CSVSource & DataSource; engine: EngineName; close: () => Promise<void>; pieces?: boolean }> {
  const engine = await chooseEngine(data, o.engine, o.format);
  if (engine === 'process') {
    if (o.table !== undefined) throw new UsageError('--table names a table of a postgres:// source (a file is read as a whole)');
    if (o.time !== undefined) throw new UsageError('--time orders the rows through an engine: add --engine duckdb (the in-process readers take the file order)');
    if (o.sqlPasses === 'on') throw new UsageError('--sql-passes on runs the moment passes as queries in an engine: add --engine duckdb');
    const opts = { x: columns(o.x), y: columns(o.y), seq: o.seq, minLength, requireY: true, format: o.format };
    const source = await openDataSource(data, opts);
    // One recording (no seq column): read in pieces of GLOREE_CHUNK_ROWS (default 65 536) rows, so the learners
    // that stream pieces (src/learn/pieces.ts) keep memory independent of its length. Files with a seq column keep
    // their whole-sequence chunks (the same chunks, hence the same model bits, as before).
    if (source.columns?.seq === undefined) {
      return { source: await openDataSource(data, { ...opts, chunkRows: cliChunkRows(), splitSequences: true }), engine, close: async () => undefined, pieces: true };
    }
    return { source, engine, close: async () => undefined };
  }
  if (engine === 'postgres' && o.format !== undefined) throw new UsageError('--format applies to files, not to a postgres:// table');
  const src = await openEngineSource(data, engine, { x: columns(o.x), y: columns(o.y), seq: o.seq, time: o.time, table: o.table, format: o.format });
  // An EngineSource has what the fit command reads of a file source: dx, dy, name, columns, chunks.
  return { source: src as unknown as CSVSource & DataSource, engine, close: () => src.conn.close() };
}

/** The data argument is a connection string (it is then no file: no output can be the same file). */
export const isDataURL = isConnectionString;

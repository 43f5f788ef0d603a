import pg from 'pg';
import { UserError } from '../errors.js';
import { dialect } from '../../sql/dialect.js';
import { EngineColumns, EngineSource, SqlConnection, redact, resolveRelation } from './engine.js';

/**
 * PostgreSQL (and through it the PostgreSQL-compatible engines: Citus, Greenplum, Redshift) with the `pg`
 * client. A table has no reading order, so the steps of a sequence are ordered by the time column (`--time`,
 * required) and the sequences by their first time, then their id (this numbering decides the even / odd halves
 * of the rank rule and the strided samples; a file exported `ORDER BY seq, time` has the same numbering when
 * its sequences start at the same time).
 *
 * Credentials: the connection string goes to the client only. Every message and the source's `name` carry the
 * URL without its user-info, and any text the server or the client returns is stripped of the password.
 */
export class PostgresConnection implements SqlConnection {
  readonly dialect = dialect('postgres');
  private constructor(private readonly client: pg.Client, private readonly scrub: (s: string) => string) {}

  static async open(url: string): Promise<PostgresConnection> {
    const scrub = scrubber(url);
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined); // reported by the failing query instead
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw new UserError(`${safeURL(url)}: cannot connect: ${scrub((e as Error).message)}`);
    }
    return new PostgresConnection(client, scrub);
  }

  async query(sql: string): Promise<unknown[][]> {
    try {
      return (await this.client.query({ text: sql, rowMode: 'array' })).rows as unknown[][];
    } catch (e) {
      throw new Error(this.scrub((e as Error).message));
    }
  }

  /** Rows through a server-side cursor in one transaction (memory: one batch). */
  async *stream(sql: string, batchRows: number): AsyncIterable<unknown[][]> {
    await this.query('BEGIN');
    try {
      await this.query(`DECLARE __gloree_rows NO SCROLL CURSOR FOR ${sql}`);
      for (;;) {
        const rows = await this.query(`FETCH ${batchRows} FROM __gloree_rows`);
        if (rows.length === 0) break;
        yield rows;
      }
    } finally {
      await this.query('COMMIT').catch(() => undefined);
    }
  }

  async *streamColumns(sql: string, batchRows: number): AsyncIterable<Float64Array[]> {
    for await (const rows of this.stream(sql, batchRows)) {
      const nc = rows[0].length;
      yield Array.from({ length: nc }, (_, c) => Float64Array.from(rows, (r) => (r[c] === null ? NaN : Number(r[c]))));
    }
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

/** The URL without user-info (user and password), for messages and model files. */
export function safeURL(url: string): string {
  return redact(url).replace(/\?.*$/, '');
}

function scrubber(url: string): (s: string) => string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // Not a URL (a libpq key=value string): redact() still removes password=…
  }
  return (s) => {
    let t = redact(s);
    if (password.length > 0) t = t.split(password).join('***');
    return t;
  };
}

/** "schema.table" or "table" → quoted name and the (schema, table) pair for the catalogue lookup. */
function tableName(t: string, q: (s: string) => string): { sql: string; schema?: string; table: string } {
  const parts = t.split('.');
  if (parts.length > 2 || parts.some((p) => p.length === 0)) throw new UserError(`--table ${JSON.stringify(t)}: expected TABLE or SCHEMA.TABLE`);
  return parts.length === 2 ? { sql: `${q(parts[0])}.${q(parts[1])}`, schema: parts[0], table: parts[1] } : { sql: q(parts[0]), table: parts[0] };
}

/**
 * Open `table` on the server at `url` as an EngineSource. Columns follow the file readers' rules (x1.., y1..,
 * seq, or the names given); `time` is required.
 */
export async function openPostgresTable(url: string, table: string, sel: EngineColumns = {}): Promise<EngineSource> {
  const conn = await PostgresConnection.open(url);
  const name = `${safeURL(url)} table ${table}`;
  try {
    const t = tableName(table, conn.dialect.ident);
    const lit = (s: string) => `'${s.split("'").join("''")}'`;
    const rows = await conn.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ${lit(t.table)}` +
        `${t.schema !== undefined ? ` AND table_schema = ${lit(t.schema)}` : ' AND table_schema = ANY (current_schemas(false))'} ORDER BY ordinal_position`,
    );
    if (rows.length === 0) throw new UserError(`${name}: no such table (or it has no columns)`);
    const rel = resolveRelation(name, t.sql, rows.map((r) => ({ name: String(r[0]), type: String(r[1]) })), sel);
    return new EngineSource(conn, rel);
  } catch (e) {
    await conn.close().catch(() => undefined);
    if (e instanceof UserError) throw e;
    throw new UserError(`${name}: ${redact((e as Error).message)}`);
  }
}

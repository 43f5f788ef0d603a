import { DataSource, SequenceChunk, makeChunk } from '../dataset.js';
import { UserError } from '../errors.js';
import { resolveColumns } from '../columns.js';
import { Dialect } from '../../sql/dialect.js';
import { PassDefinition, ResultRow } from '../../sql/definition.js';
import { Relation, passSQL } from '../../sql/generate.js';
import { inputPassDefinition } from '../../sql/passes.js';
import { InputPassResult, readInputPass } from '../../sql/statistics.js';

/**
 * What the DuckDB and PostgreSQL engines share: column resolution with the same rules and messages as the file
 * readers (src/io/columns.ts), the input checks of pass 1 turned into one-line UserErrors, running a pass
 * definition, and streaming ordered whole sequences back as chunks (for the passes that cannot be one SQL
 * aggregate: the output-layer sums need the RNN recursion, sequential in time, and the refinement needs rows).
 */

/** The primitive an engine supplies: run SQL, streaming rows (arrays of values: number, bigint, string or null). */
export interface SqlConnection {
  readonly dialect: Dialect;
  /** All rows of a query. */
  query(sql: string): Promise<unknown[][]>;
  /** Rows of a query in batches (memory bounded by the batch). */
  stream(sql: string, batchRows: number): AsyncIterable<unknown[][]>;
  /** A query whose columns are all numeric, in batches of columns (NULL → NaN). */
  streamColumns(sql: string, batchRows: number): AsyncIterable<Float64Array[]>;
  close(): Promise<void>;
}

export interface EngineColumns {
  x?: string[];
  y?: string[];
  seq?: string;
  time?: string;
}

/** An opened relation on an engine: the passes of a fit run against it. */
export class EngineSource implements DataSource {
  readonly dx: number;
  readonly dy: number;
  readonly inMemory = false;
  readonly columns: { x: readonly string[]; y: readonly string[]; seq?: string };
  constructor(
    readonly conn: SqlConnection,
    readonly relation: Relation,
    /** Rows per streamed chunk (whole sequences: a chunk is cut at the first sequence start past this). */
    readonly chunkRows = 65536,
    /** Stream only the sequences with index ≡ 0 (mod stride) (the refinement's bounded sample). */
    readonly stride = 1,
  ) {
    this.dx = relation.x.length;
    this.dy = relation.y.length;
    this.columns = { x: relation.x, y: relation.y, ...(relation.seq !== undefined ? { seq: relation.seq } : {}) };
  }
  get name(): string {
    return this.relation.name;
  }

  /**
   * Run one pass definition; its result rows in group-key order. PostgreSQL takes at most 1664 entries in a select
   * list: a pass with more aggregates (the control variate's normal equations from dx = 4 on) runs as several
   * queries over the same groups, each with a share of the aggregates, their values joined in order.
   */
  async run(def: PassDefinition): Promise<ResultRow[]> {
    const per = this.conn.dialect.name === 'postgres' ? 1600 : Infinity;
    if (def.aggregates.length <= per) return this.runOne(def);
    const parts: ResultRow[][] = [];
    for (let k = 0; k < def.aggregates.length; k += per) parts.push(await this.runOne({ ...def, aggregates: def.aggregates.slice(k, k + per) }));
    if (parts.some((p) => p.length !== parts[0].length)) throw new Error(`sql pass ${def.name}: the parts of a split query returned different groups`);
    return parts[0].map((r, i) => ({ keys: r.keys, n: r.n, values: Float64Array.from(parts.flatMap((p) => Array.from(p[i].values))) }));
  }

  private async runOne(def: PassDefinition): Promise<ResultRow[]> {
    const sql = passSQL(def, this.relation, this.conn.dialect);
    let raw: unknown[][];
    // DuckDB's parallel aggregates add the per-thread partial sums in the order the threads finish, so the model
    // bits changed from run to run (≈1e-13). One thread per aggregate query adds in scan order: the same data and
    // seed give the same model file, as for the in-process engine. (PostgreSQL's plain SUM here is serial.)
    const serial = this.conn.dialect.name === 'duckdb';
    let threads: unknown;
    try {
      if (serial) {
        threads = (await this.conn.query(`SELECT current_setting('threads')`))[0]?.[0];
        await this.conn.query('SET threads = 1');
      }
      raw = await this.conn.query(sql);
    } catch (e) {
      throw new UserError(`${this.name}: the ${def.name} query failed: ${redact((e as Error).message)}`, { file: this.name });
    } finally {
      if (serial && threads !== undefined) await this.conn.query(`SET threads = ${Number(threads)}`);
    }
    const nk = def.groupBy.length;
    return raw.map((r) => {
      const keys: ResultRow['keys'] = {};
      def.groupBy.forEach((k, i) => (keys[k] = toNumber(r[i])));
      return { keys, n: toNumber(r[nk]), values: Float64Array.from(r.slice(nk + 1), (v) => (v === null || v === undefined ? NaN : toNumber(v))) };
    });
  }

  /** Pass 1 with every input check of the file readers (see `checkInputPass`). */
  async inputPass(minLength = 1): Promise<InputPassResult> {
    // The shift only guards rounding (src/input/fit.ts): the mean of the first rows is close enough.
    const q = this.conn.dialect.ident;
    const head = await this.conn.query(`SELECT ${this.relation.x.map((c) => `AVG(${this.conn.dialect.toDouble(q(c))})`).join(', ')} FROM (SELECT * FROM ${this.relation.from} LIMIT 1000) h`);
    const shift = head[0].map((v) => (v === null || !Number.isFinite(toNumber(v)) ? 0 : toNumber(v)));
    const def = inputPassDefinition(this.dx, this.dy, shift);
    const res = readInputPass(def, await this.run(def), this.dx, this.dy, shift);
    await checkInputPass(this, res, minLength);
    return res;
  }

  /**
   * Where the first row (in step order) satisfying `cond` (SQL over the relation's raw columns) is: "data row N"
   * of a file (its reading order, 1-based, as the file readers count) or the sequence id and time of a table row.
   */
  async locate(cond: string): Promise<{ text: string; row?: number }> {
    const q = this.conn.dialect.ident, rel = this.relation;
    const order = rel.time !== undefined ? q(rel.time) : rel.order!;
    const seq = rel.seq !== undefined ? q(rel.seq) : 'NULL';
    try {
      const r = (await this.conn.query(`SELECT ${seq}, ${order} FROM ${rel.from} WHERE ${cond} ORDER BY ${order} LIMIT 1`))[0];
      if (r === undefined) return { text: '' };
      if (rel.time === undefined) {
        const row = toNumber(r[1]) + 1; // the reading orders are 0-based row numbers
        return { text: ` (first at data row ${row})`, row };
      }
      const seqText = rel.seq !== undefined ? `${rel.seq} = ${String(r[0])}, ` : '';
      return { text: ` (first at ${seqText}${rel.time} = ${String(r[1])})` };
    } catch {
      return { text: '' };
    }
  }

  /**
   * Ordered whole sequences (chunks of ≥ `chunkRows` rows, cut at a sequence start), checked on the way as the
   * file readers check: in reading order a sequence id must not reappear after other sequences; with a time
   * column no two steps of a sequence may share a time (UserErrors naming the data row or the sequence and time).
   * NULLs and non-finite values are `checkColumns`' job (one aggregate before the first pass).
   */
  async *chunks(): AsyncGenerator<SequenceChunk> {
    const { dialect: d } = this.conn, rel = this.relation, q = d.ident;
    const order = rel.time !== undefined ? q(rel.time) : rel.order!;
    const seq = rel.seq !== undefined ? q(rel.seq) : '0';
    const vals = [...rel.x, ...rel.y].map((c) => d.toDouble(q(c)));
    const plain = rel.time === undefined && this.stride === 1 && this.conn.dialect.name === 'duckdb';
    // In reading order a plain scan keeps the file order (DuckDB preserves insertion order), so no sort and no
    // sequence numbering are needed; a time column or a sample needs both. Every column is streamed as DOUBLE.
    const tie = rel.time !== undefined ? `, CASE WHEN LAG(__ord) OVER (PARTITION BY __sidx ORDER BY __ord) = __ord THEN 1 ELSE 0 END` : '';
    const sql = plain
      ? `SELECT ${d.toDouble(seq)}, ${vals.join(', ')} FROM ${rel.from}`
      : `WITH __src AS (SELECT ${seq} AS __seq, ${order} AS __ord, ${vals.map((v, i) => `${v} AS v${i}`).join(', ')} FROM ${rel.from}),\n` +
        `__sq AS (SELECT __seq AS __k, ROW_NUMBER() OVER (ORDER BY MIN(__ord), __seq) - 1 AS __sidx FROM __src GROUP BY __seq)\n` +
        `SELECT ${d.toDouble('__sidx')}${tie}, ${vals.map((_, i) => `v${i}`).join(', ')} FROM __src JOIN __sq ON __src.__seq = __sq.__k` +
        `${this.stride > 1 ? ` WHERE __sidx % ${this.stride} = 0` : ''} ORDER BY __sidx, __ord`;
    const { dx, dy } = this, cap = this.chunkRows, c0 = tie ? 2 : 1;
    const seen = plain && rel.seq !== undefined ? new Set<number>() : null;
    // Chunk buffers grow by doubling; a chunk is cut at the first sequence start once it holds ≥ chunkRows rows.
    let x = new Float64Array(cap * dx), y = new Float64Array(cap * dy), lengths: number[] = [], rows = 0, cur = NaN, streamed = 0;
    const emit = (): SequenceChunk => {
      const c = makeChunk(dx, dy, x.slice(0, rows * dx), y.slice(0, rows * dy), lengths);
      lengths = [];
      rows = 0;
      return c;
    };
    for await (const cols of this.conn.streamColumns(sql, 16384)) {
      const sid = cols[0], n = sid.length;
      if (tie) for (let r = 0; r < n; r++) if (cols[1][r] !== 0) await this.orderError();
      for (let r = 0; r < n; r++) {
        if (sid[r] !== cur) {
          if (seen) {
            if (seen.has(sid[r])) {
              throw new UserError(`${this.name}: sequence id ${sid[r]} appears again at data row ${streamed + r + 1} after other sequences; the rows of a sequence must be contiguous in the file: sort it by sequence, or give the time column (--time)`, { file: this.name, row: streamed + r + 1, column: rel.seq });
            }
            seen.add(sid[r]);
          }
          if (rows >= cap) yield emit();
          lengths.push(0);
          cur = sid[r];
        }
        if (rows * dx >= x.length) {
          const nx = new Float64Array(2 * x.length), ny = new Float64Array(2 * Math.max(1, y.length));
          nx.set(x);
          ny.set(y);
          x = nx;
          y = ny;
        }
        lengths[lengths.length - 1]++;
        for (let a = 0; a < dx; a++) x[rows * dx + a] = cols[c0 + a][r];
        for (let i = 0; i < dy; i++) y[rows * dy + i] = cols[c0 + dx + i][r];
        rows++;
      }
      streamed += n;
    }
    if (lengths.length > 0) yield emit();
  }

  /** A repeated time value within a sequence: locate the first and throw. */
  private async orderError(): Promise<never> {
    const rel = this.relation, q = this.conn.dialect.ident, t = q(rel.time!), s = rel.seq !== undefined ? q(rel.seq) : '0';
    const r = (await this.conn.query(`SELECT __s, __t FROM (SELECT ${s} AS __s, ${t} AS __t, LAG(${t}) OVER (PARTITION BY ${s} ORDER BY ${t}) AS __p FROM ${rel.from}) __w WHERE __p = __t ORDER BY __s, __t LIMIT 1`))[0];
    const at = r ? ` (first at ${rel.seq !== undefined ? `${rel.seq} = ${String(r[0])}, ` : ''}${rel.time} = ${String(r[1])})` : '';
    throw new UserError(`${this.name}: a step repeats the time column ${JSON.stringify(rel.time)} value of the previous step of its sequence${at}; the steps of a sequence must be strictly ordered (one row per time)`, { file: this.name, column: rel.time });
  }

  /**
   * The input checks that need no order, as one aggregate without windows (a single parallel scan): NULLs in
   * the sequence, time and value columns, NaN/±Infinity values, no rows. One-line UserErrors as `checkInputPass`.
   */
  async checkColumns(): Promise<void> {
    const d = this.conn.dialect, q = d.ident, rel = this.relation;
    const nulls = (e: string) => `SUM(CASE WHEN ${e} IS NULL THEN 1 ELSE 0 END)`;
    const cols = [...rel.x, ...rel.y];
    const parts = ['COUNT(*)', rel.seq !== undefined ? nulls(q(rel.seq)) : '0', rel.time !== undefined ? nulls(q(rel.time)) : '0'];
    for (const c of cols) parts.push(nulls(q(c)), `SUM(CASE WHEN ${d.notFinite(d.toDouble(q(c)))} THEN 1 ELSE 0 END)`);
    let r: unknown[];
    try {
      r = (await this.conn.query(`SELECT ${parts.join(', ')} FROM ${rel.from}`))[0];
    } catch (e) {
      throw new UserError(`${this.name}: the input check query failed: ${redact((e as Error).message)}`, { file: this.name });
    }
    const v = r.map((u) => (u === null ? 0 : toNumber(u)));
    const res = { rows: v[0], nullSeq: v[1], nullOrder: v[2], nulls: new Map<string, number>(), nonFinite: new Map<string, number>() };
    cols.forEach((_, k) => {
      const key = k < rel.x.length ? `x${k}` : `y${k - rel.x.length}`;
      res.nulls.set(key, v[3 + 2 * k]);
      res.nonFinite.set(key, v[4 + 2 * k]);
    });
    await checkValues(this, res);
  }

  /** The same relation streamed as a bounded sample: every `stride`-th sequence. */
  sample(stride: number): EngineSource {
    return new EngineSource(this.conn, this.relation, this.chunkRows, stride);
  }
}

export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === null || v === undefined) return NaN;
  return Number(String(v));
}

/** Remove `user:password@` from any URL in a message (credentials never reach messages, logs or model files). */
export function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1').replace(/password=[^\s&]*/gi, 'password=***');
}

/** A numeric SQL type name (DuckDB / PostgreSQL spellings). */
export function isNumericType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*|INT[248]?|FLOAT[48]|DOUBLE PRECISION)$/i.test(type.trim());
}

const ORDER_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*|NUMERIC.*|INT[248]?|FLOAT[48]|DOUBLE PRECISION|DATE|TIMESTAMP.*|TIME.*)$/i;

/**
 * The relation's columns from its (name, type) list, with the file readers' selection rules (explicit names, else
 * x1.., y1.., and "seq" if present) and messages; selected value columns must be numeric, the time column
 * numeric or temporal.
 */
export function resolveRelation(name: string, from: string, columns: { name: string; type: string }[], sel: EngineColumns, order?: string): Relation {
  const header = columns.map((c) => c.name);
  const layout = resolveColumns(header, { x: sel.x, y: sel.y, seq: sel.seq, requireY: true }, name);
  const typeOf = new Map(columns.map((c) => [c.name, c.type]));
  for (const c of [...layout.x, ...layout.y]) {
    const t = typeOf.get(c)!;
    if (!isNumericType(t)) throw new UserError(`${name}: column ${JSON.stringify(c)} has type ${t}; expected a number`, { file: name, column: c });
  }
  if (sel.time !== undefined) {
    const t = typeOf.get(sel.time);
    if (t === undefined) throw new UserError(`${name}: missing column ${JSON.stringify(sel.time)} (the --time column; have: ${header.slice(0, 20).join(',')})`, { file: name, column: sel.time });
    if (!ORDER_TYPES.test(t)) throw new UserError(`${name}: time column ${JSON.stringify(sel.time)} has type ${t}; expected a number, date or timestamp`, { file: name, column: sel.time });
  }
  if (layout.seq !== undefined && !/INT|DECIMAL|NUMERIC/i.test(typeOf.get(layout.seq)!)) {
    throw new UserError(`${name}: sequence column ${JSON.stringify(layout.seq)} has type ${typeOf.get(layout.seq)}; expected an integer sequence id`, { file: name, column: layout.seq });
  }
  if (sel.time === undefined && order === undefined) {
    throw new UserError(`${name}: a table has no row order; give the time column (--time C) that orders the steps of a sequence`);
  }
  return { from, x: layout.x, y: layout.y, seq: layout.seq, time: sel.time, order, name };
}

/**
 * Pass 1's checks as one-line UserErrors (the same conditions as the file readers and src/learn/data-passes.ts),
 * with `file` (the file or the table, credentials removed), `column` and, for a file, the first offending data row.
 */
export async function checkInputPass(src: EngineSource, r: InputPassResult, minLength: number): Promise<void> {
  await checkValues(src, r);
  const rel = src.relation, name = src.name;
  const fail = (column: string | undefined, text: string): never => {
    throw new UserError(`${name}: ${text}`, { file: name, ...(column !== undefined ? { column } : {}) });
  };
  if (r.ties > 0) {
    const what = rel.time !== undefined ? `time column ${JSON.stringify(rel.time)}` : 'reading order';
    fail(rel.time, `${r.ties} row(s) repeat the ${what} value of the previous step of their sequence; the steps of a sequence must be strictly ordered (one row per time)`);
  }
  if (r.gaps > 0) {
    fail(rel.seq, `a sequence id appears again after other sequences (${r.gaps} time(s)); the rows of a sequence must be contiguous in the file: sort it by sequence, or give the time column (--time)`);
  }
  if (r.minLength < minLength) fail(rel.seq, `a sequence has ${r.minLength} step(s); at least ${minLength} are needed (the recurrence is read off consecutive steps)`);
}

type ValueCounts = Pick<InputPassResult, 'rows' | 'nullSeq' | 'nullOrder' | 'nulls' | 'nonFinite'>;

/** NULLs, non-finite values and no rows as one-line UserErrors naming the column and the first offending row. */
async function checkValues(src: EngineSource, r: ValueCounts): Promise<void> {
  const rel = src.relation, name = src.name, q = src.conn.dialect.ident;
  const colName = (c: string) => (c.startsWith('x') ? rel.x[Number(c.slice(1))] : rel.y[Number(c.slice(1))]);
  const fail = async (column: string | undefined, cond: string | null, text: (where: string) => string): Promise<never> => {
    const at = cond !== null ? await src.locate(cond) : { text: '' };
    throw new UserError(`${name}: ${text(at.text)}`, { file: name, ...(column !== undefined ? { column } : {}), ...(at.row !== undefined ? { row: at.row } : {}) });
  };
  if (r.nullSeq > 0) await fail(rel.seq, `${q(rel.seq!)} IS NULL`, (w) => `sequence column ${JSON.stringify(rel.seq)} has ${r.nullSeq} NULL value(s)${w}; expected an integer sequence id on every row`);
  if (r.nullOrder > 0) await fail(rel.time, null, () => `time column ${JSON.stringify(rel.time)} has ${r.nullOrder} NULL value(s); expected a time on every row`);
  for (const [c, k] of r.nulls) {
    const col = colName(c);
    if (k > 0) await fail(col, `${q(col)} IS NULL`, (w) => `column ${JSON.stringify(col)} has ${k} NULL value(s)${w}; expected a number on every row`);
  }
  for (const [c, k] of r.nonFinite) {
    const col = colName(c);
    if (k > 0) await fail(col, src.conn.dialect.notFinite(src.conn.dialect.toDouble(q(col))), (w) => `column ${JSON.stringify(col)} has ${k} non-finite value(s) (NaN or Infinity)${w}; expected finite numbers`);
  }
  if (r.rows === 0) await fail(undefined, null, () => 'no data rows');
}

/**
 * SQL dialects the pass queries are printed in. DuckDB and PostgreSQL are run by the test suite
 * (test/sql-duckdb.test.ts, test/sql-postgres.test.ts); Spark SQL and Trino are generated only: the queries use
 * nothing beyond window functions (LAG/LEAD/ROW_NUMBER over a named WINDOW), CASE and plain aggregates, but no
 * engine of either kind runs here, so they are untested.
 */
export type DialectName = 'duckdb' | 'postgres' | 'spark' | 'trino';
export const DIALECTS: readonly DialectName[] = ['duckdb', 'postgres', 'spark', 'trino'];

export interface Dialect {
  readonly name: DialectName;
  /** Run against a real engine by the tests of this repository. */
  readonly tested: boolean;
  /** A quoted identifier. */
  ident(name: string): string;
  /** A float64 literal that round-trips exactly (shortest decimal form, cast to the engine's double). */
  num(v: number): string;
  /** A column or expression cast to float64. */
  toDouble(expr: string): string;
  /** A boolean SQL condition: `expr` is NaN or ±Infinity. */
  notFinite(expr: string): string;
  /** Appended to each feature stage's SELECT so the planner computes the stage once instead of inlining it. */
  readonly stageFence?: string;
}

function quoted(q: string): (name: string) => string {
  return (name) => q + name.split(q).join(q + q) + q;
}

function literal(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`sql: constant ${v} is not finite (an earlier stage produced NaN or Infinity)`);
  // String(v) is the shortest decimal that parses back to the same double (ECMAScript Number::toString).
  return String(v);
}

const duckdb: Dialect = {
  name: 'duckdb',
  tested: true,
  ident: quoted('"'),
  num: (v) => `CAST(${literal(v)} AS DOUBLE)`,
  toDouble: (e) => `CAST(${e} AS DOUBLE)`,
  notFinite: (e) => `NOT isfinite(${e})`,
};

const postgres: Dialect = {
  name: 'postgres',
  tested: true,
  ident: quoted('"'),
  num: (v) => `(${literal(v)})::float8`,
  toDouble: (e) => `CAST(${e} AS DOUBLE PRECISION)`,
  notFinite: (e) => `${e} IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)`,
  // PostgreSQL inlines a CTE that is read once, substituting each feature's expression into every later reference:
  // the Hermite stages read the score features dozens of times, and the expression tree explodes (the explicit
  // order-3 moment on 2000 rows: 26 s and 2.8 GB on the server; 60 ms with the fence). OFFSET 0 keeps a stage a
  // subquery of its own in every PostgreSQL version and in the PostgreSQL-compatible engines.
  stageFence: '\n  OFFSET 0',
};

const spark: Dialect = {
  name: 'spark',
  tested: false,
  ident: quoted('`'),
  num: (v) => `CAST(${literal(v)} AS DOUBLE)`,
  toDouble: (e) => `CAST(${e} AS DOUBLE)`,
  notFinite: (e) => `(isnan(${e}) OR abs(${e}) = double('infinity'))`,
};

const trino: Dialect = {
  name: 'trino',
  tested: false,
  ident: quoted('"'),
  num: (v) => `CAST(${literal(v)} AS DOUBLE)`,
  toDouble: (e) => `CAST(${e} AS DOUBLE)`,
  notFinite: (e) => `NOT is_finite(${e})`,
};

export function dialect(name: string): Dialect {
  switch (name) {
    case 'duckdb':
      return duckdb;
    case 'postgres':
      return postgres;
    case 'spark':
      return spark;
    case 'trino':
      return trino;
    default:
      throw new Error(`unknown SQL dialect "${name}" (expected one of ${DIALECTS.join(', ')})`);
  }
}

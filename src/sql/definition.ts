/**
 * Declarative description of one data pass as sums over rows of polynomial features of
 * (x_{t−1}, x_t, x_{t+1}, y_t) (docs/sql-engines.md). A pass definition is what `generate.ts` turns into ONE
 * SQL aggregate query per dialect and what `statistics.ts` reads the result rows back from, so the query text
 * and the meaning of its columns come from one place. Constants of earlier stages (input model, control
 * variate, CP factors) are numbers inside the terms; the generator inlines them as exact literals.
 *
 * Rows: every row is step t of a sequence (partitioned by the sequence column, ordered by the time column or
 * the reading order). Base columns available to features:
 *   x0..x{dx−1}, y0..y{dy−1}  the selected input / output columns as float64;
 *   t1                        t + 1 (1-based step within the sequence).
 * Position classes (the boundary cases of the Gaussian VAR(1) scores, src/input/gaussian.ts):
 *   single (L = 1), first (t = 0 < L − 1), interior, last (t = L − 1 > 0).
 */
export type Pos = 'single' | 'first' | 'interior' | 'last';
export const POS_CODE: Readonly<Record<Pos, number>> = { single: 0, first: 1, interior: 2, last: 3 };
export const POSITIONS: readonly Pos[] = ['single', 'first', 'interior', 'last'];

/**
 * A column or an earlier feature, at step t + offset of the same sequence (an integer: LAG / LEAD at that distance;
 * NULL past the sequence's ends, which drops the row from SUM and COUNT).
 */
export interface Factor {
  ref: string;
  offset?: number;
  /** Subtracted from the value first (centring: (x − μ) keeps the in-process rounding, unlike x − μ folded into a constant). */
  shift?: number;
}

/** coef × Π factors (no factors: the constant coef). */
export interface Term {
  coef: number;
  factors: Factor[];
}

/**
 * A per-row feature: Σ terms, plus Σ byPos[class] for the row's position class (absent class: nothing added).
 * Neighbour factors (offset ≠ 0) belong in byPos, in the classes where the neighbour exists.
 */
export interface Feature {
  name: string;
  terms?: Term[];
  byPos?: Partial<Record<Pos, Term[]>>;
  /**
   * Instead of terms: an SQL expression over same-row features `reads` (not polynomial: the max-shifted EXP of
   * the mixture responsibilities, src/sql/nongaussian-passes.ts); `num` writes a constant as the dialect's exact literal.
   */
  raw?: { reads: string[]; sql: (num: (v: number) => string) => string };
}

/** Row conditions (position classes; `fromStep2`: t ≥ 2). */
export type Cond = 'first' | 'last' | 'notFirst' | 'notLast' | 'interior' | 'fromStep2';

/**
 * One output column of the query: fn over the rows of a group (that satisfy `when`) of Π factors (feature or base
 * column names; none: the row count); `count` counts the rows where the product is not NULL. `nulls` / `nonfinite` count NULL / NaN-or-infinite values of factors[0]
 * (a raw column) for the input checks.
 */
export interface Aggregate {
  name: string;
  fn: 'sum' | 'min' | 'max' | 'nulls' | 'nonfinite' | 'count';
  factors: string[];
  when?: Cond;
}

/**
 * Group keys: `pos` the position class code, `half` the sequence index mod 2 (sequences numbered 0, 1, … in
 * the order of their first row: the even / odd split of the rank rule), `uprev` / `unext` the position class of
 * the pair step u = t − 1 / t + 1 (1 first / 2 interior / 3 last) of the mixed moments, and `tie` / `gap`
 * (0/1) for the ordering checks (a repeated time value; a sequence whose rows are not contiguous in the reading
 * order), `fold` the sequence index mod `PassDefinition.folds`, `bhalf` the Markov accumulator's half of step t
 * (sequence index + ⌊t / halfBlock⌋) mod 2 (src/moments/markov.ts `halfOf`, with the sequence index of the whole pass).
 */
export type GroupKey = 'pos' | 'half' | 'uprev' | 'unext' | 'fold' | 'bhalf';

export interface PassDefinition {
  /** Short name (query comment and messages). */
  name: string;
  /** Keep only sequences with index ≡ 0 (mod stride) (whole sequences, before any neighbour is taken). */
  stride?: number;
  /** Number of folds of whole sequences (sequence index mod folds) for the group key `fold`. */
  folds?: number;
  /** With `fold`: cut each sequence into blocks that are sequences of their own (the BRNN's few-sequence folds; generate.ts). */
  cut?: boolean;
  /** Block length (steps) of the group key `bhalf`. */
  halfBlock?: number;
  /** Keep only rows in this class (the row count `n` counts kept rows). */
  where?: Cond;
  features: Feature[];
  groupBy: GroupKey[];
  aggregates: Aggregate[];
}

/** One result row: its group key values, kept-row count, and the aggregates in definition order. */
export interface ResultRow {
  keys: Partial<Record<GroupKey, number>>;
  n: number;
  values: Float64Array;
}

/** Base column names of a dx × dy relation. */
export const xName = (a: number): string => `x${a}`;
export const yName = (i: number): string => `y${i}`;

/** Σ_b coefs[b] · (ref(b) − shift[b]) at `offset` (zero coefficients dropped: they add exact zeros in-process). */
export function linear(coefs: ArrayLike<number>, ref: (b: number) => string, offset = 0, shift?: ArrayLike<number>): Term[] {
  const out: Term[] = [];
  for (let b = 0; b < coefs.length; b++) if (coefs[b] !== 0) out.push({ coef: coefs[b], factors: [{ ref: ref(b), offset, ...(shift ? { shift: shift[b] } : {}) }] });
  return out;
}

/** Sum of the values of aggregate `name` over all result rows (NULL sums read as 0). */
export function total(def: PassDefinition, rows: ResultRow[], name: string): number {
  const k = def.aggregates.findIndex((a) => a.name === name);
  if (k < 0) throw new Error(`sql pass ${def.name}: no aggregate ${name}`);
  let s = 0;
  for (const r of rows) if (!Number.isNaN(r.values[k])) s += r.values[k];
  return s;
}

/** Index of every aggregate by name. */
export function aggregateIndex(def: PassDefinition): Map<string, number> {
  return new Map(def.aggregates.map((a, k) => [a.name, k]));
}

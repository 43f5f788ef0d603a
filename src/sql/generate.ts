import { Dialect } from './dialect.js';
import { Aggregate, Cond, Factor, Feature, GroupKey, PassDefinition, Term, POS_CODE, xName, yName } from './definition.js';

/**
 * Where a pass reads its rows: a FROM item (table or table function, already in the dialect) with the selected
 * columns (unquoted names), the sequence column (absent: the whole relation is one sequence) and the row order
 * (`time` column, else `order`: an SQL expression of the reading order, e.g. DuckDB's file row number).
 */
export interface Relation {
  from: string;
  x: readonly string[];
  y: readonly string[];
  seq?: string;
  time?: string;
  order?: string;
  /** For messages: a file name or a connection with its password removed, and the table. */
  name: string;
}

const W = 'WINDOW w AS (PARTITION BY __seq ORDER BY __ord)';

/**
 * The SQL of a pass: CTE __src (typed columns, sequence key, order key), __s0 (position class and the other
 * group keys via LAG/LEAD, whole sequences filtered by `stride`), one CTE per feature stage (a stage's features
 * read only earlier stages, through LAG/LEAD where they take a neighbour), then one grouped aggregate.
 * Output columns: the group keys (in `groupBy` order), n, then a0, a1, … (the aggregates in definition order).
 */
export function passSQL(def: PassDefinition, rel: Relation, d: Dialect): string {
  const q = d.ident;
  const order = rel.time !== undefined ? q(rel.time) : rel.order;
  if (order === undefined) throw new Error(`${rel.name}: the rows have no order; give a time column`);
  const cols = [
    `${rel.seq !== undefined ? q(rel.seq) : '0'} AS __seq`,
    `${order} AS __ord`,
    ...rel.x.map((c, a) => `${d.toDouble(q(c))} AS ${xName(a)}`),
    ...rel.y.map((c, i) => `${d.toDouble(q(c))} AS ${yName(i)}`),
  ];
  const ctes: string[] = [`__src AS (\n  SELECT ${cols.join(', ')}\n  FROM ${rel.from}\n)`];
  const needIdx = def.stride !== undefined || def.groupBy.includes('half') || def.groupBy.includes('fold') || def.groupBy.includes('bhalf');
  if (def.groupBy.includes('bhalf') && !(Number.isInteger(def.halfBlock) && def.halfBlock! >= 1)) throw new Error(`sql pass ${def.name}: group key bhalf needs halfBlock ≥ 1`);
  if (def.groupBy.includes('fold') && !(Number.isInteger(def.folds) && def.folds! >= 1)) throw new Error(`sql pass ${def.name}: group key fold needs folds ≥ 1`);
  if (needIdx) ctes.push(`__sq AS (\n  SELECT __seq AS __k, ROW_NUMBER() OVER (ORDER BY MIN(__ord), __seq) - 1 AS __sidx FROM __src GROUP BY __seq\n)`);
  const cut = def.cut === true;
  if (cut) ctes.push(...cutCTEs(def, d));
  const src = cut ? '__cut' : '__src';
  const first = 'LAG(__ord) OVER w IS NULL', last = 'LEAD(__ord) OVER w IS NULL';
  const base = [
    `${src}.*`,
    `CASE WHEN ${first} AND ${last} THEN 0 WHEN ${first} THEN 1 WHEN ${last} THEN 3 ELSE 2 END AS __pos`,
    'ROW_NUMBER() OVER w AS t1',
  ];
  if (needIdx) base.push('__sidx % 2 AS __half');
  if (def.groupBy.includes('fold')) base.push(cut ? `(__sidx + __piece) % ${def.folds} AS __fold` : `__sidx % ${def.folds} AS __fold`);
  if (def.groupBy.includes('bhalf')) base.push(`(__sidx + CAST(FLOOR((ROW_NUMBER() OVER w - 1) / ${def.halfBlock}.0) AS BIGINT)) % 2 AS __bhalf`);
  if (def.groupBy.includes('uprev')) base.push('CASE WHEN LAG(__ord, 2) OVER w IS NULL THEN 1 ELSE 2 END AS __uprev');
  if (def.groupBy.includes('unext')) base.push('CASE WHEN LEAD(__ord, 2) OVER w IS NULL THEN 3 ELSE 2 END AS __unext');
  base.push('CASE WHEN LAG(__ord) OVER w = __ord THEN 1 ELSE 0 END AS __tie');
  // In reading order (a dense row number) the rows of a sequence must be contiguous, as the file readers require.
  base.push(rel.time === undefined ? 'CASE WHEN LAG(__ord) OVER w + 1 <> __ord THEN 1 ELSE 0 END AS __gap' : '0 AS __gap');
  // Neighbours of the base columns are taken here, in the one window of __s0: stage-1 features then need no
  // window of their own (each window stage is a sort of the whole relation).
  const baseCols = new Set<string>([...rel.x.map((_, a) => xName(a)), ...rel.y.map((_, i) => yName(i))]);
  const neighbours = new Map<string, string>();
  for (const f of def.features)
    for (const t of termsOf(f))
      for (const fa of t.factors) if ((fa.offset ?? 0) !== 0 && baseCols.has(fa.ref)) neighbours.set(neighbourName(fa.ref, fa.offset!), shifted(fa.ref, fa.offset!));
  for (const nb of [...neighbours.keys()].sort()) base.push(`${neighbours.get(nb)} AS ${nb}`);
  const join = needIdx && !cut ? ' JOIN __sq ON __src.__seq = __sq.__k' : '';
  const filter = def.stride !== undefined ? ` WHERE __sidx % ${def.stride} = 0` : '';
  const part = cut ? '__cut.__seq, __cut.__piece' : '__src.__seq';
  ctes.push(`__s0 AS (\n  SELECT ${base.join(',\n    ')}\n  FROM ${src}${join}${filter}\n  WINDOW w AS (PARTITION BY ${part} ORDER BY ${src}.__ord)\n)`);
  // Feature stages.
  const stage = new Map<string, number>();
  const known = new Set<string>(['t1', '__tie', '__gap', ...rel.x.map((_, a) => xName(a)), ...rel.y.map((_, i) => yName(i))]);
  for (const k of known) stage.set(k, 0);
  const byStage: Feature[][] = [];
  for (const f of def.features) {
    if (stage.has(f.name)) throw new Error(`sql pass ${def.name}: feature ${f.name} defined twice`);
    let s = 1;
    for (const t of termsOf(f))
      for (const fa of t.factors) {
        const r = stage.get(fa.ref);
        if (r === undefined) throw new Error(`sql pass ${def.name}: feature ${f.name} reads ${fa.ref} before it is defined`);
        s = Math.max(s, r + 1);
      }
    stage.set(f.name, s);
    (byStage[s] ??= []).push(f);
  }
  let prev = '__s0';
  for (let s = 1; s < byStage.length; s++) {
    const fs = byStage[s] ?? [];
    if (fs.length === 0) continue;
    const win = fs.some((f) => termsOf(f).some((t) => t.factors.some((fa) => (fa.offset ?? 0) !== 0 && stage.get(fa.ref) !== 0)));
    const sel = fs.map((f) => `${featureSQL(f, d, baseCols)} AS ${f.name}`);
    ctes.push(`__s${s} AS (\n  SELECT *,\n    ${sel.join(',\n    ')}\n  FROM ${prev}${win ? `\n  ${W}` : ''}${d.stageFence ?? ''}\n)`);
    prev = `__s${s}`;
  }
  const keys = def.groupBy.map((k) => `__${k}`);
  const outCols = [...keys.map((k, i) => `${k} AS k${i}`), 'COUNT(*) AS n', ...def.aggregates.map((a, k) => `${aggregateSQL(a, d)} AS a${k}`)];
  const where = def.where ? `\nWHERE ${condSQL(def.where)}` : '';
  const group = keys.length > 0 ? `\nGROUP BY ${keys.join(', ')}\nORDER BY ${keys.join(', ')}` : '';
  return `-- gloree pass: ${def.name}\nWITH ${ctes.join(',\n')}\nSELECT ${outCols.join(',\n  ')}\nFROM ${prev}${where}${group}`;
}

/**
 * `cut`: every sequence of length L is cut into P = max(1, min(F, ⌊L/2⌋)) blocks [round(pL/P), round((p+1)L/P)),
 * each its own sequence (its own boundary classes), block p of sequence k in fold (k + p) mod F — the BRNN's fold
 * blocks for few sequences (src/learn/identify/split.ts `foldParts`). The block index counts the boundaries at
 * or before step t; round(v) = ⌊v + 0.5⌋ as Math.round for v ≥ 0, on the same float64 quotient.
 */
function cutCTEs(def: PassDefinition, d: Dialect): string[] {
  const F = def.folds;
  if (!def.groupBy.includes('fold') || F === undefined) throw new Error(`sql pass ${def.name}: cut needs the group key fold`);
  if (def.stride !== undefined || def.groupBy.includes('half') || def.groupBy.includes('bhalf')) throw new Error(`sql pass ${def.name}: cut blocks are not whole sequences (no stride, half or bhalf)`);
  const P = d.toDouble(`GREATEST(1, LEAST(${F}, FLOOR(__L / 2.0)))`);
  const bounds = Array.from({ length: F - 1 }, (_, i) => `CASE WHEN ${i + 1} < ${P} AND FLOOR(${i + 1} * __L / ${P} + 0.5) <= __t0 THEN 1 ELSE 0 END`);
  return [
    `__cut0 AS (\n  SELECT __src.*, __sidx, COUNT(*) OVER (PARTITION BY __src.__seq) AS __L, ROW_NUMBER() OVER (PARTITION BY __src.__seq ORDER BY __src.__ord) - 1 AS __t0\n  FROM __src JOIN __sq ON __src.__seq = __sq.__k\n)`,
    `__cut AS (\n  SELECT __cut0.*, ${bounds.length > 0 ? bounds.join(' + ') : '0'} AS __piece FROM __cut0\n)`,
  ];
}

function termsOf(f: Feature): Term[] {
  const out = [...(f.terms ?? [])];
  // A raw expression's reads count as same-row factors (for its stage; it takes no neighbours).
  if (f.raw) out.push({ coef: 1, factors: f.raw.reads.map((ref) => ({ ref })) });
  for (const ts of Object.values(f.byPos ?? {})) if (ts) out.push(...ts);
  return out;
}

/** The column of a base column's neighbour in __s0: __p_x0 / __n_x0 at distance 1, __p3_x0 / __n3_x0 at 3. */
const neighbourName = (ref: string, offset: number): string => `${offset < 0 ? '__p' : '__n'}${Math.abs(offset) === 1 ? '' : Math.abs(offset)}_${ref}`;

/** LAG / LEAD of `ref` at distance |offset| (the default distance 1 written without it). */
function shifted(ref: string, offset: number): string {
  if (!Number.isInteger(offset)) throw new Error(`sql: offset ${offset} is not an integer`);
  const k = Math.abs(offset);
  return `${offset < 0 ? 'LAG' : 'LEAD'}(${ref}${k === 1 ? '' : `, ${k}`}) OVER w`;
}

function factorSQL(fa: Factor, d: Dialect, base: ReadonlySet<string>): string {
  const o = fa.offset ?? 0;
  const v = o === 0 ? fa.ref : base.has(fa.ref) ? neighbourName(fa.ref, o) : shifted(fa.ref, o);
  return fa.shift === undefined || fa.shift === 0 ? v : `(${v} - ${d.num(fa.shift)})`;
}

function sumSQL(terms: readonly Term[], d: Dialect, base: ReadonlySet<string>): string {
  if (terms.length === 0) return d.num(0);
  return terms
    .map((t) => {
      if (t.factors.length === 0) return d.num(t.coef);
      const p = t.factors.map((fa) => factorSQL(fa, d, base)).join(' * ');
      return t.coef === 1 ? p : `${d.num(t.coef)} * ${p}`;
    })
    .join(' + ');
}

function featureSQL(f: Feature, d: Dialect, base: ReadonlySet<string>): string {
  if (f.raw) {
    if (f.terms || f.byPos) throw new Error(`sql: feature ${f.name} has both a raw expression and terms`);
    return `(${f.raw.sql((v) => d.num(v))})`;
  }
  const parts: string[] = [];
  if (f.terms && f.terms.length > 0) parts.push(sumSQL(f.terms, d, base));
  const cases = Object.entries(f.byPos ?? {}).filter(([, ts]) => ts !== undefined);
  if (cases.length > 0) {
    const w = cases.map(([p, ts]) => `WHEN ${POS_CODE[p as keyof typeof POS_CODE]} THEN ${sumSQL(ts!, d, base)}`).join(' ');
    parts.push(`(CASE __pos ${w} ELSE ${d.num(0)} END)`);
  }
  return parts.length === 0 ? d.num(0) : parts.length === 1 ? parts[0] : `(${parts.join(') + (')})`;
}

export function condSQL(c: Cond): string {
  switch (c) {
    case 'first':
      return '__pos IN (0, 1)';
    case 'last':
      return '__pos IN (0, 3)';
    case 'notFirst':
      return '__pos IN (2, 3)';
    case 'notLast':
      return '__pos IN (1, 2)';
    case 'interior':
      return '__pos = 2';
    case 'fromStep2':
      return 't1 >= 3';
  }
}

function aggregateSQL(a: Aggregate, d: Dialect): string {
  const prod = a.factors.length > 0 ? a.factors.join(' * ') : '1';
  const guarded = a.when ? `CASE WHEN ${condSQL(a.when)} THEN ${prod} END` : prod;
  switch (a.fn) {
    case 'sum':
      return `SUM(${guarded})`;
    case 'min':
      return `MIN(${guarded})`;
    case 'max':
      return `MAX(${guarded})`;
    case 'count':
      return `COUNT(${guarded})`;
    case 'nulls':
      return `SUM(CASE WHEN ${a.factors[0]} IS NULL THEN 1 ELSE 0 END)`;
    case 'nonfinite':
      return `SUM(CASE WHEN ${d.notFinite(a.factors[0])} THEN 1 ELSE 0 END)`;
  }
}

/** Group key columns of a result, in order (for engines reading rows positionally). */
export function resultColumns(def: PassDefinition): { keys: GroupKey[]; aggregates: number } {
  return { keys: def.groupBy, aggregates: def.aggregates.length };
}

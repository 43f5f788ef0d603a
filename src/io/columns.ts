import type { CSVChunk, CSVOptions, CSVSource } from './csv.js';
import { UserError } from './errors.js';

/**
 * Column selection shared by every reader (fast CSV, general CSV, Arrow, Parquet): explicit `x` / `y` / `seq`
 * names, else the convention x1.., y1.., "seq" if present, with the same messages everywhere.
 */

/** Roles of file columns in a layout. */
export const ROLE_IGNORE = -1;
export const ROLE_SEQ = -2;

/** The selected columns of a file. */
export interface ColumnLayout {
  header: string[];
  x: string[];
  y: string[];
  seq?: string;
  /** role[column]: ROLE_IGNORE, ROLE_SEQ, or a value index (0..dx−1 inputs, dx..dx+dy−1 outputs). */
  role: Int32Array;
  /** File-column index of each input, output and of seq (−1 if none). */
  xIndex: number[];
  yIndex: number[];
  seqIndex: number;
}

/** A header name as shown in a message: control characters escaped, long names cut. */
function shownName(n: string): string {
  const t = n.length > 40 ? n.slice(0, 40) + '…' : n;
  return /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(t) ? JSON.stringify(t) : t;
}

function listColumns(names: readonly string[]): string {
  const shown = names.slice(0, 20).map(shownName).join(',');
  return names.length > 20 ? `${shown},… (${names.length} columns)` : shown;
}

/** Numbered columns prefix1..prefixK by convention; all of 1..K must be present. */
function conventional(header: readonly string[], prefix: string, file: string): string[] {
  const re = new RegExp(`^${prefix}([1-9][0-9]*)$`);
  let max = 0;
  const present = new Set<number>();
  for (const h of header) {
    const m = re.exec(h);
    if (m) {
      const k = Number(m[1]);
      present.add(k);
      max = Math.max(max, k);
    }
  }
  const out: string[] = [];
  for (let k = 1; k <= max; k++) {
    if (!present.has(k)) throw new UserError(`${file}: missing column "${prefix}${k}" (have: ${listColumns(header)})`);
    out.push(`${prefix}${k}`);
  }
  return out;
}

/**
 * Select columns from a header (same rules as src/io/csv.ts): explicit `x` / `y` / `seq` names, else the
 * convention x1.., y1.., "seq" if present. Duplicate names, missing columns, no inputs, no outputs when
 * `requireY`, and a column selected twice are UserErrors naming the file.
 */
export function resolveColumns(header: readonly string[], opts: CSVOptions, file: string): ColumnLayout {
  const index = new Map<string, number>();
  header.forEach((h, i) => {
    if (h === '') return;
    if (index.has(h)) throw new UserError(`${file}: duplicate column ${JSON.stringify(h)} (columns ${index.get(h)! + 1} and ${i + 1})`);
    index.set(h, i);
  });
  const pick = (names: string[]): string[] => {
    for (const n of names) {
      if (!index.has(n)) throw new UserError(`${file}: missing column ${JSON.stringify(n)} (have: ${listColumns(header)})`);
    }
    return names;
  };
  const x = opts.x ? pick(opts.x) : conventional(header, 'x', file);
  if (x.length === 0) throw new UserError(`${file}: no input columns (expected x1, x2, …; have: ${listColumns(header)})`);
  const y = opts.y ? pick(opts.y) : conventional(header, 'y', file);
  if (y.length === 0 && opts.requireY) throw new UserError(`${file}: no output columns (expected y1, y2, …; have: ${listColumns(header)})`);
  let seq: string | undefined;
  if (typeof opts.seq === 'string') seq = pick([opts.seq])[0];
  else if (opts.seq !== false && index.has('seq')) seq = 'seq';
  const role = new Int32Array(header.length).fill(ROLE_IGNORE);
  const assign = (name: string, r: number): number => {
    const i = index.get(name)!;
    if (role[i] !== ROLE_IGNORE) throw new UserError(`${file}: column ${JSON.stringify(name)} is selected twice`);
    role[i] = r;
    return i;
  };
  const xIndex = x.map((n, k) => assign(n, k));
  const yIndex = y.map((n, k) => assign(n, x.length + k));
  const seqIndex = seq !== undefined ? assign(seq, ROLE_SEQ) : -1;
  return { header: [...header], x, y, seq, role, xIndex, yIndex, seqIndex };
}


/** Chunk size and shortest kept sequence, checked the same way by every opener (`opener` names it in the error). */
export function chunkOptions(opener: string, opts: CSVOptions, defaultRows: number): { chunkRows: number; minLength: number } {
  const chunkRows = opts.chunkRows ?? defaultRows;
  const minLength = opts.minLength ?? 1;
  if (!(chunkRows >= 1)) throw new RangeError(`${opener}: chunkRows must be ≥ 1, got ${chunkRows}`);
  if (!Number.isInteger(minLength) || minLength < 1) throw new RangeError(`${opener}: minLength must be a positive integer, got ${minLength}`);
  return { chunkRows, minLength };
}

/** The source every reader returns once its header is resolved; `chunks` re-reads the file on each call. */
export function layoutSource(path: string, header: string[], layout: ColumnLayout, chunks: () => AsyncGenerator<CSVChunk>): CSVSource {
  return {
    dx: layout.x.length,
    dy: layout.y.length,
    name: path,
    path,
    header,
    columns: { x: layout.x, y: layout.y, ...(layout.seq !== undefined ? { seq: layout.seq } : {}) },
    chunks,
  };
}

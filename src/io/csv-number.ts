/**
 * Cell-level text of CSV data files (docs/method.md §8): the validating decimal scanner, RFC 4180 field splitting
 * of one line, and the limits every reader checks a cell against (src/io/csv.ts, csv-general.ts, arrow.ts,
 * parquet.ts).
 */
import { UserError } from './errors.js';

/**
 * Largest magnitude accepted in a data cell. The learners multiply up to six values of a row together (order-5
 * scores times an output) and square sums of them; with |v| ≤ 1e50 every such product stays below ~1e300, far
 * from float64 overflow, while any real measurement in any unit is far inside it. Larger values are reported at
 * their cell rather than surfacing later as a non-finite moment, a "constant" column or an ill-conditioned fit.
 */
export const MAX_ABS_VALUE = 1e50;
export const MAX_ABS_EXPECTED = 'a number of magnitude at most 1e50 (larger values overflow the moment computations; rescale the column)';

/**
 * Sequence ids must be integers a double holds exactly (|id| ≤ 2^53 − 1): beyond that distinct ids round to the
 * same number and separate sequences would be merged, running the recursion across them.
 */
export const EXACT_SEQ_ID = 'an integer sequence id between −(2^53 − 1) and 2^53 − 1 (larger ids cannot be kept exactly and would merge sequences; renumber them)';

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * Parse a decimal number in text[a, e) (no surrounding spaces). Returns NaN on a syntax error (including
 * "NaN", "Infinity", hex). Exact: with ≤ 15 significant digits and |exponent| ≤ 22 both the mantissa and the
 * power of ten are exact doubles, so one IEEE division/multiplication is correctly rounded (Clinger);
 * otherwise the validated text goes to Number().
 */
export function parseDecimal(text: string, a: number, e: number): number {
  let i = a;
  let neg = false;
  let ch = text.charCodeAt(i);
  if (ch === 45) {
    neg = true;
    i++;
  } else if (ch === 43) i++;
  let mant = 0, nd = 0, exp = 0, digits = 0;
  while (i < e) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    if (mant !== 0 || d !== 0) nd++;
    mant = mant * 10 + d;
    digits++;
    i++;
  }
  if (i < e && text.charCodeAt(i) === 46) {
    i++;
    while (i < e) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (mant !== 0 || d !== 0) nd++;
      mant = mant * 10 + d;
      exp--;
      digits++;
      i++;
    }
  }
  if (digits === 0) return NaN;
  if (i < e) {
    ch = text.charCodeAt(i);
    if (ch !== 101 && ch !== 69) return NaN;
    i++;
    let eneg = false;
    ch = text.charCodeAt(i);
    if (ch === 45) {
      eneg = true;
      i++;
    } else if (ch === 43) i++;
    let ev = 0, ed = 0;
    while (i < e) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (ev < 1e6) ev = ev * 10 + d;
      ed++;
      i++;
    }
    if (ed === 0 || i !== e) return NaN;
    exp += eneg ? -ev : ev;
  }
  if (nd <= 15 && exp >= -22 && exp <= 22) {
    const v = exp < 0 ? mant / POW10[-exp] : mant * POW10[exp];
    return neg ? -v : v;
  }
  return Number(text.substring(a, e));
}

/** Split one CSV line with RFC 4180 quoting; returns null if a quoted field is not closed on this line. */
export function splitQuoted(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    let field = '';
    // Leading spaces before an opening quote are tolerated.
    let j = i;
    while (j < n && line.charCodeAt(j) === 32) j++;
    if (j < n && line.charCodeAt(j) === 34) {
      j++;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return null;
        field += line.slice(j, q);
        if (line.charCodeAt(q + 1) === 34) {
          field += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      const c = line.indexOf(',', j);
      const rest = line.slice(j, c < 0 ? n : c);
      field += rest; // text after the closing quote (spaces, usually nothing)
      out.push(field);
      if (c < 0) return out;
      i = c + 1;
    } else {
      const c = line.indexOf(',', i);
      out.push(line.slice(i, c < 0 ? n : c));
      if (c < 0) return out;
      i = c + 1;
    }
  }
}

/** Split a header line (quotes allowed) into trimmed names. */
export function splitHeader(line: string, file: string): string[] {
  const f = line.includes('"') ? splitQuoted(line) : line.split(',');
  if (!f) throw new UserError(`${file}:row 1: a quoted column name is not closed`);
  return f.map((s) => s.trim());
}

/**
 * Errors caused by the user (a bad file, a bad flag value), as opposed to bugs.
 *
 * The CLI prints a UserError's message as one line on stderr and exits with status 1 (DESIGN.md §8);
 * any other error is a bug and keeps its stack. Messages therefore name the file and, where there is
 * one, the exact position: `data.csv:row 17, column "x2": expected a number, got "abc"`.
 * Row numbers are 1-based file line numbers (the header is line 1).
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** Longest cell text quoted back to the user; longer cells are cut with "…". */
const MAX_QUOTED = 40;

/** Quote a user-supplied value for an error message (JSON string syntax, shortened). */
export function quoteValue(text: string): string {
  const t = text.length > MAX_QUOTED ? text.slice(0, MAX_QUOTED) + '…' : text;
  return JSON.stringify(t);
}

/** `file:row N, column "c"` (either position part may be omitted). */
export function formatLocation(file: string, row?: number, column?: string): string {
  let s = file;
  if (row !== undefined) s += `:row ${row}`;
  if (column !== undefined) s += `${row !== undefined ? ',' : ':'} column ${JSON.stringify(column)}`;
  return s;
}

/** A UserError at a position: `file:row N, column "c": message`. */
export function userErrorAt(file: string, row: number | undefined, column: string | undefined, message: string): UserError {
  return new UserError(`${formatLocation(file, row, column)}: ${message}`);
}

/** `file:row N, column "x3": expected <what>, got "abc"`. */
export function cellError(file: string, row: number, column: string, got: string, expected = 'a number'): UserError {
  return userErrorAt(file, row, column, `expected ${expected}, got ${got.length === 0 ? 'an empty cell' : quoteValue(got)}`);
}

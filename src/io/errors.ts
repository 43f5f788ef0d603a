/**
 * Errors caused by the user (a bad file, a bad flag value), as opposed to bugs.
 *
 * The CLI prints a UserError's message as one line on stderr and exits with status 1 (docs/method.md §8);
 * any other error is a bug and keeps its stack. Messages therefore name the file and, where there is
 * one, the exact position: `data.csv:row 17, column "x2": expected a number, got "abc"`.
 * Row numbers are 1-based file line numbers (the header is line 1).
 */
export class UserError extends Error {
  /** Where the problem is, when it is in a file: the file (or data source name), 1-based row, column, JSON key. */
  readonly file?: string;
  readonly row?: number;
  readonly column?: string;
  readonly key?: string;

  constructor(message: string, where: { file?: string; row?: number; column?: string; key?: string } = {}) {
    super(message);
    this.name = 'UserError';
    if (where.file !== undefined) this.file = where.file;
    if (where.row !== undefined) this.row = where.row;
    if (where.column !== undefined) this.column = where.column;
    if (where.key !== undefined) this.key = where.key;
  }
}

/** Spells an option for a message: the library uses the option's API name, the CLI its flag (`hidden` → `--hidden`). */
export type OptionNamer = (option: string) => string;

/**
 * A bad option value, as data: `option` is the library's option name (`hidden`, `backward`, `refineMaxRows`…),
 * `value` what was given. The text is a function of how options are spelled, so that library code never names a
 * CLI flag: `message` spells options by their API names, and the CLI calls `render` with its flag names.
 */
export class OptionError extends UserError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly text: (name: OptionNamer) => string,
  ) {
    super(text((o) => o));
    this.name = 'OptionError';
  }

  /** The message with options spelled by `name` (e.g. the CLI's flags). */
  render(name: OptionNamer): string {
    return this.text(name);
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
  return new UserError(`${formatLocation(file, row, column)}: ${message}`, { file, row, column });
}

/** `file:row N, column "x3": expected <what>, got "abc"`. */
export function cellError(file: string, row: number, column: string, got: string, expected = 'a number'): UserError {
  return userErrorAt(file, row, column, `expected ${expected}, got ${got.length === 0 ? 'an empty cell' : quoteValue(got)}`);
}

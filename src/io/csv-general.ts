/**
 * The general CSV reader (docs/method.md §8): CSV through csv-parse, for what the fast reader (src/io/csv.ts) does
 * not take: quoted fields spanning lines and other delimiters (`;`, tab). Slower (≈ 3× the fast path), same
 * results otherwise: rows go through the shared `ChunkAssembler` (src/io/assembler.ts, re-exported here with the
 * column selection of src/io/columns.ts), which gives every format the fast reader's chunks.
 */
import { createReadStream } from 'node:fs';
import { parse as csvParse } from 'csv-parse';
import type { CSVChunk, CSVOptions, CSVSource } from './csv.js';
import { parseDecimal } from './csv-number.js';
import { UserError } from './errors.js';
import { ChunkAssembler, DEFAULT_CHUNK_ROWS as DEFAULT_ROWS, type RowBlock } from './assembler.js';
import { ROLE_IGNORE, chunkOptions, layoutSource, resolveColumns, type ColumnLayout } from './columns.js';

export { ChunkAssembler, DEFAULT_CHUNK_ROWS, type RowBlock } from './assembler.js';
export { ROLE_IGNORE, ROLE_SEQ, resolveColumns, type ColumnLayout } from './columns.js';

// ---------------------------------------------------------------------------------------------
// General CSV (csv-parse)

export interface GeneralCSVOptions extends CSVOptions {
  /** Field delimiter (default: sniffed from the header line: ',' unless it has only ';' or tabs). */
  delimiter?: string;
}

/** Guess the delimiter from a header line: comma, else tab, else semicolon, else comma. */
export function sniffDelimiter(headerLine: string): string {
  if (headerLine.includes(',')) return ',';
  if (headerLine.includes('\t')) return '\t';
  if (headerLine.includes(';')) return ';';
  return ',';
}

function csvParser(delimiter: string) {
  return csvParse({
    delimiter,
    bom: true,
    info: true,
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true, // ragged rows are reported by us, with the row and the expected count
    relax_quotes: false,
  });
}

function readErrorMessage(path: string, e: unknown, lastRecordLine = 0): UserError | null {
  if (e instanceof UserError) return e;
  const err = e as { code?: string; message?: string; lines?: number };
  if (err?.code === 'CSV_QUOTE_NOT_CLOSED') {
    // csv-parse reports the end of the file; the unclosed quote is in the record after the last complete one.
    return new UserError(`${path}:row ${lastRecordLine + 1}: a quoted field is never closed (no matching closing quote before the end of the file)`);
  }
  if (typeof err?.code === 'string' && err.code.startsWith('CSV_')) {
    const msg = String(err.message ?? err.code).replace(/\s+/g, ' ');
    return new UserError(`${path}${err.lines ? `:row ${err.lines}` : ''}: malformed CSV (${msg})`);
  }
  if (typeof err?.code === 'string' && (err.code.startsWith('E') || err.code.startsWith('INVALID'))) {
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : String(err.message);
    return new UserError(`${path}: cannot read data file (${why.replace(/\s+/g, ' ')})`);
  }
  return null;
}

type ParsedRecord = { record: string[]; info: { lines: number } };

/** Start line of a record that ended on line `lines` (quoted fields may span lines). */
function startLine(rec: string[], lines: number): number {
  let nl = 0;
  for (const f of rec) {
    if (f.includes('\n')) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) nl++;
  }
  return lines - nl;
}

/** Read the header record (and whether a data record follows). */
async function readGeneralHead(path: string, delimiter: string | undefined): Promise<{ header: string[]; delimiter: string; hasData: boolean }> {
  // Sniff on the first physical line (a header with a quoted newline is not worth supporting for sniffing).
  let delim = delimiter;
  if (delim === undefined) {
    const s = createReadStream(path, { start: 0, end: 65535, encoding: 'utf8' });
    let text = '';
    try {
      for await (const t of s) text += t as string;
    } catch (e) {
      throw readErrorMessage(path, e) ?? e;
    } finally {
      s.destroy();
    }
    const first = text.replace(/^\ufeff/, '').split('\n').find((l) => l.trim() !== '') ?? '';
    delim = sniffDelimiter(first);
  }
  const stream = createReadStream(path);
  const parser = stream.pipe(csvParser(delim));
  let header: string[] | null = null;
  let hasData = false;
  let lastLine = 0;
  try {
    for await (const r of parser as AsyncIterable<ParsedRecord>) {
      lastLine = r.info.lines;
      if (header === null) header = r.record.map((s) => s.trim());
      else {
        hasData = true;
        break;
      }
    }
  } catch (e) {
    throw readErrorMessage(path, e, lastLine) ?? e;
  } finally {
    stream.destroy();
    parser.destroy();
  }
  if (header === null) throw new UserError(`${path}: empty file (expected a header row such as x1,x2,y1,y2,seq)`);
  return { header, delimiter: delim, hasData };
}

/**
 * Open a CSV file through csv-parse (RFC 4180 quoting with fields spanning lines, CRLF, BOM, any
 * one-character delimiter). Same options, checks, chunks and messages as `openCSVSource`; row numbers are
 * the file line on which a record starts.
 */
export async function openGeneralCSVSource(path: string, opts: GeneralCSVOptions = {}): Promise<CSVSource> {
  const { chunkRows, minLength } = chunkOptions('openGeneralCSVSource', opts, DEFAULT_ROWS);
  const { header, delimiter, hasData } = await readGeneralHead(path, opts.delimiter);
  const layout = resolveColumns(header, opts, path);
  if (!hasData) throw new UserError(`${path}: no data rows after the header`);
  return layoutSource(path, header, layout, () => readGeneralChunks(path, delimiter, header, layout, chunkRows, minLength, opts.splitSequences ?? false));
}

const BLOCK = 4096;

async function* readGeneralChunks(
  path: string, delimiter: string, header: string[], layout: ColumnLayout, chunkRows: number, minLength: number, split: boolean,
): AsyncGenerator<CSVChunk> {
  const asm = new ChunkAssembler(path, layout, chunkRows, minLength, split);
  const ncol = header.length;
  const selected: number[] = [];
  layout.role.forEach((r, c) => {
    if (r !== ROLE_IGNORE) selected.push(c);
  });
  const values: (Float64Array | undefined)[] = new Array(ncol).fill(undefined);
  for (const c of selected) values[c] = new Float64Array(BLOCK);
  const texts: string[][] = [];
  const rowNumbers = new Float64Array(BLOCK);
  let m = 0;
  const block: RowBlock = {
    rows: 0,
    values,
    firstRow: 0,
    rowNumbers,
    describe: (c, r) => texts[r][c].trim(),
  };
  const flush = (): void => {
    block.rows = m;
    asm.addBlock(block);
    m = 0;
  };
  const stream = createReadStream(path);
  const parser = stream.pipe(csvParser(delimiter));
  let first = true;
  let lastLine = 0;
  try {
    for await (const r of parser as AsyncIterable<ParsedRecord>) {
      const rec = r.record;
      lastLine = r.info.lines;
      if (first) {
        first = false;
        const h = rec.map((s) => s.trim());
        if (h.length !== header.length || h.some((s, i) => s !== header[i])) throw new UserError(`${path}: the header changed since the file was opened`);
        continue;
      }
      const line = startLine(rec, r.info.lines);
      if (rec.length !== ncol) throw new UserError(`${path}:row ${line}: expected ${ncol} fields (as in the header), got ${rec.length}`);
      for (const c of selected) {
        // trim: csv-parse trims outside quotes only; "1.5\n" inside quotes is still the number 1.5.
        const t = rec[c].trim();
        values[c]![m] = t.length > 0 ? parseDecimal(t, 0, t.length) : NaN;
      }
      texts[m] = rec;
      rowNumbers[m] = line;
      m++;
      if (m === BLOCK) {
        flush();
        while (asm.ready.length) yield asm.ready.shift()!;
      }
    }
    flush();
    asm.finish();
    while (asm.ready.length) yield asm.ready.shift()!;
  } catch (e) {
    throw readErrorMessage(path, e, lastLine) ?? e;
  } finally {
    stream.destroy();
    parser.destroy();
  }
}

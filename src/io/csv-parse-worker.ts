/**
 * Worker-thread entry of the parallel CSV reader (src/io/csv-parallel.ts): parses byte blocks of plain numeric
 * CSV (whole lines) into columns. A block gets back, per selected file column, its values (float64, on a
 * SharedArrayBuffer so nothing is copied or detached), the 0-based line of each row within the block and the
 * block's line count. Anything outside the plain case (non-ASCII bytes, a NUL byte, a quote, a ragged line, a
 * cell that is not a finite decimal within the reader's limits, a header that differs) answers `plain: false`:
 * the main thread then hands the file to the serial reader, which accepts or reports it exactly as it always did.
 *
 * Values are those of the serial reader: `parseDecimal` is correctly rounded, as is the `Number()` the serial
 * reader uses for long cells, so both give the same double for every decimal text either accepts.
 */
import { parentPort } from 'node:worker_threads';
import { isAscii } from 'node:buffer';
import { MAX_ABS_VALUE, MAX_LINE_CHARS, parseDecimal } from './csv.js';

/** One block to parse: bytes [0, length) of `sab`, whole lines (the last one may lack its line break). */
export interface ParseRequest {
  id: number;
  sab: SharedArrayBuffer;
  length: number;
  /** The block starts the file: skip blank lines, then check the header line against `header`. */
  first: boolean;
  header: readonly string[];
  /** Selected file columns and the number of fields a line must have. */
  cols: readonly number[];
  ncol: number;
}

export type ParseReply =
  | { id: number; plain: true; rows: number; lines: number; values: Float64Array[]; rowLines: Int32Array }
  | { id: number; plain: false };

const port = parentPort!;
port.on('message', (req: ParseRequest) => {
  port.postMessage(parseBlock(req));
});

function parseBlock(req: ParseRequest): ParseReply {
  const bytes = Buffer.from(req.sab, 0, req.length);
  const no: ParseReply = { id: req.id, plain: false };
  if (!isAscii(bytes) || bytes.indexOf(0) >= 0) return no;
  const text = bytes.toString('latin1');
  // A quote anywhere: the serial reader's RFC 4180 path decides.
  if (text.indexOf('"') >= 0) return no;
  const { cols, ncol } = req;
  const sel = new Int32Array(ncol).fill(-1);
  cols.forEach((c, k) => (sel[c] = k));
  // Rows ≤ lines ≤ newlines + 1: allocate for the worst case once.
  let cap = 1;
  for (let p = text.indexOf('\n'); p >= 0; p = text.indexOf('\n', p + 1)) cap++;
  const values = cols.map(() => new Float64Array(new SharedArrayBuffer(8 * cap)));
  const rowLines = new Int32Array(new SharedArrayBuffer(4 * cap));
  let headerPending = req.first;
  let rows = 0, line = 0, pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (end - pos > MAX_LINE_CHARS) return no;
    let k = pos;
    while (k < end && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
    if (k < end) {
      if (headerPending) {
        const names = text.slice(pos, end).split(',').map((s) => s.trim());
        if (names.length !== req.header.length || names.some((n, i) => n !== req.header[i])) return no;
        headerPending = false;
      } else {
        let f = 0, s = pos;
        for (;;) {
          let c = text.indexOf(',', s);
          if (c < 0 || c > end) c = end;
          if (f >= ncol) return no;
          const j = sel[f];
          if (j >= 0) {
            let a = s, e = c;
            while (a < e && text.charCodeAt(a) === 32) a++;
            while (e > a && (text.charCodeAt(e - 1) === 32 || text.charCodeAt(e - 1) === 9)) e--;
            const v = e > a ? parseDecimal(text, a, e) : NaN;
            if (!(Math.abs(v) <= MAX_ABS_VALUE)) return no;
            values[j][rows] = v;
          }
          f++;
          if (c === end) break;
          s = c + 1;
        }
        if (f !== ncol) return no;
        rowLines[rows++] = line;
      }
    }
    line++;
    pos = nl + 1;
  }
  // A block ending in a line break has consumed exactly `line` lines; the serial reader counts the same.
  return { id: req.id, plain: true, rows, lines: line, values, rowLines };
}

/**
 * The block parser of the parallel CSV reader (src/io/csv-parallel.ts), run on its threads (src/io/csv-parse-worker.ts)
 * and, while they start, on the main thread: parses byte blocks of plain numeric CSV (whole lines) into columns. A block's reply is one SharedArrayBuffer (nothing copied or detached): the
 * values of the selected file columns (float64, column after column, `cap` slots each), then the 0-based line of
 * each row within the block (float64). The worker reuses `slots` reply buffers in turn: the main thread sends this
 * worker's next block only after it has consumed the reply `slots` blocks back (csv-parallel.ts, IN_FLIGHT).
 * Anything outside the plain case (non-ASCII bytes, a NUL byte, a quote, a ragged line, a cell that is not a
 * finite number within the reader's limits, a header that differs) answers `plain: false`: the main thread then
 * hands the file to the serial reader, which accepts or reports it exactly as it always did.
 *
 * Cells are read exactly as the serial reader's `cell` (src/io/csv.ts) reads them: spaces trimmed, `Number()` for
 * cells of 18 characters or more (rejecting 0x…, 0b…, 0o…), `parseDecimal` for shorter ones; so the values are
 * the serial reader's, bit for bit.
 */
import { isAscii } from 'node:buffer';
import { MAX_ABS_VALUE, MAX_LINE_CHARS, parseDecimal } from './csv.js';

/** What every block of a pass shares (the threads' workerData). */
export interface ParseShape {
  /** Header names: the first block checks its header line against them. */
  header: readonly string[];
  /** Selected file columns, and the number of fields a line must have. */
  cols: readonly number[];
  ncol: number;
  /** Reply buffers kept per worker. */
  slots: number;
}

/** One block to parse: bytes [0, length) of `sab`, whole lines (the last one may lack its line break). */
export interface ParseRequest {
  id: number;
  sab: SharedArrayBuffer;
  length: number;
  /** The block starts the file: skip blank lines, then check the header line. */
  first: boolean;
}

export type ParseReply = { id: number; plain: true; rows: number; lines: number; cap: number; sab: SharedArrayBuffer } | { id: number; plain: false };

/**
 * A parser of the blocks of one pass: reply buffers are reused in turn (`shape.slots` of them), so each parser
 * (one per thread) keeps its own.
 */
export function blockParser(shape: ParseShape): (req: ParseRequest) => ParseReply {
  const sel = new Int32Array(shape.ncol).fill(-1);
  shape.cols.forEach((c, k) => (sel[c] = k));
  const state = { shape, sel, ring: [] as SharedArrayBuffer[], turn: 0 };
  return (req) => parseBlock(state, req);
}

function parseBlock(st: { shape: ParseShape; sel: Int32Array; ring: SharedArrayBuffer[]; turn: number }, req: ParseRequest): ParseReply {
  const { shape, sel, ring } = st;
  const bytes = Buffer.from(req.sab, 0, req.length);
  const no: ParseReply = { id: req.id, plain: false };
  if (!isAscii(bytes) || bytes.indexOf(0) >= 0) return no;
  const text = bytes.toString('latin1');
  // A quote anywhere: the serial reader's RFC 4180 path decides.
  if (text.indexOf('"') >= 0) return no;
  const ncol = shape.ncol, nsel = shape.cols.length;
  // Rows ≤ lines ≤ line breaks + 1.
  let cap = 1;
  for (let p = text.indexOf('\n'); p >= 0; p = text.indexOf('\n', p + 1)) cap++;
  const k = st.turn++ % shape.slots;
  if (!ring[k] || ring[k].byteLength < 8 * cap * (nsel + 1)) ring[k] = new SharedArrayBuffer(8 * cap * (nsel + 1));
  const out = new Float64Array(ring[k], 0, cap * (nsel + 1));
  let headerPending = req.first;
  let rows = 0, line = 0, pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (end - pos > MAX_LINE_CHARS) return no;
    let q = pos;
    while (q < end && (text.charCodeAt(q) === 32 || text.charCodeAt(q) === 9)) q++;
    if (q < end) {
      if (headerPending) {
        const names = text.slice(pos, end).split(',').map((s) => s.trim());
        if (names.length !== shape.header.length || names.some((n, i) => n !== shape.header[i])) return no;
        headerPending = false;
      } else {
        let f = 0, s = pos;
        for (;;) {
          let c = text.indexOf(',', s);
          if (c < 0 || c > end) c = end;
          if (f >= ncol) return no;
          const j = sel[f];
          if (j >= 0) {
            const v = cell(text, s, c);
            if (!(Math.abs(v) <= MAX_ABS_VALUE)) return no;
            out[j * cap + rows] = v;
          }
          f++;
          if (c === end) break;
          s = c + 1;
        }
        if (f !== ncol) return no;
        out[nsel * cap + rows] = line;
        rows++;
      }
    }
    line++;
    pos = nl + 1;
  }
  // A block ending in a line break has consumed exactly `line` lines; the serial reader counts the same.
  return { id: req.id, plain: true, rows, lines: line, cap, sab: ring[k] };
}

/** The serial reader's cell value of text[a, c) (see the file comment); NaN where it would refuse the cell. */
function cell(text: string, a: number, c: number): number {
  while (a < c && text.charCodeAt(a) === 32) a++;
  while (c > a && (text.charCodeAt(c - 1) === 32 || text.charCodeAt(c - 1) === 9)) c--;
  if (c - a >= 18) {
    const c1 = text.charCodeAt(a + 1) | 32, c2 = text.charCodeAt(a + 2) | 32;
    return c1 === 120 || c1 === 98 || c1 === 111 || c2 === 120 || c2 === 98 || c2 === 111 ? NaN : Number(text.substring(a, c));
  }
  return c - a > 0 ? parseDecimal(text, a, c) : NaN;
}

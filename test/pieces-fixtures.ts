/**
 * Shared by the long-sequence tests (fit-pieces, fit-brnn-pieces, long-sequence, brnn-long-sequence): one long
 * sequence cut into pieces as a splitting reader cuts it, a streaming source over them, a relative comparison, and
 * the CLI run with a chosen chunk size (GLOREE_CHUNK_ROWS, restored afterwards).
 */
import assert from 'node:assert/strict';
import { SequenceChunk, DataSource, makeChunk, memorySource } from '../src/io/dataset.js';
import { main } from '../src/cli/main.js';

/** The chunk's sequences in pieces of at most `size` rows, flagged as a splitting reader flags them. */
export function piecesOf(c: SequenceChunk, size: number): SequenceChunk[] {
  const out: SequenceChunk[] = [];
  let row = 0;
  for (let k = 0; k < c.lengths.length; k++) {
    const L = c.lengths[k];
    for (let t = 0; t < L; t += size) {
      const n = Math.min(size, L - t), r = row + t;
      const p = makeChunk(c.dx, c.dy, c.x.slice(r * c.dx, (r + n) * c.dx), c.y.slice(r * c.dy, (r + n) * c.dy), [n]);
      out.push({ ...p, ...(t > 0 ? { continued: true } : {}), ...(t + n < L ? { continues: true } : {}) });
    }
    row += L;
  }
  return out;
}

/** A streaming (not in-memory) source over the pieces. */
export function pieceSource(pieces: SequenceChunk[]): DataSource {
  const m = memorySource(pieces);
  return { dx: m.dx, dy: m.dy, name: 'pieces', chunks: () => m.chunks() };
}

/** |a − b| ≤ rel · max|b| elementwise. */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(a.length, b.length, what);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= rel * scale, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** `gloree …args` in this process with chunks of `chunkRows` rows (undefined: the reader's default). */
export async function cliWithChunkRows(chunkRows: number | undefined, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const saved = process.env.GLOREE_CHUNK_ROWS;
  if (chunkRows !== undefined) process.env.GLOREE_CHUNK_ROWS = String(chunkRows);
  else delete process.env.GLOREE_CHUNK_ROWS;
  try {
    const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
    return { code, stdout, stderr };
  } finally {
    if (saved === undefined) delete process.env.GLOREE_CHUNK_ROWS;
    else process.env.GLOREE_CHUNK_ROWS = saved;
  }
}

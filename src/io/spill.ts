import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataSource, SequenceChunk } from './dataset.js';

/**
 * A DataSource that parses its underlying source once and replays later passes from a binary spill
 * file on disk (raw float64 records), so a multi-pass learner pays for text parsing once while memory
 * stays one chunk, independent of n. The spill file lives in a private temp directory and is removed by
 * `close()` (and on process exit).
 *
 * Record layout per chunk: [rows, nSeq] as float64, then lengths (nSeq float64), x (rows·dx), y (rows·dy).
 * Extra per-chunk fields of the inner source (e.g. CSV line numbers) are kept for the first pass only; later
 * passes carry `sequenceOffset` so messages still name the right sequence.
 */
export class SpillSource implements DataSource {
  readonly dx: number;
  readonly dy: number;
  readonly name: string;
  /** The inner source's column names, when it has them (for messages). */
  readonly columns?: unknown;
  private dir: string | null = null;
  private file: string | null = null;
  private complete = false;
  private readonly cleanup = (): void => this.close();

  constructor(private readonly inner: DataSource) {
    this.dx = inner.dx;
    this.dy = inner.dy;
    this.name = inner.name;
    this.columns = (inner as { columns?: unknown }).columns;
  }

  chunks(): AsyncIterable<SequenceChunk> {
    return this.complete ? this.replay() : this.firstPass();
  }

  private async *firstPass(): AsyncGenerator<SequenceChunk> {
    this.close();
    this.dir = mkdtempSync(path.join(tmpdir(), 'gloree-spill-'));
    this.file = path.join(this.dir, 'data.f64');
    process.once('exit', this.cleanup);
    const fd = openSync(this.file, 'w');
    try {
      for await (const c of this.inner.chunks()) {
        const head = new Float64Array(2 + c.lengths.length);
        head[0] = c.rows;
        head[1] = c.lengths.length;
        for (let k = 0; k < c.lengths.length; k++) head[2 + k] = c.lengths[k];
        writeAll(fd, head);
        writeAll(fd, c.x.subarray(0, c.rows * this.dx));
        writeAll(fd, c.y.subarray(0, c.rows * this.dy));
        yield c;
      }
      this.complete = true;
    } finally {
      closeSync(fd);
      if (!this.complete) this.close();
    }
  }

  private async *replay(): AsyncGenerator<SequenceChunk & { sequenceOffset: number }> {
    const fd = openSync(this.file!, 'r');
    try {
      let pos = 0, seqOffset = 0;
      const head = new Float64Array(2);
      for (;;) {
        if (readAll(fd, head, pos) === 0) break;
        pos += 16;
        const rows = head[0], nSeq = head[1];
        const lens = new Float64Array(nSeq);
        readAll(fd, lens, pos);
        pos += 8 * nSeq;
        const x = new Float64Array(rows * this.dx);
        readAll(fd, x, pos);
        pos += 8 * x.length;
        const y = new Float64Array(rows * this.dy);
        readAll(fd, y, pos);
        pos += 8 * y.length;
        yield { dx: this.dx, dy: this.dy, rows, x, y, lengths: Int32Array.from(lens), sequenceOffset: seqOffset };
        seqOffset += nSeq;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Remove the spill file (later passes then re-read the inner source). */
  close(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = this.file = null;
    this.complete = false;
    process.removeListener('exit', this.cleanup);
  }
}

function writeAll(fd: number, a: Float64Array): void {
  const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Fill `a` from the file at byte `pos`; returns bytes read (0 at end of file). */
function readAll(fd: number, a: Float64Array, pos: number): number {
  const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, pos + off);
    if (n === 0) {
      if (off === 0) return 0;
      throw new Error(`spill file truncated at byte ${pos + off}`);
    }
    off += n;
  }
  return off;
}

import { closeSync, openSync, read, readSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataSource, SequenceChunk } from './dataset.js';
import { UserError } from './errors.js';

/** Spill files that could not be unlinked while open (e.g. on Windows): removed on close, exit and signals. */
const namedSpills = new Set<string>();

/** Remove spill files that still have a name (safe in a signal handler). */
export function removeSpillFilesSync(): void {
  for (const f of [...namedSpills]) {
    namedSpills.delete(f);
    try {
      unlinkSync(f);
    } catch {
      /* gone */
    }
  }
}

const SPILL_REASONS: Record<string, string> = {
  ENOENT: 'it does not exist',
  ENOTDIR: 'it is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
};

/** A failure of the temporary directory is the environment's (TMPDIR), not a bug: say which directory and why. */
function spillError(e: unknown, dir: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return e;
  return new UserError(
    `cannot write the temporary spill file in ${dir} (${SPILL_REASONS[code] ?? (e as Error).message}); ` +
      'set TMPDIR to a writable directory with room for about 8·(dx+dy) bytes per row',
  );
}

/**
 * A DataSource that parses its underlying source once and replays later passes from a binary spill
 * file on disk (raw float64 records), so a multi-pass learner pays for text parsing once while memory
 * stays one chunk, independent of n. The spill file is created in the temporary directory (TMPDIR) and
 * unlinked at once while it stays open, so it never has a name others can see and nothing is left behind
 * whatever ends the process, even SIGKILL. Where the OS refuses to unlink an open file, it is removed by
 * `close()`, on exit and by the CLI's signal handlers.
 *
 * Record layout per chunk: [rows, nSeq, flags] as float64 (flags: 1 = `continued`, 2 = `continues`), then lengths
 * (nSeq float64), x (rows·dx), y (rows·dy).
 * Extra per-chunk fields of the inner source (e.g. CSV line numbers) are kept for the first pass only; later
 * passes carry `sequenceOffset` so messages still name the right sequence.
 */
export class SpillSource implements DataSource {
  readonly dx: number;
  readonly dy: number;
  readonly name: string;
  /** The inner source's column names, when it has them (for messages). */
  readonly columns?: unknown;
  private fd: number | null = null;
  private file: string | null = null;
  private complete = false;
  private readonly cleanup = (): void => this.close();

  /**
   * `readAhead`: later passes read the next record on libuv's I/O thread while the caller works on the current one
   * (one extra chunk in memory). The bytes, and so every chunk, are the same; only the main thread's time spent in
   * reads goes away. For `--workers N ≥ 2` (docs/architecture.md "Parallel work"); `--workers 1` stays on one thread.
   */
  constructor(private readonly inner: DataSource, private readonly opts: { readAhead?: boolean } = {}) {
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
    const { fd, file, dir } = openSpillFile();
    this.fd = fd;
    if (file) {
      this.file = file;
      process.once('exit', this.cleanup);
    }
    let pos = 0;
    try {
      for await (const c of this.inner.chunks()) {
        const head = new Float64Array(3 + c.lengths.length);
        head[0] = c.rows;
        head[1] = c.lengths.length;
        head[2] = (c.continued ? 1 : 0) + (c.continues ? 2 : 0);
        for (let k = 0; k < c.lengths.length; k++) head[3 + k] = c.lengths[k];
        try {
          pos = writeAll(fd, head, pos);
          pos = writeAll(fd, c.x.subarray(0, c.rows * this.dx), pos);
          pos = writeAll(fd, c.y.subarray(0, c.rows * this.dy), pos);
        } catch (e) {
          throw spillError(e, dir);
        }
        yield c;
      }
      this.complete = true;
    } finally {
      if (!this.complete) this.close();
    }
  }

  private async *replay(): AsyncGenerator<SequenceChunk & { sequenceOffset: number }> {
    const fd = this.fd!;
    const ahead = this.opts.readAhead === true;
    let pos = 0, seqOffset = 0;
    let next = ahead ? this.readRecord(fd, 0, true) : null;
    try {
      for (;;) {
        const rec = await (next ?? this.readRecord(fd, pos, false));
        if (rec === null) break;
        pos = rec.end;
        // Read ahead: the next record's reads are in flight while the caller works on this chunk.
        next = ahead ? this.readRecord(fd, pos, true) : null;
        next?.catch(() => undefined);
        const { rows, x, y, lengths, flags } = rec;
        const continued = (flags & 1) !== 0, continues = (flags & 2) !== 0;
        yield {
          dx: this.dx, dy: this.dy, rows, x, y, lengths, sequenceOffset: seqOffset,
          ...(continued ? { continued } : {}), ...(continues ? { continues } : {}),
        };
        seqOffset += lengths.length - (continues ? 1 : 0);
      }
    } finally {
      // A caller that stops early: let a read still in flight finish before the file may be closed.
      await next?.catch(() => undefined);
    }
  }

  /** The record at byte `pos` (null at the end of the file) and the position after it; `ahead`: asynchronous reads. */
  private async readRecord(fd: number, pos: number, ahead: boolean): Promise<{ rows: number; flags: number; lengths: Int32Array; x: Float64Array; y: Float64Array; end: number } | null> {
    const fill = ahead ? readAllAsync : readAll;
    const head = new Float64Array(3);
    if ((await fill(fd, head, pos)) === 0) return null;
    pos += 24;
    const rows = head[0], nSeq = head[1], flags = head[2];
    const lens = new Float64Array(nSeq);
    await fill(fd, lens, pos);
    pos += 8 * nSeq;
    const x = new Float64Array(rows * this.dx);
    await fill(fd, x, pos);
    pos += 8 * x.length;
    const y = new Float64Array(rows * this.dy);
    await fill(fd, y, pos);
    pos += 8 * y.length;
    return { rows, flags, lengths: Int32Array.from(lens), x, y, end: pos };
  }

  /** Remove the spill file (later passes then re-read the inner source). */
  close(): void {
    closeSpillFile(this.fd, this.file);
    this.fd = null;
    this.file = null;
    this.complete = false;
    process.removeListener('exit', this.cleanup);
  }
}

/**
 * Create a spill file in the temporary directory and unlink it at once while it stays open (see SpillSource);
 * `file` is its name only where the OS refused the unlink (it is then in `namedSpills`, removed on exit and
 * signals, and the owner must remove it on close).
 */
function openSpillFile(): { fd: number; file: string | null; dir: string } {
  const dir = tmpdir();
  const file = path.join(dir, `gloree-spill-${process.pid}-${randomBytes(6).toString('hex')}.f64`);
  let fd: number;
  try {
    fd = openSync(file, 'wx+', 0o600);
  } catch (e) {
    throw spillError(e, dir);
  }
  try {
    unlinkSync(file);
    return { fd, file: null, dir };
  } catch {
    namedSpills.add(file);
    return { fd, file, dir };
  }
}

/** Close a spill file (and remove it if it still has a name). */
function closeSpillFile(fd: number | null, file: string | null): void {
  if (fd !== null) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }
  if (file) {
    namedSpills.delete(file);
    try {
      unlinkSync(file);
    } catch {
      /* gone */
    }
  }
}

/**
 * Records of float64 arrays kept on disk and read back in any order (e.g. the pieces of one long sequence read
 * backwards, src/models/brnn-pieces.ts): `write` appends a record of arrays and returns its index, `read(i, …)`
 * fills arrays of the same lengths from record i, `reset` starts over (overwriting, so the file is as large as
 * the largest group of records since). Same file handling as SpillSource (unlinked while open).
 */
export class RecordSpill {
  private fd: number | null;
  private file: string | null;
  private readonly dir: string;
  private pos = 0;
  private starts: number[] = [];
  private readonly cleanup = (): void => this.close();

  constructor() {
    const { fd, file, dir } = openSpillFile();
    this.fd = fd;
    this.file = file;
    this.dir = dir;
    if (file) process.once('exit', this.cleanup);
  }

  reset(): void {
    this.pos = 0;
    this.starts = [];
  }

  write(...arrays: Float64Array[]): number {
    this.starts.push(this.pos);
    try {
      for (const a of arrays) this.pos = writeAll(this.fd!, a, this.pos);
    } catch (e) {
      throw spillError(e, this.dir);
    }
    return this.starts.length - 1;
  }

  read(i: number, ...arrays: Float64Array[]): void {
    let pos = this.starts[i];
    for (const a of arrays) {
      if (a.length > 0 && readAll(this.fd!, a, pos) === 0) throw new Error(`spill file truncated at byte ${pos}`);
      pos += a.byteLength;
    }
  }

  close(): void {
    closeSpillFile(this.fd, this.file);
    this.fd = null;
    this.file = null;
    process.removeListener('exit', this.cleanup);
  }
}

/** Write all of `a` at byte `pos` (continuing over short writes); returns the position after it. */
function writeAll(fd: number, a: Float64Array, pos: number): number {
  const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  let off = 0;
  while (off < buf.length) {
    const n = writeSync(fd, buf, off, buf.length - off, pos + off);
    if (!(n > 0)) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    off += n;
  }
  return pos + off;
}

/** Fill `a` from the file at byte `pos`; returns bytes read (0 at end of file). */
function readAll(fd: number, a: Float64Array, pos: number): number {
  const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, pos + off);
    if (n === 0) return endOfFile(off, pos);
    off += n;
  }
  return off;
}

/** `readAll` on libuv's I/O thread (the same bytes; this thread only waits). */
async function readAllAsync(fd: number, a: Float64Array, pos: number): Promise<number> {
  const buf = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  let off = 0;
  while (off < buf.length) {
    const n = await new Promise<number>((resolve, reject) => read(fd, buf, off, buf.length - off, pos + off, (e, k) => (e ? reject(e) : resolve(k))));
    if (n === 0) return endOfFile(off, pos);
    off += n;
  }
  return off;
}

/** Zero bytes at a record's start is the end of the file; anywhere else the file was cut short. */
function endOfFile(off: number, pos: number): number {
  if (off === 0) return 0;
  throw new Error(`spill file truncated at byte ${pos + off}`);
}

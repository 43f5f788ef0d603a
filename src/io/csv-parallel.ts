/**
 * Parallel reading of plain numeric CSV (`gloree fit --workers N`): the main thread reads the file in blocks cut
 * at line breaks, worker threads parse them (src/io/csv-parse-worker.ts; this thread while they start), and the
 * blocks' rows go, in file order, through the ChunkAssembler every non-fast reader uses. The chunks are therefore the serial reader's,
 * value for value and boundary for boundary, whatever the number of workers: parsing a line does not depend on
 * any other line, and the assembler's cut rule (a chunk ends before the first sequence that starts once it holds
 * ≥ chunkRows rows) sees the same rows in the same order. So a fit gives the same bits for every N.
 *
 * Anything outside the plain case (quotes, non-ASCII text, a bad cell, a ragged line, a sequence error: see the
 * worker) makes the reader hand over to the serial reader of the source, skipping the chunks it has already
 * delivered: what the serial reader accepts it reads, what it refuses it reports with its own message.
 * Memory: at most 2 blocks in flight per worker plus one chunk.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import type { CSVChunk, CSVSource } from './csv.js';
import { MAX_LINE_CHARS } from './csv.js';
import { ChunkAssembler, DEFAULT_CHUNK_ROWS, RowBlock, resolveColumns } from './csv-general.js';
import { ROLE_IGNORE } from './columns.js';
import { UserError } from './errors.js';
import { spawnWorker } from './threads.js';
import { blockParser, type ParseReply, type ParseRequest, type ParseShape } from './csv-parse-block.js';

export interface ParallelCSVOptions {
  /** Parser threads (≥ 2; with 1 use the source itself). */
  workers: number;
  /** As given to the reader that opened the source (defaults as there). */
  chunkRows?: number;
  minLength?: number;
  /** Bytes per block (default 1 MiB). */
  blockBytes?: number;
  /** Smaller files are read by the source itself (default PARALLEL_MIN_BYTES). */
  minBytes?: number;
  /** Parse the blocks of a thread still starting on this thread (default true; false: tests of the threads alone). */
  parseWhileStarting?: boolean;
}

/**
 * Below this size a file is parsed on the calling thread: starting the threads costs more than they save (tens of
 * ms each, more under tsx), and the chunks are the same either way.
 */
export const PARALLEL_MIN_BYTES = 4 << 20;

/** Blocks sent and not yet consumed, per worker: the threads parse ahead while the main thread works on a chunk. */
const IN_FLIGHT = 4;

/**
 * The same source, parsed on `workers` threads when the file is comma-separated CSV (any other source, or a
 * header with quotes, is returned as it is).
 */
export function parallelCSVSource<S extends CSVSource>(source: S, opts: ParallelCSVOptions): S & { readonly parallel?: ParallelPassInfo } {
  const fmt = (source as { format?: string }).format;
  if (opts.workers < 2 || (fmt !== undefined && fmt !== 'csv') || fileSize(source.path) < (opts.minBytes ?? PARALLEL_MIN_BYTES) || !commaHeader(source)) return source;
  const serial = source.chunks.bind(source);
  const parallel: ParallelPassInfo = { blocks: 0, localBlocks: 0, handedOver: false };
  return { ...source, parallel, chunks: () => parallelChunks(source, serial, opts, parallel) };
}

/** What the last pass did: blocks parsed on the threads, and whether it handed over to the serial reader. */
export interface ParallelPassInfo {
  blocks: number;
  /** Of them, parsed on this thread while the threads started. */
  localBlocks: number;
  handedOver: boolean;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The file's first non-blank line is the header split on commas (not the general reader's ';' or tab). */
function commaHeader(source: CSVSource): boolean {
  let fd: number;
  try {
    fd = openSync(source.path, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(1 << 16);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const line = buf.toString('latin1', 0, n).split('\n').find((l) => l.trim() !== '');
    if (line === undefined || line.includes('"')) return false;
    const names = line.replace(/\r$/, '').split(',').map((s) => s.trim());
    return names.length === source.header.length && names.every((s, i) => s === source.header[i]);
  } finally {
    closeSync(fd);
  }
}

async function* parallelChunks(source: CSVSource, serial: () => AsyncIterable<CSVChunk>, opts: ParallelCSVOptions, info: ParallelPassInfo): AsyncGenerator<CSVChunk> {
  info.blocks = 0;
  info.localBlocks = 0;
  info.handedOver = false;
  const path = source.path;
  const cols = source.columns;
  const layout = resolveColumns(source.header, { x: [...cols.x], y: [...cols.y], seq: cols.seq ?? false }, path);
  const selected: number[] = [];
  layout.role.forEach((r, c) => {
    if (r !== ROLE_IGNORE) selected.push(c);
  });
  const asm = new ChunkAssembler(path, layout, opts.chunkRows ?? DEFAULT_CHUNK_ROWS, opts.minLength ?? 1);
  let delivered = 0;
  let plain = true;
  const reader = new BlockParser(path, opts.workers, opts.blockBytes ?? 1 << 20, { header: [...source.header], cols: selected, ncol: layout.header.length }, opts.parseWhileStarting ?? true ? info : null);
  try {
    let linesBefore = 0;
    for await (const r of reader.replies()) {
      if (!r.plain) {
        plain = false;
        break;
      }
      info.blocks++;
      const all = new Float64Array(r.sab, 0, r.cap * (selected.length + 1));
      const values: Float64Array[] = [];
      selected.forEach((c, k) => (values[c] = all.subarray(k * r.cap, k * r.cap + r.rows)));
      const rowNumbers = new Float64Array(r.rows);
      const lines = all.subarray(selected.length * r.cap);
      for (let i = 0; i < r.rows; i++) rowNumbers[i] = linesBefore + lines[i] + 1;
      linesBefore += r.lines;
      const block: RowBlock = { rows: r.rows, values, firstRow: 0, rowNumbers, describe: () => null };
      try {
        asm.addBlock(block);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        plain = false;
        break;
      }
      while (asm.ready.length) {
        const c = asm.ready.shift()!;
        delivered += c.rows;
        yield c;
      }
    }
    if (plain) {
      try {
        asm.finish();
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        plain = false;
      }
      if (plain) {
        while (asm.ready.length) yield asm.ready.shift()!;
        return;
      }
    }
  } finally {
    await reader.close();
  }
  info.handedOver = true;
  // Outside the plain case: the serial reader, from the start, skipping what was delivered (same rows → same
  // chunk boundaries, see the file comment).
  for await (const c of serial()) {
    if (delivered > 0) {
      delivered -= c.rows;
      if (delivered < 0) throw new Error(`${path}: internal error: the serial reader's chunks do not line up with the parallel reader's`);
      continue;
    }
    yield c;
  }
}

/**
 * Reads the file in blocks of whole lines and parses them on a pool of threads, returning the replies in block
 * order (block i goes to worker i mod n, so no reply waits on a slower worker's later block). At most
 * IN_FLIGHT · n blocks are sent and not yet consumed; so block i's input buffer and its worker's reply buffer are
 * free again when block i + IN_FLIGHT · n is sent (both are reused in turn: no allocation per block).
 */
class BlockParser {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: ParseReply) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  private readonly inputs: SharedArrayBuffer[] = [];
  /** Threads running JavaScript; blocks meant for one still starting are parsed here (`local`). */
  private readonly online: boolean[] = [];
  private local: ((req: ParseRequest) => ParseReply) | null = null;

  constructor(
    private readonly path: string,
    n: number,
    private readonly blockBytes: number,
    private readonly shape: Omit<ParseShape, 'slots'>,
    /** Parse blocks of threads still starting here, counted in `localBlocks` (null: never). */
    private readonly whileStarting: ParallelPassInfo | null,
  ) {
    for (let i = 0; i < n; i++) {
      const w = spawnWorker(import.meta.url, 'csv-parse-worker', { ...shape, slots: IN_FLIGHT } satisfies ParseShape);
      this.online.push(false);
      w.once('online', () => (this.online[i] = true));
      w.on('message', (r: ParseReply) => {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        p?.resolve(r);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (this.pending.size > 0) this.fail(new Error(`a CSV parser thread exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  private fail(e: unknown): void {
    this.failure ??= new Error(`worker: ${e instanceof Error ? e.message : String(e)}`);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  private send(id: number, sab: SharedArrayBuffer, length: number): Promise<ParseReply> {
    if (this.failure) return Promise.reject(this.failure);
    const req: ParseRequest = { id, sab, length, first: id === 0 };
    const n = this.workers.length;
    if (this.whileStarting && !this.online[id % n]) {
      // Its thread is still starting (≈ 0.1 s, more on a busy machine): parse the block here with the same parser,
      // so the pass does not wait. The reply is the thread's, value for value; this parser's reply buffers are reused
      // after IN_FLIGHT · n blocks, when the block is long consumed (the limit on blocks in flight).
      this.local ??= blockParser({ ...this.shape, slots: IN_FLIGHT * n });
      this.whileStarting.localBlocks++;
      try {
        return Promise.resolve(this.local(req));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length].postMessage(req);
    });
  }

  /** Input buffer of block `id`, with room for `bytes`. */
  private input(id: number, bytes: number): SharedArrayBuffer {
    const k = id % (IN_FLIGHT * this.workers.length);
    if (!this.inputs[k] || this.inputs[k].byteLength < bytes) this.inputs[k] = new SharedArrayBuffer(bytes);
    return this.inputs[k];
  }

  /** Replies in block order; stops early when the consumer stops. */
  async *replies(): AsyncGenerator<ParseReply> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch (e) {
      throw new UserError(`${this.path}: cannot read data file (${(e as Error).message})`);
    }
    const queue: Promise<ParseReply>[] = [];
    try {
      let carry = Buffer.alloc(0), pos = 0, id = 0, eof = false;
      const limit = IN_FLIGHT * this.workers.length;
      while (!eof || queue.length > 0) {
        while (!eof && queue.length < limit) {
          // Read straight into the block's shared buffer, after the partial line carried from the last block.
          const sab = this.input(id, carry.length + this.blockBytes);
          const buf = Buffer.from(sab);
          carry.copy(buf, 0);
          const { bytesRead: n } = await fh.read(buf, carry.length, this.blockBytes, pos);
          pos += n;
          const have = carry.length + n;
          if (n === 0) {
            eof = true;
            if (have > 0) queue.push(this.send(id++, sab, have));
            break;
          }
          const cut = buf.lastIndexOf(10, have - 1);
          if (cut < 0) {
            // A line longer than a block: read on, up to the serial reader's line limit (the worker then answers
            // not-plain and the serial reader reports the line).
            if (have > MAX_LINE_CHARS) {
              queue.push(this.send(id++, sab, have));
              eof = true;
            } else carry = Buffer.from(buf.subarray(0, have));
            continue;
          }
          carry = Buffer.from(buf.subarray(cut + 1, have));
          queue.push(this.send(id++, sab, cut + 1));
        }
        if (queue.length === 0) break;
        const r = await queue.shift()!;
        yield r;
        if (!r.plain) return;
      }
    } finally {
      await fh.close();
      // Replies still in flight are dropped (their promises may reject when the pool closes).
      for (const q of queue) q.catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

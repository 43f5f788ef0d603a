import { Worker } from 'node:worker_threads';
import type { SequenceChunk } from './dataset.js';

/**
 * Start a worker thread on the module `name` (without extension) next to `here` (the caller's import.meta.url):
 * `name.js` when running compiled JS (dist/); under tsx (tests, `npm run bench`) the `.ts` module is loaded through
 * an eval bootstrap that registers tsx's ESM loader first, because `new Worker('x.ts')` fails with
 * ERR_UNKNOWN_FILE_EXTENSION.
 */
export function spawnWorker(here: string, name: string, workerData: unknown): Worker {
  if (here.endsWith('.ts')) {
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL(`./${name}.ts`, here).href;
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true, workerData });
  }
  return new Worker(new URL(`./${name}.js`, here), { workerData });
}

/** A chunk as posted to a thread through a `ChunkSlot`: views of the shared buffer, no copy. */
export interface SlotMessage {
  sab: SharedArrayBuffer;
  dx: number;
  dy: number;
  rows: number;
  nseq: number;
}

/**
 * Chunks reach a worker through a SharedArrayBuffer ("slot") reused for every chunk: the main thread copies the
 * rows in once and posts the shared buffer (no serialisation copy, nothing transferred or detached); the worker
 * reads views of it (`slotChunk`). The owner writes a slot only after the worker is done with its previous chunk.
 * Shared, not transferred: transferring detaches the buffers, and one detached ArrayBuffer makes V8 guard every
 * later typed-array access of the thread (≈ 25% slower loops, measured).
 */
export class ChunkSlot {
  private sab = new SharedArrayBuffer(0);
  /** Copy the chunk into the slot (growing it when needed) and return the message that describes it. */
  fill(c: SequenceChunk): SlotMessage {
    const xb = 8 * c.rows * c.dx, yb = 8 * c.rows * c.dy, need = xb + yb + 4 * c.lengths.length;
    if (this.sab.byteLength < need) this.sab = new SharedArrayBuffer(Math.max(need, Math.ceil(this.sab.byteLength * 1.5)));
    new Float64Array(this.sab, 0, c.rows * c.dx).set(c.x.subarray(0, c.rows * c.dx));
    new Float64Array(this.sab, xb, c.rows * c.dy).set(c.y.subarray(0, c.rows * c.dy));
    new Int32Array(this.sab, xb + yb, c.lengths.length).set(c.lengths);
    return { sab: this.sab, dx: c.dx, dy: c.dy, rows: c.rows, nseq: c.lengths.length };
  }
}

/** The chunk a `ChunkSlot.fill` message describes (views of the shared buffer). */
export function slotChunk(m: SlotMessage): SequenceChunk {
  const { sab, dx, dy, rows, nseq } = m;
  const xb = 8 * rows * dx, yb = 8 * rows * dy;
  return { dx, dy, rows, x: new Float64Array(sab, 0, rows * dx), y: new Float64Array(sab, xb, rows * dy), lengths: new Int32Array(sab, xb + yb, nseq) };
}

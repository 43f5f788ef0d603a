/**
 * Threads for the pass runner's `mapChunks` (src/learn/passes.ts): `size` workers (src/learn/chunk-worker.ts),
 * started once per fit, that run a task (src/learn/chunk-tasks.ts) on the chunks they are sent. The chunks sent go
 * round-robin to the workers, each through one of that worker's SLOTS shared buffers (src/io/threads.ts
 * `ChunkSlot`); at most
 * SLOTS chunks per worker are in flight, so memory is bounded by size × SLOTS chunks. Results come back with the
 * chunk's index: which thread computed a result, and when, changes nothing about it.
 */
import type { Worker } from 'node:worker_threads';
import type { SequenceChunk } from '../io/dataset.js';
import { ChunkSlot, spawnWorker } from '../io/threads.js';
import type { ChunkTask, ThreadCallName } from './chunk-tasks.js';

const SLOTS = 2;

/** A call that has not answered in this long is given up (the caller then computes the result itself). */
const CALL_TIMEOUT_MS = 120_000;

type Reply = { run: number; index: number; result?: unknown; error?: string };

export class ChunkPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly slots: ChunkSlot[][] = [];
  /** Chunks sent and not answered, per worker (FIFO: a worker answers in the order it was sent). */
  private readonly inFlight: number[] = [];
  private readonly sent: number[] = [];
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private wake: (() => void) | null = null;
  private broken: Error | null = null;
  private runs = 0;
  /** Round-robin over the workers (reset per pass). */
  private next = 0;
  private busy = false;
  private closed = false;
  /** A call failed or timed out: later calls run on the caller's thread. */
  private callsFailed = false;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`ChunkPool: size must be a positive integer, got ${size}`);
    this.size = size;
    for (let i = 0; i < size; i++) {
      const w = spawnWorker(import.meta.url, 'chunk-worker', null);
      w.on('message', (r: Reply) => this.reply(i, r));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`a pass thread exited with code ${code}`));
      });
      // Idle threads must not keep the process alive (a library user may forget `close`); a pass refs them.
      w.unref();
      this.workers.push(w);
      this.slots.push(Array.from({ length: SLOTS }, () => new ChunkSlot()));
      this.inFlight.push(0);
      this.sent.push(0);
    }
  }

  private reply(i: number, r: Reply): void {
    if (r.run !== this.runs) return;
    this.inFlight[i]--;
    const p = this.waiting.get(r.index);
    this.waiting.delete(r.index);
    if (r.error !== undefined) p?.reject(new Error(r.error));
    else p?.resolve(r.result);
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private fail(e: unknown): void {
    this.broken ??= new Error(`pass thread: ${e instanceof Error ? e.message : String(e)}`);
    for (const p of this.waiting.values()) p.reject(this.broken);
    this.waiting.clear();
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Start a pass of `task`; then `send` each chunk, and `end` when done. Passes do not overlap. */
  begin(task: ChunkTask): void {
    if (this.closed) throw new Error('ChunkPool: closed');
    if (this.busy) throw new Error('ChunkPool: a pass is already running');
    if (this.broken) throw this.broken;
    this.busy = true;
    this.next = 0;
    for (const w of this.workers) w.ref();
    const run = ++this.runs;
    for (const w of this.workers) w.postMessage({ type: 'task', run, name: task.name, payload: task.payload });
  }

  /**
   * Send chunk `index`: resolves once it is sent (after waiting while its worker has SLOTS chunks in flight) to the
   * promise of its result. Await each send before the next (one waiter at a time).
   */
  async send(index: number, chunk: SequenceChunk, sequenceOffset: number): Promise<{ result: Promise<unknown> }> {
    const i = this.next++ % this.size;
    while (this.inFlight[i] >= SLOTS && this.broken === null) await new Promise<void>((res) => (this.wake = res));
    if (this.broken) throw this.broken;
    // Worker i answers in order, so with fewer than SLOTS in flight the chunk that last used this slot is done.
    const slot = this.slots[i][this.sent[i]++ % SLOTS];
    const result = new Promise<unknown>((resolve, reject) => this.waiting.set(index, { resolve, reject }));
    this.inFlight[i]++;
    this.workers[i].postMessage({ type: 'chunk', run: this.runs, index, sequenceOffset, ...slot.fill(chunk) });
    // Handled at once (a failed pass rejects the results still in flight); the caller awaits it in order.
    result.catch(() => undefined);
    return { result };
  }

  /** The pass is over (all its results awaited, or it failed). */
  end(failed: boolean): void {
    this.busy = false;
    for (const w of this.workers) w.unref();
    if (!failed) return;
    // Chunks of a failed pass may still be read by a worker: give every worker fresh slots; answers of the old
    // run are ignored (run number).
    this.waiting.clear();
    for (let i = 0; i < this.size; i++) {
      this.slots[i] = Array.from({ length: SLOTS }, () => new ChunkSlot());
      this.inFlight[i] = 0;
    }
  }

  /**
   * Run the whole-data function `name` (src/learn/chunk-tasks.ts THREAD_CALLS; its arguments and outputs are in
   * shared memory) on the first thread while the caller works on; `wait()` blocks this thread until it is done
   * (Atomics.wait, for synchronous callers such as the refinement's normal equations) and is false when the call
   * could not run or failed: the caller then computes the result itself (the same function on the same data: the
   * same bits). Not during a pass (`begin` … `end`).
   */
  call(name: ThreadCallName, args: unknown): { wait(): boolean } {
    if (this.closed || this.busy || this.broken || this.callsFailed) return { wait: () => false };
    const status = new Int32Array(new SharedArrayBuffer(4));
    this.workers[0].postMessage({ type: 'call', name, args, status });
    return {
      wait: () => {
        const ok = Atomics.wait(status, 0, 0, CALL_TIMEOUT_MS) !== 'timed-out' && Atomics.load(status, 0) === 1;
        if (!ok) this.callsFailed = true;
        return ok;
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

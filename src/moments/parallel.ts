import { Worker } from 'node:worker_threads';
import { DataSource, SequenceChunk, splitChunk } from '../io/dataset.js';
import { ChunkSlot, spawnWorker } from '../io/threads.js';
import { InputModel } from '../input/model.js';
import { AccumulatorSpec, MomentAccumulator, momentPass } from './accumulator.js';
import { ControlVariateFit } from './control.js';
import { createAccumulator } from './spec.js';

/**
 * Moment passes over a data source, serial or on worker threads (node:worker_threads).
 *
 * The parallel pass ships the input model (as JSON), the accumulator specs and the fitted control
 * variate to each worker once, then streams chunks to whichever worker is idle (at most one chunk in
 * flight per worker, so memory stays bounded by workers × chunk size). Each worker keeps its own
 * accumulators and returns `{ count, sum }` at the end; the main thread merges them. Because merge is
 * elementwise addition, the result equals the serial pass up to floating-point summation order.
 *
 * Worker entry: `worker.ts` next to this file (started by src/io/threads.ts, under tsx or compiled).
 */
export interface PassOptions {
  /** Control-variate fit for accumulators with target 'residual'. */
  residual?: ControlVariateFit | null;
}

export interface ParallelPassOptions extends PassOptions {
  /** Number of worker threads (default 2). */
  workers?: number;
  /** Chunks with more rows are split (by whole sequences) into pieces of about this many rows (default 20000). */
  maxRows?: number;
  /** Extra module URLs each worker imports first (e.g. to register a user InputModel kind). */
  modules?: string[];
}

type Source = DataSource | SequenceChunk | SequenceChunk[];

async function* iterate(source: Source): AsyncGenerator<SequenceChunk> {
  if (typeof (source as DataSource).chunks === 'function') {
    for await (const c of (source as DataSource).chunks()) yield c;
  } else if (Array.isArray(source)) {
    for (const c of source) yield c;
  } else yield source as SequenceChunk;
}

/** Single-threaded pass: build accumulators from specs (or use the given ones) and feed every chunk. */
export async function runSerialPass(
  model: InputModel | null,
  accs: (AccumulatorSpec | MomentAccumulator)[],
  source: Source,
  opts: PassOptions = {},
): Promise<MomentAccumulator[]> {
  const list = accs.map((a) => (a instanceof MomentAccumulator ? a : createAccumulator(a, model)));
  for await (const c of iterate(source)) momentPass(model, c, list, opts.residual ?? null);
  return list;
}

/** What a worker gets at start-up (workerData): modules to import first (e.g. a user InputModel kind). */
interface WorkerStart {
  modules: string[];
}

function spawn(start: WorkerStart): Worker {
  return spawnWorker(import.meta.url, 'worker', start);
}

type State = { count: number; sum: Float64Array };
type WorkerMessage = { type: string; run?: number; message?: string; states?: State[] };

/** The bookkeeping of one pass on the pool. */
interface Run {
  /** Sequence number; worker replies carry it, so late replies of a failed pass cannot touch the next one. */
  id: number;
  /** Chunks sent and not yet acknowledged, per worker. */
  queued: number[];
  results: (State[] | null)[];
  failure: Error | null;
  wake: (() => void) | null;
  done: ((() => void) | null)[];
}

export interface PoolOptions {
  /** Number of worker threads (default 2). */
  workers?: number;
  /** Extra module URLs each worker imports first (e.g. to register a user InputModel kind). */
  modules?: string[];
}

/**
 * Worker threads kept for several moment passes (thread start-up, module loading and JIT warm-up are paid once):
 * `const pool = new MomentWorkerPool({ workers: 2 }); await pool.run(model, specs, source); …; await pool.close()`.
 * Each `run` ships the model, specs and control-variate fit to every worker, streams the chunks round-robin (piece
 * i to worker i mod n, one in flight per worker) and merges the workers' sums in worker order, so a run's result
 * does not depend on timing: the same data give the same bits every run. Runs do not overlap.
 */
export class MomentWorkerPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly slots: ChunkSlot[] = [];
  private run_: Run | null = null;
  /** An error that happened outside a run (a module failed to load, a worker exited): fails the next run. */
  private broken: Error | null = null;
  private closed = false;
  private runs = 0;

  constructor(opts: PoolOptions = {}) {
    const nw = opts.workers ?? 2;
    if (!Number.isInteger(nw) || nw < 1) throw new RangeError(`worker pool: workers must be a positive integer, got ${nw}`);
    this.size = nw;
    for (let i = 0; i < nw; i++) {
      const w = spawn({ modules: opts.modules ?? [] });
      this.workers.push(w);
      this.slots.push(new ChunkSlot());
      w.on('message', (m: WorkerMessage) => this.onMessage(i, m));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`a worker exited with code ${code}`), true);
      });
    }
  }

  private fail(e: unknown, fatal = false): void {
    const err = new Error(`worker: ${e instanceof Error ? e.message : String(e)}`);
    if (fatal) this.broken ??= err;
    const r = this.run_;
    if (r === null) {
      this.broken ??= err;
      return;
    }
    r.failure ??= err;
    const w = r.wake;
    r.wake = null;
    w?.();
    for (const d of r.done) d?.();
  }

  private onMessage(i: number, m: WorkerMessage): void {
    const r = this.run_;
    // Start-up errors carry no run id (they break the pool); replies of an earlier, failed pass are ignored.
    if (m.run === undefined) return this.fail(new Error(m.message), true);
    if (r === null || m.run !== r.id) return;
    if (m.type === 'error') return this.fail(new Error(m.message));
    if (m.type === 'ack') {
      r.queued[i]--;
      const w = r.wake;
      r.wake = null;
      w?.();
    } else if (m.type === 'result') {
      r.results[i] = m.states!;
      r.done[i]?.();
    }
  }

  /** One moment pass on the pool; returns one merged accumulator per spec, in spec order. */
  async run(
    model: InputModel | null,
    specs: AccumulatorSpec[],
    source: Source,
    opts: PassOptions & { maxRows?: number } = {},
  ): Promise<MomentAccumulator[]> {
    if (this.closed) throw new Error('worker pool: closed');
    if (this.run_ !== null) throw new Error('worker pool: a pass is already running on this pool');
    if (this.broken) throw this.broken;
    const nw = this.size, maxRows = opts.maxRows ?? 20000;
    const r: Run = { id: ++this.runs, queued: new Array(nw).fill(0), results: new Array(nw).fill(null), failure: null, wake: null, done: new Array(nw).fill(null) };
    this.run_ = r;
    let completed = false;
    try {
      const init = { type: 'init', run: r.id, model: model ? model.toJSON() : null, specs, residual: opts.residual ? opts.residual.toJSON() : null };
      for (const w of this.workers) w.postMessage(init);
      let next = 0;
      const send = async (c: SequenceChunk) => {
        const i = next++ % nw;
        while (r.queued[i] >= 1 && r.failure === null) await new Promise<void>((res) => (r.wake = res));
        if (r.failure) throw r.failure;
        r.queued[i]++;
        // Shared, not transferred: transferring detaches the buffers, and one detached ArrayBuffer makes V8 guard
        // every later typed-array access of this thread (≈ 25% slower loops, measured).
        this.workers[i].postMessage({ type: 'chunk', run: r.id, ...this.slots[i].fill(c) });
      };
      for await (const c of iterate(source)) {
        if (r.failure) throw r.failure;
        const parts = c.rows >= 2000 ? Math.max(nw, Math.ceil(c.rows / maxRows)) : 1;
        for (const piece of parts > 1 ? splitChunk(c, parts) : [c]) if (piece.rows > 0) await send(piece);
      }
      await Promise.all(
        this.workers.map(
          (w, i) =>
            new Promise<void>((resolve) => {
              r.done[i] = resolve;
              if (r.failure) resolve();
              else w.postMessage({ type: 'finish', run: r.id });
            }),
        ),
      );
      if (r.failure) throw r.failure;
      const merged = specs.map((s) => createAccumulator(s, model));
      for (const st of r.results) {
        st!.forEach((s, k) => merged[k].merge(createAccumulator(specs[k], model).loadState(s.count, s.sum)));
      }
      completed = true;
      return merged;
    } finally {
      this.run_ = null;
      // A worker may still be reading its slot for a chunk of this failed pass: the next pass must not write
      // into that buffer, so such workers get a fresh slot (the old buffer lives on in the pending message).
      if (!completed) for (let i = 0; i < nw; i++) if (r.queued[i] > 0) this.slots[i] = new ChunkSlot();
    }
  }

  /** Stop the threads; a pass still running fails with "worker pool: closed". */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.run_ !== null) this.fail('pool closed during the pass');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Run a moment pass on `workers` threads (a pool for this one pass). Returns one merged accumulator per spec, in
 * spec order. Throws the first worker error (message prefixed with "worker:"). For several passes, keep a
 * `MomentWorkerPool` instead (start-up ≈ 0.05–0.2 s per pool).
 */
export async function runParallelPass(
  model: InputModel | null,
  specs: AccumulatorSpec[],
  source: Source,
  opts: ParallelPassOptions = {},
): Promise<MomentAccumulator[]> {
  const pool = new MomentWorkerPool({ workers: opts.workers, modules: opts.modules });
  try {
    return await pool.run(model, specs, source, opts);
  } finally {
    await pool.close();
  }
}

import { Worker } from 'node:worker_threads';
import { DataSource, SequenceChunk, splitChunk } from '../io/dataset.js';
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
 * Worker entry: `worker.js` next to this file when running compiled JS (dist/); under tsx (tests,
 * `npm run bench`) the `.ts` worker is loaded through an eval bootstrap that registers tsx's ESM loader
 * first, because `new Worker('x.ts')` fails with ERR_UNKNOWN_FILE_EXTENSION (ECOSYSTEM.md).
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

interface WorkerInit {
  model: unknown;
  specs: AccumulatorSpec[];
  residual: unknown;
  modules: string[];
}

function spawn(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./worker.ts', here).href;
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true, workerData: init });
  }
  return new Worker(new URL('./worker.js', here), { workerData: init });
}

/** The chunk with compact arrays (cloning a subarray view would copy its whole parent buffer). */
function packChunk(c: SequenceChunk) {
  const compact = <T extends Float64Array | Int32Array>(a: T): T => (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T));
  return { dx: c.dx, dy: c.dy, rows: c.rows, x: compact(c.x), y: compact(c.y), lengths: compact(c.lengths) };
}

/**
 * Run a moment pass on `workers` threads. Returns one merged accumulator per spec, in spec order.
 * Throws the first worker error (message prefixed with "worker:").
 */
export async function runParallelPass(
  model: InputModel | null,
  specs: AccumulatorSpec[],
  source: Source,
  opts: ParallelPassOptions = {},
): Promise<MomentAccumulator[]> {
  const nw = opts.workers ?? 2;
  if (!Number.isInteger(nw) || nw < 1) throw new RangeError(`runParallelPass: workers must be a positive integer, got ${nw}`);
  const maxRows = opts.maxRows ?? 20000;
  const init: WorkerInit = {
    model: model ? model.toJSON() : null,
    specs,
    residual: opts.residual ? opts.residual.toJSON() : null,
    modules: opts.modules ?? [],
  };
  const workers: Worker[] = [];
  let failure: Error | null = null;
  // Pieces go round-robin (piece i to worker i mod nw) so each worker's partial sums, and so the merged
  // result, do not depend on timing: the same data give the same bits every run.
  const idle = new Set<Worker>();
  let wake: (() => void) | null = null;
  const results = new Map<Worker, { count: number; sum: Float64Array }[]>();
  const done = new Map<Worker, () => void>();
  const onFail = (e: unknown) => {
    if (failure === null) failure = new Error(`worker: ${e instanceof Error ? e.message : String(e)}`);
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
    for (const d of done.values()) d();
  };
  for (let i = 0; i < nw; i++) {
    const w = spawn(init);
    workers.push(w);
    idle.add(w);
    w.on('message', (m: { type: string; message?: string; states?: { count: number; sum: Float64Array }[] }) => {
      if (m.type === 'ack') {
        idle.add(w);
        if (wake) {
          const f = wake;
          wake = null;
          f();
        }
      } else if (m.type === 'result') {
        results.set(w, m.states!);
        done.get(w)?.();
      } else if (m.type === 'error') onFail(new Error(m.message));
    });
    w.on('error', onFail);
    w.on('exit', (code) => {
      if (!results.has(w) && code !== 0) onFail(new Error(`worker exited with code ${code}`));
    });
  }
  try {
    let next = 0;
    const send = async (c: SequenceChunk) => {
      const w = workers[next++ % nw];
      while (!idle.has(w) && failure === null) await new Promise<void>((r) => (wake = r));
      if (failure) throw failure;
      idle.delete(w);
      // Copied by the structured clone, not transferred: transferring detaches the buffers, and one detached
      // ArrayBuffer makes V8 guard every later typed-array access of this thread (≈ 25% slower loops, measured).
      w.postMessage({ type: 'chunk', chunk: packChunk(c) });
    };
    for await (const c of iterate(source)) {
      if (failure) throw failure;
      const parts = c.rows >= 2000 ? Math.max(nw, Math.ceil(c.rows / maxRows)) : 1;
      for (const piece of parts > 1 ? splitChunk(c, parts) : [c]) if (piece.rows > 0) await send(piece);
    }
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            done.set(w, resolve);
            if (failure) resolve();
            else w.postMessage({ type: 'finish' });
          }),
      ),
    );
    if (failure) throw failure;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const merged = specs.map((s) => createAccumulator(s, model));
  for (const w of workers) {
    const st = results.get(w)!;
    st.forEach((s, k) => {
      const part = createAccumulator(specs[k], model).loadState(s.count, s.sum);
      merged[k].merge(part);
    });
  }
  return merged;
}

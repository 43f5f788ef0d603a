/**
 * Work on one chunk that may run on any thread (the pass runner's `mapChunks`, src/learn/passes.ts): a task is
 * built from a JSON payload, so the main thread and a worker (src/learn/chunk-worker.ts) build the same function
 * from the same bytes, and a chunk's result does not depend on where it was computed. Only light modules are
 * imported here: every worker loads this file.
 */
import type { SequenceChunk } from '../io/dataset.js';
import { modelFromJSON } from '../models/serialize.js';
import { predict } from '../models/brnn.js';
import { BlowUpError } from '../rnn/recurrence.js';
import type { Layout } from '../rnn/layout.js';
import { gradientPass } from '../rnn/gradient.js';

/** A blow-up found on a chunk (a BlowUpError's fields, as data). */
export interface BlowUpFound {
  sequence: number;
  step: number;
  value: number;
  direction: 'forward' | 'backward';
}

/** Task name → factory of the per-chunk function (payload → (chunk, sequenceOffset) → result). */
export const CHUNK_TASKS = {
  /**
   * The stability check (src/learn/stability.ts): run `predict` with the model of the payload (a model file's JSON,
   * which keeps every float64 exactly) on whole sequences; the first blow-up, or null.
   */
  blowup(payload: unknown): (chunk: SequenceChunk, sequenceOffset: number) => BlowUpFound | null {
    const params = modelFromJSON(payload).params;
    return (chunk, sequenceOffset) => {
      try {
        predict(params, chunk, { sequenceOffset });
        return null;
      } catch (e) {
        if (!(e instanceof BlowUpError)) throw e;
        return { sequence: e.sequence, step: e.step, value: e.value, direction: e.direction };
      }
    };
  },
};

export type ChunkTaskName = keyof typeof CHUNK_TASKS;
export type ChunkTaskResult<N extends ChunkTaskName> = ReturnType<ReturnType<(typeof CHUNK_TASKS)[N]>>;

/** A task to run on every chunk of a pass: its name and the JSON payload its function is built from. */
export interface ChunkTask<N extends ChunkTaskName = ChunkTaskName> {
  name: N;
  payload: unknown;
}

/** Arguments of the 'gradient' call: the packed layout, and the data, θ and the output in shared memory. */
export interface GradientCallArgs {
  lay: Layout;
  chunks: SequenceChunk[];
  burnIn: number;
  theta: Float64Array;
  /** P gradient entries, then the pass's SSE, rows and blow-up flag (1/0). */
  out: Float64Array;
}

/**
 * Whole-data functions a pool thread runs while the main thread waits (ChunkPool.call): they write their results
 * into shared memory. The same code as on the main thread, on the same values, so the same bits.
 */
export const THREAD_CALLS = {
  /** The exact BPTT gradient of the refinement's squared error (src/rnn/gradient.ts) from a zero gradient. */
  gradient({ lay, chunks, burnIn, theta, out }: GradientCallArgs): void {
    const grad = out.subarray(0, lay.P);
    grad.fill(0);
    const pr = gradientPass(lay, theta, chunks, grad, burnIn);
    out[lay.P] = pr.sse;
    out[lay.P + 1] = pr.rows;
    out[lay.P + 2] = pr.blowup ? 1 : 0;
  },
};

export type ThreadCallName = keyof typeof THREAD_CALLS;

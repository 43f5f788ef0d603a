import { DataSource, SequenceChunk, memorySource, sequencesStarting, wholeSequences } from '../io/dataset.js';
import { ownRows } from './pieces.js';
import { CHUNK_TASKS, ChunkTask, ChunkTaskName, ChunkTaskResult } from './chunk-tasks.js';
import type { ChunkPool } from './chunk-pool.js';

/** Progress of a pass over the data: `rows` done so far, `totalRows` when known (after the first pass). */
export interface PassProgress {
  stage: string;
  rows: number;
  totalRows?: number;
}

export type ProgressCallback = (p: PassProgress) => void;

/** Anything the learners accept as training data. */
export type TrainingData = DataSource | SequenceChunk | SequenceChunk[];

/**
 * The training data as a source. A source that delivers one long sequence in pieces (`splitSequences`) is kept
 * as it is: the learner pipeline streams the pieces where its module can (src/learn/pieces.ts) and joins them
 * again (`wholeSequences`, memory then grows with the longest sequence) where it cannot.
 */
export function asSource(data: TrainingData): DataSource {
  if (Array.isArray(data)) return wholeSequences(memorySource(data));
  if ('chunks' in data && typeof data.chunks === 'function') return data;
  return memorySource(data as SequenceChunk);
}

/**
 * One streaming pass: calls `fn` on every chunk, reporting progress. Memory is whatever one chunk
 * needs, independent of the number of rows. `sequenceOffset` is the index of the chunk's first sequence in
 * the whole data (for error messages that name a sequence).
 */
export async function forEachChunk(
  source: DataSource,
  stage: string,
  fn: (chunk: SequenceChunk, sequenceOffset: number) => void | Promise<void>,
  onProgress?: ProgressCallback,
  totalRows?: number,
): Promise<{ rows: number; sequences: number }> {
  let rows = 0, sequences = 0;
  for await (const chunk of source.chunks()) {
    // A piece that continues a sequence (SequenceChunk.continued) keeps that sequence's index; halo rows
    // (src/learn/pieces.ts) are not counted.
    await fn(chunk, chunk.continued ? sequences - 1 : sequences);
    const [r0, r1] = ownRows(chunk);
    rows += r1 - r0;
    sequences += sequencesStarting(chunk);
    onProgress?.({ stage, rows, totalRows });
  }
  return { rows, sequences };
}

/**
 * A pass whose per-chunk work is a task (src/learn/chunk-tasks.ts): its result on every chunk, in file order.
 * With a pool of N − 1 threads (`--workers N`, N ≥ 2) this thread computes every N-th chunk itself (no copy) and
 * sends the others to the pool, at most a few per thread in flight; without a pool, every chunk runs here. A chunk's result is a function of the chunk alone, so the results, and whatever the
 * caller reduces from them in file order, are the same bits for every number of threads (docs/architecture.md,
 * "Parallel work"). `local` may claim a chunk for this thread (it returns the chunk's result, in order with the
 * others; e.g. the pieces of a long sequence, which carry a state from one chunk to the next).
 */
export async function mapChunks<N extends ChunkTaskName>(
  source: DataSource,
  stage: string,
  task: ChunkTask<N>,
  opts: {
    pool?: ChunkPool | null;
    local?: (chunk: SequenceChunk, sequenceOffset: number) => ChunkTaskResult<N> | undefined;
    onProgress?: ProgressCallback;
    totalRows?: number;
  } = {},
): Promise<ChunkTaskResult<N>[]> {
  const pool = opts.pool ?? null;
  const results: Promise<ChunkTaskResult<N>>[] = [];
  const fn = CHUNK_TASKS[task.name](task.payload);
  const share = pool ? pool.size + 1 : 1;
  pool?.begin(task);
  let ok = false;
  try {
    let index = 0;
    await forEachChunk(
      source,
      stage,
      async (chunk, sequenceOffset) => {
        const mine = opts.local?.(chunk, sequenceOffset);
        let r: Promise<ChunkTaskResult<N>>;
        if (mine !== undefined) r = Promise.resolve(mine);
        else if (pool === null || index % share === 0) r = Promise.resolve(fn(chunk, sequenceOffset) as ChunkTaskResult<N>);
        else r = (await pool.send(index, chunk, sequenceOffset)).result as Promise<ChunkTaskResult<N>>;
        results.push(r);
        index++;
      },
      opts.onProgress,
      opts.totalRows,
    );
    const out = await Promise.all(results);
    ok = true;
    return out;
  } finally {
    pool?.end(!ok);
  }
}

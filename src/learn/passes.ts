import { DataSource, SequenceChunk, memorySource, sequencesStarting, wholeSequences } from '../io/dataset.js';
import { ownRows } from './pieces.js';

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
  fn: (chunk: SequenceChunk, sequenceOffset: number) => void,
  onProgress?: ProgressCallback,
  totalRows?: number,
): Promise<{ rows: number; sequences: number }> {
  let rows = 0, sequences = 0;
  for await (const chunk of source.chunks()) {
    // A piece that continues a sequence (SequenceChunk.continued) keeps that sequence's index; halo rows
    // (src/learn/pieces.ts) are not counted.
    fn(chunk, chunk.continued ? sequences - 1 : sequences);
    const [r0, r1] = ownRows(chunk);
    rows += r1 - r0;
    sequences += sequencesStarting(chunk);
    onProgress?.({ stage, rows, totalRows });
  }
  return { rows, sequences };
}

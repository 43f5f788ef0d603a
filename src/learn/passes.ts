import { DataSource, SequenceChunk, memorySource, wholeSequences } from '../io/dataset.js';

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
 * The learners' passes read whole sequences: a source that delivers one long sequence in pieces
 * (`splitSequences`) has them joined again here (memory then grows with the longest sequence).
 */
export function asSource(data: TrainingData): DataSource {
  if (Array.isArray(data)) return wholeSequences(memorySource(data));
  if ('chunks' in data && typeof data.chunks === 'function') return wholeSequences(data);
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
    fn(chunk, sequences);
    rows += chunk.rows;
    sequences += chunk.lengths.length;
    onProgress?.({ stage, rows, totalRows });
  }
  return { rows, sequences };
}

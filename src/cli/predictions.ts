import { makeChunk, sliceSequences, type SequenceChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { predict } from '../models/brnn.js';
import { BlowUpError } from '../models/iornn.js';
import type { RNNParams } from '../models/params.js';

/**
 * Predictions for the CLI, with blow-ups (docs/method.md §6) reported in the user's terms: the data file, the
 * sequence id as written in its `seq` column, the file row, and the step within the sequence.
 */

/** What a reader attaches to a chunk (CSV, Arrow, Parquet): ids as written and each sequence's first row. */
interface FileChunk extends SequenceChunk {
  seqIds?: Float64Array;
  firstLine?: Float64Array;
  sequenceOffset?: number;
}

/** Where sequence `k` of a chunk blew up, in the file's terms. */
export function blowUpWhere(e: BlowUpError, chunk: FileChunk, dataFile: string, k: number, hasSeq: boolean): string {
  const id = chunk.seqIds && hasSeq ? `sequence seq = ${chunk.seqIds[k]}` : hasSeq ? `sequence ${(chunk.sequenceOffset ?? 0) + k + 1}` : 'the file\'s only sequence (no seq column)';
  const row = chunk.firstLine ? `, row ${chunk.firstLine[k] + e.step - 1}` : '';
  const v = Number.isFinite(e.value) ? e.value.toExponential(1) : String(e.value);
  return `${dataFile}${row}: ${id}, step ${e.step}${e.direction === 'backward' ? ' (backward states)' : ''} (|h| = ${v})`;
}

/** Predict a chunk; a blow-up becomes a UserError naming the model, the file, the sequence id and the row. */
export function predictOrExplain(params: RNNParams, chunk: FileChunk, dataFile: string, modelFile: string, hasSeq: boolean): Float64Array {
  try {
    return predict(params, chunk);
  } catch (e) {
    if (!(e instanceof BlowUpError)) throw e;
    throw new UserError(
      `the model ${modelFile} blows up on ${blowUpWhere(e, chunk, dataFile, e.sequence, hasSeq)}: its states escape (outside the stable regime of docs/method.md §6)`,
    );
  }
}

export interface PartialPrediction {
  /** The sequences that did not blow up, as one chunk (x, y copied), and the model's predictions on them. */
  kept: SequenceChunk;
  yhat: Float64Array;
  /** Sequences (in-chunk indices) that blew up, with where. */
  blown: { index: number; where: string }[];
}

/**
 * Predict every sequence of a chunk, leaving out those on which the model blows up (for evaluation: the error over
 * the others is still informative, and the count of blow-ups is reported next to it).
 */
export function predictSkippingBlowUps(params: RNNParams, chunk: FileChunk, dataFile: string, hasSeq: boolean): PartialPrediction {
  try {
    return { kept: chunk, yhat: predict(params, chunk), blown: [] };
  } catch (e) {
    if (!(e instanceof BlowUpError)) throw e;
  }
  const dy = chunk.dy, dx = chunk.dx;
  const parts: { c: SequenceChunk; yhat: Float64Array }[] = [];
  const blown: { index: number; where: string }[] = [];
  let r0 = 0;
  for (let k = 0; k < chunk.lengths.length; k++) {
    const r1 = r0 + chunk.lengths[k];
    const one = sliceSequences(chunk, k, k + 1, r0, r1);
    try {
      parts.push({ c: one, yhat: predict(params, one) });
    } catch (e) {
      if (!(e instanceof BlowUpError)) throw e;
      blown.push({ index: k, where: blowUpWhere(e, chunk, dataFile, k, hasSeq) });
    }
    r0 = r1;
  }
  const rows = parts.reduce((a, p) => a + p.c.rows, 0);
  const x = new Float64Array(rows * dx), y = new Float64Array(rows * dy), yhat = new Float64Array(rows * dy);
  let r = 0;
  for (const p of parts) {
    x.set(p.c.x, r * dx);
    y.set(p.c.y, r * dy);
    yhat.set(p.yhat, r * dy);
    r += p.c.rows;
  }
  return { kept: makeChunk(dx, dy, x, y, parts.map((p) => p.c.rows)), yhat, blown };
}

import { PieceSteps, makeChunk, sliceSequences, type DataSource, type SequenceChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { predictBRNN } from '../models/brnn.js';
import { BlowUpError, predictIORNN } from '../models/iornn.js';
import type { BRNNParams, RNNParams } from '../models/params.js';
import { backwardAfter, brnnPieces, keepAhead } from '../models/brnn-pieces.js';
import { NMSEAccumulator } from '../metrics/nmse.js';

/**
 * Predictions for the CLI, with blow-ups (docs/method.md §6) reported in the user's terms: the data file, the
 * sequence id as written in its `seq` column, the file row, and the step within the sequence.
 *
 * A long sequence may arrive in pieces (`continued` / `continues` chunks, see SequenceChunk): `ChunkPredictor`
 * carries the hidden state from one piece to the next (the RNN kernel's carried state, src/rnn/recurrence.ts), so
 * the predictions are those of the whole sequence, bit for bit (same recursion, same arithmetic), with memory of
 * one piece. A BRNN's backward states need the sequence's future: `forPrediction` reads its pieces ahead
 * (src/models/brnn-pieces.ts) and hands each piece on with the backward state after it.
 */

/**
 * The data as the predictors need it: pieces of long sequences as they come (memory of one chunk); if a model is
 * a BRNN, each piece comes with every BRNN's backward state after it (`brnnPieces`, memory of one chunk too).
 */
export function forPrediction<S extends DataSource>(source: S, ...models: (RNNParams | null | undefined)[]): S {
  const brnns = models.filter((p): p is BRNNParams => p?.kind === 'brnn');
  return brnns.length > 0 ? brnnPieces(source, brnns) : source;
}

/**
 * Rows per chunk for the CLI's readers: the readers' default, or GLOREE_CHUNK_ROWS (a knob for tests and
 * benchmarks: small chunks split sequences often).
 */
export function cliChunkRows(): number | undefined {
  const v = process.env.GLOREE_CHUNK_ROWS;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`GLOREE_CHUNK_ROWS=${v}: expected a positive integer`);
  return n;
}

/**
 * Predicts chunk after chunk of one pass, carrying the forward state across the pieces of a sequence (and taking
 * a BRNN's backward state after a piece from `forPrediction`). Blow-ups are thrown as BlowUpErrors whose `step`
 * counts from the sequence's true start.
 */
export class ChunkPredictor {
  private carry: Float64Array | null = null;
  /** Steps of the open (continuing) sequence in earlier chunks. */
  private readonly steps = new PieceSteps();
  /** The open sequence blew up in an earlier chunk: its later pieces are skipped (`predictSkipping`). */
  private dropped = false;

  constructor(readonly params: RNNParams) {}

  /** Steps of the chunk's first sequence before this chunk (0 unless it is `continued`); read before `predict`. */
  stepOffset(chunk: SequenceChunk): number {
    return this.steps.offset(chunk);
  }

  /**
   * Predictions of a chunk (a BlowUpError on escape, its step counted from the sequence's start). The carried
   * state changes only on success, so a failed chunk can be retried sequence by sequence.
   */
  predict(chunk: SequenceChunk, sequenceOffset = 0): Float64Array {
    const p = this.params;
    const offset = this.stepOffset(chunk);
    const final = chunk.continues ? new Float64Array(p.A1.rows) : undefined;
    const initial = chunk.continued ? this.carry ?? undefined : undefined;
    let yhat: Float64Array;
    // A BRNN's backward state after the chunk, or the escape of its open sequence found by reading ahead (its step
    // already counts from the sequence's start).
    const backward = p.kind === 'brnn' ? backwardAfter(p, chunk, sequenceOffset) : undefined;
    try {
      yhat =
        p.kind === 'brnn'
          ? predictBRNN(p, chunk, { sequenceOffset, carry: { forwardInitial: initial, forwardFinal: final, backwardInitial: backward } })
          : predictIORNN(p, chunk, { sequenceOffset, initialState: initial, finalState: final });
    } catch (e) {
      if (e instanceof BlowUpError && offset > 0 && e.sequence === sequenceOffset) throw new BlowUpError(e.sequence, e.step + offset, e.value, e.direction);
      throw e;
    }
    this.steps.advance(chunk);
    this.carry = final ?? null;
    return yhat;
  }

  /**
   * Predict every sequence of a chunk, leaving out those on which the model blows up (for evaluation: the error over
   * the others is still informative, and the count of blow-ups is reported next to it). A long sequence that blew
   * up in an earlier piece is left out of its later pieces too (and not counted again). `kept` keeps the
   * continuation flags of the sequences it keeps.
   */
  predictSkipping(chunk: FileChunk, dataFile: string, hasSeq: boolean, sequenceOffset = 0): PartialPrediction {
    const dropFirst = chunk.continued === true && this.dropped;
    const offset = this.stepOffset(chunk);
    if (!dropFirst) {
      try {
        const yhat = this.predict(chunk, sequenceOffset);
        this.dropped = false;
        return { kept: chunk, yhat, blown: [] };
      } catch (e) {
        if (!(e instanceof BlowUpError)) throw e;
      }
    }
    const dy = chunk.dy, dx = chunk.dx, n = chunk.lengths.length;
    const parts: { c: SequenceChunk; yhat: Float64Array }[] = [];
    const blown: { index: number; where: string }[] = [];
    let keptFirst = false, keptLast = false, dropped = false;
    let r0 = 0;
    for (let k = 0; k < n; k++) {
      const r1 = r0 + chunk.lengths[k];
      const continued = k === 0 && chunk.continued === true, continues = k === n - 1 && chunk.continues === true;
      if (k === 0 && dropFirst) {
        if (continues) dropped = true;
        r0 = r1;
        continue;
      }
      const one: SequenceChunk = { ...sliceSequences(chunk, k, k + 1, r0, r1), ...(continued ? { continued } : {}), ...(continues ? { continues, ...keepAhead(chunk) } : {}) };
      try {
        parts.push({ c: one, yhat: this.predict(one, sequenceOffset + k) });
        if (k === 0) keptFirst = continued;
        if (k === n - 1) keptLast = continues;
      } catch (e) {
        if (!(e instanceof BlowUpError)) throw e;
        blown.push({ index: k, where: blowUpWhere(e, chunk, dataFile, k, hasSeq, k === 0 ? offset : 0) });
        if (continues) dropped = true;
      }
      r0 = r1;
    }
    this.dropped = dropped;
    if (dropped) {
      this.carry = null;
      this.steps.reset();
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
    const kept = { ...makeChunk(dx, dy, x, y, parts.map((p) => p.c.rows)), ...(keptFirst ? { continued: true } : {}), ...(keptLast ? { continues: true, ...keepAhead(chunk) } : {}) };
    return { kept, yhat, blown };
  }
}

/** What a reader attaches to a chunk (CSV, Arrow, Parquet): ids as written and each sequence's first row. */
interface FileChunk extends SequenceChunk {
  seqIds?: Float64Array;
  firstLine?: Float64Array;
  sequenceOffset?: number;
}

/**
 * Where sequence `k` of a chunk blew up, in the file's terms. `e.step` counts from the sequence's start;
 * `stepOffset` is the number of its steps before this chunk (a continued first sequence), so the file row is
 * that of the step within this chunk.
 */
export function blowUpWhere(e: BlowUpError, chunk: FileChunk, dataFile: string, k: number, hasSeq: boolean, stepOffset = 0): string {
  const id = chunk.seqIds && hasSeq ? `sequence seq = ${chunk.seqIds[k]}` : hasSeq ? `sequence ${(chunk.sequenceOffset ?? 0) + k + 1}` : 'the file\'s only sequence (no seq column)';
  const row = chunk.firstLine ? `, row ${chunk.firstLine[k] + e.step - stepOffset - 1}` : '';
  const v = Number.isFinite(e.value) ? e.value.toExponential(1) : String(e.value);
  return `${dataFile}${row}: ${id}, step ${e.step}${e.direction === 'backward' ? ' (backward states)' : ''} (|h| = ${v})`;
}

/** Predict a chunk; a blow-up becomes a UserError naming the model, the file, the sequence id and the row. */
export function predictOrExplain(pred: ChunkPredictor, chunk: FileChunk, dataFile: string, modelFile: string, hasSeq: boolean): Float64Array {
  const offset = pred.stepOffset(chunk);
  try {
    return pred.predict(chunk);
  } catch (e) {
    if (!(e instanceof BlowUpError)) throw e;
    throw new UserError(
      `the model ${modelFile} blows up on ${blowUpWhere(e, chunk, dataFile, e.sequence, hasSeq, e.sequence === 0 ? offset : 0)}: its states escape (outside the stable regime of docs/method.md §6)`,
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
 * NMSE over whole sequences when they arrive in pieces: rows of a sequence still open at a chunk's end are summed
 * apart and join the total when it ends, or are dropped (`drop`) when it blows up later, so a sequence that
 * escapes is left out entirely, as when it is read whole.
 */
export class SequenceNMSE {
  readonly total: NMSEAccumulator;
  private open: NMSEAccumulator;

  constructor(readonly dy: number) {
    this.total = new NMSEAccumulator(dy);
    this.open = new NMSEAccumulator(dy);
  }

  /** Add a kept chunk's predictions (its continuation flags say which rows belong to open sequences). */
  add(yhat: Float64Array, y: Float64Array, kept: SequenceChunk): void {
    if (!kept.continued && !kept.continues) {
      this.total.add(yhat, y);
      return;
    }
    const dy = this.dy, n = kept.lengths.length, rows = kept.rows;
    const a = kept.continued ? kept.lengths[0] : 0;
    if (kept.continued && kept.continues && n === 1) {
      this.open.add(yhat, y);
      return;
    }
    if (a > 0) {
      this.open.add(yhat.subarray(0, a * dy), y.subarray(0, a * dy));
      this.total.merge(this.open);
      this.open = new NMSEAccumulator(dy);
    }
    const b = kept.continues ? rows - kept.lengths[n - 1] : rows;
    if (b > a) this.total.add(yhat.subarray(a * dy, b * dy), y.subarray(a * dy, b * dy));
    if (b < rows) this.open.add(yhat.subarray(b * dy), y.subarray(b * dy));
  }

  /** The open sequence blew up: forget its rows. */
  drop(): void {
    this.open = new NMSEAccumulator(this.dy);
  }
}

import { Matrix } from '../linalg/matrix.js';
import { DataSource, SequenceChunk } from '../io/dataset.js';
import { RNNParams } from '../models/params.js';
import { BlowUpError, accumulateStatesLS, forwardIORNN } from '../models/iornn.js';
import { backwardAfter } from '../models/brnn-pieces.js';
import { predictBRNN } from '../models/brnn.js';
import { solveOutputLS } from '../linalg/lstsq.js';
import { ProgressCallback, forEachChunk } from './passes.js';
import { RunLog } from './options.js';
import { keptSubchunk, strideSubchunk } from './chunks.js';
import { PieceJoiner, StepCounter } from './pieces.js';

/**
 * The output layer (docs/method.md §5 step 6, first part) and the U = 0 baseline (§6): least squares of y on the
 * simulated states [h; 1] (h = [h; z] for a BRNN), over all data in one streaming pass.
 */

/** Normal equations Σ g gᵀ (G, m×m) and Σ g yᵀ (C, m×dy) of the output-layer least squares, g = [states; 1]. */
export interface OutputLS {
  G: Float64Array;
  C: Float64Array;
}

/** Number of hidden states (dh, or dh + dz for a BRNN). */
export function stateCount(p: RNNParams): number {
  return p.kind === 'brnn' ? p.A1.rows + p.B1.rows : p.A1.rows;
}

/**
 * Σ [h;1][h;1]ᵀ and Σ [h;1] yᵀ for the output-layer least squares (docs/method.md §5 step 6, first part); h = [h; z]
 * for a BRNN. Throws (a BlowUpError) if the states escape.
 */
export function accumulateOutputLS(
  p: RNNParams,
  chunk: SequenceChunk,
  acc: OutputLS,
  seqOffset: number,
  /**
   * A piece of one long sequence: the (forward) state carried in and out (as `accumulateStatesLS`), and for a BRNN
   * the backward state after the piece (`backwardAfter`, src/models/brnn-pieces.ts).
   */
  carry: { initialState?: Float64Array; finalState?: Float64Array; backwardState?: Float64Array } = {},
): void {
  const K = stateCount(p), dy = chunk.dy, m = K + 1;
  if (p.kind !== 'brnn') {
    // Fused recursion + sums (no state array): same numbers, bit for bit, as the general path below.
    accumulateStatesLS(p, chunk, acc.G, acc.C, { sequenceOffset: seqOffset, initialState: carry.initialState, finalState: carry.finalState });
    mirrorUpper(acc.G, m);
    return;
  }
  const hidden = new Float64Array(chunk.rows * K);
  predictBRNN(p, chunk, { sequenceOffset: seqOffset, hidden, carry: { forwardInitial: carry.initialState, forwardFinal: carry.finalState, backwardInitial: carry.backwardState } });
  const g = new Float64Array(m);
  g[K] = 1;
  for (let r = 0; r < chunk.rows; r++) {
    for (let j = 0; j < K; j++) g[j] = hidden[r * K + j];
    for (let a = 0; a < m; a++) {
      const ga = g[a];
      for (let b = a; b < m; b++) acc.G[a * m + b] += ga * g[b];
      for (let i = 0; i < dy; i++) acc.C[a * dy + i] += ga * chunk.y[r * dy + i];
    }
  }
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) acc.G[a * m + b] = acc.G[b * m + a];
}

/** Copy the upper triangle of the m×m row-major G to its lower triangle. */
function mirrorUpper(G: Float64Array, m: number): void {
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) G[a * m + b] = G[b * m + a];
}

/** The solution W (m×dy, m = K + 1) of the output-layer least squares as A2 (K×dy) and b (dy). */
export function splitOutput(W: Float64Array, K: number, dy: number): { A2: Matrix; b: Float64Array } {
  return { A2: new Matrix(K, dy, W.slice(0, K * dy)), b: W.slice(K * dy, (K + 1) * dy) };
}

/** The same model with all recurrent weights zero (U = 0, and V = 0 for a BRNN): §6's feedforward baseline. */
export function withoutRecurrence<P extends RNNParams>(p: P): P {
  if (p.kind === 'brnn') return { ...p, U: new Matrix(p.U.rows, p.U.cols), V: new Matrix(p.V.rows, p.V.cols) };
  return { ...p, U: new Matrix(p.U.rows, p.U.cols) };
}

export interface OutputLayerPass {
  /** Normal equations for the model; valid only when `blownUp` is null. */
  model: OutputLS;
  /** Normal equations for the model without recurrence (always complete: its states cannot blow up). */
  feedforward: OutputLS;
  /** Whole sequences every `sampleStride`-th (empty without a stride), for the refinement. */
  sample: SequenceChunk[];
  /** The message of the blow-up if the model's states escaped on some chunk (then `model` is partial). */
  blownUp: string | null;
}

/**
 * The output-layer pass: normal equations for `model` and its U = 0 baseline over all data and (with
 * `sampleStride`) the refinement subsample. A blow-up of the model's states stops its accumulation only.
 */
export async function outputLayerPass(
  source: DataSource,
  model: RNNParams,
  opts: {
    sampleStride: number | null;
    /** Rows kept of one sampled sequence (the refinement's row cap; a long recording is cut there, see PieceJoiner). */
    maxSequenceRows?: number;
    /** Called with every chunk of the pass, in order (the refinement's window collector, src/learn/refine-sample.ts). */
    collect?: (chunk: SequenceChunk, sequenceOffset: number) => void;
    onProgress?: ProgressCallback;
    totalRows: number;
  },
): Promise<OutputLayerPass> {
  const m = stateCount(model) + 1, dy = source.dy;
  const reg: OutputLS = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
  const regFF: OutputLS = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
  const ffParams = withoutRecurrence(model);
  const sample = new PieceJoiner(opts.maxSequenceRows);
  let blownUp: string | null = null;
  // Pieces of one long sequence (SequenceChunk.continued / continues): the IO-RNN's state is carried across them.
  const carry = { state: null as Float64Array | null };
  const steps = new StepCounter();
  await forEachChunk(
    source,
    'output layer',
    (chunk, seqOffset) => {
      if (model.kind !== 'brnn' && blownUp === null) {
        // IO-RNN: the model and its U = 0 baseline in one fused loop (same sums, bit for bit, as below).
        const finalState = chunk.continues ? new Float64Array(model.A1.rows) : undefined;
        const initialState = chunk.continued ? carry.state ?? undefined : undefined;
        const failure = accumulateStatesLS(model, chunk, reg.G, reg.C, { sequenceOffset: seqOffset, feedforward: regFF, initialState, finalState });
        carry.state = finalState ?? null;
        if (failure) blownUp = steps.restep(failure, chunk, seqOffset).message;
        steps.advance(chunk);
        mirrorUpper(reg.G, m);
        mirrorUpper(regFF.G, m);
      } else {
        if (blownUp === null) {
          // BRNN: on pieces of one long sequence h is carried across them and z after a piece comes from reading
          // the sequence ahead (`brnnPieces`; an escape found there already counts its step from the sequence start).
          try {
            const backwardState = model.kind === 'brnn' ? backwardAfter(model, chunk, seqOffset) : undefined;
            const finalState = chunk.continues ? new Float64Array(model.A1.rows) : undefined;
            try {
              accumulateOutputLS(model, chunk, reg, seqOffset, { initialState: chunk.continued ? carry.state ?? undefined : undefined, finalState, backwardState });
              carry.state = finalState ?? null;
            } catch (e) {
              throw e instanceof BlowUpError ? steps.restep(e, chunk, seqOffset) : e;
            }
          } catch (e) {
            blownUp = (e as Error).message;
          }
        }
        steps.advance(chunk);
        // Without recurrence the states of a row depend on its input only: no carry.
        accumulateOutputLS(ffParams, chunk, regFF, seqOffset);
      }
      if (opts.sampleStride !== null) {
        const sub = strideSubchunk(chunk, seqOffset, opts.sampleStride);
        // The refinement takes whole sequences: kept pieces of one are joined (PieceJoiner), up to the row cap.
        const n = chunk.lengths.length, stride = opts.sampleStride;
        if (sub) sample.add(keptSubchunk(source, sub, chunk), chunk.continued === true && seqOffset % stride === 0, chunk.continues === true && (seqOffset + n - 1) % stride === 0);
      }
      opts.collect?.(chunk, seqOffset);
    },
    opts.onProgress,
    opts.totalRows,
  );
  return { model: reg, feedforward: regFF, sample: sample.chunks(), blownUp };
}

export interface OutputLayer<P extends RNNParams> {
  /** The model with the least-squares output layer (or `model` itself after a blow-up or without refit). */
  params: P;
  /** Condition number of the least squares, when it was solved. */
  cond?: number;
  /**
   * Spectral bias: ȳ = Â2ᵀ E[h] + b (the moments only see derivatives, so b comes from the means, E[h] from the
   * pass); ȳ itself after a blow-up.
   */
  spectralBias: Float64Array;
  /** Output layer of the U = 0 baseline. */
  feedforward: { A2: Matrix; b: Float64Array };
}

/**
 * Solve the output layer(s) of an `outputLayerPass` over `model`. After a blow-up the model keeps its spectral
 * output layer and a warning says `tooLarge` ('U is', 'U or V is') too large (and, with `refine`, that the
 * refinement starts from `shrunk` recurrent weights).
 */
export function solveOutputLayer<P extends RNNParams>(
  model: P,
  pass: OutputLayerPass,
  yMean: Float64Array,
  opts: { refit: boolean; refine: boolean; tooLarge: string; shrunk: string },
  log: RunLog,
): OutputLayer<P> {
  const K = stateCount(model), m = K + 1, dy = yMean.length;
  let params = model;
  let cond: number | undefined;
  if (pass.blownUp !== null) {
    log.warn(`the spectral estimate blows up on the training data (${pass.blownUp}); ${opts.tooLarge} too large for this data.${opts.refine ? ` Refinement starts from ${opts.shrunk}.` : ''}`);
  } else if (opts.refit) {
    const fit = solveOutputLS(pass.model.G, pass.model.C, m, dy);
    cond = fit.cond;
    params = { ...model, ...splitOutput(fit.W, K, dy) };
  }
  const spectralBias = yMean.slice();
  const n = pass.model.G[K * m + K];
  if (pass.blownUp === null && n > 0) {
    for (let i = 0; i < dy; i++) for (let j = 0; j < K; j++) spectralBias[i] -= model.A2.data[j * dy + i] * (pass.model.G[j * m + K] / n);
  }
  const feedforward = splitOutput(solveOutputLS(pass.feedforward.G, pass.feedforward.C, m, dy).W, K, dy);
  return { params, cond, spectralBias, feedforward };
}

/**
 * Share of the model's output variance (around its own mean, per chunk) that goes away when the recurrent
 * weights are set to zero (same input and output layers): Σ (ŷ − ŷ₀)² / Σ (ŷ − mean ŷ)².
 */
export function varianceShare(p: RNNParams, chunks: SequenceChunk[]): number {
  const p0 = withoutRecurrence(p);
  const run = (q: RNNParams, c: SequenceChunk): Float64Array => (q.kind === 'brnn' ? predictBRNN(q, c) : forwardIORNN(q, c).yhat);
  let num = 0, den = 0;
  for (const c of chunks) {
    const y1 = run(p, c);
    const y0 = run(p0, c);
    const dy = c.dy;
    const mean = new Float64Array(dy);
    for (let i = 0; i < y1.length; i++) mean[i % dy] += y1[i] / c.rows;
    for (let i = 0; i < y1.length; i++) {
      num += (y1[i] - y0[i]) ** 2;
      den += (y1[i] - mean[i % dy]) ** 2;
    }
  }
  return den > 0 ? num / den : 0;
}


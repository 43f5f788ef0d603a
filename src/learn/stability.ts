import { Matrix } from '../linalg/matrix.js';
import { DataSource, SequenceChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { BRNNParams, RNNParams } from '../models/params.js';
import { BlowUpError, predictIORNN } from '../models/iornn.js';
import { predictBRNN } from '../models/brnn.js';
import { backwardAfter, brnnPieces } from '../models/brnn-pieces.js';
import { residualSumOfSquares, solveOutputLS } from '../linalg/lstsq.js';
import { ProgressCallback, forEachChunk, mapChunks } from './passes.js';
import type { ChunkPool } from './chunk-pool.js';
import type { BlowUpFound } from './chunk-tasks.js';
import { modelToJSON } from '../models/serialize.js';
import { OutputLS, accumulateOutputLS, splitOutput, stateCount, withoutRecurrence } from './output-layer.js';
import { StabilisedDiagnostics } from './diagnostics.js';
import { StepCounter } from './pieces.js';

/**
 * The stability stage (docs/method.md §6): a fit that succeeds must give a model that `predict` and `evaluate`
 * run on the same training data. The refinement sees a subsample and the moments see averages, so an input the
 * subsample missed (heavy tails) can still drive the final model's states past the blow-up limit.
 *
 * 1. One pass runs `predict` with the final model over all training data (the same code and limit as
 *    `gloree predict`). If nothing blows up the model is returned unchanged.
 * 2. Otherwise one more pass runs the fallback candidates side by side — the fitted model with its recurrent
 *    weights shrunk by 1/2, 1/4, 1/10; the spectral estimate (before refinement) and the same shrunk; U = 0
 *    (V = 0) — with the output-layer normal equations of each. Among those that run on every sequence, the one with
 *    the lowest training MSE (after its own least-squares output layer) is kept. The diagnostics say which and
 *    why (`StabilisedDiagnostics`).
 * 3. If even U = 0 blows up (inputs so extreme that σ(A1 x) alone exceeds the limit), the fit fails with a
 *    message naming the data and the sequence.
 */

/** Shrink factors of the recurrent weights tried between the spectral estimate and U = 0. */
const SHRINK = [0.5, 0.25, 0.1];

/**
 * The first blow-up of `params` on `source` (its message), or null if the model runs on every sequence. A pass of
 * the pass runner's `mapChunks` (the 'blowup' task, on the pool's threads when there is one): each chunk's first
 * blow-up, the first of them in file order.
 */
export async function firstBlowUp(source: DataSource, params: RNNParams, opts: { pool?: ChunkPool | null; onProgress?: ProgressCallback; totalRows?: number } = {}): Promise<BlowUpError | null> {
  // Pieces of one long sequence run here, in order: the state is carried across them, as `gloree predict` does (a
  // BRNN's backward state after a piece from reading the sequence ahead, `brnnPieces`).
  let carry: Float64Array | null = null;
  const steps = new StepCounter();
  const local = (chunk: SequenceChunk, seqOffset: number): BlowUpFound | null | undefined => {
    if (!(chunk.continued || chunk.continues)) return undefined;
    const finalState = chunk.continues ? new Float64Array(params.A1.rows) : undefined;
    const initial = chunk.continued ? carry ?? undefined : undefined;
    const found = (r: BlowUpError): BlowUpFound => ({ sequence: r.sequence, step: r.step, value: r.value, direction: r.direction });
    try {
      if (params.kind === 'brnn') {
        let backwardInitial: Float64Array | undefined;
        try {
          backwardInitial = backwardAfter(params, chunk, seqOffset);
        } catch (e) {
          if (e instanceof BlowUpError) return found(e);
          throw e;
        }
        predictBRNN(params, chunk, { sequenceOffset: seqOffset, carry: { forwardInitial: initial, forwardFinal: finalState, backwardInitial } });
      } else predictIORNN(params, chunk, { sequenceOffset: seqOffset, initialState: initial, finalState });
    } catch (e) {
      if (!(e instanceof BlowUpError)) throw e;
      return found(steps.restep(e, chunk, seqOffset));
    } finally {
      steps.advance(chunk);
    }
    carry = finalState ?? null;
    return null;
  };
  const read = params.kind === 'brnn' ? brnnPieces(source, [params]) : source;
  const found = await mapChunks(read, 'stability check', { name: 'blowup', payload: modelToJSON(params) }, { ...opts, local });
  const first = found.find((f) => f !== null);
  return first ? new BlowUpError(first.sequence, first.step, first.value, first.direction) : null;
}

function scaleRecurrence<P extends RNNParams>(p: P, f: number): P {
  const scale = (M: Matrix): Matrix => new Matrix(M.rows, M.cols, M.data.map((v) => v * f));
  if (p.kind === 'brnn') return { ...p, U: scale(p.U), V: scale(p.V) };
  return { ...p, U: scale(p.U) };
}

export interface StabilityOutcome<P extends RNNParams> {
  params: P;
  /** Present when the model was replaced. */
  stabilised?: StabilisedDiagnostics;
}

/**
 * Check `fitted` on all of `source`; fall back as described in the file comment. `spectral` is the spectral
 * estimate (its output layer is refitted for every candidate); `fittedLabel` names the fitted model in the
 * diagnostics ('refined' or 'spectral').
 */
export async function ensureStable<P extends RNNParams>(
  source: DataSource,
  fitted: P,
  spectral: P,
  opts: { fittedLabel: string; pool?: ChunkPool | null; onProgress?: ProgressCallback; totalRows: number; warn: (m: string) => void },
): Promise<StabilityOutcome<P>> {
  const first = await firstBlowUp(source, fitted, opts);
  if (first === null) return { params: fitted };
  const rejected = [{ candidate: opts.fittedLabel, reason: first.message }];
  const candidates: [string, P][] = [];
  for (const f of SHRINK) candidates.push([`${opts.fittedLabel}, recurrent weights × ${f}`, scaleRecurrence(fitted, f)]);
  if (opts.fittedLabel !== 'spectral') {
    candidates.push(['spectral', spectral]);
    for (const f of SHRINK) candidates.push([`spectral, recurrent weights × ${f}`, scaleRecurrence(spectral, f)]);
  }
  candidates.push([spectral.kind === 'brnn' ? 'U = V = 0' : 'U = 0', withoutRecurrence(spectral)]);

  const m = stateCount(spectral) + 1, dy = source.dy;
  const sums: OutputLS[] = candidates.map(() => ({ G: new Float64Array(m * m), C: new Float64Array(m * dy) }));
  const failures: (string | null)[] = candidates.map(() => null);
  let yy = 0;
  // The fallback pass (only after a blow-up) runs the candidates side by side. Pieces of one long sequence: each
  // candidate carries its own state across them (as the output-layer pass does), a BRNN's backward state after a
  // piece from reading the sequence ahead for every candidate (`brnnPieces`).
  const carries: (Float64Array | null)[] = candidates.map(() => null);
  const steps = new StepCounter();
  const brnns = candidates.flatMap(([, p]): BRNNParams[] => (p.kind === 'brnn' ? [p] : []));
  await forEachChunk(
    brnns.length > 0 ? brnnPieces(source, brnns) : source,
    'stability fallback',
    (chunk, seqOffset) => {
      for (let i = 0; i < chunk.rows * dy; i++) yy += chunk.y[i] * chunk.y[i];
      const piece = chunk.continued === true || chunk.continues === true;
      candidates.forEach(([, p], k) => {
        if (failures[k] !== null) return;
        try {
          if (piece) {
            let backwardState: Float64Array | undefined;
            try {
              backwardState = p.kind === 'brnn' ? backwardAfter(p, chunk, seqOffset) : undefined;
            } catch (e) {
              if (!(e instanceof BlowUpError)) throw e;
              failures[k] = e.message; // its step already counts from the sequence start
              return;
            }
            const finalState = chunk.continues ? new Float64Array(p.A1.rows) : undefined;
            accumulateOutputLS(p, chunk, sums[k], seqOffset, { initialState: chunk.continued ? carries[k] ?? undefined : undefined, finalState, backwardState });
            carries[k] = finalState ?? null;
          } else accumulateOutputLS(p, chunk, sums[k], seqOffset);
        } catch (e) {
          if (!(e instanceof BlowUpError)) throw e;
          failures[k] = steps.restep(e, chunk, seqOffset).message;
        }
      });
      steps.advance(chunk);
    },
    opts.onProgress,
    opts.totalRows,
  );
  let best = -1, bestMSE = Infinity, bestW: Float64Array | null = null;
  const stable: { candidate: string; mse: number }[] = [];
  for (let k = 0; k < candidates.length; k++) {
    const why = failures[k];
    if (why !== null) {
      rejected.push({ candidate: candidates[k][0], reason: why });
      continue;
    }
    const W = solveOutputLS(sums[k].G, sums[k].C, m, dy).W;
    const mse = Math.max(0, residualSumOfSquares(yy, sums[k].G, sums[k].C, W, m, dy)) / (opts.totalRows * dy);
    stable.push({ candidate: candidates[k][0], mse });
    if (mse < bestMSE || best < 0) [best, bestMSE, bestW] = [k, mse, W];
  }
  if (best >= 0) {
    const [label, p] = candidates[best];
    opts.warn(
      `the ${opts.fittedLabel} model blows up on the training data (${first.message}); kept the stable "${label}" model instead ` +
        `(lowest training MSE of the stable candidates, with its least-squares output layer; see diagnostics.stabilised)`,
    );
    return { params: { ...p, ...splitOutput(bestW!, m - 1, dy) }, stabilised: { kept: label, rejected, stable, outputRefit: true } };
  }
  throw new UserError(
    `${source.name}: no stable model: even the model without recurrence blows up on the training data (${rejected[rejected.length - 1].reason}); ` +
      `the inputs have values far outside what the input directions can square; clip or rescale them`,
    { file: source.name },
  );
}

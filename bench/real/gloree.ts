/**
 * gloree rows of bench/real: fit through the public API exactly as `gloree fit` would (data in the recording's
 * units; the learner standardises internally), then a free run on the test input through the model's own
 * prediction path. Failures are rows too: an error is reported, never hidden.
 */
import { makeChunk } from '../../src/io/dataset.js';
import { fitRNN, type FitOptions } from '../../src/learn/fit.js';
import { activationFromSpec } from '../../src/models/activation.js';
import { predict } from '../../src/models/brnn.js';
import { fitVARp } from '../../src/input/varp-fit.js';
import type { RealData } from './data.js';

export interface GloreeFlags {
  /** As on the command line: --activation, --hidden, --input-model (var1 | iid | varp). */
  activation: string;
  hidden: number | 'auto';
  inputModel?: 'var1' | 'iid' | 'varp';
  /** Refinement iterations (RefineOptions.maxIter; the default is the learner's). */
  refineIterations?: number;
  seed?: number;
}

export interface GloreeRow {
  yhat: Float64Array | null;
  seconds: number;
  error?: string;
  notes: string[];
}

export function flagsToString(f: GloreeFlags): string {
  return `--activation ${f.activation} --hidden ${f.hidden}${f.inputModel && f.inputModel !== 'var1' ? ` --input-model ${f.inputModel}` : ''}${f.refineIterations ? ` --refine-iterations ${f.refineIterations}` : ''}`;
}

export async function gloreeRow(d: RealData, f: GloreeFlags): Promise<GloreeRow> {
  const lengths = d.train.map((s) => s.u.length);
  const rows = lengths.reduce((a, b) => a + b, 0);
  const x = new Float64Array(rows), y = new Float64Array(rows);
  let o = 0;
  for (const s of d.train) {
    x.set(s.u, o);
    y.set(s.y, o);
    o += s.u.length;
  }
  const train = makeChunk(1, 1, x, y, lengths);
  const test = makeChunk(1, 1, Float64Array.from(d.test.u), Float64Array.from(d.test.y), [d.test.u.length]);
  const notes: string[] = [];
  const t0 = performance.now();
  try {
    const opts: FitOptions = { hidden: f.hidden, activation: activationFromSpec(f.activation), seed: f.seed ?? 0, onWarning: (w: string) => notes.push(w) } as FitOptions;
    if (f.refineIterations) opts.refineOptions = { maxIter: f.refineIterations };
    if (f.inputModel === 'varp') {
      const ip = await fitVARp([train]);
      notes.push(`input model VAR(${ip.diagnostics.order}) by BIC (maxOrder ${ip.diagnostics.maxOrder})`);
      (opts as { inputModel?: unknown }).inputModel = ip.model;
    } else if (f.inputModel) (opts as { inputModel?: unknown }).inputModel = f.inputModel;
    const res = await fitRNN(train, opts);
    const seconds = (performance.now() - t0) / 1000;
    const start = (res.diagnostics as { start?: { used: string; reason: string } }).start;
    if (start) notes.push(`start: ${start.used} (${start.reason})`);
    const yhat = predictVolts(res, test);
    return { yhat, seconds, notes };
  } catch (e) {
    return { yhat: null, seconds: (performance.now() - t0) / 1000, error: (e as Error).message.split('\n')[0], notes };
  }
}

/** Predictions in the data's units: through the fitted model's scaling when it has one. */
function predictVolts(res: Awaited<ReturnType<typeof fitRNN>>, test: ReturnType<typeof makeChunk>): Float64Array {
  return predict(res.params, test);
}

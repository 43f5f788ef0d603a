/**
 * gloree rows of bench/real: fit through the public API exactly as `gloree fit` would (data in the recording's
 * units; the learner standardises internally), then a free run on the test input through the model's own
 * prediction path. Failures are rows too: an error is reported, never hidden.
 */
import { makeChunk } from '../../src/io/dataset.js';
import { fitRNN, type FitOptions } from '../../src/learn/fit.js';
import { activationFromSpec } from '../../src/models/activation.js';
import { predict } from '../../src/models/brnn.js';
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
  /** CPU seconds of this process during the fit (user + system; the machine may be shared, see the load average). */
  cpuSeconds: number;
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
  const t0 = performance.now(), c0 = process.cpuUsage();
  const cpu = () => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
  try {
    const opts: FitOptions = { hidden: f.hidden, activation: activationFromSpec(f.activation), seed: f.seed ?? 0 };
    if (f.refineIterations) opts.refineOptions = { maxIter: f.refineIterations };
    if (f.inputModel) opts.inputModel = f.inputModel;
    const res = await fitRNN(train, opts);
    const seconds = (performance.now() - t0) / 1000, cpuSeconds = cpu();
    notes.push(...describe(res.diagnostics));
    // The model is in the recording's units (the learner standardised internally and folded the scaling back).
    const yhat = predict(res.params, test);
    return { yhat, seconds, cpuSeconds, notes };
  } catch (e) {
    return { yhat: null, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpu(), error: (e as Error).message.split('\n')[0], notes };
  }
}

/** What the diagnostics say about the choices the fit made (input model order, start, refinement), for the notes. */
function describe(diag: unknown): string[] {
  const d = diag as {
    inputModel?: { kind?: string; order?: number };
    linear?: { order?: number };
    smooth?: { start?: string; linearStart?: { used: string; preActivationRms?: number; candidates?: { name: string; failure?: string }[] } };
    refine?: { iterations?: number; stopReason?: string; sample?: { mode: string; windows?: number; windowRows?: number; burnIn?: number; validationRows?: number } };
    stabilised?: { used?: string };
  };
  const out: string[] = [];
  if (d.inputModel?.kind === 'varp') out.push(`input model VAR(${d.inputModel.order}) by BIC`);
  if (d.linear?.order !== undefined) out.push(`state size ${d.linear.order}`);
  const ls = d.smooth?.linearStart;
  if (ls) {
    const failed = (ls.candidates ?? []).filter((c) => c.failure).map((c) => `${c.name} failed`);
    out.push(`start ${ls.used}${ls.preActivationRms !== undefined ? ` (s = ${ls.preActivationRms})` : ''}${failed.length ? `; ${failed.join(', ')}` : ''}`);
  }
  if (d.refine) out.push(`refinement ${d.refine.iterations ?? '?'} iterations (${d.refine.stopReason ?? '?'})`);
  const s = d.refine?.sample;
  if (s?.mode === 'windows') out.push(`refinement on ${s.windows} windows of ≈ ${s.windowRows} rows, burn-in ${s.burnIn}, validation = the last ${s.validationRows} rows`);
  if (d.stabilised) out.push(`stabilised: ${d.stabilised.used}`);
  return out;
}

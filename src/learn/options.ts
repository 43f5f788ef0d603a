import { DataSource } from '../io/dataset.js';
import { SpillSource } from '../io/spill.js';
import type { InputModelSpec } from './input-models.js';
import { RefineOptions } from './refine.js';
import { ProgressCallback, TrainingData, asSource } from './passes.js';

/** Options every learner takes (the learner-specific ones are in src/learn/gloree*.ts). */
export interface LearnerOptions {
  /**
   * 'auto' (default): a Gaussian VAR(1) when its residuals look Gaussian, else 'mixture'; 'var1': the Gaussian
   * VAR(1); 'iid': an i.i.d. Gaussian; 'mixture': VAR(1) with Gaussian-mixture innovations
   * (docs/non-gaussian-inputs.md); 'varp': Gaussian VAR(p), order by BIC or `inputOrder`; or a given input model. See src/learn/input-models.ts.
   */
  inputModel?: InputModelSpec;
  /** 'varp': the VAR order p (default: chosen by BIC over 0..8). */
  inputOrder?: number;
  /**
   * Fit on standardised input and output columns (mean 0, variance 1; one extra pass) and return the model in the
   * data's units (src/learn/standardise.ts). `fitRNN` turns it on by default for the linear and smooth learners.
   */
  standardise?: boolean;
  /**
   * On an engine source (`gloree fit … --engine duckdb|postgres`): run the moment passes as aggregate queries in the
   * engine where they have a SQL form (default false: the rows are streamed for every pass, which is faster today;
   * src/learn/engine-passes.ts `enginePassesFor` says why).
   */
  sqlPasses?: boolean;
  /** Use the control variate of §5 step 4 for the moments of order ≥ 3 (default true). */
  controlVariate?: boolean;
  /** At most about this many rows (whole sequences, evenly spread) fit the control-variate regression. */
  controlVariateMaxRows?: number;
  /** Refit A2 and b by least squares on the simulated states (default true). */
  refitOutput?: boolean;
  /** Second-order refinement of §5 step 6 (default true). */
  refine?: boolean;
  refineOptions?: RefineOptions;
  /**
   * At most this many rows (whole sequences, evenly spread over the data) are kept in memory for refinement
   * (default REFINE_MAX_ROWS); also the most rows of one sequence an identification sample keeps (`SequenceSample`).
   */
  refineMaxRows?: number;
  /**
   * Threads for the passes that run as tasks of the pass runner (`mapChunks`, src/learn/passes.ts), for data of at
   * least POOL_MIN_ROWS rows (default 1: everything on the calling thread). The model is the same, bit for bit,
   * for every value. The CLI passes `--workers` (default: the available cores).
   */
  workers?: number;
  /** Seed for every random choice (Jennrich contractions, refinement split). Default 0. */
  seed?: number;
  onProgress?: ProgressCallback;
  /** Replay passes 2… from a binary temp file instead of re-parsing a file source (default true). */
  spill?: boolean;
  /** Called with human-readable warnings (input model not stable, ill-conditioned steps, …). */
  onWarning?: (message: string) => void;
}

/** Warnings (also passed to `onWarning` as they happen) and the milliseconds each step took. */
export interface RunLog {
  warnings: string[];
  timings: Record<string, number>;
  warn(message: string): void;
  /** Record the time since the previous lap (or the start) under `name`. */
  lap(name: string): void;
}

export function runLog(onWarning?: (message: string) => void): RunLog {
  const warnings: string[] = [];
  const timings: Record<string, number> = {};
  let tick = performance.now();
  return {
    warnings,
    timings,
    warn(m) {
      warnings.push(m);
      onWarning?.(m);
    },
    lap(name) {
      const now = performance.now();
      timings[name] = Math.round((now - tick) * 10) / 10;
      tick = now;
    },
  };
}

/**
 * Run a learner on `data`. Text formats are parsed once: later passes replay a binary spill file (memory stays
 * one chunk), unless `spill` is false or the data are in memory.
 */
export async function withSpill<R>(data: TrainingData, opts: Pick<LearnerOptions, 'spill' | 'workers'>, fit: (source: DataSource) => Promise<R>): Promise<R> {
  const given = asSource(data);
  // With worker threads allowed, the replays read ahead on the I/O thread (same bytes; docs/architecture.md).
  const spilled = !given.inMemory && opts.spill !== false ? new SpillSource(given, { readAhead: (opts.workers ?? 1) >= 2 }) : null;
  try {
    return await fit(spilled ?? given);
  } finally {
    spilled?.close();
  }
}

/** Default of `LearnerOptions.refineMaxRows`. */
export const REFINE_MAX_ROWS = 200_000;

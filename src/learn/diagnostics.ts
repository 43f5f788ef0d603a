import { InputDiagnostics } from '../input/fit.js';
import type { VARpDiagnostics } from '../input/varp-fit.js';
import type { AutoDiagnostics } from '../input/auto.js';
import { ControlVariateFit } from '../moments/control.js';
import { RefineDiagnostics } from './refine.js';
import { RankSelection } from './rank.js';
import type { StandardisationDiagnostics } from './standardise.js';
import type { GloreeBlock } from './identify/quadratic.js';
import type { GloreeBBlock } from './identify/bidirectional.js';
import type { GloreePolyBlock } from './identify/polynomial.js';
import type { LinearBlock } from './identify/linear-module.js';
import type { SmoothBlock } from './identify/smooth-module.js';

/**
 * The diagnostics a fit stores in the model file: a learner tag, the common block every learner fills (the
 * shared stages of src/learn/pipeline.ts), and the identification module's own block, flat in one object:
 *   { learner: 'gloree', data, inputModel, controlVariate, feedforward, refine, warnings, …, rank, cp, pinv, … }
 * `FitDiagnostics` is the union over the tags, so `if (d.learner === 'gloree-b') d.split…` type-checks. Model
 * files written before the tag existed are read by `learnerOf`. Timings are not diagnostics (they differ run to
 * run): they are returned next to the model (`FitResult.timingsMs`).
 */

/** Which identification module made the model. */
export type LearnerTag = 'gloree' | 'gloree-b' | 'gloree-poly' | 'linear' | 'smooth';

export interface DataDiagnostics {
  rows: number;
  sequences: number;
  dx: number;
  dy: number;
  minLength: number;
  maxLength: number;
}

/**
 * The fitted input model's diagnostics, or `{ given: true }` for a model the caller supplied. `selection` (input
 * models 'auto' and 'mixture'): the Gaussianity test per coordinate (skewness, kurtosis, Jarque–Bera p-value
 * against the Bonferroni threshold), the choice, and the fitted mixture (unmixing matrix, components, BIC table).
 */
export type InputModelDiagnostics = (InputDiagnostics & { given?: boolean; selection?: AutoDiagnostics }) | VARpDiagnostics | { given: true };

export interface ControlVariateDiagnostics {
  used: boolean;
  features?: number;
  r2?: number[];
}

/** The refinement's diagnostics without the per-iteration history (only its length), the split and its clock. */
export type RefineSummary = Omit<RefineDiagnostics, 'history' | 'validationSequences' | 'timeMs'> & { historyLength: number; sample?: RefineSampleDiagnostics };

/**
 * Which rows the refinement computed on (src/learn/refine-windows.ts). 'sequences': whole sequences (20 % of the
 * sampled ones held out); 'windows': windows of the recording with a burn-in each, the validation block at its end.
 */
export interface RefineSampleDiagnostics {
  mode: 'sequences' | 'windows';
  /** Sequences in the data. */
  sequences: number;
  /** Rows in the refinement's training sample (windows: counted rows, burn-in excluded). */
  rows: number;
  windows?: number;
  validationWindows?: number;
  /** Counted rows per training window (the last of a stretch may be up to 1.5× longer). */
  windowRows?: number;
  burnIn?: number;
  /** Spectral radius of the start model's U, from which the burn-in was set. */
  spectralRadius?: number;
  validationRows?: number;
}

/**
 * The stability stage replaced the model (docs/method.md §6): the candidate that was kept, and why the ones before
 * it were rejected. Absent when the model ran on all of its training data as fitted.
 */
export interface StabilisedDiagnostics {
  /** The model kept: e.g. 'refined, recurrent weights × 0.5', 'spectral' (before refinement), 'U = 0'. */
  kept: string;
  /** Each rejected candidate and the blow-up that rejected it, in the order they were tried. */
  rejected: { candidate: string; reason: string }[];
  /** The candidates that ran on all training data, with their training MSE (the lowest was kept). */
  stable: { candidate: string; mse: number }[];
  /** The output layer of the kept model was refitted by least squares over all training data. */
  outputRefit: boolean;
}

/** What every learner reports (the shared stages). */
export interface CommonDiagnostics {
  data: DataDiagnostics;
  inputModel: InputModelDiagnostics;
  controlVariate: ControlVariateDiagnostics;
  /** The model without recurrence and its own least-squares output layer (§6: always compare). */
  feedforward?: { A2: number[][]; b: number[] };
  refine?: RefineSummary;
  stabilised?: StabilisedDiagnostics;
  /** Present when the fit ran on standardised columns (src/learn/standardise.ts). */
  standardisation?: StandardisationDiagnostics;
  warnings: string[];
}

/** @deprecated the old name of CommonDiagnostics. */
export type LearnerDiagnostics = CommonDiagnostics;

export type GloreeDiagnostics = { learner: 'gloree' } & CommonDiagnostics & GloreeBlock;
export type GloreeBDiagnostics = { learner: 'gloree-b' } & CommonDiagnostics & GloreeBBlock;
export type GloreePolyDiagnostics = { learner: 'gloree-poly' } & CommonDiagnostics & GloreePolyBlock;
export type LinearFitDiagnostics = { learner: 'linear' } & CommonDiagnostics & LinearBlock;
export type SmoothFitDiagnostics = { learner: 'smooth' } & CommonDiagnostics & SmoothBlock;
export type FitDiagnostics = GloreeDiagnostics | GloreeBDiagnostics | GloreePolyDiagnostics | LinearFitDiagnostics | SmoothFitDiagnostics;

/** The learner of a model file's diagnostics: its tag, or (files written before the tag) the block's keys. */
export function learnerOf(d: unknown): LearnerTag | null {
  if (typeof d !== 'object' || d === null) return null;
  const o = d as Record<string, unknown>;
  if (o.learner === 'gloree' || o.learner === 'gloree-b' || o.learner === 'gloree-poly' || o.learner === 'linear' || o.learner === 'smooth') return o.learner;
  if ('split' in o) return 'gloree-b';
  if ('directions' in o && 'activation' in o) return 'gloree-poly';
  if ('cp' in o && 'mixed' in o) return 'gloree';
  return null;
}

export function controlVariateDiagnostics(cvFit: ControlVariateFit | null): ControlVariateDiagnostics {
  return cvFit ? { used: true, features: cvFit.p, r2: cvFit.r2 } : { used: false };
}

/** The rank selection without its T2 (dy·dx² numbers, recoverable from the data), for the model file. */
export function withoutT2(r: RankSelection): Omit<RankSelection, 'T2'> {
  const { T2: _t2, ...rest } = r;
  void _t2;
  return rest;
}

import { Matrix } from '../linalg/matrix.js';
import { OptionError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { activationDegree, activationSymmetry } from '../models/activation.js';
import { IORNNParams, RNNParams, SQUARE } from '../models/params.js';
import { GloreeOptions, fitGloree } from './gloree.js';
import { fitGloreeB } from './gloree-b.js';
import { fitGloreePoly } from './gloree-poly.js';
import { TrainingData } from './passes.js';
import { FitDiagnostics, LearnerTag } from './diagnostics.js';
import { fitWith } from './pipeline.js';
import { checkFitOptions } from './check-options.js';
import type { Activation } from '../rnn/activation.js';
import { linear } from './identify/linear-module.js';
import { smooth } from './identify/smooth-module.js';

export type { FitDiagnostics, LearnerTag } from './diagnostics.js';
export { learnerOf } from './diagnostics.js';

/**
 * One entry point over the three learners, as the CLI and the estimator use it:
 * - kind 'iornn' with σ = c·z²: GLOREE (src/learn/gloree.ts, docs/method.md §5);
 * - kind 'iornn' with any other polynomial σ (degree ≥ 2, lower-order terms, scalar output): the degree-l
 *   learner (src/learn/gloree-poly.ts, docs/method.md §4 P1–P4);
 * - kind 'brnn': GLOREE-B (src/learn/gloree-b.ts, docs/method.md §4 F5). `hidden` is the number of forward neurons
 *   when `backward` is given, else the total (the split is then inferred from the mixed moments).
 */
export interface FitOptions extends Omit<GloreeOptions, 'hidden' | 'activation'> {
  kind?: 'iornn' | 'brnn';
  /**
   * σ: an object (`{ name: 'tanh' }`, `{ coefficients: [0, 0, 1] }`) or the CLI's spelling (`'tanh'`, `'z2'`,
   * `'0,0.1,0.5,1'`). Default σ(z) = z².
   */
  activation?: Activation | string;
  hidden: number | 'auto';
  /** BRNN only: number of backward neurons (then `hidden` counts the forward ones). */
  backward?: number;
}

export interface FitResult {
  params: RNNParams;
  inputModel: InputModel;
  diagnostics: FitDiagnostics;
  /** Which learner ran (also `diagnostics.learner`). */
  learner: LearnerTag;
  /** Milliseconds per stage; not stored in the model file (the same data and seed give the same bytes). */
  timingsMs: Record<string, number>;
  /** On an engine source: where each moment pass ran ('sql' or streamed rows, src/learn/engine-passes.ts); not in the model file. */
  passes?: Record<string, string>;
}

export function isPureQuadratic(act = SQUARE): boolean {
  return activationDegree(act) === 2 && activationSymmetry(act) === 'monomial';
}

export async function fitRNN(data: TrainingData, opts: FitOptions): Promise<FitResult> {
  const checked = checkFitOptions(opts);
  const { kind = 'iornn', backward, hidden, activation: _given, ...rest } = opts;
  const activation = checked ?? SQUARE;
  const common = { ...rest, ...(checked !== undefined ? { activation: checked } : {}) };
  if (kind === 'brnn') {
    if (activation.name !== undefined) {
      // docs/activations.md §3: the identities carry over (directions from the order-m moment, the forward/backward
      // split from the (t; t−1) and (t; t+1) mixed moments, two Hankel matrices for linear), but the BRNN learner's
      // split and U/V steps are written for σ = c·z² (their factors are constants only there), so it refuses.
      throw new OptionError('activation', activation, (n) =>
        `${n('kind')} brnn with ${n('activation')} ${activation.name}: bidirectional models are learned for σ(z) = c·z² only. ` +
          `The moment identities carry over to ${activation.name} (docs/activations.md, "What carries over to the BRNN"), but the bidirectional learner's forward/backward split and recurrent-weight steps are not implemented for it; ` +
          `fit an IO-RNN (without ${n('kind')} brnn) or use ${n('activation')} z2`);
    }
    if (!isPureQuadratic(activation)) {
      throw new OptionError('activation', activation, (n) => `${n('kind')} brnn: bidirectional models are learned for σ(z) = c·z² only; use ${n('activation')} z2`);
    }
    if (backward !== undefined && hidden === 'auto') {
      throw new OptionError('hidden', hidden, (n) => `${n('hidden')} auto with ${n('backward')}: give both sizes, or only ${n('hidden')} (the total) to infer the split`);
    }
    const r = await fitGloreeB(data, backward !== undefined ? { ...common, forward: hidden as number, backward } : { ...common, total: hidden });
    const p = r.params;
    if (p.B1.rows === 0) {
      // The data showed no backward neurons: the model is an IO-RNN (docs/method.md §2), saved as one.
      const params: IORNNParams = { kind: 'iornn', A1: p.A1, U: p.U, A2: p.A2, b: p.b, activation: p.activation };
      return { params, inputModel: r.inputModel, diagnostics: r.diagnostics, learner: 'gloree-b', timingsMs: r.timingsMs, ...(r.passes ? { passes: r.passes } : {}) };
    }
    return { ...r, learner: 'gloree-b' };
  }
  if (backward !== undefined) throw new OptionError('backward', backward, (n) => `${n('backward')} only applies to ${n('kind')} brnn`);
  // The linear and smooth learners are the ones for measured recordings (docs/real-data.md): they standardise by
  // default. The polynomial learners keep their inputs as given unless asked (their planted-model identities are
  // stated in the data's units).
  const std = { ...common, standardise: common.standardise ?? true };
  if (activation.name === 'linear') return { ...(await fitWith(linear({ hidden }), data, std)), learner: 'linear' };
  if (activation.name !== undefined) return { ...(await fitWith(smooth({ activation, hidden }), data, std)), learner: 'smooth' };
  if (isPureQuadratic(activation)) return { ...(await fitGloree(data, { ...common, hidden })), learner: 'gloree' };
  return { ...(await fitGloreePoly(data, { ...common, activation, hidden })), learner: 'gloree-poly' };
}

/**
 * The U = 0 (and V = 0) baseline stored in a model's diagnostics by every learner, as parameters; null if absent.
 * Its output layer was fitted for the spectral input directions, so those (diagnostics.spectral) are used when
 * present — not the refined ones, which the stored A2 does not belong to.
 */
export function feedforwardFromDiagnostics(params: RNNParams, diagnostics: unknown): RNNParams | null {
  const d = diagnostics as { feedforward?: { A2: number[][]; b: number[] }; spectral?: { A1?: number[][]; B1?: number[][] } } | undefined;
  if (!d?.feedforward) return null;
  const A2 = Matrix.from(d.feedforward.A2), b = Float64Array.from(d.feedforward.b);
  const dirs = (m: number[][] | undefined, fallback: Matrix): Matrix => (m && m.length === fallback.rows && m.length > 0 ? Matrix.from(m) : fallback);
  const A1 = dirs(d.spectral?.A1, params.A1);
  if (params.kind === 'brnn') {
    const B1 = dirs(d.spectral?.B1, params.B1);
    return { ...params, A1, B1, U: new Matrix(params.U.rows, params.U.cols), V: new Matrix(params.V.rows, params.V.cols), A2, b };
  }
  return { ...params, A1, U: new Matrix(params.U.rows, params.U.cols), A2, b };
}

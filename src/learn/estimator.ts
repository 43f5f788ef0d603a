import { SequenceChunk } from '../io/dataset.js';
import { InputModel } from '../input/model.js';
import { RNNParams } from '../models/params.js';
import { PredictOptions } from '../models/iornn.js';
import { predict } from '../models/brnn.js';
import { modelToJSON, saveModel } from '../models/serialize.js';
import { FitDiagnostics, FitOptions, fitRNN } from './fit.js';
import { TrainingData } from './passes.js';

/**
 * A fitted model: learned parameters (`params`), the input model the moments used, and the fit
 * diagnostics. Options live on the estimator, learned quantities here (scikit-learn's split).
 */
export class FittedRNN {
  constructor(
    readonly params: RNNParams,
    readonly inputModel: InputModel,
    readonly diagnostics: FitDiagnostics,
  ) {}

  /** Predicted outputs (rows×dy, row-major) for every step of the chunk's sequences. */
  predict(chunk: SequenceChunk, opts?: PredictOptions): Float64Array {
    return predict(this.params, chunk, opts);
  }

  /** The model-file object of DESIGN.md §8. */
  toJSON(): Record<string, unknown> {
    return modelToJSON(this.params, { inputModel: this.inputModel.toJSON(), diagnostics: this.diagnostics });
  }

  /** Write the model file atomically. */
  save(path: string): Promise<void> {
    return saveModel(path, this.params, { inputModel: this.inputModel.toJSON(), diagnostics: this.diagnostics });
  }
}

/** @deprecated name kept for the IO-RNN case. */
export const FittedIORNN = FittedRNN;

/**
 * Estimator API over the learners (src/learn/fit.ts):
 *   const model = await new GLOREE({ hidden: 4 }).fit(data); model.predict(chunk)
 *   new GLOREE({ kind: 'brnn', hidden: 4 })            // BRNN, split inferred
 *   new GLOREE({ hidden: 3, activation: { coefficients: [0, 0.1, 0.5, 1] } })   // cubic
 */
export class GLOREE {
  constructor(readonly options: FitOptions) {}

  async fit(data: TrainingData): Promise<FittedRNN> {
    const r = await fitRNN(data, this.options);
    return new FittedRNN(r.params, r.inputModel, r.diagnostics);
  }
}

import { SequenceChunk } from '../io/dataset.js';
import { InputModel } from '../input/model.js';
import { IORNNParams } from '../models/params.js';
import { predictIORNN, PredictOptions } from '../models/iornn.js';
import { modelToJSON, saveModel } from '../models/serialize.js';
import { GloreeDiagnostics, GloreeOptions, fitGloree } from './gloree.js';
import { TrainingData } from './passes.js';

/**
 * A fitted IO-RNN: learned parameters (`params`), the input model the moments used, and the fit
 * diagnostics. Options live on the estimator, learned quantities here (scikit-learn's split).
 */
export class FittedIORNN {
  constructor(
    readonly params: IORNNParams,
    readonly inputModel: InputModel,
    readonly diagnostics: GloreeDiagnostics,
  ) {}

  /** Predicted outputs (rows×dy, row-major) for every step of the chunk's sequences. */
  predict(chunk: SequenceChunk, opts?: PredictOptions): Float64Array {
    return predictIORNN(this.params, chunk, opts);
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

/**
 * Estimator API over {@link fitGloree}:
 *   const model = await new GLOREE({ hidden: 4 }).fit(data); model.predict(chunk)
 */
export class GLOREE {
  constructor(readonly options: GloreeOptions) {}

  async fit(data: TrainingData): Promise<FittedIORNN> {
    const r = await fitGloree(data, this.options);
    return new FittedIORNN(r.params, r.inputModel, r.diagnostics);
  }
}

/**
 * The RNN estimator (scikit-learn convention): options in the constructor, `fit(data)` returns a new fitted
 * `RNNModel`, which predicts, scores (NMSE), saves, and loads back (`RNNModel.load`). Thin: the learning is
 * `fitRNN` (src/learn/fit.ts), prediction `predict` (src/models), the file format src/models/serialize.ts.
 *
 *   const model = await new GLOREE({ hidden: 4, seed: 0 }).fit({ x, y });   // x[s][t][j], y[s][t][i]
 *   model.predict(x)          // nested in → nested out; a SequenceChunk in → rows×dy Float64Array out
 *   model.score({ x, y })     // NMSE: 0 is perfect, 1 is the constant mean predictor
 */
import { SequenceChunk } from '../io/dataset.js';
import { InputModel, InputModelJSON, inputModelFromJSON } from '../input/model.js';
import '../input/gaussian.js'; // registers the built-in input models with inputModelFromJSON
import '../input/var1-mixture.js';
import { RNNParams } from '../models/params.js';
import { predict } from '../models/brnn.js';
import { loadModel, modelToJSON, saveModel } from '../models/serialize.js';
import { NMSEAccumulator } from '../metrics/nmse.js';
// Types only: the learners (src/learn, moments, decompositions) load on the first fit, so `import 'gloree'` stays
// light (bench/import.ts).
import type { FitDiagnostics, FitOptions, FitResult } from '../learn/fit.js';
import type { TrainingData } from '../learn/passes.js';
import { UserError } from '../io/errors.js';
import { FitData, InMemoryData, Nested, checkChunk, fromNested, isNestedData, toNested } from './sequences.js';

/**
 * Fit an RNN (functional form of `GLOREE.fit`): `fitRNN` of src/learn/fit.ts, loaded on first use. Returns the
 * parameters, the input model, the diagnostics and which learner ran.
 */
export async function fitRNN(data: TrainingData, options: FitOptions): Promise<FitResult> {
  const learn = await import('../learn/fit.js');
  return learn.fitRNN(data, options);
}

/** Options of `GLOREE`: those of `fitRNN` (hidden size, kind, activation, seed, refinement, …). */
export type GLOREEOptions = FitOptions;

export class GLOREE {
  readonly options: Readonly<GLOREEOptions>;

  constructor(options: GLOREEOptions) {
    this.options = { ...options };
  }

  /**
   * Learn an RNN from labelled sequences: `{ x, y }` nested arrays `[sequence][time][feature]`, a `SequenceChunk`
   * (or several), or a streaming `DataSource` (e.g. `openDataSource('big.csv', …)`). Returns a new fitted model.
   */
  async fit(data: FitData): Promise<RNNModel<FitDiagnostics>> {
    if (isNestedData(data) && data.y === undefined) throw new UserError('y: fit needs the outputs as well as x: { x, y }, both [sequence][time][feature]');
    const source = isNestedData(data) ? fromNested(data.x, data.y) : isChunk(data) ? checkChunk(data) : Array.isArray(data) ? data.map((c) => checkChunk(c)) : data;
    const r = await fitRNN(source, this.options);
    return new RNNModel<FitDiagnostics>(r.params, r.inputModel, r.diagnostics);
  }
}

/**
 * A fitted model: the learned parameters (`params`: A1, U, A2, b, activation; BRNN adds B1, V), the input model
 * the moments used, and the fit's diagnostics (a union over the learners: narrow it on `diagnostics.learner`).
 * A model from `fit` always has diagnostics (`RNNModel<FitDiagnostics>`); one read from a file has whatever the file
 * stores (a hand-written model may have none).
 */
export class RNNModel<D extends FitDiagnostics | undefined = FitDiagnostics | undefined> {
  constructor(
    readonly params: RNNParams,
    readonly inputModel?: InputModel,
    readonly diagnostics: D = undefined as D,
  ) {}

  /** Input dimension dx and output dimension dy. */
  get dx(): number {
    return this.params.A1.cols;
  }

  get dy(): number {
    return this.params.A2.cols;
  }

  /**
   * Predicted outputs at every step. Nested inputs `x[s][t]` (dx features) give nested outputs `[s][t][dy]`;
   * a `SequenceChunk` gives a rows×dy row-major Float64Array. Throws a BlowUpError if a recursion escapes.
   */
  predict(x: Nested): number[][][];
  predict(chunk: SequenceChunk): Float64Array;
  predict(data: Nested | SequenceChunk): number[][][] | Float64Array {
    if (Array.isArray(data)) {
      const chunk = fromNested(data as Nested, undefined, this.dx);
      return toNested(predict(this.params, chunk), chunk.lengths, this.dy);
    }
    return predict(this.params, this.checked(data as SequenceChunk, true));
  }

  /** NMSE of the predictions on labelled data (docs/method.md §7): Σ‖ŷ − y‖² / Σ‖y − ȳ‖²; 0 is perfect. */
  score(data: InMemoryData): number {
    const chunk = isNestedData(data) ? fromNested(data.x, data.y, this.dx) : this.checked(data, false);
    if (chunk.dy !== this.dy) throw new UserError(`y: expected ${this.dy} outputs per step (the model's dy), got ${chunk.dy}`);
    const acc = new NMSEAccumulator(this.dy);
    acc.add(predict(this.params, chunk), chunk.y);
    return acc.value();
  }

  /** The model-file object (docs/method.md §8): what `save` writes and `load` reads. */
  toJSON(): Record<string, unknown> {
    return modelToJSON(this.params, { inputModel: this.inputModel?.toJSON(), diagnostics: this.diagnostics });
  }

  /** Write the model file atomically; the same data and seed give a byte-identical file (as `gloree fit`). */
  save(path: string): Promise<void> {
    return saveModel(path, this.params, { inputModel: this.inputModel?.toJSON(), diagnostics: this.diagnostics });
  }

  /**
   * Read a model file (written by `save` or `gloree fit`); every problem is a UserError naming the file and key.
   * `diagnostics` are those of the fit that wrote it (undefined when the file has none); `loadModel` gives the raw file.
   */
  static async load(path: string): Promise<RNNModel> {
    const m = loadModel(path);
    let inputModel: InputModel | undefined;
    if (m.inputModel !== undefined) {
      try {
        inputModel = inputModelFromJSON(m.inputModel as InputModelJSON);
      } catch (e) {
        throw new UserError(`${path}: key "inputModel": ${(e as Error).message}`);
      }
    }
    return new RNNModel(m.params, inputModel, await fitDiagnostics(m.diagnostics));
  }

  private checked(chunk: SequenceChunk, inputsOnly: boolean): SequenceChunk {
    const c = checkChunk(chunk, inputsOnly);
    if (c.dx !== this.dx) throw new UserError(`x: expected ${this.dx} features per step (the model's dx), got ${c.dx}`);
    return c;
  }
}

/**
 * A model file's diagnostics as a fit's: tagged with their learner (files written before the tag get it from their
 * keys); anything else (e.g. a simulated truth's `{ scenario }`) is not a fit's diagnostics and is left out.
 */
async function fitDiagnostics(d: unknown): Promise<FitDiagnostics | undefined> {
  const { learnerOf } = await import('../learn/diagnostics.js');
  const learner = learnerOf(d);
  return learner === null ? undefined : ({ ...(d as object), learner } as FitDiagnostics);
}

function isChunk(d: FitData): d is SequenceChunk {
  return !Array.isArray(d) && 'lengths' in d && d.x instanceof Float64Array;
}

import { Matrix } from '../linalg/matrix.js';

/**
 * Input models: the density of the input sequence x_1..x_L whose score functions the method of
 * moments needs (docs/method.md §3).
 *
 * Conventions used by every file in src/input and src/moments:
 * - Time indices in code are 0-BASED: step t = 0 is the first step of a sequence (docs/method.md's t = 1).
 * - A sequence of length L is stored row-major, L×dx, in a Float64Array (as in SequenceChunk.x).
 * - The joint density of one sequence is Gaussian with block precision Λ (dx×dx blocks Λ_{t,u}); the
 *   first-order score is s = Λ(x − μ) (so that E[G(x) s] = E[∇G], Stein's lemma, docs/method.md §3), and the
 *   higher-order scores are Hermite polynomials in s with the Λ blocks (src/input/scores.ts).
 *
 * Why an interface: the estimators in src/moments only ever ask for (a) the first-order scores of a
 * whole sequence and (b) the precision blocks Λ_{t,t}, Λ_{t,t−1}, Λ_{t,t+1}. A VAR(p) model or a
 * user-supplied Gaussian model plugs in by implementing these, without touching the estimators.
 */
export interface InputModel {
  /** Model family, e.g. 'gaussian-var1' (also used to rebuild the model from JSON in workers). */
  readonly kind: string;
  /** Input dimension. */
  readonly dx: number;
  /** Mean μ (length dx). */
  readonly mean: Float64Array;
  /** Markov order p: Λ_{t,u} = 0 whenever |t − u| > p (1 for VAR(1), 0 for i.i.d.). */
  readonly order: number;
  /**
   * First-order scores of one sequence: out[t·dx + a] = (Λ (x − μ))_{t,a} for t = 0..L−1.
   * `x` holds the sequence starting at element `xOffset` (L×dx row-major); `out` is written from
   * `outOffset`. Must cost O(L·dx²) or better and must not allocate per call in the hot path.
   */
  scoreSequence(x: Float64Array, L: number, out: Float64Array, xOffset?: number, outOffset?: number): void;
  /**
   * Precision block Λ_{t,u} (dx×dx) of a sequence of length L, 0 ≤ t, u < L. The returned Matrix is
   * READ-ONLY and SHOULD be the same object for equal blocks: the moment estimators group steps by
   * block identity to subtract the Wick terms once per distinct block instead of once per step.
   * Returns null when the block is structurally zero (|t − u| > order).
   */
  precisionBlock(t: number, u: number, L: number): Matrix | null;
  /** Plain-JSON form (for model files and for sending the model to worker threads). */
  toJSON(): InputModelJSON;
  /**
   * rows×dx first-order scores of every sequence of a chunk, for models whose precision blocks are not constant
   * (src/moments/accumulator.ts `chunkScores` uses this instead of the precision-block GEMMs when present).
   */
  chunkScores?(chunk: { x: Float64Array; rows: number; lengths: Int32Array }): Float64Array;
}

/** Serialised input model: `kind` selects the constructor in `inputModelFromJSON`. */
export interface InputModelJSON {
  kind: string;
  [key: string]: unknown;
}

/** P_t = Λ_{t,t}: the Wick term of the single-step scores (docs/method.md §3). */
export function precisionDiag(model: InputModel, t: number, L: number): Matrix {
  const P = model.precisionBlock(t, t, L);
  if (P === null) throw new Error(`precisionDiag: model ${model.kind} returned no diagonal block for t=${t}, L=${L}`);
  return P;
}

type Reviver = (json: InputModelJSON) => InputModel;
const revivers = new Map<string, Reviver>();

/**
 * Register a constructor for a model kind so `inputModelFromJSON` (and the worker-thread passes, which
 * ship models as JSON) can rebuild it. Built-in kinds register themselves on import.
 * User models used with worker passes must be registered inside the worker too (import their module
 * from a file passed as `modules` to runParallelPass).
 */
export function registerInputModel(kind: string, revive: Reviver): void {
  revivers.set(kind, revive);
}

/** Rebuild an input model from its JSON form; throws on an unknown kind. */
export function inputModelFromJSON(json: InputModelJSON): InputModel {
  if (json === null || typeof json !== 'object' || typeof json.kind !== 'string') {
    throw new Error('inputModelFromJSON: expected an object with a string "kind"');
  }
  const r = revivers.get(json.kind);
  if (r === undefined) {
    throw new Error(`inputModelFromJSON: unknown input model kind "${json.kind}" (known: ${[...revivers.keys()].join(', ') || 'none'})`);
  }
  return r(json);
}

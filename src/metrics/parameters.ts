/**
 * Parameter error up to the symmetries of the model class (docs/method.md §2, §7).
 *
 * Symmetries of a neuron j with σ(αz) = s(α) σ(z): pre-activation row scaled by α (a1_j → α a1_j,
 * U_j· → α U_j·) makes h_j → s(α) h_j, which the consumers undo (U_·j → U_·j / s(α), A2^(j) → A2^(j) / s(α));
 * U_jj gets both factors. What is implemented, by the form of σ (see activationSymmetry):
 * - pure monomial σ = c z^l: every α ≠ 0 with s(α) = α^l (for l = 2 exactly §2's rule). Both models are put in
 *   the gauge ‖a1_j‖ = 1, then the sign α = −1 is chosen per neuron so that a1_j·a1_j^true ≥ 0 (the joint sign
 *   of (a1_j, U_j·), plus the induced column/output sign (−1)^l);
 * - only even powers (s(−1) = 1) or only odd powers (s(−1) = −1): the sign flip only, no rescaling (the scale is
 *   identifiable);
 * - otherwise: permutation only.
 * Neurons are matched by the Hungarian algorithm on |cos| between rows of A1 (forward) and of B1 (backward,
 * matched separately), then each matrix's relative Frobenius error ‖est − true‖_F / ‖true‖_F is reported.
 */
import { Matrix } from '../linalg/matrix.js';
import type { Activation, BRNNParams, IORNNParams, RNNParams } from '../models/params.js';
import { activationDegree, activationSymmetry, activationsEqual } from '../models/activation.js';
import { hungarian } from './hungarian.js';

/** One recurrent direction: W (n×dx input rows), R (n×n recurrent), O (n×dy output rows), all copies. */
interface Block {
  n: number;
  dx: number;
  dy: number;
  W: Float64Array;
  R: Float64Array;
  O: Float64Array;
}

function block(W: Matrix, R: Matrix, A2: Matrix, row0: number): Block {
  const n = W.rows, dy = A2.cols;
  return { n, dx: W.cols, dy, W: W.data.slice(), R: R.data.slice(), O: A2.data.slice(row0 * dy, (row0 + n) * dy) };
}

/** s(α) = σ(αz)/σ(z) of the allowed symmetry, or undefined if α is not a symmetry of σ. */
function scaleFactor(act: Activation, alpha: number): number | undefined {
  const sym = activationSymmetry(act);
  if (alpha === 1) return 1;
  if (sym === 'monomial') return alpha ** activationDegree(act);
  if (alpha === -1 && sym === 'even') return 1;
  if (alpha === -1 && sym === 'odd') return -1;
  return undefined;
}

/** Apply the symmetry (α, s) to neuron j of a block, in place. */
function scaleNeuron(b: Block, j: number, alpha: number, s: number): void {
  const { n, dx, dy, W, R, O } = b;
  for (let i = 0; i < dx; i++) W[j * dx + i] *= alpha;
  for (let i = 0; i < n; i++) R[j * n + i] *= alpha;
  for (let i = 0; i < n; i++) R[i * n + j] /= s;
  for (let i = 0; i < dy; i++) O[j * dy + i] /= s;
}

function rowNorm(W: Float64Array, j: number, dx: number): number {
  let s = 0;
  for (let i = 0; i < dx; i++) s += W[j * dx + i] ** 2;
  return Math.sqrt(s);
}

/** Put a block in the gauge ‖w_j‖ = 1 when σ is a monomial (otherwise the scale is identifiable: no-op). */
function gauge(b: Block, act: Activation): void {
  if (activationSymmetry(act) !== 'monomial') return;
  for (let j = 0; j < b.n; j++) {
    const r = rowNorm(b.W, j, b.dx);
    if (r > 0) scaleNeuron(b, j, 1 / r, scaleFactor(act, 1 / r)!);
  }
}

/** Reorder the neurons of a block: new neuron j = old neuron perm[j]. */
function permute(b: Block, perm: Int32Array): Block {
  const { n, dx, dy } = b;
  const W = new Float64Array(n * dx), R = new Float64Array(n * n), O = new Float64Array(n * dy);
  for (let j = 0; j < n; j++) {
    const pj = perm[j];
    W.set(b.W.subarray(pj * dx, (pj + 1) * dx), j * dx);
    O.set(b.O.subarray(pj * dy, (pj + 1) * dy), j * dy);
    for (let k = 0; k < n; k++) R[j * n + k] = b.R[pj * n + perm[k]];
  }
  return { n, dx, dy, W, R, O };
}

/** Align `est` to `truth` (both gauged): Hungarian on |cos| of input rows, then per-neuron sign. */
function align(est: Block, truth: Block, act: Activation): { aligned: Block; perm: Int32Array } {
  const { n, dx } = truth;
  const sim = new Matrix(n, n);
  for (let j = 0; j < n; j++) {
    const nt = rowNorm(truth.W, j, dx);
    for (let k = 0; k < n; k++) {
      const ne = rowNorm(est.W, k, dx);
      let d = 0;
      for (let i = 0; i < dx; i++) d += truth.W[j * dx + i] * est.W[k * dx + i];
      sim.data[j * n + k] = nt > 0 && ne > 0 ? Math.abs(d) / (nt * ne) : 0;
    }
  }
  // Row j of sim = true neuron j; assignment[j] = estimated neuron matched to it.
  const perm = hungarian(sim, { maximize: true }).assignment;
  const aligned = permute(est, perm);
  const sNeg = scaleFactor(act, -1);
  if (sNeg !== undefined) {
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let i = 0; i < dx; i++) d += truth.W[j * dx + i] * aligned.W[j * dx + i];
      if (d < 0) scaleNeuron(aligned, j, -1, sNeg);
    }
  }
  return { aligned, perm };
}

function relErr(est: Float64Array, truth: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < truth.length; i++) {
    num += (est[i] - truth[i]) ** 2;
    den += truth[i] ** 2;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

export interface ParameterErrors {
  /** Relative Frobenius errors after alignment (Infinity if the true matrix is 0 and the estimate is not). */
  A1: number;
  U: number;
  A2: number;
  B1?: number;
  V?: number;
  /** permutation[j] = estimated forward neuron matched to true neuron j. */
  permutation: Int32Array;
  /** Same for backward neurons (BRNN). */
  permutationBackward?: Int32Array;
  /** Which symmetry group was used (see the module comment). */
  symmetry: 'monomial' | 'even' | 'odd' | 'none';
  /** The estimate permuted / rescaled / sign-flipped into the truth's gauge. */
  aligned: RNNParams;
  /** The truth in the gauge ‖a1_j‖ = 1 (monomial σ) — what `aligned` is compared with. */
  truthGauged: RNNParams;
}

function shapeCheck(a: Matrix, b: Matrix, key: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new RangeError(`parameterErrors: ${key} of the estimate is ${a.rows}x${a.cols}, of the truth ${b.rows}x${b.cols}`);
  }
}

function sameActivation(a: Activation, b: Activation): boolean {
  return activationsEqual(a, b);
}

/**
 * Relative Frobenius errors of A1, U, A2 (and B1, V for a BRNN) of `est` against `truth`, up to neuron
 * permutation, the per-neuron gauge and the joint sign (see the module comment). Both must have the same kind,
 * shapes and activation. The bias b is not compared.
 */
export function parameterErrors(est: RNNParams, truth: RNNParams): ParameterErrors {
  if (est.kind !== truth.kind) throw new RangeError(`parameterErrors: estimate is ${est.kind}, truth is ${truth.kind}`);
  shapeCheck(est.A1, truth.A1, 'A1');
  shapeCheck(est.U, truth.U, 'U');
  shapeCheck(est.A2, truth.A2, 'A2');
  if (!sameActivation(est.activation, truth.activation)) throw new RangeError('parameterErrors: estimate and truth have different activations');
  const act = truth.activation;
  const dh = truth.A1.rows, dy = truth.A2.cols;
  const te = block(truth.A1, truth.U, truth.A2, 0);
  const ee = block(est.A1, est.U, est.A2, 0);
  gauge(te, act);
  gauge(ee, act);
  const fwd = align(ee, te, act);
  const symmetry = activationSymmetry(act);
  const mat = (r: number, c: number, d: Float64Array) => new Matrix(r, c, d);
  if (truth.kind === 'iornn') {
    const a = fwd.aligned;
    const aligned: IORNNParams = { ...(est as IORNNParams), A1: mat(dh, te.dx, a.W), U: mat(dh, dh, a.R), A2: mat(dh, dy, a.O) };
    const truthGauged: IORNNParams = { ...truth, A1: mat(dh, te.dx, te.W), U: mat(dh, dh, te.R), A2: mat(dh, dy, te.O) };
    return { A1: relErr(a.W, te.W), U: relErr(a.R, te.R), A2: relErr(a.O, te.O), permutation: fwd.perm, symmetry, aligned, truthGauged };
  }
  const e = est as BRNNParams;
  shapeCheck(e.B1, truth.B1, 'B1');
  shapeCheck(e.V, truth.V, 'V');
  const actB = truth.activationBackward ?? act;
  if (!sameActivation(e.activationBackward ?? e.activation, actB)) throw new RangeError('parameterErrors: backward activations differ');
  const dz = truth.B1.rows;
  const tb = block(truth.B1, truth.V, truth.A2, dh);
  const eb = block(e.B1, e.V, e.A2, dh);
  gauge(tb, actB);
  gauge(eb, actB);
  const bwd = align(eb, tb, actB);
  const cat = (x: Float64Array, y: Float64Array) => {
    const o = new Float64Array(x.length + y.length);
    o.set(x);
    o.set(y, x.length);
    return o;
  };
  const A2e = cat(fwd.aligned.O, bwd.aligned.O), A2t = cat(te.O, tb.O);
  const aligned: BRNNParams = {
    ...e, A1: mat(dh, te.dx, fwd.aligned.W), U: mat(dh, dh, fwd.aligned.R), B1: mat(dz, te.dx, bwd.aligned.W), V: mat(dz, dz, bwd.aligned.R), A2: mat(dh + dz, dy, A2e),
  };
  const truthGauged: BRNNParams = {
    ...truth, A1: mat(dh, te.dx, te.W), U: mat(dh, dh, te.R), B1: mat(dz, te.dx, tb.W), V: mat(dz, dz, tb.R), A2: mat(dh + dz, dy, A2t),
  };
  return {
    A1: relErr(fwd.aligned.W, te.W), U: relErr(fwd.aligned.R, te.R), A2: relErr(A2e, A2t),
    B1: relErr(bwd.aligned.W, tb.W), V: relErr(bwd.aligned.R, tb.R),
    permutation: fwd.perm, permutationBackward: bwd.perm, symmetry, aligned, truthGauged,
  };
}

/**
 * Apply a symmetry to one forward neuron j of an IO-RNN (α must be allowed by σ; see the module comment):
 * returns a new model with identical outputs. Used by tests and available to learners that fix a gauge.
 */
export function scaleNeuronIORNN(p: IORNNParams, j: number, alpha: number): IORNNParams {
  const s = scaleFactor(p.activation, alpha);
  if (s === undefined) throw new RangeError(`scaleNeuronIORNN: α = ${alpha} is not a symmetry of this activation`);
  const b = block(p.A1, p.U, p.A2, 0);
  scaleNeuron(b, j, alpha, s);
  return { ...p, A1: new Matrix(b.n, b.dx, b.W), U: new Matrix(b.n, b.n, b.R), A2: new Matrix(b.n, b.dy, b.O) };
}

/** Reorder the neurons of an IO-RNN: new neuron j = old neuron perm[j] (outputs unchanged). */
export function permuteIORNN(p: IORNNParams, perm: ArrayLike<number>): IORNNParams {
  const b = permute(block(p.A1, p.U, p.A2, 0), Int32Array.from(perm));
  return { ...p, A1: new Matrix(b.n, b.dx, b.W), U: new Matrix(b.n, b.n, b.R), A2: new Matrix(b.n, b.dy, b.O) };
}

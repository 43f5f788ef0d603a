import { Matrix } from '../linalg/matrix.js';

import type { Activation } from '../rnn/activation.js';

/**
 * Elementwise activation σ (docs/method.md §2): a polynomial `{coefficients: [c0, …, cl]}` (σ(z) = Σ_m c_m z^m)
 * or a named smooth function `{name: 'tanh' | 'sigmoid' | 'softplus' | 'linear'}`. Default σ(z) = z² is
 * {coefficients: [0, 0, 1]}.
 */
export type { Activation, ActivationName, NamedActivation, PolynomialActivation } from '../rnn/activation.js';

export const SQUARE: Activation = { coefficients: [0, 0, 1] };

/**
 * Parameters of an IO-RNN (docs/method.md §2): h_t = σ(A1 x_t + U h_{t-1}), h_0 = 0 per sequence,
 * y_t = A2ᵀ h_t + b. Shapes: A1 dh×dx, U dh×dh, A2 dh×dy, b length dy (optional, zero if absent).
 */
export interface IORNNParams {
  readonly kind: 'iornn';
  readonly A1: Matrix;
  readonly U: Matrix;
  readonly A2: Matrix;
  readonly b?: Float64Array;
  readonly activation: Activation;
  /**
   * Subtracted from every input before the recursion (length dx; absent = 0). The part of a fit's
   * standardisation that does not fold into the weights (src/models/scaling.ts `foldScaling`): it acts as a hidden
   * bias −A1·inputShift, which the IO-RNN has no parameter for.
   */
  readonly inputShift?: Float64Array;
}

/**
 * Parameters of a bidirectional RNN (docs/method.md §2): forward h as in the IO-RNN, backward
 * z_t = σ_b(B1 x_t + V z_{t+1}) with z = 0 after the last step, y_t = A2ᵀ [h_t; z_t] + b.
 * Shapes: A1 dh×dx, U dh×dh, B1 dz×dx, V dz×dz, A2 (dh+dz)×dy with the forward rows first.
 */
export interface BRNNParams {
  readonly kind: 'brnn';
  readonly A1: Matrix;
  readonly U: Matrix;
  readonly B1: Matrix;
  readonly V: Matrix;
  readonly A2: Matrix;
  readonly b?: Float64Array;
  readonly activation: Activation;
  /** Activation of the backward neurons; defaults to `activation`. */
  readonly activationBackward?: Activation;
  /** As IORNNParams.inputShift (both directions read x − inputShift). */
  readonly inputShift?: Float64Array;
}

export type RNNParams = IORNNParams | BRNNParams;

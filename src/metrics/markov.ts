/**
 * Parameter error of a linear IO-RNN measured on its transfer behaviour (docs/activations.md, "Linear IO-RNN").
 *
 * A linear model h_t = U h_{t−1} + A1 x_t, y_t = A2ᵀh_t + b is identified only up to an invertible change of
 * state basis T (U → T⁻¹UT, A1 → T⁻¹A1, A2ᵀ → A2ᵀT), which leaves its input-output map unchanged; comparing raw
 * matrices would report a large error for two identical systems. The Markov parameters M_k = A2ᵀ U^k A1 are
 * invariant under T and determine the map (y_t = Σ_k M_k x_{t−k} + b with h_0 = 0), so the error is the relative
 * Frobenius distance of the stacked M_0..M_{K−1}.
 */
import type { IORNNParams } from '../models/params.js';
import { markovParameters } from '../decomposition/ho-kalman.js';
import { transpose } from '../linalg/matrix.js';
import { activationsEqual } from '../models/activation.js';

export interface MarkovError {
  /** √(Σ_k ‖M̂_k − M_k‖_F²) / √(Σ_k ‖M_k‖_F²) over k < K. */
  relative: number;
  /** Per lag ‖M̂_k − M_k‖_F / ‖M_k‖_F (Infinity where M_k = 0 and M̂_k ≠ 0). */
  perLag: number[];
  lags: number;
}

function realization(p: IORNNParams) {
  if (!activationsEqual(p.activation, { name: 'linear' })) throw new Error('markovError: the model is not linear (activation must be σ(z) = z)');
  return { U: p.U, A1: p.A1, C: transpose(p.A2) };
}

/** Markov-parameter error of a linear IO-RNN against the truth over K lags (default 50). */
export function markovError(est: IORNNParams, truth: IORNNParams, K = 50): MarkovError {
  if (est.A1.cols !== truth.A1.cols || est.A2.cols !== truth.A2.cols) {
    throw new RangeError(`markovError: models differ in dx/dy (${est.A1.cols}/${est.A2.cols} vs ${truth.A1.cols}/${truth.A2.cols})`);
  }
  const Me = markovParameters(realization(est), K), Mt = markovParameters(realization(truth), K);
  const blk = est.A1.cols * est.A2.cols;
  let num = 0, den = 0;
  const perLag: number[] = [];
  for (let k = 0; k < K; k++) {
    let nk = 0, dk = 0;
    for (let e = k * blk; e < (k + 1) * blk; e++) {
      nk += (Me[e] - Mt[e]) ** 2;
      dk += Mt[e] ** 2;
    }
    num += nk;
    den += dk;
    perLag.push(dk > 0 ? Math.sqrt(nk / dk) : nk > 0 ? Infinity : 0);
  }
  return { relative: Math.sqrt(num / den), perLag, lags: K };
}

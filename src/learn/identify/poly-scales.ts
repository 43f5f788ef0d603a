import { Matrix } from '../../linalg/matrix.js';
import { SequenceChunk } from '../../io/dataset.js';
import { IORNNParams } from '../../models/params.js';
import { spectralNorm } from '../../models/simulate.js';
import { residualSumOfSquares, solveOutputLS } from '../../linalg/lstsq.js';
import { accumulateOutputLS } from '../output-layer.js';

/**
 * Neuron scales of a polynomial σ without scale symmetry (docs/method.md §4, P1–P4 give directions and weights in
 * the unit gauge ‖a1_j‖ = 1; the true scales α_j matter when σ has lower-order terms), and §6's stability rule.
 */

/** The model with neuron scales α: A1 = diag(α)Â1, U = diag(α) Û diag(α)^{−l}, A2 = diag(α)^{−l} Â2 (exact for the leading term). */
export function applyScales(p: IORNNParams, alpha: Float64Array, l: number): IORNNParams {
  const dh = p.A1.rows, dx = p.A1.cols, dy = p.A2.cols;
  const A1 = new Matrix(dh, dx), U = new Matrix(dh, dh), A2 = new Matrix(dh, dy);
  for (let j = 0; j < dh; j++) {
    for (let a = 0; a < dx; a++) A1.data[j * dx + a] = alpha[j] * p.A1.data[j * dx + a];
    for (let k = 0; k < dh; k++) U.data[j * dh + k] = (alpha[j] * p.U.data[j * dh + k]) / alpha[k] ** l;
    for (let i = 0; i < dy; i++) A2.data[j * dy + i] = p.A2.data[j * dy + i] / alpha[j] ** l;
  }
  return { ...p, A1, U, A2 };
}

/**
 * Neuron scales α by least squares on simulated states (variable projection: A2, b refit at every trial):
 * coordinate search over sign × a log grid of |α_j| ∈ [1/16, 16], two sweeps, then golden-section refinement of
 * log|α_j|. Blow-ups count as +∞. `signSym`: α = −1 is a symmetry of σ, so only α > 0 is searched.
 */
export function fitScales(p: IORNNParams, l: number, sample: SequenceChunk[], signSym: boolean): { alpha: Float64Array; mse: number; evaluations: number; rows: number } {
  const dh = p.A1.rows;
  let evaluations = 0;
  const rows = sample.reduce((a, c) => a + c.rows, 0);
  const dy = p.A2.cols, m = dh + 1;
  let yy = 0;
  for (const ch of sample) for (let i = 0; i < ch.y.length; i++) yy += ch.y[i] * ch.y[i];
  const nOut = rows * dy;
  // MSE after the least-squares output layer, from one state pass: SSE = Σy² − 2 tr(WᵀC) + tr(WᵀGW).
  const objective = (alpha: Float64Array): number => {
    evaluations++;
    const q = applyScales(p, alpha, l);
    const acc = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
    try {
      for (const ch of sample) accumulateOutputLS(q, ch, acc, 0);
    } catch {
      return Infinity;
    }
    const { W } = solveOutputLS(acc.G, acc.C, m, dy);
    const sse = residualSumOfSquares(yy, acc.G, acc.C, W, m, dy);
    const mse = Math.max(0, sse) / nOut;
    return Number.isFinite(mse) ? mse : Infinity;
  };
  const alpha = new Float64Array(dh).fill(1);
  let best = objective(alpha);
  // Log grid |α| ∈ [1/16, 16], ratio √2 between points; one coordinate sweep, then golden sections.
  const grid: number[] = [];
  for (let g = -8; g <= 8; g++) grid.push(Math.exp((g / 8) * Math.log(16)));
  const signs = signSym ? [1] : [1, -1];
  for (let sweep = 0; sweep < 1; sweep++) {
    for (let j = 0; j < dh; j++) {
      for (const s of signs)
        for (const g of grid) {
          const trial = alpha.slice();
          trial[j] = s * g;
          const f = objective(trial);
          if (f < best) {
            best = f;
            alpha.set(trial);
          }
        }
    }
  }
  // Golden-section on log|α_j| within one grid step of the best (two rounds: the coordinates interact).
  const step = Math.log(16) / 8;
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let round = 0; round < 2; round++)
  for (let j = 0; j < dh; j++) {
    const sgn = Math.sign(alpha[j]);
    const width = round === 0 ? step : step / 4;
    let lo = Math.log(Math.abs(alpha[j])) - width, hi = Math.log(Math.abs(alpha[j])) + width;
    const at = (u: number): number => {
      const t = alpha.slice();
      t[j] = sgn * Math.exp(u);
      return objective(t);
    };
    let x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
    let f1 = at(x1), f2 = at(x2);
    for (let it = 0; it < (round === 0 ? 12 : 8); it++) {
      if (f1 < f2) {
        hi = x2;
        x2 = x1;
        f2 = f1;
        x1 = hi - phi * (hi - lo);
        f1 = at(x1);
      } else {
        lo = x1;
        x1 = x2;
        f1 = f2;
        x2 = lo + phi * (hi - lo);
        f2 = at(x2);
      }
    }
    const u = f1 < f2 ? x1 : x2, fu = Math.min(f1, f2);
    if (fu < best) {
      best = fu;
      alpha[j] = sgn * Math.exp(u);
    }
  }
  return { alpha, mse: best, evaluations, rows };
}

/** docs/method.md §6: q = ‖U‖₂ (5.3 max_j sd(a1_j·x))², limit 1 for l ≥ 3 and 3 for l = 2. */
export function stabilityCheck(p: IORNNParams, covX: Matrix, l: number): { quantity: number; limit: number; stable: boolean } {
  const dh = p.A1.rows, dx = p.A1.cols;
  let sdMax = 0;
  for (let j = 0; j < dh; j++) {
    let v = 0;
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) v += p.A1.get(j, a) * covX.get(a, b) * p.A1.get(j, b);
    sdMax = Math.max(sdMax, Math.sqrt(Math.max(v, 0)));
  }
  const quantity = spectralNorm(p.U) * (5.3 * sdMax) ** 2;
  const limit = l >= 3 ? 1 : 3;
  return { quantity, limit, stable: quantity <= limit };
}


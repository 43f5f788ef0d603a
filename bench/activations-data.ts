/** Planted data of the activations bench and tests (docs/activations.md): the tanh acceptance scenario and its inputs. */
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { randomIORNN, simulateInputs, simulateIORNN } from '../src/models/simulate.js';
import type { IORNNParams } from '../src/models/params.js';
import { Rng } from '../src/random/rng.js';

/** The tanh IO-RNN: dx = 5, dh = 3, dy = 4, unit-norm rows of A1, ‖U‖₂ = 0.7 (the U = 0 model then scores NMSE ≈ 0.1). */
export function plantedTanh(seed: number): IORNNParams {
  return randomIORNN({ dx: 5, dh: 3, dy: 4, uNorm: 0.7, seed: 100 + seed, activation: { name: 'tanh' } });
}

/**
 * VAR(1) inputs x_t = ρ x_{t−1} + √(1−ρ²) ε_t, unit stationary variance per coordinate, with Gaussian or Student-t(ν)
 * innovations (scaled to unit variance: t_ν has variance ν/(ν−2)); the first step is ε_0 itself.
 */
export function varInputs(dx: number, nSeq: number, L: number, rho: number, seed: number, tDof?: number): SequenceChunk {
  if (tDof === undefined) return simulateInputs({ dx, nSeq, seqLength: L, rho, seed });
  const rng = new Rng(seed);
  const x = new Float64Array(nSeq * L * dx);
  const scale = Math.sqrt((tDof - 2) / tDof);
  const draw = (): number => {
    let chi = 0;
    for (let k = 0; k < tDof; k++) chi += rng.normal() ** 2;
    return (rng.normal() / Math.sqrt(chi / tDof)) * scale;
  };
  const c = Math.sqrt(1 - rho * rho);
  for (let s = 0; s < nSeq; s++)
    for (let t = 0; t < L; t++)
      for (let a = 0; a < dx; a++) {
        const r = (s * L + t) * dx + a;
        x[r] = t === 0 ? draw() : rho * x[r - dx] + c * draw();
      }
  return makeChunk(dx, 0, x, new Float64Array(0), new Array<number>(nSeq).fill(L));
}

/** Training rows (5% output noise) and held-out inputs for the tanh scenario. */
export function tanhData(seed: number, rows: number, opts: { L?: number; tDof?: number } = {}): { truth: IORNNParams; train: SequenceChunk; held: SequenceChunk } {
  const L = opts.L ?? 20;
  const truth = plantedTanh(seed);
  const inp = varInputs(5, Math.round(rows / L), L, 0.5, 10 + seed, opts.tDof);
  const train = simulateIORNN(truth, inp, { noise: 0.05, seed: 20 + seed });
  const held = varInputs(5, 1000, L, 0.5, 30 + seed, opts.tDof);
  return { truth, train, held };
}

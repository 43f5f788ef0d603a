import { Matrix, transpose } from '../../linalg/matrix.js';
import { svd } from '../../linalg/svd.js';
import { OptionError, OptionNamer } from '../../io/errors.js';
import { SequenceChunk } from '../../io/dataset.js';
import { Tensor } from '../../tensor/tensor.js';
import { liftDirections, tiedCP, tiedCPOrder, unitDirections } from '../../decomposition/tied.js';
import { hermiteMomentFor, scoresFor } from '../../moments/nongaussian-higher.js';
import { Rng } from '../../random/rng.js';
import { autoRank, t2AndRank } from '../data-passes.js';
import { IdentifyContext } from './types.js';
import { tensorOnEngine } from '../engine-passes.js';
import { targetOf } from '../../sql/accumulators.js';

/**
 * Step 1 of the polynomial learner: the input directions Â1 (unit rows, the gauge of §2) and, when the same
 * moment gives them, the output weights in the unit gauge (docs/method.md §4 P1–P4):
 *  - 'S2': tied CP of T2 = E[y ⊗ S2] = Σ_j μ_j A2^(j) ⊗ a1_j ⊗ a1_j (μ_j = E σ''(z_j) unknown, so the weights
 *    come later from the order-l moment on the duals; for l = 2, P1 is T2 itself and μ_j = 2c₂);
 *  - 'P1': tied CP of the order-(l+1) moment E[y ⊗ S_l] = c_l l! Σ_j A2^(j) ⊗ a1_j^{⊗l}, formed explicitly when
 *    dy·dx^l is small, else accumulated projected on a dh-dimensional subspace Q (T1's row space when dy ≥ dh,
 *    else a random-contraction sketch of the same moment).
 */
export interface Directions {
  dh: number;
  hidden: { chosen: number; auto: boolean; spectrum?: number[]; noiseFloor?: number };
  /** dh×dx unit rows. */
  A1: Matrix;
  /** dh×dy output weights in the unit gauge, when the directions' moment gives them. */
  A2: Matrix | null;
  /** S2 route: dh×dy components μ_j A2^(j) of T2's CP. */
  s2Components: Float64Array | null;
  diagnostics: {
    route: 'S2' | 'P1';
    /** 'explicit' (dy·dx^l entries) or 'projected' on a k-dimensional subspace (from 'T1' or a 'sketch'). */
    p1: 'explicit' | 'projected' | 'dual-contracted';
    subspace?: 'T1' | 'sketch' | 'directions';
    cpResidual: number;
    jennrichResidual: number;
    alsIterations: number;
    /** S2 route: μ̂_j = E σ''(z_j) read off T2's components against Â2 (near 0 ⇒ S2 was a poor choice). */
    mu?: number[];
  };
}

export interface DirectionSettings {
  route: 'S2' | 'P1';
  hidden: number | 'auto';
  l: number;
  /** c_l l! = σ^(l). */
  lead: number;
  maxTensorEntries: number;
  checkHidden: (dh: number) => void;
  /** rows×dy target of the order ≥ 3 moments (control-variate residuals, or centred y). */
  target: (chunk: SequenceChunk) => Float64Array;
  /** T1 = E[y ⊗ s] (dy×dx), over t ≤ L−2. */
  T1: Float64Array;
  memory: Record<string, number>;
}

export async function polyDirections(ctx: IdentifyContext, s: DirectionSettings): Promise<Directions> {
  const { source, log, seed } = ctx;
  const { dx, dy } = source;
  const { l, lead } = s;
  if (s.route === 'S2') {
    const { T2: t2, rank: rs } = t2AndRank(ctx.p2.t2Halves!, dy, dx, s.hidden, source.name);
    let dh: number;
    if (s.hidden === 'auto') {
      dh = autoRank(rs!, log, (n: OptionNamer) => `give ${n('hidden')} K`);
      s.checkHidden(dh);
    } else dh = s.hidden;
    if (dy < dh) throw new OptionError('directions', 'S2', () => `directions from S2 need dy ≥ dh (got dy = ${dy}, dh = ${dh}); use directions 'P1'`);
    const fit = tiedCP(new Tensor([dy, dx, dx], t2), dh, { seed });
    const cp = unitDirections(fit.cp, 2);
    const A1 = new Matrix(dh, dx), comps = new Float64Array(dh * dy);
    for (let j = 0; j < dh; j++) {
      for (let a = 0; a < dx; a++) A1.data[j * dx + a] = cp.dirs.get(a, j);
      for (let i = 0; i < dy; i++) comps[j * dy + i] = cp.comps.get(i, j);
    }
    log.lap('cp');
    return {
      dh,
      hidden: { chosen: dh, auto: s.hidden === 'auto', ...(rs ? { spectrum: rs.spectrum, noiseFloor: rs.noiseFloor } : {}) },
      A1,
      A2: l === 2 ? new Matrix(dh, dy, comps.map((v) => v / lead)) : null,
      s2Components: comps,
      diagnostics: { route: 'S2', p1: l === 2 ? 'explicit' : 'dual-contracted', subspace: l === 2 ? undefined : 'directions', cpResidual: fit.residual, jennrichResidual: fit.jennrichResidual, alsIterations: fit.alsIterations },
    };
  }
  const dh = s.hidden as number;
  const model = ctx.input.model;
  const explicit = dy * dx ** l <= s.maxTensorEntries;
  let Q: Matrix | null = null;
  let subspace: 'T1' | 'sketch' | undefined;
  if (!explicit) {
    if (dy >= dh) {
      // T1 = Σ_j ν_j A2^(j) ⊗ a1_j: its row space is span{a1_j} when ν_j ≠ 0.
      Q = new Matrix(dx, dh, takeCols(svd(transpose(new Matrix(dy, dx, s.T1))).U, dh));
      subspace = 'T1';
    } else {
      // Sketch: S_l[θ_a, …, θ_b, ·] for K random directions per contracted mode (K^{l−1}·dx numbers per output);
      // orthonormal columns, so with K = dx the sketch is an orthogonal change of basis of the unfolding.
      const K = Math.min(dx, dh + 2);
      const rng = new Rng(seed + 7);
      const Theta = new Matrix(dx, K, takeCols(svd(new Matrix(dx, K, rng.normalArray(dx * K))).U, K));
      const modes = [...Array.from({ length: l - 1 }, () => ({ lag: 0 as const, Q: Theta })), { lag: 0 as const, Q: null }];
      const sk = hermiteMomentFor(model, dy, modes);
      s.memory.sketch = sk.memoryBytes;
      if (!(ctx.engine && (await tensorOnEngine(ctx.engine, 'subspace sketch', sk, { model, modes, target: targetOf(ctx.p2.cvFit, ctx.p1.yMean), dy })))) {
        await ctx.pass('subspace sketch', (chunk) => void sk.add(chunk, scoresFor(model, chunk), s.target(chunk)));
      }
      const R = sk.result();
      Q = new Matrix(dx, dh, takeCols(svd(transpose(new Matrix(R.length / dx, dx, R))).U, dh));
      subspace = 'sketch';
      log.lap('pass_sketch');
    }
  }
  const k = Q ? dh : dx;
  const modes = Array.from({ length: l }, () => ({ lag: 0 as const, Q }));
  const acc = hermiteMomentFor(model, dy, modes);
  s.memory.P1 = acc.memoryBytes;
  // On an engine: one query (src/learn/engine-passes.ts); `s.target` is the control-variate residual or y − ȳ.
  if (!(ctx.engine && (await tensorOnEngine(ctx.engine, 'order-l moment', acc, { model, modes, target: targetOf(ctx.p2.cvFit, ctx.p1.yMean), dy })))) {
    await ctx.pass('order-l moment', (chunk) => void acc.add(chunk, scoresFor(model, chunk), s.target(chunk)));
  }
  const cp = tiedCPOrder(acc.result(), dy, k, l, dh, seed);
  // Directions in data coordinates: Q c_j (Q orthonormal ⇒ still unit); the P1 component is c_l l! A2^(j).
  const { A1 } = liftDirections(cp.dirs, Q, dx);
  const A2 = new Matrix(dh, dy);
  for (let j = 0; j < dh; j++) for (let i = 0; i < dy; i++) A2.data[j * dy + i] = cp.comps.get(i, j) / lead;
  log.lap('pass3_p1_cp');
  return {
    dh,
    hidden: { chosen: dh, auto: false },
    A1,
    A2,
    s2Components: null,
    diagnostics: { route: 'P1', p1: explicit ? 'explicit' : 'projected', subspace, cpResidual: cp.residual, jennrichResidual: cp.jennrichResidual, alsIterations: cp.alsIterations },
  };
}

function takeCols(M: Matrix, k: number): Float64Array {
  const out = new Float64Array(M.rows * k);
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < k; j++) out[i * k + j] = M.get(i, j);
  return out;
}

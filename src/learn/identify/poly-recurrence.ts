import { Matrix, transpose } from '../../linalg/matrix.js';
import { pinv } from '../../linalg/pinv.js';
import { SequenceChunk } from '../../io/dataset.js';
import { diagonalFor, scoresFor } from '../../moments/nongaussian-higher.js';
import { bySubchunks } from '../chunks.js';
import { LeadingTermCV } from './leading-cv.js';
import { diagonalsOnEngine } from '../engine-passes.js';
import { leadingTarget } from '../../sql/passes.js';
import { targetOf } from '../../sql/accumulators.js';
import { IdentifyContext } from './types.js';

/**
 * Step 2 of the polynomial learner: U (and the output weights when the directions' moment did not give them),
 * from moments contracted on the duals G = pinv(Â1) (docs/method.md §4):
 *   P2′ (l ≥ 3): Tm21 = E[y ⊗ H(t^{l−1}; t−1)] over t = 1..L−1 and T1 = E[y ⊗ s] over t = 0..L−2 (the same step
 *        pairs, so ν_k = E σ'(z_k) cancels exactly): C[j,k] = c_l l! U_jk ν_k, ν_k = T1[w_k, g_k];
 *   P2  (l = 2, = F4): C[j,k] = (2c₂)² U_jk.
 * The dual contractions on the step-t modes already isolate neuron j (a1_i^{⊗(l−1)}[g_j, …] = δ_ij), so the output
 * mode needs no demixing: each dy-vector is projected on Â2^(j) (least squares; works for dy = 1, App. E.2).
 */
export interface Recurrence {
  A2: Matrix;
  U: Matrix;
  uKind: 'P2prime' | 'P2';
  nu?: number[];
  pA2T: { sMin: number; cond: number };
  ucv: LeadingTermCV | null;
}

export async function polyRecurrence(
  ctx: IdentifyContext,
  s: { A1: Matrix; A2: Matrix | null; G: Matrix; l: number; lead: number; T1: Float64Array; cvSample: SequenceChunk[]; target: (c: SequenceChunk) => Float64Array; memory: Record<string, number> },
): Promise<Recurrence> {
  const { source, log } = ctx;
  const { dx, dy } = source;
  const { l, lead, G, T1 } = s;
  const dh = s.A1.rows, model = ctx.input.model, cvFit = ctx.p2.cvFit;
  const uKind = l === 2 ? 'P2' : 'P2prime';
  // Control variate of the U moment: the degree-2 features plus (â_j·(x_t − μ))^m, m = 3..l. Functions of x_t
  // alone have zero derivative in x_{t−1}, so the U moment stays unbiased, and they remove the leading term
  // c_l Σ_j A2^(j) (a1_j·x_t)^l of y, which dominates its variance.
  const ucv = cvFit && l >= 3 ? LeadingTermCV.fit(s.cvSample, model.mean, cvFit.quadratic, s.A1, l, dy) : null;
  const uTarget = (chunk: SequenceChunk): Float64Array => (ucv ? bySubchunks(chunk, (sub) => ucv.residualChunk(sub)) : s.target(chunk));
  const p1d = s.A2 === null ? diagonalFor(model, dy, G, 'P1', l) : null;
  const um = diagonalFor(model, dy, G, uKind, l);
  if (p1d) s.memory.P1 = p1d.memoryBytes;
  s.memory[uKind] = um.memoryBytes;
  // On an engine: one query per moment, with the same targets (src/learn/engine-passes.ts).
  const target = targetOf(cvFit, ctx.p1.yMean);
  const items = [...(p1d ? [{ moment: p1d, target }] : []), { moment: um, target: ucv ? leadingTarget(ucv) : target }];
  if (!(ctx.engine && (await diagonalsOnEngine(ctx.engine, 'mixed moment', items)))) {
    await ctx.pass('mixed moment', (chunk) => {
      const sc = scoresFor(model, chunk);
      if (p1d) p1d.add(chunk, sc, s.target(chunk));
      um.add(chunk, sc, uTarget(chunk));
    });
  }
  let A2 = s.A2;
  if (p1d) {
    const D = p1d.result(); // dy×dh
    A2 = new Matrix(dh, dy);
    for (let j = 0; j < dh; j++) for (let i = 0; i < dy; i++) A2.data[j * dy + i] = D[i * dh + j] / lead;
  }
  const A2hat = A2!;
  const pA2T = pinv(transpose(A2hat));
  const R = um.result(); // dy×dh×dh
  const onA2 = (j: number, vec: (i: number) => number): number => {
    let num = 0, den = 0;
    for (let i = 0; i < dy; i++) {
      num += vec(i) * A2hat.data[j * dy + i];
      den += A2hat.data[j * dy + i] ** 2;
    }
    return num / den;
  };
  const Cjk = new Float64Array(dh * dh);
  for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) Cjk[j * dh + k] = onA2(j, (i) => R[(i * dh + j) * dh + k]);
  const U = new Matrix(dh, dh);
  let nu: number[] | undefined;
  if (uKind === 'P2prime') {
    nu = [];
    for (let k = 0; k < dh; k++) {
      nu.push(
        onA2(k, (i) => {
          let v = 0;
          for (let a = 0; a < dx; a++) v += T1[i * dx + a] * G.get(a, k);
          return v;
        }),
      );
    }
    const nuMax = Math.max(...nu.map(Math.abs));
    for (let k = 0; k < dh; k++) {
      if (!(Math.abs(nu[k]) > 1e-3 * nuMax)) log.warn(`ν̂_${k + 1} = E σ'(z) ≈ ${nu[k].toExponential(2)} is near 0: column ${k + 1} of U is not identified by P2′ (docs/method.md §4)`);
    }
    for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) U.data[j * dh + k] = Cjk[j * dh + k] / (lead * nu[k]);
  } else {
    for (let i = 0; i < dh * dh; i++) U.data[i] = Cjk[i] / (lead * lead);
  }
  for (let j = 0; j < dh; j++) {
    let nj = 0;
    for (let i = 0; i < dy; i++) nj += A2hat.data[j * dy + i] ** 2;
    if (!(nj > 0)) log.warn(`neuron ${j + 1} has zero output weights in the order-${l} moment; its row of U is not identified`);
  }
  log.lap('pass4_u');
  return { A2: A2hat, U, uKind, nu, pA2T: { sMin: pA2T.sMin, cond: pA2T.cond }, ucv };
}

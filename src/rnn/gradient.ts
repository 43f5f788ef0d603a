/**
 * Exact gradient of the squared output error of a packed RNN (src/rnn/layout.ts) by backpropagation through
 * time over whole sequences. States and pre-activations come from the kernel's recursion (SequenceStates).
 */
import type { SequenceChunk } from '../io/dataset.js';
import type { Layout } from './layout.js';
import { sigmaPrimeAt } from './activation.js';
import { SequenceStates, maxSeqLength, sequencesOf, type PassResult } from './states.js';

/**
 * Exact gradient of Σ_t ‖ŷ_t − y_t‖² by backpropagation through time over whole sequences
 * (accumulated into `grad`, length P). Forward neurons: adjoint runs backward in time,
 * λ_t = 2 A2_f r_t + Uᵀ (σ'(u_{t+1}) ⊙ λ_{t+1}); backward neurons: their adjoint runs forward in time.
 * `burnIn`: the first burnIn rows of every sequence are not in the loss (r_t = 0 there) but the adjoint still runs
 * through them (their states feed the counted rows).
 */
export function gradientPass(lay: Layout, th: Float64Array, chunks: readonly SequenceChunk[], grad: Float64Array, burnIn = 0): PassResult {
  const { dx, dy, dh, dz, oU, oB1, oV, oA2, m, af, ab } = lay;
  const Lmax = maxSeqLength(chunks);
  const seq = new SequenceStates(lay, Lmax);
  const { H, uf: UF, zb, ub } = seq; // H[(t+1)·dh ..] = h_t, H[0..dh) = h_{−1} = 0
  const E = new Float64Array(Lmax * dy); // 2 r_t
  const carry = new Float64Array(Math.max(dh, dz)), gu = new Float64Array(Math.max(dh, dz));
  let sse = 0;
  let rows = 0;
  for (const { x, y, r0, L } of sequencesOf(chunks)) {
    if (!seq.run(lay, th, x, r0, L)) return { sse: Infinity, rows, blowup: true };
    const t0 = Math.min(burnIn, L);
    E.fill(0, 0, t0 * dy);
    for (let t = t0; t < L; t++) {
      const yo = (r0 + t) * dy;
      const hc = (t + 1) * dh;
      for (let i = 0; i < dy; i++) {
        let yh = th[oA2 + (m - 1) * dy + i];
        for (let j = 0; j < dh; j++) yh += th[oA2 + j * dy + i] * H[hc + j];
        for (let j = 0; j < dz; j++) yh += th[oA2 + (dh + j) * dy + i] * zb[t * dz + j];
        const ri = yh - y[yo + i];
        sse += ri * ri;
        const e = 2 * ri;
        E[t * dy + i] = e;
        // Output block: ∂/∂W[j,i] = e_i s_j.
        for (let j = 0; j < dh; j++) grad[oA2 + j * dy + i] += e * H[hc + j];
        for (let j = 0; j < dz; j++) grad[oA2 + (dh + j) * dy + i] += e * zb[t * dz + j];
        grad[oA2 + (m - 1) * dy + i] += e;
      }
    }
    // Forward neurons: adjoint backward in time.
    for (let j = 0; j < dh; j++) carry[j] = 0;
    for (let t = L - 1; t >= 0; t--) {
      const xo = (r0 + t) * dx, hp = t * dh;
      for (let j = 0; j < dh; j++) {
        let lam = carry[j];
        for (let i = 0; i < dy; i++) lam += th[oA2 + j * dy + i] * E[t * dy + i];
        gu[j] = sigmaPrimeAt(af, UF[t * dh + j], H[hp + dh + j]) * lam; // σ'(u_t) from h_t = σ(u_t)
      }
      for (let j = 0; j < dh; j++) {
        const gj = gu[j];
        if (gj === 0) continue;
        for (let k = 0; k < dx; k++) grad[j * dx + k] += gj * x[xo + k];
        for (let k = 0; k < dh; k++) grad[oU + j * dh + k] += gj * H[hp + k];
      }
      for (let k = 0; k < dh; k++) {
        let v = 0;
        for (let j = 0; j < dh; j++) v += th[oU + j * dh + k] * gu[j];
        carry[k] = v;
      }
    }
    // Backward neurons: z_t feeds ub_{t−1}, so the adjoint runs forward in time.
    if (dz > 0) {
      for (let j = 0; j < dz; j++) carry[j] = 0;
      for (let t = 0; t < L; t++) {
        const xo = (r0 + t) * dx;
        for (let j = 0; j < dz; j++) {
          let lam = carry[j];
          for (let i = 0; i < dy; i++) lam += th[oA2 + (dh + j) * dy + i] * E[t * dy + i];
          gu[j] = sigmaPrimeAt(ab, ub[t * dz + j], zb[t * dz + j]) * lam;
        }
        for (let j = 0; j < dz; j++) {
          const gj = gu[j];
          if (gj === 0) continue;
          for (let k = 0; k < dx; k++) grad[oB1 + j * dx + k] += gj * x[xo + k];
          if (t < L - 1) for (let k = 0; k < dz; k++) grad[oV + j * dz + k] += gj * zb[(t + 1) * dz + k];
        }
        for (let k = 0; k < dz; k++) {
          let v = 0;
          for (let j = 0; j < dz; j++) v += th[oV + j * dz + k] * gu[j];
          carry[k] = v;
        }
      }
    }
    rows += L - t0;
  }
  if (!Number.isFinite(sse)) return { sse: Infinity, rows, blowup: true };
  for (let a = 0; a < grad.length; a++) if (!Number.isFinite(grad[a])) return { sse: Infinity, rows, blowup: true };
  return { sse, rows, blowup: false };
}


/**
 * Exact output Jacobians of a packed RNN (src/rnn/layout.ts) by forward sensitivities (real-time recurrent
 * learning), as dense rows or accumulated Gauss–Newton normal equations (docs/method.md §5 step 6).
 * States and pre-activations come from the kernel's recursion (SequenceStates); σ' from the kernel activation.
 */
import type { SequenceChunk } from '../io/dataset.js';
import type { Layout } from './layout.js';
import { sigmaPrime } from './activation.js';
import { SequenceStates, maxSeqLength, sequencesOf, type PassResult } from './states.js';

/**
 * One pass of forward sensitivities (RTRL). For every step, G_t = ∂ŷ_t/∂θ_hidden (dy×Qh, Qh = oA2) is
 * built from S_t = ∂h_t/∂θ, which obeys S_t = diag(σ'(u_t)) (∂u_t/∂θ + U S_{t−1}) with u_t = A1 x_t + U h_{t−1}
 * (backward neurons: the same with V, z_{t+1}, run backward in time and stored per sequence).
 * The output block of the Jacobian is structured: ∂ŷ_t[i]/∂W[j,i'] = δ_ii' s_t[j].
 *
 * If `N` (P×P) and `g` (P) are given, accumulates the Gauss–Newton normal matrix N += JᵀJ (full,
 * symmetric on return) and g += Jᵀr with r_t = ŷ_t − y_t. If `J` is given (rows·dy × P, row-major,
 * row t·dy + i) and `res` (rows·dy), writes the dense Jacobian and residuals instead.
 * Cost per step O(dh²·Qf + dz²·Qb + dy·(dh·Qf + dz·Qb)) for the sensitivities plus O(dy·Qh²/2 + dy·m·Qh)
 * for the normal matrix (docs/method.md §5 step 6).
 * `burnIn`: the first burnIn rows of every sequence are not in the loss (no residual, no Jacobian row; dense J
 * keeps zero rows there) but the sensitivities run through them.
 */
export function sensitivityPass(
  lay: Layout,
  th: Float64Array,
  chunks: readonly SequenceChunk[],
  out: { N: Float64Array; g: Float64Array } | { J: Float64Array; res: Float64Array },
  burnIn = 0,
): PassResult {
  const { dx, dy, dh, dz, oU, oV, oA2, P, Qf, Qb, m, af, ab } = lay;
  const Qh = oA2;
  const Lmax = maxSeqLength(chunks);
  const seq = new SequenceStates(lay, Lmax);
  const { H, uf, zb, ub } = seq;
  const Sb = new Float64Array(Lmax * dz * Qb); // backward sensitivities of the current sequence
  let Sf = new Float64Array(dh * Qf), Sfn = new Float64Array(dh * Qf);
  const d = new Float64Array(dh);
  const s = new Float64Array(m), r = new Float64Array(dy);
  const normal = 'N' in out;
  const Gt = new Float64Array(dy * Qh);
  const N = normal ? out.N : null, g = normal ? out.g : null;
  const Jd = normal ? null : out.J, res = normal ? null : out.res;
  const Gs = new Float64Array(m * m);
  // Block buffers for the normal-matrix mode: B steps, BR = B·dy Jacobian rows.
  const B = 128, BR = B * dy;
  const BT = new Float64Array(normal ? (Qh + (Qh & 1)) * BR : 0), SB = new Float64Array(normal ? m * B : 0), RB = new Float64Array(normal ? BR : 0);
  let nb = 0;
  /** N_hh += Gᵀ G (upper triangle), N_ho += Gᵀ S, g_h += Gᵀ r over the first nbk buffered steps. */
  const flush = (nbk: number): void => {
    if (N === null || g === null) return;
    const R = nbk * dy;
    // N_hh: 2×2 register tiles (4 independent accumulators, 1 load per multiply–add). Entries of the
    // lower triangle touched by diagonal tiles are overwritten by the final mirroring; the padding row
    // Qh (odd Qh) is zero and never written back.
    for (let a = 0; a < Qh; a += 2) {
      const ra0 = a * BR, ra1 = ra0 + BR, na0 = a * P, na1 = na0 + P, a1ok = a + 1 < Qh;
      for (let b2 = a; b2 < Qh; b2 += 2) {
        const rb0 = b2 * BR, rb1 = rb0 + BR;
        let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
        for (let q = 0; q < R; q++) {
          const x0 = BT[ra0 + q], x1 = BT[ra1 + q], y0 = BT[rb0 + q], y1 = BT[rb1 + q];
          s00 += x0 * y0;
          s01 += x0 * y1;
          s10 += x1 * y0;
          s11 += x1 * y1;
        }
        const b1ok = b2 + 1 < Qh;
        N[na0 + b2] += s00;
        if (b1ok) N[na0 + b2 + 1] += s01;
        if (a1ok) {
          N[na1 + b2] += s10;
          if (b1ok) N[na1 + b2 + 1] += s11;
        }
      }
    }
    for (let a = 0; a < Qh; a++) {
      const ra = a * BR, na = a * P;
      let gv = 0;
      for (let q = 0; q < R; q++) gv += BT[ra + q] * RB[q];
      g[a] += gv;
      for (let j = 0; j < m; j++) {
        const sj = j * B;
        for (let i = 0; i < dy; i++) {
          let v = 0;
          for (let tt = 0; tt < nbk; tt++) v += BT[ra + tt * dy + i] * SB[sj + tt];
          N[na + oA2 + j * dy + i] += v;
        }
      }
    }
  };
  let sse = 0;
  let rows = 0;
  for (const { x, y, r0, L, rowBase } of sequencesOf(chunks)) {
    if (!seq.run(lay, th, x, r0, L)) return { sse: Infinity, rows, blowup: true };
    if (dz > 0) {
      // Backward sensitivities, t = L−1 … 0: Sb_t = diag(σ_b'(ub_t)) (∂ub_t/∂θ_b + V Sb_{t+1}).
      for (let t = L - 1; t >= 0; t--) {
        const xo = (r0 + t) * dx;
        const so = t * dz * Qb, sp = (t + 1) * dz * Qb;
        for (let j = 0; j < dz; j++) {
          const dj = sigmaPrime(ab, ub[t * dz + j]);
          const row = so + j * Qb;
          if (t < L - 1) {
            const vo = oV + j * dz;
            for (let a = 0; a < Qb; a++) {
              let v = 0;
              for (let k = 0; k < dz; k++) v += th[vo + k] * Sb[sp + k * Qb + a];
              Sb[row + a] = v;
            }
          } else {
            for (let a = 0; a < Qb; a++) Sb[row + a] = 0;
          }
          for (let k = 0; k < dx; k++) Sb[row + j * dx + k] += x[xo + k];
          if (t < L - 1) {
            const zo = (t + 1) * dz, vb = dz * dx + j * dz;
            for (let k = 0; k < dz; k++) Sb[row + vb + k] += zb[zo + k];
          }
          for (let a = 0; a < Qb; a++) Sb[row + a] *= dj;
        }
      }
    }
    Sf.fill(0);
    for (let t = 0; t < L; t++) {
      const xo = (r0 + t) * dx, yo = (r0 + t) * dy;
      const hp = t * dh; // h_{t−1} = H[hp …], h_t = H[hp + dh …]
      for (let j = 0; j < dh; j++) d[j] = sigmaPrime(af, uf[t * dh + j]);
      // Sf_t = diag(σ'(u_t)) (∂u_t/∂θ_f + U Sf_{t−1}); ∂u_t[j]/∂A1[j,k] = x_t[k], ∂u_t[j]/∂U[j,k] = h_{t−1}[k].
      // (axpy form: long contiguous inner loops over the Qf parameters)
      for (let j = 0; j < dh; j++) {
        const row = j * Qf, uo = oU + j * dh;
        Sfn.fill(0, row, row + Qf);
        for (let k = 0; k < dh; k++) {
          const ujk = th[uo + k];
          if (ujk === 0) continue;
          const ko = k * Qf;
          for (let a = 0; a < Qf; a++) Sfn[row + a] += ujk * Sf[ko + a];
        }
        for (let k = 0; k < dx; k++) Sfn[row + j * dx + k] += x[xo + k];
        const ub2 = dh * dx + j * dh;
        for (let k = 0; k < dh; k++) Sfn[row + ub2 + k] += H[hp + k];
        const dj = d[j];
        for (let a = 0; a < Qf; a++) Sfn[row + a] *= dj;
      }
      { const tmp = Sf; Sf = Sfn; Sfn = tmp; }
      if (t < burnIn) continue;
      seq.stateRow(lay, t, s);
      // Residual and G_t = ∂ŷ_t/∂θ_hidden = [A2_fᵀ Sf_t, A2_bᵀ Sb_t]. In normal-matrix mode G_t is copied
      // transposed into a block buffer (column t·dy + i of BT) so JᵀJ is accumulated by contiguous
      // dot products once per block instead of a rank-dy update per step.
      for (let i = 0; i < dy; i++) {
        let yh = 0;
        for (let j = 0; j < m; j++) yh += th[oA2 + j * dy + i] * s[j];
        const ri = yh - y[yo + i];
        r[i] = ri;
        sse += ri * ri;
        const go = i * Qh;
        Gt.fill(0, go, go + Qh);
        for (let j = 0; j < dh; j++) {
          const w = th[oA2 + j * dy + i];
          if (w === 0) continue;
          const so = j * Qf;
          for (let a = 0; a < Qf; a++) Gt[go + a] += w * Sf[so + a];
        }
        for (let j = 0; j < dz; j++) {
          const w = th[oA2 + (dh + j) * dy + i];
          if (w === 0) continue;
          const so = t * dz * Qb + j * Qb, gq = go + Qf;
          for (let a = 0; a < Qb; a++) Gt[gq + a] += w * Sb[so + a];
        }
      }
      const gOff = nb * dy;
      if (normal) for (let i = 0; i < dy; i++) for (let a = 0; a < Qh; a++) BT[a * BR + gOff + i] = Gt[i * Qh + a];
      if (N !== null && g !== null) {
        for (let i = 0; i < dy; i++) {
          const ri = r[i];
          RB[gOff + i] = ri;
          for (let j = 0; j < m; j++) g[oA2 + j * dy + i] += ri * s[j];
        }
        for (let a = 0; a < m; a++) {
          const sa = s[a];
          SB[a * B + nb] = sa;
          for (let b2 = a; b2 < m; b2++) Gs[a * m + b2] += sa * s[b2];
        }
        nb++;
        if (nb === B) { flush(nb); nb = 0; }
      } else if (Jd !== null && res !== null) {
        const row0 = (rowBase + t) * dy;
        for (let i = 0; i < dy; i++) {
          const jo = (row0 + i) * P;
          for (let a = 0; a < Qh; a++) Jd[jo + a] = Gt[i * Qh + a];
          for (let j = 0; j < m; j++) Jd[jo + oA2 + j * dy + i] = s[j];
          res[row0 + i] = r[i];
        }
      }
    }
    rows += L - Math.min(burnIn, L);
  }
  if (N !== null && nb > 0) flush(nb);
  if (N !== null) {
    // Output–output block: δ_ii' Σ s_j s_j'; then mirror the upper triangle.
    for (let a = 0; a < m; a++) {
      for (let b2 = a; b2 < m; b2++) {
        const v = Gs[a * m + b2];
        for (let i = 0; i < dy; i++) N[(oA2 + a * dy + i) * P + oA2 + b2 * dy + i] += v;
      }
    }
    for (let a = 0; a < P; a++) for (let b2 = 0; b2 < a; b2++) N[a * P + b2] = N[b2 * P + a];
  }
  if (!Number.isFinite(sse)) return { sse: Infinity, rows, blowup: true };
  return { sse, rows, blowup: false };
}


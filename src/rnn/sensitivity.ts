/**
 * Exact output Jacobians of a packed RNN (src/rnn/layout.ts) by forward sensitivities (real-time recurrent
 * learning), as dense rows or accumulated Gauss–Newton normal equations (docs/method.md §5 step 6).
 * States and pre-activations come from the kernel's recursion (SequenceStates); σ' from the kernel activation.
 */
import type { SequenceChunk } from '../io/dataset.js';
import type { Layout } from './layout.js';
import { sigmaPrimeAt } from './activation.js';
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
  const s = new Float64Array(m), r = new Float64Array(dy);
  const normal = 'N' in out;
  const Gt = new Float64Array(dy * Qh);
  const N = normal ? out.N : null, g = normal ? out.g : null;
  const Jd = normal ? null : out.J, res = normal ? null : out.res;
  const Gs = new Float64Array(m * m);
  // Nonzero weights of one row (U row j, or the output column i of A2_f / A2_b) and the offsets of the rows they
  // multiply: the products are summed in increasing index order from 0, skipping exact zeros (docs/method.md §5
  // step 6; one fused pass per row instead of one axpy per term, the same operations in the same order).
  const wv = new Float64Array(Math.max(dh, dz)), wo = new Int32Array(Math.max(dh, dz));
  // Block buffers for the normal-matrix mode: B steps, BR = B·dy Jacobian rows. BT has 4 zero padding rows
  // (never written) so the 2×4 register tiles below need no bounds checks inside the loop.
  const B = 128, BR = B * dy;
  const BT = new Float64Array(normal ? (Qh + 4) * BR : 0), SB = new Float64Array(normal ? m * B : 0), RB = new Float64Array(normal ? BR : 0);
  let nb = 0;
  /** N_hh += Gᵀ G (upper triangle), N_ho += Gᵀ S, g_h += Gᵀ r over the first nbk buffered steps. */
  const flush = (nbk: number): void => {
    if (N === null || g === null) return;
    const R = nbk * dy;
    // N_hh: 2×4 register tiles (8 independent accumulators, 6 loads per 8 multiply–adds); every entry is
    // still one sum over q in increasing order from 0. Entries of the lower triangle touched by diagonal
    // tiles are overwritten by the final mirroring; padding rows (≥ Qh) are zero and never written back.
    for (let a = 0; a < Qh; a += 2) {
      const ra0 = a * BR, ra1 = ra0 + BR, na0 = a * P, na1 = na0 + P, a1ok = a + 1 < Qh;
      for (let b2 = a; b2 < Qh; b2 += 4) {
        const rb0 = b2 * BR, rb1 = rb0 + BR, rb2 = rb1 + BR, rb3 = rb2 + BR;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        for (let q = 0; q < R; q++) {
          const x0 = BT[ra0 + q], x1 = BT[ra1 + q];
          const y0 = BT[rb0 + q], y1 = BT[rb1 + q], y2 = BT[rb2 + q], y3 = BT[rb3 + q];
          s00 += x0 * y0;
          s01 += x0 * y1;
          s02 += x0 * y2;
          s03 += x0 * y3;
          s10 += x1 * y0;
          s11 += x1 * y1;
          s12 += x1 * y2;
          s13 += x1 * y3;
        }
        const nc = Math.min(4, Qh - b2);
        N[na0 + b2] += s00;
        if (nc > 1) N[na0 + b2 + 1] += s01;
        if (nc > 2) N[na0 + b2 + 2] += s02;
        if (nc > 3) N[na0 + b2 + 3] += s03;
        if (a1ok) {
          N[na1 + b2] += s10;
          if (nc > 1) N[na1 + b2 + 1] += s11;
          if (nc > 2) N[na1 + b2 + 2] += s12;
          if (nc > 3) N[na1 + b2 + 3] += s13;
        }
      }
    }
    // g_h and N_ho: the dy outputs of one step are adjacent in a row of BT; four of them at a time (independent
    // accumulators), each still summed over the steps tt in increasing order from 0.
    const dy4 = dy - (dy & 3);
    for (let a = 0; a < Qh; a++) {
      const ra = a * BR, na = a * P;
      let gv = 0;
      for (let q = 0; q < R; q++) gv += BT[ra + q] * RB[q];
      g[a] += gv;
      for (let j = 0; j < m; j++) {
        const sj = j * B, nj = na + oA2 + j * dy;
        for (let i = 0; i < dy4; i += 4) {
          let v0 = 0, v1 = 0, v2 = 0, v3 = 0;
          for (let tt = 0, q = ra + i; tt < nbk; tt++, q += dy) {
            const st = SB[sj + tt];
            v0 += BT[q] * st;
            v1 += BT[q + 1] * st;
            v2 += BT[q + 2] * st;
            v3 += BT[q + 3] * st;
          }
          N[nj + i] += v0;
          N[nj + i + 1] += v1;
          N[nj + i + 2] += v2;
          N[nj + i + 3] += v3;
        }
        for (let i = dy4; i < dy; i++) {
          let v = 0;
          for (let tt = 0; tt < nbk; tt++) v += BT[ra + tt * dy + i] * SB[sj + tt];
          N[nj + i] += v;
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
          const dj = sigmaPrimeAt(ab, ub[t * dz + j], zb[t * dz + j]); // σ_b'(ub_t) from z_t = σ_b(ub_t)
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
      // Sf_t = diag(σ'(u_t)) (∂u_t/∂θ_f + U Sf_{t−1}); ∂u_t[j]/∂A1[j,k] = x_t[k], ∂u_t[j]/∂U[j,k] = h_{t−1}[k].
      // Per row j: (U Sf_{t−1})[j,·] in one pass over the nonzero U[j,k] (increasing k), then the x_t and h_{t−1}
      // entries of row j's own A1 / U blocks added, then the product with σ'(u_t[j]).
      for (let j = 0; j < dh; j++) {
        const row = j * Qf, uo = oU + j * dh;
        let nk = 0;
        for (let k = 0; k < dh; k++) {
          const ujk = th[uo + k];
          if (ujk === 0) continue;
          wv[nk] = ujk;
          wo[nk++] = k * Qf;
        }
        combineRows(Qf, nk, wv, wo, Sf, Sfn, row, 1);
        for (let k = 0; k < dx; k++) Sfn[row + j * dx + k] += x[xo + k];
        const ub2 = dh * dx + j * dh;
        for (let k = 0; k < dh; k++) Sfn[row + ub2 + k] += H[hp + k];
        const dj = sigmaPrimeAt(af, uf[t * dh + j], H[hp + dh + j]); // σ'(u_t) from h_t = σ(u_t)
        for (let a = 0; a < Qf; a++) Sfn[row + a] *= dj;
      }
      { const tmp = Sf; Sf = Sfn; Sfn = tmp; }
      if (t < burnIn) continue;
      seq.stateRow(lay, t, s);
      // Residual and G_t = ∂ŷ_t/∂θ_hidden = [A2_fᵀ Sf_t, A2_bᵀ Sb_t] (each entry summed over the nonzero
      // weights in increasing j from 0). In normal-matrix mode G_t goes transposed straight into a block buffer
      // (column t·dy + i of BT) so JᵀJ is accumulated by contiguous dot products once per block instead of a
      // rank-dy update per step; in Jacobian mode into Gt (row i).
      const gOff = nb * dy;
      const Gd = normal ? BT : Gt, gStride = normal ? BR : 1;
      for (let i = 0; i < dy; i++) {
        let yh = 0;
        for (let j = 0; j < m; j++) yh += th[oA2 + j * dy + i] * s[j];
        const ri = yh - y[yo + i];
        r[i] = ri;
        sse += ri * ri;
        const go = normal ? gOff + i : i * Qh;
        let nj = 0;
        for (let j = 0; j < dh; j++) {
          const w = th[oA2 + j * dy + i];
          if (w === 0) continue;
          wv[nj] = w;
          wo[nj++] = j * Qf;
        }
        combineRows(Qf, nj, wv, wo, Sf, Gd, go, gStride);
        if (dz > 0) {
          nj = 0;
          for (let j = 0; j < dz; j++) {
            const w = th[oA2 + (dh + j) * dy + i];
            if (w === 0) continue;
            wv[nj] = w;
            wo[nj++] = t * dz * Qb + j * Qb;
          }
          combineRows(Qb, nj, wv, wo, Sb, Gd, go + Qf * gStride, gStride);
        }
      }
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

/**
 * out[o + a·stride] = Σ_q w[q]·S[so[q] + a] for a < n: the sum starts from 0 and adds the terms in increasing q
 * (the same operations, in the same order, as one axpy per term into a zeroed row), in one pass over a with the
 * common counts (≤ 4 terms) unrolled.
 */
function combineRows(n: number, cnt: number, w: Float64Array, so: Int32Array, S: Float64Array, out: Float64Array, o: number, stride: number): void {
  if (cnt === 0) {
    for (let a = 0; a < n; a++) out[o + a * stride] = 0;
    return;
  }
  const w0 = w[0], s0 = so[0];
  if (cnt === 1) {
    for (let a = 0; a < n; a++) {
      let v = 0;
      v += w0 * S[s0 + a];
      out[o + a * stride] = v;
    }
    return;
  }
  const w1 = w[1], s1 = so[1];
  if (cnt === 2) {
    for (let a = 0; a < n; a++) {
      let v = 0;
      v += w0 * S[s0 + a];
      v += w1 * S[s1 + a];
      out[o + a * stride] = v;
    }
    return;
  }
  const w2 = w[2], s2 = so[2];
  if (cnt === 3) {
    for (let a = 0; a < n; a++) {
      let v = 0;
      v += w0 * S[s0 + a];
      v += w1 * S[s1 + a];
      v += w2 * S[s2 + a];
      out[o + a * stride] = v;
    }
    return;
  }
  const w3 = w[3], s3 = so[3];
  for (let a = 0; a < n; a++) {
    let v = 0;
    v += w0 * S[s0 + a];
    v += w1 * S[s1 + a];
    v += w2 * S[s2 + a];
    v += w3 * S[s3 + a];
    for (let q = 4; q < cnt; q++) v += w[q] * S[so[q] + a];
    out[o + a * stride] = v;
  }
}

/**
 * Numerical core of the refinement stage (DESIGN.md §5 step 6): packed parameter vectors, forward
 * passes, exact output Jacobians by forward sensitivities (real-time recurrent learning), exact
 * full-sequence BPTT gradients, and the few small dense solvers the stage needs.
 *
 * One code path serves both model kinds: an IO-RNN is treated as a BRNN with dz = 0 backward neurons.
 * Everything here works on flat Float64Arrays; the per-step loops allocate nothing.
 *
 * Packed parameter vector θ (length P), in this order, each block row-major:
 *   A1 (dh×dx) · U (dh×dh) · B1 (dz×dx) · V (dz×dz) · A2 ((dh+dz)×dy) · b (dy)
 * A2 and b are contiguous, so the output block is the (m×dy) matrix W = [A2; bᵀ], m = dh+dz+1, and
 * ŷ_t = Wᵀ s_t with s_t = [h_t; z_t; 1].
 */
import type { SequenceChunk } from '../io/dataset.js';
import { Matrix } from '../linalg/matrix.js';
import { eigSym } from '../linalg/eigsym.js';

/** |state| above this (or non-finite) counts as a blow-up (DESIGN.md §6). */
export const BLOWUP_BOUND = 1e6;

/** Dimensions and offsets of a packed parameter vector. */
export interface Layout {
  readonly dx: number;
  readonly dy: number;
  readonly dh: number;
  /** Number of backward neurons; 0 for an IO-RNN. */
  readonly dz: number;
  readonly oU: number;
  readonly oB1: number;
  readonly oV: number;
  /** Start of the output block W = [A2; bᵀ] (also the number of hidden-layer parameters Qh). */
  readonly oA2: number;
  readonly ob: number;
  readonly P: number;
  /** Forward-neuron parameter count dh·dx + dh². */
  readonly Qf: number;
  /** Backward-neuron parameter count dz·dx + dz². */
  readonly Qb: number;
  /** m = dh + dz + 1 (rows of W). */
  readonly m: number;
  /** σ coefficients c_0..c_l of the forward neurons. */
  readonly cf: Float64Array;
  /** σ_b coefficients of the backward neurons. */
  readonly cb: Float64Array;
}

export function makeLayout(dx: number, dy: number, dh: number, dz: number, cf: ArrayLike<number>, cb: ArrayLike<number>): Layout {
  const oU = dh * dx;
  const oB1 = oU + dh * dh;
  const oV = oB1 + dz * dx;
  const oA2 = oV + dz * dz;
  const ob = oA2 + (dh + dz) * dy;
  const P = ob + dy;
  return {
    dx, dy, dh, dz, oU, oB1, oV, oA2, ob, P,
    Qf: dh * dx + dh * dh,
    Qb: dz * dx + dz * dz,
    m: dh + dz + 1,
    cf: Float64Array.from(cf),
    cb: Float64Array.from(cb),
  };
}

/** σ(z) = Σ_m c_m z^m by Horner. */
function poly(c: Float64Array, z: number): number {
  let v = 0;
  for (let k = c.length - 1; k >= 0; k--) v = v * z + c[k];
  return v;
}

/** σ'(z) = Σ_m m c_m z^{m−1} by Horner. */
function dpoly(c: Float64Array, z: number): number {
  let v = 0;
  for (let k = c.length - 1; k >= 1; k--) v = v * z + k * c[k];
  return v;
}

function maxSeqLength(chunks: readonly SequenceChunk[]): number {
  let L = 0;
  for (const c of chunks) for (let k = 0; k < c.lengths.length; k++) if (c.lengths[k] > L) L = c.lengths[k];
  return L;
}

/** Result of a pass over the data. `blowup` means some state was non-finite or exceeded BLOWUP_BOUND. */
export interface PassResult {
  /** Σ_t ‖ŷ_t − y_t‖² (not averaged). */
  sse: number;
  /** Number of time steps seen. */
  rows: number;
  blowup: boolean;
}

/**
 * Backward-neuron states of one sequence (rows r0..r0+L−1), run backward in time:
 * ub_t = B1 x_t + V z_{t+1}, z_t = σ_b(ub_t), z_L = 0. Writes z into zb (L×dz) and ub (L×dz).
 * Returns true on blow-up.
 */
function backwardStates(lay: Layout, th: Float64Array, x: Float64Array, r0: number, L: number, zb: Float64Array, ub: Float64Array): boolean {
  const { dx, dz, oB1, oV, cb } = lay;
  let bad = false;
  for (let t = L - 1; t >= 0; t--) {
    const xo = (r0 + t) * dx;
    for (let j = 0; j < dz; j++) {
      let u = 0;
      const bo = oB1 + j * dx;
      for (let k = 0; k < dx; k++) u += th[bo + k] * x[xo + k];
      if (t < L - 1) {
        const vo = oV + j * dz, zo = (t + 1) * dz;
        for (let k = 0; k < dz; k++) u += th[vo + k] * zb[zo + k];
      }
      ub[t * dz + j] = u;
      const z = poly(cb, u);
      zb[t * dz + j] = z;
      if (!(Math.abs(z) <= BLOWUP_BOUND)) bad = true;
    }
    if (bad) return true;
  }
  return false;
}

/**
 * Forward pass: sum of squared output errors and blow-up detection. If `gram` is given, also
 * accumulates G += s_t s_tᵀ (m×m), C += s_t y_tᵀ (m×dy) and yy += ‖y_t‖², the sufficient statistics
 * of the output-layer least squares. Stops early (blowup = true) on the first blown-up sequence.
 */
export function statePass(
  lay: Layout,
  th: Float64Array,
  chunks: readonly SequenceChunk[],
  gram?: { G: Float64Array; C: Float64Array; yy: number },
): PassResult {
  const { dx, dy, dh, dz, oU, oA2, m, cf } = lay;
  const Lmax = maxSeqLength(chunks);
  const zb = new Float64Array(Lmax * dz), ub = new Float64Array(Lmax * dz);
  const h = new Float64Array(dh), hn = new Float64Array(dh), s = new Float64Array(m);
  let sse = 0, rows = 0, yy = 0;
  for (const c of chunks) {
    const { x, y, lengths } = c;
    let r0 = 0;
    for (let q = 0; q < lengths.length; q++) {
      const L = lengths[q];
      if (dz > 0 && backwardStates(lay, th, x, r0, L, zb, ub)) return { sse: Infinity, rows, blowup: true };
      h.fill(0);
      for (let t = 0; t < L; t++) {
        const xo = (r0 + t) * dx, yo = (r0 + t) * dy;
        for (let j = 0; j < dh; j++) {
          let u = 0;
          const ao = j * dx;
          for (let k = 0; k < dx; k++) u += th[ao + k] * x[xo + k];
          const uo = oU + j * dh;
          for (let k = 0; k < dh; k++) u += th[uo + k] * h[k];
          const v = poly(cf, u);
          if (!(Math.abs(v) <= BLOWUP_BOUND)) return { sse: Infinity, rows, blowup: true };
          hn[j] = v;
        }
        for (let j = 0; j < dh; j++) { h[j] = hn[j]; s[j] = hn[j]; }
        for (let j = 0; j < dz; j++) s[dh + j] = zb[t * dz + j];
        s[m - 1] = 1;
        for (let i = 0; i < dy; i++) {
          let yh = 0;
          for (let j = 0; j < m; j++) yh += th[oA2 + j * dy + i] * s[j];
          const r = yh - y[yo + i];
          sse += r * r;
        }
        if (gram) {
          const { G, C } = gram;
          for (let a = 0; a < m; a++) {
            const sa = s[a];
            for (let b2 = a; b2 < m; b2++) G[a * m + b2] += sa * s[b2];
            for (let i = 0; i < dy; i++) C[a * dy + i] += sa * y[yo + i];
          }
          for (let i = 0; i < dy; i++) yy += y[yo + i] * y[yo + i];
        }
      }
      rows += L;
      r0 += L;
    }
  }
  if (gram) {
    const { G } = gram;
    for (let a = 0; a < m; a++) for (let b2 = 0; b2 < a; b2++) G[a * m + b2] = G[b2 * m + a];
    gram.yy += yy;
  }
  if (!Number.isFinite(sse)) return { sse: Infinity, rows, blowup: true };
  return { sse, rows, blowup: false };
}

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
 * for the normal matrix (DESIGN.md §5 step 6).
 */
export function sensitivityPass(
  lay: Layout,
  th: Float64Array,
  chunks: readonly SequenceChunk[],
  out: { N: Float64Array; g: Float64Array } | { J: Float64Array; res: Float64Array },
): PassResult {
  const { dx, dy, dh, dz, oU, oV, oB1, oA2, P, Qf, Qb, m, cf, cb } = lay;
  const Qh = oA2;
  const Lmax = maxSeqLength(chunks);
  const zb = new Float64Array(Lmax * dz), ub = new Float64Array(Lmax * dz);
  const Sb = new Float64Array(Lmax * dz * Qb); // backward sensitivities of the current sequence
  let Sf = new Float64Array(dh * Qf), Sfn = new Float64Array(dh * Qf);
  const h = new Float64Array(dh), hn = new Float64Array(dh), d = new Float64Array(Math.max(dh, dz));
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
  let sse = 0, rows = 0;
  for (const c of chunks) {
    const { x, y, lengths } = c;
    let r0 = 0;
    for (let q = 0; q < lengths.length; q++) {
      const L = lengths[q];
      if (dz > 0) {
        if (backwardStates(lay, th, x, r0, L, zb, ub)) return { sse: Infinity, rows, blowup: true };
        // Backward sensitivities, t = L−1 … 0: Sb_t = diag(σ_b'(ub_t)) (∂ub_t/∂θ_b + V Sb_{t+1}).
        for (let t = L - 1; t >= 0; t--) {
          const xo = (r0 + t) * dx;
          const so = t * dz * Qb, sp = (t + 1) * dz * Qb;
          for (let j = 0; j < dz; j++) {
            const dj = dpoly(cb, ub[t * dz + j]);
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
      h.fill(0);
      Sf.fill(0);
      for (let t = 0; t < L; t++) {
        const xo = (r0 + t) * dx, yo = (r0 + t) * dy;
        // Forward states and σ'.
        for (let j = 0; j < dh; j++) {
          let u = 0;
          const ao = j * dx;
          for (let k = 0; k < dx; k++) u += th[ao + k] * x[xo + k];
          const uo = oU + j * dh;
          for (let k = 0; k < dh; k++) u += th[uo + k] * h[k];
          const v = poly(cf, u);
          if (!(Math.abs(v) <= BLOWUP_BOUND)) return { sse: Infinity, rows, blowup: true };
          hn[j] = v;
          d[j] = dpoly(cf, u);
        }
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
          for (let k = 0; k < dh; k++) Sfn[row + ub2 + k] += h[k];
          const dj = d[j];
          for (let a = 0; a < Qf; a++) Sfn[row + a] *= dj;
        }
        { const tmp = Sf; Sf = Sfn; Sfn = tmp; }
        for (let j = 0; j < dh; j++) { h[j] = hn[j]; s[j] = hn[j]; }
        for (let j = 0; j < dz; j++) s[dh + j] = zb[t * dz + j];
        s[m - 1] = 1;
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
          const row0 = (rows + t) * dy;
          for (let i = 0; i < dy; i++) {
            const jo = (row0 + i) * P;
            for (let a = 0; a < Qh; a++) Jd[jo + a] = Gt[i * Qh + a];
            for (let j = 0; j < m; j++) Jd[jo + oA2 + j * dy + i] = s[j];
            res[row0 + i] = r[i];
          }
        }
      }
      rows += L;
      r0 += L;
    }
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
  void oB1;
  if (!Number.isFinite(sse)) return { sse: Infinity, rows, blowup: true };
  return { sse, rows, blowup: false };
}

/**
 * Exact gradient of Σ_t ‖ŷ_t − y_t‖² by backpropagation through time over whole sequences
 * (accumulated into `grad`, length P). Forward neurons: adjoint runs backward in time,
 * λ_t = 2 A2_f r_t + Uᵀ (σ'(u_{t+1}) ⊙ λ_{t+1}); backward neurons: their adjoint runs forward in time.
 */
export function gradientPass(lay: Layout, th: Float64Array, chunks: readonly SequenceChunk[], grad: Float64Array): PassResult {
  const { dx, dy, dh, dz, oU, oB1, oV, oA2, m, cf, cb } = lay;
  const Lmax = maxSeqLength(chunks);
  const zb = new Float64Array(Lmax * dz), ub = new Float64Array(Lmax * dz);
  const H = new Float64Array((Lmax + 1) * dh); // H[(t+1)·dh ..] = h_t, H[0..dh) = h_{−1} = 0
  const UF = new Float64Array(Lmax * dh);
  const E = new Float64Array(Lmax * dy); // 2 r_t
  const carry = new Float64Array(Math.max(dh, dz)), gu = new Float64Array(Math.max(dh, dz));
  let sse = 0, rows = 0;
  for (const c of chunks) {
    const { x, y, lengths } = c;
    let r0 = 0;
    for (let q = 0; q < lengths.length; q++) {
      const L = lengths[q];
      if (dz > 0 && backwardStates(lay, th, x, r0, L, zb, ub)) return { sse: Infinity, rows, blowup: true };
      for (let j = 0; j < dh; j++) H[j] = 0;
      for (let t = 0; t < L; t++) {
        const xo = (r0 + t) * dx, yo = (r0 + t) * dy;
        const hp = t * dh, hc = (t + 1) * dh;
        for (let j = 0; j < dh; j++) {
          let u = 0;
          const ao = j * dx;
          for (let k = 0; k < dx; k++) u += th[ao + k] * x[xo + k];
          const uo = oU + j * dh;
          for (let k = 0; k < dh; k++) u += th[uo + k] * H[hp + k];
          const v = poly(cf, u);
          if (!(Math.abs(v) <= BLOWUP_BOUND)) return { sse: Infinity, rows, blowup: true };
          UF[t * dh + j] = u;
          H[hc + j] = v;
        }
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
          gu[j] = dpoly(cf, UF[t * dh + j]) * lam;
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
            gu[j] = dpoly(cb, ub[t * dz + j]) * lam;
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
      rows += L;
      r0 += L;
    }
  }
  if (!Number.isFinite(sse)) return { sse: Infinity, rows, blowup: true };
  for (let a = 0; a < grad.length; a++) if (!Number.isFinite(grad[a])) return { sse: Infinity, rows, blowup: true };
  return { sse, rows, blowup: false };
}

// ---------------------------------------------------------------------------------------------
// Small dense solvers (n ≤ a few hundred).

/**
 * Cholesky factorisation in place of a symmetric n×n matrix (lower triangle L, A = LLᵀ).
 * Returns false if A is not (numerically) positive definite.
 */
export function cholesky(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let dsum = A[j * n + j];
    for (let k = 0; k < j; k++) dsum -= A[j * n + k] * A[j * n + k];
    if (!(dsum > 0) || !Number.isFinite(dsum)) return false;
    const ljj = Math.sqrt(dsum);
    A[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let v = A[i * n + j];
      for (let k = 0; k < j; k++) v -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = v / ljj;
    }
  }
  return true;
}

/** Solve LLᵀ x = b in place given the factor from `cholesky`. */
export function choleskySolve(Lf: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let v = b[i];
    for (let k = 0; k < i; k++) v -= Lf[i * n + k] * b[k];
    b[i] = v / Lf[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = b[i];
    for (let k = i + 1; k < n; k++) v -= Lf[k * n + i] * b[k];
    b[i] = v / Lf[i * n + i];
  }
}


/**
 * Least squares W = argmin Σ‖y_t − Wᵀ s_t‖² from the normal statistics G = Σ s sᵀ (m×m), C = Σ s yᵀ
 * (m×dy), by the eigen-pseudo-inverse of G (directions with eigenvalue < 1e-12·λmax are dropped, so
 * a dead neuron gets zero output weights instead of a huge ill-determined one).
 * `cond` is the 2-norm condition number of the design matrix [s_t]: sqrt(λmax/λmin) of G
 * (Infinity if G is singular).
 */
export function solveOutputLS(G: Float64Array, C: Float64Array, m: number, dy: number): { W: Float64Array; cond: number; rankDeficient: boolean } {
  // G is exactly symmetric (mirrored by the caller); eigSym throws rather than return an unconverged basis.
  const eig = eigSym(new Matrix(m, m, G));
  const values = eig.values, vectors = eig.vectors.data;
  let lmax = 0, lmin = Infinity;
  for (let i = 0; i < m; i++) {
    lmax = Math.max(lmax, values[i]);
    lmin = Math.min(lmin, values[i]);
  }
  const cut = 1e-12 * lmax;
  const W = new Float64Array(m * dy);
  let rankDeficient = false;
  for (let e = 0; e < m; e++) {
    const lam = values[e];
    if (!(lam > cut)) { rankDeficient = true; continue; }
    // W += v v_ᵀ C / λ
    for (let i = 0; i < dy; i++) {
      let vc = 0;
      for (let a = 0; a < m; a++) vc += vectors[a * m + e] * C[a * dy + i];
      vc /= lam;
      for (let a = 0; a < m; a++) W[a * dy + i] += vectors[a * m + e] * vc;
    }
  }
  const cond = lmin > 0 ? Math.sqrt(lmax / lmin) : Infinity;
  return { W, cond, rankDeficient };
}

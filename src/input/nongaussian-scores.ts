import { MixtureVAR1 } from './var1-mixture.js';
import { MAX_DERIVATIVE_ORDER } from './mixture1d.js';

/**
 * Score functions of every order of a non-Gaussian VAR(1) sequence (src/input/var1-mixture.ts), contracted on
 * given directions — the reference definition that the accumulators of src/moments/nongaussian.ts specialise
 * and that the tests check against finite differences (docs/non-gaussian-inputs.md).
 *
 * For a density p of the whole sequence and φ = −log p, the order-m score is S_m = (−1)ᵐ ∇ᵐp / p. Faà di Bruno
 * (the moment–cumulant relation) writes it as a sum over the set partitions π of the m modes:
 *
 *   S_m[u_1, …, u_m] = Σ_π Π_{B ∈ π} (−1)^{|B|+1} ∇^{|B|}φ [u_j : j ∈ B],
 *
 * singletons giving the first-order score g = ∇φ, pairs −∇²φ, triples +∇³φ, … . A Gaussian has ∇²φ = Λ constant
 * and ∇^{≥3}φ = 0, which leaves exactly the Hermite polynomials of src/input/scores.ts; here every block is
 * data-dependent and blocks of size ≥ 3 survive. Each mode sits at its own step, so this covers S1, S2, S3 of one
 * step and every mixed score across t−1, t, t+1 alike.
 */

/** A mode: the step it differentiates (0-based) and its direction (length dx). */
export interface ScoreMode {
  step: number;
  u: ArrayLike<number>;
}

/** All set partitions of {0..n−1} (Bell(n) of them; n ≤ 6 here). */
export function setPartitions(n: number): number[][][] {
  const out: number[][][] = [];
  const rec = (i: number, blocks: number[][]): void => {
    if (i === n) {
      out.push(blocks.map((b) => b.slice()));
      return;
    }
    for (const b of blocks) {
      b.push(i);
      rec(i + 1, blocks);
      b.pop();
    }
    blocks.push([i]);
    rec(i + 1, blocks);
    blocks.pop();
  };
  rec(0, []);
  return out;
}

/** Per-sequence data the scores need: the derivatives φ_i⁽ᵏ⁾(z_t) (k ≤ order) and the centred first step. */
export interface SequenceDerivatives {
  L: number;
  order: number;
  d: Float64Array;
  c0: Float64Array;
}

export function sequenceDerivatives(model: MixtureVAR1, x: Float64Array, L: number, order: number, xOffset = 0): SequenceDerivatives {
  const dx = model.dx;
  const d = new Float64Array(L * order * dx);
  model.innovationDerivatives(x, L, order, d, xOffset, 0);
  const c0 = new Float64Array(dx);
  for (let a = 0; a < dx; a++) c0[a] = x[xOffset + a] - model.mean[a];
  return { L, order, d, c0 };
}

/** ∇ᵏφ contracted on the modes (k = modes.length; see the file comment of var1-mixture.ts). */
export function phiDerivative(model: MixtureVAR1, sd: SequenceDerivatives, modes: readonly ScoreMode[]): number {
  const k = modes.length, dx = model.dx, { L, order, d } = sd;
  if (k < 1 || k > order) throw new RangeError(`phiDerivative: order ${k} needs derivatives up to ${k}, have ${order}`);
  let lo = Infinity, hi = -Infinity;
  for (const m of modes) {
    if (m.step < 0 || m.step >= L) throw new RangeError(`phiDerivative: step ${m.step} outside a sequence of length ${L}`);
    lo = Math.min(lo, m.step);
    hi = Math.max(hi, m.step);
  }
  let total = 0;
  if (hi - lo <= 1) {
    const M = [model.M0.data, model.M1.data];
    // Innovations e with every step in {e−1, e}: e = hi (and e = lo + 1 = hi when lo < hi; e = lo = hi or lo + 1 when equal).
    const es = lo === hi ? [lo, lo + 1] : [hi];
    for (const e of es) {
      if (e < 1 || e > L - 1) continue;
      const base = (e * order + (k - 1)) * dx;
      for (let i = 0; i < dx; i++) {
        let p = d[base + i];
        for (const m of modes) {
          const Md = M[e - m.step];
          let v = 0;
          for (let a = 0; a < dx; a++) v += Md[i * dx + a] * m.u[a];
          p *= v;
        }
        total += p;
      }
    }
    if (hi === 0 && k <= 2) {
      const S = model.SigmaInv.data;
      const w = k === 1 ? sd.c0 : modes[1].u;
      for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) total += modes[0].u[a] * S[a * dx + b] * w[b];
    }
  }
  return total;
}

/** S_m contracted on the modes (any steps, m ≤ MAX_DERIVATIVE_ORDER), by the partition sum of the file comment. */
export function scoreContract(model: MixtureVAR1, sd: SequenceDerivatives, modes: readonly ScoreMode[]): number {
  const m = modes.length;
  if (m > MAX_DERIVATIVE_ORDER) throw new RangeError(`scoreContract: order ${m} > ${MAX_DERIVATIVE_ORDER}`);
  let s = 0;
  for (const part of setPartitions(m)) {
    let term = 1;
    for (const B of part) {
      term *= (B.length % 2 === 1 ? 1 : -1) * phiDerivative(model, sd, B.map((j) => modes[j]));
      if (term === 0) break;
    }
    s += term;
  }
  return s;
}

/**
 * Complete Bell polynomials B_0..B_n of κ_1..κ_n (κ[0] unused): B_{n+1} = Σ_i C(n, i) B_{n−i} κ_{i+1}. With
 * κ_j = (−1)^{j+1} ∇ʲφ[a, …, a] at one step, B_l is S_l[a, …, a] (all l modes at that step along a).
 */
export function completeBell(kappa: ArrayLike<number>, n: number, out: Float64Array): Float64Array {
  out[0] = 1;
  for (let m = 0; m < n; m++) {
    let s = 0, c = 1;
    for (let i = 0; i <= m; i++) {
      s += c * out[m - i] * kappa[i + 1];
      c = (c * (m - i)) / (i + 1);
    }
    out[m + 1] = s;
  }
  return out;
}

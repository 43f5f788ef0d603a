import { Matrix, matmul, matmulTN } from '../linalg/matrix.js';
import { solveDiscreteLyapunov, spectralRadius } from '../linalg/lyapunov.js';
import { Rng } from '../random/rng.js';
import { InputModel, InputModelJSON, registerInputModel } from './model.js';
import { spdInverse, spdSqrt, symmetrizeInPlace } from './spd.js';

/**
 * Gaussian VAR(p) input model with the exact joint density of a finite sequence (docs/method.md §3, the paper's
 * Markov-order-p case). 0-based time t, centred c_t = x_t − μ:
 *
 *   (c_0, …, c_{p−1}) ~ N(0, Γ_p)                      (the stationary law of p consecutive steps)
 *   c_t = Σ_{i=1..p} A_i c_{t−i} + ε_t,  ε_t ~ N(0, Q)   for t ≥ p.
 *
 * Γ_p (p·dx × p·dx, blocks Γ_p[i,j] = Cov(c_i, c_j) in time order) is the stationary covariance of the
 * companion state [c_t; c_{t−1}; …; c_{t−p+1}], from the discrete Lyapunov equation of the companion matrix.
 *
 * Joint precision of a sequence of length L ≥ p (B_0 = I, B_i = −A_i, e_t = Σ_i B_i c_{t−i}):
 *   −2 log density = c_{0:p}ᵀ Γ_p⁻¹ c_{0:p} + Σ_{t=p}^{L−1} e_tᵀ Q⁻¹ e_t + const, hence
 *   Λ_{u,v} = [u,v < p] (Γ_p⁻¹)_{u,v} + Σ_{t = max(u,v,p)}^{min(min(u,v)+p, L−1)} B_{t−u}ᵀ Q⁻¹ B_{t−v}.
 * It is block-banded (Λ_{u,v} = 0 for |u − v| > p); every block whose sum is not truncated at either end equals
 * the interior block of its offset v − u, so a sequence has 2p+1 interior blocks and at most p² distinct
 * boundary blocks at each end. For L < p the sequence is just the first L steps of the stationary law:
 * Λ = (Γ_L)⁻¹ with Γ_L the leading L·dx block of Γ_p.
 *
 * Equal blocks are the same Matrix object (cached by the key that determines them), as the moment
 * accumulators require (InputModel.precisionBlock). p = 0 is the i.i.d. model N(μ, Q).
 *
 * Shapes: μ length dx; A_i and Q dx×dx; Γ_p p·dx × p·dx.
 */
export class GaussianVARp implements InputModel {
  readonly kind = 'gaussian-varp';
  readonly dx: number;
  readonly order: number;
  readonly mean: Float64Array;
  /** Lag matrices A_1..A_p. */
  readonly A: readonly Matrix[];
  readonly Q: Matrix;
  readonly Qinv: Matrix;
  /** Stationary covariance of p consecutive steps, time order (p·dx square; dx×dx Q for p = 0). */
  readonly Gamma: Matrix;
  readonly GammaInv: Matrix;
  readonly condQ: number;
  readonly condGamma: number;
  /** B_iᵀ Q⁻¹ B_j for 0 ≤ i, j ≤ p (index i·(p+1)+j). */
  private readonly terms: Matrix[];
  private readonly blocks = new Map<string, Matrix>();
  /** (Γ_L)⁻¹ per short length L < p. */
  private readonly shortInv = new Map<number, Matrix>();
  private scratch = new Float64Array(0);

  /**
   * @param mean μ (length dx)
   * @param A lag matrices A_1..A_p (each dx×dx); an empty list is the i.i.d. model
   * @param Q innovation covariance (dx×dx, SPD)
   * @param Gamma stationary covariance of p consecutive steps; from the companion Lyapunov equation when
   *   omitted (then the companion matrix must be stable). Supplying it lets a non-stationary fit still work.
   */
  constructor(mean: ArrayLike<number>, A: readonly Matrix[], Q: Matrix, Gamma?: Matrix) {
    const dx = mean.length, p = A.length;
    for (let i = 0; i < dx; i++) if (!Number.isFinite(mean[i])) throw new Error(`GaussianVARp: mean[${i}] is not finite`);
    for (const [name, M] of [...A.map((M, i) => [`A${i + 1}`, M] as const), ['Q', Q] as const]) {
      if (M.rows !== dx || M.cols !== dx) throw new RangeError(`GaussianVARp: ${name} is ${M.rows}x${M.cols}, expected ${dx}x${dx} (dx from the mean)`);
      for (let i = 0; i < M.data.length; i++) if (!Number.isFinite(M.data[i])) throw new Error(`GaussianVARp: ${name} contains NaN or Infinity`);
    }
    this.dx = dx;
    this.order = p;
    this.mean = Float64Array.from(mean);
    this.A = A.map((M) => M.clone());
    const qi = symmetricInverse(Q, dx, 'GaussianVARp: innovation covariance Q');
    const Qs = qi.S;
    this.Q = Qs;
    this.Qinv = qi.inv;
    this.condQ = qi.cond;
    if (Gamma === undefined) {
      if (p === 0) Gamma = Qs.clone();
      else {
        const Fc = companion(this.A);
        const rho = spectralRadius(Fc);
        if (!(rho < 1)) {
          throw new Error(`GaussianVARp: companion matrix is not stable (spectral radius ${rho.toFixed(4)} ≥ 1), so there is no stationary law; pass Gamma explicitly`);
        }
        const Qc = new Matrix(p * dx, p * dx);
        for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) Qc.data[a * p * dx + b] = Qs.data[a * dx + b];
        Gamma = reverseBlocks(solveDiscreteLyapunov(Fc, Qc), p, dx);
      }
    }
    const n = Math.max(p, 1) * dx;
    if (Gamma.rows !== n || Gamma.cols !== n) throw new RangeError(`GaussianVARp: Gamma is ${Gamma.rows}x${Gamma.cols}, expected ${n}x${n}`);
    const gi = symmetricInverse(Gamma, n, 'GaussianVARp: stationary covariance Γ_p of p consecutive steps');
    this.Gamma = gi.S;
    this.GammaInv = gi.inv;
    this.condGamma = gi.cond;
    // B_iᵀ Q⁻¹ B_j with B_0 = I, B_i = −A_i.
    const B: Matrix[] = [Matrix.identity(dx), ...this.A.map((M) => scaled(M, -1))];
    this.terms = [];
    for (let i = 0; i <= p; i++) for (let j = 0; j <= p; j++) this.terms.push(matmulTN(B[i], matmul(this.Qinv, B[j])));
  }

  /** i.i.d. N(μ, Σ). */
  static iid(mean: ArrayLike<number>, Sigma: Matrix): GaussianVARp {
    return new GaussianVARp(mean, [], Sigma);
  }

  precisionBlock(t: number, u: number, L: number): Matrix | null {
    if (t < 0 || u < 0 || t >= L || u >= L) throw new RangeError(`precisionBlock: (t=${t}, u=${u}) outside a sequence of length ${L}`);
    const p = this.order, dx = this.dx;
    if (Math.abs(t - u) > p) return null;
    if (p === 0) return this.GammaInv; // i.i.d.: Σ⁻¹ on the diagonal
    if (L < p) {
      const key = `s${L}|${t}|${u}`;
      let M = this.blocks.get(key);
      if (M === undefined) {
        const G = this.shortPrecision(L);
        M = new Matrix(dx, dx);
        for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) M.data[a * dx + b] = G.data[(t * dx + a) * L * dx + u * dx + b];
        this.blocks.set(key, M);
      }
      return M;
    }
    const g = Math.max(t, u) < p;
    const lo = Math.max(t, u, p), hi = Math.min(Math.min(t, u) + p, L - 1);
    // What determines the block: the Γ_p⁻¹ entry (if any) and the set of terms (t' − t, t' − u), t' ∈ [lo, hi].
    const key = `${g ? t : -1}|${g ? u : -1}|${u - t}|${lo - t}|${hi - t}`;
    let M = this.blocks.get(key);
    if (M === undefined) {
      M = new Matrix(dx, dx);
      const m = M.data, pd = p * dx;
      if (g) for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) m[a * dx + b] = this.GammaInv.data[(t * dx + a) * pd + u * dx + b];
      for (let s = lo; s <= hi; s++) {
        const T = this.terms[(s - t) * (p + 1) + (s - u)].data;
        for (let k = 0; k < dx * dx; k++) m[k] += T[k];
      }
      this.blocks.set(key, M);
    }
    return M;
  }

  /** (Γ_L)⁻¹ for L < p: the leading L·dx block of Γ_p, inverted. */
  private shortPrecision(L: number): Matrix {
    let M = this.shortInv.get(L);
    if (M === undefined) {
      const n = L * this.dx, N = this.Gamma.cols;
      const G = new Matrix(n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) G.data[i * n + j] = this.Gamma.data[i * N + j];
      M = spdInverse(G, 'GaussianVARp: covariance of a short sequence').inv;
      this.shortInv.set(L, M);
    }
    return M;
  }

  /**
   * s = Λ(x − μ) for one sequence, through the density rather than the blocks (an independent route to the same
   * Λ): s_{0:p} = Γ_p⁻¹ c_{0:p}, plus, for every t ≥ p, B_iᵀ Q⁻¹ e_t added to s_{t−i}. O(L·p·dx²); reuses an
   * internal scratch buffer (not re-entrant).
   */
  scoreSequence(x: Float64Array, L: number, out: Float64Array, xOffset = 0, outOffset = 0): void {
    const dx = this.dx, p = this.order, n = L * dx;
    if (x.length < xOffset + n) throw new RangeError(`scoreSequence: x has ${x.length - xOffset} values after offset, expected ${L}x${dx}`);
    if (out.length < outOffset + n) throw new RangeError(`scoreSequence: out has room for ${out.length - outOffset} values, expected ${L}x${dx}`);
    if (this.scratch.length < n + 2 * dx) this.scratch = new Float64Array(Math.max(n + 2 * dx, 2 * this.scratch.length));
    const c = this.scratch, e = n, w = n + dx, mu = this.mean;
    for (let t = 0; t < L; t++) for (let a = 0; a < dx; a++) c[t * dx + a] = x[xOffset + t * dx + a] - mu[a];
    for (let i = 0; i < n; i++) out[outOffset + i] = 0;
    // Stationary head: first min(L, p) steps (all of them, with (Γ_L)⁻¹, when L < p; Σ⁻¹ per step when p = 0).
    if (p === 0) {
      const G = this.GammaInv.data;
      for (let t = 0; t < L; t++)
        for (let a = 0; a < dx; a++) {
          let s = 0;
          for (let b = 0; b < dx; b++) s += G[a * dx + b] * c[t * dx + b];
          out[outOffset + t * dx + a] = s;
        }
      return;
    }
    const head = Math.min(L, p) * dx;
    const G = L < p ? this.shortPrecision(L).data : this.GammaInv.data, gn = L < p ? head : p * dx;
    for (let i = 0; i < head; i++) {
      let s = 0;
      for (let j = 0; j < head; j++) s += G[i * gn + j] * c[j];
      out[outOffset + i] = s;
    }
    const Qi = this.Qinv.data;
    for (let t = p; t < L; t++) {
      // e_t = c_t − Σ A_i c_{t−i};  w = Q⁻¹ e_t;  s_t += w, s_{t−i} −= A_iᵀ w.
      for (let a = 0; a < dx; a++) c[e + a] = c[t * dx + a];
      for (let i = 1; i <= p; i++) {
        const Ai = this.A[i - 1].data, r = (t - i) * dx;
        for (let a = 0; a < dx; a++) {
          let s = 0;
          for (let b = 0; b < dx; b++) s += Ai[a * dx + b] * c[r + b];
          c[e + a] -= s;
        }
      }
      for (let a = 0; a < dx; a++) {
        let s = 0;
        for (let b = 0; b < dx; b++) s += Qi[a * dx + b] * c[e + b];
        c[w + a] = s;
      }
      for (let a = 0; a < dx; a++) out[outOffset + t * dx + a] += c[w + a];
      for (let i = 1; i <= p; i++) {
        const Ai = this.A[i - 1].data, o = outOffset + (t - i) * dx;
        for (let b = 0; b < dx; b++) {
          let s = 0;
          for (let a = 0; a < dx; a++) s += Ai[a * dx + b] * c[w + a];
          out[o + b] -= s;
        }
      }
    }
  }

  /** Spectral radius of the companion matrix (0 for p = 0); < 1 means stationary. */
  spectralRadius(): number {
    return this.order === 0 ? 0 : spectralRadius(companion(this.A));
  }

  toJSON(): InputModelJSON {
    return { kind: this.kind, dx: this.dx, order: this.order, mean: Array.from(this.mean), A: this.A.map((M) => M.toArray()), Q: this.Q.toArray(), Gamma: this.Gamma.toArray() };
  }

  static fromJSON(json: InputModelJSON): GaussianVARp {
    const j = json as unknown as { mean: number[]; A: number[][][]; Q: number[][]; Gamma?: number[][] };
    if (!Array.isArray(j.mean) || !Array.isArray(j.A) || !Array.isArray(j.Q)) {
      throw new Error('GaussianVARp.fromJSON: expected arrays "mean", "A" (list of dx×dx), "Q" (and optional "Gamma")');
    }
    return new GaussianVARp(j.mean, j.A.map((M) => Matrix.from(M)), Matrix.from(j.Q), j.Gamma ? Matrix.from(j.Gamma) : undefined);
  }

  /** Draw sequences of the given lengths (rows concatenated), each started from the stationary law of p steps. */
  simulate(rng: Rng, lengths: ArrayLike<number>): Float64Array {
    const dx = this.dx, p = this.order;
    let rows = 0;
    for (let k = 0; k < lengths.length; k++) rows += lengths[k];
    const out = new Float64Array(rows * dx);
    const Qq = spdSqrt(this.Q).data, head = Math.max(p, 1) * dx;
    const Gq = spdSqrt(this.Gamma).data;
    const zh = new Float64Array(head), z = new Float64Array(dx);
    let row0 = 0;
    for (let k = 0; k < lengths.length; k++) {
      const L = lengths[k];
      rng.normalArray(head, zh);
      for (let t = 0; t < L; t++) {
        const r = (row0 + t) * dx;
        if (t < p) {
          for (let a = 0; a < dx; a++) {
            let v = 0;
            for (let b = 0; b < head; b++) v += Gq[(t * dx + a) * head + b] * zh[b];
            out[r + a] = v;
          }
        } else {
          rng.normalArray(dx, z);
          for (let a = 0; a < dx; a++) {
            let v = 0;
            for (let b = 0; b < dx; b++) v += Qq[a * dx + b] * z[b];
            for (let i = 1; i <= p; i++) {
              const Ai = this.A[i - 1].data, q = r - i * dx;
              for (let b = 0; b < dx; b++) v += Ai[a * dx + b] * out[q + b];
            }
            out[r + a] = v;
          }
        }
      }
      for (let t = 0; t < L; t++) for (let a = 0; a < dx; a++) out[(row0 + t) * dx + a] += this.mean[a];
      row0 += L;
    }
    return out;
  }
}

/** Companion matrix of c_t = Σ A_i c_{t−i} for the state [c_t; …; c_{t−p+1}] (p·dx square). */
export function companion(A: readonly Matrix[]): Matrix {
  const p = A.length, dx = p > 0 ? A[0].rows : 0, n = p * dx;
  const F = new Matrix(n, n);
  for (let i = 0; i < p; i++) for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) F.data[a * n + i * dx + b] = A[i].data[a * dx + b];
  for (let k = dx; k < n; k++) F.data[k * n + k - dx] = 1;
  return F;
}

/** The companion covariance is in the order [c_t; c_{t−1}; …]; Γ_p is wanted in time order [c_0; …; c_{p−1}]. */
function reverseBlocks(S: Matrix, p: number, dx: number): Matrix {
  const n = p * dx, G = new Matrix(n, n);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < p; j++)
      for (let a = 0; a < dx; a++)
        for (let b = 0; b < dx; b++) G.data[(i * dx + a) * n + j * dx + b] = S.data[((p - 1 - i) * dx + a) * n + (p - 1 - j) * dx + b];
  return G;
}

function scaled(M: Matrix, s: number): Matrix {
  const o = M.clone();
  for (let i = 0; i < o.data.length; i++) o.data[i] *= s;
  return o;
}

registerInputModel('gaussian-varp', (json) => GaussianVARp.fromJSON(json));

/** A copy of the covariance M (n×n) made exactly symmetric, its inverse and condition number (spdInverse). */
function symmetricInverse(M: Matrix, n: number, what: string): { S: Matrix; inv: Matrix; cond: number } {
  const S = M.clone();
  symmetrizeInPlace(S.data, n);
  const r = spdInverse(S, what);
  return { S, inv: r.inv, cond: r.cond };
}

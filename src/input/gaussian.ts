import { Matrix, matmul, matmulTN, transpose } from '../linalg/matrix.js';
import { solveDiscreteLyapunov, spectralRadius } from '../linalg/lyapunov.js';
import { Rng } from '../random/rng.js';
import { InputModel, InputModelJSON, registerInputModel } from './model.js';
import { spdInverse, spdSqrt, symmetrizeInPlace } from './spd.js';
// The other built-in Gaussian kinds register with the same import (model files and worker threads revive them).
import './varp.js';
import './scaled.js';

/**
 * Gaussian VAR(1) input model (docs/method.md §3), the default of gloree; i.i.d. Gaussian is F = 0.
 *
 *   x_0 ~ N(μ, Σ),  x_t − μ = F (x_{t−1} − μ) + ε_t,  ε_t ~ N(0, Q),  Σ = F Σ Fᵀ + Q (stationary),
 *
 * independently for every sequence. The joint precision Λ of one sequence of length L is block
 * tridiagonal (0-based t; docs/method.md writes t = 1 for our t = 0):
 *   P_t = Λ_{t,t} = (Σ⁻¹ if t = 0 else Q⁻¹) + (FᵀQ⁻¹F if t < L−1 else 0),
 *   Λ_{t,t−1} = −Q⁻¹F,  Λ_{t,t+1} = −FᵀQ⁻¹.
 * For L = 1, P_0 = Σ⁻¹. Why the boundary blocks matter: treating the first/last step like an
 * interior step biases every moment (docs/method.md §3 measured 51% error in T2 at L = 20).
 *
 * Shapes: μ length dx; F, Q, Σ dx×dx. All derived matrices are precomputed once and shared: the
 * Matrix objects returned by `precisionBlock` are read-only.
 */
export class GaussianVAR1 implements InputModel {
  readonly kind = 'gaussian-var1';
  readonly dx: number;
  readonly order: number;
  readonly mean: Float64Array;
  readonly F: Matrix;
  readonly Q: Matrix;
  readonly Sigma: Matrix;
  readonly Qinv: Matrix;
  readonly SigmaInv: Matrix;
  /** FᵀQ⁻¹F */
  readonly FtQinvF: Matrix;
  /** Λ_{t,t−1} = −Q⁻¹F */
  readonly lambdaPrev: Matrix;
  /** Λ_{t,t+1} = −FᵀQ⁻¹ = (Λ_{t+1,t})ᵀ */
  readonly lambdaNext: Matrix;
  /** P_0 for L ≥ 2: Σ⁻¹ + FᵀQ⁻¹F */
  readonly Pfirst: Matrix;
  /** P_t for 0 < t < L−1: Q⁻¹ + FᵀQ⁻¹F */
  readonly Pinterior: Matrix;
  /** P_{L−1} for L ≥ 2: Q⁻¹ */
  readonly Plast: Matrix;
  /** P_0 for L = 1: Σ⁻¹ */
  readonly Psingle: Matrix;
  /** Condition numbers of Q and Σ (λmax/λmin). */
  readonly condQ: number;
  readonly condSigma: number;
  private scratch = new Float64Array(0);
  /** [Λ_{t,t−1} | P_interior | Λ_{t,t+1}] as dx×3dx (fast path of scoreSequence). */
  private readonly stackInterior: Float64Array;

  /**
   * @param mean μ (length dx)
   * @param F transition (dx×dx); pass an all-zero matrix for i.i.d. input
   * @param Q innovation covariance (dx×dx, SPD)
   * @param Sigma stationary covariance; computed from the discrete Lyapunov equation when omitted
   *   (then F must be stable). Supplying it explicitly lets a non-stable fit still yield a usable model.
   */
  constructor(mean: ArrayLike<number>, F: Matrix, Q: Matrix, Sigma?: Matrix) {
    const dx = mean.length;
    if (F.rows !== dx || F.cols !== dx || Q.rows !== dx || Q.cols !== dx) {
      throw new RangeError(`GaussianVAR1: mean has length ${dx} but F is ${F.rows}x${F.cols} and Q is ${Q.rows}x${Q.cols}; expected ${dx}x${dx}`);
    }
    for (let i = 0; i < dx; i++) if (!Number.isFinite(mean[i])) throw new Error(`GaussianVAR1: mean[${i}] is not finite`);
    for (const [name, M] of [['F', F], ['Q', Q]] as const) {
      for (let i = 0; i < M.data.length; i++) if (!Number.isFinite(M.data[i])) throw new Error(`GaussianVAR1: ${name} contains NaN or Infinity`);
    }
    this.dx = dx;
    this.mean = Float64Array.from(mean);
    this.F = F.clone();
    let isZero = true;
    for (let i = 0; i < F.data.length; i++) if (F.data[i] !== 0) isZero = false;
    this.order = isZero ? 0 : 1;
    const Qs = Q.clone();
    symmetrizeInPlace(Qs.data, dx);
    this.Q = Qs;
    if (Sigma === undefined) {
      if (isZero) Sigma = Qs.clone();
      else {
        const rho = spectralRadius(F);
        if (!(rho < 1)) {
          throw new Error(`GaussianVAR1: transition F is not stable (spectral radius ${rho.toFixed(4)} ≥ 1), so there is no stationary covariance; pass Sigma explicitly`);
        }
        Sigma = solveDiscreteLyapunov(F, Qs);
      }
    }
    if (Sigma.rows !== dx || Sigma.cols !== dx) throw new RangeError(`GaussianVAR1: Sigma is ${Sigma.rows}x${Sigma.cols}, expected ${dx}x${dx}`);
    const Ss = Sigma.clone();
    symmetrizeInPlace(Ss.data, dx);
    this.Sigma = Ss;
    const qi = spdInverse(Qs, 'GaussianVAR1: noise covariance Q');
    const si = spdInverse(Ss, 'GaussianVAR1: stationary covariance Σ');
    this.Qinv = qi.inv;
    this.SigmaInv = si.inv;
    this.condQ = qi.cond;
    this.condSigma = si.cond;
    const QinvF = matmul(this.Qinv, F);
    const FtQinvF = matmulTN(F, QinvF);
    symmetrizeInPlace(FtQinvF.data, dx);
    this.FtQinvF = FtQinvF;
    const neg = (M: Matrix) => {
      const o = M.clone();
      for (let i = 0; i < o.data.length; i++) o.data[i] = -o.data[i];
      return o;
    };
    this.lambdaPrev = neg(QinvF);
    this.lambdaNext = transpose(this.lambdaPrev);
    const plus = (A: Matrix, B: Matrix) => {
      const o = A.clone();
      for (let i = 0; i < o.data.length; i++) o.data[i] += B.data[i];
      return o;
    };
    this.stackInterior = new Float64Array(3 * dx * dx);
    for (let a = 0; a < dx; a++)
      for (let b = 0; b < dx; b++) {
        this.stackInterior[a * 3 * dx + b] = this.lambdaPrev.data[a * dx + b];
        this.stackInterior[a * 3 * dx + 2 * dx + b] = this.lambdaNext.data[a * dx + b];
      }
    if (isZero) {
      // i.i.d.: every P_t is Σ⁻¹; share one object so the estimators see a single block.
      this.Pfirst = this.Pinterior = this.Plast = this.Psingle = this.SigmaInv;
    } else {
      this.Pfirst = plus(this.SigmaInv, FtQinvF);
      this.Pinterior = plus(this.Qinv, FtQinvF);
      this.Plast = this.Qinv;
      this.Psingle = this.SigmaInv;
    }
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) this.stackInterior[a * 3 * dx + dx + b] = this.Pinterior.data[a * dx + b];
  }

  /** i.i.d. Gaussian N(μ, Σ) as a VAR(1) with F = 0 and Q = Σ. */
  static iid(mean: ArrayLike<number>, Sigma: Matrix): GaussianVAR1 {
    const dx = mean.length;
    return new GaussianVAR1(mean, new Matrix(dx, dx), Sigma, Sigma);
  }

  get isIID(): boolean {
    return this.order === 0;
  }

  /** P_t (0-based t) of a sequence of length L; see the class comment. */
  precisionDiag(t: number, L: number): Matrix {
    if (L === 1) return this.Psingle;
    if (t === 0) return this.Pfirst;
    if (t === L - 1) return this.Plast;
    return this.Pinterior;
  }

  precisionBlock(t: number, u: number, L: number): Matrix | null {
    if (t < 0 || u < 0 || t >= L || u >= L) throw new RangeError(`precisionBlock: (t=${t}, u=${u}) outside a sequence of length ${L}`);
    if (t === u) return this.precisionDiag(t, L);
    if (this.order === 0) return null;
    if (u === t - 1) return this.lambdaPrev;
    if (u === t + 1) return this.lambdaNext;
    return null;
  }

  /**
   * s = Λ(x − μ) for one sequence: s_t = P_t c_t − Q⁻¹F c_{t−1}·[t>0] − FᵀQ⁻¹ c_{t+1}·[t<L−1], with
   * c = x − μ (docs/method.md §3). O(L·dx²); reuses an internal scratch buffer (not re-entrant).
   */
  scoreSequence(x: Float64Array, L: number, out: Float64Array, xOffset = 0, outOffset = 0): void {
    const dx = this.dx;
    const n = L * dx;
    if (x.length < xOffset + n) throw new RangeError(`scoreSequence: x has ${x.length - xOffset} values after offset, expected ${L}x${dx}`);
    if (out.length < outOffset + n) throw new RangeError(`scoreSequence: out has room for ${out.length - outOffset} values, expected ${L}x${dx}`);
    if (this.scratch.length < n) this.scratch = new Float64Array(Math.max(n, 2 * this.scratch.length));
    const c = this.scratch;
    const mu = this.mean;
    for (let t = 0; t < L; t++) {
      const b = t * dx, xb = xOffset + b;
      for (let a = 0; a < dx; a++) c[b + a] = x[xb + a] - mu[a];
    }
    const Lp = this.lambdaPrev.data, Ln = this.lambdaNext.data;
    const iid = this.order === 0;
    if (!iid && L >= 3) {
      // Interior steps: s_t = [Λ_{t,t−1} | P | Λ_{t,t+1}] · [c_{t−1}; c_t; c_{t+1}], and the three centred
      // rows are contiguous in c, so this is one 3dx-long dot product per output, two outputs per sweep.
      const M = this.stackInterior, w = 3 * dx;
      let t = 1;
      // Two steps t, t+1 and two outputs a, a+1 per sweep: the windows of t and t+1 overlap (shifted by
      // dx), so each loaded stack entry and centred value feeds two multiply-adds (4 loads per 4).
      for (; t + 1 < L - 1; t += 2) {
        const cb = (t - 1) * dx, cb2 = cb + dx, ob = outOffset + t * dx, ob2 = ob + dx;
        let a = 0;
        for (; a + 1 < dx; a += 2) {
          const r0 = a * w, r1 = r0 + w;
          let s0 = 0, s1 = 0, u0 = 0, u1 = 0;
          for (let k = 0; k < w; k++) {
            const v = c[cb + k], z = c[cb2 + k], m0 = M[r0 + k], m1 = M[r1 + k];
            s0 += m0 * v;
            s1 += m1 * v;
            u0 += m0 * z;
            u1 += m1 * z;
          }
          out[ob + a] = s0;
          out[ob + a + 1] = s1;
          out[ob2 + a] = u0;
          out[ob2 + a + 1] = u1;
        }
        if (a < dx) {
          const r0 = a * w;
          let s0 = 0, u0 = 0;
          for (let k = 0; k < w; k++) {
            s0 += M[r0 + k] * c[cb + k];
            u0 += M[r0 + k] * c[cb2 + k];
          }
          out[ob + a] = s0;
          out[ob2 + a] = u0;
        }
      }
      for (; t < L - 1; t++) {
        const cb = (t - 1) * dx, ob = outOffset + t * dx;
        let a = 0;
        for (; a + 1 < dx; a += 2) {
          const r0 = a * w, r1 = r0 + w;
          let s0 = 0, s1 = 0;
          for (let k = 0; k < w; k++) {
            const v = c[cb + k];
            s0 += M[r0 + k] * v;
            s1 += M[r1 + k] * v;
          }
          out[ob + a] = s0;
          out[ob + a + 1] = s1;
        }
        if (a < dx) {
          const r0 = a * w;
          let s0 = 0;
          for (let k = 0; k < w; k++) s0 += M[r0 + k] * c[cb + k];
          out[ob + a] = s0;
        }
      }
    }
    for (let t = 0; t < L; t++) {
      if (!iid && L >= 3 && t > 0 && t < L - 1) continue; // done above
      const P = this.precisionDiag(t, L).data;
      const ct = t * dx, cp = ct - dx, cn = ct + dx;
      const hasPrev = !iid && t > 0, hasNext = !iid && t < L - 1;
      const ob = outOffset + ct;
      for (let a = 0; a < dx; a++) {
        const r = a * dx;
        let s = 0;
        for (let b = 0; b < dx; b++) s += P[r + b] * c[ct + b];
        if (hasPrev) for (let b = 0; b < dx; b++) s += Lp[r + b] * c[cp + b];
        if (hasNext) for (let b = 0; b < dx; b++) s += Ln[r + b] * c[cn + b];
        out[ob + a] = s;
      }
    }
  }

  toJSON(): InputModelJSON {
    return {
      kind: this.kind,
      dx: this.dx,
      mean: Array.from(this.mean),
      F: this.F.toArray(),
      Q: this.Q.toArray(),
      Sigma: this.Sigma.toArray(),
    };
  }

  static fromJSON(json: InputModelJSON): GaussianVAR1 {
    const j = json as unknown as { mean: number[]; F: number[][]; Q: number[][]; Sigma?: number[][] };
    if (!Array.isArray(j.mean) || !Array.isArray(j.F) || !Array.isArray(j.Q)) {
      throw new Error('GaussianVAR1.fromJSON: expected arrays "mean", "F", "Q" (and optional "Sigma")');
    }
    const dx = j.mean.length;
    const F = j.F.length === 0 && dx > 0 ? new Matrix(dx, dx) : Matrix.from(j.F);
    return new GaussianVAR1(j.mean, F, Matrix.from(j.Q), j.Sigma ? Matrix.from(j.Sigma) : undefined);
  }

  /**
   * Draw sequences of the given lengths (rows concatenated, Σ lengths × dx row-major), each started
   * from the stationary N(μ, Σ).
   */
  simulate(rng: Rng, lengths: ArrayLike<number>): Float64Array {
    const dx = this.dx;
    let rows = 0;
    for (let k = 0; k < lengths.length; k++) rows += lengths[k];
    const out = new Float64Array(rows * dx);
    const Sq = spdSqrt(this.Sigma).data, Qq = spdSqrt(this.Q).data, F = this.F.data, mu = this.mean;
    const z = new Float64Array(dx), c = new Float64Array(dx), nc = new Float64Array(dx);
    let row = 0;
    for (let k = 0; k < lengths.length; k++) {
      for (let t = 0; t < lengths[k]; t++, row++) {
        rng.normalArray(dx, z);
        for (let a = 0; a < dx; a++) {
          let v = 0;
          if (t === 0) for (let b = 0; b < dx; b++) v += Sq[a * dx + b] * z[b];
          else {
            for (let b = 0; b < dx; b++) v += F[a * dx + b] * c[b] + Qq[a * dx + b] * z[b];
          }
          nc[a] = v;
        }
        c.set(nc);
        for (let a = 0; a < dx; a++) out[row * dx + a] = c[a] + mu[a];
      }
    }
    return out;
  }
}

registerInputModel('gaussian-var1', (json) => GaussianVAR1.fromJSON(json));

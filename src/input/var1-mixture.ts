import { Matrix, matmul, transpose } from '../linalg/matrix.js';
import { cholesky } from '../linalg/cholesky.js';
import { GaussianVAR1 } from './gaussian.js';
import { inv, det } from '../linalg/solve.js';
import { solveDiscreteLyapunov, spectralRadius } from '../linalg/lyapunov.js';
import { Rng } from '../random/rng.js';
import { InputModel, InputModelJSON, registerInputModel } from './model.js';
import { spdInverse, spdSqrt, symmetrizeInPlace } from './spd.js';
import { MAX_DERIVATIVE_ORDER, Mixture1D, PreparedMixture, mixtureLogDensity, mixtureSample, mixtureVariance, prepareMixture, preparedNegLogDerivatives } from './mixture1d.js';

/**
 * VAR(1) input with non-Gaussian innovations (docs/non-gaussian-inputs.md):
 *
 *   x_t − μ = F (x_{t−1} − μ) + ε_t  (t ≥ 1, 0-based),   ε_t = A z_t,  z_{t,i} ~ f_i independent,
 *
 * each f_i a 1-D Gaussian mixture (src/input/mixture1d.ts) and W = A⁻¹ the unmixing matrix (rows w_i). The
 * first step x_0 ~ N(μ, Σ), Σ = FΣFᵀ + A diag(var f_i) Aᵀ (the stationary covariance; the stationary LAW is not
 * closed-form for non-Gaussian innovations). The density of one sequence of length L is
 *
 *   p(x) = N(x_0; μ, Σ) · Π_{t=1}^{L−1} |det W| Π_i f_i(w_iᵀ ε_t),   ε_t = c_t − F c_{t−1},  c = x − μ,
 *
 * and with φ = −log p every derivative is a sum over innovations of rank-one (per component) terms:
 *   ∇ᵏφ [u_1 at step τ_1, …, u_k at τ_k] = Σ_{e: every τ_j ∈ {e−1, e}} Σ_i φ_i⁽ᵏ⁾(z_{e,i}) Π_j (M_{e−τ_j} u_j)_i
 *                                          (+ the Gaussian first-step terms when every τ_j = 0, k ≤ 2),
 * with M_0 = W (x_e enters ε_e with +I) and M_1 = −W F (x_{e−1} enters ε_e with −F).
 *
 * Which steps are exact: the Stein identity of a score holds for the DATA only if the model's density is the
 * data's. Given x_0, steps 1..L−1 follow the model exactly when the innovations do; x_0's law is only Gaussian
 * when the innovations are. So `firstExactStep` is 1 (every moment leaves out the steps whose scores involve
 * x_0's density: a mode at step 0) unless every f_i is one zero-mean Gaussian, when the model IS the Gaussian
 * VAR(1) and step 0 is exact too.
 *
 * `precisionBlock` throws: the second derivatives are data-dependent here, so the Gaussian accumulators (which
 * subtract constant Wick blocks) must not be used with this model; src/moments/nongaussian.ts takes its place.
 */
export class MixtureVAR1 implements InputModel {
  readonly kind = 'mixture-var1';
  readonly dx: number;
  readonly order = 1;
  readonly mean: Float64Array;
  readonly F: Matrix;
  /** Unmixing W (dx×dx): z = W ε. */
  readonly W: Matrix;
  readonly components: Mixture1D[];
  /** Covariance of ε: A diag(var f_i) Aᵀ. */
  readonly Q: Matrix;
  readonly Sigma: Matrix;
  readonly SigmaInv: Matrix;
  /** M_0 = W, M_1 = −W F (see the class comment). */
  readonly M0: Matrix;
  readonly M1: Matrix;
  readonly logDetW: number;
  /** 0 when the model is exactly Gaussian, else 1 (see the class comment). */
  readonly firstExactStep: number;
  private readonly prepared: PreparedMixture[];

  constructor(mean: ArrayLike<number>, F: Matrix, W: Matrix, components: Mixture1D[], Sigma?: Matrix) {
    const dx = mean.length;
    if (F.rows !== dx || F.cols !== dx || W.rows !== dx || W.cols !== dx || components.length !== dx) {
      throw new RangeError(`MixtureVAR1: mean has length ${dx}, expected F and W ${dx}x${dx} and ${dx} components (got ${F.rows}x${F.cols}, ${W.rows}x${W.cols}, ${components.length})`);
    }
    components.forEach((c, i) => {
      const K = c.weights.length;
      if (K < 1 || c.means.length !== K || c.variances.length !== K) throw new RangeError(`MixtureVAR1: component ${i} has mismatched weights/means/variances`);
      let s = 0;
      for (let k = 0; k < K; k++) {
        if (!(c.weights[k] > 0) || !(c.variances[k] > 0) || !Number.isFinite(c.means[k])) throw new Error(`MixtureVAR1: component ${i} term ${k} needs weight > 0, variance > 0 and a finite mean`);
        s += c.weights[k];
      }
      if (Math.abs(s - 1) > 1e-9) throw new Error(`MixtureVAR1: component ${i} weights sum to ${s}, expected 1`);
    });
    this.dx = dx;
    this.mean = Float64Array.from(mean);
    this.F = F.clone();
    this.W = W.clone();
    this.components = components.map((c) => ({ weights: [...c.weights], means: [...c.means], variances: [...c.variances], ...(c.stein ? { stein: { mean: c.stein.mean, sd: c.stein.sd, coef: c.stein.coef.map((r) => [...r]) } } : {}) }));
    const d = det(W);
    if (!(Math.abs(d) > 0) || !Number.isFinite(d)) throw new Error('MixtureVAR1: unmixing matrix W is singular');
    this.logDetW = Math.log(Math.abs(d));
    const A = inv(W);
    const Q = new Matrix(dx, dx);
    const v = components.map(mixtureVariance);
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) {
      let s = 0;
      for (let i = 0; i < dx; i++) s += A.data[a * dx + i] * v[i] * A.data[b * dx + i];
      Q.data[a * dx + b] = s;
    }
    symmetrizeInPlace(Q.data, dx);
    this.Q = Q;
    if (Sigma === undefined) {
      const rho = spectralRadius(F);
      if (!(rho < 1)) throw new Error(`MixtureVAR1: transition F is not stable (spectral radius ${rho.toFixed(4)} ≥ 1); pass Sigma explicitly`);
      Sigma = solveDiscreteLyapunov(F, Q);
    }
    const S = Sigma.clone();
    symmetrizeInPlace(S.data, dx);
    this.Sigma = S;
    this.SigmaInv = spdInverse(S, 'MixtureVAR1: first-step covariance Σ').inv;
    this.M0 = W.clone();
    const WF = matmul(W, F);
    this.M1 = new Matrix(dx, dx, WF.data.map((x) => -x));
    const gaussian = components.every((c) => c.weights.length === 1 && c.means[0] === 0 && c.stein === undefined);
    this.firstExactStep = gaussian ? 0 : 1;
    this.prepared = this.components.map(prepareMixture);
  }

  /** True when every f_i is one zero-mean Gaussian (then this is the Gaussian VAR(1) with Q = WᵀD⁻¹W inverted). */
  get isGaussian(): boolean {
    return this.firstExactStep === 0;
  }

  /**
   * φ_i⁽ᵏ⁾(z_{t,i}) for every step of one sequence, k = 1..order: out[(t·order + k − 1)·dx + i]; row t = 0 (no
   * innovation) is zero. Also returns z if `zOut` is given (L×dx, row 0 zero).
   */
  innovationDerivatives(x: Float64Array, L: number, order: number, out: Float64Array, xOffset = 0, outOffset = 0, zOut?: Float64Array): void {
    const dx = this.dx, mu = this.mean, Fd = this.F.data, Wd = this.W.data;
    if (order < 1 || order > MAX_DERIVATIVE_ORDER) throw new RangeError(`innovationDerivatives: order must be 1..${MAX_DERIVATIVE_ORDER}, got ${order}`);
    const eps = new Float64Array(dx);
    out.fill(0, outOffset, outOffset + order * dx);
    if (zOut) zOut.fill(0, 0, dx);
    for (let t = 1; t < L; t++) {
      const xo = xOffset + t * dx, po = xo - dx;
      for (let a = 0; a < dx; a++) {
        let v = x[xo + a] - mu[a];
        for (let b = 0; b < dx; b++) v -= Fd[a * dx + b] * (x[po + b] - mu[b]);
        eps[a] = v;
      }
      for (let i = 0; i < dx; i++) {
        let z = 0;
        for (let a = 0; a < dx; a++) z += Wd[i * dx + a] * eps[a];
        if (zOut) zOut[t * dx + i] = z;
        preparedNegLogDerivatives(this.prepared[i], z, order, out, outOffset + t * order * dx + i, dx);
      }
    }
  }

  /** log p of one sequence (see the class comment). */
  logDensity(x: Float64Array, L: number, xOffset = 0): number {
    const dx = this.dx, mu = this.mean;
    const z = new Float64Array(L * dx), d = new Float64Array(L * dx);
    this.innovationDerivatives(x, L, 1, d, xOffset, 0, z);
    const c0 = new Float64Array(dx);
    for (let a = 0; a < dx; a++) c0[a] = x[xOffset + a] - mu[a];
    let q = 0;
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) q += c0[a] * this.SigmaInv.data[a * dx + b] * c0[b];
    const logDetSigmaInv = Math.log(det(this.SigmaInv));
    let lp = -0.5 * dx * Math.log(2 * Math.PI) + 0.5 * logDetSigmaInv - 0.5 * q;
    for (let t = 1; t < L; t++) {
      lp += this.logDetW;
      for (let i = 0; i < dx; i++) lp += mixtureLogDensity(this.components[i], z[t * dx + i]);
    }
    return lp;
  }

  /**
   * First-order scores g_t = −∇_{x_t} log p: g_t = M0ᵀ d1_t [t ≥ 1] + M1ᵀ d1_{t+1} [t ≤ L−2] + Σ⁻¹ c_0 [t = 0],
   * d1_t = φ'(z_t). O(L·dx·(dx + K)).
   */
  scoreSequence(x: Float64Array, L: number, out: Float64Array, xOffset = 0, outOffset = 0): void {
    const dx = this.dx, n = L * dx;
    if (x.length < xOffset + n || out.length < outOffset + n) throw new RangeError(`scoreSequence: arrays too short for ${L}x${dx}`);
    const d = new Float64Array(n);
    this.innovationDerivatives(x, L, 1, d, xOffset, 0);
    scoresFromDerivatives(this, x, L, d, 1, out, xOffset, outOffset);
  }

  /** scoreSequence for every sequence of a chunk (rows×dx), for score-only accumulators (T1, Markov). */
  chunkScores(chunk: { x: Float64Array; rows: number; lengths: Int32Array }): Float64Array {
    const out = new Float64Array(chunk.rows * this.dx);
    let row = 0;
    for (const L of chunk.lengths) {
      this.scoreSequence(chunk.x, L, out, row * this.dx, row * this.dx);
      row += L;
    }
    return out;
  }

  precisionBlock(): Matrix | null {
    throw new Error('mixture-var1 input model: second derivatives of log p are data-dependent; use the non-Gaussian moment accumulators (src/moments/nongaussian.ts), not the Gaussian Wick-block ones');
  }

  toJSON(): InputModelJSON {
    return { kind: this.kind, dx: this.dx, mean: Array.from(this.mean), F: this.F.toArray(), W: this.W.toArray(), components: this.components, Sigma: this.Sigma.toArray() };
  }

  static fromJSON(json: InputModelJSON): MixtureVAR1 {
    const j = json as unknown as { mean: number[]; F: number[][]; W: number[][]; components: Mixture1D[]; Sigma?: number[][] };
    if (!Array.isArray(j.mean) || !Array.isArray(j.F) || !Array.isArray(j.W) || !Array.isArray(j.components)) {
      throw new Error('MixtureVAR1.fromJSON: expected arrays "mean", "F", "W", "components" (and optional "Sigma")');
    }
    return new MixtureVAR1(j.mean, Matrix.from(j.F), Matrix.from(j.W), j.components, j.Sigma ? Matrix.from(j.Sigma) : undefined);
  }

  /**
   * Draw sequences from the model (x_0 ~ N(μ, Σ), then the VAR with mixture innovations), rows concatenated.
   * With `burnIn` > 0 the first step is instead the state after that many model steps from N(μ, Σ): closer to
   * the stationary law (the data of the bench), but then step 0 no longer follows the model's density.
   */
  simulate(rng: Rng, lengths: ArrayLike<number>, burnIn = 0): Float64Array {
    const dx = this.dx, A = inv(this.W).data, F = this.F.data, mu = this.mean, Sq = spdSqrt(this.Sigma).data;
    let rows = 0;
    for (let k = 0; k < lengths.length; k++) rows += lengths[k];
    const out = new Float64Array(rows * dx);
    const c = new Float64Array(dx), nc = new Float64Array(dx), z = new Float64Array(dx), g = new Float64Array(dx);
    let row = 0;
    for (let k = 0; k < lengths.length; k++) {
      for (let t = -burnIn; t < lengths[k]; t++) {
        if (t === -burnIn) {
          rng.normalArray(dx, g);
          for (let a = 0; a < dx; a++) {
            let v = 0;
            for (let b = 0; b < dx; b++) v += Sq[a * dx + b] * g[b];
            nc[a] = v;
          }
        } else {
          for (let i = 0; i < dx; i++) z[i] = mixtureSample(this.components[i], rng.uniform(), rng.normal());
          for (let a = 0; a < dx; a++) {
            let v = 0;
            for (let b = 0; b < dx; b++) v += F[a * dx + b] * c[b] + A[a * dx + b] * z[b];
            nc[a] = v;
          }
        }
        c.set(nc);
        if (t >= 0) {
          for (let a = 0; a < dx; a++) out[row * dx + a] = c[a] + mu[a];
          row++;
        }
      }
    }
    return out;
  }

  /**
   * The Gaussian VAR(1) written as this model: W = Lᵀ with Q⁻¹ = L Lᵀ (Cholesky), one N(0, 1) per component, the
   * same Σ. Same density, so the same scores of every order (test/nongaussian-scores.test.ts).
   */
  static fromGaussian(g: GaussianVAR1): MixtureVAR1 {
    const W = transpose(cholesky(g.Qinv));
    return new MixtureVAR1(g.mean, g.F, W, Array.from({ length: g.dx }, () => ({ weights: [1], means: [0], variances: [1] })), g.Sigma);
  }
}

/**
 * First-order scores from precomputed derivatives `d` (layout of innovationDerivatives with `order` rows per step):
 * g_t = M0ᵀ d1_t + M1ᵀ d1_{t+1} (+ Σ⁻¹ c_0 at t = 0).
 */
export function scoresFromDerivatives(m: MixtureVAR1, x: Float64Array, L: number, d: Float64Array, order: number, out: Float64Array, xOffset = 0, outOffset = 0, dOffset = 0): void {
  const dx = m.dx, M0 = m.M0.data, M1 = m.M1.data, Si = m.SigmaInv.data, mu = m.mean;
  for (let t = 0; t < L; t++) {
    const o = outOffset + t * dx, cur = dOffset + t * order * dx, nxt = cur + order * dx;
    for (let a = 0; a < dx; a++) {
      let s = 0;
      if (t >= 1) for (let i = 0; i < dx; i++) s += M0[i * dx + a] * d[cur + i];
      if (t + 1 < L) for (let i = 0; i < dx; i++) s += M1[i * dx + a] * d[nxt + i];
      if (t === 0) for (let b = 0; b < dx; b++) s += Si[a * dx + b] * (x[xOffset + b] - mu[b]);
      out[o + a] = s;
    }
  }
}

registerInputModel('mixture-var1', (json) => MixtureVAR1.fromJSON(json));

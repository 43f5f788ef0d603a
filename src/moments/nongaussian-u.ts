import { Matrix, transpose } from '../linalg/matrix.js';
import { solve } from '../linalg/solve.js';
import { SequenceChunk } from '../io/dataset.js';
import { ownRows } from '../learn/pieces.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { mixtureSteinPoly } from '../input/mixture1d.js';
import { SteinPoly, steinPolyNegLogDerivatives } from '../input/stein-poly.js';
import { SampleSums } from './sample-sums.js';

/**
 * U of a σ = c₂z² IO-RNN from FIRST-order conditional scores, given Â1 and Â2 (docs/non-gaussian-inputs.md,
 * "U from first-order conditional scores"). Replaces the third-order mixed moment on the non-Gaussian input model,
 * whose products of three data-dependent scores are noisy and, with low-degree representers, biased.
 *
 * With h_t = c₂ z_t², z_t = A1 x_t + U h_{t−1}, and s_t = −∇_{x_t} log p(x_t | x_{t−1}) = M0ᵀ T1(W ε_t) the score
 * of x_t given the past (VAR(1): only the innovation's law enters, so every step t ≥ 1 is exact, whatever x_0's
 * law), Stein's identity conditional on the past, on the test function q(x_t) = h_{t,j} − c₂(a_j·x_t)² + m_j
 * (g_j the dual columns, A1 G = I), gives
 *   E[q(x_t) g_j·s_t | past] = E[g_j·∇q | past] = 2c₂ E[z_{t,j} − a_j·x_t | past] = 2c₂ u_j·h_{t−1}.
 * q is quadratic in x_t given the past, hence in the innovation's independent components z = Wε; for every
 * component the degree-2 polynomial representer T1 (src/input/stein-poly.ts, built from the component's law:
 * src/input/mixture1d.ts mixtureSteinPoly) makes this identity exact for ANY innovation law with four moments, and
 * it is bounded by a quadratic (no narrow-component spikes). Subtracting c₂(a_j·x_t)² (whose identity is known)
 * is a control variate: what is left of h_{t,j} is O(U), so the variance drops by far (docs note, measured).
 * m_j = c₂ E[(a_j·x)²] from the model's Σ and μ puts back the centring of y (any constant keeps the identity).
 *
 * h_{t−1} is observed through ỹ_{t−1} = W(y_{t−1} − ȳ) = h_{t−1} − h̄ + W e_{t−1} (output noise e): so
 *   w_{t,j} := (ỹ_{t,j} + m_j − c₂(a_j·x_t)²) g_j·s_t / (2c₂),   E[w_t | past] = U ỹ_{t−1} + c − U W e_{t−1},
 * and the noise in the regressor is removed by instruments ζ_{t−1} = [c₂(a_k·x_{t−1})², 1], functions of the past
 * inputs only (independent of e): the moment conditions E[(w_t − U ỹ_{t−1} − c) ⊗ ζ_{t−1}] = 0 give the closed form
 *   [U c] = (Σ w ⊗ ζ)(Σ [ỹ_{t−1}; 1] ⊗ ζ)⁻¹     (an exactly identified instrumental-variable estimate, no iteration).
 * State: [Σ w ⊗ ζ (dh×(dh+1)) | Σ [ỹ_{t−1}; 1] ⊗ ζ ((dh+1)²)], merged by addition. Steps t = 1..L−1 of every sequence.
 */
export class ConditionalScoreUAccumulator extends SampleSums {
  readonly dx: number;
  readonly dh: number;
  /** Each component's degree-2 representers (T1 only is read); public for the SQL pass (src/sql/nongaussian-passes.ts). */
  readonly reps: SteinPoly[];
  /** m_j = c₂ E[(a_j·x)²] (see the class comment). */
  readonly m: Float64Array;
  private readonly T1 = new Float64Array(1);
  constructor(
    readonly model: MixtureVAR1,
    readonly dy: number,
    /** W = pinv(Â2ᵀ) (dh×dy). */
    readonly demix: Matrix,
    /** Â1 (dh×dx). */
    readonly A1: Matrix,
    /** G = pinv(Â1) (dx×dh). */
    readonly G: Matrix,
    readonly c2: number,
  ) {
    super();
    const dh = A1.rows, dx = model.dx;
    if (A1.cols !== dx || G.rows !== dx || G.cols !== dh || demix.rows !== dh || demix.cols !== dy) {
      throw new RangeError(`ConditionalScoreUAccumulator: A1 ${A1.rows}x${A1.cols}, G ${G.rows}x${G.cols}, demix ${demix.rows}x${demix.cols}; expected ${dh}x${dx}, ${dx}x${dh}, ${dh}x${dy}`);
    }
    this.dx = dx;
    this.dh = dh;
    this.reps = model.components.map((c) => mixtureSteinPoly(c, 2));
    this.sum = new Float64Array(dh * (dh + 1) + (dh + 1) * (dh + 1));
    // m_j = c₂ (a_jᵀ Σ a_j + (a_j·μ)²): E[c₂(a_j·x)²] under the model's stationary covariance.
    this.m = new Float64Array(dh);
    const S = model.Sigma.data, mu = model.mean, a = A1.data;
    for (let j = 0; j < dh; j++) {
      let q = 0, am = 0;
      for (let p = 0; p < dx; p++) {
        am += a[j * dx + p] * mu[p];
        for (let r = 0; r < dx; r++) q += a[j * dx + p] * S[p * dx + r] * a[j * dx + r];
      }
      this.m[j] = c2 * (q + am * am);
    }
  }

  /** One chunk; `chunk.y` must be centred by the output mean (the ȳ of ỹ above). */
  add(chunk: SequenceChunk): this {
    const { dx, dh, dy, c2, reps, m, T1 } = this, S = this.sum, p = dh + 1, o2 = dh * p;
    if (chunk.dx !== dx || chunk.dy !== dy) throw new RangeError(`ConditionalScoreUAccumulator: chunk has dx=${chunk.dx}, dy=${chunk.dy}; expected ${dx}, ${dy}`);
    // A piece of one long sequence (src/learn/pieces.ts) counts its own rows only; its halo supplies row r − 1.
    const [own0, own1] = ownRows(chunk);
    const { x, y } = chunk, mu = this.model.mean, Fd = this.model.F.data, Wu = this.model.W.data, M0 = this.model.M0.data;
    const Wd = this.demix.data, A = this.A1.data, Gd = this.G.data;
    const eps = new Float64Array(dx), t1 = new Float64Array(dx), s = new Float64Array(dx);
    const yPrev = new Float64Array(dh), yCur = new Float64Array(dh), zeta = new Float64Array(p), w = new Float64Array(dh);
    const project = (r: number, out: Float64Array) => {
      for (let j = 0; j < dh; j++) {
        let v = 0;
        for (let i = 0; i < dy; i++) v += Wd[j * dy + i] * y[r * dy + i];
        out[j] = v;
      }
    };
    // c₂(a_j·x_r)² for every j: each row's is computed once and serves as step t's and then step t+1's (ζ).
    const qPrev = new Float64Array(dh), qCur = new Float64Array(dh);
    const quads = (r: number, out: Float64Array) => {
      for (let j = 0; j < dh; j++) {
        let v = 0;
        for (let a = 0; a < dx; a++) v += A[j * dx + a] * x[r * dx + a];
        out[j] = c2 * v * v;
      }
    };
    let r0 = 0, counted = 0;
    for (const L of chunk.lengths) {
      if (L >= 2) {
        project(r0, yCur);
        quads(r0, qCur);
      }
      for (let t = 1; t < L; t++) {
        const r = r0 + t;
        yPrev.set(yCur);
        project(r, yCur);
        qPrev.set(qCur);
        quads(r, qCur);
        if (r < own0 || r >= own1) continue;
        counted++;
        for (let a = 0; a < dx; a++) {
          let v = x[r * dx + a] - mu[a];
          for (let b = 0; b < dx; b++) v -= Fd[a * dx + b] * (x[(r - 1) * dx + b] - mu[b]);
          eps[a] = v;
        }
        for (let i = 0; i < dx; i++) {
          let z = 0;
          for (let a = 0; a < dx; a++) z += Wu[i * dx + a] * eps[a];
          steinPolyNegLogDerivatives(reps[i], z, 1, T1, 0);
          t1[i] = T1[0];
        }
        for (let a = 0; a < dx; a++) {
          let v = 0;
          for (let i = 0; i < dx; i++) v += M0[i * dx + a] * t1[i];
          s[a] = v;
        }
        for (let j = 0; j < dh; j++) {
          let gs = 0;
          for (let a = 0; a < dx; a++) gs += Gd[a * dh + j] * s[a];
          w[j] = ((yCur[j] + m[j] - qCur[j]) * gs) / (2 * c2);
          zeta[j] = qPrev[j];
        }
        zeta[dh] = 1;
        for (let j = 0; j < dh; j++) for (let b = 0; b < p; b++) S[j * p + b] += w[j] * zeta[b];
        for (let a = 0; a < p; a++) {
          const xa = a < dh ? yPrev[a] : 1;
          for (let b = 0; b < p; b++) S[o2 + a * p + b] += xa * zeta[b];
        }
      }
      r0 += L;
    }
    this.count += counted;
    return this;
  }

  /** Û (dh×dh) from the sums: [U c] (Σ [ỹ_{t−1}; 1] ⊗ ζ) = Σ w ⊗ ζ. */
  solveU(): Matrix {
    const { dh } = this, p = dh + 1, mean = this.result();
    const WZ = new Matrix(dh, p, mean.slice(0, dh * p)), XZ = new Matrix(p, p, mean.slice(dh * p));
    const sol = solve(transpose(XZ), transpose(WZ)); // p×dh = [U c]ᵀ
    const U = new Matrix(dh, dh);
    for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) U.data[j * dh + k] = sol.data[k * dh + j];
    return U;
  }

  protected label(): string {
    return 'ConditionalScoreUAccumulator';
  }
}

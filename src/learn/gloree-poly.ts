import { Matrix, transpose } from '../linalg/matrix.js';
import { pinv } from '../linalg/pinv.js';
import { svd } from '../linalg/svd.js';
import { DataSource, SequenceChunk, makeChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { T1Accumulator } from '../moments/single.js';
import { QuadraticMode, controlFeatures, featureCount } from '../moments/control.js';
import { chunkScores } from '../moments/accumulator.js';
import { DiagonalHermiteAccumulator, HermiteMomentAccumulator } from '../moments/higher.js';
import { Tensor } from '../tensor/tensor.js';
import { jennrich } from '../decomposition/jennrich.js';
import { als } from '../decomposition/als.js';
import { CPTensor, cpResidual } from '../decomposition/cp_tensor.js';
import { Activation, IORNNParams } from '../models/params.js';
import { activationCoefficients, activationSymmetry, activationToString } from '../models/activation.js';
import { spectralNorm } from '../models/simulate.js';
import { Rng } from '../random/rng.js';
import { solveOutputLS } from '../linalg/lstsq.js';
import { TrainingData, forEachChunk } from './passes.js';
import {
  ControlVariateDiagnostics,
  LearnerDiagnostics,
  LearnerOptions,
  accumulateOutputLS,
  autoRank,
  centredChunk,
  checkPinv,
  controlVariateDiagnostics,
  dataPasses,
  fitOutputAndRefine,
  keptSubchunk,
  t2AndRank,
  relResidual,
  runLog,
  sampleStride,
  strideSubchunk,
  varianceShare,
  withSpill,
} from './common.js';

/**
 * GLOREE for IO-RNNs with a general polynomial activation σ(z) = Σ_m c_m z^m of degree l ≥ 2
 * (paper Algorithm 3 / App. C.1, App. E.2; DESIGN.md §4 P1–P4, §5, §6). The coefficients of σ are given.
 *
 * 1. Directions Â1 (unit rows, the gauge of §2) and output weights, from the best-conditioned moment that
 *    identifies them:
 *    - 'S2' (σ not odd, dy ≥ dh; always for l = 2): CP of T2 = E[y ⊗ S2] = Σ_j μ_j A2^(j) ⊗ a1_j ⊗ a1_j (P3,
 *      μ_j = E σ''(z_j) unknown), then the scale-correct output weights from the order-l moment contracted on
 *      the duals G = pinv(Â1): S_l[g_j^{⊗l}] moment = c_l l! A2^(j) (P1), O(dx·dh) per sample.
 *    - 'P1' (σ odd — S2 vanishes, P3 — or dy < dh, incl. scalar output P4): tied CP of the order-(l+1) moment
 *      E[y ⊗ S_l] = c_l l! Σ_j A2^(j) ⊗ a1_j^{⊗l}; formed explicitly when dy·dx^l is small, otherwise
 *      accumulated projected on a dh-dimensional subspace Q (from T1's row space when dy ≥ dh, else from a
 *      random-contraction sketch of the same moment), never as a dx^l tensor.
 * 2. U from P2′ (l ≥ 3): Tm21 = E[y ⊗ H(t^{l−1}; t−1)] over t = 1..L−1 and T1 = E[y ⊗ s] over t = 0..L−2
 *    (the same step pairs, so ν_k = E σ'(z_k) cancels exactly):
 *    C[j,k] = Tm21[w_j, g_j^{l−1}, g_k] = c_l l! U_jk ν_k, ν_k = T1[w_k, g_k], W = pinv(Â2ᵀ). For l = 2 the
 *    order-3 moment P2 (= DESIGN.md F4) is used: C[j,k] = (2c₂)² U_jk. Moments of order ≥ 3 use the
 *    control-variate residuals (§5 step 4); T1 and T2 use centred y.
 * 3. These estimates are exact for σ's leading term in the unit gauge. When σ has no scale symmetry
 *    (lower-order terms), the true neuron scales α_j = ‖a1_j‖ matter: the model is
 *    A1 = diag(α)Â1, U = diag(α) Û diag(α)^{−l}, and α (with its sign when σ(−z) ≠ ±σ(z)) is fitted by
 *    least squares of y on the simulated states (A2, b by regression at every trial α) on a subsample.
 * 4. A2, b by regression on the simulated states over all data; the U = 0 baseline likewise; then (default)
 *    the second-order refinement of §5 step 6.
 */
export interface GloreePolyOptions extends LearnerOptions {
  /** dh (≤ dx; and ≤ dy when l = 2), or 'auto' (only when T2 is used for the directions). */
  hidden: number | 'auto';
  /** σ(z) = Σ c_m z^m, degree ≥ 2 (required). */
  activation: Activation;
  /** Moment that gives the directions: 'auto' (default, see the file comment), 'S2' or 'P1'. */
  directions?: 'auto' | 'S2' | 'P1';
  /** The order-l moment is formed explicitly only when dy·dx^l ≤ this (default 4096); else it is projected. */
  maxTensorEntries?: number;
  /** Rows (whole sequences, evenly spread) used to fit the neuron scales α (default 20 000). */
  scaleFitMaxRows?: number;
}

export interface GloreePolyDiagnostics extends LearnerDiagnostics {
  activation: { coefficients: number[]; degree: number; symmetry: 'monomial' | 'even' | 'odd' | 'none'; text: string };
  hidden: { chosen: number; auto: boolean; spectrum?: number[]; noiseFloor?: number };
  directions: {
    route: 'S2' | 'P1';
    /** 'explicit' (dy·dx^l entries) or 'projected' on a k-dimensional subspace (from 'T1' or a 'sketch'). */
    p1: 'explicit' | 'projected' | 'dual-contracted';
    subspace?: 'T1' | 'sketch' | 'directions';
    cpResidual: number;
    jennrichResidual: number;
    alsIterations: number;
    /** S2 route: μ̂_j = E σ''(z_j) read off T2's components against Â2 (near 0 ⇒ S2 was a poor choice). */
    mu?: number[];
  };
  uMoment: 'P2prime' | 'P2';
  /** P2′: ν̂_k = E σ'(z_k) in the unit gauge (must be away from 0). */
  nu?: number[];
  /** A2T: conditioning of Â2ᵀ (informative only: the U step projects on each Â2^(j) and needs no demixing). */
  pinv: { A1: { sMin: number; cond: number }; A2T: { sMin: number; cond: number }; outputLayer?: { cond: number } };
  /** `uFeatures`, `uR2`: the U moment's control variate (degree-2 features plus leading-term features of x_t). */
  controlVariate: ControlVariateDiagnostics & { uFeatures?: number; uR2?: number[] };
  /** Neuron scales α_j (the fitted ‖a1_j‖ up to sign) and how they were obtained. */
  scales: { alpha: number[]; fitted: boolean; reason: string; evaluations: number; sampleRows: number; mse?: number };
  /** Bytes held by each moment accumulator (the largest is the order-l moment). */
  memory: Record<string, number>;
  /** §6: ‖U‖₂ (5.3 max_j sd(a1_j·x))², stable when ≲ 1 (l ≥ 3) or ≲ 3 (l = 2). */
  stability: { quantity: number; limit: number; stable: boolean };
  varianceShareU?: number;
  spectral: { A1: number[][]; A2: number[][]; U: number[][]; b: number[] };
}

export interface GloreePolyResult {
  params: IORNNParams;
  inputModel: InputModel;
  diagnostics: GloreePolyDiagnostics;
}

const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));

/** Fit an IO-RNN with a polynomial activation of degree l ≥ 2 by GLOREE (see the file comment). */
export async function fitGloreePoly(data: TrainingData, opts: GloreePolyOptions): Promise<GloreePolyResult> {
  return withSpill(data, opts.spill, (source) => fitFromSource(source, opts));
}

/** Whether σ has only odd powers (then S2's moment vanishes for symmetric inputs, DESIGN.md §4 P3). */
function isOdd(c: Float64Array): boolean {
  for (let m = 0; m < c.length; m++) if (m % 2 === 0 && c[m] !== 0) return false;
  return true;
}

/**
 * Whether α = −1 is a symmetry: σ(−z) = (−1)^l σ(z), i.e. all powers have the parity of l (then the joint sign
 * of (a1_j, U_j·) is not identified and only α > 0 is searched).
 */
function signSymmetric(c: Float64Array): boolean {
  const l = c.length - 1;
  for (let m = 0; m < c.length; m++) if ((m - l) % 2 !== 0 && c[m] !== 0) return false;
  return true;
}

function checkHiddenPoly(dh: number, dx: number, dy: number, l: number): void {
  if (!Number.isInteger(dh) || dh < 1) throw new UserError(`--hidden must be a positive integer or "auto", got ${dh}`);
  if (dh > dx) throw new UserError(`--hidden ${dh} is larger than the input dimension dx = ${dx}: GLOREE needs A1 of full row rank, so dh ≤ dx (DESIGN.md §2)`);
  if (l === 2 && dh > dy) {
    if (dy === 1) {
      throw new UserError(
        `--hidden ${dh} with a single output and an activation of degree 2 is not identified: the only moment that sees the input directions is the dx×dx matrix ` +
          `E[y S2] = 2c₂ Σ_j a2_j a1_j a1_jᵀ, and a matrix has no unique decomposition into ${dh} rank-one terms (any rotation of the directions fits equally well), ` +
          `so A1 and U cannot be recovered. It becomes identified with at least ${dh} outputs (dy ≥ dh), with a cubic or higher-degree activation ` +
          `(E[y S3] is a symmetric tensor with a unique CP decomposition, DESIGN.md §4 P4), or with --hidden 1`,
      );
    }
    throw new UserError(
      `--hidden ${dh} is larger than the output dimension dy = ${dy}: with an activation of degree 2 the directions come from E[y ⊗ S2], which identifies at most dy neurons; use dh ≤ ${dy} or a cubic activation`,
    );
  }
}

async function fitFromSource(source: DataSource, opts: GloreePolyOptions): Promise<GloreePolyResult> {
  const { dx, dy } = source;
  if (!opts.activation) throw new UserError('fitGloreePoly: an activation is required (coefficients c0..cl)');
  const c = activationCoefficients(opts.activation);
  const l = c.length - 1;
  if (l < 2) throw new UserError(`activation ${activationToString(opts.activation)}: the degree must be at least 2 (DESIGN.md §2)`);
  const cl = c[l];
  const lead = cl * fact(l); // σ^(l) = c_l l!
  const symmetry = activationSymmetry(opts.activation);
  const seed = opts.seed ?? 0;
  const log = runLog(opts.onWarning);
  const { warn, lap } = log;
  const memory: Record<string, number> = {};

  if (opts.hidden !== 'auto') checkHiddenPoly(opts.hidden, dx, dy, l);
  const odd = isOdd(c);
  let route: 'S2' | 'P1';
  const req = opts.directions ?? 'auto';
  if (req === 'auto') route = l === 2 ? 'S2' : !odd && (opts.hidden === 'auto' || dy >= opts.hidden) ? 'S2' : 'P1';
  else route = req;
  if (l === 2) route = 'S2'; // for l = 2 the order-l moment P1 IS T2
  if (route === 'S2' && odd) warn(`directions from S2 requested, but σ = ${activationToString(opts.activation)} is odd: E[y ⊗ S2] vanishes for symmetric inputs (DESIGN.md §4 P3); expect failure`);
  if (opts.hidden === 'auto' && route !== 'S2') {
    throw new UserError(`--hidden auto needs the second-order moment E[y ⊗ S2], which ${odd ? 'vanishes for the odd activation ' + activationToString(opts.activation) : 'is not used for these dimensions'}; give --hidden K`);
  }

  // ---- Pass 1: input-model statistics, output means, input covariance (for §6), shape checks.
  // ---- Pass 2: T2 halves (S2 route), T1 over t ≤ L−2 (P2′), control-variate normal equations, input residuals.
  // T1 and T2 use centred outputs (E[S] = 0, so centring only lowers variance); the control-variate subsample is
  // kept for the U moment's own control variate (LeadingTermCV).
  let t1!: T1Accumulator;
  const cvSample: SequenceChunk[] = [];
  const { p1, input, p2 } = await dataPasses(source, 'GLOREE', opts, log, {
    t2: route === 'S2',
    minSequences: 1,
    extra: (model) => [(t1 = new T1Accumulator(model, dy, { skipLast: 1 }))],
    onControlSample: (sub, chunk) => cvSample.push(keptSubchunk(source, sub, chunk)),
  });
  const totalRows = p1.data.rows;
  const { yMean } = p1;
  const inputModel = input.model;
  // Covariance of x for the §6 stability check, from the input statistics' centred (Chan-merged) comoment:
  // E[xxᵀ] − E[x]E[x]ᵀ from raw sums cancels catastrophically when |μ| ≫ σ.
  const covX = new Matrix(dx, dx, p1.stats.M2.map((v) => v / p1.stats.n));
  const { cvFit, t2Halves } = p2;
  const T1 = t1.result(); // dy×dx
  memory.T1 = t1.sum.length * 8;
  if (t2Halves) memory.T2 = 2 * t2Halves[0].sum.length * 8;

  // Target of the order ≥ 3 moments: CV residuals (unbiased: their ≥ 3rd derivatives of a degree-2 regression vanish).
  const target = (chunk: SequenceChunk): Float64Array => {
    if (cvFit) return bySubchunks(chunk, (sub) => cvFit.residualChunk(sub));
    return centredChunk(chunk, yMean).y;
  };

  // ---- Directions and output weights.
  let dh: number;
  let hiddenDiag: GloreePolyDiagnostics['hidden'];
  let A1hat: Matrix; // dh×dx unit rows
  let A2t: Matrix | null = null; // dh×dy in the unit gauge (c_l l! A2 from P1)
  let dirDiag: GloreePolyDiagnostics['directions'];
  let T2: Tensor | null = null;
  let s2Components: Float64Array | null = null; // dh×dy: μ_j A2^(j) from T2's CP
  if (route === 'S2') {
    const { T2: t2, rank: rs } = t2AndRank(t2Halves!, dy, dx, opts.hidden, source.name);
    if (opts.hidden === 'auto') {
      dh = autoRank(rs!, log, 'give --hidden K');
      checkHiddenPoly(dh, dx, dy, l);
    } else dh = opts.hidden;
    if (dy < dh) throw new UserError(`directions from S2 need dy ≥ dh (got dy = ${dy}, dh = ${dh}); use directions 'P1'`);
    hiddenDiag = { chosen: dh, auto: opts.hidden === 'auto', ...(rs ? { spectrum: rs.spectrum, noiseFloor: rs.noiseFloor } : {}) };
    T2 = new Tensor([dy, dx, dx], t2);
    const cp = cpTied(T2, dh, seed);
    A1hat = new Matrix(dh, dx);
    s2Components = new Float64Array(dh * dy);
    for (let j = 0; j < dh; j++) {
      for (let a = 0; a < dx; a++) A1hat.data[j * dx + a] = cp.dirs.get(a, j);
      for (let i = 0; i < dy; i++) s2Components[j * dy + i] = cp.comps.get(i, j);
    }
    dirDiag = { route, p1: l === 2 ? 'explicit' : 'dual-contracted', subspace: l === 2 ? undefined : 'directions', cpResidual: cp.residual, jennrichResidual: cp.jennrichResidual, alsIterations: cp.alsIterations };
    if (l === 2) {
      // P1 for l = 2 is T2 itself: μ_j = 2c₂.
      A2t = new Matrix(dh, dy, s2Components.map((v) => v / lead));
    }
    lap('cp');
  } else {
    dh = opts.hidden as number;
    hiddenDiag = { chosen: dh, auto: false };
    const explicit = dy * dx ** l <= (opts.maxTensorEntries ?? 4096);
    let Q: Matrix | null = null;
    let subspace: 'T1' | 'sketch' | undefined;
    if (!explicit) {
      if (dy >= dh) {
        // T1 = Σ_j ν_j A2^(j) ⊗ a1_j: its row space is span{a1_j} when ν_j ≠ 0.
        Q = svd(transpose(new Matrix(dy, dx, T1))).U; // dx×min
        Q = new Matrix(dx, dh, takeCols(Q, dh));
        subspace = 'T1';
      } else {
        // Sketch: S_l[θ_a, …, θ_b, ·] for K random directions per contracted mode (K^{l−1}·dx numbers per output).
        const K = Math.min(dx, dh + 2);
        const rng = new Rng(seed + 7);
        // Orthonormal columns: with K = dx the sketch is an orthogonal change of basis of the unfolding.
        const Theta = new Matrix(dx, K, takeCols(svd(new Matrix(dx, K, rng.normalArray(dx * K))).U, K));
        const modes = [...Array.from({ length: l - 1 }, () => ({ lag: 0 as const, Q: Theta })), { lag: 0 as const, Q: null }];
        const sk = new HermiteMomentAccumulator(inputModel, dy, modes);
        memory.sketch = sk.memoryBytes;
        await forEachChunk(source, 'subspace sketch', (chunk) => void sk.add(chunk, chunkScores(inputModel, chunk), target(chunk)), opts.onProgress, totalRows);
        const R = sk.result();
        const M = new Matrix(R.length / dx, dx, R);
        Q = new Matrix(dx, dh, takeCols(svd(transpose(M)).U, dh));
        subspace = 'sketch';
        lap('pass_sketch');
      }
    }
    const k = Q ? dh : dx;
    const p1 = new HermiteMomentAccumulator(inputModel, dy, Array.from({ length: l }, () => ({ lag: 0 as const, Q })));
    memory.P1 = p1.memoryBytes;
    await forEachChunk(source, 'order-l moment', (chunk) => void p1.add(chunk, chunkScores(inputModel, chunk), target(chunk)), opts.onProgress, totalRows);
    const P1 = p1.result();
    const cp = cpOrderL(P1, dy, k, l, dh, seed);
    A1hat = new Matrix(dh, dx);
    A2t = new Matrix(dh, dy);
    for (let j = 0; j < dh; j++) {
      // direction in data coordinates: Q c_j (Q orthonormal ⇒ still unit)
      let nrm = 0;
      for (let a = 0; a < dx; a++) {
        let v = 0;
        if (Q) for (let r = 0; r < k; r++) v += Q.get(a, r) * cp.dirs.get(r, j);
        else v = cp.dirs.get(a, j);
        A1hat.data[j * dx + a] = v;
        nrm += v * v;
      }
      nrm = Math.sqrt(nrm);
      for (let a = 0; a < dx; a++) A1hat.data[j * dx + a] /= nrm;
      for (let i = 0; i < dy; i++) A2t.data[j * dy + i] = cp.comps.get(i, j) / lead;
    }
    dirDiag = { route, p1: explicit ? 'explicit' : 'projected', subspace, cpResidual: cp.residual, jennrichResidual: cp.jennrichResidual, alsIterations: cp.alsIterations };
    lap('pass3_p1_cp');
  }

  const pA1 = pinv(A1hat);
  checkPinv('Â1', pA1, dh, 'dh', 'U is unreliable', log);
  const G = pA1.pinv; // dx×dh duals

  // ---- Pass: order-l moment on the duals (S2 route, l ≥ 3) and the U moment (P2′ or P2), both on G.
  const uKind = l === 2 ? 'P2' : 'P2prime';
  // Control variate of the U moment: the degree-2 features plus (â_j·(x_t − μ))^m, m = 3..l. Functions of x_t
  // alone have zero derivative in x_{t−1}, so the U moment stays unbiased, and they remove the leading term
  // c_l Σ_j A2^(j) (a1_j·x_t)^l of y, which dominates its variance.
  const ucv = cvFit && l >= 3 ? LeadingTermCV.fit(cvSample, inputModel.mean, cvFit!.quadratic, A1hat, l, dy) : null;
  const uTarget = (chunk: SequenceChunk): Float64Array => (ucv ? bySubchunks(chunk, (sub) => ucv.residualChunk(sub)) : target(chunk));
  const needP1Diag = A2t === null;
  const p1d = needP1Diag ? new DiagonalHermiteAccumulator(inputModel, dy, G, 'P1', l) : null;
  const um = new DiagonalHermiteAccumulator(inputModel, dy, G, uKind, l);
  if (p1d) memory.P1 = p1d.memoryBytes;
  memory[uKind] = um.memoryBytes;
  await forEachChunk(
    source,
    'mixed moment',
    (chunk) => {
      const sc = chunkScores(inputModel, chunk);
      if (p1d) p1d.add(chunk, sc, target(chunk));
      um.add(chunk, sc, uTarget(chunk));
    },
    opts.onProgress,
    totalRows,
  );
  if (p1d) {
    const D = p1d.result(); // dy×dh
    A2t = new Matrix(dh, dy);
    for (let j = 0; j < dh; j++) for (let i = 0; i < dy; i++) A2t.data[j * dy + i] = D[i * dh + j] / lead;
  }
  const A2hat = A2t!;
  if (s2Components) {
    const mu: number[] = [];
    for (let j = 0; j < dh; j++) {
      let num = 0, den = 0;
      for (let i = 0; i < dy; i++) {
        num += s2Components[j * dy + i] * A2hat.data[j * dy + i];
        den += A2hat.data[j * dy + i] ** 2;
      }
      mu.push(num / den);
    }
    dirDiag.mu = mu;
  }
  // The dual contractions on the step-t modes already isolate neuron j (a1_i^{⊗(l−1)}[g_j, …] = δ_ij), so the
  // output mode needs no demixing: project each dy-vector on Â2^(j) (least squares; works for dy = 1, App. E.2).
  //   C[:, j, k] = c_l l! Â2^(j) U_jk ν_k   (P2′)   or   (c_l l!)² Â2^(j) U_jk   (P2, l = 2)
  //   T1 g_k     = ν_k Â2^(k).
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
  const Uhat = new Matrix(dh, dh);
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
      if (!(Math.abs(nu[k]) > 1e-3 * nuMax)) warn(`ν̂_${k + 1} = E σ'(z) ≈ ${nu[k].toExponential(2)} is near 0: column ${k + 1} of U is not identified by P2′ (DESIGN.md §4)`);
    }
    for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) Uhat.data[j * dh + k] = Cjk[j * dh + k] / (lead * nu[k]);
  } else {
    for (let i = 0; i < dh * dh; i++) Uhat.data[i] = Cjk[i] / (lead * lead);
  }
  for (let j = 0; j < dh; j++) {
    let nj = 0;
    for (let i = 0; i < dy; i++) nj += A2hat.data[j * dy + i] ** 2;
    if (!(nj > 0)) warn(`neuron ${j + 1} has zero output weights in the order-${l} moment; its row of U is not identified`);
  }
  lap('pass4_u');

  // ---- Neuron scales (σ without scale symmetry): least squares on simulated states of a subsample.
  const scaleSample: SequenceChunk[] = [];
  const needScales = symmetry !== 'monomial';
  if (needScales) {
    const scaleStride = sampleStride(totalRows, opts.scaleFitMaxRows ?? 20_000);
    await forEachChunk(source, 'subsample', (chunk, off) => {
      const s = strideSubchunk(chunk, off, scaleStride);
      if (s) scaleSample.push(keptSubchunk(source, s, chunk));
    });
  }
  const spectralUnit: IORNNParams = { kind: 'iornn', A1: A1hat, U: Uhat, A2: A2hat, b: yMean.slice(), activation: { coefficients: Array.from(c) } };
  let scales: GloreePolyDiagnostics['scales'];
  let alpha: Float64Array = new Float64Array(dh).fill(1);
  if (needScales) {
    const sf = fitScales(spectralUnit, l, scaleSample, signSymmetric(c));
    alpha = sf.alpha;
    scales = { alpha: Array.from(alpha), fitted: true, reason: `σ = ${activationToString(opts.activation)} has no per-neuron scale symmetry (${symmetry})`, evaluations: sf.evaluations, sampleRows: sf.rows, mse: sf.mse };
    if (!Number.isFinite(sf.mse)) warn('every trial of the neuron scales blew up on the subsample; the scales are left at 1');
    lap('scales');
  } else {
    scales = { alpha: Array.from(alpha), fitted: false, reason: `σ = ${activationToString(opts.activation)} is a monomial: ‖a1_j‖ = 1 is a gauge (DESIGN.md §2)`, evaluations: 0, sampleRows: 0 };
  }
  const scaled = applyScales(spectralUnit, alpha, l);

  // ---- Output layer by regression over all data (model and U = 0 baseline), refinement subsample; refinement.
  const out = await fitOutputAndRefine(source, scaled, yMean, totalRows, opts, log, { tooLarge: 'U is', shrunk: 'a shrunk U', lapName: 'pass5_output' });
  const { params, sample: refineSample } = out;
  const varianceShareU = refineSample.length > 0 ? safe(() => varianceShare(params, refineSample)) : scaleSample.length > 0 ? safe(() => varianceShare(params, scaleSample)) : undefined;

  // ---- §6 stability rule.
  const stability = stabilityCheck(params, covX, l);
  if (!stability.stable) {
    warn(
      `the fitted model is outside the stable regime of DESIGN.md §6: ‖U‖₂ (5.3 max_j sd(a1_j·x))² = ${stability.quantity.toPrecision(3)} > ${stability.limit} ` +
        `for an activation of degree ${l}; predictions may blow up on long sequences or large inputs`,
    );
  }

  const diagnostics: GloreePolyDiagnostics = {
    data: p1.data,
    activation: { coefficients: Array.from(c), degree: l, symmetry, text: activationToString(opts.activation) },
    hidden: hiddenDiag,
    inputModel: p2.inputDiagnostics,
    directions: dirDiag,
    uMoment: uKind,
    nu,
    pinv: {
      A1: { sMin: pA1.sMin, cond: pA1.cond },
      A2T: { sMin: pA2T.sMin, cond: pA2T.cond },
      ...(out.cond !== undefined ? { outputLayer: { cond: out.cond } } : {}),
    },
    controlVariate: cvFit ? { ...controlVariateDiagnostics(cvFit), ...(ucv ? { uFeatures: ucv.p, uR2: ucv.r2 } : {}) } : { used: false },
    scales,
    memory,
    stability,
    varianceShareU,
    feedforward: { A2: out.feedforward.A2.toArray(), b: Array.from(out.feedforward.b) },
    spectral: { A1: scaled.A1.toArray(), A2: scaled.A2.toArray(), U: scaled.U.toArray(), b: Array.from(out.spectralBias) },
    refine: out.refine,
    timingsMs: log.timings,
    warnings: log.warnings,
  };
  return { params, inputModel, diagnostics };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/**
 * Apply a per-row function (rows×dy result) to groups of whole sequences of at most ~4096 rows and concatenate:
 * the control-variate features (p per row, p ≈ 140 at dx = 5) then never exist for a whole chunk at once.
 */
function bySubchunks(chunk: SequenceChunk, f: (sub: SequenceChunk) => Float64Array, maxRows = 4096): Float64Array {
  if (chunk.rows <= maxRows) return f(chunk);
  const { dx, dy } = chunk;
  const out = new Float64Array(chunk.rows * dy);
  let row = 0, k = 0;
  while (k < chunk.lengths.length) {
    let rows = 0;
    const k0 = k;
    while (k < chunk.lengths.length && (rows === 0 || rows + chunk.lengths[k] <= maxRows)) rows += chunk.lengths[k++];
    const sub = makeChunk(dx, dy, chunk.x.subarray(row * dx, (row + rows) * dx), chunk.y.subarray(row * dy, (row + rows) * dy), chunk.lengths.slice(k0, k));
    out.set(f(sub), row * dy);
    row += rows;
  }
  return out;
}

function takeCols(M: Matrix, k: number): Float64Array {
  const out = new Float64Array(M.rows * k);
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < k; j++) out[i * k + j] = M.get(i, j);
  return out;
}

interface CPFit {
  /** k×dh unit directions (columns). */
  dirs: Matrix;
  /** dy×dh component vectors: T ≈ Σ_j comps_j ⊗ dirs_j^{⊗order}. */
  comps: Matrix;
  residual: number;
  jennrichResidual: number;
  alsIterations: number;
}

/** T2 (dy×dx×dx) = Σ_j comps_j ⊗ d_j ⊗ d_j: Jennrich (tied) then tied ALS, the better of the two (as fitGloree). */
function cpTied(T: Tensor, dh: number, seed: number): CPFit {
  const jr = jennrich(T, dh, { tied: true, seed });
  const polished = als(T, dh, { init: jr.cp, tied: true, maxIter: 500, tol: 1e-12, seed });
  const jRes = relResidual(T, jr.cp);
  const cp = polished.residual <= jRes ? polished.cp : jr.cp;
  return { ...unpackCP(cp, 2), residual: Math.min(polished.residual, jRes), jennrichResidual: jRes, alsIterations: polished.iterations };
}

/** Turn [B, C, C, …] with weights into unit directions and component vectors comps_j = w_j ‖C_j‖^order B_j. */
function unpackCP(cp: CPTensor, order: number): { dirs: Matrix; comps: Matrix } {
  const [B, C] = cp.factors;
  const R = cp.weights.length;
  const dirs = new Matrix(C.rows, R), comps = new Matrix(B.rows, R);
  for (let j = 0; j < R; j++) {
    let cn = 0;
    for (let a = 0; a < C.rows; a++) cn += C.get(a, j) ** 2;
    cn = Math.sqrt(cn);
    // Sign convention (largest-magnitude entry of d_j positive) so rounding-level changes cannot flip it; the
    // component absorbs (−1)^order so that comps_j ⊗ d_j^{⊗order} is unchanged.
    let amax = 0;
    for (let a = 1; a < C.rows; a++) if (Math.abs(C.get(a, j)) > Math.abs(C.get(amax, j))) amax = a;
    const sgn = C.get(amax, j) < 0 ? -1 : 1;
    for (let a = 0; a < C.rows; a++) dirs.set(a, j, (sgn * C.get(a, j)) / cn);
    const w = cp.weights[j] * cn ** order * sgn ** order;
    for (let i = 0; i < B.rows; i++) comps.set(i, j, w * B.get(i, j));
  }
  return { dirs, comps };
}

/**
 * Tied CP of the order-(l+1) moment P (dy × k^l, row-major): P ≈ Σ_j comps_j ⊗ d_j^{⊗l}.
 * Start: Jennrich on the (dy·k^{l−2}) × k × k reshape (first factor A2^(j) ⊗ d_j^{⊗(l−2)}), the component read off
 * by contracting that factor with d_j^{⊗(l−2)}; then tied ALS on the full order-(l+1) tensor.
 */
function cpOrderL(P: Float64Array, dy: number, k: number, l: number, dh: number, seed: number): CPFit {
  const I = dy * k ** (l - 2);
  const T3 = new Tensor([I, k, k], P);
  const jr = jennrich(T3, dh, { tied: true, seed });
  const { dirs: d0, comps: b0 } = unpackCP(jr.cp, 2); // b0: I×dh
  const comps0 = new Matrix(dy, dh);
  for (let j = 0; j < dh; j++) {
    for (let i = 0; i < dy; i++) {
      let v = 0;
      for (let e = 0; e < k ** (l - 2); e++) {
        let w = 1, rem = e;
        for (let m = 0; m < l - 2; m++) {
          w *= d0.get(rem % k, j);
          rem = Math.floor(rem / k);
        }
        v += b0.get(i * k ** (l - 2) + e, j) * w;
      }
      comps0.set(i, j, v);
    }
  }
  const Tfull = new Tensor([dy, ...Array.from({ length: l }, () => k)], P);
  const init: CPTensor = { weights: new Float64Array(dh).fill(1), factors: [comps0, ...Array.from({ length: l }, () => d0)] };
  const jRes = cpResidual(Tfull, init);
  let best: CPTensor = init, res = jRes, iters = 0;
  try {
    const polished = als(Tfull, dh, { init, tied: true, maxIter: 500, tol: 1e-12, seed });
    iters = polished.iterations;
    if (polished.residual <= jRes) {
      best = polished.cp;
      res = polished.residual;
    }
  } catch {
    // keep the Jennrich start (ALS can fail on degenerate inputs; the residual says how good the start is)
  }
  return { ...unpackCP(best, l), residual: res, jennrichResidual: jRes, alsIterations: iters };
}

/** The model with neuron scales α: A1 = diag(α)Â1, U = diag(α) Û diag(α)^{−l}, A2 = diag(α)^{−l} Â2 (exact for the leading term). */
function applyScales(p: IORNNParams, alpha: Float64Array, l: number): IORNNParams {
  const dh = p.A1.rows, dx = p.A1.cols, dy = p.A2.cols;
  const A1 = new Matrix(dh, dx), U = new Matrix(dh, dh), A2 = new Matrix(dh, dy);
  for (let j = 0; j < dh; j++) {
    for (let a = 0; a < dx; a++) A1.data[j * dx + a] = alpha[j] * p.A1.data[j * dx + a];
    for (let k = 0; k < dh; k++) U.data[j * dh + k] = (alpha[j] * p.U.data[j * dh + k]) / alpha[k] ** l;
    for (let i = 0; i < dy; i++) A2.data[j * dy + i] = p.A2.data[j * dy + i] / alpha[j] ** l;
  }
  return { ...p, A1, U, A2 };
}

/**
 * Neuron scales α by least squares on simulated states (variable projection: A2, b refit at every trial):
 * coordinate search over sign × a log grid of |α_j| ∈ [1/16, 16], two sweeps, then golden-section refinement of
 * log|α_j|. Blow-ups count as +∞. `signSym`: α = −1 is a symmetry of σ, so only α > 0 is searched.
 */
function fitScales(p: IORNNParams, l: number, sample: SequenceChunk[], signSym: boolean): { alpha: Float64Array; mse: number; evaluations: number; rows: number } {
  const dh = p.A1.rows;
  let evaluations = 0;
  const rows = sample.reduce((a, c) => a + c.rows, 0);
  const dy = p.A2.cols, m = dh + 1;
  let yy = 0;
  for (const ch of sample) for (let i = 0; i < ch.y.length; i++) yy += ch.y[i] * ch.y[i];
  const nOut = rows * dy;
  // MSE after the least-squares output layer, from one state pass: SSE = Σy² − 2 tr(WᵀC) + tr(WᵀGW).
  const objective = (alpha: Float64Array): number => {
    evaluations++;
    const q = applyScales(p, alpha, l);
    const acc = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
    try {
      for (const ch of sample) accumulateOutputLS(q, ch, acc, 0);
    } catch {
      return Infinity;
    }
    const { W } = solveOutputLS(acc.G, acc.C, m, dy);
    let sse = yy;
    for (let i = 0; i < dy; i++)
      for (let a = 0; a < m; a++) {
        const wa = W[a * dy + i];
        sse -= 2 * wa * acc.C[a * dy + i];
        let gw = 0;
        for (let b = 0; b < m; b++) gw += acc.G[a * m + b] * W[b * dy + i];
        sse += wa * gw;
      }
    const mse = Math.max(0, sse) / nOut;
    return Number.isFinite(mse) ? mse : Infinity;
  };
  const alpha = new Float64Array(dh).fill(1);
  let best = objective(alpha);
  // Log grid |α| ∈ [1/16, 16], ratio √2 between points; one coordinate sweep, then golden sections.
  const grid: number[] = [];
  for (let g = -8; g <= 8; g++) grid.push(Math.exp((g / 8) * Math.log(16)));
  const signs = signSym ? [1] : [1, -1];
  for (let sweep = 0; sweep < 1; sweep++) {
    for (let j = 0; j < dh; j++) {
      for (const s of signs)
        for (const g of grid) {
          const trial = alpha.slice();
          trial[j] = s * g;
          const f = objective(trial);
          if (f < best) {
            best = f;
            alpha.set(trial);
          }
        }
    }
  }
  // Golden-section on log|α_j| within one grid step of the best (two rounds: the coordinates interact).
  const step = Math.log(16) / 8;
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let round = 0; round < 2; round++)
  for (let j = 0; j < dh; j++) {
    const sgn = Math.sign(alpha[j]);
    const width = round === 0 ? step : step / 4;
    let lo = Math.log(Math.abs(alpha[j])) - width, hi = Math.log(Math.abs(alpha[j])) + width;
    const at = (u: number): number => {
      const t = alpha.slice();
      t[j] = sgn * Math.exp(u);
      return objective(t);
    };
    let x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
    let f1 = at(x1), f2 = at(x2);
    for (let it = 0; it < (round === 0 ? 12 : 8); it++) {
      if (f1 < f2) {
        hi = x2;
        x2 = x1;
        f2 = f1;
        x1 = hi - phi * (hi - lo);
        f1 = at(x1);
      } else {
        lo = x1;
        x1 = x2;
        f1 = f2;
        x2 = lo + phi * (hi - lo);
        f2 = at(x2);
      }
    }
    const u = f1 < f2 ? x1 : x2, fu = Math.min(f1, f2);
    if (fu < best) {
      best = fu;
      alpha[j] = sgn * Math.exp(u);
    }
  }
  return { alpha, mse: best, evaluations, rows };
}

/** DESIGN.md §6: q = ‖U‖₂ (5.3 max_j sd(a1_j·x))², limit 1 for l ≥ 3 and 3 for l = 2. */
export function stabilityCheck(p: IORNNParams, covX: Matrix, l: number): { quantity: number; limit: number; stable: boolean } {
  const dh = p.A1.rows, dx = p.A1.cols;
  let sdMax = 0;
  for (let j = 0; j < dh; j++) {
    let v = 0;
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) v += p.A1.get(j, a) * covX.get(a, b) * p.A1.get(j, b);
    sdMax = Math.max(sdMax, Math.sqrt(Math.max(v, 0)));
  }
  const quantity = spectralNorm(p.U) * (5.3 * sdMax) ** 2;
  const limit = l >= 3 ? 1 : 3;
  return { quantity, limit, stable: quantity <= limit };
}

/**
 * Control variate for the U moment (P2′): regression of y_t on the degree-2 features of ControlVariate plus
 * (â_j·(x_t − μ))^m for m = 3..l, fitted on the control-variate subsample. Unbiased for any moment whose
 * derivative involves x_{t−1} and has total order ≥ 3 (see the call site).
 */
class LeadingTermCV {
  private constructor(
    readonly p: number,
    private readonly p2: number,
    private readonly center: Float64Array,
    private readonly mode: QuadraticMode,
    private readonly dirs: Matrix,
    private readonly l: number,
    private readonly dy: number,
    private readonly coef: Float64Array,
    readonly r2: number[],
  ) {}

  static features(chunk: SequenceChunk, center: Float64Array, mode: QuadraticMode, dirs: Matrix, l: number): { F: Float64Array; p: number; p2: number } {
    const dx = chunk.dx, dh = dirs.rows;
    const p2 = featureCount(dx, mode);
    const p = p2 + dh * (l - 2);
    const F2 = controlFeatures(chunk, center, mode);
    const F = new Float64Array(chunk.rows * p);
    for (let r = 0; r < chunk.rows; r++) {
      F.set(F2.subarray(r * p2, (r + 1) * p2), r * p);
      let o = r * p + p2;
      for (let j = 0; j < dh; j++) {
        let z = 0;
        for (let a = 0; a < dx; a++) z += dirs.data[j * dx + a] * (chunk.x[r * dx + a] - center[a]);
        let zm = z * z;
        for (let m = 3; m <= l; m++) {
          zm *= z;
          F[o++] = zm;
        }
      }
    }
    return { F, p, p2 };
  }

  static fit(sample: SequenceChunk[], center: Float64Array, mode: QuadraticMode, dirs: Matrix, l: number, dy: number, maxRows = 12_000): LeadingTermCV | null {
    if (sample.length === 0) return null;
    // The regression only has to be good, not unbiased: ~12k rows (whole sequences, evenly spread) suffice.
    const total = sample.reduce((a, c) => a + c.rows, 0);
    const stride = Math.max(1, Math.round(total / maxRows));
    if (stride > 1) {
      let off = 0;
      const thin: SequenceChunk[] = [];
      for (const c of sample) {
        const sub = strideSubchunk(c, off, stride);
        if (sub) thin.push(sub);
        off += c.lengths.length;
      }
      sample = thin;
    }
    let p = 0, p2 = 0, n = 0;
    let G: Float64Array | null = null, C: Float64Array | null = null;
    const ySum = new Float64Array(dy), yySum = new Float64Array(dy);
    for (const ch of sample) {
      const f = LeadingTermCV.features(ch, center, mode, dirs, l);
      p = f.p;
      p2 = f.p2;
      G ??= new Float64Array(p * p);
      C ??= new Float64Array(p * dy);
      for (let r = 0; r < ch.rows; r++) {
        const o = r * p;
        for (let a = 0; a < p; a++) {
          const fa = f.F[o + a];
          if (fa === 0) continue;
          for (let b = a; b < p; b++) G[a * p + b] += fa * f.F[o + b];
          for (let i = 0; i < dy; i++) C[a * dy + i] += fa * ch.y[r * dy + i];
        }
        for (let i = 0; i < dy; i++) {
          ySum[i] += ch.y[r * dy + i];
          yySum[i] += ch.y[r * dy + i] ** 2;
        }
        n++;
      }
    }
    if (!G || !C || n < p) return null;
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) G[a * p + b] = G[b * p + a];
    // Column scaling so the eigen-pseudo-inverse cut-off is relative to comparable columns.
    const sc = new Float64Array(p);
    for (let a = 0; a < p; a++) sc[a] = G[a * p + a] > 0 ? 1 / Math.sqrt(G[a * p + a]) : 0;
    const Gs = new Float64Array(p * p), Cs = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) Gs[a * p + b] = G[a * p + b] * sc[a] * sc[b];
      for (let i = 0; i < dy; i++) Cs[a * dy + i] = C[a * dy + i] * sc[a];
    }
    const { W } = solveOutputLS(Gs, Cs, p, dy);
    const coef = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) coef[a * dy + i] = W[a * dy + i] * sc[a];
    const r2: number[] = [];
    for (let i = 0; i < dy; i++) {
      let bC = 0, bGb = 0;
      for (let a = 0; a < p; a++) {
        bC += coef[a * dy + i] * C[a * dy + i];
        let v = 0;
        for (let b = 0; b < p; b++) v += G[a * p + b] * coef[b * dy + i];
        bGb += coef[a * dy + i] * v;
      }
      const tss = yySum[i] - (ySum[i] * ySum[i]) / n;
      r2.push(tss > 0 ? 1 - Math.max(0, yySum[i] - 2 * bC + bGb) / tss : 0);
    }
    return new LeadingTermCV(p, p2, center, mode, dirs, l, dy, coef, r2);
  }

  residualChunk(chunk: SequenceChunk): Float64Array {
    const { F, p } = LeadingTermCV.features(chunk, this.center, this.mode, this.dirs, this.l);
    const dy = this.dy, out = chunk.y.slice();
    for (let r = 0; r < chunk.rows; r++)
      for (let a = 0; a < p; a++) {
        const fa = F[r * p + a];
        if (fa === 0) continue;
        for (let i = 0; i < dy; i++) out[r * dy + i] -= fa * this.coef[a * dy + i];
      }
    void this.p2;
    return out;
  }
}

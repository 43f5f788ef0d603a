import { Matrix, transpose } from '../../linalg/matrix.js';
import { pinv } from '../../linalg/pinv.js';
import { OptionError } from '../../io/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { columnNorms } from '../../decomposition/cp_tensor.js';
import { tiedCP } from '../../decomposition/tied.js';
import { projectedMixedFor } from '../../moments/nongaussian.js';
import { ConditionalScoreUAccumulator } from '../../moments/nongaussian-u.js';
import { MixtureVAR1 } from '../../input/var1-mixture.js';
import { Activation, IORNNParams, SQUARE } from '../../models/params.js';
import { activationDegree } from '../../models/activation.js';
import { RankSelection, oddActivationHint } from '../rank.js';
import { withoutT2 } from '../diagnostics.js';
import { autoRank, t2AndRank } from '../data-passes.js';
import { centredChunk } from '../chunks.js';
import { varianceShare } from '../output-layer.js';
import { Identifier, checkPinv, pinvSummary, withOutputLayer } from './types.js';
import { ownQueryOnEngine } from '../engine-passes.js';
import { ngUPassDefinition, readNGU } from '../../sql/nongaussian-passes.js';

/**
 * IO-RNN with σ(z) = c₂z² (docs/method.md §4 F1, F4; §5 steps 2–5):
 *   T2 = E[(y − ȳ) ⊗ S2] = 2c₂ Σ_j A2^(j) ⊗ a1_j ⊗ a1_j  →  tied CP  →  Â1 (unit rows), Â2;
 *   C[j,k] = E[r_t ⊗ H(t−1, t−1)] projected on W = pinv(Â2ᵀ) and the duals G = pinv(Â1)  =  4c₂² U_jk.
 */
export interface QuadraticOptions {
  /** dh ≤ min(dx, dy), or 'auto' (the rank rule on T2, src/learn/rank.ts). */
  hidden: number | 'auto';
  activation?: Activation;
}

/** CP of T2's diagnostics. */
export interface CPDiagnostics {
  method: 'jennrich+als';
  /** Relative residual ‖T2 − T̂2‖/‖T2‖ of the better of Jennrich and ALS (noise in T2 shows up here). */
  residual: number;
  jennrichResidual: number;
  alsIterations: number;
  alsConverged: boolean;
  /** Jennrich: eigenvalue separation and conditioning (see JennrichDiagnostics). */
  minSeparation: number;
  condEigenvectors: number;
  projectionGapRatio: number[];
  /** Component weights w_j of T2 = Σ w_j b_j ⊗ c_j ⊗ c_j. */
  weights: number[];
}

/** The quadratic learner's block of the diagnostics. */
export interface GloreeBlock {
  /** Singular-value spectrum of the unfolded T2, its split-sample noise floor and the rank rule (src/learn/rank.ts). */
  rank: ({ chosen: number; auto: boolean } & Omit<RankSelection, 'T2'>) | null;
  cp: CPDiagnostics;
  /** Smallest singular values (and condition numbers) behind each pseudo-inverse. */
  pinv: { A1: { sMin: number; cond: number }; A2T: { sMin: number; cond: number }; outputLayer?: { cond: number } };
  /** Steps of the U moment; `estimator` 'conditional-score' on non-Gaussian inputs (src/moments/nongaussian-u.ts). */
  mixed: { steps: number; estimator?: 'conditional-score' };
  /** Share of the fitted model's output variance that goes away with U = 0 (same A1, A2). */
  varianceShareU?: number;
  /** The spectral estimate before any regression or refinement (b = ȳ − Â2ᵀ mean h). */
  spectral: { A1: number[][]; A2: number[][]; U: number[][]; b: number[] };
}

export function quadraticCoefficient(act: Activation): number {
  const c = act.coefficients ?? []; // named activations (tanh, …) have no coefficients
  for (let m = 0; m < c.length; m++) {
    if (m !== 2 && (c[m] ?? 0) !== 0) {
      throw new OptionError('activation', act, () => `activation ${JSON.stringify(c)}: fitGloree handles σ(z) = c·z² only; use fitRNN (or fitGloreePoly) for other polynomial activations`);
    }
  }
  // Trailing zero coefficients do not raise the degree.
  if (activationDegree(act) !== 2 || !(c[2] !== 0)) throw new OptionError('activation', act, () => `activation ${JSON.stringify(c)}: expected a quadratic c·z² with c ≠ 0`);
  return c[2];
}

/**
 * CP of T2 (dy×dx×dx, modes 2–3 tied) with K components: T2 = 2c₂ Σ_j A2^(j) ⊗ c_j ⊗ c_j (§4 F1; for a BRNN the
 * sum runs over all neurons, F5). Returns C (K×dx, unit rows: the gauge ‖c_j‖ = 1 of §2) and A2 (K×dy).
 */
export function cpOfT2(t2: Float64Array, dy: number, dx: number, K: number, c2: number, seed: number): { C: Matrix; A2: Matrix; diagnostics: CPDiagnostics } {
  const fit = tiedCP(new Tensor([dy, dx, dx], t2), K, { seed });
  const { cp } = fit;
  const [Bf, Cf] = [cp.factors[0], cp.factors[1]];
  const cNorm = columnNorms(Cf), bNorm = columnNorms(Bf);
  const C = new Matrix(K, dx);
  const A2 = new Matrix(K, dy);
  for (let j = 0; j < K; j++) {
    const cn = cNorm[j], bn = bNorm[j];
    const w = cp.weights[j] * cn * cn * bn;
    // T2 only sees c_j ⊗ c_j, so the sign of c_j is free here (U is read off relative to it, and (a1_j, U_j·)
    // flip together, §2). Fix it — largest-magnitude entry positive — so that rounding-level changes in T2
    // cannot flip it.
    let amax = 0;
    for (let a = 1; a < dx; a++) if (Math.abs(Cf.get(a, j)) > Math.abs(Cf.get(amax, j))) amax = a;
    const sgn = Cf.get(amax, j) < 0 ? -1 : 1;
    for (let a = 0; a < dx; a++) C.data[j * dx + a] = (sgn * Cf.get(a, j)) / cn;
    for (let i = 0; i < dy; i++) A2.data[j * dy + i] = (w * Bf.get(i, j)) / bn / (2 * c2);
  }
  const jr = fit.jennrich;
  const diagnostics: CPDiagnostics = {
    method: 'jennrich+als',
    residual: fit.residual,
    jennrichResidual: fit.jennrichResidual,
    alsIterations: fit.alsIterations,
    alsConverged: fit.alsConverged,
    minSeparation: jr.minSeparation,
    condEigenvectors: jr.condEigenvectors,
    projectionGapRatio: jr.projectionGapRatio,
    weights: Array.from(cp.weights),
  };
  return { C, A2, diagnostics };
}

function checkHidden(dh: number, dx: number, dy: number): void {
  if (!Number.isInteger(dh) || dh < 1) throw new OptionError('hidden', dh, (n) => `${n('hidden')} must be a positive integer or "auto", got ${dh}`);
  if (dh > dx || dh > dy) {
    throw new OptionError('hidden', dh, (n) =>
      `${n('hidden')} ${dh} is larger than ${dh > dx ? `the input dimension dx = ${dx}` : `the output dimension dy = ${dy}`}: ` +
        `GLOREE needs A1 and A2 of full row rank, so dh ≤ min(dx, dy) = ${Math.min(dx, dy)} (docs/method.md §2)` +
        (dh > dy ? `; with fewer outputs than neurons σ = z² is not identified — a cubic activation (${n('activation')} z3) identifies dh ≤ dx neurons even from a scalar output (App. E.2)` : ''),
    );
  }
}

/** The identification module for σ = c₂z² IO-RNNs. */
export function quadratic(opts: QuadraticOptions): Identifier<IORNNParams, GloreeBlock, 'gloree'> {
  const activation = opts.activation ?? SQUARE;
  const c2 = quadraticCoefficient(activation);
  let block!: Omit<GloreeBlock, 'pinv' | 'spectral' | 'varianceShareU'> & { pinv: Omit<GloreeBlock['pinv'], 'outputLayer'>; spectral: Omit<GloreeBlock['spectral'], 'b'> };
  return {
    learner: 'gloree',
    name: 'GLOREE',
    // Its accumulators (T2 halves, control variate, projected mixed moment) count own rows only (src/learn/pieces.ts).
    streamsPieces: true,
    plan(source) {
      if (opts.hidden !== 'auto') checkHidden(opts.hidden, source.dx, source.dy);
      // The mixed moment pairs y_t with s_{t−1} (§4 F4); T2 and the control variate stay at lag 0.
      return { t2: true, minSequences: 1, steinDegree: 2, pieceLags: { back: 1, forward: 1 } };
    },
    async identify({ source, p1, p2, input, log, seed, pass, accumulate, engine }) {
      const { dx, dy } = source;
      const { T2, rank: rankSel } = t2AndRank(p2.t2Halves!, dy, dx, opts.hidden, source.name);
      const dh = opts.hidden === 'auto' ? autoRank(rankSel!, log, (n) => `the outputs show no quadratic dependence on the inputs that GLOREE can use; ${oddActivationHint(n)}`) : opts.hidden;
      const { C: A1, A2, diagnostics: cp } = cpOfT2(T2, dy, dx, dh, c2, seed);
      log.lap('cp');

      // Projected mixed moment → U (§4 F4, §5 step 5): with W = pinv(Â2ᵀ), G = pinv(Â1), C[j,k] = 4c₂² U_jk.
      const pA1 = pinv(A1), pA2T = pinv(transpose(A2));
      for (const [name, p] of [['A1', pA1], ['A2ᵀ', pA2T]] as const) checkPinv(name, p, dh, 'dh', 'U is unreliable', log);
      const { cvFit } = p2, model = input.model, G = pA1.pinv;
      let U: Matrix, steps: number;
      if (model instanceof MixtureVAR1) {
        // Non-Gaussian inputs: U from first-order conditional scores and instruments (src/moments/nongaussian-u.ts),
        // far less noisy than the third-order mixed moment there (docs/non-gaussian-inputs.md).
        const acc = new ConditionalScoreUAccumulator(model, dy, pA2T.pinv, A1, G, c2);
        // On an engine: one query with the accumulator's constants inlined (src/sql/nongaussian-passes.ts).
        const onEngine =
          engine &&
          (await ownQueryOnEngine(engine, 'mixed moment', async (e) => {
            const def = ngUPassDefinition(acc, p1.yMean);
            const r = readNGU(def, await e.run(def), acc);
            return () => {
              acc.count = r.count;
              acc.sum.set(r.sum);
            };
          }));
        if (!onEngine) await pass('mixed moment', (chunk) => void acc.add(centredChunk(chunk, p1.yMean)));
        U = acc.solveU();
        steps = acc.count;
      } else {
        const mixed = projectedMixedFor(model, dy, 'prev', pA2T.pinv, G, G, { target: cvFit ? 'residual' : 'y' });
        // Without the control variate y is centred: E[H] = 0 keeps either unbiased, but an output offset would add
        // ‖ȳ‖²-sized variance to the third-order moment.
        await accumulate('mixed moment', [mixed], { centred: !cvFit });
        const Cjk = mixed.result();
        U = new Matrix(dh, dh);
        for (let i = 0; i < dh * dh; i++) U.data[i] = Cjk[i] / (4 * c2 * c2);
        steps = mixed.count;
      }
      log.lap('pass3_mixed');

      block = {
        rank: rankSel ? { chosen: dh, auto: opts.hidden === 'auto', ...withoutT2(rankSel) } : null,
        cp,
        pinv: { A1: pinvSummary(pA1), A2T: pinvSummary(pA2T) },
        mixed: { steps, ...(model instanceof MixtureVAR1 ? { estimator: 'conditional-score' as const } : {}) },
        spectral: { A1: A1.toArray(), A2: A2.toArray(), U: U.toArray() },
      };
      return { spectral: { kind: 'iornn', A1, U, A2, b: p1.yMean.slice(), activation }, tooLarge: 'U is', shrunk: 'a shrunk U' };
    },
    finish(_ctx, fit) {
      const varianceShareU = fit.sample.length > 0 ? varianceShare(fit.params, fit.sample) : undefined;
      return { ...withOutputLayer(block as GloreeBlock, fit), varianceShareU };
    },
  };
}

/**
 * Choice of the number of hidden neurons dh from the second-order moment (`--hidden auto`).
 *
 * T2 = E[y_t ⊗ S2(t)] = 2c₂ Σ_j A2^(j) ⊗ a1_j ⊗ a1_j (docs/method.md §4 F1) is a dy×dx×dx tensor, row-major
 * [i, a, b]. Its mode-1 (output-mode) unfolding T_(1) (dy × dx², row i = the dx×dx slice T2[i,·,·]) equals
 * Σ_j A2^(j) vec(a1_j a1_jᵀ)ᵀ, so it has rank dh exactly when the rows of A2 are linearly independent and the
 * vec(a1_j a1_jᵀ) are (which holds when the rows of A1 are, docs/method.md §2). The estimate T̂2 = T2 + E adds sampling
 * noise; by Weyl's inequality |σ_k(T̂_(1)) − σ_k(T_(1))| ≤ ‖E_(1)‖₂, so the singular values beyond dh stay below
 * the noise's spectral norm while the first dh stay above σ_dh(T_(1)) − ‖E_(1)‖₂.
 *
 * The noise level is measured from the data, by a split-sample comparison: with T̂a, T̂b the T2 moments of two
 * disjoint halves of the sequences (na and nb steps; independent, each unbiased for T2), the mean
 * T̂ = (na T̂a + nb T̂b)/n has noise E with covariance Σ/n, and the scaled difference
 *   D = (T̂a − T̂b) · √(na·nb) / n        (= (T̂a − T̂b)/2 for equal halves)
 * has zero mean and the SAME covariance Σ/n (and, to the Gaussian approximation of the CLT, the same distribution
 * as E). So ‖D_(1)‖₂ is an estimate of ‖E_(1)‖₂ from the data alone — the noise floor.
 *
 * **Rule.** rank = #{k : σ_k(T̂_(1)) > κ·‖D_(1)‖₂}, κ = 2 (default), capped at min(dx, dy, maxRank) (dh ≤ dx and
 * dh ≤ dy for identifiability, docs/method.md §2). κ = 2 leaves room for ‖E‖ and ‖D‖ fluctuating independently
 * around their common typical value; a false extra component needs ‖E‖ > 2‖D‖. Measured with pure Gaussian noise
 * (dy = dx = 4, 2000 seeds): max σ1(T̂)/‖D‖ = 1.60, and ‖D‖/‖E‖ ∈ [0.80, 1.27] over 20 seeds.
 *
 * **Why the output-mode unfolding.** The noise of y_t ⊗ S2(t) is largest along the output directions where y
 * varies, i.e. the span of A2's rows — the signal's own subspace; in the complement only the output noise
 * contributes. So in the mode-1 unfolding the singular values beyond dh sit far below the noise floor, while in
 * the input-mode unfolding (dx × dy·dx, rows a) the noise is spread over all dx input directions. Measured on the
 * built-in scenarios at n = 1e5 rows (5 data seeds each, see test/rank.test.ts): σ_dh/‖D‖ ≈ 12–23 for the mode-1
 * unfolding vs 8–16 for the input mode, and σ_{dh+1}/‖D‖ ≈ 0.10–0.16 vs 0.54–0.79 (rect: dx=6, dy=5, dh=3). The
 * input-mode spectrum is still computed and returned (`spectrumInput`) as a cross-check for the report.
 */
import { Matrix } from '../linalg/matrix.js';
import { singularValues } from '../linalg/svd.js';
import type { OptionNamer } from '../io/errors.js';

/**
 * What to do when T2 shows nothing: the usual cause is an odd activation, whose second-order moment vanishes.
 * Options are spelled by `name` (errors as data: the library passes API names, the CLI its flags through
 * OptionError.render), so this library text never names a CLI flag.
 */
export function oddActivationHint(name: OptionNamer): string {
  return `if the data come from an odd activation (z³, tanh, …) this moment vanishes: fit with ${name('activation')} tanh or z3 and ${name('hidden')} K instead (docs/method.md §4 P3); σ = z² with a forced K does not fit such data`;
}

export interface SelectRankOptions {
  /** Upper bound on the rank (on top of min(dx, dy)). */
  maxRank?: number;
  /** Steps behind T2a and T2b (default equal halves). Only their ratio matters. */
  counts?: [number, number];
  /** Threshold factor κ over the noise floor (default 2). */
  factor?: number;
}

export interface RankSelection {
  /** The chosen number of hidden neurons (0 if nothing stands above the noise; see `warnings`). */
  rank: number;
  /** Singular values (descending) of the mode-1 (output-mode) unfolding of the mean T̂2, dy × dx². Length min(dy, dx²). */
  spectrum: number[];
  /** Singular values of the same unfolding of the split-sample difference D (the noise's spectrum). */
  noiseSpectrum: number[];
  /** ‖D_(1)‖₂ = noiseSpectrum[0]: the estimated spectral norm of the noise in T̂2. */
  noiseFloor: number;
  /** factor · noiseFloor: singular values above it count. */
  threshold: number;
  factor: number;
  /** min(dx, dy, maxRank). */
  cap: number;
  /** Singular values of the input-mode unfolding (dx × dy·dx) of T̂2 and of D (cross-check, not used by the rule). */
  spectrumInput: number[];
  noiseSpectrumInput: number[];
  /** Number of input-mode singular values above factor·‖D_(2)‖₂ (uncapped; should agree with `rank`). */
  rankInput: number;
  /** σ_rank / threshold: how clearly the weakest kept component stands out (> 1; 0 when rank = 0). */
  marginKept: number;
  /** σ_{rank+1} / threshold: how far below the threshold the strongest dropped value is (0 if there is none). */
  marginDropped: number;
  /** The rule, in words, with the numbers. */
  rule: string;
  /** The mean T̂2 (dy×dx×dx, [i,a,b]) the spectrum was computed from. */
  T2: Float64Array;
  warnings: string[];
}

function checkTensor(T: Float64Array, dy: number, dx: number, name: string): void {
  if (!(T instanceof Float64Array)) throw new TypeError(`selectRank: ${name} must be a Float64Array`);
  if (T.length !== dy * dx * dx) throw new RangeError(`selectRank: ${name} has ${T.length} values, expected dy·dx·dx = ${dy}·${dx}·${dx} = ${dy * dx * dx}`);
  for (let k = 0; k < T.length; k++) {
    if (!Number.isFinite(T[k])) throw new RangeError(`selectRank: ${name} has a non-finite entry (${T[k]}) at index ${k}`);
  }
}

/** Mode-1 unfolding dy × dx² (row i = slice i): the row-major data as is. */
function unfoldOutput(T: Float64Array, dy: number, dx: number): Matrix {
  return new Matrix(dy, dx * dx, T.slice());
}

/** Input-mode unfolding dx × (dy·dx): entry [a, i·dx + b] = T[i, a, b]. */
function unfoldInput(T: Float64Array, dy: number, dx: number): Matrix {
  const M = new Matrix(dx, dy * dx);
  for (let i = 0; i < dy; i++)
    for (let a = 0; a < dx; a++)
      for (let b = 0; b < dx; b++) M.data[a * dy * dx + i * dx + b] = T[(i * dx + a) * dx + b];
  return M;
}

const fmt = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toPrecision(3) : v.toExponential(2));

/**
 * Choose dh from the T2 moments of two disjoint halves of the data (see the module comment for the rule).
 * T2a, T2b: dy×dx×dx row-major [i, a, b] (T2Accumulator.result() of each half, with the same centred y).
 * Throws on shape mismatches, non-finite entries, and when the two halves are identical (no noise estimate).
 */
export function selectRank(T2a: Float64Array, T2b: Float64Array, dy: number, dx: number, opts: SelectRankOptions = {}): RankSelection {
  if (!Number.isInteger(dy) || dy < 1) throw new RangeError(`selectRank: dy must be a positive integer, got ${dy}`);
  if (!Number.isInteger(dx) || dx < 1) throw new RangeError(`selectRank: dx must be a positive integer, got ${dx}`);
  checkTensor(T2a, dy, dx, 'T2a');
  checkTensor(T2b, dy, dx, 'T2b');
  const factor = opts.factor ?? 2;
  if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`selectRank: factor must be a positive number, got ${factor}`);
  const [na, nb] = opts.counts ?? [1, 1];
  if (!(na > 0 && nb > 0) || !Number.isFinite(na) || !Number.isFinite(nb)) {
    throw new RangeError(`selectRank: counts must be two positive numbers (steps behind T2a and T2b), got ${JSON.stringify(opts.counts)}`);
  }
  let cap = Math.min(dx, dy);
  if (opts.maxRank !== undefined) {
    if (!Number.isInteger(opts.maxRank) || opts.maxRank < 1) throw new RangeError(`selectRank: maxRank must be a positive integer, got ${opts.maxRank}`);
    cap = Math.min(cap, opts.maxRank);
  }

  const n = na + nb;
  const wa = na / n, wb = nb / n, wd = Math.sqrt(na * nb) / n;
  const mean = new Float64Array(T2a.length);
  const diff = new Float64Array(T2a.length);
  for (let k = 0; k < mean.length; k++) {
    mean[k] = wa * T2a[k] + wb * T2b[k];
    diff[k] = wd * (T2a[k] - T2b[k]);
  }

  const spectrum = Array.from(singularValues(unfoldOutput(mean, dy, dx)));
  const noiseSpectrum = Array.from(singularValues(unfoldOutput(diff, dy, dx)));
  const spectrumInput = Array.from(singularValues(unfoldInput(mean, dy, dx)));
  const noiseSpectrumInput = Array.from(singularValues(unfoldInput(diff, dy, dx)));
  const noiseFloor = noiseSpectrum[0];
  if (!(noiseFloor > 0)) {
    throw new RangeError('selectRank: T2a and T2b are identical, so the noise level cannot be estimated (pass the T2 moments of two DISJOINT halves of the data)');
  }
  const threshold = factor * noiseFloor;
  let above = 0;
  while (above < spectrum.length && spectrum[above] > threshold) above++;
  const rank = Math.min(above, cap);
  const thrInput = factor * noiseSpectrumInput[0];
  let rankInput = 0;
  while (rankInput < spectrumInput.length && spectrumInput[rankInput] > thrInput) rankInput++;

  const warnings: string[] = [];
  if (rank === 0) {
    warnings.push(
      `no singular value of T2 stands above the noise (σ1 = ${fmt(spectrum[0])}, threshold ${fmt(threshold)} = ${factor} × noise floor ${fmt(noiseFloor)}): ` +
        'the outputs show no quadratic dependence on the current input at this sample size (an odd activation makes this moment vanish, docs/method.md §4 P3)',
    );
  }
  if (above > cap) {
    warnings.push(
      `${above} singular values of T2 are above the noise but the rank is capped at ${cap}` +
        (cap === Math.min(dx, dy) ? ` = min(dx, dy): the data may have more neurons than GLOREE can identify (dh ≤ dx and dh ≤ dy, docs/method.md §2)` : ` (maxRank)`),
    );
  }
  if (rankInput !== above && rank > 0) {
    warnings.push(`the input-mode unfolding of T2 has ${rankInput} singular values above its noise floor, the output mode ${above}: a component may be too weak in one mode`);
  }
  const marginKept = rank > 0 ? spectrum[rank - 1] / threshold : 0;
  const marginDropped = rank < spectrum.length ? spectrum[rank] / threshold : 0;
  const rule =
    `rank = number of singular values of the output-mode unfolding of T2 (dy × dx² = ${dy} × ${dx * dx}) above ${factor} × the noise floor ` +
    `(spectral norm of the split-half difference, ${fmt(noiseFloor)}), i.e. above ${fmt(threshold)}; capped at ${cap}` +
    (cap === Math.min(dx, dy) ? ' = min(dx, dy)' : '') +
    `. Spectrum: ${spectrum.map(fmt).join(', ')} → rank ${rank}.`;
  return {
    rank, spectrum, noiseSpectrum, noiseFloor, threshold, factor, cap, spectrumInput, noiseSpectrumInput, rankInput,
    marginKept, marginDropped, rule, T2: mean, warnings,
  };
}

/**
 * Activations as model parameters (docs/method.md §2, §10): parsing a spec, the polynomial view, the
 * symmetry group used by the metrics, and labels. Evaluation (σ, σ', σ'') is the RNN kernel's
 * (src/rnn/activation.ts), re-exported here.
 */
import type { Activation } from './params.js';
import {
  ACTIVATION_NAMES, activationKernel, derivativeCoefficients, horner, isNamedActivation, sigma, sigmaPrime, sigmaSecond,
  trimmedCoefficients, type ActivationName,
} from '../rnn/activation.js';
import { UserError } from '../io/errors.js';

export { derivativeCoefficients, horner, isNamedActivation } from '../rnn/activation.js';

/**
 * Polynomial coefficients c_0 … c_l (trailing zeros removed, c_l ≠ 0); linear gives [0, 1]. Throws a RangeError
 * for all-zero coefficients and for a non-polynomial activation (tanh, sigmoid, softplus).
 */
export function activationCoefficients(act: Activation): Float64Array {
  if (isNamedActivation(act)) {
    if (act.name === 'linear') return Float64Array.of(0, 1);
    throw new RangeError(`activation ${act.name} is not a polynomial (it has no coefficients)`);
  }
  return trimmedCoefficients(act.coefficients);
}

/** True for polynomial activations (linear included). */
export function isPolynomial(act: Activation): boolean {
  return !isNamedActivation(act) || act.name === 'linear';
}

/** Degree l of a polynomial σ (index of the highest non-zero coefficient); Infinity for tanh, sigmoid, softplus. */
export function activationDegree(act: Activation): number {
  return isPolynomial(act) ? activationCoefficients(act).length - 1 : Infinity;
}

/** σ, σ', σ'' of an activation (the kernel's evaluation). `coefficients` is empty for non-polynomials. */
export interface ActivationFunctions {
  readonly coefficients: Float64Array;
  readonly degree: number;
  sigma(z: number): number;
  sigmaPrime(z: number): number;
  sigmaSecond(z: number): number;
}

export function activationFunctions(act: Activation): ActivationFunctions {
  const k = activationKernel(act);
  return {
    coefficients: k.c,
    degree: activationDegree(act),
    sigma: (z) => sigma(k, z),
    sigmaPrime: (z) => sigmaPrime(k, z),
    sigmaSecond: (z) => sigmaSecond(k, z),
  };
}

/**
 * The symmetry group of σ used by the metrics (docs/method.md §2, §7):
 * - 'monomial': σ = c z^l, so σ(αz) = α^l σ(z) for every α ≠ 0 (per-neuron rescaling and sign; linear too);
 * - 'even' / 'odd': σ(−z) = ±σ(z), so α = −1 is a symmetry (tanh is odd);
 * - 'none': no per-neuron symmetry besides permutation (sigmoid, softplus).
 */
export function activationSymmetry(act: Activation): 'monomial' | 'even' | 'odd' | 'none' {
  if (isNamedActivation(act) && act.name !== 'linear') return act.name === 'tanh' ? 'odd' : 'none';
  const c = activationCoefficients(act);
  let nonzero = 0, even = true, odd = true;
  for (let m = 0; m < c.length; m++) {
    if (c[m] === 0) continue;
    nonzero++;
    if (m % 2 === 0) odd = false;
    else even = false;
  }
  if (nonzero === 1) return 'monomial';
  if (even) return 'even';
  if (odd) return 'odd';
  return 'none';
}

/** Same σ: the same name, or the same coefficients up to trailing zeros (linear = [0, 1]). */
export function activationsEqual(a: Activation, b: Activation): boolean {
  if (isPolynomial(a) !== isPolynomial(b)) return false;
  if (!isPolynomial(a)) return a.name === b.name;
  const ca = activationCoefficients(a), cb = activationCoefficients(b);
  return ca.length === cb.length && ca.every((v, m) => v === cb[m]);
}

/**
 * Parse an activation spec (a CLI flag value): a name (`tanh`, `sigmoid`, `softplus`, `linear`), `z2` (σ = z²),
 * `z3`, … `zN` for N ≥ 2, `square`, `cube`, or a comma-separated coefficient list `c0,c1,…,cl` such as
 * `0,0.1,0.5,1` (σ = 0.1z + 0.5z² + z³) of degree at least 2 (σ(z) = z is `linear`). Throws a UserError
 * naming the bad spec.
 */
export function activationFromSpec(spec: string): Activation {
  const s = spec.trim().toLowerCase();
  if ((ACTIVATION_NAMES as readonly string[]).includes(s)) return { name: s as ActivationName };
  if (s === 'square') return { coefficients: [0, 0, 1] };
  if (s === 'cube') return { coefficients: [0, 0, 0, 1] };
  const m = /^z\^?(\d+)$/.exec(s);
  let coefficients: number[];
  if (m) {
    const l = Number(m[1]);
    coefficients = new Array<number>(l + 1).fill(0);
    coefficients[l] = 1;
  } else {
    const parts = s.split(',');
    coefficients = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
    if (coefficients.some((c) => !Number.isFinite(c))) {
      throw new UserError(
        `invalid activation ${JSON.stringify(spec)}: expected ${ACTIVATION_NAMES.join(', ')}, z2, z3, … or comma-separated coefficients c0,c1,…,cl (e.g. 0,0.1,0.5,1)`,
      );
    }
  }
  let l = coefficients.length - 1;
  while (l >= 0 && coefficients[l] === 0) l--;
  if (l < 2) throw new UserError(`invalid activation ${JSON.stringify(spec)}: the degree must be at least 2, got ${Math.max(l, 0)} (σ(z) = z is "linear")`);
  return { coefficients: coefficients.slice(0, l + 1) };
}

/** Human-readable form, e.g. "z^2", "0.1 z + 0.5 z^2 + z^3" or "tanh". */
export function activationToString(act: Activation): string {
  if (isNamedActivation(act)) return act.name;
  const c = act.coefficients;
  const terms: string[] = [];
  for (let m = 0; m < c.length; m++) {
    if (c[m] === 0) continue;
    const mono = m === 0 ? '' : m === 1 ? 'z' : `z^${m}`;
    const coef = m > 0 && c[m] === 1 ? '' : m > 0 && c[m] === -1 ? '-' : String(c[m]);
    terms.push(m === 0 ? coef : coef === '' || coef === '-' ? coef + mono : `${coef} ${mono}`);
  }
  return terms.length ? terms.join(' + ').replace(/\+ -/g, '- ') : '0';
}

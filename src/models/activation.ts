/**
 * Polynomial activations σ(z) = Σ_m c_m z^m (DESIGN.md §2) and their derivatives, evaluated by Horner's rule.
 */
import type { Activation } from './params.js';
import { UserError } from '../io/errors.js';

/** Coefficients as a Float64Array with trailing zeros removed (c_0 … c_l, c_l ≠ 0); throws if all are zero. */
export function activationCoefficients(act: Activation): Float64Array {
  const c = act.coefficients;
  let l = c.length - 1;
  while (l >= 0 && c[l] === 0) l--;
  if (l < 0) throw new RangeError('activation: all coefficients are zero');
  const out = new Float64Array(l + 1);
  for (let m = 0; m <= l; m++) {
    if (!Number.isFinite(c[m])) throw new RangeError(`activation: coefficient c${m} = ${c[m]} is not finite`);
    out[m] = c[m];
  }
  return out;
}

/** Degree l of σ (index of the highest non-zero coefficient). */
export function activationDegree(act: Activation): number {
  return activationCoefficients(act).length - 1;
}

/** Coefficients of the derivative polynomial: (c_1, 2c_2, …, l c_l); [0] for a constant. */
export function derivativeCoefficients(c: ArrayLike<number>): Float64Array {
  if (c.length <= 1) return new Float64Array(1);
  const out = new Float64Array(c.length - 1);
  for (let m = 1; m < c.length; m++) out[m - 1] = m * c[m];
  return out;
}

/** Horner evaluation of Σ_m c_m z^m. */
export function horner(c: ArrayLike<number>, z: number): number {
  let v = 0;
  for (let m = c.length - 1; m >= 0; m--) v = v * z + c[m];
  return v;
}

/** σ, σ', σ'' of an activation, as closures over precomputed coefficient arrays. */
export interface ActivationFunctions {
  readonly coefficients: Float64Array;
  readonly degree: number;
  sigma(z: number): number;
  sigmaPrime(z: number): number;
  sigmaSecond(z: number): number;
}

export function activationFunctions(act: Activation): ActivationFunctions {
  const c = activationCoefficients(act);
  const d1 = derivativeCoefficients(c);
  const d2 = derivativeCoefficients(d1);
  return {
    coefficients: c,
    degree: c.length - 1,
    sigma: (z) => horner(c, z),
    sigmaPrime: (z) => horner(d1, z),
    sigmaSecond: (z) => horner(d2, z),
  };
}

/**
 * The symmetry group of σ used by the metrics (DESIGN.md §2, §7):
 * - 'monomial': σ = c z^l, so σ(αz) = α^l σ(z) for every α ≠ 0 (per-neuron rescaling and sign);
 * - 'even' / 'odd': only even / odd powers, so α = −1 is a symmetry (σ(−z) = ±σ(z));
 * - 'none': no per-neuron symmetry besides permutation.
 */
export function activationSymmetry(act: Activation): 'monomial' | 'even' | 'odd' | 'none' {
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

/**
 * Parse an activation spec (a CLI flag value): `z2` (σ = z²), `z3`, … `zN` for N ≥ 2, `square`, `cube`,
 * or a comma-separated coefficient list `c0,c1,…,cl` such as `0,0.1,0.5,1` (σ = 0.1z + 0.5z² + z³).
 * The degree must be at least 2 (DESIGN.md §2). Throws a UserError naming the bad spec.
 */
export function activationFromSpec(spec: string): Activation {
  const s = spec.trim().toLowerCase();
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
        `invalid activation ${JSON.stringify(spec)}: expected z2, z3, … or comma-separated coefficients c0,c1,…,cl (e.g. 0,0.1,0.5,1)`,
      );
    }
  }
  let l = coefficients.length - 1;
  while (l >= 0 && coefficients[l] === 0) l--;
  if (l < 2) throw new UserError(`invalid activation ${JSON.stringify(spec)}: the degree must be at least 2, got ${Math.max(l, 0)}`);
  return { coefficients: coefficients.slice(0, l + 1) };
}

/** Human-readable form, e.g. "z^2" or "0.1 z + 0.5 z^2 + z^3". */
export function activationToString(act: Activation): string {
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

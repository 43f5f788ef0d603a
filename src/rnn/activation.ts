/**
 * Activations σ of the RNN kernel (docs/method.md §2, §10) and the ONE way they are evaluated: σ, σ', σ''.
 *
 * - Polynomials σ(z) = Σ_m c_m z^m (`{coefficients: [c0, …, cl]}`), evaluated by Horner's rule from the
 *   leading coefficient; the pure square c₂z² (the common case) skips the loop (same bits as the loop).
 * - Named smooth activations (`{name}`): tanh, sigmoid σ(z) = 1/(1+e^{−z}), softplus σ(z) = log(1+e^z), and
 *   linear σ(z) = z (which is also the degree-1 polynomial [0, 1]).
 *
 * The kernel form (`ActivationKernel`) is a small monomorphic value type with precomputed derivative
 * coefficients, so hot loops call three plain functions (`sigma`, `sigmaPrime`, `sigmaSecond`) on it.
 */

/** Names of the built-in non-polynomial activations. */
export type ActivationName = 'tanh' | 'sigmoid' | 'softplus' | 'linear';
export const ACTIVATION_NAMES: readonly ActivationName[] = ['tanh', 'sigmoid', 'softplus', 'linear'];

/** Polynomial activation σ(z) = Σ_m c_m z^m; `coefficients[m] = c_m`. */
export interface PolynomialActivation {
  readonly coefficients: readonly number[];
  readonly name?: undefined;
}

/** A named smooth activation. */
export interface NamedActivation {
  readonly name: ActivationName;
  readonly coefficients?: undefined;
}

/** Elementwise activation of an RNN (docs/method.md §2): a polynomial or a named smooth function. */
export type Activation = PolynomialActivation | NamedActivation;

export function isNamedActivation(act: Activation): act is NamedActivation {
  return act.name !== undefined;
}

/** Kernel codes: 0 polynomial (Horner), 1 pure square, 2 tanh, 3 sigmoid, 4 softplus, 5 linear. */
const POLY = 0, SQUARE = 1, TANH = 2, SIGMOID = 3, SOFTPLUS = 4, LINEAR = 5;
/** Kernel code of the pure square c₂z² (hot loops inline it: `c[2] * z * z`, the same bits as `sigma`). */
export const SQUARE_CODE = SQUARE;
/** Kernel code of tanh (hot loops inline it: `Math.tanh(z)`, the same bits as `sigma`). */
export const TANH_CODE = TANH;

/** Precomputed evaluation form of an activation (see module comment). */
export interface ActivationKernel {
  readonly code: number;
  /** Polynomial coefficients c_0 … c_l (trailing zeros removed); [0, 1] for linear, empty for other names. */
  readonly c: Float64Array;
  /** Coefficients of σ' and σ'' (polynomials only). */
  readonly d1: Float64Array;
  readonly d2: Float64Array;
}

/** Coefficients of the derivative polynomial: (c_1, 2c_2, …, l c_l); [0] for a constant. */
export function derivativeCoefficients(c: ArrayLike<number>): Float64Array {
  if (c.length <= 1) return new Float64Array(1);
  const out = new Float64Array(c.length - 1);
  for (let m = 1; m < c.length; m++) out[m - 1] = m * c[m];
  return out;
}

/** Polynomial coefficients with trailing zeros removed; throws a RangeError if empty, all zero or non-finite. */
export function trimmedCoefficients(coefficients: readonly number[]): Float64Array {
  let l = coefficients.length - 1;
  while (l >= 0 && coefficients[l] === 0) l--;
  if (l < 0) throw new RangeError('activation: all coefficients are zero');
  const out = new Float64Array(l + 1);
  for (let m = 0; m <= l; m++) {
    if (!Number.isFinite(coefficients[m])) throw new RangeError(`activation: coefficient c${m} = ${coefficients[m]} is not finite`);
    out[m] = coefficients[m];
  }
  return out;
}

/** The kernel form of an activation; throws a RangeError for an unknown name or bad coefficients. */
export function activationKernel(act: Activation): ActivationKernel {
  if (isNamedActivation(act)) {
    const code = { tanh: TANH, sigmoid: SIGMOID, softplus: SOFTPLUS, linear: LINEAR }[act.name];
    if (code === undefined) throw new RangeError(`activation: unknown name ${JSON.stringify(act.name)}, expected one of ${ACTIVATION_NAMES.join(', ')}`);
    const c = code === LINEAR ? Float64Array.of(0, 1) : new Float64Array(0);
    return { code, c, d1: derivativeCoefficients(c), d2: derivativeCoefficients(derivativeCoefficients(c)) };
  }
  const c = trimmedCoefficients(act.coefficients);
  const d1 = derivativeCoefficients(c);
  const square = c.length === 3 && c[0] === 0 && c[1] === 0;
  return { code: square ? SQUARE : POLY, c, d1, d2: derivativeCoefficients(d1) };
}

/** Horner evaluation of Σ_m c_m z^m from the leading coefficient (the one polynomial evaluation). */
export function horner(c: ArrayLike<number>, z: number): number {
  const l = c.length - 1;
  if (l < 0) return 0;
  let v = c[l];
  for (let k = l - 1; k >= 0; k--) v = v * z + c[k];
  return v;
}

/** Logistic function, evaluated without overflow for large |z|. */
function logistic(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** σ(z). */
export function sigma(k: ActivationKernel, z: number): number {
  switch (k.code) {
    case SQUARE: return k.c[2] * z * z;
    case POLY: return horner(k.c, z);
    case TANH: return Math.tanh(z);
    case SIGMOID: return logistic(z);
    // log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}): no overflow, full precision for z ≪ 0.
    case SOFTPLUS: return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
    default: return z;
  }
}

/** σ'(z). */
export function sigmaPrime(k: ActivationKernel, z: number): number {
  switch (k.code) {
    case SQUARE:
    case POLY: return horner(k.d1, z);
    case TANH: { const t = Math.tanh(z); return 1 - t * t; }
    case SIGMOID: { const s = logistic(z); return s * (1 - s); }
    case SOFTPLUS: return logistic(z);
    default: return 1;
  }
}

/**
 * σ'(z) given s = σ(z) as computed by `sigma` (a stored state): for tanh 1 − s² and for the sigmoid s(1 − s), the
 * same formulas `sigmaPrime` evaluates after recomputing s, so the same bits without a second Math.tanh / exp;
 * every other σ through `sigmaPrime(k, z)`.
 */
export function sigmaPrimeAt(k: ActivationKernel, z: number, s: number): number {
  if (k.code === TANH) return 1 - s * s;
  if (k.code === SIGMOID) return s * (1 - s);
  return sigmaPrime(k, z);
}

/** σ''(z). */
export function sigmaSecond(k: ActivationKernel, z: number): number {
  switch (k.code) {
    case SQUARE:
    case POLY: return horner(k.d2, z);
    case TANH: { const t = Math.tanh(z); return -2 * t * (1 - t * t); }
    case SIGMOID: { const s = logistic(z); return s * (1 - s) * (1 - 2 * s); }
    case SOFTPLUS: { const s = logistic(z); return s * (1 - s); }
    default: return 0;
  }
}

/** True when σ is bounded (tanh, sigmoid): such a recursion cannot blow up. */
export function isBounded(k: ActivationKernel): boolean {
  return k.code === TANH || k.code === SIGMOID;
}

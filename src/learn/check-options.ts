import { OptionError } from '../io/errors.js';
import { activationFromSpec } from '../models/activation.js';
import { ACTIVATION_NAMES, type Activation } from '../rnn/activation.js';

/**
 * Validation of `fitRNN`'s options where they enter the library (the estimator API's boundary): a wrong option is
 * an OptionError naming it (the CLI renders it with its flag name), never a TypeError or RangeError from deep in a
 * learner. Options the learners check against the data (hidden against dx, dy; inputModel against dx) are checked
 * there.
 */

/**
 * An activation given as the CLI spells it (`'tanh'`, `'z2'`, `'0,0.1,0.5,1'`, src/models/activation.ts
 * `activationFromSpec`) or as an object (`{ name: 'tanh' }`, `{ coefficients: [0, 0, 1] }`), checked and returned
 * as an object.
 */
export function checkActivation(value: Activation | string): Activation {
  const bad = (why: string): never => {
    throw new OptionError('activation', value, (n) => `${n('activation')}: ${why}`);
  };
  if (typeof value === 'string') {
    try {
      return activationFromSpec(value);
    } catch (e) {
      return bad((e as Error).message);
    }
  }
  if (value === null || typeof value !== 'object') return bad(`expected a name (${ACTIVATION_NAMES.join(', ')}), a spec such as "z2", or { coefficients: [c0, c1, …] }; got ${String(value)}`);
  const v = value as { name?: unknown; coefficients?: unknown };
  if (v.name !== undefined) {
    if (!(ACTIVATION_NAMES as readonly unknown[]).includes(v.name)) return bad(`unknown name ${JSON.stringify(v.name)}; expected one of ${ACTIVATION_NAMES.join(', ')}`);
    if (v.coefficients !== undefined) return bad('give either a name or coefficients, not both');
    return value;
  }
  const c = v.coefficients;
  if (!Array.isArray(c) && !ArrayBuffer.isView(c)) return bad('expected { name } or { coefficients: [c0, c1, …] }');
  const cs = Array.from(c as ArrayLike<unknown>);
  const i = cs.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (i >= 0) return bad(`coefficient c${i} = ${String(cs[i])} is not a finite number`);
  let l = cs.length - 1;
  while (l >= 0 && cs[l] === 0) l--;
  // Degree 1 is the named 'linear' learner; degree ≤ 0 is no network (docs/method.md §2).
  if (l < 2) return bad(`the degree must be at least 2, got ${Math.max(l, 0)} (σ(z) = z is { name: 'linear' })`);
  return { coefficients: cs as number[] };
}

/** A whole number ≥ `min`, or an OptionError naming the option. */
function checkInteger(option: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new OptionError(option, value, (n) => `${n(option)} must be an integer ≥ ${min}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
}

/** The options `fitRNN` reads directly, checked; returns the activation as an object (undefined: the default σ = z²). */
export function checkFitOptions(o: {
  kind?: unknown;
  activation?: Activation | string;
  seed?: unknown;
  backward?: unknown;
  refineMaxRows?: unknown;
  controlVariateMaxRows?: unknown;
  workers?: unknown;
  inputOrder?: unknown;
}): Activation | undefined {
  if (o.kind !== undefined && o.kind !== 'iornn' && o.kind !== 'brnn') {
    throw new OptionError('kind', o.kind, (n) => `${n('kind')} must be "iornn" or "brnn", got ${JSON.stringify(o.kind)}`);
  }
  if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isFinite(o.seed))) {
    throw new OptionError('seed', o.seed, (n) => `${n('seed')} must be a finite number, got ${String(o.seed)}`);
  }
  checkInteger('backward', o.backward, 0);
  checkInteger('refineMaxRows', o.refineMaxRows, 1);
  checkInteger('controlVariateMaxRows', o.controlVariateMaxRows, 1);
  checkInteger('workers', o.workers, 1);
  checkInteger('inputOrder', o.inputOrder, 0);
  return o.activation === undefined ? undefined : checkActivation(o.activation);
}

/**
 * Synthetic data: Gaussian VAR(1) input sequences (docs/method.md §3), planted IO-RNN / BRNN models (src/models/planted.ts) in the
 * stable regime of §6, noisy outputs, and the built-in scenarios used by `gloree simulate` and `gloree demo`.
 */
import { Matrix } from '../linalg/matrix.js';
import { cholesky } from '../linalg/cholesky.js';
import { solveDiscreteLyapunov } from '../linalg/lyapunov.js';
import { Rng } from '../random/rng.js';
import { makeChunk, type SequenceChunk } from '../io/dataset.js';
import type { BRNNParams, IORNNParams } from './params.js';
import { randomBRNN, randomIORNN } from './planted.js';
import { activationFromSpec } from './activation.js';
import { predictIORNN } from './iornn.js';
import { predictBRNN } from './brnn.js';
import { UserError } from '../io/errors.js';

// ---------------------------------------------------------------------------------------------
// Inputs

export interface SimulateInputsOptions {
  dx: number;
  nSeq: number;
  /** Fixed length, or [min, max] (inclusive) drawn uniformly per sequence. */
  seqLength: number | [number, number];
  /** Mean μ (length dx); default 0. */
  mu?: ArrayLike<number>;
  /** VAR matrix F (dx×dx, spectral radius < 1); default ρ I. */
  F?: Matrix;
  /** Innovation covariance Q (dx×dx, SPD); default σ²(1−ρ²) I so that the stationary covariance is σ² I. */
  Q?: Matrix;
  /** Shortcut for F = ρ I (default 0: i.i.d. inputs). Ignored when F is given. */
  rho?: number;
  /**
   * Shortcut for the stationary standard deviation σ_x of every input coordinate (default 1): with F = ρI,
   * Q = σ²(1−ρ²) I. Ignored when Q is given. σ_x is the quantity in §6's stability rule.
   */
  sigma?: number;
  seed: number;
}

/** F and Q of the options, with the ρ/σ shortcuts resolved. */
export function resolveVAR(opts: Pick<SimulateInputsOptions, 'dx' | 'F' | 'Q' | 'rho' | 'sigma'>): { F: Matrix; Q: Matrix } {
  const { dx } = opts;
  const rho = opts.rho ?? 0;
  const sigma = opts.sigma ?? 1;
  if (!(Math.abs(rho) < 1)) throw new RangeError(`simulateInputs: rho must be in (-1, 1), got ${rho}`);
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new RangeError(`simulateInputs: sigma must be positive, got ${sigma}`);
  const F = opts.F ?? Matrix.diag(new Array<number>(dx).fill(rho));
  const Q = opts.Q ?? Matrix.diag(new Array<number>(dx).fill(sigma * sigma * (1 - rho * rho)));
  if (F.rows !== dx || F.cols !== dx) throw new RangeError(`simulateInputs: F must be ${dx}x${dx}, got ${F.rows}x${F.cols}`);
  if (Q.rows !== dx || Q.cols !== dx) throw new RangeError(`simulateInputs: Q must be ${dx}x${dx}, got ${Q.rows}x${Q.cols}`);
  return { F, Q };
}

function checkSeqLength(seqLength: number | [number, number]): [number, number] {
  const [lo, hi] = typeof seqLength === 'number' ? [seqLength, seqLength] : seqLength;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi < lo) {
    throw new RangeError(`simulateInputs: seqLength must be a positive integer or [min, max] with 1 ≤ min ≤ max, got ${JSON.stringify(seqLength)}`);
  }
  return [lo, hi];
}

/**
 * Draw nSeq independent VAR(1) input sequences (docs/method.md §3): x_1 ~ N(μ, Σ) with the stationary Σ solving
 * Σ = FΣFᵀ + Q, then x_t = μ + F(x_{t−1} − μ) + ε_t, ε_t ~ N(0, Q). Returns a chunk with dy = 0 (y empty).
 */
export function simulateInputs(opts: SimulateInputsOptions): SequenceChunk {
  const { dx, nSeq, seed } = opts;
  if (!Number.isInteger(dx) || dx < 1) throw new RangeError(`simulateInputs: dx must be a positive integer, got ${dx}`);
  if (!Number.isInteger(nSeq) || nSeq < 1) throw new RangeError(`simulateInputs: nSeq must be a positive integer, got ${nSeq}`);
  const [lo, hi] = checkSeqLength(opts.seqLength);
  const { F, Q } = resolveVAR(opts);
  const mu = opts.mu ? Float64Array.from(opts.mu) : new Float64Array(dx);
  if (mu.length !== dx) throw new RangeError(`simulateInputs: mu has length ${mu.length}, expected ${dx}`);
  const Sigma = solveDiscreteLyapunov(F, Q);
  const Ls = cholesky(symmetrise(Sigma)).data;
  const Lq = cholesky(symmetrise(Q)).data;
  const Fd = F.data;

  const rng = new Rng(seed);
  const lengths = new Int32Array(nSeq);
  let rows = 0;
  for (let s = 0; s < nSeq; s++) {
    lengths[s] = lo === hi ? lo : lo + rng.int(hi - lo + 1);
    rows += lengths[s];
  }
  const x = new Float64Array(rows * dx);
  const e = new Float64Array(dx);
  const prev = new Float64Array(dx);
  let r = 0;
  for (let s = 0; s < nSeq; s++) {
    for (let t = 0; t < lengths[s]; t++, r++) {
      rng.normalArray(dx, e);
      const L = t === 0 ? Ls : Lq;
      const o = r * dx;
      for (let i = 0; i < dx; i++) {
        let v = 0;
        for (let k = 0; k <= i; k++) v += L[i * dx + k] * e[k];
        if (t > 0) for (let k = 0; k < dx; k++) v += Fd[i * dx + k] * prev[k];
        x[o + i] = v;
      }
      for (let i = 0; i < dx; i++) {
        prev[i] = x[o + i]; // centred state
        x[o + i] += mu[i];
      }
    }
  }
  return makeChunk(dx, 0, x, new Float64Array(0), lengths);
}

function symmetrise(a: Matrix): Matrix {
  const n = a.rows;
  const out = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out.data[i * n + j] = 0.5 * (a.data[i * n + j] + a.data[j * n + i]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Outputs

export interface SimulateOutputOptions {
  /** Standard deviation of the i.i.d. Gaussian output noise (default 0). */
  noise?: number;
  seed?: number;
  blowUpThreshold?: number;
}

function withOutputs(inputs: SequenceChunk, clean: Float64Array, dy: number, opts: SimulateOutputOptions): SequenceChunk {
  const noise = opts.noise ?? 0;
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new RangeError(`simulate: noise must be ≥ 0, got ${noise}`);
  const y = clean;
  if (noise > 0) {
    const rng = new Rng(opts.seed ?? 0);
    for (let i = 0; i < y.length; i++) y[i] += noise * rng.normal();
  }
  return makeChunk(inputs.dx, dy, inputs.x, y, inputs.lengths);
}

/** Outputs y_t = A2ᵀh_t + b + noise·N(0, I) of an IO-RNN on the given inputs (x shared, not copied). */
export function simulateIORNN(params: IORNNParams, inputs: SequenceChunk, opts: SimulateOutputOptions = {}): SequenceChunk {
  const clean = predictIORNN(params, inputs, { blowUpThreshold: opts.blowUpThreshold });
  return withOutputs(inputs, clean, params.A2.cols, opts);
}

/** Outputs of a BRNN on the given inputs, plus Gaussian noise. */
export function simulateBRNN(params: BRNNParams, inputs: SequenceChunk, opts: SimulateOutputOptions = {}): SequenceChunk {
  const clean = predictBRNN(params, inputs, { blowUpThreshold: opts.blowUpThreshold });
  return withOutputs(inputs, clean, params.A2.cols, opts);
}

// ---------------------------------------------------------------------------------------------
// Planted models (src/models/planted.ts), re-exported: importers of simulate.js keep working.

export { spectralNorm } from '../linalg/norms.js';
export { randomIORNN, randomBRNN, type RandomIORNNOptions, type RandomBRNNOptions } from './planted.js';

// ---------------------------------------------------------------------------------------------
// Scenarios

/** JSON-able description of a synthetic data set (`gloree simulate --scenario`). */
export interface Scenario {
  kind: 'iornn' | 'brnn';
  dx: number;
  /** Forward hidden neurons. */
  dh: number;
  /** Backward neurons (BRNN only). */
  dz?: number;
  dy: number;
  /** VAR(1) input with F = ρI and stationary standard deviation σ per coordinate. */
  input: { rho: number; sigma: number };
  /** ‖U‖₂ (and ‖V‖₂ for a BRNN). */
  uNorm: number;
  /** Output noise standard deviation. */
  noise: number;
  /** Sequence length, fixed or [min, max]. */
  seqLength: number | [number, number];
  seed: number;
  /** Default number of sequences (default 5000). */
  nSeq?: number;
  /** Activation spec ('z2', 'z3', '0,0.1,0.5,1', 'tanh', 'sigmoid', 'softplus', 'linear') or coefficient list; default 'z2'. */
  activation?: string | number[];
  description?: string;
}

/**
 * Built-in scenarios. All are inside §6's stable regime: ‖U‖₂ (5.3 σ_x)² = 0.3 · 2.12² ≈ 1.35 ≲ 3 with
 * σ_x = 0.4 and unit-norm rows of A1.
 */
export type ScenarioName = 'default' | 'iid' | 'rect' | 'brnn' | 'cubic' | 'scalar';

// The named keys let `SCENARIOS.default` type-check as a Scenario under noUncheckedIndexedAccess; the string index
// keeps `SCENARIOS[name]` for names read at run time (check with Object.hasOwn first).
export const SCENARIOS: Record<ScenarioName, Scenario> & Record<string, Scenario> = {
  default: {
    kind: 'iornn', dx: 4, dh: 4, dy: 4, input: { rho: 0.6, sigma: 0.4 }, uNorm: 0.3, noise: 0.05, seqLength: 20, seed: 1,
    description: 'IO-RNN, dx = dy = dh = 4, σ = z², VAR(1) inputs ρ = 0.6, σ_x = 0.4, ‖U‖₂ = 0.3',
  },
  iid: {
    kind: 'iornn', dx: 4, dh: 4, dy: 4, input: { rho: 0, sigma: 0.4 }, uNorm: 0.3, noise: 0.05, seqLength: 20, seed: 2,
    description: 'IO-RNN as default, i.i.d. Gaussian inputs',
  },
  rect: {
    kind: 'iornn', dx: 6, dh: 3, dy: 5, input: { rho: 0.6, sigma: 0.4 }, uNorm: 0.3, noise: 0.05, seqLength: 20, seed: 3,
    description: 'IO-RNN, dx = 6, dy = 5, dh = 3',
  },
  brnn: {
    kind: 'brnn', dx: 6, dh: 2, dz: 2, dy: 6, input: { rho: 0.6, sigma: 0.4 }, uNorm: 0.25, noise: 0.05, seqLength: 20, seed: 4,
    description: 'BRNN, dx = dy = 6, 2 forward + 2 backward neurons, ‖U‖₂ = ‖V‖₂ = 0.25',
  },
  cubic: {
    kind: 'iornn', dx: 5, dh: 3, dy: 5, input: { rho: 0.5, sigma: 0.35 }, uNorm: 0.15, noise: 0.05, seqLength: 20, seed: 5,
    activation: [0, 0.1, 0.5, 1],
    description: 'IO-RNN, dx = dy = 5, dh = 3, σ = z³ + 0.5z² + 0.1z, VAR(1) inputs ρ = 0.5, σ_x = 0.35, ‖U‖₂ = 0.15 (§6: 0.15·(5.3·0.35)² ≈ 0.5 ≲ 1)',
  },
  scalar: {
    kind: 'iornn', dx: 5, dh: 3, dy: 1, input: { rho: 0.5, sigma: 0.35 }, uNorm: 0.15, noise: 0.05, seqLength: 20, seed: 9,
    activation: 'z3',
    description: 'IO-RNN with scalar output, dx = 5, dh = 3, σ = z³ (App. E.2)',
  },
};

/**
 * Validate a parsed JSON scenario (a UserError names the file and the bad key). Required: dx, dh, dy (and dz for
 * kind "brnn"); defaults: kind "iornn", input {rho: 0, sigma: 1}, uNorm 0.3, noise 0, seqLength 20, seed 1.
 * Unknown keys are rejected (they are usually typos).
 */
export function scenarioFromJSON(obj: unknown, fileName = 'scenario'): Scenario {
  const fail = (key: string, msg: string): never => {
    throw new UserError(`${fileName}: key ${JSON.stringify(key)} ${msg}`);
  };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UserError(`${fileName}: expected a JSON object`);
  const o = obj as Record<string, unknown>;
  const posInt = (key: string, optional = false): number | undefined => {
    const v = o[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(key, `must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const num = (key: string, v: unknown, lo: number, hi: number, loOpen = false, hiOpen = false): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (loOpen ? v <= lo : v < lo) || (hiOpen ? v >= hi : v > hi)) {
      fail(key, `must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  const kind = o.kind ?? 'iornn';
  if (kind !== 'iornn' && kind !== 'brnn') fail('kind', `must be "iornn" or "brnn", got ${JSON.stringify(kind)}`);
  const dx = posInt('dx')!, dh = posInt('dh')!, dy = posInt('dy')!;
  const dz = posInt('dz', kind === 'iornn');
  if (kind === 'iornn' && o.dz !== undefined) fail('dz', 'is only allowed for kind "brnn"');
  const inp = o.input ?? { rho: 0, sigma: 1 };
  if (typeof inp !== 'object' || inp === null || Array.isArray(inp)) fail('input', 'must be an object {"rho": …, "sigma": …}');
  const ir = inp as Record<string, unknown>;
  const rho = num('input.rho', ir.rho ?? 0, -1, 1, true, true);
  const sigma = num('input.sigma', ir.sigma ?? 1, 0, Infinity, true, true);
  const uNorm = num('uNorm', o.uNorm ?? 0.3, 0, Infinity, false, true);
  const noise = num('noise', o.noise ?? 0, 0, Infinity, false, true);
  let seqLength: number | [number, number];
  const sl = o.seqLength ?? 20;
  if (typeof sl === 'number' && Number.isInteger(sl) && sl >= 1) seqLength = sl;
  else if (Array.isArray(sl) && sl.length === 2 && sl.every((v) => Number.isInteger(v) && v >= 1) && sl[0] <= sl[1]) seqLength = [sl[0], sl[1]];
  else return fail('seqLength', `must be a positive integer or [min, max], got ${JSON.stringify(sl)}`);
  const seed = o.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) fail('seed', `must be an integer, got ${JSON.stringify(seed)}`);
  const nSeq = posInt('nSeq', true);
  let activation: string | number[] | undefined;
  if (o.activation !== undefined) {
    const a = o.activation;
    try {
      if (typeof a === 'string') activationFromSpec(a);
      else if (Array.isArray(a) && a.every((v) => typeof v === 'number')) activationFromSpec(a.join(','));
      else throw new UserError('bad type');
    } catch {
      fail('activation', `must be a spec such as "z2", "tanh", "sigmoid", "softplus", "linear" or a coefficient list [c0, c1, …] of degree ≥ 2, got ${JSON.stringify(a)}`);
    }
    activation = a as string | number[];
  }
  if (o.description !== undefined && typeof o.description !== 'string') fail('description', 'must be a string');
  const known = new Set(['kind', 'dx', 'dh', 'dz', 'dy', 'input', 'uNorm', 'noise', 'seqLength', 'seed', 'nSeq', 'activation', 'description']);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(k, `is not a scenario key (expected one of: ${[...known].join(', ')})`);
  const s: Scenario = { kind: kind as 'iornn' | 'brnn', dx, dh, dy, input: { rho, sigma }, uNorm, noise, seqLength, seed: seed as number };
  if (dz !== undefined) s.dz = dz;
  if (nSeq !== undefined) s.nSeq = nSeq;
  if (activation !== undefined) s.activation = activation;
  if (o.description !== undefined) s.description = o.description as string;
  return s;
}

/** The planted model of a scenario (deterministic in scenario.seed). */
export function scenarioModel(s: Scenario): IORNNParams | BRNNParams {
  const activation = s.activation === undefined ? undefined : typeof s.activation === 'string' ? s.activation : activationFromSpec(s.activation.join(','));
  if (s.kind === 'brnn') {
    if (s.dz === undefined) throw new RangeError('scenario: a BRNN needs dz');
    return randomBRNN({ dx: s.dx, dh: s.dh, dz: s.dz, dy: s.dy, uNorm: s.uNorm, seed: s.seed, activation });
  }
  return randomIORNN({ dx: s.dx, dh: s.dh, dy: s.dy, uNorm: s.uNorm, seed: s.seed, activation });
}

export interface ScenarioData {
  /** The planted model. */
  model: IORNNParams | BRNNParams;
  /** Inputs and noisy outputs. */
  data: SequenceChunk;
  /** Noise-free outputs A2ᵀh_t (rows×dy), the target of §7's NMSE. */
  clean: Float64Array;
}

/**
 * Simulate a scenario: the planted model from `scenario.seed`; inputs and output noise from two streams derived
 * from `opts.seed ?? scenario.seed` (so `opts.seed` draws new data from the same model); `opts.nSeq` overrides
 * the number of sequences.
 */
export function simulateScenario(s: Scenario, opts: { nSeq?: number; seed?: number } = {}): ScenarioData {
  const model = scenarioModel(s);
  const dataSeed = opts.seed ?? s.seed;
  const inputs = simulateInputs({
    dx: s.dx, nSeq: opts.nSeq ?? s.nSeq ?? 5000, seqLength: s.seqLength, rho: s.input.rho, sigma: s.input.sigma,
    seed: dataSeed * 7919 + 1,
  });
  const clean = model.kind === 'brnn' ? predictBRNN(model, inputs) : predictIORNN(model, inputs);
  const y = clean.slice();
  if (s.noise > 0) {
    const rng = new Rng(dataSeed * 7919 + 2);
    for (let i = 0; i < y.length; i++) y[i] += s.noise * rng.normal();
  }
  return { model, data: makeChunk(s.dx, s.dy, inputs.x, y, inputs.lengths), clean };
}

/**
 * Model files (docs/method.md §8): JSON with "format": "gloree-model", "version": 1, "kind": "iornn" | "brnn",
 * "activation": {"coefficients": [c0, c1, …]} or {"name": "tanh" | "sigmoid" | "softplus" | "linear"}, nested row-major "A1", "U", "A2" (BRNN adds "B1", "V"),
 * optional "b", "inputShift" (subtracted from the inputs before the recursion: the unfolded part of a fit's
 * standardisation), "inputModel", "diagnostics". Numbers are written in JavaScript's shortest round-trip form,
 * so save → load is bit-exact (except that −0 is written as 0).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Matrix } from '../linalg/matrix.js';
import type { Activation, BRNNParams, IORNNParams, RNNParams } from './params.js';
import { ACTIVATION_NAMES, type ActivationName } from '../rnn/activation.js';
import { UserError } from '../io/errors.js';
import { writeFileAtomic } from '../io/atomic.js';

export const MODEL_FORMAT = 'gloree-model';
export const MODEL_VERSION = 1;

export interface ModelExtras {
  /** The fitted input model (JSON-able; written verbatim). */
  inputModel?: unknown;
  /** Diagnostics of the fit (JSON-able; written verbatim). */
  diagnostics?: unknown;
}

export interface LoadedModel extends ModelExtras {
  params: RNNParams;
}

/** The JSON object of a model file (key order: format, version, kind, activation, matrices, b, extras). */
export function modelToJSON(params: RNNParams, extras: ModelExtras = {}): Record<string, unknown> {
  const mat = (m: Matrix, key: string): number[][] => {
    for (let i = 0; i < m.data.length; i++) {
      if (!Number.isFinite(m.data[i])) throw new RangeError(`modelToJSON: ${key} has a non-finite entry at [${Math.floor(i / m.cols)}][${i % m.cols}]`);
    }
    return m.toArray();
  };
  const act = (a: Activation, key: string) => {
    if (a.name !== undefined) {
      if (!ACTIVATION_NAMES.includes(a.name)) throw new RangeError(`modelToJSON: ${key} has an unknown name ${JSON.stringify(a.name)}`);
      return { name: a.name };
    }
    if (!a.coefficients.every(Number.isFinite)) throw new RangeError(`modelToJSON: ${key} has a non-finite coefficient`);
    return { coefficients: [...a.coefficients] };
  };
  const o: Record<string, unknown> = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    kind: params.kind,
    activation: act(params.activation, 'activation'),
    A1: mat(params.A1, 'A1'),
    U: mat(params.U, 'U'),
  };
  if (params.kind === 'brnn') {
    o.B1 = mat(params.B1, 'B1');
    o.V = mat(params.V, 'V');
    if (params.activationBackward) o.activationBackward = act(params.activationBackward, 'activationBackward');
  }
  o.A2 = mat(params.A2, 'A2');
  if (params.b) {
    if (!Array.from(params.b).every(Number.isFinite)) throw new RangeError('modelToJSON: b has a non-finite entry');
    o.b = Array.from(params.b);
  }
  if (params.inputShift) {
    if (!Array.from(params.inputShift).every(Number.isFinite)) throw new RangeError('modelToJSON: inputShift has a non-finite entry');
    o.inputShift = Array.from(params.inputShift);
  }
  if (extras.inputModel !== undefined) o.inputModel = extras.inputModel;
  if (extras.diagnostics !== undefined) o.diagnostics = extras.diagnostics;
  return o;
}

/**
 * Pretty JSON text: one line per matrix row, numeric arrays inline (strings are never re-spaced). Matrix and
 * typed-array values become nested / plain arrays; non-finite numbers become null, as in JSON.stringify.
 */
export function formatJSON(value: unknown, indent = ''): string {
  const inner = indent + '  ';
  // Typed arrays and Matrix values (e.g. inside "inputModel") are written as plain (nested) arrays.
  if (value instanceof Matrix) return formatJSON(value.toArray(), indent);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return formatJSON(Array.from(value as unknown as ArrayLike<number>), indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v === 'number' || v === null || typeof v === 'boolean')) return '[' + value.map((v) => JSON.stringify(v)).join(', ') + ']';
    return '[\n' + value.map((v) => inner + formatJSON(v, inner)).join(',\n') + '\n' + indent + ']';
  }
  if (value !== null && typeof value === 'object') {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return formatJSON(JSON.parse(JSON.stringify(value)), indent);
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined && typeof v !== 'function');
    if (entries.length === 0) return '{}';
    return '{\n' + entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJSON(v, inner)}`).join(',\n') + '\n' + indent + '}';
  }
  const s = JSON.stringify(value);
  return s === undefined ? 'null' : s;
}

/** Write a model file atomically (temp file + fsync + rename). */
export async function saveModel(file: string, params: RNNParams, extras: ModelExtras = {}): Promise<void> {
  await writeFileAtomic(file, formatJSON(modelToJSON(params, extras)) + '\n');
}

/** Read and validate a model file; every problem is a UserError naming the file. */
export function loadModel(file: string): LoadedModel {
  const name = path.basename(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read model file (${code === 'ENOENT' ? 'no such file' : (e as Error).message})`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${name}: not valid JSON (${(e as Error).message})`);
  }
  return modelFromJSON(obj, name);
}

/**
 * Validate a parsed model object and build its parameters. Checks format/version/kind, that every matrix is
 * a rectangular array of finite numbers, and that the shapes agree (§2): A1 dh×dx, U dh×dh, A2 dh×dy
 * (BRNN: B1 dz×dx, V dz×dz, A2 (dh+dz)×dy), b length dy. Errors: `model.json: key "U" must be 4×4 (dh×dh), got 4×3`.
 */
/** A JSON value as quoted in a message; ±Infinity can only come from a literal like 1e999 (JSON has no Infinity). */
function shownValue(x: unknown): string {
  if (typeof x === 'number' && !Number.isFinite(x)) return `${x > 0 ? '' : '-'}Infinity (a number literal beyond the float64 range of ±1.8e308, such as 1e999)`;
  return JSON.stringify(x);
}

export function modelFromJSON(obj: unknown, fileName = 'model'): LoadedModel {
  const fail = (msg: string): never => {
    throw new UserError(`${fileName}: ${msg}`);
  };
  const keyFail = (key: string, msg: string): never => fail(`key ${JSON.stringify(key)} ${msg}`);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail('expected a JSON object (a gloree model file)');
  const o = obj as Record<string, unknown>;
  if (o.format !== MODEL_FORMAT) keyFail('format', `must be ${JSON.stringify(MODEL_FORMAT)}, got ${JSON.stringify(o.format)} (is this a gloree model file?)`);
  if (o.version !== MODEL_VERSION) keyFail('version', `must be ${MODEL_VERSION}, got ${JSON.stringify(o.version)} (file written by a newer gloree?)`);
  if (o.kind !== 'iornn' && o.kind !== 'brnn') keyFail('kind', `must be "iornn" or "brnn", got ${JSON.stringify(o.kind)}`);
  const kind = o.kind as 'iornn' | 'brnn';

  // A BRNN may have no forward (or no backward) neurons: then A1 and U (or B1 and V) are [].
  const matrix = (key: string, allowEmpty = false): Matrix => {
    const v = o[key];
    if (v === undefined) return fail(`missing key ${JSON.stringify(key)}`);
    if (allowEmpty && Array.isArray(v) && v.length === 0) return new Matrix(0, 0);
    if (!Array.isArray(v) || v.length === 0) return keyFail(key, 'must be a non-empty array of rows (nested arrays of numbers)');
    const rows = v.length;
    if (!Array.isArray(v[0])) return keyFail(key, 'must be an array of rows (nested arrays of numbers)');
    const cols = (v[0] as unknown[]).length;
    if (cols === 0) return keyFail(key, 'has an empty first row');
    const m = new Matrix(rows, cols);
    for (let i = 0; i < rows; i++) {
      const r = v[i];
      if (!Array.isArray(r)) return keyFail(key, `row ${i} is not an array`);
      if (r.length !== cols) return keyFail(key, `is ragged: row ${i} has ${r.length} entries, row 0 has ${cols}`);
      for (let j = 0; j < cols; j++) {
        const x = r[j];
        if (typeof x !== 'number' || !Number.isFinite(x)) return keyFail(key, `entry [${i}][${j}] must be a finite number, got ${shownValue(x)}`);
        m.data[i * cols + j] = x;
      }
    }
    return m;
  };
  const shape = (m: Matrix, key: string, r: number, c: number, what: string): void => {
    if (m.rows !== r || m.cols !== c) keyFail(key, `must be ${r}×${c} (${what}), got ${m.rows}×${m.cols}`);
  };
  const activation = (key: string, required: boolean): Activation | undefined => {
    const a = o[key];
    if (a === undefined) return required ? fail(`missing key ${JSON.stringify(key)}`) : undefined;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return keyFail(key, 'must be an object {"coefficients": [c0, c1, …]} or {"name": "tanh"}');
    const named = (a as Record<string, unknown>).name;
    if (named !== undefined) {
      if (typeof named !== 'string' || !(ACTIVATION_NAMES as readonly string[]).includes(named)) {
        return keyFail(`${key}.name`, `must be one of ${ACTIVATION_NAMES.map((n) => JSON.stringify(n)).join(', ')}, got ${JSON.stringify(named)}`);
      }
      if ((a as Record<string, unknown>).coefficients !== undefined) return keyFail(key, 'has both "name" and "coefficients"; give one');
      return { name: named as ActivationName };
    }
    const c = (a as Record<string, unknown>).coefficients;
    if (!Array.isArray(c) || c.length === 0) return keyFail(`${key}.coefficients`, 'must be a non-empty array of numbers');
    for (let m = 0; m < c.length; m++) {
      if (typeof c[m] !== 'number' || !Number.isFinite(c[m])) keyFail(`${key}.coefficients`, `entry ${m} must be a finite number, got ${shownValue(c[m])}`);
    }
    if ((c as number[]).every((v) => v === 0)) keyFail(`${key}.coefficients`, 'are all zero');
    return { coefficients: (c as number[]).slice() };
  };

  const act = activation('activation', true)!;
  const isB = kind === 'brnn';
  let A1 = matrix('A1', isB);
  const Bpeek = isB ? matrix('B1', true) : null;
  if (isB && A1.rows === 0 && Bpeek!.rows === 0) fail('a BRNN needs at least one neuron: "A1" and "B1" are both empty');
  if (A1.rows === 0) A1 = new Matrix(0, Bpeek!.cols);
  const dh = A1.rows, dx = A1.cols;
  let U = matrix('U', isB);
  if (U.rows === 0) U = new Matrix(0, 0);
  shape(U, 'U', dh, dh, 'dh×dh');
  let B1: Matrix | undefined, V: Matrix | undefined, actB: Activation | undefined;
  let dz = 0;
  if (isB) {
    B1 = Bpeek!.rows === 0 ? new Matrix(0, dx) : Bpeek!;
    dz = B1.rows;
    if (B1.cols !== dx) keyFail('B1', `must have ${dx} columns (dx, as A1), got ${B1.rows}×${B1.cols}`);
    V = matrix('V', true);
    if (V.rows === 0) V = new Matrix(0, 0);
    shape(V, 'V', dz, dz, 'dz×dz');
    actB = activation('activationBackward', false);
  } else {
    for (const k of ['B1', 'V', 'activationBackward']) if (o[k] !== undefined) keyFail(k, 'is only allowed when "kind" is "brnn"');
  }
  const A2 = matrix('A2');
  if (A2.rows !== dh + dz) {
    keyFail('A2', `must have ${dh + dz} rows (${kind === 'brnn' ? 'dh+dz' : 'dh'}), got ${A2.rows}×${A2.cols}`);
  }
  const dy = A2.cols;
  let b: Float64Array | undefined;
  if (o.b !== undefined) {
    const bv = o.b;
    if (!Array.isArray(bv)) keyFail('b', `must be an array of ${dy} numbers (dy)`);
    const arr = bv as unknown[];
    if (arr.length !== dy) keyFail('b', `must have ${dy} entries (dy), got ${arr.length}`);
    b = new Float64Array(dy);
    for (let i = 0; i < dy; i++) {
      const x = arr[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) keyFail('b', `entry ${i} must be a finite number, got ${shownValue(x)}`);
      b[i] = x as number;
    }
  }
  // Optional (files written before standardisation have none): subtracted from the inputs before the recursion.
  let inputShift: Float64Array | undefined;
  if (o.inputShift !== undefined) {
    const v = o.inputShift;
    if (!Array.isArray(v) || v.length !== dx) keyFail('inputShift', `must be an array of ${dx} numbers (dx)`);
    inputShift = new Float64Array(dx);
    for (let a = 0; a < dx; a++) {
      const x = (v as unknown[])[a];
      if (typeof x !== 'number' || !Number.isFinite(x)) keyFail('inputShift', `entry ${a} must be a finite number, got ${shownValue(x)}`);
      inputShift[a] = x as number;
    }
  }
  const shift = inputShift ? { inputShift } : {};
  let params: IORNNParams | BRNNParams;
  if (kind === 'brnn') {
    params = { kind, A1, U, B1: B1!, V: V!, A2, activation: act, ...(b ? { b } : {}), ...(actB ? { activationBackward: actB } : {}), ...shift };
  } else {
    params = { kind, A1, U, A2, activation: act, ...(b ? { b } : {}), ...shift };
  }
  const out: LoadedModel = { params };
  if (o.inputModel !== undefined) out.inputModel = o.inputModel;
  if (o.diagnostics !== undefined) out.diagnostics = o.diagnostics;
  return out;
}

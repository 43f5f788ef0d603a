import { UserError } from '../io/errors.js';
import type { LoadedModel } from '../models/serialize.js';

/**
 * Validation of a model file's optional `"diagnostics"` object before `evaluate` and `report` read it. The
 * diagnostics are written by `fit`, but a model file is user input: a hand-edited or truncated one must give a
 * one-line error naming the key (`model.json: key "diagnostics.cp.weights" must be …`), never a TypeError from
 * deep inside the report. Only the keys the commands read are checked; unknown keys are ignored. JSON has no
 * NaN or Infinity, so `fit` writes them as null: null is accepted wherever a number is. The spec is kept lenient
 * (a number may also be an array of numbers) and test/fuzz.test.ts checks that every learner's own diagnostics pass.
 */

type Kind = 'number' | 'boolean' | 'string' | 'number[]' | 'string[]' | 'matrix' | { [key: string]: Kind } | 'record<number>';

const NUM = 'number', BOOL = 'boolean', STR = 'string', VEC = 'number[]', MAT = 'matrix';
const COND = { sMin: NUM, cond: NUM } as const;

/** Keys that must be present when their parent object is (the report reads them together). */
const REQUIRED: Record<string, string[]> = {
  'diagnostics.data': ['rows', 'sequences', 'minLength', 'maxLength'],
  'diagnostics.rank': ['rank', 'spectrum', 'noiseSpectrum', 'noiseFloor', 'threshold', 'rule'],
};

const SPEC: { [key: string]: Kind } = {
  data: { rows: NUM, sequences: NUM, dx: NUM, dy: NUM, minLength: NUM, maxLength: NUM },
  warnings: 'string[]',
  varianceShareU: NUM,
  timingsMs: 'record<number>',
  cp: { method: STR, residual: NUM, jennrichResidual: NUM, alsIterations: NUM, alsConverged: BOOL, minSeparation: NUM, condEigenvectors: NUM, projectionGapRatio: NUM, weights: VEC },
  pinv: { A1: COND, A2T: COND, outputLayer: { cond: NUM } },
  mixed: { steps: NUM },
  controlVariate: { used: BOOL, features: NUM, r2: NUM },
  rank: {
    rank: NUM, chosen: NUM, auto: BOOL, spectrum: VEC, noiseSpectrum: VEC, noiseFloor: NUM, threshold: NUM, rule: STR, factor: NUM, cap: NUM,
    spectrumInput: VEC, rankInput: NUM, warnings: 'string[]', marginKept: NUM, marginDropped: NUM,
  },
  inputModel: {
    kind: STR, steps: NUM, transitions: NUM, spectralRadius: NUM, condSigma: NUM, condQ: NUM, residualSkewness: VEC, residualExcessKurtosis: VEC,
    skewnessSE: NUM, kurtosisSE: NUM, maxAbsSkewness: NUM, maxAbsExcessKurtosis: NUM, given: BOOL,
  },
  refine: { method: STR, iterations: NUM, trainRows: NUM, trainLossStart: NUM, trainLossEnd: NUM, valLossStart: NUM, valLossEnd: NUM, keptStart: BOOL, stopReason: STR, parameters: NUM },
  feedforward: { A2: MAT, b: VEC },
  spectral: { A1: MAT, U: MAT, A2: MAT, b: VEC, B1: MAT, V: MAT },
};

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 30 ? s.slice(0, 30) + '…' : s}`;
}

function check(v: unknown, kind: Kind, key: string, fail: (key: string, msg: string) => never): void {
  const isNum = (x: unknown): boolean => x === null || typeof x === 'number';
  // A scalar diagnostic may also be stored per component (e.g. one gap ratio per projection): accept both.
  const isNumOrVec = (x: unknown): boolean => isNum(x) || (Array.isArray(x) && x.every(isNum));
  if (typeof kind === 'object') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(key, `must be an object, got ${describe(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of REQUIRED[key] ?? []) if (o[k] === undefined) fail(key, `must have the key "${k}"`);
    for (const [k, sub] of Object.entries(kind)) if (o[k] !== undefined) check(o[k], sub, `${key}.${k}`, fail);
    return;
  }
  switch (kind) {
    case 'number':
      if (!isNumOrVec(v)) fail(key, `must be a number, got ${describe(v)}`);
      return;
    case 'boolean':
    case 'string':
      if (typeof v !== kind) fail(key, `must be a ${kind}, got ${describe(v)}`);
      return;
    case 'string[]':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(key, `must be an array of strings, got ${describe(v)}`);
      return;
    case 'number[]':
      if (!Array.isArray(v)) fail(key, `must be an array of numbers, got ${describe(v)}`);
      (v as unknown[]).forEach((x, i) => isNum(x) || fail(`${key}[${i}]`, `must be a number, got ${describe(x)}`));
      return;
    case 'record<number>':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(key, `must be an object of numbers, got ${describe(v)}`);
      for (const [k, x] of Object.entries(v as object)) if (!isNum(x)) fail(`${key}.${k}`, `must be a number, got ${describe(x)}`);
      return;
    case 'matrix': {
      if (!Array.isArray(v)) fail(key, `must be an array of rows, got ${describe(v)}`);
      const rows = v as unknown[];
      rows.forEach((row, i) => {
        if (!Array.isArray(row)) fail(`${key}[${i}]`, `must be an array of numbers, got ${describe(row)}`);
        if ((row as unknown[]).length !== (rows[0] as unknown[]).length) fail(key, `must be rectangular (row ${i} has ${(row as unknown[]).length} entries, row 0 has ${(rows[0] as unknown[]).length})`);
        (row as unknown[]).forEach((x, j) => typeof x === 'number' && Number.isFinite(x) || fail(`${key}[${i}][${j}]`, `must be a finite number, got ${describe(x)}`));
      });
      return;
    }
  }
}

/** Throw a UserError naming the first malformed key of `model.diagnostics` (shapes of the stored baselines included). */
export function checkDiagnostics(model: LoadedModel, file: string): void {
  const d = model.diagnostics;
  if (d === undefined || d === null) return;
  const fail = (key: string, msg: string): never => {
    throw new UserError(`${file}: key "${key}" ${msg}`);
  };
  if (typeof d !== 'object' || Array.isArray(d)) fail('diagnostics', `must be an object, got ${describe(d)}`);
  const o = d as Record<string, unknown>;
  for (const [k, kind] of Object.entries(SPEC)) if (o[k] !== undefined) check(o[k], kind, `diagnostics.${k}`, fail);
  // The stored U = 0 baseline is evaluated as a model: its shapes must match the model's.
  const p = model.params;
  const total = p.A1.rows + (p.kind === 'brnn' ? p.B1.rows : 0), dy = p.A2.cols;
  const shape = (m: unknown, r: number, c: number, key: string): void => {
    const a = m as number[][] | undefined;
    if (a === undefined || (a.length === 0 && r === 0)) return;
    if (a.length !== r || (a[0]?.length ?? 0) !== c) fail(key, `must be ${r}×${c}, got ${a.length}×${a[0]?.length ?? 0}`);
  };
  const vec = (v: unknown, n: number, key: string): void => {
    if (v !== undefined && (v as unknown[]).length !== n) fail(key, `must have ${n} entries, got ${(v as unknown[]).length}`);
  };
  const ff = o.feedforward as { A2?: unknown; b?: unknown } | undefined;
  if (ff) {
    if (ff.A2 === undefined || ff.b === undefined) fail('diagnostics.feedforward', 'must have keys "A2" and "b"');
    shape(ff.A2, total, dy, 'diagnostics.feedforward.A2');
    vec(ff.b, dy, 'diagnostics.feedforward.b');
  }
}

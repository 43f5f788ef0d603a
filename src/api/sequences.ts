/**
 * Sequence data at the public boundary: nested arrays `[sequence][time][feature]` ⇄ the flat chunks the library
 * works on (`SequenceChunk`: row-major Float64Arrays plus sequence lengths, src/io/dataset.ts).
 *
 * Everything a user hands in is checked here, once, with errors that name the array, the sequence, the time step
 * and the feature (`x[3][7]: expected 4 features (as x[0][0]), got 3`), so no NaN or shape slip reaches a learner.
 */
import { DataSource, SequenceChunk, makeChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';

/** Sequences as nested arrays: `x[s][t][j]` is feature j at time t of sequence s. */
export type Nested = ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>;

/** Labelled sequences as nested arrays: `x[s][t]` (dx features) and `y[s][t]` (dy outputs), same lengths. */
export interface NestedData {
  x: Nested;
  y: Nested;
}

/** In-memory labelled data in either form. */
export type InMemoryData = SequenceChunk | NestedData;

/** Anything `fit` accepts: in-memory data in either form, several chunks, or a streaming source (a file). */
export type FitData = InMemoryData | SequenceChunk[] | DataSource;

/**
 * Flatten nested sequences into one chunk. `x[s][t]` must all have the same length dx ≥ 1; `y`, when given,
 * must have the same sequence and step counts and a common length dy ≥ 1. `dx` fixes the expected feature count
 * (e.g. a model's input dimension). Every entry must be a finite number.
 */
export function fromNested(x: Nested, y?: Nested, dx?: number): SequenceChunk {
  const lengths = stepCounts(x, 'x');
  const fx = flatten(x, 'x', lengths, dx, dx !== undefined ? "the model's dx" : undefined);
  if (y === undefined) return makeChunk(fx.d, 0, fx.values, new Float64Array(0), lengths);
  if (!Array.isArray(y)) fail(`y`, `expected an array of sequences [sequence][time][output], got ${describe(y)}`);
  if (y.length !== x.length) fail(`y`, `has ${y.length} sequences, x has ${x.length}`);
  for (let s = 0; s < x.length; s++) {
    const ys = y[s];
    if (!Array.isArray(ys)) fail(`y[${s}]`, `expected an array of time steps, got ${describe(ys)}`);
    if (ys.length !== lengths[s]) fail(`y[${s}]`, `has ${ys.length} time steps, x[${s}] has ${lengths[s]}`);
  }
  const fy = flatten(y, 'y', lengths);
  return makeChunk(fx.d, fy.d, fx.values, fy.values, lengths);
}

/** Split row-major values (rows×d, the rows of consecutive sequences) back into `[sequence][time][d]` arrays. */
export function toNested(values: Float64Array, lengths: ArrayLike<number>, d: number): number[][][] {
  const out: number[][][] = [];
  let r = 0;
  for (let s = 0; s < lengths.length; s++) {
    const seq: number[][] = [];
    for (let t = 0; t < (lengths[s] ?? 0); t++, r++) seq.push(Array.from(values.subarray(r * d, (r + 1) * d)));
    out.push(seq);
  }
  if (r * d !== values.length) throw new RangeError(`toNested: ${values.length} values do not make ${r} rows of ${d}`);
  return out;
}

/** True for the nested form `{ x: [...], y: [...] }` (as opposed to a chunk, whose x is a Float64Array). */
export function isNestedData(data: unknown): data is NestedData {
  return typeof data === 'object' && data !== null && Array.isArray((data as { x?: unknown }).x);
}

/**
 * Check a flat chunk given by the user: consistent sizes, and finite inputs (and outputs unless `inputsOnly`).
 * Errors name the sequence, step and feature of the first bad entry.
 */
export function checkChunk(c: SequenceChunk, inputsOnly = false): SequenceChunk {
  if (typeof c !== 'object' || c === null || !(c.x instanceof Float64Array) || !(c.lengths instanceof Int32Array)) {
    fail('data', 'expected a chunk {dx, dy, rows, x: Float64Array, y: Float64Array, lengths: Int32Array} (see makeChunk) or {x, y} nested arrays [sequence][time][feature]');
  }
  const chunk = makeChunkChecked(c);
  const check = (v: Float64Array, d: number, name: string) => {
    for (let k = 0; k < v.length; k++) {
      if (Number.isFinite(v[k])) continue;
      const row = Math.floor(k / d);
      let s = 0, r0 = 0;
      while (r0 + (chunk.lengths[s] ?? 0) <= row) r0 += chunk.lengths[s++] ?? 0;
      fail(`${name}`, `sequence ${s}, time ${row - r0}, feature ${k % d}: expected a finite number, got ${v[k]}`);
    }
  };
  check(chunk.x, chunk.dx, 'x');
  if (!inputsOnly) check(chunk.y, chunk.dy, 'y');
  return chunk;
}

function makeChunkChecked(c: SequenceChunk): SequenceChunk {
  try {
    return makeChunk(c.dx, c.dy, c.x, c.y, c.lengths);
  } catch (e) {
    fail(`data`, `${(e as Error).message.replace(/^makeChunk: /, '')}`);
  }
}

/** A UserError located by `key` (`x[3][7]`, `y`, `data`): the message starts with it, the field carries it. */
function fail(key: string, message: string): never {
  throw new UserError(`${key}: ${message}`, { key });
}

function stepCounts(x: Nested, name: string): number[] {
  if (!Array.isArray(x)) fail(`${name}`, `expected an array of sequences [sequence][time][feature], got ${describe(x)}`);
  if (x.length === 0) fail(`${name}`, `no sequences`);
  const lengths: number[] = [];
  for (let s = 0; s < x.length; s++) {
    const seq = x[s];
    if (!Array.isArray(seq)) fail(`${name}[${s}]`, `expected an array of time steps [time][feature], got ${describe(seq)}`);
    if (seq.length === 0) fail(`${name}[${s}]`, `a sequence needs at least one time step`);
    lengths.push(seq.length);
  }
  return lengths;
}

function flatten(v: Nested, name: string, lengths: number[], dExpected?: number, dWhat?: string): { d: number; values: Float64Array } {
  const first = v[0]?.[0];
  if (!Array.isArray(first)) fail(`${name}[0][0]`, `expected an array of features, got ${describe(first)}`);
  const d = dExpected ?? first.length;
  const what = dWhat ?? `as ${name}[0][0]`;
  if (d < 1) fail(`${name}[0][0]`, `expected at least one feature, got none`);
  let rows = 0;
  for (const n of lengths) rows += n;
  const values = new Float64Array(rows * d);
  let k = 0;
  for (let s = 0; s < lengths.length; s++) {
    const seq = v[s]!;
    for (let t = 0; t < seq.length; t++) {
      const step = seq[t];
      if (!Array.isArray(step)) fail(`${name}[${s}][${t}]`, `expected an array of ${d} features, got ${describe(step)}`);
      if (step.length !== d) fail(`${name}[${s}][${t}]`, `expected ${d} features (${what}), got ${step.length}`);
      for (let j = 0; j < d; j++) {
        const val: unknown = step[j];
        if (typeof val !== 'number' || !Number.isFinite(val)) fail(`${name}[${s}][${t}][${j}]`, `expected a finite number, got ${describe(val)}`);
        values[k++] = val;
      }
    }
  }
  return { d, values };
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  const s = JSON.stringify(v);
  return s === undefined ? typeof v : s.length > 40 ? s.slice(0, 40) + '…' : s;
}

/**
 * Catalogue of bad inputs across formats (tracker issue 6, item 4), driven through the CLI in-process.
 * Every case must: exit with code 1, print exactly one line on stderr that names the offending file (and
 * the row and column where there is one), not be the "unexpected failure" path (a bug), and leave no
 * output file and no temporary file behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tableFromArrays, tableToIPC, vectorFromArray, Float64, Table, makeVector } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { main } from '../src/cli/main.js';
import { makeChunk } from '../src/io/dataset.js';
import { writeDataFile } from '../src/io/open.js';
import { Rng } from '../src/random/rng.js';

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const root = mkdtempSync(path.join(tmpdir(), 'gloree-bad-'));

/** A valid data set: 6 sequences of 10 steps, dx = dy = 2, smooth deterministic values. */
const NSEQ = 6, LEN = 10;
const rows = NSEQ * LEN;
const rng = new Rng(7);
const X = Float64Array.from(rng.normalArray(rows * 2));
const Y = new Float64Array(rows * 2);
for (let r = 0; r < rows; r++) {
  Y[2 * r] = Math.tanh(X[2 * r]) + 0.1 * rng.normal();
  Y[2 * r + 1] = X[2 * r] * X[2 * r + 1] + 0.1 * rng.normal();
}
const goodChunk = makeChunk(2, 2, X, Y, new Array(NSEQ).fill(LEN));
const seqCol = Int32Array.from({ length: rows }, (_, r) => Math.floor(r / LEN));
const col = (a: Float64Array, j: number): Float64Array => Float64Array.from({ length: rows }, (_, r) => a[2 * r + j]);
const goodCSV = 'seq,x1,x2,y1,y2\n' + Array.from({ length: rows }, (_, r) => `${seqCol[r]},${X[2 * r]},${X[2 * r + 1]},${Y[2 * r]},${Y[2 * r + 1]}`).join('\n') + '\n';
/** CSV text with line `line` (1-based, header = 1) replaced. */
function csvWithLine(line: number, text: string): string {
  const lines = goodCSV.split('\n');
  lines[line - 1] = text;
  return lines.join('\n');
}

/** A valid CSV with `n` rows (one sequence per 20 rows), for cases that need more than the reader's first block. */
function bigCSV(n: number): string {
  const lines = ['seq,x1,x2,y1,y2'];
  for (let r = 0; r < n; r++) lines.push(`${Math.floor(r / 20)},${(r % 97) / 97},${(r % 89) / 89},${(r % 83) / 83},${(r % 79) / 79}`);
  return lines.join('\n') + '\n';
}

/** A CSV with `k` input columns and one output, two rows. */
function wideCSV(k: number): string {
  const head = [...Array.from({ length: k }, (_, i) => `x${i + 1}`), 'y1'].join(',');
  const row = (v: number) => Array.from({ length: k + 1 }, (_, i) => String(((i * 7 + v) % 13) / 13)).join(',');
  return [head, row(1), row(2), row(3)].join('\n') + '\n';
}

function arrowBytes(columns: Record<string, unknown>): Uint8Array {
  const t = tableFromArrays(columns as Parameters<typeof tableFromArrays>[0]);
  return tableToIPC(t, 'file');
}

type PqCol = { name: string; data: unknown; type: 'DOUBLE' | 'INT32' | 'STRING'; nullable?: boolean };
function parquetBytes(cols: PqCol[]): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({ columnData: cols.map((c) => ({ ...c, data: c.data as Float64Array })) as never, rowGroupSize: 25 }));
}
const pqGood = (): PqCol[] => [
  { name: 'seq', data: seqCol, type: 'INT32', nullable: false },
  { name: 'x1', data: col(X, 0), type: 'DOUBLE', nullable: false },
  { name: 'x2', data: col(X, 1), type: 'DOUBLE', nullable: false },
  { name: 'y1', data: col(Y, 0), type: 'DOUBLE', nullable: false },
  { name: 'y2', data: col(Y, 1), type: 'DOUBLE', nullable: false },
];

const goodModel = path.join(root, 'good-model.json');
const goodFiles: Record<string, string> = {};

interface Case {
  label: string;
  /** Creates the inputs in `dir` and returns the CLI arguments (without --out). */
  setup(dir: string): Promise<string[]> | string[];
  /** Output flag value (relative to dir); default out.json for fit, pred.csv for predict; null: no --out. */
  out?: string | null;
  /** Known failure caused by code outside src/io (reported to the lead): run as a node:test `todo`. */
  todo?: string;
  /** Patterns the one stderr line must match (the file name is always required). */
  expect: RegExp[];
  /** Name that must appear in the message (default: the data file's basename). */
  names?: string;
  /** Exit code: 1 for bad data/files (default), 2 for a bad flag value (a usage error, docs/method.md §8). */
  code?: 1 | 2;
}

const w = (dir: string, name: string, data: string | Uint8Array): string => {
  const f = path.join(dir, name);
  writeFileSync(f, data);
  return f;
};
const fit = (file: string, ...more: string[]): string[] => ['fit', file, '--hidden', '1', '--no-refine', ...more];

const ROW_COL = (row: number, column: string): RegExp => new RegExp(`row ${row}, column "${column}"`);

const cases: Case[] = [
  // ---- CSV
  { label: 'CSV: empty file', setup: (d) => fit(w(d, 'empty.csv', '')), expect: [/empty/] },
  { label: 'CSV: only blank lines', setup: (d) => fit(w(d, 'blank.csv', '\n  \n\n')), expect: [/empty/] },
  { label: 'CSV: header only', setup: (d) => fit(w(d, 'header.csv', 'seq,x1,x2,y1,y2\n')), expect: [/no data rows/] },
  { label: 'CSV: missing column', setup: (d) => fit(w(d, 'nocol.csv', goodCSV), '--y', 'y1,y3'), expect: [/missing column "y3"/] },
  { label: 'CSV: gap in numbered columns', setup: (d) => fit(w(d, 'gap.csv', goodCSV.replace('x2', 'x3'))), expect: [/missing column "x2"/] },
  { label: 'CSV: duplicate column', setup: (d) => fit(w(d, 'dup.csv', goodCSV.replace('y2', 'x1'))), expect: [/duplicate column "x1"/] },
  { label: 'CSV: no input columns', setup: (d) => fit(w(d, 'noinputs.csv', goodCSV.replace(/x(\d)/g, 'u$1'))), expect: [/no input columns/] },
  { label: 'CSV: no output columns', setup: (d) => fit(w(d, 'nooutputs.csv', goodCSV.replace(/y(\d)/g, 'v$1'))), expect: [/no output columns/] },
  { label: 'CSV: non-numeric cell', setup: (d) => fit(w(d, 'nonnum.csv', csvWithLine(14, '1,abc,0.5,0.1,0.2'))), expect: [ROW_COL(14, 'x1'), /"abc"/] },
  { label: 'CSV: empty cell', setup: (d) => fit(w(d, 'emptycell.csv', csvWithLine(20, '1,0.3,0.5,,0.2'))), expect: [ROW_COL(20, 'y1'), /empty cell/] },
  { label: 'CSV: NaN cell', setup: (d) => fit(w(d, 'nan.csv', csvWithLine(9, '0,0.3,NaN,0.1,0.2'))), expect: [ROW_COL(9, 'x2'), /finite/] },
  { label: 'CSV: Infinity cell', setup: (d) => fit(w(d, 'inf.csv', csvWithLine(31, '2,0.3,0.5,0.1,-Infinity'))), expect: [ROW_COL(31, 'y2'), /finite/] },
  { label: 'CSV: huge value (overflows a double)', setup: (d) => fit(w(d, 'huge.csv', csvWithLine(5, '0,1e400,0.5,0.1,0.2'))), expect: [ROW_COL(5, 'x1'), /1e400/] },
  { label: 'CSV: ragged row (too few fields)', setup: (d) => fit(w(d, 'ragged1.csv', csvWithLine(12, '1,0.3,0.5'))), expect: [/row 12/, /expected 5 fields/] },
  { label: 'CSV: ragged row (too many fields)', setup: (d) => fit(w(d, 'ragged2.csv', csvWithLine(40, '3,0.3,0.5,0.1,0.2,0.7'))), expect: [/row 40/, /got 6/] },
  { label: 'CSV: non-integer seq id', setup: (d) => fit(w(d, 'seqfrac.csv', csvWithLine(3, '0.5,0.3,0.5,0.1,0.2'))), expect: [ROW_COL(3, 'seq'), /integer/] },
  { label: 'CSV: interleaved seq ids', setup: (d) => fit(w(d, 'interleaved.csv', csvWithLine(22, '0,0.3,0.5,0.1,0.2'))), expect: [/row 22/, /sequence id 0 appears again/] },
  {
    label: 'CSV: unsorted rows (a sequence resumes at the end)',
    setup: (d) => {
      const lines = goodCSV.trim().split('\n');
      const moved = lines.splice(1, 1); // first row of sequence 0 moved to the end
      return fit(w(d, 'unsorted.csv', [...lines, ...moved].join('\n') + '\n'));
    },
    expect: [/row 61/, /sequence id 0 appears again/],
  },
  { label: 'CSV: a sequence of length 1', setup: (d) => fit(w(d, 'short.csv', goodCSV + '9,0.1,0.2,0.3,0.4\n')), expect: [/row 62/, /sequence 9 has 1 row, need at least 2/] },
  { label: 'CSV: a single row (no seq column)', setup: (d) => fit(w(d, 'single.csv', 'x1,x2,y1,y2\n0.1,0.2,0.3,0.4\n')), expect: [/row 2/, /1 row/] },
  { label: 'CSV: constant input column', setup: (d) => fit(w(d, 'constant.csv', goodCSV.replace(/^(\d+),[^,]*,/gm, '$1,1.5,'))), expect: [/x1|constant|singular|variance|rank/i], names: 'constant.csv' },
  { label: 'CSV: quoted field never closed', setup: (d) => fit(w(d, 'quote.csv', csvWithLine(8, '0,"0.3,0.5,0.1,0.2'))), expect: [/row 8/, /quoted field is never closed/] },
  { label: 'CSV: binary garbage', setup: (d) => fit(w(d, 'garbage.csv', Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 256))), expect: [/not a text CSV file/] },
  { label: 'CSV extension but Parquet content', setup: (d) => fit(w(d, 'really.csv', parquetBytes(pqGood()))), expect: [/Parquet/, /--format parquet/] },
  { label: 'missing data file', setup: (d) => fit(path.join(d, 'does-not-exist.csv')), expect: [/no such file/], names: 'does-not-exist.csv' },
  { label: 'data path is a directory', setup: (d) => (mkdirSync(path.join(d, 'adir.csv')), fit(path.join(d, 'adir.csv'))), expect: [/directory/], names: 'adir.csv' },
  // ---- Arrow
  {
    label: 'Arrow: truncated file',
    setup: (d) => {
      const b = readFileSync(goodFiles.arrow);
      return fit(w(d, 'trunc.arrow', b.subarray(0, Math.floor(b.length * 0.6))));
    },
    expect: [/Arrow/, /truncated or corrupt/],
  },
  { label: 'Arrow: not Arrow at all', setup: (d) => fit(w(d, 'text.arrow', goodCSV)), expect: [/Arrow/] },
  { label: 'Arrow: empty file', setup: (d) => fit(w(d, 'empty.arrow', '')), expect: [/empty/] },
  {
    label: 'Arrow: NaN value',
    setup: (d) => {
      const x2 = col(X, 1);
      x2[17] = NaN;
      return fit(w(d, 'nan.arrow', arrowBytes({ seq: seqCol, x1: col(X, 0), x2, y1: col(Y, 0), y2: col(Y, 1) })));
    },
    expect: [ROW_COL(18, 'x2'), /finite/, /NaN/],
  },
  {
    label: 'Arrow: null value',
    setup: (d) => {
      const y1 = Array.from(col(Y, 0)) as (number | null)[];
      y1[44] = null;
      const t = new Table({ seq: makeVector(seqCol), x1: makeVector(col(X, 0)), x2: makeVector(col(X, 1)), y1: vectorFromArray(y1, new Float64()), y2: makeVector(col(Y, 1)) });
      return fit(w(d, 'null.arrow', tableToIPC(t, 'file')));
    },
    expect: [ROW_COL(45, 'y1'), /null/],
  },
  {
    label: 'Arrow: string column',
    setup: (d) => {
      const t = new Table({ seq: makeVector(seqCol), x1: vectorFromArray(Array.from(col(X, 0), String)), x2: makeVector(col(X, 1)), y1: makeVector(col(Y, 0)), y2: makeVector(col(Y, 1)) });
      return fit(w(d, 'string.arrow', tableToIPC(t, 'file')));
    },
    expect: [/column "x1"/, /Utf8/, /numeric/],
  },
  { label: 'Arrow: missing output columns', setup: (d) => fit(w(d, 'noy.arrow', arrowBytes({ seq: seqCol, x1: col(X, 0), x2: col(X, 1) }))), expect: [/no output columns/] },
  {
    label: 'Arrow: zero rows',
    setup: (d) => fit(w(d, 'zero.arrow', arrowBytes({ x1: new Float64Array(0), y1: new Float64Array(0) }))),
    expect: [/no data rows/],
  },
  // ---- Parquet
  {
    label: 'Parquet: truncated file',
    setup: (d) => {
      const b = readFileSync(goodFiles.parquet);
      return fit(w(d, 'trunc.parquet', b.subarray(0, Math.floor(b.length * 0.7))));
    },
    expect: [/Parquet/, /truncated or corrupt/],
  },
  {
    label: 'Parquet: footer intact, data pages cut',
    setup: (d) => {
      const b = Buffer.from(readFileSync(goodFiles.parquet));
      b.fill(0xff, 4, Math.floor(b.length / 2)); // clobber column chunks (page headers) but keep the footer
      return fit(w(d, 'clobbered.parquet', b));
    },
    expect: [/Parquet|row|column/],
  },
  {
    label: 'Parquet: Infinity value',
    setup: (d) => {
      const c = pqGood();
      (c[3].data as Float64Array)[52] = Infinity;
      return fit(w(d, 'inf.parquet', parquetBytes(c)));
    },
    expect: [ROW_COL(53, 'y1'), /finite/],
  },
  {
    label: 'Parquet: null value',
    setup: (d) => {
      const c = pqGood();
      const x1 = Array.from(c[1].data as Float64Array) as (number | null)[];
      x1[30] = null;
      c[1] = { name: 'x1', data: x1, type: 'DOUBLE', nullable: true };
      return fit(w(d, 'null.parquet', parquetBytes(c)));
    },
    expect: [ROW_COL(31, 'x1'), /null/],
  },
  {
    label: 'Parquet: string column',
    setup: (d) => {
      const c = pqGood();
      c[4] = { name: 'y2', data: Array.from(c[4].data as Float64Array, String), type: 'STRING', nullable: false };
      return fit(w(d, 'string.parquet', parquetBytes(c)));
    },
    expect: [/column "y2"/, /BYTE_ARRAY/],
  },
  {
    label: 'Parquet: interleaved seq ids',
    setup: (d) => {
      const c = pqGood();
      const s = Int32Array.from(c[0].data as Int32Array);
      s[35] = 1;
      c[0] = { name: 'seq', data: s, type: 'INT32', nullable: false };
      return fit(w(d, 'interleaved.parquet', parquetBytes(c)));
    },
    expect: [/row 36/, /sequence id 1 appears again/],
  },
  { label: 'Parquet: duplicate column', setup: (d) => fit(w(d, 'dup.parquet', parquetBytes([...pqGood(), { name: 'x1', data: col(X, 0), type: 'DOUBLE', nullable: false }]))), expect: [/duplicate column "x1"/] },
  // ---- model files
  { label: 'model: not JSON', setup: (d) => ['predict', w(d, 'model.json', '{"A1": [[1, 2]'), goodFiles.csv], out: 'pred.csv', expect: [/not valid JSON/], names: 'model.json' },
  { label: 'model: JSON but not a gloree model', setup: (d) => ['predict', w(d, 'other.json', JSON.stringify({ hello: 'world' })), goodFiles.csv], out: 'pred.csv', expect: [/.+/], names: 'other.json' },
  { label: 'model: a data file given as the model', setup: () => ['evaluate', goodFiles.csv, goodFiles.csv], out: null, expect: [/JSON|model/], names: 'good.csv' },
  { label: 'model: missing file', setup: (d) => ['predict', path.join(d, 'nomodel.json'), goodFiles.csv], out: 'pred.csv', expect: [/no such file/], names: 'nomodel.json' },
  {
    label: 'model: dx does not match the data',
    setup: (d) => ['predict', goodModel, w(d, 'three.csv', 'x1,x2,x3\n1,2,3\n4,5,6\n')],
    out: 'pred.csv',
    expect: [/3 input columns/, /dx = 2/],
  },
  // ---- flags and output paths
  { label: '--hidden 0', setup: (d) => ['fit', w(d, 'ok.csv', goodCSV), '--hidden', '0'], expect: [/--hidden/], names: '--hidden', code: 2 },
  { label: '--hidden larger than dx', setup: (d) => ['fit', w(d, 'ok.csv', goodCSV), '--hidden', '3', '--no-refine'], expect: [/hidden/], names: '--hidden' },
  { label: '--hidden not a number', setup: (d) => ['fit', w(d, 'ok.csv', goodCSV), '--hidden', 'two'], expect: [/--hidden/], names: '--hidden', code: 2 },
  { label: 'fit: output directory does not exist', setup: (d) => fit(w(d, 'ok.csv', goodCSV)), out: 'no/such/dir/model.json', expect: [/model\.json|no\/such/], names: 'model.json' },
  { label: 'fit: output path is a directory', setup: (d) => (mkdirSync(path.join(d, 'outdir.json')), fit(w(d, 'ok.csv', goodCSV))), out: 'outdir.json', expect: [/outdir\.json/], names: 'outdir.json' },
  { label: 'predict: output directory does not exist', setup: () => ['predict', goodModel, goodFiles.csv], out: 'missing-dir/pred.csv', expect: [/pred\.csv|missing-dir/], names: 'pred.csv' },
  // ---- issue 12: messages that say what is wrong, and where
  { label: 'CSV: 1e308 (finite, but overflows every moment)', setup: (d) => fit(w(d, 'e308.csv', csvWithLine(7, '0,0.3,0.5,1e308,0.2'))), expect: [ROW_COL(7, 'y1'), /magnitude at most 1e50/, /"1e308"/] },
  { label: 'CSV: output of 1e100', setup: (d) => fit(w(d, 'e100.csv', csvWithLine(22, '2,0.3,0.5,0.1,1e100'))), expect: [ROW_COL(22, 'y2'), /magnitude at most 1e50/] },
  { label: 'Arrow: output of 1e100', setup: (d) => fit(w(d, 'e100.arrow', arrowBytes({ seq: seqCol, x1: col(X, 0), x2: col(X, 1), y1: Float64Array.from(col(Y, 0), (v, r) => (r === 9 ? 1e100 : v)), y2: col(Y, 1) }))), expect: [ROW_COL(10, 'y1'), /magnitude at most 1e50/] },
  { label: 'CSV: extreme outlier (fit fails on the covariance) named at its row', setup: (d) => fit(w(d, 'outlier.csv', csvWithLine(25, '2,1e20,0.5,0.1,0.2'))), expect: [ROW_COL(25, 'x1'), /extreme outlier/] },
  { label: 'CSV: CR-only line endings', setup: (d) => fit(w(d, 'cr.csv', goodCSV.replaceAll('\n', '\r'))), expect: [/row 1/, /bare carriage return/] },
  { label: 'CSV: NUL tail after valid rows (no newline)', setup: (d) => fit(w(d, 'nul.csv', Buffer.concat([Buffer.from(bigCSV(3000)), Buffer.alloc(5 << 20)]))), expect: [/row 3002/, /NUL byte/] },
  { label: 'CSV: endless line without a break after valid rows', setup: (d) => fit(w(d, 'endless.csv', bigCSV(3000) + '1,'.repeat(5 << 20))), expect: [/row 3002/, /longer than 4 MiB/] },
  { label: 'CSV: header of 20,000 columns', setup: (d) => fit(w(d, 'wide.csv', wideCSV(20000))), expect: [/20000 input and 1 output columns are too many/] },
  { label: 'CSV: seq id beyond 2^53', setup: (d) => fit(w(d, 'bigseq.csv', csvWithLine(2, '9007199254740993,0.3,0.5,0.1,0.2'))), expect: [ROW_COL(2, 'seq'), /2\^53/, /"9007199254740993"/] },
  {
    label: 'model: 1e999 in a weight',
    setup: (d) => ['predict', w(d, 'inf.json', '{"format":"gloree-model","version":1,"kind":"iornn","activation":{"coefficients":[0,0,1]},"A1":[[1,1]],"U":[[1e999]],"A2":[[1,1]]}'), goodFiles.csv],
    out: 'pred.csv', expect: [/key "U" entry \[0\]\[0\]/, /1e999/], names: 'inf.json',
  },
  {
    label: 'model: deeply nested JSON in diagnostics',
    setup: (d) => ['evaluate', w(d, 'deep.json', readFileSync(goodModel, 'utf8').replace(/"diagnostics":/, `"diagnostics":{"cp":${'['.repeat(100000)}${']'.repeat(100000)}},"x":`)), goodFiles.csv],
    out: null, expect: [/key "diagnostics\.cp" must be an object/], names: 'deep.json',
  },
  {
    label: 'model: malformed diagnostics (U = 0 baseline of the wrong shape)',
    setup: (d) => {
      const m = JSON.parse(readFileSync(goodModel, 'utf8'));
      m.diagnostics.feedforward.A2 = [[1, 2, 3]];
      return ['evaluate', w(d, 'baddiag.json', JSON.stringify(m)), goodFiles.csv];
    },
    out: null, expect: [/key "diagnostics\.feedforward\.A2" must be 1×2/], names: 'baddiag.json',
  },
  { label: 'simulate: absurd --sequences', setup: () => ['simulate', '--sequences', '100000000'], out: 'sim.csv', expect: [/need .* GiB in memory/, /at most \d+ sequences/], names: '--sequences' },
  {
    label: 'simulate: absurd scenario dimensions',
    setup: (d) => ['simulate', '--scenario', w(d, 'huge.json', JSON.stringify({ dx: 100000, dh: 100000, dy: 4 }))],
    out: 'sim.csv', expect: [/key "dx" = 100000/], names: 'huge.json',
  },
  {
    label: 'fit: TMPDIR does not exist',
    setup: (d) => {
      process.env.TMPDIR = path.join(d, 'no-tmp');
      return fit(w(d, 'ok.csv', goodCSV));
    },
    expect: [/temporary spill file in .*no-tmp \(it does not exist\)/, /TMPDIR/], names: 'no-tmp',
  },
];

/** Big file whose last row is bad: predict must fail after writing ≥ 1 chunk, and leave nothing. */
const BIG_ROWS = 70_000;

test('setup: good files and a good model', async () => {
  const d = path.join(root, 'good');
  mkdirSync(d);
  for (const f of ['csv', 'arrow', 'parquet']) {
    goodFiles[f] = path.join(d, `good.${f}`);
    await writeDataFile(goodFiles[f], goodChunk);
  }
  const r = await cli('fit', goodFiles.csv, '--hidden', '1', '--no-refine', '--out', goodModel, '--quiet');
  assert.equal(r.code, 0, r.stderr);
  // The good file in every format is accepted by predict (controls for the cases below).
  for (const f of ['csv', 'arrow', 'parquet']) {
    const out = path.join(d, `pred-${f}.csv`);
    const p = await cli('predict', goodModel, goodFiles[f], '--out', out);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, rows + 1);
  }
});

test(`the catalogue has at least 30 bad inputs (${cases.length})`, () => {
  assert.ok(cases.length >= 30);
});

cases.forEach((c, i) => {
  test(`bad input: ${c.label} → exit ${c.code ?? 1}, one line naming the file, no output`, { todo: c.todo }, async () => {
    const dir = path.join(root, `case${i}`);
    mkdirSync(dir);
    const args = await c.setup(dir);
    const outRel = c.out === null ? 'none' : c.out ?? (args[0] === 'fit' ? 'out.json' : 'pred.csv');
    const out = path.join(dir, outRel);
    const before = new Set(readdirSync(dir));
    const savedTmp = process.env.TMPDIR;
    let r;
    try {
      r = await cli(...args, ...(c.out === null ? [] : ['--out', out]));
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    assert.equal(r.code, c.code ?? 1, `exit code ${r.code}; stderr: ${r.stderr}; stdout: ${r.stdout}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
    const line = lines[0];
    if (process.env.GLOREE_SHOW_MESSAGES) process.stderr.write(`[${c.label}] ${line}\n`);
    assert.ok(!/GLOREE_DEBUG|gloree: error:/.test(line), `reported as an unexpected failure (a bug): ${line}`);
    const name = c.names ?? path.basename(args.find((a, k) => k > 0 && /\.(csv|arrow|parquet)$/.test(a) && !a.startsWith('--')) ?? args[1]);
    assert.ok(line.includes(name), `message does not name ${name}: ${line}`);
    for (const re of c.expect) assert.match(line, re);
    assert.ok(!existsSync(out) || before.has(outRel), `output file ${outRel} was created`);
    const after = readdirSync(dir).filter((f) => !before.has(f));
    assert.deepEqual(after, [], `files left behind: ${after.join(', ')}`);
  });
});

test('bad input: predict fails on the last row of a multi-chunk file → no partial prediction file', async () => {
  const dir = path.join(root, 'bigbad');
  mkdirSync(dir);
  const lines = ['x1,x2'];
  for (let r = 0; r < BIG_ROWS; r++) lines.push(`${(r % 97) / 97},${(r % 89) / 89}`);
  lines.push('0.5,oops');
  const f = w(dir, 'big.csv', lines.join('\n') + '\n');
  const out = path.join(dir, 'pred.csv');
  const r = await cli('predict', goodModel, f, '--out', out);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.trim(), new RegExp(`big\\.csv:row ${BIG_ROWS + 2}, column "x2": expected a number, got "oops"`));
  assert.deepEqual(readdirSync(dir).sort(), ['big.csv']);
});

test('cleanup', () => {
  rmSync(root, { recursive: true, force: true });
});

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Rng } from '../src/random/rng.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { openCSVSource, readCSV, writeCSV, writePredictionsCSV, parseDecimal, type CSVChunk, type CSVOptions } from '../src/io/csv.js';
import { writeFileAtomic, AtomicWriter } from '../src/io/atomic.js';
import { UserError, cellError } from '../src/io/errors.js';
import { simulateScenario, SCENARIOS } from '../src/models/simulate.js';

function ok(cond: unknown, msg = 'assertion failed'): asserts cond {
  assert.ok(cond, msg);
}

let dir = '';
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gloree-csv-'));
});
let fileNo = 0;
function file(text: string, name?: string): string {
  const f = path.join(dir, name ?? `f${fileNo++}.csv`);
  writeFileSync(f, text);
  return f;
}
async function all(f: string, opts: CSVOptions = {}): Promise<CSVChunk[]> {
  const out: CSVChunk[] = [];
  for await (const c of (await openCSVSource(f, opts)).chunks()) out.push(c);
  return out;
}
/** Expect a UserError whose message is exactly `msg` with "<file>" replaced by the path. */
async function expectError(text: string, msg: string, opts: CSVOptions = {}): Promise<void> {
  const f = file(text);
  await assert.rejects(all(f, opts), (e: Error) => {
    ok(e instanceof UserError, `not a UserError: ${e.stack}`);
    assert.equal(e.message, msg.replace('<file>', f));
    return true;
  });
}
const arr = (a: ArrayLike<number>) => Array.from(a);

describe('CSV round trip and chunking', () => {
  test('simulated data: write → read is bit-exact (shortest round-trip numbers)', async () => {
    const { data } = simulateScenario({ ...SCENARIOS.rect, seqLength: [1, 9] }, { nSeq: 60 });
    // Add awkward values: tiny, huge, negative zero-ish, many digits.
    data.x[0] = 1e-310;
    data.x[1] = -123456789.123456789;
    data.y[0] = 4.999999999999999e49; // near the reader's magnitude limit (MAX_ABS_VALUE = 1e50)
    const f = path.join(dir, 'sim.csv');
    await writeCSV(f, data);
    const c = await readCSV(f);
    assert.equal(c.dx, 6);
    assert.equal(c.dy, 5);
    assert.deepEqual(arr(c.lengths), arr(data.lengths));
    ok(c.x.every((v, i) => Object.is(v, data.x[i])), 'x bit-exact');
    ok(c.y.every((v, i) => Object.is(v, data.y[i])), 'y bit-exact');
    assert.deepEqual(arr(c.seqIds), data.lengths.length ? arr(data.lengths).map((_, k) => k) : []);
    assert.equal(c.firstLine[0], 2);
    assert.equal(c.firstLine[1], 2 + data.lengths[0]);
  });
  test('small chunkRows and small read blocks give the same data, whole sequences per chunk', async () => {
    const { data } = simulateScenario(SCENARIOS.default, { nSeq: 40 });
    const lengths = Int32Array.from({ length: 40 }, (_, k) => 1 + (k * 7) % 5);
    const rows = lengths.reduce((a, b) => a + b, 0);
    const chunk = makeChunk(4, 4, data.x.slice(0, rows * 4), data.y.slice(0, rows * 4), lengths);
    const f = path.join(dir, 'chunks.csv');
    await writeCSV(f, chunk);
    const ref = await readCSV(f);
    for (const [chunkRows, blockBytes] of [[1, 1 << 20], [7, 64], [50, 13], [1e9, 7]]) {
      const parts = await all(f, { chunkRows, blockBytes });
      let r = 0, s = 0;
      for (const p of parts) {
        assert.equal(p.sequenceOffset, s);
        assert.equal(p.lengths.reduce((a, b) => a + b, 0), p.rows);
        if (chunkRows < 1e9) ok(p.rows - p.lengths[p.lengths.length - 1] < chunkRows, 'chunk closed as soon as it reached chunkRows');
        ok(p.x.every((v, i) => v === ref.x[r * 4 + i]), `x chunkRows=${chunkRows}`);
        ok(p.y.every((v, i) => v === ref.y[r * 4 + i]), `y chunkRows=${chunkRows}`);
        assert.deepEqual(arr(p.lengths), arr(lengths.subarray(s, s + p.lengths.length)));
        r += p.rows;
        s += p.lengths.length;
      }
      assert.equal(r, rows);
      if (chunkRows === 1) assert.equal(parts.length, 40);
    }
  });
  test('re-iterable source; early break releases the file', async () => {
    const f = file('x1,y1,seq\n1,2,0\n3,4,0\n5,6,1\n');
    const src = await openCSVSource(f, { chunkRows: 1 });
    for await (const c of src.chunks()) {
      assert.equal(c.rows, 2);
      break;
    }
    const a: number[] = [], b: number[] = [];
    for await (const c of src.chunks()) a.push(...c.x);
    for await (const c of src.chunks()) b.push(...c.x);
    assert.deepEqual(a, [1, 3, 5]);
    assert.deepEqual(b, a);
  });
  test('no seq column: one sequence; CRLF, BOM, spaces, blank lines, quotes, extra columns, UTF-8 split across blocks', async () => {
    const text = '\uFEFF"t","x2", x1 ,y1,"note é"\r\n1, 0.5 ,-2,1e-3,"a, b"\r\n2,"3",4,5,é\r\n\r\n3,1,2,3,z\r\n\r\n';
    for (const blockBytes of [3, 1 << 20]) {
      const f = file(text);
      const parts = await all(f, { blockBytes });
      assert.equal(parts.length, 1);
      const c = parts[0];
      assert.equal(c.dx, 2);
      assert.equal(c.dy, 1);
      assert.deepEqual(arr(c.lengths), [3]);
      assert.deepEqual(arr(c.x), [-2, 0.5, 4, 3, 2, 1]); // columns in x1, x2 order, not file order
      assert.deepEqual(arr(c.y), [1e-3, 5, 3]);
    }
  });
  test('x / y / seq options override the convention', async () => {
    const f = file('id,a,b,c,x1,y1\n7,1,2,3,0,0\n7,4,5,6,0,0\n9,7,8,9,0,0\n');
    const src = await openCSVSource(f, { x: ['c', 'a'], y: ['b'], seq: 'id' });
    assert.deepEqual(src.columns, { x: ['c', 'a'], y: ['b'], seq: 'id' });
    const c = await readCSV(f, { x: ['c', 'a'], y: ['b'], seq: 'id' });
    assert.deepEqual(arr(c.x), [3, 1, 6, 4, 9, 7]);
    assert.deepEqual(arr(c.y), [2, 5, 8]);
    assert.deepEqual(arr(c.seqIds), [7, 9]);
    assert.deepEqual(arr(c.lengths), [2, 1]);
    const noY = await readCSV(f, { y: [] });
    assert.equal(noY.dy, 0);
    assert.equal((await readCSV(f, { seq: false })).lengths.length, 1);
  });
});

describe('CSV bad input: UserError with the exact position', () => {
  const H = 'seq,x1,x2,y1\n';
  const rows = (n: number) => Array.from({ length: n }, (_, i) => `0,${i},1,2`).join('\n') + '\n';
  test('header problems', async () => {
    await expectError('seq,x1,x2,y1,y2,y4\n0,1,2,3,4,5\n', '<file>: missing column "y3" (have: seq,x1,x2,y1,y2,y4)');
    await expectError('x1,x2,y1,x2\n1,2,3,4\n', '<file>: duplicate column "x2" (columns 2 and 4)');
    await expectError('a,b\n1,2\n', '<file>: no input columns (expected x1, x2, …; have: a,b)');
    await expectError('x1,a\n1,2\n', '<file>: no output columns (expected y1, y2, …; have: x1,a)', { requireY: true });
    await expectError('x1,y1\n1,2\n', '<file>: missing column "z" (have: x1,y1)', { x: ['z'] });
    await expectError('x1,y1\n1,2\n', '<file>: missing column "id" (have: x1,y1)', { seq: 'id' });
    await expectError('x1,y1\n1,2\n', '<file>: column "x1" is selected twice', { y: ['x1'] });
    await expectError('', '<file>: empty file (expected a header row such as x1,x2,y1,y2,seq)');
    await expectError('\n\n', '<file>: empty file (expected a header row such as x1,x2,y1,y2,seq)');
    await expectError('x1,y1\n', '<file>: no data rows after the header');
    await expectError('x1,y1\r\n\r\n', '<file>: no data rows after the header');
    await assert.rejects(openCSVSource(path.join(dir, 'missing.csv')), (e: Error) => e instanceof UserError && /cannot read data file \(no such file\)/.test(e.message));
  });
  test('cell problems name the 1-based file line and the column', async () => {
    const bad = (cell: string) => H + rows(15) + `0,1,${cell},2\n` + rows(2);
    await expectError(bad('abc'), '<file>:row 17, column "x2": expected a number, got "abc"');
    await expectError(bad(''), '<file>:row 17, column "x2": expected a number, got an empty cell');
    await expectError(bad('NaN'), '<file>:row 17, column "x2": expected a finite number, got "NaN"');
    await expectError(bad('-inf'), '<file>:row 17, column "x2": expected a finite number, got "-inf"');
    await expectError(bad('Infinity'), '<file>:row 17, column "x2": expected a finite number, got "Infinity"');
    await expectError(bad('1e999'), '<file>:row 17, column "x2": expected a finite number, got "1e999"');
    await expectError(bad('0x10'), '<file>:row 17, column "x2": expected a number, got "0x10"');
    await expectError(bad('1.2.3'), '<file>:row 17, column "x2": expected a number, got "1.2.3"');
    await expectError(bad('0x1234567890abcdef12'), '<file>:row 17, column "x2": expected a number, got "0x1234567890abcdef12"');
    await expectError(bad('"1,5"'), '<file>:row 17, column "x2": expected a number, got "1,5"');
    await expectError(H + rows(3) + '1.5,1,2,3\n', '<file>:row 5, column "seq": expected an integer sequence id, got "1.5"');
    // Blank lines still count as file lines.
    await expectError(H + '0,1,2,3\n\n0,1,x,3\n', '<file>:row 4, column "x2": expected a number, got "x"');
  });
  test('ragged rows, quotes, sequence structure', async () => {
    await expectError(H + rows(4) + '0,1,2\n', '<file>:row 6: expected 4 fields (as in the header), got 3');
    await expectError(H + rows(4) + '0,1,2,3,4\n', '<file>:row 6: expected 4 fields (as in the header), got 5');
    await expectError(H + '0,1,2,3\n0,"1,2,3\n', '<file>:row 3: a quoted field is not closed on this line (fields spanning lines are not supported)');
    await expectError(H + '0,1,2,3\n1,1,2,3\n1,1,2,3\n0,1,2,3\n', '<file>:row 5: sequence id 0 appears again after other sequences (rows of a sequence must be contiguous)');
    await expectError(H + '0,1,2,3\n0,1,2,3\n5,1,2,3\n1,1,2,3\n1,1,2,3\n', '<file>:row 4: sequence 5 has 1 row, need at least 2', { minLength: 2 });
    await expectError(H + '0,1,2,3\n0,1,2,3\n4,1,2,3\n', '<file>:row 4: sequence 4 has 1 row, need at least 2', { minLength: 2 });
    await expectError('x1,y1\n1,2\n', '<file>:row 2: the file (one sequence, no seq column) has 1 row, need at least 3', { minLength: 3 });
    // The error surfaces even when the bad row is far beyond the first chunk.
    await expectError(H + rows(300) + '0,1,2\n', '<file>:row 302: expected 4 fields (as in the header), got 3', { chunkRows: 10, blockBytes: 100 });
  });
  test('error helpers', () => {
    assert.equal(cellError('d.csv', 3, 'y1', 'a"b').message, 'd.csv:row 3, column "y1": expected a number, got "a\\"b"');
  });
});

describe('number parser', () => {
  test('agrees with Number() bit for bit on many forms', () => {
    const rng = new Rng(17);
    const forms: ((v: number) => string)[] = [
      (v) => String(v), (v) => v.toPrecision(1 + rng.int(17)), (v) => v.toExponential(rng.int(17)), (v) => v.toFixed(rng.int(12)),
      (v) => String(Math.round(v * 1e6)), (v) => '+' + Math.abs(v).toPrecision(15), (v) => v.toExponential(5).toUpperCase(),
    ];
    for (let k = 0; k < 20000; k++) {
      const v = rng.normal() * 10 ** (rng.int(40) - 20);
      const s = forms[k % forms.length](v);
      const p = parseDecimal(s, 0, s.length);
      ok(Object.is(p, Number(s)), `${s}: ${p} vs ${Number(s)}`);
    }
    for (const s of ['0', '-0', '.5', '5.', '00012', '1e22', '1e23', '9007199254740993', '0.1', '123456789012345.6', '1e-7', '2.5E+3']) {
      ok(Object.is(parseDecimal(s, 0, s.length), Number(s)), s);
    }
    for (const s of ['', '-', '.', 'e5', '1e', '1e+', '1..2', '--1', 'abc', '1,2', 'NaN', 'Infinity', '0x1F', '1_0']) {
      ok(Number.isNaN(parseDecimal(s, 0, s.length)), `should reject ${JSON.stringify(s)}`);
    }
  });
});

describe('writers', () => {
  test('predictions file', async () => {
    const f = file('seq,x1,y1,y2\n4,1,10,20\n4,2,11,21\n9,3,12,22\n');
    const c = await readCSV(f);
    const out = path.join(dir, 'pred.csv');
    await writePredictionsCSV(out, c, Float64Array.from([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]), { includeY: true });
    assert.equal(readFileSync(out, 'utf8'), 'seq,t,yhat1,yhat2,y1,y2\n4,1,0.5,1.5,10,20\n4,2,2.5,3.5,11,21\n9,1,4.5,5.5,12,22\n');
    await assert.rejects(writePredictionsCSV(out, c, Float64Array.from([NaN, 1, 2, 3, 4, 5])), /non-finite/);
    assert.equal(readFileSync(out, 'utf8').split('\n')[1], '4,1,0.5,1.5,10,20'); // failed write left the old file intact
  });
  test('writeCSV without seq for one sequence; non-finite values refused', async () => {
    const chunk: SequenceChunk = makeChunk(2, 1, Float64Array.from([1, 2, 3, 4]), Float64Array.from([0.25, -1]), [2]);
    const out = path.join(dir, 'one.csv');
    await writeCSV(out, chunk, { seq: false });
    assert.equal(readFileSync(out, 'utf8'), 'x1,x2,y1\n1,2,0.25\n3,4,-1\n');
    await assert.rejects(writeCSV(path.join(dir, 'nan.csv'), makeChunk(1, 0, Float64Array.from([NaN]), new Float64Array(0), [1])), /non-finite/);
    ok(!existsSync(path.join(dir, 'nan.csv')), 'no partial file');
  });
  test('atomic writes leave no temporary files; abort and failures clean up', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'gloree-atomic-'));
    const f = path.join(d, 'a.txt');
    await writeFileAtomic(f, 'one');
    await writeFileAtomic(f, 'two');
    assert.equal(readFileSync(f, 'utf8'), 'two');
    const w = await AtomicWriter.open(f, { bufferChars: 4 });
    await w.write('hello ');
    await w.write(new TextEncoder().encode('bytes '));
    await w.write('world');
    assert.equal(readFileSync(f, 'utf8'), 'two'); // nothing visible before commit
    await w.commit();
    assert.equal(readFileSync(f, 'utf8'), 'hello bytes world');
    const w2 = await AtomicWriter.open(f);
    await w2.write('partial');
    await w2.abort();
    assert.equal(readFileSync(f, 'utf8'), 'hello bytes world');
    assert.deepEqual(readdirSync(d), ['a.txt']);
    const missing = path.join(d, 'no', 'such', 'dir.txt');
    await assert.rejects(writeFileAtomic(missing, 'x'), (e: Error) => e instanceof UserError && e.message === `${missing}: cannot write file (no such directory)`);
    // Renaming onto a directory fails after the temp file was written: it must be removed.
    const sub = path.join(d, 'sub');
    mkdirSync(sub);
    await assert.rejects(writeFileAtomic(sub, 'x'), (e: Error) => e instanceof UserError && /sub: cannot write file \(is a directory\)$/.test(e.message));
    await assert.rejects(AtomicWriter.open(sub), (e: Error) => e instanceof UserError && /is a directory/.test(e.message));
    rmdirSync(sub);
    assert.deepEqual(readdirSync(d), ['a.txt']);
  });
});

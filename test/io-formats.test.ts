/**
 * Data formats (tracker issue 6, item 1): CSV (fast and general paths), Arrow IPC and Parquet give the same
 * chunks — bit for bit, with the same chunk boundaries — and hence the same model; column selection,
 * type handling, streaming and format selection behave alike in every format.
 *
 * Ground truth: the in-memory chunk the files were written from (values compared as bit patterns), the
 * chunk-cut rule checked by brute force, and independent writers (apache-arrow / hyparquet-writer used
 * directly, hand-written CSV text) for the variant files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Table, makeVector, tableToIPC, vectorFromArray, Float32, Int64, Uint8, Float64 } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { openDataSource, writeDataFile, resolveFormat, formatFromExtension, type DataFileSource } from '../src/io/open.js';
import { openGeneralCSVSource } from '../src/io/csv-general.js';
import { concatChunks, type CSVChunk } from '../src/io/csv.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { UserError } from '../src/io/errors.js';
import { Rng } from '../src/random/rng.js';
import { fitGloree } from '../src/learn/gloree.js';
import { main } from '../src/cli/main.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-formats-'));
const p = (f: string): string => path.join(dir, f);

/**
 * Random data: sequence lengths minLen..30, values of every magnitude (so decimal round trips are exercised).
 * No −0: the CSV writer prints it as "0" (String(−0)), which is outside what these tests are about.
 */
function randomChunk(seed: number, nSeq: number, dx: number, dy: number, minLen = 1): SequenceChunk {
  const rng = new Rng(seed);
  const lengths = Array.from({ length: nSeq }, () => minLen + rng.int(31 - minLen));
  const rows = lengths.reduce((a, b) => a + b, 0);
  const val = (): number => {
    const k = rng.int(4);
    const v = rng.normal();
    const w = k === 0 ? v : k === 1 ? v * 10 ** (rng.int(40) - 20) : k === 2 ? Math.round(v * 1000) / 1000 : v * 1e-300;
    return w === 0 ? 0 : w;
  };
  const x = Float64Array.from({ length: rows * dx }, val);
  const y = Float64Array.from({ length: rows * dy }, val);
  return makeChunk(dx, dy, x, y, lengths);
}

async function readAll(src: DataFileSource | { chunks(): AsyncIterable<CSVChunk>; dx: number; dy: number }): Promise<CSVChunk[]> {
  const out: CSVChunk[] = [];
  for await (const c of src.chunks()) out.push(c);
  return out;
}

const bits = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Same rows, same bit patterns, same sequences (and ids). */
function assertSameData(got: CSVChunk, want: SequenceChunk, what: string): void {
  assert.equal(got.rows, want.rows, `${what}: rows`);
  assert.deepEqual(Array.from(got.lengths), Array.from(want.lengths), `${what}: lengths`);
  assert.ok(bits(got.x).equals(bits(want.x)), `${what}: x differs`);
  assert.ok(bits(got.y).equals(bits(want.y)), `${what}: y differs`);
}

/** The cut rule, by brute force: each chunk but the last reaches chunkRows only with its last sequence. */
function assertCuts(chunks: CSVChunk[], chunkRows: number, what: string): void {
  let seqs = 0;
  chunks.forEach((c, i) => {
    assert.equal(c.sequenceOffset, seqs, `${what}: sequenceOffset of chunk ${i}`);
    seqs += c.lengths.length;
    if (i < chunks.length - 1) {
      const last = c.lengths[c.lengths.length - 1];
      assert.ok(c.rows - last < chunkRows && c.rows >= chunkRows, `${what}: chunk ${i} has ${c.rows} rows (last sequence ${last}) for chunkRows ${chunkRows}`);
    }
  });
}

test('CSV, Arrow and Parquet give the same chunks, bit for bit, with the same boundaries', async () => {
  const data = randomChunk(1, 300, 3, 2);
  for (const f of ['csv', 'arrow', 'parquet']) await writeDataFile(p(`rt.${f}`), data);
  for (const chunkRows of [1, 37, 500, 1e9]) {
    const per: Record<string, CSVChunk[]> = {};
    for (const f of ['csv', 'arrow', 'parquet']) {
      const src = await openDataSource(p(`rt.${f}`), { chunkRows });
      assert.equal(src.format, f);
      assert.deepEqual(src.columns, { x: ['x1', 'x2', 'x3'], y: ['y1', 'y2'], seq: 'seq' });
      per[f] = await readAll(src);
      assertCuts(per[f], chunkRows, `${f} chunkRows=${chunkRows}`);
      const all = concatChunks(per[f], 3, 2);
      assertSameData(all, data, `${f} chunkRows=${chunkRows}`);
      assert.deepEqual(Array.from(all.seqIds), Array.from({ length: 300 }, (_, k) => k));
    }
    for (const f of ['arrow', 'parquet']) {
      assert.deepEqual(per[f].map((c) => c.rows), per.csv.map((c) => c.rows), `${f} chunk sizes, chunkRows=${chunkRows}`);
    }
  }
  // The general CSV reader (csv-parse) agrees with the fast one.
  const gen = await readAll(await openGeneralCSVSource(p('rt.csv'), { chunkRows: 37 }));
  const fast = await readAll(await openDataSource(p('rt.csv'), { chunkRows: 37 }));
  assert.deepEqual(gen.map((c) => c.rows), fast.map((c) => c.rows));
  assertSameData(concatChunks(gen, 3, 2), data, 'general CSV');
  assert.deepEqual(Array.from(concatChunks(gen, 3, 2).firstLine), Array.from(concatChunks(fast, 3, 2).firstLine));
});

test('the same model, bit for bit, from the same data in CSV, Arrow and Parquet (CLI, with refinement)', async () => {
  const sim = await main(['node', 'gloree', 'simulate', '--sequences', '800', '--seed', '9', '--out', p('sim.csv')], { out: () => undefined, err: () => undefined });
  assert.equal(sim, 0);
  const data = concatChunks(await readAll(await openDataSource(p('sim.csv'))), 4, 4);
  await writeDataFile(p('sim.arrow'), data);
  await writeDataFile(p('sim.parquet'), data);
  const models: string[] = [];
  for (const f of ['csv', 'arrow', 'parquet']) {
    let err = '';
    const code = await main(['node', 'gloree', 'fit', p(`sim.${f}`), '--hidden', '4', '--seed', '1', '--quiet', '--out', p(`model-${f}.json`)], { out: () => undefined, err: (t) => (err += t) });
    assert.equal(code, 0, err);
    const m = JSON.parse(readFileSync(p(`model-${f}.json`), 'utf8'));
    // Wall-clock times are the only thing allowed to differ.
    const strip = (o: unknown): unknown => JSON.parse(JSON.stringify(o, (k, v) => (/^timingsMs$|timeMs/.test(k) ? undefined : v)));
    models.push(JSON.stringify(strip(m)));
  }
  assert.equal(models[1], models[0], 'Arrow model differs from the CSV model');
  assert.equal(models[2], models[0], 'Parquet model differs from the CSV model');
  // predict gives the same file from every format, also with --format on an unknown extension.
  copyFileSync(p('sim.parquet'), p('sim-parquet.dat'));
  const preds: string[] = [];
  for (const [file, extra] of [['sim.csv', []], ['sim.arrow', []], ['sim-parquet.dat', ['--format', 'parquet']]] as const) {
    let err = '';
    const code = await main(['node', 'gloree', 'predict', p('model-csv.json'), p(file), ...extra, '--out', p('pred.csv')], { out: () => undefined, err: (t) => (err += t) });
    assert.equal(code, 0, err);
    preds.push(readFileSync(p('pred.csv'), 'utf8'));
  }
  assert.equal(preds[0].split('\n').length, 16000 + 2);
  assert.equal(preds[1], preds[0]);
  assert.equal(preds[2], preds[0]);
});

test('the same model from every format when the data spans several chunks (fitGloree, refinement off)', async () => {
  // Well-conditioned data (Gaussian inputs, outputs a smooth function of the last two inputs plus noise).
  const rng = new Rng(2);
  const lengths = Array.from({ length: 120 }, () => 2 + rng.int(29));
  const rows = lengths.reduce((a, b) => a + b, 0);
  const x = Float64Array.from(rng.normalArray(rows * 3));
  const y = new Float64Array(rows * 3);
  for (let r = 1; r < rows; r++) for (let j = 0; j < 3; j++) y[3 * r + j] = Math.tanh(x[3 * r + j] + 0.5 * x[3 * (r - 1) + ((j + 1) % 3)]) ** 2 + 0.1 * rng.normal();
  const data = makeChunk(3, 3, x, y, lengths);
  for (const f of ['csv', 'arrow', 'parquet']) await writeDataFile(p(`multi.${f}`), data);
  const results = [];
  for (const f of ['csv', 'arrow', 'parquet']) {
    const src = await openDataSource(p(`multi.${f}`), { chunkRows: 200, minLength: 1 });
    assert.ok((await readAll(src)).length >= 4, 'several chunks');
    const res = await fitGloree(src, { hidden: 2, seed: 3, refine: false, onWarning: () => undefined });
    results.push(res.params);
  }
  for (const k of ['A1', 'U', 'A2'] as const) {
    assert.ok(bits(results[1][k].data).equals(bits(results[0][k].data)), `Arrow ${k}`);
    assert.ok(bits(results[2][k].data).equals(bits(results[0][k].data)), `Parquet ${k}`);
  }
});

test('column selection by name, ignored columns, no seq column: same rules in every format', async () => {
  // Hand-built files with the columns in a different order, renamed, and an extra text column.
  const rows = 12;
  const a = Float64Array.from({ length: rows }, (_, r) => r / 8);
  const b = Float64Array.from({ length: rows }, (_, r) => 1 - r * 1.5);
  const c = Float64Array.from({ length: rows }, (_, r) => r * r);
  const id = Int32Array.from({ length: rows }, (_, r) => 100 - Math.floor(r / 4) * 7); // ids need not be sorted
  const note = Array.from({ length: rows }, (_, r) => `n${r}`);
  writeFileSync(p('sel.csv'), 'note,b,id,a,c\n' + Array.from({ length: rows }, (_, r) => `${note[r]},${b[r]},${id[r]},${a[r]},${c[r]}`).join('\n') + '\n');
  writeFileSync(p('sel.arrow'), tableToIPC(new Table({ note: vectorFromArray(note), b: makeVector(b), id: makeVector(id), a: makeVector(a), c: makeVector(c) }), 'file'));
  writeFileSync(
    p('sel.parquet'),
    new Uint8Array(parquetWriteBuffer({
      columnData: [
        { name: 'note', data: note, type: 'STRING' },
        { name: 'b', data: b, type: 'DOUBLE' },
        { name: 'id', data: id, type: 'INT32' },
        { name: 'a', data: a, type: 'DOUBLE' },
        { name: 'c', data: c, type: 'DOUBLE' },
      ],
      rowGroupSize: 5,
    })),
  );
  for (const f of ['csv', 'arrow', 'parquet']) {
    const src = await openDataSource(p(`sel.${f}`), { x: ['a', 'b'], y: ['c'], seq: 'id' });
    assert.deepEqual(src.columns, { x: ['a', 'b'], y: ['c'], seq: 'id' }, f);
    const ch = concatChunks(await readAll(src), 2, 1);
    assert.deepEqual(Array.from(ch.lengths), [4, 4, 4], f);
    assert.deepEqual(Array.from(ch.seqIds), [100, 93, 86], f);
    assert.deepEqual(Array.from(ch.x), Array.from({ length: rows }, (_, r) => [a[r], b[r]]).flat(), f);
    assert.deepEqual(Array.from(ch.y), Array.from(c), f);
    // Without a seq column the file is one sequence.
    const one = concatChunks(await readAll(await openDataSource(p(`sel.${f}`), { x: ['a'], y: [] })), 1, 0);
    assert.deepEqual(Array.from(one.lengths), [rows], f);
    // A missing selected column and a non-numeric selected column are errors naming the column.
    await assert.rejects(openDataSource(p(`sel.${f}`), { x: ['a', 'zz'] }), (e: Error) => e instanceof UserError && /missing column "zz"/.test(e.message), f);
    const rejectNote = async (): Promise<void> => {
      const s = await openDataSource(p(`sel.${f}`), { x: ['note'], y: ['c'] });
      await readAll(s);
    };
    await assert.rejects(rejectNote(), (e: Error) => e instanceof UserError && /"note"/.test(e.message), f);
  }
});

test('Arrow: stream format, float32 / int64 / uint8 / nullable columns, batches cut inside sequences', async () => {
  const n = 50;
  const x1 = Float32Array.from({ length: n }, (_, r) => r / 4 - 3);
  const x2 = BigInt64Array.from({ length: n }, (_, r) => BigInt(r * 1000 - 7));
  const y1 = Uint8Array.from({ length: n }, (_, r) => (r * 7) % 256);
  const y2 = Array.from({ length: n }, (_, r) => r * 0.5); // nullable Float64 with no nulls
  const seq = Int32Array.from({ length: n }, (_, r) => Math.floor(r / 7));
  const whole = new Table({ seq: makeVector(seq), x1: makeVector(x1), x2: makeVector(x2), y1: makeVector(y1), y2: vectorFromArray(y2, new Float64()) });
  // Batches of 8 rows: sequences of 7 cross batch boundaries.
  const batched = new Table([0, 8, 16, 24, 32, 40, 48].flatMap((s) => whole.slice(s, Math.min(n, s + 8)).batches));
  assert.ok(batched.batches.length >= 7);
  writeFileSync(p('var.arrows'), tableToIPC(batched, 'stream'));
  writeFileSync(p('var.feather'), tableToIPC(batched, 'file'));
  for (const f of ['var.arrows', 'var.feather']) {
    const src = await openDataSource(p(f), { chunkRows: 10 });
    assert.equal(src.format, 'arrow');
    const chunks = await readAll(src);
    assertCuts(chunks, 10, f);
    const ch = concatChunks(chunks, 2, 2);
    assert.deepEqual(Array.from(ch.lengths), [7, 7, 7, 7, 7, 7, 7, 1]);
    assert.deepEqual(Array.from(ch.x), Array.from({ length: n }, (_, r) => [x1[r], Number(x2[r])]).flat());
    assert.deepEqual(Array.from(ch.y), Array.from({ length: n }, (_, r) => [y1[r], y2[r]]).flat());
    assert.deepEqual(Array.from(ch.firstLine), [1, 8, 15, 22, 29, 36, 43, 50]);
  }
  // Types that hold no numbers are refused up front, naming the column and its type.
  writeFileSync(p('f32.arrow'), tableToIPC(new Table({ x1: vectorFromArray([1, 2, 3], new Float32()), y1: vectorFromArray([1n, 2n, 3n], new Int64()), z: vectorFromArray([1, 2, 3], new Uint8()) }), 'file'));
  const ok = concatChunks(await readAll(await openDataSource(p('f32.arrow'))), 1, 1);
  assert.deepEqual(Array.from(ok.y), [1, 2, 3]);
});

test('Parquet: row groups cut inside sequences, INT64 / FLOAT / optional columns, compressed pages', async () => {
  const n = 40;
  const seq = Array.from({ length: n }, (_, r) => BigInt(Math.floor(r / 6)));
  const x1 = Float32Array.from({ length: n }, (_, r) => r / 8);
  const y1 = Array.from({ length: n }, (_, r) => (r % 5) - 2.25);
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'seq', data: seq, type: 'INT64' },
      { name: 'x1', data: x1, type: 'FLOAT' },
      { name: 'y1', data: y1, type: 'DOUBLE', nullable: true },
    ],
    rowGroupSize: 9,
    codec: 'SNAPPY',
  });
  writeFileSync(p('var.parquet'), new Uint8Array(buf));
  const chunks = await readAll(await openDataSource(p('var.parquet'), { chunkRows: 13 }));
  assertCuts(chunks, 13, 'parquet');
  const ch = concatChunks(chunks, 1, 1);
  assert.deepEqual(Array.from(ch.lengths), [6, 6, 6, 6, 6, 6, 4]);
  assert.deepEqual(Array.from(ch.x), Array.from(x1));
  assert.deepEqual(Array.from(ch.y), y1);
  assert.deepEqual(Array.from(ch.firstLine), [1, 7, 13, 19, 25, 31, 37]);
});

test('general CSV: semicolons, tabs, quoted fields spanning lines, CRLF and BOM read like plain CSV', async () => {
  const data = randomChunk(4, 40, 2, 1);
  await writeDataFile(p('plain.csv'), data);
  const plain = readFileSync(p('plain.csv'), 'utf8');
  const lines = plain.trim().split('\n');
  writeFileSync(p('semi.csv'), lines.map((l) => l.replaceAll(',', ';')).join('\n') + '\n');
  writeFileSync(p('tab.tsv'), '\ufeff' + lines.map((l) => l.replaceAll(',', '\t')).join('\r\n') + '\r\n');
  // A quoted header name and quoted cells with a line break inside the quotes (spaces around values are
  // trimmed, so "1.5\n" reads as 1.5). The multi-line field sits late in the file, after several chunks.
  const quoted = lines.map((l, i) => {
    if (i === 0) return l.replace('x1', '"x1"');
    if (i === lines.length - 3) {
      const f = l.split(',');
      f[1] = `"${f[1]}\n"`;
      return f.join(',');
    }
    return l;
  });
  writeFileSync(p('quoted.csv'), quoted.join('\r\n') + '\r\n');
  const want = concatChunks(await readAll(await openDataSource(p('plain.csv'), { chunkRows: 50 })), 2, 1);
  assertSameData(want, data, 'plain');
  for (const f of ['semi.csv', 'tab.tsv', 'quoted.csv']) {
    const src = await openDataSource(p(f), { chunkRows: 50 });
    // Two passes: the first may switch readers half-way (quoted.csv), the second starts on the general one.
    for (let pass = 0; pass < 2; pass++) {
      const chunks = await readAll(src);
      assertCuts(chunks, 50, f);
      assertSameData(concatChunks(chunks, 2, 1), data, `${f} pass ${pass}`);
    }
  }
});

test('chunks stay bounded: memory does not grow with the number of rows (every format)', async () => {
  const data = randomChunk(5, 2000, 2, 2); // ≈ 31,000 rows
  for (const f of ['csv', 'arrow', 'parquet']) {
    await writeDataFile(p(`big.${f}`), data);
    let n = 0;
    for await (const c of (await openDataSource(p(`big.${f}`), { chunkRows: 1000 })).chunks()) {
      n++;
      // A chunk holds < chunkRows + one sequence (≤ 30 rows); its buffers are not views of a whole-file array.
      assert.ok(c.rows < 1000 + 30, `${f}: chunk of ${c.rows} rows`);
      const cap = Math.max(c.x.buffer.byteLength / (8 * 2), c.y.buffer.byteLength / (8 * 2));
      assert.ok(cap <= 2 * 65536, `${f}: chunk buffer of ${cap} rows`);
    }
    assert.ok(n >= 30, `${f}: only ${n} chunks`);
  }
});

test('format selection: extension, magic bytes, --format, and writeDataFile', async () => {
  assert.equal(formatFromExtension('a/b.PARQUET'), 'parquet');
  assert.equal(formatFromExtension('x.feather'), 'arrow');
  assert.equal(formatFromExtension('x.tsv'), 'csv');
  assert.equal(formatFromExtension('x.dat'), undefined);
  const data = randomChunk(6, 5, 1, 1);
  for (const f of ['arrow', 'parquet', 'csv'] as const) {
    const file = p(`noext-${f}.dat`);
    assert.equal(await writeDataFile(file, data, { format: f }), f);
    assert.equal(await resolveFormat(file), f, `sniffed ${f}`);
    const src = await openDataSource(file, { format: f });
    assertSameData(concatChunks(await readAll(src), 1, 1), data, `${f} via --format`);
  }
  // Extension and content disagree → a clear error; --format decides explicitly.
  copyFileSync(p('noext-parquet.dat'), p('liar.arrow'));
  await assert.rejects(openDataSource(p('liar.arrow')), /looks like Parquet data, not ARROW/);
  assert.equal((await openDataSource(p('liar.arrow'), { format: 'parquet' })).format, 'parquet');
  await assert.rejects(openDataSource(p('liar.arrow'), { format: 'xlsx' }), (e: Error) => e instanceof UserError && /unknown data format "xlsx"/.test(e.message));
  // Written atomically: no temporary files left; a non-finite value is refused before anything is written.
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), []);
  const bad = makeChunk(1, 1, Float64Array.of(1, NaN), Float64Array.of(0, 0), [2]);
  for (const f of ['csv', 'arrow', 'parquet']) {
    await assert.rejects(writeDataFile(p(`nan.${f}`), bad), /non-finite/);
    assert.ok(!readdirSync(dir).some((n) => n.includes(`nan.${f}`)), `${f}: partial file left`);
  }
  // seq: false writes one sequence without a seq column.
  await writeDataFile(p('noseq.parquet'), makeChunk(1, 1, Float64Array.of(1, 2, 3), Float64Array.of(4, 5, 6), [3]), { seq: false });
  const ns = await openDataSource(p('noseq.parquet'));
  assert.deepEqual(ns.header, ['x1', 'y1']);
});

test('cleanup', () => {
  rmSync(dir, { recursive: true, force: true });
});

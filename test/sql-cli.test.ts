import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { main } from '../src/cli/main.js';
import { openDataSource } from '../src/io/open.js';
import { DIALECTS } from '../src/sql/dialect.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(path.join(tmpdir(), 'gloree-sql-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Split a shell line into words (double-quoted words kept whole). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

async function gloree(args: string[]): Promise<string> {
  let stdout = '', stderr = '';
  const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  assert.equal(code, 0, `gloree ${args.join(' ')}: ${stderr}`);
  return stdout;
}

test('docs/sql-engines.md worked example: the printed pass-1 query runs on DuckDB and counts the file', async () => {
  const doc = readFileSync(path.join(root, 'docs/sql-engines.md'), 'utf8');
  const block = /## Worked example[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc)![1];
  const lines = block.trim().split('\n');
  process.chdir(dir);
  let printed = '';
  for (const l of lines) {
    const w = words(l);
    assert.equal(w[0], 'gloree');
    printed = await gloree(w.slice(1));
  }
  const queries = printed.split(';\n').filter((q) => q.trim().length > 0);
  assert.equal(queries.length, 1, 'pass 1 only without --model');
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    const row = (await c.runAndReadAll(queries[0])).getRowObjects()[0];
    // Independent count: the in-process reader of the same file.
    let rows = 0, sequences = 0;
    for await (const ch of (await openDataSource(path.join(dir, 'data.parquet'))).chunks()) {
      rows += ch.rows;
      sequences += ch.lengths.length;
    }
    assert.equal(Number(row.n), rows);
    assert.equal(rows, 1000, 'the doc says n = 1000');
    // The sequence count is the 'sequences' aggregate: find it through the definition's order (after the checks).
    assert.ok(Object.values(row).some((v) => Number(v) === sequences));
  } finally {
    c.closeSync();
    inst.closeSync();
  }
});

test('gloree sql prints every dialect; --model adds the later passes with the model constants', async () => {
  const model = path.join(dir, 'model.json');
  await gloree(['simulate', '--scenario', 'default', '--sequences', '200', '--out', path.join(dir, 'd.csv')]);
  await gloree(['fit', path.join(dir, 'd.csv'), '--hidden', '4', '--no-refine', '--out', model, '--quiet']);
  for (const d of DIALECTS) {
    const out = await gloree(['sql', '--dialect', d, '--table', 'lake.measurements', '--x', 'x1,x2,x3,x4', '--y', 'y1,y2,y3,y4', '--seq', 'seq', '--time', 't', '--model', model]);
    const qs = out.split(';\n').filter((q) => q.trim().length > 0);
    assert.equal(qs.length, 4, `${d}: pass 1, moments, control variate, mixed`);
    const q = d === 'spark' ? '`' : '"';
    assert.ok(out.includes(`FROM ${q}lake${q}.${q}measurements${q}`), `${d}: quoted table`);
    if (d !== 'duckdb') assert.ok(!out.includes('isfinite('), `${d}: no DuckDB-only functions`);
  }
  let stderr = '';
  const code = await main(['node', 'gloree', 'sql', '--table', 't', '--x', 'x1', '--y', 'y1'], { out: () => undefined, err: (t) => (stderr += t) });
  assert.equal(code, 1);
  assert.match(stderr, /give --time C/);
});

test('gloree sql --model: the linear learner prints its Markov pass, the polynomial learner its U moment (after its explicit order-l moment), the BRNN its fold statistics; they run on DuckDB', async () => {
  const file = path.join(dir, 'learners.parquet');
  await gloree(['simulate', '--scenario', 'cubic', '--sequences', '40', '--out', file]);
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    for (const [args, name] of [
      [['--activation', 'linear', '--hidden', '2', '--no-standardise'], 'Markov parameters (64 lags)'],
      [['--activation', '0,0.1,0.5,1', '--hidden', '3'], 'diagonal Hermite moment (P2prime, degree 3)'],
      [['--kind', 'brnn', '--hidden', '2', '--backward', '1'], 'projected mixed moment (prev)'],
      // An odd activation: the directions from the explicit order-3 moment (dy·dx³ = 625), then P2′.
      [['--activation', 'z3', '--hidden', '3'], 'order-3 Hermite moment'],
    ] as const) {
      const model = path.join(dir, 'learner.json');
      await gloree(['fit', file, ...args, '--no-refine', '--out', model, '--quiet']);
      const out = await gloree(['sql', '--from', `read_parquet('${file}', file_row_number = true)`, '--order', 'file_row_number', '--x', 'x1,x2,x3,x4,x5', '--y', 'y1,y2,y3,y4,y5', '--seq', 'seq', '--model', model]);
      const qs = out.split(';\n').filter((q) => q.trim().length > 0);
      assert.equal(qs.length, name.includes('mixed') || name.includes('order-3') ? 5 : 4, `${name}: pass 1, moments, control variate, the learner's pass(es)`);
      assert.ok(qs[3].trimStart().startsWith(`-- gloree pass: ${name}\n`), qs[3].slice(0, 80));
      const rows = (await c.runAndReadAll(qs[3])).getRows();
      assert.ok(rows.length >= 1 && rows.every((r) => r.slice(1).some((v) => v !== null && Number(v) !== 0)), `${name}: result rows`);
    }
  } finally {
    c.closeSync();
    inst.closeSync();
  }
});

test('gloree sql --model on a non-Gaussian (mixture) input model prints its T2 halves and the learner\'s passes (quadratic: conditional-score U; polynomial: T1, order-3 moment, P2′; BRNN: fold statistics; smooth: T1, T3 halves); they run on DuckDB', async () => {
  const file = path.join(dir, 'mixture.parquet'), model = path.join(dir, 'mixture.json');
  await gloree(['simulate', '--scenario', 'default', '--sequences', '60', '--out', file]);
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    for (const [args, names] of [
      [['--hidden', '4'], ['non-Gaussian U (conditional scores)']],
      [['--activation', '0,0.1,0.5,1', '--hidden', '3'], ['non-Gaussian T1 (t < L − 1)', 'non-Gaussian diagonal moment (P2prime, degree 3)']],
      [['--kind', 'brnn', '--hidden', '2', '--backward', '1'], ['non-Gaussian projected mixed moment (prev)', 'non-Gaussian projected mixed moment (next)']],
      // An odd activation: directions from the order-3 moment, formed explicitly (dy·dx³ = 256).
      [['--activation', 'z3', '--hidden', '3'], ['non-Gaussian T1 (t < L − 1)', 'non-Gaussian order-3 moment', 'non-Gaussian diagonal moment (P2prime, degree 3)']],
      // The smooth learner (unstandardised: the mixture model itself, not a scaled one): T3 on two halves.
      [['--activation', 'tanh', '--hidden', '2', '--no-standardise'], ['non-Gaussian T1 (t < L − 1)', 'non-Gaussian order-3 moment (halves)']],
    ] as const) {
      await gloree(['fit', file, '--input-model', 'mixture', ...args, '--no-refine', '--out', model, '--quiet']);
      const out = await gloree(['sql', '--from', `read_parquet('${file}', file_row_number = true)`, '--order', 'file_row_number', '--x', 'x1,x2,x3,x4', '--y', 'y1,y2,y3,y4', '--seq', 'seq', '--model', model]);
      const qs = out.split(';\n').filter((q) => q.trim().length > 0);
      assert.deepEqual(qs.map((q) => /-- gloree pass: (.*)\n/.exec(q)![1]), ['input model statistics', 'non-Gaussian T2 halves', ...names]);
      // NULL: a sum over no rows (Σ_{t=0} y when step 0 is left out, firstExactStep = 1).
      for (const q of qs.slice(1)) {
        const rows = (await c.runAndReadAll(q)).getRows();
        assert.ok(rows.length >= 1 && rows.every((r) => r.slice(1).every((v) => v === null || Number.isFinite(Number(v))) && r.slice(2).some((v) => Number(v) !== 0)), q.slice(0, 60));
      }
    }
  } finally {
    c.closeSync();
    inst.closeSync();
  }
});

test('README "Data that does not fit in one process": the file → DuckDB → printed SQL commands run as written', async () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = /## Data that does not fit in one process([\s\S]*?)\n## /.exec(readme)![1];
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
  const d = mkdtempSync(path.join(tmpdir(), 'gloree-readme-sql-'));
  const cwd = process.cwd();
  try {
    process.chdir(d);
    let printed = '';
    for (const l of block.trim().split('\n')) {
      const w = words(l);
      assert.equal(w[0], 'gloree');
      printed = await gloree(w.slice(1));
    }
    // The DuckDB fit is the in-process fit (independent route: the in-process readers).
    await gloree(['fit', 'lake.parquet', '--engine', 'process', '--hidden', '4', '--no-refine', '--out', 'model-process.json']);
    assert.equal(readFileSync('model.json', 'utf8'), readFileSync('model-process.json', 'utf8'));
    const qs = printed.split(';\n').filter((q) => q.trim().length > 0);
    assert.equal(qs.length, 4, 'the README says four queries');
    assert.ok(qs.every((q) => q.includes('FROM "lake"."measurements"')));
  } finally {
    process.chdir(cwd);
    rmSync(d, { recursive: true, force: true });
  }
});

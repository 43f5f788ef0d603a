import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AUTO_DUCKDB_BYTES, chooseEngine } from '../src/io/engines/open.js';
import { FIT_TOL, fails, modelDifference, ok } from './sql-fit.js';

/**
 * `gloree fit FILE --engine duckdb` (issue #16): the same model as the in-process readers for the IO-RNN (σ = z²),
 * the BRNN and the polynomial learner, and the file readers' kind of one-line errors for bad input.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'gloree-sql-fit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const f = (name: string) => path.join(dir, name);

// `sql`: the stages that must have run as aggregate queries in DuckDB (`fit --json` "passes"), so that a silent fall
// back to streamed rows fails the test. The BRNN case has 400 sequences: at 200 its T2 is noisy enough (CP residual
// 0.12, "split ambiguous") that the tied CP's ALS stops (tol 1e-12 per step, slow linear rate) ~1e-10 from where it
// stops on T2 summed in another order, and the output layer carries that to 4e-9 in b; at 400 the difference is
// 3e-12. It runs without the control variate (at dx = 6 its queries, the normal equations and the residual target
// of each mixed moment, took 5 s of a 6.5 s fit; the IO-RNN and polynomial cases run it), so its mixed moments
// target y − ȳ.
const cases: { name: string; scenario: string; format: string; sequences: number; args: string[]; sql: Record<string, string> }[] = [
  { name: 'IO-RNN σ = z²', scenario: 'default', format: 'parquet', sequences: 200, args: ['--hidden', '4'], sql: { moments: 'sql', 'mixed moment': 'sql' } },
  // Non-Gaussian input model: the mixture T2 halves and the conditional-score U as queries (src/sql/nongaussian-passes.ts).
  { name: 'IO-RNN σ = z², mixture input model', scenario: 'default', format: 'parquet', sequences: 200, args: ['--hidden', '4', '--input-model', 'mixture'], sql: { moments: 'sql', 'mixed moment': 'sql' } },
  {
    name: 'BRNN',
    scenario: 'brnn',
    format: 'parquet',
    sequences: 400,
    args: ['--kind', 'brnn', '--hidden', '2', '--backward', '2', '--no-control-variate'],
    sql: { moments: 'sql', 'mixed moments': 'sql', 'mixed moments (groups)': 'sql' },
  },
  // An odd activation takes the directions from the order-l moment (the P1 route of src/learn/identify/poly-directions.ts).
  {
    name: 'polynomial σ = z³',
    scenario: 'cubic',
    format: 'csv',
    sequences: 200,
    args: ['--hidden', '3', '--activation', '0,0,0,1'],
    sql: { 'order-l moment': 'sql', 'mixed moment': 'sql' },
  },
  { name: 'polynomial σ = z³ + 0.5z² + 0.1z', scenario: 'cubic', format: 'csv', sequences: 200, args: ['--hidden', '3', '--activation', '0,0.1,0.5,1'], sql: { moments: 'sql + rows (the control-variate subsample is kept as rows)', 'mixed moment': 'sql' } },
];

for (const c of cases) {
  test(`fit --engine duckdb: ${c.name} (${c.format}) equals the in-process fit before refinement (1e-9 relative)`, async () => {
    const data = f(`${c.scenario}.${c.format}`);
    await ok(['simulate', '--scenario', c.scenario, '--sequences', String(c.sequences), '--out', data]);
    const common = [data, ...c.args, '--no-refine', '--quiet'];
    await ok(['fit', ...common, '--engine', 'process', '--out', f(`${c.scenario}-p.json`)]);
    const passes = JSON.parse(await ok(['fit', ...common, '--engine', 'duckdb', '--sql-passes', 'on', '--json', '--out', f(`${c.scenario}-d.json`)])).passes;
    for (const [stage, where] of Object.entries(c.sql)) assert.equal(passes[stage], where, `stage ${stage}: ${JSON.stringify(passes)}`);
    const d = modelDifference(f(`${c.scenario}-d.json`), f(`${c.scenario}-p.json`));
    assert.ok(d <= FIT_TOL, `relative difference ${d}`);
  });
}

test('fit --engine duckdb with refinement: the refinement sample (row cap) is the same whole sequences', async () => {
  const data = f('default.parquet');
  const args = [data, '--hidden', '4', '--refine-max-rows', '1500', '--quiet'];
  await ok(['fit', ...args, '--engine', 'process', '--out', f('r-p.json')]);
  await ok(['fit', ...args, '--engine', 'duckdb', '--out', f('r-d.json')]);
  const p = JSON.parse(readFileSync(f('r-p.json'), 'utf8')), d = JSON.parse(readFileSync(f('r-d.json'), 'utf8'));
  assert.ok(p.diagnostics.refine.trainRows + (p.diagnostics.refine.validationRows ?? 0) <= 1500 + 20 * 2, 'row cap (whole sequences of 20 steps)');
  assert.deepEqual(d.diagnostics.refine, p.diagnostics.refine);
  assert.ok(modelDifference(f('r-d.json'), f('r-p.json')) <= FIT_TOL);
});

test('fit --engine duckdb: bad input gets one-line errors naming file, column and row', async () => {
  const csv = (name: string, text: string) => (writeFileSync(f(name), text), f(name));
  const out = ['--hidden', '1', '--out', f('bad.json'), '--engine', 'duckdb'];
  const good = 'seq,t,x1,x2,y1,label\n' + Array.from({ length: 12 }, (_, r) => `${r >> 2},${r % 4},${(r * 0.37) % 1},${(r * 0.61) % 1},${(r * 0.29) % 1},a`).join('\n') + '\n';
  const lines = good.trim().split('\n');
  // An empty field is NULL in DuckDB: data row 6 (file line 7), column x2.
  const withNull = lines.map((l, i) => (i === 6 ? l.replace(/^([^,]*,[^,]*,[^,]*,)[^,]*/, '$1') : l)).join('\n') + '\n';
  const e = await fails(['fit', csv('null.csv', withNull), '--x', 'x1,x2', ...out], /null\.csv: column "x2" has 1 NULL value\(s\) \(first at data row 6\); expected a number/);
  assert.ok(!e.includes('Error:'), e);
  await fails(['fit', csv('good.csv', good), '--x', 'x1,x9', ...out], /good\.csv: missing column "x9"/);
  await fails(['fit', f('good.csv'), '--x', 'x1,x2', '--y', 'label', ...out], /good\.csv: column "label" has type VARCHAR; expected a number/);
  // Repeated time value within a sequence.
  const tie = lines.map((l, i) => (i === 3 ? l.replace(/^(\d+),\d+/, '$1,1') : l)).join('\n') + '\n';
  await fails(['fit', csv('tie.csv', tie), '--x', 'x1,x2', '--time', 't', ...out], /tie\.csv: a step repeats the time column "t" value of the previous step of its sequence \(first at seq = 0, t = 1\)/);
  // Rows of a sequence not contiguous in the file (no time column to order them).
  const gap = [lines[0], lines[1], lines[5], ...lines.slice(2, 5), ...lines.slice(6)].join('\n') + '\n';
  await fails(['fit', csv('gap.csv', gap), '--x', 'x1,x2', ...out], /gap\.csv: sequence id 0 appears again at data row 3 after other sequences/);
  // Unordered time is fine when --time is given: the engine sorts (same model as the sorted file).
  csv('rev.csv', [lines[0], ...lines.slice(1).reverse()].join('\n') + '\n');
  // The aggregate queries see the rows the engine orders by time (the same sums as for the sorted file), and so do
  // the streamed rows (the default, --sql-passes off: the same rows in the same order as the in-process reader). The two
  // files' rows may reach the aggregates in different orders (the time sort's output), and U (1×1) of these 12 rows is a mixed moment of 3
  // short sequences that nearly cancels: its rounding reaches 1e-7 relative, hence 1e-6 for the SQL pair (a wrong
  // order moves it by ≳ 1e-3, see test/sql-fit.ts).
  const fitRev = ['fit', f('rev.csv'), '--x', 'x1,x2', '--time', 't', '--no-refine', '--hidden', '1', '--engine', 'duckdb', '--quiet'];
  await ok([...fitRev, '--sql-passes', 'on', '--out', f('rev.json')]);
  await ok(['fit', f('good.csv'), '--x', 'x1,x2', '--no-refine', '--hidden', '1', '--out', f('fwd-d.json'), '--engine', 'duckdb', '--sql-passes', 'on', '--quiet']);
  assert.ok(modelDifference(f('rev.json'), f('fwd-d.json')) <= 1e-6);
  await ok([...fitRev, '--out', f('rev-rows.json')]);
  await ok(['fit', f('good.csv'), '--x', 'x1,x2', '--no-refine', '--hidden', '1', '--out', f('fwd.json'), '--engine', 'process', '--quiet']);
  assert.ok(modelDifference(f('rev-rows.json'), f('fwd.json')) <= FIT_TOL);
  // Flags that do not go together.
  await fails(['fit', f('good.csv'), '--x', 'x1,x2', '--hidden', '1', '--out', f('bad.json'), '--time', 't'], /--time orders the rows through an engine/);
  await fails(['fit', f('good.csv'), '--x', 'x1,x2', '--table', 'm', ...out], /--table names a table of a postgres/);
  await fails(['fit', f('good.csv'), '--x', 'x1,x2', '--hidden', '1', '--out', f('bad.json'), '--engine', 'process', '--sql-passes', 'on'], /--sql-passes on runs the moment passes as queries in an engine/);
  await fails(['fit', f('good.csv'), '--x', 'x1,x2', '--hidden', '1', '--out', f('bad.json'), '--engine', 'postgres'], /--engine postgres needs a connection string/);
});

test('--engine auto: DuckDB for Parquet files from 64 MiB on, the in-process readers otherwise', async () => {
  const big = f('big.parquet');
  closeSync(openSync(big, 'w'));
  truncateSync(big, AUTO_DUCKDB_BYTES); // sparse: no disk used
  assert.equal(await chooseEngine(big, 'auto'), 'duckdb');
  truncateSync(big, AUTO_DUCKDB_BYTES - 1);
  assert.equal(await chooseEngine(big, 'auto'), 'process');
  assert.equal(await chooseEngine(big, undefined, 'csv'), 'process');
  assert.equal(await chooseEngine('postgres://h/db', 'auto'), 'postgres');
  assert.equal(await chooseEngine(big, 'duckdb'), 'duckdb');
});

test('fit --engine duckdb --sql-passes on: the same data and seed give the same model file byte for byte', async () => {
  // 40 000 rows: enough for DuckDB to run the aggregates on several threads, whose partial sums used to be added in
  // the order the threads finished (three runs, three different files, ≈1e-13 apart). src/io/engines/engine.ts now
  // runs each aggregate query on one thread.
  const data = f('det.parquet');
  await ok(['simulate', '--scenario', 'default', '--sequences', '2000', '--seed', '4', '--out', data]);
  const args = ['fit', data, '--hidden', '4', '--no-refine', '--quiet', '--engine', 'duckdb', '--sql-passes', 'on'];
  await ok([...args, '--out', f('det1.json')]);
  await ok([...args, '--out', f('det2.json')]);
  assert.equal(readFileSync(f('det1.json'), 'utf8'), readFileSync(f('det2.json'), 'utf8'));
});

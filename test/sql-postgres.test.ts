import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SequenceChunk, makeChunk } from '../src/io/dataset.js';
import { openDataSource } from '../src/io/open.js';
import { openPostgresTable } from '../src/io/engines/postgres.js';
import { compareIdentifyPasses, compareLongSequences, comparePasses, markovData, randomData } from './sql-fixtures.js';
import { compareNonGaussianPasses, mixtureData, mixtureModels } from './sql-nongaussian-fixtures.js';
import { compareNonGaussianMoments } from './sql-ng-moments-fixtures.js';
import { FIT_TOL, fails, modelDifference, ok, run } from './sql-fit.js';

/**
 * Against a real PostgreSQL 15 server: a throw-away cluster (initdb -A trust in a temp dir owned by `postgres`,
 * loopback port, socket in the same dir), started once for this file and ALWAYS stopped and deleted in `after`
 * (which node:test runs when a test fails too; a process 'exit' hook covers an aborted run). Skipped, saying
 * why, only when the server binaries are absent.
 */
const BIN = '/usr/lib/postgresql/15/bin';
const skip = !existsSync(path.join(BIN, 'initdb')) ? `PostgreSQL 15 binaries not found in ${BIN}` : false;

let dir = '';
let port = 0;
let started = false;
const asPostgres = (cmd: string, args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args], { stdio: 'pipe', timeout: 60_000 });

function stopCluster(): void {
  if (started) {
    try {
      asPostgres('pg_ctl', ['-D', path.join(dir, 'db'), '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    started = false;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const url = (user = 'postgres', password?: string) => `postgres://${user}${password ? `:${password}` : ''}@127.0.0.1:${port}/postgres`;

async function sql(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url() });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/**
 * A table seq, t, x1.., y1.. with the chunk's rows (float8 text of String(v): exact round trip); t runs
 * backwards in the step (100 − 7t, see the view in the first test) unless `reversed` is false (t = step).
 */
async function loadTable(name: string, chunk: SequenceChunk, reversed = true): Promise<void> {
  const { dx, dy } = chunk;
  const cols = [...Array.from({ length: dx }, (_, a) => `x${a + 1} float8`), ...Array.from({ length: dy }, (_, i) => `y${i + 1} float8`)];
  await sql(`DROP TABLE IF EXISTS ${name}; CREATE TABLE ${name} (seq integer, t integer, ${cols.join(', ')})`);
  const values: string[] = [];
  let r = 0;
  chunk.lengths.forEach((L, k) => {
    for (let t = 0; t < L; t++, r++) {
      const v = [...chunk.x.subarray(r * dx, (r + 1) * dx), ...chunk.y.subarray(r * dy, (r + 1) * dy)].map((u) => `'${String(u)}'::float8`);
      values.push(`(${k}, ${reversed ? 100 - 7 * t : t}, ${v.join(', ')})`);
    }
  });
  // Inserted in shuffled order (a table has no row order: the fit must order by --time).
  for (let i = values.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [values[i], values[j]] = [values[j], values[i]];
  }
  await sql(`INSERT INTO ${name} VALUES ${values.join(',\n')}`);
}

before(async () => {
  if (skip) return;
  process.on('exit', stopCluster);
  dir = mkdtempSync(path.join(tmpdir(), 'gloree-pg-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), -1);
  port = await freePort();
  asPostgres('initdb', ['-D', path.join(dir, 'db'), '-A', 'trust', '-U', 'postgres']);
  asPostgres('pg_ctl', ['-D', path.join(dir, 'db'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', path.join(dir, 'log'), '-w', 'start']);
  started = true;
});

after(stopCluster);

test('PostgreSQL engine: every pass equals the in-process accumulators (VAR(1) and i.i.d.)', { skip }, async () => {
  const { chunk } = randomData(21);
  await loadTable('data', chunk);
  // Time runs backwards in the table (100 − 7t): order by the negated time so that t increases.
  await sql('CREATE VIEW data_fwd AS SELECT seq, -t AS time, x1, x2, x3, y1, y2 FROM data');
  const src = await openPostgresTable(url(), 'data_fwd', { time: 'time' });
  try {
    await comparePasses(src, chunk, true);
    await comparePasses(src, chunk, false);
    // Every combination runs on DuckDB (test/sql-duckdb.test.ts); here every query shape once.
    await compareIdentifyPasses(src, chunk, { shapes: 'each' });
  } finally {
    await src.conn.close();
  }
  // The Markov pass's half blocks need sequences longer than 64 steps.
  const long = markovData(13).chunk;
  await loadTable('markov', long, false);
  const ms = await openPostgresTable(url(), 'markov', { time: 't' });
  try {
    await compareLongSequences(ms, long, 70);
  } finally {
    await ms.conn.close();
  }
});

test('PostgreSQL engine: the non-Gaussian input model\'s T2 halves, conditional-score U, P1/P2′, T1, mixed moments, P2 and order-l moments (mixture responsibilities, Stein representers)', { skip }, async () => {
  // Each query shape once: the mixture components (max-shifted EXP) and the Stein representers (polynomials); the
  // Gaussian case (step 0 included) runs on DuckDB only (test/sql-nongaussian.test.ts).
  const chunk = mixtureData(31);
  await loadTable('mixture', chunk, false);
  const src = await openPostgresTable(url(), 'mixture', { time: 't' });
  try {
    await compareNonGaussianPasses(src, chunk, mixtureModels().slice(0, 2), [['P1', 3, 1], ['P2prime', 3, 0]]);
    // T1, the third-order mixed moment (both directions), P2 at l = 2 and the order-l step moments: each query shape
    // once per component family (folds, cut blocks and every l run on DuckDB, test/sql-nongaussian.test.ts).
    const near = mixtureData(32, 300, false);
    await loadTable('mixture_near', near, false);
    const nearSrc = await openPostgresTable(url(), 'mixture_near', { time: 't' });
    try {
      const shapes = ['T1 skipLast 1', 'mixed prev', 'mixed next', 'P2', 'explicit l = 4', 'sketch l = 3'];
      await compareNonGaussianMoments(src, chunk, mixtureModels().slice(0, 2), { shapes, near: { engine: nearSrc, chunk: near } });
    } finally {
      await nearSrc.conn.close();
    }
  } finally {
    await src.conn.close();
  }
});

test('PostgreSQL engine: bad input gets one-line errors; credentials never appear', { skip }, async () => {
  const secret = 'Sup3r-s3cret-PW';
  await sql(`CREATE ROLE gloree LOGIN PASSWORD '${secret}'`);
  await sql('CREATE TABLE bad (seq integer, t integer, x1 float8, y1 float8, label text); GRANT SELECT ON bad TO gloree');
  await sql("INSERT INTO bad VALUES (0, 1, 1, 2, 'a'), (0, 2, NULL, 3, 'b'), (0, 3, 4, 5, 'c'), (1, 1, 1, 1, 'd'), (1, 1, 2, 2, 'e')");
  const u = url('gloree', secret);
  const fails = async (p: Promise<unknown>, re: RegExp) => {
    await assert.rejects(p, (e: Error) => {
      assert.ok(!e.message.includes(secret), `password in message: ${e.message}`);
      assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
      assert.match(e.message, re);
      return true;
    });
  };
  const open = (table: string, sel = {}) => openPostgresTable(u, table, { time: 't', ...sel });
  const pass1 = async (table: string, sel = {}) => {
    const s = await open(table, sel);
    try {
      await s.inputPass();
    } finally {
      await s.conn.close();
    }
  };
  await fails(open('nosuch'), /127\.0\.0\.1:\d+\/postgres table nosuch: no such table/);
  await fails(open('bad', { x: ['x1', 'x9'] }), /missing column "x9"/);
  await fails(open('bad', { y: ['label'] }), /column "label" has type text; expected a number/);
  await fails(openPostgresTable(u, 'bad'), /has no row order; give the time column/);
  await fails(pass1('bad'), /column "x1" has 1 NULL value\(s\) \(first at seq = 0, t = 2\)/);
  await sql('UPDATE bad SET x1 = 0 WHERE x1 IS NULL');
  await fails(pass1('bad'), /repeat the time column "t" value/);
  await sql("UPDATE bad SET x1 = 'NaN' WHERE seq = 0 AND t = 1");
  await fails(pass1('bad'), /column "x1" has 1 non-finite value\(s\) \(NaN or Infinity\) \(first at seq = 0, t = 1\)/);
  // Wrong port: the client's own error, scrubbed.
  await fails(openPostgresTable(`postgres://gloree:${secret}@127.0.0.1:1/postgres`, 'bad', { time: 't' }), /cannot connect/);
  // The source's name (what messages and model files would carry) has no user-info.
  await sql("UPDATE bad SET x1 = 1 WHERE x1 = 'NaN'; DELETE FROM bad WHERE seq = 1");
  const s = await open('bad');
  try {
    assert.ok(!JSON.stringify({ name: s.name, relation: s.relation }).includes(secret));
    assert.ok(!s.name.includes('gloree@'));
  } finally {
    await s.conn.close();
  }
});

/** The rows of a data file as one chunk (the in-process reader's order). */
async function readAll(file: string): Promise<SequenceChunk> {
  const parts: SequenceChunk[] = [];
  for await (const c of (await openDataSource(file)).chunks()) parts.push(c);
  const dx = parts[0].dx, dy = parts[0].dy;
  const cat = (k: 'x' | 'y') => Float64Array.from(parts.flatMap((p) => Array.from(p[k])));
  return makeChunk(dx, dy, cat('x'), cat('y'), parts.flatMap((p) => Array.from(p.lengths)));
}

test('gloree fit postgres://… --table --time: the in-process model for IO-RNN, BRNN and polynomial; no password anywhere', { skip }, async () => {
  const secret = 'Fit-s3cret-PW';
  await sql(`CREATE ROLE fitter LOGIN PASSWORD '${secret}'`);
  const dirF = mkdtempSync(path.join(tmpdir(), 'gloree-pg-fit-'));
  try {
    // The last entry: where the moment passes must have run with --sql-passes on (`fit --json` "passes"), so that a
    // silent fall back to streamed rows fails. (`--report` prints a line of its own: the summary is the
    // JSON object from the first '{'.)
    const cases: [string, string, string[], Record<string, string>][] = [
      ['default', 'z2', ['--hidden', '4'], { moments: 'sql', 'mixed moment': 'sql' }],
      // Without the control variate: its queries at dx = 6 are most of the fit's time (the IO-RNN case runs them).
      ['brnn', 'brnn', ['--kind', 'brnn', '--hidden', '2', '--backward', '2', '--no-control-variate'], { moments: 'sql', 'mixed moments': 'sql', 'mixed moments (groups)': 'sql' }],
      ['cubic', 'poly', ['--hidden', '3', '--activation', '0,0.1,0.5,1'], { moments: 'sql + rows (the control-variate subsample is kept as rows)', 'mixed moment': 'sql' }],
    ];
    for (const [scenario, table, args, where] of cases) {
      const file = path.join(dirF, `${scenario}.parquet`);
      await ok(['simulate', '--scenario', scenario, '--sequences', '150', '--out', file]);
      const chunk = await readAll(file);
      await loadTable(table, chunk, false);
      await sql(`GRANT SELECT ON ${table} TO fitter`);
      const inProcess = path.join(dirF, `${table}-p.json`), onServer = path.join(dirF, `${table}-s.json`);
      await ok(['fit', file, ...args, '--no-refine', '--quiet', '--out', inProcess]);
      const r = await run(['fit', url('fitter', secret), '--table', table, '--seq', 'seq', '--time', 't', ...args, '--no-refine', '--sql-passes', 'on', '--json', '--out', onServer, '--report', path.join(dirF, `${table}.html`)]);
      assert.equal(r.code, 0, r.stderr);
      const passes = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).passes;
      for (const [stage, w] of Object.entries(where)) assert.equal(passes[stage], w, `${table} ${stage}: ${JSON.stringify(passes)}`);
      const d = modelDifference(onServer, inProcess);
      assert.ok(d <= FIT_TOL, `${table}: relative difference ${d}`);
      for (const text of [r.stdout, r.stderr, readFileSync(onServer, 'utf8'), readFileSync(path.join(dirF, `${table}.html`), 'utf8')]) {
        assert.ok(!text.includes(secret) && !text.includes('fitter:'), `${table}: credentials in an output`);
      }
    }
    // Errors through the CLI: one line, no password, the table named.
    const u = url('fitter', secret);
    const e1 = await fails(['fit', u, '--table', 'nosuch', '--time', 't', '--hidden', '1', '--out', path.join(dirF, 'x.json')], /table nosuch: no such table/);
    const e2 = await fails(['fit', u, '--table', 'z2', '--time', 'nosuch', '--hidden', '1', '--out', path.join(dirF, 'x.json')], /missing column "nosuch"/);
    const e3 = await fails(['fit', u, '--table', 'z2', '--hidden', '1', '--out', path.join(dirF, 'x.json')], /no row order; give the time column/);
    const e4 = await fails(['fit', `postgres://fitter:${secret}@127.0.0.1:1/postgres`, '--table', 'z2', '--time', 't', '--hidden', '1', '--out', path.join(dirF, 'x.json')], /cannot connect/);
    await sql('CREATE TABLE z2null AS SELECT * FROM z2; UPDATE z2null SET x3 = NULL WHERE seq = 7 AND t = 4; GRANT SELECT ON z2null TO fitter');
    const e5 = await fails(['fit', u, '--table', 'z2null', '--time', 't', '--hidden', '1', '--out', path.join(dirF, 'x.json')], /table z2null: column "x3" has 1 NULL value\(s\) \(first at seq = 7, t = 4\)/);
    for (const e of [e1, e2, e3, e4, e5]) assert.ok(!e.includes(secret), `password in: ${e}`);
  } finally {
    rmSync(dirF, { recursive: true, force: true });
  }
});

test('README: the PostgreSQL fit command, run against this server, gives the in-process model', { skip }, async () => {
  const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = /## Data that does not fit in one process([\s\S]*?)\n## /.exec(readme)![1];
  const line = [...section.matchAll(/```sh\n([\s\S]*?)```/g)][1][1].trim();
  const w = line.split(/\s+/);
  assert.equal(w[0], 'gloree');
  assert.match(w[2], /^postgres:\/\/analyst@[^/]+\/lake$/);
  const d = mkdtempSync(path.join(tmpdir(), 'gloree-pg-readme-'));
  try {
    await sql("CREATE ROLE analyst LOGIN");
    const file = path.join(d, 'lake.parquet');
    await ok(['simulate', '--scenario', 'default', '--sequences', '200', '--out', file]);
    await loadTable('measurements', await readAll(file), false);
    await sql('GRANT SELECT ON measurements TO analyst');
    // The README's address and database, pointed at the throw-away server.
    const args = w.slice(1).map((a) => (a.startsWith('postgres://') ? url('analyst') : a.endsWith('.json') ? path.join(d, a) : a));
    await ok(args);
    await ok(['fit', file, '--hidden', '4', '--no-refine', '--out', path.join(d, 'model.json')]);
    const diff = modelDifference(path.join(d, 'model-pg.json'), path.join(d, 'model.json'));
    assert.ok(diff <= FIT_TOL, `relative difference ${diff}`);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

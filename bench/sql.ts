/**
 * SQL engines vs in-process (issue 16): `gloree fit FILE --no-refine` (σ = z², dh = 2) on an N-row Parquet file
 * generated into a temp dir (deleted afterwards; never committed), through the CLI exactly as a user runs it:
 *   --engine process   the in-process readers (hyparquet, spill file, WebAssembly kernels);
 *   --engine duckdb --sql-passes on    embedded DuckDB reads the file and runs the moment passes as aggregate
 *                      queries (pass 2, the mixed moment); pass 1, the output layer and the stability check read
 *                      ordered whole sequences streamed into the spill (src/learn/engine-passes.ts);
 *   --engine duckdb --sql-passes off   (the default) the same rows streamed into the spill, every pass in-process;
 * and, with --aggregate, every moment pass as one DuckDB aggregate query (the route `gloree sql` prints):
 *   pass 1  input-model statistics + checks          one aggregate query
 *   pass 2  T2 halves + input residual moments        one aggregate query
 *   CV      control-variate normal equations           one aggregate query on the strided sample of sequences
 *   pass 3  projected mixed moment (CV residuals)      one aggregate query
 *   pass 4  output-layer sums                          rows streamed in order from DuckDB, RNN recursion in-process
 * with the same CP / pseudo-inverse steps in between (src/learn/common.ts), so the DuckDB column is what
 * `fit --engine duckdb --no-refine` will cost once wired. Both models are compared (same model to rounding).
 * Rows/s stand next to a memory-bandwidth bound measured in the same run (a streaming sum over 1 GiB): a pass
 * that reads (dx + dy + 1) float64 per row cannot beat bandwidth / (8·(dx + dy + 1)) rows/s.
 * Each variant runs in its own child process (peak RSS per process).
 *
 *   node --import tsx bench/sql.ts [--rows 1e7] [--aggregate] [--1e8]    (--1e8 adds a 1e8-row run of the default DuckDB route)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { Matrix, transpose } from '../src/linalg/matrix.js';
import { pinv } from '../src/linalg/pinv.js';
import { estimateVAR1 } from '../src/input/fit.js';
import { defaultQuadraticMode } from '../src/moments/control.js';
import { openDataSource } from '../src/io/open.js';
import { fitGloree } from '../src/learn/gloree.js';
import { cpOfT2 } from '../src/learn/identify/quadratic.js';
import { outputLayerPass, solveOutputLayer } from '../src/learn/output-layer.js';
import { runLog } from '../src/learn/options.js';
import { t2AndRank } from '../src/learn/data-passes.js';
import { openDuckDBFile } from '../src/io/engines/duckdb.js';
import { controlPassDefinition, mixedPassDefinition, momentsPassDefinition } from '../src/sql/passes.js';
import { readControlVariate, readMixed, readT2Halves } from '../src/sql/statistics.js';
import { SQUARE, IORNNParams } from '../src/models/params.js';
import { main as cli } from '../src/cli/main.js';

const here = fileURLToPath(import.meta.url);
const DX = 3, DY = 2, DH = 2, SEQ = 100;

/** N rows: seq (sequences of 100), x1..x3 i.i.d. N(0,1) (Box–Muller), y = (A1 x)² mixed + noise; seeded. */
async function generate(file: string, rows: number): Promise<void> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const n = (k: number) => `sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS x${k}`;
  await c.run('SELECT setseed(0.42)');
  await c.run(
    `COPY (SELECT seq, x1, x2, x3, (0.8*x1 + 0.6*x2)^2 + 0.5*(0.6*x2 - 0.8*x3)^2 + 0.1*e1 AS y1, -0.5*(0.8*x1 + 0.6*x2)^2 + (0.6*x2 - 0.8*x3)^2 + 0.1*e2 AS y2 ` +
      `FROM (SELECT (range // ${SEQ})::INTEGER AS seq, ${n(1)}, ${n(2)}, ${n(3)}, sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS e1, sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS e2 FROM range(${rows}))) ` +
      `TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)`,
  );
  c.closeSync();
  inst.closeSync();
}

type Model = { A1: number[][]; U: number[][]; A2: number[][] };

async function inProcess(file: string): Promise<{ seconds: number; timings: Record<string, number>; model: Model }> {
  const t0 = performance.now();
  const r = await fitGloree(await openDataSource(file), { hidden: DH, refine: false });
  const seconds = (performance.now() - t0) / 1000;
  const p = r.params;
  return { seconds, timings: r.timingsMs, model: { A1: p.A1.toArray(), U: p.U.toArray(), A2: p.A2.toArray() } };
}

/** The same passes through DuckDB (see the file comment). */
async function duck(file: string): Promise<{ seconds: number; timings: Record<string, number>; model: Model }> {
  const t0 = performance.now();
  const log = runLog();
  const src = await openDuckDBFile(file);
  try {
    const p1 = await src.inputPass(2);
    const model = estimateVAR1(p1.stats).model;
    const yMean = p1.ySum.map((v) => v / p1.rows);
    log.lap('pass1_input');
    const def2 = momentsPassDefinition({ model, yMean, t2: true, residualMoments: true });
    const halves = readT2Halves(def2, await src.run(def2), model, DY);
    const stride = Math.max(1, Math.ceil(p1.rows / 25_000));
    const mode = defaultQuadraticMode(DX);
    const defc = controlPassDefinition(DX, DY, mode, model.mean, stride);
    const cvFit = readControlVariate(defc, await src.run(defc), DX, DY, mode, model.mean).solve();
    log.lap('pass2_moments');
    const { T2 } = t2AndRank(halves, DY, DX, DH, src.name);
    const { C: A1, A2 } = cpOfT2(T2, DY, DX, DH, 1, 0);
    log.lap('cp');
    const G = pinv(A1).pinv, W = pinv(transpose(A2)).pinv;
    const spec = { model, direction: 'prev' as const, demix: W, first: G, pair: G, target: { kind: 'residual' as const, coef: cvFit.coef, center: cvFit.center, quadratic: cvFit.quadratic } };
    const defm = mixedPassDefinition(spec);
    const C = readMixed(defm, await src.run(defm), spec, DY).result();
    const U = new Matrix(DH, DH, C.map((v) => v / 4));
    log.lap('pass3_mixed');
    const params: IORNNParams = { kind: 'iornn', A1, U, A2, b: yMean.slice(), activation: SQUARE };
    const pass = await outputLayerPass(src, params, { sampleStride: null, totalRows: p1.rows });
    const out = solveOutputLayer(params, pass, yMean, { refit: true, refine: false, tooLarge: 'U is', shrunk: '' }, log);
    log.lap('pass4_output');
    const p = out.params;
    return { seconds: (performance.now() - t0) / 1000, timings: log.timings, model: { A1: p.A1.toArray(), U: p.U.toArray(), A2: p.A2.toArray() } };
  } finally {
    await src.conn.close();
  }
}

/**
 * Hybrid: DuckDB reads the file (one ordered scan streamed as chunks), the learner spills it and runs every pass
 * in-process: `fitGloree(openDuckDBFile(file))` works as is, since an EngineSource is a DataSource.
 */
async function hybrid(file: string): Promise<{ seconds: number; timings: Record<string, number>; model: Model }> {
  const t0 = performance.now();
  const src = await openDuckDBFile(file);
  try {
    const r = await fitGloree(src, { hidden: DH, refine: false });
    const p = r.params;
    return { seconds: (performance.now() - t0) / 1000, timings: r.timingsMs, model: { A1: p.A1.toArray(), U: p.U.toArray(), A2: p.A2.toArray() } };
  } finally {
    await src.conn.close();
  }
}

/** `gloree fit FILE --engine E --no-refine` through the CLI; the model from the written file. */
async function viaCLI(file: string, engine: string, extra: string[] = []): Promise<{ seconds: number; timings: Record<string, number>; passes?: Record<string, string>; model: Model }> {
  const out = `${file}.${engine}${extra.join('')}.json`;
  let stdout = '', stderr = '';
  const t0 = performance.now();
  const code = await cli(['node', 'gloree', 'fit', file, '--engine', engine, '--hidden', String(DH), '--x', 'x1,x2,x3', '--y', 'y1,y2', '--no-refine', '--json', ...extra, '--out', out], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`fit --engine ${engine}: ${stderr}`);
  const m = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8'));
  rmSync(out, { force: true });
  const summary = JSON.parse(stdout);
  return { seconds, timings: summary.timingsMs, ...(summary.passes ? { passes: summary.passes } : {}), model: { A1: m.A1, U: m.U, A2: m.A2 } };
}

/** GB/s of a streaming sum over 1 GiB of float64 (the bound for any pass that reads its rows once). */
function bandwidth(): number {
  const a = new Float64Array(2 ** 27).fill(1);
  let best = Infinity, s = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < a.length; i++) s += a[i];
    best = Math.min(best, performance.now() - t0);
  }
  if (s === 0) throw new Error('unreachable');
  return a.byteLength / (best / 1000) / 1e9;
}

function maxRelDiff(a: Model, b: Model): number {
  let d = 0;
  for (const k of ['A1', 'U', 'A2'] as const) {
    const x = a[k].flat(), y = b[k].flat(), scale = Math.max(...y.map(Math.abs));
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]) / scale);
  }
  return d;
}

function child(kind: string, file: string): unknown {
  const out = execFileSync(process.execPath, ['--import', 'tsx', here, '--child', kind, file], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!);
}

export async function benchSQL(): Promise<unknown> {
  const argRows = process.argv.indexOf('--rows');
  // 1e7 rows run standalone (the issue's size); from `npm run bench` 1e6 unless --long (1e7 takes minutes).
  const standalone = import.meta.url === pathToFileURL(process.argv[1]).href;
  const rows = argRows >= 0 ? Number(process.argv[argRows + 1]) : standalone || process.env.GLOREE_BENCH_LONG === '1' ? 1e7 : 1e6;
  const long = process.argv.includes('--1e8');
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-bench-sql-'));
  // In child processes: ru_maxrss survives exec, so a child forked from a parent that held the 1 GiB
  // bandwidth array (or DuckDB's generation buffers) would report the parent's peak as its own.
  const bw = child('bandwidth', '') as number;
  const bound = (bw * 1e9) / (8 * (DX + DY + 1));
  const results: Record<string, unknown> = { rows, memoryBandwidthGBs: +bw.toFixed(2), boundRowsPerSecondPerPass: Math.round(bound) };
  const lines: string[] = [];
  try {
    const file = path.join(dir, 'data.parquet');
    let t0 = performance.now();
    child('generate', `${file}:${rows}`);
    results.generateSeconds = +((performance.now() - t0) / 1000).toFixed(1);
    results.fileMB = Math.round(statSync(file).size / 1e6);
    const ip = child('cli-process', file) as { seconds: number; timings: Record<string, number>; passes?: Record<string, string>; model: Model; maxRSSMB: number };
    const hy = child('cli-duckdb', file) as typeof ip;
    const st = child('cli-duckdb-rows', file) as typeof ip;
    const dk = process.argv.includes('--aggregate') ? (child('duckdb', file) as typeof ip) : null;
    results.inProcess = ip;
    results.engineDuckdb = hy;
    results.engineDuckdbRatio = +(hy.seconds / ip.seconds).toFixed(3);
    results.engineDuckdbModelMaxRelDiff = maxRelDiff(hy.model, ip.model);
    results.engineDuckdbRows = st;
    results.engineDuckdbRowsRatio = +(st.seconds / ip.seconds).toFixed(3);
    if (dk) {
      results.aggregate = dk;
      results.aggregateRatio = +(dk.seconds / ip.seconds).toFixed(3);
      results.aggregateModelMaxRelDiff = maxRelDiff(dk.model, ip.model);
    }
    const rps = (s: number) => `${(rows / s / 1e6).toFixed(2)}M`;
    lines.push(
      `| ${rows.toExponential(0)} rows (${results.fileMB} MB Parquet), fit --no-refine (σ = z², dh = ${DH}) | seconds | ratio | rows/s (whole fit) | peak RSS |`,
      '|---|---|---|---|---|',
      `| --engine process (hyparquet, spill, kernels) | ${ip.seconds.toFixed(1)} | 1 | ${rps(ip.seconds)} | ${ip.maxRSSMB} MB |`,
      `| --engine duckdb --sql-passes on (moment passes as DuckDB aggregate queries; rows streamed for pass 1, output layer, stability) | ${hy.seconds.toFixed(1)} | ${results.engineDuckdbRatio} | ${rps(hy.seconds)} | ${hy.maxRSSMB} MB |`,
      `| --engine duckdb --sql-passes off (DuckDB reads + checks, every pass in-process on the spill) | ${st.seconds.toFixed(1)} | ${results.engineDuckdbRowsRatio} | ${rps(st.seconds)} | ${st.maxRSSMB} MB |`,
      ...(dk ? [`| every moment pass one DuckDB aggregate query (bench only) | ${dk.seconds.toFixed(1)} | ${results.aggregateRatio} | ${rps(dk.seconds)} | ${dk.maxRSSMB} MB |`] : []),
      '',
      `Same model as --engine process: max relative difference of A1, U, A2 = ${(results.engineDuckdbModelMaxRelDiff as number).toExponential(1)}${dk ? ` (aggregate route ${(results.aggregateModelMaxRelDiff as number).toExponential(1)})` : ''}. ` +
        `Memory-bandwidth bound: a streaming sum ran at ${bw.toFixed(1)} GB/s → ${(bound / 1e6).toFixed(0)}M rows/s for one pass over 6 float64 per row.`,
      `Per stage (ms): process ${JSON.stringify(ip.timings)}; duckdb ${JSON.stringify(hy.timings)} (passes ${JSON.stringify(hy.passes)}); duckdb --sql-passes off ${JSON.stringify(st.timings)}.`,
    );
    rmSync(file, { force: true });
    if (long) {
      const big = path.join(dir, 'big.parquet');
      t0 = performance.now();
      child('generate', `${big}:1e8`);
      const gen = (performance.now() - t0) / 1000;
      // The default route (rows streamed, passes in-process): the aggregates take ≈3× as long at 1e7 (see above).
      const dbig = child('cli-duckdb-rows', big) as typeof ip;
      results.duckdb1e8 = { ...dbig, generateSeconds: gen, fileMB: Math.round(statSync(big).size / 1e6) };
      lines.push('', `1e8 rows (${results.duckdb1e8 && (results.duckdb1e8 as { fileMB: number }).fileMB} MB Parquet) through fit --engine duckdb --no-refine (--sql-passes off, the default): ${dbig.seconds.toFixed(1)} s (${(1e8 / dbig.seconds / 1e6).toFixed(2)}M rows/s), peak RSS ${dbig.maxRSSMB} MB; per stage ${JSON.stringify(dbig.timings)}.`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.markdown = lines.join('\n');
  return results;
}

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--child');
  if (ci >= 0) {
    const kind = process.argv[ci + 1], file = process.argv[ci + 2];
    if (kind === 'bandwidth') return void process.stdout.write(JSON.stringify(bandwidth()) + '\n');
    if (kind === 'generate') {
      const k = file.lastIndexOf(':');
      await generate(file.slice(0, k), Number(file.slice(k + 1)));
      return void process.stdout.write('null\n');
    }
    const r = kind === 'duckdb' ? await duck(file) : kind === 'hybrid' ? await hybrid(file) : kind === 'cli-process' ? await viaCLI(file, 'process') : kind === 'cli-duckdb' ? await viaCLI(file, 'duckdb', ['--sql-passes', 'on']) : kind === 'cli-duckdb-rows' ? await viaCLI(file, 'duckdb', ['--sql-passes', 'off']) : await inProcess(file);
    process.stdout.write(JSON.stringify({ ...r, maxRSSMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
    return;
  }
  const r = (await benchSQL()) as { markdown: string };
  process.stdout.write(r.markdown + '\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}

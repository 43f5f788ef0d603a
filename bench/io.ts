/**
 * Data-file read throughput (rows/s) of CSV vs Arrow IPC vs Parquet through `openDataSource` (the path every
 * command uses: parsing, column selection, validation, chunk assembly), for 1e6 rows × 8 value columns
 * (x1..x4, y1..y4, plus seq; sequences of 50 rows; standard normal values written in shortest round-trip
 * form, so CSV cells have ~17 significant digits), and the peak RSS of a process that does only that read.
 * Each read runs in its own child process (peak RSS is per process); the same read of a 5× smaller file
 * shows whether memory grows with n (also with a forced GC after every chunk, which separates retained
 * memory from garbage not yet collected). Also the general (csv-parse) CSV path, for reference.
 *
 * `benchIO()` returns a JSON-able object; run directly to print it:  node --import tsx bench/io.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { openDataSource, writeDataFile } from '../src/io/open.js';
import { openGeneralCSVSource } from '../src/io/csv-general.js';

const here = fileURLToPath(import.meta.url);
const SEQ_LEN = 50;
const DX = 4, DY = 4;

/**
 * Child mode: read `file` once, print JSON. With GLOREE_BENCH_GC=1 (and --expose-gc) a full GC runs after
 * every chunk, so the peak RSS shows what is retained rather than garbage V8 has not collected yet.
 */
async function child(kind: string, file: string): Promise<void> {
  const gc = process.env.GLOREE_BENCH_GC ? (globalThis as { gc?: () => void }).gc : undefined;
  const baseRSS = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  let rows = 0, sum = 0;
  if (kind !== 'none') {
    const src = kind === 'csv-general' ? await openGeneralCSVSource(file) : await openDataSource(file);
    for await (const c of src.chunks()) {
      rows += c.rows;
      sum += c.x[0] + c.y[c.y.length - 1]; // touch the data
      gc?.();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ rows, seconds, check: sum, maxRSSMiB: process.resourceUsage().maxRSS / 1024, baseRSSMiB: baseRSS / 1024 }) + '\n');
}

function runChild(kind: string, file: string, forceGC = false): { rows: number; seconds: number; maxRSSMiB: number; baseRSSMiB: number } {
  const args = [...(forceGC ? ['--expose-gc'] : []), '--import', 'tsx', here, '--child', kind, file];
  const env = { ...process.env, GLOREE_BENCH_GC: forceGC ? '1' : '' };
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20, env });
  return JSON.parse(out.trim().split('\n').pop()!);
}

async function makeFiles(dir: string, rows: number, tag: string): Promise<Record<string, string>> {
  const rng = new Rng(20261127);
  const x = new Float64Array(rows * DX), y = new Float64Array(rows * DY);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  for (let i = 0; i < y.length; i++) y[i] = rng.normal();
  const chunk = makeChunk(DX, DY, x, y, new Array(rows / SEQ_LEN).fill(SEQ_LEN));
  const files: Record<string, string> = {};
  for (const f of ['csv', 'arrow', 'parquet']) {
    files[f] = path.join(dir, `${tag}.${f}`);
    await writeDataFile(files[f], chunk);
  }
  return files;
}

export async function benchIO(): Promise<object> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-bench-io-'));
  try {
    const big = 1_000_000, small = 200_000;
    const filesBig = await makeFiles(dir, big, 'big');
    const filesSmall = await makeFiles(dir, small, 'small');
    const baseline = runChild('none', filesSmall.csv);
    const results: Record<string, unknown>[] = [];
    for (const kind of ['csv', 'csv-general', 'arrow', 'parquet']) {
      const fmt = kind === 'csv-general' ? 'csv' : kind;
      const r = runChild(kind, filesBig[fmt]);
      const s = runChild(kind, filesSmall[fmt]);
      const rg = runChild(kind, filesBig[fmt], true);
      const sg = runChild(kind, filesSmall[fmt], true);
      results.push({
        reader: kind,
        fileMiB: +(statSync(filesBig[fmt]).size / 2 ** 20).toFixed(1),
        rows: r.rows,
        seconds: +r.seconds.toFixed(3),
        rowsPerSec: Math.round(r.rows / r.seconds),
        peakRSSMiB: Math.round(r.maxRSSMiB),
        peakRSSMiBAt200k: Math.round(s.maxRSSMiB),
        peakRSSMiBGC: Math.round(rg.maxRSSMiB),
        peakRSSMiBGCAt200k: Math.round(sg.maxRSSMiB),
      });
    }
    const rate = (k: string): number => results.find((r) => r.reader === k)!.rowsPerSec as number;
    const speedup = { arrowOverCSV: +(rate('arrow') / rate('csv')).toFixed(2), parquetOverCSV: +(rate('parquet') / rate('csv')).toFixed(2), csvOverGeneral: +(rate('csv') / rate('csv-general')).toFixed(2) };
    const md = [
      `1e6 rows × ${DX + DY} value columns (+ seq), through openDataSource (parse + validate + chunk); one child process per read.`,
      '',
      '| reader | file MiB | rows/s | peak RSS MiB 1e6 rows / 2e5 rows | same, GC after each chunk |',
      '|---|---|---|---|---|',
      ...results.map((r) => `| ${r.reader} | ${r.fileMiB} | ${(r.rowsPerSec as number).toLocaleString('en-US')} | ${r.peakRSSMiB} / ${r.peakRSSMiBAt200k} | ${r.peakRSSMiBGC} / ${r.peakRSSMiBGCAt200k} |`),
      '',
      `Speed-ups per row: Arrow/CSV ${speedup.arrowOverCSV}×, Parquet/CSV ${speedup.parquetOverCSV}×, fast/general CSV ${speedup.csvOverGeneral}×. ` +
        `Baseline RSS of a child that reads nothing: ${Math.round(baseline.maxRSSMiB)} MiB.`,
    ].join('\n');
    return { benchmark: 'io', unit: 'rows/s (higher is better), RSS in MiB', rows: big, columns: DX + DY, sequenceLength: SEQ_LEN, baselineRSSMiB: Math.round(baseline.maxRSSMiB), results, speedup, markdown: md };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) await child(process.argv[i + 1], process.argv[i + 2]);
  else benchIO().then((r) => console.log(JSON.stringify(r, null, 2)));
}

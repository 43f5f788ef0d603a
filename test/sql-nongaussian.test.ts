import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDataFile } from '../src/io/open.js';
import { openDuckDBFile } from '../src/io/engines/duckdb.js';
import { compareNonGaussianPasses, mixtureData, mixtureModels } from './sql-nongaussian-fixtures.js';
import { compareNonGaussianMoments } from './sql-ng-moments-fixtures.js';
import { makeChunk } from '../src/io/dataset.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-sql-ng-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('DuckDB engine: the non-Gaussian input model\'s T2 halves, conditional-score U and P1/P2′ equal the in-process accumulators (mixtures, Stein representers, Gaussian)', async () => {
  const chunk = mixtureData(31);
  const file = path.join(dir, 'mixture.parquet');
  await writeDataFile(file, chunk, { format: 'parquet' });
  const src = await openDuckDBFile(file);
  try {
    await compareNonGaussianPasses(src, chunk);
  } finally {
    await src.conn.close();
  }
});

test('DuckDB engine: the non-Gaussian T1, projected mixed moment (whole, per fold, cut folds), P2 at l = 2 and order-l step moments equal the in-process accumulators', async () => {
  const chunk = mixtureData(31);
  const file = path.join(dir, 'mixture-moments.parquet');
  await writeDataFile(file, chunk, { format: 'parquet' });
  // The first 6 sequences (fewer than 2F = 8): the BRNN's folds are blocks of cut sequences.
  const few = makeChunk(chunk.dx, chunk.dy, chunk.x.subarray(0, 23 * chunk.dx), chunk.y.subarray(0, 23 * chunk.dy), firstLengths(chunk.lengths, 23));
  const fewFile = path.join(dir, 'mixture-few.parquet');
  await writeDataFile(fewFile, few, { format: 'parquet' });
  const near = mixtureData(32, 300, false), nearFile = path.join(dir, 'mixture-near.parquet');
  await writeDataFile(nearFile, near, { format: 'parquet' });
  const src = await openDuckDBFile(file), fewSrc = await openDuckDBFile(fewFile), nearSrc = await openDuckDBFile(nearFile);
  try {
    await compareNonGaussianMoments(src, chunk, mixtureModels(), { few: { engine: fewSrc, chunk: few }, near: { engine: nearSrc, chunk: near } });
  } finally {
    for (const s of [src, fewSrc, nearSrc]) await s.conn.close();
  }
});

/** The lengths of the first sequences that hold exactly `rows` rows (throws if a sequence straddles the cut). */
function firstLengths(lengths: Int32Array, rows: number): number[] {
  const out: number[] = [];
  let n = 0;
  for (const L of lengths) {
    if (n === rows) break;
    out.push(L);
    n += L;
  }
  if (n !== rows) throw new Error(`no sequence boundary at row ${rows}`);
  return out;
}

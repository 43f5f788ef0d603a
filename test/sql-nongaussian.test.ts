import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDataFile } from '../src/io/open.js';
import { openDuckDBFile } from '../src/io/engines/duckdb.js';
import { compareNonGaussianPasses, mixtureData } from './sql-nongaussian-fixtures.js';

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

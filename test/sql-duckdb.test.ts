import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeDataFile } from '../src/io/open.js';
import { openDuckDBFile } from '../src/io/engines/duckdb.js';
import { close, compareIdentifyPasses, compareLongSequences, comparePasses, markovData, randomData } from './sql-fixtures.js';
import { Matrix } from '../src/linalg/matrix.js';
import { VAR1Stats, estimateVAR1 } from '../src/input/fit.js';
import { momentPass } from '../src/moments/accumulator.js';
import { ControlVariate } from '../src/moments/control.js';
import { ProjectedMixedAccumulator } from '../src/moments/mixed.js';
import { T1Accumulator, T2Accumulator } from '../src/moments/single.js';
import { runAccumulators } from '../src/sql/accumulators.js';
import { MarkovAccumulator } from '../src/moments/markov.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-sql-duckdb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const format of ['parquet', 'csv', 'arrow'] as const) {
  test(`DuckDB engine (${format}): every pass equals the in-process accumulators (VAR(1) and i.i.d.)`, async () => {
    const { chunk } = randomData(11);
    const file = path.join(dir, `data.${format}`);
    await writeDataFile(file, chunk, { format });
    const src = await openDuckDBFile(file);
    try {
      await comparePasses(src, chunk, true);
      await comparePasses(src, chunk, false);
      if (format === 'parquet') await compareIdentifyPasses(src, chunk);
    } finally {
      await src.conn.close();
    }
  });
}

test('DuckDB engine: few long sequences: the Markov parameters (64-step half blocks, lags past the ends) and the BRNN folds of cut sequences', async () => {
  const { chunk } = markovData(13);
  const file = path.join(dir, 'markov.parquet');
  await writeDataFile(file, chunk, { format: 'parquet' });
  const src = await openDuckDBFile(file);
  try {
    await compareLongSequences(src, chunk, 70);
    await compareLongSequences(src, chunk, 3);
  } finally {
    await src.conn.close();
  }
});

test('DuckDB engine: a time column orders the steps (file rows shuffled within and across sequences)', async () => {
  const { chunk } = randomData(12, 120);
  // Write the rows in reverse order with an explicit time column: ordering by time must restore the sequences.
  const lines = ['seq,time,x1,x2,x3,y1,y2'];
  const rows: string[] = [];
  let r = 0;
  chunk.lengths.forEach((L, k) => {
    for (let t = 0; t < L; t++, r++) rows.push([k, 10 * t + 3, ...chunk.x.subarray(r * 3, r * 3 + 3), ...chunk.y.subarray(r * 2, r * 2 + 2)].join(','));
  });
  // Sequences keep their order of first appearance (the rank rule's even / odd split): reverse rows within each sequence only.
  let o = 0;
  for (const L of chunk.lengths) {
    lines.push(...rows.slice(o, o + L).reverse());
    o += L;
  }
  const file = path.join(dir, 'timed.csv');
  writeFileSync(file, lines.join('\n') + '\n');
  const src = await openDuckDBFile(file, { time: 'time' });
  try {
    await comparePasses(src, chunk, true);
  } finally {
    await src.conn.close();
  }
});

test('DuckDB engine: bad input gets one-line errors naming the file and column', async () => {
  const bad = async (name: string, text: string, re: RegExp, opts: Record<string, unknown> = {}) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    await assert.rejects(
      (async () => {
        const src = await openDuckDBFile(file, opts);
        try {
          await src.inputPass();
        } finally {
          await src.conn.close();
        }
      })(),
      (e: Error) => e.name === 'UserError' && re.test(e.message) && !e.message.includes('\n'),
    );
  };
  await bad('missing.csv', 'x1,x2,y1\n1,2,3\n2,3,4\n', /missing column "x3"/, { x: ['x1', 'x3'] });
  await bad('text.csv', 'x1,y1\n1,a\n2,b\n', /column "y1" has type VARCHAR; expected a number/);
  await bad('nulls.csv', 'x1,y1\n1,2\n,3\n4,5\n', /column "x1" has 1 NULL value\(s\) \(first at data row 2\)/);
  await bad('nan.csv', 'x1,y1\n1,2\nnan,3\n4,5\n', /column "x1" has 1 non-finite value\(s\) \(NaN or Infinity\) \(first at data row 2\)/);
  await bad('ties.csv', 'seq,time,x1,y1\n0,1,1,2\n0,1,2,3\n0,2,4,5\n', /repeat the time column "time" value/, { time: 'time' });
  await bad('nulltime.csv', 'seq,time,x1,y1\n0,1,1,2\n0,,2,3\n0,2,4,5\n', /time column "time" has 1 NULL value\(s\)/, { time: 'time' });
  await bad('split.csv', 'seq,x1,y1\n0,1,2\n1,2,3\n0,4,5\n', /a sequence id appears again after other sequences \(1 time\(s\)\)/);
  await bad('notime.csv', 'seq,x1,y1\n0,1,2\n', /no such file|missing column "t"/, { time: 't' });
  await assert.rejects(openDuckDBFile(path.join(dir, 'absent.parquet')), /absent\.parquet: no such file/);
});

test('runAccumulators: an accumulator list filled through DuckDB equals momentPass over the chunk', async () => {
  const { chunk } = randomData(13, 200);
  const file = path.join(dir, 'accs.parquet');
  await writeDataFile(file, chunk, { format: 'parquet' });
  const src = await openDuckDBFile(file);
  try {
    const model = estimateVAR1(new VAR1Stats(3).add(chunk)).model;
    const cv = new ControlVariate(3, 2, { center: model.mean });
    momentPass(null, chunk, [cv]);
    const cvFit = cv.solve();
    const G = Matrix.from([[0.5, -1], [1, 0.2], [0.3, 0.7]]), W = Matrix.from([[1, 0.4], [-0.3, 0.8]]);
    const make = () => [
      new T1Accumulator(model, 2, { skipLast: 1 }),
      new T2Accumulator(model, 2),
      new ProjectedMixedAccumulator(model, 2, 'next', W, G, G, { target: 'residual' }),
      new ControlVariate(3, 2, { center: model.mean }),
      new MarkovAccumulator(model, 2, 4),
    ];
    const got = make(), want = make();
    await runAccumulators(src, got, { model, yShift: [0, 0], cvFit });
    momentPass(model, chunk, want, cvFit);
    for (let k = 0; k < got.length; k++) {
      assert.equal(got[k].count, want[k].count, want[k].type);
      close(got[k].sum, want[k].sum, want[k].type);
    }
  } finally {
    await src.conn.close();
  }
});

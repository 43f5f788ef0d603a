import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { openDataSource } from '../src/io/open.js';
import { PARALLEL_MIN_BYTES, parallelCSVSource } from '../src/io/csv-parallel.js';
import type { CSVChunk, CSVSource } from '../src/io/csv.js';

// The parallel CSV reader must give the serial reader's chunks exactly (values, boundaries, ids, line numbers),
// for any number of workers and any block size; the ground truth is the serial reader itself. Outside the plain
// case it must hand over to the serial reader: same rows, or the same error message.

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-workers-'));
const p = (f: string): string => path.join(dir, f);

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

async function collect(src: CSVSource): Promise<CSVChunk[] | string> {
  const out: CSVChunk[] = [];
  try {
    for await (const c of src.chunks()) out.push(c);
  } catch (e) {
    return (e as Error).message;
  }
  return out;
}

/** Chunks as plain arrays, so deepEqual compares every value bit for bit (−0 and 0 differ in Object.is). */
function plain(r: CSVChunk[] | string): unknown {
  if (typeof r === 'string') return r;
  return r.map((c) => ({ rows: c.rows, x: Array.from(c.x), y: Array.from(c.y), lengths: Array.from(c.lengths), seqIds: Array.from(c.seqIds), firstLine: Array.from(c.firstLine), sequenceOffset: c.sequenceOffset }));
}

/** A file of `nSeq` sequences with awkward but valid cells (spaces, exponents, long digits, blank lines, CRLF). */
function dataText(nSeq: number, opts: { crlf?: boolean } = {}): string {
  const lines = ['seq,x1,x2,y1'];
  let k = 0;
  for (let s = 0; s < nSeq; s++) {
    const L = 3 + (s % 7);
    for (let t = 0; t < L; t++, k++) {
      const a = Math.sin(k * 1.3) * 10 ** ((k % 9) - 4), b = -Math.cos(k * 0.7), c = k % 5 === 0 ? '1.5e-3' : ` ${(k / 7).toFixed(3)} `;
      lines.push(`${s * 3 + 1},${a},${k % 11 === 0 ? String(b).slice(0, 8) : b},${c}`);
      if (k % 97 === 0) lines.push('  ');
    }
  }
  return lines.join(opts.crlf ? '\r\n' : '\n') + (opts.crlf ? '\r\n' : '\n');
}

async function compareReaders(file: string, label: string, plainCase: boolean): Promise<void> {
  const serial = await openDataSource(file, { minLength: 2, chunkRows: 300 });
  const want = plain(await collect(serial));
  // Worker pools start slowly under tsx: a few configurations, chosen to cover blocks much smaller than a chunk.
  const configs = plainCase ? [[2, 700], [3, 1 << 20]] : [[3, 700]];
  for (const [workers, blockBytes] of configs) {
    // The threads alone, and (the default) this thread parsing the first blocks while they start.
    for (const parseWhileStarting of [false, true]) {
      const what = `${label}: workers ${workers}, blocks of ${blockBytes} bytes, parse while starting ${parseWhileStarting}`;
      const par = parallelCSVSource(await openDataSource(file, { minLength: 2, chunkRows: 300 }), { workers, chunkRows: 300, minLength: 2, blockBytes, minBytes: 0, parseWhileStarting });
      assert.deepEqual(plain(await collect(par)), want, what);
      // The threads did the work (plain case), or the file really left the plain case and the serial reader took over.
      assert.equal(par.parallel?.handedOver ?? true, !plainCase, `${what}: handed over to the serial reader`);
      if (plainCase && blockBytes === 700) assert.ok(par.parallel!.blocks > 10, `${what}: many blocks`);
      // Threads take tens of ms to start, so the first blocks of a pass are parsed here unless that is switched off.
      if (plainCase) assert.equal(par.parallel!.localBlocks > 0, parseWhileStarting, `${what}: ${par.parallel!.localBlocks} blocks parsed here`);
    }
  }
}

test('parallel CSV reader: the serial chunks exactly, for 2 and 3 workers and blocks smaller than a chunk', async () => {
  writeFileSync(p('a.csv'), dataText(400));
  await compareReaders(p('a.csv'), 'LF', true);
  writeFileSync(p('b.csv'), dataText(150, { crlf: true }));
  await compareReaders(p('b.csv'), 'CRLF', true);
  // Without a seq column the file is one sequence.
  writeFileSync(p('c.csv'), dataText(50).split('\n').map((l) => l.slice(l.indexOf(',') + 1)).join('\n'));
  await compareReaders(p('c.csv'), 'no seq', true);
});

test('parallel CSV reader: outside the plain case the serial reader decides (same rows or the same message)', async () => {
  const base = dataText(400).split('\n');
  const variants: Record<string, string[]> = {
    'quoted cell late in the file': base.map((l, i) => (i === 1500 ? l.replace(/,([^,]*)$/, ',"$1"') : l)),
    'bad cell late in the file': base.map((l, i) => (i === 1700 ? l.replace(/,([^,]*)$/, ',abc') : l)),
    'non-finite cell': base.map((l, i) => (i === 900 ? l.replace(/,([^,]*)$/, ',Infinity') : l)),
    'too large a value': base.map((l, i) => (i === 901 ? l.replace(/,([^,]*)$/, ',1e60') : l)),
    'ragged line': base.map((l, i) => (i === 1200 ? l + ',7' : l)),
    'sequence id again': base.map((l, i) => (i === 2000 ? l.replace(/^\d+/, '1') : l)),
    'non-integer seq id': base.map((l, i) => (i === 2100 ? l.replace(/^\d+/, '2.5') : l)),
    'UTF-8 in a cell': base.map((l, i) => (i === 800 ? l.replace(/,([^,]*)$/, ',1.5µ') : l)),
    'BOM': ['\ufeff' + base[0], ...base.slice(1)],
  };
  for (const [label, lines] of Object.entries(variants)) {
    writeFileSync(p('v.csv'), lines.join('\n'));
    await compareReaders(p('v.csv'), label, false);
  }
  // An error comes from the serial reader, with its file position.
  writeFileSync(p('v.csv'), variants['bad cell late in the file'].join('\n'));
  assert.match(String(plain(await collect(await openDataSource(p('v.csv'), { minLength: 2 })))), /row 1701.*"abc"/);
});

test('gloree fit --workers 1, 2, 3: byte-identical model files on a file of several chunks', async () => {
  // 3500 sequences of 20 steps = 70 000 rows: two chunks of the reader (65 536 rows each at most).
  writeFileSync(p('sc.json'), JSON.stringify({ dx: 3, dh: 2, dy: 3, activation: 'z2', input: { rho: 0.5, sigma: 0.4 }, uNorm: 0.2, noise: 0.02, seqLength: 20, seed: 5 }));
  let r = await cli('simulate', '--scenario', p('sc.json'), '--sequences', '3500', '--out', p('big.csv'));
  assert.equal(r.code, 0, r.stderr);
  const chunks = await collect(await openDataSource(p('big.csv'), { minLength: 2 }));
  assert.ok(Array.isArray(chunks) && chunks.length >= 2, 'the file spans several chunks');
  assert.ok(statSync(p('big.csv')).size > PARALLEL_MIN_BYTES, 'the file is large enough to be parsed on the threads');
  const files: string[] = [];
  for (const w of ['1', '2', '3']) {
    r = await cli('fit', p('big.csv'), '--hidden', '2', '--refine-max-rows', '4000', '--workers', w, '--out', p(`m${w}.json`), '--quiet');
    assert.equal(r.code, 0, r.stderr);
    files.push(readFileSync(p(`m${w}.json`), 'utf8'));
  }
  assert.equal(files[1], files[0], '--workers 2 gives the --workers 1 model byte for byte');
  assert.equal(files[2], files[0], '--workers 3 gives the --workers 1 model byte for byte');
});

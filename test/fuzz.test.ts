/**
 * Fuzzing the data readers (tracker issue 6, item 4): ≥ 10,000 seeded random mutations of a valid CSV go
 * through `openDataSource` + a full pass; every outcome must be either a clean read (whose chunks satisfy
 * the SequenceChunk invariants, all values finite) or a UserError with a one-line message naming the file
 * — never another exception (a crash). Byte-level mutations of Arrow and Parquet files get the same check,
 * and a few hundred CSV mutations go through the whole `fit` command (refinement off): exit 0 or 1, at most
 * one stderr line on failure, and no output file unless it succeeded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDataSource, writeDataFile } from '../src/io/open.js';
import { UserError } from '../src/io/errors.js';
import { makeChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { main } from '../src/cli/main.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-fuzz-'));

// A valid base file: 5 sequences × 6 steps, dx = dy = 2, values with a variety of spellings.
const base = (() => {
  const rng = new Rng(3);
  const lines = ['seq,x1,x2,y1,y2'];
  for (let s = 0; s < 5; s++) {
    for (let t = 0; t < 6; t++) {
      const v = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
      const spell = (x: number, k: number): string => (k % 3 === 0 ? x.toExponential(3) : k % 3 === 1 ? x.toFixed(4) : String(x));
      lines.push([s, ...v.map((x, k) => spell(x, k + t))].join(','));
    }
  }
  return lines.join('\n') + '\n';
})();

const PIECES = ['0', '1', '9', '-', '+', '.', 'e', 'E', ',', ',,', '\n', '\r\n', '\r', '"', '""', ' ', '\t', ';', 'NaN', 'Infinity', '-inf', '1e400',
  '0x1F', 'abc', '\ufeff', '\u0000', 'é', '\ud800', 'seq', 'x1', 'y3', '1.5', '-0', '99999999999999999999', '1e-400', '"1,2"', '"a\nb"'];

/** One random edit of `s`. */
function mutate(s: string, rng: Rng): string {
  const lines = s.split('\n');
  const pos = rng.int(s.length + 1);
  switch (rng.int(10)) {
    case 0: // delete a span
      return s.slice(0, pos) + s.slice(pos + 1 + rng.int(4));
    case 1: // insert a piece
    case 2:
      return s.slice(0, pos) + PIECES[rng.int(PIECES.length)] + s.slice(pos);
    case 3: { // replace one cell
      const li = rng.int(lines.length);
      const cells = lines[li].split(',');
      cells[rng.int(cells.length)] = PIECES[rng.int(PIECES.length)];
      lines[li] = cells.join(',');
      return lines.join('\n');
    }
    case 4: { // duplicate a line
      const li = rng.int(lines.length);
      lines.splice(rng.int(lines.length + 1), 0, lines[li]);
      return lines.join('\n');
    }
    case 5: // delete a line
      lines.splice(rng.int(lines.length), 1);
      return lines.join('\n');
    case 6: { // swap two lines
      const a = rng.int(lines.length), b = rng.int(lines.length);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      return lines.join('\n');
    }
    case 7: // truncate
      return s.slice(0, pos);
    case 8: { // change a seq id
      const li = 1 + rng.int(Math.max(1, lines.length - 1));
      if (lines[li] !== undefined) lines[li] = lines[li].replace(/^[^,]*/, String(rng.int(7) - 1));
      return lines.join('\n');
    }
    default: { // flip a character
      const c = String.fromCharCode(32 + rng.int(95));
      return s.slice(0, pos) + c + s.slice(pos + 1);
    }
  }
}

/** Read a file fully; returns 'ok' or 'user' (a UserError), throws anything else with the input attached. */
async function readOutcome(file: string, opts: Parameters<typeof openDataSource>[1], input: () => string): Promise<'ok' | 'user'> {
  try {
    const src = await openDataSource(file, opts);
    let rows = 0;
    for await (const c of src.chunks()) {
      let sum = 0;
      for (const l of c.lengths) {
        assert.ok(Number.isInteger(l) && l >= (opts?.minLength ?? 1), `sequence length ${l}`);
        sum += l;
      }
      assert.equal(sum, c.rows);
      assert.equal(c.x.length, c.rows * src.dx);
      assert.equal(c.y.length, c.rows * src.dy);
      assert.equal(c.seqIds.length, c.lengths.length);
      for (const v of c.x) assert.ok(Number.isFinite(v));
      for (const v of c.y) assert.ok(Number.isFinite(v));
      rows += c.rows;
    }
    assert.ok(rows > 0);
    return 'ok';
  } catch (e) {
    if (e instanceof UserError) {
      assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
      assert.ok(e.message.startsWith(file), `message does not start with the file name: ${e.message}`);
      return 'user';
    }
    const shown = JSON.stringify(input().slice(0, 400));
    throw new Error(`reader crashed (${(e as Error)?.stack ?? e}) on input ${shown}`);
  }
}

test('10,000 random mutations of a valid CSV: clean read or UserError, never a crash', async () => {
  const rng = new Rng(20261127);
  const counts = { ok: 0, user: 0 };
  const file = path.join(dir, 'fuzz.csv');
  for (let i = 0; i < 10_000; i++) {
    let s = base;
    const k = 1 + rng.int(4);
    for (let j = 0; j < k; j++) s = mutate(s, rng);
    writeFileSync(file, s);
    // Vary the options too: small chunks exercise chunk boundaries, minLength 2 the sequence check.
    const opts = { minLength: 1 + rng.int(2), chunkRows: 1 + rng.int(40), requireY: rng.int(2) === 1 };
    counts[await readOutcome(file, opts, () => s)]++;
  }
  // Both outcomes must occur (otherwise the mutations are too weak or the reader rejects everything).
  assert.ok(counts.ok > 500 && counts.user > 500, JSON.stringify(counts));
});

test('byte-level mutations of Arrow and Parquet files: clean read or UserError, never a crash', async () => {
  const rng = new Rng(5);
  const chunk = makeChunk(2, 2, Float64Array.from(rng.normalArray(80)), Float64Array.from(rng.normalArray(80)), [10, 10, 10, 10]);
  const counts = { ok: 0, user: 0 };
  for (const fmt of ['arrow', 'parquet']) {
    const good = path.join(dir, `good.${fmt}`);
    await writeDataFile(good, chunk);
    const bytes = readFileSync(good);
    const file = path.join(dir, `fuzz.${fmt}`);
    for (let i = 0; i < 600; i++) {
      const b = Buffer.from(bytes);
      let out: Buffer = b;
      const op = rng.int(4);
      if (op === 0) out = b.subarray(0, rng.int(b.length)); // truncation
      else {
        const flips = 1 + rng.int(op === 3 ? 40 : 4);
        for (let j = 0; j < flips; j++) b[rng.int(b.length)] = rng.int(256);
      }
      writeFileSync(file, out);
      counts[await readOutcome(file, {}, () => out.toString('base64'))]++;
    }
  }
  assert.ok(counts.ok > 50 && counts.user > 300, JSON.stringify(counts));
});

test('300 mutated CSVs through `gloree fit --no-refine`: exit 0 or 1, one line, no partial output', async () => {
  const rng = new Rng(11);
  const file = path.join(dir, 'fit.csv');
  const out = path.join(dir, 'model.json');
  const codes = { 0: 0, 1: 0 } as Record<number, number>;
  const unexpected = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    let s = base;
    for (let j = 0, k = 1 + rng.int(2); j < k; j++) s = mutate(s, rng);
    writeFileSync(file, s);
    if (existsSync(out)) unlinkSync(out);
    let stderr = '';
    const code = await main(['node', 'gloree', 'fit', file, '--hidden', '1', '--no-refine', '--quiet', '--out', out], { out: () => undefined, err: (t) => (stderr += t) });
    assert.ok(code === 0 || code === 1, `exit code ${code} on ${JSON.stringify(s)}: ${stderr}`);
    codes[code]++;
    if (code === 1) {
      const lines = stderr.trimEnd().split('\n').filter((l) => !l.startsWith('gloree: warning:'));
      assert.equal(lines.length, 1, `not one line: ${stderr}`);
      assert.ok(!existsSync(out), 'failed fit left a model file');
      // Every failure must be a user error with a clear message, never the unexpected-error path.
      if (lines[0].includes('gloree: error:')) unexpected.set(lines[0].slice(0, 200), (unexpected.get(lines[0].slice(0, 200)) ?? 0) + 1);
    } else assert.ok(existsSync(out), 'successful fit wrote no model');
  }
  assert.ok(codes[0] > 20 && codes[1] > 20, JSON.stringify(codes));
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'temporary files left behind');
  assert.deepEqual([...unexpected], [], 'fits that failed through the unexpected-error path');
});

test('every key of a fitted model\'s diagnostics deleted or given the wrong type: evaluate and report exit 0 or 1 naming the key, never the internal-error path', async () => {
  const data = path.join(dir, 'diag-data.csv');
  writeFileSync(data, base);
  const cli = async (...args: string[]) => {
    let stderr = '';
    const code = await main(['node', 'gloree', ...args], { out: () => undefined, err: (t) => (stderr += t) });
    return { code, stderr };
  };
  const fitted = path.join(dir, 'diag-model.json');
  let r = await cli('fit', data, '--hidden', '2', '--out', fitted);
  assert.equal(r.code, 0, r.stderr);
  const model = JSON.parse(readFileSync(fitted, 'utf8'));
  // Control: the unmutated model is accepted.
  r = await cli('evaluate', fitted, data);
  assert.equal(r.code, 0, r.stderr);
  // Every path into diagnostics (objects and arrays, to depth 3).
  const paths: string[][] = [];
  const walk = (v: unknown, at: string[]): void => {
    if (at.length > 0) paths.push(at);
    if (at.length >= 3 || typeof v !== 'object' || v === null) return;
    for (const k of Object.keys(v as object).slice(0, 12)) walk((v as Record<string, unknown>)[k], [...at, k]);
  };
  walk(model.diagnostics, []);
  assert.ok(paths.length > 40, `only ${paths.length} paths`);
  const mutants: unknown[] = ['x', {}, [], -1, null, [['a']], true];
  const rng = new Rng(11);
  let runs = 0;
  for (const at of paths) {
    for (const m of [undefined, mutants[rng.int(mutants.length)]]) {
      const copy = JSON.parse(JSON.stringify(model));
      let o = copy.diagnostics;
      for (const k of at.slice(0, -1)) o = o[k];
      if (m === undefined) delete o[at[at.length - 1]];
      else o[at[at.length - 1]] = m;
      const f = path.join(dir, 'diag-mut.json');
      writeFileSync(f, JSON.stringify(copy));
      for (const cmd of [['evaluate', f, data], ['report', f, data, '--out', path.join(dir, 'diag.html')]]) {
        r = await cli(...cmd);
        runs++;
        const where = `${cmd[0]} with diagnostics.${at.join('.')} = ${JSON.stringify(m) ?? 'deleted'}`;
        assert.ok(r.code === 0 || r.code === 1, `${where}: exit ${r.code}`);
        assert.doesNotMatch(r.stderr, /gloree: error:/, `${where}: internal error ${r.stderr}`);
        if (r.code === 1) assert.match(r.stderr, /^gloree: .*diag-mut\.json: key "diagnostics[.\w\[\]]*" /, where);
      }
    }
  }
  assert.ok(runs > 150);
});

test('the diagnostics written by every learner (quadratic, BRNN, cubic, scalar cubic) pass the model-file check', async () => {
  const { SCENARIOS, simulateScenario } = await import('../src/models/simulate.js');
  const { fitRNN } = await import('../src/learn/fit.js');
  const { modelToJSON, modelFromJSON } = await import('../src/models/serialize.js');
  const { checkDiagnostics } = await import('../src/cli/diagnostics.js');
  for (const name of ['default', 'brnn', 'cubic', 'scalar']) {
    const sc = SCENARIOS[name];
    const { data, model } = simulateScenario(sc, { nSeq: 400, seed: 5 });
    const res = await fitRNN(data, { kind: sc.kind, hidden: sc.dh + (sc.dz ?? 0), activation: model.activation, refine: true, refineMaxRows: 2000, seed: 0 });
    const json = JSON.parse(JSON.stringify(modelToJSON(res.params, { inputModel: res.inputModel.toJSON(), diagnostics: res.diagnostics })));
    const loaded = modelFromJSON(json, `${name}.json`);
    assert.doesNotThrow(() => checkDiagnostics(loaded, `${name}.json`), `${name}`);
  }
});

test('cleanup', () => {
  rmSync(dir, { recursive: true, force: true });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { main } from '../src/cli/main.js';

/** Run the CLI in-process, capturing stdout/stderr and the exit code. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-cli-'));
const p = (f: string): string => path.join(dir, f);

test('simulate → fit → predict → evaluate round trip on the default scenario', async () => {
  let r = await cli('simulate', '--sequences', '3000', '--seed', '4', '--out', p('train.csv'), '--truth', p('truth.json'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli('simulate', '--sequences', '500', '--seed', '5', '--out', p('test.csv'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli('fit', p('train.csv'), '--hidden', '4', '--out', p('model.json'), '--seed', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fitted IO-RNN dh=4 \(σ = z\^2\) on 60000 rows/);
  const model = JSON.parse(readFileSync(p('model.json'), 'utf8'));
  assert.equal(model.format, 'gloree-model');
  assert.equal(model.kind, 'iornn');
  assert.equal(model.U.length, 4);
  assert.ok(model.diagnostics.pinv.A1.sMin > 0);
  r = await cli('predict', p('model.json'), p('test.csv'), '--out', p('pred.csv'));
  assert.equal(r.code, 0, r.stderr);
  const pred = readFileSync(p('pred.csv'), 'utf8').trim().split('\n');
  assert.equal(pred.length, 1 + 500 * 20);
  assert.equal(pred[0], 'seq,t,yhat1,yhat2,yhat3,yhat4');
  r = await cli('evaluate', p('model.json'), p('test.csv'), '--truth', p('truth.json'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const ev = JSON.parse(r.stdout);
  // Learned model close to the truth, and far better than the U = 0 baseline (docs/method.md §7).
  assert.ok(ev.nmseVsTruth < ev.nmseFeedforwardVsTruth / 10, JSON.stringify(ev));
  assert.ok(ev.parameterErrors.U < 0.15, JSON.stringify(ev));
  // Same seed → same model file, bit for bit.
  r = await cli('fit', p('train.csv'), '--hidden', '4', '--out', p('model2.json'), '--seed', '1');
  const strip = (f: string): unknown => {
    const m = JSON.parse(readFileSync(f, 'utf8'));
    delete m.diagnostics.timingsMs; // wall-clock times are the only thing allowed to differ
    delete m.diagnostics.refine.timeMs;
    return m;
  };
  assert.deepEqual(strip(p('model2.json')), strip(p('model.json')));
});

test('fit --hidden auto --kind brnn --report: infers sizes and split, writes model and a self-contained report', async () => {
  let r = await cli('simulate', '--scenario', 'brnn', '--sequences', '2500', '--seed', '8', '--out', p('brnn.parquet'), '--truth', p('brnn-truth.json'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli('fit', p('brnn.parquet'), '--kind', 'brnn', '--hidden', 'auto', '--no-refine', '--out', p('brnn-model.json'), '--report', p('brnn-report.html'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /chose dh \+ dz = 4/);
  assert.match(r.stdout, /fitted BRNN dh=2 forward \+ dz=2 backward/);
  const m = JSON.parse(readFileSync(p('brnn-model.json'), 'utf8'));
  assert.equal(m.kind, 'brnn');
  assert.equal(m.B1.length, 2);
  const html = readFileSync(p('brnn-report.html'), 'utf8');
  assert.ok(html.startsWith('<!DOCTYPE html>') || html.startsWith('<!doctype html>'), 'an HTML document');
  assert.ok((html.match(/<svg/g) ?? []).length >= 5, 'figures');
  assert.ok(!/https?:\/\//.test(html.replace(/xmlns(:\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, '')), 'no network references');
  r = await cli('evaluate', p('brnn-model.json'), p('brnn.parquet'), '--truth', p('brnn-truth.json'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const ev = JSON.parse(r.stdout);
  assert.ok(ev.nmseVsTruth < ev.nmseFeedforwardVsTruth / 10, JSON.stringify(ev));
});

function writeBad(name: string, text: string): string {
  writeFileSync(p(name), text);
  return p(name);
}

const good = 'seq,x1,x2,y1,y2\n' + Array.from({ length: 40 }, (_, i) => `${i >> 3},${Math.sin(i)},${Math.cos(3 * i)},${Math.sin(i) ** 2},${Math.cos(i)}`).join('\n') + '\n';

const badCases: [string, () => string[], RegExp][] = [
  ['missing output column', () => [writeBad('nocol.csv', good.replace('y2', 'z2')), '--hidden', '1', '--y', 'y1,y2'], /y2/],
  ['non-numeric cell', () => [writeBad('nonnum.csv', good.replace(/\n3,([^,]*),/, '\n3,abc,')), '--hidden', '1'], /row \d+.*x1.*abc|abc.*row/i],
  ['NaN cell', () => [writeBad('nan.csv', good.replace(/\n2,([^,]*),/, '\n2,NaN,')), '--hidden', '1'], /row \d+/],
  ['Infinity cell', () => [writeBad('inf.csv', good.replace(/\n2,([^,]*),/, '\n2,Infinity,')), '--hidden', '1'], /row \d+/],
  ['ragged row', () => [writeBad('ragged.csv', good.replace(/\n1,([^\n]*)/, '\n1,0.5,0.5')), '--hidden', '1'], /row \d+/],
  ['empty file', () => [writeBad('empty.csv', ''), '--hidden', '1'], /empty/i],
  ['header only', () => [writeBad('header.csv', 'x1,x2,y1,y2\n'), '--hidden', '1'], /no data|header/i],
  ['sequence of length 1', () => [writeBad('short.csv', good + '99,0.1,0.2,0.3,0.4\n'), '--hidden', '1'], /sequence/i],
  ['--hidden larger than dx', () => [p('ok.csv'), '--hidden', '3'], /hidden/],
  ['missing data file', () => [p('does-not-exist.csv'), '--hidden', '1'], /does-not-exist/],
];

for (const [label, args, pattern] of badCases) {
  test(`fit with bad input: ${label} → exit 1, one line, no output file`, async () => {
    writeFileSync(p('ok.csv'), good);
    const out = p(`out-${label.replace(/\W+/g, '_')}.json`);
    const r = await cli('fit', ...args(), '--out', out);
    assert.equal(r.code, 1, `${label}: code ${r.code}, stderr ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${label}: expected one line, got:\n${r.stderr}`);
    assert.match(lines[0], pattern);
    assert.ok(!existsSync(out), 'no output file');
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('.') && f.includes('out-')), 'no temp file left');
  });
}

test('model file of the wrong shape → exit 1 naming the key; no prediction file', async () => {
  writeFileSync(p('ok.csv'), good);
  const bad = { format: 'gloree-model', version: 1, kind: 'iornn', activation: { coefficients: [0, 0, 1] }, A1: [[1, 0]], U: [[0, 0]], A2: [[1, 1]] };
  writeFileSync(p('badmodel.json'), JSON.stringify(bad));
  const r = await cli('predict', p('badmodel.json'), p('ok.csv'), '--out', p('pred-bad.csv'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /"U"/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.ok(!existsSync(p('pred-bad.csv')));
});

test('usage errors exit 2; --help exits 0', async () => {
  assert.equal((await cli('fit')).code, 2);
  assert.equal((await cli('fit', 'x.csv', '--hidden', '2', '--out', p('m.json'), '--kind', 'cnn')).code, 2);
  assert.equal((await cli('demo', '--sequences', 'many')).code, 2);
  assert.equal((await cli('nonsense')).code, 2);
  const h = await cli('fit', '--help');
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--hidden/);
});

test('the gloree binary runs as a separate process (exit codes through the shell)', () => {
  const entry = path.resolve('src/cli/main.ts');
  const ok = spawnSync(process.execPath, ['--import', 'tsx', entry, '--help'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /demo/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', entry, 'fit', p('nope.csv'), '--hidden', '1', '--out', p('x.json')], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

test('a file without seq is one sequence: fit works (no rank spectrum), --hidden auto says why it cannot', async () => {
  const rows = ['x1,x2,y1,y2'];
  const rng = [0.3, -0.1];
  let h = [0, 0];
  for (let t = 0; t < 6000; t++) {
    rng[0] = 0.5 * rng[0] + 0.4 * Math.sin(7.1 * t) ;
    rng[1] = 0.5 * rng[1] + 0.4 * Math.cos(3.3 * t * t);
    const z = [rng[0] + 0.1 * h[1], rng[1] - 0.1 * h[0]];
    h = [z[0] * z[0], z[1] * z[1]];
    rows.push(`${rng[0]},${rng[1]},${h[0] + 0.5 * h[1]},${h[1] - 0.3 * h[0]}`);
  }
  writeFileSync(p('noseq.csv'), rows.join('\n') + '\n');
  let r = await cli('fit', p('noseq.csv'), '--hidden', '2', '--no-refine', '--out', p('noseq.json'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /on 6000 rows \(1 sequences/);
  assert.equal(JSON.parse(readFileSync(p('noseq.json'), 'utf8')).diagnostics.rank, null);
  r = await cli('fit', p('noseq.csv'), '--hidden', 'auto', '--out', p('noseq2.json'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /one sequence; give --hidden K/);
  assert.ok(!existsSync(p('noseq2.json')));
});

test('outputs never overwrite inputs or each other; unwritable directories are refused before any work', async () => {
  writeFileSync(p('keep.csv'), good);
  const before = readFileSync(p('keep.csv'), 'utf8');
  let r = await cli('fit', p('keep.csv'), '--hidden', '1', '--out', p('keep.csv'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /also an input/);
  assert.equal(readFileSync(p('keep.csv'), 'utf8'), before);
  r = await cli('simulate', '--sequences', '10', '--out', p('same.csv'), '--truth', p('same.csv'));
  assert.equal(r.code, 2);
  r = await cli('simulate', '--sequences', '10', '--out', p('sim-ok.csv'), '--truth', p('no-such-dir/t.json'));
  assert.equal(r.code, 1);
  assert.ok(!existsSync(p('sim-ok.csv')), 'no data file left when the truth cannot be written');
  r = await cli('fit', p('keep.csv'), '--hidden', '1', '--no-refine', '--out', p('m-ok.json'), '--report', p('no-such-dir/r.html'));
  assert.equal(r.code, 1);
  assert.ok(!existsSync(p('m-ok.json')), 'no model left when the report cannot be written');
  r = await cli('predict', p('model.json'), p('test.csv'), '--out', p('pred.parquet'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /CSV/);
});

test('constant output column: exit 1 naming the file and column', async () => {
  writeFileSync(p('consty.csv'), good.replace(/^(\d+,[^,]*,[^,]*),[^,]*,/gm, '$1,2.5,').replace('seq,x1,x2,2.5,y2', 'seq,x1,x2,y1,y2'));
  const r = await cli('fit', p('consty.csv'), '--hidden', '1', '--out', p('consty.json'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /consty\.csv: output column "y1" is constant/);
});

test('report on data where the model blows up: exit 0, the report says so instead of failing', async () => {
  writeFileSync(p('ok2.csv'), good);
  const wild = { format: 'gloree-model', version: 1, kind: 'iornn', activation: { coefficients: [0, 0, 1] }, A1: [[1, 1]], U: [[50]], A2: [[1, 1]] };
  writeFileSync(p('wild.json'), JSON.stringify(wild));
  const r = await cli('report', p('wild.json'), p('ok2.csv'), '--out', p('wild.html'));
  assert.equal(r.code, 0, r.stderr);
  const html = readFileSync(p('wild.html'), 'utf8');
  assert.match(html, /blows up on .*ok2\.csv, row \d+: sequence seq = \d+, step \d+/);
  // predict refuses with the same diagnosis and writes nothing.
  const q = await cli('predict', p('wild.json'), p('ok2.csv'), '--out', p('wild-pred.csv'));
  assert.equal(q.code, 1);
  assert.match(q.stderr, /blows up on .*ok2\.csv, row \d+: sequence seq = \d+, step \d+/);
  assert.ok(!existsSync(p('wild-pred.csv')));
});

test('blow-ups name the data file, the sequence id as written and the row; evaluate reports NMSE over the other sequences plus the count', async () => {
  // 5 sequences of 8 steps with ids 7001..7005; small inputs everywhere except sequence 7003 (x = 2), on which
  // h_t = (x1 + x2 + h_{t−1})² escapes: 16, 400, 163 216, 2.7e10 > 1e6 at step 4 (file row 2 + 16 + 3 = 21).
  const lines = ['seq,x1,x2,y1,y2'];
  const X: number[][] = [], Y: number[][] = [], S: number[] = [];
  for (let i = 0; i < 40; i++) {
    const s = 7001 + (i >> 3);
    const x = s === 7003 ? 2 : 0.1 * Math.sin(i);
    X.push([x, x]);
    Y.push([Math.sin(i) ** 2 * 0.1, 0.05 * Math.cos(i)]);
    S.push(s);
    lines.push(`${s},${x},${x},${Y[i][0]},${Y[i][1]}`);
  }
  writeFileSync(p('ids.csv'), lines.join('\n') + '\n');
  writeFileSync(p('blow.json'), JSON.stringify({ format: 'gloree-model', version: 1, kind: 'iornn', activation: { coefficients: [0, 0, 1] }, A1: [[1, 1]], U: [[1]], A2: [[1, 1]] }));
  let r = await cli('predict', p('blow.json'), p('ids.csv'), '--out', p('ids-pred.csv'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^gloree: the model .*blow\.json blows up on .*ids\.csv, row 21: sequence seq = 7003, step 4 \(\|h\| = 2\.7e\+10\)/);
  r = await cli('evaluate', p('blow.json'), p('ids.csv'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const ev = JSON.parse(r.stdout);
  assert.equal(ev.blownUp.sequences, 1);
  assert.equal(ev.blownUp.of, 5);
  assert.match(ev.blownUp.first, /ids\.csv, row 21: sequence seq = 7003, step 4/);
  // NMSE over the other four sequences, by hand: ŷ = (h, h) with h_t = (x1 + x2 + h_{t−1})², h reset per sequence.
  let sse = 0, n = 0;
  const mean = [0, 0];
  const kept: number[] = [];
  let h = 0;
  for (let i = 0; i < 40; i++) {
    if (i % 8 === 0) h = 0;
    h = (X[i][0] + X[i][1] + h) ** 2;
    if (S[i] === 7003) continue;
    kept.push(i);
    sse += (h - Y[i][0]) ** 2 + (h - Y[i][1]) ** 2;
    mean[0] += Y[i][0];
    mean[1] += Y[i][1];
    n++;
  }
  let sst = 0;
  for (const i of kept) sst += (Y[i][0] - mean[0] / n) ** 2 + (Y[i][1] - mean[1] / n) ** 2;
  assert.ok(Math.abs(ev.nmse - sse / sst) <= 1e-9 * (sse / sst), `${ev.nmse} vs ${sse / sst}`);
  r = await cli('evaluate', p('blow.json'), p('ids.csv'));
  assert.equal(r.code, 0);
  assert.match(r.stdout, /blows up on 1 of 5 sequences \(first: .*seq = 7003.*\); the NMSEs below are over the other 4/);
  // Every sequence escaping is an error, not an empty table.
  writeFileSync(p('ids-all.csv'), lines.map((l, i) => (i === 0 ? l : l.replace(/^(\d+),[^,]*,[^,]*,/, '$1,2,2,'))).join('\n') + '\n');
  r = await cli('evaluate', p('blow.json'), p('ids-all.csv'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /blows up on every sequence of .*ids-all\.csv \(first: .*seq = 7001/);
  r = await cli('report', p('blow.json'), p('ids.csv'), '--out', p('ids.html'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(p('ids.html'), 'utf8'), /blows up on .*ids\.csv, row 21: sequence seq = 7003, step 4/);
});

test('--hidden auto on data from an odd activation points to the remedy that works (an odd activation), not to forcing K with z²', async () => {
  writeFileSync(p('odd-scenario.json'), JSON.stringify({ dx: 4, dh: 2, dy: 4, activation: 'z3', input: { rho: 0.5, sigma: 0.35 }, uNorm: 0.15, noise: 0.02, seqLength: 20, seed: 3 }));
  let r = await cli('simulate', '--scenario', p('odd-scenario.json'), '--sequences', '800', '--out', p('odd.csv'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli('fit', p('odd.csv'), '--hidden', 'auto', '--no-refine', '--out', p('odd.json'));
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /odd activation.*--activation tanh or z3 and --hidden K/);
  assert.doesNotMatch(r.stderr, /pass --hidden K to force/);
  // The remedy named works: an odd activation with a given K fits.
  r = await cli('fit', p('odd.csv'), '--activation', 'z3', '--hidden', '2', '--no-refine', '--out', p('odd.json'));
  assert.equal(r.code, 0, r.stderr);
});

test('one consistent CLI: unknown options first with a suggestion, bad values exit 2, one error style, help marks required options and formats', async () => {
  writeFileSync(p('ok3.csv'), good);
  let r = await cli('fit', p('ok3.csv'), '--hiden', '4', '--out', p('u.json'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^gloree: unknown option '--hiden' for 'gloree fit' \(did you mean --hidden\?\)/);
  assert.doesNotMatch(r.stderr, /required/);
  r = await cli('predict', p('model.json'), p('ok3.csv'), '--out', p('u.csv'), '--y', 'y1');
  assert.equal(r.code, 2, 'predict does not offer --y (it reads inputs only)');
  r = await cli('fit', p('ok3.csv'), '--out', p('u.json'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^gloree: required option '--hidden/);
  for (const args of [['simulate', '--scenario', 'nope', '--out', p('u.csv')], ['fit', p('ok3.csv'), '--hidden', '1', '--x', '', '--out', p('u.json')], ['evaluate', p('model.json'), p('ok3.csv'), '--y', ' , ']]) {
    r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^gloree: /);
  }
  for (const c of ['fit', 'predict', 'evaluate', 'report', 'simulate']) {
    r = await cli(c, '--help');
    assert.equal(r.code, 0);
    if (c !== 'simulate') assert.match(r.stdout, /CSV, Arrow or Parquet/, `${c} help lists the data formats`);
    assert.match(r.stdout, /--format <fmt>.*\n?.*csv.*arrow.*parquet/s);
  }
  r = await cli('fit', '--help');
  assert.match(r.stdout, /--hidden <k\|auto>\s+\(required\)/);
  assert.match(r.stdout, /--out <model\.json>\s+\(required\)/);
  assert.doesNotMatch(r.stdout, /--seed <n>\s+\(required\)/);
});

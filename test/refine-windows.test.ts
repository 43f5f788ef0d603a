/**
 * The refinement on one long recording (issue 17): the window plan (src/learn/refine-windows.ts), the collector that
 * assembles windows from pieces of a sequence (src/learn/refine-sample.ts), the burn-in rows of the loss passes
 * (src/rnn/states.ts, gradient.ts, sensitivity.ts) against a brute-force loss, and a one-sequence fit through the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../src/cli/main.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { Matrix } from '../src/linalg/matrix.js';
import { burnInRows, planRefineWindows, type RefinePlan } from '../src/learn/refine-windows.js';
import { RefineSampleCollector, SequenceLengths } from '../src/learn/refine-sample.js';
import { ioRNNJacobian } from '../src/learn/refine.js';
import { layoutOf, packParams } from '../src/rnn/layout.js';
import { statePass } from '../src/rnn/states.js';
import { gradientPass } from '../src/rnn/gradient.js';
import { sensitivityPass } from '../src/rnn/sensitivity.js';
import { loadModel } from '../src/models/serialize.js';
import { predict } from '../src/models/brnn.js';
import { activationFromSpec } from '../src/models/activation.js';
import type { IORNNParams } from '../src/models/params.js';
import { Rng } from '../src/random/rng.js';

const counted = (p: RefinePlan, w: { start: number; end: number }) => w.end - w.start - p.burnIn;

test('burnInRows: ⌈ln 1e-3 / ln ρ⌉ with ρ floored at 0.9, capped at 1000 and cap/40', () => {
  assert.equal(burnInRows(0.99, 2e5), Math.ceil(Math.log(1e-3) / Math.log(0.99))); // 688
  assert.equal(burnInRows(0.5, 2e5), Math.ceil(Math.log(1e-3) / Math.log(0.9))); // 66: the floor
  assert.equal(burnInRows(0.9999, 2e5), 1000);
  assert.equal(burnInRows(1.3, 2e5), 1000); // no decay: the cap decides
  assert.equal(burnInRows(0.999, 8000), 200); // cap/40
});

test('planRefineWindows: multi-sequence data within 1.25× the cap keep the whole-sequence mode', () => {
  const p = planRefineWindows(Array(50).fill(100), 2e5, { burnIn: 66 });
  assert.equal(p.mode, 'sequences');
  assert.equal(p.stride, 1);
  assert.equal(p.trainRows, 5000);
  // Every other sequence (stride 2) still ≥ 2 sampled and ≤ 1.25× cap: whole sequences.
  assert.equal(planRefineWindows(Array(10).fill(1100), 10000, { burnIn: 66 }).mode, 'sequences');
  assert.equal(planRefineWindows([100000], 2e5, { burnIn: 66, allowWindows: false }).mode, 'sequences');
});

test('planRefineWindows: one sequence under the cap is covered, the validation block is its last 20 %', () => {
  const N = 100000, B = 200;
  const p = planRefineWindows([N], 2e5, { burnIn: B });
  assert.equal(p.mode, 'windows');
  assert.equal(p.burnIn, B);
  // Validation: exactly the last 20 % counted, burn-in from the rows before it.
  assert.equal(p.validation.length, 1);
  assert.deepEqual(p.validation[0], { seq: 0, start: N - 20000 - B, end: N });
  assert.equal(p.validationRows, 20000);
  // Training windows: counted rows tile [B, N − 20 000) without gap or overlap, each burn-in inside the sequence.
  let c = B;
  for (const w of p.train) {
    assert.equal(w.start + B, c);
    assert.ok(w.start >= 0 && w.end > w.start + B);
    c = w.end;
  }
  assert.equal(c, N - 20000);
  assert.equal(p.trainRows, N - 20000 - B);
  assert.ok(p.trainRows + p.validationRows <= 2e5);
});

test('planRefineWindows: above the cap, counted rows ≤ cap, windows spread, validation block still at the end', () => {
  for (const lengths of [[1_000_000], Array(30).fill(10000)]) {
    const cap = 1e5, B = 66;
    const p = planRefineWindows(lengths, cap, { burnIn: B });
    assert.equal(p.mode, 'windows');
    const sum = [...p.train, ...p.validation].reduce((s, w) => s + counted(p, w), 0);
    assert.ok(sum <= cap, `${sum} counted rows > cap ${cap}`);
    // The block: the last 20 000 rows of the data; a part of it that starts a sequence loses its first B rows to burn-in.
    const starts = p.validation.filter((w) => w.start === 0).length;
    assert.equal(p.validationRows, 0.2 * cap - B * starts);
    assert.equal(starts, lengths.length === 1 ? 0 : 2); // 30 × 10 000: the last two sequences, whole
    const N = lengths.reduce((a, b) => a + b, 0);
    const ends = p.validation.map((w) => lengths.slice(0, w.seq).reduce((a, b) => a + b, 0) + w.end);
    assert.equal(Math.max(...ends), N);
    // Training windows are disjoint in counted rows, in data order, and spread over the data (first and last tenth).
    const g = (w: { seq: number; start: number }) => lengths.slice(0, w.seq).reduce((a, b) => a + b, 0) + w.start;
    for (let i = 1; i < p.train.length; i++) assert.ok(g(p.train[i]) + B >= g(p.train[i - 1]) + (p.train[i - 1].end - p.train[i - 1].start));
    assert.ok(g(p.train[0]) < 0.1 * N && g(p.train[p.train.length - 1]) > 0.6 * N);
  }
});

/** One sequence of n rows, dx = 2, dy = 1, fixed values. */
function sequenceData(n: number, seed: number): { x: Float64Array; y: Float64Array } {
  const r = new Rng(seed);
  return { x: Float64Array.from({ length: 2 * n }, () => r.normal()), y: Float64Array.from({ length: n }, () => r.normal()) };
}

test('RefineSampleCollector: windows from pieces of the sequence = windows from the whole sequence = the planned slices', () => {
  const n = 5000, { x, y } = sequenceData(n, 3);
  const plan = planRefineWindows([n], 3000, { burnIn: 40 }); // above the cap: a sample of windows
  assert.equal(plan.mode, 'windows');
  const whole = new RefineSampleCollector(plan, 2, 1);
  whole.addChunk(makeChunk(2, 1, x, y, [n]));
  const pieces = new RefineSampleCollector(plan, 2, 1);
  const lengths = new SequenceLengths();
  const r = new Rng(9);
  for (let a = 0; a < n; ) {
    const L = Math.min(n - a, 1 + r.int(700));
    const c: SequenceChunk = { ...makeChunk(2, 1, x.slice(2 * a, 2 * (a + L)), y.slice(a, a + L), [L]), continued: a > 0, continues: a + L < n };
    pieces.addChunk(c);
    lengths.add(c);
    a += L;
  }
  assert.deepEqual(Array.from(lengths.lengths), [n]);
  const A = whole.result(), B = pieces.result();
  for (const k of ['train', 'validation'] as const) {
    assert.deepEqual(Array.from(B[k]!.x), Array.from(A[k]!.x));
    assert.deepEqual(Array.from(B[k]!.y), Array.from(A[k]!.y));
    assert.deepEqual(Array.from(B[k]!.lengths), Array.from(A[k]!.lengths));
  }
  // The planned rows, and nothing more, are held.
  const planned = [...plan.train, ...plan.validation];
  assert.equal(pieces.heldRows, planned.reduce((s, w) => s + w.end - w.start, 0));
  let o = 0;
  for (const w of plan.train) {
    assert.deepEqual(Array.from(A.train.y.subarray(o, o + w.end - w.start)), Array.from(y.subarray(w.start, w.end)));
    o += w.end - w.start;
  }
});

test('burn-in: the loss passes skip exactly the first B rows of every sequence (brute force, dense Jacobian)', () => {
  const r = new Rng(5);
  const dx = 2, dh = 3, dy = 2, B = 7, lengths = [20, 9, 30];
  const mat = (m: number, k: number, s: number) => new Matrix(m, k, Float64Array.from({ length: m * k }, () => s * r.normal()));
  const params: IORNNParams = { kind: 'iornn', A1: mat(dh, dx, 0.7), U: mat(dh, dh, 0.3), A2: mat(dh, dy, 1), b: Float64Array.from([0.1, -0.2]), activation: activationFromSpec('tanh') };
  const rows = lengths.reduce((a, b) => a + b, 0);
  const chunk = makeChunk(dx, dy, Float64Array.from({ length: rows * dx }, () => r.normal()), Float64Array.from({ length: rows * dy }, () => r.normal()), lengths);
  // Brute force: h_t = tanh(A1 x_t + U h_{t−1}) from h = 0 per sequence, ŷ_t = A2ᵀ h_t + b; SSE over t ≥ B only.
  let sse = 0, n = 0;
  const countedRow: boolean[] = [];
  let row = 0;
  for (const L of lengths) {
    let h = new Float64Array(dh);
    for (let t = 0; t < L; t++, row++) {
      const hn = new Float64Array(dh);
      for (let j = 0; j < dh; j++) {
        let u = 0;
        for (let k = 0; k < dx; k++) u += params.A1.data[j * dx + k] * chunk.x[row * dx + k];
        for (let k = 0; k < dh; k++) u += params.U.data[j * dh + k] * h[k];
        hn[j] = Math.tanh(u);
      }
      h = hn;
      countedRow.push(t >= B);
      if (t < B) continue;
      n++;
      for (let i = 0; i < dy; i++) {
        let yh = params.b![i];
        for (let j = 0; j < dh; j++) yh += params.A2.data[j * dy + i] * h[j];
        sse += (yh - chunk.y[row * dy + i]) ** 2;
      }
    }
  }
  const lay = layoutOf(params, dx, dy), th = packParams(params), P = lay.P;
  const sp = statePass(lay, th, [chunk], undefined, B);
  assert.equal(sp.rows, n);
  // 1e-12 relative: the same sums in a different association order.
  assert.ok(Math.abs(sp.sse - sse) <= 1e-12 * sse, `${sp.sse} vs ${sse}`);
  // Gradient and normal equations with burn-in = the dense Jacobian (no burn-in) restricted to the counted rows.
  const { J, residual } = ioRNNJacobian(params, chunk);
  const g = new Float64Array(P), N = new Float64Array(P * P);
  for (let q = 0; q < rows; q++) {
    if (!countedRow[q]) continue;
    for (let i = 0; i < dy; i++) {
      const a0 = (q * dy + i) * P, rr = residual[q * dy + i];
      for (let a = 0; a < P; a++) {
        g[a] += J.data[a0 + a] * rr;
        for (let b = 0; b < P; b++) N[a * P + b] += J.data[a0 + a] * J.data[a0 + b];
      }
    }
  }
  const grad = new Float64Array(P);
  const gp = gradientPass(lay, th, [chunk], grad, B);
  assert.equal(gp.rows, n);
  const Ns = new Float64Array(P * P), gs = new Float64Array(P);
  const ss = sensitivityPass(lay, th, [chunk], { N: Ns, g: gs }, B);
  assert.equal(ss.rows, n);
  // Tolerance 1e-9 relative to the largest entry: BPTT vs forward sensitivities sum the same terms differently.
  const close = (a: ArrayLike<number>, b: ArrayLike<number>, s: number) => {
    let mx = 0;
    for (let k = 0; k < b.length; k++) mx = Math.max(mx, Math.abs(b[k]));
    for (let k = 0; k < b.length; k++) assert.ok(Math.abs(a[k] * s - b[k]) <= 1e-9 * mx, `entry ${k}: ${a[k] * s} vs ${b[k]}`);
  };
  close(grad, g, 0.5); // gradientPass returns ∂SSE/∂θ = 2 Jᵀr
  close(gs, g, 1);
  close(Ns, N, 1);
});

test('one-sequence fit through the CLI: windows, a validation block, and a model that predicts without blowing up', async () => {
  // A planted lightly damped second-order system with a saturating feedback, driven by coloured noise: one record.
  const simulate = (n: number, seed: number) => {
    const r = new Rng(seed);
    const u = new Float64Array(n), y = new Float64Array(n);
    let s1 = 0, s2 = 0, e = 0;
    for (let t = 0; t < n; t++) {
      e = 0.7 * e + r.normal();
      u[t] = e;
      const n1 = 1.6 * s1 - 0.8 * s2 + 0.1 * Math.tanh(e) - 0.05 * s1 * s1 * s1;
      s2 = s1;
      s1 = n1;
      y[t] = s1 + 0.01 * r.normal();
    }
    return { u, y };
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-windows-'));
  const tr = simulate(4000, 1);
  writeFileSync(path.join(dir, 'train.csv'), 'u,y\n' + Array.from(tr.u, (v, t) => `${v},${tr.y[t]}`).join('\n') + '\n');
  let out = '', err = '';
  const code = await main(['node', 'gloree', 'fit', path.join(dir, 'train.csv'), '--x', 'u', '--y', 'y', '--activation', 'tanh', '--hidden', '3', '--refine-iterations', '40', '--out', path.join(dir, 'm.json')], { out: (t) => (out += t), err: (t) => (err += t) });
  assert.equal(code, 0, err);
  assert.match(out, /refinement: 1 sequence → \d+ windows/);
  const m = loadModel(path.join(dir, 'm.json'));
  const d = (m as unknown as { diagnostics: { refine: { sample: { mode: string; validationRows: number }; valLossEnd: number } } }).diagnostics.refine;
  assert.equal(d.sample.mode, 'windows');
  assert.equal(d.sample.validationRows, 800); // the last 20 % of 4 000 rows
  const te = simulate(3000, 2);
  const yhat = predict(m.params, makeChunk(1, 1, te.u, te.y, [3000]));
  let se = 0, ss = 0, mean = 0;
  for (let t = 0; t < 3000; t++) mean += te.y[t] / 3000;
  for (let t = 0; t < 3000; t++) {
    assert.ok(Number.isFinite(yhat[t]));
    se += (yhat[t] - te.y[t]) ** 2;
    ss += (te.y[t] - mean) ** 2;
  }
  // Free-run NMSE on a fresh record: a model that blew up or learned nothing sits at ≥ 1; the linear part of this
  // system alone explains most of the variance, so a working fit is far below 0.5.
  assert.ok(se / ss < 0.5, `free-run NMSE ${se / ss}`);
});

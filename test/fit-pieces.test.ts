/**
 * `fit` on one long sequence delivered in pieces (src/learn/pieces.ts) gives the model of the whole sequence read
 * as one chunk. Ground truth: the same learner on the in-memory whole sequence (the pre-existing path, not the
 * piece path). The piece path sums the same terms (halo rows add exact zeros), grouped by piece instead of by
 * chunk, so the moments differ by rounding only (relative ~1e-15 per sum); propagated through the CP and the
 * least squares (condition numbers ≤ ~1e3 here) that stays far below the 1e-9 relative tolerance used.
 * The refinement is off: it sees the same sample either way, but we compare the method's own estimate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SequenceChunk, DataSource, makeChunk, memorySource } from '../src/io/dataset.js';
import { assertClose, pieceSource, piecesOf } from './pieces-fixtures.js';
import { fitRNN, FitOptions } from '../src/learn/fit.js';
import { haloChunks } from '../src/learn/pieces.js';
import { IORNNParams } from '../src/models/params.js';
import { SCENARIOS, scenarioModel, simulateIORNN, simulateInputs } from '../src/models/simulate.js';

function longSequence(rows: number, seed: number, nSeq = 1): SequenceChunk {
  const s = SCENARIOS.default;
  const params = scenarioModel(s) as IORNNParams;
  const inputs = simulateInputs({ dx: s.dx, nSeq, seqLength: rows, rho: s.input.rho, sigma: s.input.sigma, seed });
  return simulateIORNN(params, inputs, { noise: 0.05, seed: seed + 1 });
}


function paramsOf(p: IORNNParams): Record<string, Float64Array | undefined> {
  return { A1: p.A1.data, U: p.U.data, A2: p.A2.data, b: p.b };
}

test('haloChunks: each piece gets up to H rows of its neighbours, zero y on them, and every row once as its own', async () => {
  const c = longSequence(50, 3);
  const got: number[] = [];
  for await (const p of haloChunks(pieceSource(piecesOf(c, 4)), { left: 2, right: 3 })) {
    const h = (p.chunk as { halo?: { left: number; right: number } }).halo ?? { left: 0, right: 0 };
    for (let r = 0; r < p.chunk.rows; r++) {
      const t = p.stepOffset - h.left + r; // step in the whole sequence
      for (let a = 0; a < c.dx; a++) assert.equal(p.chunk.x[r * c.dx + a], c.x[t * c.dx + a]);
      const own = r >= h.left && r < p.chunk.rows - h.right;
      for (let i = 0; i < c.dy; i++) assert.equal(p.chunk.y[r * c.dy + i], own ? c.y[t * c.dy + i] : 0);
      if (own) got.push(t);
    }
    assert.ok(h.left === Math.min(2, p.stepOffset));
  }
  assert.deepEqual(got, Array.from({ length: 50 }, (_, t) => t));
});

// The linear learner and the smooth learner's linear route (dh > dx) read the pieces with a halo of K = 64 rows
// before them (their Markov moments pair y_t with s_{t−k}, k < K: src/moments/markov.ts); their identification
// sample keeps the pieces' own rows, joined (src/learn/chunks.ts SequenceSample).
// Pieces of 1, 7 and 1000 rows for the default route; of 7 rows (every halo crossing several pieces) for the others,
// to keep the suite short (the piece path's cost is per piece and halo).
const routes: [string, Omit<FitOptions, 'refine'>][] = [
  ['quadratic GLOREE, var1', { hidden: 2, inputModel: 'var1' }],
  ['quadratic GLOREE, auto', { hidden: 2 }],
  ['linear, var1', { hidden: 'auto', activation: { name: 'linear' }, inputModel: 'var1' }],
  ['tanh, linear route (dh > dx), var1', { hidden: 5, activation: { name: 'tanh' }, inputModel: 'var1' }],
  // σ = z³ + 0.1z (odd: directions from the order-3 moment P1): the order-l Hermite moments, the U moment's own
  // control variate (its sample) and the neuron-scale sample.
  ['polynomial σ (cubic), var1', { hidden: 2, activation: { coefficients: [0, 0.1, 0, 1] }, inputModel: 'var1' }],
  // VAR(3) inputs: the fit's windows need 8 rows before a piece (maxOrder), the scores 3 either side.
  ['quadratic GLOREE, varp', { hidden: 2, inputModel: 'varp', inputOrder: 3 }],
  ['linear, varp', { hidden: 'auto', activation: { name: 'linear' }, inputModel: 'varp', inputOrder: 3 }],
];
for (const [name, opts] of routes) {
  test(`fit on one long sequence in tiny pieces = fit on the whole sequence (${name})`, async () => {
    const c = longSequence(4000, 21);
    const whole = await fitRNN(memorySource(c), { ...opts, refine: false, seed: 1 });
    for (const size of name.startsWith('quadratic GLOREE, var1') ? [1, 7, 1000] : [7]) {
      const split = await fitRNN(pieceSource(piecesOf(c, size)), { ...opts, refine: false, seed: 1, spill: false });
      const a = paramsOf(split.params as IORNNParams), b = paramsOf(whole.params as IORNNParams);
      for (const k of Object.keys(b)) assertClose(a[k]!, b[k]!, 1e-9, `${name}, pieces of ${size}: ${k}`);
      assert.deepEqual(split.diagnostics.data, whole.diagnostics.data);
    }
  });
}

// tanh with dh ≤ dx (the moments route: order-m moments, the P2′ mixed moment, the scale-fit sample) needs two
// sequences (the rank rule's halves): two long ones, each in pieces.
test('tanh on the moments route (dh ≤ dx), two long sequences in pieces = whole sequences', async () => {
  const c = longSequence(2000, 35, 2);
  const opts: FitOptions = { hidden: 2, activation: { name: 'tanh' }, inputModel: 'var1', refine: false, seed: 1 };
  const whole = await fitRNN(memorySource(c), opts);
  const split = await fitRNN(pieceSource(piecesOf(c, 7)), { ...opts, spill: false });
  const a = paramsOf(split.params as IORNNParams), b = paramsOf(whole.params as IORNNParams);
  for (const k of Object.keys(b)) assertClose(a[k]!, b[k]!, 1e-9, `tanh moments route, pieces of 7: ${k}`);
  // The rank rule's spectra (T2 and the order-3 moment T3, in the diagnostics for a given dh too).
  const spectra = (r: typeof whole): number[] => JSON.stringify((r.diagnostics as { smooth?: { hidden?: { rank?: unknown } } }).smooth?.hidden?.rank ?? null).match(/-?\d+(\.\d+)?(e[-+]?\d+)?/g)!.map(Number);
  assertClose(spectra(split), spectra(whole), 1e-9, 'tanh moments route: rank spectra');
});

/**
 * One long sequence with non-Gaussian (mixture) VAR(1) inputs, dx = 2, from a planted tanh IO-RNN. Non-Gaussian
 * on purpose: on Gaussian inputs the mixture fit's unmixing W is not identified (any rotation fits), so rounding
 * alone moves it; here it is identified and pieces and whole chunk give the same input model.
 */
async function longMixtureSequence(rows: number, seed: number): Promise<SequenceChunk> {
  const { Matrix } = await import('../src/linalg/matrix.js');
  const { MixtureVAR1 } = await import('../src/input/var1-mixture.js');
  const { Rng } = await import('../src/random/rng.js');
  const { randomIORNN } = await import('../src/models/planted.js');
  const model = new MixtureVAR1([0.2, -0.1], Matrix.from([[0.5, 0.2], [-0.1, 0.3]]), Matrix.from([[1.3, 0.4], [-0.2, 0.9]]), [
    { weights: [0.3, 0.7], means: [-0.8, 0.35], variances: [0.5, 0.3] },
    { weights: [0.2, 0.5, 0.3], means: [0.1, 0, -0.2], variances: [3, 0.4, 0.9] },
  ]);
  const x = model.simulate(new Rng(seed), [rows]);
  const truth = randomIORNN({ dx: 2, dh: 2, dy: 3, uNorm: 0.5, seed: seed + 1, activation: { name: 'tanh' } });
  return simulateIORNN(truth, makeChunk(2, 0, x, new Float64Array(0), [rows]), { noise: 0.05, seed: seed + 2 });
}

// The VAR(1) with mixture innovations: its accumulators (src/moments/nongaussian.ts) compute their own scores and
// innovation derivatives, which read one row either side, and test the sequence boundary by step.
const mixtureRoutes: [string, Omit<FitOptions, 'refine'>][] = [
  ['quadratic GLOREE', { hidden: 2 }],
  ['linear', { hidden: 'auto', activation: { name: 'linear' } }],
  ['tanh, linear route', { hidden: 3, activation: { name: 'tanh' } }],
  ['polynomial σ = z³ + 0.1z', { hidden: 2, activation: { coefficients: [0, 0.1, 0, 1] } }],
];
for (const [name, opts] of mixtureRoutes) {
  test(`fit with the mixture input model on one long sequence in pieces = on the whole sequence (${name})`, async () => {
    const c = await longMixtureSequence(4000, 31);
    const o = { ...opts, inputModel: 'mixture' as const, refine: false, seed: 1 };
    const whole = await fitRNN(memorySource(c), o);
    assert.match(JSON.stringify(whole.inputModel.toJSON()), /mixture-var1/);
    for (const size of [7]) {
      const split = await fitRNN(pieceSource(piecesOf(c, size)), { ...o, spill: false });
      const a = paramsOf(split.params as IORNNParams), b = paramsOf(whole.params as IORNNParams);
      for (const k of Object.keys(b)) assertClose(a[k]!, b[k]!, 1e-9, `mixture, ${name}, pieces of ${size}: ${k}`);
    }
  });
}

test('gloree fit on a file without a seq column in tiny pieces (GLOREE_CHUNK_ROWS) writes the model of the whole-file fit', async () => {
  const { main } = await import('../src/cli/main.js');
  const { writeDataFile } = await import('../src/io/open.js');
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-fit-pieces-'));
  const file = path.join(dir, 'one.csv');
  await writeDataFile(file, longSequence(3000, 5), { seq: false });
  const fit = async (chunkRows: string | undefined, out: string): Promise<Record<string, number[][]>> => {
    const saved = process.env.GLOREE_CHUNK_ROWS;
    if (chunkRows === undefined) delete process.env.GLOREE_CHUNK_ROWS;
    else process.env.GLOREE_CHUNK_ROWS = chunkRows;
    let err = '';
    try {
      const code = await main(['node', 'gloree', 'fit', file, '--hidden', '2', '--no-refine', '--out', out, '--quiet'], { out: () => undefined, err: (t) => (err += t) });
      assert.equal(code, 0, err);
    } finally {
      if (saved === undefined) delete process.env.GLOREE_CHUNK_ROWS;
      else process.env.GLOREE_CHUNK_ROWS = saved;
    }
    return JSON.parse(readFileSync(out, 'utf8'));
  };
  // 3000 rows < the default 65 536: one chunk, the whole-sequence path. 97-row pieces: the piece path.
  const whole = await fit(undefined, path.join(dir, 'whole.json'));
  const split = await fit('97', path.join(dir, 'split.json'));
  for (const k of ['A1', 'U', 'A2']) assertClose(split[k].flat(), whole[k].flat(), 1e-9, `CLI ${k}`);
});

test('the stability check on pieces names the blow-up step from the sequence start, as on the whole sequence', async () => {
  const { firstBlowUp } = await import('../src/learn/stability.js');
  const { Matrix } = await import('../src/linalg/matrix.js');
  const c = longSequence(600, 9);
  const p = scenarioModel(SCENARIOS.default) as IORNNParams;
  // A recurrent weight well past 1 on σ = z²: the state escapes after some steps (where is data-dependent).
  const big: IORNNParams = { ...p, U: new Matrix(p.U.rows, p.U.cols, p.U.data.map((v, i) => (i % (p.U.cols + 1) === 0 ? 3 : v))) };
  const whole = await firstBlowUp(memorySource(c), big);
  assert.ok(whole, 'the planted blow-up happens');
  const split = await firstBlowUp(pieceSource(piecesOf(c, 5)), big);
  assert.equal(split?.message, whole.message);
});

// The fallback pass (src/learn/stability.ts) on pieces: every candidate carries its state across them, so the
// same candidates blow up (named by the same step) and the kept one has the same output layer (sums grouped by
// piece: rounding only, 1e-9 relative).
test('the stability fallback on pieces keeps the candidate and output layer of the whole sequence', async () => {
  const { ensureStable } = await import('../src/learn/stability.js');
  const { Matrix } = await import('../src/linalg/matrix.js');
  const c = longSequence(600, 9);
  const p = scenarioModel(SCENARIOS.default) as IORNNParams;
  const big: IORNNParams = { ...p, U: new Matrix(p.U.rows, p.U.cols, p.U.data.map((v, i) => (i % (p.U.cols + 1) === 0 ? 3 : v))) };
  const run = (source: DataSource) => ensureStable(source, big, big, { fittedLabel: 'refined', totalRows: c.rows, warn: () => undefined });
  const whole = await run(memorySource(c));
  assert.ok(whole.stabilised, 'the planted blow-up triggers the fallback');
  const split = await run(pieceSource(piecesOf(c, 5)));
  assert.deepEqual(split.stabilised?.rejected, whole.stabilised.rejected);
  assert.equal(split.stabilised?.kept, whole.stabilised.kept);
  const a = paramsOf(split.params), b = paramsOf(whole.params);
  for (const k of Object.keys(b)) assertClose(a[k]!, b[k]!, 1e-9, `stabilised ${k}`);
});

// With the refinement on, one long sequence is refined on windows (src/learn/refine-windows.ts) that the collector
// copies out of whatever pieces stream past (src/learn/refine-sample.ts). Pieces or the whole chunk, it must hold the
// same rows, so the refined models agree up to the rounding of their starts (~1e-14 relative above), which a few
// LM steps from the same sample carry along; 1e-6 relative leaves ample room for that and none for a different
// sample (one window shifted by a row moves the parameters by ~1e-3 here).
test('fit with refinement on one long sequence in pieces = on the whole sequence (windows from the pieces)', async () => {
  const c = longSequence(4000, 23);
  const opts = { hidden: 2, inputModel: 'var1' as const, seed: 1, refineOptions: { maxIter: 5 } };
  const whole = await fitRNN(memorySource(c), opts);
  const sample = whole.diagnostics.refine?.sample as { mode?: string; windows?: number } | undefined;
  assert.equal(sample?.mode, 'windows');
  assert.ok((sample?.windows ?? 0) >= 2, `windows: ${sample?.windows}`);
  for (const size of [7, 1000]) {
    const split = await fitRNN(pieceSource(piecesOf(c, size)), { ...opts, spill: false });
    // Same plan; ρ (from the start's U) differs by rounding only and does not move the burn-in here.
    const { spectralRadius: r1, ...plan1 } = split.diagnostics.refine?.sample as unknown as Record<string, unknown>;
    const { spectralRadius: r2, ...plan2 } = whole.diagnostics.refine?.sample as unknown as Record<string, unknown>;
    assert.deepEqual(plan1, plan2);
    assert.ok(Math.abs((r1 as number) - (r2 as number)) <= 1e-9, `ρ ${r1} vs ${r2}`);
    const a = paramsOf(split.params as IORNNParams), b = paramsOf(whole.params as IORNNParams);
    for (const k of Object.keys(b)) assertClose(a[k]!, b[k]!, 1e-6, `refined, pieces of ${size}: ${k}`);
  }
});

// The identification sample (src/learn/chunks.ts SequenceSample) keeps a sequence's first `cap` rows, from the
// pieces (own rows, halos dropped, joined) exactly as from the whole chunk; chunks of short whole sequences are
// kept as strideSubchunk gives them. Ground truth: slices of the whole chunk.
test('SequenceSample: the first cap rows of one long sequence, the same from haloed pieces as from the whole chunk', async () => {
  const { SequenceSample, strideSubchunk } = await import('../src/learn/chunks.js');
  const c = longSequence(4000, 25);
  const cap = 1500;
  const fromWhole = new SequenceSample(memorySource(c), 3, cap);
  fromWhole.add(c, 0);
  const pieces = pieceSource(piecesOf(c, 7));
  const fromPieces = new SequenceSample(pieces, 3, cap);
  for await (const p of haloChunks(pieces, { left: 64, right: 1 })) fromPieces.add(p.chunk, p.sequenceOffset);
  for (const got of [fromWhole.chunks(), fromPieces.chunks()]) {
    assert.equal(got.length, 1);
    assert.deepEqual(Array.from(got[0].lengths), [cap]);
    assert.deepEqual(Array.from(got[0].x), Array.from(c.x.subarray(0, cap * c.dx)));
    assert.deepEqual(Array.from(got[0].y), Array.from(c.y.subarray(0, cap * c.dy)));
  }
  // Short whole sequences: every third one, as strideSubchunk keeps it.
  const short = makeChunk(c.dx, c.dy, c.x, c.y, new Int32Array(200).fill(20));
  const s = new SequenceSample(memorySource(short), 3, cap);
  s.add(short, 5);
  const ref = strideSubchunk(short, 5, 3)!;
  assert.deepEqual(Array.from(s.chunks()[0].x), Array.from(ref.x));
  assert.deepEqual(Array.from(s.chunks()[0].lengths), Array.from(ref.lengths));
});

test('linear fit with its order sample capped (refineMaxRows < one sequence): pieces = whole sequence', async () => {
  const c = longSequence(4000, 25);
  const opts: FitOptions = { hidden: 'auto', activation: { name: 'linear' }, inputModel: 'var1', refine: false, refineMaxRows: 1500, seed: 1 };
  const whole = await fitRNN(memorySource(c), opts);
  for (const size of [7]) {
    const split = await fitRNN(pieceSource(piecesOf(c, size)), { ...opts, spill: false });
    const a = paramsOf(split.params as IORNNParams), b = paramsOf(whole.params as IORNNParams);
    for (const k of Object.keys(b)) assertClose(a[k]!, b[k]!, 1e-9, `capped, pieces of ${size}: ${k}`);
  }
});

test('bad input in pieces gets the error of the whole sequence (linear and tanh routes)', async () => {
  const c = longSequence(900, 27);
  const bad = { ...c, y: c.y.slice() };
  bad.y[(617 * c.dy) + 1] = NaN;
  for (const opts of [{ hidden: 2, activation: { name: 'linear' } }, { hidden: 5, activation: { name: 'tanh' } }] as FitOptions[]) {
    const err = async (data: DataSource): Promise<string> => {
      try {
        await fitRNN(data, { ...opts, refine: false, spill: false });
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    // The sources' names differ ('memory', 'pieces'); the rest of the message must not.
    const whole = (await err(memorySource(bad))).replace(/^memory: /, '');
    assert.match(whole, /data row 618, column y2/);
    assert.equal((await err(pieceSource(piecesOf(bad, 7)))).replace(/^pieces: /, ''), whole);
  }
});

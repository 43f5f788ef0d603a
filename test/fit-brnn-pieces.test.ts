/**
 * `fit --kind brnn` on one long sequence delivered in pieces (src/learn/pieces.ts) gives the model of the whole
 * sequence read as one chunk. Ground truth: the same learner on the in-memory whole sequence (the pre-existing
 * path). The piece path sums the same terms (halo rows add exact zeros; the split's fold blocks are cut where the
 * whole sequence is cut, split.ts foldParts), grouped by piece, so the moments differ by rounding only; through
 * the CP and the least squares that stays far below the 1e-9 relative tolerance used. Refinement off: the method's
 * own estimate is compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SequenceChunk, DataSource, memorySource } from '../src/io/dataset.js';
import { assertClose, pieceSource, piecesOf } from './pieces-fixtures.js';
import { fitGloreeB } from '../src/learn/gloree-b.js';
import { foldParts } from '../src/learn/identify/split.js';
import { haloChunks } from '../src/learn/pieces.js';
import { BRNNParams } from '../src/models/params.js';
import { SCENARIOS, scenarioModel, simulateBRNN, simulateInputs } from '../src/models/simulate.js';

function longSequence(rows: number, seed: number, nSeq = 1): SequenceChunk {
  const s = SCENARIOS.brnn;
  const params = scenarioModel(s) as BRNNParams;
  const inputs = simulateInputs({ dx: s.dx, nSeq, seqLength: rows, rho: s.input.rho, sigma: s.input.sigma, seed });
  return simulateBRNN(params, inputs, { noise: 0.05, seed: seed + 1 });
}


test('foldParts on haloed pieces gives each fold exactly the own rows of its blocks of the whole sequence', async () => {
  const c = longSequence(53, 5);
  const F = 4, whole = foldParts(c, 0, F, true);
  const got: number[][] = Array.from({ length: F }, () => []);
  for await (const p of haloChunks(pieceSource(piecesOf(c, 6)), { left: 2, right: 2 })) {
    const parts = foldParts(p.chunk, p.sequenceOffset, F, true, c.lengths);
    parts.forEach((q, f) => {
      if (!q) return;
      const h = (q as { halo?: { left: number; right: number } }).halo ?? { left: 0, right: 0 };
      for (let r = h.left; r < q.rows - h.right; r++) got[f].push(q.x[r * q.dx]);
    });
  }
  for (let f = 0; f < F; f++) assert.deepEqual(got[f], Array.from(whole[f]!.x.filter((_, i) => i % c.dx === 0)), `fold ${f}`);
});

test('GLOREE-B on one long sequence in tiny pieces = on the whole sequence (split folds, group duals, output layer)', async () => {
  const c = longSequence(3000, 7);
  const opts = { total: 4, refine: false, seed: 1 } as const;
  const whole = await fitGloreeB(memorySource(c), opts);
  for (const size of [5, 211]) {
    const split = await fitGloreeB(pieceSource(piecesOf(c, size)), { ...opts, spill: false });
    const a = split.params, b = whole.params;
    for (const k of ['A1', 'U', 'B1', 'V', 'A2'] as const) assertClose(a[k].data, b[k].data, 1e-9, `pieces of ${size}: ${k}`);
    // b is near 0 here (centred outputs): its rounding is relative to the output scale, A2's (y is O(1)).
    assertClose([...a.A2.data, ...a.b!], [...b.A2.data, ...b.b!], 1e-9, `pieces of ${size}: [A2; b]`);
    assert.deepEqual(split.diagnostics.split.forward, whole.diagnostics.split.forward);
    assertClose(split.diagnostics.split.prevSE.flat(), whole.diagnostics.split.prevSE.flat(), 1e-9, 'prevSE');
  }
});

// The stability check (src/learn/stability.ts) on pieces: the backward state after each piece comes from reading the
// sequence ahead (src/models/brnn-pieces.ts), so a blow-up is named by the same step as on the whole sequence, and
// the fallback keeps the same candidate with the same output layer (sums grouped by piece: 1e-9 relative).
test('BRNN stability check and fallback on pieces = on the whole sequence (forward and backward escapes)', async () => {
  const { ensureStable, firstBlowUp } = await import('../src/learn/stability.js');
  const { Matrix } = await import('../src/linalg/matrix.js');
  const c = longSequence(600, 9);
  const p = scenarioModel(SCENARIOS.brnn) as BRNNParams;
  // A recurrent weight well past 1 on σ = z²: the state escapes after some steps (where is data-dependent).
  const grow = (M: InstanceType<typeof Matrix>) => new Matrix(M.rows, M.cols, M.data.map((v, i) => (i % (M.cols + 1) === 0 ? 3 : v)));
  for (const [what, big] of [['forward', { ...p, U: grow(p.U) }], ['backward', { ...p, V: grow(p.V) }]] as [string, BRNNParams][]) {
    const whole = await firstBlowUp(memorySource(c), big);
    assert.ok(whole, `the planted ${what} blow-up happens`);
    assert.equal(whole.direction, what);
    const split = await firstBlowUp(pieceSource(piecesOf(c, 5)), big);
    assert.equal(split?.message, whole.message, what);
    const run = (source: DataSource) => ensureStable(source, big, big, { fittedLabel: 'refined', totalRows: c.rows, warn: () => undefined });
    const w = await run(memorySource(c)), s = await run(pieceSource(piecesOf(c, 5)));
    assert.ok(w.stabilised, 'the planted blow-up triggers the fallback');
    assert.deepEqual(s.stabilised?.rejected, w.stabilised.rejected);
    assert.equal(s.stabilised?.kept, w.stabilised.kept);
    for (const k of ['A1', 'U', 'B1', 'V'] as const) assertClose(s.params[k].data, w.params[k].data, 1e-9, `${what}: ${k}`);
    assertClose([...s.params.A2.data, ...s.params.b!], [...w.params.A2.data, ...w.params.b!], 1e-9, `${what}: [A2; b]`);
  }
});

// With the refinement on, a BRNN's one long sequence is its sample, whole (a BRNN is never refined on windows): the
// pieces are joined (PieceJoiner), so the refinement starts from models equal to rounding and sees the same rows;
// a few LM steps carry that rounding along, 1e-6 relative leaves ample room for it and none for another sample.
test('GLOREE-B with refinement on one long sequence in pieces = on the whole sequence', async () => {
  const c = longSequence(2000, 11);
  const opts = { total: 4, seed: 1, refineOptions: { maxIter: 3 } } as const;
  const whole = await fitGloreeB(memorySource(c), opts);
  assert.ok(whole.diagnostics.refine, 'the refinement ran');
  const split = await fitGloreeB(pieceSource(piecesOf(c, 37)), { ...opts, spill: false });
  const a = split.params, b = whole.params;
  for (const k of ['A1', 'U', 'B1', 'V'] as const) assertClose(a[k].data, b[k].data, 1e-6, `refined ${k}`);
  assertClose([...a.A2.data, ...a.b!], [...b.A2.data, ...b.b!], 1e-6, 'refined [A2; b]');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GLOREE, SCENARIOS, simulateScenario, toNested } from '../src/index.js';
import { OptionError } from '../src/io/errors.js';

/**
 * The estimator's boundary (src/learn/check-options.ts): every option `fitRNN` reads directly is checked before any
 * pass, and a wrong one is an OptionError naming that option, never a TypeError or RangeError from inside a learner
 * (before the check: `activation: 'tanh'` crashed with "Cannot read properties of undefined", `kind: 'xx'` fitted an
 * IO-RNN silently, `refineMaxRows: -5` was a RangeError of the window planner).
 */
const { data } = simulateScenario(SCENARIOS.default, { nSeq: 300, seed: 3 });
const x = toNested(data.x, data.lengths, data.dx), y = toNested(data.y, data.lengths, data.dy);

const bad: [string, Record<string, unknown>][] = [
  ['activation', { activation: 'relu' }],
  ['activation', { activation: { name: 'relu' } }],
  ['activation', { activation: { coefficients: [0, 0, Number.NaN] } }],
  ['activation', { activation: { coefficients: [0, 1] } }],
  ['activation', { activation: { name: 'tanh', coefficients: [0, 0, 1] } }],
  ['activation', { activation: 7 }],
  ['kind', { kind: 'xx' }],
  ['seed', { seed: Number.NaN }],
  ['seed', { seed: '1' }],
  ['refineMaxRows', { refineMaxRows: -5 }],
  ['controlVariateMaxRows', { controlVariateMaxRows: 1.5 }],
  ['workers', { workers: 0 }],
  ['inputOrder', { inputOrder: -1 }],
  ['backward', { backward: 'two' }],
];

for (const [option, o] of bad) {
  test(`a wrong ${option} (${JSON.stringify(o)}) is an OptionError naming it`, async () => {
    await assert.rejects(new GLOREE({ hidden: 2, ...o } as never).fit({ x, y }), (e: unknown) => {
      assert.ok(e instanceof OptionError, `expected an OptionError, got ${String(e)}`);
      assert.equal(e.option, option);
      assert.match(e.message, new RegExp(option));
      return true;
    });
  });
}

// These data (σ = z², 300 sequences, seed 3) with tanh and 2 neurons also drive the smooth learner's U correction
// into a zero factor F (tanh' underflows on saturated pre-activations): before the guard in src/learn/identify/smooth.ts
// that put ±∞ into U and the fit died with the internal error "refine: parameters contain non-finite values".
test("activation given as the CLI spells it ('tanh', 'z2') gives the same model as the object form", async () => {
  for (const [spec, obj] of [['tanh', { name: 'tanh' }], ['z2', { coefficients: [0, 0, 1] }]] as const) {
    const opts = { hidden: 2, seed: 1, refine: false };
    const a = await new GLOREE({ ...opts, activation: spec }).fit({ x, y });
    const b = await new GLOREE({ ...opts, activation: obj }).fit({ x, y });
    assert.deepEqual(a.params.A1.toArray(), b.params.A1.toArray());
    assert.deepEqual(a.params.U.toArray(), b.params.U.toArray());
    assert.deepEqual(a.params.activation, b.params.activation);
    assert.ok(Number.isFinite(a.score({ x, y })), `${spec}: finite NMSE`);
  }
});

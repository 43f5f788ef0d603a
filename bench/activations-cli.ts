/**
 * The activations acceptance numbers through `gloree fit` (the CLI on CSV files): planted tanh (dx 5, dh 3, dy 4)
 * at 1e5 rows with Gaussian and Student-t(5) inputs, and the planted linear model (4 states, dx = dy = 2, 10% noise)
 * against ARX(8) on the same rows. Run: node --import tsx bench/activations-cli.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/random/rng.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { simulateInputs } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { loadModel } from '../src/models/serialize.js';
import type { IORNNParams } from '../src/models/params.js';
import { nmse } from '../src/metrics/nmse.js';
import { markovError } from '../src/metrics/markov.js';
import { main } from '../src/cli/main.js';
import { fitARX, simulateARX } from './references/arx.js';
import { plantedLinear } from './linear-planted.js';
import { tanhData } from './activations-data.js';

function writeCSV(file: string, c: SequenceChunk): void {
  const lines = [['seq', ...Array.from({ length: c.dx }, (_, a) => `x${a + 1}`), ...Array.from({ length: c.dy }, (_, i) => `y${i + 1}`)].join(',')];
  let r = 0;
  for (let s = 0; s < c.lengths.length; s++) for (let t = 0; t < c.lengths[s]; t++, r++) lines.push([s, ...c.x.subarray(r * c.dx, (r + 1) * c.dx), ...c.y.subarray(r * c.dy, (r + 1) * c.dy)].join(','));
  writeFileSync(file, lines.join('\n') + '\n');
}

async function fit(csv: string, model: string, args: string[]): Promise<number> {
  let out = '';
  const t0 = performance.now();
  const code = await main(['node', 'gloree', 'fit', csv, ...args, '--seed', '1', '--out', model], { out: (t) => void (out += t), err: (t) => void process.stderr.write(t) });
  if (code !== 0) throw new Error(`fit failed (${code})`);
  process.stdout.write(out.split('\n').map((l) => `    ${l}`).join('\n') + '\n');
  return (performance.now() - t0) / 1000;
}

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-act-cli-'));
try {
  for (const [label, tDof] of [['tanh, Gaussian VAR(1) inputs', undefined], ['tanh, Student-t(5) VAR(1) inputs', 5]] as const) {
    const { truth, train, held } = tanhData(1, 1e5, { tDof });
    const csv = path.join(dir, 't.csv'), m = path.join(dir, 't.json');
    writeCSV(csv, train);
    const s = await fit(csv, m, ['--activation', 'tanh', '--hidden', '3']);
    const e = nmse(predictIORNN(loadModel(m).params as IORNNParams, held), predictIORNN(truth, held), 4);
    console.log(`${label}, 1e5 rows: held-out NMSE ${e.toExponential(2)} (${s.toFixed(1)} s)`);
  }
  const truth = plantedLinear(1);
  const inp = simulateInputs({ dx: 2, nSeq: 100, seqLength: 1000, rho: 0.5, seed: 101 });
  const clean = predictIORNN(truth, inp), y = clean.slice(), rng = new Rng(8);
  for (let i = 0; i < 2; i++) {
    let mu = 0, v = 0;
    for (let r = 0; r < inp.rows; r++) mu += clean[r * 2 + i] / inp.rows;
    for (let r = 0; r < inp.rows; r++) v += (clean[r * 2 + i] - mu) ** 2 / inp.rows;
    for (let r = 0; r < inp.rows; r++) y[r * 2 + i] += 0.1 * Math.sqrt(v) * rng.normal();
  }
  const train = makeChunk(2, 2, inp.x, y, inp.lengths);
  const held = simulateInputs({ dx: 2, nSeq: 10, seqLength: 1000, rho: 0.5, seed: 901 });
  const heldClean = predictIORNN(truth, held);
  const csv = path.join(dir, 'l.csv'), m = path.join(dir, 'l.json');
  writeCSV(csv, train);
  const s = await fit(csv, m, ['--activation', 'linear', '--hidden', 'auto']);
  const fitted = loadModel(m).params as IORNNParams;
  const ours = nmse(predictIORNN(fitted, held), heldClean, 2);
  const t0 = performance.now();
  const arx = nmse(simulateARX(fitARX([train], 8), held), heldClean, 2);
  console.log(`linear 4 states dx=dy=2, 1e5 rows, 10% noise: held-out NMSE ${ours.toExponential(2)} (${s.toFixed(1)} s) vs ARX(8) ${arx.toExponential(2)} (${((performance.now() - t0) / 1000).toFixed(1)} s); Markov error ${markovError(fitted, truth).relative.toExponential(2)}; dh = ${fitted.A1.rows}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The report's learner view (src/report/learner-view.ts) for the learners that do not use T2: a linear model shows
 * its Hankel singular values, a smooth (tanh) model its Stein-moment spectra, and neither shows a T2 spectrum, not
 * even when DATA are given (the report would otherwise compute one). No browser: the HTML text is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fitRNN } from '../src/learn/fit.js';
import { saveModel } from '../src/models/serialize.js';
import { writeCSV } from '../src/io/csv.js';
import { simulateInputs, simulateIORNN } from '../src/models/simulate.js';
import { renderReport } from '../src/report/html.js';
import { reportCommand } from '../src/cli/report-command.js';
import { plantedLinear } from '../bench/linear-planted.js';
import { tanhData } from '../bench/activations-data.js';
import type { SequenceChunk } from '../src/io/dataset.js';

async function reportOf(data: SequenceChunk, opts: Parameters<typeof fitRNN>[1]): Promise<{ html: string; fit: Awaited<ReturnType<typeof fitRNN>> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gloree-report-learners-'));
  try {
    const fit = await fitRNN(data, { ...opts, refine: false, seed: 1 });
    const model = path.join(dir, 'm.json'), csv = path.join(dir, 'd.csv'), out = path.join(dir, 'r.html');
    await saveModel(model, fit.params, { inputModel: fit.inputModel.toJSON(), diagnostics: fit.diagnostics });
    await writeCSV(csv, data, { seq: true });
    await reportCommand(model, csv, { out, quiet: true });
    return { html: readFileSync(out, 'utf8'), fit };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('report of a linear model: Hankel singular values with the chosen state size, no T2 spectrum (stored, given or from DATA)', async () => {
  const truth = plantedLinear(1);
  const data = simulateIORNN(truth, simulateInputs({ dx: 2, nSeq: 40, seqLength: 250, rho: 0.5, seed: 3 }), { noise: 0.05, seed: 4 });
  const { html, fit } = await reportOf(data, { activation: { name: 'linear' }, hidden: 'auto' });
  assert.match(html, /State size: Hankel singular values/);
  assert.match(html, /id="fig-spectrum-0"/);
  assert.match(html, /state size \d \(auto\) in linear identification/);
  assert.doesNotMatch(html, /singular values of T2/);
  assert.doesNotMatch(html, /rank selected from the T2 spectrum/);
  // A T2 rank summary handed to the renderer is ignored for this learner.
  const given = { rank: 2, spectrum: [3, 2, 0.1], noiseSpectrum: [0.1], noiseFloor: 0.1, threshold: 0.2, rule: 'T2 RULE' };
  const html2 = renderReport({ model: { params: fit.params, diagnostics: fit.diagnostics }, rank: given });
  assert.doesNotMatch(html2, /T2 RULE|singular values of T2/);
});

test('report of a tanh model: the Stein moments E[r ⊗ S3] and E[y ⊗ S2] with their noise floors, no T2 spectrum', async () => {
  const { train } = tanhData(1, 2e4);
  const { html } = await reportOf(train, { activation: { name: 'tanh' }, hidden: 3 });
  assert.match(html, /Stein moment E\[r ⊗ S3\]: singular values/);
  assert.match(html, /Stein moment E\[y ⊗ S2\]: singular values/);
  assert.match(html, /dh = 3 given; the rule would count 0 and 3/);
  assert.doesNotMatch(html, /singular values of T2/);
});

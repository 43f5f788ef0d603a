/**
 * Regenerate docs/report-example.png: fit the default scenario (1e5 rows) with GLOREE, build the HTML report on
 * 200 held-out sequences with the true model, open it in headless Chromium and take a full-page screenshot.
 *
 *   node --import tsx scripts/report-screenshot.ts [out.png] [--html out.html]
 *
 * Needs Debian's chromium at /usr/bin/chromium (or CHROMIUM=/path).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { SCENARIOS, simulateScenario } from '../src/models/simulate.js';
import { fitGloree } from '../src/learn/gloree.js';
import { memorySource } from '../src/io/dataset.js';
import { buildReport, rankFromData } from '../src/cli/report-command.js';

const args = process.argv.slice(2);
const htmlIdx = args.indexOf('--html');
const htmlOut = htmlIdx >= 0 ? args[htmlIdx + 1] : undefined;
const pngOut = args.find((a, i) => !a.startsWith('--') && (htmlIdx < 0 || i !== htmlIdx + 1)) ?? 'docs/report-example.png';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`report-screenshot: no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM=/path)`);
  process.exit(1);
}

const sc = SCENARIOS.default;
const train = simulateScenario(sc, { nSeq: 5000 }); // 5000 × 20 = 1e5 rows
const test = simulateScenario(sc, { nSeq: 200, seed: 12345 });
const t0 = performance.now();
const fit = await fitGloree(train.data, { hidden: sc.dh, seed: 0 });
console.log(`fit: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
const yMean = new Float64Array(sc.dy);
for (let k = 0; k < train.data.y.length; k++) yMean[k % sc.dy] += train.data.y[k] / train.data.rows;
const rank = await rankFromData(memorySource(train.data), fit.inputModel, yMean);
console.log(rank.rule);
const t1 = performance.now();
const html = await buildReport(
  { params: fit.params, inputModel: fit.inputModel.toJSON(), diagnostics: fit.diagnostics },
  memorySource(test.data, 'held-out sequences'),
  {
    truth: train.model,
    rank,
    rankSource: 'the training data (1e5 rows)',
    dataLabel: '200 held-out sequences',
    modelName: 'default scenario, 1e5 rows',
    title: 'gloree report: default scenario (IO-RNN 4×4×4, σ = z², VAR(1) inputs)',
  },
);
console.log(`report: ${Math.round(performance.now() - t1)} ms, ${(html.length / 1024).toFixed(0)} KiB of HTML`);
if (htmlOut) await writeFile(htmlOut, html);

const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setContent(html, { waitUntil: 'load' });
  await page.screenshot({ path: pngOut, fullPage: true });
  if (errors.length) console.error(`console errors:\n${errors.join('\n')}`);
  console.log(`wrote ${pngOut}`);
} finally {
  await browser.close();
}

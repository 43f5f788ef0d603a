import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { SCENARIOS, simulateScenario } from '../src/models/simulate.js';
import { fitGloree, type GloreeResult } from '../src/learn/gloree.js';
import { memorySource, type SequenceChunk } from '../src/io/dataset.js';
import { writeCSV } from '../src/io/csv.js';
import { saveModel } from '../src/models/serialize.js';
import { predictIORNN } from '../src/models/iornn.js';
import { parameterErrors } from '../src/metrics/parameters.js';
import type { IORNNParams } from '../src/models/params.js';
import { Matrix } from '../src/linalg/matrix.js';
import { renderReport } from '../src/report/html.js';
import { buildReport, feedforwardModel, rankFromData, reportCommand } from '../src/cli/report-command.js';

const sc = SCENARIOS.default;
let fit: GloreeResult;
let train: ReturnType<typeof simulateScenario>;
let test_: ReturnType<typeof simulateScenario>;
let browser: Browser;
let dir: string;

before(async () => {
  // A small fit (1e4 rows, no refinement) keeps the test fast; the report does not depend on the fit's quality.
  train = simulateScenario(sc, { nSeq: 500 });
  test_ = simulateScenario(sc, { nSeq: 40, seed: 777 });
  fit = await fitGloree(train.data, { hidden: sc.dh, refine: false, seed: 0 });
  dir = mkdtempSync(path.join(tmpdir(), 'gloree-report-'));
});

after(async () => {
  if (browser) await browser.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * A headless Chromium from npm alone: @sparticuz/chromium ships a Chromium build inside the package and unpacks it
 * on first use, so the suite needs nothing outside `npm ci`. A system Chromium is preferred when one is present
 * (GLOREE_CHROMIUM, or the Debian package's path) because it starts faster; it is never required.
 */
async function launchOptions(): Promise<{ executablePath: string; args: string[] }> {
  const common = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
  for (const p of [process.env.GLOREE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return { executablePath: p, args: common };
  }
  const packaged = (await import('@sparticuz/chromium')).default;
  // Its --single-process (meant for one page per Lambda call) ends the browser with the first closed page.
  const args = packaged.args.filter((a) => a !== '--single-process');
  return { executablePath: await packaged.executablePath(), args: [...args, ...common.filter((a) => !args.includes(a))] };
}

async function getBrowser(): Promise<Browser> {
  // A browser that cannot start is a failure, not a skip.
  if (!browser) browser = await chromium.launch({ ...(await launchOptions()), headless: true });
  return browser;
}

/** Self-contained: no network references, no scripts, no external resources of any kind. */
function assertSelfContained(html: string): void {
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(html.trimEnd().endsWith('</html>'));
  assert.doesNotMatch(html, /https?:\/\//i, 'no http(s):// references');
  assert.doesNotMatch(html, /<script/i, 'no scripts');
  assert.doesNotMatch(html, /<(link|img|iframe|object|embed)\b/i, 'no external resources');
  assert.doesNotMatch(html, /url\(/i, 'no CSS url()');
}

interface Rendered {
  errors: string[];
  requests: string[];
  figures: { id: string; width: number; height: number; marks: number }[];
  ids: string[];
}

/** Open the HTML in headless Chromium with all network blocked; collect console errors and each figure's size. */
async function renderInChromium(html: string): Promise<Rendered> {
  const b = await getBrowser();
  const page = await b.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.route('**/*', (route) => {
    requests.push(route.request().url());
    return route.abort();
  });
  await page.setContent(html, { waitUntil: 'load' });
  const figures = await page.$$eval('svg.gloree-plot', (els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      const fig = el.closest('figure.gloree-figure');
      return { id: fig ? fig.id : '', width: r.width, height: r.height, marks: el.querySelectorAll('path, rect, circle, line, text').length };
    }),
  );
  const ids = await page.$$eval('figure.gloree-figure', (els) => els.map((e) => e.id));
  await page.close();
  return { errors, requests, figures, ids };
}

function bruteNMSE(yhat: Float64Array, y: Float64Array, dy: number): number {
  const rows = y.length / dy;
  let num = 0, den = 0;
  for (let i = 0; i < dy; i++) {
    let m = 0;
    for (let r = 0; r < rows; r++) m += y[r * dy + i] / rows;
    for (let r = 0; r < rows; r++) {
      num += (yhat[r * dy + i] - y[r * dy + i]) ** 2;
      den += (y[r * dy + i] - m) ** 2;
    }
  }
  return num / den;
}

const FULL_IDS = [
  'fig-spectrum', 'fig-cp-weights', 'fig-gaussianity', 'fig-predictions', 'fig-prediction-errors', 'fig-nmse',
  'fig-w-A1', 'fig-w-U', 'fig-w-A2', 'fig-truth-A1', 'fig-truth-U', 'fig-truth-A2',
];

test('report with every section renders in headless Chromium: 12 figures, non-empty, no console errors, no requests', async () => {
  const yMean = new Float64Array(sc.dy);
  for (let k = 0; k < train.data.y.length; k++) yMean[k % sc.dy] += train.data.y[k] / train.data.rows;
  const rank = await rankFromData(memorySource(train.data), fit.inputModel, yMean);
  const html = await buildReport(
    { params: fit.params, inputModel: fit.inputModel.toJSON(), diagnostics: fit.diagnostics },
    memorySource(test_.data, 'test'),
    { truth: test_.model, rank, rankSource: 'training data', steps: 120 },
  );
  assertSelfContained(html);

  // Numbers in the HTML against independent computations.
  const yhat = predictIORNN(fit.params, test_.data);
  // The U = 0 baseline by its definition (docs/method.md §6; spectral directions, U = 0, its own output layer),
  // built here from the stored arrays rather than by the code under test.
  const d = fit.diagnostics;
  assert.ok(d.feedforward, 'the fit stores the U = 0 baseline');
  const ff: IORNNParams = {
    kind: 'iornn', activation: fit.params.activation, A1: Matrix.from(d.spectral.A1), U: new Matrix(sc.dh, sc.dh),
    A2: Matrix.from(d.feedforward!.A2), b: Float64Array.from(d.feedforward!.b),
  };
  assert.ok(feedforwardModel({ params: fit.params, diagnostics: fit.diagnostics }) !== null);
  const yff = predictIORNN(ff, test_.data);
  const fmt3 = (v: number) => (v >= 1e-3 && v < 1e4 ? v.toPrecision(3) : v.toExponential(2));
  for (const [label, v] of [
    ['held-out NMSE (model, vs data)', bruteNMSE(yhat, test_.data.y, sc.dy)],
    ['held-out NMSE (U = 0 model, vs data)', bruteNMSE(yff, test_.data.y, sc.dy)],
    ['held-out NMSE vs true noise-free outputs', bruteNMSE(yhat, test_.clean, sc.dy)],
  ] as const) {
    assert.ok(html.includes(`<th>${label}</th><td class="num">${fmt3(v)}</td>`), `${label} = ${fmt3(v)} in the summary`);
  }
  const pe = parameterErrors(fit.params, test_.model);
  assert.ok(html.includes(`<th>U</th><td class="num">${fmt3(pe.U)}</td>`), 'parameter error of U');
  assert.ok(html.includes(`rank ${sc.dh}`) && html.includes(rank.rule.split('→')[0].slice(0, 60)), 'rank rule stated');
  assert.ok(html.includes('over all 800 held-out rows'), 'NMSE over all held-out rows (40 sequences × 20)');
  assert.ok(html.includes('first 120 held-out steps (6 sequences'));

  const r = await renderInChromium(html);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.requests, []);
  assert.deepEqual(r.ids, FULL_IDS);
  assert.equal(r.figures.length, FULL_IDS.length);
  for (const f of r.figures) {
    assert.ok(f.width > 50 && f.height > 50, `${f.id}: rendered size ${f.width}×${f.height}`);
    assert.ok(f.marks > 10, `${f.id}: ${f.marks} drawn elements`);
  }
});

test('gloree report MODEL DATA --truth: the command writes the HTML atomically, with the T2 spectrum from the data', async () => {
  const modelFile = path.join(dir, 'model.json');
  const truthFile = path.join(dir, 'truth.json');
  const dataFile = path.join(dir, 'test.csv');
  const outFile = path.join(dir, 'report.html');
  // A model file without a stored spectrum (e.g. written by an older version), so the report must compute it from DATA.
  const { rank: _stored, ...diagnosticsWithoutRank } = fit.diagnostics;
  void _stored;
  await saveModel(modelFile, fit.params, { inputModel: fit.inputModel.toJSON(), diagnostics: diagnosticsWithoutRank });
  await saveModel(truthFile, train.model);
  // Rank from data needs enough rows to see all 4 components: use the training data as "DATA" here.
  await writeCSV(dataFile, train.data, { seq: true });
  await reportCommand(modelFile, dataFile, { out: outFile, truth: truthFile, quiet: true });
  const html = readFileSync(outFile, 'utf8');
  assertSelfContained(html);
  assert.ok(html.includes('computed on test.csv'), 'spectrum computed on the data file');
  assert.ok(html.includes('<code>model.json</code>'));
  // Same selection as rankFromData on the same rows (even/odd sequences, y centred by the data mean).
  const yMean = new Float64Array(sc.dy);
  for (let k = 0; k < train.data.y.length; k++) yMean[k % sc.dy] += train.data.y[k] / train.data.rows;
  const rank = await rankFromData(memorySource(train.data), fit.inputModel, yMean);
  assert.equal(rank.rank, sc.dh);
  assert.ok(html.includes(rank.rule.slice(0, 80)));
  const r = await renderInChromium(html);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.ids, FULL_IDS);
  for (const f of r.figures) assert.ok(f.width > 50 && f.height > 50, `${f.id}: ${f.width}×${f.height}`);

  await assert.rejects(reportCommand(path.join(dir, 'missing.json'), dataFile, { out: outFile, quiet: true }), /cannot read model file/);
});

test('a bare model (no diagnostics, no data, no truth) gives the three weight heatmaps and says what is missing', async () => {
  const p = train.model as IORNNParams;
  const html = renderReport({ model: { params: p } });
  assertSelfContained(html);
  assert.match(html, /No T2 spectrum available/);
  assert.match(html, /No held-out data were given/);
  const r = await renderInChromium(html);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.ids, ['fig-w-A1', 'fig-w-U', 'fig-w-A2']);

  // A BRNN adds the backward matrices; with its truth, both rows of heatmaps.
  const b = simulateScenario(SCENARIOS.brnn, { nSeq: 10 });
  const htmlB = renderReport({ model: { params: b.model }, truth: b.model });
  const rb = await renderInChromium(htmlB);
  assert.deepEqual(rb.errors, []);
  assert.deepEqual(rb.ids, ['A1', 'U', 'B1', 'V', 'A2'].map((k) => `fig-w-${k}`).concat(['A1', 'U', 'B1', 'V', 'A2'].map((k) => `fig-truth-${k}`)));
  assert.match(htmlB, /<th>V<\/th><td class="num">0<\/td>/, 'the truth against itself has zero error');
});

test('renderReport escapes text from the model file and checks held-out shapes', () => {
  const html = renderReport({
    model: { params: fit.params, diagnostics: { ...fit.diagnostics, warnings: ['<script>alert(1)</script> & "x"'] } },
    title: 'a <b>title</b>',
  });
  assert.doesNotMatch(html, /<script/);
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;'));
  assert.ok(html.includes('<h1>a &lt;b&gt;title&lt;/b&gt;</h1>'));
  const chunk: SequenceChunk = test_.data;
  assert.throws(
    () => renderReport({ model: { params: fit.params }, heldOut: { chunk, yhat: new Float64Array(3) } }),
    /heldOut.yhat has 3 values, expected rows×dy = 800×4/,
  );
});

test('fit --report labels its numbers in-sample everywhere, names the command in the title; the model line is drawn above the U = 0 line', async () => {
  const { main } = await import('../src/cli/main.js');
  const run = async (...args: string[]) => {
    let stdout = '', stderr = '';
    const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
    return { code, stdout, stderr };
  };
  const data = path.join(dir, 'fit-train.csv');
  await writeCSV(data, train.data);
  let r = await run('fit', data, '--hidden', String(sc.dh), '--no-refine', '--out', path.join(dir, 'fit-m.json'), '--report', path.join(dir, 'fit-r.html'));
  assert.equal(r.code, 0, r.stderr);
  const html = readFileSync(path.join(dir, 'fit-r.html'), 'utf8');
  assert.match(html, /<title>gloree fit fit-train\.csv --out fit-m\.json: fit report \(in-sample\)<\/title>/);
  assert.doesNotMatch(html, /held-out|held out/i, 'no in-sample number may be called held-out');
  assert.match(html, /in-sample NMSE \(model, vs data\)/);
  assert.match(html, /In-sample predictions/);
  // Line order in each output panel (SVG paints later elements on top): every U = 0 path before the first model path.
  for (const id of ['predictions', 'prediction-errors']) {
    const fig = html.slice(html.indexOf(`id="fig-${id}"`), html.indexOf('</figure>', html.indexOf(`id="fig-${id}"`)));
    const lineMark = fig.slice(fig.indexOf('<g aria-label="line">'));
    const panels = lineMark.split('<g transform=').slice(1);
    assert.ok(panels.length >= 1, `${id}: line panels`);
    for (const panel of panels) {
      const paths = [...panel.matchAll(/<path[^>]*stroke="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
      const lastFF = paths.lastIndexOf('#ff725c'), firstModel = paths.indexOf('#4269d0');
      assert.ok(lastFF >= 0 && firstModel >= 0, `${id}: both lines present`);
      assert.ok(firstModel > lastFF, `${id}: model line must be drawn after (above) the U = 0 line`);
    }
  }
  // gloree report on other data: held-out wording and its own command in the title.
  const testFile = path.join(dir, 'fit-test.csv');
  await writeCSV(testFile, test_.data);
  r = await run('report', path.join(dir, 'fit-m.json'), testFile, '--out', path.join(dir, 'rep.html'));
  assert.equal(r.code, 0, r.stderr);
  const rep = readFileSync(path.join(dir, 'rep.html'), 'utf8');
  assert.match(rep, /<title>gloree report fit-m\.json fit-test\.csv<\/title>/);
  assert.match(rep, /held-out NMSE \(model, vs data\)/);
  assert.doesNotMatch(rep, /in-sample/);
});

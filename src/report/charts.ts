/**
 * Server-side SVG charts for the HTML report (src/report/html.ts): Observable Plot rendered into a linkedom
 * document, serialised to markup. No browser, no network, no scripts in the output; every chart's main <svg>
 * carries the class `gloree-plot` (legends get `gloree-plot-swatches` / `gloree-plot-ramp`), which is how the
 * report test counts figures.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';

export const PLOT_CLASS = 'gloree-plot';

let doc: Document | null = null;
function document(): Document {
  if (doc === null) doc = parseHTML('<!DOCTYPE html><html><head></head><body></body></html>').document as unknown as Document;
  return doc;
}

/** Render Plot options to markup. Namespace URIs are dropped: inline SVG in HTML does not need them. */
export function renderPlot(options: Plot.PlotOptions): string {
  const el = Plot.plot({ ...options, document: document(), className: PLOT_CLASS } as Plot.PlotOptions);
  const html = (el as unknown as { outerHTML: string }).outerHTML;
  return html.replace(/\s+xmlns(:\w+)?="[^"]*"/g, '');
}

// Categorical colours (Observable 10 palette subset), fixed per series so every chart reads the same.
export const COLORS = {
  data: '#9aa0a6',
  truth: '#1f1f1f',
  model: '#4269d0',
  feedforward: '#ff725c',
  noise: '#efb118',
};

/**
 * Singular values of the T2 unfolding (log scale) with the noise spectrum, the threshold and the chosen rank.
 * `kept` values are drawn filled, dropped ones hollow.
 */
export function spectrumChart(s: { spectrum: number[]; noiseSpectrum: number[]; threshold: number; rank: number; noiseFloor: number }, label = 'T2 (mean of the halves)'): string {
  const pts = s.spectrum.map((v, k) => ({ k: k + 1, v, series: label, kept: k < s.rank }));
  const noise = s.noiseSpectrum.map((v, k) => ({ k: k + 1, v, series: 'split-half difference (noise)' }));
  const positive = [...pts, ...noise].filter((d) => d.v > 0);
  const minV = Math.min(...positive.map((d) => d.v), s.threshold);
  const maxV = Math.max(...positive.map((d) => d.v), s.threshold);
  return renderPlot({
    width: 640,
    height: 300,
    marginLeft: 60,
    marginRight: 150,
    x: { label: 'index k', ticks: s.spectrum.map((_, k) => k + 1), tickFormat: 'd', domain: [0.5, s.spectrum.length + 0.5] },
    y: { type: 'log', label: 'singular value σk', domain: [minV / 1.5, maxV * 1.5], grid: true, tickFormat: '~g' },
    color: { domain: [label, 'split-half difference (noise)'], range: [COLORS.model, COLORS.noise], legend: true },
    marks: [
      Plot.ruleY([s.threshold], { stroke: '#d62728', strokeDasharray: '5,4' }),
      Plot.text([{ x: s.spectrum.length + 0.5, y: s.threshold }], {
        x: 'x', y: 'y', text: () => `threshold ${fmt(s.threshold)}`, textAnchor: 'start', dx: 6, fill: '#d62728',
      }),
      Plot.ruleY([s.noiseFloor], { stroke: COLORS.noise, strokeDasharray: '2,3' }),
      Plot.text([{ x: s.spectrum.length + 0.5, y: s.noiseFloor }], {
        x: 'x', y: 'y', text: () => `noise floor ${fmt(s.noiseFloor)}`, textAnchor: 'start', dx: 6, fill: '#a07800',
      }),
      ...(s.rank > 0 && s.rank < s.spectrum.length ? [Plot.ruleX([s.rank + 0.5], { stroke: '#555', strokeDasharray: '1,3' })] : []),
      Plot.line(pts.filter((d) => d.v > 0), { x: 'k', y: 'v', stroke: 'series' }),
      Plot.dot(pts.filter((d) => d.v > 0), { x: 'k', y: 'v', stroke: 'series', fill: (d: { kept: boolean }) => (d.kept ? COLORS.model : 'white'), r: 5, symbol: 'circle' }),
      Plot.dot(noise.filter((d) => d.v > 0), { x: 'k', y: 'v', stroke: 'series', symbol: 'times', r: 4 }),
      Plot.text(pts.filter((d) => d.kept && d.k === s.rank), { x: 'k', y: 'v', text: () => `rank ${s.rank}`, dy: -14, fontWeight: 'bold' }),
    ],
  });
}

/** Bar chart of |w_j| of the CP decomposition of T2. */
export function cpWeightsChart(weights: number[]): string {
  const data = weights.map((w, j) => ({ j: `neuron ${j + 1}`, w: Math.abs(w) }));
  return renderPlot({
    width: 420,
    height: 60 + 28 * weights.length,
    marginLeft: 80,
    x: { label: '|w_j| (CP weight of T2)', grid: true },
    y: { label: null },
    marks: [Plot.barX(data, { x: 'w', y: 'j', fill: COLORS.model }), Plot.ruleX([0])],
  });
}

/**
 * Per-coordinate skewness and excess kurtosis of the input-model residuals, with the ±3 SE band expected under
 * Gaussianity (docs/method.md §3: the Gaussian score functions are wrong for non-Gaussian inputs).
 */
export function gaussianityChart(skew: number[], kurt: number[], skewSE: number, kurtSE: number): string {
  const sk = 'skewness', ku = 'excess kurtosis';
  const data = [
    ...skew.map((v, a) => ({ coord: `x${a + 1}`, stat: sk, v })),
    ...kurt.map((v, a) => ({ coord: `x${a + 1}`, stat: ku, v })),
  ];
  const bands = [
    { stat: sk, lo: -3 * skewSE, hi: 3 * skewSE },
    { stat: ku, lo: -3 * kurtSE, hi: 3 * kurtSE },
  ].filter((b) => Number.isFinite(b.lo));
  return renderPlot({
    width: 640,
    height: 260,
    marginLeft: 60,
    fx: { label: null, domain: [sk, ku] },
    x: { label: null, domain: skew.map((_, a) => `x${a + 1}`) },
    y: { label: 'value (0 for Gaussian)', grid: true, nice: true },
    marks: [
      Plot.rectY(bands, { fx: 'stat', y1: 'lo', y2: 'hi', x1: () => `x1`, x2: () => `x${skew.length}`, fill: '#cfe3ff', fillOpacity: 0.6, insetLeft: -20, insetRight: -20 }),
      Plot.ruleY([0], { stroke: '#777' }),
      Plot.dot(data, { fx: 'stat', x: 'coord', y: 'v', fill: COLORS.model, r: 4 }),
    ],
  });
}

export interface SeriesPoint {
  step: number;
  value: number;
  output: string;
  series: string;
  /** Line segments break between sequences. */
  seq: number;
}

/** Predicted vs actual outputs over a stretch of held-out steps, one row of panels per output coordinate. */
export function predictionChart(points: SeriesPoint[], series: string[], colors: string[], outputs: string[], boundaries: number[], where = 'held-out'): string {
  const lines = modelOnTop(points.filter((p) => p.series !== series[0]));
  const observed = points.filter((p) => p.series === series[0]);
  return renderPlot({
    width: 760,
    height: 40 + 130 * outputs.length,
    marginLeft: 50,
    marginRight: 40,
    fy: { label: null, domain: outputs },
    x: { label: `${where} step (sequences concatenated; dotted lines = sequence starts)` },
    y: { label: null, grid: true },
    color: { domain: series, range: colors, legend: true },
    marks: [
      Plot.ruleX(boundaries, { stroke: '#bbb', strokeDasharray: '1,3' }),
      Plot.dot(observed, { x: 'step', y: 'value', fy: 'output', fill: 'series', r: 1.5 }),
      Plot.line(lines, { x: 'step', y: 'value', fy: 'output', stroke: 'series', z: (d: SeriesPoint) => `${d.series}|${d.seq}`, strokeWidth: 1.4 }),
      Plot.frame({ stroke: '#ddd' }),
    ],
  });
}

/**
 * The model's points last, so its lines are drawn after (above) the baselines': Plot draws line groups in the
 * order they first appear in the data. Stable otherwise.
 */
function modelOnTop(points: SeriesPoint[]): SeriesPoint[] {
  return [...points.filter((p) => p.series !== 'model'), ...points.filter((p) => p.series === 'model')];
}

/** Prediction errors ŷ − target of each predictor over the stretch (same layout as predictionChart). */
export function errorChart(points: SeriesPoint[], series: string[], colors: string[], outputs: string[], boundaries: number[], target: string, where = 'held-out'): string {
  points = modelOnTop(points);
  return renderPlot({
    width: 760,
    height: 40 + 90 * outputs.length,
    marginLeft: 50,
    marginRight: 40,
    fy: { label: null, domain: outputs },
    x: { label: `${where} step` },
    y: { label: `ŷ − ${target}`, grid: true },
    color: { domain: series, range: colors, legend: true },
    marks: [
      Plot.ruleX(boundaries, { stroke: '#bbb', strokeDasharray: '1,3' }),
      Plot.ruleY([0], { stroke: '#777' }),
      Plot.line(points, { x: 'step', y: 'value', fy: 'output', stroke: 'series', z: (d: SeriesPoint) => `${d.series}|${d.seq}`, strokeWidth: 1.2 }),
      Plot.frame({ stroke: '#ddd' }),
    ],
  });
}

/** NMSE of each predictor (log scale, bars from a floor below the smallest value). */
export function nmseChart(rows: { label: string; nmse: number; kind: string }[]): string {
  const positive = rows.filter((r) => r.nmse > 0);
  const lo = Math.min(...positive.map((r) => r.nmse));
  const hi = Math.max(...positive.map((r) => r.nmse));
  const floor = 10 ** Math.floor(Math.log10(lo) - 0.3);
  return renderPlot({
    width: 640,
    height: 50 + 30 * rows.length,
    marginLeft: 250,
    marginRight: 70,
    x: { type: 'log', label: 'NMSE (log scale; lower is better)', domain: [floor, hi * 1.5], grid: true, ticks: decades(floor, hi * 1.5), tickFormat: decadeLabel },
    y: { label: null, domain: rows.map((r) => r.label) },
    color: { domain: ['model', 'U = 0 model', 'reference'], range: [COLORS.model, COLORS.feedforward, COLORS.data] },
    marks: [
      Plot.barX(positive, { x1: () => floor, x2: 'nmse', y: 'label', fill: 'kind' }),
      Plot.text(positive, { x: 'nmse', y: 'label', text: (r: { nmse: number }) => fmt(r.nmse), textAnchor: 'start', dx: 4 }),
    ],
  });
}

/** Heatmap of a matrix (rows × cols), diverging colours symmetric about 0, values printed when small enough. */
export function heatmapChart(name: string, M: { rows: number; cols: number; data: ArrayLike<number> }, rowLabel: string, colLabel: string): string {
  const data: { r: number; c: number; v: number }[] = [];
  let m = 0;
  for (let r = 0; r < M.rows; r++)
    for (let c = 0; c < M.cols; c++) {
      const v = M.data[r * M.cols + c];
      data.push({ r: r + 1, c: c + 1, v });
      m = Math.max(m, Math.abs(v));
    }
  if (m === 0) m = 1;
  const cell = Math.max(18, Math.min(44, Math.floor(300 / Math.max(M.rows, M.cols))));
  const showText = M.rows * M.cols <= 100;
  return renderPlot({
    width: 60 + cell * M.cols + 20,
    height: 70 + cell * M.rows,
    marginLeft: 50,
    marginTop: 30,
    marginBottom: 40,
    padding: 0.04,
    x: { label: colLabel, domain: range1(M.cols), axis: 'top' },
    y: { label: rowLabel, domain: range1(M.rows) },
    color: { type: 'linear', scheme: 'RdBu', domain: [-m, m], legend: false },
    marks: [
      Plot.cell(data, { x: 'c', y: 'r', fill: 'v', inset: 0.5 }),
      ...(showText
        ? [Plot.text(data, { x: 'c', y: 'r', text: (d: { v: number }) => d.v.toFixed(2), fill: (d: { v: number }) => (Math.abs(d.v) > 0.6 * m ? 'white' : 'black'), fontSize: cell > 30 ? 10 : 8 })]
        : []),
    ],
    caption: undefined,
    ariaLabel: name,
  });
}

/** Powers of ten in [lo, hi]. */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function decadeLabel(v: number): string {
  const e = Math.round(Math.log10(v));
  return e >= -2 && e <= 2 ? String(10 ** e) : `1e${e}`;
}

function range1(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Compact number format shared by charts and tables. */
export function fmt(v: number): string {
  if (v === undefined || v === null) return '—';
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e4 ? v.toPrecision(3) : v.toExponential(2);
}

/**
 * The HTML fit report (`gloree fit … --report`, `gloree report MODEL DATA`): one self-contained HTML file —
 * inline SVG charts (src/report/charts.ts), minimal inline CSS, no scripts, no external URLs — that shows how
 * far the data satisfy the method's assumptions and how well the model does:
 *  1. the singular-value spectrum of T2 with the chosen rank (src/learn/rank.ts);
 *  2. the CP decomposition of T2 (residual, Jennrich conditioning, CP weights) and the pseudo-inverses;
 *  3. input-model diagnostics (Gaussianity of the residuals per coordinate, spectral radius; docs/method.md §3);
 *  4. predicted vs actual outputs over a stretch of held-out sequences, and held-out NMSE against the U = 0
 *     model (docs/method.md §6: always compare);
 *  5. the learned weight matrices as heatmaps (next to the truth, aligned up to §2's symmetries, when given);
 *  6. parameter errors when a true model is given (docs/method.md §7);
 *  7. refinement, control variate, timings and warnings.
 * Sections whose inputs are missing are left out (or say why), so the function works on any model file.
 */
import { describePlan } from '../learn/refine-windows.js';
import type { SequenceChunk } from '../io/dataset.js';
import type { Activation, RNNParams } from '../models/params.js';
import type { CommonDiagnostics } from '../learn/diagnostics.js';
import { learnerView } from './learner-view.js';
import type { RankSelection } from '../learn/rank.js';
import { parameterErrors, type ParameterErrors } from '../metrics/parameters.js';
import { nmse } from '../metrics/nmse.js';
import { COLORS, PLOT_CLASS, cpWeightsChart, errorChart, fmt, gaussianityChart, heatmapChart, nmseChart, predictionChart, spectrumChart, type SeriesPoint } from './charts.js';

/** What the report needs of the rank selection (a RankSelection, or its JSON form stored in a model file). */
export type RankSummary = Pick<RankSelection, 'rank' | 'spectrum' | 'noiseSpectrum' | 'noiseFloor' | 'threshold' | 'rule'> &
  Partial<Pick<RankSelection, 'factor' | 'cap' | 'spectrumInput' | 'rankInput' | 'warnings' | 'marginKept' | 'marginDropped'>>;

/** Held-out NMSEs over the whole held-out data (docs/method.md §7). */
export interface HeldOutNMSE {
  rows: number;
  /** Model against the data's (noisy) outputs. */
  model: number;
  /** U = 0 model against the data's outputs. */
  feedforward?: number;
  /** Against the true noise-free outputs (needs a true model). */
  modelVsTruth?: number;
  feedforwardVsTruth?: number;
  /** True model against the data: the noise floor. */
  truthVsData?: number;
}

export interface ReportHeldOut {
  /** A stretch of held-out sequences (e.g. the first ~200 steps) to plot. */
  chunk: SequenceChunk;
  /** Model predictions on `chunk` (rows×dy). */
  yhat: Float64Array;
  /** Predictions of the U = 0 model on `chunk`. */
  yhatFeedforward?: Float64Array;
  /** Noise-free outputs of the true model on `chunk`. */
  truthClean?: Float64Array;
  /** NMSEs over all held-out data; if absent they are computed on the plotted stretch and labelled so. */
  nmse?: HeldOutNMSE;
  /** Where the held-out data came from (file name), for captions. */
  label?: string;
  /**
   * True when these are the data the model was fitted on (`fit --report`): every number and caption then says
   * "in-sample" instead of "held-out", since a fit's error on its own training rows flatters it.
   */
  inSample?: boolean;
}

export interface ReportInput {
  /** A loaded model file (LoadedModel) or a fit result: params plus the optional extras of docs/method.md §8. */
  model: { params: RNNParams; inputModel?: unknown; diagnostics?: unknown };
  heldOut?: ReportHeldOut;
  /** The true model (synthetic data): parameter errors and aligned heatmaps. */
  truth?: RNNParams;
  /** Rank selection; if absent, `diagnostics.rank` of the model file is used when present. */
  rank?: RankSummary;
  /** Where the spectrum's T2 was computed (e.g. "training data", "test.csv"), for the caption. */
  rankSource?: string;
  title?: string;
  /** Model file name, for the header. */
  modelName?: string;
  /** Output coordinates plotted in the prediction chart (default: the first 4). */
  maxOutputsPlotted?: number;
}

/** The common block of every learner's diagnostics (the learner's own block is read through learnerView). */
type Diag = Partial<CommonDiagnostics> & { timingsMs?: Record<string, number> };

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#fafafa;color:#1f1f1f;line-height:1.45}
main{max-width:1040px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 8px;border-bottom:1px solid #e3e3e3;padding-bottom:4px}
h3{font-size:1em;margin:16px 0 6px}
.sub{color:#555;margin:0 0 12px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:.9em}
td,th{border:1px solid #e0e0e0;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f3f5f8;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure.gloree-figure{margin:12px 0 18px}
figcaption{font-size:.85em;color:#555;max-width:760px;margin-top:4px}
.grid{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.grid figure.gloree-figure{margin:4px 0}
.warn{background:#fff6e0;border-left:4px solid #efb118;padding:8px 12px;margin:10px 0;font-size:.9em}
.warn ul{margin:4px 0;padding-left:20px}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}
.note{font-size:.88em;color:#444}
code{background:#f3f3f3;padding:0 3px;border-radius:3px}
`;

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function figure(id: string, svg: string, caption: string): string {
  return `<figure class="gloree-figure" id="fig-${id}">${svg}<figcaption>${caption}</figcaption></figure>`;
}

function table(rows: [string, string][], head?: [string, string]): string {
  const h = head ? `<tr><th>${esc(head[0])}</th><th>${esc(head[1])}</th></tr>` : '';
  return `<table>${h}${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td class="num">${v}</td></tr>`).join('')}</table>`;
}

function num(v: unknown): string {
  if (typeof v === 'number') return esc(Number.isInteger(v) && Math.abs(v) < 1e15 ? v.toLocaleString('en-US') : fmt(v));
  return v === undefined || v === null ? '—' : esc(v);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function activationText(a: Activation): string {
  if (a.name !== undefined) return `σ = ${a.name}`;
  const c = a.coefficients;
  const terms: string[] = [];
  c.forEach((v, m) => {
    if (v === 0) return;
    const coef = v === 1 && m > 0 ? '' : `${v}`;
    terms.push(m === 0 ? `${v}` : m === 1 ? `${coef}z` : `${coef}z${m === 2 ? '²' : m === 3 ? '³' : '^' + m}`);
  });
  return `σ(z) = ${terms.join(' + ') || '0'}`;
}

/** Render the complete HTML report (a string; write it with writeFileAtomic). */
export function renderReport(input: ReportInput): string {
  const { params } = input.model;
  const d = (input.model.diagnostics ?? {}) as Diag;
  const view = learnerView(input.model.diagnostics);
  const dx = params.A1.cols, dy = params.A2.cols, dh = params.A1.rows;
  const dz = params.kind === 'brnn' ? params.B1.rows : 0;
  const parts: string[] = [];
  const title = input.title ?? 'gloree fit report';

  // ---- Header
  const shape = params.kind === 'brnn' ? `BRNN, dx = ${dx}, dh = ${dh} forward + ${dz} backward, dy = ${dy}` : `IO-RNN, dx = ${dx}, dh = ${dh}, dy = ${dy}`;
  parts.push(`<h1>${esc(title)}</h1>`);
  const dataLine = d.data ? `; fitted on ${d.data.rows.toLocaleString('en-US')} rows in ${d.data.sequences.toLocaleString('en-US')} sequences (length ${d.data.minLength === d.data.maxLength ? d.data.minLength : `${d.data.minLength}–${d.data.maxLength}`})` : '';
  parts.push(`<p class="sub">${input.modelName ? `<code>${esc(input.modelName)}</code>: ` : ''}${esc(shape)}, ${esc(activationText(params.activation))}${esc(dataLine)}.</p>`);

  // A T2 spectrum (stored or computed from data) means nothing for a learner that does not use T2.
  const rank = view.usesT2 ? input.rank ?? view.rank : undefined;
  const warnings = [...(d.warnings ?? []), ...(rank?.warnings ?? []).filter((w) => !(d.warnings ?? []).includes(w))];
  if (warnings.length > 0) parts.push(`<div class="warn"><b>Warnings</b><ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></div>`);

  // ---- Summary table
  const summary: [string, string][] = [];
  const n = input.heldOut?.nmse;
  const where = sampleWord(input.heldOut);
  if (n) {
    summary.push([`${where} NMSE (model, vs data)`, num(n.model)]);
    if (isNum(n.feedforward)) summary.push([`${where} NMSE (U = 0 model, vs data)`, num(n.feedforward)]);
    if (isNum(n.modelVsTruth)) summary.push([`${where} NMSE vs true noise-free outputs`, num(n.modelVsTruth)]);
  }
  if (isNum(view.varianceShare)) summary.push([`share of output variance carried by ${params.kind === 'brnn' ? 'U and V' : 'U'}`, `${(100 * view.varianceShare).toFixed(1)}%`]);
  if (view.cpResidual !== undefined) summary.push([view.learner === 'gloree-poly' ? 'CP relative residual of the directions\' moment' : 'CP relative residual of T2', num(view.cpResidual)]);
  if (rank) summary.push(['rank selected from the T2 spectrum', `${rank.rank}${rank.rank === dh ? '' : ` (model has dh = ${dh})`}`]);
  if (summary.length > 0) parts.push(table(summary));

  // ---- 1. Rank
  if (!view.usesT2) {
    if (view.spectra.length === 0) parts.push('<h2>1. Rank</h2>', '<p class="note">The model file has no spectrum of the moments this learner used.</p>');
    view.spectra.forEach((sp, i) => {
      parts.push(`<h2>1${view.spectra.length > 1 ? String.fromCharCode(97 + i) : ''}. ${esc(sp.title)}</h2>`);
      parts.push(figure(`spectrum-${i}`, spectrumChart(sp, sp.label), `${esc(sp.caption)} A singular value counts when it is above the threshold.`));
      parts.push(`<p class="note">Rule: ${esc(sp.rule)}</p>`);
    });
  } else {
    parts.push('<h2>1. Rank: singular values of T2</h2>');
    if (rank) {
      parts.push(
        figure(
          'spectrum',
          spectrumChart(rank),
          `Singular values of the output-mode unfolding (dy × dx²) of T2 = E[y ⊗ S2] (log scale)${input.rankSource ? `, computed on ${esc(input.rankSource)}` : ''}: ` +
            `filled circles are kept. Crosses: the same unfolding of the scaled difference of the T2 moments of two disjoint halves of the data, ` +
            `whose spectral norm estimates that of the noise (noise floor). A singular value counts when it is above ${esc(rank.factor ?? 2)} × the noise floor.`,
        ),
      );
      parts.push(`<p class="note">Rule: ${esc(rank.rule)}</p>`);
      if (rank.spectrumInput && isNum(rank.rankInput)) {
        parts.push(`<p class="note">Cross-check, input-mode unfolding (dx × dy·dx): singular values ${rank.spectrumInput.map((v) => esc(fmt(v))).join(', ')}; ${rank.rankInput} above its own noise floor.</p>`);
      }
    } else {
      parts.push(`<p class="note">No T2 spectrum available (the model file has no <code>diagnostics.rank</code> and no data were given).</p>`);
    }
  }

  // ---- 2. CP and conditioning
  parts.push(`<h2>2. ${esc(view.cpTitle)}</h2>`);
  if (view.cpRows.length > 0) {
    const rows = (r: [string, unknown][]): [string, string][] => r.map(([k, v]) => [k, typeof v === 'string' && / \(not converged\)$/.test(v) ? `${esc(v.replace(/ \(not converged\)$/, ''))} <span class="bad">(not converged)</span>` : num(v)]);
    parts.push(`<div class="grid"><div>${table(rows(view.cpRows))}${view.pinvRows.length ? table(rows(view.pinvRows)) : ''}</div>`);
    if (view.cpWeights && view.cpWeights.length > 0) {
      parts.push(figure('cp-weights', cpWeightsChart(view.cpWeights), 'Weights |w_j| of T2 = Σ w_j b_j ⊗ c_j ⊗ c_j. A weight near 0 means a neuron the data barely show.'));
    }
    parts.push('</div>');
  } else {
    parts.push('<p class="note">The model file has no CP diagnostics.</p>');
  }

  // ---- 3. Input model
  parts.push('<h2>3. Input model</h2>');
  const im = d.inputModel as (Partial<NonNullable<CommonDiagnostics['inputModel']>> & Record<string, unknown>) | undefined;
  // Skewness and kurtosis are read together (a hand-edited file may hold one without the other).
  if (im && Array.isArray(im.residualSkewness) && im.residualSkewness.length > 0 && Array.isArray(im.residualExcessKurtosis) && im.residualExcessKurtosis.length === im.residualSkewness.length) {
    const sk = im.residualSkewness as number[], ku = im.residualExcessKurtosis as number[];
    const rho = im.spectralRadius as number;
    const rows: [string, string][] = [
      ['kind', esc(im.kind === 'iid' ? 'i.i.d. Gaussian' : (im.selection as { choice?: string } | undefined)?.choice === 'mixture' ? 'VAR(1), non-Gaussian innovations (F, μ below: least squares)' : 'Gaussian VAR(1)')],
      ['spectral radius of F̂ (< 1: stationary)', `${num(rho)} ${isNum(rho) ? (rho < 1 ? '<span class="ok">stable</span>' : '<span class="bad">not stable</span>') : ''}`],
      ['condition number of Q̂ / Σ̂', `${num(im.condQ)} / ${num(im.condSigma)}`],
      ['steps / transitions', `${num(im.steps)} / ${num(im.transitions)}`],
      ['max |skewness| (SE under Gaussianity)', `${num(im.maxAbsSkewness)} (${num(im.skewnessSE)})`],
      ['max |excess kurtosis| (SE)', `${num(im.maxAbsExcessKurtosis)} (${num(im.kurtosisSE)})`],
    ];
    parts.push(table(rows));
    parts.push(
      figure(
        'gaussianity',
        gaussianityChart(sk, ku, im.skewnessSE as number, im.kurtosisSE as number),
        'Skewness and excess kurtosis of the input-model residuals, per input coordinate. Both are 0 for Gaussian inputs; the band is ±3 standard errors. ' +
          'The method\'s score functions assume Gaussian inputs (docs/method.md §3): points far outside the band mean biased moments.',
      ),
    );
    parts.push(selectionSection((im as { selection?: unknown }).selection));
  } else if (im && (im as { given?: boolean }).given) {
    parts.push('<p class="note">The input model was given by the user; no residual diagnostics.</p>');
  } else {
    parts.push('<p class="note">The model file has no input-model diagnostics.</p>');
  }

  // ---- 4. Held-out predictions
  parts.push(`<h2>4. ${input.heldOut?.inSample ? 'In-sample predictions (on the training data)' : 'Held-out predictions'}</h2>`);
  if (input.heldOut) parts.push(heldOutSection(input.heldOut, dy, input.maxOutputsPlotted ?? 4, isNum(view.varianceShare) ? view.varianceShare : undefined));
  else parts.push('<p class="note">No held-out data were given.</p>');

  // ---- 5. Weights (and 6. parameter errors)
  parts.push('<h2>5. Learned weights</h2>');
  let pe: ParameterErrors | null = null;
  let peError: string | null = null;
  if (input.truth) {
    try {
      pe = parameterErrors(params, input.truth);
    } catch (e) {
      peError = (e as Error).message;
    }
  }
  const shown = pe ? pe.aligned : params;
  const mats: [string, { rows: number; cols: number; data: Float64Array }, string, string, string][] = [
    ['A1', shown.A1, 'neuron j', 'input a', 'input weights a1_j (rows)'],
    ['U', shown.U, 'neuron j', 'neuron k', 'recurrent weights U_jk'],
    ['A2', shown.A2, 'neuron j', 'output i', 'output weights A2^(j) (rows)'],
  ];
  if (shown.kind === 'brnn') {
    mats.splice(2, 0, ['B1', shown.B1, 'neuron j', 'input a', 'backward input weights'], ['V', shown.V, 'neuron j', 'neuron k', 'backward recurrent weights']);
  }
  parts.push(`<p class="note">${pe ? 'Estimate aligned to the true model (neuron permutation, gauge ‖a1_j‖ = 1 and joint sign, docs/method.md §2), with the truth in the same gauge below.' : 'As stored in the model file.'} Blue positive, red negative; colours scaled per matrix.</p>`);
  parts.push(`<div class="grid">${mats.map(([k, M, r, c, cap]) => figure(`w-${k}`, heatmapChart(k, M, r, c), `<b>${k}</b> (${M.rows}×${M.cols}): ${cap}${pe ? ', estimate' : ''}`)).join('')}</div>`);
  if (pe) {
    const t = pe.truthGauged;
    const truthOf: Record<string, { rows: number; cols: number; data: Float64Array }> = { A1: t.A1, U: t.U, A2: t.A2 };
    if (t.kind === 'brnn') Object.assign(truthOf, { B1: t.B1, V: t.V });
    parts.push('<h3>True model</h3>');
    parts.push(`<div class="grid">${mats.map(([k, _M, r, c, cap]) => figure(`truth-${k}`, heatmapChart(`true ${k}`, truthOf[k], r, c), `<b>${k}</b> (${truthOf[k].rows}×${truthOf[k].cols}): ${cap}, true`)).join('')}</div>`);
  }
  if (input.truth) {
    parts.push('<h2>6. Parameter errors</h2>');
    if (pe) {
      const rows: [string, string][] = [['A1', num(pe.A1)], ['U', num(pe.U)], ['A2', num(pe.A2)]];
      if (isNum(pe.B1)) rows.push(['B1', num(pe.B1)]);
      if (isNum(pe.V)) rows.push(['V', num(pe.V)]);
      parts.push(table(rows, ['matrix', 'relative Frobenius error']));
      parts.push(`<p class="note">Up to neuron permutation (Hungarian matching on |cos| of the rows of A1), the per-neuron gauge and the joint sign (symmetry group: ${esc(pe.symmetry)}; docs/method.md §7).</p>`);
    } else {
      parts.push(`<p class="note">Cannot compare with the true model: ${esc(peError)}</p>`);
    }
  }

  // ---- 7. Fit details
  const details: [string, string][] = [];
  if (d.controlVariate) {
    details.push(['control variate (§5 step 4)', d.controlVariate.used ? `used, ${num(d.controlVariate.features)} features${d.controlVariate.r2 ? `; R² per output ${d.controlVariate.r2.map((v) => esc(fmt(v))).join(', ')}` : ''}` : 'not used']);
  }
  for (const [k, v] of view.details) details.push([k, num(v)]);
  if (d.refine) {
    const r = d.refine;
    details.push(['refinement', `${esc(r.method)}, ${num(r.iterations)} iterations, ${num(r.parameters)} parameters, ${num(r.trainRows)} training rows (stop: ${esc(r.stopReason)})`]);
    details.push(['validation MSE start → end', `${num(r.valLossStart)} → ${num(r.valLossEnd)}${r.keptStart ? ' (kept the spectral start)' : ''}`]);
    if (r.sample) details.push(['refinement sample', esc(describePlan(r.sample))]);
  } else if (view.learner !== null) details.push(['refinement', 'off (spectral estimate)']);
  if (d.stabilised) {
    details.push(['stability (§6)', `the fitted model blew up on the training data; kept <b>${esc(d.stabilised.kept)}</b> (${d.stabilised.rejected.map((r) => `${esc(r.candidate)}: ${esc(r.reason)}`).join('; ')})`]);
  }
  if (d.timingsMs) details.push(['timings (ms)', Object.entries(d.timingsMs).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(', ')]);
  if (details.length > 0) {
    parts.push(`<h2>${input.truth ? 7 : 6}. Fit details</h2>`);
    parts.push(table(details));
  }

  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${esc(title)}</title><style>${CSS}</style></head><body><main>\n` +
    parts.join('\n') +
    `\n<p class="note" style="margin-top:32px">Generated by gloree. Figures are inline SVG (class <code>${PLOT_CLASS}</code>); this file loads nothing from the network.</p>` +
    '\n</main></body></html>\n'
  );
}

/** "in-sample" for the training data, else "held-out". */
function sampleWord(h: ReportHeldOut | undefined): string {
  return h?.inSample ? 'in-sample' : 'held-out';
}

function heldOutSection(h: ReportHeldOut, dy: number, maxOutputs: number, varianceShareU: number | undefined): string {
  const c = h.chunk;
  if (c.dy !== dy) throw new RangeError(`renderReport: held-out chunk has dy = ${c.dy}, the model ${dy}`);
  const check = (a: Float64Array | undefined, name: string) => {
    if (a && a.length !== c.rows * dy) throw new RangeError(`renderReport: heldOut.${name} has ${a.length} values, expected rows×dy = ${c.rows}×${dy}`);
  };
  check(h.yhat, 'yhat');
  check(h.yhatFeedforward, 'yhatFeedforward');
  check(h.truthClean, 'truthClean');
  const out: string[] = [];
  const where = sampleWord(h);
  if (h.inSample) {
    out.push('<p class="note">These are the data the model was fitted on: the errors below are in-sample and flatter the model. Run <code>gloree report MODEL HELD_OUT_DATA</code> for an honest estimate.</p>');
  }
  const series = ['observed y', ...(h.truthClean ? ['true noise-free'] : []), 'model', ...(h.yhatFeedforward ? ['U = 0 model'] : [])];
  const colors = [COLORS.data, ...(h.truthClean ? [COLORS.truth] : []), COLORS.model, ...(h.yhatFeedforward ? [COLORS.feedforward] : [])];
  const nOut = Math.min(dy, maxOutputs);
  const outputs = Array.from({ length: nOut }, (_, i) => `y${i + 1}`);
  const seqOf = new Int32Array(c.rows);
  const boundaries: number[] = [];
  let row = 0;
  for (let k = 0; k < c.lengths.length; k++) {
    if (k > 0) boundaries.push(row + 0.5);
    for (let t = 0; t < c.lengths[k]; t++) seqOf[row++] = k;
  }
  const points: SeriesPoint[] = [];
  const add = (arr: Float64Array, s: string) => {
    for (let r = 0; r < c.rows; r++) for (let i = 0; i < nOut; i++) points.push({ step: r + 1, value: arr[r * dy + i], output: outputs[i], series: s, seq: seqOf[r] });
  };
  add(c.y, 'observed y');
  if (h.truthClean) add(h.truthClean, 'true noise-free');
  add(h.yhat, 'model');
  if (h.yhatFeedforward) add(h.yhatFeedforward, 'U = 0 model');
  out.push(
    figure(
      'predictions',
      predictionChart(points, series, colors, outputs, boundaries, where),
      `Outputs over the first ${c.rows} ${where} steps (${c.lengths.length} sequence${c.lengths.length === 1 ? '' : 's'}${h.label ? ` of ${esc(h.label)}` : ''})` +
        `${dy > nOut ? `; first ${nOut} of ${dy} output coordinates` : ''}. Dots: observed outputs; lines: predictions` +
        `${h.truthClean ? ' and the true model\'s noise-free outputs' : ''}.`,
    ),
  );

  // Errors of each predictor against the truth (or the observed y), where the recurrence shows.
  const target = h.truthClean ?? c.y;
  const errSeries = ['model', ...(h.yhatFeedforward ? ['U = 0 model'] : [])];
  const errColors = [COLORS.model, ...(h.yhatFeedforward ? [COLORS.feedforward] : [])];
  const errPoints: SeriesPoint[] = [];
  const addErr = (arr: Float64Array, s: string) => {
    for (let r = 0; r < c.rows; r++) for (let i = 0; i < nOut; i++) errPoints.push({ step: r + 1, value: arr[r * dy + i] - target[r * dy + i], output: outputs[i], series: s, seq: seqOf[r] });
  };
  addErr(h.yhat, 'model');
  if (h.yhatFeedforward) addErr(h.yhatFeedforward, 'U = 0 model');
  const targetName = h.truthClean ? 'y (true, noise-free)' : 'y (observed)';
  out.push(
    figure(
      'prediction-errors',
      errorChart(errPoints, errSeries, errColors, outputs, boundaries, targetName, where),
      `Prediction errors over the same steps, against the ${h.truthClean ? "true model's noise-free outputs" : 'observed outputs'}. ` +
        `${h.yhatFeedforward ? 'The gap between the two lines is what the recurrent weights U contribute.' : ''}`,
    ),
  );

  // NMSE (whole held-out data if given, else the plotted stretch).
  let n = h.nmse;
  const scope = n ? `all ${n.rows.toLocaleString('en-US')} ${where} rows` : `the ${c.rows} plotted rows only`;
  if (!n) {
    n = { rows: c.rows, model: nmse(h.yhat, c.y, dy) };
    if (h.yhatFeedforward) n.feedforward = nmse(h.yhatFeedforward, c.y, dy);
    if (h.truthClean) {
      n.modelVsTruth = nmse(h.yhat, h.truthClean, dy);
      if (h.yhatFeedforward) n.feedforwardVsTruth = nmse(h.yhatFeedforward, h.truthClean, dy);
      n.truthVsData = nmse(h.truthClean, c.y, dy);
    }
  }
  const rows: { label: string; nmse: number; kind: string }[] = [];
  if (isNum(n.modelVsTruth)) rows.push({ label: 'model vs true noise-free outputs', nmse: n.modelVsTruth, kind: 'model' });
  if (isNum(n.feedforwardVsTruth)) rows.push({ label: 'U = 0 model vs true noise-free outputs', nmse: n.feedforwardVsTruth, kind: 'U = 0 model' });
  rows.push({ label: 'model vs observed y', nmse: n.model, kind: 'model' });
  if (isNum(n.feedforward)) rows.push({ label: 'U = 0 model vs observed y', nmse: n.feedforward, kind: 'U = 0 model' });
  if (isNum(n.truthVsData)) rows.push({ label: 'true model vs observed y (noise floor)', nmse: n.truthVsData, kind: 'reference' });
  if (rows.some((r) => r.nmse > 0)) {
    out.push(
      figure(
        'nmse',
        nmseChart(rows),
        `${where[0].toUpperCase() + where.slice(1)} NMSE = Σ‖ŷ − y‖² / Σ‖y − ȳ‖² over ${scope} (docs/method.md §7). The U = 0 model keeps Â1 and refits its own output layer; ` +
          `the recurrence matters only where the model beats it.`,
      ),
    );
  }
  const ratio = isNum(n.feedforward) && n.model > 0 ? n.feedforward / n.model : undefined;
  const notes: string[] = [];
  if (ratio !== undefined) notes.push(`The U = 0 model's NMSE is ${esc(fmt(ratio))}× the model's (against the observed outputs).`);
  if (varianceShareU !== undefined) notes.push(`U carries ${(100 * varianceShareU).toFixed(1)}% of the fitted model's output variance.`);
  if (notes.length) out.push(`<p class="note">${notes.join(' ')}</p>`);
  return out.join('\n');
}

/**
 * The automatic input-model choice (docs/non-gaussian-inputs.md): the Jarque–Bera test per coordinate against its
 * threshold, the choice, and per independent component the scores used. Read defensively (hand-edited files).
 */
function selectionSection(sel: unknown): string {
  if (!sel || typeof sel !== 'object') return '';
  const o = sel as { choice?: unknown; requested?: unknown; threshold?: unknown; alpha?: unknown; coordinates?: unknown; mixture?: { components?: unknown } };
  const out: string[] = [];
  out.push(`<p>Input model <b>${esc(o.requested)}</b>: chose <b>${esc(o.choice === 'mixture' ? 'non-Gaussian innovations' : 'Gaussian VAR(1)')}</b>. Test: Jarque–Bera per coordinate, Gaussian unless some p-value is below α/dx = ${num(o.threshold)} (α = ${num(o.alpha)}).</p>`);
  if (Array.isArray(o.coordinates)) {
    const rows = o.coordinates.map((c: Record<string, unknown> | null): [string, string] => [String(c?.column ?? "?"), `skewness ${num(c?.skewness)}, excess kurtosis ${num(c?.excessKurtosis)}, JB ${num(c?.jb)}, p ${num(c?.pValue)}`]);
    out.push(table(rows, ['coordinate', 'residual evidence']));
  }
  const comps = o.mixture?.components;
  if (Array.isArray(comps)) {
    const rows = comps.map((c: Record<string, unknown> | null, i): [string, string] => {
      const fam = c?.family === 'stein-poly' ? `polynomial Stein representers (degree ${num(c?.steinDegree)})` : `Gaussian mixture, ${Array.isArray(c?.weights) ? c.weights.length : '?'} components (weights ${esc(Array.isArray(c?.weights) ? c.weights.map((w) => num(w)).join(', ') : '—')})`;
      return [`z${i + 1}`, `${fam}; excess kurtosis ${num(c?.excessKurtosis)}`];
    });
    out.push(table(rows, ['independent component', 'scores']));
  }
  return out.join('\n');
}

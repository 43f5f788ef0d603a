import type { FitDiagnostics, LearnerTag } from '../learn/diagnostics.js';
import { learnerOf } from '../learn/diagnostics.js';
import type { RankSummary } from './html.js';

/** A model file is user input: JSON writes NaN/∞ as null and a hand edit may leave anything, so format defensively. */
function p3(v: unknown, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toPrecision(digits) : String(v);
}

/**
 * What the report shows of a model file's diagnostics, for every learner (the diagnostics are typed by
 * `learner`, src/learn/diagnostics.ts; files written before the tag are recognised by their blocks):
 * the T2 spectrum, the decomposition's rows, the pseudo-inverses, the recurrence's share of the output variance.
 */
/** A learner's own singular-value spectrum against its noise floor (the T2 rank rule's chart, for another moment). */
export interface SpectrumView {
  /** Section heading and chart legend, e.g. 'Hankel singular values of the Markov parameters'. */
  title: string;
  label: string;
  caption: string;
  spectrum: number[];
  noiseSpectrum: number[];
  noiseFloor: number;
  threshold: number;
  /** Components kept (the state size or dh). */
  rank: number;
  rule: string;
}

export interface LearnerView {
  learner: LearnerTag | null;
  /**
   * Whether the learner uses T2 = E[y ⊗ S2] at all (its rank rule or its CP). The linear learner never does, the
   * smooth learner has its own spectra: for them the report shows `spectra` and no T2 spectrum.
   */
  usesT2: boolean;
  spectra: SpectrumView[];
  /** The T2 rank selection stored by the fit (for the polynomial learner: its spectrum and noise floor). */
  rank?: RankSummary;
  /** Title of the decomposition section and its table rows (label, HTML-safe value). */
  cpTitle: string;
  cpRows: [string, unknown][];
  /** Relative residual of that CP. */
  cpResidual?: number;
  /** Component weights of T2's CP, when stored. */
  cpWeights?: number[];
  pinvRows: [string, unknown][];
  /** Share of the output variance carried by the recurrent weights (U, or U and V). */
  varianceShare?: number;
  /** Extra fit details (label, value). */
  details: [string, unknown][];
}

const jennrichRows = (cp: { minSeparation: number; condEigenvectors: number }): [string, unknown][] => [
  ['Jennrich: smallest eigenvalue separation', cp.minSeparation],
  ['Jennrich: condition number of the eigenvectors', cp.condEigenvectors],
];

function pinvPair(label: string, p: { sMin: number; cond: number } | undefined): [string, unknown][] {
  return p ? [[`pinv(${label}): smallest singular value`, p.sMin], [`pinv(${label}): condition number`, p.cond]] : [];
}

function hankelView(l: { hankelSpectrum: number[]; noiseFloor: number; threshold: number; order: number; orderRule: string }, where: string): SpectrumView {
  return {
    title: 'State size: Hankel singular values', label: 'block Hankel matrix of the Markov parameters', spectrum: l.hankelSpectrum.slice(0, l.order + 8), noiseSpectrum: [],
    noiseFloor: l.noiseFloor, threshold: l.threshold, rank: l.order, rule: `state size ${l.order} (${l.orderRule}) in ${where}`,
    caption: 'Singular values of the block Hankel matrix of the Markov parameters M_k = E[y_{t+k} ⊗ s_t] = A2ᵀU^kA1 (log scale); its rank is the minimal state size. The noise floor is the spectral norm of the Hankel matrix of the split-sample difference.',
  };
}

export function learnerView(raw: unknown): LearnerView {
  const learner = learnerOf(raw);
  const view: LearnerView = { learner, usesT2: learner !== 'linear' && learner !== 'smooth', spectra: [], cpTitle: 'CP decomposition of T2 and conditioning', cpRows: [], pinvRows: [], details: [] };
  if (learner === null) return view;
  const d = raw as FitDiagnostics;
  if (d.learner === 'gloree-poly' || learner === 'gloree-poly') {
    const p = d as Extract<FitDiagnostics, { learner: 'gloree-poly' }>;
    const dir = p.directions;
    const moment = dir.route === 'S2' ? 'T2 = E[y ⊗ S2]' : `the order-${p.activation?.degree ?? 'l'} moment E[y ⊗ S_l]`;
    view.cpTitle = `Directions: CP decomposition of ${dir.route === 'S2' ? 'T2' : 'E[y ⊗ S_l]'} and conditioning`;
    view.cpRows = [
      ['moment giving the directions', `${dir.route} (${moment}; ${dir.p1}${dir.subspace ? `, subspace from ${dir.subspace}` : ''})`],
      ['relative residual of the CP (after ALS)', dir.cpResidual],
      ['residual of the Jennrich start', dir.jennrichResidual],
      ['ALS iterations', dir.alsIterations],
      ['moment giving U', p.uMoment === 'P2prime' ? 'P2′ (order l, lags t and t−1)' : 'P2 (order 3, lag t−1)'],
    ];
    if (dir.mu) view.cpRows.push(['μ̂_j = E σ″(z_j) (S2 route)', dir.mu.map((v) => p3(v)).join(', ')]);
    if (p.nu) view.cpRows.push(['ν̂_k = E σ′(z_k) (P2′)', p.nu.map((v) => p3(v)).join(', ')]);
    if (p.scales) view.cpRows.push(['neuron scales α', `${p.scales.alpha.map((v) => p3(v)).join(', ')} (${p.scales.fitted ? 'fitted' : 'gauge'})`]);
    if (p.stability) view.cpRows.push(['§6 stability quantity (limit)', `${p3(p.stability.quantity)} (${p.stability.limit})`]);
    view.cpResidual = dir.cpResidual;
    view.pinvRows = [...pinvPair('Â1', p.pinv?.A1), ...pinvPair('Â2ᵀ', p.pinv?.A2T)];
    const h = p.hidden;
    if (h?.spectrum && typeof h.noiseFloor === 'number') {
      // The polynomial learner stores the spectrum and noise floor of the rank rule (threshold 2 × floor).
      view.rank = { rank: h.chosen, spectrum: h.spectrum, noiseSpectrum: [], noiseFloor: h.noiseFloor, threshold: 2 * h.noiseFloor, rule: `${h.auto ? 'chosen' : 'given'}: dh = ${h.chosen}` };
    }
    view.varianceShare = p.varianceShareU;
  } else if (d.learner === 'linear') {
    const l = d.linear;
    view.cpTitle = 'Linear identification: block Hankel matrix of the Markov parameters and realization';
    view.cpRows = [
      ['Hankel singular values', l.hankelSpectrum.slice(0, l.order + 4).map((v) => p3(v)).join(', ')],
      ['noise floor (split-sample) / threshold', `${p3(l.noiseFloor)} / ${p3(l.threshold)}`],
      ['chosen state size', `${l.order} (${l.orderRule}${l.orderCandidates.length > 1 ? `; BIC over ${l.orderCandidates.map((c) => `${c.order}: ${p3(c.bic, 6)}`).join(', ')}` : ''})`],
      ['Markov horizon; Hankel blocks', `${l.horizon}; ${l.blockRows}×${l.blockCols}`],
      ['canonical form', `${l.canonicalForm}: ${l.canonicalNote}`],
      ['spectral radius of U (realization)', l.spectralRadius ?? 'n/a'],
      ['condition number of the shift least squares', l.conditionShift],
    ];
    view.spectra.push(hankelView(l, 'linear identification'));
  } else if (d.learner === 'smooth') {
    const sm = d.smooth;
    view.cpTitle = `Smooth activation (${sm.activation}): route and start`;
    view.cpRows = [
      ['route', `${sm.route}: ${sm.routeReason}`],
      ['start refined', `${sm.start}: ${sm.startReason}`],
    ];
    if (sm.order) view.cpRows.push(['order of the direction moment', `${sm.order.m} (${sm.order.reason})`]);
    if (sm.cpResidual !== undefined) view.cpRows.push(['relative residual of the CP', sm.cpResidual]);
    for (const s of sm.starts ?? []) view.cpRows.push([`start ${s.start}: sample MSE; scales α`, `${p3(s.mse)}; ${s.alpha.map((v) => p3(v)).join(', ')}`]);
    const ls = sm.linearStart;
    if (ls) {
      if (ls.preActivationRms !== undefined) view.cpRows.push(['pre-activation RMS s (linear route)', ls.preActivationRms]);
      for (const c of ls.candidates ?? []) view.cpRows.push([`start candidate ${c.name}: training MSE`, c.failure ? `failed: ${c.failure}` : c.mse === null ? '—' : p3(c.mse)]);
    }
    if (sm.linear) {
      view.cpRows.push(['Hankel singular values (linear route)', sm.linear.hankelSpectrum.slice(0, sm.linear.order + 4).map((v) => p3(v)).join(', ')]);
      view.spectra.push(hankelView(sm.linear, 'the linear route'));
    }
    const r = sm.hidden?.rank;
    if (r && Array.isArray(r.spectrum3) && Array.isArray(r.spectrum2)) {
      const how = sm.hidden.auto ? `dh = ${sm.hidden.chosen} chosen by the rule` : `dh = ${sm.hidden.chosen} given; the rule would count ${r.rank2} and ${r.rank3}`;
      view.spectra.push({
        title: 'Stein moment E[r ⊗ S3]: singular values', label: 'E[r ⊗ S3] (mean of the halves)', spectrum: r.spectrum3, noiseSpectrum: [], noiseFloor: r.noiseFloor3,
        threshold: r.factor * r.noiseFloor3, rank: sm.hidden.chosen, rule: `${how}. ${r.rule}`,
        caption: 'Singular values of the input-mode unfolding of the order-3 score moment of the control-variate residuals (log scale; projected on T1\'s row space when the tensor is large). Each neuron j adds E σ‴(z_j) A2^(j) ⊗ a1_j^{⊗3}; the noise floor is the spectral norm of the same unfolding of the split-sample difference.',
      });
      view.spectra.push({
        title: 'Stein moment E[y ⊗ S2]: singular values', label: 'E[y ⊗ S2] (mean of the halves)', spectrum: r.spectrum2, noiseSpectrum: [], noiseFloor: r.noiseFloor2,
        threshold: r.factor * r.noiseFloor2, rank: r.rank2, rule: `${r.rank2} component(s) above ${r.factor} × the noise floor (E σ″ vanishes for odd σ with symmetric pre-activations, so tanh data show none here)`,
        caption: 'Singular values of the output-mode unfolding of the order-2 score moment (log scale). Each neuron j adds E σ″(z_j) A2^(j) ⊗ a1_j^{⊗2}.',
      });
    }
    view.cpResidual = sm.cpResidual;
  } else if (learner === 'gloree-b') {
    const b = d as Extract<FitDiagnostics, { learner: 'gloree-b' }>;
    view.cpTitle = 'CP decomposition of T2 (all forward and backward neurons) and conditioning';
    if (b.cp) {
      view.cpRows = [
        ['method', b.cp.method], ['components (dh + dz)', b.cp.rank], ['relative residual ‖T2 − T̂2‖/‖T2‖ (after ALS)', b.cp.residual],
        ['residual of the Jennrich start', b.cp.jennrichResidual],
        ['ALS iterations', b.cp.alsConverged === false ? `${b.cp.alsIterations} (not converged)` : b.cp.alsIterations], ...jennrichRows(b.cp),
      ];
      view.cpWeights = b.cp.weights;
      view.cpResidual = b.cp.residual;
    }
    view.pinvRows = [...pinvPair('[Â1; B̂1]', b.pinv?.AB), ...pinvPair('Â2ᵀ', b.pinv?.A2T)];
    if (b.rank) view.rank = b.rank;
    view.varianceShare = b.varianceShareRecurrent;
    if (b.split) view.details.push(['forward/backward split', `${b.split.forward} + ${b.split.backward}, ${b.split.inferred ? 'inferred' : 'as requested'}: ${b.split.clarity} (smallest margin ${p3(b.split.minMargin)})`]);
    if (b.mixed) view.details.push(['steps in the mixed moments (prev / next)', `${b.mixed.stepsPrev} / ${b.mixed.stepsNext}`]);
  } else {
    const g = d as Extract<FitDiagnostics, { learner: 'gloree' }>;
    if (g.cp) {
      view.cpRows = [
        ['method', g.cp.method], ['relative residual ‖T2 − T̂2‖/‖T2‖ (after ALS)', g.cp.residual], ['residual of the Jennrich start', g.cp.jennrichResidual],
        ['ALS iterations', g.cp.alsConverged === false ? `${g.cp.alsIterations} (not converged)` : g.cp.alsIterations], ...jennrichRows(g.cp),
      ];
      if (g.cp.projectionGapRatio?.length) view.cpRows.push(['projection gap ratio σ_dh+1/σ_dh', g.cp.projectionGapRatio.map((v) => p3(v)).join(', ')]);
      view.cpWeights = g.cp.weights;
      view.cpResidual = g.cp.residual;
    }
    view.pinvRows = [...pinvPair('Â1', g.pinv?.A1), ...pinvPair('Â2ᵀ', g.pinv?.A2T)];
    if (g.rank) view.rank = g.rank;
    view.varianceShare = g.varianceShareU;
    if (g.mixed) view.details.push(['steps in the mixed moment', g.mixed.steps]);
  }
  const pinv = (d as { pinv?: { outputLayer?: { cond: number } } }).pinv;
  if (pinv?.outputLayer) view.pinvRows.push(['output-layer regression: condition number', pinv.outputLayer.cond]);
  return view;
}

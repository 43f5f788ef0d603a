/**
 * Which rows the refinement (docs/method.md §5 step 6) computes on: a pure plan from the sequence lengths.
 *
 * - 'sequences' (the learner's original rule, kept bit for bit): whole sequences, every `stride`-th of them
 *   (stride = ⌈rows / cap⌉), and the refinement holds out 20 % of the sampled sequences for early stopping. Used
 *   whenever at least 2 sequences are sampled and the data are at most 1.25× the row cap.
 * - 'windows' (one long recording, or few long sequences, or data far above the cap): the sequences are cut into
 *   windows. The last `validationFraction` of the rows (one contiguous block at the end of the data, in row order)
 *   is held out for early stopping; the rows before it are covered by training windows, spread evenly when they
 *   exceed the cap. Every window starts with `burnIn` rows that only warm up the state from h = 0 (their loss is not
 *   counted), so the counted rows see a state close to the one the whole recording would give. A training window's
 *   burn-in rows are the previous window's last counted rows; the validation block's burn-in rows are the last
 *   training rows (inputs only drive the state; no validation target is seen in training). The counted rows sum
 *   to at most the cap.
 *
 * Why windows: without them one sequence gives no validation split (nothing stops the refinement from fitting the
 * noise), the LM curvature cannot be subsampled by whole sequences (every iteration computes on every row), and
 * the cap cannot be honoured without dropping the whole sequence.
 */

/** Rows [start, end) of sequence `seq` (0-based, in data order); the first `burnIn` rows of the window are not counted. */
export interface RefineWindow {
  seq: number;
  start: number;
  end: number;
}

export interface RefinePlan {
  mode: 'sequences' | 'windows';
  /** Row cap of the refinement sample. */
  cap: number;
  /** Sequences mode: every stride-th sequence is sampled. */
  stride: number;
  /** Windows mode: burn-in rows at the start of every window (0 in sequences mode). */
  burnIn: number;
  /** Windows mode: counted rows per training window (the last window of a stretch may be up to 1.5× longer). */
  windowRows: number;
  train: RefineWindow[];
  validation: RefineWindow[];
  /** Counted rows (burn-in excluded) of the training windows and of the validation block; sequences mode: sampled rows, 0. */
  trainRows: number;
  validationRows: number;
  /** Burn-in rows the windows add to the computation (not counted). */
  burnInRows: number;
}

/** Burn-in rows for a state that forgets its start like ρ^t: ⌈ln(1e-3)/ln ρ⌉ with ρ floored at 0.9, at most 1000 and cap/40. */
export function burnInRows(rho: number, cap: number): number {
  const r = Math.max(0.9, Number.isFinite(rho) ? rho : 1);
  // ρ ≥ 1: the state never forgets its start in this linear estimate; the cap decides.
  const b = r >= 1 ? Infinity : Math.ceil(Math.log(1e-3) / Math.log(r));
  return Math.max(1, Math.min(b, 1000, Math.floor(cap / 40)));
}

export interface PlanOptions {
  /** Burn-in rows (see `burnInRows`); the plan lowers it to a tenth of the rows it may use. */
  burnIn: number;
  /** Held-out fraction (default 0.2; 0: no validation block). */
  validationFraction?: number;
  /** False: always 'sequences' (e.g. a BRNN, whose backward states would need a burn-in at the window's end). */
  allowWindows?: boolean;
}

export function planRefineWindows(lengths: ArrayLike<number>, cap: number, opts: PlanOptions): RefinePlan {
  if (!(cap >= 1)) throw new RangeError(`planRefineWindows: cap must be ≥ 1, got ${cap}`);
  const n = lengths.length;
  let N = 0;
  for (let k = 0; k < n; k++) N += lengths[k];
  const stride = Math.max(1, Math.ceil(N / cap));
  const sampled = Math.ceil(n / stride);
  const seqPlan = (): RefinePlan => {
    let rows = 0;
    for (let k = 0; k < n; k += stride) rows += lengths[k];
    return { mode: 'sequences', cap, stride, burnIn: 0, windowRows: 0, train: [], validation: [], trainRows: rows, validationRows: 0, burnInRows: 0 };
  };
  if (opts.allowWindows === false || (sampled >= 2 && N <= 1.25 * cap) || N === 0) return seqPlan();

  const vf = opts.validationFraction ?? 0.2;
  if (!(vf >= 0 && vf < 1)) throw new RangeError(`planRefineWindows: validationFraction must be in [0, 1), got ${vf}`);
  const budget = Math.min(N, cap);
  // The burn-in may take at most a tenth of the rows used, so that short recordings keep most of their rows counted.
  const B = Math.max(0, Math.min(Math.floor(opts.burnIn), Math.floor(budget / 10)));
  const valTarget = Math.round(vf * budget);
  // Windows of 10 burn-ins: the burn-in costs ≈ 10 % extra computation.
  const W = Math.max(1, 10 * B);

  // Global row where the validation block starts; sequence starts in global rows.
  const valFrom = N - valTarget;
  const validation: RefineWindow[] = [];
  const candidates: RefineWindow[] = [];
  let g0 = 0;
  for (let k = 0; k < n; k++) {
    const L = lengths[k], g1 = g0 + L;
    // Validation part of this sequence: local rows [a, L).
    if (valTarget > 0 && g1 > valFrom) {
      const a = Math.max(0, valFrom - g0);
      const start = Math.max(0, a - B);
      if (L - start > B) validation.push({ seq: k, start, end: L });
    }
    // Training part: local rows [0, e), counted rows tile [B, e).
    const e = Math.min(L, Math.max(0, valFrom - g0));
    let c = B;
    while (e - c >= 1) {
      // The last window takes a tail shorter than half a window (never a sliver of a window).
      const end = e - (c + W) < W / 2 ? e : c + W;
      candidates.push({ seq: k, start: c - B, end });
      c = end;
    }
    g0 = g1;
  }
  const counted = (w: RefineWindow) => w.end - w.start - B;
  const sum = (ws: RefineWindow[]) => ws.reduce((s, w) => s + counted(w), 0);
  // Training windows under the budget left by the validation block: evenly spread over the candidates.
  const trainBudget = budget - sum(validation);
  let train = candidates;
  if (sum(candidates) > trainBudget) {
    let k = Math.min(candidates.length, Math.max(1, Math.floor(trainBudget / W)));
    const pick = (k: number) => Array.from({ length: k }, (_, j) => candidates[Math.floor(((j + 0.5) * candidates.length) / k)]);
    train = pick(k);
    while (k > 1 && sum(train) > trainBudget) train = pick(--k);
  }
  if (train.length === 0) return seqPlan();
  const trainRows = sum(train), validationRows = sum(validation);
  return { mode: 'windows', cap, stride: 1, burnIn: B, windowRows: W, train, validation, trainRows, validationRows, burnInRows: B * (train.length + validation.length) };
}

/** One line for the CLI summary and the report, e.g. "1 sequence → 10 windows of 6 880 rows, burn-in 688, validation = last 20 %". */
export function describePlan(p: { mode: string; sequences: number; windows?: number; windowRows?: number; burnIn?: number; validationRows?: number; rows: number }): string {
  const seqs = `${p.sequences} sequence${p.sequences === 1 ? '' : 's'}`;
  if (p.mode !== 'windows') return `${seqs}, whole sequences (${p.rows} rows sampled; validation = 20 % of the sampled sequences)`;
  const total = p.rows + (p.validationRows ?? 0);
  const pct = total > 0 ? Math.round((100 * (p.validationRows ?? 0)) / total) : 0;
  return `${seqs} → ${p.windows} windows of ≈ ${p.windowRows} rows (${p.rows} rows counted), burn-in ${p.burnIn}, validation = last ${pct} % (${p.validationRows} rows)`;
}

import { SequenceChunk, makeChunk } from '../../io/dataset.js';
import { OptionError } from '../../io/errors.js';
import { MomentAccumulator } from '../../moments/accumulator.js';
import { concat } from '../chunks.js';
import { haloOf, ownRows, withHalo } from '../pieces.js';
import type { BidirectionalOptions } from './bidirectional.js';

/**
 * The forward/backward split of GLOREE-B's CP components (docs/method.md §4 F5): the sizes the user gave,
 * fold statistics of the two projected mixed moments, and the split that minimises their forbidden entries'
 * squared z-scores.
 */

/** How one CP component was assigned (docs/method.md §4 F5). */
export interface SplitComponent {
  /** Index of the component in the CP of T2. */
  component: number;
  assigned: 'forward' | 'backward';
  /** Row of the component in A1 (forward) or B1 (backward) of the returned model. */
  index: number;
  /**
   * √(Σ z²) over row j and column j of the 'prev' projected moment (the (t; t−1, t−1) one): how far the data say
   * this component talks to the past. About √(2K−1) (noise) for a backward neuron.
   */
  forwardEvidence: number;
  /** The same over the 'next' moment: about √(2K−1) for a forward neuron. */
  backwardEvidence: number;
  /** ‖row/col j of C_prev‖ / (‖row/col j of C_prev‖ + ‖row/col j of C_next‖): ≈ 1 forward, ≈ 0 backward. */
  forwardShare: number;
  /**
   * Increase of the split statistic (a sum of squared z-scores) if this component alone were moved to the other
   * group. Large (≫ 25, i.e. beyond 5σ) means a clear assignment; near 0 means the data cannot tell (e.g. a
   * neuron without recurrent connections, which behaves the same in either group); negative only when the user
   * fixed the group sizes against what the data say.
   */
  margin: number;
}

/** Resolve forward/backward/total into (K, fixed sizes or null). Throws an OptionError on inconsistent options. */
export function resolveSizes(opts: BidirectionalOptions, dx: number, dy: number): { K: number | 'auto'; dh: number | null } {
  if (opts.total === 'auto') {
    if (opts.forward !== undefined || opts.backward !== undefined) {
      throw new OptionError('total', 'auto', (n) => `an automatic total (${n('total')} auto) cannot be combined with a given number of forward or backward neurons`);
    }
    return { K: 'auto', dh: null };
  }
  const nonNeg = (v: number | undefined, option: 'forward' | 'backward'): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
      throw new OptionError(option, v, (n) => `the number of ${option} neurons (${n(option)}) must be a non-negative integer, got ${v}`);
    }
  };
  nonNeg(opts.forward, 'forward');
  nonNeg(opts.backward, 'backward');
  if (opts.total !== undefined && !(Number.isInteger(opts.total) && opts.total >= 1)) {
    throw new OptionError('total', opts.total, () => `the total number of neurons must be a positive integer, got ${opts.total}`);
  }
  let K: number, dh: number | null;
  const { forward: f, backward: b } = opts;
  const t = opts.total as number | undefined;
  if (t !== undefined) {
    K = t;
    if (f !== undefined && b !== undefined && f + b !== t) throw new OptionError('total', t, () => `forward ${f} + backward ${b} ≠ total ${t}`);
    if ((f ?? 0) > t || (b ?? 0) > t) throw new OptionError('total', t, () => `the group sizes (forward ${f ?? '-'}, backward ${b ?? '-'}) exceed the total ${t}`);
    dh = f !== undefined ? f : b !== undefined ? t - b : null;
  } else {
    if (f === undefined || b === undefined) {
      throw new OptionError('total', undefined, () => 'GLOREE-B needs either the total number of neurons (the forward/backward split is then inferred) or both the forward and the backward count');
    }
    K = f + b;
    if (K < 1) throw new OptionError('forward', f, () => 'GLOREE-B needs at least one neuron (forward + backward ≥ 1)');
    dh = f;
  }
  if (K > dx || K > dy) {
    throw new OptionError('total', K, () =>
      `${K} neurons (forward + backward) is more than ${K > dx ? `the input dimension dx = ${dx}` : `the output dimension dy = ${dy}`}: ` +
        `GLOREE-B needs [A1; B1] and A2 of full row rank, so dh + dz ≤ min(dx, dy) = ${Math.min(dx, dy)} (docs/method.md §2)`,
    );
  }
  return { K, dh };
}

// ---------------------------------------------------------------------------------------------
// Split of the components (docs/method.md §4 F5)

export interface SplitChoice {
  /** forward[j]: component j is a forward neuron. */
  forward: boolean[];
  /** Split statistic of the choice (see chooseSplit). */
  cost: number;
  /** Per component: statistic with j alone moved to the other group, minus `cost`. */
  margins: number[];
  /** Number of forward components of the unconstrained optimum. */
  suggestedForward: number;
  /** Squared z-scores of C_prev and C_next (K×K). */
  zPrev2: Float64Array;
  zNext2: Float64Array;
}

/**
 * Choose which components are forward. Entries of C_prev must vanish unless both indices are forward, entries
 * of C_next unless both are backward (docs/method.md §4 F5). With z = C / se, the statistic of a split F is
 *   S(F) = Σ_{(j,k) ∉ F×F} z_prev[j,k]² + Σ_{(j,k) ∉ B×B} z_next[j,k]²,
 * a sum of (approximately) χ²₁ terms when F is right; a wrong assignment of j adds the squared signal of
 * its row and column. Minimised exactly over all 2^K splits (all K-subsets of size `dh` if it is fixed)
 * for K ≤ 16, else by greedy single moves (swaps with fixed sizes) from the per-component evidence.
 * `prev`, `next`, `prevSE`, `nextSE`: K×K row-major.
 */
export function chooseSplit(prev: Float64Array, prevSE: Float64Array, next: Float64Array, nextSE: Float64Array, K: number, dh: number | null): SplitChoice {
  const z2 = (C: Float64Array, S: Float64Array): Float64Array => {
    let scale = 0;
    for (let i = 0; i < C.length; i++) scale = Math.max(scale, Math.abs(C[i]));
    const floor = 1e-15 * scale + 1e-300; // exact zeros (noise-free data) would divide 0 by 0
    return C.map((c, i) => (c / Math.max(S[i], floor)) ** 2);
  };
  const zPrev2 = z2(prev, prevSE), zNext2 = z2(next, nextSE);
  const cost = (f: boolean[]): number => {
    let s = 0;
    for (let j = 0; j < K; j++)
      for (let k = 0; k < K; k++) {
        if (!(f[j] && f[k])) s += zPrev2[j * K + k];
        if (f[j] || f[k]) s += zNext2[j * K + k];
      }
    return s;
  };
  const best = (size: number | null): { f: boolean[]; c: number } => {
    if (K <= 16) {
      let bf: boolean[] = [], bc = Infinity;
      for (let mask = 0; mask < 1 << K; mask++) {
        const f = Array.from({ length: K }, (_, j) => ((mask >> j) & 1) === 1);
        if (size !== null && f.filter(Boolean).length !== size) continue;
        const c = cost(f);
        if (c < bc) {
          bc = c;
          bf = f;
        }
      }
      return { f: bf, c: bc };
    }
    // Greedy: start from the per-component comparison, then improve by moves (or swaps with a fixed size).
    const ev = Array.from({ length: K }, (_, j) => crossSum(zPrev2, K, j) - crossSum(zNext2, K, j));
    let f = ev.map((e) => e > 0);
    if (size !== null) {
      const rank = ev.map((e, j) => [e, j] as const).sort((a, b) => b[0] - a[0]);
      f = new Array<boolean>(K).fill(false);
      for (let r = 0; r < size; r++) f[rank[r][1]] = true;
    }
    let c = cost(f);
    for (let improved = true; improved; ) {
      improved = false;
      for (let j = 0; j < K; j++) {
        const partners = size === null ? [-1] : Array.from({ length: K }, (_, k) => k).filter((k) => f[k] !== f[j]);
        for (const k of partners) {
          const g = f.slice();
          g[j] = !g[j];
          if (k >= 0) g[k] = !g[k];
          const cg = cost(g);
          if (cg < c - 1e-12) {
            f = g;
            c = cg;
            improved = true;
          }
        }
      }
    }
    return { f, c };
  };
  const free = best(null);
  const chosen = dh === null ? free : best(dh);
  const margins = chosen.f.map((_, j) => {
    const g = chosen.f.slice();
    g[j] = !g[j];
    return cost(g) - chosen.c;
  });
  return { forward: chosen.f, cost: chosen.c, margins, suggestedForward: free.f.filter(Boolean).length, zPrev2, zNext2 };
}

/** Σ over row j and column j of a K×K array (the diagonal entry once). */
export function crossSum(M: Float64Array, K: number, j: number): number {
  let s = -M[j * K + j];
  for (let k = 0; k < K; k++) s += M[j * K + k] + M[k * K + j];
  return s;
}

export function share(prev: Float64Array, next: Float64Array, K: number, j: number): number {
  const sq = (M: Float64Array) => M.map((v) => v * v);
  const p = Math.sqrt(crossSum(sq(prev), K, j)), n = Math.sqrt(crossSum(sq(next), K, j));
  return p + n > 0 ? p / (p + n) : 0.5;
}

/**
 * Mean and standard error of a K×K projected moment from fold accumulators: with fold means m_f, counts n_f,
 * N = Σ n_f and m = Σ n_f m_f / N, se² = F/(F−1) · Σ n_f² (m_f − m)² / N² (the between-fold estimate of the
 * variance of m; = Σ (m_f − m)² / (F(F−1)) for equal folds). The mean comes from `full` when given.
 */
export function foldStatistics(folds: MomentAccumulator[], full: MomentAccumulator | null): { mean: Float64Array; se: Float64Array; count: number } {
  const used = folds.filter((a) => a.count > 0);
  const size = folds[0].sum.length;
  let N = 0;
  const sum = new Float64Array(size);
  for (const a of used) {
    N += a.count;
    for (let i = 0; i < size; i++) sum[i] += a.sum[i];
  }
  if (N === 0) throw new Error('mixed moments: no steps were added (are the sequences long enough?)');
  const pooled = sum.map((v) => v / N);
  const F = used.length;
  const se = new Float64Array(size);
  if (F >= 2) {
    for (const a of used) {
      const mf = a.result();
      for (let i = 0; i < size; i++) se[i] += (a.count * (mf[i] - pooled[i])) ** 2;
    }
    for (let i = 0; i < size; i++) se[i] = Math.sqrt((F / (F - 1)) * se[i]) / N;
  } else se.fill(Infinity);
  if (full) return { mean: full.result(), se, count: full.count };
  return { mean: pooled, se, count: N };
}

/**
 * Split a chunk into `F` fold parts (null where empty). Whole sequences go to fold (seqOffset + k) mod F;
 * with `cut`, every sequence is first cut into up to F blocks of at least 2 steps (block p of sequence k goes
 * to fold (seqOffset + k + p) mod F).
 * A piece of one long sequence (src/learn/pieces.ts: halo rows, `Halo.step`) is cut where the whole sequence
 * would be: `lengths` holds every sequence's true length (pass 1). Each block's part of the piece becomes a
 * sequence of its fold with the halo rows that lie inside the same block only (a block is its own sequence, its
 * cut ends true ends), and parts without own rows are dropped, so the fold sums are the whole-sequence ones.
 */
export function foldParts(chunk: SequenceChunk, seqOffset: number, F: number, cut: boolean, lengths?: Int32Array): (SequenceChunk | null)[] {
  const { dx, dy } = chunk;
  const halo = haloOf(chunk);
  const [own0, own1] = ownRows(chunk);
  const xs: Float64Array[][] = Array.from({ length: F }, () => []);
  const ys: Float64Array[][] = Array.from({ length: F }, () => []);
  const ls: number[][] = Array.from({ length: F }, () => []);
  // Halo rows at the start of each fold's first part and at the end of its last part.
  const left = new Array<number>(F).fill(0), right = new Array<number>(F).fill(0);
  let row = 0;
  const n = chunk.lengths.length;
  for (let k = 0; k < n; k++) {
    const Lc = chunk.lengths[k];
    // Step (from the sequence's true start) of the chunk's row `row`, and the sequence's true length.
    const step0 = k === 0 && halo ? (halo.step ?? 0) : 0;
    const L = lengths && (chunk.continued || chunk.continues) && (k === 0 || k === n - 1) ? lengths[seqOffset + k] : Lc;
    const pieces = cut ? Math.max(1, Math.min(F, Math.floor(L / 2))) : 1;
    for (let p = 0; p < pieces; p++) {
      const b0 = Math.round((p * L) / pieces) - step0, b1 = Math.round(((p + 1) * L) / pieces) - step0;
      const r0 = row + Math.max(0, b0), r1 = row + Math.min(Lc, b1);
      if (Math.min(r1, own1) <= Math.max(r0, own0)) continue; // no own rows of this block here
      const f = (seqOffset + k + p) % F;
      if (ls[f].length === 0) left[f] = Math.max(0, Math.min(r1, own0) - r0);
      right[f] = Math.max(0, r1 - Math.max(r0, own1));
      xs[f].push(chunk.x.subarray(r0 * dx, r1 * dx));
      ys[f].push(chunk.y.subarray(r0 * dy, r1 * dy));
      ls[f].push(r1 - r0);
    }
    row += Lc;
  }
  return ls.map((l, f) => (l.length === 0 ? null : withHalo(makeChunk(dx, dy, concat(xs[f]), concat(ys[f]), l), { left: left[f], right: right[f] })));
}

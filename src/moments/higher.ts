import { Matrix } from '../linalg/matrix.js';
import { SampleSums } from './sample-sums.js';
import { InputModel } from '../input/model.js';
import { SequenceChunk } from '../io/dataset.js';
import { ownRows } from '../learn/pieces.js';
import { addOuterRow } from './accumulator.js';
import { projectBlock, projectScore } from './diagonal-hermite.js';

// The diagonal contractions moved to ./diagonal-hermite.ts; re-exported here for existing importers.
export { DiagonalHermiteAccumulator, hermiteUnivariate } from './diagonal-hermite.js';
export type { DiagonalKind } from './diagonal-hermite.js';

/**
 * Higher-order (order ≥ 3) and mixed score moments for polynomial activations of degree l
 * (docs/method.md §4 P1–P4), contracted per sample so that no dx^order tensor is ever formed unless asked.
 *
 * All scores are Hermite polynomials of the STACKED first-order score with the precision blocks Λ as
 * "covariance" (docs/method.md §3, general rule): for modes m = 1..n, each reading the score of step t + lag_m
 * (lag 0 or −1) projected on the columns of Q_m (dx×k_m), with v_m = Q_mᵀ s_{t+lag_m} and
 * C_{mm'} = Q_mᵀ Λ_{t+lag_m, t+lag_m'} Q_m',
 *   H[i_1..i_n] = Σ_{partial matchings π of {1..n}} (−1)^{|π|} Π_{(m,m')∈π} C_{mm'}[i_m, i_m'] Π_{m unmatched} v_m[i_m],
 * and Stein's lemma gives E[y_t ⊗ H] = E[∂_{x_{t+lag_1}}…∂_{x_{t+lag_n}} y_t] contracted with the Q_m.
 * By multilinearity, projecting the scores and blocks first equals contracting the full tensor afterwards.
 *
 * Two families:
 * - `HermiteMomentAccumulator`: the full (projected) tensor E[y ⊗ H] of shape dy × k_1 × … × k_n, per sample
 *   cost O(Π k_m · #matchings · n). With Q_m = I it is the explicit moment (tests, small dx).
 * - `DiagonalHermiteAccumulator`: the few entries the learner needs, in closed form through univariate
 *   Hermite polynomials He_n(x; v) (He_0 = 1, He_1 = x, He_{n+1} = x He_n − n v He_{n−1}):
 *   'P1'      E[y_i He_l(q_j; a_j)]                          = S_l[g_j,…,g_j]        (dy×dh)
 *   'P2prime' E[y_i (He_{l−1}(q_j; a_j) p_k − (l−1) c_jk He_{l−2}(q_j; a_j))]  = H(t^{l−1}; t−1)[g_j^{l−1}, g_k]   (dy×dh×dh)
 *   'P2'      E[y_i Σ_m (−c_jk)^m C(l−1,m) C(l,m) m! He_{l−1−m}(q_j; a_j) He_{l−m}(p_k; b_k)]
 *                                                            = H(t^{l−1}; (t−1)^l)[g_j^{l−1}, g_k^l]  (dy×dh×dh)
 *   with q = Gᵀ s_t, p = Gᵀ s_{t−1}, a_j = (GᵀP_tG)_jj, b_k = (GᵀP_{t−1}G)_kk, c_jk = (GᵀΛ_{t,t−1}G)_jk.
 *   Cost O(dx·dh + dy·dh²) per sample (after the projections), memory dy·dh² numbers.
 *
 * Steps: a moment with a lag −1 mode uses t = 1..L−1 (0-based) of every sequence; one with only lag-0 modes
 * uses t = 0..L−1−skipLast. Both classes are mergeable (`merge`) and report `memoryBytes`.
 */

/** A mode of a stacked Hermite score: which step it reads (t or t−1) and its projection (null = identity). */
export interface HermiteMode {
  lag: 0 | -1;
  Q: Matrix | null;
}

/** All partial matchings of {0..n−1}: each as a list of pairs [p, q] (p < q) plus the unmatched singles. */
export function partialMatchings(n: number): { pairs: [number, number][]; singles: number[] }[] {
  const out: { pairs: [number, number][]; singles: number[] }[] = [];
  const rec = (rest: number[], pairs: [number, number][], singles: number[]): void => {
    if (rest.length === 0) {
      out.push({ pairs: pairs.slice(), singles: singles.slice() });
      return;
    }
    const [first, ...others] = rest;
    // first unmatched
    singles.push(first);
    rec(others, pairs, singles);
    singles.pop();
    // first matched with each later element
    for (let i = 0; i < others.length; i++) {
      pairs.push([first, others[i]]);
      rec(others.filter((_, k) => k !== i), pairs, singles);
      pairs.pop();
    }
  };
  rec(Array.from({ length: n }, (_, i) => i), [], []);
  return out;
}

/**
 * Hermite tensor of one sample (see the file comment): `v[m]` the projected score of mode m (length k_m),
 * `C(m, m')` the projected precision block (k_m × k_m', row-major Float64Array) for m < m'.
 * Returns Π k_m numbers, row-major over (i_1, …, i_n). Pure; used by the accumulator and the tests.
 */
export function hermiteTensor(v: readonly Float64Array[], C: (m: number, mp: number) => Float64Array, matchings = partialMatchings(v.length)): Float64Array {
  const n = v.length;
  const k = v.map((x) => x.length);
  let size = 1;
  for (const x of k) size *= x;
  const out = new Float64Array(size);
  const idx = new Int32Array(n);
  const blocks = matchings.map((mt) => mt.pairs.map(([p, q]) => C(p, q)));
  for (let e = 0; e < size; e++) {
    let h = 0;
    for (let r = 0; r < matchings.length; r++) {
      const mt = matchings[r];
      let term = mt.pairs.length % 2 === 0 ? 1 : -1;
      for (let z = 0; z < mt.pairs.length; z++) {
        const [p, q] = mt.pairs[z];
        term *= blocks[r][z][idx[p] * k[q] + idx[q]];
      }
      for (const m of mt.singles) term *= v[m][idx[m]];
      h += term;
    }
    out[e] = h;
    // increment the multi-index (last fastest)
    for (let m = n - 1; m >= 0; m--) {
      if (++idx[m] < k[m]) break;
      idx[m] = 0;
    }
  }
  return out;
}


export interface HigherOptions {
  /** Leave out the last `skipLast` steps of each sequence (lag-0-only moments; default 0). */
  skipLast?: number;
  /** If given (m×dy), the moment multiplies demix·y_t (m outputs) instead of y_t. */
  demix?: Matrix;
}

/** One singles set S of the matchings: its modes and the size of ⊗_{m∈S} v_m. */
interface SinglesSet {
  modes: number[];
  size: number;
}

/**
 * E[y_t ⊗ H(modes)] as a dense (dy or m) × k_1 × … × k_n tensor, row-major. Feed it with `add(chunk, scores, y)`
 * where `scores` are the chunk's first-order scores (rows×dx, e.g. from chunkScores) and `y` is rows×dy (raw
 * outputs, centred outputs, or control-variate residuals: docs/method.md §5 step 4).
 *
 * Cost: the Wick terms depend on the sample only through y ⊗ (⊗_{m∈S} v_m) for the unmatched modes S, and on
 * the precision blocks, which take few distinct values (a VAR(1) has 4 diagonal blocks). So each sample adds
 * y ⊗ v_1 ⊗ … ⊗ v_n (the main term, out·Π k_m multiply-adds) plus the smaller products for each singles set into
 * a buffer keyed by the identity of its blocks; the blocks are applied once per key at the end of each chunk
 * (as T2Accumulator does for S2).
 */
export class HermiteMomentAccumulator extends SampleSums {
  readonly dx: number;
  readonly dy: number;
  readonly out: number;
  readonly shape: number[];
  private readonly matchings: ReturnType<typeof partialMatchings>;
  private readonly k: number[];
  private readonly entries: number;
  private readonly minLag: number;
  private readonly skipLast: number;
  /** Singles sets other than the full set, and for each matching with pairs the index of its singles set. */
  private readonly sets: SinglesSet[];
  private readonly matchingSet: number[];
  /** Per block-key: the blocks of every mode pair and one buffer (out × size) per singles set. */
  private readonly pending = new Map<string, { blocks: (Matrix | null)[]; t: number; L: number; bufs: Float64Array[] }>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  /** cache per mode pair of projected blocks, keyed by the Λ block object. */
  private readonly cache: Map<Matrix | null, Float64Array>[][];

  constructor(readonly model: InputModel, dy: number, readonly modes: readonly HermiteMode[], readonly opts: HigherOptions = {}) {
    super();
    const dx = model.dx;
    if (modes.length < 1) throw new RangeError('HermiteMomentAccumulator: need at least one mode');
    for (const m of modes) {
      if (m.lag !== 0 && m.lag !== -1) throw new RangeError(`HermiteMomentAccumulator: mode lag must be 0 or -1, got ${m.lag}`);
      if (m.Q && m.Q.rows !== dx) throw new RangeError(`HermiteMomentAccumulator: projection has ${m.Q.rows} rows, expected dx = ${dx}`);
    }
    if (opts.demix && opts.demix.cols !== dy) throw new RangeError(`HermiteMomentAccumulator: demix is ${opts.demix.rows}x${opts.demix.cols}, expected ${dy} columns`);
    this.dx = dx;
    this.dy = dy;
    this.out = opts.demix ? opts.demix.rows : dy;
    this.k = modes.map((m) => (m.Q ? m.Q.cols : dx));
    this.entries = this.k.reduce((a, b) => a * b, 1);
    this.shape = [this.out, ...this.k];
    this.sum = new Float64Array(this.out * this.entries);
    this.matchings = partialMatchings(modes.length);
    this.minLag = Math.min(...modes.map((m) => m.lag));
    this.skipLast = opts.skipLast ?? 0;
    this.cache = modes.map(() => modes.map(() => new Map()));
    const setIndex = new Map<string, number>();
    this.sets = [];
    this.matchingSet = this.matchings.map((mt) => {
      if (mt.pairs.length === 0) return -1;
      const key = mt.singles.join(',');
      let i = setIndex.get(key);
      if (i === undefined) {
        i = this.sets.length;
        setIndex.set(key, i);
        this.sets.push({ modes: mt.singles.slice(), size: mt.singles.reduce((a, m) => a * this.k[m], 1) });
      }
      return i;
    });
  }

  /** Bytes held by the running sums and the per-block buffers (the tensor is never larger than this). */
  get memoryBytes(): number {
    return (this.sum.length + this.sets.reduce((a, s) => a + this.out * s.size, 0) * Math.max(1, this.pending.size)) * 8;
  }

  private projected(m: number, mp: number, B: Matrix | null): Float64Array {
    const c = this.cache[m][mp];
    let v = c.get(B);
    if (v === undefined) {
      v = projectBlock(B, this.modes[m].Q, this.modes[mp].Q, this.dx);
      if (c.size > 256) c.clear();
      c.set(B, v);
    }
    return v;
  }

  private id(o: Matrix | null): number {
    if (o === null) return 0;
    let i = this.ids.get(o);
    if (i === undefined) {
      i = this.nextId++;
      this.ids.set(o, i);
    }
    return i;
  }

  add(chunk: SequenceChunk, scores: Float64Array, y: Float64Array): this {
    const { dx, dy } = this;
    if (chunk.dx !== dx) throw new RangeError(`HermiteMomentAccumulator: chunk has dx=${chunk.dx}, expected ${dx}`);
    if (y.length !== chunk.rows * dy) throw new RangeError(`HermiteMomentAccumulator: y has ${y.length} values, expected rows·dy = ${chunk.rows * dy}`);
    const n = this.modes.length, out = this.out, E = this.entries, S = this.sum;
    const v = this.k.map((k) => new Float64Array(k));
    const yo = new Float64Array(out);
    const D = this.opts.demix;
    const full = new Float64Array(E);
    const setVals = this.sets.map((s) => new Float64Array(s.size));
    const pairList: [number, number][] = [];
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) pairList.push([p, q]);
    const blocks: (Matrix | null)[] = new Array(pairList.length);
    // A piece of one long sequence with halo rows (src/learn/pieces.ts): the steps of its own rows only, their
    // modes reaching into the halo for their scores.
    const [r0, r1] = ownRows(chunk);
    let row = 0;
    for (let sIdx = 0; sIdx < chunk.lengths.length; sIdx++) {
      const L = chunk.lengths[sIdx];
      const t1 = this.minLag < 0 ? L : L - this.skipLast;
      for (let t = -this.minLag; t < t1; t++) {
        if (row + t < r0 || row + t >= r1) continue;
        for (let m = 0; m < n; m++) projectScore(scores, (row + t + this.modes[m].lag) * dx, this.modes[m].Q, dx, v[m]);
        const r = row + t;
        if (D) {
          yo.fill(0);
          for (let i = 0; i < out; i++) for (let c = 0; c < dy; c++) yo[i] += D.data[i * dy + c] * y[r * dy + c];
        } else for (let i = 0; i < dy; i++) yo[i] = y[r * dy + i];
        // main term: y ⊗ v_1 ⊗ … ⊗ v_n
        outerInto(v, null, full);
        addOuterRow(S, yo, 0, out, full, E);
        // Wick terms: buffered per block key
        if (this.sets.length > 0) {
          let key = '';
          for (let z = 0; z < pairList.length; z++) {
            const [p, q] = pairList[z];
            const B = this.model.precisionBlock(t + this.modes[p].lag, t + this.modes[q].lag, L);
            blocks[z] = B;
            key += this.id(B) + ',';
          }
          let pend = this.pending.get(key);
          if (pend === undefined) {
            pend = { blocks: blocks.slice(), t, L, bufs: this.sets.map((s) => new Float64Array(out * s.size)) };
            this.pending.set(key, pend);
          }
          for (let si = 0; si < this.sets.length; si++) {
            const set = this.sets[si], val = setVals[si], buf = pend.bufs[si], sz = set.size;
            outerInto(v, set.modes, val);
            for (let i = 0; i < out; i++) {
              const yi = yo[i];
              if (yi === 0) continue;
              const o = i * sz;
              for (let e = 0; e < sz; e++) buf[o + e] += yi * val[e];
            }
          }
          if (this.pending.size > 64) this.flush();
        }
        this.count++;
      }
      row += L;
    }
    this.flush();
    return this;
  }

  /** Apply the buffered Wick terms: for each key and matching with pairs, add sign · buf_S ⊗ (⊗ pair blocks). */
  private flush(): void {
    const n = this.modes.length, E = this.entries, out = this.out, k = this.k;
    const idx = new Int32Array(n);
    const pairIndex = (p: number, q: number): number => {
      let z = 0;
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++, z++) if (a === p && b === q) return z;
      return -1;
    };
    for (const pend of this.pending.values()) {
      for (let r = 0; r < this.matchings.length; r++) {
        const si = this.matchingSet[r];
        if (si < 0) continue;
        const mt = this.matchings[r], set = this.sets[si], buf = pend.bufs[si];
        const Cs = mt.pairs.map(([p, q]) => this.projected(p, q, pend.blocks[pairIndex(p, q)]));
        const sign = mt.pairs.length % 2 === 0 ? 1 : -1;
        idx.fill(0);
        for (let e = 0; e < E; e++) {
          let w = sign;
          for (let z = 0; z < mt.pairs.length; z++) {
            const [p, q] = mt.pairs[z];
            w *= Cs[z][idx[p] * k[q] + idx[q]];
          }
          if (w !== 0) {
            let se = 0;
            for (const m of set.modes) se = se * k[m] + idx[m];
            for (let i = 0; i < out; i++) this.sum[i * E + e] += w * buf[i * set.size + se];
          }
          for (let m = n - 1; m >= 0; m--) {
            if (++idx[m] < k[m]) break;
            idx[m] = 0;
          }
        }
      }
    }
    this.pending.clear();
  }

  protected label(): string {
    return 'HermiteMomentAccumulator';
  }
}

/** ⊗_{m ∈ modes} v_m (all modes when `modes` is null), row-major in mode order, into `out`. */
function outerInto(v: readonly Float64Array[], modes: readonly number[] | null, out: Float64Array): void {
  const ms = modes ?? v.map((_, i) => i);
  out[0] = 1;
  let size = 1;
  for (const m of ms) {
    const vm = v[m], km = vm.length;
    // expand in place from the back: out[e·km + c] = out[e] · vm[c]
    for (let e = size - 1; e >= 0; e--) {
      const oe = out[e];
      for (let c = km - 1; c >= 0; c--) out[e * km + c] = oe * vm[c];
    }
    size *= km;
  }
}

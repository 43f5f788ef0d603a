import { Matrix, matmul } from '../linalg/matrix.js';
import { SequenceChunk } from '../io/dataset.js';
import { ownRows } from '../learn/pieces.js';
import { InputModel } from '../input/model.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { setPartitions } from '../input/nongaussian-scores.js';
import { MAX_DERIVATIVE_ORDER } from '../input/mixture1d.js';
import { addOuterRow, chunkScores } from './accumulator.js';
import { DiagonalHermiteAccumulator, DiagonalKind, HermiteMode, HermiteMomentAccumulator, HigherOptions } from './higher.js';
import { NGDiagonalAccumulator, NGProjectedMixedAccumulator, ngChunkData } from './nongaussian.js';

/**
 * The order-l single-step score moment for the non-Gaussian VAR(1) input model (src/input/var1-mixture.ts,
 * docs/non-gaussian-inputs.md): the same result as HermiteMomentAccumulator (src/moments/higher.ts) with every
 * mode at lag 0,
 *   T[i, e_1, …, e_l] = mean_t y_{t,i} S_l(t)[Q_1 e_1, …, Q_l e_l],   (dy × k_1 × … × k_l, row-major),
 * Q_j the mode's projection (dx×k_j; null = identity). S_l is the partition sum of src/input/nongaussian-scores.ts,
 *   S_l[u_1..u_l] = Σ_π Π_{B∈π} κ_B,   κ_B = (−1)^{|B|+1} ∇^{|B|}φ[u_B]  (κ of a singleton = the score g·u),
 * and at one step t every ∇ᵐφ (m ≥ 2) is a sum of rank-one terms over the two innovations that contain x_t:
 *   ∇ᵐφ[u_B] = Σ_i d^m_{t,i} Π_{j∈B} (M0 u_j)_i + Σ_i d^m_{t+1,i} Π_{j∈B} (M1 u_j)_i  (+ uᵀΣ⁻¹u at t = 0, m = 2).
 * Per row, the cumulant tensors κ_B of all 2^l − 1 mode subsets are formed once (Σ over 2dx rank-one terms), then
 * each entry of S_l sums over the Bell(l) partitions. Steps t = f..L−1−skipLast (f = firstExactStep).
 * Plain sums, so merging is addition; l ≤ 4.
 */
export class NGStepMomentAccumulator {
  readonly dx: number;
  readonly shape: number[];
  readonly sum: Float64Array;
  count = 0;
  private readonly k: number[];
  private readonly entries: number;
  private readonly skipLast: number;
  /** Per mode: Qᵀ (k×dx, for the score), M0 Q and M1 Q (dx×k), Σ⁻¹ Q (dx×k). */
  private readonly QT: Float64Array[];
  private readonly A0: Float64Array[];
  private readonly A1: Float64Array[];
  private readonly SQ: Float64Array[];
  private readonly parts: number[][];
  constructor(readonly model: MixtureVAR1, readonly dy: number, readonly modes: readonly HermiteMode[], opts: HigherOptions = {}) {
    const dx = model.dx, l = modes.length;
    if (l < 1 || l > MAX_DERIVATIVE_ORDER) throw new RangeError(`NGStepMomentAccumulator: 1..${MAX_DERIVATIVE_ORDER} modes, got ${l}`);
    if (modes.some((m) => m.lag !== 0)) throw new RangeError('NGStepMomentAccumulator: every mode must be at lag 0 (the non-Gaussian lagged moments are in src/moments/nongaussian.ts)');
    if (opts.demix) throw new RangeError('NGStepMomentAccumulator: demix is not supported');
    this.dx = dx;
    this.skipLast = opts.skipLast ?? 0;
    const Qs = modes.map((m) => m.Q ?? identity(dx));
    for (const Q of Qs) if (Q.rows !== dx) throw new RangeError(`NGStepMomentAccumulator: projection has ${Q.rows} rows, expected dx = ${dx}`);
    this.k = Qs.map((Q) => Q.cols);
    this.entries = this.k.reduce((a, b) => a * b, 1);
    this.shape = [dy, ...this.k];
    this.sum = new Float64Array(dy * this.entries);
    this.QT = Qs.map((Q) => {
      const t = new Float64Array(Q.cols * dx);
      for (let a = 0; a < dx; a++) for (let e = 0; e < Q.cols; e++) t[e * dx + a] = Q.data[a * Q.cols + e];
      return t;
    });
    this.A0 = Qs.map((Q) => matmul(model.M0, Q).data);
    this.A1 = Qs.map((Q) => matmul(model.M1, Q).data);
    this.SQ = Qs.map((Q) => matmul(model.SigmaInv, Q).data);
    // Partitions as lists of subset bitmasks.
    this.parts = setPartitions(l).map((p) => p.map((B) => B.reduce((m, j) => m | (1 << j), 0)));
  }

  get memoryBytes(): number {
    return this.sum.length * 8;
  }

  /** `scores` is ignored (the model's own scores are computed once per chunk); same signature as the Gaussian one. */
  add(chunk: SequenceChunk, _scores: Float64Array | null, y: Float64Array): this {
    const { dx, dy, k, entries: E, model } = this, l = k.length, S = this.sum;
    if (y.length !== chunk.rows * dy) throw new RangeError(`NGStepMomentAccumulator: y has ${y.length} values, expected rows·dy = ${chunk.rows * dy}`);
    const { g, d, order } = ngChunkData(model, chunk, Math.max(1, l));
    const nSub = 1 << l;
    // Subset tensors: mixed-radix index over the subset's modes in increasing order.
    const subModes: number[][] = [], subSize: number[] = [];
    for (let m = 1; m < nSub; m++) {
      const ms: number[] = [];
      for (let j = 0; j < l; j++) if (m & (1 << j)) ms.push(j);
      subModes[m] = ms;
      subSize[m] = ms.reduce((s, j) => s * k[j], 1);
    }
    const kap: Float64Array[] = subSize.map((s) => new Float64Array(s));
    const full = new Float64Array(E), idx = new Int32Array(l), sidx = new Int32Array(l);
    // A piece with halo rows (src/learn/pieces.ts): own rows' steps only.
    const [r0, r1] = ownRows(chunk);
    let row = 0;
    for (const L of chunk.lengths) {
      for (let t = model.firstExactStep; t < L - this.skipLast; t++) {
        const r = row + t;
        if (r < r0 || r >= r1) continue;
        for (let m = 1; m < nSub; m++) {
          const ms = subModes[m], K = kap[m], size = subSize[m], sz = ms.length;
          sidx.fill(0);
          for (let e = 0; e < size; e++) {
            let v = 0;
            if (sz === 1) {
              const QT = this.QT[ms[0]], o = sidx[0] * dx;
              for (let a = 0; a < dx; a++) v += QT[o + a] * g[r * dx + a];
            } else {
              if (t >= 1) {
                const o = (r * order + sz - 1) * dx;
                for (let i = 0; i < dx; i++) {
                  let p = d[o + i];
                  for (let z = 0; z < sz; z++) p *= this.A0[ms[z]][i * k[ms[z]] + sidx[z]];
                  v += p;
                }
              }
              if (t + 1 < L) {
                const o = ((r + 1) * order + sz - 1) * dx;
                for (let i = 0; i < dx; i++) {
                  let p = d[o + i];
                  for (let z = 0; z < sz; z++) p *= this.A1[ms[z]][i * k[ms[z]] + sidx[z]];
                  v += p;
                }
              }
              if (t === 0 && sz === 2) {
                // uᵀ Σ⁻¹ w of the first step's Gaussian density (only used when the model is exactly Gaussian).
                const kb = k[ms[1]];
                for (let a = 0; a < dx; a++) v += this.QT[ms[0]][sidx[0] * dx + a] * this.SQ[ms[1]][a * kb + sidx[1]];
              }
              if (sz % 2 === 0) v = -v;
            }
            K[e] = v;
            for (let z = sz - 1; z >= 0; z--) {
              if (++sidx[z] < k[ms[z]]) break;
              sidx[z] = 0;
            }
          }
        }
        idx.fill(0);
        for (let e = 0; e < E; e++) {
          let s = 0;
          for (const part of this.parts) {
            let term = 1;
            for (const m of part) {
              const ms = subModes[m];
              let o = 0;
              for (const j of ms) o = o * k[j] + idx[j];
              term *= kap[m][o];
            }
            s += term;
          }
          full[e] = s;
          for (let z = l - 1; z >= 0; z--) {
            if (++idx[z] < k[z]) break;
            idx[z] = 0;
          }
        }
        addOuterRow(S, y, r * dy, dy, full, E);
        this.count++;
      }
      row += L;
    }
    return this;
  }

  merge(o: NGStepMomentAccumulator): this {
    if (o.sum.length !== this.sum.length) throw new RangeError('NGStepMomentAccumulator.merge: shapes differ');
    for (let i = 0; i < this.sum.length; i++) this.sum[i] += o.sum[i];
    this.count += o.count;
    return this;
  }

  result(): Float64Array {
    if (this.count === 0) throw new Error('NGStepMomentAccumulator: no samples were added (are the sequences long enough?)');
    return this.sum.map((v) => v / this.count);
  }
}

function identity(n: number): Matrix {
  const I = new Matrix(n, n);
  for (let i = 0; i < n; i++) I.data[i * n + i] = 1;
  return I;
}

/** A score moment fed chunk by chunk: the Gaussian accumulators of src/moments/higher.ts or their non-Gaussian twins. */
export interface ScoreMoment {
  readonly sum: Float64Array;
  readonly count: number;
  readonly memoryBytes: number;
  /** The diagonal accumulator behind it (its constants and state, for the SQL form of the pass: src/learn/engine-passes.ts). */
  readonly diagonal?: DiagonalHermiteAccumulator | NGDiagonalAccumulator;
  /** The Gaussian order-l tensor accumulator behind it (likewise). */
  readonly tensor?: HermiteMomentAccumulator;
  add(chunk: SequenceChunk, scores: Float64Array | null, y: Float64Array): unknown;
  result(): Float64Array;
}

/**
 * The first-order scores a Gaussian accumulator of src/moments/higher.ts needs, or null for the non-Gaussian model
 * (its accumulators compute their own scores, once per chunk).
 */
export function scoresFor(model: InputModel, chunk: SequenceChunk): Float64Array | null {
  return model instanceof MixtureVAR1 ? null : chunkScores(model, chunk);
}

/** A Gaussian score accumulator as a ScoreMoment: scores computed from the chunk when the caller passes none. */
function gaussianScoreMoment(model: InputModel, acc: HermiteMomentAccumulator | DiagonalHermiteAccumulator): ScoreMoment {
  return {
    ...(acc instanceof DiagonalHermiteAccumulator ? { diagonal: acc } : { tensor: acc }),
    get sum() { return acc.sum; },
    get count() { return acc.count; },
    get memoryBytes() { return acc.memoryBytes; },
    add: (c, s, y) => acc.add(c, s ?? chunkScores(model, c), y),
    result: () => acc.result(),
  };
}

/** HermiteMomentAccumulator, or its non-Gaussian twin (lag-0 modes only) for a MixtureVAR1. */
export function hermiteMomentFor(model: InputModel, dy: number, modes: readonly HermiteMode[], opts: HigherOptions = {}): ScoreMoment {
  if (model instanceof MixtureVAR1) return new NGStepMomentAccumulator(model, dy, modes, opts);
  const acc = new HermiteMomentAccumulator(model, dy, modes, opts);
  return gaussianScoreMoment(model, acc);
}

/** DiagonalHermiteAccumulator ('P1', 'P2prime'), or NGDiagonalAccumulator for a MixtureVAR1. */
export function diagonalFor(model: InputModel, dy: number, G: Matrix, kind: DiagonalKind, degree: number, opts: { skipLast?: number } = {}): ScoreMoment {
  if (model instanceof MixtureVAR1 && kind === 'P2') {
    if (degree !== 2) throw new RangeError(`non-Gaussian input model: the diagonal moment P2 is available for degree 2 only, got ${degree}`);
    return ngP2(model, dy, G);
  }
  if (model instanceof MixtureVAR1) {
    if (kind !== 'P1' && kind !== 'P2prime') throw new RangeError(`non-Gaussian input model: the diagonal moment ${kind} is not available (P1, P2 and P2prime are)`);
    const acc = new NGDiagonalAccumulator(model, dy, G, kind, degree, opts);
    return {
      diagonal: acc,
      get sum() { return acc.sum; },
      get count() { return acc.count; },
      get memoryBytes() { return acc.sum.length * 8; },
      add: (c, _s, y) => acc.add(c, y),
      result: () => acc.result(),
    };
  }
  const acc = new DiagonalHermiteAccumulator(model, dy, G, kind, degree, opts);
  return gaussianScoreMoment(model, acc);
}

/**
 * 'P2' (dy×dh×dh, [i, j, k] = mean y_i H(t; t−1, t−1)[g_j, g_k, g_k]) for the non-Gaussian model: one projected
 * mixed accumulator per output i, whose dh demixing rows are all e_i (so its C[j, k] is this entry).
 */
function ngP2(model: MixtureVAR1, dy: number, G: Matrix): ScoreMoment {
  const dh = G.cols;
  const accs = Array.from({ length: dy }, (_, i) => {
    const demix = new Matrix(dh, dy);
    for (let j = 0; j < dh; j++) demix.data[j * dy + i] = 1;
    return new NGProjectedMixedAccumulator(model, dy, 'prev', demix, G, G);
  });
  const sum = new Float64Array(dy * dh * dh);
  return {
    get sum() {
      accs.forEach((a, i) => sum.set(a.sum, i * dh * dh));
      return sum;
    },
    get count() {
      return accs[0].count;
    },
    get memoryBytes() {
      return sum.length * 8;
    },
    add: (c, _s, y) => {
      const chunk = { ...c, y };
      for (const a of accs) a.addData({ chunk, scores: null, residual: null });
    },
    result: () => {
      const out = new Float64Array(dy * dh * dh);
      accs.forEach((a, i) => out.set(a.result(), i * dh * dh));
      return out;
    },
  };
}

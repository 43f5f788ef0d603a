import { Matrix } from '../../linalg/matrix.js';
import { SequenceChunk } from '../../io/dataset.js';
import { QuadraticMode, controlFeatures, featureCount } from '../../moments/control.js';
import { solveOutputLS } from '../../linalg/lstsq.js';
import { strideSubchunk } from '../chunks.js';

/**
 * Control variate for the U moment (P2′): regression of y_t on the degree-2 features of ControlVariate plus
 * (â_j·(x_t − μ))^m for m = 3..l, fitted on the control-variate subsample. Unbiased for any moment whose
 * derivative involves x_{t−1} and has total order ≥ 3 (see the call site).
 */
export class LeadingTermCV {
  private constructor(
    readonly p: number,
    private readonly p2: number,
    // The fitted constants are public for the SQL target (src/sql/passes.ts `leadingTarget`).
    readonly center: Float64Array,
    readonly mode: QuadraticMode,
    readonly dirs: Matrix,
    readonly l: number,
    readonly dy: number,
    readonly coef: Float64Array,
    readonly r2: number[],
  ) {}

  static features(chunk: SequenceChunk, center: Float64Array, mode: QuadraticMode, dirs: Matrix, l: number): { F: Float64Array; p: number; p2: number } {
    const dx = chunk.dx, dh = dirs.rows;
    const p2 = featureCount(dx, mode);
    const p = p2 + dh * (l - 2);
    const F2 = controlFeatures(chunk, center, mode);
    const F = new Float64Array(chunk.rows * p);
    for (let r = 0; r < chunk.rows; r++) {
      F.set(F2.subarray(r * p2, (r + 1) * p2), r * p);
      let o = r * p + p2;
      for (let j = 0; j < dh; j++) {
        let z = 0;
        for (let a = 0; a < dx; a++) z += dirs.data[j * dx + a] * (chunk.x[r * dx + a] - center[a]);
        let zm = z * z;
        for (let m = 3; m <= l; m++) {
          zm *= z;
          F[o++] = zm;
        }
      }
    }
    return { F, p, p2 };
  }

  static fit(sample: SequenceChunk[], center: Float64Array, mode: QuadraticMode, dirs: Matrix, l: number, dy: number, maxRows = 12_000): LeadingTermCV | null {
    if (sample.length === 0) return null;
    // The regression only has to be good, not unbiased: ~12k rows (whole sequences, evenly spread) suffice.
    const total = sample.reduce((a, c) => a + c.rows, 0);
    const stride = Math.max(1, Math.round(total / maxRows));
    if (stride > 1) {
      let off = 0;
      const thin: SequenceChunk[] = [];
      for (const c of sample) {
        const sub = strideSubchunk(c, off, stride);
        if (sub) thin.push(sub);
        off += c.lengths.length;
      }
      sample = thin;
    }
    let p = 0, p2 = 0, n = 0;
    let G: Float64Array | null = null, C: Float64Array | null = null;
    const ySum = new Float64Array(dy), yySum = new Float64Array(dy);
    for (const ch of sample) {
      const f = LeadingTermCV.features(ch, center, mode, dirs, l);
      p = f.p;
      p2 = f.p2;
      G ??= new Float64Array(p * p);
      C ??= new Float64Array(p * dy);
      for (let r = 0; r < ch.rows; r++) {
        const o = r * p;
        for (let a = 0; a < p; a++) {
          const fa = f.F[o + a];
          if (fa === 0) continue;
          for (let b = a; b < p; b++) G[a * p + b] += fa * f.F[o + b];
          for (let i = 0; i < dy; i++) C[a * dy + i] += fa * ch.y[r * dy + i];
        }
        for (let i = 0; i < dy; i++) {
          ySum[i] += ch.y[r * dy + i];
          yySum[i] += ch.y[r * dy + i] ** 2;
        }
        n++;
      }
    }
    if (!G || !C || n < p) return null;
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) G[a * p + b] = G[b * p + a];
    // Column scaling so the eigen-pseudo-inverse cut-off is relative to comparable columns.
    const sc = new Float64Array(p);
    for (let a = 0; a < p; a++) sc[a] = G[a * p + a] > 0 ? 1 / Math.sqrt(G[a * p + a]) : 0;
    const Gs = new Float64Array(p * p), Cs = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) Gs[a * p + b] = G[a * p + b] * sc[a] * sc[b];
      for (let i = 0; i < dy; i++) Cs[a * dy + i] = C[a * dy + i] * sc[a];
    }
    const { W } = solveOutputLS(Gs, Cs, p, dy);
    const coef = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) coef[a * dy + i] = W[a * dy + i] * sc[a];
    const r2: number[] = [];
    for (let i = 0; i < dy; i++) {
      let bC = 0, bGb = 0;
      for (let a = 0; a < p; a++) {
        bC += coef[a * dy + i] * C[a * dy + i];
        let v = 0;
        for (let b = 0; b < p; b++) v += G[a * p + b] * coef[b * dy + i];
        bGb += coef[a * dy + i] * v;
      }
      const tss = yySum[i] - (ySum[i] * ySum[i]) / n;
      r2.push(tss > 0 ? 1 - Math.max(0, yySum[i] - 2 * bC + bGb) / tss : 0);
    }
    return new LeadingTermCV(p, p2, center, mode, dirs, l, dy, coef, r2);
  }

  residualChunk(chunk: SequenceChunk): Float64Array {
    const { F, p } = LeadingTermCV.features(chunk, this.center, this.mode, this.dirs, this.l);
    const dy = this.dy, out = chunk.y.slice();
    for (let r = 0; r < chunk.rows; r++)
      for (let a = 0; a < p; a++) {
        const fa = F[r * p + a];
        if (fa === 0) continue;
        for (let i = 0; i < dy; i++) out[r * dy + i] -= fa * this.coef[a * dy + i];
      }
    void this.p2;
    return out;
  }
}

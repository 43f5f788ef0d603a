/**
 * Minimum-cost assignment (Hungarian algorithm, Kuhn–Munkres with potentials, O(n²m) for an n×m cost
 * matrix with n ≤ m; O(n³) when square). Used to match estimated neurons to true ones (docs/method.md §7).
 */
import { Matrix } from '../linalg/matrix.js';

export interface AssignmentResult {
  /** assignment[i] = column assigned to row i (distinct columns). */
  assignment: Int32Array;
  /** Σ_i cost[i][assignment[i]]. */
  cost: number;
}

/**
 * Assign each of the n rows to a distinct column of an n×m cost matrix (n ≤ m) minimising the total cost.
 * Pass `maximize: true` to maximise instead (e.g. for similarities). Costs must be finite.
 */
export function hungarian(cost: Matrix | ArrayLike<ArrayLike<number>>, opts: { maximize?: boolean } = {}): AssignmentResult {
  const C = cost instanceof Matrix ? cost : Matrix.from(cost);
  const n = C.rows, m = C.cols;
  if (n > m) throw new RangeError(`hungarian: cost matrix is ${n}x${m}; need rows ≤ columns (transpose it)`);
  const sign = opts.maximize ? -1 : 1;
  for (let k = 0; k < C.data.length; k++) if (!Number.isFinite(C.data[k])) throw new RangeError('hungarian: cost matrix has a non-finite entry');
  const a = (i: number, j: number) => sign * C.data[i * m + j];
  // 1-based potentials u (rows), v (columns); p[j] = row matched to column j (0 = none); way = augmenting path.
  const u = new Float64Array(n + 1), v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1), way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = a(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const assignment = new Int32Array(n);
  for (let j = 1; j <= m; j++) if (p[j] !== 0) assignment[p[j] - 1] = j - 1;
  let total = 0;
  for (let i = 0; i < n; i++) total += C.data[i * m + assignment[i]];
  return { assignment, cost: total };
}

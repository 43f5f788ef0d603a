import type { CSVChunk, CSVSource } from '../io/csv.js';
import { UserError } from '../io/errors.js';

/**
 * After a fit failed on an ill-conditioned covariance ("collinear or constant" inputs), look for the usual real
 * cause: one extreme value that swamps a column. Two streaming passes over the data: the largest |value| of each
 * column (with its file row), then the mean and standard deviation of every OTHER value of that column. A value
 * more than OUTLIER_SDS standard deviations from the others' mean is reported at its row and column instead of the
 * fit's generic message. Only run on failure, so it costs nothing on good data.
 */
export const OUTLIER_SDS = 1e3;

/** File row (1-based line, as in every message) of row r of a chunk. */
function fileRow(c: CSVChunk, r: number): number {
  let start = 0;
  for (let k = 0; k < c.lengths.length; k++) {
    if (r < start + c.lengths[k]) return (c.firstLine?.[k] ?? start + 2) + (r - start);
    start += c.lengths[k];
  }
  return r + 2;
}

export async function explainIllConditioning(source: CSVSource, file: string, reason: string): Promise<UserError | null> {
  const names = [...source.columns.x, ...source.columns.y];
  const dx = source.dx, dy = source.dy, nc = dx + dy;
  const maxAbs = new Float64Array(nc).fill(-1), maxVal = new Float64Array(nc), maxRow = new Float64Array(nc);
  const maxIndex = new Float64Array(nc).fill(-1);
  let offset = 0;
  for await (const c of source.chunks()) {
    for (let r = 0; r < c.rows; r++) {
      for (let j = 0; j < nc; j++) {
        const v = j < dx ? c.x[r * dx + j] : c.y[r * dy + j - dx];
        if (Math.abs(v) > maxAbs[j]) {
          maxAbs[j] = Math.abs(v);
          maxVal[j] = v;
          maxRow[j] = fileRow(c, r);
          maxIndex[j] = offset + r;
        }
      }
    }
    offset += c.rows;
  }
  // Welford over the other values (numerically safe whatever the outlier's size).
  const n = new Float64Array(nc), mean = new Float64Array(nc), m2 = new Float64Array(nc);
  offset = 0;
  for await (const c of source.chunks()) {
    for (let r = 0; r < c.rows; r++) {
      for (let j = 0; j < nc; j++) {
        if (offset + r === maxIndex[j]) continue;
        const v = j < dx ? c.x[r * dx + j] : c.y[r * dy + j - dx];
        n[j]++;
        const d = v - mean[j];
        mean[j] += d / n[j];
        m2[j] += d * (v - mean[j]);
      }
    }
    offset += c.rows;
  }
  let best = -1, bestRatio = OUTLIER_SDS;
  for (let j = 0; j < nc; j++) {
    if (n[j] < 2) continue;
    const sd = Math.sqrt(m2[j] / (n[j] - 1));
    const dev = Math.abs(maxVal[j] - mean[j]);
    const ratio = sd > 0 ? dev / sd : dev > 0 ? Infinity : 0;
    if (ratio > bestRatio) {
      best = j;
      bestRatio = ratio;
    }
  }
  if (best < 0) return null;
  const v = maxVal[best];
  const shown = Math.abs(v) >= 1e15 || (v !== 0 && Math.abs(v) < 1e-6) ? v.toExponential() : String(v);
  const sds = Number.isFinite(bestRatio) ? `${bestRatio.toExponential(1)} standard deviations of the column's other values` : 'while every other value of the column is the same';
  return new UserError(
    `${file}:row ${maxRow[best]}, column ${JSON.stringify(names[best])}: the value ${shown} is an extreme outlier (${sds}); ` +
      `it makes the fit fail (${reason.replace(/^.*?: /, '').slice(0, 120)}…); fix or remove the row`,
  );
}

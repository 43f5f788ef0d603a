import type { CSVSource } from '../io/csv.js';
import { UserError } from '../io/errors.js';
import { SCENARIOS, type Scenario } from '../models/simulate.js';

/**
 * Size limits checked before any work, so that absurd requests end in a message instead of an allocation failure
 * or the internal-error path. simulate and demo hold the whole data set in memory (x, y and noise-free y), and fit
 * accumulates the dy×dx×dx moment T2 (docs/method.md §5): the limits keep each within about 1 GiB.
 */
const MAX_ARRAY_ENTRIES = 2 ** 27; // one Float64Array of 1 GiB
const MAX_MATRIX_ENTRIES = 2 ** 22; // a weight matrix of 32 MiB
const MAX_T2_ENTRIES = 2 ** 25; // T2 of 256 MiB (e.g. dx = dy = 320)

export function checkScenarioSize(sc: Scenario, spec: string, sequences: number | undefined): void {
  const name = Object.hasOwn(SCENARIOS, spec) ? `scenario "${spec}"` : spec;
  const dims: [string, number][] = [['dx', sc.dx], ['dy', sc.dy], ['dh', sc.dh], ['dz', sc.dz ?? 0]];
  for (const [k, v] of dims) {
    for (const [k2, v2] of dims) {
      if (v * v2 > MAX_MATRIX_ENTRIES && k <= k2) {
        throw new UserError(`${name}: key "${k}" = ${v} with "${k2}" = ${v2} makes a weight matrix of ${v * v2} entries (at most ${MAX_MATRIX_ENTRIES}); use smaller dimensions`);
      }
    }
  }
  const n = sequences ?? sc.nSeq ?? 5000;
  const L = typeof sc.seqLength === 'number' ? sc.seqLength : sc.seqLength[1];
  const entries = n * L * Math.max(sc.dx, sc.dy);
  if (entries > MAX_ARRAY_ENTRIES) {
    const most = Math.floor(MAX_ARRAY_ENTRIES / (L * Math.max(sc.dx, sc.dy)));
    throw new UserError(
      `--sequences ${n}: ${n} sequences of up to ${L} steps of ${name} need ${(entries * 8 * 3 / 2 ** 30).toFixed(1)} GiB in memory; ` +
        `simulate at most ${most} sequences at a time (write several files with different --seed)`,
    );
  }
}

/** fit's moments grow as dy·dx²: refuse a file with more columns than that budget before reading it. */
export function checkFitSize(source: CSVSource, file: string): void {
  const n = source.dy * source.dx * source.dx;
  if (n > MAX_T2_ENTRIES) {
    throw new UserError(
      `${file}: ${source.dx} input and ${source.dy} output columns are too many to fit: the second-order moment alone has dy·dx² = ${n.toExponential(2)} entries ` +
        `(${(8 * n / 2 ** 30).toFixed(1)} GiB; at most ${MAX_T2_ENTRIES}, 256 MiB); select columns with --x and --y`,
    );
  }
}


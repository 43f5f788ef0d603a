/**
 * Loading the public benchmark recordings for bench/real (never committed: they are the publishers' data).
 *
 * Each data set becomes a `RealData`: the training sequences, the test input (a whole record, simulated free-run
 * from a zero state) and the range of test samples that are scored, in the recording's units.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface RealData {
  name: string;
  /** Training sequences (each one contiguous record): inputs u and outputs y, one column each. */
  train: { u: Float64Array; y: Float64Array }[];
  /** Test record, simulated free-run from a zero state; RMSE over samples [scoreFrom, u.length). */
  test: { u: Float64Array; y: Float64Array; scoreFrom: number };
  /** Unit of y for the table and the factor to it (Silverbox: V → mV). */
  unit: string;
  unitFactor: number;
  /** How the split was made, for the table's notes. */
  split: string;
}

export const DOWNLOAD = {
  silverbox:
    'Silverbox (SNLS80mV.csv, columns V1 = input, V2 = output): https://www.nonlinearbenchmark.org/benchmarks/silverbox ' +
    '(Wigren & Schoukens 2013); put SNLS80mV.csv into DIR/silverbox/',
  cascaded_tanks:
    'Cascaded tanks (dataBenchmark.csv, columns uEst, uVal, yEst, yVal): https://www.nonlinearbenchmark.org/benchmarks/cascaded-tanks ' +
    '(Schoukens, Mattsson, Wigren & Noël 2016); put dataBenchmark.csv into DIR/cascaded_tanks/',
};

/** Numeric CSV with a (possibly quoted) header and possibly a trailing comma; empty cells become NaN. */
export function readCSV(file: string): { header: string[]; cols: Float64Array[] } {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const split = (l: string) => l.split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
  const header = split(lines[0]).filter((h, i, a) => h !== '' || i < a.length - 1);
  const cols = header.map(() => new Float64Array(lines.length - 1));
  for (let r = 1; r < lines.length; r++) {
    const cells = split(lines[r]);
    for (let c = 0; c < header.length; c++) {
      const s = cells[c];
      const v = s === undefined || s === '' ? NaN : Number(s);
      if (s !== undefined && s !== '' && !Number.isFinite(v)) throw new Error(`${file}: row ${r + 1}, column "${header[c]}": expected a number, got "${s}"`);
      cols[c][r - 1] = v;
    }
  }
  return { header, cols };
}

function column(t: { header: string[]; cols: Float64Array[] }, name: string, file: string): Float64Array {
  const i = t.header.indexOf(name);
  if (i < 0) throw new Error(`${file}: no column "${name}" (have ${t.header.join(', ')})`);
  return t.cols[i];
}

/**
 * Silverbox with the split of its README: test = samples 100 … 40 499 (the "arrow"), scored after a free run from
 * sample 0 (the first 100 samples are the arrow's quiet lead-in, so the zero initial state is right). Training data:
 * the record after the test part that holds the 10 multisine realizations, samples 40 500 … 127 419 — none of it is
 * test data. `sequences`:
 *   'blocks' (default): its 10 blocks of 8 692 samples (460 transient + the 8 192-sample realization + 40), one
 *     sequence each, so that the zero initial state of each sequence is followed by 460 samples of lead-in;
 *   'one': the whole stretch as one sequence;
 *   'realizations': only the 10 realizations (10 × 8 192), the strictest reading of the standard split.
 */
export function loadSilverbox(dir: string, opts: { sequences?: 'blocks' | 'one' | 'realizations' } = {}): RealData | null {
  const file = path.join(dir, 'silverbox', 'SNLS80mV.csv');
  if (!existsSync(file)) return null;
  const t = readCSV(file);
  const u = column(t, 'V1', file), y = column(t, 'V2', file);
  const mode = opts.sequences ?? 'blocks';
  const train: RealData['train'] = [];
  const start = 40500, block = 8692;
  if (mode === 'one') train.push({ u: u.slice(start, start + 10 * block), y: y.slice(start, start + 10 * block) });
  else
    for (let r = 0; r < 10; r++) {
      const s = mode === 'blocks' ? start + r * block : start + r * block + 460, n = mode === 'blocks' ? block : 8192;
      train.push({ u: u.slice(s, s + n), y: y.slice(s, s + n) });
    }
  const how = { blocks: 'samples 40 500–127 419 as its 10 blocks of 8 692 (each realization with its 460 + 40 transient samples)', one: 'samples 40 500–127 419 as one sequence', realizations: 'the 10 multisine realizations (10 × 8 192)' }[mode];
  return {
    name: 'Silverbox',
    train,
    test: { u: u.slice(0, 40500), y: y.slice(0, 40500), scoreFrom: 100 },
    unit: 'mV',
    unitFactor: 1000,
    split: `train: ${how}; test: samples 100–40 499, free run from sample 0`,
  };
}

/** Cascaded tanks: estimation record uEst/yEst (1 024 samples), validation uVal/yVal scored from its first sample. */
export function loadCascadedTanks(dir: string): RealData | null {
  const file = path.join(dir, 'cascaded_tanks', 'dataBenchmark.csv');
  if (!existsSync(file)) return null;
  const t = readCSV(file);
  return {
    name: 'Cascaded tanks',
    train: [{ u: column(t, 'uEst', file), y: column(t, 'yEst', file) }],
    test: { u: column(t, 'uVal', file), y: column(t, 'yVal', file), scoreFrom: 0 },
    unit: 'V',
    unitFactor: 1,
    split: 'train: uEst/yEst (1 024 samples); test: uVal/yVal (1 024 samples), free run from a zero state',
  };
}

/** RMSE of a free-run simulation over the scored part, in the table's unit. */
export function rmse(d: RealData, yhat: ArrayLike<number>): number {
  const { y, scoreFrom } = d.test;
  let s = 0;
  for (let t = scoreFrom; t < y.length; t++) s += (yhat[t] - y[t]) ** 2;
  return Math.sqrt(s / (y.length - scoreFrom)) * d.unitFactor;
}

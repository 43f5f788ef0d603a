/**
 * Real-data bench (issue 17): public nonlinear system-identification recordings, free-run simulation RMSE on the
 * test part, one table per data set.
 *
 *   npm run bench:real -- [--data DIR] [--bptt-seconds S] [--skip-bptt] [--only silverbox|tanks]
 *   (= node --import tsx bench/real/run.ts …)
 *
 * DIR defaults to ../shared/data relative to the repository (the recordings are the publishers' and are never
 * committed); when a recording is absent, the bench says where to download it and goes on with the others.
 * Rows: gloree through its public fit path (`fitRNN`, exactly what `gloree fit` runs; data in the recording's units,
 * the learner standardises internally) with documented flags (the same flags on every data set: nothing is tuned
 * to one), ARX(10) by least
 * squares (bench/real/arx.ts, independent of src/), BPTT on a tanh SimpleRNN in TensorFlow.js for a stated budget
 * (bench/real/bptt.ts), and published results with their sources. Wall time per row. Writes
 * bench/results/real.json and prints markdown tables.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOWNLOAD, loadCascadedTanks, loadSilverbox, rmse, type RealData } from './data.js';
import { fitARX, simulateARX } from './arx.js';
import { trainBPTT } from './bptt.js';
import { flagsToString, gloreeRow, type GloreeFlags } from './gloree.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

/** The documented flags (docs/real-data.md): the same on every recording. */
export const GLOREE_ROWS: { label: string; flags: GloreeFlags }[] = [
  { label: 'gloree linear', flags: { activation: 'linear', hidden: 'auto' } },
  { label: "gloree tanh from the linear start (gloree's best flags)", flags: { activation: 'tanh', hidden: 4 } },
  { label: 'gloree tanh, linear start, VAR(p) input model', flags: { activation: 'tanh', hidden: 4, inputModel: 'varp' } },
  { label: 'gloree tanh, 6 states', flags: { activation: 'tanh', hidden: 6 } },
  { label: 'gloree tanh, 50 refinement iterations', flags: { activation: 'tanh', hidden: 4, refineIterations: 50 } },
];

/**
 * Published Silverbox results (test: the arrow, free-run simulation RMSE). Each is quoted from its source; the
 * splits differ in details (e.g. how much of the arrow's extrapolating end is scored), so they are context, not a
 * like-for-like ranking.
 */
export const PUBLISHED_SILVERBOX: { method: string; rmse: string; source: string }[] = [
  { method: 'best linear approximation (BLA), linear', rmse: '≈ 13–14 mV', source: 'as commonly summarised for Paduart et al., "Identification of nonlinear systems using Polynomial Nonlinear State Space models", Automatica 46(4), 2010 — not verified against the paper' },
  { method: 'polynomial nonlinear state space (PNLSS)', rmse: '0.26 mV', source: 'as reported for Paduart et al., Automatica 46(4):647–656, 2010 — not verified against the paper' },
  { method: 'data sets and benchmark definition', rmse: '—', source: 'Wigren & Schoukens, "Three free data sets for development and benchmarking in nonlinear system identification", ECC 2013; results history at https://www.nonlinearbenchmark.org' },
];

interface Row {
  label: string;
  flags?: string;
  rmse: number | null;
  seconds: number;
  cpuSeconds?: number;
  notes: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function benchOne(d: RealData, bpttSeconds: number, skipBPTT: boolean, extra: { label: string; data: RealData; flags: GloreeFlags }[] = []): Promise<Row[]> {
  const rows: Row[] = [];
  const t0 = performance.now();
  const arx = fitARX(d, 10);
  const yArx = simulateARX(arx, d.test.u, d.test.y);
  rows.push({ label: 'ARX(10), least squares (reference)', rmse: rmse(d, yArx), seconds: (performance.now() - t0) / 1000, notes: 'na = 10, nb = 11 (u_t … u_{t−10}), intercept; free run started from the first 10 measured outputs' });
  for (const g of [...GLOREE_ROWS.map((r) => ({ ...r, data: d })), ...extra]) {
    process.stderr.write(`${d.name}: ${g.label} (${flagsToString(g.flags)}) …\n`);
    const r = await gloreeRow(g.data, g.flags);
    rows.push({
      label: g.label,
      flags: flagsToString(g.flags),
      rmse: r.yhat ? rmse(d, r.yhat) : null,
      seconds: r.seconds,
      cpuSeconds: r.cpuSeconds,
      notes: [r.error ? `FAILED: ${r.error}` : '', ...r.notes].filter((s) => s).join('; '),
    });
  }
  if (!skipBPTT) {
    process.stderr.write(`${d.name}: BPTT (${bpttSeconds} s budget) …\n`);
    const o = { units: 8, window: 64, burn: 16, batch: 512, learningRate: 2e-2, budgetSeconds: bpttSeconds, seed: 1 };
    const b = await trainBPTT(d, o);
    rows.push({
      label: 'BPTT, tanh SimpleRNN (TF.js, Adam)',
      rmse: rmse(d, b.yhat),
      seconds: b.seconds,
      notes: `${o.units} units, windows of ${o.window} (loss after ${o.burn}), batch ${o.batch}, lr ${o.learningRate}; budget ${bpttSeconds} s: ${b.steps} steps, ${b.epochs} epochs`,
    });
  }
  return rows;
}

function table(d: RealData, rows: Row[], arxRmse: number): string {
  const f = (v: number | null) => (v === null ? '—' : v.toFixed(d.unitFactor === 1000 ? 2 : 3));
  const lines = [
    `### ${d.name}: free-run RMSE on the test part (${d.unit})`,
    '',
    `Split: ${d.split}.`,
    '',
    `| row | flags | RMSE (${d.unit}) | × ARX(10) | wall time (s) | CPU (s) | notes |`,
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${r.flags ? '`' + r.flags + '`' : ''} | ${f(r.rmse)} | ${r.rmse === null ? '—' : (r.rmse / arxRmse).toFixed(2)} | ${r.seconds.toFixed(1)} | ${r.cpuSeconds === undefined ? '' : r.cpuSeconds.toFixed(1)} | ${r.notes.replace(/\|/g, '/')} |`),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  // Default: ../shared/data next to the repository (a git worktree one level deeper finds it at ../../shared/data).
  const given = arg('--data');
  const candidates = given ? [given] : [path.join(repo, '..', 'shared', 'data'), path.join(repo, '..', '..', 'shared', 'data')];
  const dir = path.resolve(candidates.find((c) => existsSync(c)) ?? candidates[0]);
  const bpttSeconds = Number(arg('--bptt-seconds') ?? 60);
  const skipBPTT = process.argv.includes('--skip-bptt');
  const only = arg('--only');
  const out: Record<string, unknown> = { dataDir: dir, date: new Date().toISOString(), bpttSeconds, loadAverageStart: os.loadavg() };
  console.log(`load average at start (1, 5, 15 min): ${os.loadavg().map((v) => v.toFixed(2)).join(', ')} on ${os.cpus().length} cores`);
  const md: string[] = [];
  const sets: [string, () => RealData | null, string][] = [
    ['silverbox', () => loadSilverbox(dir), DOWNLOAD.silverbox],
    ['tanks', () => loadCascadedTanks(dir), DOWNLOAD.cascaded_tanks],
  ];
  for (const [key, load, where] of sets) {
    if (only && only !== key) continue;
    const d = load();
    if (d === null) {
      console.log(`${key}: not found under ${dir}. ${where.replace('DIR', dir)}`);
      continue;
    }
    // Silverbox also as one sequence (the shape of a measured recording without a seq column): the refinement then
    // cuts it into windows with a held-out block at its end (docs/real-data.md).
    const one = key === 'silverbox' ? loadSilverbox(dir, { sequences: 'one' }) : null;
    const extra = one ? [{ label: "gloree tanh, best flags, training record as ONE sequence", data: one, flags: GLOREE_ROWS[1].flags }] : [];
    const rows = await benchOne(d, bpttSeconds, skipBPTT, extra);
    out[key] = rows;
    md.push(table(d, rows, rows[0].rmse!));
    if (key === 'silverbox') {
      md.push('', '| published (Silverbox) | RMSE | source |', '|---|---|---|', ...PUBLISHED_SILVERBOX.map((p) => `| ${p.method} | ${p.rmse} | ${p.source} |`));
    }
    md.push('', `Load average after ${d.name} (1, 5, 15 min): ${os.loadavg().map((v) => v.toFixed(2)).join(', ')}.`, '');
    // Print and save as each data set finishes (a long run interrupted later keeps what it measured).
    console.log(md.splice(0).join('\n'));
    mkdirSync(path.join(repo, 'bench', 'results'), { recursive: true });
    writeFileSync(path.join(repo, 'bench', 'results', 'real.json'), JSON.stringify(out, null, 2) + '\n');
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

/**
 * Peak memory of `gloree fit` (with and without the refinement; σ = z², linear and tanh) and `gloree predict` on one long recording (a CSV without a `seq` column) against
 * the same rows with a `seq` column (sequences of 20 steps), at 1e6 and 4e6 rows (`--long`: also 1e7). Each
 * command runs as its own process (the built CLI, dist/cli/main.js); its peak RSS is the child's own
 * `process.resourceUsage().maxRSS`, printed at exit. The reference in the same run is the `seq` file: memory that
 * does not grow with the length of one sequence shows as the two columns staying close as rows grow.
 *
 * `node --import tsx bench/memory.ts` prints the table; `npm run bench -- --only memory` writes it to
 * bench/results/memory.json. Needs `npm run build`. `GLOREE_MEMORY_COMMANDS=fit linear,fit tanh` measures only
 * those commands (names as in COMMANDS).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeChunk } from '../src/io/dataset.js';
import { writeDataFile } from '../src/io/open.js';
import { saveModel } from '../src/models/serialize.js';
import { SCENARIOS, randomIORNN, scenarioModel, simulateBRNN, simulateIORNN, simulateInputs } from '../src/models/simulate.js';
import type { BRNNParams, IORNNParams } from '../src/models/params.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli/main.js');

interface Run {
  seconds: number;
  /** User + system CPU seconds of the child (process.cpuUsage at exit). */
  cpuSeconds: number;
  peakRssMiB: number;
  /** 1-minute load average when the run ended (the machine is shared). */
  load: number;
}

/**
 * Run the CLI in a child process; its own peak RSS (KiB from resourceUsage) and CPU time come back on stderr. The
 * wrapper is a module file, not `--input-type=module -e`: worker threads (the parallel CSV reader) inherit the
 * parent's execArgv, and `--input-type` makes them fail to start.
 */
function runCli(args: string[]): Run {
  const wrapper = path.join(os.tmpdir(), `gloree-bench-memory-wrapper-${process.pid}.mjs`);
  if (!existsSync(wrapper)) {
    writeFileSync(
      wrapper,
      `import('${pathToFileURL(cli).href}').then(async (m) => { const code = await m.main(process.argv); const u = process.cpuUsage(); ` +
        `process.stderr.write('\\n__RSS_KB__ ' + process.resourceUsage().maxRSS + ' ' + (u.user + u.system) + '\\n'); process.exitCode = code; });\n`,
    );
  }
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [wrapper, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`gloree ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  const m = /__RSS_KB__ (\d+) (\d+)/.exec(r.stderr);
  return { seconds, cpuSeconds: Number(m?.[2] ?? NaN) / 1e6, peakRssMiB: Number(m?.[1] ?? NaN) / 1024, load: os.loadavg()[0] };
}

export interface MemoryRow {
  rows: number;
  command: Command;
  oneSequence: Run;
  withSeq: Run;
}

/**
 * The commands measured, and the data each fits. `fit linear` and `fit tanh` are the learners of measured
 * recordings (docs/real-data.md): the linear learner and tanh on its linear route (dh = 5 > dx = 4), each with its
 * Markov moments over a 64-row halo. They fit data of a planted tanh IO-RNN (on the σ = z² scenario's data every
 * linear realization blows up, and the fit rightly fails). 5 refinement iterations keep the bench short: the
 * refinement's sample is capped by rows either way, and that cap, not the iteration count, bounds its memory.
 * `fit brnn` (GLOREE-B, dh = dz = 2, on the data of scenario `brnn`): without refinement it streams one long
 * sequence; with it, the refinement keeps at most the row cap of that sequence (src/learn/pieces.ts PieceJoiner;
 * a BRNN is never refined on windows).
 */
const COMMANDS = {
  'fit --no-refine': { args: ['--hidden', '4', '--no-refine'], data: 'z2' },
  fit: { args: ['--hidden', '4'], data: 'z2' },
  predict: { args: [], data: 'z2' },
  'predict brnn': { args: [], data: 'brnn' },
  'fit brnn --no-refine': { args: ['--kind', 'brnn', '--hidden', '2', '--backward', '2', '--no-refine'], data: 'brnn' },
  'fit brnn': { args: ['--kind', 'brnn', '--hidden', '2', '--backward', '2', '--refine-iterations', '5'], data: 'brnn' },
  'fit linear': { args: ['--activation', 'linear', '--hidden', '4', '--refine-iterations', '5'], data: 'tanh' },
  'fit tanh': { args: ['--activation', 'tanh', '--hidden', '5', '--refine-iterations', '5'], data: 'tanh' },
} as const;
type Command = keyof typeof COMMANDS;

export async function benchMemory(): Promise<{ rows: MemoryRow[]; markdown: string }> {
  if (!existsSync(cli)) throw new Error('bench memory: run `npm run build` first (needs dist/cli/main.js)');
  const long = process.env.GLOREE_BENCH_LONG === '1';
  const sizes = (process.env.GLOREE_MEMORY_ROWS ?? (long ? '1e6,4e6,1e7' : '1e6,4e6')).split(',').map(Number);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gloree-bench-memory-'));
  const s = SCENARIOS.default;
  const truth = scenarioModel(s) as IORNNParams;
  const modelFile = path.join(dir, 'truth.json');
  await saveModel(modelFile, truth);
  // `predict brnn`: the planted BRNN of scenario `brnn` (dx = dy = 6) on its own data; its backward states run from
  // the end of the sequence (src/models/brnn-pieces.ts).
  const sb = SCENARIOS.brnn;
  const brnn = scenarioModel(sb) as BRNNParams;
  const brnnFile = path.join(dir, 'brnn.json');
  await saveModel(brnnFile, brnn);
  const out: MemoryRow[] = [];
  try {
    const only = process.env.GLOREE_MEMORY_COMMANDS?.split(',');
    const commands = (Object.keys(COMMANDS) as Command[]).filter((c) => !only || only.includes(c));
    const planted = { z2: truth, tanh: randomIORNN({ dx: s.dx, dh: 4, dy: s.dy, uNorm: 0.5, seed: 7, activation: { name: 'tanh' } }) };
    for (const rows of sizes) {
      for (const kind of ['z2', 'tanh', 'brnn'] as const) {
        const todo = commands.filter((c) => COMMANDS[c].data === kind);
        if (todo.length === 0) continue;
        // The same values twice: one sequence (no seq column), and cut into sequences of 20 steps (seq column).
        const sk = kind === 'brnn' ? sb : s;
        const inputs = simulateInputs({ dx: sk.dx, nSeq: 1, seqLength: rows, rho: sk.input.rho, sigma: sk.input.sigma, seed: 5 });
        const data = kind === 'brnn' ? simulateBRNN(brnn, inputs, { noise: sk.noise, seed: 6 }) : simulateIORNN(planted[kind], inputs, { noise: s.noise, seed: 6 });
        const one = path.join(dir, `one-${kind}-${rows}.csv`), seq = path.join(dir, `seq-${kind}-${rows}.csv`);
        await writeDataFile(one, data, { seq: false });
        await writeDataFile(seq, makeChunk(data.dx, data.dy, data.x, data.y, new Int32Array(rows / 20).fill(20)));
        for (const command of todo) {
          const args = (file: string): string[] =>
            command === 'predict' || command === 'predict brnn'
              ? ['predict', command === 'predict' ? modelFile : brnnFile, file, '--out', path.join(dir, 'pred.csv')]
              : ['fit', file, ...COMMANDS[command].args, '--out', path.join(dir, 'model.json')];
          const row: MemoryRow = { rows, command, oneSequence: runCli(args(one)), withSeq: runCli(args(seq)) };
          out.push(row);
          console.log(JSON.stringify(row));
        }
        rmSync(one, { force: true });
        rmSync(seq, { force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.join(os.tmpdir(), `gloree-bench-memory-wrapper-${process.pid}.mjs`), { force: true });
  }
  const f = (r: Run): string => `${r.peakRssMiB.toFixed(0)} MiB (${r.seconds.toFixed(1)} s wall, ${r.cpuSeconds.toFixed(1)} s CPU, load ${r.load.toFixed(1)})`;
  const markdown = [
    'Peak RSS of `gloree fit --hidden 4` (with and without `--no-refine`), `gloree predict` (an IO-RNN, and `predict brnn`: the BRNN of scenario `brnn`, dx = dy = 6; `fit brnn`: GLOREE-B with `--kind brnn --hidden 2 --backward 2` on its data), and `gloree fit` with `--activation linear --hidden 4` and `--activation tanh --hidden 5` (both `--refine-iterations 5`) (scenario `default`, dx = dy = 4), one process each:',
    '',
    '| rows | command | one sequence (no `seq`) | same rows, `seq` column (sequences of 20) |',
    '|---|---|---|---|',
    ...out.map((r) => `| ${r.rows.toExponential(0)} | ${r.command} | ${f(r.oneSequence)} | ${f(r.withSeq)} |`),
  ].join('\n');
  return { rows: out, markdown };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchMemory().then((r) => console.log('\n' + r.markdown));
}

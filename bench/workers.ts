/**
 * `gloree fit --workers N` against `--workers 1` at 1e6 rows (issue 13's goal: ≤ 0.7× the wall time on 2 cores),
 * with the model files compared byte for byte. Runs the compiled CLI (dist/, `npm run build` first) as child
 * processes, alternating the worker counts so machine load hits both alike; reports the median wall time of each
 * and their ratio, plus the CPU time of the processes (user + system, all threads) and the machine's load average.
 * Run: node --import tsx bench/workers.ts [rows=1000000] [repeats=3]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const rows = Number(process.argv[2] ?? 1e6);
const repeats = Number(process.argv[3] ?? 3);
const cli = path.resolve('dist/cli/main.js');
if (!existsSync(cli)) throw new Error('bench/workers.ts: build first (npm run build)');
const dir = mkdtempSync(path.join(tmpdir(), 'gloree-workers-'));
const csv = path.join(dir, 'd.csv');
// A file, not `node -e`: worker threads inherit the process's exec arguments.
const wrapper = path.join(dir, 'wrap.mjs');
writeFileSync(wrapper, `const m = await import(${JSON.stringify(pathToFileURL(cli).href)}); const c = await m.main(process.argv); const u = process.cpuUsage(); process.stderr.write('\\nCPU ' + (u.user + u.system) / 1e6 + '\\n'); process.exitCode = c;\n`);

function run(args: string[]): { wall: number; cpu: number; out: string } {
  // A wrapper runs the CLI's main and prints the process's CPU time (all threads) when it is done.
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [wrapper, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`gloree ${args.join(' ')} failed: ${r.stderr}`);
  const cpu = Number(/CPU ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  return { wall, cpu, out: r.stdout };
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

try {
  const nSeq = Math.round(rows / 20);
  run(['simulate', '--scenario', 'default', '--sequences', String(nSeq), '--seed', '1', '--out', csv]);
  const cores = availableParallelism();
  const counts = [1, cores];
  const wall: Record<number, number[]> = {}, cpu: Record<number, number[]> = {};
  const loads: number[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    for (const w of rep % 2 === 0 ? counts : [...counts].reverse()) {
      loads.push(loadavg()[0]);
      const r = run(['fit', csv, '--hidden', '4', '--seed', '0', '--workers', String(w), '--out', path.join(dir, `m${w}.json`), '--quiet']);
      (wall[w] ??= []).push(r.wall);
      (cpu[w] ??= []).push(r.cpu);
    }
  }
  const same = readFileSync(path.join(dir, 'm1.json'), 'utf8') === readFileSync(path.join(dir, `m${cores}.json`), 'utf8');
  console.log(`gloree fit at ${nSeq * 20} rows (default scenario, 20 steps per sequence), ${repeats} runs each, ${cores} cores, load average during the runs ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
  for (const w of counts) console.log(`  --workers ${w}: wall ${median(wall[w]).toFixed(2)} s (runs ${wall[w].map((v) => v.toFixed(2)).join(', ')}), CPU ${median(cpu[w]).toFixed(2)} s`);
  console.log(`  ratio --workers ${cores} / --workers 1 (median wall): ${(median(wall[cores]) / median(wall[1])).toFixed(3)}  (goal ≤ 0.7)`);
  console.log(`  model files identical: ${same}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

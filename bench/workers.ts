/**
 * `gloree fit --workers N` against `--workers 1` at 1e6 rows (issue 13's goal: ≤ 0.7× the wall time on 2 cores),
 * with the model files compared byte for byte. Runs the compiled CLI (dist/, `npm run build` first) as child
 * processes, alternating the worker counts so machine load hits both alike; reports the median wall time of each
 * and their ratio, plus the CPU time of the processes (user + system, all threads; and of the main thread) and the
 * machine's load average.
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
// Main-thread CPU from /proc (Linux; NaN elsewhere): on a loaded machine it and the process CPU bound the wall time
// an idle machine would give (≥ main thread, ≥ process CPU / cores).
writeFileSync(wrapper, `import { readFileSync } from 'node:fs'; const m = await import(${JSON.stringify(pathToFileURL(cli).href)}); const c = await m.main(process.argv); const u = process.cpuUsage(); let main = NaN; try { const f = readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8').split(') ')[1].split(' '); main = (Number(f[11]) + Number(f[12])) / 100; } catch {} process.stderr.write('\\nCPU ' + (u.user + u.system) / 1e6 + ' MAIN ' + main + '\\n'); process.exitCode = c;\n`);

function run(args: string[]): { wall: number; cpu: number; main: number; out: string } {
  // A wrapper runs the CLI's main and prints the process's CPU time (all threads) when it is done.
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [wrapper, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`gloree ${args.join(' ')} failed: ${r.stderr}`);
  const cpu = Number(/CPU ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  const main = Number(/MAIN ([\d.]+|NaN)/.exec(r.stderr)?.[1] ?? NaN);
  return { wall, cpu, main, out: r.stdout };
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

try {
  const nSeq = Math.round(rows / 20);
  run(['simulate', '--scenario', 'default', '--sequences', String(nSeq), '--seed', '1', '--out', csv]);
  const cores = availableParallelism();
  const counts = [1, cores];
  const wall: Record<number, number[]> = {}, cpu: Record<number, number[]> = {}, mainCpu: Record<number, number[]> = {};
  const loads: number[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    for (const w of rep % 2 === 0 ? counts : [...counts].reverse()) {
      loads.push(loadavg()[0]);
      const r = run(['fit', csv, '--hidden', '4', '--seed', '0', '--workers', String(w), '--out', path.join(dir, `m${w}.json`), '--quiet']);
      (wall[w] ??= []).push(r.wall);
      (cpu[w] ??= []).push(r.cpu);
      (mainCpu[w] ??= []).push(r.main);
    }
  }
  const same = readFileSync(path.join(dir, 'm1.json'), 'utf8') === readFileSync(path.join(dir, `m${cores}.json`), 'utf8');
  console.log(`gloree fit at ${nSeq * 20} rows (default scenario, 20 steps per sequence), ${repeats} runs each, ${cores} cores, load average during the runs ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
  for (const w of counts) console.log(`  --workers ${w}: wall ${median(wall[w]).toFixed(2)} s (runs ${wall[w].map((v) => v.toFixed(2)).join(', ')}), CPU ${median(cpu[w]).toFixed(2)} s (main thread ${median(mainCpu[w]).toFixed(2)} s)`);
  console.log(`  ratio --workers ${cores} / --workers 1 (median wall): ${(median(wall[cores]) / median(wall[1])).toFixed(3)}  (goal ≤ 0.7)`);
  console.log(`  model files identical: ${same}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Import time of the package's entry points, as a user's program pays it: each sample is a fresh Node process
 * that imports the compiled entry (dist/, so `npm run build` first) and reports how long the `import()` took,
 * next to the process's whole wall time. Reference in the same run: a process that imports nothing (Node's own
 * start-up) and `gloree/report` (the plotting libraries the entry point used to load).
 *
 *   npm run build && node --import tsx bench/import.ts        (or: npm run bench -- --only import)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLES = 11;

interface Row {
  entry: string;
  /** Median ms inside the process from before `import()` to its resolution. */
  importMs: number;
  /** Median CPU ms (user + system) of the import: barely moves when other processes share the cores. */
  cpuMs: number;
  /** Median wall ms of the whole process (start-up + import + exit). */
  wallMs: number;
  min: number;
  max: number;
}

/** Newest modification time under dir (for the stale-build check). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function sample(target: string | null): { importMs: number; cpuMs: number; wallMs: number } {
  const code = target === null
    ? 'process.stdout.write("0 0")'
    : `const c = process.cpuUsage(), t = performance.now(); await import(${JSON.stringify(pathToFileURL(target).href)});` +
      ' const u = process.cpuUsage(c); process.stdout.write(`${performance.now() - t} ${(u.user + u.system) / 1000}`);';
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`import of ${target} failed: ${r.stderr}`);
  const [importMs, cpuMs] = r.stdout.split(' ').map(Number) as [number, number];
  return { importMs, cpuMs, wallMs };
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

export async function benchImport(): Promise<{ rows: Row[]; markdown: string }> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, { import: string } | string> };
  const dist = path.join(root, 'dist');
  if (!existsSync(path.join(dist, 'index.js')) || newest(path.join(root, 'src')) > newest(dist)) {
    throw new Error('bench/import.ts measures the compiled package: run `npm run build` first (dist/ is missing or older than src/)');
  }
  const entries: [string, string | null][] = [['(node, no import)', null]];
  for (const [k, v] of Object.entries(pkg.exports)) {
    if (typeof v === 'object') entries.push([k === '.' ? 'gloree' : `gloree/${k.slice(2)}`, path.join(root, v.import)]);
  }
  for (const [, t] of entries) sample(t); // warm the file cache
  const runs = new Map<string, { importMs: number; cpuMs: number; wallMs: number }[]>(entries.map(([n]) => [n, []]));
  // Interleaved rounds: a slow minute on the shared machine hits every entry alike.
  for (let s = 0; s < SAMPLES; s++) for (const [n, t] of entries) runs.get(n)!.push(sample(t));
  const rows: Row[] = entries.map(([n]) => {
    const r = runs.get(n)!;
    const imp = r.map((x) => x.importMs);
    return { entry: n, importMs: median(imp), cpuMs: median(r.map((x) => x.cpuMs)), wallMs: median(r.map((x) => x.wallMs)), min: Math.min(...imp), max: Math.max(...imp) };
  });
  const base = rows[0]!, main = rows.find((r) => r.entry === 'gloree')!, report = rows.find((r) => r.entry === 'gloree/report')!;
  const lines = [
    `Import time of each entry point in a fresh Node process (median of ${SAMPLES}, interleaved; \`import()\` time measured`,
    `inside the process, wall time of the whole process next to it). Load average at the end: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores.`,
    '',
    '| entry | import ms (median) | min–max | import CPU ms | process wall ms | wall − bare Node |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.entry} | ${r.importMs.toFixed(0)} | ${r.min.toFixed(0)}–${r.max.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ${r.wallMs.toFixed(0)} | ${(r.wallMs - base.wallMs).toFixed(0)} |`),
    '',
    `\`import 'gloree'\`: ${main.importMs.toFixed(0)} ms wall, ${main.cpuMs.toFixed(0)} ms CPU (goal < 300 ms); ` +
      `${(main.cpuMs / report.cpuMs).toFixed(2)}× the CPU time of \`gloree/report\` (${report.cpuMs.toFixed(0)} ms), which the entry point loaded before.`,
  ];
  return { rows, markdown: lines.join('\n') };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchImport().then((r) => console.log(r.markdown)).catch((e) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  });
}

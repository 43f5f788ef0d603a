import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { main } from '../src/cli/main.js';

/**
 * Shared by the engine fit tests (test/sql-fit-duckdb.test.ts, test/sql-postgres.test.ts): `gloree fit` through
 * the CLI, and the comparison of two model files' parameters.
 *
 * Tolerance 1e-9 relative to the largest entry of each matrix (issue #16's "summation order only"): an engine
 * delivers the same rows in the same order as the file reader, so the passes add the same numbers; only chunk
 * boundaries may differ, which regroups float64 sums (relative effect ≲ n·ε ≈ 1e-12 at these sizes), and the
 * spectral steps (CP, pseudo-inverses) are well conditioned on these planted models. A wrong row order, a lost
 * boundary step or a missing sequence moves entries by ≳ 1e-3.
 */
export const FIT_TOL = 1e-9;

export async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

export async function ok(args: string[]): Promise<string> {
  const r = await run(args);
  assert.equal(r.code, 0, `gloree ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A failing command: exit code 1 (bad data) or 2 (bad usage) and ONE line on stderr matching `re`. */
export async function fails(args: string[], re: RegExp): Promise<string> {
  const r = await run(args);
  assert.ok(r.code === 1 || r.code === 2, `gloree ${args.join(' ')} should fail; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('gloree: warning'));
  assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
  assert.match(lines[0], re);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  return r.stderr;
}

/** Max over the parameter matrices of max |a − b| / max |b| (A1, U, A2, b; B1, V for a BRNN). */
export function modelDifference(fileA: string, fileB: string): number {
  const a = JSON.parse(readFileSync(fileA, 'utf8')), b = JSON.parse(readFileSync(fileB, 'utf8'));
  const pa = a.params ?? a, pb = b.params ?? b;
  let worst = 0, compared = 0;
  for (const k of ['A1', 'U', 'A2', 'b', 'B1', 'V']) {
    if (pb[k] === undefined) continue;
    const x = [pa[k]].flat(2) as number[], y = [pb[k]].flat(2) as number[];
    assert.equal(x.length, y.length, `${k}: sizes differ`);
    const scale = Math.max(...y.map(Math.abs));
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
    compared++;
  }
  assert.ok(compared >= 4, 'no parameters compared');
  return worst;
}

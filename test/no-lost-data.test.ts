/**
 * No lost or corrupted data (the CLI's output guarantees): a full disk fails the command instead of leaving a
 * truncated file; an output that is an input through a link is refused; a failed command replaces no earlier
 * output; signals remove temporary outputs and spill files (SIGKILL included for spill files); sequence ids a
 * double cannot hold exactly are refused instead of merged.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs, { promises as fsp, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { main } from '../src/cli/main.js';

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const code = await main(['node', 'gloree', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(path.join(tmpdir(), 'gloree-nolost-'));
const p = (f: string): string => path.join(dir, f);
after(() => rmSync(dir, { recursive: true, force: true }));

/** Temporary files (`.name.pid.….tmp`) left in a directory. */
const temps = (d: string): string[] => readdirSync(d).filter((f) => f.endsWith('.tmp'));

/**
 * Disk-full fault injection at the file-handle level, behaving as the kernel does on a nearly full file system:
 * the write that crosses the limit is SHORT (writes what fits and reports that count), and every later write
 * fails with ENOSPC. Only writes through FileHandle.prototype.write are affected (what the output writers use).
 */
async function withDiskFull<T>(limitBytes: number, fn: () => Promise<T>): Promise<T> {
  const probe = await fsp.open(p('.probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<{ bytesWritten: number }> };
  await probe.close();
  const orig = proto.write;
  let written = 0;
  proto.write = async function (this: unknown, data: unknown, ...rest: unknown[]) {
    let buf: Buffer, off = 0, len: number, pos: unknown = null;
    if (typeof data === 'string') {
      buf = Buffer.from(data, 'utf8');
      len = buf.length;
    } else {
      buf = Buffer.from((data as Uint8Array).buffer, (data as Uint8Array).byteOffset, (data as Uint8Array).byteLength);
      off = (rest[0] as number | undefined) ?? 0;
      len = (rest[1] as number | undefined) ?? buf.length - off;
      pos = rest[2] ?? null;
    }
    const room = limitBytes - written;
    if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    const n = Math.min(len, room);
    written += n;
    return orig.call(this, buf, off, n, pos);
  };
  try {
    return await fn();
  } finally {
    proto.write = orig;
  }
}

test('setup: data and a model', async () => {
  let r = await cli('simulate', '--sequences', '300', '--seed', '3', '--out', p('data.csv'), '--truth', p('truth.json'));
  assert.equal(r.code, 0, r.stderr);
  r = await cli('fit', p('data.csv'), '--hidden', '4', '--no-refine', '--out', p('model.json'));
  assert.equal(r.code, 0, r.stderr);
});

test('disk full: simulate and predict writing CSV exit 1 naming the file; no partial file, no temporary file', async () => {
  // 100 kB of room: the CSV (≈ 6000 rows) does not fit, so some write is short and the next one fails.
  let r = await withDiskFull(100_000, () => cli('simulate', '--sequences', '300', '--seed', '3', '--out', p('full-sim.csv')));
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^gloree: .*full-sim\.csv: cannot write file \(no space left on device\)\n$/);
  assert.ok(!existsSync(p('full-sim.csv')));
  r = await withDiskFull(100_000, () => cli('predict', p('model.json'), p('data.csv'), '--out', p('full-pred.csv')));
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /full-pred\.csv: cannot write file \(no space left on device\)/);
  assert.ok(!existsSync(p('full-pred.csv')));
  // Binary formats and the model file go through the same writer.
  r = await withDiskFull(10_000, () => cli('simulate', '--sequences', '300', '--out', p('full-sim.parquet')));
  assert.equal(r.code, 1);
  assert.ok(!existsSync(p('full-sim.parquet')));
  r = await withDiskFull(1000, () => cli('fit', p('data.csv'), '--hidden', '4', '--no-refine', '--out', p('full-model.json')));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /full-model\.json: cannot write file \(no space left on device\)/);
  assert.ok(!existsSync(p('full-model.json')));
  assert.deepEqual(temps(dir), []);
});

test('a failed command replaces no earlier output: outputs are committed only after all of them were written', async () => {
  writeFileSync(p('old.csv'), 'precious\n');
  writeFileSync(p('prev.json'), '{"precious": true}\n');
  mkdirSync(p('adir'), { recursive: true });
  // An output that is a directory is refused before any work.
  let r = await cli('simulate', '--sequences', '20', '--out', p('old.csv'), '--truth', p('adir'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /adir: cannot write file \(it is a directory\)/);
  assert.equal(readFileSync(p('old.csv'), 'utf8'), 'precious\n');
  r = await cli('fit', p('data.csv'), '--hidden', '4', '--no-refine', '--out', p('prev.json'), '--report', p('adir'));
  assert.equal(r.code, 1);
  assert.equal(readFileSync(p('prev.json'), 'utf8'), '{"precious": true}\n');
  // A failure while writing the SECOND output (disk full after the data file): the first is not committed either.
  const size = (await cli('simulate', '--sequences', '20', '--out', p('size.csv'))).code === 0 ? readFileSync(p('size.csv')).length : 0;
  assert.ok(size > 0);
  r = await withDiskFull(size + 10, () => cli('simulate', '--sequences', '20', '--out', p('old.csv'), '--truth', p('prev.json')));
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /prev\.json: cannot write file \(no space left on device\)/);
  assert.equal(readFileSync(p('old.csv'), 'utf8'), 'precious\n', 'the earlier data file is intact');
  assert.equal(readFileSync(p('prev.json'), 'utf8'), '{"precious": true}\n');
  assert.deepEqual(temps(dir), []);
});

test('an output that is an input through a symbolic link, a linked directory or a hard link is refused (exit 2), the input intact', async () => {
  const data = readFileSync(p('data.csv'), 'utf8');
  symlinkSync(p('data.csv'), p('sym.csv'));
  linkSync(p('data.csv'), p('hard.csv'));
  symlinkSync(dir, p('dirlink'));
  symlinkSync(p('model.json'), p('model-link.json'));
  for (const out of [p('sym.csv'), p('hard.csv'), path.join(p('dirlink'), 'data.csv')]) {
    const r = await cli('predict', p('model.json'), p('data.csv'), '--out', out);
    assert.equal(r.code, 2, `${out}: ${r.stderr}`);
    assert.match(r.stderr, /is also an input of this command/);
  }
  let r = await cli('fit', p('data.csv'), '--hidden', '4', '--out', p('hard.csv'));
  assert.equal(r.code, 2);
  r = await cli('fit', p('sym.csv'), '--hidden', '4', '--no-refine', '--out', p('model-link.json'), '--report', p('model.json'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /given for two outputs/);
  // A dangling link to an input name that does not exist yet is not an input; but a link to the model is one.
  r = await cli('predict', p('model-link.json'), p('data.csv'), '--out', p('model.json'));
  assert.equal(r.code, 2);
  assert.equal(readFileSync(p('data.csv'), 'utf8'), data);
  assert.equal(readlinkSync(p('sym.csv')), p('data.csv'));
});

test('sequence ids a double cannot hold exactly (|id| > 2^53 − 1) are refused, naming the row and the id as written (CSV, Arrow Int64, Parquet INT64)', async () => {
  // 2^53 and 2^53 + 1 are the same double: read as numbers, these two sequences would silently merge.
  const rows = ['seq,x1,y1'];
  for (let t = 0; t < 3; t++) rows.push(`9007199254740992,${0.1 * t},${0.2 * t}`);
  for (let t = 0; t < 3; t++) rows.push(`9007199254740993,${0.3 * t},${0.1 * t}`);
  writeFileSync(p('bigid.csv'), rows.join('\n') + '\n');
  let r = await cli('fit', p('bigid.csv'), '--hidden', '1', '--out', p('bigid.json'));
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /bigid\.csv:row 2, column "seq": expected an integer sequence id between .*2\^53.*got "9007199254740992"/);
  const big = BigInt64Array.from([2n ** 60n, 2n ** 60n, 2n ** 60n + 1n, 2n ** 60n + 1n]);
  writeFileSync(p('bigid.arrow'), tableToIPC(tableFromArrays({ seq: big, x1: Float64Array.from([1, 2, 3, 4]), y1: Float64Array.from([1, 0, 1, 0]) }), 'file'));
  r = await cli('fit', p('bigid.arrow'), '--hidden', '1', '--out', p('bigid.json'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /bigid\.arrow:row 1, column "seq": expected an integer sequence id between .*got "1152921504606846976"/);
  const pq = parquetWriteBuffer({
    columnData: [
      { name: 'seq', data: big, type: 'INT64', nullable: false },
      { name: 'x1', data: Float64Array.from([1, 2, 3, 4]), type: 'DOUBLE', nullable: false },
      { name: 'y1', data: Float64Array.from([1, 0, 1, 0]), type: 'DOUBLE', nullable: false },
    ] as never,
  });
  writeFileSync(p('bigid.parquet'), new Uint8Array(pq));
  r = await cli('fit', p('bigid.parquet'), '--hidden', '1', '--out', p('bigid.json'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /bigid\.parquet:row 1, column "seq": expected an integer sequence id between/);
  // Ids up to 2^53 − 1 are exact and accepted.
  writeFileSync(p('okid.csv'), rows.join('\n').replaceAll('9007199254740992', '9007199254740990').replaceAll('9007199254740993', '9007199254740991') + '\n');
  writeFileSync(p('one.json'), JSON.stringify({ format: 'gloree-model', version: 1, kind: 'iornn', activation: { coefficients: [0, 0, 1] }, A1: [[1]], U: [[0.1]], A2: [[1]] }));
  r = await cli('predict', p('one.json'), p('okid.csv'), '--out', p('okid-pred.csv'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(p('okid-pred.csv'), 'utf8'), /\n9007199254740991,2,/);
});

test('TMPDIR missing or full: fit exits 1 naming the directory (never the internal-error path)', async () => {
  const saved = process.env.TMPDIR;
  try {
    process.env.TMPDIR = p('no-such-tmp');
    let r = await cli('fit', p('data.csv'), '--hidden', '4', '--no-refine', '--out', p('tmpdir.json'));
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^gloree: cannot write the temporary spill file in .*no-such-tmp \(it does not exist\); set TMPDIR/);
    process.env.TMPDIR = dir;
    // A full TMPDIR: the spill file's writes fail with ENOSPC (after a short write).
    const orig = fs.writeSync;
    let calls = 0;
    (fs as { writeSync: unknown }).writeSync = (fd: number, buf: Uint8Array, off?: number, len?: number, pos?: number) => {
      if (++calls > 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return orig(fd, buf, off, Math.max(1, Math.floor((len ?? buf.length) / 2)), pos);
    };
    syncBuiltinESMExports();
    try {
      r = await cli('fit', p('data.csv'), '--hidden', '4', '--no-refine', '--out', p('tmpdir.json'));
    } finally {
      (fs as { writeSync: unknown }).writeSync = orig;
      syncBuiltinESMExports();
    }
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /cannot write the temporary spill file in .* \(no space left on device\); set TMPDIR/);
    assert.ok(!existsSync(p('tmpdir.json')));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('gloree-spill')), []);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

// ---- signals (separate processes) -----------------------------------------------------------------------

const entry = path.resolve('src/cli/main.ts');

function startCLI(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  return { child, done, stderr: () => stderr };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('SIGINT, SIGTERM and SIGHUP during a write remove the temporary output; exit status 128 + signal', async () => {
  const sigDir = mkdtempSync(path.join(dir, 'sig-'));
  for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    const out = path.join(sigDir, `big-${sig}.csv`);
    // 40000 sequences × 20 rows: several seconds of writing, so the signal arrives while the .tmp file exists.
    const run = startCLI(['simulate', '--sequences', '40000', '--out', out], {});
    await waitFor(() => temps(sigDir).length > 0, 60_000, `a temporary output of ${sig}`);
    run.child.kill(sig);
    const { code } = await run.done;
    assert.equal(code, 128 + num, `${sig}: ${run.stderr()}`);
    assert.deepEqual(temps(sigDir), [], `${sig} left a temporary file`);
    assert.ok(!existsSync(out));
  }
});

test('the spill file has no name while fit runs, so even SIGKILL leaves nothing in TMPDIR (Linux /proc)', { skip: !existsSync('/proc/self/fd') }, async () => {
  const spillTmp = mkdtempSync(path.join(dir, 'spill-'));
  const run = startCLI(['fit', p('data.csv'), '--hidden', '4', '--out', p('killed.json')], { TMPDIR: spillTmp });
  const spillOpen = (): boolean => {
    try {
      return readdirSync(`/proc/${run.child.pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${run.child.pid}/fd/${fd}`).includes('gloree-spill');
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  };
  await waitFor(spillOpen, 60_000, 'the spill file to be open');
  // (tsx keeps its own cache in TMPDIR; only gloree's files matter here.)
  const spills = (): string[] => readdirSync(spillTmp).filter((f) => f.startsWith('gloree'));
  assert.deepEqual(spills(), [], 'the open spill file has no directory entry');
  run.child.kill('SIGKILL');
  await run.done;
  assert.deepEqual(spills(), []);
  assert.ok(!existsSync(p('killed.json')));
});

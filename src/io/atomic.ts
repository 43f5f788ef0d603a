/**
 * Atomic file output: write to a temporary file in the destination's directory, fsync it, then
 * rename it over the destination. A crash or error never leaves a half-written model or CSV under the
 * final name (rename within one directory is atomic on POSIX file systems); the temporary file is
 * removed on failure.
 *
 * Every byte is written: a short write (what a nearly full disk returns before ENOSPC) is continued until the
 * kernel reports the error, so a full disk fails the write instead of leaving a truncated file.
 *
 * Output sets: between `beginOutputs()` and `commitOutputs()` the final renames are deferred, so a command with
 * several outputs replaces earlier files only after all of them were written (`discardOutputs()` drops them
 * all). `removeTempFilesSync()` deletes every temporary file still on disk (used by the CLI's signal handlers).
 */
import { promises as fsp, writeFileSync, openSync, fsyncSync, closeSync, renameSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'a parent path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'temporary file already exists',
};

/**
 * A failed write is almost always the user's (missing directory, output path is a directory, no permission,
 * disk full): report it as a one-line UserError naming the destination. Non-system errors pass through.
 */
function asUserError(e: unknown, target: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || e instanceof UserError) return e;
  return new UserError(`${target}: cannot write file (${REASONS[code] ?? (e as Error).message})`);
}

let counter = 0;

/** Temporary files of this process still on disk (being written or staged). */
const liveTemps = new Set<string>();
/** Staged (tmp → target) renames of the current output set, or null outside a set. */
let staged: { tmp: string; target: string }[] | null = null;

/** Start an output set: later atomic writes are staged and renamed only by {@link commitOutputs}. */
export function beginOutputs(): void {
  if (staged) discardOutputs();
  staged = [];
}

/** Rename every staged output to its final name (in the order written) and end the set. */
export async function commitOutputs(): Promise<void> {
  const list = staged ?? [];
  staged = null;
  for (let k = 0; k < list.length; k++) {
    const { tmp, target } = list[k];
    try {
      await fsp.rename(tmp, target);
      liveTemps.delete(tmp);
    } catch (e) {
      for (const rest of list.slice(k)) unlinkQuietSync(rest.tmp);
      throw asUserError(e, target);
    }
  }
}

/** Drop every staged output (their targets are left untouched) and end the set. */
export function discardOutputs(): void {
  const list = staged ?? [];
  staged = null;
  for (const { tmp } of list) unlinkQuietSync(tmp);
}

/** Delete every temporary output file this process still has on disk (safe in a signal handler). */
export function removeTempFilesSync(): void {
  for (const t of [...liveTemps]) unlinkQuietSync(t);
  staged = null;
}

function unlinkQuietSync(p: string): void {
  liveTemps.delete(p);
  try {
    unlinkSync(p);
  } catch {
    /* already gone */
  }
}

/** Final step of every atomic write: rename now, or stage the rename when an output set is open. */
async function publish(tmp: string, target: string): Promise<void> {
  if (staged) {
    staged.push({ tmp, target });
    return;
  }
  await fsp.rename(tmp, target);
  liveTemps.delete(tmp);
}

/**
 * Write all of `data` at the handle's position. FileHandle.write may write fewer bytes than asked (a nearly
 * full disk does exactly that); continue until done, so the kernel's ENOSPC for the rest surfaces as an error.
 */
async function writeFully(fh: fsp.FileHandle, data: string | Uint8Array): Promise<void> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (!(bytesWritten > 0)) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    off += bytesWritten;
  }
}

/** Temporary name next to `target`: `.name.<pid>.<n>.tmp`, so the rename stays in one file system. */
function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  counter = (counter + 1) % 1e9;
  return path.join(dir, `.${base}.${process.pid}.${Date.now().toString(36)}${counter}.tmp`);
}

async function unlinkQuiet(p: string): Promise<void> {
  liveTemps.delete(p);
  try {
    await fsp.unlink(p);
  } catch {
    /* already gone */
  }
}

/** Write `data` to `target` atomically (temp file + fsync + rename). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(target);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx');
    liveTemps.add(tmp);
    await writeFully(fh, data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await publish(tmp, target);
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    await unlinkQuiet(tmp);
    throw asUserError(e, target);
  }
}

/** Synchronous variant of {@link writeFileAtomic}. */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    liveTemps.add(tmp);
    writeFileSync(fd, data); // loops over short writes
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (staged) staged.push({ tmp, target });
    else {
      renameSync(tmp, target);
      liveTemps.delete(tmp);
    }
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* ignore */
      }
    }
    unlinkQuietSync(tmp);
    throw asUserError(e, target);
  }
}

/**
 * Streaming atomic writer: `const w = await AtomicWriter.open(path); await w.write(...); await w.commit();`
 * (or `await w.abort()` on error). Small writes are buffered (default 1 MiB) so callers may write row by row.
 * Nothing appears under `path` until `commit()`.
 */
export class AtomicWriter {
  readonly path: string;
  readonly tempPath: string;
  private fh: fsp.FileHandle | undefined;
  private parts: string[] = [];
  private pending = 0;
  private done = false;
  private readonly bufferChars: number;

  private constructor(target: string, tmp: string, fh: fsp.FileHandle, bufferChars: number) {
    this.path = target;
    this.tempPath = tmp;
    this.fh = fh;
    this.bufferChars = bufferChars;
  }

  static async open(target: string, opts: { bufferChars?: number } = {}): Promise<AtomicWriter> {
    const tmp = tempPathFor(target);
    let fh: fsp.FileHandle;
    try {
      // Fail early (before any data is produced) if the destination is an existing directory.
      const st = await fsp.stat(target).catch(() => undefined);
      if (st?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      fh = await fsp.open(tmp, 'wx');
      liveTemps.add(tmp);
    } catch (e) {
      throw asUserError(e, target);
    }
    return new AtomicWriter(target, tmp, fh, opts.bufferChars ?? 1 << 20);
  }

  /** Append text (buffered) or bytes (flushes the text buffer first). */
  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.done || !this.fh) throw new Error(`AtomicWriter(${this.path}): write after commit/abort`);
    try {
      if (typeof chunk === 'string') {
        this.parts.push(chunk);
        this.pending += chunk.length;
        if (this.pending >= this.bufferChars) await this.flush();
      } else {
        await this.flush();
        await writeFully(this.fh, chunk);
      }
    } catch (e) {
      await this.abort();
      throw asUserError(e, this.path);
    }
  }

  private async flush(): Promise<void> {
    if (this.pending === 0 || !this.fh) return;
    const s = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    await writeFully(this.fh, s);
  }

  /** Flush, fsync and rename the temporary file to the final path. */
  async commit(): Promise<void> {
    if (this.done || !this.fh) throw new Error(`AtomicWriter(${this.path}): commit after commit/abort`);
    try {
      await this.flush();
      await this.fh.sync();
      await this.fh.close();
      this.fh = undefined;
      await publish(this.tempPath, this.path);
      this.done = true;
    } catch (e) {
      await this.abort();
      throw asUserError(e, this.path);
    }
  }

  /** Discard everything written; the destination is left untouched. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.parts = [];
    if (this.fh) {
      await this.fh.close().catch(() => undefined);
      this.fh = undefined;
    }
    await unlinkQuiet(this.tempPath);
  }
}

import { accessSync, constants as fsConstants, lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { UserError } from '../io/errors.js';
import { UsageError } from './io.js';

/**
 * Refuse before any work when an output would overwrite an input or another output, is a directory, or its
 * directory is missing or not writable. "The same file" is decided by identity, not by spelling: real paths
 * (symbolic links resolved, also in parent directories) and device + inode numbers (hard links). A failed
 * command must leave no file behind and replace no earlier output (outputs are written atomically and, in the
 * CLI, renamed into place only after every output of the command was written).
 */
export function checkOutputs(inputs: (string | undefined)[], outputs: (string | undefined)[]): void {
  const ins = inputs.filter((f): f is string => !!f).map((f) => ({ name: f, id: identity(f) }));
  const seen: { name: string; id: FileIdentity }[] = [];
  for (const f of outputs) {
    if (!f) continue;
    const id = identity(f);
    const input = ins.find((i) => sameFile(i.id, id));
    if (input) {
      const how = input.name === f ? '' : ` (${input.name} and ${f} are the same file${id.stat ? ' through a link' : ''})`;
      throw new UsageError(`output ${f} is also an input of this command${how}; choose another file name`);
    }
    const twice = seen.find((o) => sameFile(o.id, id));
    if (twice) throw new UsageError(`${twice.name === f ? f : `${twice.name} and ${f}`} given for two outputs; choose different file names`);
    seen.push({ name: f, id });
    if (id.stat?.isDirectory()) throw new UserError(`${f}: cannot write file (it is a directory)`);
    const dir = path.dirname(id.real);
    try {
      accessSync(dir, fsConstants.W_OK);
    } catch {
      throw new UserError(`${f}: cannot write file (directory ${path.dirname(path.resolve(f))} does not exist or is not writable)`);
    }
  }
}

interface FileIdentity {
  /** Absolute path with every symbolic link resolved (for a file that does not exist yet: its directory's). */
  real: string;
  /** stat() of the existing file (links followed), if any. */
  stat?: Stats;
}

function identity(f: string): FileIdentity {
  const abs = path.resolve(f);
  let stat: Stats | undefined;
  try {
    stat = statSync(abs);
  } catch {
    stat = undefined;
  }
  if (stat) {
    try {
      return { real: realpathSync(abs), stat };
    } catch {
      return { real: abs, stat };
    }
  }
  // A dangling symbolic link: its target is what would be written.
  try {
    if (lstatSync(abs).isSymbolicLink()) return { real: path.resolve(path.dirname(abs), readlinkSync(abs)) };
  } catch {
    /* does not exist */
  }
  try {
    return { real: path.join(realpathSync(path.dirname(abs)), path.basename(abs)) };
  } catch {
    return { real: abs };
  }
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  if (a.real === b.real) return true;
  return !!(a.stat && b.stat && a.stat.dev === b.stat.dev && a.stat.ino === b.stat.ino);
}

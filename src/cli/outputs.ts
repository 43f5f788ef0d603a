import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { UserError } from '../io/errors.js';
import { UsageError } from './io.js';

/**
 * Refuse before any work when an output would overwrite an input or another output, or its directory is missing
 * or not writable: a failed command must leave no file behind (outputs are also written atomically).
 */
export function checkOutputs(inputs: (string | undefined)[], outputs: (string | undefined)[]): void {
  const ins = inputs.filter((f): f is string => !!f).map((f) => path.resolve(f));
  const seen = new Set<string>();
  for (const f of outputs) {
    if (!f) continue;
    const abs = path.resolve(f);
    if (ins.includes(abs)) throw new UsageError(`output ${f} is also an input of this command; choose another file name`);
    if (seen.has(abs)) throw new UsageError(`${f} is given for two outputs; choose different file names`);
    seen.add(abs);
    const dir = path.dirname(abs);
    try {
      accessSync(dir, fsConstants.W_OK);
    } catch {
      throw new UserError(`${f}: cannot write file (directory ${dir} does not exist or is not writable)`);
    }
  }
}


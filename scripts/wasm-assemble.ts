import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

/** The kernels' WebAssembly text (src/linalg/kernels/kernels.wat) assembled with wabt (SIMD and shared memory enabled). */
export async function assembleKernels(): Promise<Uint8Array> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const file = path.join(root, 'src/linalg/kernels/kernels.wat');
  const wabt = await wabtInit();
  const features = { simd: true, threads: true };
  const mod = wabt.parseWat('kernels.wat', fs.readFileSync(file, 'utf8'), features);
  try {
    // validate() takes the feature set too (wabt's typings omit the parameter).
    (mod.validate as (f?: typeof features) => void)(features);
    return new Uint8Array(mod.toBinary({ log: false, write_debug_names: false }).buffer);
  } finally {
    mod.destroy();
  }
}

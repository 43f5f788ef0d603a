/**
 * The CP estimator (scikit-learn convention, as `GLOREE`): options in the constructor, `fit(T)` returns a new
 * fitted `CPModel`; the work is done by the functional core `decomposeCP` (src/decomposition/cp.ts).
 *
 *   const m = new CP({ rank: 3, seed: 0 }).fit(T);   m.cp.weights, m.cp.factors, m.residual, m.score(T)
 */
import { readFile } from 'node:fs/promises';
import { Matrix } from '../linalg/matrix.js';
import { Tensor } from '../tensor/tensor.js';
import { cpToTensor } from '../tensor/products.js';
import { CPTensor, cpResidual } from '../decomposition/cp_tensor.js';
import { CPOptions, decomposeCP } from '../decomposition/cp.js';
import { UserError } from '../io/errors.js';
import { writeFileAtomic } from '../io/atomic.js';

const CP_FORMAT = 'gloree-cp';
const CP_VERSION = 1;

export class CP {
  readonly options: Readonly<CPOptions>;

  constructor(options: CPOptions) {
    if (!Number.isInteger(options.rank) || options.rank < 1) throw new RangeError(`CP: rank must be an integer >= 1, got ${options.rank}`);
    this.options = { method: 'auto', ...options };
  }

  /** Decompose T; returns the fitted model (the estimator itself is not changed and can fit again). */
  fit(T: Tensor): CPModel {
    const r = decomposeCP(T, this.options);
    return new CPModel(r.cp, r.residual, r.method, r.diagnostics);
  }
}

/** A fitted CP decomposition T ≈ Σ_r w_r a_r ⊗ b_r ⊗ … (tied modes share one factor Matrix). */
export class CPModel {
  constructor(
    readonly cp: CPTensor,
    /** Relative Frobenius residual ‖T − T̂‖_F / ‖T‖_F on the training tensor. */
    readonly residual: number,
    /** Method actually used ('jennrich+als', 'als', 'power', …). */
    readonly method: string,
    readonly diagnostics: Record<string, unknown> = {},
  ) {}

  /** The fitted tensor Σ_r w_r a_r ⊗ b_r ⊗ …. */
  reconstruct(): Tensor {
    return cpToTensor(this.cp);
  }

  /** Normalised squared error on T: ‖T − T̂‖²_F / ‖T‖²_F (0 is exact; lower is better, like the RNN score). */
  score(T: Tensor): number {
    return cpResidual(T, this.cp) ** 2;
  }

  /** JSON form: weights, one nested factor matrix per mode, and whether modes 1… are tied. */
  toJSON(): Record<string, unknown> {
    const f = this.cp.factors;
    const tied = f.length > 2 && f.slice(2).every((F) => F === f[1]);
    return {
      format: CP_FORMAT,
      version: CP_VERSION,
      method: this.method,
      residual: this.residual,
      tied,
      weights: Array.from(this.cp.weights),
      factors: f.map((F) => F.toArray()),
    };
  }

  /** Rebuild from `toJSON()`'s object; errors name the key (`cp.json: key "factors": …`). */
  static fromJSON(obj: unknown, fileName = 'cp'): CPModel {
    const fail = (msg: string): never => {
      throw new UserError(`${fileName}: ${msg}`);
    };
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return fail('expected a JSON object (a gloree CP file)');
    const o = obj as Record<string, unknown>;
    if (o.format !== CP_FORMAT) fail(`key "format" must be "${CP_FORMAT}", got ${JSON.stringify(o.format)}`);
    if (o.version !== CP_VERSION) fail(`key "version" must be ${CP_VERSION}, got ${JSON.stringify(o.version)}`);
    const w = o.weights;
    if (!Array.isArray(w) || w.length === 0 || !w.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      return fail('key "weights" must be a non-empty array of finite numbers');
    }
    const R = w.length;
    const fs = o.factors;
    if (!Array.isArray(fs) || fs.length < 2) return fail('key "factors" must be an array of at least 2 factor matrices (one per mode)');
    const factors = fs.map((F, k) => {
      let M: Matrix;
      try {
        M = Matrix.from(F as number[][]);
      } catch (e) {
        return fail(`key "factors[${k}]": ${(e as Error).message}`);
      }
      if (M.cols !== R) fail(`key "factors[${k}]" must have ${R} columns (one per weight), got ${M.cols}`);
      return M;
    });
    if (o.tied === true) for (let k = 2; k < factors.length; k++) factors[k] = factors[1]!;
    const residual = typeof o.residual === 'number' ? o.residual : NaN;
    const method = typeof o.method === 'string' ? o.method : 'unknown';
    return new CPModel({ weights: Float64Array.from(w as number[]), factors }, residual, method);
  }

  /** Write the JSON file atomically. */
  save(path: string): Promise<void> {
    return writeFileAtomic(path, JSON.stringify(this.toJSON()) + '\n');
  }

  static async load(path: string): Promise<CPModel> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new UserError(`${path}: cannot read CP file (${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message})`);
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
    }
    return CPModel.fromJSON(obj, path);
  }
}

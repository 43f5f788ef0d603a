import { Matrix } from '../linalg/matrix.js';
import { InputModel, InputModelJSON, inputModelFromJSON, registerInputModel } from './model.js';

/**
 * An input model fitted to standardised inputs x̃ = D⁻¹(x − c) (D = diag(scale), c = shift), seen in the data's own
 * units (issue 17: the learner standardises, the model file speaks volts). With p(x) = p̃(x̃)/|D| per step:
 *   μ = c + D μ̃,   s(x) = −∇ₓ log p = D⁻¹ s̃(x̃),   Λ_{t,u} = D⁻¹ Λ̃_{t,u} D⁻¹            (docs/method.md §3)
 * so the scores of every order (Hermite polynomials in s with the Λ blocks) transform consistently. Shapes: shift,
 * scale length dx, scale > 0.
 */
export class ScaledInputModel implements InputModel {
  readonly kind = 'scaled';
  readonly dx: number;
  readonly mean: Float64Array;
  readonly order: number;
  /** Equal inner blocks map to the same scaled object (the moment estimators group steps by block identity). */
  private readonly blocks = new Map<Matrix, Matrix>();
  private buf = new Float64Array(0);

  constructor(readonly inner: InputModel, readonly shift: Float64Array, readonly scale: Float64Array) {
    const dx = inner.dx;
    if (shift.length !== dx || scale.length !== dx) throw new RangeError(`ScaledInputModel: shift/scale need ${dx} entries`);
    if (!scale.every((s) => s > 0 && Number.isFinite(s))) throw new RangeError('ScaledInputModel: scales must be positive and finite');
    this.dx = dx;
    this.order = inner.order;
    this.mean = inner.mean.map((m, a) => shift[a] + scale[a] * m);
  }

  scoreSequence(x: Float64Array, L: number, out: Float64Array, xOffset = 0, outOffset = 0): void {
    const dx = this.dx, n = L * dx;
    if (this.buf.length < n) this.buf = new Float64Array(n);
    const xt = this.buf;
    for (let i = 0; i < n; i++) xt[i] = (x[xOffset + i] - this.shift[i % dx]) / this.scale[i % dx];
    this.inner.scoreSequence(xt, L, out, 0, outOffset);
    for (let i = 0; i < n; i++) out[outOffset + i] /= this.scale[i % dx];
  }

  precisionBlock(t: number, u: number, L: number): Matrix | null {
    const P = this.inner.precisionBlock(t, u, L);
    if (P === null) return null;
    let S = this.blocks.get(P);
    if (!S) {
      const dx = this.dx;
      S = new Matrix(dx, dx);
      for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) S.data[a * dx + b] = P.data[a * dx + b] / (this.scale[a] * this.scale[b]);
      this.blocks.set(P, S);
    }
    return S;
  }

  toJSON(): InputModelJSON {
    return { kind: 'scaled', shift: Array.from(this.shift), scale: Array.from(this.scale), inner: this.inner.toJSON() };
  }

  static fromJSON(json: InputModelJSON): ScaledInputModel {
    const arr = (k: string) => {
      const v = json[k];
      if (!Array.isArray(v) || !v.every((n) => typeof n === 'number' && Number.isFinite(n))) throw new Error(`scaled input model: "${k}" must be an array of finite numbers`);
      return Float64Array.from(v as number[]);
    };
    if (typeof json.inner !== 'object' || json.inner === null) throw new Error('scaled input model: "inner" must be an input model object');
    return new ScaledInputModel(inputModelFromJSON(json.inner as InputModelJSON), arr('shift'), arr('scale'));
  }
}

registerInputModel('scaled', (json) => ScaledInputModel.fromJSON(json));

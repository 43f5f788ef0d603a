/**
 * Packed parameter vector θ of an IO-RNN or BRNN (an IO-RNN is a BRNN with dz = 0 backward neurons), the form
 * the sensitivity / gradient passes and the optimisers work on. Blocks in this order, each row-major:
 *   A1 (dh×dx) · U (dh×dh) · B1 (dz×dx) · V (dz×dz) · A2 ((dh+dz)×dy) · b (dy)
 * A2 and b are contiguous, so the output block is the (m×dy) matrix W = [A2; bᵀ], m = dh+dz+1, and
 * ŷ_t = Wᵀ s_t with s_t = [h_t; z_t; 1].
 */
import { Matrix } from '../linalg/matrix.js';
import type { RNNParams } from '../models/params.js';
import { activationKernel, type ActivationKernel } from './activation.js';
import type { Recurrence } from './recurrence.js';

/** Dimensions and offsets of a packed parameter vector. */
export interface Layout {
  readonly dx: number;
  readonly dy: number;
  readonly dh: number;
  /** Number of backward neurons; 0 for an IO-RNN. */
  readonly dz: number;
  readonly oU: number;
  readonly oB1: number;
  readonly oV: number;
  /** Start of the output block W = [A2; bᵀ] (also the number of hidden-layer parameters Qh). */
  readonly oA2: number;
  readonly ob: number;
  readonly P: number;
  /** Forward-neuron parameter count dh·dx + dh². */
  readonly Qf: number;
  /** Backward-neuron parameter count dz·dx + dz². */
  readonly Qb: number;
  /** m = dh + dz + 1 (rows of W). */
  readonly m: number;
  /** σ of the forward neurons and σ_b of the backward neurons. */
  readonly af: ActivationKernel;
  readonly ab: ActivationKernel;
}

export function makeLayout(dx: number, dy: number, dh: number, dz: number, af: ActivationKernel, ab: ActivationKernel): Layout {
  const oU = dh * dx;
  const oB1 = oU + dh * dh;
  const oV = oB1 + dz * dx;
  const oA2 = oV + dz * dz;
  const ob = oA2 + (dh + dz) * dy;
  return { dx, dy, dh, dz, oU, oB1, oV, oA2, ob, P: ob + dy, Qf: dh * dx + dh * dh, Qb: dz * dx + dz * dz, m: dh + dz + 1, af, ab };
}

/** The forward and backward recurrences of a packed θ (views into θ; no copy). */
export function recurrences(lay: Layout, th: Float64Array): { fwd: Recurrence; bwd: Recurrence } {
  return {
    fwd: { n: lay.dh, dx: lay.dx, W: th, wOff: 0, R: th, rOff: lay.oU, act: lay.af, reverse: false },
    bwd: { n: lay.dz, dx: lay.dx, W: th, wOff: lay.oB1, R: th, rOff: lay.oV, act: lay.ab, reverse: true },
  };
}

/** Layout of a model's packed parameter vector; checks the shapes (and dx, dy of the data when given). */
export function layoutOf(params: RNNParams, dx?: number, dy?: number): Layout {
  const dh = params.A1.rows;
  const px = params.A1.cols, py = params.A2.cols;
  if (dx !== undefined && px !== dx) throw new RangeError(`refine: A1 is ${dh}x${px} but the data have dx = ${dx}`);
  if (dy !== undefined && py !== dy) throw new RangeError(`refine: A2 has ${py} columns but the data have dy = ${dy}`);
  if (params.U.rows !== dh || params.U.cols !== dh) throw new RangeError(`refine: U is ${params.U.rows}x${params.U.cols}, expected ${dh}x${dh}`);
  let dz = 0;
  let actB = params.activation;
  if (params.kind === 'brnn') {
    dz = params.B1.rows;
    if (params.B1.cols !== px) throw new RangeError(`refine: B1 is ${dz}x${params.B1.cols}, expected ${dz}x${px}`);
    if (params.V.rows !== dz || params.V.cols !== dz) throw new RangeError(`refine: V is ${params.V.rows}x${params.V.cols}, expected ${dz}x${dz}`);
    actB = params.activationBackward ?? params.activation;
  } else if (params.kind !== 'iornn') {
    throw new RangeError(`refine: unknown model kind ${(params as { kind: unknown }).kind}, expected 'iornn' or 'brnn'`);
  }
  if (params.A2.rows !== dh + dz) throw new RangeError(`refine: A2 has ${params.A2.rows} rows, expected ${dh + dz}`);
  if (params.b !== undefined && params.b.length !== py) throw new RangeError(`refine: b has length ${params.b.length}, expected ${py}`);
  return makeLayout(px, py, dh, dz, activationKernel(params.activation), activationKernel(actB));
}

/** Packed θ = [A1, U, (B1, V), A2, b] (b = 0 if absent). */
export function packParams(params: RNNParams): Float64Array {
  const lay = layoutOf(params);
  const th = new Float64Array(lay.P);
  th.set(params.A1.data, 0);
  th.set(params.U.data, lay.oU);
  if (params.kind === 'brnn') {
    th.set(params.B1.data, lay.oB1);
    th.set(params.V.data, lay.oV);
  }
  th.set(params.A2.data, lay.oA2);
  if (params.b) th.set(params.b, lay.ob);
  for (let a = 0; a < th.length; a++) if (!Number.isFinite(th[a])) throw new RangeError('refine: parameters contain non-finite values');
  return th;
}

/** Inverse of packParams: a model of the same kind/activation as `template` with parameters θ (b always set). */
export function unpackParams<T extends RNNParams>(template: T, theta: Float64Array): T {
  const lay = layoutOf(template);
  if (theta.length !== lay.P) throw new RangeError(`unpackParams: θ has length ${theta.length}, expected ${lay.P}`);
  const { dx, dy, dh, dz } = lay;
  const A1 = new Matrix(dh, dx, theta.slice(0, lay.oU));
  const U = new Matrix(dh, dh, theta.slice(lay.oU, lay.oB1));
  const A2 = new Matrix(dh + dz, dy, theta.slice(lay.oA2, lay.ob));
  const b = theta.slice(lay.ob, lay.P);
  if (template.kind === 'brnn') {
    const B1 = new Matrix(dz, dx, theta.slice(lay.oB1, lay.oV));
    const V = new Matrix(dz, dz, theta.slice(lay.oV, lay.oA2));
    return { ...template, A1, U, B1, V, A2, b } as T;
  }
  return { ...template, A1, U, A2, b } as T;
}

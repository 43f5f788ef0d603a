/**
 * The refinement's work on the fit's pass threads (ChunkPool.call, src/learn/chunk-pool.ts), bit for bit what the
 * main thread would compute (docs/architecture.md "Parallel work"). In an LM iteration with a curvature subset
 * (src/learn/rnn-problem.ts) the normal matrix comes from sensitivities on the subset and the gradient from BPTT
 * on every training sequence: two independent passes, each one sum in its own order. The gradient pass runs on a
 * thread while this thread runs the sensitivities; only where each is computed changes, not its summation order.
 */
import type { SequenceChunk } from '../io/dataset.js';
import type { Layout } from '../rnn/layout.js';
import type { PassResult } from '../rnn/states.js';
import type { ChunkPool } from './chunk-pool.js';
import type { GradientCallArgs } from './chunk-tasks.js';

/** Start the gradient pass at θ elsewhere; the returned function adds it to g (null: not run, compute it here). */
export type GradientOffload = (theta: Float64Array) => (g: Float64Array) => PassResult | null;

/** The training sequences copied once into shared memory, then one pool call per gradient. */
export function gradientOnPool(pool: ChunkPool, lay: Layout, train: readonly SequenceChunk[], burnIn: number): GradientOffload {
  const shared = <T extends Float64Array | Int32Array>(a: T): T => {
    const s = new (a.constructor as { new (b: SharedArrayBuffer): T })(new SharedArrayBuffer(a.byteLength));
    s.set(a as never);
    return s;
  };
  const chunks = train.map((c) => ({
    dx: c.dx, dy: c.dy, rows: c.rows, x: shared(c.x.subarray(0, c.rows * c.dx)), y: shared(c.y.subarray(0, c.rows * c.dy)), lengths: shared(c.lengths),
  }));
  const theta = new Float64Array(new SharedArrayBuffer(8 * lay.P));
  const out = new Float64Array(new SharedArrayBuffer(8 * (lay.P + 3)));
  const P = lay.P;
  return (th) => {
    theta.set(th);
    const call = pool.call('gradient', { lay, chunks, burnIn, theta, out } satisfies GradientCallArgs);
    return (g) => {
      if (!call.wait()) return null;
      // g += the thread's gradient (which it summed from zero, as gradientPass does into the caller's zeroed g).
      for (let a = 0; a < P; a++) g[a] += out[a];
      return { sse: out[P], rows: out[P + 1], blowup: out[P + 2] !== 0 };
    };
  };
}

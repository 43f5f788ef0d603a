/**
 * BPTT baseline for bench/real: a tanh SimpleRNN (Keras-style, TensorFlow.js CPU backend, float32) with a linear
 * read-out, trained with Adam on windows of the training record, for a fixed wall-clock budget.
 *
 *   h_t = tanh(W u_t + R h_{t−1} + c),  y_t = vᵀ h_t + d   (inputs and outputs standardised with the training stats)
 *
 * Windows of `window` steps start every `window/2` samples and from a zero state (the IO-RNN convention); their loss
 * skips the first `burn` steps, so the unknown state at a window's start does not bias the fit. The test free run
 * is computed in float64 from the trained weights (same recursion, from a zero state).
 */
import type * as TF from '@tensorflow/tfjs';
import type { RealData } from './data.js';

export interface BPTTOptions {
  units: number;
  window: number;
  burn: number;
  batch: number;
  learningRate: number;
  budgetSeconds: number;
  seed: number;
}

export interface BPTTResult {
  yhat: Float64Array;
  epochs: number;
  steps: number;
  seconds: number;
  finalLoss: number;
}

function stats(v: Float64Array[]): { mean: number; std: number } {
  let n = 0, s = 0, s2 = 0;
  for (const a of v) for (const x of a) {
    n++;
    s += x;
    s2 += x * x;
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(s2 / n - mean * mean) };
}

/** Deterministic xorshift for the window shuffle (tfjs's own initialisers take `seed`). */
function shuffle(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

export async function trainBPTT(d: RealData, o: BPTTOptions): Promise<BPTTResult> {
  const tf: typeof TF = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const su = stats(d.train.map((s) => s.u)), sy = stats(d.train.map((s) => s.y));
  // Windows (start offsets) over every training sequence.
  const wins: { s: number; t0: number }[] = [];
  d.train.forEach((seq, s) => {
    for (let t0 = 0; t0 + o.window <= seq.u.length; t0 += Math.floor(o.window / 2)) wins.push({ s, t0 });
  });
  if (wins.length === 0) throw new Error(`BPTT: no training window of ${o.window} steps (sequences too short)`);
  const K = o.units, W = o.window, batch = Math.min(o.batch, wins.length);
  const init = (shape: number[], scale: number, seed: number) => tf.variable(tf.randomUniform(shape, -scale, scale, 'float32', seed));
  const Wv = init([1, K], Math.sqrt(6 / (1 + K)), o.seed);
  // Recurrent weights: orthogonal-like scale (Keras uses an orthogonal initialiser); a uniform matrix scaled to ≈ 0.9 gain.
  const Rv = init([K, K], Math.sqrt(3 / K) * 0.9, o.seed + 1);
  const cv = tf.variable(tf.zeros([1, K]));
  const vv = init([K, 1], Math.sqrt(6 / (K + 1)), o.seed + 2);
  const dv = tf.variable(tf.zeros([1, 1]));
  const vars = [Wv, Rv, cv, vv, dv];
  const opt = tf.train.adam(o.learningRate);
  const t0 = performance.now();
  let epochs = 0, steps = 0, finalLoss = NaN;
  const deadline = t0 + o.budgetSeconds * 1000;
  while (performance.now() <= deadline) {
    const order = shuffle(wins.length, o.seed + 7 * epochs + 3);
    for (let b0 = 0; b0 + batch <= order.length && performance.now() <= deadline; b0 += batch) {
      const B = batch;
      const ub = new Float32Array(W * B), yb = new Float32Array(W * B);
      for (let i = 0; i < B; i++) {
        const w = wins[order[b0 + i]], seq = d.train[w.s];
        for (let t = 0; t < W; t++) {
          ub[t * B + i] = (seq.u[w.t0 + t] - su.mean) / su.std;
          yb[t * B + i] = (seq.y[w.t0 + t] - sy.mean) / sy.std;
        }
      }
      const loss = tf.tidy(() => {
        const u = tf.tensor2d(ub, [W * B, 1]), y = tf.tensor2d(yb, [W * B, 1]);
        const { value, grads } = tf.variableGrads(() => {
          const xin = tf.add(tf.matMul(u, Wv), cv); // (W·B)×K, input part of every step at once
          let h = tf.zeros([B, K]) as TF.Tensor2D;
          const outs: TF.Tensor2D[] = [];
          for (let t = 0; t < W; t++) {
            h = tf.tanh(tf.add(xin.slice([t * B, 0], [B, K]), tf.matMul(h, Rv))) as TF.Tensor2D;
            if (t >= o.burn) outs.push(h);
          }
          const H = tf.concat(outs, 0);
          const yhat = tf.add(tf.matMul(H, vv), dv);
          return tf.losses.meanSquaredError(y.slice([o.burn * B, 0], [(W - o.burn) * B, 1]), yhat) as TF.Scalar;
        }, vars);
        opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        return value.dataSync()[0];
      });
      finalLoss = loss;
      steps++;
    }
    epochs++;
  }
  const seconds = (performance.now() - t0) / 1000;
  // Float64 free run on the test input.
  const Wd = Wv.dataSync(), Rd = Rv.dataSync(), cd = cv.dataSync(), vd = vv.dataSync(), dd = dv.dataSync()[0];
  const u = d.test.u, yhat = new Float64Array(u.length);
  let h = new Float64Array(K), hn = new Float64Array(K);
  for (let t = 0; t < u.length; t++) {
    const ut = (u[t] - su.mean) / su.std;
    for (let k = 0; k < K; k++) {
      let z = Wd[k] * ut + cd[k];
      for (let j = 0; j < K; j++) z += h[j] * Rd[j * K + k];
      hn[k] = Math.tanh(z);
    }
    [h, hn] = [hn, h];
    let yv = dd;
    for (let k = 0; k < K; k++) yv += h[k] * vd[k];
    yhat[t] = sy.mean + sy.std * yv;
  }
  for (const v of vars) v.dispose();
  return { yhat, epochs, steps, seconds, finalLoss };
}

import { Rng } from '../src/random/rng.js';
import { makeChunk, SequenceChunk } from '../src/io/dataset.js';
import { randomIORNN } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { fitInputModelAuto } from '../src/input/auto.js';
import { MixtureVAR1 } from '../src/input/var1-mixture.js';
import { momentPass } from '../src/moments/accumulator.js';
import { T2Accumulator } from '../src/moments/single.js';
import { NGT2Accumulator } from '../src/moments/nongaussian.js';
import { centredChunk } from '../src/learn/common.js';
const DX = 4, DH = 3, DY = 4, L = 20, RHO = 0.6, SIGMA = 0.4;
const kind = process.argv[2] ?? 'laplace';
function draw(rng: Rng): number {
  if (kind === 'uniform') return (2 * rng.uniform() - 1) * Math.sqrt(3);
  if (kind === 'gaussian') return rng.normal();
  const u = rng.uniform() - 0.5; return (-Math.sign(u) * Math.log(1 - 2 * Math.abs(u))) / Math.SQRT2;
}
const nSeq = Number(process.argv[3] ?? 5000);
const rng = new Rng(5), q = SIGMA * Math.sqrt(1 - RHO * RHO);
const x = new Float64Array(nSeq * L * DX), c = new Float64Array(DX); let r = 0;
for (let s = 0; s < nSeq; s++) { c.fill(0); for (let t = -50; t < L; t++) { for (let a = 0; a < DX; a++) c[a] = RHO * c[a] + q * draw(rng); if (t >= 0) x.set(c, (r++) * DX); } }
const lengths = new Int32Array(nSeq).fill(L);
const truth = randomIORNN({ dx: DX, dh: DH, dy: DY, uNorm: 0.3, seed: 7 });
const inp = makeChunk(DX, 0, x, new Float64Array(0), lengths);
const y = predictIORNN(truth, inp);
const data = makeChunk(DX, DY, x, y, lengths);
const auto = await fitInputModelAuto(data, { seed: 1, maxComponents: Number(process.argv[4] ?? 4) });
console.log(auto.diagnostics.mixture?.components.map(c=>c.weights.length).join(","));
const T = new Float64Array(DY * DX * DX);
for (let j = 0; j < DH; j++) for (let i = 0; i < DY; i++) for (let a = 0; a < DX; a++) for (let b = 0; b < DX; b++) T[(i * DX + a) * DX + b] += 2 * truth.A2.data[j * DY + i] * truth.A1.data[j * DX + a] * truth.A1.data[j * DX + b];
const yMean = new Float64Array(DY); for (let i = 0; i < y.length; i++) yMean[i % DY] += y[i] / data.rows;
const cd = centredChunk(data, yMean);
const rel = (e: Float64Array) => { let n = 0, d = 0; for (let i = 0; i < T.length; i++) { n += (e[i] - T[i]) ** 2; d += T[i] ** 2; } return Math.sqrt(n / d); };
const g = auto.gaussian.model; const ga = new T2Accumulator(g, DY); momentPass(g, cd, [ga]); console.log('gaussian T2 rel err', rel(ga.result()));
if (auto.model instanceof MixtureVAR1) { const na = new NGT2Accumulator(auto.model, DY); momentPass(auto.model, cd, [na]); console.log('mixture T2 rel err', rel(na.result()));
 const m = auto.model; console.log('W', m.W.toArray().map(r=>r.map(v=>v.toFixed(2)).join(' ')).join(' | ')); }
import { pinv } from '../src/linalg/pinv.js';
import { transpose } from '../src/linalg/matrix.js';
import { ControlVariate } from '../src/moments/control.js';
import { ProjectedMixedAccumulator } from '../src/moments/mixed.js';
import { NGProjectedMixedAccumulator } from '../src/moments/nongaussian.js';
{
  const G = pinv(truth.A1).pinv, Wd = pinv(transpose(truth.A2)).pinv;
  const cv = new ControlVariate(DX, DY, { center: auto.gaussian.model.mean }); momentPass(null, data, [cv]); const cvFit = cv.solve();
  const show = (name: string, C: Float64Array) => { let e = 0, n = 0; for (let i = 0; i < 9; i++) { e += (C[i] / 4 - truth.U.data[i]) ** 2; n += truth.U.data[i] ** 2; } console.log(name, 'U rel err', Math.sqrt(e / n).toFixed(3), Array.from(C).map(v => (v / 4).toFixed(3)).join(' ')); };
  console.log('true U', Array.from(truth.U.data).map(v => v.toFixed(3)).join(' '));
  for (const tgt of ['residual', 'y'] as const) {
    const ga = new ProjectedMixedAccumulator(auto.gaussian.model, DY, 'prev', Wd, G, G, { target: tgt }); momentPass(auto.gaussian.model, tgt === 'y' ? cd : data, [ga], cvFit); show('gauss ' + tgt, ga.result());
    if (auto.model instanceof MixtureVAR1) { const na = new NGProjectedMixedAccumulator(auto.model, DY, 'prev', Wd, G, G, { target: tgt }); momentPass(auto.model, tgt === 'y' ? cd : data, [na], cvFit); show('mix ' + tgt, na.result()); }
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix as MLMatrix, inverse } from 'ml-matrix';
import { Matrix, matmul, transpose } from '../src/linalg/matrix.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import {
  hermite2,
  hermite2Contract,
  hermite2Project,
  hermite3,
  hermite3Contract,
  hermite4,
  hermite4Contract,
  mixedContract,
  mixedContractMode1,
  mixedScore,
  mixedScoreArgs,
} from '../src/input/scores.js';
import { Rng } from '../src/random/rng.js';

function randMat(rng: Rng, r: number, c: number, s = 1): Matrix {
  const m = new Matrix(r, c);
  for (let i = 0; i < m.data.length; i++) m.data[i] = s * rng.normal();
  return m;
}
function randSPD(rng: Rng, n: number): Matrix {
  const A = randMat(rng, n, n);
  const S = matmul(A, transpose(A));
  for (let i = 0; i < n; i++) S.data[i * n + i] += 0.5 * n;
  return S;
}
function makeVAR(rng: Rng, dx: number, rho = 0.6): GaussianVAR1 {
  // F = rho · orthogonal-ish random matrix scaled by its spectral norm bound (Frobenius) to be stable.
  const F = randMat(rng, dx, dx);
  let fro = 0;
  for (const v of F.data) fro += v * v;
  for (let i = 0; i < F.data.length; i++) F.data[i] *= rho / Math.sqrt(fro);
  const mu = Array.from({ length: dx }, () => rng.normal());
  return new GaussianVAR1(mu, F, randSPD(rng, dx));
}
function matPow(F: Matrix, k: number): Matrix {
  let R = Matrix.identity(F.rows);
  for (let i = 0; i < k; i++) R = matmul(R, F);
  return R;
}
/** Joint precision of a length-L sequence by inverting the joint covariance Cov(x_t, x_u) = F^{t−u} Σ (ml-matrix oracle). */
function jointPrecision(m: GaussianVAR1, L: number): MLMatrix {
  const dx = m.dx;
  const C = new MLMatrix(L * dx, L * dx);
  for (let t = 0; t < L; t++)
    for (let u = 0; u <= t; u++) {
      const B = matmul(matPow(m.F, t - u), m.Sigma);
      for (let a = 0; a < dx; a++)
        for (let b = 0; b < dx; b++) {
          C.set(t * dx + a, u * dx + b, B.get(a, b));
          C.set(u * dx + b, t * dx + a, B.get(a, b));
        }
    }
  return inverse(C);
}

test('scoreSequence = Λ(x − μ) with Λ from inverting the joint covariance, boundary blocks included (L = 1..6)', () => {
  const rng = new Rng(11);
  const m = makeVAR(rng, 3);
  const dx = 3;
  for (const L of [1, 2, 3, 6]) {
    const Lam = jointPrecision(m, L);
    const x = m.simulate(rng, [L]);
    const s = new Float64Array(L * dx);
    m.scoreSequence(x, L, s);
    let maxErr = 0, scale = 0;
    for (let i = 0; i < L * dx; i++) {
      let v = 0;
      for (let j = 0; j < L * dx; j++) v += Lam.get(i, j) * (x[j] - m.mean[j % dx]);
      maxErr = Math.max(maxErr, Math.abs(v - s[i]));
      scale = Math.max(scale, Math.abs(v));
    }
    assert.ok(maxErr < 1e-9 * Math.max(1, scale), `L=${L}: score error ${maxErr}`);
    // Every block Λ_{t,u} agrees with precisionBlock (null = structurally zero).
    for (let t = 0; t < L; t++)
      for (let u = 0; u < L; u++) {
        const B = m.precisionBlock(t, u, L);
        for (let a = 0; a < dx; a++)
          for (let b = 0; b < dx; b++) {
            const want = Lam.get(t * dx + a, u * dx + b);
            const got = B === null ? 0 : B.get(a, b);
            assert.ok(Math.abs(want - got) < 1e-9 * (1 + Math.abs(want)), `L=${L} block (${t},${u})[${a},${b}]: ${got} vs ${want}`);
          }
      }
  }
});

test('i.i.d. model: every P_t is Σ⁻¹ and there are no off-diagonal blocks', () => {
  const rng = new Rng(3);
  const S = randSPD(rng, 4);
  const m = GaussianVAR1.iid([1, 2, 3, 4], S);
  const SI = inverse(new MLMatrix(S.toArray()));
  for (const [t, L] of [[0, 1], [0, 5], [2, 5], [4, 5]]) {
    const P = m.precisionBlock(t, t, L)!;
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) assert.ok(Math.abs(P.get(a, b) - SI.get(a, b)) < 1e-10);
  }
  assert.equal(m.precisionBlock(1, 0, 5), null);
});

function isSymmetricTensor(T: Float64Array, dx: number, order: number, rng: Rng): boolean {
  // Compare random index tuples with a random permutation of them.
  for (let trial = 0; trial < 200; trial++) {
    const idx = Array.from({ length: order }, () => rng.int(dx));
    const perm = [...idx].sort(() => rng.uniform() - 0.5);
    const flat = (ix: number[]) => ix.reduce((acc, v) => acc * dx + v, 0);
    if (Math.abs(T[flat(idx)] - T[flat(perm)]) > 1e-12 * (1 + Math.abs(T[flat(idx)]))) return false;
  }
  return true;
}

test('Hermite scores S2..S4 are symmetric and match the generating function exp(τ u·s − ½τ² uᵀPu) (He_m with variance uᵀPu)', () => {
  const rng = new Rng(5);
  const dx = 3;
  const P = randSPD(rng, dx);
  for (let rep = 0; rep < 5; rep++) {
    const s = rng.normalArray(dx);
    const u = rng.normalArray(dx);
    const a = u.reduce((z, v, i) => z + v * s[i], 0);
    let q = 0;
    for (let i = 0; i < dx; i++) for (let j = 0; j < dx; j++) q += u[i] * P.get(i, j) * u[j];
    // Probabilists' Hermite with variance q: He2 = a² − q, He3 = a³ − 3aq, He4 = a⁴ − 6a²q + 3q².
    const he = [a * a - q, a ** 3 - 3 * a * q, a ** 4 - 6 * a * a * q + 3 * q * q];
    const T = [hermite2(s, P), hermite3(s, P), hermite4(s, P)];
    for (let m = 0; m < 3; m++) {
      const order = m + 2;
      assert.ok(isSymmetricTensor(T[m], dx, order, rng), `S${order} symmetric`);
      // full contraction with u
      let v = 0;
      const n = dx ** order;
      for (let f = 0; f < n; f++) {
        let w = T[m][f];
        let r = f;
        for (let k = 0; k < order; k++) {
          w *= u[r % dx];
          r = Math.floor(r / dx);
        }
        v += w;
      }
      assert.ok(Math.abs(v - he[m]) < 1e-9 * (1 + Math.abs(he[m])), `S${order}[u..u] = ${v}, He = ${he[m]}`);
    }
  }
});

test('contractions equal the explicit tensors contracted with the same vectors', () => {
  const rng = new Rng(9);
  const dx = 4;
  const P = randSPD(rng, dx), Pr = randSPD(rng, dx), Lb = randMat(rng, dx, dx, 0.3);
  const s = rng.normalArray(dx), r = rng.normalArray(dx);
  const u = rng.normalArray(dx), v = rng.normalArray(dx), w = rng.normalArray(dx), z = rng.normalArray(dx);
  const c2 = (T: Float64Array) => {
    let x = 0;
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) x += T[a * dx + b] * u[a] * v[b];
    return x;
  };
  const c3 = (T: Float64Array) => {
    let x = 0;
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) for (let c = 0; c < dx; c++) x += T[(a * dx + b) * dx + c] * u[a] * v[b] * w[c];
    return x;
  };
  let x4 = 0;
  const T4 = hermite4(s, P);
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++)
      for (let c = 0; c < dx; c++) for (let d = 0; d < dx; d++) x4 += T4[((a * dx + b) * dx + c) * dx + d] * u[a] * v[b] * w[c] * z[d];
  const close = (p: number, q: number) => assert.ok(Math.abs(p - q) < 1e-10 * (1 + Math.abs(q)), `${p} vs ${q}`);
  close(hermite2Contract(s, P, u, v), c2(hermite2(s, P)));
  close(hermite3Contract(s, P, u, v, w), c3(hermite3(s, P)));
  close(hermite4Contract(s, P, u, v, w, z), x4);
  const H = mixedScore(s, r, Pr, Lb);
  close(mixedContract(s, r, Pr, Lb, u, v, w), c3(H));
  const M = mixedContractMode1(s, r, Pr, Lb, u);
  for (let b = 0; b < dx; b++)
    for (let c = 0; c < dx; c++) {
      let x = 0;
      for (let a = 0; a < dx; a++) x += u[a] * H[(a * dx + b) * dx + c];
      close(M.get(b, c), x);
    }
  const G = randMat(rng, dx, 2);
  const PG = hermite2Project(s, P, G);
  const S2 = hermite2(s, P);
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 2; j++) {
      let x = 0;
      for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) x += G.get(a, i) * S2[a * dx + b] * G.get(b, j);
      close(PG.get(i, j), x);
    }
});

test('mixed score matches the bivariate generating function: H[u,v,v] = ab² − a·vᵀP_r v − 2b·uᵀΛ_{t,u}v', () => {
  // exp(τ1 a + τ2 b − ½(τ1² A + 2τ1τ2 C + τ2² B)): coefficient of τ1τ2² times 1!2! is ab² − aB − 2bC,
  // with a = u·s_t, b = v·s_{t±1}, B = vᵀP_{t±1}v, C = uᵀΛ_{t,t±1}v — from the model's own blocks.
  const rng = new Rng(21);
  const m = makeVAR(rng, 3);
  const L = 4;
  const x = m.simulate(rng, [L]);
  const s = new Float64Array(L * 3);
  m.scoreSequence(x, L, s);
  for (const [t, dir] of [[1, 'prev'], [3, 'prev'], [0, 'next'], [2, 'next']] as const) {
    const g = mixedScoreArgs(m, s, L, t, dir);
    const u = rng.normalArray(3), v = rng.normalArray(3);
    const a = u.reduce((z, w, i) => z + w * g.s[i], 0), b = v.reduce((z, w, i) => z + w * g.r[i], 0);
    const uOff = dir === 'prev' ? t - 1 : t + 1;
    const Pu = m.precisionBlock(uOff, uOff, L)!, Ltu = m.precisionBlock(t, uOff, L)!;
    let B = 0, C = 0;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        B += v[i] * Pu.get(i, j) * v[j];
        C += u[i] * Ltu.get(i, j) * v[j];
      }
    const want = a * b * b - a * B - 2 * b * C;
    const got = mixedContract(g.s, g.r, g.Pr, g.L, u, v, v);
    assert.ok(Math.abs(got - want) < 1e-9 * (1 + Math.abs(want)), `t=${t} ${dir}: ${got} vs ${want}`);
  }
  assert.throws(() => mixedScoreArgs(m, s, L, 0, 'prev'), /no prev neighbour/);
  assert.throws(() => mixedScoreArgs(m, s, L, 3, 'next'), /no next neighbour/);
});

test('Stein for S3 and S4 at boundary and interior steps of short VAR(1) sequences: E[(v·x_t)^m S_m[u..u]] = m!(u·v)^m', () => {
  // G = (v·(x_t − μ))^m has constant m-th derivative m! v^{⊗m}; Monte Carlo over 4e5 sequences of length 3
  // (t = 0 boundary, t = 1 interior, t = 2 last). Error falls as n^−1/2: a tolerance of 4 standard errors.
  const rng = new Rng(77);
  const m = makeVAR(rng, 2, 0.7);
  const dx = 2, L = 3, nSeq = 100000;
  const u = [0.8, -0.5], v = [0.6, 0.9];
  const uv = u[0] * v[0] + u[1] * v[1];
  const x = m.simulate(rng, new Array(nSeq).fill(L));
  const s = new Float64Array(L * dx);
  for (let t = 0; t < L; t++) {
    const P = m.precisionBlock(t, t, L)!;
    const acc3: number[] = [], acc4: number[] = [];
    for (let k = 0; k < nSeq; k++) {
      m.scoreSequence(x, L, s, k * L * dx, 0);
      const st = s.subarray(t * dx, t * dx + dx);
      const c = [x[(k * L + t) * dx] - m.mean[0], x[(k * L + t) * dx + 1] - m.mean[1]];
      const g = v[0] * c[0] + v[1] * c[1];
      acc3.push(g ** 3 * hermite3Contract(st, P, u, u, u));
      acc4.push(g ** 4 * hermite4Contract(st, P, u, u, u, u));
    }
    for (const [acc, want] of [[acc3, 6 * uv ** 3], [acc4, 24 * uv ** 4]] as const) {
      const mean = acc.reduce((a, b) => a + b, 0) / nSeq;
      const sd = Math.sqrt(acc.reduce((a, b) => a + (b - mean) ** 2, 0) / nSeq);
      const se = sd / Math.sqrt(nSeq);
      assert.ok(Math.abs(mean - want) < 4 * se, `t=${t}: mean ${mean} vs exact ${want} (se ${se})`);
    }
  }
});

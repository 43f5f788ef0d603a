/**
 * Dense linear-algebra benchmark: gloree's hand-written flat-Float64Array SVD / symmetric eig vs
 * ml-matrix 6 and numpy (LAPACK via OpenBLAS, one thread; bench/numpy_linalg.py run as a child).
 * Also times a one-sided Jacobi SVD candidate (below) to justify the Golub–Kahan choice.
 *
 * `benchLinalg()` returns a JSON-able object; run directly to print it:
 *   node --import tsx bench/linalg.ts [N ...]      (default N = 200)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { Matrix as MlMatrix, SingularValueDecomposition, EigenvalueDecomposition } from 'ml-matrix';
import { Matrix, add, transpose, matmul, matmulNT, frobeniusNorm, sub } from '../src/linalg/matrix.js';
import { svd } from '../src/linalg/svd.js';
import { eigSym } from '../src/linalg/eigsym.js';
import { Rng } from '../src/random/rng.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Median time per call in ms. Each sample repeats f enough times to last ≥ 5 ms (so tiny sizes are
 * measurable). `cpu` uses process.cpuUsage (user + system), which is far less sensitive than wall
 * time when other processes share the machine; for this single-threaded code both agree when idle.
 */
function timeIt(f: () => unknown, runs: number): { wall: number; cpu: number } {
  // Warm up for ≥ 3 calls and ≥ 150 ms so small sizes are timed in optimised (TurboFan) code.
  const w0 = performance.now();
  let calls = 0;
  for (; calls < 3 || performance.now() - w0 < 150; calls++) f();
  const perCall = (performance.now() - w0) / calls;
  const reps = Math.max(1, Math.ceil(5 / Math.max(perCall, 1e-3)));
  const wall: number[] = [], cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let k = 0; k < reps; k++) f();
    const t1 = performance.now();
    const c = process.cpuUsage(c0);
    wall.push((t1 - t0) / reps);
    cpu.push((c.user + c.system) / 1000 / reps);
  }
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: med(wall), cpu: med(cpu) };
}

function scaleCols(M: Matrix, s: ArrayLike<number>): Matrix {
  const out = M.clone();
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.cols; j++) out.data[i * M.cols + j] *= s[j];
  return out;
}

/** ‖A − U diag(S) Vᵀ‖_F / ‖A‖_F */
function svdRecon(A: Matrix, U: Matrix, S: ArrayLike<number>, V: Matrix): number {
  return frobeniusNorm(sub(A, matmulNT(scaleCols(U, S), V))) / frobeniusNorm(A);
}

/**
 * One-sided (Hestenes) Jacobi SVD candidate, square/tall full-rank input only (bench use).
 * Columns of A are stored contiguously (column-major), column norms cached and refreshed each sweep.
 */
export function jacobiSvd(A: Matrix): { U: Matrix; S: Float64Array; V: Matrix; sweeps: number } {
  const m = A.rows, n = A.cols;
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[j * m + i] = A.data[i * n + j];
  const v = new Float64Array(n * n);
  for (let j = 0; j < n; j++) v[j * n + j] = 1;
  const nrm = new Float64Array(n);
  const eps = 2 ** -52;
  let sweeps = 0;
  for (; sweeps < 60; sweeps++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += a[j * m + i] ** 2;
      nrm[j] = s;
    }
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const cp = p * m, vp = p * n;
      for (let q = p + 1; q < n; q++) {
        const cq = q * m, vq = q * n;
        let g = 0;
        for (let i = 0; i < m; i++) g += a[cp + i] * a[cq + i];
        const al = nrm[p], be = nrm[q];
        if (Math.abs(g) <= eps * Math.sqrt(al * be) || g === 0) continue;
        rotated = true;
        const zeta = (be - al) / (2 * g);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < m; i++) {
          const x = a[cp + i], y = a[cq + i];
          a[cp + i] = c * x - s * y;
          a[cq + i] = s * x + c * y;
        }
        for (let i = 0; i < n; i++) {
          const x = v[vp + i], y = v[vq + i];
          v[vp + i] = c * x - s * y;
          v[vq + i] = s * x + c * y;
        }
        nrm[p] = al - t * g;
        nrm[q] = be + t * g;
      }
    }
    if (!rotated) break;
  }
  const sv = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += a[j * m + i] ** 2;
    sv[j] = Math.sqrt(s);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => sv[y] - sv[x]);
  const U = new Matrix(m, n), V = new Matrix(n, n), S = new Float64Array(n);
  order.forEach((j, c) => {
    S[c] = sv[j];
    for (let i = 0; i < m; i++) U.data[i * n + c] = a[j * m + i] / sv[j];
    for (let i = 0; i < n; i++) V.data[i * n + c] = v[j * n + i];
  });
  return { U, S, V, sweeps };
}

function runNumpy(sizes: number[], runs: number): { ok: true; data: any } | { ok: false; error: string } {
  try {
    const out = execFileSync('python3', [path.join(here, 'numpy_linalg.py'), '--runs', String(runs), ...sizes.map(String)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
      timeout: 300_000,
    });
    return { ok: true, data: JSON.parse(out) };
  } catch (e) {
    return { ok: false, error: (e as Error).message.split('\n')[0] };
  }
}

export async function benchLinalg(sizes: number[] = [200], runs = 7): Promise<object> {
  const rng = new Rng(12345);
  const numpy = runNumpy(sizes, runs);
  const results: object[] = [];
  for (const n of sizes) {
    const A = new Matrix(n, n, rng.normalArray(n * n));
    const Ssym = add(A, transpose(A));
    const mlA = new MlMatrix(A.toArray());
    const mlS = new MlMatrix(Ssym.toArray());

    const half = Math.max(3, Math.floor(runs / 2));
    const gk = timeIt(() => svd(A), runs);
    const jac = timeIt(() => jacobiSvd(A), half);
    const eig = timeIt(() => eigSym(Ssym), runs);
    const mlSvd = timeIt(() => new SingularValueDecomposition(mlA), half);
    const mlEig = timeIt(() => new EigenvalueDecomposition(mlS, { assumeSymmetric: true }), half);

    const r = svd(A);
    const j = jacobiSvd(A);
    const e = eigSym(Ssym);
    const eigRecon = frobeniusNorm(sub(matmul(Ssym, e.vectors), scaleCols(e.vectors, e.values))) / frobeniusNorm(Ssym);
    const np = numpy.ok ? numpy.data.results.find((x: any) => x.n === n) : undefined;
    results.push({
      n,
      // Median wall-clock ms per call.
      ms: {
        svdGolubKahan: gk.wall,
        svdOneSidedJacobi: jac.wall,
        eigSym: eig.wall,
        mlMatrixSvd: mlSvd.wall,
        mlMatrixEigSym: mlEig.wall,
        numpySvd: np?.svd_ms,
        numpyEigh: np?.eigh_ms,
      },
      // Median CPU ms per call (robust to other load on the machine).
      cpuMs: {
        svdGolubKahan: gk.cpu,
        svdOneSidedJacobi: jac.cpu,
        eigSym: eig.cpu,
        mlMatrixSvd: mlSvd.cpu,
        mlMatrixEigSym: mlEig.cpu,
        numpySvd: np?.svd_cpu_ms,
        numpyEigh: np?.eigh_cpu_ms,
      },
      ratioToNumpy: np
        ? {
            wall: { svd: gk.wall / np.svd_ms, eigSym: eig.wall / np.eigh_ms, mlMatrixSvd: mlSvd.wall / np.svd_ms, mlMatrixEigSym: mlEig.wall / np.eigh_ms },
            cpu: { svd: gk.cpu / np.svd_cpu_ms, eigSym: eig.cpu / np.eigh_cpu_ms, mlMatrixSvd: mlSvd.cpu / np.svd_cpu_ms, mlMatrixEigSym: mlEig.cpu / np.eigh_cpu_ms },
          }
        : undefined,
      reconstruction: {
        svdGolubKahan: svdRecon(A, r.U, r.S, r.V),
        svdOneSidedJacobi: svdRecon(A, j.U, j.S, j.V),
        jacobiSweeps: j.sweeps,
        eigSym: eigRecon,
        numpySvd: np?.svd_recon,
        numpyEigh: np?.eigh_recon,
      },
    });
  }
  return {
    bench: 'linalg',
    node: process.version,
    runs,
    numpy: numpy.ok ? { version: numpy.data.numpy, threads: numpy.data.threads } : { error: numpy.error },
    results,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const sizes = process.argv.slice(2).map(Number).filter((x) => Number.isInteger(x) && x > 0);
  benchLinalg(sizes.length ? sizes : [200]).then((r) => console.log(JSON.stringify(r, null, 2)));
}

#!/usr/bin/env python3
"""numpy reference for bench/decomposition.ts: the same Jennrich and ALS computations as
src/decomposition/jennrich.ts and als.ts, on the same tensor.

Usage: python3 bench/numpy_cp.py TENSOR.f64 TRUTH.json [--runs R] [--sweeps S]
  TENSOR.f64  row-major float64 little-endian tensor data; TRUTH.json holds
  {"shape": [I, J, K], "rank": R, "weights": [...], "factors": [[row-major I*R], ...], "seed": s}.
Prints one JSON object {"numpy", "threads", "jennrich": {...}, "als": {...}} with median times (ms),
relative reconstruction error and max component error against the truth (same metric as cpCompare).
OPENBLAS_NUM_THREADS defaults to 1 so the comparison is single-threaded like the TypeScript code.
"""
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402


def median_ms(f, runs):
    out = f()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = f()
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts)), out


def unfold(T, mode):
    return np.moveaxis(T, mode, 0).reshape(T.shape[mode], -1)


def khatri_rao(A, B):
    return (A[:, None, :] * B[None, :, :]).reshape(-1, A.shape[1])


def cp_to_tensor(w, fs):
    A, B, C = fs
    return np.einsum("r,ir,jr,kr->ijk", w, A, B, C, optimize=True)


def normalize(w, fs):
    w = w.copy()
    out = []
    for F in fs:
        n = np.linalg.norm(F, axis=0)
        w = w * n
        out.append(F / n)
    return w, out


def component_error(truth, est):
    """Greedy matching on rank-1 component errors, then the accurate formula of cpCompare."""
    wa, A = normalize(*truth)
    wb, B = normalize(*est)
    R = len(wa)
    inner = [A[k].T @ B[k] for k in range(3)]
    prod = inner[0] * inner[1] * inner[2]
    err = np.sqrt(np.maximum(wa[:, None] ** 2 + wb[None, :] ** 2 - 2 * wa[:, None] * wb[None, :] * prod, 0)) / np.abs(wa)[:, None]
    perm = [-1] * R
    used_r, used_s = set(), set()
    for _ in range(R):
        best = None
        for r in range(R):
            if r in used_r:
                continue
            for s in range(err.shape[1]):
                if s in used_s:
                    continue
                if best is None or err[r, s] < best[0]:
                    best = (err[r, s], r, s)
        perm[best[1]] = best[2]
        used_r.add(best[1])
        used_s.add(best[2])
    worst = 0.0
    for r in range(R):
        s = perm[r]
        sign, logp = 1.0, 0.0
        for k in range(3):
            sk = -1.0 if inner[k][r, s] < 0 else 1.0
            sign *= sk
            d2 = float(np.sum((A[k][:, r] - sk * B[k][:, s]) ** 2))
            logp += np.log1p(-min(d2 / 2, 1.0))
        w, v = wa[r], wb[s] * sign
        e2 = (w - v) ** 2 + 2 * w * v * (-np.expm1(logp))
        worst = max(worst, np.sqrt(max(e2, 0)) / abs(w))
    return float(worst)


def jennrich(T, R, rng, n_random=10):
    """General-case Jennrich as in jennrich.ts: project modes 0, 1; best of n_random contractions; slice SVDs."""
    I, J, K = T.shape
    U0 = np.linalg.svd(unfold(T, 0), full_matrices=False)[0][:, :R] if R < I else None
    U1 = np.linalg.svd(unfold(T, 1), full_matrices=False)[0][:, :R] if R < J else None
    P = T
    if U0 is not None:
        P = np.einsum("ijk,ia->ajk", P, U0, optimize=True)
    if U1 is not None:
        P = np.einsum("ajk,jb->abk", P, U1, optimize=True)
    best = None
    for _ in range(n_random):
        u, v = rng.standard_normal(K), rng.standard_normal(K)
        Mu, Mv = P @ u, P @ v
        X = Mu @ np.linalg.pinv(Mv)
        lam, vec = np.linalg.eig(X)
        mx = np.max(np.abs(lam))
        d = np.abs(lam[:, None] - lam[None, :]) + np.diag(np.full(R, np.inf))
        sep = float(np.min(d) / mx) if R > 1 else 1.0
        if best is None or sep > best[0]:
            best = (sep, np.real(vec))
    At = best[1]
    Q = np.einsum("ka,ajc->kjc", np.linalg.pinv(At), P, optimize=True)
    Bt = np.empty((R, R))
    C = np.empty((K, R))
    w = np.empty(R)
    for k in range(R):
        u_, s_, vt_ = np.linalg.svd(Q[k], full_matrices=False)
        w[k] = s_[0]
        Bt[:, k] = u_[:, 0]
        C[:, k] = vt_[0]
    A = U0 @ At if U0 is not None else At
    B = U1 @ Bt if U1 is not None else Bt
    return normalize(w, [A, B, C])


def als(T, R, sweeps):
    """ALS as in als.ts: svd init, normal equations with pinv, fixed number of sweeps, direct residual each sweep."""
    unf = [unfold(T, n) for n in range(3)]
    fs = []
    for n in range(3):
        U = np.linalg.svd(unf[n], full_matrices=False)[0][:, :R]
        fs.append(U / np.linalg.norm(U, axis=0))
    w = np.ones(R)
    nT = np.linalg.norm(T)
    res = None
    for _ in range(sweeps):
        for n in range(3):
            others = [fs[k] for k in range(3) if k != n]
            V = (others[0].T @ others[0]) * (others[1].T @ others[1])
            A = unf[n] @ khatri_rao(others[0], others[1]) @ np.linalg.pinv(V)
            w = np.linalg.norm(A, axis=0)
            fs[n] = A / w
        res = np.linalg.norm(T - cp_to_tensor(w, fs)) / nT
    return w, fs, res


def main(argv):
    runs, sweeps = 3, 30
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--runs":
            runs = int(argv[i + 1])
            i += 2
        elif argv[i] == "--sweeps":
            sweeps = int(argv[i + 1])
            i += 2
        else:
            args.append(argv[i])
            i += 1
    tensor_path, truth_path = args
    truth = json.load(open(truth_path))
    I, J, K = truth["shape"]
    R = truth["rank"]
    T = np.fromfile(tensor_path, dtype="<f8").reshape(I, J, K)
    tw = np.array(truth["weights"])
    tf = [np.array(f).reshape(-1, R) for f in truth["factors"]]
    nT = np.linalg.norm(T)

    rng = np.random.default_rng(truth.get("seed", 0))
    jms, (jw, jf) = median_ms(lambda: jennrich(T, R, rng), runs)
    ams, (aw, af, ares) = median_ms(lambda: als(T, R, sweeps), runs)
    out = {
        "numpy": np.__version__,
        "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "jennrich": {
            "ms": jms,
            "residual": float(np.linalg.norm(T - cp_to_tensor(jw, jf)) / nT),
            "componentError": component_error((tw, tf), (jw, jf)),
        },
        "als": {
            "ms": ams,
            "sweeps": sweeps,
            "msPerSweep": ams / sweeps,
            "residual": float(ares),
            "componentError": component_error((tw, tf), (aw, af)),
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])

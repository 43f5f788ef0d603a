#!/usr/bin/env python3
"""numpy reference for bench/moments.ts: the same moment passes, vectorised.

Usage: python3 bench/numpy_moments.py '<json cases>'
  cases: [{"dx": 10, "dy": 10, "dh": 5, "L": 50, "rows": {"T2": n, "mixed": n, "projected": n}}, ...]
Prints one JSON object {"numpy": version, "threads": ..., "results": [{"dx", "dy", "dh", "variant", "rows",
"seconds", "samplesPerSec", "check"}, ...]}.

Each pass computes, from x (rows×dx, sequences of equal length L) and y (rows×dy):
  scores  s_t = P_t c_t + Λ_{t,t−1} c_{t−1} + Λ_{t,t+1} c_{t+1}  (VAR(1) blocks, boundary P_t)   [every variant]
  T2      Σ_t y_t ⊗ (s_t s_tᵀ − P_t)                              (dy×dx×dx)
  mixed   Σ_{t≥1} y_t ⊗ H(t; t−1, t−1)                            (dy×dx³, explicit)
  projected  C[j,k] = Σ_{t≥1} ỹ_j H[f_j, g_k, g_k]                 (dh×dh, as ProjectedMixedAccumulator)
processed in blocks of whole sequences (≈ 20000 rows) so memory stays bounded, like the streaming code.
OPENBLAS_NUM_THREADS defaults to 1 (set before importing numpy): one core, like one JS thread.
"""
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402


def make_model(dx, rng):
    F = 0.5 * np.eye(dx) + 0.02 * rng.standard_normal((dx, dx))
    A = rng.standard_normal((dx, dx))
    Q = A @ A.T / dx + np.eye(dx)
    # stationary Σ by iteration (only for the boundary block; accuracy is irrelevant for timing)
    S = Q.copy()
    for _ in range(200):
        S = F @ S @ F.T + Q
    Qi = np.linalg.inv(Q)
    Si = np.linalg.inv(S)
    FtQiF = F.T @ Qi @ F
    Lp = -Qi @ F
    Ln = Lp.T
    return {"Pfirst": Si + FtQiF, "Pint": Qi + FtQiF, "Plast": Qi, "Lp": Lp, "Ln": Ln}


def scores(c, m):
    """c: (nseq, L, dx) centred inputs -> (nseq, L, dx) Markov scores."""
    s = c @ m["Pint"].T
    s[:, 0, :] = c[:, 0, :] @ m["Pfirst"].T
    s[:, -1, :] = c[:, -1, :] @ m["Plast"].T
    s[:, 1:, :] += c[:, :-1, :] @ m["Lp"].T
    s[:, :-1, :] += c[:, 1:, :] @ m["Ln"].T
    return s


def pass_T2(c, y, m):
    nseq, L, dx = c.shape
    dy = y.shape[2]
    s = scores(c, m).reshape(-1, dx)
    Y = y.reshape(-1, dy)
    Z = (Y[:, :, None] * s[:, None, :]).reshape(-1, dy * dx)
    T = (Z.T @ s).reshape(dy, dx, dx)
    yf = y[:, 0, :].sum(0)
    yl = y[:, -1, :].sum(0)
    yi = y[:, 1:-1, :].sum((0, 1))
    T -= yf[:, None, None] * m["Pfirst"] + yl[:, None, None] * m["Plast"] + yi[:, None, None] * m["Pint"]
    return T


def pass_mixed(c, y, m):
    nseq, L, dx = c.shape
    dy = y.shape[2]
    s3 = scores(c, m)
    S = s3[:, 1:, :].reshape(-1, dx)  # s_t, t >= 1
    R = s3[:, :-1, :].reshape(-1, dx)  # r = s_{t-1}
    Y = y[:, 1:, :].reshape(-1, dy)
    Z = (Y[:, :, None] * S[:, None, :]).reshape(-1, dy * dx)
    RR = (R[:, :, None] * R[:, None, :]).reshape(-1, dx * dx)
    T = (Z.T @ RR).reshape(dy, dx, dx, dx)
    # Wick terms: P_{t-1} is Pfirst for t = 1, Pint otherwise; L = Λ_{t,t-1} = Lp
    Zf = Z.reshape(nseq, L - 1, dy, dx)
    A1 = Zf[:, 0].sum(0)
    Ai = Zf[:, 1:].sum((0, 1))
    T -= A1[:, :, None, None] * m["Pfirst"] + Ai[:, :, None, None] * m["Pint"]
    B = Y.T @ R  # dy×dx: Σ y_i r_β
    Lp = m["Lp"]
    T -= np.einsum("ag,ib->iabg", Lp, B) + np.einsum("ab,ig->iabg", Lp, B)
    return T


def pass_projected(c, y, m, W, Fm, G):
    nseq, L, dx = c.shape
    dy = y.shape[2]
    s3 = scores(c, m)
    S = s3[:, 1:, :].reshape(-1, dx)
    R = s3[:, :-1, :].reshape(-1, dx)
    Y = y[:, 1:, :].reshape(-1, dy)
    yt = Y @ W.T
    p = S @ Fm
    q = R @ G
    e = yt * p
    C = e.T @ (q * q)
    ef = e.reshape(nseq, L - 1, -1)
    E1 = ef[:, 0].sum(0)
    Ei = ef[:, 1:].sum((0, 1))
    dPf = np.einsum("ak,ab,bk->k", G, m["Pfirst"], G)
    dPi = np.einsum("ak,ab,bk->k", G, m["Pint"], G)
    C -= E1[:, None] * dPf + Ei[:, None] * dPi
    K = Fm.T @ m["Lp"] @ G
    Yq = yt.T @ q
    C -= 2 * K * Yq
    return C


def run(case):
    dx, dy, dh, L = case["dx"], case["dy"], case["dh"], case["L"]
    rng = np.random.default_rng(1)
    m = make_model(dx, rng)
    W = rng.standard_normal((dh, dy))
    Fm = rng.standard_normal((dx, dh))
    G = rng.standard_normal((dx, dh))
    out = []
    for variant, rows in case["rows"].items():
        nseq = max(1, rows // L)
        block = max(1, 20000 // L)
        c = rng.standard_normal((nseq, L, dx))
        y = rng.standard_normal((nseq, L, dy))
        f = {
            "T2": lambda cc, yy: pass_T2(cc, yy, m),
            "mixed": lambda cc, yy: pass_mixed(cc, yy, m),
            "projected": lambda cc, yy: pass_projected(cc, yy, m, W, Fm, G),
        }[variant]
        f(c[: min(nseq, block)], y[: min(nseq, block)])  # warm-up
        best = None
        best_cpu = None
        for _ in range(3):
            t0 = time.perf_counter()
            c0 = time.process_time()
            acc = None
            for b0 in range(0, nseq, block):
                r = f(c[b0 : b0 + block], y[b0 : b0 + block])
                acc = r if acc is None else acc + r
            dt = time.perf_counter() - t0
            dc = time.process_time() - c0
            best = dt if best is None else min(best, dt)
            best_cpu = dc if best_cpu is None else min(best_cpu, dc)
        out.append({"dx": dx, "dy": dy, "dh": dh, "variant": variant, "rows": nseq * L, "seconds": best,
                    "samplesPerSec": nseq * L / best, "cpuSamplesPerSec": nseq * L / best_cpu,
                    "check": float(np.abs(acc).sum())})
    return out


def main(argv):
    cases = json.loads(argv[1]) if len(argv) > 1 else [{"dx": 10, "dy": 10, "dh": 5, "L": 50,
                                                         "rows": {"T2": 200000, "mixed": 50000, "projected": 200000}}]
    results = []
    for case in cases:
        results.extend(run(case))
    print(json.dumps({"numpy": np.__version__, "threads": os.environ.get("OPENBLAS_NUM_THREADS"), "results": results}))


if __name__ == "__main__":
    main(sys.argv)

#!/usr/bin/env python3
"""numpy reference timings for bench/linalg.ts.

Usage: python3 bench/numpy_linalg.py [--runs R] N1 N2 ...
Prints one JSON object: {"numpy": version, "threads": OPENBLAS_NUM_THREADS, "results": [
  {"n": N, "svd_ms": median, "eigh_ms": median, "svd_recon": rel. error, "eigh_recon": rel. error}, ...]}.
OPENBLAS_NUM_THREADS defaults to 1 (set before importing numpy) so the comparison is single-threaded
like the TypeScript code.
"""
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402


def median_ms(f, runs):
    f()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts))


def main(argv):
    runs = 7
    sizes = []
    i = 0
    while i < len(argv):
        if argv[i] == "--runs":
            runs = int(argv[i + 1])
            i += 2
            continue
        sizes.append(int(argv[i]))
        i += 1
    if not sizes:
        sizes = [200]
    rng = np.random.default_rng(12345)
    out = []
    for n in sizes:
        a = rng.standard_normal((n, n))
        s = a + a.T
        svd_ms = median_ms(lambda: np.linalg.svd(a, full_matrices=False), runs)
        eigh_ms = median_ms(lambda: np.linalg.eigh(s), runs)
        u, sv, vt = np.linalg.svd(a, full_matrices=False)
        w, v = np.linalg.eigh(s)
        out.append({
            "n": n,
            "svd_ms": svd_ms,
            "eigh_ms": eigh_ms,
            "svd_recon": float(np.linalg.norm(a - (u * sv) @ vt) / np.linalg.norm(a)),
            "eigh_recon": float(np.linalg.norm(s @ v - v * w) / np.linalg.norm(s)),
        })
    print(json.dumps({
        "numpy": np.__version__,
        "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "runs": runs,
        "results": out,
    }))


if __name__ == "__main__":
    main(sys.argv[1:])

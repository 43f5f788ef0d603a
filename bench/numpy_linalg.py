#!/usr/bin/env python3
"""numpy reference timings for bench/linalg.ts.

Usage: python3 bench/numpy_linalg.py [--runs R] N1 N2 ...
Prints one JSON object: {"numpy": version, "threads": OPENBLAS_NUM_THREADS, "results": [
  {"n": N, "svd_ms", "eigh_ms" (median wall ms), "svd_cpu_ms", "eigh_cpu_ms" (median CPU ms),
   "svd_recon", "eigh_recon" (relative reconstruction errors)}, ...]}.
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
    """(wall, cpu) median ms per call; each sample repeats f to last >= 5 ms (like bench/linalg.ts)."""
    t0 = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - t0 < 0.15:  # warm-up
        f()
        calls += 1
    per_call = (time.perf_counter() - t0) / calls
    reps = max(1, int(np.ceil(0.005 / max(per_call, 1e-6))))
    wall, cpu = [], []
    for _ in range(runs):
        c0 = time.process_time()
        w0 = time.perf_counter()
        for _ in range(reps):
            f()
        wall.append((time.perf_counter() - w0) * 1e3 / reps)
        cpu.append((time.process_time() - c0) * 1e3 / reps)
    return float(np.median(wall)), float(np.median(cpu))


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
        svd_ms, svd_cpu = median_ms(lambda: np.linalg.svd(a, full_matrices=False), runs)
        eigh_ms, eigh_cpu = median_ms(lambda: np.linalg.eigh(s), runs)
        u, sv, vt = np.linalg.svd(a, full_matrices=False)
        w, v = np.linalg.eigh(s)
        out.append({
            "n": n,
            "svd_ms": svd_ms,
            "eigh_ms": eigh_ms,
            "svd_cpu_ms": svd_cpu,
            "eigh_cpu_ms": eigh_cpu,
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

#!/usr/bin/env python3
"""Vectorised numpy reference of gloree's spectral estimator (no refinement), for bench/bptt.ts.

Same steps as src/learn/gloree.ts (docs/method.md §3–§5), σ(z) = c2·z²:
  pass 1  Gaussian VAR(1) input model by least squares (μ = mean of all steps; F = C10 C00⁻¹,
          Q = (C11 − F C10ᵀ)/m over transitions; Σ from the discrete Lyapunov equation) and ȳ;
  pass 2  T2 = mean_t (y_t − ȳ) ⊗ (s_t s_tᵀ − P_t) with the Markov scores and boundary precision blocks
          (§3), and the control-variate normal equations (§5 step 4: y on all monomials of degree ≤ 2 in
          (x_{t−1}, x_t, x_{t+1}), zero-filled boundaries + hasPrev/hasNext indicators) on every k-th
          sequence, k = ceil(rows / 25000);
  CP      tied Jennrich (best of 10 random contraction pairs by eigenvalue separation) then ALS on the
          tied-mode-symmetrised T2 (modes solved separately, tied at the end, as src/decomposition/als.ts);
          ‖a1_j‖ = 1, A2^(j) = w_j b_j / (2 c2);
  pass 3  projected mixed moment (§4 F4, §5 step 5) of the control-variate residuals, steps t ≥ 2:
          C[j,k] = mean ỹ_j p_j q_k² − Wick terms, ỹ = pinv(Â2ᵀ) r_t, p = Gᵀ s_t, q = Gᵀ s_{t−1},
          G = pinv(Â1); U = C / (4 c2²);
  pass 4  output layer (A2, b) by least squares of y on [h_t; 1] with the spectral Â1, Û, and the U = 0
          baseline's output layer (gloree computes both in this pass).
Every pass streams over blocks of whole sequences (default 2500 sequences), so memory beyond the data
arrays stays bounded, like the TypeScript passes. All sequences must have the same length L (true for
the bench scenarios; it is what makes the (nseq, L, dx) reshape possible).

Usage: python3 bench/numpy_gloree.py X.f64 Y.f64 META.json
  X.f64, Y.f64: row-major float64 little-endian, rows×dx and rows×dy;
  META.json: {"dx", "dy", "dh", "L", "rows", "c2" (default 1), "seed" (default 0), "block" (sequences per
  block, default 2500), "repeats" (default 1: the fastest of this many fits is reported)}.
Prints one JSON object: numpy version, threads, per-stage seconds (file reading excluded), total seconds,
rows/s, peak RSS (MiB), the estimate {"A1", "U", "A2", "b"} (after the output-layer regression) and
"spectral" (A2, b before it). OPENBLAS_NUM_THREADS defaults to 1: one core, like gloree's single JS thread.
"""
import json
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402


# ----------------------------------------------------------------------------------------------
# Input model (docs/method.md §3)

def fit_var1(X, dx, L, block):
    """Least-squares VAR(1) from raw sums accumulated over blocks (shift formula for the centring)."""
    n = 0
    sx = np.zeros(dx)
    m = 0
    sp = np.zeros(2 * dx)  # Σ z over transitions, z = [x_{t−1}; x_t]
    spp = np.zeros((2 * dx, 2 * dx))
    for b in blocks(X.shape[0], L, block):
        x = X[b]
        n += x.shape[0]
        sx += x.reshape(-1, dx).sum(0)
        z = np.concatenate([x[:, :-1, :], x[:, 1:, :]], axis=2).reshape(-1, 2 * dx)
        m += z.shape[0]
        sp += z.sum(0)
        spp += z.T @ z
    mu = sx / n
    # Σ (z − μ̃)(z − μ̃)ᵀ with μ̃ = [μ; μ] (both halves centred at the common mean, as src/input/fit.ts).
    mm = np.concatenate([mu, mu])
    C = spp - np.outer(sp, mm) - np.outer(mm, sp) + m * np.outer(mm, mm)
    C00, C10, C11 = C[:dx, :dx], C[dx:, :dx], C[dx:, dx:]
    F = np.linalg.solve(C00, C10.T).T  # C10 C00⁻¹ (C00 symmetric)
    Q = (C11 - F @ C10.T) / m
    Q = 0.5 * (Q + Q.T)
    # Stationary Σ = FΣFᵀ + Q: vec Σ = (I − F⊗F)⁻¹ vec Q (dx is small).
    S = np.linalg.solve(np.eye(dx * dx) - np.kron(F, F), Q.reshape(-1)).reshape(dx, dx)
    S = 0.5 * (S + S.T)
    Qi = np.linalg.inv(Q)
    Si = np.linalg.inv(S)
    FtQiF = F.T @ Qi @ F
    return {
        "mu": mu, "F": F, "Q": Q, "Sigma": S,
        "Pfirst": Si + FtQiF, "Pint": Qi + FtQiF, "Plast": Qi,
        "Lp": -Qi @ F,  # Λ_{t,t−1}
        "Ln": -F.T @ Qi,  # Λ_{t,t+1}
    }


def scores(c, m):
    """c: (nseq, L, dx) centred inputs → Markov scores s = Λc with the boundary blocks (§3)."""
    s = c @ m["Pint"].T
    s[:, 0, :] = c[:, 0, :] @ m["Pfirst"].T
    s[:, -1, :] = c[:, -1, :] @ m["Plast"].T
    s[:, 1:, :] += c[:, :-1, :] @ m["Lp"].T
    s[:, :-1, :] += c[:, 1:, :] @ m["Ln"].T
    return s


def blocks(nseq, L, block):
    for s0 in range(0, nseq, block):
        yield slice(s0, min(nseq, s0 + block))


# ----------------------------------------------------------------------------------------------
# Control variate (docs/method.md §5 step 4; features as src/moments/control.ts, quadratic = 'full')

def cv_features(c):
    """c: (nseq, L, dx) centred → (nseq·L, p) features [1, hasPrev, hasNext, z, z_a z_b (a ≤ b)]."""
    nseq, L, dx = c.shape
    prev = np.zeros_like(c)
    prev[:, 1:] = c[:, :-1]
    nxt = np.zeros_like(c)
    nxt[:, :-1] = c[:, 1:]
    z = np.concatenate([prev, c, nxt], axis=2).reshape(-1, 3 * dx)
    has_prev = np.ones((nseq, L))
    has_prev[:, 0] = 0
    has_next = np.ones((nseq, L))
    has_next[:, -1] = 0
    iu, ju = np.triu_indices(3 * dx)
    quad = z[:, iu] * z[:, ju]
    return np.concatenate([np.ones((z.shape[0], 1)), has_prev.reshape(-1, 1), has_next.reshape(-1, 1), z, quad], axis=1)


# ----------------------------------------------------------------------------------------------
# CP of T2 (dy×dx×dx, modes 2–3 tied)

def khatri_rao(A, B):
    return (A[:, None, :] * B[None, :, :]).reshape(-1, A.shape[1])


def cp_full(w, B, C1, C2):
    return np.einsum("r,ir,jr,kr->ijk", w, B, C1, C2)


def fit_b_given_c(T, C):
    """B' (dy×R) minimising ‖T_(1) − B'(C⊙C)ᵀ‖ (weights absorbed into B')."""
    KR = khatri_rao(C, C)
    V = (C.T @ C) ** 2
    return T.reshape(T.shape[0], -1) @ KR @ np.linalg.pinv(V)


def jennrich_tied(T, R, rng, n_random=10):
    dy, dx, _ = T.shape
    Ts = 0.5 * (T + T.transpose(0, 2, 1))
    V = None
    if R < dx:
        V = np.linalg.svd(Ts.transpose(1, 0, 2).reshape(dx, -1), full_matrices=False)[0][:, :R]
    best = None
    for _ in range(n_random):
        u, v = rng.standard_normal(dy), rng.standard_normal(dy)
        Mu = np.tensordot(u, Ts, axes=1)
        Mv = np.tensordot(v, Ts, axes=1)
        if V is not None:
            Mu, Mv = V.T @ Mu @ V, V.T @ Mv @ V
        lam, vec = np.linalg.eig(Mu @ np.linalg.pinv(Mv))
        mx = np.max(np.abs(lam))
        d = np.abs(lam[:, None] - lam[None, :]) + np.diag(np.full(R, np.inf))
        sep = float(np.min(d) / mx) if R > 1 else 1.0
        if best is None or sep > best[0]:
            best = (sep, np.real(vec))
    C = best[1] if V is None else V @ best[1]
    C = C / np.linalg.norm(C, axis=0)
    return fit_b_given_c(Ts, C), C


def als_tied(T, Bp, C, max_iter=500, tol=1e-12):
    """ALS on the symmetrised T from (B', C): modes solved separately, tied at the end (as als.ts)."""
    Ts = 0.5 * (T + T.transpose(0, 2, 1))
    dy, dx, _ = Ts.shape
    unf = [Ts.reshape(dy, -1), Ts.transpose(1, 0, 2).reshape(dx, -1)]  # mode 0, mode 1 (= mode 2 by symmetry)
    w = np.linalg.norm(Bp, axis=0)
    fs = [Bp / w, C.copy(), C.copy()]
    nT = np.linalg.norm(Ts)
    prev = np.inf
    for _ in range(max_iter):
        for n in range(3):
            o = [fs[k] for k in range(3) if k != n]
            V = (o[0].T @ o[0]) * (o[1].T @ o[1])
            A = unf[min(n, 1)] @ khatri_rao(o[0], o[1]) @ np.linalg.pinv(V)
            w = np.linalg.norm(A, axis=0)
            fs[n] = A / w
        res = np.linalg.norm(Ts - cp_full(w, *fs)) / nT
        if abs(prev - res) < tol:
            break
        prev = res
    sg = np.sign(np.sum(fs[1] * fs[2], axis=0))
    sg[sg == 0] = 1
    Ct = fs[1] + sg * fs[2]
    Ct = Ct / np.linalg.norm(Ct, axis=0)
    return fit_b_given_c(Ts, Ct), Ct


def rel_residual(T, Bp, C):
    return float(np.linalg.norm(T - np.einsum("ir,jr,kr->ijk", Bp, C, C)) / np.linalg.norm(T))


# ----------------------------------------------------------------------------------------------
# Forward pass

def hidden_states(x, A1, U, c2):
    """x: (nseq, L, dx) raw inputs → h: (nseq, L, dh), h_0 = 0 per sequence (§2)."""
    nseq, L, _ = x.shape
    Z = x @ A1.T
    H = np.empty((nseq, L, A1.shape[0]))
    h = np.zeros((nseq, A1.shape[0]))
    for t in range(L):
        z = Z[:, t] + h @ U.T
        h = c2 * z * z
        H[:, t] = h
    return H


def output_ls(G, Cm, dh, dy):
    W = np.linalg.lstsq(G, Cm, rcond=None)[0]
    return W[:dh], W[dh]


# ----------------------------------------------------------------------------------------------

def fit(X, Y, dh, c2, seed, block):
    nseq, L, dx = X.shape
    dy = Y.shape[2]
    rows = nseq * L
    tm = {}
    t = time.perf_counter()

    # Pass 1: input model and ȳ.
    m = fit_var1(X, dx, L, block)
    ybar = np.zeros(dy)
    for b in blocks(nseq, L, block):
        ybar += Y[b].reshape(-1, dy).sum(0)
    ybar /= rows
    mu = m["mu"]
    now = time.perf_counter(); tm["pass1_input"] = now - t; t = now

    # Pass 2: T2 and the control-variate normal equations.
    T2 = np.zeros((dy, dx, dx))
    stride = max(1, -(-rows // 25000))
    cv_idx = np.arange(0, nseq, stride)
    p = 3 + 3 * dx + (3 * dx) * (3 * dx + 1) // 2
    GF = np.zeros((p, p))
    GY = np.zeros((p, dy))
    for b in blocks(nseq, L, block):
        c = X[b] - mu
        s = scores(c, m)
        yc = Y[b] - ybar
        S = s.reshape(-1, dx)
        Yc = yc.reshape(-1, dy)
        Z = (Yc[:, :, None] * S[:, None, :]).reshape(-1, dy * dx)
        T = (Z.T @ S).reshape(dy, dx, dx)
        T -= (yc[:, 0].sum(0)[:, None, None] * m["Pfirst"] + yc[:, -1].sum(0)[:, None, None] * m["Plast"]
              + yc[:, 1:-1].sum((0, 1))[:, None, None] * m["Pint"])
        T2 += T
        sel = cv_idx[(cv_idx >= b.start) & (cv_idx < b.stop)] - b.start
        if sel.size:
            Fe = cv_features(c[sel])
            GF += Fe.T @ Fe
            GY += Fe.T @ Y[b][sel].reshape(-1, dy)
    T2 /= rows
    # Scaled normal equations with a tiny ridge, as ControlVariate.solve.
    dscale = np.sqrt(np.diag(GF))
    inv = np.where(dscale > 0, 1 / np.where(dscale > 0, dscale, 1), 0)
    A = GF * inv[:, None] * inv[None, :] + np.diag(np.where(inv > 0, 1e-9, 1.0))
    beta = np.linalg.solve(A, GY * inv[:, None]) * inv[:, None]
    now = time.perf_counter(); tm["pass2_moments"] = now - t; t = now

    # CP of T2: Jennrich then ALS; keep the better.
    rng = np.random.default_rng(seed)
    Bj, Cj = jennrich_tied(T2, dh, rng)
    Ba, Ca = als_tied(T2, Bj, Cj)
    Bp, C = (Ba, Ca) if rel_residual(T2, Ba, Ca) <= rel_residual(T2, Bj, Cj) else (Bj, Cj)
    A1 = C.T.copy()  # unit rows
    A2 = Bp.T / (2 * c2)
    cp_residual = min(rel_residual(T2, Ba, Ca), rel_residual(T2, Bj, Cj))
    now = time.perf_counter(); tm["cp"] = now - t; t = now

    # Pass 3: projected mixed moment of the control-variate residuals → U.
    G = np.linalg.pinv(A1)  # dx×dh duals
    W = np.linalg.pinv(A2.T)  # dh×dy demixing
    dPf = np.einsum("ak,ab,bk->k", G, m["Pfirst"], G)
    dPi = np.einsum("ak,ab,bk->k", G, m["Pint"], G)
    K = G.T @ m["Lp"] @ G
    Cm = np.zeros((dh, dh))
    count = 0
    for b in blocks(nseq, L, block):
        c = X[b] - mu
        nb = c.shape[0]
        r = Y[b].reshape(-1, dy) - cv_features(c) @ beta
        s = scores(c, m)
        P = (s @ G)  # (nb, L, dh)
        yt = (r @ W.T).reshape(nb, L, dh)[:, 1:]
        pp = P[:, 1:]
        q = P[:, :-1]
        e = yt * pp
        Cm += e.reshape(-1, dh).T @ (q * q).reshape(-1, dh)
        Cm -= e[:, 0].sum(0)[:, None] * dPf + e[:, 1:].sum((0, 1))[:, None] * dPi
        Cm -= 2 * K * (yt.reshape(-1, dh).T @ q.reshape(-1, dh))
        count += nb * (L - 1)
    U = Cm / count / (4 * c2 * c2)
    now = time.perf_counter(); tm["pass3_mixed"] = now - t; t = now

    # Pass 4: output layer of the model and of the U = 0 baseline by least squares.
    mh = dh + 1
    Gm, Cmod = np.zeros((mh, mh)), np.zeros((mh, dy))
    Gf, Cff = np.zeros((mh, mh)), np.zeros((mh, dy))
    hsum = np.zeros(dh)
    U0 = np.zeros((dh, dh))
    for b in blocks(nseq, L, block):
        y = Y[b].reshape(-1, dy)
        for (UU, GG, CC) in ((U, Gm, Cmod), (U0, Gf, Cff)):
            H = hidden_states(X[b], A1, UU, c2).reshape(-1, dh)
            D = np.concatenate([H, np.ones((H.shape[0], 1))], axis=1)
            GG += D.T @ D
            CC += D.T @ y
            if UU is U:
                hsum += H.sum(0)
    A2r, br = output_ls(Gm, Cmod, dh, dy)
    output_ls(Gf, Cff, dh, dy)
    b_spec = ybar - A2.T @ (hsum / rows)
    now = time.perf_counter(); tm["pass4_output"] = now - t; t = now

    return {
        "timings": tm,
        "cpResidual": cp_residual,
        "inputModel": {"mu": mu.tolist(), "F": m["F"].tolist(), "Q": m["Q"].tolist()},
        "params": {"A1": A1.tolist(), "U": U.tolist(), "A2": A2r.tolist(), "b": br.tolist()},
        "spectral": {"A1": A1.tolist(), "U": U.tolist(), "A2": A2.tolist(), "b": b_spec.tolist()},
    }


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: numpy_gloree.py X.f64 Y.f64 META.json\n")
        sys.exit(2)
    meta = json.load(open(argv[2]))
    dx, dy, dh, L, rows = meta["dx"], meta["dy"], meta["dh"], meta["L"], meta["rows"]
    if rows % L != 0:
        sys.stderr.write(f"numpy_gloree: rows = {rows} is not a multiple of the sequence length L = {L}\n")
        sys.exit(1)
    X = np.fromfile(argv[0], dtype="<f8").reshape(rows // L, L, dx)
    Y = np.fromfile(argv[1], dtype="<f8").reshape(rows // L, L, dy)
    # Best of `repeats` runs (default 1): on a shared machine the minimum is the least disturbed time.
    out, secs = None, None
    for _ in range(max(1, int(meta.get("repeats", 1)))):
        t0 = time.perf_counter()
        o = fit(X, Y, dh, meta.get("c2", 1.0), meta.get("seed", 0), meta.get("block", 2500))
        dt = time.perf_counter() - t0
        if secs is None or dt < secs:
            out, secs = o, dt
    out.update({
        "repeats": max(1, int(meta.get("repeats", 1))),
        "numpy": np.__version__,
        "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "rows": rows,
        "seconds": secs,
        "rowsPerSec": rows / secs,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])

/**
 * The Hessenberg QR iteration of {@link eigGeneral} (EISPACK hqr2 as in JAMA): real Schur form of the upper
 * Hessenberg H, eigenvalues into (d, e), eigenvectors back-substituted into V (all nn×nn row-major, in place).
 */
export function hqr2(nn: number, e: Float64Array, d: Float64Array, V: Float64Array, H: Float64Array): void {
  let n = nn - 1;
  let low = 0;
  let high = nn - 1;
  let eps = Number.EPSILON;
  let exshift = 0;
  let norm = 0;
  let p = 0;
  let q = 0;
  let r = 0;
  let s = 0;
  let z = 0;
  let iter = 0;
  let i = 0, j = 0, k = 0, l = 0, m = 0, t = 0, w = 0, x = 0, y = 0;
  let ra = 0, sa = 0, vr = 0, vi = 0;
  let sweeps = 0;
  const maxSweeps = 60 * nn + 100;
  let notlast: boolean, cdivres: [number, number];

  for (i = 0; i < nn; i++) {
    if (i < low || i > high) {
      d[i] = H[i * nn + i];
      e[i] = 0;
    }

    for (j = Math.max(i - 1, 0); j < nn; j++) {
      norm = norm + Math.abs(H[i * nn + j]);
    }
  }

  while (n >= low) {
    l = n;
    while (l > low) {
      s = Math.abs(H[(l - 1) * nn + (l - 1)]) + Math.abs(H[l * nn + l]);
      if (s === 0) {
        s = norm;
      }
      // '<=' (JAMA has '<'): with a zero matrix s = norm = 0 and '<' never deflates (infinite loop).
      if (Math.abs(H[l * nn + (l - 1)]) <= eps * s) {
        break;
      }
      l--;
    }

    if (l === n) {
      H[n * nn + n] = H[n * nn + n] + exshift;
      d[n] = H[n * nn + n];
      e[n] = 0;
      n--;
      iter = 0;
    } else if (l === n - 1) {
      w = H[n * nn + (n - 1)] * H[(n - 1) * nn + n];
      p = (H[(n - 1) * nn + (n - 1)] - H[n * nn + n]) / 2;
      q = p * p + w;
      z = Math.sqrt(Math.abs(q));
      H[n * nn + n] = H[n * nn + n] + exshift;
      H[(n - 1) * nn + (n - 1)] = H[(n - 1) * nn + (n - 1)] + exshift;
      x = H[n * nn + n];

      if (q >= 0) {
        z = p >= 0 ? p + z : p - z;
        d[n - 1] = x + z;
        d[n] = d[n - 1];
        if (z !== 0) {
          d[n] = x - w / z;
        }
        e[n - 1] = 0;
        e[n] = 0;
        x = H[n * nn + (n - 1)];
        s = Math.abs(x) + Math.abs(z);
        p = x / s;
        q = z / s;
        r = Math.sqrt(p * p + q * q);
        p = p / r;
        q = q / r;

        for (j = n - 1; j < nn; j++) {
          z = H[(n - 1) * nn + j];
          H[(n - 1) * nn + j] = q * z + p * H[n * nn + j];
          H[n * nn + j] = q * H[n * nn + j] - p * z;
        }

        for (i = 0; i <= n; i++) {
          z = H[i * nn + (n - 1)];
          H[i * nn + (n - 1)] = q * z + p * H[i * nn + n];
          H[i * nn + n] = q * H[i * nn + n] - p * z;
        }

        for (i = low; i <= high; i++) {
          z = V[i * nn + (n - 1)];
          V[i * nn + (n - 1)] = q * z + p * V[i * nn + n];
          V[i * nn + n] = q * V[i * nn + n] - p * z;
        }
      } else {
        d[n - 1] = x + p;
        d[n] = x + p;
        e[n - 1] = z;
        e[n] = -z;
      }

      n = n - 2;
      iter = 0;
    } else {
      x = H[n * nn + n];
      y = 0;
      w = 0;
      if (l < n) {
        y = H[(n - 1) * nn + (n - 1)];
        w = H[n * nn + (n - 1)] * H[(n - 1) * nn + n];
      }

      if (iter === 10) {
        exshift += x;
        for (i = low; i <= n; i++) {
          H[i * nn + i] = H[i * nn + i] - x;
        }
        s = Math.abs(H[n * nn + (n - 1)]) + Math.abs(H[(n - 1) * nn + (n - 2)]);
          x = y = 0.75 * s;
        w = -0.4375 * s * s;
      }

      if (iter === 30) {
        s = (y - x) / 2;
        s = s * s + w;
        if (s > 0) {
          s = Math.sqrt(s);
          if (y < x) {
            s = -s;
          }
          s = x - w / ((y - x) / 2 + s);
          for (i = low; i <= n; i++) {
            H[i * nn + i] = H[i * nn + i] - s;
          }
          exshift += s;
              x = y = w = 0.964;
        }
      }

      iter = iter + 1;
      // JAMA has no iteration cap; LAPACK dhseqr allows ~30 sweeps per eigenvalue. Guard against cycling.
      if (++sweeps > maxSweeps) throw new Error(`eigGeneral: shifted QR did not converge after ${maxSweeps} sweeps (n = ${nn}); the matrix may be badly scaled`);

      m = n - 2;
      while (m >= l) {
        z = H[m * nn + m];
        r = x - z;
        s = y - z;
        p = (r * s - w) / H[(m + 1) * nn + m] + H[m * nn + (m + 1)];
        q = H[(m + 1) * nn + (m + 1)] - z - r - s;
        r = H[(m + 2) * nn + (m + 1)];
        s = Math.abs(p) + Math.abs(q) + Math.abs(r);
        p = p / s;
        q = q / s;
        r = r / s;
        if (m === l) {
          break;
        }
        if (
          Math.abs(H[m * nn + (m - 1)]) * (Math.abs(q) + Math.abs(r)) <
          eps *
            (Math.abs(p) *
              (Math.abs(H[(m - 1) * nn + (m - 1)]) +
                Math.abs(z) +
                Math.abs(H[(m + 1) * nn + (m + 1)])))
        ) {
          break;
        }
        m--;
      }

      for (i = m + 2; i <= n; i++) {
        H[i * nn + (i - 2)] = 0;
        if (i > m + 2) {
          H[i * nn + (i - 3)] = 0;
        }
      }

      for (k = m; k <= n - 1; k++) {
        notlast = k !== n - 1;
        if (k !== m) {
          p = H[k * nn + (k - 1)];
          q = H[(k + 1) * nn + (k - 1)];
          r = notlast ? H[(k + 2) * nn + (k - 1)] : 0;
          x = Math.abs(p) + Math.abs(q) + Math.abs(r);
          if (x !== 0) {
            p = p / x;
            q = q / x;
            r = r / x;
          }
        }

        if (x === 0) {
          break;
        }

        s = Math.sqrt(p * p + q * q + r * r);
        if (p < 0) {
          s = -s;
        }

        if (s !== 0) {
          if (k !== m) {
            H[k * nn + (k - 1)] = -s * x;
          } else if (l !== m) {
            H[k * nn + (k - 1)] = -H[k * nn + (k - 1)];
          }

          p = p + s;
          x = p / s;
          y = q / s;
          z = r / s;
          q = q / p;
          r = r / p;

          for (j = k; j < nn; j++) {
            p = H[k * nn + j] + q * H[(k + 1) * nn + j];
            if (notlast) {
              p = p + r * H[(k + 2) * nn + j];
              H[(k + 2) * nn + j] = H[(k + 2) * nn + j] - p * z;
            }

            H[k * nn + j] = H[k * nn + j] - p * x;
            H[(k + 1) * nn + j] = H[(k + 1) * nn + j] - p * y;
          }

          // Column modification of H (rows 0..min(n, k+3)) and accumulation into V (rows low..high).
          p = reflectColumns(H, nn, 0, Math.min(n, k + 3), k, x, y, z, q, r, notlast, p);
          p = reflectColumns(V, nn, low, high, k, x, y, z, q, r, notlast, p);
        }
      }
    }
  }

  if (norm === 0) {
    return;
  }

  for (n = nn - 1; n >= 0; n--) {
    p = d[n];
    q = e[n];

    if (q === 0) {
      l = n;
      H[n * nn + n] = 1;
      for (i = n - 1; i >= 0; i--) {
        w = H[i * nn + i] - p;
        r = 0;
        for (j = l; j <= n; j++) {
          r = r + H[i * nn + j] * H[j * nn + n];
        }

        if (e[i] < 0) {
          z = w;
          s = r;
        } else {
          l = i;
          if (e[i] === 0) {
            H[i * nn + n] = w !== 0 ? -r / w : -r / (eps * norm);
          } else {
            x = H[i * nn + (i + 1)];
            y = H[(i + 1) * nn + i];
            q = (d[i] - p) * (d[i] - p) + e[i] * e[i];
            t = (x * s - z * r) / q;
            H[i * nn + n] = t;
            H[(i + 1) * nn + n] = Math.abs(x) > Math.abs(z) ? (-r - w * t) / x : (-s - y * t) / z;
          }

          t = Math.abs(H[i * nn + n]);
          if (eps * t * t > 1) {
            for (j = i; j <= n; j++) {
              H[j * nn + n] = H[j * nn + n] / t;
            }
          }
        }
      }
    } else if (q < 0) {
      l = n - 1;

      if (Math.abs(H[n * nn + (n - 1)]) > Math.abs(H[(n - 1) * nn + n])) {
        H[(n - 1) * nn + (n - 1)] = q / H[n * nn + (n - 1)];
        H[(n - 1) * nn + n] = -(H[n * nn + n] - p) / H[n * nn + (n - 1)];
      } else {
        cdivres = cdiv(0, -H[(n - 1) * nn + n], H[(n - 1) * nn + (n - 1)] - p, q);
        H[(n - 1) * nn + (n - 1)] = cdivres[0];
        H[(n - 1) * nn + n] = cdivres[1];
      }

      H[n * nn + (n - 1)] = 0;
      H[n * nn + n] = 1;
      for (i = n - 2; i >= 0; i--) {
        ra = 0;
        sa = 0;
        for (j = l; j <= n; j++) {
          ra = ra + H[i * nn + j] * H[j * nn + (n - 1)];
          sa = sa + H[i * nn + j] * H[j * nn + n];
        }

        w = H[i * nn + i] - p;

        if (e[i] < 0) {
          z = w;
          r = ra;
          s = sa;
        } else {
          l = i;
          if (e[i] === 0) {
            cdivres = cdiv(-ra, -sa, w, q);
            H[i * nn + (n - 1)] = cdivres[0];
            H[i * nn + n] = cdivres[1];
          } else {
            x = H[i * nn + (i + 1)];
            y = H[(i + 1) * nn + i];
            vr = (d[i] - p) * (d[i] - p) + e[i] * e[i] - q * q;
            vi = (d[i] - p) * 2 * q;
            if (vr === 0 && vi === 0) {
              vr =
                eps *
                norm *
                (Math.abs(w) +
                  Math.abs(q) +
                  Math.abs(x) +
                  Math.abs(y) +
                  Math.abs(z));
            }
            cdivres = cdiv(
              x * r - z * ra + q * sa,
              x * s - z * sa - q * ra,
              vr,
              vi,
            );
            H[i * nn + (n - 1)] = cdivres[0];
            H[i * nn + n] = cdivres[1];
            if (Math.abs(x) > Math.abs(z) + Math.abs(q)) {
              H[(i + 1) * nn + (n - 1)] = (-ra - w * H[i * nn + (n - 1)] + q * H[i * nn + n]) / x;
              H[(i + 1) * nn + n] = (-sa - w * H[i * nn + n] - q * H[i * nn + (n - 1)]) / x;
            } else {
              cdivres = cdiv(
                -r - y * H[i * nn + (n - 1)],
                -s - y * H[i * nn + n],
                z,
                q,
              );
              H[(i + 1) * nn + (n - 1)] = cdivres[0];
              H[(i + 1) * nn + n] = cdivres[1];
            }
          }

          t = Math.max(Math.abs(H[i * nn + (n - 1)]), Math.abs(H[i * nn + n]));
          if (eps * t * t > 1) {
            for (j = i; j <= n; j++) {
              H[j * nn + (n - 1)] = H[j * nn + (n - 1)] / t;
              H[j * nn + n] = H[j * nn + n] / t;
            }
          }
        }
      }
    }
  }

  for (i = 0; i < nn; i++) {
    if (i < low || i > high) {
      for (j = i; j < nn; j++) {
        V[i * nn + j] = H[i * nn + j];
      }
    }
  }

  for (j = nn - 1; j >= low; j--) {
    for (i = low; i <= high; i++) {
      z = 0;
      for (k = low; k <= Math.min(j, high); k++) {
        z = z + V[i * nn + k] * H[k * nn + j];
      }
      V[i * nn + j] = z;
    }
  }
}

function cdiv(xr: number, xi: number, yr: number, yi: number): [number, number] {
  let r: number, d: number;
  if (Math.abs(yr) > Math.abs(yi)) {
    r = yi / yr;
    d = yr + r * yi;
    return [(xr + r * xi) / d, (xi - r * xr) / d];
  } else {
    r = yr / yi;
    d = yi + r * yr;
    return [(r * xr + xi) / d, (r * xi - xr) / d];
  }
}

/**
 * Rows i0..i1 of M (nn×nn row-major): p = x·M[i,k] + y·M[i,k+1] (+ z·M[i,k+2] unless `notlast`), then
 * M[i,k] −= p, M[i,k+1] −= p·q (and M[i,k+2] −= p·r). Returns the last p (the given one when no row is visited),
 * as the loop it replaces left it.
 */
function reflectColumns(M: Float64Array, nn: number, i0: number, i1: number, k: number, x: number, y: number, z: number, q: number, r: number, notlast: boolean, p: number): number {
  for (let i = i0; i <= i1; i++) {
    p = x * M[i * nn + k] + y * M[i * nn + (k + 1)];
    if (notlast) {
      p = p + z * M[i * nn + (k + 2)];
      M[i * nn + (k + 2)] = M[i * nn + (k + 2)] - p * r;
    }
    M[i * nn + k] = M[i * nn + k] - p;
    M[i * nn + (k + 1)] = M[i * nn + (k + 1)] - p * q;
  }
  return p;
}

"""Reference values for the DDM densities, computed with mpmath and independent of sdekit.

Run from the repository root::

    python tests/reference/make_density_reference.py

and commit the resulting ``tests/reference/ddm_reference.npz``. Everything here is computed from
the textbook series at high precision, never from sdekit's own code:

* simple DDM: log-density at 50 significant digits from the small-time image series for
  normalised time u = t / a**2 < 1 and the large-time series above, each summed until the terms
  drop below 1e-70 relative, and cross-checked against the other series for 0.01 <= u <= 2;
* CDF: the large-time survival series (Feller) at 50 digits, cross-checked at a subset of points
  against adaptive quadrature of the density;
* gradients: mpmath numerical differentiation of the 50-digit log-density (drift variability
  included in closed form);
* full DDM (sv, sz, st): the closed-form drift-variability density integrated over the start
  point and the non-decision window by nested adaptive tanh-sinh quadrature at 30 digits (the
  inner quadrature error is far below the 1e-6 tolerance the tests use); its derivatives in sz
  and st by central differences of the same quadrature at 35 digits (``--full-grads``
  recomputes only these);
* boundary probabilities, mean decision times and variances from the Laplace transform of the
  first-passage time, differentiated at 40 digits.

Conventions: response 1 = upper boundary, 0 = lower; ``a`` full separation, ``z`` relative start,
unit diffusion coefficient, non-decision time uniform on [t0, t0 + st].
"""

from __future__ import annotations

import itertools
import os
from multiprocessing import Pool

import mpmath as mp
import numpy as np

DPS = 50
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ddm_reference.npz")


# ------------------------------------------------------------------ zero-drift series on (0, 1)


def g_small(u, w):
    """Small-time image series of the driftless density at 0, summed to convergence."""
    total = w * mp.exp(-w * w / (2 * u))
    lead = abs(total)
    k = 1
    while True:
        tp = (w + 2 * k) * mp.exp(-((w + 2 * k) ** 2) / (2 * u))
        tn = (w - 2 * k) * mp.exp(-((w - 2 * k) ** 2) / (2 * u))
        total += tp + tn
        if abs(tp) + abs(tn) < mp.mpf(10) ** (-70) * lead:
            break
        k += 1
    return total / mp.sqrt(2 * mp.pi * u**3)


def g_large(u, w):
    """Large-time series of the driftless density at 0, summed to convergence."""
    total = mp.mpf(0)
    k = 1
    while True:
        term = k * mp.sin(k * mp.pi * w) * mp.exp(-(k * k) * mp.pi**2 * u / 2)
        total += term
        if k > 3 and k * k * mp.exp(-(k * k) * mp.pi**2 * u / 2) < mp.mpf(10) ** (-70) * abs(
            total
        ):
            break
        k += 1
    return mp.pi * total


def log_density(t, response, v, a, z, sv=0):
    """Log density of decision time t at the given boundary, drift variability sv."""
    t, v, a, z, sv = (mp.mpf(x) for x in (t, v, a, z, sv))
    if response == 1:
        v, w = -v, 1 - z
    else:
        w = z
    u = t / a**2
    # each series where it needs neither thousands of terms nor hundreds of digits
    lg = mp.log(g_small(u, w) if u < 1 else g_large(u, w))
    s = 1 + sv**2 * t
    return lg - 2 * mp.log(a) + (a * a * w * w * sv * sv - 2 * a * v * w - v * v * t) / (
        2 * s
    ) - mp.log(s) / 2


def prob_boundary(response, v, a, z):
    v, a, z = (mp.mpf(x) for x in (v, a, z))
    if response == 1:
        v, z = -v, 1 - z
    if v == 0:
        return 1 - z
    return mp.expm1(2 * v * a * (1 - z)) / mp.expm1(2 * v * a)


def survival(t, response, v, a, z):
    """P(T > t, boundary) by the large-time survival series."""
    t, v, a, z = (mp.mpf(x) for x in (t, v, a, z))
    if response == 1:
        v, w = -v, 1 - z
    else:
        w = z
    total = mp.mpf(0)
    k = 1
    while True:
        lam = (v * v * a * a + (k * mp.pi) ** 2) / (2 * a * a)
        term = k * mp.sin(k * mp.pi * w) * mp.exp(-lam * t) / (v * v * a * a + (k * mp.pi) ** 2)
        total += term
        if k > 3 and k * mp.exp(-lam * t) < mp.mpf(10) ** (-70):
            break
        k += 1
    return 2 * mp.pi * mp.exp(-v * a * w) * total


# ------------------------------------------------------------------ tasks (one per grid point)


def simple_point(args):
    t, a, v, z, resp = args
    mp.mp.dps = DPS
    lf = log_density(t, resp, v, a, z)
    u = mp.mpf(t) / mp.mpf(a) ** 2
    if 0.01 <= u <= 2:
        w = 1 - mp.mpf(z) if resp == 1 else mp.mpf(z)
        vv = -v if resp == 1 else v
        ll = mp.log(g_large(u, w) if u < 1 else g_small(u, w))
        ll += -2 * mp.log(a) - vv * a * w - vv * vv * mp.mpf(t) / 2
        assert abs(ll - lf) < mp.mpf(10) ** (-35) * max(1, abs(lf)), (args, lf, ll)
    return float(lf)


def cdf_point(args):
    t, a, v, z, resp, check = args
    mp.mp.dps = DPS
    p = prob_boundary(resp, v, a, z)
    s = survival(t, resp, v, a, z)
    if check:
        mp.mp.dps = 30
        q = mp.quad(lambda x: mp.exp(log_density(x, resp, v, a, z)), [0, t / 4, t / 2, t])
        assert abs(q - (p - s)) < 1e-20, (args, q, p - s)
    return float(p - s), float(s)


def grad_point(args):
    t, a, v, z, sv, resp = args
    mp.mp.dps = DPS
    x0 = [mp.mpf(x) for x in (v, a, z, t, sv)]

    def f(i, x):
        p = list(x0)
        p[i] = x
        return log_density(p[3], resp, p[0], p[1], p[2], p[4])

    # d/dt0 = -d/dt
    out = [float(mp.diff(lambda x, i=i: f(i, x), x0[i])) for i in range(5)]
    out[3] = -out[3]
    return out


def _f_sv(t, w, v, a, sv):
    if t <= 0:
        return mp.mpf(0)
    u = t / a**2
    g = g_small(u, w) if u < 1 else g_large(u, w)
    s = 1 + sv * sv * t
    return g / a**2 * mp.exp((a * a * w * w * sv * sv - 2 * a * v * w - v * v * t) / (2 * s)) / (
        mp.sqrt(s)
    )


def full_point(args):
    rt, resp, v, a, z, t0, sv, sz, st, hard = args
    mp.mp.dps = 30
    return float(mp.log(_full_density(rt, resp, v, a, z, t0, sv, sz, st, hard)))


#: Parameters whose full-DDM derivatives are referenced here (those of v, a, z, t0 and sv are
#: checked against the 50-digit series above).
FULL_GRAD_NAMES = ("sz", "st")


def full_grad_point(args):
    """Derivatives of the full-DDM log-density in sz and st by central differences of the
    quadrature at 35 digits with a step of 1e-12 (truncation error about 1e-24; the quadrature
    resolves far finer than the step's cancellation needs). At sz = 0 or st = 0 the symmetric
    difference gives the one-sided derivative: the averages over [z - sz/2, z + sz/2] and over
    [t0, t0 + st] extend analytically to negative widths."""
    rt, resp, v, a, z, t0, sv, sz, st, hard = args
    mp.mp.dps = 35
    x0 = [mp.mpf(x) for x in (v, a, z, t0, sv, sz, st)]
    h = mp.mpf("1e-12")
    out = []
    for i in (5, 6):
        up, dn = list(x0), list(x0)
        up[i] += h
        dn[i] -= h
        fu = mp.log(_full_density(rt, resp, *up, hard))
        fd = mp.log(_full_density(rt, resp, *dn, hard))
        out.append(float((fu - fd) / (2 * h)))
    return out


def _full_density(rt, resp, v, a, z, t0, sv, sz, st, hard):
    rt, v, a, z, t0, sv, sz, st = (mp.mpf(x) for x in (rt, v, a, z, t0, sv, sz, st))
    if resp == 1:
        v, z = -v, 1 - z

    def breaks(lo, hi):
        # geometric breakpoints towards both ends resolve integrands that are sharply peaked
        # at an end (milliseconds of decision time, wide windows)
        d = hi - lo
        if not hard:
            return [lo, lo + d / 2, hi]
        if hard == 1:
            fr = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 0.9, 0.99, 0.999)
        else:  # six points per decade from 1e-8 of the width, at both ends
            g = [10.0 ** (-k / 6) for k in range(1, 49)]
            fr = sorted(set(g) | {1 - x for x in g} | {0.5})
        return [lo] + [lo + d * f for f in fr] + [hi]

    def over_z(t):
        if t <= 0:
            return mp.mpf(0)
        if sz == 0:
            return _f_sv(t, z, v, a, sv)
        return mp.quad(lambda w: _f_sv(t, w, v, a, sv), breaks(z - sz / 2, z + sz / 2)) / sz

    if st == 0:
        return over_z(rt - t0)
    hi = min(rt, t0 + st)
    return mp.quad(lambda tau: over_z(rt - tau), breaks(t0, hi)) / st


# (rt, resp, v, a, z, t0, sv, sz, st, hard): decision times from 0.05 to 1.7 s past the
# window, each variability alone and together, both responses
FULL_GRAD_GRID = [
    (0.45, 0, 1.0, 1.5, 0.5, 0.2, 0.0, 0.3, 0.0, 0),
    (0.8, 1, 1.0, 1.5, 0.45, 0.25, 0.0, 0.0, 0.15, 0),
    (0.6, 1, -2.0, 2.0, 0.3, 0.25, 1.0, 0.3, 0.1, 0),
    (2.0, 0, -2.0, 2.0, 0.3, 0.25, 1.0, 0.3, 0.1, 0),
    (0.5, 0, 3.0, 0.8, 0.6, 0.2, 2.0, 0.5, 0.2, 0),
    (1.0, 1, 0.8, 1.2, 0.55, 0.3, 0.6, 0.2, 0.12, 0),
]


def full_grads():
    with Pool(os.cpu_count()) as pool:
        gv = pool.map(full_grad_point, FULL_GRAD_GRID, chunksize=1)
    return dict(fg_par=np.array([g[:9] for g in FULL_GRAD_GRID], dtype=np.float64),
                fg_grad=np.array(gv))


def moments_point(args):
    """P(boundary), E[T | boundary], Var[T | boundary] from the Laplace transform."""
    v, a, z, resp = args
    mp.mp.dps = 40
    v, a, z = mp.mpf(v), mp.mpf(a), mp.mpf(z)
    if resp == 1:
        x0, vv = z * a, v  # distance to the far boundary
    else:
        x0, vv = (1 - z) * a, -v

    if vv == 0:
        vv = mp.mpf("1e-30")  # the transform's limit at v = 0, avoiding 0/0 at lam = 0

    def lt(lam):
        # E[exp(-lam T); exit at the boundary the process drifts towards with vv]
        r = mp.sqrt(vv * vv + 2 * lam)
        return mp.exp(vv * (a - x0)) * mp.sinh(x0 * r) / mp.sinh(a * r)

    # the transform is analytic in lam (even in r); finite-difference steps to lam < 0 may
    # leave rounding-level imaginary parts
    p = mp.re(lt(0))
    m1 = -mp.re(mp.diff(lt, 0, 1)) / p
    m2 = mp.re(mp.diff(lt, 0, 2)) / p
    m3 = -mp.re(mp.diff(lt, 0, 3)) / p
    m4 = mp.re(mp.diff(lt, 0, 4)) / p
    return [float(p), float(m1), float(m2), float(m3), float(m4)]


def main():
    pool = Pool(os.cpu_count())
    # --- simple DDM grid, hard corners included (t0 = 0 so t is exact in double)
    ts = [1e-4, 1e-3, 0.01, 0.05, 0.13, 0.3, 1.0, 3.0, 20.0]
    as_ = [0.3, 0.8, 1.5, 5.0]
    vs = [-8.0, -2.0, 0.0, 1.0, 8.0]
    zs = [0.05, 0.3, 0.5, 0.95]
    grid = list(itertools.product(ts, as_, vs, zs, [0, 1]))
    lf = pool.map(simple_point, grid, chunksize=8)
    g = np.array(grid)
    simple = dict(
        s_t=g[:, 0], s_a=g[:, 1], s_v=g[:, 2], s_z=g[:, 3], s_resp=g[:, 4].astype(np.int8),
        s_logpdf=np.array(lf),
    )
    print("simple", len(grid))

    # --- CDF grid
    cts = [1e-3, 0.01, 0.05, 0.13, 0.3, 0.6, 1.0, 3.0, 20.0]
    cgrid = [
        (t, a, v, z, r, (i % 17 == 0))
        for i, (t, a, v, z, r) in enumerate(itertools.product(cts, as_, vs, zs, [0, 1]))
    ]
    cv = np.array(pool.map(cdf_point, cgrid, chunksize=8))
    c = np.array([x[:5] for x in cgrid])
    cdfs = dict(
        c_t=c[:, 0], c_a=c[:, 1], c_v=c[:, 2], c_z=c[:, 3], c_resp=c[:, 4].astype(np.int8),
        c_cdf=cv[:, 0], c_sf=cv[:, 1],
    )
    pb = [(a, v, z, r) for a, v, z, r in itertools.product(as_, vs, zs, [0, 1])]
    pbv = [float(prob_boundary(r, v, a, z)) for a, v, z, r in pb]
    pbg = np.array(pb)
    cdfs.update(p_a=pbg[:, 0], p_v=pbg[:, 1], p_z=pbg[:, 2], p_resp=pbg[:, 3].astype(np.int8),
                p_prob=np.array(pbv))
    print("cdf", len(cgrid))

    # --- gradients (v, a, z, t0, sv)
    ggrid = list(
        itertools.product([1e-3, 0.05, 0.2, 1.0, 4.0], [0.5, 2.0], [-3.0, 1.0], [0.1, 0.7],
                          [0.0, 0.8], [0, 1])
    )
    gv = np.array(pool.map(grad_point, ggrid, chunksize=4))
    gg = np.array(ggrid)
    grads = dict(
        g_t=gg[:, 0], g_a=gg[:, 1], g_v=gg[:, 2], g_z=gg[:, 3], g_sv=gg[:, 4],
        g_resp=gg[:, 5].astype(np.int8), g_grad=gv,
    )
    print("grad", len(ggrid))

    # --- full DDM: (rt, resp, v, a, z, t0, sv, sz, st)
    fgrid = []
    for rt in [0.32, 0.45, 0.8, 2.0]:
        for (v, a, z, t0, sv, sz, st) in [
            (1.0, 1.5, 0.5, 0.3, 0.8, 0.0, 0.0),
            (1.0, 1.5, 0.5, 0.2, 0.0, 0.3, 0.0),
            (1.0, 1.5, 0.5, 0.25, 0.0, 0.0, 0.15),
            (-2.0, 2.0, 0.3, 0.25, 1.0, 0.3, 0.1),
            (3.0, 0.8, 0.6, 0.2, 2.0, 0.5, 0.2),
        ]:
            for resp in (0, 1):
                fgrid.append((rt, resp, v, a, z, t0, sv, sz, st, 0))
    # hard corners: milliseconds of decision time with a wide start window and a large
    # separation; a window reaching back to the onset; a narrow separation with strong drift
    fgrid += [(0.301, 0, 1.0, 5.0, 0.5, 0.3, 0.0, 0.5, 0.0, 2),
              (0.301, 1, 4.0, 3.0, 0.9, 0.3, 2.0, 0.19, 0.0, 2),
              (0.32, 0, -8.0, 0.3, 0.3, 0.3, 3.0, 0.5, 0.5, 1),
              (0.5, 1, 0.0, 2.0, 0.5, 0.3, 1.0, 0.99, 1.0, 1)]
    fv = pool.map(full_point, fgrid, chunksize=1)
    fg = np.array([f[:9] for f in fgrid], dtype=np.float64)
    full = dict(f_par=fg, f_logpdf=np.array(fv))
    print("full", len(fgrid))

    # --- moments for the sampler tests
    mgrid = [(1.0, 1.5, 0.5, r) for r in (0, 1)] + [(-0.5, 2.0, 0.3, r) for r in (0, 1)] + [
        (2.0, 1.0, 0.7, r) for r in (0, 1)
    ] + [(0.0, 1.2, 0.5, r) for r in (0, 1)]
    mv = np.array(pool.map(moments_point, mgrid))
    moments = dict(m_par=np.array(mgrid), m_mom=mv)
    pool.close()

    fgrads = full_grads()
    np.savez_compressed(OUT, **simple, **cdfs, **grads, **full, **fgrads, **moments)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


def main_full_grads():
    """Add (or replace) only the full-DDM gradients in the existing reference file."""
    old = dict(np.load(OUT))
    old.update(full_grads())
    np.savez_compressed(OUT, **old)
    print("wrote full-DDM gradients to", OUT)


if __name__ == "__main__":
    import sys

    main_full_grads() if "--full-grads" in sys.argv[1:] else main()

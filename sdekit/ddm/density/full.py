"""Full DDM: the simple-DDM density integrated over the start-point and non-decision windows.

Across-trial drift variability is integrated in closed form by the series kernels
(:mod:`sdekit.ddm.density.series`). Start-point and non-decision variability are integrated here,
two ways:

* :func:`full_logpdf_ws`, the fast path of the log-density: a tensor product of composite GK15
  rules over (start point, non-decision time), uniform panels doubled per direction until both
  directions' error estimates are below ``QUAD_TOL`` (1e-7) of the integral;
* :func:`full_logpdf`, the globally adaptive nested quadrature (the non-decision integral nesting
  the start-point one), used where the integrand has a feature narrower than the finest uniform
  panels.

:func:`full_cdf_sorted` integrates the full density over response time for the distribution
function. Every adaptive integral is a copy of the one loop of
:func:`sdekit.ddm.density.quadrature.make_adaptive`.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sdekit.ddm.density.quadrature import (
    DEFAULT_TOL,
    QUAD_TOL,
    fill_nodes,
    make_adaptive,
    quad_workspace,
)
from sdekit.ddm.density.series import log_g_c, logpdf_dec, wconst

__all__ = ["WS_SIZE", "inner_logpdf", "full_logpdf", "full_logpdf_ws", "full_cdf_sorted"]

_NEG_INF = -np.inf


# ---------------------------------------------------------------------------------------------
# Globally adaptive nested quadrature, in log-scaled space
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _sz_integrand(x, args, ref):
    """Density at relative start ``w = z + sz (x - 1/2)``, x uniform on [0, 1]."""
    t, response, v, a, z, sv, sz = args
    lf = logpdf_dec(t, response, v, a, z + sz * (x - 0.5), sv)
    return lf, (math.exp(lf - ref),)


_sz_integral = make_adaptive(_sz_integrand, 1, "sz_integral")


@nb.njit(cache=True)
def _int_sz(t, response, v, a, z, sv, sz, tol, ws):
    """log of (1/sz) int f(t | w) dw over [z - sz/2, z + sz/2]."""
    # Reference scale: the largest of a few samples, so that exp(lf - ref) neither overflows
    # nor underflows where the integrand matters.
    ref = max(logpdf_dec(t, response, v, a, z, sv),
              max(logpdf_dec(t, response, v, a, z - 0.5 * sz * 0.999, sv),
                  logpdf_dec(t, response, v, a, z + 0.5 * sz * 0.999, sv)))
    if ref == _NEG_INF:
        return _NEG_INF
    res = ws[4]
    ref = _sz_integral((t, response, v, a, z, sv, sz), 0.0, 1.0, ref, tol, _NEG_INF, ws, res)
    if not res[0] > 0.0:
        return _NEG_INF
    return ref + math.log(res[0])


@nb.njit(cache=True)
def inner_logpdf(t, response, v, a, z, sv, sz, tol, ws):
    """log density at decision time t with the start point integrated (``sz > 0``) or fixed;
    ``ws = quad_workspace(1)``."""
    if not t > 0.0:
        return _NEG_INF
    if sz == 0.0:
        return logpdf_dec(t, response, v, a, z, sv)
    return _int_sz(t, response, v, a, z, sv, sz, tol, ws)


@nb.njit(cache=True)
def _st_integrand(y, args, ref):
    """Start-point-integrated density at decision time ``rt - t0 - st y``."""
    base, response, v, a, z, sv, sz, st, tol, iws = args
    lf = inner_logpdf(base - st * y, response, v, a, z, sv, sz, tol, iws)
    return lf, (math.exp(lf - ref),)


_st_integral = make_adaptive(_st_integrand, 1, "st_integral")


@nb.njit(cache=True)
def full_logpdf(rt, response, v, a, z, t0, sv, sz, st, tol):
    """log density of the full DDM at response time rt (seconds) and response (0/1), by the
    adaptive nested quadrature."""
    t = rt - t0
    iws = quad_workspace(1)
    if st == 0.0:
        return inner_logpdf(t, response, v, a, z, sv, sz, tol, iws)
    if not t > 0.0:
        return _NEG_INF
    # The integrand vanishes for decision times <= 0: integrate y only over [0, min(1, t/st)].
    ymax = min(1.0, t / st)
    ref = max(inner_logpdf(t, response, v, a, z, sv, sz, tol, iws),
              inner_logpdf(t - st * 0.5 * ymax, response, v, a, z, sv, sz, tol, iws))
    if ref == _NEG_INF:
        ref = inner_logpdf(t - st * ymax * 0.999, response, v, a, z, sv, sz, tol, iws)
        if ref == _NEG_INF:
            return _NEG_INF
    ows = quad_workspace(1)
    res = ows[4]
    ref = _st_integral((t, response, v, a, z, sv, sz, st, tol, iws), 0.0, ymax, ref, tol,
                       _NEG_INF, ows, res)
    if not res[0] > 0.0:
        return _NEG_INF
    return ref + math.log(res[0])


# ---------------------------------------------------------------------------------------------
# Full DDM, fast path: tensor-product Gauss-Kronrod over (start point, non-decision time)
#
# The start-point variable x and the non-decision variable y (both uniform on [0, 1]) are
# integrated on a product of composite GK15 rules, nx panels in x and ny panels in y. The
# estimates |I(K15 x K15) - I(G7 x K15)| and |I(K15 x K15) - I(K15 x G7)| of the error in each
# direction (conservative: they measure the 7-point Gauss error, while the 15-point Kronrod
# result is the one returned) must both fall below tol * I, else the offending direction's panel
# count is doubled (up to 32). Sums are accumulated against a running maximum of the
# log-integrand, so nothing overflows or underflows. The start-point node constants (sin, cos,
# log) depend on the parameters only and are cached in the workspace across trials.
# ---------------------------------------------------------------------------------------------

_QMAX = 32 * 15  # nodes per direction at the finest level
_WS_X = 7 * _QMAX  # per response: pos, wk, wg, w, log w, cos(pi w), log sin(pi w)
_WS_KEY = 4  # per response: z, sz, nx, valid flag
#: Length of the workspace of :func:`full_logpdf_ws` (one per thread or batch of trials).
WS_SIZE = 2 * (_WS_X + _WS_KEY) + 3 * _QMAX


@nb.njit(cache=True)
def _x_table(ws, r, z, sz, nx):
    """Offset of the cached start-point table of response frame r for (z, sz, nx)."""
    kb = 2 * _WS_X + r * _WS_KEY
    base = r * _WS_X
    if ws[kb + 3] == 1.0 and ws[kb] == z and ws[kb + 1] == sz and ws[kb + 2] == nx:
        return base
    npt = 15 * nx
    fill_nodes(nx, 1.0, ws[base:base + npt], ws[base + _QMAX:base + _QMAX + npt],
                ws[base + 2 * _QMAX:base + 2 * _QMAX + npt])
    for m in range(npt):
        w = z + sz * (ws[base + m] - 0.5)
        w_, logw, c1, log_s1 = wconst(w)
        ws[base + 3 * _QMAX + m] = w_
        ws[base + 4 * _QMAX + m] = logw
        ws[base + 5 * _QMAX + m] = c1
        ws[base + 6 * _QMAX + m] = log_s1
    ws[kb] = z
    ws[kb + 1] = sz
    ws[kb + 2] = nx
    ws[kb + 3] = 1.0
    return base


@nb.njit(cache=True)
def full_logpdf_ws(rt, response, v, a, z, t0, sv, sz, st, tol, ws):
    """log density of the full DDM (any of sv, sz, st may be 0) using workspace ws."""
    t_base = rt - t0
    if not t_base > 0.0:
        return _NEG_INF
    r = 1 if response == 1 else 0
    v_in = v
    z_in = z
    if r == 1:
        v = -v
        z = 1.0 - z
    inv_a2 = 1.0 / (a * a)
    log_a2 = 2.0 * math.log(a)
    ymax = 1.0 if st == 0.0 else min(1.0, t_base / st)
    ybase = 2 * (_WS_X + _WS_KEY)
    nx = 1
    ny = 1
    while True:
        if sz > 0.0:
            xb = _x_table(ws, r, z, sz, nx)
            nxn = 15 * nx
        else:
            nxn = 1
            xb = -1
        if st > 0.0:
            nyn = 15 * ny
            fill_nodes(ny, ymax, ws[ybase:ybase + nyn], ws[ybase + _QMAX:ybase + _QMAX + nyn],
                        ws[ybase + 2 * _QMAX:ybase + 2 * _QMAX + nyn])
        else:
            nyn = 1
        wc0 = wconst(z) if sz == 0.0 else (0.0, 0.0, 0.0, 0.0)
        ref = _NEG_INF
        skk = 0.0
        sgk = 0.0
        skg = 0.0
        for iy in range(nyn):
            if st > 0.0:
                y = ws[ybase + iy]
                wky = ws[ybase + _QMAX + iy]  # weights on [0, ymax] of the unit window
                wgy = ws[ybase + 2 * _QMAX + iy]
            else:
                y = 0.0
                wky = 1.0
                wgy = 1.0
            t = t_base - st * y
            if not t > 0.0:
                continue
            u = t * inv_a2
            s = 1.0 + sv * sv * t
            ct = -log_a2 - 0.5 * math.log(s) - 0.5 * v * v * t / s
            aw2 = 0.5 * a * a * sv * sv / s
            bw = -a * v / s
            for ix in range(nxn):
                if xb >= 0:
                    w = ws[xb + 3 * _QMAX + ix]
                    wc = (w, ws[xb + 4 * _QMAX + ix], ws[xb + 5 * _QMAX + ix],
                          ws[xb + 6 * _QMAX + ix])
                    wkx = ws[xb + _QMAX + ix]
                    wgx = ws[xb + 2 * _QMAX + ix]
                else:
                    wc = wc0
                    w = z
                    wkx = 1.0
                    wgx = 1.0
                lf = log_g_c(u, wc) + ct + (aw2 * w + bw) * w
                if lf > ref:
                    if ref > _NEG_INF:
                        sc = math.exp(ref - lf)
                        skk *= sc
                        sgk *= sc
                        skg *= sc
                    ref = lf
                e = math.exp(lf - ref)
                skk += wkx * wky * e
                sgk += wgx * wky * e
                skg += wkx * wgy * e
        if not skk > 0.0:
            return _NEG_INF
        grow = False
        if sz > 0.0 and abs(skk - sgk) > tol * skk:
            if nx == 32:
                break
            nx *= 2
            grow = True
        if st > 0.0 and abs(skk - skg) > tol * skk:
            if ny == 32:
                break
            ny *= 2
            grow = True
        if not grow:
            return ref + math.log(skk)
    # A feature narrower than the finest uniform panels (e.g. decision times of milliseconds with
    # a wide start-point window): hand over to the globally adaptive nested quadrature.
    return full_logpdf(rt, response, v_in, a, z_in, t0, sv, sz, st, DEFAULT_TOL)


# ---------------------------------------------------------------------------------------------
# Full-DDM distribution function: the density integrated over time, interval by interval
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _time_integrand(s, args, ref):
    """Full-DDM density at response time s (tensor-product quadrature, workspace in args)."""
    response, v, a, z, t0, sv, sz, st, ws = args
    lf = full_logpdf_ws(s, response, v, a, z, t0, sv, sz, st, QUAD_TOL, ws)
    return lf, (math.exp(lf - ref),)


_time_integral = make_adaptive(_time_integrand, 1, "time_integral")
# Absolute error allowed in each interval's share of the distribution function.
_CDF_ABS_TOL = 1e-14


@nb.njit(cache=True)
def full_cdf_sorted(rt_sorted, response, v, a, z, t0, sv, sz, st, tol, out):
    """Defective CDF of the full DDM at increasing response times, by summing the integrals of
    the density over consecutive intervals starting at t0 (each to ``tol`` relative or 1e-14
    absolute)."""
    acc = 0.0
    prev = t0
    ws = np.zeros(WS_SIZE)
    qws = quad_workspace(1)
    res = qws[4]
    args = (response, v, a, z, t0, sv, sz, st, ws)
    log_floor = math.log(_CDF_ABS_TOL)
    for i in range(rt_sorted.shape[0]):
        r = rt_sorted[i]
        if r > prev:
            # densities stay far below exp(700): the scale stays 0
            ref = _time_integral(args, prev, r, 0.0, tol, log_floor, qws, res)
            acc += math.exp(ref) * res[0]
            prev = r
        out[i] = acc

"""Gradients of the full-DDM log-density with respect to all seven parameters.

With ``w = z + sz (x - 1/2)`` and decision time ``T = rt - t0 - st y`` for x, y uniform on [0, 1],
the full density is ``E_xy[f(T | w)]`` and every parameter derivative is ``E_xy[f * (leaf gradient
combination)]``, with no boundary terms. The quadratures integrate that vector with the same
adaptive rule as the density (:func:`sdekit.ddm.density.quadrature.make_adaptive`), the error
control acting on the density component. Components of the inner (start-point) vector: f, f dv,
f da, f dz, f dsz, f dT, f dsv; the outer (non-decision) vector adds f dT y.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sdekit.ddm.density.full import inner_logpdf
from sdekit.ddm.density.quadrature import make_adaptive, quad_workspace
from sdekit.ddm.density.series import logpdf_dec, logpdf_dec_grad

__all__ = ["grad_workspace", "full_grad", "full_grad_ws", "series_grad_row"]

_NEG_INF = -np.inf
_NI = 7
_NO = 8

#: Share of the outer (non-decision) integral's scale allowed as absolute error of each inner
#: (start-point) integral. Where decision times are short the inner integrand is a narrow spike at
#: one edge of a wide start-point window and costs many panels to resolve relatively, yet such
#: nodes add almost nothing to the outer integral: they need only this absolute accuracy.
_INNER_SHARE = 1e-2
# Tolerance of the log-density that only sets the scale of the scaled sums (and the inner
# integrals' absolute floor): a coarse one does.
_SCALE_TOL = 1e-3


@nb.njit(cache=True)
def grad_workspace():
    """Scratch arrays of the gradient quadratures, allocated once per batch of trials rather than
    once per inner integral (an allocation costs about as much as a series evaluation).

    Returns
    -------
    tuple
        (inner quadrature workspace, outer quadrature workspace, inner result vector, workspace of
        the scalar log-density that sets the scale).
    """
    return quad_workspace(_NI), quad_workspace(_NO), np.empty(_NO), quad_workspace(1)


@nb.njit(cache=True)
def _sz_grad_integrand(x, args, ref):
    """Inner vector at relative start ``w = z + sz (x - 1/2)``."""
    t, response, v, a, z, sv, sz = args
    lf, dv, da, dw, dt, dsv = logpdf_dec_grad(t, response, v, a, z + sz * (x - 0.5), sv)
    f = math.exp(lf - ref)
    return lf, (f, f * dv, f * da, f * dw, f * dw * (x - 0.5), f * dt, f * dsv)


_sz_grad_integral = make_adaptive(_sz_grad_integrand, _NI, "sz_grad_integral")


@nb.njit(cache=True)
def _inner_grad(t, response, v, a, z, sv, sz, tol, log_floor, out, ws):
    """Inner vector (scaled by exp(-ref)) into out[:7]; returns ref. t > 0.

    The quadrature stops once its error estimate is below ``tol`` times the integral or below
    ``exp(log_floor)`` (an absolute error in unscaled units; -inf for none)."""
    if sz == 0.0:
        lf, dv, da, dw, dt, dsv = logpdf_dec_grad(t, response, v, a, z, sv)
        out[0] = 1.0
        out[1] = dv
        out[2] = da
        out[3] = dw
        out[4] = 0.0
        out[5] = dt
        out[6] = dsv
        return lf
    ref = max(logpdf_dec(t, response, v, a, z, sv),
              max(logpdf_dec(t, response, v, a, z - 0.5 * sz * 0.999, sv),
                  logpdf_dec(t, response, v, a, z + 0.5 * sz * 0.999, sv)))
    return _sz_grad_integral((t, response, v, a, z, sv, sz), 0.0, 1.0, ref, tol, log_floor, ws,
                             out)


@nb.njit(cache=True)
def _st_grad_integrand(y, args, ref):
    """Outer vector at decision time ``rt - t0 - st y``: the inner integral and its y moment."""
    base, response, v, a, z, sv, sz, st, tol, tmp, iws = args
    t = base - st * y
    if not t > 0.0:
        return _NEG_INF, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    lr = _inner_grad(t, response, v, a, z, sv, sz, tol, ref + math.log(tol * _INNER_SHARE), tmp,
                     iws)
    sc = math.exp(lr - ref)
    peak = lr + math.log(tmp[0]) if tmp[0] > 0.0 else _NEG_INF
    return peak, (sc * tmp[0], sc * tmp[1], sc * tmp[2], sc * tmp[3], sc * tmp[4], sc * tmp[5],
                  sc * tmp[6], sc * tmp[5] * y)


_st_grad_integral = make_adaptive(_st_grad_integrand, _NO, "st_grad_integral")


@nb.njit(cache=True)
def full_grad(rt, response, v, a, z, t0, sv, sz, st, tol, out):
    """out[:8] = (log f, d/dv, d/da, d/dz, d/dt0, d/dsv, d/dsz, d/dst) of the full DDM."""
    full_grad_ws(rt, response, v, a, z, t0, sv, sz, st, tol, out, grad_workspace())


@nb.njit(cache=True, inline="always")
def series_grad_row(t, response, v, a, z, sv, out):
    """The gradient row of a trial without sz and st (decision time ``t`` > 0): the series
    derivatives themselves, in the order of :func:`full_grad` (d/dsz is 0, d/dst half of
    d/dt0)."""
    lf, dv, da, dw, dt, dsv = logpdf_dec_grad(t, response, v, a, z, sv)
    out[0] = lf
    out[1] = dv
    out[2] = da
    out[3] = dw
    out[4] = -dt
    out[5] = dsv
    out[6] = 0.0
    out[7] = -0.5 * dt


@nb.njit(cache=True)
def full_grad_ws(rt, response, v, a, z, t0, sv, sz, st, tol, out, ws):
    """As :func:`full_grad`, with the scratch arrays ``ws`` of :func:`grad_workspace`."""
    t = rt - t0
    for m in range(8):
        out[m] = 0.0
    if not t > 0.0:
        out[0] = _NEG_INF
        return
    if sz == 0.0 and st == 0.0:
        # no quadrature, no workspace: the series derivatives themselves
        series_grad_row(t, response, v, a, z, sv, out)
        return
    iws, ows, tmp, sws = ws
    if st == 0.0:
        ref = _inner_grad(t, response, v, a, z, sv, sz, tol, _NEG_INF, tmp, iws)
        f = tmp[0]
        if not f > 0.0:
            out[0] = _NEG_INF  # the density underflows (a decision time of nanoseconds)
            return
        out[0] = ref + math.log(f)
        out[1] = tmp[1] / f
        out[2] = tmp[2] / f
        out[3] = tmp[3] / f
        out[4] = -tmp[5] / f
        out[5] = tmp[6] / f
        out[6] = tmp[4] / f
        out[7] = -0.5 * tmp[5] / f  # one-sided derivative at st = 0: -E[y] d/dT
        return
    ymax = min(1.0, t / st)
    ref = max(inner_logpdf(t, response, v, a, z, sv, sz, _SCALE_TOL, sws),
              inner_logpdf(t - st * 0.5 * ymax, response, v, a, z, sv, sz, _SCALE_TOL, sws))
    vec = ows[4]
    ref = _st_grad_integral((t, response, v, a, z, sv, sz, st, tol, tmp, iws), 0.0, ymax, ref,
                            tol, _NEG_INF, ows, vec)
    f = vec[0]
    if not f > 0.0:
        # every decision time in the window is too short for any density (t0 within
        # nanoseconds of the RT): log f is -inf and the gradient, left at 0, is not used
        out[0] = _NEG_INF
        return
    # the y-integral covers [0, ymax] of a unit window: density = (integral) / 1
    out[0] = ref + math.log(f)
    out[1] = vec[1] / f
    out[2] = vec[2] / f
    out[3] = vec[3] / f
    out[4] = -vec[5] / f
    out[5] = vec[6] / f
    out[6] = vec[4] / f
    out[7] = -vec[7] / f

"""Trial loops: compiled kernels over arrays of trials, the fast path for fitters.

Data are plain arrays (``rt`` float64, ``response`` int64 coded 1 upper, 0 lower); each parameter
is an array of length 1 (shared by every trial) or ``len(rt)`` (one value per trial). Nothing is
validated: :mod:`sdekit.ddm.density.api` checks once and then calls these. The loops run in
parallel over numba's threads (``prange``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from sdekit.ddm.density.full import WS_SIZE, full_logpdf_ws
from sdekit.ddm.density.gradients import full_grad
from sdekit.ddm.density.quadrature import DEFAULT_TOL, QUAD_TOL
from sdekit.ddm.density.series import bconst, cdf_dec, lower_logpdf_c

__all__ = [
    "strides",
    "logpdf_simple_array",
    "loglik_simple",
    "logpdf_array",
    "cdf_array",
    "grad_array",
]

_NEG_INF = -np.inf


@nb.njit(cache=True)
def strides(v, a, z, t0, sv, sz, st):
    """Index strides of the parameter arrays: 1 for one value per trial, 0 for a shared value
    (an array of length 1), so trial i reads ``v[i * nv]``."""
    return (1 if v.shape[0] > 1 else 0, 1 if a.shape[0] > 1 else 0,
            1 if z.shape[0] > 1 else 0, 1 if t0.shape[0] > 1 else 0,
            1 if sv.shape[0] > 1 else 0, 1 if sz.shape[0] > 1 else 0,
            1 if st.shape[0] > 1 else 0)


@nb.njit(cache=True, parallel=True)
def _simple_loop(rt, response, v, a, z, t0, out):
    """The one simple-DDM trial loop: log densities with scalar parameters into ``out`` when it
    has ``len(rt)`` entries (pass an empty array to skip storing); returns their sum."""
    n = rt.shape[0]
    store = out.shape[0] == n
    # per-boundary constants computed once, not once per trial
    l0, l1, l2, l3, l4, l5, l6 = bconst(v, a, z)
    u0, u1, u2, u3, u4, u5, u6 = bconst(-v, a, 1.0 - z)
    s = 0.0
    for i in nb.prange(n):
        t = rt[i] - t0
        if not t > 0.0:
            lp = _NEG_INF
        elif response[i] == 1:
            lp = lower_logpdf_c(t, u0, u1, u2, u3, u4, u5, u6)
        else:
            lp = lower_logpdf_c(t, l0, l1, l2, l3, l4, l5, l6)
        if store:
            out[i] = lp
        s += lp
    return s


@nb.njit(cache=True)
def logpdf_simple_array(rt, response, v, a, z, t0, out):
    """out[i] = log density of the simple DDM with scalar parameters (the fitter's fast path)."""
    _simple_loop(rt, response, v, a, z, t0, out)


@nb.njit(cache=True)
def loglik_simple(rt, response, v, a, z, t0):
    """Sum of simple-DDM log densities with scalar parameters."""
    return _simple_loop(rt, response, v, a, z, t0, np.empty(0))


@nb.njit(cache=True, parallel=True)
def _full_loop(rt, response, v, a, z, t0, sv, sz, st, out):
    """Full-DDM log densities; trials split into chunks, each with its own workspace."""
    n = rt.shape[0]
    nv, na, nz, nt, nsv, nsz, nst = strides(v, a, z, t0, sv, sz, st)
    nchunk = min(n, 256)
    for c in nb.prange(nchunk):
        ws = np.zeros(WS_SIZE)
        lo = (c * n) // nchunk
        hi = ((c + 1) * n) // nchunk
        for i in range(lo, hi):
            out[i] = full_logpdf_ws(rt[i], response[i], v[i * nv], a[i * na], z[i * nz],
                                    t0[i * nt], sv[i * nsv], sz[i * nsz], st[i * nst],
                                    QUAD_TOL, ws)


@nb.njit(cache=True)
def logpdf_array(rt, response, v, a, z, t0, sv, sz, st, out):
    """out[i] = log density of (rt[i], response[i]) under the full DDM.

    Parameter arrays have length 1 (shared) or ``len(rt)`` (per trial); no validation.
    """
    nv, na, nz, nt, nsv, nsz, nst = strides(v, a, z, t0, sv, sz, st)
    if nv + na + nz + nt + nsv + nsz + nst == 0 and sv[0] == 0.0 and sz[0] == 0.0 and (
            st[0] == 0.0):
        _simple_loop(rt, response, v[0], a[0], z[0], t0[0], out)
    else:
        _full_loop(rt, response, v, a, z, t0, sv, sz, st, out)


@nb.njit(cache=True, parallel=True)
def cdf_array(rt, response, v, a, z, t0, out_cdf, out_sf):
    """Simple-DDM defective CDF and survival at each (rt, response); parameter arrays as above."""
    n = rt.shape[0]
    nv = 1 if v.shape[0] > 1 else 0
    na = 1 if a.shape[0] > 1 else 0
    nz = 1 if z.shape[0] > 1 else 0
    nt = 1 if t0.shape[0] > 1 else 0
    for i in nb.prange(n):
        f, s = cdf_dec(rt[i] - t0[i * nt], response[i], v[i * nv], a[i * na], z[i * nz])
        out_cdf[i] = f
        out_sf[i] = s


@nb.njit(cache=True, parallel=True)
def grad_array(rt, response, v, a, z, t0, sv, sz, st, out):
    """out[i, :] = (log f, d/dv, d/da, d/dz, d/dt0, d/dsv, d/dsz, d/dst) for each trial."""
    n = rt.shape[0]
    nv, na, nz, nt, nsv, nsz, nst = strides(v, a, z, t0, sv, sz, st)
    for i in nb.prange(n):
        full_grad(rt[i], response[i], v[i * nv], a[i * na], z[i * nz], t0[i * nt], sv[i * nsv],
                  sz[i * nsz], st[i * nst], DEFAULT_TOL, out[i])

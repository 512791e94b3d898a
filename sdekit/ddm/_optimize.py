"""Compiled log-likelihood kernels and the parameter transforms used by :mod:`sdekit.ddm.fitting`.

The kernels are serial and compiled with ``nogil=True``: one fit is small (hundreds to a few
thousand trials), so the fitter spends its time in many short calls, where the thread start-up of
the parallel array kernels of :mod:`sdekit.ddm.density` costs more than the arithmetic (measured:
about 10 us serially against milliseconds in parallel for 500 simple-DDM densities on a loaded
2-core machine). Parallelism comes from fitting subjects concurrently instead.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# The compiled kernels below embed the density kernels they call; their numba caches are keyed
# on a digest of the density sources (sdekit.ddm.density._cache), so editing those recompiles
# these too.
from sdekit.ddm.density import cdf_dec, full_grad_ws, grad_workspace, series_grad_row, strides

__all__ = ["loglik_grad", "cdf_simple"]

#: Quadrature tolerance of the full-DDM gradients during fitting (relative, per trial). The
#: optimiser needs far less than the density module's default of 1e-9; 1e-7 matches the
#: tolerance of its tensor-product log-density.
FIT_TOL = 1e-7
#: Looser tolerance used while searching: the full-DDM gradient costs about 40 % less, and the
#: end point is re-evaluated (and polished) at FIT_TOL.
SEARCH_TOL = 1e-5


@nb.njit(cache=True, nogil=True)
def _all_zero(x):
    for j in range(x.shape[0]):
        if x[j] != 0.0:
            return False
    return True


@nb.njit(cache=True, nogil=True)
def _grad_rows(rt, response, v, a, z, t0, sv, sz, st, tol, out):
    """out[i] = (log f, d/dv, d/da, d/dz, d/dt0, d/dsv, d/dsz, d/dst); parameters of length 1 or
    n."""
    n = rt.shape[0]
    nv, na, nz, nt, nsv, nsz, nst = strides(v, a, z, t0, sv, sz, st)
    if _all_zero(sz) and _all_zero(st):
        # No quadrature anywhere: the series derivatives trial by trial, without carrying the
        # quadrature workspaces through every call (a quarter of the simple DDM's time).
        for i in range(n):
            t = rt[i] - t0[i * nt]
            if t > 0.0:
                series_grad_row(t, response[i], v[i * nv], a[i * na], z[i * nz], sv[i * nsv],
                                out[i])
            else:
                out[i, :] = 0.0
                out[i, 0] = -np.inf
        return
    ws = grad_workspace()
    for i in range(n):
        full_grad_ws(rt[i], response[i], v[i * nv], a[i * na], z[i * nz], t0[i * nt],
                     sv[i * nsv], sz[i * nsz], st[i * nst], tol, out[i], ws)


@nb.njit(cache=True, parallel=True)
def _grad_rows_par(rt, response, v, a, z, t0, sv, sz, st, tol, out):
    """As _grad_rows, the trials split into chunks over the threads (for one large fit)."""
    n = rt.shape[0]
    nchunk = min(n, 64)
    for c in nb.prange(nchunk):
        lo = (c * n) // nchunk
        hi = ((c + 1) * n) // nchunk
        _grad_rows(rt[lo:hi], response[lo:hi], v if v.shape[0] == 1 else v[lo:hi],
                   a if a.shape[0] == 1 else a[lo:hi], z if z.shape[0] == 1 else z[lo:hi],
                   t0 if t0.shape[0] == 1 else t0[lo:hi], sv if sv.shape[0] == 1 else sv[lo:hi],
                   sz if sz.shape[0] == 1 else sz[lo:hi], st if st.shape[0] == 1 else st[lo:hi],
                   tol, out[lo:hi])


@nb.njit(cache=True, nogil=True)
def _cdf_rows(rt, response, v, a, z, t0, out):
    n = rt.shape[0]
    nv = 1 if v.shape[0] > 1 else 0
    na = 1 if a.shape[0] > 1 else 0
    nz = 1 if z.shape[0] > 1 else 0
    nt = 1 if t0.shape[0] > 1 else 0
    for i in range(n):
        f, _s = cdf_dec(rt[i] - t0[i * nt], response[i], v[i * nv], a[i * na], z[i * nz])
        out[i] = f


def loglik_grad(rt, response, pars, out, parallel=False, tol=FIT_TOL):
    """Per-trial log-density and gradient columns into ``out`` (n, 8); ``pars`` 7 float arrays.

    ``parallel`` splits the trials over numba's threads: worth it only for the full DDM (tens of
    microseconds per trial) fitted in one process."""
    if parallel:
        _grad_rows_par(rt, response, *pars, tol, out)
    else:
        _grad_rows(rt, response, *pars, tol, out)
    return out


def cdf_simple(rt, response, pars, out):
    """Defective simple-DDM CDF at each trial (v, a, z, t0 arrays of length 1 or n)."""
    _cdf_rows(rt, response, *pars[:4], out)
    return out


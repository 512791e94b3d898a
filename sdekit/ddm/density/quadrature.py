"""Gauss-Kronrod (7/15) quadrature: the one rule, panel and adaptive loop every density integral
uses.

An integrand is a compiled function ``integrand(x, args, ref) -> (log_peak, values)`` that returns
its ``m`` components at the node ``x`` as a tuple ``values``, each scaled by ``exp(-ref)``, and the
log of its unscaled first component (``-inf`` where it vanishes); a tuple, not an output array,
keeps the components in registers. Component 0 is the quantity whose error
the adaptive loop controls (a density); the others (gradient terms) are integrated with the same
panels. ``args`` is a tuple of whatever the integrand needs (data, parameters, workspaces), so one
loop, written once, serves the start-point, non-decision-time and response-time integrals of the
density, of its gradient and of the distribution function; numba compiles one specialisation
per integrand (:func:`make_adaptive`).

Scaling by ``exp(-ref)`` keeps the sums finite where log-densities are near -1e5 or the integrand
peaks far above the reference: the loop reports the largest log-integrand it met, and if that is
more than 700 above ``ref`` it raises ``ref`` and starts again.
"""

from __future__ import annotations

import math
import types

import numba as nb
import numpy as np

__all__ = [
    "DEFAULT_TOL",
    "QUAD_TOL",
    "MAX_PANELS",
    "gk15_node",
    "make_adaptive",
    "quad_workspace",
    "fill_nodes",
]

_NEG_INF = -np.inf

# Gauss-Kronrod 7/15 nodes on [-1, 1] (positive half, 0 last) and weights.
_XGK = np.array([
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.0,
])
_WGK = np.array([
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
])
# 7-point Gauss weights at _XGK[1], _XGK[3], _XGK[5], _XGK[7].
_WG = np.array([
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
])

# The 15 nodes left to right: abscissae, Kronrod weights, embedded Gauss weights (0 at the
# Kronrod-only nodes); tables, so the panel loop reads them without branching.
_NODE_X = np.concatenate([-_XGK[:7], _XGK[::-1]])
_NODE_WK = np.concatenate([_WGK[:7], _WGK[::-1]])
_NODE_WG = np.zeros(15)
_NODE_WG[1:14:2] = np.concatenate([_WG[:3], _WG[3:], _WG[2::-1]])

#: Most panels one adaptive integral may split into.
MAX_PANELS = 64
#: Relative tolerance of the adaptive quadratures (gradients, distribution function).
DEFAULT_TOL = 1e-9
#: Relative tolerance of the tensor-product quadrature of the log-density (see
#: :func:`sdekit.ddm.density.full.full_logpdf_ws`).
QUAD_TOL = 1e-7
# A log-integrand this far above the reference would overflow exp(): rescale and redo.
_MAX_OVER = 700.0
# Rescaling attempts before the last result is kept.
_ATTEMPTS = 4
# The integrand of a compiled copy of the templates below and its number of components, bound by
# make_adaptive (a compile-time constant lets the loops over components unroll).
_integrand = None
_M = 1


@nb.njit(cache=True)
def gk15_node(i):
    """Node ``i`` (0..14, left to right) of the 15-point Kronrod rule on [-1, 1]: (abscissa,
    Kronrod weight, weight of the embedded 7-point Gauss rule, 0 at the Kronrod-only nodes)."""
    if i < 7:
        j = i
        xi = -_XGK[i]
    elif i == 7:
        return 0.0, _WGK[7], _WG[3]
    else:
        j = 14 - i
        xi = _XGK[j]
    wg = _WG[j // 2] if j % 2 == 1 else 0.0
    return xi, _WGK[j], wg


def _gk15_panel(args, lo, hi, ref, kv):
    """One GK15 panel of the bound integrand on [lo, hi].

    Kronrod sums of the components go to ``kv``.

    Returns
    -------
    err : float
        ``|K15 - G7|`` of component 0, the panel's error estimate.
    peak : float
        Largest log-integrand met on the panel.
    """
    c = 0.5 * (lo + hi)
    hw = 0.5 * (hi - lo)
    # component 0 (the one whose error is estimated) is summed in registers, the others in kv;
    # only component 0 needs the Gauss sum
    k0 = 0.0
    g0 = 0.0
    for k in range(1, _M):
        kv[k] = 0.0
    mx = _NEG_INF
    for i in range(15):
        wk = _NODE_WK[i]
        wg = _NODE_WG[i]
        lf, vals = _integrand(c + hw * _NODE_X[i], args, ref)
        mx = max(mx, lf)
        k0 += wk * vals[0]
        g0 += wg * vals[0]
        for k in range(1, _M):
            kv[k] += wk * vals[k]
    kv[0] = k0 * hw
    for k in range(1, _M):
        kv[k] *= hw
    return abs(k0 - g0) * hw, mx


@nb.njit(cache=True)
def quad_workspace(m):
    """Scratch arrays of an adaptive loop (:func:`make_adaptive`) for an ``m``-component
    integrand, and a result array of ``m`` (the last item) for callers that need one; allocate
    once per batch where integrals are many (an allocation costs about as much as a series
    evaluation)."""
    return (np.empty(MAX_PANELS), np.empty(MAX_PANELS), np.empty(MAX_PANELS),
            np.empty((MAX_PANELS, m)), np.empty(m))


def _adaptive_gk15(args, lo, hi, ref, tol, log_floor, ws, out):
    """Globally adaptive GK15 integral of the bound integrand over [lo, hi]
    (the template that `make_adaptive` compiles).

    The panel with the largest error estimate is halved until the summed estimate of component 0
    is below ``tol`` times its integral, or below ``exp(log_floor)`` in unscaled units (``-inf``:
    no absolute floor), or :data:`MAX_PANELS` panels are used.

    Parameters
    ----------
    args : tuple
        Extra arguments of the integrand (see the module notes).
    lo, hi : float
        Limits.
    ref : float
        Initial log scale of the integrand; raised and the integral redone if the integrand
        exceeds it by more than 700.
    tol, log_floor : float
        Relative tolerance and log of the absolute one.
    ws : tuple
        From ``quad_workspace(m)``, ``m`` the number of components.
    out : ndarray
        Receives the integrals of the components, scaled by ``exp(-ref)`` for the returned
        ``ref``; may be
        ``ws[4]``.

    Returns
    -------
    float
        The log scale ``ref`` of ``out``.
    """
    los, his, es, ks = ws[0], ws[1], ws[2], ws[3]
    n = 1
    for _attempt in range(_ATTEMPTS):
        afloor = math.exp(log_floor - ref) if log_floor > _NEG_INF else 0.0
        e, mx = _gk15_panel(args, lo, hi, ref, ks[0])
        over = mx - ref
        los[0] = lo
        his[0] = hi
        es[0] = e
        n = 1
        tot = ks[0, 0]
        err = e
        while err > max(tol * abs(tot), afloor) and n < MAX_PANELS:
            j = 0
            for i in range(1, n):
                if es[i] > es[j]:
                    j = i
            a = los[j]
            b = his[j]
            mid = 0.5 * (a + b)
            old = ks[j, 0]
            e1, m1 = _gk15_panel(args, a, mid, ref, ks[j])
            e2, m2 = _gk15_panel(args, mid, b, ref, ks[n])
            over = max(over, max(m1, m2) - ref)
            tot += ks[j, 0] + ks[n, 0] - old
            err += e1 + e2 - es[j]
            his[j] = mid
            es[j] = e1
            los[n] = mid
            his[n] = b
            es[n] = e2
            n += 1
        if over <= _MAX_OVER:
            break
        ref = ref + over
    # the running total only steers the splitting; the result is summed afresh from the panels
    for k in range(_M):
        s = 0.0
        for i in range(n):
            s += ks[i, k]
        out[k] = s
    return ref


def _instance(fn, name, **bind):
    """Compile a copy of the template ``fn`` under the name ``name``, its globals rebound by
    ``bind``."""
    code = fn.__code__.replace(co_name=name)
    f = types.FunctionType(code, {**fn.__globals__, **bind}, name, fn.__defaults__)
    f.__qualname__ = name
    f.__doc__ = fn.__doc__
    f.__module__ = fn.__module__
    return nb.njit(cache=True)(f)


def make_adaptive(integrand, m, name):
    """The adaptive GK15 loop compiled for one integrand.

    The integrand is bound at compile time, not passed as an argument: a compiled function
    passed as a value stays in the machine code as the address of a Python object, which numba
    cannot cache, and a loop whose integrand runs the same loop would re-enter itself while
    being compiled. Each integral thus gets its own compiled copy of the one template.

    Parameters
    ----------
    integrand : numba dispatcher
        ``integrand(x, args, ref) -> (log_peak, values)`` (see the module notes).
    m : int
        Number of components the integrand writes.
    name : str
        Name of the compiled loop, unique in the package (it names the cache files).

    Returns
    -------
    numba dispatcher
        ``loop(args, lo, hi, ref, tol, log_floor, ws, out) -> ref``, as `_adaptive_gk15`.
    """
    panel = _instance(_gk15_panel, name + "_panel", _integrand=integrand, _M=m)
    return _instance(_adaptive_gk15, name, _gk15_panel=panel, _M=m)


@nb.njit(cache=True)
def fill_nodes(npan, hi, pos, wk, wg):
    """Composite GK15 nodes on [0, hi] with ``npan`` equal panels: positions, Kronrod weights and
    embedded Gauss weights, for the non-adaptive tensor-product rule."""
    hw = 0.5 * hi / npan
    m = 0
    for p in range(npan):
        c = (2 * p + 1) * hw
        for i in range(15):
            xi, wki, wgi = gk15_node(i)
            pos[m] = c + hw * xi
            wk[m] = wki * hw
            wg[m] = wgi * hw
            m += 1

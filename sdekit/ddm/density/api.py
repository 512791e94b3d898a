"""Public functions of the DDM densities: validate and broadcast once, then call the compiled
kernels of :mod:`sdekit.ddm.density.arrays`.
"""

from __future__ import annotations

import math

import numpy as np

from sdekit.ddm.density.arrays import (
    cdf_array,
    grad_array,
    logpdf_array,
    logpdf_simple_array,
)
from sdekit.ddm.density.full import full_cdf_sorted
from sdekit.ddm.density.quadrature import DEFAULT_TOL

__all__ = [
    "logpdf",
    "pdf",
    "cdf",
    "sf",
    "prob_upper",
    "grad_logpdf",
    "logpdf_validated",
    "prob_upper_np",
    "GH_X",
    "GH_W",
    "GL_X",
    "GL_W",
]

def _prepare(rt, response, params):
    """Broadcast data and parameters; return flat data, per-parameter flat arrays (length 1
    when the parameter is shared) and the output shape."""
    from sdekit.ddm._params import PARAM_NAMES, validate_data, validate_params

    p = validate_params(**params)
    rt, resp = validate_data(rt, response)
    shape = np.broadcast_shapes(rt.shape, *(x.shape for x in p.values()))
    n = int(np.prod(shape))
    rt_f = np.ascontiguousarray(np.broadcast_to(rt, shape).reshape(n))
    resp_f = np.ascontiguousarray(np.broadcast_to(resp, shape).reshape(n))
    flat = []
    for name in PARAM_NAMES:
        x = p[name]
        if x.size == 1 or np.all(x == x.reshape(-1)[0]):
            flat.append(np.array([float(x.reshape(-1)[0])]))
        else:
            flat.append(np.ascontiguousarray(np.broadcast_to(x, shape).reshape(n)))
    return rt_f, resp_f, flat, shape


def _params_kw(v, a, z, t0, sv, sz, st):
    return dict(v=v, a=a, z=z, t0=t0, sv=sv, sz=sz, st=st)


def _fast_data(rt, response):
    """Response times and responses as kernel arrays when a few vectorised checks show them
    valid and of one shape; ``None`` sends the caller to the full validation (which raises the
    error naming the argument, or broadcasts)."""
    rt = np.asarray(rt, dtype=np.float64)
    resp = np.asarray(response)
    if rt.shape != resp.shape or rt.size == 0:
        return None
    # One reduction each, no temporaries: min propagates NaN, and integer responses are valid
    # exactly when they lie in [-1, 1] (the kernels read 1 as upper and 0 or -1 as lower).
    if math.isnan(rt.min()):
        return None
    if resp.dtype.kind not in "iu" or resp.min() < -1 or resp.max() > 1:
        if resp.dtype != bool:
            return None
    if resp.dtype != np.int64:
        resp = resp.astype(np.int64)
    return np.ascontiguousarray(rt).reshape(-1), np.ascontiguousarray(resp).reshape(-1)


def logpdf_validated(rt, response, params):
    """`logpdf` for parameters already checked, as the frozen `~sdekit.ddm.DDM` holds them.

    The data get the cheap checks of `_fast_data` and go straight to the compiled kernel; data
    that fail them (NaN, responses other than 1, 0 and -1 or not integers, shapes that need
    broadcasting) take the general path, which raises the same errors as `logpdf`.

    Parameters
    ----------
    rt, response : array_like
        As in `logpdf`.
    params : dict of float
        The seven parameters by name, scalars inside their domains.
    """
    data = _fast_data(rt, response)
    if data is None:
        return logpdf(rt, response, **params)
    rt_f, resp_f = data
    out = np.empty(rt_f.shape[0])
    p = params
    if p["sv"] == 0.0 and p["sz"] == 0.0 and p["st"] == 0.0:
        logpdf_simple_array(rt_f, resp_f, p["v"], p["a"], p["z"], p["t0"], out)
    else:
        logpdf_array(rt_f, resp_f, *(np.array([float(p[k])]) for k in _PARAM_ORDER), out)
    return out.reshape(np.shape(rt))


_PARAM_ORDER = ("v", "a", "z", "t0", "sv", "sz", "st")


def logpdf(rt, response, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0):
    """Log joint density of response time and response under the (full) DDM.

    Parameters
    ----------
    rt : array_like
        Response times in seconds.
    response : array_like
        1 for the upper boundary, 0 (or -1) for the lower boundary; broadcast against ``rt``.
    v, a, z, t0, sv, sz, st : array_like
        Drift (1/s), full boundary separation, relative start in (0, 1), non-decision time (s),
        drift s.d., start-point window width (relative units) and non-decision window width (s,
        the window is [t0, t0 + st]). Broadcast against the data.

    Returns
    -------
    ndarray
        ``log p(rt, response)``, of the broadcast shape; ``-inf`` only where the density is exactly
        zero (``rt <= t0``).
    """
    rt_f, resp_f, flat, shape = _prepare(rt, response, _params_kw(v, a, z, t0, sv, sz, st))
    out = np.empty(rt_f.shape[0])
    logpdf_array(rt_f, resp_f, *flat, out)
    return out.reshape(shape)


def pdf(rt, response, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0):
    """Joint density of response time and response (see `logpdf`); underflows to 0 in the far
    tails, where `logpdf` stays finite."""
    return np.exp(logpdf(rt, response, v, a, z, t0, sv, sz, st))


def grad_logpdf(rt, response, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0):
    """Gradient of the log-density with respect to every parameter.

    Returns
    -------
    dict of ndarray
        Keys ``'v', 'a', 'z', 't0', 'sv', 'sz', 'st'``, each of the broadcast shape. Where a
        variability parameter is 0 its derivative is the one-sided derivative at 0 (0 for ``sv``,
        whose effect is quadratic, and ``-0.5 * d/d(decision time)`` for ``st``).
    """
    rt_f, resp_f, flat, shape = _prepare(rt, response, _params_kw(v, a, z, t0, sv, sz, st))
    out = np.empty((rt_f.shape[0], 8))
    grad_array(rt_f, resp_f, *flat, out)
    names = ("v", "a", "z", "t0", "sv", "sz", "st")
    return {nm: out[:, i + 1].reshape(shape) for i, nm in enumerate(names)}


#: 80-node Gauss-Hermite rule for a standard normal (nodes, weights summing to 1): averages over
#: the across-trial drift ``v + sv * GH_X``.
GH_X, GH_W = np.polynomial.hermite_e.hermegauss(80)
GH_W = GH_W / GH_W.sum()
#: 48-node Gauss-Legendre rule on [0, 1]: averages over the start-point window
#: ``z + sz * (GL_X - 1/2)``.
GL_X, GL_W = np.polynomial.legendre.leggauss(48)
GL_X = 0.5 * (GL_X + 1.0)
GL_W = 0.5 * GL_W


def prob_upper_np(v, a, z):
    """Closed-form ``P(upper)`` for broadcastable arrays ``v, a, z`` of the simple DDM, with no
    validation; accurate where the probability is tiny (no ``1 - p``)."""
    x = -2.0 * v * a  # P(upper | v, a, z) = P(lower | -v, a, 1 - z)
    w = 1.0 - z
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pos = np.exp(-x * w) * (-np.expm1(-x * (1.0 - w))) / (-np.expm1(-x))
        neg = np.expm1(x * (1.0 - w)) / np.expm1(x)
    return np.where(x > 0, pos, np.where(x < 0, neg, 1.0 - w))


def prob_upper(v, a, z=0.5, sv=0.0, sz=0.0):
    """Probability of absorption at the upper boundary.

    Closed form for ``sv = sz = 0``; otherwise the closed form averaged over the drift by 80-node
    Gauss-Hermite and over the start point by 48-node Gauss-Legendre quadrature (both exact to
    rounding for the smooth integrands met with ``|a * sv| < 20``).
    """
    from sdekit.ddm._params import validate_params

    p = validate_params(v=v, a=a, z=z, sv=sv, sz=sz)
    v, a, z, sv, sz = (p[k][..., None, None] for k in ("v", "a", "z", "sv", "sz"))
    if np.all(sv == 0) and np.all(sz == 0):
        return prob_upper_np(v, a, z)[..., 0, 0]
    vv = v + sv * GH_X[:, None]
    zz = z + sz * (GL_X[None, :] - 0.5)
    pr = prob_upper_np(vv, a, zz)
    return np.sum(pr * GH_W[:, None] * GL_W[None, :], axis=(-2, -1))


def cdf(rt, response, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0):
    """Defective distribution function ``P(RT <= rt, response)``.

    Tends to ``P(response)`` as ``rt -> inf``. Series (absolute error below 1e-14) for the
    simple DDM; for ``sv, sz, st > 0`` the full density integrated over time by adaptive
    Gauss-Kronrod quadrature (relative error about 1e-9).
    """
    rt_f, resp_f, flat, shape = _prepare(rt, response, _params_kw(v, a, z, t0, sv, sz, st))
    n = rt_f.shape[0]
    out = np.empty(n)
    v_, a_, z_, t0_, sv_, sz_, st_ = flat
    if all(x.shape[0] == 1 and x[0] == 0.0 for x in (sv_, sz_, st_)):
        sfo = np.empty(n)
        cdf_array(rt_f, resp_f, v_, a_, z_, t0_, out, sfo)
        return out.reshape(shape)
    _full_cdf_generic(rt_f, resp_f, flat, out)
    return out.reshape(shape)


def _full_cdf_generic(rt_f, resp_f, flat, out):
    n = rt_f.shape[0]
    if all(x.shape[0] == 1 for x in flat):
        pars = [float(x[0]) for x in flat]
        for r in (0, 1):
            idx = np.nonzero(resp_f == r)[0]
            if idx.size == 0:
                continue
            order = idx[np.argsort(rt_f[idx], kind="stable")]
            tmp = np.empty(order.size)
            full_cdf_sorted(rt_f[order], r, *pars, DEFAULT_TOL, tmp)
            out[order] = tmp
        return
    one = np.empty(1)
    for i in range(n):
        pars = [float(x[i if x.shape[0] > 1 else 0]) for x in flat]
        full_cdf_sorted(rt_f[i:i + 1], int(resp_f[i]), *pars, DEFAULT_TOL, one)
        out[i] = one[0]


def sf(rt, response, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0):
    """Defective survival function ``P(RT > rt, response) = P(response) - cdf``.

    For the simple DDM computed directly from the large-time series where it is small, so it
    keeps its relative accuracy in the far right tail.
    """
    rt_f, resp_f, flat, shape = _prepare(rt, response, _params_kw(v, a, z, t0, sv, sz, st))
    n = rt_f.shape[0]
    v_, a_, z_, t0_, sv_, sz_, st_ = flat
    if all(x.shape[0] == 1 and x[0] == 0.0 for x in (sv_, sz_, st_)):
        c = np.empty(n)
        out = np.empty(n)
        cdf_array(rt_f, resp_f, v_, a_, z_, t0_, c, out)
        return out.reshape(shape)
    c = np.empty(n)
    _full_cdf_generic(rt_f, resp_f, flat, c)
    pu = prob_upper(np.broadcast_to(v_, (n,)) if v_.shape[0] > 1 else v_[0],
                    a_ if a_.shape[0] > 1 else a_[0], z_ if z_.shape[0] > 1 else z_[0],
                    sv_ if sv_.shape[0] > 1 else sv_[0], sz_ if sz_.shape[0] > 1 else sz_[0])
    p_resp = np.where(resp_f == 1, pu, 1.0 - pu)
    return np.maximum(p_resp - c, 0.0).reshape(shape)


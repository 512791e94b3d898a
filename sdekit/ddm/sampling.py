"""Exact sampling of the DDM: no time discretisation, so no boundary-overshoot bias.

A trial of the simple DDM is drawn by inverting its distribution: the boundary from one uniform
and the closed-form ``P(upper)``, then the decision time from a second uniform by solving
``F_b(T) / P_b = u`` (the conditional first-passage CDF, accurate to about 1e-14) with a
safeguarded Newton iteration in ``log T`` to a relative tolerance of 1e-12. Upper-quantile draws
solve the survival equation instead, so the far right tail keeps its relative accuracy. With
shared parameters and many trials, a cubic Hermite table of the quantile function in
``logit(u)`` supplies the starting point, so one or two Newton steps finish each draw.

For the full DDM each trial first draws its own drift ``v + sv * N(0, 1)``, start
``z + sz * (U - 1/2)`` and non-decision time ``t0 + st * U``, then a simple-DDM trial.

Every trial ``i`` owns the random stream ``(seed, i)`` of :mod:`sdekit.sde.random`, so a seed fixes
the sample whatever the number of threads.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sdekit.ddm.density import cdf_dec, logpdf_dec, lower_cdf_p, prob_boundary
from sdekit.sde.random import next_normal, next_uniform, seed_state

__all__ = ["sample_ddm"]


@nb.njit(cache=True)
def _cothm1(x):
    """x coth(x) - 1, accurate near 0."""
    ax = abs(x)
    if ax < 0.1:
        x2 = x * x
        return x2 * (1.0 / 3.0 - x2 * (1.0 / 45.0 - x2 * (2.0 / 945.0 - x2 / 4725.0)))
    if ax > 20.0:
        return ax - 1.0
    return ax / math.tanh(ax) - 1.0


@nb.njit(cache=True)
def _mean_dec_lower(v, a, w):
    """E[T | lower boundary] = (a coth(va) - b coth(vb)) / v with b = (1 - w) a."""
    b = (1.0 - w) * a
    if v == 0.0:
        return (a * a - b * b) / 3.0
    return (_cothm1(v * a) - _cothm1(v * b)) / (v * v)


@nb.njit(cache=True)
def _mean_dec(response, v, a, w):
    if response == 1:
        return _mean_dec_lower(-v, a, 1.0 - w)
    return _mean_dec_lower(v, a, w)


@nb.njit(cache=True)
def _quantile_dec(u, response, v, a, w, p):
    """Decision time T with P(T <= t | boundary) = u, given P(boundary) = p > 0."""
    m = _mean_dec(response, v, a, w)
    return _quantile_from(math.log(m) if m > 0.0 else 0.0, u, response, v, a, w, p)


@nb.njit(cache=True)
def _quantile_from(x, u, response, v, a, w, p):
    """`_quantile_dec` started from log-time x."""
    lo = -math.inf
    hi = math.inf
    upper_half = u > 0.5
    target = (1.0 - u) if upper_half else u
    for _it in range(200):
        t = math.exp(x)
        f, s = cdf_dec(t, response, v, a, w)
        if upper_half:
            r = target - s / p  # increasing in t
        else:
            r = f / p - target
        if r > 0.0:
            hi = x
        elif r < 0.0:
            lo = x
        else:
            return t
        d = math.exp(logpdf_dec(t, response, v, a, w, 0.0) + x) / p
        if d > 0.0:
            xn = x - r / d
        else:
            xn = math.nan
        if not (xn > lo and xn < hi):
            if lo > -math.inf and hi < math.inf:
                xn = 0.5 * (lo + hi)
            elif hi < math.inf:
                xn = hi - 1.0
            else:
                xn = lo + 1.0
        # keep t = exp(x) and t / a^2 normal numbers
        xn = min(max(xn, -690.0), 690.0)
        if abs(xn - x) <= 1e-12:
            return math.exp(xn)
        if hi - lo <= 1e-12:
            return math.exp(0.5 * (lo + hi))
        x = xn
    return math.exp(x)


@nb.njit(cache=True)
def _draw_trial(state, v, a, z, t0, sv, sz, st):
    """One full-DDM trial: (state, rt, response). Draw order is fixed: resp, time, v, z, t0."""
    state, u_resp = next_uniform(state)
    state, u_time = next_uniform(state)
    state, n_v = next_normal(state)
    state, u_z = next_uniform(state)
    state, u_t = next_uniform(state)
    vi = v + sv * n_v
    wi = z + sz * (u_z - 0.5)
    ti = t0 + st * u_t
    p_up = prob_boundary(1, vi, a, wi)
    resp = 1 if u_resp < p_up else 0
    p = p_up if resp == 1 else 1.0 - p_up
    if resp == 0:
        p = prob_boundary(0, vi, a, wi)  # accurate even when p_up is close to 1
    # u_time in [0, 1): map to (0, 1) so the quantile is finite
    uu = u_time + 0.5 * 2.0**-53
    return state, ti + _quantile_dec(uu, resp, vi, a, wi, p), resp


# Quantile tables for shared parameters: x = log T on a uniform grid of s = logit(u), with the
# slope dx/ds, for cubic Hermite interpolation. Every interval's interpolant is checked at its
# midpoint (where the Hermite error peaks) against the exact quantile: in intervals within
# _TAB_TOL the interpolated value is the draw; elsewhere (the far tails, where the density
# underflows) it only starts Newton steps on the CDF equation.
_TAB_N = 4097
_TAB_S = 38.0  # covers every uniform the generator can return (|logit(u)| <= 37.5)
_TAB_TOL = 1e-10  # largest error of log T accepted from the interpolant alone
_NEWTON_ACCEPT = 1e-9  # a step this small leaves an error of order its square


@nb.njit(cache=True)
def _logit_node(j):
    """(u, 1 - u) at table node s_j = -_TAB_S + j h, both to full precision."""
    s = -_TAB_S + j * (2.0 * _TAB_S / (_TAB_N - 1))
    if s < 0.0:
        e = math.exp(s)
        return e / (1.0 + e), 1.0 / (1.0 + e)
    e = math.exp(-s)
    return 1.0 / (1.0 + e), e / (1.0 + e)


_TAB_CHUNKS = 16


@nb.njit(cache=True, parallel=True)
def _build_table(response, v, a, w, p, xs, dxs):
    # chunks of neighbouring nodes in parallel; within a chunk each solve starts from the
    # previous node's log time, so Newton needs a step or two
    for c in nb.prange(_TAB_CHUNKS):
        lo = (c * _TAB_N) // _TAB_CHUNKS
        hi = ((c + 1) * _TAB_N) // _TAB_CHUNKS
        for j in range(lo, hi):
            u, one_minus_u = _logit_node(j)
            if j == lo:
                t = _quantile_dec(u, response, v, a, w, p)
            else:
                # started on the tangent from the previous node (dx/ds is known there)
                h = 2.0 * _TAB_S / (_TAB_N - 1)
                t = _quantile_from(xs[j - 1] + h * dxs[j - 1], u, response, v, a, w, p)
            xs[j] = math.log(t)
            dens = math.exp(logpdf_dec(t, response, v, a, w, 0.0)) * t / p
            dxs[j] = u * one_minus_u / dens if dens > 0.0 else 0.0


@nb.njit(cache=True, parallel=True)
def _check_table(response, v, a, w, p, xs, dxs, ok):
    """ok[j] = 1 where the interpolant on interval j is within _TAB_TOL of the exact log
    quantile at the interval's midpoint (where the Hermite error peaks); the error is the
    Newton step the CDF equation would take there."""
    h = 2.0 * _TAB_S / (_TAB_N - 1)
    for j in nb.prange(_TAB_N - 1):
        s = -_TAB_S + (j + 0.5) * h
        if s < 0.0:
            e = math.exp(s)
            u = e / (1.0 + e)
        else:
            e = math.exp(-s)
            u = 1.0 / (1.0 + e)
        x = _hermite(xs, dxs, h, j, 0.5)
        t = math.exp(x)
        f, sf = cdf_dec(t, response, v, a, w)
        res = (1.0 - u) - sf / p if u > 0.5 else f / p - u
        slope = math.exp(logpdf_dec(t, response, v, a, w, 0.0) + x) / p  # dF/dx
        ok[j] = 1 if slope > 0.0 and abs(res) <= _TAB_TOL * slope else 0


@nb.njit(cache=True)
def _hermite(xs, dxs, h, j, r):
    r2 = r * r
    r3 = r2 * r
    return ((2.0 * r3 - 3.0 * r2 + 1.0) * xs[j] + (r3 - 2.0 * r2 + r) * h * dxs[j]
            + (-2.0 * r3 + 3.0 * r2) * xs[j + 1] + (r3 - r2) * h * dxs[j + 1])


@nb.njit(cache=True)
def _quantile_from_table(u, response, v, a, w, p, xs, dxs, ok):
    h = 2.0 * _TAB_S / (_TAB_N - 1)
    s = math.log(u) - math.log1p(-u)
    g = (s + _TAB_S) / h
    j = min(max(int(g), 0), _TAB_N - 2)
    r = g - j
    # cubic Hermite on [j, j + 1]
    x = _hermite(xs, dxs, h, j, r)
    if ok[j]:
        return math.exp(x)
    # its slope dx/ds, for Newton steps
    r2 = r * r
    dx = ((6.0 * r2 - 6.0 * r) * (xs[j] - xs[j + 1]) / h
          + (3.0 * r2 - 4.0 * r + 1.0) * dxs[j] + (3.0 * r2 - 2.0 * r) * dxs[j + 1])
    # lower-boundary frame for the distribution function
    vf = -v if response == 1 else v
    wf = 1.0 - w if response == 1 else w
    # Newton steps on G(x) = u, G'(x) = u (1 - u) / (dx/ds) from the interpolant: its error
    # (~1e-7 relative) only scales the already tiny step
    deriv = u * (1.0 - u) / dx if dx > 0.0 else 0.0
    for _it in range(2):
        f, sv_ = lower_cdf_p(math.exp(x), vf, a, wf, p)
        if u > 0.5:
            res = (1.0 - u) - sv_ / p
        else:
            res = f / p - u
        if not deriv > 0.0:
            break
        step = res / deriv
        x -= step
        if abs(step) <= _NEWTON_ACCEPT:
            return math.exp(x)
    return _quantile_dec(u, response, v, a, w, p)


@nb.njit(cache=True, parallel=True)
def _sample_simple_table(seed, first, v, a, z, t0, xs_u, dxs_u, ok_u, xs_l, dxs_l, ok_l, p_up,
                         p_lo, rt_out, resp_out):
    """Simple DDM with shared parameters: same streams and draw order as `_draw_trial`."""
    for i in nb.prange(rt_out.shape[0]):
        state = seed_state(seed, first + i)
        state, u_resp = next_uniform(state)
        state, u_time = next_uniform(state)
        uu = u_time + 0.5 * 2.0**-53
        if u_resp < p_up:
            resp_out[i] = 1
            rt_out[i] = t0 + _quantile_from_table(uu, 1, v, a, z, p_up, xs_u, dxs_u, ok_u)
        else:
            resp_out[i] = 0
            rt_out[i] = t0 + _quantile_from_table(uu, 0, v, a, z, p_lo, xs_l, dxs_l, ok_l)


@nb.njit(cache=True, parallel=True)
def _sample_array(seed, first, v, a, z, t0, sv, sz, st, rt_out, resp_out):
    for i in nb.prange(rt_out.shape[0]):
        state = seed_state(seed, first + i)
        state, r, c = _draw_trial(state, v, a, z, t0, sv, sz, st)
        rt_out[i] = r
        resp_out[i] = c


def sample_ddm(n, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0, seed=None):
    """Draw ``n`` exact DDM trials.

    Parameters
    ----------
    n : int
        Number of trials.
    v, a, z, t0, sv, sz, st : float
        DDM parameters (see :mod:`sdekit.ddm.density`).
    seed : int or None
        Seed of the per-trial random streams; trial ``i`` depends on ``(seed, i)`` only.

    Returns
    -------
    rt : ndarray of float64, shape (n,)
        Response times in seconds.
    response : ndarray of int64, shape (n,)
        1 for the upper boundary, 0 for the lower.
    """
    from sdekit.ddm._params import validate_params
    from sdekit.sde.random import check_seed

    p = validate_params(v=v, a=a, z=z, t0=t0, sv=sv, sz=sz, st=st)
    for k, x in p.items():
        if x.ndim != 0:
            raise ValueError(f"{k} must be a scalar for sampling, got shape {x.shape}")
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    s = np.uint64(check_seed(seed))
    rt = np.empty(n)
    resp = np.empty(n, dtype=np.int64)
    v, a, z, t0, sv, sz, st = (float(p[k]) for k in ("v", "a", "z", "t0", "sv", "sz", "st"))
    if sv == 0.0 and sz == 0.0 and st == 0.0 and n >= 20_000:
        # shared parameters: a checked quantile table gives most draws directly
        p_up = float(prob_boundary(1, v, a, z))
        p_lo = float(prob_boundary(0, v, a, z))
        tabs = []
        for r, pr in ((1, p_up), (0, p_lo)):
            xs = np.zeros(_TAB_N)
            dxs = np.zeros(_TAB_N)
            ok = np.zeros(_TAB_N - 1, dtype=np.uint8)
            if pr > 1e-300:
                _build_table(r, v, a, z, pr, xs, dxs)
                _check_table(r, v, a, z, pr, xs, dxs, ok)
            tabs += [xs, dxs, ok]
        _sample_simple_table(s, np.int64(0), v, a, z, t0, *tabs, p_up, p_lo, rt, resp)
        return rt, resp
    _sample_array(s, np.int64(0), v, a, z, t0, sv, sz, st, rt, resp)
    return rt, resp


@nb.njit(cache=True, parallel=True)
def _sample_rows(seed, v, a, z, t0, sv, sz, st, rt_out, resp_out):
    for i in nb.prange(rt_out.shape[0]):
        state = seed_state(seed, i)
        state, r, c = _draw_trial(state, v[i], a[i], z[i], t0[i], sv[i], sz[i], st[i])
        rt_out[i] = r
        resp_out[i] = c


def sample_trials(v, a, z, t0, sv, sz, st, seed):
    """One exact DDM trial per row of parameters (posterior predictives, designs with covariates).

    Parameters
    ----------
    v, a, z, t0, sv, sz, st : array_like, shape (n,) or broadcastable to it
        Each trial's parameters, checked as by :func:`sample_ddm`.
    seed : int
        Trial ``i`` depends on ``(seed, i)`` only (the draws of :func:`sample_ddm` with scalar
        parameters and the same seed).

    Returns
    -------
    rt : ndarray of float64, shape (n,)
    response : ndarray of int64, shape (n,)
    """
    from sdekit.ddm._params import validate_params
    from sdekit.sde.random import check_seed

    p = validate_params(v=v, a=a, z=z, t0=t0, sv=sv, sz=sz, st=st)
    cols = [np.ascontiguousarray(np.atleast_1d(p[k]), dtype=np.float64).reshape(-1)
            for k in ("v", "a", "z", "t0", "sv", "sz", "st")]
    n = cols[0].shape[0]
    rt = np.empty(n)
    resp = np.empty(n, dtype=np.int64)
    _sample_rows(np.uint64(check_seed(seed)), *cols, rt, resp)
    return rt, resp

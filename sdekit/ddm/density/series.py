"""Series of the simple DDM: the zero-drift density ``g(u, w)``, the closed-form drift variability,
boundary probabilities and the distribution function.

The zero-drift, unit-separation density ``g(u, w)`` at normalised time ``u = T / a**2`` is computed
from one of two series (Navarro & Fuss 2009):

* small time, ``u < 0.13``: ``g = (2 pi u^3)^(-1/2) sum_k (w + 2k) exp(-(w + 2k)^2 / (2u))``;
* large time, ``u >= 0.13``: ``g = pi sum_{k>=1} k sin(k pi w) exp(-k^2 pi^2 u / 2)``.

Each series is written as its leading term times ``1 + (relative corrections)`` and summed in log
space, so the log-density stays finite and accurate where the density underflows (``T`` of 1e-4 s
with ``a = 5`` gives log-densities near -1e5). The number of terms is chosen per point, as in
Gondan, Blurton & Kesselmeier (2014), from a bound on the truncated tail: the omitted terms sum
to less than ``2**-53`` times the leading term (with a margin that also covers the derivative
series). The switch at ``u = 0.13`` keeps the ratio of the sum of absolute terms to the absolute
sum (the loss of relative precision to cancellation) below about 4 for ``w`` in [0.05, 0.95] and
below 200 for any ``w`` in (0, 1), and no point needs more than 9 terms.

The distribution function uses the large-time series of the survival function (Feller) and, for
small times, the image series integrated term by term in closed form with scaled complementary
error functions (Blurton, Kesselmeier & Gondan 2012).

Every function here is a compiled scalar kernel in the lower-boundary frame or at a given
boundary (``response`` 1 upper, 0 lower); none validates its arguments.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = [
    "wconst",
    "log_g_c",
    "bconst",
    "lower_logpdf_c",
    "logpdf_dec",
    "logpdf_dec_grad",
    "prob_lower",
    "prob_boundary",
    "lower_cdf_p",
    "cdf_dec",
]

_PI = math.pi
_LOG_PI = math.log(math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_HALF_PI2 = 0.5 * math.pi * math.pi
_DELTA = 2.0**-53
# Tail bounds: omitted terms < _DELTA * leading term.
_LOG_4_OVER_DELTA = math.log(4.0 / _DELTA)
_LOG_2_OVER_DELTA = math.log(2.0 / _DELTA)
_U_SWITCH = 0.13
_LOGK = np.log(np.arange(1, 400, dtype=np.float64))  # _LOGK[k - 1] = log(k)
_NEG_INF = -np.inf
_SQRT_PI = math.sqrt(math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)

# ---------------------------------------------------------------------------------------------
# Zero-drift, unit-separation density g(u, w) and its derivatives
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _large_time_setup(w):
    """sin(pi w) and cos(pi w) accurate to full relative precision for w near 0 or 1."""
    if w <= 0.5:
        x = w
        sgn = 1.0
    else:
        x = 1.0 - w  # exact for w >= 0.5
        sgn = -1.0
    return math.sin(_PI * x), sgn * math.cos(_PI * x)


@nb.njit(cache=True)
def wconst(w):
    """Quantities of the start point that every series needs: (w, log w, cos(pi w),
    log sin(pi w)); computed once per parameter set rather than once per trial."""
    s1, c1 = _large_time_setup(w)
    return w, math.log(w), c1, math.log(s1)


def _large_time_thresholds():
    # term k of the large-time density series is needed iff u < _UL[k]: the omitted tail
    # sum_{k' >= k} k'^2 q^(k'^2 - 1) <= 2 k^2 q^(k^2 - 1) must stay below _DELTA (ratio of
    # successive bounds < 1/2 for u >= _U_SWITCH).
    ul = np.zeros(64)
    for k in range(2, 64):
        ul[k] = (_LOG_2_OVER_DELTA + 2.0 * math.log(k)) / ((k * k - 1.0) * _HALF_PI2)
    return ul


_UL = _large_time_thresholds()


@nb.njit(cache=True)
def log_g_c(u, wc):
    """log g(u, w), the log first-passage density at 0 of a driftless unit-diffusion process on
    (0, 1) started at w, at time u; ``wc = wconst(w)``."""
    w, logw, c1, log_s1 = wc
    if not u > 0.0:
        # decision time so short that t / a^2 underflows: the log-density is below -1e308
        return _NEG_INF
    if u < _U_SWITCH:
        # pair j is needed unless its first term, (2j + 1) / w exp(-2j(j - w)/u), is below
        # _DELTA / 4 (the later terms then add less than as much again)
        lim = _LOG_4_OVER_DELTA - logw
        c = 0.0
        j = 1
        while True:
            e_neg = 2.0 * j * (j - w) / u
            if e_neg >= lim + _LOGK[2 * j]:
                break
            c += ((w - 2.0 * j) / w) * math.exp(-e_neg)
            e_pos = 2.0 * j * (j + w) / u
            if e_pos < lim + _LOGK[2 * j]:
                c += ((w + 2.0 * j) / w) * math.exp(-e_pos)
            j += 1
        lead = logw - 0.5 * w * w / u - _HALF_LOG_2PI
        if u > 1e-200:
            # one logarithm for -1.5 log u + log(1 + c)
            return lead + math.log((1.0 + c) / (u * math.sqrt(u)))
        return lead - 1.5 * math.log(u) + math.log1p(c)  # u^1.5 would underflow
    h = _HALF_PI2 * u
    base = _LOG_PI + log_s1 - h
    if u >= _UL[2]:
        return base
    q = math.exp(-h)
    q2 = q * q
    r = q2 * q  # q^(2k - 1) for k = 2
    p = 1.0  # q^(k^2 - 1)
    um2 = 1.0  # U_{k-2}(c1)
    um1 = 2.0 * c1  # U_{k-1}(c1)
    corr = 0.0
    k = 2
    while True:
        p *= r
        corr += k * um1 * p
        k += 1
        if u >= _UL[k]:
            break
        r *= q2
        nxt = 2.0 * c1 * um1 - um2
        um2 = um1
        um1 = nxt
    return base + math.log1p(corr)


@nb.njit(cache=True)
def _log_g(u, w):
    return log_g_c(u, wconst(w))


@nb.njit(cache=True)
def _log_g_grad(u, w):
    """(log g, d log g / du, d log g / dw) by the same series, differentiated term by term."""
    if not u > 0.0:
        return _NEG_INF, 0.0, 0.0
    if u < _U_SWITCH:
        logw = math.log(w)
        lim = _LOG_4_OVER_DELTA - logw
        s = w  # sum of c_k rho_k, rho_k = exp(-(c_k^2 - w^2) / (2u))
        su = w * w * w  # sum of c_k^3 rho_k
        sw = 1.0 - w * w / u  # sum of (1 - c_k^2 / u) rho_k
        j = 1
        while True:
            e_neg = 2.0 * j * (j - w) / u
            if e_neg >= lim + 3.0 * _LOGK[2 * j]:
                break
            ck = w - 2.0 * j
            rho = math.exp(-e_neg)
            s += ck * rho
            su += ck * ck * ck * rho
            sw += (1.0 - ck * ck / u) * rho
            e_pos = 2.0 * j * (j + w) / u
            if e_pos < lim + 3.0 * _LOGK[2 * j]:
                ck = w + 2.0 * j
                rho = math.exp(-e_pos)
                s += ck * rho
                su += ck * ck * ck * rho
                sw += (1.0 - ck * ck / u) * rho
            j += 1
        lg = logw - 0.5 * w * w / u - _HALF_LOG_2PI - 1.5 * math.log(u) + math.log(s / w)
        gu = -1.5 / u + su / (2.0 * u * s) / u  # u * u could underflow to 0
        gw = sw / s
        return lg, gu, gw
    s1, c1 = _large_time_setup(w)
    h = _HALF_PI2 * u
    base = _LOG_PI + math.log(s1) - h
    # relative sums: T = sum k U_{k-1} q^(k^2-1), Tu = sum k^3 U_{k-1} q^(k^2-1),
    # Tw = sum k^2 T_k(c1) q^(k^2-1) (Chebyshev T_k = cos(k pi w))
    t = 1.0
    tu = 1.0
    tw = c1
    if 3.0 * h < _LOG_2_OVER_DELTA + 6.0 * _LOGK[1]:
        q = math.exp(-h)
        q2 = q * q
        r = q2 * q
        p = 1.0
        um2 = 1.0
        um1 = 2.0 * c1
        tm2 = 1.0  # T_{k-2}
        tm1 = c1  # T_{k-1}
        k = 2
        while True:
            p *= r
            tk = 2.0 * c1 * tm1 - tm2
            t += k * um1 * p
            tu += k * k * k * um1 * p
            tw += k * k * tk * p
            k += 1
            if (k * k - 1.0) * h >= _LOG_2_OVER_DELTA + 6.0 * _LOGK[k - 1]:
                break
            r *= q2
            nxt = 2.0 * c1 * um1 - um2
            um2 = um1
            um1 = nxt
            tm2 = tm1
            tm1 = tk
    lg = base + math.log(t)
    gu = -_HALF_PI2 * tu / t
    gw = _PI * tw / (s1 * t)
    return lg, gu, gw


# ---------------------------------------------------------------------------------------------
# Simple DDM with closed-form drift variability
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def bconst(v, a, w):
    """Per-boundary constants in the lower-boundary frame, as a flat tuple of scalars (tuples
    nested in tuples cannot cross into a prange body): (-v^2/2, 1/a^2, -2 log a - v a w, w,
    log w, cos(pi w), log sin(pi w))."""
    w_, logw, c1, log_s1 = wconst(w)
    return -0.5 * v * v, 1.0 / (a * a), -2.0 * math.log(a) - v * a * w, w_, logw, c1, log_s1


@nb.njit(cache=True)
def lower_logpdf_c(t, hv2, inv_a2, off, w, logw, c1, log_s1):
    """log density of the simple DDM at decision time t > 0, lower-boundary frame."""
    return log_g_c(t * inv_a2, (w, logw, c1, log_s1)) + off + hv2 * t


@nb.njit(cache=True)
def _lower_logpdf(t, v, a, w, sv):
    """log density of hitting the lower boundary at decision time t (sv integrated)."""
    if not t > 0.0:
        return _NEG_INF
    lg = _log_g(t / (a * a), w)
    if sv == 0.0:
        return lg - 2.0 * math.log(a) - v * a * w - 0.5 * v * v * t
    s2t = sv * sv * t
    return (lg - 2.0 * math.log(a)
            + (a * a * w * w * sv * sv - 2.0 * a * v * w - v * v * t) / (2.0 * (1.0 + s2t))
            - 0.5 * math.log1p(s2t))


@nb.njit(cache=True)
def logpdf_dec(t, response, v, a, w, sv):
    """log density of decision time t at the given boundary (response 1 upper, 0 lower)."""
    if response == 1:
        return _lower_logpdf(t, -v, a, 1.0 - w, sv)
    return _lower_logpdf(t, v, a, w, sv)


@nb.njit(cache=True)
def _lower_logpdf_grad(t, v, a, w, sv):
    """(log f, d/dv, d/da, d/dw, d/dt, d/dsv) for the lower boundary; t > 0."""
    u = t / (a * a)
    lg, gu, gw = _log_g_grad(u, w)
    s = 1.0 + sv * sv * t
    n = a * a * w * w * sv * sv - 2.0 * a * v * w - v * v * t
    lf = lg - 2.0 * math.log(a) + n / (2.0 * s) - 0.5 * math.log(s)
    dv = -(a * w + v * t) / s
    da = -2.0 / a - 2.0 * u * gu / a + (a * w * w * sv * sv - v * w) / s
    dw = gw + a * (a * w * sv * sv - v) / s
    dt = gu / (a * a) - v * v / (2.0 * s) - n * sv * sv / (2.0 * s * s) - 0.5 * sv * sv / s
    dsv = a * a * w * w * sv / s - n * sv * t / (s * s) - sv * t / s
    return lf, dv, da, dw, dt, dsv


@nb.njit(cache=True)
def logpdf_dec_grad(t, response, v, a, w, sv):
    """(log f, d/dv, d/da, d/dw, d/dt, d/dsv) at either boundary; t > 0."""
    if response == 1:
        lf, dv, da, dw, dt, dsv = _lower_logpdf_grad(t, -v, a, 1.0 - w, sv)
        return lf, -dv, da, -dw, dt, dsv
    return _lower_logpdf_grad(t, v, a, w, sv)


# ---------------------------------------------------------------------------------------------
# Boundary probabilities and the distribution function
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def prob_lower(v, a, w):
    """P(absorption at the lower boundary) for drift v, separation a, relative start w."""
    x = 2.0 * v * a
    if x == 0.0:
        return 1.0 - w
    if x > 0.0:
        # expm1(x (1-w)) / expm1(x), rescaled by exp(-x) to avoid overflow
        return math.exp(-x * w) * (-math.expm1(-x * (1.0 - w))) / (-math.expm1(-x))
    return math.expm1(x * (1.0 - w)) / math.expm1(x)


@nb.njit(cache=True)
def prob_boundary(response, v, a, w):
    if response == 1:
        return prob_lower(-v, a, 1.0 - w)
    return prob_lower(v, a, w)


@nb.njit(cache=True)
def _erfcx(x):
    """Scaled complementary error function exp(x^2) erfc(x) for x >= 0."""
    if x < 26.0:
        return math.exp(x * x) * math.erfc(x)
    # asymptotic series, terms below 1e-17 after six
    y = 1.0 / (2.0 * x * x)
    s = 1.0
    term = 1.0
    for n in range(1, 8):
        term *= -(2.0 * n - 1.0) * y
        s += term
    return s / (x * _SQRT_PI)


@nb.njit(cache=True)
def _ig_mass(c, mu, t):
    """int_0^t c / sqrt(2 pi s^3) exp(-c^2/(2s) - mu^2 s/2) ds for c > 0, mu >= 0.

    Returned as exp(-mu^2 t/2 - c^2/(2t)) times a bracket that stays O(1) for small t, and the
    log of that prefactor, so the caller can sum terms in a common scale.
    """
    st = math.sqrt(t)
    x2 = (mu * t + c) / (st) * _INV_SQRT2
    log_pref = -0.5 * mu * mu * t - 0.5 * c * c / t
    b = 0.5 * _erfcx(x2)
    x1 = (c - mu * t) / st * _INV_SQRT2
    if x1 >= 0.0:
        b += 0.5 * _erfcx(x1)
        return log_pref, b
    # mu t > c: the first part is not small; express it against the same prefactor
    first = math.exp(-mu * c - log_pref) * (1.0 - 0.5 * math.erfc(-x1))
    return log_pref, b + first


@nb.njit(cache=True)
def _lower_cdf_small(t, v, a, w):
    """P(T <= t, lower) by the small-time image series integrated in closed form."""
    mu = abs(v)
    u = t / (a * a)
    logw = math.log(w)
    lim = _LOG_4_OVER_DELTA - logw
    lp0, b0 = _ig_mass(a * w, mu, t)
    total = b0
    j = 1
    while True:
        e_neg = 2.0 * j * (j - w) / u
        if e_neg >= lim + 3.0 * _LOGK[2 * j]:
            break
        lp, b = _ig_mass(a * (2.0 * j - w), mu, t)
        total -= b * math.exp(lp - lp0)
        e_pos = 2.0 * j * (j + w) / u
        if e_pos < lim + 3.0 * _LOGK[2 * j]:
            lp, b = _ig_mass(a * (2.0 * j + w), mu, t)
            total += b * math.exp(lp - lp0)
        j += 1
    if total <= 0.0:
        return 0.0
    return math.exp(-v * a * w + lp0 + math.log(total))


@nb.njit(cache=True)
def _lower_sf_large(t, v, a, w):
    """(P(T > t, lower), condition number) by the large-time series (Feller).

    The condition number is sum |terms| / |sum|: with a strong drift towards the boundary and a
    small normalised time the terms cancel heavily, and the caller then prefers ``p - F``.
    """
    s1, c1 = _large_time_setup(w)
    h = _HALF_PI2 * t / (a * a)
    va2 = v * v * a * a
    pi2 = _PI * _PI
    lead = 2.0 * _PI * s1 / (va2 + pi2)
    log_pref = -v * a * w - 0.5 * v * v * t - h
    corr = 0.0
    acorr = 0.0
    if 3.0 * h < _LOG_2_OVER_DELTA + 4.0 * _LOGK[1]:
        q = math.exp(-h)
        q2 = q * q
        r = q2 * q
        p = 1.0
        um2 = 1.0
        um1 = 2.0 * c1
        k = 2
        while True:
            p *= r
            term = k * um1 * p * (va2 + pi2) / (va2 + k * k * pi2)
            corr += term
            acorr += abs(term)
            k += 1
            if (k * k - 1.0) * h >= _LOG_2_OVER_DELTA + 4.0 * _LOGK[k - 1]:
                break
            r *= q2
            nxt = 2.0 * c1 * um1 - um2
            um2 = um1
            um1 = nxt
    val = 1.0 + corr
    if val <= 0.0:
        return 0.0, math.inf
    return math.exp(log_pref + math.log(lead * val)), (1.0 + acorr) / val


@nb.njit(cache=True)
def _lower_cdf(t, v, a, w):
    """(P(T <= t, lower), P(T > t, lower)), each accurate where it is small."""
    return lower_cdf_p(t, v, a, w, prob_lower(v, a, w))


@nb.njit(cache=True)
def lower_cdf_p(t, v, a, w, p):
    """`_lower_cdf` given p = P(lower), for callers that evaluate many times."""
    if not t / (a * a) > 0.0:
        return 0.0, p
    # Each tail from the series that gives it to full relative precision where possible: the
    # small-time series for the CDF, the large-time series for the survival function, unless
    # the latter's cancellation (condition number kappa) would cost more than p - F does.
    # The other tail is taken as the difference from p unless it is below 1e-3 p, so it keeps
    # a relative precision of 1e-13 without a second series in most calls.
    if t / (a * a) < _U_SWITCH:
        f = min(_lower_cdf_small(t, v, a, w), p)
        if f <= (1.0 - 1e-3) * p:
            return f, p - f
        s, kappa = _lower_sf_large(t, v, a, w)
        if kappa * s > p:
            return f, p - f
        s = min(s, p)
        return p - s, s
    s, kappa = _lower_sf_large(t, v, a, w)
    s = min(s, p)
    if s <= (1.0 - 1e-3) * p:
        return p - s, s
    f = min(_lower_cdf_small(t, v, a, w), p)
    return f, p - f


@nb.njit(cache=True)
def cdf_dec(t, response, v, a, w):
    """(CDF, survival) of decision time t at the given boundary; both defective."""
    if response == 1:
        return _lower_cdf(t, -v, a, 1.0 - w)
    return _lower_cdf(t, v, a, w)


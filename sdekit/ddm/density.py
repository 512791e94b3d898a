"""First-passage-time densities and distribution functions of the drift-diffusion model.

Conventions (those of HDDM, fast-dm and rtdists): a Wiener process with drift ``v`` and unit
diffusion coefficient starts at ``z * a`` between an absorbing lower boundary at 0 and an upper
boundary at ``a``. ``a`` is the full boundary separation, ``z`` the relative start in (0, 1) and
``t0`` the non-decision time in seconds, so a trial's response time is ``rt = t0 + T`` with ``T``
the first-passage time. ``response`` is 1 for the upper boundary and 0 for the lower one. The
upper-boundary density is the lower-boundary density with ``v -> -v`` and ``z -> 1 - z``.

The full DDM adds across-trial variability: the drift is normal with standard deviation ``sv``,
the relative start uniform on ``[z - sz/2, z + sz/2]`` and the non-decision time uniform on
``[t0, t0 + st]`` (``t0`` is the *lower* edge of the window, as in fast-dm and rtdists; HDDM and
HSSM centre the window on ``t0``, so their ``t`` is our ``t0 + st/2``).

Numerics
--------
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

Across-trial drift variability is integrated in closed form. Start-point and non-decision
variability are integrated by globally adaptive Gauss-Kronrod (7/15) quadrature in log-scaled
space, stopping when the sum of the panel error estimates ``|K15 - G7|`` is below ``tol`` (default
1e-9) times the integral; the quadrature over the non-decision window nests the one over the
start point.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = [
    "logpdf",
    "pdf",
    "cdf",
    "sf",
    "prob_upper",
    "grad_logpdf",
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

_MAX_PANELS = 64
DEFAULT_TOL = 1e-9  # adaptive quadrature (gradients, distribution function)
QUAD_TOL = 1e-7  # tensor-product quadrature of the log-density (see _full_logpdf_ws)


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
def _wconst(w):
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
def _log_g_c(u, wc):
    """log g(u, w), the log first-passage density at 0 of a driftless unit-diffusion process on
    (0, 1) started at w, at time u; ``wc = _wconst(w)``."""
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
    return _log_g_c(u, _wconst(w))


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
def _bconst(v, a, w):
    """Per-boundary constants in the lower-boundary frame, as a flat tuple of scalars (tuples
    nested in tuples cannot cross into a prange body): (-v^2/2, 1/a^2, -2 log a - v a w, w,
    log w, cos(pi w), log sin(pi w))."""
    w_, logw, c1, log_s1 = _wconst(w)
    return -0.5 * v * v, 1.0 / (a * a), -2.0 * math.log(a) - v * a * w, w_, logw, c1, log_s1


@nb.njit(cache=True)
def _lower_logpdf_c(t, hv2, inv_a2, off, w, logw, c1, log_s1):
    """log density of the simple DDM at decision time t > 0, lower-boundary frame."""
    return _log_g_c(t * inv_a2, (w, logw, c1, log_s1)) + off + hv2 * t


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
def _logpdf_dec(t, response, v, a, w, sv):
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
def _logpdf_dec_grad(t, response, v, a, w, sv):
    """(log f, d/dv, d/da, d/dw, d/dt, d/dsv) at either boundary; t > 0."""
    if response == 1:
        lf, dv, da, dw, dt, dsv = _lower_logpdf_grad(t, -v, a, 1.0 - w, sv)
        return lf, -dv, da, -dw, dt, dsv
    return _lower_logpdf_grad(t, v, a, w, sv)


# ---------------------------------------------------------------------------------------------
# Boundary probabilities and the distribution function
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _prob_lower(v, a, w):
    """P(absorption at the lower boundary) for drift v, separation a, relative start w."""
    x = 2.0 * v * a
    if x == 0.0:
        return 1.0 - w
    if x > 0.0:
        # expm1(x (1-w)) / expm1(x), rescaled by exp(-x) to avoid overflow
        return math.exp(-x * w) * (-math.expm1(-x * (1.0 - w))) / (-math.expm1(-x))
    return math.expm1(x * (1.0 - w)) / math.expm1(x)


@nb.njit(cache=True)
def _prob_boundary(response, v, a, w):
    if response == 1:
        return _prob_lower(-v, a, 1.0 - w)
    return _prob_lower(v, a, w)


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
    return _lower_cdf_p(t, v, a, w, _prob_lower(v, a, w))


@nb.njit(cache=True)
def _lower_cdf_p(t, v, a, w, p):
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
def _cdf_dec(t, response, v, a, w):
    """(CDF, survival) of decision time t at the given boundary; both defective."""
    if response == 1:
        return _lower_cdf(t, -v, a, 1.0 - w)
    return _lower_cdf(t, v, a, w)


# ---------------------------------------------------------------------------------------------
# Full DDM: adaptive Gauss-Kronrod over start point and non-decision time, in log-scaled space
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _gk_panel_sz(t, response, v, a, z, sv, sz, lo, hi, ref):
    """GK15 over x in [lo, hi] of f(t | w = z + sz (x - 1/2)) exp(-ref); returns (K, |K-G|, max
    log-integrand seen)."""
    c = 0.5 * (lo + hi)
    hw = 0.5 * (hi - lo)
    resk = 0.0
    resg = 0.0
    mx = _NEG_INF
    for i in range(8):
        if i == 7:
            lf = _logpdf_dec(t, response, v, a, z + sz * (c - 0.5), sv)
            mx = max(mx, lf)
            f = math.exp(lf - ref)
            resk += _WGK[7] * f
            resg += _WG[3] * f
        else:
            d = hw * _XGK[i]
            l1 = _logpdf_dec(t, response, v, a, z + sz * (c - d - 0.5), sv)
            l2 = _logpdf_dec(t, response, v, a, z + sz * (c + d - 0.5), sv)
            mx = max(mx, max(l1, l2))
            f = math.exp(l1 - ref) + math.exp(l2 - ref)
            resk += _WGK[i] * f
            if i % 2 == 1:
                resg += _WG[i // 2] * f
    return resk * hw, abs(resk - resg) * hw, mx


@nb.njit(cache=True)
def _int_sz(t, response, v, a, z, sv, sz, tol):
    """log of (1/sz) int f(t | w) dw over [z - sz/2, z + sz/2], adaptive GK15."""
    # Reference scale: the largest of a few samples, so that exp(lf - ref) neither overflows
    # nor underflows where the integrand matters.
    ref = max(_logpdf_dec(t, response, v, a, z, sv),
              max(_logpdf_dec(t, response, v, a, z - 0.5 * sz * 0.999, sv),
                  _logpdf_dec(t, response, v, a, z + 0.5 * sz * 0.999, sv)))
    if ref == _NEG_INF:
        return _NEG_INF
    for _attempt in range(4):
        res = _adaptive_sz(t, response, v, a, z, sv, sz, tol, ref)
        if res[1] <= 700.0:
            break
        ref = ref + res[1]  # integrand exceeded the reference: rescale and redo
    val = res[0]
    if not val > 0.0:
        return _NEG_INF
    return ref + math.log(val)


@nb.njit(cache=True)
def _adaptive_sz(t, response, v, a, z, sv, sz, tol, ref):
    los = np.empty(_MAX_PANELS)
    his = np.empty(_MAX_PANELS)
    ks = np.empty(_MAX_PANELS)
    es = np.empty(_MAX_PANELS)
    k, e, mx = _gk_panel_sz(t, response, v, a, z, sv, sz, 0.0, 1.0, ref)
    over = mx - ref
    los[0] = 0.0
    his[0] = 1.0
    ks[0] = k
    es[0] = e
    n = 1
    tot = k
    err = e
    while err > tol * abs(tot) and n < _MAX_PANELS:
        j = 0
        for i in range(1, n):
            if es[i] > es[j]:
                j = i
        lo = los[j]
        hi = his[j]
        mid = 0.5 * (lo + hi)
        k1, e1, m1 = _gk_panel_sz(t, response, v, a, z, sv, sz, lo, mid, ref)
        k2, e2, m2 = _gk_panel_sz(t, response, v, a, z, sv, sz, mid, hi, ref)
        over = max(over, max(m1, m2) - ref)
        tot += k1 + k2 - ks[j]
        err += e1 + e2 - es[j]
        his[j] = mid
        ks[j] = k1
        es[j] = e1
        los[n] = mid
        his[n] = hi
        ks[n] = k2
        es[n] = e2
        n += 1
        # re-sum occasionally to stop rounding drift in the running totals
        if n % 16 == 0:
            tot = 0.0
            err = 0.0
            for i in range(n):
                tot += ks[i]
                err += es[i]
    return tot, over


@nb.njit(cache=True)
def _inner_logpdf(t, response, v, a, z, sv, sz, tol):
    if not t > 0.0:
        return _NEG_INF
    if sz == 0.0:
        return _logpdf_dec(t, response, v, a, z, sv)
    return _int_sz(t, response, v, a, z, sv, sz, tol)


@nb.njit(cache=True)
def _gk_panel_st(rt, response, v, a, z, t0, sv, sz, st, tol, lo, hi, ref):
    """GK15 over y in [lo, hi] of f_sz(rt - t0 - st y) exp(-ref)."""
    c = 0.5 * (lo + hi)
    hw = 0.5 * (hi - lo)
    resk = 0.0
    resg = 0.0
    mx = _NEG_INF
    base = rt - t0
    for i in range(8):
        if i == 7:
            lf = _inner_logpdf(base - st * c, response, v, a, z, sv, sz, tol)
            mx = max(mx, lf)
            f = math.exp(lf - ref)
            resk += _WGK[7] * f
            resg += _WG[3] * f
        else:
            d = hw * _XGK[i]
            l1 = _inner_logpdf(base - st * (c - d), response, v, a, z, sv, sz, tol)
            l2 = _inner_logpdf(base - st * (c + d), response, v, a, z, sv, sz, tol)
            mx = max(mx, max(l1, l2))
            f = math.exp(l1 - ref) + math.exp(l2 - ref)
            resk += _WGK[i] * f
            if i % 2 == 1:
                resg += _WG[i // 2] * f
    return resk * hw, abs(resk - resg) * hw, mx


@nb.njit(cache=True)
def _adaptive_st(rt, response, v, a, z, t0, sv, sz, st, tol, ref, ymax):
    los = np.empty(_MAX_PANELS)
    his = np.empty(_MAX_PANELS)
    ks = np.empty(_MAX_PANELS)
    es = np.empty(_MAX_PANELS)
    k, e, mx = _gk_panel_st(rt, response, v, a, z, t0, sv, sz, st, tol, 0.0, ymax, ref)
    over = mx - ref
    los[0] = 0.0
    his[0] = ymax
    ks[0] = k
    es[0] = e
    n = 1
    tot = k
    err = e
    while err > tol * abs(tot) and n < _MAX_PANELS:
        j = 0
        for i in range(1, n):
            if es[i] > es[j]:
                j = i
        lo = los[j]
        hi = his[j]
        mid = 0.5 * (lo + hi)
        k1, e1, m1 = _gk_panel_st(rt, response, v, a, z, t0, sv, sz, st, tol, lo, mid, ref)
        k2, e2, m2 = _gk_panel_st(rt, response, v, a, z, t0, sv, sz, st, tol, mid, hi, ref)
        over = max(over, max(m1, m2) - ref)
        tot += k1 + k2 - ks[j]
        err += e1 + e2 - es[j]
        his[j] = mid
        ks[j] = k1
        es[j] = e1
        los[n] = mid
        his[n] = hi
        ks[n] = k2
        es[n] = e2
        n += 1
        if n % 16 == 0:
            tot = 0.0
            err = 0.0
            for i in range(n):
                tot += ks[i]
                err += es[i]
    return tot, over


@nb.njit(cache=True)
def _full_logpdf(rt, response, v, a, z, t0, sv, sz, st, tol):
    """log density of the full DDM at response time rt (seconds) and response (0/1)."""
    t = rt - t0
    if st == 0.0:
        return _inner_logpdf(t, response, v, a, z, sv, sz, tol)
    if not t > 0.0:
        return _NEG_INF
    # The integrand vanishes for decision times <= 0: integrate y only over [0, min(1, t/st)].
    ymax = min(1.0, t / st)
    ref = max(_inner_logpdf(t, response, v, a, z, sv, sz, tol),
              _inner_logpdf(t - st * 0.5 * ymax, response, v, a, z, sv, sz, tol))
    if ref == _NEG_INF:
        ref = _inner_logpdf(t - st * ymax * 0.999, response, v, a, z, sv, sz, tol)
        if ref == _NEG_INF:
            return _NEG_INF
    for _attempt in range(4):
        res = _adaptive_st(rt, response, v, a, z, t0, sv, sz, st, tol, ref, ymax)
        if res[1] <= 700.0:
            break
        ref = ref + res[1]
    val = res[0]
    if not val > 0.0:
        return _NEG_INF
    return ref + math.log(val)


# ---------------------------------------------------------------------------------------------
# Array entry points (plain arrays; parameter arrays of length 1 or n)
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _strides(v, a, z, t0, sv, sz, st):
    """Index strides of the parameter arrays: 1 for one value per trial, 0 for a shared value
    (an array of length 1), so trial i reads ``v[i * nv]``."""
    return (1 if v.shape[0] > 1 else 0, 1 if a.shape[0] > 1 else 0,
            1 if z.shape[0] > 1 else 0, 1 if t0.shape[0] > 1 else 0,
            1 if sv.shape[0] > 1 else 0, 1 if sz.shape[0] > 1 else 0,
            1 if st.shape[0] > 1 else 0)


@nb.njit(cache=True, parallel=True)
def _logpdf_array(rt, response, v, a, z, t0, sv, sz, st, out):
    """out[i] = log density of (rt[i], response[i]) under the full DDM.

    Parameter arrays have length 1 (shared) or ``len(rt)`` (per trial); no validation.
    """
    n = rt.shape[0]
    nv, na, nz, nt, nsv, nsz, nst = _strides(v, a, z, t0, sv, sz, st)
    if nv + na + nz + nt + nsv + nsz + nst == 0 and sv[0] == 0.0 and sz[0] == 0.0 and (
            st[0] == 0.0):
        # shared simple-DDM parameters: per-boundary constants computed once
        l0, l1, l2, l3, l4, l5, l6 = _bconst(v[0], a[0], z[0])
        u0, u1, u2, u3, u4, u5, u6 = _bconst(-v[0], a[0], 1.0 - z[0])
        t00 = t0[0]
        for i in nb.prange(n):
            t = rt[i] - t00
            if not t > 0.0:
                out[i] = _NEG_INF
            elif response[i] == 1:
                out[i] = _lower_logpdf_c(t, u0, u1, u2, u3, u4, u5, u6)
            else:
                out[i] = _lower_logpdf_c(t, l0, l1, l2, l3, l4, l5, l6)
        return
    nchunk = min(n, 256)
    for c in nb.prange(nchunk):
        ws = np.zeros(_WS_SIZE)
        lo = (c * n) // nchunk
        hi = ((c + 1) * n) // nchunk
        for i in range(lo, hi):
            out[i] = _full_logpdf_ws(rt[i], response[i], v[i * nv], a[i * na], z[i * nz],
                                     t0[i * nt], sv[i * nsv], sz[i * nsz], st[i * nst],
                                     QUAD_TOL, ws)


@nb.njit(cache=True, parallel=True)
def _logpdf_simple_array(rt, response, v, a, z, t0, out):
    """out[i] = log density of the simple DDM with scalar parameters (the fitter's fast path)."""
    n = rt.shape[0]
    l0, l1, l2, l3, l4, l5, l6 = _bconst(v, a, z)
    u0, u1, u2, u3, u4, u5, u6 = _bconst(-v, a, 1.0 - z)
    for i in nb.prange(n):
        t = rt[i] - t0
        if not t > 0.0:
            out[i] = _NEG_INF
        elif response[i] == 1:
            out[i] = _lower_logpdf_c(t, u0, u1, u2, u3, u4, u5, u6)
        else:
            out[i] = _lower_logpdf_c(t, l0, l1, l2, l3, l4, l5, l6)


@nb.njit(cache=True, parallel=True)
def _loglik_simple(rt, response, v, a, z, t0):
    """Sum of simple-DDM log densities with scalar parameters."""
    n = rt.shape[0]
    l0, l1, l2, l3, l4, l5, l6 = _bconst(v, a, z)
    u0, u1, u2, u3, u4, u5, u6 = _bconst(-v, a, 1.0 - z)
    s = 0.0
    for i in nb.prange(n):
        t = rt[i] - t0
        if not t > 0.0:
            s += _NEG_INF
        elif response[i] == 1:
            s += _lower_logpdf_c(t, u0, u1, u2, u3, u4, u5, u6)
        else:
            s += _lower_logpdf_c(t, l0, l1, l2, l3, l4, l5, l6)
    return s


@nb.njit(cache=True, parallel=True)
def _cdf_array(rt, response, v, a, z, t0, out_cdf, out_sf):
    """Simple-DDM defective CDF and survival at each (rt, response); parameter arrays as above."""
    n = rt.shape[0]
    nv = 1 if v.shape[0] > 1 else 0
    na = 1 if a.shape[0] > 1 else 0
    nz = 1 if z.shape[0] > 1 else 0
    nt = 1 if t0.shape[0] > 1 else 0
    for i in nb.prange(n):
        f, s = _cdf_dec(rt[i] - t0[i * nt], response[i], v[i * nv],
                        a[i * na], z[i * nz])
        out_cdf[i] = f
        out_sf[i] = s


# ---------------------------------------------------------------------------------------------
# Gradients of the full-DDM log-density
#
# With w = z + sz (x - 1/2) and decision time T = rt - t0 - st y for x, y uniform on [0, 1],
# the full density is E_xy[f(T | w)] and every parameter derivative is E_xy[f * (leaf gradient
# combination)], with no boundary terms. The quadratures below integrate that vector with the
# same adaptive rule as the density, the error control acting on the density component.
# Components of the inner (start-point) vector: f, f dv, f da, f dz, f dsz, f dT, f dsv.
# ---------------------------------------------------------------------------------------------

_NI = 7
_NO = 8


@nb.njit(cache=True)
def _gk_panel_sz_grad(t, response, v, a, z, sv, sz, lo, hi, ref, kv, gv):
    """GK15 of the inner gradient vector on [lo, hi]; K sums into kv, G sums into gv."""
    c = 0.5 * (lo + hi)
    hw = 0.5 * (hi - lo)
    for m in range(_NI):
        kv[m] = 0.0
        gv[m] = 0.0
    mx = _NEG_INF
    for i in range(15):
        if i < 7:
            x = c - hw * _XGK[i]
            wk = _WGK[i]
            wg = _WG[i // 2] if i % 2 == 1 else 0.0
        elif i == 7:
            x = c
            wk = _WGK[7]
            wg = _WG[3]
        else:
            x = c + hw * _XGK[14 - i]
            wk = _WGK[14 - i]
            wg = _WG[(14 - i) // 2] if (14 - i) % 2 == 1 else 0.0
        lf, dv, da, dw, dt, dsv = _logpdf_dec_grad(t, response, v, a, z + sz * (x - 0.5), sv)
        mx = max(mx, lf)
        f = math.exp(lf - ref)
        vals = (f, f * dv, f * da, f * dw, f * dw * (x - 0.5), f * dt, f * dsv)
        for m in range(_NI):
            kv[m] += wk * vals[m]
            gv[m] += wg * vals[m]
    err = abs(kv[0] - gv[0]) * hw
    for m in range(_NI):
        kv[m] *= hw
    return err, mx


#: Share of the outer (non-decision) integral's scale allowed as absolute error of each inner
#: (start-point) integral. Where decision times are short the inner integrand is a narrow spike at
#: one edge of a wide start-point window and costs many panels to resolve relatively, yet such
#: nodes add almost nothing to the outer integral: they need only this absolute accuracy.
_INNER_SHARE = 1e-2


@nb.njit(cache=True)
def _grad_workspace():
    """Scratch arrays of the gradient quadratures, allocated once per batch of trials rather than
    once per inner integral (an allocation costs about as much as a series evaluation)."""
    return (np.empty(_MAX_PANELS), np.empty(_MAX_PANELS), np.empty(_MAX_PANELS),
            np.empty((_MAX_PANELS, _NI)), np.empty(_NO),
            np.empty(_MAX_PANELS), np.empty(_MAX_PANELS), np.empty(_MAX_PANELS),
            np.empty((_MAX_PANELS, _NO)), np.empty(_NO), np.empty(_NO))


@nb.njit(cache=True)
def _inner_grad(t, response, v, a, z, sv, sz, tol, log_floor, out, los, his, es, ks, gtmp):
    """Inner vector (scaled by exp(-ref)) into out[:7]; returns ref. t > 0.

    The quadrature stops once its error estimate is below ``tol`` times the integral or below
    ``exp(log_floor)`` (an absolute error in unscaled units; -inf for none)."""
    if sz == 0.0:
        lf, dv, da, dw, dt, dsv = _logpdf_dec_grad(t, response, v, a, z, sv)
        out[0] = 1.0
        out[1] = dv
        out[2] = da
        out[3] = dw
        out[4] = 0.0
        out[5] = dt
        out[6] = dsv
        return lf
    ref = max(_logpdf_dec(t, response, v, a, z, sv),
              max(_logpdf_dec(t, response, v, a, z - 0.5 * sz * 0.999, sv),
                  _logpdf_dec(t, response, v, a, z + 0.5 * sz * 0.999, sv)))
    for _attempt in range(4):
        afloor = math.exp(log_floor - ref) if log_floor > _NEG_INF else 0.0
        e, mx = _gk_panel_sz_grad(t, response, v, a, z, sv, sz, 0.0, 1.0, ref, ks[0], gtmp)
        over = mx - ref
        los[0] = 0.0
        his[0] = 1.0
        es[0] = e
        n = 1
        tot = ks[0, 0]
        err = e
        while err > max(tol * abs(tot), afloor) and n < _MAX_PANELS:
            j = 0
            for i in range(1, n):
                if es[i] > es[j]:
                    j = i
            lo = los[j]
            hi = his[j]
            mid = 0.5 * (lo + hi)
            old = ks[j, 0]
            e1, m1 = _gk_panel_sz_grad(t, response, v, a, z, sv, sz, lo, mid, ref, ks[j], gtmp)
            e2, m2 = _gk_panel_sz_grad(t, response, v, a, z, sv, sz, mid, hi, ref, ks[n], gtmp)
            over = max(over, max(m1, m2) - ref)
            tot += ks[j, 0] + ks[n, 0] - old
            err += e1 + e2 - es[j]
            his[j] = mid
            es[j] = e1
            los[n] = mid
            his[n] = hi
            es[n] = e2
            n += 1
        if over <= 700.0:
            break
        ref = ref + over
    for m in range(_NI):
        s = 0.0
        for i in range(n):
            s += ks[i, m]
        out[m] = s
    return ref


@nb.njit(cache=True)
def _gk_panel_st_grad(rt, response, v, a, z, t0, sv, sz, st, tol, lo, hi, ref, kv, gv, tmp, ws):
    c = 0.5 * (lo + hi)
    hw = 0.5 * (hi - lo)
    for m in range(_NO):
        kv[m] = 0.0
        gv[m] = 0.0
    mx = _NEG_INF
    base = rt - t0
    log_floor = ref + math.log(tol * _INNER_SHARE)
    for i in range(15):
        if i < 7:
            y = c - hw * _XGK[i]
            wk = _WGK[i]
            wg = _WG[i // 2] if i % 2 == 1 else 0.0
        elif i == 7:
            y = c
            wk = _WGK[7]
            wg = _WG[3]
        else:
            y = c + hw * _XGK[14 - i]
            wk = _WGK[14 - i]
            wg = _WG[(14 - i) // 2] if (14 - i) % 2 == 1 else 0.0
        t = base - st * y
        if not t > 0.0:
            continue
        lr = _inner_grad(t, response, v, a, z, sv, sz, tol, log_floor, tmp, ws[0], ws[1], ws[2],
                         ws[3], ws[4])
        mx = max(mx, lr + math.log(tmp[0]) if tmp[0] > 0.0 else _NEG_INF)
        sc = math.exp(lr - ref)
        for m in range(_NI):
            val = sc * tmp[m]
            kv[m] += wk * val
            gv[m] += wg * val
        val = sc * tmp[5] * y
        kv[7] += wk * val
        gv[7] += wg * val
    err = abs(kv[0] - gv[0]) * hw
    for m in range(_NO):
        kv[m] *= hw
    return err, mx


@nb.njit(cache=True)
def _full_grad(rt, response, v, a, z, t0, sv, sz, st, tol, out):
    """out[:8] = (log f, d/dv, d/da, d/dz, d/dt0, d/dsv, d/dsz, d/dst) of the full DDM."""
    _full_grad_ws(rt, response, v, a, z, t0, sv, sz, st, tol, out, _grad_workspace())


@nb.njit(cache=True)
def _full_grad_ws(rt, response, v, a, z, t0, sv, sz, st, tol, out, ws):
    """As _full_grad, with the scratch arrays ``ws`` of _grad_workspace()."""
    t = rt - t0
    for m in range(8):
        out[m] = 0.0
    if not t > 0.0:
        out[0] = _NEG_INF
        return
    if sz == 0.0 and st == 0.0:
        # no quadrature, no workspace: the series derivatives themselves
        lf, dv, da, dw, dt, dsv = _logpdf_dec_grad(t, response, v, a, z, sv)
        out[0] = lf
        out[1] = dv
        out[2] = da
        out[3] = dw
        out[4] = -dt
        out[5] = dsv
        out[6] = 0.0
        out[7] = -0.5 * dt
        return
    tmp = ws[10]
    if st == 0.0:
        ref = _inner_grad(t, response, v, a, z, sv, sz, tol, _NEG_INF, tmp, ws[0], ws[1], ws[2],
                          ws[3], ws[4])
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
    # only a scale for the scaled sums (and for the inner integrals' absolute floor): a coarse
    # tolerance does
    ref = max(_inner_logpdf(t, response, v, a, z, sv, sz, 1e-3),
              _inner_logpdf(t - st * 0.5 * ymax, response, v, a, z, sv, sz, 1e-3))
    los = ws[5]
    his = ws[6]
    es = ws[7]
    ks = ws[8]
    gtmp = ws[9]
    for _attempt in range(4):
        e, mx = _gk_panel_st_grad(rt, response, v, a, z, t0, sv, sz, st, tol, 0.0, ymax, ref,
                                  ks[0], gtmp, tmp, ws)
        over = mx - ref
        los[0] = 0.0
        his[0] = ymax
        es[0] = e
        n = 1
        tot = ks[0, 0]
        err = e
        while err > tol * abs(tot) and n < _MAX_PANELS:
            j = 0
            for i in range(1, n):
                if es[i] > es[j]:
                    j = i
            lo = los[j]
            hi = his[j]
            mid = 0.5 * (lo + hi)
            old = ks[j, 0]
            e1, m1 = _gk_panel_st_grad(rt, response, v, a, z, t0, sv, sz, st, tol, lo, mid, ref,
                                       ks[j], gtmp, tmp, ws)
            e2, m2 = _gk_panel_st_grad(rt, response, v, a, z, t0, sv, sz, st, tol, mid, hi, ref,
                                       ks[n], gtmp, tmp, ws)
            over = max(over, max(m1, m2) - ref)
            tot += ks[j, 0] + ks[n, 0] - old
            err += e1 + e2 - es[j]
            his[j] = mid
            es[j] = e1
            los[n] = mid
            his[n] = hi
            es[n] = e2
            n += 1
        if over <= 700.0:
            break
        ref = ref + over
    vec = gtmp  # free again: the panel sums are in ks
    for m in range(_NO):
        acc = 0.0
        for i in range(n):
            acc += ks[i, m]
        vec[m] = acc
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


@nb.njit(cache=True, parallel=True)
def _grad_array(rt, response, v, a, z, t0, sv, sz, st, out):
    """out[i, :] = (log f, d/dv, d/da, d/dz, d/dt0, d/dsv, d/dsz, d/dst) for each trial."""
    n = rt.shape[0]
    nv, na, nz, nt, nsv, nsz, nst = _strides(v, a, z, t0, sv, sz, st)
    for i in nb.prange(n):
        _full_grad(rt[i], response[i], v[i * nv], a[i * na], z[i * nz],
                   t0[i * nt], sv[i * nsv], sz[i * nsz],
                   st[i * nst], DEFAULT_TOL, out[i])


# ---------------------------------------------------------------------------------------------
# Full-DDM distribution function: the density integrated over time, interval by interval
# ---------------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _gk_panel_time(response, v, a, z, t0, sv, sz, st, tol, lo, hi, ref, ws):
    c = 0.5 * (lo + hi)
    hw = 0.5 * (hi - lo)
    resk = 0.0
    resg = 0.0
    for i in range(8):
        if i == 7:
            f = math.exp(_full_logpdf_ws(c, response, v, a, z, t0, sv, sz, st, QUAD_TOL, ws)
                         - ref)
            resk += _WGK[7] * f
            resg += _WG[3] * f
        else:
            d = hw * _XGK[i]
            f = (math.exp(_full_logpdf_ws(c - d, response, v, a, z, t0, sv, sz, st, QUAD_TOL, ws)
                          - ref)
                 + math.exp(_full_logpdf_ws(c + d, response, v, a, z, t0, sv, sz, st, QUAD_TOL,
                                            ws) - ref))
            resk += _WGK[i] * f
            if i % 2 == 1:
                resg += _WG[i // 2] * f
    return resk * hw, abs(resk - resg) * hw


@nb.njit(cache=True)
def _integrate_time(response, v, a, z, t0, sv, sz, st, tol, lo, hi, abs_floor, ws):
    """int_lo^hi f_full(s) ds by adaptive GK15, to tol relative or abs_floor absolute."""
    los = np.empty(_MAX_PANELS)
    his = np.empty(_MAX_PANELS)
    ks = np.empty(_MAX_PANELS)
    es = np.empty(_MAX_PANELS)
    k, e = _gk_panel_time(response, v, a, z, t0, sv, sz, st, tol, lo, hi, 0.0, ws)
    los[0] = lo
    his[0] = hi
    ks[0] = k
    es[0] = e
    n = 1
    tot = k
    err = e
    while err > max(tol * abs(tot), abs_floor) and n < _MAX_PANELS:
        j = 0
        for i in range(1, n):
            if es[i] > es[j]:
                j = i
        mid = 0.5 * (los[j] + his[j])
        k1, e1 = _gk_panel_time(response, v, a, z, t0, sv, sz, st, tol, los[j], mid, 0.0, ws)
        k2, e2 = _gk_panel_time(response, v, a, z, t0, sv, sz, st, tol, mid, his[j], 0.0, ws)
        tot += k1 + k2 - ks[j]
        err += e1 + e2 - es[j]
        los[n] = mid
        his[n] = his[j]
        ks[n] = k2
        es[n] = e2
        his[j] = mid
        ks[j] = k1
        es[j] = e1
        n += 1
    tot = 0.0
    for i in range(n):
        tot += ks[i]
    return tot


@nb.njit(cache=True)
def _full_cdf_sorted(rt_sorted, response, v, a, z, t0, sv, sz, st, tol, out):
    """Defective CDF of the full DDM at increasing response times, by summing the integrals of
    the density over consecutive intervals starting at t0."""
    acc = 0.0
    prev = t0
    ws = np.zeros(_WS_SIZE)
    for i in range(rt_sorted.shape[0]):
        r = rt_sorted[i]
        if r > prev:
            acc += _integrate_time(response, v, a, z, t0, sv, sz, st, tol, prev, r, 1e-14, ws)
            prev = r
        out[i] = acc


# ---------------------------------------------------------------------------------------------
# Public functions: validate and broadcast once, then call the compiled kernels
# ---------------------------------------------------------------------------------------------


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
    _logpdf_array(rt_f, resp_f, *flat, out)
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
    _grad_array(rt_f, resp_f, *flat, out)
    names = ("v", "a", "z", "t0", "sv", "sz", "st")
    return {nm: out[:, i + 1].reshape(shape) for i, nm in enumerate(names)}


_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(80)
_GH_W = _GH_W / _GH_W.sum()
_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W


def _prob_upper_np(v, a, z):
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
        return _prob_upper_np(v, a, z)[..., 0, 0]
    vv = v + sv * _GH_X[:, None]
    zz = z + sz * (_GL_X[None, :] - 0.5)
    pr = _prob_upper_np(vv, a, zz)
    return np.sum(pr * _GH_W[:, None] * _GL_W[None, :], axis=(-2, -1))


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
        _cdf_array(rt_f, resp_f, v_, a_, z_, t0_, out, sfo)
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
            _full_cdf_sorted(rt_f[order], r, *pars, DEFAULT_TOL, tmp)
            out[order] = tmp
        return
    one = np.empty(1)
    for i in range(n):
        pars = [float(x[i if x.shape[0] > 1 else 0]) for x in flat]
        _full_cdf_sorted(rt_f[i:i + 1], int(resp_f[i]), *pars, DEFAULT_TOL, one)
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
        _cdf_array(rt_f, resp_f, v_, a_, z_, t0_, c, out)
        return out.reshape(shape)
    c = np.empty(n)
    _full_cdf_generic(rt_f, resp_f, flat, c)
    pu = prob_upper(np.broadcast_to(v_, (n,)) if v_.shape[0] > 1 else v_[0],
                    a_ if a_.shape[0] > 1 else a_[0], z_ if z_.shape[0] > 1 else z_[0],
                    sv_ if sv_.shape[0] > 1 else sv_[0], sz_ if sz_.shape[0] > 1 else sz_[0])
    p_resp = np.where(resp_f == 1, pu, 1.0 - pu)
    return np.maximum(p_resp - c, 0.0).reshape(shape)


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
_WS_SIZE = 2 * (_WS_X + _WS_KEY) + 3 * _QMAX


@nb.njit(cache=True)
def _fill_nodes(npan, hi, pos, wk, wg):
    """Composite GK15 nodes and weights on [0, hi] with npan equal panels."""
    hw = 0.5 * hi / npan
    m = 0
    for p in range(npan):
        c = (2 * p + 1) * hw
        for i in range(15):
            if i < 7:
                j = i
                xi = -_XGK[i]
            elif i == 7:
                j = 7
                xi = 0.0
            else:
                j = 14 - i
                xi = _XGK[j]
            pos[m] = c + hw * xi
            wk[m] = _WGK[j] * hw
            if j == 7:
                wg[m] = _WG[3] * hw
            elif j % 2 == 1:
                wg[m] = _WG[j // 2] * hw
            else:
                wg[m] = 0.0
            m += 1


@nb.njit(cache=True)
def _x_table(ws, r, z, sz, nx):
    """Offset of the cached start-point table of response frame r for (z, sz, nx)."""
    kb = 2 * _WS_X + r * _WS_KEY
    base = r * _WS_X
    if ws[kb + 3] == 1.0 and ws[kb] == z and ws[kb + 1] == sz and ws[kb + 2] == nx:
        return base
    npt = 15 * nx
    _fill_nodes(nx, 1.0, ws[base:base + npt], ws[base + _QMAX:base + _QMAX + npt],
                ws[base + 2 * _QMAX:base + 2 * _QMAX + npt])
    for m in range(npt):
        w = z + sz * (ws[base + m] - 0.5)
        w_, logw, c1, log_s1 = _wconst(w)
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
def _full_logpdf_ws(rt, response, v, a, z, t0, sv, sz, st, tol, ws):
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
            _fill_nodes(ny, ymax, ws[ybase:ybase + nyn], ws[ybase + _QMAX:ybase + _QMAX + nyn],
                        ws[ybase + 2 * _QMAX:ybase + 2 * _QMAX + nyn])
        else:
            nyn = 1
        wc0 = _wconst(z) if sz == 0.0 else (0.0, 0.0, 0.0, 0.0)
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
                lf = _log_g_c(u, wc) + ct + (aw2 * w + bw) * w
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
    return _full_logpdf(rt, response, v_in, a, z_in, t0, sv, sz, st, DEFAULT_TOL)


@nb.njit(cache=True, parallel=True)
def _logpdf_full_array(rt, response, v, a, z, t0, sv, sz, st, tol, out):
    """Full-DDM log densities; parameter arrays of length 1 or n; trials split into chunks, each
    with its own workspace."""
    n = rt.shape[0]
    nv, na, nz, nt, nsv, nsz, nst = _strides(v, a, z, t0, sv, sz, st)
    nchunk = min(n, 256)
    for c in nb.prange(nchunk):
        ws = np.zeros(_WS_SIZE)
        lo = (c * n) // nchunk
        hi = ((c + 1) * n) // nchunk
        for i in range(lo, hi):
            out[i] = _full_logpdf_ws(rt[i], response[i], v[i * nv], a[i * na], z[i * nz],
                                     t0[i * nt], sv[i * nsv], sz[i * nsz], st[i * nst], tol, ws)

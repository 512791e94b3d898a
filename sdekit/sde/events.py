r"""Absorbing boundaries and first-passage times, with a Brownian-bridge crossing correction.

Boundaries apply to one component or to several (a race: the first component to reach a boundary
absorbs the path).

A discretely monitored path misses every excursion past a boundary that starts and ends between
two grid points, so plain Euler–Maruyama first-passage times are too late and too rare: the mean
first-passage time of Brownian motion overshoots by O(sqrt(dt)). Within one step of length h the
scheme treats the path as Brownian motion with frozen drift and diffusion g. Conditioned on its two
endpoints, such a path is a Brownian bridge whatever its drift, and for a boundary that moves
linearly over the step the bridge's crossing law is known exactly:

* With distances :math:`d_0 > 0` and :math:`d_1 > 0` to the boundary at the start and end of the
  step, the bridge crossed in between with probability
  :math:`\exp(-2 d_0 d_1 / (g^2 h))`.
* Given that it crossed (or that :math:`d_1 \le 0`, the endpoint lies beyond), the first crossing
  time is :math:`\tau = h\,r / (1 + r)` where :math:`r` follows an inverse Gaussian law with mean
  :math:`d_0 / |d_1|` and shape :math:`d_0^2 / (g^2 h)`. This follows from the first-passage
  density of Brownian motion and the transition density of the remaining piece; the change of
  variable :math:`r = s / (h - s)` turns their product into an inverse Gaussian density.

So each step draws one uniform for the crossing test (only when the crossing probability exceeds
1e-17), and an absorbed path draws one normal and one uniform for its crossing time. For Brownian
motion with drift between constant boundaries this makes the simulated first-passage times exact
up to the (tiny) chance of crossing both boundaries in one step; for state-dependent coefficients
the remaining error is that of the frozen-coefficient approximation, of order h.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .random import next_normal, next_uniform

__all__ = [
    "Boundaries",
    "crossing_probability",
    "crossing_negligible",
    "bridge_crossing_fraction",
]

# exp(-40) ~ 4e-18: below this the crossing test is skipped and draws no uniform.
_NEGLIGIBLE_EXPONENT = 40.0


@nb.njit(cache=True)
def crossing_probability(d0, d1, variance):
    """Probability that a Brownian bridge crossed a (linearly moving) boundary within a step.

    ``d0`` and ``d1`` are the distances to the boundary at the two ends (positive inside),
    ``variance`` is g^2 h. Returns 1 when the end lies on or beyond the boundary, and exactly 0
    when the probability is below exp(-40) (see :func:`crossing_negligible`).
    """
    if d1 <= 0.0 or d0 <= 0.0:
        return 1.0
    if crossing_negligible(d0, d1, variance):
        return 0.0
    return math.exp(-2.0 * d0 * d1 / variance)


@nb.njit(cache=True)
def crossing_negligible(d0, d1, variance):
    """Whether a step with both ends inside (d0, d1 > 0) crossed with probability < exp(-40).

    Written without a division because the kernels ask it every step; true for zero variance.
    """
    return not d0 * d1 < (0.5 * _NEGLIGIBLE_EXPONENT) * variance


@nb.njit(cache=True)
def bridge_crossing_fraction(state, d0, d1, variance):
    """Draw where in the step a bridge known to have crossed did so first.

    Returns ``(state, fraction)`` with the crossing time t + fraction * h. Samples
    r ~ InverseGaussian(mean = d0/|d1|, shape = d0^2/variance) by the Michael–Schucany–Haas
    transformation in a form that stays accurate as the mean grows to infinity (d1 -> 0, where r
    becomes Lévy distributed), and returns r / (1 + r).
    """
    if d0 <= 0.0:
        return state, 0.0
    inv_mean = abs(d1) / d0
    shape = d0 * d0 / variance
    state, z = next_normal(state)
    state, u = next_uniform(state)
    y = z * z
    root = math.sqrt(4.0 * shape * y * inv_mean + y * y) + y
    if root <= 0.0:
        return state, 1.0
    r = 4.0 * shape * y / (root * root)
    if u * (1.0 + r * inv_mean) > 1.0:
        r = 1.0 / (inv_mean * inv_mean * r)
    if not r < math.inf:
        return state, 1.0
    return state, r / (1.0 + r)


@nb.njit(cache=True)
def _constant_upper(t, q):
    return q[0]


@nb.njit(cache=True)
def _constant_lower(t, q):
    return q[1]


@nb.njit(cache=True)
def _linear_upper(t, q):
    return q[0] + q[2] * t


@nb.njit(cache=True)
def _linear_lower(t, q):
    return q[1] + q[3] * t


class Boundaries:
    """Absorbing upper and lower boundaries, applied to one or several components.

    Parameters
    ----------
    upper, lower : float or callable
        A constant level, or a numba-compilable function ``b(t, q) -> float`` of time and the
        boundary parameters ``q``. Use ``numpy.inf`` / ``-numpy.inf`` for no boundary on a side.
    params : array_like, optional
        The parameters ``q`` passed to boundary functions.
    components : int, (start, stop) or None
        Which components of the state the boundaries apply to. None (default) means every
        component: the path is absorbed when the first of them reaches a boundary, as in race
        models of several accumulators. An int watches that component alone.

    Notes
    -----
    A path is absorbed the first time it reaches either boundary; its state stays at the
    boundary level afterwards. Between grid points a boundary is treated as linear in time.
    See the module documentation for the bridge correction of first-passage times.
    """

    def __init__(self, upper=np.inf, lower=-np.inf, params=(), components=None):
        self.components = components
        upper_is_level = isinstance(upper, (int, float, np.floating, np.integer))
        lower_is_level = isinstance(lower, (int, float, np.floating, np.integer))
        if upper_is_level and lower_is_level:
            if not float(lower) < float(upper):
                raise ValueError(f"lower boundary ({lower}) must lie below upper ({upper})")
            self.upper, self.lower = _constant_upper, _constant_lower
            self.params = np.array([upper, lower], dtype=np.float64)
            self.cacheable = True
        elif upper_is_level or lower_is_level:
            raise TypeError("give both boundaries as constants or both as functions b(t, q)")
        else:
            for name, fn in (("upper", upper), ("lower", lower)):
                if not callable(fn):
                    raise TypeError(f"{name} boundary must be a number or a function b(t, q)")
            self.upper = upper if hasattr(upper, "py_func") else nb.njit(upper)
            self.lower = lower if hasattr(lower, "py_func") else nb.njit(lower)
            self.params = np.atleast_1d(np.asarray(params, dtype=np.float64)).ravel()
            self.cacheable = False

    @classmethod
    def linear(cls, upper0, lower0, upper_slope=0.0, lower_slope=0.0):
        """Boundaries moving linearly in time: b(t) = b0 + slope * t."""
        obj = cls.__new__(cls)
        obj.components = None
        obj.upper, obj.lower = _linear_upper, _linear_lower
        obj.params = np.array([upper0, lower0, upper_slope, lower_slope], dtype=np.float64)
        obj.cacheable = True
        return obj

    def watched(self, dim):
        """The (start, stop) range of components the boundaries apply to in a ``dim``-D SDE."""
        c = self.components
        if c is None:
            return 0, dim
        if isinstance(c, (int, np.integer)):
            c = (int(c), int(c) + 1)
        start, stop = (int(v) for v in c)
        if not 0 <= start < stop <= dim:
            raise ValueError(f"boundary components {self.components!r} do not fit dim={dim}")
        return start, stop

    def levels(self, t):
        """(upper, lower) at time(s) ``t``, evaluated in Python (for checks and plots)."""
        t = np.asarray(t, dtype=np.float64)
        up = np.vectorize(lambda s: self.upper(float(s), self.params))(t)
        lo = np.vectorize(lambda s: self.lower(float(s), self.params))(t)
        return up, lo

    def __repr__(self):
        return f"Boundaries(upper={self.upper.__name__}, lower={self.lower.__name__}, " \
               f"params={self.params.tolist()})"

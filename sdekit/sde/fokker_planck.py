r"""First-passage densities of a 1-D SDE between absorbing boundaries, by Fokker–Planck.

:func:`first_passage` solves the forward Kolmogorov (Fokker–Planck) equation of a scalar Itô SDE
``dX = f(t, X, p) dt + g(t, X, p) dW`` between an upper boundary ``u(t)`` and a lower boundary
``l(t)`` (both absorbing, possibly moving) and returns the first-passage-time density at each
boundary. It knows nothing of decisions: the decision models build on it.

Method
------
*Relative coordinate.* The state is mapped to ``y = (x - l(t)) / w(t)`` with ``w = u - l``, so
the boundaries sit at ``y = 0`` and ``y = 1`` for all times and a moving boundary needs no moving
grid. The density ``q(y, t) = w p(x, t)`` obeys

.. math::

    \partial_t q = -\partial_y J, \qquad
    J = A q - \tfrac12 \partial_y (D q), \qquad
    A = \frac{f - l' - y\,w'}{w}, \qquad D = \frac{g^2}{w^2},

where ``J`` is the probability flux across a level ``y`` that moves with the boundaries; the
boundary velocities ``l'`` and ``u'`` are central differences of the boundary functions.

*Conservative discretization.* Nodes ``y_i = i h`` (``h = 1 / n_space``) carry ``q_i``, with
``q_0 = q_N = 0`` (absorption). The flux between nodes ``i`` and ``i + 1`` is
``F = (A_i q_i + A_{i+1} q_{i+1}) / 2 - (D_{i+1} q_{i+1} - D_i q_i) / (2 h)`` (second order),
and each node's mass ``h q_i`` changes by the difference of the fluxes on its two faces. Summed
over nodes the interior fluxes cancel, so the mass lost in a step is exactly the time-integrated
flux through the two faces next to the boundaries: that flux *is* the first-passage density, and
``survival + absorbed = 1`` holds to rounding.

*Time stepping.* Crank–Nicolson (second order, one tridiagonal solve per step; the absorbed mass
of a step is the average of the boundary fluxes at its two ends, and the densities reported at
the grid times are those fluxes). Two things spoil plain Crank–Nicolson after a point start:

* the point mass excites grid-scale modes that it does not damp (its amplification factor tends
  to -1 for stiff modes), so the first two substeps are backward Euler (Rannacher start-up);
* the first arrivals travel in the tail ``exp(-tau / 2t)`` of the spreading start (``tau`` the
  diffusion time from the start to the nearer boundary), made of wavenumbers ~``1 / t``, and
  Crank–Nicolson's relative error on them grows like ``(step tau / t^2)^3``: a uniform step
  gives an early-time error that does not shrink with the step.

The steps therefore grow from the start: until ``tau / 40`` (the boundaries not yet felt, the
tail below ``exp(-20)``) each substep is ``25 sqrt(accuracy)`` (at most a quarter) of the elapsed
time; afterwards a substep is at most ``10 sqrt(accuracy) t^2 / tau`` and
``2 sqrt(accuracy) t``, and never more than ``dt``. The output grid stays uniform: each output
step is cut into as many equal substeps as the rule asks (the first into a geometric sequence).

Boundaries that close in make the equation stiffer (``D`` grows as ``1 / w^2``): a step is also
cut so that ``dt D_max`` stays at its initial value, relaxed by ``sqrt(S)`` as the surviving
mass ``S`` falls (a step's error is proportional to the mass it moves), at most 256 substeps; a
substep long enough for Crank–Nicolson to flip the sign of the slowest mode is backward Euler
instead, whose damping is unconditional. The run stops early when the surviving mass falls
below ``1e-3 * accuracy`` or the width below ``1e-9`` of its initial value: the densities are
zero afterwards and ``undecided`` keeps whatever mass was left (``t_stop`` says when). A
boundary pair that meets (zero width) therefore ends the run gracefully.

*Accuracy rule.* Space and time errors are both second order, ``L1 ~ c_x h^2 + c_t dt^2``, in
units set at the start. With ``d`` the start's distance (in ``y``) to the nearer boundary (at
least 0.005; for a distributed start, that of its 5% and 95% quantiles, at least 0.02), ``D0``
the diffusion ``g^2 / w^2`` there and ``A_max`` the largest ``|A|`` over the interval at
``t = 0``::

    h  = 1.1 sqrt(accuracy) / (1 / d + A_max / D0)       (the start, or a drift boundary layer)
    dt = 2 sqrt(accuracy) / (pi^2 D0 / 2 + A_max^2 / (2 D0))   (the slowest decay of the density)

with the decay rate in ``dt`` the largest of those at ``t = 0``, ``t_max / 4``, ``t_max / 2`` and
``t_max`` (at the later times with the noise at the interval's centre, and both scaled by the
initial width: drift or noise that grow with time shorten the step, boundaries that close do not,
their substeps see to that), together with the graded early substeps above. At the default
``accuracy = 1e-4`` the L1 distance of each boundary's density from the exact one stays below
1e-4 on the tested cases (Wiener process with ``v a`` up to 9 and starts at 0.1 of the width from
a boundary, a uniform start window, a linearly moving boundary, leak with exponentially
collapsing bounds), and the error falls about fourfold for each fourfold tighter target
(``tests/test_fokker_planck.py``). The rule probes those four times only: drift or noise that
change abruptly in between may need a tighter target.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from dataclasses import dataclass

import numba as nb
import numpy as np

from .events import Boundaries
from .model import SDE
from .specialization import specialize

__all__ = ["first_passage", "FirstPassage"]

# Names bound per specialization (see specialization); defined so that linters know them.
_drift = _diffusion = _upper = _lower = None
_coefficients = None

# Constants of the accuracy rule (see the module docs), fitted on the Wiener process.
_C_SPACE = 1.1
_C_TIME = 2.0
_N_START = 2  # backward-Euler substeps at the start (Rannacher)
_C_GRADE = 2.0  # substeps at most 2 sqrt(accuracy) of the elapsed time
_QUIET = 0.025  # before t = _QUIET * tau the start has not reached the boundaries
_C_TAIL = 10.0
_C_QUIET = 25.0  # before the boundaries are felt: substeps of 25 sqrt(accuracy) of the time
_MAX_SUBSTEPS = 256
_WIDTH_FLOOR = 1e-9
_MAX_SPACE = 200_000
_MAX_STEPS = 20_000_000
_PROBES = 33
_PROBE_Y = np.linspace(0.0, 1.0, _PROBES)
_MIN_DISTANCE = 0.005  # of the width: the finest start resolution the rule asks for


# -- kernel templates (compiled per (drift, diffusion, upper, lower) by specialize) -------------
def _boundary_state(t, q, delta):
    """(lower, width, lower', width') at time t; velocities by central differences."""
    u = _upper(t, q)
    lo = _lower(t, q)
    t_lo = t - delta
    if t_lo < 0.0:
        t_lo = 0.0
    t_hi = t + delta
    span = t_hi - t_lo
    dl = (_lower(t_hi, q) - _lower(t_lo, q)) / span
    du = (_upper(t_hi, q) - _upper(t_lo, q)) / span
    return lo, u - lo, dl, du - dl


def _coefficients_template(t, p, q, delta, inv_h, P, M):
    """Fill the flux weights of every interior node at time t; return (width, max D).

    ``P_i = (A_i + D_i / h) / 2`` and ``M_i = (A_i - D_i / h) / 2``, so that the flux between
    nodes i and i + 1 is ``P_i q_i + M_{i+1} q_{i+1}``.
    """
    lo, w, dl, dw = _boundary_state(t, q, delta)
    n = P.size - 1
    if not w > 0.0:
        return w, 0.0
    inv_w = 1.0 / w
    h = 1.0 / inv_h
    d_max = 0.0
    for i in range(1, n):
        y = i * h
        x = lo + y * w
        f = _drift(t, x, p)
        g = _diffusion(t, x, p)
        a = (f - dl - y * dw) * inv_w
        d = g * g * inv_w * inv_w
        if d > d_max:
            d_max = d
        P[i] = 0.5 * (a + d * inv_h)
        M[i] = 0.5 * (a - d * inv_h)
    return w, d_max


def _step(qv, P0, M0, P1, M1, theta, r, work, fstate):
    """One theta-step of length r * h in place; returns the (upper, lower) absorbed masses / h.

    ``r = dt / h``. Rows 1..n-1 of ``(I - theta dt L1) q_new = (I + (1 - theta) dt L0) q``, with
    ``h (L q)_i = P_{i-1} q_{i-1} - (P_i - M_i) q_i - M_{i+1} q_{i+1}``; ``P_0 = M_n = 0`` and
    ``q_0 = q_n = 0``, so the first and last rows need no special case.

    A fresh Thomas solve is bound by its chain of dependent divisions. ``work`` keeps the
    factorization (``cp``, the reciprocal pivots ``inv``) and the coefficients it was built from
    (``PF``, ``MF``, and ``theta r`` in ``fstate[0]``): while they stay the same, as they do for
    time-independent coefficients and boundaries, the step reuses it and only multiplies.
    """
    n = qv.size - 1
    e = (1.0 - theta) * r
    ti = theta * r
    dp = work[0]
    cp = work[1]
    inv = work[2]
    PF = work[3]
    MF = work[4]
    out_up0 = P0[n - 1] * qv[n - 1]
    out_lo0 = -M0[1] * qv[1]
    # step lengths come from differences of times: equal to rounding is equal
    same = abs(fstate[0] - ti) <= 1e-13 * ti
    if same:
        for i in range(1, n):
            if P1[i] != PF[i] or M1[i] != MF[i]:
                same = False
                break
    prev_d = 0.0
    if same:
        ti = fstate[0]
        for i in range(1, n):
            rhs = qv[i] + e * (P0[i - 1] * qv[i - 1] - (P0[i] - M0[i]) * qv[i]
                               - M0[i + 1] * qv[i + 1])
            prev_d = (rhs + ti * P1[i - 1] * prev_d) * inv[i]
            dp[i] = prev_d
    else:
        prev_c = 0.0
        for i in range(1, n):
            rhs = qv[i] + e * (P0[i - 1] * qv[i - 1] - (P0[i] - M0[i]) * qv[i]
                               - M0[i + 1] * qv[i + 1])
            sub = ti * P1[i - 1]
            v = 1.0 / (1.0 + ti * (P1[i] - M1[i]) + sub * prev_c)
            prev_c = ti * M1[i + 1] * v
            prev_d = (rhs + sub * prev_d) * v
            inv[i] = v
            cp[i] = prev_c
            dp[i] = prev_d
            PF[i] = P1[i]
            MF[i] = M1[i]
        fstate[0] = ti
    nxt = 0.0
    for i in range(n - 1, 0, -1):
        nxt = dp[i] - cp[i] * nxt
        qv[i] = nxt
    out_up1 = P1[n - 1] * qv[n - 1]
    out_lo1 = -M1[1] * qv[1]
    return (theta * out_up1 + (1.0 - theta) * out_up0,
            theta * out_lo1 + (1.0 - theta) * out_lo0)


def _early_step(t, tau, grade, c_tail, quiet_grade):
    """Longest step at time t after a point start whose diffusion time to the boundary is tau.

    Crank–Nicolson's error in the early tail exp(-tau / 2t), which carries the first arrivals,
    grows like (step * tau / t^2)^3, so steps grow quadratically once the tail matters; before
    (t < tau / 40, the tail below exp(-20)) a fraction ``quiet_grade`` of the elapsed time
    resolves the bulk; later steps are also at most ``grade * t``.
    """
    if t < _QUIET * tau:
        return quiet_grade * t
    return min(grade * t, c_tail * t * t / tau)


def _substep_plan(k, t, dt, d_now, s_ref, survival, tau, grade, c_tail, quiet_grade):
    """(substeps, theta) of output step k, which starts at t with the diffusion rate d_now and
    the mass ``survival`` still inside; theta = 1 is backward Euler, 1/2 Crank–Nicolson."""
    theta = 0.5
    m = 1
    need = dt * d_now / s_ref
    if need > 1.0:
        # A step's error scales with the mass still inside, and second-order errors with
        # the step squared: as the survival S falls, steps may grow by 1 / sqrt(S).
        need *= math.sqrt(max(survival, 0.0))
        m = max(int(math.ceil(need)), 1)
        if m > _MAX_SUBSTEPS:
            m = _MAX_SUBSTEPS
        # Crank–Nicolson flips the sign of modes with rate * step > 2: past that the
        # slowest mode (rate ~ pi^2 D / 2) needs backward Euler's damping
        if dt / m * d_now * 5.0 > 1.0:
            theta = 1.0
    if k > 0:
        ds_max = _early_step(t, tau, grade, c_tail, quiet_grade)
        if ds_max * m < dt:
            m = int(math.ceil(dt / ds_max))
    return m, theta


def _substep_end(k, j, t, t0, dt, m, theta, t_first, tau, grade, c_tail, quiet_grade):
    """(end time, theta) of substep j of output step k, which started at t0."""
    if k == 0:
        # graded start: substeps grow geometrically from t_first, each a fraction
        # grade of the elapsed time, the first _N_START of them backward Euler
        if j == 0:
            t1 = t_first
        else:
            t1 = t0 + _early_step(t0, tau, grade, c_tail, quiet_grade)
        if t1 > dt - 0.5 * _early_step(t0, tau, grade, c_tail, quiet_grade):
            t1 = dt
        th = 1.0 if j < _N_START else theta
    else:
        t1 = t + (j + 1) * (dt / m)
        if j == m - 1:
            t1 = (k + 1) * dt
        th = theta
    return t1, th


def _solve_template(p, q, q_init, n_steps, dt, t_first, tau, grade, c_tail, quiet_grade, delta,
                    mass_floor, point_start, upper, lower, cdf_upper, cdf_lower):
    """March the density over n_steps steps of dt; fill the output arrays (n_steps + 1,).

    Returns (steps done, survival mass at the end, number of substeps taken).
    """
    n = q_init.size - 1
    h = 1.0 / n
    inv_h = float(n)
    qv = q_init.copy()
    P0 = np.zeros(n + 1)
    M0 = np.zeros(n + 1)
    P1 = np.zeros(n + 1)
    M1 = np.zeros(n + 1)
    work = np.zeros((5, n + 1))
    fstate = np.full(1, -1.0)
    w0, d_ref = _coefficients(0.0, p, q, delta, inv_h, P0, M0)
    # A point mass has no flux at t = 0; a distributed start may touch a boundary.
    if point_start:
        upper[0] = 0.0
        lower[0] = 0.0
    else:
        upper[0] = P0[n - 1] * qv[n - 1]
        lower[0] = -M0[1] * qv[1]
    cdf_upper[0] = 0.0
    cdf_lower[0] = 0.0
    s_ref = dt * d_ref
    if s_ref < 1e-6:
        s_ref = 1e-6
    absorbed_up = 0.0
    absorbed_lo = 0.0
    d_now = d_ref
    n_sub = 0
    done = 0
    for k in range(n_steps):
        t = k * dt
        m, theta = _substep_plan(k, t, dt, d_now, s_ref, 1.0 - absorbed_up - absorbed_lo, tau,
                                 grade, c_tail, quiet_grade)
        step_up = 0.0
        step_lo = 0.0
        w = w0
        t0 = t
        j = 0
        while True:
            t1, th = _substep_end(k, j, t, t0, dt, m, theta, t_first, tau, grade, c_tail,
                                  quiet_grade)
            w, d_now = _coefficients(t1, p, q, delta, inv_h, P1, M1)
            if not w > _WIDTH_FLOOR * w0:
                break
            ds = t1 - t0
            a_up, a_lo = _step(qv, P0, M0, P1, M1, th, ds * inv_h, work, fstate)
            n_sub += 1
            step_up += a_up * ds
            step_lo += a_lo * ds
            P0, P1 = P1, P0
            M0, M1 = M1, M0
            t0 = t1
            j += 1
            if t1 >= (k + 1) * dt:
                break
        absorbed_up += step_up
        absorbed_lo += step_lo
        cdf_upper[k + 1] = absorbed_up
        cdf_lower[k + 1] = absorbed_lo
        if not w > _WIDTH_FLOOR * w0:
            cdf_upper[k + 1:] = absorbed_up
            cdf_lower[k + 1:] = absorbed_lo
            break
        upper[k + 1] = P0[n - 1] * qv[n - 1]
        lower[k + 1] = -M0[1] * qv[1]
        done = k + 1
        if 1.0 - absorbed_up - absorbed_lo < mass_floor:
            cdf_upper[k + 2:] = absorbed_up
            cdf_lower[k + 2:] = absorbed_lo
            break
    survival = 0.0
    for i in range(1, n):
        survival += qv[i]
    return done, survival * h, n_sub


def _probe_template_fn(p, q, y, times, delta):
    """Width, lower level, and A and D at each probe level y, at each of ``times`` (the first
    being 0), for the accuracy rule.

    ``A`` and ``D`` are scaled by the width at the first time rather than the current one, so
    that later probes measure how drift and noise change, not how the boundaries close (which
    the substeps handle).
    """
    nt = times.size
    widths = np.zeros(nt)
    lows = np.zeros(nt)
    avals = np.zeros((nt, y.size))
    dvals = np.zeros((nt, y.size))
    w_ref = 0.0
    for k in range(nt):
        t = times[k]
        lo, w, dl, dw = _boundary_state(t, q, delta)
        widths[k] = w
        lows[k] = lo
        if k == 0:
            w_ref = w
        if not (w > 0.0 and w_ref > 0.0):
            continue
        for i in range(y.size):
            x = lo + y[i] * w
            avals[k, i] = (_drift(t, x, p) - dl - y[i] * dw) / w_ref
            g = _diffusion(t, x, p)
            dvals[k, i] = g * g / (w_ref * w_ref)
    return widths, lows, avals, dvals


@nb.njit(cache=True)
def _rule_scales(widths, a_probes, d_probes, y_mid):
    """(max |A|, D at the start, the density's fastest relevant rate) from the probes.

    The rate, 1/s: diffusion across the width, the drift where the mass is, and how fast the
    drift varies across the interval (relaxation under a leak); the largest over the probe
    times, should drift or noise grow (urgency). Compiled to keep a fitter's calls cheap.
    """
    n_y = a_probes.shape[1]
    pos = y_mid * (n_y - 1)
    i = min(max(int(pos), 0), n_y - 2)
    frac = pos - i
    a_start = (1.0 - frac) * a_probes[0, i] + frac * a_probes[0, i + 1]
    d_start = (1.0 - frac) * d_probes[0, i] + frac * d_probes[0, i + 1]
    if not d_start > 0.0:
        d_start = d_probes[0].max()
    a_max = 0.0
    for j in range(n_y):
        a_max = max(a_max, abs(a_probes[0, j]))
    rate = 0.0
    mid = n_y // 2
    for k in range(widths.size):
        slope = 0.0
        for j in range(n_y - 1):
            slope = max(slope, abs(a_probes[k, j + 1] - a_probes[k, j]) * (n_y - 1))
        a, d = (a_start, d_start) if k == 0 else (a_probes[k, mid], d_probes[k, mid])
        if widths[k] > 0.0 and d > 0.0:
            r = 0.5 * math.pi**2 * d + 0.5 * a * a / d + slope
            if rate < r < math.inf:
                rate = r
    return a_max, d_start, rate


# -- compiled kernels, kept per (coefficients, boundaries) ---------------------------------------
_KERNELS: OrderedDict = OrderedDict()
_KERNEL_CACHE_SIZE = 64


def _kernels(sde, boundaries):
    key = (sde.drift, sde.diffusion, boundaries.upper, boundaries.lower)
    found = _KERNELS.get(key)
    if found is not None:
        _KERNELS.move_to_end(key)
        return found
    cache = sde.cacheable and boundaries.cacheable
    funcs = {
        "_drift": specialize(sde.drift, {}, cache=cache, inline="always"),
        "_diffusion": specialize(sde.diffusion, {}, cache=cache, inline="always"),
        "_upper": specialize(boundaries.upper, {}, cache=cache, inline="always"),
        "_lower": specialize(boundaries.lower, {}, cache=cache, inline="always"),
    }
    state = specialize(_boundary_state, {"_upper": funcs["_upper"], "_lower": funcs["_lower"]},
                       cache=cache, inline="always")
    coefficients = specialize(_coefficients_template,
                              {**funcs, "_boundary_state": state}, cache=cache, inline="always")
    # error_model="numpy": no zero-division checks in the loops (the divisors are positive)
    step = specialize(_step, {}, cache=True, error_model="numpy")
    early = specialize(_early_step, {"_QUIET": _QUIET}, cache=True)
    plan = specialize(_substep_plan, {"_MAX_SUBSTEPS": _MAX_SUBSTEPS, "_early_step": early},
                      cache=True, inline="always")
    substep_end = specialize(_substep_end, {"_N_START": _N_START, "_early_step": early},
                             cache=True, inline="always")
    solver = specialize(_solve_template,
                        {"_coefficients": coefficients, "_step": step,
                         "_substep_plan": plan, "_substep_end": substep_end,
                         "_WIDTH_FLOOR": _WIDTH_FLOOR}, cache=cache)
    probe = specialize(_probe_template_fn, {**funcs, "_boundary_state": state}, cache=cache)
    found = (solver, probe)
    _KERNELS[key] = found
    if len(_KERNELS) > _KERNEL_CACHE_SIZE:
        _KERNELS.popitem(last=False)
    return found


# -- result ------------------------------------------------------------------------------------
_BOUNDARY_NAMES = {"upper": "upper", "lower": "lower", 1: "upper", 0: "lower", -1: "lower"}


@dataclass
class FirstPassage:
    """First-passage-time densities at the two boundaries, on a uniform time grid.

    The densities are *defective*: each integrates to the probability of ending at its boundary,
    ``prob_upper + prob_lower + undecided = 1``.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Time grid in seconds (the SDE's time unit), ``0, dt, ..., t_max``.
    upper, lower : ndarray, shape (n_t,)
        First-passage-time densities (per second) at the upper and lower boundary at ``t``
        (never negative: values a rounding error below zero are set to zero). At ``t = 0``: zero
        for a point start; for a start distribution, the value that makes the trapezoid rule
        over the first step give the mass absorbed in it (the density itself is infinite there
        when the distribution reaches a boundary).
    cdf_upper, cdf_lower : ndarray, shape (n_t,)
        Probability of having been absorbed at that boundary by ``t`` (exactly the mass the
        solver removed, so ``cdf_upper[-1] == prob_upper``).
    prob_upper, prob_lower : float
        Probability of being absorbed at each boundary before ``t_max``.
    undecided : float
        Probability mass still between the boundaries at ``t_max`` (or at ``t_stop``).
    dt : float
        Time step in seconds.
    n_space : int
        Number of space cells between the boundaries.
    t_stop : float
        Time at which the solver stopped: ``t_max``, or earlier when the survival mass became
        negligible or the boundaries met. Densities are zero after it.
    n_substeps : int
        Number of Crank–Nicolson (or backward-Euler) substeps taken: the work done is about
        ``n_substeps * n_space``.
    """

    t: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    cdf_upper: np.ndarray
    cdf_lower: np.ndarray
    prob_upper: float
    prob_lower: float
    undecided: float
    dt: float
    n_space: int
    t_stop: float
    n_substeps: int = 0

    @property
    def t_max(self):
        """Last time of the grid, in seconds."""
        return float(self.t[-1])

    def __repr__(self):
        return (f"FirstPassage(n_t={self.t.size}, dt={self.dt:.3g}, n_space={self.n_space}, "
                f"prob_upper={self.prob_upper:.6g}, prob_lower={self.prob_lower:.6g}, "
                f"undecided={self.undecided:.3g}, t_stop={self.t_stop:.4g})")

    def _series(self, boundary, cumulative):
        try:
            name = _BOUNDARY_NAMES[boundary]
        except (KeyError, TypeError):
            raise ValueError(
                f"boundary must be 'upper' (or 1) or 'lower' (or 0), got {boundary!r}"
            ) from None
        if cumulative:
            return self.cdf_upper if name == "upper" else self.cdf_lower
        return self.upper if name == "upper" else self.lower

    def pdf(self, t, boundary):
        """First-passage density at ``boundary`` at times ``t`` (seconds), per second.

        Linear interpolation on the grid; zero for ``t < 0`` and ``t > t_max``.

        Parameters
        ----------
        t : array_like
            Times in seconds, any shape.
        boundary : {"upper", "lower", 1, 0}
            Which boundary.

        Returns
        -------
        ndarray
            Same shape as ``t``.
        """
        t = np.asarray(t, dtype=np.float64)
        return np.interp(t, self.t, self._series(boundary, False), left=0.0, right=0.0)

    def cdf(self, t, boundary):
        """Probability of absorption at ``boundary`` by times ``t`` (seconds).

        Linear interpolation of the cumulative absorbed mass; zero before 0 and constant
        (``prob_upper`` or ``prob_lower``) beyond ``t_max``.
        """
        t = np.asarray(t, dtype=np.float64)
        series = self._series(boundary, True)
        return np.interp(t, self.t, series, left=0.0, right=series[-1])


# -- the public function -----------------------------------------------------------------------
def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return value


def _check_sde(sde):
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be an sdekit.sde.SDE, got {type(sde).__name__}")
    if sde.dim != 1:
        raise ValueError(f"sde must be one-dimensional, got dim={sde.dim}")
    if sde.noise == "none" or sde.diffusion is None:
        raise ValueError("sde has no noise (an ODE): its first-passage law is not a density")
    if not sde.elementwise:
        raise ValueError("sde must have elementwise coefficients f(t, x, p), g(t, x, p); "
                         "vector-form coefficients are not supported")


def _start_cells(x0, lo, w, n):
    """Initial nodal density q (n + 1,) and whether the start is a point mass."""
    h = 1.0 / n
    q0 = np.zeros(n + 1)
    if callable(x0):
        edges = np.concatenate(([0.0], (np.arange(1, n - 1) + 0.5) * h, [1.0]))
        c = np.asarray(x0(edges), dtype=np.float64)
        if c.shape != edges.shape or not np.all(np.isfinite(c)):
            raise ValueError("x0, as a function, must map an array of y in [0, 1] to finite CDF "
                             "values of the same shape")
        mass = np.diff(c)
        if np.any(mass < -1e-12) or abs(c[-1] - c[0] - 1.0) > 1e-6:
            raise ValueError("x0, as a function, must be a CDF on [0, 1]: nondecreasing, "
                             f"from 0 to 1 (got x0(0)={c[0]:g}, x0(1)={c[-1]:g})")
        q0[1:n] = np.maximum(mass, 0.0) / (c[-1] - c[0]) / h
        return q0, False
    y0 = (float(x0) - lo) / w
    s = y0 * n
    j = int(math.floor(s))
    frac = s - j
    if j < 1:  # within a cell of the lower boundary: the first interior node takes it all
        q0[1] = 1.0 / h
    elif j >= n - 1:
        q0[n - 1] = 1.0 / h
    else:
        q0[j] = (1.0 - frac) / h
        q0[j + 1] = frac / h
    return q0, True


def _start_distance(x0, lo, w):
    """Distance (in y) from the start to the nearer boundary; quantiles for a distribution."""
    if callable(x0):
        y = np.linspace(0.0, 1.0, 2049)
        c = np.asarray(x0(y), dtype=np.float64)
        if c.shape != y.shape or not np.all(np.isfinite(c)):
            raise ValueError("x0, as a function, must map an array of y in [0, 1] to finite CDF "
                             "values of the same shape")
        c = (c - c[0]) / max(c[-1] - c[0], 1e-300)
        y_lo = y[np.searchsorted(c, 0.05)]
        y_hi = y[min(np.searchsorted(c, 0.95), y.size - 1)]
        return max(min(y_lo, 1.0 - y_hi), 0.02), 0.5 * (y_lo + y_hi)
    y0 = (float(x0) - lo) / w
    # closer than _MIN_DISTANCE the rule would ask for ever finer cells; such a start is resolved
    # on that scale only (and within a cell of the boundary it moves to the first node)
    return max(min(y0, 1.0 - y0), _MIN_DISTANCE), y0


def _grid_sizes(n_space, dt, t_max, accuracy, dist, peclet, rate):
    """(cells, steps, step) from the accuracy rule, unless given: cells shrink with the start's
    distance to the nearer boundary and with its Péclet number, steps with the slowest rate."""
    if n_space is None:
        h = _C_SPACE * math.sqrt(accuracy) * dist / (1.0 + peclet)
        n_space = int(min(max(math.ceil(1.0 / h), 8), _MAX_SPACE))
    else:
        if isinstance(n_space, bool) or not isinstance(n_space, numbers.Integral) or n_space < 4:
            raise ValueError(f"n_space must be an integer >= 4, got {n_space!r}")
        n_space = int(n_space)
    if dt is None:
        dt = _C_TIME * math.sqrt(accuracy) / rate
    else:
        dt = _check_positive("dt", dt)
    n_steps = max(int(math.ceil(t_max / dt - 1e-9)), 1)
    if n_steps > _MAX_STEPS:
        raise ValueError(f"{n_steps} time steps needed (t_max / dt); raise dt or accuracy")
    return n_space, n_steps, t_max / n_steps


def first_passage(sde, boundaries, x0, t_max, *, params=None, accuracy=1e-4, dt=None,
                  n_space=None):
    """First-passage-time densities of a 1-D SDE at two absorbing boundaries (Fokker–Planck).

    Solves the forward Kolmogorov equation by conservative Crank–Nicolson finite differences in
    the coordinate relative to the boundaries (see the module documentation for the method and
    the accuracy rule). One parameter set per call; compiled kernels are kept per (drift,
    diffusion, boundary functions), so repeated calls with new parameters compile nothing.

    Parameters
    ----------
    sde : SDE
        One-dimensional SDE with elementwise coefficients ``f(t, x, p)`` and ``g(t, x, p)``.
    boundaries : Boundaries
        Upper and lower absorbing boundaries ``u(t, q) > l(t, q)``, finite (constant, linear or
        functions of time and ``boundaries.params``). Their ``components`` are ignored.
    x0 : float or callable
        Start: an absolute position strictly between the boundaries at ``t = 0`` (a point mass,
        split linearly between the two nearest nodes; within a cell of a boundary it sits on
        the first interior node), or a vectorised function ``cdf(y)`` giving the start's CDF at
        relative positions ``y`` in [0, 1] (0 at the lower boundary at ``t = 0``, 1 at the
        upper), e.g. a uniform window; it is integrated over the cells.
    t_max : float
        Last time of the grid, in seconds (the SDE's time unit).
    params : array_like, shape (n_params,), optional
        The SDE's parameter vector; defaults to ``sde.params``. A dict of named overrides works
        as in :meth:`SDE.resolve_params`.
    accuracy : float
        Target L1 distance of each boundary's density from the exact one, over [0, t_max]. Sets
        ``dt`` and ``n_space`` when they are not given (rule in the module documentation), and
        always the grading of the early substeps.
    dt : float, optional
        Time step in seconds (rounded down so that it divides ``t_max``).
    n_space : int, optional
        Number of space cells between the boundaries (at least 4).

    Returns
    -------
    FirstPassage
        Densities ``upper`` and ``lower`` (per second) on the grid ``t`` of shape
        (n_t,) = (round(t_max / dt) + 1,), their CDFs, ``prob_upper``, ``prob_lower`` and the
        ``undecided`` mass.

    Raises
    ------
    TypeError
        ``sde`` or ``boundaries`` of the wrong type, non-numeric ``t_max`` or ``accuracy``.
    ValueError
        A multi-dimensional, noise-free or vector-form SDE; infinite or crossed boundaries; a
        start outside the boundaries; non-positive ``t_max``, ``accuracy``, ``dt`` or a
        too-small ``n_space``.

    Notes
    -----
    The output grid is fixed by ``t_max`` and ``dt``, but the substeps within it depend on the
    parameters (through the start's distance to the boundaries and, for closing boundaries, the
    width): with fixed ``dt`` and ``n_space`` the densities are smooth in the parameters except
    for jumps of the order of ``accuracy`` where a substep count changes.

    Examples
    --------
    >>> from sdekit.sde import Boundaries, DriftDiffusion, first_passage
    >>> fp = first_passage(DriftDiffusion(v=1.0), Boundaries(1.0, -1.0), 0.0, t_max=3.0)
    >>> abs(fp.prob_upper + fp.prob_lower + fp.undecided - 1.0) < 1e-10
    True
    >>> density_at_half_second = fp.pdf(0.5, "upper")
    """
    _check_sde(sde)
    if not isinstance(boundaries, Boundaries):
        raise TypeError(f"boundaries must be an sdekit.sde.Boundaries, got "
                        f"{type(boundaries).__name__}")
    t_max = _check_positive("t_max", t_max)
    accuracy = _check_positive("accuracy", accuracy)
    p = sde.resolve_params(params)
    if p.shape[0] != 1:
        raise ValueError("params must be one parameter vector (one set per call)")
    p = p[0]
    qb = np.ascontiguousarray(boundaries.params, dtype=np.float64)
    solver, probe = _kernels(sde, boundaries)

    # boundary velocities over a thousandth of the run: a scale for the rule, finite even where
    # a boundary's derivative is not (a Weibull collapse with shape < 1 at t = 0)
    widths, lows, a_probes, d_probes = probe(p, qb, _PROBE_Y,
                                             np.array([0.0, 0.25 * t_max, 0.5 * t_max, t_max]),
                                             1e-3 * t_max)
    w0, lo0 = float(widths[0]), float(lows[0])
    if not (math.isfinite(w0) and math.isfinite(lo0) and w0 > 0.0):
        raise ValueError("boundaries must be finite with upper > lower at t = 0, got "
                         f"lower={lo0}, upper={lo0 + w0}")
    if not callable(x0):
        if isinstance(x0, bool) or not isinstance(x0, numbers.Real):
            raise TypeError(f"x0 must be a number or a CDF function of y, got {x0!r}")
        if not lo0 < float(x0) < lo0 + w0:
            raise ValueError(f"x0={x0!r} must lie strictly between the boundaries at t = 0, "
                             f"({lo0:g}, {lo0 + w0:g})")
    dist, y_mid = _start_distance(x0, lo0, w0)
    a_max, d_start, rate = _rule_scales(widths, a_probes, d_probes, y_mid)
    if not d_start > 0.0:
        raise ValueError("the diffusion is zero at the start: no density to follow")
    peclet = a_max * dist / d_start

    n_space, n_steps, dt = _grid_sizes(n_space, dt, t_max, accuracy, dist, peclet, rate)

    q_init, point = _start_cells(x0, lo0, w0, n_space)
    upper, lower, cdf_upper, cdf_lower = np.zeros((4, n_steps + 1))
    # the first substep ends when the start has spread over about a cell
    t_first = min(0.25 / (n_space * n_space * d_start), 0.5 * dt)
    tau = dist * dist / d_start
    root = math.sqrt(accuracy)
    grade = min(_C_GRADE * root, 0.25)
    done, survival, n_sub = solver(p, qb, q_init, n_steps, dt, t_first, tau, grade,
                                   _C_TAIL * root,
                                   min(_C_QUIET * root, 0.25), 1e-3 * dt, 1e-3 * accuracy,
                                   point, upper, lower, cdf_upper, cdf_lower)
    if not point and n_steps > 0:
        # A start distribution that reaches a boundary makes the density infinite at t = 0
        # (like t^-1/2): hold instead the value that makes the trapezoid rule over the first
        # step give the absorbed mass, the quantity integrals of the density need.
        upper[0] = 2.0 * cdf_upper[1] / dt - upper[1]
        lower[0] = 2.0 * cdf_lower[1] / dt - lower[1]
    # rounding can leave a density a few ulps below zero where it vanishes; a likelihood's log
    # needs it non-negative
    np.maximum(upper, 0.0, out=upper)
    np.maximum(lower, 0.0, out=lower)
    t = np.arange(n_steps + 1) * dt
    t[-1] = t_max
    return FirstPassage(
        t=t, upper=upper, lower=lower, cdf_upper=cdf_upper, cdf_lower=cdf_lower,
        prob_upper=float(cdf_upper[-1]), prob_lower=float(cdf_lower[-1]),
        undecided=float(survival), dt=float(dt), n_space=n_space, t_stop=float(done * dt),
        n_substeps=int(n_sub),
    )

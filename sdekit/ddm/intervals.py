"""Profile-likelihood intervals for one parameter of a fitted unit.

:class:`Profile` refits with the parameter held at a value (through
:func:`sdekit.ddm.search.fit_unit` for a shared parameter, through the optimisers with one slot
held for a condition's parameter) and finds where the profile rises by the chi-square target.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sdekit.ddm import optimizers
from sdekit.ddm.likelihood import LikelihoodProblem
from sdekit.ddm.search import WINDOW_CORNER, WINDOW_NEAR_BOUND, fit_unit, window_reach

__all__ = ["Profile"]


#: Largest gradient component per trial (optimiser coordinates) of a profile refit that is
#: trusted though it missed the fit's convergence test.
_PROFILE_GRADIENT = 1e-3


class _Doubtful(Exception):
    """A profile refit that cannot be trusted (its message says why)."""


class Profile:
    """Profile likelihood of one parameter slot of a fitted problem: the smallest negative
    log-likelihood with that slot held at a value and every other parameter re-estimated.

    A parameter shared by all trials (``a``, ``sz``, ``p_outlier`` ...) is held by refitting
    with it fixed, exactly as ``fit(..., fixed={name: value})`` would; a condition's slot
    (``v[easy]``, ``v:coherence``) by a search that leaves that slot where it is. Each value
    is searched from two starts, the solution at the nearest value already profiled and the
    estimate, and the better end kept.

    A bound is given only where the refits that locate it can be trusted: none found a higher
    maximum than the fit's, and each converged (refits stall where holding the parameter
    pushes a start-point window against a boundary, the full DDM's corner; see
    :func:`sdekit.ddm.search.window_message`). Otherwise the bound is NaN and :attr:`notes`
    says why.
    """

    def __init__(self, prob, theta_hat, nll_hat, j):
        from sdekit.ddm._optimize import FIT_TOL

        self.prob, self.j, self.nll_hat = prob, j, float(nll_hat)
        self.name, self.base = prob.names[j], prob.base[j]
        self.tol = FIT_TOL
        self.hat = np.array(theta_hat, float)
        self.points = {float(theta_hat[j]): (float(nll_hat), self.hat.copy())}
        # why a profiled value cannot be trusted (absent where it can)
        self.doubts = {}
        self.reach_hat = window_reach(prob, self.hat)
        self.notes = []
        self.evaluations = 0

    def domain(self, theta_hat):
        """(low, high) of the held value, each with whether the edge itself may be evaluated
        (closed at 0 for the variabilities and t0)."""
        j, b, prob = self.j, self.base, self.prob
        if prob.kind[j] == "coef":  # a formula coefficient, on its link's unbounded scale
            return (-math.inf, False), (math.inf, False)
        if b in ("sv", "st"):
            return (0.0, True), (math.inf, False)
        if b == "sz":
            return (0.0, True), (1.0, False)
        if b == "t0":
            return (0.0, True), (prob.hi[j], False)
        if b == "a":
            return (0.0, False), (math.inf, False)
        if b == "z":
            return (prob.lo_nat[j], False), (prob.hi[j], False)
        if b == "p_outlier":
            return (0.0, True), (1.0, False)
        return (-math.inf, False), (math.inf, False)

    def nll(self, value):
        """Profile negative log-likelihood at ``value``; ``inf`` where no parameters fit."""
        value = float(value)
        if value in self.points:
            return self.points[value][0]
        # Two starts: the solution at the nearest value profiled (continuation) and the
        # estimate itself. Along a ridge (sz against t0 in the full DDM) either can stop short.
        near = min(self.points, key=lambda x: abs(x - value))
        starts = []
        for origin in dict.fromkeys((near, float(self.hat[self.j]))):
            start = self.points[origin][1].copy()
            start[self.j] = value
            starts.append(start)
        f, theta, ok = self._search(value, starts)
        if theta is None:
            f, theta = math.inf, self.hat.copy()
        self.points[value] = (f, theta)
        doubt = self._doubt(value, f, theta, ok)
        if doubt:
            self.doubts[value] = doubt
        return f

    def _doubt(self, value, f, theta, ok):
        """Why the refit at ``value`` cannot be trusted, or None."""
        at = f"{self.name} = {value:.6g}"
        if math.isfinite(f) and f < self.nll_hat - 1e-3:
            return (f"the refit at {at} reached a higher log-likelihood than the fit's "
                    f"({-f:.4f} against {-self.nll_hat:.4f}): the fit is not at the global "
                    "maximum; refit (search='global' for the full DDM) and profile that")
        if not math.isfinite(f) or ok:
            return None
        reach = window_reach(self.prob, theta)
        if reach > WINDOW_NEAR_BOUND >= self.reach_hat:
            return (f"the refit at {at} did not converge: it moved the start-point window to "
                    f"fill {100 * reach:.1f} % of the room z leaves, where {WINDOW_CORNER}")
        return f"the refit at {at} did not converge"

    def _search(self, value, starts):
        """``(nll, theta, converged)`` of the best refit with the slot held at ``value`` from
        each of ``starts`` (full parameter vectors)."""
        self.evaluations += 1
        prob, j = self.prob, self.j
        if self.base == "p_outlier" or self.name == self.base:
            # a shared parameter: exactly the fit with it fixed, from these starts
            if self.base == "p_outlier":
                spec = dict(prob.pl.spec, p_outlier=value if value > 0 else None)
            else:
                spec = dict(prob.pl.spec)
                spec["free"] = [n for n in spec["free"] if n != self.base]
                spec["fixed"] = dict(spec["fixed"], **{self.base: value})
            sub_pl = replace(prob.pl, spec=spec, search="local")
            if prob.k == 1:  # nothing left to fit
                nll = LikelihoodProblem(sub_pl).nll_grad_theta(np.empty(0))[0]
                return float(nll), starts[0], True
            res = fit_unit(sub_pl, starts=[np.delete(s, j) for s in starts])
            f = -res.llf if math.isfinite(res.llf) else math.inf
            # A refit just short of the fit's convergence test (1e-5 per trial) along a flat
            # direction (sz or sv near 0) was, where checked, within 1e-5 nats of the maximum
            # a fresh fit finds: close enough to place a bound. One stalled at 1e-2 (the full
            # DDM's corner) is not.
            ok = res.converged or res.max_gradient < _PROFILE_GRADIENT
            return f, np.insert(res.theta, j, value), ok
        import copy

        # a condition's slot: a search of the whole problem that leaves that slot alone
        sub = copy.copy(prob)
        sub.held, sub.tol = j, self.tol
        best = (math.inf, None, False)
        for start in starts:
            sub.best, sub.last_hessian = None, None
            phi = sub.to_phi(start)
            if not np.isfinite(sub.nll_grad_theta(sub.to_natural(phi)[0])[0]):
                continue
            phi, f, ok, _msg, _nev = optimizers.levenberg_marquardt(sub, phi)
            lifted = sub.lift_from_zero(phi) if sub.expensive else None
            if lifted is not None:
                # as in a fit: sz or sv at 0 has no gradient to leave it by, so one more search
                # from the window's starting value decides
                sub.best = None
                phi2, f2, ok2, _msg, _nev = optimizers.levenberg_marquardt(sub, lifted)
                if f2 < f:
                    phi, f, ok = phi2, f2, ok2
            if math.isfinite(f) and f < best[0]:
                best = (float(f), sub.to_natural(phi)[0], bool(ok))
        return best

    def bound(self, direction, target, theta_hat, se):
        """The value on one side of the estimate where the profile rises by ``target`` nats;
        the edge of the parameter's range if it never does, NaN if the search fails or meets a
        refit that cannot be trusted (then :attr:`notes` says why)."""
        est = float(theta_hat[self.j])
        (lo, lo_closed), (hi, hi_closed) = self.domain(theta_hat)
        edge, closed = (hi, hi_closed) if direction > 0 else (lo, lo_closed)
        step = se if math.isfinite(se) and se > 0 else 0.1 * max(abs(est), 0.1)
        if math.isfinite(edge) and edge != est:
            # a standard error far wider than the range (sz at 0) would leap to the edge at once
            step = min(step, 0.25 * abs(edge - est))
        side = "upper" if direction > 0 else "lower"

        def rise(x):
            r = min(self.nll(x) - self.nll_hat - target, 1e6)
            if float(x) in self.doubts:
                raise _Doubtful(self.doubts[float(x)])
            return r

        try:
            return self._bound(rise, est, edge, closed, direction, step)
        except _Doubtful as why:
            self.notes.append(f"{self.name}: no {side} profile bound, since {why}")
            return math.nan

    @staticmethod
    def _bound(rise, est, edge, closed, direction, step):
        from scipy.optimize import brentq

        prev = est
        for k in range(1, 40):
            x = est + direction * step * (k if k <= 4 else 4 * 2 ** (k - 4))
            at_edge = (x >= edge) if direction > 0 else (x <= edge)
            if at_edge:
                if not math.isfinite(edge):
                    return math.nan
                # just inside an open edge (where the likelihood usually vanishes)
                x = edge if closed else edge - direction * 1e-6 * max(abs(edge - est), 1e-3)
            r = rise(x)
            if r >= 0:
                return brentq(rise, min(prev, x), max(prev, x),
                              xtol=1e-4 * step, rtol=1e-10, maxiter=60)
            if at_edge:
                return edge
            prev = x
        return math.nan

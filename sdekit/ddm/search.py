"""The search for one unit's maximum: starts, the strategies of :mod:`sdekit.ddm.optimizers`
run from each, the full DDM's global search along ``sz``, constrained maxima at a parameter's
bound, and the observed information's covariance.

:func:`fit_unit` takes a :class:`~sdekit.ddm.likelihood.FitTask` (plain data) and returns a
:class:`UnitEstimate` (plain numbers and the problem); :mod:`sdekit.ddm.results` makes the
user's results object of it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from sdekit.ddm import optimizers
from sdekit.ddm._bounds import at_lower_edge, hold_at_bounds, kkt_holds
from sdekit.ddm._fast_outliers import fast_outlier_messages
from sdekit.ddm._params import PARAM_NAMES
from sdekit.ddm.likelihood import FitTask, LikelihoodProblem

__all__ = ["fit_unit", "UnitEstimate", "covariance", "window_reach", "window_message",
           "WINDOW_NEAR_BOUND", "WINDOW_CORNER", "lm_result"]

#: Fractions of the start-point window at which ``search="global"`` holds sz.
GLOBAL_SZ_FRACTIONS = (0.3, 0.5, 0.7, 0.85)


@dataclass
class UnitEstimate:
    """One unit's maximum: the estimate, its covariance and how the search went."""

    prob: LikelihoodProblem
    theta: np.ndarray
    cov: np.ndarray
    llf: float
    converged: bool
    messages: list
    method: str
    starts_llf: list
    seconds: float
    #: largest gradient component per trial (optimiser coordinates) at the end
    max_gradient: float = math.nan
    #: slots whose maximum lies at their lower bound (a constrained maximum)
    held: list = field(default_factory=list)

    @property
    def params(self):
        return pd.Series(self.theta, index=self.prob.names, name="estimate")

    @property
    def fixed(self):
        return self.prob.pl.spec["fixed"]


WINDOW_NEAR_BOUND = 0.95


def window_reach(prob, theta):
    """The largest share, over trials, of the room its ``z`` leaves that the start-point window
    ``sz`` fills: 1 when the window reaches a boundary, 0 without a window."""
    pars = dict(zip(PARAM_NAMES, prob.trial_params(theta), strict=True))
    z, sz = np.broadcast_arrays(pars["z"], pars["sz"])
    if not np.any(sz > 0):
        return 0.0
    return float(np.max(sz / (2.0 * np.minimum(z, 1.0 - z))))


#: Why fits stall with a start-point window nearly touching a boundary, and what to do.
WINDOW_CORNER = ("the decision-time density grows like 1/sqrt(t) as t -> 0, so the likelihood "
                  "bends sharply wherever t0 or t0 + st comes close to an RT and no optimiser "
                  "settles; such a maximum sits at the edge of the model, not inside it. "
                  "Compare with fits at fixed sz values (fixed={'sz': ...}) or the default "
                  "search (see 'The global maximum' in docs/fitting.md)")


def window_message(reach):
    """Why a fit whose start-point window nearly touches a boundary may not converge."""
    return (f"the start-point window fills {100 * reach:.1f} % of the room z leaves, nearly "
            f"touching a boundary: there {WINDOW_CORNER}")


def lm_result(prob, x0):
    from scipy.optimize import OptimizeResult

    phi, f, ok, msg, nev = optimizers.levenberg_marquardt(prob, x0)
    if prob.last_hessian is not None and (prob.best is None or f < prob.best[1]):
        prob.best = (prob.to_natural(phi)[0], f, prob.last_hessian)
    return OptimizeResult(x=phi, fun=f / prob.n, success=ok, message=msg, nfev=nev,
                          joined=msg == "joined")


def covariance(prob, theta, H, messages, held=()):
    """Inverse observed information; where it is not positive definite because sz or sv sits at
    0 (the edge of its range), the covariance of the other parameters given that one, with NaN
    for it. Slots in ``held`` (a maximum at their bound, where no Wald interval exists) are
    treated so from the start."""
    cov = np.full((prob.k, prob.k), np.nan)
    if not np.all(np.isfinite(H)):
        return cov
    keep = np.ones(prob.k, bool)
    keep[list(held)] = False
    for attempt in range(2):
        sub = H[np.ix_(keep, keep)]
        try:
            eig = np.linalg.eigvalsh(sub)
            if eig.size and eig.min() > 1e-10 * max(eig.max(), 1.0):
                cov[np.ix_(keep, keep)] = np.linalg.inv(sub)
                if not keep.all():
                    names = ", ".join(n for n, k in zip(prob.names, keep, strict=True) if not k)
                    messages.append(f"{names} at 0, the edge of its range: its standard error "
                                    "is NaN, the others' are given it (a profile interval "
                                    "exists: conf_int(method='profile'), or --intervals "
                                    "profile on the command line)")
                return cov
        except np.linalg.LinAlgError:
            pass
        at_zero = prob.near_zero(theta) & keep
        if attempt or not at_zero.any():
            break
        keep &= ~at_zero
    messages.append("observed information not positive definite (a parameter at its bound or "
                    "not identified): standard errors set to NaN")
    return cov


def global_sz_search(pl, prob, r):
    """The full DDM's likelihood can have several maxima along sz, the better ones often with
    a wide start-point window (t0 and st moving with it), where the default search rarely goes.
    Fit afresh with sz held at 0.3, 0.5, 0.7 and 0.85 of the window the estimate's z allows,
    then search with sz free from the best of those fits."""
    theta = prob.to_natural(r.x)[0]
    widest = prob.sz_max(theta)[0]
    best = None
    for frac in GLOBAL_SZ_FRACTIONS:
        spec = dict(pl.spec)
        spec["free"] = [n for n in spec["free"] if n != "sz"]
        spec["fixed"] = dict(spec["fixed"], sz=frac * widest)
        held = fit_unit(replace(pl, spec=spec, search="local"))
        if best is None or held.llf > best.llf:
            best = held
    start = np.array([best.fixed["sz"] if name == "sz" else best.params[name]
                      for name in prob.names])
    prob.best = None
    return lm_result(prob, prob.to_phi(start))


def fit_unit(pl: FitTask, starts=None):
    """Fit one unit: plain data in, a :class:`UnitEstimate` out (runs in worker processes).

    ``starts``: the optimiser's start points (natural parameters, in the order of the free
    ones) in place of the EZ start and its jittered copies (``pl.starts`` of them).
    """
    t_start = time.perf_counter()
    prob = LikelihoodProblem(pl)
    runs = _run_starts(prob, pl, starts)
    r = _best(runs)
    if pl.method == "mle" and prob.expensive:
        x0 = prob.lift_from_zero(r.x)
        if x0 is not None:
            # sz or sv near 0, where its effect on the likelihood is quadratic: the gradient
            # vanishes with it, so a search that reached it early cannot tell whether a better
            # optimum lies inside. One more start from there with it moved inward decides, run
            # to its own end (joining by proximity is too coarse where the likelihood is this
            # flat).
            prob.best = None
            runs.append(lm_result(prob, x0))
            r = _best(runs)
    if pl.method == "mle" and pl.search == "global" and prob.sz_slot is not None:
        runs.append(global_sz_search(pl, prob, r))
        r = _best(runs)
    est = _finish(prob, pl, r)
    est.starts_llf = [-float(q.fun) * prob.n if pl.method == "mle" else -float(q.fun)
                      for q in runs]
    est.seconds = time.perf_counter() - t_start
    return est


def _best(runs):
    return min(runs, key=lambda q: q.fun if np.isfinite(q.fun) else np.inf)


def _run_starts(prob, pl, starts):
    """The search from each start, stopping once two end at the same optimum or one joins
    the best so far; the searches' ``OptimizeResult`` objects."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(np.random.SeedSequence(list(pl.seed)))
    phi0 = prob.to_phi(prob.start_theta())
    if prob.expensive and pl.method == "mle":
        from sdekit.ddm._optimize import SEARCH_TOL

        prob.tol = SEARCH_TOL
    if pl.method == "qmp":
        prob.setup_qmp()
    if starts is None:
        starts = [phi0] + [None] * (max(1, pl.starts) - 1)  # None: jittered about phi0
    else:
        starts = [prob.to_phi(np.asarray(t, float)) for t in starts]
    runs = []
    for x0 in starts:
        if x0 is None:
            x0 = np.clip(phi0 + rng.normal(0.0, 0.4, prob.k), prob.lo, prob.hi_phi)
        if pl.method == "mle":
            r = lm_result(prob, x0)
        else:
            r = minimize(prob.qmp_objective, x0, method="Nelder-Mead",
                         options={"maxiter": 4000 * prob.k, "xatol": 1e-7, "fatol": 1e-11,
                                  "adaptive": prob.k > 4})
        runs.append(r)
        if r.get("joined", False):
            break  # in the neighbourhood of the best optimum: it would end there too
        best = sorted(float(q.fun) for q in runs if np.isfinite(q.fun))
        # Two starts ending at the same optimum: the search is done (a different, better
        # optimum would have to have been missed by both).
        if len(best) >= 2 and abs(best[0] - best[1]) * prob.n < (1e-3 if prob.expensive else 1e-5):
            break
    return runs


def _finish(prob, pl, r):
    """Polish the best search's end at the fitting tolerance, decide convergence (a maximum at
    a bound included), and say what the user should know."""
    from sdekit.ddm._optimize import FIT_TOL

    prob.tol = FIT_TOL
    theta = prob.to_natural(r.x)[0]
    nll, grad = prob.nll_grad_theta(theta)
    H = prob.hessian(theta, grad)
    if pl.method == "mle":
        theta, nll, grad, H = optimizers.newton_polish(prob, theta, nll, grad, H)
    grad_phi = prob.to_natural(prob.to_phi(theta))[1].T @ grad
    gnorm = float(np.max(np.abs(grad_phi))) / prob.n if prob.k else 0.0
    converged = math.isfinite(nll) and (gnorm < 1e-5 if pl.method == "mle" else bool(r.success))
    held = at_lower_edge(prob, theta) if pl.method == "mle" else []
    if held and math.isfinite(nll):
        # Also for a converged search: its end lies within the tolerance of the bound (sv of
        # 3e-5, say), and the maximum it approximates lies on it.
        theta, nll, grad, H, gnorm, at_edge = constrained_maximum(
            prob, (theta, nll, grad, H, gnorm), held)
        converged = converged or at_edge
    held = [j for j in held if kkt_holds(prob, grad, [j])] if converged else []
    messages = list(fast_outlier_messages(prob, theta, held))
    if not converged:
        why = ("its search ended, but" if r.message == "converged" else f"{r.message};")
        messages.append(f"optimiser stopped without converging ({why} the largest gradient "
                        f"component per trial is {gnorm:.2g}, above 1e-05)")
        reach = window_reach(prob, theta)
        if reach > WINDOW_NEAR_BOUND:
            messages.append(window_message(reach))
        messages += box_edge_messages(prob, theta)
    cov = covariance(prob, theta, H, messages, held)
    if pl.method == "qmp":
        messages = [m for m in messages if not m.startswith("observed")]
    return UnitEstimate(prob, theta, cov, -nll, converged, messages, pl.method, [], 0.0,
                        max_gradient=gnorm, held=held)


def box_edge_messages(prob, theta):
    """Which parameters ended at an edge of the search box, a limit of the search rather than
    of the model, and what that means."""
    phi = prob.to_phi(theta)
    out = []
    for j, name in enumerate(prob.names):
        if prob.kind[j] not in ("log_a", "log_var", "log_st"):
            continue  # the others' box edges lie where their own range ends
        if phi[j] >= prob.hi_phi[j] - 1e-6:
            out.append(f"{name} = {theta[j]:.4g} is the upper edge of the search (a "
                       f"parameter that large lies outside any behavioural range): the "
                       f"likelihood still rises towards it, so the model describes these data "
                       f"only with {name} beyond plausible values; fix {name} "
                       f"(fixed={{'{name}': ...}}) or check the data's slowest RTs")
    return out


def constrained_maximum(prob, end, held):
    """The maximum with the ``held`` slots at their lower bound, where it is one.

    A search ending with, say, ``t0`` at 0 and the gradient pushing it further out has reached
    the edge of the parameter space, not failed: the test for such a maximum is that the other
    parameters' gradient vanishes there. Returns ``(theta, nll, grad, H, gnorm, converged)``,
    the search's own end point ``end`` = ``(theta, nll, grad, H, gnorm)`` when holding does not
    give a maximum at least as high.
    """
    theta, nll = end[0], end[1]
    th_b, nll_b, g_b, H_b, g_free = hold_at_bounds(prob, theta, held)
    if (nll_b <= nll + 1e-9 * max(1.0, abs(nll)) and kkt_holds(prob, g_b, held)
            and g_free < 1e-5):
        return th_b, nll_b, g_b, H_b, g_free, True
    return (*end, False)

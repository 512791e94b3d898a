"""Maximum-likelihood fits of generalized decision models (:class:`DecisionModel`).

:func:`sdekit.ddm.fit` hands a :class:`DecisionModel` (or a :class:`SimulationModel`) here; the
arguments, the per-subject machinery (progress bar, worker processes, Dask) and the results
objects are those of the DDM fits. What differs is the likelihood and the optimiser:

* the likelihood of each condition cell comes from the model's densities (Fokker–Planck for a
  :class:`DecisionModel`, kernel density of simulated trials for a :class:`SimulationModel`) on
  a grid fixed for each stage of the fit, so the objective does not jump as parameters move;
* a :class:`DecisionModel` is searched with L-BFGS-B on forward differences at a tenth of the
  requested accuracy, from several starts, then refined by Newton steps on the central-difference
  quadratic at the requested accuracy; that quadratic also gives the standard errors;
* a :class:`SimulationModel`, whose estimated likelihood keeps small Monte Carlo jumps, is
  searched by Nelder–Mead simplices restarted from wide to narrow.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sdekit.ddm import model_search, runner
from sdekit.ddm.fit_spec import check_columns, check_p_outlier
from sdekit.ddm.intervals import Profile
from sdekit.ddm.likelihood import ez_estimates
from sdekit.ddm.model_search import PHI_BOX
from sdekit.ddm.results import DDMResults, FitCollection

__all__ = ["fit_model", "ModelResults", "is_decision_model", "profile_refusal"]

#: Log-density given to a trial the model cannot produce (below t0, or beyond the grid): finite
#: so that the optimiser sees a steep, smooth penalty rather than -inf.
_LOG_FLOOR = math.log(1e-300)
_GRAD_STEP = 1e-5


@dataclass
class _ModelPayload:
    key: object
    rt: np.ndarray
    response: np.ndarray
    conds: dict
    model: object
    spec: dict
    starts: int
    seed: tuple
    accuracy: float
    threads: bool = False
    extra: dict = field(default_factory=dict)


def _transform_kind(p):
    lo, hi = p.low, p.high
    if math.isfinite(lo) and math.isfinite(hi):
        return "logistic"
    if math.isfinite(lo):
        return "exp_low"
    if math.isfinite(hi):
        return "exp_high"
    return "id"


class _ModelProblem:
    """Slots, transforms and the log-likelihood of one unit's trials under a decision model."""

    def __init__(self, pl):
        self.pl = pl
        model, spec = pl.model, pl.spec
        self.model = model
        self.rt = np.ascontiguousarray(pl.rt, dtype=np.float64)
        self.resp = np.ascontiguousarray(pl.response, dtype=np.int64)
        self.n = self.rt.size
        frame = pd.DataFrame(pl.conds)
        group_cols = list(dict.fromkeys(
            [c for cols in spec["deps"].values() for c in cols] + list(model.conditions)))
        if group_cols:
            keys = list(zip(*(frame[c].to_numpy() for c in group_cols), strict=True))
        else:
            keys = [()] * self.n
        labels = sorted(set(keys), key=lambda k: tuple(map(str, k)))
        code = {k: i for i, k in enumerate(labels)}
        codes = np.array([code[k] for k in keys], dtype=np.int64)
        self.group_cols = group_cols
        self.cell_keys = labels
        self.cell_index = [np.flatnonzero(codes == i) for i in range(len(labels))]
        self.cell_labels = [".".join(map(str, k)) if k else "all" for k in labels]
        # slots: one per free parameter, or one per level of the columns it depends on
        self.names, self.decl, self.slot_cells = [], [], []
        self.cell_slot = [dict() for _ in labels]  # cell -> {param: slot}
        # slots held at a value (a profile likelihood's refits of one level of a parameter that
        # depends on conditions): not free, their value fixed in their own cells only
        held = dict(pl.extra.get("hold", {}))
        self.cell_fixed = [dict() for _ in labels]
        for p in model.params:
            if p.name not in spec["free"]:
                continue
            cols = spec["deps"].get(p.name)
            if cols is None:
                self._add_slot(p.name, p, range(len(labels)))
                continue
            pos = [group_cols.index(c) for c in cols]
            levels = sorted({tuple(k[j] for j in pos) for k in labels},
                            key=lambda k: tuple(map(str, k)))
            for lev in levels:
                cells = [i for i, k in enumerate(labels) if tuple(k[j] for j in pos) == lev]
                name = f"{p.name}[{'.'.join(map(str, lev))}]"
                if name in held:
                    value = float(held.pop(name))
                    for c in cells:
                        self.cell_fixed[c][p.name] = value
                    continue
                self._add_slot(name, p, cells)
        if held:
            raise ValueError(f"cannot hold {sorted(held)}: not a level of a parameter that "
                             f"depends on conditions")
        self.po_slot = None
        po = spec["p_outlier"]
        if po == "free":
            from sdekit.ddm.components import param

            self._add_slot("p_outlier", param("p_outlier", 0.0, 1.0, 0.02, "lapse probability"),
                           range(len(labels)))
            self.po_slot = len(self.names) - 1
        self.po_fixed = po if isinstance(po, float) else None
        self.k = len(self.names)
        self.kind = [_transform_kind(d) for d in self.decl]
        # t0 stays below the fastest RT it applies to (without contaminants)
        self.upper_nat = [d.high for d in self.decl]
        for j, d in enumerate(self.decl):
            if d.name == "t0":
                rts = np.concatenate([self.rt[self.cell_index[c]] for c in self.slot_cells[j]])
                self.upper_nat[j] = float(rts.min() if po is None else rts.max())
                self.kind[j] = "logistic"
        self.rt_min, self.rt_max = float(self.rt.min()), float(self.rt.max())
        self.log_u = -math.log(2.0 * max(self.rt_max - self.rt_min, 1e-3))
        self.fixed_values = dict(spec["fixed"])
        self.grid = None
        self.evaluations = 0

    def _add_slot(self, name, decl, cells):
        self.names.append(name)
        self.decl.append(decl)
        cells = list(cells)
        self.slot_cells.append(cells)
        for c in cells:
            self.cell_slot[c][decl.name] = len(self.names) - 1

    # -- transforms ---------------------------------------------------------------------------
    def to_natural(self, phi):
        theta = np.empty(self.k)
        for j, (kind, d) in enumerate(zip(self.kind, self.decl, strict=True)):
            x = float(phi[j])
            hi = self.upper_nat[j]
            if kind == "logistic":
                theta[j] = d.low + (hi - d.low) / (1.0 + math.exp(-x))
            elif kind == "exp_low":
                theta[j] = d.low + math.exp(x)
            elif kind == "exp_high":
                theta[j] = hi - math.exp(x)
            else:
                theta[j] = x
        return theta

    def to_phi(self, theta):
        phi = np.empty(self.k)
        for j, (kind, d) in enumerate(zip(self.kind, self.decl, strict=True)):
            x = float(theta[j])
            hi = self.upper_nat[j]
            if kind == "logistic":
                f = min(max((x - d.low) / (hi - d.low), 1e-9), 1 - 1e-9)
                phi[j] = math.log(f / (1 - f))
            elif kind == "exp_low":
                phi[j] = math.log(max(x - d.low, 1e-9))
            elif kind == "exp_high":
                phi[j] = math.log(max(hi - x, 1e-9))
            else:
                phi[j] = x
        return np.clip(phi, -PHI_BOX, PHI_BOX)

    # -- parameters per cell ------------------------------------------------------------------
    def cell_values(self, theta, c):
        """Natural parameter values (dict) in cell ``c``."""
        values = dict(self.fixed_values)
        values.update(self.cell_fixed[c])
        for name, j in self.cell_slot[c].items():
            if name != "p_outlier":
                values[name] = float(theta[j])
        return values

    def cell_conditions(self, c):
        key = self.cell_keys[c]
        return {col: key[self.group_cols.index(col)] for col in self.model.conditions}

    def cell_vector(self, theta, c):
        return self.model.vector(self.cell_values(theta, c), self.cell_conditions(c))

    # -- likelihood ---------------------------------------------------------------------------
    def start_theta(self):
        v, a, t0 = ez_estimates(self.rt, self.resp)
        guess = {"v": v, "a": a, "t0": t0}
        theta = np.empty(self.k)
        for j, d in enumerate(self.decl):
            if d.name == "p_outlier":
                theta[j] = 0.02
                continue
            value = guess.get(d.name, d.default)
            if value is None:
                value = 0.0 if not (math.isfinite(d.low) or math.isfinite(d.high)) else (
                    d.low + 1.0 if math.isfinite(d.low) else d.high - 1.0)
            if d.name == "t0":
                value = min(value, 0.9 * self.upper_nat[j])
            theta[j] = self._inside(j, value)
        return theta

    def _inside(self, j, value):
        """``value`` moved off a bound of slot ``j``'s domain (a default of 0 for a rate that
        may be 0, say): there the transform to the unbounded search space maps it to the far
        edge of the search box, where the gradient vanishes and every start would stall."""
        lo, hi = self.decl[j].low, self.upper_nat[j]
        if math.isfinite(lo) and math.isfinite(hi):
            margin = 0.05 * (hi - lo)
            return min(max(value, lo + margin), hi - margin)
        if math.isfinite(lo):
            return max(value, lo + 0.1 * max(1.0, abs(lo)))
        if math.isfinite(hi):
            return min(value, hi - 0.1 * max(1.0, abs(hi)))
        return value

    def prepare_grid(self, theta, accuracy=None):
        """Fix the time step and space cells from the accuracy target at ``theta``, for a whole
        stage of the fit (a grid that moved with the parameters would make the objective
        jump)."""
        self.grid = self.model.fit_grid(self, theta, accuracy)

    def cell_loglik(self, theta, c):
        idx = self.cell_index[c]
        dens = self.model.cell_density(self, theta, c, self.rt[idx], self.resp[idx])
        po = self._p_outlier(theta)
        if po:
            dens = (1.0 - po) * dens + po * math.exp(self.log_u)
        with np.errstate(divide="ignore"):
            logs = np.log(dens)
        return float(np.sum(np.maximum(logs, _LOG_FLOOR)))

    def _p_outlier(self, theta):
        if self.po_slot is not None:
            return float(theta[self.po_slot])
        return self.po_fixed or 0.0

    def nll_theta(self, theta):
        self.evaluations += 1
        try:
            total = sum(self.cell_loglik(theta, c) for c in range(len(self.cell_keys)))
        except ValueError:
            return math.inf
        return -total if math.isfinite(total) else math.inf

    def nll(self, phi):
        return self.nll_theta(self.to_natural(phi))

    def nll_grad_forward(self, phi):
        """Value and forward-difference gradient per trial: half the cost of central
        differences, accurate enough to search with (the refinement uses central ones)."""
        step = _GRAD_STEP
        f0 = self.nll(phi)
        grad = np.zeros(self.k)
        for j in range(self.k):
            e = np.zeros(self.k)
            e[j] = step
            grad[j] = (self.nll(phi + e) - f0) / step
        return f0 / self.n, grad / self.n

    def nll_grad(self, phi):
        # A simulated likelihood is smooth only on scales above its Monte Carlo jumps: such
        # models ask for a wider difference step.
        step = _GRAD_STEP
        f0 = self.nll(phi)
        grad = np.zeros(self.k)
        for j in range(self.k):
            e = np.zeros(self.k)
            e[j] = step
            grad[j] = (self.nll(phi + e) - self.nll(phi - e)) / (2 * step)
        return f0 / self.n, grad / self.n

    def local_quadratic(self, theta):
        """Value, gradient and Hessian of the negative log-likelihood in natural parameters, by
        central differences on one stencil (the gradient reuses the Hessian's diagonal points):
        1 + 2k + 2k(k-1) evaluations."""
        k = self.k
        rel = getattr(self.model, "hessian_step", 1e-3)
        h = np.array([rel * max(abs(x), 0.1) for x in theta])
        for j in range(k):
            # keep the stencil inside the domain (t0 below the fastest RT, windows >= 0)
            room = min(theta[j] - self.decl[j].low, self.upper_nat[j] - theta[j])
            if room > 0:
                h[j] = min(h[j], 0.5 * room)
        f0 = self.nll_theta(theta)
        g = np.empty(k)
        H = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                def f(di, dj, i=i, j=j):
                    t = theta.copy()
                    t[i] += di * h[i]
                    t[j] += dj * h[j]
                    return self.nll_theta(t)

                if i == j:
                    up, down = f(1, 0), f(-1, 0)
                    g[i] = (up - down) / (2 * h[i])
                    H[i, i] = (up - 2 * f0 + down) / h[i] ** 2
                else:
                    H[i, j] = H[j, i] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (
                        4 * h[i] * h[j])
        return f0, g, H

    def hessian(self, theta):
        """Finite-difference Hessian of the negative log-likelihood in natural parameters."""
        return self.local_quadratic(theta)[2]

    def _directional_curvature(self, theta, f0, u, room, design, rise, doublings):
        """Curvature of the negative log-likelihood along ``u`` (per unit step squared) from a
        five-point parabola whose step doubles until its rise stands clear of its residual
        ripple; ``(curvature, True)``, or ``(nan, False)`` where it never does."""
        scale = 1.0
        for _ in range(doublings + 1):
            if np.any(2.0 * scale * np.abs(u) > 0.5 * np.maximum(room, 0.0)):
                break  # the stencil would leave the parameters' domain
            values = [self.nll_theta(theta + kk * scale * u) for kk in (-2.0, -1.0, 1.0, 2.0)]
            y = np.array([values[0], values[1], f0, values[2], values[3]])
            coef, *_ = np.linalg.lstsq(design, y, rcond=None)
            resid = y - design @ coef
            ripple = math.sqrt(float(resid @ resid) / 2.0)
            if coef[2] > 0 and 4.0 * coef[2] >= rise * ripple:
                return 2.0 * coef[2] / scale ** 2, True
            scale *= 2.0
        return math.nan, False

    def simulated_quadratic(self, theta, rise=10.0, doublings=6):
        """Value, gradient and Hessian of a simulated negative log-likelihood, each axis's step
        widened until the likelihood's rise across it stands clear of the Monte Carlo ripples.

        Along axis j the likelihood is evaluated at ``theta + k h_j e_j``, k = -2 ... 2; a
        parabola fitted to the five values gives the curvature, and its residuals the ripple
        amplitude. While the parabola's rise at k = +-2 is under ``rise`` times that amplitude,
        ``h_j`` doubles (as long as the stencil fits in the parameter's domain). The same test
        is then applied to every eigen-direction of the Hessian scaled by the steps, which
        catches ridges along combinations of parameters.

        Returns
        -------
        f0, g, H : float, ndarray (k,), ndarray (k, k)
        unidentified : ndarray of bool, shape (k,)
            Parameters whose axis, or a flat direction they take part in, never rose clear of
            the ripples: their standard errors cannot be estimated.
        """
        k = self.k
        rel = getattr(self.model, "hessian_step", 1e-3)
        f0 = self.nll_theta(theta)
        h = np.array([rel * max(abs(x), 0.1) for x in theta])
        room = np.array([min(theta[j] - self.decl[j].low, self.upper_nat[j] - theta[j])
                         for j in range(k)])
        ks = np.array([-2.0, -1.0, 1.0, 2.0])
        design = np.column_stack([np.ones(5), np.arange(-2.0, 3.0), np.arange(-2.0, 3.0) ** 2])
        g = np.empty(k)
        H = np.empty((k, k))
        ripple = np.zeros(k)
        flat = np.zeros(k, bool)
        for j in range(k):
            h[j] = min(h[j], 0.25 * room[j]) if room[j] > 0 else h[j]
            for attempt in range(doublings + 1):
                values = []
                for kk in ks:
                    t = theta.copy()
                    t[j] += kk * h[j]
                    values.append(self.nll_theta(t))
                y = np.array([values[0], values[1], f0, values[2], values[3]])
                coef, *_ = np.linalg.lstsq(design, y, rcond=None)
                resid = y - design @ coef
                ripple[j] = math.sqrt(float(resid @ resid) / 2.0)
                clear = 4.0 * coef[2] >= rise * ripple[j] and coef[2] > 0
                if clear or attempt == doublings or 2.0 * h[j] > 0.25 * room[j]:
                    break
                h[j] *= 2.0
            flat[j] = not clear
            g[j] = coef[1] / h[j]
            H[j, j] = 2.0 * coef[2] / h[j] ** 2
        for i in range(k):
            for j in range(i + 1, k):
                def f(di, dj, i=i, j=j):
                    t = theta.copy()
                    t[i] += di * h[i]
                    t[j] += dj * h[j]
                    return self.nll_theta(t)

                H[i, j] = H[j, i] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (
                    4 * h[i] * h[j])
        # Ridges: along a combination of parameters the rise across the axis steps can be
        # lost in the ripples although every axis alone stands clear. Each such eigen-direction
        # of the step-scaled Hessian gets its own widening stencil; its curvature replaces the
        # eigenvalue, or, if it never rises clear, the parameters with weight in it are flagged.
        if np.all(np.isfinite(H)):
            scaled = H * np.outer(h, h)
            eig, vec = np.linalg.eigh(scaled)
            noise = float(np.max(ripple))
            changed = False
            for m in range(k):
                if 2.0 * eig[m] >= rise * noise:
                    continue
                u = vec[:, m] * h  # one unit along the direction, in parameters
                lam, ok = self._directional_curvature(theta, f0, u, room, design, rise,
                                                      doublings)
                if ok:
                    eig[m] = lam
                    changed = True
                else:
                    flat |= np.abs(vec[:, m]) > 0.3
            if changed:
                scaled = (vec * eig) @ vec.T
                H = scaled / np.outer(h, h)
        return f0, g, H, flat

    # -- what DDMResults reads ------------------------------------------------------------------
    def cells(self):
        return list(zip(self.cell_labels, self.cell_index, strict=True))


def _fit_model_unit(pl):
    """Fit one unit (one subject, or the pooled data); runs in worker processes too."""
    from scipy.optimize import minimize

    t_start = time.perf_counter()
    prob = _ModelProblem(pl)
    rng = np.random.default_rng(np.random.SeedSequence(list(pl.seed)))
    theta0 = prob.start_theta()
    start = pl.extra.get("start")
    if start:  # a refit continued from a known point (profile likelihoods)
        theta0 = np.array([start.get(n, x) for n, x in zip(prob.names, theta0, strict=True)])
    # A numerical likelihood costs less on a coarser grid: the starts search at a tenth of the
    # accuracy, and only the best of them is polished at the accuracy asked for.
    target = pl.accuracy or getattr(prob.model, "default_accuracy", None)
    coarse = None if target is None else max(10 * target, 1e-3)
    prob.prepare_grid(theta0, coarse)
    phi0 = prob.to_phi(theta0)
    box = [(-PHI_BOX, PHI_BOX)] * prob.k
    runs = []
    # A simulated likelihood is smooth only above the scale of its Monte Carlo jumps, where
    # quasi-Newton line searches stall; the simplex search needs no gradient.
    simulated = getattr(prob.model, "optimizer", "lbfgs") == "nelder-mead"
    for s in range(max(1, pl.starts)):
        x0 = phi0 if s == 0 else np.clip(phi0 + rng.normal(0.0, 0.4, prob.k), -PHI_BOX,
                                         PHI_BOX)
        if simulated:
            r = model_search.simplex(prob, x0, box)
        else:
            # loose tolerances: the Newton steps of the refinement finish the job
            r = minimize(prob.nll_grad_forward, x0, jac=True, method="L-BFGS-B", bounds=box,
                         options={"maxiter": 500, "ftol": 1e-9, "gtol": 1e-5})
        runs.append(r)
        best = sorted(float(q.fun) for q in runs if np.isfinite(q.fun))
        # two starts at the same optimum (to the grid's resolution): the search is done
        if len(best) >= 2 and abs(best[0] - best[1]) * prob.n < 1e-2:
            break
    r = min(runs, key=lambda q: q.fun if np.isfinite(q.fun) else np.inf)
    unidentified = np.zeros(prob.k, bool)
    if simulated:
        theta = prob.to_natural(r.x)
        nll, _, H, unidentified = prob.simulated_quadratic(theta)
        converged = math.isfinite(nll) and bool(r.success)
        messages = [] if converged else [f"optimiser stopped without converging ({r.message})"]
        if unidentified.any():
            names = ", ".join(n for n, u in zip(prob.names, unidentified, strict=True) if u)
            messages.append(f"{names}: the simulated likelihood is flat within its Monte Carlo "
                            "ripples along these parameters (not identified by these data, or "
                            "trading off against each other): their standard errors are NaN "
                            "and the others' are conditional on them; fix one of them or raise "
                            "n_sim")
    else:
        theta, nll, H, converged, messages, unidentified = model_search.refine(
            prob, r, box, target, coarse)
    cov = np.full((prob.k, prob.k), np.nan)
    keep = ~unidentified
    if keep.any() and np.all(np.isfinite(H)):
        sub = H[np.ix_(keep, keep)]
        try:
            eig = np.linalg.eigvalsh(sub)
            if eig.min() > 1e-10 * max(eig.max(), 1.0):
                cov[np.ix_(keep, keep)] = np.linalg.inv(sub)
            else:
                messages.append("observed information not positive definite (a parameter at "
                                "its bound or not identified): standard errors set to NaN")
        except np.linalg.LinAlgError:
            pass
    starts_llf = [-float(q.fun) * prob.n for q in runs]
    res = ModelResults(prob, theta, cov, -nll, converged, messages, "mle", starts_llf,
                       time.perf_counter() - t_start)
    return res


class ModelResults(DDMResults):
    """The result of fitting a generalized decision model to one data set.

    Same interface as :class:`sdekit.ddm.DDMResults` (``params``, ``bse``, ``conf_int()``,
    ``llf``, ``aic``, ``bic``, ``summary()``, ``plot()``); ``cell_params()`` lists the model's
    parameters and conditions in each condition cell.
    """

    def __init__(self, prob, *args):
        super().__init__(prob, *args)
        self.model = prob.model.name
        self.decision_model = prob.model
        self.evaluations = prob.evaluations

    def _profiler(self, name):
        prob = self._prob
        refusal = profile_refusal(prob.model)
        if refusal:
            raise NotImplementedError(refusal)
        j = list(self.params.index).index(name)
        cache = self.__dict__.setdefault("_profiles", {})
        if name not in cache:
            cache[name] = _ModelProfile(prob, self.params.to_numpy(), -self.llf, j)
        return cache[name]

    def cell_params(self):
        prob = self._prob
        rows = {}
        theta = self.params.to_numpy()
        for c, label in enumerate(prob.cell_labels):
            row = prob.cell_values(theta, c)
            row.update(prob.cell_conditions(c))
            rows[label] = row
        return pd.DataFrame.from_dict(rows, orient="index")

    def model_curves(self, pars, grid):
        """Defective densities, CDFs and response probabilities on ``grid`` (for the plots)."""
        prob = self._prob
        model = prob.model
        values = {n: float(pars[n]) for n in model.param_names if n in pars}
        conds = {c: float(pars[c]) for c in model.conditions}
        return model.curves(values, conds, grid, self.p_outlier or 0.0,
                            (prob.rt_min, prob.rt_max))

    def __repr__(self):
        body = ", ".join(f"{k}={v:.3g}" for k, v in self.params.items())
        return f"<ModelResults {self.model} llf={self.llf:.2f}: {body}>"


def is_decision_model(obj):
    """Whether ``obj`` is a model this module fits (a DecisionModel or SimulationModel)."""
    from sdekit.ddm.generalized import DecisionModel
    from sdekit.ddm.simulation_model import SimulationModel

    return isinstance(obj, (DecisionModel, SimulationModel))


def _spec(model, free, fixed, depends_on, p_outlier, columns):
    names = model.param_names
    fixed = dict(fixed or {})
    depends_on = dict(depends_on or {})
    for arg, keys in (("fixed", fixed), ("depends_on", depends_on),
                      ("free", [] if free is None else list(free))):
        bad = [k for k in keys if k not in names]
        if bad:
            raise ValueError(f"unknown parameter(s) {bad} in {arg}; this model's parameters "
                             f"are {', '.join(names)}")
    for name, value in fixed.items():
        try:
            model.declaration(name).check(np.asarray(float(value)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"fixed {name}: {exc}") from None
        fixed[name] = float(value)
    if free is None:
        free = [n for n in names if n not in fixed]
    else:
        both = sorted(set(free) & set(fixed))
        if both:
            raise ValueError(f"{both} are both free and fixed; give each parameter once")
        for n in names:
            if n not in free and n not in fixed:
                default = model.declaration(n).default
                if default is None:
                    raise ValueError(f"{n} is neither free nor fixed and has no default: add "
                                     f"it to free or give fixed={{'{n}': value}}")
                fixed[n] = default
    deps = {}
    for name, spec in depends_on.items():
        if name not in free:
            raise ValueError(f"depends_on names {name!r}, which is not free")
        if isinstance(spec, str) and any(ch in spec for ch in "+~()*:"):
            raise ValueError(
                f"formulas are not supported for generalized models; make the component read "
                f"the covariate instead (e.g. Drift.scaled_by('coherence')) or give "
                f"depends_on={{'{name}': column}}")
        cols = [spec] if isinstance(spec, str) else list(spec)
        check_columns(name, spec, cols, columns)
        deps[name] = cols
    for c in model.conditions:
        if c not in columns:
            raise ValueError(f"the model reads condition {c!r}, which is not a column of the "
                             f"data (columns: {', '.join(map(str, columns))})")
    p_outlier = check_p_outlier(p_outlier)
    return {"model": model.name, "free": [n for n in names if n in free], "fixed": fixed,
            "deps": deps, "p_outlier": p_outlier}


def fit_model(data, model, free=None, fixed=None, depends_on=None, by=None, p_outlier=None,
              starts=2, seed=0, progress=True, n_jobs=None, scheduler=None, min_trials=10,
              accuracy=None):
    """Fit a :class:`DecisionModel` or :class:`SimulationModel`; see :func:`sdekit.ddm.fit`."""
    starts = int(starts)
    if starts < 1:
        raise ValueError(f"starts must be >= 1, got {starts}")
    if isinstance(data, pd.DataFrame):
        columns = list(data.columns)
    else:
        data = runner.load_data(data, None, min_trials, None)
        columns = list(data.columns)
    spec = _spec(model, free, fixed, depends_on, p_outlier, columns)
    factor_cols = sorted({c for cols in spec["deps"].values() for c in cols})
    if by is not None and by not in columns:
        raise ValueError(f"by={by!r} is not a column of the data (columns: "
                         f"{', '.join(map(str, columns))})")
    df = runner.load_data(data, factor_cols, min_trials, None)
    for c in model.conditions:
        values = pd.to_numeric(df[c], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ValueError(f"condition column {c!r} must be numeric (the model computes with "
                             f"it); row {row} holds {df[c].iloc[row]!r}")
    if "t0" in spec["fixed"] and spec["p_outlier"] is None:
        from sdekit.ddm.data import check_rts_against_t0

        check_rts_against_t0(df, spec["fixed"]["t0"])
    cond_cols = list(dict.fromkeys(factor_cols + list(model.conditions)))
    units = [(None, df)] if by is None else list(df.groupby(by, sort=True))
    n_free = len(spec["free"]) + (spec["p_outlier"] == "free")
    payloads = []
    for i, (key, sub) in enumerate(units):
        if len(sub) < max(min_trials, 2 * n_free):
            who = "the data" if key is None else f"{by} {key}"
            raise ValueError(f"{who} has {len(sub)} trials: too few to fit {n_free} parameters "
                             f"(at least {max(min_trials, 2 * n_free)} needed)")
        payloads.append(_ModelPayload(
            key=key, rt=sub["rt"].to_numpy(float), response=sub["response"].to_numpy(np.int64),
            conds={c: sub[c].to_numpy() for c in cond_cols}, model=model, spec=spec,
            starts=starts, seed=(int(seed), i), accuracy=accuracy))
    results = runner.run_tasks(payloads, progress=progress, n_jobs=n_jobs, scheduler=scheduler,
                               worker=_fit_model_unit)
    # the warnings point at the line that called sdekit.ddm.fit
    runner.warn_messages(results, by, stacklevel=5)
    if by is None:
        return results[0]
    return FitCollection([(r.key, r) for r in results], by)


def profile_refusal(model):
    """Why ``model``'s fits get no profile-likelihood intervals, or None where they do."""
    if getattr(model, "optimizer", "lbfgs") == "nelder-mead":
        return ("profile-likelihood intervals are not offered for simulated likelihoods: their "
                "Monte Carlo ripples make the refits' maxima jump; refit with the parameter in "
                "fixed= at several values (and a larger n_sim) and compare log-likelihoods")
    return None


class _ModelProfile(Profile):
    """Profile likelihood of one parameter of a Fokker-Planck decision-model fit: refits with the
    parameter fixed, exactly as ``fit(..., fixed={name: value})`` would, each started from the
    solution at the nearest value already profiled. One level of a parameter that depends on
    conditions (``v[easy]``) is held in its own cells only, the other levels staying free."""

    def __init__(self, prob, theta_hat, nll_hat, j):
        self.prob, self.j, self.nll_hat = prob, j, float(nll_hat)
        self.name = self.base = prob.names[j]
        self.hat = np.array(theta_hat, float)
        self.points = {float(theta_hat[j]): (float(nll_hat), self.hat.copy())}
        self.doubts, self.notes = {}, []
        self.evaluations = 0

    def domain(self, theta_hat):
        decl = self.prob.decl[self.j]
        closed = decl.name == "p_outlier"  # at 0: the fit without a contaminant
        return (decl.low, closed), (self.prob.upper_nat[self.j], False)

    def nll(self, value):
        value = float(value)
        if value not in self.points:
            near = min(self.points, key=lambda x: abs(x - value))
            start = self.points[near][1].copy()
            start[self.j] = value
            self.points[value] = self._search(value, start)
        return self.points[value][0]

    def _search(self, value, start):
        from dataclasses import replace

        self.evaluations += 1
        pl, names = self.prob.pl, self.prob.names
        spec = dict(pl.spec)
        extra = dict(pl.extra)
        if self.name == "p_outlier":
            spec["p_outlier"] = value if value > 0 else None
        elif self.name != self.prob.decl[self.j].name:  # one level of a condition-dependent one
            extra["hold"] = dict(extra.get("hold", {}), **{self.name: value})
        else:
            spec["free"] = [n for n in spec["free"] if n != self.name]
            spec["fixed"] = dict(spec["fixed"], **{self.name: value})
        extra["start"] = {n: float(x) for n, x in zip(names, start, strict=True)
                          if n != self.name}
        try:
            res = _fit_model_unit(replace(pl, spec=spec, starts=1, extra=extra))
        except (ValueError, FloatingPointError):
            return math.inf, start
        theta = np.array([value if n == self.name else res.params[n] for n in names])
        return (-res.llf if math.isfinite(res.llf) else math.inf), theta

"""Fit drift-diffusion models to behavioural data by maximum likelihood.

:func:`fit` estimates the simple DDM (``v, a, z, t0``) or the full DDM (``+ sv, sz, st``), any
parameter free or fixed, parameters depending on conditions (one value per level of a column) or
on covariates through a formula and the parameter's link function; per subject
(``by="subj_idx"``) or pooled; with an optional uniform contaminant (lapse) mixture.

The optimiser works in an unconstrained parametrisation (log for positive parameters, logit for
those in (0, 1), ``t0`` a logistic fraction of the fastest RT it applies to, ``sz`` a logistic
fraction of the widest window the start point allows), starts from EZ-diffusion estimates
(Wagenmakers, van der Maas & Grasman 2007) and jittered copies of them, and refines each start with
Levenberg-Marquardt steps on the per-trial analytic scores, then (for the full DDM) Newton steps
on the observed information. Standard errors come from the observed information (the Hessian of
the negative log-likelihood, by differences of the analytic gradient) in the natural
parametrisation, so ``conf_int`` gives Wald intervals for the parameters as reported.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from sdekit._io import atomic_write
from sdekit.ddm._bounds import at_lower_edge, hold_at_bounds, kkt_holds
from sdekit.ddm._fast_outliers import fast_outlier_messages
from sdekit.ddm._params import DDM_PARAMS, PARAM_NAMES
from sdekit.ddm.data import FAST_RT_FLOOR, describe_rows

__all__ = ["fit", "DDMResults", "FitCollection", "FitWarning", "SIMPLE", "FULL"]

SIMPLE = ("v", "a", "z", "t0")
FULL = PARAM_NAMES
QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
_DEFAULTS = {p.name: p.default for p in DDM_PARAMS}
_COL = {name: i + 1 for i, name in enumerate(PARAM_NAMES)}  # column in the gradient rows

# Bounds on the unconstrained coordinates: they keep a wandering start out of regions where the
# series lose accuracy (a of 1e-4, drifts of 1e3), far outside any behavioural estimate.
_PHI_BOUNDS = {
    "id": (-30.0, 30.0),
    "coef": (None, None),
    "log_a": (math.log(0.05), math.log(20.0)),
    "log_var": (math.log(1e-6), math.log(10.0)),
    "log_st": (math.log(1e-6), math.log(2.0)),
    "logit": (-14.0, 14.0),
    "frac": (-14.0, 14.0),
    # sz at most 98 % of the widest window z allows: beyond it the start point nearly touches a
    # boundary, where the full-DDM quadrature costs 100x more and the likelihood is flat anyway
    "frac_sz": (-14.0, 4.0),
}
# Largest change of any unconstrained coordinate in one optimiser step: Gauss-Newton steps on a
# poorly conditioned start can otherwise leap to the far edges of the box.
_MAX_STEP = 1.5
# Full DDM: an accepted Levenberg-Marquardt step gaining less than this (nats) hands over to
# Newton steps (see _Problem.levenberg_marquardt).
_NEWTON_SWITCH = 0.05


#: Serial work (seconds, estimated from the first fit) below which no worker processes start.
_POOL_MIN_SECONDS = 1.0
#: Fractions of the start-point window at which ``search="global"`` holds sz.
_GLOBAL_SZ_FRACTIONS = (0.3, 0.5, 0.7, 0.85)
_CHUNKS_PER_WORKER = 8


class FitWarning(UserWarning):
    """A fit that finished but whose result should not be trusted as it stands."""


# ---------------------------------------------------------------------------------------------
# Specification: which parameters are free, fixed or depend on conditions
# ---------------------------------------------------------------------------------------------


def _is_formula(text):
    return any(ch in text for ch in "+~()*:") or text.strip() == "1"


def _spec(model, free, fixed, depends_on, p_outlier, columns):
    if model not in ("simple", "full"):
        raise ValueError(f"model must be 'simple' (v, a, z, t0) or 'full' (v, a, z, t0, sv, sz, "
                         f"st), got {model!r}")
    names = SIMPLE if model == "simple" else FULL
    fixed = dict(fixed or {})
    depends_on = dict(depends_on or {})
    for arg, keys in (("fixed", fixed), ("depends_on", depends_on),
                      ("free", [] if free is None else list(free))):
        bad = [k for k in keys if k not in PARAM_NAMES]
        if bad:
            raise ValueError(f"unknown parameter(s) {bad} in {arg}; DDM parameters are "
                             f"{', '.join(PARAM_NAMES)}")
    if free is None:
        free = [n for n in names if n not in fixed]
    else:
        free = list(free)
        extra = [n for n in free if n not in names]
        if extra:
            raise ValueError(f"{extra} in free are not parameters of the {model} DDM "
                             f"({', '.join(names)}); use model='full' for sv, sz, st")
        both = sorted(set(free) & set(fixed))
        if both:
            raise ValueError(f"{both} are both free and fixed; give each parameter once")
    for name, value in fixed.items():
        p = DDM_PARAMS[PARAM_NAMES.index(name)]
        try:
            p.check(np.asarray(value, dtype=float))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"fixed {name}: {exc}") from None
        fixed[name] = float(value)
    values = {}
    for name in PARAM_NAMES:
        if name in free:
            continue
        if name in fixed:
            values[name] = fixed[name]
        elif name in names and _DEFAULTS[name] is None:
            raise ValueError(f"{name} is neither free nor fixed: add it to free or give "
                             f"fixed={{'{name}': value}}")
        else:
            values[name] = _DEFAULTS[name] if _DEFAULTS[name] is not None else 0.0
    if "sz" not in free and "z" in free and values["sz"] >= 1.0:
        raise ValueError(f"fixed sz={values['sz']} leaves no room for z")
    if "sz" not in free and "z" not in free and values["sz"] > 2 * min(values["z"],
                                                                      1 - values["z"]):
        raise ValueError("fixed sz must be <= 2*min(z, 1 - z)")
    deps = {}
    for name, spec in depends_on.items():
        if name not in free:
            raise ValueError(f"depends_on names {name!r}, which is not free (fixed parameters "
                             "take one value)")
        if name == "sz":
            raise ValueError("sz cannot depend on conditions (its range depends on z); let z "
                             "depend on them instead")
        if isinstance(spec, str) and _is_formula(spec):
            if name == "z" and "sz" in free:
                raise ValueError("a formula for z needs a fixed sz (the start-point window's "
                                 "width is bounded by each trial's z); fix sz, or give z a "
                                 "column name (depends_on={'z': 'stim'})")
            deps[name] = ("formula", spec)
            continue
        cols = [spec] if isinstance(spec, str) else list(spec)
        check_columns(name, spec, cols, columns)
        deps[name] = ("levels", cols)
    p_outlier = check_p_outlier(p_outlier)
    return {"model": model, "free": [n for n in PARAM_NAMES if n in free], "fixed": values,
            "deps": deps, "p_outlier": p_outlier}


def check_p_outlier(p_outlier):
    """``None``, ``"free"`` or a float in (0, 1) (0 means none); ValueError otherwise."""
    if p_outlier is None or p_outlier == "free":
        return p_outlier
    try:
        p_outlier = float(p_outlier)
    except (TypeError, ValueError):
        raise ValueError(f"p_outlier must be None, a number in [0, 1) or 'free', got "
                         f"{p_outlier!r}") from None
    if not 0.0 <= p_outlier < 1.0:
        raise ValueError(f"p_outlier must lie in [0, 1), got {p_outlier}")
    return None if p_outlier == 0.0 else p_outlier


def check_columns(name, spec, cols, columns):
    """ValueError naming a ``depends_on`` column the data lack, with the closest match."""
    for c in cols:
        if c not in columns:
            import difflib

            close = difflib.get_close_matches(str(c), [str(x) for x in columns], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"depends_on={{'{name}': {spec!r}}}: the data have no column "
                             f"{c!r} (columns: {', '.join(map(str, columns))}){hint}")


def _formula_columns(formula):
    import patsy

    desc = patsy.ModelDesc.from_formula(formula if "~" not in formula
                                        else formula.split("~", 1)[1])
    cols = set()
    for term in desc.rhs_termlist:
        for factor in term.factors:
            code = factor.code
            inner = code[2:-1].split(",")[0].strip() if code.startswith("C(") else code
            cols.add(inner)
    return sorted(cols)


# ---------------------------------------------------------------------------------------------
# One fitting problem (one subject, or the pooled data)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Payload:
    key: object
    rt: np.ndarray
    response: np.ndarray
    conds: dict  # column -> values (object array), for cells and plots
    spec: dict
    method: str
    starts: int
    seed: tuple
    cond_cols: list = field(default_factory=list)
    threads: bool = False
    search: str = "local"
    #: the unit's fast outliers as (row reference, rt) pairs, and the word rows go by
    fast: tuple = ()
    row_word: str = "line"
    #: what was assumed about the data (units, coding, exclusions), from its record
    assumptions: tuple = ()


def _ez(rt, resp):
    """EZ-diffusion estimates (unit diffusion coefficient) of v, a and t0 from the upper-boundary
    proportion and the RT moments (upper-boundary RTs when there are enough)."""
    n = rt.size
    pc = resp.mean() if n else 0.5
    pc = min(max(pc, 0.5 / max(n, 1)), 1 - 0.5 / max(n, 1))
    if abs(pc - 0.5) < 0.01:
        pc = 0.51 if pc >= 0.5 else 0.49
    up = rt[resp == 1] if pc > 0.5 else rt[resp == 0]
    r = up if up.size >= 3 else rt
    vrt = float(np.var(r)) if r.size > 1 else 0.05
    mrt = float(np.mean(r)) if r.size else 0.5
    lo = float(rt.min()) if n else 0.3
    L = math.log(pc / (1 - pc))
    x = L * (L * pc * pc - L * pc + pc - 0.5) / max(vrt, 1e-6)
    v = math.copysign(abs(x) ** 0.25, pc - 0.5)
    a = L / v if v != 0 else 1.5
    y = -v * a
    mdt = (a / (2 * v)) * (1 - math.exp(y)) / (1 + math.exp(y)) if v != 0 else 0.2
    t0 = mrt - mdt
    if not all(map(math.isfinite, (v, a, t0))):
        v, a, t0 = 0.5, 1.5, 0.5 * lo
    return (float(np.clip(v, -6, 6)), float(np.clip(a, 0.3, 5.0)),
            float(np.clip(t0, 0.1 * lo, 0.9 * lo)))


class _Link:
    """The link of a formula: parameter = value(X @ coefficients).

    Each parameter keeps its domain whatever its coefficients: ``a``, ``sv`` and ``st`` are
    exponentials of their linear predictors (coefficients on the log scale), ``z`` a logistic
    one squeezed into the room a fixed ``sz`` leaves, ``v`` and ``t0`` the predictor itself
    (``t0`` stays between 0 and each trial's RT through the domain check of the fit).
    """

    def __init__(self, name, sz=0.0):
        self.kind = {"v": "identity", "t0": "identity", "a": "log", "sv": "log", "st": "log",
                     "z": "logit"}[name]
        self.lo, self.width = 0.5 * sz, 1.0 - sz

    def value(self, eta):
        if self.kind == "identity":
            return eta
        if self.kind == "log":
            return np.exp(eta)
        return self.lo + self.width * expit(eta)

    def slope(self, eta):
        """d value / d eta."""
        if self.kind == "identity":
            return np.ones_like(eta)
        if self.kind == "log":
            return np.exp(eta)
        e = expit(eta)
        return self.width * e * (1.0 - e)

    def inverse(self, value):
        if self.kind == "identity":
            return value
        if self.kind == "log":
            return math.log(value)
        p = (value - self.lo) / self.width
        return math.log(p / (1.0 - p))


class _Problem:
    """Parameter slots, their transforms and the log-likelihood of one unit's trials."""

    def __init__(self, pl: _Payload):
        self.pl = pl
        spec = pl.spec
        self.rt = np.ascontiguousarray(pl.rt, dtype=np.float64)
        self.resp = np.ascontiguousarray(pl.response, dtype=np.int64)
        n = self.n = self.rt.size
        self.rt_min, self.rt_max = float(self.rt.min()), float(self.rt.max())
        self.names, self.base, self.kind, self.hi, self.lo_nat = [], [], [], [], []
        self.entries = {}
        self.touch = []  # trial masks touched by each slot (for starting values and t0 bounds)
        po = spec["p_outlier"]
        for name in PARAM_NAMES:
            if name not in spec["free"]:
                self.entries[name] = ("fixed", np.array([spec["fixed"][name]]))
                continue
            dep = spec["deps"].get(name)
            if dep is None:
                self.entries[name] = ("shared", self._slot(name, name, np.ones(n, bool)))
            elif dep[0] == "levels":
                cols = dep[1]
                keys = list(zip(*(pl.conds[c] for c in cols), strict=True))
                labels = sorted(set(keys), key=lambda k: tuple(map(str, k)))
                index = {k: i for i, k in enumerate(labels)}
                codes = np.array([index[k] for k in keys], dtype=np.int64)
                slots = np.array([
                    self._slot(f"{name}[{'.'.join(map(str, lab))}]", name, codes == i)
                    for i, lab in enumerate(labels)])
                self.entries[name] = ("levels", slots, codes)
            else:
                import patsy

                frame = pd.DataFrame(pl.conds)
                X = patsy.dmatrix(dep[1], frame, return_type="dataframe")
                slots = np.array([self._slot(f"{name}:{c}", name, np.ones(n, bool), "coef")
                                  for c in X.columns])
                self.entries[name] = ("formula", slots, np.ascontiguousarray(X.to_numpy()),
                                      _Link(name, self.pl.spec["fixed"].get("sz", 0.0)))
        self.po_slot = None
        if po == "free":
            self.po_slot = self._slot("p_outlier", "p_outlier", np.ones(n, bool))
        self.po_fixed = po if isinstance(po, float) else None
        self.k = len(self.names)
        # contaminant: uniform over the observed RT range, each response with probability 1/2
        self.log_u = -math.log(2.0 * max(self.rt_max - self.rt_min, 1e-3))
        self.g = np.empty((n, 8))
        self.arange = np.arange(n)
        from sdekit.ddm._optimize import FIT_TOL

        self.tol = FIT_TOL
        self.expensive = any(self.entries[nm][0] != "fixed" or self.entries[nm][1][0] != 0
                             for nm in ("sv", "sz", "st"))
        for j, (b, mask) in enumerate(zip(self.base, self.touch, strict=True)):
            if b == "t0" and self.kind[j] != "coef":
                # Without contaminants t0 must stay below every RT it applies to; with them a
                # fast lapse may lie below t0, so only the slowest RT bounds it.
                self.hi[j] = (float(self.rt[mask].min()) if po is None
                              else float(self.rt[mask].max()))
        self.z_slots = [j for j, b in enumerate(self.base) if b == "z" and self.kind[j] != "coef"]
        self.sz_slot = next((j for j, b in enumerate(self.base) if b == "sz"), None)
        # (theta, nll, observed information) of the best optimum reached by a start so far, and
        # the observed information at the end of the last Newton phase
        self.best = None
        self.last_hessian = None
        # a slot the optimiser leaves where it is (profile likelihood of a condition's slot)
        self.held = None
        box = self.phi_bounds()
        self.lo = np.array([-np.inf if b[0] is None else b[0] for b in box])
        self.hi_phi = np.array([np.inf if b[1] is None else b[1] for b in box])

    def _slot(self, name, base, mask, kind=None):
        """A free parameter; ``kind`` "coef" marks a formula coefficient (unbounded, on the
        scale of the parameter's link function)."""
        kind = kind or {"v": "id", "a": "log_a", "sv": "log_var", "st": "log_st", "z": "logit",
                        "p_outlier": "logit", "t0": "frac", "sz": "frac_sz"}[base]
        self.names.append(name)
        self.base.append(base)
        self.kind.append(kind)
        self.hi.append(1.0)
        # A fixed start-point window keeps z inside (sz/2, 1 - sz/2).
        sz = self.pl.spec["fixed"].get("sz", 0.0) if base == "z" else 0.0
        self.lo_nat.append(0.5 * sz)
        if base == "z":
            self.hi[-1] = 1.0 - 0.5 * sz
        self.touch.append(mask)
        return len(self.names) - 1

    # -- transforms ---------------------------------------------------------------------------

    def _sz_max(self, theta):
        if self.z_slots:
            zs = theta[self.z_slots]
        else:
            zs = np.array([self.pl.spec["fixed"]["z"]])
        m = np.minimum(zs, 1 - zs)
        i = int(np.argmin(m))
        return 2.0 * m[i] * (1 - 1e-9), i, zs

    def to_natural(self, phi):
        """theta(phi) and the Jacobian d theta / d phi."""
        k = self.k
        theta = np.empty(k)
        J = np.zeros((k, k))
        for j in range(k):
            kind, x = self.kind[j], phi[j]
            if kind in ("id", "coef"):
                theta[j], J[j, j] = x, 1.0
            elif kind in ("log_a", "log_var", "log_st"):
                theta[j] = J[j, j] = math.exp(x)
            elif kind == "logit" or (kind == "frac" and self.base[j] == "t0"):
                s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
                width = self.hi[j] - self.lo_nat[j]
                theta[j] = self.lo_nat[j] + width * s
                J[j, j] = width * s * (1 - s)
        if self.sz_slot is not None:
            j = self.sz_slot
            x = phi[j]
            s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
            smax, i, zs = self._sz_max(theta)
            theta[j] = smax * s
            J[j, j] = smax * s * (1 - s)
            if self.z_slots:
                J[j, :] += s * (2.0 if zs[i] < 0.5 else -2.0) * J[self.z_slots[i], :] * (1 - 1e-9)
        return theta, J

    def to_phi(self, theta):
        phi = np.empty(self.k)
        for j in range(self.k):
            kind, x = self.kind[j], theta[j]
            if kind in ("id", "coef"):
                phi[j] = x
            elif kind in ("log_a", "log_var", "log_st"):
                phi[j] = math.log(max(x, 1e-12))
            elif kind == "logit" or (kind == "frac" and self.base[j] == "t0"):
                p = (x - self.lo_nat[j]) / (self.hi[j] - self.lo_nat[j])
                p = min(max(p, 1e-6), 1 - 1e-6)
                phi[j] = math.log(p / (1 - p))
        if self.sz_slot is not None:
            smax = self._sz_max(theta)[0]
            p = min(max(theta[self.sz_slot] / smax, 1e-6), 1 - 1e-6)
            phi[self.sz_slot] = math.log(p / (1 - p))
        return np.clip(phi, self.lo, self.hi_phi)

    def phi_bounds(self):
        return [_PHI_BOUNDS[k] for k in self.kind]

    # -- likelihood ---------------------------------------------------------------------------

    def trial_params(self, theta):
        pars = []
        for name in PARAM_NAMES:
            e = self.entries[name]
            if e[0] == "fixed":
                pars.append(e[1])
            elif e[0] == "shared":
                pars.append(np.array([theta[e[1]]]))
            elif e[0] == "levels":
                pars.append(np.ascontiguousarray(theta[e[1]][e[2]]))
            else:
                pars.append(np.ascontiguousarray(e[3].value(e[2] @ theta[e[1]])))
        return pars

    def nll_grad_theta(self, theta, scores=False):
        """Negative log-likelihood and its gradient in the natural parametrisation; with
        ``scores`` also the per-trial scores (n, k), the gradients of each trial's log-density."""
        from sdekit.ddm._optimize import loglik_grad

        pars = self.trial_params(theta)
        g = loglik_grad(self.rt, self.resp, pars, self.g, self.pl.threads and self.expensive,
                        self.tol)
        logf = g[:, 0]
        grad = np.zeros(self.k)
        S = np.zeros((self.n, self.k)) if scores else None
        po = theta[self.po_slot] if self.po_slot is not None else self.po_fixed
        weights = None
        if po is not None:
            # mixture (1 - p) f + p u: each trial's DDM score weighted by its DDM share
            with np.errstate(under="ignore"):
                lf = np.logaddexp(math.log1p(-po) + logf, math.log(po) + self.log_u)
                weights = np.exp(math.log1p(-po) + logf - lf)
                total = float(lf.sum())
                if self.po_slot is not None:
                    sp = np.exp(self.log_u - lf) - np.exp(logf - lf)
                    grad[self.po_slot] = -float(sp.sum())
                    if scores:
                        S[:, self.po_slot] = sp
        else:
            total = float(logf.sum())
        if not math.isfinite(total):
            return (math.inf, grad, S) if scores else (math.inf, grad)
        for name in PARAM_NAMES:
            e = self.entries[name]
            if e[0] == "fixed":
                continue
            col = g[:, _COL[name]]
            if weights is not None:
                col = col * weights
            if e[0] == "shared":
                grad[e[1]] -= col.sum()
                if scores:
                    S[:, e[1]] = col
            elif e[0] == "levels":
                grad[e[1]] -= np.bincount(e[2], weights=col, minlength=e[1].size)
                if scores:
                    S[self.arange, e[1][e[2]]] = col
            else:
                col = col * e[3].slope(e[2] @ theta[e[1]])
                grad[e[1]] -= e[2].T @ col
                if scores:
                    S[:, e[1]] = e[2] * col[:, None]
        if scores:
            return -total, grad, S
        return -total, grad

    def levenberg_marquardt(self, phi, maxiter=300):
        """Minimise the negative log-likelihood over phi by Levenberg-Marquardt steps on the
        outer product of the per-trial scores (BHHH): one gradient evaluation per accepted step,
        and quadratic-like convergence where the model fits, since that outer product estimates
        the information.

        A later start stops as soon as it enters the quadratic neighbourhood of the best
        optimum found so far (``self.best``, with that optimum's outer product of scores or,
        for the full DDM, its observed information), where it can only end at that same
        optimum: it returns with the message ``"joined"``.

        For the full DDM (each gradient costs milliseconds there), close to an optimum the
        search hands over to Newton steps on the observed information (:meth:`newton_phase`):
        the outer product underestimates the curvature along the ``t0``-``sz`` ridge
        several-fold, so Levenberg-Marquardt steps zigzag across it.
        """
        theta, J = self.to_natural(phi)
        f, gt, S = self.nll_grad_theta(theta, scores=True)
        if not math.isfinite(f):
            return phi, f, False, "non-finite log-likelihood at the start", 1
        g, S = self._in_phi(gt, S, J)
        lam, nev, ok, msg, small = 1e-3, 1, False, "iteration limit reached", 0
        history = [f]
        newton_after = math.inf  # a failed Newton phase is retried only after further progress
        self.last_hessian = None
        for _ in range(maxiter):
            B = S.T @ S
            d = np.diag(B).copy() + 1e-12 * (1.0 + np.abs(np.diag(B)).max())
            while True:
                try:
                    step = np.linalg.solve(B + lam * np.diag(d), -g)
                except np.linalg.LinAlgError:
                    step = None
                if step is not None:
                    big = float(np.max(np.abs(step))) if step.size else 0.0
                    if big > _MAX_STEP:
                        step = step * (_MAX_STEP / big)
                    new = phi + step
                    if np.all(new >= self.lo) and np.all(new <= self.hi_phi):
                        th2, J2 = self.to_natural(new)
                        f2, g2, S2 = self.nll_grad_theta(th2, scores=True)
                        nev += 1
                        if math.isfinite(f2) and f2 <= f:
                            break
                lam *= 10.0
                if lam > 1e12:
                    return phi, f, ok, "no step decreases the objective", nev
            df_ = f - f2
            dtheta = float(np.max(np.abs(th2 - theta)))
            scores_theta = S2
            phi, theta, f, gt = new, th2, f2, g2
            g, S = self._in_phi(g2, S2, J2)
            lam = max(lam * 0.1, 1e-12)
            if self.best is not None and self._joins(theta, f):
                return phi, f, True, "joined", nev
            if self.expensive and self.held is None:
                if df_ < _NEWTON_SWITCH and f < newton_after:
                    phi2, f2, H, nn, status = self.newton_phase(theta, f, gt)
                    nev += nn
                    if status == "converged":
                        self.last_hessian = H
                    if status is not None:
                        return phi2, f2, True, status, nev
                    newton_after = f2 - _NEWTON_SWITCH
                    if f2 < f:
                        phi, theta = phi2, self.to_natural(phi2)[0]
                        f, gt, S = self.nll_grad_theta(theta, scores=True)
                        nev += 1
                        J = self.to_natural(phi)[1]
                        g, S = self._in_phi(gt, S, J)
            # Quadrature noise (relative 1e-7 per trial in the full DDM) sets a floor on what a
            # decrease can show: stop after three steps that gain less than that.
            # A variability parameter sliding to 0 (where its effect is quadratic) moves the
            # likelihood by ever smaller amounts: stop once the parameters stand still too.
            small = small + 1 if (df_ < 1e-9 * max(1.0, abs(f))
                                  or (dtheta < 1e-7 and df_ < 1e-6)) else 0
            history.append(f)
            # ten steps gaining less than 1e-4 together: a parameter creeping along a flat ridge
            stalled = len(history) > 10 and history[-11] - f < 1e-4
            if (np.max(np.abs(g)) < 1e-9 * self.n or df_ < 1e-14 * max(1.0, abs(f))
                    or small >= 3 or stalled):
                ok, msg = True, "converged"
                if not self.expensive:
                    # The outer product of the scores estimates the information at an
                    # optimum: enough to tell when a later start has joined this one.
                    self.last_hessian = scores_theta.T @ scores_theta
                break
        return phi, f, ok, msg, nev

    def _in_phi(self, gt, S, J):
        """Gradient and per-trial scores in the optimiser's coordinates; a held slot
        (:attr:`held`, for profile likelihoods) gets none, so no step moves it."""
        g, S = J.T @ gt, S @ J
        if self.held is not None:
            g[self.held] = 0.0
            S[:, self.held] = 0.0
        return g, S

    def near_zero(self, theta):
        """Mask of the sz and sv slots whose value is within 1 % of the bottom of their range
        (sz relative to the widest window z allows)."""
        mask = np.zeros(self.k, bool)
        for j, b in enumerate(self.base):
            if b == "sv":
                mask[j] = theta[j] < 1e-2
            elif b == "sz":
                mask[j] = theta[j] < 1e-2 * self._sz_max(theta)[0]
        return mask

    def lift_from_zero(self, phi):
        """phi with the sz and sv slots near 0 moved to their starting values (None if there
        are none)."""
        theta = self.to_natural(phi)[0]
        mask = self.near_zero(theta)
        if not mask.any():
            return None
        start = self.start_theta()
        theta = theta.copy()
        theta[mask] = start[mask]
        return self.to_phi(theta)

    def _joins(self, theta, f):
        """Whether a point lies in the quadratic neighbourhood of the best optimum so far: its
        objective within 0.05 of that optimum's and its distance in the optimum's observed
        information under 0.05 (about a third of a standard error in any direction)."""
        th_b, f_b, H_b = self.best
        d = theta - th_b
        return f - f_b < 0.05 and 0.5 * float(d @ H_b @ d) < 0.05

    def newton_phase(self, theta, f, g, maxiter=10):
        """Newton steps in the natural parametrisation from a point near an optimum, on the
        Hessian of the analytic gradient (:meth:`hessian`) updated by BFGS after each step.

        Natural coordinates rather than the optimiser's: a variability parameter going to 0
        enters the likelihood quadratically in itself, so smoothly, but as exp(2 phi) in its
        logarithm, where Newton's method crawls. Coordinates at a bound of the search box with
        the gradient not pointing inward stay there, steps leaving the box are projected back
        onto it, and every step is capped at ``_MAX_STEP`` in the optimiser's coordinates. A
        Hessian that is not positive definite on the free coordinates ends the phase (the outer
        search goes on).

        Once a start has reached an optimum, later starts step on that optimum's Hessian
        instead of computing their own, and stop as soon as they join it.

        Returns ``(phi, f, H, evaluations, status)``: status ``"converged"`` once the
        predicted decrease is below 1e-6 nats, ``"joined"``, or None where the phase failed.
        """
        if self.best is not None:
            return self._newton_steps(theta, f, g, self.best[2].copy(), maxiter, 0, join=True)
        from sdekit.ddm._optimize import FIT_TOL

        # At the search tolerance the quadrature's error (up to 1e-5 of each trial's density,
        # smooth in the parameters but not small) moves the optimum by more than these steps
        # resolve: the last steps run at the fitting tolerance.
        search_tol, self.tol = self.tol, min(self.tol, FIT_TOL)
        try:
            f, g = self.nll_grad_theta(theta)
            H = self.hessian(theta, g)
            return self._newton_steps(theta, f, g, H, maxiter, self.k + 1)
        finally:
            self.tol = search_tol

    def _newton_steps(self, theta, f, g, H, maxiter, nev, join=False):
        phi = self.to_phi(theta)
        inward = 1e-9 * max(1.0, abs(f))
        for _ in range(maxiter):
            if not np.all(np.isfinite(H)):
                break
            out = (((phi <= self.lo + 1e-9) & (g > -inward))
                   | ((phi >= self.hi_phi - 1e-9) & (g < inward)))
            free = ~out
            step = np.zeros(self.k)
            if free.any():
                ev, V = np.linalg.eigh(H[np.ix_(free, free)])
                if not ev.min() > 1e-10 * ev.max():
                    break  # not yet where the objective is convex: back to the outer search
                step[free] = -V @ ((V.T @ g[free]) / ev)
            pred = -0.5 * float(g @ step)
            if pred < 1e-6:
                return phi, f, H, nev, "converged"
            lam, accepted = 1.0, False
            while lam > 1e-3:
                trial = self.to_phi(theta + lam * step)
                big = float(np.max(np.abs(trial - phi)))
                if big > _MAX_STEP:
                    lam *= 0.5 * _MAX_STEP / big
                    continue
                th2 = self.to_natural(trial)[0]
                f2, g2 = self.nll_grad_theta(th2)
                nev += 1
                if math.isfinite(f2) and f2 <= f:
                    accepted = True
                    break
                lam *= 0.5
            if not accepted:
                break
            s, y = th2 - theta, g2 - g
            Hs = H @ s
            sHs, sy = float(s @ Hs), float(s @ y)
            if sHs > 0 and sy > 1e-10 * sHs:
                H = H - np.outer(Hs, Hs) / sHs + np.outer(y, y) / sy
            phi, theta, f, g = trial, th2, f2, g2
            if join and self._joins(theta, f):
                return phi, f, H, nev, "joined"
        return phi, f, H, nev, None

    def objective_boxed(self, phi):
        """The objective, refusing points outside the search box (BFGS then backtracks)."""
        if np.any(phi < self.lo) or np.any(phi > self.hi_phi):
            return 1e10, np.zeros(self.k)
        return self.objective(phi)

    def newton_polish(self, theta, nll, grad, H):
        """A few Newton steps in the natural parametrisation from the optimiser's end point:
        they take the gradient to rounding level, so the reported maximum does not depend on
        the optimiser's stopping rule."""
        for _ in range(4):
            try:
                if np.linalg.eigvalsh(H).min() <= 0:
                    break
                step = np.linalg.solve(H, grad)
            except np.linalg.LinAlgError:
                break
            lam = 1.0
            while lam > 1e-3:
                new = theta - lam * step
                if self.in_domain(new):
                    f, g = self.nll_grad_theta(new)
                    if f <= nll:
                        break
                lam *= 0.5
            else:
                break
            done = nll - f < 1e-12 * max(1.0, abs(nll))
            # Predicted decrease of this step: below 1e-8 nats it moved the estimate by about
            # 1e-4 standard errors, too little to change the Hessian in any reported digit.
            tiny = 0.5 * float(step @ (H @ step)) < 1e-8
            theta, nll, grad = new, f, g
            if self.expensive or tiny:
                # the Hessian barely moves and costs k gradients: further steps reuse it, and
                # only while the gradient is above the convergence test's threshold
                gphi = self.to_natural(self.to_phi(theta))[1].T @ grad
                if done or float(np.max(np.abs(gphi))) < 1e-6 * self.n:
                    break
                continue
            H = self.hessian(theta, grad)
            if done:
                break
        return theta, nll, grad, H

    def objective(self, phi):
        theta, J = self.to_natural(phi)
        f, g = self.nll_grad_theta(theta)
        if not math.isfinite(f) or not np.all(np.isfinite(g)):
            return 1e10, np.zeros(self.k)
        return f / self.n, (J.T @ g) / self.n

    # -- starting values ----------------------------------------------------------------------

    def start_theta(self):
        theta = np.empty(self.k)
        for j, (b, mask) in enumerate(zip(self.base, self.touch, strict=True)):
            v, a, t0 = _ez(self.rt[mask], self.resp[mask])
            theta[j] = {"v": v, "a": a, "t0": min(t0, 0.9 * self.hi[j]) if self.pl.spec[
                "p_outlier"] is None else t0, "z": 0.5, "sv": 0.5, "st": 0.05,
                "p_outlier": 0.02, "sz": 0.0}[b]
        v0, a0, t00 = _ez(self.rt, self.resp)
        first = {"v": v0, "a": a0, "z": 0.5, "sv": 0.5, "st": 0.05,
                 "t0": min(t00, 0.9 * self.rt_min) if self.pl.spec["p_outlier"] is None
                 else t00}
        for name, e in self.entries.items():
            if e[0] == "formula":
                target = e[3].inverse(first[name])
                theta[e[1]] = np.linalg.lstsq(e[2], np.full(self.n, target), rcond=None)[0]
        if self.sz_slot is not None:
            theta[self.sz_slot] = 0.2 * self._sz_max(theta)[0]
        return theta

    # -- quantile objective -------------------------------------------------------------------

    def setup_qmp(self):
        """Observed quantiles per cell and response, and the counts between them."""
        cells = self.cells()
        q_rt, q_resp, q_rep, groups = [], [], [], []
        for _label, idx in cells:
            for r in (1, 0):
                rts = np.sort(self.rt[idx][self.resp[idx] == r])
                if rts.size >= 10:
                    qs = np.quantile(rts, QUANTILES)
                    edges = np.searchsorted(rts, qs, side="right")
                    counts = np.diff(np.concatenate([[0], edges, [rts.size]]))
                else:
                    qs = np.empty(0)
                    counts = np.array([rts.size])
                start = len(q_rt)
                q_rt += list(qs)
                q_resp += [r] * qs.size
                q_rep += [idx[0]] * qs.size
                groups.append((start, qs.size, r, idx[0], counts.astype(float)))
        self.q_rt = np.array(q_rt, dtype=float)
        self.q_resp = np.array(q_resp, dtype=np.int64)
        self.q_rep = np.array(q_rep, dtype=np.int64)
        self.q_groups = groups

    def qmp_objective(self, phi):
        from sdekit.ddm import density

        theta, _ = self.to_natural(phi)
        pars = self.trial_params(theta)
        full = any(p.size > 1 or p[0] != 0 for p in pars[4:])
        per = [p if p.size == 1 else p[self.q_rep] for p in pars]
        if self.q_rt.size:
            if full:
                F = density.cdf(self.q_rt, self.q_resp, *(
                    p if p.size == 1 else p for p in per))
            else:
                from sdekit.ddm._optimize import cdf_simple

                F = cdf_simple(self.q_rt, self.q_resp, per, np.empty(self.q_rt.size))
        po = theta[self.po_slot] if self.po_slot is not None else self.po_fixed
        total = 0.0
        for start, m, r, rep, counts in self.q_groups:
            pr = [float(p[0] if p.size == 1 else p[rep]) for p in pars]
            pu = float(density.prob_upper(pr[0], pr[1], pr[2], pr[4], pr[5]))
            pres = pu if r == 1 else 1 - pu
            cdf = np.concatenate([[0.0], F[start:start + m] if m else [], [pres]])
            if po is not None:
                span = max(self.rt_max - self.rt_min, 1e-3)
                qq = np.concatenate([[self.rt_min], self.q_rt[start:start + m], [self.rt_max]])
                cdf = (1 - po) * cdf + po * 0.5 * (qq - self.rt_min) / span
            p = np.maximum(np.diff(cdf), 1e-300)
            total -= float(counts @ np.log(p))
        return total / self.n

    def cells(self):
        """(label, trial indices) for each combination of the condition columns used."""
        cols = self.pl.cond_cols
        if not cols:
            return [("all", np.arange(self.n))]
        keys = list(zip(*(self.pl.conds[c] for c in cols), strict=True))
        out = {}
        for i, k in enumerate(keys):
            out.setdefault(k, []).append(i)
        labels = sorted(out, key=lambda k: tuple(map(str, k)))
        return [(", ".join(f"{c}={x}" for c, x in zip(cols, lab, strict=True)),
                 np.array(out[lab])) for lab in labels]

    # -- observed information -----------------------------------------------------------------

    def in_domain(self, theta):
        t0 = self.entries["t0"]
        if t0[0] == "formula":
            values = t0[3].value(t0[2] @ theta[t0[1]])
            if not np.all(values >= 0) or (self.pl.spec["p_outlier"] is None
                                          and not np.all(values < self.rt)):
                return False
        for j, b in enumerate(self.base):
            x = theta[j]
            if self.kind[j] == "coef":
                continue
            if b == "a" and not x > 0:
                return False
            if b in ("z", "p_outlier") and not self.lo_nat[j] < x < self.hi[j]:
                return False
            if b == "t0" and not 0 <= x < self.hi[j]:
                return False
            if b in ("sv", "st", "sz") and not x >= 0:
                return False
        if self.sz_slot is not None and theta[self.sz_slot] > self._sz_max(theta)[0]:
            return False
        return True

    def hessian(self, theta, g0=None):
        """Hessian of the negative log-likelihood in the natural parametrisation, by central
        differences of the analytic gradient (forward differences for the full DDM, whose
        gradient costs tens of milliseconds per 500 trials, and at a boundary)."""
        k = self.k
        H = np.empty((k, k))
        forward = self.expensive
        if forward and g0 is None:
            g0 = self.nll_grad_theta(theta)[1]
        for j in range(k):
            h = 1e-5 * max(abs(theta[j]), 0.05)
            if self.base[j] == "t0" and self.kind[j] != "coef":
                h = min(h, 0.25 * (self.hi[j] - theta[j]))
            up, dn = theta.copy(), theta.copy()
            up[j] += h
            dn[j] -= h
            ok_up, ok_dn = self.in_domain(up), self.in_domain(dn)
            if forward and ok_up:
                ok_dn = False
            elif forward and ok_dn:
                ok_up = False
            gu = self.nll_grad_theta(up)[1] if ok_up else None
            gd = self.nll_grad_theta(dn)[1] if ok_dn else None
            if g0 is None and not (ok_up and ok_dn):
                g0 = self.nll_grad_theta(theta)[1]
            if ok_up and ok_dn:
                H[:, j] = (gu - gd) / (2 * h)
            elif ok_up:
                H[:, j] = (gu - g0) / h
            elif ok_dn:
                H[:, j] = (g0 - gd) / h
            else:
                H[:, j] = np.nan
        return 0.5 * (H + H.T)


#: Share of the room z leaves (``sz / (2 min(z, 1 - z))``) beyond which a start-point window is
#: said to nearly touch a boundary.
_WINDOW_NEAR_BOUND = 0.95


def _window_reach(prob, theta):
    """The largest share, over trials, of the room its ``z`` leaves that the start-point window
    ``sz`` fills: 1 when the window reaches a boundary, 0 without a window."""
    pars = dict(zip(PARAM_NAMES, prob.trial_params(theta), strict=True))
    z, sz = np.broadcast_arrays(pars["z"], pars["sz"])
    if not np.any(sz > 0):
        return 0.0
    return float(np.max(sz / (2.0 * np.minimum(z, 1.0 - z))))


#: Why fits stall with a start-point window nearly touching a boundary, and what to do.
_WINDOW_CORNER = ("the decision-time density grows like 1/sqrt(t) as t -> 0, so the likelihood "
                  "bends sharply wherever t0 or t0 + st comes close to an RT and no optimiser "
                  "settles; such a maximum sits at the edge of the model, not inside it. "
                  "Compare with fits at fixed sz values (fixed={'sz': ...}) or the default "
                  "search (see 'The global maximum' in docs/fitting.md)")


def _window_message(reach):
    """Why a fit whose start-point window nearly touches a boundary may not converge."""
    return (f"the start-point window fills {100 * reach:.1f} % of the room z leaves, nearly "
            f"touching a boundary: there {_WINDOW_CORNER}")


def _lm_result(prob, x0):
    from scipy.optimize import OptimizeResult

    phi, f, ok, msg, nev = prob.levenberg_marquardt(x0)
    if prob.last_hessian is not None and (prob.best is None or f < prob.best[1]):
        prob.best = (prob.to_natural(phi)[0], f, prob.last_hessian)
    return OptimizeResult(x=phi, fun=f / prob.n, success=ok, message=msg, nfev=nev,
                          joined=msg == "joined")


def _covariance(prob, theta, H, messages, held=()):
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


#: Largest gradient component per trial (optimiser coordinates) of a profile refit that is
#: trusted though it missed the fit's convergence test.
_PROFILE_GRADIENT = 1e-3


class _Doubtful(Exception):
    """A profile refit that cannot be trusted (its message says why)."""


class _Profile:
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
    :func:`_window_message`). Otherwise the bound is NaN and :attr:`notes` says why.
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
        self.reach_hat = _window_reach(prob, self.hat)
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
        reach = _window_reach(self.prob, theta)
        if reach > _WINDOW_NEAR_BOUND >= self.reach_hat:
            return (f"the refit at {at} did not converge: it moved the start-point window to "
                    f"fill {100 * reach:.1f} % of the room z leaves, where {_WINDOW_CORNER}")
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
            sub_pl = _replace(prob.pl, spec=spec, search="local")
            if prob.k == 1:  # nothing left to fit
                return float(_Problem(sub_pl).nll_grad_theta(np.empty(0))[0]), starts[0], True
            res = _fit_unit(sub_pl, starts=[np.delete(s, j) for s in starts])
            f = -res.llf if math.isfinite(res.llf) else math.inf
            # A refit just short of the fit's convergence test (1e-5 per trial) along a flat
            # direction (sz or sv near 0) was, where checked, within 1e-5 nats of the maximum
            # a fresh fit finds: close enough to place a bound. One stalled at 1e-2 (the full
            # DDM's corner) is not.
            ok = res.converged or res._max_gradient < _PROFILE_GRADIENT
            return f, np.insert(res.params.to_numpy(), j, value), ok
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
            phi, f, ok, _msg, _nev = sub.levenberg_marquardt(phi)
            lifted = sub.lift_from_zero(phi) if sub.expensive else None
            if lifted is not None:
                # as in a fit: sz or sv at 0 has no gradient to leave it by, so one more search
                # from the window's starting value decides
                sub.best = None
                phi2, f2, ok2, _msg, _nev = sub.levenberg_marquardt(lifted)
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


def _replace(pl, **changes):
    from dataclasses import replace

    return replace(pl, **changes)


def _global_sz_search(pl, prob, r):
    """The full DDM's likelihood can have several maxima along sz, the better ones often with
    a wide start-point window (t0 and st moving with it), where the default search rarely goes.
    Fit afresh with sz held at 0.3, 0.5, 0.7 and 0.85 of the window the estimate's z allows,
    then search with sz free from the best of those fits."""
    from dataclasses import replace

    theta = prob.to_natural(r.x)[0]
    widest = prob._sz_max(theta)[0]
    best = None
    for frac in _GLOBAL_SZ_FRACTIONS:
        spec = dict(pl.spec)
        spec["free"] = [n for n in spec["free"] if n != "sz"]
        spec["fixed"] = dict(spec["fixed"], sz=frac * widest)
        held = _fit_unit(replace(pl, spec=spec, search="local"))
        if best is None or held.llf > best.llf:
            best = held
    start = np.array([best.fixed["sz"] if name == "sz" else best.params[name]
                      for name in prob.names])
    prob.best = None
    return _lm_result(prob, prob.to_phi(start))


def _fit_unit(pl: _Payload, starts=None):
    """Fit one unit; plain data in, a :class:`DDMResults` out (runs in worker processes).

    ``starts``: the optimiser's start points (natural parameters, in the order of the free
    ones) in place of the EZ start and its jittered copies (``pl.starts`` of them).
    """
    from scipy.optimize import minimize

    t_start = time.perf_counter()
    prob = _Problem(pl)
    rng = np.random.default_rng(np.random.SeedSequence(list(pl.seed)))
    lo, hi = prob.lo, prob.hi_phi
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
            x0 = np.clip(phi0 + rng.normal(0.0, 0.4, prob.k), lo, hi)
        if pl.method == "mle":
            r = _lm_result(prob, x0)
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
    r = min(runs, key=lambda q: q.fun if np.isfinite(q.fun) else np.inf)
    if pl.method == "mle" and prob.expensive:
        x0 = prob.lift_from_zero(r.x)
        if x0 is not None:
            # sz or sv near 0, where its effect on the likelihood is quadratic: the gradient
            # vanishes with it, so a search that reached it early cannot tell whether a better
            # optimum lies inside. One more start from there with it moved inward decides, run
            # to its own end (joining by proximity is too coarse where the likelihood is this
            # flat).
            prob.best = None
            runs.append(_lm_result(prob, x0))
            r = min(runs, key=lambda q: q.fun if np.isfinite(q.fun) else np.inf)
    if pl.method == "mle" and pl.search == "global" and prob.sz_slot is not None:
        runs.append(_global_sz_search(pl, prob, r))
        r = min(runs, key=lambda q: q.fun if np.isfinite(q.fun) else np.inf)
    from sdekit.ddm._optimize import FIT_TOL

    prob.tol = FIT_TOL
    theta, J = prob.to_natural(r.x)
    nll, grad = prob.nll_grad_theta(theta)
    H = prob.hessian(theta, grad)
    if pl.method == "mle":
        theta, nll, grad, H = prob.newton_polish(theta, nll, grad, H)
    grad_phi = prob.to_natural(prob.to_phi(theta))[1].T @ grad
    gnorm = float(np.max(np.abs(grad_phi))) / prob.n if prob.k else 0.0
    converged = math.isfinite(nll) and (gnorm < 1e-5 if pl.method == "mle" else bool(r.success))
    messages = []
    held = at_lower_edge(prob, theta) if pl.method == "mle" else []
    if held and not converged and math.isfinite(nll):
        theta, nll, grad, H, gnorm, converged = _constrained_maximum(
            prob, (theta, nll, grad, H, gnorm), held)
    held = [j for j in held if kkt_holds(prob, grad, [j])] if converged else []
    messages += fast_outlier_messages(prob, theta, held)
    if not converged:
        why = ("its search ended, but" if r.message == "converged" else f"{r.message};")
        messages.append(f"optimiser stopped without converging ({why} the largest gradient "
                        f"component per trial is {gnorm:.2g}, above 1e-05)")
        reach = _window_reach(prob, theta)
        if reach > _WINDOW_NEAR_BOUND:
            messages.append(_window_message(reach))
    cov = _covariance(prob, theta, H, messages, held)
    if pl.method == "qmp":
        messages = [m for m in messages if not m.startswith("observed")]
    starts_llf = [-float(q.fun) * prob.n if pl.method == "mle" else -float(q.fun)
                  for q in runs]
    res = DDMResults(prob, theta, cov, -nll, converged, messages, pl.method, starts_llf,
                     time.perf_counter() - t_start)
    res._max_gradient = gnorm
    res.at_bound = {prob.names[j]: 0.0 for j in held}
    res.fast_trials = pd.DataFrame(list(pl.fast), columns=["row", "rt"])
    res.fast_trials.attrs["row_word"] = pl.row_word
    res.assumptions = list(pl.assumptions)
    return res


def _constrained_maximum(prob, end, held):
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


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


class DDMResults:
    """The result of fitting one DDM to one data set (one subject, or pooled data).

    Mirrors statsmodels' ``GenericLikelihoodModelResults``: ``params``, ``bse``, ``cov_params()``,
    ``conf_int()``, ``llf``, ``aic``, ``bic``, ``nobs``, ``df_model``, ``summary()``. Parameters,
    standard errors and intervals are in the natural parametrisation (``a`` full boundary
    separation, ``z`` relative start, ``t0`` in seconds).

    Attributes
    ----------
    params : pandas.Series
        Estimates, named (``v``, ``a``, ``v[easy]``, ``v:coherence``, ``p_outlier`` ...).
    bse : pandas.Series
        Standard errors from the observed information (NaN for ``method="qmp"``, and where the
        information matrix is singular).
    llf : float
        Maximised log-likelihood (for ``method="qmp"``: the log-likelihood at its estimate).
    nobs : int
        Number of trials.
    converged : bool
        Whether the optimiser converged (projected gradient near zero).
    fixed : dict
        Parameters held fixed and their values.
    key : object
        The subject (or other ``by`` value); ``None`` for pooled data.
    """

    def __init__(self, prob, theta, cov, llf, converged, messages, method, starts_llf, seconds):
        self.key = prob.pl.key
        self.model = prob.pl.spec["model"]
        self.method = method
        self.params = pd.Series(theta, index=prob.names, name="estimate")
        self._cov = pd.DataFrame(cov, index=prob.names, columns=prob.names)
        if method == "qmp":
            self._cov.loc[:, :] = np.nan
        self.bse = pd.Series(np.sqrt(np.diag(self._cov.to_numpy())), index=prob.names,
                             name="se")
        self.llf = float(llf)
        self.nobs = int(prob.n)
        self.df_model = int(prob.k)
        self.k_params = int(prob.k)
        self.converged = bool(converged)
        self.messages = list(messages)
        self.fixed = {k: v for k, v in prob.pl.spec["fixed"].items()}
        if prob.po_fixed is not None:
            self.fixed["p_outlier"] = prob.po_fixed
        self.p_outlier = (float(theta[prob.po_slot]) if prob.po_slot is not None
                          else prob.po_fixed)
        self.start_llfs = list(starts_llf)
        self.fit_seconds = float(seconds)
        #: parameters whose maximum sits at a bound of their range, and that bound
        self.at_bound = {}
        #: trials flagged as fast outliers (``row`` as in data errors, ``rt`` in seconds)
        self.fast_trials = pd.DataFrame(columns=["row", "rt"])
        self.fast_trials.attrs["row_word"] = "line"
        #: what was assumed about the data on the way in (units, coding, exclusions)
        self.assumptions = []
        self._prob = prob

    # statsmodels-like statistics
    @property
    def aic(self):
        """Akaike information criterion, ``-2 llf + 2 k``."""
        return -2.0 * self.llf + 2.0 * self.k_params

    @property
    def bic(self):
        """Bayesian information criterion, ``-2 llf + k log(nobs)``."""
        return -2.0 * self.llf + math.log(self.nobs) * self.k_params

    def cov_params(self):
        """Covariance of the estimates (inverse observed information), a DataFrame."""
        return self._cov.copy()

    def conf_int(self, alpha=0.05, cols=None, method="wald"):
        """Confidence intervals, a DataFrame with columns ``lower`` and ``upper``.

        Parameters
        ----------
        alpha : float
            1 - confidence level (0.05: 95 % intervals).
        cols : list of str, optional
            Parameters to give intervals for (default all).
        method : {"wald", "profile"}
            ``"wald"``: estimate +/- z SE from the observed information (instant).
            ``"profile"``: profile-likelihood intervals, the values at which the log-likelihood
            maximised over the other parameters falls ``chi2(1).ppf(1 - alpha) / 2`` below its
            maximum. They follow the likelihood where it is far from quadratic (``sz``,
            ``st``, ``t0`` in the full DDM, any parameter near the edge of its range) and stop
            at that edge (e.g. a lower bound of exactly 0 for ``sz``); each bound costs about
            ten refits. A bound whose refits cannot be trusted (one found a higher maximum than
            the fit, or did not converge, as where a start-point window is pushed against a
            boundary) is NaN, with a :class:`FitWarning` that says why.
        """
        names = list(self.params.index) if cols is None else [cols] if isinstance(
            cols, str) else list(cols)
        unknown = [n for n in names if n not in self.params.index]
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}; estimated: "
                             f"{', '.join(self.params.index)}")
        if method == "wald":
            from scipy.stats import norm

            q = norm.ppf(1 - alpha / 2)
            p, se = self.params[names], self.bse[names]
            return pd.DataFrame({"lower": p - q * se, "upper": p + q * se})
        if method != "profile":
            raise ValueError(f"method must be 'wald' or 'profile', got {method!r}")
        rows = {n: self._profile_interval(n, alpha) for n in names}
        return pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper"])

    def _profiler(self, name):
        if self.method != "mle":
            raise ValueError("profile likelihoods need a maximum-likelihood fit "
                             "(method='mle')")
        if not hasattr(self._prob, "pl"):
            raise NotImplementedError("profile-likelihood intervals are available for the "
                                      "DDM without sv, sz and st; for other models refit with "
                                      "the parameter in fixed= at several values")
        cache = self.__dict__.setdefault("_profiles", {})
        if name not in cache:
            j = list(self.params.index).index(name)
            cache[name] = _Profile(self._prob, self.params.to_numpy(), -self.llf, j)
        return cache[name]

    def _profile_interval(self, name, alpha):
        from scipy.stats import chi2

        prof = self._profiler(name)
        target = 0.5 * float(chi2.ppf(1 - alpha, 1))
        theta, se = self.params.to_numpy(), float(self.bse[name])
        seen = len(prof.notes)
        bounds = (prof.bound(-1, target, theta, se), prof.bound(+1, target, theta, se))
        for note in prof.notes[seen:]:
            warnings.warn(note, FitWarning, stacklevel=3)
        return bounds

    def profile(self, name, values):
        """Profile log-likelihood of one parameter: the log-likelihood maximised over the
        other parameters with ``name`` held at each of ``values``.

        Returns
        -------
        pandas.Series
            Indexed by the held value; ``-inf`` where no parameters explain the data (e.g.
            ``t0`` above the fastest RT).
        """
        prof = self._profiler(name)
        vals = np.asarray(values, dtype=float).ravel()
        out = pd.Series([-prof.nll(v) for v in vals], index=pd.Index(vals, name=name),
                        name="profile llf")
        for v in dict.fromkeys(float(v) for v in vals):
            if v in prof.doubts:
                warnings.warn(f"{name}: {prof.doubts[v]}", FitWarning, stacklevel=2)
        return out

    def to_frame(self, alpha=0.05, method="wald"):
        """One row per parameter: ``parameter, estimate, se, ci_low, ci_high`` (the interval
        by ``method``, as in :meth:`conf_int`)."""
        ci = self.conf_int(alpha, method=method)
        return pd.DataFrame({"parameter": self.params.index, "estimate": self.params.values,
                             "se": self.bse.values, "ci_low": ci["lower"].values,
                             "ci_high": ci["upper"].values})

    def cell_params(self):
        """Natural DDM parameters in each condition cell, a DataFrame indexed by cell label."""
        rows = {}
        pars = self._prob.trial_params(self.params.to_numpy())
        for label, idx in self._prob.cells():
            i = idx[0]
            rows[label] = {n: float(p[0] if p.size == 1 else p[i])
                           for n, p in zip(PARAM_NAMES, pars, strict=True)}
        return pd.DataFrame.from_dict(rows, orient="index")

    def data(self):
        """The fitted trials: ``rt``, ``response``, ``cell`` (condition label)."""
        cell = np.empty(self.nobs, dtype=object)
        for label, idx in self._prob.cells():
            cell[idx] = label
        return pd.DataFrame({"rt": self._prob.rt, "response": self._prob.resp, "cell": cell})

    def summary(self, alpha=0.05, method="wald"):
        """A readable text table of the estimates and fit statistics (intervals by ``method``,
        as in :meth:`conf_int`)."""
        who = "" if self.key is None else f"  subject: {self.key}"
        how = ("maximum likelihood" if self.method == "mle"
               else "quantile maximum probability")
        lines = [f"DDM fit ({self.model} model, {how}){who}",
                 f"trials: {self.nobs}   free parameters: {self.k_params}   converged: "
                 f"{'yes' if self.converged else 'NO'}",
                 f"log-likelihood: {self.llf:.4f}   AIC: {self.aic:.3f}   BIC: {self.bic:.3f}"]
        if self.fixed:
            lines.append("fixed: " + ", ".join(f"{k}={v:g}" for k, v in self.fixed.items()))
        ci = self.conf_int(alpha, method=method)
        lvl = f"{100 * (1 - alpha):g}%" + (" profile" if method == "profile" else "")
        width = max([9] + [len(n) for n in self.params.index])
        head = f"{'parameter':<{width}}  {'estimate':>10}  {'std err':>9}  {lvl + ' CI':>23}"
        lines += ["-" * len(head), head, "-" * len(head)]
        for n in self.params.index:
            lines.append(f"{n:<{width}}  {self.params[n]:>10.4f}  {self.bse[n]:>9.4f}  "
                         f"[{ci.loc[n, 'lower']:>9.4f}, {ci.loc[n, 'upper']:>9.4f}]")
        lines.append("-" * len(head))
        if self.at_bound:
            lines.append("at a bound (a constrained maximum, no Wald interval): " + ", ".join(
                f"{n} = {b:g}" for n, b in self.at_bound.items()))
        if len(self.fast_trials):
            lines.append(f"fast RTs (below {FAST_RT_FLOOR:g} s or far below the bulk): "
                         + describe_rows(zip(self.fast_trials["row"], self.fast_trials["rt"],
                                             strict=True), self.fast_trials.attrs["row_word"]))
        lines += [f"data: {a}" for a in self.assumptions if a.startswith(("excluded", "min_rt"))]
        lines += [f"note: {m}" for m in self.messages]
        return "\n".join(lines)

    def __repr__(self):
        body = ", ".join(f"{k}={v:.3g}" for k, v in self.params.items())
        return f"<DDMResults {self.model} llf={self.llf:.2f}: {body}>"

    def plot(self, path=None, kind="both"):
        """Quantile-probability plot and RT histograms with the fitted densities (PNG).

        See :func:`sdekit.ddm.plots.plot_fit`.
        """
        from sdekit.ddm.plots import plot_fit

        return plot_fit(self, path, kind=kind)


class FitCollection:
    """Results of fitting each subject (or each level of ``by``) separately.

    Behaves like a read-only mapping from subject to :class:`DDMResults`.
    """

    def __init__(self, results, by):
        self.by = by
        self.results = dict(results)

    def __getitem__(self, key):
        return self.results[key]

    def __iter__(self):
        return iter(self.results)

    def __len__(self):
        return len(self.results)

    def keys(self):
        return self.results.keys()

    def values(self):
        return self.results.values()

    def items(self):
        return self.results.items()

    @property
    def params(self):
        """Estimates, one row per subject, one column per parameter."""
        return pd.DataFrame({k: r.params for k, r in self.results.items()}).T.rename_axis(self.by)

    @property
    def bse(self):
        return pd.DataFrame({k: r.bse for k, r in self.results.items()}).T.rename_axis(self.by)

    @property
    def llf(self):
        return float(sum(r.llf for r in self.results.values()))

    @property
    def converged(self):
        return pd.Series({k: r.converged for k, r in self.results.items()}, name="converged")

    def to_frame(self, alpha=0.05, method="wald"):
        """Tidy table: one row per subject and parameter (``estimate, se, ci_low, ci_high``,
        the interval by ``method`` as in :meth:`DDMResults.conf_int`), with the subject's
        ``converged``, ``llf`` and ``nobs``."""
        frames = []
        for k, r in self.results.items():
            f = r.to_frame(alpha, method=method)
            f.insert(0, self.by, k)
            f["converged"] = r.converged
            f["llf"] = r.llf
            f["nobs"] = r.nobs
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def to_csv(self, path, alpha=0.05, method="wald"):
        """Write :meth:`to_frame` to ``path`` atomically (no partial file on failure)."""
        write_atomic(self.to_frame(alpha, method=method), path)

    def summary(self, alpha=0.05):
        """Estimates (standard errors) per subject as a text table."""
        est, se = self.params, self.bse
        cells = est.map(lambda x: f"{x:.3f}") + " (" + se.map(
            lambda x: f"{x:.3f}" if np.isfinite(x) else "-") + ")"
        conv = self.converged
        cells["converged"] = conv.map({True: "yes", False: "NO"}).reindex(cells.index).values
        cells["llf"] = [f"{self.results[k].llf:.2f}" for k in cells.index]
        r0 = next(iter(self.results.values()))
        head = (f"DDM fits ({r0.model} model) of {len(self)} {self.by} groups, "
                f"{sum(r.nobs for r in self.values())} trials; estimate (std err)")
        text = [head, cells.to_string()]
        bad = [k for k, c in conv.items() if not c]
        if bad:
            text.append(f"not converged: {', '.join(map(str, bad))}")
        edge = [f"{k} ({', '.join(r.at_bound)})" for k, r in self.items() if r.at_bound]
        if edge:
            text.append(f"at a bound (constrained maxima): {', '.join(edge)}")
        fast = [f"{k} ({len(r.fast_trials)})" for k, r in self.items() if len(r.fast_trials)]
        if fast:
            text.append(f"fast RTs flagged (below {FAST_RT_FLOOR:g} s or far below the bulk; "
                        f"see each fit's fast_trials): {', '.join(fast)}")
        return "\n".join(text)

    def __repr__(self):
        return f"<FitCollection of {len(self)} fits by {self.by!r}>"

    def plot(self, path=None, kind="both"):
        """Plots of every fit, one row of panels per subject (see :mod:`sdekit.ddm.plots`)."""
        from sdekit.ddm.plots import plot_collection

        return plot_collection(self, path, kind=kind)


def write_atomic(frame, path):
    """Write a DataFrame as CSV to ``path``; a failure leaves no partial file."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


# ---------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------


def _load(data, cond_cols, min_trials, subject):
    from sdekit.ddm import data as ddata

    if isinstance(data, (str, os.PathLike)):
        df = ddata.read_csv(data, conditions=cond_cols or None, min_trials=min_trials)
    elif isinstance(data, pd.DataFrame):
        df = ddata.from_dataframe(data, conditions=cond_cols or None, min_trials=min_trials)
    else:
        raise TypeError(f"data must be a DataFrame or a CSV path, got {type(data).__name__}")
    return df


def _without_fast(data, min_rt, min_trials):
    """The data, read and validated, without its trials faster than ``min_rt`` (recorded)."""
    from sdekit.ddm.data import exclude_fast

    try:
        min_rt = float(min_rt)
    except (TypeError, ValueError):
        raise ValueError(f"min_rt must be a number of seconds, got {min_rt!r}") from None
    if isinstance(data, pd.DataFrame) and "sdekit" in data.attrs:
        return exclude_fast(data, min_rt)
    return exclude_fast(_load(data, None, min_trials, None), min_rt)


class _FastByUnit(list):
    """Each unit's fast outliers as (row, rt) pairs; ``word``: how the rows go by."""

    word = "line"


def _fast_by_unit(df, units, spec, by):
    """Flag each unit's fast outliers, and warn before a fit without contaminants."""
    from sdekit.ddm._fast_outliers import fast_outlier_warning
    from sdekit.ddm.data import fast_outliers
    out = _FastByUnit()
    for key, sub in units:
        mine = fast_outliers(sub)
        out.word = mine.attrs["row_word"]
        pairs = tuple(zip(mine["row"], mine["rt"].astype(float), strict=True))
        out.append(pairs)
        if pairs and spec["p_outlier"] is None:
            who = "pooled data" if key is None else f"{by} {key}"
            text = fast_outlier_warning(pairs, out.word, "t0" in spec["free"])
            warnings.warn(f"{who}: {text}", FitWarning, stacklevel=3)
    return out


def fit(data, model="simple", free=None, fixed=None, depends_on=None, by=None, p_outlier=None,
        method="mle", starts=4, seed=0, progress=True, n_jobs=None, scheduler=None,
        min_trials=10, search="local", min_rt=None):
    """Fit a drift-diffusion model to response times and choices.

    Parameters
    ----------
    data : pandas.DataFrame or path
        Trials, one per row: ``rt`` (seconds), ``response`` (1 upper, 0 lower), optionally
        ``subj_idx`` and condition columns. A path is read with :func:`sdekit.ddm.read_csv`;
        a DataFrame is validated with :func:`sdekit.ddm.from_dataframe` (same checks).
    model : {"simple", "full"}, DecisionModel or SimulationModel
        ``"simple"``: v, a, z, t0 (sv = sz = st = 0). ``"full"``: also sv, sz, st. A
        :class:`sdekit.ddm.DecisionModel` (collapsing bounds, leak, urgency, your own components;
        Fokker–Planck likelihood) or :class:`sdekit.ddm.SimulationModel` (races, competing
        accumulators, any SDE; simulated likelihood) is fitted with the same arguments; its
        parameters are those it declares.
    free : list of str, optional
        Parameters to estimate (default: all of the model's parameters not in ``fixed``). Those
        neither free nor fixed take their defaults (z = 0.5, sv = sz = st = 0).
    fixed : dict, optional
        Parameters held at a value, e.g. ``{"z": 0.5}``.
    depends_on : dict, optional
        ``{"v": "stim"}``: one ``v`` per level of column ``stim`` (named ``v[easy]`` ...); a list
        of columns crosses them. A patsy formula such as ``"1 + C(stim) + coherence"`` makes a
        parameter a function of covariates through its link (coefficients named
        ``v:Intercept``, ``v:coherence`` ...): ``v`` and ``t0`` equal the linear predictor,
        ``a``, ``sv`` and ``st`` its exponential (coefficients on the log scale), ``z`` its
        logistic function (needs ``sz`` fixed). ``sz`` takes no formula.
    by : str, optional
        Fit each level of this column (usually ``"subj_idx"``) separately; returns a
        :class:`FitCollection`. ``None`` fits all trials together.
    p_outlier : None, float or "free"
        Uniform contaminant (lapse) mixture: density ``(1 - p) f_DDM + p u`` with ``u`` uniform
        over the observed RT range, either response with probability 1/2. ``None`` (default)
        fits no contaminant, a number fixes ``p``, ``"free"`` estimates it.
    method : {"mle", "qmp"}
        Maximum likelihood (default), or quantile maximum probability on the 0.1, 0.3, 0.5,
        0.7, 0.9 RT quantiles of each response and condition (no standard errors).
    starts : int
        Maximum number of starting points: EZ-diffusion estimates, then jittered copies (with
        ``seed``). The search stops early once a second start reaches the best optimum's
        neighbourhood.
    seed : int
        Seed of the jitter; with the same seed the result does not depend on ``n_jobs`` or the
        scheduler.
    progress : bool
        Show a progress bar over subjects (on stderr).
    n_jobs : int, optional
        Worker processes for several subjects (default: all cores). 1 fits in this process.
    scheduler : None, "local", str or distributed.Client
        Run the per-subject fits as Dask tasks: ``"local"`` starts an embedded local cluster,
        any other string is a scheduler address, or pass a ``Client``.
    min_trials : int
        Minimum number of trials per subject and condition cell.
    search : {"local", "global"}
        With ``sz`` estimated, ``"global"`` also fits afresh with ``sz`` held at 0.3, 0.5, 0.7
        and 0.85 of its widest window and searches again, ``sz`` free, from the best of those:
        the full DDM's likelihood can have several maxima along ``sz``, and the default
        (``"local"``) search can stop at a lower one. It costs several times the default fit
        (5 to 10 s for 200 to 500 trials); with ``sz`` fixed it changes nothing.
    min_rt : float, optional
        Exclude trials with an RT below this many seconds before fitting (e.g. 0.1 for
        anticipatory responses); how many and which rows is recorded in the result's
        ``assumptions``. Without it nothing is excluded: RTs faster than a plausible
        non-decision time (below 0.1 s, or far below the bulk of a subject's RTs; see
        :func:`sdekit.ddm.data.fast_outliers`) are reported in a :class:`FitWarning`, in
        ``fast_trials`` and in the summary, with what they do to ``t0``.

    Returns
    -------
    DDMResults or FitCollection

    Raises
    ------
    ValueError
        Unknown parameter names, impossible fixed values, ``depends_on`` naming a missing column,
        too few trials.
    sdekit.ddm.DataError
        Invalid data, or RTs at or below a fixed ``t0`` without a contaminant.
    """
    if search not in ("local", "global"):
        raise ValueError(f"search must be 'local' or 'global', got {search!r}")
    if min_rt is not None:
        data = _without_fast(data, min_rt, min_trials)
    if not isinstance(model, str):
        if search != "local":
            raise ValueError("search='global' applies to the full DDM (sz estimated); "
                             "generalized models have their own search")
        # A generalized model (components, or simulated): same arguments, its own likelihood.
        from sdekit.ddm.fit_model import fit_model, is_decision_model

        if not is_decision_model(model):
            raise TypeError(f"model must be 'simple', 'full', a DecisionModel or a "
                            f"SimulationModel, got {type(model).__name__}")
        if method != "mle":
            raise ValueError("generalized models are fitted by maximum likelihood only "
                             "(method='mle')")
        return fit_model(data, model, free=free, fixed=fixed, depends_on=depends_on, by=by,
                         p_outlier=p_outlier, starts=starts, seed=seed, progress=progress,
                         n_jobs=n_jobs, scheduler=scheduler, min_trials=min_trials)
    if method not in ("mle", "qmp"):
        raise ValueError(f"method must be 'mle' or 'qmp', got {method!r}")
    starts = int(starts)
    if starts < 1:
        raise ValueError(f"starts must be >= 1, got {starts}")
    columns = list(data.columns) if isinstance(data, pd.DataFrame) else None
    if columns is None:
        if not isinstance(data, (str, os.PathLike)):
            raise TypeError(f"data must be a DataFrame or a CSV path, got {type(data).__name__}")
        df0 = _load(data, None, min_trials, None)
        columns = list(df0.columns)
        data = df0
    spec = _spec(model, free, fixed, depends_on, p_outlier, columns)
    cond_cols = []
    for dep in spec["deps"].values():
        cols = dep[1] if dep[0] == "levels" else _formula_columns(dep[1])
        for c in cols:
            if c not in columns:
                raise ValueError(f"depends_on formula {dep[1]!r} uses {c!r}, which is not a "
                                 f"column of the data (columns: {', '.join(map(str, columns))})")
            if c not in cond_cols:
                cond_cols.append(c)
    if by is not None and by not in columns:
        raise ValueError(f"by={by!r} is not a column of the data (columns: "
                         f"{', '.join(map(str, columns))})")
    factor_cols = [c for d in spec["deps"].values() if d[0] == "levels" for c in d[1]]
    df = _load(data, sorted(set(factor_cols)), min_trials, None)
    if "t0" not in spec["free"] and spec["p_outlier"] is None:
        from sdekit.ddm.data import check_rts_against_t0

        check_rts_against_t0(df, spec["fixed"]["t0"])
    if method == "qmp" and any(d[0] == "formula" for d in spec["deps"].values()):
        raise ValueError("method='qmp' needs conditions with enough trials for quantiles; use "
                         "depends_on with column names, not formulas")
    units = [(None, df)] if by is None else list(df.groupby(by, sort=True))
    fast = _fast_by_unit(df, units, spec, by)
    payloads = []
    n_free = len(spec["free"]) + (spec["p_outlier"] == "free")
    for i, (key, sub) in enumerate(units):
        if len(sub) < max(min_trials, 2 * n_free):
            who = "the data" if key is None else f"{by} {key}"
            raise ValueError(f"{who} has {len(sub)} trials: too few to fit {n_free} parameters "
                             f"(at least {max(min_trials, 2 * n_free)} needed)")
        conds = {c: sub[c].to_numpy() for c in cond_cols}
        payloads.append(_Payload(key=key, rt=sub["rt"].to_numpy(float),
                                 response=sub["response"].to_numpy(np.int64), conds=conds,
                                 spec=spec, method=method, starts=starts,
                                 seed=(int(seed), i), cond_cols=cond_cols, search=search,
                                 fast=fast[i], row_word=fast.word, assumptions=tuple(
                                     df.attrs.get("sdekit", {}).get("assumptions", ()))))
    results = _run(payloads, progress=progress, n_jobs=n_jobs, scheduler=scheduler)
    for r in results:
        if not r.converged or r.messages:
            who = "pooled data" if r.key is None else f"{by} {r.key}"
            for m in r.messages:
                warnings.warn(f"{who}: {m}", FitWarning, stacklevel=2)
    if by is None:
        return results[0]
    return FitCollection([(r.key, r) for r in results], by)


def _run(payloads, progress, n_jobs, scheduler, worker=None):
    """Fit every payload with ``worker`` (default :func:`_fit_unit`): here, in forked worker
    processes or as Dask tasks; results in payload order."""
    from tqdm.auto import tqdm

    worker = _fit_unit if worker is None else worker

    bar = tqdm(total=len(payloads), desc="fitting", unit="fit", file=sys.stderr,
               disable=not progress or len(payloads) < 2)
    try:
        if scheduler is not None:
            return _run_dask(payloads, scheduler, n_jobs, bar, worker)
        jobs = (os.cpu_count() or 1) if n_jobs is None else int(n_jobs)
        if jobs <= 1 or len(payloads) < 2:
            out = []
            for pl in payloads:
                pl.threads = jobs > 1
                out.append(worker(pl))
                bar.update()
            return out
        import concurrent.futures as cf
        import multiprocessing as mp

        # Processes, not threads: much of a fit is scipy's Python-level optimiser loop, which
        # holds the GIL. Forked workers inherit the compiled kernels.
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        # The first two fits run here: the first loads the compiled kernels, which the forked
        # workers then inherit instead of each loading them again, and the second tells how long
        # a fit takes.
        out = [None] * len(payloads)
        done = 0
        for pl in payloads[:2]:
            out[done] = worker(pl)
            done += 1
            bar.update()
        rest = payloads[done:]
        if out[done - 1].fit_seconds * len(rest) < _POOL_MIN_SECONDS:
            # Starting worker processes costs about a second: not worth it for quick work.
            for i, pl in enumerate(rest):
                out[done + i] = worker(pl)
                bar.update()
            return out
        workers = max(1, min(jobs, len(rest)))
        # Several fits per task: a quick fit costs little more than sending it and its result
        # between processes. Several chunks per worker keep the load balanced and the bar moving.
        size = max(1, len(rest) // (_CHUNKS_PER_WORKER * workers))
        chunks = [(done + i, rest[i:i + size]) for i in range(0, len(rest), size)]
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            futs = {ex.submit(_fit_chunk, worker, part): (first, len(part))
                    for first, part in chunks}
            for f in cf.as_completed(futs):
                first, n = futs[f]
                out[first:first + n] = f.result()
                bar.update(n)
        return out
    finally:
        bar.close()


def _fit_chunk(worker, payloads):
    return [worker(pl) for pl in payloads]


def _run_dask(payloads, scheduler, n_jobs, bar, worker):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("scheduler= needs Dask: pip install 'sdekit[dask]'") from None
    own = []
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler == "local":
        # Threads, not processes: worker processes would be spawned, which re-imports the
        # user's script (failing without a __main__ guard); the likelihood kernels release the
        # GIL. For processes, start a cluster yourself and pass its Client or address.
        cluster = LocalCluster(n_workers=1, threads_per_worker=n_jobs or os.cpu_count() or 1,
                               processes=False, dashboard_address=None)
        client = Client(cluster)
        own = [client, cluster]
    elif isinstance(scheduler, str):
        client = Client(scheduler)
        own = [client]
    else:
        raise ValueError(f"scheduler must be None, 'local', an address or a Client, got "
                         f"{scheduler!r}")
    try:
        futs = client.map(worker, payloads, pure=False)
        index = {f.key: i for i, f in enumerate(futs)}
        out = [None] * len(payloads)
        for f in as_completed(futs):
            out[index[f.key]] = f.result()
            bar.update()
        return out
    finally:
        for obj in own:
            obj.close()

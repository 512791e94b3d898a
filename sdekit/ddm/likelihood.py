"""One unit's DDM likelihood (one subject, or the pooled data): parameter slots, transforms,
the log-likelihood with its analytic gradient and per-trial scores, starts and curvature.

A :class:`FitTask` carries plain data (it travels to worker processes); a
:class:`LikelihoodProblem` built from it is what the optimisers (:mod:`sdekit.ddm.optimizers`)
and the search (:mod:`sdekit.ddm.search`) work on. The optimiser's coordinates are
unconstrained: log for positive parameters, logit for those in (0, 1), ``t0`` a logistic
fraction of the fastest RT it applies to, ``sz`` a logistic fraction of the widest window the
start point allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from sdekit.ddm._params import PARAM_NAMES

__all__ = ["FitTask", "LikelihoodProblem", "Link", "ez_estimates", "PHI_BOUNDS", "QUANTILES"]

QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
GRADIENT_COLUMN = {name: i + 1 for i, name in enumerate(PARAM_NAMES)}  # column in the kernel's rows

# Bounds on the unconstrained coordinates: they keep a wandering start out of regions where the
# series lose accuracy (a of 1e-4, drifts of 1e3), far outside any behavioural estimate.
PHI_BOUNDS = {
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


@dataclass
class FitTask:
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


def ez_estimates(rt, resp):
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


class Link:
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


class LikelihoodProblem:
    """Parameter slots, their transforms and the log-likelihood of one unit's trials."""

    def __init__(self, pl: FitTask):
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
                                      Link(name, self.pl.spec["fixed"].get("sz", 0.0)))
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

    def sz_max(self, theta):
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
            smax, i, zs = self.sz_max(theta)
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
            smax = self.sz_max(theta)[0]
            p = min(max(theta[self.sz_slot] / smax, 1e-6), 1 - 1e-6)
            phi[self.sz_slot] = math.log(p / (1 - p))
        return np.clip(phi, self.lo, self.hi_phi)

    def phi_bounds(self):
        return [PHI_BOUNDS[k] for k in self.kind]

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
            col = g[:, GRADIENT_COLUMN[name]]
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

    def near_zero(self, theta):
        """Mask of the sz and sv slots whose value is within 1 % of the bottom of their range
        (sz relative to the widest window z allows)."""
        mask = np.zeros(self.k, bool)
        for j, b in enumerate(self.base):
            if b == "sv":
                mask[j] = theta[j] < 1e-2
            elif b == "sz":
                mask[j] = theta[j] < 1e-2 * self.sz_max(theta)[0]
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

    def objective_boxed(self, phi):
        """The objective, refusing points outside the search box (BFGS then backtracks)."""
        if np.any(phi < self.lo) or np.any(phi > self.hi_phi):
            return 1e10, np.zeros(self.k)
        return self.objective(phi)

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
            v, a, t0 = ez_estimates(self.rt[mask], self.resp[mask])
            theta[j] = {"v": v, "a": a, "t0": min(t0, 0.9 * self.hi[j]) if self.pl.spec[
                "p_outlier"] is None else t0, "z": 0.5, "sv": 0.5, "st": 0.05,
                "p_outlier": 0.02, "sz": 0.0}[b]
        v0, a0, t00 = ez_estimates(self.rt, self.resp)
        first = {"v": v0, "a": a0, "z": 0.5, "sv": 0.5, "st": 0.05,
                 "t0": min(t00, 0.9 * self.rt_min) if self.pl.spec["p_outlier"] is None
                 else t00}
        for name, e in self.entries.items():
            if e[0] == "formula":
                target = e[3].inverse(first[name])
                theta[e[1]] = np.linalg.lstsq(e[2], np.full(self.n, target), rcond=None)[0]
        if self.sz_slot is not None:
            theta[self.sz_slot] = 0.2 * self.sz_max(theta)[0]
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
        if self.sz_slot is not None and theta[self.sz_slot] > self.sz_max(theta)[0]:
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

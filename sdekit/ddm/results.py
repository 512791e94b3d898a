"""What a DDM fit gives the user: :class:`DDMResults` for one unit (statsmodels-style
``params``, ``bse``, ``conf_int``, ``summary``), :class:`FitCollection` for one fit per subject,
and :func:`fit_task`, the worker that turns a search's estimate into results.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from sdekit._io import atomic_write
from sdekit.ddm._params import PARAM_NAMES
from sdekit.ddm.data import FAST_RT_FLOOR, describe_rows
from sdekit.ddm.intervals import Profile
from sdekit.ddm.search import fit_unit

__all__ = ["DDMResults", "FitCollection", "FitWarning", "fit_task", "write_atomic"]


class FitWarning(UserWarning):
    """A fit that finished but whose result should not be trusted as it stands."""


def fit_task(task):
    """Fit one :class:`~sdekit.ddm.likelihood.FitTask` and return its :class:`DDMResults`
    (the worker :func:`sdekit.ddm.runner.run_tasks` calls, in this process or another)."""
    return DDMResults.from_estimate(fit_unit(task))


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

    @classmethod
    def from_estimate(cls, est):
        """Results of a :class:`sdekit.ddm.search.UnitEstimate`, with the unit's data notes."""
        prob, pl = est.prob, est.prob.pl
        res = cls(prob, est.theta, est.cov, est.llf, est.converged, est.messages, est.method,
                  est.starts_llf, est.seconds)
        res._max_gradient = est.max_gradient
        res.at_bound = {prob.names[j]: 0.0 for j in est.held}
        res.fast_trials = pd.DataFrame(list(pl.fast), columns=["row", "rt"])
        res.fast_trials.attrs["row_word"] = pl.row_word
        res.assumptions = list(pl.assumptions)
        return res

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
            cache[name] = Profile(self._prob, self.params.to_numpy(), -self.llf, j)
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
        heading, table, notes = self._report(alpha, method)
        lvl = table.columns[2]
        width = max([9] + [len(n) for n in table.index])
        head = f"{'parameter':<{width}}  {'estimate':>10}  {'std err':>9}  {lvl:>23}"
        rows = [f"{n:<{width}}  {est:>10.4f}  {se:>9.4f}  [{lo:>9.4f}, {hi:>9.4f}]"
                for n, (est, se, _ci, lo, hi) in table.iterrows()]
        rule = "-" * len(head)
        return "\n".join(heading + [rule, head, rule] + rows + [rule] + notes)

    def _repr_html_(self):
        """The :meth:`summary` as HTML, for Jupyter: the same numbers, in a table."""
        heading, table, notes = self._report(0.05, "wald")
        shown = pd.DataFrame({
            "estimate": table["estimate"].map(lambda x: f"{x:.4f}"),
            "std err": table["std err"].map(lambda x: f"{x:.4f}"),
            table.columns[2]: [f"[{lo:.4f}, {hi:.4f}]" for lo, hi in
                               zip(table["lower"], table["upper"], strict=True)]},
            index=table.index)
        shown.index.name = "parameter"
        return _html_report(heading, shown, notes)

    def _report(self, alpha, method):
        """(heading lines, table of estimate / std err / interval, note lines): what
        :meth:`summary` and :meth:`_repr_html_` show."""
        who = "" if self.key is None else f"  subject: {self.key}"
        how = ("maximum likelihood" if self.method == "mle"
               else "quantile maximum probability")
        heading = [f"DDM fit ({self.model} model, {how}){who}",
                   f"trials: {self.nobs}   free parameters: {self.k_params}   converged: "
                   f"{'yes' if self.converged else 'NO'}",
                   f"log-likelihood: {self.llf:.4f}   AIC: {self.aic:.3f}   BIC: {self.bic:.3f}"]
        if self.fixed:
            heading.append("fixed: " + ", ".join(f"{k}={v:g}" for k, v in self.fixed.items()))
        ci = self.conf_int(alpha, method=method)
        lvl = f"{100 * (1 - alpha):g}%" + (" profile" if method == "profile" else "") + " CI"
        table = pd.DataFrame({"estimate": self.params, "std err": self.bse, lvl: np.nan,
                              "lower": ci["lower"], "upper": ci["upper"]})
        notes = []
        if self.at_bound:
            notes.append("at a bound (a constrained maximum, no Wald interval): " + ", ".join(
                f"{n} = {b:g}" for n, b in self.at_bound.items()))
        if len(self.fast_trials):
            notes.append(f"fast RTs (below {FAST_RT_FLOOR:g} s or far below the bulk): "
                         + describe_rows(zip(self.fast_trials["row"], self.fast_trials["rt"],
                                             strict=True), self.fast_trials.attrs["row_word"]))
        notes += [f"data: {a}" for a in self.assumptions if a.startswith(("excluded", "min_rt"))]
        notes += [f"note: {m}" for m in self.messages]
        return heading, table, notes

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
        heading, cells, notes = self._report()
        return "\n".join(heading + [cells.to_string()] + notes)

    def _repr_html_(self):
        """The :meth:`summary` as HTML, for Jupyter: the same numbers, in a table."""
        return _html_report(*self._report())

    def _report(self):
        """(heading lines, table of estimate (std err) per subject, note lines)."""
        est, se = self.params, self.bse
        cells = est.map(lambda x: f"{x:.3f}") + " (" + se.map(
            lambda x: f"{x:.3f}" if np.isfinite(x) else "-") + ")"
        conv = self.converged
        cells["converged"] = conv.map({True: "yes", False: "NO"}).reindex(cells.index).values
        cells["llf"] = [f"{self.results[k].llf:.2f}" for k in cells.index]
        r0 = next(iter(self.results.values()))
        heading = [f"DDM fits ({r0.model} model) of {len(self)} {self.by} groups, "
                   f"{sum(r.nobs for r in self.values())} trials; estimate (std err)"]
        notes = []
        bad = [k for k, c in conv.items() if not c]
        if bad:
            notes.append(f"not converged: {', '.join(map(str, bad))}")
        edge = [f"{k} ({', '.join(r.at_bound)})" for k, r in self.items() if r.at_bound]
        if edge:
            notes.append(f"at a bound (constrained maxima): {', '.join(edge)}")
        fast = [f"{k} ({len(r.fast_trials)})" for k, r in self.items() if len(r.fast_trials)]
        if fast:
            notes.append(f"fast RTs flagged (below {FAST_RT_FLOOR:g} s or far below the bulk; "
                         f"see each fit's fast_trials): {', '.join(fast)}")
        return heading, cells, notes

    def __repr__(self):
        return f"<FitCollection of {len(self)} fits by {self.by!r}>"

    def plot(self, path=None, kind="both"):
        """Plots of every fit, one row of panels per subject (see :mod:`sdekit.ddm.plots`)."""
        from sdekit.ddm.plots import plot_collection

        return plot_collection(self, path, kind=kind)


def _html_report(heading, table, notes):
    """Heading lines, a table and notes as one HTML fragment (text escaped)."""
    from html import escape

    head = "".join(f"<div>{escape(line)}</div>" for line in heading)
    tail = "".join(f"<div>{escape(line)}</div>" for line in notes)
    return f"<div>{head}{table.to_html(escape=True)}{tail}</div>"


def write_atomic(frame, path):
    """Write a DataFrame as CSV to ``path``; a failure leaves no partial file."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))

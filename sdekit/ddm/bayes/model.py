"""The PyMC model of a (hierarchical) DDM: parameters on link scales, subjects drawn from the
group, conditions and formulas on parameters, and sdekit's exact likelihood.

:func:`build_model` is what :func:`sdekit.ddm.bayes.sample_posterior` samples; call it yourself to
inspect the model (``pm.model_to_graphviz``) or to change it before sampling. Variable names:

* ``{p}_mu``: the group mean of parameter ``p`` on its link scale (for a parameter that is one
  value for everyone, that value); dims ``{p}_level`` when ``p`` depends on conditions.
* ``{p}_sigma``: the group spread on the link scale (hierarchical parameters).
* ``{p}_offset``: each subject's standard-normal offset; ``{p}_subj`` each subject's value.
* ``{p}``: the group's value on the natural scale, ``inverse_link({p}_mu)`` (the median subject).
* ``{p}_beta``: coefficients of a formula's terms other than the intercept (dims ``{p}_term``).
* ``rt``: the observed trials as signed response times (``+rt`` upper, ``-rt`` lower boundary).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sdekit.ddm._params import PARAM_NAMES
from sdekit.ddm.bayes.priors import GROUP_ONLY, LINKS, P_OUTLIER_PRIOR, resolve_priors
from sdekit.ddm.fit_spec import condition_columns, parse_spec

__all__ = ["build_model", "ModelLayout"]

_SUBJECT = "subj_idx"


@dataclass
class ModelLayout:
    """What :func:`build_model` built, for the results: which parameter is modelled how.

    Attributes
    ----------
    spec : dict
        The checked specification (as :func:`sdekit.ddm.fit_spec.parse_spec` returns it).
    kind : dict
        Per free parameter: ``"hierarchical"``, ``"group"`` (one value) or ``"subject"``
        (independent per subject).
    subjects : list
        Subject labels in the order of the ``subj`` dimension.
    data : pandas.DataFrame
        The trials modelled (canonical layout).
    trial_params : dict
        Symbolic per-trial natural-scale parameters (PyTensor variables), for predictives.
    group_names : list of str
        Variables of the group level shown first in summaries.
    """

    spec: dict
    kind: dict
    subjects: list
    data: pd.DataFrame
    trial_params: dict = field(default_factory=dict)
    group_names: list = field(default_factory=list)


def _inverse_link(name, eta):
    import pytensor.tensor as pt

    link = LINKS[name]
    if link == "identity":
        return eta
    if link == "log":
        return pt.exp(eta)
    return pt.sigmoid(eta)


def _level_codes(df, cols):
    keys = df[cols].astype(str).agg("|".join, axis=1) if len(cols) > 1 else df[cols[0]].astype(str)
    labels = sorted(keys.unique())
    return pd.Categorical(keys, categories=labels).codes.astype(np.int64), labels


def _design(formula, df, name):
    """The formula's design matrix on the trials: (intercept present, columns, names)."""
    import patsy

    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    try:
        mat = patsy.dmatrix(rhs, df, return_type="dataframe", NA_action="raise")
    except Exception as exc:  # patsy raises its own error types, with the formula in them
        raise ValueError(f"depends_on={{'{name}': {formula!r}}}: {exc}") from None
    names = list(mat.columns)
    has_intercept = "Intercept" in names
    rest = [c for c in names if c != "Intercept"]
    return has_intercept, mat[rest].to_numpy(dtype=np.float64), rest


class _Builder:
    """Adds one parameter at a time to the PyMC model under construction."""

    def __init__(self, model, df, subj_codes, n_subj, priors, hierarchical):
        self.model = model
        self.df = df
        self.subj = subj_codes
        self.n_subj = n_subj
        self.priors = priors
        self.hierarchical = hierarchical
        self.group_names = []

    def subject_values(self, name, dims_extra=(), shape_extra=()):
        """Link-scale values per subject (and level): hierarchical or independent."""
        import pymc as pm

        prior = self.priors[name]
        dims = (_SUBJECT, *dims_extra)
        if self.hierarchical:
            mu = pm.Normal(f"{name}_mu", prior.loc, prior.scale, dims=dims_extra or None)
            sigma = pm.HalfNormal(f"{name}_sigma", prior.spread, dims=dims_extra or None)
            offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims=dims)
            self.group_names += [name, f"{name}_sigma"]
            pm.Deterministic(name, _inverse_link(name, mu), dims=dims_extra or None)
            return mu + sigma * offset
        offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims=dims)
        return prior.loc + prior.scale * offset

    def group_value(self, name, dims_extra=()):
        import pymc as pm

        prior = self.priors[name]
        mu = pm.Normal(f"{name}_mu", prior.loc, prior.scale, dims=dims_extra or None)
        self.group_names.append(name)
        return mu

    def parameter(self, name, kind, dep):
        """The per-trial link-scale predictor of one free parameter."""
        import pymc as pm
        import pytensor.tensor as pt

        n = len(self.df)
        if dep is None or dep[0] == "levels":
            extra, codes = (), None
            if dep is not None:
                codes, labels = _level_codes(self.df, dep[1])
                self.model.add_coord(f"{name}_level", labels)
                extra = (f"{name}_level",)
            if kind == "group":
                eta = self.group_value(name, extra)
                if name != "sz":
                    pm.Deterministic(name, _inverse_link(name, eta), dims=extra or None)
                return eta if codes is None else eta[codes]
            per_subject = self.subject_values(name, extra)
            pm.Deterministic(f"{name}_subj", _inverse_link(name, per_subject),
                             dims=(_SUBJECT, *extra))
            return per_subject[self.subj] if codes is None else per_subject[self.subj, codes]
        has_intercept, x, terms = _design(dep[1], self.df, name)
        eta = pt.zeros(n)
        if has_intercept:
            eta = self.parameter(name, kind, None) + eta
        if terms:
            self.model.add_coord(f"{name}_term", terms)
            beta = pm.Normal(f"{name}_beta", 0.0, self.priors[name].coef, dims=f"{name}_term")
            self.group_names.append(f"{name}_beta")
            eta = eta + pt.dot(pt.as_tensor_variable(x), beta)
        return eta


def _parameter_kinds(spec, n_subj, hierarchical, group_only):
    kinds = {}
    for name in spec["free"]:
        if n_subj == 1 or name in group_only:
            kinds[name] = "group"
        else:
            kinds[name] = "hierarchical" if hierarchical else "subject"
    return kinds


def _check_group_only(group_only, free):
    group_only = GROUP_ONLY if group_only is None else tuple(group_only)
    bad = [p for p in group_only if p not in PARAM_NAMES]
    if bad:
        raise ValueError(f"group_only: unknown parameter(s) {bad}; DDM parameters are "
                         f"{', '.join(PARAM_NAMES)}")
    return tuple(p for p in group_only if p in free)


def _natural(names, kinds, etas, spec):
    """Per-trial natural-scale parameters, sz last (its range depends on each trial's z)."""
    import pytensor.tensor as pt

    out = {}
    for name in PARAM_NAMES:
        if name in etas and name != "sz":
            out[name] = _inverse_link(name, etas[name])
        elif name != "sz":
            out[name] = pt.as_tensor_variable(float(spec["fixed"][name]))
    if "sz" in etas:
        room = 2.0 * pt.minimum(out["z"], 1.0 - out["z"])
        out["sz"] = pt.sigmoid(etas["sz"]) * room
    else:
        out["sz"] = pt.as_tensor_variable(float(spec["fixed"]["sz"]))
    return out


def _contaminant_log_density(df, subj_codes, n_subj):
    """log of the contaminant density of each trial: uniform over its subject's RT range, each
    response with probability 1/2 (the maximum-likelihood fitter's contaminant)."""
    rt = df["rt"].to_numpy(dtype=np.float64)
    lo = np.full(n_subj, np.inf)
    hi = np.full(n_subj, -np.inf)
    np.minimum.at(lo, subj_codes, rt)
    np.maximum.at(hi, subj_codes, rt)
    span = np.maximum(hi - lo, 1e-3)
    return -np.log(2.0 * span[subj_codes])


def build_model(data, model="simple", *, free=None, fixed=None, depends_on=None, p_outlier=None,
                hierarchical=True, group_only=None, priors=None, min_trials=None):
    """Build the PyMC model of a Bayesian DDM fit (see :func:`sdekit.ddm.bayes.sample_posterior`
    for the arguments).

    Returns
    -------
    model : pymc.Model
    layout : ModelLayout
    """
    import pymc as pm
    import pytensor.tensor as pt

    from sdekit.ddm import runner
    from sdekit.ddm.data import DEFAULT_MIN_TRIALS

    if isinstance(data, pd.DataFrame) and "sdekit" in data.attrs:
        df = data
    else:
        df = runner.load_data(data, None, DEFAULT_MIN_TRIALS if min_trials is None
                              else min_trials, None)
    spec = parse_spec(model, free, fixed, depends_on, p_outlier, list(df.columns))
    condition_columns(spec, list(df.columns))
    priors = resolve_priors(priors, spec["free"])
    group_only = _check_group_only(group_only, spec["free"])
    df = df.reset_index(drop=True)
    subjects = sorted(df[_SUBJECT].unique()) if _SUBJECT in df else [0]
    subj_codes = (pd.Categorical(df[_SUBJECT], categories=subjects).codes.astype(np.int64)
                  if _SUBJECT in df else np.zeros(len(df), np.int64))
    n_subj = len(subjects)
    kinds = _parameter_kinds(spec, n_subj, hierarchical, group_only)
    rt = df["rt"].to_numpy(dtype=np.float64)
    response = df["response"].to_numpy(dtype=np.float64)
    with pm.Model(coords={_SUBJECT: [str(s) for s in subjects]}) as pm_model:
        builder = _Builder(pm_model, df, subj_codes, n_subj, priors, hierarchical)
        etas = {name: builder.parameter(name, kinds[name], spec["deps"].get(name))
                for name in spec["free"]}
        params = _natural(spec["free"], kinds, etas, spec)
        if "sz" in etas:
            z_group = pm_model["z"] if "z" in pm_model.named_vars else params["z"]
            pm.Deterministic("sz", pt.sigmoid(pm_model["sz_mu"]) * 2.0
                             * pt.minimum(z_group, 1.0 - z_group))
        _observe(df, rt, response, params, spec, subj_codes, n_subj)
    layout = ModelLayout(spec=spec, kind=kinds, subjects=subjects, data=df,
                         trial_params=params, group_names=_unique(builder.group_names))
    return pm_model, layout


def _unique(names):
    return list(dict.fromkeys(names))


def _observe(df, rt, response, params, spec, subj_codes, n_subj):
    """The observed trials' likelihood, with the contaminant mixture when asked for."""
    import pymc as pm
    import pytensor.tensor as pt

    from sdekit.ddm.bayes._op import ddm_logdensity

    po = spec["p_outlier"]
    if po == "free":
        po = pm.Beta("p_outlier", *P_OUTLIER_PRIOR)
    log_u = _contaminant_log_density(df, subj_codes, n_subj)
    order = ("v", "a", "z", "t0", "sv", "sz", "st")

    def logp(value, *theta):
        signed_rt = pt.abs(value)
        resp = pt.cast(pt.gt(value, 0.0), "float64")
        lp = ddm_logdensity(signed_rt, resp, *theta)
        # the kernel accepts any t0 below the trial's rt; the model's t0 is a time, >= 0
        lp = pt.switch(pt.lt(theta[3], 0.0), -np.inf, lp)
        if po is None:
            return lp
        return pt.logaddexp(pt.log1p(-po) + lp, pt.log(po) + log_u)

    n = len(rt)
    theta = [pt.broadcast_to(params[k], (n,)) for k in order]
    signed = np.where(response > 0, rt, -rt)
    pm.modelcontext(None).add_coord("trial", np.arange(n))
    pm.CustomDist("rt", *theta, logp=logp, observed=signed, dims="trial")

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

The work is split by concept: :mod:`~sdekit.ddm.fit_spec` (what is estimated),
:mod:`~sdekit.ddm.likelihood` (one unit's likelihood), :mod:`~sdekit.ddm.optimizers` and
:mod:`~sdekit.ddm.search` (how its maximum is found), :mod:`~sdekit.ddm.intervals` (profile
likelihoods), :mod:`~sdekit.ddm.results` (what the user gets) and :mod:`~sdekit.ddm.runner`
(data in, units run, warnings out); this module is the entry point.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from sdekit.ddm.fit_spec import FULL, SIMPLE, condition_columns, parse_spec
from sdekit.ddm.likelihood import FitTask
from sdekit.ddm.results import DDMResults, FitCollection, FitWarning
from sdekit.ddm.runner import fast_by_unit, load_data, run_tasks, warn_messages, without_fast

__all__ = ["fit", "DDMResults", "FitCollection", "FitWarning", "SIMPLE", "FULL"]


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
        data = without_fast(data, min_rt, min_trials)
    if not isinstance(model, str):
        return _fit_generalized(data, model, free=free, fixed=fixed, depends_on=depends_on,
                                by=by, p_outlier=p_outlier, method=method, starts=starts,
                                seed=seed, progress=progress, n_jobs=n_jobs,
                                scheduler=scheduler, min_trials=min_trials, search=search)
    if method not in ("mle", "qmp"):
        raise ValueError(f"method must be 'mle' or 'qmp', got {method!r}")
    starts = int(starts)
    if starts < 1:
        raise ValueError(f"starts must be >= 1, got {starts}")
    if isinstance(data, pd.DataFrame):
        columns = list(data.columns)
    elif isinstance(data, (str, os.PathLike)):
        data = load_data(data, None, min_trials, None)
        columns = list(data.columns)
    else:
        raise TypeError(f"data must be a DataFrame or a CSV path, got {type(data).__name__}")
    spec = parse_spec(model, free, fixed, depends_on, p_outlier, columns)
    cond_cols = condition_columns(spec, columns)
    if by is not None and by not in columns:
        raise ValueError(f"by={by!r} is not a column of the data (columns: "
                         f"{', '.join(map(str, columns))})")
    factor_cols = [c for d in spec["deps"].values() if d[0] == "levels" for c in d[1]]
    df = load_data(data, sorted(set(factor_cols)), min_trials, None)
    if "t0" not in spec["free"] and spec["p_outlier"] is None:
        from sdekit.ddm.data import check_rts_against_t0

        check_rts_against_t0(df, spec["fixed"]["t0"])
    if method == "qmp" and any(d[0] == "formula" for d in spec["deps"].values()):
        raise ValueError("method='qmp' needs conditions with enough trials for quantiles; use "
                         "depends_on with column names, not formulas")
    tasks = _tasks(df, spec, by, cond_cols, method=method, starts=starts, seed=seed,
                   min_trials=min_trials, search=search)
    results = run_tasks(tasks, progress=progress, n_jobs=n_jobs, scheduler=scheduler)
    warn_messages(results, by)
    if by is None:
        return results[0]
    return FitCollection([(r.key, r) for r in results], by)


def _fit_generalized(data, model, *, method, search, **options):
    """A generalized model (components, or simulated): same arguments, its own likelihood."""
    if search != "local":
        raise ValueError("search='global' applies to the full DDM (sz estimated); "
                         "generalized models have their own search")
    from sdekit.ddm.fit_model import fit_model, is_decision_model

    if not is_decision_model(model):
        raise TypeError(f"model must be 'simple', 'full', a DecisionModel or a "
                        f"SimulationModel, got {type(model).__name__}")
    if method != "mle":
        raise ValueError("generalized models are fitted by maximum likelihood only "
                         "(method='mle')")
    return fit_model(data, model, **options)


def _tasks(df, spec, by, cond_cols, *, method, starts, seed, min_trials, search):
    """One :class:`FitTask` per unit (each ``by`` level, or the pooled data), in order."""
    units = [(None, df)] if by is None else list(df.groupby(by, sort=True))
    fast = fast_by_unit(df, units, spec, by)
    assumptions = tuple(df.attrs.get("sdekit", {}).get("assumptions", ()))
    n_free = len(spec["free"]) + (spec["p_outlier"] == "free")
    tasks = []
    for i, (key, sub) in enumerate(units):
        if len(sub) < max(min_trials, 2 * n_free):
            who = "the data" if key is None else f"{by} {key}"
            raise ValueError(f"{who} has {len(sub)} trials: too few to fit {n_free} parameters "
                             f"(at least {max(min_trials, 2 * n_free)} needed)")
        tasks.append(FitTask(key=key, rt=sub["rt"].to_numpy(float),
                             response=sub["response"].to_numpy(np.int64),
                             conds={c: sub[c].to_numpy() for c in cond_cols}, spec=spec,
                             method=method, starts=starts, seed=(int(seed), i),
                             cond_cols=cond_cols, search=search, fast=fast[i],
                             row_word=fast.word, assumptions=assumptions))
    return tasks

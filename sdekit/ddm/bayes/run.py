"""Sampling a Bayesian DDM's posterior: nutpie's NUTS on the compiled model, all cores, one seed,
and nothing lost when the run is interrupted."""

from __future__ import annotations

import os
import time
import warnings

__all__ = ["sample_posterior", "SAMPLERS"]

#: ``"nutpie"`` compiles the whole log-posterior with its gradient through Numba (sdekit's kernel
#: inside it); ``"pymc"`` is PyMC's own NUTS, slower per draw, for comparison.
SAMPLERS = ("nutpie", "pymc")


def _initial_values(pm_model, layout):
    """A starting point every trial is possible at: t0 below each subject's fastest trial.

    PyMC's default start, the priors' means, puts t0 at 0.4 s, above the fastest trials of most
    data sets, where the log-likelihood is -inf and the sampler would have to find its own way in.
    """
    import numpy as np

    fastest = float(layout.data["rt"].min())
    start = {}
    names = pm_model.named_vars
    if "t0" in layout.kind:
        start["t0_mu"] = 0.5 * fastest
        if "t0_sigma" in names:
            start["t0_sigma"] = 0.01
        if layout.kind["t0"] == "subject":
            start["t0_offset"] = np.zeros(len(layout.subjects))
    return start


def _nutpie(pm_model, start, draws, tune, chains, cores, seed, progress):
    import nutpie

    compiled = nutpie.compile_pymc_model(pm_model, initial_points=start) if start else \
        nutpie.compile_pymc_model(pm_model)
    sampler = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores,
                            seed=seed, progress_bar=progress, blocking=False)
    try:
        return sampler.wait(), False
    except KeyboardInterrupt:
        return sampler.abort(), True


def _pymc(pm_model, start, draws, tune, chains, cores, seed, progress):
    import pymc as pm

    try:
        with pm_model:
            return pm.sample(draws=draws, tune=tune, chains=chains, cores=cores,
                             random_seed=seed, progressbar=progress,
                             initvals=start or None, compute_convergence_checks=False), False
    except KeyboardInterrupt:
        raise KeyboardInterrupt("sampling interrupted; PyMC's sampler keeps no partial "
                                "draws: use sampler='nutpie' to keep them") from None


def sample_posterior(data, model="simple", *, free=None, fixed=None, depends_on=None,
                     p_outlier=None, hierarchical=True, group_only=None, priors=None,
                     draws=1000, tune=1000, chains=4, cores=None, seed=0, sampler="nutpie",
                     progress=True, log_likelihood=True, min_trials=None):
    """Posterior samples of a (hierarchical) DDM fitted to response-time data.

    Each free parameter is hierarchical by default: subjects' values drawn from a group
    distribution on the parameter's link scale (see :mod:`sdekit.ddm.bayes.priors`), except
    ``sv``, ``sz`` and ``st``, which are one value for the group (``group_only``). The likelihood
    is sdekit's exact log-density with its analytic gradient.

    Parameters
    ----------
    data : str, path or pandas.DataFrame
        Trials, one per row, in any layout :func:`sdekit.ddm.read_csv` accepts (HDDM's
        ``subj_idx``/``rt``/``response`` 0-1, HSSM's ``participant_id`` and -1/1 responses...).
    model : {"simple", "full"}
        Simple DDM (v, a, z, t0) or full DDM (adds sv, sz, st).
    free, fixed, depends_on, p_outlier
        As in :func:`sdekit.ddm.fit`: ``depends_on={"v": "stim"}`` gives each level of a column
        its own group mean and spread; a formula ``{"v": "1 + theta"}`` regresses the parameter
        (on its link scale) on trial covariates, the intercept hierarchical over subjects and the
        other coefficients group-level. ``p_outlier="free"`` estimates a contaminant probability.
    hierarchical : bool
        False fits every subject independently (each subject's value gets the prior of the group
        mean), with no group level.
    group_only : sequence of str, optional
        Free parameters that take one value for all subjects (default ``("sv", "sz", "st")``).
    priors : dict, optional
        Overrides of the default priors: ``{"a": {"loc": 0.0, "spread": 0.3}}`` or
        ``{"a": Prior(...)}`` (:class:`sdekit.ddm.bayes.Prior`).
    draws, tune, chains : int
        Kept draws and tuning steps per chain, and the number of chains.
    cores : int, optional
        Chains run at once (default: all cores, at most ``chains``).
    seed : int
        Fixes the chains: the same seed gives the same draws.
    sampler : {"nutpie", "pymc"}
        nutpie's NUTS on the Numba-compiled model (default) or PyMC's NUTS.
    progress : bool
        Show the sampler's progress bar.
    log_likelihood : bool
        Store each trial's log-likelihood per draw (for LOO and WAIC).
    min_trials : int, optional
        Fewest trials a subject may have (as in :func:`sdekit.ddm.read_csv`).

    Returns
    -------
    PosteriorResults
        The draws as ArviZ ``InferenceData`` (``.idata``), summaries, diagnostics and posterior
        predictives.

    Raises
    ------
    ValueError
        Before any sampling, for a model that cannot be built: an unknown parameter or column, a
        prior on a fixed parameter, a formula for sz...
    ImportError
        When the optional Bayesian dependencies are missing (``pip install "sdekit[bayes]"``).
    """
    from sdekit.ddm.bayes.model import build_model
    from sdekit.ddm.bayes.results import PosteriorResults, interruption_warning

    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    cores = min(chains, os.cpu_count() or 1) if cores is None else int(cores)
    pm_model, layout = build_model(data, model, free=free, fixed=fixed, depends_on=depends_on,
                                   p_outlier=p_outlier, hierarchical=hierarchical,
                                   group_only=group_only, priors=priors, min_trials=min_trials)
    start = _initial_values(pm_model, layout)
    run = _nutpie if sampler == "nutpie" else _pymc
    began = time.perf_counter()
    idata, interrupted = run(pm_model, start, draws, tune, chains, cores, seed, progress)
    seconds = time.perf_counter() - began
    if interrupted:
        warnings.warn(interruption_warning(idata), RuntimeWarning, stacklevel=2)
    res = PosteriorResults(idata, pm_model, layout, sampler=sampler, seed=seed,
                           seconds=seconds, interrupted=interrupted)
    if log_likelihood and not interrupted:
        res.add_log_likelihood()
    res.warn_diagnostics(stacklevel=2)
    return res

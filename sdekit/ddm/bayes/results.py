"""What a Bayesian DDM fit returns: the draws, their summary in a tidy table, convergence
diagnostics in plain words, posterior predictives from the exact sampler, and LOO."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from sdekit.ddm.results import FitWarning

__all__ = ["PosteriorResults", "ConvergenceWarning", "interruption_warning", "R_HAT_MAX",
           "ESS_PER_CHAIN_MIN"]

#: Largest R-hat taken as converged (Vehtari et al. 2021, Bayesian Analysis 16:667).
R_HAT_MAX = 1.01
#: Fewest bulk and tail effective draws per chain before a summary is trusted (same source).
ESS_PER_CHAIN_MIN = 100

#: child_seed tag of posterior-predictive draws ("PP")
_PPC_TAG = 0x5050

_INDEX = re.compile(r"^(?P<name>[^\[]+)(\[(?P<index>.*)\])?$")


class ConvergenceWarning(FitWarning):
    """The chains did not converge or sampled the posterior poorly (see the message)."""


def interruption_warning(idata):
    kept = int(idata.posterior.sizes.get("draw", 0)) if hasattr(idata, "posterior") else 0
    return (f"sampling was interrupted: the {kept} draws per chain made so far are returned, "
            "without the log-likelihood; diagnostics on so few draws may mislead")


def _tidy(table):
    """az.summary's table with its 'name[index]' labels split into two columns."""
    parts = [_INDEX.match(str(label)) for label in table.index]
    out = table.reset_index(drop=True)
    out.insert(0, "index", [m.group("index") or "" for m in parts])
    out.insert(0, "parameter", [m.group("name") for m in parts])
    return out


class PosteriorResults:
    """Posterior draws of a Bayesian DDM fit, with its model.

    Attributes
    ----------
    idata : arviz.InferenceData
        ``posterior``, ``sample_stats``, ``observed_data`` and (unless interrupted)
        ``log_likelihood``; ``posterior_predictive`` after :meth:`posterior_predictive`.
    model : pymc.Model
        The model sampled (see :func:`sdekit.ddm.bayes.build_model` for its variable names).
    layout : sdekit.ddm.bayes.model.ModelLayout
        How each parameter was modelled, the subjects, the trials.
    sampler : str
    seed : int
        The seed the chains were drawn with.
    seconds : float
        Wall time of the sampling (compilation included).
    interrupted : bool
        True when the run was stopped early: the draws so far are kept.
    """

    def __init__(self, idata, model, layout, *, sampler, seed, seconds, interrupted=False):
        self.idata = idata
        self.model = model
        self.layout = layout
        self.sampler = sampler
        self.seed = seed
        self.seconds = seconds
        self.interrupted = interrupted
        self._trial_fn = None

    # -- tables ---------------------------------------------------------------------------------
    @property
    def group_names(self):
        """Group-level variables: natural-scale group values, spreads, coefficients."""
        return [n for n in self.layout.group_names if n in self.idata.posterior]

    @property
    def subject_names(self):
        return [f"{p}_subj" for p in self.layout.kind if f"{p}_subj" in self.idata.posterior]

    def summary(self, level="group", hdi_prob=0.94):
        """Tidy posterior summary: one row per parameter (and index).

        Parameters
        ----------
        level : {"group", "subject", "all"}
            Group-level values (``v``: the group's typical subject, ``v_sigma``: the spread on
            the link scale, ``v_beta``: coefficients), each subject's values, or both.
        hdi_prob : float
            Probability mass of the highest-density interval.

        Returns
        -------
        pandas.DataFrame
            ``parameter``, ``index`` (subject, level or term), ``mean``, ``sd``, ``hdi_low``,
            ``hdi_high``, ``mcse_mean``, ``mcse_sd``, ``ess_bulk``, ``ess_tail``, ``r_hat``.
        """
        import arviz as az

        if level not in ("group", "subject", "all"):
            raise ValueError(f"level must be 'group', 'subject' or 'all', got {level!r}")
        names = {"group": self.group_names, "subject": self.subject_names,
                 "all": self.group_names + self.subject_names}[level]
        if not names:
            return pd.DataFrame()
        table = az.summary(self.idata, var_names=names, hdi_prob=hdi_prob)
        lo, hi = [c for c in table.columns if c.startswith("hdi_")]
        table = table.rename(columns={lo: "hdi_low", hi: "hdi_high"})
        return _tidy(table)

    def diagnostics(self):
        """Divergences, the largest R-hat and the smallest effective sample sizes.

        Returns
        -------
        dict
            ``divergences``, ``draws`` (all chains), ``max_r_hat`` and ``min_ess_bulk``,
            ``min_ess_tail``, each with the variable it belongs to.
        """
        import arviz as az

        stats = self.idata.sample_stats
        div = int(np.asarray(stats["diverging"]).sum()) if "diverging" in stats else 0
        table = _tidy(az.summary(self.idata, var_names=self.group_names + self.subject_names,
                                 kind="diagnostics"))
        label = table["parameter"] + table["index"].map(lambda s: f"[{s}]" if s else "")
        out = {"divergences": div, "draws": int(stats.sizes["chain"] * stats.sizes["draw"])}
        for key, col, pick in (("max_r_hat", "r_hat", np.nanargmax),
                               ("min_ess_bulk", "ess_bulk", np.nanargmin),
                               ("min_ess_tail", "ess_tail", np.nanargmin)):
            values = table[col].to_numpy(dtype=float)
            j = int(pick(values)) if np.isfinite(values).any() else 0
            out[key] = (float(values[j]), str(label.iloc[j]))
        return out

    def diagnostic_messages(self):
        """The problems :meth:`diagnostics` finds, in words, each with what to do about it."""
        d = self.diagnostics()
        chains = int(self.idata.posterior.sizes["chain"])
        msgs = []
        if d["divergences"]:
            share = d["divergences"] / max(d["draws"], 1)
            msgs.append(
                f"{d['divergences']} of {d['draws']} draws ({share:.1%}) ended in a divergent "
                "transition: the sampler could not follow the posterior's curvature there, so "
                "the estimates may be biased. Run longer tuning (tune=2000); if the divergences "
                "persist, a group spread is probably close to 0: make that parameter group-only "
                "(group_only=[...]) or give its spread a tighter prior")
        r_hat, where = d["max_r_hat"]
        if np.isfinite(r_hat) and r_hat > R_HAT_MAX:
            msgs.append(
                f"the chains disagree about {where} (R-hat {r_hat:.3f} > {R_HAT_MAX}): they have "
                "not yet explored the same distribution, so no summary can be trusted yet. Run "
                "longer chains (more draws and tune)")
        need = ESS_PER_CHAIN_MIN * chains
        for key, what in (("min_ess_bulk", "its mean and sd are"),
                          ("min_ess_tail", "its interval is")):
            ess, where = d[key]
            if np.isfinite(ess) and ess < need:
                msgs.append(
                    f"only {ess:.0f} effective draws for {where} (fewer than {need}, "
                    f"{ESS_PER_CHAIN_MIN} per chain): {what} estimated too roughly. Draw "
                    "more (draws=...)")
        return msgs

    def warn_diagnostics(self, stacklevel=2):
        for msg in self.diagnostic_messages():
            warnings.warn(msg, ConvergenceWarning, stacklevel=stacklevel + 1)

    # -- model comparison -------------------------------------------------------------------------
    def add_log_likelihood(self):
        """Store each trial's log-likelihood per draw in ``idata.log_likelihood``."""
        import pymc as pm

        pm.compute_log_likelihood(self.idata, model=self.model, progressbar=False,
                                  extend_inferencedata=True)
        return self

    def loo(self, **kwargs):
        """Pareto-smoothed leave-one-out cross-validation (``arviz.loo``) over trials."""
        import arviz as az

        if "log_likelihood" not in self.idata:
            self.add_log_likelihood()
        return az.loo(self.idata, **kwargs)

    # -- predictives ----------------------------------------------------------------------------
    def trial_parameters(self, chain, draw):
        """Each trial's natural-scale parameters at one posterior draw: dict of (n,) arrays."""
        import pytensor

        if self._trial_fn is None:
            rvs = self.model.free_RVs
            n = len(self.layout.data)
            outs = [self.layout.trial_params[k] for k in ("v", "a", "z", "t0", "sv", "sz", "st")]
            outs = [pytensor.tensor.broadcast_to(o, (n,)) for o in outs]
            fn = pytensor.function(rvs, outs, on_unused_input="ignore")
            self._trial_fn = (fn, [rv.name for rv in rvs])
        fn, names = self._trial_fn
        post = self.idata.posterior
        values = fn(*[np.asarray(post[name].isel(chain=chain, draw=draw)) for name in names])
        return dict(zip(("v", "a", "z", "t0", "sv", "sz", "st"), values, strict=True))

    def posterior_predictive(self, n_draws=100, seed=None):
        """Simulated data sets, one per posterior draw, from sdekit's exact sampler.

        Parameters
        ----------
        n_draws : int
            Posterior draws used (spread evenly over the chains and draws).
        seed : int, optional
            Seed of the simulated trials (default: the fit's seed).

        Returns
        -------
        pandas.DataFrame
            ``sample`` (0..n_draws-1), ``row`` (the observed trial's position), ``rt``,
            ``response``, plus the observed trials' subject and condition columns. Also stored
            as ``idata.posterior_predictive["rt"]`` (signed response times).
        """
        from sdekit.ddm.sampling import sample_trials
        from sdekit.sde.random import child_seed

        post = self.idata.posterior
        chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
        total = chains * draws
        picks = np.unique(np.linspace(0, total - 1, min(int(n_draws), total)).astype(int))
        base = self.seed if seed is None else seed
        data = self.layout.data
        frames, signed = [], []
        for s, flat in enumerate(picks):
            chain, draw = divmod(int(flat), draws)
            pars = self.trial_parameters(chain, draw)
            rt, resp = sample_trials(**pars, seed=child_seed(base, _PPC_TAG, s))
            frame = data.drop(columns=["rt", "response"]).copy()
            frame.insert(0, "response", resp)
            frame.insert(0, "rt", rt)
            frame.insert(0, "row", np.arange(len(data)))
            frame.insert(0, "sample", s)
            frames.append(frame)
            signed.append(np.where(resp > 0, rt, -rt))
        self._store_predictive(np.asarray(signed))
        return pd.concat(frames, ignore_index=True)

    def _store_predictive(self, signed):
        import arviz as az

        pp = az.from_dict(posterior_predictive={"rt": signed[None, ...]},
                          dims={"rt": ["trial"]})
        self.idata.posterior_predictive = pp.posterior_predictive

    def ppc_quantiles(self, by=None, quantiles=(0.1, 0.3, 0.5, 0.7, 0.9), n_draws=100,
                      interval=0.9, seed=None):
        """Observed RT quantiles and response probabilities beside the posterior predictive's.

        Returns
        -------
        pandas.DataFrame
            Per cell of ``by`` (columns of the data, e.g. ``["stim"]``), response and quantile:
            ``observed``, the predictive ``mean`` and its central ``interval`` (``low``,
            ``high``); quantile ``"p"`` rows hold the probability of that response.
        """
        from sdekit.ddm.bayes.predictive import quantile_table

        sims = self.posterior_predictive(n_draws=n_draws, seed=seed)
        return quantile_table(self.layout.data, sims, by, quantiles, interval)

    def plot_ppc(self, by=None, path=None, n_draws=100, seed=None):
        """Quantile-probability plot of the data against the posterior predictive."""
        from sdekit.ddm.bayes.predictive import qp_plot

        table = self.ppc_quantiles(by=by, n_draws=n_draws, seed=seed)
        return qp_plot(table, by, path)

    def __repr__(self):
        post = self.idata.posterior
        kinds = ", ".join(f"{p} {k}" for p, k in self.layout.kind.items())
        state = " (interrupted)" if self.interrupted else ""
        return (f"<PosteriorResults{state}: {len(self.layout.subjects)} subjects, "
                f"{len(self.layout.data)} trials; {kinds}; {post.sizes['chain']} chains x "
                f"{post.sizes['draw']} draws by {self.sampler}, seed {self.seed}, "
                f"{self.seconds:.1f} s>")

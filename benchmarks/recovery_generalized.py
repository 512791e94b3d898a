"""Parameter recovery for generalized decision models: simulate, fit, compare with the truth.

Settings, each over many simulated data sets with fixed seeds:

* ``collapse``: a DDM with Weibull-collapsing bounds (Hawkins et al. 2015), fitted through its
  Fokker–Planck likelihood (``ddm.DecisionModel``);
* ``lca``: two leaky competing accumulators (Usher & McClelland 2001, linear form), fitted through
  the simulated likelihood (``ddm.SimulationModel``); ``lca-leak-fixed``: the same with the leak
  held at its true value; ``lca-coherence``: the LCA in a design of three stimulus strengths
  (``SimulationModel.lca(coherence=...)``, the trials split evenly between them), which shares
  leak and inhibition across strengths (``lca-coherence-leak-fixed``: with the leak held at its
  true value). For the LCA settings the table adds the sum and the
  difference of leak and inhibition (the decay rates of the accumulators' sum and difference),
  with standard errors from the fit's covariance.

For each free parameter the table gives the mean estimate, bias, RMSE, the spread of the
estimates and the mean standard error (which should agree),
the coverage of the 95 % Wald interval (and with ``--profile`` that of the profile-likelihood
interval), and how many fits converged; with the mean fit time.

Run::

    python benchmarks/recovery_generalized.py --setting collapse --datasets 50 --trials 1000 \
        --profile v,a,collapse,scale,t0
    python benchmarks/recovery_generalized.py --setting lca-coherence --datasets 50 \
        --trials 1000 --n-sim 3000 --dt 0.002 --starts 1 --rows lca-coherence.csv

and paste the printed Markdown into ``docs/recovery-generalized.md``. Data sets are fitted in
parallel worker processes (``--jobs``, default all cores).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd

SETTINGS = {
    "collapse": {
        "truth": dict(v=1.0, a=2.0, collapse=0.6, scale=1.0, t0=0.3),
        "fixed": {"z": 0.5},
    },
    "lca": {
        "truth": dict(v0=1.0, v1=2.0, leak=1.0, inhibition=0.5, a=1.0, t0=0.3),
        "fixed": {},
    },
    # the same LCA with the leak known (held at its true value): leak and inhibition trade off
    # along a ridge when both are free
    "lca-leak-fixed": {
        "truth": dict(v0=1.0, v1=2.0, inhibition=0.5, a=1.0, t0=0.3),
        "fixed": {"leak": 1.0},
    },
    "lca-coherence": {
        "truth": dict(v=1.0, gain=2.0, leak=1.0, inhibition=0.5, a=1.0, t0=0.3),
        "fixed": {},
        "coherence": (0.0, 0.5, 1.0),
    },
    # the same with the leak known: does constraining one of the pair recover the other?
    "lca-coherence-leak-fixed": {
        "truth": dict(v=1.0, gain=2.0, inhibition=0.5, a=1.0, t0=0.3),
        "fixed": {"leak": 1.0},
        "coherence": (0.0, 0.5, 1.0),
    },
}


def make_model(setting, n_sim, dt, seed=0):
    from sdekit import ddm

    if setting == "collapse":
        return ddm.DecisionModel(bound=ddm.Bound.weibull(shape=3.0))
    if setting.startswith("lca-coherence"):
        return ddm.SimulationModel.lca(coherence="coherence", n_sim=n_sim, dt=dt, seed=seed)
    return ddm.SimulationModel.lca(n_sim=n_sim, dt=dt, seed=seed)  # lca, lca-leak-fixed


def _combination(res, weights):
    """Estimate and standard error of a linear combination of the fitted parameters."""
    names = list(weights)
    w = np.array([weights[n] for n in names])
    cov = res.cov_params().loc[names, names].to_numpy()
    return float(w @ res.params[names].to_numpy()), float(np.sqrt(w @ cov @ w))


def data_set(setting, index, trials, model):
    """Data set ``index`` of a setting: simulated at the true parameters with seed 1000 + index
    (the trials split evenly between the stimulus strengths, where there are several)."""
    spec = SETTINGS[setting]
    truth = dict(spec["truth"], **spec["fixed"])
    if "coherence" in spec:
        strengths = pd.DataFrame({"coherence": spec["coherence"]})
        data = model.simulate(trials // len(strengths), truth, strengths, seed=1000 + index)
    else:
        data = model.simulate(trials, truth, seed=1000 + index)
    return data[data.response >= 0]


def _simulated_loglik(model, data, values):
    """Log-likelihood of ``data`` under a SimulationModel, summed over its condition cells."""
    cols = list(model.conditions)
    groups = data.groupby(cols) if cols else [((), data)]
    total = 0.0
    for key, cell in groups:
        key = key if isinstance(key, tuple) else (key,)
        vec = model.vector(values, dict(zip(cols, key, strict=True)))
        total += float(np.sum(np.log(model.density(vec, cell.rt.to_numpy(),
                                                   cell.response.to_numpy()))))
    return total


def recheck(args, rows):
    """Each LCA estimate against the truth under the fit's likelihood and under an accurate one
    (``--recheck-n-sim`` simulated trials per strength, other random numbers): the gain in
    log-likelihood of the estimate over the truth. Under the accurate likelihood twice the gain
    is, asymptotically, chi-squared with as many degrees of freedom as free parameters; under
    the fit's own it also holds the kernel's smoothing bias."""
    from scipy.stats import chi2

    frame = pd.DataFrame(rows)
    spec = SETTINGS[args.setting]
    truth = dict(spec["truth"], **spec["fixed"])
    free = list(spec["truth"])
    accurate = make_model(args.setting, args.recheck_n_sim, args.dt, seed=10**6)
    out = []
    for index, g in frame.groupby("dataset"):
        fitted = make_model(args.setting, args.n_sim, args.dt,
                            seed=int(index) if args.sim_seed == "per-dataset" else 0)
        data = data_set(args.setting, int(index), args.trials, fitted)
        estimate = dict(truth, **{n: float(g.set_index("parameter").estimate[n]) for n in free})
        out.append({"dataset": index,
                    "gain (fit's likelihood)": _simulated_loglik(fitted, data, estimate)
                    - _simulated_loglik(fitted, data, truth),
                    "gain (accurate)": _simulated_loglik(accurate, data, estimate)
                    - _simulated_loglik(accurate, data, truth)})
        print(f"data set {index} rechecked", file=sys.stderr, flush=True)
    out = pd.DataFrame(out)
    limit = 0.5 * float(chi2.ppf(0.95, len(free)))
    summary = []
    for col in ("gain (fit's likelihood)", "gain (accurate)"):
        x = out[col]
        summary.append({"log-likelihood of the estimate minus the truth's": col,
                        "median": float(x.median()), "5 %": float(x.quantile(0.05)),
                        "95 %": float(x.quantile(0.95)), "max": float(x.max()),
                        f"share below {limit:.2f} (LR 95 %)": float((x <= limit).mean()),
                        "share below 0": float((x < 0).mean())})
    print(f"### {args.setting}: estimates against the truth, fit's likelihood (n_sim "
          f"{args.n_sim}) and accurate (n_sim {args.recheck_n_sim}), {len(out)} data sets")
    print()
    print(markdown(pd.DataFrame(summary)))


def one(args):
    setting, index, trials, n_sim, dt, starts, profile, sim_seed = args
    from sdekit import ddm

    # The simulated likelihood's Monte Carlo error is a fixed function of the parameters under
    # common random numbers: with one seed for every data set all fits share that one error
    # (a bias the study cannot average out); a seed per data set lets it vary as it would
    # between analyses.
    model = make_model(setting, n_sim, dt, seed=index if sim_seed == "per-dataset" else 0)
    spec = SETTINGS[setting]
    truth = dict(spec["truth"], **spec["fixed"])
    data = data_set(setting, index, trials, model)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = ddm.fit(data, model=model, fixed=spec["fixed"] or None, progress=False,
                      n_jobs=1, seed=index, starts=starts)
    seconds = time.perf_counter() - start
    ci = (res.conf_int(method="profile", cols=[p for p in profile if p in res.params.index])
          if profile else None)
    estimates = [(name, spec["truth"][name], float(res.params[name]), float(res.bse[name]))
                 for name in res.params.index]
    if {"leak", "inhibition"} <= set(res.params.index):
        for label, sign in (("leak+inhibition", 1.0), ("leak-inhibition", -1.0)):
            est, se = _combination(res, {"leak": 1.0, "inhibition": sign})
            estimates.append((label, truth["leak"] + sign * truth["inhibition"], est, se))
    return [{"dataset": index, "parameter": name, "truth": true, "estimate": est, "se": se,
             "converged": bool(res.converged), "seconds": seconds,
             "profile_low": float(ci.loc[name, "lower"]) if ci is not None and name in ci.index
             else np.nan,
             "profile_high": float(ci.loc[name, "upper"]) if ci is not None and name in ci.index
             else np.nan}
            for name, true, est, se in estimates]


def summarise(rows):
    frame = pd.DataFrame(rows)
    out = []
    for name, g in frame.groupby("parameter", sort=False):
        err = g.estimate - g.truth
        finite = np.isfinite(g.se)
        inside = (np.abs(err) <= 1.96 * g.se) & finite
        row = {"parameter": name, "truth": g.truth.iloc[0],
               "mean estimate": g.estimate.mean(), "bias": err.mean(),
               "RMSE": float(np.sqrt(np.mean(err ** 2))),
               "spread (sd)": float(g.estimate.std()),
               # a simulated fit reports NaN for parameters it finds flat within its ripples
               "mean SE": g.se[finite].mean() if finite.any() else np.nan,
               "SE given": f"{int(finite.sum())}/{len(g)}",
               # among the fits that gave one
               "coverage 95%": inside[finite].mean() if finite.any() else np.nan}
        if "profile_low" in g and g.profile_low.notna().any():
            row["profile coverage"] = float(((g.profile_low <= g.truth)
                                             & (g.truth <= g.profile_high)).mean())
        elif "profile_low" in frame and frame.profile_low.notna().any():
            row["profile coverage"] = "-"
        row["converged"] = f"{g.converged.sum()}/{len(g)}"
        out.append(row)
    return pd.DataFrame(out), float(frame.groupby("dataset").seconds.first().mean())


def correlations(rows):
    """Correlation matrix of the free parameters' estimates across data sets, as a frame with
    the parameter names in its first column."""
    frame = pd.DataFrame(rows)
    names = [n for n in frame.parameter.unique() if "+" not in n and "-" not in n]
    wide = frame.pivot(index="dataset", columns="parameter", values="estimate")[names]
    corr = wide.corr()
    corr.insert(0, "", corr.index)
    return corr


def markdown(frame):
    """A Markdown table (without needing the optional ``tabulate`` package)."""
    def cell(x):
        if isinstance(x, float):
            return "-" if np.isnan(x) else f"{x:.3f}"
        return str(x)

    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="collapse")
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--n-sim", type=int, default=10_000,
                        help="simulated trials per likelihood evaluation and stimulus strength "
                             "(lca settings)")
    parser.add_argument("--dt", type=float, default=1e-3,
                        help="time step of the simulated likelihood in s (lca settings)")
    parser.add_argument("--starts", type=int, default=2,
                        help="optimiser starts per fit (ddm.fit's starts)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rows", default=None, metavar="CSV",
                        help="append each data set's estimates to this CSV as it finishes, and "
                             "skip data sets it already holds (resume an interrupted run)")
    parser.add_argument("--profile", default="", metavar="P[,P...]",
                        help="also compute profile-likelihood intervals of these parameters "
                             "(Fokker-Planck models; each costs about ten refits per data set)")
    parser.add_argument("--sim-seed", choices=("per-dataset", "fixed"), default="per-dataset",
                        help="seed of a simulated likelihood's common random numbers: the data "
                             "set's index (its Monte Carlo error varies between fits, as between "
                             "analyses), or 0 for every fit (one shared error)")
    parser.add_argument("--recheck-n-sim", type=int, default=0, metavar="N",
                        help="with --rows of a finished LCA run: compare each estimate's "
                             "log-likelihood with the truth's under the fit's likelihood and "
                             "under one with N simulated trials per strength (no fitting)")
    args = parser.parse_args(argv)
    if args.recheck_n_sim:
        if not (args.rows and os.path.exists(args.rows)):
            parser.error("--recheck-n-sim needs --rows with the estimates of a finished run")
        if not args.setting.startswith("lca"):
            parser.error("--recheck-n-sim applies to the simulated-likelihood (lca) settings")
        recheck(args, pd.read_csv(args.rows).to_dict("records"))
        return
    profile = tuple(p for p in args.profile.split(",") if p)
    tasks = [(args.setting, i, args.trials, args.n_sim, args.dt, args.starts, profile,
              args.sim_seed) for i in range(args.datasets)]
    rows = []
    done = set()
    if args.rows and os.path.exists(args.rows):
        # resume: data sets already fitted (one CSV row per parameter) are not fitted again
        rows = pd.read_csv(args.rows).to_dict("records")
        done = {r["dataset"] for r in rows}
    tasks = [t for t in tasks if t[1] not in done]
    start = time.perf_counter()

    def keep(part):
        rows.extend(part)
        if args.rows:
            pd.DataFrame(part).to_csv(args.rows, mode="a", index=False,
                                      header=not os.path.exists(args.rows))
        print(f"data set {part[0]['dataset']} fitted ({len({r['dataset'] for r in rows})} "
              f"of {args.datasets})", file=sys.stderr, flush=True)

    if args.jobs <= 1:
        for t in tasks:
            keep(one(t))
    else:
        with cf.ProcessPoolExecutor(args.jobs) as ex:
            for fut in cf.as_completed([ex.submit(one, t) for t in tasks]):
                keep(fut.result())
    wall = time.perf_counter() - start
    table, mean_fit = summarise(rows)
    print(f"### {args.setting}: {args.datasets} data sets of {args.trials} trials"
          + (f", {args.n_sim} simulated trials per evaluation and strength, dt {args.dt} s"
             if args.setting.startswith("lca") else "")
          + f", {args.starts} optimiser start(s) per fit"
          + (f", simulation seed {args.sim_seed}" if args.setting.startswith("lca") else ""))
    print()
    print(markdown(table))
    print()
    print("Correlations of the estimates across data sets (a ridge in the likelihood shows as "
          "correlations near +-1):")
    print()
    print(markdown(correlations(rows)))
    print()
    cpu = platform.processor() or platform.machine()
    print(f"mean fit time {mean_fit:.1f} s per data set; wall time {wall / 60:.1f} min with "
          f"{args.jobs} worker processes on {os.cpu_count()} cores ({cpu}); "
          f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

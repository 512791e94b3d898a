"""Parameter recovery for generalized decision models: simulate, fit, compare with the truth.

Two settings, each over many simulated data sets with fixed seeds:

* ``collapse``: a DDM with Weibull-collapsing bounds (Hawkins et al. 2015), fitted through its
  Fokker–Planck likelihood (``ddm.DecisionModel``);
* ``lca``: two leaky competing accumulators (Usher & McClelland 2001, linear form), fitted through
  the simulated likelihood (``ddm.SimulationModel``); ``lca-leak-fixed``: the same with the leak
  held at its true value.

For each free parameter the table gives the mean estimate, bias, RMSE, the spread of the
estimates and the mean standard error (which should agree),
the coverage of the 95 % Wald interval (and with ``--profile`` that of the profile-likelihood
interval), and how many fits converged; with the mean fit time.

Run::

    python benchmarks/recovery_generalized.py --setting collapse --datasets 50 --trials 1000 \
        --profile v,a,collapse,scale,t0
    python benchmarks/recovery_generalized.py --setting lca --datasets 50 --trials 1000

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
}


def make_model(setting, n_sim):
    from sdekit import ddm

    if setting == "collapse":
        return ddm.DecisionModel(bound=ddm.Bound.weibull(shape=3.0))
    return ddm.SimulationModel.lca(n_sim=n_sim)  # lca, lca-leak-fixed


def one(args):
    setting, index, trials, n_sim, profile = args
    from sdekit import ddm

    model = make_model(setting, n_sim)
    spec = SETTINGS[setting]
    truth = dict(spec["truth"], **spec["fixed"])
    data = model.simulate(trials, truth, seed=1000 + index)
    data = data[data.response >= 0]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = ddm.fit(data, model=model, fixed=spec["fixed"] or None, progress=False,
                      n_jobs=1, seed=index)
    seconds = time.perf_counter() - start
    ci = (res.conf_int(method="profile", cols=[p for p in profile if p in res.params.index])
          if profile else None)
    return [{"dataset": index, "parameter": name, "truth": spec["truth"][name],
             "estimate": float(res.params[name]), "se": float(res.bse[name]),
             "converged": bool(res.converged), "seconds": seconds,
             "profile_low": float(ci.loc[name, "lower"]) if ci is not None and name in ci.index
             else np.nan,
             "profile_high": float(ci.loc[name, "upper"]) if ci is not None and name in ci.index
             else np.nan}
            for name in res.params.index]


def summarise(rows):
    frame = pd.DataFrame(rows)
    out = []
    for name, g in frame.groupby("parameter", sort=False):
        err = g.estimate - g.truth
        inside = (np.abs(err) <= 1.96 * g.se) & np.isfinite(g.se)
        row = {"parameter": name, "truth": g.truth.iloc[0],
               "mean estimate": g.estimate.mean(), "bias": err.mean(),
               "RMSE": float(np.sqrt(np.mean(err ** 2))),
               "spread (sd)": float(g.estimate.std()), "mean SE": g.se.mean(),
               "coverage 95%": inside.mean()}
        if "profile_low" in g and g.profile_low.notna().any():
            row["profile coverage"] = float(((g.profile_low <= g.truth)
                                             & (g.truth <= g.profile_high)).mean())
        elif "profile_low" in frame and frame.profile_low.notna().any():
            row["profile coverage"] = "-"
        row["converged"] = f"{g.converged.sum()}/{len(g)}"
        out.append(row)
    return pd.DataFrame(out), float(frame.groupby("dataset").seconds.first().mean())


def markdown(frame):
    """A Markdown table (without needing the optional ``tabulate`` package)."""
    def cell(x):
        return f"{x:.3f}" if isinstance(x, float) else str(x)

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
                        help="simulated trials per likelihood evaluation (lca)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rows", default=None, metavar="CSV",
                        help="append each data set's estimates to this CSV as it finishes, and "
                             "skip data sets it already holds (resume an interrupted run)")
    parser.add_argument("--profile", default="", metavar="P[,P...]",
                        help="also compute profile-likelihood intervals of these parameters "
                             "(Fokker-Planck models; each costs about ten refits per data set)")
    args = parser.parse_args(argv)
    profile = tuple(p for p in args.profile.split(",") if p)
    tasks = [(args.setting, i, args.trials, args.n_sim, profile) for i in range(args.datasets)]
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
          + (f", {args.n_sim} simulated trials per evaluation" if args.setting.startswith("lca")
             else ""))
    print()
    print(markdown(table))
    print()
    cpu = platform.processor() or platform.machine()
    print(f"mean fit time {mean_fit:.1f} s per data set; wall time {wall / 60:.1f} min with "
          f"{args.jobs} worker processes on {os.cpu_count()} cores ({cpu}); "
          f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

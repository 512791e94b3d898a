"""Parameter recovery of ddm.fit: bias, RMSE and 95 % Wald coverage over simulated data sets.

Settings: the 4-parameter DDM (v, a, z, t0) at 100, 500 and 2,000 trials and the full DDM (7
parameters) at 2,000 trials, 100 data sets each, drawn by exact sampling at fixed seeds (data set
``i`` of a setting uses seed ``base + i``). Each data set is fitted as by a user
(``fit(data, model=...)``, default starts), the data sets of a setting run as one
``fit(..., by="dataset")``, so in parallel on all cores.

Usage::

    python benchmarks/recovery_ddm.py                 # full table into docs/recovery.md
    python benchmarks/recovery_ddm.py --quick         # 20 data sets, full DDM at 10; prints only
    python benchmarks/recovery_ddm.py --only simple   # the 4-parameter settings only
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sdekit.ddm import density
from sdekit.ddm.fitting import fit
from sdekit.ddm.sampling import sample_ddm

SIMPLE_TRUTH = {"v": 1.0, "a": 1.5, "z": 0.55, "t0": 0.3}
FULL_TRUTH = {"v": 1.0, "a": 1.5, "z": 0.5, "t0": 0.3, "sv": 0.8, "sz": 0.2, "st": 0.15}
SETTINGS = [
    ("simple", 100, SIMPLE_TRUTH, 1_000),
    ("simple", 500, SIMPLE_TRUTH, 2_000),
    ("simple", 2000, SIMPLE_TRUTH, 3_000),
    ("full", 2000, FULL_TRUTH, 4_000),
]


def run_setting(model, n_trials, truth, base_seed, n_sets, profile=(), profile_sets=None):
    parts, at_truth = [], []
    for i in range(n_sets):
        rt, resp = sample_ddm(n_trials, seed=base_seed + i, **truth)
        parts.append(pd.DataFrame({"rt": rt, "response": resp, "dataset": i}))
        at_truth.append(float(density.logpdf(rt, resp, **truth).sum()))
    data = pd.concat(parts, ignore_index=True)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = fit(data, model=model, by="dataset", progress=True)
        # likelihood-ratio statistic of each true value: the fit with that parameter held at it
        k = n_sets if profile_sets is None else min(profile_sets, n_sets)
        llf = np.array([fits[i].llf for i in range(k)])
        first = data[data.dataset < k]
        lr = {}
        for name in profile:
            held = fit(first, model=model, by="dataset", progress=True, fixed={name: truth[name]})
            lr[name] = 2 * (llf - np.array([held[i].llf for i in range(k)]))
    seconds = time.perf_counter() - t
    # an optimiser that stops short can end below the true parameters' log-likelihood
    above = np.mean([fits[i].llf >= at_truth[i] - 1e-6 for i in range(n_sets)])
    rows = []
    est, se = fits.params, fits.bse
    conv = fits.converged
    for name, value in truth.items():
        e, s = est[name].to_numpy(), se[name].to_numpy()
        ok = np.isfinite(s)
        cover = np.abs(e[ok] - value) <= 1.959964 * s[ok]
        rows.append({
            "model": model, "trials": n_trials, "parameter": name, "true": value,
            "mean": e.mean(), "bias": e.mean() - value,
            "rmse": float(np.sqrt(np.mean((e - value) ** 2))),
            "sd": e.std(ddof=1), "mean_se": float(np.nanmean(s)),
            "coverage": cover.mean() if ok.any() else np.nan,
            "se_finite": ok.mean(), "converged": conv.mean(), "above_truth": above,
            "lr_coverage": np.mean(lr[name] <= 3.841459) if name in lr else np.nan,
        })
    return pd.DataFrame(rows), seconds


def to_markdown(table, n_sets, timings, profile_sets=None):
    lines = [
        "# Parameter recovery of `ddm.fit`",
        "",
        "Produced by `python benchmarks/recovery_ddm.py` (fixed seeds: rerunning it reproduces "
        "the table). For each setting, "
        f"{n_sets} data sets were simulated by exact sampling with the true parameters below and "
        "each was fitted by maximum likelihood with the default settings. *bias* and *RMSE* are "
        "over data sets; *sd* is the spread of the estimates and *mean SE* the average Wald "
        "standard error (observed information), which should agree with it; *coverage* is the "
        "fraction of 95 % Wald intervals that contain the truth (among fits whose information "
        "matrix was positive definite, *SE finite*); *converged* the fraction of fits that "
        "converged; *llf ≥ truth* the fraction whose maximised log-likelihood is at least that "
        "of the true parameters (an optimiser stopping short can end below it); *LR coverage* "
        "(where computed, `--profile`) the fraction of data sets whose likelihood-ratio "
        "statistic for the true value, from a second fit with that parameter held at it, is "
        "below 3.84: the coverage of the 95 % profile-likelihood interval"
        + (f" (over the first {profile_sets} data sets)" if profile_sets else "") + ".",
        "",
        "| model | trials | parameter | true | mean | bias | RMSE | sd | mean SE | coverage "
        "| SE finite | converged | llf ≥ truth | LR coverage |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        lr = "" if not np.isfinite(r.lr_coverage) else f"{r.lr_coverage:.2f}"
        lines.append(
            f"| {r.model} | {r.trials} | {r.parameter} | {r.true:g} | {r.mean:.4f} | "
            f"{r.bias:+.4f} | {r.rmse:.4f} | {r.sd:.4f} | {r.mean_se:.4f} | {r.coverage:.2f} | "
            f"{r.se_finite:.2f} | {r.converged:.2f} | {r.above_truth:.2f} | {lr} |")
    lines += ["", "Wall time per setting (all data sets, fitted in parallel on all cores):", ""]
    for (model, n), s in timings.items():
        lines.append(f"- {model} DDM, {n} trials: {s:.1f} s")
    lines += [
        "",
        f"Machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}.",
        "",
        "Reading: for the 4-parameter DDM the bias is small against the spread at every size, "
        "the Wald standard errors agree with the spread of the estimates, and coverage lies "
        "between 0.90 and 0.97 (v, a, t0 at 500 trials: see the rows above). In the full DDM "
        "at 2,000 trials `sz` is weakly identified: its Wald SE exceeds the spread of its "
        "estimates, which pile up at 0 and between 0.3 and 0.75, and its mean lies above the "
        "truth; `t0` and `z` move with it along a ridge of the likelihood (high `sz` goes with "
        "high `t0`), so their estimates are shifted too and their Wald coverage falls below "
        "0.90. This is the estimator, not the optimiser: every fit ends at or above the "
        "log-likelihood of the true parameters (*llf ≥ truth*), a later start joining or "
        "matching the first; the analytic gradients agree with finite differences of the "
        "density at the fitted points, and the sampler with the density (see `docs/fitting.md`). "
        "Where computed, the profile-likelihood intervals of `sz`, `t0` and `z` cover far better "
        "than the Wald intervals, which assume a quadratic log-likelihood that this ridge and "
        "the bound of `sz` at 0 do not give at 2,000 trials: for these parameters use profile "
        "likelihood (fit with the parameter held at candidate values, `fixed=`).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 data sets (10 for the full DDM), "
                    "printed, docs/recovery.md left alone")
    ap.add_argument("--only", choices=["simple", "full"], default=None)
    ap.add_argument("--sets", type=int, default=100, help="data sets per setting (default 100)")
    ap.add_argument("--profile", default="", help="comma-separated full-DDM parameters whose "
                    "likelihood-ratio coverage to compute (one more fit per data set each), "
                    "e.g. sz,t0,z,st")
    ap.add_argument("--profile-sets", type=int, default=None, help="compute the "
                    "likelihood-ratio coverage on the first this many data sets only")
    ap.add_argument("--out", default=None, help="write the table here instead of "
                    "docs/recovery.md")
    args = ap.parse_args(argv)
    profile = tuple(p for p in args.profile.split(",") if p)
    tables, timings = [], {}
    for model, n, truth, seed in SETTINGS:
        if args.only and model != args.only:
            continue
        n_sets = (10 if model == "full" else 20) if args.quick else args.sets
        table, seconds = run_setting(model, n, truth, seed, n_sets,
                                     profile if model == "full" else (), args.profile_sets)
        timings[(model, n)] = seconds
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        print(f"{model} {n}: {seconds:.1f} s\n", flush=True)
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    if not args.quick:
        out = (Path(args.out) if args.out
               else Path(__file__).resolve().parents[1] / "docs" / "recovery.md")
        out.write_text(to_markdown(table, args.sets, timings, args.profile_sets))
        print(f"wrote {out.name}")


if __name__ == "__main__":
    main()

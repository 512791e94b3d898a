"""Profile-likelihood intervals of the full DDM, checked over simulated data sets.

For the full-DDM setting of ``recovery_ddm.py`` (2,000 trials, v 1, a 1.5, z 0.5, t0 0.3, sv 0.8,
sz 0.2, st 0.15; data set ``i`` drawn with seed ``4000 + i``), each data set is fitted as a user
would (``fit(data, model="full")``) and ``conf_int(method="profile")`` is asked for the chosen
parameters. Reported per parameter:

* how many bounds came out and how many are NaN, with the reasons the fit gave;
* the coverage of the 95 % intervals (among data sets with both bounds);
* each finite bound checked against an independent fit with the parameter fixed there
  (``fit(data, model="full", fixed={name: bound})``): the log-likelihood drop from the estimate,
  which should be chi2(1).ppf(0.95) / 2 = 1.9207 (a bound at the edge of the range, where the
  profile never drops that far, is not checked);
* the Wald coverage of the same fits, for comparison.

Usage::

    python benchmarks/profile_full_ddm.py --sets 20 --params t0,st,sz,z --jobs 2
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

TRUTH = {"v": 1.0, "a": 1.5, "z": 0.5, "t0": 0.3, "sv": 0.8, "sz": 0.2, "st": 0.15}
TARGET = 1.920729  # chi2(1).ppf(0.95) / 2


def one_dataset(i, params, n_trials):
    from sdekit.ddm.fitting import FitWarning, fit
    from sdekit.ddm.sampling import sample_ddm

    rt, resp = sample_ddm(n_trials, seed=4000 + i, **TRUTH)
    data = pd.DataFrame({"rt": rt, "response": resp})
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(data, model="full", progress=False)
    wald = res.conf_int()
    rows = []
    for name in params:
        t1 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FitWarning)
            try:
                lo, hi = res.conf_int(method="profile", cols=[name]).loc[name]
                failure = []
            except Exception as exc:  # reported in the table, so one failure keeps the rest
                lo = hi = np.nan
                failure = [f"{name}: raised {type(exc).__name__}: {exc}"]
        seconds = time.perf_counter() - t1
        reasons = failure + [str(w.message) for w in caught
                             if issubclass(w.category, FitWarning)]
        drops = []
        for bound in (lo, hi):
            edge = name in ("sz", "st", "sv", "t0") and bound == 0.0
            if np.isfinite(bound) and not edge:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    held = fit(data, model="full", fixed={name: float(bound)}, progress=False)
                drops.append(res.llf - held.llf)
        rows.append({"dataset": i, "parameter": name, "estimate": res.params[name],
                     "lower": lo, "upper": hi, "wald_lower": wald.loc[name, "lower"],
                     "wald_upper": wald.loc[name, "upper"], "seconds": seconds,
                     "drops": drops, "reasons": reasons, "converged": res.converged})
    print(f"data set {i} done ({time.perf_counter() - t:.0f} s)", flush=True)
    return rows


def summarise(rows):
    out = []
    frame = pd.DataFrame(rows)
    for name, g in frame.groupby("parameter", sort=False):
        truth = TRUTH[name]
        both = g["lower"].notna() & g["upper"].notna()
        cover = ((g["lower"] <= truth) & (truth <= g["upper"]))[both]
        wald_ok = g["wald_lower"].notna() & g["wald_upper"].notna()
        wald_cover = ((g["wald_lower"] <= truth) & (truth <= g["wald_upper"]))[wald_ok]
        drops = np.array([d for ds in g["drops"] for d in ds])
        out.append({
            "parameter": name, "truth": truth, "data sets": len(g),
            "NaN bounds": int(g["lower"].isna().sum() + g["upper"].isna().sum()),
            "profile coverage": f"{cover.mean():.2f} ({int(both.sum())})",
            "Wald coverage": f"{wald_cover.mean():.2f} ({int(wald_ok.sum())})",
            "bounds checked": drops.size,
            "drop at bound: median": f"{np.median(drops):.4f}" if drops.size else "-",
            "max abs error": f"{np.max(np.abs(drops - TARGET)):.4f}" if drops.size else "-",
            "median s": f"{g['seconds'].median():.1f}",
        })
    return pd.DataFrame(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", type=int, default=20)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--params", default="t0,st,sz,z")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    params = [p for p in args.params.split(",") if p]
    unknown = sorted(set(params) - set(TRUTH))
    if unknown:
        ap.error(f"unknown parameter(s) {unknown}; choose from {', '.join(TRUTH)}")
    t = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        parts = list(pool.map(one_dataset, range(args.sets), [params] * args.sets,
                              [args.trials] * args.sets))
    rows = [r for part in parts for r in part]
    print(f"\n### Full DDM, {args.sets} data sets of {args.trials} trials\n")
    table = summarise(rows)
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for rec in table.itertuples(index=False):
        print("| " + " | ".join(str(x) for x in rec) + " |")
    print("\nReasons given for NaN bounds:\n")
    for r in rows:
        for reason in r["reasons"]:
            print(f"- data set {r['dataset']}: {reason[:160]}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nwall time {(time.perf_counter() - t) / 60:.1f} min with {args.jobs} worker "
          f"processes; load average at the end {load:.1f}")


if __name__ == "__main__":
    main()

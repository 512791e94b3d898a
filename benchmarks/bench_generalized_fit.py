"""Fit time of a collapsing-bound decision model: sdekit against PyDDM, same model, same data.

The model: constant drift ``v``, unit noise, bounds collapsing exponentially,
``±B exp(-t / tau)`` (sdekit: ``Bound.exponential`` with ``a = 2 B``), start in the middle,
non-decision time ``t0``. 2,000 trials are simulated by sdekit's engine at fixed seeds; each tool
fits ``v, B, tau, t0``:

* sdekit: ``ddm.fit(data, model=DecisionModel(bound=Bound.exponential()), fixed={"z": 0.5})``
  (Fokker–Planck likelihood at the default accuracy, L-BFGS-B from EZ-diffusion starts);
* PyDDM 0.9: ``gddm`` with the same components, fitted with its default (differential
  evolution, robust likelihood, 2 % uniform mixture) and with its local simplex search and
  ``mixture_coef=0``, at its default grid (dx = dt = 0.005 s).

Both fits are scored by the same yardstick — sdekit's Fokker–Planck log-likelihood at a fine
grid — so "faster" never means "worse". Run in an environment that has both (peers belong in
their own virtual environment, never as sdekit dependencies)::

    python3 -m venv peers-fit && peers-fit/bin/pip install pyddm && peers-fit/bin/pip install -e .
    peers-fit/bin/python benchmarks/bench_generalized_fit.py [--datasets 3] [--skip-de]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

TRUTH = dict(v=1.0, B=1.0, tau=1.5, t0=0.3)


def sdekit_model():
    from sdekit import ddm

    return ddm.DecisionModel(bound=ddm.Bound.exponential())


def simulate(seed, n):
    truth = dict(v=TRUTH["v"], a=2 * TRUTH["B"], tau=TRUTH["tau"], z=0.5, t0=TRUTH["t0"])
    return sdekit_model().simulate(n, truth, seed=seed)


def fit_sdekit(data):
    from sdekit import ddm

    fit = ddm.fit
    start = time.perf_counter()
    res = fit(data, model=sdekit_model(), fixed={"z": 0.5}, progress=False, n_jobs=1)
    seconds = time.perf_counter() - start
    p = res.params
    return seconds, dict(v=p["v"], B=p["a"] / 2, tau=p["tau"], t0=p["t0"])


def fit_pyddm(data, method, mixture):
    import pyddm

    model = pyddm.gddm(
        drift="v", noise=1.0,
        bound=lambda t, B, tau: B * np.exp(-t / tau),
        nondecision="t0", starting_position=0.0, mixture_coef=mixture,
        parameters={"v": (-3.0, 3.0), "B": (0.3, 3.0), "tau": (0.1, 10.0), "t0": (0.0, 0.6)},
        T_dur=float(np.ceil(data.rt.max() + 0.1)))
    sample = pyddm.Sample.from_pandas_dataframe(data, rt_column_name="rt",
                                                choice_column_name="response")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(sample, fitting_method=method, verbose=False)
    seconds = time.perf_counter() - start
    values = dict(zip(model.get_model_parameter_names(),
                      map(float, model.get_model_parameters()), strict=True))
    return seconds, dict(v=values["drift"], B=values["B"], tau=values["tau"],
                         t0=values["nondectime"])


def score(data, params):
    """Log-likelihood of ``params`` under sdekit's Fokker–Planck density at a fine grid."""
    model = sdekit_model()
    values = dict(v=params["v"], a=2 * params["B"], tau=params["tau"], z=0.5, t0=params["t0"])
    dens = model.pdf(data.rt.to_numpy(), data.response.to_numpy(), values, accuracy=1e-6)
    return float(np.sum(np.log(np.maximum(dens, 1e-300))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=3)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--skip-de", action="store_true",
                        help="skip PyDDM's default differential evolution (minutes per fit)")
    args = parser.parse_args(argv)
    fit_sdekit(simulate(99, 300))  # compile outside the timings
    rows = []
    for i in range(args.datasets):
        data = simulate(i, args.trials)
        t_sk, p_sk = fit_sdekit(data)
        entries = [("sdekit", t_sk, p_sk)]
        t_sx, p_sx = fit_pyddm(data, "simplex", 0.0)
        entries.append(("PyDDM simplex", t_sx, p_sx))
        if not args.skip_de:
            t_de, p_de = fit_pyddm(data, "differential_evolution", 0.02)
            entries.append(("PyDDM default (DE)", t_de, p_de))
        ll_sk = score(data, p_sk)
        for name, t, p in entries:
            rows.append((i, name, t, t / t_sk, score(data, p) - ll_sk, p))
    print(f"### Collapsing-bound fit, {args.trials} trials, {args.datasets} data sets "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n")
    print("| data set | fitter | seconds | time / sdekit | llf - sdekit's llf | v | B | tau | t0 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, name, t, ratio, dll, p in rows:
        print(f"| {i} | {name} | {t:.2f} | {ratio:.1f}x | {dll:+.3f} | {p['v']:.3f} | "
              f"{p['B']:.3f} | {p['tau']:.3f} | {p['t0']:.3f} |")
    print(f"\ntruth: v={TRUTH['v']}, B={TRUTH['B']}, tau={TRUTH['tau']}, t0={TRUTH['t0']}")


if __name__ == "__main__":
    main()

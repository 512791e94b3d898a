"""HSSM's hierarchical DDM fit of the Cavanagh theta data: the HSSM half of a side-by-side.

This script is the HSSM side of a side-by-side comparison of hierarchical Bayesian DDM fitting
(sdekit's own Bayesian layer is the other side). It imports nothing from sdekit and runs in its
own virtual environment, never sdekit's::

    python -m venv /tmp/hssm-venv && /tmp/hssm-venv/bin/pip install hssm "matplotlib<3.11"
    /tmp/hssm-venv/bin/python benchmarks/hssm_side.py --chains 2 --draws 500 --tune 500 \\
        --seed 1 --out result.json [--sampler default] [--cores 1] [--p-outlier 0.05] \\
        [--progress progress.tsv]

(``matplotlib<3.11``: with hssm 0.3.0's dependencies as pip resolved them, arviz-plots 0.8.0
fails to import under matplotlib 3.11, and with it hssm.)

Model
-----
HSSM's ``"ddm"`` model with its analytical likelihood (Navarro & Fuss 2009) and every HSSM
default left as it is: ``prior_settings="safe"`` (HDDM-style priors), identity links, a fixed
lapse probability 0.05 with a Uniform(0, 20) s lapse density over RT, and Bambi's non-centred
group effects and centred predictors. Trial ``i`` of participant ``j = 0, ..., 13``
(3,988 trials) has

.. math::

    v_i &= v_0 + v_\\theta (\\theta_i - \\bar\\theta) + \\sigma_v u_{v,j}, \\qquad
    x_j = x_0 + \\sigma_x u_{x,j} \\quad (x = a, z, t), \\qquad u_{\\cdot,j} \\sim N(0, 1),

    p(rt_i, c_i) &= 0.95\\, \\mathrm{WFPT}(rt_i, c_i \\mid v_i, a_j, z_j, t_j)
                  + 0.05\\, \\mathrm{Uniform}(rt_i; 0, 20),

with priors ``v_Intercept ~ Normal(2, 3)``, ``v_theta ~ Normal(0, 0.25)``,
``a_Intercept ~ Gamma(mu=1.5, sigma=0.75)``, ``z_Intercept ~ Beta(10, 10)``,
``t_Intercept ~ Gamma(mu=0.2, sigma=0.2)`` (the bounded ones truncated to their bounds, a no-op
here) and ``x_1|participant_id_sigma ~ Weibull(alpha=1.5, beta=0.3)`` for each of v, a, z, t.
In Bambi's terms: ``v ~ 1 + theta + (1|participant_id)``, ``a ~ 1 + (1|participant_id)``,
``z ~ 1 + (1|participant_id)``, ``t ~ 1 + (1|participant_id)``.

Conventions that matter when setting the numbers beside sdekit's: responses are coded -1/1
(1 = upper boundary, which a positive v drifts to); z is the start relative to the lower
boundary; HSSM's ``a`` is *half* the boundary separation (its likelihood uses ``2 a``);
the diffusion coefficient is 1. Bounds are soft: a trial whose parameters leave
a >= 0, 0 <= z <= 1, t >= 0 gets log-density -66.1 rather than -inf, and so does the DDM part
of a trial with rt <= t (before the lapse mixture, which then lifts it to about log(0.0025)).
``--p-outlier 0`` drops the lapse mixture, giving the plain hierarchical DDM.

Timing
------
``build_s`` is HSSM model construction (formula parsing, Bambi and PyMC graph). ``compile_s``
is the PyTensor compilation of the log-density and its gradient, done once before sampling so
that it lands in PyTensor's on-disk cache; ``sample()`` then recompiles mostly from that cache.
``wall_s`` is the wall time of ``HSSM.sample()`` with the pointwise log-likelihood turned off
(it is not needed here and costs a pass over every draw); ``sampler_reported_s`` is the
sampling time the sampler itself records, where it records one. A JAX or numba sampler
(numpyro, blackjax, nutpie) compiles its own function inside ``sample()``, so for those
``wall_s`` includes compilation. ``pip install hssm`` brings numpyro but neither nutpie nor
blackjax; install them into the same environment to use them.

For scale: on 2 cores with other work running, PyMC's NUTS here costs about 11 ms per
log-density and gradient (3,988 trials), and one chain of 200 tuning + 200 kept draws took
10 min, over half of it in the first ~110 tuning iterations (step size near 0.005, every
iteration at the early tree-depth cap of 255 steps).

Output
------
A JSON file with the settings, timings, versions, divergences, and, for each group-level
(population) parameter, the arviz summary (mean, sd, MCSE of the mean, bulk and tail ESS,
R-hat), plus the smallest bulk ESS over every sampled parameter and its name.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import arviz as az
import hssm
import numpy as np
import pymc as pm
import pytensor

FORMULAS = {
    "v": "v ~ 1 + theta + (1|participant_id)",
    "a": "a ~ 1 + (1|participant_id)",
    "z": "z ~ 1 + (1|participant_id)",
    "t": "t ~ 1 + (1|participant_id)",
}
SAMPLERS = ["default", "pymc", "nutpie", "numpyro", "blackjax"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="result.json")
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="default",
        help="'default' lets HSSM choose, as a user who names none would get",
    )
    parser.add_argument(
        "--cores",
        type=int,
        default=1,
        help="processes for the chains; 1 runs them one after another, so wall time is "
        "the sum over chains and other work on the machine matters less",
    )
    parser.add_argument(
        "--progress",
        metavar="FILE",
        help="PyMC sampler only: append one line per iteration (chain, iteration, tuning, "
        "seconds since sampling began, tree depth, leapfrog steps, step size), so a run "
        "stopped early still tells its rate",
    )
    parser.add_argument(
        "--p-outlier",
        type=float,
        default=0.05,
        help="HSSM's fixed lapse probability (its default, 0.05); 0 fits the plain DDM",
    )
    return parser.parse_args(argv)


def build_model(data, p_outlier):
    include = [{"name": name, "formula": formula} for name, formula in FORMULAS.items()]
    # HSSM takes None, not 0, to mean "no lapse component".
    return hssm.HSSM(
        data=data, model="ddm", include=include, p_outlier=p_outlier if p_outlier else None
    )


def compile_density(model):
    """Compile log-density and gradient once, so the cost is reported apart from sampling."""
    model.pymc_model.compile_logp()
    model.pymc_model.compile_dlogp()


def progress_logger(path):
    """A PyMC sampling callback writing one flushed line per NUTS iteration."""
    fh = open(path, "a")  # left open: it is written until the process ends
    fh.write("chain\titeration\ttuning\tseconds\ttree_depth\tn_steps\tstep_size\n")
    start = time.perf_counter()

    def callback(trace, draw):
        # Raw NUTS stats, before PyMC renames them tree_depth and n_steps in sample_stats.
        stats = draw.stats[0]
        fh.write(
            f"{draw.chain}\t{draw.draw_idx}\t{int(draw.tuning)}\t"
            f"{time.perf_counter() - start:.2f}\t{stats['depth']}\t{stats['tree_size']:.0f}\t"
            f"{stats['step_size']:.4g}\n"
        )
        fh.flush()

    return callback


def resolved_sampler(requested, idata):
    if requested != "default":
        return requested
    # HSSM picks numpyro only for approx_differentiable likelihoods on the jax backend
    # (hssm.py, HSSM.sample); the library PyMC records says which one actually ran.
    return idata.posterior.attrs.get("inference_library", "unknown")


def summarise(idata):
    posterior = idata.posterior
    # Trial-wise deterministics (one value per observation) are not parameters.
    names = [n for n, var in posterior.data_vars.items() if "__obs__" not in var.dims]
    summary = az.summary(idata, var_names=names, kind="all", round_to="none")

    group_level = [n for n in names if posterior[n].ndim == 2]  # (chain, draw) only
    columns = ["mean", "sd", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"]
    group = {name: {col: float(summary.loc[name, col]) for col in columns} for name in group_level}
    worst = summary["ess_bulk"].idxmin()
    return group, {
        "min_ess_bulk": float(summary.loc[worst, "ess_bulk"]),
        "min_ess_bulk_param": str(worst),
        "max_r_hat": float(summary["r_hat"].max()),
        "max_r_hat_param": str(summary["r_hat"].idxmax()),
        "n_summarised": int(len(summary)),
    }


def main(argv=None):
    args = parse_args(argv)
    # HSSM jitters its initial values with NumPy's global generator, not the sampler seed,
    # so only seeding that generator makes a run repeatable.
    np.random.seed(args.seed)  # noqa: NPY002
    data = hssm.load_data("cavanagh_theta")

    start = time.perf_counter()
    model = build_model(data, args.p_outlier)
    build_s = time.perf_counter() - start

    start = time.perf_counter()
    compile_density(model)
    compile_s = time.perf_counter() - start

    extra = {}
    if args.progress and args.sampler in ("default", "pymc"):
        extra["callback"] = progress_logger(args.progress)

    start = time.perf_counter()
    idata = model.sample(
        sampler=None if args.sampler == "default" else args.sampler,
        chains=args.chains,
        draws=args.draws,
        tune=args.tune,
        cores=args.cores,
        random_seed=args.seed,
        progressbar=False,
        idata_kwargs={"log_likelihood": False},
        **extra,
    )
    wall_s = time.perf_counter() - start

    group, overall = summarise(idata)
    stats = idata.sample_stats
    result = {
        "benchmark": "HSSM hierarchical DDM, cavanagh_theta",
        "formulas": FORMULAS,
        "p_outlier": args.p_outlier,
        "lapse": str(model.lapse) if args.p_outlier else None,
        "n_trials": int(len(data)),
        "n_participants": int(data["participant_id"].nunique()),
        "sampler_requested": args.sampler,
        "sampler": resolved_sampler(args.sampler, idata),
        "chains": args.chains,
        "draws": args.draws,
        "tune": args.tune,
        "cores": args.cores,
        "seed": args.seed,
        "build_s": build_s,
        "compile_s": compile_s,
        "wall_s": wall_s,
        "sampler_reported_s": idata.posterior.attrs.get("sampling_time"),
        "divergences": int(stats["diverging"].sum()) if "diverging" in stats else None,
        "mean_tree_depth": float(stats["tree_depth"].mean()) if "tree_depth" in stats else None,
        # Gradient evaluations spent on the kept draws (tuning is discarded with its stats):
        # with wall_s, the cost per evaluation, which compares across samplers and libraries.
        "leapfrog_steps_in_draws": int(stats["n_steps"].sum()) if "n_steps" in stats else None,
        "group_level": group,
        **overall,
        "versions": {
            "hssm": hssm.__version__,
            "pymc": pm.__version__,
            "arviz": az.__version__,
            "pytensor": pytensor.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "floatX": pytensor.config.floatX,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": list(os.getloadavg()),
    }
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "group_level"}, indent=2))
    for name, row in group.items():
        print(f"{name:32s} " + " ".join(f"{k}={v:.4g}" for k, v in row.items()))


if __name__ == "__main__":
    main()

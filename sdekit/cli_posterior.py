"""The ``sample-posterior`` subcommand: a hierarchical Bayesian DDM fit from a CSV of trials.

It reads the data as ``sdekit fit`` does (the same column options, the same printed record),
samples with :func:`sdekit.ddm.bayes.sample_posterior`, prints the posterior table and the
diagnostics in words, and writes the table (``-o``) and a quantile-probability plot of the
posterior predictive (``--plot``), each atomically. Ctrl-C stops the chains and keeps the draws
made so far.
"""

from __future__ import annotations

from pathlib import Path

from ._args import positive_int as _positive_int

__all__ = ["add_posterior_command"]


def _run(args):
    from .cli import UsageError, _check_output, _read_trials, write_table

    if (args.data is None) == (not args.example):
        raise UsageError("give a data file, or --example to use the bundled example data set")
    if args.output is not None:
        _check_output(args.output, (".csv", ".parquet"), "output file")
    if args.plot is not None:
        _check_output(args.plot, (".png",), "plot file")
    try:
        from .ddm import bayes
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    from .ddm.data import DataError

    depends_on = dict(args.depends_on)
    if args.example:
        from .ddm.example import example_path

        data = str(example_path())
        depends_on = depends_on or {"v": "stim"}
    else:
        data = args.data
        if not Path(data).exists():
            raise UsageError(f"data file {data} does not exist")
    free = None if args.free is None else [x.strip() for x in args.free.split(",") if x.strip()]
    try:
        trials = _read_trials(args, data)
        post = bayes.sample_posterior(
            trials, args.model, free=free, fixed=dict(args.fix) or None,
            depends_on=depends_on or None, p_outlier=args.p_outlier,
            hierarchical=not args.no_hierarchy, draws=args.draws, tune=args.tune,
            chains=args.chains, cores=args.cores, seed=args.seed, sampler=args.sampler,
            progress=not args.no_progress)
    except (DataError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(post)
    table = post.summary("group")
    print(table.to_string(index=False))
    if args.output is not None:
        full = post.summary("all")
        write_table(full, args.output)
        print(f"wrote {len(full)} rows (group and subject parameters) to {args.output}")
    if args.plot is not None:
        post.plot_ppc(by=args.ppc_by, path=args.plot)
        print(f"wrote the posterior predictive quantile-probability plot to {args.plot}")


def add_posterior_command(commands):
    """Add ``sample-posterior`` to the ``sdekit`` command's subparsers; returns its parser."""
    from .cli import _add_data_options, _depends_item, _named_value, _p_outlier

    p = commands.add_parser(
        "sample-posterior", help="hierarchical Bayesian DDM fit: posterior draws per subject "
                                 "and group",
        description=(
            "Sample the posterior of a hierarchical drift-diffusion model fitted to a CSV with "
            "one row per trial (the same layouts as 'sdekit fit'). Each free parameter has a "
            "group mean and spread and one value per subject (sv, sz, st one value for the "
            "group). Prints the group-level posterior (mean, sd, 94 percent HDI, R-hat, "
            "effective sample sizes) and what the diagnostics mean. Needs the optional "
            "dependencies: pip install 'sdekit[bayes]'."),
        epilog="examples: 'sdekit sample-posterior --example'; 'sdekit sample-posterior "
               "cavanagh.csv --depends-on v=\"1 + theta\" --chains 4 -o posterior.csv --plot "
               "ppc.png'")
    p.add_argument("data", nargs="?", default=None, help="CSV file of trials")
    p.add_argument("--example", action="store_true",
                   help="the bundled example data set (6 subjects, v depends on stim)")
    p.add_argument("--model", choices=["simple", "full"], default="simple",
                   help="simple: v, a, z, t0; full: also sv, sz, st (default simple)")
    p.add_argument("--depends-on", type=_depends_item, action="append", default=[],
                   metavar="PARAM=COLUMN",
                   help="a group mean and spread of PARAM per level of COLUMN (repeatable), or "
                        "a regression such as v='1 + theta' on the parameter's link scale "
                        "(intercept per subject, slopes for the group)")
    p.add_argument("--fix", type=_named_value, action="append", default=[],
                   metavar="NAME=VALUE", help="hold a parameter fixed, e.g. z=0.5 (repeatable)")
    p.add_argument("--free", default=None, metavar="P[,P...]",
                   help="parameters to estimate (default: all of the model's not fixed)")
    p.add_argument("--p-outlier", type=_p_outlier, default=None, metavar="P|free",
                   help="uniform contaminant mixture: a fixed probability or 'free'")
    p.add_argument("--no-hierarchy", action="store_true",
                   help="fit each subject independently (no group level)")
    p.add_argument("--draws", type=_positive_int, default=1000,
                   help="kept draws per chain (default 1000)")
    p.add_argument("--tune", type=_positive_int, default=1000,
                   help="tuning steps per chain, discarded (default 1000)")
    p.add_argument("--chains", type=_positive_int, default=4, help="chains (default 4)")
    p.add_argument("--cores", type=_positive_int, default=None,
                   help="chains run at once (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the chains (default 0)")
    p.add_argument("--sampler", choices=["nutpie", "pymc"], default="nutpie",
                   help="NUTS of nutpie on the compiled model (default) or of PyMC")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_options(p)
    p.add_argument("-o", "--output", default=None,
                   help="write the posterior table (group and subjects) to this .csv or "
                        ".parquet file")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="write a quantile-probability plot of the posterior predictive")
    p.add_argument("--ppc-by", default=None, metavar="COLUMN",
                   help="condition column the plot's cells are split by, e.g. stim")
    p.set_defaults(run=_run)
    return p

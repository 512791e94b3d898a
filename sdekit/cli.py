"""The ``sdekit`` command line.

Every subcommand validates its input before doing any work, reports a bad argument in one line
that says how to fix it (exit status 2), and writes its output file atomically: a failed run never
leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from ._args import positive_float as _positive_float
from ._args import positive_int as _positive_int
from ._io import atomic_write

__all__ = ["main"]


class UsageError(Exception):
    """A problem with the user's input, reported without a traceback."""


def _float_list(text):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 1,0.5, got {text!r}"
        ) from None


def write_table(frame, path):
    """Write a DataFrame to CSV or Parquet (by extension) atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"output file {path} must end in .csv or .parquet")
    if not path.parent.exists():
        raise UsageError(f"output folder {path.parent} does not exist")

    def write(tmp):
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
            return
        try:
            frame.to_parquet(tmp, index=False)
        except ImportError:
            raise UsageError(
                "writing Parquet needs pyarrow: pip install 'sdekit[parquet]', or write .csv"
            ) from None

    atomic_write(path, write)


def _simulate_wiener(args):
    import numpy as np

    from .sde import WienerProcess

    dim = args.dim
    D = args.D if len(args.D) > 1 else args.D * dim
    if len(D) != dim:
        raise UsageError(f"--D has {len(D)} values but --dim is {dim}")
    corr = None
    if args.corr is not None:
        if dim != 2:
            raise UsageError("--corr sets the correlation of two dimensions: use it with --dim 2")
        if not -1 < args.corr < 1:
            raise UsageError(f"--corr must lie strictly between -1 and 1, got {args.corr}")
        corr = [[1.0, args.corr], [args.corr, 1.0]]
    try:
        process = WienerProcess(dim=dim, D=D, corr=corr)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    times = np.linspace(0.0, args.t_end, args.steps + 1)
    if args.bridge_to is not None:
        end = args.bridge_to if len(args.bridge_to) > 1 else args.bridge_to * dim
        if len(end) != dim:
            raise UsageError(f"--bridge-to has {len(end)} values but --dim is {dim}")
        paths = process.bridge(times, end, n_paths=args.paths, seed=args.seed)
    else:
        paths = process.sample(times, n_paths=args.paths, seed=args.seed)
    import pandas as pd

    n_paths, n_times, _ = paths.shape
    data = {"path": np.repeat(np.arange(n_paths), n_times), "time": np.tile(times, n_paths)}
    for k in range(dim):
        data["x" if dim == 1 else f"x{k}"] = paths[:, :, k].ravel()
    frame = pd.DataFrame(data)
    if args.output is None:
        print(frame.to_string(index=False, max_rows=20))
    else:
        write_table(frame, args.output)
        print(f"wrote {n_paths} paths x {n_times} times to {args.output}")


_MODELS = {
    "bm": ("BrownianMotion", "Brownian motion with drift: dx = mu dt + sigma dW"),
    "ou": ("OrnsteinUhlenbeck", "Ornstein-Uhlenbeck: dx = theta (mu - x) dt + sigma dW"),
    "gbm": ("GeometricBrownianMotion", "geometric Brownian motion: dx = mu x dt + sigma x dW"),
}


def _named_value(text):
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE such as theta=2, got {text!r}"
        ) from None


def _simulate_sde(args):
    import numpy as np

    from . import sde as engine

    model = getattr(engine, _MODELS[args.model][0])(dim=args.dim)
    times = np.linspace(0.0, args.t_end, args.saves + 1)
    try:
        solution = engine.solve(model, args.x0, times, dt=args.dt, n_paths=args.paths,
                                params=dict(args.param), method=args.method, seed=args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    frame = solution.to_pandas()
    if args.output is None:
        print(frame.to_string(index=False, max_rows=20))
    else:
        write_table(frame, args.output)
        print(f"wrote {args.paths} paths x {times.size} times of {model!r} to {args.output}")


def _simulate_ddm(args):
    import pandas as pd

    values = dict(v=args.v, a=args.a, z=args.z, t0=args.t0, sv=args.sv, sz=args.sz, st=args.st)
    try:
        if args.method == "exact":
            from .ddm.sampling import sample_ddm

            rt, response = sample_ddm(args.n, seed=args.seed, **values)
            frame = pd.DataFrame({"rt": rt, "response": response})
        else:
            from .ddm.simulate import simulate_ddm_euler

            frame = simulate_ddm_euler(args.n, dt=args.dt, seed=args.seed, **values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    frame.insert(0, "subj_idx", 0)
    if args.output is None:
        print(frame.to_string(index=False, max_rows=20))
    else:
        write_table(frame, args.output)
        up = (frame["response"] == 1).mean()
        print(f"wrote {len(frame)} trials to {args.output} (P(upper) {up:.3f}, "
              f"mean rt {frame['rt'].mean():.3f} s)")


def _depends_item(text):
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise argparse.ArgumentTypeError(
            f"expected PARAM=COLUMN such as v=stim (or v='1 + C(stim) + coherence'), got {text!r}"
        )
    spec = spec.strip()
    if "," in spec and not any(ch in spec for ch in "+()~"):
        return name.strip(), [c.strip() for c in spec.split(",")]
    return name.strip(), spec


def _p_outlier(text):
    if text == "free":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a probability such as 0.05, or 'free', got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {value}")
    return value


def _check_output(path, suffixes, what):
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{what} {path} must end in {' or '.join(suffixes)}")
    if not path.parent.exists():
        raise UsageError(f"output folder {path.parent} does not exist")


#: How ``sdekit fit`` spells the arguments of ``ddm.read_csv``, so that the fix a data message
#: suggests is a flag the user can type.
_DATA_OPTIONS = {
    "rt": "--rt", "response": "--response", "subject": "--subject",
    "subject=None": "--one-subject", "correct": "--correct", "stimulus": "--stimulus",
    "rt_unit": "--rt-unit", "sep": "--sep", "sep='\\t'": "--sep tab", "encoding": "--encoding",
    "missing_codes": "--missing-codes", "missing_codes=()": "--missing-codes none",
    "min_trials": "--min-trials",
}


def _separator(text):
    return "\t" if text.lower() in ("tab", "\\t") else text


def _missing_codes(text):
    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 999,-1, or 'none', got {text!r}"
        ) from None


def _read_trials(args, path):
    """The trials of ``path`` read with the column options, and the record printed.

    Problems come back phrased with this command's flags; what was assumed (units, response
    coding, a subject column recognised by its name) is printed before the fit.
    """

    from .ddm.data import DataWarning, describe, read_csv

    # Options left out keep read_csv's defaults, which the help text states.
    given = {"sep": args.sep, "encoding": args.encoding, "missing_codes": args.missing_codes,
             "min_trials": args.min_trials}
    options = {k: v for k, v in given.items() if v is not None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        df = read_csv(path, rt=args.rt, response=args.response,
                      subject=None if args.one_subject else args.subject, correct=args.correct,
                      stimulus=args.stimulus, rt_unit=args.rt_unit, option_names=_DATA_OPTIONS,
                      **options)
    for w in caught:
        if not issubclass(w.category, DataWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    # The record's warnings are the DataWarnings just caught: printed once, with the record.
    print(describe(df), flush=True)
    return df


def _fit(args):
    if (args.data is None) == (not args.example):
        raise UsageError("give a data file, or --example to fit the bundled example data set")
    if args.output is not None:
        _check_output(args.output, (".csv", ".parquet"), "output file")
    if args.plot is not None:
        _check_output(args.plot, (".png",), "plot file")
    from .ddm.data import DataError
    from .ddm.fitting import fit

    if args.one_subject and args.subject != "subj_idx":
        raise UsageError("--one-subject takes all trials as one subject: leave out --subject")
    if args.stimulus is not None and args.correct is None:
        raise UsageError("--stimulus is used with --correct (accuracy-coded data); for "
                         "choice-coded data give --response only")
    depends_on = dict(args.depends_on)
    by = args.by
    if args.example:
        from .ddm.example import example_path

        data = str(example_path())
        if not depends_on:
            depends_on = {"v": "stim"}
        by = by or "subj_idx"
    else:
        data = args.data
        if not Path(data).exists():
            raise UsageError(f"data file {data} does not exist")
    free = None if args.free is None else [x.strip() for x in args.free.split(",") if x.strip()]
    model = args.model
    if model not in ("simple", "full"):
        from .ddm.generalized import model_from_text

        try:
            model = model_from_text(model)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.intervals == "profile":
        if args.method != "mle":
            raise UsageError("--intervals profile needs a maximum-likelihood fit (--method mle)")
        from .ddm.fit_model import profile_refusal

        refusal = profile_refusal(model)
        if refusal:
            raise UsageError(f"--intervals profile: {refusal}; or use the default Wald "
                             "intervals")
    try:
        data = _read_trials(args, data)
        if by is not None and by == data.attrs["sdekit"]["columns"]["subj_idx"]:
            # The subject column is read as subj_idx, whatever the file calls it.
            by = "subj_idx"
        n_subjects = data.attrs["sdekit"].get("n_subjects", 1)
        if by is None and n_subjects > 1:
            print(f"note: the {n_subjects} subjects' trials are pooled into one fit; "
                  "--by subj_idx fits each subject", flush=True)
        res = fit(data, model=model, free=free, fixed=dict(args.fix) or None,
                  depends_on=depends_on or None, by=by, p_outlier=args.p_outlier,
                  method=args.method, starts=args.starts, seed=args.seed,
                  progress=not args.no_progress, n_jobs=args.jobs, scheduler=args.scheduler,
                  search=args.search, min_rt=args.min_rt,
                  **({} if args.min_trials is None else {"min_trials": args.min_trials}))
    except (DataError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    single = by is None
    print(res.summary(method=args.intervals) if single else res.summary())
    if args.plot is not None:
        res.plot(args.plot)
        print(f"wrote plots to {args.plot}")
    if args.output is not None:
        if args.intervals == "profile" and not single:
            print(f"profile-likelihood intervals for {len(res)} fits ...", flush=True)
        frame = res.to_frame(method=args.intervals)
        if single:
            frame["converged"] = res.converged
            frame["llf"] = res.llf
            frame["nobs"] = res.nobs
        write_table(frame, args.output)
        print(f"wrote {len(frame)} rows to {args.output}")


def _add_fit_command(commands):
    """The ``fit`` subcommand: its options, and its data options (:func:`_add_data_options`)."""
    fitp = commands.add_parser(
        "fit", help="fit a drift-diffusion model to a CSV of trials",
        description=(
            "Fit a drift-diffusion model by maximum likelihood to a CSV with one row per trial: "
            "rt (seconds, or milliseconds, detected), response (1 upper / 0 lower boundary), "
            "optionally subj_idx and condition columns. Prints the parameter table (estimate, "
            "standard error, 95 percent Wald interval) and writes it with -o. Conventions: a is "
            "the full boundary separation, z the relative start, t0 the non-decision time (s)."
        ),
        epilog="examples: 'sdekit fit --example'; 'sdekit fit data.csv --model full "
               "--depends-on v=stim --by subj_idx -o fits.csv --plot fits.png'; 'sdekit fit "
               "lab.csv --rt RT_ms --subject participant --correct acc --by participant'",
    )
    fitp.add_argument("data", nargs="?", default=None, help="CSV file of trials")
    fitp.add_argument("--example", action="store_true",
                      help="fit the bundled example data set (6 subjects, v depends on stim)")
    fitp.add_argument("--model", default="simple", metavar="MODEL",
                      help="simple: v, a, z, t0; full: also sv, sz, st (default simple). "
                           "Generalized models: built-in components such as "
                           "'drift=leaky,bound=weibull,urgency=linear' (drift constant|leaky|"
                           "linear_in_time|scaled_by:COLUMN, bound constant|linear|exponential|"
                           "weibull, start point|uniform, nondecision point|uniform, urgency "
                           "linear), 'race', 'lca' or 'lca:COLUMN' (simulated likelihood; "
                           "COLUMN: stimulus strength), or FILE.py:NAME "
                           "for a model defined in your own file (see docs/models.md)")
    fitp.add_argument("--depends-on", type=_depends_item, action="append", default=[],
                      metavar="PARAM=COLUMN",
                      help="one value of PARAM per level of COLUMN (repeatable), or a formula "
                           "such as v='1 + C(stim) + coherence' (a, sv, st on the log "
                           "scale, z on the logit scale; see docs/fitting.md)")
    fitp.add_argument("--fix", type=_named_value, action="append", default=[],
                      metavar="NAME=VALUE", help="hold a parameter fixed, e.g. z=0.5 "
                                                 "(repeatable)")
    fitp.add_argument("--free", default=None, metavar="P[,P...]",
                      help="parameters to estimate (default: all of the model's not fixed)")
    fitp.add_argument("--by", default=None, metavar="COLUMN",
                      help="fit each level separately, e.g. subj_idx (default: pool all trials)")
    fitp.add_argument("--p-outlier", type=_p_outlier, default=None, metavar="P|free",
                      help="uniform contaminant mixture: a fixed probability or 'free'")
    fitp.add_argument("--min-rt", type=_positive_float, default=None, metavar="SECONDS",
                      help="exclude trials with an RT below this many seconds before fitting, "
                           "e.g. 0.1 for anticipatory responses (the rows excluded are "
                           "listed in the output); by default nothing is excluded and fast "
                           "RTs are flagged")
    fitp.add_argument("--method", choices=["mle", "qmp"], default="mle",
                      help="maximum likelihood (default) or quantile maximum probability")
    fitp.add_argument("--starts", type=_positive_int, default=4,
                      help="at most this many starting points (default 4)")
    fitp.add_argument("--search", choices=["local", "global"], default="local",
                      help="'global' (full DDM): also fit with sz held across its range and "
                           "search again from the best; finds wide-window maxima the default "
                           "search can miss, at about ten times the cost")
    fitp.add_argument("--intervals", choices=["wald", "profile"], default="wald",
                      help="95%% intervals in the summary and output file: 'wald' (estimate "
                           "+/- 1.96 SE, instant; default) or 'profile' (profile likelihood: "
                           "about ten refits per bound, so seconds per parameter for the full "
                           "DDM; better where the likelihood is skewed, as for t0, sz and st)")
    fitp.add_argument("--seed", type=int, default=0, help="seed of the jittered starts")
    fitp.add_argument("--jobs", type=_positive_int, default=None,
                      help="worker processes for several subjects (default: all cores)")
    fitp.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="run the fits on a Dask cluster at ADDRESS, or 'local' for an "
                           "embedded one")
    fitp.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_options(fitp)
    fitp.add_argument("-o", "--output", default=None,
                      help="write the parameter table to this .csv or .parquet file")
    fitp.add_argument("--plot", default=None, metavar="PNG",
                      help="write quantile-probability plots and RT histograms to this PNG")
    fitp.set_defaults(run=_fit)

def _add_data_options(fitp):
    columns = fitp.add_argument_group(
        "data columns and coding",
        "Which columns of the CSV hold what, for files not in HDDM's layout (rt, response, "
        "subj_idx). What was assumed is printed before the fit.")
    columns.add_argument("--rt", default="rt", metavar="COLUMN",
                         help="column of reaction times (default rt)")
    columns.add_argument("--rt-unit", choices=["auto", "s", "ms"], default="auto",
                         help="unit of the RTs: auto (default) takes milliseconds when the median "
                              "RT is above 100 and seconds when it is below 10")
    columns.add_argument("--response", default="response", metavar="COLUMN",
                         help="column of choices: 1 upper boundary, 0 or -1 (HSSM) lower "
                              "(default response)")
    columns.add_argument("--subject", default="subj_idx", metavar="COLUMN",
                         help="column identifying subjects (default subj_idx; without it a "
                              "column named participant_id, subject, subj or id is used, and "
                              "said so)")
    columns.add_argument("--one-subject", action="store_true",
                         help="all trials come from one subject (ignore subject-like columns)")
    columns.add_argument("--correct", default=None, metavar="COLUMN",
                         help="accuracy-coded data: column of 1 correct / 0 error, used "
                              "instead of --response; the upper boundary is the correct answer")
    columns.add_argument("--stimulus", default=None, metavar="COLUMN",
                         help="with --correct: column of the stimulus, 1 or 0 (or -1), for "
                              "stimulus coding; the upper boundary is the response to stimulus 1")
    columns.add_argument("--sep", type=_separator, default=None, metavar="SEP",
                         help="field separator of the CSV, e.g. ';' or tab (default: comma)")
    columns.add_argument("--encoding", default=None,
                         help="text encoding of the CSV, e.g. latin-1 (default utf-8)")
    columns.add_argument("--missing-codes", type=_missing_codes, default=None,
                         metavar="X[,X...]|none",
                         help="RT values meaning 'no response', refused rather than fitted "
                              "(default 999,-999,-1; 'none' turns the check off)")
    columns.add_argument("--min-trials", type=int, default=None, metavar="N",
                         help="fewest trials per subject and condition (default 10; 0 turns "
                              "the check off)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sdekit",
        description=(
            "Stochastic differential equations from the command line. Run "
            "'sdekit COMMAND --help' for the options of each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"sdekit {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    simulate = commands.add_parser(
        "simulate", help="simulate processes and write them to CSV or Parquet",
        description="Simulate processes and write them to CSV or Parquet.",
    )
    kinds = simulate.add_subparsers(dest="kind", metavar="KIND")
    _add_wiener_command(kinds)
    _add_sde_command(kinds)
    _add_ddm_command(kinds)

    _add_fit_command(commands)

    from .cli_posterior import add_posterior_command

    add_posterior_command(commands)

    from .score.cli import add_cli as add_sample_command

    add_sample_command(commands)
    return parser


def _add_wiener_command(kinds):
    """The 'sdekit simulate wiener' command and its options."""
    wiener = kinds.add_parser(
        "wiener",
        help="Wiener process dx = sqrt(D) dW (exact increments)",
        description=(
            "Simulate a Wiener process dx = sqrt(D) dW on an even time grid with exact Gaussian "
            "increments. Output: one row per path and time with columns path, time and x "
            "(or x0, x1, ... for several dimensions)."
        ),
        epilog="example: sdekit simulate wiener --dim 2 --D 0.5 --paths 100 --steps 50 "
               "-o paths.csv",
    )
    wiener.add_argument("--dim", type=_positive_int, default=1, help="dimensions (default 1)")
    wiener.add_argument("--D", type=_float_list, default=[1.0], metavar="D[,D...]",
                        help="diffusion coefficient, one or one per dimension (default 1)")
    wiener.add_argument("--corr", type=float, default=None,
                        help="correlation between the two dimensions (with --dim 2)")
    wiener.add_argument("--paths", type=_positive_int, default=10, help="number of paths")
    wiener.add_argument("--steps", type=_positive_int, default=100, help="number of time steps")
    wiener.add_argument("--t-end", type=_positive_float, default=1.0,
                        help="final time (default 1)")
    wiener.add_argument("--bridge-to", type=_float_list, default=None, metavar="X[,X...]",
                        help="pin the paths to this value at the final time (Brownian bridge)")
    wiener.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    wiener.add_argument("-o", "--output", default=None,
                        help="output .csv or .parquet file (default: print a preview)")
    wiener.set_defaults(run=_simulate_wiener)


def _add_sde_command(kinds):
    """The 'sdekit simulate sde' command and its options."""
    sde = kinds.add_parser(
        "sde",
        help="a built-in SDE (bm, ou, gbm) by Euler-Maruyama or Milstein",
        description="Simulate a built-in SDE. Models: " + "; ".join(
            f"{key}: {text}" for key, (_, text) in _MODELS.items()) + ".",
        epilog="example: sdekit simulate sde --model ou --param theta=2 --param sigma=0.5 "
               "--x0 1 --t-end 2 --dt 0.001 --saves 20 --paths 100 -o ou.csv",
    )
    sde.add_argument("--model", choices=sorted(_MODELS), required=True, help="which SDE")
    sde.add_argument("--param", type=_named_value, action="append", default=[],
                     metavar="NAME=VALUE",
                     help="set a parameter (repeatable); bm, gbm: mu, sigma; ou: theta, mu, sigma")
    sde.add_argument("--dim", type=_positive_int, default=1, help="dimensions (default 1)")
    sde.add_argument("--x0", type=float, default=0.0, help="initial value (default 0)")
    sde.add_argument("--t-end", type=_positive_float, default=1.0, help="final time")
    sde.add_argument("--dt", type=_positive_float, required=True, help="largest time step")
    sde.add_argument("--saves", type=_positive_int, default=10,
                     help="number of equal intervals at whose ends the state is written")
    sde.add_argument("--method", choices=["euler_maruyama", "milstein"],
                     default="euler_maruyama", help="scheme (default euler_maruyama)")
    sde.add_argument("--paths", type=_positive_int, default=10, help="number of paths")
    sde.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sde.add_argument("-o", "--output", default=None,
                     help="output .csv or .parquet file (default: print a preview)")
    sde.set_defaults(run=_simulate_sde)


def _add_ddm_command(kinds):
    """The 'sdekit simulate ddm' command and its options."""
    ddm = kinds.add_parser(
        "ddm",
        help="drift-diffusion trials (rt, response) in the format 'sdekit fit' reads",
        description=(
            "Simulate drift-diffusion decision trials. Conventions: a is the full boundary "
            "separation, z the relative start in (0, 1), t0 the non-decision time in seconds, "
            "unit diffusion coefficient; response 1 = upper boundary, 0 = lower. Output columns: "
            "subj_idx, rt, response."
        ),
        epilog="example: sdekit simulate ddm --v 1 --a 1.5 --t0 0.3 -n 1000 -o trials.csv",
    )
    ddm.add_argument("--v", type=float, required=True, help="drift rate")
    ddm.add_argument("--a", type=_positive_float, required=True, help="boundary separation")
    ddm.add_argument("--z", type=float, default=0.5, help="relative start point (default 0.5)")
    ddm.add_argument("--t0", type=float, default=0.0, help="non-decision time, s (default 0)")
    ddm.add_argument("--sv", type=float, default=0.0, help="drift variability (default 0)")
    ddm.add_argument("--sz", type=float, default=0.0, help="start-point variability (default 0)")
    ddm.add_argument("--st", type=float, default=0.0,
                     help="non-decision variability: window [t0, t0 + st] (default 0)")
    ddm.add_argument("-n", type=_positive_int, default=1000, help="number of trials")
    ddm.add_argument("--method", choices=["exact", "euler"], default="exact",
                     help="exact sampling (default) or simulation on the SDE engine")
    ddm.add_argument("--dt", type=_positive_float, default=1e-3,
                     help="time step for --method euler (default 0.001 s)")
    ddm.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ddm.add_argument("-o", "--output", default=None,
                     help="output .csv or .parquet file (default: print a preview)")
    ddm.set_defaults(run=_simulate_ddm)


def _version():
    from . import __version__

    return __version__


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as a user of the command line reads them: the category and the text, no
    source location."""
    print(f"sdekit: {category.__name__}: {message}", file=sys.stderr if file is None else file,
          flush=True)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            run(args)
    except UsageError as exc:
        print(f"sdekit: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of our output left (``sdekit simulate ... | head``): not an error of
        # ours. Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``sdekit`` command line.

Every subcommand validates its input before doing any work, reports a bad argument in one line
that says how to fix it (exit status 2), and writes its output file atomically: a failed run never
leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]


class UsageError(Exception):
    """A problem with the user's input, reported without a traceback."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            try:
                frame.to_parquet(tmp, index=False)
            except ImportError:
                raise UsageError(
                    "writing Parquet needs pyarrow: pip install 'sdekit[parquet]', "
                    "or write .csv"
                ) from None
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sdekit",
        description=(
            "Stochastic differential equations: simulate Wiener processes and SDEs, fit "
            "drift-diffusion models, sample score-based models. Run 'sdekit COMMAND --help' "
            "for the options of each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"sdekit {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    simulate = commands.add_parser(
        "simulate", help="simulate processes and write them to CSV or Parquet",
        description="Simulate processes and write them to CSV or Parquet.",
    )
    kinds = simulate.add_subparsers(dest="kind", metavar="KIND")
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
    return parser


def _version():
    from . import __version__

    return __version__


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        run(args)
    except UsageError as exc:
        print(f"sdekit: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

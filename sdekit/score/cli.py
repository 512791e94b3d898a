"""The ``sample`` subcommand: train on a bundled toy set or load a saved model, then sample.

``add_cli(subparsers)`` adds it to the ``sdekit`` command. Bad input is reported in one line on
stderr with exit status 2, before any work is done, and output files are written atomically.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .._args import positive_int as _positive_int
from .._io import atomic_write

__all__ = ["add_cli", "run"]

_SAMPLE_SUFFIXES = (".csv", ".npy")


def add_cli(subparsers):
    """Add the ``sample`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    from .datasets import TOY_DATASETS
    from .sampling import METHODS

    p = subparsers.add_parser(
        "sample",
        help="train a score model on a toy data set (or load one) and draw samples",
        description=(
            "Draw samples from a score-based generative model. Either train one on a bundled "
            "2-D toy data set (--toy) or load a model saved earlier (--model). Samples go to "
            "CSV or NPY; --plot adds a scatter plot. Example: sdekit sample --toy two_moons "
            "--out moons.csv --plot moons.png"
        ),
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--toy", choices=TOY_DATASETS, help="train on this bundled toy data set")
    source.add_argument("--model", metavar="FILE", help="a model written by --save-model")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="where to write the samples (.csv with columns x0, x1, ... or .npy)")
    p.add_argument("--n", type=_positive_int, default=1000, help="number of samples (1000)")
    p.add_argument("--method", choices=METHODS, default="probability_flow",
                   help="sampler (probability_flow)")
    p.add_argument("--steps", type=_positive_int, default=100,
                   help="sampler steps (100); score evaluations are 2x this for "
                        "probability_flow")
    p.add_argument("--seed", type=int, default=0, help="seed of training and sampling (0)")
    p.add_argument("--train-steps", type=_positive_int, default=3000,
                   help="optimiser steps when training with --toy (3000)")
    p.add_argument("--train-size", type=_positive_int, default=20000,
                   help="number of toy data points to train on (20000)")
    p.add_argument("--save-model", metavar="FILE", help="also save the trained model here")
    p.add_argument("--plot", metavar="PNG", help="write a scatter plot of the samples")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
    return p


def _fail(message):
    print(f"sdekit: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _check_output(path, suffixes, what):
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        _fail(f"{what} {path} must end in {' or '.join(suffixes)}")
    if not path.parent.exists():
        _fail(f"output folder {path.parent} does not exist")
    return path


def run(args):
    """Carry out ``sdekit sample`` for parsed ``args``."""
    import numpy as np

    out = _check_output(args.out, _SAMPLE_SUFFIXES, "output file")
    plot = _check_output(args.plot, (".png",), "plot file") if args.plot else None
    save = _check_output(args.save_model, (".pt",), "model file") if args.save_model else None
    if plot is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            _fail("--plot needs matplotlib: pip install 'sdekit[plot]'")
    try:
        import torch  # noqa: F401
    except ImportError:
        _fail("score models need PyTorch: pip install torch")
    from .datasets import make_toy
    from .train import ScoreModel

    if args.model:
        try:
            model = ScoreModel.load(args.model)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
    else:
        data = make_toy(args.toy, args.train_size, seed=args.seed)
        model = ScoreModel().fit(data, steps=args.train_steps, seed=args.seed,
                                 progress=not args.quiet)
        if save is not None:
            atomic_write(save, model.save)
    x = model.sample(args.n, method=args.method, steps=args.steps, seed=args.seed)
    if out.suffix.lower() == ".npy":
        atomic_write(out, lambda tmp: np.save(tmp, x))
    else:
        header = ",".join(f"x{k}" for k in range(x.shape[1]))
        atomic_write(out, lambda tmp: np.savetxt(tmp, x, delimiter=",", header=header, comments=""))
    if plot is not None:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(x[:, 0], x[:, 1] if x.shape[1] > 1 else np.zeros(len(x)), s=2, alpha=0.5)
        ax.set_aspect("equal")
        ax.set_title(f"{args.n} samples, {args.method}, {args.steps} steps")
        atomic_write(plot, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
        plt.close(fig)
    print(f"wrote {args.n} samples to {out}" + (f" and a plot to {plot}" if plot else ""))

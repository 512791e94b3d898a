"""The ``sample`` subcommand: train on a bundled data set or load a saved model, then sample.

``add_cli(subparsers)`` adds it to the ``sdekit`` command. Bad input is reported in one line on
stderr with exit status 2, before any work is done, and output files are written atomically.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from .._args import non_negative_float as _non_negative_float
from .._args import non_negative_int as _non_negative_int
from .._args import positive_int as _positive_int
from .._io import atomic_write

__all__ = ["add_cli", "run"]

_SAMPLE_SUFFIXES = (".csv", ".npy")
# optimiser steps by default: 2-D toy sets train fast, the digits U-Net needs fewer, costlier steps
_TRAIN_STEPS = {"toy": 3000, "digits": 1000}


def add_cli(subparsers):
    """Add the ``sample`` subcommand to an ``argparse`` subparsers object; returns its parser."""
    from .datasets import IMAGE_DATASETS, TOY_DATASETS
    from .sampling import FLOW_METHODS, METHODS

    p = subparsers.add_parser(
        "sample",
        help="train a score model on a bundled data set (or load one) and draw samples",
        description=(
            "Draw samples from a score-based generative model. Either train one on a bundled "
            "2-D toy data set (--toy) or on scikit-learn's 8x8 digits (--dataset digits: a "
            "class-conditional U-Net), or load a model saved earlier (--model). Samples go to "
            "CSV or NPY; --plot adds a scatter plot (2-D data) or an image grid (images). "
            "--flow trains by flow matching (rectified flow) instead of score matching and "
            "samples with the flow ODE. "
            "Examples: sdekit sample --toy two_moons --out moons.csv --plot moons.png; "
            "sdekit sample --toy ring --flow --method flow_euler --steps 10 --out ring.csv; "
            "sdekit sample --dataset digits --label 3 --guidance 2 --n 64 --out threes.npy "
            "--plot threes.png"
        ),
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--toy", choices=TOY_DATASETS, help="train on this bundled toy data set")
    source.add_argument("--dataset", choices=IMAGE_DATASETS,
                        help="train a class-conditional U-Net on these images (digits: "
                             "scikit-learn's 8x8 digits, needs scikit-learn)")
    source.add_argument("--model", metavar="FILE", help="a model written by --save-model")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="where to write the samples (.csv with columns x0, x1, ... or .npy; "
                        "images are flattened in CSV and keep their shape (n, C, H, W) in NPY)")
    p.add_argument("--n", type=_positive_int, default=1000, help="number of samples (1000)")
    p.add_argument("--flow", action="store_true",
                   help="train by flow matching on the optimal-transport path (rectified "
                        "flow): the network learns a velocity, sampled by flow_euler or "
                        "flow_heun (a saved model keeps the objective it was trained with)")
    p.add_argument("--method", choices=METHODS + FLOW_METHODS, default=None,
                   help="sampler (probability_flow for a score model, flow_heun for a flow "
                        "model); the flow_ methods need a flow model, the others a score model")
    p.add_argument("--steps", type=_positive_int, default=100,
                   help="sampler steps (100); network evaluations are 2x this for "
                        "probability_flow and flow_heun")
    p.add_argument("--seed", type=int, default=0, help="seed of training and sampling (0)")
    p.add_argument("--label", type=_non_negative_int, metavar="CLASS",
                   help="class to draw, for a class-conditional model (default: cycle through "
                        "all classes, one column of the image grid each)")
    p.add_argument("--guidance", type=_non_negative_float, default=0.0, metavar="W",
                   help="classifier-free guidance scale w >= 0 for a class-conditional model: "
                        "score (1 + w) s(x, t, class) - w s(x, t, no class); 0 is plain "
                        "conditional sampling, 2 gives clearer digits (0)")
    p.add_argument("--train-steps", type=_positive_int, default=None,
                   help=f"optimiser steps when training ({_TRAIN_STEPS['toy']} with --toy, "
                        f"{_TRAIN_STEPS['digits']} with --dataset digits: a few minutes on "
                        f"two CPU cores)")
    p.add_argument("--train-size", type=_positive_int, default=20000,
                   help="number of toy data points to train on (20000; --toy only)")
    p.add_argument("--save-model", metavar="FILE", help="also save the trained model here")
    p.add_argument("--plot", metavar="PNG",
                   help="write a scatter plot of the samples, or an image grid for images")
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


def _labels(args, model):
    """Classes to sample, or None; fails in one line when they do not fit the model."""
    import numpy as np

    if not model.conditional:
        if args.label is not None or args.guidance:
            _fail("--label and --guidance need a class-conditional model (--dataset digits, "
                  "or a model saved from one)")
        return None
    if args.guidance and model.label_dropout == 0:
        _fail("this model was trained without label dropout, so it cannot be guided")
    if args.label is not None:
        if args.label >= model.n_classes:
            _fail(f"--label must lie in 0 .. {model.n_classes - 1} for this model, got "
                  f"{args.label}")
        return np.full(args.n, args.label)
    return np.arange(args.n) % model.n_classes


def _plot(path, x, labels, args, plt):
    import numpy as np

    from .datasets import tile_images

    title = f"{args.n} samples, {args.method}, {args.steps} steps"
    if x.ndim == 4:
        if labels is not None and args.label is None:
            ncols = min(args.n, int(labels.max()) + 1)  # column k shows class k
        else:
            ncols = math.ceil(math.sqrt(args.n))
        grid = tile_images(np.clip(x, -1.0, 1.0), ncols, fill=-1.0)
        rows = math.ceil(args.n / ncols)
        fig, ax = plt.subplots(figsize=(min(0.4 * ncols, 8) + 0.4, min(0.4 * rows, 8) + 0.6))
        ax.imshow(grid, cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        if args.label is not None:
            title += f", class {args.label}"
        if args.guidance:
            title += f", w = {args.guidance:g}"
        ax.set_title(title, fontsize=8)
    else:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(x[:, 0], x[:, 1] if x.shape[1] > 1 else np.zeros(len(x)), s=2, alpha=0.5)
        ax.set_aspect("equal")
        ax.set_title(title)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def _check_method(args, flow, what):
    """Resolve ``--method`` for a score model (``flow`` False) or a flow model, or fail."""
    from .sampling import FLOW_METHODS

    if args.method is None:
        args.method = "flow_heun" if flow else "probability_flow"
    if flow and args.method not in FLOW_METHODS:
        _fail(f"--method {args.method} needs a score, but {what} is a flow-matching model: use "
              f"--method {' or '.join(FLOW_METHODS)}")
    if not flow and args.method in FLOW_METHODS:
        _fail(f"--method {args.method} integrates a velocity, but {what} is a score model: "
              f"add --flow to train a flow-matching model, or choose a score method")


def run(args):
    """Carry out ``sdekit sample`` for parsed ``args``."""
    import numpy as np

    if args.model and args.flow:
        _fail("--flow chooses how a new model is trained; a saved model (--model) keeps its own "
              "objective")
    if not args.model:
        _check_method(args, args.flow, "--flow" if args.flow else "the model trained here")
    out = _check_output(args.out, _SAMPLE_SUFFIXES, "output file")
    plot = _check_output(args.plot, (".png",), "plot file") if args.plot else None
    save = _check_output(args.save_model, (".pt",), "model file") if args.save_model else None
    plt = None
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
    from .datasets import digits, make_toy
    from .train import ScoreModel

    if args.toy and (args.label is not None or args.guidance):
        _fail("--label and --guidance need a class-conditional model: the toy sets have no "
              "classes (use --dataset digits)")
    if args.model:
        try:
            model = ScoreModel.load(args.model)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
        _check_method(args, model.flow, args.model)
        labels = _labels(args, model)
    elif args.dataset:
        if args.label is not None and args.label > 9:
            _fail(f"--label must lie in 0 .. 9 for the digits, got {args.label}")
        try:
            images, classes = digits()
        except ImportError as exc:
            _fail(str(exc))
        model = ScoreModel(path="ot" if args.flow else "diffusion", channels=24).fit(
            images, labels=classes, label_dropout=0.1, batch_size=128,
            steps=args.train_steps or _TRAIN_STEPS["digits"], seed=args.seed,
            progress=not args.quiet)
        labels = _labels(args, model)
    else:
        data = make_toy(args.toy, args.train_size, seed=args.seed)
        model = ScoreModel(path="ot" if args.flow else "diffusion").fit(
            data, steps=args.train_steps or _TRAIN_STEPS["toy"], seed=args.seed,
            progress=not args.quiet)
        labels = None
    if save is not None and not args.model:
        atomic_write(save, model.save)
    x = model.sample(args.n, labels=labels, guidance_scale=args.guidance, method=args.method,
                     steps=args.steps, seed=args.seed)
    if out.suffix.lower() == ".npy":
        atomic_write(out, lambda tmp: np.save(tmp, x))
    else:
        flat = x.reshape(len(x), -1)
        header = ",".join(f"x{k}" for k in range(flat.shape[1]))
        atomic_write(out, lambda tmp: np.savetxt(tmp, flat, delimiter=",", header=header,
                                                 comments=""))
    if plot is not None:
        _plot(plot, x, labels, args, plt)
    print(f"wrote {args.n} samples to {out}" + (f" and a plot to {plot}" if plot else ""))

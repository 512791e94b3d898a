"""Class-conditional U-Net on scikit-learn's 8x8 digits, with classifier-free guidance, on CPU.

Trains a small U-Net (VP SDE, label dropout 0.1) on the 1,797 digits scaled to [-1, 1], draws a
10 x 10 grid of guided samples (row k: digit k) into ``docs/img/digits_guided.png``, and measures
for several guidance scales the fraction of guided samples that a logistic-regression classifier
(and, as a second opinion, a support-vector machine) trained on the real digits assigns to the
requested class. Samples are clipped to [-1, 1], the range of the data, before they are plotted
or classified.

Run from the repository root (a few minutes on two CPU cores)::

    OMP_WAIT_POLICY=passive python benchmarks/digits_example.py

Options: ``--help``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def classifiers(images, labels):
    """Classifiers fitted to the flattened real digits, with their 5-fold held-out accuracy.

    Logistic regression is the simple judge; an RBF support-vector machine (scikit-learn
    defaults) is a stronger second opinion.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    x = images.reshape(len(images), -1)
    judges = {}
    for name, clf in (("logistic", LogisticRegression(max_iter=5000)), ("svm", SVC())):
        held_out = cross_val_score(clf, x, labels, cv=5).mean()
        judges[name] = (clf.fit(x, labels), held_out)
    return judges


def nearest_distances(x, reference, exclude_self=False):
    """Euclidean distance from each row of ``x`` to its nearest row of ``reference``."""
    x, reference = x.reshape(len(x), -1), reference.reshape(len(reference), -1)
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ reference.T + (reference * reference).sum(1)
    if exclude_self:
        np.fill_diagonal(d2, np.inf)
    return np.sqrt(np.maximum(d2.min(1), 0.0))


def write_grid(path, samples, n_rows, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sdekit._io import atomic_write
    from sdekit.score.datasets import tile_images

    grid = tile_images(samples, ncols=len(samples) // n_rows, pad=1, fill=-1.0)
    fig, ax = plt.subplots(figsize=(3.4, 3.6))
    ax.imshow(grid, cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_yticks(4 + 9 * np.arange(n_rows), [str(k) for k in range(n_rows)])
    ax.set_xticks([])
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train-steps", type=int, default=1000, help="optimiser steps (1000)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size (128)")
    p.add_argument("--channels", type=int, default=24, help="U-Net base channels (24)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (2e-3)")
    p.add_argument("--label-dropout", type=float, default=0.1, help="label dropout (0.1)")
    p.add_argument("--method", default="dpm_solver", help="sampler (dpm_solver)")
    p.add_argument("--steps", type=int, default=30, help="sampler steps (30)")
    p.add_argument("--guidance", type=float, default=2.0,
                   help="guidance scale w of the grid (2.0)")
    p.add_argument("--scales", type=float, nargs="*", default=[0.0, 1.0, 2.0, 4.0],
                   help="guidance scales whose classifier accuracy is measured (0 1 2 4)")
    p.add_argument("--per-class", type=int, default=50,
                   help="samples per class for the accuracy (50)")
    p.add_argument("--seed", type=int, default=0, help="seed of training and sampling (0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    p.add_argument("--grid", default=str(ROOT / "docs" / "img" / "digits_guided.png"),
                   help="where to write the grid PNG ('' for none)")
    p.add_argument("--save-model", default="", help="also save the trained model here (.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    import torch

    from sdekit import score

    torch.set_num_threads(args.threads)
    images, labels = score.digits()
    judges = classifiers(images, labels)
    for name, (_, held_out) in judges.items():
        print(f"classifier {name}: 5-fold accuracy on real digits {held_out:.3f}")

    model = score.ScoreModel(channels=args.channels)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(images, labels=labels, label_dropout=args.label_dropout, steps=args.train_steps,
              batch_size=args.batch_size, lr=args.lr, seed=args.seed, progress=not args.quiet)
    train_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    n_params = sum(p.numel() for p in model.net.parameters())
    print(f"trained {n_params:,} parameters for {args.train_steps} steps (batch "
          f"{args.batch_size}) in {train_s:.0f} s ({cpu_s:.0f} s of CPU time), last-100-step "
          f"loss {np.mean(model.losses[-100:]):.2f}")
    if args.save_model:
        model.save(args.save_model)

    wanted = np.repeat(np.arange(10), args.per_class)
    print(f"\n{args.method}, {args.steps} steps, {len(wanted)} samples per scale")
    # copying check: a model that memorised the data would put its samples much nearer to
    # some training digit than real digits are to their nearest other training digit
    real_nn = np.median(nearest_distances(images, images, exclude_self=True))
    print("guidance w   classified as requested (logistic, svm)   median distance to nearest "
          "training digit   seconds")
    for w in args.scales:
        start = time.perf_counter()
        x = model.sample(len(wanted), labels=wanted, guidance_scale=w, method=args.method,
                         steps=args.steps, seed=args.seed + 1)
        took = time.perf_counter() - start
        x = np.clip(x, -1.0, 1.0)
        acc = [np.mean(clf.predict(x.reshape(len(x), -1)) == wanted)
               for clf, _ in judges.values()]
        near = np.median(nearest_distances(x, images))
        print(f"{w:10.1f}   {acc[0]:28.3f} {acc[1]:6.3f}   {near:50.2f}   {took:7.1f}")
    print(f"(real digits: median distance to their nearest other training digit {real_nn:.2f})")

    if args.grid:
        rows = np.repeat(np.arange(10), 10)
        x = model.sample(len(rows), labels=rows, guidance_scale=args.guidance,
                         method=args.method, steps=args.steps, seed=args.seed + 2)
        write_grid(Path(args.grid), np.clip(x, -1.0, 1.0), 10,
                   f"guided samples, w = {args.guidance:g}")
        print(f"\nwrote {args.grid}")


if __name__ == "__main__":
    main()

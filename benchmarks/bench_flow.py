"""Flow matching (rectified flow on the OT path) against score matching, and the flow samplers
against the probability-flow ODE, with exact fields where they exist.

Two parts:

``quality``
    On each 2-D toy set, one MLP (the same architecture, batch and optimiser) trained by
    denoising score matching on the VP SDE and one trained by flow matching on the OT path, for
    the same number of optimiser steps: a step costs the same under both objectives (one
    network pass forward and back on the same batch), and the measured training times are
    printed beside the results. Samples from each at several budgets of network evaluations
    (NFE): the score model by ``probability_flow`` (Heun) and ``dpm_solver``, the flow model
    by ``flow_euler`` and ``flow_heun``. Quality: sliced Wasserstein W1 against held-out data
    of the same size, beside the floor (the same distance for independent samples of the
    data, mean ± sd of five), and on the ring (eight Gaussian modes) the total variation of
    the mode weights.
``exact``
    No network: the exact velocity of the OT path against the exact score's probability-flow
    ODE on the VP SDE, on a ring of eight Gaussians (radius 4, std 0.3, unequal weights).
    Error against steps: the RMS distance of each sample from the end point of its own ODE
    path solved with 2,000 Heun steps (same prior draw; no Monte Carlo floor, so it measures
    the integration error alone and shows how straight each path is), and the sliced W1 to
    exact draws of the target at t_eps, with its floor.

Sliced W1 here projects on 128 fixed directions and compares sorted projections of two
equal-size samples, which is the exact W1 between the empirical laws of each projection (and
fast at n = 20,000, where ``sdekit.score.sliced_wasserstein``'s quantile grid is slow).

    PYTHONPATH=. python benchmarks/bench_flow.py [--parts quality exact] [--train-steps 2000]
        [--n 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sdekit.score import (
    TOY_DATASETS,
    VPSDE,
    GaussianMixture,
    OTPathSDE,
    ScoreModel,
    make_toy,
    mode_statistics,
    sample,
)

_DIRS = np.random.default_rng(12345).standard_normal((2, 128))
_DIRS /= np.linalg.norm(_DIRS, axis=0)


def sliced_w1(a, b):
    """Sliced W1 of two equal-size 2-D samples (sorted projections on fixed directions)."""
    if a.shape != b.shape:
        raise ValueError("samples must have the same size")
    return float(np.abs(np.sort(a @ _DIRS, axis=0) - np.sort(b @ _DIRS, axis=0)).mean())


def floor_of(draw, reference, repeats=5):
    """Mean and standard deviation of the sliced W1 of independent exact samples
    ``draw(seed)`` to ``reference``: mode weights fluctuate between samples, so one draw is a
    poor floor."""
    values = [sliced_w1(draw(1000 + r), reference) for r in range(repeats)]
    return float(np.mean(values)), float(np.std(values, ddof=1))


def toy_ring_mixture():
    """The eight-mode ring of ``make_toy("ring")`` as the Gaussian mixture it is drawn from."""
    angle = 2 * np.pi * np.arange(8) / 8
    means = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1) / 1.42
    return GaussianMixture(means, (0.15 / 1.42) ** 2)


def quality(train_steps, n, seed=0):
    torch.set_num_threads(1)  # small MLPs: one thread is fastest on these machines
    budgets = (10, 20, 50, 100)
    print(f"\n## Quality at equal training time ({train_steps} optimiser steps, batch 512, "
          f"MLP 128 x 3; n = {n})\n")
    print("| data | objective | train s | sampler | " + " | ".join(f"NFE {b}" for b in budgets)
          + " | floor |")
    print("|---|---|---|---|" + "---|" * len(budgets) + "---|")
    ring = toy_ring_mixture()
    for name in TOY_DATASETS:
        data = make_toy(name, 20_000, seed=seed)
        reference = make_toy(name, n, seed=seed + 100)
        floor, floor_sd = floor_of(lambda s, name=name: make_toy(name, n, seed=s), reference)
        for path, methods in (("diffusion", ("probability_flow", "dpm_solver")),
                              ("ot", ("flow_euler", "flow_heun"))):
            start = time.perf_counter()
            model = ScoreModel(path=path).fit(data, steps=train_steps, seed=seed,
                                              progress=False)
            train_s = time.perf_counter() - start
            for method in methods:
                cells = []
                for nfe in budgets:
                    steps = nfe // 2 if method in ("probability_flow", "flow_heun") else nfe
                    x = model.sample(n, method=method, steps=steps, seed=seed + 1)
                    cell = f"{sliced_w1(x, reference):.4f}"
                    if name == "ring":
                        cell += f" (TV {mode_statistics(x, ring)['tv']:.3f})"
                    cells.append(cell)
                objective = "score matching, VP" if path == "diffusion" else "flow matching, OT"
                print(f"| {name} | {objective} | {train_s:.0f} | {method} | "
                      + " | ".join(cells) + f" | {floor:.4f} ± {floor_sd:.4f} |", flush=True)
    if "ring" in TOY_DATASETS:
        x = make_toy("ring", n, seed=seed + 101)
        print(f"\nMode-weight TV of an independent ring sample of size {n}: "
              f"{mode_statistics(x, ring)['tv']:.3f}")


def exact(n, seed=0):
    ring = GaussianMixture.ring(8, radius=4.0, std=0.3, weights=np.arange(1.0, 9.0))
    steps_list = (2, 4, 8, 16, 32, 64)
    print(f"\n## Exact fields: OT velocity against the VP probability flow (ring of 8, n = {n})\n")
    print("RMS distance to the 2,000-step Heun solution from the same prior draw, then sliced "
          "W1 to exact draws at t_eps.\n")
    print("| path, sampler | NFE per step | " + " | ".join(f"{k} steps" for k in steps_list)
          + " |")
    print("|---|---|" + "---|" * len(steps_list))
    cases = (("OT, flow_euler", OTPathSDE(), "flow_euler", 1),
             ("OT, flow_heun", OTPathSDE(), "flow_heun", 2),
             ("VP, probability_flow (Heun)", VPSDE(), "probability_flow", 2),
             ("VP, dpm_solver", VPSDE(), "dpm_solver", 1))
    floors = {}
    for label, sde, method, per_step in cases:
        field = ring.velocity(sde) if method.startswith("flow") else ring.score(sde)
        law = ring.perturbed(sde, sde.t_eps)
        target = law.sample(n, seed=seed + 50)
        floors[type(sde).__name__] = floor_of(lambda s, law=law: law.sample(n, seed=s), target)
        x_init = sde.prior_sample(n, 2, seed=seed)
        ref_method = "flow_heun" if method.startswith("flow") else "probability_flow"
        reference = sample(sde, field, n, method=ref_method, steps=2000, x_init=x_init, seed=0)
        rms, sw = [], []
        for k in steps_list:
            x = sample(sde, field, n, method=method, steps=k, x_init=x_init, seed=0)
            rms.append(np.sqrt(np.mean(np.sum((x - reference) ** 2, axis=1))))
            sw.append(sliced_w1(x, target))
        print(f"| {label} | {per_step} | "
              + " | ".join(f"{r:.3f} / {s:.3f}" for r, s in zip(rms, sw, strict=True)) + " |",
              flush=True)
    print("\nSliced W1 floor (independent exact samples, mean ± sd of 5): "
          + ", ".join(f"{k} {m:.4f} ± {sd:.4f}" for k, (m, sd) in floors.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["exact", "quality"],
                        choices=["exact", "quality"])
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    if "exact" in args.parts:
        exact(2 * args.n)
    if "quality" in args.parts:
        quality(args.train_steps, args.n)


if __name__ == "__main__":
    main()

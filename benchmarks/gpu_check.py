"""Check and time sdekit's CUDA kernels on a real GPU.

The test suite runs every CUDA kernel on Numba's CUDA simulator, which shows that the device code
is the CPU code; only a real GPU shows that it compiles for the hardware, gives the same numbers
there and how fast it is. This script does both, in one run:

1. agreement: the engine's CUDA backend against its CPU backend on the same seeds (the cases of
   ``tests/test_backends.py`` at 10^4 paths), and the score sampler on both; with
   ``rng="philox"``, whether numba, cuda and torch on the GPU give the same paths bit for bit;
2. closed forms on the GPU: P(upper) and the mean first-passage time of a bounded drift
   diffusion (bridge-corrected) at 10^7 trials;
3. speed: Ornstein-Uhlenbeck path-steps per second (the engine's target is 10^10 on a GPU; also
   with ``rng="philox"`` beside today's streams), the bounded diffusion's trials per second, the
   reverse-SDE sampler with an exact score, each beside the CPU backend and a plain batched torch
   loop on the same GPU; and reverse-SDE sampling with a score network on sdekit's torch backend
   against torchsde, both on the GPU.

Usage::

    python benchmarks/gpu_check.py            # on a machine with a CUDA device
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_check.py --quick   # the script itself, no GPU

Timings are medians of three calls after a warm-up call (which compiles). Every sdekit CUDA call
includes the copy of its results to the host.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

import sdekit as sk
from sdekit.score import VPSDE, GaussianMixture, sample

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def timed(fn, repeats=3):
    fn()  # warm-up: compiles, allocates
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def environment():
    import numba
    from numba import cuda

    print("== environment")
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
          f", {os.cpu_count()} CPU cores")
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        print("device: Numba's CUDA simulator (sizes reduced; timings meaningless)")
    else:
        dev = cuda.get_current_device()
        print(f"device: {dev.name.decode() if isinstance(dev.name, bytes) else dev.name}, "
              f"compute capability {dev.compute_capability}")
    try:
        import torch

        print(f"torch {torch.__version__}, cuda available {torch.cuda.is_available()}")
    except ImportError:
        print("torch not installed")
    print()


def agreement(n):
    print(f"== agreement: backend='cuda' against backend='numba', same seed, {n} paths")
    cases = [
        ("OU, dim 2", sk.OrnsteinUhlenbeck(1.0, 0.5, 0.3, dim=2), None, 0.0, "euler_maruyama"),
        ("drift diffusion, bounded", sk.DriftDiffusion(1.0), sk.Boundaries(1.5, 0.0), 0.75,
         "euler_maruyama"),
        ("GBM, Milstein", sk.GeometricBrownianMotion(0.1, 0.4), None, 1.0, "milstein"),
        ("Brownian dim 3, bounded", sk.BrownianMotion(0.5, 1.0, dim=3), sk.Boundaries(1.0, -1.0),
         0.0, "euler_maruyama"),
    ]
    print(f"{'case':<28}{'max |dx|':>11}{'max |dx|/|x|':>14}{'exit differs':>14}"
          f"{'max |d fpt|':>13}")
    worst = 0.0
    for name, sde, bounds, x0, method in cases:
        kw = dict(dt=0.01, n_paths=n, seed=5, boundaries=bounds, method=method)
        a = sk.solve(sde, x0, [0, 0.5, 1.0], backend="numba", **kw)
        c = sk.solve(sde, x0, [0, 0.5, 1.0], backend="cuda", **kw)
        both = np.isfinite(a.states) & np.isfinite(c.states)
        nan_differs = int(np.sum(np.isfinite(a.states) != np.isfinite(c.states)))
        dx = np.abs(a.states - c.states)[both]
        rel = dx / np.maximum(np.abs(a.states[both]), 1e-300)
        line = f"{name:<28}{dx.max():>11.1e}{rel.max():>14.1e}"
        if bounds is not None:
            differs = int(np.sum((a.boundary != c.boundary) | (a.component != c.component)))
            dt = np.abs(a.first_passage_time - c.first_passage_time)
            dt = dt[np.isfinite(dt)]
            line += f"{differs:>14d}{(dt.max() if dt.size else 0.0):>13.1e}"
        else:
            line += f"{'-':>14}{'-':>13}"
        if nan_differs:
            line += f"  ({nan_differs} states finite on one device only)"
        worst = max(worst, rel.max())
        print(line)

    try:
        import torch

        gpu_torch = torch.cuda.is_available()
    except ImportError:
        gpu_torch = False
    if gpu_torch:
        # the torch backend on GPU tensors, its noise drawn on the GPU by CudaStreams
        sde, kw = sk.OrnsteinUhlenbeck(1.0, 0.5, 0.3, dim=2), dict(dt=0.01, n_paths=n, seed=5)
        a = sk.solve(sde, 0.0, [0, 0.5, 1.0], backend="numba", **kw)
        c = sk.solve(sde, 0.0, [0, 0.5, 1.0], backend="torch", device="cuda", **kw)
        dx = np.abs(a.states - c.states)
        print(f"{'OU dim 2, torch on cuda':<28}{dx.max():>11.1e}"
              f"{(dx / np.maximum(np.abs(a.states), 1e-300)).max():>14.1e}{'-':>14}{'-':>13}")
        # bounded: absorption by the CUDA kernel on the tensors in place
        for name, sde, bounds, x0 in (
                ("drift diffusion, torch cuda", sk.DriftDiffusion(1.0), sk.Boundaries(1.5, 0.0),
                 0.75),
                ("Brownian dim 3, torch cuda", sk.BrownianMotion(0.5, 1.0, dim=3),
                 sk.Boundaries(1.0, -1.0), 0.0)):
            kw = dict(dt=0.01, n_paths=n, seed=5, boundaries=bounds)
            a = sk.solve(sde, x0, [0, 0.5, 1.0], backend="numba", **kw)
            c = sk.solve(sde, x0, [0, 0.5, 1.0], backend="torch", device="cuda", **kw)
            dx = np.abs(a.states - c.states)
            differs = int(np.sum((a.boundary != c.boundary) | (a.component != c.component)))
            dt = np.abs(a.first_passage_time - c.first_passage_time)
            dt = dt[np.isfinite(dt)]
            print(f"{name:<28}{np.nanmax(dx):>11.1e}"
                  f"{np.nanmax(dx / np.maximum(np.abs(a.states), 1e-300)):>14.1e}"
                  f"{differs:>14d}{(dt.max() if dt.size else 0.0):>13.1e}")

    covs = [[[1.0, 0.6], [0.6, 0.8]], [[0.5, 0.1], [0.1, 0.3]]]
    target = GaussianMixture([[0.8, -0.5], [-1.0, 1.0]], covs)
    sde = VPSDE()
    for method in ("reverse_sde", "probability_flow"):
        kw = dict(method=method, steps=50, seed=4)
        a = sample(sde, target.score(sde), n, backend="numba", **kw)
        c = sample(sde, target.score(sde), n, backend="cuda", **kw)
        dx = np.abs(a - c)
        print(f"{'score sampler, ' + method:<28}{dx.max():>11.1e}"
              f"{(dx / np.maximum(np.abs(a), 1e-300)).max():>14.1e}{'-':>14}{'-':>13}")
    for method in ("reverse_sde", "pc", "ddpm") if gpu_torch else ():
        kw = dict(method=method, steps=50, seed=4)
        a = sample(sde, target.score(sde), n, backend="numba", **kw)
        c = sample(sde, target.score(sde), n, backend="torch", device="cuda", **kw)
        dx = np.abs(a - c)
        print(f"{'score, torch cuda, ' + method:<28}{dx.max():>11.1e}"
              f"{(dx / np.maximum(np.abs(a), 1e-300)).max():>14.1e}{'-':>14}{'-':>13}")
    print()
    return worst


def philox_agreement(n):
    """rng='philox' promises the same draws bit for bit on every backend: check it on the
    hardware (the simulator cannot show what the GPU compiler does, e.g. contract a * b + c
    into one fused multiply-add)."""
    from sdekit.sde import philox

    print(f"== rng='philox': the same paths on every backend, {n} paths")
    sde, kw = sk.OrnsteinUhlenbeck(1.0, 0.5, 0.3, dim=2), dict(dt=0.01, n_paths=n, seed=5,
                                                                rng="philox")
    a = sk.solve(sde, 0.0, [0, 0.5, 1.0], backend="numba", **kw)
    others = [("cuda", dict(backend="cuda"))]
    try:
        import torch

        if torch.cuda.is_available():
            others.append(("torch (cuda)", dict(backend="torch", device="cuda")))
            z = philox.torch_normals(5, torch.arange(n, device="cuda").unsqueeze(1),
                                     torch.arange(64, device="cuda").unsqueeze(0)).cpu().numpy()
            same = np.array_equal(z.view(np.uint64), philox.normals(5, n, 64).view(np.uint64))
            print(f"{'torch (cuda) draws':<28} bit-identical to numba: {same}")
    except ImportError:
        pass
    for name, extra in others:
        c = sk.solve(sde, 0.0, [0, 0.5, 1.0], **kw, **extra)
        print(f"{name:<28} bit-identical: {np.array_equal(a.states, c.states)}, "
              f"max |dx| {np.abs(a.states - c.states).max():.1e}")
    print()


def closed_form(n):
    from bench_engine import DDM_A, DDM_DT, DDM_MAX_T, DDM_V, DDM_X0, ddm_closed_form

    print(f"== bounded drift diffusion on the GPU, bridge-corrected, dt={DDM_DT}, {n:.0e} trials")
    sol = sk.solve(sk.DriftDiffusion(DDM_V), DDM_X0, [0.0, DDM_MAX_T], dt=DDM_DT, n_paths=n,
                   boundaries=sk.Boundaries(DDM_A, 0.0), save="final", seed=11, backend="cuda")
    p_exact, t_exact = ddm_closed_form()
    upper = sol.boundary == 1
    t = sol.first_passage_time
    p = upper.mean()
    p_se = math.sqrt(p_exact * (1 - p_exact) / n)
    t_se = np.nanstd(t) / math.sqrt(np.isfinite(t).sum())
    print(f"P(upper)   {p:.6f}  exact {p_exact:.6f}  z = {(p - p_exact) / p_se:+.2f}")
    print(f"mean fpt   {np.nanmean(t) * 1e3:.3f} ms  exact {t_exact * 1e3:.3f} ms  "
          f"z = {(np.nanmean(t) - t_exact) / t_se:+.2f}")
    print()


def ou_speed(sizes, cpu_paths):
    import torch
    from bench_engine import OU_DT, OU_MU, OU_SIGMA, OU_STEPS, OU_THETA

    ou = sk.OrnsteinUhlenbeck(theta=OU_THETA, mu=OU_MU, sigma=OU_SIGMA)
    t_end = OU_STEPS * OU_DT
    exact_var = OU_SIGMA**2 / (2 * OU_THETA) * (1 - math.exp(-2 * OU_THETA * t_end))
    print(f"== Ornstein-Uhlenbeck, {OU_STEPS} steps of dt={OU_DT}, float64, final states "
          f"(exact var {exact_var:.4f})")
    print(f"{'implementation':<44}{'paths':>10}{'seconds':>10}{'path-steps/s':>14}"
          f"{'var(x_T)':>10}")

    def row(name, n, fn):
        out = {}

        def call():
            out["x"] = fn(n)

        s = timed(call)
        x = np.asarray(out["x"])
        print(f"{name:<44}{n:>10.0e}{s:>10.4f}{n * OU_STEPS / s:>14.3e}{np.var(x):>10.4f}",
              flush=True)

    def engine(backend, **kw):
        def fn(n):
            return sk.solve(ou, 0.0, [0.0, t_end], dt=OU_DT, n_paths=n, save="final", seed=1,
                            backend=backend, **kw).final
        return fn

    def torch_loop(n):
        gen = torch.Generator(device="cuda").manual_seed(1)
        x = torch.zeros(n, dtype=torch.float64, device="cuda")
        sq = math.sqrt(OU_DT)
        with torch.no_grad():
            for _ in range(OU_STEPS):
                x += OU_THETA * (OU_MU - x) * OU_DT + OU_SIGMA * sq * torch.randn(
                    n, dtype=torch.float64, device="cuda", generator=gen)
        return x.cpu().numpy()

    row("sdekit solve, numba (CPU)", cpu_paths, engine("numba"))
    row("sdekit solve, numba (CPU), rng='philox'", cpu_paths, engine("numba", rng="philox"))
    for n in sizes:
        row("sdekit solve, cuda", n, engine("cuda"))
        row("sdekit solve, cuda, rng='philox'", n, engine("cuda", rng="philox"))
    if torch.cuda.is_available():
        row("sdekit solve, torch backend (cuda)", sizes[0], engine("torch", device="cuda"))
        row("sdekit solve, torch backend (cuda), rng='philox'", sizes[0],
            engine("torch", device="cuda", rng="philox"))
        for n in sizes:
            row("plain batched torch loop (cuda)", n, torch_loop)
    print()


def ddm_speed(sizes, cpu_trials):
    from bench_engine import DDM_A, DDM_DT, DDM_MAX_T, DDM_V, DDM_X0

    print(f"== bounded drift diffusion, bridge-corrected, dt={DDM_DT}: trials per second")
    model, bounds = sk.DriftDiffusion(DDM_V), sk.Boundaries(DDM_A, 0.0)
    runs = [("numba", cpu_trials)] + [("cuda", n) for n in sizes]
    try:
        import torch

        if torch.cuda.is_available():
            runs.append(("torch", sizes[0]))
    except ImportError:
        pass
    for backend, n in runs:
        def call(n=n, backend=backend):
            sk.solve(model, DDM_X0, [0.0, DDM_MAX_T], dt=DDM_DT, n_paths=n, boundaries=bounds,
                     save="final", seed=3, backend=backend)

        s = timed(call)
        print(f"sdekit solve, {backend:<8}{n:>10.0e} trials {s:>9.4f} s {n / s:>12.3e} trials/s",
              flush=True)
    print()


def score_speed(sizes, cpu_n, steps=50):
    from bench_score import _setup

    sde, _, score, _ = _setup()
    print(f"== reverse-SDE sampling, exact score of a 16-D Gaussian, {steps} steps: seconds/step")
    runs = [("numba", cpu_n)] + [("cuda", n) for n in sizes]
    try:
        import torch

        if torch.cuda.is_available():
            runs += [("torch", n) for n in sizes]
    except ImportError:
        pass
    for backend, n in runs:
        x_init = sde.prior_sample(n, 16, seed=0)

        def call(n=n, backend=backend, x_init=x_init):
            sample(sde, score, n, method="reverse_sde", steps=steps, seed=0, x_init=x_init,
                   backend=backend)

        s = timed(call) / steps
        print(f"sdekit reverse_sde, {backend:<8}{n:>10.0e} samples {s:>10.5f} s/step "
              f"{n / s:>12.3e} sample-steps/s", flush=True)
    print()


def network_speed(sizes, steps=100):
    import torch
    from bench_score import _run_torchsde

    from sdekit import score as sks

    print(f"== reverse-SDE sampling with a score network (MLP 128x3), {steps} steps, on the GPU")
    model = sks.ScoreModel(sks.VPSDE(), hidden=128, depth=3).fit(
        sks.make_toy("two_moons", 2000, seed=0), steps=200, seed=0, progress=False)
    s = model.score()
    sde = model.sde
    print(f"{'samples':>10}{'network alone':>15}{'sdekit torch':>14}{'torchsde':>12}"
          f"{'torchsde/sdekit':>17}   (seconds per step)")
    for n in sizes:
        x_init = sde.prior_sample(n, 2, seed=0)
        ours = timed(lambda: sample(sde, s, n, method="reverse_sde", steps=steps, seed=0,
                                    x_init=x_init, backend="torch", device="cuda")) / steps
        theirs = timed(lambda: _run_torchsde(sde, s, x_init, steps, device="cuda",
                                                  score_torch=s.torch))
        theirs /= steps
        xt = torch.as_tensor(x_init, device="cuda")
        q = torch.as_tensor(s.params[None, :], device="cuda")

        def net():
            with torch.no_grad():
                for _ in range(steps):
                    s.torch(0.5, xt, q)
            torch.cuda.synchronize()

        alone = timed(net) / steps
        print(f"{n:>10.0e}{alone:>15.6f}{ours:>14.6f}{theirs:>12.6f}{theirs / ours:>16.1f}x",
              flush=True)
    print()


def generalized(n_check, sizes):
    from sdekit.ddm.generalized import model_from_text

    model = model_from_text("drift=leaky,bound=weibull,nondecision=uniform")
    params = dict(v=1.0, leak=0.5, a=1.2, t0=0.3, st=0.1)
    print("== a generalized decision model (leak, Weibull collapse, t0 window), dt=1e-3")
    a = model.simulate(n_check, params, seed=3, backend="numba")
    c = model.simulate(n_check, params, seed=3, backend="cuda")
    same = np.array_equal(a["response"].to_numpy(), c["response"].to_numpy())
    drt = np.nanmax(np.abs(a["rt"].to_numpy() - c["rt"].to_numpy()))
    print(f"{n_check} trials on both devices: responses identical {same}, max |d rt| {drt:.1e} s")
    for backend, n in [("numba", sizes[0])] + [("cuda", n) for n in sizes]:
        s = timed(lambda n=n, backend=backend: model.simulate(n, params, seed=5, backend=backend))
        print(f"simulate, {backend:<8}{n:>10.0e} trials {s:>9.4f} s {n / s:>12.3e} trials/s",
              flush=True)
    print()


_PARTS = ("agreement", "philox", "closed_form", "ou", "ddm", "score", "network", "generalized")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, for checking the script on the CUDA simulator")
    parser.add_argument("--parts", nargs="+",
                        choices=_PARTS, default=_PARTS)
    args = parser.parse_args()
    q = args.quick
    environment()
    small = [64]
    parts = {
        "agreement": lambda: agreement(64 if q else 10_000),
        "philox": lambda: philox_agreement(64 if q else 10_000),
        "closed_form": lambda: closed_form(200 if q else 10_000_000),
        "ou": lambda: ou_speed(small if q else [1_000_000, 10_000_000], 64 if q else 1_000_000),
        "ddm": lambda: ddm_speed(small if q else [1_000_000, 10_000_000],
                                 64 if q else 1_000_000),
        "score": lambda: score_speed(small if q else [100_000, 1_000_000], 64 if q else 100_000),
        "network": lambda: network_speed([1_000] if q else [10_000, 100_000]),
        "generalized": lambda: generalized(12 if q else 10_000,
                                           [16] if q else [1_000_000, 10_000_000]),
    }
    for name in args.parts:
        try:
            parts[name]()
        except Exception as exc:  # noqa: BLE001 - report and go on to the next part
            print(f"!! part {name!r} failed: {type(exc).__name__}: {exc}\n", flush=True)

if __name__ == "__main__":
    main()

"""Speed of the sdekit SDE engine beside the tools users would otherwise pick, in one run.

Three benchmarks, each printed as a table of ratios measured in this run:

1. Ornstein-Uhlenbeck (theta=1, mu=0, sigma=1), 10,000 paths x 1,000 Euler-Maruyama steps of
   dt=1e-3 in float64, final states only: path-steps per second for sdekit (numba and torch
   backends), a plain batched torch loop, torchsde, sdeint, a plain numpy loop and hand-written
   ``numba.njit(parallel=True)`` loops.
2. The bounded 1-D drift diffusion (v=1, a=1.5, z=0.5, unit noise, dt=1e-3): trials per second and
   the bias of the mean first-passage time and of P(upper) against the closed forms, for sdekit,
   ssm-simulators' DDM simulator and hand-written numba loops.
3. Time to the first result in a new Python process, with Numba's on-disk cache warm and cold.

Every timing is the median of several repeats after one warm-up call (so compilation is excluded,
except in benchmark 3). Peers that are not importable are skipped with a note. Run it from an
environment that has sdekit and, optionally, the peers (see benchmarks/README.md)::

    python benchmarks/bench_engine.py            # full run, a few minutes
    python benchmarks/bench_engine.py --quick    # smaller sizes and fewer repeats
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba as nb
import numpy as np

import sdekit.sde as sk
from sdekit.sde.random import next_normal, seed_state

# -- problem definitions ------------------------------------------------------------------------
OU_THETA, OU_MU, OU_SIGMA = 1.0, 0.0, 1.0
OU_PATHS, OU_STEPS, OU_DT = 10_000, 1_000, 1e-3

DDM_V, DDM_A, DDM_Z, DDM_DT = 1.0, 1.5, 0.5, 1e-3
DDM_X0 = DDM_Z * DDM_A
DDM_MAX_T = 10.0  # P(no absorption by 10 s) is about exp(-27): every trial ends

PEERS = {
    "torch": "torch",
    "torchsde": "torchsde",
    "sdeint": "sdeint",
    "ssms": "ssm-simulators",
}


# -- helpers ------------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    seconds: float | None  # median wall time of one call
    work: float  # path-steps (OU) or trials (bounded) done by one call
    note: str = ""
    extra: dict | None = None
    best: float | None = None  # fastest call, for reading a busy machine


@dataclass
class Entry:
    row: Row
    fn: Callable[[], object]
    repeats: int
    warmup: Callable[[], object] | None = None
    times: list = field(default_factory=list)


def measure(entries):
    """Warm every entry up once, then time them round-robin and keep each one's median.

    Interleaving the repeats spreads any background load over all implementations alike, so the
    ratios stay meaningful on a busy machine even when the absolute times do not.
    """
    live = []
    for e in entries:
        try:
            (e.warmup or e.fn)()
            live.append(e)
        except Exception as exc:  # noqa: BLE001 - report, do not abort the whole run
            e.row.note = f"failed: {type(exc).__name__}: {exc}"
    for r in range(max((e.repeats for e in live), default=0)):
        for e in list(live):
            if r >= e.repeats:
                continue
            start = time.perf_counter()
            try:
                e.fn()
            except Exception as exc:  # noqa: BLE001
                e.row.note = f"failed: {type(exc).__name__}: {exc}"
                live.remove(e)
                continue
            e.times.append(time.perf_counter() - start)
    for e in live:
        e.row.seconds = statistics.median(e.times)
        e.row.best = min(e.times)


def try_import(name):
    try:
        return importlib.import_module(name), ""
    except Exception as exc:  # noqa: BLE001 - any failure means "skip this peer"
        return None, f"skipped: cannot import {name} ({type(exc).__name__}: {exc})"


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model():
    name = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name or "unknown"


def print_environment():
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print("== environment")
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"cpu: {cpu_model()}; {cores} logical cores, {usable} usable; "
          f"numba threads {nb.get_num_threads()}")
    names = ["sdekit", "numpy", "numba", "llvmlite", "scipy", "torch", "torchsde", "sdeint",
             "ssm-simulators"]
    print("versions: " + ", ".join(f"{n} {version(n)}" for n in names))
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        print(f"load average (1 min) before the run: {load:.2f}"
              + ("  WARNING: other work is running; timings will be noisy" if load > 0.5 else ""))
    torch, _ = try_import("torch")
    if torch is not None:
        print(f"torch threads {torch.get_num_threads()}, cuda available "
              f"{torch.cuda.is_available()}")
    print()


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


# -- benchmark 1: Ornstein-Uhlenbeck --------------------------------------------------------------
@nb.njit(parallel=True)
def _ou_numba_np_random(n_paths, n_steps, dt, theta, mu, sigma, out):
    sq = math.sqrt(dt)
    for i in nb.prange(n_paths):
        x = 0.0
        for _ in range(n_steps):
            x += theta * (mu - x) * dt + sigma * sq * np.random.standard_normal()  # noqa: NPY002
        out[i] = x


@nb.njit(parallel=True)
def _ou_numba_sdekit_rng(n_paths, n_steps, dt, theta, mu, sigma, seed, out):
    sq = math.sqrt(dt)
    for i in nb.prange(n_paths):
        state = seed_state(seed, np.int64(i))
        x = 0.0
        for _ in range(n_steps):
            state, z = next_normal(state)
            x += theta * (mu - x) * dt + sigma * sq * z
        out[i] = x


def ou_benchmarks(args):
    n, steps, dt = args.ou_paths, OU_STEPS, OU_DT
    t_end = steps * dt
    work = float(n * steps)
    rows = []
    finals = {}
    ou = sk.OrnsteinUhlenbeck(theta=OU_THETA, mu=OU_MU, sigma=OU_SIGMA)

    entries = []

    def timed(name, fn, repeats=args.repeats, work=work, note=""):
        row = Row(name, None, work, note)
        rows.append(row)
        entries.append(Entry(row, fn, repeats))

    def keep(name, x):
        finals[name] = np.asarray(x, dtype=np.float64).ravel()

    # sdekit, numba backend
    def sdekit_numba():
        sol = sk.solve(ou, 0.0, [0.0, t_end], dt=dt, n_paths=n, save="final", seed=1)
        keep("sdekit solve, numba", sol.final)

    timed("sdekit solve, numba", sdekit_numba)

    # the same solve with the counter-based generator, in the same interleaved run
    def sdekit_numba_philox():
        sol = sk.solve(ou, 0.0, [0.0, t_end], dt=dt, n_paths=n, save="final", seed=1,
                       rng="philox")
        keep("sdekit solve, numba, rng='philox'", sol.final)

    timed("sdekit solve, numba, rng='philox'", sdekit_numba_philox,
          note="Philox4x32-10 + Box-Muller")

    torch, why = try_import("torch")
    if torch is None:
        rows.append(Row("sdekit solve, torch (cpu)", None, work, why))
        rows.append(Row("plain batched torch loop", None, work, why))
    else:
        def sdekit_torch():
            sol = sk.solve(ou, 0.0, [0.0, t_end], dt=dt, n_paths=n, save="final", seed=1,
                           backend="torch", device="cpu")
            keep("sdekit solve, torch (cpu)", sol.final)

        timed("sdekit solve, torch (cpu)", sdekit_torch)

        def torch_loop(device="cpu"):
            gen = torch.Generator(device=device).manual_seed(1)
            x = torch.zeros(n, dtype=torch.float64, device=device)
            sq = math.sqrt(dt)
            with torch.no_grad():
                for _ in range(steps):
                    x += OU_THETA * (OU_MU - x) * dt + OU_SIGMA * sq * torch.randn(
                        n, dtype=torch.float64, device=device, generator=gen)
            keep(f"plain batched torch loop ({device})", x.cpu().numpy())

        timed("plain batched torch loop (cpu)", torch_loop)

    # torchsde
    torchsde, why = try_import("torchsde")
    if torch is None or torchsde is None:
        why = why or "skipped: needs torch"
        rows.append(Row("torchsde euler, default BM", None, work, why))
        rows.append(Row("torchsde euler, BrownianInterval(dt=dt)", None, work, why))
    else:
        class OU(torch.nn.Module):
            noise_type = "diagonal"
            sde_type = "ito"

            def f(self, t, y):
                return OU_THETA * (OU_MU - y)

            def g(self, t, y):
                return torch.full_like(y, OU_SIGMA)

        sde = OU()
        y0 = torch.zeros(n, 1, dtype=torch.float64)
        ts = torch.tensor([0.0, t_end], dtype=torch.float64)

        def torchsde_default():
            with torch.no_grad():
                ys = torchsde.sdeint(sde, y0, ts, method="euler", dt=dt)
            keep("torchsde euler, default BM", ys[-1].numpy())

        def torchsde_hinted():
            bm = torchsde.BrownianInterval(t0=0.0, t1=t_end, size=(n, 1), dtype=torch.float64,
                                           device="cpu", dt=dt)
            with torch.no_grad():
                ys = torchsde.sdeint(sde, y0, ts, bm=bm, method="euler", dt=dt)
            keep("torchsde euler, BrownianInterval(dt=dt)", ys[-1].numpy())

        timed("torchsde euler, default BM", torchsde_default, repeats=args.slow_repeats,
              note="sdeint(..., dt=dt) with no bm: BrownianInterval without a dt hint")
        timed("torchsde euler, BrownianInterval(dt=dt)", torchsde_hinted,
              repeats=args.slow_repeats, note="bm=BrownianInterval(..., dt=dt) passed in")

    # sdeint: one path per call
    sdeint, why = try_import("sdeint")
    n_one = args.sdeint_paths
    if sdeint is None:
        rows.append(Row("sdeint itoEuler (one path per call)", None, work, why))
    else:
        tspan = np.linspace(0.0, t_end, steps + 1)

        def f(x, t):
            return OU_THETA * (OU_MU - x)

        def g(x, t):
            return np.array([[OU_SIGMA]])

        def sdeint_paths():
            out = np.empty(n_one)
            for i in range(n_one):
                out[i] = sdeint.itoEuler(f, g, 0.0, tspan)[-1, 0]
            keep("sdeint itoEuler (one path per call)", out)

        timed("sdeint itoEuler (one path per call)", sdeint_paths, repeats=args.slow_repeats,
              work=float(n_one * steps), note=f"{n_one} paths timed, scaled per path-step")

    # plain numpy
    def numpy_loop():
        rng = np.random.default_rng(1)
        x = np.zeros(n)
        sq = math.sqrt(dt)
        for _ in range(steps):
            x += OU_THETA * (OU_MU - x) * dt + OU_SIGMA * sq * rng.standard_normal(n)
        keep("plain numpy loop (vectorised over paths)", x)

    timed("plain numpy loop (vectorised over paths)", numpy_loop, note="one thread, PCG64")

    # hand-written numba
    def numba_np_random():
        out = np.empty(n)
        _ou_numba_np_random(n, steps, dt, OU_THETA, OU_MU, OU_SIGMA, out)
        keep("hand-written numba prange, np.random", out)

    def numba_sdekit_rng():
        out = np.empty(n)
        _ou_numba_sdekit_rng(n, steps, dt, OU_THETA, OU_MU, OU_SIGMA, np.uint64(1), out)
        keep("hand-written numba prange, sdekit RNG", out)

    timed("hand-written numba prange, np.random", numba_np_random,
          note="np.random.standard_normal in the loop")
    timed("hand-written numba prange, sdekit RNG", numba_sdekit_rng,
          note="sdekit.sde.random.seed_state/next_normal per path")

    # optional GPU rows: only where a CUDA device is present
    if torch is not None and torch.cuda.is_available() and not args.no_gpu:
        big = args.gpu_paths
        big_work = float(big * steps)

        def sdekit_cuda():
            sol = sk.solve(ou, 0.0, [0.0, t_end], dt=dt, n_paths=big, save="final", seed=1,
                           backend="cuda")
            keep("sdekit solve, cuda", sol.final[:n])

        def torch_loop_cuda():
            gen = torch.Generator(device="cuda").manual_seed(1)
            x = torch.zeros(big, dtype=torch.float64, device="cuda")
            sq = math.sqrt(dt)
            with torch.no_grad():
                for _ in range(steps):
                    x += OU_THETA * (OU_MU - x) * dt + OU_SIGMA * sq * torch.randn(
                        big, dtype=torch.float64, device="cuda", generator=gen)
            torch.cuda.synchronize()

        timed(f"sdekit solve, cuda ({big:.0e} paths)", sdekit_cuda, work=big_work,
              note="GPU; includes the copy of final states to the host")
        timed(f"plain batched torch loop, cuda ({big:.0e} paths)", torch_loop_cuda,
              work=big_work, note="GPU")

    measure(entries)
    exact_var = OU_SIGMA**2 / (2 * OU_THETA) * (1 - math.exp(-2 * OU_THETA * t_end))
    for row in rows:
        x = finals.get(row.name) if row.seconds is not None else None
        if x is not None and x.size >= 1000:
            row.extra = {"var": float(np.var(x))}
    return rows, exact_var


def print_ou(rows, exact_var, args):
    ref = next((r for r in rows if r.name == "sdekit solve, numba" and r.seconds), None)
    print(f"== Ornstein-Uhlenbeck: {args.ou_paths} paths x {OU_STEPS} steps, dt={OU_DT}, "
          "float64, final states only")
    print(f"   (var(x_T) check: exact {exact_var:.4f}, Monte Carlo s.e. about "
          f"{exact_var * math.sqrt(2 / args.ou_paths):.4f} at {args.ou_paths} paths)")
    header = (f"{'implementation':<44} {'median s':>9} {'best s':>8} {'path-steps/s':>13}"
              f" {'ns/path-step':>13}"
              f" {'sdekit-numba faster by':>23} {'var(x_T)':>9}  note")
    print(header)
    print("-" * len(header))
    for r in rows:
        if r.seconds is None:
            print(f"{r.name:<44} {'-':>9} {'-':>8} {'-':>13} {'-':>13} {'-':>23} {'-':>9}"
                  f"  {r.note}")
            continue
        rate = r.work / r.seconds
        ns = 1e9 * r.seconds / r.work
        ratio = (ns / (1e9 * ref.seconds / ref.work)) if ref else None
        var = r.extra["var"] if r.extra else None
        print(f"{r.name:<44} {r.seconds:>9.4f} {r.best:>8.4f} {rate:>13.3e} {ns:>13.2f} "
              f"{fmt(ratio) + 'x':>23} {fmt(var, 4):>9}  {r.note}")
    print()


# -- benchmark 2: bounded drift diffusion -------------------------------------------------------
def ddm_closed_form(v=DDM_V, a=DDM_A, x0=DDM_X0):
    """P(upper) and mean first-passage time of dX = v dt + dW absorbed at 0 and a."""
    if v == 0.0:
        return x0 / a, x0 * (a - x0)
    p_up = math.expm1(-2 * v * x0) / math.expm1(-2 * v * a)
    mean_t = (a * p_up - x0) / v  # optional stopping: E[X_T] = x0 + v E[T]
    return p_up, mean_t


@nb.njit(parallel=True)
def _ddm_numba_np_random(n, v, a, x0, dt, max_steps, rt, upper):
    sq = math.sqrt(dt)
    for i in nb.prange(n):
        x = x0
        k = 0
        side = 0
        while k < max_steps:
            x += v * dt + sq * np.random.standard_normal()  # noqa: NPY002
            k += 1
            if x >= a:
                side = 1
                break
            if x <= 0.0:
                side = -1
                break
        rt[i] = k * dt if side != 0 else np.nan
        upper[i] = side


@nb.njit(parallel=True)
def _ddm_numba_sdekit_rng(n, v, a, x0, dt, max_steps, seed, rt, upper):
    sq = math.sqrt(dt)
    for i in nb.prange(n):
        state = seed_state(seed, np.int64(i))
        x = x0
        k = 0
        side = 0
        while k < max_steps:
            state, z = next_normal(state)
            x += v * dt + sq * z
            k += 1
            if x >= a:
                side = 1
                break
            if x <= 0.0:
                side = -1
                break
        rt[i] = k * dt if side != 0 else np.nan
        upper[i] = side


def ddm_benchmarks(args):
    rows = []
    n = args.ddm_trials
    max_steps = int(round(DDM_MAX_T / DDM_DT))
    model = sk.DriftDiffusion(v=DDM_V, s=1.0)
    bounds = sk.Boundaries(upper=DDM_A, lower=0.0)

    entries, finish = [], []

    def run(name, sim, repeats, trials, note=""):
        """Time ``sim(seed)`` -> (rt, side) and pool every timed call's trials for the bias."""
        row = Row(name, None, trials, note)
        rows.append(row)
        pooled_rt, pooled_side = [], []
        counter = iter(range(1, 10**6))

        def call(keep=True):
            rt, side = sim(next(counter))
            if keep:
                pooled_rt.append(np.asarray(rt, dtype=np.float64))
                pooled_side.append(np.asarray(side))

        def stats():
            if row.seconds is not None:
                row.extra = ddm_stats(np.concatenate(pooled_rt), np.concatenate(pooled_side))

        entries.append(Entry(row, call, repeats, warmup=lambda: call(keep=False)))
        finish.append(stats)

    def sdekit_sim(bridge):
        def sim(seed):
            sol = sk.solve(model, DDM_X0, [0.0, DDM_MAX_T], dt=DDM_DT, n_paths=n,
                           boundaries=bounds, save="final", seed=seed, bridge=bridge)
            return sol.first_passage_time, sol.boundary
        return sim

    run("sdekit solve, numba, bridge-corrected", sdekit_sim(True), args.repeats, n,
        "Boundaries(upper=1.5, lower=0.0)")
    run("sdekit solve, numba, bridge=False", sdekit_sim(False), args.repeats, n,
        "uncorrected: hit dated at the step's end")

    ssms, why = try_import("ssms.basic_simulators.simulator")
    n_ssms = args.ssms_trials
    if ssms is None:
        rows.append(Row("ssm-simulators ddm (1 thread)", None, n_ssms, why))
    else:
        # ssm-simulators' "ddm" puts the boundaries at -a and +a (separation 2a) and starts at
        # -a + 2 a z; RT = t_particle + t. So a_ssms = a / 2, z and v unchanged, t = 0.
        theta = {"v": DDM_V, "a": DDM_A / 2, "z": DDM_Z, "t": 0.0}

        def ssms_sim(seed):
            out = ssms.simulator(theta=theta, model="ddm", n_samples=n_ssms, delta_t=DDM_DT,
                                 max_t=DDM_MAX_T, sigma_noise=1.0, smooth_unif=False,
                                 random_state=seed, n_threads=1)
            rts = np.asarray(out["rts"], dtype=np.float64).ravel()
            choices = np.asarray(out["choices"]).ravel()
            rts = np.where(rts < 0, np.nan, rts)  # -999 marks a trial past the deadline
            return rts, np.where(np.isnan(rts), 0, choices)

        run("ssm-simulators ddm (1 thread)", ssms_sim, args.slow_repeats, n_ssms,
            "a=0.75 (half-separation), z=0.5, t=0, sigma_noise=1, smooth_unif=False, "
            "float32 state; n_threads=1 (0.12.5 wheels lack GSL: more threads run one)")

    def handwritten_np(seed):
        rt = np.empty(n)
        side = np.empty(n, dtype=np.int8)
        _ddm_numba_np_random(n, DDM_V, DDM_A, DDM_X0, DDM_DT, max_steps, rt, side)
        return rt, side

    def handwritten_sdekit(seed):
        rt = np.empty(n)
        side = np.empty(n, dtype=np.int8)
        _ddm_numba_sdekit_rng(n, DDM_V, DDM_A, DDM_X0, DDM_DT, max_steps, np.uint64(seed),
                              rt, side)
        return rt, side

    run("hand-written numba prange, np.random", handwritten_np, args.repeats, n,
        "Euler-Maruyama, no bridge correction")
    run("hand-written numba prange, sdekit RNG", handwritten_sdekit, args.repeats, n,
        "same loop with sdekit's per-path streams")
    measure(entries)
    for stats in finish:
        stats()
    return rows


def ddm_stats(rt, side):
    done = side != 0
    n = rt.size
    m = int(done.sum())
    p_exact, t_exact = ddm_closed_form()
    t = rt[done]
    p_up = float((side == 1).sum()) / n
    return {
        "n": n,
        "unfinished": n - m,
        "mean_t": float(t.mean()),
        "mean_t_se": float(t.std(ddof=1) / math.sqrt(m)),
        "t_bias": float(t.mean()) - t_exact,
        "p_up": p_up,
        "p_up_se": math.sqrt(p_exact * (1 - p_exact) / n),
        "p_bias": p_up - p_exact,
        "steps": float(t.mean()) / DDM_DT,
    }


def print_ddm(rows, args):
    p_exact, t_exact = ddm_closed_form()
    print(f"== bounded drift diffusion: v={DDM_V}, boundaries 0 and {DDM_A}, x0={DDM_X0} "
          f"(z={DDM_Z}), unit noise, dt={DDM_DT}")
    print(f"   closed form: P(upper) = {p_exact:.5f}, mean first-passage time = "
          f"{t_exact * 1e3:.3f} ms; biases pooled over the timed calls (+- 1 s.e.)")
    ref = next((r for r in rows if r.name.startswith("sdekit solve, numba, bridge-c")
                and r.seconds), None)
    header = (f"{'implementation':<40} {'trials/call':>11} {'median s':>9} {'best s':>8}"
              f" {'trials/s':>10}"
              f" {'ns/path-step':>12} {'sdekit faster by':>16} {'mean-RT bias ms':>18}"
              f" {'P(upper) bias':>18}  note")
    print(header)
    print("-" * len(header))
    for r in rows:
        if r.seconds is None:
            print(f"{r.name:<40} {int(r.work):>11} {'-':>9} {'-':>8} {'-':>10} {'-':>12} {'-':>16}"
                  f" {'-':>18} {'-':>18}  {r.note}")
            continue
        e = r.extra
        rate = r.work / r.seconds
        ns = 1e9 * r.seconds / (r.work * e["steps"])
        ratio = (rate and (ref.work / ref.seconds) / rate) if ref else None
        bias = f"{e['t_bias'] * 1e3:+.2f}+-{e['mean_t_se'] * 1e3:.2f}"
        pbias = f"{e['p_bias']:+.4f}+-{e['p_up_se']:.4f}"
        note = r.note + (f"; {e['unfinished']} unfinished" if e["unfinished"] else "")
        print(f"{r.name:<40} {int(r.work):>11} {r.seconds:>9.4f} {r.best:>8.4f} {rate:>10.3e}"
              f" {ns:>12.2f} "
              f"{fmt(ratio) + 'x':>16} {bias:>18} {pbias:>18}  {note}")
    print(f"   (bias pooled over {args.repeats} timed calls per row; ssm-simulators over "
          f"{args.slow_repeats})")
    print()


# -- benchmark 3: time to first result --------------------------------------------------------
FIRST_RESULT = {
    "OU, 10^4 paths x 10^3 steps": (
        "import sdekit.sde as s; "
        "sol = s.solve(s.OrnsteinUhlenbeck(), 0.0, [0.0, 1.0], dt=1e-3, n_paths=10000, "
        "save='final', seed=0); print(float(sol.final.mean()))"
    ),
    "bounded DDM, 10^4 trials": (
        "import sdekit.sde as s; "
        "sol = s.solve(s.DriftDiffusion(v=1.0), 0.75, [0.0, 10.0], dt=1e-3, n_paths=10000, "
        "boundaries=s.Boundaries(upper=1.5, lower=0.0), save='final', seed=0); "
        "print(float(sol.first_passage_time.mean()))"
    ),
    "import sdekit.sde only": "import sdekit.sde",
    "python -c pass (interpreter start)": "pass",
}


def run_process(code, env):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def first_result_benchmarks(args):
    rows = []
    for name, code in FIRST_RESULT.items():
        env = dict(os.environ)
        try:
            run_process(code, env)  # fills the cache where it is cold
            warm = run_process(code, env)
            if name.startswith(("import", "python")):
                cold = None
            else:
                with tempfile.TemporaryDirectory() as cache_dir:
                    env_cold = dict(env, NUMBA_CACHE_DIR=cache_dir)
                    cold = run_process(code, env_cold)
        except subprocess.CalledProcessError as exc:
            rows.append((name, None, None, f"failed: {exc.stderr.decode()[-300:]}"))
            continue
        rows.append((name, warm, cold, ""))
    return rows


def print_first_result(rows):
    print("== time to first result in a new process (end to end, seconds)")
    header = f"{'what':<40} {'cache warm (2nd run)':>21} {'cache cold (fresh dir)':>23}  note"
    print(header)
    print("-" * len(header))
    for name, warm, cold, note in rows:
        print(f"{name:<40} {fmt(warm):>21} {fmt(cold):>23}  {note}")
    print()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller trial counts and fewer repeats (about a minute)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per fast row (default 7, quick 3)")
    parser.add_argument("--only", choices=["ou", "ddm", "first"], action="append",
                        help="run only these benchmarks (repeatable)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU rows")
    args = parser.parse_args(argv)
    args.ou_paths = OU_PATHS
    if args.quick:
        args.repeats = args.repeats or 3
        args.slow_repeats = 1
        args.sdeint_paths = 10
        args.ddm_trials = 50_000
        args.ssms_trials = 20_000
        args.gpu_paths = 10**6
    else:
        args.repeats = args.repeats or 7
        args.slow_repeats = 3
        args.sdeint_paths = 50
        args.ddm_trials = 200_000
        args.ssms_trials = 100_000
        args.gpu_paths = 10**7
    args.only = set(args.only or ["ou", "ddm", "first"])
    return args


# -- the targets, read off this run ----------------------------------------------------
def _row(rows, name):
    return next((r for r in rows or [] if r.name == name and r.seconds), None)


def _per_unit(row):
    return row.seconds / row.work


def print_targets(ou_rows, ddm_rows, first_rows):
    print("== targets (set for a 2-core machine), as measured in this run")
    lines = []

    def add(target, value, met):
        verdict = "n/a" if met is None else ("met" if met else "MISSED")
        lines.append((target, value, verdict))

    ref = _row(ou_rows, "sdekit solve, numba")
    if ou_rows is not None:
        if ref:
            ns = 1e9 * _per_unit(ref)
            add(f"OU: under 5 ns per path-step ({nb.get_num_threads()} threads)",
                f"{ns:.2f} ns", ns < 5)
        for name in ("torchsde euler, default BM", "torchsde euler, BrownianInterval(dt=dt)"):
            peer = _row(ou_rows, name)
            ratio = _per_unit(peer) / _per_unit(ref) if peer and ref else None
            add(f"OU: at least 50x {name}", f"{fmt(ratio)}x", None if ratio is None
                else ratio >= 50)
        mine = _row(ou_rows, "sdekit solve, torch (cpu)")
        plain = _row(ou_rows, "plain batched torch loop (cpu)")
        ratio = mine.seconds / plain.seconds if mine and plain else None
        add("OU: torch backend as fast as a plain batched torch loop",
            f"{fmt(ratio)}x the loop's time", None if ratio is None else ratio <= 1.0)
        for name in ("hand-written numba prange, np.random",
                     "hand-written numba prange, sdekit RNG"):
            hand = _row(ou_rows, name)
            ratio = ref.seconds / hand.seconds if ref and hand else None
            add(f"OU: within 1.3x of {name}", f"{fmt(ratio)}x its time",
                None if ratio is None else ratio <= 1.3)
    if ddm_rows is not None:
        mine = _row(ddm_rows, "sdekit solve, numba, bridge-corrected")
        peer = _row(ddm_rows, "ssm-simulators ddm (1 thread)")
        ratio = _per_unit(peer) / _per_unit(mine) if mine and peer else None
        add("bounded: at least 5x ssm-simulators' trials/s", f"{fmt(ratio)}x",
            None if ratio is None else ratio >= 5)
        if mine and peer:
            b, se, bp = mine.extra["t_bias"], mine.extra["mean_t_se"], peer.extra["t_bias"]
            add("bounded: mean-RT bias at most a tenth of ssm-simulators'",
                f"{b * 1e3:+.2f}+-{se * 1e3:.2f} ms vs {bp * 1e3:+.2f} ms",
                abs(b) <= 0.1 * abs(bp))
        else:
            add("bounded: mean-RT bias at most a tenth of ssm-simulators'", "-", None)
        for name in ("hand-written numba prange, np.random",
                     "hand-written numba prange, sdekit RNG"):
            hand = _row(ddm_rows, name)
            ratio = _per_unit(mine) / _per_unit(hand) if mine and hand else None
            add(f"bounded: within 1.3x of {name}", f"{fmt(ratio)}x its time",
                None if ratio is None else ratio <= 1.3)
    if first_rows is not None:
        warm = [r[1] for r in first_rows if not r[0].startswith(("import", "python"))]
        worst = max((w for w in warm if w is not None), default=None)
        add("first result in a new process under 2 s, cache warm", f"{fmt(worst)} s",
            None if worst is None else worst < 2)
    width = max(len(t) for t, _, _ in lines) if lines else 10
    for target, value, verdict in lines:
        print(f"{target:<{width}}  {value:>32}  {verdict}")
    print()


# -- main ---------------------------------------------------------------------------------------
def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    print_environment()
    ou_rows = ddm_rows = first_rows = None
    if "ou" in args.only:
        ou_rows, exact_var = ou_benchmarks(args)
        print_ou(ou_rows, exact_var, args)
    if "ddm" in args.only:
        ddm_rows = ddm_benchmarks(args)
        print_ddm(ddm_rows, args)
    if "first" in args.only:
        first_rows = first_result_benchmarks(args)
        print_first_result(first_rows)
    print_targets(ou_rows, ddm_rows, first_rows)
    load = f", load average (1 min) {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(f"total benchmark time {time.perf_counter() - start:.0f} s{load}")


if __name__ == "__main__":
    main()

"""Fokker–Planck first-passage densities: sdekit against PyDDM at matched accuracy, in one run.

Two models, both densities (upper and lower boundary) for one parameter set over [0, 4] s:

1. the constant DDM: drift v = 1, unit noise, boundaries at -1 and 1, start at 0;
2. leak and an exponentially collapsing bound: drift 1 - x, unit noise, boundaries at
   +-1.2 exp(-t / 1.5), start at 0.

For each tool and grid setting we time one solve (median over repeats of the calling thread's CPU
time; both solvers are single-threaded) and measure the L1 distance
of each boundary's density from a reference, the larger of the two being "the error". References:
the exact series (``sdekit.ddm.density``) for model 1; for model 2 an sdekit solution at
``accuracy=1e-7``, cross-checked against PyDDM's two finest grids (and their first-order
Richardson extrapolation, PyDDM's backward Euler being first order in time). Times are then
compared at equal error: each PyDDM setting is set against the cheapest setting of sdekit's
accuracy sweep whose error is no larger. For model 1 the time of sdekit's closed-form density
(``sdekit.ddm.density.pdf``) on PyDDM's default time grid is printed too: PyDDM's default
solver for that model is its analytical one.

PyDDM must never be an sdekit dependency: run it from its own environment. This script runs the
PyDDM half in another interpreter (``--peer-python``, which needs only ``pyddm`` and ``numpy``);
the same file is that interpreter's worker (``--pyddm-worker``)::

    python -m venv peers && peers/bin/pip install pyddm==0.9.0
    python benchmarks/bench_fokker_planck.py --peer-python peers/bin/python [--quick]

Without ``--peer-python`` the current interpreter is used if it can import ``pyddm``; otherwise
only sdekit's figures are printed. The machine's load (``os.getloadavg``) is printed with the
figures: other processes sharing the cores slow both tools alike but add noise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

T_MAX = 4.0
MODELS = ("constant", "leak_collapse")


def _median_time(f, repeats=7, min_time=0.3, max_repeats=40, clock=time.thread_time):
    """Median time per call. By default the calling thread's CPU time: both solvers are
    single-threaded, so it is their wall time on an idle core and is less disturbed by other
    processes' load (pass ``clock=time.perf_counter`` for multithreaded code)."""
    f()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_time
                                   and len(times) < max_repeats):
        t = clock()
        f()
        times.append(clock() - t)
    return float(np.median(times))


# -- the PyDDM half (runs in the peer interpreter) -----------------------------------------------
def _pyddm_model(name, dx, dt):
    import pyddm

    common = dict(noise=1.0, starting_position=0.0, nondecision=0, mixture_coef=0, T_dur=T_MAX,
                  dx=dx, dt=dt)
    if name == "constant":
        return pyddm.gddm(drift=1.0, bound=1.0, **common)
    return pyddm.gddm(drift=lambda x, v, leak: v - leak * x,
                      bound=lambda t, B, tau: B * np.exp(-t / tau),
                      parameters={"v": 1.0, "leak": 1.0, "B": 1.2, "tau": 1.5}, **common)


def pyddm_worker():
    """Read jobs (JSON on stdin), solve each with PyDDM, write densities and times (JSON)."""
    import pyddm

    jobs = json.load(sys.stdin)
    out = []
    for job in jobs:
        model = _pyddm_model(job["model"], job["dx"], job["dt"])
        solver = {"default": model.solve, "analytical": model.solve_analytical,
                  "cn": model.solve_numerical_cn,
                  "implicit": model.solve_numerical_implicit}[job["method"]]
        seconds = _median_time(solver, repeats=job.get("repeats", 5))
        sol = solver()
        out.append({**job, "seconds": seconds, "t": model.t_domain().tolist(),
                    "upper": sol.pdf("correct").tolist(), "lower": sol.pdf("error").tolist()})
    json.dump({"version": pyddm.__version__, "results": out}, sys.stdout)


def run_pyddm(jobs, peer_python):
    if peer_python is None:
        try:
            import pyddm  # noqa: F401
        except ImportError:
            return None
        peer_python = sys.executable
    proc = subprocess.run([peer_python, os.path.abspath(__file__), "--pyddm-worker"],
                          input=json.dumps(jobs), capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


# -- the sdekit half -----------------------------------------------------------------------------
def sdekit_problem(name):
    import numba as nb

    from sdekit.sde import Boundaries, DriftDiffusion, OrnsteinUhlenbeck

    if name == "constant":
        return DriftDiffusion(1.0, 1.0), Boundaries(1.0, -1.0)

    @nb.njit
    def upper(t, q):
        return q[0] * math.exp(-t / q[1])

    @nb.njit
    def lower(t, q):
        return -q[0] * math.exp(-t / q[1])

    # OU: theta (mu - x) = 1 - x with theta = 1, mu = 1
    return OrnsteinUhlenbeck(1.0, 1.0, 1.0), Boundaries(upper, lower, params=[1.2, 1.5])


def l1_error(t, upper, lower, ref_upper, ref_lower):
    """Larger of the two boundaries' L1 distances (trapezoid on the tool's own grid)."""
    t = np.asarray(t)
    e_up = np.trapezoid(np.abs(np.asarray(upper) - ref_upper(t)), t)
    e_lo = np.trapezoid(np.abs(np.asarray(lower) - ref_lower(t)), t)
    return float(max(e_up, e_lo))


def references(name, problem):
    from sdekit.ddm import density
    from sdekit.sde import first_passage

    if name == "constant":
        def ref(resp):
            return lambda t: density.pdf(t, np.full(np.shape(t), resp), 1.0, 2.0, 0.5)
        return ref(1), ref(0), None
    fine = first_passage(*problem, 0.0, T_MAX, accuracy=1e-7)
    return (lambda t: fine.pdf(t, "upper")), (lambda t: fine.pdf(t, "lower")), fine


def sdekit_sweep(problem, ref_up, ref_lo, accuracies):
    from sdekit.sde import first_passage

    rows = []
    for acc in accuracies:
        def call(acc=acc):
            return first_passage(*problem, 0.0, T_MAX, accuracy=acc)
        seconds = _median_time(call)
        fp = call()
        rows.append({"accuracy": acc, "n_space": fp.n_space, "dt": fp.dt, "seconds": seconds,
                     "error": l1_error(fp.t, fp.upper, fp.lower, ref_up, ref_lo)})
    return rows


def time_at_error(rows, error):
    """Time of sdekit's cheapest setting at least as accurate as ``error`` (None if none is)."""
    times = [r["seconds"] for r in rows if r["error"] <= error]
    return min(times) if times else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", help="interpreter with pyddm installed")
    parser.add_argument("--quick", action="store_true", help="fewer grid settings")
    parser.add_argument("--pyddm-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pyddm_worker:
        return pyddm_worker()

    import numba

    print(f"load average before: {os.getloadavg()}, numba threads: {numba.get_num_threads()}")
    accuracies = [1.0, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6]
    grids = [0.02, 0.01, 0.005, 0.0025] if args.quick else [0.04, 0.02, 0.01, 0.005, 0.0025,
                                                              0.00125]
    for name in MODELS:
        problem = sdekit_problem(name)
        ref_up, ref_lo, fine = references(name, problem)
        rows = sdekit_sweep(problem, ref_up, ref_lo, accuracies)
        print(f"\n== model: {name} ==")
        if name == "constant":
            from sdekit.ddm import density

            grid = np.linspace(0.0, T_MAX, 801)
            resp = [np.ones(grid.size, dtype=np.int64), np.zeros(grid.size, dtype=np.int64)]
            # one thread: a parallel region on cores that others keep busy waits for its slowest
            # thread's time slice, which would time the machine's load, not the code
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            seconds = _median_time(lambda: [density.pdf(grid, r, 1.0, 2.0, 0.5) for r in resp])
            numba.set_num_threads(threads)
            print(f"sdekit.ddm.density.pdf (closed form, one thread) on PyDDM's default grid of "
                  f"801 times, both densities: {1e3 * seconds:.3f} ms")
        print("sdekit first_passage (accuracy sweep)")
        print(f"  {'accuracy':>9} {'cells':>6} {'dt':>9} {'ms':>8} {'L1 error':>9}")
        for r in rows:
            print(f"  {r['accuracy']:9.0e} {r['n_space']:6d} {r['dt']:9.2e} "
                  f"{1e3 * r['seconds']:8.3f} {r['error']:9.2e}")
        methods = ["default", "implicit"] + (["cn"] if name == "constant" else [])
        jobs = []
        for method in methods:
            for g in ([0.005] if method == "default" else grids):
                if method == "cn" and g < 0.0025:
                    continue  # PyDDM's Crank–Nicolson is a Python loop: seconds per solve
                jobs.append({"model": name, "method": method, "dx": g, "dt": g})
        if name == "leak_collapse":
            jobs += [{"model": name, "method": "implicit", "dx": g, "dt": g, "repeats": 1}
                     for g in (0.0005, 0.00025)]
        peer = run_pyddm(jobs, args.peer_python)
        if peer is None:
            print("PyDDM not available: pass --peer-python")
            continue
        print(f"PyDDM {peer['version']}")
        print(f"  {'method':>9} {'dx=dt':>8} {'ms':>9} {'L1 error':>9} {'sdekit ms':>10} "
              f"{'ratio':>7}")
        by_grid = {}
        for r in peer["results"]:
            err = l1_error(r["t"], r["upper"], r["lower"], ref_up, ref_lo)
            by_grid[(r["method"], r["dx"])] = r
            ours = time_at_error(rows, err)
            ratio = f"{r['seconds'] / ours:7.1f}" if ours else "      -"
            ours_txt = f"{1e3 * ours:10.3f}" if ours else "         -"
            print(f"  {r['method']:>9} {r['dx']:8.5f} {1e3 * r['seconds']:9.2f} {err:9.2e} "
                  f"{ours_txt} {ratio}")
        if fine is not None:
            a, b = by_grid[("implicit", 0.0005)], by_grid[("implicit", 0.00025)]
            t = np.asarray(b["t"])
            extrap = {s: 2 * np.asarray(b[s]) - np.interp(t, a["t"], a[s])
                      for s in ("upper", "lower")}
            err = l1_error(t, extrap["upper"], extrap["lower"], ref_up, ref_lo)
            print(f"  cross-check: the sdekit reference against PyDDM's Richardson-extrapolated "
                  f"dx=dt=0.0005/0.00025 pair: L1 {err:.2e}")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""The frozen DDM's ``logpdf`` against the compiled kernel it calls, in one run.

Usage::

    python benchmarks/bench_logpdf.py [--n 10000] [--repeats 200]

Times ``DDM(...).logpdf(rt, response)`` (validation of the data, then the kernel), the general
``sdekit.ddm.density.logpdf`` (parameters validated and broadcast on every call) and the kernel
alone (``logpdf_simple_array`` into a preallocated array, what the fitters call), interleaved
repeat by repeat so that the load of a shared machine falls on all three alike. Printed:
nanoseconds per density (medians over the repeats) and the ratio to the kernel.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from sdekit.ddm import DDM
from sdekit.ddm import density as D
from sdekit.ddm.sampling import sample_ddm


def _interleaved(fns, repeats):
    """Median seconds per call of each function, the calls interleaved."""
    for f in fns.values():
        f()  # compile / warm up
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="trials")
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    n = args.n
    print(f"{numba.get_num_threads()} numba threads, n = {n} trials, {args.repeats} repeats")
    for label, p in (("simple DDM", dict(v=1.0, a=1.5, z=0.5, t0=0.3)),
                     ("full DDM", dict(v=1.0, a=1.5, z=0.5, t0=0.3, sv=0.8, sz=0.2, st=0.15))):
        rt, resp = sample_ddm(n, seed=0, **p)
        m = DDM(**p)
        full = {k: np.array([float(m.params[k])]) for k in m.params}
        out = np.empty(n)
        if m.is_simple:
            def kernel():
                D.logpdf_simple_array(rt, resp, p["v"], p["a"], p["z"], p["t0"], out)
        else:
            def kernel():
                D.logpdf_array(rt, resp, *full.values(), out)
        fns = {"kernel": kernel,
               "DDM.logpdf": lambda: m.logpdf(rt, resp),
               "density.logpdf": lambda: D.logpdf(rt, resp, **m.params)}
        reps = args.repeats if m.is_simple else max(5, args.repeats // 20)
        t = _interleaved(fns, reps)
        assert np.array_equal(m.logpdf(rt, resp), D.logpdf(rt, resp, **m.params))
        print(f"\n{label}")
        print(f"  {'':16s} {'ns/density':>11s} {'x kernel':>9s}")
        for k, s in t.items():
            print(f"  {k:16s} {s / n * 1e9:11.1f} {s / t['kernel']:9.2f}")


if __name__ == "__main__":
    main()

"""Normal draws per second inside Numba: sdekit's per-path streams against NumPy's generators.

Run: python benchmarks/bench_random.py
Single-thread figures (the per-path streams scale with threads since paths are independent).
"""

from __future__ import annotations

import platform
import time

import numba as nb
import numpy as np

from sdekit.sde.random import next_normal, seed_state


@nb.njit
def _numpy_generator(rng, out):
    for i in range(out.size):
        out[i] = rng.standard_normal()


@nb.njit
def _numpy_legacy(out):
    for i in range(out.size):
        out[i] = np.random.standard_normal()  # noqa: NPY002 - the legacy API is the point


@nb.njit
def _sdekit_stream(seed, out):
    state = seed_state(seed, 0)
    for i in range(out.size):
        state, out[i] = next_normal(state)


def _best_time(fn, *args, repeats=7):
    fn(*args)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    n = 10**7
    out = np.empty(n)
    rows = [
        ("np.random.Generator (PCG64) in numba", _best_time(_numpy_generator,
                                                             np.random.default_rng(0), out)),
        ("np.random.standard_normal in numba", _best_time(_numpy_legacy, out)),
        ("sdekit per-path stream (xoshiro256++, ziggurat)", _best_time(_sdekit_stream,
                                                                        np.uint64(0), out)),
    ]
    reference = rows[0][1]
    print(f"numpy {np.__version__}, numba {nb.__version__}, {platform.processor() or 'cpu'}")
    print(f"{'generator':<50} {'normals/s':>12} {'ns/normal':>10} {'vs Generator':>13}")
    for name, seconds in rows:
        print(f"{name:<50} {n / seconds:12.3g} {seconds / n * 1e9:10.2f} "
              f"{reference / seconds:12.2f}x")


if __name__ == "__main__":
    main()

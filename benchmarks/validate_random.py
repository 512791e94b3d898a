"""A statistical battery for sdekit's generators that runs on 2 cores in a few minutes.

``python benchmarks/validate_random.py [--words-log2 24]`` tests both generators of
``solve(..., rng=...)``: ``"philox"`` (Philox4x32-10, Box–Muller) on its raw 32-bit words and its
normals, and ``"xoshiro"`` (today's per-path xoshiro256++ streams) on the top 32 bits of its
uniforms and its ziggurat normals. Each test prints a p-value; under a good generator p-values are
uniform on (0, 1), so a single p below 1e-3 is worth a rerun with another seed and a p below 1e-6
is a failure.

This is a documented subset in the spirit of TestU01's SmallCrush, not a replacement for it:

* ``chi2 top byte``: the top 8 bits of every word, 256 cells.
* ``chi2 bits``: how often each of the 32 bit positions is 1 (32 binomial z-scores, summed
  as a chi-square with 32 degrees of freedom).
* ``chi2 pairs``: the top 4 bits of consecutive words of a path, 256 cells.
* ``serial corr lag L``: the correlation of uniforms L draws apart within a path (L = 1, 2, 3,
  4, 5 and 8), a z-score.
* ``cross-path corr``: the correlation of the same draw in neighbouring paths (paths i and
  i + 1, the weak spot of badly seeded parallel streams), a z-score.
* ``birthday spacings``: Marsaglia's test, 4096 birthdays in a year of 2^32 days from each
  path's words, the number of repeated spacings summed over samples against its Poisson law.
* ``normals KS``, ``normals moments``: Kolmogorov–Smirnov against ``scipy.stats.norm`` and the
  z-scores of the mean, variance, skewness and excess kurtosis (combined as a chi-square with 4
  degrees of freedom).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from sdekit.sde import philox, random

SEED = 20261206


def philox_words(n_paths, n_words):
    return philox.uint32_words(SEED, n_paths, n_words).astype(np.int64)


def xoshiro_words(n_paths, n_words):
    # the top 32 of the 53 random bits of each uniform
    return np.floor(random.uniforms(SEED, n_paths, n_words) * 2.0**32).astype(np.int64)


def chi2_cells(counts):
    expected = counts.sum() / counts.size
    return stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), counts.size - 1)


def two_sided(z):
    return 2 * stats.norm.sf(abs(z))


def battery(words, normals_):
    """(name, p-value) of each test, on words of shape (n_paths, n_words) and normals."""
    flat = words.ravel()
    n = flat.size
    out = [("chi2 top byte", chi2_cells(np.bincount(flat >> 24, minlength=256)))]
    ones = np.array([np.count_nonzero((flat >> b) & 1) for b in range(32)])
    z = (ones - n / 2) / np.sqrt(n / 4)
    out.append(("chi2 bits", stats.chi2.sf((z**2).sum(), 32)))
    pairs = (words[:, 0::2] >> 28) * 16 + (words[:, 1::2] >> 28)
    out.append(("chi2 pairs", chi2_cells(np.bincount(pairs.ravel(), minlength=256))))
    u = (words + 0.5) / 2.0**32 - 0.5
    for lag in (1, 2, 3, 4, 5, 8):
        a, b = u[:, :-lag].ravel(), u[:, lag:].ravel()
        r = np.corrcoef(a, b)[0, 1]
        out.append((f"serial corr lag {lag}", two_sided(r * np.sqrt(a.size))))
    a, b = u[:-1].ravel(), u[1:].ravel()
    out.append(("cross-path corr", two_sided(np.corrcoef(a, b)[0, 1] * np.sqrt(a.size))))
    m, log2_days = 4096, 32
    usable = words.shape[1] // m
    samples = words[:, :usable * m].reshape(-1, m)
    spacings = np.diff(np.sort(samples, axis=1), axis=1)
    spacings.sort(axis=1)
    repeats = np.count_nonzero(np.diff(spacings, axis=1) == 0, axis=1).sum()
    lam = samples.shape[0] * m**3 / (4.0 * 2.0**log2_days)
    p_low, p_high = stats.poisson.cdf(repeats, lam), stats.poisson.sf(repeats - 1, lam)
    name = f"birthday spacings ({samples.shape[0]} samples)"
    out.append((name, min(1.0, 2 * min(p_low, p_high))))
    z = normals_.ravel()
    out.append(("normals KS", stats.kstest(z, "norm").pvalue))
    k = z.size
    zs = [z.mean() / np.sqrt(1 / k), (z.var() - 1) / np.sqrt(2 / k),
          np.mean(z**3) / np.sqrt(15 / k), (np.mean(z**4) - 3) / np.sqrt(96 / k)]
    out.append(("normals moments", stats.chi2.sf(np.sum(np.square(zs)), 4)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words-log2", type=int, default=24,
                        help="log2 of the words per generator (default 24: 16.8 million)")
    args = parser.parse_args(argv)
    n_paths = 1024
    n_words = 2**args.words_log2 // n_paths
    print(f"{n_paths} paths x {n_words} words = {n_paths * n_words:.3g} words per generator, "
          f"seed {SEED}")
    results = {}
    for name, words_of, normals_of in [
        ("philox", philox_words, lambda: philox.normals(SEED, n_paths, n_words)),
        ("xoshiro", xoshiro_words, lambda: random.normals(SEED, n_paths, n_words)),
    ]:
        start = time.perf_counter()
        results[name] = battery(words_of(n_paths, n_words), normals_of())
        print(f"{name}: {time.perf_counter() - start:.1f} s")
    print()
    print("| test | philox p | xoshiro p |")
    print("|---|---|---|")
    for (test, p1), (_, p2) in zip(results["philox"], results["xoshiro"], strict=True):
        print(f"| {test} | {p1:.3g} | {p2:.3g} |")
    worst = min(p for rows in results.values() for _, p in rows)
    print(f"\nsmallest p-value: {worst:.3g}")


if __name__ == "__main__":
    main()

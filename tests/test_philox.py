"""Philox4x32-10 normals: known answers, one stream on every backend, moments."""

import numpy as np
import pytest

import sdekit as sk
from sdekit.sde import philox

_M = 0xFFFFFFFF
# Random123's kat_vectors for philox4x32 with 10 rounds: counter (4 words), key (2), result (4).
KATS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((_M, _M, _M, _M), (_M, _M), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KATS)
def test_known_answers_numba(counter, key, expected):
    assert tuple(int(w) for w in philox.philox4x32_10(*counter, *key)) == expected


@pytest.mark.parametrize("counter,key,expected", KATS)
def test_known_answers_torch(counter, key, expected):
    torch = pytest.importorskip("torch")
    fn, _ = philox._torch_functions()
    words = fn(*(torch.tensor([w], dtype=torch.int64) for w in (*counter, *key)))
    assert tuple(int(w) for w in words) == expected


_CUDA_KAT_SCRIPT = r"""
import numpy as np
from numba import cuda
from sdekit.sde import philox
from sdekit.sde.backends.numba_cuda import to_cuda
from sdekit.sde.specialization import specialize
KATS = KATS_PLACEHOLDER

def _kat_kernel(inp, out):
    i = cuda.grid(1)
    if i < inp.shape[0]:
        w = _philox(inp[i, 0], inp[i, 1], inp[i, 2], inp[i, 3], inp[i, 4], inp[i, 5])
        for j in range(4):
            out[i, j] = w[j]

kernel = specialize(_kat_kernel, {"cuda": cuda, "_philox": to_cuda(philox._philox)},
                    target="cuda", kernel=True)
inp = np.array([list(c) + list(k) for c, k, _ in KATS], dtype=np.uint64)
out = np.zeros((len(KATS), 4), dtype=np.uint64)
with np.errstate(over="ignore"):
    kernel[1, 32](inp, out)
assert [tuple(int(w) for w in row) for row in out] == [e for _, _, e in KATS], out
print("ok")
""".replace("KATS_PLACEHOLDER", repr(KATS))


def test_known_answers_cuda_simulator(cuda_simulator):
    cuda_simulator(_CUDA_KAT_SCRIPT)


def test_torch_normals_bit_identical_to_numba():
    torch = pytest.importorskip("torch")
    z = philox.normals(2026, 64, 301, first_path=5, first_draw=3)
    zt = philox.torch_normals(2026, torch.arange(5, 69).unsqueeze(1),
                              torch.arange(3, 304).unsqueeze(0)).numpy()
    assert np.array_equal(z.view(np.uint64), zt.view(np.uint64))


def test_draws_are_a_pure_function_of_seed_path_and_draw():
    whole = philox.normals(7, 50, 40)
    assert np.array_equal(philox.normals(7, 10, 15, first_path=20, first_draw=9),
                          whole[20:30, 9:24])
    assert not np.array_equal(philox.normals(8, 50, 40), whole)


def test_normal_moments():
    """Mean, variance, skewness and excess kurtosis within 5 standard errors of the normal law's
    (SEs sqrt(1/n), sqrt(2/n), sqrt(6/n), sqrt(24/n)), and the lag-1 correlation within
    5/sqrt(n)."""
    z = philox.normals(11, 1000, 2000).ravel()
    n = z.size
    assert abs(z.mean()) < 5 * np.sqrt(1 / n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(np.mean(z**3)) < 5 * np.sqrt(15 / n)
    assert abs(np.mean(z**4) - 3) < 5 * np.sqrt(96 / n)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5 / np.sqrt(n)
    assert np.max(np.abs(z)) < 6.67


def test_box_muller_accuracy_against_libm():
    w = philox.uint32_words(3, 20, 400).astype(np.float64)
    radius = np.sqrt(-2 * np.log((w[:, 0::2] + 0.5) / 2**32))
    angle = 2 * np.pi * (w[:, 1::2] + 0.5) / 2**32
    z = philox.normals(3, 20, 400)
    assert np.allclose(z[:, 0::2], radius * np.cos(angle), rtol=0, atol=1e-14)
    assert np.allclose(z[:, 1::2], radius * np.sin(angle), rtol=0, atol=1e-14)


CASES = [
    (sk.OrnsteinUhlenbeck(1.0, 0.5, 0.3, dim=2), None, 0.0, "euler_maruyama"),
    (sk.DriftDiffusion(1.0), sk.Boundaries(1.5, 0.0), 0.75, "euler_maruyama"),
    (sk.GeometricBrownianMotion(0.1, 0.4), None, 1.0, "milstein"),
]


def test_philox_noise_is_the_documented_draws():
    """A driftless Brownian motion's increments are sqrt(dt) times draws 0, 1, ... of each path."""
    sol = sk.solve(sk.BrownianMotion(0.0, 1.0), 0.0, np.linspace(0, 1, 9), n_paths=6, seed=4,
                   rng="philox")
    steps = np.diff(sol.states[:, :, 0], axis=1)
    assert np.allclose(steps, np.sqrt(1 / 8) * philox.normals(4, 6, 8), rtol=1e-13, atol=0)


@pytest.mark.parametrize("sde,bounds,x0,method", CASES)
def test_same_paths_whatever_the_chunking(sde, bounds, x0, method):
    kw = dict(dt=0.05, n_paths=37, seed=5, boundaries=bounds, method=method, rng="philox")
    whole = sk.solve(sde, x0, [0, 0.5, 1.0], **kw)
    parts = sk.solve(sde, x0, [0, 0.5, 1.0], chunk_paths=10, progress=True, **kw)
    assert np.array_equal(whole.states, parts.states)
    other = sk.solve(sde, x0, [0, 0.5, 1.0], **{**kw, "rng": "xoshiro"})
    assert not np.array_equal(whole.states, other.states)


@pytest.mark.parametrize("sde,bounds,x0,method", CASES)
def test_torch_matches_numba(sde, bounds, x0, method):
    pytest.importorskip("torch")
    kw = dict(dt=0.05, n_paths=37, seed=5, boundaries=bounds, method=method, rng="philox")
    a = sk.solve(sde, x0, [0, 0.5, 1.0], **kw)
    t = sk.solve(sde, x0, [0, 0.5, 1.0], backend="torch", device="cpu", **kw)
    # the draws are identical; the scheme's arithmetic in torch may round differently
    assert np.allclose(a.states, t.states, rtol=1e-12, atol=1e-14)
    if bounds is not None:
        assert np.array_equal(a.boundary, t.boundary)
        assert np.allclose(a.first_passage_time, t.first_passage_time, equal_nan=True)


def test_unknown_rng_is_refused():
    with pytest.raises(ValueError, match="rng must be one of"):
        sk.solve(sk.BrownianMotion(), 0.0, [0, 1], rng="mt19937")


_CUDASIM_SCRIPT = r"""
import numpy as np, sdekit as sk
cases = [
    (sk.OrnsteinUhlenbeck(1.0, 0.5, 0.3, dim=2), None, 0.0, "euler_maruyama"),
    (sk.DriftDiffusion(1.0), sk.Boundaries(1.5, 0.0), 0.75, "euler_maruyama"),
]
for sde, bounds, x0, method in cases:
    kw = dict(dt=0.1, n_paths=12, seed=5, boundaries=bounds, method=method, rng="philox")
    a = sk.solve(sde, x0, [0, 0.5, 1.0], backend="numba", **kw)
    c = sk.solve(sde, x0, [0, 0.5, 1.0], backend="cuda", **kw)
    parts = sk.solve(sde, x0, [0, 0.5, 1.0], backend="cuda", chunk_paths=5, progress=True, **kw)
    assert np.array_equal(a.states, c.states), sde
    assert np.array_equal(c.states, parts.states), sde
    if bounds is not None:
        assert np.array_equal(a.boundary, c.boundary)
        assert np.array_equal(a.first_passage_time, c.first_passage_time, equal_nan=True)
print("ok")
"""


def test_cuda_simulator_gives_the_cpu_paths(cuda_simulator):
    cuda_simulator(_CUDASIM_SCRIPT)


def test_large_seeds_and_path_indices_agree_on_numba_and_torch():
    """Key and counter words above 2^31 and 2^32: where int64 tensor arithmetic could differ."""
    torch = pytest.importorskip("torch")
    seed, first = 2**64 - 1, 2**40 - 3
    z = philox.normals(seed, 6, 9, first_path=first, first_draw=2**33 - 2)
    zt = philox.torch_normals(seed, torch.arange(first, first + 6).unsqueeze(1),
                              torch.arange(2**33 - 2, 2**33 + 7).unsqueeze(0)).numpy()
    assert np.array_equal(z.view(np.uint64), zt.view(np.uint64))

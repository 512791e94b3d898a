import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from sdekit.sde import random as rnd


def test_normals_are_standard_normal():
    x = rnd.normals(11, 400, 2500).ravel()  # 10^6 draws
    n = x.size
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.var() - 1) < 5 * np.sqrt(2 / n)
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # The ziggurat's tail (beyond R = 3.654) and wedges must carry the right mass.
    tail = np.mean(np.abs(x) > 3.6541528853610088)
    expected = 2 * stats.norm.sf(3.6541528853610088)
    assert abs(tail - expected) < 5 * np.sqrt(expected / n)


def test_uniforms_are_uniform():
    u = rnd.uniforms(3, 1000, 1000).ravel()
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_streams_depend_only_on_seed_and_path():
    whole = rnd.normals(5, 100, 7)
    chunk = rnd.normals(5, 30, 7, first_path=40)
    np.testing.assert_array_equal(whole[40:70], chunk)
    assert not np.array_equal(rnd.normals(6, 100, 7), whole)


def test_streams_are_uncorrelated_across_paths():
    x = rnd.normals(1, 2000, 200)
    c = np.corrcoef(x)[np.triu_indices(2000, 1)]
    # Off-diagonal correlations of independent streams: sd 1/sqrt(200).
    assert abs(c.mean()) < 5 / np.sqrt(200 * c.size)
    assert abs(c.std() - 1 / np.sqrt(200)) < 0.01


def test_result_does_not_depend_on_thread_count():
    code = (
        "import numpy as np, sdekit as sk;"
        "s = sk.solve(sk.OrnsteinUhlenbeck(), 0.0, [0, 1], dt=0.01, n_paths=501, seed=9);"
        "print(repr(s.final.sum()))"
    )
    results = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        results.append(out.stdout.strip())
    assert results[0] == results[1]


def test_bad_seed():
    import pytest

    for bad in (-1, 2**64, 1.5, "x", True):
        with pytest.raises(ValueError, match="seed"):
            rnd.check_seed(bad)
    assert 0 <= rnd.check_seed(None) < 2**64


def test_streams_continue_each_path_and_skip_inactive_ones():
    full = rnd.normals(4, 6, 5)
    streams = rnd.Streams(4, 6)
    first = streams.normals(2)
    active = np.array([True, False, True, True, False, True])
    second = streams.normals(3, active=active)
    np.testing.assert_array_equal(first, full[:, :2])
    np.testing.assert_array_equal(second[active], full[active, 2:5])
    assert np.all(second[~active] == 0)
    third = streams.normals(1)  # inactive paths resume where they stopped
    np.testing.assert_array_equal(third[~active, 0], full[~active, 2])
    u = rnd.Streams(4, 4, first_path=2).uniforms(3)
    np.testing.assert_array_equal(u, rnd.uniforms(4, 4, 3, first_path=2))


_CUDA_STREAMS_SCRIPT = r"""
import numpy as np
from sdekit.sde import random as rnd
from sdekit.sde.backends.numba_cuda import CudaStreams
full = rnd.normals(4, 6, 5, first_path=3)
streams = CudaStreams(4, 6, first_path=3)
first = streams.normals(2).copy_to_host().T
active = np.array([True, False, True, True, False, True])
second = streams.normals(3, active=active).copy_to_host().T
third = streams.normals(1).copy_to_host().T
assert np.array_equal(first, full[:, :2])
assert np.array_equal(second[active], full[active, 2:5]) and np.all(second[~active] == 0)
assert np.array_equal(third[~active, 0], full[~active, 2])
u = CudaStreams(4, 4, first_path=2).uniforms(3).copy_to_host().T
assert np.array_equal(u, rnd.uniforms(4, 4, 3, first_path=2))
print("ok")
"""


def test_gpu_streams_give_the_cpu_draws(cuda_simulator):
    """Streams held on the GPU (for torch tensors there) draw exactly the CPU streams' numbers,
    checked on Numba's CUDA simulator."""
    cuda_simulator(_CUDA_STREAMS_SCRIPT)


def test_torch_streams_give_the_cpu_draws():
    import pytest

    pytest.importorskip("torch")
    from sdekit.sde.backends.torch import TorchStreams

    streams = TorchStreams(7, 5, device="cpu")
    z = streams.normals(3)
    u = streams.uniforms(2)
    full = rnd.Streams(7, 5)
    np.testing.assert_array_equal(z.numpy(), full.normals(3))
    np.testing.assert_array_equal(u.numpy(), full.uniforms(2))


def test_child_seed_is_the_score_samplers_sub_seed():
    import warnings

    from sdekit.score.sdes import subseed
    from sdekit.sde.random import child_seed

    for seed, tag in [(0, 0x5052), (2**64 - 1, 7), (123456789, 0x4E4F)]:
        words = np.random.SeedSequence([seed, tag]).generate_state(2, dtype=np.uint32)
        assert child_seed(seed, tag) == int(words[0]) | (int(words[1]) << 32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert subseed(seed, tag) == child_seed(seed, tag)
        # the low 32 bits are SeedSequence's first 32-bit word
        first = np.random.SeedSequence([seed, tag]).generate_state(1)[0]
        assert child_seed(seed, tag) & 0xFFFFFFFF == int(first)
    assert child_seed(1, 2, 3) != child_seed(1, 2, 4) != child_seed(1, 3)
    assert 0 <= child_seed(5, 0) < 2**64


def test_child_seed_rejects_what_it_cannot_derive_from():
    from sdekit.sde.random import child_seed

    with pytest.raises(ValueError, match="not None"):
        child_seed(None, 1)
    with pytest.raises(ValueError, match="at least one key"):
        child_seed(3)
    with pytest.raises(ValueError, match="non-negative integers"):
        child_seed(3, -1)

"""The CUDA (simulator) and torch backends against the Numba CPU backend, same seed."""


import numpy as np
import pytest

import sdekit as sk

CASES = [
    (sk.OrnsteinUhlenbeck(1.0, 0.5, 0.3, dim=2), None, 0.0, "euler_maruyama"),
    (sk.DriftDiffusion(1.0), sk.Boundaries(1.5, 0.0), 0.75, "euler_maruyama"),
    (sk.GeometricBrownianMotion(0.1, 0.4), None, 1.0, "milstein"),
    (sk.BrownianMotion(0.5, 1.0, dim=3), sk.Boundaries(1.0, -1.0), 0.0, "euler_maruyama"),
]


@pytest.mark.parametrize("sde, bounds, x0, method", CASES)
def test_torch_matches_numba(sde, bounds, x0, method):
    pytest.importorskip("torch")
    kw = dict(dt=1e-2, n_paths=500, seed=5, boundaries=bounds, method=method)
    a = sk.solve(sde, x0, [0, 0.5, 1.0], backend="numba", **kw)
    b = sk.solve(sde, x0, [0, 0.5, 1.0], backend="torch", **kw)
    np.testing.assert_allclose(b.states, a.states, rtol=1e-10, atol=1e-12)
    if bounds is not None:
        np.testing.assert_array_equal(b.boundary, a.boundary)
        np.testing.assert_array_equal(b.component, a.component)
        np.testing.assert_allclose(b.first_passage_time, a.first_passage_time, rtol=1e-10)


_CUDASIM_SCRIPT = r"""
import numpy as np, sdekit as sk
cases = [
    (sk.OrnsteinUhlenbeck(1.0, 0.5, 0.3, dim=2), None, 0.0, "euler_maruyama"),
    (sk.DriftDiffusion(1.0), sk.Boundaries(1.5, 0.0), 0.75, "euler_maruyama"),
    (sk.GeometricBrownianMotion(0.1, 0.4), None, 1.0, "milstein"),
    (sk.BrownianMotion(0.5, 1.0, dim=3), sk.Boundaries(1.0, -1.0), 0.0, "euler_maruyama"),
]
for sde, bounds, x0, method in cases:
    kw = dict(dt=0.05, n_paths=40, seed=5, boundaries=bounds, method=method)
    a = sk.solve(sde, x0, [0, 0.5, 1.0], backend="numba", **kw)
    c = sk.solve(sde, x0, [0, 0.5, 1.0], backend="cuda", **kw)
    assert np.allclose(a.states, c.states, rtol=1e-12, atol=1e-14), sde
    if bounds is not None:
        assert np.array_equal(a.boundary, c.boundary)
        assert np.array_equal(a.component, c.component)
        assert np.allclose(a.first_passage_time, c.first_passage_time, equal_nan=True)
w = sk.WienerProcess(2, 0.5)
print("ok")
"""


def test_cuda_simulator_matches_cpu(cuda_simulator):
    cuda_simulator(_CUDASIM_SCRIPT)


_ABSORB_ROWS_SCRIPT = r"""
import numpy as np
import sdekit as sk
from sdekit.sde.backends.torch import _absorb_batch
from sdekit.sde.backends.numba_cuda import absorb_rows
cases = [(sk.DriftDiffusion(1.0), sk.Boundaries(1.5, 0.0), 1),
         (sk.BrownianMotion(0.5, 1.0, dim=3), sk.Boundaries(1.0, -1.0), 3)]
rng = np.random.default_rng(1)
for sde, bounds, dim in cases:
    n = 40
    lo, hi = (0.0, 1.5) if dim == 1 else (-1.0, 1.0)
    near = rng.uniform(0.01, 0.1, (n, dim))
    x_start = np.where(rng.random((n, dim)) < 0.5, lo + near, hi - near)
    x_end = x_start + rng.normal(0, 0.08, (n, dim))
    g = np.full((n, dim), 1.0)
    q = np.ascontiguousarray(bounds.params, dtype=np.float64)
    alive = rng.random(n) < 0.9
    hit, fpt, level = np.zeros(n, np.int16), np.full(n, np.nan), np.zeros(n)
    _absorb_batch(sde, bounds)(np.uint64(7), np.int64(3), np.int64(5), alive.copy(), 0.2, 0.01,
                               x_start, x_end, g, True, q, hit, fpt, level)
    a_alive, a_x = alive.copy(), x_end.copy()
    a_hit, a_fpt = np.zeros(n, np.int16), np.full(n, np.nan)
    absorb_rows(sde, bounds)(n, np.uint64(7), np.int64(3), np.int64(5), a_alive, 0.2, 0.01,
                             x_start, a_x, g, True, q, a_hit, a_fpt)
    assert np.array_equal(hit, a_hit), (hit, a_hit)
    assert np.allclose(fpt, a_fpt, equal_nan=True, rtol=1e-14)
    newly = hit != 0
    assert newly.sum() > 5 and np.array_equal(a_alive, alive & ~newly), newly.sum()
    expect = x_end.copy()
    expect[newly, np.abs(hit[newly]) - 1] = level[newly]
    assert np.array_equal(a_x, expect)
print("ok")
"""


def test_gpu_absorption_of_tensor_rows_matches_the_cpu_test(cuda_simulator):
    """The torch backend on a GPU absorbs its paths with a CUDA kernel (no copy to the host per
    step); on the simulator it decides exactly as the CPU test, with the same draws."""
    cuda_simulator(_ABSORB_ROWS_SCRIPT)


def test_torch_backend_takes_a_module_as_drift():
    torch = pytest.importorskip("torch")
    import numba as nb

    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor([[-1.0, 0.5], [0.0, -2.0]],
                                                          dtype=torch.float64))

        def forward(self, t, x, p):
            return x @ self.weight.T

    @nb.njit
    def drift(t, x, p, out):
        out[0] = -x[0] + 0.5 * x[1]
        out[1] = -2.0 * x[1]

    @nb.njit
    def diffusion(t, x, p, out):
        out[0] = 0.3
        out[1] = 0.3

    sde = sk.SDE(drift, diffusion, dim=2, torch_drift=Linear(),
                 torch_diffusion=lambda t, x, p: torch.full_like(x, 0.3))
    kw = dict(dt=0.01, n_paths=300, seed=2)
    a = sk.solve(sde, [1.0, 1.0], [0.0, 1.0], backend="numba", **kw)
    b = sk.solve(sde, [1.0, 1.0], [0.0, 1.0], backend="torch", **kw)
    np.testing.assert_allclose(b.states, a.states, rtol=1e-10, atol=1e-12)

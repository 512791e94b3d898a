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

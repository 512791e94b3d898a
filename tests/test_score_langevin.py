"""Langevin sampling (ULA through the engine, MALA) on Gaussian targets with known moments.

Tolerances are Monte Carlo standard errors: for independent chains' final states the exact
variance of a sample mean or covariance entry, for correlated MCMC draws the standard deviation
over sqrt(effective sample size) of the statistic's own series. Seeds are fixed, so five standard
errors make a spurious failure practically impossible while a bias of a few errors shows.
"""

import math
import subprocess
import sys

import numba as nb
import numpy as np
import pytest

from sdekit.score import effective_sample_size, langevin
from sdekit.sde.random import normals

MEAN = np.array([1.0, -1.0, 0.5])
COV = np.array([[1.0, 0.5, 0.2], [0.5, 2.0, -0.3], [0.2, -0.3, 0.6]])
PREC = np.linalg.inv(COV)
# params layout for the compiled Gaussian: dim, mean (dim), precision (dim x dim)
PARAMS = np.concatenate([[3.0], MEAN, PREC.ravel()])


@nb.njit
def gauss_grad(x, q, out):
    d = int(q[0])
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += q[1 + d + i * d + j] * (x[j] - q[1 + j])
        out[i] = -s


@nb.njit
def gauss_logp(x, q):
    d = int(q[0])
    total = 0.0
    for i in range(d):
        for j in range(d):
            total += (x[i] - q[1 + i]) * q[1 + d + i * d + j] * (x[j] - q[1 + j])
    return -0.5 * total


@nb.njit
def std_grad(x, out):  # N(0, I), no parameters
    for k in range(x.shape[0]):
        out[k] = -x[k]


@nb.njit
def std_logp(x):
    return -0.5 * np.sum(x * x)


def _params(mean, cov):
    return np.concatenate([[mean.size], mean, np.linalg.inv(cov).ravel()])


def _ula_covariance(cov, h, k):
    """Exact covariance of ULA after k steps from a point, on N(m, cov).

    In the eigenbasis of cov (eigenvalues l) each coordinate is the AR(1) chain
    x' = (1 - h/l) x + sqrt(2h) z, whose variance after k steps is v (1 - c^(2k)) with
    c = 1 - h/l and v = 2h / (1 - c^2) = l / (1 - h / (2 l)).
    """
    lam, vec = np.linalg.eigh(cov)
    c = 1.0 - h / lam
    v = lam / (1.0 - h / (2.0 * lam)) * (1.0 - c ** (2 * k))
    return (vec * v) @ vec.T


def test_ula_stationary_law_has_its_known_order_h_bias():
    mean, cov = MEAN[:2], COV[:2, :2]
    n, k = 40_000, 150
    for h in (0.1, 0.4):
        res = langevin(grad_log_prob=gauss_grad, x0=mean, n=n, steps=k, step_size=h,
                       params=_params(mean, cov), seed=1)
        x = res.final
        expected = _ula_covariance(cov, h, k)
        got = np.cov(x, rowvar=False)
        # independent chains: Var(C_ij hat) = (C_ii C_jj + C_ij^2) / n for Gaussian draws
        se = np.sqrt((np.outer(np.diag(expected), np.diag(expected)) + expected**2) / n)
        assert np.all(np.abs(got - expected) < 5 * se), (h, got, expected)
        assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(np.diag(expected) / n))
        # the bias is real (the exact variances are many errors away at h = 0.4) and of first
        # order: the trace exceeds the target's by sum h / (2 - h / l), about h per dimension / 2
        lam = np.linalg.eigvalsh(cov)
        excess = np.trace(got) - np.trace(cov)
        assert abs(excess - np.sum(h / (2 - h / lam))) < 5 * np.sqrt(np.sum(np.diag(se) ** 2))
        if h == 0.4:
            assert np.all(np.diag(got) - np.diag(cov) > 5 * np.diag(se))


def _mc_se(series):
    """Standard error of the mean of a (n_chains, n_draws) series, from its ESS."""
    return series.std() / math.sqrt(effective_sample_size(series))


def test_mala_recovers_mean_and_covariance_within_monte_carlo_error():
    res = langevin(gauss_logp, grad_log_prob=gauss_grad, x0=np.zeros(3), n=64, steps=2200,
                   step_size=0.4, burn_in=200, thin=1, params=PARAMS, method="mala", seed=2)
    x = res.samples  # (64, 2000, 3)
    assert 0.3 < res.acceptance_rate < 0.95
    m_hat = x.mean(axis=(0, 1))
    for i in range(3):
        assert abs(m_hat[i] - MEAN[i]) < 5 * _mc_se(x[:, :, i]), (i, m_hat)
    dev = x - m_hat
    for i in range(3):
        for j in range(i, 3):
            prod = dev[:, :, i] * dev[:, :, j]
            assert abs(prod.mean() - COV[i, j]) < 5 * _mc_se(prod), (i, j, prod.mean())
    # ULA with the same step is biased by many such errors: the correction is doing the work
    ula = langevin(grad_log_prob=gauss_grad, x0=np.zeros(3), n=64, steps=2200, step_size=0.4,
                   burn_in=200, thin=1, params=PARAMS, seed=2)
    dev = ula.samples - ula.samples.mean(axis=(0, 1))
    prod = dev[:, :, 1] ** 2
    assert prod.mean() - COV[1, 1] > 5 * _mc_se(prod)


def test_acceptance_rate_lies_in_unit_interval_and_falls_with_step_size():
    rates = []
    for h in (0.05, 0.2, 0.8, 2.0):
        res = langevin(gauss_logp, grad_log_prob=gauss_grad, x0=MEAN, n=200, steps=300,
                       step_size=h, params=PARAMS, method="mala", seed=3)
        assert res.acceptance.shape == (200,)
        rates.append(res.acceptance_rate)
    assert all(0.0 < r < 1.0 for r in rates), rates
    assert all(a > b for a, b in zip(rates, rates[1:])), rates


@pytest.mark.parametrize("method", ["ula", "mala"])
def test_a_seed_fixes_every_chain_whatever_the_number_of_chains(method):
    kw = dict(grad_log_prob=gauss_grad, params=PARAMS, steps=50, step_size=0.3,
              method=method, thin=10)
    logp = gauss_logp if method == "mala" else None
    a = langevin(logp, x0=np.zeros(3), n=10, seed=7, **kw)
    b = langevin(logp, x0=np.zeros(3), n=10, seed=7, **kw)
    c = langevin(logp, x0=np.zeros(3), n=4, seed=7, **kw)
    d = langevin(logp, x0=np.zeros(3), n=10, seed=8, **kw)
    assert a.samples.shape == (10, 5, 3)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.samples[:4], c.samples)
    assert not np.allclose(a.samples, d.samples)
    np.testing.assert_array_equal(a.steps, [10, 20, 30, 40, 50])
    assert a.seed == 7


@pytest.mark.parametrize("method", ["ula", "mala"])
def test_thinned_long_chains_end_where_unthinned_ones_do(method):
    # 10^5 steps of 0.1: for ULA, times k h would round and cut some interval into two steps
    kw = dict(grad_log_prob=std_grad, x0=[0.3], n=2, steps=100_000, step_size=0.1, seed=3,
              method=method, log_prob=std_logp if method == "mala" else None)
    every = langevin(thin=1, **kw)
    sparse = langevin(thin=7, burn_in=5, **kw)
    last = langevin(**kw)
    assert every.samples.shape == (2, 100_000, 1)
    np.testing.assert_array_equal(every.steps, np.arange(1, 100_001))
    np.testing.assert_allclose(every.final, last.final, rtol=1e-12)
    np.testing.assert_allclose(sparse.samples, every.samples[:, sparse.steps - 1], rtol=1e-12)

def test_ula_is_the_engines_euler_maruyama_with_the_engines_streams():
    # one step from x0 with N(0, I): x1 = x0 - h x0 + sqrt(2h) z, z the path's first normals
    x0 = np.array([[0.5, -1.0], [2.0, 0.0]])
    h = 0.1
    res = langevin(grad_log_prob=gauss_grad, params=_params(np.zeros(2), np.eye(2)), x0=x0,
                   steps=1, step_size=h, seed=11)
    z = normals(11, 2, 2)
    np.testing.assert_allclose(res.final, x0 - h * x0 + math.sqrt(2 * h) * z, rtol=1e-12)


def test_torch_backend_gives_the_numba_chains():
    torch = pytest.importorskip("torch")
    mean = torch.as_tensor(MEAN)
    prec = torch.as_tensor(PREC)

    def logp(x):
        d = x - mean
        return -0.5 * ((d @ prec) * d).sum(1)

    def grad(x):
        return -(x - mean) @ prec

    kw = dict(x0=np.zeros(3), n=20, steps=60, step_size=0.3, thin=20, seed=5)
    for method in ("ula", "mala"):
        ref = langevin(gauss_logp, grad_log_prob=gauss_grad, params=PARAMS, method=method,
                       **kw)
        auto = langevin(logp, method=method, backend="torch", **kw)  # autograd
        given = langevin(logp, grad_log_prob=grad, method=method, backend="torch", **kw)
        np.testing.assert_allclose(auto.samples, ref.samples, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(given.samples, ref.samples, rtol=1e-9, atol=1e-9)
        if method == "mala":
            np.testing.assert_array_equal(auto.acceptance, ref.acceptance)


def test_effective_sample_size_of_known_chains():
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((8, 5000))
    assert abs(effective_sample_size(iid) / iid.size - 1.0) < 0.1
    phi = 0.8  # AR(1): ESS / N = (1 - phi) / (1 + phi)
    ar = np.empty((8, 20000))
    ar[:, 0] = rng.standard_normal(8) / math.sqrt(1 - phi**2)
    for t in range(1, ar.shape[1]):
        ar[:, t] = phi * ar[:, t - 1] + rng.standard_normal(8)
    ratio = effective_sample_size(ar) / ar.size
    assert abs(ratio / ((1 - phi) / (1 + phi)) - 1.0) < 0.15, ratio
    both = effective_sample_size(np.stack([iid[:, :4000], ar[:, :4000]], axis=-1))
    assert both.shape == (2,) and both[0] > both[1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="hmc"), "method must be one of"),
    (dict(backend="jax"), "backend must be one of"),
    (dict(steps=0), "steps must be an integer >= 1"),
    (dict(steps=2.5), "steps must be an integer"),
    (dict(step_size=-0.1), "step_size must be a positive number"),
    (dict(step_size=float("nan")), "step_size must be a positive number"),
    (dict(burn_in=10), "burn_in=10 must be smaller than steps=10"),
    (dict(thin=20), "thin=20 keeps nothing"),
    (dict(x0=None), "give x0"),
    (dict(x0=[[np.nan, 0.0, 0.0]]), "x0 must be finite"),
    (dict(x0=np.zeros((3, 3)), n=5), "x0 has 3 rows but n=5"),
    (dict(x0=np.zeros((2, 2, 3))), "x0 must have shape"),
    (dict(n=0), "n must be an integer >= 1"),
    (dict(params=[np.inf]), "params must be finite"),
    (dict(method="mala"), "needs log_prob"),
    (dict(grad_log_prob=None), "give log_prob, grad_log_prob or both"),
])
def test_bad_arguments_are_named(kwargs, match):
    args = dict(grad_log_prob=gauss_grad, x0=np.zeros(3), n=2, steps=10, step_size=0.1,
                params=PARAMS)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        langevin(**args)


def test_numba_backend_needs_a_gradient():
    with pytest.raises(ValueError, match="numba backend needs grad_log_prob"):
        langevin(gauss_logp, x0=np.zeros(3), steps=5, step_size=0.1, params=PARAMS)


def test_torch_log_prob_of_the_wrong_shape_is_reported():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"log_prob must return shape \(2,\)"):
        langevin(lambda x: (x**2).sum(), x0=np.zeros((2, 3)), steps=2, step_size=0.1,
                 backend="torch")


_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # any import of torch now fails
import numba as nb
from sdekit.score import langevin

@nb.njit
def grad(x, out):
    out[0] = -x[0]

@nb.njit
def logp(x):
    return -0.5 * x[0] * x[0]

ula = langevin(grad_log_prob=grad, x0=[0.0], n=100, steps=20, step_size=0.1, seed=0)
mala = langevin(logp, grad_log_prob=grad, x0=[0.0], n=100, steps=20, step_size=0.1,
                method="mala", seed=0)
assert ula.final.shape == mala.final.shape == (100, 1)
print("ok")
"""


def test_the_numba_path_needs_no_torch():
    out = subprocess.run([sys.executable, "-c", _WITHOUT_TORCH], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")

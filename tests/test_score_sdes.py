"""Forward SDEs of sdekit.score: marginals against simulation through solve, and their algebra."""

import numpy as np
import pytest

import sdekit as sk
from sdekit.score import VESDE, VPSDE, SubVPSDE

SDES = {
    "vp": VPSDE(dim=2),
    "vp_cosine": VPSDE(schedule="cosine", dim=2),
    "subvp": SubVPSDE(dim=2),
    "ve": VESDE(0.01, 10.0, dim=2),
}


@pytest.mark.parametrize("name", list(SDES))
def test_forward_marginals_match_simulation(name):
    sde = SDES[name]
    x0 = np.array([1.5, -2.0])
    # the cosine schedule's beta is singular at t = 1; test it where Euler–Maruyama is accurate
    times = np.array([0.0, 0.05, 0.3, 0.7 if name == "vp_cosine" else 0.9])
    n = 4000
    sol = sk.solve(sde, x0, times, dt=1e-3, n_paths=n, seed=11)
    alpha, sigma = sde.marginal(times[1:])
    states = sol.states[:, 1:, :]  # (n, 3, 2)
    mean_err = np.abs(states.mean(0) - alpha[:, None] * x0)
    std_err = np.abs(states.std(0, ddof=1) - sigma[:, None])
    # 5 standard errors of a sample mean and of a sample standard deviation
    assert np.all(mean_err < 5 * sigma[:, None] / np.sqrt(n)), mean_err
    assert np.all(std_err < 5 * sigma[:, None] / np.sqrt(2 * (n - 1))), std_err


@pytest.mark.parametrize("name", list(SDES))
def test_marginals_solve_the_moment_equations(name):
    # d alpha/dt = f_lin alpha and d sigma^2/dt = 2 f_lin sigma^2 + g^2, where the drift is
    # f_lin(t) x: this ties the closed-form marginals to the coefficients the engine integrates.
    sde = SDES[name]
    t = np.linspace(0.05, 0.9, 9)
    h = 1e-6
    a_plus, s_plus = sde.marginal(t + h)
    a_minus, s_minus = sde.marginal(t - h)
    alpha, sigma = sde.marginal(t)
    p = sde.params
    f_lin = np.array([sde.drift.py_func(ti, 1.0, p) for ti in t])
    g = np.array([sde.diffusion.py_func(ti, 0.0, p) for ti in t])
    np.testing.assert_allclose((a_plus - a_minus) / (2 * h), f_lin * alpha, rtol=1e-6, atol=1e-9)
    dvar = (s_plus**2 - s_minus**2) / (2 * h)
    np.testing.assert_allclose(dvar, 2 * f_lin * sigma**2 + g**2, rtol=1e-5)


def test_schedules_closed_forms():
    t = np.linspace(0.0, 1.0, 11)
    alpha, sigma = VPSDE().marginal(t)
    np.testing.assert_allclose(alpha**2 + sigma**2, 1.0, rtol=1e-14)
    np.testing.assert_allclose(alpha, np.exp(-0.5 * (0.1 * t + 0.5 * 19.9 * t**2)), rtol=1e-14)
    a_sub, s_sub = SubVPSDE().marginal(t)
    np.testing.assert_allclose(a_sub, alpha, rtol=1e-14)
    np.testing.assert_allclose(s_sub, 1 - alpha**2, rtol=1e-12, atol=1e-300)
    a_ve, s_ve = VESDE(0.01, 50.0).marginal(t)
    np.testing.assert_array_equal(a_ve, 1.0)
    np.testing.assert_allclose(s_ve**2, 0.01**2 * (5000.0 ** (2 * t) - 1), rtol=1e-12)
    cos = VPSDE(schedule="cosine")
    a_cos, s_cos = cos.marginal(np.linspace(0, cos.t_end, 7))
    s = 0.008
    ref = np.cos(np.pi / 2 * (np.linspace(0, cos.t_end, 7) + s) / (1 + s)) / np.cos(
        np.pi / 2 * s / (1 + s))
    np.testing.assert_allclose(a_cos, ref, rtol=1e-13)
    np.testing.assert_allclose(a_cos**2 + s_cos**2, 1.0, rtol=1e-13)
    assert s_cos[0] == 0.0 and sigma[0] == 0.0 and s_ve[0] == 0.0


@pytest.mark.parametrize("name", list(SDES))
def test_log_snr_inverse_and_transitions(name):
    sde = SDES[name]
    t = np.linspace(0.01, sde.t_end, 13)
    lam = sde.log_snr(t)
    assert np.all(np.diff(lam) < 0)
    np.testing.assert_allclose(sde.t_from_log_snr(lam), t, rtol=1e-10)
    # composing transitions 0 -> s -> t gives the marginal at t
    s = 0.4 * t
    a, v = sde.transition(s, t)
    alpha_s, sigma_s = sde.marginal(s)
    alpha_t, sigma_t = sde.marginal(t)
    np.testing.assert_allclose(a * alpha_s, alpha_t, rtol=1e-12)
    np.testing.assert_allclose(a**2 * sigma_s**2 + v, sigma_t**2, rtol=1e-12)
    assert np.all(v > 0)


def test_noise_score_conversions_and_tweedie():
    sde = VPSDE(dim=3)
    t = 0.4
    alpha, sigma = sde.marginal(t)
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(5, 3))
    x, eps = sde.perturb(x0, t, seed=3)
    np.testing.assert_allclose(x, alpha * x0 + sigma * eps)
    score = sde.eps_to_score(eps, t)
    np.testing.assert_allclose(score, -eps / sigma)
    np.testing.assert_allclose(sde.score_to_eps(score, t), eps)
    # with the conditional score, Tweedie's formula returns x0 exactly
    np.testing.assert_allclose(sde.denoise(x, score, t), x0, rtol=1e-12, atol=1e-12)
    ts = np.full(5, t)
    np.testing.assert_allclose(sde.eps_to_score(eps, ts), score)


def test_prior_is_seeded_and_scaled():
    ve = VESDE(0.01, 7.0)
    a = ve.prior_sample(20_000, dim=2, seed=4)
    b = ve.prior_sample(20_000, dim=2, seed=4)
    np.testing.assert_array_equal(a, b)
    assert abs(a.std() - 7.0) < 5 * 7.0 / np.sqrt(2 * a.size)
    assert not np.allclose(a, ve.prior_sample(20_000, dim=2, seed=5))
    x = np.zeros((1, 2))
    np.testing.assert_allclose(ve.prior_logpdf(x), -np.log(2 * np.pi * 49.0))


def test_with_dim_shares_coefficients():
    sde = VPSDE()
    other = sde.with_dim(5)
    assert other.dim == 5 and other.noise_dim == 5 and sde.dim == 1
    assert other.drift is sde.drift and other.diffusion is sde.diffusion


def test_torch_backend_runs_the_same_coefficients():
    pytest.importorskip("torch")
    for sde in SDES.values():
        kw = dict(dt=1e-2, n_paths=50, seed=2)
        a = sk.solve(sde, [1.0, -1.0], [0.0, 0.5], backend="numba", **kw)
        b = sk.solve(sde, [1.0, -1.0], [0.0, 0.5], backend="torch", **kw)
        np.testing.assert_allclose(b.states, a.states, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: VPSDE(beta_min=-1.0), "beta_min"),
        (lambda: VPSDE(beta_min=5.0, beta_max=1.0), "beta_max"),
        (lambda: VPSDE(schedule="sigmoid"), "schedule"),
        (lambda: VPSDE(schedule="cosine", t_end=1.0), "t_end < 1"),
        (lambda: VESDE(sigma_min=2.0, sigma_max=1.0), "sigma_max"),
        (lambda: VESDE(sigma_min=0.0), "sigma_min"),
        (lambda: SubVPSDE(t_eps=2.0), "t_eps"),
        (lambda: VPSDE().marginal(1.5), "t must lie"),
        (lambda: VPSDE().prior_sample(0), "n must be"),
        (lambda: VPSDE().with_dim(0), "dim must be"),
    ],
)
def test_bad_arguments(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()

"""Exact perturbed scores of Gaussian mixtures against independent references."""

import numpy as np
import pytest
from scipy import stats

from sdekit.score import VESDE, VPSDE, GaussianMixture, SubVPSDE
from sdekit.score.targets import gm_score_torch

SDES = [VPSDE(), VPSDE(schedule="cosine"), SubVPSDE(), VESDE(0.01, 10.0)]


def _random_mixture(dim, n_comp, seed, diagonal=False):
    rng = np.random.default_rng(seed)
    means = 2.0 * rng.normal(size=(n_comp, dim))
    if diagonal:
        covs = rng.uniform(0.05, 2.0, size=(n_comp, dim))
    else:
        a = rng.normal(size=(n_comp, dim, dim))
        covs = a @ np.swapaxes(a, 1, 2) / dim + 0.05 * np.eye(dim)
    return GaussianMixture(means, covs, rng.uniform(0.2, 1.0, n_comp))


def _torch_logpdf(gm, sde, t, x):
    """log p_t with torch.distributions (Cholesky based), built from the definition of p_t."""
    import torch

    alpha, sigma = sde.marginal(t)
    cov = alpha**2 * torch.as_tensor(gm.covs) + sigma**2 * torch.eye(gm.dim, dtype=torch.float64)
    mvn = torch.distributions.MultivariateNormal(alpha * torch.as_tensor(gm.means),
                                                 covariance_matrix=cov)
    comp = mvn.log_prob(x[:, None, :]) + torch.log(torch.as_tensor(gm.weights))
    return torch.logsumexp(comp, dim=1)


@pytest.mark.parametrize("sde", SDES, ids=lambda s: repr(s).split("(")[0] + str(s.code))
@pytest.mark.parametrize("dim, n_comp, diagonal", [(1, 3, True), (3, 4, False), (16, 3, False),
                                                   (16, 5, True)])
def test_score_matches_autograd(sde, dim, n_comp, diagonal):
    torch = pytest.importorskip("torch")
    gm = _random_mixture(dim, n_comp, seed=dim + n_comp, diagonal=diagonal)
    score = gm.score(sde)
    rng = np.random.default_rng(1)
    for t in (sde.t_eps, 0.1, 0.5, 0.9 * sde.t_end):
        x_np = gm.perturbed(sde, t).sample(64, seed=2) + 0.5 * rng.normal(size=(64, dim))
        x = torch.tensor(x_np, requires_grad=True)
        (grad,) = torch.autograd.grad(_torch_logpdf(gm, sde, t, x).sum(), x)
        ref = grad.numpy()
        scale = np.abs(ref).max()
        np.testing.assert_allclose(score(t, x_np), ref, rtol=0, atol=1e-10 * scale)
        q = torch.as_tensor(score.params[None, :])
        np.testing.assert_allclose(gm_score_torch(t, torch.as_tensor(x_np), q).numpy(), ref,
                                   rtol=0, atol=1e-10 * scale)


def test_score_matches_finite_differences_of_scipy_logpdf():
    gm = _random_mixture(3, 4, seed=7)
    sde = VPSDE()
    t = 0.2
    alpha, sigma = sde.marginal(t)

    def logpdf(x):
        cov = [alpha**2 * c + sigma**2 * np.eye(3) for c in gm.covs]
        dens = sum(w * stats.multivariate_normal(alpha * m, c).pdf(x)
                   for w, m, c in zip(gm.weights, gm.means, cov, strict=True))
        return np.log(dens)

    x = gm.perturbed(sde, t).sample(20, seed=3)
    h = 1e-5
    fd = np.stack([(logpdf(x + h * e) - logpdf(x - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(gm.score(sde)(t, x), fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gm.perturbed(sde, t).logpdf(x), logpdf(x), rtol=1e-12)


def test_logpdf_against_scipy():
    gm = _random_mixture(4, 3, seed=5)
    x = gm.sample(50, seed=1)
    ref = np.log(sum(w * stats.multivariate_normal(m, c).pdf(x)
                     for w, m, c in zip(gm.weights, gm.means, gm.covs, strict=True)))
    np.testing.assert_allclose(gm.logpdf(x), ref, rtol=1e-12)


def test_far_points_and_tiny_noise_stay_finite():
    # Far from every mode the responsibilities underflow in a naive implementation; the
    # streaming log-sum-exp keeps the score equal to that of the nearest component.
    gm = GaussianMixture([[0.0, 0.0], [10.0, 0.0]], 0.01)
    sde = VPSDE()
    score = gm.score(sde)
    x = np.array([[1e3, 5.0], [-1e3, -1e3], [5.0, 0.0]])
    t = sde.t_eps
    alpha, sigma = sde.marginal(t)
    c = alpha**2 * 0.01 + sigma**2
    got = score(t, x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[0], -(x[0] - alpha * np.array([10.0, 0.0])) / c, rtol=1e-12)
    np.testing.assert_allclose(got[1], -(x[1] - 0.0) / c, rtol=1e-12)
    assert np.all(np.isfinite(gm.perturbed(sde, t).logpdf(x)))


def test_sample_moments_and_labels():
    gm = _random_mixture(2, 3, seed=9)
    n = 40_000
    x, labels = gm.sample(n, seed=12, return_labels=True)
    counts = np.bincount(labels, minlength=3) / n
    assert np.all(np.abs(counts - gm.weights) < 5 * np.sqrt(gm.weights * (1 - gm.weights) / n))
    for k in range(3):
        members = x[labels == k]
        se = np.sqrt(np.diag(gm.covs[k]) / members.shape[0])
        assert np.all(np.abs(members.mean(0) - gm.means[k]) < 5 * se)
    total_se = np.sqrt(np.diag(gm.cov()) / n)
    assert np.all(np.abs(x.mean(0) - gm.mean()) < 5 * total_se)
    np.testing.assert_array_equal(x, gm.sample(n, seed=12))


def test_covariance_forms():
    means = np.zeros((3, 2))
    full = GaussianMixture(means, [np.diag([2.0, 0.5]), np.eye(2), np.diag([1.0, 3.0])])
    diag = GaussianMixture(means, [[2.0, 0.5], [1.0, 1.0], [1.0, 3.0]])
    np.testing.assert_array_equal(full.covs, diag.covs)
    assert full.diagonal and diag.diagonal
    square = np.zeros((2, 2))
    shared = GaussianMixture(square, [[1.0, 0.3], [0.3, 1.0]])  # K == dim: one shared matrix
    assert not shared.diagonal and np.allclose(shared.covs[1], [[1.0, 0.3], [0.3, 1.0]])
    with pytest.raises(ValueError, match="one shared matrix"):
        GaussianMixture(square, [[2.0, 0.5], [1.0, 1.0]])
    iso = GaussianMixture(means, [0.5, 2.0, 1.0])
    np.testing.assert_array_equal(iso.covs[1], 2.0 * np.eye(2))
    ring = GaussianMixture.ring(8, radius=3.0, std=0.2)
    np.testing.assert_allclose(np.linalg.norm(ring.means, axis=1), 3.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(means=[[0.0, 0.0]], covs=[[[1.0, 2.0], [2.0, 1.0]]]), "positive definite"),
        (dict(means=[[0.0, 0.0]], covs=[[[1.0, 0.5], [0.0, 1.0]]]), "symmetric"),
        (dict(means=[[0.0, 0.0]], covs=np.ones((2, 3))), "covs has shape"),
        (dict(means=[[0.0, np.nan]]), "finite"),
        (dict(means=[[0.0], [1.0]], weights=[1.0, -1.0]), "weights must be positive"),
        (dict(means=[[0.0], [1.0]], weights=[1.0]), "weights must have shape"),
    ],
)
def test_bad_mixtures(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(**kwargs)

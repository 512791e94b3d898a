"""Log-likelihoods through the probability-flow ODE, against mixtures whose density is known.

With the exact score of a Gaussian mixture and the exact law p_T as prior, the only error left
is the Heun discretisation: it must fall as steps^-2 and, by Richardson's argument, the result
at N steps is within |L_N - L_{N/2}| / 3 of the truth (checked with a factor 3 of slack).
Hutchinson's estimate must be unbiased for the exact-trace result at the same steps: the mean
over many probes agrees with it within five standard errors of that mean.
"""

import math

import numba as nb
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sdekit.score import (  # noqa: E402
    VESDE,
    VPSDE,
    GaussianMixture,
    Score,
    ScoreModel,
    SubVPSDE,
    bits_per_dim,
    log_likelihood,
)

GM = GaussianMixture([[1.0, 0.0], [-1.0, 0.5]],
                     [[[0.3, 0.1], [0.1, 0.2]], [[0.5, 0.0], [0.0, 0.4]]], [0.4, 0.6])
X = GM.sample(20, seed=0)


@pytest.fixture(autouse=True)
def _one_thread():
    # small batches: torch's thread pool only adds overhead on a shared machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("sde, steps", [(VPSDE(), (25, 50, 100)), (SubVPSDE(), (25, 50, 100)),
                                        (VESDE(0.01, 10.0), (50, 100, 200))],
                         ids=["vp", "subvp", "ve"])
def test_exact_trace_converges_at_second_order_to_the_true_log_density(sde, steps):
    sde = sde.with_dim(2)
    score = GM.score(sde)
    truth = GM.perturbed(sde, sde.t_eps).logpdf(X)
    prior = GM.perturbed(sde, sde.t_end).logpdf  # the exact p_T: no prior mismatch
    results = [log_likelihood(sde, score, X, steps=k, exact_trace=True, prior_logpdf=prior)
               for k in steps]
    errors = [np.abs(r - truth).max() for r in results]
    print(f"\n{sde!r}: max error at {steps} steps: " + " ".join(f"{e:.2e}" for e in errors))
    for coarse, fine in zip(errors, errors[1:]):
        assert 3.0 < coarse / fine < 5.5, errors  # Heun: 4 per halving
    assert np.all(np.abs(results[-1] - truth) <= np.abs(results[-1] - results[-2]) + 1e-9)
    assert errors[-1] < 2e-3


def test_default_prior_costs_only_the_prior_mismatch():
    sde = VPSDE().with_dim(2)
    res = log_likelihood(sde, GM.score(sde), X, steps=100, exact_trace=True,
                         return_details=True)
    p_t = GM.perturbed(sde, sde.t_end)
    exact_prior = res.log_p - res.prior_log_p + p_t.logpdf(res.x_end)
    truth = GM.perturbed(sde, sde.t_eps).logpdf(X)
    assert np.abs(exact_prior - truth).max() < 2e-3
    # under the VP SDE p_T is N(0, I) up to alpha(1) = 0.0066: a few thousandths of a nat
    assert np.abs(res.log_p - truth).max() < 1e-2
    assert res.n_score_evals == 200 and np.all(res.std_error == 0)
    assert res.delta.shape == (20, 1) and res.x_end.shape == (20, 2)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased_for_the_exact_trace(probe):
    gm = GaussianMixture([[1.0, 0.0, 0.2], [-1.0, 0.5, 0.0]],
                         [[0.3, 0.2, 0.4], [0.5, 0.6, 0.3]], [0.4, 0.6])
    x = gm.sample(20, seed=1)
    sde = VPSDE().with_dim(3)
    exact = log_likelihood(sde, gm.score(sde), x, steps=40, exact_trace=True)
    res = log_likelihood(sde, gm.score(sde), x, steps=40, n_probes=200, probe=probe, seed=2,
                         return_details=True)
    z = (res.log_p - exact) / res.std_error
    assert np.all(res.std_error > 0)
    assert np.abs(z).max() < 5, z
    assert abs(z.mean()) < 5 / math.sqrt(z.size), z.mean()
    assert res.delta.shape == (20, 200)


def test_probes_depend_on_seed_and_sample_only():
    sde = VPSDE().with_dim(2)
    score = GM.score(sde)
    a = log_likelihood(sde, score, X, steps=10, n_probes=3, seed=4)
    b = log_likelihood(sde, score, X, steps=10, n_probes=3, seed=4)
    c = log_likelihood(sde, score, X[:5], steps=10, n_probes=3, seed=4)
    d = log_likelihood(sde, score, X, steps=10, n_probes=3, seed=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[:5], c, rtol=1e-12)
    assert not np.allclose(a, d)


def test_standardized_model_recipe_gives_the_data_density():
    # a model of z = (x - shift) / scale, as ScoreModel trains, and the documented correction
    shift, scale = np.array([0.3, -0.2]), np.array([2.0, 0.5])
    gm_z = GaussianMixture((GM.means - shift) / scale,
                           GM.covs / np.outer(scale, scale)[None], GM.weights)
    sde = VPSDE().with_dim(2)
    z = (X - shift) / scale
    got = log_likelihood(sde, gm_z.score(sde), z, steps=100, exact_trace=True)
    got = got - np.log(scale).sum()
    # log p_t_eps of z differs from log p_0 by O(sigma(t_eps)^2 / var) ~ 1e-3 here
    assert np.abs(got - GM.logpdf(X)).max() < 2e-2


def test_a_trained_score_model_gives_finite_likelihoods():
    data = GM.sample(500, seed=3)
    model = ScoreModel(hidden=16, depth=2, embed_dim=8).fit(data, steps=30, seed=0,
                                                           progress=False)
    z = (data[:10] - model.shift) / model.scale
    log_p = log_likelihood(model.sde, model.score(), z, steps=5, n_probes=2, seed=0)
    log_p = log_p - np.log(model.scale).sum()
    assert log_p.shape == (10,) and np.all(np.isfinite(log_p))


def test_bits_per_dim():
    # N(0, I) at its mean: log p = -d/2 log(2 pi), i.e. log2(2 pi) / 2 bits per dimension
    d = 4
    log_p = -0.5 * d * math.log(2 * math.pi)
    assert bits_per_dim(log_p, d) == pytest.approx(0.5 * math.log2(2 * math.pi))
    assert bits_per_dim(log_p, d, bin_width=1 / 256) == pytest.approx(
        0.5 * math.log2(2 * math.pi) + 8)
    np.testing.assert_allclose(bits_per_dim([log_p, 0.0], d), [bits_per_dim(log_p, d), 0.0])
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        bits_per_dim(log_p, 0)
    with pytest.raises(ValueError, match="bin_width must be a positive number"):
        bits_per_dim(log_p, d, bin_width=0)


@nb.njit
def _numba_only(t, x, q, out):
    for k in range(x.shape[0]):
        out[k] = -x[k]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros(2)), ValueError, r"x must have shape \(n, dim\)"),
    (dict(x=[[np.nan, 0.0]]), ValueError, "x must be finite"),
    (dict(x=np.zeros((2, 3))), ValueError, "x has dimension 3 but the score has dimension 2"),
    (dict(n_probes=0), ValueError, "n_probes must be a positive integer"),
    (dict(probe="uniform"), ValueError, "probe must be one of"),
    (dict(t_eps=2.0), ValueError, "t_eps must lie in"),
    (dict(steps=0), ValueError, "steps must be a positive integer"),
    (dict(score=Score(numba=_numba_only)), ValueError, "has no torch form"),
    (dict(sde="vp"), TypeError, "sde must be a forward SDE"),
    (dict(prior_logpdf=lambda x: x), ValueError, r"prior_logpdf must return shape \(2,\)"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    sde = VPSDE()
    args = dict(sde=sde, score=GM.score(sde), x=X[:2], steps=2)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        log_likelihood(args.pop("sde"), args.pop("score"), args.pop("x"), **args)

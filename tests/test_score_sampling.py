"""Samplers against Gaussian targets with exact scores: the error left is the sampler's alone.

Errors are 2-Wasserstein distances computed exactly from the sample mean and covariance (all that
separates two Gaussians), judged against the Monte Carlo floor that n exact draws would show
(:func:`sdekit.score.metrics.w2_floor`), and pathwise errors against the exact probability-flow
map, which has no sampling floor at all.

The forward SDEs are isotropic, so every sampler commutes with rotations: a diagonal covariance
in 16 dimensions loses no generality against a rotated one and keeps the score O(d) per call.
The 2-D target has a full covariance, so the rotation code of the score is exercised too.
"""


import numpy as np
import pytest

from sdekit.score import VESDE, VPSDE, GaussianMixture, SubVPSDE
from sdekit.score.metrics import mode_statistics, w2_floor, w2_to_gaussian
from sdekit.score.sampling import METHODS, n_score_evals, sample, time_grid

MEAN2 = np.array([0.8, -0.5])
COV2 = np.array([[1.0, 0.6], [0.6, 0.8]])
LAM16 = np.linspace(0.2, 2.0, 16)
MEAN16 = np.linspace(-1.0, 1.0, 16)
TARGETS = {
    2: (GaussianMixture(MEAN2, COV2[None]), 20_000),
    16: (GaussianMixture(MEAN16, LAM16[None]), 10_000),
}


def _w2sq(x, gm, sde):
    # the samplers stop at t_eps: compare with the exact law there
    law = gm.perturbed(sde, sde.t_eps)
    return w2_to_gaussian(x, law.means[0], law.covs[0]) ** 2


@pytest.mark.parametrize("dim", [2, 16])
@pytest.mark.parametrize("method", METHODS)
def test_error_shrinks_with_steps(dim, method):
    gm, n = TARGETS[dim]
    sde = VPSDE()
    score = gm.score(sde)
    errors = [_w2sq(sample(sde, score, n, method=method, steps=k, seed=1), gm, sde)
              for k in (10, 30, 100)]
    print(f"\n{method} dim={dim} W2^2 at 10/30/100 steps: "
          + " ".join(f"{e:.2e}" for e in errors))
    assert errors[0] > errors[1] > errors[2], errors


@pytest.mark.parametrize("dim, sde", [(2, VPSDE()), (16, VPSDE()), (2, SubVPSDE()),
                                      (2, VESDE(0.01, 10.0)), (2, VPSDE(schedule="cosine"))],
                         ids=["vp-2", "vp-16", "subvp-2", "ve-2", "vp_cosine-2"])
def test_reverse_sde_at_1000_steps_sits_at_the_monte_carlo_floor(dim, sde):
    gm, n = TARGETS[dim]
    x = sample(sde, gm.score(sde), n, method="reverse_sde", steps=1000, seed=3)
    floor_mean, floor_sd = w2_floor(gm.perturbed(sde, sde.t_eps).covs[0], n)
    err = _w2sq(x, gm, sde)
    print(f"\nreverse_sde 1000 steps dim={dim}: W2^2 = {err:.2e}, "
          f"floor {floor_mean:.2e} +- {floor_sd:.2e}")
    assert err < floor_mean + 5 * floor_sd


def test_floor_formula_matches_exact_draws():
    # the leading-order floor against the W2^2 of exact draws, over 40 independent samples
    gm, n = TARGETS[16]
    floor_mean, floor_sd = w2_floor(gm.covs[0], n)
    draws = [w2_to_gaussian(gm.sample(n, seed=s), gm.means[0], gm.covs[0]) ** 2
             for s in range(40)]
    assert abs(np.mean(draws) - floor_mean) < 5 * floor_sd / np.sqrt(40)
    assert 0.5 * floor_sd < np.std(draws) < 2 * floor_sd


@pytest.mark.parametrize("method, order", [("probability_flow", 2.0), ("ddim", 1.0),
                                           ("dpm_solver", 2.0)])
def test_deterministic_samplers_converge_at_their_order(method, order):
    # The exact probability-flow map of a Gaussian is affine: per eigendirection
    # x -> m_t + sqrt(Var_t / Var_T) (x - m_T). Comparing each sample with the image of its own
    # prior draw measures the integration error without any Monte Carlo floor.
    gm, _ = TARGETS[16]
    n = 2000
    sde = VPSDE()
    x_init = sde.prior_sample(n, 16, seed=7)
    a0, s0 = sde.marginal(sde.t_eps)
    a1, s1 = sde.marginal(sde.t_end)
    var0, var1 = a0**2 * LAM16 + s0**2, a1**2 * LAM16 + s1**2
    exact = a0 * MEAN16 + np.sqrt(var0 / var1) * (x_init - a1 * MEAN16)
    steps = (20, 40, 80)
    errors = [np.sqrt(np.mean(np.sum((sample(sde, gm.score(sde), n, method=method, steps=k,
                                             x_init=x_init, seed=0) - exact) ** 2, axis=1)))
              for k in steps]
    observed = np.log2(errors[1] / errors[2])
    print(f"\n{method}: RMS path error at {steps} steps " + " ".join(f"{e:.2e}" for e in errors)
          + f", observed order {observed:.2f}")
    assert errors[0] > errors[1] > errors[2]
    assert abs(observed - order) < 0.15


def test_ring_of_eight_modes():
    ring = GaussianMixture.ring(8, radius=4.0, std=0.3)
    sde = VPSDE()
    law = ring.perturbed(sde, sde.t_eps)
    n = 10_000
    x = sample(sde, ring.score(sde), n, method="reverse_sde", steps=1000, seed=5)
    stats = mode_statistics(x, law)
    nk = stats["counts"]
    var = law.covs[:, 0, 0]
    print("\nring, reverse_sde 1000 steps: mean errors", np.round(stats["mean_error"], 4),
          "cov errors", np.round(stats["cov_error"], 4), f"TV {stats['tv']:.4f}")
    # |mean_hat - m|^2 ~ (var / n_k) chi2(2); ||cov_hat - S||_F^2 has mean 6 var^2 / n_k in 2-D
    assert np.all(stats["mean_error"] < 5 * np.sqrt(2 * var / nk))
    assert np.all(stats["cov_error"] < 5 * np.sqrt(6 * var**2 / nk))
    sd = np.sqrt(law.weights * (1 - law.weights) / n)
    tv_mean = 0.5 * np.sqrt(2 / np.pi) * sd.sum()
    tv_sd = 0.5 * np.sqrt((1 - 2 / np.pi) * np.sum(sd**2))
    assert stats["tv"] < tv_mean + 5 * tv_sd


def test_backends_give_the_same_samples():
    pytest.importorskip("torch")
    ring = GaussianMixture.ring(8, radius=4.0, std=0.3)
    sde = VPSDE()
    score = ring.score(sde)
    for method in METHODS:
        kw = dict(method=method, steps=25, seed=9)
        a = sample(sde, score, 300, backend="numba", **kw)
        b = sample(sde, score, 300, backend="torch", **kw)
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11, err_msg=method)


_CUDASIM_SCRIPT = r"""
import numpy as np
from sdekit.score import VPSDE, GaussianMixture
from sdekit.score.sampling import sample
sde = VPSDE()
# two full-covariance components: both the log-sum-exp and the rotation code run on the device
covs = [[[1.0, 0.6], [0.6, 0.8]], [[0.5, 0.1], [0.1, 0.3]]]
target = GaussianMixture([[0.8, -0.5], [-1.0, 1.0]], covs)
for method in ("reverse_sde", "probability_flow"):
    kw = dict(method=method, steps=6, seed=4)
    a = sample(sde, target.score(sde), 8, backend="numba", **kw)
    c = sample(sde, target.score(sde), 8, backend="cuda", **kw)
    assert np.allclose(a, c, rtol=1e-10, atol=1e-12), (method, np.abs(a - c).max())
print("ok")
"""


def test_cuda_simulator_gives_the_same_samples(cuda_simulator):
    cuda_simulator(_CUDASIM_SCRIPT)


@pytest.mark.parametrize("method", METHODS)
def test_a_seed_fixes_the_samples(method):
    gm = TARGETS[2][0]
    sde = VPSDE()
    a = sample(sde, gm.score(sde), 200, method=method, steps=20, seed=4)
    b = sample(sde, gm.score(sde), 200, method=method, steps=20, seed=4)
    c = sample(sde, gm.score(sde), 200, method=method, steps=20, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_grids_and_budgets():
    sde = VPSDE()
    for spacing in ("time", "logsnr", "quadratic"):
        grid = time_grid(sde, 12, spacing)
        assert grid[0] == sde.t_end and grid[-1] == sde.t_eps and np.all(np.diff(grid) < 0)
    lam = sde.log_snr(time_grid(sde, 12, "logsnr"))
    np.testing.assert_allclose(np.diff(lam), np.diff(lam)[0], rtol=1e-8)
    assert n_score_evals("probability_flow", 50) == 100
    assert n_score_evals("pc", 50, corrector_steps=2) == 150
    assert n_score_evals("heun", 10) == 20 and n_score_evals("ddim", 10) == 10


def test_user_numba_score():
    import numba as nb

    from sdekit.score import Score

    @nb.njit
    def standard_normal_score(t, x, q, out):
        for k in range(x.shape[0]):
            out[k] = -q[0] * x[k]

    score = Score(standard_normal_score, params=[1.0], dim=3)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(score(0.3, x), -x)
    # The VP marginals of N(0, I) are N(0, I): the probability-flow drift vanishes, so the
    # engine's Heun steps must return the prior draws unchanged.
    sde = VPSDE()
    out = sample(sde, score, 500, method="probability_flow", steps=7, seed=1)
    np.testing.assert_allclose(out, sde.prior_sample(500, 3, seed=1), rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="rk45"), "unknown method"),
        (dict(steps=0), "steps must be"),
        (dict(n=0), "n must be"),
        (dict(backend="jax"), "backend must be"),
        (dict(x_init=np.zeros((3, 2))), "x_init must have shape"),
        (dict(eta=2.0), "eta must lie"),
        (dict(snr=-1.0), "snr must be"),
        (dict(spacing="cubic"), "spacing must be"),
        (dict(predictor="leapfrog"), "predictor must be"),
    ],
)
def test_bad_arguments(kwargs, message):
    gm = TARGETS[2][0]
    sde = VPSDE()
    args = dict(n=10, steps=5, method="pc")
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sample(sde, gm.score(sde), **args)


def test_sde_must_be_a_forward_sde():
    import sdekit as sk

    with pytest.raises(TypeError, match="forward SDE"):
        sample(sk.OrnsteinUhlenbeck(), TARGETS[2][0].score(VPSDE()), 10, steps=5)


def test_denoise_moves_samples_to_the_posterior_mean():
    # Stopping the VP SDE at t_eps = 0.1 leaves noise of variance about 0.1 in the samples;
    # Tweedie's step maps p_{t_eps} = N(a m, a^2 C + s^2 I) linearly to the law of the
    # posterior mean, N(m, a^2 C (a^2 C + s^2 I)^-1 C), exactly.
    sde = VPSDE(t_eps=0.1)
    gm, n = TARGETS[2]
    alpha, sigma = sde.marginal(np.array([sde.t_eps]))
    a, s2 = alpha[0], sigma[0] ** 2
    score = gm.score(sde)
    x = sample(sde, score, n, method="probability_flow", steps=200, seed=5)
    y = sample(sde, score, n, method="probability_flow", steps=200, seed=5, denoise=True)
    # the same path, then the step itself
    np.testing.assert_allclose(y, (x + s2 * score(sde.t_eps, x)) / a, rtol=0, atol=1e-12)
    target_cov = a * a * COV2 @ np.linalg.solve(a * a * COV2 + s2 * np.eye(2), COV2)
    err = w2_to_gaussian(y, MEAN2, target_cov) ** 2
    floor_mean, floor_sd = w2_floor(target_cov, n)
    undenoised = w2_to_gaussian(x, MEAN2, target_cov) ** 2
    print(f"\ndenoised W2^2 {err:.2e} (floor {floor_mean:.2e} +- {floor_sd:.2e}); "
          f"not denoised {undenoised:.2e}")
    assert err < floor_mean + 5 * floor_sd
    assert undenoised > floor_mean + 20 * floor_sd  # the step matters at this t_eps
    assert n_score_evals("pc", 50, denoise=True) == 101
    with pytest.raises(TypeError, match="denoise"):
        sample(sde, score, 10, steps=5, denoise="yes")


@pytest.mark.parametrize("method", ["reverse_sde", "ddpm"])
def test_details_record_the_seed_drawn(method):
    from sdekit.score import SampleResult

    sde = VPSDE()
    gm = GaussianMixture([[0.0], [2.0]], [[[0.3]], [[0.3]]], [0.5, 0.5])
    result = sample(sde, gm.score(sde), 16, method=method, steps=5, return_details=True)
    assert isinstance(result, SampleResult) and result.method == method
    again = sample(sde, gm.score(sde), 16, method=method, steps=5, seed=result.seed)
    np.testing.assert_array_equal(result.samples, again)
    assert result.n_score_evals == n_score_evals(method, 5)

"""Flow matching: the OT path, exact Gaussian-mixture velocities, the flow samplers, and
ScoreModel(path="ot") with its save/load and command line."""

import argparse

import numpy as np
import pytest

from sdekit.score import (
    FLOW_METHODS,
    VESDE,
    VPSDE,
    GaussianMixture,
    OTPathSDE,
    ScoreModel,
    SubVPSDE,
    Velocity,
    make_toy,
    mode_statistics,
    n_score_evals,
    sample,
    sliced_wasserstein,
    w2_floor,
    w2_to_gaussian,
)

FULL = GaussianMixture([[0.5, -0.3], [-1.2, 1.0], [2.0, 1.5]],
                       [[[0.6, 0.25], [0.25, 0.4]], [[0.3, -0.1], [-0.1, 0.5]], 0.2 * np.eye(2)],
                       [0.2, 0.5, 0.3])
LAM = np.linspace(0.2, 2.0, 8)
MEAN = np.linspace(-1.0, 1.0, 8)
GAUSS = GaussianMixture(MEAN[None, :], np.diag(LAM)[None])
ALL_SDES = [OTPathSDE(), OTPathSDE(sigma_min=0.05), VPSDE(), VPSDE(schedule="cosine"),
            SubVPSDE(), VESDE(0.01, 10.0)]
SDE_IDS = ["ot", "ot-smin", "vp", "vp_cosine", "subvp", "ve"]


def _points(n=7, seed=3):
    return 1.5 * np.random.default_rng(seed).standard_normal((n, 2))


# -- the path and its exact velocity -----------------------------------------------------------
@pytest.mark.parametrize("sde", ALL_SDES, ids=SDE_IDS)
def test_marginal_rates_are_the_derivatives_of_the_marginals(sde):
    t = np.array([0.1, 0.35, 0.8])
    h = 1e-6
    (a1, s1), (a0, s0) = sde.marginal(t + h), sde.marginal(t - h)
    da, ds = sde.marginal_rates(t)
    np.testing.assert_allclose(da, (a1 - a0) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ds, (s1 - s0) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("sde", ALL_SDES[2:], ids=SDE_IDS[2:])
def test_velocity_is_the_probability_flow_drift(sde):
    # forward-time probability flow dx/dt = f x - g^2/2 score with f = alpha'/alpha and
    # g^2 = d(sigma^2)/dt - 2 f sigma^2: the marginal velocity by another route
    x = _points()
    for t in (0.05, 0.4, 0.9):
        alpha, sigma = sde.marginal(t)
        dalpha, dsigma = sde.marginal_rates(t)
        f = dalpha / alpha
        g2 = 2 * sigma * dsigma - 2 * f * sigma**2
        expected = f * x - 0.5 * g2 * FULL.score(sde)(t, x)
        np.testing.assert_allclose(FULL.velocity(sde)(t, x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sde", [OTPathSDE(), OTPathSDE(sigma_min=0.05)], ids=["ot", "ot-smin"])
def test_velocity_satisfies_the_continuity_equation(sde):
    # d/dt log p_t + div v + v . grad log p_t = 0, every term by central differences of the
    # exact mixture law p_t = FULL.perturbed(sde, t)
    x = _points()
    velocity = FULL.velocity(sde)
    h = 1e-5
    for t in (0.1, 0.5, 0.9):
        dlogp = (FULL.perturbed(sde, t + h).logpdf(x)
                 - FULL.perturbed(sde, t - h).logpdf(x)) / (2 * h)
        div = np.zeros(len(x))
        grad = np.zeros_like(x)
        law = FULL.perturbed(sde, t)
        for k in range(2):
            e = np.zeros(2)
            e[k] = h
            div += (velocity(t, x + e)[:, k] - velocity(t, x - e)[:, k]) / (2 * h)
            grad[:, k] = (law.logpdf(x + e) - law.logpdf(x - e)) / (2 * h)
        residual = dlogp + div + (velocity(t, x) * grad).sum(1)
        np.testing.assert_allclose(residual, 0.0, atol=1e-6)


def test_velocity_at_the_ends_of_the_ot_path():
    # t = 1: X_1 = eps, so v = E[eps - X_0 | eps = x] = x - E X_0; t = 0 (sigma_min = 0):
    # X_0 = x, so v = E[eps] - x = -x. Formulas through the score divide by zero at both.
    sde = OTPathSDE()
    x = _points()
    velocity = FULL.velocity(sde)
    np.testing.assert_allclose(velocity(1.0, x), x - FULL.mean(), atol=1e-12)
    np.testing.assert_allclose(velocity(0.0, x), -x, atol=1e-12)


def test_velocity_torch_form_matches_the_compiled_one():
    torch = pytest.importorskip("torch")
    x = _points(50)
    for sde in ALL_SDES[:3]:
        velocity = FULL.velocity(sde)
        assert isinstance(velocity, Velocity) and "Velocity" in repr(velocity)
        for t in (0.0 if isinstance(sde, OTPathSDE) else 0.01, 0.5, 1.0):
            np.testing.assert_allclose(velocity.torch_eval(t, torch.as_tensor(x)).numpy(),
                                       velocity(t, x), rtol=1e-12, atol=1e-13)


# -- the flow samplers ---------------------------------------------------------------------------
@pytest.mark.parametrize("method, order", [("flow_euler", 1.0), ("flow_heun", 2.0)])
def test_flow_samplers_converge_at_their_order(method, order):
    # The exact flow map of a Gaussian on the OT path is affine, per eigendirection
    # x -> alpha_0 m + sqrt(Var_0 / Var_1) (x - alpha_1 m) (alpha_1 = 0, Var_1 = 1): comparing
    # each sample with the image of its own prior draw measures the integration error alone.
    sde = OTPathSDE()
    n = 1000
    x_init = sde.prior_sample(n, 8, seed=7)
    a0, s0 = sde.marginal(sde.t_eps)
    exact = a0 * MEAN + np.sqrt(a0**2 * LAM + s0**2) * x_init
    steps = (20, 40, 80)
    errors = [np.sqrt(np.mean(np.sum((sample(sde, GAUSS.velocity(sde), n, method=method,
                                             steps=k, x_init=x_init, seed=0) - exact) ** 2, 1)))
              for k in steps]
    observed = np.log2(errors[1] / errors[2])
    print(f"\n{method}: RMS path error at {steps} steps " + " ".join(f"{e:.2e}" for e in errors)
          + f", observed order {observed:.2f}")
    assert errors[0] > errors[1] > errors[2]
    assert abs(observed - order) < 0.15


def test_exact_velocity_sampler_reaches_the_gaussian_target():
    sde = OTPathSDE()
    n = 4000
    law = GAUSS.perturbed(sde, sde.t_eps)
    x = sample(sde, GAUSS.velocity(sde), n, method="flow_heun", steps=100, seed=2)
    floor_mean, floor_sd = w2_floor(law.covs[0], n)
    err = w2_to_gaussian(x, law.means[0], law.covs[0]) ** 2
    print(f"\nflow_heun 100 steps, 8-D Gaussian: W2^2 {err:.2e}, floor {floor_mean:.2e} "
          f"+- {floor_sd:.2e}")
    assert err < floor_mean + 5 * floor_sd


def test_exact_velocity_sampler_finds_the_ring_modes():
    ring = GaussianMixture.ring(8, radius=4.0, std=0.3, weights=np.arange(1.0, 9.0))
    sde = OTPathSDE()
    law = ring.perturbed(sde, sde.t_eps)
    n = 8000
    x = sample(sde, ring.velocity(sde), n, method="flow_heun", steps=100, seed=5)
    stats = mode_statistics(x, law)
    nk = stats["counts"]
    var = law.covs[:, 0, 0]
    print("\nring, flow_heun 100 steps: mean errors", np.round(stats["mean_error"], 4),
          f"TV {stats['tv']:.4f}")
    # |mean_hat - m|^2 ~ (var / n_k) chi2(2); ||cov_hat - S||_F^2 has mean 6 var^2 / n_k in 2-D
    assert np.all(stats["mean_error"] < 5 * np.sqrt(2 * var / nk))
    assert np.all(stats["cov_error"] < 5 * np.sqrt(6 * var**2 / nk))
    sd = np.sqrt(law.weights * (1 - law.weights) / n)
    tv_mean = 0.5 * np.sqrt(2 / np.pi) * sd.sum()
    tv_sd = 0.5 * np.sqrt((1 - 2 / np.pi) * np.sum(sd**2))
    assert stats["tv"] < tv_mean + 5 * tv_sd


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_a_seed_fixes_the_samples_on_every_backend(method):
    pytest.importorskip("torch")
    sde = OTPathSDE()
    velocity = FULL.velocity(sde)
    a = sample(sde, velocity, 200, method=method, steps=10, seed=4)
    b = sample(sde, velocity, 200, method=method, steps=10, seed=4)
    c = sample(sde, velocity, 200, method=method, steps=10, seed=5)
    d = sample(sde, velocity, 200, method=method, steps=10, seed=4, backend="torch")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_allclose(d, a, rtol=1e-9, atol=1e-11)


_CUDASIM_SCRIPT = r"""
import numpy as np
from sdekit.score import GaussianMixture, OTPathSDE, sample
sde = OTPathSDE()
covs = [[[1.0, 0.6], [0.6, 0.8]], [[0.5, 0.1], [0.1, 0.3]]]
target = GaussianMixture([[0.8, -0.5], [-1.0, 1.0]], covs)
for method in ("flow_euler", "flow_heun"):
    kw = dict(method=method, steps=6, seed=4)
    a = sample(sde, target.velocity(sde), 8, backend="numba", **kw)
    c = sample(sde, target.velocity(sde), 8, backend="cuda", **kw)
    assert np.allclose(a, c, rtol=1e-10, atol=1e-12), (method, np.abs(a - c).max())
print("ok")
"""


def test_cuda_simulator_gives_the_same_samples(cuda_simulator):
    cuda_simulator(_CUDASIM_SCRIPT)


def test_details_and_denoise():
    sde = OTPathSDE()
    result = sample(sde, FULL.velocity(sde), 100, method="flow_heun", steps=8, seed=1,
                    return_details=True)
    assert result.method == "flow_heun" and result.n_score_evals == 16 == n_score_evals(
        "flow_heun", 8)
    assert n_score_evals("flow_euler", 8, denoise=True) == 9
    # on the OT path with sigma_min = 0 the posterior mean is x - t v
    plain = sample(sde, FULL.velocity(sde), 100, method="flow", steps=8, seed=1)
    denoised = sample(sde, FULL.velocity(sde), 100, method="flow_heun", steps=8, seed=1,
                      denoise=True)
    np.testing.assert_allclose(plain, result.samples)
    np.testing.assert_allclose(denoised,
                               plain - sde.t_eps * FULL.velocity(sde)(sde.t_eps, plain))


def test_samplers_refuse_the_wrong_field():
    sde = OTPathSDE()
    with pytest.raises(ValueError, match="integrates a velocity field, but .* is a score"):
        sample(sde, FULL.score(sde), 10, method="flow_euler", steps=5)
    with pytest.raises(ValueError, match="is a velocity field, which method 'ddim' cannot"):
        sample(VPSDE(), FULL.velocity(VPSDE()), 10, method="ddim", steps=5)
    with pytest.raises(ValueError, match="OT path's drift"):
        sample(sde, FULL.score(sde), 10, method="probability_flow", steps=5)
    with pytest.raises(ValueError, match="spacing='logsnr' needs alpha"):
        sample(sde, FULL.velocity(sde), 10, method="flow_heun", steps=5, spacing="logsnr")
    # the exact velocity of a VP path is its probability-flow drift: flow samplers take it
    vp = VPSDE()
    np.testing.assert_allclose(
        sample(vp, FULL.velocity(vp), 50, method="flow_heun", steps=20, seed=3),
        sample(vp, FULL.score(vp), 50, method="probability_flow", steps=20, seed=3),
        rtol=1e-8, atol=1e-10)


def test_ot_path_arguments():
    with pytest.raises(ValueError, match="sigma_min must lie in"):
        OTPathSDE(sigma_min=1.0)
    with pytest.raises(ValueError, match="t_end = 1"):
        OTPathSDE(t_end=0.9)
    assert repr(OTPathSDE(0.01, dim=2)) == "OTPathSDE(sigma_min=0.01, dim=2, t_end=1, t_eps=0.001)"


# -- ScoreModel(path="ot") ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flow_model():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # small networks: threads cost more than they save on 2 cores
    data = make_toy("ring", 2000, seed=0)
    return ScoreModel(path="ot", hidden=64, depth=2).fit(data, steps=400, batch_size=256,
                                                          seed=0, progress=False)


def test_flow_model_trains_and_samples(flow_model):
    losses = np.array(flow_model.losses)
    assert losses[-50:].mean() < 0.8 * losses[:50].mean()
    n = 1000
    reference = make_toy("ring", n, seed=100)
    x = flow_model.sample(n, steps=20, seed=1)
    prior = np.random.default_rng(0).standard_normal((n, 2)) * reference.std(0)
    far, near = sliced_wasserstein(prior, reference), sliced_wasserstein(x, reference)
    print(f"\nflow model after 400 steps: SW {near:.4f}, prior {far:.4f}")
    assert x.shape == (n, 2) and near < 0.5 * far
    assert isinstance(flow_model.velocity(), Velocity) and flow_model.flow


def test_flow_training_repeats_from_a_seed(flow_model):
    data = make_toy("ring", 2000, seed=0)
    again = ScoreModel(path="ot", hidden=64, depth=2).fit(data, steps=20, batch_size=256,
                                                           seed=0, progress=False)
    twice = ScoreModel(path="ot", hidden=64, depth=2).fit(data, steps=20, batch_size=256,
                                                           seed=0, progress=False)
    assert again.losses == twice.losses
    np.testing.assert_array_equal(again.sample(30, method="flow_euler", steps=4, seed=2),
                                  twice.sample(30, method="flow_euler", steps=4, seed=2))


def test_flow_model_save_and_load_round_trip(flow_model, tmp_path):
    path = tmp_path / "flow.pt"
    flow_model.save(path)
    again = ScoreModel.load(path)
    assert again.path == "ot" and isinstance(again.sde, OTPathSDE)
    for method in FLOW_METHODS:
        np.testing.assert_array_equal(again.sample(40, method=method, steps=5, seed=3),
                                      flow_model.sample(40, method=method, steps=5, seed=3))
    smin = ScoreModel(OTPathSDE(sigma_min=0.02), path="ot", hidden=8, depth=1).fit(
        make_toy("ring", 100, seed=0), steps=2, progress=False)
    smin.save(tmp_path / "smin.pt")
    assert ScoreModel.load(tmp_path / "smin.pt").sde.sigma_min == 0.02


def test_score_models_saved_before_flow_matching_still_load(tmp_path):
    torch = pytest.importorskip("torch")
    model = ScoreModel(hidden=8, depth=1).fit(make_toy("ring", 100, seed=0), steps=2,
                                              progress=False)
    model.save(tmp_path / "new.pt")
    state = torch.load(tmp_path / "new.pt", weights_only=True)
    del state["path"]
    state["version"] = 2
    torch.save(state, tmp_path / "v2.pt")
    old = ScoreModel.load(tmp_path / "v2.pt")
    assert old.path == "diffusion" and not old.flow
    np.testing.assert_array_equal(old.sample(10, method="ddim", steps=3, seed=0),
                                  model.sample(10, method="ddim", steps=3, seed=0))


def test_class_conditional_flow_with_guidance():
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    data = np.where(labels[:, None] == 1, 2.0, -2.0) + 0.3 * rng.standard_normal((400, 2))
    model = ScoreModel(path="ot", hidden=32, depth=2).fit(data, labels=labels, steps=300,
                                                          seed=0, progress=False)
    x = model.sample(200, labels=1, guidance_scale=1.0, steps=10, seed=1)
    assert np.mean(x.sum(1) > 0) > 0.9


def test_flow_model_bad_input(flow_model):
    with pytest.raises(ValueError, match="path must be one of"):
        ScoreModel(path="flow")
    with pytest.raises(ValueError, match="give an OTPathSDE"):
        ScoreModel(VPSDE(), path="ot")
    with pytest.raises(ValueError, match="use ScoreModel\\(path='ot'\\)"):
        ScoreModel(OTPathSDE())
    with pytest.raises(ValueError, match="needs a score, but this model was trained by flow"):
        flow_model.sample(10, method="dpm_solver", steps=5)
    with pytest.raises(ValueError, match="learned a velocity, not a score"):
        flow_model.score()
    with pytest.raises(ValueError, match="trained without labels"):
        flow_model.sample(10, labels=1, steps=5)
    score_model = ScoreModel(hidden=8, depth=1).fit(make_toy("ring", 100, seed=0), steps=2,
                                                    progress=False)
    with pytest.raises(ValueError, match="integrates a velocity, but this model was trained by "
                                         "score matching"):
        score_model.sample(10, method="flow_heun", steps=5)
    with pytest.raises(ValueError, match="has a score, not a velocity"):
        score_model.velocity()


# -- the command line ---------------------------------------------------------------------------
def _run(argv):
    from sdekit.score.cli import add_cli

    parser = argparse.ArgumentParser(prog="sdekit")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    args.run(args)


def test_cli_trains_a_flow_model_saves_and_reloads_it(tmp_path, capsys):
    pytest.importorskip("torch")
    out, model = tmp_path / "s.csv", tmp_path / "m.pt"
    _run(["sample", "--toy", "ring", "--flow", "--train-steps", "30", "--train-size", "500",
          "--n", "40", "--method", "flow_euler", "--steps", "5", "--out", str(out),
          "--save-model", str(model), "--quiet"])
    x = np.loadtxt(out, delimiter=",", skiprows=1)
    assert x.shape == (40, 2)
    assert ScoreModel.load(model).flow
    npy = tmp_path / "again.npy"
    _run(["sample", "--model", str(model), "--n", "40", "--method", "flow_euler", "--steps",
          "5", "--out", str(npy)])
    np.testing.assert_allclose(np.load(npy), x, rtol=1e-7)
    _run(["sample", "--model", str(model), "--n", "40", "--steps", "5", "--out", str(npy)])
    assert np.load(npy).shape == (40, 2)  # flow_heun: the default for a flow model
    assert "wrote 40 samples" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--toy", "ring", "--flow", "--method", "ddim"], "needs a score, but --flow is a"),
        (["--toy", "ring", "--method", "flow_heun"], "add --flow"),
        (["--model", "m.pt", "--flow"], "keeps its own objective"),
        (["--model", "m.pt", "--method", "flow_euler"], "is a score model"),
    ],
)
def test_cli_bad_flow_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, extra,
                                                   message):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    ScoreModel(hidden=8, depth=1).fit(make_toy("ring", 100, seed=0), steps=2,
                                      progress=False).save(tmp_path / "m.pt")
    with pytest.raises(SystemExit) as info:
        _run(["sample", *extra, "--out", "s.csv", "--quiet"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()


def test_flow_matching_trains_the_unet_on_images():
    pytest.importorskip("torch")
    images = np.random.default_rng(0).uniform(-1, 1, (16, 1, 8, 8))
    model = ScoreModel(path="ot", channels=8, channel_mult=(1, 2)).fit(
        images, steps=3, batch_size=8, progress=False)
    assert model.network == "unet" and model.flow
    assert model.sample(3, method="flow_euler", steps=2, seed=0).shape == (3, 1, 8, 8)


def test_log_likelihood_of_a_velocity():
    pytest.importorskip("torch")
    from sdekit.score import log_likelihood

    sde = OTPathSDE()
    x = FULL.sample(200, seed=3)
    exact = FULL.perturbed(sde, sde.t_eps).logpdf(x)
    errors = [np.abs(log_likelihood(sde, FULL.velocity(sde), x, steps=k, exact_trace=True)
                     - exact).mean() for k in (25, 50)]
    # Heun: second order, and the OT path's prior is the law at t = 1 exactly (no floor)
    assert errors[1] < 1e-3 and 3.5 < errors[0] / errors[1] < 4.5, errors
    vp = VPSDE()
    np.testing.assert_allclose(
        log_likelihood(vp, FULL.velocity(vp), x[:20], steps=10, exact_trace=True),
        log_likelihood(vp, FULL.score(vp), x[:20], steps=10, exact_trace=True), rtol=1e-12)
    with pytest.raises(ValueError, match="give the path's velocity"):
        log_likelihood(sde, FULL.score(sde), x, steps=5)

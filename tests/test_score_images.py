"""Images: the U-Net, class-conditional training with label dropout, classifier-free guidance,
the digits loader and the image side of `sdekit sample`. Tiny networks and few steps throughout:
these check the plumbing, not the quality (benchmarks/digits_example.py does that)."""

import argparse
import re
import sys

import numpy as np
import pytest

from sdekit import score

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from sdekit.score.unet import UNetScoreNet  # noqa: E402

TINY = {"channels": 8, "channel_mult": (1, 2), "embed_dim": 8}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    images, labels = score.digits()
    return images[:300], labels[:300]


@pytest.fixture(scope="module")
def conditional(digits):
    images, labels = digits
    torch.set_num_threads(1)
    return score.ScoreModel(**TINY).fit(images, labels=labels, label_dropout=0.2, steps=8,
                                        batch_size=16, seed=0, progress=False)


def _randomized(net, seed=0):
    """Random weights everywhere: the zero-initialised layers would hide any conditioning."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return net


# -- the network ---------------------------------------------------------------------------------
@pytest.mark.parametrize("c, size, mult", [(1, 8, (1, 2)), (3, 16, (1, 2, 2)), (2, 12, (1,))])
def test_unet_keeps_the_image_shape(c, size, mult):
    net = UNetScoreNet(c, channels=8, channel_mult=mult, num_res_blocks=2, embed_dim=8)
    x = torch.randn(5, c, size, size)
    out = net(torch.rand(5), x)
    assert out.shape == x.shape
    assert torch.all(out == 0)  # zero output layer: starts from the constant guess eps = 0


def test_unet_depends_on_time_and_label():
    net = _randomized(UNetScoreNet(1, n_classes=10, **TINY))
    x = torch.randn(4, 1, 8, 8)
    t = torch.full((4,), 0.5)
    base = net(t, x, torch.tensor([3, 3, 3, 3]))
    assert not torch.allclose(base, net(torch.full((4,), 0.2), x, torch.tensor([3, 3, 3, 3])))
    other = net(t, x, torch.tensor([3, 7, 3, 10]))
    changed = (other - base).abs().amax(dim=(1, 2, 3)) > 1e-6
    assert changed.tolist() == [False, True, False, True]  # samples do not mix in the batch
    # no labels means the null class, index n_classes
    assert torch.allclose(net(t, x), net(t, x, torch.full((4,), 10)))


def test_unet_bad_input():
    net = UNetScoreNet(1, **TINY)
    with pytest.raises(ValueError, match="divisible by 2"):
        net(torch.rand(2), torch.randn(2, 1, 7, 7))
    with pytest.raises(ValueError, match=r"shape \(n, 1, H, W\)"):
        net(torch.rand(2), torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="unconditional"):
        net(torch.rand(2), torch.randn(2, 1, 8, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="channel_mult"):
        UNetScoreNet(1, channel_mult=())


# -- training ------------------------------------------------------------------------------------
def test_label_dropout_feeds_the_null_class(digits, monkeypatch):
    images, labels = digits
    seen = []
    forward = UNetScoreNet.forward

    def recording(self, t, x, labels=None):
        if self.training and torch.is_grad_enabled():
            seen.append(labels.clone())
        return forward(self, t, x, labels)

    monkeypatch.setattr(UNetScoreNet, "forward", recording)
    for dropout in (0.0, 0.5):
        seen.clear()
        score.ScoreModel(**TINY).fit(images, labels=labels, label_dropout=dropout, steps=4,
                                     batch_size=48, progress=False)
        fed = torch.cat(seen)
        assert len(seen) == 4 and fed.shape == (4 * 48,)
        null = (fed == 10).float().mean().item()
        if dropout == 0:
            assert null == 0 and fed.max() <= 9
        else:
            assert 0.35 < null < 0.65  # binomial(192, 0.5) / 192: 0.5 +- 0.036
            assert set(fed[fed < 10].tolist()) <= set(labels.tolist())


def test_conditional_model_records_classes(conditional):
    assert conditional.network == "unet" and conditional.conditional
    assert conditional.n_classes == 10 and conditional.label_dropout == 0.2
    assert conditional.data_shape == (1, 8, 8) and conditional.dim == 64
    assert conditional.shift.shape == (1, 1, 1)  # per-channel standardization
    assert np.all(np.isfinite(conditional.losses))


def test_mlp_path_can_be_conditional_too():
    data = score.make_toy("ring", 400, seed=0)
    labels = np.arange(400) % 4
    model = score.ScoreModel(hidden=16, depth=1).fit(data, labels=labels, steps=5,
                                                     progress=False)
    assert model.network == "mlp" and model.n_classes == 4
    x = model.sample(8, labels=2, guidance_scale=1.0, method="ddim", steps=3, seed=0)
    assert x.shape == (8, 2) and np.all(np.isfinite(x))


# -- guidance ------------------------------------------------------------------------------------
def test_guided_score_formula(conditional):
    gen = np.random.default_rng(0)
    x = gen.standard_normal((6, 64))
    labels = np.array([0, 1, 2, 3, 4, 9])
    t = 0.37
    cond = conditional.score(labels=labels)(t, x)
    null = conditional.score()(t, x)
    assert not np.allclose(cond, null)
    np.testing.assert_allclose(conditional.score(labels=labels, guidance_scale=0.0)(t, x), cond)
    for w in (0.5, 3.0):
        guided = conditional.score(labels=labels, guidance_scale=w)(t, x)
        np.testing.assert_allclose(guided, (1 + w) * cond - w * null, rtol=1e-5, atol=1e-5)
    # the score is -eps / sigma(t) of the network on the images, by hand
    _, sigma = conditional.sde.marginal(t)
    with torch.no_grad():
        eps = conditional.ema(torch.full((6,), t), torch.as_tensor(x, dtype=torch.float32)
                              .reshape(6, 1, 8, 8), torch.as_tensor(labels))
    np.testing.assert_allclose(cond, -eps.reshape(6, 64).numpy() / sigma, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["reverse_sde", "probability_flow", "pc", "ddpm", "ddim",
                                    "dpm_solver"])
def test_guided_sampling_of_images_with_every_method(conditional, method):
    labels = np.array([0, 1, 2, 3, 4, 5])
    kwargs = {"labels": labels, "guidance_scale": 2.0, "method": method, "steps": 3}
    x = conditional.sample(6, seed=4, **kwargs)
    assert x.shape == (6, 1, 8, 8) and np.all(np.isfinite(x))
    np.testing.assert_array_equal(conditional.sample(6, seed=4, **kwargs), x)
    if method not in ("probability_flow", "ddim", "dpm_solver"):  # these are deterministic
        assert not np.allclose(conditional.sample(6, seed=5, **kwargs), x)


def test_sampling_through_sample_on_the_torch_backend(conditional):
    s = conditional.score(labels=3, guidance_scale=1.5)
    x = score.sample(conditional.sde, s, 5, method="reverse_sde", steps=4, seed=1,
                     backend="torch")
    assert x.shape == (5, 64)
    via_model = conditional.sample(5, labels=3, guidance_scale=1.5, method="reverse_sde",
                                   steps=4, seed=1)
    np.testing.assert_allclose(via_model, x.reshape(5, 1, 8, 8) * conditional.scale
                               + conditional.shift)
    # unconditional draws from the null class, and a flat or image-shaped x_init
    init = np.zeros((2, 1, 8, 8))
    a = conditional.sample(2, method="ddim", steps=2, x_init=init)
    b = conditional.sample(2, method="ddim", steps=2, x_init=init.reshape(2, 64))
    np.testing.assert_array_equal(a, b)


def test_bad_conditioning_is_refused(digits, conditional):
    images, labels = digits
    model = score.ScoreModel(**TINY)
    with pytest.raises(ValueError, match=r"labels must have shape \(n,\) = \(300,\)"):
        model.fit(images, labels=labels[:10], steps=1, progress=False)
    with pytest.raises(ValueError, match="non-negative"):
        model.fit(images, labels=labels - 1, steps=1, progress=False)
    with pytest.raises(ValueError, match="integers"):
        model.fit(images, labels=labels + 0.5, steps=1, progress=False)
    with pytest.raises(ValueError, match="label_dropout"):
        model.fit(images, labels=labels, label_dropout=1.0, steps=1, progress=False)
    with pytest.raises(ValueError, match="n_classes is given but labels are not"):
        model.fit(images, n_classes=10, steps=1, progress=False)
    with pytest.raises(ValueError, match="one class per sample"):
        conditional.sample(4, labels=[1, 2, 3], steps=2)
    with pytest.raises(ValueError, match=r"lie in 0 \.\. 9"):
        conditional.sample(2, labels=[1, 10], steps=2)
    with pytest.raises(ValueError, match="guidance_scale needs labels"):
        conditional.sample(2, guidance_scale=1.0, steps=2)
    with pytest.raises(ValueError, match="guidance_scale must be a number >= 0"):
        conditional.sample(2, labels=1, guidance_scale=-1.0, steps=2)
    plain = score.ScoreModel(**TINY).fit(images, steps=2, batch_size=8, progress=False)
    with pytest.raises(ValueError, match="needs a class-conditional model"):
        plain.sample(2, guidance_scale=2.0, steps=2)
    with pytest.raises(ValueError, match="trained without labels"):
        plain.sample(2, labels=1, steps=2)
    strict = score.ScoreModel(**TINY).fit(images, labels=labels, label_dropout=0.0, steps=2,
                                          batch_size=8, progress=False)
    with pytest.raises(ValueError, match="label_dropout=0"):
        strict.sample(2, labels=1, guidance_scale=1.0, steps=2)
    with pytest.raises(ValueError, match="divisible by 2"):
        score.ScoreModel(**TINY).fit(np.zeros((4, 1, 7, 7)), steps=1, progress=False)
    with pytest.raises(ValueError, match="MLP takes vector data"):
        score.ScoreModel(network="mlp").fit(images, steps=1, progress=False)


# -- saving --------------------------------------------------------------------------------------
def test_unet_save_load_round_trip(conditional, tmp_path):
    path = tmp_path / "digits.pt"
    conditional.save(path)
    again = score.ScoreModel.load(path)
    assert again.network == "unet" and again.arch == conditional.arch
    assert again.n_classes == 10 and again.label_dropout == 0.2
    assert again.data_shape == (1, 8, 8)
    kwargs = {"labels": [7, 1], "guidance_scale": 1.0, "method": "ddim", "steps": 3, "seed": 2}
    np.testing.assert_array_equal(again.sample(2, **kwargs), conditional.sample(2, **kwargs))
    state = torch.load(path, weights_only=True)  # tensors, numbers, strings and lists only
    assert state["arch"] == {"channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1,
                             "embed_dim": 8}


def test_a_file_of_the_first_format_still_loads(tmp_path):
    model = score.ScoreModel(hidden=16, depth=1).fit(score.make_toy("ring", 200, seed=0),
                                                      steps=3, progress=False)
    path = tmp_path / "m.pt"
    model.save(path)
    state = torch.load(path, weights_only=True)
    for key in ("network", "data_shape", "n_classes", "label_dropout"):
        del state[key]
    state["version"] = 1
    torch.save(state, path)
    again = score.ScoreModel.load(path)
    np.testing.assert_array_equal(again.sample(3, method="ddim", steps=2, seed=0),
                                  model.sample(3, method="ddim", steps=2, seed=0))


def test_not_a_model_is_a_clear_error(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a saved sdekit score model"):
        score.ScoreModel.load(path)


# -- data and plotting ---------------------------------------------------------------------------
def test_digits_loader():
    images, labels = score.digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float64
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))


def test_digits_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        score.digits()


def test_tile_images():
    images = np.arange(5 * 4, dtype=float).reshape(5, 1, 2, 2)
    grid = score.tile_images(images, ncols=3, pad=1, fill=-1.0)
    assert grid.shape == (2 * 3 - 1, 3 * 3 - 1)
    np.testing.assert_array_equal(grid[3:5, 3:5], images[4, 0])
    assert grid[3, 6] == -1.0  # the empty sixth cell
    with pytest.raises(ValueError, match="C = 1 or 3"):
        score.tile_images(np.zeros((2, 2, 4, 4)), 2)


# -- the command line ----------------------------------------------------------------------------
def _run(argv):
    from sdekit.score.cli import add_cli

    parser = argparse.ArgumentParser(prog="sdekit")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    args.run(args)


def test_cli_digits_grid_and_reload(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(score.ScoreModel, "__init__", _tiny_init(score.ScoreModel.__init__))
    out, grid, model = tmp_path / "d.npy", tmp_path / "d.png", tmp_path / "d.pt"
    _run(["sample", "--dataset", "digits", "--train-steps", "2", "--n", "12", "--steps", "2",
          "--label", "3", "--guidance", "2", "--out", str(out), "--plot", str(grid),
          "--save-model", str(model), "--quiet"])
    x = np.load(out)
    assert x.shape == (12, 1, 8, 8)
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = tmp_path / "again.csv"
    _run(["sample", "--model", str(model), "--n", "12", "--steps", "2", "--label", "3",
          "--guidance", "2", "--out", str(csv)])
    np.testing.assert_allclose(np.loadtxt(csv, delimiter=",", skiprows=1), x.reshape(12, 64),
                               rtol=1e-6, atol=1e-6)
    assert "wrote 12 samples" in capsys.readouterr().out
    # no --label: the classes in turn, one grid column each
    _run(["sample", "--model", str(model), "--n", "20", "--steps", "2", "--method", "ddim",
          "--out", str(tmp_path / "all.npy"), "--plot", str(tmp_path / "all.png")])
    assert np.load(tmp_path / "all.npy").shape == (20, 1, 8, 8)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        _run(["sample", "--model", str(model), "--label", "12", "--out", str(csv)])
    assert info.value.code == 2 and "0 .. 9 for this model" in capsys.readouterr().err


def _tiny_init(init):
    def tiny(self, sde=None, **kwargs):
        kwargs.update(TINY)
        init(self, sde, **kwargs)

    return tiny


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--toy", "ring", "--label", "1"], "need a class-conditional model"),
        (["--toy", "ring", "--guidance", "1"], "need a class-conditional model"),
        (["--dataset", "digits", "--label", "10"], r"0 \.\. 9"),
        (["--dataset", "digits", "--guidance", "-1"], "expected a number >= 0"),
    ],
)
def test_cli_bad_conditioning(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        _run(["sample", *extra, "--out", "s.csv"])
    assert info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "s.csv").exists()

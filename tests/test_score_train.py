"""Score networks: training by denoising score matching, sampling, saving and loading."""

import pickle
from fractions import Fraction as Payload  # any class: weights-only loading must refuse it

import numpy as np
import pytest

from sdekit.score import TOY_DATASETS, VESDE, ScoreModel, make_toy, sliced_wasserstein

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def ring_model():
    torch.set_num_threads(1)  # small networks: threads cost more than they save on 2 cores
    data = make_toy("ring", 4000, seed=0)
    return ScoreModel().fit(data, steps=3000, batch_size=256, seed=0, progress=False)


def test_trained_model_samples_as_well_as_an_independent_sample(ring_model):
    # the criterion: sliced W1 at most twice that of a same-size independent sample
    n = 2000
    reference = make_toy("ring", n, seed=100)
    independent = sliced_wasserstein(make_toy("ring", n, seed=101), reference)
    for method, steps in (("probability_flow", 25), ("dpm_solver", 20)):
        x = ring_model.sample(n, method=method, steps=steps, seed=1)
        distance = sliced_wasserstein(x, reference)
        print(f"\n{method}: SW {distance:.4f}, independent sample {independent:.4f}")
        assert distance < 2 * independent


def test_training_reduces_the_loss_and_repeats_from_a_seed(ring_model):
    losses = np.asarray(ring_model.losses)
    assert losses[-100:].mean() < 0.8 * losses[:100].mean()
    data = make_toy("two_moons", 500, seed=0)
    a = ScoreModel(hidden=16, depth=1).fit(data, steps=20, seed=3, progress=False)
    b = ScoreModel(hidden=16, depth=1).fit(data, steps=20, seed=3, progress=False)
    for pa, pb in zip(a.ema.parameters(), b.ema.parameters(), strict=True):
        assert torch.equal(pa, pb)
    np.testing.assert_array_equal(a.losses, b.losses)


def test_save_and_load_round_trip(ring_model, tmp_path):
    path = tmp_path / "ring.pt"
    ring_model.save(path)
    loaded = ScoreModel.load(path)
    kw = dict(method="ddim", steps=10, seed=2)
    np.testing.assert_array_equal(loaded.sample(50, **kw), ring_model.sample(50, **kw))
    ve = ScoreModel(VESDE(0.01, 5.0), hidden=8, depth=1).fit(make_toy("ring", 100, seed=0),
                                                             steps=2, progress=False)
    ve.save(tmp_path / "ve.pt")
    again = ScoreModel.load(tmp_path / "ve.pt")
    assert isinstance(again.sde, VESDE) and again.sde.sigma_max == 5.0


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_loading_something_else_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    code = tmp_path / "code.pt"
    with open(code, "wb") as fh:
        pickle.dump({"format": "sdekit.score.ScoreModel", "obj": Payload()}, fh)
    for path in (text, other, code):
        with pytest.raises(ValueError, match="not a saved sdekit score model"):
            ScoreModel.load(path)
    with pytest.raises(FileNotFoundError):
        ScoreModel.load(tmp_path / "missing.pt")


def test_untrained_model_and_bad_arguments():
    with pytest.raises(RuntimeError, match="not been trained"):
        ScoreModel().sample(10)
    with pytest.raises(ValueError, match="data must have shape"):
        ScoreModel().fit(np.zeros(5), progress=False)
    with pytest.raises(ValueError, match="steps must be"):
        ScoreModel().fit(np.zeros((5, 2)), steps=0, progress=False)


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_data_sets(name):
    x = make_toy(name, 5000, seed=1)
    assert x.shape == (5000, 2) and np.all(np.isfinite(x))
    assert np.all(np.abs(x.std(0) - 1) < 0.1)
    np.testing.assert_array_equal(x, make_toy(name, 5000, seed=1))
    with pytest.raises(ValueError, match="unknown toy"):
        make_toy("spirals", 10)


def test_sliced_wasserstein_quantiles_are_numpys():
    # The one-sort quantiles give np.quantile's numbers (linear interpolation), for equal and
    # unequal sample sizes.
    from sdekit.score import metrics

    rng = np.random.default_rng(3)
    for n, m in ((500, 500), (37, 120), (2, 5)):
        x = rng.normal(size=(n, 8))
        q = (np.arange(max(n, m)) + 0.5) / max(n, m)
        np.testing.assert_allclose(metrics._quantiles(x, q), np.quantile(x, q, axis=0),
                                   rtol=0, atol=1e-14)

"""sdekit.ddm.bayes: the model is built as documented and bad input fails before any sampling.

Sampling itself (calibration, recovery, the comparison with HSSM) is validated in benchmarks/;
here the likelihood op is checked against the density module and its gradient against
sdekit's analytic gradient, at a cost of seconds.
"""

import numpy as np
import pytest

pytest.importorskip("pymc")
pytest.importorskip("nutpie")

from sdekit import ddm  # noqa: E402
from sdekit.ddm import bayes  # noqa: E402
from sdekit.ddm.example import load_example  # noqa: E402


@pytest.fixture(scope="module")
def example():
    return load_example()[0]


def test_op_matches_density_and_gradient():
    import pytensor
    import pytensor.tensor as pt

    from sdekit.ddm.bayes._op import ddm_logdensity

    rng = np.random.default_rng(3)
    rt = 0.35 + rng.gamma(2.0, 0.3, 50)
    resp = (rng.random(50) < 0.7).astype(float)
    v, a, z, t0 = pt.dscalars("v", "a", "z", "t0")
    lp = ddm_logdensity(rt, resp, v, a, z, t0, 0.0, 0.0, 0.0)
    f = pytensor.function([v, a, z, t0], [lp, *pytensor.grad(lp.sum(), [v, a, z, t0])])
    out = f(1.1, 1.4, 0.45, 0.3)
    np.testing.assert_allclose(out[0], ddm.logpdf(rt, resp.astype(int), 1.1, 1.4, 0.45, 0.3),
                               rtol=1e-10)
    g = ddm.grad_logpdf(rt, resp.astype(int), 1.1, 1.4, 0.45, 0.3)
    expected = [np.sum(g[name]) for name in ("v", "a", "z", "t0")] if isinstance(g, dict) \
        else list(np.asarray(g).sum(axis=0)[:4])
    np.testing.assert_allclose(out[1:], expected, rtol=1e-8)


def test_model_layout(example):
    model, layout = bayes.build_model(example, depends_on={"v": "stim"})
    assert layout.kind == {"v": "hierarchical", "a": "hierarchical", "z": "hierarchical",
                           "t0": "hierarchical"}
    names = set(model.named_vars)
    assert {"v_mu", "v_sigma", "v_offset", "v_subj", "a", "t0_sigma", "rt"} <= names
    assert model.coords["v_level"] == ("easy", "hard")
    assert len(model.coords["subj_idx"]) == 6


@pytest.mark.parametrize("kwargs, message", [
    ({"depends_on": {"v": "nosuchcolumn"}}, "no column 'nosuchcolumn'"),
    ({"priors": {"q": {"loc": 0}}}, "unknown parameter 'q'"),
    ({"priors": {"sv": {"loc": 0}}}, "sv is not free"),
    ({"priors": {"a": {"width": 1}}}, "unknown field"),
    ({"model": "full", "depends_on": {"sz": "1 + stim"}}, "sz cannot depend"),
    ({"group_only": ["w"]}, "group_only: unknown parameter"),
])
def test_bad_models_fail_before_sampling(example, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bayes.sample_posterior(example, **kwargs)


def test_sampler_arguments_checked(example):
    with pytest.raises(ValueError, match="draws must be an integer"):
        bayes.sample_posterior(example, draws=0)
    with pytest.raises(ValueError, match="sampler must be one of"):
        bayes.sample_posterior(example, sampler="metropolis")

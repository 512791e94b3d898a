"""The frozen DDM's fast ``logpdf``: the numbers of the general path, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from sdekit.ddm import DDM
from sdekit.ddm import density as D
from sdekit.ddm.density import api

SIMPLE = dict(v=0.8, a=1.2, z=0.45, t0=0.25)
FULL = dict(v=-0.6, a=1.6, z=0.55, t0=0.2, sv=0.5, sz=0.2, st=0.1)


@pytest.mark.parametrize("params", [SIMPLE, FULL])
def test_fast_path_gives_the_numbers_of_the_general_path(params):
    m = DDM(**params)
    rng = np.random.default_rng(1)
    rt = 0.2 + rng.exponential(0.6, 400)  # includes times before t0 (-inf)
    resp = rng.integers(0, 2, 400)
    expected = D.logpdf(rt, resp, **params)
    np.testing.assert_array_equal(m.logpdf(rt, resp), expected)
    np.testing.assert_array_equal(m.pdf(rt, resp), np.exp(expected))
    # other codings and containers of the same data
    np.testing.assert_array_equal(m.logpdf(rt, np.where(resp == 1, 1, -1)), expected)
    np.testing.assert_array_equal(m.logpdf(rt, resp.astype(np.int32)), expected)
    np.testing.assert_array_equal(m.logpdf(rt, resp.astype(bool)), expected)
    np.testing.assert_array_equal(m.logpdf(list(rt), list(resp)), expected)
    np.testing.assert_array_equal(m.logpdf(rt, resp.astype(float)), expected)
    np.testing.assert_array_equal(m.logpdf(rt.reshape(20, 20), resp.reshape(20, 20)),
                                  expected.reshape(20, 20))
    np.testing.assert_array_equal(m.logpdf(rt[::2], resp[::2]), expected[::2])  # strided
    assert m.logpdf(0.7, 1).shape == ()
    assert m.logpdf(0.7, 1) == D.logpdf(0.7, 1, **params)


def test_fast_path_skips_the_general_validation(monkeypatch):
    m = DDM(**SIMPLE)

    def general(*args, **kwargs):
        raise AssertionError("valid data took the general path")

    monkeypatch.setattr(api, "logpdf", general)
    m.logpdf(np.array([0.5, 0.9]), np.array([1, 0]))


@pytest.mark.parametrize("params", [SIMPLE, FULL])
@pytest.mark.parametrize("rt,resp,msg", [
    ([0.5, np.nan], [1, 0], "rt must not contain NaN"),
    ([0.5, 0.6], [1, 2], "response must be 1"),
    ([0.5, 0.6], [1, 0.5], "response must be 1"),
    ([0.5, 0.6], ["up", "down"], "response must be numeric"),
    ([0.5, 0.6, 0.7], [1, 0], "do not broadcast"),
])
def test_bad_data_still_raise_clear_errors(params, rt, resp, msg):
    m = DDM(**params)
    with pytest.raises(ValueError, match=msg):
        m.logpdf(rt, resp)
    with pytest.raises(ValueError, match=msg):
        m.pdf(rt, resp)

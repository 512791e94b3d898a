"""The frozen DDM distribution: API, parameter declaration and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdekit import ddm
from sdekit.ddm import DDM
from sdekit.ddm._params import DDM_PARAMS, PARAM_NAMES


def test_parameters_declared_once():
    assert PARAM_NAMES == ("v", "a", "z", "t0", "sv", "sz", "st")
    defaults = {p.name: p.default for p in DDM_PARAMS}
    assert defaults == dict(v=None, a=None, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0)
    m = DDM(v=1.0, a=2.0)
    assert m.params == dict(v=1.0, a=2.0, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0)
    assert m.a == 2.0 and "DDM(v=1.0" in repr(m)


@pytest.mark.parametrize("kw,msg", [
    (dict(v=1.0, a=-1.0), "a must be > 0, got -1.0"),
    (dict(v=1.0, a=0.0), "a must be > 0, got 0.0"),
    (dict(v=1.0, a=1.0, z=1.0), "z must be > 0 and < 1, got 1.0"),
    (dict(v=1.0, a=1.0, t0=-0.1), "t0 must be >= 0, got -0.1"),
    (dict(v=1.0, a=1.0, sv=-1.0), "sv must be >= 0, got -1.0"),
    (dict(v=float("nan"), a=1.0), "v must be a finite number, got nan"),
    (dict(v=1.0, a=float("inf")), "a must be > 0, got inf"),
    (dict(v=1.0, a=1.0, st=-1.0), "st must be >= 0"),
    (dict(v=1.0, a=1.0, z=0.1, sz=0.4), "sz must be <= 2*min(z, 1 - z)"),
    (dict(v="fast", a=1.0), "v must be numeric"),
])
def test_bad_parameters_raise_clear_errors(kw, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")
                       .replace("*", r"\*")):
        DDM(**kw)
    with pytest.raises(ValueError):
        ddm.logpdf(0.5, 1, **kw)


def test_bad_data_raise_clear_errors():
    m = DDM(v=1.0, a=1.0)
    with pytest.raises(ValueError, match="response must be 1"):
        m.pdf([0.5, 0.6], [1, 2])
    with pytest.raises(ValueError, match="rt must not contain NaN"):
        m.logpdf([0.5, np.nan], [1, 0])
    with pytest.raises(ValueError, match="do not broadcast"):
        m.logpdf([0.5, 0.6, 0.7], [1, 0])
    with pytest.raises(ValueError, match="seed"):
        m.rvs(10, seed=-1)


def test_methods_and_response_codings():
    m = DDM(v=0.8, a=1.2, z=0.45, t0=0.25, sv=0.3)
    rt = np.array([0.3, 0.6, 1.2])
    np.testing.assert_allclose(m.pdf(rt, 1), np.exp(m.logpdf(rt, 1)))
    # HSSM's -1 and booleans are accepted for the lower boundary / upper boundary
    np.testing.assert_array_equal(m.logpdf(rt, -1), m.logpdf(rt, 0))
    np.testing.assert_array_equal(m.logpdf(rt, True), m.logpdf(rt, 1))
    np.testing.assert_allclose(m.cdf(rt, 1) + m.sf(rt, 1), m.prob_upper(), rtol=1e-9)
    g = m.grad_logpdf(rt, [1, 0, 1])
    assert set(g) == set(PARAM_NAMES) and g["v"].shape == (3,)
    # broadcasting: a (3, 1) column of times against two responses
    assert m.logpdf(rt[:, None], np.array([0, 1])).shape == (3, 2)


def test_rvs_returns_dataframe():
    df = DDM(v=1.0, a=1.5, t0=0.3).rvs(1000, seed=0)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["rt", "response"]
    assert df.rt.min() > 0.3 and set(df.response.unique()) <= {0, 1}
    df2 = DDM(v=1.0, a=1.5, t0=0.3).rvs(1000, seed=0)
    pd.testing.assert_frame_equal(df, df2)


def test_conversions_from_hssm_and_rtdists():
    # HSSM's a is half the separation; rtdists' z is absolute; HDDM's t is the window centre
    a_hssm, z_abs, t_hddm, st = 0.75, 0.6, 0.35, 0.1
    m = DDM(v=1.0, a=2 * a_hssm, z=z_abs / (2 * a_hssm), t0=t_hddm - st / 2, st=st)
    assert m.a == 1.5 and m.z == pytest.approx(0.4) and m.t0 == pytest.approx(0.3)


def test_package_import_is_light():
    import subprocess
    import sys

    code = ("import sys; import sdekit.ddm as d; "
            "print(int('sdekit.ddm.density' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "0"


def test_mean_of_a_rare_response_is_finite():
    # P(lower) ~ 2e-22: the conditional mean must not come from 1 - P(upper)
    m = DDM(v=50.0, a=1.0)
    assert m.mean(0) == pytest.approx(m.mean(1), rel=1e-12)  # symmetric start: same law
    assert np.isfinite(m.mean(0))

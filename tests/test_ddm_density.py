"""Densities, distribution functions and gradients of the DDM against mpmath references.

The reference values come from ``tests/reference/make_density_reference.py`` (mpmath, 50 digits
for the simple DDM, independent of sdekit's code).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy import integrate

from sdekit.ddm import density as D

REF = np.load(os.path.join(os.path.dirname(__file__), "reference", "ddm_reference.npz"))


def _simple_logpdf(t, resp, v, a, z):
    return D.logpdf(t, resp, v=v, a=a, z=z, t0=0.0)


# ----------------------------------------------------------------------------- simple DDM


def test_reference_grid_covers_hard_corners():
    t, a, v, z = REF["s_t"], REF["s_a"], REF["s_v"], REF["s_z"]
    assert t.min() <= 1e-4 and t.max() >= 20
    assert a.min() <= 0.3 and a.max() >= 5
    assert v.min() <= -8 and v.max() >= 8
    assert z.min() <= 0.05 and z.max() >= 0.95
    assert set(REF["s_resp"]) == {0, 1}
    # and includes log-densities far below double precision's range
    assert REF["s_logpdf"].min() < -1e4


def test_simple_logpdf_matches_reference_everywhere():
    ref = REF["s_logpdf"]
    got = _simple_logpdf(REF["s_t"], REF["s_resp"], REF["s_v"], REF["s_a"], REF["s_z"])
    assert np.all(np.isfinite(got))
    tol = np.maximum(1e-10, 1e-13 * np.abs(ref))
    err = np.abs(got - ref)
    assert np.all(err <= tol), (err / tol).max()


def test_simple_pdf_relative_error_where_representable():
    ref = REF["s_logpdf"]
    mask = ref > math.log(1e-300)
    got = D.pdf(REF["s_t"][mask], REF["s_resp"][mask], v=REF["s_v"][mask], a=REF["s_a"][mask],
                z=REF["s_z"][mask])
    rel = np.abs(got / np.exp(ref[mask]) - 1.0)
    assert mask.sum() > 500
    assert rel.max() <= 1e-12, rel.max()


def test_fast_paths_agree_with_general_path():
    # shared scalar parameters (fitter's fast path) vs per-trial parameter arrays
    rng = np.random.default_rng(1)
    n = 2000
    rt = 0.2 + rng.gamma(2.0, 0.3, n)
    resp = (rng.random(n) < 0.6).astype(np.int64)
    out1 = np.empty(n)
    D._logpdf_simple_array(rt, resp, 1.3, 1.7, 0.45, 0.2, out1)
    per_trial = [np.full(n, x) for x in (1.3, 1.7, 0.45, 0.2, 0.0, 0.0, 0.0)]
    out2 = np.empty(n)
    D._logpdf_array(rt, resp, *per_trial, out2)
    np.testing.assert_allclose(out1, out2, rtol=0, atol=1e-13)
    ll = D._loglik_simple(rt, resp, 1.3, 1.7, 0.45, 0.2)
    assert ll == pytest.approx(out1.sum(), rel=1e-13)


def test_t0_shift_and_zero_density_before_t0():
    lp = D.logpdf([0.5, 0.8], [1, 0], v=1.0, a=1.2, z=0.4, t0=0.25)
    lp0 = D.logpdf([0.25, 0.55], [1, 0], v=1.0, a=1.2, z=0.4, t0=0.0)
    np.testing.assert_allclose(lp, lp0, rtol=1e-13)
    assert np.all(D.logpdf([0.1, 0.25], [1, 1], v=1.0, a=1.2, t0=0.25) == -np.inf)


def test_no_nan_or_inf_at_extremes():
    t = np.geomspace(1e-6, 200, 60)
    for v in (-20.0, 0.0, 20.0):
        for a in (0.05, 10.0):
            for z in (1e-6, 0.5, 1 - 1e-6):
                for r in (0, 1):
                    lp = D.logpdf(t, r, v=v, a=a, z=z)
                    assert np.all(np.isfinite(lp)), (v, a, z, r)
                    lp = D.logpdf(t, r, v=v, a=a, z=z, sv=2.0)
                    assert np.all(np.isfinite(lp)), (v, a, z, r)


@pytest.mark.parametrize("v,a,z", [(1.0, 1.5, 0.5), (-3.0, 0.5, 0.2), (0.0, 5.0, 0.9),
                                   (8.0, 2.0, 0.05), (0.5, 0.3, 0.7)])
def test_density_integrates_to_one_and_prob_upper(v, a, z):
    decay = 0.5 * v * v + 0.5 * math.pi**2 / a**2
    smax = math.log(60.0 / decay)

    def mass(r):
        def f(s):
            t = math.exp(s)
            return math.exp(float(D.logpdf(t, r, v=v, a=a, z=z)) + s)

        val, err = integrate.quad(f, math.log(1e-7 * a * a), smax, epsabs=1e-14, epsrel=1e-13,
                                  limit=400)
        return val

    up, lo = mass(1), mass(0)
    assert up + lo == pytest.approx(1.0, abs=1e-9)
    x = 2 * v * a
    closed = z if v == 0 else math.expm1(-x * z) / math.expm1(-x)
    assert up == pytest.approx(closed, abs=1e-9)
    assert float(D.prob_upper(v, a, z)) == pytest.approx(closed, abs=1e-14, rel=1e-13)


# ----------------------------------------------------------------------------- CDF


def test_cdf_matches_reference():
    f = D.cdf(REF["c_t"], REF["c_resp"], v=REF["c_v"], a=REF["c_a"], z=REF["c_z"])
    s = D.sf(REF["c_t"], REF["c_resp"], v=REF["c_v"], a=REF["c_a"], z=REF["c_z"])
    assert np.abs(f - REF["c_cdf"]).max() <= 1e-10
    assert np.abs(s - REF["c_sf"]).max() <= 1e-10
    # the survival function keeps relative accuracy in the right tail
    tail = REF["c_sf"] > 1e-250
    rel = np.abs(s[tail] / REF["c_sf"][tail] - 1)
    assert rel.max() < 1e-9


def test_prob_upper_matches_reference():
    p = D.prob_upper(REF["p_v"], REF["p_a"], REF["p_z"])
    ref = np.where(REF["p_resp"] == 1, REF["p_prob"], np.nan)
    m = REF["p_resp"] == 1
    np.testing.assert_allclose(p[m], ref[m], rtol=1e-13, atol=1e-300)
    m0 = REF["p_resp"] == 0
    # the lower-boundary probability, from the defective CDF at a very late time
    f = D.cdf(1e4, 0, v=REF["p_v"][m0], a=REF["p_a"][m0], z=REF["p_z"][m0])
    np.testing.assert_allclose(f, REF["p_prob"][m0], rtol=1e-12, atol=1e-300)


def test_cdf_is_monotone_and_the_integral_of_the_pdf():
    p = dict(v=0.7, a=1.1, z=0.6)
    t = np.linspace(0.01, 3, 400)
    c = D.cdf(t, 1, **p)
    assert np.all(np.diff(c) >= 0)
    for r in (0, 1):
        for ti in (0.02, 0.1, 0.5, 2.0):
            val, _ = integrate.quad(lambda s, r=r: math.exp(float(D.logpdf(math.exp(s), r, **p))
                                                          + s),
                                    math.log(1e-6), math.log(ti), epsabs=1e-15, epsrel=1e-13,
                                    limit=200)
            assert float(D.cdf(ti, r, **p)) == pytest.approx(val, abs=1e-12)


# ----------------------------------------------------------------------------- gradients


def test_gradients_match_mpmath():
    g = D.grad_logpdf(REF["g_t"], REF["g_resp"], v=REF["g_v"], a=REF["g_a"], z=REF["g_z"],
                      sv=REF["g_sv"])
    ref = REF["g_grad"]
    for j, name in enumerate(("v", "a", "z", "t0", "sv")):
        err = np.abs(g[name] - ref[:, j])
        big = np.abs(ref[:, j]) >= 1e-6
        assert np.all(err[big] <= 1e-8 * np.abs(ref[big, j])), (name, (err / np.abs(ref[:, j]))
                                                                 [big].max())
        # derivatives that vanish up to the rounding of the inputs (O(1) terms cancelling, or
        # d/dsv at sv = 0): held to an absolute 1e-14
        assert np.all(err[~big] <= 1e-14), (name, err[~big].max())


def test_full_ddm_sz_st_gradients_match_mpmath():
    # derivatives in sz and st of the full-DDM log-density against central differences of the
    # 35-digit quadrature (tests/reference), with each variability alone and together
    par = REF["fg_par"]
    ref = REF["fg_grad"]
    g = D.grad_logpdf(par[:, 0], par[:, 1].astype(int), v=par[:, 2], a=par[:, 3], z=par[:, 4],
                      t0=par[:, 5], sv=par[:, 6], sz=par[:, 7], st=par[:, 8])
    for j, name in enumerate(("sz", "st")):
        err = np.abs(g[name] - ref[:, j])
        big = np.abs(ref[:, j]) >= 1e-6
        assert np.all(err[big] <= 1e-8 * np.abs(ref[big, j])), (
            name, (err / np.abs(ref[:, j]))[big].max())
        # d/dsz at sz = 0 vanishes (the start window enters symmetrically)
        assert np.all(err[~big] <= 1e-12), (name, err[~big].max())


def test_full_ddm_gradients_against_finite_differences():
    p = dict(v=1.0, a=1.5, z=0.45, t0=0.3, sv=0.6, sz=0.2, st=0.15)
    rt = np.array([0.36, 0.5, 1.0, 2.0])
    resp = np.array([0, 1, 1, 0])
    g = D.grad_logpdf(rt, resp, **p)
    for k in p:
        h = 1e-5
        up = dict(p)
        up[k] += h
        dn = dict(p)
        dn[k] -= h
        fd = (D.logpdf(rt, resp, **up) - D.logpdf(rt, resp, **dn)) / (2 * h)
        # central differences of a 1e-9-accurate function: error ~ h^2 f''' + 1e-9 / h
        np.testing.assert_allclose(g[k], fd, rtol=2e-4, atol=2e-4, err_msg=k)


def test_full_ddm_gradient_where_the_density_underflows():
    # t0 within 5e-8 s of the RT (a profile bound search of t0 runs up to the fastest RT): every
    # decision time in the window is too short for any density. The gradient must report a
    # log-density of -inf, not raise ZeroDivisionError from inside the compiled code.
    p = dict(v=0.94678, a=1.46539, z=0.4967, sv=0.6449, st=0.16935)
    rt, t0 = 0.3375807269112602, 0.33758067921297835
    for sz in (9.934e-07, 0.0):
        g = D.grad_logpdf(np.array([rt, 0.8]), np.array([1, 1]), t0=t0, sz=sz, **p)
        assert all(np.all(np.isfinite(g[k])) for k in g), g


# ----------------------------------------------------------------------------- full DDM


def test_full_ddm_matches_reference():
    par = REF["f_par"]
    ref = REF["f_logpdf"]
    got = D.logpdf(par[:, 0], par[:, 1].astype(int), v=par[:, 2], a=par[:, 3], z=par[:, 4],
                   t0=par[:, 5], sv=par[:, 6], sz=par[:, 7], st=par[:, 8])
    rel = np.abs(np.expm1(got - ref))
    assert rel.max() <= 1e-6, rel.max()


def test_full_ddm_integrates_to_one():
    p = dict(v=0.8, a=1.4, z=0.55, t0=0.2, sv=0.7, sz=0.2, st=0.12)
    big = 60.0
    c = D.cdf([big, big], [1, 0], **p)
    assert c.sum() == pytest.approx(1.0, abs=1e-8)
    assert c[0] == pytest.approx(float(D.prob_upper(p["v"], p["a"], p["z"], p["sv"], p["sz"])),
                                 abs=1e-8)


def test_full_ddm_reduces_to_simple():
    rt = np.array([0.4, 0.9, 2.0])
    resp = np.array([1, 0, 1])
    base = D.logpdf(rt, resp, v=1.0, a=1.3, z=0.4, t0=0.2)
    tiny = D.logpdf(rt, resp, v=1.0, a=1.3, z=0.4, t0=0.2, sz=1e-6, st=1e-7)
    np.testing.assert_allclose(tiny, base, atol=1e-6)


def test_subnormal_decision_times_do_not_raise():
    # t / a^2 may underflow: the log-density is then below the double range (-inf), never an
    # exception; just above, it is finite
    lp = D.logpdf([1e-320, 1e-300], [1, 0], v=1.0, a=5.0)
    assert lp[0] == -np.inf and np.isfinite(lp[1])
    assert np.all(D.cdf([1e-320, 1e-300], [1, 0], v=1.0, a=5.0) == 0.0)
    g = D.grad_logpdf([1e-320, 1e-150], [1, 1], v=1.0, a=5.0)
    assert np.all(np.isfinite(g["v"]))
    assert np.isfinite(D.logpdf(1e-300, 0, v=1.0, a=1.0, z=1e-160))

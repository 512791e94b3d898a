"""Fokker–Planck first-passage densities against closed forms and the engine's simulations."""

import math
import os
import subprocess
import sys

import numba as nb
import numpy as np
import pytest
from scipy import stats

from sdekit.ddm import density
from sdekit.sde import SDE, Boundaries, DriftDiffusion, OrnsteinUhlenbeck, first_passage, solve
from sdekit.sde import fokker_planck as fp_module


def _l1(fp, exact_upper, exact_lower):
    """L1 distance of each boundary's density over [0, t_max] (trapezoid on the grid)."""
    dt = fp.dt

    def dist(numeric, exact):
        diff = np.abs(numeric - exact)
        return dt * (diff.sum() - 0.5 * (diff[0] + diff[-1]))

    return dist(fp.upper, exact_upper), dist(fp.lower, exact_lower)


def _wiener_l1(fp, v, a, z, sz=0.0):
    t = fp.t
    one = np.ones(t.size, dtype=np.int64)
    up = density.pdf(t, one, v, a, z, sz=sz)
    lo = density.pdf(t, 0 * one, v, a, z, sz=sz)
    return _l1(fp, up, lo)


# -- constant boundaries: the Wiener first-passage density ---------------------------------------
@pytest.mark.parametrize("v, a, z", [
    (1.0, 2.0, 0.5),
    (0.0, 1.0, 0.5),
    (2.0, 1.5, 0.2),
    (-1.0, 2.0, 0.9),
    (4.0, 2.0, 0.5),
    (1.0, 1.0, 0.1),
    (-2.0, 0.8, 0.6),
])
def test_wiener_density_within_default_accuracy(v, a, z):
    t_max = 6.0 * max(1.0, a * a / 4)
    fp = first_passage(DriftDiffusion(v, 1.0), Boundaries(a, 0.0), z * a, t_max)
    err_up, err_lo = _wiener_l1(fp, v, a, z)
    assert err_up <= 1e-4 and err_lo <= 1e-4, (err_up, err_lo)
    # mass is conserved to rounding
    assert abs(fp.prob_upper + fp.prob_lower + fp.undecided - 1.0) < 1e-11
    # P(upper) by t_max, against the closed form less what is still undecided
    p_up = density.prob_upper(v, a, z)
    assert abs(fp.prob_upper - p_up) <= fp.undecided + 1e-4
    assert fp.cdf_upper[-1] == fp.prob_upper


def test_mass_conservation_every_step():
    fp = first_passage(DriftDiffusion(0.5, 1.0), Boundaries(1.5, -0.5), 0.2, 3.0)
    absorbed = fp.cdf_upper + fp.cdf_lower
    assert np.all(np.diff(absorbed) >= -1e-15)
    assert fp.undecided > 0 and abs(absorbed[-1] + fp.undecided - 1.0) < 1e-11
    # the densities integrate (trapezoid) to the exactly absorbed masses
    assert abs(np.trapezoid(fp.upper, fp.t) - fp.prob_upper) < 1e-4


def test_second_order_convergence():
    """Refining the accuracy target by 4 halves both dt and the cell size: errors drop ~4x."""
    v, a, z = 1.0, 2.0, 0.35
    errors, cells = [], []
    for accuracy in (1.6e-3, 4e-4, 1e-4):
        fp = first_passage(DriftDiffusion(v, 1.0), Boundaries(a, 0.0), z * a, 5.0,
                           accuracy=accuracy)
        errors.append(max(_wiener_l1(fp, v, a, z)))
        cells.append(fp.n_space)
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert cells[1] == pytest.approx(2 * cells[0], abs=1)
    assert np.all(ratios > 3.0) and np.all(ratios < 6.0), ratios
    # and the stated accuracy holds along the way
    assert errors[0] <= 1.6e-3 and errors[1] <= 4e-4


def test_space_order():
    """At a negligible time error, halving the cell size divides the error by ~4."""
    v, a, z = 1.0, 2.0, 0.5
    errors = []
    for n_space in (50, 100, 200):
        fp = first_passage(DriftDiffusion(v, 1.0), Boundaries(a, 0.0), z * a, 4.0,
                           accuracy=1e-6, n_space=n_space, dt=2e-3)
        errors.append(max(_wiener_l1(fp, v, a, z)))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all(ratios > 3.3) and np.all(ratios < 4.7), ratios


def test_uniform_start_window():
    v, a, z, sz = 1.0, 2.0, 0.45, 0.3

    def cdf(y):
        return np.clip((y - (z - sz / 2)) / sz, 0.0, 1.0)

    fp = first_passage(DriftDiffusion(v, 1.0), Boundaries(a, 0.0), cdf, 5.0)
    err_up, err_lo = _wiener_l1(fp, v, a, z, sz=sz)
    assert err_up <= 1e-4 and err_lo <= 1e-4, (err_up, err_lo)


def test_start_window_reaching_a_boundary():
    """A window [0, 0.3]: the lower density is infinite at t = 0, the rest is as accurate."""
    v, a, z, sz = 1.0, 2.0, 0.15, 0.3

    def cdf(y):
        return np.clip((y - (z - sz / 2)) / sz, 0.0, 1.0)

    fp = first_passage(DriftDiffusion(v, 1.0), Boundaries(a, 0.0), cdf, 4.0)
    t = fp.t[1:]
    one = np.ones(t.size, dtype=np.int64)
    for numeric, response in ((fp.upper[1:], 1), (fp.lower[1:], 0)):
        exact = density.pdf(t, one * response, v, a, z, sz=sz)
        assert np.trapezoid(np.abs(numeric - exact), t) <= 1e-4
    # the first step's absorbed mass, and the trapezoid value at t = 0 that matches it
    assert fp.cdf_lower[1] == pytest.approx(density.cdf(fp.dt, 0, v, a, z, sz=sz), abs=1e-4)
    assert 0.5 * fp.dt * (fp.lower[0] + fp.lower[1]) == pytest.approx(fp.cdf_lower[1])


# -- moving boundaries ---------------------------------------------------------------------------
def test_linearly_moving_boundary_inverse_gaussian():
    """Brownian motion to an approaching line b + c t: an inverse Gaussian in closed form."""
    mu, b, c = 0.5, 1.0, -0.3
    bounds = Boundaries.linear(b, -9.0, c, 0.0)  # the lower side is out of reach by t = 3
    fp = first_passage(DriftDiffusion(mu, 1.0), bounds, 0.0, 3.0)
    t = fp.t
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.where(t > 0, b / np.sqrt(2 * np.pi * t**3)
                         * np.exp(-(b - (mu - c) * t) ** 2 / (2 * t)), 0.0)
    err_up, err_lo = _l1(fp, exact, np.zeros_like(t))
    assert err_up <= 1e-4, err_up
    assert err_lo <= 1e-7


@nb.njit
def _leaky_drift(t, x, p):
    return p[0] - p[1] * x


@nb.njit
def _unit_noise(t, x, p):
    return p[2]


@nb.njit
def _collapse_upper(t, q):
    return q[0] * math.exp(-t / q[1])


@nb.njit
def _collapse_lower(t, q):
    return -q[0] * math.exp(-t / q[1])


@nb.njit
def _urgent_drift(t, x, p):
    return p[0] * (1.0 + p[1] * t)


@nb.njit
def _urgent_noise(t, x, p):
    return p[2] * (1.0 + p[3] * t)


def test_drift_and_noise_growing_in_time_meet_the_accuracy_target():
    """Urgency: drift and noise that grow with time, against a far finer solution."""
    sde = SDE(_urgent_drift, _urgent_noise, params=[0.5, 2.0, 1.0, 0.5], elementwise=True)
    bounds = Boundaries(1.0, -1.0)
    reference = first_passage(sde, bounds, 0.2, 4.0, accuracy=1e-6)
    fp = first_passage(sde, bounds, 0.2, 4.0)
    for side in ("upper", "lower"):
        err = np.trapezoid(np.abs(fp.pdf(fp.t, side) - reference.pdf(fp.t, side)), fp.t)
        assert err <= 1e-4, (side, err)


@nb.njit
def _linear_upper(t, q):
    return q[0] + q[1] * t


@nb.njit
def _linear_lower(t, q):
    return -q[0] - q[1] * t


def _ks_against_simulation(sde, bounds, x0, t_max, n_paths=200_000, seed=7):
    fp = first_passage(sde, bounds, x0, t_max)
    sim = solve(sde, x0, np.array([0.0, t_max]), dt=2e-3, n_paths=n_paths, boundaries=bounds,
                save="final", seed=seed)
    for side, code in (("upper", 1), ("lower", -1)):
        times = sim.first_passage_time[sim.boundary == code]
        total = fp.cdf(t_max, side)
        result = stats.kstest(times, lambda s, side=side, total=total: fp.cdf(s, side) / total)
        assert result.pvalue > 1e-3, (side, result)
    p_hat = np.mean(sim.boundary == 1)
    se = math.sqrt(p_hat * (1 - p_hat) / n_paths)
    assert abs(fp.prob_upper - p_hat) < 4 * se
    return fp


def test_collapsing_linear_bounds_and_leak_against_simulation():
    sde = OrnsteinUhlenbeck(theta=1.5, mu=0.4, sigma=1.0)
    bounds = Boundaries.linear(1.0, -1.0, -0.3, 0.3)  # meet at t = 3.33
    fp = _ks_against_simulation(sde, bounds, 0.1, 3.0)
    assert fp.undecided < 1e-6


def test_exponential_collapse_user_functions_meet_the_accuracy_target():
    """User-written leak and exponentially collapsing bounds, against a far finer solution."""
    sde = SDE(_leaky_drift, _unit_noise, params=[0.8, 1.0, 1.0], elementwise=True)
    bounds = Boundaries(_collapse_upper, _collapse_lower, params=[1.2, 1.5])
    reference = first_passage(sde, bounds, 0.0, 4.0, accuracy=1e-6)
    for accuracy in (1e-3, 1e-4):
        fp = first_passage(sde, bounds, 0.0, 4.0, accuracy=accuracy)
        for side in ("upper", "lower"):
            err = np.trapezoid(np.abs(fp.pdf(fp.t, side) - reference.pdf(fp.t, side)), fp.t)
            assert err <= accuracy, (accuracy, side, err)
        assert abs(fp.prob_upper - reference.prob_upper) < accuracy
    # with these parameters, user functions and the built-in OU coincide on linear bounds
    user = first_passage(sde, Boundaries(_linear_upper, _linear_lower, params=[1.0, -0.3]),
                         0.1, 2.0)
    builtin = first_passage(OrnsteinUhlenbeck(1.0, 0.8, 1.0),
                            Boundaries.linear(1.0, -1.0, -0.3, 0.3), 0.1, 2.0)
    np.testing.assert_allclose(user.upper, builtin.upper, rtol=1e-9, atol=1e-12)


def test_boundaries_meeting_stop_the_solver():
    bounds = Boundaries.linear(1.0, -1.0, -0.5, 0.5)  # meet at t = 2
    fp = first_passage(DriftDiffusion(0.0, 0.2), bounds, 0.0, 3.0)
    assert fp.t_stop <= 2.0 + fp.dt
    assert abs(fp.prob_upper + fp.prob_lower + fp.undecided - 1.0) < 1e-11
    assert fp.undecided < 1e-6
    assert np.all(fp.upper[fp.t > 2.0] == 0.0)
    assert fp.prob_upper == pytest.approx(0.5, abs=1e-6)


# -- the result object ---------------------------------------------------------------------------
def test_pdf_and_cdf_interpolation():
    fp = first_passage(DriftDiffusion(1.0, 1.0), Boundaries(1.0, -1.0), 0.0, 3.0)
    mid = 0.5 * (fp.t[10] + fp.t[11])
    assert fp.pdf(mid, "upper") == pytest.approx(0.5 * (fp.upper[10] + fp.upper[11]))
    assert fp.pdf([-1.0, 3.5], 1).tolist() == [0.0, 0.0]
    assert fp.pdf(fp.t[5], 0) == fp.lower[5]
    assert fp.cdf(10.0, "lower") == fp.prob_lower
    assert fp.cdf(-1.0, "upper") == 0.0
    with pytest.raises(ValueError, match="boundary"):
        fp.pdf(1.0, "middle")


def test_compiled_once_per_functions():
    sde, bounds = DriftDiffusion(1.0, 1.0), Boundaries(1.0, -1.0)
    first_passage(sde, bounds, 0.0, 1.0)
    key = (sde.drift, sde.diffusion, bounds.upper, bounds.lower)
    kernels = fp_module._KERNELS[key]
    first_passage(DriftDiffusion(-0.5, 1.2), Boundaries(2.0, -0.5), 0.3, 1.0, params=[0.2, 1.0])
    assert fp_module._KERNELS[key] is kernels


def test_params_override():
    sde, bounds = DriftDiffusion(0.0, 1.0), Boundaries(1.0, -1.0)
    a = first_passage(sde, bounds, 0.0, 2.0, params=[1.0, 1.0])
    b = first_passage(DriftDiffusion(1.0, 1.0), bounds, 0.0, 2.0)
    np.testing.assert_array_equal(a.upper, b.upper)
    c = first_passage(sde, bounds, 0.0, 2.0, params={"v": 1.0})
    np.testing.assert_array_equal(c.upper, b.upper)


# -- bad input -----------------------------------------------------------------------------------
def test_bad_input_names_the_argument():
    sde, bounds = DriftDiffusion(1.0, 1.0), Boundaries(1.0, -1.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        first_passage(OrnsteinUhlenbeck(dim=2), bounds, 0.0, 1.0)
    with pytest.raises(ValueError, match="no noise"):
        first_passage(SDE(_leaky_drift, params=[0.0, 0.0, 1.0], elementwise=True), bounds, 0.0,
                      1.0)
    with pytest.raises(ValueError, match="elementwise"):
        first_passage(SDE(nb.njit(lambda t, x, p, out: None),
                          nb.njit(lambda t, x, p, out: None)), bounds, 0.0, 1.0)
    with pytest.raises(TypeError, match="sde"):
        first_passage("ddm", bounds, 0.0, 1.0)
    with pytest.raises(TypeError, match="boundaries"):
        first_passage(sde, (1.0, -1.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="x0"):
        first_passage(sde, bounds, 1.5, 1.0)
    with pytest.raises(ValueError, match="x0"):
        first_passage(sde, bounds, -1.0, 1.0)
    with pytest.raises(ValueError, match="t_max"):
        first_passage(sde, bounds, 0.0, 0.0)
    with pytest.raises(ValueError, match="t_max"):
        first_passage(sde, bounds, 0.0, -2.0)
    with pytest.raises(ValueError, match="accuracy"):
        first_passage(sde, bounds, 0.0, 1.0, accuracy=0.0)
    with pytest.raises(ValueError, match="accuracy"):
        first_passage(sde, bounds, 0.0, 1.0, accuracy=-1e-3)
    with pytest.raises(ValueError, match="dt"):
        first_passage(sde, bounds, 0.0, 1.0, dt=-0.1)
    with pytest.raises(ValueError, match="n_space"):
        first_passage(sde, bounds, 0.0, 1.0, n_space=2)
    with pytest.raises(ValueError, match="finite"):
        first_passage(sde, Boundaries(np.inf, -1.0), 0.0, 1.0)
    with pytest.raises(ValueError, match="params"):
        first_passage(sde, bounds, 0.0, 1.0, params=[[1.0, 1.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="x0"):
        first_passage(sde, bounds, lambda y: 2 * y, 1.0)


_CACHE_SCRIPT = """
import sdekit.sde as sde
from sdekit.sde import fokker_planck as fpm
sde.first_passage(sde.DriftDiffusion(1.0, 1.0), sde.Boundaries(1.0, -1.0), 0.0, 1.0)
solver, probe = next(iter(fpm._KERNELS.values()))
print(sum(solver.stats.cache_hits.values()), sum(solver.stats.cache_misses.values()),
      sum(probe.stats.cache_hits.values()), sum(probe.stats.cache_misses.values()))
"""


def test_builtin_kernels_are_cached_on_disk(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [
        subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], env=env, capture_output=True,
                       text=True, check=True).stdout.split()
        for _ in range(2)
    ]
    assert runs[0] == ["0", "1", "0", "1"]  # compiled and saved
    assert runs[1] == ["1", "0", "1", "0"]  # loaded, not compiled

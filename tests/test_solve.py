import numpy as np
import pytest

import sdekit as sk
from sdekit.sde import random as rnd


def test_ou_law_matches_closed_form():
    ou = sk.OrnsteinUhlenbeck(theta=2.0, mu=1.0, sigma=0.5)
    times = [0.0, 0.25, 1.0]
    sol = sk.solve(ou, -1.0, times, dt=1e-3, n_paths=40_000, seed=2)
    assert sol.states.shape == (40_000, 3, 1)
    for k, t in enumerate(times[1:], start=1):
        x = sol.states[:, k, 0]
        se = x.std() / np.sqrt(x.size)
        # Euler bias at dt=1e-3 is ~theta*dt relative: far below 5 standard errors here.
        assert abs(x.mean() - ou.mean(t, -1.0)) < 5 * se
        var_se = ou.var(t) * np.sqrt(2 / x.size)
        assert abs(x.var() - ou.var(t)) < 5 * var_se + 2 * ou.var(t) * 2.0 * 1e-3


def test_save_final_keeps_only_last_state():
    sol = sk.solve(sk.OrnsteinUhlenbeck(), 0.0, [0.0, 1.0], dt=0.01, n_paths=100, seed=1,
                   save="final")
    full = sk.solve(sk.OrnsteinUhlenbeck(), 0.0, np.linspace(0, 1, 101), n_paths=100, seed=1)
    assert sol.states.shape == (100, 1, 1)
    np.testing.assert_allclose(sol.final, full.final, rtol=1e-12)
    assert sol.n_steps == 100


def test_parameter_sweep_per_path_and_no_recompile():
    bm = sk.BrownianMotion(mu=0.0, sigma=1.0)
    mus = np.linspace(-1, 1, 5)
    params = np.column_stack([np.repeat(mus, 4000), np.ones(20_000)])
    sol = sk.solve(bm, 0.0, [0.0, 1.0], n_paths=20_000, params=params, seed=4)
    means = sol.final[:, 0].reshape(5, 4000).mean(axis=1)
    np.testing.assert_allclose(means, mus, atol=5 / np.sqrt(4000))


def _gbm_errors(method, dts, n_paths=4000, seed=7):
    mu, sigma, x0, T = 0.5, 0.8, 1.0, 1.0
    gbm = sk.GeometricBrownianMotion(mu=mu, sigma=sigma)
    errors = []
    for dt in dts:
        n_steps = round(T / dt)
        sol = sk.solve(gbm, x0, [0.0, T], dt=dt, n_paths=n_paths, seed=seed, method=method,
                       save="final")
        # The solver's Brownian increments are sqrt(dt) times the first n_steps normals of
        # each path's stream, so the exact solution on the same path is known.
        w = np.sqrt(dt) * rnd.normals(seed, n_paths, n_steps).sum(axis=1)
        exact = gbm.exact(T, x0, w)
        errors.append(np.mean(np.abs(sol.final[:, 0] - exact)))
    return np.array(errors)


def _order(dts, errors):
    return np.polyfit(np.log(dts), np.log(errors), 1)[0]


DTS = 2.0 ** -np.arange(4, 10)


def test_euler_maruyama_strong_order_half():
    assert abs(_order(DTS, _gbm_errors("euler_maruyama", DTS)) - 0.5) < 0.15


def test_milstein_strong_order_one():
    assert abs(_order(DTS, _gbm_errors("milstein", DTS)) - 1.0) < 0.15


def test_euler_maruyama_weak_order_one():
    mu, sigma, T = 1.0, 0.2, 1.0
    gbm = sk.GeometricBrownianMotion(mu=mu, sigma=sigma)
    dts = 2.0 ** -np.arange(1, 6)
    errors = []
    for dt in dts:
        sol = sk.solve(gbm, 1.0, [0.0, T], dt=dt, n_paths=200_000, seed=3, save="final")
        errors.append(abs(sol.final[:, 0].mean() - np.exp(mu * T)))
    assert abs(_order(dts, np.array(errors)) - 1.0) < 0.15


def test_heun_integrates_an_ode_to_second_order():
    import numba as nb

    @nb.njit
    def decay(t, x, p, out):
        out[0] = -p[0] * x[0]

    ode = sk.SDE(decay, dim=1, params=[1.5])
    errs = []
    for n in (10, 20, 40):
        sol = sk.solve(ode, 1.0, np.linspace(0, 1, n + 1), method="heun")
        errs.append(abs(sol.final[0, 0] - np.exp(-1.5)))
    assert abs(np.log2(errs[0] / errs[1]) - 2) < 0.15
    assert abs(np.log2(errs[1] / errs[2]) - 2) < 0.15


def _first_passage(dt, n_paths, bridge, seed=21):
    v, a, z = 1.0, 1.5, 0.5
    sol = sk.solve(sk.DriftDiffusion(v=v), z * a, [0.0, 30.0], dt=dt, n_paths=n_paths,
                   boundaries=sk.Boundaries(upper=a, lower=0.0), seed=seed, save="final",
                   bridge=bridge)
    x0 = z * a
    p_upper = (1 - np.exp(-2 * v * x0)) / (1 - np.exp(-2 * v * a))
    mean_time = (a * p_upper - x0) / v
    return sol, p_upper, mean_time


def test_first_passage_against_closed_form_with_bridge_correction():
    sol, p_upper, mean_time = _first_passage(1e-3, 1_000_000, True)
    t = sol.first_passage_time
    assert not np.isnan(t).any()
    assert abs((sol.boundary == 1).mean() - p_upper) < 5 * np.sqrt(p_upper * (1 - p_upper)
                                                                    / t.size)
    assert abs(t.mean() - mean_time) < 5 * t.std() / np.sqrt(t.size)


def test_bridge_correction_shrinks_bias_tenfold_at_coarse_steps():
    corrected, _, mean_time = _first_passage(1e-2, 400_000, True)
    plain, _, _ = _first_passage(1e-2, 400_000, False)
    bias_plain = plain.first_passage_time.mean() - mean_time
    bias_corrected = corrected.first_passage_time.mean() - mean_time
    se = corrected.first_passage_time.std() / np.sqrt(400_000)
    assert bias_plain > 20 * se  # the uncorrected scheme is visibly late
    assert abs(bias_corrected) < max(bias_plain / 10, 5 * se)


def test_time_dependent_boundaries_absorb_at_the_level():
    bounds = sk.Boundaries.linear(1.0, -1.0, upper_slope=-0.5, lower_slope=0.5)
    sol = sk.solve(sk.DriftDiffusion(v=0.0), 0.0, np.linspace(0, 3, 31), dt=1e-3,
                   n_paths=2000, boundaries=bounds, seed=1)
    hit = sol.boundary != 0
    assert hit.all()  # the boundaries meet at t = 2
    t = sol.first_passage_time
    assert np.all(t <= 2.0 + 1e-12)
    expected = np.where(sol.boundary == 1, 1.0 - 0.5 * t, -1.0 + 0.5 * t)
    np.testing.assert_allclose(sol.final[:, 0], expected, atol=1e-12)
    df = sol.to_pandas()
    assert list(df.columns) == ["path", "first_passage_time", "boundary"]


def test_reverse_sde_recovers_initial_law():
    import numba as nb

    theta, mu, sigma, m0, s0, T = 1.0, 0.0, 1.0, 2.0, 0.3, 3.0
    ou = sk.OrnsteinUhlenbeck(theta, mu, sigma)

    @nb.njit
    def score(t, x, q, out):
        m = q[2] + (q[0] - q[2]) * np.exp(-q[3] * t)
        v = q[1] ** 2 * np.exp(-2 * q[3] * t) + q[4] ** 2 / (2 * q[3]) * (1 - np.exp(-2 * q[3] * t))
        for k in range(x.shape[0]):
            out[k] = -(x[k] - m) / v

    q = [m0, s0, mu, theta, sigma]
    m_T = ou.mean(T, m0)
    v_T = s0**2 * np.exp(-2 * T) + ou.var(T)
    n = 20_000
    x_T = m_T + np.sqrt(v_T) * rnd.normals(99, n, 1)
    for flow, method in ((False, "euler_maruyama"), (True, "heun")):
        rev = ou.reverse(score, t_end=T, score_params=q, probability_flow=flow)
        x = sk.solve(rev, x_T, [0, T], dt=1e-3, n_paths=n, seed=1, method=method).final[:, 0]
        assert abs(x.mean() - m0) < 5 * s0 / np.sqrt(n) + 3e-3
        assert abs(x.std() - s0) < 5 * s0 / np.sqrt(2 * n) + 3e-3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(times=[0.0, 1.0, 1.0]), "strictly increasing"),
        (dict(times=[1.0]), "at least two"),
        (dict(dt=-0.1), "dt must be a positive"),
        (dict(backend="fortran"), "unknown backend"),
        (dict(method="rk4"), "unknown method"),
        (dict(x0=np.zeros((3, 2))), "x0 has shape"),
        (dict(params=[1.0, 2.0]), "3 value"),
        (dict(params={"kappa": 1.0}), "unknown parameter"),
        (dict(n_paths=0), "n_paths"),
        (dict(save="some"), "save must be"),
        (dict(method="heun"), "heun integrates ODEs"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    args = dict(sde=sk.OrnsteinUhlenbeck(), x0=0.0, times=[0.0, 1.0], dt=0.1)
    args.update(kwargs)
    sde, x0, times = args.pop("sde"), args.pop("x0"), args.pop("times")
    with pytest.raises(ValueError, match=message):
        sk.solve(sde, x0, times, **args)


def test_start_outside_boundaries_is_an_error():
    with pytest.raises(ValueError, match="strictly between"):
        sk.solve(sk.DriftDiffusion(), 2.0, [0, 1], dt=0.1, boundaries=sk.Boundaries(1.0, 0.0))


def test_milstein_needs_derivative():
    import numba as nb

    @nb.njit
    def f(t, x, p):
        return 0.0 * x

    sde = sk.SDE(f, f, elementwise=True)
    with pytest.raises(ValueError, match="diffusion_dx"):
        sk.solve(sde, 0.0, [0, 1], dt=0.1, method="milstein")


def test_general_noise_covariance():
    import numba as nb

    @nb.njit
    def zero(t, x, p, out):
        for k in range(2):
            out[k] = 0.0

    @nb.njit
    def matrix(t, x, p, out):
        out[0, 0] = 1.0
        out[0, 1] = 0.0
        out[1, 0] = p[0]
        out[1, 1] = p[1]

    sde = sk.SDE(zero, matrix, dim=2, noise="general", noise_dim=2, params=[0.6, 0.8])
    x = sk.solve(sde, [0.0, 0.0], [0.0, 1.0], dt=0.1, n_paths=50_000, seed=8).final
    cov = np.cov(x.T)
    np.testing.assert_allclose(cov, [[1.0, 0.6], [0.6, 1.0]], atol=5 * np.sqrt(2 / 50_000))


def test_chunked_and_dask_runs_equal_one_run():
    pytest.importorskip("distributed")
    n = 3000
    kw = dict(dt=1e-2, n_paths=n, seed=3, boundaries=sk.Boundaries(1.5, 0.0),
              params=np.column_stack([np.linspace(-1, 1, n), np.ones(n)]))
    whole = sk.solve(sk.DriftDiffusion(), 0.75, [0, 1, 2.0], **kw)
    chunked = sk.solve(sk.DriftDiffusion(), 0.75, [0, 1, 2.0], progress=True, chunk_paths=700,
                       **kw)
    on_dask = sk.solve(sk.DriftDiffusion(), 0.75, [0, 1, 2.0], scheduler="local",
                       chunk_paths=1100, **kw)
    for other in (chunked, on_dask):
        np.testing.assert_array_equal(other.states, whole.states)
        np.testing.assert_array_equal(other.first_passage_time, whole.first_passage_time)
        np.testing.assert_array_equal(other.boundary, whole.boundary)


def test_too_much_memory_is_refused_before_work():
    with pytest.raises(ValueError, match="GiB"):
        sk.solve(sk.BrownianMotion(), 0.0, np.linspace(0, 1, 10_001), n_paths=10**9)


def test_scalar_noise_drives_all_components_with_one_wiener_process():
    import numba as nb

    @nb.njit
    def drift(t, x, p, out):
        out[0] = 0.0
        out[1] = 0.0

    @nb.njit
    def diffusion(t, x, p, out):
        out[0] = 1.0
        out[1] = -2.0

    sde = sk.SDE(drift, diffusion, dim=2, noise="scalar")
    x = sk.solve(sde, [0.0, 0.0], [0, 1], dt=0.1, n_paths=100, seed=1).final
    np.testing.assert_allclose(x[:, 1], -2 * x[:, 0], rtol=1e-12)


def test_user_boundary_functions():
    import numba as nb

    @nb.njit
    def upper(t, q):
        return q[0] * np.exp(-t / q[1])

    @nb.njit
    def lower(t, q):
        return -q[0] * np.exp(-t / q[1])

    bounds = sk.Boundaries(upper, lower, params=[1.0, 0.5])
    sol = sk.solve(sk.DriftDiffusion(v=0.3), 0.0, [0, 5.0], dt=1e-3, n_paths=2000,
                   boundaries=bounds, seed=2, save="final")
    t = sol.first_passage_time
    levels = np.where(sol.boundary == 1, 1.0, -1.0) * np.exp(-t / 0.5)
    np.testing.assert_allclose(sol.final[:, 0], levels, rtol=1e-12)
    states = sol.to_pandas("states")
    assert list(states.columns) == ["path", "time", "x"]


def test_race_of_two_accumulators_against_inverse_gaussian_law():
    from scipy import integrate, stats

    v, a = np.array([1.0, 0.6]), 1.0
    n = 200_000
    import numba as nb

    @nb.njit
    def drift(t, x, p, out):
        out[0] = p[0]
        out[1] = p[1]

    @nb.njit
    def diffusion(t, x, p, out):
        out[0] = 1.0
        out[1] = 1.0

    race = sk.SDE(drift, diffusion, dim=2, params=v)
    sol = sk.solve(race, [0.0, 0.0], [0.0, 40.0], dt=1e-2, n_paths=n, seed=12, save="final",
                   boundaries=sk.Boundaries(upper=a, lower=-np.inf))
    assert np.all(sol.boundary == 1)
    first = [stats.invgauss(mu=1 / (a * vi), scale=a**2) for vi in v]  # IG(a/v, a^2)
    p_first, _ = integrate.quad(lambda t: first[0].pdf(t) * first[1].sf(t), 0, np.inf)
    wins = (sol.component == 0).mean()
    assert abs(wins - p_first) < 5 * np.sqrt(p_first * (1 - p_first) / n)
    mean_rt, _ = integrate.quad(
        lambda t: first[0].sf(t) * first[1].sf(t), 0, np.inf
    )  # E[min] = integral of the joint survival
    t = sol.first_passage_time
    assert abs(t.mean() - mean_rt) < 5 * t.std() / np.sqrt(n)
    winners = sol.final[np.arange(n), sol.component]
    np.testing.assert_allclose(winners, a)
    assert "component" in sol.to_pandas().columns


def test_reverse_sdes_share_compiled_coefficients_across_horizons_and_targets():
    import numba as nb

    from sdekit.sde.backends import numba_cpu

    @nb.njit
    def score(t, x, q, out):
        for k in range(x.shape[0]):
            out[k] = -x[k] / q[0]

    ou = sk.OrnsteinUhlenbeck()
    a = ou.reverse(score, t_end=1.0, score_params=[1.0])
    b = ou.reverse(score, t_end=2.5, score_params=[2.0, 0.0, 0.0])
    assert a.drift is b.drift and a.diffusion is b.diffusion
    assert list(b.param_names[3:5]) == ["t_end", "score0"] and b.params[3] == 2.5
    sk.solve(a, 0.0, [0.0, 0.5], dt=0.1, n_paths=4, seed=1)
    n_kernels = len(numba_cpu._compiled)
    sk.solve(b, 0.0, [0.0, 0.5], dt=0.1, n_paths=4, seed=1)
    assert len(numba_cpu._compiled) == n_kernels


def test_reverse_accepts_a_score_defined_outside_any_module():
    namespace = {}
    exec("def score(t, x, q, out):\n    out[0] = -x[0]\n", namespace)
    assert namespace["score"].__module__ is None  # as for code run by exec, e.g. from docs
    rev = sk.OrnsteinUhlenbeck().reverse(namespace["score"], t_end=1.0)
    assert rev.cacheable is False


def test_common_random_numbers_move_first_passages_continuously():
    """Crossing draws come from their own (seed, path, step) stream, so a small change of a
    parameter keeps every path's Wiener increments: first-passage times move by about as much
    as the parameter, and no path jumps to another history."""
    sde = sk.sde.DriftDiffusion()
    bounds = sk.sde.Boundaries(1.0, -1.0)
    kw = dict(dt=1e-3, n_paths=4000, boundaries=bounds, seed=5, save="final")
    base = sk.solve(sde, 0.0, [0.0, 20.0], params=[1.0, 1.0], **kw)
    nudged = sk.solve(sde, 0.0, [0.0, 20.0], params=[1.0 + 1e-6, 1.0], **kw)
    assert np.array_equal(base.boundary, nudged.boundary)
    assert np.max(np.abs(base.first_passage_time - nudged.first_passage_time)) < 1e-5


def test_a_scheme_owns_its_step_and_requirements():
    from sdekit.sde.schemes import SCHEMES

    for scheme in SCHEMES.values():
        assert callable(scheme.step) and callable(scheme.torch_step)
    gbm = sk.GeometricBrownianMotion()
    assert SCHEMES["milstein"].draws_per_step(gbm) == 1
    assert SCHEMES["heun"].draws_per_step(gbm) == 0
    with pytest.raises(ValueError, match="does not support diagonal noise"):
        SCHEMES["heun"].check(gbm)
    SCHEMES["milstein"].check(gbm)


def test_engine_modules_import_one_way():
    # solve runs chunks through problem, and model builds reverse SDEs through reverse: neither
    # lower module imports the upper one (import-linter's layers contract checks the whole order)
    import ast
    from pathlib import Path

    sde_dir = Path(sk.__file__).parent / "sde"

    def imported(name):
        tree = ast.parse((sde_dir / f"{name}.py").read_text())
        return {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}

    assert "solve" not in imported("chunked")
    assert "model" not in imported("reverse")


def test_one_backend_resolver_for_every_entry_point():
    from sdekit.sde.backends import resolve_backend

    assert resolve_backend("cpu") == ("numba", None)
    assert resolve_backend("gpu") == ("cuda", None)
    with pytest.raises(ValueError, match="backend must be one of 'numba', 'cuda', 'torch'"):
        resolve_backend("fortran")
    with pytest.raises(ValueError, match="langevin does not run on backend 'cuda'"):
        resolve_backend("cuda", supported=("numba", "torch"), caller="langevin")
    with pytest.raises(ValueError, match="applies to backend='torch' only"):
        sk.solve(sk.BrownianMotion(), 0.0, [0, 1], device="cuda")
    sol = sk.solve(sk.BrownianMotion(), 0.0, [0, 1], n_paths=3, backend="cpu", seed=2)
    assert sol.backend == "numba"


def test_a_solution_records_the_seed_it_drew():
    sol = sk.solve(sk.BrownianMotion(), 0.0, [0, 1], n_paths=4)
    again = sk.solve(sk.BrownianMotion(), 0.0, [0, 1], n_paths=4, seed=sol.seed)
    np.testing.assert_array_equal(sol.states, again.states)

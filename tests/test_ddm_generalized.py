"""Generalized decision models: components, Fokker–Planck densities, simulation, fitting."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sdekit import ddm
from sdekit.ddm.components import Bound, Drift, NonDecision, Start, Urgency
from sdekit.ddm.fitting import FitWarning
from sdekit.ddm.generalized import DecisionModel
from sdekit.ddm.simulation_model import SimulationModel


def _l1(f, g, t):
    return float(np.trapezoid(np.abs(f - g), t))


def test_default_components_are_the_ddm():
    model = DecisionModel()
    assert model.param_names == ("v", "a", "z", "t0")
    pars = dict(v=1.2, a=1.4, z=0.35, t0=0.25)
    rt = np.linspace(0.2501, 4.0, 4000)
    for r in (1, 0):
        fp = model.pdf(rt, r, pars)
        exact = ddm.DDM(**pars).pdf(rt, r)
        assert _l1(fp, exact, rt) < 1e-4
    assert abs(model.prob_upper(pars) - ddm.DDM(**pars).prob_upper()) < 1e-4


def test_start_and_nondecision_windows_are_the_full_ddm():
    model = DecisionModel(start=Start.uniform(), nondecision=NonDecision.uniform())
    pars = dict(v=-0.8, a=1.8, z=0.55, sz=0.3, t0=0.3, st=0.15)
    rt = np.linspace(0.3, 6.0, 4000)
    for r in (1, 0):
        assert _l1(model.pdf(rt, r, pars), ddm.DDM(**pars).pdf(rt, r), rt) < 1e-4


def test_declarations_and_clear_errors():
    model = DecisionModel(drift=Drift.leaky(), bound=Bound.weibull(shape=3.0),
                          urgency=Urgency.linear())
    assert model.param_names == ("v", "leak", "a", "collapse", "scale", "urgency", "z", "t0")
    with pytest.raises(ValueError, match="unknown parameter"):
        model.vector(dict(v=1, a=1, t0=0.2, vv=3))
    with pytest.raises(ValueError, match="collapse must be"):
        model.vector(dict(v=1, a=1, t0=0.2, collapse=1.5))
    with pytest.raises(ValueError, match="a .*must be given"):
        model.vector(dict(v=1, t0=0.2))
    with pytest.raises(ValueError, match="neither a declared parameter"):
        Drift(lambda t, x, v, gain: v * gain)
    with pytest.raises(ValueError, match="start with the arguments"):
        Drift(lambda x, t, v: v, params={"v": (-np.inf, np.inf)})
    with pytest.raises(TypeError, match="bound must be a Bound"):
        DecisionModel(bound=Drift.constant())
    coherent = DecisionModel(drift=Drift.scaled_by("coherence"))
    with pytest.raises(ValueError, match="reads condition"):
        coherent.vector(dict(v=1, a=1, t0=0.2))
    with pytest.raises(ValueError, match="sz must be"):
        DecisionModel(start=Start.uniform()).vector(dict(v=1, a=1, t0=0.2, z=0.1, sz=0.5))


def test_user_component_and_condition():
    """A drift written by the user, reading a condition, equals the built-in it mimics."""
    user = Drift(lambda t, x, v, coherence: v * coherence, params={"v": (-np.inf, np.inf)},
                 conditions=("coherence",))
    a = DecisionModel(drift=user)
    b = DecisionModel(drift=Drift.scaled_by("coherence"))
    rt = np.linspace(0.31, 2.0, 50)
    pars = dict(v=2.0, a=1.0, t0=0.3)
    fa = a.pdf(rt, 1, pars, {"coherence": 0.4})
    fb = b.pdf(rt, 1, pars, {"coherence": 0.4})
    assert np.allclose(fa, fb, rtol=1e-12, atol=0)
    exact = ddm.DDM(v=0.8, a=1.0, t0=0.3).pdf(rt, 1)
    assert np.max(np.abs(fa - exact)) < 2e-3


def test_collapsing_urgent_leaky_model_matches_its_simulation():
    """Fokker–Planck and 10^5 bridge-corrected engine trials of the same model agree: P(upper)
    within 4 standard errors, each response's RTs by a Kolmogorov–Smirnov test at a fixed seed."""
    model = DecisionModel(drift=Drift.leaky(), bound=Bound.weibull(),
                          urgency=Urgency.linear())
    pars = dict(v=0.9, leak=1.5, a=2.0, collapse=0.7, scale=0.8, shape=2.5, urgency=0.4,
                z=0.45, t0=0.2)
    n = 100_000
    sim = model.simulate(n, pars, seed=7, dt=1e-3)
    assert sim.attrs["undecided"] == 0
    fp = model.first_passage(pars, t_max=float(sim.rt.max()))
    se = math.sqrt(fp.prob_upper * (1 - fp.prob_upper) / n)
    assert abs((sim.response == 1).mean() - fp.prob_upper) < 4 * se
    for r in (1, 0):
        cdf = fp.cdf_upper if r == 1 else fp.cdf_lower
        total = cdf[-1]

        def model_cdf(x, cdf=cdf, total=total):
            return np.interp(x - pars["t0"], fp.t, cdf) / total

        result = stats.kstest(sim.rt[sim.response == r].to_numpy(), model_cdf)
        assert result.pvalue > 1e-3, (r, result)


@pytest.fixture(scope="module")
def collapsing_data():
    model = DecisionModel(bound=Bound.weibull(shape=3.0))
    truth = dict(v=1.0, a=2.0, collapse=0.6, scale=1.0, z=0.5, t0=0.3)
    return model, truth, model.simulate(1500, truth, seed=3)


def test_fit_recovers_a_collapsing_bound_model(collapsing_data):
    model, truth, data = collapsing_data
    res = ddm.fit(data, model=model, fixed={"z": 0.5}, progress=False)
    assert res.converged
    assert list(res.params.index) == ["v", "a", "collapse", "scale", "t0"]
    z = (res.params - pd.Series(truth)[res.params.index]) / res.bse
    assert np.all(np.abs(z) < 4), z
    # the optimum: no nearby parameter vector does better
    prob = res._prob
    theta = res.params.to_numpy()
    for j in range(theta.size):
        for step in (-1e-3, 1e-3):
            nudged = theta.copy()
            nudged[j] += step
            assert prob.nll_theta(nudged) >= -res.llf - 1e-6
    assert "collapse" in res.summary()
    ci = res.conf_int()
    assert np.all(ci["lower"] < res.params) and np.all(res.params < ci["upper"])


def test_indefinite_curvature_at_the_end_is_named_not_an_infinite_gain(monkeypatch):
    # Where the Hessian at the end is not negative definite the Newton step's gain is undefined;
    # the message says what that means instead of "would still gain inf nats".
    from sdekit.ddm import model_search

    monkeypatch.setattr(model_search, "newton_decrement", lambda g, H: (math.inf, None))
    model = DecisionModel()
    data = model.simulate(300, dict(v=1.0, a=1.5, z=0.5, t0=0.3), seed=4)
    with pytest.warns(FitWarning, match="does not curve down in every direction"):
        res = ddm.fit(data, model=model, fixed={"z": 0.5}, progress=False)
    assert not res.converged
    assert not any("inf nats" in m for m in res.messages)


def test_profile_interval_of_a_generalized_model(collapsing_data):
    model, truth, data = collapsing_data
    res = ddm.fit(data, model=model, fixed={"z": 0.5}, progress=False)
    lo, hi = res.conf_int(method="profile", cols="t0").loc["t0"]
    assert lo < res.params["t0"] < hi
    for bound in (lo, hi):
        # an independent fit with t0 held at the bound lies chi2(1).ppf(0.95) / 2 below
        held = ddm.fit(data, model=model, fixed={"z": 0.5, "t0": bound}, progress=False)
        assert res.llf - held.llf == pytest.approx(1.920729, abs=5e-3)


def test_profile_interval_of_one_level_of_a_condition_dependent_parameter():
    """A profile of v[hard] holds v in the hard cells only: at its bounds the fit lies
    chi2(1).ppf(0.95) / 2 below the maximum, as an independent fit of the same model written
    with the two drifts as separate parameters, v_hard held there, says."""
    model = DecisionModel()
    truth = dict(a=1.5, z=0.5, t0=0.3)
    cells = pd.DataFrame({"level": ["easy", "hard"], "hard": [0.0, 1.0]})
    data = pd.concat([model.simulate(300, dict(truth, v=v), cells.iloc[[i]], seed=21 + i)
                      for i, v in enumerate((1.5, 0.5))], ignore_index=True)
    res = ddm.fit(data, model=model, depends_on={"v": "level"}, fixed={"z": 0.5},
                  progress=False)
    lo, hi = res.conf_int(method="profile", cols="v[hard]").loc["v[hard]"]
    assert lo < res.params["v[hard]"] < hi

    two_drifts = DecisionModel(drift=Drift(
        lambda t, x, v_easy, v_hard, hard: v_easy + (v_hard - v_easy) * hard,
        params={"v_easy": (-np.inf, np.inf), "v_hard": (-np.inf, np.inf)},
        conditions=("hard",)))
    same = ddm.fit(data, model=two_drifts, fixed={"z": 0.5}, progress=False)
    assert same.llf == pytest.approx(res.llf, abs=1e-3)
    for bound in (lo, hi):
        held = ddm.fit(data, model=two_drifts, fixed={"z": 0.5, "v_hard": bound},
                       progress=False)
        assert res.llf - held.llf == pytest.approx(1.920729, abs=5e-3)


def test_fit_conditions_subjects_and_plot(tmp_path):
    model = DecisionModel(drift=Drift.scaled_by("coherence"), bound=Bound.linear())
    cells = pd.DataFrame({"coherence": [0.2, 0.6]})
    frames = []
    for s in range(2):
        d = model.simulate(300, dict(v=2.5, a=1.6, slope=0.3, t0=0.25), conditions=cells,
                           seed=10 + s)
        d["subj_idx"] = s
        frames.append(d)
    data = pd.concat(frames, ignore_index=True)
    fits = ddm.fit(data, model=model, by="subj_idx", n_jobs=1, progress=False)
    assert len(fits) == 2
    for s in range(2):
        # the maximum, not a stall: a fit started at slope's default of 0 (a closed bound)
        # used to stop there, 15 nats below a fit with slope held at its true value
        assert fits[s].converged
        held = ddm.fit(data[data.subj_idx == s], model=model, fixed={"slope": 0.3},
                       progress=False)
        assert fits[s].llf >= held.llf - 1e-3
    table = fits.to_frame()
    assert set(table.parameter) == {"v", "a", "slope", "z", "t0"}
    cells_table = fits[0].cell_params()
    assert sorted(cells_table["coherence"]) == [0.2, 0.6]
    out = fits[0].plot(tmp_path / "fit.png")
    assert out.exists() and out.stat().st_size > 1000
    with pytest.raises(ValueError, match="formulas are not supported"):
        ddm.fit(data, model=model, depends_on={"v": "1 + coherence"}, progress=False)
    with pytest.raises(ValueError, match="reads condition 'coh'"):
        ddm.fit(data, model=DecisionModel(drift=Drift.scaled_by("coh")), progress=False)


def _race_density(t, v_win, v_lose, a):
    """Exact race of two drifted Brownian motions from 0 to a: density of the winner at t."""
    f = a / np.sqrt(2 * np.pi * t ** 3) * np.exp(-(a - v_win * t) ** 2 / (2 * t))
    sf = stats.norm.cdf((a - v_lose * t) / np.sqrt(t)) - np.exp(2 * v_lose * a) * \
        stats.norm.cdf((-a - v_lose * t) / np.sqrt(t))
    return f * sf


def test_race_model_density_and_simulation():
    race = SimulationModel.race(n_sim=100_000)
    pars = race.vector(dict(v0=0.8, v1=1.6, a=1.2, t0=0.25))
    rt = np.linspace(0.35, 2.0, 12)
    for r, (vw, vl) in ((1, (1.6, 0.8)), (0, (0.8, 1.6))):
        estimate = race.density(pars, rt, np.full(rt.size, r))
        exact = _race_density(rt - 0.25, vw, vl, 1.2)
        # kernel density: O(h^2) smoothing plus sampling error at 10^5 simulated trials
        assert np.max(np.abs(estimate - exact)) < 0.05 * np.max(exact), (r, estimate, exact)
    p1 = float(np.trapezoid(_race_density(np.linspace(1e-4, 10, 20001), 1.6, 0.8, 1.2),
                            np.linspace(1e-4, 10, 20001)))
    sim = race.simulate(20_000, dict(v0=0.8, v1=1.6, a=1.2, t0=0.25), seed=3)
    se = math.sqrt(p1 * (1 - p1) / 20_000)
    assert abs((sim.response == 1).mean() - p1) < 4 * se


def test_race_likelihood_is_smooth_under_common_random_numbers():
    race = SimulationModel.race(n_sim=20_000)
    data = race.simulate(1000, dict(v0=0.8, v1=1.6, a=1.2, t0=0.25), seed=11)
    rt, resp = data.rt.to_numpy(), data.response.to_numpy()

    def loglik(v0):
        return float(np.sum(np.log(race.density(race.vector(dict(v0=v0, v1=1.6, a=1.2,
                                                                  t0=0.25)), rt, resp))))

    steps = np.array([0.0, 1e-6, 2e-6, 3e-6])
    values = np.array([loglik(0.8 + s) for s in steps])
    slopes = np.diff(values) / 1e-6
    # equal slopes on a fine scale: no Monte Carlo jumps between nearby parameters
    assert np.ptp(slopes) < 0.05 * np.max(np.abs(slopes)) + 1.0, slopes


def test_race_fit_finds_the_exact_likelihood_maximum():
    """The simulated-likelihood fit lands where the exact race likelihood peaks: within a
    standard error of the exact maximum-likelihood estimate (the gap is the kernel's smoothing
    and the Monte Carlo error of n_sim simulated trials)."""
    from scipy import optimize

    race = SimulationModel.race(n_sim=10_000)
    data = race.simulate(600, dict(v0=0.8, v1=1.6, a=1.2, t0=0.25), seed=1)
    rt, resp = data.rt.to_numpy(), data.response.to_numpy()

    def exact_nll(x):
        v0, v1, a, t0 = x
        if a <= 0 or not 0 < t0 < rt.min():
            return 1e10
        t = rt - t0
        f = np.where(resp == 1, _race_density(t, v1, v0, a), _race_density(t, v0, v1, a))
        return -float(np.sum(np.log(np.maximum(f, 1e-300))))

    exact = optimize.minimize(exact_nll, [0.8, 1.6, 1.2, 0.25], method="Nelder-Mead",
                              options={"xatol": 1e-7, "fatol": 1e-9, "maxfev": 4000}).x
    res = ddm.fit(data, model=race, progress=False, starts=1)
    assert res.converged
    # standard errors against those of the exact likelihood (central differences of the exact
    # negative log-likelihood at its maximum): a Hessian taken on too narrow a stencil measures
    # the simulated likelihood's Monte Carlo ripples instead, and comes out several times too
    # curved (the 3 % stencil used before gave 0.35 of the exact standard errors)
    k = exact.size
    step = 1e-4 * np.maximum(np.abs(exact), 0.1)
    info = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            def f(di, dj, i=i, j=j):
                x = exact.copy()
                x[i] += di * step[i]
                x[j] += dj * step[j]
                return exact_nll(x)

            info[i, j] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (4 * step[i] * step[j])
    exact_se = np.sqrt(np.diag(np.linalg.inv(info)))
    ratio = res.bse.to_numpy() / exact_se
    assert np.all((ratio > 0.6) & (ratio < 1.25)), ratio
    z = (res.params.to_numpy() - exact) / exact_se
    # the kernel's smoothing bias: well within a standard error at 600 trials (it grows with
    # the number of data trials relative to n_sim; see docs/models.md)
    assert np.all(np.abs(z) < 1.0), z


def test_simulation_model_reads_conditions():
    """An SDE parameter named after a condition reads it: the LCA coded by stimulus strength
    is, trial for trial, the LCA with the inputs that strength gives; each condition cell is its
    own likelihood term."""
    coded = SimulationModel.lca(coherence="coh", n_sim=500)
    plain = SimulationModel.lca(n_sim=500)
    assert coded.conditions == ("coh",)
    assert coded.param_names == ("v", "gain", "leak", "inhibition", "a", "t0")
    truth = dict(v=0.8, gain=1.5, leak=0.6, inhibition=0.3, a=1.0, t0=0.2)
    cells = pd.DataFrame({"coh": [0.0, 0.5], "label": ["easy", "hard"]})
    data = coded.simulate(40, truth, cells, seed=5)
    assert list(data.columns) == ["rt", "response", "coh", "label"]
    for i, c in enumerate((0.0, 0.5)):
        same = plain.simulate(40, dict(v0=0.8, v1=0.8 + 1.5 * c, leak=0.6, inhibition=0.3,
                                       a=1.0, t0=0.2),
                              seed=(5 + i * 0x9E3779B97F4A7C15) % 2**64)
        cell = data[data.coh == c]
        np.testing.assert_array_equal(cell.rt.to_numpy(), same.rt.to_numpy())
        np.testing.assert_array_equal(cell.response.to_numpy(), same.response.to_numpy())

    with pytest.raises(ValueError, match="reads condition"):
        coded.vector(truth)
    with pytest.raises(ValueError, match="not read by this model"):
        plain.vector(dict(t0=0.2), {"coh": 0.5})
    with pytest.raises(ValueError, match="coh must be numeric"):
        coded.vector(truth, {"coh": "high"})
    with pytest.raises(ValueError, match="both parameters and conditions"):
        SimulationModel(coded.sde, {"v": (-math.inf, math.inf, 1.0, "input"),
                                    "coh": (0.0, 1.0, 0.5, "strength")},
                        boundaries=lambda v: None, conditions=("coh",))
    with pytest.raises(ValueError, match=r"\['coh'\] are neither declared"):
        SimulationModel(coded.sde, [p for p in coded.params if p.name != "t0"],
                        boundaries=lambda v: None)

    from sdekit.ddm.generalized import model_from_text

    assert model_from_text("lca:coh").conditions == ("coh",)
    with pytest.raises(ValueError, match="lca:coherence"):
        model_from_text("lca:")

    # the fitted log-likelihood is the sum of each cell's, each simulated at its own strength
    data = coded.simulate(100, truth, pd.DataFrame({"coh": [0.0, 1.0]}), seed=6)
    data = data[data.response >= 0]
    fixed = {k: x for k, x in truth.items() if k != "v"}
    res = ddm.fit(data, model=coded, fixed=fixed, progress=False, starts=1)
    assert abs(res.params["v"] - truth["v"]) < 4 * res.bse["v"]
    total = 0.0
    for c, cell in data.groupby("coh"):
        values = coded.vector(dict(fixed, v=res.params["v"]), {"coh": c})
        total += np.sum(np.log(coded.density(values, cell.rt.to_numpy(),
                                             cell.response.to_numpy())))
    assert res.llf == pytest.approx(total, abs=1e-9)
    assert sorted(res.cell_params()["coh"]) == [0.0, 1.0]


def test_cli_fits_a_generalized_model(tmp_path, capsys):
    from sdekit.cli import main

    data = ddm.DDM(v=1.0, a=1.5, z=0.5, t0=0.3).rvs(300, seed=4)
    src = tmp_path / "data.csv"
    data.to_csv(src, index=False)
    out = tmp_path / "fit.csv"
    code = main(["fit", str(src), "--model", "bound=linear", "--fix", "z=0.5", "-o", str(out),
                 "--no-progress"])
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.parameter) == ["v", "a", "slope", "t0"]
    assert "linearly collapsing bound" in capsys.readouterr().out
    # a model written in the user's own file
    user = tmp_path / "mymodels.py"
    user.write_text("from sdekit import ddm\nurgent = ddm.DecisionModel("
                    "urgency=ddm.Urgency.linear())\n")
    code = main(["fit", str(src), "--model", f"{user}:urgent", "--fix", "z=0.5",
                 "--no-progress"])
    assert code == 0
    assert "urgency" in capsys.readouterr().out
    for bad, message in (("drift=lekay", "unknown drift 'lekay'"),
                         (f"{user}:missing", "defines no 'missing'; models it defines: urgent"),
                         ("bound", "cannot read model")):
        assert main(["fit", str(src), "--model", bad, "--no-progress"]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad.csv").exists()


_CUDASIM_SCRIPT = r"""
import numpy as np
from sdekit.ddm.generalized import model_from_text
# generated component wrappers, a condition-free leak, symmetric collapsing bounds (the lower one
# derived from the upper) and a non-decision window, all retargeted to the device
model = model_from_text("drift=leaky,bound=weibull,nondecision=uniform")
params = dict(v=1.0, leak=0.5, a=1.2, t0=0.3, st=0.1)
kw = dict(seed=3, dt=5e-3, t_max=2.0)
a = model.simulate(12, params, backend="numba", **kw)
c = model.simulate(12, params, backend="cuda", **kw)
assert np.array_equal(a["response"].to_numpy(), c["response"].to_numpy())
assert np.allclose(a["rt"].to_numpy(), c["rt"].to_numpy(), rtol=1e-12, equal_nan=True)
print("ok")
"""


def test_generalized_model_simulates_on_the_cuda_simulator(cuda_simulator):
    cuda_simulator(_CUDASIM_SCRIPT)

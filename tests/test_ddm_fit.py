"""Tests of ddm.fit: parameter recovery at fixed seeds, the maximum, fixed and condition-dependent
parameters, the contaminant mixture, every bad input, parallel and Dask runs, and the CLI.

Tolerances come from the sample size: estimates within 4 of their own standard errors of the truth
(a 4-sigma band fails with probability 6e-5 per parameter if the Wald SEs are right).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdekit.ddm import density
from sdekit.ddm.data import DataError
from sdekit.ddm.fitting import DDMResults, FitCollection, FitWarning, fit
from sdekit.ddm.sampling import sample_ddm

TRUTH = {"v": 1.0, "a": 1.5, "z": 0.6, "t0": 0.3}


def simulate(n, seed, **pars):
    p = {**TRUTH, **pars}
    rt, resp = sample_ddm(n, seed=seed, **p)
    return pd.DataFrame({"rt": rt, "response": resp})


def conditions(n, seed, v=(("easy", 2.0), ("hard", 0.7)), **pars):
    parts = []
    for i, (level, drift) in enumerate(v):
        d = simulate(n, seed * 10 + i, **{**pars, "v": drift})
        d["stim"] = level
        d["coherence"] = drift
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


def within(res, truth, k=4.0):
    for name, value in truth.items():
        est, se = res.params[name], res.bse[name]
        assert np.isfinite(se) and se > 0, name
        assert abs(est - value) < k * se, f"{name}: {est} vs {value} (se {se})"


@pytest.fixture(scope="module")
def simple_fit():
    data = simulate(2000, seed=1)
    return data, fit(data, progress=False)


def test_recovery_simple(simple_fit):
    data, res = simple_fit
    assert isinstance(res, DDMResults)
    assert list(res.params.index) == ["v", "a", "z", "t0"]
    assert res.converged
    within(res, TRUTH)
    assert res.nobs == 2000 and res.k_params == 4
    assert res.aic == pytest.approx(-2 * res.llf + 8)
    assert res.bic == pytest.approx(-2 * res.llf + 4 * np.log(2000))


def test_maximum_at_least_truth_and_matches_density(simple_fit):
    data, res = simple_fit
    at_truth = density.logpdf(data.rt, data.response, **TRUTH).sum()
    assert res.llf >= at_truth
    at_est = density.logpdf(data.rt, data.response, **res.params.to_dict()).sum()
    assert res.llf == pytest.approx(at_est, abs=1e-8)
    # no nearby point is better: the gradient vanishes at the reported maximum
    for name in res.params.index:
        for h in (-1e-4, 1e-4):
            p = res.params.to_dict()
            p[name] += h
            assert density.logpdf(data.rt, data.response, **p).sum() <= res.llf + 1e-9


def test_results_interface(simple_fit):
    _, res = simple_fit
    ci = res.conf_int(0.05)
    assert list(ci.columns) == ["lower", "upper"]
    assert np.allclose(ci["upper"] - ci["lower"], 2 * 1.959964 * res.bse, rtol=1e-5)
    frame = res.to_frame()
    assert list(frame.columns) == ["parameter", "estimate", "se", "ci_low", "ci_high"]
    cov = res.cov_params()
    assert np.allclose(np.sqrt(np.diag(cov)), res.bse)
    text = res.summary()
    for word in ("log-likelihood", "AIC", "BIC", "converged: yes", "t0", "95% CI"):
        assert word in text


def test_wald_se_matches_spread_over_seeds():
    est, se = [], []
    for seed in range(8):
        r = fit(simulate(800, seed=100 + seed), progress=False, starts=2)
        est.append(r.params.to_numpy())
        se.append(r.bse.to_numpy())
    ratio = np.std(est, axis=0, ddof=1) / np.mean(se, axis=0)
    # With 8 seeds the sample s.d. has a relative standard error of about 1/sqrt(14) = 0.27:
    # ratios outside [0.35, 1.9] are beyond 2.4 of those standard errors.
    assert np.all((ratio > 0.35) & (ratio < 1.9)), ratio


def test_fixed_parameters_stay_fixed():
    data = simulate(1000, seed=3, z=0.5)
    res = fit(data, fixed={"z": 0.5}, progress=False)
    assert "z" not in res.params.index
    assert res.fixed["z"] == 0.5
    within(res, {"v": 1.0, "a": 1.5, "t0": 0.3})
    res2 = fit(data, free=["v", "a"], fixed={"t0": 0.3}, progress=False)
    assert list(res2.params.index) == ["v", "a"]
    assert res2.fixed["t0"] == 0.3 and res2.fixed["z"] == 0.5


def test_depends_on_levels_and_formula():
    data = conditions(800, seed=4, z=0.5)
    res = fit(data, depends_on={"v": "stim"}, fixed={"z": 0.5}, progress=False)
    assert list(res.params.index) == ["v[easy]", "v[hard]", "a", "t0"]
    within(res, {"v[easy]": 2.0, "v[hard]": 0.7, "a": 1.5, "t0": 0.3})
    cells = res.cell_params()
    assert set(cells.index) == {"stim=easy", "stim=hard"}
    assert cells.loc["stim=easy", "v"] == pytest.approx(res.params["v[easy]"])
    form = fit(data, depends_on={"v": "1 + coherence"}, fixed={"z": 0.5}, progress=False)
    assert list(form.params.index)[:2] == ["v:Intercept", "v:coherence"]
    # a linear drift through two levels reproduces the per-level fit exactly
    assert form.llf == pytest.approx(res.llf, abs=1e-6)
    within(form, {"v:Intercept": 0.0, "v:coherence": 1.0})


def test_formulas_on_other_parameters_use_their_links():
    data = conditions(800, seed=4, v=(("easy", 1.0), ("hard", 1.0)), z=0.5)
    data["a_true"] = np.where(data.stim == "easy", 1.2, 1.8)
    parts = []
    for i, (stim, a) in enumerate((("easy", 1.2), ("hard", 1.8))):
        rt, resp = sample_ddm(800, v=1.0, a=a, z=0.5, t0=0.3, seed=40 + i)
        parts.append(pd.DataFrame({"rt": rt, "response": resp, "stim": stim}))
    data = pd.concat(parts, ignore_index=True)
    levels = fit(data, depends_on={"a": "stim"}, progress=False)
    form = fit(data, depends_on={"a": "0 + C(stim)"}, progress=False)
    # a = exp(coefficient): the same model as one a per level, so the same maximum
    assert form.llf == pytest.approx(levels.llf, abs=1e-6)
    np.testing.assert_allclose(np.exp(form.params.filter(like="a:").to_numpy()),
                               levels.params[["a[easy]", "a[hard]"]].to_numpy(), rtol=1e-4)
    assert form.cell_params().loc["stim=hard", "a"] == pytest.approx(levels.params["a[hard]"],
                                                                     rel=1e-4)


def test_formula_recovers_covariate_effects_on_a_and_t0():
    # five covariate values, 600 trials each: log a = log 1.5 + 0.2 x, t0 = 0.3 + 0.05 x
    parts = []
    for i, x in enumerate((-1.0, -0.5, 0.0, 0.5, 1.0)):
        rt, resp = sample_ddm(600, v=1.0, a=1.5 * np.exp(0.2 * x), z=0.5, t0=0.3 + 0.05 * x,
                              seed=60 + i)
        parts.append(pd.DataFrame({"rt": rt, "response": resp, "x": x}))
    res = fit(pd.concat(parts, ignore_index=True), depends_on={"a": "1 + x", "t0": "1 + x"},
              progress=False)
    assert res.converged
    within(res, {"a:Intercept": np.log(1.5), "a:x": 0.2, "t0:Intercept": 0.3, "t0:x": 0.05,
                 "v": 1.0, "z": 0.5})


def test_formula_gradients_match_finite_differences():
    from sdekit.ddm.likelihood import LikelihoodProblem

    parts = []
    for i, x in enumerate((-1.0, 0.0, 1.0)):
        rt, resp = sample_ddm(60, v=1.0, a=1.4, z=0.5, t0=0.3, sv=0.5, st=0.1, seed=70 + i)
        parts.append(pd.DataFrame({"rt": rt, "response": resp, "x": x}))
    data = pd.concat(parts, ignore_index=True)
    deps = {name: "1 + x" for name in ("v", "a", "z", "t0", "sv", "st")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 180 trials for 13 parameters: only the gradient counts
        res = fit(data, model="full", fixed={"sz": 0.1}, depends_on=deps, progress=False)
    prob = res._prob
    assert isinstance(prob, LikelihoodProblem)
    theta = res.params.to_numpy().copy()
    theta[[n.endswith(":x") for n in res.params.index]] += 0.05  # away from the optimum
    _, grad = prob.nll_grad_theta(theta)
    numeric = np.empty_like(grad)
    for j in range(theta.size):
        h = 1e-6
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        numeric[j] = (prob.nll_grad_theta(up)[0] - prob.nll_grad_theta(dn)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_p_outlier_recovers_contamination():
    data = simulate(3000, seed=5)
    rng = np.random.default_rng(5)
    lapse = rng.random(len(data)) < 0.05
    lo, hi = data.rt.min(), data.rt.max()
    data.loc[lapse, "rt"] = rng.uniform(lo, hi, lapse.sum())
    data.loc[lapse, "response"] = rng.integers(0, 2, lapse.sum())
    res = fit(data, p_outlier="free", progress=False)
    assert "p_outlier" in res.params.index
    within(res, {**TRUTH, "p_outlier": 0.05})
    fixed = fit(data, p_outlier=0.05, progress=False)
    assert "p_outlier" not in fixed.params.index and fixed.fixed["p_outlier"] == 0.05
    assert fixed.llf <= res.llf + 1e-9


def test_full_ddm_recovery():
    truth = {"v": 1.0, "a": 1.5, "z": 0.5, "t0": 0.3, "sv": 0.6, "sz": 0.2, "st": 0.15}
    rt, resp = sample_ddm(1500, seed=6, **truth)
    data = pd.DataFrame({"rt": rt, "response": resp})
    res = fit(data, model="full", fixed={"sz": 0.2}, starts=2, progress=False)
    assert list(res.params.index) == ["v", "a", "z", "t0", "sv", "st"]
    within(res, {k: v for k, v in truth.items() if k != "sz"})
    at_truth = density.logpdf(rt, resp, **truth).sum()
    assert res.llf >= at_truth - 1e-6


def test_full_ddm_sz_at_zero_keeps_the_other_standard_errors():
    # a data set whose maximum has the start-point window at 0: the restart from a wide window
    # must not find better, and the other parameters keep Wald standard errors
    truth = {"v": 1.0, "a": 1.5, "z": 0.5, "t0": 0.3, "sv": 0.8, "sz": 0.2, "st": 0.15}
    rt, resp = sample_ddm(500, seed=6, **truth)
    res = fit(pd.DataFrame({"rt": rt, "response": resp}), model="full", progress=False)
    assert res.converged
    assert res.llf >= density.logpdf(rt, resp, **truth).sum() - 1e-6
    assert res.params["sz"] < 0.01
    assert np.all(np.isfinite(res.bse.drop("sz"))) and np.all(res.bse.drop("sz") > 0)
    # sz's own is NaN exactly when the information is singular there, and then a message says so
    assert np.isnan(res.bse["sz"]) == any("sz at 0" in m for m in res.messages)
    # the optimiser's starts, the restart included, all end at this maximum or below it
    assert max(res.start_llfs) <= res.llf + 1e-6


def test_qmp_recovers():
    data = simulate(2000, seed=7)
    mle = fit(data, progress=False)
    res = fit(data, method="qmp", progress=False)
    assert res.method == "qmp" and res.bse.isna().all()
    for name, value in TRUTH.items():
        # quantile fits are less efficient than ML: allow 6 ML standard errors
        assert abs(res.params[name] - value) < 6 * mle.bse[name], name
    assert res.llf <= mle.llf + 1e-9


def test_by_subject_parallel_and_tidy(tmp_path, monkeypatch):
    from sdekit.ddm import runner

    monkeypatch.setattr(runner, "POOL_MIN_SECONDS", 0.0)  # use the worker processes
    monkeypatch.setattr(runner, "CHUNKS_PER_WORKER", 1)  # several subjects per task
    data = pd.concat([simulate(300, seed=20 + s).assign(subj_idx=s) for s in range(7)],
                     ignore_index=True)
    serial = fit(data, by="subj_idx", n_jobs=1, progress=False)
    assert isinstance(serial, FitCollection) and len(serial) == 7
    par = fit(data, by="subj_idx", n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial.params, par.params)
    tidy = serial.to_frame()
    assert list(tidy.columns)[:6] == ["subj_idx", "parameter", "estimate", "se", "ci_low",
                                      "ci_high"]
    assert len(tidy) == 28
    out = tmp_path / "fits.csv"
    serial.to_csv(out)
    back = pd.read_csv(out)
    assert np.allclose(back.estimate, tidy.estimate)
    assert [p.name for p in tmp_path.iterdir()] == ["fits.csv"]
    text = serial.summary()
    assert "subj_idx" in text and "converged" in text


def test_dask_local_scheduler_same_estimates():
    pytest.importorskip("distributed")
    data = pd.concat([simulate(300, seed=30 + s).assign(subj_idx=s) for s in range(3)],
                     ignore_index=True)
    ref = fit(data, by="subj_idx", n_jobs=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(data, by="subj_idx", scheduler="local", n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(ref.params, res.params)


def test_nonconvergence_is_flagged_and_named(monkeypatch):
    from sdekit.ddm import optimizers

    def stuck(prob, phi, maxiter=300):
        return phi, prob.objective(phi)[0] * prob.n, False, "forced stop", 1

    monkeypatch.setattr(optimizers, "levenberg_marquardt", stuck)
    monkeypatch.setattr(optimizers, "newton_polish", lambda prob, t, f, g, H: (t, f, g, H))
    data = simulate(300, seed=8).assign(subj_idx=7)
    with pytest.warns(FitWarning, match="subj_idx 7: optimiser stopped"):
        res = fit(data, by="subj_idx", starts=1, progress=False)
    assert not res[7].converged


@pytest.mark.parametrize("sz, explained", [(0.97, True), (0.5, False)])
def test_nonconvergence_with_a_window_near_a_boundary_says_why(monkeypatch, sz, explained):
    # A start-point window nearly touching a boundary gives the decision time a 1/sqrt(t) peak
    # at 0, where full-DDM fits stall (docs/fitting.md, The global maximum): the message says
    # so, and only then.
    from sdekit.ddm import optimizers

    def stuck(prob, phi, maxiter=300):
        return phi, prob.objective(phi)[0] * prob.n, False, "forced stop", 1

    monkeypatch.setattr(optimizers, "levenberg_marquardt", stuck)
    monkeypatch.setattr(optimizers, "newton_polish", lambda prob, t, f, g, H: (t, f, g, H))
    res = fit(simulate(200, seed=8), free=["v", "a", "t0"], fixed={"z": 0.5, "sz": sz},
              starts=1, progress=False)
    assert not res.converged
    notes = [m for m in res.messages if "start-point window fills" in m]
    assert len(notes) == explained
    if explained:
        assert f"{100 * sz:.1f} %" in notes[0] and "fixed={'sz'" in notes[0]


BAD = [
    (dict(fixed={"q": 1.0}), r"unknown parameter\(s\) \['q'\] in fixed"),
    (dict(free=["v", "drift"]), r"unknown parameter\(s\) \['drift'\] in free"),
    (dict(depends_on={"vv": "stim"}), r"unknown parameter\(s\) \['vv'\] in depends_on"),
    (dict(depends_on={"v": "stmi"}), r"no column 'stmi'.*did you mean 'stim'"),
    (dict(free=["v", "a", "sv"]), r"not parameters of the simple DDM"),
    (dict(free=["v", "a", "t0"], fixed={"a": 1.0}), r"both free and fixed"),
    (dict(fixed={"a": -1.0}), r"fixed a: a must be > 0"),
    (dict(model="full", depends_on={"z": "1 + coherence"}), r"formula for z needs a fixed sz"),
    (dict(depends_on={"z": "stim"}, fixed={"z": 0.5}), r"not free"),
    (dict(model="huge"), r"model must be 'simple'"),
    (dict(method="bayes"), r"method must be 'mle' or 'qmp'"),
    (dict(p_outlier=1.5), r"p_outlier must lie in \[0, 1\)"),
    (dict(by="subject"), r"by='subject' is not a column"),
    (dict(starts=0), r"starts must be >= 1"),
]


@pytest.mark.parametrize("kwargs, message", BAD)
def test_bad_arguments(kwargs, message):
    data = conditions(50, seed=9)
    with pytest.raises(ValueError, match=message):
        fit(data, progress=False, **kwargs)


def test_rts_below_fixed_t0_name_rows_and_offer_contaminant():
    data = simulate(200, seed=10)
    with pytest.raises(DataError, match=r"at or below the non-decision time.*p_outlier"):
        fit(data, fixed={"t0": 0.35}, progress=False)
    res = fit(data, fixed={"t0": 0.35}, p_outlier="free", progress=False)
    assert res.params["p_outlier"] > 0


def test_too_few_trials():
    data = simulate(200, seed=11)
    data["subj_idx"] = 0
    data.loc[:4, "subj_idx"] = 1
    with pytest.raises((ValueError, DataError), match=r"1.*(too few|at least|trials)"):
        fit(data, by="subj_idx", progress=False, min_trials=0)
    with pytest.raises(DataError):
        fit(data, by="subj_idx", progress=False)


# -- command line ----------------------------------------------------------------------------


def run_cli(args, capsys):
    from sdekit.cli import main

    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_fit_end_to_end(tmp_path, capsys):
    data = conditions(150, seed=12).assign(subj_idx=0)
    data = pd.concat([data, conditions(150, seed=13).assign(subj_idx=1)], ignore_index=True)
    src = tmp_path / "data.csv"
    data.to_csv(src, index=False)
    out = tmp_path / "fits.csv"
    code, stdout, _ = run_cli(["fit", str(src), "--depends-on", "v=stim", "--by", "subj_idx",
                               "--fix", "z=0.5", "-o", str(out), "--no-progress"], capsys)
    assert code == 0
    assert "v[easy]" in stdout and f"wrote 8 rows to {out}" in stdout
    table = pd.read_csv(out)
    assert set(table.parameter) == {"v[easy]", "v[hard]", "a", "t0"}
    assert set(table.subj_idx) == {0, 1}


def test_cli_profile_intervals(tmp_path, capsys):
    data = simulate(300, seed=16)
    src = tmp_path / "data.csv"
    data.to_csv(src, index=False)
    out = tmp_path / "fit.csv"
    code, stdout, _ = run_cli(["fit", str(src), "--intervals", "profile", "-o", str(out),
                               "--no-progress"], capsys)
    assert code == 0 and "95% profile CI" in stdout
    table = pd.read_csv(out).set_index("parameter")
    expected = fit(data, progress=False).conf_int(method="profile")
    assert np.allclose(table[["ci_low", "ci_high"]].to_numpy(), expected.to_numpy(), atol=1e-6)
    # not the Wald intervals
    assert not np.allclose(table[["ci_low", "ci_high"]].to_numpy(),
                           fit(data, progress=False).conf_int().to_numpy(), atol=1e-4)


def test_cli_example(capsys):
    code, stdout, _ = run_cli(["fit", "--example", "--no-progress", "--jobs", "1"], capsys)
    assert code == 0
    assert "v[easy]" in stdout and "subj_idx" in stdout


CLI_BAD = [
    (["--depends-on", "v=stmi"], "did you mean 'stim'"),
    (["--fix", "q=1"], "unknown parameter"),
    (["--fix", "t0=0.4"], "at or below the non-decision time"),
    (["--model", "full", "--free", "v,a,sv,zz"], "unknown parameter"),
    (["--model", "bound=linear", "--search", "global"], "applies to the full DDM"),
    (["--method", "qmp", "--intervals", "profile"], "needs a maximum-likelihood fit"),
    (["--model", "race", "--intervals", "profile"], "not offered for simulated likelihoods"),
]


@pytest.mark.parametrize("extra, message", CLI_BAD)
def test_cli_bad_input_exit_2_and_no_file(tmp_path, capsys, extra, message):
    src = tmp_path / "data.csv"
    conditions(100, seed=14).to_csv(src, index=False)
    out = tmp_path / "fits.csv"
    code, stdout, stderr = run_cli(["fit", str(src), "-o", str(out), "--no-progress", *extra],
                                   capsys)
    assert code == 2
    assert message in stderr
    assert stderr.startswith("sdekit: error:") and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_cli_missing_file_and_bad_output(tmp_path, capsys):
    code, _, err = run_cli(["fit", str(tmp_path / "nope.csv"), "--no-progress"], capsys)
    assert code == 2 and "does not exist" in err
    src = tmp_path / "data.csv"
    simulate(100, seed=15).to_csv(src, index=False)
    code, _, err = run_cli(["fit", str(src), "-o", str(tmp_path / "fits.txt")], capsys)
    assert code == 2 and "must end in .csv or .parquet" in err
    code, _, err = run_cli(["fit", str(src), "--plot", str(tmp_path / "no" / "p.png")], capsys)
    assert code == 2 and "does not exist" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


# -- the tutorial runs as written ------------------------------------------------------------


def test_fitting_tutorial_runs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    doc = Path(__file__).resolve().parents[1] / "docs" / "fitting.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for block in blocks:
            exec(compile(block, str(doc), "exec"), namespace)


def test_importing_the_fitting_module_keeps_ddm_fit_a_function():
    """A submodule named like the function would replace it on import (it used to)."""
    import importlib

    from sdekit import ddm

    importlib.import_module("sdekit.ddm.fitting")
    from sdekit.ddm.fitting import DDMResults  # noqa: F401

    assert callable(ddm.fit) and ddm.fit.__module__ == "sdekit.ddm.fitting"


# -- profile-likelihood intervals ---------------------------------------------------------


def test_profile_interval_ends_where_the_refitted_likelihood_drops_by_the_chi2_quantile():
    from scipy.stats import chi2

    data = simulate(400, seed=71)
    res = fit(data, progress=False)
    ci = res.conf_int(method="profile", cols=["a", "t0"])
    drop = 0.5 * chi2.ppf(0.95, 1)
    for name in ci.index:
        lo, hi = ci.loc[name]
        assert lo < res.params[name] < hi
        for bound in (lo, hi):
            # an independent refit with the parameter fixed at the bound
            held = fit(data, fixed={name: bound}, progress=False)
            assert res.llf - held.llf == pytest.approx(drop, abs=2e-3), (name, bound)
    # 400 trials of the simple DDM: the log-likelihood is close to quadratic, so profile and
    # Wald intervals have nearly the same width (the profile's may be shifted: t0's likelihood
    # is skewed by the fastest RT)
    wald = res.conf_int(cols=["a", "t0"])
    width = (ci.upper - ci.lower) / (wald.upper - wald.lower)
    assert np.all(np.abs(width - 1) < 0.05), width


def test_profile_of_a_condition_slot_matches_a_direct_constrained_maximum():
    from scipy.optimize import minimize

    data = conditions(250, seed=72)
    res = fit(data, depends_on={"v": "stim"}, progress=False)
    lo, hi = res.conf_int(method="profile", cols="v[hard]").loc["v[hard]"]
    easy = (data.stim == "easy").to_numpy()

    def nll(x, v_hard):
        v_easy, a, z, t0 = x
        if not (a > 0 and 0 < z < 1 and 0 <= t0 < data.rt.min()):
            return 1e10
        v = np.where(easy, v_easy, v_hard)
        return -float(density.logpdf(data.rt.to_numpy(), data.response.to_numpy(), v=v, a=a,
                                     z=z, t0=t0).sum())

    start = res.params[["v[easy]", "a", "z", "t0"]].to_numpy()
    for bound in (lo, hi):
        direct = minimize(nll, start, args=(bound,), method="Nelder-Mead",
                          options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
        prof = res.profile("v[hard]", [bound])
        assert float(prof.iloc[0]) == pytest.approx(-direct.fun, abs=1e-5)
        assert res.llf - float(prof.iloc[0]) == pytest.approx(1.920729, abs=1e-3)


def test_profile_of_a_formula_coefficient_crosses_zero_on_the_log_scale():
    # a = 1.5 exp(-0.1 x): the coefficient of x is negative, on the log scale of a
    parts = []
    for i, x in enumerate((-1.0, 0.0, 1.0)):
        rt, resp = sample_ddm(150, v=1.0, a=1.5 * np.exp(-0.1 * x), z=0.5, t0=0.3, seed=80 + i)
        parts.append(pd.DataFrame({"rt": rt, "response": resp, "x": x}))
    data = pd.concat(parts, ignore_index=True)
    res = fit(data, depends_on={"a": "1 + x"}, fixed={"z": 0.5}, progress=False)
    lo, hi = res.conf_int(method="profile", cols="a:x").loc["a:x"]
    assert lo < res.params["a:x"] < hi and lo < 0
    for bound in (lo, hi):
        assert res.llf - float(res.profile("a:x", [bound]).iloc[0]) == pytest.approx(
            1.920729, abs=1e-3)


def test_profile_interval_stops_at_the_edge_of_the_range():
    # p_outlier estimated from clean data sits near 0: its profile interval starts at 0 exactly
    data = simulate(300, seed=76)
    res = fit(data, p_outlier="free", progress=False)
    lo, hi = res.conf_int(method="profile", cols=["p_outlier"]).loc["p_outlier"]
    assert lo == 0.0 and res.params["p_outlier"] < hi < 0.2
    # at 0 the profile is the fit without a contaminant
    plain = fit(data, progress=False)
    assert float(res.profile("p_outlier", [0.0]).iloc[0]) == pytest.approx(plain.llf, abs=1e-6)
    assert res.llf - float(res.profile("p_outlier", [hi]).iloc[0]) == pytest.approx(1.920729,
                                                                                    abs=1e-3)


def test_profile_interval_errors_name_the_problem():
    data = simulate(200, seed=74)
    res = fit(data, progress=False)
    with pytest.raises(ValueError, match="unknown parameter.*'sv'"):
        res.conf_int(method="profile", cols=["sv"])
    with pytest.raises(ValueError, match="'wald' or 'profile'"):
        res.conf_int(method="bootstrap")
    qmp = fit(data, method="qmp", progress=False)
    with pytest.raises(ValueError, match="maximum-likelihood"):
        qmp.conf_int(method="profile")


def test_full_ddm_profile_intervals_match_fits_with_the_parameter_fixed():
    # A full-DDM estimate with sz and sv near 0: a refit continued from it keeps sz at 0 unless
    # it also searches from a window (without that, st's upper bound came out at 0.2345, where
    # a fit with st fixed lies only 1.745 below the maximum). sz's own standard error is NaN:
    # its bound search must step within the range rather than leap to its edge.
    truth = {"v": 1.0, "a": 1.5, "z": 0.5, "t0": 0.3, "sv": 0.8, "sz": 0.2, "st": 0.15}
    rt, resp = sample_ddm(500, seed=6, **truth)
    data = pd.DataFrame({"rt": rt, "response": resp})
    res = fit(data, model="full", progress=False)
    assert res.converged and res.params["sz"] < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        ci = res.conf_int(method="profile", cols=["st", "sz"])
    assert ci.loc["sz", "lower"] == 0.0
    for name in ("st", "sz"):
        for bound in ci.loc[name]:
            if bound == 0.0:
                continue
            held = fit(data, model="full", fixed={name: bound}, progress=False)
            assert res.llf - held.llf == pytest.approx(1.920729, abs=5e-3), (name, bound)


def test_full_ddm_profile_bounds_in_the_wide_window_corner_are_nan_with_the_reason():
    # 200 trials whose likelihood rises towards a start-point window touching a boundary
    # (docs/fitting.md, The global maximum): refits there stall, and one held at a lower a
    # finds a higher maximum than the default fit. No bound is placed on such refits.
    truth = {"v": 1.0, "a": 1.5, "z": 0.5, "t0": 0.3, "sv": 0.8, "sz": 0.2, "st": 0.15}
    rt, resp = sample_ddm(200, seed=2000, **truth)
    res = fit(pd.DataFrame({"rt": rt, "response": resp}), model="full", progress=False)
    with pytest.warns(FitWarning) as caught:
        ci = res.conf_int(method="profile", cols=["sz", "a"])
    notes = " ".join(str(w.message) for w in caught)
    assert np.isnan(ci.loc["sz", "upper"]) and "start-point window" in notes
    assert np.isnan(ci.loc["a", "lower"]) and "higher log-likelihood" in notes
    assert ci.loc["a", "upper"] > res.params["a"]


def test_global_search_finds_the_wide_window_maximum_of_the_full_ddm():
    # 500 trials where the default search stops at a local maximum (sz 0.64, llf -326.033):
    # sdekit's own coarse profile of sz (fits with sz held at 0, 0.2, ..., 0.9) reaches
    # -325.913, and the global search must do at least as well, with sz free
    rt, resp = sample_ddm(500, seed=2, v=1.0, a=1.5, z=0.5, t0=0.3, sv=0.8, sz=0.2, st=0.15)
    data = pd.DataFrame({"rt": rt, "response": resp})
    local = fit(data, model="full", progress=False)
    wide = fit(data, model="full", search="global", progress=False)
    assert wide.converged
    assert wide.llf >= -325.9135 and wide.llf > local.llf + 0.1
    assert wide.params["sz"] > 0.75
    with pytest.raises(ValueError, match="search must be"):
        fit(data, search="everywhere", progress=False)


def test_results_render_as_html_with_the_summary_numbers():
    import re as _re

    data = pd.concat([simulate(200, seed=90 + s).assign(subj_idx=s) for s in (1, 2)],
                     ignore_index=True)
    fits = fit(data, by="subj_idx", n_jobs=1, progress=False)
    one = fits[1]
    html = one._repr_html_()
    assert html.startswith("<div>") and "<table" in html
    numbers = lambda text: _re.findall(r"-?\d+\.\d{4}", text)  # noqa: E731
    # every 4-decimal figure of the text summary appears in the HTML, in the same order
    assert numbers(one.summary()) == numbers(html)
    table = fits._repr_html_()
    for key in (1, 2):
        assert f"{fits[key].params['v']:.3f} ({fits[key].bse['v']:.3f})" in table
    assert "subj_idx" in table
    # text from the data is escaped, not interpreted
    fits[2].messages.append("<script>")
    assert "<script>" not in fits[2]._repr_html_() and "&lt;script&gt;" in fits[2]._repr_html_()


@pytest.mark.parametrize("name, seed", [("sv", 3), ("st", 0)])
def test_a_variability_at_zero_is_a_maximum_at_a_bound(name, seed):
    # Data without that variability: about half of such data sets put its maximum at 0, the
    # edge of the parameter space. That is a maximum (the others' gradient vanishes and the
    # likelihood falls into the range), reported as one, not as a failure to converge.
    rt, resp = sample_ddm(300, v=1.0, a=1.5, z=0.5, t0=0.3, seed=seed)
    other = {"sv": "st", "st": "sv"}[name]
    with pytest.warns(FitWarning, match=f"{name} at 0, the edge of its range"):
        res = fit(pd.DataFrame({"rt": rt, "response": resp}), model="full",
                  free=["v", "a", "z", "t0", name], fixed={"sz": 0.0, other: 0.0},
                  progress=False)
    assert res.converged and res.at_bound == {name: 0.0}
    assert res.params[name] == 0.0 and np.isnan(res.bse[name])
    assert np.all(np.isfinite(res.bse.drop(name)))
    assert f"at a bound (a constrained maximum, no Wald interval): {name} = 0" in res.summary()
    lo, hi = res.conf_int(method="profile", cols=[name]).loc[name]
    assert lo == 0.0 and 0.0 < hi < 1.0


def test_a_variability_at_the_edge_of_the_search_is_named():
    from sdekit.ddm.search import box_edge_messages

    rt, resp = sample_ddm(300, v=1.0, a=1.5, z=0.5, t0=0.3, st=0.2, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(pd.DataFrame({"rt": rt, "response": resp}), model="full",
                  free=["v", "a", "z", "t0", "st"], fixed={"sz": 0.0, "sv": 0.0},
                  progress=False)
    prob, theta = res._prob, res.params.to_numpy().copy()
    assert box_edge_messages(prob, theta) == []
    theta[list(res.params.index).index("st")] = 2.0  # the box's upper edge for st
    (message,) = box_edge_messages(prob, theta)
    assert message.startswith("st = 2 is the upper edge of the search")
    assert "fixed={'st': ...}" in message

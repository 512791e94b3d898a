"""Fast outliers: one implausible RT is flagged, its effect on t0 said, and both remedies work."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from sdekit import ddm
from sdekit.ddm.data import exclude_fast, fast_outliers
from sdekit.ddm.fitting import FitWarning, fit

TRUTH = {"v": 1.0, "a": 1.5, "z": 0.5, "t0": 0.3}
FAST_POSITION = 57  # data row of the 5 ms trial; line 59 of the CSV (header on line 1)


@pytest.fixture(scope="module")
def fast_csv(tmp_path_factory):
    df = ddm.DDM(**TRUTH).rvs(size=400, seed=3)
    df.loc[FAST_POSITION, "rt"] = 0.005
    path = tmp_path_factory.mktemp("fast") / "fast.csv"
    df.to_csv(path, index=False)
    return path


def test_the_rule_flags_the_5_ms_trial_and_a_trial_far_below_the_bulk():
    df = ddm.DDM(v=1.0, a=1.5, t0=0.8).rvs(size=500, seed=1)
    assert len(fast_outliers(ddm.from_dataframe(df))) == 0  # clean data: nothing flagged
    df.loc[10, "rt"] = 0.005
    df.loc[20, "rt"] = 0.2  # above 0.1 s, but a fifth of the fastest clean RT
    flagged = fast_outliers(ddm.from_dataframe(df))
    assert list(flagged.index) == [10, 20]
    assert flagged.loc[10, "reason"] == "below 0.1 s"
    assert "far below the bulk" in flagged.loc[20, "reason"]


def test_clean_full_ddm_data_flag_nothing():
    # the fence sits near a sixth of the median: wide RT distributions stay inside it
    df = ddm.DDM(v=0.5, a=2.0, t0=0.2, sv=1.0, st=0.2).rvs(size=4000, seed=2)
    assert len(fast_outliers(ddm.from_dataframe(df))) == 0


def test_a_fit_without_contaminants_warns_naming_the_row(fast_csv):
    with pytest.warns(FitWarning) as caught:
        res = fit(fast_csv, progress=False)
    texts = [str(w.message) for w in caught]
    before = next(t for t in texts if "faster than a plausible non-decision time" in t)
    assert "1 RT" in before and "line 59 (0.005 s)" in before and "caps t0" in before
    after = next(t for t in texts if "t0 sits at 0" in t)
    assert "--p-outlier free" in after and "--min-rt 0.1" in after
    assert list(res.fast_trials["row"]) == [59]


def test_the_plain_fit_is_a_constrained_maximum_not_a_failed_search(fast_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        res = fit(fast_csv, progress=False)
    assert res.converged
    assert res.at_bound == {"t0": 0.0} and res.params["t0"] == 0.0
    assert not any("without converging" in m or "iteration limit" in m for m in res.messages)
    text = res.summary()
    assert "converged: yes" in text and "constrained maximum" in text
    assert "fast RTs" in text and "line 59" in text
    # a constrained maximum: the other parameters' gradient vanishes, t0's points outward
    prob = res._prob
    f, g = prob.nll_grad_theta(res.params.to_numpy())
    assert np.max(np.abs(g[:3])) / res.nobs < 1e-5 and g[3] > 0
    # no interior point along t0 does better (t0 = 1 ms, the others refitted from the estimate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        moved = fit(fast_csv, fixed={"t0": 0.001}, progress=False)
    assert moved.llf < res.llf
    # t0's Wald interval does not exist there; its profile interval starts at the bound
    assert np.isnan(res.bse["t0"])
    ci = res.conf_int(method="profile", cols=["t0"])
    assert ci.loc["t0", "lower"] == 0.0 and 0 < ci.loc["t0", "upper"] < 0.005


def _recovers_truth(res):
    for name, value in TRUTH.items():
        assert abs(res.params[name] - value) < 4 * res.bse[name], (name, res.params[name])


def test_min_rt_excludes_the_trial_records_it_and_recovers_the_truth(fast_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)  # nothing left to warn about
        res = fit(fast_csv, min_rt=0.1, progress=False)
    assert res.nobs == 399 and res.converged and not res.at_bound
    note = "excluded 1 trial with RT below min_rt = 0.1 s (line 59 (0.005 s))"
    assert note in res.assumptions and note in res.summary()
    _recovers_truth(res)


def test_a_free_contaminant_absorbs_the_trial_and_recovers_the_truth(fast_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        res = fit(fast_csv, p_outlier="free", progress=False)
    assert res.converged and not res.at_bound and len(res.fast_trials) == 1
    _recovers_truth(res)


def test_per_subject_fits_name_the_subject_and_its_row():
    df = ddm.DDM(**TRUTH).rvs(size=400, seed=4)
    df["subj_idx"] = np.repeat([1, 2], 200)
    df.loc[250, "rt"] = 0.005
    with pytest.warns(FitWarning, match=r"subj_idx 2: 1 RT faster .* row with index 250"):
        res = fit(df, by="subj_idx", progress=False)
    assert len(res[1].fast_trials) == 0 and list(res[2].fast_trials["row"]) == [250]
    assert "at a bound (constrained maxima): 2 (t0)" in res.summary()


def test_min_rt_is_checked_and_exclusion_keeps_the_record():
    df = ddm.from_dataframe(ddm.DDM(**TRUTH).rvs(size=100, seed=5))
    for bad in (0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="min_rt must be a positive number"):
            exclude_fast(df, bad)
    with pytest.raises(ValueError, match="min_rt must be a number of seconds"):
        fit(df, min_rt="fast", progress=False)
    kept = exclude_fast(df, 0.05)
    assert len(kept) == 100
    assert kept.attrs["sdekit"]["assumptions"][-1].startswith("min_rt = 0.05 s: no trial")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "sdekit.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_flags_the_row_and_offers_min_rt(fast_csv):
    plain = _cli("fit", str(fast_csv), "--no-progress")
    assert plain.returncode == 0, plain.stderr
    assert "sdekit: FitWarning: pooled data: 1 RT faster" in plain.stderr
    assert "line 59 (0.005 s)" in plain.stderr and "--min-rt 0.1" in plain.stderr
    assert "constrained maximum" in plain.stdout
    cut = _cli("fit", str(fast_csv), "--no-progress", "--min-rt", "0.1")
    assert cut.returncode == 0, cut.stderr
    assert "excluded 1 trial with RT below min_rt = 0.1 s (line 59" in cut.stdout
    assert "FitWarning" not in cut.stderr
    bad = _cli("fit", str(fast_csv), "--min-rt", "-1")
    assert bad.returncode == 2 and "--min-rt" in bad.stderr and "positive" in bad.stderr


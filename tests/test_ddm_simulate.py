"""DDM trials simulated on the engine against the exact sampler, and the simulate-ddm CLI."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sdekit.cli import main
from sdekit.ddm.sampling import sample_ddm
from sdekit.ddm.simulate import simulate_ddm_euler, simulate_sde
from sdekit.sde import Boundaries, DriftDiffusion


@pytest.mark.parametrize(
    "params",
    [dict(v=1.0, a=1.5, z=0.5, t0=0.3), dict(v=-0.5, a=2.0, z=0.3, t0=0.2, sv=0.8, sz=0.2,
                                              st=0.1)],
)
def test_engine_simulation_matches_exact_sampler(params):
    n = 60_000
    engine = simulate_ddm_euler(n, dt=1e-3, seed=1, **params)
    rt, response = sample_ddm(n, seed=2, **params)
    assert engine.attrs["undecided"] == 0
    p_engine, p_exact = engine["response"].mean(), response.mean()
    se = np.sqrt(p_exact * (1 - p_exact) * 2 / n)
    assert abs(p_engine - p_exact) < 5 * se
    for r in (0, 1):
        a = engine.loc[engine["response"] == r, "rt"].to_numpy()
        b = rt[response == r]
        # two independent samples of one law: the KS test must not reject at the 1e-3 level
        assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_collapsing_bounds_are_faster_than_fixed():
    import numba as nb

    @nb.njit
    def upper(t, q):
        return q[0] * np.exp(-t / q[1])

    @nb.njit
    def lower(t, q):
        return -q[0] * np.exp(-t / q[1])

    fixed = simulate_sde(DriftDiffusion(v=0.5), Boundaries(0.75, -0.75), 0.0, 5000, seed=3)
    collapsing = simulate_sde(DriftDiffusion(v=0.5), Boundaries(upper, lower, params=[0.75, 1.0]),
                              0.0, 5000, seed=3)
    assert collapsing["rt"].mean() < fixed["rt"].mean()
    assert set(collapsing["response"]) == {0, 1}


def test_undecided_trials_are_marked():
    frame = simulate_sde(DriftDiffusion(v=0.0), Boundaries(5.0, -5.0), 0.0, 200, t_max=0.05,
                         seed=4)
    assert frame.attrs["undecided"] == 200
    assert frame["rt"].isna().all() and (frame["response"] == -1).all()


def test_cli_simulate_ddm_writes_what_fitting_reads(tmp_path):
    out = tmp_path / "trials.csv"
    assert main(["simulate", "ddm", "--v", "1", "--a", "1.5", "--t0", "0.3", "-n", "500",
                 "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["subj_idx", "rt", "response"]
    assert len(df) == 500 and df["rt"].min() > 0.3 and set(df["response"]) <= {0, 1}


def test_cli_simulate_ddm_bad_parameter(tmp_path, capsys):
    out = tmp_path / "trials.csv"
    assert main(["simulate", "ddm", "--v", "1", "--a", "1.5", "--z", "1.5", "-o", str(out)]) == 2
    assert "z must be" in capsys.readouterr().err
    assert not out.exists()

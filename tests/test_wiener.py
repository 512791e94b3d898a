import numpy as np
import pandas as pd
import pytest

import sdekit as sk
from sdekit.cli import main


def test_wiener_moments_and_shapes():
    W = sk.WienerProcess(dim=2, D=[0.5, 2.0], corr=[[1.0, -0.4], [-0.4, 1.0]])
    times = np.array([0.0, 0.3, 1.0, 2.5])
    n = 50_000
    paths = W.sample(times, n_paths=n, seed=0, x0=[1.0, -1.0])
    assert paths.shape == (n, 4, 2)
    np.testing.assert_array_equal(paths[:, 0], np.tile([1.0, -1.0], (n, 1)))
    for k, t in enumerate(times[1:], start=1):
        inc = paths[:, k] - paths[:, 0]
        cov = W.covariance(t)
        assert np.all(np.abs(inc.mean(0)) < 5 * np.sqrt(np.diag(cov) / n))
        se = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)
        assert np.all(np.abs(np.cov(inc.T) - cov) < 5 * se)
    # independent increments
    d1 = paths[:, 1, 0] - paths[:, 0, 0]
    d2 = paths[:, 3, 0] - paths[:, 2, 0]
    assert abs(np.corrcoef(d1, d2)[0, 1]) < 5 / np.sqrt(n)


def test_wiener_is_reproducible_from_seed():
    W = sk.WienerProcess(dim=3)
    a = W.sample(np.linspace(0, 1, 5), n_paths=10, seed=42)
    b = W.sample(np.linspace(0, 1, 5), n_paths=10, seed=42)
    np.testing.assert_array_equal(a, b)


def test_bridge_endpoints_and_variance():
    W = sk.WienerProcess(dim=1, D=2.0)
    times = np.linspace(0, 1, 5)
    n = 40_000
    b = W.bridge(times, end=3.0, n_paths=n, seed=1)
    np.testing.assert_allclose(b[:, 0, 0], 0.0)
    np.testing.assert_allclose(b[:, -1, 0], 3.0)
    mid = b[:, 2, 0]  # t = 0.5: mean 1.5, variance D t (1 - t) = 0.5
    assert abs(mid.mean() - 1.5) < 5 * np.sqrt(0.5 / n)
    assert abs(mid.var() - 0.5) < 5 * 0.5 * np.sqrt(2 / n)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(dim=0), "dim"), (dict(D=-1.0), "D must"), (dict(dim=2, corr=[[1, 2], [2, 1]]),
                                                      "positive definite")],
)
def test_bad_wiener_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sk.WienerProcess(**kwargs)


def test_cli_simulate_wiener_csv(tmp_path, capsys):
    out = tmp_path / "paths.csv"
    assert main(["simulate", "wiener", "--dim", "2", "--paths", "3", "--steps", "4",
                 "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["path", "time", "x0", "x1"]
    assert len(df) == 15


def test_cli_simulate_wiener_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "paths.parquet"
    assert main(["simulate", "wiener", "--paths", "2", "--steps", "3", "-o", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 8


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dim", "2", "--D", "1,2,3"], "--D has 3 values"),
        (["--corr", "0.5"], "--dim 2"),
        (["-o", "paths.txt"], "must end in .csv or .parquet"),
        (["-o", "missing-folder/paths.csv"], "does not exist"),
    ],
)
def test_cli_bad_input_exits_2_without_output(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "wiener", *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_rejects_bad_numbers(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "wiener", "--paths", "-3"])
    assert exc.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_cli_simulate_sde(tmp_path):
    out = tmp_path / "ou.csv"
    assert main(["simulate", "sde", "--model", "ou", "--param", "theta=2", "--x0", "1",
                 "--dt", "0.01", "--saves", "4", "--paths", "3", "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["path", "time", "x"] and len(df) == 15


def test_cli_simulate_sde_unknown_parameter(tmp_path, capsys):
    out = tmp_path / "ou.csv"
    assert main(["simulate", "sde", "--model", "ou", "--param", "kappa=2", "--dt", "0.1",
                 "-o", str(out)]) == 2
    assert "unknown parameter(s) ['kappa']" in capsys.readouterr().err
    assert not out.exists()

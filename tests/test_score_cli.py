"""The `sample` subcommand, through a parser built the way `sdekit.cli` builds its own."""

import argparse

import numpy as np
import pytest

from sdekit.score.cli import add_cli

pytest.importorskip("torch")


def _run(argv):
    parser = argparse.ArgumentParser(prog="sdekit")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    args.run(args)


def test_train_save_sample_and_reload(tmp_path, capsys):
    out = tmp_path / "s.csv"
    model = tmp_path / "m.pt"
    _run(["sample", "--toy", "ring", "--train-steps", "30", "--train-size", "500", "--n", "40",
          "--steps", "5", "--out", str(out), "--save-model", str(model), "--quiet"])
    x = np.loadtxt(out, delimiter=",", skiprows=1)
    assert x.shape == (40, 2) and out.read_text().startswith("x0,x1")
    npy = tmp_path / "again.npy"
    _run(["sample", "--model", str(model), "--n", "40", "--steps", "5", "--out", str(npy)])
    np.testing.assert_allclose(np.load(npy), x, rtol=1e-7)
    assert "wrote 40 samples" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.part*"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--toy", "ring", "--out", "samples.txt"], "must end in .csv or .npy"),
        (["--toy", "ring", "--out", "missing/samples.csv"], "does not exist"),
        (["--model", "NOFILE.pt", "--out", "s.csv"], "no such file"),
        (["--model", "text.pt", "--out", "s.csv"], "not a saved sdekit score model"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(SystemExit) as info:
        _run(["sample", *extra])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()

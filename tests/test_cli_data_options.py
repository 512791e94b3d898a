"""``sdekit fit`` on files not in HDDM's layout: column options, recognised subject columns, and
fixes phrased as the command's flags."""

import numpy as np
import pandas as pd
import pytest

from sdekit import ddm
from sdekit.cli import main


def run(args, capsys):
    code = main(["fit", *args, "--no-progress", "--jobs", "1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def hssm_file(tmp_path, subject="participant_id", n=120):
    """Two subjects, responses coded -1/1, as HSSM writes them."""
    parts = []
    for s in (1, 2):
        d = ddm.DDM(v=1.0, a=1.5, z=0.5, t0=0.3).rvs(n, seed=s)
        parts.append(d.assign(**{subject: s}))
    df = pd.concat(parts, ignore_index=True)
    df["response"] = 2 * df["response"] - 1
    path = tmp_path / "hssm.csv"
    df[[subject, "rt", "response"]].to_csv(path, index=False)
    return path


def test_recognised_subject_column_fitted_by_its_own_name(tmp_path, capsys):
    src = hssm_file(tmp_path)
    out = tmp_path / "fits.csv"
    code, stdout, _ = run([str(src), "--by", "participant_id", "-o", str(out)], capsys)
    assert code == 0
    assert "assumed: subjects from column 'participant_id', recognised by its name" in stdout
    assert "coded -1/1 (HSSM)" in stdout
    table = pd.read_csv(out)
    assert set(table.subj_idx) == {1, 2} and set(table.parameter) == {"v", "a", "z", "t0"}


def test_subject_named_by_flag_and_by_its_own_name(tmp_path, capsys):
    src = hssm_file(tmp_path, subject="sub")
    code, _, stderr = run([str(src), "--by", "sub"], capsys)
    assert code == 2 and "Column 'sub' looks like a subject identifier: pass --subject sub, or " \
                         "--one-subject for one subject" in stderr
    out = tmp_path / "fits.csv"
    code, stdout, _ = run([str(src), "--subject", "sub", "--by", "sub", "-o", str(out)], capsys)
    assert code == 0 and "subjects from column" not in stdout
    assert set(pd.read_csv(out).subj_idx) == {1, 2}


def test_accuracy_coded_file_with_other_names(tmp_path, capsys):
    d = ddm.DDM(v=1.0, a=1.5, z=0.5, t0=0.3).rvs(200, seed=3)
    stim = np.random.default_rng(3).integers(0, 2, len(d))
    raw = pd.DataFrame({"sub": 7, "RT_ms": (d["rt"] * 1000).round(1), "stim": stim,
                        "acc": (d["response"].to_numpy() == stim).astype(int)})
    src = tmp_path / "acc.csv"
    raw.to_csv(src, index=False, sep=";")
    code, stdout, stderr = run([str(src), "--sep", ";", "--rt", "RT_ms", "--subject", "sub",
                                "--correct", "acc", "--stimulus", "stim", "--fix", "z=0.5"],
                               capsys)
    assert code == 0, stderr
    assert "stimulus coding with stimulus column 'stim'" in stdout
    assert "rt in milliseconds detected" in stdout
    # The fit sees the choices rebuilt from accuracy and stimulus: v near its true value.
    v = float(stdout.split("\nv ")[1].split()[0])
    assert 0.5 < v < 1.6


@pytest.mark.parametrize("extra, message", [
    ([], "Pass --subject subject (or the one of them that identifies subjects), or "
         "--one-subject for one subject"),
    (["--rt", "RT"], "column 'RT': not found"),
    (["--rt", "rts"], "Did you mean 'rt'? Pass --rt rt"),
    (["--subject", "subj", "--correct", "acc"], "Pass --correct COLUMN"),
    (["--subject", "subj", "--response", "rt"], "--correct COLUMN (and --stimulus COLUMN"),
    (["--one-subject", "--subject", "id"], "leave out --subject"),
    (["--stimulus", "subject"], "--stimulus is used with --correct"),
])
def test_cli_data_errors_name_flags(tmp_path, capsys, extra, message):
    src = hssm_file(tmp_path, subject="subject")
    raw = pd.read_csv(src).assign(subj=lambda d: d["subject"])
    raw.to_csv(src, index=False)
    out = tmp_path / "fits.csv"
    code, stdout, stderr = run([str(src), "-o", str(out), *extra], capsys)
    assert code == 2
    assert stderr.startswith("sdekit: error:") and message in stderr
    assert "subject=" not in stderr and "df[" not in stderr and "from_dataframe" not in stderr
    assert not out.exists()


def test_cli_missing_codes_and_units_name_flags(tmp_path, capsys):
    d = ddm.DDM(v=1.0, a=1.5, z=0.5, t0=0.3).rvs(100, seed=5)
    d.loc[[3, 9, 20], "rt"] = 999
    src = tmp_path / "codes.csv"
    d.to_csv(src, index=False)
    code, _, stderr = run([str(src)], capsys)
    assert code == 2 and "pass --missing-codes none" in stderr
    d.loc[[3, 9, 20], "rt"] = 0.5
    d.assign(rt=d["rt"] * 40).to_csv(src, index=False)
    code, _, stderr = run([str(src)], capsys)
    assert code == 2 and "Pass --rt-unit s or --rt-unit ms" in stderr
    d.assign(rt=d["rt"] * 1000).to_csv(src, index=False)
    code, stdout, _ = run([str(src), "--rt-unit", "ms", "--one-subject"], capsys)
    assert code == 0 and "rt in milliseconds, divided by 1000 (rt_unit given)" in stdout


def test_help_lists_the_column_options(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = capsys.readouterr().out
    for flag in ("--rt COLUMN", "--response COLUMN", "--subject COLUMN", "--correct COLUMN",
                 "--stimulus COLUMN", "--rt-unit", "--one-subject", "participant_id"):
        assert flag in text


def test_a_reader_that_leaves_early_is_not_an_error():
    # `sdekit simulate ... | head`: the pipe closes while sdekit still writes.
    import subprocess
    import sys

    cmd = [sys.executable, "-c", "import sys; from sdekit.cli import main; sys.exit(main())",
           "simulate", "ddm", "--v", "1", "--a", "1.5", "-n", "20"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader leaves before sdekit writes (it is still importing)
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_pooling_several_subjects_is_said(tmp_path, capsys):
    src = hssm_file(tmp_path, n=60)
    code, stdout, _ = run([str(src)], capsys)
    assert code == 0
    assert "note: the 2 subjects' trials are pooled into one fit; --by subj_idx" in stdout
    code, stdout, _ = run([str(src), "--by", "participant_id"], capsys)
    assert code == 0 and "pooled" not in stdout

"""Reading and validating behavioural data; the bundled example data set."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from sdekit.ddm.data import (
    DataError,
    DataWarning,
    check_rts_against_t0,
    describe,
    from_dataframe,
    read_csv,
)
from sdekit.ddm.example import load_example, make_example


def trials(n_subjects=2, n=20, seed=0, conditions=True):
    """A clean HDDM-layout data set: both responses in every subject x condition cell."""
    rng = np.random.default_rng(seed)
    size = n_subjects * n
    df = pd.DataFrame({
        "subj_idx": np.repeat(np.arange(n_subjects), n),
        "rt": rng.uniform(0.35, 1.8, size).round(4),
        "response": np.tile([1, 0, 1, 1], size // 4 + 1)[:size],
    })
    if conditions:
        df["stim"] = np.tile(["easy", "easy", "hard", "hard"], size // 4 + 1)[:size]
        df["response"] = np.tile([1, 0, 0, 1], size // 4 + 1)[:size]
    return df


def write(tmp_path, df, name="exp.csv", **kwargs):
    path = tmp_path / name
    df.to_csv(path, index=False, **kwargs)
    return path


def error_of(path, **kwargs):
    with pytest.raises(DataError) as info:
        read_csv(path, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# Layouts.


def test_hddm_layout(tmp_path):
    raw = trials()
    df = read_csv(write(tmp_path, raw), conditions=["stim"])
    assert list(df.columns) == ["rt", "response", "subj_idx", "stim"]
    assert df["rt"].dtype == np.float64 and df["response"].dtype == np.int64
    np.testing.assert_array_equal(df["rt"], raw["rt"])
    np.testing.assert_array_equal(df["response"], raw["response"])
    rec = df.attrs["sdekit"]
    assert rec["source"].endswith("exp.csv")
    assert rec["n_trials"] == 40 and rec["n_subjects"] == 2 and rec["conditions"] == ["stim"]
    assert any("1/0 (HDDM)" in a for a in rec["assumptions"])
    assert any("seconds detected" in a for a in rec["assumptions"])
    assert rec["warnings"] == []
    json.dumps(df.attrs)  # survives Parquet and JSON writers
    assert "exp.csv" in describe(df)


def test_hssm_coding(tmp_path):
    raw = trials()
    raw["response"] = 2 * raw["response"] - 1
    df = read_csv(write(tmp_path, raw))
    np.testing.assert_array_equal(df["response"], (raw["response"] == 1).astype(int))
    assert any("-1/1 (HSSM)" in a and "-1 mapped to 0" in a
               for a in df.attrs["sdekit"]["assumptions"])


def test_stimulus_coding(tmp_path):
    raw = trials().drop(columns="response")
    raw["stimulus"] = np.tile([1, 0, 0, 1, 1], 8)
    raw["acc"] = np.tile([1, 1, 0, 0, 1, 1, 1], 6)[:40]
    df = read_csv(write(tmp_path, raw), correct="acc", stimulus="stimulus")
    expected = np.where(raw["acc"] == 1, raw["stimulus"], 1 - raw["stimulus"])
    np.testing.assert_array_equal(df["response"], expected)
    assert {"acc", "stimulus", "stim"} <= set(df.columns)
    assert any("stimulus coding with stimulus column 'stimulus'" in a
               for a in df.attrs["sdekit"]["assumptions"])
    # -1/1 stimulus codes mean the same.
    raw["stimulus"] = 2 * raw["stimulus"] - 1
    df2 = read_csv(write(tmp_path, raw, "pm.csv"), correct="acc", stimulus="stimulus")
    np.testing.assert_array_equal(df2["response"], expected)


def test_accuracy_coding(tmp_path):
    raw = trials().rename(columns={"response": "correct"})
    df = read_csv(write(tmp_path, raw), correct="correct")
    np.testing.assert_array_equal(df["response"], raw["correct"])
    assert any("accuracy coding" in a and "upper boundary = correct" in a
               for a in df.attrs["sdekit"]["assumptions"])


def test_milliseconds_detected_and_stated(tmp_path):
    raw = trials()
    raw["rt"] = (raw["rt"] * 1000).round()
    df = read_csv(write(tmp_path, raw))
    np.testing.assert_allclose(df["rt"], raw["rt"] / 1000)
    note = [a for a in df.attrs["sdekit"]["assumptions"] if "milliseconds detected" in a]
    assert note and f"(max {raw['rt'].max():g})" in note[0] and "divided by 1000" in note[0]
    assert df.attrs["sdekit"]["rt_unit"] == "ms"


def test_rt_unit_explicit(tmp_path):
    raw = trials()
    df = read_csv(write(tmp_path, raw), rt_unit="s")
    np.testing.assert_array_equal(df["rt"], raw["rt"])
    raw["rt"] = raw["rt"] * 1000
    df = read_csv(write(tmp_path, raw), rt_unit="ms")
    np.testing.assert_allclose(df["rt"], raw["rt"] / 1000)
    assert any("rt_unit given" in a for a in df.attrs["sdekit"]["assumptions"])
    with pytest.warns(DataWarning, match="milliseconds"):
        read_csv(write(tmp_path, raw), rt_unit="s")


def test_ambiguous_unit_refused(tmp_path):
    raw = trials()
    raw["rt"] = raw["rt"] * 40  # median about 40: neither seconds nor milliseconds
    msg = error_of(write(tmp_path, raw))
    assert "exp.csv" in msg and "'rt'" in msg and "rt_unit='ms'" in msg


def test_other_column_names(tmp_path):
    raw = trials().rename(columns={"rt": "RT_ms", "response": "choice",
                                   "subj_idx": "participant"})
    raw["RT_ms"] = raw["RT_ms"] * 1000
    df = read_csv(write(tmp_path, raw), rt="RT_ms", response="choice", subject="participant")
    assert list(df.columns) == ["rt", "response", "subj_idx", "stim"]
    assert df.attrs["sdekit"]["columns"] == {"rt": "RT_ms", "response": "choice",
                                             "subj_idx": "participant"}


def test_single_subject_without_subject_column(tmp_path):
    raw = trials(n_subjects=1).drop(columns="subj_idx")
    df = read_csv(write(tmp_path, raw))
    assert (df["subj_idx"] == 0).all()
    assert any("subj_idx = 0" in a for a in df.attrs["sdekit"]["assumptions"])
    df = read_csv(write(tmp_path, raw), subject=None)
    assert (df["subj_idx"] == 0).all()


def test_subject_like_column_is_not_pooled_silently(tmp_path):
    raw = trials().rename(columns={"subj_idx": "participant"})
    msg = error_of(write(tmp_path, raw))
    assert "'subj_idx'" in msg and "subject='participant'" in msg and "subject=None" in msg


@pytest.mark.parametrize("name", ["participant_id", "subject", "subj", "id", "Subject"])
def test_recognised_subject_column_is_used_and_stated(tmp_path, name):
    raw = trials().rename(columns={"subj_idx": name})
    df = read_csv(write(tmp_path, raw))
    np.testing.assert_array_equal(df["subj_idx"], raw[name])
    rec = df.attrs["sdekit"]
    assert rec["columns"]["subj_idx"] == name and rec["n_subjects"] == 2
    assert f"subjects from column {name!r}, recognised by its name" in describe(df)
    # Validated again (as the fitter does), the record and the statement stay.
    assert from_dataframe(df).attrs == df.attrs


def test_trial_numbers_are_not_taken_for_subjects(tmp_path):
    raw = trials(n_subjects=1).drop(columns="subj_idx").assign(id=lambda d: np.arange(len(d)))
    msg = error_of(write(tmp_path, raw))
    assert "Column 'id' looks like a subject identifier: pass subject='id'" in msg
    assert (read_csv(write(tmp_path, raw), subject=None)["subj_idx"] == 0).all()


def test_several_subject_columns_are_listed(tmp_path):
    raw = trials().rename(columns={"subj_idx": "participant_id"})
    raw["subject"] = raw["participant_id"]
    msg = error_of(write(tmp_path, raw))
    assert "column 'subj_idx': not found, and 2 columns look like subject identifiers " \
           "('participant_id', 'subject')" in msg
    assert "Pass subject='participant_id' (or the one of them" in msg and "subject=None" in msg
    flags = {"subject": "--subject", "subject=None": "--one-subject"}
    msg = error_of(write(tmp_path, raw), option_names=flags)
    assert "Pass --subject participant_id (or the one of them" in msg
    assert "or --one-subject for one subject" in msg and "subject=" not in msg


def test_option_names_phrase_fixes_for_the_caller(tmp_path):
    flags = {"rt": "--rt", "rt_unit": "--rt-unit", "sep": "--sep", "response": "--response",
             "correct": "--correct", "missing_codes=()": "--missing-codes none"}
    raw = trials().rename(columns={"rt": "RT s"})
    msg = error_of(write(tmp_path, raw), option_names=flags)
    assert "Did you mean 'RT s'? Pass --rt 'RT s'" in msg
    msg = error_of(write(tmp_path, trials(), sep=";"), option_names=flags)
    assert "not commas: pass --sep ';'" in msg
    raw = trials().assign(rt=lambda d: d.rt * 40)
    assert "Pass --rt-unit s or --rt-unit ms" in error_of(write(tmp_path, raw),
                                                           option_names=flags)
    raw = trials()
    raw.loc[[2, 3], "rt"] = 999
    raw.loc[4, "response"] = 7
    raw.loc[5, "subj_idx"] = np.nan
    msg = error_of(write(tmp_path, raw), option_names=flags)
    assert "if they are real RTs pass --missing-codes none" in msg
    assert "for accuracy-coded data pass --correct COLUMN (and stimulus='<column>'" in msg
    assert "column 'subj_idx', line 7: missing value(s). Remove or fill in these rows in the " \
           "file" in msg
    assert "df[" not in msg and "dropna" not in msg and "from_dataframe" not in msg
    # The same problems spelt for Python.
    msg = error_of(write(tmp_path, raw))
    assert "pass missing_codes=()" in msg and "pass correct='<column>'" in msg
    assert "dropna(subset=['subj_idx'])" in msg


def test_existing_column_named_like_output_is_kept(tmp_path):
    raw = trials().rename(columns={"response": "choice"})
    raw["response"] = "free text"
    with pytest.warns(DataWarning, match="response_orig"):
        df = read_csv(write(tmp_path, raw), response="choice")
    assert (df["response_orig"] == "free text").all()


def test_from_dataframe_names_index_and_keeps_input(tmp_path):
    raw = trials()
    raw.index = raw.index + 100
    before = raw.copy()
    df = from_dataframe(raw, conditions="stim")
    pd.testing.assert_frame_equal(raw, before)
    assert df.index.equals(raw.index)
    raw.loc[[103, 110], "rt"] = -0.5
    with pytest.raises(DataError, match=r"column 'rt', rows with index 103, 110"):
        from_dataframe(raw)
    with pytest.raises(DataError, match=r"^my data"):
        from_dataframe(raw, source="my data")


def test_canonical_data_validated_again_keeps_record(tmp_path):
    raw = trials()
    raw["rt"] = raw["rt"] * 1000
    df = read_csv(write(tmp_path, raw))
    again = from_dataframe(df)
    pd.testing.assert_frame_equal(again, df)
    assert again.attrs == df.attrs and again.attrs["sdekit"]["rt_unit"] == "ms"
    # Rows are still named by their line in the file after filtering.
    sub = df[df.subj_idx == 1].copy()
    sub.loc[25, "rt"] = -0.5
    with pytest.raises(DataError, match=r"exp.csv: column 'rt', line 27:"):
        from_dataframe(sub)


# --------------------------------------------------------------------------------------------
# Bad inputs: each names the file, the line(s) and the column, and says how to fix it.


def test_missing_file(tmp_path):
    write(tmp_path, trials(), "experiment.csv")
    msg = error_of(tmp_path / "experimnet.csv")
    assert "experimnet.csv" in msg and "not found" in msg and "'experiment.csv'" in msg


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    msg = error_of(tmp_path / "empty.csv")
    assert "empty.csv" in msg and "empty" in msg
    (tmp_path / "header.csv").write_text("rt,response,subj_idx\n")
    msg = error_of(tmp_path / "header.csv")
    assert "header.csv" in msg and "no rows" in msg
    with pytest.raises(DataError, match="no rows"):
        from_dataframe(pd.DataFrame(columns=["rt", "response"]))


def test_unreadable_files(tmp_path):
    (tmp_path / "ragged.csv").write_text("rt,response,subj_idx\n0.5,1,0\n0.6,0,0\n0.7,1,0,5\n")
    msg = error_of(tmp_path / "ragged.csv")
    assert "ragged.csv" in msg and "line 4" in msg and "sep=" in msg
    (tmp_path / "latin.csv").write_bytes(b"rt,response,subj_idx,name\n0.5,1,0,a\n0.6,1,0,J\xf6rg\n")
    msg = error_of(tmp_path / "latin.csv")
    assert "latin.csv" in msg and "line 3" in msg and "encoding='latin-1'" in msg
    msg = error_of(tmp_path)
    assert "directory" in msg


def test_misspelt_column(tmp_path):
    raw = trials().rename(columns={"rt": "rts", "response": "Response"})
    msg = error_of(write(tmp_path, raw))
    assert "exp.csv" in msg
    assert "column 'rt'" in msg and "Did you mean 'rts'? Pass rt='rts'" in msg
    assert "column 'response'" in msg and "Did you mean 'Response'?" in msg
    assert "available: 'subj_idx', 'rts', 'Response', 'stim'" in msg
    msg = error_of(write(tmp_path, trials()), conditions=["stimulus"])
    assert "column 'stimulus'" in msg and "Did you mean 'stim'?" in msg


def test_wrong_separator_hint(tmp_path):
    path = write(tmp_path, trials(), sep=";")
    msg = error_of(path)
    assert "sep=';'" in msg


def test_non_numeric_rt(tmp_path):
    raw = trials().astype({"rt": object})
    raw.loc[[2, 6], "rt"] = "abc"
    raw.loc[9, "rt"] = "?"
    msg = error_of(write(tmp_path, raw))
    # Data row i is on line i + 2 (the header is line 1).
    assert "exp.csv" in msg and "column 'rt'" in msg and "lines 4, 8, 11" in msg
    assert "not a number" in msg and "'abc'" in msg and "na_values" in msg


@pytest.mark.parametrize("value,word", [(-0.4, "negative"), (0.0, "zero")])
def test_non_positive_rt(tmp_path, value, word):
    raw = trials()
    raw.loc[[0, 5], "rt"] = value
    msg = error_of(write(tmp_path, raw))
    assert "exp.csv" in msg and "column 'rt'" in msg and "lines 2, 7" in msg
    assert word in msg and "positive" in msg


def test_nan_and_inf_in_used_columns(tmp_path):
    raw = trials().astype({"response": float})
    raw.loc[3, "rt"] = np.nan
    raw.loc[4, "rt"] = np.inf
    raw.loc[7, "response"] = np.nan
    raw.loc[8, "subj_idx"] = np.nan
    raw.loc[12, "stim"] = np.nan
    raw["unused"] = np.nan  # columns the model does not use may hold anything
    msg = error_of(write(tmp_path, raw), conditions=["stim"])
    assert "exp.csv" in msg
    assert re.search(r"column 'rt', lines 5, 6: missing \(NaN\) and infinite", msg)
    assert "column 'response', line 9: missing" in msg
    assert "column 'subj_idx', line 10: missing" in msg
    assert "column 'stim', line 14: missing" in msg


def test_unknown_response_codes(tmp_path):
    raw = trials()
    raw.loc[[1, 2], "response"] = 2
    raw.loc[30, "response"] = 9
    msg = error_of(write(tmp_path, raw))
    assert "exp.csv" in msg and "column 'response'" in msg and "lines 3, 4, 32" in msg
    assert "unknown response code(s) 2 (2 rows), 9 (1 row)" in msg and "correct=" in msg


def test_mixed_lower_codes(tmp_path):
    raw = trials()
    raw.loc[[1], "response"] = -1
    msg = error_of(write(tmp_path, raw))
    assert "column 'response', line 3" in msg and "mix 0 and -1" in msg


def test_bad_accuracy_and_stimulus_codes(tmp_path):
    raw = trials().rename(columns={"response": "correct"})
    raw["side"] = "left"
    raw.loc[0, "correct"] = 3
    msg = error_of(write(tmp_path, raw), correct="correct", stimulus="side")
    assert "column 'correct', line 2" in msg
    assert "column 'side', lines 2, 3, 4, 5, 6 and 35 more" in msg and "map(" in msg


def test_too_few_trials(tmp_path):
    raw = pd.concat([trials(), trials(n_subjects=1, n=4).assign(subj_idx=7)], ignore_index=True)
    msg = error_of(write(tmp_path, raw), min_trials=10)
    assert "exp.csv" in msg and "subject 7 has 4 trial(s)" in msg and "min_trials=10" in msg
    assert "lines 42, 43, 44, 45" in msg and "column 'subj_idx'" in msg
    read_csv(write(tmp_path, raw), min_trials=4)
    # Per subject x condition cell when conditions are given.
    raw = trials()
    raw.loc[raw.index[(raw.subj_idx == 1) & (raw.stim == "hard")][2:], "stim"] = "easy"
    msg = error_of(write(tmp_path, raw), conditions=["stim"], min_trials=5)
    assert "subject 1, stim='hard' has 2 trial(s)" in msg and "column 'stim'" in msg


def test_condition_with_one_response(tmp_path):
    raw = trials()
    cell = (raw.subj_idx == 0) & (raw.stim == "hard")
    raw.loc[cell, "response"] = 1
    path = write(tmp_path, raw)
    with pytest.warns(DataWarning, match="subject 0, stim='hard' has only upper"):
        df = read_csv(path, conditions=["stim"])
    assert any("only upper (1) responses" in w for w in df.attrs["sdekit"]["warnings"])
    msg = error_of(path, conditions=["stim"], require_both_responses=True)
    lines = ", ".join(str(i + 2) for i in np.flatnonzero(cell)[:5])
    assert "exp.csv" in msg and "column 'response'" in msg and lines in msg and "and 5 more" in msg


def test_missing_codes_in_seconds(tmp_path):
    raw = trials()
    raw.loc[[3, 4], "rt"] = 999
    raw.loc[20, "rt"] = -999
    raw.loc[21, "rt"] = -1
    msg = error_of(write(tmp_path, raw))
    assert "exp.csv" in msg and "column 'rt'" in msg and "lines 5, 6, 22, 23" in msg
    assert "-999, -1, 999 look like missing-data codes" in msg and "missing_codes=()" in msg
    assert "negative" not in msg  # reported as codes, not as bad RTs
    # Not silently taken as milliseconds because of the codes.
    raw.loc[[3, 4, 20, 21], "rt"] = 0.5
    assert read_csv(write(tmp_path, raw)).attrs["sdekit"]["rt_unit"] == "s"


def test_missing_codes_in_milliseconds(tmp_path):
    raw = trials(n=200)
    raw["rt"] = (raw["rt"] * 1000).round()
    # One trial of 999 ms is a real RT ...
    raw.loc[0, "rt"] = 999
    df = read_csv(write(tmp_path, raw))
    assert df.loc[0, "rt"] == pytest.approx(0.999)
    # ... twenty of them are a code.
    raw.loc[range(0, 400, 20), "rt"] = 999
    msg = error_of(write(tmp_path, raw))
    assert "999 look like missing-data codes" in msg
    assert "lines 2, 22, 42, 62, 82 and 15 more" in msg


def test_line_numbers_survive_blank_lines(tmp_path):
    path = tmp_path / "gaps.csv"
    body = trials(n_subjects=1, n=12, conditions=False).to_csv(index=False).splitlines()
    body[3] = "0,-0.2,1"  # data row 3 (subj_idx, rt, response)
    path.write_text("\n".join(body[:2] + [""] + body[2:5] + ["  "] + body[5:]) + "\n")
    msg = error_of(path)
    # Data row 3 sits on line 5, below the blank line inserted after data row 1.
    assert "column 'rt', line 5:" in msg


def test_data_rows_when_lines_cannot_be_known(tmp_path):
    path = tmp_path / "commented.csv"
    body = trials(n_subjects=1, n=12, conditions=False).to_csv(index=False).splitlines()
    body[3] = "0,-0.2,1"  # data row 3
    path.write_text("\n".join(["# exported by the lab's software"] + body) + "\n")
    msg = error_of(path, comment="#")
    assert "column 'rt', data row 3:" in msg
    body[3] = "0,0.2,1"
    path.write_text("\n".join(["# exported by the lab's software"] + body) + "\n")
    df = read_csv(path, comment="#")
    with pytest.raises(DataError, match=r"data row 3:"):
        check_rts_against_t0(df[df.rt < 1], 0.25)


def test_many_problems_reported_together(tmp_path):
    raw = trials().astype({"rt": object})
    raw.loc[1, "rt"] = "x"
    raw.loc[2, "response"] = 5
    msg = error_of(write(tmp_path, raw))
    assert msg.startswith("2 problems in ") and "line 3" in msg and "line 4" in msg


def test_nothing_is_written(tmp_path):
    raw = trials()
    raw.loc[3, "rt"] = -1.5
    path = write(tmp_path, raw)
    before = sorted(p.name for p in tmp_path.iterdir())
    error_of(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_boolean_responses_and_describe_without_record():
    raw = trials().astype({"response": bool})
    df = from_dataframe(raw)
    np.testing.assert_array_equal(df["response"], raw["response"].astype(int))
    assert "no sdekit record" in describe(raw)


def test_error_is_a_value_error_with_details(tmp_path):
    raw = trials()
    raw.loc[list(range(12)), "rt"] = -1.5
    with pytest.raises(ValueError) as info:
        read_csv(write(tmp_path, raw))
    err = info.value
    assert isinstance(err, DataError)
    import pickle

    assert str(pickle.loads(pickle.dumps(err))) == str(err)
    assert err.column == "rt" and err.rows == [2, 3, 4, 5, 6]
    assert "and 7 more" in str(err)


# --------------------------------------------------------------------------------------------
# RTs impossible under the model.


def test_check_rts_against_t0(tmp_path):
    raw = trials()
    raw.loc[[5, 30], "rt"] = 0.2
    df = read_csv(write(tmp_path, raw), conditions=["stim"])
    check_rts_against_t0(df, 0.15)
    with pytest.raises(DataError) as info:
        check_rts_against_t0(df, 0.25)
    msg = str(info.value)
    assert "exp.csv" in msg and "column 'rt'" in msg and "lines 7, 32" in msg
    assert "p_outlier" in msg and "t0 = 0.25 s" in msg
    # Line numbers refer to the file after filtering, and t0 may differ per subject.
    sub = df[df.subj_idx == 1]
    t0 = sub["subj_idx"].map({1: 0.25})
    with pytest.raises(DataError, match=r"line 32:"):
        check_rts_against_t0(sub, t0)
    with pytest.raises(DataError, match=r"rows with index 5"):
        check_rts_against_t0(from_dataframe(raw), np.full(len(raw), 0.25))


# --------------------------------------------------------------------------------------------
# The bundled example data set.


@pytest.fixture(scope="module")
def example():
    return make_example()


def test_example_reproduces_bundled_file(example):
    data, truth = example
    import sdekit.ddm.example as ex

    bundled = pd.read_csv(ex.example_path())
    bundled_truth = pd.read_csv(ex.example_path().with_name(ex.TRUTH_FILE))
    assert list(bundled.columns) == list(data.columns)
    # If this fails after a change to the engine's random streams, regenerate the files with
    # `python -m sdekit.ddm.example sdekit/data` and say so in the commit.
    np.testing.assert_array_equal(bundled[["subj_idx", "response"]], data[["subj_idx", "response"]],
                                  err_msg="regenerate: python -m sdekit.ddm.example sdekit/data")
    np.testing.assert_array_equal(bundled["stim"], data["stim"])
    np.testing.assert_allclose(bundled["rt"], data["rt"], rtol=0, atol=0.5e-4 + 1e-12)
    pd.testing.assert_frame_equal(bundled_truth, truth, check_dtype=False)


def test_load_example():
    data, truth = load_example()
    assert list(data.columns) == ["rt", "response", "subj_idx", "stim"]
    assert data.attrs["sdekit"]["source"] == "example_ddm.csv"
    assert set(truth.parameter) == {"v", "a", "z", "t0"} and len(truth) == 30


def test_example_sanity(example):
    data, truth = example
    counts = data.groupby(["subj_idx", "stim"]).size()
    assert len(counts) == 12 and (counts == 200).all()
    for s, sub in data.groupby("subj_idx"):
        par = truth[truth.subj_idx == s]
        a = par.loc[par.parameter == "a", "value"].item()
        z = par.loc[par.parameter == "z", "value"].item()
        t0 = par.loc[par.parameter == "t0", "value"].item()
        assert sub["rt"].min() > t0
        for stim, cell in sub.groupby("stim"):
            v = par.loc[(par.parameter == "v") & (par.condition == stim), "value"].item()
            # P(upper) for a Wiener process from z*a between 0 and a, drift v, unit noise.
            p = np.expm1(-2 * v * a * z) / np.expm1(-2 * v * a)
            se = np.sqrt(p * (1 - p) / len(cell))
            assert abs(cell["response"].mean() - p) < 5 * se, (s, stim)
            # Mean decision time for z = 1/2: (a / 2v) tanh(v a / 2), the same for both responses.
            mean_dt = a / (2 * v) * np.tanh(v * a / 2)
            dt = cell["rt"] - t0
            assert abs(dt.mean() - mean_dt) < 5 * dt.std() / np.sqrt(len(dt)), (s, stim)
    easy = data[data.stim == "easy"]
    hard = data[data.stim == "hard"]
    assert easy.response.mean() > hard.response.mean() and easy.rt.mean() < hard.rt.mean()


def test_docs_examples_run():
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "data.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "data.md", "exec"), {})

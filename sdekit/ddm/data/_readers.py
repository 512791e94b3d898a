"""The readers: a CSV file or a DataFrame of trials into the canonical layout."""

from __future__ import annotations

import os

import pandas as pd

from ._canonical import canonical
from ._file import read_frame
from ._problems import DataError, OptionNames, Problem
from ._rows import Rows, csv_line_numbers, rows_from_record

#: Codes the field uses for a missing RT (no response, timeout).
DEFAULT_MISSING_CODES = (999, -999, -1)

#: Default minimum number of trials per subject (and per subject x condition cell).
DEFAULT_MIN_TRIALS = 10


def read_csv(path, *, rt="rt", response="response", subject="subj_idx", correct=None,
             stimulus=None, rt_unit="auto", missing_codes=DEFAULT_MISSING_CODES,
             min_trials=DEFAULT_MIN_TRIALS, conditions=None, require_both_responses=False,
             option_names=None, **read_csv_kwargs):
    """Read a behavioural CSV (one row per trial) and validate it.

    Parameters
    ----------
    path : str or path-like
        The CSV file (anything :func:`pandas.read_csv` reads, compressed files included).
    rt : str
        Column of reaction times, in seconds or milliseconds (see ``rt_unit``).
    response : str
        Column of choices: 1 = upper boundary, 0 (or HSSM's -1) = lower boundary. Ignored when
        ``correct`` is given.
    subject : str or None
        Column identifying subjects. If the default ``"subj_idx"`` is absent, a column named
        ``participant_id``, ``subject``, ``subj`` or ``id`` (any case) is used instead when it is
        the only column that looks like a subject identifier and repeats its values (stated in
        the record); with no such column the file is taken as one subject (``subj_idx = 0``,
        stated in the record). Several candidates raise an error that lists them. ``None`` takes
        the file as one subject explicitly.
    correct : str, optional
        Column of accuracy (1 correct, 0 error) to build ``response`` from, for accuracy-coded
        data. Without ``stimulus`` the upper boundary is the correct response (accuracy coding);
        with it, stimulus coding.
    stimulus : str, optional
        With ``correct``: column coding the stimulus 1 / 0 (or 1 / -1); the upper boundary is the
        response to stimulus 1, so ``response = stimulus if correct else 1 - stimulus``.
    rt_unit : {"auto", "s", "ms"}
        Unit of ``rt``. ``"auto"`` takes milliseconds when the median RT exceeds 100 and seconds
        when it is below 10, and refuses to guess in between.
    missing_codes : sequence of float
        RT values that mean "no response" in the field (999, -999, -1). Such values raise an
        error saying so, rather than being fitted. In millisecond data a positive code (999 ms)
        is a plausible RT and counts as a code only where it occurs far more often than its
        neighbouring values. Pass ``()`` to disable.
    min_trials : int or None
        Minimum number of trials per subject, and per subject x condition cell when
        ``conditions`` is given. ``None`` or 0 disables the check.
    conditions : list of str, optional
        Condition columns the model will depend on: they must exist and hold no missing values,
        and each subject x condition cell is checked (trial count, both responses present).
    require_both_responses : bool
        A cell with only one response can still be fitted, but poorly constrains the parameters;
        by default this is a warning (recorded, and issued as :class:`DataWarning`), with True an
        error.
    option_names : dict, optional
        How the caller spells these arguments in the fixes that messages suggest, e.g.
        ``{"subject": "--subject", "subject=None": "--one-subject"}`` from a command line (see
        :class:`OptionNames`). By default fixes are spelt as Python keywords.
    **read_csv_kwargs
        Passed to :func:`pandas.read_csv` (``sep``, ``encoding``, ``na_values`` ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``rt`` (float, seconds), ``response`` (int, 1 upper / 0 lower), ``subj_idx``,
        then the other columns as they were. ``df.attrs["sdekit"]`` records the source, the
        column mapping, the units and codings assumed (``"assumptions"``) and ``"warnings"``.

    Raises
    ------
    DataError
        For any problem, naming file, line(s) and column, and saying how to fix it.
    """
    source = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    spell = OptionNames(option_names)
    df = read_frame(path, source, read_csv_kwargs, spell)
    lines = csv_line_numbers(path, len(df), read_csv_kwargs)
    if lines is not None:
        rows = Rows("line", lines=lines)
    elif "index_col" in read_csv_kwargs:
        rows = Rows("index", index=list(df.index))
    else:
        rows = Rows("row")
    return canonical(df, source, rows, rt=rt, response=response, subject=subject,
                     correct=correct, stimulus=stimulus, rt_unit=rt_unit,
                     missing_codes=missing_codes, min_trials=min_trials, conditions=conditions,
                     require_both_responses=require_both_responses, from_file=True, spell=spell)


def from_dataframe(df, *, rt="rt", response="response", subject="subj_idx", correct=None,
                   stimulus=None, rt_unit="auto", missing_codes=DEFAULT_MISSING_CODES,
                   min_trials=DEFAULT_MIN_TRIALS, conditions=None, require_both_responses=False,
                   source="DataFrame", option_names=None):
    """Validate a DataFrame of trials into the canonical layout.

    Same options and result as :func:`read_csv`; rows are named by their index labels, and
    ``source`` names the data in messages. The input is not modified.

    Data that already went through :func:`read_csv` (and still carry its record in
    ``df.attrs["sdekit"]``) keep their source, what was assumed when the file was read, and
    line numbers in messages, as long as the index was not reset.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"from_dataframe expects a pandas DataFrame, got {type(df).__name__}")
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError(source, [Problem(
            "has no rows" if len(df.columns) else "has no columns and no rows",
            fix="Pass a DataFrame with one row per trial")])
    prior = df.attrs.get("sdekit")
    canonical_call = (rt, response, subject, correct) == ("rt", "response", "subj_idx", None)
    if isinstance(prior, dict) and "assumptions" in prior and canonical_call:
        # Data from read_csv validated again (e.g. by the fitter): keep naming rows by line
        # and what was assumed when the file was read.
        if source == "DataFrame":
            source = prior.get("source", source)
        rows = rows_from_record(df)
    else:
        prior = None
        rows = Rows("index", index=list(df.index))
    return canonical(df, source, rows, rt=rt, response=response, subject=subject,
                     correct=correct, stimulus=stimulus, rt_unit=rt_unit,
                     missing_codes=missing_codes, min_trials=min_trials, conditions=conditions,
                     require_both_responses=require_both_responses, from_file=False,
                     spell=OptionNames(option_names), prior=prior)

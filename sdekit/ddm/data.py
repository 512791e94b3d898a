"""Read and validate behavioural data (one row per trial) into one canonical DataFrame.

The canonical layout follows HDDM: ``rt`` in seconds (float), ``response`` 1 = upper boundary and
0 = lower (int), ``subj_idx`` for subjects, and every other column kept as it is (conditions).
What was assumed on the way (units, response coding, a missing subject column ...) is recorded in
``df.attrs["sdekit"]``, a plain JSON-serialisable dict, so it survives pandas operations and
Parquet files; :func:`describe` prints it.

Every problem raises one :class:`DataError` naming the file, the rows (1-based line numbers of the
CSV, the header being line 1) and the column, with a way to fix it. Nothing here writes files.
"""

from __future__ import annotations

import csv
import difflib
import os
import shlex
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DataError",
    "DataWarning",
    "read_csv",
    "from_dataframe",
    "check_rts_against_t0",
    "describe",
]

#: Columns of the canonical layout, in order.
CANONICAL = ("rt", "response", "subj_idx")

#: Codes the field uses for a missing RT (no response, timeout).
DEFAULT_MISSING_CODES = (999, -999, -1)

#: Default minimum number of trials per subject (and per subject x condition cell).
DEFAULT_MIN_TRIALS = 10

# Median RTs are a few hundred ms in any two-choice task: a median above 100 cannot be seconds and
# one below 10 cannot be milliseconds. Between the two we refuse to guess.
_MS_MEDIAN = 100.0
_S_MEDIAN = 10.0
_MAX_LISTED = 5
_TAB = "\t"
_RECODE_RECIPE = " (e.g. df[col].map({...}))"

# Names people give the subject column: without a subject column, a file with one of these is not
# pooled silently as one subject.
_SUBJECT_LIKE = {
    "subject", "subjects", "subj", "sub", "subj_id", "subject_id", "subjectid", "participant",
    "participant_id", "participantid", "pid", "ppt", "id", "sid", "subj_idx", "subject_idx",
}

#: Subject columns used without being named, when ``subj_idx`` is absent and exactly one column
#: looks like a subject identifier: the names HSSM, BIDS and most lab software write.
RECOGNISED_SUBJECT_COLUMNS = ("participant_id", "subject", "subj", "id")


class DataError(ValueError):
    """Behavioural data that cannot be used as given.

    The message names the source (file name, or ``DataFrame``), the column, the rows (1-based CSV
    line numbers with the header as line 1, or index labels for a DataFrame) and how to fix it.

    Attributes
    ----------
    source : str
        The file as given, or ``"DataFrame"``.
    problems : list of Problem
        Each problem found (one exception reports all problems of the same stage at once).
    """

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        if len(self.problems) == 1:
            msg = f"{source}: {self.problems[0]}"
        else:
            body = "\n".join(f"  - {p}" for p in self.problems)
            msg = f"{len(self.problems)} problems in {source}:\n{body}"
        super().__init__(msg)

    def __reduce__(self):
        # Picklable (errors raised in Dask workers travel back to the client).
        return (type(self), (self.source, self.problems))

    @property
    def column(self):
        """The column of the first problem (None if it concerns no single column)."""
        return self.problems[0].column if self.problems else None

    @property
    def rows(self):
        """Row references (line numbers or index labels) of the first problem."""
        return self.problems[0].rows if self.problems else []


class DataWarning(UserWarning):
    """Data that can be fitted, but about which the user should know (also in the record)."""


class OptionNames:
    """How the caller spells the reading functions' arguments, in the fixes messages suggest.

    Parameters
    ----------
    names : dict, optional
        Argument name to the caller's option, e.g. ``{"subject": "--subject"}`` for a command
        line: a fix then reads ``pass --subject participant`` instead of
        ``pass subject='participant'``. A key ``"name=VALUE"`` (VALUE as Python writes it, e.g.
        ``"subject=None"``) spells that one value, e.g. ``"--one-subject"``. Arguments not in
        it keep their Python spelling; without it every fix is spelt for Python, pandas recipes
        included.
    """

    def __init__(self, names=None):
        self.names = dict(names or {})

    @property
    def python(self):
        """True when the caller is Python code (fixes may show pandas recipes)."""
        return not self.names

    def has(self, name):
        """Whether the caller offers argument ``name`` at all (always, from Python)."""
        return self.python or name in self.names

    def name(self, name):
        """The argument's name as the caller writes it (``min_trials`` or ``--min-trials``)."""
        return self.names.get(name, name)

    def value(self, name, value):
        """Passing ``value`` to ``name``: ``rt_unit='ms'`` or ``--rt-unit ms``."""
        exact = self.names.get(f"{name}={value!r}")
        if exact is not None:
            return exact
        flag = self.names.get(name)
        if flag is None:
            return f"{name}={value!r}"
        return f"{flag} {shlex.quote(str(value))}"

    def placeholder(self, name, text):
        """Passing some column to ``name``: ``rt='<column name>'`` or ``--rt COLUMN``."""
        flag = self.names.get(name)
        return f"{name}={text!r}" if flag is None else f"{flag} COLUMN"


@dataclass
class Problem:
    """One problem in the data: where it is, what it is, how to fix it."""

    what: str
    column: str | None = None
    rows: list = field(default_factory=list)
    n_rows: int = 0
    row_word: str = "line"
    fix: str = ""

    def __str__(self):
        parts = []
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.n_rows:
            parts.append(_format_rows(self.rows, self.n_rows, self.row_word))
        where = ", ".join(parts)
        text = f"{where}: {self.what}" if where else self.what
        if self.fix:
            text = f"{text}. {self.fix}"
        return text


_PLURAL = {"line": "lines", "data row": "data rows", "row with index": "rows with index"}


def _format_rows(rows, n_total, word):
    shown = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    text = f"{_PLURAL.get(word, word) if n_total > 1 else word} {shown}"
    if n_total > _MAX_LISTED:
        text += f" and {n_total - _MAX_LISTED} more"
    return text


# ---------------------------------------------------------------------------------------------
# Row references: how a user finds a row (CSV line number, or the DataFrame's index label).


class _Rows:
    """Translate row positions of the data into what the user sees."""

    def __init__(self, kind, lines=None, index=None):
        self.kind = kind          # "line": CSV line numbers; "row": data row number; "index"
        self.lines = lines        # line number of each data row (kind == "line")
        self.index = index        # index labels (kind == "index")

    @property
    def word(self):
        return {"line": "line", "row": "data row", "index": "row with index"}[self.kind]

    def refs(self, positions):
        positions = np.asarray(positions, dtype=np.int64)
        if self.kind == "line":
            return [int(self.lines[p]) for p in positions]
        if self.kind == "row":
            base = getattr(self, "positions", None)
            return [int(p if base is None else base[p]) + 1 for p in positions]
        return [self.index[p] for p in positions]

    def problem(self, mask_or_positions, what, column=None, fix=""):
        pos = np.asarray(mask_or_positions)
        if pos.dtype == bool:
            pos = np.flatnonzero(pos)
        return Problem(what=what, column=column, rows=self.refs(pos[:_MAX_LISTED]),
                       n_rows=int(pos.size), row_word=self.word, fix=fix)

    def _relabel(self, labels):
        """Data-row numbers for a frame whose index labels are the original row positions."""
        self.kind = "row"
        self.positions = np.asarray(labels, dtype=np.int64)
        return self

    def to_record(self):
        if self.kind == "line":
            # Line numbers as runs of consecutive lines: [first row, its line] where a run starts.
            # Short, so the record stays cheap to copy with the DataFrame.
            lines = np.asarray(self.lines, dtype=np.int64)
            starts = np.flatnonzero(np.diff(lines, prepend=lines[0]) != 1)
            return {"kind": "line", "runs": [[int(p), int(lines[p])] for p in starts]}
        if self.kind == "row":
            return {"kind": "row"}
        return {"kind": "index"}


def _csv_line_numbers(path, n_rows, kwargs):
    """Line number of each data row, or None where the file cannot be scanned exactly.

    pandas skips blank lines and quoted fields may span lines, so ``position + 2`` can be wrong;
    the csv module sees the same records and knows where each starts.
    """
    # Options that change which lines become rows: fall back to data-row numbers.
    shifting = {"skiprows", "header", "comment", "skipfooter", "nrows", "names", "index_col",
                "compression", "delim_whitespace", "lineterminator", "quotechar", "escapechar",
                "skip_blank_lines", "dialect"}
    if shifting & set(kwargs):
        return None
    sep = kwargs.get("sep", kwargs.get("delimiter", ","))
    if not isinstance(sep, str) or len(sep) != 1:
        return None
    if str(path).endswith((".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")):
        return None
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    n_lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    if b'"' not in raw and n_lines == n_rows + 1:
        # No quoting and no blank lines: data row i is on line i + 2.
        return np.arange(2, n_rows + 2)
    starts = []
    try:
        with open(path, newline="", encoding=kwargs.get("encoding", "utf-8"),
                  errors="replace") as f:
            reader = csv.reader(f, delimiter=sep)
            previous_end = 0
            for record in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                starts.append(start)
    except (OSError, csv.Error):
        return None
    # The first record is the header; the rest must match pandas' rows one to one.
    if len(starts) != n_rows + 1:
        return None
    return starts[1:]


def _rows_from_record(df):
    """Row references for a frame that carries a record: index labels are original positions."""
    rec = df.attrs.get("sdekit", {}).get("rows", {"kind": "index"})
    kind = rec.get("kind")
    if kind in ("line", "row"):
        try:
            positions = np.asarray(df.index, dtype=np.int64)
        except (TypeError, ValueError):
            kind = "index"
    if kind == "line":
        runs = np.asarray(rec["runs"], dtype=np.int64).reshape(-1, 2)
        j = np.searchsorted(runs[:, 0], positions, side="right") - 1
        return _Rows("line", lines=runs[j, 1] + positions - runs[j, 0])
    if kind == "row":
        return _Rows("row")._relabel(positions)
    return _Rows("index", index=list(df.index))


# ---------------------------------------------------------------------------------------------
# Public functions.


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
    df = _read_frame(path, source, read_csv_kwargs, spell)
    lines = _csv_line_numbers(path, len(df), read_csv_kwargs)
    if lines is not None:
        rows = _Rows("line", lines=lines)
    elif "index_col" in read_csv_kwargs:
        rows = _Rows("index", index=list(df.index))
    else:
        rows = _Rows("row")
    return _canonical(df, source, rows, rt=rt, response=response, subject=subject,
                      correct=correct, stimulus=stimulus, rt_unit=rt_unit,
                      missing_codes=missing_codes, min_trials=min_trials, conditions=conditions,
                      require_both_responses=require_both_responses,
                      read_csv_kwargs=read_csv_kwargs, spell=spell)


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
        rows = _rows_from_record(df)
    else:
        prior = None
        rows = _Rows("index", index=list(df.index))
    return _canonical(df, source, rows, rt=rt, response=response, subject=subject,
                      correct=correct, stimulus=stimulus, rt_unit=rt_unit,
                      missing_codes=missing_codes, min_trials=min_trials, conditions=conditions,
                      require_both_responses=require_both_responses, read_csv_kwargs=None,
                      spell=OptionNames(option_names), prior=prior)


def check_rts_against_t0(df, t0, *, column="rt"):
    """Raise :class:`DataError` if some RTs are at or below the non-decision time.

    Under the DDM every response time exceeds ``t0``, so such trials have zero likelihood: they
    must be removed, or explained by a contaminant (lapse) mixture.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical data (from :func:`read_csv` or :func:`from_dataframe`); rows are named from its
        record, so line numbers still refer to the file after filtering.
    t0 : float, array_like or pandas.Series
        Non-decision time (seconds): one value, one per row, or a Series aligned on ``df``'s
        index (e.g. per subject, mapped onto trials). With ``st > 0`` pass the lower edge.
    column : str
        The RT column.
    """
    rt = np.asarray(df[column], dtype=float)
    if isinstance(t0, pd.Series):
        t0v = t0.reindex(df.index).to_numpy(dtype=float)
    else:
        t0v = np.broadcast_to(np.asarray(t0, dtype=float), rt.shape)
    bad = rt <= t0v
    if not bad.any():
        return
    rows = _rows_from_record(df)
    source = df.attrs.get("sdekit", {}).get("source", "DataFrame")
    pos = np.flatnonzero(bad)
    t0_text = (f"t0 = {float(t0v[pos[0]]):.4g} s" if np.ptp(t0v[pos]) == 0
               else f"t0 (per row, from {float(t0v[pos].min()):.4g} s)")
    what = (f"{pos.size} RT(s) at or below the non-decision time {t0_text}, impossible under the "
            f"DDM (fastest: {rt[pos].min():.4g} s)")
    fix = ("Fit with the contaminant model (p_outlier > 0, a uniform lapse mixture) so that such "
           "trials count as lapses, allow a smaller t0, or remove fast guesses (e.g. "
           f"df[df.rt > {float(t0v[pos].max()):.3g}])")
    raise DataError(source, [rows.problem(pos, what, column=column, fix=fix)])


def describe(df):
    """The record of a canonical DataFrame as readable text (source, assumptions, warnings)."""
    rec = df.attrs.get("sdekit")
    if not rec:
        return "no sdekit record: pass the data through read_csv or from_dataframe"
    out = [f"source: {rec['source']}",
           f"trials: {rec['n_trials']}, subjects: {rec['n_subjects']}"]
    if rec.get("conditions"):
        out.append("conditions: " + ", ".join(rec["conditions"]))
    out += [f"assumed: {a}" for a in rec["assumptions"]]
    out += [f"warning: {w}" for w in rec["warnings"]]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Reading.


def _read_frame(path, source, kwargs, spell):
    p = Path(path) if isinstance(path, (str, os.PathLike)) else None
    if p is not None:
        if p.is_dir():
            raise DataError(source, [Problem("is a directory, not a CSV file",
                                             fix="Pass the path of the CSV file itself")])
        if not p.exists():
            fix = "Check the path and the working directory"
            parent = p.parent if str(p.parent) else Path(".")
            if parent.is_dir():
                near = difflib.get_close_matches(p.name, [q.name for q in parent.iterdir()],
                                                 n=3, cutoff=0.6)
                if near:
                    fix = "Did you mean " + " or ".join(repr(n) for n in near) + "?"
            elif str(parent) not in ("", "."):
                fix = f"The folder {str(parent)!r} does not exist either"
            raise DataError(source, [Problem("file not found", fix=fix)])
    try:
        df = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(source, [Problem(
            "the file is empty (no header, no rows)",
            fix="Export the data again: one header line, then one row per trial")]) from None
    except pd.errors.ParserError as exc:
        separators = f"{spell.value('sep', ';')} or {spell.value('sep', _TAB)}"
        raise DataError(source, [Problem(
            f"cannot be parsed as CSV ({str(exc).strip()})",
            fix=f"Check the separator (pass {separators} if needed) and quoting on the line "
                "named")]) from None
    except UnicodeDecodeError as exc:
        encoding = kwargs.get("encoding", "utf-8")
        where = []
        try:
            with open(path, "rb") as f:
                f.read().decode(encoding)
        except UnicodeDecodeError as whole:
            # pandas decodes in chunks, so its position is not the file's; find the line here.
            with open(path, "rb") as f:
                where = [f.read()[: whole.start].count(b"\n") + 1]
        except (OSError, LookupError, TypeError):
            pass
        other = "'cp1252'" if spell.python else "cp1252"
        problem = Problem(f"is not valid {encoding} text ({exc.reason})", rows=where,
                          n_rows=len(where),
                          fix="Pass the file's encoding, e.g. "
                              f"{spell.value('encoding', 'latin-1')} or {other}")
        raise DataError(source, [problem]) from None
    if len(df) == 0:
        cols = ", ".join(repr(c) for c in df.columns)
        raise DataError(source, [Problem(
            f"has a header ({cols}) but no rows",
            fix="Check that the export included the trials")])
    return df


# ---------------------------------------------------------------------------------------------
# Validation and conversion.


def _column_problem(name, argument, columns, spell):
    """A missing column: suggest the closest names and list those available."""
    columns = [str(c) for c in columns]
    lower = {c.strip().lower(): c for c in columns}
    near = []
    if name.strip().lower() in lower:
        near = [lower[name.strip().lower()]]
    near += [c for c in difflib.get_close_matches(name, columns, n=3, cutoff=0.6) if c not in near]
    near += [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=3,
                                                         cutoff=0.6) if lower[c] not in near]
    available = ", ".join(repr(c) for c in columns)
    if near:
        fix = f"Did you mean {near[0]!r}? Pass {spell.value(argument, near[0])}"
    else:
        fix = f"Pass {spell.placeholder(argument, '<column name>')} to name the column to use"
    what = f"not found (available: {available})"
    if len(columns) == 1:
        for sep, sep_name in ((";", "';'"), ("\t", "'\\t'"), ("|", "'|'")):
            if sep in columns[0]:
                fix = (f"The file seems to be separated by {sep_name}, not commas: pass "
                       f"{spell.value('sep', sep)}")
    return Problem(what=what, column=name, fix=fix)


def _default_subject(df, spell, assumptions):
    """The subject column when ``subj_idx`` is absent: ``(column or None, problem or None)``.

    No subject-like column means one subject. One recognised name whose values repeat is used,
    and the assumption recorded; anything else is for the user to decide.
    """
    columns = list(df.columns)
    lookalike = [c for c in columns if str(c).strip().lower() in _SUBJECT_LIKE]
    if not lookalike:
        return None, None
    one_subject = spell.value("subject", None)
    if len(lookalike) > 1:
        listed = ", ".join(repr(c) for c in lookalike)
        return None, Problem(
            f"not found, and {len(lookalike)} columns look like subject identifiers ({listed})",
            column="subj_idx",
            fix=f"Pass {spell.value('subject', lookalike[0])} (or the one of them that "
                f"identifies subjects), or {one_subject} for one subject")
    (candidate,) = lookalike
    recognised = str(candidate).strip().lower() in RECOGNISED_SUBJECT_COLUMNS
    # A column with a new value on every row numbers trials, not subjects.
    if recognised and df[candidate].nunique(dropna=False) < len(df):
        assumptions.append(f"subjects from column {candidate!r}, recognised by its name (there "
                           "is no 'subj_idx' column)")
        return candidate, None
    p = _column_problem("subj_idx", "subject", columns, spell)
    p.fix = (f"Column {candidate!r} looks like a subject identifier: pass "
             f"{spell.value('subject', candidate)}, or {one_subject} for one subject")
    return None, p


def _missing_code_fix(rt, found, spell, from_file):
    codes = ", ".join(found)
    real = f"if they are real RTs pass {spell.value('missing_codes', ())}"
    if not spell.python:
        return f"Drop these trials from the file before fitting; {real}"
    return (f"Drop these trials before fitting, e.g. raw[~raw[{rt!r}].isin([{codes}])]"
            + (" with the file read by pandas, then from_dataframe" if from_file else "")
            + f"; {real}")


def _nonfinite(values, rows, column, fix):
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    n_nan = int(np.isnan(values).sum())
    n_inf = int(bad.sum()) - n_nan
    kinds = " and ".join(k for k, n in (("missing (NaN)", n_nan), ("infinite", n_inf)) if n)
    fix = fix(column) if callable(fix) else fix
    return rows.problem(bad, f"{kinds} value(s)", column=column, fix=fix)


def _to_numeric(series, rows, column, spell):
    """Numeric values of a column, and a problem naming the rows that are not numbers."""
    raw = series
    if pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=float), None
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    not_number = np.isnan(num) & raw.notna().to_numpy()
    if not_number.any():
        shown = sorted({str(v) for v in raw[not_number]})[:_MAX_LISTED]
        what = "not a number (" + ", ".join(repr(v) for v in shown) + ")"
        if spell.python:
            fix = ("Correct these entries; if they mark missing trials, pass na_values=["
                   + ", ".join(repr(v) for v in shown[:3]) + "] and drop those rows before fitting")
        else:
            fix = "Correct these entries in the file, or remove these trials"
        return num, rows.problem(not_number, what, column=column, fix=fix)
    return num, None


def _fmt(x):
    return f"{x:g}" if isinstance(x, (float, np.floating)) else str(x)


def _code_hits(values, codes, unit_ms):
    """Boolean mask of RTs equal to a missing-data code."""
    hits = np.zeros(values.shape, dtype=bool)
    for c in codes:
        at = values == c
        if not at.any():
            continue
        if unit_ms and c > 0:
            # 999 ms is a plausible RT: a code only if it is far more frequent than its neighbours.
            near = (np.abs(values - c) <= 50) & ~at
            per_value = near.sum() / 100.0
            if at.sum() <= max(2.0, 5.0 * per_value):
                continue
        hits |= at
    return hits


def _canonical(df, source, rows, *, rt, response, subject, correct, stimulus, rt_unit,
               missing_codes, min_trials, conditions, require_both_responses, read_csv_kwargs,
               spell, prior=None):
    assumptions, notes = [], []
    columns = list(df.columns)
    if rt_unit not in ("auto", "s", "ms"):
        raise ValueError(f"rt_unit must be 'auto', 's' or 'ms', got {rt_unit!r}")
    conditions = [conditions] if isinstance(conditions, str) else list(conditions or [])

    # --- columns -------------------------------------------------------------------------
    problems = []
    wanted = [("rt", rt)]
    if correct is not None:
        wanted.append(("correct", correct))
        if stimulus is not None:
            wanted.append(("stimulus", stimulus))
    else:
        if stimulus is not None:
            raise ValueError("stimulus= is used with correct= (accuracy-coded data); for "
                             "choice-coded data pass response= only")
        wanted.append(("response", response))
    wanted += [("conditions", c) for c in conditions]
    for argument, name in wanted:
        if name not in df.columns:
            problems.append(_column_problem(name, argument, columns, spell))
    if problems and len(columns) == 1 and "sep=" in problems[0].fix:
        # One wrong separator, not several missing columns.
        problems[0].what = f"not found (the whole header was read as one column, {columns[0]!r})"
        problems = problems[:1]

    if subject is not None and subject not in df.columns:
        if subject == "subj_idx":
            subject, p = _default_subject(df, spell, assumptions)
        else:
            p = _column_problem(subject, "subject", columns, spell)
        if p is not None:
            problems.append(p)
    if problems:
        raise DataError(source, problems)
    if subject is None:
        assumptions.append("no subject column: all trials from one subject, subj_idx = 0")

    # --- values --------------------------------------------------------------------------
    problems = []
    rt_raw, p = _to_numeric(df[rt], rows, rt, spell)
    if p is not None:
        problems.append(p)
    def drop_hint(column):
        drop = f".dropna(subset=[{column!r}])"
        if not spell.python:
            return "Remove or fill in these rows in the file"
        if read_csv_kwargs is None:
            return f"Drop or fill in these rows (e.g. df{drop})"
        return ("Remove or fill in these rows in the file, or read it with pandas, drop them (raw"
                + drop + ") and pass the frame to from_dataframe")
    finite = np.isfinite(rt_raw)
    if (~finite).any():
        # Only rows that parsed as numbers but are NaN/inf here; non-numbers are reported above.
        raw_na = df[rt].isna().to_numpy() | np.isinf(rt_raw)
        if raw_na.any():
            p = _nonfinite(np.where(raw_na, rt_raw, 0.0), rows, rt, drop_hint)
            if p is not None:
                problems.append(p)

    # Unit: decided on the RTs that are neither codes nor invalid.
    codes = np.asarray([c for c in missing_codes], dtype=float)
    usable = finite & ~np.isin(rt_raw, codes) & (rt_raw > 0)
    median = float(np.median(rt_raw[usable])) if usable.any() else float("nan")
    rt_max = float(np.max(rt_raw[usable])) if usable.any() else float("nan")
    if rt_unit == "auto":
        if not usable.any() or median >= _MS_MEDIAN:
            unit_ms = usable.any()
        elif median <= _S_MEDIAN:
            unit_ms = False
        else:
            problems.append(Problem(
                f"cannot tell whether RTs are in seconds or milliseconds (median {median:g})",
                column=rt,
                fix=f"Pass {spell.value('rt_unit', 's')} or {spell.value('rt_unit', 'ms')}"))
            unit_ms = False
        if usable.any() and unit_ms:
            assumptions.append(f"rt in milliseconds detected: median rt {median:g} (max "
                               f"{rt_max:g}) > {_MS_MEDIAN:g}, divided by 1000")
        elif usable.any():
            assumptions.append(f"rt in seconds detected: median rt {median:g} < {_S_MEDIAN:g}")
    else:
        unit_ms = rt_unit == "ms"
        assumptions.append(f"rt in {'milliseconds, divided by 1000' if unit_ms else 'seconds'} "
                           "(rt_unit given)")
        if not unit_ms and median > _MS_MEDIAN:
            notes.append(f"rt_unit='s' but the median rt is {median:g}: are these milliseconds?")
        if unit_ms and median < _S_MEDIAN:
            notes.append(f"rt_unit='ms' but the median rt is {median:g}: are these seconds?")

    coded = _code_hits(rt_raw, codes, unit_ms) & finite
    if coded.any():
        found = [_fmt(v) for v in np.unique(rt_raw[coded])]
        problems.append(rows.problem(
            coded, f"value(s) {', '.join(found)} look like missing-data codes (no response or "
            "timeout), not reaction times", column=rt,
            fix=_missing_code_fix(rt, found, spell, from_file=read_csv_kwargs is not None)))
    nonpos = finite & (rt_raw <= 0) & ~coded
    if nonpos.any():
        n_zero = int((rt_raw[nonpos] == 0).sum())
        kind = ("zero or negative" if n_zero and n_zero < nonpos.sum()
                else "zero" if n_zero else "negative")
        problems.append(rows.problem(
            nonpos, f"{kind} RT(s) (min {rt_raw[nonpos].min():g})", column=rt,
            fix="RTs must be positive: remove these trials, or check the column is the RT and "
                "not a difference or a code"))

    # Response.
    if correct is not None:
        resp, p_list, coding = _accuracy_response(df, rows, correct, stimulus, drop_hint, spell)
        problems += p_list
        if coding:
            assumptions.append(coding)
        if response in df.columns and response not in (correct, stimulus):
            notes.append(f"column {response!r} replaced by the response built from {correct!r}; "
                         f"the original is kept as {response + '_orig'!r}")
    else:
        resp, p_list, coding = _choice_response(df, rows, response, drop_hint, spell)
        problems += p_list
        if coding:
            assumptions.append(coding)

    # Subjects and conditions: no missing values (they define the model's cells).
    for name in ([subject] if subject is not None else []) + conditions:
        na = df[name].isna().to_numpy()
        if na.any():
            problems.append(rows.problem(na, "missing value(s)", column=name,
                                         fix=drop_hint(name)))
    if problems:
        raise DataError(source, problems)

    # --- assemble ------------------------------------------------------------------------
    used = {rt, response if correct is None else None, subject}
    # One constructor call: adding columns one by one costs more than the checks above.
    columns_out = {
        "rt": rt_raw / 1000.0 if unit_ms else rt_raw,
        "response": resp.astype(np.int64),
        "subj_idx": (df[subject].to_numpy() if subject is not None
                     else np.zeros(len(df), dtype=np.int64)),
    }
    renamed = {}
    for c in df.columns:
        if c in used:
            continue
        name = c
        if c in CANONICAL:
            name = f"{c}_orig"
            renamed[c] = name
        columns_out[name] = df[c].to_numpy()
    out = pd.DataFrame(columns_out, index=df.index, copy=False)
    for c, n in renamed.items():
        if not (c == response and correct is not None):
            notes.append(f"column {c!r} is not the one used for {c!r}: kept as {n!r}")

    # --- counts per subject and cell -----------------------------------------------------
    problems = []
    keys = ["subj_idx"] + conditions
    sizes, n_up = _cell_counts(out, keys)
    if min_trials:
        by_subject = {}
        for key, n in sizes.items():
            by_subject[key[0]] = by_subject.get(key[0], 0) + n
        for s, n in by_subject.items():
            if n < min_trials:
                idx = np.flatnonzero((out["subj_idx"] == s).to_numpy())
                problems.append(rows.problem(
                    idx, f"subject {s!r} has {n} trial(s), fewer than min_trials={min_trials}",
                    column="subj_idx" if subject is None else subject,
                    fix=f"Exclude this subject, or lower {spell.name('min_trials')} (estimates "
                        "from so few trials are unreliable)"))
        if conditions:
            for key, n in sizes.items():
                if n < min_trials and by_subject[key[0]] >= min_trials:
                    cell = _cell_name(key, conditions)
                    mask = _cell_mask(out, keys, key)
                    problems.append(rows.problem(
                        mask, f"{cell} has {n} trial(s), fewer than min_trials={min_trials}",
                        column=", ".join(conditions),
                        fix="Merge or drop this condition for the subject, or lower "
                            + spell.name("min_trials")))
    for key, n in sizes.items():
        k_up = n_up[key]
        if 0 < k_up < n:
            continue
        only = "upper (1)" if k_up == n else "lower (0)"
        cell = _cell_name(key, conditions)
        what = f"{cell} has only {only} responses ({n} trials)"
        if require_both_responses:
            problems.append(rows.problem(
                _cell_mask(out, keys, key), what, column="response",
                fix="Both responses are needed to separate drift from boundary: merge "
                    "conditions, fix the parameters shared across cells, or drop the cell"))
        elif spell.has("require_both_responses"):
            notes.append(what + ": its parameters are weakly identified (pass "
                         f"{spell.value('require_both_responses', True)} to make this an error)")
        else:
            notes.append(what + ": its parameters are weakly identified")
    if problems:
        raise DataError(source, problems)

    # Implausibly long RTs are legal but usually a unit or outlier issue: say so, do not refuse.
    if (out["rt"] > 30).any() and not any("are these" in w for w in notes):
        n_long = int((out["rt"] > 30).sum())
        notes.append(f"{n_long} RT(s) above 30 s (max {out['rt'].max():g} s): check units and "
                     "outliers")

    columns_used = {"rt": rt, "response": correct if correct is not None else response,
                    "subj_idx": subject}
    unit = "ms" if unit_ms else "s"
    if prior is not None:
        trivial = ("rt in seconds detected", "response 'response' coded 1/0")
        assumptions = prior["assumptions"] + [
            a for a in assumptions if a not in prior["assumptions"] and not a.startswith(trivial)]
        fresh = [w for w in notes if w not in prior.get("warnings", [])]
        notes, new_notes = list(prior.get("warnings", [])) + fresh, fresh
        columns_used = prior.get("columns", columns_used)
        unit = prior.get("rt_unit", unit)
    else:
        new_notes = notes
    for w in new_notes:
        warnings.warn(f"{source}: {w}", DataWarning, stacklevel=3)
    out.attrs["sdekit"] = {
        "source": source,
        "columns": columns_used,
        "rt_unit": unit,
        "conditions": conditions,
        "n_trials": int(len(out)),
        "n_subjects": int(out["subj_idx"].nunique()),
        "assumptions": assumptions,
        "warnings": notes,
        "rows": rows.to_record(),
    }
    return out


def _cell_counts(out, keys):
    """Trials and upper-boundary responses per cell of ``keys`` (no missing values): two dicts
    keyed by tuples of the cell's values, in sorted order."""
    combined = np.zeros(len(out), dtype=np.int64)
    levels = []
    for k in keys:
        codes, uniques = pd.factorize(out[k], sort=True)
        combined = combined * len(uniques) + codes
        levels.append(uniques.tolist())  # Python scalars, as messages print them
    cells, inverse = np.unique(combined, return_inverse=True)
    sizes = np.bincount(inverse, minlength=cells.size)
    ups = np.bincount(inverse, weights=out["response"].to_numpy(), minlength=cells.size)
    names = []
    for c in cells:
        key = []
        for uniques in reversed(levels):
            c, j = divmod(int(c), len(uniques))
            key.append(uniques[j])
        names.append(tuple(reversed(key)))
    return ({k: int(n) for k, n in zip(names, sizes, strict=True)},
            {k: int(n) for k, n in zip(names, ups, strict=True)})


def _cell_name(key, conditions):
    text = f"subject {key[0]!r}"
    for c, v in zip(conditions, key[1:], strict=True):
        text += f", {c}={v!r}"
    return text


def _cell_mask(out, keys, key):
    mask = np.ones(len(out), dtype=bool)
    for k, v in zip(keys, key, strict=True):
        mask &= (out[k] == v).to_numpy()
    return mask


def _choice_response(df, rows, column, drop_hint, spell):
    """Response coded by boundary: 1/0 (HDDM) or 1/-1 (HSSM)."""
    values, p = _to_numeric(df[column], rows, column, spell)
    problems = [p] if p is not None else []
    na = df[column].isna().to_numpy() | np.isinf(values)
    if na.any():
        problems.append(_nonfinite(np.where(na, values, 0.0), rows, column, drop_hint))
    ok = np.isfinite(values)
    known = np.isin(values, (0.0, 1.0, -1.0))
    unknown = ok & ~known
    if unknown.any():
        codes = pd.Series(values[unknown]).value_counts().sort_index()
        listed = ", ".join(f"{_fmt(v)} ({n} row{'s' if n > 1 else ''})" for v, n in codes.items())
        problems.append(rows.problem(
            unknown, f"unknown response code(s) {listed}; expected 1 (upper) and 0 or -1 "
            "(lower)", column=column,
            fix=f"Recode the responses to 1 / 0{_RECODE_RECIPE if spell.python else ''}"
                f"; for accuracy-coded data pass {spell.placeholder('correct', '<column>')} (and "
                f"{spell.placeholder('stimulus', '<column>')} for stimulus coding)"))
    has_zero = ok & (values == 0)
    has_minus = ok & (values == -1)
    if has_zero.any() and has_minus.any():
        problems.append(rows.problem(
            has_minus, "response codes mix 0 and -1 (the lower boundary is 0 in HDDM's coding "
            "and -1 in HSSM's)", column=column,
            fix="Use one coding for the whole file"))
    if problems:
        return None, problems, None
    if has_minus.any():
        coding = f"response {column!r} coded -1/1 (HSSM): -1 mapped to 0 (lower boundary)"
    else:
        coding = f"response {column!r} coded 1/0 (HDDM): 1 = upper boundary, 0 = lower"
    return (values == 1).astype(np.int64), [], coding


def _binary(df, rows, column, allowed, drop_hint, fix, spell):
    values, p = _to_numeric(df[column], rows, column, spell)
    problems = []
    if p is not None:
        # Words in a code column are a coding to map, not missing values to drop.
        p.fix = fix
        problems.append(p)
    na = df[column].isna().to_numpy() | np.isinf(values)
    if na.any():
        problems.append(_nonfinite(np.where(na, values, 0.0), rows, column, drop_hint))
    bad = np.isfinite(values) & ~np.isin(values, allowed)
    if bad.any():
        found = ", ".join(_fmt(v) for v in np.unique(values[bad])[:_MAX_LISTED])
        problems.append(rows.problem(
            bad, f"unknown code(s) {found}; expected " + " / ".join(_fmt(a) for a in allowed),
            column=column, fix=fix))
    return values, problems


def _accuracy_response(df, rows, correct, stimulus, drop_hint, spell):
    acc, problems = _binary(df, rows, correct, (0.0, 1.0), drop_hint,
                            "Code accuracy as 1 (correct) and 0 (error)", spell)
    if stimulus is None:
        if problems:
            return None, problems, None
        coding = (f"accuracy coding from {correct!r}: upper boundary = correct response, lower = "
                  "error (drift is then towards the correct answer; z measures a bias towards "
                  "being correct, usually fixed at 0.5)")
        return (acc == 1).astype(np.int64), [], coding
    recipe = (", e.g. df[col].map({'left': 0, 'right': 1}), and pass the DataFrame to "
              "from_dataframe" if spell.python else " in the file")
    stim, p_stim = _binary(df, rows, stimulus, (0.0, 1.0, -1.0), drop_hint,
                           "Code the stimulus as 1 (the stimulus whose correct response is the "
                           "upper boundary) and 0 (or -1)" + recipe, spell)
    problems += p_stim
    if problems:
        return None, problems, None
    stim1 = stim == 1
    resp = np.where(acc == 1, stim1, ~stim1).astype(np.int64)
    coding = (f"stimulus coding with stimulus column {stimulus!r}: response = stim if correct "
              f"else 1 - stim (upper boundary = the response to stimulus 1, from {correct!r})")
    return resp, [], coding

"""The checks of a column's values, as one ordered table of rules that one loop applies.

Each :class:`Rule` names the column it checks (by its role: ``rt``, ``response``, ``correct``,
``stimulus``, ``subject``, ``conditions``), a check that finds the rows breaking it, and the fix
to suggest. :data:`COLUMN_RULES` lists them in the order problems are reported; a rule for a role
the reading does not use (``correct`` for choice-coded data ...) does not apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ._problems import MAX_LISTED, OptionNames, Problem
from ._rows import Rows
from ._units import Unit, code_hits

_RECODE_RECIPE = " (e.g. df[col].map({...}))"


@dataclass(frozen=True)
class Context:
    """What the rules of one reading share: how rows are named and fixes spelt, the RT unit."""

    rows: Rows
    spell: OptionNames
    from_file: bool
    unit: Unit
    missing_codes: np.ndarray


def as_numbers(series):
    """A column as floats, NaN where an entry is missing or not a number."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


@dataclass
class Column:
    """One column under check."""

    role: str
    name: str
    raw: pd.Series
    context: Context

    @cached_property
    def values(self):
        """The column as floats, NaN where an entry is missing or not a number."""
        return as_numbers(self.raw)

    @cached_property
    def missing_code_rows(self):
        """RTs equal to a missing-data code (see :func:`code_hits`)."""
        values = self.values
        unit_ms = self.context.unit.ms
        return code_hits(values, self.context.missing_codes, unit_ms) & np.isfinite(values)


@dataclass(frozen=True)
class Finding:
    """What a check found: a description, the rows (a mask; None: the column as a whole), and
    the values a fix may quote."""

    what: str
    rows: np.ndarray | None = None
    found: tuple = ()


@dataclass(frozen=True)
class Rule:
    """One check of a column: which column, what breaks it, how to fix it."""

    role: str
    check: Callable[[Column], Finding | None]
    fix: Callable[[Column, Finding], str]


def apply_rules(rules, columns):
    """The problems that ``rules`` find in ``columns`` (a dict role -> list of Column), in order."""
    problems = []
    for rule in rules:
        for column in columns.get(rule.role, ()):
            finding = rule.check(column)
            if finding is None:
                continue
            fix = rule.fix(column, finding)
            if finding.rows is None:
                problems.append(Problem(finding.what, column=column.name, fix=fix))
            else:
                problems.append(column.context.rows.problem(finding.rows, finding.what,
                                                            column=column.name, fix=fix))
    return problems


def fmt(x):
    """A value as messages print it (floats without trailing zeros)."""
    return f"{x:g}" if isinstance(x, (float, np.floating)) else str(x)


# ---------------------------------------------------------------------------------------------
# Checks: each returns a Finding, or None when the column passes.


def not_a_number(c):
    not_number = np.isnan(c.values) & c.raw.notna().to_numpy()
    if not not_number.any():
        return None
    shown = tuple(sorted({str(v) for v in c.raw[not_number]})[:MAX_LISTED])
    return Finding("not a number (" + ", ".join(repr(v) for v in shown) + ")", not_number, shown)


def missing_or_infinite(c):
    # Entries that are not numbers are reported by not_a_number, not here.
    bad = c.raw.isna().to_numpy() | np.isinf(c.values)
    if not bad.any():
        return None
    n_nan = int(np.isnan(c.values[bad]).sum())
    n_inf = int(bad.sum()) - n_nan
    kinds = " and ".join(k for k, n in (("missing (NaN)", n_nan), ("infinite", n_inf)) if n)
    return Finding(f"{kinds} value(s)", bad)


def missing_value(c):
    na = c.raw.isna().to_numpy()
    return Finding("missing value(s)", na) if na.any() else None


def unit_undecidable(c):
    unit = c.context.unit
    if not unit.undecidable:
        return None
    return Finding(f"cannot tell whether RTs are in seconds or milliseconds (median "
                   f"{unit.median:g})")


def missing_data_code(c):
    coded = c.missing_code_rows
    if not coded.any():
        return None
    found = tuple(fmt(v) for v in np.unique(c.values[coded]))
    return Finding(f"value(s) {', '.join(found)} look like missing-data codes (no response or "
                   "timeout), not reaction times", coded, found)


def not_positive(c):
    values = c.values
    bad = np.isfinite(values) & (values <= 0) & ~c.missing_code_rows
    if not bad.any():
        return None
    n_zero = int((values[bad] == 0).sum())
    kind = "zero or negative" if n_zero and n_zero < bad.sum() else "zero" if n_zero else "negative"
    return Finding(f"{kind} RT(s) (min {values[bad].min():g})", bad)


def unknown_response_code(c):
    values = c.values
    unknown = np.isfinite(values) & ~np.isin(values, (0.0, 1.0, -1.0))
    if not unknown.any():
        return None
    codes = pd.Series(values[unknown]).value_counts().sort_index()
    listed = ", ".join(f"{fmt(v)} ({n} row{'s' if n > 1 else ''})" for v, n in codes.items())
    return Finding(f"unknown response code(s) {listed}; expected 1 (upper) and 0 or -1 (lower)",
                   unknown)


def mixed_lower_codes(c):
    ok = np.isfinite(c.values)
    has_zero = ok & (c.values == 0)
    has_minus = ok & (c.values == -1)
    if not (has_zero.any() and has_minus.any()):
        return None
    return Finding("response codes mix 0 and -1 (the lower boundary is 0 in HDDM's coding and -1 "
                   "in HSSM's)", has_minus)


def codes_other_than(*allowed):
    """A check that the column holds only the codes ``allowed``."""
    def check(c):
        bad = np.isfinite(c.values) & ~np.isin(c.values, allowed)
        if not bad.any():
            return None
        found = ", ".join(fmt(v) for v in np.unique(c.values[bad])[:MAX_LISTED])
        return Finding(f"unknown code(s) {found}; expected " + " / ".join(fmt(a) for a in allowed),
                       bad)
    return check


# ---------------------------------------------------------------------------------------------
# Fixes: each says, in the caller's spelling, what to do about a finding.


def fill_or_drop(c, finding):
    spell = c.context.spell
    if not spell.python:
        return "Remove or fill in these rows in the file"
    drop = f".dropna(subset=[{c.name!r}])"
    if not c.context.from_file:
        return f"Drop or fill in these rows (e.g. df{drop})"
    return ("Remove or fill in these rows in the file, or read it with pandas, drop them (raw"
            + drop + ") and pass the frame to from_dataframe")


def correct_or_mark_missing(c, finding):
    if not c.context.spell.python:
        return "Correct these entries in the file, or remove these trials"
    return ("Correct these entries; if they mark missing trials, pass na_values=["
            + ", ".join(repr(v) for v in finding.found[:3]) + "] and drop those rows before "
            "fitting")


def name_the_unit(c, finding):
    spell = c.context.spell
    return f"Pass {spell.value('rt_unit', 's')} or {spell.value('rt_unit', 'ms')}"


def drop_coded_trials(c, finding):
    spell = c.context.spell
    real = f"if they are real RTs pass {spell.value('missing_codes', ())}"
    if not spell.python:
        return f"Drop these trials from the file before fitting; {real}"
    return (f"Drop these trials before fitting, e.g. raw[~raw[{c.name!r}].isin(["
            f"{', '.join(finding.found)}])]"
            + (" with the file read by pandas, then from_dataframe" if c.context.from_file
               else "")
            + f"; {real}")


def remove_non_positive(c, finding):
    return ("RTs must be positive: remove these trials, or check the column is the RT and not a "
            "difference or a code")


def recode_responses(c, finding):
    spell = c.context.spell
    return (f"Recode the responses to 1 / 0{_RECODE_RECIPE if spell.python else ''}; for "
            f"accuracy-coded data pass {spell.placeholder('correct', '<column>')} (and "
            f"{spell.placeholder('stimulus', '<column>')} for stimulus coding)")


def one_lower_code(c, finding):
    return "Use one coding for the whole file"


def code_accuracy(c, finding):
    return "Code accuracy as 1 (correct) and 0 (error)"


def code_stimulus(c, finding):
    # Words in a code column are a coding to map, not missing values to drop.
    recipe = (", e.g. df[col].map({'left': 0, 'right': 1}), and pass the DataFrame to "
              "from_dataframe" if c.context.spell.python else " in the file")
    return ("Code the stimulus as 1 (the stimulus whose correct response is the upper boundary) "
            "and 0 (or -1)" + recipe)


#: The value checks, in the order their problems are reported.
COLUMN_RULES = (
    Rule("rt", not_a_number, correct_or_mark_missing),
    Rule("rt", missing_or_infinite, fill_or_drop),
    Rule("rt", unit_undecidable, name_the_unit),
    Rule("rt", missing_data_code, drop_coded_trials),
    Rule("rt", not_positive, remove_non_positive),
    Rule("response", not_a_number, correct_or_mark_missing),
    Rule("response", missing_or_infinite, fill_or_drop),
    Rule("response", unknown_response_code, recode_responses),
    Rule("response", mixed_lower_codes, one_lower_code),
    Rule("correct", not_a_number, code_accuracy),
    Rule("correct", missing_or_infinite, fill_or_drop),
    Rule("correct", codes_other_than(0.0, 1.0), code_accuracy),
    Rule("stimulus", not_a_number, code_stimulus),
    Rule("stimulus", missing_or_infinite, fill_or_drop),
    Rule("stimulus", codes_other_than(0.0, 1.0, -1.0), code_stimulus),
    Rule("subject", missing_value, fill_or_drop),
    Rule("conditions", missing_value, fill_or_drop),
)

"""From data as read to the canonical layout, in three stages, each reporting all its problems at
once: the columns exist (:mod:`._columns`), their values pass the rules (:mod:`._rules`), the
subjects and cells have enough trials (:mod:`._cells`)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._cells import Cells, check_cells
from ._columns import locate_columns
from ._problems import DataError, DataWarning
from ._responses import accuracy_response, choice_response
from ._rules import COLUMN_RULES, Column, Context, apply_rules, as_numbers
from ._units import decide_unit

#: Columns of the canonical layout, in order.
CANONICAL = ("rt", "response", "subj_idx")

# Assumptions that every re-validation of canonical data would add again, saying nothing new.
_TRIVIAL = ("rt in seconds detected", "response 'response' coded 1/0")

# An RT above this many seconds is legal but usually a unit or outlier issue.
_LONG_RT = 30


def canonical(df, source, rows, *, rt, response, subject, correct, stimulus, rt_unit,
              missing_codes, min_trials, conditions, require_both_responses, from_file, spell,
              prior=None):
    """Validate ``df`` into the canonical layout with its record (see :func:`read_csv`).

    ``rows`` names rows in messages, ``from_file`` says whether fixes may speak of the file, and
    ``prior`` is the record of data validated before, whose assumptions are kept.
    """
    if rt_unit not in ("auto", "s", "ms"):
        raise ValueError(f"rt_unit must be 'auto', 's' or 'ms', got {rt_unit!r}")
    conditions = [conditions] if isinstance(conditions, str) else list(conditions or [])
    roles = _roles(rt, response, correct, stimulus)
    wanted = list(roles.items()) + [("conditions", c) for c in conditions]
    subject, problems, assumptions = locate_columns(df, wanted, subject, spell)
    if problems:
        raise DataError(source, problems)
    if subject is None:
        assumptions.append("no subject column: all trials from one subject, subj_idx = 0")
    else:
        roles["subject"] = subject

    codes = np.asarray(list(missing_codes), dtype=float)
    unit = decide_unit(as_numbers(df[rt]), codes, rt_unit)
    context = Context(rows=rows, spell=spell, from_file=from_file, unit=unit, missing_codes=codes)
    columns = {role: [Column(role, name, df[name], context)] for role, name in roles.items()}
    columns["conditions"] = [Column("conditions", c, df[c], context) for c in conditions]
    problems = apply_rules(COLUMN_RULES, columns)
    if problems:
        raise DataError(source, problems)
    rt_values = columns["rt"][0].values
    assumptions += unit.assumptions
    notes = list(unit.notes)

    if correct is None:
        resp, coding = choice_response(columns["response"][0].values, response)
    else:
        stim = columns["stimulus"][0].values if stimulus is not None else None
        resp, coding = accuracy_response(columns["correct"][0].values, correct, stim, stimulus)
        if response in df.columns and response not in (correct, stimulus):
            notes.append(f"column {response!r} replaced by the response built from {correct!r}; "
                         f"the original is kept as {response + '_orig'!r}")
    assumptions.append(coding)
    out, renamed = _assemble(df, rt_values / 1000.0 if unit.ms else rt_values, resp, subject,
                             used={rt, response if correct is None else None, subject})
    notes += [f"column {c!r} is not the one used for {c!r}: kept as {n!r}"
              for c, n in renamed.items() if not (c == response and correct is not None)]

    problems, cell_notes = check_cells(Cells(
        out, conditions, "subj_idx" if subject is None else subject, min_trials,
        require_both_responses, rows, spell))
    if problems:
        raise DataError(source, problems)
    notes += cell_notes
    long = out["rt"] > _LONG_RT
    if long.any() and not any("are these" in w for w in notes):
        notes.append(f"{int(long.sum())} RT(s) above {_LONG_RT} s (max {out['rt'].max():g} s): "
                     "check units and outliers")

    record = {
        "source": source,
        "columns": {"rt": rt, "response": correct if correct is not None else response,
                    "subj_idx": subject},
        "rt_unit": "ms" if unit.ms else "s",
        "conditions": conditions,
        "n_trials": int(len(out)),
        "n_subjects": int(out["subj_idx"].nunique()),
        "assumptions": assumptions,
        "warnings": notes,
        "rows": rows.to_record(),
    }
    record, new_notes = _merge_prior(record, prior)
    for w in new_notes:
        warnings.warn(f"{source}: {w}", DataWarning, stacklevel=3)
    out.attrs["sdekit"] = record
    return out


def _roles(rt, response, correct, stimulus):
    """The columns the values come from, by role, in the order they are checked."""
    if correct is None:
        if stimulus is not None:
            raise ValueError("stimulus= is used with correct= (accuracy-coded data); for "
                             "choice-coded data pass response= only")
        return {"rt": rt, "response": response}
    roles = {"rt": rt, "correct": correct}
    if stimulus is not None:
        roles["stimulus"] = stimulus
    return roles


def _assemble(df, rt_seconds, resp, subject, used):
    """The canonical frame, and the input columns renamed because they had a canonical name."""
    # One constructor call: adding columns one by one costs more than all the checks.
    columns_out = {
        "rt": rt_seconds,
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
    return pd.DataFrame(columns_out, index=df.index, copy=False), renamed


def _merge_prior(record, prior):
    """The record of data validated again keeps what was read and assumed the first time; the
    warnings to issue are only the new ones."""
    if prior is None:
        return record, record["warnings"]
    assumptions = prior["assumptions"] + [
        a for a in record["assumptions"]
        if a not in prior["assumptions"] and not a.startswith(_TRIVIAL)]
    fresh = [w for w in record["warnings"] if w not in prior.get("warnings", [])]
    merged = dict(record, assumptions=assumptions,
                  warnings=list(prior.get("warnings", [])) + fresh,
                  columns=prior.get("columns", record["columns"]),
                  rt_unit=prior.get("rt_unit", record["rt_unit"]))
    return merged, fresh

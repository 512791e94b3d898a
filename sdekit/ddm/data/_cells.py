"""Checks per subject and per subject x condition cell: enough trials, both responses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ._problems import OptionNames
from ._rows import Rows


@dataclass
class Cells:
    """The subject x condition cells of canonical data, and what the cell rules need."""

    out: pd.DataFrame
    conditions: list
    subject_column: str
    min_trials: int | None
    require_both_responses: bool
    rows: Rows
    spell: OptionNames

    @property
    def keys(self):
        return ["subj_idx"] + self.conditions

    @cached_property
    def counts(self):
        """Trials and upper-boundary responses per cell (two dicts keyed by the cell)."""
        return cell_counts(self.out, self.keys)

    @cached_property
    def per_subject(self):
        totals = {}
        for key, n in self.counts[0].items():
            totals[key[0]] = totals.get(key[0], 0) + n
        return totals

    def name(self, key):
        text = f"subject {key[0]!r}"
        for c, v in zip(self.conditions, key[1:], strict=True):
            text += f", {c}={v!r}"
        return text

    def mask(self, key):
        mask = np.ones(len(self.out), dtype=bool)
        for k, v in zip(self.keys, key, strict=True):
            mask &= (self.out[k] == v).to_numpy()
        return mask


def check_cells(cells):
    """Problems and warnings from :data:`CELL_RULES`, in order."""
    problems, notes = [], []
    for rule in CELL_RULES:
        found, noted = rule(cells)
        problems += found
        notes += noted
    return problems, notes


def subjects_with_few_trials(cells):
    if not cells.min_trials:
        return [], []
    problems = []
    for s, n in cells.per_subject.items():
        if n < cells.min_trials:
            idx = np.flatnonzero((cells.out["subj_idx"] == s).to_numpy())
            problems.append(cells.rows.problem(
                idx, f"subject {s!r} has {n} trial(s), fewer than min_trials={cells.min_trials}",
                column=cells.subject_column,
                fix=f"Exclude this subject, or lower {cells.spell.name('min_trials')} (estimates "
                    "from so few trials are unreliable)"))
    return problems, []


def cells_with_few_trials(cells):
    if not (cells.min_trials and cells.conditions):
        return [], []
    problems = []
    for key, n in cells.counts[0].items():
        # A subject with too few trials in all is reported once, as a subject.
        if n < cells.min_trials and cells.per_subject[key[0]] >= cells.min_trials:
            problems.append(cells.rows.problem(
                cells.mask(key),
                f"{cells.name(key)} has {n} trial(s), fewer than min_trials={cells.min_trials}",
                column=", ".join(cells.conditions),
                fix="Merge or drop this condition for the subject, or lower "
                    + cells.spell.name("min_trials")))
    return problems, []


def cells_with_one_response(cells):
    problems, notes = [], []
    spell = cells.spell
    sizes, n_up = cells.counts
    for key, n in sizes.items():
        k_up = n_up[key]
        if 0 < k_up < n:
            continue
        only = "upper (1)" if k_up == n else "lower (0)"
        what = f"{cells.name(key)} has only {only} responses ({n} trials)"
        if cells.require_both_responses:
            problems.append(cells.rows.problem(
                cells.mask(key), what, column="response",
                fix="Both responses are needed to separate drift from boundary: merge "
                    "conditions, fix the parameters shared across cells, or drop the cell"))
        elif spell.has("require_both_responses"):
            notes.append(what + ": its parameters are weakly identified (pass "
                         f"{spell.value('require_both_responses', True)} to make this an error)")
        else:
            notes.append(what + ": its parameters are weakly identified")
    return problems, notes


#: The cell checks, in the order their problems are reported.
CELL_RULES = (subjects_with_few_trials, cells_with_few_trials, cells_with_one_response)


def cell_counts(out, keys):
    """Trials and upper-boundary responses per cell of ``keys`` (no missing values): two dicts
    keyed by tuples of the cell's values (Python scalars, as messages print them), sorted."""
    counts = out.groupby(keys, sort=True, observed=True)["response"].agg(["size", "sum"])
    cells = [k if isinstance(k, tuple) else (k,) for k in counts.index.tolist()]
    sizes = counts["size"].tolist()
    ups = counts["sum"].tolist()
    return (dict(zip(cells, sizes, strict=True)), dict(zip(cells, ups, strict=True)))

"""Finding the columns a reading uses: each named one must exist, and the subject column may be
recognised by its name."""

from __future__ import annotations

import difflib

from ._problems import Problem

# Names people give the subject column: without a subject column, a file with one of these is not
# pooled silently as one subject.
_SUBJECT_LIKE = {
    "subject", "subjects", "subj", "sub", "subj_id", "subject_id", "subjectid", "participant",
    "participant_id", "participantid", "pid", "ppt", "id", "sid", "subj_idx", "subject_idx",
}

#: Subject columns used without being named, when ``subj_idx`` is absent and exactly one column
#: looks like a subject identifier: the names HSSM, BIDS and most lab software write.
RECOGNISED_SUBJECT_COLUMNS = ("participant_id", "subject", "subj", "id")

_SEPARATORS = ((";", "';'"), ("\t", "'\\t'"), ("|", "'|'"))


def locate_columns(df, wanted, subject, spell):
    """Check that the columns exist and settle the subject column.

    Parameters
    ----------
    df : pandas.DataFrame
        The data as read.
    wanted : list of (str, str)
        ``(argument, column)`` pairs that must be columns of ``df``, in the order problems are
        reported.
    subject : str or None
        The ``subject`` argument.
    spell : OptionNames
        How the caller spells arguments in fixes.

    Returns
    -------
    subject : str or None
        The subject column to use (None: one subject).
    problems : list of Problem
    assumptions : list of str
        What was assumed about the subject column.
    """
    columns = list(df.columns)
    problems = [_column_problem(name, argument, columns, spell)
                for argument, name in wanted if name not in df.columns]
    if problems and len(columns) == 1 and "sep=" in problems[0].fix:
        # One wrong separator, not several missing columns.
        problems[0].what = f"not found (the whole header was read as one column, {columns[0]!r})"
        problems = problems[:1]
    assumptions = []
    if subject is not None and subject not in df.columns:
        if subject == "subj_idx":
            subject, p = _default_subject(df, spell, assumptions)
        else:
            p = _column_problem(subject, "subject", columns, spell)
        if p is not None:
            problems.append(p)
    return subject, problems, assumptions


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
        for sep, sep_name in _SEPARATORS:
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

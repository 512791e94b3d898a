"""How a problem in the data is reported: where, what, and a fix spelt for the caller."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

#: At most this many rows are listed in a message, then "and N more".
MAX_LISTED = 5


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
            parts.append(format_rows(self.rows, self.n_rows, self.row_word))
        where = ", ".join(parts)
        text = f"{where}: {self.what}" if where else self.what
        if self.fix:
            text = f"{text}. {self.fix}"
        return text



_PLURAL = {"line": "lines", "data row": "data rows", "row with index": "rows with index"}


def format_rows(rows, n_total, word):
    """``lines 2, 3 and 4 more``: the first rows of a problem, in the words the user reads."""
    shown = ", ".join(str(r) for r in rows[:MAX_LISTED])
    text = f"{_PLURAL.get(word, word) if n_total > 1 else word} {shown}"
    if n_total > MAX_LISTED:
        text += f" and {n_total - MAX_LISTED} more"
    return text

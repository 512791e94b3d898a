"""Reading a CSV file into a DataFrame: one clear error for each way a file can be unreadable."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pandas as pd

from ._problems import DataError, Problem

_TAB = "\t"


def read_frame(path, source, kwargs, spell):
    """The file as :func:`pandas.read_csv` reads it with ``kwargs``; a :class:`DataError` for a
    missing, empty, unparsable or wrongly encoded file, or one with a header and no rows."""
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

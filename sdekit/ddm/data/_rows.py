"""Row references: how a user finds a row (CSV line number, data row number, or index label)."""

from __future__ import annotations

import csv

import numpy as np

from ._problems import MAX_LISTED, Problem


class Rows:
    """Translate row positions of the data into what the user sees."""

    def __init__(self, kind, lines=None, index=None):
        self.kind = kind          # "line": CSV line numbers; "row": data row number; "index"
        self.lines = lines        # line number of each data row (kind == "line")
        self.index = index        # index labels (kind == "index")
        self.positions = None     # original row positions, after relabel (kind == "row")

    @property
    def word(self):
        return {"line": "line", "row": "data row", "index": "row with index"}[self.kind]

    def refs(self, positions):
        positions = np.asarray(positions, dtype=np.int64)
        if self.kind == "line":
            return [int(self.lines[p]) for p in positions]
        if self.kind == "row":
            base = self.positions
            return [int(p if base is None else base[p]) + 1 for p in positions]
        return [self.index[p] for p in positions]

    def problem(self, mask_or_positions, what, column=None, fix=""):
        pos = np.asarray(mask_or_positions)
        if pos.dtype == bool:
            pos = np.flatnonzero(pos)
        return Problem(what=what, column=column, rows=self.refs(pos[:MAX_LISTED]),
                       n_rows=int(pos.size), row_word=self.word, fix=fix)

    def relabel(self, labels):
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


def csv_line_numbers(path, n_rows, kwargs):
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


def rows_from_record(df):
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
        return Rows("line", lines=runs[j, 1] + positions - runs[j, 0])
    if kind == "row":
        return Rows("row").relabel(positions)
    return Rows("index", index=list(df.index))

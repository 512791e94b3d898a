"""Fast outliers: response times that no DDM with a plausible non-decision time explains.

Without a contaminant process every RT must exceed ``t0``, so one anticipatory response of a few
milliseconds caps ``t0`` below it and drags the whole fit with it. The rule that flags such trials
is deliberately simple and scale-free, so it can be stated in one sentence:

* an RT below :data:`FAST_RT_FLOOR` (0.1 s: faster than the shortest stimulus-to-response loop
  reported in choice tasks), or
* an RT far below the bulk of its own unit's RTs: ``log rt < Q1 - 3 IQR`` of that unit's log RTs
  (Tukey's "far out" fence on the log scale, where RT distributions are close to symmetric; for a
  typical spread it lies near a sixth of the median RT).

Nothing here removes a trial: the fitter reports the flagged trials and what they do to ``t0``;
:func:`exclude_fast` removes RTs below a cut when the user asks for it (``min_rt``), and records
that it did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._problems import MAX_LISTED
from ._rows import rows_from_record

#: RTs below this (seconds) are flagged whatever the rest of the data look like.
FAST_RT_FLOOR = 0.1
#: Width of the fence below the first quartile of log RT, in interquartile ranges.
FAST_RT_FENCE_IQR = 3.0


def fast_rt_mask(rt):
    """Boolean mask of the fast outliers among one unit's RTs (seconds), by the module's rule."""
    rt = np.asarray(rt, dtype=float)
    mask = rt < FAST_RT_FLOOR
    ok = rt > 0
    if ok.sum() >= 8:
        q1, q3 = np.percentile(np.log(rt[ok]), [25.0, 75.0])
        fence = q1 - FAST_RT_FENCE_IQR * (q3 - q1)
        mask |= ok & (np.log(np.where(ok, rt, 1.0)) < fence)
    return mask


def fast_outliers(df, by=None):
    """The trials of ``df`` flagged as fast outliers, with the rows a user finds them by.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical data (from :func:`read_csv` or :func:`from_dataframe`).
    by : str, optional
        Column whose levels are judged separately (usually ``"subj_idx"``); ``None`` judges all
        trials together.

    Returns
    -------
    pandas.DataFrame
        One row per flagged trial: ``by`` (when given), ``row`` (the CSV line number, or the data
        row number or index label for a DataFrame, as in :class:`DataError`), ``rt`` (s), and
        ``reason``; indexed by the trials' labels in ``df``. Empty when nothing is flagged.
        ``attrs["row_word"]`` says what ``row`` counts ("line", "data row", "row with index").
    """
    rows = rows_from_record(df)
    rt = df["rt"].to_numpy(dtype=float)
    groups = [(None, np.arange(rt.size))] if by is None else [
        (key, np.flatnonzero((df[by] == key).to_numpy())) for key in pd.unique(df[by])]
    found = []
    for key, pos in groups:
        flagged = pos[fast_rt_mask(rt[pos])]
        for p in flagged:
            reason = (f"below {FAST_RT_FLOOR:g} s" if rt[p] < FAST_RT_FLOOR
                      else "far below the bulk of its RTs (log rt < Q1 - 3 IQR)")
            found.append({**({} if by is None else {by: key}), "row": rows.refs([p])[0],
                          "rt": float(rt[p]), "reason": reason, "_label": df.index[p]})
    columns = ([] if by is None else [by]) + ["row", "rt", "reason"]
    if found:
        out = pd.DataFrame(found).set_index("_label")[columns]
        out.index.name = None
    else:
        out = pd.DataFrame(columns=columns)
    out.attrs["row_word"] = rows.word
    return out


def describe_rows(pairs, word="line"):
    """``"line 59 (0.005 s)"`` for (row, rt) pairs: the first few of several, then a count.

    ``word`` is how the rows go by (``Rows.word``: "line", "data row", "row with index").
    """
    pairs = list(pairs)
    shown = ", ".join(f"{row} ({rt:.3g} s)" for row, rt in pairs[:MAX_LISTED])
    more = f" and {len(pairs) - MAX_LISTED} more" if len(pairs) > MAX_LISTED else ""
    plural = {"row with index": "rows with index"}.get(word, word + "s")
    return f"{word if len(pairs) == 1 else plural} {shown}{more}"


def exclude_fast(df, min_rt):
    """``df`` without the trials whose RT is below ``min_rt`` seconds, the exclusion recorded.

    The record's assumptions (``df.attrs["sdekit"]["assumptions"]``, printed by
    :func:`describe` and carried to the fit results) say how many trials were excluded and
    which rows they were, so the cut is never silent.
    """
    min_rt = float(min_rt)
    if not np.isfinite(min_rt) or min_rt <= 0:
        raise ValueError(f"min_rt must be a positive number of seconds, got {min_rt!r}")
    drop = df["rt"].to_numpy(dtype=float) < min_rt
    rec = dict(df.attrs.get("sdekit", {}))
    rows = rows_from_record(df)
    kept = df[~drop].copy()
    n = int(drop.sum())
    if n:
        pos = np.flatnonzero(drop)
        pairs = zip(rows.refs(pos), df["rt"].to_numpy(float)[pos], strict=True)
        note = (f"excluded {n} trial{'s' if n > 1 else ''} with RT below min_rt = {min_rt:g} s "
                f"({describe_rows(pairs, rows.word)})")
    else:
        note = f"min_rt = {min_rt:g} s: no trial had a faster RT, none excluded"
    rec["assumptions"] = list(rec.get("assumptions", [])) + [note]
    if "n_trials" in rec:
        rec["n_trials"] = int(len(kept))
    kept.attrs["sdekit"] = rec
    return kept

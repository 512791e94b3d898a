"""Uses of the record canonical data carry: naming rows after filtering, describing the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._problems import DataError
from ._rows import rows_from_record


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
    rows = rows_from_record(df)
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

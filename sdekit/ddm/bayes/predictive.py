"""Posterior predictive checks: RT quantiles per response and cell, observed beside simulated,
and the quantile-probability plot of them."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["quantile_table", "qp_plot"]


def _cell_stats(frame, quantiles):
    """Per response: its probability and RT quantiles (NaN where the cell has no such trial)."""
    rows = []
    n = len(frame)
    for resp in (1, 0):
        rts = frame.loc[frame["response"] == resp, "rt"].to_numpy(dtype=float)
        rows.append((resp, "p", len(rts) / n if n else np.nan))
        qs = np.quantile(rts, quantiles) if len(rts) else np.full(len(quantiles), np.nan)
        rows += [(resp, f"{q:g}", float(x)) for q, x in zip(quantiles, qs, strict=True)]
    return rows


def quantile_table(data, sims, by, quantiles, interval):
    """Observed statistics per cell beside the mean and central interval over simulated sets."""
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    missing = [c for c in by if c not in data.columns]
    if missing:
        raise ValueError(f"by: the data have no column(s) {missing} (columns: "
                         f"{', '.join(map(str, data.columns))})")
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    cells = data.groupby(by, sort=True) if by else [((), data)]
    out = []
    for key, observed in cells:
        key = key if isinstance(key, tuple) else (key,)
        mask = np.ones(len(sims), bool)
        for col, value in zip(by, key, strict=True):
            mask &= (sims[col] == value).to_numpy()
        simulated = [_cell_stats(g, quantiles) for _s, g in sims[mask].groupby("sample")]
        sim_values = np.array([[r[2] for r in rows] for rows in simulated])
        for j, (resp, stat, value) in enumerate(_cell_stats(observed, quantiles)):
            col = sim_values[:, j]
            col = col[np.isfinite(col)]
            row = dict(zip(by, key, strict=True))
            row.update(response=resp, statistic=stat, observed=value,
                       mean=float(col.mean()) if len(col) else np.nan,
                       low=float(np.quantile(col, lo)) if len(col) else np.nan,
                       high=float(np.quantile(col, hi)) if len(col) else np.nan)
            out.append(row)
    return pd.DataFrame(out)


def qp_plot(table, by, path=None):
    """Quantile-probability plot: each cell's RT quantiles against its response probability,
    the data as points and the posterior predictive's interval as bars."""
    from sdekit.ddm.plots import _finish, _mpl

    plt = _mpl()
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    groups = table.groupby(by + ["response"], sort=True) if by else table.groupby("response")
    for _key, g in groups:
        p = g.loc[g["statistic"] == "p"]
        qs = g.loc[g["statistic"] != "p"]
        x_obs, x_sim = float(p["observed"].iloc[0]), float(p["mean"].iloc[0])
        ax.errorbar(np.full(len(qs), x_sim), qs["mean"],
                    yerr=[qs["mean"] - qs["low"], qs["high"] - qs["mean"]], fmt="_",
                    color="tab:blue", alpha=0.7, capsize=3)
        ax.plot(np.full(len(qs), x_obs), qs["observed"], "o", color="black", ms=4)
    ax.plot([], [], "o", color="black", ms=4, label="data")
    ax.errorbar([], [], yerr=[], fmt="_", color="tab:blue", label="posterior predictive")
    ax.set_xlabel("response probability")
    ax.set_ylabel("RT quantile (s)")
    ax.set_xlim(-0.02, 1.02)
    ax.legend(frameon=False, loc="upper left")
    ax.set_title("quantile-probability plot" + (f" by {', '.join(by)}" if by else ""))
    return _finish(fig, path)

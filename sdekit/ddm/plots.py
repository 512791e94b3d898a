"""Plots of DDM fits: quantile-probability plots and RT histograms with the fitted densities.

matplotlib is imported on first use (``pip install 'sdekit[plot]'``) with the non-interactive Agg
backend, so plots can be written to PNG files on machines without a display.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_fit", "plot_collection", "qp_plot", "rt_histogram"]

QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
MAX_CELLS = 8
MAX_SUBJECTS = 12


def _mpl():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'sdekit[plot]'") from None
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _grid(res, rt):
    hi = float(np.quantile(rt, 0.995)) * 1.2 if rt.size else 3.0
    return np.linspace(0.0, max(hi, 0.5), 400)[1:]


def _model_curves(res, pars, grid):
    """Defective densities and CDFs of both responses on ``grid`` (contaminant included)."""
    if hasattr(res, "model_curves"):  # generalized models compute their own
        return res.model_curves(pars, grid)
    from sdekit.ddm import density

    kw = {k: float(pars[k]) for k in ("v", "a", "z", "t0", "sv", "sz", "st")}
    out = {}
    po = res.p_outlier or 0.0
    data = res.data()
    span = max(float(data.rt.max() - data.rt.min()), 1e-3)
    lo = float(data.rt.min())
    for r in (1, 0):
        pdf = density.pdf(grid, r, **kw)
        cdf = density.cdf(grid, r, **kw)
        pr = float(density.prob_upper(kw["v"], kw["a"], kw["z"], kw["sv"], kw["sz"]))
        pr = pr if r == 1 else 1 - pr
        out[r] = mix_contaminant(pdf, cdf, pr, grid, po, lo, span)
    return out


def mix_contaminant(pdf, cdf, prob, grid, p_outlier, lo, span):
    """A response's ``(pdf, cdf, probability)`` on ``grid`` mixed with the uniform contaminant:
    probability ``p_outlier``, uniform over ``[lo, lo + span]``, either response with
    probability 1/2 (the fitters' contaminant)."""
    if not p_outlier:
        return pdf, cdf, prob
    inside = (grid >= lo) & (grid <= lo + span)
    return ((1 - p_outlier) * pdf + p_outlier * 0.5 * inside / span,
            (1 - p_outlier) * cdf + p_outlier * 0.5 * np.clip((grid - lo) / span, 0, 1),
            (1 - p_outlier) * prob + p_outlier * 0.5)


def curves_from_densities(densities, probabilities, grid, p_outlier=0.0, rt_range=None):
    """``{response: (pdf, cdf, probability)}`` from each response's defective density on
    ``grid`` (CDF by the trapezoid rule), contaminant mixed in: what models without closed-form
    CDFs hand to the plots."""
    lo, hi = rt_range if rt_range is not None else (0.0, 1.0)
    out = {}
    for r, pdf in densities.items():
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
        out[r] = mix_contaminant(pdf, cdf, probabilities[r], grid, p_outlier, lo,
                                 max(hi - lo, 1e-3))
    return out


def _model_quantiles(grid, cdf, pr):
    if pr <= 1e-9:
        return np.full(len(QUANTILES), np.nan)
    frac = np.maximum.accumulate(cdf / pr)
    return np.interp(QUANTILES, frac, grid, left=np.nan, right=np.nan)


def qp_plot(res, ax=None):
    """Quantile-probability plot: RT quantiles (0.1 ... 0.9) of each response against its
    probability, in every condition; data as points, the fitted model as crosses joined by lines.

    Parameters
    ----------
    res : DDMResults
    ax : matplotlib Axes, optional
    """
    plt = _mpl()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    data = res.data()
    cells = res.cell_params()
    for label in list(cells.index)[:MAX_CELLS]:
        d = data[data.cell == label]
        grid = _grid(res, d.rt.to_numpy())
        curves = _model_curves(res, cells.loc[label], grid)
        for r in (1, 0):
            rts = d.rt[d.response == r].to_numpy()
            p_obs = rts.size / max(len(d), 1)
            if rts.size >= 5:
                ax.plot(np.full(5, p_obs), np.quantile(rts, QUANTILES), "o", color="C0",
                        alpha=0.8, ms=4)
            _, cdf, pr = curves[r]
            qm = _model_quantiles(grid, cdf, pr)
            ax.plot(np.full(5, pr), qm, "x", color="C3", ms=5)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("response probability (each response, each condition)")
    ax.set_ylabel("RT quantile (s)")
    ax.set_title("quantile-probability: data o, model x")
    return ax


def rt_histogram(res, cell=None, ax=None, bins=40):
    """Histogram of RTs, upper-boundary responses above the axis and lower ones mirrored below,
    with the fitted defective densities.

    Parameters
    ----------
    res : DDMResults
    cell : str, optional
        Condition cell label (see ``res.cell_params().index``); default the first.
    """
    plt = _mpl()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    data = res.data()
    cells = res.cell_params()
    label = cells.index[0] if cell is None else cell
    d = data[data.cell == label]
    grid = _grid(res, d.rt.to_numpy())
    curves = _model_curves(res, cells.loc[label], grid)
    edges = np.linspace(0.0, grid[-1], bins + 1)
    width = edges[1] - edges[0]
    n = max(len(d), 1)
    for r, sign, colour in ((1, 1.0, "C0"), (0, -1.0, "C1")):
        counts, _ = np.histogram(d.rt[d.response == r], bins=edges)
        ax.bar(edges[:-1], sign * counts / (n * width), width=width, align="edge",
               color=colour, alpha=0.45, label=f"response {r} (data)")
        ax.plot(grid, sign * curves[r][0], color=colour, lw=1.6)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("RT (s)")
    ax.set_ylabel("defective density (lower mirrored)")
    ax.set_title(str(label) if label != "all" else "RT distributions and fitted densities")
    return ax


def plot_fit(res, path=None, kind="both"):
    """Plot one fit: the quantile-probability plot and an RT histogram per condition.

    Parameters
    ----------
    res : DDMResults
    path : str or path-like, optional
        Write the figure there as PNG (and close it); otherwise return it.
    kind : {"both", "qp", "hist"}

    Returns
    -------
    matplotlib.figure.Figure or pathlib.Path
    """
    plt = _mpl()
    labels = list(res.cell_params().index)[:MAX_CELLS]
    panels = (["qp"] if kind in ("both", "qp") else []) + (
        [("hist", lab) for lab in labels] if kind in ("both", "hist") else [])
    if not panels:
        raise ValueError(f"kind must be 'both', 'qp' or 'hist', got {kind!r}")
    ncol = min(3, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.6 * nrow), squeeze=False)
    for ax, panel in zip(axes.ravel(), panels, strict=False):
        if panel == "qp":
            qp_plot(res, ax=ax)
        else:
            rt_histogram(res, cell=panel[1], ax=ax)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if res.key is not None:
        fig.suptitle(f"subject {res.key}")
    fig.tight_layout()
    return _finish(fig, path)


def plot_collection(fits, path=None, kind="both"):
    """One row of panels per subject (the first 12) of a :class:`FitCollection`."""
    plt = _mpl()
    keys = list(fits.keys())[:MAX_SUBJECTS]
    first = fits[keys[0]]
    labels = list(first.cell_params().index)[:MAX_CELLS]
    ncol = (1 if kind in ("both", "qp") else 0) + (len(labels) if kind in ("both", "hist")
                                                    else 0)
    if ncol == 0:
        raise ValueError(f"kind must be 'both', 'qp' or 'hist', got {kind!r}")
    fig, axes = plt.subplots(len(keys), ncol, figsize=(4.2 * ncol, 3.2 * len(keys)),
                             squeeze=False)
    for row, key in zip(axes, keys, strict=True):
        res = fits[key]
        col = 0
        if kind in ("both", "qp"):
            qp_plot(res, ax=row[0])
            row[0].set_title(f"{fits.by} {key}: quantile-probability")
            col = 1
        if kind in ("both", "hist"):
            for lab, ax in zip(labels, row[col:], strict=False):
                if lab in res.cell_params().index:
                    rt_histogram(res, cell=lab, ax=ax)
                    ax.set_title(f"{fits.by} {key}: {lab}")
    fig.tight_layout()
    return _finish(fig, path)


def _finish(fig, path):
    if path is None:
        return fig
    import matplotlib.pyplot as plt

    from sdekit._io import atomic_write

    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    finally:
        plt.close(fig)

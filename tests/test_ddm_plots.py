"""Plots of DDM fits are written as PNG files, for single fits and for collections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from sdekit.ddm.fitting import fit  # noqa: E402
from sdekit.ddm.sampling import sample_ddm  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fits():
    parts = []
    for s in range(2):
        for i, (level, v) in enumerate((("easy", 1.8), ("hard", 0.6))):
            rt, resp = sample_ddm(200, v, 1.4, 0.5, 0.3, seed=10 * s + i)
            parts.append(pd.DataFrame({"rt": rt, "response": resp, "stim": level,
                                       "subj_idx": s}))
    data = pd.concat(parts, ignore_index=True)
    return fit(data, depends_on={"v": "stim"}, by="subj_idx", n_jobs=1, progress=False)


def test_single_fit_png(fits, tmp_path):
    out = fits[0].plot(tmp_path / "one.png")
    assert out.read_bytes()[:8] == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png"]  # no temporary left


def test_collection_png(fits, tmp_path):
    out = fits.plot(tmp_path / "all.png")
    assert out.read_bytes()[:8] == PNG


def test_figure_returned_and_kinds(fits):
    import matplotlib.pyplot as plt

    fig = fits[1].plot(kind="qp")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 1
    plt.close(fig)
    fig = fits[1].plot(kind="hist")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="kind must be"):
        fits[1].plot(kind="violin")


def test_fitted_density_matches_histogram_mass(fits):
    from sdekit.ddm.plots import _model_curves

    res = fits[0]
    pars = res.cell_params().iloc[0]
    grid = np.linspace(0.0, 20.0, 20001)[1:]
    curves = _model_curves(res, pars, grid)
    total = sum(np.trapezoid(curves[r][0], grid) for r in (0, 1))
    assert total == pytest.approx(1.0, abs=1e-3)

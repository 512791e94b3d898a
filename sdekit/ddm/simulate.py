"""Decision trials from any one-dimensional SDE between absorbing boundaries, on the engine.

:func:`sdekit.ddm.sampling.sample_ddm` draws the standard (full) DDM exactly. Everything else —
time-varying drift, leak, collapsing bounds, your own SDE — is simulated here through
:func:`sdekit.sde.solve`, whose bridge-corrected first-passage times carry no O(sqrt(dt))
overshoot, on the CPU, a CUDA GPU or with torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdekit.sde import Boundaries, DriftDiffusion, solve
from sdekit.sde.random import check_seed

__all__ = ["simulate_sde", "simulate_ddm_euler", "condition_cells"]


def condition_cells(n, conditions, seed):
    """The cells a model's ``simulate`` runs: ``(cell, cell_seed)`` pairs.

    Parameters
    ----------
    n : int
        Trials per cell (checked to be positive).
    conditions : dict or pandas.DataFrame or None
        One cell's condition values, or a DataFrame with one row per cell.
    seed : int or None
        The caller's seed (None: fresh entropy, drawn once for all cells).

    Returns
    -------
    list of (dict, int)
        Each cell's values (all of its columns) and its own seed; the first cell's seed is
        ``seed`` itself, the others are spread by the golden-ratio increment (mod 2**64).
    """
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    seed = check_seed(seed)
    if isinstance(conditions, pd.DataFrame):
        cells = conditions.to_dict("records")
    else:
        cells = [dict(conditions or {})]
    return [(cell, (seed + i * 0x9E3779B97F4A7C15) % 2**64) for i, cell in enumerate(cells)]


def simulate_sde(sde, boundaries, x0, n, *, t0=0.0, dt=1e-3, t_max=20.0, params=None,
                 seed=None, backend="numba", st=0.0):
    """Simulate decision trials of a 1-D SDE between absorbing boundaries.

    Parameters
    ----------
    sde : sdekit.sde.SDE
        The accumulator, e.g. :class:`sdekit.sde.DriftDiffusion` or one written by you.
    boundaries : sdekit.sde.Boundaries
        Upper (response 1) and lower (response 0) boundaries, constant or moving.
    x0 : float or array_like, shape (n,)
        Starting point(s), absolute (between the boundaries).
    n : int
        Number of trials.
    t0 : float
        Non-decision time added to each decision time (seconds).
    dt : float
        Time step (seconds). First-passage times are bridge-corrected within steps.
    t_max : float
        Longest decision time simulated; trials still undecided then get ``rt = NaN`` and
        ``response = -1`` (and are counted in ``df.attrs["undecided"]``).
    params : dict or array_like, optional
        SDE parameters, one row per trial for across-trial variability.
    seed : int, optional
    backend : {"numba", "cuda", "torch"}
    st : float
        Width of a uniform non-decision window [t0, t0 + st] (seconds).

    Returns
    -------
    pandas.DataFrame
        Columns ``rt`` (seconds) and ``response`` (1 upper, 0 lower, -1 undecided).
    """
    if not isinstance(boundaries, Boundaries):
        raise TypeError("boundaries must be an sdekit.sde.Boundaries object")
    if not (np.isfinite(t0) and t0 >= 0) or not (np.isfinite(st) and st >= 0):
        raise ValueError(f"t0 and st must be finite and non-negative, got t0={t0}, st={st}")
    if not t_max > 0:
        raise ValueError(f"t_max must be positive, got {t_max}")
    seed = check_seed(seed)
    sol = solve(sde, x0, [0.0, float(t_max)], dt=dt, n_paths=int(n), params=params,
                boundaries=boundaries, save="final", seed=seed, backend=backend)
    decided = sol.boundary != 0
    non_decision = np.full(sol.n_paths, float(t0))
    if st > 0:
        # A stream family of its own, so the decision noise stays that of `seed`.
        from sdekit.sde.random import uniforms

        non_decision += st * uniforms(seed ^ 0x5354, sol.n_paths, 1)[:, 0]
    rt = np.where(decided, sol.first_passage_time + non_decision, np.nan)
    response = np.where(decided, (sol.boundary == 1).astype(np.int64), -1)
    frame = pd.DataFrame({"rt": rt, "response": response})
    frame.attrs["undecided"] = int((~decided).sum())
    frame.attrs["seed"] = seed
    return frame


def simulate_ddm_euler(n, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0, *, dt=1e-3,
                       t_max=20.0, seed=None, backend="numba"):
    """The (full) DDM simulated on the engine rather than sampled exactly.

    Same parameters and conventions as :class:`sdekit.ddm.DDM`; per-trial drift, start and
    non-decision time are drawn for sv, sz and st. Useful to check the engine against the exact
    sampler, and on a GPU.
    """
    from sdekit.ddm._params import validate_params

    p = {k: float(x) for k, x in validate_params(v=v, a=a, z=z, t0=t0, sv=sv, sz=sz,
                                                  st=st).items()}
    seed = check_seed(seed)
    n = int(n)
    from sdekit.sde.random import normals, uniforms

    extra = normals(seed ^ 0x5356, n, 1)[:, 0]
    drift = p["v"] + p["sv"] * extra
    start = p["a"] * (p["z"] + p["sz"] * (uniforms(seed ^ 0x535A, n, 1)[:, 0] - 0.5))
    params = np.column_stack([drift, np.ones(n)])
    return simulate_sde(DriftDiffusion(), Boundaries(upper=p["a"], lower=0.0), start, n,
                        t0=p["t0"], dt=dt, t_max=t_max, params=params, seed=seed,
                        backend=backend, st=p["st"])

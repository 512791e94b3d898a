"""``solve``: the one entry point that integrates an SDE on any backend."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

from .backends import resolve_backend
from .backends._kernels import RNGS
from .chunked import run_in_chunks
from .events import Boundaries
from .model import SDE
from .problem import Problem, run_problem
from .random import check_seed
from .schemes import get_scheme

__all__ = ["solve", "Solution"]



@dataclass
class Solution:
    """The result of :func:`solve`.

    Attributes
    ----------
    times : ndarray, shape (n_save,)
        Times at which states were saved.
    states : ndarray, shape (n_paths, n_save, dim)
        Saved states. An absorbed path keeps its boundary level after absorption.
    first_passage_time : ndarray, shape (n_paths,) or None
        Time of absorption (NaN for paths still inside at the end); None without boundaries.
    boundary : ndarray of int8, shape (n_paths,) or None
        +1 upper boundary, -1 lower, 0 not absorbed; None without boundaries.
    component : ndarray of int16, shape (n_paths,) or None
        Which component was absorbed (-1 if none): for several accumulators racing to a
        boundary, the winner. None without boundaries.
    seed : int
        The seed used (drawn at random when none was given), so every run can be repeated.
    method, backend : str
        Scheme and backend used.
    n_steps : int
        Number of time steps taken per path.
    """

    times: np.ndarray
    states: np.ndarray
    first_passage_time: np.ndarray | None
    boundary: np.ndarray | None
    component: np.ndarray | None
    seed: int
    method: str
    backend: str
    n_steps: int

    @property
    def final(self):
        """States at the last saved time, shape (n_paths, dim)."""
        return self.states[:, -1, :]

    @property
    def n_paths(self):
        return self.states.shape[0]

    def to_pandas(self, what=None):
        """A tidy DataFrame.

        Parameters
        ----------
        what : {"states", "first_passage"}, optional
            ``"states"``: one row per path and saved time with columns ``path``, ``time`` and
            ``x`` (or ``x0``, ``x1``, ... for several dimensions). ``"first_passage"``: one row per
            path with ``path``, ``first_passage_time``, ``boundary`` (and ``component`` for
            several dimensions). Defaults to
            ``"first_passage"`` when boundaries were used.
        """
        import pandas as pd

        if what is None:
            what = "states" if self.boundary is None else "first_passage"
        if what == "first_passage":
            if self.boundary is None:
                raise ValueError("this solution has no boundaries, so no first-passage times")
            frame = pd.DataFrame({"path": np.arange(self.n_paths),
                                  "first_passage_time": self.first_passage_time,
                                  "boundary": self.boundary})
            if self.states.shape[2] > 1:
                frame["component"] = self.component
            return frame
        if what != "states":
            raise ValueError(f"what must be 'states' or 'first_passage', got {what!r}")
        n_paths, n_save, dim = self.states.shape
        data = {"path": np.repeat(np.arange(n_paths), n_save),
                "time": np.tile(self.times, n_paths)}
        names = ["x"] if dim == 1 else [f"x{k}" for k in range(dim)]
        for k, name in enumerate(names):
            data[name] = self.states[:, :, k].ravel()
        return pd.DataFrame(data)


def _check_times(times, dt):
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size < 2:
        raise ValueError(
            f"times must be a 1-D array of at least two increasing times, got shape {times.shape}"
        )
    if not np.all(np.isfinite(times)):
        raise ValueError("times must be finite")
    if np.any(np.diff(times) <= 0):
        bad = int(np.argmax(np.diff(times) <= 0))
        raise ValueError(
            f"times must be strictly increasing; times[{bad}]={times[bad]} is followed by "
            f"times[{bad + 1}]={times[bad + 1]}"
        )
    if dt is None:
        return times, np.arange(times.size)
    if not isinstance(dt, numbers.Real) or not dt > 0 or not math.isfinite(dt):
        raise ValueError(f"dt must be a positive number, got {dt!r}")
    gaps = np.diff(times)
    # Tolerance so that (1.0 - 0.0) / 0.1 is ten steps, not eleven.
    per_gap = np.maximum(1, np.ceil(gaps / dt * (1 - 1e-12)).astype(np.int64))
    save_at = np.concatenate([[0], np.cumsum(per_gap)])
    grid = np.empty(save_at[-1] + 1)
    for k in range(gaps.size):
        grid[save_at[k]:save_at[k + 1]] = times[k] + gaps[k] * (
            np.arange(per_gap[k]) / per_gap[k]
        )
    grid[-1] = times[-1]
    return grid, save_at


def _check_x0(x0, sde, n_paths):
    x0 = np.asarray(x0, dtype=np.float64)
    d = sde.dim
    if x0.ndim == 0:
        x0 = np.full((1, d), float(x0))
    elif x0.ndim == 1 and x0.size == d:
        x0 = x0[None, :]
    elif x0.ndim == 1 and d == 1 and x0.size == n_paths:
        x0 = x0[:, None]
    elif x0.ndim == 2 and x0.shape[1] == d and x0.shape[0] in (1, n_paths):
        pass
    else:
        raise ValueError(
            f"x0 has shape {x0.shape}; for a {d}-dimensional SDE give a number, a vector of "
            f"length {d}, or an array of shape (n_paths={n_paths}, {d})"
        )
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 must be finite")
    return np.ascontiguousarray(x0)


def _check_memory(n_bytes):
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: no check
        return
    if n_bytes > 0.8 * available:
        raise ValueError(
            f"the saved states would need {n_bytes / 2**30:.1f} GiB but only "
            f"{available / 2**30:.1f} GiB of memory is free; save fewer times (save='final' "
            "keeps one state per path) or simulate fewer paths per call"
        )


def prepare(sde, x0, times, *, dt=None, method="euler_maruyama", n_paths=1, params=None,
            boundaries=None, save="all", seed=None, bridge=True, rng="xoshiro"):
    """Validate the arguments of :func:`solve` into a :class:`Problem`."""
    if rng not in RNGS:
        raise ValueError(f"rng must be one of {', '.join(repr(r) for r in RNGS)}, got {rng!r}")
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be an sdekit SDE, got {type(sde).__name__}")
    if not isinstance(n_paths, numbers.Integral) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive integer, got {n_paths!r}")
    scheme = get_scheme(method)
    scheme.check(sde)
    grid, save_at = _check_times(times, dt)
    if save == "final":
        save_at = save_at[-1:]
    elif save != "all":
        raise ValueError(f"save must be 'all' or 'final', got {save!r}")
    x0 = _check_x0(x0, sde, n_paths)
    p = sde.resolve_params(params, n_paths)
    _check_memory(int(n_paths) * save_at.size * sde.dim * 8)
    if boundaries is not None:
        if not isinstance(boundaries, Boundaries):
            raise TypeError("boundaries must be an sdekit Boundaries object")
        start, stop = boundaries.watched(sde.dim)
        up, lo = boundaries.levels(grid[0])
        watched = x0[:, start:stop]
        outside = (watched >= up) | (watched <= lo)
        if np.any(outside):
            row, col = np.argwhere(outside)[0]
            raise ValueError(
                f"x0={watched[row, col]} (component {start + col}) does not lie strictly between "
                f"the boundaries ({lo}, {up}) at t={grid[0]}"
            )
        q = np.ascontiguousarray(boundaries.params, dtype=np.float64)
    else:
        q = np.zeros(1)
    return Problem(sde=sde, scheme=scheme, boundaries=boundaries, x0=x0, grid=grid,
                   save_at=save_at.astype(np.int64), params=p, boundary_params=q,
                   n_paths=int(n_paths), seed=check_seed(seed), bridge=bool(bridge),
                   rng=rng)


def solve(sde, x0, times, *, dt=None, method="euler_maruyama", n_paths=1, params=None,
          boundaries=None, save="all", backend="numba", seed=None, device=None, bridge=True,
          progress=False, scheduler=None, chunk_paths=None, rng="xoshiro"):
    """Integrate an SDE over many paths with fixed steps.

    Parameters
    ----------
    sde : SDE
        The equation (see :class:`sdekit.sde.SDE` and the built-in models).
    x0 : float or array_like
        Initial state: a number, a vector of shape (dim,), or one row per path (n_paths, dim).
    times : array_like, shape (n_times,)
        Strictly increasing times; integration runs from ``times[0]`` to ``times[-1]`` and the
        state is saved at each of them.
    dt : float, optional
        Largest step. Each interval of ``times`` is cut into equal steps no longer than ``dt``.
        Without it the steps are exactly the intervals of ``times``: nothing is chosen for you.
    method : {"euler_maruyama", "milstein", "heun"}
        The scheme (see :mod:`sdekit.sde.schemes` for orders and requirements).
    n_paths : int
        Number of independent paths.
    params : dict or array_like, optional
        Parameters overriding the SDE's defaults: a dict by name, a vector, or one row per path
        (shape (n_paths, n_params)) for a sweep. Values never trigger recompilation.
    boundaries : Boundaries, optional
        Absorbing boundaries (1-D SDEs); fills ``first_passage_time`` and ``boundary``.
    save : {"all", "final"}
        ``"final"`` keeps only the last state, so memory stays O(n_paths) however many steps.
    backend : {"numba", "cuda", "torch"}
        Where to run: Numba on all CPU cores, one CUDA thread per path, or batched torch tensors
        (``"cpu"`` and ``"gpu"`` are aliases of the first two; see
        :func:`sdekit.sde.backends.resolve_backend`).
    seed : int, optional
        Fixes every draw: path i's noise depends on (seed, i) only, so results do not depend on
        thread count or device (torch excepted: see :mod:`sdekit.sde.backends.torch`). None
        (the default, as for every function that draws samples) draws a seed from fresh
        entropy; the seed used is recorded in ``Solution.seed`` either way.
    device : str or torch.device, optional
        torch device, for ``backend="torch"`` only (default: CUDA when available, else CPU).
    bridge : bool
        Correct first-passage times for crossings between grid points (default). ``False``
        checks only the grid points and dates a hit at the end of its step, as plain
        Euler–Maruyama simulators do; it exists for comparison.
    progress : bool
        Show a progress bar over chunks of paths (the result does not change).
    scheduler : str or distributed.Client, optional
        Run chunks of paths as Dask tasks: ``"local"`` starts a local cluster on this machine,
        an address such as ``"tcp://10.0.0.1:8786"`` uses a running cluster, and a Client is
        used as it is. Needs ``pip install "sdekit[dask]"``. Because every path's noise depends
        on (seed, path) only, the result is identical to a run on one machine.
    chunk_paths : int, optional
        Paths per chunk for ``progress`` and ``scheduler`` (default: about 20 chunks).
    rng : {"xoshiro", "philox"}
        Generator of the noise. ``"xoshiro"`` (the default): per-path xoshiro256++ streams with
        ziggurat normals (:mod:`sdekit.sde.random`), the numbers every earlier release gave.
        ``"philox"``: counter-based Philox4x32-10 with Box–Muller normals
        (:mod:`sdekit.sde.philox`), where draw k of path i is a pure function of (seed, i, k),
        identical bit for bit on every backend, torch included. Crossing draws near a boundary
        come from the keyed event streams with either.

    Returns
    -------
    Solution
    """
    backend_name, device = resolve_backend(backend, device)
    problem = prepare(sde, x0, times, dt=dt, method=method, n_paths=n_paths, params=params,
                      boundaries=boundaries, save=save, seed=seed, bridge=bridge, rng=rng)
    problem.options["backend"] = backend_name
    problem.options["device"] = device
    if scheduler is not None or progress:
        states, fpt, hit = run_in_chunks(problem, scheduler=scheduler, progress=progress,
                                         chunk_paths=chunk_paths)
    else:
        states, fpt, hit = run_problem(problem)
    grid = problem.grid
    return Solution(
        times=grid[problem.save_at], states=states,
        first_passage_time=fpt if problem.bounded else None,
        boundary=np.sign(hit).astype(np.int8) if problem.bounded else None,
        component=(np.abs(hit) - 1).astype(np.int16) if problem.bounded else None,
        seed=problem.seed,
        method=problem.scheme.name, backend=backend_name, n_steps=grid.size - 1,
    )

"""The integration problem as the backends receive it, and the dispatch to a backend.

This module sits below both :mod:`sdekit.sde.solve` (which validates arguments into a
:class:`Problem`) and :mod:`sdekit.sde.chunked` (which runs a problem's chunks of paths anywhere):
each of them hands a problem to :func:`run_problem`, and neither needs the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .events import Boundaries
from .model import SDE
from .schemes import Scheme

__all__ = ["Problem", "run_problem"]


@dataclass
class Problem:
    """A validated integration problem, as the backends receive it.

    Attributes
    ----------
    sde : SDE
    scheme : Scheme
    boundaries : Boundaries or None
    x0 : ndarray, shape (1 or n_paths, dim)
        Initial states: one row for all paths or one per path.
    grid : ndarray, shape (n_steps + 1,)
        Step times (units of the SDE's time).
    save_at : ndarray of int64, shape (n_save,)
        Indices into ``grid`` whose states are kept.
    params : ndarray, shape (1 or n_paths, n_params)
        SDE parameters: one row for all paths or one per path.
    boundary_params : ndarray, shape (n_boundary_params,)
    n_paths : int
    seed : int
        The seed actually used (never None).
    first_path : int
        Index of the first path: a chunk of paths start..stop has ``first_path = start``, so
        its draws are those of the whole run.
    bridge : bool
        Whether first passages are bridge-corrected.
    rng : {"xoshiro", "philox"}
        Generator of the main noise (see :func:`sdekit.sde.solve`).
    options : dict
        ``backend`` (canonical name) and, for torch, ``device``.
    """

    sde: SDE
    scheme: Scheme
    boundaries: Boundaries | None
    x0: np.ndarray
    grid: np.ndarray
    save_at: np.ndarray
    params: np.ndarray
    boundary_params: np.ndarray
    n_paths: int
    seed: int
    first_path: int = 0
    bridge: bool = True
    rng: str = "xoshiro"
    options: dict = field(default_factory=dict)

    @property
    def bounded(self):
        return self.boundaries is not None

    def chunk(self, start, stop):
        """The sub-problem of paths start..stop-1; their results equal those of the whole."""
        def rows(values):
            return values[start:stop] if values.shape[0] > 1 else values

        return Problem(sde=self.sde, scheme=self.scheme, boundaries=self.boundaries,
                       x0=np.ascontiguousarray(rows(self.x0)), grid=self.grid,
                       save_at=self.save_at, params=np.ascontiguousarray(rows(self.params)),
                       boundary_params=self.boundary_params, n_paths=stop - start,
                       seed=self.seed, first_path=self.first_path + start, bridge=self.bridge,
                       rng=self.rng, options=self.options)

    def kernel_inputs(self):
        """The Numba kernels' inputs, in their order (before the output arrays)."""
        return (self.x0, self.grid, np.sqrt(np.diff(self.grid)), self.save_at, self.params,
                self.boundary_params, np.uint64(self.seed), np.int64(self.first_path),
                self.bounded, self.bridge)


def run_problem(problem):
    """Run a prepared problem on its backend; returns (states, first-passage times, sides)."""
    name = problem.options["backend"]
    if name == "numba":
        from .backends import numba_cpu as impl
    elif name == "cuda":
        from .backends import numba_cuda as impl
    else:
        from .backends import torch as impl
    return impl.run(problem)

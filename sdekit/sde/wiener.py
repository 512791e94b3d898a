"""Wiener processes dX = sqrt(D) dW: exact Gaussian increments, correlated dimensions, bridges."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .random import check_seed, next_normal, seed_state

__all__ = ["WienerProcess"]


@nb.njit(cache=True, parallel=True)
def _sample_paths(seed, times, x0, scale, out):
    """out[i, k] = x0 + sum of exact increments; ``scale`` = sqrt(D)-weighted Cholesky factor."""
    n_paths, n_times, dim = out.shape
    for i in nb.prange(n_paths):
        state = seed_state(seed, i)
        z = np.empty(dim)
        start = np.int64(i) if x0.shape[0] > 1 else 0
        for d in range(dim):
            out[i, 0, d] = x0[start, d]
        for k in range(1, n_times):
            sqrt_dt = math.sqrt(times[k] - times[k - 1])
            for d in range(dim):
                state, z[d] = next_normal(state)
            for d in range(dim):
                increment = 0.0
                for e in range(d + 1):
                    increment += scale[d, e] * z[e]
                out[i, k, d] = out[i, k - 1, d] + sqrt_dt * increment


class WienerProcess:
    """Brownian motion dX = sqrt(D) dW in ``dim`` dimensions, optionally correlated.

    Parameters
    ----------
    dim : int
        Number of dimensions.
    D : float or array_like, shape (dim,)
        Diffusion coefficient(s): Var[X_t - X_0] = D t per component (units of x^2 per time).
    corr : array_like, shape (dim, dim), optional
        Correlation matrix of the driving noise (symmetric, positive definite, unit diagonal).

    Examples
    --------
    >>> import numpy as np, sdekit as sk
    >>> W = sk.WienerProcess(dim=2, D=0.5)
    >>> paths = W.sample(np.linspace(0, 1, 11), n_paths=1000, seed=0)
    >>> paths.shape
    (1000, 11, 2)
    """

    def __init__(self, dim=1, D=1.0, corr=None):
        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        D = np.broadcast_to(np.asarray(D, dtype=np.float64), (dim,)).copy()
        if not np.all(np.isfinite(D)) or np.any(D < 0):
            raise ValueError(f"D must be finite and non-negative, got {D.tolist()}")
        if corr is None:
            corr = np.eye(dim)
        corr = np.asarray(corr, dtype=np.float64)
        if corr.shape != (dim, dim):
            raise ValueError(f"corr must have shape ({dim}, {dim}), got {corr.shape}")
        if not np.allclose(corr, corr.T) or not np.allclose(np.diag(corr), 1.0):
            raise ValueError("corr must be symmetric with ones on the diagonal")
        try:
            chol = np.linalg.cholesky(corr)
        except np.linalg.LinAlgError:
            raise ValueError("corr must be positive definite") from None
        self.dim = int(dim)
        self.D = D
        self.corr = corr
        self._scale = np.ascontiguousarray(np.sqrt(D)[:, None] * chol)

    def covariance(self, t):
        """Cov[X_t - X_0], shape (dim, dim)."""
        s = np.sqrt(self.D)
        return t * self.corr * np.outer(s, s)

    def _check(self, times, n_paths, x0):
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1 or times.size < 1 or not np.all(np.isfinite(times)):
            raise ValueError("times must be a 1-D array of finite times")
        if np.any(np.diff(times) <= 0):
            raise ValueError("times must be strictly increasing")
        if not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
            raise ValueError(f"n_paths must be a positive integer, got {n_paths!r}")
        x0 = np.asarray(x0, dtype=np.float64)
        if x0.ndim == 0:
            x0 = np.full((1, self.dim), float(x0))
        elif x0.shape == (self.dim,):
            x0 = x0[None, :]
        elif x0.shape != (n_paths, self.dim):
            raise ValueError(
                f"x0 must be a number, shape ({self.dim},) or ({n_paths}, {self.dim}); "
                f"got {x0.shape}"
            )
        return times, np.ascontiguousarray(x0)

    def sample(self, times, n_paths=1, seed=None, x0=0.0):
        """Paths observed at ``times``, with exact increments.

        Parameters
        ----------
        times : array_like, shape (n_times,)
            Strictly increasing observation times; X(times[0]) = x0.
        n_paths : int
        seed : int, optional
            Path i depends on (seed, i) only. None draws a seed from fresh entropy; the array
            returned does not record it, so pass a seed to repeat a draw.
        x0 : float or array_like
            Start: a number, shape (dim,), or (n_paths, dim).

        Returns
        -------
        ndarray, shape (n_paths, n_times, dim)
        """
        times, x0 = self._check(times, n_paths, x0)
        out = np.empty((int(n_paths), times.size, self.dim))
        _sample_paths(np.uint64(check_seed(seed)), times, x0, self._scale, out)
        return out

    def bridge(self, times, end, n_paths=1, seed=None, x0=0.0):
        """Brownian bridges from x0 at ``times[0]`` to ``end`` at ``times[-1]``.

        Uses B(t) = W(t) - (t - t_0) / (T - t_0) * (W(T) - end), which has the bridge's law
        for any correlation and diffusion coefficients.

        Returns
        -------
        ndarray, shape (n_paths, n_times, dim)
        """
        times, _ = self._check(times, n_paths, x0)
        if times.size < 2:
            raise ValueError("a bridge needs at least two times")
        end = np.broadcast_to(np.asarray(end, dtype=np.float64), (self.dim,))
        paths = self.sample(times, n_paths, seed, x0)
        weight = ((times - times[0]) / (times[-1] - times[0]))[None, :, None]
        return paths - weight * (paths[:, -1:, :] - end[None, None, :])

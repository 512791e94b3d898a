"""Itô SDEs dX = f(t, X, p) dt + g(t, X, p) dW, their coefficients and the built-in models.

Coefficients come in two forms:

*elementwise*
    ``f(t, x, p) -> float`` for one component ``x`` (a float); every component follows the same
    law with its own (diagonal) noise. The same function compiles with Numba for the CPU and CUDA
    and runs on whole torch tensors, so the built-in models are written once for every backend.
*vector*
    ``f(t, x, p, out)`` writes the drift of the state ``x`` (shape ``(dim,)``) into ``out``
    (shape ``(dim,)``); ``g(t, x, p, out)`` writes the diffusion into ``out`` of shape ``(dim,)``
    for scalar and diagonal noise or ``(dim, noise_dim)`` for general noise. Numba-compilable.
    The torch backend needs separate batched functions ``torch_drift(t, x, p)`` returning
    ``(n, dim)`` and ``torch_diffusion(t, x, p)`` returning ``(n, dim)`` or ``(n, dim, noise_dim)``.

In both forms ``p`` is the parameter vector of one path (a 1-D float array) and is data: changing
its values never recompiles anything.
"""

from __future__ import annotations

import numbers

import numba as nb
import numpy as np

from .reverse import reverse_coefficients

__all__ = [
    "SDE",
    "BrownianMotion",
    "OrnsteinUhlenbeck",
    "GeometricBrownianMotion",
    "DriftDiffusion",
]

NOISE_KINDS = ("scalar", "diagonal", "general", "none")


def _as_compiled(fn, name):
    if fn is None:
        return None
    if not callable(fn):
        raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
    if hasattr(fn, "py_func"):
        return fn
    return nb.njit(fn)


class SDE:
    """An Itô stochastic differential equation dX = f(t, X, p) dt + g(t, X, p) dW.

    Parameters
    ----------
    drift : callable
        f, numba-compilable, in the form given by ``elementwise``.
    diffusion : callable or None
        g; ``None`` makes the equation an ODE (``noise="none"``).
    dim : int
        Dimension d of the state.
    noise : {"diagonal", "scalar", "general", "none"}
        Structure of g: ``diagonal`` gives each component its own Wiener process, ``scalar``
        drives every component with one, ``general`` uses a (d, m) matrix and m Wiener processes.
    noise_dim : int, optional
        m for general noise.
    params : array_like or dict, optional
        Default parameter values. A dict also names them (in order).
    elementwise : bool
        Whether the coefficients are elementwise (see module docs) or vector functions.
    diffusion_dx : callable, optional
        Elementwise ``dg/dx`` (same form as ``diffusion``), needed by the Milstein scheme.
    torch_drift, torch_diffusion : callable, optional
        Batched torch versions of vector-form coefficients (elementwise ones need none).
    name : str, optional
        Name used in messages and reprs.
    cacheable : bool
        Internal: the coefficients are library code whose compiled kernels may be cached on disk.

    Notes
    -----
    User-written coefficient functions are compiled once per process; the built-in models are
    compiled once per machine (Numba's on-disk cache).
    """

    def __init__(
        self,
        drift,
        diffusion=None,
        *,
        dim=1,
        noise=None,
        noise_dim=None,
        params=(),
        elementwise=False,
        diffusion_dx=None,
        torch_drift=None,
        torch_diffusion=None,
        name=None,
        cacheable=False,
    ):
        if not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if noise is None:
            noise = "none" if diffusion is None else "diagonal"
        if noise not in NOISE_KINDS:
            raise ValueError(f"noise must be one of {NOISE_KINDS}, got {noise!r}")
        if (noise == "none") != (diffusion is None):
            raise ValueError("give a diffusion function exactly when noise is not 'none'")
        if noise == "general":
            if elementwise:
                raise ValueError("general (matrix) noise needs vector-form coefficients")
            if not isinstance(noise_dim, numbers.Integral) or noise_dim < 1:
                raise ValueError("general noise needs noise_dim, the number of Wiener processes")
        elif noise_dim not in (None, {"scalar": 1, "none": 0}.get(noise, dim)):
            raise ValueError(f"noise_dim={noise_dim} does not fit {noise} noise in dim {dim}")
        self.dim = int(dim)
        self.noise = noise
        self.noise_dim = {"scalar": 1, "diagonal": self.dim, "none": 0}.get(noise, noise_dim)
        self.elementwise = bool(elementwise)
        if isinstance(params, dict):
            self.param_names = tuple(params)
            params = list(params.values())
        else:
            self.param_names = None
        self.params = np.atleast_1d(np.asarray(params, dtype=np.float64)).ravel()
        if self.param_names is None:
            self.param_names = tuple(f"p{i}" for i in range(self.params.size))
        self.drift = _as_compiled(drift, "drift")
        self.diffusion = _as_compiled(diffusion, "diffusion")
        self.diffusion_dx = _as_compiled(diffusion_dx, "diffusion_dx")
        self.torch_drift = torch_drift
        self.torch_diffusion = torch_diffusion
        self.name = name or type(self).__name__
        self.cacheable = bool(cacheable)

    # -- parameters --------------------------------------------------------------------------
    def resolve_params(self, params=None, n_paths=None):
        """Parameters as a C-contiguous array of shape (1, n_params) or (n_paths, n_params).

        ``params`` may be None (the defaults), a dict of named overrides, a vector, or a matrix
        with one row per path (a parameter sweep).
        """
        if params is None:
            values = self.params[None, :]
        elif isinstance(params, dict):
            unknown = set(params) - set(self.param_names)
            if unknown:
                raise ValueError(
                    f"unknown parameter(s) {sorted(unknown)} for {self.name}; "
                    f"its parameters are {list(self.param_names)}"
                )
            values = self.params.copy()
            for key, value in params.items():
                values[self.param_names.index(key)] = value
            values = values[None, :]
        else:
            values = np.asarray(params, dtype=np.float64)
            if values.ndim == 1:
                values = values[None, :]
        if values.ndim != 2 or values.shape[1] != self.params.size:
            raise ValueError(
                f"params for {self.name} must have {self.params.size} value(s) per path "
                f"({', '.join(self.param_names) or 'none'}), got shape {np.shape(params)}"
            )
        if n_paths is not None and values.shape[0] not in (1, n_paths):
            raise ValueError(
                f"params has {values.shape[0]} rows; give one row or one per path ({n_paths})"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"params for {self.name} must be finite")
        return np.ascontiguousarray(values)

    # -- time reversal -----------------------------------------------------------------------
    def reverse(self, score, *, t_end, score_params=(), torch_score=None,
                probability_flow=False):
        """The reverse-time SDE, as an ordinary SDE in the reversed clock s = t_end - t.

        For elementwise coefficients with diagonal noise the reverse process Y(s) = X(t_end - s)
        solves

            dY = [-f(t_end - s, Y) + g^2(t_end - s, Y) * score(t_end - s, Y)] ds + g dW(s)

        (Anderson 1982; Song et al. 2021). Any backend solves it like any other SDE. Its
        parameters are ``[forward parameters..., t_end, score parameters...]``, all data: the
        compiled kernel is shared by every horizon and every parameter vector of the score.

        Parameters
        ----------
        score : callable
            Numba-compilable ``score(t, x, q, out)`` writing grad_x log p_t(x) (shape (dim,)),
            with its own parameter vector ``q`` (``score_params``); or None when only the torch
            backend is used.
        t_end : float
            Time at which the forward process is reversed (the reverse clock starts there).
        score_params : array_like
            Parameters of the score, any number; they follow the SDE's own parameters and
            ``t_end``.
        torch_score : callable, optional
            Batched ``torch_score(t, x, q) -> (n, dim)`` for the torch backend (``t`` a float,
            ``q`` a tensor of shape (rows, n_score_params)).
        probability_flow : bool
            Build the probability-flow ODE (drift -f + g^2 score / 2, no noise) instead; solve it
            with ``method="heun"``.
        """
        return SDE(**reverse_coefficients(self, score, t_end, score_params, torch_score,
                                          probability_flow))

    def __repr__(self):
        params = ", ".join(f"{n}={v:g}" for n, v in zip(self.param_names, self.params, strict=True))
        return f"{self.name}(dim={self.dim}, noise={self.noise!r}, {params})"


# -- built-in models: elementwise coefficients, compiled once per machine ----------------------


@nb.njit(cache=True)
def _constant_drift(t, x, p):
    return p[0]


# Constant coefficients return the parameter itself, not `p + 0 * x`: torch broadcasts it, and
# the multiplication would sit on every step's critical path (the compiler may not drop 0 * x).
@nb.njit(cache=True)
def _constant_diffusion(t, x, p):
    return p[1]


@nb.njit(cache=True)
def _zero_derivative(t, x, p):
    return 0.0


@nb.njit(cache=True)
def _ou_drift(t, x, p):
    return p[0] * (p[1] - x)


@nb.njit(cache=True)
def _ou_diffusion(t, x, p):
    return p[2]


@nb.njit(cache=True)
def _gbm_drift(t, x, p):
    return p[0] * x


@nb.njit(cache=True)
def _gbm_diffusion(t, x, p):
    return p[1] * x


@nb.njit(cache=True)
def _gbm_diffusion_dx(t, x, p):
    return p[1]


class BrownianMotion(SDE):
    """Brownian motion with drift: dX = mu dt + sigma dW in each of ``dim`` components.

    Parameters ``mu`` (units of x per unit time) and ``sigma`` (x per sqrt time).
    """

    def __init__(self, mu=0.0, sigma=1.0, dim=1):
        super().__init__(
            _constant_drift, _constant_diffusion, dim=dim, params={"mu": mu, "sigma": sigma},
            elementwise=True, diffusion_dx=_zero_derivative, cacheable=True,
        )


class DriftDiffusion(BrownianMotion):
    """The one-dimensional drift-diffusion (decision) SDE dX = v dt + s dW.

    Parameters ``v`` (drift rate) and ``s`` (noise scale, 1 by convention). Use it with
    absorbing boundaries (:class:`sdekit.sde.Boundaries`) for first-passage problems.
    """

    def __init__(self, v=0.0, s=1.0):
        super().__init__(v, s, dim=1)
        self.param_names = ("v", "s")


class OrnsteinUhlenbeck(SDE):
    """dX = theta (mu - X) dt + sigma dW, componentwise.

    Parameters ``theta`` (mean-reversion rate, 1/time), ``mu`` (long-run mean), ``sigma``.
    """

    def __init__(self, theta=1.0, mu=0.0, sigma=1.0, dim=1):
        super().__init__(
            _ou_drift, _ou_diffusion, dim=dim,
            params={"theta": theta, "mu": mu, "sigma": sigma},
            elementwise=True, diffusion_dx=_zero_derivative, cacheable=True,
        )

    def mean(self, t, x0):
        """E[X_t | X_0 = x0]."""
        theta, mu, _ = self.params
        return mu + (np.asarray(x0) - mu) * np.exp(-theta * np.asarray(t))

    def var(self, t):
        """Var[X_t | X_0] per component."""
        theta, _, sigma = self.params
        return sigma**2 / (2 * theta) * (1 - np.exp(-2 * theta * np.asarray(t)))


class GeometricBrownianMotion(SDE):
    """dX = mu X dt + sigma X dW, componentwise; X_t = X_0 exp((mu - sigma^2/2) t + sigma W_t)."""

    def __init__(self, mu=0.0, sigma=1.0, dim=1):
        super().__init__(
            _gbm_drift, _gbm_diffusion, dim=dim, params={"mu": mu, "sigma": sigma},
            elementwise=True, diffusion_dx=_gbm_diffusion_dx, cacheable=True,
        )

    def exact(self, t, x0, w):
        """The exact solution given the driving Wiener value ``w`` at time ``t``."""
        mu, sigma = self.params
        return x0 * np.exp((mu - 0.5 * sigma**2) * t + sigma * w)

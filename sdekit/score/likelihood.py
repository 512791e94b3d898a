"""Log-likelihood of data under a score model, through the probability-flow ODE.

The probability-flow ODE dx/dt = v(t, x) = f(t, x) - g(t)^2 / 2 * score(t, x) carries the
marginal p_t of the forward SDE to p_T (Song et al. 2021). Along one of its solutions
d/dt log p_t(x(t)) = -div v(t, x(t)) (the instantaneous change of variables, Chen et al. 2018),
so for data x at time t_eps

    log p_{t_eps}(x) = log p_T(x(T)) + integral_{t_eps}^{T} div v(t, x(t)) dt,

with the prior standing in for p_T. The state and the integral form one augmented ODE, which
:func:`log_likelihood` integrates from t_eps up to T with Heun steps through the engine's
``solve`` (torch backend, ``method="heun"``); the divergence comes from autograd.

The divergence is either exact (``exact_trace=True``: one vector-Jacobian product per
dimension) or Hutchinson's estimate eps^T (dv/dx) eps with random probes eps of identity
covariance (Hutchinson 1989; FFJORD, Grathwohl et al. 2019). Each sample keeps its probes for
the whole path, and the path x(t) does not depend on them, so averaging over probes gives an
unbiased estimate of exactly what the exact trace gives with the same steps.

A :class:`~sdekit.score.Velocity` (a flow-matching model's, or a mixture's exact one) is v
itself, so the same ODE gives the likelihood of flow models: on the OT path
(:class:`~sdekit.score.OTPathSDE`) the prior at t = 1 is the law of X_1 exactly.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..sde import SDE, solve
from ..sde.random import check_seed, child_seed, normals, uniforms
from .sampling import time_grid
from .sdes import DiffusionSDE, OTPathSDE
from .targets import Velocity, as_score

__all__ = ["log_likelihood", "bits_per_dim", "LikelihoodResult"]

_PROBE_TAG = 0x4855_5443
_PROBES = ("rademacher", "gaussian")


@dataclass
class LikelihoodResult:
    """Details of :func:`log_likelihood` (``return_details=True``).

    Attributes
    ----------
    log_p : ndarray, shape (n,)
        log p(x) in nats: ``prior_log_p + delta.mean(1)``.
    delta : ndarray, shape (n, n_probes)
        integral of div v along each path, per probe (one column for the exact trace).
    std_error : ndarray, shape (n,)
        Standard error of ``log_p`` over the probes (0 for the exact trace, NaN for one probe).
    prior_log_p : ndarray, shape (n,)
        log-density of the prior at the end of each path.
    x_end : ndarray, shape (n, dim)
        States at T.
    n_score_evals : int
        Score evaluations per sample (two per Heun step).
    seed : int
        The seed used (drawn from fresh entropy when none was given): the same seed gives the
        same probes.
    """

    log_p: np.ndarray
    delta: np.ndarray
    std_error: np.ndarray
    prior_log_p: np.ndarray
    x_end: np.ndarray
    n_score_evals: int
    seed: int


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            "log_likelihood differentiates the score with PyTorch: pip install torch (a CPU "
            "build: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from exc
    return torch


def _augmented_sde(sde, score, dim, n_probes, exact, torch):
    """The ODE of z = (x, probes, l_1..l_k): dx = v dt, dl_j = eps_j^T (dv/dx) eps_j dt.

    The probes ride in the state with zero velocity, so each path keeps its own whatever order
    or chunks the engine hands the paths over in. For the exact trace the probes are the unit
    vectors, generated here, and the state is (x, l).
    """
    f_py, g_py = sde.drift.py_func, sde.diffusion.py_func
    flow = isinstance(score, Velocity)
    q_score = torch.as_tensor(score.params[None, :], dtype=torch.float64)
    k = dim if exact else n_probes
    width = 0 if exact else k * dim
    cache = {}

    def velocity(t, x):
        if flow:
            return score.torch(t, x, q_score.to(x.device))
        p = cache.get(("p", x.device))
        if p is None:  # one (1, 1) column per parameter, to broadcast against x
            p = cache[("p", x.device)] = torch.as_tensor(
                sde.params, dtype=x.dtype, device=x.device)[:, None, None]
        g = g_py(t, x, p)
        return f_py(t, x, p) - 0.5 * g * g * score.torch(t, x, q_score.to(x.device))

    def torch_drift(t, z, p):
        n = z.shape[0]
        x = z[:, :dim]
        if exact:
            probes = cache.get(("eye", z.device))
            if probes is None:
                probes = cache[("eye", z.device)] = torch.eye(dim, dtype=z.dtype, device=z.device)
            probes = probes.repeat(n, 1)  # (n * d, d): row (i, j) is e_j
        else:
            probes = z[:, dim:dim + width].reshape(n * k, dim)
        with torch.enable_grad():
            # one copy of x per probe: a single backward pass gives every product eps^T dv/dx
            xr = x.detach().repeat_interleave(k, dim=0).requires_grad_(True)
            v = velocity(t, xr)
            (vjp,) = torch.autograd.grad(v, xr, grad_outputs=probes)
        quad = (vjp * probes).sum(1).reshape(n, k)
        div = quad.sum(1, keepdim=True) if exact else quad
        v0 = v.detach().reshape(n, k, dim)[:, 0]
        return torch.cat([v0, torch.zeros(n, width, dtype=z.dtype, device=z.device), div], 1)

    return SDE(_torch_only, None, dim=dim + width + (1 if exact else k), torch_drift=torch_drift,
               name="ProbabilityFlowLikelihood"), width


def _torch_only(t, x, p, out):  # pragma: no cover - only reached by a misuse
    raise RuntimeError("the likelihood ODE runs on backend='torch' only")


def log_likelihood(sde, score, x, *, steps, n_probes=1, exact_trace=False, probe="rademacher",
                   spacing="time", t_eps=None, prior_logpdf=None, seed=None, device=None,
                   return_details=False):
    """log p(x) of data under a score model, by the probability-flow ODE (nats per sample).

    Parameters
    ----------
    sde : DiffusionSDE
        The forward SDE the score belongs to (its dimension follows ``x``).
    score : Score or Velocity
        The score s(t, x) with a torch form (``Score(torch=...)``, ``GaussianMixture.score``,
        ``ScoreModel.score()``): autograd differentiates it. Or a velocity v(t, x) with a torch
        form (``GaussianMixture.velocity``, a flow model's ``ScoreModel.velocity()``), which is
        the ODE's drift itself.
    x : array_like, shape (n, dim)
        Data (units of the score's input).
    steps : int
        Heun steps from ``t_eps`` to ``sde.t_end`` (two score evaluations and backward passes
        each). The error of the exact-trace result falls as steps^-2.
    n_probes : int
        Hutchinson probes per sample (ignored with ``exact_trace``). Their mean is returned; its
        standard deviation falls as n_probes^-1/2.
    exact_trace : bool
        Exact divergence, from ``dim`` vector-Jacobian products per evaluation (batched into one
        backward pass over ``dim`` copies of the batch): deterministic, costs ``dim`` times the
        memory.
    probe : {"rademacher", "gaussian"}
        Law of the Hutchinson probes; Rademacher (random signs) has the smaller variance.
    spacing : {"time", "logsnr", "quadratic"}
        Placement of the steps (as :func:`sdekit.score.time_grid`): ``"logsnr"`` or
        ``"quadratic"`` put more steps near t_eps, where the score changes fastest (VE SDEs).
    t_eps : float, optional
        Time of the data (default ``sde.t_eps``): the result is log p_{t_eps}(x), the model's
        density of the data perturbed to t_eps, which approximates the data density.
    prior_logpdf : callable, optional
        ``prior_logpdf(x_T) -> (n,)`` on NumPy arrays (n, dim); default ``sde.prior_logpdf``.
    seed : int, optional
        Fixes the probes: sample i's probes depend on (seed, i) only. None draws a seed from
        fresh entropy (recorded in the :class:`LikelihoodResult`).
    device : str, optional
        torch device (default: CUDA when available, else CPU).
    return_details : bool
        Return a :class:`LikelihoodResult` instead of the array.

    Returns
    -------
    ndarray, shape (n,), or LikelihoodResult
        log p(x) in nats. :func:`bits_per_dim` converts it.

    Notes
    -----
    With a trained :class:`~sdekit.score.ScoreModel`, whose network models standardized data
    z = (x - model.shift) / model.scale, the density of x is that of z times the Jacobian of
    the standardization::

        z = (x - model.shift) / model.scale
        log_p = log_likelihood(model.sde, model.score(), z, steps=100) - np.log(model.scale).sum()
    """
    torch = _torch()
    if not isinstance(sde, DiffusionSDE):
        raise TypeError(f"sde must be a forward SDE of sdekit.score (VPSDE, VESDE, SubVPSDE), "
                        f"got {type(sde).__name__}")
    score = as_score(score)
    if score.torch is None:
        raise ValueError(f"{score.name} has no torch form: log_likelihood differentiates the "
                         "score with autograd (give Score(torch=...))")
    if isinstance(sde, OTPathSDE) and not isinstance(score, Velocity):
        raise ValueError("on the OT path the probability flow of a score has an infinite drift "
                         "at t = 1: give the path's velocity (a Velocity)")
    x = _check_data(x, score, n_probes, probe)
    n, dim = x.shape
    sde = _with_t_eps(sde.with_dim(dim), t_eps)
    # the samplers' grid runs from t_end down to t_eps; the likelihood ODE runs up
    grid = time_grid(sde, steps, spacing)[::-1].copy()
    seed = check_seed(seed)
    exact = bool(exact_trace)
    k = 1 if exact else int(n_probes)
    aug, width = _augmented_sde(sde, score, dim, k, exact, torch)
    z0 = np.zeros((n, aug.dim))
    z0[:, :dim] = x
    if not exact:
        z0[:, dim:dim + width] = _probes(probe, child_seed(seed, _PROBE_TAG), n, width)
    sol = solve(aug, z0, grid, method="heun", n_paths=n, save="final", backend="torch",
                seed=seed, device=device)
    z = sol.final
    x_end = z[:, :dim]
    delta = z[:, dim + width:]
    prior = (sde.prior_logpdf if prior_logpdf is None else prior_logpdf)(x_end)
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (n,):
        raise ValueError(f"prior_logpdf must return shape ({n},), got {prior.shape}")
    log_p = prior + delta.mean(1)
    if not return_details:
        return log_p
    return LikelihoodResult(log_p=log_p, delta=delta, std_error=_std_error(delta, exact),
                            prior_log_p=prior, x_end=x_end, n_score_evals=2 * int(steps),
                            seed=seed)


def _std_error(delta, exact):
    """Standard error of the mean over the probes (columns of ``delta``)."""
    n, k = delta.shape
    if exact:
        return np.zeros(n)
    if k == 1:
        return np.full(n, np.nan)
    return delta.std(1, ddof=1) / math.sqrt(k)


def _check_data(x, score, n_probes, probe):
    """The data as a float array of shape (n, dim), with the probe options checked."""
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must have shape (n, dim), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    dim = x.shape[1]
    if score.dim is not None and score.dim != dim:
        raise ValueError(f"x has dimension {dim} but the score has dimension {score.dim}")
    if not isinstance(n_probes, numbers.Integral) or isinstance(n_probes, bool) or n_probes < 1:
        raise ValueError(f"n_probes must be a positive integer, got {n_probes!r}")
    if probe not in _PROBES:
        raise ValueError(f"probe must be one of {_PROBES}, got {probe!r}")
    return x


def _probes(probe, seed, n, width):
    """Hutchinson probes, shape (n, width): random signs or standard normals."""
    if probe == "rademacher":
        return np.where(uniforms(seed, n, width) < 0.5, -1.0, 1.0)
    return normals(seed, n, width)


def _with_t_eps(sde, t_eps):
    """``sde`` with the data's time ``t_eps`` (checked), or ``sde`` itself when it is the
    default."""
    if t_eps is None:
        return sde
    if (not isinstance(t_eps, numbers.Real) or not 0 < t_eps < sde.t_end
            or not math.isfinite(t_eps)):
        raise ValueError(f"t_eps must lie in (0, t_end={sde.t_end}), got {t_eps!r}")
    if t_eps == sde.t_eps:
        return sde
    other = copy.copy(sde)
    other.t_eps = float(t_eps)
    return other


def bits_per_dim(log_p, dim, bin_width=None):
    """Negative log-likelihood in bits per dimension.

    Parameters
    ----------
    log_p : array_like
        log-densities in nats (e.g. from :func:`log_likelihood`).
    dim : int
        Dimension of the data.
    bin_width : float, optional
        For data quantised on a grid of this spacing (e.g. 1/256 for 8-bit images scaled to
        [0, 1]): the probability of a grid cell is about p(x) bin_width^dim, which adds
        -log2(bin_width) bits per dimension (8 for that example).

    Returns
    -------
    ndarray or float
        -log_p / (dim ln 2) (+ -log2(bin_width)).
    """
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    bits = -np.asarray(log_p, dtype=np.float64) / (dim * math.log(2.0))
    if bin_width is not None:
        if not isinstance(bin_width, numbers.Real) or not bin_width > 0:
            raise ValueError(f"bin_width must be a positive number, got {bin_width!r}")
        bits = bits - math.log2(bin_width)
    return bits if bits.ndim else float(bits)

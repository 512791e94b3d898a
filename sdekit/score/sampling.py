"""Drawing samples from a score model: one function, several methods.

================== ==================================================== ====================
method             what one step does                                   score evals per step
================== ==================================================== ====================
reverse_sde        Euler–Maruyama on the reverse-time SDE, run by the   1
                   engine (``sdekit.sde.solve``) on any backend
probability_flow   Heun (trapezoidal) on the probability-flow ODE, run  2
                   by the engine (``solve(method="heun")``)
pc                 Langevin corrector(s), then a predictor: the         1 + corrector_steps
                   engine's Euler–Maruyama step or the reverse-diffusion
                   step of Song et al. (2021)
ddpm               ancestral step: draw from q(x_s | x_t, x0_hat)       1
ddim               deterministic (eta = 0) DDIM step x_s = alpha_s      1
                   x0_hat + sigma_s eps_hat; eta > 0 adds noise
dpm_solver         DPM-Solver++(2M): second-order multistep exponential 1
                   integrator in log-SNR on the data prediction
flow_euler         Euler on the flow ODE dx/dt = v(t, x) of a velocity  1
                   field, run by the engine (``solve(method=
                   "euler_maruyama")`` with zero diffusion)
flow_heun          Heun (trapezoidal) on the flow ODE, run by the       2
                   engine (``solve(method="heun")``)
================== ==================================================== ====================

The first six take a score (:class:`~sdekit.score.Score`); the two ``flow_`` methods take a
velocity (:class:`~sdekit.score.Velocity`: a flow-matching model's, or a Gaussian mixture's
exact one) and refuse a score, as the others refuse a velocity. The engine has no plain Euler
scheme for ODEs, so ``flow_euler`` runs Euler–Maruyama with a diffusion of zero, which is Euler
exactly (its normal draws are multiplied by zero).

All methods integrate from ``sde.t_end`` down to ``sde.t_eps`` over the same grid of forward
times (:func:`time_grid`), start from the prior (or ``x_init``) and return the states at t_eps,
so their outputs approximate the same law p_{t_eps}; ``denoise=True`` adds the final denoising
step of Song et al.'s samplers (one more score evaluation). DDPM, DDIM
and DPM-Solver are written for any forward SDE with Gaussian transitions X_t | X_s ~ N(a X_s, v I)
(VP, sub-VP and VE alike): for the VP SDE on the grid t_i = i/N they are the samplers of the
discrete DDPM chain.

Randomness: the engine methods draw their noise from the engine's per-path streams; the loops
written here (PC corrector, DDPM, DDIM with eta > 0) draw theirs from per-path streams too
(:class:`Streams`), and the prior from a derived seed, so a seed fixes the result on every
backend.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..sde import SDE, solve
from ..sde.backends import resolve_backend
from ..sde.backends.torch import TorchStreams
from ..sde.random import Streams, check_seed, child_seed
from ..sde.specialization import specialize
from .sdes import DiffusionSDE, OTPathSDE, alpha_sigma, alpha_sigma_rates
from .targets import Velocity, as_score

__all__ = ["sample", "SampleResult", "time_grid", "n_score_evals", "Streams", "METHODS",
           "FLOW_METHODS"]

# score methods, and (apart, so that code looping over METHODS with a score keeps working) the
# methods that integrate a velocity
METHODS = ("reverse_sde", "probability_flow", "pc", "ddpm", "ddim", "dpm_solver")
FLOW_METHODS = ("flow_euler", "flow_heun")
_ALL = METHODS + FLOW_METHODS
_ALIASES = {
    "euler_maruyama": "reverse_sde", "sde": "reverse_sde", "em": "reverse_sde",
    "heun": "probability_flow", "ode": "probability_flow", "pf_ode": "probability_flow",
    "predictor_corrector": "pc", "ancestral": "ddpm", "dpm_solver++": "dpm_solver",
    "dpm_solver_2m": "dpm_solver", "dpmpp_2m": "dpm_solver",
    "flow": "flow_heun", "rectified_flow": "flow_heun",
}
_SPACINGS = ("time", "logsnr", "quadratic")
_NOISE_TAG = 0x4E4F
_PREDICTOR_TAG = 0x5052_4544


# -- grids and budgets -----------------------------------------------------------------------------
def time_grid(sde, steps, spacing="time"):
    """Forward times t_0 = t_end > t_1 > ... > t_steps = t_eps visited by the samplers.

    Parameters
    ----------
    sde : DiffusionSDE
    steps : int
        Number of steps.
    spacing : {"time", "logsnr", "quadratic"}
        Uniform in t; uniform in log-SNR lambda(t) = log(alpha/sigma) (recommended for
        DPM-Solver at few steps); or quadratic in t (denser near t_eps).

    Returns
    -------
    ndarray, shape (steps + 1,)
    """
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if spacing not in _SPACINGS:
        raise ValueError(f"spacing must be one of {_SPACINGS}, got {spacing!r}")
    u = np.linspace(0.0, 1.0, steps + 1)
    if spacing == "time":
        t = sde.t_end + (sde.t_eps - sde.t_end) * u
    elif spacing == "quadratic":
        t = sde.t_eps + (sde.t_end - sde.t_eps) * (1.0 - u) ** 2
    else:
        lam_end, lam_eps = sde.log_snr(np.array([sde.t_end, sde.t_eps]))
        t = sde.t_from_log_snr(lam_end + (lam_eps - lam_end) * u)
    t[0], t[-1] = sde.t_end, sde.t_eps
    return t


def n_score_evals(method, steps, corrector_steps=1, denoise=False):
    """Number of score evaluations per sample that ``sample`` spends."""
    method = _ALIASES.get(method, method)
    extra = 1 if denoise else 0
    if method in ("probability_flow", "flow_heun"):
        return 2 * steps + extra
    if method == "pc":
        return steps * (1 + corrector_steps) + extra
    if method in _ALL:
        return steps + extra
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(_ALL)}")


# -- the engine methods ----------------------------------------------------------------------------
def _reverse(sde, score, flow):
    """The reverse SDE (or probability-flow ODE) of ``sde`` with this score.

    Cheap to build again: the engine compiles the reverse coefficients once per (SDE, score
    function) and takes ``t_end`` and the score's parameters as data.
    """
    return sde.reverse(score.numba, t_end=sde.t_end, score_params=score.params,
                       torch_score=score.torch, probability_flow=flow)


def _engine(sde, score, x, grid, *, flow, seed, backend, device):
    rev = _reverse(sde, score, flow)
    times = sde.t_end - grid  # the reverse clock s = t_end - t
    sol = solve(rev, x, times, method="heun" if flow else "euler_maruyama", n_paths=x.shape[0],
                save="final", backend=backend, seed=seed, device=device)
    return sol.final


# -- the flow ODE of a velocity field, on the engine ----------------------------------------------
# Bound per specialization.
_velocity = None
_DIM = 1


def _flow_drift(s, x, p, out):
    # reverse clock s = t_end - t, so dY/ds = -v(t_end - s, Y); p = [t_end, velocity params...]
    _velocity(p[0] - s, x, p[1:], out)
    for k in range(_DIM):
        out[k] = -out[k]


def _zero_diffusion(s, x, p, out):
    for k in range(_DIM):
        out[k] = 0.0


_flow_built = {}


def _flow_coefficients(velocity, dim):
    """Compiled (drift, zero diffusion) of the flow ODE of ``velocity`` (built once per process;
    cached on disk when the velocity is sdekit's own)."""
    key = (id(velocity), dim)
    entry = _flow_built.get(key)
    if entry is None:
        module = getattr(getattr(velocity, "py_func", velocity), "__module__", None) or ""
        cache = module.startswith("sdekit.")
        drift = specialize(_flow_drift, {"_velocity": velocity, "_DIM": dim}, cache=cache)
        diffusion = specialize(_zero_diffusion, {"_DIM": dim}, cache=cache)
        # the velocity stays referenced, so its id in the key stays unique
        entry = _flow_built[key] = (drift, diffusion, cache, velocity)
    return entry[:3]


def _flow_sde(sde, velocity, euler):
    """The flow ODE dY/ds = -v(t_end - s, Y) as an engine SDE (zero diffusion for Euler)."""
    dim = sde.dim
    drift = diffusion = None
    cache = False
    if velocity.numba is not None:
        drift, diffusion, cache = _flow_coefficients(velocity.numba, dim)
    torch_drift = torch_diffusion = None
    if velocity.torch is not None:
        torch_velocity = velocity.torch

        def torch_drift(s, x, p):
            return -torch_velocity(float(p[0, 0]) - s, x, p[:, 1:])

        def torch_diffusion(s, x, p):
            return x * 0.0

    if drift is None:
        drift = diffusion = _torch_only
    names = ("t_end",) + tuple(f"velocity{i}" for i in range(velocity.params.size))
    params = dict(zip(names, np.concatenate([[sde.t_end], velocity.params]), strict=True))
    return SDE(drift, diffusion if euler else None, dim=dim, params=params,
               torch_drift=torch_drift, torch_diffusion=torch_diffusion if euler else None,
               name=f"Flow({velocity.name})", cacheable=cache)


def _torch_only(s, x, p, out):  # pragma: no cover - sample() refuses this before solving
    raise RuntimeError("this velocity has only a torch form: use backend='torch'")


def _flow_engine(sde, velocity, x, grid, *, euler, seed, backend, device):
    flow = _flow_sde(sde, velocity, euler)
    sol = solve(flow, x, sde.t_end - grid, method="euler_maruyama" if euler else "heun",
                n_paths=x.shape[0], save="final", backend=backend, seed=seed, device=device)
    return sol.final


# -- the loops written here, on NumPy arrays or torch tensors --------------------------------------
class _Arrays:
    """Batched score, noise and norms on NumPy (numba/cuda backends) or torch tensors."""

    def __init__(self, backend, device, score, seed, n):
        self.score = score
        self.torch = None
        if backend == "torch":
            import torch

            self.torch = torch
            self.device = device
            self.streams = TorchStreams(seed, n, device=self.device)
        else:
            self.streams = Streams(seed, n)

    def asarray(self, x):
        if self.torch is None:
            return np.asarray(x, dtype=np.float64)
        return self.torch.as_tensor(x, dtype=self.torch.float64, device=self.device)

    def numpy(self, x):
        return x if self.torch is None else x.detach().cpu().numpy()

    def grad(self, t, x):
        if self.torch is None:
            return self.score(t, x)
        with self.torch.no_grad():
            return self.score.torch_eval(t, x)

    def normals(self, dim):
        return self.streams.normals(dim)

    def mean_norm(self, a):
        if self.torch is None:
            return float(np.sqrt((a * a).sum(-1)).mean())
        return float((a * a).sum(-1).sqrt().mean())


def _pc(sde, arr, x, grid, *, snr, corrector_steps, predictor, seed, backend, device):
    dim = x.shape[1]
    alpha, sigma = sde.marginal(grid)
    for i in range(grid.size - 1):
        t, s = grid[i], grid[i + 1]
        # Langevin corrector at t (Song et al. 2021, Algorithm 4 and 5): one step size for the
        # batch, from the mean norms of score and noise; `a` is the DDPM alpha_i of this step.
        a = (alpha[i] / alpha[i + 1]) ** 2
        for _ in range(corrector_steps):
            grad = arr.grad(t, x)
            z = arr.normals(dim)
            eps = 2.0 * a * (snr * arr.mean_norm(z) / max(arr.mean_norm(grad), 1e-300)) ** 2
            x = x + eps * grad + math.sqrt(2.0 * eps) * z
        if predictor == "euler_maruyama":
            x = arr.asarray(_engine(sde, arr.score, arr.numpy(x), np.array([t, s]), flow=False,
                                    seed=child_seed(seed, _PREDICTOR_TAG + i), backend=backend,
                                    device=device))
        else:
            # reverse diffusion (Song et al.): x - f + G^2 score + G z with the discrete
            # f = (a - 1) x and G^2 = v of the forward transition from s to t
            ratio, v = sde.transition(s, t)
            x = (2.0 - ratio) * x + v * arr.grad(t, x) + math.sqrt(v) * arr.normals(dim)
    return x


def _ddpm_ddim(sde, arr, x, grid, *, eta):
    dim = x.shape[1]
    alpha, sigma = sde.marginal(grid)
    for i in range(grid.size - 1):
        t = grid[i]
        a = alpha[i] / alpha[i + 1]
        v = sigma[i] ** 2 - a * a * sigma[i + 1] ** 2  # X_t | X_s ~ N(a X_s, v I)
        grad = arr.grad(t, x)
        if eta is None:
            # ancestral: the posterior q(x_s | x_t, x0_hat) has mean (x + v score) / a
            std = math.sqrt(max(sigma[i + 1] ** 2 * v / sigma[i] ** 2, 0.0))
            x = (x + v * grad) / a + std * arr.normals(dim)
            continue
        eps_hat = -sigma[i] * grad
        x0_hat = (x - sigma[i] * eps_hat) / alpha[i]
        c = eta * math.sqrt(max(sigma[i + 1] ** 2 * v / sigma[i] ** 2, 0.0))
        x = alpha[i + 1] * x0_hat + math.sqrt(max(sigma[i + 1] ** 2 - c * c, 0.0)) * eps_hat
        if c > 0.0:
            x = x + c * arr.normals(dim)
    return x


def _dpm_solver_2m(sde, arr, x, grid):
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), first order on the first step."""
    alpha, sigma = sde.marginal(grid)
    lam = np.log(alpha) - np.log(sigma)
    previous = None
    h_previous = None
    for i in range(grid.size - 1):
        t = grid[i]
        grad = arr.grad(t, x)
        data = (x + sigma[i] ** 2 * grad) / alpha[i]  # x0 prediction
        h = lam[i + 1] - lam[i]
        if previous is None:
            d = data
        else:
            r = h_previous / h
            d = (1.0 + 0.5 / r) * data - (0.5 / r) * previous
        x = (sigma[i + 1] / sigma[i]) * x - alpha[i + 1] * math.expm1(-h) * d
        previous, h_previous = data, h
    return x


@dataclass
class SampleResult:
    """What :func:`sample` drew, with how (``return_details=True``).

    Attributes
    ----------
    samples : ndarray, shape (n, dim)
        The samples (as :func:`sample` returns them without details).
    seed : int
        The seed used (drawn from fresh entropy when none was given): ``sample(...,
        seed=result.seed)`` repeats the draw.
    method : str
        Canonical method name (aliases resolved).
    steps : int
    backend : str
        Canonical backend name.
    n_score_evals : int
        Score evaluations per sample.
    """

    samples: np.ndarray
    seed: int
    method: str
    steps: int
    backend: str
    n_score_evals: int


# -- the one entry point ---------------------------------------------------------------------------
def sample(sde, score, n, *, method="reverse_sde", steps, seed=None, backend="numba",
           spacing=None, x_init=None, snr=0.16, corrector_steps=1, predictor="euler_maruyama",
           eta=0.0, device=None, denoise=False, return_details=False):
    """Draw ``n`` samples by integrating from the prior at ``sde.t_end`` down to ``sde.t_eps``.

    Parameters
    ----------
    sde : DiffusionSDE
        The forward SDE the score belongs to (its dimension follows the score's).
    score : Score, Velocity or callable
        The score s(t, x): a :class:`~sdekit.score.Score` (e.g. ``GaussianMixture.score(sde)`` or
        a trained model's), or a Numba function ``score(t, x, q, out)``. For the flow methods,
        a :class:`~sdekit.score.Velocity` v(t, x) instead (``GaussianMixture.velocity(sde)`` or
        a flow-matching model's ``velocity()``).
    n : int
        Number of samples.
    method : str
        One of ``reverse_sde``, ``probability_flow``, ``pc``, ``ddpm``, ``ddim``, ``dpm_solver``
        (score methods) or ``flow_euler``, ``flow_heun`` (velocity methods); see the module
        docs (``euler_maruyama`` and ``heun`` are accepted aliases, ``flow`` is
        ``flow_heun``).
    steps : int
        Number of steps (no default: the cost is yours to choose). Score evaluations per sample:
        :func:`n_score_evals`.
    seed : int, optional
        Fixes the prior draw and every noise increment. None (the default, as for every function
        that draws samples) draws a seed from fresh entropy; ``return_details=True`` returns the
        seed used.
    backend : {"numba", "cuda", "torch"}
        Where the engine methods run (aliases as in :func:`sdekit.sde.solve`). The loops of
        ``pc``/``ddpm``/``ddim``/``dpm_solver`` run
        on NumPy with the compiled score (``numba``, ``cuda``) or on torch tensors (``torch``).
    spacing : {"time", "logsnr", "quadratic"}, optional
        Step placement (:func:`time_grid`); ``"logsnr"`` for ``dpm_solver``, ``"time"`` otherwise.
    x_init : array_like, shape (n, dim), optional
        States at ``t_end`` instead of prior draws.
    snr : float
        Signal-to-noise ratio of the Langevin corrector (``pc``).
    corrector_steps : int
        Langevin steps per time step (``pc``).
    predictor : {"euler_maruyama", "reverse_diffusion"}
        Predictor of ``pc``: the engine's Euler–Maruyama step, or Song et al.'s reverse-diffusion
        step.
    eta : float
        DDIM noise level (0: deterministic, 1: as DDPM).
    device : str or torch.device, optional
        torch device, for ``backend="torch"`` only (default: CUDA when available, else CPU).
    denoise : bool
        After the last step, move each sample to its posterior mean given the state at t_eps
        (Tweedie's formula, ``(x + sigma^2 score(t_eps, x)) / alpha``), as Song et al.'s
        samplers and diffusers' pipelines end: it removes the noise of standard deviation
        ``sigma(t_eps)`` that the samples at t_eps still carry, so they approximate the data
        rather than p_{t_eps}. One more score evaluation.
        With a velocity the same posterior mean is (sigma' x - sigma v) / (alpha sigma' -
        sigma alpha').
    return_details : bool
        Return a :class:`SampleResult` (samples, the seed used, method, backend) instead of the
        array.

    Returns
    -------
    ndarray, shape (n, dim), or SampleResult
        Samples at time ``sde.t_eps`` (denoised with ``denoise=True``).
    """
    if not isinstance(sde, DiffusionSDE):
        raise TypeError(f"sde must be a forward SDE of sdekit.score (VPSDE, VESDE, SubVPSDE), "
                        f"got {type(sde).__name__}")
    score = as_score(score)
    name = _ALIASES.get(method, method)
    if name not in _ALL:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(_ALL)}")
    flow = name in FLOW_METHODS
    if flow and not isinstance(score, Velocity):
        raise ValueError(f"method {name!r} integrates a velocity field, but {score.name} is a "
                         f"score: pass a Velocity (GaussianMixture.velocity(sde), a flow model's "
                         f"velocity()) or use a score method ({', '.join(METHODS)})")
    if not flow and isinstance(score, Velocity):
        raise ValueError(f"{score.name} is a velocity field, which method {name!r} cannot use: "
                         f"choose {' or '.join(FLOW_METHODS)}")
    if not flow and isinstance(sde, OTPathSDE):
        raise ValueError(f"the score method {name!r} runs the forward SDE from t_end, where the "
                         f"OT path's drift -x/(1 - t) is infinite: sample an OT path with "
                         f"{' or '.join(FLOW_METHODS)} and its velocity")
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    backend, device = resolve_backend(backend, device, caller="sample")
    if score.numba is None and backend != "torch":
        raise ValueError(f"{score.name} has only a torch form: use backend='torch'")
    if not isinstance(snr, numbers.Real) or not snr > 0:
        raise ValueError(f"snr must be a positive number, got {snr!r}")
    if not isinstance(corrector_steps, numbers.Integral) or corrector_steps < 0:
        raise ValueError(f"corrector_steps must be a non-negative integer, got {corrector_steps!r}")
    if predictor not in ("euler_maruyama", "reverse_diffusion"):
        raise ValueError(
            f"predictor must be 'euler_maruyama' or 'reverse_diffusion', got {predictor!r}")
    if not isinstance(denoise, (bool, np.bool_)):
        raise TypeError(f"denoise must be True or False, got {denoise!r}")
    if not isinstance(eta, numbers.Real) or not 0 <= eta <= 1:
        raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
    if spacing == "logsnr" and isinstance(sde, OTPathSDE):
        raise ValueError("spacing='logsnr' needs alpha(t_end) > 0, but the OT path is pure "
                         "noise at t = 1 (log-SNR -inf): use spacing='time' or 'quadratic'")
    grid = time_grid(sde, steps, spacing or ("logsnr" if name == "dpm_solver" else "time"))
    seed = check_seed(seed)
    dim = score.dim or (np.shape(x_init)[1] if x_init is not None else sde.dim)
    sde = sde.with_dim(dim)
    if x_init is None:
        x = sde.prior_sample(n, dim, seed)
    else:
        x = np.array(x_init, dtype=np.float64)
        if x.shape != (n, dim):
            raise ValueError(f"x_init must have shape (n, dim) = ({n}, {dim}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x_init must be finite")
    if flow:
        x = _flow_engine(sde, score, x, grid, euler=name == "flow_euler", seed=seed,
                         backend=backend, device=device)
    elif name in ("reverse_sde", "probability_flow"):
        x = _engine(sde, score, x, grid, flow=name == "probability_flow", seed=seed,
                    backend=backend, device=device)
    else:
        x = _run_loop(name, sde, score, x, grid, seed=seed, backend=backend, device=device,
                      snr=snr, corrector_steps=corrector_steps, predictor=predictor, eta=eta)
    if denoise:
        x = _denoised(sde, score, x, backend, device)
    if not return_details:
        return x
    return SampleResult(samples=x, seed=seed, method=name, steps=int(steps), backend=backend,
                        n_score_evals=n_score_evals(name, steps, corrector_steps, denoise))


def _run_loop(name, sde, score, x, grid, *, seed, backend, device, snr, corrector_steps,
              predictor, eta):
    """The samplers written here (pc, ddpm, ddim, dpm_solver) on NumPy arrays or tensors."""
    n = x.shape[0]
    arr = _Arrays(backend, device, score, child_seed(seed, _NOISE_TAG), n)
    x = arr.asarray(x)
    if name == "pc":
        x = _pc(sde, arr, x, grid, snr=float(snr), corrector_steps=int(corrector_steps),
                predictor=predictor, seed=seed, backend=backend, device=device)
    elif name == "ddpm":
        x = _ddpm_ddim(sde, arr, x, grid, eta=None)
    elif name == "ddim":
        x = _ddpm_ddim(sde, arr, x, grid, eta=float(eta))
    else:
        x = _dpm_solver_2m(sde, arr, x, grid)
    return arr.numpy(x)


def _denoised(sde, score, x, backend, device):
    """Tweedie's posterior mean E[X_0 | X_t = x] at t = t_eps."""
    alpha, sigma = sde.marginal(np.array([sde.t_eps]))
    if backend == "torch" and score.torch is not None:
        import torch

        with torch.no_grad():
            grad = score.torch_eval(sde.t_eps, torch.as_tensor(x, device=device))
        grad = grad.cpu().numpy()
    else:
        grad = score(sde.t_eps, x)
    if isinstance(score, Velocity):
        # x = alpha x0 + sigma eps and v = alpha' x0 + sigma' eps, solved for x0 (both are
        # linear in the pair, so their conditional means are too)
        code, s0, s1 = sde.schedule()
        a, sig = alpha_sigma(code, s0, s1, sde.t_eps)
        da, ds = alpha_sigma_rates(code, s0, s1, sde.t_eps)
        return (ds * x - sig * grad) / (a * ds - sig * da)
    return (x + sigma[0] ** 2 * grad) / alpha[0]

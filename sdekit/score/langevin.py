"""Langevin sampling from a differentiable log-density, unadjusted (ULA) and Metropolis-adjusted
(MALA).

The overdamped Langevin diffusion

    dX = grad log p(X) dt + sqrt(2) dW

has p as its stationary law. **ULA** is its Euler–Maruyama discretisation with step h,

    x' = x + h grad log p(x) + sqrt(2 h) z,        z ~ N(0, I),

and runs here as an ordinary SDE through :func:`sdekit.sde.solve` (numba or torch backend). Its
stationary law is biased by O(h): on N(m, s^2) it is N(m, s^2 / (1 - h / (2 s^2))) exactly.

**MALA** (Roberts & Tweedie 1996) uses the ULA step as a proposal y and accepts it with
probability min(1, p(y) q(x | y) / (p(x) q(y | x))), q(b | a) = N(b; a + h grad log p(a), 2 h I),
which makes p exactly invariant for every h. The engine's ``solve`` has no accept/reject hook,
so MALA runs as its own loop over chains: a compiled Numba kernel (one thread per chain) or a
batched torch loop. Both draw from the engine's per-path streams, path i being chain i, in the
same order (the ``dim`` normals of the proposal, then the uniform of the decision), so a seed
fixes every chain and the two backends give the same chains up to floating-point rounding.
To run MALA inside ``solve`` the engine would need (a) a per-step hook after the scheme's update
that sees the state before and after the step and the drift at both, may replace the new state
and draws from the path's stream, (b) the log-density as a model collaborator beside drift and
diffusion, (c) per-path counters returned in the :class:`~sdekit.sde.Solution` (acceptances) and
(d) reuse of the drift evaluated at the accepted state as the next step's starting drift, which
saves one gradient per step.

Target functions
----------------
``backend="numba"``: ``grad_log_prob(x, out)`` writes grad log p(x) for one state ``x`` (shape
(dim,)) into ``out``; ``log_prob(x)`` returns log p(x) (a float, up to an additive constant).
Plain Python functions are compiled with ``numba.njit``. ``backend="torch"``: ``log_prob(x)``
maps a batch (n, dim) to (n,); the gradient comes from autograd unless a batched
``grad_log_prob(x)`` -> (n, dim) is given. With ``params``, every function takes the parameter
vector as an extra argument before ``out`` (``grad_log_prob(x, q, out)``, ``log_prob(x, q)``);
the parameters are data, so changing them never recompiles.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numba as nb
import numpy as np

from ..sde import SDE, solve
from ..sde.backends import resolve_backend
from ..sde.backends.torch import TorchStreams
from ..sde.random import check_seed, next_normal, next_uniform, seed_state
from ..sde.specialization import specialize

__all__ = ["langevin", "LangevinResult", "effective_sample_size", "METHODS"]

METHODS = ("ula", "mala")
_BACKENDS = ("numba", "torch")

# Bound per specialization.
_user_grad = _user_logp = _grad = _logp = None


# -- adapters: every user function seen in its with-parameters form ----------------------------
def _grad_without_params(x, q, out):
    _user_grad(x, out)


def _logp_without_params(x, q):
    return _user_logp(x)


# The Langevin SDE is solved in units of the step, tau = t / h: dX = h grad log p dtau +
# sqrt(2 h) dW_tau with unit steps, the same Euler-Maruyama chain, but with step times that are
# exact integers however long the chain (times k h would round, and the engine could then cut
# an interval into one step too many). p = (h, target parameters...).
def _ula_drift(t, x, p, out):
    _grad(x, p[1:], out)
    for k in range(x.shape[0]):
        out[k] *= p[0]


@nb.njit
def _ula_diffusion(t, x, p, out):
    scale = math.sqrt(2.0 * p[0])
    for k in range(x.shape[0]):
        out[k] = scale


def _mala_kernel(x0, h, n_steps, burn_in, keep_at, q, seed, out, accepted):
    """MALA for every chain (one per prange iteration, x0 one row per chain); see the module
    docs for the draws."""
    n_chains, dim = out.shape[0], out.shape[2]
    noise_scale = math.sqrt(2.0 * h)
    for i in nb.prange(n_chains):
        x = np.empty(dim)
        y = np.empty(dim)
        gx = np.empty(dim)
        gy = np.empty(dim)
        for j in range(dim):
            x[j] = x0[i, j]
        state = seed_state(seed, i)
        lpx = _logp(x, q)
        _grad(x, q, gx)
        kept = 0
        n_accepted = 0
        for step in range(1, n_steps + 1):
            forward = 0.0
            for j in range(dim):
                state, z = next_normal(state)
                y[j] = x[j] + h * gx[j] + noise_scale * z
                forward += z * z  # |y - x - h gx|^2 / (4h) = |z|^2 / 2
            lpy = _logp(y, q)
            _grad(y, q, gy)
            backward = 0.0
            for j in range(dim):
                b = x[j] - y[j] - h * gy[j]
                backward += b * b
            log_ratio = lpy - lpx - backward / (4.0 * h) + 0.5 * forward
            state, u = next_uniform(state)
            # NaN (a proposal outside the support) compares False: rejected
            if log_ratio >= 0.0 or u < math.exp(log_ratio):
                for j in range(dim):
                    x[j] = y[j]
                    gx[j] = gy[j]
                lpx = lpy
                if step > burn_in:
                    n_accepted += 1
            if kept < keep_at.shape[0] and keep_at[kept] == step:
                for j in range(dim):
                    out[i, kept, j] = x[j]
                kept += 1
        accepted[i] = n_accepted


_compiled = {}


def _numba_function(fn, name):
    """``fn`` compiled with Numba, once per Python function (so kernels built on it are reused)."""
    if fn is None:
        return None
    if hasattr(fn, "py_func"):
        return fn
    if not callable(fn):
        raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
    entry = _compiled.get(("njit", id(fn)))
    if entry is None:
        entry = _compiled[("njit", id(fn))] = (nb.njit(fn), fn)
    return entry[0]


def _with_params(fn, kind, has_params):
    """``fn`` as a compiled function taking the parameter vector (built once per function)."""
    key = (kind, id(fn), has_params)
    entry = _compiled.get(key)
    if entry is None:
        if has_params:
            wrapped = fn
        elif kind == "grad":
            wrapped = specialize(_grad_without_params, {"_user_grad": fn})
        else:
            wrapped = specialize(_logp_without_params, {"_user_logp": fn})
        entry = _compiled[key] = (wrapped, fn)  # fn stays referenced: its id stays unique
    return entry[0]


def _ula_sde_numba(grad, dim, h, q):
    key = ("ula", id(grad))
    entry = _compiled.get(key)
    if entry is None:
        entry = _compiled[key] = (specialize(_ula_drift, {"_grad": grad}), grad)
    return SDE(entry[0], _ula_diffusion, dim=dim, params=np.concatenate([[h], q]),
               name="Langevin")


def _mala_numba(grad, logp):
    key = ("mala", id(grad), id(logp))
    entry = _compiled.get(key)
    if entry is None:
        kernel = specialize(_mala_kernel, {"_grad": grad, "_logp": logp}, parallel=True)
        entry = _compiled[key] = (kernel, grad, logp)
    return entry[0]


# -- torch forms -----------------------------------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            "backend='torch' needs PyTorch: pip install torch (a CPU build: "
            "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from exc
    return torch


class _TorchTarget:
    """log p and grad log p on batches of tensors, by autograd when no gradient is given."""

    def __init__(self, log_prob, grad_log_prob, q, torch):
        self.torch = torch
        self.q = q
        self.log_prob = log_prob
        self.grad_log_prob = grad_log_prob

    def _call(self, fn, x):
        return fn(x) if self.q is None else fn(x, self.q.to(x.device))

    def _check(self, value, x, what, shape):
        if tuple(value.shape) != shape:
            raise ValueError(f"{what} must return shape {shape} for a batch x of shape "
                             f"{tuple(x.shape)}, got {tuple(value.shape)}")
        return value.to(x.dtype)

    def logp(self, x):
        with self.torch.no_grad():
            return self._check(self._call(self.log_prob, x), x, "log_prob", (x.shape[0],))

    def grad(self, x):
        if self.grad_log_prob is not None:
            with self.torch.no_grad():
                return self._check(self._call(self.grad_log_prob, x), x, "grad_log_prob",
                                   tuple(x.shape))
        return self.logp_and_grad(x)[1]

    def logp_and_grad(self, x):
        if self.grad_log_prob is not None:
            return self.logp(x), self.grad(x)
        torch = self.torch
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            lp = self._check(self._call(self.log_prob, xg), x, "log_prob", (x.shape[0],))
            (g,) = torch.autograd.grad(lp.sum(), xg)
        return lp.detach(), g


def _ula_sde_torch(target, dim, h):
    torch = target.torch
    scale = math.sqrt(2.0 * h)

    def torch_drift(t, x, p):  # in units of the step, as the numba form
        return h * target.grad(x)

    def torch_diffusion(t, x, p):
        return torch.full_like(x, scale)

    return SDE(_torch_only, _torch_only, dim=dim, torch_drift=torch_drift,
               torch_diffusion=torch_diffusion, name="Langevin")


def _torch_only(t, x, p, out):  # pragma: no cover - only reached by a misuse
    raise RuntimeError("this Langevin SDE was built from torch functions: use backend='torch'")


def _mala_torch(target, x, h, n_steps, burn_in, keep_at, seed, device):
    torch = target.torch
    n, dim = x.shape
    streams = TorchStreams(seed, n, device=device)
    out = np.empty((n, keep_at.size, dim))
    accepted = torch.zeros(n, dtype=torch.int64, device=device)
    lpx, gx = target.logp_and_grad(x)
    noise_scale = math.sqrt(2.0 * h)
    kept = 0
    for step in range(1, n_steps + 1):
        z = streams.normals(dim)
        u = streams.uniforms(1)[:, 0]
        y = x + h * gx + noise_scale * z
        lpy, gy = target.logp_and_grad(y)
        backward = ((x - y - h * gy) ** 2).sum(1)
        log_ratio = lpy - lpx - backward / (4.0 * h) + 0.5 * (z * z).sum(1)
        accept = (log_ratio >= 0) | (u < torch.exp(torch.clamp(log_ratio, max=0.0)))
        x = torch.where(accept[:, None], y, x)
        gx = torch.where(accept[:, None], gy, gx)
        lpx = torch.where(accept, lpy, lpx)
        if step > burn_in:
            accepted += accept.to(torch.int64)
        if kept < keep_at.size and keep_at[kept] == step:
            out[:, kept] = x.detach().cpu().numpy()
            kept += 1
    return out, accepted.cpu().numpy()


# -- results ---------------------------------------------------------------------------------------
@dataclass
class LangevinResult:
    """Output of :func:`langevin`.

    Attributes
    ----------
    samples : ndarray, shape (n_chains, n_kept, dim)
        Kept states of every chain (units of x).
    steps : ndarray of int, shape (n_kept,)
        Step number of each kept state (step 0 is ``x0``).
    acceptance : ndarray, shape (n_chains,), or None
        MALA: fraction of proposals accepted by each chain after ``burn_in``; None for ULA.
    method : str
    step_size : float
        h (units of x squared: h grad log p is a displacement).
    seed : int
        The seed used (drawn at random when none was given).
    backend : str
    """

    samples: np.ndarray
    steps: np.ndarray
    acceptance: np.ndarray | None
    method: str
    step_size: float
    seed: int
    backend: str

    @property
    def final(self):
        """The last state of every chain, shape (n_chains, dim)."""
        return self.samples[:, -1, :]

    @property
    def acceptance_rate(self):
        """MALA: fraction of all proposals after ``burn_in`` that were accepted (None for ULA)."""
        return None if self.acceptance is None else float(self.acceptance.mean())

    def flat(self):
        """All kept states of all chains, shape (n_chains * n_kept, dim)."""
        return self.samples.reshape(-1, self.samples.shape[2])


# -- the entry point -------------------------------------------------------------------------------
def _check_int(name, value, lo):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _check_x0(x0, n):
    if x0 is None:
        raise ValueError("give x0, the starting state(s): shape (dim,) or (n_chains, dim)")
    x = np.array(x0, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"x0 must have shape (dim,) or (n_chains, dim), got {np.shape(x0)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x0 must be finite")
    if n is None:
        n = x.shape[0]
    n = _check_int("n", n, 1)
    if x.shape[0] not in (1, n):
        raise ValueError(f"x0 has {x.shape[0]} rows but n={n}: give one row or one per chain")
    return np.ascontiguousarray(np.broadcast_to(x, (n, x.shape[1]))), n


def langevin(log_prob=None, *, grad_log_prob=None, x0, n=None, steps, step_size,
             method="ula", burn_in=0, thin=None, params=None, seed=None, backend="numba",
             device=None):
    """Sample a density known up to a constant by Langevin dynamics (ULA or MALA).

    Parameters
    ----------
    log_prob : callable, optional
        log p(x) up to an additive constant (units: nats). Numba: one state (dim,) -> float;
        torch: a batch (n, dim) -> (n,). Needed by MALA, and by ULA on torch when no
        ``grad_log_prob`` is given (autograd differentiates it).
    grad_log_prob : callable, optional
        grad log p. Numba: ``grad_log_prob(x, out)`` writes (dim,) into ``out``; torch: a batch
        (n, dim) -> (n, dim). Required on the numba backend.
    x0 : array_like, shape (dim,) or (n_chains, dim)
        Starting states.
    n : int, optional
        Number of chains when ``x0`` is one state (default: the rows of ``x0``).
    steps : int
        Number of Langevin steps per chain (no default: the cost is yours to choose).
    step_size : float
        h > 0. ULA's stationary law is biased by O(h); MALA's acceptance rate falls as h
        grows (about 0.57 is optimal in high dimension, Roberts & Rosenthal 1998).
    method : {"ula", "mala"}
        Unadjusted (through ``sdekit.sde.solve``) or Metropolis-adjusted (see the module docs).
    burn_in : int
        Steps discarded before keeping states (and before counting MALA acceptances).
    thin : int, optional
        Keep the state every ``thin`` steps after ``burn_in`` (steps burn_in + thin,
        burn_in + 2 thin, ..., up to ``steps``). By default only the final state is kept.
    params : array_like, optional
        Parameter vector q of the target; when given, the functions take it (see module docs).
    seed : int, optional
        Fixes every draw: chain i's noise depends on (seed, i) only. None draws a seed from
        fresh entropy; the seed used is recorded in ``LangevinResult.seed`` either way.
    backend : {"numba", "torch"}
        Compiled Numba functions on all CPU cores, or torch functions on batches.
    device : str or torch.device, optional
        torch device, for ``backend="torch"`` only (default: CUDA when available, else CPU).

    Returns
    -------
    LangevinResult
        ``samples`` (n_chains, n_kept, dim), ``final``, ``acceptance_rate`` (MALA), ``seed``.

    Examples
    --------
    >>> import numba as nb
    >>> @nb.njit
    ... def grad(x, out):              # standard normal target
    ...     for k in range(x.shape[0]):
    ...         out[k] = -x[k]
    >>> res = langevin(grad_log_prob=grad, x0=[0.0, 0.0], n=1000, steps=100, step_size=0.1,
    ...                seed=0)
    >>> res.final.shape
    (1000, 2)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    backend, device = resolve_backend(backend, device, supported=_BACKENDS, caller="langevin")
    steps, h, burn_in, keep_at = _check_chain(steps, step_size, burn_in, thin)
    x, n = _check_x0(x0, n)
    seed = check_seed(seed)
    has_params = params is not None
    q = (np.ascontiguousarray(np.atleast_1d(np.asarray(params, dtype=np.float64)).ravel())
         if has_params else np.zeros(1))
    if has_params and not np.all(np.isfinite(q)):
        raise ValueError("params must be finite")
    if grad_log_prob is None and log_prob is None:
        raise ValueError("give log_prob, grad_log_prob or both")
    if method == "mala" and log_prob is None:
        raise ValueError("MALA's accept/reject step needs log_prob (the log-density up to a "
                         "constant)")
    run = _run_numba if backend == "numba" else _run_torch
    samples, accepted = run(method, log_prob, grad_log_prob, x, h, steps, burn_in, keep_at,
                            q if has_params else None, seed, device)
    acceptance = None if accepted is None else accepted / (steps - burn_in)
    return LangevinResult(samples=samples, steps=keep_at, acceptance=acceptance, method=method,
                          step_size=h, seed=seed, backend=backend)


def _check_chain(steps, step_size, burn_in, thin):
    """(steps, h, burn_in, keep_at): the chain's length, step and the steps whose states are
    kept, checked."""
    steps = _check_int("steps", steps, 1)
    if (not isinstance(step_size, numbers.Real) or isinstance(step_size, bool)
            or not step_size > 0 or not math.isfinite(step_size)):
        raise ValueError(f"step_size must be a positive number, got {step_size!r}")
    burn_in = _check_int("burn_in", burn_in, 0)
    if burn_in >= steps:
        raise ValueError(f"burn_in={burn_in} must be smaller than steps={steps}")
    if thin is None:
        keep_at = np.array([steps], dtype=np.int64)
    else:
        thin = _check_int("thin", thin, 1)
        keep_at = np.arange(burn_in + thin, steps + 1, thin, dtype=np.int64)
        if keep_at.size == 0:
            raise ValueError(f"thin={thin} keeps nothing between burn_in={burn_in} and "
                             f"steps={steps}")
    return steps, float(step_size), burn_in, keep_at


def _run_numba(method, log_prob, grad_log_prob, x, h, steps, burn_in, keep_at, q, seed, device):
    """The chains on the numba backend: (samples, accepted counts or None for ULA).

    ``q`` is the target's parameter vector, or None when the functions take none."""
    if grad_log_prob is None:
        raise ValueError("the numba backend needs grad_log_prob (Numba cannot "
                         "differentiate log_prob); or use backend='torch' for autograd")
    has_params = q is not None
    q = q if has_params else np.zeros(1)
    n, dim = x.shape
    grad = _with_params(_numba_function(grad_log_prob, "grad_log_prob"), "grad", has_params)
    if method == "ula":
        return _ula(_ula_sde_numba(grad, dim, h, q), x, steps, keep_at, seed, "numba",
                    device), None
    logp = _with_params(_numba_function(log_prob, "log_prob"), "logp", has_params)
    samples = np.empty((n, keep_at.size, dim))
    accepted = np.empty(n, dtype=np.int64)
    _mala_numba(grad, logp)(x, h, steps, burn_in, keep_at, q, np.uint64(seed), samples,
                            accepted)
    return samples, accepted


def _run_torch(method, log_prob, grad_log_prob, x, h, steps, burn_in, keep_at, q, seed, device):
    """The chains on the torch backend: (samples, accepted counts or None for ULA)."""
    torch = _torch()
    for name, fn in (("log_prob", log_prob), ("grad_log_prob", grad_log_prob)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
    target = _TorchTarget(log_prob, grad_log_prob,
                          None if q is None else torch.as_tensor(q, dtype=torch.float64), torch)
    if method == "ula":
        return _ula(_ula_sde_torch(target, x.shape[1], h), x, steps, keep_at, seed, "torch",
                    device), None
    xt = torch.as_tensor(x, dtype=torch.float64, device=device)
    return _mala_torch(target, xt, h, steps, burn_in, keep_at, seed, device)


def _ula(sde, x, steps, keep_at, seed, backend, device):
    """ULA through the engine: unit Euler–Maruyama steps of the Langevin SDE in units of h."""
    times = np.concatenate([[0], keep_at]).astype(np.float64)  # whole steps, exactly
    sol = solve(sde, x, times, dt=1.0, n_paths=x.shape[0], backend=backend, seed=seed,
                device=device, save="all" if keep_at.size > 1 else "final")
    if sol.n_steps != steps:  # pragma: no cover - guards the grid arithmetic above
        raise RuntimeError(f"the engine took {sol.n_steps} steps instead of {steps}")
    return sol.states[:, -keep_at.size:, :]


# -- diagnostics -----------------------------------------------------------------------------------
def effective_sample_size(samples):
    """Effective sample size of MCMC draws, per component.

    Geyer's initial monotone sequence estimator on the chain-averaged autocorrelation, with the
    between-chain variance folded in (Vehtari et al. 2021, without splitting or ranking). The
    Monte Carlo standard error of the mean of a quantity is its standard deviation over
    sqrt(ESS).

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws) or (n_chains, n_draws, dim)
        Draws of a scalar or vector quantity, one row per chain, in chain order.

    Returns
    -------
    float or ndarray, shape (dim,)
        Effective number of independent draws (at most n_chains * n_draws times a small factor
        for antithetic chains).
    """
    x = np.asarray(samples, dtype=np.float64)
    scalar = x.ndim == 2
    if scalar:
        x = x[..., None]
    if x.ndim != 3 or x.shape[1] < 4:
        raise ValueError(f"samples must have shape (n_chains, n_draws >= 4[, dim]), "
                         f"got {np.shape(samples)}")
    m, n, _ = x.shape
    centred = x - x.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n
    within = acov[:, 0].mean(0) * n / (n - 1)
    between = n * x.mean(axis=1).var(axis=0, ddof=1) if m > 1 else np.zeros(x.shape[2])
    var_plus = within * (n - 1) / n + between / n
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (within[None, :] - acov.mean(0)) / var_plus[None, :]
    rho[0] = 1.0
    ess = np.empty(x.shape[2])
    for c in range(x.shape[2]):
        if not var_plus[c] > 0:
            ess[c] = np.nan
            continue
        tau = -1.0
        previous = np.inf
        for k in range(0, n - 1, 2):
            pair = rho[k, c] + rho[k + 1, c]
            if pair <= 0:
                break
            pair = min(pair, previous)  # monotone: later pairs never add more than earlier ones
            tau += 2.0 * pair
            previous = pair
        ess[c] = m * n / max(tau, 1.0 / math.log10(m * n))
    return float(ess[0]) if scalar else ess

"""Forward (noising) SDEs of score-based generative models (Song et al. 2021), as engine SDEs.

Each forward SDE is linear with a diffusion that depends on time only,

    dX = -beta(t)/2 X dt + g(t) dW        (VP, sub-VP)        dX = g(t) dW        (VE),

so given X_0 = x0 the state at time t is Gaussian, X_t = alpha(t) x0 + sigma(t) eps with eps
standard normal. :meth:`DiffusionSDE.marginal` returns (alpha(t), sigma(t)).

=========  ===========================================  ==========================================
SDE        alpha(t)                                     sigma(t)
=========  ===========================================  ==========================================
VP linear  exp(-B(t)/2), B(t) = b0 t + (b1 - b0) t^2/2    sqrt(1 - alpha^2)
VP cosine  cos(u(t)) / cos(u(0)), u = pi/2 (t+s)/(1+s)   sqrt(1 - alpha^2)
sub-VP     exp(-B(t)/2)                                 1 - alpha^2
VE         1                                            sqrt(s_min^2 (s_max/s_min)^(2t) - s_min^2)
OT path    1 - t                                        s_min + (1 - s_min) t
=========  ===========================================  ==========================================

The VE variance is the exact one of dX = sqrt(d[sigma_ve^2]/dt) dW from a point, with
sigma_ve(t) = s_min (s_max/s_min)^t; Song et al. approximate it by sigma_ve(t)^2 itself. Exact
marginals matter here because exact scores of Gaussian mixtures are built on them.

The coefficients are elementwise, top-level Numba functions (compiled once per machine). Their
only operations on parameters are arithmetic and powers, so the same functions run on torch
tensors and every backend (and :meth:`sdekit.sde.SDE.reverse`) works with them.

The OT path (:class:`OTPathSDE`) is the conditional optimal-transport path of flow matching
(Lipman et al. 2023; rectified flow, Liu et al. 2023, is s_min = 0), written in this module's
clock: data at t = 0, noise at t = 1 (Lipman et al. run the other way: their time is 1 - t and
their velocity minus this one). Its models are trained on and sampled with the velocity
v(t, x) = E[alpha'(t) X_0 + sigma'(t) eps | X_t = x] (:meth:`DiffusionSDE.marginal_rates` gives
alpha', sigma'), which is the probability-flow drift of any of these SDEs.

Noise prediction and score are related by score = -eps / sigma(t); the denoised estimate of the
data is x0 = (x - sigma eps) / alpha = (x + sigma^2 score) / alpha (Tweedie's formula).
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings

import numba as nb
import numpy as np

from ..sde import SDE
from ..sde.random import check_seed, child_seed, normals

__all__ = [
    "DiffusionSDE",
    "VPSDE",
    "VESDE",
    "SubVPSDE",
    "alpha_sigma",
    "subseed",
    "VP_LINEAR",
    "VP_COSINE",
    "VE",
    "SUB_VP",
    "OT",
    "OTPathSDE",
    "alpha_sigma_rates",
]

# Schedule codes, packed into score parameter vectors so one compiled score serves every SDE.
VP_LINEAR, VP_COSINE, VE, SUB_VP, OT = 0, 1, 2, 3, 4

_E = math.e
_HALF_PI = 0.5 * math.pi
# Offset of the cosine schedule (Nichol & Dhariwal 2021); a constant so that the coefficients
# stay functions of t alone, which torch evaluates with `math` on a Python float.
COSINE_S = 0.008
_COS_U0 = _HALF_PI * COSINE_S / (1.0 + COSINE_S)


# -- the marginals, one scalar function for the host, the kernels and torch ----------------------
@nb.njit(cache=True)
def alpha_sigma(code, s0, s1, t):
    """(alpha(t), sigma(t)) of the schedule ``code`` with parameters ``s0``, ``s1``.

    ``s0, s1`` are (beta_min, beta_max) for VP linear and sub-VP, (sigma_min, sigma_max) for VE,
    unused for VP cosine.
    """
    if code == 1:
        u = _HALF_PI * (t + COSINE_S) / (1.0 + COSINE_S)
        c0 = math.cos(_COS_U0)
        alpha = math.cos(u) / c0
        # 1 - alpha^2 = sin(u - u0) sin(u + u0) / cos(u0)^2, free of cancellation at small t
        var = math.sin(u - _COS_U0) * math.sin(u + _COS_U0) / (c0 * c0)
        return alpha, math.sqrt(max(var, 0.0))
    if code == 2:
        return 1.0, s0 * math.sqrt(math.expm1(2.0 * t * math.log(s1 / s0)))
    if code == 4:
        return 1.0 - t, s0 + (1.0 - s0) * t
    b = s0 * t + 0.5 * (s1 - s0) * t * t
    alpha = math.exp(-0.5 * b)
    if code == 3:
        return alpha, -math.expm1(-b)
    return alpha, math.sqrt(-math.expm1(-b))


@nb.njit(cache=True)
def _alpha_sigma_array(code, s0, s1, t, alpha, sigma):
    for i in range(t.shape[0]):
        alpha[i], sigma[i] = alpha_sigma(code, s0, s1, t[i])


@nb.njit(cache=True)
def alpha_sigma_rates(code, s0, s1, t):
    """(alpha'(t), sigma'(t)), the time derivatives of :func:`alpha_sigma`'s marginals.

    They turn a pair (X_0, eps) into the velocity alpha' X_0 + sigma' eps of the path
    X_t = alpha X_0 + sigma eps. sigma' is infinite where sigma = 0 (t = 0 on VP paths).
    """
    if code == 4:
        return -1.0, 1.0 - s0
    alpha, sigma = alpha_sigma(code, s0, s1, t)
    if code == 2:
        rate = math.log(s1 / s0)
        return 0.0, rate * s0 * s0 * math.exp(2.0 * t * rate) / sigma
    if code == 1:
        beta = _cosine_beta(t)
    else:
        beta = s0 + t * (s1 - s0)
    dalpha = -0.5 * beta * alpha
    if code == 3:
        return dalpha, -2.0 * alpha * dalpha
    return dalpha, -alpha * dalpha / sigma


@nb.njit(cache=True)
def _rates_array(code, s0, s1, t, dalpha, dsigma):
    for i in range(t.shape[0]):
        dalpha[i], dsigma[i] = alpha_sigma_rates(code, s0, s1, t[i])


@nb.njit(cache=True)
def _cosine_beta(t):
    u = _HALF_PI * (t + COSINE_S) / (1.0 + COSINE_S)
    return math.pi / (1.0 + COSINE_S) * math.tan(u)


# -- elementwise coefficients (t, x, p): arithmetic on p only, so torch tensors pass through ------
@nb.njit(cache=True)
def _vp_linear_drift(t, x, p):
    return -0.5 * (p[0] + t * (p[1] - p[0])) * x


@nb.njit(cache=True)
def _vp_linear_diffusion(t, x, p):
    return (p[0] + t * (p[1] - p[0])) ** 0.5 + 0.0 * x


@nb.njit(cache=True)
def _vp_cosine_drift(t, x, p):
    return -0.5 * _cosine_beta(t) * x


@nb.njit(cache=True)
def _vp_cosine_diffusion(t, x, p):
    return math.sqrt(_cosine_beta(t)) + 0.0 * x


@nb.njit(cache=True)
def _subvp_diffusion(t, x, p):
    beta = p[0] + t * (p[1] - p[0])
    b = p[0] * t + 0.5 * (p[1] - p[0]) * t * t
    # e ** y rather than exp(y): the same expression serves floats and tensors
    return (beta * (1.0 - _E ** (-2.0 * b))) ** 0.5 + 0.0 * x


@nb.njit(cache=True)
def _ve_drift(t, x, p):
    return 0.0 * x


@nb.njit(cache=True)
def _ve_diffusion(t, x, p):
    # p = (log sigma_min, log sigma_max): g = sigma_ve(t) sqrt(2 log(sigma_max / sigma_min))
    return _E ** (p[0] + t * (p[1] - p[0])) * (2.0 * (p[1] - p[0])) ** 0.5 + 0.0 * x


@nb.njit(cache=True)
def _ot_drift(t, x, p):
    # f = alpha'/alpha = -1/(1 - t): infinite at t = 1, where the path is pure noise and the
    # forward SDE ends; samplers of OT models integrate the velocity, never this drift
    return -x / (1.0 - t)


@nb.njit(cache=True)
def _ot_diffusion(t, x, p):
    # g^2 = d(sigma^2)/dt - 2 f sigma^2 with sigma = s_min + (1 - s_min) t
    sigma = p[0] + (1.0 - p[0]) * t
    return (2.0 * sigma * (1.0 - p[0]) + 2.0 * sigma * sigma / (1.0 - t)) ** 0.5 + 0.0 * x


def subseed(seed, tag):
    """Deprecated: :func:`sdekit.sde.random.child_seed` ``(seed, tag)``, which gives the same
    numbers."""
    warnings.warn("sdekit.score.sdes.subseed is deprecated; use "
                  "sdekit.sde.random.child_seed(seed, tag), which gives the same seeds",
                  DeprecationWarning, stacklevel=2)
    return child_seed(seed, tag)


_PRIOR_TAG = 0x5052


def _check_time(name, value, lo=0.0):
    if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= lo:
        raise ValueError(f"{name} must be a finite number above {lo}, got {value!r}")
    return float(value)


class DiffusionSDE(SDE):
    """Base class of the forward SDEs: an engine :class:`~sdekit.sde.SDE` with Gaussian marginals.

    Attributes
    ----------
    t_end : float
        Time T at which the forward process is (approximately) the prior; sampling starts there.
    t_eps : float
        Smallest time sampled: samplers stop at t_eps, where sigma(t) > 0 keeps the score finite.
    prior_std : float
        Standard deviation of the prior N(0, prior_std^2 I) that stands in for the law at T.
    code : int
        Schedule code (:data:`VP_LINEAR`, :data:`VP_COSINE`, :data:`VE`, :data:`SUB_VP`).
    """

    code = -1
    prior_std = 1.0

    def __init__(self, drift, diffusion, *, dim, params, t_end, t_eps, name):
        super().__init__(drift, diffusion, dim=dim, params=params, elementwise=True,
                         name=name, cacheable=True)
        self.t_end = _check_time("t_end", t_end)
        self.t_eps = _check_time("t_eps", t_eps)
        if self.t_eps >= self.t_end:
            raise ValueError(f"t_eps={t_eps} must be smaller than t_end={t_end}")

    # -- schedule -------------------------------------------------------------------------------
    def schedule(self):
        """(code, s0, s1): the schedule as packed into score parameter vectors."""
        raise NotImplementedError

    def marginal(self, t):
        """Mean scale alpha(t) and standard deviation sigma(t) of X_t given X_0.

        Parameters
        ----------
        t : float or array_like
            Times (same units as ``t_end``), 0 <= t <= t_end.

        Returns
        -------
        alpha, sigma : ndarray or float
            Same shape as ``t``: X_t | X_0 ~ N(alpha X_0, sigma^2 I).
        """
        t_arr = np.asarray(t, dtype=np.float64)
        if np.any(t_arr < 0) or np.any(t_arr > self.t_end * (1 + 1e-12)) or not np.all(
                np.isfinite(t_arr)):
            raise ValueError(f"t must lie in [0, t_end={self.t_end}], got {t!r}")
        flat = np.ascontiguousarray(t_arr.ravel())
        alpha = np.empty_like(flat)
        sigma = np.empty_like(flat)
        code, s0, s1 = self.schedule()
        _alpha_sigma_array(code, s0, s1, flat, alpha, sigma)
        if t_arr.ndim == 0:
            return float(alpha[0]), float(sigma[0])
        return alpha.reshape(t_arr.shape), sigma.reshape(t_arr.shape)

    def marginal_rates(self, t):
        """Time derivatives (alpha'(t), sigma'(t)) of :meth:`marginal`.

        The flow-matching velocity of the pair (X_0, eps) is alpha' X_0 + sigma' eps.

        Parameters
        ----------
        t : float or array_like
            Times, 0 <= t <= t_end (sigma' is infinite where sigma = 0).

        Returns
        -------
        dalpha, dsigma : ndarray or float
            Same shape as ``t``.
        """
        t_arr = np.asarray(t, dtype=np.float64)
        if np.any(t_arr < 0) or np.any(t_arr > self.t_end * (1 + 1e-12)) or not np.all(
                np.isfinite(t_arr)):
            raise ValueError(f"t must lie in [0, t_end={self.t_end}], got {t!r}")
        flat = np.ascontiguousarray(t_arr.ravel())
        dalpha = np.empty_like(flat)
        dsigma = np.empty_like(flat)
        code, s0, s1 = self.schedule()
        with np.errstate(divide="ignore"):
            _rates_array(code, s0, s1, flat, dalpha, dsigma)
        if t_arr.ndim == 0:
            return float(dalpha[0]), float(dsigma[0])
        return dalpha.reshape(t_arr.shape), dsigma.reshape(t_arr.shape)

    def log_snr(self, t):
        """lambda(t) = log(alpha(t) / sigma(t)), decreasing in t (the DPM-Solver time variable)."""
        alpha, sigma = self.marginal(t)
        return np.log(alpha) - np.log(sigma)

    def t_from_log_snr(self, lam):
        """Inverse of :meth:`log_snr` on (0, t_end], by bisection (to double precision)."""
        lam = np.asarray(lam, dtype=np.float64)
        lo = np.zeros(lam.shape)
        hi = np.full(lam.shape, self.t_end)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            # log_snr decreases: above the target means the root lies later
            above = self.log_snr(np.maximum(mid, 1e-300)) > lam
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        return 0.5 * (lo + hi)

    def transition(self, s, t):
        """(a, v) with X_t | X_s ~ N(a X_s, v I) for s < t."""
        alpha_s, sigma_s = self.marginal(s)
        alpha_t, sigma_t = self.marginal(t)
        a = alpha_t / alpha_s
        return a, sigma_t**2 - a**2 * sigma_s**2

    # -- prior ----------------------------------------------------------------------------------
    def prior_sample(self, n, dim=None, seed=None):
        """``n`` draws from the prior N(0, prior_std^2 I), shape (n, dim).

        Drawn from sdekit's per-path streams under a seed derived from ``seed``, so a sampler
        seeded with ``seed`` does not reuse these numbers for its own noise.
        """
        dim = self.dim if dim is None else dim
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        seed = check_seed(seed)
        return self.prior_std * normals(child_seed(seed, _PRIOR_TAG), int(n), int(dim))

    def prior_logpdf(self, x):
        """Log-density of the prior at ``x`` (shape (..., dim)); returns shape (...)."""
        x = np.asarray(x, dtype=np.float64)
        d = x.shape[-1]
        s2 = self.prior_std**2
        return -0.5 * (x * x).sum(-1) / s2 - 0.5 * d * math.log(2 * math.pi * s2)

    # -- conversions ----------------------------------------------------------------------------
    def _sigma(self, t):
        sigma = self.marginal(t)[1]
        return sigma if np.ndim(sigma) == 0 else np.asarray(sigma)[..., None]

    def eps_to_score(self, eps, t):
        """Score from a noise prediction: score = -eps / sigma(t).

        ``eps`` has shape (n, dim); ``t`` is a float or an array of shape (n,).
        """
        return -np.asarray(eps) / self._sigma(t)

    def score_to_eps(self, score, t):
        """Noise prediction from a score: eps = -sigma(t) score."""
        return -np.asarray(score) * self._sigma(t)

    def denoise(self, x, score, t):
        """Tweedie's estimate E[X_0 | X_t = x] = (x + sigma^2 score) / alpha."""
        alpha, sigma = self.marginal(t)
        if np.ndim(alpha):
            alpha, sigma = np.asarray(alpha)[..., None], np.asarray(sigma)[..., None]
        return (np.asarray(x) + sigma**2 * np.asarray(score)) / alpha

    def perturb(self, x0, t, seed=None):
        """Draw X_t given X_0 = x0: returns (x_t, eps) with x_t = alpha x0 + sigma eps.

        ``x0`` has shape (n, dim) and ``t`` shape (n,) or is a float.
        """
        x0 = np.asarray(x0, dtype=np.float64)
        eps = normals(check_seed(seed), x0.shape[0], x0.shape[1])
        alpha, sigma = self.marginal(t)
        if np.ndim(alpha):
            alpha, sigma = np.asarray(alpha)[:, None], np.asarray(sigma)[:, None]
        return alpha * x0 + sigma * eps, eps

    def with_dim(self, dim):
        """The same SDE in ``dim`` dimensions (compiled kernels are shared)."""
        if dim == self.dim:
            return self
        if not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        other = copy.copy(self)
        other.dim = other.noise_dim = int(dim)
        return other

    def _extra_repr(self):
        return ""

    def __repr__(self):
        return (f"{type(self).__name__}({self._extra_repr()}dim={self.dim}, "
                f"t_end={self.t_end:g}, t_eps={self.t_eps:g})")


class VPSDE(DiffusionSDE):
    """Variance-preserving SDE dX = -beta(t)/2 X dt + sqrt(beta(t)) dW (DDPM in continuous time).

    Parameters
    ----------
    beta_min, beta_max : float
        Linear schedule beta(t) = beta_min + t (beta_max - beta_min) on [0, 1] (1/time).
        Defaults are those of Song et al. (0.1, 20); the DDPM chain with N steps has
        beta_i = beta(i/N)/N.
    schedule : {"linear", "cosine"}
        ``"cosine"``: alpha(t) = cos(pi/2 (t+s)/(1+s)) / cos(pi/2 s/(1+s)) with s = 0.008
        (Nichol & Dhariwal 2021), beta(t) = pi/(1+s) tan(pi/2 (t+s)/(1+s)). beta is infinite at
        t = 1, so its default ``t_end`` is 0.9946 (as in DPM-Solver), where alpha = 0.0083.
    dim : int
        State dimension (see :meth:`with_dim`).
    t_end, t_eps : float, optional
        Start and end times of sampling (defaults 1 and 1e-3; cosine: 0.9946 and 1e-3).
    """

    def __init__(self, beta_min=0.1, beta_max=20.0, *, schedule="linear", dim=1, t_end=None,
                 t_eps=1e-3):
        if schedule not in ("linear", "cosine"):
            raise ValueError(f"schedule must be 'linear' or 'cosine', got {schedule!r}")
        self.kind = schedule
        if schedule == "linear":
            for name, value in (("beta_min", beta_min), ("beta_max", beta_max)):
                if not isinstance(value, numbers.Real) or not value > 0 or not math.isfinite(
                        value):
                    raise ValueError(f"{name} must be a positive number, got {value!r}")
            if beta_max < beta_min:
                raise ValueError(f"beta_max={beta_max} must be >= beta_min={beta_min}")
            super().__init__(_vp_linear_drift, _vp_linear_diffusion, dim=dim,
                             params={"beta_min": beta_min, "beta_max": beta_max},
                             t_end=1.0 if t_end is None else t_end, t_eps=t_eps, name="VPSDE")
            self.code = VP_LINEAR
        else:
            t_end = 0.9946 if t_end is None else t_end
            if t_end >= 1.0:
                raise ValueError(f"the cosine schedule needs t_end < 1, got {t_end}")
            super().__init__(_vp_cosine_drift, _vp_cosine_diffusion, dim=dim, params={},
                             t_end=t_end, t_eps=t_eps, name="VPSDE(cosine)")
            self.code = VP_COSINE

    def beta(self, t):
        """beta(t) (1/time)."""
        t = np.asarray(t, dtype=np.float64)
        if self.code == VP_COSINE:
            u = _HALF_PI * (t + COSINE_S) / (1.0 + COSINE_S)
            return math.pi / (1.0 + COSINE_S) * np.tan(u)
        b0, b1 = self.params
        return b0 + t * (b1 - b0)

    def schedule(self):
        if self.code == VP_COSINE:
            return VP_COSINE, 0.0, 0.0
        return VP_LINEAR, float(self.params[0]), float(self.params[1])

    def _extra_repr(self):
        if self.code == VP_COSINE:
            return "schedule='cosine', "
        return f"beta_min={self.params[0]:g}, beta_max={self.params[1]:g}, "


class SubVPSDE(DiffusionSDE):
    """Sub-VP SDE dX = -beta(t)/2 X dt + sqrt(beta(t) (1 - exp(-2 B(t)))) dW (Song et al. 2021).

    Its variance sigma(t) = 1 - alpha(t)^2 stays below the VP one. Parameters as :class:`VPSDE`
    (linear schedule only).
    """

    code = SUB_VP

    def __init__(self, beta_min=0.1, beta_max=20.0, *, dim=1, t_end=1.0, t_eps=1e-3):
        for name, value in (("beta_min", beta_min), ("beta_max", beta_max)):
            if not isinstance(value, numbers.Real) or not value > 0 or not math.isfinite(value):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if beta_max < beta_min:
            raise ValueError(f"beta_max={beta_max} must be >= beta_min={beta_min}")
        super().__init__(_vp_linear_drift, _subvp_diffusion, dim=dim,
                         params={"beta_min": beta_min, "beta_max": beta_max},
                         t_end=t_end, t_eps=t_eps, name="SubVPSDE")

    def schedule(self):
        return SUB_VP, float(self.params[0]), float(self.params[1])

    def _extra_repr(self):
        return f"beta_min={self.params[0]:g}, beta_max={self.params[1]:g}, "


class VESDE(DiffusionSDE):
    """Variance-exploding SDE dX = sqrt(d[sigma_ve(t)^2]/dt) dW, sigma_ve = s_min (s_max/s_min)^t.

    Parameters
    ----------
    sigma_min, sigma_max : float
        Noise scales (units of x). ``sigma_max`` should exceed the largest distance between data
        points (Song & Ermon 2020); the prior is N(0, sigma_max^2 I).
    dim : int
        State dimension.
    t_end, t_eps : float
        Defaults 1 and 1e-5 (Song et al.).

    Notes
    -----
    The engine parameters are ``log_sigma_min`` and ``log_sigma_max``: with them the diffusion
    is arithmetic (e ** (...)), which lets the same coefficient run on torch tensors.
    """

    code = VE

    def __init__(self, sigma_min=0.01, sigma_max=50.0, *, dim=1, t_end=1.0, t_eps=1e-5):
        for name, value in (("sigma_min", sigma_min), ("sigma_max", sigma_max)):
            if not isinstance(value, numbers.Real) or not value > 0 or not math.isfinite(value):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not sigma_max > sigma_min:
            raise ValueError(f"sigma_max={sigma_max} must exceed sigma_min={sigma_min}")
        super().__init__(_ve_drift, _ve_diffusion, dim=dim,
                         params={"log_sigma_min": math.log(sigma_min),
                                 "log_sigma_max": math.log(sigma_max)},
                         t_end=t_end, t_eps=t_eps, name="VESDE")
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self.prior_std = float(sigma_max)

    def schedule(self):
        return VE, self.sigma_min, self.sigma_max

    def _extra_repr(self):
        return f"sigma_min={self.sigma_min:g}, sigma_max={self.sigma_max:g}, "


class OTPathSDE(DiffusionSDE):
    """The conditional optimal-transport path of flow matching, X_t = (1 - t) X_0 + sigma(t) eps.

    sigma(t) = sigma_min + (1 - sigma_min) t: with ``sigma_min = 0`` the straight line from
    data (t = 0) to noise (t = 1) of rectified flow (Liu et al. 2023); with ``sigma_min > 0``
    Lipman et al.'s (2023) path, whose data end is smoothed by N(0, sigma_min^2 I). Time runs as
    in the other forward SDEs here: data at t = 0, the prior N(0, I) at t = t_end = 1
    (Lipman et al.'s time is 1 - t).

    Models on this path are trained by flow matching (``ScoreModel(path="ot")``) and sampled
    with their velocity by ``sample(..., method="flow_euler" | "flow_heun")``. As an engine SDE
    it is dX = -X / (1 - t) dt + g(t) dW, singular at t = 1; the score samplers, which run that
    SDE (or its probability flow) from t_end, refuse it.

    Parameters
    ----------
    sigma_min : float
        Noise left at t = 0, in [0, 1).
    dim : int
        State dimension.
    t_end, t_eps : float
        Sampling runs from t_end = 1 (the velocity is finite there) down to t_eps (default
        1e-3, where samples carry noise of standard deviation sigma_min + t_eps).
    """

    code = OT

    def __init__(self, sigma_min=0.0, *, dim=1, t_end=1.0, t_eps=1e-3):
        if (not isinstance(sigma_min, numbers.Real) or not math.isfinite(sigma_min)
                or not 0 <= sigma_min < 1):
            raise ValueError(f"sigma_min must lie in [0, 1), got {sigma_min!r}")
        if not isinstance(t_end, numbers.Real) or t_end != 1.0:
            raise ValueError(f"the OT path ends in pure noise at t_end = 1, got t_end={t_end!r}")
        super().__init__(_ot_drift, _ot_diffusion, dim=dim, params={"sigma_min": sigma_min},
                         t_end=1.0, t_eps=t_eps, name="OTPathSDE")
        self.sigma_min = float(sigma_min)

    def schedule(self):
        return OT, self.sigma_min, 0.0

    def _extra_repr(self):
        return f"sigma_min={self.sigma_min:g}, "

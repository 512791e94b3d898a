"""Time-stepping schemes: each one object that owns its step, written once for every backend.

A :class:`Scheme` carries what it promises (strong and weak order), what it needs of an SDE
(noise kinds, dg/dx, elementwise coefficients), how many normals a step draws, and its step in
two forms built on the same update formulas:

* ``step``, a template for the per-path integration loop (:mod:`sdekit.sde.backends._kernels`),
  compiled by Numba for the CPU and retargeted to CUDA;
* ``torch_step``, the same step on a batch of tensors (:mod:`sdekit.sde.backends.torch`).

The update formulas act on one component and are plain arithmetic, so Numba compiles them into
the kernels and the torch backend calls them on whole tensors. A new scheme is one more
``Scheme`` in :data:`SCHEMES`: its formulas, its two steps and its requirements, here.

===================  ============  ============  =============================================
scheme               strong order  weak order    noise
===================  ============  ============  =============================================
``euler_maruyama``   0.5 (1.0 *)   1.0           scalar, diagonal, general
``milstein``         1.0           1.0           diagonal (or one-dimensional), needs dg/dx
``heun``             2.0 (ODE)     2.0 (ODE)     none: integrates the drift alone
===================  ============  ============  =============================================

(*) Euler–Maruyama has strong order 1 for additive noise.

The kernel step
---------------
``step(t, h, sqrt_h, x, p, f, g, gx, dw, xt, state) -> state`` advances the state ``x`` (shape
(dim,)) of one path by a step ``h`` from time ``t`` in place, with scratch arrays ``f``, ``gx``,
``xt`` (shape (dim,)), ``g`` (the diffusion's shape) and ``dw`` (shape (noise_dim,)), and returns
the path's random state. It calls its collaborators by global name, bound per specialization:
``_drift``, ``_diffusion``, ``_diffusion_dx`` (vector form ``fn(t, x, p, out)``), ``_noise(g, dw,
k)`` (component k of g dW for the SDE's noise kind), ``_draw_increments(dw, sqrt_h, state)`` and
the constant ``_DIM``. The diffusion it evaluates must be left in ``g``: the bridge correction of
first passages reads it after the step.

The torch step
--------------
``torch_step(t, h, x, batch) -> (x_new, g)`` steps a batch ``x`` (shape (n, dim)) and returns the
diffusion used (None for a scheme without noise), through ``batch.drift(t, x)``,
``batch.diffusion(t, x)``, ``batch.diffusion_dx(t, x)``, ``batch.increments(h)`` (the step's
Wiener increments, shape (n, noise_dim)) and ``batch.noise(g, dw)`` (g dW, shape (n, dim)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba as nb

__all__ = ["Scheme", "SCHEMES", "get_scheme"]

# Bound per specialization of a kernel step (see the module docs); defined for linters only.
_drift = _diffusion = _diffusion_dx = _noise = _draw_increments = None
_DIM = 1


# -- the update formulas, once --------------------------------------------------------------------
@nb.njit(cache=True)
def euler_maruyama_update(x, drift, noise, h):
    """x + f h + g dW, where ``noise`` is the already-multiplied g dW."""
    return x + drift * h + noise


@nb.njit(cache=True)
def milstein_update(x, drift, g, dg_dx, dw, h):
    """Milstein for diagonal noise: adds the Itô correction g g' (dW^2 - h) / 2."""
    return x + drift * h + g * dw + 0.5 * g * dg_dx * (dw * dw - h)


@nb.njit(cache=True)
def heun_predictor(x, drift, h):
    """Euler predictor of the explicit trapezoidal (Heun) rule."""
    return x + drift * h


@nb.njit(cache=True)
def heun_update(x, drift_start, drift_end, h):
    """Trapezoidal corrector: x + h (f(t, x) + f(t + h, x_pred)) / 2."""
    return x + 0.5 * h * (drift_start + drift_end)


# -- Euler–Maruyama -------------------------------------------------------------------------------
def _euler_maruyama_step(t, h, sqrt_h, x, p, f, g, gx, dw, xt, state):
    _drift(t, x, p, f)
    _diffusion(t, x, p, g)
    state = _draw_increments(dw, sqrt_h, state)
    for k in range(_DIM):
        x[k] = euler_maruyama_update(x[k], f[k], _noise(g, dw, k), h)
    return state


def _euler_maruyama_torch(t, h, x, batch):
    f = batch.drift(t, x)
    g = batch.diffusion(t, x)
    dw = batch.increments(h)
    return euler_maruyama_update.py_func(x, f, batch.noise(g, dw), h), g


# -- Milstein -------------------------------------------------------------------------------------
def _milstein_step(t, h, sqrt_h, x, p, f, g, gx, dw, xt, state):
    _drift(t, x, p, f)
    _diffusion(t, x, p, g)
    _diffusion_dx(t, x, p, gx)
    state = _draw_increments(dw, sqrt_h, state)
    for k in range(_DIM):
        x[k] = milstein_update(x[k], f[k], g[k], gx[k], dw[k], h)
    return state


def _milstein_torch(t, h, x, batch):
    f = batch.drift(t, x)
    g = batch.diffusion(t, x)
    dw = batch.increments(h)
    gx = batch.diffusion_dx(t, x)
    return milstein_update.py_func(x, f, g, gx, dw, h), g


# -- Heun (explicit trapezoidal rule, for ODEs) ---------------------------------------------------
def _heun_step(t, h, sqrt_h, x, p, f, g, gx, dw, xt, state):
    _drift(t, x, p, f)
    for k in range(_DIM):
        xt[k] = heun_predictor(x[k], f[k], h)
    _drift(t + h, xt, p, gx)
    for k in range(_DIM):
        x[k] = heun_update(x[k], f[k], gx[k], h)
    return state


def _heun_torch(t, h, x, batch):
    f = batch.drift(t, x)
    x_pred = heun_predictor.py_func(x, f, h)
    return heun_update.py_func(x, f, batch.drift(t + h, x_pred), h), None


# -- the scheme objects ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Scheme:
    """A time-stepping scheme: its step on every backend and what it promises and needs.

    Attributes
    ----------
    name : str
        Name accepted by ``solve(method=...)``.
    strong_order, weak_order : float
        Convergence orders for smooth coefficients (for ``heun``: the ODE order).
    stochastic : bool
        Whether the scheme draws noise: one normal per Wiener process and step
        (:meth:`draws_per_step`).
    noise_kinds : tuple of str
        Noise structures the scheme supports.
    step : callable
        Template of one step of one path for the compiled loop (see the module docs).
    torch_step : callable
        One step of a batch of tensors (see the module docs).
    needs_diffusion_derivative : bool
        Whether the SDE must provide dg/dx (``SDE(diffusion_dx=...)``).
    needs_elementwise : bool
        Whether the coefficients must be elementwise (``SDE(elementwise=True)``).
    scalar_noise_in_one_dim : bool
        Whether scalar noise is supported in one dimension only (Milstein's correction
        g g' (dW^2 - h) / 2 per component is exact for scalar noise only when d = 1).
    """

    name: str
    strong_order: float
    weak_order: float
    stochastic: bool
    noise_kinds: tuple
    step: Callable = None
    torch_step: Callable = None
    needs_diffusion_derivative: bool = False
    needs_elementwise: bool = False
    scalar_noise_in_one_dim: bool = False

    def draws_per_step(self, sde):
        """Normals a step draws from each path's main stream: one per Wiener process."""
        return sde.noise_dim if self.stochastic else 0

    def check(self, sde):
        """Raise ``ValueError`` naming the remedy if this scheme cannot integrate ``sde``."""
        if sde.noise not in self.noise_kinds:
            if sde.noise == "none":
                hint = "use method='heun' for an ODE"
            elif not self.stochastic:
                hint = (f"{self.name} integrates ODEs (no diffusion); use 'euler_maruyama' or "
                        "'milstein'")
            else:
                hint = "use method='euler_maruyama'"
            raise ValueError(f"method {self.name!r} does not support {sde.noise} noise: {hint}")
        if self.scalar_noise_in_one_dim and sde.noise == "scalar" and sde.dim > 1:
            raise ValueError(f"{self.name} supports scalar noise only in one dimension")
        if self.needs_diffusion_derivative and sde.diffusion_dx is None:
            raise ValueError(f"{self.name} needs the derivative of the diffusion: pass "
                             "diffusion_dx= to SDE(...)")
        if self.needs_elementwise and not sde.elementwise:
            raise ValueError(f"{self.name} needs elementwise coefficients (see "
                             "SDE(elementwise=True))")


SCHEMES = {
    s.name: s
    for s in (
        Scheme("euler_maruyama", 0.5, 1.0, True, ("scalar", "diagonal", "general"),
               step=_euler_maruyama_step, torch_step=_euler_maruyama_torch),
        Scheme("milstein", 1.0, 1.0, True, ("scalar", "diagonal"),
               step=_milstein_step, torch_step=_milstein_torch,
               needs_diffusion_derivative=True, needs_elementwise=True,
               scalar_noise_in_one_dim=True),
        Scheme("heun", 2.0, 2.0, False, ("none",), step=_heun_step, torch_step=_heun_torch),
    )
}


def get_scheme(name) -> Scheme:
    """Look up a scheme by name (or pass a :class:`Scheme` through), with a clear error."""
    if isinstance(name, Scheme):
        return name
    try:
        return SCHEMES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown method {name!r}; choose one of {', '.join(sorted(SCHEMES))}"
        ) from None

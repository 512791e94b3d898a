"""Update formulas of the time-stepping schemes, written once for every backend.

Each formula acts on one component and is plain arithmetic, so Numba compiles it into the CPU and
CUDA kernels and the torch backend calls it on whole tensors. The loops that evaluate drift and
diffusion, draw noise and apply these formulas live in the backends.

===================  ============  ============  =============================================
scheme               strong order  weak order    noise
===================  ============  ============  =============================================
``euler_maruyama``   0.5 (1.0 *)   1.0           scalar, diagonal, general
``milstein``         1.0           1.0           diagonal (or one-dimensional), needs dg/dx
``heun``             2.0 (ODE)     2.0 (ODE)     none: integrates the drift alone
===================  ============  ============  =============================================

(*) Euler–Maruyama has strong order 1 for additive noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb

__all__ = ["Scheme", "SCHEMES", "get_scheme"]


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


@dataclass(frozen=True)
class Scheme:
    """A time-stepping scheme and what it promises.

    Attributes
    ----------
    name : str
        Name accepted by ``solve(method=...)``.
    strong_order, weak_order : float
        Convergence orders for smooth coefficients (for ``heun``: the ODE order).
    stochastic : bool
        Whether the scheme draws noise.
    noise_kinds : tuple of str
        Noise structures the scheme supports.
    needs_diffusion_derivative : bool
        Whether the SDE must provide dg/dx.
    """

    name: str
    strong_order: float
    weak_order: float
    stochastic: bool
    noise_kinds: tuple
    needs_diffusion_derivative: bool = False


SCHEMES = {
    s.name: s
    for s in (
        Scheme("euler_maruyama", 0.5, 1.0, True, ("scalar", "diagonal", "general")),
        Scheme("milstein", 1.0, 1.0, True, ("scalar", "diagonal"), True),
        Scheme("heun", 2.0, 2.0, False, ("none",)),
    )
}


def get_scheme(name) -> Scheme:
    """Look up a scheme by name, with a clear error listing the choices."""
    if isinstance(name, Scheme):
        return name
    try:
        return SCHEMES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown method {name!r}; choose one of {', '.join(sorted(SCHEMES))}"
        ) from None

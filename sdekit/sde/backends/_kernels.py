"""The per-path integration loop, written once and compiled for the CPU and for CUDA.

Every function here is a *template*: it calls its collaborators (``_drift``, ``_diffusion``,
``_step``, ``_upper``...) by global name, and :func:`build_path_integrator` binds those names to the
SDE's coefficients, the chosen scheme's own step (:attr:`sdekit.sde.schemes.Scheme.step`) and the
boundaries (see :mod:`sdekit.sde.specialization`). The
CPU backend runs the result in a ``prange`` loop over paths, the CUDA backend in one thread per
path; both hand it the same arguments, so a seed gives the same paths on both.

Draws per step and path from the path's main stream: the scheme's normals
(:meth:`~sdekit.sde.schemes.Scheme.draws_per_step`: one per Wiener process, none for Heun),
nothing else. With boundaries, and only when a crossing is not
negligible, the crossing test's uniform (and, for an absorbed path, the normal and uniform of its
crossing time) come from a stream keyed by (seed, path, step), so the main stream's draw count
never depends on the parameters (common random numbers stay common).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .. import philox
from ..events import bridge_crossing_fraction, crossing_negligible
from ..random import event_state, next_normal, next_uniform, seed_state
from ..specialization import specialize
from ._nrt import unmanaged

# Names bound per specialization; defined here only so that linters know them.
_scalar = _step = _upper = _lower = None
_bridge_variance = _absorb = _absorb_component = _may_cross = None
_DIM = _NOISE_DIM = 1  # state and noise dimensions, compile-time constants of each kernel
_BOUNDED = True  # False compiles the boundary checks away
_WATCH_START, _WATCH_STOP = 0, 1  # components that boundaries apply to

__all__ = ["RNGS", "build_path_integrator", "build_absorb", "buffer_shapes", "combination_key",
           "absorb_key"]


# -- coefficient adapters -----------------------------------------------------------------------
def _elementwise(t, x, p, out):
    """Vector form of an elementwise coefficient ``_scalar(t, x_k, p)``."""
    for k in range(_DIM):
        out[k] = _scalar(t, x[k], p)


# -- noise structures: the k-th component of g dW -------------------------------------------------
def _diagonal_noise(g, dw, k):
    return g[k] * dw[k]


def _scalar_noise(g, dw, k):
    return g[k] * dw[0]


def _general_noise(g, dw, k):
    total = 0.0
    for j in range(_NOISE_DIM):
        total += g[k, j] * dw[j]
    return total


# -- variance of component k's increment over a step, for the bridge correction ------------------
def _vector_bridge_variance(g, h, k):
    return g[k] * g[k] * h


def _matrix_bridge_variance(g, h, k):
    total = 0.0
    for j in range(g.shape[1]):
        total += g[k, j] * g[k, j]
    return total * h


def _no_bridge_variance(g, h, k):
    return 0.0


# -- the step's Wiener increments, bound into every scheme's step as _draw_increments ------------
def _draw_increments(dw, sqrt_h, state):
    for j in range(_NOISE_DIM):
        state, z = next_normal(state)
        dw[j] = sqrt_h * z
    return state


# -- absorption -----------------------------------------------------------------------------------
@nb.njit(cache=True, inline="always")
def _exp_bound(e):
    """An upper bound of exp(-e) for e >= 0 that needs no exponential (0 at e = inf)."""
    return 1.0 / (1.0 + e * (1.0 + 0.5 * e))


def _absorb_component(t, h, x_start, x_end, variance, bridge, q, state):
    """Did one component's step from x_start to x_end reach a boundary?

    Returns (side, state, time, level).

    Without ``bridge`` only the end of the step is checked and a hit is dated at the step's end:
    the uncorrected scheme, kept for comparison.
    """
    t_end = t + h
    up0 = _upper(t, q) - x_start
    up1 = _upper(t_end, q) - x_end
    lo0 = x_start - _lower(t, q)
    lo1 = x_end - _lower(t_end, q)
    if not bridge:
        variance = 0.0
    side = 0
    if up0 <= 0.0 or up1 <= 0.0:
        side = 1
    elif lo0 <= 0.0 or lo1 <= 0.0:
        side = -1
    else:
        near_up = not crossing_negligible(up0, up1, variance)
        near_lo = not crossing_negligible(lo0, lo1, variance)
        if near_up or near_lo:
            # The same decision as u < crossing_probability(...), but exp(-e) is bounded by
            # 1 / (1 + e + e^2/2), so most draws are settled without computing an exponential.
            state, u = next_uniform(state)
            e_up = 2.0 * up0 * up1 / variance if near_up else math.inf
            e_lo = 2.0 * lo0 * lo1 / variance if near_lo else math.inf
            if u < _exp_bound(e_up) + _exp_bound(e_lo):
                p_up = math.exp(-e_up)
                if u < p_up:
                    side = 1
                elif u < p_up + math.exp(-e_lo):
                    side = -1
    if side == 0:
        return 0, state, math.nan, 0.0
    if side == 1:
        d0, d1 = up0, up1
    else:
        d0, d1 = lo0, lo1
    if not bridge:
        frac = 1.0
    elif variance > 0.0:
        state, frac = bridge_crossing_fraction(state, d0, d1, variance)
    else:
        frac = d0 / (d0 - d1) if d0 > 0.0 else 0.0
    t_hit = t + frac * h
    level = _upper(t_hit, q) if side == 1 else _lower(t_hit, q)
    return side, state, t_hit, level


def _may_cross(h, x_start, x_end, upper0, upper1, lower0, lower1, g, bridge):
    """Cheap test run every step: could any watched component have reached a boundary?

    False exactly when :func:`_absorb` would find nothing and draw nothing, so the kernels run
    the full test only near a boundary. Takes the boundary levels at both ends of the step, which
    the kernels carry from one step to the next instead of evaluating them twice.
    """
    for k in range(_WATCH_START, _WATCH_STOP):
        up1 = upper1 - x_end[k]
        lo1 = x_end[k] - lower1
        if up1 <= 0.0 or lo1 <= 0.0:
            return True
        if bridge:
            variance = _bridge_variance(g, h, k)
            if not (crossing_negligible(upper0 - x_start[k], up1, variance)
                    and crossing_negligible(x_start[k] - lower0, lo1, variance)):
                return True
    return False


def _absorb(t, h, x_start, x_end, g, bridge, q, state):
    """Did any watched component reach a boundary during the step? The earliest crossing wins.

    Returns (side, state, time, level, component). Each component's crossing law is its own
    bridge's, exact for independent (diagonal) noise.
    """
    side = 0
    t_hit = math.nan
    level = 0.0
    component = -1
    for k in range(_WATCH_START, _WATCH_STOP):
        side_k, state, t_k, level_k = _absorb_component(
            t, h, x_start[k], x_end[k], _bridge_variance(g, h, k), bridge, q, state
        )
        if side_k != 0 and (side == 0 or t_k < t_hit):
            side, t_hit, level, component = side_k, t_k, level_k, k
    return side, state, t_hit, level, component


def _integrate_path(
    path, x0, grid, sqrt_steps, save_at, p, q, seed, first_path, bounded, bridge,
    x, f, g, gx, dw, xt, xs, states, fpt, hit,
):
    """Integrate path ``path`` over ``grid``, storing states at grid indices ``save_at``.

    ``hit[path]`` receives side * (component + 1): +/-1 for the upper/lower boundary of
    component 0, +/-2 for component 1, and so on; 0 if the path was never absorbed.
    """
    # A signed index: parallel loops may hand out unsigned ones, and mixing the two gives floats.
    i = np.int64(path)
    params = unmanaged(p[i if p.shape[0] > 1 else 0])
    x = unmanaged(x)
    f = unmanaged(f)
    g = unmanaged(g)
    gx = unmanaged(gx)
    dw = unmanaged(dw)
    xt = unmanaged(xt)
    xs = unmanaged(xs)
    grid = unmanaged(grid)
    sqrt_steps = unmanaged(sqrt_steps)
    save_at = unmanaged(save_at)
    q = unmanaged(q)
    states = unmanaged(states)
    start = i if x0.shape[0] > 1 else 0
    for k in range(_DIM):
        x[k] = x0[start, k]
    state = seed_state(seed, first_path + i)
    n_save = save_at.shape[0]
    next_save = 0
    if save_at[0] == 0:
        for k in range(_DIM):
            states[i, 0, k] = x[k]
        next_save = 1
    side = 0
    component = -1
    t_hit = math.nan
    upper_start = lower_start = 0.0
    if _BOUNDED:
        upper_start = _upper(grid[0], q)
        lower_start = _lower(grid[0], q)
    for step in range(grid.shape[0] - 1):
        t = grid[step]
        h = grid[step + 1] - t
        sqrt_h = sqrt_steps[step]  # precomputed: a square root per step costs as much as a draw
        if _BOUNDED:
            for k in range(_WATCH_START, _WATCH_STOP):
                xs[k] = x[k]
        state = _step(t, h, sqrt_h, x, params, f, g, gx, dw, xt, state)
        if _BOUNDED and bounded:
            upper_end = _upper(t + h, q)
            lower_end = _lower(t + h, q)
            if _may_cross(h, xs, x, upper_start, upper_end, lower_start, lower_end, g, bridge):
                # crossing draws from their own stream: the main one stays in step (see
                # random.event_state)
                side, _, t_hit, level, component = _absorb(
                    t, h, xs, x, g, bridge, q, event_state(seed, first_path + i, step))
                if side != 0:
                    # Constant indices only: a variable index would keep x out of registers.
                    for k in range(_WATCH_START, _WATCH_STOP):
                        if k == component:
                            x[k] = level
            upper_start = upper_end
            lower_start = lower_end
        if next_save < n_save and save_at[next_save] == step + 1:
            for k in range(_DIM):
                states[i, next_save, k] = x[k]
            next_save += 1
        if side != 0:
            break
    # An absorbed path stays at its boundary level at all later saving times.
    while next_save < n_save:
        for k in range(_DIM):
            states[i, next_save, k] = x[k]
        next_save += 1
    fpt[i] = t_hit
    hit[i] = side * (component + 1)


# -- assembling one integrator --------------------------------------------------------------------
_NOISE_TEMPLATES = {
    "diagonal": _diagonal_noise,
    "scalar": _scalar_noise,
    "general": _general_noise,
    "none": _diagonal_noise,
}


def _vector_coefficient(fn, elementwise, dims, cache):
    if fn is None:
        return fn
    fn = specialize(fn, {}, cache=cache, inline="always")
    if not elementwise:
        return fn
    return specialize(_elementwise, {"_scalar": fn, **dims}, cache=cache, inline="always")


def combination_key(sde, scheme, boundaries, rng="xoshiro"):
    """What determines a compiled kernel: the functions, shapes, scheme and generator, never the
    values."""
    return (rng, id(sde.drift), id(sde.diffusion), id(sde.diffusion_dx), sde.dim, sde.noise,
            sde.noise_dim, sde.elementwise, scheme.name,
            None if boundaries is None else (id(boundaries.upper), id(boundaries.lower)))


RNGS = ("xoshiro", "philox")
"""The generators of the main noise: per-path xoshiro256++ streams with ziggurat normals
(:mod:`sdekit.sde.random`), or counter-based Philox4x32-10 with Box–Muller normals
(:mod:`sdekit.sde.philox`)."""


def _generator(rng):
    """(seed_state, next_normal) of the main noise for generator ``rng``."""
    if rng == "philox":
        return philox.seed_state, philox.next_normal
    return seed_state, next_normal


def build_path_integrator(sde, scheme, boundaries, rng="xoshiro"):
    """Compile-ready (CPU, lazily compiled) per-path integrator for this combination.

    ``rng`` (one of :data:`RNGS`) picks the main noise's generator; the rare crossing draws come
    from the keyed event streams of :func:`sdekit.sde.random.event_state` with either.

    Returns the specialized ``_integrate_path``; :func:`sdekit.sde.backends.numba_cuda.to_cuda`
    retargets it to the GPU.
    """
    cache = sde.cacheable and (boundaries is None or boundaries.cacheable)
    absorption = build_absorb(sde, boundaries)
    noise = _NOISE_TEMPLATES[sde.noise]
    first_state, draw = _generator(rng)
    dims = {"_DIM": sde.dim, "_NOISE_DIM": max(sde.noise_dim, 1)}
    bindings = {
        "_drift": _vector_coefficient(sde.drift, sde.elementwise, dims, cache),
        "_diffusion": _vector_coefficient(sde.diffusion, sde.elementwise, dims, cache),
        "_diffusion_dx": _vector_coefficient(sde.diffusion_dx, sde.elementwise, dims, cache),
        "_noise": specialize(noise, dims, cache=True, inline="always"),
        "_draw_increments": specialize(_draw_increments, {**dims, "next_normal": draw},
                                       cache=True, inline="always"),
        **dims,
    }
    step = specialize(scheme.step, bindings, cache=cache, inline="always")
    return specialize(
        _integrate_path,
        {
            "_step": step,
            **absorption,
            "_BOUNDED": boundaries is not None,
            "seed_state": first_state,
            **dims,
        },
        cache=cache,
    )


def absorb_key(sde, boundaries):
    """What the compiled absorption tests of (sde, boundaries) depend on: a cache key."""
    return (id(boundaries.upper), id(boundaries.lower), sde.noise, sde.dim,
            boundaries.watched(sde.dim))


def build_absorb(sde, boundaries):
    """The absorption tests specialized to this SDE's noise and these boundaries.

    Returns the bindings ``_may_cross`` (the cheap per-step test), ``_absorb`` (the full one),
    ``_upper``, ``_lower`` and the watched components. With ``boundaries=None`` the tests
    never fire (and are compiled away by the kernels).
    """
    if sde.noise == "none":
        variance = _no_bridge_variance
    elif sde.noise == "general":
        variance = _matrix_bridge_variance
    else:
        variance = _vector_bridge_variance
    if boundaries is None:
        bounds = {"_upper": _never, "_lower": _never, "_WATCH_START": 0, "_WATCH_STOP": 0}
        cache = True
    else:
        start, stop = boundaries.watched(sde.dim)
        cache = boundaries.cacheable
        bounds = {"_upper": specialize(boundaries.upper, {}, cache=cache, inline="always"),
                  "_lower": specialize(boundaries.lower, {}, cache=cache, inline="always"),
                  "_WATCH_START": start, "_WATCH_STOP": stop}
    # Everything inlined: an array handed to a real call would have to live in memory, and the
    # kernels keep small state arrays in registers.
    component = specialize(_absorb_component, bounds, cache=cache, inline="always")
    variance = specialize(variance, {}, cache=True, inline="always")
    may_cross = specialize(_may_cross, {"_bridge_variance": variance, **bounds}, cache=cache,
                           inline="always")
    absorb = specialize(_absorb, {"_absorb_component": component, "_bridge_variance": variance,
                                  **bounds}, cache=cache, inline="always")
    return {"_may_cross": may_cross, "_absorb": absorb, **bounds}


def _never_template(t, q):
    return math.nan


_never = specialize(_never_template, {}, cache=True)


def buffer_shapes(sde):
    """Shapes of the per-path scratch buffers: state-sized, diffusion, noise increments."""
    d = sde.dim
    g_shape = (d, sde.noise_dim) if sde.noise == "general" else (d,)
    return (d,), g_shape, (max(sde.noise_dim, 1),)



"""CPU backend: the per-path integrator in a Numba ``prange`` loop over paths."""

from __future__ import annotations

import numba as nb
import numpy as np

from ..specialization import specialize
from ._kernels import buffer_shapes, build_path_integrator, combination_key
from ._nrt import stack_array

__all__ = ["run"]

# Bound per specialization.
_integrate_path = None
_new_x = _new_g = _new_dw = _path_on_stack = None


def _path_on_stack(i, x0, grid, sqrt_steps, save_at, p, q, seed, first_path, bounded, bridge,
                   states, fpt, hit):
    # Scratch on the stack, and the integrator inlined here: small arrays then live in
    # registers. (Inlining into the prange body itself trips Numba's parfor analysis.)
    x = _new_x()
    f = _new_x()
    g = _new_g()
    gx = _new_x()
    dw = _new_dw()
    xt = _new_x()
    xs = _new_x()
    _integrate_path(
        i, x0, grid, sqrt_steps, save_at, p, q, seed, first_path, bounded, bridge,
        x, f, g, gx, dw, xt, xs, states, fpt, hit,
    )


def _cpu_kernel(x0, grid, sqrt_steps, save_at, p, q, seed, first_path, bounded, bridge,
                states, fpt, hit):
    for i in nb.prange(states.shape[0]):
        _path_on_stack(i, x0, grid, sqrt_steps, save_at, p, q, seed, first_path, bounded, bridge,
                       states, fpt, hit)


_compiled = {}


def kernel_for(sde, scheme, boundaries, rng="xoshiro"):
    """The compiled CPU kernel for (sde, scheme, boundaries, generator), built once per
    process."""
    key = combination_key(sde, scheme, boundaries, rng)
    kernel = _compiled.get(key)
    if kernel is None:
        integrator = build_path_integrator(sde, scheme, boundaries, rng)
        inlined = specialize(integrator, {}, cache=False, inline="always")
        x_shape, g_shape, dw_shape = buffer_shapes(sde)
        cache = sde.cacheable and (boundaries is None or boundaries.cacheable)
        path = specialize(
            _path_on_stack,
            {"_integrate_path": inlined, "_new_x": stack_array(x_shape),
             "_new_g": stack_array(g_shape), "_new_dw": stack_array(dw_shape)},
            cache=cache,
        )
        kernel = specialize(_cpu_kernel, {"_path_on_stack": path}, cache=cache, parallel=True)
        _compiled[key] = (kernel, sde, boundaries)  # keep the functions alive: ids stay unique
    else:
        kernel = kernel[0]
    return kernel


def run(problem):
    """Integrate all paths of a prepared problem (see :mod:`sdekit.sde.solve`) on the CPU."""
    kernel = kernel_for(problem.sde, problem.scheme, problem.boundaries, problem.rng)
    states = np.empty((problem.n_paths, problem.save_at.size, problem.sde.dim))
    fpt = np.empty(problem.n_paths)
    hit = np.empty(problem.n_paths, dtype=np.int16)
    kernel(*problem.kernel_inputs(), states, fpt, hit)
    return states, fpt, hit

"""CUDA backend: the same per-path integrator as the CPU, one GPU thread per path.

Nothing here is written for the GPU by hand. :func:`to_cuda` takes a CPU-compiled function and
recompiles its Python source as a CUDA device function, after retargeting every compiled function
it calls. The random streams, scheme arithmetic and bridge correction are therefore the very code
the CPU runs, and a seed gives the same paths on both devices (up to floating-point rounding of
``exp``/``log`` in the rare slow paths).

Requires the ``numba-cuda`` package (``pip install sdekit[cuda]``). Set
``NUMBA_ENABLE_CUDASIM=1`` to run on Numba's CUDA simulator without a GPU (slow: for tests).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from numba.core.dispatcher import Dispatcher

from ..random import check_seed, event_state, next_normal, next_uniform, seed_state
from ..specialization import specialize
from ._kernels import (
    absorb_key,
    buffer_shapes,
    build_absorb,
    build_path_integrator,
    combination_key,
)
from ._nrt import unmanaged_identity

__all__ = ["run", "to_cuda", "available", "CudaStreams", "absorb_rows"]

_THREADS_PER_BLOCK = 128
_retargeted = {}
_kernels = {}

# Bound per specialization.
_integrate_path = None
_X_SHAPE = _G_SHAPE = _DW_SHAPE = (1,)


def _cuda():
    if not hasattr(np, "row_stack"):
        # numba-cuda (0.30.4, in maintenance mode: NVIDIA/numba-cuda#907) registers an overload
        # of np.row_stack when it compiles its first kernel; NumPy 2.5 removed that alias of
        # np.vstack, and every kernel then fails to compile. Restore the alias it expects.
        np.row_stack = np.vstack  # noqa: NPY201 - restoring the removed alias on purpose
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "backend='cuda' needs the numba-cuda package: pip install 'sdekit[cuda]'"
        ) from exc
    return cuda


def available() -> bool:
    """Whether a CUDA device (or the simulator) can run kernels."""
    try:
        return bool(_cuda().is_available())
    except RuntimeError:
        return False


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _global_names(const)
    return names


def to_cuda(function):
    """Recompile a CPU Numba function (and everything it calls) as a CUDA device function."""
    py = getattr(function, "py_func", function)
    device = _retargeted.get(py)
    if device is None:
        bindings = {}
        for name in _global_names(py.__code__):
            target = py.__globals__.get(name)
            if name == "unmanaged":
                bindings[name] = _cuda().jit(device=True)(unmanaged_identity)
            elif isinstance(target, Dispatcher):
                bindings[name] = to_cuda(target)
        device = specialize(py, bindings, target="cuda")
        _retargeted[py] = device
    return device


def _cuda_kernel(x0, grid, sqrt_steps, save_at, p, q, seed, first_path, bounded, bridge,
                 states, fpt, hit):
    i = cuda.grid(1)  # noqa: F821 - bound at specialization
    if i < states.shape[0]:
        x = cuda.local.array(_X_SHAPE, float64)  # noqa: F821
        f = cuda.local.array(_X_SHAPE, float64)  # noqa: F821
        g = cuda.local.array(_G_SHAPE, float64)  # noqa: F821
        gx = cuda.local.array(_X_SHAPE, float64)  # noqa: F821
        dw = cuda.local.array(_DW_SHAPE, float64)  # noqa: F821
        xt = cuda.local.array(_X_SHAPE, float64)  # noqa: F821
        xs = cuda.local.array(_X_SHAPE, float64)  # noqa: F821
        _integrate_path(
            i, x0, grid, sqrt_steps, save_at, p, q, seed, first_path, bounded, bridge,
            x, f, g, gx, dw, xt, xs, states, fpt, hit,
        )


def kernel_for(sde, scheme, boundaries, rng="xoshiro"):
    """The CUDA kernel for (sde, scheme, boundaries, generator), built once per process."""
    key = combination_key(sde, scheme, boundaries, rng)
    entry = _kernels.get(key)
    if entry is None:
        cuda = _cuda()
        from numba import float64

        integrator = to_cuda(build_path_integrator(sde, scheme, boundaries, rng))
        x_shape, g_shape, dw_shape = buffer_shapes(sde)
        kernel = specialize(
            _cuda_kernel,
            {"_integrate_path": integrator, "_X_SHAPE": x_shape, "_G_SHAPE": g_shape,
             "_DW_SHAPE": dw_shape, "cuda": cuda, "float64": float64},
            target="cuda", kernel=True,
        )
        entry = _kernels[key] = (kernel, sde, boundaries)
    return entry[0]


def run(problem):
    """Integrate all paths of a prepared problem on the GPU; returns host arrays."""
    cuda = _cuda()
    if not cuda.is_available():
        raise RuntimeError(
            "backend='cuda' found no CUDA device; use backend='numba' (CPU) or set "
            "NUMBA_ENABLE_CUDASIM=1 to use the (slow) simulator"
        )
    kernel = kernel_for(problem.sde, problem.scheme, problem.boundaries, problem.rng)
    n = problem.n_paths
    states = cuda.device_array((n, problem.save_at.size, problem.sde.dim))
    fpt = cuda.device_array(n)
    hit = cuda.device_array(n, dtype=np.int16)
    blocks = (n + _THREADS_PER_BLOCK - 1) // _THREADS_PER_BLOCK
    with warnings.catch_warnings(), np.errstate(over="ignore"):
        # The simulator runs the uint64 generator arithmetic in NumPy scalars, which warn on the
        # (intended) wrap-around.
        warnings.simplefilter("ignore", RuntimeWarning)
        inputs = [cuda.to_device(v) if isinstance(v, np.ndarray) else v
                  for v in problem.kernel_inputs()]
        kernel[blocks, _THREADS_PER_BLOCK](*inputs, states, fpt, hit)
    return states.copy_to_host(), fpt.copy_to_host(), hit.copy_to_host()


# -- per-path random streams held on the GPU ---------------------------------------------------
_draw = None  # bound per specialization: next_normal or next_uniform


def _seed_streams_kernel(seed, first_path, states):
    i = cuda.grid(1)  # noqa: F821 - bound at specialization
    if i < states.shape[1]:
        s = seed_state(seed, first_path + i)
        for k in range(4):
            states[k, i] = s[k]


def _advance_streams_kernel(states, active, out):
    # out is draw-major, (n_draws, n_paths), so that neighbouring threads write neighbouring
    # addresses; states are (4, n_paths) for the same reason.
    i = cuda.grid(1)  # noqa: F821 - bound at specialization
    if i < states.shape[1]:
        if active[i]:
            s = (states[0, i], states[1, i], states[2, i], states[3, i])
            for j in range(out.shape[0]):
                s, z = _draw(s)
                out[j, i] = z
            for k in range(4):
                states[k, i] = s[k]
        else:
            for j in range(out.shape[0]):
                out[j, i] = 0.0


_stream_kernels = {}


def _streams_kernel(name):
    kernel = _stream_kernels.get(name)
    if kernel is None:
        cuda = _cuda()
        if name == "seed":
            kernel = specialize(_seed_streams_kernel,
                                {"cuda": cuda, "seed_state": to_cuda(seed_state)},
                                target="cuda", kernel=True)
        else:
            draw = next_normal if name == "normal" else next_uniform
            kernel = specialize(_advance_streams_kernel, {"cuda": cuda, "_draw": to_cuda(draw)},
                                target="cuda", kernel=True)
        _stream_kernels[name] = kernel
    return kernel


def _launch(kernel, n, *args):
    with warnings.catch_warnings(), np.errstate(over="ignore"):
        # the simulator runs the generator's uint64 arithmetic in NumPy scalars, which warn on
        # the (intended) wrap-around
        warnings.simplefilter("ignore", RuntimeWarning)
        kernel[(n + _THREADS_PER_BLOCK - 1) // _THREADS_PER_BLOCK, _THREADS_PER_BLOCK](*args)


class CudaStreams:
    """The per-path streams of :class:`sdekit.sde.random.Streams`, held and drawn on the GPU.

    Path i's k-th draw is the same number as on the CPU, but nothing crosses the PCIe bus: for
    loops on GPU tensors (the torch backend, the score samplers) that must consume the draws a
    compiled kernel would.

    Parameters
    ----------
    seed : int
    n_paths : int
    first_path : int, optional
        Index of the first path (for chunks of a larger family).

    Notes
    -----
    Draws come back as Numba device arrays of shape ``(n_draws, n_paths)`` (draw-major, the
    transpose of :class:`~sdekit.sde.random.Streams`' layout), which torch and CuPy take without
    a copy through ``__cuda_array_interface__``.
    """

    def __init__(self, seed, n_paths, first_path=0):
        cuda = _cuda()
        if not cuda.is_available():
            raise RuntimeError("CudaStreams found no CUDA device (NUMBA_ENABLE_CUDASIM=1 runs "
                               "the simulator)")
        self.seed = check_seed(seed)
        n = int(n_paths)
        self.states = cuda.device_array((4, n), dtype=np.uint64)
        self._all = cuda.to_device(np.ones(n, dtype=np.bool_))
        _launch(_streams_kernel("seed"), n, np.uint64(self.seed), np.int64(first_path),
                self.states)

    @property
    def n_paths(self):
        return self.states.shape[1]

    def _take(self, name, n_draws, active):
        cuda = _cuda()
        out = cuda.device_array((int(n_draws), self.n_paths))
        if active is None:
            active = self._all
        elif isinstance(active, np.ndarray):
            active = cuda.to_device(np.ascontiguousarray(active, dtype=np.bool_))
        _launch(_streams_kernel(name), self.n_paths, self.states, active, out)
        return out

    def normals(self, n_draws=1, active=None):
        """The next ``n_draws`` standard normals of each path, a device array of shape
        (n_draws, n_paths). Paths where ``active`` is False draw zeros and do not advance."""
        return self._take("normal", n_draws, active)

    def uniforms(self, n_draws=1, active=None):
        """The next ``n_draws`` uniforms on [0, 1) of each path (see :meth:`normals`)."""
        return self._take("uniform", n_draws, active)


# -- absorption of a batch of paths held on the GPU (the torch backend's tensors) --------------
_absorb = _may_cross = _upper = _lower = None  # bound per specialization


def _absorb_rows_kernel(seed, first_path, step, alive, t, h, x_start, x_end, g, bridge, q, hit,
                        t_hit):
    # The test the kernels apply after each step, one thread per path, with the same draws.
    # An absorbed path's state is moved onto the boundary and its alive flag cleared.
    i = cuda.grid(1)  # noqa: F821 - bound at specialization
    if i < x_start.shape[0] and alive[i]:
        upper0, upper1 = _upper(t, q), _upper(t + h, q)
        lower0, lower1 = _lower(t, q), _lower(t + h, q)
        if _may_cross(h, x_start[i], x_end[i], upper0, upper1, lower0, lower1, g[i], bridge):
            side, _, when, where, component = _absorb(
                t, h, x_start[i], x_end[i], g[i], bridge, q,
                event_state(seed, first_path + i, step))
            if side != 0:
                hit[i] = side * (component + 1)
                t_hit[i] = when
                x_end[i, component] = where
                alive[i] = False


_absorb_kernels = {}


def absorb_rows(sde, boundaries):
    """The absorption test of (sde, boundaries) as a CUDA kernel over a batch of paths.

    Returns a launcher, called as ``launch(n_paths, seed, first_path, step, alive, t, h,
    x_start, x_end, g, bridge, q, hit, t_hit)`` on device arrays (torch tensors included, through
    ``__cuda_array_interface__``): rows of ``x_start``/``x_end`` (n, dim) are the states before
    and after the step, ``g`` the diffusion used; ``alive``, ``hit``, ``t_hit`` and ``x_end``
    are updated in place for the paths absorbed in this step.
    """
    key = absorb_key(sde, boundaries)
    entry = _absorb_kernels.get(key)
    if entry is None:
        cuda = _cuda()
        bindings = {name: to_cuda(fn) if isinstance(fn, Dispatcher) else fn
                    for name, fn in build_absorb(sde, boundaries).items()}
        bindings.update(cuda=cuda, event_state=to_cuda(event_state))
        kernel = specialize(_absorb_rows_kernel, bindings, target="cuda", kernel=True)
        entry = _absorb_kernels[key] = (functools.partial(_launch, kernel), boundaries)
    return entry[0]

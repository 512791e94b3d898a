"""torch backend: all paths as one batch of tensors, stepped by the shared scheme formulas.

Coefficients: elementwise SDEs (all built-ins) run their own functions on tensors; vector-form
SDEs need ``torch_drift`` / ``torch_diffusion`` (which may be ``torch.nn.Module`` objects). The
step is the scheme's own batched step (:attr:`sdekit.sde.schemes.Scheme.torch_step`), written
on the same update formulas as the compiled kernels' step.

Randomness: the noise comes from sdekit's per-path streams (:class:`TorchStreams`: drawn on the GPU
when the tensors live there and numba-cuda is installed, else on the CPU by Numba and moved to the
device), consumed in the same order as the Numba kernels, so for the same seed this backend gives
the Numba and CUDA backends' paths up to floating-point rounding. Boundary checks are the
kernels' own test with the same draws: on the GPU a CUDA kernel applies it to the tensors in place
(:func:`~sdekit.sde.backends.numba_cuda.absorb_rows`), elsewhere Numba on the CPU.

With ``rng="philox"`` the noise is computed on the tensors themselves (:class:`TorchPhilox`), the
Numba kernels' draws bit for bit, with no per-path state but a draw count.
"""

from __future__ import annotations

import math

import numpy as np

from ..philox import torch_normals
from ..random import Streams, check_seed, event_state
from ..specialization import specialize
from ._kernels import absorb_key, build_absorb

__all__ = ["run", "TorchStreams", "TorchPhilox", "default_device"]


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            "backend='torch' needs PyTorch: pip install torch (a CPU build: "
            "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from exc
    return torch


def default_device():
    """The device torch work goes to when none is given: CUDA when torch sees a GPU, else CPU."""
    return "cuda" if _torch().cuda.is_available() else "cpu"


# bound per specialization: the kernels' own absorption tests and the boundaries
_absorb = _may_cross = _upper = _lower = None


def _absorb_batch_template(seed, first_path, step, alive, t, h, x_start, x_end, g, bridge, q,
                           hit, t_hit, level):
    """The kernels' absorption test applied to every live path (same draws, same order)."""
    upper0, upper1 = _upper(t, q), _upper(t + h, q)
    lower0, lower1 = _lower(t, q), _lower(t + h, q)
    # Serial on purpose: Numba's parallel workers would spin beside torch's thread pool.
    for i in range(x_start.shape[0]):
        if not alive[i] or not _may_cross(h, x_start[i], x_end[i], upper0, upper1, lower0,
                                          lower1, g[i], bridge):
            continue
        side, _, when, where, component = _absorb(t, h, x_start[i], x_end[i], g[i], bridge, q,
                                                  event_state(seed, first_path + i, step))
        if side != 0:
            hit[i] = side * (component + 1)
            t_hit[i] = when
            level[i] = where


_absorb_batches = {}


def _absorb_batch(sde, boundaries):
    key = absorb_key(sde, boundaries)
    if key not in _absorb_batches:
        _absorb_batches[key] = (
            specialize(_absorb_batch_template, build_absorb(sde, boundaries),
                       cache=boundaries.cacheable),
            boundaries,
        )
    return _absorb_batches[key][0]


class _Batch:
    """An SDE's coefficients and noise on a batch of tensors: what a scheme's torch step uses.

    Parameters
    ----------
    sde : SDE
    params : ndarray, shape (1 or n_paths, n_params)
    noise : _Noise
        The scheme's normals for each step.
    alive : ndarray or tensor of bool, shape (n_paths,)
        Live paths (absorbed ones stop drawing); updated in place by the caller.
    torch : module
    device : str or torch.device
    """

    def __init__(self, sde, params, noise, alive, torch, device):
        self.sde, self.noise_source, self.alive, self.torch = sde, noise, alive, torch
        p = torch.as_tensor(params, dtype=torch.float64, device=device)
        if sde.elementwise:
            # p[j] must broadcast against x of shape (n, dim): one (rows, 1) column per parameter.
            self.p = p.T.unsqueeze(-1)
            self._drift = sde.drift.py_func
            self._diffusion = sde.diffusion.py_func if sde.diffusion is not None else None
            self._diffusion_dx = (sde.diffusion_dx.py_func if sde.diffusion_dx is not None
                                  else None)
        else:
            if sde.torch_drift is None or (sde.diffusion is not None
                                           and sde.torch_diffusion is None):
                raise ValueError(
                    f"{sde.name} has vector-form coefficients; the torch backend needs "
                    "torch_drift= (and torch_diffusion=) batched versions in SDE(...)"
                )
            self.p = p
            self._drift = sde.torch_drift
            self._diffusion = sde.torch_diffusion
            self._diffusion_dx = None

    def drift(self, t, x):
        """f(t, x), shape (n, dim)."""
        return self._drift(t, x, self.p)

    def diffusion(self, t, x):
        """g(t, x), shape (n, dim) (or (n, dim, noise_dim) for general noise)."""
        return self._diffusion(t, x, self.p)

    def diffusion_dx(self, t, x):
        """dg/dx of an elementwise diffusion, shape (n, dim)."""
        return self._diffusion_dx(t, x, self.p)

    def increments(self, h):
        """The step's Wiener increments sqrt(h) z, shape (n, noise_dim)."""
        return self.noise_source.next(self.alive) * math.sqrt(h)

    def noise(self, g, dw):
        """g dW, shape (n, dim), for the SDE's noise kind."""
        if self.sde.noise == "diagonal":
            return g * dw
        if self.sde.noise == "scalar":
            return g * dw[:, :1]
        return self.torch.einsum("ndm,nm->nd", g, dw)


def run(problem):
    """Integrate all paths of a prepared problem with torch; returns NumPy arrays."""
    torch = _torch()
    device = problem.options.get("device") or default_device()
    sde, scheme = problem.sde, problem.scheme
    n, dim = problem.n_paths, sde.dim
    x = torch.as_tensor(np.broadcast_to(problem.x0, (n, dim)).copy(), dtype=torch.float64,
                        device=device)
    alive = np.ones(n, dtype=np.bool_)
    generator = TorchPhilox if problem.rng == "philox" else TorchStreams
    streams = generator(problem.seed, n, problem.first_path, device=device)
    noise = _Noise(streams, n, scheme.draws_per_step(sde), grid_steps=problem.grid.size - 1,
                   blocks=problem.boundaries is None)
    states = np.empty((n, problem.save_at.size, dim))
    fpt = np.full(n, np.nan)
    hit = np.zeros(n, dtype=np.int16)
    grid, save_at = problem.grid, problem.save_at
    next_save = 0
    if save_at[0] == 0:
        states[:, 0] = x.cpu().numpy()
        next_save = 1
    boundaries = problem.boundaries
    alive_t = torch.ones(n, 1, dtype=torch.bool, device=device)
    on_gpu = _GpuAbsorption.for_problem(problem, torch, device, streams)
    if on_gpu is not None:
        alive = on_gpu.alive  # a device tensor the absorption kernel updates in place
        alive_t = alive.unsqueeze(1)
    batch = _Batch(sde, problem.params, noise, alive, torch, device)
    with torch.no_grad():
        for step in range(grid.size - 1):
            t = float(grid[step])
            h = float(grid[step + 1] - t)
            x_start = x.cpu().numpy() if boundaries is not None and on_gpu is None else None
            x_new, g = scheme.torch_step(t, h, x, batch)
            if boundaries is None:
                x = x_new
            elif on_gpu is not None:
                x = on_gpu.absorb(step, t, h, x, torch.where(alive_t, x_new, x), g)
            else:
                x = torch.where(alive_t, x_new, x)  # absorbed paths stay where they stopped
                x, alive_t = _absorb_step(problem, step, t, h, x, x_start, g, alive, hit,
                                          fpt, torch, device)
            if next_save < save_at.size and save_at[next_save] == step + 1:
                states[:, next_save] = x.cpu().numpy()
                next_save += 1
            if boundaries is not None and not alive.any():
                break
    while next_save < save_at.size:
        states[:, next_save] = x.cpu().numpy()
        next_save += 1
    if on_gpu is not None:
        fpt, hit = on_gpu.results()
    return states, fpt, hit


class _GpuAbsorption:
    """Absorption of torch tensors on the GPU: the kernels' test as a CUDA kernel
    (:func:`~sdekit.sde.backends.numba_cuda.absorb_rows`) run on the tensors in place, so a
    bounded simulation never copies its states to the host between steps."""

    @classmethod
    def for_problem(cls, problem, torch, device, streams):
        """The GPU absorption for this problem, or None where it does not apply (no boundaries,
        tensors on the CPU, or no numba-cuda: the CPU test is used then)."""
        if problem.boundaries is None or not streams.on_gpu:
            return None
        return cls(problem, torch, device)

    def __init__(self, problem, torch, device):
        from numba import cuda

        from .numba_cuda import absorb_rows

        self.problem, self.torch = problem, torch
        n = problem.n_paths
        self.absorb_rows = absorb_rows(problem.sde, problem.boundaries)
        self.alive = torch.ones(n, dtype=torch.bool, device=device)
        self.hit = torch.zeros(n, dtype=torch.int16, device=device)
        self.fpt = torch.full((n,), math.nan, dtype=torch.float64, device=device)
        self.q = cuda.to_device(np.ascontiguousarray(problem.boundary_params, dtype=np.float64))
        self.seed, self.first = np.uint64(problem.seed), np.int64(problem.first_path)

    def absorb(self, step, t, h, x_start, x_end, g):
        torch = self.torch
        x_end = x_end.contiguous()
        g = (torch.zeros_like(x_end) if g is None
             else torch.broadcast_to(g, (*x_end.shape, *g.shape[2:])).contiguous())
        self.absorb_rows(x_end.shape[0], self.seed, self.first, np.int64(step), self.alive, t, h,
                         x_start.contiguous(), x_end, g, self.problem.bridge, self.q, self.hit,
                         self.fpt)
        return x_end

    def results(self):
        return self.fpt.cpu().numpy(), self.hit.cpu().numpy()


class TorchStreams:
    """The per-path streams of :class:`sdekit.sde.random.Streams`, delivered as torch tensors.

    On a CUDA device (with numba-cuda installed) the streams live and draw on the GPU
    (:class:`~sdekit.sde.backends.numba_cuda.CudaStreams`), so nothing crosses the PCIe bus;
    elsewhere they draw on the calling CPU thread (Numba's parallel workers would spin beside
    torch's thread pool) and the draws are copied to the device. Either way path i's k-th draw is
    the number every other backend gives it.

    Parameters
    ----------
    seed : int
    n_paths : int
    first_path : int, optional
    device : str or torch.device
    """

    def __init__(self, seed, n_paths, first_path=0, device="cpu"):
        torch = _torch()
        self.torch = torch
        self.device = torch.device(device)
        self.on_gpu = False
        if self.device.type == "cuda":
            try:
                from .numba_cuda import CudaStreams, available

                self.on_gpu = available()
            except ImportError:
                pass
        if self.on_gpu:
            self.streams = CudaStreams(seed, n_paths, first_path)
        else:
            self.streams = Streams(seed, n_paths, first_path, parallel=False)

    def _tensor(self, draws):
        if self.on_gpu:
            return self.torch.as_tensor(draws, device=self.device).T
        return self.torch.as_tensor(draws, device=self.device)

    def normals(self, n_draws=1, active=None):
        """The next ``n_draws`` standard normals of each path, a float64 tensor of shape
        (n_paths, n_draws). Where ``active`` (a bool array or tensor) is False the draw is 0 and
        the stream does not advance."""
        return self._tensor(self.streams.normals(n_draws, active=self._mask(active)))

    def _mask(self, active):
        if active is None or isinstance(active, np.ndarray):
            return active
        # a torch tensor: the GPU streams read it where it lies, the CPU ones need NumPy
        return active if self.on_gpu else active.cpu().numpy()

    def uniforms(self, n_draws=1, active=None):
        """The next ``n_draws`` uniforms on [0, 1) of each path (see :meth:`normals`)."""
        return self._tensor(self.streams.uniforms(n_draws, active=self._mask(active)))


class TorchPhilox:
    """Philox4x32-10 normals (:mod:`sdekit.sde.philox`) computed on torch tensors where they lie.

    Draw k of path i is computed from (seed, i, k) by int64 tensor arithmetic masked to 32 bits,
    the same numbers bit for bit as the Numba kernels' ``rng="philox"``; the only state is each
    path's draw count.

    Parameters
    ----------
    seed : int
    n_paths : int
    first_path : int, optional
    device : str or torch.device
    """

    def __init__(self, seed, n_paths, first_path=0, device="cpu"):
        torch = _torch()
        self.torch = torch
        self.device = torch.device(device)
        self.seed = check_seed(seed)
        n = int(n_paths)
        self.paths = torch.arange(first_path, first_path + n, dtype=torch.int64,
                                  device=self.device).unsqueeze(1)
        self.count = torch.zeros(n, dtype=torch.int64, device=self.device)
        self.on_gpu = False
        if self.device.type == "cuda":  # for the GPU absorption kernel's event draws
            try:
                from .numba_cuda import available

                self.on_gpu = available()
            except ImportError:
                pass

    @property
    def n_paths(self):
        return self.count.shape[0]

    def normals(self, n_draws=1, active=None):
        """The next ``n_draws`` standard normals of each path, a float64 tensor of shape
        (n_paths, n_draws); where ``active`` is False the draw is 0 and the count stays."""
        torch = self.torch
        offsets = torch.arange(int(n_draws), dtype=torch.int64, device=self.device)
        z = torch_normals(self.seed, self.paths, self.count.unsqueeze(1) + offsets)
        if active is None:
            self.count += int(n_draws)
            return z
        mask = torch.as_tensor(active, device=self.device).reshape(-1).to(torch.bool)
        self.count += int(n_draws) * mask.to(torch.int64)
        return torch.where(mask.unsqueeze(1), z, torch.zeros((), dtype=z.dtype,
                                                             device=self.device))


class _Noise:
    """The scheme's normals for each step, from the per-path streams.

    Without boundaries every path draws every step, so the draws of a block of steps are taken
    in one call. With boundaries absorbed paths stop drawing, so draws are taken step by step.
    """

    _BLOCK_BYTES = 64 * 2**20

    def __init__(self, streams, n, per_step, grid_steps, blocks):
        self.streams, self.per_step = streams, per_step
        self.block = 1
        if blocks and per_step:
            self.block = int(max(1, min(grid_steps, 256,
                                        self._BLOCK_BYTES // (8 * n * per_step))))
        self.buffer = None
        self.used = self.block

    def next(self, alive):
        if self.block == 1:
            return self.streams.normals(self.per_step, active=alive)
        if self.used == self.block:
            block = self.streams.normals(self.block * self.per_step)
            self.buffer = block.reshape(block.shape[0], self.block, self.per_step)
            self.used = 0
        self.used += 1
        return self.buffer[:, self.used - 1]


def _absorb_step(problem, step, t, h, x, x_start, g, alive, hit, fpt, torch, device):
    x_end = x.cpu().numpy()
    if g is None:
        g_np = np.zeros_like(x_end)
    else:
        g_np = np.ascontiguousarray(torch.broadcast_to(g, (*x.shape, *g.shape[2:]))
                                    .cpu().numpy())
    level = np.zeros(x_end.shape[0])
    before = hit.copy()
    _absorb_batch(problem.sde, problem.boundaries)(
        np.uint64(problem.seed), np.int64(problem.first_path), np.int64(step), alive, t, h,
        x_start, x_end, g_np, problem.bridge,
        problem.boundary_params, hit, fpt, level,
    )
    newly = np.flatnonzero(hit != before)
    if newly.size:
        x_end = x_end.copy()
        x_end[newly, np.abs(hit[newly]) - 1] = level[newly]
        x = torch.as_tensor(x_end, device=device)
        alive[newly] = False
    return x, torch.as_tensor(alive, device=device).unsqueeze(1)

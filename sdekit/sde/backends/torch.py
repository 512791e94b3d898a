"""torch backend: all paths as one batch of tensors, stepped by the shared scheme formulas.

Coefficients: elementwise SDEs (all built-ins) run their own functions on tensors; vector-form
SDEs need ``torch_drift`` / ``torch_diffusion`` (which may be ``torch.nn.Module`` objects). The
update formulas are those of :mod:`sdekit.sde.schemes`, called on tensors.

Randomness: the noise comes from sdekit's per-path streams (drawn on the CPU by Numba and moved to
the device), consumed in the same order as the Numba kernels, so for the same seed this backend
gives the Numba and CUDA backends' paths up to floating-point rounding. Boundary checks run on the
CPU for the same reason.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..events import bridge_crossing_fraction, crossing_probability
from ..random import next_normal, next_uniform, seed_state
from ..schemes import euler_maruyama_update, heun_predictor, heun_update, milstein_update

__all__ = ["run"]


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            "backend='torch' needs PyTorch: pip install torch (a CPU build: "
            "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from exc
    return torch


@nb.njit(cache=True, parallel=True)
def _seed_streams(seed, first_path, n):
    states = np.empty((n, 4), dtype=np.uint64)
    for i in nb.prange(n):
        s = seed_state(seed, first_path + i)
        for k in range(4):
            states[i, k] = s[k]
    return states


@nb.njit(cache=True, parallel=True)
def _draw_normals(states, alive, out):
    for i in nb.prange(out.shape[0]):
        if not alive[i]:
            continue
        s = (states[i, 0], states[i, 1], states[i, 2], states[i, 3])
        for j in range(out.shape[1]):
            s, out[i, j] = next_normal(s)
        for k in range(4):
            states[i, k] = s[k]


@nb.njit(cache=True, parallel=True)
def _absorb_batch(states, alive, t, h, x_start, x_end, variance, up0, up1, lo0, lo1,
                  side, t_hit, level_side):
    """Vectorised twin of the kernels' absorption test (same draws in the same order)."""
    for i in nb.prange(x_start.shape[0]):
        if not alive[i]:
            continue
        s = (states[i, 0], states[i, 1], states[i, 2], states[i, 3])
        du0 = up0 - x_start[i]
        du1 = up1 - x_end[i]
        dl0 = x_start[i] - lo0
        dl1 = x_end[i] - lo1
        var = variance[i]
        p_up = crossing_probability(du0, du1, var)
        p_lo = crossing_probability(dl0, dl1, var)
        hit = 0
        if p_up >= 1.0:
            hit = 1
        elif p_lo >= 1.0:
            hit = -1
        elif p_up > 0.0 or p_lo > 0.0:
            s, u = next_uniform(s)
            if u < p_up:
                hit = 1
            elif u < p_up + p_lo:
                hit = -1
        if hit != 0:
            d0, d1 = (du0, du1) if hit == 1 else (dl0, dl1)
            if var > 0.0:
                s, frac = bridge_crossing_fraction(s, d0, d1, var)
            else:
                frac = d0 / (d0 - d1) if d0 > 0.0 else 0.0
            side[i] = hit
            t_hit[i] = t + frac * h
            level_side[i] = hit
        for k in range(4):
            states[i, k] = s[k]


class _Coefficients:
    """Evaluate an SDE's coefficients on batched tensors."""

    def __init__(self, sde, params, torch, device):
        self.sde = sde
        p = torch.as_tensor(params, dtype=torch.float64, device=device)
        if sde.elementwise:
            # p[j] must broadcast against x of shape (n, dim): one (rows, 1) column per parameter.
            self.p = p.T.unsqueeze(-1)
            self.drift = sde.drift.py_func
            self.diffusion = sde.diffusion.py_func if sde.diffusion is not None else None
            self.diffusion_dx = (sde.diffusion_dx.py_func if sde.diffusion_dx is not None
                                 else None)
        else:
            if sde.torch_drift is None or (sde.diffusion is not None
                                           and sde.torch_diffusion is None):
                raise ValueError(
                    f"{sde.name} has vector-form coefficients; the torch backend needs "
                    "torch_drift= (and torch_diffusion=) batched versions in SDE(...)"
                )
            self.p = p
            self.drift = sde.torch_drift
            self.diffusion = sde.torch_diffusion
            self.diffusion_dx = None


def run(problem):
    """Integrate all paths of a prepared problem with torch; returns NumPy arrays."""
    torch = _torch()
    device = problem.options.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    sde, scheme = problem.sde, problem.scheme
    n, dim, m = problem.n_paths, sde.dim, max(sde.noise_dim, 1)
    coef = _Coefficients(sde, problem.params, torch, device)
    x = torch.as_tensor(np.broadcast_to(problem.x0, (n, dim)).copy(), dtype=torch.float64,
                        device=device)
    streams = _seed_streams(np.uint64(problem.seed), np.int64(problem.first_path), n)
    alive = np.ones(n, dtype=np.bool_)
    draws = np.zeros((n, m if scheme.name == "euler_maruyama" else dim))
    states = np.empty((n, problem.save_at.size, dim))
    fpt = np.full(n, np.nan)
    side = np.zeros(n, dtype=np.int8)
    grid, save_at = problem.grid, problem.save_at
    next_save = 0
    if save_at[0] == 0:
        states[:, 0] = x.cpu().numpy()
        next_save = 1
    boundaries, q = problem.boundaries, problem.boundary_params
    alive_t = torch.ones(n, 1, dtype=torch.bool, device=device)
    with torch.no_grad():
        for step in range(grid.size - 1):
            t = float(grid[step])
            h = float(grid[step + 1] - t)
            x_start = x[:, 0].cpu().numpy() if boundaries is not None else None
            x_new, g = _step(scheme.name, sde, coef, x, t, h, streams, alive, draws, torch,
                             device)
            x = torch.where(alive_t, x_new, x)
            if boundaries is not None:
                x, alive_t = _absorb(problem, t, h, x, x_start, g, streams, alive, side, fpt,
                                     torch, device, q)
            if next_save < save_at.size and save_at[next_save] == step + 1:
                states[:, next_save] = x.cpu().numpy()
                next_save += 1
            if boundaries is not None and not alive.any():
                break
    while next_save < save_at.size:
        states[:, next_save] = x.cpu().numpy()
        next_save += 1
    return states, fpt, side


def _noise_term(sde, g, dw, torch):
    if sde.noise == "diagonal":
        return g * dw
    if sde.noise == "scalar":
        return g * dw[:, :1]
    return torch.einsum("ndm,nm->nd", g, dw)


def _step(name, sde, coef, x, t, h, streams, alive, draws, torch, device):
    """One step of the named scheme on the whole batch; returns (new x, diffusion used)."""
    f = coef.drift(t, x, coef.p)
    if name == "heun":
        x_pred = heun_predictor.py_func(x, f, h)
        return heun_update.py_func(x, f, coef.drift(t + h, x_pred, coef.p), h), None
    g = coef.diffusion(t, x, coef.p)
    _draw_normals(streams, alive, draws)
    dw = torch.as_tensor(draws, device=device) * math.sqrt(h)
    if name == "milstein":
        gx = coef.diffusion_dx(t, x, coef.p)
        return milstein_update.py_func(x, f, g, gx, dw, h), g
    return euler_maruyama_update.py_func(x, f, _noise_term(sde, g, dw, torch), h), g


def _absorb(problem, t, h, x, x_start, g, streams, alive, side, fpt, torch, device, q):
    boundaries = problem.boundaries
    x_end = x[:, 0].cpu().numpy()
    if g is None:
        variance = np.zeros(x_end.size)
    else:
        g0 = g[..., 0, :] if g.dim() == 3 else g[:, 0]
        g0 = torch.broadcast_to(g0, x[:, 0].shape) if g0.dim() == 1 else g0
        variance = ((g0**2).sum(-1) if g0.dim() == 2 else g0**2).cpu().numpy() * h
    level_side = np.zeros(x_end.size, dtype=np.int8)
    _absorb_batch(streams, alive, t, h, x_start, x_end, variance,
                  boundaries.upper(t, q), boundaries.upper(t + h, q),
                  boundaries.lower(t, q), boundaries.lower(t + h, q), side, fpt, level_side)
    newly = level_side != 0
    if newly.any():
        levels = np.array([boundaries.upper(s, q) if k == 1 else boundaries.lower(s, q)
                           for s, k in zip(fpt[newly], level_side[newly])])
        x_np = x.cpu().numpy().copy()
        x_np[newly, 0] = levels
        x = torch.as_tensor(x_np, device=device)
        alive &= ~newly
    return x, torch.as_tensor(alive, device=device).unsqueeze(1)

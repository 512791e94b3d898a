"""Training score networks by denoising score matching, and the :class:`ScoreModel` face.

Denoising score matching (Vincent 2011; Song et al. 2021) with the noise-prediction
parametrisation minimises, over t ~ U(t_eps, t_end), x0 from the data and eps ~ N(0, I),

    E || eps_theta(t, alpha(t) x0 + sigma(t) eps) - eps ||^2,

which is score matching with time weighting lambda(t) = sigma(t)^2. Training keeps an exponential
moving average (EMA) of the weights, which is what samples are drawn with.

Saved models are a plain dictionary of tensors, numbers and strings written by ``torch.save`` and
read back with ``torch.load(weights_only=True)``: loading never runs code from the file.
"""

from __future__ import annotations

import copy
import math
import numbers
from pathlib import Path

import numpy as np

from .sampling import sample as _sample
from .sdes import VESDE, VPSDE, DiffusionSDE, SubVPSDE, alpha_sigma
from .targets import Score

__all__ = ["ScoreModel", "sde_to_config", "sde_from_config"]

_FORMAT = "sdekit.score.ScoreModel"
_VERSION = 1


def sde_to_config(sde):
    """A forward SDE as a dict of plain values (for saving)."""
    if isinstance(sde, VPSDE):
        return {"kind": "vp", "schedule": sde.kind, "beta_min": float(sde.params[0]) if
                sde.kind == "linear" else 0.1, "beta_max": float(sde.params[1]) if
                sde.kind == "linear" else 20.0, "t_end": sde.t_end, "t_eps": sde.t_eps}
    if isinstance(sde, SubVPSDE):
        return {"kind": "subvp", "beta_min": float(sde.params[0]),
                "beta_max": float(sde.params[1]), "t_end": sde.t_end, "t_eps": sde.t_eps}
    if isinstance(sde, VESDE):
        return {"kind": "ve", "sigma_min": sde.sigma_min, "sigma_max": sde.sigma_max,
                "t_end": sde.t_end, "t_eps": sde.t_eps}
    raise TypeError(f"cannot describe {type(sde).__name__} for saving")


def sde_from_config(config):
    """Inverse of :func:`sde_to_config`."""
    config = dict(config)
    kind = config.pop("kind")
    if kind == "vp":
        schedule = config.pop("schedule")
        if schedule == "cosine":
            config.pop("beta_min")
            config.pop("beta_max")
        return VPSDE(schedule=schedule, **config)
    if kind == "subvp":
        return SubVPSDE(**config)
    if kind == "ve":
        return VESDE(**config)
    raise ValueError(f"unknown SDE kind {kind!r}")


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            "score networks need PyTorch: pip install torch (a CPU build: "
            "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from exc
    return torch


class ScoreModel:
    """A score network for vector data with its forward SDE: train, sample, save and load.

    Parameters
    ----------
    sde : DiffusionSDE, optional
        Forward SDE (default :class:`VPSDE`).
    hidden, depth, embed_dim : int
        Size of the :class:`~sdekit.score.nets.MLPScoreNet`.
    standardize : bool
        Fit on (x - mean) / std of the training data and undo it when sampling.

    Examples
    --------
    >>> from sdekit.score import ScoreModel, make_toy
    >>> model = ScoreModel().fit(make_toy("ring", 2000, seed=0), steps=200, progress=False)
    >>> model.sample(100, steps=20, seed=1).shape
    (100, 2)
    """

    def __init__(self, sde=None, *, hidden=128, depth=3, embed_dim=32, standardize=True):
        sde = VPSDE() if sde is None else sde
        if not isinstance(sde, DiffusionSDE):
            raise TypeError(f"sde must be a forward SDE of sdekit.score, got {type(sde).__name__}")
        self.sde = sde
        self.arch = {"hidden": int(hidden), "depth": int(depth), "embed_dim": int(embed_dim)}
        self.standardize = bool(standardize)
        self.dim = None
        self.net = None
        self.ema = None
        self.shift = None
        self.scale = None
        self.losses = []

    # -- training -------------------------------------------------------------------------------
    def _build(self, dim):
        from .nets import MLPScoreNet

        self.dim = int(dim)
        self.net = MLPScoreNet(self.dim, **self.arch)
        self.ema = copy.deepcopy(self.net)
        for p in self.ema.parameters():
            p.requires_grad_(False)

    def fit(self, data, *, steps=2000, batch_size=512, lr=2e-3, ema_decay=0.999, seed=0,
            progress=True):
        """Train by denoising score matching.

        Parameters
        ----------
        data : array_like, shape (n, dim)
            Training data.
        steps : int
            Optimiser steps (Adam with cosine learning-rate decay).
        batch_size : int
        lr : float
            Peak learning rate.
        ema_decay : float
            Decay of the exponential moving average of the weights, in [0, 1); during the first
            steps the decay is min(ema_decay, (1 + k) / (10 + k)).
        seed : int
            Fixes initial weights, batches, times and noise (results repeat on the same device
            and torch version).
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        self
        """
        torch = _torch()
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] < 2:
            raise ValueError(f"data must have shape (n >= 2, dim), got {data.shape}")
        if not np.all(np.isfinite(data)):
            raise ValueError("data must be finite")
        for name, value in (("steps", steps), ("batch_size", batch_size)):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 <= ema_decay < 1:
            raise ValueError(f"ema_decay must lie in [0, 1), got {ema_decay!r}")
        if self.standardize:
            self.shift, self.scale = data.mean(0), data.std(0) + 1e-12
        else:
            self.shift, self.scale = np.zeros(data.shape[1]), np.ones(data.shape[1])
        x_all = torch.as_tensor((data - self.shift) / self.scale, dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build(data.shape[1])
        gen = torch.Generator().manual_seed(seed + 1)
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))
        sde = self.sde
        bar = range(steps)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(bar, desc="training", unit="step")
        self.losses = []
        for k in bar:
            idx = torch.as_tensor(rng.integers(0, x_all.shape[0], size=batch_size))
            t = rng.uniform(sde.t_eps, sde.t_end, size=batch_size)
            alpha, sigma = sde.marginal(t)
            alpha = torch.as_tensor(alpha, dtype=torch.float32)[:, None]
            sigma = torch.as_tensor(sigma, dtype=torch.float32)[:, None]
            eps = torch.randn(batch_size, self.dim, generator=gen)
            x_t = alpha * x_all[idx] + sigma * eps
            loss = ((self.net(torch.as_tensor(t, dtype=torch.float32), x_t) - eps) ** 2).sum(1)
            loss = loss.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            # warm-up of the decay, so the random initial weights do not linger in the average
            decay = min(ema_decay, (1.0 + k) / (10.0 + k))
            with torch.no_grad():
                for p_ema, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
                    p_ema.mul_(decay).add_(p, alpha=1 - decay)
            self.losses.append(float(loss.detach()))
            if progress:
                bar.set_postfix(loss=f"{self.losses[-1]:.4f}", refresh=False)
        return self

    # -- scores and samples ---------------------------------------------------------------------
    def _check_fitted(self):
        if self.ema is None:
            raise RuntimeError("this ScoreModel has not been trained: call fit(data) or load()")

    def score(self, ema=True):
        """The learned score of the standardized data as a :class:`Score` (torch form)."""
        self._check_fitted()
        torch = _torch()
        net = self.ema if ema else self.net
        code, s0, s1 = self.sde.schedule()

        def torch_score(t, x, q):
            _, sigma = alpha_sigma(code, s0, s1, float(t))
            dtype = next(net.parameters()).dtype
            times = torch.full((x.shape[0],), float(t), dtype=dtype, device=x.device)
            return -net(times, x.to(dtype)).to(x.dtype) / sigma

        return Score(torch=torch_score, dim=self.dim, name="ScoreModel")

    def sample(self, n, *, method="probability_flow", steps=100, seed=None, ema=True, **kwargs):
        """``n`` samples in data units, shape (n, dim), by :func:`sdekit.score.sample`.

        The network runs on torch, so the sampler runs on ``backend="torch"`` (engine methods
        included). Extra keyword arguments go to :func:`sdekit.score.sample`.
        """
        self._check_fitted()
        x = _sample(self.sde, self.score(ema), n, method=method, steps=steps, seed=seed,
                    backend="torch", **kwargs)
        return x * self.scale + self.shift

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path):
        """Write the model (weights, EMA weights, architecture, SDE, scaling) to ``path``."""
        self._check_fitted()
        torch = _torch()
        state = {
            "format": _FORMAT,
            "version": _VERSION,
            "dim": self.dim,
            "arch": dict(self.arch),
            "sde": sde_to_config(self.sde),
            "standardize": self.standardize,
            "shift": torch.as_tensor(self.shift),
            "scale": torch.as_tensor(self.scale),
            "weights": self.net.state_dict(),
            "ema_weights": self.ema.state_dict(),
        }
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`, without unpickling any code.

        Raises
        ------
        ValueError
            If ``path`` is not a saved sdekit score model.
        """
        torch = _torch()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # any unreadable or unsafe file gets the same answer
            raise ValueError(f"{path} is not a saved sdekit score model ({exc.__class__.__name__}"
                             f": {str(exc).splitlines()[0] if str(exc) else ''})") from None
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a saved sdekit score model")
        if state.get("version") != _VERSION:
            raise ValueError(f"{path} was saved by an incompatible version "
                             f"({state.get('version')}) of sdekit's score models")
        model = cls(sde_from_config(state["sde"]), standardize=state["standardize"],
                    **state["arch"])
        model._build(state["dim"])
        model.net.load_state_dict(state["weights"])
        model.ema.load_state_dict(state["ema_weights"])
        model.shift = state["shift"].numpy()
        model.scale = state["scale"].numpy()
        return model

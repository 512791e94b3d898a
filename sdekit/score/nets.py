"""torch score networks for vector data (this module imports torch).

The network predicts the noise eps of X_t = alpha(t) X_0 + sigma(t) eps; the score is then
-eps / sigma(t) (see :mod:`sdekit.score.sdes`). Predicting eps keeps the regression target at
unit scale for every t, where the score itself grows like 1/sigma near t = 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TimeEmbedding", "MLPScoreNet"]


class TimeEmbedding(nn.Module):
    """Sinusoidal features of t (Vaswani et al. 2017), at fixed log-spaced frequencies.

    Parameters
    ----------
    dim : int
        Number of features (even).
    scale : float
        t is multiplied by ``scale`` first, so that t in [0, 1] spans many periods.
    """

    def __init__(self, dim=32, scale=1000.0):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even integer >= 2, got {dim!r}")
        half = dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("freqs", freqs * scale, persistent=False)

    def forward(self, t):
        """``t`` of shape (n,) -> features of shape (n, dim)."""
        angle = t[:, None].to(self.freqs.dtype) * self.freqs
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


class MLPScoreNet(nn.Module):
    """Multilayer perceptron eps_theta(t, x) for vector data.

    The time features enter every hidden layer (added after a linear map), which trains markedly
    faster than concatenating them to the input alone.

    Parameters
    ----------
    dim : int
        Data dimension.
    hidden : int
        Width of the hidden layers.
    depth : int
        Number of hidden layers.
    embed_dim : int
        Size of the time embedding.
    n_classes : int, optional
        Number of classes for class-conditional training: a learned class embedding is added to
        the time features. Labels are 0 .. n_classes - 1 and ``n_classes`` is the null class
        (no label), which label dropout trains for classifier-free guidance. None:
        unconditional (and the same parameters as before conditioning existed).
    """

    def __init__(self, dim, hidden=128, depth=3, embed_dim=32, n_classes=None):
        super().__init__()
        for name, value in (("dim", dim), ("hidden", hidden), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.embed = TimeEmbedding(embed_dim)
        self.time_mlp = nn.Sequential(nn.Linear(embed_dim, hidden), nn.SiLU())
        self.inp = nn.Linear(dim, hidden)
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.time_proj = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, dim)
        self.act = nn.SiLU()
        if n_classes is not None and (not isinstance(n_classes, int) or n_classes < 1):
            raise ValueError(f"n_classes must be a positive integer or None, got {n_classes!r}")
        self.n_classes = n_classes
        # registered last, so an unconditional network draws the same initial weights as before
        self.label_embed = None if n_classes is None else nn.Embedding(n_classes + 1, hidden)

    def forward(self, t, x, labels=None):
        """Noise prediction for states ``x`` (n, dim) at times ``t`` (n,); returns (n, dim).

        ``labels`` (n,) are integer classes in 0 .. n_classes (n_classes: the null class); None
        on a conditional network means the null class for the whole batch.
        """
        temb = self.time_mlp(self.embed(t))
        if self.label_embed is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.n_classes, dtype=torch.long,
                                    device=x.device)
            temb = temb + self.label_embed(labels)
        elif labels is not None:
            raise ValueError("this network is unconditional: it takes no labels")
        h = self.inp(x)
        for layer, proj in zip(self.layers, self.time_proj, strict=True):
            h = layer(self.act(h + proj(temb)))
        return self.out(self.act(h))

"""A small U-Net noise predictor for images (this module imports torch).

The layout follows the DDPM U-Net (Ho et al. 2020) at toy scale: residual blocks with GroupNorm
and SiLU, one downsampling per resolution level, skip connections to the matching level on the
way up, and an embedding of the time (and optionally of a class label) added inside every
residual block. There is no attention: at the image sizes this is meant for (8x8 to 32x32) a
couple of 3x3 convolutions at the coarsest level already see the whole image.

Class conditioning reserves one extra class index, ``n_classes``, as the *null* class: training
with label dropout feeds it in place of the true label, which teaches the same network the
unconditional noise prediction that classifier-free guidance needs.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn
from torch.nn import functional as F

from .nets import TimeEmbedding

__all__ = ["UNetScoreNet"]


def _groups(channels, most=8):
    """Largest number of GroupNorm groups, at most ``most``, that divides ``channels``."""
    return next(g for g in range(min(most, channels), 0, -1) if channels % g == 0)


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the embedding added in between, plus a skip path."""

    def __init__(self, c_in, c_out, emb_dim):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        # a zero last layer makes each block start as the identity, which keeps the variance of
        # the activations the same at every depth at initialisation
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNetScoreNet(nn.Module):
    """U-Net eps_theta(t, x[, label]) for images of shape (channels, height, width).

    Parameters
    ----------
    in_channels : int
        Image channels C.
    channels : int
        Feature channels at the finest level; level k has ``channels * channel_mult[k]``.
    channel_mult : sequence of int
        One multiplier per resolution level. With L levels the image is halved L - 1 times, so
        height and width must be divisible by 2^(L - 1).
    num_res_blocks : int
        Residual blocks per level on the way down (one more on the way up, as in DDPM).
    embed_dim : int
        Size of the sinusoidal time features; the embedding added in the blocks has
        ``4 * channels`` entries.
    n_classes : int, optional
        Number of classes for class-conditional training. Labels are 0 .. n_classes - 1, and
        ``n_classes`` itself is the null class (no label). None: unconditional.
    """

    def __init__(self, in_channels=1, channels=32, channel_mult=(1, 2), num_res_blocks=1,
                 embed_dim=32, n_classes=None):
        super().__init__()
        channel_mult = tuple(channel_mult)
        for name, value in (("in_channels", in_channels), ("channels", channels),
                            ("num_res_blocks", num_res_blocks)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not channel_mult or not all(isinstance(m, numbers.Integral) and m >= 1
                                       for m in channel_mult):
            raise ValueError(f"channel_mult must be a non-empty sequence of positive integers, "
                             f"got {channel_mult!r}")
        if n_classes is not None and (not isinstance(n_classes, numbers.Integral)
                                      or n_classes < 1):
            raise ValueError(f"n_classes must be a positive integer or None, got {n_classes!r}")
        self.in_channels = int(in_channels)
        self.n_classes = None if n_classes is None else int(n_classes)
        self.levels = len(channel_mult)
        emb_dim = 4 * channels
        self.time_embed = nn.Sequential(TimeEmbedding(embed_dim), nn.Linear(embed_dim, emb_dim),
                                        nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_embed = (None if n_classes is None
                            else nn.Embedding(self.n_classes + 1, emb_dim))

        self.conv_in = nn.Conv2d(in_channels, channels * channel_mult[0], 3, padding=1)
        skips = [channels * channel_mult[0]]
        ch = skips[0]
        self.down = nn.ModuleList()
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                self.down.append(_ResBlock(ch, channels * mult, emb_dim))
                ch = channels * mult
                skips.append(ch)
            if level < self.levels - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([_ResBlock(ch, ch, emb_dim), _ResBlock(ch, ch, emb_dim)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(_ResBlock(ch + skips.pop(), channels * mult, emb_dim))
                ch = channels * mult
            if level > 0:
                self.up.append(nn.Conv2d(ch, ch, 3, padding=1))  # after a nearest upsampling
        self.norm_out = nn.GroupNorm(_groups(ch), ch)
        self.conv_out = nn.Conv2d(ch, in_channels, 3, padding=1)
        # start from eps_theta = 0, the best constant guess, so early losses stay near dim
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, t, x, labels=None):
        """Noise prediction, shape (n, C, H, W), for images ``x`` (n, C, H, W) at times ``t`` (n,).

        ``labels`` (n,) are integer classes in 0 .. n_classes (n_classes: the null class);
        None on a conditional network means the null class for the whole batch.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (n, {self.in_channels}, H, W), got "
                             f"{tuple(x.shape)}")
        factor = 2 ** (self.levels - 1)
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(f"height and width must be divisible by {factor} for "
                             f"{self.levels} resolution levels, got {tuple(x.shape[2:])}")
        emb = self.time_embed(t)
        if self.label_embed is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.n_classes, dtype=torch.long,
                                    device=x.device)
            emb = emb + self.label_embed(labels)
        elif labels is not None:
            raise ValueError("this network is unconditional: it takes no labels")
        emb = F.silu(emb)

        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, _ResBlock) else layer(h)
            hs.append(h)
        for layer in self.mid:
            h = layer(h, emb)
        for layer in self.up:
            if isinstance(layer, _ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = layer(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))

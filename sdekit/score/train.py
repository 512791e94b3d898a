"""Training score networks by denoising score matching, and the :class:`ScoreModel` face.

Denoising score matching (Vincent 2011; Song et al. 2021) with the noise-prediction
parametrisation minimises, over t ~ U(t_eps, t_end), x0 from the data and eps ~ N(0, I),

    E || eps_theta(t, alpha(t) x0 + sigma(t) eps) - eps ||^2,

which is score matching with time weighting lambda(t) = sigma(t)^2. Training keeps an exponential
moving average (EMA) of the weights, which is what samples are drawn with.

Vector data (n, dim) get an MLP (:mod:`sdekit.score.nets`), images (n, C, H, W) a small U-Net
(:mod:`sdekit.score.unet`). Either can be class-conditional: trained with labels, and with label
dropout (the label replaced by a null class with some probability), the one network predicts the
noise both given a class and without one, which classifier-free guidance (Ho and Salimans 2022)
combines at sampling time into the guided score

    s_w(t, x, c) = (1 + w) s(t, x, c) - w s(t, x, null),

with guidance scale w >= 0 (w = 0: plain conditional sampling). diffusers' ``guidance_scale``
gamma is this w + 1. The samplers see the guided score as one more torch score function: all of
:func:`sdekit.score.sample`'s methods work with it unchanged. Images travel through the samplers
flattened to (n, C * H * W) and are reshaped for the network.

Flow matching (Lipman et al. 2023; rectified flow, Liu et al. 2023) is the other training
objective, chosen by ``ScoreModel(path="ot")``: on the conditional optimal-transport path
X_t = (1 - t) X_0 + sigma(t) eps of :class:`~sdekit.score.OTPathSDE` (data at t = 0, noise at
t = 1), the network regresses the velocity of each pair,

    E || v_theta(t, alpha(t) x0 + sigma(t) eps) - (alpha'(t) x0 + sigma'(t) eps) ||^2,
    t ~ U(0, 1),

(eps - x0 when sigma_min = 0), whose minimiser is the marginal velocity
E[alpha' X_0 + sigma' eps | X_t = x]. Samples follow its flow ODE from the prior at t = 1 with
``sample(..., method="flow_euler" | "flow_heun")``, through the engine as every sampler here.
The same networks, label dropout and guidance serve both objectives: the guided velocity is
(1 + w) v(t, x, c) - w v(t, x, null), as the guided score is.

Saved models are a plain dictionary of tensors, numbers and strings written by ``torch.save`` and
read back with ``torch.load(weights_only=True)``: loading never runs code from the file.
"""

from __future__ import annotations

import copy
import math
import numbers
from pathlib import Path

import numpy as np

from ..sde.random import check_seed
from .sampling import _ALIASES, FLOW_METHODS, METHODS
from .sampling import sample as _sample
from .sdes import VESDE, VPSDE, DiffusionSDE, OTPathSDE, SubVPSDE, alpha_sigma
from .targets import Score, Velocity

__all__ = ["ScoreModel", "sde_to_config", "sde_from_config"]

_FORMAT = "sdekit.score.ScoreModel"
_VERSION = 3
_NETWORKS = ("auto", "mlp", "unet")
_PATHS = ("diffusion", "ot")


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
    if isinstance(sde, OTPathSDE):
        return {"kind": "ot", "sigma_min": sde.sigma_min, "t_end": sde.t_end,
                "t_eps": sde.t_eps}
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
    if kind == "ot":
        return OTPathSDE(**config)
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



def _positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class ScoreModel:
    """A score (or flow-matching velocity) network with its path: train, sample, save and load.

    Parameters
    ----------
    sde : DiffusionSDE, optional
        Forward SDE (default :class:`VPSDE`; with ``path="ot"`` an
        :class:`~sdekit.score.OTPathSDE`, by default ``OTPathSDE()``).
    path : {"diffusion", "ot"}
        Training objective. ``"diffusion"``: denoising score matching on ``sde``, sampled by
        the score methods of :func:`sdekit.score.sample`. ``"ot"``: flow matching on the
        conditional optimal-transport path (rectified flow), the network predicting the
        velocity, sampled by ``flow_euler`` and ``flow_heun`` (see the module docs).
    network : {"auto", "mlp", "unet"}
        The noise predictor: an :class:`~sdekit.score.nets.MLPScoreNet` for vector data of
        shape (n, dim), a :class:`~sdekit.score.unet.UNetScoreNet` for images of shape
        (n, C, H, W); ``"auto"`` picks by the shape of the data given to :meth:`fit`.
    hidden, depth : int
        Width and number of hidden layers of the MLP.
    embed_dim : int
        Size of the sinusoidal time features (both networks).
    channels, channel_mult, num_res_blocks : int, tuple of int, int
        Size of the U-Net: feature channels at the finest level, one multiplier per resolution
        level, residual blocks per level (see :class:`~sdekit.score.unet.UNetScoreNet`).
    standardize : bool
        Fit on (x - mean) / std of the training data and undo it when sampling: per coordinate
        for vectors, per channel for images.

    Examples
    --------
    >>> from sdekit.score import ScoreModel, make_toy
    >>> model = ScoreModel().fit(make_toy("ring", 2000, seed=0), steps=200, progress=False)
    >>> model.sample(100, steps=20, seed=1).shape
    (100, 2)
    >>> flow = ScoreModel(path="ot").fit(make_toy("ring", 2000, seed=0), steps=200,
    ...                                  progress=False)
    >>> flow.sample(100, method="flow_euler", steps=10, seed=1).shape
    (100, 2)
    """

    def __init__(self, sde=None, *, path="diffusion", network="auto", hidden=128, depth=3,
                 embed_dim=32, channels=32, channel_mult=(1, 2), num_res_blocks=1,
                 standardize=True):
        if path not in _PATHS:
            raise ValueError(f"path must be one of {', '.join(_PATHS)}, got {path!r}")
        if sde is None:
            sde = OTPathSDE() if path == "ot" else VPSDE()
        if not isinstance(sde, DiffusionSDE):
            raise TypeError(f"sde must be a forward SDE of sdekit.score, got {type(sde).__name__}")
        if path == "ot" and not isinstance(sde, OTPathSDE):
            raise ValueError(f"path='ot' trains by flow matching on the OT path: give an "
                             f"OTPathSDE (or no sde), not {type(sde).__name__}")
        if path == "diffusion" and isinstance(sde, OTPathSDE):
            raise ValueError("an OTPathSDE is the path of flow matching: use "
                             "ScoreModel(path='ot')")
        self.path = path
        if network not in _NETWORKS:
            raise ValueError(f"network must be one of {', '.join(_NETWORKS)}, got {network!r}")
        self.sde = sde
        self.network = network
        self._options = {
            "mlp": {"hidden": _positive_int("hidden", hidden),
                    "depth": _positive_int("depth", depth),
                    "embed_dim": _positive_int("embed_dim", embed_dim)},
            "unet": {"channels": _positive_int("channels", channels),
                     "channel_mult": [_positive_int("channel_mult", m) for m in channel_mult],
                     "num_res_blocks": _positive_int("num_res_blocks", num_res_blocks),
                     "embed_dim": _positive_int("embed_dim", embed_dim)},
        }
        self.arch = None if network == "auto" else dict(self._options[network])
        self.standardize = bool(standardize)
        self.data_shape = None
        self.dim = None
        self.n_classes = None
        self.label_dropout = 0.0
        self.net = None
        self.ema = None
        self.shift = None
        self.scale = None
        self.losses = []
        self.seed = None

    @property
    def flow(self):
        """Whether the model was trained by flow matching (``path="ot"``): it has a velocity."""
        return self.path == "ot"

    @property
    def conditional(self):
        """Whether the model was trained with class labels."""
        return self.n_classes is not None

    # -- training -------------------------------------------------------------------------------
    def _build(self, data_shape, n_classes=None):
        data_shape = tuple(int(k) for k in data_shape)
        network = self.network
        if network == "auto":
            network = "unet" if len(data_shape) == 3 else "mlp"
        if network == "mlp" and len(data_shape) != 1:
            raise ValueError(f"the MLP takes vector data of shape (n, dim), got (n, "
                             f"{', '.join(map(str, data_shape))}); use network='unet' for images")
        if network == "unet" and len(data_shape) != 3:
            raise ValueError(f"the U-Net takes images of shape (n, C, H, W), got (n, "
                             f"{', '.join(map(str, data_shape))})")
        self.network = network
        self.arch = dict(self._options[network])
        self.data_shape = data_shape
        self.dim = int(np.prod(data_shape))
        self.n_classes = None if n_classes is None else int(n_classes)
        if network == "mlp":
            from .nets import MLPScoreNet

            self.net = MLPScoreNet(self.dim, n_classes=self.n_classes, **self.arch)
        else:
            from .unet import UNetScoreNet

            levels = len(self.arch["channel_mult"])
            factor = 2 ** (levels - 1)
            if data_shape[1] % factor or data_shape[2] % factor:
                raise ValueError(f"image height and width must be divisible by {factor} for "
                                 f"{levels} resolution levels (channel_mult), got "
                                 f"{data_shape[1]}x{data_shape[2]}")
            self.net = UNetScoreNet(data_shape[0], n_classes=self.n_classes, **self.arch)
        self.ema = copy.deepcopy(self.net)
        for p in self.ema.parameters():
            p.requires_grad_(False)

    @staticmethod
    def _check_labels(labels, n, n_classes):
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape (n,) = ({n},), one per data point; got "
                             f"shape {labels.shape}")
        if labels.dtype.kind not in "iu" and not (
                labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
            raise ValueError(f"labels must be integers (classes 0, 1, ...), got dtype "
                             f"{labels.dtype}")
        labels = labels.astype(np.int64)
        if labels.min() < 0:
            raise ValueError("labels must be non-negative integers (classes 0, 1, ...)")
        if n_classes is None:
            n_classes = int(labels.max()) + 1
        else:
            n_classes = _positive_int("n_classes", n_classes)
            if labels.max() >= n_classes:
                raise ValueError(f"labels must lie in 0 .. n_classes - 1 = {n_classes - 1}, got "
                                 f"{labels.max()}")
        return labels, n_classes

    def fit(self, data, *, labels=None, label_dropout=0.1, n_classes=None, steps=2000,
            batch_size=512, lr=2e-3, ema_decay=0.999, seed=0, progress=True):
        """Train by denoising score matching, or by flow matching with ``path="ot"``.

        Parameters
        ----------
        data : array_like, shape (n, dim) or (n, C, H, W)
            Training data: vectors (MLP) or images (U-Net).
        labels : array_like of int, shape (n,), optional
            Class of each data point, 0 .. n_classes - 1: trains a class-conditional model.
        label_dropout : float
            With labels, the probability in [0, 1) with which a training example's label is
            replaced by the null class, so the model also learns the unconditional score that
            classifier-free guidance needs (0.1 is the usual choice; 0 disables guidance).
        n_classes : int, optional
            Number of classes (default: largest label + 1).
        steps : int
            Optimiser steps (Adam with cosine learning-rate decay).
        batch_size : int
        lr : float
            Peak learning rate.
        ema_decay : float
            Decay of the exponential moving average of the weights, in [0, 1); during the first
            steps the decay is min(ema_decay, (1 + k) / (10 + k)).
        seed : int or None
            Fixes initial weights, batches, times, label dropout and noise (results repeat on
            the same device and torch version). An estimator defaults to a fixed seed, so that
            a fit is a deterministic function of its data; None draws one from fresh entropy.
            The seed used is kept in ``self.seed``.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        self
            The fitted model (scikit-learn's convention: ``ScoreModel().fit(X).sample(n)``).
        """
        torch = _torch()
        seed = check_seed(seed)
        data = np.asarray(data, dtype=np.float64)
        if data.ndim not in (2, 4) or data.shape[0] < 2:
            raise ValueError(f"data must have shape (n >= 2, dim) or (n >= 2, C, H, W), got "
                             f"{data.shape}")
        if not np.all(np.isfinite(data)):
            raise ValueError("data must be finite")
        steps = _positive_int("steps", steps)
        batch_size = _positive_int("batch_size", batch_size)
        if not 0 <= ema_decay < 1:
            raise ValueError(f"ema_decay must lie in [0, 1), got {ema_decay!r}")
        if labels is not None:
            labels, n_classes = self._check_labels(labels, data.shape[0], n_classes)
            if not (isinstance(label_dropout, numbers.Real) and 0 <= label_dropout < 1):
                raise ValueError(f"label_dropout must lie in [0, 1), got {label_dropout!r}")
        elif n_classes is not None:
            raise ValueError("n_classes is given but labels are not: pass labels=... to train "
                             "a class-conditional model")
        # statistics over the batch for vectors, over batch and pixels (per channel) for images
        axes = (0,) if data.ndim == 2 else (0, 2, 3)
        if self.standardize:
            self.shift = data.mean(axis=axes)
            self.scale = data.std(axis=axes) + 1e-12
        else:
            self.shift = np.zeros(data.shape[1])
            self.scale = np.ones(data.shape[1])
        if data.ndim == 4:
            self.shift, self.scale = self.shift[:, None, None], self.scale[:, None, None]
        x_all = torch.as_tensor((data - self.shift) / self.scale, dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build(data.shape[1:], n_classes if labels is not None else None)
        self.label_dropout = float(label_dropout) if labels is not None else 0.0
        y_all = None if labels is None else torch.as_tensor(labels)
        self._train(torch, x_all, y_all, steps=steps, batch_size=batch_size, lr=lr,
                    ema_decay=ema_decay, seed=seed, progress=progress)
        self.seed = seed
        return self

    def _train(self, torch, x_all, y_all, *, steps, batch_size, lr, ema_decay, seed, progress):
        """The optimisation loop of :meth:`fit` on standardized data ``x_all`` (float32 tensor,
        shape (n, *data_shape)) and labels ``y_all`` (int64 tensor of shape (n,) or None)."""
        gen = torch.Generator().manual_seed((seed + 1) % 2**64)
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))
        sde = self.sde
        per_example = (batch_size,) + (1,) * (x_all.ndim - 1)
        bar = range(steps)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(bar, desc="training", unit="step")
        self.losses = []
        flow = self.flow
        for k in bar:
            idx = torch.as_tensor(rng.integers(0, x_all.shape[0], size=batch_size))
            # the velocity is finite on all of [0, 1] on the OT path; the score needs sigma > 0
            t = rng.uniform(0.0 if flow else sde.t_eps, sde.t_end, size=batch_size)
            alpha, sigma = sde.marginal(t)
            alpha = torch.as_tensor(alpha, dtype=torch.float32).reshape(per_example)
            sigma = torch.as_tensor(sigma, dtype=torch.float32).reshape(per_example)
            eps = torch.randn(batch_size, *self.data_shape, generator=gen)
            x_t = alpha * x_all[idx] + sigma * eps
            if flow:
                dalpha, dsigma = sde.marginal_rates(t)
                dalpha = torch.as_tensor(dalpha, dtype=torch.float32).reshape(per_example)
                dsigma = torch.as_tensor(dsigma, dtype=torch.float32).reshape(per_example)
                target = dalpha * x_all[idx] + dsigma * eps
            else:
                target = eps
            times = torch.as_tensor(t, dtype=torch.float32)
            if y_all is None:
                pred = self.net(times, x_t)
            else:
                y = y_all[idx]
                if self.label_dropout > 0:
                    drop = torch.as_tensor(rng.uniform(size=batch_size) < self.label_dropout)
                    y = torch.where(drop, self.n_classes, y)
                pred = self.net(times, x_t, y)
            loss = ((pred - target) ** 2).reshape(batch_size, -1).sum(1).mean()
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

    # -- scores and samples ---------------------------------------------------------------------
    def _check_fitted(self):
        if self.ema is None:
            raise RuntimeError("this ScoreModel has not been trained: call fit(data) or load()")

    def _check_conditioning(self, labels, guidance_scale, n=None):
        """Labels as an int64 array of shape (n,) or (1,), or None; checks guidance."""
        if not isinstance(guidance_scale, numbers.Real) or not guidance_scale >= 0:
            raise ValueError(f"guidance_scale must be a number >= 0, got {guidance_scale!r}")
        if not self.conditional:
            if labels is not None:
                raise ValueError("this model was trained without labels, so it cannot be "
                                 "conditioned on them: fit(data, labels=...) first")
            if guidance_scale != 0:
                raise ValueError("classifier-free guidance needs a class-conditional model "
                                 "(trained with fit(data, labels=..., label_dropout > 0))")
            return None
        if guidance_scale != 0:
            if labels is None:
                raise ValueError("guidance_scale needs labels: the classes to guide towards")
            if self.label_dropout == 0:
                raise ValueError("this model was trained with label_dropout=0, so its null "
                                 "class (the unconditional score) was never trained and "
                                 "classifier-free guidance is meaningless")
        if labels is None:
            if self.label_dropout == 0:
                raise ValueError("this model was trained with label_dropout=0 and has no "
                                 "unconditional score: give labels")
            return None
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = labels[None]
        if labels.ndim != 1 or (n is not None and labels.shape[0] not in (1, n)):
            raise ValueError(f"labels must be one class or one class per sample, shape "
                             f"({n if n is not None else 'n'},); got shape {labels.shape}")
        if labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"labels must lie in 0 .. {self.n_classes - 1}, got "
                             f"{labels.min()} .. {labels.max()}")
        return labels.astype(np.int64)

    def score(self, ema=True, *, labels=None, guidance_scale=0.0):
        """The learned score of the standardized data as a :class:`Score` (torch form).

        Parameters
        ----------
        ema : bool
            Use the EMA weights (else the last trained weights).
        labels : int or array_like of int, shape (n,), optional
            For a class-conditional model: the class of every state the score is evaluated on
            (one number for all). None gives the unconditional score (the null class).
        guidance_scale : float
            Classifier-free guidance scale w >= 0: the score is
            (1 + w) s(t, x, c) - w s(t, x, null). 0 is the plain conditional score.

        Returns
        -------
        Score
            Evaluates on flattened states of shape (n, prod(data_shape)).

        Raises
        ------
        ValueError
            For a flow-matching model (``path="ot"``), which has a :meth:`velocity` instead.
        """
        self._check_fitted()
        if self.flow:
            raise ValueError("this model was trained by flow matching (path='ot'): it learned a "
                             "velocity, not a score; use velocity() and the methods "
                             f"{' or '.join(FLOW_METHODS)}")
        return self._field(ema, labels, guidance_scale)

    def velocity(self, ema=True, *, labels=None, guidance_scale=0.0):
        """The learned velocity of the standardized data as a :class:`Velocity` (torch form).

        For a flow-matching model (``path="ot"``): v(t, x), whose flow ODE dx/dt = v carries
        the prior at t = 1 to the data at t = 0. Arguments as :meth:`score`; with guidance the
        velocity is (1 + w) v(t, x, c) - w v(t, x, null).

        Raises
        ------
        ValueError
            For a score model (``path="diffusion"``), which has a :meth:`score` instead.
        """
        self._check_fitted()
        if not self.flow:
            raise ValueError("this model was trained by score matching (path='diffusion'): it "
                             "has a score, not a velocity; use score() and a score method, or "
                             "train with ScoreModel(path='ot')")
        return self._field(ema, labels, guidance_scale)

    def _field(self, ema, labels, guidance_scale):
        """The network as a Score (noise prediction -> score) or a Velocity (as predicted)."""
        labels = self._check_conditioning(labels, guidance_scale)
        torch = _torch()
        net = self.ema if ema else self.net
        code, s0, s1 = self.sde.schedule()
        shape = self.data_shape
        w = float(guidance_scale)
        null = self.n_classes
        flow = self.flow
        cache = {}

        def batch_labels(n, device):
            if labels is None:
                return None if null is None else torch.full((n,), null, device=device)
            if labels.shape[0] not in (1, n):
                raise ValueError(f"the {'velocity' if flow else 'score'} was built for "
                                 f"{labels.shape[0]} labels but is evaluated on {n} states")
            key = (n, str(device))
            if key not in cache:
                y = torch.as_tensor(labels, device=device)
                cache[key] = y.expand(n) if y.shape[0] == 1 else y
            return cache[key]

        def torch_field(t, x, q):
            param = next(net.parameters())
            if param.device != x.device:
                net.to(x.device)
            n = x.shape[0]
            h = x.to(param.dtype).reshape(n, *shape)
            times = torch.full((n,), float(t), dtype=param.dtype, device=x.device)
            y = batch_labels(n, x.device)
            if y is None:
                out = net(times, h)
            elif w == 0:
                out = net(times, h, y)
            else:
                # one pass over the doubled batch: conditional and null-class predictions
                both = net(torch.cat([times, times]), torch.cat([h, h]),
                           torch.cat([y, torch.full_like(y, null)]))
                out_c, out_u = both.chunk(2)
                out = (1.0 + w) * out_c - w * out_u
            out = out.reshape(n, -1).to(x.dtype)
            if flow:
                return out
            _, sigma = alpha_sigma(code, s0, s1, float(t))
            return -out / sigma

        name = "ScoreModel" if labels is None else (
            f"ScoreModel(labels, guidance_scale={w:g})")
        if flow:
            return Velocity(torch=torch_field, dim=self.dim, name=name + " velocity")
        return Score(torch=torch_field, dim=self.dim, name=name)

    def sample(self, n, *, labels=None, guidance_scale=0.0, method=None, steps=100, seed=None,
               ema=True, **kwargs):
        """``n`` samples in data units by :func:`sdekit.score.sample`.

        Parameters
        ----------
        n : int
            Number of samples.
        labels : int or array_like of int, shape (n,), optional
            Classes to draw from (class-conditional models only): one for all samples or one per
            sample. None draws from the unconditional model (the null class).
        guidance_scale : float
            Classifier-free guidance scale w >= 0 (needs labels): samples follow the guided
            score (1 + w) s(t, x, c) - w s(t, x, null). Larger w trades diversity for samples
            that look more like their class.
        method : str, optional
            As in :func:`sdekit.score.sample`: a score method for a score model (default
            ``"probability_flow"``), ``"flow_euler"`` or ``"flow_heun"`` (the default) for a
            flow-matching model.
        steps, seed, **kwargs
            As in :func:`sdekit.score.sample`; ``x_init`` may be given flat or in the data's
            shape. With ``return_details=True`` the result is a
            :class:`~sdekit.score.SampleResult` whose ``samples`` are in the data's units and
            shape, and whose ``seed`` is the seed used.

        Returns
        -------
        ndarray, shape (n, dim) or (n, C, H, W), or SampleResult
            Samples in the units of the training data.

        Notes
        -----
        The network runs on torch, so the sampler runs on ``backend="torch"`` (engine methods
        included).
        """
        self._check_fitted()
        if method is None:
            method = "flow_heun" if self.flow else "probability_flow"
        name = _ALIASES.get(method, method) if isinstance(method, str) else method
        if self.flow and name in METHODS:
            raise ValueError(f"method {method!r} needs a score, but this model was trained by "
                             f"flow matching (path='ot'): use {' or '.join(FLOW_METHODS)}")
        if not self.flow and name in FLOW_METHODS:
            raise ValueError(f"method {method!r} integrates a velocity, but this model was "
                             f"trained by score matching: use a score method "
                             f"({', '.join(METHODS)}) or train with path='ot'")
        if isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1:
            self._check_conditioning(labels, guidance_scale, n)
        if kwargs.get("x_init") is not None:
            kwargs["x_init"] = np.reshape(np.asarray(kwargs["x_init"], dtype=np.float64),
                                          (-1, self.dim))
        score = self._field(ema, labels, guidance_scale)
        result = _sample(self.sde, score, n, method=method, steps=steps, seed=seed,
                         backend="torch", **kwargs)
        x = result.samples if kwargs.get("return_details") else result
        x = x.reshape(x.shape[0], *self.data_shape) * self.scale + self.shift
        if not kwargs.get("return_details"):
            return x
        result.samples = x
        return result

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path):
        """Write the model (weights, EMA weights, architecture, SDE, scaling) to ``path``.

        The file holds tensors, numbers, strings and lists only: :meth:`load` reads it without
        unpickling code.
        """
        self._check_fitted()
        torch = _torch()
        state = {
            "format": _FORMAT,
            "version": _VERSION,
            "path": self.path,
            "network": self.network,
            "data_shape": list(self.data_shape),
            "dim": self.dim,
            "arch": dict(self.arch),
            "n_classes": self.n_classes,
            "label_dropout": self.label_dropout,
            "sde": sde_to_config(self.sde),
            "standardize": self.standardize,
            "shift": torch.as_tensor(self.shift),
            "scale": torch.as_tensor(self.scale),
            "weights": self.net.state_dict(),
            "ema_weights": self.ema.state_dict(),
            "seed": self.seed,
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
        version = state.get("version")
        if version == 1:  # MLP for vector data, unconditional
            state = {**state, "network": "mlp", "data_shape": [state["dim"]], "n_classes": None,
                     "label_dropout": 0.0}
        if version in (1, 2):  # score matching was the only objective
            state = {**state, "path": "diffusion"}
        elif version != _VERSION:
            raise ValueError(f"{path} was saved by an incompatible version "
                             f"({version}) of sdekit's score models")
        try:
            model = cls(sde_from_config(state["sde"]), path=state["path"],
                        network=state["network"], standardize=state["standardize"],
                        **state["arch"])
            model._build(state["data_shape"], state["n_classes"])
            model.net.load_state_dict(state["weights"])
            model.ema.load_state_dict(state["ema_weights"])
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise ValueError(f"{path} is a damaged sdekit score model ({exc.__class__.__name__}"
                             f": {str(exc).splitlines()[0] if str(exc) else ''})") from None
        model.label_dropout = float(state["label_dropout"])
        model.shift = state["shift"].numpy()
        model.scale = state["scale"].numpy()
        model.seed = state.get("seed")  # absent from files written before the seed was kept
        return model

"""Score-based generative models sampled through the sdekit engine.

Forward SDEs (:class:`VPSDE`, :class:`VESDE`, :class:`SubVPSDE`) and the OT path of flow
matching (:class:`OTPathSDE`), Gaussian-mixture targets with exact scores and velocities at every
noise level (:class:`GaussianMixture`), one sampling API (:func:`sample`) whose reverse-SDE,
probability-flow and flow-ODE methods run on the engine's ``solve``, toy data sets, and
trainable score and flow-matching networks (:class:`ScoreModel`). torch is needed only for the
torch backend and the networks, and is imported only when they are used.
"""

from .datasets import IMAGE_DATASETS, TOY_DATASETS, digits, make_toy, tile_images
from .langevin import LangevinResult, effective_sample_size, langevin
from .likelihood import LikelihoodResult, bits_per_dim, log_likelihood
from .metrics import gaussian_w2, mode_statistics, sliced_wasserstein, w2_floor, w2_to_gaussian
from .sampling import (
    FLOW_METHODS,
    METHODS,
    SampleResult,
    n_score_evals,
    sample,
    time_grid,
)
from .sdes import VESDE, VPSDE, DiffusionSDE, OTPathSDE, SubVPSDE
from .targets import GaussianMixture, Score, Velocity
from .train import ScoreModel

__all__ = [
    "DiffusionSDE",
    "VPSDE",
    "VESDE",
    "SubVPSDE",
    "OTPathSDE",
    "GaussianMixture",
    "Score",
    "Velocity",
    "sample",
    "SampleResult",
    "time_grid",
    "n_score_evals",
    "METHODS",
    "FLOW_METHODS",
    "ScoreModel",
    "make_toy",
    "TOY_DATASETS",
    "digits",
    "IMAGE_DATASETS",
    "tile_images",
    "gaussian_w2",
    "w2_to_gaussian",
    "w2_floor",
    "mode_statistics",
    "sliced_wasserstein",
    "langevin",
    "LangevinResult",
    "effective_sample_size",
    "log_likelihood",
    "LikelihoodResult",
    "bits_per_dim",
]

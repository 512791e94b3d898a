"""Score-based generative models sampled through the sdekit engine.

Forward SDEs (:class:`VPSDE`, :class:`VESDE`, :class:`SubVPSDE`), Gaussian-mixture targets with
exact scores at every noise level (:class:`GaussianMixture`), and one sampling API
(:func:`sample`) whose reverse-SDE and probability-flow methods run on the engine's ``solve``.
torch is needed only for the torch backend and the neural-network parts, and is imported lazily.
"""

from .sdes import VESDE, VPSDE, DiffusionSDE, SubVPSDE
from .targets import GaussianMixture, Score

__all__ = [
    "DiffusionSDE",
    "VPSDE",
    "VESDE",
    "SubVPSDE",
    "GaussianMixture",
    "Score",
]

"""The SDE engine: models, schemes, boundaries, random streams and ``solve``.

This package knows nothing of decision models, data files or neural networks.
"""

from .events import Boundaries
from .fokker_planck import FirstPassage, first_passage
from .model import SDE, BrownianMotion, DriftDiffusion, GeometricBrownianMotion, OrnsteinUhlenbeck
from .schemes import SCHEMES, Scheme
from .solve import Solution, solve
from .wiener import WienerProcess

__all__ = [
    "SDE",
    "BrownianMotion",
    "DriftDiffusion",
    "GeometricBrownianMotion",
    "OrnsteinUhlenbeck",
    "Boundaries",
    "Scheme",
    "SCHEMES",
    "Solution",
    "solve",
    "first_passage",
    "FirstPassage",
    "WienerProcess",
]

"""Drift-diffusion decision models: densities, distributions, simulation and fitting.

Conventions: ``a`` is the full boundary separation, ``z`` the relative starting point in (0, 1),
``t0`` the non-decision time in seconds, unit diffusion coefficient; response 1 is the upper
boundary, 0 the lower. Submodules are imported on first use, so ``import sdekit.ddm`` stays light.
"""

from __future__ import annotations

import importlib

__all__ = ["DDM", "logpdf", "pdf", "cdf", "sf", "prob_upper", "grad_logpdf", "sample_ddm",
           "read_csv", "from_dataframe", "fit", "DDMResults", "DecisionModel", "SimulationModel",
           "Drift", "Noise", "Bound", "Start", "NonDecision", "Urgency"]

_LAZY = {
    "DDM": "sdekit.ddm.models",
    "logpdf": "sdekit.ddm.density",
    "pdf": "sdekit.ddm.density",
    "cdf": "sdekit.ddm.density",
    "sf": "sdekit.ddm.density",
    "prob_upper": "sdekit.ddm.density",
    "grad_logpdf": "sdekit.ddm.density",
    "sample_ddm": "sdekit.ddm.sampling",
    "read_csv": "sdekit.ddm.data",
    "from_dataframe": "sdekit.ddm.data",
    "fit": "sdekit.ddm.fitting",
    "DDMResults": "sdekit.ddm.fitting",
    "DecisionModel": "sdekit.ddm.generalized",
    "SimulationModel": "sdekit.ddm.simulation_model",
    "Drift": "sdekit.ddm.components",
    "Noise": "sdekit.ddm.components",
    "Bound": "sdekit.ddm.components",
    "Start": "sdekit.ddm.components",
    "NonDecision": "sdekit.ddm.components",
    "Urgency": "sdekit.ddm.components",
}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'sdekit.ddm' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

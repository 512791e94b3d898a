"""Bayesian estimation of decision models: posterior samples per subject and group.

Built on PyMC (the model), nutpie (NUTS, compiled through Numba) and ArviZ (the draws and their
diagnostics), with sdekit's exact DDM log-density and analytic gradient as the likelihood. These
are optional dependencies: ``pip install "sdekit[bayes]"``.

>>> from sdekit.ddm import bayes                                    # doctest: +SKIP
>>> post = bayes.sample_posterior("trials.csv", depends_on={"v": "stim"})  # doctest: +SKIP
>>> post.summary()                                                  # doctest: +SKIP
"""

from __future__ import annotations

try:
    import arviz as _arviz  # noqa: F401
    import pymc as _pymc  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(f"sdekit.ddm.bayes needs PyMC, nutpie and ArviZ ({exc.name} is missing): "
                      'pip install "sdekit[bayes]"') from None

from sdekit.ddm.bayes.model import ModelLayout, build_model
from sdekit.ddm.bayes.priors import DEFAULT_PRIORS, LINKS, Prior
from sdekit.ddm.bayes.results import ConvergenceWarning, PosteriorResults
from sdekit.ddm.bayes.run import SAMPLERS, sample_posterior

__all__ = ["sample_posterior", "build_model", "PosteriorResults", "Prior", "DEFAULT_PRIORS",
           "LINKS", "ModelLayout", "ConvergenceWarning", "SAMPLERS"]

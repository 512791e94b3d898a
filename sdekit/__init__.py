"""sdekit: one Itô SDE engine for decision models, Wiener processes and score-based models.

>>> import sdekit as sk
>>> W = sk.WienerProcess(dim=2, D=0.5)
>>> sol = sk.solve(sk.OrnsteinUhlenbeck(), 0.0, [0.0, 1.0], dt=1e-3, n_paths=1000, seed=1)

The decision-model and score-model layers are subpackages: ``sdekit.ddm`` and ``sdekit.score``.

One vocabulary runs through the package:

``seed``
    Functions that draw random samples (``solve``, ``WienerProcess.sample``, ``score.sample``,
    ``score.langevin``) take ``seed=None``, meaning fresh entropy; estimators
    (``score.ScoreModel.fit``, ``ddm.fit``) default to a fixed seed, so that a fit is a
    deterministic function of its data. Results record the seed actually used, also when it was
    drawn (``Solution.seed``, ``LangevinResult.seed``, ``LikelihoodResult.seed``,
    ``score.SampleResult.seed``, ``ScoreModel.seed``). Sub-seeds come from one function,
    :func:`sdekit.sde.random.child_seed`.
``backend``, ``device``
    ``"numba"`` (alias ``"cpu"``), ``"cuda"`` (alias ``"gpu"``) or ``"torch"``, read by one
    function, :func:`sdekit.sde.backends.resolve_backend`; ``device`` is torch's and applies to
    ``backend="torch"`` only.
counts
    A count names what it counts: ``n_paths`` paths of a process (the engine's results have a
    path axis and a time axis), ``n`` points drawn from a distribution (``score.sample``, its
    chains for ``langevin``), ``size`` for the scipy.stats-like ``rvs`` of the decision models,
    and ``n_sim`` for simulations per likelihood evaluation, a different quantity.
"""

__version__ = "0.1.0"

import os as _os

# Numba's OpenMP workers otherwise spin after each parallel region and starve other thread pools
# in the process: torch code beside sdekit ran up to 70x slower. Set before the threading layer
# starts; a value chosen by the user wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .sde import (  # noqa: E402
    SDE,
    Boundaries,
    BrownianMotion,
    DriftDiffusion,
    GeometricBrownianMotion,
    OrnsteinUhlenbeck,
    Solution,
    WienerProcess,
    solve,
)

__all__ = [
    "SDE",
    "Boundaries",
    "BrownianMotion",
    "DriftDiffusion",
    "GeometricBrownianMotion",
    "OrnsteinUhlenbeck",
    "Solution",
    "WienerProcess",
    "solve",
    "ddm",
    "score",
]


def __getattr__(name):
    # Subpackages load on first use so that `import sdekit` stays light.
    if name in ("ddm", "score"):
        import importlib

        return importlib.import_module(f"sdekit.{name}")
    raise AttributeError(f"module 'sdekit' has no attribute {name!r}")

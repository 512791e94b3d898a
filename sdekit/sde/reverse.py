"""Time reversal: the reverse-time SDE and the probability-flow ODE as ordinary SDEs.

With forward dX = f dt + g dW and the score s(t, x) = grad log p_t(x), the process
Y(s) = X(t_end - s) solves

    dY = [-f(t_end - s, Y) + w g^2(t_end - s, Y) s(t_end - s, Y)] ds + sqrt(2 w - 1) g dW

with w = 1 for the reverse-time SDE (Anderson 1982) and w = 1/2 for the probability-flow ODE
(Song et al. 2021), whose solutions share the forward marginals. Both are built here from the
forward coefficients and the score, as SDE objects that every backend solves.

The reversed SDE's parameter vector is ``[forward parameters..., t_end, score parameters...]``:
``t_end`` and the score's parameters are data, so one compiled kernel serves every horizon and
every target of the same score function (any number of score parameters), and the coefficient
functions are built once per (forward SDE, score) in a process. When the forward SDE and the score
are both sdekit's own code, the kernels are also cached on disk.

This module builds the reversed coefficients only; :meth:`sdekit.sde.SDE.reverse` wraps them in
an ``SDE``. It reads the forward SDE's attributes and never imports :mod:`sdekit.sde.model`, so
the dependency runs one way (model on reverse).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .specialization import specialize

__all__ = ["reverse_coefficients"]

# Bound per specialization.
_fwd_f = _fwd_g = _score = None
_WEIGHT = 1.0
_N_FWD = 0  # number of forward parameters; p[_N_FWD] is t_end
_DIM = 1


def _reverse_drift(s, x, p, out):
    t = p[_N_FWD] - s
    _score(t, x, p[_N_FWD + 1:], out)
    for k in range(_DIM):
        g = _fwd_g(t, x[k], p)
        out[k] = -_fwd_f(t, x[k], p) + _WEIGHT * g * g * out[k]


def _reverse_diffusion(s, x, p, out):
    t = p[_N_FWD] - s
    for k in range(_DIM):
        out[k] = _fwd_g(t, x[k], p)


_built = {}


def _is_library_code(fn):
    module = getattr(getattr(fn, "py_func", fn), "__module__", None) or ""
    return module.startswith("sdekit.")


def _compiled_coefficients(sde, score, flow):
    """Reverse drift and diffusion for (forward coefficients, score, flow), built once."""
    key = (id(sde.drift), id(sde.diffusion), id(score), sde.dim, sde.params.size, flow)
    entry = _built.get(key)
    if entry is None:
        cache = sde.cacheable and _is_library_code(score)
        constants = {"_WEIGHT": 0.5 if flow else 1.0, "_N_FWD": sde.params.size, "_DIM": sde.dim}
        drift = specialize(_reverse_drift, {"_fwd_f": sde.drift, "_fwd_g": sde.diffusion,
                                            "_score": score, **constants}, cache=cache)
        diffusion = specialize(_reverse_diffusion, {"_fwd_g": sde.diffusion, **constants},
                               cache=cache)
        # The forward functions and score stay referenced, so the ids in the key stay unique.
        entry = _built[key] = (drift, diffusion, cache, sde.drift, sde.diffusion, score)
    return entry[:3]


def reverse_coefficients(sde, score, t_end, score_params=(), torch_score=None,
                         probability_flow=False):
    """The coefficients of the reverse-time SDE (or probability-flow ODE) of ``sde``.

    Parameters are those of :meth:`sdekit.sde.SDE.reverse` (see the module docs).

    Returns
    -------
    dict
        Keyword arguments of ``SDE(...)``: ``drift``, ``diffusion`` (None for the flow),
        ``dim``, ``params`` (named: forward parameters, ``t_end``, ``score0``, ...),
        ``torch_drift``, ``torch_diffusion``, ``name`` and ``cacheable``.
    """
    if not sde.elementwise or sde.noise != "diagonal":
        raise NotImplementedError(
            "reverse() is implemented for elementwise SDEs with diagonal noise "
            f"(such as the built-in models); {sde.name} has {sde.noise} noise"
            + ("" if sde.elementwise else " and vector-form coefficients")
        )
    if score is None and torch_score is None:
        raise ValueError("give a score function (numba) and/or torch_score (torch)")
    t_end = float(t_end)
    q = np.atleast_1d(np.asarray(score_params, dtype=np.float64)).ravel()
    n_fwd = sde.params.size
    weight = 0.5 if probability_flow else 1.0
    drift = diffusion = None
    cache = False
    if score is not None:
        if not hasattr(score, "py_func"):
            score = nb.njit(score)
        drift, diffusion, cache = _compiled_coefficients(sde, score, bool(probability_flow))
    torch_drift = torch_diffusion = None
    if torch_score is not None:
        fwd_f, fwd_g = sde.drift.py_func, sde.diffusion.py_func

        def torch_drift(s, x, p):
            t = float(p[0, n_fwd]) - s
            columns = p[:, :n_fwd].T.unsqueeze(-1)
            g = fwd_g(t, x, columns)
            return -fwd_f(t, x, columns) + weight * g * g * torch_score(t, x, p[:, n_fwd + 1:])

        def torch_diffusion(s, x, p):
            return fwd_g(float(p[0, n_fwd]) - s, x, p[:, :n_fwd].T.unsqueeze(-1))

    names = (tuple(sde.param_names) + ("t_end",)
             + tuple(f"score{i}" for i in range(q.size)))
    return {
        "drift": drift if drift is not None else _unavailable,
        "diffusion": (None if probability_flow
                      else (diffusion if diffusion is not None else _unavailable)),
        "dim": sde.dim,
        "params": dict(zip(names, np.concatenate([sde.params, [t_end], q]), strict=True)),
        "torch_drift": torch_drift,
        "torch_diffusion": None if probability_flow else torch_diffusion,
        "name": f"{'ProbabilityFlow' if probability_flow else 'Reverse'}({sde.name})",
        "cacheable": cache,
    }


def _unavailable(t, x, p, out):  # pragma: no cover - only reached by a misuse
    raise RuntimeError("this reverse SDE was built with torch_score only: use backend='torch'")

"""Time reversal: the reverse-time SDE and the probability-flow ODE as ordinary SDEs.

With forward dX = f dt + g dW and the score s(t, x) = grad log p_t(x), the process
Y(s) = X(t_end - s) solves

    dY = [-f(t_end - s, Y) + w g^2(t_end - s, Y) s(t_end - s, Y)] ds + sqrt(2 w - 1) g dW

with w = 1 for the reverse-time SDE (Anderson 1982) and w = 1/2 for the probability-flow ODE
(Song et al. 2021), whose solutions share the forward marginals. Both are built here from the
forward coefficients and the score, as SDE objects that every backend solves.
"""

from __future__ import annotations

import numpy as np

from ._specialize import specialize

__all__ = ["reverse_sde"]

# Bound per specialization.
_fwd_f = _fwd_g = _score = None
_T_END = 1.0
_WEIGHT = 1.0
_N_FWD = 0
_DIM = 1


def _reverse_drift(s, x, p, out):
    t = _T_END - s
    _score(t, x, p[_N_FWD:], out)
    for k in range(_DIM):
        g = _fwd_g(t, x[k], p)
        out[k] = -_fwd_f(t, x[k], p) + _WEIGHT * g * g * out[k]


def _reverse_diffusion(s, x, p, out):
    t = _T_END - s
    for k in range(_DIM):
        out[k] = _fwd_g(t, x[k], p)


def reverse_sde(sde, score, t_end, score_params=(), torch_score=None, probability_flow=False):
    """Build the reverse-time SDE (or probability-flow ODE) of ``sde``; see the module docs."""
    from .model import SDE

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
    constants = {"_T_END": t_end, "_WEIGHT": weight, "_N_FWD": n_fwd, "_DIM": sde.dim}
    drift = diffusion = None
    if score is not None:
        if not hasattr(score, "py_func"):
            import numba as nb

            score = nb.njit(score)
        drift = specialize(_reverse_drift, {"_fwd_f": sde.drift, "_fwd_g": sde.diffusion,
                                            "_score": score, **constants})
        diffusion = specialize(_reverse_diffusion, {"_fwd_g": sde.diffusion, **constants})
    torch_drift = torch_diffusion = None
    if torch_score is not None:
        fwd_f, fwd_g = sde.drift.py_func, sde.diffusion.py_func

        def torch_drift(s, x, p):
            t = t_end - s
            columns = p[:, :n_fwd].T.unsqueeze(-1)
            g = fwd_g(t, x, columns)
            return -fwd_f(t, x, columns) + weight * g * g * torch_score(t, x, p[:, n_fwd:])

        def torch_diffusion(s, x, p):
            return fwd_g(t_end - s, x, p[:, :n_fwd].T.unsqueeze(-1))

    names = tuple(sde.param_names) + tuple(f"score{i}" for i in range(q.size))
    return SDE(
        drift if drift is not None else _unavailable,
        None if probability_flow else (diffusion if diffusion is not None else _unavailable),
        dim=sde.dim,
        params=dict(zip(names, np.concatenate([sde.params, q]), strict=True)),
        torch_drift=torch_drift,
        torch_diffusion=None if probability_flow else torch_diffusion,
        name=f"{'ProbabilityFlow' if probability_flow else 'Reverse'}({sde.name})",
    )


def _unavailable(t, x, p, out):  # pragma: no cover - only reached by a misuse
    raise RuntimeError("this reverse SDE was built with torch_score only: use backend='torch'")

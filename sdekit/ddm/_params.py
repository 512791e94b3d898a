"""The DDM's parameters, declared once: name, domain, default and meaning.

Validation, broadcasting, error messages (and, for fitters, bounds and result names) are all
derived from :data:`DDM_PARAMS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Param", "DDM_PARAMS", "PARAM_NAMES", "validate_params", "validate_data"]

_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes
    ----------
    name : str
        Name used in signatures, results and error messages.
    low, high : float
        Bounds of the domain.
    low_open, high_open : bool
        Whether the bound itself is excluded.
    default : float or None
        Default value; ``None`` when the parameter must be given.
    doc : str
        Meaning and unit.
    """

    name: str
    low: float
    high: float
    low_open: bool
    high_open: bool
    default: float | None
    doc: str

    def domain_text(self) -> str:
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"

    def check(self, value: np.ndarray) -> None:
        """Raise ValueError naming the parameter and the first bad value."""
        arr = np.asarray(value, dtype=np.float64)
        bad = ~np.isfinite(arr)
        if self.low_open:
            bad |= ~(arr > self.low)
        else:
            bad |= ~(arr >= self.low)
        if self.high_open:
            bad |= ~(arr < self.high)
        else:
            bad |= ~(arr <= self.high)
        if np.any(bad):
            first = float(arr.reshape(-1)[np.argmax(bad.reshape(-1))])
            raise ValueError(f"{self.name} must {self._rule()}, got {first!r}")

    def _rule(self) -> str:
        parts = []
        if not math.isinf(self.low):
            parts.append(f"> {self.low:g}" if self.low_open else f">= {self.low:g}")
        if not math.isinf(self.high):
            parts.append(f"< {self.high:g}" if self.high_open else f"<= {self.high:g}")
        if not parts:
            return "be a finite number"
        return "be " + " and ".join(parts)


DDM_PARAMS: tuple[Param, ...] = (
    Param("v", -math.inf, math.inf, True, True, None, "drift rate (1/s, unit diffusion)"),
    Param("a", 0.0, math.inf, True, True, None, "boundary separation (full, not half)"),
    Param("z", 0.0, 1.0, True, True, 0.5, "relative starting point, 0 = lower boundary"),
    Param("t0", 0.0, math.inf, False, True, 0.0, "non-decision time (s)"),
    Param("sv", 0.0, math.inf, False, True, 0.0, "across-trial s.d. of the drift"),
    Param("sz", 0.0, 1.0, False, True, 0.0, "width of the uniform start-point window"),
    Param("st", 0.0, math.inf, False, True, 0.0, "width of the uniform window [t0, t0 + st] (s)"),
)
PARAM_NAMES: tuple[str, ...] = tuple(p.name for p in DDM_PARAMS)


def validate_params(**values) -> dict[str, np.ndarray]:
    """Check every parameter against its domain and the start-point window against (0, 1).

    Returns a dict of float64 arrays (broadcast against each other).

    Raises
    ------
    ValueError
        Naming the first offending parameter and value.
    """
    out = {}
    for p in DDM_PARAMS:
        val = values.get(p.name, p.default)
        if val is None:
            raise ValueError(f"{p.name} ({p.doc}) must be given")
        try:
            arr = np.asarray(val, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{p.name} must be numeric, got {val!r}") from None
        p.check(arr)
        out[p.name] = arr
    unknown = set(values) - set(PARAM_NAMES)
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)}; expected {list(PARAM_NAMES)}")
    try:
        arrs = np.broadcast_arrays(*out.values())
    except ValueError:
        shapes = {k: v.shape for k, v in out.items()}
        raise ValueError(f"parameter shapes do not broadcast: {shapes}") from None
    out = dict(zip(out, arrs, strict=True))
    z, sz = out["z"], out["sz"]
    bad = sz > 2.0 * np.minimum(z, 1.0 - z) * (1.0 + 1e-12)
    if np.any(bad):
        i = np.argmax(bad.reshape(-1))
        raise ValueError(
            "sz must be <= 2*min(z, 1 - z) so that the start-point window [z - sz/2, z + sz/2] "
            f"lies in [0, 1], got sz={float(sz.reshape(-1)[i])!r} "
            f"with z={float(z.reshape(-1)[i])!r}"
        )
    return out


def validate_data(rt, response):
    """Response times (s) and responses as float64 / int64 arrays of the broadcast shape.

    Responses are coded 1 = upper boundary and 0 or -1 = lower boundary.
    """
    rt = np.asarray(rt, dtype=np.float64)
    if np.any(np.isnan(rt)):
        raise ValueError("rt must not contain NaN")
    resp = np.asarray(response)
    if resp.dtype == bool:
        resp = resp.astype(np.int64)
    try:
        resp_f = resp.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"response must be numeric (1 upper, 0 or -1 lower), got {response!r}"
        ) from None
    ok = (resp_f == 1) | (resp_f == 0) | (resp_f == -1)
    if not np.all(ok):
        first = resp_f.reshape(-1)[np.argmax(~ok.reshape(-1))]
        raise ValueError(f"response must be 1 (upper) or 0/-1 (lower), got {first!r}")
    try:
        rt, resp_f = np.broadcast_arrays(rt, resp_f)
    except ValueError:
        raise ValueError(f"rt shape {rt.shape} and response shape {resp_f.shape} do not "
                         "broadcast") from None
    return rt, (resp_f == 1).astype(np.int64)

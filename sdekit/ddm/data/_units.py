"""The unit of the RT column, and which RTs are missing-data codes rather than times."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Median RTs are a few hundred ms in any two-choice task: a median above 100 cannot be seconds and
# one below 10 cannot be milliseconds. Between the two we refuse to guess.
_MS_MEDIAN = 100.0
_S_MEDIAN = 10.0


@dataclass
class Unit:
    """The unit decided for the RTs, and what was assumed or doubted on the way."""

    ms: bool
    median: float
    undecidable: bool = False
    assumptions: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def decide_unit(values, codes, rt_unit):
    """Decide the unit on the RTs that are neither codes nor invalid.

    ``"auto"`` uses the median, which no outlier moves; an explicit unit is taken as given, with
    a note where the median contradicts it.
    """
    usable = np.isfinite(values) & ~np.isin(values, codes) & (values > 0)
    if not usable.any():
        # Nothing to decide on (the rules report why); an explicit unit still stands.
        if rt_unit == "auto":
            return Unit(ms=False, median=float("nan"))
        return Unit(ms=rt_unit == "ms", median=float("nan"), assumptions=_given(rt_unit))
    median = float(np.median(values[usable]))
    if rt_unit == "auto":
        if median >= _MS_MEDIAN:
            rt_max = float(np.max(values[usable]))
            return Unit(ms=True, median=median, assumptions=[
                f"rt in milliseconds detected: median rt {median:g} (max {rt_max:g}) > "
                f"{_MS_MEDIAN:g}, divided by 1000"])
        if median <= _S_MEDIAN:
            return Unit(ms=False, median=median, assumptions=[
                f"rt in seconds detected: median rt {median:g} < {_S_MEDIAN:g}"])
        return Unit(ms=False, median=median, undecidable=True)
    unit = Unit(ms=rt_unit == "ms", median=median, assumptions=_given(rt_unit))
    if not unit.ms and median > _MS_MEDIAN:
        unit.notes.append(f"rt_unit='s' but the median rt is {median:g}: are these milliseconds?")
    if unit.ms and median < _S_MEDIAN:
        unit.notes.append(f"rt_unit='ms' but the median rt is {median:g}: are these seconds?")
    return unit


def _given(rt_unit):
    ms = rt_unit == "ms"
    return [f"rt in {'milliseconds, divided by 1000' if ms else 'seconds'} (rt_unit given)"]


def code_hits(values, codes, unit_ms):
    """Boolean mask of RTs equal to a missing-data code."""
    hits = np.zeros(values.shape, dtype=bool)
    for c in codes:
        at = values == c
        if not at.any():
            continue
        if unit_ms and c > 0:
            # 999 ms is a plausible RT: a code only if it is far more frequent than its neighbours.
            near = (np.abs(values - c) <= 50) & ~at
            per_value = near.sum() / 100.0
            if at.sum() <= max(2.0, 5.0 * per_value):
                continue
        hits |= at
    return hits

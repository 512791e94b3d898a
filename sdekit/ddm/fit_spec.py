"""What a DDM fit estimates: which parameters are free, fixed, or depend on conditions.

:func:`parse_spec` turns the user's ``model``, ``free``, ``fixed``, ``depends_on`` and
``p_outlier`` arguments into one checked specification (a plain dict, so it travels to worker
processes), with errors that name the argument and the parameter at fault.
"""

from __future__ import annotations

import numpy as np

from sdekit.ddm._params import DDM_PARAMS, PARAM_NAMES

__all__ = ["SIMPLE", "FULL", "DEFAULTS", "parse_spec", "check_p_outlier", "check_columns",
           "formula_columns", "condition_columns", "is_formula"]

SIMPLE = ("v", "a", "z", "t0")
FULL = PARAM_NAMES
DEFAULTS = {p.name: p.default for p in DDM_PARAMS}


def is_formula(text):
    return any(ch in text for ch in "+~()*:") or text.strip() == "1"



def parse_spec(model, free, fixed, depends_on, p_outlier, columns):
    if model not in ("simple", "full"):
        raise ValueError(f"model must be 'simple' (v, a, z, t0) or 'full' (v, a, z, t0, sv, sz, "
                         f"st), got {model!r}")
    names = SIMPLE if model == "simple" else FULL
    fixed = dict(fixed or {})
    depends_on = dict(depends_on or {})
    for arg, keys in (("fixed", fixed), ("depends_on", depends_on),
                      ("free", [] if free is None else list(free))):
        bad = [k for k in keys if k not in PARAM_NAMES]
        if bad:
            raise ValueError(f"unknown parameter(s) {bad} in {arg}; DDM parameters are "
                             f"{', '.join(PARAM_NAMES)}")
    if free is None:
        free = [n for n in names if n not in fixed]
    else:
        free = list(free)
        extra = [n for n in free if n not in names]
        if extra:
            raise ValueError(f"{extra} in free are not parameters of the {model} DDM "
                             f"({', '.join(names)}); use model='full' for sv, sz, st")
        both = sorted(set(free) & set(fixed))
        if both:
            raise ValueError(f"{both} are both free and fixed; give each parameter once")
    for name, value in fixed.items():
        p = DDM_PARAMS[PARAM_NAMES.index(name)]
        try:
            p.check(np.asarray(value, dtype=float))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"fixed {name}: {exc}") from None
        fixed[name] = float(value)
    values = {}
    for name in PARAM_NAMES:
        if name in free:
            continue
        if name in fixed:
            values[name] = fixed[name]
        elif name in names and DEFAULTS[name] is None:
            raise ValueError(f"{name} is neither free nor fixed: add it to free or give "
                             f"fixed={{'{name}': value}}")
        else:
            values[name] = DEFAULTS[name] if DEFAULTS[name] is not None else 0.0
    if "sz" not in free and "z" in free and values["sz"] >= 1.0:
        raise ValueError(f"fixed sz={values['sz']} leaves no room for z")
    if "sz" not in free and "z" not in free and values["sz"] > 2 * min(values["z"],
                                                                      1 - values["z"]):
        raise ValueError("fixed sz must be <= 2*min(z, 1 - z)")
    deps = {}
    for name, spec in depends_on.items():
        if name not in free:
            raise ValueError(f"depends_on names {name!r}, which is not free (fixed parameters "
                             "take one value)")
        if name == "sz":
            raise ValueError("sz cannot depend on conditions (its range depends on z); let z "
                             "depend on them instead")
        if isinstance(spec, str) and is_formula(spec):
            if name == "z" and "sz" in free:
                raise ValueError("a formula for z needs a fixed sz (the start-point window's "
                                 "width is bounded by each trial's z); fix sz, or give z a "
                                 "column name (depends_on={'z': 'stim'})")
            deps[name] = ("formula", spec)
            continue
        cols = [spec] if isinstance(spec, str) else list(spec)
        check_columns(name, spec, cols, columns)
        deps[name] = ("levels", cols)
    p_outlier = check_p_outlier(p_outlier)
    return {"model": model, "free": [n for n in PARAM_NAMES if n in free], "fixed": values,
            "deps": deps, "p_outlier": p_outlier}



def check_p_outlier(p_outlier):
    """``None``, ``"free"`` or a float in (0, 1) (0 means none); ValueError otherwise."""
    if p_outlier is None or p_outlier == "free":
        return p_outlier
    try:
        p_outlier = float(p_outlier)
    except (TypeError, ValueError):
        raise ValueError(f"p_outlier must be None, a number in [0, 1) or 'free', got "
                         f"{p_outlier!r}") from None
    if not 0.0 <= p_outlier < 1.0:
        raise ValueError(f"p_outlier must lie in [0, 1), got {p_outlier}")
    return None if p_outlier == 0.0 else p_outlier



def check_columns(name, spec, cols, columns):
    """ValueError naming a ``depends_on`` column the data lack, with the closest match."""
    for c in cols:
        if c not in columns:
            import difflib

            close = difflib.get_close_matches(str(c), [str(x) for x in columns], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"depends_on={{'{name}': {spec!r}}}: the data have no column "
                             f"{c!r} (columns: {', '.join(map(str, columns))}){hint}")



def formula_columns(formula):
    import patsy

    desc = patsy.ModelDesc.from_formula(formula if "~" not in formula
                                        else formula.split("~", 1)[1])
    cols = set()
    for term in desc.rhs_termlist:
        for factor in term.factors:
            code = factor.code
            inner = code[2:-1].split(",")[0].strip() if code.startswith("C(") else code
            cols.add(inner)
    return sorted(cols)



def condition_columns(spec, columns):
    """The data columns the specification's conditions and formulas use, in order of use;
    ValueError naming a formula's missing column."""
    used = []
    for dep in spec["deps"].values():
        cols = dep[1] if dep[0] == "levels" else formula_columns(dep[1])
        for c in cols:
            if c not in columns:
                raise ValueError(f"depends_on formula {dep[1]!r} uses {c!r}, which is not a "
                                 f"column of the data (columns: {', '.join(map(str, columns))})")
            if c not in used:
                used.append(c)
    return used

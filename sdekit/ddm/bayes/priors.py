"""Links and default priors of the Bayesian DDM, one entry per parameter.

Every parameter is modelled on a link scale where it is unbounded: identity for ``v`` and
``t0``, log for ``a``, ``sv`` and ``st``, logit for ``z``, and logit of the fraction of its
largest value ``2 min(z, 1 - z)`` for ``sz`` (so every start-point window lies inside the
bounds). A hierarchical parameter has a group mean ``mu`` and a group spread ``sigma`` on that
scale, and each subject's value is ``inverse_link(mu + sigma * offset)`` with a standard-normal
offset (the non-centred form, which samples better with few trials per subject).

The defaults are weakly informative, centred where the meta-analysis of published DDM fits by
Matzke & Wagenmakers (2009) finds most estimates and broad enough to cover all of them; they
follow the informative priors of HDDM (Wiecki, Sofer & Frank 2013, Front. Neuroinform. 7:14),
translated to the link scales:

=========  ========  ===================  ===================  ======================
parameter  link      group mean ``mu``    group spread         HDDM's prior it follows
=========  ========  ===================  ===================  ======================
v          identity  Normal(2, 3)         HalfNormal(2)        v ~ Normal(2, 3)
a          log       Normal(0.29, 0.47)   HalfNormal(0.5)      a ~ Gamma(mean 1.5, sd 0.75)
z          logit     Normal(0, 0.5)       HalfNormal(0.5)      z ~ logit-Normal(0, 0.5)
t0         identity  Normal(0.4, 0.2)     HalfNormal(0.2)      t ~ Gamma(mean 0.4, sd 0.2)
sv         log       Normal(-0.5, 1)      (group only)         sv ~ HalfNormal(2)
sz         logit     Normal(-1.5, 1)      (group only)         sz ~ Beta(1, 3)
st         log       Normal(-2, 1)        (group only)         st ~ HalfNormal(0.3)
=========  ========  ===================  ===================  ======================

``Normal(0.29, 0.47)`` for log a is the log-normal with a's mean 1.5 and s.d. 0.75. Coefficients
of a formula's covariates (``v ~ 1 + theta``: the ``theta`` slope) get ``Normal(0, coef)`` on
the link scale, ``coef`` = 1 by default. A free contaminant probability ``p_outlier`` gets
``Beta(1, 19)`` (mean 0.05, the fixed value HSSM uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

__all__ = ["Prior", "DEFAULT_PRIORS", "LINKS", "GROUP_ONLY", "resolve_priors",
           "P_OUTLIER_PRIOR"]

#: Link of each parameter: the scale its group distribution and regressions live on.
LINKS = {"v": "identity", "a": "log", "z": "logit", "t0": "identity", "sv": "log",
         "sz": "logit", "st": "log"}

#: Parameters that are one value for the whole group unless the user asks otherwise, as in HDDM:
#: the across-trial variabilities are poorly identified per subject from a few hundred trials.
GROUP_ONLY = ("sv", "sz", "st")

#: Beta(alpha, beta) of a free contaminant probability.
P_OUTLIER_PRIOR = (1.0, 19.0)


@dataclass(frozen=True)
class Prior:
    """Prior of one parameter on its link scale.

    Attributes
    ----------
    loc, scale : float
        Normal prior of the group mean (or of the one value, for a group-only parameter, and of
        each subject's value in a non-hierarchical fit).
    spread : float
        Scale of the half-normal prior of the group spread (hierarchical parameters only).
    coef : float
        Scale of the normal priors (mean 0) of formula coefficients other than the intercept.
    """

    loc: float
    scale: float
    spread: float
    coef: float = 1.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"prior {f.name} must be a finite number, got {value!r}")
        for name in ("scale", "spread", "coef"):
            if getattr(self, name) <= 0:
                raise ValueError(f"prior {name} must be > 0, got {getattr(self, name)}")


DEFAULT_PRIORS = {
    "v": Prior(2.0, 3.0, 2.0),
    "a": Prior(0.29, 0.47, 0.5),
    "z": Prior(0.0, 0.5, 0.5),
    "t0": Prior(0.4, 0.2, 0.2),
    "sv": Prior(-0.5, 1.0, 0.5),
    "sz": Prior(-1.5, 1.0, 0.5),
    "st": Prior(-2.0, 1.0, 0.5),
}


def resolve_priors(priors, free):
    """The defaults with the user's overrides applied; ValueError naming an unknown parameter or
    field, or a prior on a parameter that is not free.

    ``priors`` maps a parameter name to a :class:`Prior` or to a dict of some of its fields
    (``{"a": {"loc": 0.0}}`` changes only the group mean's location).
    """
    out = dict(DEFAULT_PRIORS)
    for name, given in (priors or {}).items():
        if name not in DEFAULT_PRIORS:
            raise ValueError(f"priors: unknown parameter {name!r}; DDM parameters are "
                             f"{', '.join(DEFAULT_PRIORS)}")
        if name not in free:
            raise ValueError(f"priors: {name} is not free in this model (free: "
                             f"{', '.join(free)}); a fixed parameter takes no prior")
        if isinstance(given, Prior):
            out[name] = given
            continue
        if not isinstance(given, dict):
            raise ValueError(f"priors[{name!r}] must be a Prior or a dict of its fields (loc, "
                             f"scale, spread, coef), got {type(given).__name__}")
        known = {f.name for f in fields(Prior)}
        bad = sorted(set(given) - known)
        if bad:
            raise ValueError(f"priors[{name!r}]: unknown field(s) {bad}; a prior has "
                             f"{', '.join(sorted(known))}")
        try:
            out[name] = replace(out[name], **given)
        except ValueError as exc:
            raise ValueError(f"priors[{name!r}]: {exc}") from None
    return out

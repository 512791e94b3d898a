"""What fast outliers do to a DDM fit, in words: before the fit, and at its maximum.

The rule that flags them lives with the data (:mod:`sdekit.ddm.data._outliers`); here are the
fitter's messages. Without a contaminant process every RT must exceed ``t0``, so a trial faster
than any plausible non-decision time caps ``t0`` below it; the two standard remedies are a
contaminant mixture (``p_outlier``) or a cut below which RTs are excluded (``min_rt``). Neither
is applied unless asked for.
"""

from __future__ import annotations

from sdekit.ddm.data import FAST_RT_FLOOR, describe_rows

#: The two remedies, spelt for Python and for the command line.
REMEDIES = (f"fit a contaminant mixture (p_outlier='free'; on the command line --p-outlier free) "
            f"or exclude RTs below a cut (min_rt={FAST_RT_FLOOR:g}; --min-rt {FAST_RT_FLOOR:g}); "
            "neither is applied unless asked for")


def fast_outlier_warning(fast, word, t0_free):
    """The warning before a fit without contaminants on a unit with fast outliers."""
    n = len(fast)
    fastest = min(rt for _, rt in fast)
    what = (f"{n} RT{'s' if n > 1 else ''} faster than a plausible non-decision time (below "
            f"{FAST_RT_FLOOR:g} s, or far below the bulk of the RTs): {describe_rows(fast, word)}")
    if not t0_free:
        return f"{what}; the DDM at the fixed t0 must explain {'them' if n > 1 else 'it'}"
    return (f"{what}. Without a contaminant process t0 must lie below every RT, so "
            f"{'these trials cap' if n > 1 else 'this trial caps'} t0 below {fastest:.3g} s")


def fast_outlier_messages(prob, theta, held):
    """Notes for the result: what the fast outliers did to t0 at the maximum, and the remedies.

    Empty where the unit has none, where a contaminant mixture accounts for them (the summary
    still lists them), or where t0 is not a single free parameter.
    """
    fast = list(prob.pl.fast)
    if not fast or prob.pl.spec["p_outlier"] is not None:
        return []
    word = prob.pl.row_word
    slots = [j for j, b in enumerate(prob.base) if b == "t0" and prob.kind[j] != "coef"]
    if len(slots) != 1:
        return []
    j = slots[0]
    fastest_row, fastest = min(fast, key=lambda item: item[1])
    if j in held:
        where = (f"t0 sits at 0, the lower end of the range [0, {fastest:.3g} s) that the RT at "
                 f"{word} {fastest_row} leaves it: a constrained maximum, shaped by a trial "
                 "no plausible non-decision time explains")
    else:
        where = (f"t0 = {theta[j]:.3g} s is held below the RT of {fastest:.3g} s at {word} "
                 f"{fastest_row}, a trial faster than any plausible non-decision time")
    return [f"{where}; to fit t0 to the bulk of the data, {REMEDIES}"]

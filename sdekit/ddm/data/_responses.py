"""The response column of the canonical layout, from choices or from accuracy (and stimulus)."""

from __future__ import annotations

import numpy as np


def choice_response(values, column):
    """Responses coded by boundary, 1/0 (HDDM) or 1/-1 (HSSM): the 1/0 codes and the coding."""
    if (values == -1).any():
        coding = f"response {column!r} coded -1/1 (HSSM): -1 mapped to 0 (lower boundary)"
    else:
        coding = f"response {column!r} coded 1/0 (HDDM): 1 = upper boundary, 0 = lower"
    return (values == 1).astype(np.int64), coding


def accuracy_response(accuracy, correct, stimulus_values=None, stimulus=None):
    """Responses from accuracy (1 correct, 0 error), with a stimulus column for stimulus coding.

    Without a stimulus the upper boundary is the correct response; with one it is the response to
    stimulus 1, so ``response = stimulus if correct else 1 - stimulus``.
    """
    if stimulus is None:
        coding = (f"accuracy coding from {correct!r}: upper boundary = correct response, lower = "
                  "error (drift is then towards the correct answer; z measures a bias towards "
                  "being correct, usually fixed at 0.5)")
        return (accuracy == 1).astype(np.int64), coding
    stim1 = stimulus_values == 1
    resp = np.where(accuracy == 1, stim1, ~stim1).astype(np.int64)
    coding = (f"stimulus coding with stimulus column {stimulus!r}: response = stim if correct "
              f"else 1 - stim (upper boundary = the response to stimulus 1, from {correct!r})")
    return resp, coding

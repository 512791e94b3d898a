"""An example behavioural data set simulated by sdekit with known parameters.

Six subjects, two conditions (``stim`` = ``"easy"`` / ``"hard"``, the drift rate depending on
it), 200 trials per subject and condition. Parameters follow HDDM's convention: ``a`` is the full
boundary separation, ``z`` the relative starting point, ``t0`` the non-decision time in seconds
and the diffusion coefficient is 1. The bundled copy is ``sdekit/data/example_ddm.csv`` (RTs
rounded to 0.1 ms) with its true parameters in ``sdekit/data/example_ddm_truth.csv``;
``python -m sdekit.ddm.example DIR`` writes both files again.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["make_example", "load_example", "example_path", "EXAMPLE_FILE", "TRUTH_FILE"]

EXAMPLE_FILE = "example_ddm.csv"
TRUTH_FILE = "example_ddm_truth.csv"

#: Group-level means and between-subject standard deviations of the true parameters.
POPULATION = {
    "v_easy": (1.5, 0.25),
    "v_hard": (0.6, 0.15),
    "a": (1.5, 0.15),
    "t0": (0.3, 0.03),
}
CONDITIONS = ("easy", "hard")
RT_DECIMALS = 4


def _true_parameters(rng, n_subjects):
    rows = []
    for s in range(n_subjects):
        draw = {k: rng.normal(mu, sd) for k, (mu, sd) in POPULATION.items()}
        # Rounded so that the truth file holds exactly the values that were simulated.
        draw = {k: round(float(v), 3) for k, v in draw.items()}
        rows += [
            (s, "v", "easy", draw["v_easy"]),
            (s, "v", "hard", draw["v_hard"]),
            (s, "a", None, draw["a"]),
            (s, "z", None, 0.5),
            (s, "t0", None, draw["t0"]),
        ]
    return pd.DataFrame(rows, columns=["subj_idx", "parameter", "condition", "value"])


def make_example(seed=2024, n_subjects=6, n_trials=200):
    """Simulate the example data set.

    Parameters
    ----------
    seed : int
        Fixes the subjects' parameters, the trial order and every simulated path.
    n_subjects : int
        Number of subjects.
    n_trials : int
        Trials per subject and condition.

    Returns
    -------
    data : pandas.DataFrame
        One row per trial: ``subj_idx``, ``stim`` (``"easy"`` / ``"hard"``), ``rt`` (seconds),
        ``response`` (1 upper, 0 lower; with positive drifts the upper boundary is the correct
        response).
    truth : pandas.DataFrame
        The true parameters, tidy: ``subj_idx``, ``parameter`` (``v``, ``a``, ``z``, ``t0``),
        ``condition`` (``"easy"`` / ``"hard"`` for ``v``, missing for the others), ``value``.

    Notes
    -----
    First-passage times come from :func:`sdekit.sde.solve` with the Brownian-bridge crossing
    correction, exact for constant drift and boundaries up to the last step of 1 ms; trials
    still undecided at 20 s would be dropped (with these parameters the chance is below 1e-12).
    """
    from sdekit.sde import Boundaries, DriftDiffusion, solve

    rng = np.random.default_rng(seed)
    truth = _true_parameters(rng, n_subjects)
    frames = []
    for s in range(n_subjects):
        par = truth[truth.subj_idx == s]
        value = dict(zip(par.parameter + par.condition.fillna(""), par.value, strict=True))
        stim = rng.permutation(np.repeat(np.array(CONDITIONS, dtype=object), n_trials))
        v = np.where(stim == "easy", value["veasy"], value["vhard"])
        a, z, t0 = value["a"], value["z"], value["t0"]
        n = v.size
        sol = solve(
            DriftDiffusion(), x0=z * a, times=[0.0, 20.0], dt=1e-3, n_paths=n,
            params=np.column_stack([v, np.ones(n)]),
            boundaries=Boundaries(upper=a, lower=0.0),
            # One engine seed per subject, derived from the data set's seed.
            seed=int(np.random.SeedSequence([seed, s]).generate_state(1)[0]),
            save="final",
        )
        done = sol.boundary != 0
        frames.append(pd.DataFrame({
            "subj_idx": s,
            "stim": stim[done],
            "rt": t0 + sol.first_passage_time[done],
            "response": (sol.boundary[done] == 1).astype(np.int64),
        }))
    data = pd.concat(frames, ignore_index=True)
    data["stim"] = data["stim"].astype(str)
    return data, truth


def load_example():
    """The bundled example data set and its true parameters.

    Returns
    -------
    data : pandas.DataFrame
        Canonical data (validated by :func:`sdekit.ddm.data.from_dataframe`): ``rt``,
        ``response``, ``subj_idx``, ``stim``.
    truth : pandas.DataFrame
        ``subj_idx``, ``parameter``, ``condition``, ``value`` as from :func:`make_example`.
    """
    from sdekit.ddm.data import from_dataframe

    files = resources.files("sdekit") / "data"
    with resources.as_file(files / EXAMPLE_FILE) as path:
        raw = pd.read_csv(path)
    with resources.as_file(files / TRUTH_FILE) as path:
        truth = pd.read_csv(path)
    data = from_dataframe(raw, conditions=["stim"], source=EXAMPLE_FILE)
    return data, truth


def example_path():
    """Path of the bundled example CSV (a real file for an installed or source package)."""
    return Path(str(resources.files("sdekit") / "data" / EXAMPLE_FILE))


def write_example(directory, seed=2024):
    """Write the example data and its truth as CSV files into ``directory``."""
    directory = Path(directory)
    data, truth = make_example(seed)
    data.round({"rt": RT_DECIMALS}).to_csv(directory / EXAMPLE_FILE, index=False)
    truth.to_csv(directory / TRUTH_FILE, index=False)
    return directory / EXAMPLE_FILE, directory / TRUTH_FILE


if __name__ == "__main__":  # pragma: no cover
    for written in write_example(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(written)

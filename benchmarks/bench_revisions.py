"""The same workloads on two revisions of sdekit, side by side in one run: speed and numbers.

A refactor must leave both the speed and the numbers alone. This script checks out two
revisions into temporary git worktrees (or takes source trees you name), then times a fixed set
of workloads through the public API in each, alternating between the two trees round by round so
that load on the machine falls on both alike. Each workload also returns a fingerprint of its
result (a sum of log-densities, a fit's log-likelihood and estimates, a sample's moments), and the
table says whether the two revisions agree on it to the last digit.

Run from the repository root::

    python benchmarks/bench_revisions.py --before main~5 --after HEAD
    python benchmarks/bench_revisions.py --before v0.1 --after .      # the working tree itself
    python benchmarks/bench_revisions.py --only fit_simple --only logpdf_full --rounds 5

Printed: per workload, the median seconds per call in each tree, the ratio after / before, and
``same`` when the fingerprints are identical (``DIFF`` with the largest relative difference
otherwise). Compilation is excluded: each tree's process runs every workload once untimed first
(Numba's on-disk cache lives in each tree's ``__pycache__``, so the first run of a new tree
compiles everything).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOADS = {}


def workload(func):
    """Register a workload: a function that sets up, and returns (call, fingerprint)."""
    WORKLOADS[func.__name__] = func
    return func


def _trials(n, seed, **params):
    from sdekit import ddm

    return ddm.DDM(**params).rvs(n, seed=seed)


_FULL = dict(v=1.0, a=1.5, z=0.5, t0=0.3, sv=0.8, sz=0.2, st=0.15)
_SIMPLE = dict(v=1.0, a=1.5, z=0.5, t0=0.3)


@workload
def logpdf_simple():
    """ddm.logpdf of the simple DDM on 10,000 trials."""
    from sdekit import ddm

    df = _trials(10_000, 1, **_SIMPLE)
    rt, resp = df["rt"].to_numpy(), df["response"].to_numpy()

    def call():
        return ddm.logpdf(rt, resp, **_SIMPLE)

    return call, lambda out: [float(out.sum())]


@workload
def frozen_logpdf_simple():
    """DDM(...).logpdf (the frozen distribution) of the simple DDM on 10,000 trials."""
    from sdekit import ddm

    df = _trials(10_000, 1, **_SIMPLE)
    rt, resp = df["rt"].to_numpy(), df["response"].to_numpy()
    model = ddm.DDM(**_SIMPLE)

    def call():
        return model.logpdf(rt, resp)

    return call, lambda out: [float(out.sum())]


@workload
def logpdf_full():
    """ddm.logpdf of the full DDM (sv, sz, st) on 2,000 trials."""
    from sdekit import ddm

    df = _trials(2_000, 2, **_FULL)
    rt, resp = df["rt"].to_numpy(), df["response"].to_numpy()

    def call():
        return ddm.logpdf(rt, resp, **_FULL)

    return call, lambda out: [float(out.sum())]


@workload
def grad_full():
    """ddm.grad_logpdf of the full DDM on 1,000 trials."""
    from sdekit import ddm

    df = _trials(1_000, 3, **_FULL)
    rt, resp = df["rt"].to_numpy(), df["response"].to_numpy()

    def call():
        return ddm.grad_logpdf(rt, resp, **_FULL)

    def fingerprint(out):
        values = out.values() if isinstance(out, dict) else [out]
        return [float(sum(float(v.sum()) for v in values))]

    return call, fingerprint


@workload
def cdf_full():
    """ddm.cdf of the full DDM on 1,000 times per response."""
    import numpy as np

    from sdekit import ddm

    t = np.linspace(0.2, 3.0, 1_000)

    def call():
        return ddm.cdf(t, 1, **_FULL) + ddm.cdf(t, 0, **_FULL)

    return call, lambda out: [float(out.sum())]


def _fit_fingerprint(res):
    return [float(res.llf), *map(float, res.params.to_numpy())]


@workload
def fit_simple():
    """ddm.fit of the simple DDM to 300 trials."""
    from sdekit import ddm

    df = _trials(300, 4, **_SIMPLE)

    def call():
        return ddm.fit(df, model="simple", progress=False)

    return call, _fit_fingerprint


@workload
def fit_full():
    """ddm.fit of the full DDM to 300 trials."""
    from sdekit import ddm

    df = _trials(300, 5, **_FULL)

    def call():
        return ddm.fit(df, model="full", progress=False)

    return call, _fit_fingerprint


@workload
def fit_example():
    """ddm.fit of the bundled example (6 subjects, v by stimulus): `sdekit fit --example`."""
    import numpy as np

    from sdekit import ddm
    from sdekit.ddm.example import example_path

    path = example_path()

    def call():
        return ddm.fit(path, depends_on={"v": "stim"}, by="subj_idx", progress=False, n_jobs=1)

    def fingerprint(res):
        return [float(np.sum(res.llf)), float(np.nansum(res.params.to_numpy()))]

    return call, fingerprint


@workload
def fit_collapsing():
    """ddm.fit of a DecisionModel (leaky drift, Weibull collapse) to 400 trials, Fokker–Planck."""
    from sdekit import ddm

    model = ddm.DecisionModel(drift=ddm.Drift.leaky(), bound=ddm.Bound.weibull(shape=3.0))
    truth = dict(v=1.2, leak=0.5, a=2.0, collapse=0.6, scale=1.0, z=0.5, t0=0.3)
    trials = model.simulate(400, truth, seed=1)

    def call():
        return ddm.fit(trials, model=model, fixed={"z": 0.5, "leak": 0.5}, progress=False)

    return call, _fit_fingerprint


@workload
def solve_ou():
    """sdekit.solve: Ornstein–Uhlenbeck, 100,000 paths x 1,000 steps, final states."""
    import sdekit as sk

    ou = sk.OrnsteinUhlenbeck(theta=1.0, mu=0.0, sigma=1.0)

    def call():
        return sk.solve(ou, 0.0, [0.0, 1.0], dt=1e-3, n_paths=100_000, seed=1, save="final")

    return call, lambda sol: [float(sol.states.sum()), float((sol.states ** 2).sum())]


@workload
def solve_bounded():
    """sdekit.solve: bounded drift diffusion, 100,000 trials, dt = 1e-3, bridge-corrected."""
    import sdekit as sk

    def call():
        return sk.solve(sk.DriftDiffusion(v=1.0), 0.75, [0.0, 10.0], dt=1e-3, n_paths=100_000,
                        boundaries=sk.Boundaries(upper=1.5, lower=0.0), seed=2, save="final")

    return call, lambda sol: [float(sol.first_passage_time.sum()), float(sol.boundary.sum())]


@workload
def score_sample():
    """score.sample: reverse SDE of a 2-D Gaussian mixture's exact score, 20,000 x 100 steps."""
    from sdekit import score

    sde = score.VPSDE()
    target = score.GaussianMixture([[-2.0, 0.0], [2.0, 1.0]], 0.25)

    def call():
        return score.sample(sde, target.score(sde), 20_000, steps=100, seed=0)

    def fingerprint(out):
        x = getattr(out, "samples", out)
        return [float(x.sum()), float((x ** 2).sum())]

    return call, fingerprint


def _run_workloads(names, repeats):
    """In a tree's own process: warm up, time each workload, print one JSON line."""
    out = {}
    for name in names:
        call, fingerprint = WORKLOADS[name]()
        result = call()  # compiles, and fills Numba's cache on a tree's first run
        times = []
        # Fast workloads repeat until they have taken 0.3 s, so their median is not noise.
        while len(times) < repeats or (sum(times) < 0.3 and len(times) < 200):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out[name] = {"times": times, "fingerprint": fingerprint(result)}
    print(json.dumps(out))


def _tree(rev, scratch):
    """A source tree for ``rev``: a directory as it is, or a detached worktree of a revision."""
    path = Path(rev)
    if path.is_dir() and (path / "sdekit").is_dir():
        return path.resolve()
    target = Path(scratch) / rev.replace("/", "_").replace("~", "-").replace("^", "-")
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(target), rev], check=True)
    return target


def _in_tree(tree, names, repeats):
    env = dict(os.environ, PYTHONPATH=str(tree))
    script = Path(__file__).resolve()
    proc = subprocess.run([sys.executable, str(script), "--worker", "--repeats", str(repeats),
                           *[f"--only={n}" for n in names]], cwd=tree, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"workloads failed in {tree}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _agreement(a, b):
    if a == b:
        return "same"
    worst = max(abs(x - y) / max(abs(x), abs(y), 1e-300) for x, y in zip(a, b, strict=False))
    return f"DIFF {worst:.1e}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default="main", help="revision or source tree (default: main)")
    ap.add_argument("--after", default=".", help="revision or source tree (default: this tree)")
    ap.add_argument("--only", action="append", choices=sorted(WORKLOADS), help="a workload "
                    "(repeatable; default: all)")
    ap.add_argument("--rounds", type=int, default=3, help="alternations between the trees")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per workload per "
                    "round, at least (fast ones repeat for 0.3 s)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = args.only or list(WORKLOADS)
    if args.worker:
        _run_workloads(names, args.repeats)
        return 0

    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    scratch = tempfile.mkdtemp(prefix="sdekit-revisions-")
    made = []
    try:
        trees = {}
        for label, rev in (("before", args.before), ("after", args.after)):
            tree = _tree(rev, scratch)
            if str(tree).startswith(scratch):
                made.append(tree)
            trees[label] = tree
            print(f"{label}: {rev} -> {tree}")
        times = {label: {n: [] for n in names} for label in trees}
        prints = {}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for label in order:
                for name, row in _in_tree(trees[label], names, args.repeats).items():
                    times[label][name].extend(row["times"])
                    prints.setdefault(label, {})[name] = row["fingerprint"]
        print(f"load average after: {os.getloadavg()[0]:.2f}\n")
        print("| workload | before (s) | after (s) | after / before | numbers |")
        print("|---|---|---|---|---|")
        for name in names:
            b = sorted(times["before"][name])[len(times["before"][name]) // 2]
            a = sorted(times["after"][name])[len(times["after"][name]) // 2]
            same = _agreement(prints["before"][name], prints["after"][name])
            print(f"| {name} | {b:.4g} | {a:.4g} | {a / b:.2f} | {same} |")
    finally:
        for tree in made:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

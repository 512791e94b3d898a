"""DDM densities and exact sampling: sdekit side by side with hddm-wfpt and PyDDM, in one run.

Run with a Python that has sdekit and the peers installed (peers belong in their own virtual
environment, never as sdekit dependencies)::

    python -m venv peers && peers/bin/pip install numba numpy scipy pandas hddm-wfpt pyddm
    peers/bin/pip install -e .
    peers/bin/python benchmarks/bench_ddm_density.py [--n 200000] [--quick]

Printed: nanoseconds per density (medians of repeats, all threads numba is allowed), the ratio
peer / sdekit, and each peer's largest deviation from sdekit's log-density (which the tests hold
to 1e-12 relative against 50-digit mpmath values). Peers that are not installed are skipped.

Conventions mapped to the peers: hddm-wfpt takes the full separation ``a`` and codes the response
in the sign of ``x`` (positive = upper); its non-decision window is centred on its ``t``, so it
gets ``t = t0 + st / 2``. HSSM calls ``wiener_logp_array`` with ``err=1e-8`` and the defaults
``n_st=10, n_sz=10, use_adaptive=1, simps_err=1e-8``: those are "HSSM's settings" below. PyDDM's
bound ``B`` is half the separation and its analytical solver evaluates the density on a time
grid of step ``dt``.
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from sdekit.ddm import density as D
from sdekit.ddm.sampling import _mean_dec, sample_ddm
from sdekit.sde.random import next_normal, seed_state


def _best(f, repeats=7, min_time=0.2):
    f()
    times = []
    t_start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - t_start < min_time:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
        if len(times) >= 50:
            break
    return float(np.median(times))


def _import_wfpt():
    try:
        from hddm_wfpt import wfpt  # noqa: F401

        if hasattr(wfpt, "wiener_logp_array"):
            return wfpt
    except ImportError:
        pass
    try:
        import wfpt

        return wfpt
    except ImportError:
        return None


@numba.njit(cache=True, parallel=True)
def _euler_ddm(seed, v, a, z, t0, dt, rt, resp):
    """Hand-written Euler-Maruyama DDM on sdekit's per-trial streams (the baseline that exact
    sampling replaces)."""
    sq = math.sqrt(dt)
    for i in numba.prange(rt.shape[0]):
        state = seed_state(seed, i)
        x = z * a
        t = 0.0
        while True:
            state, g = next_normal(state)
            x += v * dt + sq * g
            t += dt
            if x >= a:
                resp[i] = 1
                break
            if x <= 0.0:
                resp[i] = 0
                break
        rt[i] = t0 + t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="trials for the simple-DDM timings")
    ap.add_argument("--quick", action="store_true", help="fewer trials everywhere")
    args = ap.parse_args()
    n = 20_000 if args.quick else args.n
    rows = []

    def row(what, peer_ns, ours_ns, note=""):
        rows.append((what, peer_ns, ours_ns, note))

    v, a, z, t0 = 1.0, 1.5, 0.5, 0.3
    rt, resp = sample_ddm(n, v=v, a=a, z=z, t0=t0, seed=0)
    x_signed = np.where(resp == 1, rt, -rt)
    out = np.empty(n)

    ours_arr = _best(lambda: D.logpdf_simple_array(rt, resp, v, a, z, t0, out)) / n * 1e9
    ours_sum = _best(lambda: D.loglik_simple(rt, resp, v, a, z, t0)) / n * 1e9
    ours_lp = out.copy()
    print(f"sdekit: {numba.get_num_threads()} numba threads, n = {n}")
    print(f"  simple-DDM log-density array: {ours_arr:8.1f} ns/density")
    print(f"  simple-DDM log-likelihood sum: {ours_sum:8.1f} ns/density")

    wfpt = _import_wfpt()
    if wfpt is not None:
        one = np.ones(n)
        zero = np.zeros(n)
        for err, label in ((1e-4, "default 1e-4"), (1e-8, "HSSM 1e-8"),
                           (1e-15, "tightest 1e-15")):
            lp = np.empty(n)

            def run_arr(err=err, lp=lp):
                lp[:] = wfpt.wiener_logp_array(x_signed, v * one, zero, a * one, z * one, zero,
                                               t0 * one, zero, err)

            ns = _best(run_arr) / n * 1e9
            dev = np.max(np.abs(lp - ours_lp))
            row(f"hddm-wfpt wiener_logp_array err={label}", ns, ours_arr,
                f"max |dlogp| vs sdekit {dev:.1e}")
            ns = _best(lambda err=err: wfpt.wiener_like(x_signed, v, 0.0, a, z, 0.0, t0, 0.0,
                                                        err)) / n * 1e9
            row(f"hddm-wfpt wiener_like (sum) err={label}", ns, ours_sum)
        ns = _best(lambda: wfpt.pdf_array(x_signed, v, 0.0, a, z, 0.0, t0, 0.0, 1e-4, 1)) / n * 1e9
        row("hddm-wfpt pdf_array(logp=1) default err", ns, ours_arr)
    else:
        print("  hddm-wfpt not installed: skipped")

    try:
        import pyddm

        model = pyddm.Model(drift=pyddm.DriftConstant(drift=v), noise=pyddm.NoiseConstant(noise=1),
                            bound=pyddm.BoundConstant(B=a / 2), IC=pyddm.ICPointSourceCenter(),
                            overlay=pyddm.OverlayNonDecision(nondectime=t0), dt=0.001, dx=0.001,
                            T_dur=float(np.ceil(rt.max())) + 1)
        sol_time = _best(model.solve_analytical, repeats=5)
        n_grid = 2 * int(round(model.T_dur / model.dt))
        row("PyDDM solve_analytical (dt=1e-3), per grid density", sol_time / n_grid * 1e9,
            ours_arr, f"{n_grid} grid densities per solve")
        samp = pyddm.Sample.from_numpy_array(np.column_stack([rt, resp]), [])
        loss_time = _best(lambda: pyddm.get_model_loss(model, samp, pyddm.LossLikelihood),
                          repeats=3)
        row("PyDDM likelihood of the sample (solve + lookup), per trial", loss_time / n * 1e9,
            ours_sum)
    except ImportError:
        print("  pyddm not installed: skipped")

    # ---- full DDM at HSSM's settings
    nf = 2_000 if args.quick else 20_000
    sv, sz, st = 0.8, 0.2, 0.15
    rtf, respf = sample_ddm(nf, v=v, a=a, z=z, t0=t0, sv=sv, sz=sz, st=st, seed=1)
    outf = np.empty(nf)
    pars = [np.array([p]) for p in (v, a, z, t0, sv, sz, st)]
    ours_full = _best(lambda: D.logpdf_array(rtf, respf, *pars, outf), repeats=5) / nf * 1e9
    print(f"  full-DDM log-density (sv={sv}, sz={sz}, st={st}): {ours_full:8.1f} ns/density")
    if wfpt is not None:
        nh = min(nf, 2_000)
        xs = np.where(respf[:nh] == 1, rtf[:nh], -rtf[:nh])
        o = np.ones(nh)
        lp = np.empty(nh)

        def run_full():
            lp[:] = wfpt.wiener_logp_array(xs, v * o, sv * o, a * o, z * o, sz * o,
                                           (t0 + st / 2) * o, st * o, 1e-8, n_st=10, n_sz=10,
                                           use_adaptive=1, simps_err=1e-8)

        ns = _best(run_full, repeats=3) / nh * 1e9
        rel = np.max(np.abs(np.expm1(lp - outf[:nh])))
        row("hddm-wfpt full DDM, HSSM's settings", ns, ours_full,
            f"max rel. deviation from sdekit {rel:.1e}")

    # ---- exact sampling
    ns_samp = 10**5 if args.quick else 10**6
    ts = _best(lambda: sample_ddm(ns_samp, v=v, a=a, z=z, t0=t0, seed=2), repeats=3)
    tf = _best(lambda: sample_ddm(ns_samp, v=v, a=a, z=z, t0=t0, sv=sv, sz=sz, st=st, seed=2),
               repeats=3)
    ne = 10**5
    ert = np.empty(ne)
    eresp = np.empty(ne, dtype=np.int64)
    te = _best(lambda: _euler_ddm(np.uint64(3), v, a, z, t0, 1e-3, ert, eresp), repeats=3)
    print(f"  exact sampling, simple DDM: {ns_samp / ts:12.3e} trials/s")
    print(f"  exact sampling, full DDM:   {ns_samp / tf:12.3e} trials/s")
    print(f"  Euler-Maruyama dt=1e-3 (numba, same streams): {ne / te:12.3e} trials/s")

    # 10^6-trial check of the exact sampler against closed forms
    rts, rs = sample_ddm(ns_samp, v=v, a=a, z=z, t0=0.0, seed=4)
    pu = float(D.prob_upper(v, a, z))
    m_up, m_lo = _mean_dec(1, v, a, z), _mean_dec(0, v, a, z)
    z_p = (rs.mean() - pu) / math.sqrt(pu * (1 - pu) / ns_samp)
    tu = rts[rs == 1]
    z_m = (tu.mean() - m_up) / (tu.std() / math.sqrt(tu.size))
    print(f"  {ns_samp} exact trials: P(upper) {rs.mean():.5f} vs {pu:.5f} ({z_p:+.2f} SE); "
          f"mean T|upper {tu.mean():.5f} vs {m_up:.5f} ({z_m:+.2f} SE)")
    bias = ert.mean() - (t0 + pu * m_up + (1 - pu) * m_lo)
    print(f"  Euler-Maruyama dt=1e-3 mean RT bias: {bias:+.4f} s")

    print()
    print(f"| {'what':62s} | {'peer ns':>10s} | {'sdekit ns':>9s} | {'ratio':>7s} | note")
    print(f"|{'-' * 64}|{'-' * 12}|{'-' * 11}|{'-' * 9}|------")
    for what, peer, ours, note in rows:
        print(f"| {what:62s} | {peer:10.1f} | {ours:9.1f} | {peer / ours:6.1f}x | {note}")
    print(f"| {'Euler-Maruyama dt=1e-3 vs exact sampling (trials/s)':62s} | "
          f"{ne / te:10.3e} | {ns_samp / ts:9.3e} | {(ns_samp / ts) / (ne / te):6.1f}x |")


if __name__ == "__main__":
    main()

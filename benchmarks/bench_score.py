"""sdekit's samplers against diffusers' schedulers and torchsde, with the same exact score.

Target: a 16-D Gaussian (variances 0.2 to 2, means -1 to 1) under the VP SDE (beta 0.1 to 20).
Its score is exact at every t (``GaussianMixture.score``), so every error below is the sampler's.
Error: W2^2 between the sample's Gaussian fit and the exact law at t_eps = 1e-3, computed
exactly; the Monte Carlo floor of n exact draws is printed with it. All samplers start from the
same prior draws (common random numbers).

How the peers are configured, fairly for vector data:

* diffusers: ``trained_betas`` from the same continuous schedule, alpha_bar_i = alpha((i+1)/1000)^2
  so discrete timestep i is continuous time (i+1)/1000; ``clip_sample=False`` and no thresholding
  (image defaults that would clip vector data); ``timestep_spacing="trailing"`` so the first step
  starts at t = 1 like sdekit's; DDIM with ``set_alpha_to_one=False`` so it ends at t_eps. The
  model returns the exact noise eps = -sigma(t) score(t, x) at t = (timestep + 1)/1000 (Euler and
  Heun pass fractional timesteps, which the continuous score handles exactly).
* torchsde: the same reverse-time SDE as a ``torchsde`` SDE class, ``method="euler"`` with
  ``dt`` fixed, default Brownian motion.

VE predictor–corrector against diffusers' ``ScoreSdeVeScheduler`` (``--parts ve``): the same
16-D Gaussian under the VE SDE (sigma_min 0.01, sigma_max 50, t_eps 1e-5), one Langevin
corrector step and one predictor step per step (two score evaluations), signal-to-noise ratio
0.16 for both (diffusers' default is 0.15, Song et al.'s VE setting 0.16). diffusers' loop is
its pipeline's: ``step_correct`` then ``step_pred`` at each of its timesteps, the model being
the exact score at the scheduler's continuous timestep t (whose sigma_min (sigma_max /
sigma_min)^t is the noise level the scheduler passes), and the output is the last
``prev_sample_mean`` (the pipeline's noise-free last step). Common random numbers: both start
from the same prior draws and diffusers' ``randn_tensor`` is replaced, for this scheduler only,
by draws from the per-path streams that sdekit's corrector and reverse-diffusion predictor
consume, in the same order, so the two samplers see the same noise; the median distance
between their samples is printed as a check.

Run with sdekit, diffusers and torchsde installed in one environment (never as sdekit
dependencies), e.g. a virtual environment with ``pip install torch==2.13.0`` then
``pip install -e . diffusers torchsde``:

    python benchmarks/bench_score.py [--n 10000] [--timing-n 100000]
        [--parts accuracy ve timing network]

``network``: reverse-SDE sampling with a trained score network (an MLP on two moons) on sdekit's
torch backend against torchsde's Euler loop with the same network and prior draws.
"""

from __future__ import annotations

import argparse
import inspect
import time

import numpy as np
import torch

from sdekit.score import VESDE, VPSDE, GaussianMixture, sample, w2_floor, w2_to_gaussian
from sdekit.score.targets import gm_score_torch
from sdekit.sde.random import Streams, child_seed

LAM = np.linspace(0.2, 2.0, 16)
MEAN = np.linspace(-1.0, 1.0, 16)
BUDGETS = (10, 20, 50, 100, 1000)
N_TRAIN = 1000


def _setup():
    sde = VPSDE().with_dim(16)
    gm = GaussianMixture(MEAN, LAM[None])
    score = gm.score(sde)
    law = gm.perturbed(sde, sde.t_eps)
    return sde, gm, score, law


def _eps_model(sde, score):
    q = torch.as_tensor(score.params[None, :])

    def model(x, timestep):
        t = (float(timestep) + 1.0) / N_TRAIN
        _, sigma = sde.marginal(min(t, sde.t_end))
        return -sigma * gm_score_torch(min(t, sde.t_end), x, q)

    return model


def _diffusers_schedulers(sde):
    import diffusers

    t = np.arange(1, N_TRAIN + 1) / N_TRAIN
    abar = sde.marginal(t)[0] ** 2
    betas = 1.0 - abar / np.concatenate([[1.0], abar[:-1]])
    common = dict(num_train_timesteps=N_TRAIN, trained_betas=betas.tolist(),
                  timestep_spacing="trailing")
    return {
        "DDPM": (diffusers.DDPMScheduler(clip_sample=False, **common), 1),
        "DDIM": (diffusers.DDIMScheduler(clip_sample=False, set_alpha_to_one=False, **common), 1),
        "Euler": (diffusers.EulerDiscreteScheduler(**common), 1),
        "Heun": (diffusers.HeunDiscreteScheduler(**common), 2),
        "DPM++2M": (diffusers.DPMSolverMultistepScheduler(
            algorithm_type="dpmsolver++", solver_order=2, thresholding=False, **common), 1),
        "SDE-DPM++2M": (diffusers.DPMSolverMultistepScheduler(
            algorithm_type="sde-dpmsolver++", solver_order=2, thresholding=False, **common), 1),
    }


def _run_diffusers(scheduler, model, x_init, steps, seed):
    scheduler.set_timesteps(steps)
    # deterministic schedulers (Heun) take no generator
    kw = ({"generator": torch.Generator().manual_seed(seed)}
          if "generator" in inspect.signature(scheduler.step).parameters else {})
    x = torch.as_tensor(x_init) * float(scheduler.init_noise_sigma)
    with torch.no_grad():
        for timestep in scheduler.timesteps:
            inp = scheduler.scale_model_input(x, timestep)
            eps = model(inp, timestep)
            x = scheduler.step(eps, timestep, x, **kw).prev_sample
    return x.numpy()


def _run_torchsde(sde, score, x_init, steps, device="cpu", score_torch=gm_score_torch):
    """torchsde's Euler reverse-SDE with ``score_torch(t, x, q)`` at ``q = score.params``: the
    exact score of the Gaussian target by default, or a network's (``score.torch``)."""
    import torchsde

    q = torch.as_tensor(score.params[None, :], device=device)
    f_py, g_py = sde.drift.py_func, sde.diffusion.py_func
    p = torch.as_tensor(sde.params, device=device)[:, None, None]
    t_end = sde.t_end

    class Reverse(torch.nn.Module):
        noise_type = "diagonal"
        sde_type = "ito"

        def f(self, s, y):
            t = t_end - float(s)
            g = g_py(t, y, p)
            return -f_py(t, y, p) + g * g * score_torch(t, y, q)

        def g(self, s, y):
            return g_py(t_end - float(s), y, p)

    ts = torch.tensor([0.0, sde.t_end - sde.t_eps], dtype=torch.float64, device=device)
    with torch.no_grad():
        out = torchsde.sdeint(Reverse(), torch.as_tensor(x_init, device=device), ts,
                              method="euler", dt=float(ts[1]) / steps)
    return out[-1].cpu().numpy()


def accuracy(n, seed=0):
    sde, gm, score, law = _setup()
    err = lambda x: w2_to_gaussian(x, law.means[0], law.covs[0]) ** 2  # noqa: E731
    x_init = sde.prior_sample(n, 16, seed=seed)
    floor, floor_sd = w2_floor(law.covs[0], n)
    print(f"W2^2 against the exact law, n = {n}, Monte Carlo floor {floor:.1e} +- {floor_sd:.1e}")
    print("score evaluations    " + "".join(f"{b:>10d}" for b in BUDGETS))
    ours = [("sdekit reverse_sde", "reverse_sde", 1), ("sdekit probability_flow",
            "probability_flow", 2), ("sdekit pc", "pc", 2), ("sdekit ddpm", "ddpm", 1),
            ("sdekit ddim", "ddim", 1), ("sdekit dpm_solver", "dpm_solver", 1)]
    for label, method, per_step in ours:
        row = [err(sample(sde, score, n, method=method, steps=max(b // per_step, 1), seed=seed,
                          x_init=x_init)) for b in BUDGETS]
        print(f"{label:<24}" + "".join(f"{e:10.1e}" for e in row), flush=True)
    model = _eps_model(sde, score)
    for name, (scheduler, per_step) in _diffusers_schedulers(sde).items():
        row = []
        for b in BUDGETS:
            try:
                row.append(err(_run_diffusers(scheduler, model, x_init, max(b // per_step, 1),
                                              seed)))
            except Exception as exc:  # a scheduler refusing a budget is reported, not fatal
                print(f"  diffusers {name} at {b}: {type(exc).__name__}: {exc}")
                row.append(float("nan"))
        print(f"{'diffusers ' + name:<24}" + "".join(f"{e:10.1e}" for e in row), flush=True)
    row = [err(_run_torchsde(sde, score, x_init, b)) for b in BUDGETS]
    print(f"{'torchsde euler':<24}" + "".join(f"{e:10.1e}" for e in row), flush=True)


# -- VE predictor-corrector against diffusers' ScoreSdeVeScheduler -------------------------------
VE_SIGMA_MIN, VE_SIGMA_MAX, VE_SNR = 0.01, 50.0, 0.16
# The tag under which sdekit's predictor-corrector loop seeds its noise streams (sampling.py):
# with it diffusers can be handed the very same normals.
_PC_NOISE_TAG = 0x4E4F


def _run_score_sde_ve(sde, score, x_init, steps, seed, common_noise):
    import diffusers
    import diffusers.schedulers.scheduling_sde_ve as sde_ve

    scheduler = diffusers.ScoreSdeVeScheduler(
        num_train_timesteps=steps, snr=VE_SNR, sigma_min=VE_SIGMA_MIN, sigma_max=VE_SIGMA_MAX,
        sampling_eps=sde.t_eps, correct_steps=1)
    scheduler.set_timesteps(steps)
    scheduler.set_sigmas(steps)
    q = torch.as_tensor(score.params[None, :])
    generator = torch.Generator().manual_seed(seed)
    original = sde_ve.randn_tensor
    if common_noise:
        streams = Streams(child_seed(seed, _PC_NOISE_TAG), x_init.shape[0], parallel=False)
        sde_ve.randn_tensor = lambda shape, **kw: torch.as_tensor(streams.normals(shape[1]))
    x = torch.as_tensor(x_init)
    try:
        with torch.no_grad():
            for t in scheduler.timesteps:
                # the pipeline's loop: corrector then predictor, each with a fresh score
                x = scheduler.step_correct(gm_score_torch(float(t), x, q), x,
                                           generator=generator).prev_sample
                out = scheduler.step_pred(gm_score_torch(float(t), x, q), t, x,
                                          generator=generator)
                x, x_mean = out.prev_sample, out.prev_sample_mean
    finally:
        sde_ve.randn_tensor = original
    return x_mean.numpy()


def ve_pc(n, seed=0):
    sde = VESDE(VE_SIGMA_MIN, VE_SIGMA_MAX).with_dim(16)
    gm = GaussianMixture(MEAN, LAM[None])
    score = gm.score(sde)
    law = gm.perturbed(sde, sde.t_eps)
    err = lambda x: w2_to_gaussian(x, law.means[0], law.covs[0]) ** 2  # noqa: E731
    x_init = sde.prior_sample(n, 16, seed=seed)
    floor, floor_sd = w2_floor(law.covs[0], n)
    print(f"\nVE predictor-corrector (sigma 0.01 to 50, snr {VE_SNR}), W2^2, n = {n}, "
          f"floor {floor:.1e} +- {floor_sd:.1e}")
    print("score evaluations    " + "".join(f"{b:>10d}" for b in BUDGETS))
    rows = {}
    for label, predictor in (("sdekit pc (rev. diff.)", "reverse_diffusion"),
                             ("sdekit pc (EM)", "euler_maruyama")):
        rows[label] = [sample(sde, score, n, method="pc", steps=b // 2, seed=seed,
                              x_init=x_init, snr=VE_SNR, predictor=predictor)
                       for b in BUDGETS]
        print(f"{label:<24}" + "".join(f"{err(x):10.1e}" for x in rows[label]), flush=True)
    for label, common in (("diffusers ScoreSdeVe", True), ("  (own generator)", False)):
        rows[label] = [_run_score_sde_ve(sde, score, x_init, b // 2, seed, common)
                       for b in BUDGETS]
        print(f"{label:<24}" + "".join(f"{err(x):10.1e}" for x in rows[label]), flush=True)
    ours, theirs = rows["sdekit pc (rev. diff.)"], rows["diffusers ScoreSdeVe"]
    print("relative difference     " + "".join(
        f"{err(a) / err(b) - 1:+10.1%}" for a, b in zip(ours, theirs)))
    gap = np.median(np.linalg.norm(ours[-1] - theirs[-1], axis=1))
    size = np.median(np.linalg.norm(theirs[-1], axis=1))
    print(f"common random numbers: at {BUDGETS[-1]} evaluations the median distance between "
          f"paired samples is {gap:.1e} (median norm {size:.1f})")


def timing(n, steps=50, seed=0):
    sde, gm, score, law = _setup()
    x_init = sde.prior_sample(n, 16, seed=seed)
    sample(sde, score, 100, method="reverse_sde", steps=2, seed=seed)  # compile outside timing
    results = {}
    t0 = time.perf_counter()
    sample(sde, score, n, method="reverse_sde", steps=steps, seed=seed, x_init=x_init)
    results["sdekit reverse_sde (numba)"] = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    sample(sde, score, n, method="reverse_sde", steps=steps, seed=seed, x_init=x_init,
           backend="torch")
    results["sdekit reverse_sde (torch)"] = (time.perf_counter() - t0) / steps
    scheduler, _ = _diffusers_schedulers(sde)["DDPM"]
    t0 = time.perf_counter()
    _run_diffusers(scheduler, _eps_model(sde, score), x_init, steps, seed)
    results["diffusers DDPM step() loop"] = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    _run_torchsde(sde, score, x_init, steps)
    results["torchsde euler"] = (time.perf_counter() - t0) / steps
    base = results["sdekit reverse_sde (numba)"]
    print(f"\nseconds per step, {n} samples in 16-D, analytic score ({steps} steps)")
    for name, value in results.items():
        print(f"{name:<30}{value:10.4f}  ({value / base:5.1f}x sdekit numba)")


def network_timing(n, steps=100, seed=0):
    """Reverse-SDE sampling with a trained score network (an MLP on two moons): sdekit's torch
    backend against torchsde's Euler loop, the same network and prior draws."""
    from sdekit import score as sk

    model = sk.ScoreModel(sk.VPSDE(), hidden=128, depth=3).fit(
        sk.make_toy("two_moons", 2000, seed=seed), steps=200, seed=seed, progress=False)
    s = model.score()
    sde = model.sde
    x_init = sde.prior_sample(n, 2, seed=seed)
    sample(sde, s, 100, method="reverse_sde", steps=2, seed=seed, backend="torch")  # warm up
    t0 = time.perf_counter()
    sample(sde, s, n, method="reverse_sde", steps=steps, seed=seed, x_init=x_init,
           backend="torch")
    ours = (time.perf_counter() - t0) / steps
    _run_torchsde(sde, s, x_init[:100], 2, score_torch=s.torch)
    t0 = time.perf_counter()
    _run_torchsde(sde, s, x_init, steps, score_torch=s.torch)
    theirs = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    with torch.no_grad():
        xt = torch.as_tensor(x_init)
        q = torch.as_tensor(s.params[None, :])
        for _ in range(steps):
            s.torch(0.5, xt, q)
    net = (time.perf_counter() - t0) / steps
    print(f"\nseconds per step, {n} samples, score network (MLP 128x3, {steps} steps)")
    print(f"{'network forward pass alone':<30}{net:10.5f}")
    print(f"{'sdekit reverse_sde (torch)':<30}{ours:10.5f}  (1.0x)")
    print(f"{'torchsde euler':<30}{theirs:10.5f}  ({theirs / ours:4.1f}x sdekit)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples for the accuracy table")
    parser.add_argument("--timing-n", type=int, default=100_000, help="samples for the timing")
    parser.add_argument("--parts", nargs="+", choices=("accuracy", "ve", "timing", "network"),
                        default=("accuracy", "ve", "timing", "network"), help="what to run")
    parser.add_argument("--network-n", type=int, default=10_000,
                        help="samples for the score-network timing")
    args = parser.parse_args()
    if "accuracy" in args.parts:
        accuracy(args.n)
    if "ve" in args.parts:
        ve_pc(args.n)
    if "timing" in args.parts:
        timing(args.timing_n)
    if "network" in args.parts:
        network_timing(args.network_n)


if __name__ == "__main__":
    main()

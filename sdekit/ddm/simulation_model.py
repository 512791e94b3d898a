"""Decision models without a tractable density, fitted by a simulation-based likelihood.

Multi-dimensional accumulators (race diffusion, leaky competing accumulators) and any
user-written :class:`sdekit.sde.SDE` with absorbing boundaries have no Fokker–Planck solver in
one dimension to lean on. A :class:`SimulationModel` simulates them on the engine instead and
estimates each response's defective density by a kernel density of the simulated decision times:

* **Common random numbers.** Every likelihood evaluation simulates with the same seed, so the
  same Wiener paths are reused as the parameters change and the estimated log-likelihood is a
  smooth function of the parameters (a new seed per evaluation would make it jump by its Monte
  Carlo error, defeating any optimiser).
* **Binned kernel density.** Simulated decision times are spread over a fine grid by linear
  binning (which keeps the estimate continuous in each simulated time) and smoothed with a
  Gaussian kernel of Silverman's bandwidth in log decision time (decision times are skewed with
  a sharp leading edge, which a kernel of fixed width in seconds would smear); the density at the
  data is interpolated from the grid. The cost is O(n_sim + grid) per evaluation, not
  O(n_sim x n_trials).

The estimate is biased by the kernel's smoothing (of order bandwidth squared) and noisy at the
rate of ``n_sim``; the defaults (20,000 simulated trials per condition cell, dt = 1 ms with
bridge-corrected first passages) are a compromise between speed and accuracy that recovers
parameters well at a few thousand trials (see ``docs/recovery.md``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sdekit.ddm.components import (
    checked_conditions,
    checked_values,
    declarations,
    find_declaration,
    param,
)

__all__ = ["SimulationModel"]

_T0 = param("t0", 0.0, math.inf, None, "non-decision time (s)", low_open=False)


@nb.njit(cache=True)
def _binned_density(samples, h, grid_step, n_grid):
    """Gaussian kernel density of ``samples`` on the grid ``k * grid_step`` (k = 0 ..
    n_grid - 1), by linear binning and a kernel truncated at 4 bandwidths; each sample has
    weight 1 (not normalised). Samples off the grid are dropped."""
    counts = np.zeros(n_grid + 1)
    for s in samples:
        pos = s / grid_step
        if not (pos >= 0.0 and pos < n_grid):
            continue
        k = int(pos)
        frac = pos - k
        counts[k] += 1.0 - frac
        counts[k + 1] += frac
    half = int(math.ceil(4.0 * h / grid_step))
    kernel = np.empty(2 * half + 1)
    norm = 1.0 / (math.sqrt(2.0 * math.pi) * h)
    for j in range(-half, half + 1):
        u = j * grid_step / h
        kernel[j + half] = norm * math.exp(-0.5 * u * u)
    out = np.zeros(n_grid)
    for k in range(n_grid):
        acc = 0.0
        for j in range(max(-half, -k), min(half, n_grid - k) + 1):
            acc += counts[k + j] * kernel[j + half]
        out[k] = acc
    return out


def _silverman(samples):
    n = samples.size
    if n < 2:
        return 0.05
    sd = float(np.std(samples))
    q75, q25 = np.percentile(samples, [75, 25])
    spread = min(sd, (q75 - q25) / 1.349) if q75 > q25 else sd
    return max(0.9 * spread * n ** -0.2, 1e-3)


class SimulationModel:
    """A decision model simulated on the engine, with a kernel-density likelihood.

    Standard errors of its fits come from a finite-difference Hessian whose stencil widens, axis
    by axis and along weak combinations of parameters, until the likelihood's rise across it
    stands ten times clear of its Monte Carlo ripples; parameters along which it never does are
    reported as not identified (standard error NaN, with a message). On the race model they
    come out 0.7 to 0.8 times those of the exact likelihood (see ``docs/models.md``).

    Parameters
    ----------
    sde : sdekit.sde.SDE
        The accumulator(s); its ``param_names`` must be declared in ``params``.
    params : dict
        Declarations of every model parameter: ``{name: (low, high, default, doc)}`` or
        :func:`sdekit.ddm.components.param` objects. ``t0`` (non-decision time) is added when
        missing.
    boundaries : callable
        ``boundaries(values) -> sdekit.sde.Boundaries`` from a dict of parameter values.
    x0 : callable or float
        Starting state: ``x0(values) -> float or array of shape (dim,)``, or a constant.
    response : {"component", "boundary"}
        How a first passage becomes a response: ``"component"`` (races: response ``i`` when
        accumulator ``i`` wins) or ``"boundary"`` (two bounds on one accumulator: upper = 1).
    n_sim : int
        Simulated trials per likelihood evaluation and condition cell.
    dt : float
        Time step (s); first passages are bridge-corrected within steps.
    t_max : float
        Longest decision time simulated (s).
    seed : int
        Seed of the common random numbers.
    bandwidth : float
        Kernel bandwidth as a multiple of Silverman's rule (in log decision time).
    conditions : tuple of str
        Numeric data columns the model reads (stimulus strength, say). An SDE parameter named
        after a condition takes the condition's value; ``boundaries`` and ``x0`` find it in the
        values they are given. When fitting, each distinct combination of condition values is a
        cell simulated with its own ``n_sim`` trials.
    name : str, optional
    """

    #: Fitted by a simplex search (see sdekit.ddm.fit_model).
    optimizer = "nelder-mead"
    #: Relative starting step of the finite-difference Hessian (standard errors), widened where
    #: the likelihood's rise is lost in the small jumps it makes when a simulated trial's
    #: boundary-crossing test changes outcome.
    hessian_step = 0.03

    def __init__(self, sde, params, boundaries, x0=0.0, *, response="component", n_sim=20_000,
                 dt=1e-3, t_max=10.0, seed=0, bandwidth=1.0, conditions=(), name=None):
        from sdekit.sde import SDE

        if not isinstance(sde, SDE):
            raise TypeError(f"sde must be an sdekit.sde.SDE, got {type(sde).__name__}")
        if response not in ("component", "boundary"):
            raise ValueError(f"response must be 'component' or 'boundary', got {response!r}")
        if not callable(boundaries):
            raise TypeError("boundaries must be a function of the parameter values returning "
                            "sdekit.sde.Boundaries")
        declared = declarations(params)
        declared.setdefault("t0", _T0)
        if isinstance(conditions, str):
            conditions = (conditions,)
        conditions = tuple(dict.fromkeys(conditions))
        clash = [c for c in conditions if c in declared]
        if clash:
            raise ValueError(f"{clash} are both parameters and conditions; give each name once")
        missing = [n for n in sde.param_names if n not in declared and n not in conditions]
        if missing:
            raise ValueError(f"the SDE's parameters {missing} are neither declared in params "
                             f"nor conditions")
        self.conditions = conditions
        self.sde = sde
        self.params = tuple(declared.values())
        self.param_names = tuple(declared)
        self._boundaries = boundaries
        self._x0 = x0
        self.response = response
        self.n_sim = int(n_sim)
        self.dt = float(dt)
        self.t_max = float(t_max)
        self.seed = int(seed)
        self.bandwidth = float(bandwidth)
        if not self.bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth}")
        self.name = name or "SimulationModel"
        if self.n_sim < 100:
            raise ValueError(f"n_sim must be at least 100, got {n_sim}")

    # -- built-in models ---------------------------------------------------------------------
    @classmethod
    def race(cls, n_accumulators=2, **kwargs):
        """Race of independent diffusions ``dx_i = v_i dt + dW_i`` from 0 to a common
        threshold ``a``; response ``i`` when accumulator ``i`` arrives first (a race
        diffusion model, as in Tillman, Van Zandt & Logan 2020, without start variability)."""
        from sdekit.sde import SDE, Boundaries

        n = int(n_accumulators)
        if n < 2:
            raise ValueError(f"a race needs at least 2 accumulators, got {n_accumulators}")
        names = [f"v{i}" for i in range(n)]
        sde = SDE(_race_drift, _unit_noise, dim=n, noise="diagonal",
                  params={k: 1.0 for k in names}, name="race")
        decl = {k: param(k, default=1.0, doc=f"drift of accumulator {k[1:]} (1/s)")
                for k in names}
        decl["a"] = param("a", 0.0, math.inf, 1.0, "threshold (distance from the start)")
        return cls(sde, decl, lambda v: Boundaries(upper=v["a"], lower=-math.inf),
                   np.zeros(n), response="component", name="race diffusion", **kwargs)

    @classmethod
    def lca(cls, coherence=None, **kwargs):
        """Leaky competing accumulators (Usher & McClelland 2001), two units, linear form:
        ``dx_i = (I_i - leak x_i - inhibition x_j) dt + dW_i`` from 0 to threshold ``a``.

        The accumulators are not truncated at zero (the linear LCA); response ``i`` when unit
        ``i`` reaches ``a`` first.

        Parameters
        ----------
        coherence : str, optional
            Without it the inputs are free parameters ``v0`` and ``v1``, one pair for all trials.
            With it, the name of a numeric data column ``c`` (stimulus strength in favour of
            response 1): unit 0's input is ``v`` and unit 1's is ``v + gain * c``, so trials of
            several strengths share ``v``, ``gain``, ``leak``, ``inhibition``, ``a`` and ``t0``.
            Leak and inhibition trade off against each other and against the inputs and
            threshold; over three strengths and 1,000 trials ``gain`` and ``t0`` are recovered,
            ``v`` and ``a`` with biases near 10 %, and leak and inhibition are not (see
            ``docs/recovery-generalized.md``): hold one of them fixed where theory allows
            (with the leak held, inhibition is recovered without bias, if imprecisely).
        **kwargs
            Passed to :class:`SimulationModel` (``n_sim``, ``dt``, ``seed``, ...).
        """
        from sdekit.sde import SDE, Boundaries

        dynamics = {"leak": param("leak", default=0.5, doc="leak rate (1/s)"),
                    "inhibition": param("inhibition", default=0.5,
                                        doc="mutual inhibition (1/s)"),
                    "a": param("a", 0.0, math.inf, 1.0, "threshold")}
        if coherence is None:
            sde = SDE(_lca_drift, _unit_noise, dim=2, noise="diagonal",
                      params={"v0": 1.0, "v1": 1.0, "leak": 0.0, "inhibition": 0.0},
                      name="lca")
            decl = {"v0": param("v0", default=1.0, doc="input to unit 0 (1/s)"),
                    "v1": param("v1", default=1.0, doc="input to unit 1 (1/s)"), **dynamics}
            conditions = ()
        else:
            if not isinstance(coherence, str) or not coherence:
                raise TypeError(f"coherence must be the name of a data column, got "
                                f"{coherence!r}")
            sde = SDE(_lca_coherence_drift, _unit_noise, dim=2, noise="diagonal",
                      params={"v": 1.0, "gain": 1.0, "leak": 0.0, "inhibition": 0.0,
                              coherence: 0.0}, name="lca")
            decl = {"v": param("v", default=1.0, doc="input to unit 0 (1/s)"),
                    "gain": param("gain", default=1.0,
                                  doc=f"extra input to unit 1 per unit of {coherence} (1/s)"),
                    **dynamics}
            conditions = (coherence,)
        return cls(sde, decl, lambda v: Boundaries(upper=v["a"], lower=-math.inf),
                   np.zeros(2), response="component", name="leaky competing accumulators",
                   conditions=conditions, **kwargs)

    # -- parameters --------------------------------------------------------------------------
    def declaration(self, name):
        return find_declaration(self.params, name)

    def vector(self, params, conditions=None):
        """Validated parameter values, and the conditions' values, as one dict (defaults filled
        in).

        Raises
        ------
        ValueError
            Unknown names, values outside their domain, a condition the model reads missing or
            not a finite number.
        """
        values = checked_values(self.params, params)
        values.update(checked_conditions(self.conditions, conditions))
        return values

    # -- simulation --------------------------------------------------------------------------
    def decisions(self, values, *, n=None, seed=None):
        """Simulated decision times (s) and responses, ``(times, responses)``; undecided
        trials have response -1 and time NaN. ``values`` as returned by :meth:`vector`."""
        from sdekit.sde import solve

        n = self.n_sim if n is None else int(n)
        x0 = self._x0(values) if callable(self._x0) else self._x0
        p = np.array([values[k] for k in self.sde.param_names])
        sol = solve(self.sde, x0, [0.0, self.t_max], dt=self.dt, n_paths=n, params=p,
                    boundaries=self._boundaries(values), save="final",
                    seed=self.seed if seed is None else seed)
        decided = sol.boundary != 0
        if self.response == "component":
            resp = np.where(decided, sol.component, -1)
        else:
            resp = np.where(decided, (sol.boundary == 1).astype(np.int64), -1)
        return np.where(decided, sol.first_passage_time, np.nan), resp.astype(np.int64)

    def simulate(self, n, params, conditions=None, *, seed=None):
        """Simulate trials on the engine.

        Parameters
        ----------
        n : int
            Trials per condition cell.
        params : dict
            Parameter values (defaults for the rest).
        conditions : dict or pandas.DataFrame, optional
            One value per condition the model reads, or a DataFrame with one row per cell to
            simulate (``n`` trials each; its columns are copied to the output).
        seed : int, optional
            Seed of the random streams (None: fresh entropy). The same seed gives the same
            trials; each cell draws from its own stream derived from it.

        Returns
        -------
        pandas.DataFrame
            ``rt`` (s, non-decision time added), ``response`` (-1 and ``rt`` NaN when
            undecided by ``t_max``) and the condition columns.
        """
        import pandas as pd

        from sdekit.ddm.simulate import condition_cells

        frames = []
        for cell, cell_seed in condition_cells(n, conditions, seed):
            values = self.vector(params, {c: cell[c] for c in self.conditions if c in cell})
            times, resp = self.decisions(values, n=int(n), seed=cell_seed)
            frame = pd.DataFrame({"rt": times + values["t0"], "response": resp})
            for c, v in cell.items():
                frame[c] = v
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        out.attrs["undecided"] = int((out["response"] == -1).sum())
        return out

    # -- likelihood --------------------------------------------------------------------------
    def density(self, values, rt, response):
        """Kernel-density estimate of the joint density of ``(rt, response)``."""
        times, resp = self.decisions(values)
        t0 = values["t0"]
        rt = np.asarray(rt, dtype=np.float64)
        response = np.asarray(response)
        out = np.zeros(rt.shape)
        n = self.n_sim
        for r in np.unique(response):
            sel = response == r
            s = times[resp == r]
            if s.size < 2:
                continue
            # Smoothing in log time: decision times are skewed and start sharply, and a kernel
            # of one width in seconds would smear the leading edge (biasing t0 up and the
            # bound down); in log time the leading edge is no sharper than the tail.
            u = np.log(np.maximum(s, 1e-9))
            h = self.bandwidth * _silverman(u)
            step = h / 4.0
            lo = float(u.min()) - 5 * h
            decision = rt[sel] - t0
            hi = max(float(np.log(max(decision.max(), 1e-9))), float(u.max())) + 5 * h
            n_grid = int((hi - lo) / step) + 2
            grid_density = _binned_density(np.ascontiguousarray(u - lo), h, step, n_grid) / n
            inside = decision > 0
            log_t = np.log(np.where(inside, decision, 1.0))
            value = np.interp(log_t - lo, np.arange(n_grid) * step, grid_density, left=0.0,
                              right=0.0)
            out[np.flatnonzero(sel)[inside]] = value[inside] / decision[inside]
        # Beyond the simulated range the estimate is 0 though the model's density is not: floor
        # it at one simulated trial's mass spread over the observed range.
        span = float(np.ptp(rt)) if rt.size > 1 else 1.0
        return np.maximum(out, 0.5 / (n * max(span, 1e-3)))

    def fit_grid(self, problem, theta, accuracy=None):
        return {}

    def cell_density(self, problem, theta, c, rt, response):
        return self.density(problem.cell_vector(theta, c), rt, response)

    def curves(self, params, conditions, grid, p_outlier=0.0, rt_range=None):
        """``{response: (pdf, cdf, probability)}`` on the RT ``grid`` (for the plots)."""
        from sdekit.ddm.plots import curves_from_densities

        values = self.vector(params, conditions)
        _, resp = self.decisions(values)
        dens = {r: self.density(values, grid, np.full(np.shape(grid), r)) for r in (1, 0)}
        probs = {r: float(np.mean(resp == r)) for r in (1, 0)}
        return curves_from_densities(dens, probs, grid, p_outlier, rt_range)

    def __repr__(self):
        return f"SimulationModel({self.name}: {', '.join(self.param_names)})"


@nb.njit(cache=True)
def _race_drift(t, x, p, out):
    for i in range(x.shape[0]):
        out[i] = p[i]


@nb.njit(cache=True)
def _unit_noise(t, x, p, out):
    for i in range(x.shape[0]):
        out[i] = 1.0


@nb.njit(cache=True)
def _lca_drift(t, x, p, out):
    leak, inhibition = p[2], p[3]
    out[0] = p[0] - leak * x[0] - inhibition * x[1]
    out[1] = p[1] - leak * x[1] - inhibition * x[0]


@nb.njit(cache=True)
def _lca_coherence_drift(t, x, p, out):
    leak, inhibition = p[2], p[3]
    out[0] = p[0] - leak * x[0] - inhibition * x[1]
    out[1] = p[0] + p[1] * p[4] - leak * x[1] - inhibition * x[0]

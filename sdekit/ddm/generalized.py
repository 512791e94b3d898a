"""The generalized decision model: components assembled into one engine SDE with moving bounds.

See :mod:`sdekit.ddm.components` for the components. A :class:`DecisionModel` compiles them once
into an elementwise :class:`sdekit.sde.SDE` and :class:`sdekit.sde.Boundaries` whose parameter
vector is ``[model parameters..., condition values...]``; the same two objects feed

* the engine (:func:`sdekit.sde.solve`) for simulation, with bridge-corrected first passages, and
* the Fokker–Planck solver (:func:`sdekit.sde.first_passage`) for densities and likelihoods.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdekit.ddm._params import Param
from sdekit.ddm.components import (
    Bound,
    Drift,
    Noise,
    NonDecision,
    Start,
    Urgency,
    checked_conditions,
    checked_values,
    compile_component,
    find_declaration,
    nb_negated,
    nb_product,
)

__all__ = ["DecisionModel"]

#: Default accuracy target of the Fokker–Planck densities (L1 distance per response).
DEFAULT_ACCURACY = 1e-4


def _check_kind(value, cls, name):
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__} component (e.g. {cls.__name__}."
                        f"{'constant' if hasattr(cls, 'constant') else 'point'}()), got "
                        f"{type(value).__name__}")
    return value


class DecisionModel:
    """A decision model between two absorbing bounds, built from components.

    Parameters
    ----------
    drift : Drift, optional
        Default :meth:`Drift.constant` (parameter ``v``).
    bound : Bound, optional
        Default :meth:`Bound.constant` (parameter ``a``, the full separation).
    start : Start, optional
        Default :meth:`Start.point` (parameter ``z``).
    nondecision : NonDecision, optional
        Default :meth:`NonDecision.point` (parameter ``t0``).
    noise : Noise, optional
        Default :meth:`Noise.constant` with ``s = 1`` (the scaling convention).
    urgency : Urgency, optional
        A gain multiplying drift and noise; none by default.
    name : str, optional
        Used in results and messages.

    Attributes
    ----------
    params : tuple of Param
        Declarations of the free parameters, in order: drift, noise, bound, urgency, start,
        non-decision.
    param_names : tuple of str
    conditions : tuple of str
        Data columns the components read.
    sde : sdekit.sde.SDE
        The accumulator as an engine SDE (1-D, elementwise); parameters ``[params...,
        conditions...]``.

    Notes
    -----
    Densities come from :func:`sdekit.sde.first_passage` (Crank–Nicolson in coordinates
    relative to the moving bounds), accurate to ``accuracy`` in L1 per response; the uniform
    non-decision window is applied exactly, as a difference of first-passage CDFs divided by
    ``st``.
    """

    #: Accuracy target of the densities in fits (L1 per response), unless ``fit`` is told.
    default_accuracy = DEFAULT_ACCURACY

    def __init__(self, drift=None, bound=None, start=None, nondecision=None, noise=None,
                 urgency=None, name=None):
        self.drift = _check_kind(drift if drift is not None else Drift.constant(), Drift,
                                 "drift")
        self.noise = _check_kind(noise if noise is not None else Noise.constant(), Noise,
                                 "noise")
        self.bound = _check_kind(bound if bound is not None else Bound.constant(), Bound,
                                 "bound")
        self.urgency = None if urgency is None else _check_kind(urgency, Urgency, "urgency")
        self.start = _check_kind(start if start is not None else Start.point(), Start, "start")
        self.nondecision = _check_kind(nondecision if nondecision is not None
                                       else NonDecision.point(), NonDecision, "nondecision")
        described = [c.doc for c in (self.drift, self.bound, self.urgency) if c is not None]
        self.name = name or f"decision model: {', '.join(described)}"
        declared = {}
        conditions = []
        for comp in self.components:
            for p in comp.params:
                other = declared.get(p.name)
                if other is not None and other != p:
                    raise ValueError(f"parameter {p.name!r} is declared differently by two "
                                     f"components ({other.domain_text()} and "
                                     f"{p.domain_text()}); give one of them another name")
                declared[p.name] = p
            for c in comp.conditions:
                if c in declared:
                    raise ValueError(f"{c!r} is both a parameter and a condition")
                if c not in conditions:
                    conditions.append(c)
        clash = [c for c in conditions if c in declared]
        if clash:
            raise ValueError(f"{clash} are both parameters and conditions")
        self.params: tuple[Param, ...] = tuple(declared.values())
        self.param_names = tuple(declared)
        self.conditions = tuple(conditions)
        self._index = {n: i for i, n in enumerate(self.param_names + self.conditions)}
        self._compiled = None

    # -- structure ---------------------------------------------------------------------------
    @property
    def components(self):
        """The components in parameter order (urgency omitted when absent)."""
        out = [self.drift, self.noise, self.bound]
        if self.urgency is not None:
            out.append(self.urgency)
        return out + [self.start, self.nondecision]

    def _compile(self):
        if self._compiled is None:
            from sdekit.sde import SDE

            idx = self._index
            drift = compile_component(self.drift, idx, "_model_drift")
            noise = compile_component(self.noise, idx, "_model_noise")
            half = compile_component(self.bound, idx, "_model_bound")
            if self.urgency is not None:
                gain = compile_component(self.urgency, idx, "_model_gain")
                drift = nb_product(gain, drift, "_urgent_drift", ("t", "x"))
                noise = nb_product(gain, noise, "_urgent_noise", ("t", "x"))
            lower = nb_negated(half)
            names = self.param_names + self.conditions
            defaults = {n: (self.declaration(n).default if n in self.param_names else 0.0)
                        for n in names}
            sde = SDE(drift, noise, dim=1, noise="diagonal", elementwise=True,
                      params={n: (0.0 if v is None else v) for n, v in defaults.items()},
                      name=self.name)
            self._compiled = (sde, half, lower)
        return self._compiled

    @property
    def sde(self):
        return self._compile()[0]

    def boundaries(self, p):
        """Engine :class:`sdekit.sde.Boundaries` ``±b(t)`` for parameter vector ``p``."""
        from sdekit.sde import Boundaries

        _, half, lower = self._compile()
        return Boundaries(upper=half, lower=lower, params=p)

    def declaration(self, name):
        """The :class:`Param` declaring parameter ``name``."""
        return find_declaration(self.params, name)

    def __repr__(self):
        comps = ", ".join(repr(c) for c in self.components)
        return f"DecisionModel({comps})"

    # -- parameter vectors -------------------------------------------------------------------
    def vector(self, params, conditions=None):
        """The parameter vector ``[params..., conditions...]`` the compiled functions read.

        Parameters
        ----------
        params : dict
            Values by name; missing ones take their declared defaults.
        conditions : dict, optional
            One number per condition the model reads.

        Raises
        ------
        ValueError
            Unknown names, values outside their domain, missing values without a default.
        """
        out = np.empty(len(self._index))
        out[:len(self.params)] = list(checked_values(self.params, params).values())
        for c, value in checked_conditions(self.conditions, conditions).items():
            out[self._index[c]] = value
        self._check_start(out)
        return out

    def _value(self, p, component, name):
        slot = component.slots[name]
        return slot.value if hasattr(slot, "value") else float(p[self._index[name]])

    def _check_start(self, p):
        z = self._value(p, self.start, "z")
        sz = self._value(p, self.start, "sz") if self.start.window else 0.0
        if sz > 2.0 * min(z, 1.0 - z) * (1 + 1e-12):
            raise ValueError(f"sz must be <= 2*min(z, 1 - z) so that the start window lies "
                             f"between the bounds, got sz={sz} with z={z}")

    def nondecision_window(self, p):
        """``(t0, st)`` for parameter vector ``p`` (st = 0 for a point)."""
        t0 = self._value(p, self.nondecision, "t0")
        st = self._value(p, self.nondecision, "st") if self.nondecision.window else 0.0
        return t0, st

    def start_position(self, p):
        """``(z, sz)``, relative to the bounds at t = 0."""
        z = self._value(p, self.start, "z")
        sz = self._value(p, self.start, "sz") if self.start.window else 0.0
        return z, sz

    def half_width(self, t, p):
        """The bound's half-width ``b(t)`` for parameter vector ``p`` (numpy, any shape)."""
        _, half, _ = self._compile()
        t = np.asarray(t, dtype=np.float64)
        return np.vectorize(lambda s: half(float(s), p))(t)

    # -- densities ---------------------------------------------------------------------------
    def first_passage(self, params, conditions=None, *, t_max=5.0, accuracy=DEFAULT_ACCURACY,
                      dt=None, n_space=None):
        """First-passage (decision-time) densities of both responses, by Fokker–Planck.

        Parameters
        ----------
        params, conditions : dict
            As for :meth:`vector`; a ready vector may be given as ``params`` instead.
        t_max : float
            Longest decision time (s) computed.
        accuracy : float
            Target L1 error of each response's density (chooses the grids).
        dt, n_space : optional
            Explicit time step (s) and number of space cells, overriding ``accuracy``.

        Returns
        -------
        sdekit.sde.FirstPassage
            Decision times, before the non-decision time is added.
        """
        from sdekit.sde.fokker_planck import first_passage

        p = params if isinstance(params, np.ndarray) else self.vector(params, conditions)
        z, sz = self.start_position(p)
        sde = self._compile()[0]
        bounds = self.boundaries(p)
        if sz > 0:
            lo, hi = z - 0.5 * sz, z + 0.5 * sz

            def start(y):
                return np.clip((np.asarray(y) - lo) / (hi - lo), 0.0, 1.0)
        else:
            b0 = float(self._compile()[1](0.0, p))
            start = (2.0 * z - 1.0) * b0
        return first_passage(sde, bounds, start, float(t_max), params=p, accuracy=accuracy,
                             dt=dt, n_space=n_space)

    def pdf(self, rt, response, params, conditions=None, *, accuracy=DEFAULT_ACCURACY,
            dt=None, n_space=None):
        """Joint density of response time (s) and response (1 upper, 0 lower).

        Defective densities: over both responses they integrate to 1 (less the mass still
        undecided past the longest ``rt``). The non-decision distribution is included.
        """
        rt = np.asarray(rt, dtype=np.float64)
        response = np.asarray(response)
        p = params if isinstance(params, np.ndarray) else self.vector(params, conditions)
        t0, st = self.nondecision_window(p)
        horizon = float(np.nanmax(rt)) - t0 if rt.size else 1.0
        fp = self.first_passage(p, t_max=max(horizon, 1e-3) * 1.001 + 1e-3, accuracy=accuracy,
                                dt=dt, n_space=n_space)
        return trial_density(fp, rt, response, t0, st)

    def logpdf(self, rt, response, params, conditions=None, **kwargs):
        """Log of :meth:`pdf` (``-inf`` where the density is zero)."""
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(rt, response, params, conditions, **kwargs))

    def prob_upper(self, params, conditions=None, *, t_max=20.0, accuracy=DEFAULT_ACCURACY):
        """Probability of response 1 (decided by ``t_max`` seconds)."""
        fp = self.first_passage(params, conditions, t_max=t_max, accuracy=accuracy)
        return float(fp.prob_upper)

    # -- what the fitter asks of a model ------------------------------------------------------
    def fit_grid(self, problem, theta, accuracy=None):
        """Time step and space cells for a fit, chosen at parameters ``theta``: the finest of
        those the accuracy target picks in each condition cell."""
        accuracy = accuracy or problem.pl.accuracy or DEFAULT_ACCURACY
        dts, cells, horizons = [], [], []
        for c, idx in enumerate(problem.cell_index):
            horizon = float(problem.rt[idx].max())
            fp = self.first_passage(problem.cell_vector(theta, c), t_max=horizon,
                                    accuracy=accuracy)
            dts.append(fp.dt)
            cells.append(fp.n_space)
            horizons.append(horizon)
        return {"dt": min(dts), "n_space": max(cells), "t_max": horizons,
                "accuracy": accuracy}

    def cell_density(self, problem, theta, c, rt, response):
        """Joint density of one condition cell's trials (decision plus non-decision time)."""
        p = problem.cell_vector(theta, c)
        grid = problem.grid
        fp = self.first_passage(p, t_max=grid["t_max"][c], dt=grid["dt"],
                                n_space=grid["n_space"], accuracy=grid["accuracy"])
        t0, st = self.nondecision_window(p)
        return trial_density(fp, rt, response, t0, st)

    def curves(self, params, conditions, grid, p_outlier=0.0, rt_range=None):
        """Defective densities, CDFs and probabilities of both responses on the RT ``grid``
        (s): ``{response: (pdf, cdf, probability)}``, contaminant mixed in (for plots)."""
        p = self.vector(params, conditions)
        t0, st = self.nondecision_window(p)
        fp = self.first_passage(p, t_max=max(float(np.max(grid)), 1e-2))
        from sdekit.ddm.plots import curves_from_densities

        dens = {r: trial_density(fp, grid, np.full(np.shape(grid), r), t0, st) for r in (1, 0)}
        return curves_from_densities(dens, {1: float(fp.prob_upper), 0: float(fp.prob_lower)},
                                     grid, p_outlier, rt_range)

    # -- simulation --------------------------------------------------------------------------
    def simulate(self, n, params, conditions=None, *, seed=None, dt=1e-3, t_max=20.0,
                 backend="numba"):
        """Simulate trials on the engine (bridge-corrected first passages).

        Parameters
        ----------
        n : int
            Trials per condition cell.
        params : dict
            Parameter values (defaults for the rest).
        conditions : dict or pandas.DataFrame, optional
            One value per condition column, or a DataFrame with one row per cell to simulate
            (``n`` trials each; its columns are copied to the output).
        seed : int, optional
            Seed of the random streams (None: fresh entropy). The same seed gives the same
            trials; each cell draws from its own stream derived from it.
        dt : float
            Time step (s) of the Euler–Maruyama scheme.
        t_max : float
            Longest decision time; undecided trials get ``rt = NaN`` and ``response = -1``.
        backend : {"numba", "cuda", "torch"}
            Engine backend that runs the paths.

        Returns
        -------
        pandas.DataFrame
            ``rt`` (s), ``response`` (1 upper, 0 lower, -1 undecided) and condition columns.
        """
        from sdekit.ddm.simulate import condition_cells, simulate_sde
        from sdekit.sde.random import uniforms

        cells = condition_cells(n, conditions, seed)
        n = int(n)
        frames = []
        for cell, cell_seed in cells:
            own = {c: cell[c] for c in self.conditions if c in cell}
            p = self.vector(params, own)
            z, sz = self.start_position(p)
            b0 = float(self._compile()[1](0.0, p))
            if sz > 0:
                u = uniforms(cell_seed ^ 0x535A, n, 1)[:, 0]
                x0 = (2.0 * (z + sz * (u - 0.5)) - 1.0) * b0
            else:
                x0 = (2.0 * z - 1.0) * b0
            t0, st = self.nondecision_window(p)
            frame = simulate_sde(self.sde, self.boundaries(p), x0, n, t0=t0, st=st, dt=dt,
                                 t_max=t_max, params=p, seed=cell_seed, backend=backend)
            for c, v in cell.items():
                frame[c] = v
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        out.attrs["undecided"] = int((out["response"] == -1).sum())
        out.attrs["seed"] = cells[0][1]  # the first cell's seed is the checked seed
        return out


def trial_density(fp, rt, response, t0, st):
    """Joint density at ``(rt, response)`` from first-passage densities ``fp`` of decision
    times, with the non-decision time ``t0`` or uniform window ``[t0, t0 + st]`` added.

    The uniform window is applied exactly: the density of decision time + U(t0, t0 + st) is
    ``(G(rt - t0) - G(rt - t0 - st)) / st`` with ``G`` the first-passage CDF.
    """
    t = np.asarray(fp.t, dtype=np.float64)
    out = np.zeros(np.broadcast(rt, response).shape)
    rt, response = np.broadcast_arrays(rt, response)
    for code, dens, cdf in ((1, fp.upper, fp.cdf_upper), (0, fp.lower, fp.cdf_lower)):
        sel = response == code
        if not np.any(sel):
            continue
        if st > 0:
            def cumulative(x, cdf=cdf):
                return np.where(x > t[-1], cdf[-1], cubic_on_grid(x, t, cdf))

            out[sel] = np.maximum(cumulative(rt[sel] - t0) - cumulative(rt[sel] - t0 - st),
                                  0.0) / st
        else:
            out[sel] = cubic_on_grid(rt[sel] - t0, t, dens)
    return out


def cubic_on_grid(x, t, values):
    """Cubic Lagrange interpolation of ``values`` on the uniform grid ``t`` at ``x`` (zero
    outside the grid, never negative).

    Linear interpolation between the Fokker–Planck time steps would add an error of order
    dt^2 f''/8 near the density's peak, as large as the solver's own; the four-point cubic
    brings it to order dt^4.
    """
    x = np.asarray(x, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = t.size
    out = np.zeros(x.shape)
    if n < 4:
        return np.interp(x, t, values, left=0.0, right=0.0)
    step = (t[-1] - t[0]) / (n - 1)
    inside = (x >= t[0]) & (x <= t[-1])
    u = (x[inside] - t[0]) / step
    k = np.clip(np.floor(u).astype(np.int64), 1, n - 3)
    s = u - k
    ym1, y0, y1, y2 = values[k - 1], values[k], values[k + 1], values[k + 2]
    out[inside] = (-s * (s - 1) * (s - 2) / 6 * ym1 + (s + 1) * (s - 1) * (s - 2) / 2 * y0
                   - (s + 1) * s * (s - 2) / 2 * y1 + (s + 1) * s * (s - 1) / 6 * y2)
    return np.maximum(out, 0.0)


_CHOICES = {
    "drift": ("constant", "leaky", "linear_in_time", "scaled_by:COLUMN"),
    "bound": ("constant", "linear", "exponential", "weibull"),
    "start": ("point", "uniform"),
    "nondecision": ("point", "uniform"),
    "urgency": ("linear",),
}


def model_from_text(text):
    """A model named on the command line.

    ``"drift=leaky,bound=weibull,nondecision=uniform"`` assembles a :class:`DecisionModel` from
    built-in components (unnamed components take their defaults; ``drift=scaled_by:coherence``
    reads a condition column); ``"race"`` and ``"lca"`` are the built-in
    :class:`~sdekit.ddm.SimulationModel` s (``"lca:coherence"``: the LCA with its inputs coded
    by that column); ``"models.py:NAME"`` loads the model object ``NAME`` defined in a Python
    file of yours.

    Raises
    ------
    ValueError
        Naming the unknown component, choice or file, with the choices available.
    """
    from sdekit.ddm import components

    text = str(text).strip()
    if text in ("race", "lca"):
        from sdekit.ddm.simulation_model import SimulationModel

        return getattr(SimulationModel, text)()
    if text.startswith("lca:"):
        from sdekit.ddm.simulation_model import SimulationModel

        column = text.partition(":")[2].strip()
        if not column:
            raise ValueError("lca: needs a column of stimulus strengths: lca:coherence")
        return SimulationModel.lca(coherence=column)
    if ".py:" in text:
        return _model_from_file(*text.rsplit(":", 1))
    kinds = {"drift": components.Drift, "bound": components.Bound, "start": components.Start,
             "nondecision": components.NonDecision, "urgency": components.Urgency}
    chosen = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, choice = item.partition("=")
        kind, choice = kind.strip(), choice.strip()
        if not sep or kind not in kinds:
            raise ValueError(
                f"cannot read model {text!r}: expected 'simple', 'full', 'race', 'lca', "
                f"FILE.py:NAME, or components such as 'drift=leaky,bound=weibull' (components: "
                f"{', '.join(kinds)})")
        name, _, column = choice.partition(":")
        allowed = _CHOICES[kind]
        if name not in [c.split(":")[0] for c in allowed]:
            raise ValueError(f"unknown {kind} {choice!r}; choose one of {', '.join(allowed)}")
        factory = getattr(kinds[kind], name)
        if name == "scaled_by":
            if not column:
                raise ValueError("drift=scaled_by needs a column: drift=scaled_by:coherence")
            chosen[kind] = factory(column)
        else:
            chosen[kind] = factory()
    if not chosen:
        raise ValueError(f"cannot read model {text!r}")
    return DecisionModel(**chosen)


def _model_from_file(path, name):
    import importlib.util
    from pathlib import Path

    from sdekit.ddm.simulation_model import SimulationModel

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"model file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"_sdekit_user_model_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, name):
        found = [k for k, v in vars(module).items()
                 if isinstance(v, (DecisionModel, SimulationModel))]
        raise ValueError(f"{path} defines no {name!r}; models it defines: "
                         f"{', '.join(found) or 'none'}")
    model = getattr(module, name)
    if not isinstance(model, (DecisionModel, SimulationModel)):
        raise ValueError(f"{path}:{name} is a {type(model).__name__}, not a DecisionModel or "
                         "SimulationModel")
    return model

"""Generalized decision models built from components named as modellers think of them.

A :class:`DecisionModel` is an accumulator between two absorbing bounds, assembled from

* a **drift** ``v(t, x; conditions)`` and a **noise** (diffusion) ``s(t, x)``,
* a **bound**: the half-width ``b(t)`` of the symmetric bounds ``±b(t)`` (constant, linear,
  exponential or Weibull collapse, or any function of time),
* a **start** distribution (a point, or a uniform window), relative to the bounds at t = 0,
* a **non-decision** time distribution (a point, or a uniform window) added to decision times,
* optionally an **urgency** gain multiplying drift and noise.

Evidence is measured from the midpoint between the bounds, so a leak ``v - leak * x`` pulls
towards it and the starting point ``z`` keeps the DDM's meaning (0 lower bound, 1 upper bound).
Crossing the upper bound is response 1, the lower bound response 0. With a constant drift ``v``,
unit noise, constant bound ``a``, point start ``z`` and point non-decision ``t0`` the model is the
DDM of :class:`sdekit.ddm.DDM` with the same parameters.

Each component declares its parameters once — names, domains, defaults, meaning — and any of them
can be fixed to a number when the component is made. A component may also read **conditions**:
columns of the data (say, the stimulus coherence) that are known per trial rather than fitted.

The same model object is simulated on the engine (:meth:`DecisionModel.simulate`, through
:func:`sdekit.sde.solve` with bridge-corrected first-passage times) and has its likelihood
computed by a Fokker–Planck solver (:meth:`DecisionModel.pdf`, :mod:`sdekit.sde.fokker_planck`),
and :func:`sdekit.ddm.fit` fits it to data.

Writing your own component: pass a plain Python function whose first arguments are ``t`` (and
``x`` for drift and noise) and whose remaining arguments are parameter or condition names; it is
compiled with Numba, so use arithmetic and :mod:`math` only. User functions are compiled once
per process (a few seconds the first time a model is used).

Examples
--------
>>> from sdekit import ddm
>>> model = ddm.DecisionModel(drift=ddm.Drift.leaky(), bound=ddm.Bound.weibull())
>>> model.param_names
('v', 'leak', 'a', 'collapse', 'scale', 'shape', 'z', 't0')
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass

import numba as nb
import numpy as np

from sdekit.ddm._params import Param

__all__ = ["Component", "Drift", "Noise", "Bound", "Start", "NonDecision", "Urgency",
           "param"]

# The bound never collapses below this fraction of its initial half-width: once the bounds
# nearly touch every path is absorbed within a step anyway, and a strictly positive width keeps
# the Fokker–Planck transformation to relative coordinates regular.
BOUND_FLOOR = 0.01

_INF = math.inf


def param(name, low=-_INF, high=_INF, default=None, doc="", *, low_open=True, high_open=True):
    """Declare a parameter: its domain ``(low, high)``, default and meaning (with its unit).

    Returns a :class:`sdekit.ddm._params.Param`, the declaration the DDM's own parameters use.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter name must be a Python identifier, got {name!r}")
    if not float(low) < float(high):
        raise ValueError(f"parameter {name}: low ({low}) must lie below high ({high})")
    return Param(name, float(low), float(high), bool(low_open), bool(high_open),
                 None if default is None else float(default), doc)


def declarations(params):
    """``{name: Param}`` from Param objects or ``{name: (low, high[, default[, doc]])}``."""
    if not isinstance(params, dict):
        return {p.name: p for p in (params or ())}
    out = {}
    for name, spec in params.items():
        out[name] = spec if isinstance(spec, Param) else param(name, *tuple(spec)[:4])
    return out


def find_declaration(params, name):
    """The :class:`Param` called ``name`` in ``params``, or a ValueError listing them."""
    for p in params:
        if p.name == name:
            return p
    raise ValueError(f"{name!r} is not a parameter of this model (parameters: "
                     f"{', '.join(p.name for p in params)})")


def checked_values(params, values):
    """``{name: float}`` for every declaration in ``params``: given ``values`` (a dict) or the
    defaults, each checked against its domain; unknown names, missing values without a default
    and non-numbers are ValueErrors naming the parameter."""
    values = dict(values or {})
    names = [p.name for p in params]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; this model's parameters are "
                         f"{', '.join(names)}")
    out = {}
    for p in params:
        value = values.get(p.name, p.default)
        if value is None:
            raise ValueError(f"parameter {p.name} ({p.doc}) must be given")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{p.name} must be a number, got {value!r}") from None
        p.check(np.asarray(value))
        out[p.name] = value
    return out


def checked_conditions(names, conditions):
    """``{name: float}`` for each condition a model reads (``names``), from ``conditions`` (a
    dict); a missing, unknown, non-numeric or non-finite condition is a ValueError naming it."""
    conditions = dict(conditions or {})
    missing = [c for c in names if c not in conditions]
    if missing:
        raise ValueError(f"this model reads condition(s) {missing}: give "
                         f"conditions={{{missing[0]!r}: value}}")
    extra = sorted(set(conditions) - set(names))
    if extra:
        raise ValueError(f"conditions {extra} are not read by this model (it reads "
                         f"{list(names) or 'none'})")
    out = {}
    for c in names:
        try:
            value = float(conditions[c])
        except (TypeError, ValueError):
            raise ValueError(f"condition {c} must be numeric, got {conditions[c]!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"condition {c} must be finite, got {value}")
        out[c] = value
    return out


@dataclass(frozen=True)
class _Const:
    """A component argument fixed to a number when the component was made."""

    value: float


class Component:
    """One ingredient of a :class:`DecisionModel`: a function and the parameters it reads.

    Parameters
    ----------
    fn : callable
        ``fn(t, x, *args)`` for drift and noise, ``fn(t, *args)`` for bound and urgency;
        Numba-compilable. ``args`` are parameter or condition names (the function's own argument
        names unless ``args`` says otherwise).
    params : dict or sequence of Param, optional
        Declarations of the parameters among ``args``: ``{"leak": (0, inf, 1.0, "1/s")}`` (low,
        high, default, doc) or :func:`param` objects. Every argument that is neither a declared
        parameter, a condition nor fixed is an error.
    conditions : sequence of str
        Arguments that are data columns (numeric), read per trial.
    fixed : dict, optional
        Arguments held at a number (they are then not parameters of the model).
    args : sequence of str, optional
        Names for ``fn``'s arguments after the leading ones (default: its signature).
    doc : str
        One line on what the component does.
    """

    kind = "component"
    leading = ("t",)

    def __init__(self, fn, params=None, conditions=(), fixed=None, args=None, doc=""):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__} needs a function, got {type(fn).__name__}")
        py = getattr(fn, "py_func", fn)
        if args is None:
            sig = list(inspect.signature(py).parameters)
            if sig[:len(self.leading)] != list(self.leading):
                raise ValueError(
                    f"a {self.kind} function must start with the arguments "
                    f"({', '.join(self.leading)}, ...), got ({', '.join(sig)})")
            args = sig[len(self.leading):]
        self.fn = fn
        self.args = tuple(args)
        self.doc = doc
        self.conditions = tuple(conditions)
        declared = declarations(params)
        fixed = dict(fixed or {})
        self.slots = {}
        for name in self.args:
            if name in fixed:
                value = fixed.pop(name)
                if not isinstance(value, numbers.Real) or not math.isfinite(value):
                    raise ValueError(f"{self.kind} argument {name} fixed to {value!r}: give a "
                                     "finite number")
                if name in declared:
                    try:
                        declared[name].check(np.asarray(float(value)))
                    except ValueError as exc:
                        raise ValueError(f"fixed {exc}") from None
                self.slots[name] = _Const(float(value))
            elif name in declared:
                self.slots[name] = declared[name]
            elif name in self.conditions:
                self.slots[name] = "condition"
            else:
                raise ValueError(
                    f"{self.kind} argument {name!r} is neither a declared parameter, a condition "
                    f"nor fixed; declare it with params={{'{name}': (low, high, default)}}, "
                    f"list it in conditions=, or fix it")
        if fixed:
            raise ValueError(f"fixed names {sorted(fixed)} are not arguments of this {self.kind} "
                             f"(its arguments: {', '.join(self.args)})")
        unused = [c for c in self.conditions if c not in self.args]
        if unused:
            raise ValueError(f"conditions {unused} are not arguments of this {self.kind}")

    @property
    def params(self):
        """The component's free parameters (declarations), in argument order."""
        return tuple(s for s in self.slots.values() if isinstance(s, Param))

    def with_fixed(self, **values):
        """A copy with some parameters held at numbers."""
        fixed = {n: s.value for n, s in self.slots.items() if isinstance(s, _Const)}
        fixed.update(values)
        return type(self)(self.fn, params=self.params, conditions=self.conditions,
                          fixed=fixed, args=self.args, doc=self.doc)

    def __repr__(self):
        parts = []
        for name, s in self.slots.items():
            if isinstance(s, _Const):
                parts.append(f"{name}={s.value:g}")
            elif s == "condition":
                parts.append(f"{name}=<condition>")
            else:
                parts.append(name)
        fn = getattr(getattr(self.fn, "py_func", self.fn), "__name__", "fn")
        return f"{type(self).__name__}({fn}: {', '.join(parts)})"


# -- built-in functions (module level so that their source identifies them) --------------------


def _drift_constant(t, x, v):
    return v


def _drift_leaky(t, x, v, leak):
    return v - leak * x


def _drift_linear_time(t, x, v, v_slope):
    return v + v_slope * t


def _noise_constant(t, x, s):
    return s


def _bound_constant(t, a):
    return 0.5 * a


def _bound_linear(t, a, slope):
    return max(0.5 * a - slope * t, BOUND_FLOOR * 0.5 * a)


def _bound_exponential(t, a, tau):
    return max(0.5 * a * math.exp(-t / tau), BOUND_FLOOR * 0.5 * a)


def _bound_weibull(t, a, collapse, scale, shape):
    # Hawkins et al. (2015): from a/2 towards (1 - collapse) a/2 along a Weibull CDF in time.
    fall = 1.0 - math.exp(-((t / scale) ** shape))
    return max(0.5 * a * (1.0 - collapse * fall), BOUND_FLOOR * 0.5 * a)


def _urgency_linear(t, urgency):
    return 1.0 + urgency * t


_V = param("v", doc="drift rate (evidence units per second)")
_A = param("a", 0.0, _INF, None, "initial bound separation (full, not half)")
_Z = param("z", 0.0, 1.0, 0.5, "relative starting point, 0 = lower bound")
_SZ = param("sz", 0.0, 1.0, 0.0, "width of the uniform start window (fraction of a)",
            low_open=False)
_T0 = param("t0", 0.0, _INF, None, "non-decision time (s)", low_open=False)
_ST = param("st", 0.0, _INF, 0.0, "width of the uniform non-decision window (s)",
            low_open=False)


class Drift(Component):
    """The drift ``v(t, x; conditions)`` of the accumulator (evidence units per second).

    ``x`` is measured from the midpoint between the bounds. Built-ins: :meth:`constant`,
    :meth:`leaky` (Ornstein–Uhlenbeck), :meth:`linear_in_time`, :meth:`scaled_by` (drift
    proportional to a condition such as coherence). Any function ``fn(t, x, ...)`` works.
    """

    kind = "drift"
    leading = ("t", "x")

    @classmethod
    def constant(cls, **fixed):
        """``v``: the DDM's constant drift."""
        return cls(_drift_constant, [_V], fixed=fixed, doc="constant drift v")

    @classmethod
    def leaky(cls, **fixed):
        """``v - leak * x``: an Ornstein–Uhlenbeck accumulator leaking towards the midpoint
        (``leak`` in 1/s; negative values make it unstable, self-exciting)."""
        leak = param("leak", default=0.0, doc="leak rate (1/s); negative = self-excitation")
        return cls(_drift_leaky, [_V, leak], fixed=fixed, doc="leaky drift v - leak x")

    @classmethod
    def linear_in_time(cls, **fixed):
        """``v + v_slope * t``: drift that grows (or decays) linearly during the trial."""
        slope = param("v_slope", default=0.0, doc="change of drift per second (1/s^2)")
        return cls(_drift_linear_time, [_V, slope], fixed=fixed,
                   doc="time-varying drift v + v_slope t")

    @classmethod
    def scaled_by(cls, condition, **fixed):
        """``v * data[condition]``: drift proportional to a numeric condition column (e.g.
        motion coherence), one ``v`` for all its levels."""
        if not isinstance(condition, str) or not condition.isidentifier():
            raise ValueError(f"condition must be a column name usable as an identifier, got "
                             f"{condition!r}")
        if condition in ("t", "x", "v"):
            raise ValueError(f"condition column may not be called {condition!r}")

        def scaled(t, x, v, c):
            return v * c

        return cls(scaled, [_V], conditions=(condition,), fixed=fixed,
                   args=("v", condition), doc=f"drift v * {condition}")


class Noise(Component):
    """The diffusion coefficient ``s(t, x)`` (evidence units per sqrt(second)).

    The default, ``Noise.constant()``, fixes ``s = 1``: the scaling convention of the DDM (every
    other parameter is then in units of the noise). Free ``s`` is not identifiable together with
    the drift and the bound.
    """

    kind = "noise"
    leading = ("t", "x")

    @classmethod
    def constant(cls, s=1.0):
        """A constant ``s`` (a number fixes it; ``s=None`` makes it a free parameter)."""
        decl = param("s", 0.0, _INF, 1.0, "diffusion coefficient")
        fixed = {} if s is None else {"s": s}
        return cls(_noise_constant, [decl], fixed=fixed, doc="constant noise")


class Bound(Component):
    """The half-width ``b(t)`` of the symmetric bounds ``±b(t)`` around the midpoint.

    Parameter ``a`` is the initial *full* separation (as in the DDM). Collapsing built-ins stop
    at 1 % of the initial half-width (``BOUND_FLOOR``): by then every path is absorbed.
    """

    kind = "bound"
    leading = ("t",)

    @classmethod
    def constant(cls, **fixed):
        """``a / 2``: the DDM's fixed bounds."""
        return cls(_bound_constant, [_A], fixed=fixed, doc="constant bound")

    @classmethod
    def linear(cls, **fixed):
        """``a/2 - slope * t``: linear collapse (``slope`` in evidence units per second)."""
        slope = param("slope", 0.0, _INF, 0.0, "collapse rate of the half-width (1/s)",
                      low_open=False)
        return cls(_bound_linear, [_A, slope], fixed=fixed, doc="linearly collapsing bound")

    @classmethod
    def exponential(cls, **fixed):
        """``a/2 * exp(-t / tau)``: exponential collapse with time constant ``tau`` (s)."""
        tau = param("tau", 0.0, _INF, 1.0, "collapse time constant (s)")
        return cls(_bound_exponential, [_A, tau], fixed=fixed,
                   doc="exponentially collapsing bound")

    @classmethod
    def weibull(cls, **fixed):
        """Weibull collapse (Hawkins et al. 2015): ``a/2 * (1 - collapse * (1 - exp(-(t /
        scale)^shape)))``, from ``a/2`` towards ``(1 - collapse) a/2``."""
        decl = [_A,
                param("collapse", 0.0, 1.0, 0.5, "fraction of the bound lost at long times",
                      low_open=False, high_open=False),
                param("scale", 0.0, _INF, 1.0, "time scale of the collapse (s)"),
                param("shape", 0.0, _INF, 3.0, "shape: > 1 late and abrupt, < 1 early")]
        return cls(_bound_weibull, decl, fixed=fixed, doc="Weibull-collapsing bound")


class Urgency(Component):
    """A gain ``u(t)`` multiplying both drift and noise (an urgency signal, Ditterich 2006).

    Multiplying the evidence and its noise by a growing gain is, for fixed bounds, equivalent to
    bounds that shrink by the same factor, while the accumulated evidence keeps its units.
    """

    kind = "urgency"
    leading = ("t",)

    @classmethod
    def linear(cls, **fixed):
        """``1 + urgency * t``."""
        decl = param("urgency", 0.0, _INF, 0.0, "growth of the gain per second (1/s)",
                     low_open=False)
        return cls(_urgency_linear, [decl], fixed=fixed, doc="linear urgency gain")


class _Located:
    """A location parameter, optionally with a uniform window around it (start, non-decision).

    Subclasses give ``kind``, the two declarations and the words used in messages.
    """

    kind = "location"
    declarations = ()
    described = "distribution"

    def __init__(self, window, fixed=None):
        self.window = bool(window)
        decl = self.declarations if self.window else self.declarations[:1]
        fixed = dict(fixed or {})
        unknown = set(fixed) - {p.name for p in decl}
        if unknown:
            raise ValueError(f"fixed names {sorted(unknown)} are not parameters of this "
                             f"{self.described} ({', '.join(p.name for p in decl)})")
        for p in decl:
            if p.name in fixed:
                try:
                    p.check(np.asarray(float(fixed[p.name])))
                except ValueError as exc:
                    raise ValueError(f"fixed {exc}") from None
        self.slots = {p.name: (_Const(float(fixed[p.name])) if p.name in fixed else p)
                      for p in decl}
        self.conditions = ()

    @property
    def params(self):
        return tuple(s for s in self.slots.values() if isinstance(s, Param))

    def __repr__(self):
        return f"{type(self).__name__}.{'uniform' if self.window else 'point'}()"


class Start(_Located):
    """Where the accumulator starts, relative to the bounds at t = 0 (0 lower, 1 upper).

    :meth:`point` (parameter ``z``) or :meth:`uniform` (``z`` and the window width ``sz``).
    """

    kind = "start"
    declarations = (_Z, _SZ)
    described = "start distribution"

    @classmethod
    def point(cls, **fixed):
        """All trials start at relative position ``z``."""
        return cls(False, fixed)

    @classmethod
    def uniform(cls, **fixed):
        """Start uniformly in ``[z - sz/2, z + sz/2]`` (``sz`` a fraction of the bound
        separation, as in the full DDM)."""
        return cls(True, fixed)


class NonDecision(_Located):
    """Non-decision time added to every decision time: :meth:`point` (``t0``, seconds) or
    :meth:`uniform` (uniform on ``[t0, t0 + st]``)."""

    kind = "nondecision"
    declarations = (_T0, _ST)
    described = "non-decision distribution"

    @classmethod
    def point(cls, **fixed):
        """A fixed non-decision time ``t0`` (s)."""
        return cls(False, fixed)

    @classmethod
    def uniform(cls, **fixed):
        """Non-decision times uniform on ``[t0, t0 + st]`` (s)."""
        return cls(True, fixed)


# -- compiling components into engine coefficients ----------------------------------------------


# Compiled wrappers by (function, layout): a model rebuilt from the same components (a benchmark
# loop, one model per subject) reuses them, and with them every kernel compiled for them.
_COMPILED = {}


def compile_component(component, index, name):
    """Compile ``name(<leading>, p)``: the component's function reading its arguments from the
    model's parameter vector ``p`` (``index`` maps names to positions) or from constants."""
    lead = ", ".join(component.leading)
    args = []
    for arg, slot in component.slots.items():
        args.append(repr(slot.value) if isinstance(slot, _Const) else f"p[{index[arg]}]")
    key = (component.fn, component.leading, tuple(args), name)
    if key not in _COMPILED:
        fn = component.fn if hasattr(component.fn, "py_func") else nb.njit(component.fn)
        namespace = {"_component": fn}
        source = f"def {name}({lead}, p):\n    return _component({lead}, {', '.join(args)})\n"
        exec(compile(source, f"<sdekit {component.kind} {name}>", "exec"), namespace)  # noqa: S102
        _COMPILED[key] = nb.njit(namespace[name])
    return _COMPILED[key]


def nb_product(first, second, name, leading):
    """``name(<leading>, p) = first(t, p) * second(<leading>, p)`` compiled (urgency gains)."""
    key = ("product", first, second, name, tuple(leading))
    if key not in _COMPILED:
        lead = ", ".join(leading)
        namespace = {"_first": first, "_second": second}
        source = f"def {name}({lead}, p):\n    return _first(t, p) * _second({lead}, p)\n"
        exec(compile(source, f"<sdekit {name}>", "exec"), namespace)  # noqa: S102
        _COMPILED[key] = nb.njit(namespace[name])
    return _COMPILED[key]


def nb_negated(fn):
    """``lower(t, p) = -fn(t, p)`` compiled (the lower bound of symmetric bounds)."""
    key = ("negated", fn)
    if key not in _COMPILED:
        # ``fn`` is a global of the generated function, not a closure variable: the CUDA backend
        # retargets a function's globals, and a closure would keep calling the CPU version.
        namespace = {"_fn": fn}
        exec(compile("def lower(t, p):\n    return -_fn(t, p)\n", "<sdekit lower>", "exec"),  # noqa: S102
             namespace)
        _COMPILED[key] = nb.njit(namespace["lower"])
    return _COMPILED[key]

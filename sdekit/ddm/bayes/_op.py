"""sdekit's compiled DDM log-density and its analytic gradient as one PyTensor operation.

The operation takes each trial's response time, response and seven parameters and returns each
trial's log-density with its (n, 7) Jacobian, from the kernel the maximum-likelihood fitter uses
(:func:`sdekit.ddm._optimize.loglik_grad`). Its gradient is the Jacobian scaled by the incoming
gradient, so PyMC's samplers get exact derivatives, never finite differences. Under PyTensor's
Numba backend (the one nutpie compiles the model with) the operation is the compiled kernel
itself, called inside the model's compiled log-density with no Python in between.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import grad_undefined
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from sdekit.ddm._optimize import FIT_TOL, _grad_rows
from sdekit.ddm.density._cache import DENSITY_DIGEST

__all__ = ["DDMLogDensity", "ddm_logdensity"]

_N_PARAMS = 7


@nb.njit(cache=True, nogil=True)
def _logdensity_and_jacobian(rt, response, v, a, z, t0, sv, sz, st, tol):
    out = np.empty((rt.shape[0], 1 + _N_PARAMS))
    _grad_rows(rt, response, v, a, z, t0, sv, sz, st, tol, out)
    return out[:, 0].copy(), out[:, 1:].copy()


class DDMLogDensity(Op):
    """Per-trial log-density of the full DDM and its Jacobian in (v, a, z, t0, sv, sz, st).

    Inputs: ``rt`` (s) and ``response`` (1 upper, 0 lower, as floats) of shape (n,), then the
    seven parameters, each of shape (n,). Outputs: the log-densities, shape (n,), and their
    derivatives, shape (n, 7). A trial with ``rt <= t0`` has log-density ``-inf`` and zero
    derivatives.

    Parameters
    ----------
    tol : float
        Relative quadrature tolerance of the full DDM's integrals (the simple DDM's series are
        exact to machine precision whatever it is).
    """

    __props__ = ("tol",)

    def __init__(self, tol=FIT_TOL):
        self.tol = float(tol)

    def make_node(self, rt, response, *params):
        if len(params) != _N_PARAMS:
            raise TypeError(f"DDMLogDensity takes rt, response and 7 parameters, got "
                            f"{2 + len(params)} inputs")
        inputs = [pt.as_tensor_variable(x, dtype="float64") for x in (rt, response, *params)]
        return Apply(self, inputs, [pt.dvector(), pt.dmatrix()])

    def perform(self, node, inputs, outputs):
        arrays = [np.ascontiguousarray(x, dtype=np.float64) for x in inputs]
        rt, response, params = arrays[0], arrays[1].astype(np.int64), arrays[2:]
        logp, jac = _logdensity_and_jacobian(rt, response, *params, self.tol)
        outputs[0][0] = logp
        outputs[1][0] = jac

    def L_op(self, inputs, outputs, output_grads):
        # the Jacobian output is used only through this gradient, so its own incoming gradient
        # (output_grads[1]) is disconnected and ignored
        g_logp = output_grads[0]
        jac = outputs[1]
        grads = [grad_undefined(self, 0, inputs[0], "response times are data"),
                 grad_undefined(self, 1, inputs[1], "responses are data")]
        grads += [g_logp * jac[:, k] for k in range(_N_PARAMS)]
        return grads


def _salt():
    # changes the Numba cache key of compiled models whenever the density sources change
    return int(DENSITY_DIGEST[:8], 16)


@register_funcify_default_op_cache_key(DDMLogDensity)
def _numba_ddm_logdensity(op, node=None, **kwargs):
    tol = op.tol

    @nb.njit
    def ddm_logdensity_numba(rt, response, v, a, z, t0, sv, sz, st):
        return _logdensity_and_jacobian(rt, response.astype(np.int64), v, a, z, t0, sv, sz, st,
                                        tol)

    return ddm_logdensity_numba, _salt()


def ddm_logdensity(rt, response, v, a, z, t0, sv, sz, st, tol=FIT_TOL):
    """Symbolic per-trial log-densities; every parameter broadcast to the trials' shape."""
    rt = pt.as_tensor_variable(rt, dtype="float64")
    shape = rt.shape
    params = [pt.broadcast_to(pt.as_tensor_variable(p, dtype="float64"), shape)
              for p in (v, a, z, t0, sv, sz, st)]
    logp, _jac = DDMLogDensity(tol)(rt, response, *params)
    return logp

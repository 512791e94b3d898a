"""First-passage-time densities and distribution functions of the drift-diffusion model.

Conventions (those of HDDM, fast-dm and rtdists): a Wiener process with drift ``v`` and unit
diffusion coefficient starts at ``z * a`` between an absorbing lower boundary at 0 and an upper
boundary at ``a``. ``a`` is the full boundary separation, ``z`` the relative start in (0, 1) and
``t0`` the non-decision time in seconds, so a trial's response time is ``rt = t0 + T`` with ``T``
the first-passage time. ``response`` is 1 for the upper boundary and 0 for the lower one. The
upper-boundary density is the lower-boundary density with ``v -> -v`` and ``z -> 1 - z``.

The full DDM adds across-trial variability: the drift is normal with standard deviation ``sv``,
the relative start uniform on ``[z - sz/2, z + sz/2]`` and the non-decision time uniform on
``[t0, t0 + st]`` (``t0`` is the *lower* edge of the window, as in fast-dm and rtdists; HDDM and
HSSM centre the window on ``t0``, so their ``t`` is our ``t0 + st/2``).


Numerics
--------
The zero-drift density is summed from the small- and large-time series of Navarro & Fuss (2009),
with per-point term counts (Gondan, Blurton & Kesselmeier 2014), in log space so the log-density
stays finite where the density underflows; the distribution function uses the series of Feller
and of Blurton, Kesselmeier & Gondan (2012). Across-trial drift variability is integrated in
closed form. Start-point and non-decision variability are integrated by globally adaptive
Gauss-Kronrod (7/15) quadrature in log-scaled space, stopping when the sum of the panel error
estimates ``|K15 - G7|`` is below ``tol`` (default 1e-9) times the integral; the quadrature over
the non-decision window nests the one over the start point. The log-density itself uses a
tensor-product GK15 rule to 1e-7 and falls back on the adaptive one.

Modules
-------
``series``
    Scalar kernels of the simple DDM: density series, derivatives, boundary probabilities,
    distribution function.
``quadrature``
    The Gauss-Kronrod rule, panel and adaptive loop every integral uses.
``full``
    Start-point and non-decision variability: the full-DDM log-density and its time integral.
``gradients``
    The full-DDM log-density's gradient in all seven parameters.
``arrays``
    Compiled loops over trials, the fast path for fitters.
``api``
    The public, validating functions re-exported here.
"""

from __future__ import annotations

# first: the cache keys of every kernel below depend on the density sources
from sdekit.ddm.density._cache import DENSITY_DIGEST  # noqa: I001
from sdekit.ddm.density.api import (
    GH_W,
    GH_X,
    GL_W,
    GL_X,
    cdf,
    grad_logpdf,
    logpdf,
    logpdf_validated,
    pdf,
    prob_upper,
    prob_upper_np,
    sf,
)
from sdekit.ddm.density.arrays import (
    cdf_array,
    grad_array,
    loglik_simple,
    logpdf_array,
    logpdf_simple_array,
    strides,
)
from sdekit.ddm.density.full import WS_SIZE, full_logpdf, full_logpdf_ws
from sdekit.ddm.density.gradients import (
    full_grad,
    full_grad_ws,
    grad_workspace,
    series_grad_row,
)
from sdekit.ddm.density.quadrature import DEFAULT_TOL, QUAD_TOL
from sdekit.ddm.density.series import cdf_dec, logpdf_dec, lower_cdf_p, prob_boundary

__all__ = [
    # validating functions
    "logpdf",
    "pdf",
    "cdf",
    "sf",
    "prob_upper",
    "grad_logpdf",
    "logpdf_validated",
    # compiled trial loops (no validation), the fitters' fast path
    "logpdf_simple_array",
    "loglik_simple",
    "logpdf_array",
    "cdf_array",
    "grad_array",
    "strides",
    # scalar kernels and constants other modules build on
    "logpdf_dec",
    "cdf_dec",
    "lower_cdf_p",
    "prob_boundary",
    "prob_upper_np",
    "full_logpdf",
    "full_logpdf_ws",
    "WS_SIZE",
    "full_grad",
    "full_grad_ws",
    "series_grad_row",
    "grad_workspace",
    "DEFAULT_TOL",
    "QUAD_TOL",
    "GH_X",
    "GH_W",
    "GL_X",
    "GL_W",
    "DENSITY_DIGEST",
]

# Names the single-module version exported under a leading underscore, kept one release for
# code that reached into it (the fast path documented in docs/ddm.md used these).
_logpdf_simple_array = logpdf_simple_array
_loglik_simple = loglik_simple
_logpdf_array = logpdf_array
_grad_array = grad_array
_cdf_array = cdf_array
_full_logpdf = full_logpdf
_cdf_dec = cdf_dec
_logpdf_dec = logpdf_dec
_lower_cdf_p = lower_cdf_p
_prob_boundary = prob_boundary

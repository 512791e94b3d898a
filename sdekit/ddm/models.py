"""The drift-diffusion model as a frozen, scipy.stats-like distribution over (rt, response)."""

from __future__ import annotations

import numpy as np

from sdekit.ddm import density as _d
from sdekit.ddm._params import DDM_PARAMS, PARAM_NAMES, validate_params

__all__ = ["DDM"]


class DDM:
    """Frozen (full) drift-diffusion model.

    Parameters
    ----------
    v : float
        Drift rate (per second, unit diffusion coefficient).
    a : float
        Full boundary separation (HSSM's ``a`` is half of it: ``a = 2 * a_hssm``).
    z : float, default 0.5
        Relative starting point in (0, 1); 0 is the lower boundary. rtdists' absolute start
        ``z_abs`` maps to ``z = z_abs / a``.
    t0 : float, default 0
        Non-decision time in seconds (lower edge of its window when ``st > 0``).
    sv : float, default 0
        Across-trial standard deviation of the drift.
    sz : float, default 0
        Width of the uniform start-point window ``[z - sz/2, z + sz/2]`` (relative units).
    st : float, default 0
        Width of the uniform non-decision window ``[t0, t0 + st]`` in seconds. HDDM and HSSM
        centre their window on their ``t``: their ``t`` equals our ``t0 + st / 2``.

    Notes
    -----
    Distribution methods take response times ``rt`` (seconds) and responses (1 upper, 0 or -1
    lower), broadcast against each other, and return joint (defective) quantities: ``pdf`` and
    ``cdf`` of a response integrate to ``P(response)``, not to 1.

    Examples
    --------
    >>> from sdekit.ddm import DDM
    >>> m = DDM(v=1.0, a=1.5, z=0.5, t0=0.3)
    >>> round(float(m.prob_upper()), 6)
    0.817574
    >>> df = m.rvs(1000, seed=0)
    >>> list(df.columns)
    ['rt', 'response']
    """

    params_spec = DDM_PARAMS

    def __init__(self, v, a, z=0.5, t0=0.0, sv=0.0, sz=0.0, st=0.0):
        p = validate_params(v=v, a=a, z=z, t0=t0, sv=sv, sz=sz, st=st)
        for k, x in p.items():
            if x.ndim != 0:
                raise ValueError(f"{k} must be a scalar for a frozen DDM, got shape {x.shape}")
        self._p = {k: float(x) for k, x in p.items()}

    # -- parameters ---------------------------------------------------------------------------

    @property
    def params(self) -> dict[str, float]:
        """Parameter values by name, in declaration order."""
        return dict(self._p)

    def __getattr__(self, name):
        p = self.__dict__.get("_p")
        if p is not None and name in p:
            return p[name]
        raise AttributeError(name)

    def __repr__(self):
        inner = ", ".join(f"{k}={self._p[k]!r}" for k in PARAM_NAMES)
        return f"DDM({inner})"

    @property
    def is_simple(self) -> bool:
        """True when there is no across-trial variability (sv = sz = st = 0)."""
        return self._p["sv"] == 0.0 and self._p["sz"] == 0.0 and self._p["st"] == 0.0

    # -- distribution -------------------------------------------------------------------------

    def logpdf(self, rt, response):
        """Log joint density of ``(rt, response)``; finite wherever ``rt > t0``."""
        # the parameters were checked when the model was frozen: only the data are
        return _d.logpdf_validated(rt, response, self._p)

    def pdf(self, rt, response):
        """Joint density of ``(rt, response)`` (per second)."""
        return np.exp(_d.logpdf_validated(rt, response, self._p))

    def cdf(self, rt, response):
        """``P(RT <= rt, response)``, tending to ``P(response)``."""
        return _d.cdf(rt, response, **self._p)

    def sf(self, rt, response):
        """``P(RT > rt, response) = P(response) - cdf``."""
        return _d.sf(rt, response, **self._p)

    def grad_logpdf(self, rt, response):
        """Gradient of `logpdf` with respect to each parameter, as a dict of arrays."""
        return _d.grad_logpdf(rt, response, **self._p)

    def prob_upper(self):
        """Probability of an upper-boundary response."""
        p = self._p
        return float(_d.prob_upper(p["v"], p["a"], p["z"], p["sv"], p["sz"]))

    def mean(self, response=None):
        """Mean response time in seconds.

        Parameters
        ----------
        response : {None, 0, 1}
            ``None``: over all trials; 1 or 0: conditional on that response.
        """
        from sdekit.ddm.sampling import _mean_dec

        p = self._p
        v, a, z, sv, sz = p["v"], p["a"], p["z"], p["sv"], p["sz"]
        vv = v + sv * _d.GH_X[:, None] if sv > 0 else np.array([[v]])
        ww = z + sz * (_d.GL_X[None, :] - 0.5) if sz > 0 else np.array([[z]])
        wv = _d.GH_W[:, None] if sv > 0 else np.ones((1, 1))
        wz = _d.GL_W[None, :] if sz > 0 else np.ones((1, 1))
        vv, ww = np.broadcast_arrays(vv, ww)
        pu = _d.prob_upper_np(vv, a, ww)
        pl = _d.prob_upper_np(-vv, a, 1.0 - ww)  # not 1 - pu: keeps tiny probabilities
        mu = np.vectorize(lambda x, y: _mean_dec(1, x, a, y))(vv, ww)
        ml = np.vectorize(lambda x, y: _mean_dec(0, x, a, y))(vv, ww)
        wts = wv * wz
        t_shift = p["t0"] + 0.5 * p["st"]
        if response is None:
            return float(np.sum(wts * (pu * mu + pl * ml))) + t_shift
        if response not in (0, 1, -1):
            raise ValueError(f"response must be None, 1 or 0/-1, got {response!r}")
        if response == 1:
            return float(np.sum(wts * pu * mu) / np.sum(wts * pu)) + t_shift
        return float(np.sum(wts * pl * ml) / np.sum(wts * pl)) + t_shift

    def rvs(self, size=1, seed=None):
        """Exact random trials.

        Parameters
        ----------
        size : int
            Number of trials.
        seed : int or None
            Seed; trial ``i`` depends only on ``(seed, i)``, whatever the thread count.

        Returns
        -------
        pandas.DataFrame
            Columns ``rt`` (seconds, float64) and ``response`` (1 upper, 0 lower, int64).
        """
        import pandas as pd

        from sdekit.ddm.sampling import sample_ddm

        rt, resp = sample_ddm(size, seed=seed, **self._p)
        return pd.DataFrame({"rt": rt, "response": resp})

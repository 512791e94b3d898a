"""Gaussian mixtures with exact scores at every noise level, and the :class:`Score` container.

A mixture p_0 = sum_k w_k N(m_k, S_k) pushed through a forward SDE with marginals
(alpha(t), sigma(t)) stays a mixture,

    p_t = sum_k w_k N(alpha m_k, C_k(t)),    C_k(t) = alpha^2 S_k + sigma^2 I,

so its score grad log p_t is known in closed form: a responsibility-weighted sum of
-C_k^{-1}(x - alpha m_k). With S_k = U_k diag(l_k) U_k^T diagonalised once, every C_k(t) shares
the eigenvectors U_k and has eigenvalues alpha^2 l_k + sigma^2: no factorisation per time and no
loss of accuracy when sigma is small. Responsibilities are combined by a streaming
log-sum-exp, so far-away components neither overflow nor underflow.

The velocity of the path X_t = alpha X_0 + sigma eps, v(t, x) = E[alpha' X_0 + sigma' eps | X_t = x]
(the field flow matching regresses on, and the probability-flow drift of the forward SDE), is
exact too: within component k, (alpha' X_0 + sigma' eps, X_t) are jointly Gaussian with
cross-covariance alpha' alpha S_k + sigma' sigma I, so

    v(t, x) = sum_k r_k(t, x) [alpha' m_k + U_k diag((alpha' alpha l_k + sigma' sigma) / c_k)
                               U_k^T (x - alpha m_k)],    c_k = alpha^2 l_k + sigma^2,

finite at both ends of the OT path (t = 0 and t = 1), where a formula through the score divides
by sigma or alpha.

The compiled score ``gm_score(t, x, q, out)`` reads the schedule and the mixture from its
parameter vector ``q`` (see :meth:`GaussianMixture.pack`): one compiled function serves every
mixture and every forward SDE, on the CPU, on CUDA (the engine retargets it) and, as
``gm_score_torch``, on torch tensors.
"""

from __future__ import annotations

import math
import numbers
import types

import numba as nb
import numpy as np

from ..sde.random import check_seed, child_seed, normals, uniforms
from .sdes import DiffusionSDE, alpha_sigma, alpha_sigma_rates

__all__ = ["GaussianMixture", "Score", "Velocity", "gm_score", "gm_score_torch", "gm_velocity",
           "gm_velocity_torch", "as_score"]

_HEADER = 6  # code, s0, s1, K, d, diagonal flag
_LABEL_TAG = 0x4C41


# -- the compiled score ----------------------------------------------------------------------------
@nb.njit(cache=True)
def gm_score(t, x, q, out):
    """grad_x log p_t(x) of the mixture packed in ``q`` (shape (dim,) into ``out``)."""
    alpha, sigma = alpha_sigma(int(q[0]), q[1], q[2], t)
    n_comp = int(q[3])
    d = int(q[4])
    diagonal = q[5] != 0.0
    o_w = _HEADER
    o_m = o_w + n_comp
    o_l = o_m + n_comp * d
    o_u = o_l + n_comp * d
    a2 = alpha * alpha
    s2 = sigma * sigma
    for i in range(d):
        out[i] = 0.0
    top = 0.0
    total = 0.0
    for k in range(n_comp):
        base = k * d
        wk = 1.0
        if n_comp > 1:
            # pass 1: log of w_k N(x; alpha m_k, C_k) up to a shared constant
            quad = 0.0
            logdet = 0.0
            det = 1.0
            for j in range(d):
                c = a2 * q[o_l + base + j] + s2
                if diagonal:
                    z = x[j] - alpha * q[o_m + base + j]
                else:
                    z = 0.0
                    for i in range(d):
                        z += q[o_u + (base + i) * d + j] * (x[i] - alpha * q[o_m + base + i])
                quad += z * z / c
                det *= c
                if (j & 15) == 15:  # one logarithm per 16 factors, long before det overflows
                    logdet += math.log(det)
                    det = 1.0
            lw = q[o_w + k] - 0.5 * (quad + logdet + math.log(det))
            if k == 0:
                top = lw
            elif lw > top:
                # streaming log-sum-exp: rescale what was accumulated against the new maximum
                scale = math.exp(top - lw)
                total *= scale
                for i in range(d):
                    out[i] *= scale
                top = lw
            else:
                wk = math.exp(lw - top)
        total += wk
        # pass 2: add wk * (-C_k^{-1} (x - alpha m_k)); recomputing z avoids a scratch array
        for j in range(d):
            c = a2 * q[o_l + base + j] + s2
            if diagonal:
                out[j] -= wk * (x[j] - alpha * q[o_m + base + j]) / c
            else:
                z = 0.0
                for i in range(d):
                    z += q[o_u + (base + i) * d + j] * (x[i] - alpha * q[o_m + base + i])
                zc = wk * z / c
                for i in range(d):
                    out[i] -= q[o_u + (base + i) * d + j] * zc
    for i in range(d):
        out[i] /= total


@nb.njit(cache=True)
def gm_velocity(t, x, q, out):
    """The velocity E[alpha' X_0 + sigma' eps | X_t = x] of the mixture packed in ``q``.

    The same two passes as :func:`gm_score`, kept a separate kernel so that the score's hot loop
    carries no branch for the velocity.
    """
    alpha, sigma = alpha_sigma(int(q[0]), q[1], q[2], t)
    dalpha, dsigma = alpha_sigma_rates(int(q[0]), q[1], q[2], t)
    n_comp = int(q[3])
    d = int(q[4])
    diagonal = q[5] != 0.0
    o_w = _HEADER
    o_m = o_w + n_comp
    o_l = o_m + n_comp * d
    o_u = o_l + n_comp * d
    a2 = alpha * alpha
    s2 = sigma * sigma
    cross = dsigma * sigma
    for i in range(d):
        out[i] = 0.0
    top = 0.0
    total = 0.0
    for k in range(n_comp):
        base = k * d
        wk = 1.0
        if n_comp > 1:
            quad = 0.0
            logdet = 0.0
            det = 1.0
            for j in range(d):
                c = a2 * q[o_l + base + j] + s2
                if diagonal:
                    z = x[j] - alpha * q[o_m + base + j]
                else:
                    z = 0.0
                    for i in range(d):
                        z += q[o_u + (base + i) * d + j] * (x[i] - alpha * q[o_m + base + i])
                quad += z * z / c
                det *= c
                if (j & 15) == 15:
                    logdet += math.log(det)
                    det = 1.0
            lw = q[o_w + k] - 0.5 * (quad + logdet + math.log(det))
            if k == 0:
                top = lw
            elif lw > top:
                scale = math.exp(top - lw)
                total *= scale
                for i in range(d):
                    out[i] *= scale
                top = lw
            else:
                wk = math.exp(lw - top)
        total += wk
        for j in range(d):
            lam = q[o_l + base + j]
            gain = (dalpha * alpha * lam + cross) / (a2 * lam + s2)
            out[j] += wk * dalpha * q[o_m + base + j]
            if diagonal:
                out[j] += wk * gain * (x[j] - alpha * q[o_m + base + j])
            else:
                z = 0.0
                for i in range(d):
                    z += q[o_u + (base + i) * d + j] * (x[i] - alpha * q[o_m + base + i])
                zc = wk * gain * z
                for i in range(d):
                    out[i] += q[o_u + (base + i) * d + j] * zc
    for i in range(d):
        out[i] /= total


def _batch_template(t, x, q, out):
    # Rows go through private scratch vectors: views x[i] would share the caller's reference
    # count, and threads updating one count contend for its cache line (4x slower on 2 cores).
    n, d = x.shape
    n_chunks = min(n, 64)
    for c in nb.prange(n_chunks):
        xi = np.empty(d)
        oi = np.empty(d)
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            for k in range(d):
                xi[k] = x[i, k]
            _score_fn(t, xi, q, oi)
            for k in range(d):
                out[i, k] = oi[k]


_score_fn = gm_score
_gm_score_batch = nb.njit(cache=True, parallel=True)(_batch_template)


_user_batches = {}


def _batch_for(fn):
    """A parallel loop over rows calling the compiled score ``fn`` (compiled once per process)."""
    if fn is gm_score:
        return _gm_score_batch
    batch = _user_batches.get(fn)
    if batch is None:
        namespace = dict(_batch_template.__globals__, _score_fn=fn)
        template = types.FunctionType(_batch_template.__code__, namespace, "score_batch")
        batch = _user_batches[fn] = nb.njit(parallel=True)(template)
    return batch


def _unpack(q):
    """Host-side view of a packed vector: (code, s0, s1, log w, means, eigvals, eigvecs)."""
    q = np.asarray(q, dtype=np.float64)
    code, s0, s1 = int(q[0]), float(q[1]), float(q[2])
    n_comp, d, diagonal = int(q[3]), int(q[4]), q[5] != 0
    o = _HEADER
    logw = q[o:o + n_comp]
    o += n_comp
    means = q[o:o + n_comp * d].reshape(n_comp, d)
    o += n_comp * d
    lam = q[o:o + n_comp * d].reshape(n_comp, d)
    o += n_comp * d
    vecs = None if diagonal else q[o:o + n_comp * d * d].reshape(n_comp, d, d)
    return code, s0, s1, logw, means, lam, vecs


def gm_score_torch(t, x, q):
    """Batched torch version of :func:`gm_score`.

    Parameters
    ----------
    t : float
        Time.
    x : torch.Tensor, shape (n, dim)
    q : torch.Tensor, shape (n_params,) or (rows, n_params)
        Packed mixture (only the first row is used: the mixture is the same for every path).

    Returns
    -------
    torch.Tensor, shape (n, dim)
    """
    import torch

    row = q[0] if q.dim() == 2 else q
    code, s0, s1, logw, means, lam, vecs = _unpack(row.detach().cpu().numpy())
    alpha, sigma = alpha_sigma(code, s0, s1, float(t))
    kw = dict(dtype=x.dtype, device=x.device)
    logw = torch.as_tensor(logw, **kw)
    means = torch.as_tensor(means, **kw)
    c = alpha * alpha * torch.as_tensor(lam, **kw) + sigma * sigma  # (K, d)
    y = x[:, None, :] - alpha * means[None]  # (n, K, d)
    z = y if vecs is None else torch.einsum("nki,kij->nkj", y, torch.as_tensor(vecs, **kw))
    zc = z / c
    logits = logw - 0.5 * ((z * zc).sum(-1) + torch.log(c).sum(-1))
    resp = torch.softmax(logits, dim=1)  # (n, K)
    g = zc if vecs is None else torch.einsum("kij,nkj->nki", torch.as_tensor(vecs, **kw), zc)
    return -(resp[:, :, None] * g).sum(1)


def gm_velocity_torch(t, x, q):
    """Batched torch version of :func:`gm_velocity` (arguments as :func:`gm_score_torch`)."""
    import torch

    row = q[0] if q.dim() == 2 else q
    code, s0, s1, logw, means, lam, vecs = _unpack(row.detach().cpu().numpy())
    alpha, sigma = alpha_sigma(code, s0, s1, float(t))
    dalpha, dsigma = alpha_sigma_rates(code, s0, s1, float(t))
    kw = dict(dtype=x.dtype, device=x.device)
    logw = torch.as_tensor(logw, **kw)
    means = torch.as_tensor(means, **kw)
    lam = torch.as_tensor(lam, **kw)
    c = alpha * alpha * lam + sigma * sigma  # (K, d)
    y = x[:, None, :] - alpha * means[None]  # (n, K, d)
    z = y if vecs is None else torch.einsum("nki,kij->nkj", y, torch.as_tensor(vecs, **kw))
    logits = logw - 0.5 * ((z * z / c).sum(-1) + torch.log(c).sum(-1))
    resp = torch.softmax(logits, dim=1)  # (n, K)
    zg = z * ((dalpha * alpha * lam + dsigma * sigma) / c)
    g = zg if vecs is None else torch.einsum("kij,nkj->nki", torch.as_tensor(vecs, **kw), zg)
    return (resp[:, :, None] * (dalpha * means[None] + g)).sum(1)


# -- a score as samplers see it --------------------------------------------------------------------
class Score:
    """A score function s(t, x) = grad_x log p_t(x) in the forms the backends need.

    Parameters
    ----------
    numba : callable, optional
        Numba-compiled ``numba(t, x, q, out)`` for one state ``x`` of shape (dim,) (CPU and CUDA
        backends; the engine's :meth:`~sdekit.sde.SDE.reverse` takes it as is).
    params : array_like
        Its parameter vector ``q`` (data: changing it never recompiles).
    torch : callable, optional
        Batched ``torch(t, x, q) -> (n, dim)`` on tensors, with ``q`` a tensor of shape
        (1, n_params) (torch backend, neural networks).
    dim : int, optional
        State dimension, when the score fixes it.
    name : str, optional
        For messages.
    """

    def __init__(self, numba=None, params=(), torch=None, dim=None, name="score"):
        if numba is None and torch is None:
            raise ValueError("a Score needs a numba function, a torch function or both")
        if numba is not None and not hasattr(numba, "py_func"):
            if not callable(numba):
                raise TypeError(f"numba must be a function, got {type(numba).__name__}")
            numba = nb.njit(numba)
        self.numba = numba
        self.torch = torch
        self.params = np.ascontiguousarray(np.atleast_1d(np.asarray(params, np.float64)).ravel())
        self.dim = dim
        self.name = name

    def __call__(self, t, x):
        """Evaluate on a batch: ``x`` of shape (n, dim) (NumPy), returns (n, dim)."""
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
        if x.ndim != 2:
            raise ValueError(f"x must have shape (n, dim), got {x.shape}")
        out = np.empty_like(x)
        if self.numba is not None:
            _batch_for(self.numba)(float(t), x, self.params, out)
            return out
        import torch

        with torch.no_grad():
            q = torch.as_tensor(self.params[None, :])
            return self.torch(float(t), torch.as_tensor(x), q).cpu().numpy()

    def torch_eval(self, t, x):
        """Evaluate on a torch tensor ``x`` of shape (n, dim), on its device."""
        import torch

        if self.torch is None:
            return torch.as_tensor(self(t, x.cpu().numpy()), device=x.device)
        q = torch.as_tensor(self.params[None, :], dtype=x.dtype, device=x.device)
        return self.torch(float(t), x, q)

    def __repr__(self):
        forms = [f for f, v in (("numba", self.numba), ("torch", self.torch)) if v is not None]
        return f"Score({self.name}, dim={self.dim}, forms={forms})"


class Velocity(Score):
    """A velocity field v(t, x) of a probability path, in the forms the backends need.

    The field whose ODE dx/dt = v(t, x) carries the path's marginals p_t along (the flow of a
    flow-matching model, or the probability-flow drift of a forward SDE). Arguments as
    :class:`Score`; the type tells :func:`sdekit.score.sample` that the flow samplers
    (``flow_euler``, ``flow_heun``) apply and the score samplers do not.
    """

    def __init__(self, numba=None, params=(), torch=None, dim=None, name="velocity"):
        super().__init__(numba=numba, params=params, torch=torch, dim=dim, name=name)

    def __repr__(self):
        return "Velocity" + super().__repr__()[len("Score"):]


def as_score(score):
    """A :class:`Score` from a Score, an object with ``as_score()`` or a compiled function."""
    if isinstance(score, Score):
        return score
    if hasattr(score, "as_score"):
        return score.as_score()
    if callable(score):
        return Score(numba=score)
    raise TypeError(f"score must be a sdekit Score or a numba function, got {type(score).__name__}")


# -- the mixture -----------------------------------------------------------------------------------
def _check_covs(covs, n_comp, d):
    covs = np.asarray(covs, dtype=np.float64)
    square = covs.shape == (d, d) and n_comp == d
    if covs.ndim == 0:
        covs = np.broadcast_to(covs * np.eye(d), (n_comp, d, d))
    elif covs.shape == (d, d):
        # checked before (K, d): when K == d a square array is one shared matrix
        covs = np.broadcast_to(covs, (n_comp, d, d))
    elif covs.shape == (n_comp,):
        covs = covs[:, None, None] * np.eye(d)
    elif covs.shape == (n_comp, d):
        covs = np.stack([np.diag(c) for c in covs])
    elif covs.shape != (n_comp, d, d):
        raise ValueError(
            f"covs has shape {covs.shape}; give a number, one variance per component "
            f"({n_comp},), one diagonal per component ({n_comp}, {d}), a shared matrix "
            f"({d}, {d}) or one matrix per component ({n_comp}, {d}, {d})"
        )
    covs = np.array(covs)
    if not np.all(np.isfinite(covs)):
        raise ValueError("covs must be finite")
    if not np.allclose(covs, np.swapaxes(covs, 1, 2), rtol=1e-10, atol=1e-12):
        hint = (f" (with {d} components in {d} dimensions a ({d}, {d}) array is one shared "
                "matrix; give per-component diagonals as (K, dim, dim) matrices)" if square else "")
        raise ValueError("covs must be symmetric matrices" + hint)
    return 0.5 * (covs + np.swapaxes(covs, 1, 2))


class GaussianMixture:
    """The mixture sum_k w_k N(m_k, S_k) in any dimension, with exact perturbed scores.

    Parameters
    ----------
    means : array_like, shape (K, dim)
        Component means (a 1-D array is one component).
    covs : float or array_like
        Covariances: a number (all components sigma^2 I), shape (K,) (isotropic per
        component), (K, dim) (diagonal), (dim, dim) (shared) or (K, dim, dim). Must be positive
        definite.
    weights : array_like, shape (K,), optional
        Mixture weights (positive; normalised here). Equal weights by default.

    Examples
    --------
    >>> gm = GaussianMixture([[0.0, 0.0], [3.0, 0.0]], 0.25, [0.3, 0.7])
    >>> x = gm.sample(1000, seed=0)
    >>> x.shape
    (1000, 2)
    """

    def __init__(self, means, covs=1.0, weights=None):
        means = np.asarray(means, dtype=np.float64)
        if means.ndim == 1:
            means = means[None, :]
        if means.ndim != 2 or means.size == 0:
            raise ValueError(f"means must have shape (n_components, dim), got {means.shape}")
        if not np.all(np.isfinite(means)):
            raise ValueError("means must be finite")
        n_comp, d = means.shape
        covs = _check_covs(covs, n_comp, d)
        lam, vecs = np.linalg.eigh(covs)
        if np.any(lam <= 1e-12 * np.maximum(1.0, lam.max(axis=1, keepdims=True))):
            bad = int(np.argmax(np.any(lam <= 0, axis=1)))
            raise ValueError(f"covs must be positive definite; component {bad} is not")
        if weights is None:
            weights = np.full(n_comp, 1.0 / n_comp)
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (n_comp,):
            raise ValueError(f"weights must have shape ({n_comp},), got {weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise ValueError("weights must be positive and finite")
        self.means = means
        self.covs = covs
        self.weights = weights / weights.sum()
        self.eigvals = lam
        self.eigvecs = vecs
        off = covs - np.einsum("kii->ki", covs)[:, :, None] * np.eye(d)
        self.diagonal = bool(np.all(off == 0.0))
        if self.diagonal:
            # eigh may permute a diagonal matrix's axes; keep them aligned with x's
            self.eigvals = np.einsum("kii->ki", covs).copy()
            self.eigvecs = np.broadcast_to(np.eye(d), (n_comp, d, d)).copy()

    @property
    def dim(self):
        return self.means.shape[1]

    @property
    def n_components(self):
        return self.means.shape[0]

    def __repr__(self):
        return f"GaussianMixture(n_components={self.n_components}, dim={self.dim})"

    # -- the law at time t ---------------------------------------------------------------------
    def perturbed(self, sde=None, t=0.0):
        """The mixture p_t of X_t under the forward ``sde`` (p_0 itself when ``sde`` is None)."""
        if sde is None:
            return self
        alpha, sigma = sde.marginal(float(t))
        covs = alpha**2 * self.covs + sigma**2 * np.eye(self.dim)
        return GaussianMixture(alpha * self.means, covs, self.weights)

    def _component_terms(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must have last dimension {self.dim}, got shape {x.shape}")
        y = x[..., None, :] - self.means  # (..., K, d)
        z = np.einsum("...ki,kij->...kj", y, self.eigvecs)
        zc = z / self.eigvals
        logits = (np.log(self.weights) - 0.5 * (z * zc).sum(-1)
                  - 0.5 * np.log(self.eigvals).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi))
        return logits, zc

    def logpdf(self, x):
        """log p_0(x) for ``x`` of shape (..., dim); returns shape (...)."""
        logits, _ = self._component_terms(x)
        top = logits.max(-1, keepdims=True)
        return (top + np.log(np.exp(logits - top).sum(-1, keepdims=True)))[..., 0]

    def responsibilities(self, x):
        """Posterior component probabilities, shape (..., K)."""
        logits, _ = self._component_terms(x)
        logits = logits - logits.max(-1, keepdims=True)
        r = np.exp(logits)
        return r / r.sum(-1, keepdims=True)

    def grad_logpdf(self, x):
        """grad_x log p_0(x), shape (..., dim) (NumPy, for checks)."""
        logits, zc = self._component_terms(x)
        r = np.exp(logits - logits.max(-1, keepdims=True))
        r /= r.sum(-1, keepdims=True)
        g = np.einsum("kij,...kj->...ki", self.eigvecs, zc)
        return -(r[..., None] * g).sum(-2)

    def sample(self, n, seed=None, return_labels=False):
        """``n`` independent draws, shape (n, dim) (and component labels, shape (n,)).

        Draw i depends only on (seed, i), through sdekit's per-path streams.
        """
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        seed = check_seed(seed)
        u = uniforms(child_seed(seed, _LABEL_TAG), n, 1)[:, 0]
        labels = np.minimum(np.searchsorted(np.cumsum(self.weights), u, side="right"),
                            self.n_components - 1)
        z = normals(seed, n, self.dim)
        root = self.eigvecs * np.sqrt(self.eigvals)[:, None, :]  # S_k = root root^T
        x = self.means[labels] + np.einsum("nij,nj->ni", root[labels], z)
        return (x, labels) if return_labels else x

    # -- exact scores ------------------------------------------------------------------------------
    def pack(self, sde):
        """The parameter vector q of :func:`gm_score` for this mixture under ``sde``.

        Layout: (schedule code, s0, s1, K, dim, diagonal flag, log w (K), means (K dim),
        eigenvalues (K dim), eigenvectors (K dim dim, omitted when diagonal)).
        """
        if not isinstance(sde, DiffusionSDE):
            raise TypeError(f"sde must be a forward SDE of sdekit.score, got {type(sde).__name__}")
        code, s0, s1 = sde.schedule()
        parts = [[code, s0, s1, self.n_components, self.dim, float(self.diagonal)],
                 np.log(self.weights), self.means.ravel(), self.eigvals.ravel()]
        if not self.diagonal:
            parts.append(self.eigvecs.ravel())
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])

    def score(self, sde):
        """The exact score of p_t under the forward ``sde``, as a :class:`Score`."""
        return Score(numba=gm_score, params=self.pack(sde), torch=gm_score_torch, dim=self.dim,
                     name=f"GaussianMixture({self.n_components})")

    def velocity(self, sde):
        """The exact velocity E[alpha' X_0 + sigma' eps | X_t = x] under ``sde``, as a
        :class:`Velocity`: the marginal flow-matching field of the path (any forward SDE here,
        the OT path of :class:`~sdekit.score.OTPathSDE` included)."""
        return Velocity(numba=gm_velocity, params=self.pack(sde), torch=gm_velocity_torch,
                        dim=self.dim, name=f"GaussianMixture({self.n_components}) velocity")

    # -- reference statistics ----------------------------------------------------------------------
    def mean(self):
        """Mean of the mixture, shape (dim,)."""
        return self.weights @ self.means

    def cov(self):
        """Covariance of the mixture, shape (dim, dim)."""
        mu = self.mean()
        dev = self.means - mu
        return (np.einsum("k,kij->ij", self.weights, self.covs)
                + np.einsum("k,ki,kj->ij", self.weights, dev, dev))

    @classmethod
    def ring(cls, n_modes=8, radius=4.0, std=0.3, weights=None):
        """``n_modes`` isotropic 2-D Gaussians evenly spaced on a circle (a standard toy target)."""
        angle = 2 * np.pi * np.arange(n_modes) / n_modes
        means = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        return cls(means, std**2, weights)

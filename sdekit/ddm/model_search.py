"""The search for a generalized decision model's maximum (:mod:`sdekit.ddm.fit_model`):
restarted simplices for simulated likelihoods, Newton refinement on the finite-difference
quadratic for numerical ones, and the test for a maximum against a closed bound of a domain.

The functions take the model's likelihood problem (``to_phi``, ``to_natural``, ``nll``,
``local_quadratic`` ...) and know nothing else of it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["simplex", "newton_decrement", "against_closed_bound", "refine", "PHI_BOX"]

#: Half-width of the search box in every unconstrained coordinate.
PHI_BOX = 20.0


def simplex(prob, x0, box, sizes=(0.5, 0.25, 0.1, 0.05, 0.02)):
    """Nelder–Mead restarted from its own result with shrinking initial simplices.

    A simulated likelihood is rugged on fine scales (a simulated trial whose boundary-crossing
    test changes outcome moves the estimate by a small jump) and its maximum often lies on a
    ridge (bound against non-decision time). A simplex that starts small stalls on the first
    ridge it meets; one that starts wide (``sizes`` in the unconstrained coordinates) sees the
    trend over the ripples, and each smaller restart refines it.
    """
    from scipy.optimize import minimize

    def objective(phi):
        return prob.nll(phi) / prob.n

    best = None
    for size in sizes:
        start = x0 if best is None else best.x
        simplex = np.vstack([start] + [start + size * e for e in np.eye(prob.k)])
        r = minimize(objective, start, method="Nelder-Mead", bounds=box,
                     options={"xatol": 1e-3, "fatol": 1e-6, "maxfev": 200 * prob.k,
                              "initial_simplex": np.clip(simplex, -PHI_BOX, PHI_BOX),
                              "adaptive": prob.k > 4})
        if best is None or r.fun < best.fun:
            best = r
    return best


def newton_decrement(g, H):
    """Predicted gain (nats) of a Newton step, ``g' H^-1 g / 2``, and the step; ``inf`` where
    the Hessian is not positive definite."""
    try:
        step = -np.linalg.solve(H, g)
    except np.linalg.LinAlgError:
        return math.inf, None
    gain = -0.5 * float(g @ step)
    if not (np.all(np.isfinite(step)) and gain >= 0):
        return math.inf, None
    return gain, step


def against_closed_bound(prob, theta, g, step):
    """Parameters at a constrained optimum on a closed bound of their domain: the likelihood
    rises towards the bound (``g`` is the gradient of the negative log-likelihood) and either
    the Newton step ``step`` leaves the domain through it or the parameter lies within e^-10 of
    it in the search coordinates (where the finite-difference Hessian, whose stencil crosses the
    bound, is no guide)."""
    out = np.zeros(prob.k, bool)
    phi = prob.to_phi(theta)
    for j, d in enumerate(prob.decl):
        target = None if step is None else theta[j] + step[j]
        hi = prob.upper_nat[j]
        if math.isfinite(d.low) and not d.low_open and g[j] > 0:
            out[j] = phi[j] <= -10.0 or (target is not None and target < d.low)
        if (math.isfinite(hi) and hi == d.high and not d.high_open and g[j] < 0):
            near = phi[j] <= -10.0 if prob.kind[j] == "exp_high" else phi[j] >= 10.0
            out[j] = near or (target is not None and target > hi)
    return out


def refine(prob, r, box, target, coarse):
    """From the coarse search's optimum to the fine grid's: Newton steps on the finite-difference
    quadratic (which the standard errors need anyway), or, when the optimum moved further than a
    Newton step should reach, L-BFGS-B again on the fine grid.

    Converged means a Newton step would gain less than 1e-3 nats.
    """
    from scipy.optimize import minimize

    theta = prob.to_natural(r.x)
    if coarse is not None and coarse != target:
        prob.prepare_grid(theta, target)
    f0, g, H = prob.local_quadratic(theta)
    gain, step = newton_decrement(g, H)
    polished = False
    for _ in range(3):
        if gain < 1e-3:
            break
        candidate = None if step is None else theta + step
        if (gain < 1.0 and candidate is not None and all(
                d.low < x < hi for d, x, hi in zip(prob.decl, candidate, prob.upper_nat,
                                                    strict=True))):
            f1 = prob.nll_theta(candidate)
            if f1 < f0:
                theta = candidate
                f0, g, H = prob.local_quadratic(theta)
                gain, step = newton_decrement(g, H)
                continue
        if polished:
            break
        # far from the quadratic neighbourhood (or an indefinite Hessian): search again
        r = minimize(prob.nll_grad, prob.to_phi(theta), jac=True, method="L-BFGS-B",
                     bounds=box, options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-7})
        polished = True
        theta = prob.to_natural(r.x)
        f0, g, H = prob.local_quadratic(theta)
        gain, step = newton_decrement(g, H)
    # a parameter pinned at the edge of its box, or resting against a closed bound of its
    # domain that the Newton step would cross (0 for a collapse rate the data do not show), has
    # no interior optimum: judge the others
    pinned = np.abs(np.abs(prob.to_phi(theta)) - PHI_BOX) < 1e-6
    pinned |= against_closed_bound(prob, theta, g, step)
    if np.any(pinned) and not np.all(pinned):
        keep = ~pinned
        gain, _ = newton_decrement(g[keep], H[np.ix_(keep, keep)])
    converged = math.isfinite(f0) and gain < 1e-3
    if converged:
        messages = []
    elif math.isfinite(gain):
        messages = [f"optimiser stopped without converging ({r.message}; a Newton step would "
                    f"still gain {gain:.2g} nats)"]
    else:
        messages = [f"optimiser stopped without converging ({r.message}; the log-likelihood "
                    "does not curve down in every direction there: not a maximum, or a "
                    "parameter the data do not identify; fix one of a trading pair or simplify "
                    "the model)"]
    if np.any(pinned) and not np.all(pinned):
        names = ", ".join(n for n, p in zip(prob.names, pinned, strict=True) if p)
        messages.append(f"{names}: at the bound of the parameter's domain (the data prefer a "
                        "value beyond it); its standard error is NaN and the others' are "
                        "conditional on it")
    else:
        pinned = np.zeros(prob.k, bool)
    return theta, f0, H, converged, messages, pinned

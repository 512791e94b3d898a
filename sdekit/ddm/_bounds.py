"""Maxima on the edge of the parameter space: which parameters sit at a bound, and the fit there.

A variability parameter at 0 (``sv``, ``sz``, ``st``), no contaminants (``p_outlier`` = 0), or
``t0`` at 0 are legitimate maxima of the likelihood over the model's parameter space: the
likelihood would rise further outside it, where the model is not defined. At such a point the
gradient does not vanish, so a test for an interior maximum reports a failed search. The right
test is the Karush–Kuhn–Tucker one: every parameter inside its range has a zero gradient, and
every parameter at its bound a gradient pointing out of the range. :func:`hold_at_bounds` finds
that point, holding the parameters at their bounds exactly and maximising over the others.
"""

from __future__ import annotations

import numpy as np

#: Parameters whose range has a closed lower end at 0, with the distance from it (in the
#: parameter's unit, seconds for t0 and st) within which an estimate is taken to sit there.
#: Relative to its scale each is far below any resolvable difference (1e-4 of a typical value).
LOWER_EDGES = {"t0": 1e-5, "sv": 1e-4, "st": 1e-5, "sz": 1e-5, "p_outlier": 1e-5}

#: Largest gradient component per trial (natural coordinates) allowed inward at a bound; beyond
#: it the likelihood rises into the range, so the bound is not the maximum.
_KKT_INWARD = 1e-6


def at_lower_edge(prob, theta):
    """Indices of the free slots within :data:`LOWER_EDGES` of 0 (formula coefficients never)."""
    return [j for j, b in enumerate(prob.base)
            if b in LOWER_EDGES and prob.kind[j] != "coef" and theta[j] < LOWER_EDGES[b]]


def kkt_holds(prob, grad, held):
    """Whether the negative log-likelihood does not fall inward from any held bound."""
    return all(grad[j] >= -_KKT_INWARD * prob.n for j in held)


def hold_at_bounds(prob, theta, held, maxiter=8):
    """Maximise the likelihood over the free slots with those in ``held`` at 0.

    Newton steps on the free block of the observed information, halved until they decrease the
    objective and stay in the parameter space.

    Returns
    -------
    theta, nll, grad, H : the end point, its negative log-likelihood, gradient (natural
        coordinates, all slots) and observed information (all slots).
    free_gradient : float
        Largest gradient component per trial over the free slots, in the optimiser's
        coordinates (the quantity the fit's convergence test uses).
    """
    theta = np.array(theta, dtype=float)
    for j in held:
        # p_outlier's range is open at 0 (its logit cannot reach it): it stays where it is
        if prob.base[j] != "p_outlier":
            theta[j] = 0.0
    free = np.ones(prob.k, bool)
    free[held] = False
    nll, grad = prob.nll_grad_theta(theta)
    H = prob.hessian(theta, grad)
    for _ in range(maxiter):
        sub = H[np.ix_(free, free)]
        if not np.all(np.isfinite(sub)) or (sub.size and np.linalg.eigvalsh(sub).min() <= 0):
            break
        step = np.zeros(prob.k)
        step[free] = np.linalg.solve(sub, grad[free]) if sub.size else 0.0
        lam, moved = 1.0, False
        while lam > 1e-4:
            new = theta - lam * step
            if prob.in_domain(new):
                f, g = prob.nll_grad_theta(new)
                if np.isfinite(f) and f <= nll:
                    moved = True
                    break
            lam *= 0.5
        if not moved:
            break
        done = nll - f < 1e-12 * max(1.0, abs(nll))
        theta, nll, grad = new, f, g
        H = prob.hessian(theta, grad)
        if done:
            break
    return theta, nll, grad, H, free_gradient(prob, theta, grad, free)


def free_gradient(prob, theta, grad, free):
    """Largest gradient component per trial over ``free`` slots in the optimiser's coordinates."""
    J = prob.to_natural(prob.to_phi(theta))[1]
    g_phi = J.T @ grad
    return float(np.max(np.abs(g_phi[free]))) / prob.n if free.any() else 0.0


def describe_bounds(prob, held):
    """``"t0 at 0"``, ``"sv at 0, st at 0"``: the held slots and the bound each sits at."""
    return ", ".join(f"{prob.names[j]} at 0" for j in held)

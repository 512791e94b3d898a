"""Search strategies for a :class:`sdekit.ddm.likelihood.LikelihoodProblem`, as functions of
the problem: Levenberg–Marquardt on the per-trial scores (BHHH), Newton phases on the observed
information with BFGS updates, and a final Newton polish.

They read the problem's coordinates, objective and curvature and write only its search state
(``best``, ``last_hessian``, ``tol``): a new strategy is a new function here, not a change to
the likelihood.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["levenberg_marquardt", "newton_phase", "newton_steps", "newton_polish", "joins",
           "in_phi", "MAX_STEP", "NEWTON_SWITCH"]

# Largest change of any unconstrained coordinate in one optimiser step: Gauss-Newton steps on a
# poorly conditioned start can otherwise leap to the far edges of the box.
MAX_STEP = 1.5
# Full DDM: an accepted Levenberg-Marquardt step gaining less than this (nats) hands over to
# Newton steps (see levenberg_marquardt).
NEWTON_SWITCH = 0.05


def levenberg_marquardt(prob, phi, maxiter=300):
    """Minimise the negative log-likelihood over phi by Levenberg-Marquardt steps on the
    outer product of the per-trial scores (BHHH): one gradient evaluation per accepted step,
    and quadratic-like convergence where the model fits, since that outer product estimates
    the information.

    A later start stops as soon as it enters the quadratic neighbourhood of the best
    optimum found so far (``prob.best``, with that optimum's outer product of scores or,
    for the full DDM, its observed information), where it can only end at that same
    optimum: it returns with the message ``"joined"``.

    For the full DDM (each gradient costs milliseconds there), close to an optimum the
    search hands over to Newton steps on the observed information (:meth:`newton_phase`):
    the outer product underestimates the curvature along the ``t0``-``sz`` ridge
    several-fold, so Levenberg-Marquardt steps zigzag across it.
    """
    theta, J = prob.to_natural(phi)
    f, gt, S = prob.nll_grad_theta(theta, scores=True)
    if not math.isfinite(f):
        return phi, f, False, "non-finite log-likelihood at the start", 1
    g, S = in_phi(prob, gt, S, J)
    lam, nev, ok, msg, small = 1e-3, 1, False, "iteration limit reached", 0
    history = [f]
    newton_after = math.inf  # a failed Newton phase is retried only after further progress
    prob.last_hessian = None
    for _ in range(maxiter):
        B = S.T @ S
        d = np.diag(B).copy() + 1e-12 * (1.0 + np.abs(np.diag(B)).max())
        while True:
            try:
                step = np.linalg.solve(B + lam * np.diag(d), -g)
            except np.linalg.LinAlgError:
                step = None
            if step is not None:
                big = float(np.max(np.abs(step))) if step.size else 0.0
                if big > MAX_STEP:
                    step = step * (MAX_STEP / big)
                new = phi + step
                if np.all(new >= prob.lo) and np.all(new <= prob.hi_phi):
                    th2, J2 = prob.to_natural(new)
                    f2, g2, S2 = prob.nll_grad_theta(th2, scores=True)
                    nev += 1
                    if math.isfinite(f2) and f2 <= f:
                        break
            lam *= 10.0
            if lam > 1e12:
                return phi, f, ok, "no step decreases the objective", nev
        df_ = f - f2
        dtheta = float(np.max(np.abs(th2 - theta)))
        scores_theta = S2
        phi, theta, f, gt = new, th2, f2, g2
        g, S = in_phi(prob, g2, S2, J2)
        lam = max(lam * 0.1, 1e-12)
        if prob.best is not None and joins(prob, theta, f):
            return phi, f, True, "joined", nev
        if prob.expensive and prob.held is None:
            if df_ < NEWTON_SWITCH and f < newton_after:
                phi2, f2, H, nn, status = newton_phase(prob, theta, f, gt)
                nev += nn
                if status == "converged":
                    prob.last_hessian = H
                if status is not None:
                    return phi2, f2, True, status, nev
                newton_after = f2 - NEWTON_SWITCH
                if f2 < f:
                    phi, theta = phi2, prob.to_natural(phi2)[0]
                    f, gt, S = prob.nll_grad_theta(theta, scores=True)
                    nev += 1
                    J = prob.to_natural(phi)[1]
                    g, S = in_phi(prob, gt, S, J)
        # Quadrature noise (relative 1e-7 per trial in the full DDM) sets a floor on what a
        # decrease can show: stop after three steps that gain less than that.
        # A variability parameter sliding to 0 (where its effect is quadratic) moves the
        # likelihood by ever smaller amounts: stop once the parameters stand still too.
        small = small + 1 if (df_ < 1e-9 * max(1.0, abs(f))
                              or (dtheta < 1e-7 and df_ < 1e-6)) else 0
        history.append(f)
        # ten steps gaining less than 1e-4 together: a parameter creeping along a flat ridge
        stalled = len(history) > 10 and history[-11] - f < 1e-4
        if (np.max(np.abs(g)) < 1e-9 * prob.n or df_ < 1e-14 * max(1.0, abs(f))
                or small >= 3 or stalled):
            ok, msg = True, "converged"
            if not prob.expensive:
                # The outer product of the scores estimates the information at an
                # optimum: enough to tell when a later start has joined this one.
                prob.last_hessian = scores_theta.T @ scores_theta
            break
    return phi, f, ok, msg, nev


def in_phi(prob, gt, S, J):
    """Gradient and per-trial scores in the optimiser's coordinates; a held slot
    (:attr:`held`, for profile likelihoods) gets none, so no step moves it."""
    g, S = J.T @ gt, S @ J
    if prob.held is not None:
        g[prob.held] = 0.0
        S[:, prob.held] = 0.0
    return g, S


def joins(prob, theta, f):
    """Whether a point lies in the quadratic neighbourhood of the best optimum so far: its
    objective within 0.05 of that optimum's and its distance in the optimum's observed
    information under 0.05 (about a third of a standard error in any direction)."""
    th_b, f_b, H_b = prob.best
    d = theta - th_b
    return f - f_b < 0.05 and 0.5 * float(d @ H_b @ d) < 0.05


def newton_phase(prob, theta, f, g, maxiter=10):
    """Newton steps in the natural parametrisation from a point near an optimum, on the
    Hessian of the analytic gradient (:meth:`hessian`) updated by BFGS after each step.

    Natural coordinates rather than the optimiser's: a variability parameter going to 0
    enters the likelihood quadratically in itself, so smoothly, but as exp(2 phi) in its
    logarithm, where Newton's method crawls. Coordinates at a bound of the search box with
    the gradient not pointing inward stay there, steps leaving the box are projected back
    onto it, and every step is capped at ``MAX_STEP`` in the optimiser's coordinates. A
    Hessian that is not positive definite on the free coordinates ends the phase (the outer
    search goes on).

    Once a start has reached an optimum, later starts step on that optimum's Hessian
    instead of computing their own, and stop as soon as they join it.

    Returns ``(phi, f, H, evaluations, status)``: status ``"converged"`` once the
    predicted decrease is below 1e-6 nats, ``"joined"``, or None where the phase failed.
    """
    if prob.best is not None:
        return newton_steps(prob, theta, f, g, prob.best[2].copy(), maxiter, 0, join=True)
    from sdekit.ddm._optimize import FIT_TOL

    # At the search tolerance the quadrature's error (up to 1e-5 of each trial's density,
    # smooth in the parameters but not small) moves the optimum by more than these steps
    # resolve: the last steps run at the fitting tolerance.
    search_tol, prob.tol = prob.tol, min(prob.tol, FIT_TOL)
    try:
        f, g = prob.nll_grad_theta(theta)
        H = prob.hessian(theta, g)
        return newton_steps(prob, theta, f, g, H, maxiter, prob.k + 1)
    finally:
        prob.tol = search_tol


def newton_steps(prob, theta, f, g, H, maxiter, nev, join=False):
    phi = prob.to_phi(theta)
    inward = 1e-9 * max(1.0, abs(f))
    for _ in range(maxiter):
        if not np.all(np.isfinite(H)):
            break
        out = (((phi <= prob.lo + 1e-9) & (g > -inward))
               | ((phi >= prob.hi_phi - 1e-9) & (g < inward)))
        free = ~out
        step = np.zeros(prob.k)
        if free.any():
            ev, V = np.linalg.eigh(H[np.ix_(free, free)])
            if not ev.min() > 1e-10 * ev.max():
                break  # not yet where the objective is convex: back to the outer search
            step[free] = -V @ ((V.T @ g[free]) / ev)
        pred = -0.5 * float(g @ step)
        if pred < 1e-6:
            return phi, f, H, nev, "converged"
        lam, accepted = 1.0, False
        while lam > 1e-3:
            trial = prob.to_phi(theta + lam * step)
            big = float(np.max(np.abs(trial - phi)))
            if big > MAX_STEP:
                lam *= 0.5 * MAX_STEP / big
                continue
            th2 = prob.to_natural(trial)[0]
            f2, g2 = prob.nll_grad_theta(th2)
            nev += 1
            if math.isfinite(f2) and f2 <= f:
                accepted = True
                break
            lam *= 0.5
        if not accepted:
            break
        s, y = th2 - theta, g2 - g
        Hs = H @ s
        sHs, sy = float(s @ Hs), float(s @ y)
        if sHs > 0 and sy > 1e-10 * sHs:
            H = H - np.outer(Hs, Hs) / sHs + np.outer(y, y) / sy
        phi, theta, f, g = trial, th2, f2, g2
        if join and joins(prob, theta, f):
            return phi, f, H, nev, "joined"
    return phi, f, H, nev, None


def newton_polish(prob, theta, nll, grad, H):
    """A few Newton steps in the natural parametrisation from the optimiser's end point:
    they take the gradient to rounding level, so the reported maximum does not depend on
    the optimiser's stopping rule."""
    for _ in range(4):
        try:
            if np.linalg.eigvalsh(H).min() <= 0:
                break
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            break
        lam = 1.0
        while lam > 1e-3:
            new = theta - lam * step
            if prob.in_domain(new):
                f, g = prob.nll_grad_theta(new)
                if f <= nll:
                    break
            lam *= 0.5
        else:
            break
        done = nll - f < 1e-12 * max(1.0, abs(nll))
        # Predicted decrease of this step: below 1e-8 nats it moved the estimate by about
        # 1e-4 standard errors, too little to change the Hessian in any reported digit.
        tiny = 0.5 * float(step @ (H @ step)) < 1e-8
        theta, nll, grad = new, f, g
        if prob.expensive or tiny:
            # the Hessian barely moves and costs k gradients: further steps reuse it, and
            # only while the gradient is above the convergence test's threshold
            gphi = prob.to_natural(prob.to_phi(theta))[1].T @ grad
            if done or float(np.max(np.abs(gphi))) < 1e-6 * prob.n:
                break
            continue
        H = prob.hessian(theta, grad)
        if done:
            break
    return theta, nll, grad, H

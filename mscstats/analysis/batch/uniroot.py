"""R's uniroot (cores/uniroot.py) for many replicates at once.

Each replicate has its own function value, bracket and iterates; one call of
``f`` evaluates the function of every still-searching replicate at its current
point, so the work per iteration is one array operation, not a loop over
replicates. Step for step the same arithmetic as cores.uniroot._zeroin, so a
step function (a rank statistic of the shift) stops at the same point.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..cores.uniroot import R_TOL

__all__ = ["uniroot_batch"]

_EPS = 2.220446049250313e-16


def uniroot_batch(f: Callable[[np.ndarray, np.ndarray], np.ndarray], lower: np.ndarray,
                  upper: np.ndarray, f_lower: np.ndarray, f_upper: np.ndarray, *,
                  tol: float = R_TOL, maxiter: int = 1000) -> np.ndarray:
    """The root of each replicate's function in [lower, upper], as uniroot(...)$root.

    f(x, rows): the functions of the replicates ``rows`` (indices) at x (one point
    each). f_lower, f_upper: the values at the ends, of opposite signs (the caller
    checks that, as uniroot raises).
    """
    a, b = np.array(lower, dtype=float), np.array(upper, dtype=float)
    fa, fb = np.array(f_lower, dtype=float), np.array(f_upper, dtype=float)
    root = np.where(fa == 0.0, a, b)
    active = (fa != 0.0) & (fb != 0.0)
    c, fc = a.copy(), fa.copy()
    for _ in range(maxiter + 1):
        if not active.any():
            break
        prev_step = b - a
        swap = active & (np.abs(fc) < np.abs(fb))      # b: the best approximation so far
        a, b, c = np.where(swap, b, a), np.where(swap, c, b), np.where(swap, b, c)
        fa, fb, fc = np.where(swap, fb, fa), np.where(swap, fc, fb), np.where(swap, fb, fc)
        tol_act = 2.0 * _EPS * np.abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        finished = active & ((np.abs(new_step) <= tol_act) | (fb == 0.0))
        root = np.where(finished, b, root)
        active &= ~finished
        interpolate = active & (np.abs(prev_step) >= tol_act) & (np.abs(fa) > np.abs(fb))
        if interpolate.any():
            new_step = np.where(interpolate, _interpolated_step(
                a, b, c, fa, fb, fc, prev_step, tol_act, new_step, interpolate), new_step)
        small = np.abs(new_step) < tol_act                # never less than the tolerance
        new_step = np.where(small, np.where(new_step > 0, tol_act, -tol_act), new_step)
        rows = np.flatnonzero(active)
        if not len(rows):
            break
        a = np.where(active, b, a)
        fa = np.where(active, fb, fa)
        b = np.where(active, b + new_step, b)
        fb[rows] = f(b[rows], rows)
        same_side = active & (((fb > 0) & (fc > 0)) | ((fb < 0) & (fc < 0)))
        c, fc = np.where(same_side, a, c), np.where(same_side, fa, fc)
    return np.where(active, b, root)


def _interpolated_step(a, b, c, fa, fb, fc, prev_step, tol_act, bisect_step, use):
    """Secant (a == c) or inverse quadratic step where it is safe, else bisection."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cb = c - b
        secant = a == c
        t1s = fb / fa
        p_s, q_s = cb * t1s, 1.0 - t1s
        q0, t1, t2 = fa / fc, fb / fc, fb / fa
        p_q = t2 * (cb * q0 * (q0 - t1) - (b - a) * (t1 - 1.0))
        q_q = (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0)
        p, q = np.where(secant, p_s, p_q), np.where(secant, q_s, q_q)
        q = np.where(p > 0, -q, q)
        p = np.abs(p)
        safe = (p < 0.75 * cb * q - np.abs(tol_act * q) / 2) & (p < np.abs(prev_step * q / 2))
        return np.where(use & safe, p / q, bisect_step)

"""R's ``uniroot``: Brent's root finder with R's stopping rule.

Several R references (``wilcox.test`` confidence limits, ``fisher.test``'s
conditional odds ratio) report a root found by ``uniroot`` to a loose tolerance
(1e-4, or eps^0.25). The function there is often a step function, so a
different root finder would stop at a different point inside the same step.
This module follows the algorithm of R's ``R_zeroin2`` (stats/src/zeroin.c) so
that the reported numbers are R's own.
"""

from __future__ import annotations

import math
from typing import Callable

__all__ = ["uniroot", "R_TOL"]

_EPS = 2.220446049250313e-16
R_TOL = _EPS ** 0.25        # uniroot's default tol


def uniroot(f: Callable[[float], float], lower: float, upper: float, *, tol: float = R_TOL,
            f_lower: float | None = None, f_upper: float | None = None,
            maxiter: int = 1000) -> float:
    """The root of ``f`` in [lower, upper], as R's ``uniroot(f, c(lower, upper))$root``."""
    fa = f(lower) if f_lower is None else f_lower
    fb = f(upper) if f_upper is None else f_upper
    if math.isnan(fa) or math.isnan(fb):
        raise ValueError("uniroot: f is NaN at an end point")
    if fa * fb > 0:
        raise ValueError("uniroot: f() values at end points not of opposite sign")
    return _zeroin(f, lower, upper, fa, fb, tol, maxiter)


def _zeroin(f, a, b, fa, fb, tol, maxiter):
    # a, b: the last two approximations; c: the point that brackets the root with b.
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    c, fc = a, fa
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):          # b must be the best approximation so far
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * _EPS * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            new_step = _interpolated_step(a, b, c, fa, fb, fc, prev_step, tol_act, new_step)
        if abs(new_step) < tol_act:    # never step less than the tolerance
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa              # keep the root bracketed by b and c
    return b


def _interpolated_step(a, b, c, fa, fb, fc, prev_step, tol_act, bisect_step):
    """Secant (two points) or inverse quadratic (three) step, if it is safe; else bisection."""
    cb = c - b
    if a == c:
        t1 = fb / fa
        p, q = cb * t1, 1.0 - t1
    else:
        q, t1, t2 = fa / fc, fb / fc, fb / fa
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
        q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
    if p > 0:
        q = -q
    else:
        p = -p
    if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
        return p / q
    return bisect_step

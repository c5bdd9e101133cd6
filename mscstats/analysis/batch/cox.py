"""The Cox model with any covariates over replicates: cores/cox.py's Newton-Raphson
(coxph: start 0, step halving, relative change of the log partial likelihood
<= 1e-9, at most 30 iterations), Efron or Breslow ties, strata, for every
replicate at once.

cox_batch (kernels.py) fits one 0/1 covariate from risk-set counts; this one takes
x (B, n, p): at each replicate's distinct event times the sums of r = exp(x beta),
r x and r x x' over the risk set and over the deaths are products with 0/1 masks of
the subjects sorted by stratum and time, and Efron's k-th of d tied deaths is one more
axis, so an iteration costs a few array operations whatever B. Replicates are followed each on its own path and
frozen when done.

``reliable`` is False where the scalar fit could do something this one does not
follow: an information matrix that is not clearly positive definite (cox_fit
raises or its Cholesky test is borderline), a step that halving cannot make
acceptable, no convergence in 30 iterations, a coefficient coxph would call
possibly infinite, or an SE that is not positive. The grid adapter hands those
replicates to the runner.

``ambiguous``: a step changed the log likelihood by an amount within rounding
(1e-12 relative) of the stopping threshold eps, so cox_fit, whose sums round
otherwise, may stop one step earlier or later; the adapter refits those (rare)
replicates with cox_fit. Elsewhere the two agree to 1e-10
(tests/analysis/test_batch_cox.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import _runs, _take

__all__ = ["CoxBatch", "cox_fit_batch"]

_EPS = 1e-9                       # cores/cox.py: coxph.control(eps), toler.inf sqrt(eps)
_MAX_ITER = 30
_ROUNDING = 1e-12              # a relative gain of the likelihood this small is rounding
_CONDITION = 1e-8      # smallest eigenvalue / largest below this: ill-conditioned, the runner


@dataclass(frozen=True)
class CoxBatch:
    params: np.ndarray        # (B, p)
    se: np.ndarray            # (B, p), NaN where not reliable
    reliable: np.ndarray      # (B,)
    ambiguous: np.ndarray     # (B,) the last step's gain was within rounding (see cox_fit_batch)
    llf: np.ndarray
    llnull: np.ndarray


@dataclass(frozen=True)
class _Sets:
    """Sorted subjects and, at each replicate's distinct event times (T rows, padded),
    who is at risk and who dies there."""
    x: np.ndarray             # (B, n, p) centred covariates, sorted; 0 where left out
    xx: np.ndarray            # (B, n, p * p) their products x x'
    event: np.ndarray         # (B, n) sorted events (0 where left out)
    risk: np.ndarray          # (B, T, n) 1 where the subject is in the event time's risk set
    dead: np.ndarray          # (B, T, n) 1 where the subject dies at that time
    d: np.ndarray             # (B, T) deaths (0 in padding rows)

    def rows(self, idx: np.ndarray) -> "_Sets":
        return _Sets(*(getattr(self, f)[idx] for f in ("x", "xx", "event", "risk", "dead", "d")))


def _prepare(time, event, x, included, strata) -> _Sets:
    w = np.asarray(included, dtype=bool)
    count = w.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(w[..., None], x, 0.0).sum(axis=1, keepdims=True) / count[..., None]
    x = np.where(w[..., None], x - mean, 0.0)
    time = np.where(w, time, np.inf)
    codes = np.zeros(time.shape, dtype=np.int64) if strata is None else \
        np.broadcast_to(np.asarray(strata, dtype=np.int64), time.shape)
    codes = np.where(w, codes, codes.max(initial=0) + 1)         # left out: a stratum apart
    order = np.lexsort((time, codes), axis=-1)
    t, s = _take(time, order), _take(codes, order)
    ev = _take(np.where(w, event, 0).astype(np.float64), order)
    start, end, last = _runs(s, t)
    _, stratum_end, _ = _runs(s)
    c = np.cumsum(ev, axis=-1)
    d = c - _take(c, start) + _take(ev, start)            # the run's deaths so far
    close = last & (d > 0)
    # the closing positions first, in order, then padding
    width = max(int(close.sum(axis=-1).max(initial=0)), 1)
    idx = np.argsort(~close, axis=-1, kind="stable")[:, :width]
    real = _take(close, idx)
    first, after = _take(start, idx), _take(stratum_end, idx) + 1
    position = np.arange(t.shape[-1])
    risk = (position >= first[..., None]) & (position < after[..., None]) & real[..., None]
    dead = risk & (position <= _take(end, idx)[..., None]) & (ev[:, None, :] > 0)
    xs = np.take_along_axis(x, order[..., None], axis=1)
    xx = (xs[..., :, None] * xs[..., None, :]).reshape(xs.shape[:2] + (-1,))
    return _Sets(xs, xx, ev, risk.astype(np.float64), dead.astype(np.float64),
                 np.where(real, _take(d, idx), 0.0))


def _each(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A (B,) mask shaped to select whole replicates of ``like``."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


def _evaluate(beta, sets: _Sets, efron: bool):
    """Log partial likelihood (B,), score (B, p) and information (B, p, p) at beta."""
    eta = np.einsum("bnp,bp->bn", sets.x, beta)
    r = np.exp(eta)
    p = beta.shape[-1]
    at_risk, dying = sets.risk * r[:, None, :], sets.dead * r[:, None, :]
    risk0, dead0 = at_risk.sum(-1), dying.sum(-1)
    risk1, dead1 = at_risk @ sets.x, dying @ sets.x
    risk2 = (at_risk @ sets.xx).reshape(risk1.shape + (p,))
    dead2 = (dying @ sets.xx).reshape(risk1.shape + (p,))
    ev = sets.event
    loglik = (eta * ev).sum(axis=-1)
    score = (sets.x * ev[..., None]).sum(axis=1)
    # the k-th of d tied deaths sees the risk set less k/d of the deaths (Efron): with
    # s0_k = risk0 - f_k dead0 and f_k = k/d, every sum over k is a sum of scalars
    # over k times risk or death sums, so the K axis never meets the p x p one
    d = sets.d[..., None]
    k = np.arange(int(sets.d.max(initial=0)))
    active = k < d                                             # (B, T, K)
    f = np.where(active, k / np.where(d > 0, d, 1.0), 0.0) if efron else np.zeros(active.shape)
    s0 = np.where(active, risk0[..., None] - f * dead0[..., None], 1.0)
    inv = np.where(active, 1.0 / s0, 0.0)
    w0, w1 = inv.sum(-1), (f * inv).sum(-1)                    # sum 1/s0, f/s0
    q0, q1, q2 = (inv * inv).sum(-1), (f * inv * inv).sum(-1), (f * f * inv * inv).sum(-1)
    loglik = loglik - (np.log(s0) * active).sum(axis=(1, 2))
    score = score - (risk1 * w0[..., None] - dead1 * w1[..., None]).sum(axis=1)
    outer = risk1[..., :, None] * risk1[..., None, :]
    cross = risk1[..., :, None] * dead1[..., None, :]
    cross = cross + np.swapaxes(cross, -1, -2)
    deads = dead1[..., :, None] * dead1[..., None, :]
    info = (risk2 * w0[..., None, None] - dead2 * w1[..., None, None]
            - outer * q0[..., None, None] + cross * q1[..., None, None]
            - deads * q2[..., None, None]).sum(axis=1)
    return loglik, score, info


def _positive_definite(info: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Clearly positive definite: the smallest eigenvalue above 1e-8 of the largest and
    of ``scale`` (the covariates' mean square: an information that is 0 but for
    rounding is not one)."""
    finite = np.isfinite(info).all(axis=(-1, -2))
    eig = np.linalg.eigvalsh(np.where(finite[:, None, None], info, 0.0))
    return finite & (eig[:, 0] > _CONDITION * np.maximum(eig[:, -1], scale))


def _solve(info, vector, ok):
    safe = np.where(ok[:, None, None], info, np.eye(info.shape[-1]))
    return np.linalg.solve(safe, vector[..., None])[..., 0]


def cox_fit_batch(time, event, x, included, strata=None, ties: str = "efron") -> CoxBatch:
    """cores.cox.cox_fit(time, event, x, names, strata, ties) of each replicate's included
    subjects; time, event, included (B, n), x (B, n, p), strata (B, n) integer codes."""
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    x = np.asarray(x, dtype=np.float64)
    sets = _prepare(np.asarray(time, dtype=np.float64), np.asarray(event), x, included, strata)
    efron = ties == "efron"
    b = x.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = (sets.x ** 2).sum(axis=(1, 2)) / np.asarray(included).sum(axis=-1)
    beta = np.zeros((b, x.shape[-1]))
    loglik, score, info = _evaluate(beta, sets, efron)
    null = loglik
    reliable = (sets.d.sum(axis=-1) > 0) & _positive_definite(info, scale)
    done = ~reliable
    ambiguous = np.zeros(b, dtype=bool)
    for _ in range(_MAX_ITER):
        step = np.where(done[:, None], 0.0, _solve(info, score, ~done))
        new = [loglik.copy(), score.copy(), info.copy()]
        pending = np.flatnonzero(~done)
        for _ in range(30):                            # halve while the likelihood falls
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                trial = _evaluate(beta[pending] + step[pending], sets.rows(pending), efron)
            rises = (trial[0] >= loglik[pending]) | \
                (np.abs(trial[0] - loglik[pending]) <= _EPS * np.abs(trial[0]))  # converged
            good = np.isfinite(trial[0]) & rises & np.isfinite(trial[2]).all(axis=(-1, -2))
            for whole, part in zip(new, trial):
                whole[pending[good]] = part[good]
            pending = pending[~good]
            if not len(pending):
                break
            step[pending] /= 2
        stuck = np.zeros(b, dtype=bool)
        stuck[pending] = True                           # cox_fit stops there: not followed
        reliable &= ~stuck
        moving = ~done & ~stuck
        converged = np.abs(new[0] - loglik) <= _EPS * np.abs(new[0])
        # a change within rounding of the stopping threshold: cox_fit's sums, rounded
        # otherwise, may decide the other way
        ambiguous |= moving & (np.abs(np.abs(new[0] - loglik) - _EPS * np.abs(new[0]))
                               <= _ROUNDING * np.abs(loglik))
        beta = np.where(moving[:, None], beta + step, beta)
        loglik, score, info = (np.where(_each(moving, n), n, o)
                               for n, o in zip(new, (loglik, score, info)))
        reliable &= done | _positive_definite(info, scale)
        done = done | stuck | (moving & converged) | ~reliable
        if done.all():
            break
    reliable &= done
    ok = _positive_definite(info, scale)
    reliable &= ok
    var = np.linalg.inv(np.where(ok[:, None, None], info, np.eye(info.shape[-1])))
    flags = np.abs(np.einsum("bp,bpq->bq", score, var))
    reliable &= ~((flags > _EPS) & (flags > np.sqrt(_EPS) * np.abs(beta))).any(axis=-1)
    se = np.sqrt(np.diagonal(var, axis1=-2, axis2=-1))
    reliable &= (se > 0).all(axis=-1) & np.isfinite(beta).all(axis=-1)
    return CoxBatch(beta, np.where(reliable[:, None], se, np.nan), reliable, ambiguous,
                    loglik, null)

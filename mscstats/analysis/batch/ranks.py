"""Wilcoxon rank-sum (Hodges-Lehmann shift, win probability) and signed-rank tests
over replicates, as cores/ranks.py computes them one data set at a time.

Inputs are (B, n) arrays with a (B, n) mask ``used`` of the values each replicate
analyses (the others may be anything, NaN included). Exact p-values and
confidence limits come from the core's own null distributions, once per distinct
(arm sizes, statistic); Hodges-Lehmann estimates and normal-approximation limits
are R's uniroot(tol = 1e-4) of the rank statistic, run for every replicate at
once (batch/uniroot.py), step for step as the core runs it.

``reliable`` is False where the core would say "not estimable" (an arm without
values, every value tied, a bracket uniroot refuses): the caller asks the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..cores import ranks as core
from .kernels import _runs, _take
from .uniroot import uniroot_batch

__all__ = ["RankSumBatch", "SignedRankBatch", "rank_sum_batch", "rank_sum_p_batch",
           "win_probability_batch", "signed_rank_batch"]


@dataclass(frozen=True)
class RankSumBatch:
    """Per replicate: W (R's), two-sided p, exact?, the estimate with its CI and level."""
    statistic: np.ndarray
    p: np.ndarray
    exact: np.ndarray
    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: np.ndarray
    reliable: np.ndarray


SignedRankBatch = RankSumBatch        # V instead of W, pseudo-median instead of the shift


# ------------------------------------------------------------------ ranks with a mask

def _masked_ranks(v: np.ndarray, used: np.ndarray):
    """Midranks of the used values of each row (others: anything), sum(t^3 - t) over
    their tied groups, and whether any used values tie."""
    keyed = np.where(used, v, np.inf)         # unused values sort last, in their own run
    order = np.argsort(keyed, axis=-1, kind="stable")
    start, end, last = _runs(_take(keyed, order))
    ranks = np.empty(v.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=-1)
    size = (end - start + 1).astype(np.float64)
    counted = last & _take(used, order)
    ties = np.where(counted, size ** 3 - size, 0.0).sum(axis=-1)
    return ranks, ties, (counted & (size > 1)).any(axis=-1)


def _normal_p(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr                # stats.norm.sf(x) is ndtr(-x)
    return 2.0 * ndtr(-np.abs(z))


def _z_quantile(level: float) -> float:
    from scipy.special import ndtri               # stats.norm.isf(a) is -ndtri(a)
    return float(-ndtri((1.0 - level) / 2.0))


# exact p-values by (arm sizes, statistic): a simulation meets the same ones in chunk
# after chunk (the cores' own cache keeps 64 null distributions)
@lru_cache(maxsize=1 << 16)
def _rank_sum_p(nx: float, ny: float, w: float) -> float:
    return core._exact_p(core.rank_sum_counts(int(nx), int(ny)), w, nx * ny / 2)


@lru_cache(maxsize=1 << 16)
def _signed_rank_p(n: float, v: float) -> float:
    return core._exact_p(core.signed_rank_counts(int(n)), v, n * (n + 1) / 4)


def _exact_once(keys, fn) -> np.ndarray:
    """fn(*key) for each distinct key (a row of ``keys``), spread back to the rows."""
    if not len(keys):
        return np.zeros(0)
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    return np.array([fn(*k) for k in distinct.tolist()])[inverse.ravel()]


def _packed(v: np.ndarray, mask: np.ndarray):
    """Each row's masked values moved to the front, (B, most per row), and which
    positions hold one."""
    order = np.argsort(~mask, axis=-1, kind="stable")
    width = int(mask.sum(axis=-1).max(initial=0))
    return _take(v, order)[:, :width], _take(mask, order)[:, :width]


def _sorted(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each row's valid values in increasing order (then +inf)."""
    return np.sort(np.where(valid, values, np.inf), axis=-1)


def _pick(s: np.ndarray, index) -> np.ndarray:
    """The index-th smallest value of each row of sorted s (index (B,))."""
    return _take(s, np.asarray(index).astype(np.int64)[:, None])[:, 0]


def _median(s: np.ndarray, count: np.ndarray) -> np.ndarray:
    lo, hi = _pick(s, (count - 1) // 2), _pick(s, count // 2)
    return np.where(count % 2 == 1, lo, (lo + hi) / 2)     # np.median's mean of the two


# ------------------------------------------------------------------ rank sum

@dataclass(frozen=True)
class _Samples:
    y: np.ndarray
    x_mask: np.ndarray         # treated and used
    y_mask: np.ndarray         # reference and used
    nx: np.ndarray
    ny: np.ndarray


def _samples(y, treated, used) -> _Samples:
    y = np.asarray(y, dtype=np.float64)
    used = np.asarray(used, dtype=bool) & ~np.isnan(y)
    treated = np.asarray(treated, dtype=bool)
    x_mask, y_mask = used & treated, used & ~treated
    return _Samples(np.where(used, y, 0.0), x_mask, y_mask,
                    x_mask.sum(axis=-1).astype(np.float64), y_mask.sum(axis=-1).astype(np.float64))


def _rank_sum_z(s: _Samples, shift: np.ndarray, rows: np.ndarray, corrected: bool):
    """core._rank_sum_z of rows at their shifts; NaN where every value ties."""
    xm, ym = s.x_mask[rows], s.y_mask[rows]
    v = np.where(xm, s.y[rows] - shift[:, None], s.y[rows])
    ranks, ties, _ = _masked_ranks(v, xm | ym)
    nx, ny = s.nx[rows], s.ny[rows]
    dz = np.where(xm, ranks, 0.0).sum(axis=-1) - nx * (nx + 1) / 2 - nx * ny / 2
    n = nx + ny
    sigma = np.sqrt((nx * ny / 12) * ((n + 1) - ties / (n * (n - 1))))
    correction = np.sign(dz) * 0.5 if corrected else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sigma > 0, (dz - correction) / sigma, np.nan)


def _rank_sum_test(s: _Samples):
    """core.rank_sum_p of every replicate: W, p, exact?, and False where it raises."""
    ranks, ties, tied = _masked_ranks(s.y, s.x_mask | s.y_mask)
    w = np.where(s.x_mask, ranks, 0.0).sum(axis=-1) - s.nx * (s.nx + 1) / 2
    reliable = (s.nx >= 1) & (s.ny >= 1)
    exact = reliable & (s.nx < core.EXACT_MAX_N) & (s.ny < core.EXACT_MAX_N) & ~tied
    n = s.nx + s.ny
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt((s.nx * s.ny / 12) * ((n + 1) - ties / (n * (n - 1))))
        z = w - s.nx * s.ny / 2
        p = _normal_p((z - np.sign(z) * 0.5) / sigma)
    reliable &= exact | (sigma > 0)
    rows = np.flatnonzero(exact)
    p[rows] = _exact_once(np.stack([s.nx[rows], s.ny[rows], w[rows]], axis=1), _rank_sum_p)
    return w, p, exact, reliable


def rank_sum_p_batch(y, treated, used) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """core.rank_sum_p of every replicate: (W, p, exact?, reliable), no estimate."""
    return _rank_sum_test(_samples(y, treated, used))


def rank_sum_batch(y, treated, used, level: float = 0.95,
                   interval: bool = True) -> RankSumBatch:
    """core.rank_sum(treated values, reference values, level) of every replicate.
    interval=False: no normal-approximation limits (NaN; two root searches fewer)."""
    s = _samples(y, treated, used)
    w, p, exact, reliable = _rank_sum_test(s)
    out = {k: np.full(len(w), np.nan) for k in ("estimate", "lower", "upper")}
    out["level"] = np.full(len(w), level)
    _exact_shift(s, np.flatnonzero(exact), level, out)
    normal = np.flatnonzero(reliable & ~exact)
    if len(normal):
        reliable[normal] &= _normal_shift(s, normal, level, out, interval)
    return RankSumBatch(w, p, exact, out["estimate"], out["lower"], out["upper"], out["level"],
                        reliable)


@lru_cache(maxsize=4096)
def _exact_limits(sizes: tuple[int, ...], level: float) -> tuple[int, float]:
    """R's exact order-statistic index qu and the level it achieves (lowered when the
    request cannot be met; signed rank, one size, rounds it to 2 digits, as R)."""
    signif = len(sizes) == 1
    counts = core.signed_rank_counts(*sizes) if signif else core.rank_sum_counts(*sizes)
    alpha = 1.0 - level
    qu = max(core._quantile(counts, alpha / 2), 1)
    achieved = 2.0 * core._cdf(counts, qu - 1)
    if achieved - alpha > alpha / 2:
        return qu, 1.0 - (float(f"{achieved:.2g}") if signif else achieved)
    return qu, level


def _order_statistics(values: np.ndarray, qu: int, rows: np.ndarray, out: dict) -> None:
    """Median and the qu-th smallest and largest of each row of values (g, m) (one
    size for all rows: a partition, not a sort)."""
    m = values.shape[1]
    kth = sorted({(m - 1) // 2, m // 2, qu - 1, m - qu})
    part = np.partition(values, kth, axis=1)
    lo, hi = part[:, (m - 1) // 2], part[:, m // 2]
    out["estimate"][rows] = lo if m % 2 == 1 else (lo + hi) / 2   # np.median's mean of two
    out["lower"][rows], out["upper"][rows] = part[:, qu - 1], part[:, m - qu]


def _groups(*sizes: np.ndarray):
    """(size tuple, positions) of each distinct combination of the sizes."""
    keys = np.stack(sizes, axis=1).astype(np.int64)
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    for g, key in enumerate(distinct.tolist()):
        yield key, np.flatnonzero(inverse.ravel() == g)


def _exact_shift(s: _Samples, rows: np.ndarray, level: float, out: dict) -> None:
    """core._rank_sum_exact: the median of the treated minus reference differences and
    R's order statistics of them, per group of replicates with the same arm sizes."""
    if not len(rows):
        return
    x_all, _ = _packed(s.y[rows], s.x_mask[rows])
    y_all, _ = _packed(s.y[rows], s.y_mask[rows])
    for (nx, ny), at in _groups(s.nx[rows], s.ny[rows]):
        group, x, y = rows[at], x_all[at, :nx], y_all[at, :ny]
        qu, out["level"][group] = _exact_limits((nx, ny), level)
        diffs = (x[:, :, None] - y[:, None, :]).reshape(len(group), -1)
        _order_statistics(diffs, qu, group, out)


def _normal_shift(s: _Samples, rows: np.ndarray, level: float, out: dict,
                  interval: bool) -> np.ndarray:
    """core._rank_sum_normal: the shift where the uncorrected statistic crosses 0 and
    (interval) the limits where the corrected one crosses -/+ z; False where the core
    raises."""
    x_max = np.where(s.x_mask[rows], s.y[rows], -np.inf).max(axis=-1)
    x_min = np.where(s.x_mask[rows], s.y[rows], np.inf).min(axis=-1)
    y_max = np.where(s.y_mask[rows], s.y[rows], -np.inf).max(axis=-1)
    y_min = np.where(s.y_mask[rows], s.y[rows], np.inf).min(axis=-1)
    lo, hi = x_min - y_max, x_max - y_min

    def z_at(corrected):
        def f(d, sub):
            return _rank_sum_z(s, d, rows[sub], corrected)
        return f

    estimate, found = _root(z_at(False), lo, hi, 0.0)
    out["estimate"][rows] = estimate
    if not interval:          # the same sigma at the ends: found covers the limits' check
        return found
    lower, upper, ok = _limits(z_at(True), lo, hi, _z_quantile(level))
    out["lower"][rows], out["upper"][rows] = lower, upper
    return ok & found


def _limits(zfun, lo, hi, q):
    """core._normal_limits for every row: (lower, upper, computable)."""
    every = np.arange(len(lo))
    z_lo, z_hi = zfun(lo, every), zfun(hi, every)
    ok = np.isfinite(z_lo) & np.isfinite(z_hi)

    def root(zq):
        at_lo, at_hi = z_lo - zq <= 0, z_hi - zq >= 0
        search = ok & ~at_lo & ~at_hi
        found = np.where(at_lo, lo, hi)
        if search.any():
            idx = np.flatnonzero(search)
            found[idx] = uniroot_batch(lambda d, sub: zfun(d, idx[sub]) - zq, lo[idx], hi[idx],
                                       z_lo[idx] - zq, z_hi[idx] - zq, tol=core.ROOT_TOL)
        return found

    return root(q), root(-q), ok


def _root(fun, lo, hi, target):
    """uniroot(fun - target, lo, hi) where uniroot would run (finite ends of opposite
    signs); (root, ran)."""
    every = np.arange(len(lo))
    f_lo, f_hi = fun(lo, every) - target, fun(hi, every) - target
    ran = np.isfinite(f_lo) & np.isfinite(f_hi) & ~(f_lo * f_hi > 0)
    root = np.full(len(lo), np.nan)
    idx = np.flatnonzero(ran)
    if len(idx):
        root[idx] = uniroot_batch(lambda d, sub: fun(d, idx[sub]) - target, lo[idx], hi[idx],
                                  f_lo[idx], f_hi[idx], tol=core.ROOT_TOL)
    return root, ran


# ------------------------------------------------------------------ win probability

def win_probability_batch(y, treated, used, level: float = 0.95) -> RankSumBatch:
    """core.win_probability(treated, reference): U / (n1 n0), the rank-sum p and
    Newcombe's method 5 interval (its two roots by bisection to 1e-15, where the core
    uses brentq(xtol = rtol = 1e-14))."""
    s = _samples(y, treated, used)
    w, p, exact, reliable = _rank_sum_test(s)
    m, n = s.nx, s.ny
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = w / (m * n)
    z = _z_quantile(level)
    n_star = (m + n) / 2.0 - 1.0

    def gap(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = t * (1 - t) * (1 + n_star * ((1 - t) / (2 - t) + t / (1 + t))) / (m * n)
            return (theta - t) ** 2 - z * z * variance

    inside = np.where(gap(theta) < 0, theta, np.clip(theta, 1e-9, 1 - 1e-9))
    lower = np.where(theta == 0, 0.0, _bisect(gap, np.zeros_like(theta), inside))
    upper = np.where(theta == 1, 1.0, _bisect(gap, inside, np.ones_like(theta)))
    return RankSumBatch(w, p, exact, theta, lower, upper, np.full(len(theta), level), reliable)


def _bisect(f, a, b):
    """A root of f between a and b (f changes sign there), to the last bit."""
    fa = f(a)
    for _ in range(200):
        mid = (a + b) / 2
        fm = f(mid)
        left = np.sign(fm) == np.sign(fa)
        a, fa = np.where(left, mid, a), np.where(left, fm, fa)
        b = np.where(left, b, mid)
        if np.all((b - a) <= 1e-15 * np.maximum(np.abs(b), 1e-300)):
            break
    return (a + b) / 2


# ------------------------------------------------------------------ signed rank

def _signed_rank_z(v, used, shift, corrected):
    """core._signed_rank_z per row: the changes less the shift, zeros dropped."""
    d = v - shift[:, None]
    keep = used & (d != 0)
    ranks, ties, _ = _masked_ranks(np.abs(d), keep)
    n = keep.sum(axis=-1).astype(np.float64)
    zd = np.where(keep & (d > 0), ranks, 0.0).sum(axis=-1) - n * (n + 1) / 4
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)
    correction = np.sign(zd) * 0.5 if corrected else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sigma > 0, (zd - correction) / sigma, np.nan)


def signed_rank_batch(v, used, level: float = 0.95) -> SignedRankBatch:
    """core.signed_rank(the used changes of each replicate, level)."""
    v = np.asarray(v, dtype=np.float64)
    used = np.asarray(used, dtype=bool) & ~np.isnan(v)
    v = np.where(used, v, 0.0)
    nonzero = used & (v != 0)
    zeros = (used & (v == 0)).any(axis=-1)
    n = nonzero.sum(axis=-1).astype(np.float64)
    ranks, ties, tied = _masked_ranks(np.abs(v), nonzero)
    stat = np.where(nonzero & (v > 0), ranks, 0.0).sum(axis=-1)
    reliable = n >= 1
    exact = reliable & (n < core.EXACT_MAX_N) & ~tied & ~zeros
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)
    z = stat - n * (n + 1) / 4
    with np.errstate(divide="ignore", invalid="ignore"):
        p = _normal_p((z - np.sign(z) * 0.5) / sigma)
    out = {k: np.full(len(n), np.nan) for k in ("estimate", "lower", "upper")}
    out["level"] = np.full(len(n), level)
    rows = np.flatnonzero(exact)
    p[rows] = _exact_once(np.stack([n[rows], stat[rows]], axis=1), _signed_rank_p)
    _exact_pseudo_median(v, nonzero, n, rows, level, out)
    normal = np.flatnonzero(reliable & ~exact)
    if len(normal):
        reliable[normal] &= _normal_pseudo_median(v[normal], nonzero[normal], level, out, normal)
    return SignedRankBatch(stat, p, exact, out["estimate"], out["lower"], out["upper"],
                           out["level"], reliable)


def _exact_pseudo_median(v, nonzero, n, rows, level, out):
    """core._signed_rank_exact: the median of the Walsh averages and R's order
    statistics of them, per group of replicates with the same number of changes."""
    if not len(rows):
        return
    x_all, _ = _packed(v[rows], nonzero[rows])
    for (m,), at in _groups(n[rows]):
        group, x = rows[at], x_all[at, :m]
        i, j = np.triu_indices(m)
        qu, out["level"][group] = _exact_limits((m,), level)
        _order_statistics((x[:, i] + x[:, j]) / 2, qu, group, out)


def _normal_pseudo_median(v, nonzero, level, out, rows) -> np.ndarray:
    """core._signed_rank_location for these rows; False where the core raises."""
    from scipy.special import ndtri
    lo = np.where(nonzero, v, np.inf).min(axis=-1)
    hi = np.where(nonzero, v, -np.inf).max(axis=-1)

    def z_at(corrected):
        return lambda d, sub: _signed_rank_z(v[sub], nonzero[sub], d, corrected)

    every = np.arange(len(lo))
    z_lo, z_hi = z_at(True)(lo, every), z_at(True)(hi, every)
    ok = np.isfinite(z_lo) & np.isfinite(z_hi)
    alpha = np.full(len(lo), 1.0 - level)
    for _ in range(64):                       # R widens until the limits are bracketed
        widen = ok & ((z_lo + ndtri(alpha / 2) < 0) | (z_hi - ndtri(alpha / 2) > 0))
        if not widen.any():
            break
        alpha = np.where(widen, alpha * 2, alpha)
    lowered = (alpha >= 1) | (1 - level < alpha * 0.75)
    out["level"][rows] = np.where(lowered, 1.0 - np.minimum(1.0, alpha), level)
    lower, upper = np.full(len(lo), np.nan), np.full(len(lo), np.nan)
    search = np.flatnonzero(ok & (alpha < 1))
    for side, zq in ((lower, -ndtri(alpha / 2)), (upper, ndtri(alpha / 2))):
        if len(search):
            side[search] = uniroot_batch(
                lambda d, sub: z_at(True)(d, search[sub]) - zq[search[sub]],
                lo[search], hi[search], z_lo[search] - zq[search], z_hi[search] - zq[search],
                tol=core.ROOT_TOL)
    median = _median(_sorted(v, nonzero), nonzero.sum(axis=-1))
    flat = ok & (alpha >= 1)
    lower, upper = np.where(flat, median, lower), np.where(flat, median, upper)
    estimate, found = _root(z_at(False), lo, hi, 0.0)
    out["lower"][rows], out["upper"][rows], out["estimate"][rows] = lower, upper, estimate
    return ok & found

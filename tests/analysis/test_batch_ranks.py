"""The rank and paired batch kernels give what their scalar cores give, replicate by
replicate: Wilcoxon rank-sum p, Hodges-Lehmann shift and CI (exact and normal with
uniroot), win probability with Newcombe's interval, signed-rank p, pseudo-median and
CI, and the one-sample t. The cores are checked against R in
tests/reference/compare/; here every replicate of random batches must agree to
1e-10 (they agree bit for bit, but for the win probability's bisected limits),
including ties, zeros, n = 1..6, empty arms and all-equal values -- where the core
says not estimable, the kernel must say unreliable, and only there.
"""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.analysis.batch.paired import one_sample_t_batch
from mscstats.analysis.batch.ranks import (rank_sum_batch, signed_rank_batch,
                                           win_probability_batch)
from mscstats.analysis.batch.uniroot import uniroot_batch
from mscstats.analysis.cores import ranks as core
from mscstats.analysis.cores import ttests
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.cores.uniroot import uniroot

B = 150
KINDS = ("continuous", "ties", "zeros", "equal")


def sample(rng, kind: str, n: int) -> np.ndarray:
    if kind == "continuous":
        return rng.normal(size=(B, n))
    if kind == "ties":
        return rng.integers(0, 4, size=(B, n)).astype(float)
    if kind == "zeros":
        return rng.integers(-1, 2, size=(B, n)).astype(float)
    return np.full((B, n), 0.1)


def close(ours, theirs, what):
    assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-12), what


def check(batch, b, scalar, fields):
    """One replicate: unreliable exactly where the core raises; else equal fields."""
    try:
        result = scalar()
    except NotEstimable:
        assert not batch.reliable[b]
        return 0
    assert batch.reliable[b]
    for ours, theirs in fields(result):
        close(ours, theirs, (b, ours, theirs))
    return 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 12, 40, 110])
def test_rank_sum_equals_the_core(kind, n):
    rng = np.random.default_rng([n, KINDS.index(kind)])
    y = sample(rng, kind, n)
    treated, used = rng.random((B, n)) < 0.5, rng.random((B, n)) < 0.85
    y[~used & (rng.random((B, n)) < 0.5)] = np.nan        # left-out values may be NaN
    fit = rank_sum_batch(y, treated, used, 0.9)
    checked = 0
    for b in range(B):
        x, z = np.sort(y[b, treated[b] & used[b]]), np.sort(y[b, ~treated[b] & used[b]])
        checked += check(fit, b, lambda: core.rank_sum(x, z, 0.9), lambda r: [
            (fit.statistic[b], r.statistic), (fit.p[b], r.p_value),
            (fit.estimate[b], r.estimate), (fit.lower[b], r.ci.lower),
            (fit.upper[b], r.ci.upper), (fit.level[b], r.ci.level), (fit.exact[b], r.exact)])
    assert checked == 0 if kind == "equal" else checked > 10
    shift_only = rank_sum_batch(y, treated, used, 0.9, interval=False)
    np.testing.assert_array_equal(shift_only.reliable, fit.reliable)
    np.testing.assert_array_equal(shift_only.estimate[fit.reliable], fit.estimate[fit.reliable])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [2, 3, 6, 30])
def test_win_probability_equals_the_core(kind, n):
    rng = np.random.default_rng([n, KINDS.index(kind), 1])
    y = sample(rng, kind, n)
    treated, used = rng.random((B, n)) < 0.5, rng.random((B, n)) < 0.85
    fit = win_probability_batch(y, treated, used)
    for b in range(B):
        x, z = y[b, treated[b] & used[b]], y[b, ~treated[b] & used[b]]
        check(fit, b, lambda: core.win_probability(x, z), lambda r: [
            (fit.estimate[b], r.estimate), (fit.p[b], r.p_value), (fit.lower[b], r.ci.lower),
            (fit.upper[b], r.ci.upper), (fit.statistic[b], r.statistic)])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 15, 70])
def test_signed_rank_equals_the_core(kind, n):
    rng = np.random.default_rng([n, KINDS.index(kind), 2])
    v = sample(rng, kind, n) - (0.1 if kind == "equal" else 0.0) * rng.integers(0, 2, (B, 1))
    used = rng.random((B, n)) < 0.85
    fit = signed_rank_batch(v, used, 0.95)
    for b in range(B):
        x = np.sort(v[b, used[b]])
        check(fit, b, lambda: core.signed_rank(x), lambda r: [
            (fit.statistic[b], r.statistic), (fit.p[b], r.p_value),
            (fit.estimate[b], r.estimate), (fit.lower[b], r.ci.lower),
            (fit.upper[b], r.ci.upper), (fit.level[b], r.ci.level), (fit.exact[b], r.exact)])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 3, 6, 25])
def test_one_sample_t_equals_the_core(kind, n):
    rng = np.random.default_rng([n, KINDS.index(kind), 3])
    v, used = sample(rng, kind, n), rng.random((B, n)) < 0.85
    fit, p, ok = one_sample_t_batch(v, used)
    for b in range(B):
        try:
            r = ttests.one_sample(v[b, used[b]])
        except NotEstimable:
            assert not ok[b]
            continue
        assert ok[b]
        for ours, theirs in ((fit.estimate[b], r.estimate), (fit.se[b], r.se),
                             (fit.t[b], r.statistic), (fit.df[b], r.df), (p[b], r.p_value)):
            close(ours, theirs, (b, ours, theirs))


def test_identical_changes_have_no_t():
    """Nineteen changes of 0.1: the two-pass variance is 3e-18, not 0; the core (and the
    batch) must say not estimable, not t = 1e16."""
    with pytest.raises(NotEstimable):
        ttests.one_sample(np.full(19, 0.1))
    assert not one_sample_t_batch(np.full((1, 19), 0.1), np.ones((1, 19), bool))[2][0]


def test_hand_checked_rank_sum_and_shift():
    # treated 3, 5, 8 against 1, 2, 4: ranks 3, 5, 6 -> W = 14 - 6 = 8 of 9 pairs;
    # exact p = 2 P(W >= 8) = 2 * 2/20; differences 2,1,-1,4,3,1,7,6,4: median 3
    fit = rank_sum_batch(np.array([[3.0, 5, 8, 1, 2, 4]]), np.array([[1, 1, 1, 0, 0, 0]], bool),
                         np.ones((1, 6), bool))
    assert fit.statistic[0] == 8 and fit.exact[0]
    assert fit.p[0] == pytest.approx(0.2) and fit.estimate[0] == 3.0


def test_swapping_the_arms_mirrors_the_test():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 6, size=(40, 20)).astype(float)
    treated, used = rng.random((40, 20)) < 0.5, np.ones((40, 20), bool)
    a, b = rank_sum_batch(y, treated, used), rank_sum_batch(y, ~treated, used)
    ok = a.reliable & b.reliable
    assert ok.sum() > 30
    pairs = treated.sum(axis=1) * (~treated).sum(axis=1)
    np.testing.assert_allclose(a.p[ok], b.p[ok], rtol=1e-12)
    np.testing.assert_array_equal(a.statistic + b.statistic, pairs)
    # the limits mirror too (the shift itself is uniroot's point inside a flat step)
    np.testing.assert_allclose(a.lower[ok], -b.upper[ok], atol=2e-4)


def test_uniroot_batch_is_uniroot_row_by_row():
    rng = np.random.default_rng(6)
    shifts = rng.normal(size=50)
    steps = rng.integers(1, 6, size=50)

    def f(x, rows):          # step functions (as rank statistics are) and a smooth one
        return np.floor((x - shifts[rows]) * steps[rows]) + 0.5 * np.sin(x)

    lo, hi = np.full(50, -5.0), np.full(50, 5.0)
    every = np.arange(50)
    ours = uniroot_batch(f, lo, hi, f(lo, every), f(hi, every), tol=1e-4)
    for r in range(50):
        assert ours[r] == uniroot(lambda x: float(f(np.array([x]), np.array([r]))[0]),
                                  -5.0, 5.0, tol=1e-4)

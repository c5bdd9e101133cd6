"""The competing-risks kernels over replicates agree with the scalar cores (ports of
cmprsk, checked against R in tests/reference/competing) replicate by replicate:
cumulative incidence, its variance and log-log limits at landmarks to 1e-10, the
Fine-Gray coefficient and sandwich SE to 1e-8, Gray's statistic and p (2 and 3
groups, stratified) to 1e-10; heavy ties, day-0 times, arms
without the event, all censored, n = 2..6, subjects left out."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.analysis.batch.competing import cuminc_batch, finegray_batch, gray_batch
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.cores.cuminc import at_landmarks, cumulative_incidence
from mscstats.analysis.cores.finegray import fine_gray
from mscstats.analysis.cores.gray import gray_test


def competing_batch(seed, b, n):
    rng = np.random.default_rng(seed)
    time = rng.integers(0, 10, (b, n)).astype(float)
    cause = rng.choice([0, 1, 2], (b, n), p=[0.3, 0.5, 0.2])
    arm = rng.integers(0, 2, (b, n))
    arm[:, :2] = [0, 1]
    included = rng.random((b, n)) < 0.85
    included[:, :2] = True
    cause[0] = 0                                   # all censored
    cause[1] = np.where(arm[1] == 1, 0, cause[1])  # an arm without the event
    cause[2] = 1                                   # every subject has the event
    time[3] = 4.0                                  # one tied time
    return time, cause, arm, included


CASES = [(s, n) for s in range(3) for n in (2, 3, 4, 5, 6)] + [(5, 40), (6, 150)]


@pytest.mark.parametrize("seed, n", CASES)
def test_cumulative_incidence_at_landmarks_equals_the_core(seed, n):
    time, cause, _, included = competing_batch(seed, 40, n)
    days = (0, 3, 4, 5.5, 9, 12)
    got = cuminc_batch(time, cause, included, days, 0.95)
    for r in range(len(time)):
        keep = included[r]
        want = at_landmarks(cumulative_incidence(time[r, keep], cause[r, keep]), days, 0.95)
        for day, mark in zip(got, want):
            # F within rounding of 1 (every subject had the event, summed in floating
            # point): F log F is rounding and so are the log-log limits, in both
            fields = ("estimate", "variance") if mark.estimate is not None and \
                1 - mark.estimate < 1e-12 else ("estimate", "variance", "lower", "upper")
            for field in fields:
                expected = getattr(mark, field)
                if expected is None:
                    assert np.isnan(getattr(day, field)[r])
                else:
                    assert getattr(day, field)[r] == pytest.approx(expected, rel=1e-10,
                                                                   abs=1e-14)


@pytest.mark.parametrize("seed, n", CASES)
@pytest.mark.parametrize("covariate", [False, True])
def test_fine_gray_equals_crr(seed, n, covariate):
    time, cause, arm, included = competing_batch(seed, 40, n)
    columns = [arm.astype(float)]
    if covariate:
        columns.append(np.random.default_rng(seed).normal(60, 10, arm.shape))
    x = np.stack(columns, axis=-1)
    fit = finegray_batch(time, cause, x, included)
    compared = 0
    for r in range(len(time)):
        keep = included[r]
        try:
            # crr on its way to an infinite coefficient overflows (a warning in the core)
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                scalar = fine_gray(time[r, keep], cause[r, keep], x[r, keep])
        except NotEstimable:
            assert not fit.reliable[r]
            continue
        with np.errstate(invalid="ignore"):
            usable = scalar.converged and np.isfinite(scalar.se).all() and (scalar.se > 0).all()
        if not usable:
            assert not fit.reliable[r]
        if not fit.reliable[r]:
            continue
        compared += 1
        np.testing.assert_allclose(fit.params[r], scalar.params, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fit.se[r], scalar.se, rtol=1e-8)
        assert fit.iterations[r] == scalar.iterations
    assert not fit.reliable[:2].any()
    if n >= 40:
        assert compared >= 30


@pytest.mark.parametrize("seed, n", CASES)
@pytest.mark.parametrize("groups, stratified", [(2, False), (3, False), (2, True), (3, True)])
def test_gray_equals_the_crst_port(seed, n, groups, stratified):
    time, cause, _, included = competing_batch(seed, 40, n)
    rng = np.random.default_rng(seed + 50)
    group = rng.integers(0, groups, time.shape)
    group[:, :min(groups, n)] = np.arange(min(groups, n))
    strata = rng.integers(0, 2, time.shape) if stratified else None
    got = gray_batch(time, cause, group, included, strata, groups)
    compared = 0
    for r in range(len(time)):
        keep = included[r]
        if len(np.unique(group[r, keep])) < groups:    # an empty arm: the runner says so
            assert not got.reliable[r]
            continue
        try:
            want = gray_test(time[r, keep], cause[r, keep], group[r, keep],
                             None if strata is None else strata[r, keep])
        except NotEstimable:
            assert not got.reliable[r]
            continue
        assert got.reliable[r]
        compared += 1
        assert got.statistic[r] == pytest.approx(want.statistic, rel=1e-10, abs=1e-12)
        assert got.p[r] == pytest.approx(want.p_value, rel=1e-10, abs=1e-12)
    assert not got.reliable[0]                    # all censored: no variance
    if n >= 40:
        assert compared >= 30

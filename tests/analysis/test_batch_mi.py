"""Multiple imputation over replicates (analysis/batch/mi.py) equals the scalar core:
the same random numbers per replicate, so imputations (one to three visits, every
strategy, two and three arms), Rubin's rules and the tipping point agree to rounding
(1e-10), including replicates with nothing missing, everything missing, an arm
without values and four subjects (which the batch declines: usable False, the
runner decides)."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.analysis.batch.mi import ancova_pooled, impute_visits, tipping_points
from mscstats.analysis.cores import mi
from mscstats.analysis.cores.common import NotEstimable


def random_replicates(rng, replicates, n, arms, visits=1):
    """(R, n, K) visits with intermittent missing values and dropout, and the edge cases."""
    y = rng.normal(size=(replicates, n, visits)) * 10 + 3
    y += np.cumsum(rng.normal(size=(replicates, n, visits)), axis=-1) * 5
    y[rng.random((replicates, n, visits)) < 0.15] = np.nan
    dropout = rng.integers(0, 3 * visits, (replicates, n, 1))
    y[np.arange(visits) >= dropout] = np.nan                       # a third drop out
    arm = rng.integers(0, arms, (replicates, n))
    fixed = rng.normal(size=(replicates, n, 2))
    model = rng.random((replicates, n)) < 0.9
    y[0] = np.nan                                    # everything missing
    y[1] = rng.normal(size=(n, visits))              # nothing missing
    y[2][arm[2] == 1] = np.nan                       # an arm without values
    model[3, 4:] = False                             # four subjects
    return (y[..., 0] if visits == 1 else y), arm, fixed, model


def scalar_imputation(y, arm, arms, fixed, m, seed, strategy):
    try:
        return mi.impute_visits(y, arm, arms, fixed, m, np.random.default_rng(seed), strategy)
    except NotEstimable:                             # the core declines
        return None


@pytest.mark.parametrize("strategy", mi.STRATEGIES)
@pytest.mark.parametrize("arms, n, visits", [(2, 12, 1), (3, 15, 1), (2, 40, 1), (2, 30, 3),
                                             (3, 45, 2)])
def test_imputations_equal_impute_visits(strategy, arms, n, visits):
    rng = np.random.default_rng(arms * n + visits)
    y, arm, fixed, model = random_replicates(rng, 30, n, arms, visits)
    y = y.reshape(30, n, visits)
    batch = impute_visits(y, arm, arms, fixed, model, 7, 99, strategy)
    assert not batch.usable[[0, 3]].any()
    compared = declined = 0
    for r in range(30):
        k = model[r]
        scalar = scalar_imputation(y[r, k], arm[r, k], arms, fixed[r, k], 7, 99, strategy)
        if scalar is None:
            assert not batch.usable[r]
            continue
        if batch.usable[r]:
            np.testing.assert_allclose(batch.completed[r][:, k], scalar, rtol=1e-10, atol=1e-9)
            assert np.isnan(batch.completed[r][:, ~k]).all()
            compared += 1
        else:
            declined += 1                            # near-singular: the runner decides
    assert compared >= 15 and declined <= 1
    observed = np.broadcast_to(np.where(model[1, :, None], y[1], np.nan),
                               batch.completed[1].shape)
    assert batch.usable[1] and np.array_equal(batch.completed[1], observed, equal_nan=True)


def one_visit(y, arm, arms, fixed, model, m, seed):
    imputed = impute_visits(y[..., None], arm, arms, fixed, model, m, seed)
    return imputed.completed[..., 0], imputed.missing[..., 0], imputed.usable


def test_pooled_ancova_equals_rubins_rules_of_the_core():
    rng = np.random.default_rng(5)
    y, arm, fixed, model = random_replicates(rng, 25, 20, 3)
    completed, _, ok = one_visit(y, arm, 3, fixed, model, 10, 4)
    pooled = ancova_pooled(completed[ok], arm[ok], 3, fixed[ok], model[ok])
    for i, r in enumerate(np.flatnonzero(ok)):
        k = model[r]
        x = np.column_stack([np.ones(k.sum()), arm[r, k] == 1, arm[r, k] == 2, fixed[r, k]])
        for j in (1, 2):
            core = mi.pool(mi.ancova_estimates(completed[r][:, k], x, j))
            assert pooled.usable[i, j - 1]
            assert pooled.estimate[i, j - 1] == pytest.approx(float(core.estimate), rel=1e-10)
            assert pooled.p[i, j - 1] == pytest.approx(float(core.p_value), rel=1e-10, abs=1e-14)


def test_tipping_points_equal_the_scalar_shift():
    rng = np.random.default_rng(8)
    y, arm, fixed, model = random_replicates(rng, 25, 30, 2)
    completed, missing, ok = one_visit(y, arm, 2, fixed, model, 10, 4)
    deltas = [-20, -10, -5, 0, 5]
    estimate, p, tipping, usable = tipping_points(completed[ok], missing[ok], arm[ok],
                                                  fixed[ok], model[ok], deltas, 0.05)
    found = 0
    for i, r in enumerate(np.flatnonzero(ok)):
        k = model[r]
        x = np.column_stack([np.ones(k.sum()), arm[r, k] == 1, fixed[r, k]])
        completed_r = completed[r][:, k]
        moved = np.isnan(y[r, k]) & (arm[r, k] == 1)
        shifted = completed_r[None] + np.array(deltas, float)[:, None, None] * moved
        core = mi.pool(mi.ancova_estimates(shifted, x, 1))
        unshifted = mi.pool(mi.ancova_estimates(completed_r, x, 1))
        assert usable[i]
        np.testing.assert_allclose(estimate[i], core.estimate, rtol=1e-10)
        np.testing.assert_allclose(p[i], core.p_value, rtol=1e-9, atol=1e-14)
        expected = mi.tipping_delta(np.array(deltas, float), core.p_value,
                                             float(unshifted.estimate), 0.05)
        assert (np.isnan(tipping[i]) and expected is None) or tipping[i] == expected
        found += expected is not None
    assert found >= 1


def test_an_exact_fit_is_left_to_the_runner():
    # three distinct points and three terms: the residual is rounding, its p meaningless
    y = np.array([[-4.76190476, 4.76190476, 162.77056277, -4.76190476]])
    base = np.array([[461.9047619, 457.14285714, 284.84848485, 461.9047619]])
    arm = np.array([[1, 0, 1, 1]])
    model = np.ones((1, 4), dtype=bool)
    completed, _, usable = one_visit(y, arm, 2, base[..., None], model, 5, 1)
    assert usable[0]                                # nothing to impute
    pooled = ancova_pooled(completed, arm, 2, base[..., None], model)
    assert not pooled.usable[0, 0]


def test_an_arm_without_values_at_an_earlier_visit_is_not_estimable_in_the_core():
    # mice's ridge cannot rescue a term that is 0 in every observed row: the core says so
    # (it raised numpy's LinAlgError, which stopped a simulation)
    y = np.array([[1.0, 2.0], [np.nan, 3.0], [2.0, 1.0], [np.nan, 5.0], [3.0, 2.0],
                  [1.5, np.nan], [2.5, 4.0], [np.nan, 2.0]])
    arm = np.array([0, 1, 0, 1, 0, 0, 0, 1])             # arm 1 unobserved at visit 1
    fixed = np.arange(8.0)[:, None]
    with pytest.raises(NotEstimable, match="imputation model"):
        mi.impute_visits(y, arm, 2, fixed, 5, np.random.default_rng(1))
    batch = impute_visits(y[None], arm[None], 2, fixed[None], np.ones((1, 8), bool), 5, 1)
    assert not batch.usable[0]


"""Multiple imputation over replicates (analysis/batch/mi.py) equals the scalar core:
the same random numbers per replicate, so imputations, Rubin's rules and the tipping
point agree to rounding (1e-10), including replicates with nothing missing, an arm
without values and a handful of subjects (which the batch declines: usable False)."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.analysis.batch.mi import ancova_pooled, impute_one_visit, tipping_points
from mscstats.analysis.cores import mi
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.missing_data import _continuous_tipping_delta


def random_replicates(rng, replicates, n, arms):
    y = rng.normal(size=(replicates, n)) * 10 + 3
    y[rng.random((replicates, n)) < 0.3] = np.nan
    arm = rng.integers(0, arms, (replicates, n))
    fixed = rng.normal(size=(replicates, n, 2))
    model = rng.random((replicates, n)) < 0.9
    y[0] = np.nan                                    # everything missing
    y[1] = rng.normal(size=n)                        # nothing missing
    y[2, arm[2] == 1] = np.nan                       # an arm without values
    model[3, 4:] = False                             # four subjects
    return y, arm, fixed, model


def scalar_imputation(y, arm, arms, fixed, m, seed, strategy):
    try:
        return mi.impute_visits(y[:, None], arm, arms, fixed, m, np.random.default_rng(seed),
                                strategy)[..., 0]
    except (NotEstimable, np.linalg.LinAlgError):    # the core declines (or its ridge fails)
        return None


@pytest.mark.parametrize("strategy", mi.STRATEGIES)
@pytest.mark.parametrize("arms, n", [(2, 12), (3, 15), (2, 40)])
def test_imputations_equal_impute_visits(strategy, arms, n):
    rng = np.random.default_rng(arms * n)
    y, arm, fixed, model = random_replicates(rng, 30, n, arms)
    batch = impute_one_visit(y, arm, arms, fixed, model, 7, 99, strategy)
    assert not batch.usable[[0, 3]].any()
    compared = 0
    for r in range(30):
        k = model[r]
        scalar = scalar_imputation(y[r, k], arm[r, k], arms, fixed[r, k], 7, 99, strategy)
        if scalar is None:
            assert not batch.usable[r]
            continue
        if batch.usable[r]:
            np.testing.assert_allclose(batch.completed[r][:, k], scalar, rtol=1e-10, atol=1e-10)
            assert np.isnan(batch.completed[r][:, ~k]).all()
            compared += 1
    assert compared >= 20
    observed = np.broadcast_to(np.where(model[1], y[1], np.nan), batch.completed[1].shape)
    assert batch.usable[1] and np.array_equal(batch.completed[1], observed, equal_nan=True)


def test_pooled_ancova_equals_rubins_rules_of_the_core():
    rng = np.random.default_rng(5)
    y, arm, fixed, model = random_replicates(rng, 25, 20, 3)
    imputed = impute_one_visit(y, arm, 3, fixed, model, 10, 4)
    ok = imputed.usable
    pooled = ancova_pooled(np.where(ok[:, None, None], imputed.completed, 0.0)[ok], arm[ok], 3,
                           fixed[ok], model[ok])
    for i, r in enumerate(np.flatnonzero(ok)):
        k = model[r]
        x = np.column_stack([np.ones(k.sum()), arm[r, k] == 1, arm[r, k] == 2, fixed[r, k]])
        for j in (1, 2):
            core = mi.pool(mi.ancova_estimates(imputed.completed[r][:, k], x, j))
            assert pooled.usable[i, j - 1]
            assert pooled.estimate[i, j - 1] == pytest.approx(float(core.estimate), rel=1e-10)
            assert pooled.p[i, j - 1] == pytest.approx(float(core.p_value), rel=1e-10, abs=1e-14)


def test_tipping_points_equal_the_scalar_shift():
    rng = np.random.default_rng(8)
    y, arm, fixed, model = random_replicates(rng, 25, 30, 2)
    imputed = impute_one_visit(y, arm, 2, fixed, model, 10, 4)
    ok = imputed.usable
    deltas = [-20, -10, -5, 0, 5]
    estimate, p, tipping, usable = tipping_points(
        np.where(ok[:, None, None], imputed.completed, 0.0)[ok], imputed.missing[ok], arm[ok],
        fixed[ok], model[ok], deltas, 0.05)
    found = 0
    for i, r in enumerate(np.flatnonzero(ok)):
        k = model[r]
        x = np.column_stack([np.ones(k.sum()), arm[r, k] == 1, fixed[r, k]])
        completed = imputed.completed[r][:, k]
        moved = np.isnan(y[r, k]) & (arm[r, k] == 1)
        shifted = completed[None] + np.array(deltas, float)[:, None, None] * moved
        core = mi.pool(mi.ancova_estimates(shifted, x, 1))
        unshifted = mi.pool(mi.ancova_estimates(completed, x, 1))
        assert usable[i]
        np.testing.assert_allclose(estimate[i], core.estimate, rtol=1e-10)
        np.testing.assert_allclose(p[i], core.p_value, rtol=1e-9, atol=1e-14)
        expected = _continuous_tipping_delta(np.array(deltas, float), core.p_value,
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
    imputed = impute_one_visit(y, arm, 2, base[..., None], model, 5, 1)
    assert imputed.usable[0]                        # nothing to impute
    pooled = ancova_pooled(imputed.completed, arm, 2, base[..., None], model)
    assert not pooled.usable[0, 0]

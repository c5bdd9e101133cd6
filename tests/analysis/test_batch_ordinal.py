"""The proportional odds kernel gives what cores/ordinal.proportional_odds gives (itself
checked against ordinal::clm in tests/reference/): arm effects, SEs and log-likelihood
to 1e-8 on random replicates with 2..8 categories, 2 and 3 arms, n = 2..150, empty
arms and categories and separation; ok only where the core converges. The Brant
kernel gives core.brant's statistic and p, and fails exactly where it raises."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.analysis.batch.ordinal import brant_batch, proportional_odds_batch
from mscstats.analysis.cores import ordinal as core
from mscstats.analysis.cores.common import NotEstimable

B = 120


def replicates(rng, n, arms, categories, effect=1.0):
    arm = rng.integers(0, arms, size=(B, n))
    shift = effect * rng.normal(size=(B, 1)) * (arm > 0)
    y = np.clip(np.round(rng.normal(size=(B, n)) * 1.5 + categories / 2 + shift), 1, categories)
    x = np.stack([(arm == j).astype(float) for j in range(1, arms)], axis=-1)
    used = rng.random((B, n)) < 0.9
    return y, x, used


@pytest.mark.parametrize("categories", [2, 3, 5, 8])
@pytest.mark.parametrize("arms", [2, 3])
@pytest.mark.parametrize("n", [2, 3, 4, 6, 20, 150])
def test_proportional_odds_equals_the_core(n, arms, categories):
    rng = np.random.default_rng([n, arms, categories])
    y, x, used = replicates(rng, n, arms, categories, effect=0.5)
    fit = proportional_odds_batch(y, x, used)
    agreed = 0
    for b in range(B):
        u = used[b]
        try:
            r = core.proportional_odds(y[b, u], x[b, u])
        except (NotEstimable, np.linalg.LinAlgError, ValueError):
            assert not fit.ok[b]
            continue
        with np.errstate(invalid="ignore"):       # not a maximum: NaN (the runner says so)
            se = r.se
        if not fit.ok[b]:          # deferred: separation or a huge SE (the runner decides)
            assert np.max(np.abs(r.params)) > 15 or not np.all(se < 100)
            continue
        agreed += 1
        np.testing.assert_allclose(fit.params[b], r.params, rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(fit.se[b], se, rtol=1e-8)
        assert fit.llf[b] == pytest.approx(r.llf, rel=1e-10)
    assert agreed >= (B // 2 if n >= 20 else 0)


def test_one_category_and_an_empty_arm_are_not_fitted():
    y = np.array([[2.0, 2, 2, 2], [1, 2, 3, 1]])
    x = np.array([[[0.0], [1], [0], [1]], [[0.0], [0], [0], [0]]])
    fit = proportional_odds_batch(y, x, np.ones((2, 4), bool))
    assert not fit.ok.any()


def test_no_effect_gives_an_odds_ratio_of_one():
    # the same distribution in both arms: beta = 0 exactly at the maximum
    y = np.array([[1.0, 2, 3, 1, 2, 3]])
    x = np.array([[[0.0], [0], [0], [1], [1], [1]]])
    fit = proportional_odds_batch(y, x, np.ones((1, 6), bool))
    assert fit.ok[0] and fit.params[0, 0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("categories", [2, 3, 5])
@pytest.mark.parametrize("arms", [2, 3])
@pytest.mark.parametrize("n", [3, 6, 20, 150])
def test_brant_equals_the_core(n, arms, categories):
    rng = np.random.default_rng([n, arms, categories, 1])
    y, x, used = replicates(rng, n, arms, categories, effect=0.3)
    fit = brant_batch(y, x, used)
    agreed = 0
    for b in range(B):
        u = used[b]
        try:
            r = core.brant(y[b, u], x[b, u])
        except (NotEstimable, ValueError):
            assert not fit.ok[b]
            continue
        assert fit.ok[b]
        agreed += 1
        assert fit.statistic[b] == pytest.approx(r.statistic, rel=1e-8, abs=1e-10)
        assert fit.p[b] == pytest.approx(r.p_value, rel=1e-8, abs=1e-12)
        assert fit.df[b] == r.df
    assert agreed >= (0 if n < 20 or categories < 3 else B // 2 if n >= 150 else 1)

"""The permutation p over replicates (analysis/batch/permutation.py) is the runner's,
count for count: the same Monte Carlo assignments, statistic and tie rule."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.analysis.batch.permutation import (destinations, permutation_p, shuffles,
                                                 wilcoxon_permutation_p)
from mscstats.analysis.permutation import (STATISTICS, _random_assignments, _Sample,
                                           analysis_rng, permutation_test)


def test_shuffles_are_the_runners_assignments_in_any_batch_size():
    treated = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 0], dtype=bool)
    drawn = np.vstack(list(_random_assignments(treated, 1000, 333, analysis_rng(5, "x"))))
    index = shuffles(5, "x", 10, 1000)
    assert (treated[index] == drawn).all()
    moved = destinations(5, "x", 10, 1000)          # the inverse: index[b, moved[j, b]] = j
    assert (np.take_along_axis(index, moved.T.astype(np.intp), axis=1) == np.arange(10)).all()
    assert not (shuffles(5, "y", 10, 1000) == index).all()     # another analysis, other draws


def _sample(rng, name, n):
    treated = np.zeros(n, dtype=bool)
    treated[rng.choice(n, rng.integers(1, n), replace=False)] = True
    y = np.round(rng.normal(size=n), 1)                          # ties
    event, covariates = None, None
    if name == "risk_difference":
        y = (rng.random(n) < 0.4).astype(float)
    if name in ("logrank", "cox_score"):
        y = rng.integers(1, 8, n).astype(float)
        event = rng.random(n) < 0.6
    if name == "ancova":
        covariates = rng.normal(size=(n, 1))
    return _Sample(treated, y, event, covariates, {})


@pytest.mark.parametrize("name", sorted(STATISTICS))
@pytest.mark.parametrize("n", [2, 3, 4, 6, 12, 40])
def test_permutation_p_equals_the_runner(name, n):
    rng = np.random.default_rng(n * 7 + len(name))
    spec = STATISTICS[name]
    compared = undefined = 0
    for rep in range(6):
        s = _sample(rng, name, n)

        def extremeness(labels, s=s):
            return spec.extremeness(s, spec.compute(s, labels))
        try:
            runner = permutation_test(extremeness, s.treated, 500, analysis_rng(11, "a"))
        except ValueError as err:               # undefined observed statistic: the same error
            with pytest.raises(ValueError, match=str(err)[:20]):
                permutation_p(extremeness, s.treated, 500, 11, "a")
            undefined += 1
            continue
        assert permutation_p(extremeness, s.treated, 500, 11, "a") == runner
        if name == "wilcoxon":
            assert wilcoxon_permutation_p(s.y, s.treated, 500, 11, "a") == runner
        compared += 1
    assert compared + undefined == 6 and (compared >= 3 or n <= 3)


def test_wilcoxon_gather_uses_the_smaller_arm_exactly():
    rng = np.random.default_rng(3)
    for n1 in (5, 35):                               # treated arm smaller, then larger
        treated = np.arange(40) < n1
        y = np.round(rng.normal(size=40), 0)         # many ties: midranks
        s = _Sample(treated, y, None, None, {})
        spec = STATISTICS["wilcoxon"]
        runner = permutation_test(lambda labels: spec.extremeness(s, spec.compute(s, labels)),
                                  treated, 3000, analysis_rng(2, "w"))
        assert wilcoxon_permutation_p(y, treated, 3000, 2, "w") == runner
        assert not runner.exact and 0 < runner.p_value <= 1

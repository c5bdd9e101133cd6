"""The Cox kernel over replicates with covariates (batch/cox.py) agrees with
cores/cox.py's cox_fit (checked against coxph) replicate by replicate: to 1e-10,
except where a step's change of the likelihood is within rounding of the stopping
threshold (``ambiguous``, rare: there to the fit's convergence, 1e-6), and flags (``reliable`` False) every replicate cox_fit cannot fit or
calls possibly infinite: an arm without events, all censored, n = 2..6."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.analysis.batch.cox import cox_fit_batch
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.cores.cox import cox_fit


def replicates(seed, b, n):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 8, (b, n)).astype(float)
    event = rng.random((b, n)) < 0.6
    arm = rng.integers(0, 3, (b, n))
    arm[:, :3] = [0, 1, 2]
    x = np.stack([(arm == 1) * 1.0, (arm == 2) * 1.0, rng.normal(60, 10, (b, n))], -1)
    included = rng.random((b, n)) < 0.85
    included[:, :3] = True
    event[0] = False                             # all censored
    event[1] = arm[1] != 1                       # an arm without events
    strata = rng.integers(0, 2, (b, n))
    return time, event, x, included, strata


@pytest.mark.parametrize("seed, n", [(0, 30), (1, 60), (2, 6), (3, 5), (4, 4), (5, 3)])
@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_fit_batch_equals_cox_fit(seed, n, stratified, ties):
    time, event, x, included, strata = replicates(seed, 60, n)
    strata = strata if stratified else None
    fit = cox_fit_batch(time, event, x, included, strata, ties)
    exact = 0
    for r in range(len(time)):
        keep = included[r]
        try:
            scalar = cox_fit(time[r, keep], event[r, keep].astype(float), x[r, keep],
                             ("a", "b", "c"), None if strata is None else strata[r, keep], ties)
        except NotEstimable:
            assert not fit.reliable[r]
            continue
        with np.errstate(invalid="ignore"):          # a variance < 0: cox_fit's se is NaN
            usable = not scalar.infinite and (scalar.se > 0).all()
        if not usable:
            assert not fit.reliable[r]
        if not fit.reliable[r]:
            continue
        rel = 1e-6 if fit.ambiguous[r] else 1e-10
        exact += not fit.ambiguous[r]
        np.testing.assert_allclose(fit.params[r], scalar.params, rtol=rel, atol=rel * 1e-2)
        np.testing.assert_allclose(fit.se[r], scalar.se, rtol=rel)
        assert fit.llf[r] == pytest.approx(scalar.llf, rel=1e-10)
        assert fit.llnull[r] == pytest.approx(scalar.llnull, rel=1e-10)
    assert not fit.reliable[:2].any()            # all censored; an arm without events
    if n >= 30:
        assert fit.reliable.sum() >= 20 and exact >= 20
    assert fit.ambiguous.sum() <= 1


def test_a_constant_covariate_is_not_reliable():
    time, event, x, included, _ = replicates(9, 5, 20)
    x[..., 2] = 1.0
    assert not cox_fit_batch(time, event, x, included).reliable.any()

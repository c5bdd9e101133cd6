"""The grid kernels of km, rmst, cox, cuminc and finegray give the rows the runner
gives on the same grid-derived replicates (analyse_grid(runner_only=True)): the
same hypotheses, not-estimable reasons and p-values and estimates to 1e-10, except
where a fit is iterative (Fine-Gray to 1e-8; Cox to 1e-10: where the kernel's
stopping is decided by rounding, the adapter fits that replicate with the scalar
core). n = 2..150 under the design's, no and extreme effects: small trials and
extreme effects leave arms empty or without events, separate the arms and make
both RMST SEs 0, the replicates the kernels hand to the runner or answer as it
does."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.derive.grid import grid_params, unsupported
from mscstats.plan import template
from mscstats.simulation.engine import _chunk_seed, restrict_sap
from mscstats.simulation.grid_engine import analyse_grid
from mscstats.simulation.designs import Effect
from mscstats.simulation.synth import NULL_EFFECT, make_grid

CASES = {"single-arm-bm-msc": ["ttci_km"],
         "refractory-hypoxia": ["ttci_rmst", "ttci_cuminc", "ttci_finegray"],
         "three-arm-paxlovid": ["ttci_cox"]}
TOLERANCE = {"subdistribution_hazard_ratio": 1e-8}


def assert_same_rows(runner, grid):
    assert len(runner) == len(grid)
    for theirs, ours in zip(runner, grid):
        assert ours[:3] == theirs[:3] and ours[5] == theirs[5], (ours, theirs)
        rel = TOLERANCE.get(theirs[2], 1e-10)
        for k in (3, 4):
            assert (ours[k] is None) == (theirs[k] is None), (ours, theirs)
            if theirs[k] is not None:
                assert ours[k] == pytest.approx(theirs[k], rel=rel, abs=1e-12), (ours, theirs)


def available(key):
    sap = restrict_sap(template(key), [a for a in CASES[key]])
    kept = [a.id for a in sap.analyses if not unsupported(restrict_sap(sap, [a.id]))]
    return restrict_sap(sap, kept) if kept else None


# the design's effects, none, and extreme ones (every treated subject recovers at once,
# none dies: arms without events, separation, infinite ratios)
EXTREME = Effect(recovery_rate=1e3, progression_or=1e-3, mortality_or=1e-3, cytokine_ratio=1e-3)


@pytest.mark.parametrize("key", CASES)
@pytest.mark.parametrize("n", [2, 3, 4, 6, 10, 20, 60, 150])
@pytest.mark.parametrize("effect", [None, NULL_EFFECT, EXTREME], ids=["design", "null", "extreme"])
def test_grid_kernels_give_the_runners_rows(key, n, effect):
    sap = available(key)
    if sap is None:
        pytest.skip("no analysis of the case runs on the grid yet")
    grid = make_grid(key, n, 25, _chunk_seed(7, n, 0), effect, grid_params(sap))
    assert_same_rows(analyse_grid(grid, sap, runner_only=True), analyse_grid(grid, sap))


def test_the_survival_methods_run_on_the_grid():
    for key, ids in CASES.items():
        sap = restrict_sap(template(key), ids)
        assert not [r for r in unsupported(sap) if "method" in r], key


@pytest.mark.parametrize("key", CASES)
def test_the_kernels_answer_most_replicates_themselves(key):
    """At the design's n the batch answers (a row-for-row comparison where every
    replicate went to the runner would prove nothing)."""
    from mscstats.derive.grid import GridDerivation
    from mscstats.simulation.grid_engine import _BATCH
    from mscstats.simulation.synth import get_design
    sap = available(key)
    n = get_design(key).n
    grid = make_grid(key, n, 25, _chunk_seed(3, n, 0), None, grid_params(sap))
    derivation = GridDerivation(grid, sap.data)
    for analysis in sap.analyses:
        endpoint = sap.endpoint(analysis.endpoint)
        out = _BATCH[analysis.method](analysis, endpoint, derivation.endpoint(endpoint), grid,
                                      grid.population(sap.analysis_population(analysis)), sap)
        assert out.needs_runner.mean() <= 0.1, analysis.id
        answered = ~out.needs_runner
        assert np.isfinite(out.p[answered]).all() and np.isfinite(out.estimate[answered]).all()

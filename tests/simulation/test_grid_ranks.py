"""The grid kernels of wilcoxon, paired, binary and ordinal_po give, replicate by
replicate, the p and estimate of each hypothesis that the analysis's runner gives on
the same grid-derived rows (analyse_grid(runner_only=True)), and the same
not-estimable reasons.

ordinal_po and the win probability are also checked on category and score values
built from a derived endpoint (many categories, many ties), through the kernel and
grid_engine's runner directly; on the templates' own ordinal and worst-rank
endpoints test_simulate_grid's whole-SAP test checks them against `mscstats analyze`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mscstats.derive.grid import GridDerivation, GridEndpoint, unsupported
from mscstats.plan import Analysis, template
from mscstats.simulation.engine import _chunk_seed
from mscstats.simulation import grid_engine
from mscstats.simulation.grid_common import _outcome
from mscstats.simulation.grid_engine import _run_replicate, analyse_grid
from mscstats.simulation.grid_ordinal import _ordinal_po
from mscstats.simulation.grid_ranks import _wilcoxon
from mscstats.simulation.synth import get_design, make_grid

from test_simulate_grid import assert_rows_agree

# (endpoint, method, options) run on each design's grid
CASES = {
    "refractory-hypoxia": [("pf_d7", "wilcoxon", {}), ("il6_d7", "wilcoxon", {}),
                           ("pf_d7", "paired", {}), ("il6_d7", "paired", {}),
                           ("mort28", "binary", {}), ("mort28", "binary", {"test": "chi_square"})],
    "three-arm-paxlovid": [("pf_d7", "wilcoxon", {}), ("il6_d7", "paired", {}),
                           ("mort28", "binary", {}), ("mort28", "binary", {"test": "chi_square"})],
    "single-arm-bm-msc": [("il6_d7", "paired", {}), ("pf_d7", "paired", {}),
                          ("mort28", "binary", {})],
}


def case_sap(key: str):
    """The design's template SAP with these analyses only (no multiplicity family)."""
    sap = template(key)
    analyses = tuple(Analysis(f"{method}_{endpoint}_{i}", endpoint, method, options)
                     for i, (endpoint, method, options) in enumerate(CASES[key]))
    return replace(sap, analyses=analyses,
                   multiplicity=replace(sap.multiplicity, family=(), method="none"))


@pytest.mark.parametrize("key", sorted(CASES))
@pytest.mark.parametrize("n", ["design", 4, 6])
def test_kernels_equal_the_runner_on_the_grid(key, n):
    sap = case_sap(key)
    assert not unsupported(sap)
    n = get_design(key).n if n == "design" else n
    for chunk in range(2):
        grid = make_grid(key, n, 25, _chunk_seed(7, n, chunk))
        batch, runner = analyse_grid(grid, sap), analyse_grid(grid, sap, runner_only=True)
        assert_rows_agree(runner, batch)
        if n != 4:
            assert any(row[3] is not None for row in batch)


def test_the_batch_answers_most_replicates_of_a_design_sized_trial():
    """The runner is the exception: at the design's n every kernel here answers at
    least 90% of the replicates itself."""
    key = "refractory-hypoxia"
    sap = case_sap(key)
    grid = make_grid(key, get_design(key).n, 25, _chunk_seed(8, 60, 0))
    derivation = GridDerivation(grid, sap.data)
    for analysis in sap.analyses:
        endpoint = sap.endpoint(analysis.endpoint)
        included = grid.population(sap.analysis_population(analysis))
        kernel = grid_engine._BATCH[analysis.method]
        out = kernel(analysis, endpoint, derivation.endpoint(endpoint), grid, included, sap)
        assert out.needs_runner.mean() <= 0.1, analysis.id


def scored(key: str, n: int, chunk: int, categories: int | None):
    """A grid, its SAP, and values from pf_d7's change: cut into categories (1 = best),
    or as scores with ties (worst-rank like); NaN stays missing."""
    sap = template(key)
    grid = make_grid(key, n, 25, _chunk_seed(9, n, chunk))
    chg = GridDerivation(grid, sap.data).endpoint(sap.endpoint("pf_d7")).chg
    if categories is None:
        score = np.round(chg / 40.0)
    else:
        edges = np.nanquantile(chg, np.linspace(0, 1, categories + 1)[1:-1])
        score = np.where(np.isnan(chg), np.nan, categories - np.searchsorted(edges, chg))
    nan = np.full(len(chg), np.nan)
    return sap, grid, GridEndpoint(score, nan, score, nan, nan)


def kernel_against_runner(kernel, sap, analysis_id, grid, values):
    analysis = next(a for a in sap.analyses if a.id == analysis_id)
    endpoint = sap.endpoint(analysis.endpoint)
    included = grid.population(sap.analysis_population(analysis))
    out = kernel(analysis, endpoint, values, grid, included, sap)
    answered = np.flatnonzero(~out.needs_runner)
    runner = _outcome(grid, out.estimands)
    inputs = grid_engine._ReplicateInputs(analysis, endpoint, values, grid, included, sap)
    for r in range(grid.replicates):
        _run_replicate(runner, r, inputs, sap)
    assert not runner.raised[answered].any()
    np.testing.assert_allclose(out.p[answered], runner.p[answered], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(out.estimate[answered], runner.estimate[answered], rtol=1e-8)
    return len(answered), runner


@pytest.mark.parametrize("key", ["refractory-hypoxia", "three-arm-paxlovid"])
@pytest.mark.parametrize("n, categories", [(6, 3), (20, 4), (90, 6)])
def test_ordinal_kernel_equals_the_runner(key, n, categories):
    answered = 0
    for chunk in range(2):
        sap, grid, values = scored(key, n, chunk, categories)
        count, runner = kernel_against_runner(_ordinal_po, sap, "who_d14_po", grid, values)
        answered += count
        assert np.isfinite(runner.p).any()
    assert answered >= (40 if n >= 20 else 1)


@pytest.mark.parametrize("n", [4, 12, 60])
def test_win_probability_kernel_equals_the_runner(n):
    """pf_d7_rank has composite strategies: the runner reports the win probability."""
    answered = 0
    for chunk in range(2):
        sap, grid, values = scored("refractory-hypoxia", n, chunk, None)
        count, _ = kernel_against_runner(_wilcoxon, sap, "pf_worst_rank", grid, values)
        answered += count
    assert answered >= (40 if n >= 12 else 1)


def test_welch_on_identical_values_is_the_runners_not_estimable():
    """Every change 0.1 in both arms: the core's variance is exactly 0 (ttests._variance;
    np.var left a residue, hence a t of 1e16 where nothing varies), so the runner says
    why there is no t; the kernel (SE 0) hands those replicates over."""
    sap = template("refractory-hypoxia")
    sap = replace(sap, analyses=(Analysis("welch_pf", "pf_d7", "welch", {}),),
                  multiplicity=replace(sap.multiplicity, family=(), method="none"))
    grid = make_grid("refractory-hypoxia", 20, 25, _chunk_seed(9, 20, 0))
    nan = np.full(grid.replicates * grid.n, np.nan)
    constant = np.full(grid.replicates * grid.n, 0.1)
    values = GridEndpoint(constant, nan, constant, nan, nan)
    analysis = sap.analyses[0]
    included = grid.population(sap.analysis_population(analysis))
    out = grid_engine._welch(analysis, sap.endpoint("pf_d7"), values, grid, included, sap)
    assert out.needs_runner.all()
    runner = _outcome(grid, out.estimands)
    inputs = grid_engine._ReplicateInputs(analysis, sap.endpoint("pf_d7"), values, grid,
                                          included, sap)
    _run_replicate(runner, 0, inputs, sap)
    assert np.isnan(runner.p[0, 0]) and "do not vary" in runner.reasons[0, 0]

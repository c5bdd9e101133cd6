"""A repeated endpoint's visit values on the grid equal derive.endpoints' repeated
rows, and the runner's visit rows built from them give the exact engine's MMRM."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mscstats.derive.endpoints import derive
from mscstats.derive.grid import GridDerivation
from mscstats.derive.grid_visits import GridRepeated, endpoint_values, visit_values
from mscstats.plan import DataRules, template
from mscstats.simulation.engine import _chunk_seed, restrict_sap, run_chunk
from mscstats.simulation.grid_common import _outcome
from mscstats.simulation.grid_engine import _run_replicate
from mscstats.simulation.synth import get_design, make_batch, make_grid, synthetic_rules
from mscstats.trial.validate import load_frames

KEY = "refractory-hypoxia"


def same(a, b):
    return (a == b) | (np.isnan(a) & np.isnan(b))


def repeated_endpoint(sap, intercurrent=None, transform=None):
    (endpoint,) = [e for e in sap.endpoints if e.repeated]
    if intercurrent is not None:
        endpoint = replace(endpoint, intercurrent=intercurrent)
    return replace(endpoint, transform=transform) if transform else endpoint


VARIANTS = [
    (DataRules(), None, None),
    (DataRules(daily="mean", below_lloq="zero", fio2_from_flow=True), None, None),
    (DataRules(), (("death", "while_alive"), ("discharge", "while_hospitalized")), None),
    (DataRules(daily="first"), (), "log"),                  # treatment policy, logs
    (DataRules(), (("death", "hypothetical"), ("discharge", "treatment_policy")), "log"),
]


@pytest.mark.parametrize("rules, intercurrent, transform", VARIANTS)
def test_visit_values_equal_the_derived_repeated_rows(rules, intercurrent, transform):
    base_sap = replace(template(KEY), data=rules)
    endpoint = repeated_endpoint(base_sap, intercurrent, transform)
    sap = replace(base_sap, endpoints=tuple(endpoint if e.id == endpoint.id else e
                                            for e in base_sap.endpoints))
    n, replicates, seed = get_design(KEY).n, 6, 20261201
    frames = make_batch(KEY, n, replicates, seed, tables=("adsl", "visits", "adae", "ex"))
    trial = load_frames(frames, KEY, sap.study.arms, synthetic_rules(rules))
    rows = derive(trial, sap).of(endpoint.id)
    visits = visit_values(GridDerivation(make_grid(KEY, n, replicates, seed), rules), endpoint)
    assert visits.days == endpoint.days and visits.aval.shape == (n * replicates, 3)
    subjects = frames["adsl"]["USUBJID"]
    for k, day in enumerate(endpoint.days):
        at_day = rows[rows["DAY"] == day].set_index("USUBJID").reindex(subjects)
        assert len(at_day) == len(subjects)
        for column, ours in (("AVAL", visits.aval[:, k]), ("CHG", visits.chg[:, k]),
                             ("BASE", visits.base)):
            theirs = at_day[column].to_numpy(dtype=float)
            assert same(ours, theirs).all(), (day, column, np.flatnonzero(~same(ours, theirs))[:5])
    # the SAP's day is one of its visit days: the endpoint's own values are that column
    own = GridDerivation(make_grid(KEY, n, replicates, seed), rules).endpoint(endpoint)
    assert same(own.chg, visits.chg[:, endpoint.days.index(endpoint.day)]).all()
    # not trivially equal: values are missing somewhere and present elsewhere
    assert np.isnan(visits.chg).any() and (~np.isnan(visits.chg)).sum() > n


def test_a_non_repeated_endpoint_has_no_visits():
    sap = template(KEY)
    derivation = GridDerivation(make_grid(KEY, 10, 2, 1), sap.data)
    single = [e for e in sap.endpoints if e.kind == "change" and not e.repeated][0]
    assert not isinstance(endpoint_values(derivation, single), GridRepeated)
    visits = visit_values(derivation, single)
    assert visits.days == (single.day,) and visits.aval.shape == (20, 1)


@pytest.mark.parametrize("n", [60, 6])
def test_runner_on_grid_visit_rows_equals_the_exact_engine(n):
    """The MMRM runner on the grid's visit rows gives run_chunk's exact rows; n = 6
    leaves replicates the MMRM cannot fit (the same reason in both)."""
    sap = restrict_sap(template(KEY), ["pf_mmrm"])
    replicates, seed = 8, 7
    exact = run_chunk(KEY, sap, n, 0, replicates, seed, None, engine="exact")
    grid = make_grid(KEY, n, replicates, _chunk_seed(seed, n, 0))
    (analysis,) = sap.analyses
    endpoint = sap.endpoint(analysis.endpoint)
    values = endpoint_values(GridDerivation(grid, sap.data), endpoint)
    assert isinstance(values, GridRepeated)
    out = _outcome(grid, ["mean_difference"])
    included = grid.population(sap.analysis_population(analysis))
    for r in range(replicates):
        _run_replicate(out, r, analysis, endpoint, values, grid, included, sap)
    assert len(exact) == replicates
    for r, row in enumerate(exact):
        if row[1] is None:                              # not estimable in the exact engine
            assert out.raised[r] and out.reasons[r, None] == row[5]
            continue
        assert not out.raised[r]
        assert out.p[r, 0] == pytest.approx(row[3], rel=1e-8)
        assert out.estimate[r, 0] == pytest.approx(row[4], rel=1e-8)
    if n == 60:
        assert all(row[3] is not None for row in exact)

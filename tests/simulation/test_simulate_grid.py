"""The grid engine of simulate gives what the exact engine gives.

derive_grid.py re-implements derive.py's rules on (subject x day) arrays, and
simulate_grid.py runs batched statistics instead of the runners; both are only
worth having if they agree with the visit-level path value by value. Every test
here compares the two on the same simulated trials (same seeds): endpoints
exactly, p-values to 1e-10, ANCOVA estimates to 1e-10 and Cox hazard ratios to
the fit's convergence (coxph's rule stops within about 1e-7 of the maximum).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mscstats.analysis.batch.kernels import ancova_batch, cox_batch, logrank_batch, welch_t_batch
from mscstats.analysis.cores.cox import cox_fit
from mscstats.analysis.cores.logrank import logrank_test
from mscstats.analysis.models import least_squares
from mscstats.analysis.multiplicity import adjust, adjust_rows
from mscstats.analysis.cores.ttests import welch
from mscstats.cli import main
from mscstats.derive.endpoints import derive
from mscstats.derive.grid import GridDerivation, endpoint_unsupported, unsupported
from mscstats.errors import SapError
from mscstats.plan import DataRules, template
from mscstats.schema import DESIGN_KEYS
from mscstats.simulation.engine import _chunk_seed, choose_engine, restrict_sap, run_chunk, simulate
from mscstats.simulation.grid_engine import analyse_grid
from mscstats.simulation.synth import NULL_EFFECT, get_design, make_batch, make_grid, synthetic_rules
from mscstats.trial.validate import load_frames

ENDPOINT_COLUMNS = ("AVAL", "BASE", "CHG", "CNSR", "EVNTCD")


def grid_saps(key: str) -> list:
    """The design's template SAP restricted to the analyses the grid runs (keeping
    the multiplicity family whole), or [] when there are none."""
    sap = template(key)
    runnable = [a.id for a in sap.analyses if not unsupported(restrict_sap(sap, [a.id]))]
    if not set(sap.multiplicity.family) <= set(runnable):
        runnable = [a for a in runnable if a not in sap.multiplicity.family]
    return [restrict_sap(sap, runnable)] if runnable else []


def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


# ------------------------------------------------------------------ derivation

RULE_VARIANTS = [
    ("refractory-hypoxia", DataRules()),
    ("refractory-hypoxia", DataRules(daily="mean", below_lloq="zero", fio2_from_flow=True)),
    ("prevent-progression", DataRules(below_lloq="lloq", fio2_from_flow=True)),
    ("prevent-progression", DataRules()),
    ("three-arm-paxlovid", DataRules()),
    ("single-arm-bm-msc", DataRules(fio2_from_flow=True)),
    ("nebulized-exosomes", DataRules(daily="first")),
]


@pytest.mark.parametrize("key, rules", RULE_VARIANTS)
def test_grid_derivation_equals_derive(key, rules):
    sap = replace(template(key), data=rules)
    n, replicates, seed = get_design(key).n, 8, 20261123
    frames = make_batch(key, n, replicates, seed, tables=("adsl", "visits", "adae", "ex"))
    trial = load_frames(frames, key, sap.study.arms, synthetic_rules(rules))
    exact = derive(trial, sap)
    derivation = GridDerivation(make_grid(key, n, replicates, seed), rules)
    checked = 0
    for endpoint in sap.endpoints:
        if endpoint_unsupported(endpoint):
            continue
        rows = exact.of(endpoint.id)
        if endpoint.repeated:
            rows = rows[rows["DAY"] == endpoint.day]
        rows = rows.set_index("USUBJID").reindex(frames["adsl"]["USUBJID"])
        grid = derivation.endpoint(endpoint)
        for column in ENDPOINT_COLUMNS:
            ours = getattr(grid, column.lower())
            theirs = rows[column].to_numpy(dtype=float)
            assert same(ours, theirs).all(), (endpoint.id, column,
                                              np.flatnonzero(~same(ours, theirs))[:5])
        checked += 1
    assert checked >= 2          # every design has a measure and a time-to-event endpoint


def test_the_grid_knows_every_parameter_the_generator_records():
    from mscstats.derive.grid import GRID_PARAMS
    from mscstats.simulation.synth import PARAM_ORDER
    assert GRID_PARAMS == frozenset(PARAM_ORDER) | {"PF", "SF"}
    assert set(make_grid("refractory-hypoxia", 4, 1, 1).recorded) == set(PARAM_ORDER)


def test_grid_population_flags_equal_the_trials():
    key = "nebulized-exosomes"                   # mITT: doses in both arms
    frames = make_batch(key, 40, 6, 5, tables=("adsl", "visits", "ex"))
    trial = load_frames(frames, name=key)
    grid = make_grid(key, 40, 6, 5)
    for name in ("ITT", "safety", "mITT"):
        expected = frames["adsl"]["USUBJID"].isin(trial.population(name)["USUBJID"])
        assert np.array_equal(grid.population(name), expected.to_numpy()), name
    assert not grid.population("mITT").all()     # some subjects are never dosed


# ------------------------------------------------------------------ analyses

def assert_rows_agree(exact_rows, grid_rows):
    """p to 1e-10 (or 1e-12 absolute: a model that fits a tiny trial exactly has p
    of about 1e-16 made of rounding); estimates to 1e-10, hazard ratios to 1e-6."""
    assert len(exact_rows) == len(grid_rows)
    for ours, theirs in zip(grid_rows, exact_rows):
        assert ours[:3] == theirs[:3]
        assert ours[5] == theirs[5], (ours, theirs)      # the same not-estimable reason
        hazard = theirs[2] == "hazard_ratio"
        for k, rel, absolute in ((3, 1e-10, 1e-12), (4, 1e-6 if hazard else 1e-10, 0.0)):
            assert (ours[k] is None) == (theirs[k] is None), (ours, theirs)
            if theirs[k] is not None:
                assert ours[k] == pytest.approx(theirs[k], rel=rel, abs=absolute), (ours, theirs)


@pytest.mark.parametrize("key", [k for k in DESIGN_KEYS if grid_saps(k)])
@pytest.mark.parametrize("n", ["design", 4])
def test_grid_rows_equal_exact_rows(key, n):
    """n = 4 leaves arms without values, trials without events and families cut
    short: the replicates the batch hands to the runner."""
    (sap,) = grid_saps(key)
    n = get_design(key).n if n == "design" else n
    exact = run_chunk(key, sap, n, 0, 25, 99, None, engine="exact")
    assert_rows_agree(exact, run_chunk(key, sap, n, 0, 25, 99, None, engine="grid"))


def test_an_exact_fit_gives_rounding_sized_p_values_in_both_engines():
    """Found by a sweep of 150 chunks (five designs, three effects, n = 3 to 40): with
    6 subjects the S/F ANCOVA can fit exactly; both engines then give p of about
    1e-16, which only rounding tells apart."""
    (sap,) = grid_saps("nebulized-exosomes")
    rows = {engine: run_chunk("nebulized-exosomes", sap, 6, 0, 25, 12345, NULL_EFFECT, engine)
            for engine in ("exact", "grid")}
    assert min(r[3] for r in rows["exact"] if r[3] is not None) < 1e-12
    assert_rows_agree(rows["exact"], rows["grid"])


def test_small_trials_exercise_the_runner_and_the_family_rule():
    (sap,) = grid_saps("refractory-hypoxia")
    rows = run_chunk("refractory-hypoxia", sap, 2, 0, 25, 3, None, engine="grid")
    frame = pd.DataFrame(rows, columns=["analysis", "arm", "estimand", "p", "estimate", "reason"])
    # every replicate has a row for every analysis: with one subject an arm, many
    # replicates cannot run the primary ANCOVA, which is then a not-estimable row
    assert (frame["analysis"].value_counts() == 25).all()
    primary = frame[frame["analysis"] == "primary"].reset_index(drop=True)
    unestimable = primary["arm"].isna() | primary["p"].isna()
    assert unestimable.any() and primary.loc[unestimable, "reason"].notna().all()
    # the family (primary, ttci_logrank, Holm): a primary without p counts as p = 1, so
    # the log-rank p is doubled (Holm's first step with m = 2) rather than dropped
    logrank = frame[frame["analysis"] == "ttci_logrank"].reset_index(drop=True)
    raw = pd.DataFrame(run_chunk("refractory-hypoxia", restrict_sap(sap, ["ttci_logrank"]), 2, 0,
                                 25, 3, None, engine="grid"), columns=frame.columns)
    both = unestimable & logrank["p"].notna()
    assert both.any()
    assert logrank.loc[both, "p"].to_numpy() == pytest.approx(
        np.minimum(1.0, 2 * raw.loc[both, "p"].to_numpy()))


def test_batched_statistics_equal_the_runner_on_the_same_grid():
    (sap,) = grid_saps("three-arm-paxlovid")     # strata and a three-arm ANCOVA
    for chunk in range(2):
        grid = make_grid("three-arm-paxlovid", 90, 25, _chunk_seed(4, 90, chunk))
        assert_rows_agree(analyse_grid(grid, sap, runner_only=True), analyse_grid(grid, sap))


# ------------------------------------------------------------------ batch statistics with masks

def random_survival(rng, b, n, days=28):
    time = rng.integers(1, days + 1, (b, n)).astype(float)
    event = rng.random((b, n)) < 0.6
    treated = rng.random((b, n)) < 0.5
    included = rng.random((b, n)) < 0.8
    strata = rng.integers(0, 2, (b, n))
    return time, event, treated, included, strata


@pytest.mark.parametrize("stratified", [False, True])
def test_cox_batch_equals_cox_fit(stratified):
    rng = np.random.default_rng(11)
    time, event, treated, included, strata = random_survival(rng, 30, 50)
    fit = cox_batch(time, event, treated, strata if stratified else None, included)
    assert fit.reliable.sum() >= 28
    for r in np.flatnonzero(fit.reliable):
        keep = included[r]
        scalar = cox_fit(time[r, keep], event[r, keep].astype(float),
                         treated[r, keep, None].astype(float), ("ARM",),
                         strata[r, keep] if stratified else None)
        assert fit.params[r] == pytest.approx(scalar.params[0], rel=1e-6, abs=1e-9)
        assert fit.se[r] == pytest.approx(scalar.se[0], rel=1e-6)


def test_cox_batch_flags_an_arm_without_events():
    time = np.array([[3.0, 5, 7, 9, 11, 13]])
    event = np.array([[1, 1, 1, 0, 0, 0]])
    treated = np.array([[0, 0, 0, 1, 1, 1]])
    assert not cox_batch(time, event, treated).reliable[0]   # coxph: "may be infinite"


@pytest.mark.parametrize("stratified", [False, True])
def test_logrank_batch_with_included_equals_logrank_test(stratified):
    rng = np.random.default_rng(12)
    time, event, treated, included, strata = random_survival(rng, 20, 40)
    test = logrank_batch(time, event, treated, strata if stratified else None, included)
    for r in range(20):
        keep = included[r]
        scalar = logrank_test(time[r, keep], event[r, keep].astype(float), treated[r, keep],
                              strata[r, keep] if stratified else None)
        assert test.chi2[r] == pytest.approx(scalar.statistic, rel=1e-10)


def test_ancova_batch_with_included_equals_least_squares():
    rng = np.random.default_rng(13)
    b, n = 20, 30
    y, base = rng.normal(size=(b, n)), rng.normal(100, 20, (b, n))
    treated = np.tile(np.arange(n) % 2, (b, 1))
    included = rng.random((b, n)) < 0.7
    y[~included] = np.nan                       # left-out values may be missing
    fit = ancova_batch(y, treated, base[..., None], included)
    for r in range(b):
        keep = included[r]
        x = np.column_stack([np.ones(keep.sum()), treated[r, keep], base[r, keep]])
        scalar = least_squares(y[r, keep], x, ("(Intercept)", "ARM", "BASE"))
        assert fit.estimate[r] == pytest.approx(scalar.params[1], rel=1e-10)
        assert fit.se[r] == pytest.approx(scalar.se[1], rel=1e-10)
        assert fit.df[r] == scalar.df


@pytest.mark.parametrize("method", ["none", "bonferroni", "holm", "hochberg"])
def test_adjust_rows_equals_adjust_row_by_row(method):
    rng = np.random.default_rng(14)
    p = rng.random((200, 4)) ** 3
    p[rng.random(p.shape) < 0.2] = np.nan
    p[:, 3] = np.where(rng.random(200) < 0.2, p[:, 0], p[:, 3])          # ties
    rows = adjust_rows(p, method)
    for r in range(200):
        expected = [np.nan if v is None else v
                    for v in adjust([None if np.isnan(v) else v for v in p[r]], method)]
        np.testing.assert_array_equal(rows[r], expected)


# ------------------------------------------------------------------ engine choice

def test_auto_engine_is_grid_only_where_the_sap_allows():
    rh = template("refractory-hypoxia")
    assert choose_engine(restrict_sap(rh, ["primary", "ttci_logrank"])) == "grid"
    assert choose_engine(rh) == "exact"                 # Fine-Gray, RMST, MI...
    assert choose_engine(restrict_sap(rh, ["primary"]), "exact") == "exact"
    assert choose_engine(restrict_sap(rh, ["primary", "ttci_logrank", "pf_mmrm"])) == "grid"
    with pytest.raises(SapError, match="the grid engine cannot run analysis"):
        choose_engine(rh, "grid")
    assert choose_engine(template("single-arm-bm-msc")) == "exact"
    assert choose_engine(restrict_sap(template("prevent-progression"), ["primary"])) == "grid"
    with pytest.raises(SapError, match="ae_any: an adverse-event condition"):
        choose_engine(restrict_sap(template("prevent-progression"), ["ae_any"]), "grid")


def test_engines_give_the_same_operating_characteristics():
    sap = template("refractory-hypoxia")
    runs = {engine: simulate("refractory-hypoxia", sap, [30], 50, seed=8, engine=engine,
                             analyses=["primary", "ttci_logrank"])
            for engine in ("grid", "exact")}
    grid, exact = (runs[e].to_dict() for e in ("grid", "exact"))
    assert (grid["engine"], exact["engine"]) == ("grid", "exact")
    for ours, theirs in zip(grid["results"], exact["results"]):
        assert {k: ours[k] for k in ("analysis", "n_estimable", "rejections")} == \
            {k: theirs[k] for k in ("analysis", "n_estimable", "rejections")}
        assert ours["mean_estimate"] == pytest.approx(theirs["mean_estimate"], rel=1e-7)


def test_cli_engine_option(tmp_path):
    out = tmp_path / "oc.json"
    result = CliRunner().invoke(main, ["simulate", "--design", "refractory-hypoxia",
                                       "--n-sims", "25", "--analyses", "primary",
                                       "--engine", "grid", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["engine"] == "grid"
    refused = CliRunner().invoke(main, ["simulate", "--design", "refractory-hypoxia",
                                        "--n-sims", "25", "--analyses", "vfd28_wilcoxon",
                                        "--engine", "grid", "-o", str(out)])
    assert refused.exit_code != 0
    assert "vfd28_wilcoxon: method wilcoxon" in refused.output
    assert "Traceback" not in refused.output


def test_welch_batch_with_included_equals_welch():
    rng = np.random.default_rng(15)
    b, n = 20, 30
    y = rng.normal(10, 3, (b, n))
    treated = np.tile(np.arange(n) % 2, (b, 1)).astype(bool)
    included = rng.random((b, n)) < 0.7
    y[~included] = np.nan
    fit = welch_t_batch(y, treated, included)
    for r in range(b):
        keep = included[r]
        scalar = welch(y[r, keep & treated[r]], y[r, keep & ~treated[r]])
        assert fit.estimate[r] == pytest.approx(scalar.estimate, rel=1e-10)
        assert fit.t[r] == pytest.approx(scalar.statistic, rel=1e-10)
        assert fit.df[r] == pytest.approx(scalar.df, rel=1e-10)

"""The simulation engine: the grid derivation, the batch kernels and the runner fallback.

derive/grid.py derives the generator's (subject x day) arrays; every endpoint
equals derive.py on the same trials' visit records (every kind, condition and
strategy of the templates). grid_engine runs an analysis's batch kernel where
its method has one and its runner on each replicate's grid rows otherwise: the
kernels agree with the runner on the same grid (p-values to 1e-10, estimates to
1e-10, Cox hazard ratios to the fit's convergence, about 1e-7), and the rows of a
chunk equal those of pipeline.analyze on each of its trials as a real one.
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
from mscstats.pipeline import analyze
from mscstats.simulation.engine import _chunk_seed, hypothesis_rows, restrict_sap, run_chunk, simulate
from mscstats.specs import METHODS
from mscstats.simulation.grid_engine import analyse_grid
from mscstats.simulation.synth import NULL_EFFECT, get_design, make_batch, make_grid, synthetic_rules
from mscstats.trial.validate import load_frames

ENDPOINT_COLUMNS = ("AVAL", "BASE", "CHG", "CNSR", "EVNTCD")


def grid_saps(key: str) -> list:
    """The design's template SAP restricted to the analyses with a batch kernel (keeping
    the multiplicity family whole), or [] when there are none."""
    sap = template(key)
    runnable = [a.id for a in sap.analyses if METHODS[a.method].batch_kernel
                and not unsupported(restrict_sap(sap, [a.id]))]
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


def _one_replicate(frames: dict, r: int) -> dict:
    """make_batch's tables of replicate r alone: a trial as derive sees a real one
    (worst-rank scores take the minimum and maximum of their own trial)."""
    adsl = frames["adsl"][frames["adsl"]["REPLICATE"] == r]
    return {name: table[table["USUBJID"].isin(adsl["USUBJID"])] if name != "adsl" else adsl
            for name, table in frames.items()}


def with_every_ae_kind(sap):
    """The SAP with a binary endpoint for each AE kind (plan.AE_KINDS) the template lacks."""
    from mscstats.plan import AE_KINDS, Condition, EventRule
    used = {c.ae for e in sap.endpoints if e.event for c in e.event.leaves()}
    model = next(e for e in sap.endpoints if e.kind == "binary")
    extra = tuple(replace(model, id=f"ae_{kind}_extra", event=EventRule("any", (Condition(ae=kind),)))
                  for kind in AE_KINDS if kind not in used)
    return replace(sap, endpoints=sap.endpoints + extra)


@pytest.mark.parametrize("key, rules", RULE_VARIANTS)
def test_grid_derivation_equals_derive(key, rules):
    """Every endpoint of the template (every kind, every AE kind, composite and while
    strategies), value by value and with its ICE, replicate by replicate: the
    generator's arrays derived on the grid equal its visit records through daily.py,
    pivoted to the grid."""
    sap = with_every_ae_kind(replace(template(key), data=rules))
    n, replicates, seed = get_design(key).n, 3, 20261123
    frames = make_batch(key, n, replicates, seed, tables=("adsl", "visits", "adae", "ex"))
    derivation = GridDerivation(make_grid(key, n, replicates, seed, adverse_events=True), rules)
    grids = {e.id: derivation.endpoint(e) for e in sap.endpoints}
    kinds = set()
    for r in range(replicates):
        part = _one_replicate(frames, r)
        exact = derive(load_frames(part, key, sap.study.arms, synthetic_rules(rules)), sap)
        ours = slice(r * n, (r + 1) * n)
        for endpoint in sap.endpoints:
            assert not endpoint_unsupported(endpoint)
            rows = exact.of(endpoint.id)
            if endpoint.repeated:
                rows = rows[rows["DAY"] == endpoint.day]
            rows = rows.set_index("USUBJID").reindex(part["adsl"]["USUBJID"])
            grid = grids[endpoint.id]
            for column in ENDPOINT_COLUMNS:
                mine = getattr(grid, column.lower())[ours]
                theirs = rows[column].to_numpy(dtype=float)
                assert same(mine, theirs).all(), (endpoint.id, column, r,
                                                  np.flatnonzero(~same(mine, theirs))[:5])
            if grid.ice is not None:
                assert (grid.ice[ours] == rows["ICE"].to_numpy(dtype=object)).all()
            kinds.add(endpoint.kind)
    assert {"change", "time_to_event", "binary"} <= kinds


def test_every_template_endpoint_is_derived_on_the_grid():
    """Grid coverage: every endpoint kind, condition and strategy of the five templates."""
    for key in DESIGN_KEYS:
        for endpoint in template(key).endpoints:
            assert endpoint_unsupported(endpoint) == [], (key, endpoint.id)


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

def assert_rows_agree(runner_rows, kernel_rows):
    """p to 1e-10 (or 1e-12 absolute: a model that fits a tiny trial exactly has p
    of about 1e-16 made of rounding); estimates to 1e-10, hazard ratios to 1e-6."""
    assert len(runner_rows) == len(kernel_rows)
    for ours, theirs in zip(kernel_rows, runner_rows):
        assert ours[:3] == theirs[:3]
        assert ours[5] == theirs[5], (ours, theirs)      # the same not-estimable reason
        hazard = theirs[2] == "hazard_ratio"
        for k, rel, absolute in ((3, 1e-10, 1e-12), (4, 1e-6 if hazard else 1e-10, 0.0)):
            assert (ours[k] is None) == (theirs[k] is None), (ours, theirs)
            if theirs[k] is not None:
                assert ours[k] == pytest.approx(theirs[k], rel=rel, abs=absolute), (ours, theirs)


@pytest.mark.parametrize("key", [k for k in DESIGN_KEYS if grid_saps(k)])
@pytest.mark.parametrize("n", ["design", 4])
def test_kernel_rows_equal_runner_rows(key, n):
    """n = 4 leaves arms without values, trials without events and families cut
    short: the replicates the batch hands to the runner."""
    (sap,) = grid_saps(key)
    n = get_design(key).n if n == "design" else n
    runner = run_chunk(key, sap, n, 0, 25, 99, None, runner_only=True)
    assert_rows_agree(runner, run_chunk(key, sap, n, 0, 25, 99, None))


def test_an_exact_fit_gives_rounding_sized_p_values_in_kernel_and_runner():
    """Found by a sweep of 150 chunks (five designs, three effects, n = 3 to 40): with
    6 subjects the S/F ANCOVA can fit exactly; kernel and runner then give p of about
    1e-16, which only rounding tells apart."""
    (sap,) = grid_saps("nebulized-exosomes")
    rows = {only: run_chunk("nebulized-exosomes", sap, 6, 0, 25, 12345, NULL_EFFECT,
                            runner_only=only) for only in (True, False)}
    assert min(r[3] for r in rows[True] if r[3] is not None) < 1e-12
    assert_rows_agree(rows[True], rows[False])


def whole_saps():
    """Each template SAP with the analyses the engine runs (all but visit-row ones)."""
    out = []
    for key in DESIGN_KEYS:
        sap = template(key)
        kept = [a.id for a in sap.analyses if not unsupported(restrict_sap(sap, [a.id]))]
        out.append((key, restrict_sap(sap, kept)))
    return out


@pytest.mark.parametrize("key, sap", whole_saps(), ids=[k for k, _ in whole_saps()])
def test_chunk_rows_equal_the_pipeline_on_each_trial(key, sap):
    """The one engine gives, trial by trial, what `mscstats analyze` gives on the same
    trial's tables (make_batch's visit records, validated and derived as a real trial):
    kernels, runners on grid rows and the multiplicity family."""
    n, replicates, seed = get_design(key).n, 2, _chunk_seed(sap.study.seed, get_design(key).n, 0)
    rows = run_chunk(key, sap, n, 0, replicates, sap.study.seed, None)
    frames = make_batch(key, n, replicates, seed, tables=("adsl", "visits", "adae", "ex"))
    expected = []
    for r in range(replicates):
        trial = load_frames(_one_replicate(frames, r), key, sap.study.arms,
                            synthetic_rules(sap.data))
        expected += [row for result in analyze(trial, sap).analyses
                     for row in hypothesis_rows(result)]
    assert_rows_agree(expected, rows)


def test_small_trials_exercise_the_runner_and_the_family_rule():
    (sap,) = grid_saps("refractory-hypoxia")
    rows = run_chunk("refractory-hypoxia", sap, 2, 0, 25, 3, None)
    frame = pd.DataFrame(rows, columns=["analysis", "arm", "estimand", "p", "estimate", "reason"])
    # every replicate has a row for every analysis with hypotheses: with one subject an
    # arm, many replicates cannot run the primary ANCOVA, which is then a not-estimable
    # row; an analysis without hypotheses (a tipping point; cuminc: Gray's test is not
    # an arm's) has a row only where it is not estimable
    counts = frame["analysis"].value_counts()
    without = [a.id for a in sap.analyses if a.method in ("cuminc", "km", "tipping_point")]
    assert (counts.drop(without, errors="ignore") == 25).all()
    assert (counts.reindex(without, fill_value=0) < 25).all()
    assert frame.loc[frame["analysis"].isin(without), "arm"].isna().all()
    assert frame.loc[frame["analysis"].isin(without), "reason"].notna().all()
    primary = frame[frame["analysis"] == "primary"].reset_index(drop=True)
    unestimable = primary["arm"].isna() | primary["p"].isna()
    assert unestimable.any() and primary.loc[unestimable, "reason"].notna().all()
    # the family (primary, ttci_logrank, Holm): a primary without p counts as p = 1, so
    # the log-rank p is doubled (Holm's first step with m = 2) rather than dropped
    logrank = frame[frame["analysis"] == "ttci_logrank"].reset_index(drop=True)
    raw = pd.DataFrame(run_chunk("refractory-hypoxia", restrict_sap(sap, ["ttci_logrank"]), 2, 0,
                                 25, 3, None), columns=frame.columns)
    both = unestimable & logrank["p"].notna()
    assert both.any()
    assert logrank.loc[both, "p"].to_numpy() == pytest.approx(
        np.minimum(1.0, 2 * raw.loc[both, "p"].to_numpy()))


def test_batched_statistics_equal_the_runner_on_the_same_grid():
    (sap,) = grid_saps("three-arm-paxlovid")     # strata and a three-arm ANCOVA
    for chunk in range(2):
        grid = make_grid("three-arm-paxlovid", 90, 25, _chunk_seed(4, 90, chunk),
                         adverse_events=True)
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


# ------------------------------------------------------------------ what the engine runs

def test_every_template_runs_and_only_covariates_the_generator_lacks_are_unsupported():
    for key in DESIGN_KEYS:
        assert unsupported(template(key)) == [], key
    rh = template("refractory-hypoxia")
    odd = replace(rh, analyses=tuple(
        replace(a, options={**a.options, "covariates": ("BASE", "WEIGHT")})
        if a.id == "primary" else a for a in rh.analyses))
    assert unsupported(odd) == ["analysis primary: covariate or stratum WEIGHT (the generator "
                                "makes AGE, SEX, BMI, STRATUM)"]
    with pytest.raises(SapError, match="primary: covariate or stratum WEIGHT"):
        simulate("refractory-hypoxia", odd, [20], 2)


def test_a_repeated_endpoint_s_runner_gets_a_row_per_visit_on_the_grid():
    # the MMRM and MI of the repeated P/F endpoint run on every replicate's visit rows
    rh = template("refractory-hypoxia")
    mi = replace(rh, analyses=tuple(replace(a, endpoint="pf_course") if a.id == "primary_mi"
                                    else a for a in rh.analyses))
    sap = restrict_sap(mi, ["pf_mmrm", "primary_mi"])
    oc = simulate("refractory-hypoxia", sap, [30], 25, seed=8).to_dict()
    assert {r["analysis"]: r["n_estimable"] for r in oc["results"]} == \
        {"pf_mmrm": 25, "primary_mi": 25}


def test_a_method_without_kernel_runs_its_runner_on_every_replicate(monkeypatch):
    from mscstats.simulation import grid_engine
    sap = restrict_sap(template("refractory-hypoxia"), ["vfd28_wilcoxon", "who_d14_po"])
    with_kernels = simulate("refractory-hypoxia", sap, [30], 25, seed=8).to_dict()
    monkeypatch.setattr(grid_engine, "_BATCH", {m: k for m, k in grid_engine._BATCH.items()
                                                if m not in ("wilcoxon", "ordinal_po")})
    oc = simulate("refractory-hypoxia", sap, [30], 25, seed=8).to_dict()
    assert oc["engine"] == "grid"
    assert any("vfd28_wilcoxon, who_d14_po" in note for note in oc["notes"])
    assert not any("vfd28_wilcoxon" in note for note in with_kernels["notes"])
    assert {r["analysis"]: r["n_estimable"] for r in oc["results"]} == \
        {"vfd28_wilcoxon": 25, "who_d14_po": 25}
    assert [r["rejections"] for r in oc["results"]] == \
        [r["rejections"] for r in with_kernels["results"]]


def test_cli_simulates_a_whole_sap_and_has_no_engine_option(tmp_path):
    out = tmp_path / "oc.json"
    result = CliRunner().invoke(main, ["simulate", "--design", "single-arm-bm-msc",
                                       "--n-sims", "25", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["engine"] == "grid"
    old = CliRunner().invoke(main, ["simulate", "--design", "single-arm-bm-msc",
                                    "--engine", "exact", "-o", str(out)])
    assert old.exit_code == 2 and "--engine" in old.output


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

"""Competing risks against cmprsk (tests/reference/competing/competing.R -> competing.json), plus
invariants and degenerate data through the runners.

Each parametrized case is one R call; ``pytest -v`` lists them. Tolerances
(DESIGN.md 5): cuminc's estimate, variance, CI and Gray's statistic are closed
form (1e-6 relative); crr is iterative (1e-4); p-values 1e-6 absolute.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mscstats.analysis import AnalysisInput, design, run
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.cores.cuminc import at_landmarks, cumulative_incidence
from mscstats.analysis.cores.finegray import censoring_survival_before, fine_gray
from mscstats.analysis.cores.gray import gray_test
from mscstats.errors import AnalysisError
from mscstats.results import dumps_json
from conftest import CLOSED, ITERATIVE, P_ABS, REFERENCE, ROOT

HERE = REFERENCE / "competing"
REF = json.loads((HERE / "competing.json").read_text())
FILES = {"mgus2": "cr_mgus2", "hypoxia": "hypoxia_ttci_cr", "three_arm": "three_arm_strata",
         "small": "small_n10", "no_competing": "no_competing", "no_events_arm": "no_events_arm"}


def data(name) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / f"{FILES[name]}.csv")


def vector(v) -> list:
    """R's JSON: length-1 vectors come unboxed; NA is null."""
    return v if isinstance(v, list) else [v]


def cause_of(frame, cause: int) -> np.ndarray:
    """EVNTCD with ``cause`` as the cause of interest (1) and the other as competing (2)."""
    e = frame["EVNTCD"].to_numpy(dtype=int)
    return e if cause == 1 else np.where(e == 0, 0, 3 - e)


def same(actual, expected, rel):
    """Element-wise: None where R has NA, else within ``rel``."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        if e is None:
            assert a is None
        else:
            assert a == pytest.approx(e, rel=rel, abs=1e-12)


def ids(cases):
    return [c["case"] for c in cases]


def test_reference_provenance():
    assert REF["R"].startswith("R version")
    assert "do not edit" in REF["generated_by"]
    assert REF["packages"]["cmprsk"].startswith("2.2")


# ------------------------------------------------------------------ cuminc

@pytest.mark.parametrize("case", REF["cuminc"], ids=ids(REF["cuminc"]))
def test_cumulative_incidence_matches_cuminc(case):
    d = data(case["data"])
    arm = d[d.ARM == case["arm"]]
    curve = cumulative_incidence(arm.AVAL, cause_of(arm, case["cause"]))
    marks = at_landmarks(curve, vector(case["days"]), case["ci_level"])
    same([m.estimate for m in marks], vector(case["estimate"]), CLOSED)
    same([m.variance for m in marks], vector(case["variance"]), CLOSED)
    same([m.lower for m in marks], vector(case["lower"]), CLOSED)
    same([m.upper for m in marks], vector(case["upper"]), CLOSED)


@pytest.mark.parametrize("case", REF["gray"], ids=ids(REF["gray"]))
def test_gray_matches_cuminc_tests(case):
    d = data(case["data"])
    strata = d[case["strata"]].to_numpy() if case.get("strata") else None
    g = gray_test(d.AVAL, cause_of(d, case["cause"]), d.ARM, strata)
    assert g.statistic == pytest.approx(case["statistic"], rel=CLOSED)
    assert g.df == case["df"]
    assert g.p_value == pytest.approx(case["p_value"], abs=P_ABS)


# ------------------------------------------------------------------ crr

def crr_design(frame, arms, covariates):
    blocks = [design.categorical("ARM", frame["ARM"], arms)]
    blocks += design.covariate_blocks(frame, covariates)
    return design.stack(blocks)


@pytest.mark.parametrize("case", REF["crr"], ids=ids(REF["crr"]))
def test_fine_gray_matches_crr(case):
    d = data(case["data"])
    x, names = crr_design(d, vector(case["arms"]), vector(case["covariates"]) if
                          case["covariates"] else [])
    assert list(names) == vector(case["names"])
    fit = fine_gray(d.AVAL, d.EVNTCD, x)
    assert fit.converged == case["converged"]
    assert fit.params.tolist() == pytest.approx(vector(case["coef"]), rel=ITERATIVE, abs=1e-10)
    assert fit.se.tolist() == pytest.approx(vector(case["se"]), rel=ITERATIVE)
    p = [2 * float(stats.norm.sf(abs(b / s))) for b, s in zip(fit.params, fit.se)]
    assert p == pytest.approx(vector(case["p_value"]), abs=P_ABS)
    assert fit.llf == pytest.approx(case["loglik"], rel=ITERATIVE)
    assert fit.llnull == pytest.approx(case["loglik_null"], rel=CLOSED)


def inp(method, frame, arms, options=None, **kw):
    return AnalysisInput("cr", "ttci_cr", "time_to_event", method, frame, tuple(arms),
                         options or {}, **kw)


@pytest.mark.parametrize("case", REF["crr"], ids=ids(REF["crr"]))
def test_finegray_runner_matches_crr(case):
    d = data(case["data"])
    arms = vector(case["arms"])
    covariates = tuple(vector(case["covariates"])) if case["covariates"] else ()
    r = run(inp("finegray", d, arms, {"covariates": covariates}))
    for j, arm in enumerate(arms[1:]):
        c = r.comparison(arm)
        assert c.estimand == "subdistribution_hazard_ratio"
        assert c.estimate == pytest.approx(vector(case["shr"])[j], rel=ITERATIVE)
        assert list(c.ci) == pytest.approx([vector(case["lower"])[j], vector(case["upper"])[j]],
                                           rel=ITERATIVE)
        assert c.se == pytest.approx(vector(case["se"])[j], rel=ITERATIVE)
        assert c.p_value == pytest.approx(vector(case["p_value"])[j], abs=P_ABS)


# ------------------------------------------------------------------ runners vs R

def _cases(kind, data_name):
    return [c for c in REF[kind] if c["data"] == data_name]


def test_cuminc_runner_matches_r_on_the_hypoxia_trial():
    d = data("hypoxia")
    r = run(inp("cuminc", d, ["control", "UC-MSC"], {"landmarks": (7, 14, 28)}, horizon=28))
    for case in _cases("cuminc", "hypoxia"):
        if case["cause"] != 1:
            continue
        days = vector(case["days"])
        for day in (7, 14, 28):
            lm = r.by_arm[case["arm"]]["landmarks"][str(day)]
            k = days.index(day)
            assert lm["cumulative_incidence"] == pytest.approx(case["estimate"][k], rel=CLOSED)
            assert lm["variance"] == pytest.approx(case["variance"][k], rel=CLOSED)
            assert lm["lower"] == pytest.approx(case["lower"][k], rel=CLOSED)
            assert lm["upper"] == pytest.approx(case["upper"][k], rel=CLOSED)
    gray = next(c for c in REF["gray"] if c["case"] == "hypoxia/cause1")
    t = r.test("gray")
    assert t.statistic == pytest.approx(gray["statistic"], rel=CLOSED)
    assert t.p_value == pytest.approx(gray["p_value"], abs=P_ABS)
    assert t.df == 1
    assert r.by_arm["control"]["n"] + r.by_arm["UC-MSC"]["n"] == len(d)
    assert sum(s["events"] for s in r.by_arm.values()) == int((d.EVNTCD == 1).sum())
    assert sum(s["competing"] for s in r.by_arm.values()) == int((d.EVNTCD == 2).sum())
    json.loads(dumps_json(r))


def test_cuminc_runner_stratified_three_arms():
    d = data("three_arm")
    r = run(inp("cuminc", d, ["standard", "Paxlovid", "UC-MSC"],
                {"landmarks": (7, 14, 28), "strata": ("STRATUM",)}))
    gray = next(c for c in REF["gray"] if c["case"] == "three_arm|strata=STRATUM/cause1")
    assert r.test("gray").statistic == pytest.approx(gray["statistic"], rel=CLOSED)
    assert r.test("gray").p_value == pytest.approx(gray["p_value"], abs=P_ABS)
    assert r.test("gray").df == 2
    assert [c.arm for c in r.curves] == ["standard", "Paxlovid", "UC-MSC"]
    assert all(c.kind == "cumulative_incidence" for c in r.curves)


# ------------------------------------------------------------------ invariants

def test_row_order_changes_nothing():
    d = data("hypoxia")
    shuffled = d.sample(frac=1.0, random_state=3).reset_index(drop=True)
    for method, options in (("cuminc", {"landmarks": (7, 14, 28)}), ("finegray", {})):
        a = run(inp(method, d, ["control", "UC-MSC"], options))
        b = run(inp(method, shuffled, ["control", "UC-MSC"], options))
        assert dumps_json(a) == dumps_json(b)


def test_swapping_arms_inverts_the_subdistribution_hazard_ratio():
    d = data("hypoxia")
    a = run(inp("finegray", d, ["control", "UC-MSC"])).comparisons[0]
    b = run(inp("finegray", d, ["UC-MSC", "control"])).comparisons[0]
    assert b.estimate == pytest.approx(1 / a.estimate, rel=1e-8)
    assert list(b.ci) == pytest.approx([1 / a.ci[1], 1 / a.ci[0]], rel=1e-8)
    assert b.p_value == pytest.approx(a.p_value, abs=1e-10)
    assert b.se == pytest.approx(a.se, rel=1e-8)


def test_without_competing_events_the_incidence_is_one_minus_kaplan_meier():
    d = data("no_competing")
    for arm in ("control", "UC-MSC"):
        x = d[d.ARM == arm]
        curve = cumulative_incidence(x.AVAL, x.EVNTCD)
        surv, expected = 1.0, []
        for t in curve.time:                   # Kaplan-Meier by hand
            at_risk = (x.AVAL >= t).sum()
            surv *= 1 - ((x.AVAL == t) & (x.EVNTCD == 1)).sum() / at_risk
            expected.append(1 - surv)
        assert curve.estimate.tolist() == pytest.approx(expected, rel=1e-12)


def test_incidence_of_both_causes_adds_up_to_one_minus_all_cause_km():
    d = data("small")
    x = d[d.ARM == "UC-MSC"]
    f1 = cumulative_incidence(x.AVAL, cause_of(x, 1)).estimate
    f2 = cumulative_incidence(x.AVAL, cause_of(x, 2)).estimate
    all_cause = cumulative_incidence(x.AVAL, np.where(x.EVNTCD > 0, 1, 0)).estimate
    assert (f1 + f2).tolist() == pytest.approx(all_cause.tolist(), rel=1e-12)


def test_censoring_survival_is_evaluated_just_before_each_time():
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    cause = np.array([0, 0, 1, 2, 0])
    # G jumps at 1 (1 - 1/5) and at 2 (1 - 1/4): G(2-) = 0.8, G(3-) = 0.6
    assert censoring_survival_before(time, cause).tolist() == pytest.approx([1, .8, .8, .6, .6])


# ------------------------------------------------------------------ edge cases

def test_n10_runners():
    d = data("small")
    r = run(inp("cuminc", d, ["control", "UC-MSC"], {"landmarks": (5, 13)}))
    assert r.by_arm["control"]["landmarks"]["13"]["cumulative_incidence"] is None
    assert r.by_arm["UC-MSC"]["landmarks"]["13"]["cumulative_incidence"] is None
    assert any("after the last follow-up" in n for n in r.notes)
    assert r.by_arm["control"]["landmarks"]["5"]["cumulative_incidence"] == pytest.approx(0.2)
    f = run(inp("finegray", d, ["control", "UC-MSC"]))
    assert f.comparisons[0].estimate is not None


def test_arm_without_events_of_interest():
    d = data("no_events_arm")
    r = run(inp("cuminc", d, ["control", "UC-MSC"], {"landmarks": (7, 28)}))
    assert r.by_arm["UC-MSC"]["events"] == 0
    lm = r.by_arm["UC-MSC"]["landmarks"]["28"]
    assert lm["cumulative_incidence"] == 0.0 and lm["lower"] is None
    assert any("no event of interest" in n for n in r.notes)
    gray = next(c for c in REF["gray"] if c["case"] == "no_events_arm/cause1")
    assert r.test("gray").statistic == pytest.approx(gray["statistic"], rel=CLOSED)
    f = run(inp("finegray", d, ["control", "UC-MSC"]))
    assert f.comparisons[0].estimate is None
    assert any("no event of interest" in n for n in f.notes)


def test_all_censored():
    d = pd.DataFrame({"USUBJID": [f"S{i}" for i in range(8)], "ARM": ["a"] * 4 + ["b"] * 4,
                      "AVAL": [3, 5, 7, 9, 2, 4, 6, 8], "EVNTCD": [0] * 8, "CNSR": [1] * 8})
    r = run(inp("cuminc", d, ["a", "b"], {"landmarks": (5,)}))
    assert r.by_arm["a"]["landmarks"]["5"]["cumulative_incidence"] == 0.0
    assert r.test("gray").statistic is None
    assert any("Gray's test" in n for n in r.notes)
    f = run(inp("finegray", d, ["a", "b"]))
    assert f.comparisons[0].estimate is None
    with pytest.raises(NotEstimable):
        fine_gray(d.AVAL, d.EVNTCD, np.array([0, 0, 0, 0, 1, 1, 1, 1.0]))


def test_single_arm_cuminc_has_no_test():
    d = data("small")
    d = d[d.ARM == "control"]
    r = run(inp("cuminc", d, ["control"], {"landmarks": (5,)}))
    assert r.tests == ()
    assert len(r.curves) == 1


def test_default_landmark_is_the_horizon():
    r = run(inp("cuminc", data("hypoxia"), ["control", "UC-MSC"], horizon=28))
    assert list(r.by_arm["control"]["landmarks"]) == ["28"]


def test_without_evntcd_cause_is_one_minus_cnsr():
    d = data("no_competing").assign(CNSR=lambda x: 1 - x.EVNTCD).drop(columns="EVNTCD")
    r = run(inp("cuminc", d, ["control", "UC-MSC"], {"landmarks": (14,)}))
    assert any("1 - CNSR" in n for n in r.notes)
    assert r.by_arm["control"]["competing"] == 0


def test_missing_times_are_counted():
    d = data("small")
    d.loc[0, "AVAL"] = np.nan
    r = run(inp("cuminc", d, ["control", "UC-MSC"], {"landmarks": (5,)}))
    assert r.by_arm["control"]["n_missing"] == 1 and r.by_arm["control"]["n"] == 4


def test_bad_cause_code_and_missing_covariate_are_errors():
    d = data("small")
    with pytest.raises(AnalysisError, match="EVNTCD"):
        run(inp("cuminc", d.assign(EVNTCD=d.EVNTCD.replace(2, 3)), ["control", "UC-MSC"]))
    with pytest.raises(AnalysisError, match="AGE"):
        run(inp("finegray", d, ["control", "UC-MSC"], {"covariates": ("AGE",)}))
    with pytest.raises(NotEstimable, match="no subject"):   # not estimable, not an error
        run(inp("finegray", d, ["control", "UC-MSC", "BM-MSC"]))


def test_curves_are_step_functions_for_figures():
    d = data("small")
    r = run(inp("cuminc", d, ["control", "UC-MSC"]))
    c = r.curves[0]
    x = d[d.ARM == "control"]
    assert list(c.time) == sorted(set(x.AVAL))
    assert sum(c.n_event) == (x.EVNTCD == 1).sum()
    assert sum(c.n_censor) == (x.EVNTCD == 0).sum()
    assert c.n_risk[0] == len(x)
    assert all(math.isfinite(e) for e in c.estimate)
    assert list(c.estimate) == sorted(c.estimate)


def test_censoring_at_time_zero_counts_as_crr_does():
    time = np.array([0.0, 0.0, 1.0, 2.0])
    cause = np.array([0, 2, 1, 0])
    assert censoring_survival_before(time, cause).tolist() == pytest.approx([0.75, 0.75, 0.75, 0.75])


def test_template_sap_analyses_run_through_the_pipeline():
    from mscstats import pipeline, plan
    trial = pipeline.load(ROOT / "data" / "synthetic" / "refractory-hypoxia")
    sap = plan.template("refractory-hypoxia")
    endpoints = pipeline.derive_endpoints(trial, sap)
    analyses = {a.id: a for a in sap.analyses}
    ref = data("hypoxia")
    cuminc = run(pipeline.analysis_input(trial, sap, endpoints, analyses["ttci_cuminc"]))
    gray = next(c for c in REF["gray"] if c["case"] == "hypoxia/cause1")
    assert cuminc.test("gray").statistic == pytest.approx(gray["statistic"], rel=CLOSED)
    assert sum(s["n"] for s in cuminc.by_arm.values()) == len(ref)
    fg = run(pipeline.analysis_input(trial, sap, endpoints, analyses["ttci_finegray"]))
    crr = next(c for c in REF["crr"] if c["case"] == "hypoxia/ref=control")
    assert fg.comparisons[0].estimate == pytest.approx(crr["shr"], rel=ITERATIVE)

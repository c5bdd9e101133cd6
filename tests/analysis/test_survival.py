"""Survival runners (km, logrank, cox, rmst) through AnalysisInput, and invariants.

The numbers are checked against the same R reference as the cores
(tests/reference/survival/survival.json); see test_survival_reference.py for the cores.
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.cores.logrank import logrank_test
from mscstats.cli import main
from mscstats.analysis.cores.common import NotEstimable
from mscstats.errors import AnalysisError
from mscstats.plan import template_text
from conftest import CLOSED, ITERATIVE, P_ABS, REFERENCE, TESTS

HERE = REFERENCE / "survival"
REF = json.loads((HERE / "survival.json").read_text())
ROOT = TESTS.parent


def case(kind, name):
    return next(c for c in REF[kind] if c["case"] == name)


def r_value(v):
    return None if v == "NA" else v


def data(name):
    return pd.read_csv(HERE / "data" / f"{name}.csv")


def analysis(frame, method, arms, **options):
    return AnalysisInput(id=f"t_{method}", endpoint="ttci", endpoint_kind="time_to_event",
                         method=method, data=frame, arms=tuple(arms), options=options,
                         horizon=28)


# ------------------------------------------------------------------ against R

def test_logrank_runner_two_arms_matches_r():
    result = run(analysis(data("refractory-hypoxia_ttci"), "logrank", ["control", "UC-MSC"],
                          landmarks=(7, 14, 28)))
    sd, cox = case("survdiff", "refractory-hypoxia_ttci"), case("coxph", "refractory-hypoxia_ttci")
    test = result.test("logrank")
    assert test.statistic == pytest.approx(sd["chisq"], rel=CLOSED)
    assert test.p_value == pytest.approx(sd["p_value"], abs=P_ABS)
    assert test.df == 1
    c = result.comparison("UC-MSC")
    assert c.estimand == "hazard_ratio" and c.reference == "control"
    assert c.estimate == pytest.approx(math.exp(cox["coef"]), rel=ITERATIVE)
    assert list(c.ci) == pytest.approx([cox["ci_lower"], cox["ci_upper"]], rel=ITERATIVE)
    assert c.p_value == pytest.approx(sd["p_value"], abs=P_ABS)   # the log-rank p, not Wald's
    for arm in ("control", "UC-MSC"):
        km = case("km", f"refractory-hypoxia_ttci/{arm}/log-log")
        stats = result.by_arm[arm]
        assert stats["median"] == r_value(km["median"])
        assert stats["median_ci"] == [r_value(km["median_lower"]), r_value(km["median_upper"])]
        assert (stats["n"], stats["events"]) == (len(km["n_risk"]) and km["n_risk"][0],
                                                 sum(km["n_event"]))
        for i, day in enumerate(km["landmarks"]["times"]):
            mark = stats["landmarks"][str(day)]
            assert mark["survival"] == pytest.approx(km["landmarks"]["surv"][i], rel=CLOSED)
            assert mark["lower"] == pytest.approx(km["landmarks"]["lower"][i], rel=CLOSED)
            assert mark["upper"] == pytest.approx(km["landmarks"]["upper"][i], rel=CLOSED)
            assert mark["n_risk"] == km["landmarks"]["n_risk"][i]
    curve = {c.arm: c for c in result.curves}["control"]
    km = case("km", "refractory-hypoxia_ttci/control/log-log")
    assert list(curve.time) == km["time"] and list(curve.n_risk) == km["n_risk"]
    assert list(curve.estimate) == pytest.approx(km["surv"], rel=CLOSED)


def test_stratified_three_arm_logrank_matches_r():
    arms = ["standard", "Paxlovid", "UC-MSC"]
    result = run(analysis(data("three-arm-paxlovid_ttci"), "logrank", arms, strata=("STRATUM",)))
    overall = case("survdiff", "three-arm-paxlovid_ttci/strata")
    assert result.test("logrank").statistic == pytest.approx(overall["chisq"], rel=CLOSED)
    assert result.test("logrank").df == 2
    for arm in arms[1:]:
        pair = case("survdiff", f"three-arm-paxlovid_ttci/strata/{arm}")
        cox = case("coxph", f"three-arm-paxlovid_ttci/strata/{arm}")
        c = result.comparison(arm)
        assert c.p_value == pytest.approx(pair["p_value"], abs=P_ABS)
        assert c.estimate == pytest.approx(math.exp(cox["coef"]), rel=ITERATIVE)
        assert list(c.ci) == pytest.approx([cox["ci_lower"], cox["ci_upper"]], rel=ITERATIVE)


def test_cox_runner_matches_coxph():
    arms = ["standard", "Paxlovid", "UC-MSC"]
    result = run(analysis(data("three-arm-paxlovid_ttci"), "cox", arms, covariates=("AGE",)))
    cox = case("coxph", "three-arm-paxlovid_ttci/age")
    for j, arm in enumerate(arms[1:]):
        c = result.comparison(arm)
        assert c.estimate == pytest.approx(math.exp(cox["coef"][j]), rel=ITERATIVE)
        assert list(c.ci) == pytest.approx([cox["ci_lower"][j], cox["ci_upper"][j]], rel=ITERATIVE)
        assert c.p_value == pytest.approx(cox["p"][j], abs=P_ABS)
    for name in ("wald", "score", "likelihood_ratio"):
        t = result.test(name)
        assert [t.statistic, t.df] == pytest.approx(cox[name][:2], rel=ITERATIVE)
        assert t.p_value == pytest.approx(cox[name][2], abs=P_ABS)


def test_cox_runner_breslow_ties():
    result = run(analysis(data("heavy_ties"), "cox", ["control", "UC-MSC"], covariates=("AGE",),
                          ties="breslow"))
    cox = case("coxph", "heavy_ties/breslow")
    assert result.comparison("UC-MSC").estimate == pytest.approx(math.exp(cox["coef"][0]),
                                                                 rel=ITERATIVE)


def test_rmst_runner_matches_survfit_rmean():
    result = run(analysis(data("refractory-hypoxia_ttci"), "rmst", ["control", "UC-MSC"], tau=28))
    ref = {arm: case("km", f"refractory-hypoxia_ttci/{arm}/log-log")["rmst"]
           for arm in ("control", "UC-MSC")}
    for arm, r in ref.items():
        assert result.by_arm[arm]["rmst"] == pytest.approx(r["rmean"], rel=CLOSED)
        assert result.by_arm[arm]["rmst_se"] == pytest.approx(r["se"], rel=CLOSED)
    diff = result.comparisons[0]
    assert diff.estimand == "rmst_difference"
    assert diff.estimate == pytest.approx(ref["UC-MSC"]["rmean"] - ref["control"]["rmean"], rel=CLOSED)
    se = math.hypot(ref["UC-MSC"]["se"], ref["control"]["se"])
    assert diff.se == pytest.approx(se, rel=CLOSED)
    assert list(diff.ci) == pytest.approx([diff.estimate - 1.959963984540054 * se,
                                           diff.estimate + 1.959963984540054 * se], rel=CLOSED)
    ratio = result.comparisons[1]
    assert ratio.estimand == "rmst_ratio"
    r = ref["UC-MSC"]["rmean"] / ref["control"]["rmean"]
    log_se = math.hypot(ref["UC-MSC"]["se"] / ref["UC-MSC"]["rmean"],
                        ref["control"]["se"] / ref["control"]["rmean"])
    assert ratio.estimate == pytest.approx(r, rel=CLOSED)
    assert ratio.ci[1] / ratio.ci[0] == pytest.approx(math.exp(2 * 1.959963984540054 * log_se),
                                                      rel=CLOSED)


def test_single_arm_km_and_rmst_give_by_arm_only():
    d = data("single-arm-bm-msc_ttci")
    km_result = run(analysis(d, "km", ["BM-MSC"], landmarks=(7, 14, 28)))
    rmst_result = run(analysis(d, "rmst", ["BM-MSC"], tau=28))
    ref = case("km", "single-arm-bm-msc_ttci/BM-MSC/log-log")
    for result in (km_result, rmst_result):
        assert result.comparisons == () and result.tests == ()
        assert result.by_arm["BM-MSC"]["median"] == ref["median"]
    assert rmst_result.by_arm["BM-MSC"]["rmst"] == pytest.approx(ref["rmst"]["rmean"], rel=CLOSED)
    assert len(km_result.curves) == 1 and km_result.curves[0].kind == "survival"


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_conf_type_option(conf_type):
    d = data("lung")
    result = run(analysis(d, "km", ["male", "female"], conf_type=conf_type, landmarks=(365,)))
    ref = case("km", f"lung/male/{conf_type}")
    assert result.by_arm["male"]["median_ci"] == [ref["median_lower"], ref["median_upper"]]
    assert result.by_arm["male"]["landmarks"]["365"]["lower"] == pytest.approx(
        ref["landmarks"]["lower"][2], rel=CLOSED)


def test_fleming_harrington_option():
    d = data("lung")
    result = run(analysis(d, "logrank", ["male", "female"], rho=1.0))
    assert result.test("logrank").statistic == pytest.approx(case("survdiff", "lung/rho1")["chisq"],
                                                             rel=CLOSED)
    result = run(analysis(d, "logrank", ["male", "female"], rho=1.0, gamma=1.0))
    assert result.test("logrank").statistic == pytest.approx(
        case("survdiff", "lung/fh(1,1)")["chisq"], rel=CLOSED)
    assert any("Fleming-Harrington" in n for n in result.notes)


# ------------------------------------------------------------------ edge cases

def test_arm_without_events_keeps_the_logrank_p():
    result = run(analysis(data("surv_no_events_arm"), "logrank", ["control", "UC-MSC"]))
    c = result.comparison("UC-MSC")
    assert c.estimate is None and c.ci == (None, None)
    assert c.p_value == pytest.approx(case("survdiff", "no_events_arm")["p_value"], abs=P_ABS)
    assert any("not estimable" in n for n in result.notes)
    assert result.by_arm["UC-MSC"]["events"] == 0 and result.by_arm["UC-MSC"]["median"] is None
    cox = run(analysis(data("surv_no_events_arm"), "cox", ["control", "UC-MSC"]))
    assert cox.comparison("UC-MSC").estimate is None


def test_all_censored_single_arm():
    result = run(analysis(data("all_censored"), "km", ["BM-MSC"], landmarks=(7, 60)))
    stats = result.by_arm["BM-MSC"]
    assert stats["events"] == 0 and stats["median"] is None and stats["median_ci"] == [None, None]
    assert stats["landmarks"]["60"]["survival"] == 1.0 and stats["landmarks"]["60"]["n_risk"] == 0
    assert any("after the last follow-up" in n for n in result.notes)


def test_all_censored_logrank_has_no_test():
    d = pd.concat([data("all_censored"), data("all_censored").assign(
        USUBJID=lambda f: f.USUBJID + "b", ARM="other")])
    result = run(analysis(d, "logrank", ["BM-MSC", "other"]))
    assert result.test("logrank").p_value is None
    assert result.comparison("other").estimate is None


def test_one_subject_stratum():
    arms = ["standard", "Paxlovid", "UC-MSC"]
    result = run(analysis(data("one_subject_stratum"), "logrank", arms, strata=("STRATUM",)))
    ref = case("survdiff", "one_subject_stratum")
    assert result.test("logrank").statistic == pytest.approx(ref["chisq"], rel=CLOSED)
    cox = case("coxph", "one_subject_stratum/pair")
    assert result.comparison("UC-MSC").estimate == pytest.approx(math.exp(cox["coef"]),
                                                                 rel=ITERATIVE)


def test_flat_stretch_median_is_the_midpoint():
    result = run(analysis(data("flat_half"), "km", ["BM-MSC"]))
    assert result.by_arm["BM-MSC"]["median"] == 8.0 == case("km", "flat_half/BM-MSC/log-log")["median"]


def test_missing_times_are_counted_not_analysed():
    d = data("n10")
    d.loc[[0, 7], "AVAL"] = np.nan
    result = run(analysis(d, "logrank", ["placebo", "UC-MSC"]))
    assert result.by_arm["placebo"]["n_missing"] == 1 and result.by_arm["placebo"]["n"] == 4
    assert result.by_arm["UC-MSC"]["n_missing"] == 1


def test_competing_deaths_are_censored():
    d = data("n10")
    d.loc[0, ["CNSR", "EVNTCD"]] = [1, 2]
    result = run(analysis(d, "km", ["placebo", "UC-MSC"]))
    assert result.by_arm["placebo"]["events"] == 3
    assert result.by_arm["placebo"]["competing_deaths_censored"] == 1


def test_bad_rows_raise_analysis_errors():
    d = data("n10")
    with pytest.raises(AnalysisError, match="CNSR 0 or 1"):
        run(analysis(d.assign(CNSR=3), "km", ["placebo", "UC-MSC"]))
    with pytest.raises(NotEstimable, match="no subject"):      # not estimable, not an error
        run(analysis(d[d.ARM == "placebo"], "logrank", ["placebo", "UC-MSC"]))
    with pytest.raises(AnalysisError, match="CNSR"):
        run(analysis(d.drop(columns="CNSR"), "cox", ["placebo", "UC-MSC"]))


def test_five_subject_logrank_by_hand():
    # times 1 2 3 4 5, arm A = {1, 3, 5} events at 1, 2, 3; 4 and 5 censored.
    # t=1: n=5, nA=3, d=1 (A): O-E = 1 - 3/5, V = 3/5 * 2/5
    # t=2: n=4, nA=2, d=1 (B): O-E = 0 - 2/4, V = 2/4 * 2/4
    # t=3: n=3, nA=2, d=1 (A): O-E = 1 - 2/3, V = 2/3 * 1/3
    r = logrank_test([1, 2, 3, 4, 5], [1, 1, 1, 0, 0], ["A", "B", "A", "B", "A"])
    o_e = (1 - 3 / 5) + (0 - 2 / 4) + (1 - 2 / 3)
    v = 6 / 25 + 1 / 4 + 2 / 9
    assert r.statistic == pytest.approx(o_e ** 2 / v, rel=1e-12)


# ------------------------------------------------------------------ invariants

def test_row_order_does_not_matter():
    d = data("three-arm-paxlovid_ttci")
    arms = ["standard", "Paxlovid", "UC-MSC"]
    shuffled = d.sample(frac=1, random_state=7).reset_index(drop=True)
    for method, options in (("logrank", {"strata": ("STRATUM",), "landmarks": (7, 28)}),
                            ("cox", {"covariates": ("AGE", "SEX")}), ("rmst", {"tau": 28})):
        a = run(analysis(d, method, arms, **options)).to_dict()
        b = run(analysis(shuffled, method, arms, **options)).to_dict()
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_swapping_arms_inverts_the_hazard_ratio():
    d = data("refractory-hypoxia_ttci")
    ab = run(analysis(d, "logrank", ["control", "UC-MSC"])).comparison("UC-MSC")
    ba = run(analysis(d, "logrank", ["UC-MSC", "control"])).comparison("control")
    assert ba.estimate == pytest.approx(1 / ab.estimate, rel=1e-9)
    assert ba.ci == pytest.approx((1 / ab.ci[1], 1 / ab.ci[0]), rel=1e-9)
    assert ba.p_value == pytest.approx(ab.p_value, rel=1e-12)


def test_results_are_json_clean():
    result = run(analysis(data("surv_no_events_arm"), "logrank", ["control", "UC-MSC"],
                          landmarks=(7, 60)))
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


# ------------------------------------------------------------------ end to end

def _without_competing_risks(sap: str) -> str:
    """The template without its cuminc/finegray analyses (another module's methods)."""
    blocks = re.split(r"(?=^\[\[analysis\]\]|^\[multiplicity\])", sap, flags=re.MULTILINE)
    return "".join(b for b in blocks if not re.search(r'method = "(cuminc|finegray)"', b))


def test_analyze_refractory_hypoxia_reports_ttci_logrank(tmp_path):
    sap = tmp_path / "sap.toml"
    sap.write_text(_without_competing_risks(template_text("refractory-hypoxia")))
    out = tmp_path / "results.json"
    result = CliRunner().invoke(main, ["analyze", str(ROOT / "data" / "synthetic" / "refractory-hypoxia"),
                                       "--sap", str(sap), "-o", str(out)])
    assert result.exit_code == 0, result.output
    analyses = {a["id"]: a for a in json.loads(out.read_text())["analyses"]}
    logrank = analyses["ttci_logrank"]
    c = logrank["comparisons"][0]
    assert c["estimand"] == "hazard_ratio" and c["estimate"] > 0
    assert c["p_value"] == pytest.approx(case("survdiff", "refractory-hypoxia_ttci")["p_value"],
                                         abs=P_ABS)
    assert logrank["tests"][0]["name"] == "logrank"
    assert set(logrank["by_arm"]["control"]["landmarks"]) == {"7", "14", "28"}
    assert analyses["ttci_rmst"]["comparisons"][0]["estimand"] == "rmst_difference"


def test_logrank_without_variance_is_no_test_not_a_crash():
    """Every stratum holds one subject: no information (survdiff: "exactly singular")."""
    r = logrank_test([1, 2, 3, 4], [1, 1, 0, 1], ["A", "B", "A", "B"], strata=[1, 2, 3, 4])
    assert r.p_value is None

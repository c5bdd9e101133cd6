"""Intercurrent-event strategies, worst-rank win probabilities, missingness and
estimands (DESIGN.md section 9).

Three kinds of checks:
- against R: tests/reference/estimands/estimands.R derives every endpoint of
  tests/reference/estimands/estimands_sap.toml itself from the raw trial in
  tests/reference/estimands/data/ and runs wilcox.test / lm (estimands.json);
- a six-subject composite ranked by hand;
- invariants: row order, arm relabelling (1 - win probability), direction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from data_builders import write_trial
from scipy import stats

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.cores.ranks import win_probability
from mscstats.derive.endpoints import derive
from mscstats.pipeline import analysis_input, analyze, load
from mscstats.plan import parse_sap, read_sap

REF_DIR = REFERENCE / "estimands"
REF = json.loads((REF_DIR / "estimands.json").read_text())
CASES = {c["case"]: c for c in REF["cases"]}
TRIAL = REF_DIR / "data"
SAP = REF_DIR / "estimands_sap.toml"


@pytest.fixture(scope="module")
def reference_run():
    sap = read_sap(SAP)
    trial = load(TRIAL, sap)
    return trial, sap, derive(trial, sap), analyze(trial, sap)


# ------------------------------------------------------------------ against R

def test_reference_file_records_r_and_the_call():
    assert REF["R"].startswith("R version") and "do not edit" in REF["generated_by"]
    assert all(c["call"] for c in REF["cases"])
    assert {c["kind"] for c in REF["cases"]} == {"worst_rank", "while"}
    # both of R's branches are covered: the exact test (no ties) and the normal one
    methods = {c["method"] for c in REF["cases"] if c["kind"] == "worst_rank"}
    assert methods == {"Wilcoxon rank sum exact test",
                       "Wilcoxon rank sum test with continuity correction"}


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c]["kind"] == "worst_rank"])
def test_worst_rank_matches_wilcox_test_on_r_derived_scores(reference_run, case):
    ref = CASES[case]
    result = reference_run[3][case]
    c = result.comparison("MSC")
    assert c.estimand == "win_probability"
    assert c.estimate == pytest.approx(ref["win_probability"], rel=1e-12)
    assert list(c.ci) == pytest.approx(ref["ci"], rel=1e-9)
    assert c.p_value == pytest.approx(ref["p_value"], abs=1e-12)
    assert result.tests[0].statistic == pytest.approx(ref["statistic"], rel=1e-12)
    assert {arm: s["n"] for arm, s in result.by_arm.items()} == ref["n"]


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c]["kind"] == "worst_rank"])
def test_our_scores_order_subjects_as_r_derives_them(reference_run, case):
    """Scores differ (R uses +/-1e6), their order must not: same subjects, same ranks."""
    trial, sap, endpoints, _ = reference_run
    ref = CASES[case]
    analysis = next(a for a in sap.analyses if a.id == case)
    inp = analysis_input(trial, sap, endpoints, analysis)
    rows = inp.data
    if rows["USUBJID"].duplicated().any():
        rows = rows[rows["DAY"] == inp.target_day]
    rows = rows[rows[inp.response()].notna()].set_index("USUBJID")
    assert sorted(rows.index) == sorted(ref["subjects"])
    ours = rows.loc[ref["subjects"], inp.response()].to_numpy() * (1 if inp.higher_is_better else -1)
    np.testing.assert_array_equal(stats.rankdata(ours), stats.rankdata(ref["scores"]))
    strategy = rows.loc[ref["subjects"], "ICE"].str.split(":").str[1].fillna("")
    assert list(strategy.where(strategy.str.startswith("composite"), "")) == \
        [s if s.startswith("composite") else "" for s in ref["strategy"]]


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c]["kind"] == "while"])
def test_while_alive_matches_lm_on_r_derived_last_values(reference_run, case):
    trial, sap, endpoints, results = reference_run
    ref = CASES[case]
    c = results[case].comparison("MSC")
    assert c.estimate == pytest.approx(ref["estimate"], rel=1e-9)
    assert list(c.ci) == pytest.approx(ref["ci"], rel=1e-9)
    assert c.se == pytest.approx(ref["se"], rel=1e-9)
    assert c.p_value == pytest.approx(ref["p_value"], abs=1e-12)
    endpoint = sap.analyses[[a.id for a in sap.analyses].index(case)].endpoint
    column = "CHG" if sap.endpoint(endpoint).kind == "change" else "AVAL"
    rows = endpoints.of(endpoint).set_index("USUBJID")
    ours = rows.loc[ref["subjects"], column].to_numpy(dtype=float)
    np.testing.assert_allclose(ours, ref["values"], rtol=1e-12)


def test_permutation_on_ranks_reports_the_same_win_probability(reference_run):
    results = reference_run[3]
    perm, wilcoxon = results["rr_rank_perm"].comparisons[0], results["rr_rank"].comparisons[0]
    assert perm.estimand == "win_probability"
    assert perm.estimate == pytest.approx(CASES["rr_rank"]["win_probability"], rel=1e-12)
    assert abs(perm.p_value - wilcoxon.p_value) < 0.05     # 2000 re-randomizations


# ------------------------------------------------------------------ a composite by hand

TOY_SAP = """
[study]
id = "TOY"
arms = ["control", "MSC"]

[[endpoint]]
id = "spo2_rank"
kind = "value"
param = "SPO2"
day = 7
window = 1
intercurrent = { death = "composite_worst", discharge = "composite_best" }

[[endpoint]]
id = "spo2_chg_rank"
kind = "change"
param = "SPO2"
day = 7
window = 1
intercurrent = { death = "composite_worst", discharge = "composite_best" }

[[endpoint]]
id = "spo2_d7"
kind = "value"
param = "SPO2"
day = 7
window = 1

[[analysis]]
id = "rank"
endpoint = "spo2_rank"
method = "wilcoxon"

[[analysis]]
id = "chg_rank"
endpoint = "spo2_chg_rank"
method = "wilcoxon"

[[analysis]]
id = "complete_case"
endpoint = "spo2_d7"
method = "welch"

[[estimand]]
id = "composite"
analysis = "rank"
sensitivity = ["chg_rank"]
"""


def toy_tables() -> dict[str, pd.DataFrame]:
    """C1 dies on day 4 (no baseline), M1 dies on day 6, M3 goes home on day 5;
    C2, C3, M2 have SpO2 90, 93, 95 on day 7 (baseline 88 each)."""
    adsl = pd.DataFrame({"USUBJID": ["C1", "C2", "C3", "M1", "M2", "M3"],
                         "ARM": ["control"] * 3 + ["MSC"] * 3,
                         "DTHDY": ["4", "", "", "6", "", ""],
                         "DSCHDY": ["", "", "", "", "", "5"],
                         "LSTALVDY": ["4", "28", "28", "6", "28", "28"]})
    rows = [("C1", 2, 85)]
    for subject, day7 in (("C2", 90), ("C3", 93), ("M2", 95)):
        rows += [(subject, 1, 88), (subject, 7, day7)]
    rows += [("M1", 1, 88), ("M1", 5, 84), ("M3", 1, 88), ("M3", 4, 94)]
    visits = pd.DataFrame([{"USUBJID": s, "ADY": str(d), "PARAMCD": "SPO2", "AVAL": str(v),
                            "AVALU": "%"} for s, d, v in rows])
    return {"adsl": adsl, "visits": visits}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    directory = write_trial(tmp_path_factory.mktemp("toy_composite"), toy_tables())
    sap = parse_sap(TOY_SAP)
    trial = load(directory, sap)
    return trial, sap, derive(trial, sap), analyze(trial, sap)


def test_toy_scores_by_hand(toy):
    """Observed 90, 93, 95: lo 90, hi 95. C1 died day 4: 90 - 1 - (7 - 4) = 86; M1 died
    day 6: 90 - 1 - 1 = 88; M3 home day 5: 95 + 1 + (7 - 5) = 98."""
    rows = toy[2].of("spo2_rank").set_index("USUBJID")
    assert rows["AVAL"].to_dict() == {"C1": 86, "C2": 90, "C3": 93, "M1": 88, "M2": 95, "M3": 98}
    assert rows["ICE"].to_dict() == {"C1": "death:composite_worst", "C2": "", "C3": "",
                                     "M1": "death:composite_worst", "M2": "",
                                     "M3": "discharge:composite_best"}
    assert (rows["REASON"] == "").all()


def test_toy_win_probability_by_hand(toy):
    """Ascending: C1 < M1 < C2 < C3 < M2 < M3. MSC wins: M1 beats C1 (1), M2 and M3 beat
    all three (3 + 3): U = 7 of 9 pairs. No ties, n < 50: exact; U for 3 vs 3 takes
    0..9 with counts 1,1,2,3,3,3,3,2,1,1 of 20, so p = 2 P(U >= 7) = 2 x 4/20 = 0.4."""
    c = toy[3]["rank"].comparison("MSC")
    assert c.estimand == "win_probability"
    assert c.estimate == pytest.approx(7 / 9, rel=1e-15)
    assert c.p_value == pytest.approx(0.4, rel=1e-12)
    assert toy[3]["rank"].tests[0].statistic == 7


def test_toy_change_endpoint_scores_a_death_without_baseline(toy):
    """C1 has no baseline (its only value is day 2) and still gets the composite score:
    changes 2, 5, 7 observed; C1 (day 4) 2 - 1 - 3 = -2, M1 (day 6) 2 - 1 - 1 = 0,
    M3 (day 5) 7 + 1 + 2 = 10. The order, and so U = 7, is the value endpoint's."""
    rows = toy[2].of("spo2_chg_rank").set_index("USUBJID")
    assert rows["CHG"].to_dict() == {"C1": -2, "C2": 2, "C3": 5, "M1": 0, "M2": 7, "M3": 10}
    assert toy[3]["chg_rank"].comparison("MSC").estimate == pytest.approx(7 / 9)


def test_toy_complete_case_missingness_and_warnings(toy):
    """Without strategies the dead and the discharged are missing: control keeps 2 of 3,
    MSC 1 of 3 -- both fewer than 3, so both get a warning."""
    result = toy[3]["complete_case"]
    assert [m.to_dict() for m in result.missingness] == [
        {"arm": "control", "day": 7, "reason": "died", "n": 1},
        {"arm": "MSC", "day": 7, "reason": "died", "n": 1},
        {"arm": "MSC", "day": 7, "reason": "discharged", "n": 1}]
    assert len(result.warnings) == 2
    assert result.warnings[1].startswith("MSC: 1 of 3 randomized subjects analysed (fewer than 3)")
    assert toy[3]["rank"].warnings == ()


def test_toy_estimand_entry(toy):
    (e,) = toy[3].estimands
    assert e.to_dict() == {
        "id": "composite", "analysis": "rank", "population": "ITT", "variable": "spo2_rank",
        "intercurrent": {"death": "composite_worst", "discharge": "composite_best"},
        "summary_measure": "win_probability", "sensitivity": ["chg_rank"],
        "n_randomized": {"control": 3, "MSC": 3}, "n_analysed": {"control": 3, "MSC": 3}}
    assert json.loads(toy[3].to_json())["estimands"][0]["id"] == "composite"


def test_toy_estimand_table_in_the_report(toy):
    from mscstats.report import tables
    results = toy[3]
    table = tables.estimand_table(results.estimands[0].to_dict(), results,
                                  {"rank": "wilcoxon", "chg_rank": "wilcoxon"})
    cells = dict(table.rows[:4])
    assert cells["Intercurrent events and strategies"] == \
        "death: composite worst; discharge: composite best"
    assert cells["Population-level summary"] == "win probability"
    assert ("Randomized per arm", "control 3, MSC 3") in table.rows
    assert any(r[0] == "Main analysis" and "0.778 (" in r[1] for r in table.rows)
    warned = tables.estimand_table(dict(results.estimands[0].to_dict(), analysis="complete_case"),
                                   results, {"complete_case": "welch"})
    main = next(r[1] for r in warned.rows if r[0] == "Main analysis")
    assert main.startswith("complete_case (welch): mean difference, MSC vs control: ")
    assert " *, p " in main
    marked = tables.endpoint_table(results, {})
    assert any(r[5].endswith(" *") for r in marked.rows if r[0] == "complete_case")
    assert tables.WARNING_FOOTNOTE in marked.footnotes


# ------------------------------------------------------------------ invariants

def _composite_input(data, arms=("control", "MSC"), higher_is_better=True, method="wilcoxon"):
    return AnalysisInput("w", "e", "value", method, data, arms,
                         intercurrent={"death": "composite_worst"},
                         higher_is_better=higher_is_better)


def _reference_scores(reference_run):
    trial, sap, endpoints, _ = reference_run
    analysis = next(a for a in sap.analyses if a.id == "spo2_rank")
    return analysis_input(trial, sap, endpoints, analysis).data


def test_row_order_does_not_change_the_win_probability(reference_run):
    data = _reference_scores(reference_run)
    shuffled = data.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a, b = (run(_composite_input(d)).comparisons[0] for d in (data, shuffled))
    assert (a.estimate, a.ci, a.p_value) == (b.estimate, b.ci, b.p_value)


def test_relabelling_arms_gives_one_minus_the_win_probability(reference_run):
    data = _reference_scores(reference_run)
    forward = run(_composite_input(data)).comparisons[0]
    backward = run(_composite_input(data, arms=("MSC", "control"))).comparisons[0]
    assert backward.estimate == pytest.approx(1 - forward.estimate, rel=1e-12)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-12)
    # the method 5 interval is symmetric in the arms: its limits mirror
    assert backward.ci == pytest.approx((1 - forward.ci[1], 1 - forward.ci[0]), rel=1e-9)


def test_lower_is_better_reverses_the_win_probability(reference_run):
    data = _reference_scores(reference_run)
    up = run(_composite_input(data)).comparisons[0]
    down = run(_composite_input(data, higher_is_better=False)).comparisons[0]
    assert down.estimate == pytest.approx(1 - up.estimate, rel=1e-12)


def test_win_probability_interval_solves_its_score_equation():
    """Newcombe method 5: at each limit (theta_hat - theta)^2 = z^2 V(theta)."""
    x, y = [5.0, 7.0, 9.0, 11.0], [1.0, 2.0, 6.0]
    r = win_probability(x, y)
    assert r.estimate == pytest.approx(11 / 12)
    z, m, n = 1.959963984540054, 4, 3
    ns = (m + n) / 2 - 1
    for t in r.ci.astuple():
        v = t * (1 - t) * (1 + ns * ((1 - t) / (2 - t) + t / (1 + t))) / (m * n)
        assert (r.estimate - t) ** 2 == pytest.approx(z * z * v, rel=1e-9)
    separated = win_probability([4.0, 5.0], [1.0, 2.0])
    assert separated.estimate == 1.0 and separated.ci.upper == 1.0 and 0 < separated.ci.lower < 1


# ------------------------------------------------------------------ derivation

REPEATED_SAP = """
[study]
id = "REP"
arms = ["control", "MSC"]

[[endpoint]]
id = "spo2_course"
kind = "value"
param = "SPO2"
day = 7
days = [4, 7]
window = 1
intercurrent = { death = "hypothetical", discharge = "hypothetical" }

[[endpoint]]
id = "spo2_while"
kind = "value"
param = "SPO2"
day = 7
window = 1
intercurrent = { death = "while_alive", discharge = "while_hospitalized" }

[[analysis]]
id = "mmrm"
endpoint = "spo2_course"
method = "mmrm"

[[analysis]]
id = "while"
endpoint = "spo2_while"
method = "welch"
"""


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    directory = write_trial(tmp_path_factory.mktemp("toy_repeated"), toy_tables())
    sap = parse_sap(REPEATED_SAP)
    trial = load(directory, sap)
    return derive(trial, sap)


def test_hypothetical_sets_only_values_after_the_event_missing(repeated):
    rows = repeated.of("spo2_course").set_index(["USUBJID", "DAY"])
    # M3 (home on day 5) keeps its day 4 value (94) and is missing on day 7
    assert rows.loc[("M3", 4.0), "AVAL"] == 94 and rows.loc[("M3", 4.0), "ICE"] == ""
    assert np.isnan(rows.loc[("M3", 7.0), "AVAL"])
    assert rows.loc[("M3", 7.0), "ICE"] == "discharge:hypothetical"
    # C1 died on day 4: missing on both days, by its death
    assert rows.loc[("C1", 4.0), "MISSING"] == rows.loc[("C1", 7.0), "MISSING"] == "died"


def test_derivation_log_counts_subjects_per_day(repeated):
    log = [e for e in repeated.log if e.get("endpoint") == "spo2_course"]
    by_day = {(e["day"], e["message"]): e["n"] for e in log}
    assert by_day[(7, "missing at day 7: died by day 7 (hypothetical: missing at random)")] == 2
    assert by_day[(4, "missing at day 4: died by day 4 (hypothetical: missing at random)")] == 1
    assert sum(e["n"] for e in log) == int(repeated.of("spo2_course")["AVAL"].isna().sum())


def test_while_alive_takes_the_last_value_and_its_day(repeated):
    rows = repeated.of("spo2_while").set_index("USUBJID")
    # M1 died day 6: last value on days 2..6 is day 5 (84); M3 home day 5: day 4 (94);
    # C1 died day 4: day 2 (85)
    assert rows.loc[["M1", "M3", "C1"], "AVAL"].tolist() == [84, 94, 85]
    assert rows.loc[["M1", "M3", "C1"], "DAY"].tolist() == [5, 4, 2]
    assert rows.loc["M1", "ICE"] == "death:while_alive"


# ------------------------------------------------------------------ the SAP

def test_intercurrent_parses_in_event_order_with_treatment_policy_by_default():
    sap = parse_sap(TOY_SAP.replace('{ death = "composite_worst", discharge = "composite_best" }',
                                    '{ discharge = "composite_best", death = "composite_worst" }',
                                    1))
    endpoint = sap.endpoint("spo2_rank")
    assert endpoint.intercurrent == (("death", "composite_worst"), ("discharge", "composite_best"))
    assert sap.endpoint("spo2_d7").strategy("death") == "treatment_policy"
    assert [e.id for e in sap.estimands] == ["composite"]


def test_hypothetical_is_accepted_with_multiple_imputation():
    """The MI analysis option (missing = "mi") makes any method fit a hypothetical
    strategy; complete cases do not."""
    from mscstats.errors import SapError
    from mscstats.intercurrent import check_strategy_fits
    endpoint = parse_sap(REPEATED_SAP).endpoint("spo2_course")

    def fail(key, message, fix):
        return SapError(key, message, fix)
    check_strategy_fits(endpoint, "ancova", {"missing": "mi"}, "analysis[x]", fail)
    check_strategy_fits(endpoint, "mmrm", {}, "analysis[x]", fail)
    with pytest.raises(SapError, match="hypothetical"):
        check_strategy_fits(endpoint, "ancova", {"missing": "complete_case"}, "analysis[x]", fail)


def test_windows_of_repeated_days_must_not_share_a_day():
    text = REPEATED_SAP.replace("days = [4, 7]", "days = [5, 7]").replace(
        "window = 1\nintercurrent", "window = 0\nintercurrent", 1)
    assert parse_sap(text).endpoint("spo2_course").days == (5, 7)
    with pytest.raises(Exception, match="overlap"):
        parse_sap(REPEATED_SAP.replace("days = [4, 7]", "days = [5, 7]"))

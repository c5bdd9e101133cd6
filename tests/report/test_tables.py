"""tables.py: the formatting rules, checked by hand, and the tables built from results."""

from __future__ import annotations

import math

import pytest

from mscstats.report import tables
from mscstats.summaries.records import (AeRow, BaselineSummary, BaselineVariable,
                                       CategoricalSummary, ContinuousSummary, FlowStage,
                                       FlowSummary, GradeRow, RiskDifference, SafetySummary)
from mscstats.results import AnalysisResult, Comparison, Test, TrialResults


@pytest.mark.parametrize("x, text", [
    (27.07, "27.1"), (0.5596, "0.560"), (556.7, "557"), (1.201, "1.20"), (35.0, "35.0"),
    (-13.48, "-13.5"), (-4.339e-05, "0.000"), (0.0, "0.00"), (1234.5, "1234"),
    (None, "NA"), (math.nan, "NA"), (math.inf, "∞"), (-math.inf, "-∞")])
def test_estimate_has_three_significant_digits(x, text):
    assert tables.fmt_estimate(x) == text


def test_ci_takes_the_estimates_decimals():
    c = Comparison("UC-MSC", "control", "mean_difference", 27.07, (-13.48, 67.62), 0.95)
    assert tables.estimate_with_ci(c) == "27.1 (-13.5, 67.6)"
    ratio = Comparison("UC-MSC", "control", "odds_ratio", math.inf, (7.655, math.inf), 0.95)
    assert tables.estimate_with_ci(ratio) == "∞ (7.66, ∞)"      # never "NA (7.66, NA)"
    none = Comparison("UC-MSC", "control", "odds_ratio", None, (None, None), 0.95)
    assert tables.estimate_with_ci(none) == "not estimable"


@pytest.mark.parametrize("p, text", [(0.1864, "0.186"), (1.0, "1.000"), (0.0004035, "<0.001"),
                                     (0.001, "0.001"), (0.0496, "0.050"), (None, "NA")])
def test_p_values(p, text):
    assert tables.fmt_p(p) == text


def test_counts_and_negative_zero():
    assert tables.fmt_count(6, 30) == "6 (20.0%)"
    assert tables.fmt_count(1, 3) == "1 (33.3%)"
    assert tables.fmt_count(0, 0) == "0"
    assert tables.fmt_number(-0.04, 1) == "0.0"
    assert tables.fmt_number(-0.06, 1) == "-0.1"


def _results() -> TrialResults:
    a = AnalysisResult(
        "primary", "pf_d7", "ancova",
        {"control": {"n": 29, "mean": 54.98, "sd": 70.83, "n_missing": 1},
         "UC-MSC": {"n": 28, "mean": 81.26, "sd": 79.37, "n_missing": 2}},
        tests=(Test("t", 1.338, 54.0, 0.1864),),
        comparisons=(Comparison("UC-MSC", "control", "mean_difference", 27.07, (-13.48, 67.62),
                                0.95, 0.1864, 0.3728),))
    b = AnalysisResult("mort", "mort28", "binary",
                       {"control": {"n": 30, "events": 6}, "UC-MSC": {"n": 29, "events": 9}},
                       comparisons=(Comparison("UC-MSC", "control", "risk_ratio", 1.552,
                                               (0.6321, 3.809), 0.95, 0.3817),))
    return TrialResults("0.1.0", {}, {}, (a, b))


def test_endpoint_table_rows():
    table = tables.endpoint_table(_results(), {"pf_d7": "Change in P/F at day 7"})
    assert table.columns[5] == "Estimate (95% CI)"
    assert table.rows[0] == ("primary", "Change in P/F at day 7", "ancova", "UC-MSC vs control",
                             "mean difference", "27.1 (-13.5, 67.6)", "0.186", "0.373")
    assert table.rows[1][5:] == ("1.55 (0.63, 3.81)", "0.382", "")


def test_arm_summary_and_tests_tables():
    arms = tables.arm_summary_table(_results())
    assert arms.rows[0] == ("primary", "control", "29", "1", "mean (SD) 55.0 (70.8)")
    assert arms.rows[3][4] == "events 9 (31.0%)"
    tests = tables.tests_table(_results())
    assert tests.rows == (("primary", "t", "1.34", "54", "0.186"),)


@pytest.mark.parametrize("values, text", [([9.0, 6.0, 18.0], ["9.0", "6.0", "18.0"]),
                                          ([37.5, 109.2], ["38", "109"]),
                                          ([14.5, 10.0, 20.0], ["14.5", "10.0", "20.0"]),
                                          ([2.0, None, math.inf], ["2.00", "NA", "∞"])])
def test_an_arm_summary_shares_the_decimals_of_its_largest_number(values, text):
    assert tables.fmt_summary(values) == text


def test_whole_degrees_of_freedom_are_integers():
    assert (tables.fmt_df(1.0), tables.fmt_df(54.0), tables.fmt_df(17.34)) == ("1", "54", "17.3")


def _age(n, missing, mean, sd, median, q1, q3, lo, hi):
    return ContinuousSummary(n, missing, mean, sd, median, q1, q3, lo, hi)


def _baseline() -> BaselineSummary:
    age = BaselineVariable(
        "AGE", "Age (years)", "continuous",
        {"a": _age(2, 0, 60.0, 14.142, 60.0, 55.0, 65.0, 50.0, 70.0),
         "b": _age(1, 0, 48.0, None, 48.0, 48.0, 48.0, 48.0, 48.0),
         "c": _age(0, 1, None, None, None, None, None, None, None)},
        _age(3, 1, 56.0, 11.136, 50.0, 49.0, 60.0, 48.0, 70.0))
    sex = BaselineVariable("SEX", "Sex", "categorical",
                           {"a": CategoricalSummary(2, 0, {"F": 1, "M": 1}),
                            "b": CategoricalSummary(1, 0, {"F": 0, "M": 1}),
                            "c": CategoricalSummary(0, 1, {"F": 0, "M": 0})},
                           CategoricalSummary(3, 1, {"F": 1, "M": 2}), ("F", "M"))
    return BaselineSummary("ITT", ("a", "b", "c"), {"a": 2, "b": 1, "c": 1}, 4, (age, sex))


def test_baseline_table_layout_with_total_and_dashes():
    table = tables.baseline_table(_baseline())
    assert table.title == "Baseline characteristics (full analysis set, ITT)"
    assert table.columns == ("Characteristic", "a (N = 2)", "b (N = 1)", "c (N = 1)",
                             "Total (N = 4)")
    rows = {r[0].strip(): r[1:] for r in table.rows[:6]}
    assert rows["n"] == ("2", "1", "0", "3")
    assert rows["Missing"] == ("0", "0", "1", "1")
    # ages up to 70: 3 significant digits -> 1 decimal everywhere; no value -> "-"
    assert rows["Mean (SD)"] == ("60.0 (14.1)", "48.0 (-)", "-", "56.0 (11.1)")
    assert rows["Median (Q1, Q3)"] == ("60.0 (55.0, 65.0)", "48.0 (48.0, 48.0)", "-",
                                       "50.0 (49.0, 60.0)")
    assert rows["Min - Max"] == ("50.0 - 70.0", "48.0 - 48.0", "-", "48.0 - 70.0")
    assert table.rows[7] == ("  F", "1 (50.0%)", "0 (0.0%)", "0 (0.0%)", "1 (25.0%)")
    assert table.rows[9] == ("  Missing", "0 (0.0%)", "0 (0.0%)", "1 (100.0%)", "1 (25.0%)")
    assert table.groups == (0, 6)
    assert not any("NA" in cell for row in table.rows for cell in row)


@pytest.mark.parametrize("largest, decimals", [(85, 1), (450, 0), (9, 2), (0.42, 3),
                                               (1234, 0), (None, 1), (0, 1)])
def test_summary_decimals_by_magnitude(largest, decimals):
    assert tables.summary_decimals(largest) == decimals


def _safety() -> SafetySummary:
    rd = {"UC-MSC": RiskDifference(0.3, -0.1234, 0.6049)}
    any_ae = AeRow("Any adverse event", "", {"control": 3, "UC-MSC": 6},
                   {"control": 4, "UC-MSC": 9}, 9, 13, rd)
    soc = AeRow("Nervous system disorders", "", {"control": 2, "UC-MSC": 1},
                {"control": 2, "UC-MSC": 1}, 3, 3)
    term = AeRow("Nervous system disorders", "Headache", {"control": 2, "UC-MSC": 1},
                 {"control": 2, "UC-MSC": 1}, 3, 3)
    grades = tuple(GradeRow(g, {"control": int(g == "2"), "UC-MSC": 0}, int(g == "2"))
                   for g in ("1", "2", "3", "4", "5", "missing"))
    return SafetySummary("safety", ("control", "UC-MSC"), {"control": 10, "UC-MSC": 10}, 20,
                         (any_ae,), (soc, term), (), (), (), grades, (), ("Headache",),
                         ("IV", "NEBULIZED"))


def test_ae_tables_with_events_total_and_risk_difference():
    safety = _safety()
    table = tables.ae_category_table(safety)
    assert table.title == "Treatment-emergent adverse events (safety population)"
    assert table.columns[1:] == ("control (N = 10)", "UC-MSC (N = 10)", "Total (N = 20)",
                                 "RD UC-MSC - control, % (95% CI)")
    assert table.rows == (("Any adverse event", "3 (30.0%) [4]", "6 (60.0%) [9]",
                           "9 (45.0%) [13]", "30.0 (-12.3, 60.5)"),)
    terms = tables.ae_term_table(safety, safety.by_term, "AEs", safety.categories[0])
    assert terms.title == "AEs (safety population)"
    assert terms.rows[1:] == (("Nervous system disorders", "2 (20.0%) [2]", "1 (10.0%) [1]",
                               "3 (15.0%) [3]"),
                              ("  Headache", "2 (20.0%) [2]", "1 (10.0%) [1]", "3 (15.0%) [3]"))
    assert terms.groups == (1,)
    grades = tables.ae_grade_table(safety)
    assert grades.rows[1] == ("Grade 2", "1 (10.0%)", "0 (0.0%)", "1 (5.0%)")
    assert grades.rows[5][0] == "Grade missing"


def test_flow_table_not_applicable():
    flow = FlowSummary(("control", "MSC"), (
        FlowStage("randomized", "Randomized", {"control": 5, "MSC": 5}, 10),
        FlowStage("treated", "Received study drug (>= 1 dose)", {"control": None, "MSC": 4},
                  4)), ("a note",))
    table = tables.flow_table(flow)
    assert table.columns == ("", "control", "MSC", "Total")
    assert table.rows == (("Randomized", "5", "5", "10"),
                          ("Received study drug (>= 1 dose)", "not applicable", "4", "4"))
    assert table.footnotes[0] == "a note"


def test_quality_tables_list_every_entry():
    quality = {"rows_read": 12, "rows_used": 11, "rows_read_by_file": {"adsl.csv": 2,
                                                                       "visits.csv": 10},
               "converted": [{"file": "visits.csv", "column": "AVAL", "param": "PAO2",
                              "rule": "kPa -> mmHg", "n": 3, "rows": "1-3"}],
               "dropped": [{"file": "visits.csv", "column": None, "reason": "blank", "n": 1,
                            "rows": "7"}],
               "warnings": [], "notes": [],
               "derivation": [{"endpoint": "pf_d7", "message": "missing: died", "n": 1,
                               "subjects": ["<b>&x"]}]}
    out = tables.quality_tables(quality)
    assert [t.title for t in out] == ["Rows read", "Converted values", "Dropped rows",
                                      "Endpoint derivation log"]
    assert out[0].rows[-2:] == (("Total read", "12"), ("Total used", "11"))
    assert out[2].rows == (("visits.csv", "", "blank", "1", "7"),)
    assert out[3].rows[0][3] == "<b>&x"


def test_quality_tables_shorten_long_row_and_subject_lists():
    """A warning on 281 rows lists its first 20 row ranges, spaced so the cell wraps
    between them, and says how many more there are; results.json keeps the list."""
    rows = ",".join(str(3 * i) for i in range(25))
    quality = {"rows_read": 1, "rows_used": 1, "rows_read_by_file": {},
               "warnings": [{"file": "ex.csv", "column": "EXROUTE", "message": "m", "n": 25,
                             "rows": rows},
                            {"file": "ex.csv", "column": "X", "message": "m", "n": 2,
                             "rows": "4,5-9"}],
               "derivation": [{"endpoint": "e", "message": "missing", "n": 21,
                               "subjects": [f"S{i:02d}" for i in range(21)]}]}
    out = {t.title: t for t in tables.quality_tables(quality)}
    warned = out["Warnings"]
    assert warned.rows[0][4] == ", ".join(str(3 * i) for i in range(20)) + " ... and 5 more"
    assert warned.rows[1][4] == "4, 5-9"
    assert "first 20 entries" in warned.footnotes[0]
    subjects = out["Endpoint derivation log"].rows[0][3]
    assert subjects.endswith("S19 ... and 1 more") and "S20" not in subjects
    assert out["Endpoint derivation log"].footnotes


def test_quality_tables_list_columns_not_used_and_files_not_read():
    quality = {"rows_read": 2, "rows_used": 2, "rows_read_by_file": {"adsl.xpt": 2},
               "not_used": [{"file": "adsl.xpt", "column": "STUDYID"}],
               "files_not_read": ["README.txt", "export.xlsx[notes]"]}
    out = {t.title: t for t in tables.quality_tables(quality)}
    assert out["Columns not used"].rows == (("adsl.xpt", "STUDYID"),)
    assert out["Files not read"].rows == (("README.txt",), ("export.xlsx[notes]",))


def test_an_analysis_title_names_its_rows():
    import dataclasses
    results = _results()
    titled = dataclasses.replace(results.analyses[0], options={"title": "P/F day 7 (ANCOVA)"})
    results = dataclasses.replace(results, analyses=(titled, results.analyses[1]))
    assert [r[0] for r in tables.endpoint_table(results, {}).rows] == ["P/F day 7 (ANCOVA)", "mort"]
    assert tables.tests_table(results).rows[0][0] == "P/F day 7 (ANCOVA)"


def test_tipping_tables_of_a_continuous_and_a_binary_grid():
    from mscstats.report.tables import tipping_table
    arms = ("control", "UC-MSC")
    rows = [{"delta": -50.0, "estimate": 12.345, "ci": [-1.5, 26.0], "p_value": 0.0812},
            {"delta": 0.0, "estimate": 27.07, "ci": [13.48, 40.66], "p_value": 0.0004}]
    table = tipping_table(AnalysisResult("tip", "pf", "tipping_point", {}, grid=tuple(rows),
                                         tipping_point=-50.0), arms)
    assert table.rows == (("-50.0", "12.3 (-1.5, 26.0)", "0.081"),
                          ("0.00", "27.1 (13.5, 40.7)", "<0.001"))
    assert table.footnotes == ("Tipping point: delta = -50.0",)
    grid = [{"events_among_missing": {"UC-MSC": k1, "control": k0}, "estimate": 0.1 * k1,
             "p_value": p} for (k1, k0), p in (((0, 0), 0.0968), ((0, 1), 0.0414))]
    table = tipping_table(AnalysisResult("tip", "prog", "tipping_point", {}, grid=tuple(grid),
                                         tipping_point=(grid[0],)), arms)
    assert table.rows == (("0", "0", "0.00", "0.097", "yes"), ("0", "1", "0.00", "0.041", ""))
    assert table.columns[0] == "Events among missing, UC-MSC"


def _tipping_result(grid, tipping):
    return AnalysisResult("tip", "e", "tipping_point", {}, grid=tuple(grid), tipping_point=tipping)


def test_a_tipping_point_is_summarised_by_where_its_conclusion_changes():
    cell = lambda k1, k0, p: {"events_among_missing": {"MSC": k1, "control": k0},  # noqa: E731
                              "estimate": 0.1, "p_value": p}
    grid = [cell(0, 0, 0.01), cell(0, 1, 0.2), cell(1, 0, 0.03), cell(1, 1, 0.04)]
    assert tables.tipping_conclusion(_tipping_result(grid, (grid[1],))) == \
        "The conclusion changes at 1 boundary table(s) of 4."
    assert tables.tipping_conclusion(_tipping_result(grid, ())) == \
        "The conclusion is the same for every one of the 4 completed tables."
    assert tables.tipping_conclusion(_tipping_result(grid[:1], ())) == \
        "Nothing is missing: the one completed table is the observed one."
    shifts = [{"delta": d, "estimate": 1.0, "ci": [0.0, 2.0], "p_value": 0.3} for d in (-5.0, 0.0)]
    assert tables.tipping_conclusion(_tipping_result(shifts, -5.0)) == "Tipping point: delta = -5.00"
    assert tables.tipping_conclusion(_tipping_result(shifts, None)) == \
        "No shift of the grid makes p reach alpha."


def test_an_estimate_without_a_ci_is_printed_alone():
    permutation = Comparison("MSC", "control", "win_probability", 0.605, (None, None), 0.95,
                             p_value=0.17)
    assert tables.estimate_with_ci(permutation) == "0.605"
    with_ci = Comparison("MSC", "control", "win_probability", 0.605, (0.457, 0.733), 0.95)
    assert tables.estimate_with_ci(with_ci) == "0.605 (0.457, 0.733)"


def test_single_arm_tables_have_no_total_column():
    b = _baseline()
    one = BaselineSummary("ITT", ("a",), {"a": 2}, 2, tuple(
        BaselineVariable(v.name, v.label, v.kind, {"a": v.by_arm["a"]}, v.by_arm["a"], v.levels)
        for v in b.variables))
    table = tables.baseline_table(one)
    assert table.columns == ("Characteristic", "a (N = 2)")
    assert all(len(row) == 2 for row in table.rows)

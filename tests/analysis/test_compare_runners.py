"""Runners of compare.py on small hand-made trials: answers checkable by hand,
invariants (row order, relabelled arms) and degenerate data."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.cores.ranks import rank_sum_counts, signed_rank_counts
from mscstats.analysis.cores.common import NotEstimable
from mscstats.errors import AnalysisError
from mscstats.results import dumps_json


def frame(values: dict, column="CHG", day=7):
    rows = [(f"{arm[:3]}-{i}", arm, v) for arm, vs in values.items() for i, v in enumerate(vs)]
    d = pd.DataFrame(rows, columns=["USUBJID", "ARM", column])
    d["DAY"] = day
    return d


def inp(method, data, arms, kind="change", **kw):
    return AnalysisInput("a1", "ep", kind, method, data, tuple(arms), **kw)


TWO = {"placebo": [1.0, 2.0, 3.0], "UC-MSC": [4.0, 5.0, 6.0]}


# ------------------------------------------------------------------ by hand

def test_welch_by_hand():
    r = run(inp("welch", frame(TWO), ["placebo", "UC-MSC"]))
    c = r.comparison("UC-MSC")
    assert c.estimate == pytest.approx(3.0)
    assert c.se == pytest.approx(math.sqrt(1 / 3 + 1 / 3))     # both variances are 1
    assert c.df == pytest.approx(4.0)                          # equal n and variances
    t = 3.0 / math.sqrt(2 / 3)
    assert r.test("t").statistic == pytest.approx(t)
    assert c.p_value == pytest.approx(2 * stats.t.sf(t, 4))
    assert r.by_arm["placebo"] == {"n": 3, "mean": 2.0, "sd": 1.0, "median": 2.0, "q1": 1.5,
                                   "q3": 2.5, "min": 1.0, "max": 3.0, "n_missing": 0}


def test_wilcoxon_by_hand():
    r = run(inp("wilcoxon", frame(TWO), ["placebo", "UC-MSC"]))
    c = r.comparison("UC-MSC")
    # every treated value beats every reference value: W = 9 of 9, p = 2 / C(6, 3)
    assert r.test("wilcoxon").statistic == 9
    assert c.p_value == pytest.approx(2 / 20)
    assert c.estimate == 3.0                       # median of the 9 pairwise differences
    assert c.ci == (1.0, 5.0)                      # n = 3 + 3 cannot reach 95%: widest interval
    assert c.ci_level == pytest.approx(0.9)        # achieved level, as R reports it


def test_exact_distributions_by_hand():
    assert list(rank_sum_counts(2, 2)) == [1, 1, 2, 1, 1]          # U of 2 vs 2: C(4,2) = 6
    assert rank_sum_counts(3, 5).sum() == math.comb(8, 3)
    assert list(signed_rank_counts(3)) == [1, 1, 1, 2, 1, 1, 1]    # V of n = 3: 2^3 = 8
    assert signed_rank_counts(10).sum() == 2 ** 10


def test_paired_by_hand():
    d = frame({"BM-MSC": [1.0, 2.0, 3.0, 4.0, 5.0]})
    r = run(inp("paired", d, ["BM-MSC"]))
    mean, median = r.comparisons
    assert (mean.estimand, mean.estimate, mean.df) == ("mean_change", 3.0, 4.0)
    assert mean.se == pytest.approx(math.sqrt(2.5 / 5))
    assert r.test("signed_rank").statistic == 15
    assert r.test("signed_rank").p_value == pytest.approx(2 / 32)   # all 5 changes positive
    assert median.estimate == 3.0


def test_binary_by_hand():
    d = frame({"placebo": [1, 0, 0, 0], "UC-MSC": [1, 1, 1, 0]}, column="AVAL")
    r = run(inp("binary", d, ["placebo", "UC-MSC"], kind="binary"))
    assert r.by_arm["UC-MSC"]["events"] == 3 and r.by_arm["UC-MSC"]["proportion"] == 0.75
    rd, rr, odds = r.comparisons
    assert (rd.estimand, rd.estimate) == ("risk_difference", 0.5)
    assert (rr.estimand, rr.estimate) == ("risk_ratio", 3.0)
    assert odds.estimand == "odds_ratio"
    # Fisher: tables with 4 events in 8, 4 per arm; observed 3 vs 1. p = (1+16+16+1)/70
    assert r.test("fisher").p_value == pytest.approx(34 / 70)
    assert rd.p_value == rr.p_value == odds.p_value == r.test("fisher").p_value


def test_binary_chi_square_option():
    d = frame({"placebo": [1] * 4 + [0] * 16, "UC-MSC": [1] * 10 + [0] * 10}, column="AVAL")
    r = run(inp("binary", d, ["placebo", "UC-MSC"], kind="binary", options={"test": "chi_square"}))
    t = r.test("chi_square")
    assert (round(t.p_value, 4), t.df) == (0.0467, 1)
    assert t.statistic == pytest.approx(40 / 10.11111111111111, rel=1e-12)   # X2 = 3.956
    assert all(c.p_value == t.p_value for c in r.comparisons)


def test_binary_single_arm_clopper_pearson():
    d = frame({"BM-MSC": [0] * 10}, column="AVAL")
    r = run(inp("binary", d, ["BM-MSC"], kind="binary"))
    (c,) = r.comparisons
    assert (c.estimand, c.reference, c.estimate, c.p_value) == ("proportion", None, 0.0, None)
    assert c.ci[0] == 0.0 and round(c.ci[1], 4) == 0.3085
    assert r.tests == ()


# ------------------------------------------------------------------ invariants

def pf_frame(seed=3):
    rng = np.random.default_rng(seed)
    return frame({"placebo": rng.normal(20, 25, 9).round(2).tolist(),
                  "UC-MSC": rng.normal(45, 30, 11).round(2).tolist()})


@pytest.mark.parametrize("method", ["welch", "wilcoxon", "paired"])
def test_row_order_does_not_matter(method):
    d = pf_frame()
    shuffled = d.sample(frac=1.0, random_state=11).reset_index(drop=True)
    a = run(inp(method, d, ["placebo", "UC-MSC"]))
    b = run(inp(method, shuffled, ["placebo", "UC-MSC"]))
    assert dumps_json(a) == dumps_json(b)


@pytest.mark.parametrize("method", ["welch", "wilcoxon"])
def test_relabelling_arms_flips_differences(method):
    d = pf_frame()
    a = run(inp(method, d, ["placebo", "UC-MSC"])).comparisons[0]
    b = run(inp(method, d, ["UC-MSC", "placebo"])).comparisons[0]
    assert (b.arm, b.reference) == ("placebo", "UC-MSC")
    assert b.estimate == pytest.approx(-a.estimate, abs=1e-4)
    assert b.ci == pytest.approx((-a.ci[1], -a.ci[0]), abs=1e-4)   # R's root tolerance
    assert b.p_value == pytest.approx(a.p_value, rel=1e-12)


def test_relabelling_arms_inverts_binary_ratios():
    d = frame({"placebo": [1] * 3 + [0] * 9, "UC-MSC": [1] * 8 + [0] * 5}, column="AVAL")
    a = run(inp("binary", d, ["placebo", "UC-MSC"], kind="binary")).comparisons
    b = run(inp("binary", d, ["UC-MSC", "placebo"], kind="binary")).comparisons
    assert b[0].estimate == pytest.approx(-a[0].estimate)
    assert b[0].ci == pytest.approx((-a[0].ci[1], -a[0].ci[0]))     # Newcombe is symmetric
    for ratio_a, ratio_b in ((a[1], b[1]), (a[2], b[2])):
        assert ratio_b.estimate == pytest.approx(1 / ratio_a.estimate, rel=1e-4)
        assert ratio_b.ci == pytest.approx((1 / ratio_a.ci[1], 1 / ratio_a.ci[0]), rel=1e-4)
    assert b[0].p_value == pytest.approx(a[0].p_value)


def test_only_the_target_day_is_analysed():
    day7 = pf_frame()
    day3 = day7.assign(DAY=3, CHG=day7.CHG + 1000)
    both = pd.concat([day3, day7], ignore_index=True)
    a = run(inp("welch", both, ["placebo", "UC-MSC"], target_day=7))
    b = run(inp("welch", day7, ["placebo", "UC-MSC"], target_day=7))
    assert dumps_json(a) == dumps_json(b)


def test_three_arms_give_two_comparisons_in_order():
    rng = np.random.default_rng(5)
    d = frame({a: rng.normal(m, 10, 8).tolist() for a, m in
               (("standard", 0), ("Paxlovid", 5), ("UC-MSC", 20))})
    r = run(inp("welch", d, ["standard", "Paxlovid", "UC-MSC"]))
    assert [(c.arm, c.reference) for c in r.comparisons] == [("Paxlovid", "standard"),
                                                            ("UC-MSC", "standard")]
    assert [t.p_value for t in r.tests] == [c.p_value for c in r.comparisons]


def test_missing_values_are_counted_not_analysed():
    d = frame({"placebo": [1.0, np.nan, 3.0, 2.0], "UC-MSC": [4.0, 5.0, np.nan, 6.0]})
    r = run(inp("welch", d, ["placebo", "UC-MSC"]))
    assert (r.by_arm["placebo"]["n"], r.by_arm["placebo"]["n_missing"]) == (3, 1)
    assert r.comparison("UC-MSC").estimate == pytest.approx(3.0)


# ------------------------------------------------------------------ degenerate data

def test_one_subject_in_an_arm_gives_a_note_not_a_crash():
    d = frame({"placebo": [1.0, 2.0, 3.0], "UC-MSC": [5.0]})
    r = run(inp("welch", d, ["placebo", "UC-MSC"]))
    c = r.comparison("UC-MSC")
    assert c.estimate is None and c.ci == (None, None)
    assert any("at least 2 values" in n for n in r.notes)
    json_text = dumps_json(r)
    assert '"estimate": null' in json_text


def test_empty_arm_makes_the_analysis_not_estimable():
    d = frame({"placebo": [1.0, 2.0], "UC-MSC": [np.nan, np.nan]})
    for method in ("welch", "wilcoxon"):
        with pytest.raises(NotEstimable, match=r"\['UC-MSC'\] have no subject"):
            run(inp(method, d, ["placebo", "UC-MSC"]))
    b = frame({"placebo": [1, 0]}, column="AVAL")
    with pytest.raises(NotEstimable, match="no subject"):
        run(inp("binary", b, ["placebo", "UC-MSC"], kind="binary"))


def test_constant_values_give_notes():
    d = frame({"placebo": [28.0] * 5, "UC-MSC": [28.0] * 6}, column="AVAL")   # free days
    r = run(inp("welch", d, ["placebo", "UC-MSC"], kind="free_days"))
    assert r.comparisons[0].estimate is None and "do not vary" in r.notes[0]
    w = run(inp("wilcoxon", d, ["placebo", "UC-MSC"], kind="free_days"))
    assert w.comparisons[0].estimate is None and any("same" in n for n in w.notes)


@pytest.mark.parametrize("events, expect", [
    ((0, 0), "undefined"),        # no events anywhere
    ((10, 10), "every subject")]) # all events in both arms
def test_binary_without_variation(events, expect):
    d = frame({"placebo": [1] * events[0] + [0] * (10 - events[0]),
               "UC-MSC": [1] * events[1] + [0] * (10 - events[1])}, column="AVAL")
    r = run(inp("binary", d, ["placebo", "UC-MSC"], kind="binary"))
    rd, rr, odds = r.comparisons
    assert rd.estimate == 0.0 and rd.ci[0] < 0 < rd.ci[1]       # Newcombe still works
    assert rr.estimate is None and odds.estimate is None
    assert r.test("fisher").p_value == 1.0
    assert any(expect in n for n in r.notes)
    chi = run(inp("binary", d, ["placebo", "UC-MSC"], kind="binary", options={"test": "chi_square"}))
    assert chi.test("chi_square").p_value is None


def test_binary_zero_cell_is_corrected_and_said():
    d = frame({"placebo": [1] * 5 + [0] * 5, "UC-MSC": [0] * 10}, column="AVAL")
    r = run(inp("binary", d, ["placebo", "UC-MSC"], kind="binary"))
    _, rr, odds = r.comparisons
    assert rr.estimate == pytest.approx((0.5 / 11) / (5.5 / 11))
    assert odds.estimate == 0.0 and odds.ci[0] == 0.0
    assert any("Haldane" in n for n in r.notes) and any("zero cell" in n for n in r.notes)


def test_binary_one_subject_per_arm():
    d = frame({"placebo": [0], "UC-MSC": [1]}, column="AVAL")
    r = run(inp("binary", d, ["placebo", "UC-MSC"], kind="binary"))
    rd, rr, odds = r.comparisons
    assert rd.estimate == 1.0 and r.test("fisher").p_value == 1.0
    assert odds.estimate == math.inf                     # as fisher.test
    assert '"estimate": "Infinity"' in dumps_json(odds)  # DESIGN.md 6: not null


def test_bad_input_is_named():
    d = frame(TWO)
    with pytest.raises(AnalysisError, match="'other'"):
        run(inp("welch", pd.concat([d, frame({"other": [1.0]})]), ["placebo", "UC-MSC"]))
    with pytest.raises(AnalysisError, match="no column CHG"):
        run(inp("welch", d.drop(columns="CHG"), ["placebo", "UC-MSC"]))
    with pytest.raises(AnalysisError, match="more than one row"):
        run(inp("welch", pd.concat([d, d.iloc[:1]]), ["placebo", "UC-MSC"]))
    with pytest.raises(AnalysisError, match="0 or 1"):
        run(inp("binary", frame({"placebo": [0, 2], "UC-MSC": [1, 1]}, "AVAL"),
                ["placebo", "UC-MSC"], kind="binary"))
    with pytest.raises(AnalysisError, match="unknown test"):
        run(inp("binary", frame({"placebo": [0], "UC-MSC": [1]}, "AVAL"), ["placebo", "UC-MSC"],
                kind="binary", options={"test": "barnard"}))
    with pytest.raises(AnalysisError, match="compares arms"):
        run(inp("welch", frame({"BM-MSC": [1.0, 2.0]}), ["BM-MSC"]))
    with pytest.raises(AnalysisError, match="change-from-baseline"):
        run(inp("paired", frame(TWO, "AVAL"), ["placebo", "UC-MSC"], kind="value"))


def test_paired_within_each_arm():
    r = run(inp("paired", pf_frame(), ["placebo", "UC-MSC"]))
    assert [(c.arm, c.estimand) for c in r.comparisons] == [
        ("placebo", "mean_change"), ("placebo", "median_change"),
        ("UC-MSC", "mean_change"), ("UC-MSC", "median_change")]
    assert all(c.reference is None for c in r.comparisons)
    assert [t.name for t in r.tests] == ["paired_t", "signed_rank"] * 2


def test_result_carries_identity_and_options():
    r = run(AnalysisInput("primary", "pf_d7", "change", "welch", pf_frame(), ("placebo", "UC-MSC"),
                          options={"title": "PF day 7"}))
    assert (r.id, r.endpoint, r.method, r.options) == ("primary", "pf_d7", "welch",
                                                       {"title": "PF day 7"})


def test_one_row_per_subject_uses_every_window_day():
    # the window rule may pick day 6, 7 or 8 for a day-7 endpoint: all are the endpoint
    d = pf_frame()
    d["DAY"] = np.resize([6, 7, 8], len(d))
    r = run(inp("welch", d, ["placebo", "UC-MSC"], target_day=7))
    assert r.by_arm["placebo"]["n"] + r.by_arm["UC-MSC"]["n"] == len(d)

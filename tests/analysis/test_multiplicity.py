"""Multiplicity adjustment (R's p.adjust is checked in test_compare_reference.py)."""

import math

import pytest

from mscstats.analysis.multiplicity import adjust, adjust_family
from mscstats.errors import SapError
from mscstats.results import AnalysisResult, Comparison, Test


def test_adjust_by_hand():
    p = [0.01, 0.04, 0.03]
    assert adjust(p, "bonferroni") == pytest.approx((0.03, 0.12, 0.09))
    # holm: sorted 0.01 x 3, 0.03 x 2, 0.04 x 1 -> running max 0.03, 0.06, 0.06
    assert adjust(p, "holm") == pytest.approx((0.03, 0.06, 0.06))
    # hochberg: from the largest 0.04 x 1, 0.03 x 2, 0.01 x 3 -> running min 0.04, 0.04, 0.03
    assert adjust(p, "hochberg") == pytest.approx((0.03, 0.04, 0.04))
    assert adjust(p, "none") == tuple(p)
    assert adjust([0.6, 0.7], "bonferroni") == (1.0, 1.0)


def test_adjust_keeps_missing_and_order():
    assert adjust([0.02, None, float("nan"), 0.01], "holm") == pytest.approx((0.02, None, None, 0.02))
    assert adjust([], "holm") == ()
    with pytest.raises(ValueError, match="unknown multiplicity method"):
        adjust([0.1], "fdr")


def test_adjusted_never_below_raw_and_monotone():
    p = [0.001, 0.2, 0.03, 0.04, 0.5, 0.011]
    for method in ("holm", "hochberg", "bonferroni"):
        q = adjust(p, method)
        assert all(b >= a for a, b in zip(p, q))
        ranked = sorted(zip(p, q))
        assert all(x[1] <= y[1] for x, y in zip(ranked, ranked[1:]))


def _result(id_, method, comparisons, tests=()):
    return AnalysisResult(id=id_, endpoint="e", method=method, by_arm={}, tests=tests,
                          comparisons=comparisons)


def test_adjust_family_uses_each_analysis_primary_p():
    binary = _result("mort", "binary", (
        Comparison("UC-MSC", "control", "risk_difference", 0.2, (0.0, 0.4), 0.95, p_value=0.02),
        Comparison("UC-MSC", "control", "risk_ratio", 2.0, (1.0, 4.0), 0.95, p_value=0.02),
        Comparison("UC-MSC", "control", "odds_ratio", 3.0, (1.0, 9.0), 0.95, p_value=0.02)))
    logrank = _result("ttci", "logrank",
                      (Comparison("UC-MSC", "control", "hazard_ratio", 1.6, (1.0, 2.7), 0.95,
                                  p_value=0.078),),
                      (Test("logrank", 3.1, 1, 0.078),))
    paired = _result("il6", "paired", (
        Comparison("UC-MSC", None, "mean_change", -1.0, (-2.0, 0.0), 0.95, p_value=0.04),
        Comparison("UC-MSC", None, "median_change", -1.1, (-2.0, 0.0), 0.95, p_value=0.05)))
    other = _result("other", "welch", (Comparison("UC-MSC", "control", "mean_difference", 1.0,
                                                  (0.0, 2.0), 0.95, p_value=0.001),))
    out = adjust_family([binary, logrank, paired, other], ["mort", "ttci", "il6"], "holm")
    # family p-values: 0.02 (binary, once), 0.078 (pairwise log-rank), 0.04 (paired t)
    expected = dict(zip((0.02, 0.078, 0.04), adjust([0.02, 0.078, 0.04], "holm")))
    assert [c.p_adjusted for c in out[0].comparisons] == [expected[0.02]] * 3
    assert out[1].comparisons[0].p_adjusted == expected[0.078]
    assert out[2].comparisons[0].p_adjusted == expected[0.04]
    assert out[2].comparisons[1].p_adjusted is None        # the signed-rank p is not in the family
    assert out[3] == other                                  # outside the family: untouched
    assert math.isclose(expected[0.02], 0.06)


def test_adjust_family_unknown_analysis():
    with pytest.raises(SapError, match="not in the SAP"):
        adjust_family([], ["primary"], "holm")

"""Arm comparisons against R (tests/reference/compare/compare.R -> tests/reference/compare/).

Each parametrized case is one R call; ``pytest -v`` lists them. Tolerances
(DESIGN.md 5): 1e-6 relative for closed-form estimates and CIs, 1e-4 for
iterative ones, 1e-6 absolute for p-values. Where mscstats follows R's own
algorithm step by step (uniroot inside wilcox.test and fisher.test) the
closed-form tolerance is used: the numbers must be R's, not merely close.
"""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.design import categorical
from mscstats.analysis.multiplicity import adjust
from mscstats.analysis.cores.ordinal import brant, proportional_odds
from mscstats.analysis.cores.proportions import (chi_square, clopper_pearson, fisher_exact,
                                                 katz_risk_ratio, newcombe_difference, wilson)
from mscstats.analysis.cores.ranks import rank_sum, signed_rank
from mscstats.analysis.cores.ttests import one_sample, welch
from mscstats.analysis.cores.uniroot import uniroot
from conftest import CLOSED, ITERATIVE, P_ABS, REFERENCE, num

HERE = REFERENCE / "compare"
REF = json.loads((HERE / "compare.json").read_text())


def close(actual, expected, rel=CLOSED):
    return pytest.approx(num(expected), rel=rel, abs=1e-12)


def data(name):
    return pd.read_csv(HERE / "data" / f"{name}.csv")


def arm_changes(frame, arm):
    return frame.loc[frame.ARM == arm, "CHG"]


def ids(cases):
    return [c["case"] for c in cases]


def test_reference_provenance():
    assert REF["R"].startswith("R version")
    assert "do not edit" in REF["generated_by"]
    assert set(REF["packages"]) >= {"nlme", "ordinal", "emmeans"}


# ------------------------------------------------------------------ t tests

@pytest.mark.parametrize("case", REF["welch"], ids=ids(REF["welch"]))
def test_welch_matches_t_test(case):
    d = data(case["data"])
    r = welch(arm_changes(d, case["arm"]), arm_changes(d, case["reference"]), case["ci_level"])
    assert r.estimate == close(r.estimate, case["estimate"])
    assert r.se == close(r.se, case["se"])
    assert r.df == close(r.df, case["df"])
    assert r.statistic == close(r.statistic, case["statistic"])
    assert r.p_value == pytest.approx(case["p_value"], abs=P_ABS)
    assert list(r.ci.astuple()) == close(None, case["ci"])


@pytest.mark.parametrize("case", REF["paired_t"], ids=ids(REF["paired_t"]))
def test_paired_t_matches_t_test(case):
    d = data(case["data"])
    r = one_sample(d.AVAL - d.BASE, case["ci_level"])
    assert r.estimate == close(r.estimate, case["estimate"])
    assert r.se == close(r.se, case["se"])
    assert r.df == case["df"]
    assert r.p_value == pytest.approx(case["p_value"], abs=P_ABS)
    assert list(r.ci.astuple()) == close(None, case["ci"])


# ------------------------------------------------------------------ Wilcoxon

@pytest.mark.parametrize("case", REF["wilcoxon"], ids=ids(REF["wilcoxon"]))
def test_rank_sum_matches_wilcox_test(case):
    d = data(case["data"])
    r = rank_sum(arm_changes(d, case["arm"]), arm_changes(d, case["reference"]), case["ci_level"])
    assert r.exact == ("exact" in case["method"])
    assert r.statistic == case["statistic"]
    assert r.p_value == pytest.approx(case["p_value"], abs=P_ABS)
    assert r.estimate == close(r.estimate, case["estimate"])
    assert list(r.ci.astuple()) == close(None, case["ci"])


@pytest.mark.parametrize("case", REF["signed_rank"], ids=ids(REF["signed_rank"]))
def test_signed_rank_matches_wilcox_test(case):
    d = data(case["data"])
    changes = d.CHG if case["case"] == "large" else d.AVAL - d.BASE
    r = signed_rank(changes, case["ci_level"])
    assert r.exact == ("exact" in case["method"])
    assert r.statistic == case["statistic"]
    assert r.p_value == pytest.approx(case["p_value"], abs=P_ABS)
    assert r.estimate == close(r.estimate, case["estimate"])
    assert list(r.ci.astuple()) == close(None, case["ci"])


@pytest.mark.parametrize("case", REF["uniroot"], ids=ids(REF["uniroot"]))
def test_uniroot_is_r_uniroot(case):
    f = {"sqrt2": lambda x: x * x - 2, "cos_fixed_point": lambda x: math.cos(x) - x,
         "step": lambda x: math.floor(x) - 0.5}[case["case"]]
    assert uniroot(f, case["lower"], case["upper"], tol=case["tol"]) == close(None, case["root"], 1e-13)


# ------------------------------------------------------------------ binary

def table_id(case):
    return "{}/{} vs {}/{}".format(*case["table"])


BINARY_IDS = [table_id(c) for c in REF["binary"]]


@pytest.mark.parametrize("case", REF["binary"], ids=BINARY_IDS)
def test_fisher_matches_fisher_test(case):
    for key, level in (("fisher", 0.95), ("fisher_90", 0.90)):
        r = fisher_exact(*case["table"], level)
        assert r.p_value == pytest.approx(case[key]["p_value"], abs=P_ABS)
        assert r.odds_ratio == close(None, case[key]["estimate"])
        assert list(r.ci.astuple()) == close(None, case[key]["ci"])


@pytest.mark.parametrize("case", REF["binary"], ids=BINARY_IDS)
def test_chi_square_matches_chisq_test(case):
    ref = case["chi_square"]
    if math.isnan(num(ref["p_value"])):          # R: NaN with a zero margin; we say why
        with pytest.raises(NotEstimable, match="undefined"):
            chi_square(*case["table"])
        return
    r = chi_square(*case["table"])
    assert r.statistic == close(None, ref["statistic"])
    assert r.df == ref["df"]
    assert r.p_value == pytest.approx(ref["p_value"], abs=P_ABS)


@pytest.mark.parametrize("case", REF["binary"], ids=BINARY_IDS)
def test_newcombe_matches_method_10(case):
    x1, n1, x2, n2 = case["table"]
    for key, level in (("newcombe", 0.95), ("newcombe_90", 0.90)):
        r = newcombe_difference(x1, n1, x2, n2, level)
        assert r.estimate == close(None, case[key]["estimate"])
        assert list(r.ci.astuple()) == close(None, case[key]["ci"])
    assert list(wilson(x1, n1).astuple()) == close(None, case["newcombe"]["wilson1"])
    assert list(wilson(x2, n2).astuple()) == close(None, case["newcombe"]["wilson2"])


@pytest.mark.parametrize("case", REF["binary"], ids=BINARY_IDS)
def test_risk_ratio_matches_katz(case):
    ref = case["katz"] or case["katz_corrected"]
    if ref is None or list(case["table"][::2]) == list(case["table"][1::2]):
        # no events anywhere, or all events in both arms: R gives NaN or (1, 1); we decline
        with pytest.raises(NotEstimable):
            katz_risk_ratio(*case["table"])
        return
    r = katz_risk_ratio(*case["table"])
    assert r.estimate == close(None, ref["estimate"])
    assert list(r.ci.astuple()) == close(None, ref["ci"])
    assert bool(r.notes) == (case["katz"] is None)     # the correction is always announced


@pytest.mark.parametrize("case", REF["binom"], ids=[f"{c['events']}/{c['n']}" for c in REF["binom"]])
def test_clopper_pearson_matches_binom_test(case):
    r = clopper_pearson(case["events"], case["n"])
    assert r.estimate == close(None, case["estimate"])
    assert list(r.ci.astuple()) == close(None, case["ci"])
    assert list(clopper_pearson(case["events"], case["n"], 0.90).ci.astuple()) == close(None, case["ci_90"])


# ------------------------------------------------------------------ published figures

@pytest.mark.parametrize("table, p", [((7, 12, 5, 29), 0.0201), ((7, 12, 3, 29), 0.0028),
                                      ((10, 20, 4, 20), 0.0958)])
def test_fisher_published_p_values(table, p):
    assert round(fisher_exact(*table).p_value, 4) == p


def test_chi_square_published_p_value():
    assert round(chi_square(10, 20, 4, 20).p_value, 4) == 0.0467


def test_clopper_pearson_published_upper_limit():
    assert round(clopper_pearson(0, 10).ci.upper, 4) == 0.3085
    assert clopper_pearson(0, 10).ci.lower == 0.0


# ------------------------------------------------------------------ p.adjust

@pytest.mark.parametrize("method", ["holm", "hochberg", "bonferroni", "none"])
def test_adjust_matches_p_adjust(method):
    ref = REF["p_adjust"]
    assert list(adjust(ref["p"], method)) == close(None, ref[method])


# ------------------------------------------------------------------ ANCOVA and ordinal

@pytest.mark.parametrize("case", REF["ancova"], ids=ids(REF["ancova"]))
def test_ancova_runner_matches_lm(case):
    terms = case["formula"].split("~")[1].split("+")[1:]
    covariates = [t.strip() for t in terms if t.strip() not in ("BASE", "STRATUM")]
    strata = [t.strip() for t in terms if t.strip() == "STRATUM"]
    r = run(AnalysisInput("a", "e", "change", "ancova", data(case["data"]), tuple(case["arms"]),
                          options={"covariates": covariates, "strata": strata},
                          alpha=1 - case["ci_level"]))
    assert len(r.comparisons) == len(case["comparisons"])
    for c, ref in zip(r.comparisons, case["comparisons"]):
        assert c.arm == ref["arm"]
        assert c.estimate == close(None, ref["estimate"])
        assert c.se == close(None, ref["se"])
        assert c.df == case["df"]
        assert c.p_value == pytest.approx(ref["p_value"], abs=P_ABS)
        assert list(c.ci) == close(None, ref["ci"])
    assert [t.statistic for t in r.tests] == close(None, [c["t"] for c in case["comparisons"]])


def ordinal_data(case):
    d = data(case["data"])
    return d[d.AVAL.notna() & d.ARM.isin(case["arms"])]


@pytest.mark.parametrize("case", REF["ordinal_po"], ids=ids(REF["ordinal_po"]))
def test_proportional_odds_matches_clm(case):
    d = ordinal_data(case)
    fit = proportional_odds(d.AVAL, categorical("ARM", d.ARM, case["arms"]).matrix)
    assert list(fit.thresholds) == close(None, case["thresholds"], ITERATIVE)
    assert fit.llf == close(None, case["logLik"], 1e-9)
    assert list(fit.params) == close(None, [c["beta"] for c in case["comparisons"]], ITERATIVE)
    assert list(fit.se) == close(None, [c["se"] for c in case["comparisons"]], ITERATIVE)


@pytest.mark.parametrize("case", REF["ordinal_po"], ids=ids(REF["ordinal_po"]))
def test_ordinal_runner_matches_clm(case):
    r = run(AnalysisInput("o", "who_d14", "ordinal", "ordinal_po", ordinal_data(case),
                          tuple(case["arms"]), alpha=1 - case["ci_level"]))
    for c, ref in zip(r.comparisons, case["comparisons"], strict=True):
        assert (c.arm, c.estimand) == (ref["arm"], "common_odds_ratio")
        assert c.estimate == close(None, ref["common_odds_ratio"], ITERATIVE)
        assert list(c.ci) == close(None, ref["ci"], ITERATIVE)
        assert c.p_value == pytest.approx(ref["p_value"], abs=P_ABS)
    b = r.test("brant")
    assert b.statistic == close(None, case["brant"]["statistic"], ITERATIVE)
    assert b.df == case["brant"]["df"]
    assert b.p_value == pytest.approx(case["brant"]["p_value"], abs=P_ABS)


@pytest.mark.parametrize("case", REF["ordinal_po"][:2], ids=ids(REF["ordinal_po"][:2]))
def test_brant_cut_logits_match_glm(case):
    d = ordinal_data(case)
    b = brant(d.AVAL, categorical("ARM", d.ARM, case["arms"]).matrix)
    for mine, ref in zip(b.cut_coefficients, case["brant"]["cut_coefficients"], strict=True):
        assert list(mine) == close(None, ref if isinstance(ref, list) else [ref], ITERATIVE)


# ------------------------------------------------------------------ runners on R's data

def two_arm_input(method, name="two_arm", **kw):
    return AnalysisInput("a", "pf_d7", "change", method, data(name), ("placebo", "UC-MSC"), **kw)


def test_welch_runner_matches_t_test():
    ref = REF["welch"][0]
    r = run(two_arm_input("welch"))
    c = r.comparison("UC-MSC")
    assert (c.estimand, c.reference) == ("mean_difference", "placebo")
    assert c.estimate == close(None, ref["estimate"])
    assert c.se == close(None, ref["se"])
    assert c.df == close(None, ref["df"])
    assert list(c.ci) == close(None, ref["ci"])
    assert r.test("t").p_value == pytest.approx(ref["p_value"], abs=P_ABS)
    assert r.by_arm["placebo"]["n_missing"] == 1 and r.by_arm["placebo"]["n"] == 9


@pytest.mark.parametrize("name, ref", [("two_arm", REF["wilcoxon"][0]), ("two_arm_ties", REF["wilcoxon"][2])],
                         ids=["exact", "ties"])
def test_wilcoxon_runner_matches_wilcox_test(name, ref):
    r = run(two_arm_input("wilcoxon", name))
    c = r.comparison("UC-MSC")
    assert c.estimand == "hodges_lehmann_shift"
    assert c.estimate == close(None, ref["estimate"])
    assert list(c.ci) == close(None, ref["ci"])
    assert r.test("wilcoxon").statistic == ref["statistic"]
    assert c.p_value == pytest.approx(ref["p_value"], abs=P_ABS)


@pytest.mark.parametrize("name, t_ref, w_ref, log", [
    ("single_arm", REF["paired_t"][0], REF["signed_rank"][0], False),
    ("single_arm_log_il6", REF["paired_t"][2], REF["signed_rank"][2], True)], ids=["pf", "log_il6"])
def test_paired_runner_matches_t_and_wilcox(name, t_ref, w_ref, log):
    r = run(AnalysisInput("p", "chg", "change", "paired", data(name), ("BM-MSC",),
                          transform="log" if log else None))
    mean, median = r.comparisons
    if log:   # geometric mean change: exp of the mean log change and of its CI
        assert mean.estimand == "geometric_mean_ratio" and mean.se is None
        assert mean.estimate == close(None, math.exp(t_ref["estimate"]))
        assert list(mean.ci) == close(None, [math.exp(v) for v in t_ref["ci"]])
    else:
        assert mean.estimand == "mean_change"
        assert mean.estimate == close(None, t_ref["estimate"])
        assert list(mean.ci) == close(None, t_ref["ci"])
    assert mean.reference is None and mean.p_value == pytest.approx(t_ref["p_value"], abs=P_ABS)
    assert median.estimand == "median_change"
    assert median.estimate == close(None, w_ref["estimate"])
    assert list(median.ci) == close(None, w_ref["ci"])
    assert r.test("signed_rank").statistic == w_ref["statistic"]
    assert r.test("signed_rank").p_value == pytest.approx(w_ref["p_value"], abs=P_ABS)


def test_welch_runner_on_logs_reports_geometric_mean_ratio():
    d = data("two_arm")
    d["CHG"] = d["CHG"] / 100      # any numbers serve: they are treated as log values
    ref = welch(arm_changes(d, "UC-MSC"), arm_changes(d, "placebo"))
    r = run(AnalysisInput("a", "il6", "change", "welch", d, ("placebo", "UC-MSC"), transform="log"))
    c = r.comparison("UC-MSC")
    assert c.estimand == "geometric_mean_ratio" and c.se is None
    assert c.estimate == pytest.approx(math.exp(ref.estimate), rel=1e-12)
    assert list(c.ci) == pytest.approx([math.exp(v) for v in ref.ci.astuple()], rel=1e-12)
    assert r.by_arm["placebo"]["geometric_mean"] == pytest.approx(
        math.exp(arm_changes(d, "placebo").mean()), rel=1e-12)

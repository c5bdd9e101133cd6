"""Survival cores against R's survival package (tests/reference/survival/survival.R -> survival.json).

Each parametrized case is one R call (survfit, survdiff or coxph); ``pytest -v``
lists them, and test_reference_count reports how many numbers were compared.
Tolerances (DESIGN.md 5): 1e-6 relative for closed-form quantities (survfit,
survdiff, RMST), 1e-4 relative for the iterative Cox fit, 1e-6 absolute for
p-values. R wrote 15 significant digits.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mscstats.analysis.cores.cox import cox_fit
from mscstats.analysis.design import categorical, numeric, stack
from mscstats.analysis.cores.km import kaplan_meier, landmarks, median_survival
from mscstats.analysis.cores.logrank import logrank_test
from mscstats.analysis.cores.rmst import restricted_mean
from conftest import CLOSED, ITERATIVE, P_ABS, REFERENCE

HERE = REFERENCE / "survival"
REF = json.loads((HERE / "survival.json").read_text())
COMPARED = {"n": 0, "max_relative": 0.0}


def num(v):
    """R's JSON: "NA" -> nan, "Inf"/"NaN" strings -> floats; None stays None."""
    if isinstance(v, list):
        return [num(x) for x in v]
    if isinstance(v, str):
        return math.nan if v == "NA" else float(v)
    return math.nan if v is None else float(v)


def check(actual, expected, rel=CLOSED, abs_=1e-12):
    """Every value matches R (nan where R has NA); counts the comparisons."""
    actual = np.atleast_1d(np.asarray([math.nan if a is None else a for a in np.atleast_1d(actual)],
                                      dtype=float))
    expected = np.atleast_1d(np.asarray(num(expected), dtype=float))
    assert actual.shape == expected.shape
    assert (np.isnan(actual) == np.isnan(expected)).all(), (actual, expected)
    assert (np.isinf(actual) == np.isinf(expected)).all(), (actual, expected)
    finite = np.isfinite(expected)
    a, e = actual[finite], expected[finite]
    assert a == pytest.approx(e, rel=rel, abs=abs_)
    COMPARED["n"] += len(actual)
    if len(e):
        dev = np.abs(a - e) / np.maximum(np.abs(e), 1e-300)
        COMPARED["max_relative"] = max(COMPARED["max_relative"], float(np.where(np.abs(e) > 1e-12, dev, 0).max()))


def check_p(actual, expected):
    assert actual == pytest.approx(num(expected), abs=P_ABS)
    COMPARED["n"] += 1


def as_list(v):
    """R's auto_unbox writes length-1 vectors as scalars."""
    return v if isinstance(v, list) else [v]


def data(name):
    d = pd.read_csv(HERE / "data" / f"{name}.csv")
    d["EVENT"] = ((d.CNSR == 0) & (d.EVNTCD != 2)).astype(float)
    return d


def ids(cases):
    return [c["case"] for c in cases]


def test_reference_provenance():
    assert REF["R"].startswith("R version")
    assert "do not edit" in REF["generated_by"]
    assert REF["packages"]["survival"]


# ------------------------------------------------------------------ survfit

@pytest.mark.parametrize("case", REF["km"], ids=ids(REF["km"]))
def test_kaplan_meier_matches_survfit(case):
    d = data(case["data"])
    d = d[d.ARM == case["arm"]]
    km = kaplan_meier(d.AVAL, d.EVENT, case["conf_type"], case["level"])
    for ours, theirs in (("time", "time"), ("n_risk", "n_risk"), ("n_event", "n_event"),
                         ("n_censor", "n_censor"), ("survival", "surv"), ("std_err", "std_err"),
                         ("lower", "lower"), ("upper", "upper")):
        check(getattr(km, ours), case[theirs])
    median = median_survival(km)
    check([median.estimate, median.lower, median.upper],
          [case["median"], case["median_lower"], case["median_upper"]])
    marks = landmarks(km, case["landmarks"]["times"])
    for ours, theirs in (("survival", "surv"), ("lower", "lower"), ("upper", "upper"),
                         ("std_err", "std_err"), ("n_risk", "n_risk")):
        check([getattr(m, ours) for m in marks], case["landmarks"][theirs])
    rm = restricted_mean(km, case["rmst"]["tau"])
    check([rm.estimate, rm.se], [case["rmst"]["rmean"], case["rmst"]["se"]])


# ------------------------------------------------------------------ survdiff

@pytest.mark.parametrize("case", REF["survdiff"], ids=ids(REF["survdiff"]))
def test_logrank_matches_survdiff(case):
    d = data(case["data"])
    if case["strata"]:
        d = d[d[case["strata"]].notna()]
    if case["arms"]:
        d = d[d.ARM.isin(case["arms"])]
    r = logrank_test(d.AVAL, d.EVENT, d.ARM, d[case["strata"]] if case["strata"] else None,
                     case["rho"], case["gamma"])
    check(r.statistic, case["chisq"])
    assert r.df == case["df"]
    check_p(r.p_value, case["p_value"])
    if "groups" in case:
        order = [r.groups.index(g) for g in case["groups"]]
        check(r.n[order], case["n"])
        check(r.observed[order], case["observed"])
        check(r.expected[order], case["expected"])
        check(r.variance[np.ix_(order, order)].ravel(order="F"), case["variance"], abs_=1e-10)


# ------------------------------------------------------------------ coxph

def cox_design(d, case):
    blocks = [categorical("ARM", d.ARM, case["arms"])]
    for name in as_list(case["covariates"]):
        col = d[name]
        blocks.append(numeric(name, col) if pd.api.types.is_numeric_dtype(col)
                      else categorical(name, col, sorted(col.unique())))
    return stack(blocks)


@pytest.mark.parametrize("case", REF["coxph"], ids=ids(REF["coxph"]))
def test_cox_matches_coxph(case):
    d = data(case["data"])
    d = d[d.ARM.isin(case["arms"])]
    needed = as_list(case["covariates"]) + ([case["strata"]] if case["strata"] else [])
    d = d.dropna(subset=needed)
    x, names = cox_design(d, case)
    fit = cox_fit(d.AVAL, d.EVENT, x, names, d[case["strata"]] if case["strata"] else None,
                  case["ties"])
    assert (fit.n, fit.events) == (case["n"], case["nevent"])
    assert list(fit.names) == as_list(case["names"])
    if case["infinite_warning"]:
        # coxph warns the coefficient may be infinite: its number is an artefact of
        # where the iterations stopped; we flag it instead of comparing it
        assert fit.infinite
        check(fit.llnull, case["loglik"][0], ITERATIVE)
        check(fit.score.statistic, case["score"][0], ITERATIVE)
        return
    assert not fit.infinite
    check(fit.params, case["coef"], ITERATIVE)
    check(fit.se, case["se"], ITERATIVE)
    check([fit.llnull, fit.llf], case["loglik"], ITERATIVE)
    lower, upper = zip(*(fit.hazard_ratio(n, 0.95)[1].astuple() for n in names))
    check(lower, case["ci_lower"], ITERATIVE)
    check(upper, case["ci_upper"], ITERATIVE)
    for name, p in zip(names, as_list(case["p"])):
        check_p(fit.hazard_ratio(name, 0.95)[2], p)
    for test in ("wald", "score", "likelihood_ratio"):
        ours, theirs = getattr(fit, test), case[test]
        check(ours.statistic, theirs[0], ITERATIVE)
        assert ours.df == theirs[1]
        check_p(ours.p_value, theirs[2])


def test_reference_count():
    """Runs last in this module: every reference case above compared its numbers."""
    n_cases = len(REF["km"]) + len(REF["survdiff"]) + len(REF["coxph"])
    print(f"\n{n_cases} R calls, {COMPARED['n']} numbers compared with R; "
          f"max relative deviation {COMPARED['max_relative']:.3g}")
    assert COMPARED["n"] > 1000

"""The survival batch kernels on R's own cases: every survfit, coxph, cuminc, Gray
and crr case of tests/reference/survival/survival.json and
tests/reference/competing/competing.json, run as a batch (the case three times,
each replicate leaving out nobody), against R's stored numbers with the tolerances
of DESIGN.md 5 (closed form 1e-6, iterative 1e-4 relative, p 1e-6 absolute)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CLOSED, ITERATIVE, P_ABS
from test_competing import REF as COMPETING, cause_of, crr_design, vector
from test_competing import data as competing_data
from test_survival_reference import REF as SURVIVAL, as_list, check, cox_design
from test_survival_reference import data as survival_data

from mscstats.analysis.batch.competing import cuminc_batch, finegray_batch, gray_batch
from mscstats.analysis.batch.cox import cox_fit_batch
from mscstats.analysis.batch.km import (kaplan_meier_batch, landmarks_batch, median_batch,
                                        restricted_mean_batch)

B = 3


def stacked(*columns):
    return [np.tile(np.asarray(c, dtype=float), (B, 1)) for c in columns]


def codes(values):
    return np.unique(np.asarray(values).astype(str), return_inverse=True)[1]


def each(values, expected, rel=CLOSED):
    for r in range(B):
        check(values[r], expected, rel)


@pytest.mark.parametrize("case", SURVIVAL["km"], ids=[c["case"] for c in SURVIVAL["km"]])
def test_km_kernel_matches_survfit(case):
    d = survival_data(case["data"])
    d = d[d.ARM == case["arm"]]
    time, event = stacked(d.AVAL, d.EVENT)
    curve = kaplan_meier_batch(time, event, np.ones(time.shape, bool), case["conf_type"],
                               case["level"])
    median = median_batch(curve)
    for r in range(B):
        check([median.estimate[r], median.lower[r], median.upper[r]],
              [case["median"], case["median_lower"], case["median_upper"]])
    marks = [landmarks_batch(curve, t) for t in as_list(case["landmarks"]["times"])]
    for ours, theirs in (("survival", "surv"), ("lower", "lower"), ("upper", "upper"),
                         ("std_err", "std_err"), ("n_risk", "n_risk")):
        each(np.stack([getattr(m, ours) for m in marks], axis=1), case["landmarks"][theirs])
    mean = restricted_mean_batch(curve, case["rmst"]["tau"])
    each(np.stack([mean.estimate, mean.se], axis=1), [case["rmst"]["rmean"], case["rmst"]["se"]])


@pytest.mark.parametrize("case", SURVIVAL["coxph"], ids=[c["case"] for c in SURVIVAL["coxph"]])
def test_cox_kernel_matches_coxph(case):
    d = survival_data(case["data"])
    d = d[d.ARM.isin(case["arms"])]
    needed = as_list(case["covariates"]) + ([case["strata"]] if case["strata"] else [])
    d = d.dropna(subset=needed)
    x, _ = cox_design(d, case)
    time, event = stacked(d.AVAL, d.EVENT)
    strata = np.tile(codes(d[case["strata"]]), (B, 1)) if case["strata"] else None
    fit = cox_fit_batch(time, event, np.tile(x, (B, 1, 1)), np.ones(time.shape, bool), strata,
                        case["ties"])
    if case["infinite_warning"]:              # coxph: may be infinite; the runner decides
        assert not fit.reliable.any()
        return
    assert fit.reliable.all()
    each(fit.params, case["coef"], ITERATIVE)
    each(fit.se, case["se"], ITERATIVE)
    each(np.stack([fit.llnull, fit.llf], axis=1), case["loglik"], ITERATIVE)


@pytest.mark.parametrize("case", COMPETING["cuminc"], ids=[c["case"] for c in COMPETING["cuminc"]])
def test_cuminc_kernel_matches_cuminc(case):
    d = competing_data(case["data"])
    arm = d[d.ARM == case["arm"]]
    time, cause = stacked(arm.AVAL, cause_of(arm, case["cause"]))
    days = vector(case["days"])
    marks = cuminc_batch(time, cause.astype(int), np.ones(time.shape, bool), days,
                         case["ci_level"])
    for field in ("estimate", "variance", "lower", "upper"):
        each(np.stack([getattr(m, field) for m in marks], axis=1), vector(case[field]))


@pytest.mark.parametrize("case", COMPETING["gray"], ids=[c["case"] for c in COMPETING["gray"]])
def test_gray_kernel_matches_cuminc_tests(case):
    d = competing_data(case["data"])
    time, cause = stacked(d.AVAL, cause_of(d, case["cause"]))
    group = np.tile(codes(d.ARM), (B, 1))
    strata = np.tile(codes(d[case["strata"]]), (B, 1)) if case.get("strata") else None
    got = gray_batch(time, cause.astype(int), group, np.ones(time.shape, bool), strata,
                     int(group.max()) + 1)
    assert got.reliable.all() and got.df == case["df"]
    assert got.statistic == pytest.approx([case["statistic"]] * B, rel=CLOSED)
    assert got.p == pytest.approx([case["p_value"]] * B, abs=P_ABS)


@pytest.mark.parametrize("case", COMPETING["crr"], ids=[c["case"] for c in COMPETING["crr"]])
def test_finegray_kernel_matches_crr(case):
    d = competing_data(case["data"])
    x, _ = crr_design(d, vector(case["arms"]), vector(case["covariates"]) if
                      case["covariates"] else [])
    time, cause = stacked(d.AVAL, d.EVNTCD)
    fit = finegray_batch(time, cause.astype(int), np.tile(x, (B, 1, 1)),
                         np.ones(time.shape, bool))
    assert fit.converged.all() == case["converged"]
    assert fit.reliable.all()
    each(fit.params, vector(case["coef"]), ITERATIVE)
    each(fit.se, vector(case["se"]), ITERATIVE)

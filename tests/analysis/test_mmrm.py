"""MMRM against nlme::gls + emmeans (tests/reference/compare/compare.R), and its invariants.

Tolerances: estimates, SEs, LS means and the covariance matrix 1e-4 relative
(iterative; in fact they agree to ~1e-6 because the R fit is converged with
opt = "optim", msTol = 1e-12). Satterthwaite df: 2e-3 relative. emmeans
differentiates the covariance of beta analytically (numDeriv) but takes the
REML information from nlme's apVar, a finite-difference Hessian (fdHess,
step 6e-6 x max(|par|, minAbsParApVar)); mscstats differentiates its analytic
REML gradient. With minAbsParApVar = 1 the two agree to ~5e-4; with nlme's
default 0.05, parameters near zero get a step near 3e-7 and emmeans' df drift
by several per cent (compare.json keeps those as ``df_default_apvar``).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.cores.mmrm import fit_mmrm
from mscstats.analysis.cores.common import NotEstimable
from mscstats.errors import AnalysisError
from conftest import REFERENCE

HERE = REFERENCE / "compare"
CASES = json.loads((HERE / "compare.json").read_text())["mmrm"]
DATA = pd.read_csv(HERE / "data" / "repeated.csv")
ARMS = ("standard", "Paxlovid", "UC-MSC")
EST, DF = 1e-4, 2e-3


def mmrm_input(case=None, target_day=14, data=DATA, arms=ARMS, **options):
    if case is not None:
        options = {"covariance": case["covariance"], "covariates": case["covariates"], **options}
    return AnalysisInput("m", "pf_chg", "change", "mmrm", data, arms, options=options,
                         target_day=target_day)


@pytest.fixture(scope="module", params=CASES, ids=[c["case"] for c in CASES])
def fitted(request):
    case = request.param
    return case, {day: run(mmrm_input(case, day)) for day in (3, 5, 7, 14)}


def test_mmrm_contrasts_match_gls_emmeans(fitted):
    case, results = fitted
    assert len(case["contrasts"]) == 8
    for ref in case["contrasts"]:
        c = results[ref["day"]].comparison(ref["arm"])
        assert (c.reference, c.estimand) == ("standard", "mean_difference")
        assert c.estimate == pytest.approx(ref["estimate"], rel=EST)
        assert c.se == pytest.approx(ref["se"], rel=EST)
        assert c.df == pytest.approx(ref["df"], rel=DF)
        assert list(c.ci) == pytest.approx(ref["ci"], rel=EST, abs=1e-3)
        assert c.p_value == pytest.approx(ref["p_value"], abs=1e-5)


def test_mmrm_lsmeans_match_emmeans(fitted):
    case, results = fitted
    by_arm = results[14].by_arm
    for ref in case["lsmeans"]:
        mine = by_arm[ref["arm"]]["lsmeans"][str(int(ref["day"]))]
        assert mine["estimate"] == pytest.approx(ref["estimate"], rel=EST)
        assert mine["se"] == pytest.approx(ref["se"], rel=EST)
        assert mine["df"] == pytest.approx(ref["df"], rel=DF)


def _core_fit(case):
    """Fit the core directly with R's column names, to compare every coefficient."""
    d = DATA[DATA.CHG.notna()].reset_index(drop=True)
    days = [3, 5, 7, 14]
    cols = {"(Intercept)": np.ones(len(d)), "BASE": d.BASE.to_numpy()}
    for a in ARMS[1:]:
        cols[f"ARM{a}"] = (d.ARM == a).to_numpy(float)
    for day in days[1:]:
        cols[f"fDAY{day}"] = (d.DAY == day).to_numpy(float)
        cols[f"fDAY{day}:BASE"] = cols[f"fDAY{day}"] * d.BASE.to_numpy()
        for a in ARMS[1:]:
            cols[f"ARM{a}:fDAY{day}"] = cols[f"ARM{a}"] * cols[f"fDAY{day}"]
    if "AGE" in case["covariates"]:
        cols["AGE"], cols["SEXM"] = d.AGE.to_numpy(float), (d.SEX == "M").to_numpy(float)
    names = list(case["coefficients"])
    x = np.column_stack([cols[n] for n in names])
    visit = d.DAY.map({v: i for i, v in enumerate(days)}).to_numpy()
    return names, fit_mmrm(d.CHG, x, d.USUBJID, visit, 4, case["covariance"])


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_mmrm_core_matches_gls(case):
    names, fit = _core_fit(case)
    assert fit.n_obs == case["n_obs"] and fit.n_subjects == 60
    assert fit.llf == pytest.approx(case["logLik"], rel=1e-9)
    assert list(fit.params) == pytest.approx([case["coefficients"][n] for n in names], rel=EST, abs=1e-6)
    assert list(np.sqrt(np.diag(fit.cov_params))) == pytest.approx([case["se"][n] for n in names], rel=EST)
    assert fit.sigma == pytest.approx(np.array(case["sigma_matrix"]), rel=EST)


# ------------------------------------------------------------------ invariants

def test_row_order_does_not_matter():
    shuffled = DATA.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert run(mmrm_input(data=shuffled)).to_dict() == run(mmrm_input()).to_dict()


def test_changing_the_reference_arm_flips_the_difference():
    base = run(mmrm_input()).comparison("UC-MSC")
    flipped = run(mmrm_input(arms=("UC-MSC", "standard", "Paxlovid"))).comparison("standard")
    assert flipped.reference == "UC-MSC"
    assert flipped.estimate == pytest.approx(-base.estimate, rel=1e-6)
    assert flipped.se == pytest.approx(base.se, rel=1e-6)
    assert flipped.df == pytest.approx(base.df, rel=1e-4)
    assert flipped.ci == pytest.approx((-base.ci[1], -base.ci[0]), rel=1e-6)


def test_subjects_with_partial_data_contribute():
    # a subject seen on day 3 only still informs day 14 through the correlation
    subject = DATA.USUBJID.iloc[0]
    partial = DATA.copy()
    partial.loc[(partial.USUBJID == subject) & (partial.DAY > 3), ["CHG", "AVAL"]] = np.nan
    without = partial[partial.USUBJID != subject]
    a, b = run(mmrm_input(data=partial)), run(mmrm_input(data=without))
    assert a.by_arm["standard"]["n_subjects"] == b.by_arm["standard"]["n_subjects"] + 1
    assert a.comparison("UC-MSC").estimate != pytest.approx(b.comparison("UC-MSC").estimate, rel=1e-9)


def test_cs_and_ar1_covariances_have_their_structure():
    d = DATA[DATA.CHG.notna()]
    x = np.column_stack([np.ones(len(d)), (d.ARM == "UC-MSC").to_numpy(float)])
    visit = d.DAY.map({3: 0, 5: 1, 7: 2, 14: 3}).to_numpy()
    cs = fit_mmrm(d.CHG, x, d.USUBJID, visit, 4, "cs").sigma
    off = cs[~np.eye(4, dtype=bool)]
    assert np.allclose(np.diag(cs), cs[0, 0]) and np.allclose(off, off[0])
    ar = fit_mmrm(d.CHG, x, d.USUBJID, visit, 4, "ar1").sigma
    rho = ar[0, 1] / ar[0, 0]
    assert ar[0, 3] / ar[0, 0] == pytest.approx(rho ** 3) and ar[1, 2] / ar[0, 0] == pytest.approx(rho)


def test_log_transform_reports_ratio():
    logs = DATA.assign(CHG=DATA.CHG / 100)
    plain = run(mmrm_input(data=logs)).comparison("UC-MSC")
    ratio = run(AnalysisInput("m", "il6", "change", "mmrm", logs, ARMS, target_day=14,
                              transform="log")).comparison("UC-MSC")
    assert ratio.estimand == "geometric_mean_ratio" and ratio.se is None
    assert ratio.estimate == pytest.approx(np.exp(plain.estimate), rel=1e-12)
    assert ratio.ci == pytest.approx(tuple(np.exp(plain.ci)), rel=1e-12)


def test_mmrm_errors_are_clear():
    with pytest.raises(AnalysisError, match="covariance"):
        run(mmrm_input(covariance="banded"))
    with pytest.raises(AnalysisError, match="target day"):
        run(mmrm_input(target_day=None))
    with pytest.raises(NotEstimable, match=r"\['UC-MSC'\] have no subject"):
        run(mmrm_input(data=DATA[DATA.ARM != "UC-MSC"]))
    with pytest.raises(AnalysisError, match="not in the data"):
        run(mmrm_input(covariates=["WEIGHT"]))


def test_one_visit_day_reduces_to_ancova():
    # one day, one variance: REML GLS is least squares and Satterthwaite df is n - p
    day14 = DATA[DATA.DAY == 14]
    mmrm = run(mmrm_input(data=day14)).comparison("UC-MSC")
    ancova = run(AnalysisInput("a", "pf", "change", "ancova", day14, ARMS)).comparison("UC-MSC")
    assert mmrm.estimate == pytest.approx(ancova.estimate, rel=1e-8)
    assert mmrm.se == pytest.approx(ancova.se, rel=1e-6)
    assert mmrm.df == pytest.approx(ancova.df, rel=1e-4)


def test_arm_without_data_on_a_day():
    d = DATA.copy()
    d.loc[(d.ARM == "Paxlovid") & (d.DAY == 5), "CHG"] = np.nan
    r = run(mmrm_input(data=d))
    assert r.comparison("Paxlovid").estimate is not None          # day 14 is still estimable
    assert "5" not in r.by_arm["Paxlovid"]["lsmeans"] and "5" in r.by_arm["standard"]["lsmeans"]
    assert any("ARMPaxlovid:DAY5" in n for n in r.notes)
    with pytest.raises(NotEstimable, match="target day 5"):
        run(mmrm_input(data=d, target_day=5))

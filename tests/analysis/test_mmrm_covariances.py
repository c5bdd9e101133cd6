"""The heterogeneous MMRM covariances against nlme::gls + emmeans
(tests/reference/mmrm/mmrm.R), and the SAP's list of covariances tried in order.

"toeplitz" (heterogeneous Toeplitz, SAS TOEPH) is checked against gls with
corARMA(p = T - 1) and varIdent, which spans the same covariances (an AR(T - 1)
has every Toeplitz correlation on T positions); mmrm.R checks that claim with its
own REML criterion minimized by optim over the correlations themselves (the
``direct`` entry). "ar1h" against gls with corAR1 and varIdent. Tolerances as
test_mmrm.py (iterative fits; emmeans' df rest on nlme's numerical Hessian).
"""

import json

import numpy as np
import pytest
from scipy.linalg import solve, toeplitz

from conftest import REFERENCE
from test_mmrm import DATA, DF, EST, _core_fit, mmrm_input

from mscstats.analysis import run
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.cores.mmrm import _autocorrelations, fit_first, fit_mmrm
from mscstats.pipeline import run_analysis

REF = json.loads((REFERENCE / "mmrm" / "mmrm.json").read_text())
CASES = REF["mmrm"]
LIST = ("unstructured", "toeplitz", "ar1", "cs")


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_heterogeneous_core_matches_gls(case):
    names, fit = _core_fit(case)
    assert fit.covariance == case["covariance"] and fit.n_obs == case["n_obs"] == 212
    # our optimum is at least nlme's, and within its convergence (msTol 1e-12)
    assert fit.llf == pytest.approx(case["logLik"], rel=1e-9)
    assert fit.llf >= case["logLik"] - 1e-9
    assert list(fit.params) == pytest.approx([case["coefficients"][n] for n in names], rel=EST,
                                             abs=1e-6)
    assert list(np.sqrt(np.diag(fit.cov_params))) == pytest.approx(
        [case["se"][n] for n in names], rel=EST)
    assert fit.sigma == pytest.approx(np.array(case["sigma_matrix"]), rel=EST)
    if "direct" in case:             # R's own REML over Toeplitz correlations: the same optimum
        assert fit.llf == pytest.approx(case["direct"]["logLik"], abs=1e-8)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_heterogeneous_contrasts_match_emmeans(case):
    assert len(case["contrasts"]) == 8
    for day in (3, 5, 7, 14):
        result = run(mmrm_input(case, day))
        assert result.covariance == case["covariance"]
        for ref in [c for c in case["contrasts"] if c["day"] == day]:
            c = result.comparison(ref["arm"])
            assert c.estimate == pytest.approx(ref["estimate"], rel=EST)
            assert c.se == pytest.approx(ref["se"], rel=EST)
            assert c.df == pytest.approx(ref["df"], rel=DF)
            assert list(c.ci) == pytest.approx(ref["ci"], rel=EST, abs=1e-3)
            assert c.p_value == pytest.approx(ref["p_value"], abs=1e-5)


# ------------------------------------------------------------------ structure invariants

def test_durbin_levinson_gives_the_partial_autocorrelations():
    pacf = np.array([0.7, -0.4, 0.25, 0.1])
    rho = np.array(_autocorrelations(pacf))
    assert rho[0] == 1 and np.all(np.linalg.eigvalsh(toeplitz(rho)) > 0)
    for m in range(1, 5):                 # Yule-Walker's last coefficient of order m
        assert solve(toeplitz(rho[:m]), rho[1:m + 1])[-1] == pytest.approx(pacf[m - 1], rel=1e-12)


def fitted_sigma(covariance):
    d = DATA[DATA.CHG.notna()]
    x = np.column_stack([np.ones(len(d)), (d.ARM == "UC-MSC").to_numpy(float)])
    visit = d.DAY.map({3: 0, 5: 1, 7: 2, 14: 3}).to_numpy()
    return fit_mmrm(d.CHG, x, d.USUBJID, visit, 4, covariance).sigma


def test_toeplitz_and_ar1h_have_their_structure():
    for name in ("toeplitz", "ar1h"):
        sigma = fitted_sigma(name)
        sd = np.sqrt(np.diag(sigma))
        corr = sigma / np.outer(sd, sd)
        assert np.ptp(sd) > 1.0                                  # one variance per visit
        for lag in range(1, 4):
            band = np.diagonal(corr, lag)
            assert band == pytest.approx(np.full(len(band), band[0]), rel=1e-10)
        if name == "ar1h":
            rho = corr[0, 1]
            assert corr[0, 3] == pytest.approx(rho ** 3) and corr[0, 2] == pytest.approx(rho ** 2)
        else:                                                    # not an AR(1)
            assert abs(corr[0, 2] - corr[0, 1] ** 2) > 0.01


def test_a_one_visit_toeplitz_is_least_squares():
    day14 = DATA[DATA.DAY == 14]
    plain = run(mmrm_input(data=day14)).comparison("UC-MSC")
    toep = run(mmrm_input(data=day14, covariance="toeplitz")).comparison("UC-MSC")
    assert toep.estimate == pytest.approx(plain.estimate, rel=1e-8)
    assert toep.se == pytest.approx(plain.se, rel=1e-6)


# ------------------------------------------------------------------ the list, in order

def few_subjects(k):
    ids = DATA.USUBJID.unique()
    return DATA[DATA.USUBJID.isin(np.r_[ids[:k], ids[20:20 + k], ids[40:40 + k]])]


def test_the_first_structure_that_converges_is_used():
    result = run(mmrm_input(covariance=LIST))
    assert result.covariance == "unstructured" and result.to_dict()["covariance"] == "unstructured"
    assert result.to_dict() == {**run(mmrm_input()).to_dict(), "options": result.to_dict()[
        "options"], "notes": result.to_dict()["notes"]}
    assert any("the first of unstructured, toeplitz, ar1, cs" in n for n in result.notes)


def test_a_structure_that_does_not_converge_gives_way_to_the_next():
    # 9 subjects, 31 values: neither REML fit of 10 or 7 covariance parameters converges
    data = few_subjects(3)
    result = run(mmrm_input(data=data, covariance=LIST))
    assert result.covariance == "ar1"
    assert "covariance unstructured not used: the REML fit did not converge" in result.notes
    assert "covariance toeplitz not used: the REML fit did not converge" in result.notes
    alone = run(mmrm_input(data=data, covariance="ar1"))
    assert result.comparison("UC-MSC") == alone.comparison("UC-MSC")
    with pytest.raises(NotEstimable, match="did not converge"):
        run(mmrm_input(data=data, covariance="unstructured"))


def test_a_list_without_a_converging_structure_is_not_estimable_naming_each():
    data = few_subjects(2)                            # 20 values, 16 coefficients
    result = run_analysis(mmrm_input(data=data, covariance=("unstructured", "toeplitz")))
    assert result.status == "not_estimable" and result.covariance is None
    assert result.reason == ("the MMRM cannot be fitted: no covariance tried converges: "
                             "unstructured: too few observations for this covariance structure; "
                             "toeplitz: too few observations for this covariance structure")
    assert "covariance" not in result.to_dict()
    assert run(mmrm_input(data=data, covariance=LIST)).covariance == "ar1"


def test_fit_first_reports_the_failures_before_the_fit():
    d = few_subjects(3)
    d = d[d.CHG.notna()]
    x = np.column_stack([np.ones(len(d)), (d.ARM == "UC-MSC").to_numpy(float)])
    visit = d.DAY.map({3: 0, 5: 1, 7: 2, 14: 3}).to_numpy()
    fit, failed = fit_first(d.CHG, x, d.USUBJID, visit, 4, ("cs", "unstructured"))
    assert fit.covariance == "cs" and failed == ()

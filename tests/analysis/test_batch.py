"""The vectorized statistics agree, replicate by replicate, with scalar references:
R (tests/reference/permutation/statistics.json), scipy, statsmodels, lifelines and
plain loops written out below."""

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import statsmodels.api as sm

from mscstats.analysis.batch import kernels as batch
from conftest import TESTS

REFERENCE = json.loads((TESTS / "reference" / "permutation" /
                        "statistics.json").read_text())
RTOL, ATOL = 1e-10, 1e-12


def close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=ATOL)


# ------------------------------------------------------------ scalar references

def loop_score(time, event, treated, strata=None, ties="exact"):
    """O - E and variance by a plain loop over strata and distinct event times.
    ties = "exact" is survdiff's hypergeometric variance; "breslow"/"efron" as coxph."""
    strata = np.zeros(len(time)) if strata is None else strata
    score = variance = 0.0
    for s in np.unique(strata):
        ins = strata == s
        for t in np.unique(time[ins & (event == 1)]):
            at_risk = ins & (time >= t)
            dies = at_risk & (time == t) & (event == 1)
            n, n1 = at_risk.sum(), (at_risk & treated).sum()
            d, d1 = dies.sum(), (dies & treated).sum()
            if ties == "efron":
                for k in range(d):
                    p = (n1 - k * d1 / d) / (n - k)
                    score += d1 / d - p
                    variance += p * (1 - p)
                continue
            p = n1 / n
            score += d1 - d * p
            if ties == "breslow":
                variance += d * p * (1 - p)
            elif n > 1:
                variance += d * p * (1 - p) * (n - d) / (n - 1)
    return score, variance


def survival_replicates(seed=11, b=50, n=24):
    """Heavy ties (study days 1..5), two strata, a few all-censored replicates."""
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 6, size=(b, n)).astype(float)
    event = rng.random((b, n)) < 0.6
    event[:3] = False                              # all censored
    event[3, :] = True                             # no censoring at all
    treated = rng.permuted(np.tile(np.arange(n) % 2 == 1, (b, 1)), axis=1)
    treated[4] = np.arange(n) < 3                  # very unequal arms
    strata = rng.integers(0, 2, size=(b, n))
    return time, event, treated, strata


# ------------------------------------------------------------ survival

@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("ties", ["exact", "breslow", "efron"])
def test_score_tests_match_a_plain_loop(stratified, ties):
    time, event, treated, strata = survival_replicates()
    strata = strata if stratified else None
    if ties == "exact":
        got = batch.logrank_batch(time, event, treated, strata)
    else:
        got = batch.cox_score_batch(time, event, treated, strata, ties=ties)
    expected = np.array([loop_score(time[i], event[i], treated[i],
                                    None if strata is None else strata[i], ties)
                         for i in range(len(time))])
    close(got.score, expected[:, 0])
    close(got.variance, expected[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(expected[:, 1] > 0, expected[:, 0] ** 2 / expected[:, 1], 0.0)
    close(got.chi2, chi2)
    assert (got.chi2[:3] == 0).all() and (got.variance[:3] == 0).all()   # all censored


def test_logrank_matches_lifelines():
    from lifelines.statistics import logrank_test
    time, event, treated, _ = survival_replicates(seed=5)
    got = batch.logrank_batch(time, event, treated).chi2
    for i in range(3, len(time)):                     # lifelines needs an event
        t, e, a = time[i], event[i], treated[i]
        ref = logrank_test(t[a], t[~a], e[a], e[~a]).test_statistic
        close(got[i], ref)


@pytest.mark.parametrize("name", list(REFERENCE["survival"]))
def test_survival_statistics_match_r(name):
    case = REFERENCE["survival"][name]
    d, ref = case["data"], case["reference"]
    time, event = np.array(d["time"]), np.array(d["event"])
    arm, strata = np.array(d["arm"]), np.array(d["stratum"])
    lr = batch.logrank_batch(time, event, arm, strata)
    close(lr.chi2, ref["logrank_chi2"])
    close(lr.score, ref["logrank_o_minus_e"])
    close(lr.variance, ref["logrank_variance"])
    close(lr.chi2, ref["cox_score_exact"])           # survdiff = score test of ties = "exact"
    for ties in ("efron", "breslow"):
        close(batch.cox_score_batch(time, event, arm, strata, ties=ties).chi2,
              ref[f"cox_score_{ties}"])


def test_five_subject_logrank_by_hand():
    # reference dies at days 1 and 3; treated dies at 2 and 5, one treated censored at 4.
    # day 1: n 5, n1 3, E1 3/5, V 6/25; day 2: n 4, n1 3, E1 3/4, V 3/16;
    # day 3: n 3, n1 2, E1 2/3, V 2/9; day 5: n 1, n1 1, E1 1, V 0.
    time = np.array([1, 3, 2, 4, 5])
    event = np.array([1, 1, 1, 0, 1])
    treated = np.array([0, 0, 1, 1, 1])
    o_minus_e = 2 - (Fraction(3, 5) + Fraction(3, 4) + Fraction(2, 3) + 1)
    v = Fraction(6, 25) + Fraction(3, 16) + Fraction(2, 9)
    got = batch.logrank_batch(time, event, treated)
    close(got.score, float(o_minus_e))
    close(got.variance, float(v))
    close(got.chi2, float(o_minus_e ** 2 / v))       # 3721 / 2339


def test_tied_deaths_by_hand():
    # two deaths among four at risk (two per arm), one per arm: p = 1/2.
    # survdiff V = 2 (1/2)(1/2)(2/3) = 1/3; Breslow 2 (1/2)(1/2) = 1/2;
    # Efron p_0 = 2/4, p_1 = (2 - 1/2)/3 = 1/2, score 1 - 1 = 0, variance 1/2.
    time, event = np.array([1, 1, 2, 2]), np.array([1, 1, 0, 0])
    treated = np.array([0, 1, 0, 1])
    close(batch.logrank_batch(time, event, treated).variance, 1 / 3)
    close(batch.cox_score_batch(time, event, treated, ties="breslow").variance, 0.5)
    efron = batch.cox_score_batch(time, event, treated, ties="efron")
    close([efron.score, efron.variance], [0.0, 0.5])


def test_shared_time_broadcasts_and_equals_per_replicate_time():
    time, event, treated, strata = survival_replicates(seed=3)
    t0, e0, s0 = time[7], event[7], strata[7]
    shared = batch.logrank_batch(t0, e0, treated, s0)
    tiled = batch.logrank_batch(np.tile(t0, (50, 1)), np.tile(e0, (50, 1)), treated,
                                np.tile(s0, (50, 1)))
    close(shared.chi2, tiled.chi2)
    efron = batch.cox_score_batch(np.broadcast_to(t0, treated.shape), e0, treated, s0)
    close(efron.chi2, batch.cox_score_batch(t0, e0, treated, s0).chi2)
    one = batch.logrank_batch(t0, e0, treated[0], s0)   # all 1-D: a scalar
    assert np.ndim(one.chi2) == 0
    close(one.chi2, shared.chi2[0])


def test_survival_invariants():
    time, event, treated, strata = survival_replicates(seed=8)
    order = np.random.default_rng(1).permutation(time.shape[1])
    base = batch.logrank_batch(time, event, treated, strata)
    shuffled = batch.logrank_batch(time[:, order], event[:, order], treated[:, order],
                                   strata[:, order])
    close(shuffled.chi2, base.chi2)
    swapped = batch.logrank_batch(time, event, ~treated, strata)
    close(swapped.chi2, base.chi2)
    close(swapped.score, -base.score)
    # stratum codes are labels: renaming them changes nothing
    close(batch.logrank_batch(time, event, treated, 10 - 3 * strata).chi2, base.chi2)


def test_survival_input_errors():
    with pytest.raises(ValueError, match="0 \\(censored\\) or 1"):
        batch.logrank_batch([1, 2], [1, 2], [0, 1])
    with pytest.raises(ValueError, match="arm labels"):
        batch.logrank_batch([1, 2], [1, 1], [0, 2])
    with pytest.raises(ValueError, match="ties"):
        batch.cox_score_batch([1, 2], [1, 1], [0, 1], ties="exact")
    with pytest.raises(ValueError, match="shape"):
        batch.logrank_batch([1, 2, 3], [1, 1], [0, 1])


# ------------------------------------------------------------ two-sample statistics

def two_sample_replicates(seed=2, b=50, n=21, ties=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, size=(b, n)).astype(float) if ties else rng.normal(50, 10, (b, n))
    treated = rng.permuted(np.tile(np.arange(n) < 9, (b, 1)), axis=1)
    return y, treated


@pytest.mark.parametrize("ties", [True, False])
def test_wilcoxon_matches_scipy(ties):
    y, treated = two_sample_replicates(ties=ties)
    got = batch.wilcoxon_batch(y, treated)
    for i in range(len(y)):
        a, b = y[i][treated[i]], y[i][~treated[i]]
        ref = scipy.stats.mannwhitneyu(a, b, method="asymptotic", use_continuity=True)
        close(got.w[i], ref.statistic)
        close(2 * scipy.stats.norm.sf(abs(got.z[i])), ref.pvalue)


def test_welch_matches_scipy():
    y, treated = two_sample_replicates(ties=False)
    got = batch.welch_t_batch(y, treated)
    for i in range(len(y)):
        a, b = y[i][treated[i]], y[i][~treated[i]]
        ref = scipy.stats.ttest_ind(a, b, equal_var=False)
        close([got.t[i], got.df[i], got.estimate[i]], [ref.statistic, ref.df, a.mean() - b.mean()])


def test_mean_and_risk_difference_match_group_means():
    y, treated = two_sample_replicates()
    binary = (y > 2).astype(int)
    for values, fn in ((y, batch.mean_difference_batch), (binary, batch.risk_difference_batch)):
        got = fn(values, treated)
        expected = [values[i][treated[i]].mean() - values[i][~treated[i]].mean()
                    for i in range(len(y))]
        close(got, expected)
    with pytest.raises(ValueError, match="0 or 1"):
        batch.risk_difference_batch(y, treated)


@pytest.mark.parametrize("shared_covariates", [True, False])
def test_ancova_matches_statsmodels(shared_covariates):
    y, treated = two_sample_replicates(ties=False)
    rng = np.random.default_rng(4)
    b, n = y.shape
    cov = rng.normal(size=(n, 2)) if shared_covariates else rng.normal(size=(b, n, 2))
    got = batch.ancova_batch(y, treated, cov)
    for i in range(b):
        x = cov if shared_covariates else cov[i]
        fit = sm.OLS(y[i], np.column_stack([np.ones(n), treated[i], x])).fit()
        close([got.estimate[i], got.se[i], got.t[i], got.df[i]],
              [fit.params[1], fit.bse[1], fit.tvalues[1], fit.df_resid])


def test_ancova_without_covariates_is_the_pooled_t():
    y, treated = two_sample_replicates(ties=False)
    got = batch.ancova_batch(y, treated)
    ref = scipy.stats.ttest_ind(y[:, None][treated[:, None]].reshape(50, -1),
                                y[~treated].reshape(50, -1), axis=1)
    close(got.t, ref.statistic)


def test_ancova_collinear_arm_and_covariates():
    y = np.arange(8.0)
    sex = np.array([0, 0, 0, 0, 1, 1, 1, 1.0])
    labels = np.array([sex, np.roll(sex, 1)]).astype(bool)
    got = batch.ancova_batch(y, labels, sex)
    assert np.isnan(got.t[0]) and np.isfinite(got.t[1])
    with pytest.raises(ValueError, match="collinear"):
        batch.ancova_batch(y, labels, np.column_stack([sex, 2 * sex]))
    with pytest.raises(ValueError, match="degrees of freedom"):
        batch.ancova_batch(y[:4], labels[:, :4], np.array([[1, 0], [3, 2], [2, 5], [0, 7.0]]))


@pytest.mark.parametrize("name", list(REFERENCE["two_sample"]))
def test_two_sample_statistics_match_r(name):
    case = REFERENCE["two_sample"][name]
    d, ref = case["data"], case["reference"]
    y, arm = np.array(d["y"], dtype=float), np.array(d["arm"])
    cov = np.column_stack([d["base"], d["age"]])
    w = batch.wilcoxon_batch(y, arm)
    close(w.w, ref["wilcoxon_w"])
    close(2 * scipy.stats.norm.sf(abs(w.z)), ref["wilcoxon_p_normal"])
    welch = batch.welch_t_batch(y, arm)
    close([welch.t, welch.df], [ref["welch_t"], ref["welch_df"]])
    close(batch.mean_difference_batch(y, arm), ref["mean_difference"])
    fit = batch.ancova_batch(y, arm, cov)
    close([fit.estimate, fit.se, fit.t], [ref["ancova_estimate"], ref["ancova_se"],
                                         ref["ancova_t"]])


def test_two_sample_broadcasting_and_invariants():
    y, treated = two_sample_replicates(ties=True)
    y0 = y[0]
    ro = np.broadcast_to(y0, y.shape)                 # a read-only view: nothing is copied
    for fn in (batch.mean_difference_batch, lambda v, t: batch.wilcoxon_batch(v, t).w,
               lambda v, t: batch.welch_t_batch(v, t).t, lambda v, t: batch.ancova_batch(v, t).t):
        close(fn(y0, treated), fn(ro, treated))
        order = np.random.default_rng(0).permutation(y.shape[1])
        close(fn(y0[order], treated[:, order]), fn(y0, treated))
    close(batch.mean_difference_batch(y0, ~treated), -batch.mean_difference_batch(y0, treated))
    w = batch.wilcoxon_batch(y0, treated).w
    close(batch.wilcoxon_batch(y0, ~treated).w, 9 * 12 - w)   # W + W' = n1 n0
    assert np.ndim(batch.welch_t_batch(y0, treated[0]).t) == 0


def test_hodges_lehmann_by_hand():
    # differences treated - reference: 3-1, 3-2, 5-1, 5-2 = 2, 1, 4, 3 -> median 2.5
    assert batch.hodges_lehmann([1, 2, 3, 5], [0, 0, 1, 1]) == 2.5

"""Numerical edges: each crash the stress sweep found, with the
smallest data that reproduced it, and what R gives there where R has an answer
(tests/reference/edges/edges.R writes tests/reference/edges/edges.json).

An analysis that cannot be computed is not estimable, with its reason, and never
stops the run (DESIGN.md section 6); an infinite estimate is a value ("Infinity").
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.cores.common import NotEstimable, exp_or_inf
from mscstats.analysis.cores.cox import cox_fit
from mscstats.analysis.cores.cuminc import cumulative_incidence, loglog_interval
from mscstats.analysis.cores.gray import gray_test
from mscstats.analysis.models import LinearFit
from mscstats.analysis.multiplicity import adjust_family
from mscstats.analysis.cores.ordinal import brant
from mscstats.cli import main
from mscstats.pipeline import run_analysis
from mscstats.results import AnalysisResult, Comparison, dumps_json
from conftest import CLOSED, ITERATIVE, ROOT, TESTS

EDGES = json.loads((TESTS / "reference" / "edges" / "edges.json").read_text())["cases"]


def frame(case: dict) -> pd.DataFrame:
    d = pd.DataFrame(case["data"])
    return d.assign(USUBJID=[f"S{i:02d}" for i in range(len(d))])


def analysis(method, data, arms, options=None, kind="time_to_event", **kw) -> AnalysisInput:
    return AnalysisInput("x", "ep", kind, method, data, tuple(arms), options or {}, **kw)


def no_warnings(func, *args):
    """func(*args) with every warning an error (a numpy RuntimeWarning would leak to
    the user's stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args)


# ------------------------------------------------------------------ Cox: events in one arm

def test_cox_with_every_event_in_one_arm_matches_coxph_and_is_not_estimable():
    """n = 6 (OverflowError and ZeroDivisionError): coxph runs out of
    iterations with the coefficient diverging; its likelihood-ratio and score tests
    are finite. mscstats flags the coefficient as possibly infinite (the HR is not
    estimable, with coxph's reason) and agrees on the tests."""
    ref = EDGES["cox_events_in_one_arm"]
    d = frame(ref)
    x = (d["ARM"] == "UC-MSC").to_numpy(float)[:, None]
    fit = no_warnings(cox_fit, d["AVAL"], d["CNSR"] == 0, x, ["ARMUC-MSC"])
    assert fit.infinite == ("ARMUC-MSC",)
    assert fit.llnull == pytest.approx(ref["loglik"][0], rel=CLOSED)
    assert fit.llf == pytest.approx(ref["loglik"][1], rel=ITERATIVE)
    assert fit.score.statistic == pytest.approx(ref["score"], rel=CLOSED)
    assert fit.likelihood_ratio.statistic == pytest.approx(ref["likelihood_ratio"], rel=ITERATIVE)
    assert ref["warnings"]                          # coxph warned too
    for method in ("logrank", "cox"):
        r = no_warnings(run, analysis(method, d, ["control", "UC-MSC"]))
        hr = r.comparison("UC-MSC")
        assert hr.estimate is None and hr.ci == (None, None)
        assert any("may be infinite" in n for n in r.notes)


def test_cox_separated_three_arms_matches_coxph_tests_without_nan():
    """Six subjects, three arms and AGE: the likelihood is monotone in every
    coefficient. It used to end in NaN (a rejected step taken anyway) and overflow
    warnings; now every coefficient is flagged and the tests match coxph."""
    ref = EDGES["cox_three_arms_separated"]
    d = frame(ref)
    x = np.column_stack([(d["ARM"] == "Paxlovid"), (d["ARM"] == "UC-MSC"), d["AGE"]]).astype(float)
    fit = no_warnings(cox_fit, d["AVAL"], d["CNSR"] == 0, x, ref["names"])
    assert set(fit.infinite) == set(ref["names"])
    assert "one or more coefficients may be infinite" in ref["warnings"]
    assert fit.score.statistic == pytest.approx(ref["score"], rel=CLOSED)
    assert fit.likelihood_ratio.statistic == pytest.approx(ref["likelihood_ratio"], rel=ITERATIVE)
    r = no_warnings(run, analysis("cox", d, ["standard", "Paxlovid", "UC-MSC"],
                                  {"covariates": ("AGE",)}))
    assert all(c.estimate is None for c in r.comparisons)


def test_cox_limit_beyond_the_float_range_is_infinite_not_an_overflow():
    """Four subjects, three arms and AGE (n = 4): the Wald upper limit of
    UC-MSC is exp(1.87 + 1.96 x 158981), beyond the float range: it is infinite."""
    d = pd.DataFrame({"USUBJID": ["a", "b", "c", "d"], "AVAL": [10.0, 14.0, 10.0, 7.0],
                      "CNSR": 0.0, "AGE": [55.0, 48.0, 54.0, 62.0],
                      "ARM": ["standard", "standard", "Paxlovid", "UC-MSC"]})
    r = no_warnings(run, analysis("cox", d, ["standard", "Paxlovid", "UC-MSC"],
                                  {"covariates": ("AGE",)}))
    msc = r.comparison("UC-MSC")
    assert msc.ci[1] == math.inf and 0 < msc.estimate < math.inf
    assert '"Infinity"' in dumps_json(r)
    assert exp_or_inf(710.0) == math.inf and exp_or_inf(1.0) == math.e


# ------------------------------------------------------------------ cumulative incidence

def test_incidence_of_every_subject_matches_cuminc_and_its_interval_does_not_overflow():
    """Ten events on ten days in arm A: 0.1 summed ten times is 0.9999999999999999,
    where F log F is -1.1e-16 and the log-log exponent overflowed. The
    estimates and variances are cuminc's; the limits there are exactly 0 and 1, what
    R's exp(-exp(log(-log F) +- z se / log F)) gives in IEEE arithmetic."""
    ref = EDGES["cuminc_every_subject_has_the_event"]
    d = frame(ref)
    for g, group in enumerate(ref["groups"][:2]):
        rows = d[d["ARM"] == group]
        curve = cumulative_incidence(rows["AVAL"], rows["EVNTCD"].astype(int))
        for day, est, var in zip(ref["days"], ref["estimate"][g], ref["variance"][g]):
            if est is None:
                continue
            i = np.searchsorted(curve.time, day, side="right") - 1
            assert curve.estimate[i] == pytest.approx(est, rel=CLOSED, abs=1e-12)
            assert curve.variance[i] == pytest.approx(var, rel=CLOSED, abs=1e-12)
    a = d[d["ARM"] == "A"]
    last = cumulative_incidence(a["AVAL"], a["EVNTCD"].astype(int)).estimate[-1]
    assert last == 0.9999999999999999
    assert no_warnings(loglog_interval, last, 0.01, 0.95) == (0.0, 1.0)
    r = no_warnings(run, analysis("cuminc", d, ["A", "B"], {"landmarks": (5, 10)}))
    assert r.test("gray").statistic == pytest.approx(ref["gray"]["statistic"], rel=ITERATIVE)
    assert r.curves[0].upper[-1] == 1.0 and r.curves[0].lower[-1] == 0.0


@pytest.mark.parametrize("estimate, variance, expected", [
    (0.0, 0.0, (None, None)),          # no event yet: survfit's NA
    (1.0, 0.01, (None, None)),         # every subject had it, exactly 1: NA
    (0.4, 0.0, (0.4, 0.4)),            # variance 0: the interval is the point
    (1e-300, 1e-4, (0.0, 1.0)),        # within rounding of 0: exactly 0 and 1
])
def test_loglog_interval_at_its_boundaries(estimate, variance, expected):
    assert no_warnings(loglog_interval, estimate, variance, 0.95) == expected


def test_gray_when_the_pooled_incidence_reaches_1_matches_cuminc_in_any_group_order():
    """Four subjects, each with the event ("SVD did not converge" at n = 4):
    after day 11 only UC-MSC has a subject at risk while the pooled incidence is 1;
    Fortran's 0/0 there is never read in cmprsk's group order, and is no increment
    here, so the statistic is cuminc's whichever group sorts first."""
    ref = EDGES["gray_pooled_incidence_reaches_1"]
    d = frame(ref)
    for labels in (d["ARM"], d["ARM"].map({"control": "b", "UC-MSC": "A"})):
        g = no_warnings(gray_test, d["AVAL"], d["EVNTCD"].astype(int), labels.to_numpy())
        assert g.statistic == pytest.approx(ref["gray"]["statistic"], rel=ITERATIVE)
        assert g.p_value == pytest.approx(ref["gray"]["p_value"], abs=CLOSED)


# ------------------------------------------------------------------ Fine-Gray

def test_finegray_with_se_zero_is_not_estimable():
    """Two subjects, both with the event on day 5 (ZeroDivisionError at
    n = 2): crr returns se 0 and a NaN z; the ratio is not estimable with the reason."""
    ref = EDGES["crr_se_zero"]
    assert ref["se"] == 0 and ref["z"] is None
    r = no_warnings(run, analysis("finegray", frame(ref), ["control", "UC-MSC"]))
    c = r.comparison("UC-MSC")
    assert c.estimate is None and c.p_value is None
    assert any("SE is 0" in n for n in r.notes)


# ------------------------------------------------------------------ RMST

@pytest.mark.parametrize("name", ["rmst_no_event_before_tau", "rmst_se_zero_with_a_difference"])
def test_rmst_with_both_se_zero_still_reports_difference_and_ratio(name):
    """survfit's rmean and se(rmean) = 0 in both arms: the difference and the ratio are
    exact; they are reported with SE 0 and no p-value, and a note."""
    ref = EDGES[name]
    r = no_warnings(run, analysis("rmst", frame(ref), ref["arms"], {"tau": ref["tau"]}))
    for arm, rmean, se in zip(ref["arms"], ref["rmean"], ref["se"]):
        assert r.by_arm[arm]["rmst"] == pytest.approx(rmean, rel=CLOSED)
        assert r.by_arm[arm]["rmst_se"] == pytest.approx(se, abs=1e-12)
    difference = [c for c in r.comparisons if c.estimand == "rmst_difference"][0]
    ratio = [c for c in r.comparisons if c.estimand == "rmst_ratio"][0]
    assert difference.estimate == pytest.approx(ref["rmean"][1] - ref["rmean"][0], abs=1e-12)
    assert ratio.estimate == pytest.approx(ref["rmean"][1] / ref["rmean"][0], rel=CLOSED)
    assert difference.se == 0 and difference.p_value is None and ratio.p_value is None
    assert difference.ci == (difference.estimate, difference.estimate)
    assert any("SE 0" in n for n in r.notes)


# ------------------------------------------------------------------ Brant

def _who_counts(ref) -> tuple[np.ndarray, np.ndarray]:
    y, arm = [], []
    for row in ref["counts"]:
        for category, n in zip(row["categories"], row["n"]):
            y += [float(category)] * int(n)
            arm += [row["arm"]] * int(n)
    return np.array(y), np.array(arm, dtype=object)


def test_brant_with_a_category_seen_once_is_not_estimable_and_the_odds_ratio_stays():
    """WHO category 8 seen once, in one arm (LinAlgError in 43 simulated
    three-arm trials): the covariance of the cut differences is singular (R's smallest
    eigenvalue is 4e-16 of the largest); the Brant test is not estimable, the common
    odds ratio is reported."""
    ref = EDGES["brant_category_seen_once"]
    assert ref["smallest_relative_eigenvalue"] < 1e-12
    y, arm = _who_counts(ref)
    x = np.column_stack([arm == a for a in ref["arms"][1:]]).astype(float)
    with pytest.raises(NotEstimable, match="singular"):
        brant(y, x)
    d = pd.DataFrame({"USUBJID": [f"S{i:03d}" for i in range(len(y))], "ARM": arm, "AVAL": y})
    r = no_warnings(run, analysis("ordinal_po", d, ref["arms"], kind="ordinal"))
    assert r.test("brant").statistic is None
    assert any("Brant test" in n and "singular" in n for n in r.notes)
    assert all(c.estimate is not None and c.p_value is not None for c in r.comparisons)


def test_brant_singular_binary_information_is_not_estimable():
    y = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    x = np.zeros((6, 1))                        # a covariate without variation
    with pytest.raises(NotEstimable):
        brant(y, x)


# ------------------------------------------------------------------ ANCOVA exact fit

def test_ancova_without_residual_df_or_variance_is_not_estimable_with_a_reason():
    """Three analysable subjects (ZeroDivisionError on an exact fit): with
    arm and BASE there is no residual df; with a fourth subject on the same line the
    residual variance is 0 and the estimate has no SE."""
    three = pd.DataFrame({"USUBJID": ["a", "b", "c"], "ARM": ["control", "control", "MSC"],
                          "BASE": [100.0, 120.0, 110.0], "CHG": [10.0, 30.0, 5.0]})
    r = no_warnings(run, analysis("ancova", three, ["control", "MSC"], kind="change"))
    assert r.comparison("MSC").estimate is None
    assert any("no residual degrees of freedom" in n for n in r.notes)
    exact = pd.DataFrame({"USUBJID": list("abcde"), "ARM": ["control"] * 3 + ["MSC"] * 2,
                          "BASE": [100.0, 120.0, 140.0, 110.0, 130.0]})
    exact["CHG"] = 0.5 * exact["BASE"] - 40.0 + 7.0 * (exact["ARM"] == "MSC")
    r = no_warnings(run, analysis("ancova", exact, ["control", "MSC"], kind="change"))
    # the residuals are rounding (about 1e-15): R's summary.lm warns "essentially perfect
    # fit"; the estimate stands, a note says its SE means nothing
    assert r.comparison("MSC").estimate == pytest.approx(7.0, rel=1e-12)
    assert any("essentially perfect fit" in n for n in r.notes)
    # three subjects, no BASE, equal control values: one residual df, residuals of
    # rounding size; the same note
    equal = pd.DataFrame({"USUBJID": ["a", "b", "c"], "ARM": ["control", "control", "MSC"],
                          "CHG": [5.0, 5.0, 9.0]})
    r = no_warnings(run, analysis("ancova", equal, ["control", "MSC"], kind="change"))
    assert r.comparison("MSC").estimate == pytest.approx(4.0, rel=1e-12)
    assert any("essentially perfect fit" in n for n in r.notes)
    # a residual variance of exactly 0 (the ZeroDivisionError): not estimable, with why
    fit = LinearFit(("ARMMSC",), np.array([7.0]), np.array([0.0]), 2)
    with pytest.raises(NotEstimable, match="residual variance 0"):
        fit.effect("ARMMSC", 0.95)


# ------------------------------------------------------------------ log ratios

def test_a_log_ratio_beyond_the_float_range_is_infinite():
    """cytokine_ratio = 1e300 made IL-6 logs differ by ~690 (OverflowError in
    ratio_scale): the geometric mean ratio and its limits are infinite, not a crash."""
    d = pd.DataFrame({"USUBJID": list("abcdef"), "ARM": ["control"] * 3 + ["MSC"] * 3,
                      "AVAL": [1.0, 1.5, 2.0, 801.0, 800.0, 802.5]})
    r = no_warnings(run, analysis("welch", d, ["control", "MSC"], kind="value", transform="log"))
    c = r.comparison("MSC")
    assert c.estimate == math.inf and c.ci[1] == math.inf
    assert '"estimate": "Infinity"' in dumps_json(c)


# ------------------------------------------------------------------ MMRM

def test_mmrm_that_does_not_converge_is_a_not_estimable_entry():
    """The REML fit that does not converge (exit 1 with no results) is an
    analysis entry with status not_estimable and the reason."""
    d = pd.DataFrame({"USUBJID": ["a", "a", "b", "b", "c", "c", "d", "d"],
                      "ARM": ["control"] * 4 + ["MSC"] * 4, "DAY": [7, 14] * 4,
                      "BASE": [100.0] * 2 + [120.0] * 2 + [110.0] * 2 + [130.0] * 2,
                      "CHG": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0]})
    r = no_warnings(run_analysis, AnalysisInput("m", "pf", "change", "mmrm", d,
                                                ("control", "MSC"), target_day=14))
    assert r.status == "not_estimable" and "MMRM cannot be fitted" in r.reason
    out = json.loads(dumps_json(r))
    assert out["status"] == "not_estimable" and out["comparisons"] == []


def test_run_analysis_names_a_numerical_failure_and_lets_bugs_through():
    inp = AnalysisInput("x", "ep", "value", "welch", pd.DataFrame(), ("a", "b"))

    def singular(_):
        raise np.linalg.LinAlgError("Singular matrix")

    def bug(_):
        raise TypeError("a bug")
    r = run_analysis(inp, singular)
    assert r.status == "not_estimable"
    assert r.reason == "numerical failure: LinAlgError: Singular matrix"
    with pytest.raises(TypeError):
        run_analysis(inp, bug)


# ------------------------------------------------------------------ results.json

def test_estimable_entries_keep_their_json_and_not_estimable_ones_say_why():
    ok = AnalysisResult("a", "ep", "welch", {"x": {"n": 1}})
    assert "status" not in json.loads(dumps_json(ok)) and "reason" not in json.loads(dumps_json(ok))
    bad = AnalysisResult.not_estimable("b", "ep", "welch", "an arm has no subjects")
    out = json.loads(dumps_json(bad))
    assert out["status"] == "not_estimable" and out["reason"] == "an arm has no subjects"
    assert "not estimable: an arm has no subjects" in str(bad)
    assert bad.to_frame()["reason"].tolist() == ["an arm has no subjects"]


def test_infinities_are_strings_and_nan_is_null():
    c = Comparison("MSC", "control", "odds_ratio", math.inf, (7.66, math.inf), 0.95,
                   p_value=math.nan)
    out = json.loads(dumps_json(c))
    assert out["estimate"] == "Infinity" and out["ci"] == [7.66, "Infinity"]
    assert out["p_value"] is None
    assert json.loads(dumps_json(-math.inf)) == "-Infinity"


# ------------------------------------------------------------------ multiplicity

def test_a_family_member_that_is_not_estimable_counts_as_not_rejected():
    primary = AnalysisResult("primary", "ep", "ancova", {}, comparisons=(
        Comparison("MSC", "control", "mean_difference", 1.0, (0.1, 2.0), 0.95, p_value=0.01),))
    second = AnalysisResult.not_estimable("second", "ep2", "logrank", "no events")
    out = adjust_family([primary, second], ["primary", "second"], "holm",
                        arms=("control", "MSC"))
    assert out[0].comparisons[0].p_adjusted == pytest.approx(0.02)    # m stays 2
    note = [n for n in out[0].notes if n.startswith("multiplicity")]
    assert note and "second (not estimable: no events)" in note[0] and "p = 1" in note[0]
    assert out[1].notes == out[0].notes[-1:]


# ------------------------------------------------------------------ the command line

@pytest.fixture(scope="module")
def incidence_trial(tmp_path_factory):
    """A 10-subject refractory-hypoxia trial whose UC-MSC arm reaches a cumulative
    incidence of 0.9999999999999999 (analyze and report crashed on it)."""
    tmp = tmp_path_factory.mktemp("edges")
    runner = CliRunner()
    assert runner.invoke(main, ["synth", "refractory-hypoxia", "--n", "10", "--seed", "14",
                                "-o", str(tmp / "trial")]).exit_code == 0
    sap = runner.invoke(main, ["sap", "refractory-hypoxia"]).output
    (tmp / "sap.toml").write_text(sap, "utf-8")
    return tmp


def test_analyze_a_trial_where_an_arm_reaches_incidence_one(incidence_trial):
    out = incidence_trial / "results.json"
    result = CliRunner().invoke(main, ["analyze", str(incidence_trial / "trial"), "--sap",
                                       str(incidence_trial / "sap.toml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    cuminc = [a for a in json.loads(out.read_text())["analyses"] if a["id"] == "ttci_cuminc"][0]
    assert max(c["estimate"][-1] for c in cuminc["curves"]) == 0.9999999999999999
    # every not-estimable analysis is warned about on stderr, with its reason
    for a in json.loads(out.read_text())["analyses"]:
        if a.get("status") == "not_estimable":
            assert f"warning: analysis {a['id']} is not estimable: {a['reason']}" in result.output


def test_simulate_reports_what_it_could_not_compute(tmp_path):
    """--n 2 on the three-arm design (silently left out of oc.json): every
    replicate has an arm without subjects; oc.json counts them with the reason and
    stderr says so."""
    out = tmp_path / "oc.json"
    result = CliRunner().invoke(main, ["simulate", "--design", "three-arm-paxlovid", "--n",
                                       "2", "--n-sims", "3", "--analyses", "primary,ttci_cox",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    oc = json.loads(out.read_text())
    counts = {c["analysis"]: c for c in oc["not_estimable"]}
    assert counts["primary"]["n_not_estimable"] == 3
    assert any("have no subject" in reason for reason in counts["primary"]["reasons"])
    assert "warning: analysis primary at n = 2: not estimable in any of the 3" in result.output
    assert any("not estimable in any" in n for n in oc["notes"])


def test_simulate_counts_not_estimable_replicates_and_infinite_estimates():
    from mscstats.plan import template
    from mscstats.simulation.engine import simulate
    sap = template("three-arm-paxlovid")
    oc = simulate("three-arm-paxlovid", sap, [6], 25, analyses=["ttci_cox", "who_d14_po"],
                  seed=1)
    for rate in oc.rates:
        assert rate.n_estimable + rate.n_not_estimable <= rate.n_sims
        assert sum(n for _, n in rate.not_estimable_reasons) == rate.n_not_estimable
        if rate.rate is not None:
            assert rate.rate == rate.rejections / rate.n_estimable
    assert any(r.n_not_estimable for r in oc.rates)
    assert "not estimable" in str(oc)
    assert all("n_infinite_estimates" in r.to_dict() for r in oc.rates)


def test_extreme_effects_at_the_ends_of_the_range_simulate_without_warnings():
    from mscstats.schema import DESIGN_KEYS
    from mscstats.simulation.synth import Effect, make_batch
    for effect in (Effect(1000.0, 0.001, 0.001, 0.001), Effect(0.001, 1000.0, 1000.0, 1000.0)):
        for key in DESIGN_KEYS:
            batch = no_warnings(make_batch, key, 10, 3, 1, effect, ("adsl", "visits", "adae", "ex"))
            assert np.isfinite(pd.to_numeric(batch["visits"]["AVAL"], errors="coerce")
                               .dropna()).all()


def test_the_report_shows_a_not_estimable_analysis_with_its_reason_and_infinity():
    import io
    import re
    from dataclasses import replace

    from pypdf import PdfReader

    from mscstats.pipeline import analyze, load
    from mscstats.plan import template
    from mscstats.report.pdf import render_pdf
    key = "single-arm-bm-msc"
    sap = template(key)
    trial = load(ROOT / "data" / "synthetic" / key, sap)
    results = analyze(trial, sap)
    first = results.analyses[0]
    broken = AnalysisResult.not_estimable(first.id, first.endpoint, first.method,
                                          "the REML fit did not converge", first.options)
    second = results.analyses[1]
    infinite = replace(second, comparisons=(replace(second.comparisons[0], estimate=math.inf,
                                                    ci=(7.655, math.inf)),))
    results = replace(results, analyses=(broken, infinite, *results.analyses[2:]))
    pdf = render_pdf(trial, sap, results)
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    assert f"{first.id}: not estimable: the REML fit did not converge." in text
    assert "∞ (7.66, ∞)" in text and "NA (7.66, NA)" not in text


def test_an_effect_outside_its_range_is_refused_by_the_generator_too():
    from mscstats.simulation.synth import Effect
    with pytest.raises(ValueError, match="within 0.001 to 1000"):
        Effect(cytokine_ratio=1e300)

"""The `permutation` SAP method: exact p-values as coin and R enumeration give them
(tests/reference/permutation/exact.json), Monte Carlo p-values within their error,
seeded bit for bit, and the runner's handling of the analysis data."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.batch import kernels as batch
from mscstats.analysis.permutation import analysis_rng, permutation_test
from mscstats.analysis.cores.common import NotEstimable
from mscstats.errors import AnalysisError
from mscstats.results import dumps_json
from conftest import TESTS

CASES = json.loads((TESTS / "reference" / "permutation" /
                    "exact.json").read_text())["cases"]
KIND = {"mean_difference": "value", "risk_difference": "binary", "wilcoxon": "ordinal",
        "logrank": "time_to_event", "cox_score": "time_to_event", "ancova": "value"}
ARMS = ("control", "UC-MSC")


def frame(case: dict) -> pd.DataFrame:
    """An analysis data set (endpoint rows) from a reference case."""
    d = pd.DataFrame(case["data"])
    out = pd.DataFrame({"USUBJID": [f"S{i:02d}" for i in range(len(d))],
                        "ARM": np.where(d["arm"] == 1, ARMS[1], ARMS[0])})
    if "time" in d:
        out["AVAL"], out["EVNTCD"] = d["time"], d["evntcd"]
        out["CNSR"] = (d["evntcd"] != 1).astype(float)
    else:
        out["AVAL"] = d["y"]
    if "base" in d:
        out["BASE"], out["AGE"] = d["base"], d["age"]
    return out


def analysis(data, kind="value", id="perm", seed=1, arms=ARMS, **options) -> AnalysisInput:
    return AnalysisInput(id=id, endpoint="ep", endpoint_kind=kind, method="permutation",
                         data=data, arms=arms, options=options, seed=seed)


def case_input(name: str, **options) -> AnalysisInput:
    case = CASES[name]
    if case["statistic"] == "ancova":
        options.setdefault("covariates", ("BASE", "AGE"))
    return analysis(frame(case), KIND[case["statistic"]], statistic=case["statistic"], **options)


# ------------------------------------------------------------ exact p-values

EXACT = [name for name, c in CASES.items()
         if c["statistic"] in KIND and name != "mean_difference_cont16"]


@pytest.mark.parametrize("name", EXACT)
def test_complete_enumeration_matches_reference(name):
    case = CASES[name]
    result = run(case_input(name))
    test = result.test("permutation")
    assert abs(test.p_value - case["p"]) < 1e-6, case["source"]
    assert result.comparisons[0].p_value == test.p_value
    assert "Exact permutation p-value" in result.notes[0]
    if "observed" in case:              # R's observed statistic (|t| for ancova)
        assert math.isclose(abs(test.statistic), case["observed"], rel_tol=1e-10)
        assert f"/{case['n_assignments']} at least" in result.notes[0]


@pytest.mark.parametrize("name", ["logrank_o_minus_e_tte12", "logrank_o_minus_e_tte10"])
def test_coin_logrank_is_the_permutation_of_o_minus_e(name):
    # coin's exact log-rank divides O - E by a permutation variance that is the same for
    # every assignment, so it ranks by |O - E|; the engine's score reproduces its p.
    d = frame(CASES[name])
    treated = (d["ARM"] == ARMS[1]).to_numpy()
    time, event = d["AVAL"].to_numpy(), (d["EVNTCD"] == 1).to_numpy()
    got = permutation_test(lambda labels: np.abs(batch.logrank_batch(time, event, labels).score),
                           treated, n_permutations=10_000)
    assert got.exact
    assert abs(got.p_value - CASES[name]["p"]) < 1e-6


def test_three_versus_three_by_hand():
    # reference 1, 2, 4; treated 3, 5, 6: mean difference 14/3 - 7/3 = 7/3. With 21 in
    # total, a treated triple of sum s gives (2 s - 21) / 3. The 20 assignments:
    #   {1,2,3} -3      {1,2,4} -7/3    {1,2,5} -5/3   {1,3,4} -5/3   {1,2,6} -1
    #   {1,3,5} -1      {2,3,4} -1      {1,3,6} -1/3   {1,4,5} -1/3   {2,3,5} -1/3
    #   {1,4,6} 1/3     {2,3,6} 1/3     {2,4,5} 1/3    {1,5,6} 1      {2,4,6} 1
    #   {3,4,5} 1       {2,5,6} 5/3     {3,4,6} 5/3    {3,5,6} 7/3    {4,5,6} 3
    # |difference| >= 7/3 for {1,2,3}, {1,2,4}, {3,5,6}, {4,5,6}: p = 4/20.
    data = pd.DataFrame({"USUBJID": list("abcdef"), "ARM": [ARMS[0]] * 3 + [ARMS[1]] * 3,
                         "AVAL": [1.0, 2, 4, 3, 5, 6]})
    result = run(analysis(data))
    assert result.test("permutation").p_value == 4 / 20
    assert math.isclose(result.comparison(ARMS[1]).estimate, 7 / 3)
    assert "C(6, 3) = 20" in result.notes[0] and "p = 4/20" in result.notes[0]


# ------------------------------------------------------------ Monte Carlo

def test_monte_carlo_within_four_standard_errors_of_exact():
    name = "mean_difference_cont16"           # C(16, 8) = 12870 assignments
    exact_p = CASES[name]["p"]
    enumerated = run(case_input(name, n_permutations=20_000))
    assert abs(enumerated.test("permutation").p_value - exact_p) < 1e-6
    b = 2000
    mc = run(case_input(name, n_permutations=b))
    assert "Monte Carlo" in mc.notes[0] and f"B = {b}" in mc.notes[0]
    se = math.sqrt(exact_p * (1 - exact_p) / b)
    assert abs(mc.test("permutation").p_value - exact_p) < 4 * se


def test_same_seed_same_bits_and_streams_differ():
    name = "mean_difference_cont16"
    first = run(case_input(name, n_permutations=500))
    again = run(case_input(name, n_permutations=500))
    assert dumps_json(first) == dumps_json(again)
    p = first.test("permutation").p_value
    count = round(p * 501) - 1
    assert p == (1 + count) / 501                       # the (1 + #) / (1 + B) convention
    assert not np.array_equal(analysis_rng(1, "a").integers(0, 2**32, 8),
                              analysis_rng(1, "b").integers(0, 2**32, 8))
    assert not np.array_equal(analysis_rng(1, "a").integers(0, 2**32, 8),
                              analysis_rng(2, "a").integers(0, 2**32, 8))


def test_monte_carlo_ignores_row_order_and_arm_coding():
    data = frame(CASES["logrank_tte12"])
    data = pd.concat([data, data.assign(USUBJID=data["USUBJID"] + "b")], ignore_index=True)
    base = run(analysis(data, "time_to_event", n_permutations=300))     # C(24, 12) > 300
    assert "Monte Carlo" in base.notes[0]
    shuffled = data.sample(frac=1, random_state=3)
    assert dumps_json(run(analysis(shuffled, "time_to_event", n_permutations=300))) == \
        dumps_json(base)
    swapped = run(analysis(data, "time_to_event", arms=ARMS[::-1], n_permutations=300))
    assert swapped.test("permutation").p_value == base.test("permutation").p_value
    assert swapped.comparisons[0].estimate == pytest.approx(-base.comparisons[0].estimate)


# ------------------------------------------------------------ the runner

def test_defaults_by_endpoint_kind():
    checks = {"mean_difference_cont12": ("value", "mean_difference", "mean_difference"),
              "risk_difference_binary14": ("binary", "risk_difference", "risk_difference"),
              "wilcoxon_ordinal13": ("ordinal", "wilcoxon", "hodges_lehmann_shift"),
              "logrank_tte12": ("time_to_event", "logrank", "observed_minus_expected")}
    for name, (kind, statistic, estimand) in checks.items():
        result = run(analysis(frame(CASES[name]), kind))
        assert result.options == {"statistic": statistic, "n_permutations": 10_000}
        assert result.comparisons[0].estimand == estimand
        assert abs(result.test("permutation").p_value - CASES[name]["p"]) < 1e-6
        assert result.comparisons[0].ci == (None, None)


def test_estimates_and_by_arm_summaries():
    ordinal = run(analysis(frame(CASES["wilcoxon_ordinal13"]), "ordinal"))
    d = pd.DataFrame(CASES["wilcoxon_ordinal13"]["data"])
    y1, y0 = d.y[d.arm == 1].to_numpy(), d.y[d.arm == 0].to_numpy()
    assert ordinal.comparisons[0].estimate == np.median(np.subtract.outer(y1, y0))
    assert ordinal.by_arm[ARMS[1]]["median"] == np.median(y1)
    assert ordinal.by_arm[ARMS[0]] == pytest.approx({"n": 6, "n_missing": 0, "mean": y0.mean(),
                                                     "sd": y0.std(ddof=1),
                                                     "median": np.median(y0)})
    tte = run(analysis(frame(CASES["logrank_tte12"]), "time_to_event"))
    assert tte.by_arm[ARMS[0]] == {"n": 6, "n_missing": 0, "events": 4, "competing_deaths": 1,
                                   "censored": 1}
    lr = batch.logrank_batch([3, 5, 5, 7, 9, 12, 4, 5, 7, 10, 14, 28],
                             [1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0], [0] * 6 + [1] * 6)
    assert tte.comparisons[0].estimate == pytest.approx(float(lr.score), rel=1e-12)
    assert tte.test("permutation").statistic == pytest.approx(float(lr.chi2), rel=1e-12)
    binary = run(analysis(frame(CASES["risk_difference_binary14"]), "binary"))
    assert binary.by_arm[ARMS[1]] == {"n": 7, "n_missing": 0, "events": 2, "proportion": 2 / 7}
    assert binary.comparisons[0].estimate == pytest.approx(2 / 7 - 5 / 7)   # reference 1101101


def test_competing_deaths_are_censored():
    data = frame(CASES["logrank_tte12"])
    censored = data.assign(EVNTCD=data["EVNTCD"].replace(2, 0))
    a, b = run(analysis(data, "time_to_event")), run(analysis(censored, "time_to_event"))
    assert a.test("permutation") == b.test("permutation")


def test_missing_outcomes_are_excluded_and_counted():
    data = frame(CASES["mean_difference_cont12"])
    extra = pd.DataFrame({"USUBJID": ["X1", "X2", "X3"], "ARM": [ARMS[0], ARMS[1], ARMS[1]],
                          "AVAL": [np.nan] * 3})
    result = run(analysis(pd.concat([data, extra], ignore_index=True)))
    assert result.test("permutation") == run(analysis(data)).test("permutation")
    assert result.by_arm[ARMS[0]]["n_missing"] == 1 and result.by_arm[ARMS[1]]["n_missing"] == 2
    assert any("3 subject(s)" in note for note in result.notes)


def test_change_endpoint_uses_chg_and_repeated_endpoint_its_target_day():
    data = frame(CASES["mean_difference_cont12"]).rename(columns={"AVAL": "CHG"})
    data["AVAL"] = 0.0
    expected = run(analysis(frame(CASES["mean_difference_cont12"]))).test("permutation")
    assert run(analysis(data, "change")).test("permutation") == expected
    repeated = pd.concat([data.assign(DAY=7), data.assign(DAY=3, CHG=0.0)], ignore_index=True)
    inp = AnalysisInput(id="perm", endpoint="ep", endpoint_kind="change", method="permutation",
                        data=repeated, arms=ARMS, target_day=7)
    assert run(inp).test("permutation") == expected


def test_ancova_with_a_categorical_covariate():
    data = frame(CASES["ancova_cont12"])
    data["SEX"] = np.where(data["AGE"] > 60, "M", "F")
    coded = data.assign(SEX=(data["SEX"] == "M").astype(float))
    a = run(analysis(data, statistic="ancova", covariates=("BASE", "SEX")))
    b = run(analysis(coded, statistic="ancova", covariates=("BASE", "SEX")))
    assert a.test("permutation") == b.test("permutation")
    fit = batch.ancova_batch(coded["AVAL"], coded["ARM"] == ARMS[1], coded[["BASE", "SEX"]])
    assert a.comparisons[0].estimate == pytest.approx(float(fit.estimate), rel=1e-12)


@pytest.mark.parametrize("change, message", [
    (dict(arms=("a", "b", "c")), "exactly two arms"),
    (dict(options={"statistic": "mean_difference", "covariates": ("AGE",)}), "only the ancova"),
    (dict(options={"statistic": "risk_difference"}), "0/1 outcome"),
    (dict(options={"statistic": "ancova", "covariates": ("BMI",)}), "no BMI column"),
])
def test_clear_errors(change, message):
    data = frame(CASES["ancova_cont12"])
    data["AGE2"] = 2 * data["AGE"]
    inp = AnalysisInput(**{**dict(id="perm", endpoint="ep", endpoint_kind="value",
                                  method="permutation", data=data, arms=ARMS), **change})
    with pytest.raises(AnalysisError, match=message):
        run(inp)


def test_collinear_covariates_are_not_estimable():
    """A singular design is not estimable (DESIGN.md 6), not an error of the SAP."""
    data = frame(CASES["ancova_cont12"])
    data["AGE2"] = 2 * data["AGE"]
    with pytest.raises(NotEstimable, match="collinear"):
        run(analysis(data, statistic="ancova", covariates=("AGE", "AGE2")))


def test_an_arm_without_data_is_not_estimable():
    data = frame(CASES["mean_difference_cont12"])
    data.loc[data["ARM"] == ARMS[1], "AVAL"] = np.nan
    with pytest.raises(NotEstimable, match="arm 'UC-MSC' has no subject"):
        run(analysis(data))
    twice = pd.concat([data, data], ignore_index=True)
    with pytest.raises(AnalysisError, match="more than one row"):
        run(analysis(twice))


def test_no_events_gives_p_one():
    # with every subject censored no assignment is more extreme than another: chi2 = 0
    data = frame(CASES["logrank_tte12"]).assign(EVNTCD=0.0)
    result = run(analysis(data, "time_to_event"))
    assert result.test("permutation").statistic == 0.0
    assert result.test("permutation").p_value == 1.0


def test_permutation_test_arguments():
    with pytest.raises(ValueError, match="both arms"):
        permutation_test(np.abs, np.ones(5, bool))
    with pytest.raises(ValueError, match="random generator"):
        permutation_test(lambda labels: labels.sum(axis=1), np.arange(30) % 2 == 0, 100)

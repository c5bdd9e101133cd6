"""ancova and ordinal_po runners on small hand-made trials (R comparisons are in
test_compare_reference.py, MMRM in test_mmrm.py)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.design import categorical, drop_aliased
from mscstats.analysis.models import least_squares
from mscstats.errors import AnalysisError
from mscstats.results import dumps_json

ARMS = ("placebo", "UC-MSC")


def trial(n=12, seed=2):
    rng = np.random.default_rng(seed)
    arm = np.repeat(ARMS, n)
    base = rng.normal(150, 30, 2 * n).round(1)
    chg = (20 + 25 * (arm == "UC-MSC") - 0.4 * (base - 150) + rng.normal(0, 15, 2 * n)).round(2)
    return pd.DataFrame({"USUBJID": [f"S{i:02d}" for i in range(2 * n)], "ARM": arm, "DAY": 7,
                         "BASE": base, "CHG": chg, "AVAL": base + chg,
                         "SEX": rng.choice(["F", "M"], 2 * n), "AGE": rng.integers(30, 80, 2 * n),
                         "STRATUM": rng.choice(["moderate", "severe"], 2 * n)})


def ancova(data, arms=ARMS, **options):
    return run(AnalysisInput("anc", "pf_d7", "change", "ancova", data, arms, options=options))


def test_ancova_without_covariates_is_the_pooled_t_test():
    d = trial().drop(columns="BASE")
    r = ancova(d)
    c = r.comparison("UC-MSC")
    t = stats.ttest_ind(d.CHG[d.ARM == "UC-MSC"], d.CHG[d.ARM == "placebo"])
    assert c.estimate == pytest.approx(d.CHG[d.ARM == "UC-MSC"].mean() - d.CHG[d.ARM == "placebo"].mean())
    assert c.df == 22 and r.test("t").statistic == pytest.approx(t.statistic)
    assert c.p_value == pytest.approx(t.pvalue)
    assert any("no BASE term" in n for n in r.notes)


def test_least_squares_by_hand():
    # Sxy = 9, Sxx = 5: slope 1.8, intercept 4 - 1.8 x 1.5 = 1.3; residuals +-0.2, +-0.6
    x = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    fit = least_squares([1.5, 2.5, 5.5, 6.5], x, ("(Intercept)", "x"))
    assert fit.params == pytest.approx([1.3, 1.8])
    assert fit.df == 2
    assert fit.se[1] == pytest.approx(np.sqrt((0.8 / 2) / 5))    # s^2 / Sxx, RSS = 0.8


def test_ancova_invariants():
    d = trial()
    a = ancova(d, covariates=["AGE", "SEX"], strata=["STRATUM"])
    shuffled = d.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert dumps_json(ancova(shuffled, covariates=["AGE", "SEX"], strata=["STRATUM"])) == dumps_json(a)
    b = ancova(d, arms=ARMS[::-1], covariates=["AGE", "SEX"], strata=["STRATUM"])
    ca, cb = a.comparisons[0], b.comparisons[0]
    assert cb.estimate == pytest.approx(-ca.estimate) and cb.se == pytest.approx(ca.se)
    assert cb.ci == pytest.approx((-ca.ci[1], -ca.ci[0]))


def test_ancova_base_listed_once_and_missing_covariates_counted():
    d = trial()
    d.loc[3, "AGE"] = np.nan
    r = ancova(d, covariates=["BASE", "AGE"])
    assert r.comparison("UC-MSC").df == 23 - 4              # 23 subjects, 4 coefficients
    assert "model: CHG ~ ARM + BASE + AGE" in r.notes
    assert any("1 row(s) with a missing covariate" in n for n in r.notes)
    assert r.by_arm["placebo"]["n"] == 12                   # summaries keep every value


def test_ancova_aliased_covariate_is_dropped_like_lm():
    d = trial().assign(BASE2=lambda f: 2 * f.BASE)
    r = ancova(d, covariates=["BASE2"])
    ref = ancova(trial())
    assert any("BASE2" in n and "dropped" in n for n in r.notes)
    assert r.comparison("UC-MSC").estimate == pytest.approx(ref.comparison("UC-MSC").estimate)


def test_ancova_arm_confounded_with_stratum():
    d = trial().assign(STRATUM=lambda f: np.where(f.ARM == "UC-MSC", "severe", "moderate"))
    r = ancova(d, strata=["STRATUM"])
    assert r.comparison("UC-MSC").estimate is not None       # the stratum column goes instead
    assert any("STRATUMsevere" in n for n in r.notes)


def test_ancova_unknown_covariate():
    with pytest.raises(AnalysisError, match=r"\['WEIGHT'\]"):
        ancova(trial(), covariates=["WEIGHT"])


def test_dummy_coding_reference_is_first_sorted_level():
    block = categorical("SEX", pd.Series(["M", "F", "M"]))
    assert block.levels == ("F", "M") and block.names == ("SEXM",)
    assert block.matrix[:, 0].tolist() == [1.0, 0.0, 1.0]
    days = categorical("DAY", pd.Series([14, 3, 7]))
    assert days.levels == (3, 7, 14)                         # numbers in numeric order
    x, names, dropped = drop_aliased(np.column_stack([np.ones(3), [1, 2, 3], [2, 4, 6]]), ("a", "b", "c"))
    assert names == ("a", "b") and dropped == ("c",) and x.shape == (3, 2)


# ------------------------------------------------------------------ ordinal

def who(values: dict):
    rows = [(f"{a[:3]}{i}", a, v) for a, vs in values.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["USUBJID", "ARM", "AVAL"]).assign(DAY=14)


def ordinal(data, arms=ARMS):
    return run(AnalysisInput("who", "who_d14", "ordinal", "ordinal_po", data, arms))


WHO = {"placebo": [2, 4, 4, 5, 5, 6, 6, 7, 10, 2, 5, 6],
       "UC-MSC": [2, 2, 2, 4, 4, 5, 5, 6, 7, 2, 4, 10]}


def test_ordinal_by_arm_and_direction():
    r = ordinal(who(WHO))
    assert r.by_arm["placebo"]["distribution"] == {"2": 2, "4": 2, "5": 3, "6": 3, "7": 1, "10": 1}
    assert r.by_arm["UC-MSC"]["median"] == 4.0
    c = r.comparison("UC-MSC")
    assert c.estimand == "common_odds_ratio" and c.estimate > 1   # treated arm sits lower: better
    assert c.ci[0] < c.estimate < c.ci[1]
    assert r.test("brant").df == 4.0


def test_ordinal_invariants():
    d = who(WHO)
    a = ordinal(d).comparison("UC-MSC")
    b = ordinal(d, arms=ARMS[::-1]).comparison("placebo")
    assert b.estimate == pytest.approx(1 / a.estimate, rel=1e-8)
    assert b.ci == pytest.approx((1 / a.ci[1], 1 / a.ci[0]), rel=1e-8)
    shuffled = d.sample(frac=1.0, random_state=4)
    assert dumps_json(ordinal(shuffled)) == dumps_json(ordinal(d))


def test_ordinal_separation_and_two_categories_give_notes():
    r = ordinal(who({"placebo": [6, 7, 10, 6, 7], "UC-MSC": [2, 2, 2, 2, 2]}))
    assert r.comparison("UC-MSC").estimate is None
    assert any("infinite" in n for n in r.notes)
    two = ordinal(who({"placebo": [2, 10, 10, 2], "UC-MSC": [2, 2, 2, 10]}))
    assert two.comparison("UC-MSC").estimate == pytest.approx(3.0, rel=1e-6)   # 2x2: plain odds ratio
    assert two.test("brant").statistic is None
    assert any("three categories" in n for n in two.notes)


def test_ordinal_separation_of_one_arm_among_three():
    # UC-MSC all in the best category: its odds ratio diverges (found by simulation,
    # where exp() of the CI limit overflowed); the other arm is still estimated.
    arms = ("placebo", "Paxlovid", "UC-MSC")
    r = ordinal(who({"placebo": [6, 7, 10, 6, 7, 5], "Paxlovid": [2, 2, 6, 7, 10, 5],
                     "UC-MSC": [2, 2, 2, 2, 2, 2]}), arms=arms)
    assert r.comparison("UC-MSC").estimate is None and r.comparison("UC-MSC").ci == (None, None)
    assert any(n.startswith("UC-MSC: common odds ratio not estimable (separation") for n in r.notes)
    paxlovid = r.comparison("Paxlovid")
    assert paxlovid.estimate > 1 and paxlovid.ci[0] < paxlovid.estimate < paxlovid.ci[1]

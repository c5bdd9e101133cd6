"""Multiple imputation and the tipping point (mscstats/analysis/cores/mi.py, missing_data.py)
against stored R output (tests/reference/mi/mi.R: mice::pool, mice's estimice and
.norm.draw, fisher.test and chisq.test), plus invariants, the agreement of MI with
the MMRM under MAR and a simulation of type I error and coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mscstats.analysis import AnalysisInput, run
from mscstats.analysis.cores import mi
from mscstats.analysis.missing_data import binary_grid
from conftest import CLOSED, P_ABS, REFERENCE, ROOT

HERE = REFERENCE / "mi"
REF = json.loads((HERE / "mi.json").read_text())
ARMS2 = ("control", "UC-MSC")
ARMS3 = ("standard", "Paxlovid", "UC-MSC")


def approx(expected, rel=CLOSED):
    return pytest.approx(expected, rel=rel, abs=1e-12)


def completed(name):
    """(y (m, n), frame of imputation 1) from a completed-data CSV."""
    d = pd.read_csv(HERE / "data" / f"{name}.csv")
    m = d[".imp"].nunique()
    first = d[d[".imp"] == 1].reset_index(drop=True)
    return d["Y"].to_numpy().reshape(m, len(first)), first


def ancova_design(first, arms):
    dummies = [(first["ARM"] == a).to_numpy(float) for a in arms[1:]]
    covariates = [first[c] for c in ("BASE", "AGE") if c in first.columns]
    return np.column_stack([np.ones(len(first)), *dummies, *covariates])


def long_trial(name):
    """The incomplete trial of the fixture as endpoint rows (one per subject and day)."""
    v = pd.read_csv(HERE / "data" / f"{name}.csv")
    rows = v.melt(id_vars=["USUBJID", "ARM", "BASE", "AGE"], value_vars=["Y3", "Y5", "Y7"],
                  var_name="V", value_name="CHG")
    rows["DAY"] = rows.pop("V").str[1:].astype(int)
    rows["AVAL"] = rows["CHG"] + rows["BASE"]
    return rows


def mi_input(data, arms, method="ancova", seed=1, **options):
    options = {"missing": "mi", **options}
    return AnalysisInput(id="a", endpoint="pf", endpoint_kind="change", method=method, data=data,
                         arms=arms, options=options, seed=seed, target_day=7)


def test_reference_provenance():
    assert REF["R"].startswith("R version") and "do not edit" in REF["generated_by"]
    assert REF["packages"]["mice"] >= "3.15"
    assert all("r_call" in c for c in REF["lm"] + REF["scalar"] + REF["tipping"])


def test_the_completed_data_sets_are_mscstats_imputations():
    """The fixture's completed data are what impute_visits gives with its seeds."""
    for name, arms, seed, strategy in (("two_arm", ARMS2, 11, "mar"),
                                       ("two_arm_j2r", ARMS2, 12, "jump_to_reference"),
                                       ("three_arm", ARMS3, 13, "mar")):
        v = pd.read_csv(HERE / "data" / f"visits_{name.replace('_j2r', '')}.csv")
        arm = v["ARM"].map({a: i for i, a in enumerate(arms)}).to_numpy()
        done = mi.impute_visits(v[["Y3", "Y5", "Y7"]].to_numpy(float), arm, len(arms),
                                v[["BASE", "AGE"]].to_numpy(float), 10,
                                np.random.default_rng(seed), strategy)
        y, _ = completed(f"completed_{name}")
        np.testing.assert_allclose(done[:, :, 2], y, rtol=1e-13)   # CSV keeps 16 digits


# ------------------------------------------------------------------ Rubin's rules = mice::pool

@pytest.mark.parametrize("case", REF["lm"], ids=[c["case"] for c in REF["lm"]])
def test_pooled_ancova_matches_mice_pool(case):
    y, first = completed(case["data"])
    x = ancova_design(first, case["arms"])
    for j, term in enumerate(case["terms"], start=1):
        p = mi.pool(mi.ancova_estimates(y, x, j))
        assert float(p.estimate) == approx(term["estimate"])
        assert float(p.se) == approx(term["se"])
        assert float(p.df) == approx(term["df"])
        assert float(p.p_value) == pytest.approx(term["p_value"], abs=P_ABS)
        assert [float(v) for v in p.ci(0.95)] == approx(term["ci"])
        for key in ("ubar", "b", "t", "dfcom", "riv", "fmi"):
            assert float(getattr(p, key)) == approx(term[key]), key
        assert float(p.lambda_) == approx(term["lambda"])


@pytest.mark.parametrize("case", REF["lm"][:2], ids=[c["case"] for c in REF["lm"][:2]])
def test_mi_runner_equals_mice_pool_on_its_own_imputations(case):
    """The SAP path (impute with the seed, analyse, pool) gives mice::pool's numbers."""
    seed, strategy = {"two_arm_mar": (11, None), "two_arm_j2r": (12, "jump_to_reference")}[case["case"]]
    options = {"covariates": ("BASE", "AGE"), "imputations": 10}
    if strategy:
        options["mi_reference"] = strategy
    result = run(mi_input(long_trial("visits_two_arm"), ARMS2, seed=seed, **options))
    c, term = result.comparisons[0], case["terms"][0]
    assert (c.estimate, c.se, c.df) == approx((term["estimate"], term["se"], term["df"]))
    assert c.p_value == pytest.approx(term["p_value"], abs=P_ABS)
    assert list(c.ci) == approx(term["ci"])
    assert result.by_arm["UC-MSC"]["n_imputed"] == result.by_arm["UC-MSC"]["n_missing"] > 0


def test_template_primary_mi_matches_mice_pool_on_its_completed_data():
    """The refractory-hypoxia template's primary_mi, run by the pipeline on the stored
    synthetic trial, equals mice::pool on the completed data sets it imputed."""
    from mscstats import pipeline
    from mscstats.derive.endpoints import derive
    from mscstats.plan import template
    sap = template("refractory-hypoxia")
    trial = pipeline.load(ROOT / "data" / "synthetic" / "refractory-hypoxia",
                          sap)
    analysis = next(a for a in sap.analyses if a.id == "primary_mi")
    result = run(pipeline.analysis_input(trial, sap, derive(trial, sap), analysis))
    [term] = next(c for c in REF["lm"] if c["case"] == "refractory_hypoxia_primary_mi")["terms"]
    c = result.comparisons[0]
    assert (c.estimate, c.se, c.df) == approx((term["estimate"], term["se"], term["df"]))
    assert c.p_value == pytest.approx(term["p_value"], abs=P_ABS)
    assert list(c.ci) == approx(term["ci"])


def test_three_arm_runner_matches_mice_pool_for_each_treated_arm():
    case = REF["lm"][2]
    result = run(mi_input(long_trial("visits_three_arm"), ARMS3, seed=13, imputations=10,
                          covariates=("BASE", "AGE")))
    for c, term in zip(result.comparisons, case["terms"]):
        assert f"ARM{c.arm}" == term["term"]
        assert (c.estimate, c.se, c.df) == approx((term["estimate"], term["se"], term["df"]))


def test_welch_and_mean_pooling_match_pool_scalar():
    y, first = completed("completed_two_arm")
    treated, reference = (first["ARM"] == "UC-MSC").to_numpy(), (first["ARM"] == "control").to_numpy()
    for case, est in ((REF["scalar"][0], mi.welch_estimates(y, treated, reference)),
                      (REF["scalar"][1], mi.mean_estimates(y[:, treated]))):
        assert list(est.q) == approx(case["q"]) and list(est.u) == approx(case["u"])
        assert est.dfcom == approx(case["dfcom"])
        p = mi.pool(est)
        for key in ("estimate", "se", "df", "ubar", "b", "t", "riv", "fmi", "statistic"):
            assert float(getattr(p, key)) == approx(case[key]), key
        assert float(p.p_value) == pytest.approx(case["p_value"], abs=P_ABS)
        assert [float(v) for v in p.ci(0.95)] == approx(case["ci"])


def test_barnard_rubin_hand_values():
    # no between-imputation variance: lambda is floored at 1e-4 as mice does
    df = mi.barnard_rubin_df(5, 0.0, 1.0, 20.0)
    dfold, dfobs = 4 / 1e-8, 21 / 23 * 20 * (1 - 1e-4)
    assert float(df) == pytest.approx(dfold * dfobs / (dfold + dfobs))
    assert float(mi.barnard_rubin_df(5, 0.5, 1.0, np.inf)) == pytest.approx(4 / (1.2 * 0.5) ** 2)


# ------------------------------------------------------------------ mice's norm draws

def norm_data():
    d = pd.read_csv(HERE / "data" / "norm_data.csv")
    return np.column_stack([np.ones(len(d)), d["X1"], d["X2"]]), d["Y"].to_numpy()


def test_norm_fit_is_estimice():
    x, y = norm_data()
    fit = mi.norm_fit(x, y)
    ref = REF["norm"]
    assert list(fit.params) == approx(ref["coef"], rel=1e-10)
    assert fit.v.tolist() == [approx(row, rel=1e-9) for row in ref["v"]]
    assert (fit.df, float(fit.rss)) == (ref["df"], approx(ref["rss"], rel=1e-10))
    assert not fit.ridge


def test_norm_draws_have_mice_posterior_moments():
    """beta* ~ beta_hat + sigma* L z: mean beta_hat, covariance E[sigma*^2] V with
    E[sigma*^2] = RSS / (df - 2); the same as R's 20,000 .norm.draw draws within
    Monte Carlo error."""
    x, y = norm_data()
    ref, n = REF["norm"], 200_000
    fit = mi.norm_fit(np.broadcast_to(x, (n, *x.shape)), np.broadcast_to(y, (n, len(y))))
    beta, sigma = mi.norm_draw(fit, np.random.default_rng(3))
    s2 = ref["rss"] / (ref["df"] - 2)
    theory_cov = s2 * np.array(ref["v"])
    se_mean = np.sqrt(np.diag(theory_cov))
    for draws_mean, n_draws in ((beta.mean(axis=0), n), (np.array(ref["beta_mean"]), ref["n_draws"])):
        assert np.all(np.abs(draws_mean - ref["coef"]) < 4 * se_mean / np.sqrt(n_draws))
    # covariances within 5 Monte Carlo SEs (beta* is t-like: its products vary more)
    spread = np.sqrt(np.outer(np.diag(theory_cov), np.diag(theory_cov)) + theory_cov ** 2) * 1.5
    for cov, n_draws in ((np.cov(beta.T), n), (np.array(ref["beta_cov"]), ref["n_draws"])):
        assert np.all(np.abs(cov - theory_cov) < 5 * spread / np.sqrt(n_draws))
    var_s2 = 2 * s2 ** 2 / (ref["df"] - 4)
    assert abs(np.mean(sigma ** 2) - s2) < 4 * np.sqrt(var_s2 / n)
    assert abs(ref["sigma2_mean"] - s2) < 4 * np.sqrt(var_s2 / ref["n_draws"])
    assert np.var(sigma ** 2) == pytest.approx(var_s2, rel=0.05)


def test_norm_fit_uses_mice_ridge_when_singular():
    x = np.column_stack([np.ones(6), np.arange(6.0), 2 * np.arange(6.0)])
    fit = mi.norm_fit(x, np.arange(6.0) + np.array([0.1, -0.2, 0.0, 0.3, -0.1, 0.05]))
    assert fit.ridge and np.all(np.isfinite(fit.params))


# ------------------------------------------------------------------ binary tipping grid = fisher.test

@pytest.mark.parametrize("case", REF["tipping"], ids=[c["case"] for c in REF["tipping"]])
@pytest.mark.parametrize("test", ["fisher", "chi_square"])
def test_binary_tipping_grid_matches_r(case, test):
    t, r = case["treated"], case["reference"]
    counts = {"UC-MSC": (t["events"], t["n"]), "control": (r["events"], r["n"])}
    missing = {"UC-MSC": t["missing"], "control": r["missing"]}
    rows, boundary = binary_grid(counts, missing, ARMS2, test, 0.05)
    assert len(rows) == len(case["grid"]) == (t["missing"] + 1) * (r["missing"] + 1)
    expected = {(g["k_treated"], g["k_reference"]): g[test] for g in case["grid"]}
    for row in rows:
        k = (row["events_among_missing"]["UC-MSC"], row["events_among_missing"]["control"])
        want = expected[k]
        if want == "NaN":
            assert row["p_value"] is None
        else:
            assert row["p_value"] == pytest.approx(want, abs=P_ABS)
        assert row["estimate"] == pytest.approx((t["events"] + k[0]) / (t["n"] + t["missing"])
                                                - (r["events"] + k[1]) / (r["n"] + r["missing"]))
    # boundary: p >= alpha with a neighbour (one event more or fewer in one arm) below alpha
    def p(k):
        v = expected.get(k)
        return None if v in (None, "NaN") else v
    want = [k for k, v in expected.items() if v != "NaN" and v >= 0.05 and any(
        (q := p((k[0] + a, k[1] + b))) is not None and q < 0.05
        for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1)))]
    got = [(b["events_among_missing"]["UC-MSC"], b["events_among_missing"]["control"])
           for b in boundary]
    assert sorted(got) == sorted(want)
    if case["case"] == "small" and test == "fisher":
        assert got                                          # this grid does tip


def binary_input(counts, **options):
    rows = []
    for arm, (x, n, m) in counts.items():
        values = [1.0] * x + [0.0] * (n - x) + [np.nan] * m
        rows += [{"USUBJID": f"{arm}-{i:02d}", "ARM": arm, "AVAL": v} for i, v in enumerate(values)]
    return AnalysisInput(id="tip", endpoint="prog", endpoint_kind="binary", method="tipping_point",
                         data=pd.DataFrame(rows), arms=ARMS2, options=options)


def test_binary_tipping_runner_and_results_json():
    result = run(binary_input({"control": (7, 11, 2), "UC-MSC": (2, 10, 3)}))
    out = result.to_dict()
    assert len(out["grid"]) == 12 and out["tipping_point"]
    assert out["by_arm"]["UC-MSC"] == {"n": 10, "events": 2, "n_missing": 3}
    small = next(c for c in REF["tipping"] if c["case"] == "small")
    assert out["grid"][0]["p_value"] == pytest.approx(small["grid"][0]["fisher"], abs=P_ABS)
    plain = run(binary_input({"control": (7, 11, 0), "UC-MSC": (2, 10, 0)}))
    assert len(plain.grid) == 1 and plain.tipping_point == ()
    assert any("no missing values" in n for n in plain.notes)


def test_other_analyses_have_no_grid_keys():
    result = run(mi_input(long_trial("visits_two_arm"), ARMS2, imputations=5))
    assert "grid" not in result.to_dict() and "tipping_point" not in result.to_dict()


# ------------------------------------------------------------------ continuous tipping point

def test_continuous_tipping_grid_matches_mice_pool_on_shifted_data():
    data = long_trial("visits_two_arm")
    deltas = [-150.0, -125.0, -100.0, -75.0, -50.0, -25.0, 0.0, 15.0]
    inp = AnalysisInput(id="tip", endpoint="pf", endpoint_kind="change", method="tipping_point",
                        data=data, arms=ARMS2, seed=11, target_day=7,
                        options={"deltas": tuple(deltas), "imputations": 10,
                                 "covariates": ("BASE", "AGE")})
    result = run(inp)
    grid = result.to_dict()["grid"]
    assert [g["delta"] for g in grid] == deltas
    zero = grid[deltas.index(0.0)]
    assert zero["estimate"] == approx(REF["lm"][0]["terms"][0]["estimate"])   # = the MI analysis
    assert zero["ci"] == approx(REF["lm"][0]["terms"][0]["ci"])
    for case in REF["delta"]:                          # mice::pool on the shifted data sets
        row = grid[deltas.index(case["delta"])] if case["delta"] in deltas else None
        if row is not None:
            assert (row["estimate"], row["p_value"]) == (approx(case["estimate"]),
                                                         pytest.approx(case["p_value"], abs=P_ABS))
            assert row["ci"] == approx(case["ci"])
    assert {c["delta"] for c in REF["delta"]} <= set(deltas)
    # the shift moves the ANCOVA estimate linearly
    est = np.array([g["estimate"] for g in grid])
    slope = np.diff(est) / np.diff(deltas)
    assert np.allclose(slope, slope[0]) and 0 < slope[0] < 1
    # tipping point: the smallest shift against the treated arm with p >= alpha
    against = [g for g in grid if g["delta"] <= 0 and g["p_value"] >= 0.05]
    expected = max(against, key=lambda g: g["delta"])["delta"] if against else None
    assert result.tipping_point == expected
    assert expected is not None and expected < 0


def test_continuous_tipping_none_when_the_grid_never_tips():
    inp = AnalysisInput(id="tip", endpoint="pf", endpoint_kind="change", method="tipping_point",
                        data=long_trial("visits_two_arm"), arms=ARMS2, seed=11, target_day=7,
                        options={"deltas": (-5.0, 0.0), "imputations": 10})
    result = run(inp)
    assert result.tipping_point is None and result.to_dict()["tipping_point"] is None


# ------------------------------------------------------------------ reference-based imputation

def mvn_trial(rng, n, effect=(20.0, 20.0), dropout=0.4):
    """Two arms, visits 1-2, common covariance, MCAR dropout after visit 1."""
    arm = np.repeat([0, 1], n // 2)
    base = rng.normal(0, 10, n)
    y1 = 0.5 * base + effect[0] * arm + rng.normal(0, 10, n)
    y2 = 0.8 * y1 + 0.2 * base + (effect[1] - 0.8 * effect[0]) * arm + rng.normal(0, 8, n)
    y = np.column_stack([y1, y2])
    y[rng.random(n) < dropout, 1] = np.nan
    return y, arm, base[:, None]


def test_jump_and_copy_reference_means():
    """With MCAR dropout, the treated dropouts' imputed mean at the last visit is the
    treated mean (MAR), the reference mean (J2R), or the reference mean plus the
    carried-forward part of the earlier benefit, 0.8 x 20 (CR)."""
    rng = np.random.default_rng(5)
    y, arm, base = mvn_trial(rng, 4000)
    gone = np.isnan(y[:, 1]) & (arm == 1)
    means = {}
    for strategy in mi.STRATEGIES:
        done = mi.impute_visits(y, arm, 2, base, 20, np.random.default_rng(6), strategy)
        means[strategy] = done[:, gone, 1].mean()
        observed_ref = done[:, arm == 0, 1].mean()
    # the reference arm's mean at visit 2 is 0 + 0.2 E[base] ~ 0; the treated arm's is 20
    tol = 1.5
    assert abs(means["mar"] - 20) < tol
    assert abs(means["jump_to_reference"] - 0) < tol
    assert abs(means["copy_reference"] - 16) < tol
    assert abs(observed_ref) < tol
    # the reference arm's values are never touched by the reference strategies
    a = mi.impute_visits(y, arm, 2, base, 3, np.random.default_rng(6), "mar")
    b = mi.impute_visits(y, arm, 2, base, 3, np.random.default_rng(6), "jump_to_reference")
    np.testing.assert_array_equal(a[:, arm == 0], b[:, arm == 0])


def test_intermittent_missing_values_are_imputed_under_mar():
    y = np.array([[1.0, np.nan, 3.0], [2.0, 2.5, np.nan]] * 6) + np.arange(12)[:, None]
    arm = np.tile([1, 0], 6)
    after = mi._dropout(~np.isnan(y))
    assert after[0].tolist() == [False, False, False]       # a gap before the last value
    assert after[1].tolist() == [False, False, True]


def test_observed_values_are_kept_and_draws_are_reproducible():
    rng = np.random.default_rng(1)
    y, arm, base = mvn_trial(rng, 60)
    a = mi.impute_visits(y, arm, 2, base, 7, np.random.default_rng(9))
    b = mi.impute_visits(y, arm, 2, base, 7, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    seen = ~np.isnan(y)
    assert np.all(a[:, seen] == y[seen]) and np.all(np.isfinite(a))
    assert np.all(np.std(a[:, ~seen], axis=0) > 0)


# ------------------------------------------------------------------ MI vs MMRM, type I error, coverage

def frame_of(y, arm, base, days=(3, 7)):
    n = len(arm)
    ids = [f"S{i:04d}" for i in range(n)]
    parts = [pd.DataFrame({"USUBJID": ids, "ARM": np.take(ARMS2, arm), "DAY": d, "BASE": base[:, 0],
                           "CHG": y[:, j]}) for j, d in enumerate(days)]
    rows = pd.concat(parts, ignore_index=True)
    rows["AVAL"] = rows["CHG"] + rows["BASE"]
    return rows


def test_mi_agrees_with_the_mmrm_likelihood_estimate_under_mar():
    """Both fit y | baseline, arm ~ MVN with a common covariance: the MI estimate of the
    day-7 difference is the MMRM's within Monte Carlo error (and a small
    finite-sample difference)."""
    rng = np.random.default_rng(2024)
    n = 400
    arm = np.repeat([0, 1], n // 2)
    base = rng.normal(0, 10, n)
    y1 = 0.5 * base + 10 * arm + rng.normal(0, 10, n)
    y2 = 0.7 * y1 + 0.2 * base + 8 * arm + rng.normal(0, 8, n)
    y = np.column_stack([y1, y2])
    y[rng.random(n) < 1 / (1 + np.exp(-(y1 - 10) / 8)) * 0.8, 1] = np.nan   # MAR on day 3
    rows = frame_of(y, arm, base[:, None])
    inp = AnalysisInput(id="a", endpoint="pf", endpoint_kind="change", method="mmrm", data=rows,
                        arms=ARMS2, seed=5, target_day=7, options={})
    mmrm = run(inp).comparisons[0]
    mi_result = run(mi_input(rows, ARMS2, seed=5, imputations=400, covariates=("BASE",)))
    c = mi_result.comparisons[0]
    assert np.isnan(y[:, 1]).mean() > 0.2
    monte_carlo_se = mmrm.se * np.sqrt(mi_fmi(mi_result) / 400)
    assert abs(c.estimate - mmrm.estimate) < 4 * monte_carlo_se + 0.05 * mmrm.se
    assert c.se == pytest.approx(mmrm.se, rel=0.1)


def mi_fmi(result) -> float:
    note = next(n for n in result.notes if "fraction of missing information" in n)
    return float(note.split("information ")[1].split(" ")[0])


def simulate_mi(rng, trials, n, effect, m=20):
    covered, rejected = 0, 0
    for _ in range(trials):
        y, arm, base = mvn_trial(rng, n, effect=(effect, effect), dropout=0.0)
        y[rng.random(n) < 1 / (1 + np.exp(-(y[:, 0] - 10) / 8)) * 0.5, 1] = np.nan
        done = mi.impute_visits(y, arm, 2, base, m, rng)
        x = np.column_stack([np.ones(n), arm, base[:, 0]])
        p = mi.pool(mi.ancova_estimates(done[:, :, 1], x, 1))
        lo, hi = p.ci(0.95)
        covered += lo <= effect <= hi
        rejected += p.p_value < 0.05
    return rejected / trials, covered / trials


def test_type_i_error_and_coverage_are_nominal():
    """400 simulated trials (n = 60, MAR dropout about 25%) each: rejection under the null and
    coverage under an effect within 3 Monte Carlo SEs (0.011) of 0.05 and 0.95."""
    rng = np.random.default_rng(77)
    size, coverage_null = simulate_mi(rng, 400, 60, 0.0)
    _, coverage = simulate_mi(rng, 400, 60, 15.0)
    mc = 3 * np.sqrt(0.05 * 0.95 / 400)
    assert abs(size - 0.05) < mc
    assert abs(coverage - 0.95) < mc and abs(coverage_null - 0.95) < mc


# ------------------------------------------------------------------ invariants and options

def test_row_order_does_not_change_the_mi_result():
    data = long_trial("visits_two_arm")
    one = run(mi_input(data, ARMS2, seed=3, imputations=8, covariates=("BASE",)))
    shuffled = data.sample(frac=1.0, random_state=4).reset_index(drop=True)
    two = run(mi_input(shuffled, ARMS2, seed=3, imputations=8, covariates=("BASE",)))
    assert one.to_dict() == two.to_dict()


def test_complete_case_is_the_default_and_changes_nothing():
    data = long_trial("visits_two_arm")
    plain = run(AnalysisInput(
        id="a", endpoint="pf", endpoint_kind="change", method="ancova", data=data, arms=ARMS2,
        options={"covariates": ("BASE",)}, target_day=7))
    explicit = run(AnalysisInput(id="a", endpoint="pf", endpoint_kind="change", method="ancova",
                                 data=data, arms=ARMS2, target_day=7,
                                 options={"covariates": ("BASE",), "missing": "complete_case"}))
    assert plain.comparisons == explicit.comparisons
    assert plain.by_arm["UC-MSC"]["n"] == 25                       # observed on day 7 only


def test_mi_of_a_single_arm_paired_analysis_and_of_a_log_endpoint():
    data = long_trial("visits_two_arm")
    single = data[data["ARM"] == "UC-MSC"].assign(ARM="BM-MSC")
    result = run(mi_input(single, ("BM-MSC",), method="paired", imputations=6))
    [c] = result.comparisons
    assert c.estimand == "mean_change" and c.reference is None and c.ci[0] < c.estimate < c.ci[1]
    assert [t.name for t in result.tests] == ["paired_t"]
    logs = data.assign(CHG=np.log1p(data["CHG"].abs()), BASE=np.log(data["BASE"]))
    log_inp = AnalysisInput(id="a", endpoint="il6", endpoint_kind="change", method="welch",
                            data=logs, arms=ARMS2, options={"missing": "mi", "imputations": 6},
                            target_day=7, transform="log")
    c = run(log_inp).comparisons[0]
    assert c.estimand == "geometric_mean_ratio" and c.estimate > 0 and c.se is None
    assert c.ci[0] < c.estimate < c.ci[1]


def test_a_visit_with_too_few_values_is_not_estimable_with_a_note():
    data = long_trial("visits_two_arm")
    data.loc[(data["DAY"] == 5) & (data.index % 20 != 0), "CHG"] = np.nan   # 3 values left
    result = run(mi_input(data, ARMS2, imputations=4, covariates=("BASE", "AGE")))
    assert result.comparisons[0].estimate is None
    assert any("too few for an imputation model" in n for n in result.notes)


def test_sap_options_of_multiple_imputation_parse():
    from mscstats.plan import parse_sap
    sap = parse_sap("""
[study]
id = "T"
arms = ["control", "MSC"]
[[endpoint]]
id = "pf"
kind = "change"
param = "PF"
day = 7
days = [3, 7]
[[endpoint]]
id = "mort"
kind = "binary"
horizon = 28
event.any = [ { state = "dead" } ]
[[analysis]]
id = "a"
endpoint = "pf"
method = "welch"
missing = "mi"
imputations = 20
mi_reference = "copy_reference"
[[analysis]]
id = "b"
endpoint = "pf"
method = "tipping_point"
deltas = [0, -20.5, -10]
[[analysis]]
id = "c"
endpoint = "mort"
method = "tipping_point"
test = "chi_square"
""")
    a, b, c = sap.analyses
    assert a.options == {"missing": "mi", "imputations": 20, "mi_reference": "copy_reference"}
    assert b.options == {"deltas": (0.0, -20.5, -10.0)}
    assert c.options == {"test": "chi_square"}


def test_reference_based_means_over_three_visits():
    """Treated mean 20 at every visit, reference 0; y2 = 0.8 y1 + ..., y3 = 0.5 y1 + 0.4 y2 + ...
    MCAR dropout after visit 1 or after visit 2. The treated dropouts' imputed visit-3 mean:
    MAR 20; J2R 0 (the reference mean, whatever was observed); CR 0.5 x 20 + 0.4 x 16 = 16.4
    after visit 1 (visit 2 imputed as 0.8 x 20 = 16) and 0.5 x 20 + 0.4 x 20 = 18 after visit 2."""
    rng = np.random.default_rng(8)
    n = 6000
    arm = np.repeat([0, 1], n // 2)
    base = rng.normal(0, 10, n)
    y1 = 20 * arm + 0.3 * base + rng.normal(0, 10, n)
    y2 = 0.8 * y1 + 4 * arm + rng.normal(0, 8, n)
    y3 = 0.5 * y1 + 0.4 * y2 + 2 * arm + rng.normal(0, 6, n)
    y = np.column_stack([y1, y2, y3])
    pattern = rng.integers(0, 3, n)          # 0 complete, 1 dropout after visit 1, 2 after 2
    y[pattern == 1, 1:] = np.nan
    y[pattern == 2, 2] = np.nan
    expected = {"mar": (20, 20), "jump_to_reference": (0, 0), "copy_reference": (16.4, 18)}
    for strategy, (after_1, after_2) in expected.items():
        done = mi.impute_visits(y, arm, 2, base[:, None], 10, np.random.default_rng(9), strategy)
        for group, want in ((1, after_1), (2, after_2)):
            got = done[:, (arm == 1) & (pattern == group), 2].mean()
            assert abs(got - want) < 1.0, (strategy, group, got)


def test_pooling_exact_fits_is_not_estimable():
    """Completed data sets that all fit exactly (SE 0) have no pooled SE: not estimable,
    never 0/0 (the sweep found it at n = 4: 2 subjects an arm, ANCOVA on BASE)."""
    from mscstats.analysis.cores.common import NotEstimable
    exact = mi.Estimates(q=np.array([1.5, 1.5, 1.5]), u=np.zeros(3), dfcom=1.0)
    with pytest.raises(NotEstimable, match="standard error of 0"):
        mi.pool(exact)
    one_exact = mi.Estimates(q=np.array([1.0, 2.0, 1.5]), u=np.array([0.2, 0.0, 0.3]), dfcom=5.0)
    with pytest.raises(NotEstimable):
        mi.pool(one_exact)

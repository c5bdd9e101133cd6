"""Operating characteristics by simulation: seeded, exact pipeline."""

import json

import pytest
from click.testing import CliRunner

from mscstats.cli import main
from mscstats.errors import MscstatsError, SapError
from mscstats.plan import template
from mscstats.simulation.engine import CHUNK, parse_effects, restrict_sap, simulate
from mscstats.simulation.synth import NULL_EFFECT, Effect

KEY = "refractory-hypoxia"


@pytest.fixture(scope="module")
def sap():
    return template(KEY)


def test_type_one_error_within_monte_carlo_error(sap):
    # 400 null trials: the ANCOVA's rejection rate is within 3 MC SE of alpha.
    oc = simulate(KEY, sap, [24], 400, effect=NULL_EFFECT, analyses=["primary"], seed=11)
    (rate,) = oc.rates
    se_alpha = (0.05 * 0.95 / 400) ** 0.5
    assert rate.n_sims == 400 and rate.n_estimable == 400
    assert abs(rate.rate - 0.05) < 3 * se_alpha, rate
    assert abs(rate.mean_estimate) < 15  # P/F units: no systematic effect under the null


def test_power_grows_with_sample_size(sap):
    strong = Effect(recovery_rate=2.0, progression_or=0.4, mortality_or=0.5, cytokine_ratio=0.5)
    oc = simulate(KEY, sap, [16, 80], 50, effect=strong, analyses=["primary"], seed=5)
    small, large = oc.rates
    assert (small.n, large.n) == (16, 80)
    assert large.rate > small.rate + 0.2, (small, large)
    assert large.rate > 0.8


def test_same_seed_same_result_whatever_the_jobs(sap):
    args = dict(analyses=["primary", "mort28_fisher"], seed=3)
    one = simulate(KEY, sap, [20], CHUNK + 5, jobs=1, **args)
    two = simulate(KEY, sap, [20], CHUNK + 5, jobs=2, **args)
    assert one.to_json() == two.to_json()
    other = simulate(KEY, sap, [20], CHUNK + 5, jobs=1, analyses=["primary"], seed=4)
    assert other.rates[0] != one.rates[0]


def test_rates_and_monte_carlo_error(sap):
    oc = simulate(KEY, sap, [20], 10, analyses=["mort28_fisher"], seed=2)
    (rate,) = oc.rates
    assert rate.estimand == "risk_difference"
    assert rate.mc_se == pytest.approx((rate.rate * (1 - rate.rate) / 10) ** 0.5)
    frame = oc.to_frame()
    assert list(frame["rejections"]) == [rate.rejections]


def test_parse_effects_defaults_null_and_arm_settings():
    default = parse_effects(KEY, [])
    assert default["UC-MSC"].recovery_rate == 1.3
    null = parse_effects(KEY, [], null=True)
    assert null == {"UC-MSC": NULL_EFFECT}
    set_ = parse_effects(KEY, ["recovery_rate=1.8", "UC-MSC:mortality_or=0.5"], null=True)
    assert set_["UC-MSC"] == Effect(recovery_rate=1.8, mortality_or=0.5)
    three = parse_effects("three-arm-paxlovid", ["Paxlovid:recovery_rate=1.0"])
    assert three["Paxlovid"].recovery_rate == 1.0 and three["UC-MSC"].recovery_rate == 1.3


@pytest.mark.parametrize("spec, words", [("speed=2", "not an effect setting"),
                                         ("placebo:recovery_rate=2", "not a treated arm"),
                                         ("recovery_rate=fast", "not a number"),
                                         ("recovery_rate=0", "positive"),
                                         ("cytokine_ratio=1e300", "outside the accepted range"),
                                         ("mortality_or=0.0009", "0.001 to 1000")])
def test_parse_effects_errors(spec, words):
    with pytest.raises(MscstatsError, match=words):
        parse_effects(KEY, [spec])


def test_restrict_sap_keeps_named_analyses_and_their_endpoints(sap):
    small = restrict_sap(sap, ["primary", "ttci_logrank"])
    assert [a.id for a in small.analyses] == ["primary", "ttci_logrank"]
    assert {e.id for e in small.endpoints} == {a.endpoint for a in small.analyses}
    assert small.multiplicity.family == ("primary", "ttci_logrank")
    # estimands go with their main analysis; sensitivity lists keep what is left
    assert [(e.id, e.analysis, e.sensitivity) for e in small.estimands] == \
        [("primary", "primary", ()), ("ttci", "ttci_logrank", ())]
    with pytest.raises(SapError, match="nope"):
        restrict_sap(sap, ["nope"])


def test_a_restricted_sap_still_analyzes(sap):
    """The one-trial-at-a-time alternative of the benchmark runs pipeline.analyze on it."""
    from mscstats.pipeline import analyze
    from mscstats.simulation.synth import make_trial
    from mscstats.trial.validate import load_frames
    small = restrict_sap(sap, ["primary_mi", "ttci_logrank"])
    trial = load_frames(make_trial(KEY, n=20, seed=3, tables=("adsl", "visits")), name=KEY,
                        arms=small.study.arms)
    results = analyze(trial, small)
    assert [a.id for a in results.analyses] == ["ttci_logrank", "primary_mi"]   # SAP order
    assert [e.analysis for e in results.estimands] == ["ttci_logrank"]


def test_design_arms_must_match_the_sap(sap):
    with pytest.raises(SapError, match="arms"):
        simulate("three-arm-paxlovid", sap, [30], 2)


def test_cli_writes_operating_characteristics(tmp_path):
    out = tmp_path / "oc.json"
    result = CliRunner().invoke(main, ["simulate", "--design", KEY, "--n-sims", "4", "--n",
                                       "12,20", "--null", "--analyses", "primary",
                                       "--seed", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    oc = json.loads(out.read_text())
    assert [r["n"] for r in oc["results"]] == [12, 20]
    assert oc["effect"] == {"UC-MSC": vars(NULL_EFFECT)}
    assert "rejects" in result.output


@pytest.mark.parametrize("args, code, words", [
    (["--n", "1,x"], 2, "integers"),
    (["--effect", "speed=3"], 2, "not an effect setting"),
    (["--effect", "cytokine_ratio=1e300"], 2, "outside the accepted range 0.001 to 1000"),
    (["--analyses", "nope"], 1, "nope"),
])
def test_cli_errors(tmp_path, args, code, words):
    out = tmp_path / "oc.json"
    result = CliRunner().invoke(main, ["simulate", "--design", KEY, "--n-sims", "2",
                                       "-o", str(out)] + args)
    assert result.exit_code == code, result.output
    assert words in result.output
    assert not out.exists()


def test_dask_scheduler_gives_the_local_result(sap):
    distributed = pytest.importorskip("distributed")
    args = dict(analyses=["primary"], seed=2)
    local = simulate(KEY, sap, [20], CHUNK + 3, **args)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = simulate(KEY, sap, [20], CHUNK + 3, scheduler=cluster.scheduler_address, **args)
    assert remote.to_json() == local.to_json()


def test_an_estimate_without_a_test_has_no_rejection_rate():
    sap = template("single-arm-bm-msc")
    oc = simulate("single-arm-bm-msc", sap, [10], 3, analyses=["ae_any", "pf_change"], seed=1)
    proportion, change = oc.rates
    assert proportion.estimand == "proportion" and proportion.n_estimable == 0
    assert proportion.rate is None and proportion.mc_se is None
    assert proportion.to_dict()["rejection_rate"] is None
    assert change.n_estimable == 3 and change.rate is not None
    assert "ae_any" in str(oc) and "no p-value (an estimate without a test)" in str(oc)

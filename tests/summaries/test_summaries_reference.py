"""The baseline and safety summaries of the five synthetic trials (the committed
golden results.json, which tests/regression proves the pipeline still writes)
against base R (tests/reference/summaries/summaries.R, stored output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden import golden_path

from mscstats.schema import DESIGN_KEYS

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "reference" / "summaries" /
                        "summaries.json").read_text("utf-8"))["cases"]
STATS = ("n", "missing", "mean", "sd", "median", "q1", "q3", "min", "max")


@pytest.fixture(scope="module", params=DESIGN_KEYS)
def case(request):
    ours = json.loads(golden_path(request.param).read_text("utf-8"))
    return ours, REFERENCE[request.param]


def test_baseline_matches_r(case):
    ours, r = case
    assert ours["baseline"]["population"] == r["population"]
    variables = {v["name"]: v for v in ours["baseline"]["variables"]}
    for name in ("AGE", "BMI"):
        mine, ref = variables[name], r["baseline"][name]
        for arm, stats in ref["by_arm"].items():
            for key in STATS:
                assert mine["by_arm"][arm][key] == pytest.approx(stats[key], rel=1e-12), \
                    (name, arm, key)
        for key in STATS:
            assert mine["total"][key] == pytest.approx(ref["total"][key], rel=1e-12)
    sex = variables["SEX"]
    for arm, counts in r["baseline"]["SEX"]["by_arm"].items():
        assert sex["by_arm"][arm]["counts"] == counts
    assert sex["total"]["counts"] == r["baseline"]["SEX"]["total"]


def test_adverse_events_match_r(case):
    ours, r = case
    safety, ref = ours["safety"], r["safety"]
    assert safety["n"] == ref["n"]
    categories = {c["soc"]: c for c in safety["categories"]}
    assert categories["Any adverse event"]["subjects"] == ref["any"]
    assert categories["Any adverse event"]["events"] == ref["any_events"]
    assert categories["Fatal"]["subjects"] == ref["fatal"]
    terms = {(t["soc"], t["term"]): t for t in safety["by_term"] if t["term"]}
    assert len(terms) == len(ref["by_term"])
    for t in ref["by_term"]:
        mine = terms[(t["soc"], t["term"])]
        assert (mine["subjects"], mine["events"]) == (t["subjects"], t["events"])
    grades = {g["grade"]: g["subjects"] for g in safety["by_grade"]}
    for arm, counts in ref["max_grade"].items():
        assert {k: grades[k][arm] for k in counts} == counts
    for arm, rd in (ref["any_rd"] or {}).items():
        mine = categories["Any adverse event"]["risk_differences"][arm]
        assert mine["estimate"] == pytest.approx(rd["estimate"], abs=1e-12)
        assert [mine["lower"], mine["upper"]] == pytest.approx(rd["ci"], abs=1e-12)

"""The summaries of a run read back from their JSON as equal objects, and are in
results.json under their keys."""

from __future__ import annotations

import json

from report_helpers import SYNTHETIC

from mscstats.pipeline import analyze, load
from mscstats.plan import template
from mscstats.summaries.records import (BaselineSummary, CourseSummary, FlowSummary,
                                        SafetySummary)


def test_round_trip_of_a_run():
    sap = template("single-arm-bm-msc")
    results = analyze(load(SYNTHETIC / "single-arm-bm-msc", sap), sap)
    document = json.loads(results.to_json())
    for key, kind in (("baseline", BaselineSummary), ("flow", FlowSummary),
                      ("safety", SafetySummary), ("course", CourseSummary)):
        assert kind.from_dict(document[key]) == getattr(results, key), key
    assert document["flow"]["stages"][0]["label"] == "Enrolled"
    assert document["course"]["params"][0]["param"] == "PF"
    for analysis in results.analyses:
        assert all(type(m).__name__ == "MissingCount" for m in analysis.missingness)

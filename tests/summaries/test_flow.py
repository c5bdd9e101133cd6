"""summaries/flow.py: the CONSORT stages on the four-subject toy trial."""

from __future__ import annotations

from data_builders import trial_tables

from mscstats.plan import template
from mscstats.summaries.flow import planned_follow_up, subject_flow
from mscstats.trial.validate import load_frames

ARMS = ["control", "UC-MSC"]


def _counts(flow) -> dict:
    return {s.name: (tuple(s.by_arm[a] for a in flow.arms), s.total) for s in flow.stages}


def test_stages_of_the_toy():
    tables = trial_tables()
    tables["adsl"]["LSTALVDY"] = ["28", "20", "4", "28"]     # S2 last seen alive on day 20
    flow = subject_flow(load_frames(tables, arms=ARMS), ARMS, follow_up=28)
    assert [s.name for s in flow.stages] == [
        "randomized", "treated", "discontinued", "died", "lost_to_follow_up", "completed",
        "analysed_ITT", "analysed_mITT", "analysed_safety"]
    counts = _counts(flow)
    assert counts["randomized"] == ((2, 2), 4)
    assert counts["treated"] == ((1, 2), 3)          # S1 placebo counts; S3 never dosed
    assert counts["died"] == ((1, 0), 1)             # S3 on day 5
    assert counts["lost_to_follow_up"] == ((0, 1), 1)
    assert counts["discontinued"] == ((1, 1), 2)
    assert counts["completed"] == ((1, 1), 2)
    assert counts["analysed_safety"] == ((1, 2), 3)
    assert flow.stage("randomized").label == "Randomized"
    assert "Screening is not in the data" in flow.notes[0]
    assert "screened" not in counts


def test_arm_without_study_drug_is_not_applicable():
    tables = trial_tables()
    tables["ex"] = tables["ex"][tables["ex"]["USUBJID"] != "S1"]   # control: no ex at all
    flow = subject_flow(load_frames(tables, arms=ARMS), ARMS)
    treated = flow.stage("treated")
    assert treated.by_arm == {"control": None, "UC-MSC": 2}
    assert treated.total == 2
    assert any("not applicable" in n for n in flow.notes)


def test_single_arm_study_says_enrolled():
    tables = trial_tables()
    tables["adsl"]["ARM"] = "BM-MSC"
    flow = subject_flow(load_frames(tables, arms=["BM-MSC"]), ["BM-MSC"])
    assert flow.stage("randomized").label == "Enrolled"
    assert flow.stage("randomized").by_arm == {"BM-MSC": 4}
    assert "starts at enrolment" in flow.notes[0]


def test_round_trip_and_follow_up_of_a_template():
    assert planned_follow_up(template("refractory-hypoxia")) == 28
    flow = subject_flow(load_frames(trial_tables(), arms=ARMS), ARMS)
    assert type(flow).from_dict(flow.to_dict()) == flow

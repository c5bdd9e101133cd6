import copy
import json

from click.testing import CliRunner

from mscstats.cli import main
from mscstats.diff import diff_results

DOC = {
    "mscstats_version": "0.1.0",
    "manifest": {"data_sha256": "ab", "sap_sha256": "cd", "seed": 1,
                 "packages": {"pandas": "2.3.3"}},
    "data_quality": {"rows_read": 10, "rows_used": 9, "converted": [], "dropped": [],
                     "warnings": []},
    "analyses": [
        {"id": "ttci_logrank", "endpoint": "ttci", "method": "logrank",
         "by_arm": {"control": {"n": 30, "events": 21, "median": 12.0, "median_ci": [9.0, 15.0]}},
         "tests": [{"name": "logrank", "statistic": 3.1, "df": 1, "p_value": 0.078}],
         "comparisons": [{"arm": "UC-MSC", "reference": "control", "estimand": "hazard_ratio",
                          "estimate": 1.6, "ci": [0.95, 2.7], "ci_level": 0.95,
                          "p_value": 0.08}]},
        {"id": "primary", "endpoint": "pf_d7", "method": "ancova", "by_arm": {},
         "tests": [], "comparisons": []},
    ],
}


def test_identical_documents_agree():
    assert diff_results(DOC, copy.deepcopy(DOC)).equal


def test_machine_details_are_ignored():
    new = copy.deepcopy(DOC)
    new["manifest"]["packages"]["pandas"] = "9.9"
    new["mscstats_version"] = "0.2.0"
    assert diff_results(DOC, new).equal


def test_p_value_beyond_tolerance_is_named():
    new = copy.deepcopy(DOC)
    new["analyses"][0]["comparisons"][0]["p_value"] = 0.0801
    d = diff_results(DOC, new)
    assert [(c.analysis, c.field, c.old, c.new) for c in d.changes] == [
        ("ttci_logrank", "comparisons[UC-MSC vs control: hazard_ratio].p_value", 0.08, 0.0801)]
    assert "ttci_logrank" in str(d) and "+0.00125" in str(d)
    assert diff_results(DOC, new, rtol=1e-2).equal


def test_within_tolerance_and_reordering_are_not_changes():
    new = copy.deepcopy(DOC)
    new["analyses"].reverse()
    new["analyses"][1]["by_arm"]["control"]["median"] = 12.0 + 1e-9
    assert diff_results(DOC, new).equal


def test_appeared_and_vanished():
    new = copy.deepcopy(DOC)
    del new["analyses"][1]
    new["analyses"].append({"id": "mort28", "endpoint": "mort28", "method": "binary"})
    new["analyses"][0]["by_arm"]["control"]["censored"] = 9
    kinds = {(c.analysis, c.field, c.kind) for c in diff_results(DOC, new).changes}
    assert kinds == {("primary", "", "vanished"), ("mort28", "", "appeared"),
                     ("ttci_logrank", "by_arm.control.censored", "appeared")}


def test_cli_exit_codes(tmp_path):
    old, same, changed = tmp_path / "old.json", tmp_path / "same.json", tmp_path / "new.json"
    old.write_text(json.dumps(DOC))
    same.write_text(json.dumps(DOC))
    new = copy.deepcopy(DOC)
    new["analyses"][0]["tests"][0]["p_value"] = 0.5
    changed.write_text(json.dumps(new))
    runner = CliRunner()
    ok = runner.invoke(main, ["diff", str(old), str(same)])
    assert ok.exit_code == 0 and "results agree" in ok.output
    bad = runner.invoke(main, ["diff", str(old), str(changed)])
    assert bad.exit_code == 1
    assert "tests[logrank].p_value" in bad.output and "0.078" in bad.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    err = runner.invoke(main, ["diff", str(old), str(broken)])
    assert err.exit_code == 1 and "not a results.json" in err.output


def test_a_changed_adverse_event_count_shows_in_the_diff():
    from golden import golden_path
    old = json.loads(golden_path("refractory-hypoxia").read_text("utf-8"))
    new = copy.deepcopy(old)
    row = next(r for r in new["safety"]["by_term"] if r["term"] == "Pyrexia")
    row["subjects"]["UC-MSC"] += 1
    new["flow"]["stages"][0]["by_arm"]["control"] -= 1
    diff = diff_results(old, new)
    fields = {(c.analysis, c.field): (c.old, c.new) for c in diff.changes}
    soc = row["soc"]
    key = ("safety", f"by_term[{soc} / Pyrexia].subjects.UC-MSC")
    assert key in fields and fields[key][1] == fields[key][0] + 1
    assert ("flow", "stages[randomized].by_arm.control") in fields
    assert len(diff.changes) == 2
    assert "by_term[" in str(diff)

"""A sponsor's ADaM export loads as it is and gives the same analyses.

One synthetic trial (mscstats synth) is written twice: (a) in mscstats's own layout
and (b) as an ADaM-style export (tests/adam_export.py: TRT01P, SITEID "01"/"02",
dates and no study days, BDS tables split by domain across xpt, xlsx and parquet
timed by ADT and ATM, two sponsor PARAMCD codes mapped in the SAP). Both run
through the command line; their results.json analyses must be identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adam_export import add_site, export_sap, write_export
from mscstats.cli import main
from mscstats.plan import template_text

KEY = "refractory-hypoxia"
# A text covariate in a model: SITEID enters the ANCOVA and the Cox model as a factor.
SITE_ANALYSES = '''
[[analysis]]
id = "primary_site"
endpoint = "pf_d7"
method = "ancova"
covariates = ["BASE", "SITEID"]

[[analysis]]
id = "ttci_cox_site"
endpoint = "ttci"
method = "cox"
covariates = ["SITEID"]
'''


def _run(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    root = tmp_path_factory.mktemp("adam")
    today, export = root / "today", root / "export"
    assert _run("synth", KEY, "--n", "60", "--seed", "17", "-o", today).exit_code == 0
    add_site(today)
    write_export(today, export)
    text = template_text(KEY) + SITE_ANALYSES
    (root / "today.toml").write_text(text, "utf-8")
    (root / "export.toml").write_text(export_sap(text), "utf-8")
    return root


def _analyze(root: Path, name: str) -> dict:
    out = root / f"{name}.json"
    result = _run("analyze", root / name, "--sap", root / f"{name}.toml", "-o", out)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text("utf-8"))


def test_the_export_holds_no_study_day_and_no_arm_column(trials):
    import pyreadstat
    names = sorted(p.name for p in (trials / "export").iterdir())
    assert names == ["README.txt", "adae.csv", "adbg.parquet", "adlb.xpt", "adsl.xpt",
                     "advs.xlsx", "ex.csv"]
    adsl = pyreadstat.read_xport(str(trials / "export" / "adsl.xpt"))[0]
    assert "ARM" not in adsl and "TRT01P" in adsl
    assert not [c for c in adsl.columns if c.endswith("DY")]
    assert set(adsl["SITEID"]) == {"01", "02"}


def test_export_and_today_give_identical_analyses(trials):
    today, export = _analyze(trials, "today"), _analyze(trials, "export")
    assert [a["id"] for a in export["analyses"]] == [a["id"] for a in today["analyses"]]
    for ours, theirs in zip(today["analyses"], export["analyses"]):
        assert theirs == ours, ours["id"]
    quality = export["data_quality"]
    assert quality["files_not_read"] == ["README.txt"]
    assert quality["rows_read"] == today["data_quality"]["rows_read"]
    assert quality["rows_used"] == today["data_quality"]["rows_used"]
    rules = {(c["file"], c["column"], c["rule"]) for c in quality["converted"]}
    assert ("adbg.parquet", "PARAMCD", "PARAMCD PO2 -> PAO2 ([data.params] of the SAP)") in rules
    assert ("advs.xlsx", "PARAMCD", "PARAMCD WHO -> WHOCPS ([data.params] of the SAP)") in rules
    assert any(f == "adsl.xpt" and c == "DTHDY" and r.startswith("DTHDY from DTHDT")
               for f, c, r in rules)
    assert any(f == "adlb.xpt" and c == "ADY" and r.startswith("ADY from ADT")
               for f, c, r in rules)
    not_used = {(e["file"], e["column"]) for e in quality["not_used"]}
    assert ("adsl.xpt", "STUDYID") in not_used and ("adbg.parquet", "STUDYID") in not_used
    assert not {c for f, c in not_used if f == "adsl.xpt"} & {"DTHDT", "DSCHDT", "LSTALVDT",
                                                               "DTHFL", "RANDDT", "SITEID"}


def test_site_enters_the_models_as_a_factor_named_in_the_notes(trials):
    export = {a["id"]: a for a in _analyze(trials, "export")["analyses"]}
    for analysis_id in ("primary_site", "ttci_cox_site"):
        notes = " ".join(export[analysis_id]["notes"])
        assert "SITEID is a factor: levels 01, 02 (reference 01)" in notes, notes


def test_validate_with_the_sap_accepts_the_export(trials):
    result = _run("validate", trials / "export", "--sap", trials / "export.toml")
    assert result.exit_code == 0, result.output
    assert "files not read: README.txt" in result.output
    assert "columns not used:" in result.output


def test_derive_gives_identical_endpoints(trials):
    tables = []
    for name in ("today", "export"):
        out = trials / f"{name}.csv"
        assert _run("derive", trials / name, "--sap", trials / f"{name}.toml", "-o",
                    out).exit_code == 0
        tables.append(out.read_text("utf-8"))
    assert tables[0] == tables[1]

"""Bad input across loading, the SAP, derivation and analysis, through the CLI.

Each case: exit code 1, a message naming the file and the column (or the SAP
key), and no output file left behind. Loading errors are catalogued in detail
in tests/test_validate.py and SAP errors in tests/test_plan.py; this file
covers the paths between them and what the user sees at the command line.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from mscstats.cli import main

TOY = Path(__file__).parent / "data" / "toy"


@pytest.fixture
def toy(tmp_path):
    trial = tmp_path / "trial"
    shutil.copytree(TOY, trial)
    return trial


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _edit_csv(path: Path, edit):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame)
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("command", ["derive", "analyze"])
def test_failure_leaves_no_output_and_keeps_an_old_one(toy, tmp_path, command):
    _edit_csv(toy / "visits.csv", lambda f: f.__setitem__("AVAL", f["AVAL"].where(f.index != 3,
                                                                                   "high")))
    fresh, old = tmp_path / "fresh.out", tmp_path / "old.out"
    old.write_text("previous results\n")
    for out in (fresh, old):
        result = _run(command, toy, "--sap", toy / "sap.toml", "-o", out)
        assert result.exit_code == 1
        assert "visits.csv row 4, column AVAL" in result.output
        assert "Traceback" not in result.output
    assert not fresh.exists()
    assert old.read_text() == "previous results\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_sap_typo_through_the_cli(toy):
    sap = toy / "sap.toml"
    sap.write_text(sap.read_text().replace("horizon = 14", "horizn = 14"))
    result = _run("derive", toy, "--sap", sap, "-o", toy / "e.csv")
    assert result.exit_code == 1
    assert "sap.toml: endpoint[ra_spo2].horizn: unknown key. Fix: did you mean 'horizon'?" \
        in result.output


def test_arm_not_in_the_sap(toy):
    sap = toy / "sap.toml"
    sap.write_text(sap.read_text().replace('arms = ["control", "MSC"]', 'arms = ["control", "UC-MSC"]'))
    result = _run("validate", toy, "--sap", sap)
    assert result.exit_code == 1
    assert "adsl.csv" in result.output and "column ARM" in result.output
    assert "UC-MSC" in result.output


def test_sap_parameter_missing_from_data(toy):
    sap = toy / "sap.toml"
    sap.write_text(sap.read_text().replace('param = "IL6"', 'param = "DDIMER"'))
    result = _run("derive", toy, "--sap", sap, "-o", toy / "e.csv")
    assert result.exit_code == 1
    assert "endpoint[il6_d7]: reads parameter DDIMER, which the data lack" in result.output


def test_subject_in_two_arms(toy):
    _edit_csv(toy / "adsl.csv", lambda f: f.__setitem__(
        "USUBJID", f["USUBJID"].where(f.index != 3, "S01")))
    result = _run("validate", toy)
    assert result.exit_code == 1
    assert "adsl.csv" in result.output and "column USUBJID" in result.output


def test_death_before_a_recorded_visit(toy):
    _edit_csv(toy / "adsl.csv", lambda f: f.__setitem__(
        "DTHDY", f["DTHDY"].where(f["USUBJID"] != "S02", "5")))
    result = _run("validate", toy)
    assert result.exit_code == 1
    assert "visits.csv" in result.output and "S02" in result.output


def test_non_ascii_subject_ids_load_and_derive(toy, tmp_path):
    for name in ("adsl.csv", "visits.csv", "adae.csv", "ex.csv"):
        _edit_csv(toy / name, lambda f: f.__setitem__("USUBJID", f["USUBJID"].str.replace(
            "S0", "Ñü-é")))
    out = tmp_path / "endpoints.csv"
    result = _run("derive", toy, "--sap", toy / "sap.toml", "-o", out)
    assert result.exit_code == 0, result.output
    assert "Ñü-é1" in out.read_text("utf-8")


def test_crlf_and_byte_order_mark_load(toy):
    for name in ("adsl.csv", "visits.csv"):
        text = (toy / name).read_text()
        (toy / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    result = _run("validate", toy)
    assert result.exit_code == 0, result.output
    assert "6 subjects" in result.output


def test_semicolon_separated_files_load(toy):
    frame = pd.read_csv(toy / "adsl.csv", dtype=str, keep_default_na=False)
    frame.to_csv(toy / "adsl.csv", sep=";", index=False)
    result = _run("validate", toy)
    assert result.exit_code == 0, result.output


def test_missing_directory_is_a_clear_error(tmp_path):
    result = _run("validate", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "nowhere" in result.output and "Traceback" not in result.output


def test_outputs_get_the_usual_file_mode(toy, tmp_path):
    import os
    out = tmp_path / "endpoints.csv"
    result = _run("derive", toy, "--sap", toy / "sap.toml", "-o", out)
    assert result.exit_code == 0, result.output
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask

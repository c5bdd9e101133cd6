"""The readers and the ADaM rules one at a time (formats, dates, text, SAP keys).

The end-to-end check is tests/trial/test_adam_export.py; the command-line cases are in
tests/test_catalogue.py ("ADaM export" block).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mscstats.errors import DataError, SapError
from mscstats.trial.io import read_tables
from mscstats.pipeline import check, load
from mscstats.plan import parse_sap, read_sap
from mscstats.trial.validate import load_frames, load_trial
from mscstats.trial.validate_adam import _number_date, _number_datetime, _one_clock, study_days
from conftest import TESTS

SAS7BDAT = TESTS / "data" / "sas7bdat" / "adsl.sas7bdat"
TOY = TESTS / "data" / "toy"
D = np.datetime64


# --------------------------------------------------------------------------- dates and days

def test_study_days_have_no_day_zero():
    day_one = np.array([D("2024-03-05")] * 4, dtype="datetime64[D]")
    dates = np.array(["2024-03-05", "2024-03-06", "2024-03-04", "2024-02-05"],
                     dtype="datetime64[D]")
    assert study_days(dates, day_one).tolist() == [1, 2, -1, -29]
    assert np.isnan(study_days(np.array(["NaT"], dtype="datetime64[D]"), day_one[:1]))[0]


def test_sas_and_excel_numbers_are_dates_by_their_own_origin():
    # 2024-03-01: 23436 days after 1960-01-01 (SAS), serial 45352 in Excel (1900 system)
    assert (dt.date(2024, 3, 1) - dt.date(1960, 1, 1)).days == 23436
    assert _number_date(23436.0, "sas") == (D("2024-03-01", "D"), "")
    assert _number_date(45352.0, "excel") == (D("2024-03-01", "D"), "")
    assert _number_date(45352.5, "excel") == (D("2024-03-01", "D"), "12:00")
    assert _number_date(45352.0, "text") is None          # a number in a CSV is no date
    assert _number_date(45352.0, "parquet") is None
    # SAS datetime: seconds from 1960-01-01 00:00
    assert _number_datetime(23436 * 86400 + 8 * 3600 + 30 * 60.0, "sas") == (
        D("2024-03-01", "D"), "08:30")


def test_clock_times_from_text_sas_seconds_and_excel_fractions():
    assert _one_clock("08:30", "text") == "08:30"
    assert _one_clock(30600.0, "sas") == "08:30"
    assert _one_clock(30600 / 86400, "excel") == "08:30"
    assert _one_clock(dt.time(8, 30), "excel") == "08:30"
    assert _one_clock(30600.0, "excel") is None          # not a fraction of a day


# --------------------------------------------------------------------------- sas7bdat

def _toy_without(tmp_path: Path, *names: str) -> Path:
    trial = tmp_path / "trial"
    shutil.copytree(TOY, trial, ignore=shutil.ignore_patterns("expected_endpoints.csv",
                                                              "sap.toml", *names))
    return trial


def test_sas7bdat_adsl_with_sas_dates_and_trt01p(tmp_path):
    """adsl.sas7bdat was written by haven::write_sas (tests/data/sas7bdat/make_adsl.R)."""
    trial = _toy_without(tmp_path, "adsl.csv", "visits.csv", "adae.csv", "ex.csv")
    shutil.copy(SAS7BDAT, trial / "adsl.sas7bdat")
    adsl = load_trial(trial).adsl.set_index("USUBJID")
    assert adsl["ARM"].to_dict() == {"S01": "control", "S02": "MSC", "S03": "MSC"}
    assert adsl["SITEID"].tolist() == ["01", "02", "01"]
    # S02: randomized 2024-03-05, died 2024-03-14 -> day 10; S03 last alive 2024-03-20 -> 12
    assert adsl.loc["S02", "DTHDY"] == 10 and adsl.loc["S02", "LSTALVDY"] == 10
    assert adsl.loc["S01", "LSTALVDY"] == 28 and adsl.loc["S03", "LSTALVDY"] == 12
    assert np.isnan(adsl.loc["S01", "DTHDY"])


# --------------------------------------------------------------------------- text stays text

def _adsl_frame() -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": ["007", "010"], "ARM": ["control", "MSC"],
                         "SITEID": ["01", "02"], "STRATUM": ["01", "02"], "REGION": ["1", "2"],
                         "WEIGHT": [70.5, 80.0], "LSTALVDY": [28.0, 28.0]})


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".xpt":
        import pyreadstat
        pyreadstat.write_xport(frame, str(path), table_name="ADSL")
    else:
        frame.to_excel(path, index=False, sheet_name="adsl")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xpt", ".xlsx"])
def test_text_stays_text_in_every_reader(tmp_path, suffix):
    _write(_adsl_frame(), tmp_path / f"adsl{suffix}")
    adsl = load_trial(tmp_path).adsl.set_index("USUBJID")
    assert adsl.index.tolist() == ["007", "010"]
    assert adsl["SITEID"].tolist() == ["01", "02"] and adsl["STRATUM"].tolist() == ["01", "02"]
    assert adsl["WEIGHT"].tolist() == [70.5, 80.0]
    # a text column (or text cell) of a typed file stays text; in a CSV "1", "2" are numbers
    assert adsl["REGION"].tolist() == ([1.0, 2.0] if suffix == ".csv" else ["1", "2"])


def test_an_excel_serial_date_in_adsl_is_a_date(tmp_path):
    frame = _adsl_frame().drop(columns="LSTALVDY").assign(RANDDT=[45352, 45353],
                                                         LSTALVDT=[45379, 45353])
    frame.to_excel(tmp_path / "adsl.xlsx", index=False)
    adsl = load_trial(tmp_path).adsl.set_index("USUBJID")
    assert adsl["LSTALVDY"].tolist() == [28.0, 1.0]


# --------------------------------------------------------------------------- files

def test_workbook_with_sheets_named_after_tables(tmp_path):
    trial = _toy_without(tmp_path, "adsl.csv", "visits.csv")
    with pd.ExcelWriter(trial / "export.xlsx") as book:
        pd.read_csv(TOY / "adsl.csv", dtype=str, keep_default_na=False).to_excel(
            book, sheet_name="adsl", index=False)
        pd.read_csv(TOY / "visits.csv", dtype=str, keep_default_na=False).to_excel(
            book, sheet_name="adlb", index=False)
        pd.DataFrame({"NOTE": ["hello"]}).to_excel(book, sheet_name="notes", index=False)
    raw = read_tables(trial)
    assert list(raw.tables) == ["adsl", "adae", "ex", "adlb"]
    assert raw["adlb"].file == "export.xlsx[adlb]" and raw["adlb"].bds
    assert raw.files_not_read == ("export.xlsx[notes]",)
    reference = load_trial(TOY)
    trial = load_trial(trial)
    assert trial.visits[["USUBJID", "ADY", "PARAMCD", "AVAL"]].equals(
        reference.visits[["USUBJID", "ADY", "PARAMCD", "AVAL"]])


def test_a_time_to_event_table_is_not_read_and_is_named(tmp_path):
    trial = _toy_without(tmp_path)
    pd.DataFrame({"USUBJID": ["S01"], "PARAMCD": ["TTCI"], "AVAL": [3.0], "CNSR": [0]}
                 ).to_csv(trial / "adtte.csv", index=False)
    raw = read_tables(trial)
    assert "adtte" not in raw and raw.files_not_read == ("adtte.csv",)
    assert any("time-to-event table" in n for n in raw.notes)


def test_every_unused_column_is_listed(tmp_path):
    trial = _toy_without(tmp_path)
    adsl = pd.read_csv(trial / "adsl.csv", dtype=str, keep_default_na=False)
    adsl.assign(STUDYID="T1", RACE="X").to_csv(trial / "adsl.csv", index=False)
    log = load_trial(trial).quality.to_dict()
    assert log["not_used"] == [{"file": "adsl.csv", "column": "STUDYID"},
                               {"file": "adsl.csv", "column": "RACE"}]


def test_in_memory_bds_tables_are_read_like_files():
    adsl = pd.read_csv(TOY / "adsl.csv", dtype=str, keep_default_na=False)
    visits = pd.read_csv(TOY / "visits.csv", dtype=str, keep_default_na=False)
    lab = visits["PARAMCD"] == "IL6"
    split = load_frames({"adsl": adsl, "visits": visits[~lab], "adlb": visits[lab]})
    whole = load_frames({"adsl": adsl, "visits": visits})
    pd.testing.assert_frame_equal(split.visits, whole.visits)


# --------------------------------------------------------------------------- the SAP

def test_data_arm_and_params_parse():
    base = (TOY / "sap.toml").read_text("utf-8")
    sap = parse_sap(base + '[data]\narm = "trt01a"\n[data.params]\nPAO2 = "po2"\nIL6 = "IL6X"\n')
    assert sap.data.arm == "TRT01A"
    assert sap.data.params == (("PAO2", "PO2"), ("IL6", "IL6X"))
    with pytest.raises(SapError, match="data.params.PF: PF is not a parameter mscstats knows"):
        parse_sap(base + '[data.params]\nPF = "PFR"\n')
    with pytest.raises(SapError, match="PO2 is also mapped to PAO2"):
        parse_sap(base + '[data.params]\nPAO2 = "PO2"\nSPO2 = "po2"\n')
    with pytest.raises(SapError, match="data.params.PAO2: must be a non-empty string"):
        parse_sap(base + '[data.params]\nPAO2 = 3\n')


# --------------------------------------------------------------------------- validate parity

ANCOVA_WEIGHT = ('\n[[analysis]]\nid = "x"\nendpoint = "pf_d7"\nmethod = "ancova"\n'
                 'covariates = ["BASE", "WEIGHT"]\n')


@pytest.mark.parametrize("old,new,words", [
    ('param = "IL6"', 'param = "DDIMER"', "reads parameter DDIMER, which the data lack"),
    ('method = "logrank"\n', 'method = "logrank"\n' + ANCOVA_WEIGHT,
     "names covariate or stratum WEIGHT, which adsl lacks"),
])
def test_validate_with_the_sap_refuses_what_analyze_refuses(tmp_path, old, new, words):
    text = (TOY / "sap.toml").read_text("utf-8")
    assert old in text
    path = tmp_path / "sap.toml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    sap = read_sap(path)
    trial = load(TOY, sap)
    with pytest.raises(SapError, match=words):
        check(trial, sap)
    from mscstats.pipeline import analyze
    with pytest.raises(SapError, match=words):
        analyze(trial, sap)


def test_validate_with_the_sap_passes_what_analyze_accepts():
    sap = read_sap(TOY / "sap.toml")
    assert check(load(TOY, sap), sap) == []   # nothing analyze would refuse or not estimate


def test_dates_that_cannot_be_read_are_errors(tmp_path):
    trial = _toy_without(tmp_path)
    adsl = pd.read_csv(trial / "adsl.csv", dtype=str, keep_default_na=False)
    adsl.assign(RANDDT=["2024-03-01", "2024-02-30", "45352", "", "2024-03", "2024-03-01"],
                DTHDT="").to_csv(trial / "adsl.csv", index=False)
    with pytest.raises(DataError) as err:
        load_trial(trial)
    text = str(err.value)
    assert "adsl.csv row 2, column RANDDT: RANDDT is not a date (a number in a CSV file is " \
           "not a date)" in text
    for value in ("'2024-02-30'", "'45352'", "'2024-03'"):
        assert value in text


def test_records_timed_by_adtm_alone(tmp_path):
    """ADTM (ISO datetime) gives both the study day and the clock time."""
    trial = _toy_without(tmp_path)
    adsl = pd.read_csv(trial / "adsl.csv", dtype=str, keep_default_na=False)
    adsl.assign(RANDDT="2024-03-01").to_csv(trial / "adsl.csv", index=False)
    visits = pd.read_csv(trial / "visits.csv", dtype=str, keep_default_na=False)
    day = visits["ADY"].astype(int)
    stamp = (pd.Timestamp("2024-03-01") + pd.to_timedelta(np.where(day > 0, day - 1, day), "D"))
    clock = visits["ATM"].where(visits["ATM"] == "", "T" + visits["ATM"])
    visits.assign(ADTM=stamp.strftime("%Y-%m-%d") + clock).drop(columns=["ADY", "ATM"]).to_csv(
        trial / "visits.csv", index=False)
    timed = load_trial(trial)
    reference = load_trial(TOY)
    assert (reference.visits["ATM"] != "").any()
    pd.testing.assert_frame_equal(timed.visits, reference.visits)
    rules = {(c["column"], c["rule"].split(" (")[0]) for c in timed.quality.converted}
    assert {("ADY", "ADY from ADTM"), ("ATM", "ATM from ADTM")} <= rules


def test_pao2_and_fio2_in_two_tables_are_paired_for_the_warnings(tmp_path):
    """FiO2 in another BDS table than PaO2 is still that day's FiO2: no false warning."""
    trial = _toy_without(tmp_path)
    visits = pd.read_csv(trial / "visits.csv", dtype=str, keep_default_na=False)
    fio2 = visits["PARAMCD"] == "FIO2"
    visits[fio2].to_csv(trial / "advs.csv", index=False)
    visits[~fio2].to_csv(trial / "visits.csv", index=False)
    split, whole = load_trial(trial), load_trial(TOY)
    pd.testing.assert_frame_equal(split.visits, whole.visits)

    def fio2_warnings(t):
        return sorted((w["message"], w["n"]) for w in t.quality.warnings if "FIO2" in w["message"])
    assert fio2_warnings(split) == fio2_warnings(whole)

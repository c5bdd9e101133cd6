"""Validation: every error names file, row, column and fix; conversions, duplicates,
below-LLOQ rules and the row accounting."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from data_builders import ARMS, trial_tables, with_visit, write_trial
from mscstats.cli import main
from mscstats.errors import DataError, SapError
from mscstats.plan import DataRules
from mscstats.trial.quality import row_ranges
from mscstats.schema import KPA_TO_MMHG
from mscstats.trial.validate import load_trial


def visit_row(tables, subject, day, param):
    """Index of the record of one subject, day and parameter in the builder's visits."""
    v = tables["visits"]
    hit = v.index[(v["USUBJID"] == subject) & (v["ADY"] == str(day)) & (v["PARAMCD"] == param)]
    assert len(hit) == 1
    return hit[0]


def set_visit(tables, subject, day, param, **cells):
    i = visit_row(tables, subject, day, param)
    for column, value in cells.items():
        tables["visits"].loc[i, column] = str(value)


def accounted(trial):
    log = trial.quality
    log.check()
    for file, n in log.rows_read.items():
        dropped = log.n_dropped(file)
        assert 0 <= dropped <= n
    return log


# --------------------------------------------------------------------------- clean trial

def test_clean_trial_is_canonical(tmp_path):
    trial = load_trial(write_trial(tmp_path), arms=ARMS)
    assert trial.arms == ["control", "UC-MSC"]
    adsl = trial.adsl
    assert list(adsl.columns) == ["USUBJID", "ARM", "LSTALVDY", "DTHDY", "DSCHDY", "ITTFL",
                                  "SAFFL", "AGE", "SEX"]
    assert adsl["USUBJID"].tolist() == ["S1", "S3", "S2", "S4"]    # by SAP arm, then id
    assert adsl["DTHDY"].isna().tolist() == [True, False, True, True]
    assert adsl["LSTALVDY"].dtype == float and adsl["ITTFL"].tolist() == ["Y"] * 4
    # SAFFL: dosed in ex (S1 got placebo, EXDOSE 0, which counts); S3 never dosed
    assert dict(zip(adsl["USUBJID"], adsl["SAFFL"])) == {"S1": "Y", "S2": "Y", "S3": "N",
                                                         "S4": "Y"}
    visits = trial.visits
    assert list(visits.columns) == ["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC",
                                    "LLOQ", "FLAG"]
    assert visits["ADY"].dtype == np.int64 and visits["AVAL"].dtype == float
    assert visits["USUBJID"].dtype == object and (visits["FLAG"] == "").all()
    assert len(visits) == 77
    oxydev = visits[visits["PARAMCD"] == "OXYDEV"]
    assert oxydev["AVAL"].isna().all() and set(oxydev["AVALC"]) == {"HFNC", "NC", "NIV"}
    pao2 = visits[(visits["USUBJID"] == "S2") & (visits["ADY"] == 3)
                  & (visits["PARAMCD"] == "PAO2")]
    assert pao2["AVAL"].tolist() == [80.0] and pao2["ATM"].tolist() == ["09:10"]
    assert trial.adae["AETOXGR"].tolist() == [1.0, 5.0, 2.0]       # MODERATE -> 2
    assert trial.adae["AESTDY"].dtype == np.int64 and trial.ex["EXSTDY"].dtype == np.int64
    log = accounted(trial)
    assert log.rows_read == {"adsl.csv": 4, "visits.csv": 77, "adae.csv": 3, "ex.csv": 5}
    assert log.rows_used == 89 and not log.dropped and not log.warnings
    assert trial.files == {"adsl": "adsl.csv", "visits": "visits.csv", "adae": "adae.csv",
                           "ex": "ex.csv"}
    assert len(trial.data_sha256) == 64


def test_population_flags_given_and_defaulted(tmp_path):
    tables = trial_tables()
    tables["adsl"]["ITTFL"] = ["Y", "y", "", "N"]
    tables["adsl"]["SAFFL"] = ["", "Y", "", "N"]
    trial = load_trial(write_trial(tmp_path, tables))
    flags = trial.adsl.set_index("USUBJID")
    assert flags["ITTFL"].to_dict() == {"S1": "Y", "S2": "Y", "S3": "Y", "S4": "N"}
    assert flags["SAFFL"].to_dict() == {"S1": "Y", "S2": "Y", "S3": "N", "S4": "N"}
    rules = {c["rule"]: c["rows"] for c in trial.quality.converted}
    assert rules["ITTFL empty -> Y (randomized)"] == "3"
    assert rules["SAFFL empty -> Y if dosed in ex (or the arm has no doses), else N"] == "1,3"
    tables["ex"] = None
    (tmp_path / "ex.csv").unlink()
    trial = load_trial(write_trial(tmp_path, tables))
    assert trial.adsl.set_index("USUBJID")["SAFFL"].to_dict()["S3"] == "Y"


def test_arm_without_doses_is_in_the_safety_population(tmp_path):
    tables = trial_tables()
    tables["ex"] = tables["ex"][tables["ex"]["USUBJID"] != "S1"]    # control arm: no ex rows
    trial = load_trial(write_trial(tmp_path, tables))
    assert trial.adsl.set_index("USUBJID")["SAFFL"].to_dict() == {
        "S1": "Y", "S2": "Y", "S3": "Y", "S4": "Y"}


# --------------------------------------------------------------------------- errors

def _drop_column(name, column):
    def mutate(t):
        t[name] = t[name].drop(columns=column)
    return mutate


def _cell(name, row, column, value):
    def mutate(t):
        t[name].loc[row, column] = value
    return mutate


def _visit(subject, day, param, **cells):
    return lambda t: set_visit(t, subject, day, param, **cells)


def _add_visit(**cells):
    def mutate(t):
        t["visits"] = with_visit(t["visits"], **cells)
    return mutate


def _append(name, **cells):
    def mutate(t):
        row = {c: "" for c in t[name].columns}
        row.update(cells)
        t[name] = pd.concat([t[name], pd.DataFrame([row])], ignore_index=True)
    return mutate


def _all_pao2(unit="", scale=1.0):
    def mutate(t):
        v = t["visits"]
        pao2 = v["PARAMCD"] == "PAO2"
        v.loc[pao2, "AVAL"] = (v.loc[pao2, "AVAL"].astype(float) * scale).map("{:.2f}".format)
        v.loc[pao2, "AVALU"] = unit
    return mutate


# (id, mutation, file, row, column, words in the message)
ERRORS = [
    ("adsl column missing", _drop_column("adsl", "ARM"), "adsl.csv", None, "ARM",
     "required column ARM is missing"),
    ("visits column missing", _drop_column("visits", "PARAMCD"), "visits.csv", None, "PARAMCD",
     "required column PARAMCD"),
    ("LSTALVDY column missing", _drop_column("adsl", "LSTALVDY"), "adsl.csv", None, "LSTALVDY",
     "required column LSTALVDY"),
    ("adae grade columns missing", lambda t: t.update(adae=t["adae"].drop(
        columns=["AETOXGR", "AESEV"])), "adae.csv", None, "AETOXGR", "AETOXGR"),
    ("duplicate USUBJID", _append("adsl", USUBJID="S2", ARM="UC-MSC", LSTALVDY="28"),
     "adsl.csv", 2, "USUBJID", "duplicate USUBJID"),
    ("subject in two arms", _append("adsl", USUBJID="S2", ARM="control", LSTALVDY="28"),
     "adsl.csv", 2, "ARM", "two arms"),
    ("two arms across tables", lambda t: t["ex"].insert(1, "ARM", ["control", "UC-MSC",
                                                                   "control", "UC-MSC",
                                                                   "UC-MSC"]),
     "ex.csv", 3, "ARM", "two arms"),
    ("visit of unknown subject", _add_visit(USUBJID="S9", ADY=1, PARAMCD="SPO2", AVAL=95),
     "visits.csv", 78, "USUBJID", "not in adsl.csv"),
    ("AE of unknown subject", _cell("adae", 1, "USUBJID", "S7"), "adae.csv", 2, "USUBJID",
     "not in adsl.csv"),
    ("dose of unknown subject", _cell("ex", 4, "USUBJID", "S5"), "ex.csv", 5, "USUBJID",
     "not in adsl.csv"),
    ("AVAL not a number", _visit("S1", 2, "PAO2", AVAL="eighty"), "visits.csv", None, "AVAL",
     "not a number"),
    ("AVALC text for a number", _visit("S1", 2, "SPO2", AVAL="", AVALC="high"), "visits.csv",
     None, "AVALC", "needs a number"),
    ("ADY not a number", _visit("S1", 2, "SPO2", ADY="two"), "visits.csv", None, "ADY",
     "ADY is not a number"),
    ("ADY not whole", _visit("S1", 2, "SPO2", ADY="2.5"), "visits.csv", None, "ADY",
     "not a whole day"),
    ("ADY zero", _visit("S1", 1, "SPO2", ADY="0"), "visits.csv", None, "ADY", "no day 0"),
    ("ADY empty", _visit("S1", 1, "SPO2", ADY=""), "visits.csv", None, "ADY", "ADY is empty"),
    ("FIO2 below 0.21", _visit("S1", 1, "FIO2", AVAL="0.15"), "visits.csv", None, "AVAL",
     "FIO2 outside the possible range 0.21-1"),
    ("FIO2 percent above 100", _visit("S1", 1, "FIO2", AVAL="150", AVALU="%"), "visits.csv",
     None, "AVAL", "FIO2 outside the possible range"),
    ("FIO2 unit-less 1-21", _visit("S1", 1, "FIO2", AVAL="12"), "visits.csv", None, "AVAL",
     "neither a fraction"),
    ("PAO2 probably kPa", _all_pao2(scale=1 / KPA_TO_MMHG), "visits.csv", None, "AVALU",
     "plausible only in kPa"),
    ("unknown unit", _visit("S2", 1, "PAO2", AVALU="psi"), "visits.csv", None, "AVALU",
     "unit not known"),
    ("unit for a unit-less score", _visit("S2", 1, "WHOCPS", AVALU="points"), "visits.csv",
     None, "AVALU", "unit not known"),
    ("negative cytokine", _visit("S2", 1, "IL6", AVAL="-3"), "visits.csv", None, "AVAL",
     "IL6 outside the possible range >= 0"),
    ("WHOCPS above 10", _visit("S2", 1, "WHOCPS", AVAL="11"), "visits.csv", None, "AVAL",
     "WHOCPS outside the possible range 0-10"),
    ("WHOCPS not whole", _visit("S2", 1, "WHOCPS", AVAL="5.5"), "visits.csv", None, "AVAL",
     "WHOCPS is not a whole number"),
    ("OXYDEV unknown", _visit("S2", 1, "OXYDEV", AVALC="helmet thing"), "visits.csv", None,
     "AVALC", "OXYDEV value not recognised"),
    ("visit after death", _add_visit(USUBJID="S3", ADY=6, ATM="08:00", PARAMCD="SPO2", AVAL=88),
     "visits.csv", 78, "ADY", "a visit after the subject's death day"),
    ("AE after death", _cell("adae", 1, "AESTDY", "9"), "adae.csv", 2, "AESTDY",
     "after the subject's death day"),
    ("LSTALVDY empty", _cell("adsl", 0, "LSTALVDY", ""), "adsl.csv", 1, "LSTALVDY",
     "LSTALVDY (last day known alive) is empty"),
    ("death before discharge", _cell("adsl", 0, "DTHDY", "7"), "adsl.csv", 1, "DTHDY",
     "died before being discharged"),
    ("alive after death", _cell("adsl", 2, "LSTALVDY", "9"), "adsl.csv", 3, "LSTALVDY",
     "known alive after death"),
    ("last alive before discharge", _cell("adsl", 3, "LSTALVDY", "6"), "adsl.csv", 4,
     "LSTALVDY", "alive at discharge"),
    ("death day 0", _cell("adsl", 2, "DTHDY", "0"), "adsl.csv", 3, "DTHDY", "no day 0"),
    ("AGE not a number", _cell("adsl", 1, "AGE", "fifty"), "adsl.csv", 2, "AGE",
     "AGE is not a number"),
    ("ITTFL not Y/N", lambda t: t["adsl"].insert(2, "ITTFL", ["Y", "maybe", "Y", "Y"]),
     "adsl.csv", 2, "ITTFL", "ITTFL must be one of Y, N"),
    ("grade out of range", _cell("adae", 0, "AETOXGR", "7"), "adae.csv", 1, "AETOXGR",
     "not a CTCAE grade"),
    ("AESEV unknown", _cell("adae", 2, "AESEV", "HORRIBLE"), "adae.csv", 3, "AESEV",
     "AESEV must be one of MILD, MODERATE, SEVERE, FATAL"),
    ("AESER not Y/N", _cell("adae", 2, "AESER", "perhaps"), "adae.csv", 3, "AESER",
     "AESER must be one of Y, N"),
    ("ATM not a time", _visit("S2", 1, "SPO2", ATM="25:00"), "visits.csv", None, "ATM",
     "not a clock time"),
    ("below LLOQ without LLOQ", _visit("S2", 1, "TNFA", AVAL="", AVALC="<LLOQ"), "visits.csv",
     None, "LLOQ", "no LLOQ is given"),
    ("pass-through param in two units", lambda t: [
        _add_visit(USUBJID="S1", ADY=1, PARAMCD="CRP", AVAL=12, AVALU="mg/L")(t),
        _add_visit(USUBJID="S1", ADY=2, PARAMCD="CRP", AVAL=1.1, AVALU="mg/dL")(t)],
     "visits.csv", 78, "AVALU", "CRP is given in several units"),
    ("EXSTDY empty", _cell("ex", 2, "EXSTDY", ""), "ex.csv", 3, "EXSTDY", "EXSTDY is empty"),
    ("PARAMCD empty", _visit("S1", 1, "SPO2", PARAMCD=""), "visits.csv", None, "PARAMCD",
     "PARAMCD is empty"),
    ("no subjects", lambda t: t.update(adsl=t["adsl"].iloc[:0]), "adsl.csv", None, "USUBJID",
     "no subjects"),
]


def _error_trial(tmp_path, mutate):
    tables = trial_tables()
    mutate(tables)
    if tables["adsl"].empty:
        for name in ("visits", "adae", "ex"):
            tables[name] = None
    return write_trial(tmp_path, tables)


@pytest.mark.parametrize("mutate,file,row,column,words",
                         [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_file_row_column_and_fix(tmp_path, mutate, file, row, column, words):
    directory = _error_trial(tmp_path, mutate)
    with pytest.raises(DataError) as err:
        load_trial(directory)
    hits = [p for p in err.value.problems if p.file == file and p.column == column]
    assert hits, str(err.value)
    problem = hits[0]
    assert words in problem.message
    assert problem.fix
    if row is not None:
        assert problem.row == row
    line = str(problem)
    assert line.startswith(file) and f"column {column}" in line and "Fix:" in line

    result = CliRunner().invoke(main, ["validate", str(directory)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{file}" in result.output and f"column {column}" in result.output
    assert words in result.output


def test_unknown_arm_is_an_error_only_against_the_sap(tmp_path):
    directory = write_trial(tmp_path)
    with pytest.raises(DataError) as err:
        load_trial(directory, arms=["placebo", "UC-MSC"])
    (problem,) = err.value.problems
    assert (problem.file, problem.row, problem.column) == ("adsl.csv", 1, "ARM")
    assert "'control'" in problem.message and "2 rows: 1, 3" in problem.message
    assert "'placebo', 'UC-MSC'" in problem.fix
    trial = load_trial(directory, arms=["control", "UC-MSC", "Paxlovid"])
    assert any("'Paxlovid' of the SAP has no subjects" in w["message"]
               for w in trial.quality.warnings)


def test_all_problems_are_listed_at_once(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 2, "PAO2", AVAL="eighty")
    set_visit(tables, "S4", 3, "FIO2", AVAL="0.1")
    tables["adae"].loc[0, "USUBJID"] = "S8"
    tables["adsl"].loc[1, "LSTALVDY"] = ""
    with pytest.raises(DataError) as err:
        load_trial(write_trial(tmp_path, tables))
    where = {(p.file, p.column) for p in err.value.problems}
    assert where == {("visits.csv", "AVAL"), ("adae.csv", "USUBJID"), ("adsl.csv", "LSTALVDY")}
    assert len(err.value.problems) == 4
    assert str(err.value).startswith("4 errors in the trial data:")


def test_many_bad_rows_give_a_short_message(tmp_path):
    tables = trial_tables()
    # days stay within ten years of day 1 (study_days.MAX_STUDY_DAY)
    bad = pd.DataFrame({"USUBJID": "S1", "ADY": [str(10 + d % 3000) for d in range(5000)],
                        "ATM": "",
                        "PARAMCD": "SPO2", "AVAL": [f"x{d}" for d in range(5000)], "AVALC": "",
                        "AVALU": "", "LLOQ": ""})
    tables["visits"] = pd.concat([tables["visits"], bad], ignore_index=True)
    tables["adsl"].loc[0, "LSTALVDY"] = "3010"
    with pytest.raises(DataError) as err:
        load_trial(write_trial(tmp_path, tables))
    (problem,) = err.value.problems
    assert problem.row == 78
    assert "5000 rows: 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, ..." in problem.message
    assert "'x0', 'x1', 'x2', 'x3', 'x4' and 4995 more" in problem.message
    assert len(str(err.value)) < 500


def test_garbage_file_never_gives_a_traceback(tmp_path):
    directory = write_trial(tmp_path)
    (directory / "visits.csv").write_bytes(bytes(range(256)) * 4)
    result = CliRunner().invoke(main, ["validate", str(directory)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "visits.csv" in result.output


# --------------------------------------------------------------------------- conversions

def _converted(trial, rule):
    hits = [c for c in trial.quality.converted if c["rule"] == rule]
    assert len(hits) == 1, [c["rule"] for c in trial.quality.converted]
    return hits[0]


def _pao2(trial):
    v = trial.visits
    return v[v["PARAMCD"] == "PAO2"].set_index(["USUBJID", "ADY"])["AVAL"]


def test_pao2_in_kpa_round_trips_to_mmhg(tmp_path):
    clean = load_trial(write_trial(tmp_path / "mmhg"))
    tables = trial_tables()
    v = tables["visits"]
    rows = v.index[(v["PARAMCD"] == "PAO2") & v["USUBJID"].isin(["S2", "S4"])]
    v.loc[rows, "AVAL"] = [repr(float(x) / KPA_TO_MMHG) for x in v.loc[rows, "AVAL"]]
    v.loc[rows, "AVALU"] = "kPa"
    trial = load_trial(write_trial(tmp_path / "kpa", tables))
    np.testing.assert_allclose(_pao2(trial).sort_index(), _pao2(clean).sort_index(),
                               rtol=1e-9, atol=0)
    entry = _converted(trial, "PAO2 kPa x 7.50062 -> mmHg")
    assert entry["n"] == 6 and entry["column"] == "AVALU" and entry["param"] == "PAO2"
    assert entry["rows"] == ",".join(str(r + 1) for r in rows)
    pao2 = trial.visits[trial.visits["PARAMCD"] == "PAO2"]
    flags = pao2.groupby("USUBJID")["FLAG"].agg(set).to_dict()
    assert flags == {"S1": {""}, "S2": {"converted:kPa"}, "S3": {""}, "S4": {"converted:kPa"}}


def test_fio2_percent_with_and_without_unit(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "FIO2", AVAL="50", AVALU="%")
    set_visit(tables, "S2", 1, "FIO2", AVAL="55")             # 21-100 without unit: percent
    set_visit(tables, "S3", 1, "FIO2", AVAL="1")              # 1 is a fraction (100% O2)
    trial = load_trial(write_trial(tmp_path, tables))
    fio2 = trial.visits[(trial.visits["PARAMCD"] == "FIO2") & (trial.visits["ADY"] == 1)]
    got = fio2.set_index("USUBJID")
    assert got.loc["S1", "AVAL"] == 0.5 and got.loc["S2", "AVAL"] == 0.55
    assert got.loc["S3", "AVAL"] == 1.0 and got.loc["S3", "FLAG"] == ""
    assert got.loc["S1", "FLAG"] == "converted:%" and got.loc["S2", "FLAG"] == "converted:percent"
    assert _converted(trial, "FIO2 % x 0.01 -> fraction")["n"] == 1
    assert _converted(trial, "FIO2 without unit, 21-100 read as percent x 0.01 -> fraction")[
        "rows"] == str(visit_row(tables, "S2", 1, "FIO2") + 1)


def test_cytokine_units(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "IL6", AVAL="0.0355", AVALU="ng/mL", LLOQ="0.002")
    set_visit(tables, "S2", 1, "IL6", AVAL="36.5", AVALU="ng/L")
    set_visit(tables, "S4", 1, "TNFA", AVAL="13", AVALU="pg/mL")
    trial = load_trial(write_trial(tmp_path, tables))
    v = trial.visits.set_index(["USUBJID", "ADY", "PARAMCD"])
    assert v.loc[("S1", 1, "IL6"), "AVAL"] == pytest.approx(35.5, rel=1e-12)
    assert v.loc[("S1", 1, "IL6"), "LLOQ"] == pytest.approx(2.0, rel=1e-12)
    assert v.loc[("S2", 1, "IL6"), "AVAL"] == 36.5
    assert v.loc[("S4", 1, "TNFA"), "FLAG"] == ""              # canonical unit: no conversion
    assert _converted(trial, "IL6 ng/mL x 1000 -> pg/mL")["n"] == 1
    assert _converted(trial, "IL6 ng/L x 1 -> pg/mL")["n"] == 1


def test_oxydev_spellings_are_mapped_and_logged(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "OXYDEV", AVALC="High-flow nasal cannula")
    set_visit(tables, "S2", 1, "OXYDEV", AVALC="HFNO")
    set_visit(tables, "S3", 1, "OXYDEV", AVALC="room air")
    set_visit(tables, "S4", 1, "OXYDEV", AVALC="hfnc")
    trial = load_trial(write_trial(tmp_path, tables))
    day1 = trial.visits[(trial.visits["PARAMCD"] == "OXYDEV") & (trial.visits["ADY"] == 1)]
    assert day1.set_index("USUBJID")["AVALC"].to_dict() == {"S1": "HFNC", "S2": "HFNC",
                                                            "S3": "RA", "S4": "HFNC"}
    assert _converted(trial, "OXYDEV 'HFNO', 'High-flow nasal cannula', 'hfnc' -> HFNC")["n"] == 3
    assert _converted(trial, "OXYDEV 'room air' -> RA")["n"] == 1


def test_number_in_avalc_is_used_and_logged(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "SPO2", AVAL="", AVALC="93")
    trial = load_trial(write_trial(tmp_path, tables))
    v = trial.visits.set_index(["USUBJID", "ADY", "PARAMCD"])
    assert v.loc[("S1", 1, "SPO2"), "AVAL"] == 93.0
    assert v.loc[("S1", 1, "SPO2"), "FLAG"] == "converted:AVALC"
    assert _converted(trial, "SPO2 value read from AVALC (AVAL empty)")["column"] == "AVALC"


def test_unknown_parameters_pass_through(tmp_path):
    tables = trial_tables()
    for day, value in ((1, "12.5"), (2, "<5")):
        tables["visits"] = with_visit(tables["visits"], USUBJID="S1", ADY=day, PARAMCD="crp",
                                      AVAL="", AVALC=value, AVALU="mg/L")
    tables["visits"] = with_visit(tables["visits"], USUBJID="S1", ADY=1, PARAMCD="CXR",
                                  AVALC="bilateral infiltrates")
    trial = load_trial(write_trial(tmp_path, tables))
    v = trial.visits[trial.visits["USUBJID"] == "S1"].set_index(["PARAMCD", "ADY"]).sort_index()
    assert v.loc[("CRP", 1), "AVAL"] == 12.5
    assert v.loc[("CRP", 2), "AVAL"] == 2.5 and v.loc[("CRP", 2), "FLAG"] == "below_lloq"
    assert np.isnan(v.loc[("CXR", 1), "AVAL"])
    assert v.loc[("CXR", 1), "AVALC"] == "bilateral infiltrates"
    assert any("CRP in mg/L (passed through" in n for n in trial.quality.notes)


def test_lstalvdy_from_death_day(tmp_path):
    tables = trial_tables()
    tables["adsl"].loc[2, "LSTALVDY"] = ""
    trial = load_trial(write_trial(tmp_path, tables))
    assert trial.adsl.set_index("USUBJID").loc["S3", "LSTALVDY"] == 5.0
    assert _converted(trial, "LSTALVDY empty -> DTHDY (the death day)")["rows"] == "3"


# --------------------------------------------------------------------------- warnings

def _warnings(trial, words):
    return [w for w in trial.quality.warnings if words in w["message"]]


def test_out_of_range_is_kept_and_flagged(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "SPO2", AVAL="45")
    set_visit(tables, "S1", 2, "PAO2", AVAL="710")
    trial = load_trial(write_trial(tmp_path, tables))
    v = trial.visits.set_index(["USUBJID", "ADY", "PARAMCD"])
    assert v.loc[("S1", 1, "SPO2"), "AVAL"] == 45 and v.loc[("S1", 1, "SPO2"), "FLAG"] == \
        "out_of_range"
    assert v.loc[("S1", 2, "PAO2"), "FLAG"] == "out_of_range"
    (warning,) = _warnings(trial, "SPO2 outside the plausible range 50-100")
    assert warning["rows"] == str(visit_row(tables, "S1", 1, "SPO2") + 1)
    assert warning["column"] == "AVAL"


def test_rows_without_a_value_are_dropped_with_a_reason(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "SPO2", AVAL="")
    set_visit(tables, "S2", 2, "OXYDEV", AVALC="")
    set_visit(tables, "S4", 1, "TNFA", AVAL="NA")
    trial = load_trial(write_trial(tmp_path, tables))
    log = accounted(trial)
    (entry,) = log.dropped[:1]
    assert entry["reason"] == "no value: AVAL and AVALC are empty"
    dropped = sorted(int(r) for e in log.dropped for r in e["rows"].split(","))
    assert dropped == sorted(visit_row(tables, *k) + 1 for k in
                             [("S1", 1, "SPO2"), ("S2", 2, "OXYDEV"), ("S4", 1, "TNFA")])
    assert len(trial.visits) == 74 and log.rows_used == 89 - 3


def test_visit_after_last_alive_day_is_a_warning(tmp_path):
    tables = trial_tables()
    tables["adsl"].loc[1, "LSTALVDY"] = "2"                     # S2 has visits on day 3
    trial = load_trial(write_trial(tmp_path, tables))
    (warning,) = _warnings(trial, "visit after LSTALVDY")
    assert warning["n"] == 7 and warning["column"] == "ADY"


def test_fio2_imputation_warnings(tmp_path):
    tables = trial_tables()
    v = tables["visits"]
    for subject, device in (("S1", "RA"), ("S2", "NC"), ("S4", "NIV")):
        v.drop(index=visit_row(tables, subject, 1, "FIO2"), inplace=True)
        set_visit(tables, subject, 1, "OXYDEV", AVALC=device)
    tables["visits"] = with_visit(v, USUBJID="S2", ADY=1, ATM="07:10", PARAMCD="O2FLOW", AVAL=3)
    directory = write_trial(tmp_path, tables)
    trial = load_trial(directory)
    assert _warnings(trial, "on room air: FIO2 will be imputed as 0.21")[0]["n"] == 1
    assert _warnings(trial, "no PF for these records")[0]["n"] == 2
    flow = load_trial(directory, rules=DataRules(fio2_from_flow=True))
    assert _warnings(flow, "imputed from O2FLOW")[0]["n"] == 1
    assert _warnings(flow, "no PF for these records")[0]["n"] == 1


# --------------------------------------------------------------------------- duplicates

def _duplicated(tables, subject, day, param, values, column="AVAL"):
    """Extra records of one subject, day, time and parameter with the given values."""
    i = visit_row(tables, subject, day, param)
    base = tables["visits"].loc[i]
    tables["visits"].loc[i, column] = values[0]
    extra = pd.DataFrame([{**base.to_dict(), column: v} for v in values[1:]])
    tables["visits"] = pd.concat([tables["visits"], extra], ignore_index=True)
    return i + 1


@pytest.mark.parametrize("rule,pao2,fio2,oxydev", [
    ("worst", 61.0, 0.8, "IMV"),
    ("best", 75.0, 0.4, "NC"),
    ("mean", 68.0, 0.6, "IMV"),      # a character parameter falls back to "worst"
    ("first", 68.0, 0.6, "NC"),
    ("last", 75.0, 0.4, "IMV"),
])
def test_duplicates_are_reduced_by_the_daily_rule(tmp_path, rule, pao2, fio2, oxydev):
    tables = trial_tables()
    first_pao2 = _duplicated(tables, "S2", 2, "PAO2", ["68", "61", "75"])
    _duplicated(tables, "S2", 2, "FIO2", ["0.6", "0.8", "0.4"])
    _duplicated(tables, "S2", 2, "OXYDEV", ["NC", "IMV", "MASK"][:1] + ["IMV"], column="AVALC")
    trial = load_trial(write_trial(tmp_path, tables), rules=DataRules(daily=rule))
    v = trial.visits.set_index(["USUBJID", "ADY", "PARAMCD"])
    assert v.loc[("S2", 2, "PAO2"), "AVAL"] == pytest.approx(pao2, rel=1e-12)
    assert v.loc[("S2", 2, "FIO2"), "AVAL"] == pytest.approx(fio2, rel=1e-12)
    assert v.loc[("S2", 2, "OXYDEV"), "AVALC"] == oxydev
    assert v.loc[("S2", 2, "PAO2"), "FLAG"] == "aggregated"
    log = accounted(trial)
    assert len(trial.visits) == 77
    assert log.rows_read["visits.csv"] == 77 + 5
    assert len(trial.visits) + log.n_dropped("visits.csv") == log.rows_read["visits.csv"]
    # the PAO2 rows not kept name the row that was kept
    kept_row = {"worst": 78, "best": 79, "mean": first_pao2, "first": first_pao2,
                "last": 79}[rule]
    reasons = {e["reason"]: e["rows"] for e in log.dropped}
    assert reasons[f"duplicate of row {kept_row}: {rule} kept"] == row_ranges(
        {first_pao2, 78, 79} - {kept_row})
    (warning,) = _warnings(trial, f"reduced to one by the '{rule}' rule")
    assert warning["n"] == 3


def test_duplicates_of_different_times_are_kept(tmp_path):
    tables = trial_tables()
    i = visit_row(tables, "S1", 1, "SPO2")
    tables["visits"] = with_visit(tables["visits"], **{**tables["visits"].loc[i].to_dict(),
                                                       "ATM": "15:30", "AVAL": "88"})
    trial = load_trial(write_trial(tmp_path, tables))
    spo2 = trial.visits[(trial.visits["PARAMCD"] == "SPO2") & (trial.visits["USUBJID"] == "S1")
                        & (trial.visits["ADY"] == 1)]
    assert spo2["ATM"].tolist() == ["07:00", "15:30"] and spo2["AVAL"].tolist() == [91.0, 88.0]
    assert not trial.quality.dropped


# --------------------------------------------------------------------------- below LLOQ

@pytest.mark.parametrize("rule,expected", [("half", 1.0), ("lloq", 2.0), ("zero", 0.0)])
def test_below_lloq_rules(tmp_path, rule, expected):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "IL6", AVAL="", AVALC="<2")           # "<x" gives the LLOQ
    set_visit(tables, "S2", 1, "IL6", AVAL="1.2", LLOQ="2")           # a number under LLOQ
    set_visit(tables, "S4", 1, "IL6", AVAL="", AVALC="<LLOQ", LLOQ="2")
    set_visit(tables, "S3", 1, "TNFA", AVAL="", AVALC="<0.004", AVALU="ng/mL")
    trial = load_trial(write_trial(tmp_path, tables), rules=DataRules(below_lloq=rule))
    v = trial.visits.set_index(["USUBJID", "ADY", "PARAMCD"])
    for subject in ("S1", "S2", "S4"):
        assert v.loc[(subject, 1, "IL6"), "AVAL"] == expected
        assert v.loc[(subject, 1, "IL6"), "LLOQ"] == 2.0
        assert v.loc[(subject, 1, "IL6"), "FLAG"] == "below_lloq"
    assert v.loc[("S1", 1, "IL6"), "AVALC"] == "<2"
    tnfa = v.loc[("S3", 1, "TNFA")]
    assert tnfa["LLOQ"] == pytest.approx(4.0) and tnfa["AVAL"] == pytest.approx(2 * expected)
    assert tnfa["FLAG"] == "converted:ng/mL;below_lloq"
    (warning,) = _warnings(trial, "IL6 below the LLOQ")
    assert warning["n"] == 3
    assert v.loc[("S2", 2, "IL6"), "FLAG"] == ""                      # 31.5 >= LLOQ 2


def test_below_lloq_of_a_non_laboratory_parameter_is_an_error(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "PAO2", AVAL="<20")
    with pytest.raises(DataError, match="PAO2: the value is not a number"):
        load_trial(write_trial(tmp_path, tables))


# --------------------------------------------------------------------------- invariances

def test_row_order_does_not_matter(tmp_path):
    tables = trial_tables()
    _duplicated(tables, "S2", 2, "PAO2", ["68", "61", "75"])
    set_visit(tables, "S1", 1, "PAO2", AVAL="9.5", AVALU="kPa")
    set_visit(tables, "S3", 1, "IL6", AVAL="", AVALC="<2")
    straight = load_trial(write_trial(tmp_path / "a", tables))
    rng = np.random.default_rng(7)
    shuffled = {name: frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
                for name, frame in tables.items()}
    other = load_trial(write_trial(tmp_path / "b", shuffled))
    pd.testing.assert_frame_equal(straight.visits, other.visits)   # canonical order already
    pd.testing.assert_frame_equal(straight.adsl, other.adsl)
    for name in ("adae", "ex"):
        a, b = getattr(straight, name), getattr(other, name)
        pd.testing.assert_frame_equal(a.sort_values(list(a.columns)).reset_index(drop=True),
                                      b.sort_values(list(b.columns)).reset_index(drop=True))
    assert straight.quality.rows_used == other.quality.rows_used
    assert straight.quality.n_dropped() == other.quality.n_dropped() == 2


def test_validate_command_prints_the_summary(tmp_path):
    tables = trial_tables()
    set_visit(tables, "S1", 1, "PAO2", AVAL="9.5", AVALU="kPa")
    _duplicated(tables, "S2", 2, "PAO2", ["68", "61"])
    result = CliRunner().invoke(main, ["validate", str(write_trial(tmp_path, tables))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "4 subjects; control 2, UC-MSC 2" in out
    assert "visits.csv         78        77       1" in out
    assert "PAO2 kPa x 7.50062 -> mmHg [1 row: 1]" in out
    assert "duplicate of a kept row ('worst' rule) [1 row]" in out
    assert "visits: 77 records, days 1 to 3, 4 subjects" in out
    assert "no errors (warnings only)." in out


def test_unknown_rule_names_are_rejected():
    with pytest.raises(SapError, match=r"data\.daily: is 'median'\. Fix: use one of: 'worst'"):
        DataRules(daily="median")
    with pytest.raises(SapError, match=r"data\.below_lloq: is 'drop'\. Fix: use one of: 'half'"):
        DataRules(below_lloq="drop")
    with pytest.raises(SapError, match=r"data\.decimal: is ';'\. Fix: use one of: None, '\.', ','"):
        DataRules(decimal=";")


def test_a_parameter_spelled_like_a_known_one_is_flagged(tmp_path):
    tables = trial_tables()
    v = tables["visits"]
    rows = v.index[v["PARAMCD"] == "SPO2"]
    v.loc[rows, "PARAMCD"] = "SPO"
    v.loc[len(v)] = {**v.loc[0].to_dict(), "PARAMCD": "CRP", "AVAL": "12", "AVALC": ""}
    trial = load_trial(write_trial(tmp_path, tables))
    warned = [w for w in trial.quality.warnings if "did you mean" in w["message"]]
    assert len(warned) == 1, trial.quality.warnings
    assert warned[0]["message"].startswith("SPO is not a parameter mscstats knows")
    assert "did you mean SPO2? If so, rename it to SPO2" in warned[0]["message"]
    assert warned[0]["n"] == len(rows) and warned[0]["column"] == "PARAMCD"
    # the records are kept (a warning, not a drop): every row is accounted for
    assert (trial.visits["PARAMCD"] == "SPO").sum() == len(rows)

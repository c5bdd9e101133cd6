"""A catalogue of bad inputs, each run through the command line.

ONE table, CASES: each case copies the toy trial (tests/data/toy with its
sap.toml), corrupts it one way, runs one command (validate, derive, analyze or
report) through click's CliRunner and checks

- the exit code (1: the data or the SAP is wrong; 0: the input is legitimate),
- the message fragments: the file and the column (or the SAP key path) and the fix,
- no "Traceback" and no exception other than SystemExit,
- on failure, no output file and no temporary file left behind,
- for legitimate inputs: the conversion or warning is in the data-quality output,
  and, where marked, the endpoints equal those of the clean trial.

tests/trial/test_validate.py (loader, through the library) and tests/test_plan.py (SAP)
hold the finer cases; this table is what the user sees at the command line.

Security:
- The SAP is parsed, never evaluated: test_sap_text_is_never_evaluated below
  (tests/test_plan.py checks the package has no eval/exec).
- Text from the data is escaped in the PDF: tests/report/test_report.py::
  test_subject_ids_from_the_data_print_literally (a USUBJID "<b>&x" prints literally);
  not repeated here.
- Paths from the SAP: no SAP key takes a path (mscstats/plan.py: STUDY_KEYS,
  DATA_KEYS, ENDPOINT_KEYS, CONDITION_KEYS, ANALYSIS_KEYS and the analysis
  options are names, numbers and choices), so nothing in a SAP can reach outside
  the trial directory. test_no_sap_key_takes_a_path keeps it so: a new path key
  must come with a test that "../" escapes are refused.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

import pandas as pd
import pytest
from click.testing import CliRunner

from mscstats import plan
from mscstats.cli import main
from conftest import TESTS

TOY = TESTS / "data" / "toy"


# --------------------------------------------------------------------------
# Ways to corrupt a copy of the toy trial (each returns a function of the directory)
# --------------------------------------------------------------------------

def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def edit(file: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]):
    """Change the table (a DataFrame of text; change returns it) and write it back as CSV."""
    def corrupt(trial: Path) -> None:
        frame = change(_read(trial / file))
        frame.to_csv(trial / file, index=False, lineterminator="\n")
    return corrupt


def cell(file: str, row: int, column: str, value: str):
    """Set one cell; row is the 1-based data row (as messages count it)."""
    def change(frame):
        frame.loc[row - 1, column] = value
        return frame
    return edit(file, change)


def where(file: str, column: str, value: str, **match):
    """Set column to value on every row matching the given cells (e.g. PARAMCD="FIO2")."""
    def change(frame):
        rows = pd.Series(True, index=frame.index)
        for name, wanted in match.items():
            rows &= frame[name] == wanted
        assert rows.any(), match
        frame.loc[rows, column] = value
        return frame
    return edit(file, change)


def scale(param: str, factor: float, unit: str | None = None, digits: int = 2):
    """Multiply every value of a parameter (and optionally set its AVALU)."""
    def change(frame):
        rows = frame["PARAMCD"] == param
        frame.loc[rows, "AVAL"] = [f"{float(v) * factor:.{digits}f}"
                                   for v in frame.loc[rows, "AVAL"]]
        if unit is not None:
            frame.loc[rows, "AVALU"] = unit
        return frame
    return edit("visits.csv", change)


def add_row(file: str, **cells):
    def change(frame):
        row = {c: "" for c in frame.columns}
        row.update(cells)
        return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    return edit(file, change)


def write(file: str, text: str | bytes):
    def corrupt(trial: Path) -> None:
        target = trial / file
        target.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return corrupt


def header_only(file: str):
    def corrupt(trial: Path) -> None:
        first = (trial / file).read_text("utf-8").splitlines()[0]
        (trial / file).write_text(first + "\n", "utf-8")
    return corrupt


def remove(file: str):
    return lambda trial: (trial / file).unlink()


def recode(transform: Callable[[bytes], bytes], files=("adsl.csv", "visits.csv", "adae.csv",
                                                        "ex.csv")):
    def corrupt(trial: Path) -> None:
        for name in files:
            (trial / name).write_bytes(transform((trial / name).read_bytes()))
    return corrupt


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def bom(data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def semicolons(file: str, decimal_comma: bool = False):
    def corrupt(trial: Path) -> None:
        frame = _read(trial / file)
        if decimal_comma and "AVAL" in frame.columns:
            frame["AVAL"] = frame["AVAL"].str.replace(".", ",", regex=False)
        frame.to_csv(trial / file, sep=";", index=False, lineterminator="\n")
    return corrupt


def non_ascii_ids(trial: Path) -> None:
    for name in ("adsl.csv", "visits.csv", "adae.csv", "ex.csv"):
        edit(name, lambda f: f.assign(USUBJID=f["USUBJID"].str.replace("S0", "Ñü-é")))(trial)


def wide_visits(extra: dict[str, str] | None = None):
    """The numeric visits as one column per parameter (OXYDEV left out), plus extra columns."""
    def corrupt(trial: Path) -> None:
        long = _read(trial / "visits.csv")
        long = long[long["PARAMCD"] != "OXYDEV"]
        wide = long.pivot_table(index=["USUBJID", "ADY", "ATM"], columns="PARAMCD",
                                values="AVAL", aggfunc="first").reset_index()
        for name, value in (extra or {}).items():
            wide[name] = value
        wide.to_csv(trial / "visits.csv", index=False, lineterminator="\n")
    return corrupt


def sap(old: str, new: str):
    """Replace text in sap.toml (which must contain it)."""
    def corrupt(trial: Path) -> None:
        text = (trial / "sap.toml").read_text("utf-8")
        assert old in text, old
        (trial / "sap.toml").write_text(text.replace(old, new, 1), "utf-8")
    return corrupt


def analyses(text: str, endpoints: str = ""):
    """Replace the SAP's analyses by text (and add endpoints before them)."""
    def corrupt(trial: Path) -> None:
        head = (trial / "sap.toml").read_text("utf-8").split("[[analysis]]")[0]
        (trial / "sap.toml").write_text(head + endpoints + text, "utf-8")
    return corrupt


def both(*corruptions):
    def corrupt(trial: Path) -> None:
        for c in corruptions:
            c(trial)
    return corrupt


def analysis(id_: str, endpoint: str, method: str, **options) -> str:
    lines = ["[[analysis]]", f'id = "{id_}"', f'endpoint = "{endpoint}"', f'method = "{method}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n\n"


def data_rules(text: str):
    """Add a [data] section (or a table under it) to the toy SAP."""
    body = text if text.startswith("[") else "[data]\n" + text
    return sap("seed = 7\n", "seed = 7\n\n" + body + "\n\n")


TOY_START = pd.Timestamp("2024-03-01")


def _date(day: str) -> str:
    if not day:
        return ""
    d = int(day)
    return (TOY_START + pd.Timedelta(days=d - 1 if d > 0 else d)).date().isoformat()


def dated(drop_days: bool = False):
    """adsl with RANDDT (all 2024-03-01), DTHFL and DTHDT/DSCHDT/LSTALVDT from the days."""
    def change(f):
        f = f.assign(RANDDT=TOY_START.date().isoformat(),
                     DTHFL=["Y" if d else "" for d in f["DTHDY"]],
                     DTHDT=f["DTHDY"].map(_date), DSCHDT=f["DSCHDY"].map(_date),
                     LSTALVDT=f["LSTALVDY"].map(_date))
        return f.drop(columns=["DTHDY", "DSCHDY", "LSTALVDY"]) if drop_days else f
    return edit("adsl.csv", change)


def visits_dated():
    """visits timed by ADT instead of ADY (day 1 = 2024-03-01 for every subject)."""
    return edit("visits.csv", lambda f: f.assign(ADT=f["ADY"].map(_date)).drop(columns="ADY"))


def move_rows(source: str, target: str, **match):
    """Rows matching the cells move from one table to a new one (a BDS table)."""
    def corrupt(trial: Path) -> None:
        frame = _read(trial / source)
        rows = pd.Series(True, index=frame.index)
        for name, wanted in match.items():
            rows &= frame[name] == wanted
        frame[rows].to_csv(trial / target, index=False, lineterminator="\n")
        frame[~rows].to_csv(trial / source, index=False, lineterminator="\n")
    return corrupt


def copy_rows(source: str, target: str, **match):
    def corrupt(trial: Path) -> None:
        frame = _read(trial / source)
        rows = pd.Series(True, index=frame.index)
        for name, wanted in match.items():
            rows &= frame[name] == wanted
        frame[rows].to_csv(trial / target, index=False, lineterminator="\n")
    return corrupt


NEVER = ('[[endpoint]]\nid = "never"\nkind = "time_to_event"\nhorizon = 28\n'
         'event.any = [ { param = "SPO2", op = ">=", value = 100 } ]\n\n')
MORTALITY = ('[[endpoint]]\nid = "death"\nkind = "time_to_event"\nhorizon = 28\n'
             'event.any = [ { state = "dead" } ]\n\n')
ALIVE = edit("adsl.csv", lambda f: f.assign(DTHDY="", LSTALVDY="28"))


# --------------------------------------------------------------------------
# Checks on a command's output file (legitimate inputs)
# --------------------------------------------------------------------------

def _analysis(out: Path, analysis_id: str) -> dict:
    results = json.loads(out.read_text())
    return next(a for a in results["analyses"] if a["id"] == analysis_id)


def no_test(analysis_id: str, test: str = "logrank"):
    """The test is reported as not computable (null), with a note saying why."""
    def check(out: Path) -> None:
        result = _analysis(out, analysis_id)
        [found] = [t for t in result["tests"] if t["name"] == test]
        assert found["statistic"] is None and found["p_value"] is None
        assert any("no log-rank test" in n or "cannot be fitted" in n for n in result["notes"])
    return check


def risk_difference_zero(out: Path) -> None:
    result = _analysis(out, "x")
    assert all(arm["events"] == 0 for arm in result["by_arm"].values())
    rd = next(c for c in result["comparisons"] if c["estimand"] == "risk_difference")
    assert rd["estimate"] == 0.0 and rd["p_value"] == 1.0


def not_estimable(analysis_id: str, reason: str, others: tuple[str, ...] = ()):
    """The analysis is written with status not_estimable and its reason, no numbers;
    the ``others`` ran (they have no status key: estimable, as always)."""
    def check(out: Path) -> None:
        result = _analysis(out, analysis_id)
        assert result["status"] == "not_estimable" and reason in result["reason"], result
        assert result["comparisons"] == [] and result["tests"] == []
        for other in others:
            assert "status" not in _analysis(out, other) and _analysis(out, other)["comparisons"]
    return check


def infinite_odds_ratio(out: Path) -> None:
    """No death in control: the odds ratio and its upper limit are infinite, written as
    the string "Infinity" (null would mean not estimable)."""
    text = out.read_text("utf-8")
    odds = [c for c in _analysis(out, "x")["comparisons"] if c["estimand"] == "odds_ratio"][0]
    assert odds["estimate"] == "Infinity" and odds["ci"][1] == "Infinity", odds
    assert '"Infinity"' in text and "NaN" not in text


def hazard_ratio_not_estimable(out: Path) -> None:
    result = _analysis(out, "x")
    assert result["comparisons"][0]["estimate"] is None
    assert any("not estimable" in n for n in result["notes"])


def converted_in_results(rule: str):
    """results.json's data_quality lists the conversion with its rule."""
    def check(out: Path) -> None:
        converted = json.loads(out.read_text())["data_quality"]["converted"]
        assert any(rule in entry["rule"] for entry in converted), converted
    return check


def tipping_note(text: str):
    """The analysis ran and a note says `text` (e.g. that nothing is missing)."""
    def check(out: Path) -> None:
        assert any(text in n for n in _analysis(out, "x")["notes"])
    return check


def endpoint_rows_with(text: str):
    def check(out: Path) -> None:
        assert text in out.read_text("utf-8")
    return check


# --------------------------------------------------------------------------
# The catalogue
# the toy SAP's pf_d7 endpoint, where the estimand cases add an intercurrent table
PF_D7 = 'id = "pf_d7"\nkind = "change"'


PF_REPEATED = ('[[endpoint]]\nid = "pf_rep"\nkind = "change"\nparam = "PF"\nday = 7\n'
               'days = [3, 7]\nwindow = 1\n\n')


def estimand_of(analysis_id: str, sensitivity: str = "[]") -> str:
    return (f'\n[[estimand]]\nid = "main"\nanalysis = "{analysis_id}"\n'
            f"sensitivity = {sensitivity}\n")

# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    corrupt: Callable[[Path], None]
    command: str                      # validate | validate+sap | derive | analyze | report
                                      # | export-adam (-o a directory)
                                      # (analyze+strict, report+strict: with --strict)
    exit: int
    expect: tuple[str, ...] = ()      # fragments of the output (file, column / key, fix)
    same_as_clean: bool = False       # derive: endpoints equal to those of the clean toy
    check: Callable[[Path], None] | None = field(default=None)   # on the output file


def _ard_not_estimable(out: Path, analysis_id: str, reason: str) -> None:
    """export-adam wrote the analysis into the ARD as one not-estimable row with its reason."""
    ard = pd.read_csv(out / "ard.csv", dtype=str, keep_default_na=False)
    rows = ard[ard["analysis"] == analysis_id]
    assert list(rows["statistic"]) == ["not_estimable"]
    assert reason in rows["formatted"].iloc[0]


FIX = "Fix:"
CASES = [
    # ---- loading: units and ranges --------------------------------------------------
    Case("pao2-kpa-without-unit", scale("PAO2", 1 / 7.50062), "validate", 1,
         ("visits.csv", "column AVALU", "plausible only in kPa", "Fix: set AVALU to kPa")),
    Case("pao2-kpa-without-a-unit-column",
         both(scale("PAO2", 1 / 7.50062), edit("visits.csv", lambda f: f.drop(columns="AVALU"))),
         "derive", 1, ("visits.csv", "column AVALU", "PAO2 without a unit has median",
                       "plausible only in kPa", "Fix: set AVALU to kPa")),
    Case("pao2-kpa-with-unit", scale("PAO2", 1 / 7.50062, "kPa", digits=6), "validate", 0,
         ("conversions:", "visits.csv, column AVALU: PAO2 kPa x 7.50062 -> mmHg")),
    Case("pao2-unknown-unit", where("visits.csv", "AVALU", "psi", PARAMCD="PAO2", USUBJID="S01"),
         "validate", 1, ("visits.csv row 3, column AVALU", "PAO2: unit not known",
                         "use one of: mmHg, torr, kpa")),
    Case("fio2-zero", cell("visits.csv", 2, "AVAL", "0"), "validate", 1,
         ("visits.csv row 2, column AVAL", "FIO2 outside the possible range 0.21-1", FIX)),
    Case("fio2-150", cell("visits.csv", 2, "AVAL", "150"), "validate", 1,
         ("visits.csv row 2, column AVAL", "FIO2 outside the possible range", "unit (AVALU)")),
    Case("fio2-150-percent", both(cell("visits.csv", 2, "AVAL", "150"),
                                  cell("visits.csv", 2, "AVALU", "%")), "validate", 1,
         ("visits.csv row 2, column AVAL", "FIO2 outside the possible range")),
    Case("fio2-between-1-and-21", cell("visits.csv", 2, "AVAL", "5"), "validate", 1,
         ("visits.csv row 2, column AVAL", "FIO2 between 1 and 21", "AVALU %")),
    Case("fio2-percent-without-unit", scale("FIO2", 100, digits=0), "derive", 0,
         ("wrote",), same_as_clean=True),
    Case("fio2-percent-in-results-json", scale("FIO2", 100, digits=0), "analyze", 0,
         ("wrote 2 analyses",), check=converted_in_results("FIO2 without unit, 21-100 read as "
                                                           "percent")),
    Case("fio2-percent-logged", scale("FIO2", 100, digits=0), "validate", 0,
         ("FIO2 without unit, 21-100 read as percent x 0.01 -> fraction",)),
    Case("fio2-percent-with-unit", scale("FIO2", 100, "%", digits=0), "validate", 0,
         ("visits.csv, column AVALU: FIO2 % x 0.01 -> fraction",)),
    Case("il6-negative", cell("visits.csv", 6, "AVAL", "-5"), "validate", 1,
         ("visits.csv row 6, column AVAL", "IL6 outside the possible range >= 0", FIX)),
    Case("tnfa-negative", add_row("visits.csv", USUBJID="S01", ADY="1", PARAMCD="TNFA",
                                  AVAL="-3"), "validate", 1,
         ("visits.csv row 85, column AVAL", "TNFA outside the possible range >= 0")),
    Case("lloq-negative", cell("visits.csv", 6, "LLOQ", "-1"), "validate", 1,
         ("visits.csv row 6, column LLOQ", "the LLOQ is negative", FIX)),
    Case("il6-below-lloq-loads", cell("visits.csv", 6, "AVAL", "<1.5"), "validate", 0,
         ("visits.csv, column AVALC: IL6 below the LLOQ: set to LLOQ/2",)),
    Case("pao2-below-limit-is-an-error", cell("visits.csv", 3, "AVAL", "<20"), "validate", 1,
         ("visits.csv row 3, column AVAL", "PAO2: the value is not a number", FIX)),
    Case("spo2-implausible-kept-with-warning", cell("visits.csv", 5, "AVAL", "45"), "validate", 0,
         ("visits.csv, column AVAL: SPO2 outside the plausible range 50-100 %: kept",)),
    Case("whocps-11", cell("visits.csv", 4, "AVAL", "11"), "validate", 1,
         ("visits.csv row 4, column AVAL", "WHOCPS outside the possible range 0-10")),
    Case("whocps-fraction", cell("visits.csv", 4, "AVAL", "5.5"), "validate", 1,
         ("visits.csv row 4, column AVAL", "WHOCPS is not a whole number", "integer score")),
    Case("oxydev-unknown", cell("visits.csv", 1, "AVALC", "balloon"), "validate", 1,
         ("visits.csv row 1, column AVALC", "OXYDEV value not recognised", "room air")),
    Case("oxydev-spelling-mapped", cell("visits.csv", 16, "AVALC", "room air"), "validate", 0,
         ("visits.csv, column AVALC: OXYDEV 'room air' -> RA",)),
    # ---- loading: text in numeric columns ------------------------------------------
    Case("aval-text", cell("visits.csv", 4, "AVAL", "six"), "derive", 1,
         ("visits.csv row 4, column AVAL", "WHOCPS: the value is not a number", "AVALC")),
    Case("ady-text", cell("visits.csv", 4, "ADY", "day 1"), "validate", 1,
         ("visits.csv row 4, column ADY", "ADY is not a number", FIX)),
    Case("ady-zero", cell("visits.csv", 4, "ADY", "0"), "validate", 1,
         ("visits.csv row 4, column ADY", "there is no day 0")),
    Case("age-text", cell("adsl.csv", 1, "AGE", "fifty"), "validate", 1,
         ("adsl.csv row 1, column AGE", "AGE is not a number", FIX)),
    Case("lstalvdy-text", cell("adsl.csv", 1, "LSTALVDY", "end"), "analyze", 1,
         ("adsl.csv row 1, column LSTALVDY", "not a number")),
    Case("exdose-text", cell("ex.csv", 1, "EXDOSE", "one"), "validate", 1,
         ("ex.csv row 1, column EXDOSE", "EXDOSE is not a number", FIX)),
    Case("aetoxgr-text", cell("adae.csv", 1, "AETOXGR", "severe"), "validate", 1,
         ("adae.csv row 1, column AETOXGR",)),
    Case("aeser-not-yes-no", cell("adae.csv", 1, "AESER", "maybe"), "validate", 1,
         ("adae.csv row 1, column AESER", "must be one of Y, N")),
    Case("atm-not-a-clock", cell("visits.csv", 1, "ATM", "25:99"), "validate", 1,
         ("visits.csv row 1, column ATM", "not a clock time", "HH:MM")),
    # ---- loading: files -----------------------------------------------------------
    Case("empty-adsl", write("adsl.csv", b""), "validate", 1,
         ("adsl.csv", "the file is empty", FIX)),
    Case("empty-visits", write("visits.csv", b""), "derive", 1,
         ("visits.csv", "the file is empty", FIX)),
    Case("header-only-adsl", header_only("adsl.csv"), "validate", 1,
         ("adsl.csv, column USUBJID", "adsl has no subjects (only a header)", FIX)),
    Case("header-only-visits", header_only("visits.csv"), "derive", 1,
         ("sap.toml: endpoint[pf_d7]", "reads parameter PF, which the data lack (they have: "
          "nothing; efficacy tables read: visits.csv)", FIX)),
    Case("blank-header-line", recode(lambda b: b"\n" + b, ("visits.csv",)), "validate", 1,
         ("visits.csv", "the first line (the header) is empty", FIX)),
    Case("crlf-line-endings", recode(crlf), "derive", 0, ("wrote",), same_as_clean=True),
    Case("utf8-byte-order-mark", recode(bom), "derive", 0, ("wrote",), same_as_clean=True),
    Case("bom-and-crlf", recode(lambda b: bom(crlf(b))), "validate", 0,
         ("6 subjects", "visits.csv         84        84       0")),
    Case("semicolon-separated", semicolons("adsl.csv"), "validate", 0, ("6 subjects",)),
    Case("semicolons-and-decimal-commas", both(semicolons("visits.csv", decimal_comma=True),
                                               semicolons("adsl.csv")),
         "derive", 0, ("wrote",), same_as_clean=True),
    Case("latin1-not-utf8", write("adsl.csv", "USUBJID,ARM,SEX,LSTALVDY\nS01,control,é,28\n"
                                  .encode("latin-1")), "validate", 1,
         ("adsl.csv", "UTF-8", FIX)),
    Case("ragged-row", recode(lambda b: b + b"S06,28,,WHOCPS,4,,,,extra,fields\n",
                              ("visits.csv",)), "validate", 1,
         ("visits.csv", "cannot read the file", "as many fields as the header")),
    Case("column-twice", write("adsl.csv", "USUBJID,ARM,AGE,age,LSTALVDY\nS01,control,5,5,28\n"),
         "validate", 1, ("adsl.csv, column AGE", "column names appear twice", FIX)),
    Case("missing-required-column", edit("adsl.csv", lambda f: f.drop(columns="LSTALVDY")),
         "validate", 1, ("adsl.csv, column LSTALVDY", "required column LSTALVDY is missing",
                         FIX)),
    Case("missing-adsl", remove("adsl.csv"), "validate", 1, ("no adsl table", "add adsl.csv")),
    Case("two-files-for-adsl", lambda t: _read(t / "adsl.csv").to_parquet(t / "adsl.parquet"),
         "validate", 1, ("two files for the adsl table: adsl.csv, adsl.parquet", FIX)),
    Case("damaged-parquet", both(remove("visits.csv"), write("visits.parquet", b"PAR1 not")),
         "validate", 1, ("visits.parquet", "cannot read the Parquet file", FIX)),
    Case("damaged-xpt", both(remove("ex.csv"), write("ex.xpt", b"HEADER RECORD?")), "validate", 1,
         ("ex.xpt", "cannot read the SAS transport file", FIX)),
    Case("adae-without-grade-or-severity", edit("adae.csv", lambda f: f.drop(columns="AETOXGR")),
         "validate", 1, ("adae.csv, column AETOXGR", "adae needs AETOXGR", FIX)),
    Case("ittfl-not-yes-no", edit("adsl.csv", lambda f: f.assign(ITTFL=["Y", "Y", "1", "Y", "Y",
                                                                       "Y"])),
         "analyze", 1, ("adsl.csv row 3, column ITTFL", "ITTFL must be one of Y, N", FIX)),
    Case("missing-directory", lambda t: shutil.rmtree(t), "validate", 1,
         ("the trial directory does not exist", FIX)),
    Case("wide-visits-load", wide_visits(), "validate", 0,
         ("visits.csv is wide (one column per parameter",)),
    Case("wide-visits-unknown-text-column", wide_visits({"COMMENT": "ok"}), "validate", 1,
         ("visits.csv row 1, column COMMENT", "every column of a wide visits file",
          "remove the column if it is not a parameter")),
    # ---- loading: subjects and the course of the trial ------------------------------
    Case("duplicate-subject", cell("adsl.csv", 2, "USUBJID", "S01"), "validate", 1,
         ("adsl.csv row 1, column USUBJID", "duplicate USUBJID", "USUBJID must be unique")),
    Case("subject-in-two-arms", cell("adsl.csv", 4, "USUBJID", "S01"), "validate", 1,
         ("adsl.csv row 1, column ARM", "a subject is in two arms", FIX)),
    Case("subject-in-two-arms-across-files",
         edit("visits.csv", lambda f: f.assign(ARM=["MSC" if s == "S01" else "" for s in
                                                    f["USUBJID"]])), "validate", 1,
         ("visits.csv row 1, column ARM", "a subject is in two arms: ARM here differs from "
          "adsl.csv", FIX)),
    Case("empty-usubjid", cell("adsl.csv", 3, "USUBJID", " "), "validate", 1,
         ("adsl.csv row 3, column USUBJID", "USUBJID is empty")),
    Case("visit-after-death", add_row("visits.csv", USUBJID="S02", ADY="12", PARAMCD="WHOCPS",
                                      AVAL="7"), "derive", 1,
         ("visits.csv row 85, column ADY", "a visit after the subject's death day", FIX)),
    Case("adverse-event-after-death", cell("adae.csv", 4, "AESTDY", "25"), "validate", 1,
         ("adae.csv row 4, column AESTDY", "after the subject's death day")),
    Case("dose-after-death", add_row("ex.csv", USUBJID="S06", EXDOSNO="3", EXSTDY="21"),
         "validate", 1, ("ex.csv row 7, column EXSTDY", "a dose after the subject's death day")),
    Case("visits-of-unknown-subject", cell("visits.csv", 1, "USUBJID", "S99"), "validate", 1,
         ("visits.csv row 1, column USUBJID", "subject not in adsl.csv", FIX)),
    Case("death-before-discharge", cell("adsl.csv", 1, "DTHDY", "5"), "validate", 1,
         ("adsl.csv row 1, column DTHDY", "DTHDY is before DSCHDY")),
    Case("last-alive-unknown", cell("adsl.csv", 3, "LSTALVDY", ""), "validate", 1,
         ("adsl.csv row 3, column LSTALVDY", "LSTALVDY (last day known alive) is empty", FIX)),
    Case("non-ascii-subject-ids", non_ascii_ids, "derive", 0, ("wrote",),
         check=endpoint_rows_with("Ñü-é1,control,pf_d7,")),
    Case("duplicate-records-aggregated",
         add_row("visits.csv", USUBJID="S01", ADY="3", PARAMCD="PAO2", AVAL="95"), "validate", 0,
         ("visits.csv, column PARAMCD: duplicate records", "'worst' rule")),
    # ---- the SAP -----------------------------------------------------------------
    Case("sap-key-typo", sap("horizon = 14", "horizn = 14"), "derive", 1,
         ("sap.toml: endpoint[ra_spo2].horizn: unknown key.", "Fix: did you mean 'horizon'?")),
    Case("sap-parameter-the-data-lack", sap('param = "IL6"', 'param = "DDIMER"'), "derive", 1,
         ("sap.toml: endpoint[il6_d7]: reads parameter DDIMER, which the data lack", FIX)),
    Case("arm-not-in-the-sap", sap('arms = ["control", "MSC"]', 'arms = ["control", "UC-MSC"]'),
         "validate+sap", 1, ("adsl.csv row 4, column ARM", "not one of the SAP's arms",
                             "'UC-MSC'")),
    Case("sap-not-toml", sap("[study]", "[study"), "analyze", 1,
         ("sap.toml: file: is not valid TOML", FIX)),
    Case("sap-not-utf8", write("sap.toml", '[study]\nid = "é"\n'.encode("latin-1")), "derive", 1,
         ("sap.toml: file: is not UTF-8 text.", "Fix: save the SAP as UTF-8.")),
    Case("sap-unknown-method", sap('method = "welch"', 'method = "welsh"'), "analyze", 1,
         ("sap.toml: analysis[pf_welch].method: 'welsh' is not allowed.", "did you mean 'welch'")),
    Case("sap-method-does-not-fit-endpoint", sap('method = "welch"', 'method = "logrank"'),
         "analyze", 1, ("sap.toml: analysis[pf_welch].method: logrank does not fit the change "
                        "endpoint 'pf_d7'.", "Fix: for change endpoints use one of")),
    Case("sap-option-of-another-method", sap('method = "welch"', 'method = "welch"\ntau = 7'),
         "analyze", 1, ("sap.toml: analysis[pf_welch].tau: is not an option of method welch.",)),
    Case("sap-undeclared-endpoint", sap('endpoint = "pf_d7"', 'endpoint = "pf_d8"'), "analyze", 1,
         ("sap.toml: analysis[pf_welch].endpoint: names 'pf_d8', which no [[endpoint]] "
          "declares.", "Fix: use one of")),
    # ---- export-adam: the same located errors, nothing written ------------------------
    Case("export-adam-aval-text", cell("visits.csv", 4, "AVAL", "six"), "export-adam", 1,
         ("visits.csv row 4, column AVAL", "WHOCPS: the value is not a number", "AVALC")),
    Case("export-adam-sap-undeclared-endpoint", sap('endpoint = "pf_d7"', 'endpoint = "pf_d8"'),
         "export-adam", 1, ("sap.toml: analysis[pf_welch].endpoint: names 'pf_d8', which no "
                            "[[endpoint]] declares.", "Fix: use one of")),
    Case("export-adam-no-adsl", remove("adsl.csv"), "export-adam", 1, ("adsl",)),
    Case("export-adam-clean", lambda t: None, "export-adam", 0, ("wrote 5 files",)),
    Case("sap-day-zero", sap("day = 14", "day = 0"), "derive", 1,
         ("sap.toml: endpoint[who_d14].day: there is no day 0", FIX)),
    Case("sap-text-for-a-number", sap("horizon = 14", 'horizon = "14"'), "derive", 1,
         ("sap.toml: endpoint[ra_spo2].horizon: must be an integer, not '14'.",
          "Fix: write a whole number without quotes")),
    Case("sap-family-unknown", lambda t: (t / "sap.toml").write_text(
        (t / "sap.toml").read_text() + '\n[multiplicity]\nmethod = "holm"\n'
                                       'family = ["pf_welch", "primary"]\n'), "analyze", 1,
         ("sap.toml: multiplicity.family[1]: names 'primary', which no [[analysis]] declares.",)),
    Case("sap-covariate-the-data-lack",
         analyses(analysis("x", "pf_d7", "ancova", covariates=["BASE", "BMI"])), "analyze", 1,
         ("sap.toml: analysis[x]: names covariate or stratum BMI, which adsl lacks.", FIX)),
    Case("sap-stratum-the-data-lack",
         analyses(analysis("x", "ttci", "logrank", strata=["SITE"])), "report", 1,
         ("sap.toml: analysis[x]: names covariate or stratum SITE, which adsl lacks.", FIX)),
    Case("sap-alpha-out-of-range", sap("seed = 7", "seed = 7\nalpha = 0.5"), "validate+sap", 1,
         ("sap.toml: study.alpha: 0.5 is not a two-sided level in (0, 0.5).", FIX)),
    Case("sap-mmrm-needs-repeated-endpoint", sap('method = "welch"', 'method = "mmrm"'),
         "analyze", 1, ("sap.toml: analysis[pf_welch].method: mmrm needs a repeated endpoint",
                        "Fix: add days = [...]")),
    Case("sap-tau-beyond-horizon", analyses(analysis("x", "ra_spo2", "rmst", tau=20)),
         "analyze", 1, ("sap.toml: analysis[x].tau: 20.0 is beyond the endpoint's horizon 14.",
                        "Fix: choose tau <= horizon.")),
    Case("sap-cuminc-without-competing-death", analyses(analysis("x", "ttci", "cuminc")),
         "analyze", 1, ("sap.toml: analysis[x].method: cuminc needs death as a competing event",
                        FIX)),
    Case("sap-option-missing", analyses(analysis("x", "ttci", "rmst")), "analyze", 1,
         ("sap.toml: analysis[x].tau: is required by method rmst.", FIX)),
    # ---- derivation and analysis -------------------------------------------------------
    # No events / all censored: R's survdiff reports chisq 0 ("No test, actually") and
    # stops with "system is exactly singular" when the variance is singular (every
    # stratum one subject); mscstats reports the test as null with a note saying why.
    # An analysis that cannot be computed is not estimable (DESIGN.md 6): its entry
    # has status "not_estimable" and the reason, the others run, exit 0 with a warning;
    # --strict makes it exit 1 and write nothing.
    Case("arm-with-no-subjects", edit("adsl.csv", lambda f: f.assign(ARM="control")),
         "analyze", 0, ("warning: analysis pf_welch is not estimable: arm 'MSC' has no "
                        "subjects in the ITT population", "check the ARM values in adsl"),
         check=not_estimable("pf_welch", "arm 'MSC' has no subjects")),
    Case("arm-with-no-subjects-strict", edit("adsl.csv", lambda f: f.assign(ARM="control")),
         "analyze+strict", 1, ("warning: analysis pf_welch is not estimable",
                               "not estimable and --strict is set; nothing written.")),
    # validate --sap runs the checks analyze runs: what analyze writes as not estimable,
    # validate names as a warning
    Case("arm-with-no-subjects-warned", edit("adsl.csv", lambda f: f.assign(ARM="control")),
         "validate+sap", 0, ("adsl.csv, column ARM: arm 'MSC' of the SAP has no subjects",
                             "warning: analysis pf_welch is not estimable: arm 'MSC' has no "
                             "subjects in the ITT population")),
    Case("arm-with-no-subjects-report", edit("adsl.csv", lambda f: f.assign(ARM="control")),
         "report", 0, ("warning: analysis pf_welch is not estimable: arm 'MSC' has no subjects",
                       "wrote")),
    Case("arm-with-no-subjects-report-strict",
         edit("adsl.csv", lambda f: f.assign(ARM="control")),
         "report+strict", 1, ("arm 'MSC' has no subjects", "--strict is set; nothing written")),
    Case("arm-with-no-subjects-export-adam", edit("adsl.csv", lambda f: f.assign(ARM="control")),
         "export-adam", 0, ("warning: analysis pf_welch is not estimable", "wrote 5 files"),
         check=lambda out: _ard_not_estimable(out, "pf_welch", "arm 'MSC' has no subjects")),
    Case("arm-with-no-subjects-export-adam-strict",
         edit("adsl.csv", lambda f: f.assign(ARM="control")),
         "export-adam+strict", 1, ("arm 'MSC' has no subjects", "--strict is set; nothing written")),
    Case("one-analysis-not-estimable-the-others-run",
         analyses(analysis("x", "pf20", "welch") + analysis("y", "mort28", "binary"),
                  '[[endpoint]]\nid = "pf20"\nkind = "change"\nparam = "PF"\nday = 20\n'
                  'window = 0\n\n'), "analyze", 0, ("wrote 2 analyses",),
         check=not_estimable("x", "have no subject with a value", others=("y",))),
    Case("infinite-odds-ratio-is-written-as-Infinity",
         both(where("adsl.csv", "DTHDY", "", ARM="control"),
              where("adsl.csv", "LSTALVDY", "28", ARM="control"),
              analyses(analysis("x", "mort28", "binary"))), "analyze", 0,
         ("wrote 1 analyses",), check=infinite_odds_ratio),
    Case("no-subject-with-a-value",
         analyses(analysis("x", "pf20", "welch"),
                  '[[endpoint]]\nid = "pf20"\nkind = "change"\nparam = "PF"\nday = 20\n'
                  'window = 0\n\n'), "analyze", 0,
         ("warning: analysis x is not estimable: arm(s) ['control', 'MSC'] have no subject "
          "with a value of the endpoint",),
         check=not_estimable("x", "have no subject with a value of the endpoint")),
    Case("binary-endpoint-with-no-events",
         both(ALIVE, analyses(analysis("x", "mort28", "binary"))), "analyze", 0,
         ("wrote 1 analyses",), check=risk_difference_zero),
    Case("logrank-endpoint-with-no-events", analyses(analysis("x", "never", "logrank"), NEVER),
         "analyze", 0, ("wrote 1 analyses",), check=no_test("x")),
    Case("cox-endpoint-with-no-events", analyses(analysis("x", "never", "cox"), NEVER),
         "analyze", 0, ("wrote 1 analyses",), check=no_test("x", "wald")),
    Case("all-censored",
         both(edit("adsl.csv", lambda f: f.assign(DSCHDY="")),
              where("visits.csv", "AVAL", "6", PARAMCD="WHOCPS"),
              analyses(analysis("x", "ttci", "logrank") + analysis("km", "ttci", "km")
                       + analysis("rmst", "ttci", "rmst", tau=20))),
         "analyze", 0, ("wrote 3 analyses",), check=no_test("x")),
    Case("events-in-one-arm-only",
         both(where("adsl.csv", "DTHDY", "", USUBJID="S06"),
              where("adsl.csv", "LSTALVDY", "28", USUBJID="S06"),
              analyses(analysis("x", "death", "logrank"), MORTALITY)),
         "analyze", 0, ("wrote 1 analyses",), check=hazard_ratio_not_estimable),
    Case("strata-of-single-subjects",
         both(edit("adsl.csv", lambda f: f.assign(STRATUM=list("ABCDEF"))),
              analyses(analysis("x", "ttci", "logrank", strata=["STRATUM"]))),
         "analyze", 0, ("wrote 1 analyses",), check=no_test("x")),
    Case("report-with-bad-data-writes-nothing", cell("visits.csv", 2, "AVAL", "150"), "report", 1,
         ("visits.csv row 2, column AVAL", "FIO2 outside the possible range")),
    # ---- multiple imputation and tipping point ------------------------------------
    Case("sap-mi-on-time-to-event", analyses(analysis("x", "ttci", "logrank", missing="mi")),
         "analyze", 1, ("sap.toml: analysis[x].missing: multiple imputation applies to change "
                        "and value endpoints; 'ttci' is time_to_event.",
                        "Fix: censoring already handles incomplete follow-up")),
    Case("sap-mi-on-binary", analyses(analysis("x", "mort28", "binary", missing="mi")),
         "analyze", 1, ("sap.toml: analysis[x].missing: multiple imputation applies",
                        'method = "tipping_point"')),
    Case("sap-mi-unknown-value", analyses(analysis("x", "pf_d7", "ancova", missing="multiple")),
         "analyze", 1, ("sap.toml: analysis[x].missing: 'multiple' is not allowed.",
                        "Fix: use one of: complete_case, mi.")),
    Case("sap-mi-on-a-rank-test", analyses(analysis("x", "pf_d7", "wilcoxon", missing="mi")),
         "analyze", 1, ('sap.toml: analysis[x].missing: "mi" is not available for wilcoxon',
                        "Rubin's rules", "Fix: use method ancova, welch, paired")),
    Case("sap-mi-on-mmrm", analyses(analysis("x", "pf_d7", "mmrm", missing="mi")),
         "analyze", 1, ('analysis[x].missing: "mi" is not available for mmrm: mmrm already',)),
    Case("sap-imputations-below-2",
         analyses(analysis("x", "pf_d7", "ancova", missing="mi", imputations=1)), "analyze", 1,
         ("sap.toml: analysis[x].imputations: 1 is not a number of imputations in [2, 1000].", FIX)),
    Case("sap-imputations-above-maximum",
         analyses(analysis("x", "pf_d7", "ancova", missing="mi", imputations=5000)), "analyze", 1,
         ("sap.toml: analysis[x].imputations: 5000 is not a number of imputations in [2, 1000].", FIX)),
    Case("sap-imputations-without-mi", analyses(analysis("x", "pf_d7", "ancova", imputations=20)),
         "analyze", 1, ('sap.toml: analysis[x].imputations: applies only with missing = "mi".',
                        'Fix: add missing = "mi" or remove imputations.')),
    Case("sap-mi-reference-unknown",
         analyses(analysis("x", "pf_d7", "ancova", missing="mi", mi_reference="jump")),
         "analyze", 1, ("sap.toml: analysis[x].mi_reference: 'jump' is not allowed.",
                        "Fix: use one of: jump_to_reference, copy_reference.")),
    Case("sap-deltas-not-a-list",
         analyses(analysis("x", "pf_d7", "tipping_point", deltas=5)), "analyze", 1,
         ("sap.toml: analysis[x].deltas: must be a list of 1 to 101 finite numbers.",
          "Fix: e.g. deltas = [-60, -40, -20, 0]")),
    Case("sap-deltas-not-numbers",
         analyses(analysis("x", "pf_d7", "tipping_point", deltas=[-10, "0"])), "analyze", 1,
         ("sap.toml: analysis[x].deltas: must be a list of 1 to 101 finite numbers.",)),
    Case("sap-deltas-repeated",
         analyses(analysis("x", "pf_d7", "tipping_point", deltas=[-10, -10])), "analyze", 1,
         ("sap.toml: analysis[x].deltas: names a shift twice.", "Fix: list each delta once.")),
    Case("sap-deltas-infinite", analyses(analysis("x", "pf_d7", "tipping_point").replace(
        'method = "tipping_point"', 'method = "tipping_point"\ndeltas = [-inf, 0]')), "analyze", 1,
         ("sap.toml: analysis[x].deltas[0]: -inf is not a finite number.",)),
    Case("sap-tipping-continuous-without-deltas",
         analyses(analysis("x", "pf_d7", "tipping_point")), "analyze", 1,
         ("sap.toml: analysis[x].deltas: is required for a tipping point of a change endpoint.",
          "Fix: add e.g. deltas")),
    Case("sap-deltas-on-a-binary-tipping-point",
         analyses(analysis("x", "mort28", "tipping_point", deltas=[0])), "analyze", 1,
         ("sap.toml: analysis[x].deltas: does not apply to a tipping point of a binary endpoint.",
          "Fix: remove deltas.")),
    Case("sap-deltas-on-ancova", analyses(analysis("x", "pf_d7", "ancova", deltas=[0])),
         "analyze", 1, ("sap.toml: analysis[x].deltas: is not an option of method ancova.",
                        "Fix: ancova takes:")),
    Case("sap-missing-on-tipping-point",
         analyses(analysis("x", "mort28", "tipping_point", missing="mi")), "analyze", 1,
         ("sap.toml: analysis[x].missing: does not apply to tipping_point",)),
    Case("sap-tipping-point-three-arms",
         both(sap('arms = ["control", "MSC"]', 'arms = ["control", "MSC", "other"]'),
              analyses(analysis("x", "mort28", "tipping_point"))), "analyze", 1,
         ("sap.toml: analysis[x].method: tipping_point needs exactly two arms; the study has 3.",
          FIX)),
    Case("sap-tipping-point-on-time-to-event",
         analyses(analysis("x", "ttci", "tipping_point")), "analyze", 1,
         ("sap.toml: analysis[x].method: tipping_point does not fit the time_to_event endpoint",
          "Fix: for time_to_event endpoints use one of")),
    Case("tipping-point-without-missing-values",
         analyses(analysis("x", "vent_or_death", "tipping_point")), "analyze", 0,
         ("wrote 1 analyses",), check=tipping_note("no missing values")),
    Case("tipping-point-binary", analyses(analysis("x", "mort28", "tipping_point")), "analyze", 0,
         ("wrote 1 analyses",), check=tipping_note("2 completed tables")),
    Case("mi-on-a-six-subject-trial",
         analyses(analysis("x", "pf_d7", "ancova", missing="mi", imputations=5)), "analyze", 0,
         ("wrote 1 analyses",), check=tipping_note("5 imputations")),
    # ---- estimands: intercurrent strategies and [[estimand]] (DESIGN.md 9) ----------------
    Case("estimand-unknown-strategy", sap(PF_D7, PF_D7 + '\nintercurrent = { death = "worst_rank" }'),
         "analyze", 1, ("sap.toml: endpoint[pf_d7].intercurrent.death: 'worst_rank' is not a "
                        "strategy.", "Fix: use one of: treatment_policy, composite_worst")),
    Case("estimand-unknown-event",
         sap(PF_D7, PF_D7 + '\nintercurrent = { ventilation = "hypothetical" }'), "derive", 1,
         ("sap.toml: endpoint[pf_d7].intercurrent.ventilation: is not an intercurrent event.",
          "Fix: use death or discharge.")),
    Case("estimand-composite-best-for-death",
         sap(PF_D7, PF_D7 + '\nintercurrent = { death = "composite_best" }'), "analyze", 1,
         ("sap.toml: endpoint[pf_d7].intercurrent.death: composite_best is for discharge only",
          "Fix: use composite_worst (or another strategy) for death.")),
    Case("estimand-while-hospitalized-for-death",
         sap(PF_D7, PF_D7 + '\nintercurrent = { death = "while_hospitalized" }'), "analyze", 1,
         ("endpoint[pf_d7].intercurrent.death: while_hospitalized is for discharge only",
          "Fix: use while_alive")),
    Case("estimand-composite-with-a-mean-method",
         sap(PF_D7, PF_D7 + '\nintercurrent = { death = "composite_worst" }'), "analyze", 1,
         ("sap.toml: analysis[pf_welch].method: welch averages values, but "
          "endpoint[pf_d7].intercurrent.death = 'composite_worst' gives worst-rank scores",
          'Fix: use method = "wilcoxon" (win probability) or method = "permutation" with '
          'statistic = "wilcoxon"')),
    Case("estimand-composite-with-a-mean-permutation",
         both(sap(PF_D7, PF_D7 + '\nintercurrent = { discharge = "composite_best" }'),
              analyses(analysis("x", "pf_d7", "permutation"))), "analyze", 1,
         ("sap.toml: analysis[x].method: permutation averages values", FIX)),
    Case("estimand-hypothetical-without-mmrm-or-mi",
         sap(PF_D7, PF_D7 + '\nintercurrent = { discharge = "hypothetical" }'), "report", 1,
         ("sap.toml: analysis[pf_welch].method: endpoint[pf_d7].intercurrent.discharge = "
          "'hypothetical' sets values after the event missing",
          'Fix: use method = "mmrm", or add missing = "mi" to the analysis')),
    Case("estimand-intercurrent-on-time-to-event",
         sap('death = "competing"', 'death = "competing"\nintercurrent = { death = "hypothetical" }'),
         "analyze", 1, ("sap.toml: endpoint[ttci_competing].intercurrent: does not apply to a "
                        "time_to_event endpoint.", 'Fix: a time-to-event endpoint handles death '
                        'with death = "censor_at_horizon"')),
    Case("estimand-overlapping-windows",
         analyses(analysis("x", "pf_rep", "mmrm"),
                  '[[endpoint]]\nid = "pf_rep"\nkind = "change"\nparam = "PF"\nday = 7\n'
                  'days = [3, 5, 7]\nwindow = 1\n\n'), "analyze", 1,
         ("sap.toml: endpoint[pf_rep].window: the windows of days 3 and 5 overlap",
          "Fix: use window <= 0 or days further apart.")),
    Case("sap-mmrm-unknown-covariance-in-list",
         analyses(analysis("x", "pf_rep", "mmrm", covariance=["unstructured", "toeplits"]),
                  PF_REPEATED), "analyze", 1,
         ("sap.toml: analysis[x].covariance[1]: 'toeplits' is not allowed.",
          "did you mean 'toeplitz'", "Fix: ", "unstructured, toeplitz, ar1h, ar1, cs")),
    Case("sap-mmrm-covariance-not-a-name-or-list",
         analyses(analysis("x", "pf_rep", "mmrm", covariance=[]), PF_REPEATED), "analyze", 1,
         ("sap.toml: analysis[x].covariance: must be a covariance structure or a list of them.",
          'Fix: e.g. covariance = ["unstructured", "toeplitz", "ar1", "cs"]')),
    Case("sap-mmrm-covariance-list",
         analyses(analysis("x", "pf_rep", "mmrm", covariance=["unstructured", "toeplitz", "cs"]),
                  PF_REPEATED), "analyze", 0, ("wrote 1 analyses",),
         check=lambda out: _analysis(out, "x")["covariance"] in ("unstructured", "toeplitz", "cs")),
    Case("estimand-unknown-analysis",
         lambda t: (t / "sap.toml").write_text((t / "sap.toml").read_text() + estimand_of("nope")),
         "analyze", 1, ("sap.toml: estimand[main].analysis: names 'nope', which no [[analysis]] "
                        "declares.", "Fix: use analysis ids: pf_welch")),
    Case("estimand-unknown-sensitivity-analysis",
         lambda t: (t / "sap.toml").write_text((t / "sap.toml").read_text()
                                               + estimand_of("pf_welch", '["pf_mi"]')),
         "validate+sap", 1, ("sap.toml: estimand[main].sensitivity[0]: names 'pf_mi'", FIX)),
    Case("estimand-without-analysis",
         lambda t: (t / "sap.toml").write_text((t / "sap.toml").read_text()
                                               + '\n[[estimand]]\nid = "main"\n'),
         "analyze", 1, ("sap.toml: estimand[main].analysis: is required", FIX)),
    Case("estimand-composite-legitimate",
         both(sap(PF_D7, PF_D7 + '\nintercurrent = { discharge = "composite_best" }'),
              analyses(analysis("x", "pf_d7", "wilcoxon"))), "analyze", 0,
         ("wrote 1 analyses",), check=endpoint_rows_with('"estimand": "win_probability"')),
    Case("estimand-composite-in-endpoints-csv",
         both(sap(PF_D7, PF_D7 + '\nintercurrent = { discharge = "composite_best" }'),
              analyses(analysis("x", "pf_d7", "wilcoxon"))), "derive", 0,
         (), check=endpoint_rows_with("discharge:composite_best")),
    # ---- ADaM export: sponsor names, dates, files --------------------------
    Case("adam-no-arm-and-no-trt01p", edit("adsl.csv", lambda f: f.rename(columns={"ARM": "TRT"})),
         "validate", 1, ("adsl.csv, column ARM", "looked for ARM and TRT01P", "TRT01P (the "
                         "planned treatment)", FIX)),
    Case("adam-trt01p-read-as-arm", edit("adsl.csv", lambda f: f.rename(columns={"ARM": "TRT01P"})),
         "derive", 0, ("wrote",), same_as_clean=True),
    Case("adam-sap-arm-trt01a-missing",
         both(edit("adsl.csv", lambda f: f.rename(columns={"ARM": "TRT01P"})),
              data_rules('arm = "TRT01A"')), "validate+sap", 1,
         ("adsl.csv, column TRT01A", "required column TRT01A is missing", "add a TRT01A column",
          FIX)),
    Case("adam-dates-give-the-days", dated(drop_days=True), "derive", 0, ("wrote",),
         same_as_clean=True),
    Case("adam-dthfl-y-without-a-date", both(dated(), where("adsl.csv", "DTHFL", "Y",
                                                            USUBJID="S01")), "validate", 1,
         ("adsl.csv row 1, column DTHFL", 'DTHFL is "Y" but no death day or date', FIX)),
    Case("adam-dthfl-n-with-a-date", both(dated(), where("adsl.csv", "DTHFL", "N",
                                                         USUBJID="S02")), "validate", 1,
         ("adsl.csv row 2, column DTHFL", 'DTHFL is "N" but a death day or date', FIX)),
    Case("adam-day-and-date-disagree", both(dated(), where("adsl.csv", "DTHDT", "2024-03-12",
                                                           USUBJID="S02")), "validate", 1,
         ("adsl.csv row 2, column DTHDY", "DTHDY and DTHDT disagree", "'10 vs 12'", FIX)),
    Case("adam-death-date-before-randomization",
         both(dated(drop_days=True), where("adsl.csv", "DTHDT", "2024-02-20", USUBJID="S02"),
              where("adsl.csv", "LSTALVDT", "2024-02-20", USUBJID="S02")), "validate", 1,
         ("adsl.csv row 2, column DTHDY", "DTHDY is before day 1", FIX)),
    Case("adam-visit-date-before-randomization-is-a-negative-day",
         both(dated(), visits_dated(), where("visits.csv", "ADT", "2024-02-28", USUBJID="S01",
                                             ADT="2024-03-01")), "validate", 0,
         ("ADY from ADT (study day against RANDDT", "days -2 to")),
    Case("adam-adt-without-randdt", visits_dated(), "validate", 1,
         ("visits.csv row 1, column ADT", "no RANDDT or TRTSDT", FIX)),
    Case("adam-date-not-a-date", both(dated(), where("adsl.csv", "RANDDT", "03/01/2024",
                                                     USUBJID="S03")), "validate", 1,
         ("adsl.csv row 3, column RANDDT", "RANDDT is not a date", "YYYY-MM-DD", FIX)),
    Case("adam-unread-death-column", edit("adsl.csv", lambda f: f.assign(DTHADY=f["DTHDY"])),
         "validate", 1, ("adsl.csv, column DTHADY", "looks like a death, discharge or last-alive",
                         FIX)),
    Case("adam-unreadable-xlsx", both(remove("visits.csv"), write("visits.xlsx", b"PK\x03\x04 no")),
         "validate", 1, ("visits.xlsx", "cannot read the xlsx workbook", FIX)),
    Case("adam-xls-not-read", both(remove("visits.csv"), write("visits.xls", b"\xd0\xcf old")),
         "validate", 1, ("visits.xls", "a format mscstats does not read", FIX)),
    Case("adam-unknown-file-is-logged", write("notes.txt", "from the sponsor\n"), "validate", 0,
         ("files not read: notes.txt",)),
    Case("adam-unknown-file-in-results-json", write("define.xml", "<define/>"), "analyze", 0,
         ("wrote",), check=lambda out: _assert_not_read(out, ["define.xml"])),
    Case("adam-file-named-like-a-table", write("vists.csv", "USUBJID,DAY\nS01,1\n"), "validate", 1,
         ("vists.csv", "named like the visits table", FIX)),
    Case("adam-bds-table-besides-visits",
         both(move_rows("visits.csv", "adlb.csv", PARAMCD="IL6")), "derive", 0, ("wrote",),
         same_as_clean=True),
    Case("adam-parameter-in-two-bds-tables",
         both(copy_rows("visits.csv", "adlb.csv", PARAMCD="IL6")), "validate", 1,
         ("adlb.csv, column PARAMCD", "parameter IL6 is in both", FIX)),
    Case("adam-mapped-code-absent", data_rules('[data.params]\nPAO2 = "PO2"'), "validate+sap", 1,
         ("column PARAMCD", "maps PAO2 to the sponsor code PO2, which no table has",
          "tables read: visits.csv", FIX)),
    Case("adam-mapped-code-read", both(where("visits.csv", "PARAMCD", "PO2", PARAMCD="PAO2"),
                                       data_rules('[data.params]\nPAO2 = "PO2"')), "derive", 0,
         ("wrote",), same_as_clean=True),
    Case("adam-mapping-an-unknown-code", data_rules('[data.params]\nPOO2 = "PO2"'), "validate+sap",
         1, ("sap.toml: data.params.POO2: POO2 is not a parameter mscstats knows", FIX)),
    Case("adam-text-covariate-names-its-levels",
         both(edit("adsl.csv", lambda f: f.assign(SITEID=["01", "02"] * 3)),
              analyses(analysis("x", "pf_d7", "ancova", covariates=["BASE", "SITEID"]))),
         "analyze", 0, ("wrote 1 analyses",),
         check=lambda out: _assert_note(out, "x", "SITEID is a factor: levels 01, 02 "
                                                  "(reference 01)")),
]


# --------------------------------------------------------------------------
# output and SAP hygiene: unbounded or unsafe SAP files, SAP numbers out
# of range or not finite, SAP shapes that gave tracebacks, and report text from the
# data (long ids and terms, `$`). Where -o writes (devices, FIFOs, symlinks, full or
# read-only disks, modes, temporary files): tests/test_outputs.py.
# --------------------------------------------------------------------------

def sap_file(make: Callable[[Path], None]):
    """Replace sap.toml by what make(path) puts there (a FIFO, a symlink, a huge file)."""
    def corrupt(trial: Path) -> None:
        (trial / "sap.toml").unlink()
        make(trial / "sap.toml")
    return corrupt


def nested_rules(depth: int) -> str:
    rule = '{ state = "dead" }'
    for _ in range(depth):
        rule = "{ any = [" + rule + "] }"
    return rule


def nested_tables(depth: int) -> str:
    return "[" + ".".join(["x"] * depth) + "]\n"


def shortened_in_report(out: Path) -> None:
    """The PDF was written, and the table that held the long text says it shortened it."""
    from pypdf import PdfReader
    text = "".join(page.extract_text() for page in PdfReader(out).pages)
    assert "Text longer than 200 characters is shortened" in text


def prints_literally(fragment: str):
    def check(out: Path) -> None:
        from pypdf import PdfReader
        assert fragment in "".join(page.extract_text() for page in PdfReader(out).pages)
    return check


DOLLAR_TERM = r"$\frac{1}{0}$ head$ache"
DOLLAR_ARM = r"$\alpha^{MSC$"
HYGIENE_CASES = [
    # ---- the SAP file itself: regular, at most 1 MB --------------------------------
    Case("sap-dev-zero", sap_file(lambda p: p.symlink_to("/dev/zero")), "analyze", 1,
         ("sap.toml: file: ", "is not a regular file (a device, a FIFO or a socket)",
          "Fix: save the SAP as a .toml file")),
    Case("sap-dev-urandom", sap_file(lambda p: p.symlink_to("/dev/urandom")), "derive", 1,
         ("is not a regular file", FIX)),
    Case("sap-fifo", sap_file(lambda p: os.mkfifo(p)), "validate+sap", 1,
         ("sap.toml: file: ", "is not a regular file", FIX)),
    Case("sap-larger-than-1-mb", sap_file(lambda p: p.write_bytes(b"# x\n" * 300_000)),
         "analyze", 1, ("sap.toml: file: is larger than 1,000,000 bytes",
                        "Fix: check that --sap names the SAP")),
    # ---- non-finite numbers anywhere --------------------------------------------
    Case("sap-chg-nan", sap("chg = -2", "chg = nan"), "derive", 1,
         ("sap.toml: endpoint[ttci].event.any[0].chg: nan is not a finite number.",
          "Fix: write a finite number")),
    Case("sap-value-nan", sap("value = 94", "value = nan"), "derive", 1,
         ("sap.toml: endpoint[ra_spo2].event.any[0].value: nan is not a finite number.", FIX)),
    Case("sap-tau-nan", analyses('[[analysis]]\nid = "x"\nendpoint = "ttci"\nmethod = "rmst"\n'
                                 'tau = nan\n'), "analyze", 1,
         ("sap.toml: analysis[x].tau: nan is not a finite number.", FIX)),
    Case("sap-alpha-inf", sap("seed = 7", "seed = 7\nalpha = -inf"), "validate+sap", 1,
         ("sap.toml: study.alpha: -inf is not a finite number.", FIX)),
    Case("sap-unused-inf", sap("seed = 7", 'seed = 7\ntitle2 = inf'), "analyze", 1,
         ("sap.toml: study.title2: inf is not a finite number.", FIX)),
    # ---- numbers out of their documented range ------------------------------------
    Case("sap-horizon-a-billion", sap("horizon = 14", "horizon = 1000000000"), "derive", 1,
         ("sap.toml: endpoint[ra_spo2].horizon: 1000000000 is not a study day in [2, 3650].",
          "Fix: use a study day in [2, 3650]")),
    Case("sap-day-1e30", sap("day = 14", "day = 1e30"), "derive", 1,
         ("sap.toml: endpoint[who_d14].day: must be an integer, not 1e+30.", FIX)),
    Case("sap-day-beyond-ten-years", sap("day = 14", "day = 4000"), "derive", 1,
         ("sap.toml: endpoint[who_d14].day: 4000 is not a post-baseline study day in "
          "[2, 3650].", FIX)),
    Case("sap-days-beyond-ten-years", sap("day = 7\nwindow = 1\n\n[[endpoint]]\nid = \"ttci\"",
                                          "day = 7\ndays = [7, 9000]\nwindow = 1\n\n"
                                          "[[endpoint]]\nid = \"ttci\""), "derive", 1,
         ("sap.toml: endpoint[pf_d7].days[1]: 9000 is not a post-baseline study day", FIX)),
    Case("sap-window-a-thousand", sap("window = 1", "window = 1000"), "derive", 1,
         ("sap.toml: endpoint[pf_d7].window: 1000 is not a window in days in [0, 365].", FIX)),
    Case("sap-n-permutations-a-trillion",
         analyses(analysis("x", "pf_d7", "permutation", n_permutations=1_000_000_000_000)),
         "analyze", 1, ("sap.toml: analysis[x].n_permutations: 1000000000000 is not a number "
                        "of re-randomizations in [100, 1000000].", FIX)),
    Case("sap-tau-1e300", analyses(analysis("x", "ttci", "rmst", tau=1e300)), "analyze", 1,
         ("sap.toml: analysis[x].tau: 1e+300 is not a restriction time in days in (0, 3650].",
          FIX)),
    Case("sap-landmark-beyond-horizon", analyses(analysis("x", "ttci", "km",
                                                          landmarks=[7, 60])), "analyze", 1,
         ("sap.toml: analysis[x].landmarks: 60 is beyond the endpoint's horizon 28.",
          "Fix: choose landmarks <= horizon.")),
    Case("sap-rho-negative", analyses(analysis("x", "ttci", "logrank", rho=-1)), "analyze", 1,
         ("sap.toml: analysis[x].rho: -1.0 is not a Fleming-Harrington exponent in [0, 10].",
          FIX)),
    Case("sap-chg-1e300", sap("chg = -2", "chg = -1e300"), "derive", 1,
         ("sap.toml: endpoint[ttci].event.any[0].chg: -1e+300 is not a change from baseline",
          FIX)),
    # ---- shapes that gave tracebacks --------------------------------------------
    Case("sap-analysis-endpoint-a-list", sap('endpoint = "pf_d7"', 'endpoint = ["pf_d7"]'),
         "analyze", 1, ("sap.toml: analysis[pf_welch].endpoint: must be the id of one "
                        "[[endpoint]] (a string), not a list.", FIX)),
    Case("sap-analysis-endpoint-a-table", sap('endpoint = "pf_d7"',
                                              'endpoint = { id = "pf_d7" }'), "analyze", 1,
         ("sap.toml: analysis[pf_welch].endpoint: must be the id of one [[endpoint]] "
          "(a string), not a table.", FIX)),
    Case("sap-covariate-usubjid", analyses(analysis("x", "pf_d7", "ancova",
                                                    covariates=["BASE", "USUBJID"])),
         "analyze", 1, ("sap.toml: analysis[x].covariates[1]: USUBJID identifies subjects; it "
                        "is not a covariate or a stratum.", "Fix: remove USUBJID")),
    Case("sap-stratum-usubjid", analyses(analysis("x", "ttci", "logrank", strata=["USUBJID"])),
         "report", 1, ("sap.toml: analysis[x].strata[0]: USUBJID identifies subjects", FIX)),
    Case("sap-covariate-arm", analyses(analysis("x", "pf_d7", "ancova", covariates=["ARM"])),
         "analyze", 1, ("sap.toml: analysis[x].covariates[0]: ARM is the arm, which every "
                        "analysis already compares (it is in the model).", "Fix: remove ARM.")),
    Case("sap-stratum-arm", analyses(analysis("x", "ttci", "cox", strata=["trt01p"])),
         "analyze", 1, ("sap.toml: analysis[x].strata[0]: TRT01P is the arm", FIX)),
    Case("sap-2000-nested-rules", sap('event.any = [ { state = "dead" } ]',
                                      f"event.any = [ {nested_rules(2000)} ]"), "derive", 1,
         ("sap.toml: file: the SAP nests deeper than 32 levels.", FIX)),
    Case("sap-40-nested-rules", sap('event.any = [ { state = "dead" } ]',
                                    f"event.any = [ {nested_rules(40)} ]"), "derive", 1,
         ("sap.toml: endpoint[mort28].event.any[0]", "the SAP nests deeper than 32 levels.",
          FIX)),
    Case("sap-5000-nested-tables", lambda t: (t / "sap.toml").write_text(
        (t / "sap.toml").read_text() + nested_tables(5000)), "analyze", 1,
         ("sap.toml: x.x.x.x", "the SAP nests deeper than 32 levels.", FIX)),
    Case("sap-title-a-list", sap('title = "Six-subject toy trial"', 'title = ["Six"]'),
         "analyze", 1, ("sap.toml: study.title: must be text in quotes, not a list.", FIX)),
    Case("sap-data-cutoff-not-a-date", sap("seed = 7", 'seed = 7\ndata_cutoff = "2021-02-30"'),
         "validate+sap", 1, ("sap.toml: study.data_cutoff: '2021-02-30' is not a date.",
                             "Fix: write the cut-off as an ISO date")),
    Case("sap-data-cutoff-a-datetime", sap("seed = 7", "seed = 7\ndata_cutoff = 2021-03-15T10:00:00"),
         "validate+sap", 1, ("sap.toml: study.data_cutoff:", "is not a date.",
                             "Fix: write the cut-off as an ISO date")),
    Case("sap-status-unknown", sap("seed = 7", 'seed = 7\nsap_status = "drafty"'),
         "validate+sap", 1, ("sap.toml: study.sap_status: 'drafty' is not allowed.",
                             "did you mean 'draft'?", "Fix:")),
    Case("sap-version-a-number", sap("seed = 7", "seed = 7\nsap_version = 2.1"),
         "validate+sap", 1, ("sap.toml: study.sap_version: must be text in quotes",)),
    Case("sap-data-cutoff-a-date", sap("seed = 7", "seed = 7\ndata_cutoff = 2021-03-15"),
         "validate+sap", 0),
    Case("sap-study-id-a-table", sap('id = "TOY-1"', 'id = { a = 1 }'), "validate+sap", 1,
         ("sap.toml: study.id: must be a non-empty string.", FIX)),
    # ---- report: text from the data is drawn and printed literally, long text shortened
    Case("report-5000-character-usubjid",
         recode(lambda b: b.replace(b"S02,", b"S" + b"x" * 5000 + b",")), "report", 0,
         ("wrote",), check=shortened_in_report),
    Case("report-20000-character-ae-term",
         both(cell("adae.csv", 1, "AEDECOD", "Headache " + "y" * 20000),
              cell("adae.csv", 2, "AEBODSYS", "Body " * 4000)), "report", 0,
         ("wrote",), check=shortened_in_report),
    Case("report-5000-character-arm-and-title",
         both(edit("adsl.csv", lambda f: f.assign(ARM=f["ARM"].replace("MSC", "M" * 5000))),
              sap('arms = ["control", "MSC"]', f'arms = ["control", "{"M" * 5000}"]'),
              sap('title = "Six-subject toy trial"', f'title = "{"T" * 20000}"')),
         "report", 0, ("wrote",), check=shortened_in_report),
    Case("report-dollar-in-ae-term", cell("adae.csv", 1, "AEDECOD", DOLLAR_TERM), "report", 0,
         ("wrote",), check=prints_literally(DOLLAR_TERM)),
    Case("report-dollar-in-arm-name",
         both(edit("adsl.csv", lambda f: f.assign(ARM=f["ARM"].replace("MSC", DOLLAR_ARM))),
              sap('arms = ["control", "MSC"]', f"arms = ['control', '{DOLLAR_ARM}']")),
         "report", 0, ("wrote",), check=prints_literally(DOLLAR_ARM)),
]
CASES += HYGIENE_CASES


def _assert_not_read(out: Path, files: list[str]) -> None:
    assert json.loads(out.read_text("utf-8"))["data_quality"]["files_not_read"] == files


def _assert_note(out: Path, analysis_id: str, note: str) -> None:
    assert note in _analysis(out, analysis_id)["notes"]


# --------------------------------------------------------------------------
# data file parsing: what a file really is, decimal marks, study days
# --------------------------------------------------------------------------

def decimal_commas(file: str, columns=("AVAL", "LLOQ")):
    """The file semicolon-separated, with decimal commas in the given columns."""
    def change(frame):
        for column in columns:
            frame[column] = frame[column].str.replace(".", ",", regex=False)
        return frame

    def corrupt(trial: Path) -> None:
        change(_read(trial / file)).to_csv(trial / file, sep=";", index=False,
                                           lineterminator="\n")
    return corrupt


def shift_days(file: str, column: str, by: int, **match):
    """Add by to a day column on the rows matching the given cells (all rows if none)."""
    def change(frame):
        rows = pd.Series(True, index=frame.index)
        for name, wanted in match.items():
            rows &= frame[name] == wanted
        frame.loc[rows, column] = [str(int(d) + by) for d in frame.loc[rows, column]]
        return frame
    return edit(file, change)


def as_parquet(file: str, **columns):
    """The CSV table as Parquet, with some columns replaced (pyarrow arrays or lists)."""
    def corrupt(trial: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq
        frame = _read(trial / file)
        (trial / file).unlink()
        table = pa.table({c: columns.get(c, pa.array(frame[c].tolist(), pa.string()))
                          for c in frame.columns})
        pq.write_table(table, trial / file.replace(".csv", ".parquet"))
    return corrupt


def renamed(source_maker, file: str):
    """A file made by source_maker(trial, path) written under the CSV's name."""
    def corrupt(trial: Path) -> None:
        target = trial / file
        frame = _read(target)
        source_maker(frame, target)
    return corrupt


def _excel_bytes(frame, target: Path) -> None:
    frame.to_excel(target.with_suffix(".tmp.xlsx"), index=False)
    target.with_suffix(".tmp.xlsx").replace(target)


def _parquet_bytes(frame, target: Path) -> None:
    frame.to_parquet(target)


def long_cell(file: str, row: int, column: str, size: int):
    return cell(file, row, column, "x" * size)


def encoded(encoding: str, bom: bytes = b""):
    return recode(lambda b: bom + b.decode("utf-8").encode(encoding), ("adsl.csv",))


TOY_VISITS = 84
DECIMAL_COMMA_SAP = sap("[[endpoint]]", '[data]\ndecimal = ","\n\n[[endpoint]]')
DECIMAL_POINT_SAP = sap("[[endpoint]]", '[data]\ndecimal = "."\n\n[[endpoint]]')
CASES += [
    # ---- decimal marks ------------------------------------------------------------
    Case("il6-1,200-in-a-semicolon-file",
         both(cell("visits.csv", 6, "AVAL", "1,200"), decimal_commas("visits.csv")),
         "derive", 1, ("visits.csv row 6, column AVAL", "ambiguous number", "'1,200'",
                       "mscstats does not guess", 'Fix: declare the decimal mark in the SAP '
                       '([data] decimal = "," reads')),
    Case("il6-1,200-with-the-decimal-comma-declared",
         both(cell("visits.csv", 6, "AVAL", "1,200"), decimal_commas("visits.csv"),
              DECIMAL_COMMA_SAP), "validate+sap", 0,
         ("visits.csv, column AVAL: decimal comma read as a point", "as the SAP declares",
          "IL6 below the LLOQ")),
    Case("decimal-commas-logged", decimal_commas("visits.csv"), "validate", 0,
         ("visits.csv, column AVAL: decimal comma read as a point, e.g. '0,6' -> 0.6 "
          "(semicolon-separated file)", "visits.csv, column LLOQ: decimal comma")),
    Case("decimal-commas-in-results-json", decimal_commas("visits.csv"), "analyze", 0,
         ("wrote 2 analyses",), check=converted_in_results("decimal comma read as a point")),
    Case("decimal-commas-declared-same-endpoints",
         both(decimal_commas("visits.csv"), DECIMAL_COMMA_SAP), "derive", 0, ("wrote",),
         same_as_clean=True),
    Case("thousands-separator", both(cell("visits.csv", 6, "AVAL", "1.234,5"),
                                     decimal_commas("visits.csv", ("LLOQ",))), "validate", 1,
         ("visits.csv row 6, column AVAL", "a thousands separator in a number", "'1.234,5'",
          "Fix: write the number without thousands separators (1234.5), or declare the decimal "
          "mark in the SAP")),
    Case("thousands-points-with-the-decimal-comma-declared",
         both(decimal_commas("visits.csv"), DECIMAL_COMMA_SAP,
              recode(lambda b: b.replace(b"S01;1;;IL6;50;", b"S01;1;;IL6;1.234,5;"),
                     ("visits.csv",))), "validate+sap", 0,
         ("visits.csv, column AVAL: thousands separator removed, e.g. '1.234,5' -> 1234.5 (as "
          "the SAP declares ([data] decimal = ',')",)),
    Case("thousands-commas-with-the-decimal-point-declared",
         both(cell("visits.csv", 6, "AVAL", "1,200"), DECIMAL_POINT_SAP), "validate+sap", 0,
         ("visits.csv, column AVAL: thousands separator removed, e.g. '1,200' -> 1200",)),
    Case("thousands-commas-where-the-sap-declares-a-comma",
         both(cell("visits.csv", 6, "AVAL", "1,234,567"), DECIMAL_COMMA_SAP,
              decimal_commas("visits.csv")),
         "derive", 1, ("visits.csv row 6, column AVAL", "but the SAP declares the decimal comma",
                       "'1,234,567'", FIX)),
    Case("points-in-a-semicolon-file-without-commas",
         both(cell("visits.csv", 6, "AVAL", "1.200"), decimal_commas("visits.csv", ("LLOQ",))),
         "validate", 0, ("visits.csv, column AVALC: IL6 below the LLOQ",)),
    Case("point-1.200-among-decimal-commas",
         both(cell("visits.csv", 6, "AVAL", "1.200"), cell("visits.csv", 2, "AVAL", "0,6"),
              decimal_commas("visits.csv", ("LLOQ",))), "validate", 1,
         ("visits.csv row 6, column AVAL", "ambiguous number", "'1.200'", FIX)),
    Case("comma-in-a-comma-separated-file", cell("visits.csv", 6, "AVAL", "1,200"), "validate", 1,
         ("visits.csv row 6, column AVAL", "a comma in a number", "'1,200'",
          'declare [data] decimal = "," in the SAP')),
    Case("comma-where-the-sap-declares-a-point",
         both(decimal_commas("visits.csv"), DECIMAL_POINT_SAP), "analyze", 1,
         ("visits.csv row 2, column AVAL", "the SAP declares the decimal point", FIX)),
    Case("point-where-the-sap-declares-a-comma", DECIMAL_COMMA_SAP, "validate+sap", 1,
         ("visits.csv row 2, column AVAL", "the SAP declares the decimal comma", "'0.6'", FIX)),
    Case("sap-decimal-not-a-mark", sap("[[endpoint]]", '[data]\ndecimal = ";"\n\n[[endpoint]]'),
         "derive", 1, ("sap.toml: data.decimal: ';' is not allowed.", "use one of: ., ,")),
    Case("adsl-extra-column-with-decimal-commas",
         both(edit("adsl.csv", lambda f: f.assign(WEIGHT=["72,5", "80", "65,25", "90", "70",
                                                          "88,1"])),
              decimal_commas("adsl.csv", ())), "validate", 0,
         ("adsl.csv, column WEIGHT: decimal comma read as a point",)),
    Case("wide-visits-with-decimal-commas",
         both(wide_visits(), decimal_commas("visits.csv", ("FIO2", "IL6"))), "validate", 0,
         ("visits.csv is wide", "visits.csv, column FIO2: decimal comma read as a point, e.g. "
          "'0,6' -> 0.6",)),
    Case("wide-visits-with-a-thousands-comma",
         both(wide_visits(), cell("visits.csv", 1, "IL6", "1,200"),
              decimal_commas("visits.csv", ("FIO2",))), "validate", 1,
         ("visits.csv row 1, column IL6", "ambiguous number", "'1,200'", FIX)),
    Case("below-limit-with-a-decimal-comma",
         both(cell("visits.csv", 6, "AVAL", "<1,5"), decimal_commas("visits.csv")), "validate", 0,
         ("visits.csv, column AVAL: decimal comma read as a point",
          "visits.csv, column AVALC: IL6 below the LLOQ: set to LLOQ/2")),
    # ---- study days -----------------------------------------------------------------
    Case("ady-int64-max", cell("visits.csv", 4, "ADY", "9223372036854775807"), "derive", 1,
         ("visits.csv row 4, column ADY", "beyond any plausible study day (|day| <= 3650",
          "'9223372036854775807'", FIX)),
    Case("ady-1e20", cell("visits.csv", 4, "ADY", "1e20"), "validate", 1,
         ("visits.csv row 4, column ADY", "beyond any plausible study day", FIX)),
    Case("ady-int64-max-in-parquet",
         as_parquet("visits.csv", ADY=[2**63 - 1] + [1] * (TOY_VISITS - 1)), "validate", 1,
         ("visits.parquet row 1, column ADY", "beyond any plausible study day", FIX)),
    Case("dthdy-1e20", cell("adsl.csv", 2, "DTHDY", "1e20"), "validate", 1,
         ("adsl.csv row 2, column DTHDY", "beyond any plausible study day", FIX)),
    Case("dthdy-1e300", cell("adsl.csv", 2, "DTHDY", "1e300"), "analyze", 1,
         ("adsl.csv row 2, column DTHDY", "beyond any plausible study day", FIX)),
    Case("lstalvdy-1e300", cell("adsl.csv", 1, "LSTALVDY", "1e300"), "validate", 1,
         ("adsl.csv row 1, column LSTALVDY", "beyond any plausible study day", FIX)),
    Case("dschdy-negative-huge", cell("adsl.csv", 1, "DSCHDY", "-1e20"), "validate", 1,
         ("adsl.csv row 1, column DSCHDY", "beyond any plausible study day", FIX)),
    Case("aestdy-1e20", cell("adae.csv", 1, "AESTDY", "1e20"), "validate", 1,
         ("adae.csv row 1, column AESTDY", "beyond any plausible study day", FIX)),
    Case("exstdy-1e300", cell("ex.csv", 1, "EXSTDY", "1e300"), "validate", 1,
         ("ex.csv row 1, column EXSTDY", "beyond any plausible study day", FIX)),
    Case("other-day-column-1e20", edit("adae.csv", lambda f: f.assign(AEENDY=["1e20"] + [""] *
                                                                      (len(f) - 1))),
         "validate", 1, ("adae.csv row 1, column AEENDY", "beyond any plausible study day", FIX)),
    Case("ady-excel-serials-for-one-subject", shift_days("visits.csv", "ADY", 45006, USUBJID="S03"),
         "derive", 1, ("visits.csv row ", "column ADY", "looks like an Excel date serial",
                       "(45005 is 2023-03-20)", "convert to study days", "give ADT dates")),
    Case("ady-all-excel-serials-blames-ady", shift_days("visits.csv", "ADY", 45006), "validate",
         1, ("1 error in the trial data", "visits.csv row 1, column ADY",
             "looks like an Excel date serial")),
    Case("dthdy-excel-serial", cell("adsl.csv", 2, "DTHDY", "45016"), "validate", 1,
         ("adsl.csv row 2, column DTHDY", "looks like an Excel date serial", "give DTHDT dates")),
    Case("visits-of-a-subject-far-beyond-follow-up",
         shift_days("visits.csv", "ADY", 400, USUBJID="S01"), "derive", 1,
         ("visits.csv row 1, column ADY", "every visit of the subject is more than 30 days after "
          "LSTALVDY", "'S01'", "Fix: correct ADY")),
    Case("one-visit-after-last-alive-is-a-warning",
         add_row("visits.csv", USUBJID="S01", ADY="40", PARAMCD="WHOCPS", AVAL="1"), "validate", 0,
         ("visits.csv, column ADY: visit after LSTALVDY",)),
    # ---- what a file really is ---------------------------------------------------------
    Case("adsl-of-one-byte", write("adsl.csv", b"U"), "validate", 1,
         ("adsl.csv", "a single line without a line break (1 byte: 'U')", FIX)),
    Case("cell-of-3-mb", long_cell("adsl.csv", 3, "SEX", 3 << 20), "validate", 1,
         ("adsl.csv row 3, column SEX", "a cell of 3.0 MB", "unclosed quote")),
    Case("cr-only-line-endings", recode(lambda b: b.replace(b"\n", b"\r")), "derive", 0,
         ("wrote",), same_as_clean=True),
    Case("cr-only-line-endings-noted", recode(lambda b: b.replace(b"\n", b"\r")), "validate", 0,
         ("visits.csv: line breaks are CR only", f"visits.csv         {TOY_VISITS}")),
    Case("utf16-without-bom", encoded("utf-16-le"), "validate", 1,
         ("adsl.csv", "UTF-16 text (little-endian) without a byte-order mark", "UTF-8 CSV")),
    Case("utf16-with-bom", encoded("utf-16"), "validate", 1,
         ("adsl.csv", "UTF-16 text (little-endian, with a byte-order mark)", FIX)),
    Case("utf16-big-endian-without-bom", encoded("utf-16-be"), "validate", 1,
         ("adsl.csv", "UTF-16 text (big-endian) without a byte-order mark", FIX)),
    Case("utf32-with-bom", encoded("utf-32"), "validate", 1,
         ("adsl.csv", "UTF-32 text (little-endian, with a byte-order mark)", FIX)),
    Case("xls-named-csv", write("adsl.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)),
         "validate", 1, ("adsl.csv", "this is an Excel 97-2003 workbook (.xls), not CSV text",
                         "Fix: export the table as CSV")),
    Case("xpt-named-csv", write("ex.csv", b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
                                          + b"0" * 30), "validate", 1,
         ("ex.csv", "this is a SAS transport file, not CSV text", "Fix: name it ex.xpt")),
    Case("csv-text-named-parquet",
         lambda t: (t / "visits.csv").rename(t / "visits.parquet"), "validate", 1,
         ("visits.parquet", "this is text (CSV?), not a Parquet file",
          "Fix: name it visits.csv")),
    Case("binary-nul-bytes", write("ex.csv", b"USUBJID,EXSTDY\x00\x01\x02\nS01,1\n"), "validate",
         1, ("ex.csv", "binary data (NUL bytes)", FIX)),
    Case("xlsx-named-csv", renamed(_excel_bytes, "adsl.csv"), "validate", 1,
         ("adsl.csv", "this is an Excel workbook (xlsx), not CSV text", "Fix: name it adsl.xlsx")),
    Case("parquet-named-csv", renamed(_parquet_bytes, "visits.csv"), "derive", 1,
         ("visits.csv", "this is a Parquet file, not CSV text", "Fix: name it visits.parquet")),
    Case("gzip-named-csv", recode(lambda b: __import__("gzip").compress(b, mtime=0), ("ex.csv",)),
         "validate", 1, ("ex.csv", "this is a gzip-compressed file", FIX)),
    Case("parquet-aval-of-lists", as_parquet("visits.csv", AVAL=[[1.0]] * TOY_VISITS), "validate",
         1, ("visits.parquet row 1, column AVAL", "list<", "not one value per cell",
             "write one value per cell")),
]


def test_the_catalogue_is_large_and_covers_every_stage():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.command for c in CASES} >= {"validate", "validate+sap", "derive", "analyze",
                                          "report"}


# --------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------

OUTPUTS = {"derive": "endpoints.csv", "analyze": "results.json", "report": "report.pdf",
           "export-adam": "adam"}


def _command(command: str, trial: Path, out: Path) -> list[str]:
    sap_path = str(trial.parent / "sap.toml")
    if command == "validate":
        return ["validate", str(trial)]
    if command == "validate+sap":
        return ["validate", str(trial), "--sap", sap_path]
    command, _, strict = command.partition("+")           # "analyze+strict": --strict
    return [command, str(trial), "--sap", sap_path, "-o", str(out)] + (["--strict"] if strict else [])


def _prepare(tmp_path: Path, corrupt=None) -> Path:
    """The toy trial copied to tmp_path/trial, its SAP moved beside it (so a SAP
    corruption and a data corruption touch different files)."""
    trial = tmp_path / "trial"
    shutil.copytree(TOY, trial, ignore=shutil.ignore_patterns("expected_endpoints.csv"))
    if corrupt is not None:
        corrupt(trial)
    if (trial / "sap.toml").exists():
        shutil.move(trial / "sap.toml", tmp_path / "sap.toml")
    return trial


def _run(args: list[str]):
    return CliRunner().invoke(main, args)


@pytest.fixture(scope="module")
def clean_endpoints(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("clean")
    trial = _prepare(tmp)
    out = tmp / "endpoints.csv"
    result = _run(_command("derive", trial, out))
    assert result.exit_code == 0, result.output
    return out.read_text("utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalogue(case: Case, tmp_path, request):
    trial = _prepare(tmp_path, case.corrupt)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / OUTPUTS.get(case.command.split("+")[0], "none")
    result = _run(_command(case.command, trial, out))
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{type(result.exception).__name__}: {result.exception}\n{output}"
    assert "Traceback" not in output
    assert result.exit_code == case.exit, output
    for fragment in case.expect:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    written = sorted(p.name for p in out_dir.iterdir())
    if case.exit != 0:
        assert output.startswith("error: ") or "\nerror: " in output, output
        assert FIX in output or "no adsl table" in output, output
        assert written == [], written      # nothing half-written, no temporary file
        return
    if case.command in OUTPUTS:
        assert written == [out.name]
    if case.same_as_clean:
        assert out.read_text("utf-8") == request.getfixturevalue("clean_endpoints")
    if case.check is not None:
        case.check(out)


# --------------------------------------------------------------------------
# Security
# --------------------------------------------------------------------------

def test_sap_text_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    trial = _prepare(tmp_path, sap('id = "TOY-1"\ntitle = "Six-subject toy trial"',
                                   f'id = "{payload}"\ntitle = "{payload}"'))
    out = tmp_path / "results.json"
    result = _run(_command("analyze", trial, out))
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    assert json.loads(out.read_text())["manifest"]["study"] == payload   # kept as text


def test_no_sap_key_takes_a_path():
    """If a SAP key ever takes a file path, it needs a test that "../" is refused."""
    keys = (*plan.STUDY_KEYS, *plan.DATA_KEYS, *plan.ENDPOINT_KEYS, *plan.CONDITION_KEYS,
            *plan.ANALYSIS_KEYS, *plan.ANALYSIS_OPTIONS, *plan.MULTIPLICITY_KEYS)
    assert not [k for k in keys if any(w in k for w in ("path", "file", "dir", "output"))]


@pytest.mark.parametrize("command", ["derive", "analyze"])
def test_a_failure_leaves_no_output_and_keeps_an_old_one(tmp_path, command):
    trial = tmp_path / "trial"
    shutil.copytree(TOY, trial)
    cell("visits.csv", 4, "AVAL", "high")(trial)
    fresh, old = tmp_path / "fresh.out", tmp_path / "old.out"
    old.write_text("previous results\n")
    for out in (fresh, old):
        result = _run([command, str(trial), "--sap", str(trial / "sap.toml"), "-o", str(out)])
        assert result.exit_code == 1
        assert "visits.csv row 4, column AVAL" in result.output
        assert "Traceback" not in result.output
    assert not fresh.exists()
    assert old.read_text() == "previous results\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

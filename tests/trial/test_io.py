"""Reading trial directories: formats, names, encodings, wide files, file errors."""

import sys

import pandas as pd
import pytest

from data_builders import (adsl_table, trial_tables, visits_table, write_table, write_trial)
from mscstats.errors import DataError
from mscstats.trial.io import read_tables
from mscstats.trial.validate import load_trial


def _canonical(trial):
    """A trial's tables sorted, for comparing trials read from different files."""
    out = {"adsl": trial.adsl.sort_values("USUBJID").reset_index(drop=True),
           "visits": trial.visits.sort_values(["USUBJID", "ADY", "ATM", "PARAMCD"])
           .reset_index(drop=True)}
    for name in ("adae", "ex"):
        table = getattr(trial, name)
        out[name] = None if table is None else table.sort_values(
            list(table.columns)).reset_index(drop=True)
    return out


def assert_same_trial(a, b, ignore=()):
    ta, tb = _canonical(a), _canonical(b)
    for name in ta:
        if ta[name] is None or tb[name] is None:
            assert ta[name] is tb[name] is None
            continue
        left, right = ta[name].drop(columns=list(ignore), errors="ignore"), \
            tb[name].drop(columns=list(ignore), errors="ignore")
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-12)


# --------------------------------------------------------------------------- basics

def test_reads_tables_with_rows_and_upper_case_names(tmp_path):
    tables = trial_tables()
    tables["adsl"] = tables["adsl"].rename(columns={"USUBJID": "usubjid", "Arm": "arm"})
    write_trial(tmp_path, tables)
    (tmp_path / "adsl.csv").rename(tmp_path / "ADSL.csv")
    raw = read_tables(tmp_path)
    assert list(raw.tables) == ["adsl", "visits", "adae", "ex"]
    adsl = raw["adsl"]
    assert adsl.file == "ADSL.csv" and adsl.n_rows == 4
    assert list(adsl.frame.columns) == ["USUBJID", "ARM", "AGE", "SEX", "DTHDY", "DSCHDY",
                                        "LSTALVDY", "_ROW"]
    assert adsl.frame["_ROW"].tolist() == [1, 2, 3, 4]
    # text stays text: nothing is coerced on reading
    assert adsl.frame["AGE"].tolist() == ["61", "54", "70", "48"]
    assert adsl.frame["DTHDY"].tolist() == ["", "", "5", ""]
    assert raw.files["visits"] == "visits.csv"


def test_sha256_covers_table_files_only(tmp_path):
    write_trial(tmp_path)
    first = read_tables(tmp_path).data_sha256
    (tmp_path / "README.txt").write_text("notes")
    again = read_tables(tmp_path)
    assert again.data_sha256 == first
    assert any("README.txt" in n for n in again.notes)
    with open(tmp_path / "ex.csv", "a") as f:
        f.write("S4,3,5,1,IV\n")
    assert read_tables(tmp_path).data_sha256 != first
    assert len(first) == 64


def test_missing_directory_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_tables(tmp_path / "nope")


def test_missing_adsl_names_directory_and_fix(tmp_path):
    write_table(tmp_path, "visits", visits_table())
    with pytest.raises(DataError) as err:
        read_tables(tmp_path)
    text = str(err.value)
    assert str(tmp_path) in text and "adsl.csv" in text and "Fix:" in text


def test_two_files_for_one_table(tmp_path):
    write_trial(tmp_path)
    write_table(tmp_path, "adsl", adsl_table(), fmt="parquet")
    with pytest.raises(DataError, match="two files for the adsl table: adsl.csv, adsl.parquet"):
        read_tables(tmp_path)


def test_empty_file_and_header_only(tmp_path):
    write_trial(tmp_path)
    (tmp_path / "adae.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"adae.csv: the file is empty \(0 bytes\)"):
        read_tables(tmp_path)
    (tmp_path / "adae.csv").write_text("USUBJID,AESTDY,AEDECOD,AETOXGR\n")
    raw = read_tables(tmp_path)
    assert raw["adae"].n_rows == 0 and len(raw["adae"].frame) == 0
    assert len(load_trial(tmp_path).adae) == 0
    (tmp_path / "adsl.csv").write_text("USUBJID,ARM,LSTALVDY\n")
    with pytest.raises(DataError, match="adsl.csv.*no subjects"):
        load_trial(tmp_path)


def test_ragged_rows_and_repeated_columns_are_errors(tmp_path):
    write_trial(tmp_path)
    (tmp_path / "ex.csv").write_text("USUBJID,EXSTDY\nS1,1,extra\n")
    with pytest.raises(DataError, match="ex.csv: cannot read the file"):
        read_tables(tmp_path)
    (tmp_path / "ex.csv").write_text("USUBJID,EXSTDY,exstdy\nS1,1,1\n")
    with pytest.raises(DataError, match="ex.csv, column EXSTDY: column names appear twice"):
        read_tables(tmp_path)


# --------------------------------------------------------------------------- CSV dialects

def test_bom_crlf_csv_loads_like_plain(tmp_path):
    write_trial(tmp_path / "plain")
    write_trial(tmp_path / "bom", encoding="utf-8-sig", lineterminator="\r\n")
    assert (tmp_path / "bom" / "adsl.csv").read_bytes().startswith(b"\xef\xbb\xbfUSUBJID")
    assert b"\r\n" in (tmp_path / "bom" / "visits.csv").read_bytes()
    raw = read_tables(tmp_path / "bom")
    assert raw["adsl"].frame.columns[0] == "USUBJID"
    assert raw["adsl"].frame["LSTALVDY"].iloc[0] == "28"     # no stray \r
    assert_same_trial(load_trial(tmp_path / "plain"), load_trial(tmp_path / "bom"))


def test_semicolon_csv_with_decimal_comma(tmp_path):
    write_trial(tmp_path / "plain")
    tables = trial_tables()
    tables["visits"]["AVAL"] = tables["visits"]["AVAL"].str.replace(".", ",", regex=False)
    write_trial(tmp_path / "semi", tables, sep=";")
    assert "0,5" in (tmp_path / "semi" / "visits.csv").read_text()
    assert_same_trial(load_trial(tmp_path / "plain"), load_trial(tmp_path / "semi"))


def test_quoted_fields_keep_separators_and_newlines(tmp_path):
    write_trial(tmp_path)
    adae = tmp_path / "adae.csv"
    adae.write_text('USUBJID,AESTDY,AEDECOD,AEBODSYS,AETOXGR\n'
                    'S1,2,"Rash, generalised","Skin\nand subcutaneous",2\n')
    trial = load_trial(tmp_path)
    assert trial.adae["AEDECOD"].tolist() == ["Rash, generalised"]
    assert trial.adae["AEBODSYS"].tolist() == ["Skin\nand subcutaneous"]


def test_csv_without_pyarrow_reads_the_same(tmp_path, monkeypatch):
    tables = trial_tables()
    tables["adae"].loc[0, "AEDECOD"] = "Rash, generalised"
    write_trial(tmp_path, tables, encoding="utf-8-sig", lineterminator="\r\n")
    with_arrow = read_tables(tmp_path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)   # import pyarrow -> ImportError
    without = read_tables(tmp_path)
    for name in with_arrow.tables:
        a, b = with_arrow[name].frame, without[name].frame
        assert list(a.columns) == list(b.columns)
        for column in a.columns:
            assert a[column].tolist() == b[column].tolist(), (name, column)
    assert_same_trial(load_trial(tmp_path), load_trial(tmp_path))


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path, monkeypatch):
    write_trial(tmp_path)
    (tmp_path / "ex.csv").unlink()
    write_table(tmp_path, "ex", trial_tables()["ex"], fmt="parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match="ex.parquet: reading Parquet files needs the pyarrow"):
        read_tables(tmp_path)


def test_not_utf8_is_an_error(tmp_path):
    write_trial(tmp_path)
    (tmp_path / "adae.csv").write_bytes("USUBJID,AESTDY,AEDECOD,AETOXGR\nS1,2,Fi\xe8vre,1\n"
                                        .encode("latin-1"))
    with pytest.raises(DataError, match="adae.csv: cannot read the file.*UTF-8"):
        read_tables(tmp_path)


# --------------------------------------------------------------------------- other formats

def _typed(tables):
    """Tables with numeric columns stored as numbers, as a Parquet/XPT export has them."""
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for column in frame.columns:
            numbers = pd.to_numeric(frame[column].where(frame[column] != ""), errors="coerce")
            if numbers.notna().sum() == (frame[column] != "").sum() and column != "USUBJID":
                frame[column] = numbers
        out[name] = frame
    return out


@pytest.mark.parametrize("fmt", ["parquet", "xpt"])
def test_parquet_and_xpt_load_like_csv(tmp_path, fmt):
    write_trial(tmp_path / "csv")
    tables = _typed(trial_tables())
    assert tables["visits"]["AVAL"].dtype == float
    write_trial(tmp_path / fmt, tables, fmt=fmt)
    assert_same_trial(load_trial(tmp_path / "csv"), load_trial(tmp_path / fmt))


@pytest.mark.parametrize("fmt", ["parquet", "xpt"])
def test_text_columns_in_parquet_and_xpt_load_like_csv(tmp_path, fmt):
    write_trial(tmp_path / "csv")
    write_trial(tmp_path / fmt, fmt=fmt)
    assert_same_trial(load_trial(tmp_path / "csv"), load_trial(tmp_path / fmt))


# --------------------------------------------------------------------------- wide visits

def wide_visits(long: pd.DataFrame) -> pd.DataFrame:
    value = long["AVAL"].where(long["AVAL"] != "", long["AVALC"])
    wide = long.assign(VALUE=value).pivot(index=["USUBJID", "ADY", "ATM"], columns="PARAMCD",
                                          values="VALUE")
    return wide.reset_index().rename_axis(columns=None).fillna("")


def test_wide_visits_are_melted_with_shared_rows(tmp_path):
    tables = trial_tables()
    tables["visits"] = wide_visits(tables["visits"])
    tables["visits"].loc[0, "PAO2"] = ""            # an empty cell is not a record
    write_trial(tmp_path, tables)
    raw = read_tables(tmp_path)
    visits = raw["visits"]
    assert visits.wide and visits.n_rows == 11
    assert set(visits.wide_columns) == {"FIO2", "IL6", "OXYDEV", "PAO2", "SPO2", "TNFA",
                                        "WHOCPS"}
    assert len(visits.frame) == 11 * 7 - 1
    assert list(visits.frame.columns) == ["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "_ROW"]
    first = visits.frame[visits.frame["_ROW"] == 1]
    assert sorted(first["PARAMCD"]) == ["FIO2", "IL6", "OXYDEV", "SPO2", "TNFA", "WHOCPS"]
    assert any("is wide" in note for note in raw.notes)


def test_wide_equals_long(tmp_path):
    tables = trial_tables()
    tables["visits"] = tables["visits"].drop(columns=["LLOQ", "AVALU"])
    write_trial(tmp_path / "long", tables)
    tables["visits"] = wide_visits(tables["visits"])
    write_trial(tmp_path / "wide", tables)
    long, wide = load_trial(tmp_path / "long"), load_trial(tmp_path / "wide")
    assert_same_trial(long, wide)
    assert wide.quality.rows_read["visits.csv"] == 11
    assert wide.quality.n_dropped("visits.csv") == 0


def test_xpt_version5_reads_without_pyreadstat(tmp_path, monkeypatch):
    import pyreadstat
    write_trial(tmp_path / "csv")
    write_trial(tmp_path / "xpt")
    (tmp_path / "xpt" / "adsl.csv").unlink()
    pyreadstat.write_xport(_typed({"adsl": adsl_table()})["adsl"],
                           str(tmp_path / "xpt" / "adsl.xpt"), file_format_version=5)
    monkeypatch.setitem(sys.modules, "pyreadstat", None)
    raw = read_tables(tmp_path / "xpt")
    assert raw["adsl"].frame["USUBJID"].tolist() == ["S1", "S2", "S3", "S4"]
    trial = load_trial(tmp_path / "xpt")
    expected = _canonical(load_trial(tmp_path / "csv"))["adsl"]
    pd.testing.assert_frame_equal(_canonical(trial)["adsl"], expected)


def test_unreadable_xpt_is_a_data_error(tmp_path):
    write_trial(tmp_path)
    (tmp_path / "ex.csv").unlink()
    (tmp_path / "ex.xpt").write_bytes(b"not a transport file at all" * 10)
    with pytest.raises(DataError, match="ex.xpt: cannot read the SAS transport file"):
        read_tables(tmp_path)


def test_wide_file_errors_name_the_parameter_column(tmp_path):
    tables = trial_tables()
    tables["visits"] = wide_visits(tables["visits"])
    tables["visits"].loc[4, "SPO2"] = "ninety"
    tables["visits"].loc[6, "OXYDEV"] = "helmet"
    write_trial(tmp_path, tables)
    with pytest.raises(DataError) as err:
        load_trial(tmp_path)
    where = sorted((p.file, p.row, p.column) for p in err.value.problems)
    assert where == [("visits.csv", 5, "SPO2"), ("visits.csv", 7, "OXYDEV")]


def test_wide_rows_are_used_if_any_cell_is_used(tmp_path):
    tables = trial_tables()
    long = tables["visits"]
    tables["visits"] = wide = wide_visits(long)
    wide.loc[2, "SPO2"] = "NA"                                 # one cell without a value
    wide.loc[3, ["FIO2", "IL6", "OXYDEV", "PAO2", "SPO2", "TNFA", "WHOCPS"]] = ""  # empty row
    tables["visits"] = pd.concat([wide, wide.iloc[[5]]], ignore_index=True)  # row 12 = row 6
    write_trial(tmp_path, tables)
    trial = load_trial(tmp_path)
    log = trial.quality
    log.check()
    assert log.rows_read["visits.csv"] == 12
    reasons = {e["reason"]: e["rows"] for e in log.dropped}
    assert reasons == {"no parameter values in the row": "4",
                       "duplicate of row 6: worst kept": "12"}
    assert [w["rows"] for w in log.warnings if w["message"].startswith("cell not used")] == ["3"]
    assert len(trial.visits) == 77 - 7 - 1


def test_damaged_files_are_data_errors(tmp_path):
    write_trial(tmp_path)
    (tmp_path / "ex.csv").write_bytes(b"USUBJID,EX\rSTDY\nS1,1\n")     # a lone CR in the header
    (tmp_path / "adae.csv").unlink()
    path = write_table(tmp_path, "adae", trial_tables()["adae"], fmt="parquet")
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2: len(damaged) // 2 + 40] = b"\x88" * 40
    path.write_bytes(bytes(damaged[:-30]))
    with pytest.raises(DataError) as err:
        read_tables(tmp_path)
    assert sorted(p.file for p in err.value.problems) == ["adae.parquet", "ex.csv"]

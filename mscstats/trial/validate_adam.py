"""ADaM names and dates: a sponsor's export turned into the canonical study days.

Runs before the table checks. adsl: the arm column (ARM, else TRT01P, or the
SAP's ``[data] arm``), day 1 (RANDDT, else TRTSDT), and DTHDT, DSCHDT, LSTALVDT
turned into DTHDY, DSCHDY, LSTALVDY (a day and a date given for one thing must
agree), DTHFL checked against them. The other tables: ADT (+ ATM or ADTM) into
ADY and ATM, ASTDT (+ ASTTM) into AESTDY, EXSTDT / EXSTDTC into EXSTDY (EXSTTM),
each against the subject's day 1. ``[data.params]`` renames the sponsor's
PARAMCD codes. Every conversion is logged; what cannot be read is an error.

Dates: ISO 8601 text, a date cell (SAS date format, xlsx date, Parquet date), or
a number read by the file's convention: days since 1960-01-01 (SAS), Excel serial
days since 1899-12-30 (xlsx); in CSV or Parquet a number is not a date. Times:
HH:MM text, SAS seconds, an Excel fraction of a day, a time cell. Study days have
no day 0: the date of day 1 is day 1, the date before it day -1.

Judgement calls: a visit, AE or dose dated before day 1 gets a negative day (it
is pre-treatment); a death, discharge or last-alive date before day 1 is an error
(the adsl checks say so). A date with a time part in a date column keeps its date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import numpy as np
import pandas as pd

from .io import ROW, RawTable
from .validate_cells import _Cells, _Check, _flag_values

__all__ = ["adsl_in_days", "timed", "mapped_params", "arm_column", "DEATH_COLUMNS"]

_NAT = np.datetime64("NaT", "D")
_EPOCH = {"sas": np.datetime64("1960-01-01", "D"), "excel": np.datetime64("1899-12-30", "D")}
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")
_DATE_FIX = ("write the date as ISO 8601 text (YYYY-MM-DD), or as a date cell; a partial "
             "date must be imputed first.")

# adsl: study day <- its dates (ADaM, SDTM character); DESIGN.md section 2.
ADSL_DATES = (("DTHDY", ("DTHDT", "DTHDTC")), ("DSCHDY", ("DSCHDT", "DSCHDTC")),
              ("LSTALVDY", ("LSTALVDT", "LSTALVDTC")))
DAY_ONE = ("RANDDT", "TRTSDT")
# Columns that carry death, discharge or last-alive information, all read here.
DEATH_COLUMNS = frozenset({"DTHFL", *DAY_ONE, *(c for day, dates in ADSL_DATES
                                                for c in (day, *dates))})
# table kind -> (day column, time column, date columns, datetime column)
TIMING = {"bds": ("ADY", "ATM", ("ADT",), "ADTM"),
          "adae": ("AESTDY", "AESTTM", ("ASTDT",), "ASTDTM"),
          "ex": ("EXSTDY", "EXSTTM", ("EXSTDT", "EXSTDTC"), "EXSTDTM")}
TIME_ALIASES = {"AESTTM": "ASTTM"}     # the ADaM name of a clock time mscstats names otherwise


# ---------------------------------------------------------------------------
# Reading dates and clock times, once per distinct value
# ---------------------------------------------------------------------------

def _one_date(value, origin: str) -> tuple[np.datetime64, str] | None:
    """(date, "HH:MM" or "") of one cell; (NaT, "") when empty; None when not a date."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return _NAT, ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        clock = f"{value.hour:02d}:{value.minute:02d}" if (value.hour, value.minute,
                                                           value.second) != (0, 0, 0) else ""
        return np.datetime64(value.date(), "D"), clock
    if isinstance(value, dt.date):
        return np.datetime64(value, "D"), ""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return _number_date(float(value), origin)
    text = str(value).strip()
    if not text or text.upper() in {"NA", "NAN", "."}:
        return _NAT, ""
    match = _ISO.match(text)
    if not match:
        return None
    try:
        date = np.datetime64(dt.date(int(match[1]), int(match[2]), int(match[3])), "D")
    except ValueError:
        return None
    if match[4] is None:
        return date, ""
    hour, minute = int(match[4]), int(match[5])
    return (date, f"{hour:02d}:{minute:02d}") if hour < 24 and minute < 60 else None


def _number_date(value: float, origin: str) -> tuple[np.datetime64, str] | None:
    """A SAS date (days from 1960) or an Excel serial (days from 1899-12-30) with its time."""
    if origin not in _EPOCH or not np.isfinite(value):
        return None
    days = int(np.floor(value))
    return _EPOCH[origin] + np.timedelta64(days, "D"), _clock_of_fraction(value - days)


def _number_datetime(value: float, origin: str) -> tuple[np.datetime64, str] | None:
    """A SAS datetime counts seconds from 1960; an Excel datetime counts days."""
    if origin == "sas" and np.isfinite(value):
        days = int(np.floor(value / 86400))
        return _EPOCH["sas"] + np.timedelta64(days, "D"), _clock_of_fraction(value / 86400 - days)
    return _number_date(value, origin)


def _clock_of_fraction(fraction: float) -> str:
    seconds = int(round(fraction * 86400))
    return "" if seconds in (0, 86400) else f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _one_clock(value, origin: str) -> str | None:
    """A clock time cell as "HH:MM" text: text as it is, SAS seconds, Excel fractions."""
    if isinstance(value, dt.time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, pd.Timedelta):
        value = value.total_seconds()
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        if np.isnan(value):
            return ""
        if origin == "sas" and 0 <= value < 86400:
            return f"{int(value) // 3600:02d}:{int(value) % 3600 // 60:02d}"
        if origin == "excel" and 0 <= value < 1:
            return _clock_of_fraction(float(value)) or "00:00"
        return None
    return None if value is None else str(value).strip()


def _distinct(column: pd.Series):
    """(codes, distinct values) of a column; datetime64 columns as Timestamps."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = list(uniques) + [None]
    codes = np.where(codes < 0, len(values) - 1, codes)
    return codes, values


def read_dates(table: RawTable, column: str, chk: _Check, with_time: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """A date (or datetime) column: per row the date (NaT when empty) and "HH:MM" or ""."""
    codes, values = _distinct(table.frame[column])
    reader = _number_datetime if with_time else _number_date
    parsed = [reader(float(v), table.origin)
              if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
              and not (isinstance(v, float) and np.isnan(v))
              else _one_date(v, table.origin) for v in values]
    bad = np.array([p is None for p in parsed], dtype=bool)[codes]
    if bad.any():
        shown = [values[c] for c in np.unique(codes[bad])]
        numeric = any(re.fullmatch(r"[+-]?\d+(\.\d*)?", str(v).strip()) for v in shown)
        kind = "CSV" if table.origin == "text" else table.origin
        why = (f" (a number in a {kind} file is not a date)"
               if numeric and table.origin not in _EPOCH else "")
        chk.problems.add(table.file, column, f"{column} is not a date{why}.", _DATE_FIX,
                         table.frame[ROW].to_numpy()[bad], [str(v) for v in shown])
    dates = np.array([p[0] if p else _NAT for p in parsed], dtype="datetime64[D]")[codes]
    clocks = np.array([p[1] if p else "" for p in parsed], dtype=object)[codes]
    return dates, clocks


def read_clocks(table: RawTable, column: str) -> np.ndarray:
    """A clock-time column as text; what is no clock stays as written (the time check
    reports it)."""
    codes, values = _distinct(table.frame[column])
    texts = []
    for v in values:
        clock = _one_clock(v, table.origin)
        texts.append(clock if clock is not None else
                     ("" if v is None else str(v)))
    return np.array(texts, dtype=object)[codes]


def study_days(dates: np.ndarray, day_one: np.ndarray) -> np.ndarray:
    """Study day of each date (NaN where either is missing); no day 0."""
    delta = (dates - day_one).astype("timedelta64[D]").astype(float)
    delta[np.isnat(dates) | np.isnat(day_one)] = np.nan
    return np.where(delta >= 0, delta + 1, delta)


# ---------------------------------------------------------------------------
# A study day from a date, checked against a day given beside it
# ---------------------------------------------------------------------------

def _merge_dates(table: RawTable, columns: list[str], chk: _Check, timed: str = ""
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The dates of several columns for one thing (ADT and ADTM ...): they must agree."""
    rows = table.frame[ROW].to_numpy()
    dates = clocks = None
    for column in columns:
        with_time = column == timed or column.endswith("DTC")
        d, c = read_dates(table, column, chk, with_time)
        if dates is None:
            dates, clocks, first = d, c, column
            continue
        differ = ~np.isnat(dates) & ~np.isnat(d) & (dates != d)
        if differ.any():
            chk.problems.add(table.file, column, f"{column} and {first} give different dates.",
                             f"correct {first} or {column}: they are the same event.",
                             rows[differ], _ids(table, differ))
        dates = np.where(np.isnat(dates), d, dates)
        clocks = np.where(clocks == "", c, clocks)
    return dates, clocks


def _ids(table: RawTable, sel: np.ndarray) -> np.ndarray:
    frame = table.frame
    if "USUBJID" not in frame.columns:
        return np.array([], dtype=object)
    return _Cells(frame["USUBJID"], len(frame)).text(sel)


def _merge_day(table: RawTable, day_column: str, days: np.ndarray, source: str, against: str,
               chk: _Check, new: dict) -> None:
    """Put the study days from ``source`` into ``day_column``: where the file gives the
    day too it must be the same day; where the day is empty it is filled (logged)."""
    frame, rows = table.frame, table.frame[ROW].to_numpy()
    dated = np.isfinite(days)
    rule = f"{day_column} from {source} (study day against {against}; no day 0)"
    if day_column not in frame.columns:
        new[day_column] = days
        chk.log.convert(table.file, day_column, rule, rows[dated])
        return
    cells = _Cells(frame[day_column], len(frame), decimal_comma=table.decimal_comma)
    given, blank = cells.number(), cells.blank()
    differ = dated & np.isfinite(given) & (given != days)
    if differ.any():
        chk.problems.add(table.file, day_column, f"{day_column} and {source} disagree: the date "
                         f"is another study day (counted from {against}).",
                         f"correct {day_column} or {source}: day 1 is {against}, the day "
                         "before it -1 (there is no day 0).", rows[differ],
                         [f"{g:g} vs {d:g}" for g, d in zip(given[differ], days[differ])])
    fill = dated & blank
    if fill.any():
        column = frame[day_column].astype(object).to_numpy(copy=True)
        column[fill] = days[fill]
        new[day_column] = column
        chk.log.convert(table.file, day_column, rule, rows[fill])


def _with_columns(table: RawTable, new: dict) -> RawTable:
    """The table with columns added or replaced; the other columns are shared, not copied
    (ten million visit rows)."""
    if not new:
        return table
    frame = table.frame.copy(deep=False)
    for column, values in new.items():
        frame[column] = values
    return replace(table, frame=frame)


def _used(chk: _Check, table: RawTable, columns) -> None:
    chk.used.setdefault(table.file, set()).update(c for c in columns if c in table.frame.columns)


# ---------------------------------------------------------------------------
# adsl
# ---------------------------------------------------------------------------

def arm_column(table: RawTable, chk: _Check) -> str | None:
    """The adsl column that holds the arm: the SAP's [data] arm, else ARM, else TRT01P."""
    wanted = (chk.arm_column,) if chk.arm_column else ("ARM", "TRT01P")
    for column in wanted:
        if column in table.frame.columns:
            if column != "ARM":
                chk.log.notes.append(f"{table.file}: the arm is read from {column}")
            _used(chk, table, [column])
            return column
    if chk.arm_column:
        fix = (f"add a {chk.arm_column} column to {table.file}, or change `arm` in [data] of "
               "the SAP (ARM, TRT01P or TRT01A).")
    else:
        fix = ("add ARM (the randomized arm) or TRT01P (the planned treatment); for the "
               'actual treatment set arm = "TRT01A" in [data] of the SAP.')
    chk.problems.add(table.file, wanted[0], f"required column {wanted[0]} is missing (the arm: "
                     f"looked for {' and '.join(wanted)}; names match case-insensitively).", fix)
    return None


def _day_one(table: RawTable, chk: _Check) -> tuple[np.ndarray | None, str]:
    """Per adsl row the date of day 1: RANDDT, where empty TRTSDT (logged)."""
    present = [c for c in DAY_ONE if c in table.frame.columns]
    if not present:
        return None, ""
    rows = table.frame[ROW].to_numpy()
    day_one = read_dates(table, present[0], chk)[0]
    if len(present) == 2:
        fallback = read_dates(table, "TRTSDT", chk)[0]
        use = np.isnat(day_one) & ~np.isnat(fallback)
        if use.any():
            day_one = np.where(use, fallback, day_one)
            chk.log.convert(table.file, "RANDDT", "day 1 from TRTSDT (RANDDT empty)", rows[use])
    _used(chk, table, present)
    return day_one, " (else ".join(present) + (")" if len(present) == 2 else "")


def adsl_in_days(table: RawTable, chk: _Check) -> tuple[RawTable, pd.Series | None]:
    """adsl with DTHDY, DSCHDY, LSTALVDY from their dates; and day 1's date by USUBJID."""
    frame, rows = table.frame, table.frame[ROW].to_numpy()
    _unread_course_columns(table, chk)
    day_one, source = _day_one(table, chk)
    against = f"{source} of {table.file}"
    new: dict = {}
    for day_column, date_columns in ADSL_DATES:
        present = [c for c in date_columns if c in frame.columns]
        _used(chk, table, [day_column, *present])
        if not present:
            continue
        dates = _merge_dates(table, present, chk)[0]
        dated = ~np.isnat(dates)
        if day_one is None:
            if dated.any():
                chk.problems.add(table.file, present[0], f"{present[0]} is a date, but there is "
                                 "no RANDDT or TRTSDT to count study days from.",
                                 f"add RANDDT (the date of randomization: day 1), or give the "
                                 f"study day in {day_column}.", rows[dated])
            continue
        undated = dated & np.isnat(day_one)
        if undated.any():
            chk.problems.add(table.file, "RANDDT", f"{present[0]} is given, but the date of "
                             "day 1 (RANDDT, else TRTSDT) is empty.",
                             "fill RANDDT (the date of randomization).", rows[undated])
        _merge_day(table, day_column, study_days(dates, day_one), present[0], against, chk, new)
    table = _with_columns(table, new)
    _check_death_flag(table, chk)
    if day_one is None or "USUBJID" not in frame.columns:
        return table, None
    ids = _Cells(frame["USUBJID"], len(frame)).text()
    first = ~pd.Series(ids).duplicated().to_numpy()
    return table, pd.Series(day_one[first], index=pd.Index(ids[first]))


def _check_death_flag(table: RawTable, chk: _Check) -> None:
    """DTHFL "Y" needs a death day or date; "N" must have none; empty says nothing."""
    frame = table.frame
    if "DTHFL" not in frame.columns:
        return
    _used(chk, table, ["DTHFL"])
    flag = _flag_values(table, "DTHFL", chk, ("Y", "N"))
    died = (~_Cells(frame["DTHDY"], len(frame)).blank() if "DTHDY" in frame.columns
            else np.zeros(len(frame), dtype=bool))
    rows = frame[ROW].to_numpy()
    for wrong, message, fix in (
            ((flag == "Y") & ~died, 'DTHFL is "Y" but no death day or date is given.',
             "give the date of death in DTHDT (or the study day in DTHDY), or correct DTHFL."),
            ((flag == "N") & died, 'DTHFL is "N" but a death day or date is given.',
             'correct DTHFL (Y when the subject died), or remove the death date.')):
        if wrong.any():
            chk.problems.add(table.file, "DTHFL", message, fix, rows[wrong], _ids(table, wrong))


_COURSE_PREFIX = re.compile(r"^(DTH|DSCH|LSTALV)\w*(DY|DT|DTC|DTM)$")


def _unread_course_columns(table: RawTable, chk: _Check) -> None:
    """A death, discharge or last-alive day or date mscstats does not read is an error:
    keeping it unread could lose a death."""
    for column in table.frame.columns:
        if _COURSE_PREFIX.match(column) and column not in DEATH_COLUMNS:
            chk.problems.add(table.file, column, f"{column} looks like a death, discharge or "
                             "last-alive day or date, which mscstats does not read under this "
                             "name.", "give it as DTHDT/DTHDY, DSCHDT/DSCHDY or "
                             "LSTALVDT/LSTALVDY, or remove the column.")


# ---------------------------------------------------------------------------
# visits and BDS tables, adae, ex
# ---------------------------------------------------------------------------

def timed(table: RawTable, kind: str, chk: _Check, day_one: pd.Series | None) -> RawTable:
    """The table with its study day and clock time from its dates (ADT, ATM, ADTM ...)."""
    day_column, time_column, date_columns, datetime_column = TIMING[kind]
    frame, rows = table.frame, table.frame[ROW].to_numpy()
    new: dict = {}
    alias = TIME_ALIASES.get(time_column)
    if time_column not in frame.columns and alias in frame.columns:
        new[time_column] = read_clocks(table, alias)
        _used(chk, table, [alias])
        chk.log.notes.append(f"{table.file}: {time_column} read from {alias}")
    elif time_column in frame.columns and table.origin != "text":
        new[time_column] = read_clocks(table, time_column)
    present = [c for c in (*date_columns, datetime_column) if c in frame.columns]
    _used(chk, table, [day_column, time_column, *present])
    if present:
        dates, clocks = _merge_dates(table, present, chk, datetime_column)
        one = _day_one_of(table, day_one)
        dated = ~np.isnat(dates)
        if day_one is None and dated.any():
            chk.problems.add(table.file, present[0], f"{present[0]} is a date, but adsl has no "
                             "RANDDT or TRTSDT to count study days from.",
                             f"add RANDDT (day 1) to adsl, or give the study day in "
                             f"{day_column}.", rows[dated])
        _merge_day(table, day_column, study_days(dates, one), present[0],
                   "RANDDT (else TRTSDT) in adsl", chk, new)
        timed_rows = clocks != ""
        if timed_rows.any():
            _clock_from(table, time_column, clocks, present, chk, new)
    return _with_columns(table, new)


def _clock_from(table: RawTable, time_column: str, clocks: np.ndarray, present: list[str],
                chk: _Check, new: dict) -> None:
    """The clock time of a datetime (ADTM) where the time column is empty or absent."""
    frame, rows = table.frame, table.frame[ROW].to_numpy()
    if time_column in new:
        given = new[time_column]
    elif time_column in frame.columns:
        given = _Cells(frame[time_column], len(frame)).text()
    else:
        given = np.full(len(frame), "", dtype=object)
    fill = (given == "") & (clocks != "")
    if fill.any():
        source = next(c for c in present if c.endswith(("DTM", "DTC")))
        new[time_column] = np.where(fill, clocks, given)
        chk.log.convert(table.file, time_column, f"{time_column} from {source} (its clock "
                        "time)", rows[fill])


def _day_one_of(table: RawTable, day_one: pd.Series | None) -> np.ndarray:
    """Per row the date of its subject's day 1 (NaT for a subject adsl lacks)."""
    frame = table.frame
    if day_one is None or "USUBJID" not in frame.columns:
        return np.full(len(frame), _NAT)
    cells = _Cells(frame["USUBJID"], len(frame))
    at = day_one.index.get_indexer(cells.labels)
    per_label = np.where(at >= 0, day_one.to_numpy(dtype="datetime64[D]")[at], _NAT)
    return per_label[cells.codes]


def mapped_params(tables: list[RawTable], chk: _Check) -> list[RawTable]:
    """[data.params]: the sponsor's PARAMCD codes renamed to mscstats codes (logged);
    a mapped code that no table has is an error naming the tables read."""
    if not chk.params:
        return tables
    rename = {theirs: ours for ours, theirs in chk.params}
    seen: set[str] = set()
    out = []
    for table in tables:
        frame = table.frame
        if "PARAMCD" not in frame.columns:
            out.append(table)
            continue
        cells = _Cells(frame["PARAMCD"], len(frame), upper=True)
        hits = [label for label in cells.labels if label in rename]
        if not hits:
            out.append(table)
            continue
        seen.update(hits)
        labels = np.array([rename.get(label, label) for label in cells.labels], dtype=object)
        rows = frame[ROW].to_numpy()
        for theirs in hits:
            at = np.flatnonzero(cells.labels == theirs)
            chk.log.convert(table.file, "PARAMCD", f"PARAMCD {theirs} -> {rename[theirs]} "
                            "([data.params] of the SAP)", rows[np.isin(cells.codes, at)],
                            param=rename[theirs])
        out.append(_with_columns(table, {"PARAMCD": labels[cells.codes]}))
    read = ", ".join(t.file for t in tables) or "none"
    for theirs, ours in rename.items():
        if theirs not in seen:
            chk.problems.add(read.split(", ")[0], "PARAMCD", f"[data.params] maps {ours} to the "
                             f"sponsor code {theirs}, which no table has (tables read: {read}).",
                             f"correct {ours} = \"{theirs}\" in [data.params] of the SAP, or "
                             "remove the mapping.")
    return out

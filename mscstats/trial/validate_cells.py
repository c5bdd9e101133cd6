"""Validation building blocks: problems, the dropped-row ledger, and columns
parsed once per distinct value (numbers, days, clock times, Y/N flags)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .. import schema
from .csv_text import COMMA, comma_to_point, decimal_forms, parse_numbers
from ..errors import Problem
from .io import ROW, RawTable
from .quality import QualityLog
from .study_days import add_out_of_bounds

MAX_LISTED_ROWS = 10       # rows named in one problem message
MAX_DUPLICATE_REASONS = 100  # "duplicate of row N" entries before they are pooled
_MISSING_TEXT = frozenset({"", "NA", "N/A", "NAN", ".", "NULL", "NONE"})
_BELOW_WORDS = frozenset({"<LLOQ", "<LOQ", "<LLQ", "<LOD", "BLQ", "BLOQ", "BLLOQ",
                          "BELOW LLOQ", "BELOW LOQ"})
_BELOW_NUMBER = re.compile(r"^<\s*=?\s*([0-9.,eE+-]+)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")
_LLOQ_RULES = {rule: (label, schema.BELOW_LLOQ_FACTOR[rule])
               for rule, label in (("half", "LLOQ/2"), ("lloq", "LLOQ"), ("zero", "0"))}
_DAY_FIX = ("write the study day as a whole number: day 1 is the day of randomization, "
            "the day before it is -1 (there is no day 0).")



# ---------------------------------------------------------------------------
# Problems and the per-file ledger of dropped records
# ---------------------------------------------------------------------------

def _listing(rows: np.ndarray, values: Sequence = ()) -> str:
    parts = []
    if len(values):
        distinct = list(values)
        shown = ", ".join(repr(v) for v in distinct[:5])
        parts.append(f"value {shown}" if len(distinct) == 1 else
                     f"values {shown}" + (f" and {len(distinct) - 5} more"
                                          if len(distinct) > 5 else ""))
    if len(rows) > 1:
        shown = ", ".join(str(r) for r in rows[:MAX_LISTED_ROWS])
        more = ", ..." if len(rows) > MAX_LISTED_ROWS else ""
        parts.append(f"{len(rows)} rows: {shown}{more}")
    return f" ({'; '.join(parts)})" if parts else ""


class _Problems(list):
    """Every problem found, each naming file, first row, column and fix."""

    def add(self, file: str, column: str | None, message: str, fix: str,
            rows: Iterable[int] = (), values: Iterable = ()) -> None:
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        values = list(dict.fromkeys(np.asarray(values, dtype=object).ravel().tolist()))
        self.append(Problem(file, message + _listing(rows, values), fix=fix,
                            row=int(rows[0]) if len(rows) else None, column=column))


@dataclass
class _Ledger:
    """Dropped records of one file, turned into row entries of the log at the end.

    In a long file a record is a row. A wide file's row holds several records:
    it is dropped only when none of its records is used (with the reason of its
    first dropped record); records dropped from a used row become warnings.
    """
    table: RawTable
    drops: list[tuple[np.ndarray, str, str | None]] = field(default_factory=list)

    def drop(self, rows: np.ndarray, reason: str, column: str | None = None) -> None:
        if len(rows):
            self.drops.append((np.asarray(rows, dtype=np.int64), reason, column))

    def close(self, log: QualityLog, kept_rows: np.ndarray) -> None:
        file, n = self.table.file, self.table.n_rows
        if not self.table.wide:
            for rows, reason, column in self.drops:
                log.drop(file, reason, rows, column)
            return
        used = np.zeros(n + 1, dtype=bool)
        used[kept_rows] = True
        first = np.full(n + 1, -1, dtype=np.int64)   # first drop entry of each row
        for k in range(len(self.drops) - 1, -1, -1):
            first[self.drops[k][0]] = k
        for k, (rows, reason, column) in enumerate(self.drops):
            whole = rows[~used[rows] & (first[rows] == k)]
            log.drop(file, reason, whole, column)
            if used[rows].any():
                log.warn(file, f"cell not used: {reason}", rows[used[rows]], column)
        empty = np.nonzero(~used[1:] & (first[1:] < 0))[0] + 1
        log.drop(file, "no parameter values in the row", empty)


@dataclass
class _Check:
    """What validation carries from table to table."""
    log: QualityLog
    problems: _Problems
    arms: tuple[str, ...] | None
    daily_rule: str
    below_lloq: str
    fio2_from_flow: bool
    arm_column: str = ""                          # the SAP's [data] arm ("" = ARM, else TRT01P)
    params: tuple[tuple[str, str], ...] = ()      # [data.params]: (mscstats code, sponsor code)
    used: dict[str, set[str]] = field(default_factory=dict)   # file -> columns read


# ---------------------------------------------------------------------------
# Columns as distinct values + codes
# ---------------------------------------------------------------------------

def _clean(value, upper: bool = False) -> str:
    """One cell as stripped text; "" for missing; 7.0 -> "7" (numbers from Parquet/XPT)."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace").strip()
    else:
        text = str(value).strip()
    return text.upper() if upper else text


class _Cells:
    """A column reduced to its distinct values; text work is done once per value.

    A numeric column (Parquet, XPT) keeps its numbers and is coded into distinct
    values only if its text is needed for every row (an id stored as a number).
    """

    def __init__(self, values: pd.Series | None, n: int, upper: bool = False,
                 decimal_comma: bool = False):
        self._values, self.n, self.upper, self.decimal_comma = values, n, upper, decimal_comma
        self.numeric = None
        if values is not None and pd.api.types.is_numeric_dtype(values.dtype):
            self.numeric = values.to_numpy(dtype=float, na_value=np.nan)
        self._parsed: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property
    def _coded(self) -> tuple[np.ndarray, np.ndarray]:
        if self._values is None:
            return np.zeros(self.n, dtype=np.int32), np.array([""], dtype=object)
        values = self._values if self.numeric is None else pd.Series(self.numeric)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        raw = np.empty(len(uniques) + 1, dtype=object)
        raw[:-1] = np.asarray(uniques, dtype=object)
        codes[codes < 0] = len(uniques)
        self._values = None
        labels = np.array([_clean(v, self.upper) for v in raw], dtype=object)
        return (codes.astype(np.int32) if len(uniques) < 2**31 - 1 else codes), labels

    @property
    def codes(self) -> np.ndarray:
        return self._coded[0]

    @property
    def labels(self) -> np.ndarray:
        return self._coded[1]

    def text(self, idx=slice(None)) -> np.ndarray:
        if self.numeric is not None and "_coded" not in self.__dict__:
            return np.array([_clean(v, self.upper) for v in self.numeric[idx]], dtype=object)
        return self.labels[self.codes[idx]]

    def blank(self, idx=slice(None)) -> np.ndarray:
        if self.numeric is not None:
            return np.isnan(self.numeric[idx])
        return (self.labels == "")[self.codes[idx]]

    def _parse(self) -> tuple[np.ndarray, np.ndarray]:
        if self._parsed is None:
            self._parsed = _parse_numbers(self.labels, self.decimal_comma)
        return self._parsed

    def number(self, idx=slice(None)) -> np.ndarray:
        """Float values; NaN where empty or not a number."""
        if self.numeric is not None:
            values = self.numeric[idx]
            return np.where(np.isfinite(values), values, np.nan)
        return self._parse()[0][self.codes[idx]]

    def bad(self, idx=slice(None)) -> np.ndarray:
        """True where the cell holds something that is not a finite number."""
        if self.numeric is not None:
            return np.isinf(self.numeric[idx])
        return self._parse()[1][self.codes[idx]]


def _parse_numbers(labels: np.ndarray, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    text = pd.Series(labels, dtype=object).str.upper()
    missing = text.isin(_MISSING_TEXT).to_numpy()
    text = text.to_numpy()
    if decimal_comma:   # validate() reads a table's marks first (decimal_marks.py), logged;
        # a bare column reads only the unambiguous "7,5" ("1,200" stays not a number)
        text = np.array([comma_to_point(t) if f == COMMA else t
                         for t, f in zip(text, decimal_forms(text))], dtype=object)
    values = parse_numbers(text)    # exact: the shortest text of a float reads back as it
    values[missing] = np.nan
    bad = ~missing & ~np.isfinite(values)
    values[bad] = np.nan
    return values, bad


def _sorted_codes(cells: _Cells) -> tuple[np.ndarray, np.ndarray]:
    """Per-row codes into the sorted distinct labels (merging values equal once cleaned)."""
    codes, labels = pd.factorize(cells.labels, sort=True)
    return codes.astype(cells.codes.dtype)[cells.codes], np.asarray(labels, dtype=object)


# What else gives a required column (DESIGN.md section 2, "A sponsor's ADaM export").
_OR_ELSE = {"ADY": " (or ADT, with ATM or ADTM, counted from RANDDT in adsl)",
            "LSTALVDY": " (or LSTALVDT, with RANDDT)", "AESTDY": " (or ASTDT, with RANDDT in adsl)",
            "EXSTDY": " (or EXSTDT / EXSTDTC, with RANDDT in adsl)"}


def _missing_columns(table: RawTable, columns: Iterable[str], chk: _Check) -> list[str]:
    missing = [c for c in columns if c not in table.frame.columns]
    for column in missing:
        chk.problems.add(table.file, column, f"required column {column} is missing.",
                         fix=f"add a {column} column{_OR_ELSE.get(column, '')} (names match "
                             "case-insensitively).")
    chk.used.setdefault(table.file, set()).update(c for c in columns if c not in missing)
    return missing


def _days(table: RawTable, column: str, chk: _Check, required: bool = True) -> np.ndarray:
    """A study-day column as floats (NaN when empty); errors for what is not a day."""
    frame, file = table.frame, table.file
    cells = _Cells(frame[column], len(frame), decimal_comma=table.decimal_comma)
    days, bad, rows = cells.number(), cells.bad(), frame[ROW].to_numpy()
    add_out_of_bounds(chk.problems, table, column, days, cells.text)   # a day from a date too
    if bad.any():
        chk.problems.add(file, column, f"{column} is not a number.", _DAY_FIX, rows[bad],
                         cells.text(bad))
    fraction = np.isfinite(days) & (days % 1 != 0)
    if fraction.any():
        chk.problems.add(file, column, f"{column} is not a whole day.", _DAY_FIX,
                         rows[fraction], days[fraction])
    if (days == 0).any():
        chk.problems.add(file, column, f"{column} is 0: there is no day 0.", _DAY_FIX,
                         rows[days == 0])
    empty = np.isnan(days) & ~bad
    if required and empty.any():
        chk.problems.add(file, column, f"{column} is empty.",
                         f"give the study day in {column}.", rows[empty])
    return days


def _numbers(table: RawTable, column: str, chk: _Check) -> np.ndarray:
    """A numeric column as floats (NaN when empty); text that is not a number is an error."""
    frame = table.frame
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    cells = _Cells(frame[column], len(frame), decimal_comma=table.decimal_comma)
    bad = cells.bad()
    if bad.any():
        chk.problems.add(table.file, column, f"{column} is not a number.",
                         f"write a number in {column} or leave it empty.",
                         frame[ROW].to_numpy()[bad], cells.text(bad))
    return cells.number()


def _clock(text: str) -> str | None:
    """ "8:05", "08:05:00" -> "08:05"; "" stays ""; None when not a clock time."""
    if not text:
        return ""
    match = _CLOCK.match(text)
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    return f"{hour:02d}:{minute:02d}" if hour < 24 and minute < 60 and second < 60 else None


def _times(table: RawTable, column: str, chk: _Check) -> tuple[np.ndarray, np.ndarray]:
    """A clock-time column as codes into sorted HH:MM labels ("" when absent)."""
    frame = table.frame
    cells = _Cells(frame[column] if column in frame.columns else None, len(frame))
    clocks = [_clock(t) for t in cells.labels]
    wrong = np.array([c is None for c in clocks], dtype=bool)[cells.codes]
    if wrong.any():
        chk.problems.add(table.file, column, f"{column} is not a clock time.",
                         f"write {column} as HH:MM (24-hour clock) or leave it empty.",
                         frame[ROW].to_numpy()[wrong], cells.text(wrong))
    codes, labels = pd.factorize(np.array([c or "" for c in clocks], dtype=object), sort=True)
    return codes.astype(cells.codes.dtype)[cells.codes], np.asarray(labels, dtype=object)


def _flag_values(table: RawTable, column: str, chk: _Check, allowed: Sequence[str]
                 ) -> np.ndarray:
    """A coded text column (Y/N, AESEV ...) upper-cased; other values are an error."""
    frame = table.frame
    cells = _Cells(frame[column], len(frame), upper=True)
    text = cells.text()
    wrong = (text != "") & ~np.isin(text, list(allowed))
    if wrong.any():
        chk.problems.add(table.file, column, f"{column} must be one of {', '.join(allowed)}.",
                         f"write {' or '.join(allowed)} in {column} (or leave it empty).",
                         frame[ROW].to_numpy()[wrong], text[wrong])
    return text


def _as_read(table: RawTable) -> dict[str, np.ndarray]:
    """Every column but _ROW as stripped text ("" when empty): the "as read" part of a table."""
    frame = table.frame
    return {c: _Cells(frame[c], len(frame)).text() for c in frame.columns if c != ROW}


